//! The keyspace service: what a data command does to keys, over the parts that a change of
//! a key reaches (Redis's `db.c` and `notify.c`): lookups with lazy expiry and access
//! tracking, storing and deleting, and what follows a change (WATCHes made dirty, clients
//! blocked on the key made ready, keyspace events published, an expired key's DEL fed to
//! the replication stream, the hit/miss and expiry counters).
//!
//! [`Data`] borrows exactly those parts from the hub (`Server::data`); it cannot reach the
//! replication roles, persistence, the process or the configuration store. The data command
//! families (`tools/data-commands.txt`) reach the server only through it, the keyspace part,
//! and a few read-only settings (checked by `tools/layers.py --data`).

use bytes::Bytes;
use picket_common::clock::Clock;
use picket_common::ids::Rng;
use picket_common::resp::ReplyBuf;
use rand::RngExt;

use crate::client::ClientId;
use crate::clients::Clients;
use crate::config::Settings;
use crate::db::{Entry, Value};
use crate::evict::access;
use crate::keyspace::Keyspace;
use crate::notify;
use crate::pause::Pauses;
use crate::propagate::Propagator;
use crate::pubsub::PubSub;
use crate::replication::state::Repl;
use crate::stats::Stats;

/// The parts a change of a key reaches, borrowed from the hub for one operation or command.
pub struct Data<'a> {
    pub keyspace: &'a mut Keyspace,
    /// WATCHes made dirty, pushes to subscribers (the running client's kept aside).
    pub clients: &'a mut Clients,
    pub pubsub: &'a PubSub,
    /// The replication stream (an expired key's DEL).
    pub stream: &'a mut Propagator,
    pub stats: &'a mut Stats,
    /// Changes since the last save (Redis's `server.dirty`).
    pub dirty: &'a mut u64,
    pub rng: &'a mut Rng,
    pub cfg: &'a Settings,
    pub clock: &'a Clock,
    /// The command's time (`Server::now_ms`).
    pub now_ms: i64,
    /// Read only: a replica does not expire keys itself.
    pub repl: &'a Repl,
    /// Read only: keys do not expire while writes are paused.
    pub pauses: &'a Pauses,
    /// The keyspace is being loaded (an AOF replayed): a key restored already expired stays
    /// for the DEL that follows it.
    pub loading: bool,
    /// Client-side caching: the clients a change of a key invalidates.
    pub tracking: &'a mut crate::tracking::Tracking,
}

impl<'a> Data<'a> {
    /// Record an access to an entry whose `lru` field is `old` (LRU clock or LFU counter).
    #[inline]
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

    /// If `key` has expired, delete it (propagating DEL and firing the `expired` event) and
    /// return true.
    ///
    /// A replica never deletes: its master sends the DEL. Its master's stream sees the key
    /// as it is; other clients see an expired key as missing (true).
    #[inline]
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
        self.stream.feed(db, &[del, k.clone()]);
        self.notify(notify::EXPIRED, "expired", &k, db);
        self.clients.pushes_early = self.clients.pushes.len();
        self.signal_modified_by(db, &k, None);
    }

    /// Lookup for reading: lazy expiry, hit/miss statistics, LRU update.
    ///
    /// It takes the service by value so that the entry outlives it (`srv.data().lookup_read`).
    #[inline]
    pub fn lookup_read(mut self, db: usize, key: &[u8]) -> Option<&'a Entry> {
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
        let keyspace: &'a mut Keyspace = self.keyspace;
        let e = keyspace.dbs[db].get_mut_metadata(key)?;
        e.lru = lru;
        Some(&*e)
    }

    /// Lookup for writing: lazy expiry and LRU update, no statistics.
    /// Taken by value as [`Data::lookup_read`].
    #[inline]
    pub fn lookup_write(mut self, db: usize, key: &[u8]) -> Option<&'a mut Entry> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        let old = self.keyspace.dbs[db].get(key)?.lru;
        let lru = self.touch_lru(old);
        let keyspace: &'a mut Keyspace = self.keyspace;
        let e = keyspace.dbs[db].get_mut(key)?;
        e.lru = lru;
        Some(e)
    }

    /// Whether a key exists (after lazy expiry), without touching LRU or statistics.
    #[inline]
    pub fn exists(&mut self, db: usize, key: &[u8]) -> bool {
        !self.expire_if_needed(db, key) && self.keyspace.dbs[db].contains(key)
    }

    /// Store a value (Redis's `setKey`): overwrite (keeping the TTL only if `keep_ttl`) or add;
    /// a new key fires the `new` keyspace event. Returns true if the key was new. WATCH
    /// invalidation, the command's own event and `dirty` are the caller's (`Ctx::changed`).
    #[inline]
    pub fn set_key(&mut self, db: usize, key: &[u8], val: Value, keep_ttl: bool) -> bool {
        let lru = access::initial(self.cfg.maxmemory_policy, self.now_ms);
        let type_name = val.type_name();
        let inserted = self.keyspace.dbs[db].set(key, val, lru, keep_ttl);
        self.keyspace.signal_ready(db, key, type_name);
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
        // The client that changed it: a script's own client while a script runs.
        let by = if self.tracking.script.is_some() {
            Some(crate::client::SCRIPT_CLIENT_ID)
        } else {
            self.clients.running_id()
        };
        self.signal_modified_by(db, key, by);
    }

    /// [`signal_modified`](Self::signal_modified) for a change made by client `by` (None:
    /// expiry, eviction), which BCAST's NOLOOP leaves out; the keys clients may cache are
    /// invalidated (Redis's `trackingInvalidateKey`).
    pub fn signal_modified_by(&mut self, db: usize, key: &[u8], by: Option<ClientId>) {
        for id in self.keyspace.modified(db, key) {
            self.mark_dirty_cas(id);
        }
        if self.tracking.active() {
            let mut sink = crate::tracking::Sink {
                clients: self.clients,
                limits: &self.cfg.obuf_limits,
                now: self.clock.now(),
            };
            self.tracking.invalidate_key(key, by, true, &mut sink);
        }
    }

    /// One or every database was emptied (FLUSHDB, FLUSHALL, a reload): every client that
    /// tracks keys is told all its keys are invalid (Redis's `signalFlushedDb`, after the
    /// WATCHes it touches, `touch_all_watched`).
    pub fn signal_flushed(&mut self) {
        let mut sink = crate::tracking::Sink {
            clients: self.clients,
            limits: &self.cfg.obuf_limits,
            now: self.clock.now(),
        };
        self.tracking.invalidate_all(&mut sink);
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

    /// SPUBLISH: deliver to the shard channel's subscribers; returns receivers.
    pub fn spublish(&mut self, channel: &[u8], msg: &[u8]) -> usize {
        let subs = self
            .pubsub
            .shard_channels
            .get(channel)
            .cloned()
            .unwrap_or_default();
        for &id in &subs {
            self.deliver(id, &|o: &mut ReplyBuf| {
                o.push(3);
                o.bulk(b"smessage");
                o.bulk(channel);
                o.bulk(msg);
            });
        }
        subs.len()
    }
}

/// The command an expired or evicted key propagates as: UNLINK when the matching
/// `lazyfree-lazy-*` setting is on, else DEL (Redis's `propagateDeletion`).
pub fn deletion(lazy: bool) -> Bytes {
    Bytes::from_static(if lazy { b"UNLINK" } else { b"DEL" })
}
