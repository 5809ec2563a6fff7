//! List values. Redis 7.0 stores every list as a quicklist (OBJECT ENCODING `quicklist`);
//! picket keeps a small list in one [`Packed`] buffer (the compact encoding Redis 7.2 gives
//! small lists: a single listpack) and a big one in a ring buffer of compact byte strings
//! (O(1) push/pop at both ends and O(1) index). The encoding is not visible to clients: both
//! report `quicklist`, as Redis 7.0 does.
//!
//! A list is packed while it holds at most [`PACKED_MAX_LEN`] elements in at most
//! [`PACKED_MAX_BYTES`] encoded bytes. The byte limit is a quicklist node's under the default
//! `list-max-listpack-size -2` (8 KB), the limit Redis 7.2 converts a listpack list at; the
//! element limit bounds the walks, since a `Packed` has no back-lengths and reaches its tail
//! (RPOP, LINDEX -1) by walking from the head. Past either limit it becomes a deque, and
//! only returns to packed below half of both (as Redis 7.2's `listTypeTryConvertQuicklist`),
//! so a list at the boundary does not convert on every push and pop.
//!
//! Elements are compared by their bytes: Redis stores canonical integers as integers in its
//! listpack nodes and compares them with `lpStringToInt64`, which accepts exactly the canonical
//! forms, so byte equality gives the same answers.
//!
//! The operations take Redis's signed indexes and counts and reproduce its arithmetic,
//! including what its C integer overflows do at the extremes (LPOS RANK and LREM count of
//! `LONG_MIN`).

use std::collections::{vec_deque, VecDeque};

use super::packed::{self, Entries, Packed};
use super::SmallBytes;

/// Most elements of a packed list.
pub const PACKED_MAX_LEN: usize = 128;
/// Most encoded bytes of a packed list (a quicklist node's size under the default
/// `list-max-listpack-size -2`).
pub const PACKED_MAX_BYTES: usize = 8192;

/// Which end of a list (Redis's `LIST_HEAD` / `LIST_TAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

#[derive(Debug, Clone)]
pub struct List(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Packed(Packed),
    /// Boxed: a `VecDeque` takes 32 bytes, and a `List` must fit in 24 inside a `Value`.
    #[allow(clippy::box_collection)]
    Deque(Box<VecDeque<SmallBytes>>),
}

const _: () = assert!(std::mem::size_of::<List>() <= 24);

impl Default for List {
    fn default() -> Self {
        List(Repr::Packed(Packed::new()))
    }
}

/// What LPOS looks for besides the element (`RANK`, `COUNT`, `MAXLEN` as parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosQuery {
    /// Non-zero; negative searches from the tail.
    pub rank: i64,
    /// None without COUNT; Some(0) for all matches.
    pub count: Option<i64>,
    /// 0 for no limit.
    pub maxlen: i64,
}

fn fits_packed(len: usize, bytes: usize) -> bool {
    len <= PACKED_MAX_LEN && bytes <= PACKED_MAX_BYTES
}

/// Iterator over the elements of a list (or of a range of it), head to tail.
pub enum Iter<'a> {
    Packed(std::iter::Take<Entries<'a>>),
    Deque(vec_deque::Iter<'a, SmallBytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Iter::Packed(it) => it.next(),
            Iter::Deque(it) => it.next().map(SmallBytes::as_bytes),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            // `Take` over entries that never run out before the count.
            Iter::Packed(it) => {
                let n = it.size_hint().1.unwrap_or(0);
                (n, Some(n))
            }
            Iter::Deque(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// LPOS's scan over `(index, element)` in search order (Redis's `lposCommand`).
fn lpos_scan<'a>(
    it: impl Iterator<Item = (usize, &'a [u8])>,
    elem: &[u8],
    rank: i64,
    q: PosQuery,
) -> Vec<i64> {
    let mut out = Vec::new();
    let mut matches: i64 = 0;
    for (scanned, (pos, e)) in it.enumerate() {
        if q.maxlen != 0 && scanned as i64 >= q.maxlen {
            break;
        }
        if e != elem {
            continue;
        }
        matches += 1;
        if matches >= rank {
            out.push(pos as i64);
            match q.count {
                None => break,
                Some(count) => {
                    if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
                        break;
                    }
                }
            }
        }
    }
    out
}

impl List {
    pub fn new() -> Self {
        List::default()
    }

    /// A list of these elements, in order, in the encoding their number and size call for.
    pub fn from_items<T: AsRef<[u8]>>(items: &[T]) -> Self {
        let bytes = packed::encoded_size(items.iter().map(|x| x.as_ref()));
        if fits_packed(items.len(), bytes) {
            List(Repr::Packed(Packed::from_entries(
                items.iter().map(|x| x.as_ref()),
            )))
        } else {
            List(Repr::Deque(Box::new(
                items.iter().map(|x| SmallBytes::from(x.as_ref())).collect(),
            )))
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Packed(p) => p.len(),
            Repr::Deque(d) => d.len(),
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Whether the list is in its compact encoding (for tests and DEBUG).
    pub fn is_packed(&self) -> bool {
        matches!(self.0, Repr::Packed(_))
    }

    /// The ring buffer of a big list (None when packed), for memory accounting.
    pub fn as_deque(&self) -> Option<&VecDeque<SmallBytes>> {
        match &self.0 {
            Repr::Packed(_) => None,
            Repr::Deque(d) => Some(d),
        }
    }

    /// Heap bytes owned by the list.
    pub fn mem_usage(&self) -> usize {
        match &self.0 {
            Repr::Packed(p) => p.heap_size(),
            Repr::Deque(d) => {
                std::mem::size_of::<VecDeque<SmallBytes>>()
                    + d.capacity() * std::mem::size_of::<SmallBytes>()
                    + d.iter().map(SmallBytes::heap_size).sum::<usize>()
            }
        }
    }

    /// The elements, head to tail.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Packed(p) => Iter::Packed(p.iter().take(p.len())),
            Repr::Deque(d) => Iter::Deque(d.iter()),
        }
    }

    /// The elements at positions `start..=end` (as [`List::range`] gives them).
    #[inline]
    pub fn iter_range(&self, start: usize, end: usize) -> Iter<'_> {
        match &self.0 {
            Repr::Packed(p) => {
                let n = (end + 1).min(p.len()).saturating_sub(start);
                let from = p.index(start).unwrap_or(p.end());
                Iter::Packed(p.iter_from(from).take(n))
            }
            Repr::Deque(d) => {
                if start > end || start >= d.len() {
                    Iter::Deque(d.range(0..0))
                } else {
                    Iter::Deque(d.range(start..=end.min(d.len() - 1)))
                }
            }
        }
    }

    /// Turn a packed list into a deque (it outgrew the limits).
    fn make_deque(&mut self, extra: usize) {
        if let Repr::Packed(p) = &self.0 {
            let mut d = VecDeque::with_capacity(p.len() + extra);
            d.extend(p.iter().map(SmallBytes::from));
            self.0 = Repr::Deque(Box::new(d));
        }
    }

    /// After a deque lost elements (or LSET shrank one): back to packed when within half of
    /// the limits; else give memory back if the deque became sparse (Redis frees quicklist
    /// nodes as they empty).
    fn relax(&mut self) {
        let Repr::Deque(d) = &mut self.0 else {
            return;
        };
        if d.len() <= PACKED_MAX_LEN / 2 {
            let bytes = packed::encoded_size(d.iter().map(SmallBytes::as_bytes));
            if bytes <= PACKED_MAX_BYTES / 2 {
                let p = Packed::from_entries(d.iter().map(SmallBytes::as_bytes));
                self.0 = Repr::Packed(p);
                return;
            }
        }
        let cap = d.capacity();
        if cap > 64 && d.len() < cap / 4 {
            d.shrink_to(d.len() * 2);
        }
    }

    /// Whether a packed list may take `add` more elements of `bytes` encoded bytes.
    fn packed_room(p: &Packed, add: usize, bytes: usize) -> bool {
        let now = if p.is_empty() {
            packed::HEADER
        } else {
            p.byte_len()
        };
        fits_packed(p.len() + add, now + bytes)
    }

    pub fn push(&mut self, end: End, v: &[u8]) {
        if let Repr::Packed(p) = &mut self.0 {
            if Self::packed_room(p, 1, packed::entry_size(v.len())) {
                match end {
                    End::Left => p.insert(p.first(), v),
                    End::Right => p.push(v),
                }
                return;
            }
            self.make_deque(1);
        }
        if let Repr::Deque(d) = &mut self.0 {
            match end {
                End::Left => d.push_front(SmallBytes::from(v)),
                End::Right => d.push_back(SmallBytes::from(v)),
            }
        }
    }

    pub fn pop(&mut self, end: End) -> Option<SmallBytes> {
        match &mut self.0 {
            Repr::Packed(p) => {
                let pos = match end {
                    End::Left if p.is_empty() => return None,
                    End::Left => p.first(),
                    End::Right => p.last()?,
                };
                let v = SmallBytes::from(p.get(pos));
                p.remove(pos, 1);
                Some(v)
            }
            Repr::Deque(d) => {
                let v = match end {
                    End::Left => d.pop_front(),
                    End::Right => d.pop_back(),
                };
                self.relax();
                v
            }
        }
    }

    /// Pop up to `n` elements from one end, in the order they come off.
    pub fn pop_many(&mut self, end: End, n: usize) -> Vec<SmallBytes> {
        let n = n.min(self.len());
        match &mut self.0 {
            Repr::Packed(p) => {
                let at = match end {
                    End::Left => p.first(),
                    End::Right => p.index(p.len() - n).unwrap_or(p.end()),
                };
                let mut v: Vec<SmallBytes> =
                    p.iter_from(at).take(n).map(SmallBytes::from).collect();
                if end == End::Right {
                    v.reverse();
                }
                p.remove(at, n);
                v
            }
            Repr::Deque(d) => {
                let popped = match end {
                    End::Left => d.drain(..n).collect(),
                    End::Right => {
                        let at = d.len() - n;
                        let mut v: Vec<SmallBytes> = d.drain(at..).collect();
                        v.reverse();
                        v
                    }
                };
                self.relax();
                popped
            }
        }
    }

    /// The position of a signed index (negative counts from the tail, -1 = last), if it is
    /// inside the list.
    pub fn position(&self, index: i64) -> Option<usize> {
        let len = self.len() as i64;
        let i = if index < 0 {
            len.checked_add(index)?
        } else {
            index
        };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// LINDEX.
    #[inline]
    pub fn get(&self, index: i64) -> Option<&[u8]> {
        let i = self.position(index)?;
        match &self.0 {
            Repr::Packed(p) => p.index(i).map(|pos| p.get(pos)),
            Repr::Deque(d) => d.get(i).map(SmallBytes::as_bytes),
        }
    }

    /// LSET: replace the element at a signed index; false when out of range.
    pub fn set(&mut self, index: i64, v: &[u8]) -> bool {
        let Some(i) = self.position(index) else {
            return false;
        };
        if let Repr::Packed(p) = &mut self.0 {
            let Some(pos) = p.index(i) else {
                return false;
            };
            let old = packed::entry_size(p.get(pos).len());
            let bytes = p.byte_len() - old + packed::entry_size(v.len());
            if fits_packed(p.len(), bytes) {
                p.replace(pos, v);
                return true;
            }
            self.make_deque(0);
        }
        if let Repr::Deque(d) = &mut self.0 {
            d[i] = SmallBytes::from(v);
        }
        self.relax();
        true
    }

    /// The inclusive positions of LRANGE's `start`..`end` (Redis's `addListRangeReply`), or
    /// None for an empty range.
    pub fn range(&self, start: i64, end: i64) -> Option<(usize, usize)> {
        let len = self.len() as i64;
        let mut start = if start < 0 { len + start } else { start };
        let mut end = if end < 0 { len + end } else { end };
        if start < 0 {
            start = 0;
        }
        if start > end || start >= len {
            return None;
        }
        if end >= len {
            end = len - 1;
        }
        Some((start as usize, end as usize))
    }

    /// LTRIM: keep only `start`..`end`; returns how many elements were removed.
    pub fn trim(&mut self, start: i64, end: i64) -> usize {
        let len = self.len();
        let range = self.range(start, end);
        match &mut self.0 {
            Repr::Packed(p) => match range {
                None => *p = Packed::new(),
                Some((s, e)) if e - s + 1 < len => {
                    let from = p.index(s).unwrap_or(p.end());
                    *p = Packed::from_entries(p.iter_from(from).take(e - s + 1));
                }
                Some(_) => {}
            },
            Repr::Deque(d) => {
                match range {
                    None => d.clear(),
                    Some((s, e)) => {
                        d.truncate(e + 1);
                        d.drain(..s);
                    }
                }
                self.relax();
            }
        }
        len - self.len()
    }

    /// LREM: remove elements equal to `elem`, the first `count` from the head (count > 0),
    /// from the tail (count < 0) or all (0). Returns how many were removed.
    pub fn remove(&mut self, count: i64, elem: &[u8]) -> usize {
        // Redis negates the count in C: LONG_MIN stays negative, so it never equals the number
        // removed and every match goes.
        let from_tail = count < 0;
        let limit = if from_tail {
            count.wrapping_neg()
        } else {
            count
        };
        let n = self.len();
        let mut keep = vec![true; n];
        let mut removed: i64 = 0;
        let mut mark = |i: usize, e: &[u8]| {
            if e == elem {
                keep[i] = false;
                removed += 1;
                if limit != 0 && removed == limit {
                    return false;
                }
            }
            true
        };
        match (&self.0, from_tail) {
            (Repr::Packed(p), false) => {
                let _ = p.iter().enumerate().all(|(i, e)| mark(i, e));
            }
            (Repr::Packed(p), true) => {
                // No walking back in a packed list: gather its (few) elements first.
                let all: Vec<&[u8]> = p.iter().collect();
                let _ = all.into_iter().enumerate().rev().all(|(i, e)| mark(i, e));
            }
            (Repr::Deque(d), false) => {
                let _ = d.iter().enumerate().all(|(i, e)| mark(i, e));
            }
            (Repr::Deque(d), true) => {
                let _ = d.iter().enumerate().rev().all(|(i, e)| mark(i, e));
            }
        }
        if removed > 0 {
            match &mut self.0 {
                Repr::Packed(p) => {
                    *p = Packed::from_entries(
                        p.iter()
                            .zip(keep.iter())
                            .filter(|(_, &k)| k)
                            .map(|(e, _)| e),
                    );
                }
                Repr::Deque(d) => {
                    let mut i = 0;
                    d.retain(|_| {
                        let k = keep[i];
                        i += 1;
                        k
                    });
                    self.relax();
                }
            }
        }
        removed as usize
    }

    /// LINSERT: insert `elem` before or after the first `pivot` from the head; false when
    /// the pivot is not there.
    pub fn insert(&mut self, after: bool, pivot: &[u8], elem: &[u8]) -> bool {
        if let Repr::Packed(p) = &mut self.0 {
            let Some(mut pos) = p.find(pivot, 1) else {
                return false;
            };
            if Self::packed_room(p, 1, packed::entry_size(elem.len())) {
                if after {
                    pos = p.next(pos);
                }
                p.insert(pos, elem);
                return true;
            }
            self.make_deque(1);
        }
        let Repr::Deque(d) = &mut self.0 else {
            return false;
        };
        match d.iter().position(|v| v.as_bytes() == pivot) {
            Some(i) => {
                d.insert(if after { i + 1 } else { i }, SmallBytes::from(elem));
                true
            }
            None => false,
        }
    }

    /// LPOS: the indexes of the matches of `elem` that the query selects (at most one
    /// without COUNT), as Redis's `lposCommand` finds them.
    pub fn positions(&self, elem: &[u8], q: PosQuery) -> Vec<i64> {
        let from_tail = q.rank < 0;
        // `rank = -rank` in C: LONG_MIN stays negative, so every match qualifies and the
        // COUNT test never ends the scan.
        let rank = if from_tail {
            q.rank.wrapping_neg()
        } else {
            q.rank
        };
        match (&self.0, from_tail) {
            (_, false) => lpos_scan(self.iter().enumerate(), elem, rank, q),
            (Repr::Packed(p), true) => {
                let all: Vec<&[u8]> = p.iter().collect();
                lpos_scan(all.into_iter().enumerate().rev(), elem, rank, q)
            }
            (Repr::Deque(d), true) => lpos_scan(
                d.iter().map(SmallBytes::as_bytes).enumerate().rev(),
                elem,
                rank,
                q,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        List::from_items(items)
    }

    fn strs(l: &List) -> Vec<String> {
        l.iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// The same operations on a packed and on a deque list give the same answers.
    fn both(items: &[&str]) -> [List; 2] {
        let a = list(items);
        assert!(a.is_packed());
        let mut b = a.clone();
        b.make_deque(0);
        assert!(!b.is_packed());
        [a, b]
    }

    #[test]
    fn indexes_and_ranges_like_redis() {
        for l in both(&["a", "b", "c"]) {
            assert_eq!(l.get(-1), Some(&b"c"[..]));
            assert_eq!(l.get(-3), Some(&b"a"[..]));
            assert!(l.get(-4).is_none());
            assert!(l.get(3).is_none());
            assert!(l.get(i64::MIN).is_none());
            assert!(l.get(i64::MAX).is_none());
            assert_eq!(l.range(0, -1), Some((0, 2)));
            assert_eq!(l.range(i64::MIN, i64::MAX), Some((0, 2)));
            assert_eq!(l.range(-100, 0), Some((0, 0)));
            assert_eq!(l.range(-2, -3), None);
            assert_eq!(l.range(5, 10), None);
            let got: Vec<&[u8]> = l.iter_range(1, 2).collect();
            assert_eq!(got, [&b"b"[..], b"c"]);
            assert_eq!(l.iter_range(1, 2).len(), 2);
            assert_eq!(l.iter_range(0, 0).count(), 1);
            assert_eq!(l.iter().len(), 3);
        }
    }

    #[test]
    fn trim_remove_insert() {
        for mut l in both(&["a", "b", "c", "d", "e"]) {
            assert_eq!(l.trim(1, -2), 2);
            assert_eq!(strs(&l), ["b", "c", "d"]);
            assert_eq!(l.trim(0, -1), 0);
            assert_eq!(l.trim(5, 1), 3);
            assert!(l.is_empty());
        }
        for mut l in both(&["a", "b", "a", "c", "a"]) {
            assert_eq!(l.remove(-2, b"a"), 2);
            assert_eq!(strs(&l), ["a", "b", "c"]);
        }
        for mut l in both(&["a", "b", "a", "c", "a"]) {
            assert_eq!(l.remove(1, b"a"), 1);
            assert_eq!(strs(&l), ["b", "a", "c", "a"]);
            assert_eq!(l.remove(0, b"q"), 0);
        }
        for mut l in both(&["a", "b", "a", "c", "a"]) {
            assert_eq!(l.remove(i64::MIN, b"a"), 3);
            assert_eq!(strs(&l), ["b", "c"]);
            assert!(l.insert(true, b"c", b"d"));
            assert!(l.insert(false, b"b", b"z"));
            assert!(!l.insert(false, b"q", b"z"));
            assert_eq!(strs(&l), ["z", "b", "c", "d"]);
            assert!(l.set(-1, b"D"));
            assert!(l.set(0, b"zz"));
            assert!(!l.set(4, b"x"));
            assert_eq!(strs(&l), ["zz", "b", "c", "D"]);
        }
    }

    #[test]
    fn lpos_like_redis() {
        let q = |rank, count, maxlen| PosQuery {
            rank,
            count,
            maxlen,
        };
        for l in both(&["a", "b", "c", "a", "b", "c"]) {
            assert_eq!(l.positions(b"a", q(1, None, 0)), [0]);
            assert_eq!(l.positions(b"a", q(-1, Some(0), 0)), [3, 0]);
            assert_eq!(l.positions(b"a", q(-1, Some(0), 1)), Vec::<i64>::new());
            assert_eq!(l.positions(b"a", q(2, Some(1), 0)), [3]);
            assert_eq!(l.positions(b"a", q(3, None, 0)), Vec::<i64>::new());
            assert_eq!(l.positions(b"a", q(i64::MIN, None, 0)), [3]);
            assert_eq!(l.positions(b"a", q(i64::MIN, Some(1), 0)), [3, 0]);
            assert_eq!(l.positions(b"a", q(i64::MIN, None, 3)), [3]);
            assert_eq!(l.positions(b"c", q(-2, Some(5), 0)), [2]);
        }
    }

    #[test]
    fn pop_many_in_pop_order() {
        for mut l in both(&["a", "b", "c", "d"]) {
            let right: Vec<String> = l
                .pop_many(End::Right, 3)
                .iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            assert_eq!(right, ["d", "c", "b"]);
            assert_eq!(l.pop_many(End::Left, 10).len(), 1);
            assert!(l.is_empty());
            assert!(l.pop(End::Right).is_none());
            assert!(l.pop(End::Left).is_none());
        }
        for mut l in both(&["a", "b", "c"]) {
            assert_eq!(l.pop(End::Right).as_deref(), Some(&b"c"[..]));
            assert_eq!(l.pop(End::Left).as_deref(), Some(&b"a"[..]));
            l.push(End::Left, b"x");
            l.push(End::Right, b"y");
            assert_eq!(strs(&l), ["x", "b", "y"]);
        }
    }

    #[test]
    fn converts_past_the_limits_and_back_below_half() {
        let mut l = List::new();
        for i in 0..PACKED_MAX_LEN {
            l.push(End::Right, i.to_string().as_bytes());
        }
        assert!(l.is_packed());
        assert_eq!(l.mem_usage(), packed::encoded_size(l.iter()));
        l.push(End::Left, b"one too many");
        assert!(!l.is_packed());
        assert_eq!(l.len(), PACKED_MAX_LEN + 1);
        assert_eq!(l.get(0), Some(&b"one too many"[..]));
        assert_eq!(l.get(-1), Some(&b"127"[..]));
        // Hysteresis: popping back to the limit keeps the deque.
        l.pop(End::Left);
        assert!(!l.is_packed());
        while l.len() > PACKED_MAX_LEN / 2 + 1 {
            l.pop(End::Right);
            assert!(!l.is_packed());
        }
        l.pop(End::Right);
        assert!(l.is_packed());
        assert_eq!(l.len(), PACKED_MAX_LEN / 2);
        let want: Vec<String> = (0..PACKED_MAX_LEN / 2).map(|i| i.to_string()).collect();
        assert_eq!(strs(&l), want);

        // The byte limit: one big element makes a deque, and a small list of big elements
        // only converts back below half the bytes.
        let big = vec![b'x'; PACKED_MAX_BYTES];
        let mut l = list(&["a"]);
        l.push(End::Right, &big);
        assert!(!l.is_packed());
        l.pop(End::Right);
        assert!(l.is_packed());
        let k = vec![b'k'; 1000];
        let mut l = List::from_items(&[&k[..]; 9]);
        assert!(!l.is_packed());
        l.pop(End::Left);
        l.pop(End::Left);
        l.pop(End::Left);
        l.pop(End::Left);
        assert!(!l.is_packed(), "5 KB is above half the limit");
        l.pop(End::Left);
        assert!(l.is_packed());
        // LSET and LINSERT grow a packed list past the byte limit too.
        let mut l = list(&["a", "b"]);
        assert!(l.set(0, &big));
        assert!(!l.is_packed());
        assert!(l.set(0, b"a"));
        assert!(l.is_packed());
        assert!(l.insert(true, b"a", &big));
        assert!(!l.is_packed());
        assert_eq!(l.get(1).map(<[u8]>::len), Some(big.len()));
        assert_eq!(l.remove(0, &big), 1);
        assert!(l.is_packed());
        assert_eq!(strs(&l), ["a", "b"]);
        // LTRIM and LREM shrink a deque back.
        let items: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let mut l = List::from_items(&items);
        assert!(!l.is_packed());
        assert_eq!(l.trim(10, 19), 990);
        assert!(l.is_packed());
        assert_eq!(l.get(0), Some(&b"10"[..]));
    }

    #[test]
    fn memory_is_given_back_as_the_list_shrinks() {
        let items: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
        let mut l = List::from_items(&items);
        l.pop_many(End::Left, 9_900);
        assert!(!l.is_packed());
        assert!(l.as_deque().unwrap().capacity() < 1000);
        let mut l = List::from_items(&vec!["x"; 10_000]);
        assert_eq!(l.trim(0, 9), 9_990);
        assert!(l.is_packed());
        assert_eq!(l.mem_usage(), packed::HEADER + 10 * 2);
    }

    /// Random operations across the conversion limits agree with a plain vector.
    #[test]
    fn random_walk_matches_a_model() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut l = List::new();
        let mut m: Vec<Vec<u8>> = Vec::new();
        let (mut packed, mut deque, mut target) = (0, 0, 200);
        for step in 0..20_000 {
            let size = match rnd(10) {
                0 if rnd(4) == 0 => 300 + rnd(2000) as usize,
                _ => rnd(12) as usize,
            };
            let v = vec![b'a' + rnd(3) as u8; size];
            // Drift up to 200 elements then down to none, so the list crosses the limits both
            // ways.
            if m.len() >= 200 {
                target = 0;
            } else if m.is_empty() {
                target = 200;
            }
            let grow = m.len() < target;
            match rnd(10) {
                op @ 0..=4 if grow || op < 2 => {
                    if rnd(2) == 0 {
                        l.push(End::Left, &v);
                        m.insert(0, v);
                    } else {
                        l.push(End::Right, &v);
                        m.push(v);
                    }
                }
                2..=3 => {
                    let end = if rnd(2) == 0 { End::Left } else { End::Right };
                    let got = l.pop(end).map(|b| b.to_vec());
                    let want = if m.is_empty() {
                        None
                    } else if end == End::Left {
                        Some(m.remove(0))
                    } else {
                        m.pop()
                    };
                    assert_eq!(got, want);
                }
                4 => {
                    let n = rnd(5) as usize;
                    let end = if rnd(2) == 0 { End::Left } else { End::Right };
                    let got: Vec<Vec<u8>> = l.pop_many(end, n).iter().map(|b| b.to_vec()).collect();
                    let k = n.min(m.len());
                    let want: Vec<Vec<u8>> = if end == End::Left {
                        m.drain(..k).collect()
                    } else {
                        m.drain(m.len() - k..).rev().collect()
                    };
                    assert_eq!(got, want);
                }
                5 => {
                    let i = rnd(m.len() as u64 + 2) as i64 - 1;
                    let ok = l.set(i, &v);
                    let pos = if i < 0 { m.len() as i64 + i } else { i };
                    assert_eq!(ok, (0..m.len() as i64).contains(&pos));
                    if ok {
                        m[pos as usize] = v;
                    }
                }
                6 => {
                    let pivot = vec![b'a' + rnd(3) as u8; rnd(12) as usize];
                    let after = rnd(2) == 0;
                    let ok = l.insert(after, &pivot, &v);
                    match m.iter().position(|e| *e == pivot) {
                        Some(i) => {
                            assert!(ok);
                            m.insert(if after { i + 1 } else { i }, v);
                        }
                        None => assert!(!ok),
                    }
                }
                7 => {
                    let count = rnd(5) as i64 - 2;
                    let removed = l.remove(count, &v);
                    let mut idx: Vec<usize> = (0..m.len()).filter(|&i| m[i] == v).collect();
                    if count < 0 {
                        idx.reverse();
                    }
                    if count != 0 {
                        idx.truncate(count.unsigned_abs() as usize);
                    }
                    idx.sort_unstable();
                    for &i in idx.iter().rev() {
                        m.remove(i);
                    }
                    assert_eq!(removed, idx.len());
                }
                8 if rnd(20) == 0 => {
                    let s = rnd(4) as i64;
                    let e = -(rnd(4) as i64) - 1;
                    let before = m.len();
                    let len = m.len() as i64;
                    let (s2, e2) = (s.min(len), (len + e).max(-1));
                    if s2 > e2 {
                        m.clear();
                    } else {
                        m = m[s2 as usize..=e2 as usize].to_vec();
                    }
                    assert_eq!(l.trim(s, e), before - m.len());
                }
                _ => {
                    let i = rnd(m.len() as u64 + 2) as i64 - 1;
                    let pos = if i < 0 { m.len() as i64 + i } else { i };
                    let want = usize::try_from(pos).ok().and_then(|p| m.get(p));
                    assert_eq!(l.get(i), want.map(|v| &v[..]));
                }
            }
            assert_eq!(l.len(), m.len(), "step {step}");
            if step % 97 == 0 {
                let all: Vec<&[u8]> = l.iter().collect();
                let want: Vec<&[u8]> = m.iter().map(|v| &v[..]).collect();
                assert_eq!(all, want, "step {step}");
            }
            let bytes = packed::encoded_size(m.iter().map(|v| &v[..]));
            if l.is_packed() {
                packed += 1;
                assert!(fits_packed(m.len(), bytes), "step {step}");
            } else {
                deque += 1;
                assert!(m.len() > PACKED_MAX_LEN / 2 || bytes > PACKED_MAX_BYTES / 2);
            }
        }
        assert!(packed > 1000 && deque > 1000, "{packed} {deque}");
    }

    #[test]
    fn a_small_list_fits_in_a_value() {
        assert!(std::mem::size_of::<List>() <= 24);
        let l = list(&["item:1", "item:2"]);
        assert_eq!(l.mem_usage(), packed::HEADER + 2 * 7);
    }
}
