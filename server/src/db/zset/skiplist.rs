//! The `skiplist` encoding of a sorted set, as Redis's `zskiplist` plus its member → score
//! dict: links carry spans (how many nodes they jump), giving O(log n) rank and
//! range-by-rank. Nodes live in an arena (`Vec<Node>`) and link by `u32` index, without
//! `unsafe`; removing a node moves the last node of the arena into its slot and fixes the
//! links to it (found by one more O(log n) descent), so the arena never has holes. Node
//! levels come from a xorshift generator seeded from the server's RNG, like the dict's hash
//! seed.

use super::{LexRange, ScoreRange};
use crate::db::{Dict, SmallBytes};

/// Redis's `ZSKIPLIST_MAXLEVEL`.
pub const MAX_LEVEL: usize = 32;
/// No node: the end of a level, or no predecessor.
pub(super) const NIL: u32 = u32::MAX;

/// One link. It keeps the score of the node it points to, so a descent compares scores
/// without touching the next node (one cache miss per hop instead of two: the nodes' level
/// arrays live in their own allocations); the node itself is read only on a score tie.
#[derive(Debug, Clone, Copy)]
struct Level {
    next: u32,
    span: u32,
    nscore: f64,
}

const EMPTY_LEVEL: Level = Level {
    next: NIL,
    span: 0,
    nscore: 0.0,
};

#[derive(Clone)]
struct Node {
    member: SmallBytes,
    score: f64,
    /// Previous node at level 0, NIL for the first.
    back: u32,
    levels: Levels,
}

/// A node's levels: up to two inline (15 nodes in 16 have one or two, with p = 1/4), so a
/// descent touches one cache line per hop for them instead of following a pointer.
#[derive(Clone)]
enum Levels {
    Inline([Level; 2], u8),
    Heap(Box<[Level]>),
}

impl Levels {
    fn new(n: usize) -> Levels {
        if n <= 2 {
            Levels::Inline([EMPTY_LEVEL; 2], n as u8)
        } else {
            Levels::Heap(vec![EMPTY_LEVEL; n].into_boxed_slice())
        }
    }
}

impl std::ops::Deref for Levels {
    type Target = [Level];
    #[inline]
    fn deref(&self) -> &[Level] {
        match self {
            Levels::Inline(a, n) => &a[..*n as usize],
            Levels::Heap(b) => b,
        }
    }
}

impl std::ops::DerefMut for Levels {
    #[inline]
    fn deref_mut(&mut self) -> &mut [Level] {
        match self {
            Levels::Inline(a, n) => &mut a[..*n as usize],
            Levels::Heap(b) => b,
        }
    }
}

/// Where a search stopped at one level: the header (None) or a node.
type At = Option<u32>;

/// The skiplist encoding: nodes in (score, member) order with spans, and member → score.
#[derive(Clone)]
pub struct SkipList {
    nodes: Vec<Node>,
    /// Nodes linked into the list (the arena may briefly hold one unlinked node).
    linked: usize,
    head: [Level; MAX_LEVEL],
    level: usize,
    tail: u32,
    rng: u64,
    dict: Dict<SmallBytes, f64>,
}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SkipList(len {}, level {})",
            self.nodes.len(),
            self.level
        )
    }
}

fn less(n: &Node, score: f64, member: &[u8]) -> bool {
    n.score < score || (n.score == score && n.member.as_bytes() < member)
}

impl SkipList {
    pub fn new(seed: u64) -> SkipList {
        // splitmix64 of the seed, never 0 (xorshift's fixed point).
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        SkipList {
            nodes: Vec::new(),
            linked: 0,
            head: [EMPTY_LEVEL; MAX_LEVEL],
            level: 1,
            tail: NIL,
            rng: (z ^ (z >> 31)) | 1,
            dict: Dict::with_seed(seed),
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn lv(&self, at: At, i: usize) -> Level {
        match at {
            None => self.head[i],
            Some(x) => self.nodes[x as usize].levels[i],
        }
    }

    fn lv_mut(&mut self, at: At, i: usize) -> &mut Level {
        match at {
            None => &mut self.head[i],
            Some(x) => &mut self.nodes[x as usize].levels[i],
        }
    }

    fn node(&self, x: u32) -> &Node {
        &self.nodes[x as usize]
    }

    /// Whether the node `l` points to sorts before (score, member).
    #[inline]
    fn before(&self, l: Level, score: f64, member: &[u8]) -> bool {
        l.next != NIL
            && (l.nscore < score
                || (l.nscore == score && self.node(l.next).member.as_bytes() < member))
    }

    /// Redis's `zslRandomLevel`: each level with probability 1/4.
    fn random_level(&mut self) -> usize {
        let mut level = 1;
        loop {
            let mut x = self.rng;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.rng = x;
            let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 48;
            if r >= 0x4000 || level >= MAX_LEVEL {
                return level;
            }
            level += 1;
        }
    }

    /// The last node before (score, member) at every level.
    fn find_update(&self, score: f64, member: &[u8]) -> [At; MAX_LEVEL] {
        let mut update = [None; MAX_LEVEL];
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if self.before(l, score, member) {
                    x = Some(l.next);
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        update
    }

    /// Link a new node (Redis's `zslInsert`); the dict is the caller's.
    fn link(&mut self, member: SmallBytes, score: f64) {
        let level = self.random_level();
        let xi = self.nodes.len() as u32;
        self.nodes.push(Node {
            member,
            score,
            back: NIL,
            levels: Levels::new(level),
        });
        self.link_node(xi);
    }

    /// Link node `xi` of the arena (not linked: new, or unlinked to change its score) at its
    /// place for its score and member, with its own number of levels.
    fn link_node(&mut self, xi: u32) {
        let (score, level) = {
            let n = self.node(xi);
            (n.score, n.levels.len())
        };
        let mut update = [None; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x: At = None;
        {
            let member = self.node(xi).member.as_bytes();
            for i in (0..self.level).rev() {
                rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
                loop {
                    let l = self.lv(x, i);
                    if self.before(l, score, member) {
                        rank[i] += l.span;
                        x = Some(l.next);
                    } else {
                        break;
                    }
                }
                update[i] = x;
            }
        }
        if level > self.level {
            // Linked nodes, this one excluded.
            let linked = self.linked as u32;
            for i in self.level..level {
                rank[i] = 0;
                update[i] = None;
                self.head[i].span = linked;
            }
            self.level = level;
        }
        for i in 0..level {
            let u = self.lv(update[i], i);
            let l = Level {
                next: u.next,
                nscore: u.nscore,
                span: u.span - (rank[0] - rank[i]),
            };
            self.nodes[xi as usize].levels[i] = l;
            let um = self.lv_mut(update[i], i);
            um.next = xi;
            um.nscore = score;
            um.span = rank[0] - rank[i] + 1;
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            self.lv_mut(u, i).span += 1;
        }
        let next0 = self.node(xi).levels[0].next;
        self.nodes[xi as usize].back = update[0].unwrap_or(NIL);
        if next0 != NIL {
            self.nodes[next0 as usize].back = xi;
        } else {
            self.tail = xi;
        }
        self.linked += 1;
    }

    /// Unlink node `x` given its predecessors (Redis's `zslDeleteNode`); it stays in the arena.
    fn unlink(&mut self, x: u32, update: &[At; MAX_LEVEL]) {
        self.linked -= 1;
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let xl = self.node(x).levels.get(i).copied();
            let ul = self.lv_mut(u, i);
            match xl {
                Some(xl) if ul.next == x => {
                    ul.span = ul.span + xl.span - 1;
                    ul.next = xl.next;
                    ul.nscore = xl.nscore;
                }
                _ => ul.span -= 1,
            }
        }
        let (next0, back) = (self.node(x).levels[0].next, self.node(x).back);
        if next0 != NIL {
            self.nodes[next0 as usize].back = back;
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.head[self.level - 1].next == NIL {
            self.level -= 1;
        }
    }

    /// Drop the unlinked node `x` from the arena: the last node moves into its slot and the
    /// links to it are redirected. Returns the node.
    fn free(&mut self, x: u32) -> Node {
        let last = (self.nodes.len() - 1) as u32;
        if x != last {
            let update = {
                let n = self.node(last);
                self.find_update(n.score, n.member.as_bytes())
            };
            let lvls = self.node(last).levels.len();
            for (i, &u) in update.iter().enumerate().take(lvls) {
                self.lv_mut(u, i).next = x;
            }
            let next0 = self.node(last).levels[0].next;
            if next0 != NIL {
                self.nodes[next0 as usize].back = x;
            } else {
                self.tail = x;
            }
        }
        self.nodes.swap_remove(x as usize)
    }

    /// A skiplist of `pairs`, already sorted by (score, member), members distinct.
    pub(super) fn from_sorted(seed: u64, pairs: Vec<(SmallBytes, f64)>) -> SkipList {
        let mut sl = SkipList::new(seed);
        sl.dict.expand(pairs.len());
        for (m, s) in pairs {
            sl.dict.insert(m.clone(), s);
            sl.link(m, s);
        }
        sl
    }

    /// The node at 0-based `rank`, NIL past the end.
    pub(super) fn node_at(&self, rank: usize) -> u32 {
        if rank >= self.len() {
            NIL
        } else if rank == 0 {
            self.head[0].next
        } else if rank + 1 == self.len() {
            self.tail
        } else {
            self.by_rank(rank + 1)
        }
    }

    /// Node `x`'s member and score, and the node after it (before it when `rev`).
    pub(super) fn step(&self, x: u32, rev: bool) -> (&[u8], f64, u32) {
        let n = self.node(x);
        let next = if rev { n.back } else { n.levels[0].next };
        (n.member.as_bytes(), n.score, next)
    }

    /// The length of the longest member.
    pub(super) fn longest_member(&self) -> usize {
        self.nodes.iter().map(|n| n.member.len()).max().unwrap_or(0)
    }

    /// A fair random member (Redis's `dictGetFairRandomKey`).
    pub(super) fn random(&self, rand: &mut dyn FnMut() -> u64) -> Option<(&[u8], f64)> {
        self.dict
            .random_entry(rand)
            .map(|(m, s)| (m.as_bytes(), *s))
    }

    /// One SCAN step over the dict (member, score).
    pub(super) fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], f64)) -> u64 {
        self.dict.scan(cursor, |m, s| f(m, *s))
    }

    /// Add a member that is not in the set.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        self.link(SmallBytes::from(member), score);
        self.dict.insert(SmallBytes::from(member), score);
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.dict.get(member).copied()
    }

    /// Remove a member; its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, score) = self.dict.remove(member)?;
        let update = self.find_update(score, member);
        let x = self.lv(update[0], 0).next;
        self.unlink(x, &update);
        self.free(x);
        Some(score)
    }

    /// Change the score of a member from `cur` to `new` (Redis's `zslUpdateScore`: in place when
    /// the order is unchanged).
    pub fn update_score(&mut self, member: &[u8], cur: f64, new: f64) {
        let update = self.find_update(cur, member);
        let x = self.lv(update[0], 0).next;
        let n = self.node(x);
        let back_ok = n.back == NIL || self.node(n.back).score < new;
        let fwd_ok = n.levels[0].next == NIL || self.node(n.levels[0].next).score > new;
        if back_ok && fwd_ok {
            self.nodes[x as usize].score = new;
            // The links into it carry its score.
            let lvls = self.node(x).levels.len();
            for (i, &u) in update.iter().enumerate().take(lvls) {
                self.lv_mut(u, i).nscore = new;
            }
        } else {
            // Re-link the same node (its slot and levels) at its new place: no arena move.
            self.unlink(x, &update);
            self.nodes[x as usize].score = new;
            self.link_node(x);
        }
        if let Some(s) = self.dict.get_mut(member) {
            *s = new;
        }
    }

    /// Remove the member at 0-based `rank`.
    pub(super) fn remove_at(&mut self, rank: usize) -> Option<(SmallBytes, f64)> {
        if rank >= self.nodes.len() {
            return None;
        }
        let target = rank as u32 + 1;
        let mut update = [None; MAX_LEVEL];
        let mut traversed = 0u32;
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next != NIL && traversed + l.span < target {
                    traversed += l.span;
                    x = Some(l.next);
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let x = self.lv(update[0], 0).next;
        self.unlink(x, &update);
        let node = self.free(x);
        self.dict.remove(node.member.as_bytes());
        Some((node.member, node.score))
    }

    /// 1-based rank of a member with its score (Redis's `zslGetRank`), 0 if absent.
    pub(super) fn rank_of(&self, score: f64, member: &[u8]) -> usize {
        let mut rank = 0usize;
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next == NIL {
                    break;
                }
                if l.nscore < score
                    || (l.nscore == score && self.node(l.next).member.as_bytes() <= member)
                {
                    rank += l.span as usize;
                    x = Some(l.next);
                } else {
                    break;
                }
            }
            if let Some(xi) = x {
                if self.node(xi).member.as_bytes() == member {
                    return rank;
                }
            }
        }
        0
    }

    /// The node at 1-based `rank` (Redis's `zslGetElementByRank`).
    fn by_rank(&self, rank: usize) -> u32 {
        let mut traversed = 0usize;
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next != NIL && traversed + l.span as usize <= rank {
                    traversed += l.span as usize;
                    x = Some(l.next);
                } else {
                    break;
                }
            }
            if traversed == rank {
                return x.unwrap_or(NIL);
            }
        }
        NIL
    }

    /// The first node for which `out` is false, descending while it is true: (0-based rank,
    /// node).
    fn first_where(&self, out: impl Fn(&Node) -> bool) -> Option<(usize, &Node)> {
        let mut rank = 0usize;
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next != NIL && out(self.node(l.next)) {
                    rank += l.span as usize;
                    x = Some(l.next);
                } else {
                    break;
                }
            }
        }
        let next = self.lv(x, 0).next;
        (next != NIL).then(|| (rank, self.node(next)))
    }

    /// `first_where` for a condition on the score alone: compares the scores the links
    /// carry, without visiting the nodes it skips.
    fn first_where_score(&self, out: impl Fn(f64) -> bool) -> Option<(usize, &Node)> {
        let mut rank = 0usize;
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next != NIL && out(l.nscore) {
                    rank += l.span as usize;
                    x = Some(l.next);
                } else {
                    break;
                }
            }
        }
        let next = self.lv(x, 0).next;
        (next != NIL).then(|| (rank, self.node(next)))
    }

    /// `last_where` for a condition on the score alone.
    fn last_where_score(&self, inside: impl Fn(f64) -> bool) -> Option<(usize, &Node)> {
        let mut rank = 0usize;
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next != NIL && inside(l.nscore) {
                    rank += l.span as usize;
                    x = Some(l.next);
                } else {
                    break;
                }
            }
        }
        x.map(|x| (rank - 1, self.node(x)))
    }

    /// The last node reached descending while `inside` holds: (0-based rank, node).
    fn last_where(&self, inside: impl Fn(&Node) -> bool) -> Option<(usize, &Node)> {
        let mut rank = 0usize;
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next != NIL && inside(self.node(l.next)) {
                    rank += l.span as usize;
                    x = Some(l.next);
                } else {
                    break;
                }
            }
        }
        x.map(|x| (rank - 1, self.node(x)))
    }

    fn first_last(&self) -> Option<(&Node, &Node)> {
        let first = self.head[0].next;
        if first == NIL {
            return None;
        }
        Some((self.node(first), self.node(self.tail)))
    }

    /// Redis's `zslFirstInRange`.
    pub(super) fn first_in_score(&self, r: &ScoreRange) -> Option<usize> {
        let (first, last) = self.first_last()?;
        if r.is_empty() || !r.gte_min(last.score) || !r.lte_max(first.score) {
            return None;
        }
        let (rank, n) = self.first_where_score(|s| !r.gte_min(s))?;
        r.lte_max(n.score).then_some(rank)
    }

    /// Redis's `zslLastInRange`.
    pub(super) fn last_in_score(&self, r: &ScoreRange) -> Option<usize> {
        let (first, last) = self.first_last()?;
        if r.is_empty() || !r.gte_min(last.score) || !r.lte_max(first.score) {
            return None;
        }
        let (rank, n) = self.last_where_score(|s| r.lte_max(s))?;
        r.gte_min(n.score).then_some(rank)
    }

    /// Redis's `zslFirstInLexRange`.
    pub(super) fn first_in_lex(&self, r: &LexRange) -> Option<usize> {
        let (first, last) = self.first_last()?;
        if r.is_empty() || !r.gte_min(&last.member) || !r.lte_max(&first.member) {
            return None;
        }
        let (rank, n) = self.first_where(|n| !r.gte_min(&n.member))?;
        r.lte_max(&n.member).then_some(rank)
    }

    /// Redis's `zslLastInLexRange`.
    pub(super) fn last_in_lex(&self, r: &LexRange) -> Option<usize> {
        let (first, last) = self.first_last()?;
        if r.is_empty() || !r.gte_min(&last.member) || !r.lte_max(&first.member) {
            return None;
        }
        let (rank, n) = self.last_where(|n| r.lte_max(&n.member))?;
        r.gte_min(&n.member).then_some(rank)
    }

    pub(super) fn mem_usage(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self
                .nodes
                .iter()
                .map(|n| {
                    let heap = match &n.levels {
                        Levels::Inline(..) => 0,
                        Levels::Heap(b) => b.len() * std::mem::size_of::<Level>(),
                    };
                    heap + n.member.heap_size()
                })
                .sum::<usize>()
            + self.dict.mem_usage()
            + self.dict.keys().map(SmallBytes::heap_size).sum::<usize>()
    }

    /// Check every invariant (tests): order, spans, back links, tail, dict.
    pub fn check(&self) -> Result<(), String> {
        if self.linked != self.nodes.len() {
            return Err(format!(
                "{} linked of {} nodes",
                self.linked,
                self.nodes.len()
            ));
        }
        let n = self.nodes.len();
        for i in 0..self.level {
            let mut x: At = None;
            let mut pos = 0usize;
            loop {
                let l = self.lv(x, i);
                if l.next == NIL {
                    break;
                }
                pos += l.span as usize;
                if l.nscore.to_bits() != self.node(l.next).score.to_bits() {
                    return Err(format!("level {i}: stale score on the link to {}", l.next));
                }
                let rank = self.rank_of(self.node(l.next).score, &self.node(l.next).member);
                if rank != pos {
                    return Err(format!("level {i}: span sum {pos}, rank {rank}"));
                }
                x = Some(l.next);
            }
        }
        let mut x = self.head[0].next;
        let mut prev = NIL;
        let mut count = 0;
        while x != NIL {
            let node = self.node(x);
            if node.back != prev {
                return Err(format!("bad back link at {count}"));
            }
            if prev != NIL {
                let p = self.node(prev);
                if !less(p, node.score, &node.member) {
                    return Err(format!("out of order at {count}"));
                }
            }
            if self.dict.get(&node.member).copied().map(f64::to_bits) != Some(node.score.to_bits())
            {
                return Err(format!("dict disagrees at {count}"));
            }
            prev = x;
            x = node.levels[0].next;
            count += 1;
        }
        if count != n || self.dict.len() != n || self.tail != prev {
            return Err(format!("length {count} / {n} / {}", self.dict.len()));
        }
        Ok(())
    }
}
