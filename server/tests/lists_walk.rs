//! A seeded random walk of list commands run on picket and Redis 7.0 side by side: thousands of
//! operations over a few keys (and a string key in their way), with valid and invalid
//! arguments, inside and outside MULTI, in RESP2 and RESP3 (switched during the walk). Every
//! reply is compared on its exact wire bytes; the dirty counters are compared along the way;
//! at the end the contents of every key and the whole stream of keyspace events must match.
//!
//! Blocking commands are issued bare only when they can be served at once (a probe with
//! EXISTS, itself compared, tells), and otherwise inside MULTI where they answer at once.
//!
//! A mismatch prints the seed and the step; `PICKET_LIST_SEED=<n>` replays that seed alone,
//! `PICKET_LIST_STEPS=<n>` sets the walk's length.

mod common;
mod lists_util;

use common::Pair;
use lists_util::{dirty, Both, RawConn, Rng};

const LISTS: &[&str] = &["l0", "l1", "l2", "l3"];

fn key(rng: &mut Rng) -> String {
    match rng.below(40) {
        0 => "str".into(),
        1 => "nokey".into(),
        _ => LISTS[rng.below(LISTS.len())].into(),
    }
}

fn elem(rng: &mut Rng) -> Vec<u8> {
    match rng.below(24) {
        0 => Vec::new(),
        1 => b"\0\xff\r\n".to_vec(),
        2 => format!("long-{}", "x".repeat(rng.below(80))).into_bytes(),
        3 => b"007".to_vec(),
        4 => b"-1".to_vec(),
        5 => b"9223372036854775808".to_vec(),
        _ => rng
            .pick(&["a", "b", "c", "d", "e", "1", "2"])
            .as_bytes()
            .to_vec(),
    }
}

/// An index or count: mostly small, sometimes extreme or not a number.
fn index(rng: &mut Rng) -> String {
    match rng.below(30) {
        0 => "-9223372036854775808".into(),
        1 => "9223372036854775807".into(),
        2 => "abc".into(),
        3 => "1.5".into(),
        _ => rng.between(-7, 7).to_string(),
    }
}

fn count(rng: &mut Rng) -> String {
    match rng.below(25) {
        0 => "-1".into(),
        1 => "x".into(),
        2 => "0".into(),
        _ => rng.between(1, 6).to_string(),
    }
}

fn side(rng: &mut Rng) -> &'static str {
    match rng.below(30) {
        0 => "middle",
        _ => rng.pick(&["LEFT", "RIGHT", "left", "Right"]),
    }
}

fn args(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// Several distinct keys (1..=3), sometimes repeated.
fn keys(rng: &mut Rng) -> Vec<String> {
    (0..1 + rng.below(3)).map(|_| key(rng)).collect()
}

/// A command, and the keys whose existence decides whether it can be served at once (for
/// the blocking commands; empty for the others).
fn command(rng: &mut Rng) -> (Vec<Vec<u8>>, Vec<String>) {
    let k = key(rng);
    let mut none = Vec::new();
    let cmd = match rng.below(27) {
        0..=4 => {
            let name = rng.pick(&["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]);
            let mut a = args(&[name, &k]);
            for _ in 0..1 + rng.below(4) {
                a.push(elem(rng));
            }
            a
        }
        5 | 6 => {
            let name = rng.pick(&["LPOP", "RPOP"]);
            if rng.chance(50) {
                args(&[name, &k])
            } else {
                args(&[name, &k, &count(rng)])
            }
        }
        7 => args(&["LLEN", &k]),
        8 | 9 => args(&["LRANGE", &k, &index(rng), &index(rng)]),
        10 => args(&["LINDEX", &k, &index(rng)]),
        11 => {
            let mut a = args(&["LSET", &k, &index(rng)]);
            a.push(elem(rng));
            a
        }
        12 => {
            let w = rng.pick(&["BEFORE", "after", "AFTER", "nowhere"]);
            let mut a = args(&["LINSERT", &k, w]);
            a.push(elem(rng));
            a.push(elem(rng));
            a
        }
        13 => {
            let mut a = args(&["LREM", &k, &index(rng)]);
            a.push(elem(rng));
            a
        }
        14 => args(&["LTRIM", &k, &index(rng), &index(rng)]),
        15 => {
            let mut a = args(&["LPOS", &k]);
            a.push(elem(rng));
            for _ in 0..rng.below(4) {
                match rng.below(7) {
                    0 | 1 => a.extend(args(&["RANK", &index(rng)])),
                    2 | 3 => a.extend(args(&["COUNT", &index(rng)])),
                    4 | 5 => a.extend(args(&["MAXLEN", &index(rng)])),
                    _ => a.extend(args(&["FOO"])),
                }
            }
            a
        }
        16 | 17 => {
            let dst = key(rng);
            if rng.chance(30) {
                args(&["RPOPLPUSH", &k, &dst])
            } else {
                args(&["LMOVE", &k, &dst, side(rng), side(rng)])
            }
        }
        18 | 19 => {
            let ks = keys(rng);
            let n = if rng.chance(5) {
                index(rng)
            } else {
                ks.len().to_string()
            };
            let mut a = args(&["LMPOP", &n]);
            a.extend(ks.iter().map(|k| k.as_bytes().to_vec()));
            a.push(side(rng).as_bytes().to_vec());
            if rng.chance(60) {
                a.extend(args(&["COUNT", &count(rng)]));
            }
            a
        }
        20 | 21 => {
            let ks = keys(rng);
            let mut a = args(&[rng.pick(&["BLPOP", "BRPOP"])]);
            a.extend(ks.iter().map(|k| k.as_bytes().to_vec()));
            a.push(b"0".to_vec());
            none = ks;
            a
        }
        22 => {
            let dst = key(rng);
            none = vec![k.clone()];
            if rng.chance(40) {
                args(&["BRPOPLPUSH", &k, &dst, "0"])
            } else {
                args(&["BLMOVE", &k, &dst, side(rng), side(rng), "0"])
            }
        }
        23 => {
            let ks = keys(rng);
            let mut a = args(&["BLMPOP", "0", &ks.len().to_string()]);
            a.extend(ks.iter().map(|k| k.as_bytes().to_vec()));
            a.push(side(rng).as_bytes().to_vec());
            if rng.chance(60) {
                a.extend(args(&["COUNT", &count(rng)]));
            }
            none = ks;
            a
        }
        24 => match rng.below(6) {
            0 => args(&["SET", "str", "v"]),
            1 => args(&["DEL", &k]),
            2 => args(&["EXPIRE", &k, "1000"]),
            3 => args(&["PERSIST", &k]),
            4 => args(&["TYPE", &k]),
            _ => args(&["OBJECT", "ENCODING", &k]),
        },
        25 => {
            let dst = key(rng);
            if rng.chance(50) {
                args(&["RENAME", &k, &dst])
            } else {
                args(&["COPY", &k, &dst, "REPLACE"])
            }
        }
        _ => {
            // Wrong arity.
            let name = rng.pick(&["LPUSH", "LRANGE", "LINSERT", "LMOVE", "BLMOVE", "LMPOP"]);
            args(&[name, &k])
        }
    };
    (cmd, none)
}

fn contents(c: &mut RawConn, k: &str) -> (Vec<u8>, Vec<u8>) {
    (
        c.cmd(&["TYPE", k]),
        c.cmd(&["LRANGE", k, "0", "-1"]).to_vec(),
    )
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
    let mut w = Both::connect(pair.picket.port, pair.redis.port);
    w.line("FLUSHALL", "setup");
    let (dp0, dr0) = (dirty(&mut w.p), dirty(&mut w.r));
    let mut in_multi = false;
    for step in 0..steps {
        let ctx = format!("seed {seed} step {step} (PICKET_LIST_SEED={seed} replays it)");
        if !in_multi && rng.chance(2) {
            let proto = if rng.chance(50) { "3" } else { "2" };
            // HELLO's reply holds the client id: switch both without comparing.
            w.p.cmd(&["HELLO", proto]);
            w.r.cmd(&["HELLO", proto]);
        }
        if !in_multi && rng.chance(3) {
            w.line("MULTI", &ctx);
            in_multi = true;
        }
        let (cmd, would_block_on) = command(&mut rng);
        if !would_block_on.is_empty() && !in_multi {
            // Served at once only if one of its keys exists (a string key answers WRONGTYPE).
            let mut probe = vec![b"EXISTS".to_vec()];
            probe.extend(would_block_on.iter().map(|k| k.as_bytes().to_vec()));
            if w.same(&probe, &ctx) == b":0\r\n" {
                w.line("MULTI", &ctx);
                in_multi = true;
            }
        }
        w.same(&cmd, &ctx);
        if in_multi && rng.chance(35) {
            w.line(if rng.chance(10) { "DISCARD" } else { "EXEC" }, &ctx);
            in_multi = false;
        }
        if !in_multi && step % 89 == 0 {
            let (dp, dr) = (dirty(&mut w.p), dirty(&mut w.r));
            assert_eq!(dp - dp0, dr - dr0, "{ctx}: dirty counters");
        }
    }
    if in_multi {
        w.line("EXEC", "end");
    }
    // The same data at the end, and the same events all along.
    for k in LISTS.iter().chain(&["str", "nokey"]) {
        let (p, r) = (contents(&mut w.p, k), contents(&mut w.r, k));
        assert_eq!(p, r, "seed {seed}: final contents of {k}");
    }
    let (dp, dr) = (dirty(&mut w.p), dirty(&mut w.r));
    assert_eq!(dp - dp0, dr - dr0, "seed {seed}: final dirty counters");
    let mut events = Vec::new();
    for s in &mut subs {
        s.send(&["PING"]);
        let mut got = Vec::new();
        loop {
            let v = s.read();
            if String::from_utf8_lossy(&v).contains("pong") {
                break;
            }
            got.push(v);
        }
        events.push(got);
    }
    assert!(events[1].len() > steps / 4, "seed {seed}: few events");
    for (i, (a, b)) in events[0].iter().zip(&events[1]).enumerate() {
        assert!(
            a == b,
            "seed {seed}: event {i}: picket {} redis {}",
            lists_util::show(a),
            lists_util::show(b)
        );
    }
    assert_eq!(
        events[0].len(),
        events[1].len(),
        "seed {seed}: event counts"
    );
}

#[test]
fn differential_random_walk() {
    let Some(pair) = Pair::start(&["--notify-keyspace-events", "KEAn"]) else {
        return;
    };
    let steps = std::env::var("PICKET_LIST_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let seeds: Vec<u64> = match std::env::var("PICKET_LIST_SEED") {
        Ok(s) => vec![s.parse().expect("PICKET_LIST_SEED is a number")],
        Err(_) => vec![1, 2, 3],
    };
    for seed in seeds {
        eprintln!("list walk: seed {seed}, {steps} steps (PICKET_LIST_SEED={seed} replays it)");
        walk(&pair, seed, steps);
    }
}
