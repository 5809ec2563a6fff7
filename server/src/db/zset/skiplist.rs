//! The `skiplist` encoding of a sorted set, as Redis's `zskiplist` plus its member → score
//! dict: links carry spans (how many nodes they jump), giving O(log n) rank and
//! range-by-rank. Node levels come from a xorshift generator seeded from the server's RNG,
//! like the dict's hash seed.
//!
//! Layout, chosen so that a descent costs one cache miss per hop and no `unsafe`:
//!
//! - `lv` is an arena of levels. A node with `k` levels owns `k` consecutive slots, and its id
//!   is the index of the first one, so level `i` of node `x` is `lv[x + i]`: a hop reads one
//!   16-byte slot. Each link also carries the score of the node it points to, so a descent
//!   compares scores without touching the node it skips.
//! - `nodes` runs parallel to `lv`: the member, score and back link of node `x` are
//!   `nodes[x]` (the other slots of a block hold an empty filler). It is read on a score tie,
//!   when a search ends, and when walking the list.
//! - Removing a node puts its block on a free list for its size (threaded through the blocks'
//!   first `next`), which new nodes of that size take first; a block at the arena's end is
//!   cut off instead. Ids never move while a node lives, so removing never re-links other
//!   nodes. When more than half the arena is free (and it is not tiny), it is compacted in
//!   list order: O(live nodes), paid for by the removals that freed that much.

use super::{LexRange, ScoreRange};
use crate::db::{Dict, SmallBytes};

/// Redis's `ZSKIPLIST_MAXLEVEL`.
pub const MAX_LEVEL: usize = 32;
/// No node: the end of a level, or no predecessor.
pub(super) const NIL: u32 = u32::MAX;
/// Arenas up to this many slots are never compacted.
const COMPACT_MIN_SLOTS: usize = 1024;

/// One link: the next node at this level, how many nodes it jumps, and that node's score.
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

/// A node's payload, at the index of its first level slot.
#[derive(Clone)]
struct Node {
    member: SmallBytes,
    score: f64,
    /// Previous node at level 0, NIL for the first.
    back: u32,
    /// Levels of the node; 0 in the other slots of a block and in free blocks.
    nlev: u8,
}

impl Node {
    fn filler() -> Node {
        Node {
            member: SmallBytes::default(),
            score: 0.0,
            back: NIL,
            nlev: 0,
        }
    }
}

/// Where a search stopped at one level: the header (None) or a node.
type At = Option<u32>;

/// The skiplist encoding: nodes in (score, member) order with spans, and member → score.
#[derive(Clone)]
pub struct SkipList {
    lv: Vec<Level>,
    /// Parallel to `lv`.
    nodes: Vec<Node>,
    /// Heads of the free-block lists by block size (index = levels), linked through
    /// `lv[block].next`.
    free: [u32; MAX_LEVEL + 1],
    free_slots: usize,
    /// Nodes linked into the list (a node being moved is briefly unlinked).
    linked: usize,
    head: [Level; MAX_LEVEL],
    level: usize,
    tail: u32,
    rng: u64,
    dict: Dict<SmallBytes, f64>,
}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SkipList(len {}, level {})", self.linked, self.level)
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
            lv: Vec::new(),
            nodes: Vec::new(),
            free: [NIL; MAX_LEVEL + 1],
            free_slots: 0,
            linked: 0,
            head: [EMPTY_LEVEL; MAX_LEVEL],
            level: 1,
            tail: NIL,
            rng: (z ^ (z >> 31)) | 1,
            dict: Dict::with_seed(seed),
        }
    }

    pub fn len(&self) -> usize {
        self.linked
    }

    pub fn is_empty(&self) -> bool {
        self.linked == 0
    }

    #[inline]
    fn lvl(&self, at: At, i: usize) -> Level {
        match at {
            None => self.head[i],
            Some(x) => self.lv[x as usize + i],
        }
    }

    #[inline]
    fn lvl_mut(&mut self, at: At, i: usize) -> &mut Level {
        match at {
            None => &mut self.head[i],
            Some(x) => &mut self.lv[x as usize + i],
        }
    }

    #[inline]
    fn node(&self, x: u32) -> &Node {
        &self.nodes[x as usize]
    }

    /// Levels of the live node `x`.
    fn levels(&self, x: u32) -> &[Level] {
        let start = x as usize;
        &self.lv[start..start + self.node(x).nlev as usize]
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

    /// A block of `nlev` slots for a new node (from the free list of that size, else at the
    /// arena's end); returns its id. The node is not linked.
    fn alloc(&mut self, member: SmallBytes, score: f64, nlev: usize) -> u32 {
        let node = Node {
            member,
            score,
            back: NIL,
            nlev: nlev as u8,
        };
        let x = self.free[nlev];
        if x != NIL {
            self.free[nlev] = self.lv[x as usize].next;
            self.free_slots -= nlev;
            self.lv[x as usize..x as usize + nlev].fill(EMPTY_LEVEL);
            self.nodes[x as usize] = node;
            return x;
        }
        let start = self.lv.len();
        // Ids are u32 with NIL reserved: 2^32 slots would be 64 GiB of levels alone, beyond
        // what a sorted set can reach (Redis caps a set's length at 2^32 too).
        assert!(start + nlev < NIL as usize, "sorted set arena full");
        self.lv.resize(start + nlev, EMPTY_LEVEL);
        self.nodes.push(node);
        self.nodes.resize_with(start + nlev, Node::filler);
        start as u32
    }

    /// Give back the block of the unlinked node `x`; returns its payload. May compact the
    /// arena, which renumbers every node.
    fn release(&mut self, x: u32) -> Node {
        let node = std::mem::replace(&mut self.nodes[x as usize], Node::filler());
        let nlev = node.nlev as usize;
        let end = x as usize + nlev;
        if end == self.lv.len() {
            self.lv.truncate(x as usize);
            self.nodes.truncate(x as usize);
        } else {
            self.lv[x as usize].next = self.free[nlev];
            self.free[nlev] = x;
            self.free_slots += nlev;
        }
        if self.lv.len() > COMPACT_MIN_SLOTS && self.free_slots * 2 > self.lv.len() {
            self.compact();
        }
        if self.linked == 0 {
            self.lv = Vec::new();
            self.nodes = Vec::new();
            self.free = [NIL; MAX_LEVEL + 1];
            self.free_slots = 0;
        }
        node
    }

    /// Rebuild the arena without free blocks, nodes in list order (every node is linked).
    fn compact(&mut self) {
        let live = self.lv.len() - self.free_slots;
        let mut map = vec![NIL; self.lv.len()];
        let mut lv = Vec::with_capacity(live);
        let mut nodes = Vec::with_capacity(live);
        let mut x = self.head[0].next;
        while x != NIL {
            let xs = x as usize;
            let nlev = self.nodes[xs].nlev as usize;
            map[xs] = lv.len() as u32;
            lv.extend_from_slice(&self.lv[xs..xs + nlev]);
            nodes.push(std::mem::replace(&mut self.nodes[xs], Node::filler()));
            nodes.resize_with(lv.len(), Node::filler);
            x = self.lv[xs].next;
        }
        let remap = |v: u32| if v == NIL { NIL } else { map[v as usize] };
        for l in lv.iter_mut() {
            l.next = remap(l.next);
        }
        for n in nodes.iter_mut().filter(|n| n.nlev > 0) {
            n.back = remap(n.back);
        }
        for h in self.head.iter_mut() {
            h.next = remap(h.next);
        }
        self.tail = remap(self.tail);
        self.lv = lv;
        self.nodes = nodes;
        self.free = [NIL; MAX_LEVEL + 1];
        self.free_slots = 0;
    }

    /// The last node before (score, member) at every level.
    fn find_update(&self, score: f64, member: &[u8]) -> [At; MAX_LEVEL] {
        let mut update = [None; MAX_LEVEL];
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lvl(x, i);
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
        let x = self.alloc(member, score, level);
        self.link_node(x);
    }

    /// Link node `xi` (not linked: new, or unlinked to change its score) at its place for its
    /// score and member, with its own number of levels.
    fn link_node(&mut self, xi: u32) {
        let (score, level) = {
            let n = self.node(xi);
            (n.score, n.nlev as usize)
        };
        let mut update = [None; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x: At = None;
        {
            let member = self.node(xi).member.as_bytes();
            for i in (0..self.level).rev() {
                rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
                loop {
                    let l = self.lvl(x, i);
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
            let u = self.lvl(update[i], i);
            self.lv[xi as usize + i] = Level {
                next: u.next,
                nscore: u.nscore,
                span: u.span - (rank[0] - rank[i]),
            };
            let um = self.lvl_mut(update[i], i);
            um.next = xi;
            um.nscore = score;
            um.span = rank[0] - rank[i] + 1;
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            self.lvl_mut(u, i).span += 1;
        }
        let next0 = self.lv[xi as usize].next;
        self.nodes[xi as usize].back = update[0].unwrap_or(NIL);
        if next0 != NIL {
            self.nodes[next0 as usize].back = xi;
        } else {
            self.tail = xi;
        }
        self.linked += 1;
    }

    /// Unlink node `x` given its predecessors (Redis's `zslDeleteNode`); its block stays.
    fn unlink(&mut self, x: u32, update: &[At; MAX_LEVEL]) {
        self.linked -= 1;
        let nlev = self.node(x).nlev as usize;
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let xl = (i < nlev).then(|| self.lv[x as usize + i]);
            let ul = self.lvl_mut(u, i);
            match xl {
                Some(xl) if ul.next == x => {
                    ul.span = ul.span + xl.span - 1;
                    ul.next = xl.next;
                    ul.nscore = xl.nscore;
                }
                _ => ul.span -= 1,
            }
        }
        let (next0, back) = (self.lv[x as usize].next, self.node(x).back);
        if next0 != NIL {
            self.nodes[next0 as usize].back = back;
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.head[self.level - 1].next == NIL {
            self.level -= 1;
        }
    }

    /// A skiplist of `pairs`, already sorted by (score, member), members distinct.
    pub(super) fn from_sorted(seed: u64, pairs: Vec<(SmallBytes, f64)>) -> SkipList {
        let mut sl = SkipList::new(seed);
        sl.dict.expand(pairs.len());
        // About 4/3 slots per node.
        sl.lv.reserve(pairs.len() + pairs.len() / 3);
        sl.nodes.reserve(pairs.len() + pairs.len() / 3);
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
        let next = if rev {
            n.back
        } else {
            self.lv[x as usize].next
        };
        (n.member.as_bytes(), n.score, next)
    }

    /// The length of the longest member.
    pub(super) fn longest_member(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.nlev > 0)
            .map(|n| n.member.len())
            .max()
            .unwrap_or(0)
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
        // Redis's ZADD of a new member rehashes two buckets of a growing dict (its `dictFind`
        // and its `dictAdd` each take a step); the lookup before this one could not (`&self`),
        // so step here. Fewer steps would leave the dict rehashing for longer, every lookup
        // meanwhile searching both tables.
        self.dict.rehash_step();
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
        let x = self.lvl(update[0], 0).next;
        self.unlink(x, &update);
        self.release(x);
        Some(score)
    }

    /// Change the score of a member from `cur` to `new` (Redis's `zslUpdateScore`: in place when
    /// the order is unchanged).
    pub fn update_score(&mut self, member: &[u8], cur: f64, new: f64) {
        let update = self.find_update(cur, member);
        let x = self.lvl(update[0], 0).next;
        let (back, lvls) = (self.node(x).back, self.node(x).nlev as usize);
        let next0 = self.lv[x as usize].next;
        let back_ok = back == NIL || self.node(back).score < new;
        let fwd_ok = next0 == NIL || self.node(next0).score > new;
        if back_ok && fwd_ok {
            self.nodes[x as usize].score = new;
            // The links into it carry its score.
            for (i, &u) in update.iter().enumerate().take(lvls) {
                self.lvl_mut(u, i).nscore = new;
            }
        } else {
            // Re-link the same node (its block and levels) at its new place.
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
        if rank >= self.len() {
            return None;
        }
        let target = rank as u32 + 1;
        let mut update = [None; MAX_LEVEL];
        let mut traversed = 0u32;
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lvl(x, i);
                if l.next != NIL && traversed + l.span < target {
                    traversed += l.span;
                    x = Some(l.next);
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let x = self.lvl(update[0], 0).next;
        self.unlink(x, &update);
        let node = self.release(x);
        self.dict.remove(node.member.as_bytes());
        Some((node.member, node.score))
    }

    /// 1-based rank of a member with its score (Redis's `zslGetRank`), 0 if absent.
    pub(super) fn rank_of(&self, score: f64, member: &[u8]) -> usize {
        let mut rank = 0usize;
        let mut x: At = None;
        // The score of `x`: its member is compared only when the score is the one sought.
        let mut xscore = f64::NAN;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lvl(x, i);
                if l.next == NIL {
                    break;
                }
                if l.nscore < score
                    || (l.nscore == score && self.node(l.next).member.as_bytes() <= member)
                {
                    rank += l.span as usize;
                    x = Some(l.next);
                    xscore = l.nscore;
                } else {
                    break;
                }
            }
            if let Some(xi) = x {
                if xscore == score && self.node(xi).member.as_bytes() == member {
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
                let l = self.lvl(x, i);
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
                let l = self.lvl(x, i);
                if l.next != NIL && out(self.node(l.next)) {
                    rank += l.span as usize;
                    x = Some(l.next);
                } else {
                    break;
                }
            }
        }
        let next = self.lvl(x, 0).next;
        (next != NIL).then(|| (rank, self.node(next)))
    }

    /// `first_where` for a condition on the score alone: compares the scores the links
    /// carry, without visiting the nodes it skips.
    fn first_where_score(&self, out: impl Fn(f64) -> bool) -> Option<(usize, &Node)> {
        let mut rank = 0usize;
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lvl(x, i);
                if l.next != NIL && out(l.nscore) {
                    rank += l.span as usize;
                    x = Some(l.next);
                } else {
                    break;
                }
            }
        }
        let next = self.lvl(x, 0).next;
        (next != NIL).then(|| (rank, self.node(next)))
    }

    /// `last_where` for a condition on the score alone.
    fn last_where_score(&self, inside: impl Fn(f64) -> bool) -> Option<(usize, &Node)> {
        let mut rank = 0usize;
        let mut x: At = None;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lvl(x, i);
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
                let l = self.lvl(x, i);
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

    /// Bytes of the structure alone, in O(1): the level and node arenas (free slots
    /// included) and the dict's buckets and nodes, without the heap the members own (each
    /// member longer than `SmallBytes`'s inline capacity is held twice: in its node and as
    /// the dict's key). `size_of::<SkipList>()` is the caller's.
    pub fn structure_bytes(&self) -> usize {
        self.lv.capacity() * std::mem::size_of::<Level>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.dict.mem_usage()
    }

    pub(super) fn mem_usage(&self) -> usize {
        self.lv.capacity() * std::mem::size_of::<Level>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self
                .nodes
                .iter()
                .map(|n| n.member.heap_size())
                .sum::<usize>()
            + self.dict.mem_usage()
            + self.dict.keys().map(SmallBytes::heap_size).sum::<usize>()
    }

    /// Check every invariant (tests): order, spans, scores on the links, back links, tail,
    /// dict, and the arena's accounting (every slot is in a live block or a free one).
    pub fn check(&self) -> Result<(), String> {
        let n = self.linked;
        if self.lv.len() != self.nodes.len() {
            return Err("arena and payloads differ in length".into());
        }
        for i in 0..self.level {
            let mut x: At = None;
            let mut pos = 0usize;
            loop {
                let l = self.lvl(x, i);
                if l.next == NIL {
                    break;
                }
                if (self.node(l.next).nlev as usize) <= i {
                    return Err(format!("level {i}: link to {} without that level", l.next));
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
        let mut live_slots = 0;
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
            live_slots += self.levels(x).len();
            prev = x;
            x = self.lv[x as usize].next;
            count += 1;
        }
        if count != n || self.dict.len() != n || self.tail != prev {
            return Err(format!("length {count} / {n} / {}", self.dict.len()));
        }
        let mut free_slots = 0;
        for (size, &first) in self.free.iter().enumerate() {
            let mut b = first;
            while b != NIL {
                if self.node(b).nlev != 0 || b as usize + size > self.lv.len() {
                    return Err(format!("free block {b} of size {size} is not free"));
                }
                free_slots += size;
                b = self.lv[b as usize].next;
            }
        }
        if free_slots != self.free_slots || live_slots + free_slots != self.lv.len() {
            return Err(format!(
                "arena of {}: {live_slots} live + {free_slots} free slots (counted {})",
                self.lv.len(),
                self.free_slots
            ));
        }
        Ok(())
    }
}
