//! Writing RDB files in the encodings Redis 7.0 writes (quicklist-2 lists of listpacks,
//! intsets, listpack hashes and sorted sets when small), so Redis 7.0 loads them as its own.

use picket_common::resp::format_double;

use super::blobs::{intset_build, ListpackWriter};
use super::codec::{
    op, ty, Writer, CRC64, QUICKLIST_NODE_PACKED, QUICKLIST_NODE_PLAIN, RDB_VERSION,
};

/// Redis's `list-max-listpack-size`: a negative value is a node size in bytes (-1 = 4 KB ...
/// -5 = 64 KB), a positive one a number of entries.
fn node_limit(fill: i64) -> (usize, usize) {
    match fill {
        f if f > 0 => (usize::MAX, f as usize),
        -1 => (4096, usize::MAX),
        -3 => (16384, usize::MAX),
        -4 => (32768, usize::MAX),
        f if f <= -5 => (65536, usize::MAX),
        _ => (8192, usize::MAX),
    }
}

/// One node of a quicklist as Redis 7.0 builds it by pushing the elements in order.
#[derive(Debug)]
pub struct QuicklistNode {
    /// A node holding one large element as is (Redis's `QUICKLIST_NODE_CONTAINER_PLAIN`).
    pub plain: bool,
    /// The listpack (or, for a plain node, the element).
    pub data: Vec<u8>,
    pub count: usize,
}

/// Redis's default `quicklist` packed threshold: elements this long get a plain node.
pub const DEFAULT_PACKED_THRESHOLD: u64 = 1 << 30;

/// Split a list into quicklist nodes: listpacks filled up to `list-max-listpack-size`
/// (`fill`), and a plain node for each element of at least `packed_threshold` bytes.
pub fn quicklist_nodes<'a>(
    fill: i64,
    packed_threshold: u64,
    items: impl Iterator<Item = &'a [u8]>,
) -> Vec<QuicklistNode> {
    let (max_bytes, max_entries) = node_limit(fill);
    let mut nodes = Vec::new();
    let mut cur = ListpackWriter::new();
    let close = |cur: &mut ListpackWriter, nodes: &mut Vec<QuicklistNode>| {
        if !cur.is_empty() {
            let count = cur.len();
            nodes.push(QuicklistNode {
                plain: false,
                data: std::mem::take(cur).finish(),
                count,
            });
        }
    };
    for it in items {
        if it.len() as u64 >= packed_threshold {
            close(&mut cur, &mut nodes);
            nodes.push(QuicklistNode {
                plain: true,
                data: it.to_vec(),
                count: 1,
            });
            continue;
        }
        if !cur.is_empty() && (cur.size() + it.len() + 11 > max_bytes || cur.len() >= max_entries) {
            close(&mut cur, &mut nodes);
        }
        cur.push(it);
    }
    close(&mut cur, &mut nodes);
    nodes
}

/// How Redis 7.0 writes a score inside a listpack (`d2string`): integral values as integers,
/// others with 17 significant digits.
fn score_string(s: f64) -> String {
    if s.is_finite() && s.fract() == 0.0 && s.abs() < 9.007_199_254_740_992e15 {
        if s == 0.0 && s.is_sign_negative() {
            return "-0".into();
        }
        format!("{}", s as i64)
    } else {
        format_double(s)
    }
}

/// An RDB file being written.
pub struct RdbWriter {
    pub w: Writer,
    /// Whether each value follows its key: an RDB file has them, a DUMP payload does not.
    with_keys: bool,
    /// List elements of at least this many bytes get a plain quicklist node (DEBUG
    /// QUICKLIST-PACKED-THRESHOLD).
    pub packed_threshold: u64,
}

impl RdbWriter {
    /// Start a file: signature and version.
    pub fn new(compress: bool) -> Self {
        let mut w = Writer::new(compress);
        w.bytes(format!("REDIS{RDB_VERSION:04}").as_bytes());
        RdbWriter {
            w,
            with_keys: true,
            packed_threshold: DEFAULT_PACKED_THRESHOLD,
        }
    }

    /// The body of a DUMP payload (Redis's `createDumpPayload`): the value's type byte and
    /// its encoding, the same as in a file, without signature, key or expiry (the key and
    /// expiry given to the value methods are ignored).
    pub fn payload(compress: bool) -> Self {
        RdbWriter {
            w: Writer::new(compress),
            with_keys: false,
            packed_threshold: DEFAULT_PACKED_THRESHOLD,
        }
    }

    pub fn aux(&mut self, key: &str, value: &[u8]) {
        self.w.aux(key, value);
    }

    pub fn aux_int(&mut self, key: &str, value: i64) {
        self.w.u8(op::AUX);
        self.w.string(key.as_bytes());
        self.w.int_string(value);
    }

    pub fn select_db(&mut self, db: usize, keys: usize, expires: usize) {
        self.w.u8(op::SELECTDB);
        self.w.len(db as u64);
        self.w.u8(op::RESIZEDB);
        self.w.len(keys as u64);
        self.w.len(expires as u64);
    }

    /// Everything that precedes a value: expiry, then type byte and key.
    fn key_header(&mut self, t: u8, key: &[u8], expire_ms: Option<i64>) {
        if !self.with_keys {
            self.w.u8(t);
            return;
        }
        if let Some(when) = expire_ms {
            self.w.u8(op::EXPIRETIME_MS);
            self.w.u64_le(when as u64);
        }
        self.w.u8(t);
        self.w.string(key);
    }

    pub fn string(&mut self, key: &[u8], expire_ms: Option<i64>, value: &[u8]) {
        self.key_header(ty::STRING, key, expire_ms);
        self.w.string(value);
    }

    /// A list as a quicklist of listpack nodes, sized by `list-max-listpack-size`; elements
    /// of at least `packed_threshold` bytes in plain nodes of their own.
    pub fn list<'a>(
        &mut self,
        key: &[u8],
        expire_ms: Option<i64>,
        fill: i64,
        items: impl Iterator<Item = &'a [u8]>,
    ) {
        let nodes = quicklist_nodes(fill, self.packed_threshold, items);
        self.key_header(ty::LIST_QUICKLIST_2, key, expire_ms);
        self.w.len(nodes.len() as u64);
        for n in nodes {
            self.w.len(if n.plain {
                QUICKLIST_NODE_PLAIN
            } else {
                QUICKLIST_NODE_PACKED
            });
            self.w.string(&n.data);
        }
    }

    /// A set of integers stored as an intset (sorted, distinct).
    pub fn set_intset(&mut self, key: &[u8], expire_ms: Option<i64>, sorted: &[i64]) {
        self.key_header(ty::SET_INTSET, key, expire_ms);
        self.w.string(&intset_build(sorted));
    }

    /// A set of integers as the bytes of a Redis intset (what [`crate::db::intset::IntSet`]
    /// holds).
    pub fn set_intset_blob(&mut self, key: &[u8], expire_ms: Option<i64>, blob: &[u8]) {
        self.key_header(ty::SET_INTSET, key, expire_ms);
        self.w.string(blob);
    }

    pub fn set<'a>(
        &mut self,
        key: &[u8],
        expire_ms: Option<i64>,
        len: usize,
        members: impl Iterator<Item = &'a [u8]>,
    ) {
        self.key_header(ty::SET, key, expire_ms);
        self.w.len(len as u64);
        for m in members {
            self.w.string(m);
        }
    }

    pub fn stream(&mut self, key: &[u8], expire_ms: Option<i64>, s: &crate::db::Stream) {
        self.key_header(ty::STREAM_LISTPACKS_2, key, expire_ms);
        super::stream_value::write(&mut self.w, s);
    }

    pub fn hash_listpack<'a>(
        &mut self,
        key: &[u8],
        expire_ms: Option<i64>,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) {
        let mut lp = ListpackWriter::new();
        for (f, v) in fields {
            lp.push(f);
            lp.push(v);
        }
        self.key_header(ty::HASH_LISTPACK, key, expire_ms);
        self.w.string(&lp.finish());
    }

    pub fn hash<'a>(
        &mut self,
        key: &[u8],
        expire_ms: Option<i64>,
        len: usize,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) {
        self.key_header(ty::HASH, key, expire_ms);
        self.w.len(len as u64);
        for (f, v) in fields {
            self.w.string(f);
            self.w.string(v);
        }
    }

    /// A sorted set as a listpack of member, score pairs in (score, member) order.
    pub fn zset_listpack<'a>(
        &mut self,
        key: &[u8],
        expire_ms: Option<i64>,
        members: impl Iterator<Item = (&'a [u8], f64)>,
    ) {
        let mut lp = ListpackWriter::new();
        for (m, s) in members {
            lp.push(m);
            lp.push(score_string(s).as_bytes());
        }
        self.key_header(ty::ZSET_LISTPACK, key, expire_ms);
        self.w.string(&lp.finish());
    }

    /// A sorted set with binary scores. Redis writes the members from the highest score
    /// down, so loading inserts at the head of its skiplist; any order loads.
    pub fn zset<'a>(
        &mut self,
        key: &[u8],
        expire_ms: Option<i64>,
        len: usize,
        members: impl Iterator<Item = (&'a [u8], f64)>,
    ) {
        self.key_header(ty::ZSET_2, key, expire_ms);
        self.w.len(len as u64);
        for (m, s) in members {
            self.w.string(m);
            self.w.double_bin(s);
        }
    }

    /// End the file: EOF opcode and checksum (0 when `checksum` is off, as `rdbchecksum no`).
    pub fn finish(mut self, checksum: bool) -> Vec<u8> {
        self.w.u8(op::EOF);
        let crc = if checksum {
            CRC64.checksum(&self.w.buf)
        } else {
            0
        };
        self.w.u64_le(crc);
        self.w.buf
    }
}

#[cfg(test)]
mod tests {
    use super::super::read::{Item, Parser, RdbValue};
    use super::*;

    #[test]
    fn written_files_read_back() {
        let mut f = RdbWriter::new(true);
        f.aux("redis-ver", b"7.0.15");
        f.aux_int("redis-bits", 64);
        f.select_db(0, 7, 1);
        f.string(b"s", None, b"value");
        f.string(b"n", Some(1_800_000_000_000), b"12345");
        let big: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("item-{i}").into_bytes())
            .collect();
        f.list(b"l", None, -2, big.iter().map(|v| v.as_slice()));
        f.set_intset(b"is", None, &[-5, 1, 70000]);
        f.set(b"hs", None, 2, [&b"a"[..], b"b"].into_iter());
        f.hash_listpack(b"h", None, [(&b"f"[..], &b"1"[..])].into_iter());
        f.zset_listpack(
            b"z",
            None,
            [
                (&b"a"[..], 1.0),
                (&b"b"[..], 2.5),
                (&b"c"[..], f64::INFINITY),
            ]
            .into_iter(),
        );
        let bytes = f.finish(true);
        let mut p = Parser::new(&bytes).unwrap();
        let mut items = Vec::new();
        while let Some(i) = p.next_item() {
            items.push(i.unwrap());
        }
        assert!(items.contains(&Item::Aux(b"redis-bits".to_vec(), b"64".to_vec())));
        let l = items.iter().find_map(|i| match i {
            Item::Key {
                key,
                value: RdbValue::List(v),
                ..
            } if key == b"l" => Some(v.clone()),
            _ => None,
        });
        assert_eq!(l.unwrap(), big);
        assert!(items.iter().any(
            |i| matches!(i, Item::Key { key, value: RdbValue::ZSet { members, .. }, .. }
            if key == b"z" && members[2] == (b"c".to_vec(), f64::INFINITY) && members[1].1 == 2.5)
        ));
        assert!(items.iter().any(|i| matches!(i, Item::Key { key, expire_ms: Some(1_800_000_000_000), .. } if key == b"n")));
    }

    #[test]
    fn scores_as_redis_writes_them() {
        assert_eq!(score_string(1.0), "1");
        assert_eq!(score_string(-0.0), "-0");
        assert_eq!(score_string(2.5), "2.5");
        assert_eq!(score_string(0.1), "0.10000000000000001");
        assert_eq!(score_string(f64::NEG_INFINITY), "-inf");
    }
}

#[cfg(test)]
mod redis_check {
    use super::*;

    /// Writes a sample file to $PICKET_RDB_SAMPLE for checking with redis-check-rdb by hand.
    #[test]
    #[ignore]
    fn write_sample_for_redis() {
        let Ok(path) = std::env::var("PICKET_RDB_SAMPLE") else {
            return;
        };
        let mut f = RdbWriter::new(true);
        f.aux("redis-ver", b"7.0.15");
        f.aux_int("redis-bits", 64);
        f.select_db(0, 8, 1);
        f.string(b"s", None, b"value");
        f.string(b"n", Some(4_000_000_000_000), b"12345");
        f.string(b"long", None, &b"abcdef".repeat(100));
        let big: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("item-{i}").into_bytes())
            .collect();
        f.list(b"l", None, -2, big.iter().map(|v| v.as_slice()));
        f.set_intset(b"is", None, &[-5, 1, 70000]);
        f.set(b"hs", None, 2, [&b"a"[..], b"b"].into_iter());
        f.hash_listpack(
            b"h",
            None,
            [(&b"f"[..], &b"1"[..]), (&b"g"[..], &b"x"[..])].into_iter(),
        );
        f.zset_listpack(
            b"z",
            None,
            [
                (&b"a"[..], 1.0),
                (&b"b"[..], 2.5),
                (&b"c"[..], f64::INFINITY),
            ]
            .into_iter(),
        );
        f.zset(
            b"z2",
            None,
            2,
            [(&b"m"[..], 0.5), (&b"n"[..], -3.0)].into_iter(),
        );
        f.hash(b"h2", None, 1, [(&b"k"[..], &b"v"[..])].into_iter());
        std::fs::write(path, f.finish(true)).unwrap();
    }
}
