//! A seeded random walk over the sorted set commands, run on picket and on Redis 7.0 at once:
//! every reply must be equal. Few members and scores that collide (with inf, -0, 1e17,
//! 0.1...), small listpack limits changed on the way, both protocols. A mismatch prints the
//! seed and the step; `PICKET_ZSET_SEED=<n>` replays one seed, `PICKET_ZSET_STEPS` sets the
//! length.

#[path = "zsets_support.rs"]
mod support;

use support::common::Reply;
use support::{raw_reply, Both, Duo};

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
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const KEYS: &[&str] = &["k0", "k1", "k2", "k3"];
const SOURCES: &[&str] = &["k0", "k1", "k2", "k3", "set", "str", "nokey"];
const MEMBERS: &[&str] = &[
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "aa",
    "ab",
    "",
    "zz",
    "1",
    "2",
    "longer-member",
];
const SCORES: &[&str] = &[
    "0", "1", "2", "3", "-1", "-2", "0.5", "-0", "inf", "-inf", "+inf", "1e17", "0.1", "2.5", "1",
    "2", "1",
];
const INCRS: &[&str] = &["1", "-1", "0", "0.1", "inf", "-inf", "2.5", "-0"];
const BOUNDS: &[&str] = &[
    "-inf", "+inf", "0", "1", "2", "(1", "(2", "(0", "-1", "(-inf", "(inf", "0.5", "3", "x",
];
const LEX: &[&str] = &[
    "-", "+", "[a", "(a", "[b", "(c", "[d", "(e", "[zz", "[", "(", "a",
];
const RANKS: &[&str] = &["0", "1", "2", "-1", "-2", "-3", "5", "10", "-10", "x"];

/// One random command, as arguments.
fn gen(r: &mut Rng) -> Vec<String> {
    let key = r.pick(KEYS).to_string();
    let mut v: Vec<String> = Vec::new();
    let push = |v: &mut Vec<String>, s: &str| v.push(s.to_string());
    match r.below(30) {
        0..=4 => {
            push(&mut v, "ZADD");
            push(&mut v, &key);
            for f in ["NX", "XX", "GT", "LT", "CH", "INCR"] {
                if r.chance(12) {
                    push(&mut v, f);
                }
            }
            for _ in 0..1 + r.below(4) {
                let s = r.pick(SCORES);
                let m = r.pick(MEMBERS);
                push(&mut v, s);
                push(&mut v, m);
            }
        }
        5 => {
            let (i, m) = (r.pick(INCRS), r.pick(MEMBERS));
            v = vec!["ZINCRBY".into(), key, i.into(), m.into()];
        }
        6 => {
            v = vec!["ZREM".into(), key];
            for _ in 0..1 + r.below(3) {
                let m = r.pick(MEMBERS);
                push(&mut v, m);
            }
        }
        7 => {
            let cmd = r.pick(&["ZSCORE", "ZRANK", "ZREVRANK"]);
            let m = r.pick(MEMBERS);
            v = vec![cmd.into(), key, m.into()];
        }
        8 => {
            v = vec!["ZMSCORE".into(), key];
            for _ in 0..1 + r.below(3) {
                let m = r.pick(MEMBERS);
                push(&mut v, m);
            }
        }
        9 => {
            let (a, b) = (r.pick(BOUNDS), r.pick(BOUNDS));
            v = vec!["ZCOUNT".into(), key, a.into(), b.into()];
        }
        10 | 11 => {
            let (a, b) = (r.pick(RANKS), r.pick(RANKS));
            let cmd = r.pick(&["ZRANGE", "ZREVRANGE"]);
            v = vec![cmd.into(), key, a.into(), b.into()];
            if r.chance(30) && cmd == "ZRANGE" {
                push(&mut v, "REV");
            }
            if r.chance(50) {
                push(&mut v, "WITHSCORES");
            }
        }
        12 | 13 => {
            let cmd = r.pick(&["ZRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]);
            let (a, b) = (r.pick(BOUNDS), r.pick(BOUNDS));
            v = vec![cmd.into(), key, a.into(), b.into()];
            if cmd == "ZRANGE" {
                push(&mut v, "BYSCORE");
                if r.chance(40) {
                    push(&mut v, "REV");
                }
            }
            if r.chance(50) {
                push(&mut v, "WITHSCORES");
            }
            if r.chance(40) {
                let (o, c) = (
                    r.pick(&["0", "1", "2", "-1", "5"]),
                    r.pick(&["0", "1", "2", "-1", "3"]),
                );
                v.extend(["LIMIT".to_string(), o.into(), c.into()]);
            }
        }
        14 => {
            let cmd = r.pick(&[
                "ZRANGEBYLEX",
                "ZREVRANGEBYLEX",
                "ZLEXCOUNT",
                "ZREMRANGEBYLEX",
            ]);
            let (a, b) = (r.pick(LEX), r.pick(LEX));
            v = vec![cmd.into(), "lex".into(), a.into(), b.into()];
            if cmd.contains("RANGEBY") && r.chance(40) {
                let (o, c) = (
                    r.pick(&["0", "1", "-1", "3"]),
                    r.pick(&["0", "1", "2", "-1"]),
                );
                v.extend(["LIMIT".to_string(), o.into(), c.into()]);
            }
        }
        15 => {
            let m = r.pick(MEMBERS);
            v = vec!["ZADD".into(), "lex".into(), "0".into(), m.into()];
        }
        16 => {
            let cmd = r.pick(&["ZREMRANGEBYRANK", "ZREMRANGEBYSCORE"]);
            let (a, b) = if cmd == "ZREMRANGEBYRANK" {
                (r.pick(RANKS), r.pick(RANKS))
            } else {
                (r.pick(BOUNDS), r.pick(BOUNDS))
            };
            v = vec![cmd.into(), key, a.into(), b.into()];
        }
        17 => {
            let cmd = r.pick(&["ZPOPMIN", "ZPOPMAX"]);
            v = vec![cmd.into(), key];
            if r.chance(50) {
                let c = r.pick(&["0", "1", "2", "5", "-1"]);
                push(&mut v, c);
            }
        }
        18 => {
            let other = r.pick(SOURCES);
            let dir = r.pick(&["MIN", "MAX"]);
            v = vec!["ZMPOP".into(), "2".into(), other.into(), key, dir.into()];
            if r.chance(50) {
                let c = r.pick(&["1", "2", "10"]);
                v.extend(["COUNT".to_string(), c.into()]);
            }
        }
        19 | 20 => {
            let cmd = r.pick(&[
                "ZUNIONSTORE",
                "ZINTERSTORE",
                "ZDIFFSTORE",
                "ZUNION",
                "ZINTER",
                "ZDIFF",
                "ZINTERCARD",
            ]);
            v = vec![cmd.into()];
            if cmd.ends_with("STORE") {
                push(&mut v, &key);
            }
            let n = 1 + r.below(3);
            push(&mut v, &n.to_string());
            for _ in 0..n {
                let s = r.pick(SOURCES);
                push(&mut v, s);
            }
            let diff = cmd.starts_with("ZDIFF");
            let card = cmd == "ZINTERCARD";
            if !diff && !card && r.chance(40) {
                push(&mut v, "WEIGHTS");
                for _ in 0..n {
                    let w = r.pick(&["1", "2", "-1", "0", "0.5", "inf"]);
                    push(&mut v, w);
                }
            }
            if !diff && !card && r.chance(40) {
                let a = r.pick(&["SUM", "MIN", "MAX"]);
                v.extend(["AGGREGATE".to_string(), a.into()]);
            }
            if card && r.chance(50) {
                let l = r.pick(&["0", "1", "2"]);
                v.extend(["LIMIT".to_string(), l.into()]);
            }
            if !cmd.ends_with("STORE") && !card && r.chance(60) {
                push(&mut v, "WITHSCORES");
            }
        }
        21 => {
            let src = r.pick(KEYS);
            v = vec!["ZRANGESTORE".into(), key, src.into()];
            match r.below(3) {
                0 => {
                    let (a, b) = (r.pick(RANKS), r.pick(RANKS));
                    v.extend([a.to_string(), b.to_string()]);
                }
                _ => {
                    let (a, b) = (r.pick(BOUNDS), r.pick(BOUNDS));
                    v.extend([a.to_string(), b.to_string(), "BYSCORE".into()]);
                    if r.chance(50) {
                        push(&mut v, "REV");
                    }
                    if r.chance(50) {
                        v.extend(["LIMIT".to_string(), "1".into(), "2".into()]);
                    }
                }
            }
        }
        22 => {
            v = vec!["ZRANDMEMBER".into(), key, "1000".into()];
            if r.chance(50) {
                push(&mut v, "WITHSCORES");
            }
        }
        23 => {
            let cmd = r.pick(&["ZCARD", "OBJECT"]);
            v = if cmd == "OBJECT" {
                vec!["OBJECT".into(), "ENCODING".into(), key]
            } else {
                vec![cmd.into(), key]
            };
        }
        24 => {
            v = vec![
                "ZSCAN".into(),
                key,
                "0".into(),
                "COUNT".into(),
                "1000".into(),
            ]
        }
        25 => {
            let m = r.pick(MEMBERS);
            v = vec!["SADD".into(), "set".into(), m.into()];
        }
        26 => {
            v = vec![
                "DEL".into(),
                r.pick(&["k0", "k1", "k2", "k3", "set", "lex"]).into(),
            ]
        }
        27 => {
            let n = r.pick(&["0", "1", "3", "5", "8", "128"]);
            v = vec![
                "CONFIG".into(),
                "SET".into(),
                "zset-max-listpack-entries".into(),
                n.into(),
            ];
        }
        28 => {
            let cmd = r.pick(&["BZPOPMIN", "BZPOPMAX", "BZMPOP"]);
            v = if cmd == "BZMPOP" {
                vec![
                    "BZMPOP".into(),
                    "0.01".into(),
                    "1".into(),
                    key,
                    "MAX".into(),
                ]
            } else {
                vec![cmd.into(), key, "0.01".into()]
            };
        }
        _ => {
            let n = r.pick(&["2", "3", "64"]);
            v = vec![
                "CONFIG".into(),
                "SET".into(),
                "zset-max-listpack-value".into(),
                n.into(),
            ];
        }
    }
    v
}

/// ZSCAN of a skiplist comes in dict order: sort the pairs.
fn normalize(cmd: &[String], reply: Reply) -> Reply {
    if cmd[0] != "ZSCAN" {
        return reply;
    }
    let Reply::Array(items) = reply else {
        return reply;
    };
    if items.len() != 2 {
        return Reply::Array(items);
    }
    let mut pairs: Vec<Vec<Reply>> = items[1].items().chunks(2).map(|c| c.to_vec()).collect();
    pairs.sort_by_key(|p| format!("{p:?}"));
    Reply::Array(vec![items[0].clone(), Reply::Array(pairs.concat())])
}

fn run(seed: u64, steps: usize, resp3: bool, c: &mut Both) {
    let mut r = Rng(picket_common::ids::seeded(seed));
    c.lines("FLUSHALL\nSET str v\nCONFIG SET zset-max-listpack-entries 4\nCONFIG SET zset-max-listpack-value 64");
    if resp3 {
        c.both("HELLO 3");
    }
    let stop: Option<usize> = std::env::var("PICKET_ZSET_STOP")
        .ok()
        .and_then(|s| s.parse().ok());
    let mut recent: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    for step in 0..steps {
        let cmd = gen(&mut r);
        let shown = cmd.join(" ");
        if recent.len() == 6 {
            recent.pop_front();
        }
        recent.push_back(shown.clone());
        if stop == Some(step) {
            // Show the state before the step, to debug a mismatch.
            for k in KEYS.iter().chain(["lex", "set"].iter()) {
                let q = ["ZRANGE", k, "0", "-1", "WITHSCORES"];
                eprintln!(
                    "{k}: {:?} {:?}",
                    c.r.cmd(&q),
                    c.r.cmd(&["OBJECT", "ENCODING", k])
                );
                eprintln!(
                    "{k} picket: {:?} {:?}",
                    c.p.cmd(&q),
                    c.p.cmd(&["OBJECT", "ENCODING", k])
                );
            }
            eprintln!("{:?}", c.r.q("CONFIG GET zset-max-listpack-*"));
            panic!("stopped before step {step}: {shown}");
        }
        if resp3 && cmd[0] != "ZSCAN" {
            let a = raw_reply(&mut c.p, &cmd);
            let b = raw_reply(&mut c.r, &cmd);
            assert!(
                a == b,
                "seed {seed} step {step} (RESP3): {shown}\n picket: {:?}\n  redis: {:?}\n after {recent:?}",
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            );
        } else {
            let a = normalize(&cmd, c.p.cmd(&cmd));
            let b = normalize(&cmd, c.r.cmd(&cmd));
            assert!(
                a == b,
                "seed {seed} step {step}: {shown}\n picket: {a:?}\n  redis: {b:?}\n after {recent:?}"
            );
        }
    }
    // The final states are equal too.
    for k in KEYS.iter().chain(["lex"].iter()) {
        let q = vec![
            "ZRANGE".to_string(),
            k.to_string(),
            "0".into(),
            "-1".into(),
            "WITHSCORES".into(),
        ];
        let a = raw_reply(&mut c.p, &q);
        let b = raw_reply(&mut c.r, &q);
        assert!(a == b, "seed {seed}: final {k} differs");
    }
    if resp3 {
        c.both("HELLO 2");
    }
}

#[test]
fn random_walk_matches_redis() {
    // FLUSHALL and CONFIG SET on our own Redis only (started here, on 27600-27699).
    let Some(d) = Duo::start(&[]) else { return };
    let mut c = d.conns();
    let steps: usize = std::env::var("PICKET_ZSET_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let seeds: Vec<u64> = match std::env::var("PICKET_ZSET_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(s) => vec![s],
        None => vec![1, 2, 3, 4],
    };
    for seed in seeds {
        eprintln!("zset model: seed {seed}, {steps} steps");
        run(seed, steps, seed % 2 == 0, &mut c);
    }
}
