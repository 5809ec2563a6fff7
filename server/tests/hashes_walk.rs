//! A seeded random walk of hash commands run on picket and Redis 7.0 side by side: every reply
//! compared on the exact wire bytes (RESP2 and RESP3, switched during the walk), except where
//! Redis leaves the order to its hash table (compared as sets) and HRANDFIELD (compared by
//! shape and checked against the hash's contents). Small, changing listpack limits make the
//! encodings convert often. At the end the dirty counters and the keyspace events must match.
//!
//! A mismatch prints the seed and the step; `PICKET_HASH_SEED=<n>` replays that seed alone,
//! `PICKET_HASH_STEPS=<n>` sets the walk's length.

mod common;
mod hashes_util;

use std::collections::{BTreeMap, BTreeSet};

use common::Pair;
use hashes_util::{show, RawConn, V};

/// The workspace's seeded generator (`picket_common::ids::seeded`, Xoshiro256++), so a
/// seed replays the same cases.
struct Rng(picket_common::ids::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        rand::RngExt::random(&mut self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const KEYS: &[&str] = &["h0", "h1", "h2", "h3", "str", "lst"];

fn key(rng: &mut Rng) -> Vec<u8> {
    // Mostly hashes; now and then another type.
    let k = if rng.chance(94) {
        KEYS[rng.below(4)]
    } else {
        KEYS[4 + rng.below(2)]
    };
    k.as_bytes().to_vec()
}

fn field(rng: &mut Rng) -> Vec<u8> {
    match rng.below(20) {
        0 => Vec::new(),
        1 => vec![0, 255, b'\n'],
        2 => format!("long-field-{}", "x".repeat(rng.below(40))).into_bytes(),
        _ => format!("f{}", rng.below(24)).into_bytes(),
    }
}

fn value(rng: &mut Rng) -> Vec<u8> {
    let v = match rng.below(12) {
        0 => return Vec::new(),
        1 => return "v".repeat(rng.below(70)).into_bytes(),
        2 => rng.pick(&[
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775806",
        ]),
        3 => rng.pick(&["1.5", "-0.25", "1e10", "3.0", "0x10", "inf"]),
        4 => rng.pick(&["abc", "007", "-0", " 1", "+1", "1 "]),
        _ => return (rng.below(2000) as i64 - 1000).to_string().into_bytes(),
    };
    v.as_bytes().to_vec()
}

fn incr_int(rng: &mut Rng) -> Vec<u8> {
    let v = rng.pick(&[
        "1",
        "-3",
        "100",
        "0",
        "9223372036854775807",
        "-9223372036854775808",
        "x",
        "1.5",
        "-1",
        "5",
    ]);
    v.as_bytes().to_vec()
}

fn incr_float(rng: &mut Rng) -> Vec<u8> {
    let v = rng.pick(&[
        "1.5", "-0.5", "1e3", "0.1", "inf", "x", "1e308", "-1e-5", "3", "2.5e-3", "-7",
    ]);
    v.as_bytes().to_vec()
}

fn command(rng: &mut Rng) -> Vec<Vec<u8>> {
    let w = |s: &str| s.as_bytes().to_vec();
    let k = key(rng);
    match rng.below(100) {
        0..=15 => {
            let name = if rng.chance(80) { "HSET" } else { "HMSET" };
            let mut c = vec![w(name), k];
            for _ in 0..1 + rng.below(4) {
                c.push(field(rng));
                c.push(value(rng));
            }
            if rng.chance(3) {
                c.pop();
            }
            c
        }
        16..=20 => vec![w("HSETNX"), k, field(rng), value(rng)],
        21..=27 => vec![w("HGET"), k, field(rng)],
        28..=30 => {
            let mut c = vec![w("HMGET"), k];
            for _ in 0..1 + rng.below(4) {
                c.push(field(rng));
            }
            c
        }
        31..=40 => {
            let mut c = vec![w("HDEL"), k];
            for _ in 0..1 + rng.below(4) {
                c.push(field(rng));
            }
            c
        }
        41..=43 => vec![w("HEXISTS"), k, field(rng)],
        44..=46 => vec![w("HLEN"), k],
        47..=48 => vec![w("HSTRLEN"), k, field(rng)],
        49..=54 => vec![w("HINCRBY"), k, field(rng), incr_int(rng)],
        55..=59 => vec![w("HINCRBYFLOAT"), k, field(rng), incr_float(rng)],
        60..=63 => vec![w("HGETALL"), k],
        64..=65 => vec![w("HKEYS"), k],
        66..=67 => vec![w("HVALS"), k],
        68..=74 => {
            let mut c = vec![w("HRANDFIELD"), k];
            if rng.chance(80) {
                let n = rng.below(40) as i64 - 15;
                c.push(n.to_string().into_bytes());
                if rng.chance(50) {
                    c.push(w("WITHVALUES"));
                }
            }
            c
        }
        75..=80 => {
            let mut c = vec![w("HSCAN"), k, w("0")];
            if rng.chance(40) {
                c.extend([w("COUNT"), (1 + rng.below(20)).to_string().into_bytes()]);
            }
            if rng.chance(40) {
                c.extend([
                    w("MATCH"),
                    w(rng.pick(&["f1*", "*", "f?", "long*", "[a-f]*"])),
                ]);
            }
            c
        }
        81..=83 => vec![w("OBJECT"), w("ENCODING"), k],
        84 => vec![w("TYPE"), k],
        85 => vec![w("DEL"), k],
        86 => vec![w("RENAME"), k, key(rng)],
        87 => vec![w("COPY"), k, key(rng), w("REPLACE")],
        88..=89 => {
            let n = rng.pick(&["0", "1", "2", "4", "8", "16", "128"]);
            vec![w("CONFIG"), w("SET"), w("hash-max-listpack-entries"), w(n)]
        }
        90..=91 => {
            let n = rng.pick(&["0", "4", "8", "16", "64"]);
            vec![w("CONFIG"), w("SET"), w("hash-max-listpack-value"), w(n)]
        }
        92 => vec![w("SET"), w("str"), value(rng)],
        93 => vec![w("RPUSH"), w("lst"), value(rng)],
        94..=95 => {
            let proto = rng.pick(&["2", "3"]);
            vec![w("HELLO"), w(proto)]
        }
        _ => {
            // Arity and syntax errors.
            let bad = rng.pick(&[
                "HSET h0 f",
                "HGET h0",
                "HRANDFIELD h0 1 WITHVALUES x",
                "HRANDFIELD h0 x",
                "HSCAN h0 0 COUNT 0",
                "HINCRBYFLOAT h0 f",
            ]);
            bad.split(' ').map(w).collect()
        }
    }
}

/// Both sides, driven together with the walk's context for messages.
struct Walk {
    p: RawConn,
    r: RawConn,
    resp3: bool,
    ctx: String,
}

impl Walk {
    fn both(&mut self, args: &[Vec<u8>]) -> (V, V) {
        (self.p.cmd(args), self.r.cmd(args))
    }

    fn encoding(&mut self, key: &[u8]) -> String {
        let e = self.r.cmd(&[&b"OBJECT"[..], b"ENCODING", key]);
        match e {
            V::Bulk(_, Some(b)) => String::from_utf8_lossy(&b).into_owned(),
            _ => "none".into(),
        }
    }

    fn contents(c: &mut RawConn, key: &[u8]) -> Option<BTreeMap<Vec<u8>, Vec<u8>>> {
        let v = c.cmd(&[&b"HGETALL"[..], key]);
        if v.is_error() || v.items().is_empty() {
            return None;
        }
        Some(
            v.items()
                .chunks(2)
                .map(|p| (p[0].bytes(), p[1].bytes()))
                .collect(),
        )
    }

    fn step(&mut self, cmd: &[Vec<u8>]) {
        let name = String::from_utf8_lossy(&cmd[0]).to_ascii_uppercase();
        let (p, r) = self.both(cmd);
        let ctx = format!("{}: {}", self.ctx, show(cmd));
        if name == "HELLO" {
            assert_eq!(p.is_error(), r.is_error(), "{ctx}");
            self.resp3 = cmd[1] == b"3";
            return;
        }
        if p.is_error() || r.is_error() || cmd.len() < 2 {
            assert_eq!(p, r, "{ctx}: picket (left), redis (right)");
            return;
        }
        let key = cmd[1].clone();
        let hashtable = self.encoding(&key) == "hashtable";
        match name.as_str() {
            "HGETALL" | "HKEYS" | "HVALS" if hashtable => {
                let step = if name == "HGETALL" { 2 } else { 1 };
                let set = |v: &V| -> BTreeSet<Vec<V>> {
                    v.items().chunks(step).map(|c| c.to_vec()).collect()
                };
                assert_eq!(p.skeleton(), r.skeleton(), "{ctx}: shapes");
                assert_eq!(set(&p), set(&r), "{ctx}: picket (left), redis (right)");
            }
            "HRANDFIELD" => self.check_random(cmd, &p, &r, &ctx),
            "HSCAN" if hashtable => {
                let full = |c: &mut RawConn| -> BTreeSet<(Vec<u8>, Vec<u8>)> {
                    let mut args = cmd.to_vec();
                    let mut seen = BTreeSet::new();
                    loop {
                        let v = c.cmd(&args);
                        for p in v.items()[1].items().chunks(2) {
                            seen.insert((p[0].bytes(), p[1].bytes()));
                        }
                        if v.items()[0].text() == "0" {
                            return seen;
                        }
                        args[2] = v.items()[0].bytes();
                    }
                };
                assert_eq!(full(&mut self.p), full(&mut self.r), "{ctx}: full scans");
            }
            _ => assert_eq!(p, r, "{ctx}: picket (left), redis (right)"),
        }
    }

    fn check_random(&mut self, cmd: &[Vec<u8>], p: &V, r: &V, ctx: &str) {
        assert_eq!(p.skeleton(), r.skeleton(), "{ctx}: shapes {p:?} {r:?}");
        let hash = Self::contents(&mut self.r, &cmd[1]);
        assert_eq!(
            hash,
            Self::contents(&mut self.p, &cmd[1]),
            "{ctx}: contents"
        );
        let Some(hash) = hash else { return };
        if cmd.len() == 2 {
            assert!(hash.contains_key(&p.bytes()), "{ctx}: {p:?}");
            return;
        }
        let n: i64 = String::from_utf8_lossy(&cmd[2]).parse().expect("count");
        let withvalues = cmd.len() == 4;
        let mut pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let items = p.items();
        if withvalues && self.resp3 {
            for it in items {
                pairs.push((it.items()[0].bytes(), Some(it.items()[1].bytes())));
            }
        } else if withvalues {
            for it in items.chunks(2) {
                pairs.push((it[0].bytes(), Some(it[1].bytes())));
            }
        } else {
            pairs.extend(items.iter().map(|f| (f.bytes(), None)));
        }
        for (f, v) in &pairs {
            let stored = hash.get(f);
            assert!(stored.is_some(), "{ctx}: {f:?} is no field");
            if let Some(v) = v {
                assert_eq!(Some(v), stored, "{ctx}");
            }
        }
        if n > 0 {
            let distinct: BTreeSet<&Vec<u8>> = pairs.iter().map(|(f, _)| f).collect();
            assert_eq!(distinct.len(), pairs.len(), "{ctx}: repeated fields");
        }
    }
}

fn dirty(c: &mut RawConn) -> i64 {
    let info = c.q("INFO persistence").text();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("rdb_changes_since_last_save in INFO")
}

fn walk(pair: &Pair, seed: u64, steps: usize) {
    let mut rng = Rng(picket_common::ids::seeded(seed));
    let mut subs = [
        RawConn::connect(pair.picket.port),
        RawConn::connect(pair.redis.port),
    ];
    for s in &mut subs {
        s.q("PSUBSCRIBE __key*__:*");
    }
    let mut w = Walk {
        p: RawConn::connect(pair.picket.port),
        r: RawConn::connect(pair.redis.port),
        resp3: false,
        ctx: String::new(),
    };
    w.both(&[b"FLUSHALL".to_vec()]);
    for cfg in ["hash-max-listpack-entries 8", "hash-max-listpack-value 16"] {
        let mut args = vec![b"CONFIG".to_vec(), b"SET".to_vec()];
        args.extend(cfg.split(' ').map(|a| a.as_bytes().to_vec()));
        w.both(&args);
    }
    let (dp0, dr0) = (dirty(&mut w.p), dirty(&mut w.r));
    for step in 0..steps {
        w.ctx = format!("seed {seed} step {step}");
        let cmd = command(&mut rng);
        w.step(&cmd);
        if step % 97 == 0 {
            let (dp, dr) = (dirty(&mut w.p), dirty(&mut w.r));
            assert_eq!(dp - dp0, dr - dr0, "{}: dirty counters", w.ctx);
        }
    }
    // The same data at the end, and the same events all along.
    for k in KEYS.iter().take(4) {
        let (p, r) = (
            Walk::contents(&mut w.p, k.as_bytes()),
            Walk::contents(&mut w.r, k.as_bytes()),
        );
        assert_eq!(p, r, "seed {seed}: final contents of {k}");
    }
    let mut events = Vec::new();
    for s in &mut subs {
        s.send(&["PING"]);
        let mut got = Vec::new();
        loop {
            let v = s.read();
            if v.items()[0].text() == "pong" {
                break;
            }
            got.push(v);
        }
        events.push(got);
    }
    assert!(events[1].len() > steps / 4, "seed {seed}: few events");
    for (i, (a, b)) in events[0].iter().zip(&events[1]).enumerate() {
        assert_eq!(a, b, "seed {seed}: event {i}: picket (left), redis (right)");
    }
    assert_eq!(
        events[0].len(),
        events[1].len(),
        "seed {seed}: event counts"
    );
}

#[test]
fn differential_random_walk() {
    let Some(pair) = Pair::start(&["--notify-keyspace-events", "KEA"]) else {
        return;
    };
    let steps = std::env::var("PICKET_HASH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2500);
    let seeds: Vec<u64> = match std::env::var("PICKET_HASH_SEED") {
        Ok(s) => vec![s.parse().expect("PICKET_HASH_SEED is a number")],
        Err(_) => vec![1, 2, 3, 4],
    };
    for seed in seeds {
        eprintln!("hash walk: seed {seed}, {steps} steps (PICKET_HASH_SEED={seed} replays it)");
        walk(&pair, seed, steps);
    }
}
