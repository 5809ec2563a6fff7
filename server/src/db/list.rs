//! List values. Redis 7.0 stores every list as a quicklist (OBJECT ENCODING `quicklist`);
//! picket keeps the elements in a ring buffer of compact byte strings: O(1) push/pop at both
//! ends and O(1) index.

use std::collections::VecDeque;

use super::SmallBytes;

#[derive(Debug, Clone, Default)]
pub struct List {
    pub items: VecDeque<SmallBytes>,
}

impl List {
    pub fn new() -> Self {
        List::default()
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
}
