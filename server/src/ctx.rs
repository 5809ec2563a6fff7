//! What a command handler works with: its context ([`Ctx`], borrowing the server and the
//! running client), the command table's row type ([`CommandSpec`]) and what the pipeline
//! does after a command ([`Flow`]). These sit below the command families and the pipeline
//! (`crate::command`), beside the state they borrow, so that the state parts (a MULTI
//! queue, a blocked client, a paused command) can name a command without importing the
//! command layer.

use bytes::Bytes;
use tokio::time::Instant;

use picket_common::resp::ReplyBuf;

use crate::client::Client;
use crate::command::args::shown;
use crate::command::error::{CmdError, CmdResult};
pub use crate::command::spec::{flags, CommandSpec, Keys};
use crate::server::Server;

/// A command handler. It writes its reply to `ctx.out` and returns `Err` to reply with an
/// error instead (the pipeline writes and counts it).
pub type Handler = fn(&mut Ctx) -> CmdResult;

/// What a command propagates besides (or instead of) its own arguments.
#[derive(Debug, Default)]
pub enum Propagate {
    /// Its arguments, if it changed data (`dirty` grew).
    #[default]
    Args,
    /// These commands instead (Redis's `rewriteClientCommandVector` / `alsoPropagate`).
    Commands(Vec<Vec<Bytes>>),
    /// Nothing, even if it changed data.
    Nothing,
    /// Its arguments even though it changed no data (FLUSHALL/FLUSHDB of empty databases).
    Force,
    /// Its arguments to the replicas (not the AOF) even though it changed no data: PUBLISH
    /// reaches replicas' subscribers (Redis's `forceCommandPropagation(PROPAGATE_REPL)`).
    ForceRepl,
}

/// Everything a handler can reach.
pub struct Ctx<'a> {
    pub srv: &'a mut Server,
    pub client: &'a mut Client,
    pub out: &'a mut ReplyBuf,
    pub args: &'a [Bytes],
    pub spec: &'static CommandSpec,
    pub propagate: Propagate,
    /// Where in `out` the pushes the command causes to its own client go if it does not
    /// write them itself: after those it wrote (`flush_pushes`), before what it replied
    /// since.
    pub push_mark: usize,
}

impl Ctx<'_> {
    /// The current database of the client.
    pub fn db(&self) -> usize {
        self.client.db
    }

    pub fn arg(&self, i: usize) -> &Bytes {
        &self.args[i]
    }

    /// Write a push frame (a pub/sub confirmation) for this client: into its replies, or,
    /// when replies are off, aside with the other pushes, which go out all the same.
    pub fn push(&mut self, write: impl FnOnce(&mut ReplyBuf)) {
        push_to(self.srv, self.client, Some(&mut *self.out), write);
    }

    /// Replace what this command propagates.
    pub fn propagate_as(&mut self, cmds: Vec<Vec<Bytes>>) {
        self.propagate = Propagate::Commands(cmds);
    }

    /// Write pushes addressed to this client during its command (e.g. its own PUBLISH) into
    /// its reply stream, before the command's reply. Under CLIENT REPLY OFF/SKIP they stay
    /// aside: the command's replies are dropped, its pushes are written after it.
    pub fn flush_pushes(&mut self) {
        if !self.srv.clients.pushes.is_empty() && !self.client.replies_suppressed() {
            self.out.raw(&self.srv.clients.pushes);
            self.srv.clients.pushes.clear();
            self.srv.clients.pushes_early = 0;
            self.push_mark = self.out.len();
        }
    }

    /// A key changed: WATCH invalidation, keyspace event, dirty counter.
    pub fn changed(&mut self, class: u32, event: &str, key: &[u8]) {
        let db = self.client.db;
        self.srv.data().signal_modified(db, key);
        self.srv.data().notify(class, event, key, db);
        self.srv.dirty += 1;
        // Its event reaches the client's own subscription where Redis writes it: here,
        // between what the command replied before and after.
        self.flush_pushes();
    }

    /// This is a blocked client's command run again because its key got data (not a new
    /// call: BLPOP and friends propagate what they served as plain pops then).
    pub fn served_blocked(&self) -> bool {
        self.srv.call.reprocessing
    }

    /// An arity error for this command, with its full name.
    pub fn arity_error(&self) -> CmdError {
        CmdError::Arity(self.spec.full_name.to_string())
    }

    /// Bad arguments to a subcommand that checks them itself (`SLOWLOG GET 1 2`, `DEBUG
    /// SLEEP`): the subcommand as typed, the command in capitals.
    pub fn subcommand_syntax_error(&self) -> CmdError {
        CmdError::SubcommandSyntax {
            cmd: String::from_utf8_lossy(&self.args[0]).to_ascii_uppercase(),
            sub: shown(&self.args[1]),
        }
    }
}

/// Write a push for `client` (executing now): into `out` when given and its replies are on,
/// else with the pushes written after its command (`Clients::pushes`).
pub fn push_to(
    srv: &mut Server,
    client: &Client,
    out: Option<&mut ReplyBuf>,
    write: impl FnOnce(&mut ReplyBuf),
) {
    match out {
        Some(o) if !client.replies_suppressed() => write(o),
        _ => {
            let mut rb = ReplyBuf {
                buf: std::mem::take(&mut srv.clients.pushes),
                proto: client.proto,
            };
            write(&mut rb);
            srv.clients.pushes = rb.buf;
        }
    }
}

/// What the connection should do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Write the pending replies, then close (QUIT, protocol error, CLIENT KILL of self).
    Close,
    /// The client blocked: process no more of its input until it is served or times out.
    Blocked,
}

/// The pipeline's scratch for the running command: the state of a blocked command being
/// run again and the batch's clock reading. Set and cleared by the pipeline
/// (`command::exec`, `command::reentry`); who runs and the pushes addressed to it are the
/// clients part's (`crate::clients`).
#[derive(Debug, Default)]
pub struct Call {
    /// The key whose data a re-executed blocked command is being served from.
    pub serving_key: Option<Bytes>,
    /// A blocked client's command is being executed again (not counted as a new call).
    pub reprocessing: bool,
    /// The re-executed command blocked again (found nothing): the client keeps waiting.
    pub reblocked: bool,
    /// The last clock reading of the current batch of commands (the end of the previous
    /// command), reused as the next command's start; cleared before each batch.
    pub clock_hint: Option<Instant>,
    /// `maxmemory` could not be met before the command under way (Redis's
    /// `pre_command_oom_state`): scripts refuse their first write that may grow memory.
    pub pre_command_oom: bool,
    /// The name of the command the client sent last, if it named one (CLIENT CACHING
    /// outlives CLIENT subcommands only).
    pub resolved: Option<&'static str>,
}
