//! Latency tracking's per-command histogram: Redis's `hdr_histogram` as Redis 7.0 creates it
//! (`hdr_init(1, 1_000_000_000, 2)`, values in nanoseconds), with the two readings Redis makes
//! of it: `hdr_value_at_percentile` (INFO latencystats) and the logarithmic iterator
//! `hdr_iter_log_init(1024, 2)` (LATENCY HISTOGRAM). The layout is fixed by those bounds, so
//! it is written out here rather than computed, and every step follows hdr_histogram.c
//! (its rounding of the percentile's count and the iterator's quirks included), so that the
//! numbers equal Redis's for the same recorded values.

/// Redis's `LATENCY_HISTOGRAM_MIN_VALUE` and `LATENCY_HISTOGRAM_MAX_VALUE` (nanoseconds).
pub const MIN_VALUE: u64 = 1;
pub const MAX_VALUE: u64 = 1_000_000_000;

// hdr_init(1, 1e9, 2): 2 * 10^2 = 200 values at unit resolution round up to 256 sub-buckets;
// unit magnitude 0; 256 << 22 > 1e9, so 23 buckets; (23 + 1) * 128 counts.
const SUB_BUCKET_COUNT: u64 = 256;
const SUB_BUCKET_HALF_COUNT: u64 = 128;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 7;
const SUB_BUCKET_MASK: u64 = SUB_BUCKET_COUNT - 1;
const COUNTS_LEN: usize = 24 * 128;

/// Counts of values in hdr_histogram's buckets.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Histogram({} values)", self.total)
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; COUNTS_LEN].into_boxed_slice(),
            total: 0,
        }
    }
}

fn bucket_index(v: u64) -> u32 {
    // 64 - clz(v | mask) is the power of two above v; the first bucket covers the mask.
    64 - (v | SUB_BUCKET_MASK).leading_zeros() - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)
}

fn counts_index(bucket: u32, sub: u64) -> usize {
    ((((bucket + 1) as u64) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub - SUB_BUCKET_HALF_COUNT)
        as usize
}

fn value_at_index(index: usize) -> u64 {
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub = (index as u64 & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    sub << bucket
}

fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    (v >> b) << b
}

fn range_size(v: u64) -> u64 {
    let b = bucket_index(v);
    let sub = v >> b;
    let adjusted = if sub >= SUB_BUCKET_COUNT { b + 1 } else { b };
    1 << adjusted
}

fn highest_equivalent(v: u64) -> u64 {
    lowest_equivalent(v) + range_size(v) - 1
}

impl Histogram {
    /// Record a duration in nanoseconds, clamped to the tracked range
    /// (`updateCommandLatencyHistogram`).
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let v = ns.clamp(MIN_VALUE, MAX_VALUE);
        let b = bucket_index(v);
        self.counts[counts_index(b, v >> b)] += 1;
        self.total += 1;
    }

    /// How many values were recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// `hdr_value_at_percentile`: the highest value equivalent to the one at which the
    /// cumulative count reaches `percentile` % of the total (rounded half up, at least 1).
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let requested = if percentile < 100.0 {
            percentile
        } else {
            100.0
        };
        let want = (((requested / 100.0) * self.total as f64) + 0.5) as i64;
        let want = want.max(1) as u64;
        let mut sum = 0u64;
        let mut value = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            sum += c;
            if sum >= want {
                value = value_at_index(i);
                break;
            }
        }
        if percentile == 0.0 {
            lowest_equivalent(value)
        } else {
            highest_equivalent(value)
        }
    }

    /// LATENCY HISTOGRAM's buckets (`fillCommandCDF`): walking the histogram with
    /// `hdr_iter_log_init(1024, 2)`, each step whose cumulative count grew gives the highest
    /// value of the position the walk reached, in microseconds, and the cumulative count.
    pub fn cdf_usec(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut it = LogIter::new(self);
        let mut previous = 0;
        while it.next() {
            if it.cumulative > previous {
                out.push((it.highest_equivalent / 1000, it.cumulative));
            }
            previous = it.cumulative;
        }
        out
    }
}

/// hdr_histogram.c's `struct hdr_iter` with `log_iter_next`, as far as Redis reads it.
struct LogIter<'a> {
    h: &'a Histogram,
    index: i64,
    cumulative: u64,
    value: u64,
    highest_equivalent: u64,
    next_level: u64,
    next_level_lowest: u64,
}

impl<'a> LogIter<'a> {
    fn new(h: &'a Histogram) -> Self {
        LogIter {
            h,
            index: -1,
            cumulative: 0,
            value: 0,
            highest_equivalent: 0,
            next_level: 1024,
            next_level_lowest: lowest_equivalent(1024),
        }
    }

    fn move_next(&mut self) -> bool {
        self.index += 1;
        let i = self.index as usize;
        if i >= COUNTS_LEN {
            return false;
        }
        self.cumulative += self.h.counts[i];
        self.value = value_at_index(i);
        self.highest_equivalent = highest_equivalent(self.value);
        true
    }

    fn next_value_above(&self, bound: u64) -> bool {
        if self.index >= COUNTS_LEN as i64 {
            return false;
        }
        value_at_index((self.index + 1) as usize) > bound
    }

    fn next(&mut self) -> bool {
        if self.cumulative < self.h.total || self.next_value_above(self.next_level_lowest) {
            loop {
                if self.value >= self.next_level_lowest {
                    self.next_level *= 2;
                    self.next_level_lowest = lowest_equivalent(self.next_level);
                    return true;
                }
                if !self.move_next() {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_hdr_init_1_1e9_2() {
        // Unit resolution up to 255, then buckets of doubling width.
        assert_eq!(highest_equivalent(100), 100);
        assert_eq!(highest_equivalent(255), 255);
        assert_eq!(lowest_equivalent(257), 256);
        assert_eq!(highest_equivalent(256), 257);
        assert_eq!(highest_equivalent(1_000_000_000), 1_002_438_655);
        // The largest value lands in the last count.
        let b = bucket_index(MAX_VALUE);
        assert!(counts_index(b, MAX_VALUE >> b) < COUNTS_LEN);
        for i in [0, 127, 128, 255, 256, 1000, COUNTS_LEN - 1] {
            let v = value_at_index(i);
            let b = bucket_index(v);
            assert_eq!(counts_index(b, v >> b), i, "index {i}");
        }
    }

    #[test]
    fn percentiles_round_the_count_as_hdr() {
        let mut h = Histogram::default();
        for us in [10u64, 20, 30] {
            h.record(us * 1000);
        }
        // 50% of 3 is 1.5, rounded to 2: the second value (20 µs, bucket 20480..20607).
        assert_eq!(h.value_at_percentile(50.0), 20_095);
        assert_eq!(h.value_at_percentile(99.9), 30_079);
        assert_eq!(h.value_at_percentile(100.0), 30_079);
        assert_eq!(h.value_at_percentile(0.0), 9_984);
        // Below the minimum counts as the minimum.
        let mut z = Histogram::default();
        z.record(0);
        assert_eq!(z.value_at_percentile(50.0), 1);
    }

    #[test]
    fn cdf_buckets_are_powers_of_two_with_cumulative_counts() {
        let mut h = Histogram::default();
        h.record(1_000); // 1 µs
        h.record(3_000); // 3 µs
        h.record(3_000);
        h.record(1_000_000_000); // 1 s
                                 // The expected numbers come from Redis 7.0.15's deps/hdr_histogram compiled with a
                                 // small driver doing what fillCommandCDF and fillPercentileDistributionLatencies do.
        assert_eq!(h.cdf_usec(), vec![(1, 1), (4, 3), (1_073_741, 4)]);
        assert_eq!(h.value_at_percentile(12.0), 1003);
        assert_eq!(h.value_at_percentile(99.0), 1_002_438_655);
        assert!(Histogram::default().cdf_usec().is_empty());
        let mut t = Histogram::default();
        for us in [10u64, 20, 30] {
            t.record(us * 1000);
        }
        assert_eq!(t.cdf_usec(), vec![(16, 1), (33, 3)]);
        let mut m = Histogram::default();
        for ns in [
            5000u64, 7000, 9000, 11000, 250000, 250000, 1300000, 999000, 64000000, 12345,
        ] {
            m.record(ns);
        }
        assert_eq!(
            m.cdf_usec(),
            vec![(8, 2), (16, 5), (264, 7), (1056, 8), (2113, 9), (67633, 10)]
        );
        let p: Vec<u64> = [0.0, 12.0, 50.0, 99.0, 99.9, 100.0]
            .iter()
            .map(|&p| m.value_at_percentile(p))
            .collect();
        assert_eq!(p, vec![4992, 5023, 12351, 64225279, 64225279, 64225279]);
    }
}
