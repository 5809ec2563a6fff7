//! Sorted sets and the rest of the server, against Redis 7.0: keyspace-wide commands (TYPE,
//! OBJECT ENCODING, DEL, RENAME, COPY, MOVE, SCAN TYPE, EXPIRE), encoding conversions and
//! CONFIG SET, keyspace events, the dirty counter, and what replicas receive (Redis's stream
//! read as a replica with `PSYNC ? -1`, picket's from the in-process test server).

#[path = "zsets_support.rs"]
mod support;

use std::io::Read;
use std::time::Duration;

use picket_server::testkit::TestServer;
use support::common::{Conn, Reply};
use support::{start_redis, Duo};

fn duo(extra: &[&str]) -> Option<(Duo, support::Both)> {
    let d = Duo::start(extra)?;
    let c = d.conns();
    Some((d, c))
}

#[test]
fn keyspace_commands_on_sorted_sets() {
    let Some((_d, mut c)) = duo(&[]) else { return };
    c.lines(
        "ZADD z 1 a 2 b
         TYPE z
         OBJECT ENCODING z
         EXISTS z
         RENAME z z2
         ZRANGE z2 0 -1 WITHSCORES
         COPY z2 z3
         ZADD z3 3 c
         ZCARD z2
         ZCARD z3
         COPY z2 z3
         COPY z2 z3 REPLACE
         ZCARD z3
         MOVE z3 1
         EXISTS z3
         SELECT 1
         ZRANGE z3 0 -1 WITHSCORES
         OBJECT ENCODING z3
         SELECT 0
         EXPIRE z2 100
         TTL z2
         ZADD z2 9 x
         TTL z2
         ZREM z2 a b x
         EXISTS z2
         TTL z2
         ZADD e 1 a
         PEXPIRE e 1",
    );
    std::thread::sleep(Duration::from_millis(10));
    c.lines(
        "ZCARD e
         EXISTS e
         ZADD d 1 a
         DEL d
         ZCARD d
         ZADD r 1 a
         RENAMENX r z3
         SET s v
         RENAME s r2
         ZADD r2 1 a",
    );
    // SCAN TYPE zset (order is the dict's: compare sorted).
    c.lines("ZADD k1 1 a\nZADD k2 1 a\nSET k3 v\nSADD k4 a\nZADD k5 1 a");
    let mut found = Vec::new();
    for conn in [&mut c.p, &mut c.r] {
        let r = conn.q("SCAN 0 TYPE zset COUNT 1000").items();
        let mut keys: Vec<String> = r[1].items().iter().map(Reply::text).collect();
        keys.sort();
        found.push(keys);
    }
    assert_eq!(found[0], found[1]);
    for k in ["k1", "k2", "k5"] {
        assert!(found[0].iter().any(|f| f == k), "{k} in {:?}", found[0]);
    }
}

#[test]
fn encoding_conversions_follow_the_limits() {
    let Some((_d, mut c)) = duo(&[]) else { return };
    let long = "x".repeat(65);
    c.lines(
        "CONFIG SET zset-max-listpack-entries 3
         ZADD z 1 a 2 b 3 c
         OBJECT ENCODING z
         ZADD z 4 d
         OBJECT ENCODING z
         ZREM z a b c
         OBJECT ENCODING z
         ZADD nx NX 1 a 2 b 3 c 4 d
         OBJECT ENCODING nx
         ZADD upd 1 a 2 b 3 c
         ZADD upd 10 a 20 b 30 c
         OBJECT ENCODING upd
         ZADD upd XX 1 d
         OBJECT ENCODING upd
         CONFIG SET zset-max-listpack-entries 0
         ZADD zero 1 a
         OBJECT ENCODING zero
         ZINCRBY zero2 1 a
         OBJECT ENCODING zero2
         CONFIG SET zset-max-listpack-entries 128
         CONFIG SET zset-max-listpack-value 4
         ZADD v 1 abcd
         OBJECT ENCODING v
         ZADD v 1 abcde
         OBJECT ENCODING v
         ZADD v2 1 abcde
         OBJECT ENCODING v2
         CONFIG SET zset-max-ziplist-value 64
         CONFIG GET zset-max-listpack-value
         CONFIG SET zset-max-ziplist-entries 2
         CONFIG GET zset-max-listpack-entries
         ZADD w 1 a 2 b 3 c
         OBJECT ENCODING w
         ZUNIONSTORE u 1 w
         OBJECT ENCODING u
         ZUNIONSTORE u 2 w w
         OBJECT ENCODING u
         CONFIG SET zset-max-listpack-entries 128
         ZUNIONSTORE u 1 w
         OBJECT ENCODING u
         ZINTERSTORE u 1 w
         OBJECT ENCODING u
         ZDIFFSTORE u 1 w
         OBJECT ENCODING u",
    );
    c.same(&["ZADD", "lv", "1", &long]);
    c.lines("OBJECT ENCODING lv\nZUNIONSTORE u2 1 lv\nOBJECT ENCODING u2");
    c.same(&["ZREM", "lv", &long]);
    // Big sets stay big: 200 members.
    let mut args = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..200 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    c.same(&args);
    c.lines(
        "OBJECT ENCODING big
         ZREMRANGEBYRANK big 0 190
         OBJECT ENCODING big
         ZRANGE big 0 -1 WITHSCORES
         ZRANGESTORE s big 0 -1
         OBJECT ENCODING s
         COPY big bigcopy
         OBJECT ENCODING bigcopy",
    );
}

/// Read pub/sub messages until the marker message; returns (channel, payload) pairs.
fn messages_until_marker(c: &mut Conn) -> Vec<(String, String)> {
    let mut got = Vec::new();
    loop {
        let m = c.read().items();
        let kind = m[0].text();
        let (ch, payload) = match kind.as_str() {
            "pmessage" => (m[2].text(), m[3].text()),
            "message" => (m[1].text(), m[2].text()),
            _ => continue,
        };
        if ch == "marker" {
            return got;
        }
        got.push((ch, payload));
    }
}

const EVENT_SCRIPT: &str = "ZADD z 1 a 2 b
    ZADD z 1 a
    ZADD z XX 5 a
    ZADD z NX 5 c
    ZADD z GT 1 a
    ZADD z CH 5 a
    ZINCRBY z 1 a
    ZADD z INCR 0 a
    ZADD z INCR 1 a
    ZREM z nothing
    ZREM z a
    ZREMRANGEBYSCORE z 100 200
    ZREMRANGEBYSCORE z 2 2
    ZREMRANGEBYRANK z 5 6
    ZREMRANGEBYLEX z - +
    ZADD z 1 a 2 b 3 c 4 d
    ZREMRANGEBYRANK z 0 0
    ZPOPMIN z
    ZPOPMIN z 0
    ZPOPMAX z 5
    ZPOPMAX z
    ZADD z 1 a 2 b 3 c
    ZRANGESTORE d z 0 1
    ZRANGESTORE d z 5 6
    ZRANGESTORE d z 5 6
    ZRANGESTORE d nokey 0 1
    ZUNIONSTORE u 1 z
    ZINTERSTORE u 2 z nokey
    ZINTERSTORE u 2 z nokey
    ZDIFFSTORE u 2 z z
    ZADD u 1 a
    ZDIFFSTORE u 2 z nokey
    ZUNIONSTORE u 0 z
    ZMPOP 1 z MIN COUNT 2
    ZMPOP 1 nokey MIN
    BZPOPMAX z 0
    BZMPOP 0 1 u MAX COUNT 10
    ZADD z 1 a
    ZINCRBY z 0 a
    ZADD z nan a
    ZADD z INCR -inf a
    ZADD z INCR +inf a
    ZSCORE z a
    DEL z
    ZRANGE nokey 0 -1
    ZCARD nokey
    ZUNION 1 nokey
    ZRANDMEMBER nokey
    ZADD e 1 a
    PEXPIRE e 1
    SLEEP
    ZADD e 2 b
    ZUNIONSTORE e2 1 e
    PEXPIRE e2 1
    SLEEP
    ZUNIONSTORE e2 1 e
    PEXPIRE e2 1
    SLEEP
    ZRANGESTORE e2 e 0 0";

#[test]
fn keyspace_events_and_dirty_counts_match_redis() {
    let Some((_d, mut c)) = duo(&[]) else { return };
    c.lines("CONFIG SET notify-keyspace-events KEAn");
    let mut subs = Vec::new();
    for port in [_d.picket.port, _d.redis.port] {
        let mut s = Conn::connect(port);
        s.q("PSUBSCRIBE __key*__:*");
        s.q("SUBSCRIBE marker");
        subs.push(s);
    }
    let dirty = |conn: &mut Conn| -> i64 {
        let info = conn.q("INFO persistence").text();
        info.lines()
            .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("rdb_changes_since_last_save")
    };
    for line in EVENT_SCRIPT.lines().map(str::trim) {
        if line == "SLEEP" {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let before = (dirty(&mut c.p), dirty(&mut c.r));
        c.lines(line);
        let after = (dirty(&mut c.p), dirty(&mut c.r));
        assert_eq!(
            after.0 - before.0,
            after.1 - before.1,
            "{line}: dirty delta, picket (left) and redis (right) differ"
        );
    }
    c.lines("PUBLISH marker end");
    let got_p = messages_until_marker(&mut subs[0]);
    let got_r = messages_until_marker(&mut subs[1]);
    assert!(got_r.len() > 40, "{got_r:?}");
    for (i, (a, b)) in got_p.iter().zip(got_r.iter()).enumerate() {
        assert_eq!(a, b, "event {i}: picket (left) and redis (right) differ");
    }
    assert_eq!(got_p.len(), got_r.len());
}

/// Read `n` bytes or panic.
fn read_exact(c: &mut Conn, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    c.stream.read_exact(&mut b).expect("read");
    b
}

fn read_line(c: &mut Conn) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        c.stream.read_exact(&mut b).expect("read");
        line.push(b[0]);
    }
    line.truncate(line.len() - 2);
    String::from_utf8_lossy(&line).into_owned()
}

/// Attach to a Redis as a replica (`PSYNC ? -1`), skip the RDB, and return the link.
fn replica_link(port: u16) -> Conn {
    let mut c = Conn::connect(port);
    c.send(&["PSYNC", "?", "-1"]);
    loop {
        let l = read_line(&mut c);
        if l.starts_with("+FULLRESYNC") {
            break;
        }
    }
    let mut head = read_line(&mut c);
    while head.is_empty() {
        head = read_line(&mut c);
    }
    let len: usize = head.trim_start_matches('$').parse().expect("rdb length");
    read_exact(&mut c, len);
    c
}

/// Commands from a replication stream until `SET marker x`, without SELECT and PING.
fn stream_until_marker(c: &mut Conn) -> Vec<String> {
    let mut cmds = Vec::new();
    loop {
        let head = read_line(c);
        let n: usize = head.trim_start_matches('*').parse().expect("array");
        let mut args = Vec::new();
        for _ in 0..n {
            let len: usize = read_line(c).trim_start_matches('$').parse().expect("bulk");
            let b = read_exact(c, len + 2);
            args.push(String::from_utf8_lossy(&b[..len]).into_owned());
        }
        let line = args.join(" ");
        if line == "SET marker x" {
            return cmds;
        }
        if !args[0].eq_ignore_ascii_case("select") && !args[0].eq_ignore_ascii_case("ping") {
            cmds.push(line);
        }
    }
}

const PROPAGATION_SCRIPT: &str = "ZADD z 1 a 2 b 3 c
    ZADD z 1 a
    ZADD z GT 0 a
    ZINCRBY z 2 a
    ZADD z INCR 0 b
    ZREM z nothing
    ZREM z c
    ZPOPMIN z
    ZPOPMIN z 10
    ZPOPMIN z
    ZADD z 1 a 2 b 3 c 4 d
    ZMPOP 1 z MAX COUNT 2
    ZMPOP 2 nokey z MIN COUNT 10
    ZMPOP 1 z MIN
    ZADD z 1 a 2 b 3 c 4 d 5 e 6 f
    BZPOPMIN z 0
    BZPOPMAX nokey z 0
    BZMPOP 0 1 z MIN
    BZMPOP 0 1 z MIN COUNT 5
    ZADD z 1 a 2 b 3 c 4 d 5 e
    ZREMRANGEBYRANK z 0 0
    ZREMRANGEBYRANK z 10 20
    ZREMRANGEBYSCORE z 2 2
    ZREMRANGEBYLEX z [d [d
    ZRANGESTORE dst z 0 -1
    ZRANGESTORE dst z 5 6
    ZRANGESTORE dst z 5 6
    ZUNIONSTORE dst 1 z
    ZINTERSTORE dst 2 z nokey
    ZDIFFSTORE dst 1 z
    ZRANDMEMBER z
    ZRANGE z 0 -1
    MULTI
    ZADD m 1 a
    ZPOPMIN m
    BZPOPMIN m 0
    EXEC";

#[test]
fn propagation_matches_a_redis_replica_stream() {
    let Some(redis) = start_redis(&["--repl-diskless-sync", "no"]) else {
        return;
    };
    let mut link = replica_link(redis.port);
    let mut rc = redis.conn();
    let mut t = TestServer::new(&[]);
    let id = t.connect();
    for line in PROPAGATION_SCRIPT.lines().map(str::trim) {
        let args: Vec<&str> = line.split(' ').collect();
        rc.cmd(&args);
        t.line(id, line);
    }
    // A blocked BZPOPMIN, BZMPOP served by a ZADD from another client.
    let mut waiter = redis.conn();
    let w = t.connect();
    let (line_block, line_block2) = ("BZPOPMIN q 0", "BZMPOP 0 1 q2 MAX COUNT 3");
    for (i, line) in [line_block, line_block2].into_iter().enumerate() {
        let args: Vec<&str> = line.split(' ').collect();
        waiter.send(&args);
        std::thread::sleep(Duration::from_millis(50));
        let add = if i == 0 {
            "ZADD q 1 a 2 b"
        } else {
            "ZADD q2 3 c 4 d"
        };
        let a: Vec<&str> = add.split(' ').collect();
        rc.cmd(&a);
        let got_r = waiter.read();
        assert_eq!(t.line(w, line), "");
        t.line(id, add);
        let got_p = t.pending_output(w);
        assert!(!got_p.is_empty(), "{line}");
        assert!(matches!(got_r, Reply::Array(_)), "{got_r:?}");
    }
    // Two waiters served by one command, and one served by MULTI/EXEC.
    let mut waiter2 = redis.conn();
    let w2 = t.connect();
    waiter.send(&["BZPOPMIN", "q3", "0"]);
    waiter2.send(&["BZMPOP", "0", "1", "q3", "MAX", "COUNT", "2"]);
    std::thread::sleep(Duration::from_millis(50));
    rc.q("ZADD q3 1 a 2 b 3 c 4 d");
    waiter.read();
    waiter2.read();
    assert_eq!(t.line(w, "BZPOPMIN q3 0"), "");
    assert_eq!(t.line(w2, "BZMPOP 0 1 q3 MAX COUNT 2"), "");
    t.line(id, "ZADD q3 1 a 2 b 3 c 4 d");
    assert!(!t.pending_output(w).is_empty() && !t.pending_output(w2).is_empty());
    waiter.send(&["BZPOPMAX", "q4", "0"]);
    std::thread::sleep(Duration::from_millis(50));
    for line in ["MULTI", "ZADD q4 1 a", "ZADD q4 2 b", "EXEC"] {
        let a: Vec<&str> = line.split(' ').collect();
        rc.cmd(&a);
    }
    waiter.read();
    assert_eq!(t.line(w, "BZPOPMAX q4 0"), "");
    for line in ["MULTI", "ZADD q4 1 a", "ZADD q4 2 b", "EXEC"] {
        t.line(id, line);
    }
    assert!(!t.pending_output(w).is_empty());
    rc.q("SET marker x");
    let want = stream_until_marker(&mut link);
    let got = t.propagated();
    assert_eq!(
        got, want,
        "picket (left) and redis (right) propagate differently"
    );
}

#[test]
fn own_keyspace_events_and_replies_in_redis_order() {
    // A RESP3 client subscribed to the events of its own commands.
    let Some((_d, mut c)) = duo(&[]) else { return };
    c.lines("CONFIG SET notify-keyspace-events KEAn");
    c.both("HELLO 3");
    c.raw_lines(
        "PSUBSCRIBE __keyevent@0__:*
         ZADD z 1 a 2 b 3 c
         ZADD z 5 a
         ZINCRBY z 1 a
         ZREM z a
         ZREMRANGEBYSCORE z 0 2
         ZADD src 1 x 2 y
         ZUNIONSTORE u 1 src
         ZUNIONSTORE u 1 src
         ZINTERSTORE u 2 src nokey
         ZRANGESTORE r src 0 0
         ZREM z c
         ZADD p 1 a 2 b 3 c 4 d 5 e 6 f
         ZPOPMIN p
         ZPOPMAX p 2
         ZMPOP 1 p MIN COUNT 1
         BZPOPMAX p 0
         BZMPOP 0 1 p MIN COUNT 5",
    );
}
