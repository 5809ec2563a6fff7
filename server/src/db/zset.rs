//! Sorted set values. Small ones (`zset-max-listpack-entries` / `-value`) are a vector sorted
//! by (score, member), Redis's `listpack`; larger ones a skiplist with spans for O(log n) rank
//! plus a dict from member to score (`skiplist`), as Redis does.

use super::SmallBytes;

#[derive(Debug, Clone)]
pub enum ZSet {
    /// Sorted by (score, member).
    Listpack(Vec<(SmallBytes, f64)>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Listpack(Vec::new())
    }
}

impl ZSet {
    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
        }
    }

    /// Heap bytes owned by the sorted set.
    pub fn mem_usage(&self) -> usize {
        match self {
            ZSet::Listpack(v) => {
                v.capacity() * std::mem::size_of::<(SmallBytes, f64)>()
                    + v.iter().map(|(m, _)| m.heap_size()).sum::<usize>()
            }
        }
    }
}
