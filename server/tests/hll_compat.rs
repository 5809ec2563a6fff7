//! HyperLogLog compared with Redis 7.0: every reply, and the value's bytes (GET) after each
//! write, so the sparse and dense encodings, the promotion between them and the cached
//! cardinality are Redis's byte for byte; values crossing both ways with DUMP/RESTORE;
//! corrupt values; PFDEBUG and PFSELFTEST.
//!
//! `PICKET_HLL_SEED=<n>` replays one seed of the walk.

mod common;

use common::Rng;
use common::{Pair, Reply};

const EDGE: &[&[&str]] = &[
    &["PFADD"],
    &["PFADD", "h"],
    &["PFADD", "h"],
    &["GET", "h"],
    &["PFCOUNT", "h"],
    &["PFCOUNT", "nokey"],
    &["PFCOUNT", "nokey", "h"],
    &["PFADD", "h", "a", "b", "c", "a"],
    &["PFADD", "h", "a"],
    &["PFCOUNT", "h"],
    &["GET", "h"],
    &["PFCOUNT", "h"],
    &["PFMERGE", "m"],
    &["GET", "m"],
    &["PFMERGE", "m", "h", "nokey"],
    &["GET", "m"],
    &["PFCOUNT", "m", "h"],
    &["SET", "s", "plain string"],
    &["PFADD", "s", "x"],
    &["PFCOUNT", "s"],
    &["PFCOUNT", "h", "s"],
    &["PFMERGE", "h", "s"],
    &["PFMERGE", "s", "h"],
    &["LPUSH", "l", "x"],
    &["PFADD", "l", "x"],
    &["PFCOUNT", "l"],
    &["PFMERGE", "l", "h"],
    &["PFDEBUG"],
    &["PFDEBUG", "encoding"],
    &["PFDEBUG", "encoding", "nokey"],
    &["PFDEBUG", "encoding", "h"],
    &["PFDEBUG", "decode", "h"],
    &["PFDEBUG", "decode", "h", "x"],
    &["PFDEBUG", "nosuch", "h"],
    &["PFDEBUG", "encoding", "s"],
    &["PFDEBUG", "encoding", "l"],
    &["PFDEBUG", "todense", "h"],
    &["PFDEBUG", "todense", "h"],
    &["PFDEBUG", "decode", "h"],
    &["PFDEBUG", "encoding", "h"],
    &["GET", "h"],
    &["PFADD", "h", "more"],
    &["PFCOUNT", "h"],
    &["GET", "h"],
    &["PFMERGE", "m2", "m", "h"],
    &["PFDEBUG", "encoding", "m2"],
    &["GET", "m2"],
];

const CORRUPT: &[&[&[u8]]] = &[
    // Corrupt values: a bad magic, a bad encoding, a dense value of the wrong length, a
    // sparse value whose opcodes do not cover the registers.
    &[
        b"SET",
        b"c1",
        b"HYLX\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff",
    ],
    &[b"PFCOUNT", b"c1"],
    &[
        b"SET",
        b"c2",
        b"HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff",
    ],
    &[b"PFADD", b"c2", b"x"],
    &[
        b"SET",
        b"c3",
        b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00\x00",
    ],
    &[b"PFCOUNT", b"c3"],
    &[
        b"SET",
        b"c4",
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xf0",
    ],
    &[b"PFCOUNT", b"c4"],
    &[b"PFADD", b"c4", b"x", b"y", b"z"],
    &[b"PFMERGE", b"m3", b"c4"],
    &[b"PFCOUNT", b"c4", b"h"],
    &[b"PFDEBUG", b"getreg", b"c4"],
    &[b"PFDEBUG", b"todense", b"c4"],
    &[
        b"SET",
        b"c5",
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f",
    ],
    &[b"PFCOUNT", b"c5"],
    &[b"PFADD", b"c5", b"a"],
    &[
        b"SET",
        b"c6",
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\xfc\xfc",
    ],
    &[b"PFCOUNT", b"c6"],
    &[b"PFADD", b"c6", b"a", b"b"],
    &[b"SET", b"short", b"HYLL"],
    &[b"PFCOUNT", b"short"],
];

#[test]
fn edge_cases_and_corrupt_values_match_redis() {
    let Some(pair) = Pair::start(&[]) else {
        return;
    };
    pair.same(EDGE);
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    for c in CORRUPT {
        assert_eq!(
            p.cmd(c),
            r.cmd(c),
            "{:?}",
            String::from_utf8_lossy(&c.concat())
        );
    }
    // PFDEBUG GETREG converts to dense; 16384 registers.
    let r = pair.same(&[
        &["PFADD", "g", "1", "2", "3"],
        &["PFDEBUG", "GETREG", "g"],
        &["GET", "g"],
    ]);
    assert_eq!(r[1].items().len(), 16384);
}

#[test]
fn random_walk_matches_redis_byte_for_byte() {
    let Some(pair) = Pair::start(&[]) else {
        return;
    };
    let seeds: Vec<u64> = match std::env::var("PICKET_HLL_SEED") {
        Ok(s) => vec![s.parse().expect("seed")],
        Err(_) => (1..=4).collect(),
    };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    for seed in seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        // Smaller sparse limits promote sooner; 0 promotes on the first split.
        let limit = ["3000", "200", "0", "12000"][(seed % 4) as usize];
        for c in [
            &["FLUSHALL"][..],
            &["CONFIG", "SET", "hll-sparse-max-bytes", limit],
        ] {
            assert_eq!(p.cmd(c), r.cmd(c));
        }
        let replay =
            format!("replay: PICKET_HLL_SEED={seed} cargo test -p picket-server --test hll_compat");
        for step in 0..300 {
            let key = format!("h{}", rng.below(4));
            let cmd: Vec<String> = match rng.below(10) {
                0..=5 => {
                    let n = [1, 5, 50, 400][rng.below(4) as usize];
                    let space = [100, 10_000, 1_000_000][rng.below(3) as usize];
                    let mut c = vec!["PFADD".to_string(), key.clone()];
                    c.extend((0..n).map(|_| format!("e{}", rng.below(space))));
                    c
                }
                6 | 7 => {
                    let mut c = vec!["PFCOUNT".to_string(), key.clone()];
                    for _ in 0..rng.below(3) {
                        c.push(format!("h{}", rng.below(5)));
                    }
                    c
                }
                _ => {
                    let mut c = vec!["PFMERGE".to_string(), key.clone()];
                    for _ in 0..1 + rng.below(3) {
                        c.push(format!("h{}", rng.below(5)));
                    }
                    c
                }
            };
            let a = p.cmd(&cmd);
            let b = r.cmd(&cmd);
            let shown: Vec<&str> = cmd.iter().take(4).map(|s| s.as_str()).collect();
            assert_eq!(a, b, "seed {seed} step {step}: {shown:?}...; {replay}");
            let g = ["GET", key.as_str()];
            assert_eq!(
                p.cmd(&g),
                r.cmd(&g),
                "seed {seed} step {step}: bytes of {key}; {replay}"
            );
        }
    }
}

#[test]
fn values_cross_with_dump_and_restore_both_ways() {
    let Some(pair) = Pair::start(&[]) else {
        return;
    };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    let elems: Vec<String> = (0..3000).map(|i| format!("x{i}")).collect();
    for (name, n) in [("small", 20usize), ("big", 3000)] {
        let mut cmd = vec!["PFADD".to_string(), name.to_string()];
        cmd.extend(elems[..n].iter().cloned());
        p.cmd(&cmd);
        r.cmd(&cmd);
        // Redis -> picket and picket -> Redis.
        for redis_to_picket in [true, false] {
            let (from, to) = if redis_to_picket {
                (&mut r, &mut p)
            } else {
                (&mut p, &mut r)
            };
            let dump = match from.cmd(&["DUMP", name]) {
                Reply::Bulk(b) => b,
                other => panic!("DUMP {name}: {other:?}"),
            };
            let copy = format!("{name}-copy");
            let restored = to.cmd(&[
                b"RESTORE".as_slice(),
                copy.as_bytes(),
                b"0",
                &dump,
                b"REPLACE",
            ]);
            assert_eq!(restored, Reply::ok());
            assert_eq!(to.cmd(&["PFCOUNT", &copy]), from.cmd(&["PFCOUNT", name]));
            assert_eq!(
                to.cmd(&["PFADD", &copy, "new-element"]),
                from.cmd(&["PFADD", name, "new-element"])
            );
            assert_eq!(to.cmd(&["GET", &copy]), from.cmd(&["GET", name]));
        }
    }
}

#[test]
fn pfselftest_passes() {
    let Some(pair) = Pair::start(&[]) else {
        return;
    };
    let mut p = pair.picket.conn();
    p.set_timeout(std::time::Duration::from_secs(120));
    assert_eq!(p.cmd(&["PFSELFTEST"]), Reply::ok());
    assert_eq!(
        p.cmd(&["PFSELFTEST", "x"]),
        pair.redis.conn().cmd(&["PFSELFTEST", "x"])
    );
}
