//! Visiting a `Dict` without holding it still: SCAN's cursor walk and the random picks
//! (RANDOMKEY, SPOP, eviction and expiry sampling), as Redis's `dictScan`,
//! `dictGetFairRandomKey` and `dictGetSomeKeys`.

use super::{Dict, Node, Table, FAIR_RANDOM_SAMPLE, RANDOM_PROBES};

impl<K: AsRef<[u8]>, V> Dict<K, V> {
    /// One SCAN step, exactly Redis's `dictScan`: calls `f` for every entry of the bucket(s) at
    /// `cursor` and returns the next cursor, 0 when the iteration is complete. Start with 0. Every
    /// element present from the first call to the last is returned at least once, even if the table
    /// grows, shrinks or rehashes between calls; some may be returned more than once.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&K, &V)) -> u64 {
        fn emit<K, V>(table: &Table<K, V>, index: u64, f: &mut impl FnMut(&K, &V)) {
            let mut link = table.buckets.get(index as usize).and_then(Option::as_deref);
            while let Some(node) = link {
                f(&node.key, &node.value);
                link = node.next.as_deref();
            }
        }
        /// Increments the reversed cursor: the bits above `mask` are set first so the carry runs
        /// through the masked bits only.
        fn next_cursor(v: u64, mask: u64) -> u64 {
            (v | !mask).reverse_bits().wrapping_add(1).reverse_bits()
        }

        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        if !self.is_rehashing() {
            let t0 = &self.ht[0];
            let m0 = t0.mask() as u64;
            emit(t0, v & m0, &mut f);
            return next_cursor(v, m0);
        }
        let (small, big) = if self.ht[0].size() > self.ht[1].size() {
            (&self.ht[1], &self.ht[0])
        } else {
            (&self.ht[0], &self.ht[1])
        };
        let m0 = small.mask() as u64;
        let m1 = big.mask() as u64;
        emit(small, v & m0, &mut f);
        // Then every bucket of the bigger table that expands the smaller table's bucket.
        loop {
            emit(big, v & m1, &mut f);
            v = next_cursor(v, m1);
            if v & (m0 ^ m1) == 0 {
                return v;
            }
        }
    }

    /// A random entry, as Redis's `dictGetFairRandomKey`: samples up to 15 entries with
    /// [`Dict::sample`]'s walk and picks one of them, falling back to a random bucket and a random
    /// element of its chain when the walk found nothing. `None` only when empty.
    pub fn random_entry(&self, rand: &mut dyn FnMut() -> u64) -> Option<(&K, &V)> {
        let mut found: [Option<&Node<K, V>>; FAIR_RANDOM_SAMPLE] = [None; FAIR_RANDOM_SAMPLE];
        let mut count = 0;
        self.sample_nodes(FAIR_RANDOM_SAMPLE, rand, |node| {
            found[count] = Some(node);
            count += 1;
        });
        let node = if count == 0 {
            self.random_chain_entry(rand)?
        } else {
            found[(rand() % count as u64) as usize]?
        };
        Some((&node.key, &node.value))
    }

    /// Up to `count` entries from a random walk, as Redis's `dictGetSomeKeys`: starting at a random
    /// bucket, it collects whole chains of consecutive buckets, jumping to another random bucket
    /// after a run of empty ones, and gives up after `10 * count` bucket steps. So the result may
    /// hold fewer than `min(count, len)` entries (sparse tables), may hold the same entry twice
    /// (when the walk wraps or jumps back over visited buckets), and is not a uniform sample
    /// (neighbouring buckets come together). Good for eviction and expiry sampling, not for
    /// SRANDMEMBER-style distinct draws.
    pub fn sample(&self, count: usize, rand: &mut dyn FnMut() -> u64) -> Vec<(&K, &V)> {
        let mut out = Vec::with_capacity(count.min(self.len()));
        self.sample_nodes(count, rand, |node| out.push((&node.key, &node.value)));
        out
    }

    /// The walk of `dictGetSomeKeys`; calls `f` at most `count` times and returns how many.
    fn sample_nodes<'a>(
        &'a self,
        count: usize,
        rand: &mut dyn FnMut() -> u64,
        mut f: impl FnMut(&'a Node<K, V>),
    ) -> usize {
        let count = count.min(self.len());
        if count == 0 {
            return 0;
        }
        let mut max_steps = count.saturating_mul(10);
        let tables = if self.is_rehashing() { 2 } else { 1 };
        let rehash_idx = self.rehash_idx.unwrap_or(0);
        let max_mask = self.ht[..tables].iter().map(Table::mask).max().unwrap_or(0);
        let mut i = rand() as usize & max_mask;
        let mut empty_len = 0;
        let mut stored = 0;
        while stored < count && max_steps > 0 {
            max_steps -= 1;
            for j in 0..tables {
                // Buckets of table 0 below the rehash index are empty: skip them, and jump to the
                // rehash index when `i` is also beyond table 1 (shrinking), where nothing lies
                // before it.
                if tables == 2 && j == 0 && i < rehash_idx {
                    if i >= self.ht[1].size() {
                        i = rehash_idx;
                    } else {
                        continue;
                    }
                }
                let Some(link) = self.ht[j].buckets.get(i) else {
                    continue;
                };
                match link {
                    None => {
                        empty_len += 1;
                        if empty_len >= 5 && empty_len > count {
                            i = rand() as usize & max_mask;
                            empty_len = 0;
                        }
                    }
                    Some(head) => {
                        empty_len = 0;
                        let mut node = Some(&**head);
                        while let Some(n) = node {
                            f(n);
                            stored += 1;
                            if stored == count {
                                return stored;
                            }
                            node = n.next.as_deref();
                        }
                    }
                }
            }
            i = (i + 1) & max_mask;
        }
        stored
    }

    /// Redis's `dictGetRandomKey`: a random non-empty bucket, then a random element of its chain.
    /// After `RANDOM_PROBES` empty probes (a very sparse table, or a poor `rand`) it walks the
    /// buckets from the last probe to the first non-empty one, so it always ends.
    fn random_chain_entry(&self, rand: &mut dyn FnMut() -> u64) -> Option<&Node<K, V>> {
        if self.is_empty() {
            return None;
        }
        let s0 = self.ht[0].size();
        // Slots below the rehash index are empty; without a rehash, table 1 has no slots.
        let first = self.rehash_idx.unwrap_or(0);
        let span = self.bucket_count().saturating_sub(first).max(1) as u64;
        let slot = |h: usize| -> Option<&Node<K, V>> {
            let link = if h >= s0 {
                self.ht[1].buckets.get(h - s0)
            } else {
                self.ht[0].buckets.get(h)
            };
            link.and_then(Option::as_deref)
        };
        let mut h = first;
        let mut head = None;
        for _ in 0..RANDOM_PROBES {
            h = first + (rand() % span) as usize;
            head = slot(h);
            if head.is_some() {
                break;
            }
        }
        let head = match head {
            Some(head) => head,
            None => (0..span as usize)
                .map(|k| first + (h - first + k) % span as usize)
                .find_map(slot)?,
        };
        let mut len = 0u64;
        let mut node = Some(head);
        while let Some(n) = node {
            len += 1;
            node = n.next.as_deref();
        }
        let mut node = head;
        for _ in 0..rand() % len {
            node = node.next.as_deref()?;
        }
        Some(node)
    }
}
