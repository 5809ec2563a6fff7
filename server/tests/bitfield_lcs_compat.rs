//! BITFIELD, BITFIELD_RO and LCS compared with Redis 7.0, reply by reply: edge cases (types,
//! offsets, `#n` offsets, every overflow mode at the limits of every width, the errors), then
//! a seeded random walk of BITFIELD calls over shared keys, the resulting strings compared
//! with GET, and LCS over random strings with every option. Also what BITFIELD propagates
//! (compared in `dirty` and the keyspace events through the replies of INFO-free commands).
//!
//! `PICKET_BITFIELD_SEED=<n>` replays one seed.

mod common;

use common::Pair;
use common::Rng;

const EDGE: &[&[&str]] = &[
    &["BITFIELD", "b"],
    &["BITFIELD", "b", "GET", "i8", "0"],
    &["BITFIELD", "b", "GET", "u8"],
    &["BITFIELD", "b", "GET", "x8", "0"],
    &["BITFIELD", "b", "GET", "I8", "0"],
    &["BITFIELD", "b", "GET", "u64", "0"],
    &["BITFIELD", "b", "GET", "i65", "0"],
    &["BITFIELD", "b", "GET", "i0", "0"],
    &["BITFIELD", "b", "GET", "u", "0"],
    &["BITFIELD", "b", "GET", "i8", "-1"],
    &["BITFIELD", "b", "GET", "i8", "x"],
    &["BITFIELD", "b", "GET", "i8", "#-1"],
    &["BITFIELD", "b", "GET", "i8", "#x"],
    &["BITFIELD", "b", "GET", "i8", "4294967296"],
    &["BITFIELD", "b", "GET", "i8", "4294967295"],
    &["BITFIELD", "b", "GET", "i8", "#536870912"],
    &["BITFIELD", "b", "SET", "i8", "0"],
    &["BITFIELD", "b", "SET", "i8", "0", "x"],
    &["BITFIELD", "b", "SET", "i8", "0", "1.5"],
    &["BITFIELD", "b", "INCRBY", "u8", "0"],
    &["BITFIELD", "b", "OVERFLOW"],
    &["BITFIELD", "b", "OVERFLOW", "nope", "GET", "i8", "0"],
    &["BITFIELD", "b", "FOO", "i8", "0"],
    &["BITFIELD", "b", "SET", "i8", "0", "100", "FOO"],
    &[
        "BITFIELD", "b", "SET", "u8", "#1", "200", "GET", "u8", "8", "GET", "i8", "8",
    ],
    &[
        "BITFIELD",
        "b",
        "SET",
        "i64",
        "0",
        "-9223372036854775808",
        "GET",
        "i64",
        "0",
    ],
    &["BITFIELD", "b", "INCRBY", "i64", "0", "-1"],
    &[
        "BITFIELD",
        "b",
        "SET",
        "i64",
        "0",
        "9223372036854775807",
        "INCRBY",
        "i64",
        "0",
        "1",
    ],
    &[
        "BITFIELD", "b", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "1", "INCRBY", "i64", "0", "-1",
    ],
    &[
        "BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "i64", "0", "1",
    ],
    &["BITFIELD", "b", "SET", "u63", "0", "-1"],
    &[
        "BITFIELD", "b", "OVERFLOW", "SAT", "SET", "u63", "0", "-1", "GET", "u63", "0",
    ],
    &[
        "BITFIELD", "b", "OVERFLOW", "FAIL", "SET", "u63", "0", "-1", "GET", "u63", "0",
    ],
    &[
        "BITFIELD", "b", "SET", "u1", "100", "3", "GET", "u1", "100", "GET", "u2", "99",
    ],
    &[
        "BITFIELD", "b", "OVERFLOW", "SAT", "INCRBY", "u4", "3", "100", "INCRBY", "u4", "3", "-100",
    ],
    &[
        "BITFIELD", "b", "OVERFLOW", "WRAP", "INCRBY", "i5", "3", "100", "INCRBY", "i5", "3",
        "-100",
    ],
    &[
        "BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "i5", "3", "100", "GET", "i5", "3",
    ],
    &["GET", "b"],
    &["STRLEN", "b"],
    &["BITFIELD_RO", "b", "GET", "i8", "0", "GET", "u16", "#3"],
    &["BITFIELD_RO", "b", "SET", "i8", "0", "1"],
    &["BITFIELD_RO", "b", "INCRBY", "i8", "0", "1"],
    &["BITFIELD_RO", "missing", "GET", "u8", "0"],
    &["BITFIELD_RO", "missing", "SET", "u8", "0", "1"],
    &["BITFIELD", "missing2", "GET", "u8", "0"],
    &["EXISTS", "missing2"],
    &[
        "BITFIELD", "missing3", "OVERFLOW", "FAIL", "INCRBY", "u8", "16", "300",
    ],
    &["GET", "missing3"],
    &["LPUSH", "list", "a"],
    &["BITFIELD", "list", "GET", "u8", "0"],
    &["BITFIELD", "list", "SET", "u8", "0", "1"],
    &["BITFIELD_RO", "list", "GET", "u8", "0"],
    &["SET", "num", "12345"],
    &[
        "BITFIELD", "num", "GET", "u8", "0", "INCRBY", "u8", "0", "1",
    ],
    &["GET", "num"],
    &["OBJECT", "ENCODING", "num"],
    // LCS
    &["SET", "a", "ohmytext"],
    &["SET", "c", "mynewtext"],
    &["LCS", "a", "c"],
    &["LCS", "a", "c", "LEN"],
    &["LCS", "a", "c", "IDX"],
    &["LCS", "a", "c", "IDX", "MINMATCHLEN", "4"],
    &["LCS", "a", "c", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    &["LCS", "a", "c", "IDX", "WITHMATCHLEN"],
    &["LCS", "a", "c", "IDX", "MINMATCHLEN", "-3"],
    &["LCS", "a", "c", "IDX", "MINMATCHLEN", "x"],
    &["LCS", "a", "c", "IDX", "MINMATCHLEN"],
    &["LCS", "a", "c", "IDX", "LEN"],
    &["LCS", "a", "c", "FOO"],
    &["LCS", "a", "nokey"],
    &["LCS", "nokey", "nokey2", "IDX"],
    &["LCS", "nokey", "nokey2", "LEN"],
    &["LCS", "a", "list"],
    &["LCS", "list", "a", "LEN"],
    &["LCS", "a", "a", "IDX", "WITHMATCHLEN"],
    &["LCS", "a"],
];

#[test]
fn edge_cases_match_redis() {
    let Some(pair) = Pair::start(&[]) else {
        return;
    };
    pair.same(EDGE);
    let mut p = pair.picket.conn();
    p.cmd(&["HELLO", "3"]);
    let mut r = pair.redis.conn();
    r.cmd(&["HELLO", "3"]);
    for c in [
        &["LCS", "a", "c", "IDX", "WITHMATCHLEN"][..],
        &[
            "BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "i5", "3", "100",
        ],
    ] {
        assert_eq!(sorted(p.cmd(c)), sorted(r.cmd(c)), "RESP3 {c:?}");
    }
}

/// A reply with its maps' entries in a fixed order (the RESP3 parser keeps them in a hash
/// map, so their order as read is not the wire's).
fn sorted(r: common::Reply) -> String {
    match r {
        common::Reply::Map(mut v) => {
            v.sort_by_key(|(k, _)| format!("{k:?}"));
            format!("{v:?}")
        }
        other => format!("{other:?}"),
    }
}

fn random_value(rng: &mut Rng, signed: bool, bits: u64) -> i64 {
    let edge: i64 = if signed {
        if bits == 64 {
            i64::MAX
        } else {
            (1i64 << (bits - 1)) - 1
        }
    } else {
        ((1u64 << bits) - 1) as i64
    };
    match rng.below(6) {
        0 => edge,
        1 => edge.wrapping_add(1),
        2 => edge.wrapping_neg(),
        3 => edge.wrapping_neg().wrapping_sub(1),
        4 => rng.below(1000) as i64 - 500,
        _ => rng.next_u64() as i64,
    }
}

#[test]
fn random_bitfield_walk_matches_redis() {
    let Some(pair) = Pair::start(&[]) else {
        return;
    };
    let seeds: Vec<u64> = match std::env::var("PICKET_BITFIELD_SEED") {
        Ok(s) => vec![s.parse().expect("seed")],
        Err(_) => (1..=6).collect(),
    };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    for seed in seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for step in 0..400 {
            let key = format!("bf{}", rng.below(3));
            let mut cmd = vec![
                if rng.below(8) == 0 {
                    "BITFIELD_RO"
                } else {
                    "BITFIELD"
                }
                .to_string(),
                key.clone(),
            ];
            for _ in 0..1 + rng.below(4) {
                if rng.below(4) == 0 {
                    let ow = ["WRAP", "SAT", "FAIL"][rng.below(3) as usize];
                    cmd.extend(["OVERFLOW".to_string(), ow.to_string()]);
                }
                let signed = rng.below(2) == 0;
                let bits = 1 + rng.below(if signed { 64 } else { 63 });
                let ty = format!("{}{bits}", if signed { "i" } else { "u" });
                let offset = if rng.below(4) == 0 {
                    format!("#{}", rng.below(8))
                } else {
                    rng.below(200).to_string()
                };
                match rng.below(3) {
                    0 => cmd.extend(["GET".to_string(), ty, offset]),
                    1 => cmd.extend([
                        "SET".to_string(),
                        ty,
                        offset,
                        random_value(&mut rng, signed, bits).to_string(),
                    ]),
                    _ => cmd.extend([
                        "INCRBY".to_string(),
                        ty,
                        offset,
                        random_value(&mut rng, signed, bits).to_string(),
                    ]),
                }
            }
            let a = p.cmd(&cmd);
            let b = r.cmd(&cmd);
            assert_eq!(
                a, b,
                "seed {seed} step {step}: {cmd:?}; replay: PICKET_BITFIELD_SEED={seed} cargo test -p picket-server --test bitfield_lcs_compat"
            );
            if step % 50 == 0 {
                let g = ["GET", key.as_str()];
                assert_eq!(p.cmd(&g), r.cmd(&g), "seed {seed} step {step}: GET {key}");
            }
        }
        for k in 0..3 {
            let g = ["GET".to_string(), format!("bf{k}")];
            assert_eq!(p.cmd(&g), r.cmd(&g), "seed {seed}: final GET bf{k}");
        }
        p.cmd(&["FLUSHALL"]);
        r.cmd(&["FLUSHALL"]);
    }
}

#[test]
fn random_lcs_matches_redis() {
    let Some(pair) = Pair::start(&[]) else {
        return;
    };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for case in 0..300 {
        let alphabet = 1 + rng.below(4) as u8;
        let (la, lb) = (rng.below(40), rng.below(40));
        let mut s = |n: u64| -> String {
            (0..n)
                .map(|_| (b'a' + rng.below(alphabet as u64) as u8) as char)
                .collect()
        };
        let (a, b) = (s(la), s(lb));
        for (k, v) in [("x", &a), ("y", &b)] {
            p.cmd(&["SET", k, v]);
            r.cmd(&["SET", k, v]);
        }
        let mut cmd: Vec<String> = vec!["LCS".into(), "x".into(), "y".into()];
        match rng.below(4) {
            0 => {}
            1 => cmd.push("LEN".into()),
            _ => {
                cmd.push("IDX".into());
                if rng.below(2) == 0 {
                    cmd.extend(["MINMATCHLEN".into(), rng.below(4).to_string()]);
                }
                if rng.below(2) == 0 {
                    cmd.push("WITHMATCHLEN".into());
                }
            }
        }
        assert_eq!(p.cmd(&cmd), r.cmd(&cmd), "case {case}: {a:?} {b:?} {cmd:?}");
    }
}
