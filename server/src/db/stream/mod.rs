//! Stream values, as Redis 7.0's `t_stream.c` stores them.
//!
//! A stream is an ordered map from the ID of the first entry put in each node (its "master
//! ID") to the node: a listpack laid out byte for byte as Redis lays it out, so that an RDB
//! or DUMP payload carries the nodes as they are and memory per entry is Redis's. Redis keys
//! the nodes in a radix tree by the 128-bit big-endian ID; a `BTreeMap` keyed by the
//! `(ms, seq)` pair has the same order and the same seeks (`<=`, first, last), which is all
//! the stream needs of it.
//!
//! A node starts with a master entry (live count, deleted count, the number of fields and
//! the fields of its first entry, a 0 terminator). Each entry follows as flags, the ms and
//! seq differences from the master ID, then either only the values (`SAMEFIELDS`: same
//! fields as the master entry) or the field count and the pairs, and last the number of
//! elements before it in the entry (the "lp-count" that lets a reader walk backwards).
//! Deleting marks an entry `DELETED` and adjusts the master counts; a node whose last live
//! entry goes is removed. Consumer groups (ordered by name, as Redis's rax) keep their PEL
//! and consumers in ordered maps.

pub mod group;
pub mod lp;

use std::collections::BTreeMap;

pub use group::{Consumer, Group, Nack};
use lp::Val;

pub const FLAG_NONE: i64 = 0;
pub const FLAG_DELETED: i64 = 1;
pub const FLAG_SAMEFIELDS: i64 = 2;

/// Redis's `STREAM_LISTPACK_MAX_SIZE`.
pub const LISTPACK_MAX_SIZE: usize = 1 << 30;
/// Redis's `STREAM_LISTPACK_MAX_PRE_ALLOCATE`.
const MAX_PRE_ALLOCATE: usize = 4096;

/// A stream entry ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next ID (`streamIncrID`); `None` past the last possible one.
    pub fn incr(&self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID (`streamDecrID`); `None` before 0-0.
    pub fn decr(&self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// `<ms>-<seq>`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(41);
        v.extend_from_slice(itoa::Buffer::new().format(self.ms).as_bytes());
        v.push(b'-');
        v.extend_from_slice(itoa::Buffer::new().format(self.seq).as_bytes());
        v
    }

    /// The 128-bit big-endian key Redis stores nodes and PEL entries under.
    pub fn encode(&self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }

    pub fn decode(b: &[u8]) -> Option<StreamId> {
        if b.len() != 16 {
            return None;
        }
        Some(StreamId::new(
            u64::from_be_bytes(b[..8].try_into().ok()?),
            u64::from_be_bytes(b[8..].try_into().ok()?),
        ))
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The node limits of the configuration (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLimits {
    pub bytes: usize,
    pub entries: usize,
}

/// The trimming strategies of XADD and XTRIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    None,
    MaxLen(u64),
    MinId(StreamId),
}

/// Why an append failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The ID is not greater than the last one (`EDOM`).
    NotGreater,
    /// The fields and values are too large for a node (`ERANGE`).
    TooLarge,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stream {
    pub nodes: BTreeMap<StreamId, Vec<u8>>,
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_entry_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Vec<u8>, Group>,
}

/// An entry's place in a node, as [`Node::parse`] finds it.
#[derive(Debug, Clone, Copy)]
pub struct EntryPos {
    pub id: StreamId,
    pub flags: i64,
    /// Offset of the flags element (for marking it deleted).
    pub flags_at: usize,
    /// Offset of the first field (or value, for SAMEFIELDS).
    pub body_at: usize,
    pub nfields: usize,
}

/// A node's master entry and the positions of its entries.
pub struct Node<'a> {
    pub lp: &'a [u8],
    pub count: i64,
    pub deleted: i64,
    pub master_fields: Vec<Val<'a>>,
    pub entries: Vec<EntryPos>,
}

impl<'a> Node<'a> {
    /// Read a node whose master ID is `master`. A malformed node reads as having the entries
    /// up to the damage (loading validates nodes, so this does not happen in practice).
    pub fn parse(lp: &'a [u8], master: StreamId) -> Node<'a> {
        let mut n = Node {
            lp,
            count: 0,
            deleted: 0,
            master_fields: Vec::new(),
            entries: Vec::new(),
        };
        let _ = n.fill(master);
        n
    }

    fn fill(&mut self, master: StreamId) -> Option<()> {
        let lp = self.lp;
        let (c, p) = lp::get(lp, lp::FIRST)?;
        let (d, p) = lp::get(lp, p)?;
        let (nf, mut p) = lp::get(lp, p)?;
        self.count = c.int();
        self.deleted = d.int();
        for _ in 0..nf.int() {
            let (f, q) = lp::get(lp, p)?;
            self.master_fields.push(f);
            p = q;
        }
        // The master entry's terminator.
        let (_, mut p) = lp::get(lp, p)?;
        while lp.get(p).is_some_and(|&b| b != 0xFF) {
            let flags_at = p;
            let (flags, q) = lp::get(lp, p)?;
            let (ms, q) = lp::get(lp, q)?;
            let (seq, mut q) = lp::get(lp, q)?;
            let flags = flags.int();
            let nfields = if flags & FLAG_SAMEFIELDS != 0 {
                self.master_fields.len()
            } else {
                let (nf, r) = lp::get(lp, q)?;
                q = r;
                nf.int() as usize
            };
            let body_at = q;
            let per = if flags & FLAG_SAMEFIELDS != 0 { 1 } else { 2 };
            for _ in 0..nfields * per {
                q = lp::get(lp, q)?.1;
            }
            // lp-count
            let (_, r) = lp::get(lp, q)?;
            self.entries.push(EntryPos {
                id: StreamId::new(
                    master.ms.wrapping_add(ms.int() as u64),
                    master.seq.wrapping_add(seq.int() as u64),
                ),
                flags,
                flags_at,
                body_at,
                nfields,
            });
            p = r;
        }
        Some(())
    }

    /// The field-value pairs of an entry.
    pub fn fields(&self, e: &EntryPos) -> Vec<(Val<'a>, Val<'a>)> {
        let mut out = Vec::with_capacity(e.nfields);
        let mut p = e.body_at;
        for i in 0..e.nfields {
            let f = if e.flags & FLAG_SAMEFIELDS != 0 {
                self.master_fields.get(i).copied().unwrap_or(Val::Str(b""))
            } else {
                match lp::get(self.lp, p) {
                    Some((f, q)) => {
                        p = q;
                        f
                    }
                    None => break,
                }
            };
            match lp::get(self.lp, p) {
                Some((v, q)) => {
                    p = q;
                    out.push((f, v));
                }
                None => break,
            }
        }
        out
    }
}

/// An entry as returned by reads: its ID and field-value pairs (client-visible bytes).
pub type Entry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Heap bytes owned by the stream (nodes as allocated, the map's nodes, groups).
    pub fn mem_usage(&self) -> usize {
        let nodes: usize = self.nodes.values().map(|v| v.capacity() + 48).sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(n, g)| n.len() + g.mem_usage())
            .sum();
        nodes + groups
    }

    /// Append an entry (`streamAppendItem`). `use_id` with `seq_given` false takes the
    /// sequence from the stream (the `<ms>-*` form). `now_ms` is for generated IDs.
    pub fn append(
        &mut self,
        pairs: &[impl AsRef<[u8]>],
        use_id: Option<(StreamId, bool)>,
        now_ms: u64,
        lim: NodeLimits,
    ) -> Result<StreamId, AppendError> {
        let id = match use_id {
            Some((id, true)) => id,
            Some((id, false)) => {
                if self.last_id.ms == id.ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AppendError::NotGreater);
                    }
                    StreamId::new(id.ms, self.last_id.seq + 1)
                } else {
                    id
                }
            }
            None => {
                if now_ms > self.last_id.ms {
                    StreamId::new(now_ms, 0)
                } else {
                    // (Past the last possible ID this wraps to 0-0 and fails below, as Redis.)
                    self.last_id.incr().unwrap_or(StreamId::MIN)
                }
            }
        };
        if id <= self.last_id {
            return Err(AppendError::NotGreater);
        }
        let totelelen: usize = pairs.iter().map(|a| a.as_ref().len()).sum();
        if totelelen > LISTPACK_MAX_SIZE {
            return Err(AppendError::TooLarge);
        }
        let numfields = pairs.len() / 2;

        // May the last node take it?
        let mut tail = self.nodes.iter().next_back().map(|(k, _)| *k);
        if let Some(master) = tail {
            let lp = &self.nodes[&master];
            let mut max_bytes = lim.bytes;
            if max_bytes == 0 || max_bytes > LISTPACK_MAX_SIZE {
                max_bytes = LISTPACK_MAX_SIZE;
            }
            let mut full = lp.len() + totelelen >= max_bytes;
            if !full && lim.entries > 0 {
                let (c, p) = lp::get(lp, lp::FIRST).unwrap_or((Val::Int(0), lp::FIRST));
                let d = lp::get(lp, p).map(|x| x.0.int()).unwrap_or(0);
                if c.int() + d >= lim.entries as i64 {
                    full = true;
                }
            }
            if full {
                if let Some(lp) = self.nodes.get_mut(&master) {
                    lp.shrink_to_fit();
                }
                tail = None;
            }
        }

        let mut enc = Vec::with_capacity(totelelen + 16 + pairs.len() * 2);
        let (master, flags) = match tail {
            None => {
                let mut prealloc = MAX_PRE_ALLOCATE;
                if lim.bytes > 0 && lim.bytes < prealloc {
                    prealloc = lim.bytes;
                }
                let mut lp = lp::new(prealloc);
                let mut m = Vec::new();
                lp::encode_int(1, &mut m);
                lp::encode_int(0, &mut m);
                lp::encode_int(numfields as i64, &mut m);
                for i in 0..numfields {
                    lp::encode_str(pairs[i * 2].as_ref(), &mut m);
                }
                lp::encode_int(0, &mut m);
                lp::append_encoded(&mut lp, &m, numfields + 4);
                self.nodes.insert(id, lp);
                (id, FLAG_SAMEFIELDS)
            }
            Some(master) => {
                let lp = self.nodes.get_mut(&master).expect("tail node");
                let (c, _) = lp::get(lp, lp::FIRST).expect("node count");
                lp::replace_int(lp, lp::FIRST, c.int() + 1);
                let node = Node::parse(lp, master);
                let same = node.master_fields.len() == numfields
                    && node
                        .master_fields
                        .iter()
                        .enumerate()
                        .all(|(i, f)| f.eq_bytes(pairs[i * 2].as_ref()));
                (master, if same { FLAG_SAMEFIELDS } else { FLAG_NONE })
            }
        };
        lp::encode_int(flags, &mut enc);
        lp::encode_int(id.ms.wrapping_sub(master.ms) as i64, &mut enc);
        lp::encode_int(id.seq.wrapping_sub(master.seq) as i64, &mut enc);
        let mut n = 3;
        if flags & FLAG_SAMEFIELDS == 0 {
            lp::encode_int(numfields as i64, &mut enc);
            n += 1;
        }
        for i in 0..numfields {
            if flags & FLAG_SAMEFIELDS == 0 {
                lp::encode_str(pairs[i * 2].as_ref(), &mut enc);
                n += 1;
            }
            lp::encode_str(pairs[i * 2 + 1].as_ref(), &mut enc);
            n += 1;
        }
        let mut lp_count = numfields as i64 + 3;
        if flags & FLAG_SAMEFIELDS == 0 {
            lp_count += numfields as i64 + 1;
        }
        lp::encode_int(lp_count, &mut enc);
        n += 1;
        let lp = self.nodes.get_mut(&master).expect("node");
        lp::append_encoded(lp, &enc, n);

        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// Walk the entries with IDs in `[start, end]`, forward or backward, calling `f` with each
    /// node and entry; `f` returns false to stop. Tombstones are skipped unless `tombstones`.
    pub fn walk<'s>(
        &'s self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        tombstones: bool,
        mut f: impl FnMut(&Node<'s>, &EntryPos) -> bool,
    ) {
        if start > end {
            return;
        }
        if !rev {
            let from = self
                .nodes
                .range(..=start)
                .next_back()
                .map(|(k, _)| *k)
                .unwrap_or(StreamId::MIN);
            for (master, lp) in self.nodes.range(from..) {
                if *master > end {
                    return;
                }
                let node = Node::parse(lp, *master);
                for e in &node.entries {
                    if e.id < start || (!tombstones && e.flags & FLAG_DELETED != 0) {
                        continue;
                    }
                    if e.id > end || !f(&node, e) {
                        return;
                    }
                }
            }
        } else {
            for (master, lp) in self.nodes.range(..=end).rev() {
                let node = Node::parse(lp, *master);
                for e in node.entries.iter().rev() {
                    if e.id > end || (!tombstones && e.flags & FLAG_DELETED != 0) {
                        continue;
                    }
                    if e.id < start || !f(&node, e) {
                        return;
                    }
                }
                if *master < start {
                    return;
                }
            }
        }
    }

    /// Up to `count` entries (0: all) in `[start, end]`.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        self.walk(start, end, rev, false, |node, e| {
            out.push((
                e.id,
                node.fields(e)
                    .into_iter()
                    .map(|(f, v)| (f.bytes().into_owned(), v.bytes().into_owned()))
                    .collect(),
            ));
            count == 0 || out.len() < count
        });
        out
    }

    /// The entry with ID `id`, if present and not deleted.
    pub fn get(&self, id: StreamId) -> Option<Entry> {
        self.range(id, id, false, 1).into_iter().next()
    }

    /// The first or last entry's ID (`streamGetEdgeID`), skipping tombstones if asked. An
    /// empty stream answers MAX for the first and 0-0 for the last, as Redis.
    pub fn edge_id(&self, first: bool, skip_tombstones: bool) -> StreamId {
        let mut found = None;
        self.walk(
            StreamId::MIN,
            StreamId::MAX,
            !first,
            !skip_tombstones,
            |_, e| {
                found = Some(e.id);
                false
            },
        );
        found.unwrap_or(if first { StreamId::MAX } else { StreamId::MIN })
    }

    /// The last live entry's ID (`streamLastValidID`), 0-0 when empty.
    pub fn last_valid_id(&self) -> StreamId {
        self.edge_id(false, true)
    }

    /// Mark the entry `id` deleted (`streamDeleteItem`); false if it is not there.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, _)) = self.nodes.range(..=id).next_back() else {
            return false;
        };
        let lp = self.nodes.get_mut(&master).expect("node");
        let (flags_at, flags, count, deleted) = {
            let node = Node::parse(lp, master);
            match node
                .entries
                .iter()
                .find(|e| e.id == id && e.flags & FLAG_DELETED == 0)
            {
                Some(e) => (e.flags_at, e.flags, node.count, node.deleted),
                None => return false,
            }
        };
        if count == 1 {
            self.nodes.remove(&master);
        } else {
            lp::replace_int(lp, flags_at, flags | FLAG_DELETED);
            lp::replace_int(lp, lp::FIRST, count - 1);
            let p = lp::get(lp, lp::FIRST).expect("count").1;
            lp::replace_int(lp, p, deleted + 1);
        }
        self.length -= 1;
        true
    }

    /// XDEL's bookkeeping after deleting `id`: the first ID and the greatest deleted ID.
    pub fn after_delete(&mut self, id: StreamId, first_deleted: bool) {
        if id > self.max_deleted_entry_id {
            self.max_deleted_entry_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if first_deleted {
            self.first_id = self.edge_id(true, true);
        }
    }

    /// Trim (`streamTrim`): `approx` removes whole nodes only; `limit` (0: none) caps the
    /// entries removed. Returns the number removed.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        if trim == Trim::None {
            return 0;
        }
        let mut deleted: u64 = 0;
        let masters: Vec<StreamId> = self.nodes.keys().copied().collect();
        for master in masters {
            if let Trim::MaxLen(maxlen) = trim {
                if self.length <= maxlen {
                    break;
                }
            }
            let lp = self.nodes.get_mut(&master).expect("node");
            let node = Node::parse(lp, master);
            let entries = node.count as u64;
            if limit > 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match trim {
                Trim::MaxLen(maxlen) => self.length - entries >= maxlen,
                Trim::MinId(min) => node.entries.last().is_some_and(|e| e.id < min),
                Trim::None => false,
            };
            if remove_node {
                self.nodes.remove(&master);
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let mut marks = Vec::new();
            let mut length = self.length;
            for e in &node.entries {
                let stop = match trim {
                    Trim::MaxLen(maxlen) => length <= maxlen,
                    Trim::MinId(min) => e.id >= min,
                    Trim::None => true,
                };
                if stop {
                    break;
                }
                if e.flags & FLAG_DELETED == 0 {
                    marks.push((e.flags_at, e.flags | FLAG_DELETED));
                    length -= 1;
                }
            }
            let (count, dels) = (node.count, node.deleted);
            let n = marks.len() as i64;
            // Later offsets first, so earlier ones stay valid (flags never change size).
            for (at, fl) in marks.into_iter().rev() {
                lp::replace_int(lp, at, fl);
            }
            lp::replace_int(lp, lp::FIRST, count - n);
            let p = lp::get(lp, lp::FIRST).expect("count").1;
            lp::replace_int(lp, p, dels + n);
            self.length = length;
            deleted += n as u64;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge_id(true, true);
        }
        deleted
    }

    /// The first ID still in the stream, tombstones included (XADD/XTRIM's `~` rewrite).
    pub fn first_raw_id(&self) -> StreamId {
        self.edge_id(true, false)
    }

    /// Whether `[start, end]` may hold a tombstone (`streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_entry_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_entry_id {
            return false;
        }
        let start = start.unwrap_or(StreamId::MIN);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted_entry_id && self.max_deleted_entry_id <= end
    }

    /// The logical read counter of `id` (`streamEstimateDistanceFromFirstEverEntry`), or
    /// -1 when it cannot be known.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return group::INVALID_ENTRIES_READ;
        }
        if self.max_deleted_entry_id.is_zero() || self.max_deleted_entry_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        group::INVALID_ENTRIES_READ
    }

    /// A group's lag (`streamReplyWithCGLag`), `None` when it cannot be known.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != group::INVALID_ENTRIES_READ
            && !self.range_has_tombstones(Some(g.last_id), None)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let e = self.estimate_distance(g.last_id);
        if e != group::INVALID_ENTRIES_READ {
            Some(self.entries_added as i64 - e)
        } else {
            None
        }
    }

    /// Check the nodes' framing and that every entry decodes (RESTORE and loading of
    /// untrusted payloads). Returns the live entries counted.
    pub fn validate_nodes(&self) -> Option<u64> {
        let mut live = 0u64;
        for (master, lp) in &self.nodes {
            lp::validate(lp)?;
            let node = Node::parse(lp, *master);
            let total = node.count.checked_add(node.deleted)?;
            if total as usize != node.entries.len() || node.count <= 0 {
                return None;
            }
            let mut prev: Option<StreamId> = None;
            let mut l = 0;
            for e in &node.entries {
                if prev.is_some_and(|p| e.id <= p) || e.id < *master {
                    return None;
                }
                if e.id > self.last_id {
                    return None;
                }
                prev = Some(e.id);
                if e.flags & FLAG_DELETED == 0 {
                    l += 1;
                }
                if node.fields(e).len() != e.nfields {
                    return None;
                }
            }
            if l != node.count {
                return None;
            }
            live += l as u64;
        }
        Some(live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: NodeLimits = NodeLimits {
        bytes: 4096,
        entries: 100,
    };

    #[test]
    fn append_range_delete_trim() {
        let mut s = Stream::new();
        for i in 1..=250u64 {
            let v = i.to_string();
            let pairs: Vec<&[u8]> = if i % 7 == 0 {
                vec![b"other", v.as_bytes()]
            } else {
                vec![b"f", v.as_bytes()]
            };
            s.append(&pairs, Some((StreamId::new(i, 0), true)), 0, LIM)
                .unwrap();
        }
        assert_eq!(s.nodes.len(), 3);
        assert_eq!(s.len(), 250);
        assert_eq!(s.validate_nodes(), Some(250));
        let r = s.range(StreamId::new(99, 0), StreamId::new(102, 0), false, 0);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].1, vec![(b"f".to_vec(), b"99".to_vec())]);
        assert_eq!(r[2].1, vec![(b"f".to_vec(), b"101".to_vec())]);
        let r = s.range(StreamId::MIN, StreamId::MAX, true, 3);
        assert_eq!(
            r.iter().map(|e| e.0.ms).collect::<Vec<_>>(),
            vec![250, 249, 248]
        );
        assert!(s.delete(StreamId::new(1, 0)));
        assert!(!s.delete(StreamId::new(1, 0)));
        assert_eq!(s.edge_id(true, true), StreamId::new(2, 0));
        assert_eq!(s.edge_id(true, false), StreamId::new(1, 0));
        assert_eq!(s.validate_nodes(), Some(249));
        assert_eq!(s.trim(Trim::MaxLen(200), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(150), true, 0), 99);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(140), false, 0), 10);
        assert_eq!(s.first_id, StreamId::new(111, 0));
        assert_eq!(s.trim(Trim::MinId(StreamId::new(205, 0)), false, 0), 94);
        assert_eq!(s.first_id, StreamId::new(205, 0));
        assert_eq!(s.validate_nodes(), Some(46));
    }
}
