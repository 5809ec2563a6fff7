//! DUMP, RESTORE and RESTORE-ASKING: round trips within picket for every type and encoding
//! (TTL, ABSTTL, REPLACE, IDLETIME, FREQ), payloads going both ways between picket and Redis
//! 7.0 (values and OBJECT ENCODING equal, payload bytes equal where the encoding is
//! deterministic), every error compared with Redis's reply, corrupt payloads that must not
//! hurt the server, keyspace events, WATCH, and propagation to replicas.

mod common;
mod util;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Conn, Pair, Reply, Server};
use picket_server::persist::rdb::codec::CRC64;
use util::wait_until;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Send a command given as byte strings.
fn cmd(c: &mut Conn, args: &[&[u8]]) -> Reply {
    c.cmd(args)
}

/// A payload around `body` with a correct footer (RDB version, CRC64).
fn wrap(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = CRC64.checksum(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

fn bulk(r: Reply) -> Vec<u8> {
    match r {
        Reply::Bulk(b) => b,
        other => panic!("not a bulk reply: {other:?}"),
    }
}

/// A key's type, contents (hash fields and set members sorted unless their order is the
/// encoding's own: listpack hashes keep insertion order) and OBJECT ENCODING.
fn contents(c: &mut Conn, key: &[u8]) -> (String, Reply, Reply) {
    let t = cmd(c, &[b"TYPE", key]).text();
    let enc = cmd(c, &[b"OBJECT", b"ENCODING", key]);
    let v = match t.as_str() {
        "string" => cmd(c, &[b"GET", key]),
        "list" => cmd(c, &[b"LRANGE", key, b"0", b"-1"]),
        "hash" => {
            let flat = cmd(c, &[b"HGETALL", key]).items();
            let mut pairs: Vec<(Reply, Reply)> = flat
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            if enc != Reply::bulk("listpack") {
                pairs.sort_by_key(|(f, _)| f.text());
            }
            Reply::Array(pairs.into_iter().flat_map(|(f, v)| [f, v]).collect())
        }
        "set" => {
            let mut m = cmd(c, &[b"SMEMBERS", key]).items();
            m.sort_by_key(|r| r.text());
            Reply::Array(m)
        }
        "zset" => cmd(c, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]),
        _ => Reply::Nil,
    };
    (t, v, enc)
}

/// How picket's DUMP of a sample compares with Redis's, byte for byte.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bytes {
    /// Equal.
    Equal,
    /// Equal with `rdbcompression no`: the payload holds LZF-compressed strings, and
    /// picket's compressor finds other matches than Redis's liblzf (both decompress alike).
    Uncompressed,
    /// Never equal: a hash table, written in dict order, which for Redis depends on its
    /// random hash seed. The same type byte and length.
    Order,
}

/// One key of the sample: its name, the encoding it has, the one RESTORE gives it, and how
/// its payload compares with Redis's.
struct Sample {
    key: &'static str,
    encoding: &'static str,
    restored: &'static str,
    bytes: Bytes,
}

const fn s(key: &'static str, encoding: &'static str, bytes: Bytes) -> Sample {
    Sample {
        key,
        encoding,
        restored: encoding,
        bytes,
    }
}

/// Every type in every encoding Redis 7.0 has for it.
const SAMPLES: &[Sample] = &[
    s("str:int", "int", Bytes::Equal),
    s("str:neg", "int", Bytes::Equal),
    s("str:int64", "int", Bytes::Equal),
    s("str:embstr", "embstr", Bytes::Equal),
    s("str:empty", "embstr", Bytes::Equal),
    // Modified in place: raw, and embstr once restored (as a loaded string in Redis).
    Sample {
        key: "str:appended",
        encoding: "raw",
        restored: "embstr",
        bytes: Bytes::Equal,
    },
    s("str:raw", "raw", Bytes::Uncompressed),
    s("str:raw45", "raw", Bytes::Uncompressed),
    // Incompressible: stored as it is.
    s("str:binary", "raw", Bytes::Equal),
    s("list:small", "quicklist", Bytes::Equal),
    // Several quicklist nodes, cut where Redis cuts them.
    s("list:big", "quicklist", Bytes::Uncompressed),
    s("hash:listpack", "listpack", Bytes::Equal),
    s("hash:table", "hashtable", Bytes::Order),
    s("hash:long", "hashtable", Bytes::Uncompressed),
    s("set:intset", "intset", Bytes::Equal),
    s("set:intset64", "intset", Bytes::Equal),
    s("set:manyints", "hashtable", Bytes::Order),
    s("set:strings", "hashtable", Bytes::Order),
    s("zset:listpack", "listpack", Bytes::Uncompressed),
    // Members from the highest score down, as Redis writes them.
    s("zset:skiplist", "skiplist", Bytes::Equal),
    s("zset:long", "skiplist", Bytes::Uncompressed),
];

/// Create the samples with the same commands on any server.
fn populate(c: &mut Conn) {
    let mut run = |args: Vec<Vec<u8>>| {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let r = c.cmd(&refs);
        assert!(!r.is_error(), "{r:?}");
    };
    let w = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    run(w(&["SET", "str:int", "12345"]));
    run(w(&["SET", "str:neg", "-7"]));
    run(w(&["SET", "str:int64", "9007199254740993"]));
    run(w(&["SET", "str:embstr", "hello"]));
    run(w(&["SET", "str:empty", ""]));
    run(w(&["SET", "str:appended", "hello"]));
    run(w(&["APPEND", "str:appended", " world"]));
    run(w(&["SET", "str:raw", &"abc".repeat(100)]));
    run(w(&["SET", "str:raw45", &"x".repeat(45)]));
    let mut rng = picket_common::ids::seeded(0x2545_f491_4f6c_dd1d);
    let binary: Vec<u8> = (0..100).map(|_| rand::RngExt::random(&mut rng)).collect();
    run(vec![b"SET".to_vec(), b"str:binary".to_vec(), binary]);
    run(w(&[
        "RPUSH",
        "list:small",
        "a",
        "b",
        "1",
        "2",
        "300000",
        "-5",
        "",
    ]));
    let mut big = w(&["RPUSH", "list:big"]);
    big.extend((0..2000).map(|i| format!("elem{i}").repeat(3).into_bytes()));
    run(big);
    run(w(&["HSET", "hash:listpack", "f", "v", "g", "12", "h", ""]));
    let mut h = w(&["HSET", "hash:table"]);
    h.extend((0..600).flat_map(|i| [format!("f{i}").into_bytes(), format!("{i}").into_bytes()]));
    run(h);
    run(w(&["HSET", "hash:long", "f", &"y".repeat(100)]));
    run(w(&["SADD", "set:intset", "1", "2", "-5", "70000"]));
    run(w(&["SADD", "set:intset64", "1", "9000000000"]));
    let mut si = w(&["SADD", "set:manyints"]);
    si.extend((0..600).map(|i| format!("{}", i * 7).into_bytes()));
    run(si);
    run(w(&["SADD", "set:strings", "a", "b", "c"]));
    run(w(&[
        "ZADD",
        "zset:listpack",
        "1",
        "a",
        "2.5",
        "b",
        "-inf",
        "c",
        "inf",
        "d",
        "0.1",
        "e",
        "-0",
        "f",
    ]));
    let mut z = w(&["ZADD", "zset:skiplist"]);
    z.extend((0..200).flat_map(|i| {
        [
            format!("{}", i as f64 * 1.5).into_bytes(),
            format!("m{i}").into_bytes(),
        ]
    }));
    run(z);
    run(w(&["ZADD", "zset:long", "1", &"m".repeat(100), "2", "n"]));
}

// ------------------------------------------------------------------------------ picket alone

#[test]
fn round_trips_within_picket_for_every_type_and_encoding() {
    let p = Server::start(&[]);
    let mut c = p.conn();
    populate(&mut c);
    for s in SAMPLES {
        let key = s.key.as_bytes();
        let orig = contents(&mut c, key);
        assert_eq!(orig.2, Reply::bulk(s.encoding), "{}", s.key);
        let payload = bulk(cmd(&mut c, &[b"DUMP", key]));
        let copy = format!("copy:{}", s.key);
        let copy = copy.as_bytes();
        assert_eq!(
            cmd(&mut c, &[b"RESTORE", copy, b"0", &payload]),
            Reply::ok()
        );
        let back = contents(&mut c, copy);
        assert_eq!((&back.0, &back.1), (&orig.0, &orig.1), "{}", s.key);
        assert_eq!(back.2, Reply::bulk(s.restored), "{}", s.key);
        assert_eq!(cmd(&mut c, &[b"PTTL", copy]), Reply::Int(-1));
        // The copy dumps to the same bytes (the same encoding, written the same way).
        if s.encoding == s.restored && s.bytes != Bytes::Order {
            assert_eq!(bulk(cmd(&mut c, &[b"DUMP", copy])), payload, "{}", s.key);
        }
        // A relative TTL.
        assert_eq!(
            cmd(&mut c, &[b"RESTORE", copy, b"5000", &payload, b"REPLACE"]),
            Reply::ok()
        );
        let pttl = cmd(&mut c, &[b"PTTL", copy]).int();
        assert!((4000..=5000).contains(&pttl), "{pttl}");
        // An absolute one.
        let at = (now_ms() + 100_000).to_string();
        let r = cmd(
            &mut c,
            &[
                b"RESTORE",
                copy,
                at.as_bytes(),
                &payload,
                b"ABSTTL",
                b"REPLACE",
            ],
        );
        assert_eq!(r, Reply::ok());
        assert_eq!(cmd(&mut c, &[b"PEXPIRETIME", copy]).text(), at);
        assert_eq!(contents(&mut c, copy).1, orig.1, "{}", s.key);
    }
}

#[test]
fn replace_busykey_and_times_in_the_past() {
    let p = Server::start(&[]);
    let mut c = p.conn();
    c.q("SET src hello");
    let payload = bulk(c.q("DUMP src"));
    c.q("RPUSH other x");
    // Without REPLACE an existing key of any type is in the way.
    let busy = Reply::err("BUSYKEY Target key name already exists.");
    assert_eq!(cmd(&mut c, &[b"RESTORE", b"other", b"0", &payload]), busy);
    assert_eq!(c.q("TYPE other"), Reply::simple("list"));
    assert_eq!(
        cmd(&mut c, &[b"RESTORE", b"other", b"0", &payload, b"replace"]),
        Reply::ok()
    );
    assert_eq!(c.q("GET other"), Reply::bulk("hello"));
    // A TTL that has passed: the key is not created, and REPLACE deletes the old one.
    assert_eq!(
        cmd(&mut c, &[b"RESTORE", b"gone", b"1", &payload, b"ABSTTL"]),
        Reply::ok()
    );
    assert_eq!(c.q("EXISTS gone"), Reply::Int(0));
    assert_eq!(
        cmd(
            &mut c,
            &[b"RESTORE", b"other", b"1", &payload, b"ABSTTL", b"REPLACE"]
        ),
        Reply::ok()
    );
    assert_eq!(c.q("EXISTS other"), Reply::Int(0));
    // A key that has expired is no longer in the way.
    c.q("SET old v PX 1");
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(
        cmd(&mut c, &[b"RESTORE", b"old", b"0", &payload]),
        Reply::ok()
    );
    assert_eq!(c.q("GET old"), Reply::bulk("hello"));
    // RESTORE-ASKING is RESTORE.
    assert_eq!(
        cmd(&mut c, &[b"RESTORE-ASKING", b"asked", b"0", &payload]),
        Reply::ok()
    );
    assert_eq!(c.q("GET asked"), Reply::bulk("hello"));
}

#[test]
fn idletime_and_freq() {
    let p = Server::start(&[]);
    let mut c = p.conn();
    c.q("SET src hello");
    let payload = bulk(c.q("DUMP src"));
    assert_eq!(
        cmd(
            &mut c,
            &[b"RESTORE", b"idle", b"0", &payload, b"IDLETIME", b"1000"]
        ),
        Reply::ok()
    );
    let idle = c.q("OBJECT IDLETIME idle").int();
    assert!((1000..1010).contains(&idle), "{idle}");
    // FREQ means nothing under an LRU policy: the key is as new.
    assert_eq!(
        cmd(&mut c, &[b"RESTORE", b"f", b"0", &payload, b"FREQ", b"100"]),
        Reply::ok()
    );
    assert!(c.q("OBJECT IDLETIME f").int() < 5);

    let lfu = Server::start(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = lfu.conn();
    assert_eq!(
        cmd(&mut c, &[b"RESTORE", b"f", b"0", &payload, b"FREQ", b"100"]),
        Reply::ok()
    );
    assert_eq!(c.q("OBJECT FREQ f"), Reply::Int(100));
    assert_eq!(
        cmd(&mut c, &[b"RESTORE", b"f0", b"0", &payload, b"FREQ", b"0"]),
        Reply::ok()
    );
    assert_eq!(c.q("OBJECT FREQ f0"), Reply::Int(0));
    // IDLETIME means nothing under LFU: the counter of a new key.
    assert_eq!(
        cmd(
            &mut c,
            &[b"RESTORE", b"i", b"0", &payload, b"IDLETIME", b"5000"]
        ),
        Reply::ok()
    );
    assert_eq!(c.q("OBJECT FREQ i"), Reply::Int(5));
}

/// The workspace's seeded generator (`picket_common::ids::seeded`, Xoshiro256++), so a
/// seed replays the same cases.
struct Rng(picket_common::ids::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        rand::RngExt::random(&mut self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn corrupt_payloads_are_errors_and_the_server_keeps_serving() {
    let p = Server::start(&[]);
    let mut c = p.conn();
    populate(&mut c);
    let payloads: Vec<Vec<u8>> = SAMPLES
        .iter()
        .map(|s| bulk(cmd(&mut c, &[b"DUMP", s.key.as_bytes()])))
        .collect();
    let bad_format = Reply::err("ERR Bad data format");
    let bad_footer = Reply::err("ERR DUMP payload version or checksum are wrong");
    let mut rng = Rng(picket_common::ids::seeded(0x9e37_79b9_7f4a_7c15));
    let (mut restored, mut refused) = (0, 0);
    for i in 0..3000 {
        let base = &payloads[rng.below(payloads.len())];
        let mut body = base[..base.len() - 10].to_vec();
        match rng.below(5) {
            // A few bytes changed anywhere in the value.
            0 => {
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(body.len());
                    body[at] = rng.next() as u8;
                }
            }
            // Cut short.
            1 => body.truncate(rng.below(body.len())),
            // A byte off by one (lengths, counts, encodings).
            2 => {
                let at = rng.below(body.len());
                body[at] = body[at].wrapping_add(if rng.next() & 1 == 0 { 1 } else { 255 });
            }
            // A known type byte and random bytes.
            3 => {
                let types = [0u8, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 16, 17, 18];
                body = vec![types[rng.below(types.len())]];
                body.extend((0..rng.below(40)).map(|_| rng.next() as u8));
            }
            // Random bytes without a valid footer.
            _ => {
                let n = rng.below(60);
                let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                let r = cmd(&mut c, &[b"RESTORE", b"fuzz", b"0", &junk, b"REPLACE"]);
                assert_eq!(r, bad_footer, "{junk:?}");
                continue;
            }
        }
        let payload = wrap(&body, 10);
        let r = cmd(&mut c, &[b"RESTORE", b"fuzz", b"0", &payload, b"REPLACE"]);
        if r == Reply::ok() {
            restored += 1;
            // Whatever was accepted is a coherent value: it dumps and restores again, to the
            // same contents.
            let first = contents(&mut c, b"fuzz");
            let again = bulk(cmd(&mut c, &[b"DUMP", b"fuzz"]));
            assert_eq!(
                cmd(&mut c, &[b"RESTORE", b"fuzz2", b"0", &again, b"REPLACE"]),
                Reply::ok()
            );
            assert_eq!(contents(&mut c, b"fuzz2").1, first.1, "{body:?}");
        } else {
            assert_eq!(r, bad_format, "{body:?}");
            refused += 1;
        }
        if i % 100 == 0 {
            assert_eq!(c.q("PING"), Reply::simple("PONG"));
        }
    }
    assert!(restored > 100 && refused > 100, "{restored} {refused}");
    // Lengths far beyond the payload allocate nothing big: an LZF string of 2^40 bytes, a
    // set, list, hash and sorted set of 2^40 elements.
    let huge = (1u64 << 40).to_be_bytes();
    let mut cases: Vec<Vec<u8>> = vec![[&b"\x00\xc3\x02\x81"[..], &huge, b"\x00a"].concat()];
    for t in [1u8, 2, 3, 4, 5, 14, 18] {
        cases.push([&[t, 0x81][..], &huge, b"\x01a"].concat());
    }
    for body in cases {
        let r = cmd(&mut c, &[b"RESTORE", b"huge", b"0", &wrap(&body, 10)]);
        assert_eq!(r, bad_format, "{body:?}");
    }
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
    assert_eq!(c.q("EXISTS huge"), Reply::Int(0));
}

// ------------------------------------------------------------------------------ with Redis

#[test]
fn payloads_go_both_ways_between_picket_and_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    populate(&mut p);
    populate(&mut r);
    for s in SAMPLES {
        let key = s.key.as_bytes();
        let want = contents(&mut r, key);
        assert_eq!(contents(&mut p, key), want, "{}", s.key);
        let from_redis = bulk(cmd(&mut r, &[b"DUMP", key]));
        let from_picket = bulk(cmd(&mut p, &[b"DUMP", key]));
        for (name, payload) in [("r>", &from_redis), ("p>", &from_picket)] {
            let copy = format!("{name}{}", s.key);
            let copy = copy.as_bytes();
            for c in [&mut p, &mut r] {
                assert_eq!(cmd(c, &[b"RESTORE", copy, b"0", payload]), Reply::ok());
            }
            let in_redis = contents(&mut r, copy);
            let in_picket = contents(&mut p, copy);
            assert_eq!(in_picket, in_redis, "{name}{}", s.key);
            assert_eq!((&in_redis.0, &in_redis.1), (&want.0, &want.1));
            assert_eq!(in_redis.2, Reply::bulk(s.restored), "{name}{}", s.key);
        }
    }
}

#[test]
fn payload_bytes_equal_redis_where_the_encoding_is_deterministic() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    populate(&mut p);
    populate(&mut r);
    let dump = |c: &mut Conn, k: &str| bulk(cmd(c, &[b"DUMP", k.as_bytes()]));
    for s in SAMPLES.iter().filter(|s| s.bytes == Bytes::Equal) {
        assert_eq!(dump(&mut p, s.key), dump(&mut r, s.key), "{}", s.key);
    }
    for c in [&mut p, &mut r] {
        assert_eq!(c.q("CONFIG SET rdbcompression no"), Reply::ok());
    }
    for s in SAMPLES {
        let (a, b) = (dump(&mut p, s.key), dump(&mut r, s.key));
        match s.bytes {
            Bytes::Equal | Bytes::Uncompressed => assert_eq!(a, b, "{}", s.key),
            Bytes::Order => assert_eq!((a.len(), a[0]), (b.len(), b[0]), "{}", s.key),
        }
    }
}

#[test]
fn encodings_after_restore_follow_the_limits_as_in_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    let loose = [
        ("hash-max-listpack-value", "1000"),
        ("zset-max-listpack-value", "1000"),
        ("hash-max-listpack-entries", "1000"),
        ("zset-max-listpack-entries", "1000"),
        ("set-max-intset-entries", "1000"),
    ];
    let keys = ["h:long", "z:long", "h:many", "z:many", "s:many"];
    let mut payloads = Vec::new();
    for c in [&mut p, &mut r] {
        for (k, v) in loose {
            assert_eq!(c.cmd(&["CONFIG", "SET", k, v]), Reply::ok());
        }
        c.cmd(&["HSET", "h:long", "f", &"x".repeat(100)]);
        c.cmd(&["ZADD", "z:long", "1", &"m".repeat(100)]);
        for i in 0..200 {
            c.cmd(&["HSET", "h:many", &format!("f{i}"), "v"]);
            c.cmd(&["ZADD", "z:many", &i.to_string(), &format!("m{i}")]);
            c.cmd(&["SADD", "s:many", &i.to_string()]);
        }
        for k in keys {
            assert!(
                matches!(
                    c.cmd(&["OBJECT", "ENCODING", k]).text().as_str(),
                    "listpack" | "intset"
                ),
                "{k}"
            );
            payloads.push(bulk(c.cmd(&["DUMP", k])));
        }
        for (k, v) in [
            ("hash-max-listpack-value", "64"),
            ("zset-max-listpack-value", "64"),
            ("hash-max-listpack-entries", "128"),
            ("zset-max-listpack-entries", "128"),
            ("set-max-intset-entries", "512"),
        ] {
            assert_eq!(c.cmd(&["CONFIG", "SET", k, v]), Reply::ok());
        }
    }
    // Each server's payloads restored on both, under the default limits: a listpack hash or
    // sorted set keeps its encoding with long values, not with too many entries.
    let want = ["listpack", "listpack", "hashtable", "skiplist", "intset"];
    for (i, payload) in payloads.iter().enumerate() {
        let copy = format!("copy{i}");
        let mut encs = Vec::new();
        for c in [&mut p, &mut r] {
            assert_eq!(
                cmd(c, &[b"RESTORE", copy.as_bytes(), b"0", payload]),
                Reply::ok()
            );
            encs.push(c.cmd(&["OBJECT", "ENCODING", &copy]));
        }
        assert_eq!(encs[0], encs[1], "{copy}");
        assert_eq!(encs[0], Reply::bulk(want[i % keys.len()]), "{copy}");
    }
    // Fewer intset entries allowed than the payload has: a hash table.
    for c in [&mut p, &mut r] {
        c.q("CONFIG SET set-max-intset-entries 100");
        assert_eq!(
            cmd(c, &[b"RESTORE", b"few", b"0", &payloads[4]]),
            Reply::ok()
        );
        assert_eq!(c.q("OBJECT ENCODING few"), Reply::bulk("hashtable"));
    }
}

#[test]
fn errors_equal_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    for c in [&mut p, &mut r] {
        c.q("SET busy 1");
        c.q("SET src hello");
    }
    let good = bulk(r.q("DUMP src"));
    assert_eq!(good, bulk(p.q("DUMP src")));
    let body = &good[..good.len() - 10];
    let mut flipped = good.clone();
    flipped[1] ^= 1;
    let mut bad_crc = good.clone();
    *bad_crc.last_mut().expect("a footer") ^= 1;
    let mut zero_crc = good.clone();
    let n = zero_crc.len();
    zero_crc[n - 8..].fill(0);
    let mut rng = Rng(picket_common::ids::seeded(42));
    let junk: Vec<Vec<u8>> = (0..20)
        .map(|_| (0..rng.below(40)).map(|_| rng.next() as u8).collect())
        .collect();

    let mut cases: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut case = |args: &[&[u8]]| cases.push(args.iter().map(|a| a.to_vec()).collect());
    // Arity and DUMP.
    case(&[b"RESTORE", b"k", b"0"]);
    case(&[b"RESTORE-ASKING", b"k"]);
    case(&[b"DUMP"]);
    case(&[b"DUMP", b"a", b"b"]);
    case(&[b"DUMP", b"nokey"]);
    // Options first, then the key, then the TTL, then the payload.
    case(&[b"RESTORE", b"busy", b"0", &good]);
    case(&[b"RESTORE", b"busy", b"-1", b"junk"]);
    case(&[b"RESTORE", b"busy", b"0", &good, b"FREQ", b"256"]);
    case(&[b"RESTORE", b"busy", b"0", &good, b"nope"]);
    case(&[b"RESTORE", b"new", b"-1", &good]);
    case(&[b"RESTORE", b"new", b"x", &good]);
    case(&[b"RESTORE", b"new", b"1.5", &good]);
    case(&[b"RESTORE", b"new", b"-1", b"junk"]);
    case(&[b"RESTORE", b"new", b"0", &good, b"IDLETIME", b"-1"]);
    case(&[b"RESTORE", b"new", b"0", &good, b"IDLETIME", b"x"]);
    case(&[b"RESTORE", b"new", b"0", &good, b"IDLETIME"]);
    case(&[b"RESTORE", b"new", b"0", &good, b"FREQ", b"-1"]);
    case(&[b"RESTORE", b"new", b"0", &good, b"FREQ", b"256"]);
    case(&[b"RESTORE", b"new", b"0", &good, b"FREQ", b"x"]);
    case(&[b"RESTORE", b"new", b"0", &good, b"FREQ"]);
    case(&[
        b"RESTORE",
        b"new",
        b"0",
        &good,
        b"IDLETIME",
        b"1",
        b"FREQ",
        b"1",
    ]);
    case(&[
        b"RESTORE",
        b"new",
        b"0",
        &good,
        b"FREQ",
        b"1",
        b"IDLETIME",
        b"1",
    ]);
    case(&[b"RESTORE", b"new", b"0", &good, b"ABSTTL", b"bogus"]);
    case(&[b"RESTORE", b"nul", b"0", &good, b"replace\0x"]);
    // The footer.
    case(&[b"RESTORE", b"new", b"0", &flipped]);
    case(&[b"RESTORE", b"new", b"0", &bad_crc]);
    case(&[b"RESTORE", b"new", b"0", &zero_crc]);
    case(&[b"RESTORE", b"new", b"0", &good[..good.len() - 1]]);
    case(&[b"RESTORE", b"new", b"0", &good[1..]]);
    case(&[b"RESTORE", b"new", b"0", &good[..9]]);
    case(&[b"RESTORE", b"new", b"0", b""]);
    case(&[b"RESTORE", b"new", b"0", &wrap(body, 11)]);
    case(&[b"RESTORE", b"new", b"0", &wrap(body, 0x0a00)]);
    for j in &junk {
        case(&[b"RESTORE", b"new", b"0", j]);
    }
    // Well-formed footers around bad values.
    for bad in [
        &b""[..],
        b"\x00",
        b"\x08\x01a",
        b"\x14\x01a",
        b"\x15\x01a",
        b"\xff",
        b"\xfe\x00",
        b"\x0f\x00",
        b"\x06\x00",
        b"\x02\x00",
        b"\x12\x00",
        b"\x04\x00",
        b"\x05\x00",
        b"\x00\xc7",
        b"\x00\xc3\x05\x10\x00a",
        b"\x0b\x03abc",
        b"\x05\x01\x01a\x00\x00\x00\x00\x00\x00\xf8\x7f",
        b"\x10\x03abc",
        b"\x11\x07\x07\x00\x00\x00\x00\x00\xff",
        b"\x02\x02\x01a\x01a",
    ] {
        case(&[b"RESTORE", b"new", b"0", &wrap(bad, 10)]);
    }
    // Payloads that restore: an older version, a value read on into the footer, bytes after
    // the value, and a TTL that overflows into the past.
    case(&[b"RESTORE", b"v9", b"0", &wrap(body, 9)]);
    case(&[b"GET", b"v9"]);
    case(&[b"RESTORE", b"short", b"0", &wrap(b"\x00\x05abc", 10)]);
    case(&[b"GET", b"short"]);
    case(&[b"RESTORE", b"long", b"0", &wrap(b"\x00\x03abcXYZ", 10)]);
    case(&[b"GET", b"long"]);
    case(&[b"RESTORE", b"huge", b"9223372036854775807", &good]);
    case(&[b"EXISTS", b"huge"]);
    case(&[b"RESTORE", b"max", b"9223372036854775807", &good, b"ABSTTL"]);
    case(&[b"EXPIRETIME", b"max"]);
    case(&[
        b"RESTORE", b"new", b"0", &good, b"REPLACE", b"ABSTTL", b"REPLACE",
    ]);
    case(&[b"GET", b"new"]);
    case(&[b"PING"]);

    for args in &cases {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let a = cmd(&mut p, &refs);
        let b = cmd(&mut r, &refs);
        assert_eq!(a, b, "{:?}: picket (left) and redis (right) differ", refs);
    }
    // Errors were counted as Redis counts them.
    let errorstats = |c: &mut Conn| {
        let text = c.q("INFO errorstats").text();
        let mut v: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("errorstat_"))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(errorstats(&mut p), errorstats(&mut r));
}

#[test]
fn keyspace_events_and_watch_as_redis() {
    let Some(pair) = Pair::start(&["--notify-keyspace-events", "KEA"]) else {
        return;
    };
    let mut events = Vec::new();
    for srv in [&pair.picket, &pair.redis] {
        let mut sub = srv.conn();
        sub.q("PSUBSCRIBE __key*__:*");
        let mut c = srv.conn();
        let mut w = srv.conn();
        c.q("SET src hello");
        let payload = bulk(c.q("DUMP src"));
        // WATCH: a restored key, a replaced key, a RESTORE that created nothing, one that
        // deleted, one that failed.
        let txn = |w: &mut Conn, c: &mut Conn, key: &[u8], args: &[&[u8]]| {
            cmd(w, &[b"WATCH", key]);
            let r = cmd(c, args);
            w.q("MULTI");
            w.q("PING");
            (r, w.q("EXEC"))
        };
        let out = vec![
            txn(&mut w, &mut c, b"a", &[b"RESTORE", b"a", b"0", &payload]),
            txn(
                &mut w,
                &mut c,
                b"a",
                &[b"RESTORE", b"a", b"100000", &payload, b"REPLACE"],
            ),
            txn(
                &mut w,
                &mut c,
                b"b",
                &[b"RESTORE", b"b", b"1", &payload, b"ABSTTL"],
            ),
            txn(
                &mut w,
                &mut c,
                b"a",
                &[b"RESTORE", b"a", b"1", &payload, b"ABSTTL", b"REPLACE"],
            ),
            txn(&mut w, &mut c, b"a", &[b"RESTORE", b"a", b"0", b"bad"]),
        ];
        c.q("SET end 1");
        let mut got = Vec::new();
        loop {
            let m = sub.read();
            got.push(m.clone());
            if m.items().last() == Some(&Reply::bulk("end")) {
                break;
            }
        }
        events.push((out, got));
    }
    assert_eq!(events[0], events[1]);
    let seen: Vec<String> = events[0]
        .1
        .iter()
        .filter_map(|m| m.items().get(2).map(|c| c.text()))
        .collect();
    assert!(
        seen.contains(&"__keyevent@0__:restore".to_string()),
        "{seen:?}"
    );
}

#[test]
fn replicas_get_the_restored_keys_with_their_ttl() {
    let m = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let replica = Server::start(&[]);
    let mut mc = m.conn();
    let mut rc = replica.conn();
    assert_eq!(
        rc.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
        Reply::ok()
    );
    let synced = |rc: &mut Conn| {
        wait_until(Duration::from_secs(20), || {
            rc.q("INFO replication")
                .text()
                .contains("master_link_status:up")
        })
    };
    assert!(synced(&mut rc));
    mc.q("SET src hello");
    mc.q("RPUSH lsrc a b c");
    let p = bulk(mc.q("DUMP src"));
    let pl = bulk(mc.q("DUMP lsrc"));
    let at = (now_ms() + 500_000).to_string();
    let cmds: Vec<Vec<&[u8]>> = vec![
        vec![b"RESTORE", b"plain", b"0", &p],
        vec![b"RESTORE", b"rel", b"100000", &p],
        vec![b"RESTORE", b"abs", at.as_bytes(), &pl, b"ABSTTL"],
        vec![
            b"RESTORE-ASKING",
            b"asking",
            b"200000",
            &pl,
            b"IDLETIME",
            b"10",
        ],
        vec![b"RESTORE", b"gone", b"0", &p],
        vec![b"RESTORE", b"gone", b"1", &p, b"ABSTTL", b"REPLACE"],
        vec![b"RESTORE", b"never", b"1", &p, b"ABSTTL"],
        vec![b"SET", b"end", b"1"],
    ];
    for c in &cmds {
        assert_eq!(cmd(&mut mc, c), Reply::ok(), "{c:?}");
    }
    assert!(wait_until(Duration::from_secs(20), || rc.q("EXISTS end")
        == Reply::Int(1)));
    for key in ["plain", "rel", "abs", "asking", "gone", "never"] {
        assert_eq!(
            contents(&mut rc, key.as_bytes()),
            contents(&mut mc, key.as_bytes()),
            "{key}"
        );
        // The expiry time is the master's, to the millisecond.
        assert_eq!(
            rc.cmd(&["PEXPIRETIME", key]),
            mc.cmd(&["PEXPIRETIME", key]),
            "{key}"
        );
    }
    assert_eq!(mc.q("PEXPIRETIME abs").text(), at);
    assert_eq!(rc.q("EXISTS gone never"), Reply::Int(0));

    // A Redis 7.0 replica of the picket master takes the same stream.
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let mut xc = redis.conn();
    assert_eq!(
        xc.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
        Reply::ok()
    );
    assert!(synced(&mut xc));
    let at = (now_ms() + 700_000).to_string();
    assert_eq!(
        cmd(&mut mc, &[b"RESTORE", b"later", b"300000", &pl]),
        Reply::ok()
    );
    assert_eq!(
        cmd(
            &mut mc,
            &[b"RESTORE", b"later2", at.as_bytes(), &p, b"ABSTTL"]
        ),
        Reply::ok()
    );
    mc.q("SET end2 1");
    assert!(wait_until(Duration::from_secs(20), || xc.q("EXISTS end2")
        == Reply::Int(1)));
    for key in ["later", "later2"] {
        assert_eq!(
            contents(&mut xc, key.as_bytes()),
            contents(&mut mc, key.as_bytes())
        );
        assert_eq!(xc.cmd(&["PEXPIRETIME", key]), mc.cmd(&["PEXPIRETIME", key]));
    }
}

#[test]
fn the_aof_replays_restores_with_absolute_times() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().to_str().expect("a UTF-8 path");
    let args = [
        "--dir",
        path,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let mut s = Server::start(&args);
    let mut c = s.conn();
    assert!(wait_until(Duration::from_secs(20), || c.q("PING")
        == Reply::simple("PONG")));
    c.q("SET src hello");
    let p = bulk(c.q("DUMP src"));
    for args in [
        &[&b"RESTORE"[..], b"rel", b"100000", &p][..],
        &[b"RESTORE", b"soon", b"300", &p],
        &[b"RESTORE", b"replaced", b"0", &p],
        &[b"RESTORE", b"replaced", b"1", &p, b"ABSTTL", b"REPLACE"],
    ] {
        assert_eq!(cmd(&mut c, args), Reply::ok());
    }
    let rel = c.q("PEXPIRETIME rel");
    let _ = s.child.kill();
    let _ = s.child.wait();
    let aof = std::fs::read(dir.path().join("appendonlydir/appendonly.aof.1.incr.aof"))
        .expect("the incremental AOF");
    let text = String::from_utf8_lossy(&aof);
    assert!(text.contains("ABSTTL"), "{text}");
    // Restarted after `soon` expired: the replay keeps it until it is looked up, then it is
    // gone; `rel` keeps its time to the millisecond.
    std::thread::sleep(Duration::from_millis(400));
    let s = Server::start(&args);
    let mut c = s.conn();
    assert!(wait_until(Duration::from_secs(20), || c.q("PING")
        == Reply::simple("PONG")));
    assert_eq!(c.q("PEXPIRETIME rel"), rel);
    assert_eq!(c.q("GET rel"), Reply::bulk("hello"));
    assert_eq!(c.q("EXISTS soon replaced"), Reply::Int(0));
}
