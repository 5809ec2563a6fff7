//! The replication state the server owns (a part of `Server`): replication ids and
//! offsets, the backlog, the replicas attached to this master with what each told
//! (REPLCONF), the link to this replica's master, and a FAILOVER in progress. Plain data
//! and its invariants; the engines that act on it (`master`, `replica`, `failover`) are
//! above it.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::backlog::Backlog;
use crate::db::ClientId;

/// The replid2 of a server without a previous history.
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// The state of a replica's link with its master (`ROLE`'s names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Must connect (not connected, or the link was lost).
    Connect,
    Connecting,
    Handshake,
    /// Receiving the RDB of a full synchronization.
    Sync,
    Connected,
}

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// On a replica: its master and the state of the link.
#[derive(Debug)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// Last data received from the master.
    pub last_io: Option<Instant>,
    /// Since when the link is down (None: it never was up since REPLICAOF).
    pub down_since: Option<Instant>,
    /// Whether the link has a master client (`slave_repl_offset` is meaningful).
    pub has_client: bool,
    /// The RDB transfer of a full synchronization: total (or -1 for EOF-marked) and read.
    pub sync_total: i64,
    pub sync_read: u64,
    pub sync_last_io: Option<Instant>,
    /// The master's failover epoch as this link's handshake learned it (0 until then, or
    /// when the handshake did not ask): REPLFENCE drops a link whose master is older.
    pub master_epoch: u64,
}

/// The replication state of the server.
#[derive(Debug)]
pub struct Repl {
    pub replid: String,
    pub replid2: String,
    /// The offset up to which `replid2` is valid (-1: none).
    pub second_offset: i64,
    /// `master_repl_offset`: bytes of the replication stream produced (as a master) or
    /// applied from the master (as a replica).
    pub offset: u64,
    pub backlog: Option<Backlog>,
    /// Clients that are replicas of this server.
    pub replicas: BTreeSet<ClientId>,
    /// The replicas' acknowledgements (offsets, times, the good replica count) and the
    /// clients in WAIT: the one record of them.
    pub acks: super::wait::Acks,
    /// Since when no replica is attached (for `repl-backlog-ttl`).
    pub no_replicas_since: Option<Instant>,
    /// On a replica, the master.
    pub master: Option<MasterLink>,
    /// Bumped by every REPLICAOF: the link task restarts with the new settings.
    pub generation: u64,
    /// Wakes the link task.
    pub wake: Arc<Notify>,
    /// Notified (all waiters) whenever `generation` moves: a link attempt stuck in a read
    /// (a master that accepted the connection and then stopped answering, as a stopped
    /// process does) is abandoned at once instead of at its timeout.
    pub moved: Arc<Notify>,
    /// A WAIT is pending: send `REPLCONF GETACK *` to the replicas after this batch.
    pub get_ack: bool,
    /// A strict master's gated writes want an ACK (`replication::after_batch`): one
    /// GETACK per replica round trip serves every write behind it (a group commit).
    pub gate_ack: bool,
    /// When the last GETACK for gated writes was sent; cleared by the next ACK.
    pub gate_ack_in_flight: Option<Instant>,
    /// The master asked for an ACK (`REPLCONF GETACK`) while its stream was applied.
    pub ack_requested: bool,
    /// When the replicas were last pinged.
    pub last_ping: Option<Instant>,
    /// The master's REPLCONF ACKs changed: WAITs may be served.
    pub acks_changed: bool,
    /// Clients whose replies wait in their acknowledgement gate (strict mode), woken when
    /// ACKs arrive.
    pub gated: std::collections::BTreeSet<ClientId>,
    /// When the strict lease last asked the replicas for an ACK.
    pub lease_getack: Option<Instant>,
    /// The replication cron's last run and count (it runs once a second).
    pub last_cron: Option<Instant>,
    pub cron_loops: u64,
    /// The master client is applying the stream (keys are not expired for it).
    pub applying: bool,
    /// We have a history to continue (PSYNC with our replid and offset): after a sync, after
    /// loading an RDB with replication info, or as a demoted master.
    pub have_history: bool,
    /// The master (host, port) our history came from: set when a link with it comes up,
    /// cleared when we become a master. A strict replica does not let that same master
    /// replace its history with a full resynchronization that would drop part of it (a
    /// master restarted without its data): see `link.rs`, `keep_history`.
    pub history_from: Option<(String, u16)>,
    /// The database the master's stream had selected when the link dropped.
    pub master_db: usize,
    /// Full synchronization in progress (replicas attached to the snapshot).
    pub sync_running: bool,
    /// Since when replicas have been waiting for a full sync to start (diskless delay).
    pub waiting_since: Option<Instant>,
    /// Effects waiting for the AOF, written at the end of the batch.
    pub aof_buf: BytesMut,
    pub stat_sync_full: u64,
    pub stat_sync_partial_ok: u64,
    pub stat_sync_partial_err: u64,
    /// A FAILOVER this master is running.
    pub failover: Failover,
    /// The newer failover epochs replicas announced to this master, each warned about once.
    pub superseded_warned: BTreeSet<u64>,
    /// A master: when it became one (or first ran its cron), and when its strict lease was
    /// last seen held (INFO's `failover_lease_lost_ms`).
    pub master_since: Option<Instant>,
    pub lease_held_at: Option<Instant>,
}

impl Repl {
    pub fn new(replid: String) -> Repl {
        Repl {
            replid,
            replid2: NO_REPLID.to_string(),
            second_offset: -1,
            offset: 0,
            backlog: None,
            replicas: BTreeSet::new(),
            acks: Default::default(),
            no_replicas_since: None,
            master: None,
            generation: 0,
            wake: Arc::new(Notify::new()),
            moved: Arc::new(Notify::new()),
            get_ack: false,
            gate_ack: false,
            gate_ack_in_flight: None,
            ack_requested: false,
            acks_changed: false,
            gated: Default::default(),
            lease_getack: None,
            last_cron: None,
            cron_loops: 0,
            applying: false,
            have_history: false,
            history_from: None,
            master_db: 0,
            last_ping: None,
            sync_running: false,
            waiting_since: None,
            aof_buf: BytesMut::new(),
            stat_sync_full: 0,
            stat_sync_partial_ok: 0,
            stat_sync_partial_err: 0,
            failover: Default::default(),
            superseded_warned: BTreeSet::new(),
            master_since: None,
            lease_held_at: None,
        }
    }

    /// Whether this server is a replica (`REPLICAOF host port`).
    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    /// Whether the link with the master is up.
    pub fn link_up(&self) -> bool {
        self.master
            .as_ref()
            .is_some_and(|m| m.state == LinkState::Connected)
    }

    /// Forget the previous history (Redis's `clearReplicationId2`).
    pub fn clear_replid2(&mut self) {
        self.replid2 = NO_REPLID.to_string();
        self.second_offset = -1;
    }

    /// Keep the current history as the previous one and start a new id (Redis's
    /// `shiftReplicationId`): replicas of the old id up to here may still PSYNC.
    pub fn shift_replid(&mut self, new_id: String) {
        self.replid2 = std::mem::replace(&mut self.replid, new_id);
        self.second_offset = self.offset as i64 + 1;
    }

    /// Create the backlog if there is none (the first replica, or a finished full sync on a
    /// replica).
    pub fn ensure_backlog(&mut self, size: u64) {
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::new(size, self.offset));
        }
    }
}

/// A replica's state, as INFO names it (`wait_bgsave`, `send_bulk`, `online`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RState {
    /// Waiting for a full synchronization to start.
    WaitBgsaveStart,
    /// Its snapshot is being produced (disk) or streamed (diskless).
    WaitBgsaveEnd,
    /// The RDB file is being sent (disk).
    SendBulk,
    Online,
}

impl RState {
    pub fn info_name(self) -> &'static str {
        match self {
            RState::WaitBgsaveStart | RState::WaitBgsaveEnd => "wait_bgsave",
            RState::SendBulk => "send_bulk",
            RState::Online => "online",
        }
    }
}

/// What the master knows about a replica connection (REPLCONF, then SYNC/PSYNC).
#[derive(Debug)]
pub struct ReplicaState {
    pub state: RState,
    pub listening_port: u16,
    pub announced_ip: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// Legacy SYNC: no +FULLRESYNC line.
    pub legacy: bool,
    /// The stream produced while the replica's RDB is being sent.
    pub pending: BytesMut,
    /// Diskless: the stream starts with the replica's first ACK (it has loaded the RDB).
    pub start_stream_on_ack: bool,
    /// The RDB header went out: no more newline keepalives.
    pub header_sent: bool,
}

impl ReplicaState {
    pub fn new() -> Self {
        ReplicaState {
            state: RState::WaitBgsaveStart,
            listening_port: 0,
            announced_ip: None,
            capa_eof: false,
            capa_psync2: false,
            legacy: false,
            pending: BytesMut::new(),
            start_stream_on_ack: false,
            header_sent: false,
        }
    }
}

impl Default for ReplicaState {
    fn default() -> Self {
        Self::new()
    }
}

/// INFO's `master_failover_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailoverState {
    #[default]
    None,
    WaitForSync,
    InProgress,
}

impl FailoverState {
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "no-failover",
            FailoverState::WaitForSync => "waiting-for-sync",
            FailoverState::InProgress => "failover-in-progress",
        }
    }
}

/// A failover this server (as the master) is running.
#[derive(Debug, Default)]
pub struct Failover {
    pub state: FailoverState,
    /// The target replica's announced address, once known.
    pub(crate) target: Option<(String, u16)>,
    /// Unix ms after which the wait for the replica ends.
    pub(crate) end_ms: Option<i64>,
    pub(crate) force: bool,
}

impl Failover {
    pub(crate) fn target_name(&self) -> String {
        match &self.target {
            Some((h, p)) => format!("{h}:{p}"),
            None => "any replica".to_string(),
        }
    }
}
