//! maxmemory: eviction by the configured policy (`policy`), with the access tracking it
//! reads (`access`: LRU clock or LFU counter in each entry's `lru` field, as Redis's
//! `robj.lru`), sampling keys as Redis's
//! `evict.c` does (a pool of the best candidates from `maxmemory-samples` keys per db).

use bytes::Bytes;
use rand::RngExt;
use tokio::time::Instant;

use crate::db::{idle_seconds, Entry, LRU_CLOCK_MAX};
use crate::notify;
use crate::server::Server;

pub mod access;
pub mod policy;
pub use access::lfu_counter;
pub use policy::Policy;

/// The `lru` field of a new entry (`access::initial` with the server's settings).
pub fn initial(srv: &Server) -> u32 {
    access::initial(srv.cfg.maxmemory_policy, srv.now_ms)
}

/// The `lru` field of a key loaded from an RDB (`access::loaded`).
pub fn loaded(srv: &Server, idle_s: Option<u64>, freq: Option<u8>) -> u32 {
    access::loaded(srv.cfg.maxmemory_policy, srv.now_ms, idle_s, freq)
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
    // The latency monitor's "eviction-cycle" (the whole call) and "eviction-del" (each
    // deletion), as Redis's `performEvictions`.
    let started = srv.latency_monitoring().then(Instant::now);
    let done = evict_keys(srv, policy, started.is_some());
    if let Some(s) = started {
        srv.latency_sample("eviction-cycle", s.elapsed().as_millis() as u64);
    }
    done
}

fn evict_keys(srv: &mut Server, policy: Policy, measure: bool) -> bool {
    // Bounded work per call, as Redis's eviction tenacity.
    for evicted in 0..10_000 {
        if !over_limit(srv) {
            return true;
        }
        let Some((db, key)) = pick(srv, policy) else {
            return evicted > 0;
        };
        let del_started = measure.then(Instant::now);
        srv.keyspace.dbs[db].remove(&key);
        if let Some(s) = del_started {
            srv.latency_sample("eviction-del", s.elapsed().as_millis() as u64);
        }
        srv.stats.evicted_keys += 1;
        // On its own, before the command that needed the room (never in its MULTI).
        let del = crate::server::deletion(srv.cfg.lazyfree_lazy_eviction);
        srv.propagator.feed_now(db, &[del, key.clone()]);
        srv.data().notify(notify::EVICTED, "evicted", &key, db);
        srv.data().signal_modified_by(db, &key, None);
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
    use super::access::lfu_minutes;
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
