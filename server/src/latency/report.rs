//! The texts of LATENCY GRAPH (Redis's `sparkline.c` drawing of an event's samples) and
//! LATENCY DOCTOR (`createLatencyReport`), character for character.

use std::fmt::Write;

use super::{Monitor, TimeSeries};

/// Redis's `LATENCY_GRAPH_COLS`.
const GRAPH_COLS: usize = 80;
const GRAPH_ROWS: usize = 4;
/// `charset_fill`: the characters of one row's three heights, with fill (`SPARKLINE_FILL`).
const CHARSET_FILL: &[u8; 3] = b"_o#";
const LABEL_MARGIN_TOP: usize = 1;

/// A sequence to draw (`struct sequence`).
struct Sequence {
    values: Vec<f64>,
    labels: Vec<String>,
    min: f64,
    max: f64,
}

impl Sequence {
    fn new() -> Self {
        Sequence {
            values: Vec::new(),
            labels: Vec::new(),
            min: 0.0,
            max: 0.0,
        }
    }

    fn add(&mut self, value: f64, label: String) {
        if self.values.is_empty() {
            self.min = value;
            self.max = value;
        } else if value < self.min {
            self.min = value;
        } else if value > self.max {
            self.max = value;
        }
        self.values.push(value);
        self.labels.push(label);
    }

    /// `sparklineRenderRange` with `SPARKLINE_FILL`: `rows` rows of bars, one blank row, then
    /// the labels written downwards.
    fn render_range(&self, out: &mut String, rows: usize, offset: usize, len: usize) {
        let mut relmax = self.max - self.min;
        if relmax == 0.0 {
            relmax = 1.0;
        }
        let steps = (CHARSET_FILL.len() * rows) as i64;
        let has_labels = self.labels.iter().any(|l| !l.is_empty());
        let mut row = 0usize;
        loop {
            let mut more = false;
            let mut chars = vec![b' '; len];
            for (j, c) in chars.iter_mut().enumerate() {
                let value = self.values[j + offset];
                let relval = value - self.min;
                // C: `step = (int) (relval*steps)/relmax;`
                let mut step = (((relval * steps as f64) as i64) as f64 / relmax) as i64;
                step = step.clamp(0, steps - 1);
                if row < rows {
                    let charidx = step - ((rows - row - 1) * CHARSET_FILL.len()) as i64;
                    more = true;
                    if (0..CHARSET_FILL.len() as i64).contains(&charidx) {
                        *c = CHARSET_FILL[charidx as usize];
                    } else if charidx >= CHARSET_FILL.len() as i64 {
                        *c = b'|';
                    }
                } else {
                    if has_labels && row - rows < LABEL_MARGIN_TOP {
                        more = true;
                        break;
                    }
                    let label = self.labels[j + offset].as_bytes();
                    let label_char = row - rows - LABEL_MARGIN_TOP;
                    if label.len() > label_char {
                        more = true;
                        *c = label[label_char];
                    }
                }
            }
            if !more {
                break;
            }
            row += 1;
            out.push_str(std::str::from_utf8(&chars).unwrap_or_default());
            out.push('\n');
        }
    }

    /// `sparklineRender`: the sequence in chunks of `columns`, separated by a blank line.
    fn render(&self, out: &mut String, columns: usize, rows: usize) {
        let mut j = 0;
        while j < self.values.len() {
            let sublen = (self.values.len() - j).min(columns);
            if j != 0 {
                out.push('\n');
            }
            self.render_range(out, rows, j, sublen);
            j += columns;
        }
    }
}

/// How long ago, as the graph's labels say it.
fn ago(elapsed: i64) -> String {
    if elapsed < 60 {
        format!("{elapsed}s")
    } else if elapsed < 3600 {
        format!("{}m", elapsed / 60)
    } else if elapsed < 3600 * 24 {
        format!("{}h", elapsed / 3600)
    } else {
        format!("{}d", elapsed / (3600 * 24))
    }
}

/// LATENCY GRAPH's text for `event` (`latencyCommandGenSparkeline`).
pub fn graph(event: &str, ts: &TimeSeries, now_s: i64) -> String {
    let mut seq = Sequence::new();
    let (mut min, mut max) = (0u32, 0u32);
    for s in ts.samples() {
        if seq.values.is_empty() {
            min = s.latency;
            max = s.latency;
        } else {
            max = max.max(s.latency);
            min = min.min(s.latency);
        }
        seq.add(s.latency as f64, ago(now_s - s.time));
    }
    let mut out = format!(
        "{event} - high {max} ms, low {min} ms (all time high {} ms)\n",
        ts.max
    );
    out.push_str(&"-".repeat(GRAPH_COLS));
    out.push('\n');
    seq.render(&mut out, GRAPH_COLS, GRAPH_ROWS);
    out
}

/// What DOCTOR's advice depends on besides the events.
#[derive(Debug, Clone, Copy)]
pub struct DoctorContext {
    pub now_s: i64,
    pub threshold_ms: u64,
    pub slowlog_log_slower_than: i64,
    pub appendfsync_always: bool,
    pub hz: u32,
}

/// `latencyStats` of one event (`analyzeLatencyForEvent`).
struct Stats {
    avg: u64,
    mad: u64,
    samples: u64,
    period: i64,
}

fn analyze(ts: &TimeSeries, now_s: i64) -> Stats {
    let mut st = Stats {
        avg: 0,
        mad: 0,
        samples: 0,
        period: 0,
    };
    let mut sum = 0u64;
    for s in ts.samples() {
        st.samples += 1;
        sum += s.latency as u64;
        if st.period == 0 || s.time < st.period {
            st.period = s.time;
        }
    }
    if let Some(avg) = sum.checked_div(st.samples) {
        st.avg = avg;
        st.period = (now_s - st.period).max(0);
        if st.period == 0 {
            st.period = 1;
        }
        let dev: u64 = ts
            .samples()
            .map(|s| (st.avg as i64 - s.latency as i64).unsigned_abs())
            .sum();
        st.mad = dev / st.samples;
    }
    st
}

/// The advice DOCTOR can give, in its order.
#[derive(Default)]
struct Advice {
    slowlog_enabled: bool,
    slowlog_tuning: bool,
    slowlog_inspect: bool,
    scheduler: bool,
    local_disk: bool,
    ssd: bool,
    data_writeback: bool,
    disk_contention: bool,
    no_appendfsync: bool,
    relax_fsync_policy: bool,
    write_load_info: bool,
    hz: bool,
    large_objects: bool,
    mass_eviction: bool,
    count: usize,
}

/// LATENCY DOCTOR's report (`createLatencyReport`).
pub fn doctor(mon: &Monitor, cx: DoctorContext) -> String {
    let mut r = String::new();
    if mon.events.is_empty() && cx.threshold_ms == 0 {
        r.push_str("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n");
        return r;
    }
    let mut a = Advice::default();
    let mut eventnum = 0;
    for (event, ts) in &mon.events {
        eventnum += 1;
        if eventnum == 1 {
            r.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let ls = analyze(ts, cx.now_s);
        let _ = write!(
            r,
            "{eventnum}. {event}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            ls.samples,
            ls.avg,
            ls.mad,
            ls.period as f64 / ls.samples.max(1) as f64,
            ts.max
        );
        match event.to_ascii_lowercase().as_str() {
            "command" => {
                if cx.slowlog_log_slower_than < 0 {
                    a.slowlog_enabled = true;
                    a.count += 1;
                } else if (cx.slowlog_log_slower_than / 1000) as u64 > cx.threshold_ms {
                    a.slowlog_tuning = true;
                    a.count += 1;
                }
                a.slowlog_inspect = true;
                a.large_objects = true;
                a.count += 2;
            }
            "fast-command" => {
                a.scheduler = true;
                a.count += 1;
            }
            "aof-write-pending-fsync" => {
                a.local_disk = true;
                a.disk_contention = true;
                a.ssd = true;
                a.data_writeback = true;
                a.count += 4;
            }
            "aof-write-active-child" => {
                a.no_appendfsync = true;
                a.data_writeback = true;
                a.ssd = true;
                a.count += 3;
            }
            "aof-write-alone" => {
                a.local_disk = true;
                a.data_writeback = true;
                a.ssd = true;
                a.count += 3;
            }
            "aof-fsync-always" => {
                a.relax_fsync_policy = true;
                a.count += 1;
            }
            "aof-fstat" | "rdb-unlink-temp-file" => {
                a.disk_contention = true;
                a.local_disk = true;
                a.count += 2;
            }
            "aof-rewrite-diff-write" | "aof-rename" => {
                a.write_load_info = true;
                a.data_writeback = true;
                a.ssd = true;
                a.local_disk = true;
                a.count += 4;
            }
            "expire-cycle" => {
                a.hz = true;
                a.large_objects = true;
                a.count += 2;
            }
            "eviction-del" => {
                a.large_objects = true;
                a.count += 1;
            }
            "eviction-cycle" => {
                a.mass_eviction = true;
                a.count += 1;
            }
            _ => {}
        }
        r.push('\n');
    }
    // (Redis also advises on transparent huge pages it finds in /proc/self/smaps; picket
    // does not look.)
    if eventnum == 0 && a.count == 0 {
        r.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        return r;
    }
    if eventnum > 0 && a.count == 0 {
        r.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return r;
    }
    r.push_str("\nI have a few advices for you:\n\n");
    let slower = cx.threshold_ms * 1000;
    if a.slowlog_enabled {
        let _ = writeln!(r, "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {slower}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.");
    }
    if a.slowlog_tuning {
        let _ = writeln!(r, "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {slower}'.");
    }
    if a.slowlog_inspect {
        r.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if a.scheduler {
        r.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    if a.local_disk {
        r.push_str("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
    }
    if a.ssd {
        r.push_str("- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n");
    }
    if a.data_writeback {
        r.push_str("- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n");
    }
    if a.disk_contention {
        r.push_str("- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n");
    }
    if a.no_appendfsync {
        r.push_str("- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n");
    }
    if a.relax_fsync_policy && cx.appendfsync_always {
        r.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
    }
    if a.write_load_info {
        r.push_str("- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n");
    }
    if a.hz && cx.hz < 100 {
        r.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if a.large_objects {
        r.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    if a.mass_eviction {
        r.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(samples: &[(i64, u32)]) -> TimeSeries {
        let mut ts = TimeSeries::default();
        for &(t, l) in samples {
            ts.add(t, l);
        }
        ts
    }

    #[test]
    fn graph_draws_bars_and_labels_as_redis() {
        // Three samples 30 s, 20 s and 10 s ago.
        let ts = series(&[(970, 100), (980, 200), (990, 400)]);
        let g = graph("command", &ts, 1000);
        let want = concat!(
            "command - high 400 ms, low 100 ms (all time high 400 ms)\n",
            "--------------------------------------------------------------------------------\n",
            "  #\n",
            "  |\n",
            " o|\n",
            "_||\n",
            "   \n",
            "321\n",
            "000\n",
            "sss\n",
        );
        assert_eq!(g, want);
    }

    #[test]
    fn graph_labels_in_minutes_hours_days() {
        assert_eq!(ago(59), "59s");
        assert_eq!(ago(60), "1m");
        assert_eq!(ago(3600), "1h");
        assert_eq!(ago(86400 * 2), "2d");
        // One sample: relmax 0 counts as 1, the bar is the lowest step.
        let g = graph("x", &series(&[(5, 7)]), 5);
        assert!(g.ends_with("-\n \n \n \n_\n \n0\ns\n"), "{g:?}");
    }

    #[test]
    fn doctor_disabled_and_quiet() {
        let cx = DoctorContext {
            now_s: 100,
            threshold_ms: 0,
            slowlog_log_slower_than: 10000,
            appendfsync_always: false,
            hz: 10,
        };
        let m = Monitor::default();
        assert!(doctor(&m, cx).starts_with("I'm sorry, Dave"));
        let on = DoctorContext {
            threshold_ms: 100,
            ..cx
        };
        assert!(doctor(&m, on).starts_with("Dave, no latency spike"));
    }

    #[test]
    fn doctor_reports_command_events_with_advice() {
        let mut m = Monitor::default();
        m.add("command", 90, 300);
        m.add("command", 95, 500);
        let cx = DoctorContext {
            now_s: 100,
            threshold_ms: 100,
            slowlog_log_slower_than: 10000,
            appendfsync_always: false,
            hz: 10,
        };
        let d = doctor(&m, cx);
        assert!(d.starts_with("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n1. command: 2 latency spikes (average 400ms, mean deviation 100ms, period 5.00 sec). Worst all time event 500ms.\n\nI have a few advices for you:\n\n- Check your Slow Log"), "{d}");
        assert!(d.ends_with("into multiple smaller objects.\n"));
    }
}
