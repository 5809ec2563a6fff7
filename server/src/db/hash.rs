//! Hash values. Small hashes keep their fields in insertion order in a vector (Redis's
//! `listpack` encoding, whose field order clients observe); past `hash-max-listpack-entries`
//! fields or a value longer than `hash-max-listpack-value` bytes they convert, for good, to a
//! dict (`hashtable`), as Redis does.

use super::{Dict, SmallBytes};

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
}
