//! Stream consumer groups compared with Redis 7.0, reply by reply on the wire (RESP2 and
//! RESP3): XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO edge cases and
//! errors, a seeded random walk of group commands, blocked XREADGROUP clients woken in
//! Redis's order (and told `-UNBLOCKED`/`-NOGROUP` when their stream or group goes),
//! replicas ending with the same groups and PELs as Redis's replicas do, and DUMP/RDB
//! round trips of streams with groups both ways.
//!
//! Times (delivery times, idle times, seen times) come from each server's clock: they are
//! masked where both servers produce them, and compared exactly where they travel (DUMP,
//! RDB, the `XCLAIM ... TIME` a master propagates).
//!
//! `PICKET_GROUPS_SEED=<n>` replays one seed of the walk; `PICKET_GROUPS_STEPS` sets its
//! length.

mod common;
mod hashes_util;

use std::time::{Duration, Instant};

use common::{Pair, Server};
use hashes_util::{words, Diff, RawConn, V};

fn pair() -> Option<Pair> {
    Pair::start(&["--enable-debug-command", "yes"])
}

/// Blank the time-dependent values of a reply: integers that look like unix milliseconds,
/// the value after `idle`/`seen-time`, and the idle column of XPENDING's extended rows.
fn mask(v: &V, cmd: &str) -> V {
    let xpending_rows = cmd.starts_with("XPENDING") && words(cmd).len() > 3;
    mask_in(v, xpending_rows)
}

fn mask_in(v: &V, xpending_rows: bool) -> V {
    match v {
        V::Line(b':', n) => {
            let x: i64 = String::from_utf8_lossy(n).parse().unwrap_or(0);
            if x > 1_000_000_000_000 {
                V::Line(b':', b"T".to_vec())
            } else {
                v.clone()
            }
        }
        V::Agg(t, Some(items)) => {
            let mut out = Vec::with_capacity(items.len());
            let mut blank_next = false;
            for it in items {
                if blank_next {
                    out.push(V::Line(b':', b"T".to_vec()));
                    blank_next = false;
                    continue;
                }
                if let V::Bulk(_, Some(b)) = it {
                    if b == b"idle" || b == b"seen-time" {
                        blank_next = true;
                    }
                }
                out.push(mask_in(it, xpending_rows));
            }
            // An XPENDING row: id, consumer, idle, deliveries.
            if xpending_rows
                && out.len() == 4
                && matches!(out[0], V::Bulk(..))
                && matches!(out[1], V::Bulk(..))
                && matches!(out[2], V::Line(b':', _))
            {
                out[2] = V::Line(b':', b"T".to_vec());
            }
            V::Agg(*t, Some(out))
        }
        _ => v.clone(),
    }
}

const EDGE_CASES: &[&str] = &[
    "XGROUP HELP",
    "XGROUP HELP extra",
    "XGROUP",
    "XGROUP BOGUS s g",
    "XGROUP CREATE s g",
    "XGROUP CREATE s g $",
    "XGROUP CREATE s g $ MKSTREAM",
    "XGROUP CREATE s g $ MKSTREAM",
    "XGROUP CREATE s g2 0 ENTRIESREAD -2",
    "XGROUP CREATE s g2 0 ENTRIESREAD abc",
    "XGROUP CREATE s g2 0 ENTRIESREAD 3 BOGUS",
    "XGROUP CREATE s g2 0 ENTRIESREAD",
    "XGROUP CREATE s g2 +",
    "XGROUP CREATE s g2 abc",
    "XGROUP CREATE s g2 0 MKSTREAM ENTRIESREAD 3 MKSTREAM",
    "XGROUP SETID s nog 0",
    "XGROUP SETID s g +",
    "XGROUP SETID s g -",
    "XGROUP SETID s g 0 ENTRIESREAD 2",
    "XGROUP SETID s g 0 MKSTREAM",
    "XGROUP SETID s g 0 ENTRIESREAD",
    "XGROUP SETID nokey g 0",
    "XGROUP DESTROY nokey g",
    "XGROUP DESTROY s g extra",
    "XGROUP CREATECONSUMER s nog c",
    "XGROUP DELCONSUMER s nog c",
    "XGROUP DELCONSUMER s g nobody",
    "XINFO GROUPS s",
    "XADD s 1-1 a 1",
    "XADD s 2-1 b 2",
    "XADD s 3-1 c 3",
    "XADD s 4-1 d 4",
    "XGROUP CREATE s g3 $",
    "XGROUP CREATECONSUMER s g alice",
    "XGROUP CREATECONSUMER s g alice",
    "XREADGROUP",
    "XREADGROUP GROUP g",
    "XREADGROUP GROUP g bob",
    "XREADGROUP STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s",
    "XREADGROUP GROUP g bob STREAMS s t >",
    "XREADGROUP GROUP g bob COUNT 1 STREAMS s >",
    "XREADGROUP GROUP g bob COUNT abc STREAMS s >",
    "XREADGROUP GROUP g bob BLOCK -1 STREAMS s >",
    "XREADGROUP GROUP g bob BOGUS STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s $",
    "XREADGROUP GROUP g bob STREAMS s -",
    "XREADGROUP GROUP g bob STREAMS s abc",
    "XREADGROUP GROUP nog bob STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS nokey >",
    "XREADGROUP GROUP g bob STREAMS s nokey > >",
    "XREADGROUP GROUP g bob COUNT 2 STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s >",
    "XREADGROUP GROUP g bob BLOCK 10 STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s 0",
    "XREADGROUP GROUP g bob COUNT 1 STREAMS s 1-1",
    "XREADGROUP GROUP g carol STREAMS s 0",
    "XREADGROUP GROUP g2 dave NOACK STREAMS s >",
    "XREADGROUP GROUP g2 dave STREAMS s 0",
    "XREADGROUP GROUP g3 eve STREAMS s >",
    "XINFO GROUPS s",
    "XINFO CONSUMERS s g",
    "XINFO CONSUMERS s nog",
    "XINFO CONSUMERS nokey g",
    "XPENDING s",
    "XPENDING s g",
    "XPENDING s g -",
    "XPENDING s g - +",
    "XPENDING s g - + 10",
    "XPENDING s g - + 10 bob",
    "XPENDING s g - + 10 alice",
    "XPENDING s g - + 10 nobody",
    "XPENDING s g - + 1",
    "XPENDING s g - + -1",
    "XPENDING s g - + abc",
    "XPENDING s g (1-1 (4-1 10",
    "XPENDING s g (18446744073709551615-18446744073709551615 + 10",
    "XPENDING s g - (0-0 10",
    "XPENDING s g IDLE 0 - + 10",
    "XPENDING s g IDLE 100000 - + 10",
    "XPENDING s g IDLE abc - + 10",
    "XPENDING s g IDLE 5 - +",
    "XPENDING s g 3-1 1-1 10",
    "XPENDING s nog",
    "XPENDING nokey g - + 10",
    "XPENDING s g2",
    "XPENDING s g - + 10 bob extra",
    "XACK s g",
    "XACK s g abc",
    "XACK s g 1-1 abc",
    "XACK s nog 1-1",
    "XACK nokey g 1-1",
    "XACK s g 1-1 1-1 9-9",
    "XDEL s 2-1",
    "XREADGROUP GROUP g bob STREAMS s 0",
    "XPENDING s g",
    "XCLAIM s g alice",
    "XCLAIM s nog alice 0 3-1",
    "XCLAIM nokey g alice 0 3-1",
    "XCLAIM s g alice abc 3-1",
    "XCLAIM s g alice 0 3-1 BOGUS",
    "XCLAIM s g alice 0 3-1 IDLE abc",
    "XCLAIM s g alice 0 3-1 TIME abc",
    "XCLAIM s g alice 0 3-1 RETRYCOUNT abc",
    "XCLAIM s g alice 0 3-1 LASTID abc",
    "XCLAIM s g alice 0 3-1 IDLE",
    "XCLAIM s g alice 100000 3-1",
    "XCLAIM s g alice 0 3-1 4-1 9-9",
    "XCLAIM s g alice 0 3-1 JUSTID",
    "XCLAIM s g alice 0 3-1 RETRYCOUNT 7 JUSTID",
    "XCLAIM s g alice -5 2-1 3-1 JUSTID",
    "XPENDING s g",
    "XCLAIM s g frank 0 1-1 FORCE JUSTID",
    "XCLAIM s g frank 0 1-1 FORCE",
    "XCLAIM s g frank 0 9-9 FORCE",
    "XCLAIM s g frank 0 4-1 IDLE 500000 JUSTID",
    "XPENDING s g IDLE 400000 - + 10",
    "XCLAIM s g frank 0 4-1 TIME 1 JUSTID LASTID 50-0",
    "XCLAIM s g frank 0 4-1 3 JUSTID",
    "XINFO GROUPS s",
    "XINFO CONSUMERS s g",
    "XAUTOCLAIM s g alice",
    "XAUTOCLAIM s nog alice 0 0",
    "XAUTOCLAIM nokey g alice 0 0",
    "XAUTOCLAIM s g alice abc 0",
    "XAUTOCLAIM s g alice 0 abc",
    "XAUTOCLAIM s g alice 0 0 COUNT 0",
    "XAUTOCLAIM s g alice 0 0 COUNT -1",
    "XAUTOCLAIM s g alice 0 0 COUNT abc",
    "XAUTOCLAIM s g alice 0 0 BOGUS",
    "XAUTOCLAIM s g alice 0 (18446744073709551615-18446744073709551615",
    "XAUTOCLAIM s g alice 100000 0",
    "XAUTOCLAIM s g alice 0 0 COUNT 1",
    "XAUTOCLAIM s g alice 0 0 COUNT 1 JUSTID",
    "XAUTOCLAIM s g alice 0 (1-1 JUSTID",
    "XAUTOCLAIM s g alice 0 - COUNT 10",
    "XDEL s 1-1 3-1",
    "XAUTOCLAIM s g greg 0 0 COUNT 1",
    "XAUTOCLAIM s g greg 0 0",
    "XPENDING s g",
    "XINFO CONSUMERS s g",
    "XINFO STREAM s",
    "XINFO STREAM s FULL",
    "XINFO STREAM s FULL COUNT 1",
    "XINFO STREAM s FULL COUNT 0",
    "XINFO STREAM s FULL COUNT -1",
    "XINFO STREAM s FULL COUNT abc",
    "XINFO STREAM s FULL BOGUS 1",
    "XINFO STREAM s BOGUS",
    "XINFO STREAM s FULL COUNT",
    "XINFO STREAM nokey",
    "XINFO",
    "XINFO HELP",
    "XINFO HELP extra",
    "XINFO BOGUS s",
    "XINFO GROUPS",
    "XINFO GROUPS nokey",
    "XGROUP DELCONSUMER s g frank",
    "XGROUP DELCONSUMER s g frank",
    "XINFO CONSUMERS s g",
    "XGROUP DESTROY s g",
    "XGROUP DESTROY s g",
    "XINFO GROUPS s",
    "XTRIM s MAXLEN 0",
    "XINFO GROUPS s",
    "XINFO STREAM s",
    "XREADGROUP GROUP g2 dave STREAMS s >",
    "XADD s 10-1 f v",
    "XREADGROUP GROUP g2 dave STREAMS s > ",
    "XGROUP SETID s g2 $",
    "XGROUP CREATE e g $ MKSTREAM",
    "XINFO STREAM e",
    "XINFO STREAM e FULL",
    "XREADGROUP GROUP g c STREAMS e >",
    "XREADGROUP GROUP g c STREAMS e 0",
    "SET str x",
    "XGROUP CREATE str g $",
    "XGROUP CREATE str g $ MKSTREAM",
    "XGROUP SETID str g $",
    "XREADGROUP GROUP g c STREAMS str >",
    "XACK str g 1",
    "XPENDING str g",
    "XCLAIM str g c 0 1",
    "XAUTOCLAIM str g c 0 0",
    "XINFO STREAM str",
    "XINFO GROUPS str",
    "XINFO CONSUMERS str g",
    "EVAL \"return redis.call('XREAD','BLOCK','0','STREAMS','s','$')\" 0",
    "EVAL \"return redis.pcall('xreadgroup','GROUP','g2','c','BLOCK','0','STREAMS','s','>')\" 0",
    "EVAL \"return redis.call('XREADGROUP','GROUP','g2','c','STREAMS','s','0')\" 0",
];

/// `words` with double-quoted arguments (the EVAL lines).
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in line.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn run_cases(d: &mut Diff) {
    for line in EDGE_CASES {
        let args = split(line);
        let (p, r) = d.both(&args);
        let (p, r) = (mask(&p, line), mask(&r, line));
        assert_eq!(p, r, "{line}: picket (left), redis (right)");
    }
}

#[test]
fn edge_cases_as_redis() {
    let Some(pair) = pair() else { return };
    let mut d = Diff::new(&pair);
    run_cases(&mut d);
    d.line("FLUSHALL");
    d.resp3();
    run_cases(&mut d);
}

/// XINFO STREAM's `radix-tree-nodes` is computed from the node keys as Redis's rax would hold
/// them: compared over realistic (millisecond) IDs as nodes come and go.
#[test]
fn radix_tree_counts_as_redis() {
    let Some(pair) = pair() else { return };
    let mut d = Diff::new(&pair);
    d.line("CONFIG SET stream-node-max-entries 3");
    let mut ms = 1_700_000_000_000u64;
    let mut ids = Vec::new();
    for i in 0..400u64 {
        ms += (i * 7919) % 5000;
        ids.push(format!("{ms}-{}", i % 3));
        d.line(&format!("XADD s {ms}-{} f {i}", i % 3));
        if i % 37 == 0 {
            d.line("XINFO STREAM s");
        }
        if i % 101 == 0 {
            d.line("XTRIM s MAXLEN ~ 50");
            d.line("XINFO STREAM s");
        }
    }
    // Whole nodes deleted in the middle, then one entry left per node.
    for (i, id) in ids.iter().enumerate().skip(300) {
        if (i / 3) % 2 == 0 || i % 3 != 1 {
            d.line(&format!("XDEL s {id}"));
        }
        if i % 10 == 0 {
            d.line("XINFO STREAM s");
        }
    }
    d.line("XINFO STREAM s");
    d.line("XTRIM s MAXLEN 7");
    d.line("XINFO STREAM s");
    d.line("XTRIM s MAXLEN 0");
    d.line("XINFO STREAM s");
}

// ---------------------------------------------------------------------------- random walk

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn walk(seed: u64, steps: usize) {
    let Some(pair) = pair() else { return };
    let mut d = Diff::new(&pair);
    d.line("CONFIG SET stream-node-max-entries 5");
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let keys = ["s1", "s2"];
    let groups = ["ga", "gb", "gc"];
    let consumers = ["c1", "c2", "c3"];
    let mut top = 1u64;
    // Replies that delivered or claimed something (the walk must reach the PELs).
    let mut delivered = 0usize;
    for step in 0..steps {
        let key = keys[r.below(2) as usize];
        let g = groups[r.below(3) as usize];
        let c = consumers[r.below(3) as usize];
        let id = |r: &mut Rng, top: u64| format!("{}-{}", r.below(top + 2), r.below(2));
        let mut args: Vec<String> = Vec::new();
        match r.below(24) {
            0..=5 => {
                top += 1;
                args.extend(["XADD".into(), key.into()]);
                if r.below(6) == 0 {
                    args.extend(["MAXLEN".into(), r.below(20).to_string()]);
                }
                args.extend([
                    format!("{top}-{}", r.below(2)),
                    "f".into(),
                    step.to_string(),
                ]);
            }
            6 => {
                args.extend(["XGROUP".into(), "CREATE".into(), key.into(), g.into()]);
                args.push(match r.below(3) {
                    0 => "$".into(),
                    1 => "0".into(),
                    _ => id(&mut r, top),
                });
                if r.below(2) == 0 {
                    args.push("MKSTREAM".into());
                }
                if r.below(3) == 0 {
                    args.extend(["ENTRIESREAD".into(), r.below(10).to_string()]);
                }
            }
            7 => {
                args.extend(["XGROUP".into(), "SETID".into(), key.into(), g.into()]);
                args.push(if r.below(2) == 0 {
                    "$".into()
                } else {
                    id(&mut r, top)
                });
                if r.below(2) == 0 {
                    args.extend(["ENTRIESREAD".into(), r.below(10).to_string()]);
                }
            }
            8 => match r.below(4) {
                0 => args.extend(["XGROUP".into(), "DESTROY".into(), key.into(), g.into()]),
                1 => args.extend([
                    "XGROUP".into(),
                    "DELCONSUMER".into(),
                    key.into(),
                    g.into(),
                    c.into(),
                ]),
                _ => args.extend([
                    "XGROUP".into(),
                    "CREATECONSUMER".into(),
                    key.into(),
                    g.into(),
                    c.into(),
                ]),
            },
            9..=12 => {
                args.extend(["XREADGROUP".into(), "GROUP".into(), g.into(), c.into()]);
                if r.below(2) == 0 {
                    args.extend(["COUNT".into(), r.below(4).to_string()]);
                }
                if r.below(4) == 0 {
                    args.push("NOACK".into());
                }
                args.push("STREAMS".into());
                let both = r.below(4) == 0;
                args.push(key.into());
                if both {
                    args.push(keys[r.below(2) as usize].into());
                }
                for _ in 0..if both { 2 } else { 1 } {
                    args.push(if r.below(3) == 0 {
                        id(&mut r, top)
                    } else {
                        ">".into()
                    });
                }
            }
            13 | 14 => {
                args.extend(["XACK".into(), key.into(), g.into()]);
                for _ in 0..1 + r.below(3) {
                    args.push(id(&mut r, top));
                }
            }
            15 => {
                args.extend(["XPENDING".into(), key.into(), g.into()]);
                if r.below(2) == 0 {
                    args.extend(["-".into(), "+".into(), r.below(6).to_string()]);
                    if r.below(2) == 0 {
                        args.push(c.into());
                    }
                }
            }
            16 | 17 => {
                args.extend(["XCLAIM".into(), key.into(), g.into(), c.into(), "0".into()]);
                for _ in 0..1 + r.below(3) {
                    args.push(id(&mut r, top));
                }
                if r.below(3) == 0 {
                    args.push("JUSTID".into());
                }
                if r.below(4) == 0 {
                    args.push("FORCE".into());
                }
                if r.below(4) == 0 {
                    args.extend(["RETRYCOUNT".into(), r.below(5).to_string()]);
                }
                if r.below(5) == 0 {
                    args.extend(["LASTID".into(), id(&mut r, top)]);
                }
            }
            18 => {
                args.extend([
                    "XAUTOCLAIM".into(),
                    key.into(),
                    g.into(),
                    c.into(),
                    "0".into(),
                    id(&mut r, top),
                ]);
                if r.below(2) == 0 {
                    args.extend(["COUNT".into(), (1 + r.below(4)).to_string()]);
                }
                if r.below(3) == 0 {
                    args.push("JUSTID".into());
                }
            }
            19 => {
                args.extend(["XDEL".into(), key.into(), id(&mut r, top)]);
            }
            20 => args.extend(["XINFO".into(), "GROUPS".into(), key.into()]),
            21 => args.extend(["XINFO".into(), "CONSUMERS".into(), key.into(), g.into()]),
            22 => {
                args.extend(["XINFO".into(), "STREAM".into(), key.into()]);
                if r.below(2) == 0 {
                    args.extend(["FULL".into(), "COUNT".into(), r.below(4).to_string()]);
                }
            }
            _ => args.extend(["DEBUG".into(), "DIGEST-VALUE".into(), key.into()]),
        }
        let line = args.join(" ");
        let (p, rr) = d.both(&args);
        assert_eq!(
            mask(&p, &line),
            mask(&rr, &line),
            "seed {seed} step {step}: {line}: picket (left), redis (right)"
        );
        if matches!(args[0].as_str(), "XREADGROUP" | "XCLAIM")
            && matches!(&rr, V::Agg(_, Some(v)) if !v.is_empty())
        {
            delivered += 1;
        }
    }
    assert!(
        delivered > steps / 20,
        "seed {seed}: only {delivered} deliveries"
    );
    eprintln!("seed {seed}: {delivered} deliveries or claims");
    // Each loads the other's DUMP of the streams reached, groups included.
    for key in keys {
        let (V::Bulk(_, Some(dp)), V::Bulk(_, Some(dr))) =
            (d.p.cmd(&["DUMP", key]), d.r.cmd(&["DUMP", key]))
        else {
            continue;
        };
        let ok = V::Line(b'+', b"OK".to_vec());
        assert_eq!(d.p.cmd(&[b"RESTORE".as_ref(), b"copy", b"0", &dr]), ok);
        assert_eq!(d.r.cmd(&[b"RESTORE".as_ref(), b"copy", b"0", &dp]), ok);
        // The times travel with the payload: the copies compare exactly.
        let (a, b) = (
            d.p.cmd(&["XINFO", "STREAM", "copy", "FULL", "COUNT", "0"]),
            d.r.cmd(&["XINFO", "STREAM", key, "FULL", "COUNT", "0"]),
        );
        assert_eq!(a, b, "seed {seed}: picket's copy of Redis's {key}");
        let (a, b) = (
            d.r.cmd(&["XINFO", "STREAM", "copy", "FULL", "COUNT", "0"]),
            d.p.cmd(&["XINFO", "STREAM", key, "FULL", "COUNT", "0"]),
        );
        assert_eq!(a, b, "seed {seed}: Redis's copy of picket's {key}");
        d.line("DEBUG DIGEST-VALUE copy");
        d.line("DEL copy");
    }
}

#[test]
fn random_walk_as_redis() {
    let steps = std::env::var("PICKET_GROUPS_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1200);
    match std::env::var("PICKET_GROUPS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => walk(seed, steps),
        None => {
            for seed in 1..=3 {
                walk(seed, steps);
            }
        }
    }
}

// ---------------------------------------------------------------------------- blocking

/// Blocked XREADGROUP clients are served in the order they blocked, each from its group's
/// last delivered ID at the time (a client of a group another client just served stays
/// blocked); a destroyed group answers `-NOGROUP`, a deleted or overwritten stream
/// `-UNBLOCKED`; plain XREAD waiters are not affected. Both servers run the same script and
/// give the same replies.
#[test]
fn blocked_xreadgroup_as_redis() {
    let Some(pair) = pair() else { return };
    let mut replies = Vec::new();
    for port in [pair.picket.port, pair.redis.port] {
        let mut got = Vec::new();
        let mut w = RawConn::connect(port);
        w.q("XADD a 1 f v");
        w.q("XGROUP CREATE a g $");
        w.q("XGROUP CREATE a h $");
        let block = |line: &str| {
            let mut c = RawConn::connect(port);
            c.send(&words(line));
            std::thread::sleep(Duration::from_millis(40));
            c
        };
        let mut c1 = block("XREADGROUP GROUP g c1 BLOCK 0 STREAMS a >");
        let mut c2 = block("XREADGROUP GROUP g c2 COUNT 1 BLOCK 0 STREAMS a >");
        let mut c3 = block("XREADGROUP GROUP h c3 NOACK BLOCK 0 STREAMS a >");
        w.q("MULTI");
        w.q("XADD a 2 x 1");
        w.q("XADD a 3 x 2");
        w.q("EXEC");
        got.push(c1.read());
        got.push(c3.read());
        w.q("XADD a 4 y 1");
        got.push(c2.read());
        got.push(w.q("XPENDING a g"));
        got.push(w.q("XPENDING a h"));
        let mut c4 = block("XREADGROUP GROUP g c4 BLOCK 0 STREAMS a >");
        let mut c5 = block("XREADGROUP GROUP h c5 BLOCK 0 STREAMS a >");
        let mut c6 = block("XREAD BLOCK 300 STREAMS a $");
        w.q("XGROUP DESTROY a g");
        got.push(c4.read());
        w.q("DEL a");
        got.push(c5.read());
        got.push(c6.read());
        // Overwritten by another type, and flushed.
        w.q("XGROUP CREATE b g $ MKSTREAM");
        let mut c7 = block("XREADGROUP GROUP g c7 BLOCK 0 STREAMS b >");
        w.q("SET b x");
        got.push(c7.read());
        w.q("DEL b");
        w.q("XGROUP CREATE b g $ MKSTREAM");
        let mut c8 = block("XREADGROUP GROUP g c8 BLOCK 0 STREAMS b >");
        w.q("FLUSHALL");
        got.push(c8.read());
        // Deleted and created again in one transaction: the group is gone.
        w.q("XGROUP CREATE b g $ MKSTREAM");
        let mut c9 = block("XREADGROUP GROUP g c9 BLOCK 0 STREAMS b >");
        w.q("MULTI");
        w.q("DEL b");
        w.q("XADD b 5 z 1");
        w.q("EXEC");
        got.push(c9.read());
        // A time-out answers a null array; inside MULTI it does at once.
        w.q("XGROUP CREATE b g $");
        let mut c10 = block("XREADGROUP GROUP g c10 BLOCK 50 STREAMS b >");
        got.push(c10.read());
        w.q("MULTI");
        w.q("XREADGROUP GROUP g c11 BLOCK 0 STREAMS b >");
        got.push(w.q("EXEC"));
        got.push(w.q("XINFO CONSUMERS b g").skeleton());
        // A stream that expires (the active cycle, no command after it) wakes them too.
        w.q("XGROUP CREATE e g $ MKSTREAM");
        w.q("PEXPIRE e 100");
        let mut c12 = block("XREADGROUP GROUP g c12 BLOCK 0 STREAMS e >");
        got.push(c12.read());
        replies.push(got);
    }
    let redis = replies.pop().unwrap();
    let picket = replies.pop().unwrap();
    for (i, (p, r)) in picket.iter().zip(&redis).enumerate() {
        assert_eq!(p, r, "reply {i}: picket (left), redis (right)");
    }
}

// ---------------------------------------------------------------------------- replication

fn wait_until(mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("condition not reached in 10 s");
}

fn info_field(c: &mut RawConn, field: &str) -> String {
    let v = c.q("INFO replication");
    String::from_utf8_lossy(&v.bytes())
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_default()
}

fn attach(replica: &mut RawConn, master_port: u16) {
    replica.q(&format!("REPLICAOF 127.0.0.1 {master_port}"));
    wait_until(|| info_field(replica, "master_link_status") == "up");
}

fn group_traffic(m: &mut RawConn) {
    for i in 1..=12 {
        m.q(&format!("XADD s {i}-0 f {i}"));
    }
    m.q("XGROUP CREATE s g 0");
    m.q("XGROUP CREATE s n $");
    m.q("XGROUP CREATE s late 3-0 ENTRIESREAD 3");
    m.q("XREADGROUP GROUP g alice COUNT 3 STREAMS s >");
    m.q("XREADGROUP GROUP g bob COUNT 4 STREAMS s >");
    m.q("XACK s g 2-0 5-0");
    m.q("XCLAIM s g carol 0 1-0 6-0 RETRYCOUNT 4");
    m.q("XCLAIM s g carol 0 7-0 JUSTID LASTID 9-0");
    m.q("XDEL s 3-0");
    m.q("XAUTOCLAIM s g dave 0 0 COUNT 3");
    m.q("XADD s 13-0 f 13");
    m.q("XREADGROUP GROUP n erin NOACK STREAMS s >");
    m.q("XREADGROUP GROUP late frank COUNT 2 STREAMS s >");
    m.q("XGROUP CREATECONSUMER s late gina");
    m.q("XGROUP DELCONSUMER s g bob");
    m.q("XREADGROUP GROUP g alice STREAMS s 0");
    m.q("XGROUP SETID s late 11-0");
    m.q("XGROUP CREATE t g $ MKSTREAM");
    m.q("XGROUP DESTROY t g");
    // Inside a transaction and a script, the effects go out as one unit.
    m.q("XADD s 14-0 f 14");
    m.q("XADD s 15-0 f 15");
    m.q("MULTI");
    m.q("XREADGROUP GROUP g hal COUNT 1 STREAMS s >");
    m.q("XACK s g 1-0");
    m.q("XREADGROUP GROUP n ivy NOACK STREAMS s >");
    assert_eq!(m.q("EXEC").items().len(), 3);
    let v = m.cmd(&[
        "EVAL",
        "redis.call('XREADGROUP','GROUP','g','jo','STREAMS','s','>') \
         return redis.call('XAUTOCLAIM','s','g','kim','0','0','COUNT','2')",
        "0",
    ]);
    assert_eq!(v.items().len(), 3, "{v:?}");
}

/// The same traffic on a picket master (with a picket replica and a Redis replica) and on a
/// Redis master (with a Redis replica): every replica ends with the groups and PELs the
/// Redis replica of Redis has (times masked: each server stamps its own).
#[test]
fn replicas_get_groups_as_redis() {
    let Some(pair) = Pair::start(&["--repl-diskless-sync-delay", "0"]) else {
        return;
    };
    let preplica = Server::start(&["--save", "", "--appendonly", "no"]);
    let Some(rreplica_of_p) = Server::redis(&[]) else {
        return;
    };
    let Some(rreplica) = Server::redis(&[]) else {
        return;
    };
    let mut mp = RawConn::connect(pair.picket.port);
    let mut mr = RawConn::connect(pair.redis.port);
    let mut rp = RawConn::connect(preplica.port);
    let mut rrp = RawConn::connect(rreplica_of_p.port);
    let mut rr = RawConn::connect(rreplica.port);
    // A group before the full sync travels in the RDB.
    for m in [&mut mp, &mut mr] {
        m.q("XADD pre 1-0 a 1");
        m.q("XGROUP CREATE pre g 0");
        m.q("XREADGROUP GROUP g c STREAMS pre >");
    }
    attach(&mut rp, pair.picket.port);
    attach(&mut rrp, pair.picket.port);
    attach(&mut rr, pair.redis.port);
    group_traffic(&mut mp);
    group_traffic(&mut mr);
    // Blocked readers served by a later XADD propagate what they were served.
    for (m, port) in [(&mut mp, pair.picket.port), (&mut mr, pair.redis.port)] {
        let mut b1 = RawConn::connect(port);
        let mut b2 = RawConn::connect(port);
        m.q("XGROUP CREATE s fresh $");
        b1.send(&words("XREADGROUP GROUP fresh bo BLOCK 0 STREAMS s >"));
        b2.send(&words(
            "XREADGROUP GROUP n newbie NOACK BLOCK 0 STREAMS s >",
        ));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            m.q("CLIENT LIST").text().matches("cmd=xreadgroup").count(),
            2
        );
        m.q("XADD s 20-0 f 20");
        assert!(!b1.read().is_error());
        assert!(!b2.read().is_error());
    }
    for (m, replicas) in [(&mut mp, vec![&mut rp, &mut rrp]), (&mut mr, vec![&mut rr])] {
        let want = info_field(m, "master_repl_offset");
        for r in replicas {
            wait_until(|| info_field(r, "slave_repl_offset") == want);
        }
    }
    for key in ["pre", "s", "t"] {
        let line = format!("XINFO STREAM {key} FULL COUNT 0");
        let reference = mask(&rr.q(&line), &line);
        for (who, c) in [
            ("picket replica", &mut rp),
            ("Redis replica of picket", &mut rrp),
        ] {
            assert_eq!(mask(&c.q(&line), &line), reference, "{who}: {key}");
        }
        assert_eq!(
            mask(&mp.q(&line), &line),
            mask(&mr.q(&line), &line),
            "masters: {key}"
        );
        // Delivery times travel exactly (XCLAIM ... TIME).
        assert_eq!(
            pending_times(&rp.q(&line)),
            pending_times(&mp.q(&line)),
            "{key} times"
        );
    }
}

/// The delivery times in an XINFO STREAM FULL reply (the third item of each group's
/// `pending` rows).
fn pending_times(v: &V) -> Vec<V> {
    let mut out = Vec::new();
    let items = v.items();
    for w in items.chunks(2) {
        if w.len() == 2 && w[0] == V::Bulk(b'$', Some(b"groups".to_vec())) {
            for g in w[1].items() {
                for gw in g.items().chunks(2) {
                    if gw[0] == V::Bulk(b'$', Some(b"pending".to_vec())) {
                        for row in gw[1].items() {
                            out.push(row.items()[2].clone());
                        }
                    }
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------- RDB files

/// Streams with groups saved by Redis load on picket with every field and time, and the
/// other way round; DEBUG RELOAD keeps them.
#[test]
fn rdb_with_groups_cross_load() {
    let Some(pair) = pair() else { return };
    let mut r = RawConn::connect(pair.redis.port);
    let mut p = RawConn::connect(pair.picket.port);
    group_traffic(&mut r);
    group_traffic(&mut p);
    let line = "XINFO STREAM s FULL COUNT 0";
    let want_p = p.q(line);
    assert_eq!(p.q("DEBUG RELOAD"), V::Line(b'+', b"OK".to_vec()));
    assert_eq!(p.q(line), want_p, "DEBUG RELOAD");
    let want_r = r.q(line);

    r.q("SAVE");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        pair.redis.dir.path().join("dump.rdb"),
        dir.path().join("dump.rdb"),
    )
    .unwrap();
    let loaded = Server::start(&["--dir", dir.path().to_str().unwrap()]);
    let mut l = RawConn::connect(loaded.port);
    assert_eq!(l.q(line), want_r, "Redis's file on picket");

    p.q("SAVE");
    let dir2 = tempfile::tempdir().unwrap();
    std::fs::copy(
        pair.picket.dir.path().join("dump.rdb"),
        dir2.path().join("dump.rdb"),
    )
    .unwrap();
    let Some(redis2) = Server::redis(&[
        "--dir",
        dir2.path().to_str().unwrap(),
        "--sanitize-dump-payload",
        "yes",
    ]) else {
        return;
    };
    let mut r2 = RawConn::connect(redis2.port);
    assert_eq!(r2.q(line), want_p, "picket's file on Redis");
}

// ---------------------------------------------------------------------------- AOF

fn wait_rewrite(c: &mut RawConn) {
    wait_until(|| {
        let info = String::from_utf8_lossy(&c.q("INFO persistence").bytes()).into_owned();
        info.contains("aof_rewrite_in_progress:0")
            && info.contains("aof_rewrite_scheduled:0")
            && info.contains("aof_rewrites:1\r\n")
    });
}

/// Group traffic around an AOF rewrite (so the base holds the groups as Redis's
/// `rewriteStreamObject` writes them and the increment holds the propagated XCLAIMs), then
/// a restart; picket and Redis end with the same groups (times masked), and each loads the
/// other's AOF directory to the same state.
#[test]
fn aof_with_groups_as_redis() {
    if common::which("redis-server").is_none() {
        return;
    }
    let line = "XINFO STREAM s FULL COUNT 0";
    let mut states = Vec::new();
    let mut dirs = Vec::new();
    for redis in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let args = [
            "--dir",
            dir.path().to_str().unwrap(),
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            "no",
        ];
        let start = |args: &[&str]| {
            if redis {
                Server::redis(args).unwrap()
            } else {
                Server::start(args)
            }
        };
        let s = start(&args);
        let mut c = RawConn::connect(s.port);
        c.q("XADD s 1-0 f 0");
        c.q("XGROUP CREATE s g0 0");
        c.q("XREADGROUP GROUP g0 zed STREAMS s >");
        c.q("XGROUP CREATECONSUMER s g0 quiet");
        c.q("BGREWRITEAOF");
        wait_rewrite(&mut c);
        group_traffic(&mut c);
        let before = mask(&c.q(line), line);
        c.send(&words("SHUTDOWN NOSAVE"));
        drop(c);
        drop(s);
        let s = start(&args);
        let mut c = RawConn::connect(s.port);
        let after = mask(&c.q(line), line);
        states.push((before, after));
        c.send(&words("SHUTDOWN NOSAVE"));
        drop(c);
        drop(s);
        dirs.push(dir);
    }
    assert_eq!(states[0], states[1], "picket (left), redis (right)");
    assert!(!states[0].1.is_error() && states[0].1.items().len() == 18);
    // Each loads the other's directory.
    for (dir, redis) in [(&dirs[0], true), (&dirs[1], false)] {
        let args = ["--dir", dir.path().to_str().unwrap(), "--appendonly", "yes"];
        let s = if redis {
            Server::redis(&args).unwrap()
        } else {
            Server::start(&args)
        };
        let mut c = RawConn::connect(s.port);
        assert_eq!(
            mask(&c.q(line), line),
            states[0].1,
            "redis loading: {redis}"
        );
    }
}
