//! The keyspace part of the server: the databases and what hangs on their keys, as Redis
//! keeps it in each `redisDb` (watched keys live in [`Db::watched`], clients blocked on keys
//! and the keys that became ready for them here), plus the expiry and eviction cursors.
//!
//! It owns no client and no channel: what a change means for others (a WATCH made dirty, a
//! keyspace event, a DEL to propagate) it returns, and the hub (`crate::server`) passes on
//! to the part that owns it.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::client::ClientId;
use crate::db::Db;

/// The clients blocked on one key, in the order they blocked.
pub type Queue = VecDeque<ClientId>;

pub struct Keyspace {
    pub dbs: Vec<Db>,
    /// Clients blocked on keys, per (db, key), in the order they blocked.
    pub blocking: BTreeMap<(usize, Bytes), Queue>,
    /// Keys that got data this command, whose waiters are served after it.
    pub ready_keys: Vec<(usize, Bytes)>,
    /// The keys blocked XREADGROUP clients wait on, with how many: when one stops being a
    /// stream (deleted, overwritten, flushed) they are woken with `-UNBLOCKED`.
    pub group_waits: BTreeMap<(usize, Bytes), usize>,
    /// The database where random eviction looks next.
    pub evict_next_db: usize,
    /// The active expiry cycle runs (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire_enabled: bool,
}

impl Keyspace {
    pub fn new(dbs: Vec<Db>) -> Self {
        Keyspace {
            dbs,
            blocking: BTreeMap::new(),
            ready_keys: Vec::new(),
            group_waits: BTreeMap::new(),
            evict_next_db: 0,
            active_expire_enabled: true,
        }
    }

    /// The clients whose WATCH of `key` a change makes dirty (Redis's `touchWatchedKey`).
    /// Called after the change: a watched key that was already expired when watched and is
    /// now gone was only deleted, which changes nothing logically.
    pub fn modified(&mut self, db: usize, key: &[u8]) -> Vec<ClientId> {
        let exists = self.dbs[db].contains(key);
        let Some(watchers) = self.dbs[db].watched.get_mut(key) else {
            return Vec::new();
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
        dirty
    }

    /// The clients whose WATCHes of keys of `db` that exist in it (or in `also_in`, the
    /// database that replaces it) become dirty: FLUSHDB, FLUSHALL and SWAPDB, as Redis's
    /// `touchAllWatchedKeysInDb`, called before the change. Keys that were expired when
    /// watched and stay expired or disappear are no logical change.
    pub fn all_modified(
        &mut self,
        db: usize,
        also_in: Option<usize>,
        now_ms: i64,
    ) -> Vec<ClientId> {
        let keys: Vec<Bytes> = self.dbs[db].watched.keys().cloned().collect();
        let mut dirty = Vec::new();
        for k in keys {
            let exists_here = self.dbs[db].contains(&k);
            let in_other = also_in.filter(|&o| self.dbs[o].contains(&k));
            if !exists_here && in_other.is_none() {
                continue;
            }
            let expired_in_other = in_other.is_some_and(|o| self.dbs[o].is_expired(&k, now_ms));
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
        }
        dirty
    }

    /// A key was created or replaced with a value of type `type_name`: if clients wait for
    /// it, serve them after the current command (Redis's `signalKeyAsReady`).
    pub fn signal_ready(&mut self, db: usize, key: &[u8], type_name: &'static str) {
        if self.blocking.is_empty() || !matches!(type_name, "list" | "zset" | "stream") {
            return;
        }
        let k = (db, Bytes::copy_from_slice(key));
        if self.blocking.contains_key(&k) && !self.ready_keys.contains(&k) {
            self.ready_keys.push(k);
        }
    }

    /// The keys blocked XREADGROUP clients wait on that are no longer streams are ready (Redis
    /// signals a stream key as ready when it is deleted or overwritten, and when a flush or
    /// SWAPDB takes it away: `scanDatabaseForDeletedStreams`).
    pub fn signal_gone_streams(&mut self) {
        let gone: Vec<(usize, Bytes)> = self
            .group_waits
            .keys()
            .filter(|(db, k)| {
                self.dbs[*db]
                    .get(k)
                    .is_none_or(|e| e.val.type_name() != "stream")
            })
            .cloned()
            .collect();
        for k in gone {
            if !self.ready_keys.contains(&k) {
                self.ready_keys.push(k);
            }
        }
    }

    /// Every waited-for key of `db` that exists now is ready (SWAPDB, as Redis's
    /// `scanDatabaseForReadyKeys`).
    pub fn signal_ready_db(&mut self, db: usize) {
        let keys: Vec<Bytes> = self
            .blocking
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect();
        for k in keys {
            if let Some(t) = self.dbs[db].get(&k).map(|e| e.val.type_name()) {
                self.signal_ready(db, &k, t);
            }
        }
    }
}
