//! Tests of the dict: model checks, SCAN guarantees, sampling, determinism.

use super::*;
use crate::db::smallbytes::SmallBytes;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

fn key(i: u64) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

/// SplitMix64: a small deterministic generator for the tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Structural invariants: counts, bucket placement, rehash progress, unique keys.
fn check<K: AsRef<[u8]>, V>(d: &Dict<K, V>) {
    let mut seen = HashSet::new();
    for (t, table) in d.ht.iter().enumerate() {
        let mut count = 0;
        for (i, bucket) in table.buckets.iter().enumerate() {
            let mut node = bucket.as_deref();
            if t == 0 && d.rehash_idx.is_some_and(|idx| i < idx) {
                assert!(
                    node.is_none(),
                    "bucket {i} below the rehash index holds entries"
                );
            }
            while let Some(n) = node {
                assert_eq!(
                    table.index(d.hash(n.key.as_ref())),
                    i,
                    "entry in the wrong bucket"
                );
                assert!(seen.insert(n.key.as_ref().to_vec()), "duplicate key");
                count += 1;
                node = n.next.as_deref();
            }
        }
        assert_eq!(count, table.used, "table {t} count");
        if t == 1 && d.rehash_idx.is_none() {
            assert_eq!(table.size(), 0, "table 1 allocated while not rehashing");
        }
    }
    assert!(d
        .ht
        .iter()
        .all(|t| t.size() == 0 || t.size().is_power_of_two()));
    assert_eq!(d.iter().count(), d.len());
}

#[test]
fn operations_match_a_model_through_rehashing() {
    let mut rng = Rng(7);
    let mut d: Dict<Vec<u8>, u64> = Dict::with_seed(42);
    let mut model: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut ops_while_rehashing = 0;
    for step in 0..60_000u64 {
        if d.is_rehashing() {
            ops_while_rehashing += 1;
        }
        // Grow for the first half, then mostly remove so the table shrinks.
        let universe = if step < 30_000 { 4000 } else { 400 };
        let k = key(rng.below(universe));
        match rng.below(10) {
            0..=2 => assert_eq!(d.insert(k.clone(), step), model.insert(k, step)),
            3 => {
                let (v, inserted) = d.get_or_insert_with(&k, || k.clone(), || step);
                assert_eq!(inserted, !model.contains_key(&k));
                *v += 1;
                *model.entry(k).or_insert(step) += 1;
            }
            4..=5 => {
                let wide = key(rng.below(4000));
                assert_eq!(d.remove(&wide), model.remove_entry(&wide));
            }
            6 => assert_eq!(d.get_mut(&k).copied(), model.get(&k).copied()),
            7 => {
                d.shrink_if_needed();
                d.rehash_for_budget(rng.below(3) as usize);
            }
            _ => {
                assert_eq!(d.get(&k), model.get(&k));
                assert_eq!(d.contains_key(&k), model.contains_key(&k));
                assert_eq!(
                    d.get_key_value(&k).map(|(k, _)| k),
                    model.get_key_value(&k).map(|(k, _)| k)
                );
            }
        }
        assert_eq!(d.len(), model.len());
        if step.is_multiple_of(997) {
            check(&d);
        }
    }
    check(&d);
    assert!(
        ops_while_rehashing > 1000,
        "rehashing seen on {ops_while_rehashing} ops"
    );
    let got: HashMap<Vec<u8>, u64> = d.iter().map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(got, model);
}

/// A key equal to others with the same bytes, whatever its tag.
#[derive(Clone, Debug)]
struct Tagged(Vec<u8>, u32);

impl AsRef<[u8]> for Tagged {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[test]
fn replace_keeps_the_old_key_and_returns_the_old_value() {
    let mut d = Dict::with_seed(1);
    for i in 0..100 {
        assert_eq!(d.insert(Tagged(key(i), 1), i), None);
    }
    for i in 0..100 {
        assert_eq!(d.insert(Tagged(key(i), 2), i + 1000), Some(i));
    }
    assert_eq!(d.len(), 100);
    for i in 0..100 {
        let (k, v) = d.get_key_value(&key(i)).expect("present");
        assert_eq!((k.1, *v), (1, i + 1000));
    }
    let (v, inserted) = d.get_or_insert_with(&key(5), || Tagged(key(5), 3), || 0);
    assert_eq!((*v, inserted), (1005, false));
    let (k, v) = d.remove(&key(5)).expect("present");
    assert_eq!((k.1, v), (1, 1005));
    assert_eq!(d.remove(&key(5)).map(|(_, v)| v), None);
}

#[test]
fn grows_then_shrinks_like_redis() {
    let mut d = Dict::with_seed(3);
    assert_eq!((d.bucket_count(), d.mem_usage()), (0, 0));
    assert!(!d.shrink_if_needed());
    for i in 0..4 {
        d.insert(key(i), ());
    }
    assert_eq!(d.bucket_count(), 4);
    assert!(!d.is_rehashing());
    d.insert(key(4), ());
    assert!(d.is_rehashing(), "the fifth element starts a grow to 8");
    assert_eq!(d.bucket_count(), 4 + 8);
    assert!(!d.expand(64), "no expand while rehashing");
    for i in 5..1000 {
        d.insert(key(i), ());
    }
    while d.rehash_for_budget(10) {}
    assert_eq!(d.bucket_count(), 1024);
    check(&d);
    for i in 10..1000 {
        d.remove(&key(i));
    }
    assert!(!d.is_rehashing());
    d.set_resize_allowed(false);
    assert!(
        !d.shrink_if_needed(),
        "shrinking is refused while resizing is disallowed"
    );
    d.set_resize_allowed(true);
    assert!(d.shrink_if_needed());
    assert!(d.is_rehashing());
    check(&d);
    assert!(!d.rehash_for_budget(usize::MAX));
    assert_eq!(d.bucket_count(), 16);
    assert!(!d.shrink_if_needed());
    check(&d);
    assert_eq!(d.len(), 10);
    assert!(d.mem_usage() >= 16 * 8 + 10 * mem::size_of::<Node<Vec<u8>, ()>>());
    d.clear();
    assert_eq!((d.len(), d.bucket_count(), d.is_rehashing()), (0, 0, false));
}

#[test]
fn disallowed_resize_grows_only_past_ratio_five() {
    let mut d = Dict::with_seed(9);
    d.set_resize_allowed(false);
    for i in 0..24 {
        d.insert(key(i), i);
    }
    assert_eq!(
        d.bucket_count(),
        4,
        "24 elements in 4 buckets is ratio 6, reached by the 24th insert"
    );
    d.insert(key(24), 24);
    assert!(d.is_rehashing(), "ratio 6 > 5 forces the grow");
    check(&d);
    assert!(d.expand(10_000) || d.is_rehashing());
}

#[test]
fn expand_presizes_and_refuses_bad_sizes() {
    let mut d: Dict<Vec<u8>, ()> = Dict::with_seed(0);
    assert!(d.expand(1000));
    assert_eq!(d.bucket_count(), 1024);
    assert!(!d.is_rehashing(), "the first table needs no rehash");
    assert!(!d.expand(1000), "same size");
    assert!(!d.expand(usize::MAX), "no power of two that large");
    for i in 0..10 {
        d.insert(key(i), ());
    }
    assert!(!d.expand(5), "below the element count");
    assert!(d.expand(16));
    assert!(d.is_rehashing());
}

/// Scans to the end, with `between` run after each call; returns every key seen.
fn full_scan<V>(
    d: &mut Dict<Vec<u8>, V>,
    mut between: impl FnMut(&mut Dict<Vec<u8>, V>),
) -> HashSet<Vec<u8>> {
    let mut seen = HashSet::new();
    let mut cursor = 0;
    for _ in 0..1_000_000 {
        cursor = d.scan(cursor, |k, _| {
            seen.insert(k.clone());
        });
        if cursor == 0 {
            return seen;
        }
        between(d);
    }
    panic!("scan did not finish");
}

#[test]
fn scan_covers_everything_in_stable_and_rehashing_tables() {
    let mut d = Dict::with_seed(5);
    assert_eq!(d.scan(0, |_, _| panic!("empty")), 0);
    for i in 0..1000 {
        d.insert(key(i), i);
    }
    let all: HashSet<Vec<u8>> = (0..1000).map(key).collect();
    assert_eq!(full_scan(&mut d, |_| {}), all);
    assert!(d.expand(4096));
    d.rehash_for_budget(100);
    assert!(d.is_rehashing());
    assert_eq!(full_scan(&mut d, |_| {}), all);
    while d.rehash_for_budget(100) {}
    for i in 100..1000 {
        d.remove(&key(i));
    }
    assert!(d.shrink_if_needed());
    d.rehash_for_budget(5);
    assert!(d.is_rehashing());
    let small: HashSet<Vec<u8>> = (0..100).map(key).collect();
    assert_eq!(full_scan(&mut d, |_| {}), small);
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u16),
    Remove(u16),
    Shrink,
    Rehash(u8),
    ToggleResize,
    Nothing,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u16..600).prop_map(Op::Insert),
        3 => (1u16..600).prop_map(Op::Remove),
        2 => Just(Op::Shrink),
        2 => any::<u8>().prop_map(Op::Rehash),
        1 => Just(Op::ToggleResize),
        2 => Just(Op::Nothing),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Redis's SCAN guarantee: an element present from the first to the last call is returned,
    /// whatever grows, shrinks and rehashes happen between calls.
    #[test]
    fn scan_returns_every_element_present_throughout(
        seed in any::<u64>(),
        initial in 0usize..400,
        ops in prop::collection::vec(op(), 0..60),
    ) {
        let mut d = Dict::with_seed(seed);
        let mut next_id = 0u64;
        // Even ids are protected: never removed during the scan.
        let mut removable: Vec<u64> = Vec::new();
        let mut protected = HashSet::new();
        for _ in 0..initial {
            d.insert(key(next_id), ());
            if next_id.is_multiple_of(2) {
                protected.insert(key(next_id));
            } else {
                removable.push(next_id);
            }
            next_id += 1;
        }
        let mut ops = ops.into_iter();
        let mut rng = Rng(seed);
        let seen = full_scan(&mut d, |d| match ops.next().unwrap_or(Op::Nothing) {
            Op::Insert(n) => {
                for _ in 0..n {
                    d.insert(key(next_id), ());
                    removable.push(next_id);
                    next_id += 1;
                }
            }
            Op::Remove(n) => {
                for _ in 0..n.min(removable.len() as u16) {
                    let at = rng.below(removable.len() as u64) as usize;
                    let id = removable.swap_remove(at);
                    assert!(d.remove(&key(id)).is_some());
                }
            }
            Op::Shrink => {
                d.shrink_if_needed();
            }
            Op::Rehash(n) => {
                d.rehash_for_budget(n as usize);
            }
            Op::ToggleResize => d.set_resize_allowed(!d.resize_allowed()),
            Op::Nothing => {}
        });
        check(&d);
        let missing: Vec<_> = protected.difference(&seen).collect();
        prop_assert!(missing.is_empty(), "missing {} of {}", missing.len(), protected.len());
        prop_assert!(seen.iter().all(|k| std::str::from_utf8(k).is_ok()));
    }
}

/// Small dicts in the states sampling must handle: stable, growing, shrinking, sparse.
fn sampling_fixtures() -> Vec<(&'static str, Dict<Vec<u8>, u64>)> {
    let mut out = Vec::new();
    let mut stable = Dict::with_seed(11);
    for i in 0..10 {
        stable.insert(key(i), i);
    }
    while stable.rehash_for_budget(10) {}
    out.push(("stable", stable.clone()));
    let mut growing = stable.clone();
    assert!(growing.expand(64));
    growing.rehash_for_budget(2);
    assert!(growing.is_rehashing());
    out.push(("growing", growing));
    let mut shrinking = Dict::with_seed(12);
    for i in 0..200 {
        shrinking.insert(key(i), i);
    }
    for i in 10..200 {
        shrinking.remove(&key(i));
    }
    while shrinking.rehash_for_budget(10) {}
    assert!(shrinking.shrink_if_needed());
    shrinking.rehash_for_budget(3);
    assert!(shrinking.is_rehashing());
    out.push(("shrinking", shrinking));
    let mut sparse = Dict::with_seed(13);
    assert!(sparse.expand(1 << 14));
    for i in 0..10 {
        sparse.insert(key(i), i);
    }
    out.push(("sparse", sparse));
    out
}

#[test]
fn random_entry_and_sample_return_existing_entries_and_cover_all() {
    let all: HashSet<Vec<u8>> = (0..10).map(key).collect();
    for (name, d) in sampling_fixtures() {
        check(&d);
        let mut rng = Rng(99);
        let mut rand = || rng.next();
        let mut hit = HashSet::new();
        for _ in 0..3000 {
            let (k, v) = d.random_entry(&mut rand).expect("non-empty");
            assert_eq!(d.get(k), Some(v), "{name}");
            hit.insert(k.clone());
        }
        assert_eq!(hit, all, "{name}: random_entry coverage");
        let mut hit = HashSet::new();
        for count in [1usize, 3, 5, 10, 50] {
            for _ in 0..500 {
                let sample = d.sample(count, &mut rand);
                assert!(sample.len() <= count.min(10), "{name}");
                for (k, v) in sample {
                    assert_eq!(d.get(k), Some(v), "{name}");
                    hit.insert(k.clone());
                }
            }
        }
        assert_eq!(hit, all, "{name}: sample coverage");
        // A degenerate generator still ends.
        assert!(d.random_entry(&mut || 0).is_some(), "{name}");
        assert!(d.random_entry(&mut || u64::MAX).is_some(), "{name}");
    }
    let empty: Dict<Vec<u8>, u64> = Dict::with_seed(0);
    assert!(empty.random_entry(&mut || 1).is_none());
    assert!(empty.sample(5, &mut || 1).is_empty());
}

#[test]
fn same_seed_and_operations_give_the_same_order() {
    fn build(seed: u64) -> Dict<SmallBytes, u64> {
        let mut rng = Rng(1234);
        let mut d = Dict::with_seed(seed);
        for step in 0..20_000u64 {
            let k = key(rng.below(3000));
            if rng.below(3) == 0 {
                d.remove(&k);
            } else {
                d.insert(SmallBytes::from(k), step);
            }
            if step.is_multiple_of(500) {
                d.shrink_if_needed();
            }
        }
        d
    }
    let order =
        |d: &Dict<SmallBytes, u64>| d.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>();
    let (a, b, c) = (build(77), build(77), build(78));
    assert_eq!(order(&a), order(&b));
    assert_ne!(order(&a), order(&c), "another seed, another layout");
    assert_eq!(order(&a), order(&a.clone()), "clone keeps the layout");
    let (mut ra, mut rb) = (Rng(5), Rng(5));
    for _ in 0..100 {
        let x = a.random_entry(&mut || ra.next()).map(|(k, _)| k.clone());
        let y = b.random_entry(&mut || rb.next()).map(|(k, _)| k.clone());
        assert_eq!(x, y);
    }
}

#[test]
fn iterators_drain_clone_and_debug() {
    let mut d = Dict::with_seed(21);
    for i in 0..500u64 {
        d.insert(key(i), i);
    }
    assert!(d.expand(2048));
    d.rehash_for_budget(50);
    assert!(d.is_rehashing());
    for (_, v) in d.iter_mut() {
        *v += 1;
    }
    assert_eq!(d.iter().len(), 500);
    assert_eq!(d.values().sum::<u64>(), (1..=500).sum());
    assert_eq!(d.keys().count(), 500);
    assert_eq!((&d).into_iter().count(), 500);
    let copy = d.clone();
    check(&copy);
    let drained: HashMap<Vec<u8>, u64> = d.drain().collect();
    assert_eq!(drained.len(), 500);
    assert!(d.is_empty() && d.bucket_count() == 0 && !d.is_rehashing());
    d.insert(key(1), 1);
    assert_eq!(d.get(&key(1)), Some(&1));
    let owned: HashMap<Vec<u8>, u64> = copy.clone().into_iter().collect();
    assert_eq!(owned, drained);
    let mut partial = copy.into_iter();
    assert!(partial.next().is_some());
    drop(partial);
    let mut small = Dict::with_seed(0);
    small.insert(SmallBytes::from("k"), 1);
    assert_eq!(format!("{small:?}"), "{\"k\": 1}");
}

#[test]
fn a_long_chain_and_a_large_dict_drop_without_recursion() {
    // A chain far longer than the stack could recurse through (test threads have 2 MiB).
    fn long_chain(n: u64) -> Link<Vec<u8>, u64> {
        let mut link = None;
        for i in 0..n {
            link = Some(Box::new(Node {
                key: key(i),
                value: i,
                next: link,
            }));
        }
        link
    }
    const N: u64 = 1_000_000;
    let mut d: Dict<Vec<u8>, u64> = Dict::with_seed(0);
    d.ht[0] = Table::with_size(4);
    d.ht[0].buckets[0] = long_chain(N);
    d.ht[0].used = N as usize;
    assert_eq!(d.iter().count(), N as usize);
    let mut it = d.clone().into_iter();
    assert!(it.next().is_some());
    drop(it);
    drop(d);

    let mut big = Dict::with_seed(1);
    for i in 0..N {
        big.insert(SmallBytes::from(key(i)), i);
    }
    assert_eq!(big.len(), N as usize);
    drop(big);
}

/// Reads the resident set size of this process, in bytes (Linux).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// `cargo test --release -p picket-server dict::tests::bench -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_against_std_hashmap() {
    use std::hint::black_box;
    use std::time::Instant;
    const N: usize = 1_000_000;
    let keys: Vec<SmallBytes> = (0..N as u64).map(|i| SmallBytes::from(key(i))).collect();
    let mut order: Vec<usize> = (0..N).collect();
    let mut rng = Rng(1);
    for i in (1..N).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let ns = |t: Instant| t.elapsed().as_nanos() as f64 / N as f64;

    let before = rss();
    let t = Instant::now();
    let mut d = Dict::with_seed(1);
    for (i, k) in keys.iter().enumerate() {
        d.insert(k.clone(), i as u64);
    }
    let dict_insert = ns(t);
    let dict_bytes = rss().saturating_sub(before) as f64 / N as f64;
    let t = Instant::now();
    let mut sum = 0;
    for &i in &order {
        sum += d.get(&keys[i]).copied().unwrap_or(0);
    }
    black_box(sum);
    let dict_get = ns(t);

    let before = rss();
    let t = Instant::now();
    let mut m = HashMap::with_hasher(FixedState::with_seed(1));
    for (i, k) in keys.iter().enumerate() {
        m.insert(k.clone(), i as u64);
    }
    let map_insert = ns(t);
    let map_bytes = rss().saturating_sub(before) as f64 / N as f64;
    let t = Instant::now();
    let mut sum = 0;
    for &i in &order {
        sum += m.get(keys[i].as_bytes()).copied().unwrap_or(0);
    }
    black_box(sum);
    let map_get = ns(t);

    let per_entry = d.mem_usage() as f64 / N as f64;
    println!("Dict<SmallBytes, u64>: insert {dict_insert:.0} ns, get {dict_get:.0} ns");
    println!("  RSS {dict_bytes:.1} B/entry, mem_usage {per_entry:.1} B/entry");
    println!("std HashMap (hashbrown, foldhash): insert {map_insert:.0} ns, get {map_get:.0} ns");
    println!("  RSS {map_bytes:.1} B/entry");
    black_box((d, m));
}

/// A snapshot-style walk of a frozen dict: every bucket in order; before changing a key, the
/// walker is told (as `Db::before_change` does) and, when the key's bucket is still ahead,
/// records the key as settled with its old value. Returns what the walk saw: exactly the
/// contents at freeze time.
fn frozen_walk(
    d: &mut Dict<Vec<u8>, u64>,
    rng: &mut Rng,
    changes_per_bucket: u64,
) -> HashMap<Vec<u8>, u64> {
    d.freeze();
    let mut seen: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut settled: HashSet<Vec<u8>> = HashSet::new();
    let mut cursor = 0;
    while cursor < d.buckets() {
        d.for_each_in_bucket(cursor, |k, v| {
            if !settled.contains(k) {
                assert!(seen.insert(k.clone(), *v).is_none(), "key walked twice");
            }
        });
        cursor += 1;
        for _ in 0..changes_per_bucket {
            let k = key(rng.below(3000));
            if d.bucket_of(&k) >= cursor && settled.insert(k.clone()) {
                if let Some(v) = d.get(&k) {
                    seen.insert(k.clone(), *v);
                }
            }
            if rng.below(3) == 0 {
                d.remove(&k);
            } else {
                d.insert(k, 1_000_000);
            }
        }
    }
    d.unfreeze();
    seen
}

#[test]
fn a_frozen_walk_sees_the_contents_at_freeze_time_even_mid_rehash() {
    for (seed, rehash_steps) in [(1u64, None), (2, Some(0)), (3, Some(7)), (4, Some(300))] {
        let mut rng = Rng(seed);
        let mut d: Dict<Vec<u8>, u64> = Dict::with_seed(seed);
        for i in 0..1000 {
            d.insert(key(i), i);
        }
        if let Some(n) = rehash_steps {
            assert!(d.expand(4096));
            d.rehash_for_budget(n);
            assert!(d.is_rehashing());
        }
        let before: HashMap<Vec<u8>, u64> = d.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let rehashing = d.is_rehashing();
        let seen = frozen_walk(&mut d, &mut rng, 2);
        assert_eq!(seen, before, "seed {seed}");
        check(&d);
        if rehashing {
            // Frozen: nothing moved; thawed, the rehash goes on.
            assert!(d.is_rehashing());
            while d.rehash_for_budget(100) {}
        }
        check(&d);
    }
}

#[test]
fn a_frozen_dict_neither_rehashes_nor_resizes() {
    let mut d: Dict<Vec<u8>, u64> = Dict::with_seed(9);
    for i in 0..100 {
        d.insert(key(i), i);
    }
    assert!(d.expand(1024));
    d.freeze();
    let idx = d.rehash_idx;
    for i in 100..2000 {
        d.insert(key(i), i);
    }
    assert!(d.rehash_for_budget(100));
    assert_eq!(d.rehash_idx, idx);
    assert!(!d.shrink_if_needed());
    d.unfreeze();
    while d.rehash_for_budget(100) {}
    check(&d);
    assert_eq!(d.len(), 2000);
}
