//! Redis 7.0's latency monitor (`latency.c`) and latency tracking (per-command histograms).
//!
//! The monitor keeps, per event class ("command", "fast-command", "expire-cycle", ...), a
//! ring of the last 160 samples, one per second (a second's worst), and the worst ever. A
//! place that can stall the server measures its duration and calls [`sample`], which records
//! it when `latency-monitor-threshold` is on and the duration reaches it, as Redis's
//! `latencyAddSampleIfNeeded`. LATENCY LATEST/HISTORY/GRAPH/DOCTOR/RESET read it.
//!
//! Latency tracking (`latency-tracking yes`) records every command's duration in a histogram
//! of its own ([`hist::Histogram`], kept with the command's statistics and so reset by
//! CONFIG RESETSTAT), read by LATENCY HISTOGRAM and INFO latencystats.
//!
//! Events are kept in name order (Redis's dict order is its hash's), so LATEST and DOCTOR
//! list them the same way every run.

use std::collections::BTreeMap;

pub mod hist;
pub mod report;

/// Redis's `LATENCY_TS_LEN`: samples kept per event.
pub const TS_LEN: usize = 160;

/// One second's worst latency of an event (Redis's `latencySample`); `time` 0 is unused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Unix seconds.
    pub time: i64,
    /// Milliseconds.
    pub latency: u32,
}

/// The samples of one event (Redis's `latencyTimeSeries`).
#[derive(Debug, Clone)]
pub struct TimeSeries {
    /// Where the next sample goes.
    idx: usize,
    /// The worst latency since the event was created or reset.
    pub max: u32,
    samples: [Sample; TS_LEN],
}

impl Default for TimeSeries {
    fn default() -> Self {
        TimeSeries {
            idx: 0,
            max: 0,
            samples: [Sample::default(); TS_LEN],
        }
    }
}

impl TimeSeries {
    /// `latencyAddSample` on this series: a sample in the same second as the previous one
    /// only raises it.
    pub fn add(&mut self, now_s: i64, latency: u32) {
        self.max = self.max.max(latency);
        let prev = (self.idx + TS_LEN - 1) % TS_LEN;
        if self.samples[prev].time == now_s {
            let p = &mut self.samples[prev];
            p.latency = p.latency.max(latency);
            return;
        }
        self.samples[self.idx] = Sample {
            time: now_s,
            latency,
        };
        self.idx = (self.idx + 1) % TS_LEN;
    }

    /// The recorded samples, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..TS_LEN)
            .map(move |j| self.samples[(self.idx + j) % TS_LEN])
            .filter(|s| s.time != 0)
    }

    /// The latest sample (LATENCY LATEST).
    pub fn latest(&self) -> Sample {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }
}

/// The events seen so far (Redis's `server.latency_events`).
#[derive(Debug, Default)]
pub struct Monitor {
    pub events: BTreeMap<String, TimeSeries>,
}

impl Monitor {
    /// `latencyAddSample`: record `latency_ms` for `event` at `now_s`.
    pub fn add(&mut self, event: &str, now_s: i64, latency_ms: u64) {
        let latency = u32::try_from(latency_ms).unwrap_or(u32::MAX);
        if let Some(ts) = self.events.get_mut(event) {
            ts.add(now_s, latency);
        } else {
            let mut ts = TimeSeries::default();
            ts.add(now_s, latency);
            self.events.insert(event.to_string(), ts);
        }
    }

    /// `latencyResetEvent`: forget `event` (case-insensitively), or every event; how many
    /// were forgotten.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.events.len();
        match event {
            None => self.events.clear(),
            Some(e) => self
                .events
                .retain(|name, _| !name.as_bytes().eq_ignore_ascii_case(e)),
        }
        before - self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeping_the_worst() {
        let mut m = Monitor::default();
        m.add("command", 100, 250);
        m.add("command", 100, 300);
        m.add("command", 100, 120);
        m.add("command", 101, 110);
        let ts = &m.events["command"];
        let s: Vec<_> = ts.samples().collect();
        assert_eq!(
            s,
            vec![
                Sample {
                    time: 100,
                    latency: 300
                },
                Sample {
                    time: 101,
                    latency: 110
                }
            ]
        );
        assert_eq!(ts.max, 300);
        assert_eq!(ts.latest().latency, 110);
    }

    #[test]
    fn the_ring_keeps_the_last_160_seconds() {
        let mut ts = TimeSeries::default();
        for t in 1..=200 {
            ts.add(t, t as u32);
        }
        let s: Vec<_> = ts.samples().collect();
        assert_eq!(s.len(), TS_LEN);
        assert_eq!(s[0].time, 41);
        assert_eq!(s[TS_LEN - 1].time, 200);
        assert_eq!(ts.latest().time, 200);
        assert_eq!(ts.max, 200);
    }

    #[test]
    fn reset_is_case_insensitive_and_counts() {
        let mut m = Monitor::default();
        m.add("command", 1, 1);
        m.add("fast-command", 1, 1);
        m.add("expire-cycle", 1, 1);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(Some(b"nosuch")), 0);
        assert_eq!(m.reset(None), 2);
        assert!(m.events.is_empty());
    }
}
