//! The client record: everything the server knows about one connection (Redis's `client`
//! struct). It lives in the server state; the connection task owns only the socket.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use picket_common::resp::{Proto, ReplyBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

pub use crate::db::ClientId;

/// Whether a peer counts as local for protected mode and the `local` settings: exactly
/// 127.0.0.1 or ::1, as Redis compares the address text (127.0.0.2 is not local).
pub fn is_local(addr: &SocketAddr) -> bool {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    match addr.ip().to_canonical() {
        IpAddr::V4(ip) => ip == Ipv4Addr::LOCALHOST,
        IpAddr::V6(ip) => ip == Ipv6Addr::LOCALHOST,
    }
}

/// Client flags (the subset of Redis's that picket-server uses).
pub mod cflags {
    pub const MULTI: u32 = 1 << 0;
    /// A watched key was modified: EXEC will fail.
    pub const DIRTY_CAS: u32 = 1 << 1;
    /// A command was refused while queueing: EXEC will fail with EXECABORT.
    pub const DIRTY_EXEC: u32 = 1 << 2;
    pub const MONITOR: u32 = 1 << 3;
    pub const CLOSE_AFTER_REPLY: u32 = 1 << 4;
    pub const CLOSE_ASAP: u32 = 1 << 5;
    pub const REPLY_OFF: u32 = 1 << 6;
    pub const REPLY_SKIP_NEXT: u32 = 1 << 7;
    pub const REPLY_SKIP: u32 = 1 << 8;
    pub const REPLICA: u32 = 1 << 9;
    pub const MASTER: u32 = 1 << 10;
    pub const BLOCKED: u32 = 1 << 11;
    pub const NO_EVICT: u32 = 1 << 12;
    /// The client expects one reply per command (inside EXEC): no blocking, no MONITOR.
    pub const DENY_BLOCKING: u32 = 1 << 13;
    /// The client that replays the AOF at start-up: no LOADING, MISCONF or OOM refusals.
    pub const LOADER: u32 = 1 << 14;
}

/// Output-buffer limit classes of `client-output-buffer-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientClass {
    Normal,
    Replica,
    Pubsub,
}

/// A command queued by MULTI.
#[derive(Clone)]
pub struct Queued {
    pub spec: &'static crate::command::spec::CommandSpec,
    pub args: Vec<Bytes>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Queued({}, {} args)",
            self.spec.full_name,
            self.args.len()
        )
    }
}

#[derive(Debug)]
pub struct Client {
    pub id: ClientId,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    /// The connection's file descriptor (`fd=`), or -1 where there is none (the simulated
    /// network, in-process test clients), as Redis shows for clients without a socket.
    pub fd: i64,
    pub name: Option<Bytes>,
    pub created: Instant,
    pub last_interaction: Instant,
    pub db: usize,
    pub proto: Proto,
    pub authenticated: bool,
    /// The ACL user the connection is authenticated as (`default` until AUTH).
    pub user: Bytes,
    /// Runs without ACL checks (a script called by the master's link or the loader: Redis's
    /// user-less clients).
    pub acl_exempt: bool,
    pub flags: u32,
    /// Commands queued since MULTI.
    pub multi: Vec<Queued>,
    pub multi_mem: usize,
    /// WATCHed keys: (db, key); the watcher entries live in the db's `watched`.
    pub watched: Vec<(usize, Bytes)>,
    /// Subscribed channels (Redis keeps a dict: any order will do, this one is
    /// deterministic) and patterns (a list in Redis 7.0: PUNSUBSCRIBE answers in
    /// subscription order).
    pub channels: BTreeSet<Bytes>,
    pub patterns: Vec<Bytes>,
    /// Shard channels (SSUBSCRIBE), a namespace of their own.
    pub shard_channels: BTreeSet<Bytes>,
    /// Replies and pushes waiting to be written by the connection task.
    pub out: ReplyBuf,
    /// Peak of `out` since the last cron sample (`client_recent_max_output_buffer`).
    pub out_peak: usize,
    /// Since when the soft output-buffer limit has been exceeded.
    pub soft_limit_since: Option<Instant>,
    /// Wakes the connection task: new output to write, or the client must be closed.
    pub notify: Arc<Notify>,
    /// Bytes received but not yet parsed into commands (`qbuf=`), updated by the connection.
    pub qbuf: usize,
    pub qbuf_peak: usize,
    /// Redis's sizes of the query buffer (`qbuf`, `qbuf-free`), see `client_mem`.
    pub qb: crate::client_mem::QueryBuf,
    /// A new allocation for the real query buffer decided by the cron, for the connection
    /// to apply (an idle client's buffer is released).
    pub qbuf_resize: Option<usize>,
    /// The arguments held: the command being run or blocked, or a request being received
    /// (`argv-mem`, and the pointer array in `tot-mem`).
    pub argv_mem: usize,
    pub argc: usize,
    /// Redis's static reply buffer (`rbs`, `rbp`), see `client_mem`.
    pub rb: crate::client_mem::ReplyBuf,
    /// Set by the connection while a write waits for the peer (`events=rw`).
    pub writing: Arc<std::sync::atomic::AtomicBool>,
    /// Full name of the last command (`client|list`).
    pub last_cmd: &'static str,
    /// Waiting for keys (a blocking command that found nothing).
    pub blocked: Option<Blocked>,
    /// Set when the client must be closed; the reason is logged.
    pub close_reason: Option<String>,
    /// What a replica told with REPLCONF, and its replication state once it synced.
    pub replica: Option<Box<crate::replication::state::ReplicaState>>,
    /// The replication offset after this client's last command (WAIT waits for it).
    pub woff: u64,
    /// `failover-safety strict`: replies held until the replicas hold the writes they
    /// acknowledge (`replication::gate`).
    pub gate: crate::replication::gate::Gate,
    /// A blocked command of this client was served (a pop) and its effects end at this
    /// offset: its reply, in `out`, is a write's.
    pub served_write: Option<u64>,
    /// The last command run was a write (set by the pipeline's checks).
    pub last_was_write: bool,
}

/// The id of the client a script's commands run on (not in the registry).
pub const SCRIPT_CLIENT_ID: ClientId = u64::MAX;

impl Client {
    pub fn new(id: ClientId, addr: SocketAddr, laddr: SocketAddr, now: Instant) -> Self {
        Client {
            id,
            addr,
            laddr,
            fd: -1,
            name: None,
            created: now,
            last_interaction: now,
            db: 0,
            proto: Proto::Resp2,
            authenticated: false,
            user: Bytes::from_static(b"default"),
            acl_exempt: false,
            flags: 0,
            multi: Vec::new(),
            multi_mem: 0,
            watched: Vec::new(),
            channels: BTreeSet::new(),
            shard_channels: BTreeSet::new(),
            patterns: Vec::new(),
            out: ReplyBuf::new(Proto::Resp2),
            out_peak: 0,
            soft_limit_since: None,
            notify: Arc::new(Notify::new()),
            qbuf: 0,
            qbuf_peak: 0,
            qb: Default::default(),
            qbuf_resize: None,
            argv_mem: 0,
            argc: 0,
            rb: Default::default(),
            writing: Arc::default(),
            last_cmd: "NULL",
            blocked: None,
            close_reason: None,
            replica: None,
            woff: 0,
            gate: Default::default(),
            served_write: None,
            last_was_write: false,
        }
    }

    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    pub fn in_multi(&self) -> bool {
        self.has(cflags::MULTI)
    }

    /// CLIENT REPLY OFF, or SKIP for the command under way: replies are dropped. Pushes
    /// (pub/sub confirmations and messages, in RESP2 as in RESP3) are not replies and still
    /// go out, as Redis's `CLIENT_PUSHING`; MONITOR lines are replies.
    pub fn replies_suppressed(&self) -> bool {
        self.has(cflags::REPLY_OFF) || self.has(cflags::REPLY_SKIP)
    }

    /// Channels and patterns: the count SUBSCRIBE and PSUBSCRIBE confirmations carry.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Every subscription, shard channels included (Redis's `CLIENT_PUBSUB` flag).
    pub fn total_subscriptions(&self) -> usize {
        self.subscriptions() + self.shard_channels.len()
    }

    /// A RESP2 client with subscriptions is in the restricted "subscribed" context.
    pub fn in_pubsub_context(&self) -> bool {
        self.proto == Proto::Resp2 && self.total_subscriptions() > 0
    }

    pub fn class(&self) -> ClientClass {
        if self.has(cflags::REPLICA) && !self.has(cflags::MONITOR) {
            ClientClass::Replica
        } else if self.total_subscriptions() > 0 {
            ClientClass::Pubsub
        } else {
            ClientClass::Normal
        }
    }

    /// `CLIENT KILL TYPE` / `CLIENT LIST TYPE` name.
    pub fn type_name(&self) -> &'static str {
        if self.has(cflags::MASTER) {
            "master"
        } else {
            match self.class() {
                ClientClass::Replica => "replica",
                ClientClass::Pubsub => "pubsub",
                ClientClass::Normal => "normal",
            }
        }
    }

    /// Ask the connection task to close this client.
    pub fn close_asap(&mut self, reason: impl Into<String>) {
        if self.close_reason.is_none() {
            self.close_reason = Some(reason.into());
        }
        self.flags |= cflags::CLOSE_ASAP;
        self.notify.notify_one();
    }

    /// Queue an out-of-band message (pub/sub, MONITOR) and wake the connection task.
    pub fn push_bytes(&mut self, b: &[u8]) {
        self.out.raw(b);
        self.out_peak = self.out_peak.max(self.out.len());
        self.rb.note(self.out.len());
        self.notify.notify_one();
    }

    /// The `flags=` letters of CLIENT LIST, in Redis's order (`trk`: the client's tracking
    /// flags, `crate::tracking::tflags`).
    pub fn flag_letters(&self, trk: u32) -> String {
        use crate::tracking::tflags;
        let mut s = String::new();
        if self.has(cflags::MONITOR) {
            s.push('O');
        } else if self.has(cflags::REPLICA) {
            s.push('S');
        }
        if self.has(cflags::MASTER) {
            s.push('M');
        }
        if self.total_subscriptions() > 0 {
            s.push('P');
        }
        if self.has(cflags::MULTI) {
            s.push('x');
        }
        if self.has(cflags::BLOCKED) {
            s.push('b');
        }
        if trk & tflags::ON != 0 {
            s.push('t');
        }
        if trk & tflags::BROKEN_REDIR != 0 {
            s.push('R');
        }
        if trk & tflags::BCAST != 0 {
            s.push('B');
        }
        if self.has(cflags::DIRTY_CAS) {
            s.push('d');
        }
        if self.has(cflags::CLOSE_AFTER_REPLY) {
            s.push('c');
        }
        if self.has(cflags::CLOSE_ASAP) {
            s.push('A');
        }
        if self.has(cflags::NO_EVICT) {
            s.push('e');
        }
        if s.is_empty() {
            s.push('N');
        }
        s
    }

    /// One line of CLIENT LIST / CLIENT INFO, with Redis 7.0's fields in its order.
    pub fn info_line(&self, now: Instant) -> String {
        self.info_line_with(now, self.out.len())
    }

    /// [`info_line`](Self::info_line) for a client whose unwritten replies are `pending`
    /// bytes (the executing client's are in the command's reply buffer).
    pub fn info_line_with(&self, now: Instant, pending: usize) -> String {
        self.info_line_tracked(now, pending, None)
    }

    /// [`info_line_with`](Self::info_line_with) with the client's tracking state (the
    /// `t`, `R`, `B` flags, `redir=`).
    pub fn info_line_tracked(
        &self,
        now: Instant,
        pending: usize,
        trk: Option<&crate::tracking::ClientTracking>,
    ) -> String {
        use crate::client_mem::{total_memory, MemParts};
        let trk_flags = trk.map_or(0, |t| t.flags);
        let redir: i64 = match trk {
            Some(t) if t.has(crate::tracking::tflags::ON) => t.redirect as i64,
            _ => -1,
        };
        let age = now.saturating_duration_since(self.created).as_secs();
        let idle = now
            .saturating_duration_since(self.last_interaction)
            .as_secs();
        let name = self
            .name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let multi: i64 = if self.in_multi() {
            self.multi.len() as i64
        } else {
            -1
        };
        let (obl, oll, omem) = self.rb.split(pending);
        let tot_mem = total_memory(&MemParts {
            qbuf: self.qb.memory(),
            rbs: self.rb.size,
            omem,
            oll,
            argv_mem: self.argv_mem,
            argc: self.argc,
            multi_mem: self.multi_mem,
            multi_count: self.multi.len(),
            channels: self.channels.len() + self.shard_channels.len(),
            patterns: self.patterns.len(),
        });
        // Redis's estimate of the BCAST prefixes' radix tree: 32 bytes a node.
        let tot_mem = tot_mem + 32 * trk.map_or(0, |t| t.rax_nodes);
        let events = if self.writing.load(std::sync::atomic::Ordering::Relaxed) {
            "rw"
        } else {
            "r"
        };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} cmd={} user={} redir={} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            name,
            age,
            idle,
            self.flag_letters(trk_flags),
            self.db,
            self.channels.len(),
            self.patterns.len(),
            self.shard_channels.len(),
            multi,
            self.qb.len,
            self.qb.free(),
            self.argv_mem,
            self.multi_mem,
            self.rb.size,
            self.rb.peak,
            obl,
            oll,
            omem,
            tot_mem,
            events,
            self.last_cmd,
            String::from_utf8_lossy(&self.user),
            redir,
            self.proto.number(),
        )
    }
}

/// Why and until when a client is blocked.
#[derive(Debug, Clone)]
pub struct Blocked {
    pub db: usize,
    pub keys: Vec<Bytes>,
    /// The value type (TYPE name) that can serve the client: "list" or "zset".
    pub want: &'static str,
    /// None: wait forever.
    pub deadline: Option<Instant>,
    pub spec: &'static crate::command::spec::CommandSpec,
    pub args: Vec<Bytes>,
    /// WAIT: the offset to be acknowledged and by how many replicas.
    pub wait: Option<(u64, usize)>,
    /// Held by a client pause (`pause.rs`): the command runs again when the pause ends.
    pub postponed: bool,
}
