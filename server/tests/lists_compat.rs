//! List commands compared with Redis 7.0 reply by reply, on the exact wire bytes: a long
//! script of edge cases in RESP2 and RESP3, WRONGTYPE against every other type, keyspace
//! events (order included), the dirty counter, WATCH invalidation, and the replies of
//! blocking commands inside MULTI.

mod common;
mod lists_util;

use common::Pair;
use lists_util::{dirty, encode, words, Both, RawConn};

/// Edge cases of every command; run once in RESP2 and once in RESP3.
const EDGE_CASES: &[&str] = &[
    "RPUSH l a b c a b c",
    "LPOS l a RANK -9223372036854775808",
    "LPOS l a RANK 9223372036854775807",
    "LPOS l a RANK 0",
    "LPOS l a RANK abc",
    "LPOS l a COUNT -1",
    "LPOS l a COUNT abc",
    "LPOS l a MAXLEN -1",
    "LPOS l a MAXLEN abc",
    "LPOS l a RANK",
    "LPOS l a FOO 1",
    "LPOS nokey a COUNT 0",
    "LPOS nokey a",
    "LPOS nokey a RANK 0",
    "LPOS l a COUNT 0 RANK -1",
    "LPOS l a COUNT 0 MAXLEN 1 RANK -1",
    "LPOS l a COUNT 1 COUNT 2",
    "LPOS l a RANK -9223372036854775808 COUNT 1",
    "LPOS l a RANK -9223372036854775808 COUNT 0",
    "LPOS l a RANK -9223372036854775808 MAXLEN 3",
    "LPOS l c RANK -2 COUNT 5",
    "LPOS l b RANK 2 COUNT 0 MAXLEN 5",
    "LPOS l zz COUNT 0",
    "LPOS l zz",
    "LREM l -9223372036854775808 a",
    "LRANGE l 0 -1",
    "LREM l abc a",
    "LREM nokey abc a",
    "LREM nokey 0 a",
    "LSET nokey abc x",
    "LSET l abc x",
    "LSET l 10 x",
    "LSET l -10 x",
    "LSET l -9223372036854775808 x",
    "LSET l -1 last",
    "LINDEX l abc",
    "LINDEX nokey abc",
    "LINDEX l -9223372036854775808",
    "LINDEX l 9223372036854775807",
    "LINDEX l -4",
    "LINDEX l -1",
    "LRANGE nokey a b",
    "LRANGE l -9223372036854775808 9223372036854775807",
    "LRANGE l -2 -3",
    "LRANGE l 5 10",
    "LRANGE l -100 0",
    "LRANGE l 2 1",
    "LTRIM nokey a b",
    "LTRIM l a b",
    "LTRIM nokey 0 1",
    "LTRIM l -9223372036854775808 9223372036854775807",
    "LINSERT l foo a b",
    "LINSERT nokey foo a b",
    "LINSERT nokey before a b",
    "LINSERT l BEFORE nope b",
    "LINSERT l AFTER last z",
    "LINSERT l before b first",
    "LRANGE l 0 -1",
    "LPOP l -1",
    "LPOP l abc",
    "LPOP nokey -1",
    "LPOP nokey 0",
    "LPOP nokey",
    "LPOP l 0",
    "LPOP l 1 2",
    "RPOP l 2",
    "LPOP l 1",
    "LMPOP 0 l left",
    "LMPOP -1 l left",
    "LMPOP abc l left",
    "LMPOP 1 l",
    "LMPOP 2 l left",
    "LMPOP 1 l middle",
    "LMPOP 1 l left COUNT 0",
    "LMPOP 1 l left COUNT -1",
    "LMPOP 1 l left COUNT abc",
    "LMPOP 1 l left COUNT 1 COUNT 1",
    "LMPOP 1 l left FOO",
    "LMPOP 1 l left COUNT",
    "LMPOP 9223372036854775807 l left",
    "LMPOP 9223372036854775806 l left",
    "LMPOP 1 nokey left COUNT 0",
    "LMPOP 1 nokey left",
    "LMPOP 3 nokey nokey2 l right COUNT 2",
    "LMOVE l d middle left",
    "LMOVE nokey d middle left",
    "LMOVE nokey d left left",
    "BLMOVE nokey d left left abc",
    "BLMOVE nokey d foo left abc",
    "BLMOVE nokey d left left -1",
    "BLMPOP abc 1 l left",
    "BLMPOP 0 abc l left",
    "BLMPOP -1 abc l left",
    "BLMPOP 0 1 l left COUNT 0",
    "BLMPOP 0 0 l left",
    "BLMPOP abc abc l left",
    "BLMPOP abc 1 l middle",
    "BLMPOP -1 1 l left",
    "BLMPOP 0 9223372036854775807 l left",
    "BRPOPLPUSH nokey d abc",
    "BRPOPLPUSH nokey d -1",
    "BLPOP nokey 0.01",
    "BRPOP nokey nokey2 0.01",
    "BLMOVE nokey d left left 0.01",
    "BRPOPLPUSH nokey d 0.01",
    "BLMPOP 0.01 2 nokey nokey2 left COUNT 3",
    "SET s v",
    "LMOVE s l middle left",
    "LMOVE s l left left",
    "LMOVE l s left left",
    "LMOVE nokey s left left",
    "LINSERT s foo a b",
    "LINSERT s before a b",
    "LPOS s a RANK 0",
    "LPOS s a",
    "LRANGE s a 0",
    "LRANGE s 0 1",
    "LINDEX s abc",
    "LSET s abc x",
    "LREM s abc x",
    "LREM s 0 x",
    "LTRIM s a 0",
    "LTRIM s 0 1",
    "LLEN s",
    "LPOP s abc",
    "LPOP s 0",
    "RPOP s",
    "LMPOP 2 nokey s left",
    "LMPOP 2 s l left",
    "BLMPOP 0 2 nokey s left",
    "BLPOP nokey s 0",
    "BLMOVE s l left left 0",
    "BLMOVE nokey s left left 0.01",
    "BRPOPLPUSH s l 0",
    "RPUSHX s a",
    "LPUSHX nokey a",
    "LPUSH s a",
    "RPUSH l x y z",
    "LRANGE l 0 -1",
    "LMOVE l l left right",
    "LMOVE l l right left",
    "LMOVE l new right left",
    "LRANGE l 0 -1",
    "LRANGE new 0 -1",
    "RPOPLPUSH new new",
    "RPOPLPUSH new new2",
    "EXISTS new",
    "LRANGE new2 0 -1",
    "BLMOVE new2 new2 RIGHT LEFT 0",
    "BRPOPLPUSH new2 new3 0",
    "BLPOP new2 new3 0",
    "BLMPOP 0 3 new2 new3 l RIGHT COUNT 2",
    "BLMPOP 0 1 l LEFT",
    "RPUSH n 1 -1 0 007 9223372036854775807 9223372036854775808 -0 1.5",
    "LRANGE n 0 -1",
    "LPOS n 7",
    "LPOS n 007",
    "LPOS n -0",
    "LREM n 0 0",
    "LINSERT n BEFORE 9223372036854775808 x",
    "LINDEX n -2",
    "LLEN n",
    "FLUSHALL",
];

fn run_edge_cases(pair: &Pair, resp3: bool) {
    let mut w = Both::connect(pair.picket.port, pair.redis.port);
    w.line("FLUSHALL", "setup");
    if resp3 {
        // HELLO's reply carries the client id: compare the protocol only.
        w.p.q("HELLO 3");
        w.r.q("HELLO 3");
    }
    let ctx = if resp3 { "RESP3" } else { "RESP2" };
    w.script(EDGE_CASES, ctx);
}

#[test]
fn edge_cases_match_redis_in_resp2_and_resp3() {
    let Some(pair) = Pair::start(&[]) else { return };
    run_edge_cases(&pair, false);
    run_edge_cases(&pair, true);
}

#[test]
fn binary_and_large_elements_match_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut w = Both::connect(pair.picket.port, pair.redis.port);
    let big = "x".repeat(70_000);
    let bin: &[u8] = b"\0\xff\r\n";
    for args in [
        vec![
            &b"RPUSH"[..],
            b"l",
            b"",
            bin,
            big.as_bytes(),
            b"12345678901234567890",
        ],
        vec![b"LRANGE", b"l", b"0", b"-1"],
        vec![b"LPOS", b"l", b""],
        vec![b"LPOS", b"l", bin],
        vec![b"LINSERT", b"l", b"AFTER", bin, big.as_bytes()],
        vec![b"LREM", b"l", b"1", big.as_bytes()],
        vec![b"LSET", b"l", b"0", bin],
        vec![b"LINDEX", b"l", b"0"],
        vec![b"LMOVE", b"l", bin, b"LEFT", b"RIGHT"],
        vec![b"LRANGE", bin, b"0", b"-1"],
        vec![b"LMPOP", b"2", b"l", bin, b"RIGHT", b"COUNT", b"10"],
        vec![b"LMPOP", b"2", b"l", bin, b"RIGHT", b"COUNT", b"10"],
        // Option words are compared as C strings: what follows a NUL byte is ignored.
        vec![b"RPUSH", b"k", b"a"],
        vec![b"LMOVE", b"k", b"k", b"left\0x", b"RIGHT\0"],
        vec![b"LPOS", b"k", b"a", b"RANK\0junk", b"1"],
        vec![b"LINSERT", b"k", b"before\0", b"a", b"b"],
        vec![b"LMPOP", b"1", b"k", b"LEFT", b"count\0", b"5"],
    ] {
        w.same(&args, "binary");
    }
}

/// Keys of the other types that both servers can create (families still being written on
/// the picket side are left out until they exist).
fn other_types(w: &mut Both) -> Vec<&'static str> {
    let mut out = vec![];
    for (key, create) in [
        ("str", "SET str v"),
        ("hash", "HSET hash f v"),
        ("set", "SADD set m"),
        ("zset", "ZADD zset 1 m"),
    ] {
        let (a, b) = (w.p.q(create), w.r.q(create));
        if a == b && !a.starts_with('-') {
            out.push(key);
        } else {
            eprintln!("*** lists_compat: {key} left out ({create}: picket {a:?}, redis {b:?})");
        }
    }
    out
}

#[test]
fn wrongtype_matches_redis_for_every_type() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut w = Both::connect(pair.picket.port, pair.redis.port);
    w.line("RPUSH l a", "setup");
    for k in other_types(&mut w) {
        for cmd in [
            "LPUSH {} a",
            "RPUSHX {} a",
            "LPOP {} 0",
            "RPOP {}",
            "LLEN {}",
            "LRANGE {} 0 -1",
            "LRANGE {} x 0",
            "LINDEX {} x",
            "LSET {} x v",
            "LINSERT {} BEFORE a b",
            "LINSERT {} NOWHERE a b",
            "LREM {} x a",
            "LREM {} 0 a",
            "LTRIM {} 0 1",
            "LPOS {} a RANK 0",
            "LPOS {} a",
            "LMOVE {} l LEFT LEFT",
            "LMOVE l {} LEFT LEFT",
            "LMOVE nokey {} LEFT LEFT",
            "RPOPLPUSH l {}",
            "LMPOP 2 nokey {} LEFT",
            "LMPOP 2 l {} LEFT",
            "RPUSH l a",
            "BLPOP nokey {} 0",
            "BLMOVE {} l LEFT LEFT 0",
            "BLMOVE nokey {} LEFT LEFT 0.01",
            "BRPOPLPUSH l {} 0",
            "BLMPOP 0 2 nokey {} RIGHT",
            "TYPE {}",
            "LRANGE l 0 -1",
        ] {
            w.line(&cmd.replace("{}", k), k);
        }
    }
}

/// Every keyspace event, in order (with `new` events), for a script of list commands.
#[test]
fn keyspace_events_match_redis() {
    let Some(pair) = Pair::start(&["--notify-keyspace-events", "KEAn"]) else {
        return;
    };
    let mut subs = [
        RawConn::connect(pair.picket.port),
        RawConn::connect(pair.redis.port),
    ];
    for s in &mut subs {
        s.q("PSUBSCRIBE __key*__:*");
    }
    let mut w = Both::connect(pair.picket.port, pair.redis.port);
    w.script(
        &[
            "RPUSH l a b c",
            "LPUSH l z",
            "LPUSHX nokey a",
            "RPUSHX l q",
            "LPOP l",
            "RPOP l 5",
            "RPUSH l a b c d e",
            "LTRIM l 1 -2",
            "LTRIM l 0 -1",
            "LTRIM l 5 1",
            "LTRIM nokey 0 1",
            "RPUSH l a b a",
            "LREM l 0 zz",
            "LREM l 1 a",
            "LREM l 0 a",
            "RPUSH l a",
            "LINSERT l before a x",
            "LINSERT l before q x",
            "LSET l 0 y",
            "LSET l 9 y",
            "LMOVE l l left right",
            "LMOVE l m left right",
            "LMOVE m m left right",
            "LMOVE l m right left",
            "LMOVE nokey m right left",
            "SET s v",
            "LMOVE m s left left",
            "LMPOP 2 nokey m left COUNT 3",
            "RPUSH l a b",
            "BLMPOP 0 1 l right COUNT 1",
            "BLPOP l 0",
            "BRPOPLPUSH nokey l 0.01",
            "RPUSH l a",
            "BRPOPLPUSH l l 0",
            "BLMOVE l l2 left left 0",
            "RPOPLPUSH l2 l3",
            "LPOP l 0",
            "RPUSH e a",
            "PEXPIRE e 1",
        ],
        "events",
    );
    // Past the expiry on both: the push finds the key expired (an `expired` event) and
    // creates a new list.
    std::thread::sleep(std::time::Duration::from_millis(30));
    w.script(
        &["LPUSH e b", "LRANGE e 0 -1", "RENAME e e2", "DEL e2"],
        "events",
    );
    let mut events = Vec::new();
    for s in &mut subs {
        s.send(&["PING"]);
        let mut got = Vec::new();
        loop {
            let v = s.read();
            if String::from_utf8_lossy(&v).contains("pong") {
                break;
            }
            got.push(String::from_utf8_lossy(&v).into_owned());
        }
        events.push(got);
    }
    assert!(events[1].len() > 40, "few events: {:?}", events[1]);
    for (i, (a, b)) in events[0].iter().zip(&events[1]).enumerate() {
        assert_eq!(a, b, "event {i}: picket (left), redis (right)");
    }
    assert_eq!(events[0].len(), events[1].len(), "event counts");
}

/// The dirty counter (`rdb_changes_since_last_save`) grows by the same amount for each
/// command. (Blocking commands served after blocking are not covered: see `lists_blocking`.)
#[test]
fn dirty_counter_matches_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut w = Both::connect(pair.picket.port, pair.redis.port);
    for line in [
        "RPUSH l a b c d e f g h",
        "LPUSH l x y",
        "LPUSHX nokey a",
        "RPUSHX l z",
        "LPOP l",
        "LPOP l 0",
        "RPOP l 3",
        "LTRIM l 1 -2",
        "LTRIM l 0 -1",
        "LREM l 0 zz",
        "RPUSH l a a a",
        "LREM l 0 a",
        "LREM l 1 b",
        "LINSERT l BEFORE c x",
        "LINSERT l BEFORE nope x",
        "LSET l 0 v",
        "LMOVE l m LEFT RIGHT",
        "LMOVE l l LEFT RIGHT",
        "RPOPLPUSH l m",
        "LMPOP 2 nokey l LEFT COUNT 2",
        "RPUSH l p q r s t",
        "BLPOP l 0",
        "BLMOVE l m RIGHT LEFT 0",
        "BRPOPLPUSH m l 0",
        "BLMPOP 0 1 m RIGHT COUNT 10",
        "LTRIM l 5 1",
    ] {
        let (p0, r0) = (dirty(&mut w.p), dirty(&mut w.r));
        w.line(line, "dirty");
        let (p1, r1) = (dirty(&mut w.p), dirty(&mut w.r));
        assert_eq!(p1 - p0, r1 - r0, "{line}: dirty grew by");
    }
}

/// Which commands invalidate a WATCH on the list: every change, LTRIM even when it removes
/// nothing; not a no-op LREM, LINSERT, LPOP 0 or PUSHX on a missing key.
#[test]
fn watch_invalidation_matches_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut w = Both::connect(pair.picket.port, pair.redis.port);
    let mut other = Both::connect(pair.picket.port, pair.redis.port);
    for (setup, cmd) in [
        ("RPUSH k a b c", "RPUSH k d"),
        ("RPUSH k a b c", "LPOP k 0"),
        ("RPUSH k a b c", "LPOP k"),
        ("RPUSH k a b c", "LTRIM k 0 -1"),
        ("RPUSH k a b c", "LTRIM k 0 0"),
        ("RPUSH k a b c", "LREM k 0 zz"),
        ("RPUSH k a b c", "LREM k 0 a"),
        ("RPUSH k a b c", "LINSERT k BEFORE zz x"),
        ("RPUSH k a b c", "LINSERT k BEFORE a x"),
        ("RPUSH k a b c", "LSET k 0 x"),
        ("RPUSH k a b c", "LSET k 5 x"),
        ("RPUSH k a b c", "LMOVE k other LEFT LEFT"),
        ("RPUSH k a b c", "LMOVE other2 k LEFT LEFT"),
        ("RPUSH other2 a", "LMOVE other2 k LEFT LEFT"),
        ("RPUSH k a b c", "LMOVE k k LEFT LEFT"),
        ("RPUSH k a b c", "LMPOP 1 k LEFT"),
        ("RPUSH k a b c", "BLMPOP 0 1 k RIGHT COUNT 9"),
        ("PING", "LPUSHX k a"),
        ("PING", "RPUSH k a"),
        ("RPUSH k a b c", "LRANGE k 0 -1"),
    ] {
        w.line("FLUSHALL", "watch");
        w.line(setup, setup);
        w.line("WATCH k", cmd);
        other.line(cmd, cmd);
        w.line("MULTI", cmd);
        w.line("PING", cmd);
        w.line("EXEC", cmd);
    }
}

/// Inside MULTI the blocking commands answer at once as if timed out: a null array, except
/// BLMOVE and BRPOPLPUSH which answer a null bulk (nested inside EXEC's array).
#[test]
fn blocking_commands_inside_multi_match_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    for resp3 in [false, true] {
        let mut w = Both::connect(pair.picket.port, pair.redis.port);
        if resp3 {
            w.p.q("HELLO 3");
            w.r.q("HELLO 3");
        }
        w.script(
            &[
                "FLUSHALL",
                "MULTI",
                "BLMOVE nokey d LEFT LEFT 0",
                "BRPOPLPUSH nokey d 0",
                "BLMPOP 0 1 nokey LEFT",
                "BLPOP nokey 0",
                "BRPOP nokey 1",
                "RPUSH src a b c d",
                "BLMOVE src d LEFT LEFT 0",
                "BRPOPLPUSH src d 0",
                "BLMPOP 0 2 nokey src RIGHT COUNT 5",
                "BLMOVE src d LEFT LEFT 0",
                "BLPOP d 0",
                "EXEC",
                "LRANGE d 0 -1",
            ],
            if resp3 { "multi RESP3" } else { "multi RESP2" },
        );
    }
    // Pipelined, the replies are exactly Redis's bytes too.
    let mut p = RawConn::connect(pair.picket.port);
    let mut r = RawConn::connect(pair.redis.port);
    let mut batch = Vec::new();
    for l in [
        "MULTI",
        "BLMOVE x y LEFT LEFT 0",
        "BLMPOP 0 1 x LEFT",
        "EXEC",
    ] {
        batch.extend(encode(&words(l)));
    }
    for c in [&mut p, &mut r] {
        std::io::Write::write_all(&mut c.stream, &batch).expect("write");
    }
    for _ in 0..4 {
        assert_eq!(p.read(), r.read());
    }
}
