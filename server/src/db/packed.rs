//! `Packed`: a sequence of byte strings in one exactly sized allocation, the compact encoding
//! of small hashes, sorted sets and lists (what Redis 7.0's `listpack.c` is to them).
//!
//! Layout of the buffer: a 4-byte little-endian entry count, then each entry as its length in
//! LEB128 (one byte up to 127 bytes, two up to 16,383) followed by its bytes. An empty
//! sequence owns no allocation at all. Unlike a listpack there is no back-length and no
//! integer encoding: entries are read as borrowed slices, in order, and the callers that walk
//! backwards do so over small sequences (the conversion thresholds keep them small).
//!
//! Memory is what the encoding is for, so the buffer never holds spare capacity: a write
//! reserves exactly what it adds and a removal gives the room back (as `lpInsert`/`lpDelete`
//! reallocate). A position ([`Pos`]) is a byte offset of an entry and stays valid until the
//! next write.

use std::fmt;

/// Bytes of the entry count that starts a non-empty buffer.
pub const HEADER: usize = 4;

/// The byte offset of an entry in a [`Packed`] (or of its end, for appending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos(usize);

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Packed {
    buf: Vec<u8>,
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|e| String::from_utf8_lossy(e).into_owned()))
            .finish()
    }
}

/// Bytes the length prefix of an `n`-byte entry takes.
fn prefix_len(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

fn write_prefix(out: &mut [u8], mut n: usize) {
    let mut i = 0;
    while n >= 0x80 {
        out[i] = (n as u8 & 0x7f) | 0x80;
        n >>= 7;
        i += 1;
    }
    out[i] = n as u8;
}

/// Bytes an `n`-byte entry takes in the buffer.
pub fn entry_size(n: usize) -> usize {
    prefix_len(n) + n
}

/// Bytes a buffer holding these entries takes (0 when there are none), to decide an encoding
/// before building it.
pub fn encoded_size<'a>(entries: impl Iterator<Item = &'a [u8]>) -> usize {
    let mut any = false;
    let size: usize = entries
        .map(|e| {
            any = true;
            entry_size(e.len())
        })
        .sum();
    if any {
        HEADER + size
    } else {
        0
    }
}

impl Packed {
    pub const fn new() -> Self {
        Packed { buf: Vec::new() }
    }

    /// A sequence of these entries, allocated once at its exact size.
    pub fn from_entries<'a, I>(entries: I) -> Self
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: Clone,
    {
        let it = entries.into_iter();
        let (count, size) = it.clone().fold((0usize, 0usize), |(c, s), e| {
            (c + 1, s + entry_size(e.len()))
        });
        if count == 0 {
            return Packed::new();
        }
        let mut buf = Vec::with_capacity(HEADER + size);
        buf.extend_from_slice(&(count as u32).to_le_bytes());
        for e in it {
            let mut p = [0u8; 10];
            let k = prefix_len(e.len());
            write_prefix(&mut p, e.len());
            buf.extend_from_slice(&p[..k]);
            buf.extend_from_slice(e);
        }
        Packed { buf }
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        match self.buf.get(..HEADER) {
            Some(h) => u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize,
            None => 0,
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Heap bytes owned (the allocation).
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes of the encoded entries and header (what a listpack's `lpBytes` stands for).
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    fn set_len(&mut self, n: usize) {
        debug_assert!(n <= u32::MAX as usize);
        self.buf[..HEADER].copy_from_slice(&(n as u32).to_le_bytes());
    }

    /// The entry at `pos` and the position after it.
    #[inline]
    fn read(&self, pos: Pos) -> (&[u8], Pos) {
        let b = &self.buf;
        let mut i = pos.0;
        let mut n = 0usize;
        let mut shift = 0;
        loop {
            let c = b[i];
            i += 1;
            n |= ((c & 0x7f) as usize) << shift;
            if c & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (&b[i..i + n], Pos(i + n))
    }

    /// Position of the first entry (equal to [`Packed::end`] when empty).
    #[inline]
    pub fn first(&self) -> Pos {
        Pos(if self.buf.is_empty() { 0 } else { HEADER })
    }

    /// The position past the last entry (where an append goes).
    #[inline]
    pub fn end(&self) -> Pos {
        Pos(self.buf.len())
    }

    /// The entry at `pos`, which must be an entry's position.
    #[inline]
    pub fn get(&self, pos: Pos) -> &[u8] {
        self.read(pos).0
    }

    /// The position after the entry at `pos`.
    #[inline]
    pub fn next(&self, pos: Pos) -> Pos {
        self.read(pos).1
    }

    /// The entries in order.
    #[inline]
    pub fn iter(&self) -> Entries<'_> {
        self.iter_from(self.first())
    }

    /// The entries from `pos` on.
    #[inline]
    pub fn iter_from(&self, pos: Pos) -> Entries<'_> {
        Entries { p: self, pos }
    }

    /// The position of the `i`th entry (0-based), walking from the start.
    pub fn index(&self, i: usize) -> Option<Pos> {
        if i >= self.len() {
            return None;
        }
        let mut pos = self.first();
        for _ in 0..i {
            pos = self.next(pos);
        }
        Some(pos)
    }

    /// The position of the last entry.
    pub fn last(&self) -> Option<Pos> {
        self.len().checked_sub(1).and_then(|i| self.index(i))
    }

    /// The first entry equal to `e` among entries 0, `step`, 2·`step`, … (a `step` of 2
    /// searches the fields of a field/value sequence, as `lpFind`'s skip).
    pub fn find(&self, e: &[u8], step: usize) -> Option<Pos> {
        let mut pos = self.first();
        let end = self.end();
        while pos < end {
            let (x, mut next) = self.read(pos);
            if x == e {
                return Some(pos);
            }
            for _ in 1..step {
                next = self.next(next);
            }
            pos = next;
        }
        None
    }

    /// Insert `e` before the entry at `pos` (at [`Packed::end`]: append).
    pub fn insert(&mut self, pos: Pos, e: &[u8]) {
        self.insert_many(pos, &[e]);
    }

    /// Insert several entries, in order, before the entry at `pos`, with one reallocation.
    pub fn insert_many(&mut self, pos: Pos, es: &[&[u8]]) {
        if es.is_empty() {
            return;
        }
        let n = self.len() + es.len();
        let add: usize = es.iter().map(|e| entry_size(e.len())).sum();
        let at = if self.buf.is_empty() {
            self.buf.reserve_exact(HEADER + add);
            self.buf.extend_from_slice(&[0; HEADER]);
            HEADER
        } else {
            self.buf.reserve_exact(add);
            pos.0
        };
        let old = self.buf.len();
        self.buf.resize(old + add, 0);
        self.buf.copy_within(at..old, at + add);
        let mut i = at;
        for e in es {
            let k = prefix_len(e.len());
            write_prefix(&mut self.buf[i..], e.len());
            self.buf[i + k..i + k + e.len()].copy_from_slice(e);
            i += k + e.len();
        }
        self.set_len(n);
    }

    /// Append an entry.
    pub fn push(&mut self, e: &[u8]) {
        let end = self.end();
        self.insert(end, e);
    }

    /// Remove `count` entries starting at `pos` (fewer if the sequence ends first).
    pub fn remove(&mut self, pos: Pos, count: usize) {
        let mut end = pos;
        let mut removed = 0;
        while removed < count && end.0 < self.buf.len() {
            end = self.next(end);
            removed += 1;
        }
        if removed == 0 {
            return;
        }
        let n = self.len() - removed;
        if n == 0 {
            self.buf = Vec::new();
            return;
        }
        self.buf.drain(pos.0..end.0);
        self.buf.shrink_to_fit();
        self.set_len(n);
    }

    /// Replace the entry at `pos` with `e`; returns the position after the new entry.
    pub fn replace(&mut self, pos: Pos, e: &[u8]) -> Pos {
        let (old, after) = self.read(pos);
        let new_size = entry_size(e.len());
        let old_size = after.0 - pos.0;
        if old.len() == e.len() {
            let start = after.0 - e.len();
            self.buf[start..after.0].copy_from_slice(e);
            return after;
        }
        if new_size > old_size {
            let grow = new_size - old_size;
            self.buf.reserve_exact(grow);
            let old_len = self.buf.len();
            self.buf.resize(old_len + grow, 0);
            self.buf.copy_within(after.0..old_len, after.0 + grow);
        } else {
            let shrink = old_size - new_size;
            self.buf.copy_within(after.0.., after.0 - shrink);
            let len = self.buf.len() - shrink;
            self.buf.truncate(len);
            self.buf.shrink_to_fit();
        }
        let k = prefix_len(e.len());
        write_prefix(&mut self.buf[pos.0..], e.len());
        self.buf[pos.0 + k..pos.0 + k + e.len()].copy_from_slice(e);
        Pos(pos.0 + new_size)
    }
}

/// Iterator over the entries of a [`Packed`], from a position on.
#[derive(Clone)]
pub struct Entries<'a> {
    p: &'a Packed,
    pos: Pos,
}

impl<'a> Entries<'a> {
    /// Position of the entry the next call to `next` returns.
    pub fn pos(&self) -> Pos {
        self.pos
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos.0 >= self.p.buf.len() {
            return None;
        }
        let (e, next) = self.p.read(self.pos);
        self.pos = next;
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(p: &Packed) -> Vec<Vec<u8>> {
        p.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn push_insert_remove_replace_keep_order_and_exact_size() {
        let mut p = Packed::new();
        assert_eq!(p.heap_size(), 0);
        assert!(p.is_empty());
        p.push(b"b");
        p.insert(p.first(), b"a");
        p.push(b"c");
        assert_eq!(
            entries(&p),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert_eq!(p.len(), 3);
        assert_eq!(p.heap_size(), HEADER + 6);
        let b = p.find(b"b", 1).expect("b");
        assert_eq!(p.get(b), b"b");
        let long = vec![7u8; 300];
        let after = p.replace(b, &long);
        assert_eq!(p.get(after), b"c");
        assert_eq!(p.heap_size(), HEADER + 2 + 2 + 302);
        let b = p.index(1).expect("1");
        assert_eq!(p.get(b), &long[..]);
        p.replace(b, b"");
        assert_eq!(entries(&p), vec![b"a".to_vec(), vec![], b"c".to_vec()]);
        assert_eq!(p.heap_size(), HEADER + 2 + 1 + 2);
        p.remove(p.first(), 2);
        assert_eq!(entries(&p), vec![b"c".to_vec()]);
        assert_eq!(p.last().map(|x| p.get(x)), Some(&b"c"[..]));
        p.remove(p.first(), 5);
        assert!(p.is_empty());
        assert_eq!(p.len(), 0);
        assert_eq!(p.heap_size(), 0);
        assert_eq!(p.iter().count(), 0);
        assert!(p.last().is_none());
    }

    #[test]
    fn find_with_a_step_only_looks_at_fields() {
        let p = Packed::from_entries([&b"f1"[..], b"x", b"x", b"v2", b"f3", b"v3"]);
        assert_eq!(p.len(), 6);
        assert_eq!(p.find(b"x", 2).map(|x| p.get(x)), Some(&b"x"[..]));
        assert_eq!(p.find(b"x", 2), p.index(2));
        assert_eq!(p.find(b"v2", 2), None);
        assert_eq!(p.find(b"f3", 2), p.index(4));
        let mut q = Packed::new();
        q.insert_many(q.end(), &[b"f1", b"x", b"x", b"v2", b"f3", b"v3"]);
        assert_eq!(p, q);
        assert_eq!(q.heap_size(), q.byte_len());
        assert_eq!(encoded_size(q.iter()), q.byte_len());
        assert_eq!(encoded_size(Packed::new().iter()), 0);
    }

    #[test]
    fn lengths_across_prefix_boundaries() {
        for n in [0usize, 1, 127, 128, 16_383, 16_384, 70_000] {
            let e = vec![b'x'; n];
            let mut p = Packed::new();
            p.push(b"head");
            p.push(&e);
            p.push(b"tail");
            let got = entries(&p);
            assert_eq!(got[1].len(), n);
            assert_eq!(got[2], b"tail");
            assert_eq!(p.byte_len(), HEADER + 5 + entry_size(n) + 5);
            let mid = p.index(1).expect("mid");
            p.replace(mid, b"m");
            assert_eq!(entries(&p)[1], b"m");
        }
    }
}
