//! The keyspace family: DEL/UNLINK, EXISTS, TYPE, TOUCH, the EXPIRE and TTL families, PERSIST,
//! RENAME(NX), COPY, MOVE, SWAPDB, FLUSHDB/FLUSHALL, KEYS, SCAN, RANDOMKEY, OBJECT; expiry
//! (active and lazy), WATCH invalidation, several databases, keyspace events, and differential
//! runs against Redis 7.0 (fixed edge cases and a seeded random walk).

mod common;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{Conn, Pair, Reply, Server};

const DEBUG: &[&str] = &["--enable-debug-command", "yes"];

fn start() -> Server {
    Server::start(DEBUG)
}

fn int(n: i64) -> Reply {
    Reply::Int(n)
}

fn err(s: &str) -> Reply {
    Reply::err(s)
}

/// The items of an array reply as strings, sorted (KEYS and SCAN orders are the hash's).
fn sorted(r: &Reply) -> Vec<String> {
    let mut v: Vec<String> = r.items().iter().map(|x| x.text()).collect();
    v.sort();
    v
}

/// A whole SCAN iteration: every key returned (with repeats), the number of calls.
fn scan_all(c: &mut Conn, extra: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let r = c.cmd(&args);
        calls += 1;
        let items = r.items();
        assert_eq!(items.len(), 2, "{r:?}");
        cursor = items[0].text();
        out.extend(items[1].items().iter().map(|k| k.text()));
        if cursor == "0" {
            return (out, calls);
        }
        assert!(calls < 1_000_000, "SCAN does not end");
    }
}

fn dbsize(c: &mut Conn) -> i64 {
    c.q("DBSIZE").int()
}

/// The `dbN:keys=..,expires=..` lines of INFO keyspace, without avg_ttl.
fn keyspace(c: &mut Conn) -> Vec<String> {
    c.q("INFO keyspace")
        .text()
        .lines()
        .filter(|l| l.starts_with("db"))
        .map(|l| l.split(",avg_ttl").next().unwrap_or(l).to_string())
        .collect()
}

fn info_field(c: &mut Conn, section: &str, field: &str) -> i64 {
    let text = c.cmd(&["INFO", section]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .parse()
        .expect("number")
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

// ------------------------------------------------------------------------------ basics

#[test]
fn del_unlink_exists_type_touch() {
    let s = start();
    let mut c = s.conn();
    assert_eq!(c.q("DEL nokey"), int(0));
    c.q("SET a 1");
    c.q("SET b 2");
    c.q("SET c 3");
    assert_eq!(c.q("EXISTS a a nokey b"), int(3));
    assert_eq!(c.q("TYPE a"), Reply::simple("string"));
    assert_eq!(c.q("TYPE nokey"), Reply::simple("none"));
    assert_eq!(c.q("TOUCH a nokey b b"), int(3));
    assert_eq!(c.q("DEL a a nokey"), int(1));
    assert_eq!(c.q("UNLINK b c nokey"), int(2));
    assert_eq!(c.q("EXISTS a b c"), int(0));
    assert_eq!(dbsize(&mut c), 0);
    // Binary and empty key names.
    assert_eq!(c.cmd(&[&b"SET"[..], b"", b"empty"]), Reply::ok());
    assert_eq!(c.cmd(&[&b"SET"[..], b"\x00\xff\r\n", b"bin"]), Reply::ok());
    assert_eq!(c.cmd(&[&b"EXISTS"[..], b"", b"\x00\xff\r\n"]), int(2));
    assert_eq!(c.cmd(&[&b"DEL"[..], b"", b"\x00\xff\r\n"]), int(2));
}

#[test]
fn arity_errors_and_connection_survives() {
    let s = start();
    let mut c = s.conn();
    for (cmd, name) in [
        ("DEL", "del"),
        ("UNLINK", "unlink"),
        ("EXISTS", "exists"),
        ("TYPE", "type"),
        ("TYPE a b", "type"),
        ("TOUCH", "touch"),
        ("EXPIRE a", "expire"),
        ("PEXPIRE a", "pexpire"),
        ("EXPIREAT a", "expireat"),
        ("PEXPIREAT a", "pexpireat"),
        ("TTL", "ttl"),
        ("PTTL a b", "pttl"),
        ("EXPIRETIME", "expiretime"),
        ("PEXPIRETIME a b", "pexpiretime"),
        ("PERSIST", "persist"),
        ("RENAME a", "rename"),
        ("RENAMENX a b c", "renamenx"),
        ("COPY a", "copy"),
        ("MOVE a", "move"),
        ("SWAPDB 0", "swapdb"),
        ("KEYS", "keys"),
        ("KEYS a b", "keys"),
        ("SCAN", "scan"),
        ("RANDOMKEY x", "randomkey"),
        ("OBJECT", "object"),
        ("OBJECT ENCODING", "object|encoding"),
        ("OBJECT REFCOUNT a b", "object|refcount"),
        ("OBJECT HELP x", "object|help"),
    ] {
        assert_eq!(
            c.q(cmd),
            err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            )),
            "{cmd}"
        );
    }
    assert_eq!(
        c.q("OBJECT nosuch k"),
        err("ERR unknown subcommand 'nosuch'. Try OBJECT HELP.")
    );
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
}

// ------------------------------------------------------------------------------ expiry

#[test]
fn expire_options_errors_and_overflow() {
    let s = start();
    let mut c = s.conn();
    c.q("SET a 1");
    // Options are checked before the number, the number before the key.
    assert_eq!(c.q("EXPIRE a 10 foo"), err("ERR Unsupported option foo"));
    assert_eq!(c.q("EXPIRE a abc foo"), err("ERR Unsupported option foo"));
    assert_eq!(
        c.q("EXPIRE a abc nx"),
        err("ERR value is not an integer or out of range")
    );
    let nx = "ERR NX and XX, GT or LT options at the same time are not compatible";
    for opts in ["nx xx", "NX GT", "lt nx", "nx xx gt"] {
        assert_eq!(c.q(&format!("EXPIRE a 10 {opts}")), err(nx), "{opts}");
    }
    assert_eq!(
        c.q("PEXPIRE a 10 gt LT"),
        err("ERR GT and LT options at the same time are not compatible")
    );
    assert_eq!(
        c.q("EXPIRE nokey 10 foo"),
        err("ERR Unsupported option foo")
    );
    assert_eq!(c.q("EXPIRE nokey 10"), int(0));
    assert_eq!(
        c.q("EXPIRE a 1.5"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.q("EXPIRE a 0x10"),
        err("ERR value is not an integer or out of range")
    );
    // Overflow of the unit conversion or of the addition of now.
    for (cmd, name) in [
        ("EXPIRE a 9223372036854775807", "expire"),
        ("EXPIRE a 9223372036854775", "expire"),
        ("EXPIRE a -9223372036854776", "expire"),
        ("PEXPIRE a 9223372036854775807", "pexpire"),
        ("EXPIREAT a 9223372036854776", "expireat"),
        ("EXPIREAT a -9223372036854776", "expireat"),
    ] {
        assert_eq!(
            c.q(cmd),
            err(&format!("ERR invalid expire time in '{name}' command")),
            "{cmd}"
        );
    }
    assert_eq!(c.q("TTL a"), int(-1));
    // The largest times are accepted.
    assert_eq!(c.q("PEXPIREAT a 9223372036854775807"), int(1));
    assert_eq!(c.q("PEXPIRETIME a"), int(9223372036854775807));
    assert_eq!(c.q("EXPIRETIME a"), int(9223372036854776));
    assert_eq!(c.q("EXPIREAT a 9223372036854775"), int(1));
    assert_eq!(c.q("PEXPIRETIME a"), int(9223372036854775000));
    // NX / XX / GT / LT.
    c.q("PERSIST a");
    assert_eq!(c.q("EXPIRE a 100 XX"), int(0));
    assert_eq!(
        c.q("EXPIRE a 100 GT"),
        int(0),
        "no TTL is infinite: GT fails"
    );
    assert_eq!(c.q("EXPIRE a 100 NX"), int(1));
    assert_eq!(c.q("EXPIRE a 200 NX"), int(0));
    assert_eq!(c.q("EXPIRE a 50 GT"), int(0));
    assert_eq!(c.q("EXPIRE a 200 gt"), int(1));
    assert_eq!(c.q("EXPIRE a 300 LT"), int(0));
    assert_eq!(c.q("EXPIRE a 150 xx lt"), int(1));
    assert_eq!(c.q("TTL a"), int(150));
    c.q("PERSIST a");
    assert_eq!(
        c.q("EXPIRE a 100 LT"),
        int(1),
        "no TTL is infinite: LT passes"
    );
    // A time in the past deletes the key (with options too).
    assert_eq!(c.q("EXPIRE a -1 lt"), int(1));
    assert_eq!(c.q("EXISTS a"), int(0));
    for cmd in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        c.q("SET b x");
        assert_eq!(c.cmd(&[cmd, "b", "0"]), int(1), "{cmd}");
        assert_eq!(c.q("GET b"), Reply::Nil, "{cmd}");
    }
    c.q("SET b x");
    assert_eq!(c.q("PEXPIRE b -9223372036854775808"), int(1));
    assert_eq!(c.q("EXISTS b"), int(0));
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
}

#[test]
fn ttl_family_and_persist() {
    let s = start();
    let mut c = s.conn();
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(c.cmd(&[cmd, "nokey"]), int(-2));
    }
    c.q("SET k v");
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(c.cmd(&[cmd, "k"]), int(-1));
    }
    assert_eq!(c.q("PERSIST k"), int(0));
    assert_eq!(c.q("PERSIST nokey"), int(0));
    let at_ms: i64 = 4_102_444_800_123; // 2100-01-01 plus 123 ms
    assert_eq!(c.q(&format!("PEXPIREAT k {at_ms}")), int(1));
    assert_eq!(c.q("PEXPIRETIME k"), int(at_ms));
    assert_eq!(c.q("EXPIRETIME k"), int(4_102_444_800));
    c.q(&format!("PEXPIREAT k {}", at_ms + 400));
    assert_eq!(c.q("EXPIRETIME k"), int(4_102_444_801), "rounded");
    let now_ms = c.q("TIME").items()[0].text().parse::<i64>().unwrap() * 1000;
    let pttl = c.q("PTTL k").int();
    assert!((pttl - (at_ms + 400 - now_ms)).abs() < 3000, "{pttl}");
    c.q("PEXPIRE k 100400");
    let pttl = c.q("PTTL k").int();
    assert!((99_000..=100_400).contains(&pttl), "{pttl}");
    assert_eq!(c.q("TTL k"), int(100));
    c.q("PEXPIRE k 1499");
    assert_eq!(c.q("TTL k"), int(1), "TTL rounds to the nearest second");
    assert_eq!(c.q("PERSIST k"), int(1));
    assert_eq!(c.q("TTL k"), int(-1));
    assert_eq!(c.q("PERSIST k"), int(0));
    // SET without KEEPTTL drops the TTL; EXPIRE on a key with a TTL replaces it.
    c.q("EXPIRE k 100");
    c.q("SET k v2");
    assert_eq!(c.q("TTL k"), int(-1));
}

#[test]
fn active_expiry_removes_untouched_keys() {
    let s = start();
    let mut c = s.conn();
    for i in 0..50 {
        c.q(&format!("SET vol{i} x PX 100"));
    }
    c.q("SELECT 2");
    for i in 0..30 {
        c.q(&format!("SET vol{i} x"));
        c.q(&format!("PEXPIRE vol{i} 100"));
    }
    c.q("SET keep y");
    c.q("SELECT 0");
    c.q("SET keep y");
    assert_eq!(
        keyspace(&mut c),
        vec!["db0:keys=51,expires=50", "db2:keys=31,expires=30"]
    );
    // Nobody touches the keys: the cron deletes them.
    wait_until("active expiry", || {
        keyspace(&mut c) == vec!["db0:keys=1,expires=0", "db2:keys=1,expires=0"]
    });
    assert_eq!(dbsize(&mut c), 1);
    assert_eq!(info_field(&mut c, "stats", "expired_keys"), 80);
}

#[test]
fn lazy_expiry_on_access() {
    let s = start();
    let mut c = s.conn();
    assert_eq!(c.q("DEBUG SET-ACTIVE-EXPIRE 0"), Reply::ok());
    let expire_all = |c: &mut Conn| {
        for k in ["a", "b", "c", "d"] {
            c.cmd(&["SET", k, "v", "PX", "30"]);
        }
        std::thread::sleep(Duration::from_millis(80));
    };
    expire_all(&mut c);
    c.q("SET live v");
    assert_eq!(dbsize(&mut c), 5, "not deleted without access");
    // KEYS skips them but does not delete them.
    assert_eq!(sorted(&c.q("KEYS *")), vec!["live"]);
    assert_eq!(dbsize(&mut c), 5);
    assert_eq!(c.q("EXISTS a"), int(0));
    assert_eq!(c.q("TTL b"), int(-2));
    assert_eq!(c.q("TYPE c"), Reply::simple("none"));
    assert_eq!(dbsize(&mut c), 2);
    assert_eq!(c.q("OBJECT ENCODING d"), Reply::Nil);
    assert_eq!(dbsize(&mut c), 1);
    // Writes see an expired key as missing.
    expire_all(&mut c);
    assert_eq!(c.q("EXPIRE a 100"), int(0));
    assert_eq!(c.q("PERSIST b"), int(0));
    assert_eq!(c.q("RENAME c x"), err("ERR no such key"));
    assert_eq!(
        c.q("DEL d"),
        int(0),
        "already expired: not counted as deleted"
    );
    assert_eq!(dbsize(&mut c), 1);
    // SCAN deletes the expired keys it meets; RANDOMKEY skips and deletes them.
    expire_all(&mut c);
    assert_eq!(scan_all(&mut c, &[]).0, vec!["live"]);
    assert_eq!(dbsize(&mut c), 1);
    expire_all(&mut c);
    assert_eq!(c.q("RANDOMKEY"), Reply::bulk("live"));
    c.q("DEL live");
    assert_eq!(c.q("RANDOMKEY"), Reply::Nil);
    assert_eq!(dbsize(&mut c), 0);
    assert!(info_field(&mut c, "stats", "expired_keys") >= 12);
}

// ------------------------------------------------------------------------------ RENAME, COPY, MOVE

#[test]
fn rename_and_renamenx() {
    let s = start();
    let mut c = s.conn();
    assert_eq!(c.q("RENAME nokey x"), err("ERR no such key"));
    assert_eq!(c.q("RENAME nokey nokey"), err("ERR no such key"));
    assert_eq!(c.q("RENAMENX nokey x"), err("ERR no such key"));
    c.q("SET a 1");
    assert_eq!(c.q("RENAME a a"), Reply::ok());
    assert_eq!(c.q("RENAMENX a a"), int(0));
    c.q("EXPIRE a 100");
    assert_eq!(c.q("RENAME a b"), Reply::ok());
    assert_eq!(c.q("EXISTS a"), int(0));
    assert_eq!(c.q("GET b"), Reply::bulk("1"));
    assert_eq!(c.q("TTL b"), int(100), "the TTL moves with the value");
    // Overwriting drops the destination's TTL when the source has none.
    c.q("SET c 3");
    c.q("SET d 4");
    c.q("EXPIRE d 100");
    assert_eq!(c.q("RENAME c d"), Reply::ok());
    assert_eq!(c.q("TTL d"), int(-1));
    assert_eq!(c.q("GET d"), Reply::bulk("3"));
    assert_eq!(c.q("RENAMENX b d"), int(0));
    assert_eq!(c.q("RENAMENX b e"), int(1));
    assert_eq!(sorted(&c.q("KEYS *")), vec!["d", "e"]);
    assert_eq!(c.q("OBJECT ENCODING e"), Reply::bulk("int"));
}

#[test]
fn copy_within_and_across_dbs() {
    let s = start();
    let mut c = s.conn();
    let same = err("ERR source and destination objects are the same");
    assert_eq!(c.q("COPY a a"), same);
    assert_eq!(c.q("COPY a a DB 0"), same);
    assert_eq!(c.q("COPY a b"), int(0));
    c.q("SET a hello");
    c.q("PEXPIREAT a 4102444800000");
    assert_eq!(c.q("COPY a b"), int(1));
    assert_eq!(c.q("GET b"), Reply::bulk("hello"));
    assert_eq!(c.q("PEXPIRETIME b"), int(4102444800000));
    assert_eq!(c.q("COPY a b"), int(0));
    c.q("SET a other");
    assert_eq!(c.q("COPY a b REPLACE"), int(1));
    assert_eq!(c.q("GET b"), Reply::bulk("other"));
    assert_eq!(c.q("TTL b"), int(-1));
    assert_eq!(c.q("COPY a a DB 1"), int(1));
    assert_eq!(c.q("COPY a a db 1"), int(0));
    assert_eq!(c.q("COPY a a db 1 replace"), int(1));
    c.q("SELECT 1");
    assert_eq!(c.q("GET a"), Reply::bulk("other"));
    c.q("SELECT 0");
    assert_eq!(c.q("COPY a b DB"), err("ERR syntax error"));
    assert_eq!(c.q("COPY a b foo"), err("ERR syntax error"));
    assert_eq!(
        c.q("COPY a b DB x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.q("COPY a b DB 16"), err("ERR DB index is out of range"));
    assert_eq!(c.q("COPY a b DB -1"), err("ERR DB index is out of range"));
    assert_eq!(c.q("COPY a a DB 99"), err("ERR DB index is out of range"));
    assert_eq!(
        c.q("COPY a b DB 2147483648"),
        err("ERR value is out of range, value must between -2147483648 and 2147483647")
    );
    // The copy is independent of the original.
    c.q("SET n 12345");
    c.q("COPY n m");
    c.q("APPEND n 6");
    assert_eq!(c.q("GET m"), Reply::bulk("12345"));
    assert_eq!(c.q("OBJECT ENCODING m"), Reply::bulk("int"));
}

#[test]
fn move_between_dbs() {
    let s = start();
    let mut c = s.conn();
    assert_eq!(
        c.q("MOVE a 0"),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(c.q("MOVE a 1"), int(0));
    assert_eq!(
        c.q("MOVE a x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.q("MOVE a 16"), err("ERR DB index is out of range"));
    assert_eq!(c.q("MOVE a -1"), err("ERR DB index is out of range"));
    assert_eq!(
        c.q("MOVE a -2147483649"),
        err("ERR value is out of range, value must between -2147483648 and 2147483647")
    );
    c.q("SET a 1");
    c.q("EXPIRE a 100");
    assert_eq!(c.q("MOVE a 3"), int(1));
    assert_eq!(c.q("EXISTS a"), int(0));
    c.q("SET a 2");
    assert_eq!(c.q("MOVE a 3"), int(0), "exists in the target");
    assert_eq!(c.q("GET a"), Reply::bulk("2"));
    c.q("SELECT 3");
    assert_eq!(c.q("GET a"), Reply::bulk("1"));
    assert_eq!(c.q("TTL a"), int(100));
    assert_eq!(
        keyspace(&mut c),
        vec!["db0:keys=1,expires=0", "db3:keys=1,expires=1"]
    );
}

#[test]
fn swapdb_and_flush() {
    let s = start();
    let mut c = s.conn();
    assert_eq!(c.q("SWAPDB a 1"), err("ERR invalid first DB index"));
    assert_eq!(c.q("SWAPDB 1 b"), err("ERR invalid second DB index"));
    assert_eq!(
        c.q("SWAPDB 2147483648 1"),
        err("ERR invalid first DB index")
    );
    assert_eq!(c.q("SWAPDB 0 16"), err("ERR DB index is out of range"));
    assert_eq!(c.q("SWAPDB -1 0"), err("ERR DB index is out of range"));
    assert_eq!(c.q("SWAPDB 0 0"), Reply::ok());
    c.q("SET a 0");
    c.q("EXPIRE a 100");
    c.q("SELECT 5");
    c.q("SET b 5");
    c.q("SET c 5");
    assert_eq!(c.q("SWAPDB 0 5"), Reply::ok());
    // The client stays in db 5 and sees db 0's old data.
    assert_eq!(sorted(&c.q("KEYS *")), vec!["a"]);
    assert_eq!(c.q("TTL a"), int(100));
    assert_eq!(
        keyspace(&mut c),
        vec!["db0:keys=2,expires=0", "db5:keys=1,expires=1"]
    );
    let mut other = s.conn();
    assert_eq!(sorted(&other.q("KEYS *")), vec!["b", "c"]);

    // FLUSHDB empties only the current db; FLUSHALL all of them.
    assert_eq!(c.q("FLUSHDB foo"), err("ERR syntax error"));
    assert_eq!(c.q("FLUSHDB ASYNC x"), err("ERR syntax error"));
    assert_eq!(c.q("FLUSHALL now"), err("ERR syntax error"));
    assert_eq!(c.q("FLUSHDB sync"), Reply::ok());
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(dbsize(&mut other), 2);
    c.q("SET z 1");
    assert_eq!(c.q("FLUSHALL ASYNC"), Reply::ok());
    assert_eq!(dbsize(&mut other), 0);
    assert_eq!(keyspace(&mut c), Vec::<String>::new());
    assert_eq!(c.q("FLUSHDB"), Reply::ok());
    assert_eq!(c.q("FLUSHALL"), Reply::ok());
}

#[test]
fn dirty_counter_as_redis() {
    let mut servers = vec![start()];
    servers.extend(Server::redis(DEBUG));
    for s in &servers {
        dirty_counter_on(s);
    }
}

fn dirty_counter_on(s: &Server) {
    let mut c = s.conn();
    let dirty = |c: &mut Conn| info_field(c, "persistence", "rdb_changes_since_last_save");
    let d0 = dirty(&mut c);
    c.q("SET a 1");
    c.q("SET b 1");
    c.q("SET c 1");
    assert_eq!(dirty(&mut c) - d0, 3);
    c.q("DEL a nokey b");
    assert_eq!(dirty(&mut c) - d0, 5);
    c.q("RENAME c d");
    c.q("COPY d e");
    c.q("MOVE e 1");
    c.q("SWAPDB 0 0");
    assert_eq!(dirty(&mut c) - d0, 9);
    c.q("EXPIRE d 100");
    c.q("PERSIST d");
    c.q("PERSIST d");
    assert_eq!(dirty(&mut c) - d0, 11);
    c.q("SET x 1");
    c.q("FLUSHDB");
    assert_eq!(dirty(&mut c) - d0, 14, "FLUSHDB counts the removed keys");
    c.q("FLUSHALL");
    assert_eq!(dirty(&mut c) - d0, 15, "db 1 still had one key");
    c.q("FLUSHALL");
    assert_eq!(dirty(&mut c) - d0, 15);
}

// ------------------------------------------------------------------------------ KEYS, SCAN, RANDOMKEY

#[test]
fn keys_patterns() {
    let s = start();
    let mut c = s.conn();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "", "a\\b",
    ] {
        c.cmd(&["SET", k, "v"]);
    }
    let keys = |c: &mut Conn, p: &str| sorted(&c.cmd(&["KEYS", p]));
    assert_eq!(keys(&mut c, "*").len(), 8, "* matches the empty key too");
    assert_eq!(
        keys(&mut c, "h?llo"),
        vec!["h*llo", "hallo", "hello", "hxllo"]
    );
    assert_eq!(keys(&mut c, "h*llo").len(), 6);
    assert_eq!(keys(&mut c, "h[ae]llo"), vec!["hallo", "hello"]);
    assert_eq!(keys(&mut c, "h[^e]llo"), vec!["h*llo", "hallo", "hxllo"]);
    assert_eq!(keys(&mut c, "h[a-b]llo"), vec!["hallo"]);
    assert_eq!(keys(&mut c, "h\\*llo"), vec!["h*llo"]);
    assert_eq!(keys(&mut c, "a\\\\b"), vec!["a\\b"]);
    assert_eq!(keys(&mut c, "nomatch*"), Vec::<String>::new());
    assert_eq!(
        keys(&mut c, "**").len(),
        7,
        "only '*' itself matches the empty key"
    );
}

#[test]
fn scan_options_and_errors() {
    let s = start();
    let mut c = s.conn();
    assert_eq!(
        c.q("SCAN 0"),
        Reply::arr(vec![Reply::bulk("0"), Reply::arr(vec![])])
    );
    for cur in ["x", "1 ", " 1", "18446744073709551616", "-", "0x1"] {
        assert_eq!(c.cmd(&["SCAN", cur]), err("ERR invalid cursor"), "{cur:?}");
    }
    for cur in ["", "+0", "-1", "18446744073709551615"] {
        assert!(!c.cmd(&["SCAN", cur]).is_error(), "{cur:?}");
    }
    assert_eq!(c.q("SCAN x COUNT 0"), err("ERR invalid cursor"));
    assert_eq!(c.q("SCAN 0 COUNT 0"), err("ERR syntax error"));
    assert_eq!(c.q("SCAN 0 COUNT -1"), err("ERR syntax error"));
    assert_eq!(
        c.q("SCAN 0 COUNT x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.q("SCAN 0 COUNT"), err("ERR syntax error"));
    assert_eq!(c.q("SCAN 0 MATCH"), err("ERR syntax error"));
    assert_eq!(c.q("SCAN 0 TYPE"), err("ERR syntax error"));
    assert_eq!(c.q("SCAN 0 foo bar"), err("ERR syntax error"));
    assert_eq!(c.q("SCAN 0 COUNT 0 MATCH"), err("ERR syntax error"));

    assert_eq!(c.q("DEBUG POPULATE 500 user"), Reply::ok());
    assert_eq!(c.q("DEBUG POPULATE 100 item"), Reply::ok());
    let (all, _) = scan_all(&mut c, &[]);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 600);
    let (users, _) = scan_all(&mut c, &["MATCH", "user:*", "COUNT", "50"]);
    let users: BTreeSet<_> = users.into_iter().collect();
    assert_eq!(users.len(), 500);
    assert!(users.iter().all(|k| k.starts_with("user:")));
    let (strings, _) = scan_all(&mut c, &["TYPE", "STRING", "MATCH", "item:1*"]);
    assert_eq!(strings.iter().collect::<BTreeSet<_>>().len(), 11);
    assert!(scan_all(&mut c, &["TYPE", "list"]).0.is_empty());
    // COUNT is the number of buckets to visit: a larger COUNT means fewer calls.
    let (_, calls_small) = scan_all(&mut c, &["COUNT", "5"]);
    let (big, calls_big) = scan_all(&mut c, &["COUNT", "1000"]);
    assert_eq!(calls_big, 1);
    assert_eq!(big.len(), 600);
    assert!(calls_small > 60, "{calls_small}");
    assert!(!c.q("SCAN 0 COUNT 9223372036854775807").is_error());
    // A cursor is a bulk string.
    let r = c.q("SCAN 0 COUNT 1");
    assert!(matches!(r.items()[0], Reply::Bulk(_)), "{r:?}");
}

/// Every key present for the whole iteration is returned at least once, while keys are added
/// (the table grows and rehashes) and removed (it shrinks) between calls.
#[test]
fn scan_guarantee_across_resizes() {
    let s = start();
    let mut c = s.conn();
    c.q("DEBUG POPULATE 1000 orig");
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    let mut added = 0;
    let mut deleted = 0;
    let mut calls = 0;
    loop {
        let r = c.cmd(&["SCAN", cursor.as_str(), "COUNT", "7"]);
        let items = r.items();
        cursor = items[0].text();
        seen.extend(items[1].items().iter().map(|k| k.text()));
        calls += 1;
        if cursor == "0" {
            break;
        }
        match calls % 40 {
            // Grow: many new keys force the table to double (maybe twice).
            0..=9 => {
                for _ in 0..150 {
                    c.cmd(&["SET", &format!("new:{added}"), "v"]);
                    added += 1;
                }
            }
            // Shrink: drop the added keys and give the cron time to resize.
            20 => {
                for i in deleted..added {
                    c.cmd(&["DEL", &format!("new:{i}")]);
                }
                deleted = added;
                std::thread::sleep(Duration::from_millis(250));
            }
            _ => {}
        }
    }
    for i in 0..1000 {
        assert!(
            seen.contains(&format!("orig:{i}")),
            "orig:{i} never returned"
        );
    }
}

#[test]
fn scan_type_none_returns_expired_keys_like_redis() {
    // Redis 7.0 quirk: the TYPE filter's lookup deletes an expired key and calls it "none",
    // and the expiry filter then finds nothing to expire, so TYPE none returns it.
    let mut servers = vec![start()];
    servers.extend(Server::redis(DEBUG));
    for s in &servers {
        let mut c = s.conn();
        c.q("DEBUG SET-ACTIVE-EXPIRE 0");
        c.q("SET a 1 PX 1");
        c.q("SET b 1");
        std::thread::sleep(Duration::from_millis(20));
        let hits = info_field(&mut c, "stats", "keyspace_hits");
        let misses = info_field(&mut c, "stats", "keyspace_misses");
        let r = c.q("SCAN 0 TYPE none COUNT 100");
        assert_eq!(sorted(&r.items()[1]), vec!["a"], "redis={}", s.is_redis);
        assert_eq!(dbsize(&mut c), 1);
        assert_eq!(info_field(&mut c, "stats", "keyspace_hits"), hits + 1);
        assert_eq!(info_field(&mut c, "stats", "keyspace_misses"), misses + 1);
    }
}

#[test]
fn randomkey_returns_existing_keys() {
    let s = start();
    let mut c = s.conn();
    assert_eq!(c.q("RANDOMKEY"), Reply::Nil);
    c.q("DEBUG POPULATE 20");
    let mut seen = BTreeSet::new();
    for _ in 0..400 {
        let k = c.q("RANDOMKEY").text();
        assert!(k.starts_with("key:"), "{k}");
        seen.insert(k);
    }
    assert!(seen.len() >= 15, "not random enough: {}", seen.len());
    // Mostly expired keys: they are deleted on the way.
    c.q("DEBUG SET-ACTIVE-EXPIRE 0");
    for i in (0..20).filter(|&i| i != 7) {
        c.q(&format!("PEXPIRE key:{i} 1"));
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(c.q("RANDOMKEY"), Reply::bulk("key:7"));
    c.q("SELECT 9");
    assert_eq!(c.q("RANDOMKEY"), Reply::Nil);
}

// ------------------------------------------------------------------------------ OBJECT

#[test]
fn object_subcommands() {
    let s = start();
    let mut c = s.conn();
    for sub in ["ENCODING", "REFCOUNT", "IDLETIME", "FREQ"] {
        assert_eq!(c.cmd(&["OBJECT", sub, "nokey"]), Reply::Nil, "{sub}");
    }
    c.q("SET small 5");
    c.q("SET big 123456");
    c.q("SET s hello");
    c.cmd(&["SET", "long", &"x".repeat(45)]);
    assert_eq!(c.q("OBJECT ENCODING small"), Reply::bulk("int"));
    assert_eq!(c.q("OBJECT ENCODING s"), Reply::bulk("embstr"));
    assert_eq!(c.q("OBJECT ENCODING long"), Reply::bulk("raw"));
    assert_eq!(c.q("OBJECT REFCOUNT small"), int(2147483647));
    assert_eq!(c.q("OBJECT REFCOUNT big"), int(1));
    assert_eq!(c.q("OBJECT REFCOUNT s"), int(1));
    // Seconds of a 1 s clock: 0, or 1 when a second boundary passed since the SET.
    assert!(c.q("OBJECT IDLETIME s").int() <= 1);
    assert_eq!(
        c.q("OBJECT FREQ s"),
        err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
    let help = c.q("OBJECT HELP").items();
    assert_eq!(help.len(), 15);
    assert_eq!(
        help[0],
        Reply::simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
    // IDLETIME grows without access; OBJECT, TYPE, EXISTS and TTL do not reset it.
    std::thread::sleep(Duration::from_millis(2100));
    c.q("OBJECT ENCODING s");
    c.q("TYPE s");
    c.q("EXISTS s");
    c.q("TTL s");
    assert!(c.q("OBJECT IDLETIME s").int() >= 2);
    c.q("TOUCH s");
    assert!(c.q("OBJECT IDLETIME s").int() <= 1);
}

// ------------------------------------------------------------------------------ WATCH

/// WATCH `key` in db `wdb`, let `other` run `cmds`, then EXEC a transaction: true if it ran.
fn exec_survives(s: &Server, setup: &[&str], wdb: usize, key: &str, cmds: &[&str]) -> bool {
    let mut w = s.conn();
    let mut o = s.conn();
    o.q("FLUSHALL");
    for cmd in setup {
        assert!(!o.q(cmd).is_error(), "{cmd}");
    }
    w.q(&format!("SELECT {wdb}"));
    assert_eq!(w.cmd(&["WATCH", key]), Reply::ok());
    for cmd in cmds {
        assert!(!o.q(cmd).is_error(), "{cmd}");
    }
    w.q("MULTI");
    w.q("PING");
    match w.q("EXEC") {
        Reply::NilArray => false,
        Reply::Array(_) => true,
        other => panic!("EXEC: {other:?}"),
    }
}

/// setup, db of the WATCH, watched key, commands of the other client, whether EXEC runs.
type WatchCase<'a> = (&'a [&'a str], usize, &'a str, &'a [&'a str], bool);

#[test]
fn watch_invalidation() {
    let mut servers = vec![start()];
    servers.extend(Server::redis(DEBUG));
    let k = &["SET k 1"][..];
    let cases: &[WatchCase] = &[
        (k, 0, "k", &["DEL k"], false),
        (k, 0, "k", &["UNLINK k"], false),
        (k, 0, "k", &["DEL nokey"], true),
        (
            k,
            0,
            "k",
            &["EXISTS k", "TYPE k", "TTL k", "KEYS *", "SCAN 0"],
            true,
        ),
        (k, 0, "k", &["EXPIRE k 100"], false),
        (k, 0, "k", &["EXPIRE k 100 XX"], true),
        (k, 0, "k", &["EXPIRE k -1"], false),
        (k, 0, "k", &["PERSIST k"], true),
        (&["SET k 1 EX 100"], 0, "k", &["PERSIST k"], false),
        (k, 0, "k", &["RENAME k j"], false),
        (k, 0, "j", &["RENAME k j"], false),
        (k, 0, "k", &["RENAME k k"], true),
        (k, 0, "j", &["COPY k j"], false),
        (k, 0, "k", &["COPY k j"], true),
        (k, 1, "k", &["COPY k k DB 1"], false),
        (k, 0, "k", &["MOVE k 1"], false),
        (k, 1, "k", &["MOVE k 1"], false),
        (k, 0, "k", &["FLUSHDB"], false),
        (k, 0, "nokey", &["FLUSHDB"], true),
        (k, 0, "k", &["SELECT 1", "FLUSHDB"], true),
        (k, 0, "k", &["FLUSHALL"], false),
        (k, 0, "k", &["SWAPDB 0 1"], false),
        (k, 1, "k", &["SWAPDB 0 1"], false),
        (k, 2, "k", &["SWAPDB 0 1"], true),
        (k, 0, "nokey", &["SWAPDB 0 1"], true),
        (k, 0, "k", &["SWAPDB 0 0"], true),
        (
            k,
            0,
            "k",
            &["TOUCH k", "RANDOMKEY", "OBJECT ENCODING k"],
            true,
        ),
    ];
    for s in &servers {
        for (setup, wdb, key, cmds, survives) in cases {
            assert_eq!(
                exec_survives(s, setup, *wdb, key, cmds),
                *survives,
                "redis={} setup={setup:?} watch db{wdb} {key} then {cmds:?}",
                s.is_redis
            );
        }
    }
}

// ------------------------------------------------------------------------------ keyspace events

/// Subscribe to every keyspace event, run `cmds` from another connection, and return the
/// events as `channel payload` lines.
fn events(s: &Server, cmds: &[&str]) -> Vec<String> {
    let mut c = s.conn();
    c.q("FLUSHALL");
    c.q("CONFIG SET notify-keyspace-events KEAnm");
    let mut sub = s.conn();
    sub.q("PSUBSCRIBE __key*__:*");
    sub.q("SUBSCRIBE done");
    for cmd in cmds {
        c.q(cmd);
    }
    c.q("PUBLISH done x");
    let mut out = Vec::new();
    loop {
        let m = sub.read().items();
        if m[0].text() == "message" {
            break;
        }
        out.push(format!("{} {}", m[2].text(), m[3].text()));
    }
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    out
}

#[test]
fn keyspace_events_match_redis() {
    let Some(pair) = Pair::start(DEBUG) else {
        return;
    };
    let cmds = [
        "SET a 1",
        "EXPIRE a 100",
        "PERSIST a",
        "RENAME a b",
        "RENAMENX b c",
        "COPY c d",
        "COPY c d DB 2 REPLACE",
        "MOVE d 1",
        "EXISTS nokey",
        "TYPE nokey",
        "TTL nokey",
        "OBJECT ENCODING nokey",
        "TOUCH nokey",
        "SCAN 0 TYPE string",
        "DEL c nokey",
        "SET e 1",
        "EXPIRE e -5",
        "SET f 1",
        "PEXPIREAT f 1",
        "SET g 1 PX 1",
        "DEBUG SLEEP 0.01",
        "GET g",
        "SWAPDB 0 1",
        "FLUSHDB",
        "FLUSHALL",
    ];
    let ours = events(&pair.picket, &cmds);
    let theirs = events(&pair.redis, &cmds);
    assert_eq!(ours, theirs);
    assert!(ours.contains(&"__keyevent@0__:rename_from a".to_string()));
}

// ------------------------------------------------------------------------------ differential

#[test]
fn differential_edge_cases() {
    let Some(pair) = Pair::start(DEBUG) else {
        return;
    };
    let cmds: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["SET", "big", "123456"],
        &["SET", "s", "hello"],
        &["DEL"],
        &["DEL", "a", "a"],
        &["SET", "a", "1"],
        &["EXISTS", "a", "a", "nokey"],
        &["TYPE", "s"],
        &["TYPE", "nokey"],
        &["TOUCH", "a", "s", "x"],
        &["EXPIRE", "a", "10", "foo"],
        &["EXPIRE", "a", "10", "nx", "xx"],
        &["EXPIRE", "a", "10", "gt", "lt"],
        &["EXPIRE", "a", "10", "nx", "gt"],
        &["EXPIRE", "a", "abc", "nx"],
        &["EXPIRE", "a", "abc", "foo"],
        &["EXPIRE", "a", ""],
        &["EXPIRE", "a", "9223372036854775807"],
        &["PEXPIRE", "a", "9223372036854775807"],
        &["EXPIREAT", "a", "9223372036854775"],
        &["PEXPIRETIME", "a"],
        &["EXPIRETIME", "a"],
        &["PEXPIREAT", "a", "9223372036854775807"],
        &["EXPIRETIME", "a"],
        &["PEXPIREAT", "a", "4102444800123", "LT"],
        &["PEXPIREAT", "a", "4102444800124", "LT"],
        &["PEXPIREAT", "a", "4102444800124", "GT"],
        &["PEXPIREAT", "a", "4102444800124", "GT"],
        &["PEXPIREAT", "a", "4102444800000", "xx"],
        &["PEXPIREAT", "a", "4102444800000", "NX"],
        &["EXPIRETIME", "a"],
        &["PEXPIRETIME", "a"],
        &["PERSIST", "a"],
        &["PERSIST", "a"],
        &["EXPIREAT", "a", "4102444800", "LT"],
        &["PEXPIRETIME", "a"],
        &["PEXPIRE", "a", "-9223372036854775808"],
        &["EXPIRE", "a", "-9223372036854775"],
        &["EXPIRE", "a", "-9223372036854776"],
        &["TTL", "a"],
        &["SET", "a", "1"],
        &["MOVE", "a", "abc"],
        &["MOVE", "a", "99"],
        &["MOVE", "a", "-1"],
        &["MOVE", "a", "0"],
        &["MOVE", "nokey", "1"],
        &["MOVE", "a", "2147483648"],
        &["MOVE", "a", "1"],
        &["MOVE", "a", "1"],
        &["COPY", "a", "a"],
        &["COPY", "s", "s", "db", "0"],
        &["COPY", "s", "s", "db", "1"],
        &["COPY", "s", "b", "db"],
        &["COPY", "s", "b", "db", "x"],
        &["COPY", "s", "b", "db", "99"],
        &["COPY", "s", "b", "foo"],
        &["COPY", "s", "b", "replace", "replace", "db", "3", "db", "4"],
        &["COPY", "nokey", "b"],
        &["COPY", "s", "s", "db", "99"],
        &["SWAPDB", "a", "1"],
        &["SWAPDB", "1", "b"],
        &["SWAPDB", "0", "99"],
        &["SWAPDB", "0", "-1"],
        &["SWAPDB", "0", "0"],
        &["SWAPDB", "4", "5"],
        &["SWAPDB", "2147483648", "0"],
        &["RENAME", "nokey", "nokey"],
        &["RENAMENX", "nokey", "nokey"],
        &["RENAME", "s", "s"],
        &["RENAMENX", "s", "s"],
        &["RENAMENX", "s", "big"],
        &["RENAME", "s", "t"],
        &["GET", "t"],
        &["FLUSHDB", "foo"],
        &["FLUSHDB", "async", "x"],
        &["SCAN", "", "MATCH", "zzz"],
        &["SCAN", "-1", "MATCH", "zzz"],
        &["SCAN", "+0", "MATCH", "zzz"],
        &["SCAN", " 0"],
        &["SCAN", "0 "],
        &["SCAN", "18446744073709551616"],
        &["SCAN", "18446744073709551615", "MATCH", "zzz"],
        &["SCAN", "0", "count", "0"],
        &["SCAN", "0", "count", "-1"],
        &["SCAN", "0", "count", "x"],
        &["SCAN", "0", "match"],
        &["SCAN", "0", "type"],
        &["SCAN", "0", "foo", "bar"],
        &["SCAN", "abc", "count", "0"],
        &["SCAN", "0", "TYPE", "hash"],
        &["OBJECT", "refcount", "t"],
        &["OBJECT", "refcount", "big"],
        &["OBJECT", "refcount", "nokey"],
        &["OBJECT", "freq", "t"],
        &["OBJECT", "freq", "nokey"],
        &["OBJECT", "encoding", "nokey"],
        &["OBJECT", "encoding", "big"],
        &["OBJECT", "idletime", "nokey"],
        &["OBJECT", "help"],
        &["OBJECT"],
        &["OBJECT", "foo"],
        &["OBJECT", "encoding"],
        &["RANDOMKEY", "x"],
        &["KEYS"],
        &["DBSIZE"],
        &["FLUSHALL", "SYNC"],
        &["RANDOMKEY"],
        &["KEYS", "*"],
        &["SCAN", "0"],
        &["SET", "only", "x"],
        &["RANDOMKEY"],
        &["KEYS", "*"],
        &["SCAN", "0"],
        &["KEYS", "o[n]l?"],
        &["SCAN", "0", "MATCH", "*l*", "TYPE", "String"],
        &["FLUSHDB"],
    ];
    pair.same(cmds);
    // Order-insensitive comparisons and statistics.
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    for c in [&mut p, &mut r] {
        c.q("CONFIG RESETSTAT");
        c.q("DEBUG POPULATE 300");
        c.q("DEBUG POPULATE 50 other");
        c.q("EXISTS key:1 key:2 nokey");
        c.q("TYPE nokey");
        c.q("TTL key:3");
        c.q("OBJECT ENCODING key:4");
        c.q("OBJECT ENCODING nokey");
        c.q("TOUCH key:5 nokey");
        c.q("COPY key:6 copied");
        c.q("MOVE key:7 3");
        c.q("RENAME key:8 renamed");
    }
    for cmd in [
        "KEYS *",
        "KEYS key:1*",
        "KEYS *:?",
        "KEYS other:[1-2]?",
        "SCAN 0 COUNT 100000",
        "SCAN 0 COUNT 100000 MATCH *3*",
    ] {
        let (a, b) = (p.q(cmd), r.q(cmd));
        let (a, b) = if cmd.starts_with("SCAN") {
            (a.items()[1].clone(), b.items()[1].clone())
        } else {
            (a, b)
        };
        assert_eq!(sorted(&a), sorted(&b), "{cmd}");
    }
    let mut all_p = scan_all(&mut p, &["COUNT", "3", "MATCH", "other:*"]).0;
    let mut all_r = scan_all(&mut r, &["COUNT", "3", "MATCH", "other:*"]).0;
    all_p.sort();
    all_p.dedup();
    all_r.sort();
    all_r.dedup();
    assert_eq!(all_p, all_r);
    for field in ["keyspace_hits", "keyspace_misses"] {
        assert_eq!(
            info_field(&mut p, "stats", field),
            info_field(&mut r, "stats", field),
            "{field}"
        );
    }
    assert_eq!(keyspace(&mut p), keyspace(&mut r));

    // RESP3: nulls are `_`, the rest is unchanged.
    for c in [&mut p, &mut r] {
        assert!(!c.q("HELLO 3").is_error());
        c.q("SELECT 9");
        c.q("SET k v");
    }
    for cmd in [
        "OBJECT ENCODING nokey",
        "OBJECT IDLETIME nokey",
        "TYPE k",
        "KEYS *",
        "SCAN 0",
        "RANDOMKEY",
        "TTL k",
        "OBJECT HELP",
        "FLUSHDB",
        "RANDOMKEY",
        "SCAN 0",
    ] {
        assert_eq!(p.q(cmd), r.q(cmd), "RESP3 {cmd}");
    }
}

/// The workspace's seeded generator (`picket_common::ids::seeded`, Xoshiro256++), so a
/// seed replays the same cases.
struct Rng(picket_common::ids::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        rand::RngExt::random(&mut self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
}

const FAR: i64 = 4_102_444_800_000; // 2100-01-01

fn random_command(rng: &mut Rng) -> Vec<String> {
    let keys = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "nokey"];
    let key = |rng: &mut Rng| rng.pick(&keys).to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let n = rng.below(100);
    let mut cmd = match n {
        0..=14 => {
            let vals = ["1", "42", "-7", "12345", "hello", "", "00", "x y"];
            let mut c = vec!["SET".into(), key(rng), rng.pick(&vals).to_string()];
            if rng.below(3) == 0 {
                c.extend(["PXAT".into(), (FAR + rng.below(5000) as i64).to_string()]);
            }
            c
        }
        15..=19 => {
            let mut c = vec![rng.pick(&["DEL", "UNLINK", "EXISTS", "TOUCH"]).to_string()];
            for _ in 0..=rng.below(3) {
                c.push(key(rng));
            }
            c
        }
        20..=33 => {
            // Absolute times far away are exact on both servers; relative times are compared
            // with a tolerance and never with GT/LT (which would race the clocks).
            let (name, when, relative) = match rng.below(6) {
                0 => (
                    "PEXPIREAT",
                    (FAR + rng.below(5000) as i64).to_string(),
                    false,
                ),
                1 => (
                    "EXPIREAT",
                    (FAR / 1000 + rng.below(5) as i64).to_string(),
                    false,
                ),
                2 => (
                    "EXPIRE",
                    rng.pick(&["100", "5000", "-1", "0"]).to_string(),
                    true,
                ),
                3 => (
                    "PEXPIRE",
                    rng.pick(&["100000", "-5", "x"]).to_string(),
                    true,
                ),
                4 => (
                    "PEXPIREAT",
                    rng.pick(&["1", "0", "-100"]).to_string(),
                    false,
                ),
                _ => (
                    "EXPIREAT",
                    rng.pick(&["1", "9223372036854776"]).to_string(),
                    false,
                ),
            };
            let mut c = vec![name.to_string(), key(rng), when];
            let opts: &[&str] = if relative {
                &["NX", "XX", "nx", "foo"]
            } else {
                &["NX", "XX", "GT", "LT", "gt", "foo"]
            };
            for _ in 0..rng.below(3) {
                c.push(rng.pick(opts).to_string());
            }
            c
        }
        34..=41 => vec![
            rng.pick(&["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "TYPE"])
                .to_string(),
            key(rng),
        ],
        42..=45 => vec!["PERSIST".into(), key(rng)],
        46..=51 => vec![
            rng.pick(&["RENAME", "RENAMENX"]).to_string(),
            key(rng),
            key(rng),
        ],
        52..=57 => {
            let mut c = vec!["COPY".into(), key(rng), key(rng)];
            if rng.below(2) == 0 {
                c.extend(["DB".into(), rng.below(3).to_string()]);
            }
            if rng.below(2) == 0 {
                c.push("REPLACE".into());
            }
            c
        }
        58..=61 => vec!["MOVE".into(), key(rng), rng.below(3).to_string()],
        62..=63 => vec![
            "SWAPDB".into(),
            rng.below(3).to_string(),
            rng.below(3).to_string(),
        ],
        64..=69 => vec!["SELECT".into(), rng.below(3).to_string()],
        70 => s(&[rng.pick(&["FLUSHDB", "FLUSHALL"])]),
        71..=75 => vec!["GET".into(), key(rng)],
        76..=79 => vec!["OBJECT".into(), "ENCODING".into(), key(rng)],
        80..=83 => s(&["KEYS", rng.pick(&["*", "k[0-3]", "k?", "*5*"])]),
        84..=87 => s(&["SCAN-ALL", rng.pick(&["1", "2", "100"])]),
        88..=90 => s(&["RANDOMKEY"]),
        91..=93 => s(&["DBSIZE"]),
        94..=95 => s(&["INFO-KEYSPACE"]),
        _ => vec!["APPEND".into(), key(rng), "z".into()],
    };
    if rng.below(50) == 0 && !cmd[0].contains('-') {
        // A sprinkle of arity errors.
        cmd.truncate(1);
        cmd.push("a".into());
        cmd.push("b".into());
        cmd.push("c".into());
        cmd.push("d".into());
        cmd.push("e".into());
    }
    cmd
}

/// One command's observable result, normalised where the servers legitimately differ.
fn observe(c: &mut Conn, cmd: &[String]) -> Reply {
    match cmd[0].as_str() {
        "SCAN-ALL" => {
            let (mut keys, _) = scan_all(c, &["COUNT", &cmd[1]]);
            keys.sort();
            keys.dedup();
            Reply::Array(keys.into_iter().map(|k| Reply::bulk(&k)).collect())
        }
        "INFO-KEYSPACE" => Reply::Array(keyspace(c).iter().map(|l| Reply::bulk(l)).collect()),
        "KEYS" => match c.cmd(cmd) {
            r @ Reply::Array(_) => {
                Reply::Array(sorted(&r).iter().map(|k| Reply::bulk(k)).collect())
            }
            other => other,
        },
        "RANDOMKEY" => match c.cmd(cmd) {
            Reply::Bulk(k) => match c.cmd(&[&b"EXISTS"[..], &k]) {
                Reply::Int(1) => Reply::simple("some key"),
                _ => Reply::err("RANDOMKEY returned a missing key"),
            },
            other => other,
        },
        _ => c.cmd(cmd),
    }
}

fn close_enough(cmd: &str, a: &Reply, b: &Reply) -> bool {
    if a == b {
        return true;
    }
    let tolerance = match cmd {
        "TTL" | "EXPIRETIME" => 2,
        "PTTL" | "PEXPIRETIME" => 2000,
        _ => return false,
    };
    matches!((a, b), (Reply::Int(x), Reply::Int(y)) if *x >= 0 && *y >= 0 && (x - y).abs() <= tolerance)
}

fn random_walk(pair: &Pair, seed: u64, steps: usize) {
    let mut rng = Rng(picket_common::ids::seeded(seed));
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    p.q("FLUSHALL");
    r.q("FLUSHALL");
    let mut history: Vec<String> = Vec::new();
    // What the walk exercised: successful changes by the family, and errors.
    let (mut changes, mut errors) = (0, 0);
    for step in 0..steps {
        let cmd = random_command(&mut rng);
        history.push(cmd.join(" "));
        let a = observe(&mut p, &cmd);
        let b = observe(&mut r, &cmd);
        if !close_enough(&cmd[0], &a, &b) {
            let tail = history[history.len().saturating_sub(30)..].join("\n  ");
            panic!(
                "seed {seed} step {step}: {cmd:?}\n picket: {a:?}\n redis:  {b:?}\nlast commands:\n  {tail}\nreplay with PICKET_KEYS_SEED={seed}"
            );
        }
        let family = [
            "EXPIRE",
            "PEXPIRE",
            "EXPIREAT",
            "PEXPIREAT",
            "RENAME",
            "RENAMENX",
        ];
        let family2 = ["COPY", "MOVE", "PERSIST", "DEL", "UNLINK"];
        let name = cmd[0].as_str();
        if (family.contains(&name) || family2.contains(&name))
            && matches!(a, Reply::Int(1) | Reply::Simple(_))
        {
            changes += 1;
        }
        errors += usize::from(a.is_error());
    }
    assert!(
        changes > steps / 20 && errors > steps / 50,
        "seed {seed}: a dull walk ({changes} changes, {errors} errors)"
    );
    eprintln!("seed {seed}: {changes} changes, {errors} errors");
    // Final state: every db, every key, value and expiry time.
    for db in 0..3 {
        for c in [&mut p, &mut r] {
            c.q(&format!("SELECT {db}"));
        }
        let dump = |c: &mut Conn| {
            let mut m = BTreeMap::new();
            for k in sorted(&c.q("KEYS *")) {
                let v = c.cmd(&["GET", &k]);
                let t = c.cmd(&["PEXPIRETIME", &k]).int();
                // Relative expiries differ by the milliseconds between the two servers.
                m.insert(k, (v, if t > 0 && t < FAR { -3 } else { t }));
            }
            m
        };
        assert_eq!(
            dump(&mut p),
            dump(&mut r),
            "seed {seed}: final state of db {db}"
        );
    }
}

#[test]
fn differential_random_walk() {
    let Some(pair) = Pair::start(DEBUG) else {
        return;
    };
    let seeds: Vec<u64> = match std::env::var("PICKET_KEYS_SEED") {
        Ok(s) => vec![s.parse().expect("PICKET_KEYS_SEED is a u64")],
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            vec![1, 2, t]
        }
    };
    for seed in seeds {
        eprintln!("keys random walk: seed {seed}");
        random_walk(&pair, seed, 1500);
    }
}
