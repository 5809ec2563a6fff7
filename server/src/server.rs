//! The server state shared by every connection (Redis's `struct redisServer`), and the
//! operations on it that commands use: keyspace lookups with lazy expiry, modification
//! signals (WATCH, keyspace events, dirty counter), delivery of pushes to other clients.
//!
//! All of it sits behind one mutex: connection tasks decode outside the lock, execute a batch
//! of commands under it, and write replies after releasing it (DESIGN.md, execution model).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use picket_common::clock::Clock;
use picket_common::ids::{self, Rng};
use picket_common::resp::ReplyBuf;
use rand::RngExt;
use tokio::time::Instant;

use crate::client::{cflags, Client, ClientClass, ClientId};
use crate::config::ConfigState;
use crate::config::Settings;
use crate::db::{lru_clock, Db, Entry, Value};
use crate::notify;
use crate::propagate::Propagator;
use crate::pubsub::PubSub;
use crate::slowlog::SlowLog;
use crate::stats::{NetCounters, Stats};

/// Why and how the server is going down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownRequest {
    pub nosave: bool,
    pub save: bool,
    pub force: bool,
    pub signal: Option<&'static str>,
    /// The final save (if any) is done: the server may stop now.
    pub prepared: bool,
}

pub struct Server {
    pub cfg: Settings,
    pub config: ConfigState,
    pub clock: Clock,
    /// Unix ms cached at the start of each command (Redis's `server.mstime` snapshot), so one
    /// command sees one time.
    pub now_ms: i64,
    pub dbs: Vec<Db>,
    pub clients: BTreeMap<ClientId, Client>,
    pub next_client_id: ClientId,
    /// The running command's scratch: its client, the pushes addressed to it, the
    /// re-execution of a blocked command (the pipeline's, `ctx::Call`).
    pub call: crate::ctx::Call,
    /// Clients blocked on keys, per (db, key), in the order they blocked.
    pub blocking: BTreeMap<(usize, Bytes), crate::blocking::Queue>,
    /// Keys that got data this command, whose waiters are served after it.
    pub ready_keys: Vec<(usize, Bytes)>,
    /// CLIENT PAUSE and FAILOVER's write pause, and the clients they hold.
    pub pauses: crate::pause::Pauses,
    /// WATCHes made while their key was already logically expired (client, db, key), as
    /// Redis's `watchedKey.expired`: deleting such a key is no logical change.
    pub pubsub: PubSub,
    pub monitors: BTreeSet<ClientId>,
    pub stats: Stats,
    pub slowlog: SlowLog,
    pub rng: Rng,
    pub run_id: String,
    pub repl: crate::replication::state::Repl,
    /// The database where random eviction looks next.
    pub evict_next_db: usize,
    /// Persistence: the RDB side, the AOF, the last save (`persist::state`).
    pub persistence: crate::persist::state::Persistence,
    /// Background work asked for under the lock (a save, a rewrite, a full sync), which
    /// the runtime starts when the lock is released.
    pub effects: crate::effects::Outbox,
    /// A fatal error (a corrupt RDB at start-up): the process must exit with an error.
    pub fatal: Option<String>,
    /// Changes since the last save (Redis's `server.dirty`).
    pub dirty: u64,
    pub propagator: Propagator,
    pub shutdown: Option<ShutdownRequest>,
    /// Addresses the listeners are bound to.
    pub bound: Vec<std::net::SocketAddr>,
    pub started: Instant,
    pub executable: PathBuf,
    pub active_expire_enabled: bool,
    /// What DEBUG subcommands set for tests (packed threshold, reply buffer knobs...).
    pub debug: crate::command::debug::knobs::Knobs,
    /// How many hz ticks the cron has run.
    pub cronloops: u64,
    /// Network counters, updated by connection tasks without the lock.
    pub net: Arc<NetCounters>,
    /// `used_memory` once the server was ready (INFO `used_memory_startup`).
    pub stats_startup_memory: usize,
    /// When the POST / Host: warning was last logged (at most once a minute).
    pub security_warned_ms: i64,
    /// When a replica last logged applying its master's writes with the AOF failing.
    pub disk_error_logged_ms: i64,
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
            config,
            clock,
            now_ms,
            dbs,
            clients: BTreeMap::new(),
            next_client_id: 1,
            blocking: BTreeMap::new(),
            ready_keys: Vec::new(),
            pauses: Default::default(),
            pubsub: PubSub::default(),
            monitors: BTreeSet::new(),
            stats: Stats::default(),
            slowlog: SlowLog::default(),
            rng,
            run_id,
            repl: crate::replication::state::Repl::new(replid),
            evict_next_db: 0,
            call: Default::default(),
            persistence: crate::persist::state::Persistence {
                aof: None,
                rdb: Default::default(),
                lastsave_s: now_ms / 1000,
            },
            effects: Default::default(),
            fatal: None,
            dirty: 0,
            propagator: Propagator::default(),
            shutdown: None,
            bound: Vec::new(),
            started: clock.now(),
            executable: std::env::current_exe().unwrap_or_default(),
            active_expire_enabled: true,
            debug: Default::default(),
            cronloops: 0,
            net: Arc::new(NetCounters::default()),
            stats_startup_memory: 0,
            security_warned_ms: i64::MIN / 2,
            disk_error_logged_ms: i64::MIN / 2,
        }
    }

    /// Refresh the cached time (once per command).
    pub fn update_time(&mut self) {
        self.now_ms = self.clock.unix_ms() as i64;
    }

    pub fn lru_clock(&self) -> u32 {
        lru_clock(self.now_ms as u64)
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
        if !self.dbs[db].is_expired(key, self.now_ms) {
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
        if self.dbs[db].remove(key).is_none() {
            return;
        }
        self.stats.expired_keys += 1;
        let k = Bytes::copy_from_slice(key);
        // Inside a command this joins its execution unit (Redis 7.0 replicates
        // `MULTI / DEL k / <command> / EXEC`); from the active expiry cycle it goes alone.
        let del = deletion(self.cfg.lazyfree_lazy_expire);
        self.propagator.feed(db, &[del, k.clone()]);
        self.notify(notify::EXPIRED, "expired", &k, db);
        self.call.pushes_early = self.call.pushes.len();
        self.signal_modified(db, &k);
    }

    /// Lookup for reading: lazy expiry, hit/miss statistics, LRU update.
    pub fn lookup_read(&mut self, db: usize, key: &[u8]) -> Option<&Entry> {
        let expired = self.expire_if_needed(db, key);
        let found = if expired {
            None
        } else {
            self.dbs[db].get(key).map(|e| e.lru)
        };
        let Some(old) = found else {
            self.stats.keyspace_misses += 1;
            if self.cfg.notify_keyspace_events & notify::KEY_MISS != 0 {
                let k = Bytes::copy_from_slice(key);
                self.notify(notify::KEY_MISS, "keymiss", &k, db);
            }
            return None;
        };
        let lru = crate::evict::touch(self, old);
        self.stats.keyspace_hits += 1;
        let e = self.dbs[db].get_mut_metadata(key)?;
        e.lru = lru;
        Some(&*e)
    }

    /// Lookup for writing: lazy expiry and LRU update, no statistics.
    pub fn lookup_write(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        let old = self.dbs[db].get(key)?.lru;
        let lru = crate::evict::touch(self, old);
        let e = self.dbs[db].get_mut(key)?;
        e.lru = lru;
        Some(e)
    }

    /// Whether a key exists (after lazy expiry), without touching LRU or statistics.
    pub fn exists(&mut self, db: usize, key: &[u8]) -> bool {
        !self.expire_if_needed(db, key) && self.dbs[db].contains(key)
    }

    /// Store a value (Redis's `setKey`): overwrite (keeping the TTL only if `keep_ttl`) or add;
    /// a new key fires the `new` keyspace event. Returns true if the key was new. WATCH
    /// invalidation, the command's own event and `dirty` are the caller's (`Ctx::changed`).
    pub fn set_key(&mut self, db: usize, key: &[u8], val: Value, keep_ttl: bool) -> bool {
        let lru = crate::evict::initial(self);
        let type_name = val.type_name();
        let inserted = self.dbs[db].set(key, val, lru, keep_ttl);
        self.signal_ready(db, key, type_name);
        if inserted && self.cfg.notify_keyspace_events & notify::NEW != 0 {
            self.notify(notify::NEW, "new", key, db);
        }
        inserted
    }

    /// Delete a key (DEL semantics: signals and notifications are the caller's).
    pub fn delete(&mut self, db: usize, key: &[u8]) -> bool {
        let expired = self.expire_if_needed(db, key);
        self.dbs[db].remove(key).is_some() && !expired
    }

    /// A key changed: invalidate WATCHes on it (Redis's `signalModifiedKey`).
    /// Called after the change: a watched key that was already expired when watched and is
    /// now gone was only deleted, which changes nothing logically (Redis 7.0's
    /// `touchWatchedKey`).
    pub fn signal_modified(&mut self, db: usize, key: &[u8]) {
        let exists = self.dbs[db].contains(key);
        let Some(watchers) = self.dbs[db].watched.get_mut(key) else {
            return;
        };
        let mut dirty = Vec::new();
        for w in watchers.iter_mut() {
            if w.expired && !exists {
                // An already expired key was deleted: logically nothing changed.
                w.expired = false;
                continue;
            }
            dirty.push(w.client);
        }
        for id in dirty {
            self.mark_dirty_cas(id);
        }
    }

    /// Invalidate the watched keys of `db` that exist in it (or in `also_in`, the database
    /// that replaces it): FLUSHDB, FLUSHALL and SWAPDB, as Redis's `touchAllWatchedKeysInDb`,
    /// called before the change. Keys that were expired when watched and stay expired or
    /// disappear are no logical change.
    pub fn touch_all_watched(&mut self, db: usize, also_in: Option<usize>) {
        let keys: Vec<Bytes> = self.dbs[db].watched.keys().cloned().collect();
        let now = self.now_ms;
        for k in keys {
            let exists_here = self.dbs[db].contains(&k);
            let in_other = also_in.filter(|&o| self.dbs[o].contains(&k));
            if !exists_here && in_other.is_none() {
                continue;
            }
            let expired_in_other = in_other.is_some_and(|o| self.dbs[o].is_expired(&k, now));
            let mut dirty = Vec::new();
            if let Some(watchers) = self.dbs[db].watched.get_mut(&k) {
                for w in watchers.iter_mut() {
                    if w.expired {
                        if in_other.is_none() {
                            w.expired = false;
                            continue;
                        }
                        if expired_in_other {
                            continue;
                        }
                    } else if !exists_here && expired_in_other {
                        w.expired = true;
                        continue;
                    }
                    dirty.push(w.client);
                }
            }
            for id in dirty {
                self.mark_dirty_cas(id);
            }
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

    /// Make a client's next EXEC fail because a key it watches changed. The executing client
    /// is not in the registry: its flag is applied when its command returns.
    pub fn mark_dirty_cas(&mut self, id: ClientId) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.flags |= cflags::DIRTY_CAS;
        } else if self.call.running.map(|(e, _)| e) == Some(id) {
            self.call.dirty_cas = true;
        }
    }

    /// Write a push (pub/sub message, MONITOR line) to a client, in its protocol.
    pub fn deliver(&mut self, id: ClientId, write: &dyn Fn(&mut ReplyBuf)) {
        if let Some((exec_id, proto)) = self.call.running {
            if exec_id == id {
                let mut rb = ReplyBuf {
                    buf: std::mem::take(&mut self.call.pushes),
                    proto,
                };
                write(&mut rb);
                self.call.pushes = rb.buf;
                return;
            }
        }
        let now = self.clock.now();
        let limits = self.cfg.obuf_limits;
        if let Some(c) = self.clients.get_mut(&id) {
            // A client being closed gets nothing more (Redis's `prepareClientToWrite`).
            if c.has(cflags::CLOSE_ASAP) {
                return;
            }
            let before = c.out.len();
            write(&mut c.out);
            c.out_peak = c.out_peak.max(c.out.len());
            c.rb.note(c.out.len());
            if c.out.len() != before {
                c.notify.notify_one();
            }
            let used = c.out.len();
            check_output_limits(c, used, &limits, now);
        }
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
        self.clients.len() + usize::from(self.call.running.is_some())
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

/// Close a client whose pending output (`used` bytes) passed its class's hard limit, or its
/// soft limit for longer than the configured seconds (Redis's
/// `checkClientOutputBufferLimits`).
pub fn check_output_limits(
    c: &mut Client,
    used: usize,
    limits: &[crate::config::BufferLimit; 3],
    now: Instant,
) {
    let lim = match c.class() {
        ClientClass::Normal => limits[0],
        ClientClass::Replica => limits[1],
        ClientClass::Pubsub => limits[2],
    };
    let used = used as u64;
    let over = if lim.hard > 0 && used >= lim.hard {
        true
    } else if lim.soft > 0 && used >= lim.soft {
        // The first time the soft limit is seen reached only starts its clock.
        match c.soft_limit_since {
            None => {
                c.soft_limit_since = Some(now);
                false
            }
            Some(since) => now.saturating_duration_since(since).as_secs() >= lim.soft_seconds,
        }
    } else {
        c.soft_limit_since = None;
        false
    };
    if over && !c.has(cflags::CLOSE_ASAP) {
        tracing::warn!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.info_line(now)
        );
        c.close_asap("output buffer limits");
    }
}
