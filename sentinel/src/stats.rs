//! The command server's counters for the `# Stats` section of INFO (Redis's `stat_*`):
//! connections, commands, bytes and reads/writes, error replies, and the instantaneous
//! rates Redis samples every 100 ms and averages over the last 16 samples
//! (`trackInstantaneousMetric`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How many samples an instantaneous metric averages (Redis's `STATS_METRIC_SAMPLES`).
const SAMPLES: usize = 16;
/// The sampling period, in ms (Redis samples in `serverCron` every 100 ms).
const PERIOD_MS: u64 = 100;

/// One counter's rate: the last value seen and the per-second rates of the last samples.
#[derive(Debug, Default, Clone)]
struct Metric {
    last: u64,
    rates: [f64; SAMPLES],
    idx: usize,
}

impl Metric {
    fn track(&mut self, value: u64, elapsed_ms: u64) {
        let delta = value.saturating_sub(self.last);
        self.rates[self.idx] = if elapsed_ms > 0 {
            delta as f64 * 1000.0 / elapsed_ms as f64
        } else {
            0.0
        };
        self.idx = (self.idx + 1) % SAMPLES;
        self.last = value;
    }

    fn value(&self) -> f64 {
        self.rates.iter().sum::<f64>() / SAMPLES as f64
    }
}

#[derive(Debug, Default)]
struct Sampler {
    last_ms: Option<u64>,
    ops: Metric,
    input: Metric,
    output: Metric,
}

/// The counters; updated by the connection tasks, read by INFO.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
    sampler: Mutex<Sampler>,
}

/// The instantaneous rates: operations per second, input and output KB per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub ops_per_sec: u64,
    pub input_kbps: f64,
    pub output_kbps: f64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Take a sample if the last one is at least 100 ms old (`now` in ms on the monotonic
    /// clock); called from the sentinel's timer.
    pub fn sample(&self, now: u64) {
        let mut s = self.sampler.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = match s.last_ms {
            Some(t) if now.saturating_sub(t) < PERIOD_MS => return,
            Some(t) => now.saturating_sub(t),
            None => {
                // The first sample only sets the starting values.
                s.last_ms = Some(now);
                s.ops.last = Self::get(&self.commands_processed);
                s.input.last = Self::get(&self.net_input_bytes);
                s.output.last = Self::get(&self.net_output_bytes);
                return;
            }
        };
        s.last_ms = Some(now);
        s.ops.track(Self::get(&self.commands_processed), elapsed);
        s.input.track(Self::get(&self.net_input_bytes), elapsed);
        s.output.track(Self::get(&self.net_output_bytes), elapsed);
    }

    pub fn rates(&self) -> Rates {
        let s = self.sampler.lock().unwrap_or_else(|e| e.into_inner());
        Rates {
            ops_per_sec: s.ops.value().round() as u64,
            input_kbps: s.input.value() / 1024.0,
            output_kbps: s.output.value() / 1024.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_average_the_last_sixteen_samples() {
        let st = Stats::default();
        st.sample(0);
        // 10 commands and 2048 input bytes per 100 ms: 100 ops/s, 20 KB/s.
        for k in 1..=SAMPLES as u64 {
            Stats::add(&st.commands_processed, 10);
            Stats::add(&st.net_input_bytes, 2048);
            st.sample(k * 100);
        }
        let r = st.rates();
        assert_eq!(r.ops_per_sec, 100);
        assert!((r.input_kbps - 20.0).abs() < 1e-9, "{r:?}");
        assert_eq!(r.output_kbps, 0.0);
        // Idle for 8 samples: half the window is zero.
        for k in 1..=8u64 {
            st.sample(1600 + k * 100);
        }
        assert_eq!(st.rates().ops_per_sec, 50);
    }

    #[test]
    fn samples_closer_than_the_period_are_skipped() {
        let st = Stats::default();
        st.sample(0);
        Stats::add(&st.commands_processed, 5);
        st.sample(50);
        assert_eq!(st.rates().ops_per_sec, 0);
        st.sample(100);
        // One sample of 50 ops/s over 16.
        assert_eq!(st.rates().ops_per_sec, 3);
    }
}
