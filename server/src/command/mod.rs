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

pub use crate::ctx::{flags, CommandSpec, Ctx, Handler, Keys};
pub use error::{CmdError, CmdResult};

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
