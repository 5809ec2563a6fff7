//! `SmallBytes`: an immutable byte string in 24 bytes, the key type of the keyspace.
//!
//! Strings of up to [`INLINE_CAP`] (23) bytes live inline, with no heap allocation (most keys are
//! that short); longer ones are a `Box<[u8]>` (pointer + length). The enum fits in 24 bytes because
//! the inline length is itself an enum of 24 values (0..=23): the compiler stores the variant tag
//! in the unused values of that byte, so no separate tag word is needed and no `unsafe` is
//! involved.
//!
//! Equality, ordering and hashing are those of the bytes, whatever the representation: a string is
//! always inline when it fits, but nothing relies on that for correctness.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest byte string kept inline.
pub const INLINE_CAP: usize = 23;

/// An immutable byte string, 24 bytes in size, inline when at most [`INLINE_CAP`] bytes long.
#[derive(Clone)]
pub struct SmallBytes(Repr);

const _: () = assert!(std::mem::size_of::<SmallBytes>() == 24);

#[derive(Clone)]
enum Repr {
    Inline {
        len: InlineLen,
        data: [u8; INLINE_CAP],
    },
    /// Only for strings longer than `INLINE_CAP`.
    Heap(Box<[u8]>),
}

/// The length of an inline string: only 0..=23 are valid, which leaves the values 24..=255 of this
/// byte free for the compiler to encode `Repr`'s tag (niche optimisation).
#[derive(Clone, Copy)]
#[repr(u8)]
enum InlineLen {
    L0 = 0,
    L1,
    L2,
    L3,
    L4,
    L5,
    L6,
    L7,
    L8,
    L9,
    L10,
    L11,
    L12,
    L13,
    L14,
    L15,
    L16,
    L17,
    L18,
    L19,
    L20,
    L21,
    L22,
    L23,
}

/// `INLINE_LENS[n]` is the `InlineLen` of value `n`.
const INLINE_LENS: [InlineLen; INLINE_CAP + 1] = {
    use InlineLen::*;
    [
        L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11, L12, L13, L14, L15, L16, L17, L18, L19,
        L20, L21, L22, L23,
    ]
};

impl SmallBytes {
    /// The empty string.
    pub const fn new() -> Self {
        SmallBytes(Repr::Inline {
            len: InlineLen::L0,
            data: [0; INLINE_CAP],
        })
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            // `len` is at most INLINE_CAP by its type, so the slice is in bounds.
            Repr::Inline { len, data } => &data[..*len as usize],
            Repr::Heap(bytes) => bytes,
        }
    }

    /// True when the bytes are stored inline (no heap allocation).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    /// Heap bytes this string owns besides its own 24 bytes (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(bytes) => bytes.len(),
        }
    }

    /// The bytes as a vector (no copy when they are on the heap).
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline { len, data } => data[..len as usize].to_vec(),
            Repr::Heap(bytes) => bytes.into_vec(),
        }
    }

    /// Inline copy of `bytes`, or `None` when they are too long to be inline.
    fn inline(bytes: &[u8]) -> Option<Self> {
        let len = *INLINE_LENS.get(bytes.len())?;
        let mut data = [0; INLINE_CAP];
        data[..bytes.len()].copy_from_slice(bytes);
        Some(SmallBytes(Repr::Inline { len, data }))
    }
}

impl Default for SmallBytes {
    fn default() -> Self {
        SmallBytes::new()
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(bytes: &[u8]) -> Self {
        SmallBytes::inline(bytes).unwrap_or_else(|| SmallBytes(Repr::Heap(bytes.into())))
    }
}

impl<const N: usize> From<&[u8; N]> for SmallBytes {
    fn from(bytes: &[u8; N]) -> Self {
        SmallBytes::from(&bytes[..])
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(bytes: Vec<u8>) -> Self {
        SmallBytes::inline(&bytes)
            .unwrap_or_else(|| SmallBytes(Repr::Heap(bytes.into_boxed_slice())))
    }
}

impl From<Box<[u8]>> for SmallBytes {
    fn from(bytes: Box<[u8]>) -> Self {
        SmallBytes::inline(&bytes).unwrap_or(SmallBytes(Repr::Heap(bytes)))
    }
}

impl From<&str> for SmallBytes {
    fn from(s: &str) -> Self {
        SmallBytes::from(s.as_bytes())
    }
}

impl From<String> for SmallBytes {
    fn from(s: String) -> Self {
        SmallBytes::from(s.into_bytes())
    }
}

impl Deref for SmallBytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for SmallBytes {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SmallBytes {}

impl PartialEq<[u8]> for SmallBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<&[u8]> for SmallBytes {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_bytes() == *other
    }
}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// Hashes exactly as `[u8]` does, so `Borrow<[u8]>` lookups in std maps work.
impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn size_is_24_bytes() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        assert_eq!(std::mem::size_of::<Option<SmallBytes>>(), 24);
    }

    #[test]
    fn inline_heap_boundary() {
        for len in [0usize, 1, 22, 23, 24, 25, 100, 4096] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let from_slice = SmallBytes::from(&bytes[..]);
            let from_vec = SmallBytes::from(bytes.clone());
            let from_box = SmallBytes::from(bytes.clone().into_boxed_slice());
            for s in [&from_slice, &from_vec, &from_box] {
                assert_eq!(s.as_bytes(), &bytes[..], "len {len}");
                assert_eq!(s.len(), len);
                assert_eq!(s.is_inline(), len <= INLINE_CAP, "len {len}");
                assert_eq!(s.heap_size(), if len <= INLINE_CAP { 0 } else { len });
            }
            assert_eq!(from_slice.clone().into_vec(), bytes);
            assert_eq!(from_vec.into_vec(), bytes);
        }
        assert!(SmallBytes::new().is_empty());
        assert_eq!(SmallBytes::default(), SmallBytes::from(&b""[..]));
    }

    #[test]
    fn binary_bytes_roundtrip() {
        let all: Vec<u8> = (0..=255u8).collect();
        for len in [0, 1, 23, 24, 256] {
            let s = SmallBytes::from(&all[..len]);
            assert_eq!(&*s, &all[..len]);
        }
        let zeros = SmallBytes::from(vec![0u8; 23]);
        assert_eq!(zeros.len(), 23);
        assert_ne!(zeros, SmallBytes::from(vec![0u8; 22]));
        assert_ne!(SmallBytes::from(vec![0u8; 24]), zeros);
    }

    #[test]
    fn eq_ord_hash_follow_bytes() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            b"a".to_vec(),
            b"ab".to_vec(),
            vec![0xff; 23],
            vec![0xff; 24],
            vec![0x00; 24],
            b"abcdefghijklmnopqrstuvw".to_vec(),
            b"abcdefghijklmnopqrstuvwx".to_vec(),
        ];
        for a in &cases {
            let sa = SmallBytes::from(&a[..]);
            assert_eq!(hash_of(&sa), hash_of(&a[..]));
            assert_eq!(sa, a[..]);
            for b in &cases {
                let sb = SmallBytes::from(&b[..]);
                assert_eq!(sa.cmp(&sb), a.cmp(b), "{a:?} vs {b:?}");
                assert_eq!(sa == sb, a == b);
            }
        }
    }

    #[test]
    fn borrow_lookup_in_std_map() {
        let mut map = std::collections::HashMap::new();
        map.insert(SmallBytes::from("short"), 1);
        map.insert(SmallBytes::from("a key longer than twenty-three bytes"), 2);
        assert_eq!(map.get(&b"short"[..]), Some(&1));
        assert_eq!(
            map.get(&b"a key longer than twenty-three bytes"[..]),
            Some(&2)
        );
    }

    #[test]
    fn debug_is_lossy_text() {
        assert_eq!(format!("{:?}", SmallBytes::from("key:1")), "\"key:1\"");
        assert_eq!(
            format!("{:?}", SmallBytes::from(&[b'a', 0xff][..])),
            "\"a\u{fffd}\""
        );
    }
}
