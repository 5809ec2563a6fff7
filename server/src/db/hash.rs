//! Hash values, as Redis 7.0's `t_hash.c` stores them. Small hashes keep their fields in
//! insertion order in a [`Packed`] sequence of alternating fields and values, one exactly
//! sized allocation (Redis's `listpack` encoding, whose field order clients observe: HGETALL,
//! HKEYS, HSCAN); past `hash-max-listpack-entries` fields, or with a field or value
//! longer than `hash-max-listpack-value` bytes, they convert for good to a dict (`hashtable`).
//!
//! The conversion rules are Redis's exactly, because OBJECT ENCODING, the order of replies and
//! HSCAN's cursors depend on them: [`Hash::try_conversion`] looks at a command's arguments
//! before they are inserted (`hashTypeTryConversion`), and [`Hash::set`] converts before
//! inserting an over-long field or value (HINCRBY's results) and after an insert that passes
//! the entry limit (`hashTypeSet`).

use super::dict::Iter as DictIter;
use super::packed::{Entries, Packed};
use super::{Dict, SmallBytes};

/// A source of seeds for new dicts (the server's RNG).
pub type Seed<'a> = &'a mut dyn FnMut() -> u64;

/// The listpack limits of the configuration (`hash-max-listpack-entries`,
/// `hash-max-listpack-value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

/// Redis's `LISTPACK_MAX_SAFETY_SIZE`: a listpack never grows past 1 GiB.
const LISTPACK_MAX_SAFETY_SIZE: usize = 1 << 30;

#[derive(Debug, Clone)]
pub enum Hash {
    /// Fields and values alternating, in insertion order.
    Listpack(Packed),
    Table(Box<Dict<SmallBytes, SmallBytes>>),
}

// The hash lives unboxed in `Value`, which must stay 32 bytes.
const _: () = assert!(std::mem::size_of::<Hash>() <= 24);

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Packed::new())
    }
}

/// Iterator over (field, value) in the hash's own order (insertion order, or dict order).
pub enum Iter<'a> {
    Listpack(Entries<'a>, usize),
    Table(DictIter<'a, SmallBytes, SmallBytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Listpack(it, left) => {
                let f = it.next()?;
                let v = it.next()?;
                *left -= 1;
                Some((f, v))
            }
            Iter::Table(it) => it.next().map(|(f, v)| (f.as_bytes(), v.as_bytes())),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Listpack(_, left) => (*left, Some(*left)),
            Iter::Table(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Bytes a string takes in a listpack: encoding header, data, back-length (Redis's
/// `lpEncodeGetType` + `lpEncodeBacklen` sizes for strings; integers are smaller, which only
/// makes this estimate conservative).
fn listpack_entry_bytes(len: usize) -> usize {
    let header = if len < 64 {
        1
    } else if len < 4096 {
        2
    } else {
        5
    };
    let entry = header + len;
    let backlen = match entry {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=268_435_455 => 4,
        _ => 5,
    };
    entry + backlen
}

impl Hash {
    /// A listpack hash of these pairs, in order (the caller guarantees distinct fields).
    pub fn listpack_from<'a, I>(pairs: I) -> Hash
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
        I::IntoIter: Clone,
    {
        Hash::Listpack(Packed::from_entries(
            pairs.into_iter().flat_map(|(f, v)| [f, v]),
        ))
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(p) => p.len() / 2,
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned by the hash.
    pub fn mem_usage(&self) -> usize {
        match self {
            Hash::Listpack(p) => p.heap_size(),
            Hash::Table(d) => {
                std::mem::size_of::<Dict<SmallBytes, SmallBytes>>()
                    + d.mem_usage()
                    + d.iter()
                        .map(|(f, x)| f.heap_size() + x.heap_size())
                        .sum::<usize>()
            }
        }
    }

    /// The pairs in the hash's own order.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Listpack(p) => Iter::Listpack(p.iter(), p.len() / 2),
            Hash::Table(d) => Iter::Table(d.iter()),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(p) => p.find(field, 2).map(|at| p.get(p.next(at))),
            Hash::Table(d) => d.get(field).map(|v| v.as_bytes()),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(p) => p.find(field, 2).is_some(),
            Hash::Table(d) => d.get(field).is_some(),
        }
    }

    /// Redis's `lpBytes` of the listpack this sequence stands for (estimated).
    fn listpack_bytes(p: &Packed) -> usize {
        // Header (total bytes + count) and end byte.
        7 + p
            .iter()
            .map(|e| listpack_entry_bytes(e.len()))
            .sum::<usize>()
    }

    /// Convert a listpack to a dict presized for its entries (Redis's `hashTypeConvert`);
    /// nothing for a dict.
    pub fn convert(&mut self, seed: Seed) {
        if let Hash::Listpack(p) = self {
            let mut d = Box::new(Dict::with_seed(seed()));
            d.expand(p.len() / 2);
            let mut it = p.iter();
            while let (Some(f), Some(x)) = (it.next(), it.next()) {
                d.insert(SmallBytes::from(f), SmallBytes::from(x));
            }
            *self = Hash::Table(d);
        }
    }

    /// Redis's `hashTypeTryConversion`, before a command inserts `args` (fields and values):
    /// a listpack converts if any of them is longer than the value limit, or if their total
    /// would make the listpack unsafely big.
    pub fn try_conversion<A: AsRef<[u8]>>(&mut self, args: &[A], lim: Limits, seed: Seed) {
        let Hash::Listpack(p) = self else {
            return;
        };
        let mut sum = 0usize;
        for a in args {
            let len = a.as_ref().len();
            if len > lim.value {
                self.convert(seed);
                return;
            }
            sum = sum.saturating_add(len);
        }
        if Self::listpack_bytes(p).saturating_add(sum) > LISTPACK_MAX_SAFETY_SIZE {
            self.convert(seed);
        }
    }

    /// Set a field (Redis's `hashTypeSet`); returns true if it existed (an update). A listpack
    /// converts first when the field or value is longer than the value limit, and after the
    /// write (an update too) when it holds more entries than the entry limit. A new field goes
    /// at the end.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: Limits, seed: Seed) -> bool {
        if matches!(self, Hash::Listpack(_)) && (field.len() > lim.value || value.len() > lim.value)
        {
            self.convert(seed);
        }
        match self {
            Hash::Listpack(p) => {
                let update = match p.find(field, 2) {
                    Some(at) => {
                        let vpos = p.next(at);
                        p.replace(vpos, value);
                        true
                    }
                    None => {
                        let end = p.end();
                        p.insert_many(end, &[field, value]);
                        false
                    }
                };
                // Checked after updates too: a lowered limit converts on the next write.
                if p.len() / 2 > lim.entries {
                    self.convert(seed);
                }
                update
            }
            Hash::Table(d) => {
                let (x, inserted) =
                    d.get_or_insert_with(field, || SmallBytes::from(field), SmallBytes::new);
                *x = SmallBytes::from(value);
                !inserted
            }
        }
    }

    /// Remove a field; true if it was there. A listpack keeps the order of the others; a
    /// dict shrinks when sparse, as Redis's `hashTypeDelete` does.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(p) => match p.find(field, 2) {
                Some(at) => {
                    p.remove(at, 2);
                    true
                }
                None => false,
            },
            Hash::Table(d) => {
                let removed = d.remove(field).is_some();
                if removed {
                    d.shrink_if_needed();
                }
                removed
            }
        }
    }

    /// A random pair (Redis's `hashTypeRandomElement`): a uniform index of a listpack, or the
    /// dict's fair random entry. None only when empty.
    pub fn random(&self, rand: &mut dyn FnMut() -> u64) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Listpack(p) if p.is_empty() => None,
            Hash::Listpack(p) => {
                let i = (rand() % (p.len() / 2) as u64) as usize;
                let at = p.index(i * 2)?;
                Some((p.get(at), p.get(p.next(at))))
            }
            Hash::Table(d) => d
                .random_entry(rand)
                .map(|(f, v)| (f.as_bytes(), v.as_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> impl FnMut() -> u64 {
        let mut n = 0u64;
        move || {
            n += 1;
            n
        }
    }

    const LIM: Limits = Limits {
        entries: 3,
        value: 5,
    };

    fn fields(h: &Hash) -> Vec<String> {
        h.iter()
            .map(|(f, _)| String::from_utf8_lossy(f).into_owned())
            .collect()
    }

    #[test]
    fn listpack_keeps_insertion_order_and_converts_past_the_entry_limit() {
        let mut sd = seed();
        let mut h = Hash::default();
        assert!(!h.set(b"b", b"1", LIM, &mut sd));
        assert!(!h.set(b"a", b"2", LIM, &mut sd));
        assert!(h.set(b"b", b"3", LIM, &mut sd));
        assert!(!h.set(b"c", b"4", LIM, &mut sd));
        assert_eq!(fields(&h), vec!["b", "a", "c"]);
        assert_eq!(h.encoding(), "listpack");
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(fields(&h), vec!["b", "c"]);
        assert!(!h.set(b"a", b"5", LIM, &mut sd));
        assert_eq!(fields(&h), vec!["b", "c", "a"]);
        assert!(!h.set(b"d", b"6", LIM, &mut sd));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 4);
        assert_eq!(h.get(b"b"), Some(&b"3"[..]));
        // For good: removing does not convert back.
        for f in ["a", "b", "c", "d"] {
            assert!(h.remove(f.as_bytes()));
        }
        assert!(h.is_empty());
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn long_fields_or_values_convert() {
        let mut sd = seed();
        let mut h = Hash::default();
        h.set(b"f", b"12345", LIM, &mut sd);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f", b"123456", LIM, &mut sd);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::default();
        h.set(b"f", b"1", LIM, &mut sd);
        h.try_conversion(&[&b"ok"[..], b"fine"], LIM, &mut sd);
        assert_eq!(h.encoding(), "listpack");
        h.try_conversion(&[&b"ok"[..], b"too long"], LIM, &mut sd);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"f"), Some(&b"1"[..]));
    }

    #[test]
    fn random_pairs() {
        let mut sd = seed();
        let mut h = Hash::default();
        assert!(h.random(&mut sd).is_none());
        h.set(b"x", b"1", LIM, &mut sd);
        h.set(b"y", b"2", LIM, &mut sd);
        for _ in 0..10 {
            let (f, v) = h.random(&mut sd).expect("a pair");
            assert_eq!(h.get(f), Some(v));
        }
        assert_eq!(listpack_entry_bytes(0), 2);
        assert_eq!(listpack_entry_bytes(63), 65);
        assert_eq!(listpack_entry_bytes(200), 204);
    }
}
