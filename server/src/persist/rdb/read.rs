//! Reading an RDB file item by item, into a form independent of picket's value types (the
//! loader turns each key into a value as it goes; tests and tools inspect files with it).

use super::blobs::{self, Elem};
use super::codec::{
    op, ty, RdbError, Reader, CRC64, QUICKLIST_NODE_PACKED, QUICKLIST_NODE_PLAIN, RDB_VERSION_MAX,
};

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbValue {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    /// Members in file order; `intset` tells that Redis stored them as an intset.
    Set {
        members: Vec<Vec<u8>>,
        intset: bool,
    },
    /// Fields in file order; `compact` tells a listpack/ziplist/zipmap encoding.
    Hash {
        fields: Vec<(Vec<u8>, Vec<u8>)>,
        compact: bool,
    },
    /// Members in file order; `compact` tells a listpack/ziplist encoding.
    ZSet {
        members: Vec<(Vec<u8>, f64)>,
        compact: bool,
    },
    Stream(Box<crate::db::Stream>),
}

/// One item of the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Aux(Vec<u8>, Vec<u8>),
    SelectDb(u64),
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    Key {
        key: Vec<u8>,
        value: RdbValue,
        /// Absolute unix time in ms.
        expire_ms: Option<i64>,
        /// LRU idle seconds or LFU frequency saved with the key.
        idle: Option<u64>,
        freq: Option<u8>,
    },
    /// A function library (`RDB_OPCODE_FUNCTION2`, or the pre-GA `RDB_OPCODE_FUNCTION`
    /// made into the same form): its whole code, shebang included.
    Function(Vec<u8>),
    /// End of file; the checksum (already verified when present).
    Eof,
}

/// The code of one library record, after its opcode (Redis's `rdbFunctionLoad`): the
/// payload of `RDB_OPCODE_FUNCTION2`, or the name, engine, description and body of the
/// pre-GA `RDB_OPCODE_FUNCTION`, made into a payload (`#!<engine> name=<name>\n<body>`).
/// The error is Redis's message.
pub fn read_function(r: &mut Reader, opcode: u8) -> Result<Vec<u8>, String> {
    read_function_record(r, opcode).map_err(|(_, msg)| msg.to_string())
}

/// [`read_function`], with the reader's error (a cut record asks for more input when
/// streaming) beside Redis's message.
fn read_function_record(r: &mut Reader, opcode: u8) -> Result<Vec<u8>, (RdbError, &'static str)> {
    let string = |r: &mut Reader, what: &'static str| r.string().map_err(|e| (e, what));
    if opcode == op::FUNCTION2 {
        return string(r, "Failed loading library payload");
    }
    let name = string(r, "Failed loading library name")?;
    let engine = string(r, "Failed loading engine name")?;
    let has_desc = r
        .len()
        .map_err(|e| (e, "Failed loading library description indicator"))?;
    if has_desc != 0 {
        string(r, "Failed loading library description")?;
    }
    let blob = string(r, "Failed loading library blob")?;
    let mut payload = b"#!".to_vec();
    payload.extend_from_slice(&engine);
    payload.extend_from_slice(b" name=");
    payload.extend_from_slice(&name);
    payload.push(b'\n');
    payload.extend_from_slice(&blob);
    Ok(payload)
}

/// A nested blob (listpack, ziplist, intset) and its offset in the file.
fn blob(r: &mut Reader) -> Result<(Vec<u8>, usize), RdbError> {
    let at = r.offset();
    Ok((r.string()?, at))
}

/// One item at the reader's position, as `rdbLoadRioWithLoadingCtx` reads them: an aux
/// field, a database selector or size hint, or a key with its expiry and LRU/LFU
/// metadata. `Eof` is the end opcode only: the checksum after it is the caller's.
pub fn read_record(r: &mut Reader) -> Result<Item, RdbError> {
    let mut expire_ms = None;
    let mut idle = None;
    let mut freq = None;
    loop {
        let at = r.offset();
        let t = r.u8()?;
        match t {
            op::EXPIRETIME_MS => expire_ms = Some(r.u64_le()? as i64),
            op::EXPIRETIME => {
                let s = r.u32_le()? as i64;
                expire_ms = Some(s * 1000);
            }
            op::IDLE => idle = Some(r.len()?),
            op::FREQ => freq = Some(r.u8()?),
            op::AUX => {
                let k = r.string()?;
                let v = r.string()?;
                return Ok(Item::Aux(k, v));
            }
            op::SELECTDB => return Ok(Item::SelectDb(r.len()?)),
            op::RESIZEDB => {
                let keys = r.len()?;
                let expires = r.len()?;
                return Ok(Item::ResizeDb { keys, expires });
            }
            op::MODULE_AUX => return Err(RdbError::corrupt("module data is not supported", at)),
            op::FUNCTION2 | op::FUNCTION_PRE_GA => {
                return read_function_record(r, t)
                    .map(Item::Function)
                    .map_err(|(e, _)| e);
            }
            op::EOF => return Ok(Item::Eof),
            _ => {
                let key = r.string()?;
                let value = Parser::read_value(r, t, at)?;
                return Ok(Item::Key {
                    key,
                    value,
                    expire_ms,
                    idle,
                    freq,
                });
            }
        }
    }
}

/// The RDB version the 9-byte header (`REDIS` and four digits) announces.
pub fn check_header(magic: &[u8]) -> Result<u32, RdbError> {
    if magic.len() < 9 {
        return Err(RdbError::corrupt("not an RDB file (too short)", 0));
    }
    if &magic[..5] != b"REDIS" {
        return Err(RdbError::corrupt("not an RDB file (wrong signature)", 0));
    }
    let version: u32 = std::str::from_utf8(&magic[5..9])
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| RdbError::corrupt("bad RDB version", 5))?;
    if !(1..=RDB_VERSION_MAX).contains(&version) {
        return Err(RdbError::corrupt(
            format!("can't handle RDB format version {version}"),
            5,
        ));
    }
    Ok(version)
}

/// A parser over a whole file in memory.
pub struct Parser<'a> {
    r: Reader<'a>,
    data: &'a [u8],
    pub version: u32,
    done: bool,
    /// Accept a wrong checksum (DEBUG SET-SKIP-CHECKSUM-VALIDATION).
    pub skip_checksum: bool,
}

impl<'a> Parser<'a> {
    /// Check the header; `data` is the whole file.
    pub fn new(data: &'a [u8]) -> Result<Self, RdbError> {
        let mut r = Reader::new(data);
        let magic = r
            .bytes(9)
            .map_err(|_| RdbError::corrupt("not an RDB file (too short)", 0))?;
        let version = check_header(magic)?;
        Ok(Parser {
            r,
            data,
            version,
            done: false,
            skip_checksum: false,
        })
    }

    /// Offset in the file of the next item.
    pub fn offset(&self) -> usize {
        self.r.offset()
    }

    /// The next item, `None` after `Eof`.
    pub fn next_item(&mut self) -> Option<Result<Item, RdbError>> {
        if self.done {
            return None;
        }
        let item = self.read_item();
        if matches!(item, Ok(Item::Eof) | Err(_)) {
            self.done = true;
        }
        Some(item)
    }

    fn read_item(&mut self) -> Result<Item, RdbError> {
        let item = read_record(&mut self.r)?;
        if item == Item::Eof {
            self.check_checksum()?;
        }
        Ok(item)
    }

    fn check_checksum(&mut self) -> Result<(), RdbError> {
        if self.version < 5 {
            return Ok(());
        }
        let end = self.r.offset();
        let stored = self.r.u64_le()?;
        if stored != 0 && !self.skip_checksum {
            let computed = CRC64.checksum(&self.data[..end]);
            if computed != stored {
                return Err(RdbError::corrupt(
                    format!("wrong RDB checksum: expected {stored:#x}, got {computed:#x}"),
                    end,
                ));
            }
        }
        Ok(())
    }

    /// One value of type `t` (the type byte at offset `at`, already read), as
    /// `rdbLoadObject` reads it: in a file after its key, in a DUMP payload after its type
    /// byte.
    pub fn read_value(r: &mut Reader, t: u8, at: usize) -> Result<RdbValue, RdbError> {
        Ok(match t {
            ty::STRING => RdbValue::String(r.string()?),
            ty::LIST => {
                let n = r.count()?;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    v.push(r.string()?);
                }
                RdbValue::List(v)
            }
            ty::SET => {
                let n = r.count()?;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    v.push(r.string()?);
                }
                RdbValue::Set {
                    members: v,
                    intset: false,
                }
            }
            ty::ZSET | ty::ZSET_2 => {
                let n = r.count()?;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let m = r.string()?;
                    let s = if t == ty::ZSET_2 {
                        r.double_bin()?
                    } else {
                        r.double_str()?
                    };
                    if s.is_nan() {
                        return Err(RdbError::corrupt("NaN score in sorted set", r.offset()));
                    }
                    v.push((m, s));
                }
                RdbValue::ZSet {
                    members: v,
                    compact: false,
                }
            }
            ty::HASH => {
                let n = r.count()?;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let f = r.string()?;
                    let x = r.string()?;
                    v.push((f, x));
                }
                RdbValue::Hash {
                    fields: v,
                    compact: false,
                }
            }
            ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 => {
                let nodes = r.count()?;
                let mut v = Vec::new();
                for _ in 0..nodes {
                    let container = if t == ty::LIST_QUICKLIST_2 {
                        r.len()?
                    } else {
                        QUICKLIST_NODE_PACKED
                    };
                    let (b, off) = blob(r)?;
                    match container {
                        QUICKLIST_NODE_PLAIN => v.push(b),
                        QUICKLIST_NODE_PACKED => {
                            let elems = if t == ty::LIST_QUICKLIST_2 {
                                blobs::listpack_parse(&b, off)?
                            } else {
                                blobs::ziplist_parse(&b, off)?
                            };
                            if elems.is_empty() {
                                return Err(RdbError::corrupt("empty quicklist node", off));
                            }
                            v.extend(elems.into_iter().map(Elem::into_bytes));
                        }
                        _ => return Err(RdbError::corrupt("unknown quicklist container", off)),
                    }
                }
                RdbValue::List(v)
            }
            ty::LIST_ZIPLIST => {
                let (b, off) = blob(r)?;
                RdbValue::List(
                    blobs::ziplist_parse(&b, off)?
                        .into_iter()
                        .map(Elem::into_bytes)
                        .collect(),
                )
            }
            ty::SET_INTSET => {
                let (b, off) = blob(r)?;
                RdbValue::Set {
                    members: blobs::intset_parse(&b, off)?
                        .into_iter()
                        .map(|i| i.to_string().into_bytes())
                        .collect(),
                    intset: true,
                }
            }
            ty::SET_LISTPACK => {
                let (b, off) = blob(r)?;
                RdbValue::Set {
                    members: blobs::listpack_parse(&b, off)?
                        .into_iter()
                        .map(Elem::into_bytes)
                        .collect(),
                    intset: false,
                }
            }
            ty::HASH_ZIPMAP => {
                let (b, off) = blob(r)?;
                RdbValue::Hash {
                    fields: blobs::zipmap_parse(&b, off)?,
                    compact: true,
                }
            }
            ty::HASH_ZIPLIST | ty::HASH_LISTPACK => {
                let (b, off) = blob(r)?;
                let elems = if t == ty::HASH_LISTPACK {
                    blobs::listpack_parse(&b, off)?
                } else {
                    blobs::ziplist_parse(&b, off)?
                };
                if elems.len() % 2 != 0 {
                    return Err(RdbError::corrupt(
                        "hash with an odd number of elements",
                        off,
                    ));
                }
                let mut fields = Vec::with_capacity(elems.len() / 2);
                let mut it = elems.into_iter().map(Elem::into_bytes);
                while let (Some(f), Some(v)) = (it.next(), it.next()) {
                    fields.push((f, v));
                }
                RdbValue::Hash {
                    fields,
                    compact: true,
                }
            }
            ty::ZSET_ZIPLIST | ty::ZSET_LISTPACK => {
                let (b, off) = blob(r)?;
                let elems = if t == ty::ZSET_LISTPACK {
                    blobs::listpack_parse(&b, off)?
                } else {
                    blobs::ziplist_parse(&b, off)?
                };
                if elems.len() % 2 != 0 {
                    return Err(RdbError::corrupt(
                        "sorted set with an odd number of elements",
                        off,
                    ));
                }
                let mut members = Vec::with_capacity(elems.len() / 2);
                let mut it = elems.into_iter();
                while let (Some(m), Some(s)) = (it.next(), it.next()) {
                    let score = match s {
                        Elem::Int(i) => i as f64,
                        Elem::Str(b) => crate::command::args::parse_f64(&b)
                            .ok_or_else(|| RdbError::corrupt("bad score in sorted set", off))?,
                    };
                    members.push((m.into_bytes(), score));
                }
                RdbValue::ZSet {
                    members,
                    compact: true,
                }
            }
            ty::STREAM_LISTPACKS | ty::STREAM_LISTPACKS_2 => {
                RdbValue::Stream(Box::new(super::stream_value::read(r, t)?))
            }
            ty::STREAM_LISTPACKS_3 => {
                return Err(RdbError::corrupt(
                    "streams of Redis 7.2 are not supported",
                    at,
                ))
            }
            ty::MODULE | ty::MODULE_2 => {
                return Err(RdbError::corrupt("module values are not supported", at))
            }
            other => return Err(RdbError::corrupt(format!("unknown value type {other}"), at)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse a whole file into its items.
    fn parse_all(data: &[u8]) -> Result<Vec<Item>, RdbError> {
        let mut p = Parser::new(data)?;
        let mut out = Vec::new();
        while let Some(item) = p.next_item() {
            out.push(item?);
        }
        Ok(out)
    }

    fn key<'a>(items: &'a [Item], name: &str) -> &'a RdbValue {
        items
            .iter()
            .find_map(|i| match i {
                Item::Key { key, value, .. } if key == name.as_bytes() => Some(value),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no key {name}"))
    }

    /// A file written by Redis 7.0.15 with every type in small and large encodings (see
    /// server/tests/data/README.md for how it was made).
    const REDIS70: &[u8] = include_bytes!("../../../tests/data/redis70-all-types.rdb");

    #[test]
    fn reads_what_redis_7_0_writes() {
        let items = parse_all(REDIS70).unwrap();
        assert!(matches!(items.last(), Some(Item::Eof)));
        assert!(items.contains(&Item::Aux(b"redis-ver".to_vec(), b"7.0.15".to_vec())));
        assert_eq!(key(&items, "s1"), &RdbValue::String(b"hello".to_vec()));
        assert_eq!(key(&items, "s2"), &RdbValue::String(b"12345".to_vec()));
        assert_eq!(key(&items, "s3"), &RdbValue::String(b"-7".to_vec()));
        assert_eq!(key(&items, "s4"), &RdbValue::String(b"abc".repeat(100)));
        assert_eq!(key(&items, "s5"), &RdbValue::String(b"3000000000".to_vec()));
        assert_eq!(
            key(&items, "l1"),
            &RdbValue::List(vec![
                b"a".to_vec(),
                b"b".to_vec(),
                b"1".to_vec(),
                b"2".to_vec()
            ])
        );
        let RdbValue::List(l2) = key(&items, "l2") else {
            panic!()
        };
        assert_eq!(l2.len(), 2000);
        assert_eq!(l2[1999], b"elem1999elem1999elem1999".to_vec());
        assert!(
            matches!(key(&items, "set1"), RdbValue::Set { intset: true, members } if members.len() == 4)
        );
        assert!(
            matches!(key(&items, "set2"), RdbValue::Set { intset: false, members } if members.len() == 602)
        );
        assert!(
            matches!(key(&items, "h1"), RdbValue::Hash { compact: true, fields } if fields[1] == (b"f2".to_vec(), b"22".to_vec()))
        );
        assert!(
            matches!(key(&items, "h2"), RdbValue::Hash { compact: false, fields } if fields.len() == 10)
        );
        assert_eq!(
            key(&items, "z1"),
            &RdbValue::ZSet {
                members: vec![
                    (b"c".to_vec(), f64::NEG_INFINITY),
                    (b"a".to_vec(), 1.0),
                    (b"b".to_vec(), 2.5)
                ],
                compact: true
            }
        );
        assert!(
            matches!(key(&items, "z2"), RdbValue::ZSet { compact: false, members } if members.len() == 200)
        );
        let e1 = items.iter().find_map(|i| match i {
            Item::Key { key, expire_ms, .. } if key == b"e1" => Some(*expire_ms),
            _ => None,
        });
        assert!(matches!(e1, Some(Some(t)) if t > 1_700_000_000_000));
        assert!(items.contains(&Item::SelectDb(3)));
    }

    #[test]
    fn corruption_is_reported_with_an_offset_never_a_panic() {
        // Every truncation is an error.
        for cut in [0, 5, 9, 20, REDIS70.len() / 2, REDIS70.len() - 1] {
            assert!(parse_all(&REDIS70[..cut]).is_err(), "cut at {cut}");
        }
        // A flipped byte in the body breaks the checksum (or the structure) but never panics.
        for at in (9..REDIS70.len() - 8).step_by(97) {
            let mut bad = REDIS70.to_vec();
            bad[at] ^= 0x5a;
            assert!(parse_all(&bad).is_err(), "flip at {at}");
        }
        let e = parse_all(b"REDIS0010\xfa").unwrap_err();
        assert_eq!(e.offset(), 10);
        assert!(parse_all(b"NOTREDIS0").is_err());
        assert!(parse_all(b"REDIS0099\xff").is_err());
    }
}
