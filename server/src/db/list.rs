//! List values. Redis 7.0 stores every list as a quicklist (OBJECT ENCODING `quicklist`);
//! picket keeps the elements in a ring buffer of compact byte strings: O(1) push/pop at both
//! ends and O(1) index.
//!
//! Elements are compared by their bytes: Redis stores canonical integers as integers in its
//! listpack nodes and compares them with `lpStringToInt64`, which accepts exactly the canonical
//! forms, so byte equality gives the same answers.
//!
//! The operations take Redis's signed indexes and counts and reproduce its arithmetic,
//! including what its C integer overflows do at the extremes (LPOS RANK and LREM count of
//! `LONG_MIN`).

use std::collections::VecDeque;

use super::SmallBytes;

/// Which end of a list (Redis's `LIST_HEAD` / `LIST_TAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

#[derive(Debug, Clone, Default)]
pub struct List {
    pub items: VecDeque<SmallBytes>,
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

impl List {
    pub fn new() -> Self {
        List::default()
    }

    /// A list of these elements, in order.
    pub fn from_items<I: IntoIterator<Item = SmallBytes>>(items: I) -> Self {
        List {
            items: items.into_iter().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned by the list.
    pub fn mem_usage(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<SmallBytes>()
            + self.items.iter().map(SmallBytes::heap_size).sum::<usize>()
    }

    pub fn push(&mut self, end: End, v: SmallBytes) {
        match end {
            End::Left => self.items.push_front(v),
            End::Right => self.items.push_back(v),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<SmallBytes> {
        let v = match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        };
        self.shrink_if_sparse();
        v
    }

    /// Give memory back after a list shrank to a small part of what it held (Redis frees
    /// quicklist nodes as they empty).
    fn shrink_if_sparse(&mut self) {
        let cap = self.items.capacity();
        if cap > 64 && self.items.len() < cap / 4 {
            self.items.shrink_to(self.items.len() * 2);
        }
    }

    /// Pop up to `n` elements from one end, in the order they come off.
    pub fn pop_many(&mut self, end: End, n: usize) -> Vec<SmallBytes> {
        let n = n.min(self.len());
        let popped = match end {
            End::Left => self.items.drain(..n).collect(),
            End::Right => {
                let at = self.len() - n;
                let mut v: Vec<SmallBytes> = self.items.drain(at..).collect();
                v.reverse();
                v
            }
        };
        self.shrink_if_sparse();
        popped
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
    pub fn get(&self, index: i64) -> Option<&SmallBytes> {
        self.position(index).and_then(|i| self.items.get(i))
    }

    /// LSET: replace the element at a signed index; false when out of range.
    pub fn set(&mut self, index: i64, v: SmallBytes) -> bool {
        match self.position(index).and_then(|i| self.items.get_mut(i)) {
            Some(slot) => {
                *slot = v;
                true
            }
            None => false,
        }
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
        match self.range(start, end) {
            None => self.items.clear(),
            Some((s, e)) => {
                self.items.truncate(e + 1);
                self.items.drain(..s);
            }
        }
        self.shrink_if_sparse();
        len - self.items.len()
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
        let mut removed: i64 = 0;
        let n = self.len();
        let mut keep = vec![true; n];
        for j in 0..n {
            let i = if from_tail { n - 1 - j } else { j };
            if self.items[i].as_bytes() == elem {
                keep[i] = false;
                removed += 1;
                if limit != 0 && removed == limit {
                    break;
                }
            }
        }
        if removed > 0 {
            let mut i = 0;
            self.items.retain(|_| {
                let k = keep[i];
                i += 1;
                k
            });
            self.shrink_if_sparse();
        }
        removed as usize
    }

    /// LINSERT: insert `elem` before or after the first `pivot` from the head; false when
    /// the pivot is not there.
    pub fn insert(&mut self, after: bool, pivot: &[u8], elem: SmallBytes) -> bool {
        match self.items.iter().position(|v| v.as_bytes() == pivot) {
            Some(i) => {
                self.items.insert(if after { i + 1 } else { i }, elem);
                true
            }
            None => false,
        }
    }

    /// LPOS: the indexes of the matches of `elem` that the query selects (at most one
    /// without COUNT), as Redis's `lposCommand` finds them.
    pub fn positions(&self, elem: &[u8], q: PosQuery) -> Vec<i64> {
        let len = self.len() as i64;
        let from_tail = q.rank < 0;
        // `rank = -rank` in C: LONG_MIN stays negative, so every match qualifies and the
        // COUNT test below never ends the scan.
        let rank = if from_tail {
            q.rank.wrapping_neg()
        } else {
            q.rank
        };
        let mut out = Vec::new();
        let mut matches: i64 = 0;
        let n = self.len();
        for index in 0..n as i64 {
            if q.maxlen != 0 && index >= q.maxlen {
                break;
            }
            let pos = if from_tail { len - index - 1 } else { index };
            if self.items[pos as usize].as_bytes() != elem {
                continue;
            }
            matches += 1;
            if matches >= rank {
                out.push(pos);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        List::from_items(items.iter().map(|s| SmallBytes::from(*s)))
    }

    fn strs(l: &List) -> Vec<String> {
        l.items
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    #[test]
    fn indexes_and_ranges_like_redis() {
        let l = list(&["a", "b", "c"]);
        assert_eq!(l.get(-1).map(|v| v.as_bytes()), Some(&b"c"[..]));
        assert_eq!(l.get(-3).map(|v| v.as_bytes()), Some(&b"a"[..]));
        assert!(l.get(-4).is_none());
        assert!(l.get(3).is_none());
        assert!(l.get(i64::MIN).is_none());
        assert!(l.get(i64::MAX).is_none());
        assert_eq!(l.range(0, -1), Some((0, 2)));
        assert_eq!(l.range(i64::MIN, i64::MAX), Some((0, 2)));
        assert_eq!(l.range(-100, 0), Some((0, 0)));
        assert_eq!(l.range(-2, -3), None);
        assert_eq!(l.range(5, 10), None);
    }

    #[test]
    fn trim_remove_insert() {
        let mut l = list(&["a", "b", "c", "d", "e"]);
        assert_eq!(l.trim(1, -2), 2);
        assert_eq!(strs(&l), ["b", "c", "d"]);
        assert_eq!(l.trim(5, 1), 3);
        assert!(l.is_empty());
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove(-2, b"a"), 2);
        assert_eq!(strs(&l), ["a", "b", "c"]);
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove(i64::MIN, b"a"), 3);
        assert_eq!(strs(&l), ["b", "c"]);
        assert!(l.insert(true, b"c", "d".into()));
        assert!(l.insert(false, b"b", "z".into()));
        assert!(!l.insert(false, b"q", "z".into()));
        assert_eq!(strs(&l), ["z", "b", "c", "d"]);
    }

    #[test]
    fn lpos_like_redis() {
        let l = list(&["a", "b", "c", "a", "b", "c"]);
        let q = |rank, count, maxlen| PosQuery {
            rank,
            count,
            maxlen,
        };
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

    #[test]
    fn pop_many_in_pop_order() {
        let mut l = list(&["a", "b", "c", "d"]);
        let right: Vec<String> = l
            .pop_many(End::Right, 3)
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        assert_eq!(right, ["d", "c", "b"]);
        assert_eq!(l.pop_many(End::Left, 10).len(), 1);
        assert!(l.is_empty());
    }

    #[test]
    fn memory_is_given_back_as_the_list_shrinks() {
        let mut l = List::from_items((0..10_000).map(|i| SmallBytes::from(i.to_string())));
        l.pop_many(End::Left, 9_990);
        assert!(l.items.capacity() < 100, "{}", l.items.capacity());
        let mut l = List::from_items((0..10_000).map(|_| SmallBytes::from("x")));
        assert_eq!(l.trim(0, 9), 9_990);
        assert!(l.items.capacity() < 100, "{}", l.items.capacity());
    }
}
