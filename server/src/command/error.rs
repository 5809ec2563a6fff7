//! Command errors: each renders to exactly the error reply Redis 7.0 sends.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CmdError {
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(String),
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR DB index is out of range")]
    DbIndex,
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(String),
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    #[error("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")]
    UnknownSubcommand { cmd: String, sub: String },
    /// Redis's `addReplySubcommandSyntaxError`, for commands that check their own arguments.
    #[error("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP.")]
    SubcommandSyntax { cmd: String, sub: String },
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    /// Any other reply; the string carries its code (`ERR ...`, `NOPROTO ...`).
    #[error("{0}")]
    Reply(String),
}

impl CmdError {
    /// `ERR <msg>`.
    pub fn err(msg: impl AsRef<str>) -> Self {
        CmdError::Reply(format!("ERR {}", msg.as_ref()))
    }

    /// An error with its own code, e.g. `CmdError::code("NOPROTO", "unsupported protocol version")`.
    pub fn code(code: &str, msg: impl AsRef<str>) -> Self {
        CmdError::Reply(format!("{code} {}", msg.as_ref()))
    }

    /// The error code: the first word (`ERR`, `WRONGTYPE`, ...), used by INFO errorstats.
    pub fn code_of(msg: &str) -> &str {
        msg.split(' ').next().unwrap_or("ERR")
    }
}

pub type CmdResult = Result<(), CmdError>;
