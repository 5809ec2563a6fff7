//! Sorted set values, as Redis 7.0's `t_zset.c` stores them.
//!
//! Small sets are Redis's `listpack` encoding: one [`Packed`] allocation of alternating member
//! and score entries sorted by (score, member), each score in the fewest bytes that hold it
//! exactly (`listpack.rs`). Redis keeps an integral listpack score as an integer, so a score of
//! -0 reads back as 0 there (and ZSCAN shows such scores in integer form, see
//! [`listpack_score_text`]); the packed form does the same.
//!
//! A set converts for good to the `skiplist` encoding when a new member would make it longer
//! than `zset-max-listpack-entries` or a new member is longer than `zset-max-listpack-value`
//! bytes ([`ZSet::insert`]); results of the *STORE commands are built big and shrunk when they
//! fit ([`ZSet::shrink_if_fits`]), as Redis decides.
//!
//! The big encoding is what Redis uses: a skiplist whose links carry spans (how many nodes they
//! jump), giving O(log n) rank and range-by-rank, plus a dict from member to score
//! ([`SkipList`], in `skiplist.rs`: an arena of nodes linked by index). A skiplist rather than
//! an order-statistic tree because its searches are Redis's own: finding the first and last
//! member of a range by descending the levels gives the same answers as Redis even when the
//! predicate is not monotonic (lex ranges over members of different scores).
//!
//! API for other modules: [`ZSet::iter`] (ascending (member, score)) and [`ZSet::iter_from`]
//! (from a rank, either way) to read in order; [`ZSet::from_pairs`] to load (RDB: any order,
//! checked, the encoding chosen as Redis's loader does); [`ZSet::from_sorted`] for computed
//! results; [`ZSet::insert`] / [`ZSet::set_score`] / [`ZSet::remove`] to change one member;
//! [`ZSet::convert_to_skiplist`] (SORT converts). Not emulated: Redis's 1 GB listpack size
//! cap (`lpSafeToAdd`).

mod listpack;
mod skiplist;

use std::cmp::Ordering;

use super::packed::Packed;
use super::SmallBytes;
use skiplist::NIL;
pub use skiplist::{SkipList, MAX_LEVEL};

/// A source of seeds for new dicts and skiplists (the server's RNG).
pub type Seed<'a> = &'a mut dyn FnMut() -> u64;

/// The encoding thresholds (`zset-max-listpack-entries`, `zset-max-listpack-value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

/// A score interval (Redis's `zrangespec`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }

    /// A range that can hold nothing.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lex range: `-`, `+`, or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    Min,
    Max,
    Value(Vec<u8>),
}

/// A lex interval (Redis's `zlexrangespec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub minex: bool,
    pub max: LexBound,
    pub maxex: bool,
}

/// Redis's `sdscmplex` of a member with a bound.
fn cmp_lex(v: &[u8], b: &LexBound) -> Ordering {
    match b {
        LexBound::Min => Ordering::Greater,
        LexBound::Max => Ordering::Less,
        LexBound::Value(b) => v.cmp(b),
    }
}

impl LexRange {
    pub fn gte_min(&self, v: &[u8]) -> bool {
        let c = cmp_lex(v, &self.min);
        if self.minex {
            c == Ordering::Greater
        } else {
            c != Ordering::Less
        }
    }

    pub fn lte_max(&self, v: &[u8]) -> bool {
        let c = cmp_lex(v, &self.max);
        if self.maxex {
            c == Ordering::Less
        } else {
            c != Ordering::Greater
        }
    }

    /// A range that can hold nothing (`sdscmplex(min, max)`).
    pub fn is_empty(&self) -> bool {
        use LexBound::*;
        let c = match (&self.min, &self.max) {
            (a, b) if a == b => Ordering::Equal,
            (Min, _) | (_, Max) => Ordering::Less,
            (Max, _) | (_, Min) => Ordering::Greater,
            (Value(a), Value(b)) => a.cmp(b),
        };
        c == Ordering::Greater || (c == Ordering::Equal && (self.minex || self.maxex))
    }
}

/// The score as a listpack stores it: an integral score is an integer, so -0 is 0.
fn lp_score(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

/// How ZSCAN shows the score of a listpack-encoded set: integral scores that Redis stores as
/// integers (`double2ll`) in decimal, others as `%.17g`.
pub fn listpack_score_text(s: f64) -> String {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if (-HALF..=HALF).contains(&s) && s.fract() == 0.0 {
        itoa::Buffer::new().format(s as i64).to_string()
    } else {
        picket_common::resp::format_double(s)
    }
}

/// Why a loaded sorted set is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError {
    Duplicate,
    NanScore,
}

// ---------------------------------------------------------------------------------- the value

#[derive(Debug, Clone)]
pub enum ZSet {
    /// Member and score entries alternating, sorted by (score, member); no score is -0.
    Listpack(Packed),
    Skiplist(Box<SkipList>),
}

// The value lives inline in the keyspace entry's `Value` (32 bytes with its tag).
const _: () = assert!(std::mem::size_of::<ZSet>() <= 24);

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Listpack(Packed::new())
    }
}

/// Members with their scores in order, from a rank, up or down.
///
/// `Down` carries its stack buffer of positions (a few hundred bytes): an iterator lives on the
/// stack for one walk, and boxing that variant would cost an allocation per reverse walk.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Iter<'a> {
    Up(listpack::Up<'a>),
    Down(listpack::Down<'a>),
    Skip {
        sl: &'a SkipList,
        cur: u32,
        rev: bool,
    },
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        match self {
            Iter::Up(it) => it.next(),
            Iter::Down(it) => it.next(),
            Iter::Skip { sl, cur, rev } => {
                if *cur == NIL {
                    return None;
                }
                let (m, s, next) = sl.step(*cur, *rev);
                *cur = next;
                Some((m, s))
            }
        }
    }
}

impl ZSet {
    /// An empty skiplist-encoded set.
    pub fn new_skiplist(seed: u64) -> ZSet {
        ZSet::Skiplist(Box::new(SkipList::new(seed)))
    }

    /// The empty set ZADD creates for a new key whose first member is `first_len` bytes long.
    pub fn for_first_member(first_len: usize, lim: Limits, seed: Seed) -> ZSet {
        if lim.max_entries == 0 || lim.max_value < first_len {
            ZSet::new_skiplist(seed())
        } else {
            ZSet::Listpack(Packed::new())
        }
    }

    /// A loaded set (RDB): `pairs` in any order; `compact` when the file had it as a
    /// listpack/ziplist. As Redis's loader: a compact set longer than `max_entries` becomes a
    /// skiplist, a skiplist that fits both limits becomes a listpack. Duplicates and NaN scores
    /// are refused.
    pub fn from_pairs(
        mut pairs: Vec<(SmallBytes, f64)>,
        compact: bool,
        lim: Limits,
        seed: Seed,
    ) -> Result<ZSet, LoadError> {
        if pairs.iter().any(|(_, s)| s.is_nan()) {
            return Err(LoadError::NanScore);
        }
        pairs.sort_by(|a, b| {
            a.1.partial_cmp(&b.1)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
        });
        let mut sorted_members: Vec<&[u8]> = pairs.iter().map(|(m, _)| m.as_bytes()).collect();
        sorted_members.sort_unstable();
        if sorted_members.windows(2).any(|w| w[0] == w[1]) {
            return Err(LoadError::Duplicate);
        }
        if compact && pairs.len() <= lim.max_entries {
            return Ok(ZSet::from_sorted(
                pairs,
                Limits {
                    max_value: usize::MAX,
                    ..lim
                },
                seed,
            ));
        }
        Ok(ZSet::from_sorted(pairs, lim, seed))
    }

    /// A set from pairs already sorted by (score, member), members distinct, scores not NaN
    /// (results of the set algebra): a listpack when the length and the longest member fit
    /// the limits, else a skiplist (Redis's `zsetConvertToListpackIfNeeded`).
    pub fn from_sorted(mut pairs: Vec<(SmallBytes, f64)>, lim: Limits, seed: Seed) -> ZSet {
        let fits =
            pairs.len() <= lim.max_entries && pairs.iter().all(|(m, _)| m.len() <= lim.max_value);
        if fits {
            // -0 and 0 sort as equals, so making every -0 a 0 keeps the order.
            for p in pairs.iter_mut() {
                p.1 = lp_score(p.1);
            }
            return ZSet::Listpack(listpack::from_sorted(
                pairs.iter().map(|(m, s)| (m.as_bytes(), *s)),
            ));
        }
        ZSet::Skiplist(Box::new(SkipList::from_sorted(seed(), pairs)))
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(p) => p.len() / 2,
            ZSet::Skiplist(sl) => sl.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }

    /// Heap bytes owned by the sorted set.
    pub fn mem_usage(&self) -> usize {
        match self {
            ZSet::Listpack(p) => p.heap_size(),
            ZSet::Skiplist(sl) => std::mem::size_of::<SkipList>() + sl.mem_usage(),
        }
    }

    /// Members with their scores in (score, member) order, lowest first (SORT, RDB saving).
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// Members from 0-based ascending `rank` on, upwards, or downwards when `rev`.
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        match self {
            ZSet::Listpack(p) => {
                if rev {
                    Iter::Down(listpack::Down::new(p, rank))
                } else {
                    let at = if rank == 0 {
                        p.first()
                    } else {
                        p.index(2 * rank).unwrap_or(p.end())
                    };
                    Iter::Up(listpack::Up(p.iter_from(at)))
                }
            }
            ZSet::Skiplist(sl) => Iter::Skip {
                sl,
                cur: sl.node_at(rank),
                rev,
            },
        }
    }

    /// The member at 0-based ascending `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter_from(rank, false).next()
    }

    #[inline]
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(p) => {
                listpack::find(p, member).map(|f| listpack::decode_score(p.get(f.score_at)))
            }
            ZSet::Skiplist(sl) => sl.score(member),
        }
    }

    /// 0-based ascending rank of a member.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Listpack(p) => listpack::find(p, member).map(|f| f.rank),
            ZSet::Skiplist(sl) => {
                let s = sl.score(member)?;
                Some(sl.rank_of(s, member) - 1)
            }
        }
    }

    /// Rank of the first member whose score is in the range (Redis's `z*FirstInRange`).
    pub fn first_in_score(&self, r: &ScoreRange) -> Option<usize> {
        match self {
            ZSet::Listpack(_) => {
                if r.is_empty() {
                    return None;
                }
                // Scores ascend: the first one above the minimum, if it is below the maximum.
                let (i, (_, s)) = self.iter().enumerate().find(|(_, (_, s))| r.gte_min(*s))?;
                r.lte_max(s).then_some(i)
            }
            ZSet::Skiplist(sl) => sl.first_in_score(r),
        }
    }

    /// Rank of the last member whose score is in the range.
    pub fn last_in_score(&self, r: &ScoreRange) -> Option<usize> {
        match self {
            ZSet::Listpack(_) => {
                if r.is_empty() {
                    return None;
                }
                // The last one below the maximum, if it is above the minimum.
                let mut last = None;
                for (i, (_, s)) in self.iter().enumerate() {
                    if !r.lte_max(s) {
                        break;
                    }
                    last = Some((i, s));
                }
                let (i, s) = last?;
                r.gte_min(s).then_some(i)
            }
            ZSet::Skiplist(sl) => sl.last_in_score(r),
        }
    }

    /// The first and last members of a listpack.
    fn ends(&self) -> Option<(&[u8], &[u8])> {
        let ZSet::Listpack(p) = self else {
            return None;
        };
        if p.is_empty() {
            return None;
        }
        let first = p.get(p.first());
        let last = p.get(p.index(p.len() - 2)?);
        Some((first, last))
    }

    /// Rank of the first member in the lex range. The listpack is scanned from the start as
    /// Redis does, so even members of different scores give Redis's answer.
    pub fn first_in_lex(&self, r: &LexRange) -> Option<usize> {
        match self {
            ZSet::Listpack(_) => {
                let (first, last) = self.ends()?;
                if r.is_empty() || !r.gte_min(last) || !r.lte_max(first) {
                    return None;
                }
                let (i, (m, _)) = self.iter().enumerate().find(|(_, (m, _))| r.gte_min(m))?;
                r.lte_max(m).then_some(i)
            }
            ZSet::Skiplist(sl) => sl.first_in_lex(r),
        }
    }

    /// Rank of the last member in the lex range (as Redis's scan from the end of a listpack).
    pub fn last_in_lex(&self, r: &LexRange) -> Option<usize> {
        match self {
            ZSet::Listpack(_) => {
                let (first, last) = self.ends()?;
                if r.is_empty() || !r.gte_min(last) || !r.lte_max(first) {
                    return None;
                }
                let (i, m) = self
                    .iter()
                    .enumerate()
                    .filter(|(_, (m, _))| r.lte_max(m))
                    .map(|(i, (m, _))| (i, m))
                    .last()?;
                r.gte_min(m).then_some(i)
            }
            ZSet::Skiplist(sl) => sl.last_in_lex(r),
        }
    }

    /// Add a member that is not in the set (Redis's `zsetAdd` for a new element): a listpack
    /// converts first when the member would make it too long, or is itself too long.
    pub fn insert(&mut self, member: &[u8], score: f64, lim: Limits, seed: Seed) {
        if let ZSet::Listpack(p) = self {
            if p.len() / 2 < lim.max_entries && member.len() <= lim.max_value {
                listpack::insert(p, member, lp_score(score));
                return;
            }
            self.convert_to_skiplist(seed);
        }
        if let ZSet::Skiplist(sl) = self {
            sl.insert(member, score);
        }
    }

    /// Change the score of a member from `cur` (its score) to `new`.
    pub fn set_score(&mut self, member: &[u8], cur: f64, new: f64) {
        match self {
            ZSet::Listpack(p) => {
                if let Some(f) = listpack::find(p, member) {
                    listpack::set_score(p, f, member, lp_score(new));
                }
            }
            ZSet::Skiplist(sl) => sl.update_score(member, cur, new),
        }
    }

    /// Remove a member; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Listpack(p) => match listpack::find(p, member) {
                Some(f) => {
                    p.remove(f.at, 2);
                    true
                }
                None => false,
            },
            ZSet::Skiplist(sl) => sl.remove(member).is_some(),
        }
    }

    /// Remove and return the member at 0-based ascending `rank`.
    pub fn remove_at(&mut self, rank: usize) -> Option<(SmallBytes, f64)> {
        match self {
            ZSet::Listpack(p) => {
                let at = p.index(2 * rank)?;
                let mut it = p.iter_from(at);
                let m = SmallBytes::from(it.next()?);
                let s = listpack::decode_score(it.next()?);
                p.remove(at, 2);
                Some((m, s))
            }
            ZSet::Skiplist(sl) => sl.remove_at(rank),
        }
    }

    /// Remove the members of ranks `lo..=hi` (0-based, ascending, within the set); returns
    /// how many.
    pub fn remove_ranks(&mut self, lo: usize, hi: usize) -> usize {
        if lo > hi || lo >= self.len() {
            return 0;
        }
        let hi = hi.min(self.len() - 1);
        match self {
            ZSet::Listpack(p) => {
                if let Some(at) = p.index(2 * lo) {
                    p.remove(at, 2 * (hi - lo + 1));
                }
            }
            ZSet::Skiplist(sl) => {
                for _ in lo..=hi {
                    sl.remove_at(lo);
                }
            }
        }
        hi - lo + 1
    }

    /// Convert a listpack to a skiplist (Redis's `zsetConvert`).
    pub fn convert_to_skiplist(&mut self, seed: Seed) {
        if let ZSet::Listpack(_) = self {
            let pairs = self.iter().map(|(m, s)| (SmallBytes::from(m), s)).collect();
            *self = ZSet::Skiplist(Box::new(SkipList::from_sorted(seed(), pairs)));
        }
    }

    /// Redis's `zsetConvertToListpackIfNeeded`: a skiplist whose length and longest member
    /// fit the limits becomes a listpack (results of ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE).
    pub fn shrink_if_fits(&mut self, lim: Limits) {
        if let ZSet::Skiplist(sl) = self {
            if sl.len() <= lim.max_entries && sl.longest_member() <= lim.max_value {
                // The skiplist may hold a -0, which sorts with the zeros: 0 keeps the order.
                let p = listpack::from_sorted(self.iter().map(|(m, s)| (m, lp_score(s))));
                *self = ZSet::Listpack(p);
            }
        }
    }

    /// A random member: a fair dict pick for a skiplist (Redis's `dictGetFairRandomKey`), a
    /// uniform one in a listpack.
    pub fn random(&self, rand: &mut dyn FnMut() -> u64) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Listpack(p) => {
                if p.is_empty() {
                    return None;
                }
                self.get((rand() % (p.len() / 2) as u64) as usize)
            }
            ZSet::Skiplist(sl) => sl.random(rand),
        }
    }

    /// One ZSCAN step over a skiplist's dict (member, score); a listpack is visited whole and
    /// the returned cursor is 0.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Listpack(_) => {
                for (m, s) in self.iter() {
                    f(m, s);
                }
                0
            }
            ZSet::Skiplist(sl) => sl.scan(cursor, f),
        }
    }

    /// Check the internal invariants (tests).
    pub fn check(&self) -> Result<(), String> {
        match self {
            ZSet::Listpack(p) => listpack::check(p),
            ZSet::Skiplist(sl) => sl.check(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits {
        max_entries: 8,
        max_value: 10,
    };

    fn seed() -> impl FnMut() -> u64 {
        let mut x = 7u64;
        move || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            x
        }
    }

    fn all(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    /// The same members in both encodings.
    fn both(pairs: &[(&str, f64)]) -> (ZSet, ZSet) {
        let mut s = seed();
        let wide = Limits {
            max_entries: 1000,
            max_value: 1000,
        };
        let mut lp = ZSet::default();
        let mut sl = ZSet::new_skiplist(3);
        for (m, x) in pairs {
            lp.insert(m.as_bytes(), *x, wide, &mut s);
            sl.insert(m.as_bytes(), *x, wide, &mut s);
        }
        assert_eq!((lp.encoding(), sl.encoding()), ("listpack", "skiplist"));
        lp.check().unwrap();
        (lp, sl)
    }

    #[test]
    fn both_encodings_answer_alike() {
        let pairs = [
            ("a", 1.0),
            ("b", 1.0),
            ("c", 2.5),
            ("d", -3.0),
            ("e", 0.1),
            ("f", 1e20),
            ("g", f64::INFINITY),
            ("h", f64::NEG_INFINITY),
            ("i", 0.0),
            ("j", 2.5),
        ];
        let (lp, sl) = both(&pairs);
        assert_eq!(all(&lp), all(&sl));
        assert_eq!(lp.len(), sl.len());
        for rank in 0..lp.len() + 1 {
            for rev in [false, true] {
                let a: Vec<_> = lp.iter_from(rank, rev).collect();
                let b: Vec<_> = sl.iter_from(rank, rev).collect();
                assert_eq!(a, b, "rank {rank} rev {rev}");
            }
        }
        for (m, x) in pairs {
            assert_eq!(lp.score(m.as_bytes()), Some(x));
            assert_eq!(lp.rank(m.as_bytes()), sl.rank(m.as_bytes()));
        }
        assert_eq!(lp.score(b"zz"), None);
        let bounds = [
            f64::NEG_INFINITY,
            -3.0,
            0.0,
            0.1,
            1.0,
            2.0,
            2.5,
            1e20,
            f64::INFINITY,
        ];
        for &min in &bounds {
            for &max in &bounds {
                for (minex, maxex) in [(false, false), (true, false), (false, true), (true, true)] {
                    let r = ScoreRange {
                        min,
                        max,
                        minex,
                        maxex,
                    };
                    assert_eq!(lp.first_in_score(&r), sl.first_in_score(&r), "{r:?}");
                    assert_eq!(lp.last_in_score(&r), sl.last_in_score(&r), "{r:?}");
                }
            }
        }
        // Lex ranges over members of one score, as they are meant to be used.
        let same: Vec<(String, f64)> = (0..6).map(|i| (format!("m{i}"), 5.0)).collect();
        let same: Vec<(&str, f64)> = same.iter().map(|(m, s)| (m.as_str(), *s)).collect();
        let (lp, sl) = both(&same);
        let b = |s: &str| match s {
            "-" => LexBound::Min,
            "+" => LexBound::Max,
            v => LexBound::Value(v.as_bytes().to_vec()),
        };
        for min in ["-", "+", "m0", "m2", "m5", "m9", "a"] {
            for max in ["-", "+", "m0", "m3", "m5", "m9", "a"] {
                for (minex, maxex) in [(false, false), (true, true)] {
                    let r = LexRange {
                        min: b(min),
                        minex,
                        max: b(max),
                        maxex,
                    };
                    assert_eq!(lp.first_in_lex(&r), sl.first_in_lex(&r), "{r:?}");
                    assert_eq!(lp.last_in_lex(&r), sl.last_in_lex(&r), "{r:?}");
                }
            }
        }
    }

    #[test]
    fn listpack_converts_at_the_limits_and_shrinks_back() {
        let mut s = seed();
        let mut z = ZSet::for_first_member(1, LIM, &mut s);
        for i in 0..8 {
            z.insert(format!("m{i}").as_bytes(), i as f64 * 0.5, LIM, &mut s);
        }
        assert_eq!(z.encoding(), "listpack");
        let before = all(&z);
        z.insert(b"m8", 100.0, LIM, &mut s);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(all(&z)[..8], before[..]);
        z.check().unwrap();

        let mut z = ZSet::default();
        z.insert(b"short", 1.0, LIM, &mut s);
        z.insert(b"far-too-long", 2.0, LIM, &mut s);
        assert_eq!(z.encoding(), "skiplist");
        assert!(matches!(
            ZSet::for_first_member(11, LIM, &mut s),
            ZSet::Skiplist(_)
        ));

        // A skiplist may hold -0; back in a listpack it is 0, in order among the zeros.
        let mut z = ZSet::new_skiplist(1);
        for (m, x) in [("b", -0.0), ("a", 0.0), ("c", -1.5), ("d", 7.0)] {
            z.insert(m.as_bytes(), x, LIM, &mut s);
        }
        z.shrink_if_fits(LIM);
        assert_eq!(z.encoding(), "listpack");
        z.check().unwrap();
        let got = all(&z);
        assert_eq!(
            got.iter().map(|(m, _)| &m[..]).collect::<Vec<_>>(),
            [&b"c"[..], b"a", b"b", b"d"]
        );
        assert!(got
            .iter()
            .all(|(_, x)| !(*x == 0.0 && x.is_sign_negative())));
        let mut z2 = z.clone();
        z2.convert_to_skiplist(&mut s);
        assert_eq!(all(&z2), got);
    }

    #[test]
    fn listpack_updates_and_removals() {
        let mut s = seed();
        let mut z = ZSet::default();
        for i in 0..6 {
            z.insert(format!("m{i}").as_bytes(), i as f64, LIM, &mut s);
        }
        z.set_score(b"m0", 0.0, 10.5);
        z.set_score(b"m5", 5.0, -0.0);
        z.set_score(b"m3", 3.0, 3.25);
        z.check().unwrap();
        assert_eq!(z.score(b"m5"), Some(0.0));
        assert_eq!(
            all(&z).iter().map(|(m, _)| m[1] - b'0').collect::<Vec<_>>(),
            [5, 1, 2, 3, 4, 0]
        );
        assert_eq!(
            z.remove_at(0).map(|(m, x)| (m.as_bytes().to_vec(), x)),
            Some((b"m5".to_vec(), 0.0))
        );
        assert!(z.remove(b"m2"));
        assert!(!z.remove(b"m2"));
        assert_eq!(z.remove_ranks(1, 2), 2);
        assert_eq!(all(&z), vec![(b"m1".to_vec(), 1.0), (b"m0".to_vec(), 10.5)]);
        assert_eq!(z.remove_ranks(0, 5), 2);
        assert!(z.is_empty());
        assert_eq!(z.mem_usage(), 0);
        assert!(z.remove_at(0).is_none());
        assert!(z.iter_from(0, true).next().is_none());
        assert!(z.random(&mut seed()).is_none());
    }

    #[test]
    fn loaded_sets_choose_their_encoding() {
        let mut s = seed();
        let pairs = |n: usize| -> Vec<(SmallBytes, f64)> {
            (0..n)
                .map(|i| (SmallBytes::from(format!("m{i}").as_bytes()), (n - i) as f64))
                .collect()
        };
        let z = ZSet::from_pairs(pairs(8), true, LIM, &mut s).unwrap();
        assert_eq!(z.encoding(), "listpack");
        z.check().unwrap();
        assert_eq!(z.get(0), Some((&b"m7"[..], 1.0)));
        let z = ZSet::from_pairs(pairs(9), true, LIM, &mut s).unwrap();
        assert_eq!(z.encoding(), "skiplist");
        let z = ZSet::from_pairs(pairs(3), false, LIM, &mut s).unwrap();
        assert_eq!(z.encoding(), "listpack");
        let mut dup = pairs(3);
        dup.push((SmallBytes::from(&b"m1"[..]), 9.0));
        assert_eq!(
            ZSet::from_pairs(dup, true, LIM, &mut s).err(),
            Some(LoadError::Duplicate)
        );
        let mut nan = pairs(2);
        nan[0].1 = f64::NAN;
        assert_eq!(
            ZSet::from_pairs(nan, true, LIM, &mut s).err(),
            Some(LoadError::NanScore)
        );
    }
}
