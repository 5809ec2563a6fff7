//! The command table: every command's name, arity, flags, key positions, documentation and
//! handler, as Redis's `commands.def`; and the pipeline that runs a request through it.

pub mod args;
pub mod error;
pub mod exec;
pub mod keyspec;
pub mod rename;
#[rustfmt::skip]
pub mod table;

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

mod bitops;
mod client_cmd;
mod connection;
pub(crate) mod debug;
mod dump;
mod expire;
mod hashes;
mod info;
mod keys;
mod lists;
pub(crate) mod memory;
pub(crate) mod multi;
pub(crate) mod pubsub;
mod replication_cmds;
mod server_cmds;
mod sets;
mod sort;
mod strings;
mod zsets;

pub use error::{CmdError, CmdResult};
pub use exec::Ctx;

/// A command handler. It writes its reply to `ctx.out` and returns `Err` to reply with an
/// error instead (the pipeline writes and counts it).
pub type Handler = fn(&mut Ctx) -> CmdResult;

/// Command flags, named as Redis 7.0 reports them in COMMAND INFO.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;
    pub const MOVABLEKEYS: u32 = 1 << 16;
    pub const ALLOW_BUSY: u32 = 1 << 17;
    pub const NO_ASYNC_LOADING: u32 = 1 << 18;
    pub const SENTINEL: u32 = 1 << 19;
    pub const ONLY_SENTINEL: u32 = 1 << 20;
    pub const PROTECTED: u32 = 1 << 21;
    /// Allowed on an importing slot after ASKING (a cluster flag: RESTORE-ASKING).
    pub const ASKING: u32 = 1 << 22;

    /// Names in the order Redis prints them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (ONLY_SENTINEL, "only_sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (PROTECTED, "protected"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Where a command's keys are: Redis's legacy (first, last, step) triple. `last` < 0 counts
/// from the end (-1 = last argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keys {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

impl Keys {
    pub const NONE: Keys = Keys {
        first: 0,
        last: 0,
        step: 0,
    };
    pub const fn one(at: i32) -> Keys {
        Keys {
            first: at,
            last: at,
            step: 1,
        }
    }
    pub const fn range(first: i32, last: i32, step: i32) -> Keys {
        Keys { first, last, step }
    }

    /// Indexes of the keys in `argc` arguments.
    pub fn positions(&self, argc: usize) -> Vec<usize> {
        if self.first <= 0 || argc == 0 {
            return Vec::new();
        }
        let last = if self.last < 0 {
            argc as i32 + self.last
        } else {
            self.last.min(argc as i32 - 1)
        };
        let step = self.step.max(1) as usize;
        (self.first as usize..=last.max(0) as usize)
            .step_by(step)
            .filter(|&i| i < argc && i >= self.first as usize)
            .collect()
    }
}

/// One row of the command table (generated in `table.rs` from Redis 7.0's metadata).
pub struct CommandSpec {
    /// Lowercase name; for a subcommand, the subcommand alone (`get` of `config`).
    pub name: &'static str,
    /// The name Redis uses in messages and statistics: `get`, `config|get`.
    pub full_name: &'static str,
    /// Index of the command among all commands and subcommands (for per-command stats).
    pub id: usize,
    /// For a subcommand, its container (`config`).
    pub parent: Option<&'static str>,
    /// Redis arity: `n` exactly n arguments (the name included), `-n` at least n.
    pub arity: i32,
    pub flags: u32,
    pub keys: Keys,
    /// ACL categories as COMMAND INFO lists them.
    pub acl: &'static [&'static str],
    pub tips: &'static [&'static str],
    pub key_specs: &'static [keyspec::KeySpec],
    pub doc: keyspec::Doc,
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CommandSpec({})", self.full_name)
    }
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn is_write(&self) -> bool {
        self.has(flags::WRITE)
    }

    /// Whether `argc` arguments satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// The handler of a container command (CONFIG, CLIENT ...) is reached only without a
/// subcommand, which the arity check refuses first; answer the same way if it ever runs.
fn container(ctx: &mut Ctx) -> CmdResult {
    Err(ctx.arity_error())
}

type Index = HashMap<&'static str, &'static CommandSpec, foldhash::fast::FixedState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| table::COMMANDS.iter().map(|c| (c.name, c)).collect())
}

/// Find a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let s = std::str::from_utf8(lower).ok()?;
    index().get(s).copied()
}

/// Find a subcommand of a container, case-insensitively.
pub fn lookup_sub(parent: &CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    parent
        .subcommands
        .iter()
        .find(|s| name.eq_ignore_ascii_case(s.name.as_bytes()))
}

/// Resolve a request to the command (or subcommand) that handles it, or the error Redis
/// gives for an unknown command or subcommand.
pub fn resolve(args: &[Bytes]) -> Result<&'static CommandSpec, CmdError> {
    resolve_found(lookup(&args[0]), args)
}

/// [`resolve`] with the config file's `rename-command` lines applied. A `trusted` sender
/// (the master's stream, the AOF loader) may also use the table's own names: effects a
/// master rewrites (DEL for an expired key, PEXPIREAT, SELECT, MULTI/EXEC) carry them, and
/// a master without the rename sends them too.
pub fn resolve_renamed(
    renames: &rename::Renames,
    args: &[Bytes],
    trusted: bool,
) -> Result<&'static CommandSpec, CmdError> {
    let spec = renames
        .lookup(&args[0])
        .or_else(|| if trusted { lookup(&args[0]) } else { None });
    resolve_found(spec, args)
}

fn resolve_found(
    spec: Option<&'static CommandSpec>,
    args: &[Bytes],
) -> Result<&'static CommandSpec, CmdError> {
    let Some(spec) = spec else {
        return Err(exec::unknown_command(args));
    };
    if spec.subcommands.is_empty() || args.len() < 2 {
        return Ok(spec);
    }
    // Redis names the container as typed (a renamed CONFIG is "Try CFG HELP.").
    lookup_sub(spec, &args[1]).ok_or_else(|| CmdError::UnknownSubcommand {
        cmd: String::from_utf8_lossy(&args[0]).to_ascii_uppercase(),
        sub: args::shown(&args[1]),
    })
}

/// Every command and subcommand, for COMMAND LIST / COUNT.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    table::COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}
