//! The hash command family on picket alone: every command with its options and errors,
//! encoding conversions, RESP3 shapes, keyspace-wide commands on hashes, and HSCAN's guarantee
//! on a hash that changes during the scan. The comparisons with Redis 7.0 (and the propagated
//! effects, checked in-process) are in `hashes_compat.rs`, the random walk in `hashes_walk.rs`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Conn, Reply, Server};

fn int(n: i64) -> Reply {
    Reply::Int(n)
}

fn b(s: &str) -> Reply {
    Reply::bulk(s)
}

fn err(s: &str) -> Reply {
    Reply::err(s)
}

fn arity(cmd: &str) -> Reply {
    err(&format!(
        "ERR wrong number of arguments for '{cmd}' command"
    ))
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";

fn strings(r: &Reply) -> Vec<String> {
    r.items().iter().map(Reply::text).collect()
}

fn encoding(c: &mut Conn, key: &str) -> String {
    c.cmd(&["OBJECT", "ENCODING", key]).text()
}

/// HGETALL as a map (any order).
fn contents(c: &mut Conn, key: &str) -> BTreeMap<String, String> {
    let items = strings(&c.cmd(&["HGETALL", key]));
    items
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

#[test]
fn hset_hget_hmset_hmget() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("HSET h a 1 b 2"), int(2));
    assert_eq!(c.q("HSET h a 10 c 3"), int(1));
    // A field named twice counts once and keeps its last value.
    assert_eq!(c.q("HSET h d 1 d 2"), int(1));
    assert_eq!(c.q("HGET h d"), b("2"));
    assert_eq!(c.q("HGET h a"), b("10"));
    assert_eq!(c.q("HGET h nofield"), Reply::Nil);
    assert_eq!(c.q("HGET nokey a"), Reply::Nil);
    assert_eq!(c.q("HMSET h e 5 a 11"), Reply::ok());
    assert_eq!(
        c.q("HMGET h a nofield e"),
        Reply::arr(vec![b("11"), Reply::Nil, b("5")])
    );
    assert_eq!(
        c.q("HMGET nokey a b"),
        Reply::arr(vec![Reply::Nil, Reply::Nil])
    );
    assert_eq!(c.q("HLEN h"), int(5));
    // Binary-safe fields and values, empty ones included.
    assert_eq!(c.cmd(&["HSET", "bin", "", ""]), int(1));
    assert_eq!(
        c.cmd(&[&b"HSET"[..], b"bin", b"f\0\r\n", b"\xff\x00"]),
        int(1)
    );
    assert_eq!(c.cmd(&["HGET", "bin", ""]), b(""));
    assert_eq!(
        c.cmd(&[&b"HGET"[..], b"bin", b"f\0\r\n"]),
        Reply::Bulk(b"\xff\x00".to_vec())
    );
    assert_eq!(c.cmd(&[&b"HSTRLEN"[..], b"bin", b"f\0\r\n"]), int(2));
    // Odd field/value lists: the command's own arity error.
    assert_eq!(c.q("HSET h a 1 b"), arity("hset"));
    assert_eq!(c.q("HMSET h a 1 b"), arity("hmset"));
    assert_eq!(c.q("HSET h a"), arity("hset"));
    assert_eq!(c.q("hmset h"), arity("hmset"));
    assert_eq!(c.q("HGET h"), arity("hget"));
    assert_eq!(c.q("HMGET h"), arity("hmget"));
    // The arity error comes before the type check.
    assert_eq!(c.q("SET s x"), Reply::ok());
    assert_eq!(c.q("HSET s a 1 b"), arity("hset"));
    assert_eq!(c.q("HSET s a 1"), err(WRONGTYPE));
}

#[test]
fn hsetnx_hexists_hlen_hstrlen() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("HSETNX h a 1"), int(1));
    assert_eq!(c.q("HSETNX h a 2"), int(0));
    assert_eq!(c.q("HGET h a"), b("1"));
    assert_eq!(c.q("HSETNX h b 2"), int(1));
    assert_eq!(c.q("HEXISTS h a"), int(1));
    assert_eq!(c.q("HEXISTS h z"), int(0));
    assert_eq!(c.q("HEXISTS nokey a"), int(0));
    assert_eq!(c.q("HLEN h"), int(2));
    assert_eq!(c.q("HLEN nokey"), int(0));
    assert_eq!(c.q("HSET h n -12345 s hello"), int(2));
    assert_eq!(c.q("HSTRLEN h n"), int(6));
    assert_eq!(c.q("HSTRLEN h s"), int(5));
    assert_eq!(c.q("HSTRLEN h z"), int(0));
    assert_eq!(c.q("HSTRLEN nokey z"), int(0));
    assert_eq!(c.q("HSETNX h a"), arity("hsetnx"));
    assert_eq!(c.q("HSETNX h a 1 2"), arity("hsetnx"));
    assert_eq!(c.q("HEXISTS h"), arity("hexists"));
    assert_eq!(c.q("HLEN h x"), arity("hlen"));
    assert_eq!(c.q("HSTRLEN h"), arity("hstrlen"));
}

#[test]
fn hdel_removes_the_key_with_its_last_field() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("HDEL nokey a"), int(0));
    assert_eq!(c.q("HSET h a 1 b 2 c 3"), int(3));
    assert_eq!(c.q("HDEL h a z a"), int(1));
    assert_eq!(c.q("HLEN h"), int(2));
    assert_eq!(c.q("HDEL h b c z"), int(2));
    assert_eq!(c.q("EXISTS h"), int(0));
    assert_eq!(c.q("TYPE h"), Reply::simple("none"));
    // The same with a hashtable.
    let mut args = vec!["HSET".to_string(), "big".into()];
    for i in 0..600 {
        args.push(format!("f{i}"));
        args.push(i.to_string());
    }
    assert_eq!(c.cmd(&args), int(600));
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    let mut del = vec!["HDEL".to_string(), "big".into()];
    del.extend((0..599).map(|i| format!("f{i}")));
    assert_eq!(c.cmd(&del), int(599));
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    assert_eq!(c.q("HGETALL big"), Reply::bulks(&["f599", "599"]));
    assert_eq!(c.q("HDEL big f599 f599"), int(1));
    assert_eq!(c.q("EXISTS big"), int(0));
    assert_eq!(c.q("HDEL h"), arity("hdel"));
}

#[test]
fn small_hashes_keep_insertion_order() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("HSET h z 1 a 2 m 3"), int(3));
    assert_eq!(c.q("HKEYS h"), Reply::bulks(&["z", "a", "m"]));
    assert_eq!(c.q("HVALS h"), Reply::bulks(&["1", "2", "3"]));
    // An update keeps the place; a deletion keeps the others' order; a re-add goes last.
    assert_eq!(c.q("HSET h a 20"), int(0));
    assert_eq!(c.q("HDEL h z"), int(1));
    assert_eq!(c.q("HSET h z 9 b 4"), int(2));
    assert_eq!(
        c.q("HGETALL h"),
        Reply::bulks(&["a", "20", "m", "3", "z", "9", "b", "4"])
    );
    assert_eq!(
        c.q("HSCAN h 0"),
        Reply::arr(vec![
            b("0"),
            Reply::bulks(&["a", "20", "m", "3", "z", "9", "b", "4"])
        ])
    );
    assert_eq!(c.q("HGETALL nokey"), Reply::arr(vec![]));
    assert_eq!(c.q("HKEYS nokey"), Reply::arr(vec![]));
    assert_eq!(c.q("HVALS nokey"), Reply::arr(vec![]));
    assert_eq!(c.q("HGETALL"), arity("hgetall"));
    assert_eq!(c.q("HKEYS h x"), arity("hkeys"));
    assert_eq!(c.q("HVALS"), arity("hvals"));
}

#[test]
fn hincrby() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("HINCRBY h n 5"), int(5));
    assert_eq!(c.q("HINCRBY h n -7"), int(-2));
    assert_eq!(c.q("HGET h n"), b("-2"));
    assert_eq!(c.q("HINCRBY h m 0"), int(0));
    assert_eq!(c.q("HINCRBY h n abc"), err(NOT_INT));
    assert_eq!(c.q("HINCRBY h n 1.5"), err(NOT_INT));
    assert_eq!(c.q("HINCRBY h n 99999999999999999999"), err(NOT_INT));
    assert_eq!(
        c.cmd(&["HSET", "h", "s", "abc", "sp", " 1", "z", "007", "f", "1.0"]),
        int(4)
    );
    for field in ["s", "sp", "z", "f"] {
        assert_eq!(
            c.cmd(&["HINCRBY", "h", field, "1"]),
            err("ERR hash value is not an integer"),
            "{field}"
        );
    }
    assert_eq!(c.q("HSET h big 9223372036854775806"), int(1));
    assert_eq!(c.q("HINCRBY h big 1"), int(i64::MAX));
    assert_eq!(
        c.q("HINCRBY h big 1"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(c.q("HSET h small -9223372036854775807"), int(1));
    assert_eq!(c.q("HINCRBY h small -1"), int(i64::MIN));
    assert_eq!(
        c.q("HINCRBY h small -1"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(
        c.q("HINCRBY h n -9223372036854775808"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(c.q("HINCRBY h n 9223372036854775807"), int(i64::MAX - 2));
    assert_eq!(c.q("HINCRBY h"), arity("hincrby"));
    assert_eq!(c.q("HINCRBY h n 1 2"), arity("hincrby"));
    // A bad increment is reported before the type.
    assert_eq!(c.q("SET str x"), Reply::ok());
    assert_eq!(c.q("HINCRBY str n x"), err(NOT_INT));
    assert_eq!(c.q("HINCRBY str n 1"), err(WRONGTYPE));
}

#[test]
fn hincrbyfloat() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("HINCRBYFLOAT h f 10.5"), b("10.5"));
    assert_eq!(c.q("HINCRBYFLOAT h f 0.1"), b("10.6"));
    assert_eq!(c.q("HINCRBYFLOAT h f -10.6"), b("0"));
    assert_eq!(c.q("HINCRBYFLOAT h f 5.0e3"), b("5000"));
    assert_eq!(c.q("HINCRBYFLOAT h i 3"), b("3"));
    assert_eq!(c.q("HINCRBY h i 1"), int(4));
    assert_eq!(c.q("HSET h x 1.5e1"), int(1));
    assert_eq!(c.q("HINCRBYFLOAT h x 1"), b("16"));
    assert_eq!(c.q("HINCRBYFLOAT h f abc"), err(NOT_FLOAT));
    assert_eq!(c.q("HINCRBYFLOAT h f nan"), err(NOT_FLOAT));
    assert_eq!(c.cmd(&["HINCRBYFLOAT", "h", "f", " 1"]), err(NOT_FLOAT));
    assert_eq!(c.cmd(&["HINCRBYFLOAT", "h", "f", ""]), err(NOT_FLOAT));
    assert_eq!(
        c.q("HINCRBYFLOAT h f inf"),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(
        c.q("HINCRBYFLOAT h f -inf"),
        err("ERR value is NaN or Infinity")
    );
    // A refused infinite increment creates nothing.
    assert_eq!(
        c.q("HINCRBYFLOAT new f inf"),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(c.q("EXISTS new"), int(0));
    assert_eq!(c.q("HSET h s abc"), int(1));
    assert_eq!(
        c.q("HINCRBYFLOAT h s 1"),
        err("ERR hash value is not a float")
    );
    assert_eq!(c.q("HSET h top 1e4932"), int(1));
    assert_eq!(
        c.q("HINCRBYFLOAT h top 1e4932"),
        err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(c.q("HGET h top"), b("1e4932"));
    assert_eq!(c.q("HINCRBYFLOAT h"), arity("hincrbyfloat"));
    assert_eq!(c.q("SET str x"), Reply::ok());
    assert_eq!(c.q("HINCRBYFLOAT str f x"), err(NOT_FLOAT));
    assert_eq!(c.q("HINCRBYFLOAT str f 1"), err(WRONGTYPE));
}

#[test]
fn hrandfield() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("HRANDFIELD nokey"), Reply::Nil);
    assert_eq!(c.q("HRANDFIELD nokey 5"), Reply::arr(vec![]));
    assert_eq!(c.q("HRANDFIELD nokey -5 WITHVALUES"), Reply::arr(vec![]));
    assert_eq!(c.q("HSET h a 1 b 2 c 3"), int(3));
    let all: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    for _ in 0..20 {
        assert!(all.contains(&c.q("HRANDFIELD h").text()));
    }
    assert_eq!(c.q("HRANDFIELD h 0"), Reply::arr(vec![]));
    assert_eq!(c.q("HRANDFIELD h 0 withvalues"), Reply::arr(vec![]));
    // A positive count: distinct fields, at most all of them.
    for n in [1, 2, 3, 10] {
        let got = strings(&c.cmd(&["HRANDFIELD", "h", &n.to_string()]));
        assert_eq!(got.len(), n.min(3));
        let set: BTreeSet<String> = got.into_iter().collect();
        assert_eq!(set.len(), n.min(3));
        assert!(set.is_subset(&all));
    }
    // A negative count: exactly that many, repeats allowed.
    let got = strings(&c.q("HRANDFIELD h -50"));
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|f| all.contains(f)));
    let distinct: BTreeSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), 3, "50 draws of 3 fields saw them all");
    // WITHVALUES: flat pairs in RESP2, each value the field's.
    let got = strings(&c.q("HRANDFIELD h -7 WITHVALUES"));
    assert_eq!(got.len(), 14);
    for p in got.chunks(2) {
        assert_eq!(c.cmd(&["HGET", "h", &p[0]]).text(), p[1]);
    }
    // Errors: the count first, then the syntax, then the range with WITHVALUES.
    assert_eq!(c.q("HRANDFIELD h x"), err(NOT_INT));
    assert_eq!(c.q("HRANDFIELD nokey x WITHVALUES"), err(NOT_INT));
    assert_eq!(
        c.q("HRANDFIELD h -9223372036854775808"),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(c.q("HRANDFIELD h 1 foo"), err(SYNTAX));
    assert_eq!(c.q("HRANDFIELD h 1 WITHVALUES x"), err(SYNTAX));
    assert_eq!(c.q("HRANDFIELD nokey 1 foo"), err(SYNTAX));
    for n in ["4611686018427387904", "-4611686018427387904"] {
        assert_eq!(
            c.cmd(&["HRANDFIELD", "h", n, "WITHVALUES"]),
            err("ERR value is out of range")
        );
    }
    // The limit itself is accepted (a small positive count returns the whole hash).
    assert_eq!(
        c.q("HRANDFIELD h 4611686018427387903 WITHVALUES")
            .items()
            .len(),
        6
    );
    assert_eq!(c.q("HRANDFIELD"), arity("hrandfield"));
    assert_eq!(c.q("SET str x"), Reply::ok());
    assert_eq!(c.q("HRANDFIELD str"), err(WRONGTYPE));
    assert_eq!(c.q("HRANDFIELD str 1"), err(WRONGTYPE));
}

/// Every strategy of a positive count on both encodings: distinct existing fields, the right
/// number, values that belong to them.
#[test]
fn hrandfield_strategies() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    for (key, n) in [("small", 60), ("big", 1000)] {
        let mut args = vec!["HSET".to_string(), key.to_string()];
        for i in 0..n {
            args.push(format!("f{i}"));
            args.push(format!("v{i}"));
        }
        assert_eq!(c.cmd(&args), int(n));
    }
    assert_eq!(
        c.q("CONFIG SET hash-max-listpack-entries 1000"),
        Reply::ok()
    );
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    assert_eq!(c.q("HSET lp x 1"), int(1));
    let mut args = vec!["HSET".to_string(), "lp".into()];
    for i in 0..900 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    c.cmd(&args);
    assert_eq!(encoding(&mut c, "lp"), "listpack");
    for key in ["lp", "big"] {
        let size = c.cmd(&["HLEN", key]).int() as usize;
        for count in [1, 2, 5, size / 3, size / 3 + 1, size / 2, size - 1, size] {
            let got = strings(&c.cmd(&["HRANDFIELD", key, &count.to_string(), "WITHVALUES"]));
            assert_eq!(got.len(), 2 * count, "{key} {count}");
            let mut seen = BTreeSet::new();
            for p in got.chunks(2) {
                assert!(seen.insert(p[0].clone()), "{key} {count}: {} twice", p[0]);
                let want = if p[0] == "x" {
                    "1".to_string()
                } else {
                    p[0].replacen('f', "v", 1)
                };
                assert_eq!(p[1], want);
            }
        }
    }
}

#[test]
fn hscan() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(
        c.q("HSCAN nokey 0"),
        Reply::arr(vec![b("0"), Reply::arr(vec![])])
    );
    // Options are looked at only once the key exists.
    assert_eq!(
        c.q("HSCAN nokey 0 COUNT 0 FOO"),
        Reply::arr(vec![b("0"), Reply::arr(vec![])])
    );
    assert_eq!(c.q("HSCAN nokey x"), err("ERR invalid cursor"));
    assert_eq!(c.q("HSET h k1 1 k2 2 other 3"), int(3));
    // A listpack answers everything at once, whatever the cursor and COUNT.
    let all = Reply::bulks(&["k1", "1", "k2", "2", "other", "3"]);
    assert_eq!(c.q("HSCAN h 0"), Reply::arr(vec![b("0"), all.clone()]));
    assert_eq!(c.q("HSCAN h 17 COUNT 1"), Reply::arr(vec![b("0"), all]));
    assert_eq!(
        c.q("HSCAN h 0 MATCH k*"),
        Reply::arr(vec![b("0"), Reply::bulks(&["k1", "1", "k2", "2"])])
    );
    // MATCH looks at fields only.
    assert_eq!(
        c.q("HSCAN h 0 MATCH 3"),
        Reply::arr(vec![b("0"), Reply::arr(vec![])])
    );
    assert_eq!(c.q("HSCAN h 0 COUNT 0"), err(SYNTAX));
    assert_eq!(c.q("HSCAN h 0 COUNT -1"), err(SYNTAX));
    assert_eq!(c.q("HSCAN h 0 COUNT x"), err(NOT_INT));
    assert_eq!(c.q("HSCAN h 0 COUNT"), err(SYNTAX));
    assert_eq!(c.q("HSCAN h 0 MATCH"), err(SYNTAX));
    assert_eq!(c.q("HSCAN h 0 TYPE hash"), err(SYNTAX));
    assert_eq!(c.q("HSCAN h 0 NOVALUES"), err(SYNTAX));
    assert_eq!(
        c.q("HSCAN h -1 MATCH o*"),
        Reply::arr(vec![b("0"), Reply::bulks(&["other", "3"])])
    );
    assert_eq!(c.cmd(&["HSCAN", "h", " 1"]), err("ERR invalid cursor"));
    assert_eq!(c.cmd(&["HSCAN", "h", ""]).items()[0], b("0"));
    assert_eq!(c.q("HSCAN h"), arity("hscan"));
    assert_eq!(c.q("SET str x"), Reply::ok());
    assert_eq!(c.q("HSCAN str 0"), err(WRONGTYPE));
    assert_eq!(c.q("HSCAN str x"), err("ERR invalid cursor"));

    // A hashtable: a full iteration returns every pair; COUNT bounds each step.
    let mut args = vec!["HSET".to_string(), "big".into()];
    for i in 0..600 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    assert_eq!(c.cmd(&args), int(600));
    for count in ["1", "10", "1000"] {
        let (pairs, steps) = full_scan(&mut c, "big", &["COUNT", count]);
        assert_eq!(pairs.len(), 600);
        assert!(pairs.iter().all(|(f, v)| f.replacen('f', "v", 1) == *v));
        if count == "1000" {
            assert_eq!(steps, 1);
        } else {
            assert!(steps > 1);
        }
    }
    let (pairs, _) = full_scan(&mut c, "big", &["MATCH", "f1?"]);
    let fields: BTreeSet<String> = pairs.into_keys().collect();
    assert_eq!(fields, (10..20).map(|i| format!("f{i}")).collect());
}

/// A whole HSCAN iteration: the pairs seen (last value wins) and the number of calls.
fn full_scan(c: &mut Conn, key: &str, opts: &[&str]) -> (BTreeMap<String, String>, usize) {
    let mut cursor = "0".to_string();
    let mut pairs = BTreeMap::new();
    let mut steps = 0;
    loop {
        let mut args = vec!["HSCAN", key, &cursor];
        args.extend_from_slice(opts);
        let r = c.cmd(&args).items();
        steps += 1;
        for p in strings(&r[1]).chunks(2) {
            pairs.insert(p[0].clone(), p[1].clone());
        }
        cursor = r[0].text();
        if cursor == "0" {
            return (pairs, steps);
        }
    }
}

/// Every field present from the start to the end of an iteration is returned, while fields
/// come and go and the table grows, shrinks and rehashes in between.
#[test]
fn hscan_guarantee_while_the_hash_changes() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut args = vec!["HSET".to_string(), "h".into()];
    for i in 0..2000 {
        args.push(format!("stable{i}"));
        args.push("x".into());
    }
    c.cmd(&args);
    for round in 0..3 {
        let mut cursor = "0".to_string();
        let mut seen = BTreeSet::new();
        let mut step = 0u64;
        loop {
            let r = c.cmd(&["HSCAN", "h", &cursor, "COUNT", "7"]).items();
            for p in strings(&r[1]).chunks(2) {
                seen.insert(p[0].clone());
            }
            cursor = r[0].text();
            if cursor == "0" {
                break;
            }
            step += 1;
            // Grow a lot (rehash to a bigger table), then shrink back (HDEL resizes).
            if step.is_multiple_of(5) {
                let mut add = vec!["HSET".to_string(), "h".into()];
                for i in 0..200 {
                    add.push(format!("tmp{round}-{step}-{i}"));
                    add.push("y".into());
                }
                c.cmd(&add);
            }
            if step % 5 == 3 {
                let r = c.q("HKEYS h");
                let tmp: Vec<String> = strings(&r)
                    .into_iter()
                    .filter(|f| f.starts_with("tmp"))
                    .collect();
                if !tmp.is_empty() {
                    let mut del = vec!["HDEL".to_string(), "h".into()];
                    del.extend(tmp);
                    c.cmd(&del);
                }
            }
        }
        for i in 0..2000 {
            assert!(
                seen.contains(&format!("stable{i}")),
                "round {round}: stable{i} missed"
            );
        }
    }
}

#[test]
fn encoding_conversions() {
    let s = Server::start(&[
        "--hash-max-listpack-entries",
        "4",
        "--hash-max-listpack-value",
        "8",
    ]);
    let mut c = s.conn();
    assert_eq!(c.q("HSET h a 1 b 2 c 3 d 4"), int(4));
    assert_eq!(encoding(&mut c, "h"), "listpack");
    assert_eq!(c.q("HSET h e 5"), int(1));
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    // For good, even when it shrinks again.
    assert_eq!(c.q("HDEL h a b c d"), int(4));
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    // Duplicates in one HSET count once.
    assert_eq!(c.q("HSET d a 1 a 2 a 3 a 4 a 5 b 1"), int(2));
    assert_eq!(encoding(&mut c, "d"), "listpack");
    // A field or value longer than the limit converts, checked before the insert.
    assert_eq!(c.q("HSET v f 12345678"), int(1));
    assert_eq!(encoding(&mut c, "v"), "listpack");
    assert_eq!(c.q("HSET v2 f 123456789"), int(1));
    assert_eq!(encoding(&mut c, "v2"), "hashtable");
    assert_eq!(c.q("HSET v3 f123456789 1"), int(1));
    assert_eq!(encoding(&mut c, "v3"), "hashtable");
    assert_eq!(c.q("HSETNX v4 f 123456789"), int(1));
    assert_eq!(encoding(&mut c, "v4"), "hashtable");
    // HSETNX refused: nothing converts.
    assert_eq!(c.q("HSETNX v f 123456789"), int(0));
    assert_eq!(encoding(&mut c, "v"), "listpack");
    // HINCRBY and HINCRBYFLOAT results and fields count too.
    assert_eq!(c.q("HINCRBY i n 99999999"), int(99999999));
    assert_eq!(encoding(&mut c, "i"), "listpack");
    assert_eq!(c.q("HINCRBY i n 1"), int(100000000));
    assert_eq!(encoding(&mut c, "i"), "hashtable");
    assert_eq!(c.q("HINCRBYFLOAT fl n 1.5"), b("1.5"));
    assert_eq!(c.q("HINCRBYFLOAT fl n 0.0000001"), b("1.5000001"));
    assert_eq!(encoding(&mut c, "fl"), "hashtable");
    assert_eq!(c.q("HINCRBY lf longfieldname 1"), int(1));
    assert_eq!(encoding(&mut c, "lf"), "hashtable");
    // CONFIG SET applies to later writes; existing hashes stay as they are.
    assert_eq!(c.q("CONFIG SET hash-max-listpack-entries 1"), Reply::ok());
    assert_eq!(encoding(&mut c, "d"), "listpack");
    assert_eq!(c.q("HSET d a 0"), int(0));
    assert_eq!(encoding(&mut c, "d"), "hashtable");
    assert_eq!(c.q("CONFIG SET hash-max-ziplist-entries 0"), Reply::ok());
    assert_eq!(c.q("HSET z a 1"), int(1));
    assert_eq!(encoding(&mut c, "z"), "hashtable");
    assert_eq!(c.q("CONFIG SET hash-max-listpack-entries 128"), Reply::ok());
    assert_eq!(c.q("CONFIG SET hash-max-ziplist-value 0"), Reply::ok());
    assert_eq!(c.cmd(&["HSET", "e", "", ""]), int(1));
    assert_eq!(encoding(&mut c, "e"), "listpack");
    assert_eq!(c.cmd(&["HSET", "e", "", "x"]), int(0));
    assert_eq!(encoding(&mut c, "e"), "hashtable");
    // Contents survive conversions.
    assert_eq!(
        contents(&mut c, "i"),
        BTreeMap::from([("n".to_string(), "100000000".to_string())])
    );
}

#[test]
fn wrong_type() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("SET str x"), Reply::ok());
    assert_eq!(c.q("RPUSH list x"), int(1));
    assert_eq!(c.q("SADD set x"), int(1));
    assert_eq!(c.q("ZADD zset 1 x"), int(1));
    assert_eq!(c.q("HSET h f 1"), int(1));
    for key in ["str", "list", "set", "zset"] {
        for cmd in [
            "HSET K f v",
            "HMSET K f v",
            "HSETNX K f v",
            "HGET K f",
            "HMGET K f",
            "HGETALL K",
            "HKEYS K",
            "HVALS K",
            "HDEL K f",
            "HEXISTS K f",
            "HLEN K",
            "HSTRLEN K f",
            "HINCRBY K f 1",
            "HINCRBYFLOAT K f 1",
            "HRANDFIELD K",
            "HRANDFIELD K 2",
            "HRANDFIELD K -2 WITHVALUES",
            "HSCAN K 0",
        ] {
            // Only the whole-argument placeholder: `cmd.replace('K', key)` would rewrite HKEYS.
            let line = cmd
                .split(' ')
                .map(|a| if a == "K" { key } else { a })
                .collect::<Vec<_>>()
                .join(" ");
            assert_eq!(c.q(&line), err(WRONGTYPE), "{line}");
        }
    }
    // And the other families refuse a hash.
    for line in ["GET h", "LPUSH h x", "SADD h x", "ZADD h 1 x", "INCR h"] {
        assert_eq!(c.q(line), err(WRONGTYPE), "{line}");
    }
}

/// A RESP3 map with its pairs sorted.
fn sorted_map(r: Reply) -> Reply {
    match r {
        Reply::Map(mut pairs) => {
            pairs.sort_by_key(|(k, _)| k.text());
            Reply::Map(pairs)
        }
        other => panic!("not a map: {other:?}"),
    }
}

#[test]
fn resp3_shapes() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert!(matches!(c.q("HELLO 3"), Reply::Map(_)));
    assert_eq!(c.q("HSET h a 1 b 2"), int(2));
    // (The harness decodes RESP3 maps through a hash map: their order is not seen here.)
    assert_eq!(
        sorted_map(c.q("HGETALL h")),
        Reply::Map(vec![(b("a"), b("1")), (b("b"), b("2"))])
    );
    assert_eq!(c.q("HGETALL nokey"), Reply::Map(vec![]));
    assert_eq!(c.q("HKEYS h"), Reply::bulks(&["a", "b"]));
    assert_eq!(c.q("HGET h z"), Reply::Nil);
    assert_eq!(c.q("HMGET h a z"), Reply::arr(vec![b("1"), Reply::Nil]));
    assert_eq!(c.q("HEXISTS h a"), int(1));
    assert_eq!(c.q("HRANDFIELD nokey"), Reply::Nil);
    assert_eq!(c.q("HRANDFIELD nokey 2 WITHVALUES"), Reply::arr(vec![]));
    assert_eq!(c.q("HRANDFIELD h 0 WITHVALUES"), Reply::arr(vec![]));
    // WITHVALUES: an array of [field, value] pairs, for every strategy.
    for count in ["1", "2", "5", "-3"] {
        let r = c.cmd(&["HRANDFIELD", "h", count, "WITHVALUES"]);
        let items = r.items();
        let want = if count == "-3" {
            3
        } else {
            count.parse::<usize>().unwrap().min(2)
        };
        assert_eq!(items.len(), want, "{count}");
        for p in items {
            let p = strings(&p);
            assert_eq!(p.len(), 2);
            assert_eq!(p[1], if p[0] == "a" { "1" } else { "2" });
        }
    }
    // Without values, a flat array.
    assert!(c
        .q("HRANDFIELD h -3")
        .items()
        .iter()
        .all(|r| matches!(r, Reply::Bulk(_))));
    // HSCAN stays a flat array; HINCRBYFLOAT a bulk string.
    assert_eq!(
        c.q("HSCAN h 0"),
        Reply::arr(vec![b("0"), Reply::bulks(&["a", "1", "b", "2"])])
    );
    assert_eq!(c.q("HINCRBYFLOAT h a 0.5"), b("1.5"));
}

#[test]
fn keyspace_commands_on_hashes() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("HSET h a 1 b 2"), int(2));
    let mut args = vec!["HSET".to_string(), "big".into()];
    for i in 0..600 {
        args.push(format!("f{i}"));
        args.push(i.to_string());
    }
    c.cmd(&args);
    assert_eq!(c.q("TYPE h"), Reply::simple("hash"));
    assert_eq!(c.q("TYPE big"), Reply::simple("hash"));
    assert_eq!(encoding(&mut c, "h"), "listpack");
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    assert_eq!(c.q("SET str x"), Reply::ok());
    let (found, _) = {
        let mut cursor = "0".to_string();
        let mut keys = BTreeSet::new();
        loop {
            let r = c.cmd(&["SCAN", &cursor, "TYPE", "hash"]).items();
            keys.extend(strings(&r[1]));
            cursor = r[0].text();
            if cursor == "0" {
                break (keys, ());
            }
        }
    };
    assert_eq!(found, BTreeSet::from(["h".to_string(), "big".to_string()]));
    // COPY is deep: changing the copy leaves the source alone; encodings are kept.
    assert_eq!(c.q("COPY h h2"), int(1));
    assert_eq!(c.q("HSET h2 a 100"), int(0));
    assert_eq!(c.q("HGET h a"), b("1"));
    assert_eq!(c.q("HKEYS h2"), Reply::bulks(&["a", "b"]));
    assert_eq!(c.q("COPY big big2"), int(1));
    assert_eq!(encoding(&mut c, "big2"), "hashtable");
    assert_eq!(contents(&mut c, "big2"), contents(&mut c, "big"));
    assert_eq!(c.q("HDEL big2 f0"), int(1));
    assert_eq!(c.q("HLEN big"), int(600));
    // RENAME and MOVE carry the hash.
    assert_eq!(c.q("RENAME h2 h3"), Reply::ok());
    assert_eq!(c.q("HGET h3 a"), b("100"));
    assert_eq!(c.q("MOVE h3 1"), int(1));
    assert_eq!(c.q("EXISTS h3"), int(0));
    assert_eq!(c.q("SELECT 1"), Reply::ok());
    assert_eq!(c.q("HGETALL h3"), Reply::bulks(&["a", "100", "b", "2"]));
    assert_eq!(c.q("SELECT 0"), Reply::ok());
    // EXPIRE: the hash goes when its time comes; writes keep the TTL.
    assert_eq!(c.q("PEXPIRE h 300"), int(1));
    assert_eq!(c.q("HSET h c 3"), int(1));
    assert_eq!(c.q("HINCRBY h a 1"), int(2));
    assert!(c.q("PTTL h").int() > 0);
    std::thread::sleep(std::time::Duration::from_millis(350));
    assert_eq!(c.q("HGET h a"), Reply::Nil);
    assert_eq!(c.q("HLEN h"), int(0));
    assert_eq!(c.q("EXISTS h"), int(0));
    // An expired hash is a new one for writers.
    assert_eq!(c.q("HSET big2 x 1"), int(1));
    assert_eq!(c.q("PEXPIRE big2 1"), int(1));
    std::thread::sleep(std::time::Duration::from_millis(10));
    assert_eq!(c.q("HSET big2 y 1"), int(1));
    assert_eq!(c.q("HLEN big2"), int(1));
    assert_eq!(c.q("DEL big big2 str"), int(3));
    assert_eq!(c.q("DBSIZE"), int(0));
}
