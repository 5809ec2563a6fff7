//! The list command family on picket alone: every command with its options and errors, wrong
//! arity, WRONGTYPE against every other type, RESP3 shapes, the keyspace-wide commands on
//! lists, and the exact effects propagated to replicas and the AOF (checked in-process against
//! what a replica of Redis 7.0.15 receives). Comparisons with Redis itself are in
//! `lists_compat.rs`, multi-client blocking in `lists_blocking.rs`, the random walk in
//! `lists_walk.rs`.

mod common;
mod lists_util;

use common::{Conn, Reply, Server};
use lists_util::RawConn;
use picket_server::testkit::TestServer;

fn int(n: i64) -> Reply {
    Reply::Int(n)
}

fn b(s: &str) -> Reply {
    Reply::bulk(s)
}

fn bulks(v: &[&str]) -> Reply {
    Reply::bulks(v)
}

fn err(s: &str) -> Reply {
    Reply::err(s)
}

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn arity(cmd: &str) -> Reply {
    err(&format!(
        "ERR wrong number of arguments for '{cmd}' command"
    ))
}

fn range(c: &mut Conn, key: &str) -> Reply {
    c.q(&format!("LRANGE {key} 0 -1"))
}

// ------------------------------------------------------------------------------ push and pop

#[test]
fn push_and_pop_at_both_ends() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("RPUSH l a b c"), int(3));
    assert_eq!(c.q("LPUSH l z y"), int(5));
    assert_eq!(range(&mut c, "l"), bulks(&["y", "z", "a", "b", "c"]));
    // The X forms push only onto an existing list.
    assert_eq!(c.q("LPUSHX nokey a b"), int(0));
    assert_eq!(c.q("RPUSHX nokey a"), int(0));
    assert_eq!(c.q("EXISTS nokey"), int(0));
    assert_eq!(c.q("RPUSHX l d e"), int(7));
    assert_eq!(c.q("LPUSHX l x"), int(8));
    assert_eq!(c.q("LPOP l"), b("x"));
    assert_eq!(c.q("RPOP l"), b("e"));
    // With a count: an array, in the order the elements come off, up to the length.
    assert_eq!(c.q("LPOP l 2"), bulks(&["y", "z"]));
    assert_eq!(c.q("RPOP l 2"), bulks(&["d", "c"]));
    assert_eq!(c.q("LPOP l 0"), Reply::arr(vec![]));
    assert_eq!(c.q("RPOP l 100"), bulks(&["b", "a"]));
    // The last element gone, the key is gone.
    assert_eq!(c.q("EXISTS l"), int(0));
    assert_eq!(c.q("LPOP l"), Reply::Nil);
    assert_eq!(c.q("RPOP l 1"), Reply::NilArray);
    assert_eq!(c.q("LPOP l 0"), Reply::NilArray);
    // Elements are binary safe; empty elements are elements.
    assert_eq!(c.cmd(&["RPUSH", "bin", "", "a\0b", "\r\n"]), int(3));
    assert_eq!(
        c.q("LRANGE bin 0 -1"),
        Reply::arr(vec![b(""), b("a\0b"), b("\r\n")])
    );
    // Count errors come before the key is looked at.
    for bad in [
        "LPOP bin -1",
        "LPOP bin abc",
        "RPOP nokey -1",
        "LPOP bin 1.5",
    ] {
        assert_eq!(
            c.q(bad),
            err("ERR value is out of range, must be positive"),
            "{bad}"
        );
    }
    assert_eq!(c.q("LPOP bin 1 2"), arity("lpop"));
    assert_eq!(c.q("RPOP bin 1 2"), arity("rpop"));
}

#[test]
fn lmpop_pops_from_the_first_non_empty_list() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.q("RPUSH b 1 2 3 4");
    c.q("RPUSH c x");
    assert_eq!(
        c.q("LMPOP 3 a b c LEFT"),
        Reply::arr(vec![b("b"), bulks(&["1"])])
    );
    assert_eq!(
        c.q("LMPOP 3 a b c RIGHT COUNT 2"),
        Reply::arr(vec![b("b"), bulks(&["4", "3"])])
    );
    assert_eq!(
        c.q("lmpop 2 b c left count 10"),
        Reply::arr(vec![b("b"), bulks(&["2"])])
    );
    assert_eq!(c.q("EXISTS b"), int(0));
    assert_eq!(
        c.q("LMPOP 1 c RIGHT"),
        Reply::arr(vec![b("c"), bulks(&["x"])])
    );
    assert_eq!(c.q("LMPOP 2 a c LEFT"), Reply::NilArray);
    // The same key twice is fine.
    c.q("RPUSH d 1");
    assert_eq!(
        c.q("LMPOP 2 d d LEFT COUNT 5"),
        Reply::arr(vec![b("d"), bulks(&["1"])])
    );
    // Argument errors, in Redis's order.
    let numkeys = err("ERR numkeys should be greater than 0");
    let count = err("ERR count should be greater than 0");
    for (cmd, want) in [
        ("LMPOP 0 a LEFT", numkeys.clone()),
        ("LMPOP -1 a LEFT", numkeys.clone()),
        ("LMPOP abc a LEFT", numkeys.clone()),
        ("LMPOP 2 a LEFT", err(SYNTAX)),
        ("LMPOP 9223372036854775807 a LEFT", err(SYNTAX)),
        ("LMPOP 1 a MIDDLE", err(SYNTAX)),
        ("LMPOP 1 a LEFT COUNT 0", count.clone()),
        ("LMPOP 1 a LEFT COUNT -1", count.clone()),
        ("LMPOP 1 a LEFT COUNT x", count),
        ("LMPOP 1 a LEFT COUNT", err(SYNTAX)),
        ("LMPOP 1 a LEFT COUNT 1 COUNT 1", err(SYNTAX)),
        ("LMPOP 1 a LEFT FOO", err(SYNTAX)),
        ("LMPOP 1 a", arity("lmpop")),
        ("LMPOP 1", arity("lmpop")),
    ] {
        assert_eq!(c.q(cmd), want, "{cmd}");
    }
}

// ------------------------------------------------------------------------------ reading

#[test]
fn llen_lrange_lindex() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("LLEN l"), int(0));
    assert_eq!(c.q("LRANGE l 0 -1"), Reply::arr(vec![]));
    assert_eq!(c.q("LINDEX l 0"), Reply::Nil);
    c.q("RPUSH l a b c d e");
    assert_eq!(c.q("LLEN l"), int(5));
    for (args, want) in [
        ("0 -1", vec!["a", "b", "c", "d", "e"]),
        ("1 2", vec!["b", "c"]),
        ("-2 -1", vec!["d", "e"]),
        ("-100 1", vec!["a", "b"]),
        ("3 100", vec!["d", "e"]),
        ("2 2", vec!["c"]),
        ("3 1", vec![]),
        ("5 10", vec![]),
        ("-1 -2", vec![]),
        (
            "-9223372036854775808 9223372036854775807",
            vec!["a", "b", "c", "d", "e"],
        ),
    ] {
        assert_eq!(c.q(&format!("LRANGE l {args}")), bulks(&want), "{args}");
    }
    for (i, want) in [
        ("0", b("a")),
        ("4", b("e")),
        ("-1", b("e")),
        ("-5", b("a")),
        ("5", Reply::Nil),
        ("-6", Reply::Nil),
        ("9223372036854775807", Reply::Nil),
        ("-9223372036854775808", Reply::Nil),
    ] {
        assert_eq!(c.q(&format!("LINDEX l {i}")), want, "{i}");
    }
    // LRANGE parses its indexes first; LINDEX looks the key up first.
    assert_eq!(c.q("LRANGE nokey a 1"), err(NOT_INT));
    assert_eq!(c.q("LRANGE l 0 1.0"), err(NOT_INT));
    assert_eq!(c.q("LINDEX nokey abc"), Reply::Nil);
    assert_eq!(c.q("LINDEX l abc"), err(NOT_INT));
    assert_eq!(c.q("LINDEX l"), arity("lindex"));
    assert_eq!(c.q("LRANGE l 0"), arity("lrange"));
    assert_eq!(c.q("LLEN"), arity("llen"));
    assert_eq!(c.q("LLEN a b"), arity("llen"));
}

#[test]
fn lpos_with_rank_count_and_maxlen() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.q("RPUSH l a b c 1 2 3 c c");
    let ints = |v: &[i64]| Reply::arr(v.iter().map(|&n| int(n)).collect());
    for (args, want) in [
        ("c", int(2)),
        ("x", Reply::Nil),
        ("c RANK 2", int(6)),
        ("c RANK -1", int(7)),
        ("c RANK -3", int(2)),
        ("c RANK 4", Reply::Nil),
        ("c COUNT 0", ints(&[2, 6, 7])),
        ("c COUNT 2", ints(&[2, 6])),
        ("c COUNT 0 RANK -1", ints(&[7, 6, 2])),
        ("c COUNT 2 RANK 2", ints(&[6, 7])),
        ("c COUNT 0 RANK 5", ints(&[])),
        ("x COUNT 0", ints(&[])),
        ("c MAXLEN 2", Reply::Nil),
        ("c MAXLEN 3", int(2)),
        ("c COUNT 0 MAXLEN 7", ints(&[2, 6])),
        ("c COUNT 0 MAXLEN 1 RANK -1", ints(&[7])),
        ("c RANK 1 RANK 2", int(6)),
        ("c count 1 count 0", ints(&[2, 6, 7])),
        // Integers match by their text.
        ("1", int(3)),
        ("01", Reply::Nil),
        // RANK LONG_MIN: Redis's negation overflows, every match qualifies and COUNT never
        // stops the scan.
        ("c RANK -9223372036854775808", int(7)),
        ("c RANK -9223372036854775808 COUNT 1", ints(&[7, 6, 2])),
        ("c RANK 9223372036854775807", Reply::Nil),
    ] {
        assert_eq!(c.q(&format!("LPOS l {args}")), want, "{args}");
    }
    assert_eq!(c.q("LPOS nokey c"), Reply::Nil);
    assert_eq!(c.q("LPOS nokey c COUNT 0"), ints(&[]));
    let rank0 = err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
    for (args, want) in [
        ("c RANK 0", rank0.clone()),
        ("c RANK abc", err(NOT_INT)),
        ("c COUNT -1", err("ERR COUNT can't be negative")),
        ("c COUNT abc", err("ERR COUNT can't be negative")),
        ("c MAXLEN -1", err("ERR MAXLEN can't be negative")),
        ("c MAXLEN x", err("ERR MAXLEN can't be negative")),
        ("c RANK", err(SYNTAX)),
        ("c FOO 1", err(SYNTAX)),
        ("c COUNT 1 MAXLEN", err(SYNTAX)),
    ] {
        assert_eq!(c.q(&format!("LPOS l {args}")), want, "{args}");
        // Options are checked before the key.
        assert_eq!(c.q(&format!("LPOS nokey {args}")), want, "{args}");
    }
    assert_eq!(c.q("LPOS l"), arity("lpos"));
}

// ------------------------------------------------------------------------------ writing

#[test]
fn lset_linsert_lrem_ltrim() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    // LSET
    assert_eq!(c.q("LSET nokey 0 x"), err("ERR no such key"));
    assert_eq!(c.q("LSET nokey abc x"), err("ERR no such key"));
    c.q("RPUSH l a b c");
    assert_eq!(c.q("LSET l 0 A"), Reply::ok());
    assert_eq!(c.q("LSET l -1 C"), Reply::ok());
    assert_eq!(range(&mut c, "l"), bulks(&["A", "b", "C"]));
    for i in ["3", "-4", "9223372036854775807", "-9223372036854775808"] {
        assert_eq!(
            c.q(&format!("LSET l {i} x")),
            err("ERR index out of range"),
            "{i}"
        );
    }
    assert_eq!(c.q("LSET l x y"), err(NOT_INT));
    // LINSERT
    assert_eq!(c.q("LINSERT l BEFORE b x"), int(4));
    assert_eq!(c.q("linsert l after C y"), int(5));
    assert_eq!(c.q("LINSERT l After A z"), int(6));
    assert_eq!(range(&mut c, "l"), bulks(&["A", "z", "x", "b", "C", "y"]));
    assert_eq!(c.q("LINSERT l BEFORE nope v"), int(-1));
    assert_eq!(c.q("LINSERT nokey BEFORE a v"), int(0));
    assert_eq!(c.q("EXISTS nokey"), int(0));
    assert_eq!(c.q("LINSERT l MIDDLE a v"), err(SYNTAX));
    assert_eq!(c.q("LINSERT nokey MIDDLE a v"), err(SYNTAX));
    assert_eq!(c.q("LINSERT l BEFORE a"), arity("linsert"));
    // The first pivot from the head.
    c.q("DEL l");
    c.q("RPUSH l p q p");
    assert_eq!(c.q("LINSERT l AFTER p n"), int(4));
    assert_eq!(range(&mut c, "l"), bulks(&["p", "n", "q", "p"]));
    // LREM
    c.q("DEL l");
    c.q("RPUSH l a b a c a b a");
    assert_eq!(c.q("LREM l 2 a"), int(2));
    assert_eq!(range(&mut c, "l"), bulks(&["b", "c", "a", "b", "a"]));
    assert_eq!(c.q("LREM l -1 b"), int(1));
    assert_eq!(range(&mut c, "l"), bulks(&["b", "c", "a", "a"]));
    assert_eq!(c.q("LREM l 0 a"), int(2));
    assert_eq!(c.q("LREM l 0 zz"), int(0));
    assert_eq!(c.q("LREM nokey 0 a"), int(0));
    assert_eq!(c.q("LREM l abc a"), err(NOT_INT));
    assert_eq!(c.q("LREM nokey abc a"), err(NOT_INT));
    // LONG_MIN as a count removes every match from the tail (Redis's negation overflows).
    c.q("RPUSH l b b");
    assert_eq!(c.q("LREM l -9223372036854775808 b"), int(3));
    assert_eq!(range(&mut c, "l"), bulks(&["c"]));
    assert_eq!(c.q("LREM l 1 c"), int(1));
    assert_eq!(c.q("EXISTS l"), int(0));
    // LTRIM
    c.q("RPUSH l a b c d e f");
    assert_eq!(c.q("LTRIM l 1 -2"), Reply::ok());
    assert_eq!(range(&mut c, "l"), bulks(&["b", "c", "d", "e"]));
    assert_eq!(c.q("LTRIM l -100 100"), Reply::ok());
    assert_eq!(c.q("LLEN l"), int(4));
    assert_eq!(c.q("LTRIM l 0 0"), Reply::ok());
    assert_eq!(range(&mut c, "l"), bulks(&["b"]));
    assert_eq!(c.q("LTRIM l 1 0"), Reply::ok());
    assert_eq!(c.q("EXISTS l"), int(0));
    assert_eq!(c.q("LTRIM nokey 0 1"), Reply::ok());
    assert_eq!(c.q("LTRIM nokey a 1"), err(NOT_INT));
    assert_eq!(c.q("LTRIM l 0"), arity("ltrim"));
}

#[test]
fn lmove_and_rpoplpush() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.q("RPUSH src a b c d");
    assert_eq!(c.q("LMOVE src dst LEFT RIGHT"), b("a"));
    assert_eq!(c.q("LMOVE src dst left left"), b("b"));
    assert_eq!(c.q("LMOVE src dst RIGHT RIGHT"), b("d"));
    assert_eq!(c.q("RPOPLPUSH src dst"), b("c"));
    assert_eq!(c.q("EXISTS src"), int(0));
    assert_eq!(range(&mut c, "dst"), bulks(&["c", "b", "a", "d"]));
    assert_eq!(c.q("LMOVE src dst LEFT LEFT"), Reply::Nil);
    assert_eq!(c.q("RPOPLPUSH src dst"), Reply::Nil);
    // Rotation within one list, also of a single element (the key stays).
    assert_eq!(c.q("LMOVE dst dst LEFT RIGHT"), b("c"));
    assert_eq!(c.q("RPOPLPUSH dst dst"), b("c"));
    assert_eq!(range(&mut c, "dst"), bulks(&["c", "b", "a", "d"]));
    c.q("RPUSH one x");
    assert_eq!(c.q("RPOPLPUSH one one"), b("x"));
    assert_eq!(c.q("LMOVE one one RIGHT LEFT"), b("x"));
    assert_eq!(range(&mut c, "one"), bulks(&["x"]));
    // A destination of another type is refused before anything is popped; a missing source
    // answers nil whatever the destination.
    c.q("SET str v");
    assert_eq!(c.q("LMOVE one str LEFT LEFT"), err(WRONGTYPE));
    assert_eq!(c.q("RPOPLPUSH one str"), err(WRONGTYPE));
    assert_eq!(range(&mut c, "one"), bulks(&["x"]));
    assert_eq!(c.q("LMOVE nokey str LEFT LEFT"), Reply::Nil);
    assert_eq!(c.q("LMOVE str one LEFT LEFT"), err(WRONGTYPE));
    // Sides are checked first.
    assert_eq!(c.q("LMOVE str one UP LEFT"), err(SYNTAX));
    assert_eq!(c.q("LMOVE one two LEFT DOWN"), err(SYNTAX));
    assert_eq!(c.q("LMOVE one two LEFT"), arity("lmove"));
    assert_eq!(c.q("RPOPLPUSH one"), arity("rpoplpush"));
}

// ------------------------------------------------------------------------------ errors

#[test]
fn wrong_arity_for_every_command() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    for (cmd, short) in [
        ("lpush", "LPUSH k"),
        ("rpush", "RPUSH k"),
        ("lpushx", "LPUSHX k"),
        ("rpushx", "RPUSHX k"),
        ("lpop", "LPOP"),
        ("rpop", "RPOP"),
        ("llen", "LLEN"),
        ("lrange", "LRANGE k 0"),
        ("lindex", "LINDEX k"),
        ("lset", "LSET k 0"),
        ("linsert", "LINSERT k BEFORE p"),
        ("lrem", "LREM k 0"),
        ("ltrim", "LTRIM k 0"),
        ("lpos", "LPOS k"),
        ("rpoplpush", "RPOPLPUSH k"),
        ("lmove", "LMOVE a b LEFT"),
        ("lmpop", "LMPOP 1 k"),
        ("blpop", "BLPOP k"),
        ("brpop", "BRPOP k"),
        ("brpoplpush", "BRPOPLPUSH a b"),
        ("blmove", "BLMOVE a b LEFT RIGHT"),
        ("blmpop", "BLMPOP 0 1 k"),
    ] {
        assert_eq!(c.q(short), arity(cmd), "{short}");
    }
    for long in [
        "LLEN a b",
        "LRANGE k 0 1 2",
        "LINDEX k 0 1",
        "LSET k 0 v w",
        "LINSERT k BEFORE p v w",
        "LREM k 0 v w",
        "LTRIM k 0 1 2",
        "RPOPLPUSH a b c",
        "LMOVE a b LEFT RIGHT x",
        "BRPOPLPUSH a b 0 1",
        "BLMOVE a b LEFT RIGHT 0 1",
    ] {
        let name = long.split(' ').next().unwrap().to_ascii_lowercase();
        assert_eq!(c.q(long), arity(&name), "{long}");
    }
}

/// Keys of every other type that exists in this build (the other families are being
/// written concurrently: a type whose creating command fails is left out).
fn other_types(c: &mut Conn) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![];
    for (key, create) in [
        ("str", "SET str v"),
        ("hash", "HSET hash f v"),
        ("set", "SADD set m"),
        ("zset", "ZADD zset 1 m"),
    ] {
        if !c.q(create).is_error() && c.q(&format!("EXISTS {key}")) == int(1) {
            out.push((key, create));
        }
    }
    out
}

#[test]
fn wrongtype_against_every_other_type() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.q("RPUSH l a");
    let types = other_types(&mut c);
    assert!(!types.is_empty());
    for (k, _) in &types {
        for cmd in [
            "LPUSH {} a",
            "RPUSH {} a",
            "LPUSHX {} a",
            "RPUSHX {} a",
            "LPOP {}",
            "RPOP {}",
            "LPOP {} 0",
            "RPOP {} 2",
            "LLEN {}",
            "LRANGE {} 0 -1",
            "LINDEX {} 0",
            "LINDEX {} abc",
            "LSET {} 0 x",
            "LSET {} abc x",
            "LINSERT {} BEFORE a b",
            "LREM {} 0 a",
            "LTRIM {} 0 1",
            "LPOS {} a",
            "LPOS {} a COUNT 0",
            "RPOPLPUSH {} l",
            "LMOVE {} l LEFT LEFT",
            "LMPOP 1 {} LEFT",
            "LMPOP 2 nokey {} LEFT",
            "BLPOP nokey {} 0",
            "BRPOP {} 0",
            "BLMOVE {} l LEFT LEFT 0",
            "BRPOPLPUSH {} l 0",
            "BLMPOP 0 2 nokey {} RIGHT",
            // As a destination.
            "RPOPLPUSH l {}",
            "LMOVE l {} RIGHT LEFT",
            "BLMOVE l {} RIGHT LEFT 0",
            "BRPOPLPUSH l {} 0",
        ] {
            let line = cmd.replace("{}", k);
            assert_eq!(c.q(&line), err(WRONGTYPE), "{line}");
        }
        // Nothing was moved, and the other key is unchanged.
        assert_eq!(range(&mut c, "l"), bulks(&["a"]));
        assert_eq!(c.q(&format!("TYPE {k}")).text(), *k_type(k));
    }
    // A non-empty list earlier in the key list is served before the wrong type is seen.
    assert_eq!(
        c.q("LMPOP 2 l str LEFT"),
        Reply::arr(vec![b("l"), bulks(&["a"])])
    );
    c.q("RPUSH l a");
    assert_eq!(c.q("BLPOP l str 0"), bulks(&["l", "a"]));
}

fn k_type(k: &str) -> &'static str {
    match k {
        "str" => "string",
        "hash" => "hash",
        "set" => "set",
        _ => "zset",
    }
}

// ------------------------------------------------------------------------------ RESP3

#[test]
fn resp3_shapes() {
    let s = Server::start(&[]);
    let mut c = RawConn::connect(s.port);
    c.q("HELLO 3");
    c.q("RPUSH l a b c");
    for (cmd, want) in [
        ("LPOP nokey", "_\r\n"),
        ("LPOP nokey 2", "_\r\n"),
        ("LINDEX nokey 0", "_\r\n"),
        ("LINDEX l 9", "_\r\n"),
        ("LPOS l zz", "_\r\n"),
        ("LPOS l zz COUNT 0", "*0\r\n"),
        ("LMPOP 1 nokey LEFT", "_\r\n"),
        ("LMOVE nokey l LEFT LEFT", "_\r\n"),
        ("BLPOP nokey 0.01", "_\r\n"),
        ("BLMOVE nokey l LEFT LEFT 0.01", "_\r\n"),
        ("BRPOPLPUSH nokey l 0.01", "_\r\n"),
        ("BLMPOP 0.01 1 nokey LEFT", "_\r\n"),
        ("LPOS l b", ":1\r\n"),
        ("LRANGE l 0 0", "*1\r\n$1\r\na\r\n"),
        ("LPOP l 1", "*1\r\n$1\r\na\r\n"),
        ("LMPOP 1 l LEFT", "*2\r\n$1\r\nl\r\n*1\r\n$1\r\nb\r\n"),
        ("BLPOP l 0", "*2\r\n$1\r\nl\r\n$1\r\nc\r\n"),
    ] {
        assert_eq!(c.q(cmd), want, "{cmd}");
    }
}

// ------------------------------------------------------------------------------ keyspace

#[test]
fn keyspace_commands_on_lists() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.q("RPUSH l a b c");
    assert_eq!(c.q("TYPE l"), Reply::simple("list"));
    assert_eq!(c.q("OBJECT ENCODING l"), b("quicklist"));
    // Long or many elements: still a quicklist in 7.0.
    c.cmd(&["RPUSH", "big", &"x".repeat(10_000)]);
    assert_eq!(c.q("OBJECT ENCODING big"), b("quicklist"));
    // RENAME and COPY carry the elements; the copy is independent.
    assert_eq!(c.q("RENAME l l2"), Reply::ok());
    assert_eq!(range(&mut c, "l2"), bulks(&["a", "b", "c"]));
    assert_eq!(c.q("COPY l2 l3"), int(1));
    assert_eq!(c.q("RPUSH l3 d"), int(4));
    assert_eq!(c.q("LLEN l2"), int(3));
    assert_eq!(c.q("COPY l2 l3"), int(0));
    assert_eq!(c.q("COPY l2 l3 REPLACE"), int(1));
    assert_eq!(range(&mut c, "l3"), bulks(&["a", "b", "c"]));
    // MOVE to another database.
    assert_eq!(c.q("MOVE l3 1"), int(1));
    assert_eq!(c.q("EXISTS l3"), int(0));
    c.q("SELECT 1");
    assert_eq!(range(&mut c, "l3"), bulks(&["a", "b", "c"]));
    assert_eq!(c.q("TYPE l3"), Reply::simple("list"));
    c.q("SELECT 0");
    // SCAN TYPE list sees lists only.
    c.q("SET s v");
    let scan = c.q("SCAN 0 COUNT 1000 TYPE list");
    let mut keys: Vec<String> = scan.items()[1].items().iter().map(Reply::text).collect();
    keys.sort();
    assert_eq!(keys, ["big", "l2"]);
    // DEL, and UNLINK.
    assert_eq!(c.q("DEL l2"), int(1));
    assert_eq!(c.q("UNLINK big"), int(1));
    assert_eq!(c.q("LLEN l2"), int(0));
    // EXPIRE: the list goes with its TTL; a list emptied and recreated has none.
    c.q("RPUSH e a b");
    assert_eq!(c.q("PEXPIRE e 50"), int(1));
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(c.q("LLEN e"), int(0));
    assert_eq!(c.q("RPUSHX e a"), int(0));
    c.q("RPUSH e a");
    c.q("EXPIRE e 100");
    assert_eq!(c.q("RPOP e"), b("a"));
    c.q("RPUSH e b");
    assert_eq!(c.q("TTL e"), int(-1));
    // Changing elements keeps the TTL.
    c.q("EXPIRE e 100");
    c.q("LPUSH e a");
    c.q("LSET e 0 z");
    c.q("LMOVE e e LEFT RIGHT");
    assert!(c.q("TTL e").int() > 90);
}

// ------------------------------------------------------------------------------ propagation

/// What each list command sends to replicas and the AOF, as a replica of Redis 7.0.15 sees it
/// (captured with `PSYNC ? -1`).
#[test]
fn propagated_as_redis() {
    let mut t = TestServer::new(&[]);
    let c = t.connect();
    let mut step = |line: &str, want: &[&str]| {
        t.line(c, line);
        assert_eq!(t.propagated(), want, "{line}");
    };
    step("rpush l a b c d e f", &["rpush l a b c d e f"]);
    step("LPUSHX nokey a", &[]);
    step("RPUSHX l g", &["RPUSHX l g"]);
    step("LPOP l 0", &[]);
    step("LPOP nokey", &[]);
    step("LPOP l 2", &["LPOP l 2"]);
    step("RPOP l", &["RPOP l"]);
    // No-ops change nothing and propagate nothing.
    step("LTRIM l 0 -1", &[]);
    step("LREM l 0 zz", &[]);
    step("LINSERT l BEFORE zz x", &[]);
    step("LMOVE nokey l LEFT LEFT", &[]);
    step("LMPOP 1 nokey LEFT", &[]);
    step("LTRIM l 0 1", &["LTRIM l 0 1"]);
    step("LSET l 0 x", &["LSET l 0 x"]);
    step("LINSERT l AFTER x y", &["LINSERT l AFTER x y"]);
    step("LREM l 1 y", &["LREM l 1 y"]);
    step("lmove l d LEFT right", &["lmove l d LEFT right"]);
    step("RPOPLPUSH l d", &["RPOPLPUSH l d"]);
    // The multi-key pops become a plain pop with the number actually popped.
    step("RPUSH m 1 2 3", &["RPUSH m 1 2 3"]);
    step("LMPOP 2 nokey m RIGHT COUNT 2", &["RPOP m 2"]);
    step("lmpop 1 m left count 9", &["LPOP m 1"]);
    // Blocking forms served at once: their plain forms, arguments as typed.
    step("RPUSH s 1 2 3 4 5", &["RPUSH s 1 2 3 4 5"]);
    step("blpop nokey s 0", &["LPOP s"]);
    step("BRPOP s 0", &["RPOP s"]);
    step("blmove s d Left RIGHT 0", &["LMOVE s d Left RIGHT"]);
    step("brpoplpush s d 0", &["RPOPLPUSH s d"]);
    step("BLMPOP 0 1 s LEFT COUNT 10", &["LPOP s 1"]);
    // Time-outs inside MULTI propagate nothing but the transaction's other writes.
    step("MULTI", &[]);
    step("BLMOVE nokey d LEFT LEFT 0", &[]);
    step("BLMPOP 0 1 nokey LEFT", &[]);
    step("EXEC", &[]);
}

#[test]
fn served_blocking_commands_propagate_their_plain_forms() {
    let mut t = TestServer::new(&[]);
    let (w1, w2, w3, p) = (t.connect(), t.connect(), t.connect(), t.connect());
    // BLMOVE served after blocking: LMOVE with the sides in lowercase (Redis's
    // `serveClientBlockedOnList` uses its shared "left"/"right" objects).
    assert_eq!(t.line(w1, "BLMOVE src dst LEFT RIGHT 0"), "");
    assert!(t.propagated().is_empty());
    assert_eq!(t.line(p, "RPUSH src a b"), ":2\r\n");
    assert_eq!(t.pending_output(w1), "$1\r\na\r\n");
    assert_eq!(
        t.propagated(),
        ["RPUSH src a b", "LMOVE src dst left right"]
    );
    // BRPOPLPUSH: RPOPLPUSH.
    assert_eq!(t.line(w1, "BRPOPLPUSH q dst 0"), "");
    t.line(p, "LPUSH q x");
    assert_eq!(t.pending_output(w1), "$1\r\nx\r\n");
    assert_eq!(t.propagated(), ["LPUSH q x", "RPOPLPUSH q dst"]);
    // BLMPOP: [LR]POP key <popped>.
    assert_eq!(t.line(w1, "BLMPOP 0 2 m1 m2 RIGHT COUNT 5"), "");
    t.line(p, "RPUSH m2 1 2 3");
    assert_eq!(
        t.pending_output(w1),
        "*2\r\n$2\r\nm2\r\n*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n"
    );
    assert_eq!(t.propagated(), ["RPUSH m2 1 2 3", "RPOP m2 3"]);
    // A chain: each move into a waited-for list serves the next waiter, in order.
    assert_eq!(t.line(w1, "BLMOVE s1 s2 RIGHT LEFT 0"), "");
    assert_eq!(t.line(w2, "BLMOVE s2 s3 RIGHT LEFT 0"), "");
    assert_eq!(t.line(w3, "BLPOP s3 0"), "");
    t.line(p, "RPUSH s1 job");
    assert_eq!(t.pending_output(w1), "$3\r\njob\r\n");
    assert_eq!(t.pending_output(w2), "$3\r\njob\r\n");
    assert_eq!(t.pending_output(w3), "*2\r\n$2\r\ns3\r\n$3\r\njob\r\n");
    assert_eq!(
        t.propagated(),
        [
            "RPUSH s1 job",
            "LMOVE s1 s2 right left",
            "LMOVE s2 s3 right left",
            "LPOP s3"
        ]
    );
    assert_eq!(t.line(p, "EXISTS s1 s2 s3"), ":0\r\n");
    // A served BLMOVE whose destination has become another type: WRONGTYPE for the waiter,
    // the source untouched, nothing propagated for it.
    assert_eq!(t.line(w1, "BLMOVE a b LEFT LEFT 0"), "");
    t.line(p, "SET b str");
    t.line(p, "RPUSH a v");
    assert_eq!(
        t.pending_output(w1),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(t.propagated(), ["SET b str", "RPUSH a v"]);
    assert_eq!(t.line(p, "LLEN a"), ":1\r\n");
    assert!(t.srv.keyspace.blocking.is_empty());
}
