//! What a command handler works with: its context ([`Ctx`], borrowing the server and the
//! running client), the command table's row type ([`CommandSpec`]) and what the pipeline
//! does after a command ([`Flow`]). These sit below the command families and the pipeline
//! (`crate::command`), beside the state they borrow, so that the state parts (a MULTI
//! queue, a blocked client, a paused command) can name a command without importing the
//! command layer.

use bytes::Bytes;
use picket_common::resp::ReplyBuf;

use crate::client::Client;
use crate::command::args::shown;
use crate::command::error::{CmdError, CmdResult};
use crate::command::keyspec;
use crate::server::Server;

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
        if !self.srv.exec_pushes.is_empty() && !self.client.replies_suppressed() {
            self.out.raw(&self.srv.exec_pushes);
            self.srv.exec_pushes.clear();
            self.srv.exec_pushes_early = 0;
            self.push_mark = self.out.len();
        }
    }

    /// A key changed: WATCH invalidation, keyspace event, dirty counter.
    pub fn changed(&mut self, class: u32, event: &str, key: &[u8]) {
        let db = self.client.db;
        self.srv.signal_modified(db, key);
        self.srv.notify(class, event, key, db);
        self.srv.dirty += 1;
        // Its event reaches the client's own subscription where Redis writes it: here,
        // between what the command replied before and after.
        self.flush_pushes();
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
/// else with the pushes written after its command (`Server::exec_pushes`).
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
                buf: std::mem::take(&mut srv.exec_pushes),
                proto: client.proto,
            };
            write(&mut rb);
            srv.exec_pushes = rb.buf;
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
