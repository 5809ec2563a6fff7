//! The hash command family compared with Redis 7.0, reply by reply on the exact wire bytes
//! (RESP2 and RESP3): a long list of edge cases, encoding thresholds, keyspace events and the
//! dirty counter, and a seeded random walk of thousands of commands. Replies whose order Redis
//! leaves to its hash table (HGETALL of a `hashtable`, HSCAN cursors) are compared as sets,
//! and HRANDFIELD by its properties. In-process: what is propagated to replicas (against what
//! Redis 7.0.15 emits) and HRANDFIELD's determinism for a seed.
//!
//! `PICKET_HASH_SEED=<n>` replays one seed of the walk; `PICKET_HASH_STEPS` sets its length.

mod common;
mod hashes_util;

use std::collections::{BTreeMap, BTreeSet};

use common::Pair;
use hashes_util::{fill, words, Diff, RawConn, V};

// ------------------------------------------------------------------------ edge cases

const EDGE_CASES: &[&str] = &[
    // Arity, checked by the table or by the command itself.
    "HSET",
    "HSET h",
    "HSET h f",
    "HSET h f v f2",
    "HMSET h f",
    "HMSET h f v f2",
    "HSETNX h f",
    "HSETNX h f v x",
    "HGET h",
    "HGET h f x",
    "HMGET h",
    "HDEL h",
    "HLEN",
    "HLEN h x",
    "HEXISTS h",
    "HSTRLEN h",
    "HKEYS",
    "HVALS h x",
    "HGETALL",
    "HINCRBY h f",
    "HINCRBY h f 1 2",
    "HINCRBYFLOAT h f",
    "HRANDFIELD",
    "HSCAN h",
    // Missing keys.
    "HGET h f",
    "HMGET h a b",
    "HGETALL h",
    "HKEYS h",
    "HVALS h",
    "HLEN h",
    "HEXISTS h f",
    "HSTRLEN h f",
    "HDEL h f",
    "HRANDFIELD h",
    "HRANDFIELD h 3",
    "HRANDFIELD h -3 WITHVALUES",
    "HSCAN h 0",
    "HSCAN h 0 COUNT 0 BOGUS",
    "HSCAN h bad",
    // Writes.
    "HSET h a 1 b 2 a 3",
    "HGETALL h",
    "HSET h '' '' \\x00 \\xff",
    "HGET h ''",
    "HGET h \\x00",
    "HSTRLEN h \\x00",
    "HMSET h c 3 d 4",
    "HSETNX h c 9",
    "HSETNX h e 5",
    "HGETALL h",
    "HDEL h a zz a",
    "HGETALL h",
    "HSET h a 1",
    "HKEYS h",
    "HVALS h",
    "HLEN h",
    "HEXISTS h a",
    "HEXISTS h zz",
    // Integer increments.
    "HINCRBY h n 1",
    "HINCRBY h n -0",
    "HINCRBY h n +1",
    "HINCRBY h n 0x10",
    "HINCRBY h n 1e3",
    "HINCRBY h n ' 1'",
    "HINCRBY h n 1.0",
    "HINCRBY h n 9223372036854775808",
    "HINCRBY h n -9223372036854775809",
    "HINCRBY h n 9223372036854775806",
    "HINCRBY h n 1",
    "HINCRBY h n -9223372036854775808",
    "HINCRBY h n -9223372036854775807",
    "HINCRBY h n -9223372036854775807",
    "HINCRBY h n -1",
    "HINCRBY h n -1",
    "HSET h s abc z 007 m -0 p +5 w ' 7' big 9223372036854775808",
    "HINCRBY h s 1",
    "HINCRBY h z 1",
    "HINCRBY h m 1",
    "HINCRBY h p 1",
    "HINCRBY h w 1",
    "HINCRBY h big 1",
    "HINCRBY h '' 1",
    // Float increments.
    "HINCRBYFLOAT h x 1.5",
    "HINCRBYFLOAT h x .5",
    "HINCRBYFLOAT h x 5.",
    "HINCRBYFLOAT h x -3e0",
    "HINCRBYFLOAT h x +1.25",
    "HINCRBYFLOAT h x 0x1p3",
    "HINCRBYFLOAT h x 1e",
    "HINCRBYFLOAT h x ''",
    "HINCRBYFLOAT h x ' 1'",
    "HINCRBYFLOAT h x '1 '",
    "HINCRBYFLOAT h x 1\\x002",
    "HINCRBYFLOAT h x nan",
    "HINCRBYFLOAT h x NaN",
    "HINCRBYFLOAT h x inf",
    "HINCRBYFLOAT h x -Infinity",
    "HINCRBYFLOAT h x 1e-400",
    "HINCRBYFLOAT h x 0.1",
    "HINCRBYFLOAT h y 1e5000",
    "OBJECT ENCODING h",
    // Long results convert the hash (kept apart: a hashtable's order is its own).
    "HINCRBYFLOAT fl x 1e400",
    "OBJECT ENCODING fl",
    "HINCRBYFLOAT fl x -1e400",
    "HINCRBYFLOAT fl x 1.7976931348623157e308",
    "OBJECT ENCODING fl",
    "HINCRBYFLOAT fl x 1e4932",
    "HINCRBYFLOAT fl x 1e4932",
    "HSTRLEN fl x",
    "DEL fl",
    "HINCRBYFLOAT h n 1",
    "HINCRBYFLOAT h s 1",
    "HINCRBYFLOAT h z 1",
    "HINCRBYFLOAT h m 1",
    "HINCRBYFLOAT h w 1",
    "HINCRBYFLOAT h big 1",
    "HINCRBYFLOAT newkey f inf",
    "EXISTS newkey",
    "HINCRBYFLOAT newkey f -0.0",
    "HGETALL newkey",
    "HINCRBY h x 1",
    "HSTRLEN h x",
    "HSTRLEN h n",
    // HRANDFIELD arguments (the answers themselves are random: see the property test).
    "HRANDFIELD h 0",
    "HRANDFIELD h 0 WITHVALUES",
    "HRANDFIELD h x",
    "HRANDFIELD h x WITHVALUES",
    "HRANDFIELD h 1 x",
    "HRANDFIELD h 1 WITHVALUES x",
    "HRANDFIELD h 1.5",
    "HRANDFIELD h -9223372036854775808",
    "HRANDFIELD h -9223372036854775808 WITHVALUES",
    "HRANDFIELD h 9223372036854775807 WITHVALUES",
    "HRANDFIELD h 4611686018427387904 WITHVALUES",
    "HRANDFIELD h -4611686018427387904 WITHVALUES",
    "HRANDFIELD h 1000 withValues",
    "HRANDFIELD h 1000 WITHVALUES\\x00junk",
    "HRANDFIELD h 4611686018427387903 WITHVALUES",
    "HRANDFIELD h 9223372036854775807",
    "HRANDFIELD nokey 1 foo",
    "HRANDFIELD nokey x",
    // HSCAN of a listpack: everything at once, in order, whatever the cursor.
    "HSCAN h 0",
    "HSCAN h 12345 COUNT 1",
    "HSCAN h 0 MATCH *",
    "HSCAN h 0 MATCH ?",
    "HSCAN h 0 match [a-m] COUNT 100",
    "HSCAN h 0 MATCH a MATCH b*",
    "HSCAN h 0 COUNT 5 COUNT 0",
    "HSCAN h 0 COUNT 0",
    "HSCAN h 0 COUNT -1",
    "HSCAN h 0 COUNT x",
    "HSCAN h 0 COUNT 9223372036854775807",
    "HSCAN h 0 COUNT",
    "HSCAN h 0 MATCH",
    "HSCAN h 0 TYPE hash",
    "HSCAN h 0 NOVALUES",
    "HSCAN h 0 count\\x00x 3",
    "HSCAN h -1",
    "HSCAN h +0",
    "HSCAN h ''",
    "HSCAN h 18446744073709551615",
    "HSCAN h 18446744073709551616",
    "HSCAN h ' 0'",
    "HSCAN h '0 '",
    "HSCAN h 0x",
    // Wrong types: a string and a list.
    "SET str x",
    "RPUSH list x",
    "HSET str f v",
    "HSET str f v f",
    "HSETNX list f v",
    "HGET str f",
    "HMGET list f",
    "HGETALL str",
    "HKEYS list",
    "HVALS str",
    "HDEL list f",
    "HLEN str",
    "HEXISTS list f",
    "HSTRLEN str f",
    "HINCRBY list f 1",
    "HINCRBY list f x",
    "HINCRBYFLOAT str f 1",
    "HINCRBYFLOAT str f inf",
    "HRANDFIELD list",
    "HRANDFIELD str 1 WITHVALUES",
    "HRANDFIELD str x",
    "HSCAN list 0",
    "HSCAN list x",
    "GET h",
    "LPUSH h x",
    // The key goes with its last field.
    "HDEL h a b c d e n s z m p w big x y '' \\x00",
    "EXISTS h",
    "HSET h only 1",
    "HDEL h only only",
    "EXISTS h",
    "TYPE h",
];

#[test]
fn differential_edge_cases() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut d = Diff::new(&pair);
    for line in EDGE_CASES {
        d.line(line);
    }
    // The same in RESP3.
    d.line("FLUSHALL");
    d.resp3();
    for line in EDGE_CASES {
        d.line(line);
    }
}

#[test]
fn differential_wrong_type_for_sets_and_zsets() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut d = Diff::new(&pair);
    d.line("SADD set x");
    d.line("ZADD zset 1 x");
    d.line("HSET h f v");
    for key in ["set", "zset"] {
        for cmd in [
            "HSET K f v",
            "HSETNX K f v",
            "HGET K f",
            "HMGET K f",
            "HGETALL K",
            "HDEL K f",
            "HLEN K",
            "HINCRBY K f 1",
            "HINCRBYFLOAT K f 1",
            "HRANDFIELD K -2",
            "HSCAN K 0",
        ] {
            d.line(&cmd.replace('K', key));
        }
    }
    d.line("SADD h x");
    d.line("ZADD h 1 x");
    d.line("SMEMBERS h");
}

#[test]
fn differential_big_hashes() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut d = Diff::new(&pair);
    for resp3 in [false, true] {
        if resp3 {
            d.resp3();
        }
        d.line("FLUSHALL");
        fill(&mut d, "big", 1000);
        d.line("OBJECT ENCODING big");
        d.line("HLEN big");
        d.unordered("HGETALL big", true);
        d.unordered("HKEYS big", false);
        d.unordered("HVALS big", false);
        d.line("HMGET big f0 f999 f1000");
        d.line("HRANDFIELD big 0");
        // HSCAN: whole iterations give the same pairs.
        for opts in [
            "",
            "COUNT 1",
            "COUNT 100",
            "MATCH f1*",
            "MATCH nomatch COUNT 3",
        ] {
            let full = |c: &mut RawConn| -> BTreeSet<(Vec<u8>, Vec<u8>)> {
                let mut cursor = "0".to_string();
                let mut seen = BTreeSet::new();
                loop {
                    let line = format!("HSCAN big {cursor} {opts}");
                    let r = c.cmd(&words(line.trim()));
                    for p in r.items()[1].items().chunks(2) {
                        seen.insert((p[0].bytes(), p[1].bytes()));
                    }
                    cursor = r.items()[0].text();
                    if cursor == "0" {
                        return seen;
                    }
                }
            };
            let (p, r) = (full(&mut d.p), full(&mut d.r));
            assert_eq!(p, r, "HSCAN big ... {opts}");
        }
        let mut del = vec!["HDEL".to_string(), "big".into()];
        del.extend((0..995).map(|i| format!("f{i}")));
        d.same(&del);
        d.line("OBJECT ENCODING big");
        d.unordered("HGETALL big", true);
        d.line("HDEL big f995 f996 f997 f998 f999");
        d.line("EXISTS big");
    }
}

/// Conversion points as Redis 7.0 decides them: entry count (also after an update once the
/// limit was lowered), value and field length, HINCRBY(FLOAT) results, and the order of a
/// listpack until then.
#[test]
fn differential_encoding_thresholds() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut d = Diff::new(&pair);
    let script = [
        "CONFIG SET hash-max-listpack-entries 4",
        "CONFIG SET hash-max-listpack-value 8",
        "HSET a f1 1 f2 2 f3 3 f4 4",
        "OBJECT ENCODING a",
        "HGETALL a",
        "HSET a f5 5",
        "OBJECT ENCODING a",
        "HDEL a f1 f2 f3 f4",
        "OBJECT ENCODING a",
        "HSET b x 1 x 2 x 3 x 4 x 5 x 6",
        "OBJECT ENCODING b",
        "HSET c f 12345678",
        "OBJECT ENCODING c",
        "HSET c f 123456789",
        "OBJECT ENCODING c",
        "HSET d f12345678 1",
        "OBJECT ENCODING d",
        "HSET d f123456789 1",
        "OBJECT ENCODING d",
        "HSET e f 1",
        "HSETNX e f 123456789",
        "OBJECT ENCODING e",
        "HSETNX e g 123456789",
        "OBJECT ENCODING e",
        "HINCRBY i n 99999999",
        "OBJECT ENCODING i",
        "HINCRBY i n 1",
        "OBJECT ENCODING i",
        "HINCRBYFLOAT j n 1.25",
        "HINCRBYFLOAT j n 0.0000001",
        "OBJECT ENCODING j",
        "HINCRBY k longfieldname 1",
        "OBJECT ENCODING k",
        "HSET l a 1 b 2 c 3",
        "CONFIG SET hash-max-listpack-entries 2",
        "OBJECT ENCODING l",
        "HGET l a",
        "HDEL l c",
        "OBJECT ENCODING l",
        "HSET l a 9",
        "OBJECT ENCODING l",
        "HSET m a 1 b 2",
        "CONFIG SET hash-max-listpack-entries 1",
        "HINCRBY m a 1",
        "OBJECT ENCODING m",
        "HSET n a 1 b 2 c 3",
        "OBJECT ENCODING n",
        "CONFIG SET hash-max-listpack-entries 0",
        "HSET o a 1",
        "OBJECT ENCODING o",
        "CONFIG SET hash-max-listpack-entries 128",
        "CONFIG SET hash-max-listpack-value 0",
        "HSET p '' ''",
        "OBJECT ENCODING p",
        "HSET p '' x",
        "OBJECT ENCODING p",
        "CONFIG SET hash-max-listpack-value 64",
        "HSET q a 1",
        "RENAME q r",
        "OBJECT ENCODING r",
        "COPY a a2",
        "OBJECT ENCODING a2",
        "HGETALL r",
    ];
    for line in script {
        d.line(line);
    }
}

// ------------------------------------------------------------------------ events and dirty

fn dirty(c: &mut RawConn) -> i64 {
    let info = c.q("INFO persistence").text();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("rdb_changes_since_last_save in INFO")
}

/// The events a subscriber got, up to a PING of its own.
fn events(s: &mut RawConn) -> Vec<V> {
    s.send(&["PING"]);
    let mut got = Vec::new();
    loop {
        let v = s.read();
        if v.items()[0].text() == "pong" {
            return got;
        }
        got.push(v);
    }
}

#[test]
fn differential_keyspace_events_and_dirty_counter() {
    let Some(pair) = Pair::start(&["--notify-keyspace-events", "KEAnm"]) else {
        return;
    };
    let mut d = Diff::new(&pair);
    let mut subs = [
        RawConn::connect(pair.picket.port),
        RawConn::connect(pair.redis.port),
    ];
    for s in &mut subs {
        s.q("PSUBSCRIBE __key*__:*");
    }
    let script = [
        "HSET h a 1 b 2",
        "HSET h a 1",
        "HSET h a 1 a 2 c 3",
        "HMSET h d 4",
        "HSETNX h a 1",
        "HSETNX h e 5",
        "HSETNX new f 1",
        "HDEL h zz",
        "HDEL h a zz b",
        "HDEL nokey a",
        "HINCRBY h n 5",
        "HINCRBY h a x",
        "HINCRBY h n 9223372036854775807",
        "HINCRBY new2 n 1",
        "HINCRBYFLOAT h f 1.5",
        "HINCRBYFLOAT h f x",
        "HINCRBYFLOAT h f inf",
        "HINCRBYFLOAT new3 f 2",
        "HGET h a",
        "HGET nokey a",
        "HMGET nokey a",
        "HLEN nokey",
        "HGETALL nokey",
        "HRANDFIELD nokey",
        "HSCAN nokey 0",
        "HEXISTS nokey a",
        "HSTRLEN nokey a",
        "HDEL new f",
        "HDEL h c d e n f",
        "EXISTS h",
        "HSET h x 1",
        "EXPIRE h 100",
        "RENAME h h2",
        "DEL h2",
    ];
    let (mut dp, mut dr) = (dirty(&mut d.p), dirty(&mut d.r));
    for line in script {
        d.line(line);
        let (np, nr) = (dirty(&mut d.p), dirty(&mut d.r));
        assert_eq!(
            np - dp,
            nr - dr,
            "dirty after {line}: picket (left), redis (right)"
        );
        (dp, dr) = (np, nr);
    }
    let (ep, er) = (events(&mut subs[0]), events(&mut subs[1]));
    assert!(er.len() > 40, "redis sent {} events", er.len());
    assert_eq!(ep, er, "events: picket (left), redis (right)");
}

// ------------------------------------------------------------------------ HRANDFIELD

/// Check an HRANDFIELD reply against the hash's contents (`None`: no key).
fn check_random(line: &str, v: &V, hash: &Option<BTreeMap<Vec<u8>, Vec<u8>>>, resp3: bool) {
    let args = words(line);
    let Some(h) = hash else {
        return;
    };
    if args.len() == 2 {
        assert!(h.contains_key(&v.bytes()), "{line}: {v:?}");
        return;
    }
    let n: i64 = String::from_utf8_lossy(&args[2]).parse().expect("count");
    let withvalues = args.len() == 4;
    let mut pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let items = v.items();
    if withvalues && !resp3 {
        for p in items.chunks(2) {
            pairs.push((p[0].bytes(), Some(p[1].bytes())));
        }
    } else if withvalues {
        for p in items {
            assert_eq!(p.items().len(), 2, "{line}");
            pairs.push((p.items()[0].bytes(), Some(p.items()[1].bytes())));
        }
    } else {
        pairs.extend(items.iter().map(|f| (f.bytes(), None)));
    }
    let want = if n >= 0 {
        (n as usize).min(h.len())
    } else {
        n.unsigned_abs() as usize
    };
    assert_eq!(pairs.len(), want, "{line}");
    for (f, val) in &pairs {
        let stored = h.get(f).unwrap_or_else(|| panic!("{line}: no field {f:?}"));
        if let Some(val) = val {
            assert_eq!(val, stored, "{line}");
        }
    }
    if n > 0 {
        let distinct: BTreeSet<&Vec<u8>> = pairs.iter().map(|(f, _)| f).collect();
        assert_eq!(distinct.len(), pairs.len(), "{line}: repeated fields");
    }
}

fn hash_contents(c: &mut RawConn, key: &str) -> Option<BTreeMap<Vec<u8>, Vec<u8>>> {
    let v = c.cmd(&["HGETALL", key]);
    let items = v.items();
    if items.is_empty() {
        return None;
    }
    Some(
        items
            .chunks(2)
            .map(|p| (p[0].bytes(), p[1].bytes()))
            .collect(),
    )
}

/// Same shape as Redis; contents checked: the right number of existing fields, distinct for a
/// positive count, each with its value; every strategy on both encodings, RESP2 and RESP3.
#[test]
fn differential_hrandfield_properties() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut d = Diff::new(&pair);
    fill(&mut d, "lp", 100);
    fill(&mut d, "ht", 700);
    d.line("HSET one only 1");
    for resp3 in [false, true] {
        if resp3 {
            d.resp3();
        }
        for key in ["lp", "ht", "one"] {
            let contents = hash_contents(&mut d.r, key);
            assert_eq!(contents, hash_contents(&mut d.p, key));
            for count in [
                "", "1", "2", "10", "33", "34", "50", "99", "100", "101", "699", "1000", "-1",
                "-5", "-300",
            ] {
                for wv in ["", " WITHVALUES"] {
                    if count.is_empty() && !wv.is_empty() {
                        continue;
                    }
                    let line = format!("HRANDFIELD {key} {count}{wv}");
                    let line = line.trim().replace("  ", " ");
                    let (p, r) = d.both(&words(&line));
                    assert_eq!(p.skeleton(), r.skeleton(), "{line}: shapes differ");
                    check_random(&line, &p, &contents, resp3);
                    check_random(&line, &r, &contents, resp3);
                }
            }
        }
    }
}

// ------------------------------------------------------------------------ in-process

/// Same seed, same HRANDFIELD answers (the server's seeded RNG, also for new dicts).
#[test]
fn hrandfield_is_deterministic_for_a_seed() {
    use picket_server::testkit::TestServer;
    let run = || {
        let mut t = TestServer::new(&[]);
        let id = t.connect();
        let mut fields = String::new();
        for i in 0..300 {
            fields.push_str(&format!(" f{i} {i}"));
        }
        t.line(id, &format!("HSET big{fields}"));
        t.line(id, "HSET small a 1 b 2 c 3");
        let mut out = Vec::new();
        for line in [
            "HRANDFIELD big",
            "HRANDFIELD big 5 WITHVALUES",
            "HRANDFIELD big 150",
            "HRANDFIELD big -20",
            "HRANDFIELD small -20",
            "HRANDFIELD small 2",
            "HKEYS big",
            "HSCAN big 0 COUNT 20",
        ] {
            out.push(t.line(id, line));
        }
        out
    };
    assert_eq!(run(), run());
}

/// What Redis 7.0.15 propagates for the same commands (recorded from its replication stream).
#[test]
fn effects_match_redis_7_0() {
    use picket_server::testkit::TestServer;
    let mut t = TestServer::new(&[]);
    let id = t.connect();
    let cases: &[(&str, &[&str])] = &[
        ("HSET h a 1 b 2", &["HSET h a 1 b 2"]),
        // Unchanged values still count as writes.
        ("HSET h a 1", &["HSET h a 1"]),
        ("HMSET h c 3", &["HMSET h c 3"]),
        ("HSETNX h a 9", &[]),
        ("HSETNX h d 4", &["HSETNX h d 4"]),
        ("HDEL h zz", &[]),
        ("HDEL h a zz", &["HDEL h a zz"]),
        ("HINCRBY h n 5", &["HINCRBY h n 5"]),
        ("HINCRBY h c x", &[]),
        ("HINCRBYFLOAT h f 1.5", &["HSET h f 1.5"]),
        ("hincrbyfloat h f 1e1", &["HSET h f 11.5"]),
        ("HINCRBYFLOAT h f x", &[]),
        ("HINCRBYFLOAT h f inf", &[]),
        ("HGET h f", &[]),
        ("HRANDFIELD h -3", &[]),
        ("HSCAN h 0", &[]),
        ("HDEL h b c d n f", &["HDEL h b c d n f"]),
        ("EXISTS h", &[]),
        // In a transaction, the rewrite is kept inside MULTI/EXEC.
        ("MULTI", &[]),
        ("HINCRBYFLOAT t f 2.5", &[]),
        ("HINCRBY t n 1", &[]),
        ("EXEC", &["MULTI", "HSET t f 2.5", "HINCRBY t n 1", "EXEC"]),
    ];
    for (line, want) in cases {
        let reply = t.line(id, line);
        assert!(!reply.starts_with("-ERR pending"), "{line}: {reply}");
        assert_eq!(t.propagated(), *want, "{line} (reply {reply:?})");
    }
    assert_eq!(t.line(id, "EXISTS h"), ":0\r\n");
}
