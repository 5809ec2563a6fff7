//! Set values. Sets of integers (up to `set-max-intset-entries`) are a sorted vector of i64,
//! Redis's `intset` (SMEMBERS returns them sorted); any other set is a dict (`hashtable`),
//! and never converts back, as in Redis 7.0.

use super::{Dict, SmallBytes};

#[derive(Debug, Clone)]
pub enum Set {
    Intset(Vec<i64>),
    Table(Dict<SmallBytes, ()>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Intset(Vec::new())
    }
}

impl Set {
    pub fn len(&self) -> usize {
        match self {
            Set::Intset(v) => v.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned by the set.
    pub fn mem_usage(&self) -> usize {
        match self {
            Set::Intset(v) => v.capacity() * 8,
            Set::Table(d) => d.mem_usage() + d.keys().map(SmallBytes::heap_size).sum::<usize>(),
        }
    }
}
