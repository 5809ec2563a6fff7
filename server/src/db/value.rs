//! Values stored in the keyspace.
//!
//! Strings are stored the way Redis would report them: integers that `string2ll` accepts are
//! kept as `i64` ("int" encoding), short strings inline without an allocation, longer ones in a
//! `Vec`. The `raw` flag remembers Redis's embstr/raw distinction (a string modified in place
//! by APPEND, SETRANGE or SETBIT is "raw" however short), so OBJECT ENCODING answers as Redis.

use std::borrow::Cow;

use super::{Hash, List, Set, Stream, ZSet};
use crate::command::args::parse_i64;

/// Longest string stored inline.
pub const INLINE_MAX: usize = 21;
/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`.
pub const EMBSTR_MAX: usize = 44;

#[derive(Debug, Clone)]
pub enum Value {
    /// A string holding a canonical integer ("int" encoding).
    Int(i64),
    /// A string of at most [`INLINE_MAX`] bytes.
    Small {
        len: u8,
        raw: bool,
        buf: [u8; INLINE_MAX],
    },
    /// A longer string.
    Big {
        data: Vec<u8>,
        raw: bool,
    },
    List(List),
    Hash(Hash),
    Set(Set),
    /// Inline: both encodings fit in 24 bytes (the skiplist is boxed inside).
    ZSet(ZSet),
    Stream(Box<Stream>),
}

const _: () = assert!(std::mem::size_of::<Value>() == 32);
const _: () = assert!(std::mem::size_of::<Set>() <= 24);
const _: () = assert!(std::mem::size_of::<List>() <= 24);

/// The type names TYPE reports.
impl Value {
    /// A string value as SET stores it (Redis's `tryObjectEncoding`): integers become "int".
    pub fn string(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(n) = parse_i64(b) {
                return Value::Int(n);
            }
        }
        Value::plain(b)
    }

    /// A string value never int-encoded (embstr when short, as `createStringObject`).
    pub fn plain(b: &[u8]) -> Value {
        Self::with_raw(b, false)
    }

    /// A string value as left by an in-place modification ("raw" encoding).
    pub fn raw(data: Vec<u8>) -> Value {
        if data.len() <= INLINE_MAX {
            Self::with_raw(&data, true)
        } else {
            Value::Big { data, raw: true }
        }
    }

    fn with_raw(b: &[u8], raw: bool) -> Value {
        if b.len() <= INLINE_MAX {
            let mut buf = [0u8; INLINE_MAX];
            buf[..b.len()].copy_from_slice(b);
            Value::Small {
                len: b.len() as u8,
                raw,
                buf,
            }
        } else {
            Value::Big {
                data: b.to_vec(),
                raw,
            }
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(
            self,
            Value::Int(_) | Value::Small { .. } | Value::Big { .. }
        )
    }

    /// TYPE's answer.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Small { .. } | Value::Big { .. } => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Small { raw, .. } => {
                if *raw {
                    "raw"
                } else {
                    "embstr"
                }
            }
            Value::Big { data, raw } => {
                if *raw || data.len() > EMBSTR_MAX {
                    "raw"
                } else {
                    "embstr"
                }
            }
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// The bytes of a string value (formatted for "int"); empty for other types, which
    /// callers check with [`Value::is_string`] first.
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Value::Int(n) => Cow::Owned(itoa::Buffer::new().format(*n).as_bytes().to_vec()),
            Value::Small { len, buf, .. } => Cow::Borrowed(&buf[..*len as usize]),
            Value::Big { data, .. } => Cow::Borrowed(data),
            _ => Cow::Borrowed(&[]),
        }
    }

    /// Length in bytes of a string value (0 for other types).
    pub fn str_len(&self) -> usize {
        match self {
            Value::Int(n) => itoa::Buffer::new().format(*n).len(),
            Value::Small { len, .. } => *len as usize,
            Value::Big { data, .. } => data.len(),
            _ => 0,
        }
    }

    /// The value as an integer if it is a string that `string2ll` accepts.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Small { len, buf, .. } => parse_i64(&buf[..*len as usize]),
            Value::Big { data, .. } => {
                if data.len() <= 20 {
                    parse_i64(data)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Take the bytes for an in-place modification (APPEND, SETRANGE, SETBIT).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Value::Big { data, .. } => data,
            other => other.bytes().into_owned(),
        }
    }

    /// Heap bytes owned by the value beyond its inline size (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Big { data, .. } => data.capacity(),
            Value::List(l) => l.mem_usage(),
            Value::Hash(h) => h.mem_usage(),
            Value::Set(s) => s.mem_usage(),
            Value::ZSet(z) => z.mem_usage(),
            Value::Stream(s) => std::mem::size_of::<Stream>() + s.mem_usage(),
            _ => 0,
        }
    }

    /// Number of elements of a collection (1 for a string), e.g. for lazy-free decisions and
    /// DEBUG OBJECT.
    pub fn elements(&self) -> usize {
        match self {
            Value::List(l) => l.len(),
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => s.len() as usize,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_as_redis() {
        assert_eq!(Value::string(b"123").encoding(), "int");
        assert_eq!(Value::string(b"-0").encoding(), "embstr");
        assert_eq!(Value::string(b"0123").encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(Value::raw(b"ab".to_vec()).encoding(), "raw");
        assert_eq!(Value::plain(b"3").encoding(), "embstr");
        assert_eq!(Value::string(b"123").bytes().as_ref(), b"123");
        assert_eq!(Value::string(b"12345678901234567890").encoding(), "embstr");
        assert_eq!(std::mem::size_of::<Value>(), 32);
        assert!(std::mem::size_of::<ZSet>() <= 24);
    }
}
