//! maxmemory: access tracking (LRU clock or LFU counter in each entry's `lru` field, as
//! Redis's `robj.lru`) and eviction by the configured policy, sampling keys as Redis's
//! `evict.c` does (a pool of the best candidates from `maxmemory-samples` keys per db).

use bytes::Bytes;
use rand::RngExt;

use crate::db::{idle_seconds, Entry, LRU_CLOCK_MAX};
use crate::notify;
use crate::server::Server;

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    VolatileLru,
    AllKeysLfu,
    VolatileLfu,
    AllKeysRandom,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub const NAMES: &'static [&'static str] = &[
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "noeviction",
    ];

    pub fn parse(s: &str) -> Policy {
        match s {
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            _ => Policy::NoEviction,
        }
    }

    /// The directive's value naming this policy (INFO `maxmemory_policy`).
    pub fn name(self) -> &'static str {
        match self {
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::NoEviction => "noeviction",
        }
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// Redis's `LFU_INIT_VAL`: the counter of a new key.
const LFU_INIT_VAL: u8 = 5;

/// Minutes, modulo 2^16 (Redis's `LFUGetTimeInMinutes`).
fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) as u32) & 0xffff
}

/// The `lru` field of a new entry: the LRU clock, or LFU time and initial counter.
pub fn initial(srv: &Server) -> u32 {
    if srv.cfg.maxmemory_policy.is_lfu() {
        (lfu_minutes(srv.now_ms) << 8) | LFU_INIT_VAL as u32
    } else {
        srv.lru_clock()
    }
}

/// The `lru` field of a key loaded from an RDB, with the idle time or LFU counter the file
/// saved for it, if any (Redis's `objectSetLRUOrLFU`); else that of a new entry.
pub fn loaded(srv: &Server, idle_s: Option<u64>, freq: Option<u8>) -> u32 {
    let lfu = srv.cfg.maxmemory_policy.is_lfu();
    match (lfu, idle_s, freq) {
        (true, _, Some(f)) => (lfu_minutes(srv.now_ms) << 8) | f as u32,
        (false, Some(idle), _) => {
            let clock = srv.lru_clock() as u64;
            let idle = idle.min(LRU_CLOCK_MAX as u64);
            // Wrap around the 24-bit clock as `idle_seconds` unwraps it.
            (if idle <= clock {
                clock - idle
            } else {
                LRU_CLOCK_MAX as u64 - (idle - clock)
            }) as u32
        }
        _ => initial(srv),
    }
}

/// The LFU counter after decay (Redis's `LFUDecrAndReturn`).
pub fn lfu_counter(lru: u32, now_ms: i64, decay_time: i64) -> u8 {
    let ldt = lru >> 8;
    let counter = (lru & 0xff) as u8;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = if decay_time > 0 {
        elapsed as i64 / decay_time
    } else {
        0
    };
    counter.saturating_sub(periods.min(255) as u8)
}

/// Record an access (Redis's `updateLFU` or the LRU clock).
pub fn touch(srv: &mut Server, lru_field: u32) -> u32 {
    if !srv.cfg.maxmemory_policy.is_lfu() {
        return srv.lru_clock();
    }
    let mut counter = lfu_counter(lru_field, srv.now_ms, srv.cfg.lfu_decay_time);
    // LFULogIncr: the higher the counter, the less likely an access raises it.
    if counter < 255 {
        let r: f64 = srv.rng.random();
        let base = (counter as f64 - LFU_INIT_VAL as f64).max(0.0);
        let p = 1.0 / (base * srv.cfg.lfu_log_factor as f64 + 1.0);
        if r < p {
            counter += 1;
        }
    }
    (lfu_minutes(srv.now_ms) << 8) | counter as u32
}

/// Whether memory is over `maxmemory`.
pub fn over_limit(srv: &Server) -> bool {
    srv.cfg.maxmemory > 0 && crate::alloc::allocated() as u64 > srv.cfg.maxmemory
}

/// Evict keys until memory is under `maxmemory`, a bounded amount per call (the cron goes
/// on, as Redis's eviction time proc). False only when nothing could be evicted (nothing
/// left under the policy, or `noeviction`): then commands that grow memory get OOM (Redis's
/// `performEvictions` returning EVICT_FAIL; EVICT_RUNNING lets them through).
pub fn perform_evictions(srv: &mut Server) -> bool {
    // A paused server keeps its dataset as it is (Redis 7.0).
    if !over_limit(srv) || srv.pauses.writes_paused(srv.now_ms) {
        return true;
    }
    let policy = srv.cfg.maxmemory_policy;
    if policy == Policy::NoEviction {
        return false;
    }
    // Bounded work per call, as Redis's eviction tenacity.
    for evicted in 0..10_000 {
        if !over_limit(srv) {
            return true;
        }
        let Some((db, key)) = pick(srv, policy) else {
            return evicted > 0;
        };
        srv.keyspace.dbs[db].remove(&key);
        srv.stats.evicted_keys += 1;
        // On its own, before the command that needed the room (never in its MULTI).
        let del = crate::server::deletion(srv.cfg.lazyfree_lazy_eviction);
        srv.propagator.feed_now(db, &[del, key.clone()]);
        srv.notify(notify::EVICTED, "evicted", &key, db);
        srv.signal_modified(db, &key);
    }
    true
}

/// Choose a victim: the best of `maxmemory-samples` sampled keys per database (random
/// policies pick any key of the next non-empty database).
fn pick(srv: &mut Server, policy: Policy) -> Option<(usize, Bytes)> {
    let samples = srv.cfg.maxmemory_samples.max(1);
    let now_ms = srv.now_ms;
    let clock = srv.lru_clock();
    let decay = srv.cfg.lfu_decay_time;
    let volatile = policy.volatile();
    let mut best: Option<(u64, usize, Bytes)> = None;
    let ndb = srv.keyspace.dbs.len();
    let start = srv.keyspace.evict_next_db % ndb.max(1);
    for i in 0..ndb {
        let dbi = (start + i) % ndb;
        let mut seed = srv.rng.random::<u64>();
        let mut rand = move || {
            // splitmix64 from one draw of the server's generator: deterministic.
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let db = &srv.keyspace.dbs[dbi];
        if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
            let found = if volatile {
                db.expires
                    .random_entry(&mut rand)
                    .map(|(k, _)| Bytes::copy_from_slice(k))
            } else {
                db.keys
                    .random_entry(&mut rand)
                    .map(|(k, _)| Bytes::copy_from_slice(k))
            };
            if let Some(k) = found {
                srv.keyspace.evict_next_db = dbi + 1;
                return Some((dbi, k));
            }
            continue;
        }
        // The sampling walk gives up on a sparse table and may return nothing: Redis then
        // samples again while the dict holds keys; one random entry does (it always finds one).
        let candidates: Vec<(Bytes, Option<&Entry>, Option<i64>)> = if volatile {
            let mut s = db.expires.sample(samples, &mut rand);
            if s.is_empty() {
                s.extend(db.expires.random_entry(&mut rand));
            }
            s.into_iter()
                .map(|(k, t)| (Bytes::copy_from_slice(k), db.keys.get(k), Some(*t)))
                .collect()
        } else {
            let mut s = db.keys.sample(samples, &mut rand);
            if s.is_empty() {
                s.extend(db.keys.random_entry(&mut rand));
            }
            s.into_iter()
                .map(|(k, e)| (Bytes::copy_from_slice(k), Some(e), None))
                .collect()
        };
        for (k, e, ttl) in candidates {
            // Higher score = better victim.
            let score = match policy {
                Policy::VolatileTtl => u64::MAX - ttl.unwrap_or(now_ms).max(0) as u64,
                Policy::AllKeysLfu | Policy::VolatileLfu => {
                    255 - e.map_or(0, |e| lfu_counter(e.lru, now_ms, decay)) as u64
                }
                _ => e.map_or(LRU_CLOCK_MAX as u64, |e| idle_seconds(e.lru, clock)),
            };
            if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                best = Some((score, dbi, k));
            }
        }
    }
    best.map(|(_, db, k)| (db, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_round_trip() {
        for &n in Policy::NAMES {
            assert_eq!(Policy::parse(n).name(), n);
        }
    }

    #[test]
    fn loaded_keys_keep_their_idle_time_or_counter() {
        let mut t = crate::testkit::TestServer::new(&[]);
        let clock = t.srv.lru_clock();
        assert_eq!(idle_seconds(loaded(&t.srv, Some(100), None), clock), 100);
        assert_eq!(loaded(&t.srv, None, Some(9)), clock);
        t.srv.cfg.maxmemory_policy = Policy::AllKeysLfu;
        let now = t.srv.now_ms;
        assert_eq!(lfu_counter(loaded(&t.srv, None, Some(9)), now, 1), 9);
        assert_eq!(lfu_counter(loaded(&t.srv, Some(100), None), now, 1), 5);
    }

    #[test]
    fn lfu_counter_decays_one_per_period() {
        let t0 = 10 * 60_000;
        let field = (lfu_minutes(t0) << 8) | 20;
        assert_eq!(lfu_counter(field, t0, 1), 20);
        assert_eq!(lfu_counter(field, t0 + 3 * 60_000, 1), 17);
        assert_eq!(lfu_counter(field, t0 + 3 * 60_000, 0), 20);
        assert_eq!(lfu_counter(field, t0 + 300 * 60_000, 1), 0);
    }
}
