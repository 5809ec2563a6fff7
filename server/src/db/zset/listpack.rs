//! The `listpack` encoding of a small sorted set: a [`Packed`] of alternating member and score
//! entries, sorted by (score, member), and the compact score encoding its score entries use.
//!
//! A score entry's length says how to read it, so every score takes the fewest bytes that hold
//! it exactly (Redis's listpack keeps integral scores as integers to the same end):
//!
//! | length      | score                                                              |
//! |-------------|--------------------------------------------------------------------|
//! | 0           | 0 (a -0 is stored as 0, as Redis's integer form does)              |
//! | 1, 2, 3     | an integral score, a little-endian two's complement integer        |
//! | 4           | an `f32` (little-endian) that converts back to the score exactly   |
//! | 5, 6, 7     | an integral score beyond 24 bits, as a 40/48/56-bit integer        |
//! | 8           | the `f64` itself (little-endian)                                   |
//!
//! An integer of four bytes would collide with the `f32` form, so integers that need four
//! bytes take the `f32` form when it is exact (e.g. 2^30) and five bytes otherwise. Every score
//! but NaN (never stored) round-trips bit for bit, except -0, which reads back as 0 (the
//! invariant of the encoding: no listpack score is -0).

use std::cmp::Ordering;

use crate::db::packed::{Entries, Packed, Pos};

/// Longest score entry.
pub const SCORE_MAX: usize = 8;

/// Bytes of the signed integer `n` in the fewest whole bytes (1..=8).
fn int_width(n: i64) -> usize {
    for w in 1..8 {
        let shift = 64 - 8 * w;
        if (n << shift) >> shift == n {
            return w;
        }
    }
    8
}

/// Encode a score into `out`; returns the entry's length (its form).
#[inline]
pub fn encode_score(s: f64, out: &mut [u8; SCORE_MAX]) -> usize {
    if s == 0.0 {
        return 0;
    }
    /// Integral scores in [-2^55, 2^55) fit a 7-byte integer.
    const LIM: f64 = (1u64 << 55) as f64;
    let exact_f32 = (s as f32) as f64 == s;
    if s.fract() == 0.0 && (-LIM..LIM).contains(&s) {
        let n = s as i64;
        let w = match int_width(n) {
            w @ 1..=3 => w,
            _ if exact_f32 => return write_f32(s, out),
            4 => 5,
            w => w,
        };
        out[..w].copy_from_slice(&n.to_le_bytes()[..w]);
        return w;
    }
    if exact_f32 {
        return write_f32(s, out);
    }
    *out = s.to_le_bytes();
    8
}

fn write_f32(s: f64, out: &mut [u8; SCORE_MAX]) -> usize {
    out[..4].copy_from_slice(&(s as f32).to_le_bytes());
    4
}

/// Read a score entry.
#[inline]
pub fn decode_score(b: &[u8]) -> f64 {
    match b.len() {
        0 => 0.0,
        4 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        8 => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        w => {
            debug_assert!(w < 8, "score entry of {w} bytes");
            let mut x = [0u8; 8];
            x[..w].copy_from_slice(b);
            let shift = 64 - 8 * w as u32;
            ((i64::from_le_bytes(x) << shift) >> shift) as f64
        }
    }
}

/// (score, member) order.
#[inline]
pub fn cmp_pair(sa: f64, ma: &[u8], sb: f64, mb: &[u8]) -> Ordering {
    sa.partial_cmp(&sb)
        .unwrap_or(Ordering::Equal)
        .then_with(|| ma.cmp(mb))
}

/// A packed set of these (member, score) pairs, already sorted, allocated once.
pub fn from_sorted<'a>(pairs: impl Iterator<Item = (&'a [u8], f64)> + Clone) -> Packed {
    let scores: Vec<([u8; SCORE_MAX], u8)> = pairs
        .clone()
        .map(|(_, s)| {
            let mut b = [0u8; SCORE_MAX];
            let n = encode_score(s, &mut b);
            (b, n as u8)
        })
        .collect();
    Packed::from_entries(
        pairs
            .zip(scores.iter())
            .flat_map(|((m, _), (b, n))| [m, &b[..*n as usize]]),
    )
}

/// Members with their scores, upwards from an entry position.
#[derive(Clone)]
pub struct Up<'a>(pub(super) Entries<'a>);

impl<'a> Iterator for Up<'a> {
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        let m = self.0.next()?;
        let s = self.0.next()?;
        Some((m, decode_score(s)))
    }
}

/// Pair positions a reverse walk collects at a time: a walk down over `n` pairs re-walks from
/// the start once per chunk, so the sets the default limit (128) allows take four walks at
/// most, without an allocation.
const DOWN_CHUNK: usize = 32;

/// Members with their scores, downwards from a rank. A packed set can only be walked forward,
/// so this keeps the positions of up to [`DOWN_CHUNK`] pairs below the next one it returns
/// and collects the chunk before them when they run out.
#[derive(Clone)]
pub struct Down<'a> {
    p: &'a Packed,
    pos: [Pos; DOWN_CHUNK],
    /// Positions left in `pos` (returned from the top down).
    n: usize,
    /// Rank of the pair at `pos[0]`.
    base: usize,
}

impl<'a> Down<'a> {
    /// From the pair of rank `rank` (of `len` pairs) down; empty when `rank >= len`.
    pub fn new(p: &'a Packed, rank: usize) -> Down<'a> {
        let base = if rank < p.len() / 2 { rank + 1 } else { 0 };
        Down {
            p,
            pos: [p.first(); DOWN_CHUNK],
            n: 0,
            base,
        }
    }

    /// Collect the positions of the pairs of ranks `base - DOWN_CHUNK .. base`.
    fn fill(&mut self) {
        let start = self.base.saturating_sub(DOWN_CHUNK);
        let mut it = self.p.iter();
        for _ in 0..2 * start {
            it.next();
        }
        for i in 0..self.base - start {
            self.pos[i] = it.pos();
            it.next();
            it.next();
        }
        self.n = self.base - start;
        self.base = start;
    }
}

impl<'a> Iterator for Down<'a> {
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        if self.n == 0 {
            if self.base == 0 {
                return None;
            }
            self.fill();
        }
        self.n -= 1;
        let mut it = self.p.iter_from(self.pos[self.n]);
        let m = it.next()?;
        let s = it.next()?;
        Some((m, decode_score(s)))
    }
}

/// Where a member is: the positions of its entry and of its score entry, and its rank.
pub struct Found {
    pub at: Pos,
    pub score_at: Pos,
    pub rank: usize,
}

/// Find a member.
#[inline]
pub fn find(p: &Packed, member: &[u8]) -> Option<Found> {
    let mut it = p.iter();
    let mut rank = 0;
    loop {
        let at = it.pos();
        let m = it.next()?;
        let score_at = it.pos();
        if m == member {
            return Some(Found { at, score_at, rank });
        }
        it.next();
        rank += 1;
    }
}

/// The position before which the pair (score, member) goes to keep the order.
fn insert_pos(p: &Packed, member: &[u8], score: f64) -> Pos {
    let mut it = p.iter();
    loop {
        let at = it.pos();
        let Some(m) = it.next() else {
            return at;
        };
        let s = decode_score(it.next().unwrap_or_default());
        if cmp_pair(s, m, score, member) == Ordering::Greater {
            return at;
        }
    }
}

/// Insert a member that is not there (its score not -0 nor NaN) in order.
pub fn insert(p: &mut Packed, member: &[u8], score: f64) {
    let mut b = [0u8; SCORE_MAX];
    let n = encode_score(score, &mut b);
    let at = insert_pos(p, member, score);
    p.insert_many(at, &[member, &b[..n]]);
}

/// Change the score of the member found at `f` to `score`: in place when the member keeps its
/// rank, else removed and inserted again.
pub fn set_score(p: &mut Packed, f: Found, member: &[u8], score: f64) {
    // The member keeps its place when it still sorts after its predecessor and before its
    // successor.
    let mut prev_ok = true;
    let mut it = p.iter();
    if f.rank > 0 {
        for _ in 0..2 * (f.rank - 1) {
            it.next();
        }
        let m = it.next().unwrap_or_default();
        let s = decode_score(it.next().unwrap_or_default());
        prev_ok = cmp_pair(s, m, score, member) == Ordering::Less;
    }
    let mut next = p.iter_from(p.next(f.score_at));
    let next_ok = match (next.next(), next.next()) {
        (Some(m), Some(s)) => cmp_pair(score, member, decode_score(s), m) == Ordering::Less,
        _ => true,
    };
    let mut b = [0u8; SCORE_MAX];
    let n = encode_score(score, &mut b);
    if prev_ok && next_ok {
        p.replace(f.score_at, &b[..n]);
        return;
    }
    p.remove(f.at, 2);
    let at = insert_pos(p, member, score);
    p.insert_many(at, &[member, &b[..n]]);
}

/// Check order and encoding (tests).
pub fn check(p: &Packed) -> Result<(), String> {
    if !p.len().is_multiple_of(2) {
        return Err("listpack with an odd number of entries".into());
    }
    let mut prev: Option<(&[u8], f64)> = None;
    let mut it = p.iter();
    while let (Some(m), Some(sb)) = (it.next(), it.next()) {
        let s = decode_score(sb);
        let mut b = [0u8; SCORE_MAX];
        let n = encode_score(s, &mut b);
        if &b[..n] != sb {
            return Err(format!("score {s} not in its shortest form"));
        }
        if s.is_nan() || (s == 0.0 && s.is_sign_negative()) {
            return Err("listpack score NaN or -0".into());
        }
        if let Some((pm, ps)) = prev {
            if cmp_pair(ps, pm, s, m) != Ordering::Less {
                return Err("listpack out of order".into());
            }
        }
        prev = Some((m, s));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: f64) -> (f64, usize) {
        let mut b = [0u8; SCORE_MAX];
        let n = encode_score(s, &mut b);
        (decode_score(&b[..n]), n)
    }

    #[test]
    fn scores_round_trip_in_their_shortest_form() {
        let two53 = 9_007_199_254_740_992.0f64;
        let cases: &[(f64, usize)] = &[
            (0.0, 0),
            (1.0, 1),
            (-1.0, 1),
            (127.0, 1),
            (-128.0, 1),
            (128.0, 2),
            (-129.0, 2),
            (32_767.0, 2),
            (-32_768.0, 2),
            (32_768.0, 3),
            (8_388_607.0, 3),
            (-8_388_608.0, 3),
            // Needs 4 bytes as an integer: f32 when exact, else 5 bytes.
            (8_388_608.0, 4),
            (16_777_216.0, 4),
            (16_777_217.0, 5),
            (1_700_000_001.0, 5),
            (i32::MAX as f64, 5),
            (i32::MIN as f64, 4),
            ((1i64 << 40) as f64 + 1.0, 6),
            (1_700_000_000_123.0, 6),
            ((1i64 << 55) as f64 - 8.0, 7),
            ((1i64 << 55) as f64, 4),
            (-((1i64 << 55) as f64), 4),
            (-((1i64 << 55) as f64) - 8.0, 8),
            (two53, 4),
            (two53 + 2.0, 7),
            (i64::MAX as f64, 4),
            (i64::MIN as f64, 4),
            (1e300, 8),
            (-1e300, 8),
            (f64::INFINITY, 4),
            (f64::NEG_INFINITY, 4),
            (0.5, 4),
            (1.5, 4),
            (-2.25, 4),
            (0.1, 8),
            (1.0 / 3.0, 8),
            (f64::MIN_POSITIVE, 8),
            (5e-324, 8),
            (-5e-324, 8),
            (f32::MIN_POSITIVE as f64 / 4.0, 4),
            (f32::MAX as f64, 4),
            (f64::MAX, 8),
            (f64::MIN, 8),
            (f64::EPSILON, 4),
            (1.0 + f64::EPSILON, 8),
        ];
        for &(s, len) in cases {
            let (back, n) = round(s);
            assert_eq!(back.to_bits(), s.to_bits(), "{s:e}");
            assert_eq!(n, len, "length of {s:e}");
        }
        // -0 is stored as 0.
        let (back, n) = round(-0.0);
        assert_eq!((back.to_bits(), n), (0.0f64.to_bits(), 0));
    }

    #[test]
    fn random_bit_patterns_round_trip() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Raw bit patterns, and integers and f32s of all sizes.
            let s = match i % 3 {
                0 => f64::from_bits(x),
                1 => ((x as i64) >> (x % 64)) as f64,
                _ => f32::from_bits(x as u32) as f64,
            };
            if s.is_nan() || s == 0.0 {
                continue;
            }
            let (back, n) = round(s);
            assert_eq!(back.to_bits(), s.to_bits(), "{s:e}");
            assert!(n <= SCORE_MAX);
        }
    }

    fn pairs(p: &Packed) -> Vec<(Vec<u8>, f64)> {
        Up(p.iter()).map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn insert_set_score_and_walk_down() {
        let mut p = Packed::new();
        for (i, s) in [3.0, 1.5, -2.0, 1.5, 1e10, 0.1].iter().enumerate() {
            insert(&mut p, format!("m{i}").as_bytes(), *s);
            check(&p).unwrap();
        }
        let got = pairs(&p);
        let members: Vec<&[u8]> = got.iter().map(|(m, _)| &m[..]).collect();
        assert_eq!(members, [&b"m2"[..], b"m5", b"m1", b"m3", b"m0", b"m4"]);
        // In place (keeps its rank, a longer score), and moving both ways.
        for (m, s) in [("m1", 1.25), ("m1", 1e15), ("m1", -5.0), ("m3", 1.0)] {
            let f = find(&p, m.as_bytes()).unwrap();
            set_score(&mut p, f, m.as_bytes(), s);
            check(&p).unwrap();
            assert_eq!(
                find(&p, m.as_bytes()).map(|f| decode_score(p.get(f.score_at))),
                Some(s)
            );
        }
        assert_eq!(p.heap_size(), p.byte_len());
        let up = pairs(&p);
        for rank in 0..up.len() + 2 {
            let down: Vec<(Vec<u8>, f64)> =
                Down::new(&p, rank).map(|(m, s)| (m.to_vec(), s)).collect();
            let want: Vec<(Vec<u8>, f64)> = if rank < up.len() {
                up[..=rank].iter().rev().cloned().collect()
            } else {
                vec![]
            };
            assert_eq!(down, want, "from {rank}");
        }
    }

    #[test]
    fn reverse_walks_cross_chunks() {
        let members: Vec<String> = (0..100).map(|i| format!("m{i:03}")).collect();
        let p = from_sorted(
            members
                .iter()
                .enumerate()
                .map(|(i, m)| (m.as_bytes(), i as f64)),
        );
        check(&p).unwrap();
        let down: Vec<f64> = Down::new(&p, 99).map(|(_, s)| s).collect();
        assert_eq!(down, (0..100).rev().map(|i| i as f64).collect::<Vec<_>>());
        assert_eq!(Down::new(&p, 40).count(), 41);
        assert_eq!(find(&p, b"m050").map(|f| f.rank), Some(50));
        assert!(find(&p, b"m100").is_none());
    }
}
