//! The command table: every command's name, arity, flags, key positions, documentation and
//! handler, as Redis's `commands.def`; and the pipeline that runs a request through it.

pub mod args;
pub mod error;
pub mod exec;
pub mod getkeys;
pub mod keyspec;
pub mod reentry;
pub mod rename;
#[rustfmt::skip]
pub mod table;
#[rustfmt::skip]
mod handlers;
pub mod lookup;
pub mod spec;

use bytes::Bytes;

pub(crate) mod acl_cmd;
mod bitops;
mod client_cmd;
pub mod config_set;
mod connection;
pub(crate) mod debug;
mod dump;
mod expire;
mod geo;
mod hashes;
mod hll;
mod info;
mod keys;
mod latency_cmd;
mod lists;
pub(crate) mod memory;
pub(crate) mod multi;
pub(crate) mod pubsub;
mod replication_cmds;
pub(crate) mod scripting;
mod server_cmds;
mod sets;
mod sort;
mod stream_groups;
mod stream_info;
mod stream_pel;
mod streams;
mod strings;
mod tracking_cmd;
mod zsets;

pub use crate::ctx::{flags, CommandSpec, Ctx, Handler, Keys};
pub use error::{CmdError, CmdResult};
pub use lookup::{all_commands, lookup, lookup_sub};

/// The function that runs a command.
pub fn handler_of(spec: &CommandSpec) -> Handler {
    #[cfg(test)]
    if let Some(h) = test_handlers::get(spec.id) {
        return h;
    }
    // Every `CommandSpec` is a row of the generated table, whose ids are 0..COMMAND_IDS,
    // and `HANDLERS` has one entry per id (both generated together by gen_table.py).
    handlers::HANDLERS[spec.id]
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

/// The handler of a container command (CONFIG, CLIENT ...) is reached only without a
/// subcommand, which the arity check refuses first; answer the same way if it ever runs.
fn container(ctx: &mut Ctx) -> CmdResult {
    Err(ctx.arity_error())
}

/// Handlers that tests put in place of a command's (a command that panics, say), under ids
/// past the table's.
#[cfg(test)]
pub(crate) mod test_handlers {
    use super::Handler;
    use std::sync::Mutex;

    static EXTRA: Mutex<Vec<Handler>> = Mutex::new(Vec::new());

    /// Register a handler; returns the id a test `CommandSpec` must carry to use it.
    pub fn add(h: Handler) -> usize {
        let mut v = EXTRA.lock().unwrap_or_else(|e| e.into_inner());
        v.push(h);
        super::table::COMMAND_IDS + v.len() - 1
    }

    pub fn get(id: usize) -> Option<Handler> {
        let i = id.checked_sub(super::table::COMMAND_IDS)?;
        EXTRA
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(i)
            .copied()
    }
}
