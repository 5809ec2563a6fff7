//! `Dict`: a chained hash table with incremental rehashing, after Redis 7.0's `dict.c`.
//!
//! Why not `hashbrown`: the keyspace needs what an open-addressing map cannot give cheaply. SCAN's
//! guarantee (an element present for the whole iteration is returned at least once, across resizes)
//! comes from Redis's reverse-binary cursor over power-of-two bucket arrays; random sampling
//! (RANDOMKEY, SPOP, eviction) picks buckets; resizing is spread over operations and a cron instead
//! of one long pause, and can be held off while a snapshot runs.
//!
//! Layout: two tables of `2^n` buckets, each a singly linked chain of boxed nodes (key, value,
//! next). Table 0 is the live one; while rehashing, buckets of table 0 below `rehash_idx` have been
//! moved to table 1, lookups search both, and inserts go to table 1. When table 0 is empty, table 1
//! replaces it. Growing starts when `len >= buckets` (or `len / buckets > 5` while resizing is
//! disallowed); shrinking is the cron's decision ([`Dict::shrink_if_needed`]), as in Redis.
//!
//! Work done per operation, as Redis's `_dictRehashStep`: `insert`, `get_or_insert_with`, `get_mut`
//! and `remove` move one bucket (visiting at most 10 empty ones) while a rehash is in progress. The
//! `&self` methods (`get`, `scan`, `random_entry`, `sample`, iteration) cannot, so a caller whose
//! reads should help may call [`Dict::rehash_step`]; the cron calls [`Dict::rehash_for_budget`].
//!
//! Hashing is foldhash's `FixedState` seeded by the caller over the key bytes, so the same seed and
//! the same operations give the same layout and the same iteration, scan and sampling order
//! (simulation replays). Chains are walked and dropped with loops, never recursion.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::iter::Chain;
use std::mem;
use std::slice;

use foldhash::fast::FixedState;

/// Size of a table when the first element is inserted (Redis's `DICT_HT_INITIAL_SIZE`).
const INITIAL_SIZE: usize = 4;
/// While resizing is disallowed, grow anyway past this many elements per bucket.
const FORCE_RESIZE_RATIO: usize = 5;
/// Shrink when fewer than this percentage of buckets are used (Redis's `HASHTABLE_MIN_FILL`).
const MIN_FILL_PERCENT: usize = 10;
/// Entries `random_entry` samples before picking one (Redis's `GETFAIR_NUM_ENTRIES`).
const FAIR_RANDOM_SAMPLE: usize = 15;
/// Random bucket probes in the slow random path before falling back to a linear walk.
const RANDOM_PROBES: usize = 1000;

struct Node<K, V> {
    key: K,
    value: V,
    next: Link<K, V>,
}

type Link<K, V> = Option<Box<Node<K, V>>>;

struct Table<K, V> {
    buckets: Box<[Link<K, V>]>,
    used: usize,
}

/// A chained hash table keyed by byte strings; see the module documentation.
pub struct Dict<K, V> {
    ht: [Table<K, V>; 2],
    /// Next bucket of table 0 to move; `Some` exactly while rehashing (table 1 allocated).
    rehash_idx: Option<usize>,
    resize_allowed: bool,
    seed: u64,
    /// A snapshot walks the buckets in order: no rehashing, growing or shrinking meanwhile
    /// (only the first allocation of an empty table).
    frozen: bool,
    hasher: FixedState,
}

/// Drops a chain node by node (a `Box` chain dropped as a whole would recurse once per node).
fn drop_chain<K, V>(mut link: Link<K, V>) {
    while let Some(mut node) = link {
        link = node.next.take();
    }
}

/// The link holding `key`'s node if the chain has it, else the empty link at the chain's end.
fn find_link<'a, K: AsRef<[u8]>, V>(
    mut link: &'a mut Link<K, V>,
    key: &[u8],
) -> &'a mut Link<K, V> {
    while matches!(link, Some(node) if node.key.as_ref() != key) {
        if let Some(node) = link {
            link = &mut node.next;
        }
    }
    link
}

fn find_node<'a, K: AsRef<[u8]>, V>(
    mut node: Option<&'a Node<K, V>>,
    key: &[u8],
) -> Option<&'a Node<K, V>> {
    while let Some(n) = node {
        if n.key.as_ref() == key {
            return Some(n);
        }
        node = n.next.as_deref();
    }
    None
}

/// Unlinks and returns `key`'s node (with `next` cleared).
fn unlink<K: AsRef<[u8]>, V>(link: &mut Link<K, V>, key: &[u8]) -> Option<Box<Node<K, V>>> {
    let link = find_link(link, key);
    let mut node = link.take()?;
    *link = node.next.take();
    Some(node)
}

impl<K, V> Table<K, V> {
    fn empty() -> Self {
        Table {
            buckets: Box::default(),
            used: 0,
        }
    }

    /// A table of `size` empty buckets; aborts on allocation failure like any allocation.
    fn with_size(size: usize) -> Self {
        Table {
            buckets: (0..size).map(|_| None).collect(),
            used: 0,
        }
    }

    /// As `with_size`, but `None` when the allocation fails (as Redis's `dictTryExpand`).
    fn try_with_size(size: usize) -> Option<Self> {
        let mut buckets = Vec::new();
        buckets.try_reserve_exact(size).ok()?;
        buckets.resize_with(size, || None);
        Some(Table {
            buckets: buckets.into_boxed_slice(),
            used: 0,
        })
    }

    fn size(&self) -> usize {
        self.buckets.len()
    }

    /// `size - 1`; meaningless (all ones) for an unallocated table, whose `get` then finds nothing.
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// The bucket of `hash`: below `size` whenever the table is allocated (the size is a power of
    /// two).
    fn index(&self, hash: u64) -> usize {
        hash as usize & self.mask()
    }

    /// First node of `hash`'s chain (`None` for an unallocated table).
    fn head(&self, hash: u64) -> Option<&Node<K, V>> {
        self.buckets
            .get(self.index(hash))
            .and_then(Option::as_deref)
    }
}

impl<K, V> Drop for Table<K, V> {
    fn drop(&mut self) {
        for bucket in self.buckets.iter_mut() {
            drop_chain(bucket.take());
        }
    }
}

impl<K: AsRef<[u8]>, V> Dict<K, V> {
    /// An empty dict (no allocation) hashing with `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Dict {
            ht: [Table::empty(), Table::empty()],
            rehash_idx: None,
            resize_allowed: true,
            seed,
            frozen: false,
            hasher: FixedState::with_seed(seed),
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(key);
        hasher.finish()
    }

    pub fn len(&self) -> usize {
        self.ht[0].used + self.ht[1].used
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buckets in both tables (Redis's `dictSlots`).
    pub fn bucket_count(&self) -> usize {
        self.ht[0].size() + self.ht[1].size()
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// Allows or forbids resizing (Redis's `dictEnableResize`/`dictDisableResize`, per dict here).
    /// While forbidden, tables grow only past 5 elements per bucket and never shrink; a rehash
    /// already in progress still advances.
    pub fn set_resize_allowed(&mut self, allowed: bool) {
        self.resize_allowed = allowed;
    }

    pub fn resize_allowed(&self) -> bool {
        self.resize_allowed
    }

    /// Approximate memory of the structure: both bucket arrays and one node per entry, without
    /// `size_of::<Dict>()`, allocator overhead, or the heap the keys and values own.
    pub fn mem_usage(&self) -> usize {
        self.bucket_count() * mem::size_of::<Link<K, V>>()
            + self.len() * mem::size_of::<Node<K, V>>()
    }

    /// Bytes of one entry's node (key, value and chain link, as stored inline in the node),
    /// without the heap the key and value own: what each element adds to [`Dict::mem_usage`].
    pub const fn entry_bytes() -> usize {
        mem::size_of::<Node<K, V>>()
    }

    /// Node of `key`, searching table 1 too while rehashing.
    fn find(&self, key: &[u8]) -> Option<&Node<K, V>> {
        if self.is_empty() {
            return None;
        }
        let hash = self.hash(key);
        let tables = if self.is_rehashing() { 2 } else { 1 };
        self.ht[..tables]
            .iter()
            .find_map(|table| find_node(table.head(hash), key))
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|node| &node.value)
    }

    pub fn get_key_value(&self, key: &[u8]) -> Option<(&K, &V)> {
        self.find(key).map(|node| (&node.key, &node.value))
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Mutable access to `key`'s value; does a rehash step like Redis's `dictFind`.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let hash = self.hash(key);
        let tables = if self.is_rehashing() { 2 } else { 1 };
        for table in &mut self.ht[..tables] {
            let index = table.index(hash);
            if let Some(link) = table.buckets.get_mut(index) {
                if let Some(node) = find_link(link, key) {
                    return Some(&mut node.value);
                }
            }
        }
        None
    }

    /// After a rehash step and a possible expansion: the link holding `key`'s node, or the empty
    /// link where a new node for `key` belongs, with the `used` counter of that link's table.
    fn slot_for_insert(&mut self, key: &[u8]) -> (&mut Link<K, V>, &mut usize) {
        self.rehash_step();
        self.expand_if_needed();
        let hash = self.hash(key);
        let rehashing = self.is_rehashing();
        let [t0, t1] = &mut self.ht;
        // `expand_if_needed` left table 0 allocated, and table 1 is allocated while rehashing, so
        // the masked indexes below are in bounds.
        let index0 = t0.index(hash);
        let link0 = find_link(&mut t0.buckets[index0], key);
        if !rehashing || link0.is_some() {
            return (link0, &mut t0.used);
        }
        let index1 = t1.index(hash);
        (find_link(&mut t1.buckets[index1], key), &mut t1.used)
    }

    /// Inserts or replaces `key`'s value. On replace the stored key is kept (the new one is
    /// dropped) and the old value returned.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let (link, used) = self.slot_for_insert(key.as_ref());
        match link {
            Some(node) => Some(mem::replace(&mut node.value, value)),
            vacant => {
                *vacant = Some(Box::new(Node {
                    key,
                    value,
                    next: None,
                }));
                *used += 1;
                None
            }
        }
    }

    /// The value of `key`, inserted from `make_key()` (whose bytes must equal `key`) and
    /// `make_val()` when absent; `true` when inserted.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        make_key: impl FnOnce() -> K,
        make_val: impl FnOnce() -> V,
    ) -> (&mut V, bool) {
        let (link, used) = self.slot_for_insert(key);
        match link {
            Some(node) => (&mut node.value, false),
            vacant => {
                let key_owned = make_key();
                debug_assert!(
                    key_owned.as_ref() == key,
                    "make_key must build the looked-up key"
                );
                *used += 1;
                let node = vacant.insert(Box::new(Node {
                    key: key_owned,
                    value: make_val(),
                    next: None,
                }));
                (&mut node.value, true)
            }
        }
    }

    /// Removes `key`, returning the stored key and value.
    pub fn remove(&mut self, key: &[u8]) -> Option<(K, V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let hash = self.hash(key);
        let tables = if self.is_rehashing() { 2 } else { 1 };
        for table in &mut self.ht[..tables] {
            let index = table.index(hash);
            let Some(link) = table.buckets.get_mut(index) else {
                continue;
            };
            if let Some(node) = unlink(link, key) {
                table.used -= 1;
                let Node { key, value, .. } = *node;
                return Some((key, value));
            }
        }
        None
    }

    /// Removes everything and frees the tables; keeps the seed and the resize setting.
    pub fn clear(&mut self) {
        self.ht = [Table::empty(), Table::empty()];
        self.rehash_idx = None;
    }

    /// Removes everything, returning the entries in bucket order; the dict is left empty at once.
    pub fn drain(&mut self) -> IntoIter<K, V> {
        self.rehash_idx = None;
        IntoIter::new(mem::replace(&mut self.ht, [Table::empty(), Table::empty()]))
    }

    /// Grows as Redis's `_dictExpandIfNeeded`.
    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let size = self.ht[0].size();
        if size == 0 {
            self.ht[0] = Table::with_size(INITIAL_SIZE);
            return;
        }
        if self.frozen {
            return;
        }
        let used = self.ht[0].used;
        if used >= size && (self.resize_allowed || used / size > FORCE_RESIZE_RATIO) {
            self.expand(used.saturating_add(1));
        }
    }

    /// Starts resizing to the smallest power of two (at least 4) holding `size` elements, as
    /// Redis's `dictTryExpand`: `false` when rehashing, when `size` is below the element count,
    /// when the size would not change, or when the bucket array cannot be allocated. Callers cap
    /// sizes read from untrusted input (an RDB length) themselves.
    pub fn expand(&mut self, size: usize) -> bool {
        if self.is_rehashing() || self.ht[0].used > size {
            return false;
        }
        let Some(new_size) = size.max(INITIAL_SIZE).checked_next_power_of_two() else {
            return false;
        };
        if new_size == self.ht[0].size() {
            return false;
        }
        let Some(table) = Table::try_with_size(new_size) else {
            return false;
        };
        if self.ht[0].size() == 0 {
            self.ht[0] = table;
        } else {
            self.ht[1] = table;
            self.rehash_idx = Some(0);
        }
        true
    }

    /// Starts shrinking when the table is under 10% full and bigger than the minimum (Redis's
    /// `htNeedsResize` + `dictResize`, called from the cron). Refused while rehashing or while
    /// resizing is disallowed. Returns whether a resize started.
    pub fn shrink_if_needed(&mut self) -> bool {
        let size = self.bucket_count();
        let used = self.len();
        let needs = size > INITIAL_SIZE && used.saturating_mul(100) / size < MIN_FILL_PERCENT;
        if !needs || !self.resize_allowed || self.frozen || self.is_rehashing() {
            return false;
        }
        self.expand(self.ht[0].used.max(INITIAL_SIZE))
    }

    /// The hash seed (to make an empty dict that hashes alike).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Freeze the layout for a snapshot: no resizing or rehashing until [`Dict::unfreeze`], so
    /// every key stays in its bucket. A rehash in progress stays half done (finishing it here
    /// would stall the server for as long as it takes): the walk then covers the buckets of
    /// table 0 not yet moved and all of table 1, where new keys go meanwhile.
    pub fn freeze(&mut self) {
        self.frozen = true;
    }

    pub fn unfreeze(&mut self) {
        self.frozen = false;
    }

    /// Number of buckets of the (frozen) layout: table 0's, then table 1's while rehashing.
    pub fn buckets(&self) -> usize {
        match self.rehash_idx {
            Some(_) => self.ht[0].size() + self.ht[1].size(),
            None => self.ht[0].size(),
        }
    }

    /// The bucket (numbered as in [`Dict::buckets`]) where `key` is, or would be inserted, in
    /// the frozen layout. While rehashing, a key still in table 0 is at its bucket there; any
    /// other key is (or will be, when inserted) in table 1.
    pub fn bucket_of(&self, key: &[u8]) -> usize {
        let hash = self.hash(key);
        let Some(rehash_idx) = self.rehash_idx else {
            return self.ht[0].index(hash);
        };
        let index0 = self.ht[0].index(hash);
        if index0 >= rehash_idx && find_node(self.ht[0].head(hash), key).is_some() {
            return index0;
        }
        self.ht[0].size() + self.ht[1].index(hash)
    }

    /// Visit the entries of one bucket (numbered as in [`Dict::buckets`]) of the frozen layout.
    pub fn for_each_in_bucket(&self, bucket: usize, mut f: impl FnMut(&K, &V)) {
        let size0 = self.ht[0].size();
        let (table, index) = if bucket < size0 {
            (&self.ht[0], bucket)
        } else {
            (&self.ht[1], bucket - size0)
        };
        let mut node = table.buckets.get(index).and_then(Option::as_deref);
        while let Some(n) = node {
            f(&n.key, &n.value);
            node = n.next.as_deref();
        }
    }

    /// One incremental rehash step (Redis's `_dictRehashStep`); nothing when not rehashing.
    pub fn rehash_step(&mut self) {
        if self.is_rehashing() && !self.frozen {
            self.rehash(1);
        }
    }

    /// Moves up to `n_buckets` non-empty buckets (visiting at most ten times as many empty ones)
    /// from the old table to the new one, as Redis's `dictRehash`. Returns whether rehashing
    /// remains.
    pub fn rehash_for_budget(&mut self, n_buckets: usize) -> bool {
        if self.frozen {
            return self.is_rehashing();
        }
        self.rehash(n_buckets)
    }

    fn rehash(&mut self, mut n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = n.saturating_mul(10);
        let hasher = &self.hasher;
        let [t0, t1] = &mut self.ht;
        while n > 0 && t0.used != 0 {
            n -= 1;
            // Buckets below `idx` are empty and `t0.used != 0`, so a non-empty bucket lies ahead.
            let mut chain = loop {
                match t0.buckets.get_mut(idx) {
                    Some(None) => {
                        idx += 1;
                        empty_visits -= 1;
                        if empty_visits == 0 {
                            self.rehash_idx = Some(idx);
                            return true;
                        }
                    }
                    Some(link) => break link.take(),
                    None => {
                        debug_assert!(false, "rehash index past a table holding elements");
                        break None;
                    }
                }
            };
            while let Some(mut node) = chain {
                chain = node.next.take();
                let mut h = hasher.build_hasher();
                h.write(node.key.as_ref());
                // Table 1 is allocated while rehashing, so the masked index is in bounds.
                let slot = &mut t1.buckets[t1.index(h.finish())];
                node.next = slot.take();
                *slot = Some(node);
                t0.used -= 1;
                t1.used += 1;
            }
            idx += 1;
        }
        if t0.used == 0 {
            self.ht.swap(0, 1);
            self.ht[1] = Table::empty();
            self.rehash_idx = None;
            return false;
        }
        self.rehash_idx = Some(idx);
        true
    }

    /// Entries in bucket order (table 0, then table 1 while rehashing).
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            buckets: self.ht[0].buckets.iter().chain(self.ht[1].buckets.iter()),
            node: None,
            remaining: self.len(),
        }
    }

    /// As `iter`, with mutable values.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        let remaining = self.len();
        let [t0, t1] = &mut self.ht;
        IterMut {
            buckets: t0.buckets.iter_mut().chain(t1.buckets.iter_mut()),
            node: None,
            remaining,
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }
}

/// A copy with the same layout (buckets, chain order, rehash progress), hence the same iteration
/// order.
impl<K: Clone, V: Clone> Clone for Dict<K, V> {
    fn clone(&self) -> Self {
        fn clone_table<K: Clone, V: Clone>(table: &Table<K, V>) -> Table<K, V> {
            let mut chain = Vec::new();
            let buckets = table
                .buckets
                .iter()
                .map(|link| {
                    chain.clear();
                    let mut node = link.as_deref();
                    while let Some(n) = node {
                        chain.push(n);
                        node = n.next.as_deref();
                    }
                    chain.iter().rev().fold(None, |next, n| {
                        Some(Box::new(Node {
                            key: n.key.clone(),
                            value: n.value.clone(),
                            next,
                        }))
                    })
                })
                .collect();
            Table {
                buckets,
                used: table.used,
            }
        }
        Dict {
            ht: [clone_table(&self.ht[0]), clone_table(&self.ht[1])],
            rehash_idx: self.rehash_idx,
            resize_allowed: self.resize_allowed,
            seed: self.seed,
            frozen: self.frozen,
            hasher: self.hasher.clone(),
        }
    }
}

impl<K: AsRef<[u8]> + fmt::Debug, V: fmt::Debug> fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

type Buckets<'a, K, V> = slice::Iter<'a, Link<K, V>>;

/// Borrowing iterator in bucket order.
pub struct Iter<'a, K, V> {
    buckets: Chain<Buckets<'a, K, V>, Buckets<'a, K, V>>,
    node: Option<&'a Node<K, V>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(node) = self.node {
                self.node = node.next.as_deref();
                self.remaining = self.remaining.saturating_sub(1);
                return Some((&node.key, &node.value));
            }
            if self.remaining == 0 {
                return None;
            }
            self.node = self.buckets.next()?.as_deref();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

type BucketsMut<'a, K, V> = slice::IterMut<'a, Link<K, V>>;

/// Iterator with mutable values, in bucket order.
pub struct IterMut<'a, K, V> {
    buckets: Chain<BucketsMut<'a, K, V>, BucketsMut<'a, K, V>>,
    node: Option<&'a mut Node<K, V>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(node) = self.node.take() {
                let Node { key, value, next } = node;
                self.node = next.as_deref_mut();
                self.remaining = self.remaining.saturating_sub(1);
                return Some((key, value));
            }
            if self.remaining == 0 {
                return None;
            }
            self.node = self.buckets.next()?.as_deref_mut();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}

/// Owning iterator in bucket order (from `into_iter` or `drain`).
pub struct IntoIter<K, V> {
    tables: [Table<K, V>; 2],
    table: usize,
    bucket: usize,
    chain: Link<K, V>,
    remaining: usize,
}

impl<K, V> IntoIter<K, V> {
    fn new(tables: [Table<K, V>; 2]) -> Self {
        let remaining = tables[0].used + tables[1].used;
        IntoIter {
            tables,
            table: 0,
            bucket: 0,
            chain: None,
            remaining,
        }
    }
}

impl<K, V> Iterator for IntoIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(node) = self.chain.take() {
                let Node { key, value, next } = *node;
                self.chain = next;
                self.remaining = self.remaining.saturating_sub(1);
                return Some((key, value));
            }
            if self.remaining == 0 {
                return None;
            }
            let table = self.tables.get_mut(self.table)?;
            match table.buckets.get_mut(self.bucket) {
                Some(link) => {
                    self.chain = link.take();
                    self.bucket += 1;
                }
                None => {
                    self.table += 1;
                    self.bucket = 0;
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for IntoIter<K, V> {}

impl<K, V> Drop for IntoIter<K, V> {
    fn drop(&mut self) {
        drop_chain(self.chain.take());
    }
}

impl<K, V> IntoIterator for Dict<K, V> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;

    fn into_iter(self) -> IntoIter<K, V> {
        IntoIter::new(self.ht)
    }
}

impl<'a, K: AsRef<[u8]>, V> IntoIterator for &'a Dict<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

mod sample;
#[cfg(test)]
mod tests;
