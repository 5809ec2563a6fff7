//! Hash values, as Redis 7.0's `t_hash.c` stores them. Small hashes keep their fields in
//! insertion order in a vector (Redis's `listpack` encoding, whose field order clients observe:
//! HGETALL, HKEYS, HSCAN); past `hash-max-listpack-entries` fields, or with a field or value
//! longer than `hash-max-listpack-value` bytes, they convert for good to a dict (`hashtable`).
//!
//! The conversion rules are Redis's exactly, because OBJECT ENCODING, the order of replies and
//! HSCAN's cursors depend on them: [`Hash::try_conversion`] looks at a command's arguments
//! before they are inserted (`hashTypeTryConversion`), and [`Hash::set`] converts before
//! inserting an over-long field or value (HINCRBY's results) and after an insert that passes
//! the entry limit (`hashTypeSet`).

use super::dict::Iter as DictIter;
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
    Listpack(Vec<(SmallBytes, SmallBytes)>),
    Table(Dict<SmallBytes, SmallBytes>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Vec::new())
    }
}

/// Iterator over (field, value) in the hash's own order (insertion order, or dict order).
pub enum Iter<'a> {
    Listpack(std::slice::Iter<'a, (SmallBytes, SmallBytes)>),
    Table(DictIter<'a, SmallBytes, SmallBytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a SmallBytes, &'a SmallBytes);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Listpack(it) => it.next().map(|(f, v)| (f, v)),
            Iter::Table(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Listpack(it) => it.size_hint(),
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
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(v) => v.len(),
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
            Hash::Listpack(v) => {
                v.capacity() * std::mem::size_of::<(SmallBytes, SmallBytes)>()
                    + v.iter()
                        .map(|(f, x)| f.heap_size() + x.heap_size())
                        .sum::<usize>()
            }
            Hash::Table(d) => {
                d.mem_usage()
                    + d.iter()
                        .map(|(f, x)| f.heap_size() + x.heap_size())
                        .sum::<usize>()
            }
        }
    }

    /// The pairs in the hash's own order.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Listpack(v) => Iter::Listpack(v.iter()),
            Hash::Table(d) => Iter::Table(d.iter()),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&SmallBytes> {
        match self {
            Hash::Listpack(v) => v.iter().find(|(f, _)| f == field).map(|(_, x)| x),
            Hash::Table(d) => d.get(field),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Redis's `lpBytes` of the listpack this vector stands for (estimated).
    fn listpack_bytes(v: &[(SmallBytes, SmallBytes)]) -> usize {
        // Header (total bytes + count) and end byte.
        7 + v
            .iter()
            .map(|(f, x)| listpack_entry_bytes(f.len()) + listpack_entry_bytes(x.len()))
            .sum::<usize>()
    }

    /// Convert a listpack to a dict presized for its entries (Redis's `hashTypeConvert`);
    /// nothing for a dict.
    pub fn convert(&mut self, seed: Seed) {
        if let Hash::Listpack(v) = self {
            let mut d = Dict::with_seed(seed());
            d.expand(v.len());
            for (f, x) in std::mem::take(v) {
                d.insert(f, x);
            }
            *self = Hash::Table(d);
        }
    }

    /// Redis's `hashTypeTryConversion`, before a command inserts `args` (fields and values):
    /// a listpack converts if any of them is longer than the value limit, or if their total
    /// would make the listpack unsafely big.
    pub fn try_conversion<A: AsRef<[u8]>>(&mut self, args: &[A], lim: Limits, seed: Seed) {
        let Hash::Listpack(v) = self else {
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
        if Self::listpack_bytes(v).saturating_add(sum) > LISTPACK_MAX_SAFETY_SIZE {
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
            Hash::Listpack(v) => {
                let update = match v.iter_mut().find(|(f, _)| f == field) {
                    Some((_, x)) => {
                        *x = SmallBytes::from(value);
                        true
                    }
                    None => {
                        v.push((SmallBytes::from(field), SmallBytes::from(value)));
                        false
                    }
                };
                // Checked after updates too: a lowered limit converts on the next write.
                if v.len() > lim.entries {
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
            Hash::Listpack(v) => match v.iter().position(|(f, _)| f == field) {
                Some(i) => {
                    v.remove(i);
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
    pub fn random(&self, rand: &mut dyn FnMut() -> u64) -> Option<(&SmallBytes, &SmallBytes)> {
        match self {
            Hash::Listpack(v) if v.is_empty() => None,
            Hash::Listpack(v) => {
                let (f, x) = &v[(rand() % v.len() as u64) as usize];
                Some((f, x))
            }
            Hash::Table(d) => d.random_entry(rand),
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
        assert_eq!(h.get(b"b").map(|v| v.as_bytes()), Some(&b"3"[..]));
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
        assert_eq!(h.get(b"f").map(|v| v.as_bytes()), Some(&b"1"[..]));
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
