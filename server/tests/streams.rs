//! Streams compared with Redis 7.0, reply by reply on the exact wire bytes (RESP2 and
//! RESP3): the error cases, a seeded random walk of XADD/XRANGE/XREVRANGE/XDEL/XTRIM/XREAD/
//! XSETID with small nodes (so trims and deletions cross node boundaries), the DUMP payload
//! of the result restored on the other server (Redis's DUMP of picket's stream must equal
//! its own: the nodes are byte for byte Redis's), blocked XREAD clients woken in Redis's
//! order, RDB files loaded across both servers, DEBUG RELOAD, and a Redis replica of a
//! picket master taking the stream through full sync and the propagated commands.
//!
//! `PICKET_STREAM_SEED=<n>` replays one seed of the walk; `PICKET_STREAM_STEPS` sets its
//! length.

mod common;
mod hashes_util;

use std::time::{Duration, Instant};

use common::{Pair, Server};
use hashes_util::{words, Diff, RawConn, V};

fn pair() -> Option<Pair> {
    Pair::start(&["--enable-debug-command", "yes"])
}

const EDGE_CASES: &[&str] = &[
    "XADD s",
    "XADD s *",
    "XADD s * f",
    "XADD s * f v g",
    "XADD s 0-0 f v",
    "XADD s 0 f v",
    "XADD s - f v",
    "XADD s + f v",
    "XADD s abc f v",
    "XADD s 1-abc f v",
    "XADD s 18446744073709551616 f v",
    "XADD s NOMKSTREAM 1-1 f v",
    "EXISTS s",
    "XADD s 5-5 f v",
    "XADD s 5-5 f v",
    "XADD s 5-4 f v",
    "XADD s 4 f v",
    "XADD s 5-* f v",
    "XADD s 5 f v",
    "XADD s 6-* a 1 b 2",
    "XADD s MAXLEN -1 7 f v",
    "XADD s MAXLEN abc 7 f v",
    "XADD s MAXLEN 1 MINID 1 7 f v",
    "XADD s MINID 1 MAXLEN 1 7 f v",
    "XADD s LIMIT 10 7 f v",
    "XADD s MAXLEN 10 LIMIT 10 7 f v",
    "XADD s MAXLEN ~ 10 LIMIT -1 7 f v",
    "XADD s MAXLEN ~ 10 LIMIT 5 7 f v",
    "XADD s MINID - 8 f v",
    "XADD s MINID = 0 8-* f v",
    "XADD s BOGUS 9 f v",
    "XADD s NOMKSTREAM MAXLEN = 3 10 f v",
    "XRANGE s - +",
    "XRANGE s + -",
    "XRANGE s - + COUNT 0",
    "XRANGE s - + COUNT -3",
    "XRANGE s - + COUNT 2",
    "XRANGE s - + COUNT",
    "XRANGE s - + LIMIT 2",
    "XRANGE s (5-5 +",
    "XRANGE s (- +",
    "XRANGE s - (+",
    "XRANGE s (18446744073709551615-18446744073709551615 +",
    "XRANGE s - (0-0",
    "XRANGE s 5 5",
    "XRANGE s abc +",
    "XREVRANGE s + - COUNT 2",
    "XREVRANGE s (10 (5-5",
    "XREVRANGE s - +",
    "XRANGE nokey - +",
    "XREVRANGE nokey + -",
    "XLEN s",
    "XLEN nokey",
    "XDEL s",
    "XDEL s 1-1 abc",
    "XDEL s 5-5 5-5 9-9",
    "XDEL nokey 1",
    "XDEL s -",
    "XLEN s",
    "XRANGE s - +",
    "XTRIM s",
    "XTRIM s MAXLEN",
    "XTRIM s LIMIT 1",
    "XTRIM s MAXLEN 1 LIMIT 1",
    "XTRIM s BOGUS 1",
    "XTRIM s MAXLEN ~ 100",
    "XTRIM nokey MAXLEN 0",
    "XTRIM s MINID = 6",
    "XTRIM s MAXLEN = 1",
    "XRANGE s - +",
    "XSETID s",
    "XSETID s 1",
    "XSETID s 10-0 ENTRIESADDED",
    "XSETID s 10-0 ENTRIESADDED -1",
    "XSETID s 10-0 ENTRIESADDED 0",
    "XSETID s 10-0 MAXDELETEDID 11-0",
    "XSETID s 10-0 MAXDELETEDID 5 ENTRIESADDED 100",
    "XSETID s 10-0 BOGUS",
    "XSETID nokey 1",
    "XSETID s +",
    "XADD s 10-0 f v",
    "XADD s 10-1 f v",
    "XREAD",
    "XREAD STREAMS",
    "XREAD STREAMS s",
    "XREAD STREAMS s t 0",
    "XREAD COUNT 1 STREAMS s 0",
    "XREAD COUNT -1 STREAMS s 0",
    "XREAD STREAMS s $",
    "XREAD STREAMS s >",
    "XREAD STREAMS nokey s 0 0",
    "XREAD STREAMS s nokey 0-0 $",
    "XREAD GROUP g c STREAMS s 0",
    "XREAD NOACK STREAMS s 0",
    "XREAD BLOCK abc STREAMS s 0",
    "XREAD BLOCK -1 STREAMS s 0",
    "XREAD BLOCK 10 STREAMS s +",
    "XREAD STREAMS s -",
    "XREAD STREAMS s (1",
    "XREAD COUNT 2 STREAMS s 0-0",
    "XREAD STREAMS s 18446744073709551615-18446744073709551615",
    "SET str x",
    "XADD str * f v",
    "XRANGE str - +",
    "XLEN str",
    "XDEL str 1",
    "XTRIM str MAXLEN 0",
    "XSETID str 1",
    "XREAD STREAMS str 0",
    "XREAD STREAMS s str 0 0",
    "TYPE s",
    "OBJECT ENCODING s",
    "XTRIM s MAXLEN 0",
    "XLEN s",
    "EXISTS s",
    "XADD e MAXLEN 0 1 f v",
    "EXISTS e",
    "XLEN e",
    "XADD e 1-5 f v",
    "XADD e 01-6 f v",
    "XADD e +1-7 f v",
    "XADD e 2-+8 f v",
    "XRANGE e - +",
    "XADD m 1 f1 v f2 v",
    "XADD m 2 f1 v f2 v",
    "XADD m 3 f2 v f1 v",
    "XADD m 4 f1 v",
    "XADD m 5 1 2 3 4",
    "XADD m 6 f1 123 f2 -5",
    "XRANGE m - +",
    "XREVRANGE m + - COUNT 3",
    "XADD s 18446744073709551615-18446744073709551615 f v",
    "XADD s * f v",
    "XADD s 18446744073709551615-* f v",
];

fn run_cases(d: &mut Diff) {
    for line in EDGE_CASES {
        d.line(line);
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

// ---------------------------------------------------------------------------- random walk

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_id(r: &mut Rng, top: u64) -> String {
    match r.below(8) {
        0 => "-".into(),
        1 => "+".into(),
        2 => format!("{}", r.below(top + 2)),
        3 => format!("({}-{}", r.below(top + 2), r.below(4)),
        _ => format!("{}-{}", r.below(top + 2), r.below(4)),
    }
}

fn walk(seed: u64, steps: usize) {
    let Some(pair) = pair() else { return };
    let mut d = Diff::new(&pair);
    d.line("CONFIG SET stream-node-max-entries 7");
    d.line("CONFIG SET stream-node-max-bytes 300");
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let keys = ["s1", "s2", "s3"];
    let fields = ["a", "b", "c", "12", "-7"];
    let mut top = 1u64;
    for step in 0..steps {
        let key = keys[r.below(3) as usize];
        let mut args: Vec<String> = Vec::new();
        match r.below(20) {
            0..=8 => {
                args.extend(["XADD".into(), key.into()]);
                match r.below(10) {
                    0 => args.extend(["MAXLEN".into(), "=".into(), r.below(30).to_string()]),
                    1 => args.extend(["MAXLEN".into(), "~".into(), r.below(30).to_string()]),
                    2 => args.extend(["MINID".into(), random_id(&mut r, top)]),
                    3 => args.extend([
                        "MAXLEN".into(),
                        "~".into(),
                        r.below(30).to_string(),
                        "LIMIT".into(),
                        r.below(20).to_string(),
                    ]),
                    4 => args.push("NOMKSTREAM".into()),
                    _ => {}
                }
                // Mostly growing IDs, sometimes stale ones (errors), sometimes `<ms>-*`.
                top += r.below(3);
                match r.below(6) {
                    0 => args.push(format!("{}-*", top)),
                    1 => args.push(format!("{}-{}", r.below(top + 1), r.below(3))),
                    _ => args.push(format!("{}-{}", top, r.below(3))),
                }
                let n = 1 + r.below(3);
                let same = r.below(2) == 0;
                for i in 0..n {
                    let f = if same {
                        fields[i as usize]
                    } else {
                        fields[r.below(5) as usize]
                    };
                    args.push(f.into());
                    args.push(if r.below(3) == 0 {
                        r.below(100_000).to_string()
                    } else {
                        "x".repeat(r.below(80) as usize)
                    });
                }
            }
            9 | 10 => {
                let rev = r.below(2) == 0;
                args.extend([
                    if rev { "XREVRANGE" } else { "XRANGE" }.into(),
                    key.into(),
                    random_id(&mut r, top),
                    random_id(&mut r, top),
                ]);
                if r.below(2) == 0 {
                    args.extend(["COUNT".into(), r.below(6).to_string()]);
                }
            }
            11 | 12 => {
                args.extend(["XDEL".into(), key.into()]);
                for _ in 0..1 + r.below(3) {
                    args.push(format!("{}-{}", r.below(top + 1), r.below(3)));
                }
            }
            13 => {
                args.extend(["XTRIM".into(), key.into()]);
                let approx = r.below(2) == 0;
                if r.below(2) == 0 {
                    args.extend(["MAXLEN".into(), if approx { "~" } else { "=" }.into()]);
                    args.push(r.below(40).to_string());
                } else {
                    args.extend(["MINID".into(), if approx { "~" } else { "=" }.into()]);
                    args.push(format!("{}", r.below(top + 1)));
                }
                if approx && r.below(2) == 0 {
                    args.extend(["LIMIT".into(), r.below(20).to_string()]);
                }
            }
            14 => args.extend(["XLEN".into(), key.into()]),
            15 => {
                args.push("XREAD".into());
                if r.below(2) == 0 {
                    args.extend(["COUNT".into(), r.below(5).to_string()]);
                }
                args.extend([
                    "STREAMS".into(),
                    key.into(),
                    keys[r.below(3) as usize].into(),
                ]);
                args.push(format!("{}-{}", r.below(top + 1), r.below(3)));
                args.push(if r.below(3) == 0 {
                    "$".into()
                } else {
                    format!("{}", r.below(top + 1))
                });
            }
            16 => {
                args.extend(["XSETID".into(), key.into(), format!("{}-{}", top, 5)]);
                if r.below(2) == 0 {
                    args.extend(["ENTRIESADDED".into(), r.below(200).to_string()]);
                }
                if r.below(2) == 0 {
                    args.extend(["MAXDELETEDID".into(), format!("{}", r.below(top + 1))]);
                }
            }
            17 => args.extend(["DEBUG".into(), "DIGEST-VALUE".into(), key.into()]),
            18 => args.extend(["XINFO_SKIP".into()]),
            _ => args.extend(["EXISTS".into(), key.into()]),
        }
        if args[0] == "XINFO_SKIP" {
            continue;
        }
        let (p, rr) = d.both(&args);
        assert_eq!(
            p,
            rr,
            "seed {seed} step {step}: {}: picket (left), redis (right)",
            args.join(" ")
        );
    }
    // The streams reached: each server loads the other's DUMP, and Redis's DUMP of
    // picket's stream is its own.
    for key in keys {
        let dp = d.p.cmd(&["DUMP", key]);
        let dr = d.r.cmd(&["DUMP", key]);
        let (V::Bulk(_, Some(dp)), V::Bulk(_, Some(dr))) = (dp, dr) else {
            continue;
        };
        let ok = V::Line(b'+', b"OK".to_vec());
        assert_eq!(d.p.cmd(&[b"RESTORE".as_ref(), b"copy", b"0", &dr]), ok);
        assert_eq!(d.r.cmd(&[b"RESTORE".as_ref(), b"copy", b"0", &dp]), ok);
        d.line("XRANGE copy - +");
        d.line("DEBUG DIGEST-VALUE copy");
        assert_eq!(
            d.r.cmd(&["DUMP", "copy"]),
            V::Bulk(b'$', Some(dr.clone())),
            "seed {seed}: Redis's DUMP of picket's {key} differs from its own"
        );
        d.line("DEL copy");
    }
    d.line("DEBUG DIGEST");
}

#[test]
fn random_walk_as_redis() {
    let steps = std::env::var("PICKET_STREAM_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    match std::env::var("PICKET_STREAM_SEED")
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

// ---------------------------------------------------------------------------- propagation

/// XADD `*` and `~` trims reach the AOF and replicas rewritten (checked on the MONITOR-free
/// way: a Redis replica of picket ends with the same stream, and DEBUG DIGEST agrees).
#[test]
fn redis_replica_of_picket_gets_streams() {
    let master = Server::start(&["--save", "", "--appendonly", "no"]);
    let Some(replica) = Server::redis(&[]) else {
        return;
    };
    let mut m = RawConn::connect(master.port);
    m.q("CONFIG SET stream-node-max-entries 5");
    for i in 0..40 {
        m.q(&format!("XADD before * f {i}"));
    }
    let mut rc = RawConn::connect(replica.port);
    rc.q("CONFIG SET stream-node-max-entries 5");
    rc.q(&format!("REPLICAOF 127.0.0.1 {}", master.port));
    wait_until(|| {
        let v = rc.q("INFO replication");
        String::from_utf8_lossy(&v.bytes()).contains("master_link_status:up")
    });
    for i in 0..60 {
        m.q(&format!("XADD s MAXLEN ~ 12 * f {i} g {}", i * 3));
        m.q(&format!("XADD t MINID ~ {} {}-* f {i}", i / 2, i + 1));
    }
    m.q("XTRIM s MAXLEN ~ 3");
    m.q("XDEL t 59-0");
    m.q("XSETID t 500-0 ENTRIESADDED 1000 MAXDELETEDID 400");
    m.q("XADD before NOMKSTREAM MAXLEN = 5 * f last");
    let offset = |c: &mut RawConn, field: &str| -> String {
        let v = c.q("INFO replication");
        String::from_utf8_lossy(&v.bytes())
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
            .unwrap_or_default()
    };
    let want = offset(&mut m, "master_repl_offset");
    wait_until(|| offset(&mut rc, "slave_repl_offset") == want);
    for key in ["before", "s", "t"] {
        assert_eq!(
            m.cmd(&["XRANGE", key, "-", "+"]),
            rc.cmd(&["XRANGE", key, "-", "+"]),
            "{key}"
        );
        // The replica's value, brought back to the master, is the master's byte for byte
        // (the payloads themselves differ only in how each server's LZF compresses).
        let V::Bulk(_, Some(payload)) = rc.cmd(&["DUMP", key]) else {
            panic!("{key} missing on the replica")
        };
        let copy = format!("copy:{key}");
        m.cmd(&[b"RESTORE".as_ref(), copy.as_bytes(), b"0", &payload]);
        assert_eq!(m.cmd(&["DUMP", key]), m.cmd(&["DUMP", &copy]), "{key}");
    }
}

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

// ---------------------------------------------------------------------------- blocking

/// Blocked XREADs are served in the order they blocked, each from the key that got data,
/// `$` meaning the last ID when it blocked; COUNT applies; time-outs answer a null array.
#[test]
fn blocked_xread_wakes_as_redis() {
    let Some(pair) = pair() else { return };
    for port in [pair.picket.port, pair.redis.port] {
        let mut w = RawConn::connect(port);
        w.q("XADD a 1 f v");
        let mut c1 = RawConn::connect(port);
        let mut c2 = RawConn::connect(port);
        let mut c3 = RawConn::connect(port);
        c1.send(&words("XREAD BLOCK 0 STREAMS a b $ $"));
        std::thread::sleep(Duration::from_millis(50));
        c2.send(&words("XREAD COUNT 1 BLOCK 0 STREAMS b a 0 $"));
        std::thread::sleep(Duration::from_millis(50));
        c3.send(&words("XREAD BLOCK 100 STREAMS a 5"));
        std::thread::sleep(Duration::from_millis(50));
        // One transaction adds to both keys: each client gets one key, in order.
        w.q("MULTI");
        w.q("XADD b 7 x 1");
        w.q("XADD b 8 x 2");
        w.q("XADD a 2 y 3");
        let exec = w.q("EXEC");
        assert_eq!(exec.items().len(), 3);
        let r1 = c1.read();
        let r2 = c2.read();
        let r3 = c3.read();
        assert_eq!(
            r1,
            parse_reply("*1\r\n*2\r\n$1\r\nb\r\n*2\r\n*2\r\n$3\r\n7-0\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n*2\r\n$3\r\n8-0\r\n*2\r\n$1\r\nx\r\n$1\r\n2\r\n"),
            "port {port}"
        );
        assert_eq!(
            r2,
            parse_reply(
                "*1\r\n*2\r\n$1\r\nb\r\n*1\r\n*2\r\n$3\r\n7-0\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n"
            ),
            "port {port}"
        );
        assert_eq!(r3, parse_reply("*-1\r\n"), "port {port}");
        // Inside MULTI a BLOCK that cannot be served answers at once.
        w.q("MULTI");
        w.q("XREAD BLOCK 0 STREAMS a $");
        assert_eq!(w.q("EXEC"), parse_reply("*1\r\n*-1\r\n"));
    }
}

fn parse_reply(s: &str) -> V {
    hashes_util::parse(s.as_bytes()).expect("reply").0
}

// ---------------------------------------------------------------------------- RDB files

fn fill(c: &mut RawConn) {
    c.q("CONFIG SET stream-node-max-entries 4");
    for i in 1..=30 {
        c.q(&format!("XADD s {i}-1 f {i} g x{i}"));
        if i % 4 == 0 {
            c.q(&format!("XADD s {i}-2 other {i}"));
        }
    }
    c.q("XDEL s 3-1 17-1");
    c.q("XTRIM s MINID 2");
    c.q("XADD empty MAXLEN 0 1 f v");
    c.q("XSETID s 99-0 ENTRIESADDED 77 MAXDELETEDID 50");
}

/// A Redis RDB file with streams loads on picket and the other way round; DEBUG RELOAD
/// keeps them.
#[test]
fn rdb_files_cross_load() {
    let Some(pair) = pair() else { return };
    let mut r = RawConn::connect(pair.redis.port);
    let mut p = RawConn::connect(pair.picket.port);
    fill(&mut r);
    fill(&mut p);
    let want = r.q("DEBUG DIGEST");
    assert_eq!(p.q("DEBUG DIGEST"), want);
    assert_eq!(p.q("DEBUG RELOAD"), V::Line(b'+', b"OK".to_vec()));
    assert_eq!(p.q("DEBUG DIGEST"), want);
    assert_eq!(p.q("XRANGE s - +"), r.q("XRANGE s - +"));
    assert_eq!(p.q("DUMP s"), p.q("DUMP s"));

    // Redis's file on picket.
    r.q("SAVE");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        pair.redis.dir.path().join("dump.rdb"),
        dir.path().join("dump.rdb"),
    )
    .unwrap();
    let loaded = Server::start(&[
        "--dir",
        dir.path().to_str().unwrap(),
        "--enable-debug-command",
        "yes",
    ]);
    let mut l = RawConn::connect(loaded.port);
    assert_eq!(l.q("DEBUG DIGEST"), want);
    assert_eq!(l.q("XLEN empty"), V::Line(b':', b"0".to_vec()));

    // Picket's file on Redis.
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
        "--enable-debug-command",
        "yes",
        "--sanitize-dump-payload",
        "yes",
    ]) else {
        return;
    };
    let mut r2 = RawConn::connect(redis2.port);
    assert_eq!(r2.q("DEBUG DIGEST"), want);
    assert_eq!(r2.q("DUMP s"), r.q("DUMP s"));
}
