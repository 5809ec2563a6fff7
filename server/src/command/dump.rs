//! DUMP, RESTORE and RESTORE-ASKING, as Redis 7.0's `cluster.c`: a value serialized in its
//! RDB encoding, followed by the RDB version and a CRC64, and loaded back as the RDB loader
//! loads a key.
//!
//! A payload is `<type byte><value as in an RDB file><RDB version: 2 bytes LE><CRC64: 8 bytes
//! LE>`, the CRC (Redis's crc64 Jones, the RDB checksum) covering everything before it. The
//! value is written by the RDB writer and read by the RDB reader, so payloads go both ways
//! between picket and Redis 7.0 as RDB files do.

use bytes::Bytes;

use super::args::{int, kw};
use super::{CmdError, CmdResult, Ctx};
use crate::config::Settings;
use crate::db::{Hash, Value};
use crate::notify;
use crate::persist::load::to_value;
use crate::persist::rdb::codec::{ty, RdbError, Reader, CRC64, RDB_VERSION};
use crate::persist::rdb::read::{Parser, RdbValue};
use crate::persist::rdb::write::RdbWriter;
use crate::persist::snapshot::write_entry;

/// The RDB version written in payloads, and the newest one RESTORE accepts (Redis compares
/// with its own `RDB_VERSION`).
const PAYLOAD_VERSION: u16 = RDB_VERSION as u16;
/// The footer: 2 bytes of RDB version, 8 of CRC64.
const FOOTER: usize = 10;

/// Redis's `createDumpPayload`: the value in the encoding picket writes in RDB files (LZF
/// compression of long strings when `compress`, as `rdbcompression`; lists in quicklist nodes
/// sized by `list_fill`, as `list-max-listpack-size`), then the footer. A skiplist sorted set
/// lists its members from the highest score down, as Redis writes them (any order loads).
#[cfg(test)]
pub fn create_payload(v: &Value, compress: bool, list_fill: i64) -> Vec<u8> {
    use crate::persist::rdb::write::DEFAULT_PACKED_THRESHOLD;
    create_payload_with(v, compress, list_fill, DEFAULT_PACKED_THRESHOLD)
}

/// [`create_payload`] with list elements of at least `packed_threshold` bytes in plain
/// quicklist nodes (DEBUG QUICKLIST-PACKED-THRESHOLD).
pub fn create_payload_with(
    v: &Value,
    compress: bool,
    list_fill: i64,
    packed_threshold: u64,
) -> Vec<u8> {
    let mut w = RdbWriter::payload(compress);
    w.packed_threshold = packed_threshold;
    match v {
        Value::ZSet(z) if z.encoding() == "skiplist" && !z.is_empty() => {
            w.zset(b"", None, z.len(), z.iter_from(z.len() - 1, true));
        }
        _ => write_entry(&mut w, b"", v, None, list_fill),
    }
    let mut out = w.w.buf;
    out.extend_from_slice(&PAYLOAD_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Redis's `verifyDumpPayload`: room for the footer, a version no newer than ours, and the
/// CRC64 of everything before the CRC. A zero CRC is not special here (unlike an RDB file's
/// checksum written with `rdbchecksum no`): Redis 7.0 refuses it too.
#[cfg(test)]
pub fn verify_payload(p: &[u8]) -> bool {
    verify_payload_with(p, false)
}

/// [`verify_payload`], without the CRC check when `skip_crc` (DEBUG
/// SET-SKIP-CHECKSUM-VALIDATION, as Redis's `server.skip_checksum_validation`).
pub fn verify_payload_with(p: &[u8], skip_crc: bool) -> bool {
    let Some(body_len) = p.len().checked_sub(FOOTER) else {
        return false;
    };
    let footer = &p[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > PAYLOAD_VERSION {
        return false;
    }
    if skip_crc {
        return true;
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    CRC64.checksum(&p[..body_len + 2]) == u64::from_le_bytes(crc)
}

/// Redis 7.0's `rdbIsObjectType`: the value types it knows (7.2's listpack sets and third
/// stream format are not among them).
fn is_object_type(t: u8) -> bool {
    t <= 7 || (9..=19).contains(&t)
}

/// The type byte and value of a verified payload. As Redis, the value is read from the
/// whole payload, footer included: a value cut short reads on into the footer, and bytes
/// left after the value are ignored.
pub fn parse_payload(p: &[u8]) -> Result<(u8, RdbValue), RdbError> {
    let mut r = Reader::new(p);
    let t = r.u8()?;
    if !is_object_type(t) {
        return Err(RdbError::corrupt(format!("unknown value type {t}"), 0));
    }
    Ok((t, Parser::read_value(&mut r, t, 0)?))
}

/// The value a payload restores to, in the encoding Redis 7.0's `rdbLoadObject` gives it
/// under the server's limits: the RDB loader's rules, except that a listpack hash stays a
/// listpack whatever the length of its fields and values, as long as it has no more than
/// `hash-max-listpack-entries` fields (Redis checks only the count for this type).
fn restored_value(t: u8, v: RdbValue, cfg: &Settings, seed: u64) -> Result<Value, RdbError> {
    match v {
        RdbValue::Hash { fields, .. }
            if t == ty::HASH_LISTPACK
                && !fields.is_empty()
                && fields.len() <= cfg.hash_max_listpack_entries =>
        {
            let mut names: Vec<&[u8]> = fields.iter().map(|(f, _)| f.as_slice()).collect();
            names.sort_unstable();
            if names.windows(2).any(|w| w[0] == w[1]) {
                return Err(RdbError::corrupt("duplicate hash fields", 0));
            }
            Ok(Value::Hash(Hash::listpack_from(
                fields.iter().map(|(f, x)| (f.as_slice(), x.as_slice())),
            )))
        }
        v => to_value(v, cfg, seed, 0),
    }
}

/// DUMP key
pub fn dump(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let compress = ctx.srv.cfg.persist.rdbcompression;
    let fill = ctx.srv.cfg.list_max_listpack_size;
    let threshold = ctx.srv.debug.packed_threshold;
    let Some(e) = ctx.srv.data().lookup_read(db, &ctx.args[1]) else {
        ctx.out.null();
        return Ok(());
    };
    let payload = create_payload_with(&e.val, compress, fill, threshold);
    ctx.out.bulk(&payload);
    Ok(())
}

/// The options after the payload (Redis parses them first of all).
struct Options {
    replace: bool,
    absttl: bool,
    idle: Option<u64>,
    freq: Option<u8>,
}

fn options(args: &[Bytes]) -> Result<Options, CmdError> {
    let mut o = Options {
        replace: false,
        absttl: false,
        idle: None,
        freq: None,
    };
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        if kw(&args[j], "replace") {
            o.replace = true;
        } else if kw(&args[j], "absttl") {
            o.absttl = true;
        } else if kw(&args[j], "idletime") && more >= 1 && o.freq.is_none() {
            let v = int(&args[j + 1])?;
            if v < 0 {
                return Err(CmdError::err("Invalid IDLETIME value, must be >= 0"));
            }
            o.idle = Some(v as u64);
            j += 1;
        } else if kw(&args[j], "freq") && more >= 1 && o.idle.is_none() {
            let v = int(&args[j + 1])?;
            let Ok(f) = u8::try_from(v) else {
                return Err(CmdError::err("Invalid FREQ value, must be >= 0 and <= 255"));
            };
            o.freq = Some(f);
            j += 1;
        } else {
            // IDLETIME and FREQ together end here too, as in Redis.
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency],
/// and RESTORE-ASKING (the same here: there is no cluster).
pub fn restore(ctx: &mut Ctx) -> CmdResult {
    let opts = options(ctx.args)?;
    let db = ctx.db();
    let key = ctx.args[1].clone();
    if !opts.replace && ctx.srv.data().lookup_write(db, &key).is_some() {
        return Err(CmdError::code("BUSYKEY", "Target key name already exists."));
    }
    let mut ttl = int(&ctx.args[2])?;
    if ttl < 0 {
        return Err(CmdError::err("Invalid TTL value, must be >= 0"));
    }
    let payload = &ctx.args[3];
    if !verify_payload_with(payload, ctx.srv.debug.skip_checksum_validation) {
        return Err(CmdError::err("DUMP payload version or checksum are wrong"));
    }
    let bad_format = || CmdError::err("Bad data format");
    let (t, parsed) = parse_payload(payload).map_err(|_| bad_format())?;
    let seed = ctx.srv.data().random_u64();
    let value = restored_value(t, parsed, &ctx.srv.cfg, seed).map_err(|_| bad_format())?;

    // The old value goes, even if logically expired (Redis's `dbDelete`).
    let deleted = opts.replace && ctx.srv.keyspace.dbs[db].remove(&key).is_some();
    let now = ctx.srv.now_ms;
    if ttl != 0 && !opts.absttl {
        // Wrapping as Redis's `ttl += mstime()`: a huge TTL ends in the past.
        ttl = ttl.wrapping_add(now);
    }
    // Redis's `checkAlreadyExpired`: a replica or a loading AOF keeps the key, expired, for
    // the DEL that follows it.
    let d = ctx.srv.data();
    if ttl != 0 && ttl <= now && !d.loading && !d.repl.is_replica() {
        if deleted {
            ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), key.clone()]]);
            ctx.changed(notify::GENERIC, "del", &key);
        }
        ctx.out.ok();
        return Ok(());
    }
    ctx.srv.data().set_key(db, &key, value, false);
    if ttl != 0 {
        ctx.srv.keyspace.dbs[db].set_expire(&key, ttl);
        if !opts.absttl {
            // Replicas and the AOF get the absolute time.
            let mut cmd = ctx.args.to_vec();
            cmd[2] = Bytes::from(itoa::Buffer::new().format(ttl).to_owned());
            cmd.push(Bytes::from_static(b"ABSTTL"));
            ctx.propagate_as(vec![cmd]);
        }
    }
    // Redis's `objectSetLRUOrLFU`: IDLETIME counts under an LRU policy, FREQ under LFU.
    if opts.idle.is_some() || opts.freq.is_some() {
        let lru = crate::evict::loaded(ctx.srv, opts.idle, opts.freq);
        if let Some(e) = ctx.srv.keyspace.dbs[db].get_mut_metadata(&key) {
            e.lru = lru;
        }
    }
    ctx.changed(notify::GENERIC, "restore", &key);
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::TestServer;

    /// A payload around `body`, with a correct footer.
    fn wrap(body: &[u8], version: u16) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = CRC64.checksum(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    #[test]
    fn payloads_as_redis_builds_them() {
        // Bytes from Redis 7.0.15: SET k v, DUMP k.
        let redis = b"\x00\x01v\x0a\x00\x91\x08\xce\xb2\x19\x38\x8a\xce";
        assert_eq!(create_payload(&Value::string(b"v"), true, -2), redis);
        // Integers take the integer string encodings.
        let p = create_payload(&Value::string(b"12"), true, -2);
        assert_eq!(&p[..3], b"\x00\xc0\x0c");
        let p = create_payload(&Value::string(b"-30000"), true, -2);
        assert_eq!(&p[..4], b"\x00\xc1\xd0\x8a");
        // Long strings are compressed only when asked.
        let long = b"abcdefgh".repeat(20);
        assert_eq!(create_payload(&Value::string(&long), true, -2)[1], 0xC3);
        assert_eq!(
            &create_payload(&Value::string(&long), false, -2)[1..3],
            &[0x40, 160]
        );
        for p in [
            create_payload(&Value::string(&long), true, -2),
            create_payload(&Value::string(b"7"), false, -2),
        ] {
            assert!(verify_payload(&p));
            let (t, v) = parse_payload(&p).unwrap();
            assert_eq!(t, ty::STRING);
            assert!(matches!(v, RdbValue::String(_)));
        }
    }

    #[test]
    fn the_footer_is_checked_as_redis_does() {
        let good = wrap(b"\x00\x03abc", 10);
        assert!(verify_payload(&good));
        // Older versions are accepted, newer ones not.
        assert!(verify_payload(&wrap(b"\x00\x03abc", 9)));
        assert!(verify_payload(&wrap(b"\x00\x03abc", 0)));
        assert!(!verify_payload(&wrap(b"\x00\x03abc", 11)));
        assert!(!verify_payload(&wrap(b"\x00\x03abc", 0x0a00)));
        // Any changed byte breaks the CRC; a zero CRC is not a pass.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x20;
            assert!(!verify_payload(&bad), "flip at {i}");
        }
        let mut zero = good.clone();
        let n = zero.len();
        zero[n - 8..].fill(0);
        assert!(!verify_payload(&zero));
        // Too short for a footer.
        for n in 0..FOOTER {
            assert!(!verify_payload(&good[..n]));
        }
        // A bare footer is well formed (and then a bad value).
        assert!(verify_payload(&wrap(b"", 10)));
        assert!(parse_payload(&wrap(b"", 10)).is_err());
    }

    #[test]
    fn values_read_on_into_the_footer_and_ignore_what_follows() {
        // "abc" declared 5 long: the string takes 2 footer bytes, as in Redis.
        let (_, v) = parse_payload(&wrap(b"\x00\x05abc", 10)).unwrap();
        assert_eq!(v, RdbValue::String(b"abc\x0a\x00".to_vec()));
        let (_, v) = parse_payload(&wrap(b"\x00\x03abcXYZ", 10)).unwrap();
        assert_eq!(v, RdbValue::String(b"abc".to_vec()));
        // Types Redis 7.0 does not know, opcodes, and streams are refused.
        for t in [8u8, 20, 21, 0xfe, 0xff, ty::STREAM_LISTPACKS_2] {
            assert!(parse_payload(&wrap(&[t, 1, 1], 10)).is_err(), "type {t}");
        }
    }

    #[test]
    fn bad_payloads_are_errors_never_panics() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        t.line(c, "RPUSH l a b 1 2 300000 hello");
        t.line(c, "HSET h f v g 12");
        t.line(c, "SADD s 1 2 3");
        t.line(c, "SADD s2 a b c");
        t.line(c, "ZADD z 1 a 2.5 b");
        let cfg = &t.srv.cfg;
        for key in [&b"l"[..], b"h", b"s", b"s2", b"z"] {
            let v = &t.srv.keyspace.dbs[0].get(key).unwrap().val;
            let p = create_payload(v, true, -2);
            assert!(verify_payload(&p));
            let (ty, parsed) = parse_payload(&p).unwrap();
            let back = restored_value(ty, parsed, cfg, 1).unwrap();
            assert_eq!(back.type_name(), v.type_name());
            assert_eq!(back.encoding(), v.encoding());
            assert_eq!(create_payload(&back, true, -2), p, "{key:?}");
            // Every truncation and every flipped byte of the body, with the footer fixed
            // up: an error or some value, never a panic.
            let body = &p[..p.len() - FOOTER];
            for cut in 0..body.len() {
                let q = wrap(&body[..cut], 10);
                if let Ok((ty, v)) = parse_payload(&q) {
                    let _ = restored_value(ty, v, cfg, 1);
                }
            }
            for i in 0..body.len() {
                for x in [0x01u8, 0x80, 0xff] {
                    let mut b = body.to_vec();
                    b[i] ^= x;
                    if let Ok((ty, v)) = parse_payload(&wrap(&b, 10)) {
                        let _ = restored_value(ty, v, cfg, 1);
                    }
                }
            }
        }
        // A compressed string declaring a huge length allocates nothing big.
        let p = wrap(b"\x00\xc3\x02\x81\x00\x00\x01\x00\x00\x00\x00\x00\x00a", 10);
        assert!(parse_payload(&p).is_err());
    }

    #[test]
    fn a_listpack_hash_keeps_its_encoding_with_long_values() {
        let t = TestServer::new(&[]);
        let long = vec![b'x'; 100];
        let mut fields = vec![(b"f".to_vec(), long.clone())];
        let v = restored_value(
            ty::HASH_LISTPACK,
            RdbValue::Hash {
                fields: fields.clone(),
                compact: true,
            },
            &t.srv.cfg,
            1,
        )
        .unwrap();
        assert_eq!(v.encoding(), "listpack");
        // The dict form converts (as Redis's loader does for it).
        let v = restored_value(
            ty::HASH,
            RdbValue::Hash {
                fields: fields.clone(),
                compact: false,
            },
            &t.srv.cfg,
            1,
        )
        .unwrap();
        assert_eq!(v.encoding(), "hashtable");
        fields.push((b"f".to_vec(), b"again".to_vec()));
        let dup = RdbValue::Hash {
            fields,
            compact: true,
        };
        assert!(restored_value(ty::HASH_LISTPACK, dup, &t.srv.cfg, 1).is_err());
    }

    /// One client of an in-process server: each command's reply and what it propagated.
    fn run(
        t: &mut TestServer,
        c: crate::client::ClientId,
        args: &[&[u8]],
    ) -> (String, Vec<String>) {
        let reply = String::from_utf8_lossy(&t.run(c, args)).into_owned();
        (reply, t.propagated())
    }

    #[test]
    fn propagation_as_redis() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        let p = create_payload(&Value::string(b"abc"), true, -2);
        // No TTL, or an absolute one: the command as it is.
        let (r, cmds) = run(&mut t, c, &[b"RESTORE", b"k", b"0", &p]);
        assert_eq!(r, "+OK\r\n");
        assert_eq!(cmds.len(), 1);
        assert!(cmds[0].starts_with("RESTORE k 0 "), "{cmds:?}");
        // A relative TTL becomes absolute, with ABSTTL appended.
        let (r, cmds) = run(&mut t, c, &[b"restore", b"k", b"5000", &p, b"REPLACE"]);
        assert_eq!(r, "+OK\r\n");
        let when = t.srv.now_ms + 5000;
        assert!(
            cmds[0].starts_with(&format!("restore k {when} "))
                && cmds[0].ends_with(" REPLACE ABSTTL"),
            "{cmds:?}"
        );
        assert_eq!(t.srv.keyspace.dbs[0].expire_at(b"k"), Some(when));
        // A TTL in the past replacing a key: DEL.
        let (r, cmds) = run(
            &mut t,
            c,
            &[b"RESTORE", b"k", b"1", &p, b"ABSTTL", b"REPLACE"],
        );
        assert_eq!((r.as_str(), cmds), ("+OK\r\n", vec!["DEL k".to_string()]));
        assert!(!t.srv.keyspace.dbs[0].contains(b"k"));
        // ... and without a key to replace, nothing.
        let (r, cmds) = run(&mut t, c, &[b"RESTORE", b"k", b"1", &p, b"ABSTTL"]);
        assert_eq!((r.as_str(), cmds.len()), ("+OK\r\n", 0));
        // A TTL that overflows wraps into the past, as in Redis.
        let (r, cmds) = run(&mut t, c, &[b"RESTORE", b"k", b"9223372036854775807", &p]);
        assert_eq!((r.as_str(), cmds.len()), ("+OK\r\n", 0));
        assert!(!t.srv.keyspace.dbs[0].contains(b"k"));
        // Errors propagate nothing.
        run(&mut t, c, &[b"SET", b"busy", b"1"]);
        let (r, cmds) = run(&mut t, c, &[b"RESTORE", b"busy", b"0", &p]);
        assert_eq!(
            (r.as_str(), cmds.len()),
            ("-BUSYKEY Target key name already exists.\r\n", 0)
        );
    }
}
