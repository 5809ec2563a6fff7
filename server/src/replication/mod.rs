//! Replication, PSYNC2 style, wire-compatible with Redis 7.0 (see
//! `../shared/reference/redis-ha.md` §1).
//!
//! - [`Repl`] is the replication state of the server: replication ids and offsets, the
//!   backlog, the replicas attached to this server, and (on a replica) the link to its master.
//! - [`feed`] takes the effects the commands produced (the propagator's stream) to the AOF
//!   buffer and, on a master, to the backlog and every replica; [`feed_stream`] adds bytes that
//!   only replicas see (in-band PING, `REPLCONF GETACK`).
//! - `master` serves replicas: SYNC/PSYNC, full synchronization from a snapshot that does not
//!   stop writes, REPLCONF, WAIT, min-replicas, the replication cron.
//! - `psync` decides how a SYNC/PSYNC is answered and `wait` accounts the replicas' ACKs
//!   for WAIT and min-replicas: pure engines the master side calls.
//! - `link` is the replica's link with its master as a sans-IO state machine (handshake,
//!   PSYNC reply, repl-timeout, ACKs); `replica` is the link task that drives it over the
//!   network, loads the RDB and applies the command stream;
//!   `fullsync` receives and loads a full synchronization's RDB in bounded memory
//!   (through a temp file, or parsed from the socket), `payload` its pure parts.

pub mod backlog;
pub mod config;
pub mod failover;
pub mod fullsync;
pub mod handshake;
pub mod link;
pub mod master;
pub mod payload;
pub mod psync;
pub mod replica;
pub mod wait;

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::client::ClientId;
use crate::server::Server;
use backlog::Backlog;

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
    /// Replicas online whose last ACK is recent enough (`min-replicas-max-lag`).
    pub good_replicas: usize,
    /// The replicas' ACKs and the clients in WAIT.
    pub acks: wait::Acks,
    /// Since when no replica is attached (for `repl-backlog-ttl`).
    pub no_replicas_since: Option<Instant>,
    /// On a replica, the master.
    pub master: Option<MasterLink>,
    /// Bumped by every REPLICAOF: the link task restarts with the new settings.
    pub generation: u64,
    /// Wakes the link task.
    pub wake: Arc<Notify>,
    /// A WAIT is pending: send `REPLCONF GETACK *` to the replicas after this batch.
    pub get_ack: bool,
    /// The master asked for an ACK (`REPLCONF GETACK`) while its stream was applied.
    pub ack_requested: bool,
    /// When the replicas were last pinged.
    pub last_ping: Option<Instant>,
    /// The master's REPLCONF ACKs changed: WAITs may be served.
    pub acks_changed: bool,
    /// The replication cron's last run and count (it runs once a second).
    pub last_cron: Option<Instant>,
    pub cron_loops: u64,
    /// The master client is applying the stream (keys are not expired for it).
    pub applying: bool,
    /// We have a history to continue (PSYNC with our replid and offset): after a sync, after
    /// loading an RDB with replication info, or as a demoted master.
    pub have_history: bool,
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
    pub failover: failover::Failover,
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
            good_replicas: 0,
            acks: Default::default(),
            no_replicas_since: None,
            master: None,
            generation: 0,
            wake: Arc::new(Notify::new()),
            get_ack: false,
            ack_requested: false,
            acks_changed: false,
            last_cron: None,
            cron_loops: 0,
            applying: false,
            have_history: false,
            master_db: 0,
            last_ping: None,
            sync_running: false,
            waiting_since: None,
            aof_buf: BytesMut::new(),
            stat_sync_full: 0,
            stat_sync_partial_ok: 0,
            stat_sync_partial_err: 0,
            failover: Default::default(),
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

/// Take the effects produced since the last call: to the AOF buffer, and on a master to the
/// backlog and the replicas. Called after every command (so WAIT knows each client's
/// offset) and before anything reads the offset.
pub fn feed(srv: &mut Server) {
    if srv.propagator.pending.is_empty() && srv.propagator.aof_pending.is_empty() {
        return;
    }
    let bytes = srv.propagator.take();
    let aof = srv.propagator.take_aof();
    if srv.aof.is_some() {
        srv.repl.aof_buf.extend_from_slice(&aof);
    }
    // A replica's sub-replicas get its master's stream as it was applied, not its own
    // effects (Redis's `replicationFeedStreamFromMasterStream`).
    if !srv.repl.is_replica() {
        feed_stream(srv, &bytes);
    }
}

/// Append bytes to the replication stream: the backlog, and every replica (online ones get
/// them at once, those in a full sync once their RDB is sent). Without a backlog there is
/// no stream, as in Redis.
pub fn feed_stream(srv: &mut Server, bytes: &[u8]) {
    let Some(backlog) = srv.repl.backlog.as_mut() else {
        return;
    };
    backlog.append(bytes);
    srv.repl.offset += bytes.len() as u64;
    if srv.repl.replicas.is_empty() {
        return;
    }
    let now = srv.clock.now();
    let limits = srv.cfg.obuf_limits;
    let ids: Vec<ClientId> = srv.repl.replicas.iter().copied().collect();
    for id in ids {
        if let Some(c) = srv.clients.get_mut(&id) {
            master::stream_to(c, bytes, &limits, now);
        }
    }
}

/// After a batch of commands (and each cron tick): effects to the AOF file, GETACK to the
/// replicas when a WAIT asks for it, WAITs that got their ACKs answered.
pub fn after_batch(srv: &mut Server) {
    feed(srv);
    if srv.repl.get_ack {
        srv.repl.get_ack = false;
        let mut b = BytesMut::new();
        crate::propagate::encode(
            &mut b,
            &[
                Bytes::from_static(b"REPLCONF"),
                Bytes::from_static(b"GETACK"),
                Bytes::from_static(b"*"),
            ],
        );
        feed_stream(srv, &b);
    }
    if std::mem::take(&mut srv.repl.acks_changed) {
        master::refresh_good_replicas(srv);
        master::serve_waits(srv);
        failover::update(srv);
    }
    crate::persist::aof::flush(srv);
}

/// After loading an RDB at start-up: its replication info lets a restarted replica PSYNC
/// its master, and the replicas of a restarted master PSYNC it (Redis 7.0's
/// `loadDataFromDisk`).
pub fn restore_from_rdb(srv: &mut Server, info: &crate::persist::loader::LoadInfo) {
    let (Some(id), Some(off)) = (&info.repl_id, info.repl_offset) else {
        return;
    };
    srv.repl.offset = off;
    if srv.repl.is_replica() {
        srv.repl.replid = id.clone();
        srv.repl.have_history = true;
        srv.repl.master_db = info.repl_stream_db.unwrap_or(0);
    } else {
        srv.repl.replid2 = id.clone();
        srv.repl.second_offset = off as i64 + 1;
        srv.repl.replid = picket_common::ids::random_hex40(&mut srv.rng);
        let size = srv.cfg.repl.backlog_size;
        srv.repl.ensure_backlog(size);
        srv.propagator.enabled = true;
        srv.propagator.reset_selected_db();
    }
    tracing::info!("Restored replication ID and offset from the RDB: {id} {off}");
}
