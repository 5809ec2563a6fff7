//! One logical database: the keyspace, the expiry table and the keys clients WATCH.
//!
//! Like Redis, expiry times live in a second dict so that active expiry scans only volatile
//! keys. The dicts hash with a seed from the server's RNG, so iteration, SCAN and sampling
//! orders are deterministic for a seed (and unpredictable from outside in production).

pub mod dict;
pub mod hash;
pub mod hll;
pub mod intset;
pub mod list;
pub mod packed;
pub mod set;
pub mod smallbytes;
pub mod stream;
pub mod value;
pub mod zset;

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;

pub use dict::Dict;
pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use smallbytes::SmallBytes;
pub use stream::Stream;
pub use value::Value;
pub use zset::ZSet;

/// A client's id (`CLIENT ID`), as the keyspace records who WATCHes a key; the client
/// records themselves live above the keyspace (`crate::client`).
pub type ClientId = u64;

/// A keyspace entry: the value and its access metadata (LRU clock in seconds, 24 bits, as
/// Redis's `robj.lru`).
#[derive(Debug, Clone)]
pub struct Entry {
    pub val: Value,
    pub lru: u32,
}

impl Entry {
    pub fn new(val: Value, lru: u32) -> Self {
        Entry { val, lru }
    }
}

/// Redis's LRU clock: seconds, modulo 2^24.
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

pub fn lru_clock(unix_ms: u64) -> u32 {
    ((unix_ms / 1000) as u32) & LRU_CLOCK_MAX
}

/// Seconds since `lru` as OBJECT IDLETIME computes it (Redis's `estimateObjectIdleTime`,
/// wrapping the 24-bit clock).
pub fn idle_seconds(lru: u32, now_clock: u32) -> u64 {
    if now_clock >= lru {
        (now_clock - lru) as u64
    } else {
        now_clock as u64 + (LRU_CLOCK_MAX as u64 - lru as u64)
    }
}

/// A database's part of a point-in-time snapshot (BGSAVE, replication's full sync).
///
/// Instead of copying the keyspace (or forking, as Redis does, which the simulation cannot),
/// the snapshot walks the frozen buckets of the key dict in order, a bounded chunk at a time.
/// A key about to change in a bucket the walk has not reached yet is first copied as it was
/// (its pre-image, with its TTL), or recorded as absent if it did not exist; the walk then
/// skips it. So the snapshot is exactly the data at its start, and no command waits for more
/// than one chunk.
#[derive(Debug)]
pub struct DbSnapshot {
    /// The database index this data had when the snapshot started (SWAPDB moves data).
    pub db: usize,
    /// Buckets below this one have been written.
    pub cursor: usize,
    /// Keys whose state at the snapshot is settled: captured in `preimages`, or absent then.
    handled: HashSet<SmallBytes, foldhash::fast::FixedState>,
    /// Keys changed before the walk reached them, as they were: (key, value, expiry).
    pub preimages: Vec<(SmallBytes, Value, Option<i64>)>,
    /// FLUSHDB/FLUSHALL took the data away: the snapshot walks the dicts it was handed.
    pub detached: Option<(Dict<SmallBytes, Entry>, Dict<SmallBytes, i64>)>,
    pub keys_at_start: usize,
    pub expires_at_start: usize,
}

impl Db {
    /// Start this database's part of a snapshot.
    pub fn start_snapshot(&mut self) {
        self.keys.freeze();
        self.expires.freeze();
        self.snap = Some(Box::new(DbSnapshot {
            db: self.id,
            cursor: 0,
            handled: HashSet::with_hasher(foldhash::fast::FixedState::with_seed(0)),
            preimages: Vec::new(),
            detached: None,
            keys_at_start: self.keys.len(),
            expires_at_start: self.expires.len(),
        }));
    }

    /// End it (done or abandoned).
    pub fn end_snapshot(&mut self) {
        self.snap = None;
        self.keys.unfreeze();
        self.expires.unfreeze();
    }

    /// A key is about to change: if a snapshot has not written it yet, keep what it was.
    fn before_change(&mut self, key: &[u8]) {
        let Some(snap) = self.snap.as_mut() else {
            return;
        };
        if snap.detached.is_some() || self.keys.bucket_of(key) < snap.cursor {
            return;
        }
        if snap.handled.contains(key) {
            return;
        }
        snap.handled.insert(SmallBytes::from(key));
        if let Some(e) = self.keys.get(key) {
            let expire = self.expires.get(key).copied();
            snap.preimages
                .push((SmallBytes::from(key), e.val.clone(), expire));
        }
    }

    /// Write up to about `budget` keys of the snapshot through `f` (key, value, expiry),
    /// which returns true when the step has produced enough (the walk then stops after the
    /// current bucket): pre-images first, then the next buckets of the walk. Returns true
    /// when this database is complete.
    pub fn snapshot_step(
        &mut self,
        budget: usize,
        mut f: impl FnMut(&[u8], &Value, Option<i64>) -> bool,
    ) -> bool {
        let Some(snap) = self.snap.as_mut() else {
            return true;
        };
        let mut done = 0;
        let mut full = false;
        for (k, v, exp) in snap.preimages.drain(..) {
            full |= f(&k, &v, exp);
            done += 1;
        }
        let (keys, expires) = match &snap.detached {
            Some((k, e)) => (k, e),
            None => (&self.keys, &self.expires),
        };
        let total = keys.buckets();
        while snap.cursor < total && done < budget && !full {
            keys.for_each_in_bucket(snap.cursor, |k, e| {
                if snap.handled.contains(k.as_bytes()) {
                    return;
                }
                let exp = if expires.is_empty() {
                    None
                } else {
                    expires.get(k).copied()
                };
                full |= f(k, &e.val, exp);
                done += 1;
            });
            snap.cursor += 1;
        }
        snap.cursor >= total && snap.preimages.is_empty()
    }
}

/// A client watching a key (Redis's `watchedKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watcher {
    pub client: ClientId,
    /// The key had already expired when it was watched: its deletion is no logical change,
    /// and it does not fail EXEC by expiring (Redis 7.0's `wk->expired`).
    pub expired: bool,
}

pub struct Db {
    pub id: usize,
    pub keys: Dict<SmallBytes, Entry>,
    /// Absolute unix time in ms at which a key expires.
    pub expires: Dict<SmallBytes, i64>,
    /// Keys watched by clients (WATCH), with the watchers in WATCH order.
    pub watched: BTreeMap<Bytes, Vec<Watcher>>,
    /// A snapshot being written (BGSAVE, full sync), if any.
    pub snap: Option<Box<DbSnapshot>>,
    /// Where active expiry resumes its scan of `expires`.
    pub expires_cursor: u64,
    /// Running average TTL of sampled volatile keys (INFO keyspace `avg_ttl`).
    pub avg_ttl: i64,
}

impl Db {
    pub fn new(id: usize, seed: u64) -> Self {
        Db {
            id,
            keys: Dict::with_seed(seed),
            expires: Dict::with_seed(seed ^ 0x9e37_79b9_7f4a_7c15),
            watched: BTreeMap::new(),
            expires_cursor: 0,
            avg_ttl: 0,
            snap: None,
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The entry without any expiry check.
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.get(key)
    }

    /// The entry, to change its value: a snapshot in progress first keeps what it was.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.before_change(key);
        self.keys.get_mut(key)
    }

    /// The entry, to update its access metadata only (LRU/LFU), which snapshots ignore.
    pub fn get_mut_metadata(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.keys.get_mut(key)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.keys.contains_key(key)
    }

    /// The key's expiry time (unix ms), if it has one.
    pub fn expire_at(&self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Whether the key has an expiry time that has passed (Redis's `keyIsExpired`: a key
    /// whose time is exactly now is still alive).
    pub fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        matches!(self.expire_at(key), Some(when) if now_ms > when)
    }

    /// Store a value: overwrite in place when the key exists (keeping its TTL only if
    /// `keep_ttl`), else add it. Returns true if the key was new.
    pub fn set(&mut self, key: &[u8], val: Value, lru: u32, keep_ttl: bool) -> bool {
        self.before_change(key);
        let (e, inserted) = self.keys.get_or_insert_with(
            key,
            || SmallBytes::from(key),
            || Entry::new(Value::Int(0), lru),
        );
        e.val = val;
        e.lru = lru;
        if !inserted && !keep_ttl {
            self.expires.remove(key);
        }
        inserted
    }

    /// Remove a key and its TTL.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.before_change(key);
        let (_, e) = self.keys.remove(key)?;
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(e)
    }

    /// Set the expiry time of an existing key.
    pub fn set_expire(&mut self, key: &[u8], when_ms: i64) {
        debug_assert!(self.keys.contains_key(key));
        self.before_change(key);
        if let Some(t) = self.expires.get_mut(key) {
            *t = when_ms;
        } else {
            self.expires.insert(SmallBytes::from(key), when_ms);
        }
    }

    /// Remove the TTL of a key; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.before_change(key);
        self.expires.remove(key).is_some()
    }

    /// Exchange the data of two databases (SWAPDB, as Redis's `dbSwapDatabases`): keys, expiry
    /// table, average TTL and active-expiry cursor. The ids and the watched keys stay, so
    /// clients remain in the database they selected.
    pub fn swap_data(&mut self, other: &mut Db) {
        std::mem::swap(&mut self.keys, &mut other.keys);
        std::mem::swap(&mut self.expires, &mut other.expires);
        std::mem::swap(&mut self.avg_ttl, &mut other.avg_ttl);
        std::mem::swap(&mut self.expires_cursor, &mut other.expires_cursor);
        // A snapshot in progress follows its data.
        std::mem::swap(&mut self.snap, &mut other.snap);
    }

    /// Drop every key; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.keys.len();
        if let Some(snap) = self.snap.as_mut().filter(|s| s.detached.is_none()) {
            // A snapshot in progress keeps the data as it was, in O(1).
            let seed = self.keys.seed();
            let keys = std::mem::replace(&mut self.keys, Dict::with_seed(seed));
            let expires = std::mem::replace(
                &mut self.expires,
                Dict::with_seed(seed ^ 0x9e37_79b9_7f4a_7c15),
            );
            snap.detached = Some((keys, expires));
        }
        self.keys.clear();
        self.expires.clear();
        self.avg_ttl = 0;
        self.expires_cursor = 0;
        n
    }

    /// Periodic housekeeping of the hash tables: shrink sparse tables, and move a bounded amount
    /// of incremental rehashing forward.
    pub fn cron_tables(&mut self) {
        self.keys.shrink_if_needed();
        self.expires.shrink_if_needed();
        self.keys.rehash_for_budget(100);
        self.expires.rehash_for_budget(100);
    }
}
