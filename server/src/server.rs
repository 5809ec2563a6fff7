//! The server state shared by every connection (Redis's `struct redisServer`), and the
//! operations on it that commands use: keyspace lookups with lazy expiry, modification
//! signals (WATCH, keyspace events, dirty counter), delivery of pushes to other clients.
//!
//! All of it sits behind one mutex: connection tasks decode outside the lock, execute a batch
//! of commands under it, and write replies after releasing it (DESIGN.md, execution model).

use std::sync::Arc;

use bytes::Bytes;
use picket_common::clock::Clock;
use picket_common::ids::{self, Rng};
use picket_common::resp::ReplyBuf;
use rand::RngExt;

use crate::client::ClientId;
use crate::clients::Clients;
use crate::config::ConfigState;
use crate::config::Settings;
use crate::db::{lru_clock, Db, Entry, Value};
use crate::evict::access;
use crate::keyspace::Keyspace;
use crate::notify;
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
}

impl Server {
    pub fn new(config: ConfigState, seed: u64, clock: Clock) -> Self {
        let cfg = config.settings();
        let mut rng = ids::seeded(seed);
        let run_id = ids::random_hex40(&mut rng);
        let replid = ids::random_hex40(&mut rng);
        let dbs = (0..cfg.databases)
            .map(|i| Db::new(i, rng.random()))
            .collect();
        let now_ms = clock.unix_ms() as i64;
        Server {
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
        }
    }

    /// Refresh the cached time (once per command).
    pub fn update_time(&mut self) {
        self.now_ms = self.clock.unix_ms() as i64;
    }

    pub fn lru_clock(&self) -> u32 {
        lru_clock(self.now_ms as u64)
    }

    /// Record an access to an entry whose `lru` field is `old` (LRU clock or LFU counter).
    fn touch_lru(&mut self, old: u32) -> u32 {
        let t = access::Tuning {
            policy: self.cfg.maxmemory_policy,
            decay_time: self.cfg.lfu_decay_time,
            log_factor: self.cfg.lfu_log_factor,
        };
        access::touch(t, self.now_ms, &mut self.rng, old)
    }

    /// Random u64 from the server's seeded generator.
    pub fn random_u64(&mut self) -> u64 {
        self.rng.random()
    }

    // ---------------------------------------------------------------- keyspace

    /// If `key` has expired, delete it (propagating DEL and firing the `expired` event) and
    /// return true.
    ///
    /// A replica never deletes: its master sends the DEL. Its master's stream sees the key
    /// as it is; other clients see an expired key as missing (true).
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        if !self.keyspace.dbs[db].is_expired(key, self.now_ms) {
            return false;
        }
        if self.repl.is_replica() {
            return !self.repl.applying;
        }
        // While writes are paused the key reads as missing but stays (Redis 7.0).
        if self.pauses.writes_paused(self.now_ms) {
            return true;
        }
        self.delete_expired(db, key);
        true
    }

    /// Delete a key found expired, by lookup or by the active cycle.
    pub fn delete_expired(&mut self, db: usize, key: &[u8]) {
        if self.keyspace.dbs[db].remove(key).is_none() {
            return;
        }
        self.stats.expired_keys += 1;
        let k = Bytes::copy_from_slice(key);
        // Inside a command this joins its execution unit (Redis 7.0 replicates
        // `MULTI / DEL k / <command> / EXEC`); from the active expiry cycle it goes alone.
        let del = deletion(self.cfg.lazyfree_lazy_expire);
        self.propagator.feed(db, &[del, k.clone()]);
        self.notify(notify::EXPIRED, "expired", &k, db);
        self.clients.pushes_early = self.clients.pushes.len();
        self.signal_modified(db, &k);
    }

    /// Lookup for reading: lazy expiry, hit/miss statistics, LRU update.
    pub fn lookup_read(&mut self, db: usize, key: &[u8]) -> Option<&Entry> {
        let expired = self.expire_if_needed(db, key);
        let found = if expired {
            None
        } else {
            self.keyspace.dbs[db].get(key).map(|e| e.lru)
        };
        let Some(old) = found else {
            self.stats.keyspace_misses += 1;
            if self.cfg.notify_keyspace_events & notify::KEY_MISS != 0 {
                let k = Bytes::copy_from_slice(key);
                self.notify(notify::KEY_MISS, "keymiss", &k, db);
            }
            return None;
        };
        let lru = self.touch_lru(old);
        self.stats.keyspace_hits += 1;
        let e = self.keyspace.dbs[db].get_mut_metadata(key)?;
        e.lru = lru;
        Some(&*e)
    }

    /// Lookup for writing: lazy expiry and LRU update, no statistics.
    pub fn lookup_write(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        let old = self.keyspace.dbs[db].get(key)?.lru;
        let lru = self.touch_lru(old);
        let e = self.keyspace.dbs[db].get_mut(key)?;
        e.lru = lru;
        Some(e)
    }

    /// Whether a key exists (after lazy expiry), without touching LRU or statistics.
    pub fn exists(&mut self, db: usize, key: &[u8]) -> bool {
        !self.expire_if_needed(db, key) && self.keyspace.dbs[db].contains(key)
    }

    /// Store a value (Redis's `setKey`): overwrite (keeping the TTL only if `keep_ttl`) or add;
    /// a new key fires the `new` keyspace event. Returns true if the key was new. WATCH
    /// invalidation, the command's own event and `dirty` are the caller's (`Ctx::changed`).
    pub fn set_key(&mut self, db: usize, key: &[u8], val: Value, keep_ttl: bool) -> bool {
        let lru = access::initial(self.cfg.maxmemory_policy, self.now_ms);
        let type_name = val.type_name();
        let inserted = self.keyspace.dbs[db].set(key, val, lru, keep_ttl);
        self.signal_ready(db, key, type_name);
        if inserted && self.cfg.notify_keyspace_events & notify::NEW != 0 {
            self.notify(notify::NEW, "new", key, db);
        }
        inserted
    }

    /// Delete a key (DEL semantics: signals and notifications are the caller's).
    pub fn delete(&mut self, db: usize, key: &[u8]) -> bool {
        let expired = self.expire_if_needed(db, key);
        self.keyspace.dbs[db].remove(key).is_some() && !expired
    }

    /// A key changed: invalidate WATCHes on it (Redis's `signalModifiedKey`), after the
    /// change.
    pub fn signal_modified(&mut self, db: usize, key: &[u8]) {
        for id in self.keyspace.modified(db, key) {
            self.mark_dirty_cas(id);
        }
    }

    /// Invalidate the watched keys of `db` before FLUSHDB, FLUSHALL or SWAPDB (with
    /// `also_in`, the database that replaces it): [`Keyspace::all_modified`].
    pub fn touch_all_watched(&mut self, db: usize, also_in: Option<usize>) {
        for id in self.keyspace.all_modified(db, also_in, self.now_ms) {
            self.mark_dirty_cas(id);
        }
    }

    /// Publish a keyspace event if the configuration asks for its class.
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        let flags = self.cfg.notify_keyspace_events;
        if flags & class == 0 {
            return;
        }
        if flags & notify::KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{db}__:").into_bytes();
            ch.extend_from_slice(key);
            self.publish(&ch, event.as_bytes());
        }
        if flags & notify::KEYEVENT != 0 {
            let ch = format!("__keyevent@{db}__:{event}");
            self.publish(ch.as_bytes(), key);
        }
    }

    // ---------------------------------------------------------------- clients and pushes

    /// Make a client's next EXEC fail because a key it watches changed.
    pub fn mark_dirty_cas(&mut self, id: ClientId) {
        self.clients.mark_dirty_cas(id);
    }

    /// Write a push (pub/sub message, MONITOR line) to a client, in its protocol, under
    /// its output buffer limits.
    pub fn deliver(&mut self, id: ClientId, write: &dyn Fn(&mut ReplyBuf)) {
        let now = self.clock.now();
        self.clients.deliver(id, write, &self.cfg.obuf_limits, now);
    }

    /// PUBLISH: deliver to channel subscribers and matching patterns; returns receivers.
    pub fn publish(&mut self, channel: &[u8], msg: &[u8]) -> usize {
        let (direct, by_pattern) = self.pubsub.receivers(channel);
        let n = direct.len() + by_pattern.len();
        for id in direct {
            self.deliver(id, &|o: &mut ReplyBuf| {
                o.push(3);
                o.bulk(b"message");
                o.bulk(channel);
                o.bulk(msg);
            });
        }
        for (pat, id) in by_pattern {
            self.deliver(id, &|o: &mut ReplyBuf| {
                o.push(4);
                o.bulk(b"pmessage");
                o.bulk(&pat);
                o.bulk(channel);
                o.bulk(msg);
            });
        }
        n
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

    /// Whether the default user needs a password.
    pub fn requires_auth(&self) -> bool {
        self.cfg.requirepass.is_some()
    }
}

/// The command an expired or evicted key propagates as: UNLINK when the matching
/// `lazyfree-lazy-*` setting is on, else DEL (Redis's `propagateDeletion`).
pub fn deletion(lazy: bool) -> Bytes {
    Bytes::from_static(if lazy { b"UNLINK" } else { b"DEL" })
}

pub use crate::clients::check_output_limits;
