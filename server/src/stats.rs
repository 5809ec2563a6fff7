//! Counters behind INFO stats, commandstats, errorstats and the instantaneous metrics.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Per-command counters (INFO commandstats).
#[derive(Debug, Default, Clone)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Latency tracking's histogram of the command's durations (created at the first).
    pub latency: Option<crate::latency::hist::Histogram>,
}

/// Samples of a rate, as Redis's `trackInstantaneousMetric` (16 samples, every 100 ms).
#[derive(Debug, Default, Clone)]
pub struct InstMetric {
    samples: [f64; 16],
    idx: usize,
    last_value: u64,
    last_ms: u64,
}

impl InstMetric {
    pub fn track(&mut self, value: u64, now_ms: u64) {
        if self.last_ms != 0 && now_ms > self.last_ms {
            let dt = (now_ms - self.last_ms) as f64;
            let rate = (value.saturating_sub(self.last_value)) as f64 * 1000.0 / dt;
            self.samples[self.idx] = rate;
            self.idx = (self.idx + 1) % self.samples.len();
        }
        self.last_value = value;
        self.last_ms = now_ms;
    }

    pub fn value(&self) -> f64 {
        self.samples.iter().sum::<f64>() / self.samples.len() as f64
    }
}

/// Network counters updated by connection tasks without taking the server lock.
#[derive(Debug, Default)]
pub struct NetCounters {
    pub input_bytes: AtomicU64,
    pub output_bytes: AtomicU64,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
}

impl NetCounters {
    pub fn add_input(&self, n: usize) {
        self.input_bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.reads.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add_output(&self, n: usize) {
        self.output_bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.writes.fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_cpu_ms: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    /// Indexed by `CommandSpec::id`.
    pub commands: Vec<CmdStat>,
    pub errors: BTreeMap<String, u64>,
    pub ops: InstMetric,
    pub net_in: InstMetric,
    pub net_out: InstMetric,
    pub peak_memory: usize,
    pub client_recent_max_input_buffer: usize,
    pub client_recent_max_output_buffer: usize,
}

/// Error codes beyond this many distinct ones are counted under `ERRORSTATS_DISABLED`-like
/// overflow, as Redis caps errorstats at 128 entries.
const MAX_ERROR_CODES: usize = 128;

impl Stats {
    /// The counters of a command (by `CommandSpec::id`).
    pub fn cmd(&mut self, id: usize) -> &mut CmdStat {
        if self.commands.len() <= id {
            self.commands.resize(id + 1, CmdStat::default());
        }
        &mut self.commands[id]
    }

    /// Count an error reply by its code (first word), as Redis's `afterErrorReply`.
    pub fn count_error(&mut self, msg: &str) {
        self.total_error_replies += 1;
        let code = msg.split(' ').next().unwrap_or("ERR");
        if let Some(n) = self.errors.get_mut(code) {
            *n += 1;
        } else if self.errors.len() < MAX_ERROR_CODES {
            self.errors.insert(code.to_string(), 1);
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        let peak = self.peak_memory;
        *self = Stats::default();
        self.peak_memory = peak;
    }
}
