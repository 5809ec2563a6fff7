//! Set values, as Redis 7.0's `t_set.c` stores them. A set whose members are all integers
//! (`string2ll` accepts them) and that holds at most `set-max-intset-entries` of them is an
//! [`IntSet`], Redis's `intset` byte for byte (SMEMBERS and SSCAN return it sorted); any other
//! set is a dict (`hashtable`), boxed so that a `Set` takes 24 bytes inline in a `Value`. A set converts to a dict for good, when a non-integer is added or
//! the size passes the limit; only building a new set (SPOP's rebuild, the STORE commands)
//! gives an intset again.
//!
//! The set algebra of SINTER / SUNION / SDIFF lives here too, following Redis's algorithms
//! step by step, because the encoding of a stored result depends on them (SDIFF's second
//! algorithm fills the result with the whole first set before removing, so it may convert).

use super::dict::Iter as DictIter;
use super::intset::{IntSet, Iter as IntIter};
use super::{Dict, SmallBytes};
use crate::command::args::parse_i64;

/// A source of seeds for new dicts (the server's RNG).
pub type Seed<'a> = &'a mut dyn FnMut() -> u64;

#[derive(Debug, Clone)]
pub enum Set {
    /// Sorted, distinct.
    Intset(IntSet),
    Table(Box<Dict<SmallBytes, ()>>),
}

const _: () = assert!(std::mem::size_of::<Set>() <= 24);

impl Default for Set {
    fn default() -> Self {
        Set::Intset(IntSet::new())
    }
}

/// A member as the set stores it: an integer of an intset, or the bytes of a dict entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// Call `f` with the member's bytes (integers in decimal).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Member::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }

    /// The member's bytes, owned.
    pub fn to_small(&self) -> SmallBytes {
        self.with_bytes(|b| SmallBytes::from(b))
    }
}

/// Redis caps `set-max-intset-entries` at 2^30 (intset internals).
fn intset_limit(max: usize) -> usize {
    max.min(1 << 30)
}

/// Iterator over the members in the set's own order (sorted integers, or dict order).
pub enum Iter<'a> {
    Ints(IntIter<'a>),
    Table(DictIter<'a, SmallBytes, ()>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            Iter::Ints(it) => it.next().map(Member::Int),
            Iter::Table(it) => it.next().map(|(k, _)| Member::Bytes(k.as_bytes())),
        }
    }
}

impl Set {
    /// An empty set able to hold `first` (Redis's `setTypeCreate`): an intset when `first` is
    /// an integer, else a dict seeded from `seed`.
    pub fn for_member(first: &[u8], seed: Seed) -> Set {
        if parse_i64(first).is_some() {
            Set::Intset(IntSet::new())
        } else {
            Set::Table(Box::new(Dict::with_seed(seed())))
        }
    }

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
            Set::Intset(v) => v.heap_size(),
            Set::Table(d) => {
                std::mem::size_of::<Dict<SmallBytes, ()>>()
                    + d.mem_usage()
                    + d.keys().map(SmallBytes::heap_size).sum::<usize>()
            }
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        match self {
            Set::Intset(v) => Iter::Ints(v.iter()),
            Set::Table(d) => Iter::Table(d.iter()),
        }
    }

    /// Convert an intset to a dict presized for its members (Redis's `setTypeConvert`).
    fn convert(&mut self, seed: Seed) {
        if let Set::Intset(v) = self {
            let mut d = Dict::with_seed(seed());
            d.expand(v.len());
            for n in v.iter() {
                d.insert(
                    SmallBytes::from(itoa::Buffer::new().format(n).as_bytes()),
                    (),
                );
            }
            *self = Set::Table(Box::new(d));
        }
    }

    /// Add a member; true if it was not there (Redis's `setTypeAdd`). An intset converts when
    /// the member is not an integer, or when it grows past `max_intset` members.
    pub fn add(&mut self, m: &[u8], max_intset: usize, seed: Seed) -> bool {
        match self {
            Set::Table(d) => {
                let (_, inserted) = d.get_or_insert_with(m, || SmallBytes::from(m), || ());
                inserted
            }
            Set::Intset(_) => match parse_i64(m) {
                Some(n) => self.add_int(n, max_intset, seed),
                None => {
                    self.convert(seed);
                    if let Set::Table(d) = self {
                        d.insert(SmallBytes::from(m), ());
                    }
                    true
                }
            },
        }
    }

    /// `add` for a member read from another set, without formatting integers needlessly.
    pub fn add_member(&mut self, m: Member, max_intset: usize, seed: Seed) -> bool {
        match (m, &*self) {
            (Member::Int(n), Set::Intset(_)) => self.add_int(n, max_intset, seed),
            _ => m.with_bytes(|b| self.add(b, max_intset, seed)),
        }
    }

    fn add_int(&mut self, n: i64, max_intset: usize, seed: Seed) -> bool {
        let Set::Intset(v) = self else {
            return self.add(itoa::Buffer::new().format(n).as_bytes(), max_intset, seed);
        };
        if !v.insert(n) {
            return false;
        }
        if v.len() > intset_limit(max_intset) {
            self.convert(seed);
        }
        true
    }

    /// Remove a member; true if it was there. A dict shrinks when sparse, as Redis's
    /// `setTypeRemove` does.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Table(d) => {
                let removed = d.remove(m).is_some();
                if removed {
                    d.shrink_if_needed();
                }
                removed
            }
            Set::Intset(v) => parse_i64(m).is_some_and(|n| v.remove(n)),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Table(d) => d.contains_key(m),
            Set::Intset(v) => parse_i64(m).is_some_and(|n| v.contains(n)),
        }
    }

    /// `contains` for a member read from another set.
    pub fn contains_member(&self, m: Member) -> bool {
        match (m, self) {
            (Member::Int(n), Set::Intset(v)) => v.contains(n),
            (Member::Bytes(b), _) => self.contains(b),
            (Member::Int(_), Set::Table(_)) => m.with_bytes(|b| self.contains(b)),
        }
    }

    /// A random member (Redis's `setTypeRandomElement`): a uniform index of an intset, or the
    /// dict's fair random entry. None only when empty.
    pub fn random(&self, rand: &mut dyn FnMut() -> u64) -> Option<Member<'_>> {
        match self {
            Set::Intset(v) if v.is_empty() => None,
            Set::Intset(v) => v.get((rand() % v.len() as u64) as usize).map(Member::Int),
            Set::Table(d) => d
                .random_entry(rand)
                .map(|(k, _)| Member::Bytes(k.as_bytes())),
        }
    }
}

/// Whether two references are the same stored set (Redis compares the objects: the same key
/// named twice).
fn same(a: &Set, b: &Set) -> bool {
    std::ptr::eq(a, b)
}

/// The intersection, as Redis's `sinterGenericCommand` computes it: the sets are ordered by
/// size (stably), the smallest is iterated in its own order and each member checked against the
/// others. `f` gets each member of the result; returning false stops (SINTERCARD's LIMIT).
pub fn intersect<'a>(sets: &[&'a Set], mut f: impl FnMut(Member<'a>) -> bool) {
    let mut by_size: Vec<&'a Set> = sets.to_vec();
    by_size.sort_by_key(|s| s.len());
    let Some((&first, rest)) = by_size.split_first() else {
        return;
    };
    for m in first.iter() {
        let everywhere = rest.iter().all(|&s| same(s, first) || s.contains_member(m));
        if everywhere && !f(m) {
            return;
        }
    }
}

/// The intersection as a new set (SINTERSTORE's result: an intset that converts as members are
/// added).
pub fn intersection(sets: &[&Set], max_intset: usize, seed: Seed) -> Set {
    let mut out = Set::default();
    intersect(sets, |m| {
        out.add_member(m, max_intset, seed);
        true
    });
    out
}

/// The union of the sets (a missing key is an empty set), as Redis builds it: every member of
/// every set added in turn to a set that starts as an intset.
pub fn union(sets: &[Option<&Set>], max_intset: usize, seed: Seed) -> Set {
    let mut out = Set::default();
    for s in sets.iter().flatten() {
        for m in s.iter() {
            out.add_member(m, max_intset, seed);
        }
    }
    out
}

/// The members of the first set in none of the others, with the algorithm Redis 7.0 picks:
/// 1 (check each member of the first set against the others) when its estimated work is not
/// above that of 2 (add the whole first set, then remove every member of the others).
pub fn difference(sets: &[Option<&Set>], max_intset: usize, seed: Seed) -> Set {
    let mut out = Set::default();
    let Some(Some(first)) = sets.first().copied() else {
        return out;
    };
    let rest = &sets[1..];
    // The first set named again: the result is empty.
    if rest.iter().flatten().any(|s| same(s, first)) {
        return out;
    }
    let present = sets.iter().flatten().count() as u64;
    let algo_one_work = present * first.len() as u64 / 2;
    let algo_two_work: u64 = sets.iter().flatten().map(|s| s.len() as u64).sum();
    if algo_one_work <= algo_two_work {
        for m in first.iter() {
            if !rest.iter().flatten().any(|s| s.contains_member(m)) {
                out.add_member(m, max_intset, seed);
            }
        }
        return out;
    }
    let mut cardinality: usize = 0;
    for (j, s) in sets.iter().enumerate() {
        let Some(s) = s else { continue };
        for m in s.iter() {
            if j == 0 {
                if out.add_member(m, max_intset, seed) {
                    cardinality += 1;
                }
            } else if m.with_bytes(|b| out.remove(b)) {
                cardinality -= 1;
            }
        }
        if cardinality == 0 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> impl FnMut() -> u64 {
        let mut n = 0u64;
        move || {
            n += 1;
            n
        }
    }

    fn members(s: &Set) -> Vec<String> {
        let mut v: Vec<String> = s
            .iter()
            .map(|m| m.with_bytes(|b| String::from_utf8_lossy(b).into_owned()))
            .collect();
        v.sort();
        v
    }

    fn build(items: &[&str], max: usize) -> Set {
        let mut sd = seed();
        let mut s = Set::for_member(items[0].as_bytes(), &mut sd);
        for i in items {
            s.add(i.as_bytes(), max, &mut sd);
        }
        s
    }

    #[test]
    fn intset_stays_sorted_and_converts() {
        let mut sd = seed();
        let mut s = Set::for_member(b"5", &mut sd);
        assert!(s.add(b"5", 3, &mut sd));
        assert!(!s.add(b"5", 3, &mut sd));
        assert!(s.add(b"-2", 3, &mut sd));
        assert!(s.add(b"9223372036854775807", 3, &mut sd));
        let got: Vec<Member> = s.iter().collect();
        assert_eq!(
            got,
            vec![Member::Int(-2), Member::Int(5), Member::Int(i64::MAX)]
        );
        assert_eq!(s.encoding(), "intset");
        // "07" is not an integer for string2ll: it converts and is kept as typed.
        assert!(s.add(b"07", 3, &mut sd));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"5") && s.contains(b"07") && !s.contains(b"7"));
        // Passing the size limit converts too.
        let mut t = build(&["1", "2", "3"], 3);
        assert_eq!(t.encoding(), "intset");
        assert!(t.add_member(Member::Int(4), 3, &mut sd));
        assert_eq!(t.encoding(), "hashtable");
        assert_eq!(members(&t), vec!["1", "2", "3", "4"]);
        // Removing never converts back.
        for m in ["1", "2", "3", "4"] {
            assert!(t.remove(m.as_bytes()));
        }
        assert!(t.is_empty());
        assert_eq!(t.encoding(), "hashtable");
        assert!(!t.remove(b"1"));
        assert_eq!(Set::for_member(b"x", &mut sd).encoding(), "hashtable");
    }

    #[test]
    fn members_across_encodings() {
        let ints = build(&["1", "2", "3"], 512);
        let strs = build(&["a", "2", "3"], 512);
        assert!(strs.contains_member(Member::Int(2)));
        assert!(ints.contains_member(Member::Bytes(b"3")));
        assert!(!ints.contains_member(Member::Bytes(b"03")));
        let inter = intersection(&[&strs, &ints], 512, &mut seed());
        // Integers found in a dict make an intset result.
        assert_eq!(inter.encoding(), "intset");
        assert_eq!(members(&inter), vec!["2", "3"]);
        let u = union(&[Some(&ints), None, Some(&strs)], 512, &mut seed());
        assert_eq!(members(&u), vec!["1", "2", "3", "a"]);
        assert_eq!(u.encoding(), "hashtable");
        let d = difference(&[Some(&strs), Some(&ints)], 512, &mut seed());
        assert_eq!(members(&d), vec!["a"]);
        assert!(difference(&[None, Some(&ints)], 512, &mut seed()).is_empty());
        assert!(difference(&[Some(&ints), Some(&ints)], 512, &mut seed()).is_empty());
    }

    #[test]
    fn difference_second_algorithm_converts_on_the_way() {
        // Many small subtrahends make algorithm 2 cheaper: the whole first set is added, which
        // passes the limit, so a small result is still a hashtable.
        let big: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        let big: Vec<&str> = big.iter().map(String::as_str).collect();
        let a = build(&big, 10);
        let subs: Vec<Set> = (0..19).map(|i| build(&[big[i]], 10)).collect();
        let mut sets: Vec<Option<&Set>> = vec![Some(&a)];
        sets.extend(subs.iter().map(Some));
        let d = difference(&sets, 10, &mut seed());
        assert_eq!(members(&d), vec!["19"]);
        assert_eq!(d.encoding(), "hashtable");
        // With one subtrahend, algorithm 1 adds only the result.
        let d1 = difference(&[Some(&a), Some(&subs[0])], 30, &mut seed());
        assert_eq!(d1.len(), 19);
        assert_eq!(d1.encoding(), "intset");
    }

    #[test]
    fn intersect_stops_when_asked() {
        let a = build(&["1", "2", "3", "4"], 512);
        let b = build(&["2", "3", "4", "5", "6"], 512);
        let mut seen = Vec::new();
        intersect(&[&b, &a], |m| {
            seen.push(m);
            seen.len() < 2
        });
        assert_eq!(seen, vec![Member::Int(2), Member::Int(3)]);
    }

    #[test]
    fn random_members() {
        let a = build(&["1", "2", "3"], 512);
        let mut r = seed();
        for _ in 0..10 {
            assert!(a.random(&mut r).is_some());
        }
        assert!(Set::default().random(&mut r).is_none());
        let t = build(&["x", "y"], 512);
        assert!(matches!(t.random(&mut r), Some(Member::Bytes(_))));
    }
}
