//! The server state shared by every connection (Redis's `struct redisServer`), and the
//! operations on it that commands use: keyspace lookups with lazy expiry, modification
//! signals (WATCH, keyspace events, dirty counter), delivery of pushes to other clients.
//!
//! All of it sits behind one mutex: connection tasks decode outside the lock, execute a batch
//! of commands under it, and write replies after releasing it (DESIGN.md, execution model).

use std::sync::Arc;

use picket_common::clock::Clock;
use picket_common::ids::{self, Rng};
use rand::RngExt;

use crate::clients::Clients;
use crate::config::ConfigState;
use crate::config::Settings;
use crate::db::{lru_clock, Db};
use crate::keyspace::Keyspace;
use crate::propagate::Propagator;
use crate::pubsub::PubSub;
use crate::slowlog::SlowLog;
use crate::stats::{NetCounters, Stats};

pub use crate::process::{Process, ShutdownRequest};

pub struct Server {
    pub cfg: Settings,
    /// The process's identity and lifecycle: run id, listeners, shutdown, fatal error.
    pub process: Process,
    pub config: ConfigState,
    pub clock: Clock,
    /// Unix ms cached at the start of each command (Redis's `server.mstime` snapshot), so one
    /// command sees one time.
    pub now_ms: i64,
    /// The databases, their expiry, watched and blocked-on keys (`crate::keyspace`).
    pub keyspace: Keyspace,
    /// The connected clients, MONITORs, the running client's slot (`crate::clients`).
    pub clients: Clients,
    /// The running command's scratch: its client, the pushes addressed to it, the
    /// re-execution of a blocked command (the pipeline's, `ctx::Call`).
    pub call: crate::ctx::Call,
    /// CLIENT PAUSE and FAILOVER's write pause, and the clients they hold.
    pub pauses: crate::pause::Pauses,
    pub pubsub: PubSub,
    pub stats: Stats,
    pub slowlog: SlowLog,
    /// The latency monitor's events (LATENCY).
    pub latency: crate::latency::Monitor,
    pub rng: Rng,
    pub repl: crate::replication::state::Repl,
    /// Persistence: the RDB side, the AOF, the last save (`persist::state`).
    pub persistence: crate::persist::state::Persistence,
    /// Background work asked for under the lock (a save, a rewrite, a full sync), which
    /// the runtime starts when the lock is released.
    pub effects: crate::effects::Outbox,
    /// Changes since the last save (Redis's `server.dirty`).
    pub dirty: u64,
    pub propagator: Propagator,
    /// What DEBUG subcommands set for tests (packed threshold, reply buffer knobs...).
    pub debug: crate::command::debug::knobs::Knobs,
    /// Network counters, updated by connection tasks without the lock.
    pub net: Arc<NetCounters>,
    /// The script cache and the running script's watch.
    pub scripts: crate::scripts::Scripts,
    /// The function libraries (FUNCTION LOAD).
    pub functions: crate::functions::Functions,
    /// Client-side caching: who may cache which keys (CLIENT TRACKING).
    pub tracking: crate::tracking::Tracking,
    /// ACL users and the ACL log.
    pub acl: crate::acl::Acl,
}

impl Server {
    /// Record a latency event of `ms` if the latency monitor is on and `ms` reaches its
    /// threshold (Redis's `latencyAddSampleIfNeeded`).
    #[inline]
    pub fn latency_sample(&mut self, event: &str, ms: u64) {
        let threshold = self.cfg.latency_monitor_threshold;
        if threshold > 0 && ms >= threshold {
            let now_s = (self.clock.unix_ms() / 1000) as i64;
            self.latency.add(event, now_s, ms);
        }
    }

    /// Whether the latency monitor is on (Redis's `latencyStartMonitor` reads the clock only
    /// then).
    #[inline]
    pub fn latency_monitoring(&self) -> bool {
        self.cfg.latency_monitor_threshold > 0
    }

    pub fn new(config: ConfigState, seed: u64, clock: Clock) -> Self {
        let cfg = config.settings();
        let mut rng = ids::seeded(seed);
        let run_id = ids::random_hex40(&mut rng);
        let replid = ids::random_hex40(&mut rng);
        let dbs = (0..cfg.databases)
            .map(|i| Db::new(i, rng.random()))
            .collect();
        let now_ms = clock.unix_ms() as i64;
        let mut acl = crate::acl::Acl::new(cfg.acl_pubsub_default_all);
        acl.set_default_password(cfg.requirepass.as_deref());
        Server {
            tracking: crate::tracking::Tracking::default(),
            cfg,
            process: Process::new(run_id),
            config,
            clock,
            now_ms,
            keyspace: Keyspace::new(dbs),
            clients: Clients::default(),
            pauses: Default::default(),
            pubsub: PubSub::default(),
            stats: Stats::default(),
            slowlog: SlowLog::default(),
            latency: Default::default(),
            rng,
            repl: crate::replication::state::Repl::new(replid),
            call: Default::default(),
            persistence: crate::persist::state::Persistence {
                aof: None,
                rdb: Default::default(),
                lastsave_s: now_ms / 1000,
            },
            effects: Default::default(),
            dirty: 0,
            propagator: Propagator::default(),
            debug: Default::default(),
            net: Arc::new(NetCounters::default()),
            scripts: Default::default(),
            functions: Default::default(),
            acl,
        }
    }

    /// Refresh the cached time (once per command).
    pub fn update_time(&mut self) {
        self.now_ms = self.clock.unix_ms() as i64;
    }

    pub fn lru_clock(&self) -> u32 {
        lru_clock(self.now_ms as u64)
    }

    /// The keyspace service over the parts a data command needs ([`Data`]).
    #[inline]
    pub fn data(&mut self) -> Data<'_> {
        Data {
            keyspace: &mut self.keyspace,
            clients: &mut self.clients,
            pubsub: &self.pubsub,
            stream: &mut self.propagator,
            stats: &mut self.stats,
            dirty: &mut self.dirty,
            rng: &mut self.rng,
            cfg: &self.cfg,
            clock: &self.clock,
            now_ms: self.now_ms,
            repl: &self.repl,
            pauses: &self.pauses,
            loading: self.persistence.rdb.loading,
            tracking: &mut self.tracking,
        }
    }

    /// Work on the tracking state with the clients as where invalidations go.
    pub fn with_tracking<R>(
        &mut self,
        f: impl FnOnce(&mut crate::tracking::Tracking, &mut crate::tracking::Sink) -> R,
    ) -> R {
        let mut sink = crate::tracking::Sink {
            clients: &mut self.clients,
            limits: &self.cfg.obuf_limits,
            now: self.clock.now(),
        };
        f(&mut self.tracking, &mut sink)
    }

    /// Before the server waits for events again (Redis's `beforeSleep`): the BCAST
    /// invalidations gathered meanwhile go out.
    pub fn tracking_before_sleep(&mut self) {
        if self.tracking.broadcast_due() {
            self.with_tracking(|t, sink| t.broadcast(sink));
        }
    }

    /// Keep the tracking table within `tracking-table-max-keys` (Redis's
    /// `trackingLimitUsedSlots`, before each command and in the cron).
    pub fn tracking_limit(&mut self) {
        if self.tracking.tracking_clients() == 0 {
            return;
        }
        let max = self.cfg.tracking_table_max_keys;
        let mut sink = crate::tracking::Sink {
            clients: &mut self.clients,
            limits: &self.cfg.obuf_limits,
            now: self.clock.now(),
        };
        let rng = &mut self.rng;
        self.tracking
            .limit(max, &mut sink, |n| rng.random_range(0..n));
    }

    /// Number of connected clients (the executing one included).
    pub fn client_count(&self) -> usize {
        self.clients.count()
    }

    /// After loading an RDB at start-up: its replication info lets a restarted replica PSYNC
    /// its master, and the replicas of a restarted master PSYNC it (Redis 7.0's
    /// `loadDataFromDisk`).
    pub fn restore_replication(&mut self, id: &str, off: u64, stream_db: Option<usize>) {
        let srv = self;
        srv.repl.offset = off;
        if srv.repl.is_replica() {
            srv.repl.replid = id.to_string();
            srv.repl.have_history = true;
            srv.repl.master_db = stream_db.unwrap_or(0);
        } else {
            srv.repl.replid2 = id.to_string();
            srv.repl.second_offset = off as i64 + 1;
            srv.repl.replid = picket_common::ids::random_hex40(&mut srv.rng);
            let size = srv.cfg.repl.backlog_size;
            srv.repl.ensure_backlog(size);
            srv.propagator.enabled = true;
            srv.propagator.reset_selected_db();
        }
        tracing::info!("Restored replication ID and offset from the RDB: {id} {off}");
    }

    /// Whether a snapshot is being produced (only one at a time: they freeze the databases).
    pub fn snapshot_busy(&self) -> bool {
        self.persistence.rdb.bgsave_started.is_some()
            || self.repl.sync_running
            || self
                .persistence
                .aof
                .as_ref()
                .is_some_and(|a| a.rewrite_started.is_some())
    }

    /// Whether a new connection must authenticate (Redis's `authRequired`: the default user
    /// has a password or is off).
    pub fn requires_auth(&self) -> bool {
        self.acl.auth_required()
    }
}

pub use crate::clients::check_output_limits;
pub use crate::data::{deletion, Data};
