//! Shared by the persistence tests (RDB and AOF): a data set with every type in its small
//! and large encodings, a dump of everything a server holds (every database, key, type,
//! value, absolute expiry and OBJECT ENCODING) to compare servers, and Redis's checkers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{which, Conn, Reply};

/// What one key holds, comparable across servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    pub kind: String,
    pub value: String,
    /// PEXPIRETIME: absolute unix ms, -1 without a TTL.
    pub expire: i64,
    pub encoding: String,
}

/// Every key of every database: (db, key) -> state.
pub type Dump = BTreeMap<(usize, Vec<u8>), KeyState>;

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.text(),
    }
}

/// The databases that hold keys, from INFO keyspace.
fn databases(c: &mut Conn) -> Vec<usize> {
    c.q("INFO keyspace")
        .text()
        .lines()
        .filter_map(|l| l.strip_prefix("db"))
        .filter_map(|l| l.split(':').next())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// One key's state (the connection has its database selected).
fn key_state(c: &mut Conn, key: &[u8]) -> KeyState {
    let kind = c.cmd(&[&b"TYPE"[..], key]).text();
    let value = match kind.as_str() {
        "string" => text(&c.cmd(&[&b"GET"[..], key])),
        "list" => {
            let items: Vec<String> = c
                .cmd(&[&b"LRANGE"[..], key, b"0", b"-1"])
                .items()
                .iter()
                .map(text)
                .collect();
            format!("{items:?}")
        }
        "set" => {
            let mut m: Vec<String> = c
                .cmd(&[&b"SMEMBERS"[..], key])
                .items()
                .iter()
                .map(text)
                .collect();
            m.sort();
            format!("{m:?}")
        }
        "hash" => {
            let items = c.cmd(&[&b"HGETALL"[..], key]).items();
            let mut pairs: Vec<(String, String)> = items
                .chunks(2)
                .map(|p| (text(&p[0]), text(&p[1])))
                .collect();
            pairs.sort();
            format!("{pairs:?}")
        }
        "zset" => {
            let items: Vec<String> = c
                .cmd(&[&b"ZRANGE"[..], key, b"0", b"-1", b"WITHSCORES"])
                .items()
                .iter()
                .map(text)
                .collect();
            format!("{items:?}")
        }
        other => panic!("type {other}"),
    };
    let expire = c.cmd(&[&b"PEXPIRETIME"[..], key]).int();
    let encoding = c.cmd(&[&b"OBJECT"[..], b"ENCODING", key]).text();
    KeyState {
        kind,
        value,
        expire,
        encoding,
    }
}

/// Everything a server holds (database 0 is selected again at the end).
pub fn dump(c: &mut Conn) -> Dump {
    let mut out = Dump::new();
    for db in databases(c) {
        assert_eq!(c.cmd(&["SELECT", &db.to_string()]), Reply::ok());
        let mut cursor = "0".to_string();
        loop {
            let r = c.cmd(&["SCAN", &cursor, "COUNT", "1000"]).items();
            cursor = r[0].text();
            for k in r[1].items() {
                let Reply::Bulk(key) = k else { panic!("{k:?}") };
                let st = key_state(c, &key);
                out.insert((db, key), st);
            }
            if cursor == "0" {
                break;
            }
        }
    }
    c.q("SELECT 0");
    out
}

fn short(s: &str) -> String {
    if s.len() > 200 {
        format!("{}... ({} bytes)", &s[..200], s.len())
    } else {
        s.to_string()
    }
}

/// Assert two dumps are equal, naming the first differences readably. With `encodings`
/// false, OBJECT ENCODING is not compared.
pub fn assert_same(left: &Dump, right: &Dump, encodings: bool, what: &str) {
    let mut diffs = Vec::new();
    for (k, a) in left {
        match right.get(k) {
            None => diffs.push(format!(
                "db {} key {:?}: only on the left",
                k.0,
                String::from_utf8_lossy(&k.1)
            )),
            Some(b) => {
                let same = a.kind == b.kind
                    && a.value == b.value
                    && a.expire == b.expire
                    && (!encodings || a.encoding == b.encoding);
                if !same {
                    diffs.push(format!(
                        "db {} key {:?}:\n  left  {} {} exp {} enc {}\n  right {} {} exp {} enc {}",
                        k.0,
                        String::from_utf8_lossy(&k.1),
                        a.kind,
                        short(&a.value),
                        a.expire,
                        a.encoding,
                        b.kind,
                        short(&b.value),
                        b.expire,
                        b.encoding
                    ));
                }
            }
        }
    }
    for k in right.keys() {
        if !left.contains_key(k) {
            diffs.push(format!(
                "db {} key {:?}: only on the right",
                k.0,
                String::from_utf8_lossy(&k.1)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} differences (of {} / {} keys):\n{}",
        diffs.len(),
        left.len(),
        right.len(),
        diffs[..diffs.len().min(12)].join("\n")
    );
}

/// Deterministic bytes that LZF cannot compress.
fn noise(n: usize, seed: u64) -> String {
    let mut rng = picket_common::ids::seeded(seed);
    (0..n)
        .map(|_| (b'!' + rand::RngExt::random_range(&mut rng, 0..90u8)) as char)
        .collect()
}

fn c(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn with(mut head: Vec<Vec<u8>>, tail: impl IntoIterator<Item = String>) -> Vec<Vec<u8>> {
    head.extend(tail.into_iter().map(String::into_bytes));
    head
}

/// Every type in its small and large encodings (Redis 7.0's default thresholds), keys with
/// TTLs (absolute, so every server gets the same), and three databases. `part` 0 or 1 gives
/// one half (to split a data set around an AOF rewrite), None all of it.
pub fn all_types_commands(part: Option<usize>) -> Vec<Vec<Vec<u8>>> {
    let far = 4_102_444_800_000i64; // 2100-01-01
    let mut a: Vec<Vec<Vec<u8>>> = vec![
        // Strings: int, embstr, raw, compressible, incompressible, 100 KB, binary.
        c(&["SET", "s:int", "12345"]),
        c(&["SET", "s:neg", "-7"]),
        c(&["SET", "s:big", "3000000000"]),
        c(&["SET", "s:max", "9223372036854775807"]),
        c(&["SET", "s:lead0", "007"]),
        c(&["SET", "s:float", "3.14"]),
        c(&["SET", "s:embstr", "hello"]),
        c(&["SET", "s:empty", ""]),
        c(&["SET", "s:24", "abcdefghijklmnopqrstuvwx"]),
        c(&["SET", "s:45", &"x".repeat(45)]),
        c(&["SET", "s:abc", &"abc".repeat(100)]),
        c(&["SET", "s:noise", &noise(300, 1)]),
        c(&["SET", "s:100k", &noise(100 * 1024, 2)]),
        c(&["SET", "s:100kz", &"0123456789".repeat(10 * 1024)]),
        vec![
            b"SET".to_vec(),
            b"s:binary".to_vec(),
            b"a\0b\r\n\xff".to_vec(),
        ],
        // Lists: listpack, quicklist of several nodes, integers of every width, a big item.
        c(&["RPUSH", "l:small", "a", "b", "1", "2", "-3", ""]),
        with(
            c(&["RPUSH", "l:big"]),
            (0..3000).map(|i| format!("element-{i:06}-{}", noise(8, i))),
        ),
        with(
            c(&["RPUSH", "l:ints"]),
            [
                "0",
                "127",
                "-128",
                "4095",
                "-4096",
                "32767",
                "-32768",
                "8388607",
                "-8388608",
                "2147483647",
                "-2147483648",
                "5000000000",
                "9223372036854775807",
                "-9223372036854775808",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain((0..500).map(|i| (i * 7919 - 100_000).to_string())),
        ),
        c(&[
            "RPUSH",
            "l:huge",
            &noise(10_000, 3),
            "a",
            &"z".repeat(9000),
            "b",
        ]),
        // Sets: intset, a small string set, hashtables (by count, and mixed).
        c(&[
            "SADD",
            "set:int",
            "1",
            "2",
            "3",
            "-5",
            "70000",
            "9223372036854775807",
            "-9223372036854775808",
        ]),
        c(&["SADD", "set:str", "x", "y", "z"]),
        with(c(&["SADD", "set:intbig"]), (0..600).map(|i| i.to_string())),
        with(
            c(&["SADD", "set:mixed", "a", "b"]),
            (0..300).map(|i| i.to_string()),
        ),
        // Hashes: listpack, hashtable by count, by a long value, by a long field.
        c(&["HSET", "h:small", "f1", "v1", "f2", "22", "f3", "-5"]),
        with(
            c(&["HSET", "h:count"]),
            (0..200).flat_map(|i| [format!("field{i}"), format!("value{i}")]),
        ),
        c(&["HSET", "h:long", "f1", "v1", "f2", &"v".repeat(70)]),
        c(&["HSET", "h:longfield", &"f".repeat(65), "v"]),
        // Sorted sets: listpack (with infinities and fractions), skiplist by count and by a
        // long member, ties.
        c(&[
            "ZADD", "z:small", "1", "a", "2.5", "b", "-inf", "c", "+inf", "d", "0.1", "e", "-2.25",
            "f", "1e300", "g", "-0", "h",
        ]),
        with(
            c(&["ZADD", "z:big"]),
            (0..200).flat_map(|i| [format!("{}", i as f64 * 0.37 - 20.0), format!("m{i}")]),
        ),
        c(&["ZADD", "z:longmember", "1", &"m".repeat(70), "2", "b"]),
        c(&[
            "ZADD", "z:ties", "1", "a", "1", "b", "1", "c", "inf", "d", "-inf", "e",
        ]),
        // TTLs on every type.
        c(&["SET", "t:s", "v", "PXAT", &(far + 1).to_string()]),
        c(&[
            "SET",
            "t:big",
            &"y".repeat(1000),
            "PXAT",
            &(far + 2).to_string(),
        ]),
        c(&["RPUSH", "t:l", "a", "b"]),
        c(&["PEXPIREAT", "t:l", &(far + 3).to_string()]),
        with(
            c(&["RPUSH", "t:lbig"]),
            (0..1000).map(|i| format!("{i}-{i}-{i}")),
        ),
        c(&["PEXPIREAT", "t:lbig", &(far + 4).to_string()]),
        c(&["HSET", "t:h", "f", "v"]),
        c(&["PEXPIREAT", "t:h", &(far + 5).to_string()]),
        c(&["SADD", "t:set", "1", "2"]),
        c(&["PEXPIREAT", "t:set", &(far + 6).to_string()]),
        c(&["SADD", "t:sets", "p", "q"]),
        c(&["PEXPIREAT", "t:sets", &(far + 7).to_string()]),
        c(&["ZADD", "t:z", "1.5", "a"]),
        c(&["PEXPIREAT", "t:z", &(far + 8).to_string()]),
        c(&["SET", "t:near", "v", "PXAT", "1900000000000"]),
    ];
    let mut b: Vec<Vec<Vec<u8>>> = vec![
        c(&["SELECT", "3"]),
        c(&["SET", "db3:s", "v"]),
        c(&["SET", "s:int", "33"]),
        c(&["RPUSH", "db3:l", "x", "y"]),
        c(&["SET", "db3:ttl", "v", "PXAT", &(far + 9).to_string()]),
        with(
            c(&["HSET", "db3:h"]),
            (0..150).flat_map(|i| [format!("f{i}"), format!("{}", i * 3)]),
        ),
        c(&["SELECT", "15"]),
        c(&["HSET", "db15:h", "a", "b"]),
        c(&["ZADD", "db15:z", "1", "x", "0.5", "y"]),
        c(&["SELECT", "0"]),
    ];
    a.append(&mut b);
    // The halves split before the first hash (no TTL is set apart from its key).
    let split = a.iter().position(|c| c[0] == b"HSET").unwrap();
    match part {
        None => a,
        Some(0) => a[..split].to_vec(),
        Some(_) => a[split..].to_vec(),
    }
}

/// Send commands pipelined and check none failed.
pub fn run(c: &mut Conn, cmds: &[Vec<Vec<u8>>]) {
    for chunk in cmds.chunks(64) {
        for cmd in chunk {
            c.send(cmd);
        }
        for cmd in chunk {
            let r = c.read();
            assert!(
                !r.is_error(),
                "{:?}: {r:?}",
                String::from_utf8_lossy(&cmd[0])
            );
        }
    }
}

/// Fill a server with the whole data set.
pub fn populate_all(c: &mut Conn) {
    run(c, &all_types_commands(None));
}

/// Wait until a server has loaded its data set.
pub fn wait_loaded(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = c.q("INFO persistence");
        if let Reply::Bulk(_) = info {
            if info.text().contains("\r\nloading:0\r\n") {
                return;
            }
        }
        assert!(Instant::now() < deadline, "never finished loading");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `redis-check-rdb` passes on a file (skipped when the tool is missing).
pub fn check_rdb(file: &Path) {
    let Some(check) = which("redis-check-rdb") else {
        return;
    };
    let out = Command::new(check).arg(file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb {}:\n{text}",
        file.display()
    );
}

/// `redis-check-aof` passes on an AOF directory's manifest (skipped when missing).
pub fn check_aof(manifest: &Path) {
    let Some(check) = which("redis-check-aof") else {
        return;
    };
    let out = Command::new(check).arg(manifest).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("is valid"),
        "redis-check-aof {}:\n{text}{}",
        manifest.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copy a directory's regular files into another (created).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
