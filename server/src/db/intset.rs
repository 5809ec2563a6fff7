//! `IntSet`: sorted distinct integers in one exactly sized allocation, laid out byte for byte as
//! Redis's `intset.c`: a 4-byte little-endian encoding (the width of every element: 2, 4 or 8
//! bytes), a 4-byte little-endian count, then the elements, little-endian, ascending.
//!
//! Adding a value that needs a wider encoding upgrades the whole set (`intsetUpgradeAndAdd`);
//! removing never downgrades (only rebuilding with [`IntSet::from_sorted`] picks the smallest
//! width again). Because the bytes are Redis's, an RDB `SET_INTSET` blob is [`IntSet::blob`].
//!
//! The buffer is a `Box<[u8]>` (16 bytes, no spare capacity): each insert or removal
//! reallocates to the exact size, as `intsetResize` does. The empty set owns no allocation.

use std::fmt;

const HEADER: usize = 8;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct IntSet {
    buf: Box<[u8]>,
}

impl fmt::Debug for IntSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The width Redis's `_intsetValueEncoding` gives a value.
#[inline]
fn width_of(n: i64) -> usize {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

/// Element `i` of `data` (the bytes after the header) at width `w`.
#[inline]
fn read(data: &[u8], w: usize, i: usize) -> i64 {
    match w {
        2 => i16::from_le_bytes([data[2 * i], data[2 * i + 1]]) as i64,
        4 => {
            let b = &data[4 * i..4 * i + 4];
            i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64
        }
        _ => {
            let b = &data[8 * i..8 * i + 8];
            i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        }
    }
}

#[inline]
fn write(data: &mut [u8], w: usize, i: usize, n: i64) {
    match w {
        2 => data[2 * i..2 * i + 2].copy_from_slice(&(n as i16).to_le_bytes()),
        4 => data[4 * i..4 * i + 4].copy_from_slice(&(n as i32).to_le_bytes()),
        _ => data[8 * i..8 * i + 8].copy_from_slice(&n.to_le_bytes()),
    }
}

fn header(w: usize, n: usize) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..4].copy_from_slice(&(w as u32).to_le_bytes());
    h[4..].copy_from_slice(&(n as u32).to_le_bytes());
    h
}

impl IntSet {
    pub fn new() -> Self {
        IntSet::default()
    }

    /// A set of these sorted, distinct integers, in the smallest width that holds them all.
    pub fn from_sorted(sorted: &[i64]) -> Self {
        debug_assert!(sorted.windows(2).all(|w| w[0] < w[1]));
        if sorted.is_empty() {
            return IntSet::new();
        }
        // Sorted: the extremes decide the width.
        let w = width_of(sorted[0]).max(width_of(sorted[sorted.len() - 1]));
        let mut buf = vec![0u8; HEADER + w * sorted.len()];
        buf[..HEADER].copy_from_slice(&header(w, sorted.len()));
        for (i, &n) in sorted.iter().enumerate() {
            write(&mut buf[HEADER..], w, i, n);
        }
        IntSet {
            buf: buf.into_boxed_slice(),
        }
    }

    /// The width of an element in bytes (2 for the empty set, as a new Redis intset).
    #[inline]
    pub fn width(&self) -> usize {
        match self.buf.get(..4) {
            Some(h) => u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize,
            None => 2,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        match self.buf.get(4..HEADER) {
            Some(h) => u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize,
            None => 0,
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    #[inline]
    fn data(&self) -> &[u8] {
        self.buf.get(HEADER..).unwrap_or(&[])
    }

    /// The `i`th smallest element.
    #[inline]
    pub fn get(&self, i: usize) -> Option<i64> {
        (i < self.len()).then(|| read(self.data(), self.width(), i))
    }

    /// Heap bytes owned (the allocation; Redis's `intsetBlobLen` when not empty).
    pub fn heap_size(&self) -> usize {
        self.buf.len()
    }

    /// The set as Redis's intset bytes (what RDB's `SET_INTSET` holds); empty when empty.
    pub fn blob(&self) -> &[u8] {
        &self.buf
    }

    /// The index of `n`, or where it would go (Redis's `intsetSearch`).
    #[inline]
    pub fn search(&self, n: i64) -> Result<usize, usize> {
        let len = self.len();
        if len == 0 {
            return Err(0);
        }
        let w = self.width();
        let data = self.data();
        if width_of(n) > w {
            // Outside the range of the encoding: below the first or past the last.
            return Err(if n < 0 { 0 } else { len });
        }
        let (mut lo, mut hi) = (0usize, len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let x = read(data, w, mid);
            if x == n {
                return Ok(mid);
            }
            if x < n {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Err(lo)
    }

    #[inline]
    pub fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    /// Add `n`; true if it was not there. A value wider than the encoding upgrades every
    /// element first (`intsetUpgradeAndAdd`: it goes at the start if negative, else at the end).
    pub fn insert(&mut self, n: i64) -> bool {
        let len = self.len();
        let w = self.width();
        let nw = width_of(n);
        if len > 0 && nw > w {
            let mut buf = vec![0u8; HEADER + nw * (len + 1)];
            buf[..HEADER].copy_from_slice(&header(nw, len + 1));
            let off = usize::from(n < 0);
            let data = self.data();
            for i in 0..len {
                write(&mut buf[HEADER..], nw, i + off, read(data, w, i));
            }
            write(&mut buf[HEADER..], nw, if n < 0 { 0 } else { len }, n);
            self.buf = buf.into_boxed_slice();
            return true;
        }
        let at = match self.search(n) {
            Ok(_) => return false,
            Err(at) => at,
        };
        let w = if len == 0 { nw } else { w };
        let mut buf = Vec::from(std::mem::take(&mut self.buf));
        if buf.is_empty() {
            buf.reserve_exact(HEADER + w);
            buf.extend_from_slice(&header(w, 0));
        } else {
            buf.reserve_exact(w);
        }
        let old = buf.len();
        buf.resize(old + w, 0);
        let start = HEADER + at * w;
        buf.copy_within(start..old, start + w);
        write(&mut buf[HEADER..], w, at, n);
        buf[4..HEADER].copy_from_slice(&((len + 1) as u32).to_le_bytes());
        self.buf = buf.into_boxed_slice();
        true
    }

    /// Remove `n`; true if it was there. The width stays (Redis never downgrades).
    pub fn remove(&mut self, n: i64) -> bool {
        let Ok(at) = self.search(n) else {
            return false;
        };
        let len = self.len();
        if len == 1 {
            self.buf = Box::default();
            return true;
        }
        let w = self.width();
        let mut buf = Vec::from(std::mem::take(&mut self.buf));
        let start = HEADER + at * w;
        buf.copy_within(start + w.., start);
        buf.truncate(buf.len() - w);
        buf[4..HEADER].copy_from_slice(&((len - 1) as u32).to_le_bytes());
        self.buf = buf.into_boxed_slice();
        true
    }

    /// The elements in ascending order.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            data: self.data(),
            w: self.width(),
            i: 0,
            n: self.len(),
        }
    }
}

/// Iterator over an [`IntSet`], ascending.
#[derive(Clone)]
pub struct Iter<'a> {
    data: &'a [u8],
    w: usize,
    i: usize,
    n: usize,
}

impl Iterator for Iter<'_> {
    type Item = i64;

    #[inline]
    fn next(&mut self) -> Option<i64> {
        if self.i >= self.n {
            return None;
        }
        let x = read(self.data, self.w, self.i);
        self.i += 1;
        Some(x)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let r = self.n - self.i;
        (r, Some(r))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &IntSet) -> Vec<i64> {
        s.iter().collect()
    }

    #[test]
    fn empty_owns_nothing() {
        let s = IntSet::new();
        assert_eq!(s.len(), 0);
        assert!(s.is_empty());
        assert_eq!(s.heap_size(), 0);
        assert_eq!(s.width(), 2);
        assert_eq!(s.search(5), Err(0));
        assert!(!s.contains(0));
        assert_eq!(s.get(0), None);
        assert_eq!(std::mem::size_of::<IntSet>(), 16);
    }

    #[test]
    fn widths_upgrade_at_the_i16_and_i32_boundaries() {
        let mut s = IntSet::new();
        assert!(s.insert(5));
        assert!(s.insert(i16::MAX as i64));
        assert!(s.insert(i16::MIN as i64));
        assert_eq!(s.width(), 2);
        assert_eq!(s.heap_size(), 8 + 3 * 2);
        assert!(s.insert(i16::MAX as i64 + 1));
        assert_eq!(s.width(), 4);
        assert_eq!(all(&s), [i16::MIN as i64, 5, 32767, 32768]);
        assert!(s.insert(i16::MIN as i64 - 1));
        assert_eq!(all(&s)[0], -32769);
        assert!(s.insert(i32::MAX as i64));
        assert!(s.insert(i32::MIN as i64));
        assert_eq!(s.width(), 4);
        assert_eq!(s.heap_size(), 8 + 7 * 4);
        // Upgrading with a negative value puts it first.
        assert!(s.insert(i32::MIN as i64 - 1));
        assert_eq!(s.width(), 8);
        assert_eq!(s.get(0), Some(i32::MIN as i64 - 1));
        assert!(s.insert(i64::MIN));
        assert!(s.insert(i64::MAX));
        assert!(!s.insert(i64::MAX));
        assert!(!s.insert(5));
        assert_eq!(
            all(&s),
            [
                i64::MIN,
                i32::MIN as i64 - 1,
                i32::MIN as i64,
                -32769,
                -32768,
                5,
                32767,
                32768,
                i32::MAX as i64,
                i64::MAX
            ]
        );
        assert_eq!(s.heap_size(), 8 + 10 * 8);
        assert_eq!(s.len(), 10);
        // Removing never downgrades.
        for n in [i64::MIN, i64::MAX, i32::MIN as i64 - 1] {
            assert!(s.remove(n));
        }
        assert_eq!(s.width(), 8);
        assert_eq!(s.heap_size(), 8 + 7 * 8);
        // Rebuilding picks the smallest width again.
        let v = all(&s);
        assert_eq!(IntSet::from_sorted(&v).width(), 4);
        assert_eq!(IntSet::from_sorted(&[-3, 0, 9]).width(), 2);
    }

    #[test]
    fn upgrade_with_a_positive_value_appends() {
        let mut s = IntSet::from_sorted(&[-1, 1]);
        assert!(s.insert(1 << 40));
        assert_eq!(all(&s), [-1, 1, 1 << 40]);
        assert_eq!(s.width(), 8);
        // The first value of an empty set sets the width.
        let mut t = IntSet::new();
        t.insert(1 << 20);
        assert_eq!(t.width(), 4);
        t.insert(-7);
        assert_eq!(all(&t), [-7, 1 << 20]);
    }

    #[test]
    fn search_and_remove() {
        let v: Vec<i64> = (0..100).map(|i| i * 3 - 150).collect();
        let mut s = IntSet::from_sorted(&v);
        for (i, &n) in v.iter().enumerate() {
            assert_eq!(s.search(n), Ok(i));
            assert_eq!(s.search(n + 1), Err(i + 1));
            assert_eq!(s.get(i), Some(n));
        }
        assert_eq!(s.search(-1000), Err(0));
        assert_eq!(s.search(i64::MAX), Err(100));
        assert_eq!(s.search(i64::MIN), Err(0));
        assert!(!s.remove(1));
        assert!(!s.remove(i64::MAX));
        assert!(s.remove(-150));
        assert!(s.remove(147));
        assert!(s.remove(0));
        assert_eq!(s.len(), 97);
        assert_eq!(s.heap_size(), 8 + 97 * 2);
        assert!(!s.contains(0) && s.contains(3) && s.contains(-147));
        for n in all(&s) {
            assert!(s.remove(n));
        }
        assert!(s.is_empty());
        assert_eq!(s.heap_size(), 0);
    }

    #[test]
    fn bytes_are_redis_intset_bytes() {
        let s = IntSet::from_sorted(&[-5, 1, 70000]);
        let mut want = Vec::new();
        want.extend_from_slice(&4u32.to_le_bytes());
        want.extend_from_slice(&3u32.to_le_bytes());
        for n in [-5i32, 1, 70000] {
            want.extend_from_slice(&n.to_le_bytes());
        }
        assert_eq!(s.blob(), &want[..]);
        let mut t = IntSet::new();
        for n in [70000, 1, -5] {
            t.insert(n);
        }
        assert_eq!(t, s);
    }
}
