//! Access tracking: the LRU clock or the LFU counter each entry keeps in its `lru` field, as
//! Redis's `robj.lru` (`updateLFU`, `LFULogIncr`, `LFUDecrAndReturn`, `objectSetLRUOrLFU`),
//! as pure functions of the policy, the time and a random draw.

use rand::RngExt;

use super::policy::Policy;
use crate::db::{lru_clock, LRU_CLOCK_MAX};

/// Redis's `LFU_INIT_VAL`: the counter of a new key.
const LFU_INIT_VAL: u8 = 5;

/// The settings an access is recorded with.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    pub policy: Policy,
    /// `lfu-decay-time`, minutes.
    pub decay_time: i64,
    /// `lfu-log-factor`.
    pub log_factor: i64,
}

/// Minutes, modulo 2^16 (Redis's `LFUGetTimeInMinutes`).
pub(crate) fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) as u32) & 0xffff
}

/// The `lru` field of a new entry: the LRU clock, or LFU time and initial counter.
pub fn initial(policy: Policy, now_ms: i64) -> u32 {
    if policy.is_lfu() {
        (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL as u32
    } else {
        lru_clock(now_ms as u64)
    }
}

/// The `lru` field of a key loaded from an RDB, with the idle time or LFU counter the file
/// saved for it, if any (Redis's `objectSetLRUOrLFU`); else that of a new entry.
pub fn loaded(policy: Policy, now_ms: i64, idle_s: Option<u64>, freq: Option<u8>) -> u32 {
    match (policy.is_lfu(), idle_s, freq) {
        (true, _, Some(f)) => (lfu_minutes(now_ms) << 8) | f as u32,
        (false, Some(idle), _) => {
            let clock = lru_clock(now_ms as u64) as u64;
            let idle = idle.min(LRU_CLOCK_MAX as u64);
            // Wrap around the 24-bit clock as `idle_seconds` unwraps it.
            (if idle <= clock {
                clock - idle
            } else {
                LRU_CLOCK_MAX as u64 - (idle - clock)
            }) as u32
        }
        _ => initial(policy, now_ms),
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
pub fn touch<R: rand::Rng + ?Sized>(t: Tuning, now_ms: i64, rng: &mut R, lru_field: u32) -> u32 {
    if !t.policy.is_lfu() {
        return lru_clock(now_ms as u64);
    }
    let mut counter = lfu_counter(lru_field, now_ms, t.decay_time);
    // LFULogIncr: the higher the counter, the less likely an access raises it.
    if counter < 255 {
        let r: f64 = rng.random();
        let base = (counter as f64 - LFU_INIT_VAL as f64).max(0.0);
        let p = 1.0 / (base * t.log_factor as f64 + 1.0);
        if r < p {
            counter += 1;
        }
    }
    (lfu_minutes(now_ms) << 8) | counter as u32
}
