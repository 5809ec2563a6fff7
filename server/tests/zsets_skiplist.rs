//! The sorted set storage (`db::zset`) against a naive model: rank, range by rank and score
//! ranges stay right on a 100k-member skiplist under random inserts, score updates and removes;
//! listpack conversion and loading.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use picket_server::db::zset::{LexBound, LexRange, Limits, ScoreRange, ZSet};
use picket_server::db::SmallBytes;

#[derive(Debug, Clone, PartialEq)]
struct Key(f64, Vec<u8>);
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Key {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0
            .partial_cmp(&o.0)
            .unwrap_or(Ordering::Equal)
            .then_with(|| self.1.cmp(&o.1))
    }
}

/// The workspace's seeded generator (`picket_common::ids::seeded`, Xoshiro256++), so a
/// seed replays the same cases.
struct Rng(picket_common::ids::Rng);
impl Rng {
    fn next(&mut self) -> u64 {
        rand::RngExt::random(&mut self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn score(&mut self) -> f64 {
        match self.below(20) {
            0 => f64::INFINITY,
            1 => f64::NEG_INFINITY,
            2 => -0.0,
            3 => self.below(1000) as f64 / 7.0,
            _ => self.below(50) as f64,
        }
    }
}

const BIG: Limits = Limits {
    max_entries: 0,
    max_value: 64,
};

fn seed() -> u64 {
    42
}

fn compare(z: &ZSet, model: &BTreeSet<Key>, rng: &mut Rng, step: usize) {
    let v: Vec<&Key> = model.iter().collect();
    assert_eq!(z.len(), v.len(), "step {step}");
    z.check().unwrap_or_else(|e| panic!("step {step}: {e}"));
    for (i, ((m, s), k)) in z.iter().zip(v.iter()).enumerate() {
        assert!(m == k.1.as_slice() && s == k.0, "step {step} rank {i}");
    }
    for _ in 0..2000 {
        let r = rng.below(v.len());
        let (m, s) = z.get(r).expect("in range");
        assert!(
            m == v[r].1.as_slice() && s == v[r].0,
            "step {step} get({r})"
        );
        assert_eq!(z.rank(&v[r].1), Some(r), "step {step} rank");
        assert_eq!(z.score(&v[r].1), Some(v[r].0));
        let down: Vec<_> = z
            .iter_from(r, true)
            .take(3)
            .map(|(m, _)| m.to_vec())
            .collect();
        let want: Vec<_> = v[..=r].iter().rev().take(3).map(|k| k.1.clone()).collect();
        assert_eq!(down, want, "step {step} down from {r}");
    }
    for _ in 0..40 {
        let (a, b) = (rng.score(), rng.score());
        let r = ScoreRange {
            min: a,
            max: b,
            minex: rng.below(2) == 0,
            maxex: rng.below(2) == 0,
        };
        let first = v.iter().position(|k| r.gte_min(k.0) && r.lte_max(k.0));
        let last = v.iter().rposition(|k| r.gte_min(k.0) && r.lte_max(k.0));
        assert_eq!(z.first_in_score(&r), first, "step {step} first in {r:?}");
        assert_eq!(z.last_in_score(&r), last, "step {step} last in {r:?}");
    }
}

#[test]
fn rank_and_ranges_stay_right_on_100k_members() {
    let mut rng = Rng(picket_common::ids::seeded(0x1234_5678_9abc_def1));
    let mut z = ZSet::new_skiplist(7);
    let mut model = BTreeSet::new();
    let mut scores: HashMap<Vec<u8>, f64> = HashMap::new();
    let mut next_id = 0u64;
    let mut add = |z: &mut ZSet,
                   model: &mut BTreeSet<Key>,
                   scores: &mut HashMap<Vec<u8>, f64>,
                   rng: &mut Rng| {
        let m = format!("m{:x}", next_id * 2_654_435_761 % 1_000_003).into_bytes();
        next_id += 1;
        if scores.contains_key(&m) {
            return;
        }
        let s = rng.score();
        z.insert(&m, s, BIG, &mut seed);
        model.insert(Key(s, m.clone()));
        scores.insert(m, s);
    };
    while model.len() < 100_000 {
        add(&mut z, &mut model, &mut scores, &mut rng);
    }
    compare(&z, &model, &mut rng, 0);
    for step in 1..=60_000 {
        match rng.below(6) {
            0 | 1 => add(&mut z, &mut model, &mut scores, &mut rng),
            2 => {
                let r = rng.below(model.len());
                let (m, s) = z.get(r).map(|(m, s)| (m.to_vec(), s)).expect("rank");
                assert!(z.remove(&m));
                assert!(model.remove(&Key(s, m.clone())));
                scores.remove(&m);
            }
            3 => {
                let r = rng.below(model.len());
                let (m, s) = z.get(r).map(|(m, s)| (m.to_vec(), s)).expect("rank");
                let new = if rng.below(3) == 0 { s } else { rng.score() };
                z.set_score(&m, s, new);
                model.remove(&Key(s, m.clone()));
                model.insert(Key(new, m.clone()));
                scores.insert(m, new);
            }
            4 => {
                let r = rng.below(model.len());
                let (m, s) = z.remove_at(r).expect("rank");
                assert!(model.remove(&Key(s, m.to_vec())), "step {step}");
                scores.remove(m.as_bytes());
            }
            _ => {
                let lo = rng.below(model.len());
                let hi = lo + rng.below(4);
                // The members come from the set itself; the model checks they are right.
                let gone: Vec<Key> = z
                    .iter_from(lo, false)
                    .take(hi - lo + 1)
                    .map(|(m, s)| Key(s, m.to_vec()))
                    .collect();
                if let (Some(first), Some(before)) = (gone.first(), lo.checked_sub(1)) {
                    let (m, s) = z.get(before).expect("rank");
                    assert!(Key(s, m.to_vec()) < *first, "step {step}");
                }
                assert_eq!(z.remove_ranks(lo, hi), gone.len(), "step {step}");
                for k in gone {
                    assert!(model.remove(&k), "step {step}");
                    scores.remove(&k.1);
                }
            }
        }
        if step % 15_000 == 0 {
            compare(&z, &model, &mut rng, step);
        }
    }
    assert!(!z.remove(b"absent"));
    assert_eq!(z.rank(b"absent"), None);
}

fn lp(pairs: &[(&str, f64)]) -> ZSet {
    let lim = Limits {
        max_entries: 128,
        max_value: 64,
    };
    let mut z = ZSet::default();
    for (m, s) in pairs {
        z.insert(m.as_bytes(), *s, lim, &mut seed);
    }
    z
}

#[test]
fn listpack_keeps_order_and_converts_at_the_limits() {
    let lim = Limits {
        max_entries: 3,
        max_value: 5,
    };
    let mut z = ZSet::default();
    for (m, s) in [("c", 1.0), ("a", 1.0), ("b", -0.0)] {
        z.insert(m.as_bytes(), s, lim, &mut seed);
    }
    assert_eq!(z.encoding(), "listpack");
    let got: Vec<_> = z.iter().map(|(m, s)| (m.to_vec(), s.to_bits())).collect();
    // -0 is stored as the integer 0 in a listpack.
    assert_eq!(
        got,
        vec![
            (b"b".to_vec(), 0f64.to_bits()),
            (b"a".to_vec(), 1f64.to_bits()),
            (b"c".to_vec(), 1f64.to_bits())
        ]
    );
    z.insert(b"d", 2.0, lim, &mut seed);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(z.len(), 4);
    // Removing does not convert back.
    z.remove(b"d");
    z.remove(b"c");
    assert_eq!(z.encoding(), "skiplist");
    z.shrink_if_fits(lim);
    assert_eq!(z.encoding(), "listpack");
    let mut long = ZSet::default();
    long.insert(b"abcdef", 1.0, lim, &mut seed);
    assert_eq!(long.encoding(), "skiplist");
    // A skiplist keeps -0.
    long.insert(b"z", -0.0, lim, &mut seed);
    assert!(long.score(b"z").unwrap().is_sign_negative());
    long.shrink_if_fits(Limits {
        max_entries: 10,
        max_value: 10,
    });
    assert!(!long.score(b"z").unwrap().is_sign_negative());
}

#[test]
fn lex_ranges_scan_the_listpack_like_redis() {
    let z = lp(&[("a", 0.0), ("b", 0.0), ("c", 0.0), ("d", 0.0)]);
    let r = |min: LexBound, minex, max: LexBound, maxex| LexRange {
        min,
        minex,
        max,
        maxex,
    };
    let v = |s: &str| LexBound::Value(s.as_bytes().to_vec());
    let all = r(LexBound::Min, true, LexBound::Max, true);
    assert_eq!(
        (z.first_in_lex(&all), z.last_in_lex(&all)),
        (Some(0), Some(3))
    );
    let bc = r(v("b"), false, v("c"), false);
    assert_eq!(
        (z.first_in_lex(&bc), z.last_in_lex(&bc)),
        (Some(1), Some(2))
    );
    let excl = r(v("b"), true, v("c"), true);
    assert_eq!(z.first_in_lex(&excl), None);
    assert!(r(LexBound::Min, true, LexBound::Min, true).is_empty());
    assert!(r(LexBound::Max, true, LexBound::Min, true).is_empty());
    assert!(!r(v("a"), false, v("a"), false).is_empty());
    let mut big = z.clone();
    big.convert_to_skiplist(&mut seed);
    for range in [&all, &bc, &excl] {
        assert_eq!(big.first_in_lex(range), z.first_in_lex(range));
        assert_eq!(big.last_in_lex(range), z.last_in_lex(range));
    }
}

#[test]
fn loading_picks_the_encoding_as_redis() {
    let lim = Limits {
        max_entries: 2,
        max_value: 3,
    };
    let pairs = |v: &[(&str, f64)]| -> Vec<(SmallBytes, f64)> {
        v.iter()
            .map(|(m, s)| (SmallBytes::from(m.as_bytes()), *s))
            .collect()
    };
    let z = ZSet::from_pairs(pairs(&[("b", 2.0), ("a", 1.0)]), false, lim, &mut seed).unwrap();
    assert_eq!(z.encoding(), "listpack");
    assert_eq!(z.get(0).map(|(m, _)| m.to_vec()), Some(b"a".to_vec()));
    let z = ZSet::from_pairs(pairs(&[("long", 2.0)]), false, lim, &mut seed).unwrap();
    assert_eq!(z.encoding(), "skiplist");
    // A compact set is kept compact whatever its member lengths, unless too long.
    let z = ZSet::from_pairs(pairs(&[("long", 2.0)]), true, lim, &mut seed).unwrap();
    assert_eq!(z.encoding(), "listpack");
    let z = ZSet::from_pairs(
        pairs(&[("a", 1.0), ("b", 1.0), ("c", 1.0)]),
        true,
        lim,
        &mut seed,
    )
    .unwrap();
    assert_eq!(z.encoding(), "skiplist");
    z.check().unwrap();
    assert!(ZSet::from_pairs(pairs(&[("a", 1.0), ("a", 2.0)]), false, lim, &mut seed).is_err());
    assert!(ZSet::from_pairs(pairs(&[("a", f64::NAN)]), false, lim, &mut seed).is_err());
}

/// Removals free blocks that later inserts reuse, and a set that loses most of its members is
/// compacted: the arena stays consistent (`check` accounts for every slot) and the order,
/// ranks and scores stay those of the model through grow / shrink / grow cycles.
#[test]
fn freed_nodes_are_reused_and_the_arena_compacts() {
    let mut rng = Rng(picket_common::ids::seeded(0x0bad_cafe_1234_5677));
    let mut z = ZSet::new_skiplist(3);
    let mut model = BTreeSet::new();
    let mut live: Vec<Vec<u8>> = Vec::new();
    let mut next = 0u64;
    for round in 0..3 {
        while live.len() < 20_000 {
            let m = format!("r{round}:{next}").into_bytes();
            next += 1;
            let s = rng.score();
            z.insert(&m, s, BIG, &mut seed);
            model.insert(Key(s, m.clone()));
            live.push(m);
        }
        z.check()
            .unwrap_or_else(|e| panic!("round {round} grown: {e}"));
        let before = z.mem_usage();
        let mut step = 0;
        while live.len() > 500 {
            let i = rng.below(live.len());
            let m = live.swap_remove(i);
            let s = z.score(&m).expect("member");
            if step % 2 == 0 {
                assert!(z.remove(&m));
            } else {
                let r = z.rank(&m).expect("rank");
                let (got, gs) = z.remove_at(r).expect("at rank");
                assert_eq!((got.as_bytes(), gs), (m.as_slice(), s));
            }
            assert!(model.remove(&Key(s, m)));
            step += 1;
            if step % 4_999 == 0 {
                z.check()
                    .unwrap_or_else(|e| panic!("round {round} step {step}: {e}"));
            }
        }
        compare(&z, &model, &mut rng, round);
        assert!(
            z.mem_usage() * 4 < before,
            "round {round}: {} bytes left of {before} after removing 97% of the members",
            z.mem_usage()
        );
    }
    for m in live {
        assert!(z.remove(&m));
    }
    assert!(z.is_empty());
    z.check().unwrap();
}
