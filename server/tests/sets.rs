//! The set family (SADD ... SSCAN): picket on its own (random commands by their properties,
//! encodings, SSCAN's guarantee on a set that changes), reply-by-reply comparisons with Redis
//! 7.0 (edge cases, errors, RESP3 shapes, keyspace commands on sets, keyspace events and the
//! dirty counter, a seeded random walk that also compares encodings), and the effects
//! propagated to replicas, checked in-process against what Redis 7.0.15 sends its replicas
//! (recorded with `PSYNC ? -1`).
//!
//! Replies whose order is a hash table's are compared sorted; intsets come sorted in both.

mod common;

use std::collections::BTreeSet;

use common::{Conn, Pair, Reply, Server};

fn int(n: i64) -> Reply {
    Reply::Int(n)
}

fn b(s: &str) -> Reply {
    Reply::bulk(s)
}

fn err(s: &str) -> Reply {
    Reply::err(s)
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Split a command line on spaces; `''` is an empty argument, `\xNN` a byte.
fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w == "''" {
                return Vec::new();
            }
            let mut out = Vec::new();
            let bytes = w.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') && i + 4 <= bytes.len() {
                    let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).expect("hex");
                    out.push(u8::from_str_radix(hex, 16).expect("hex byte"));
                    i += 4;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            out
        })
        .collect()
}

/// The items of a collection reply as strings, sorted.
fn sorted(r: &Reply) -> Vec<String> {
    let mut v: Vec<String> = r.items().iter().map(|x| x.text()).collect();
    v.sort();
    v
}

/// A reply with the items of every collection in it sorted (hash-table order is not
/// compared).
fn unordered(r: Reply) -> Reply {
    let sort = |v: Vec<Reply>| {
        let mut v: Vec<Reply> = v.into_iter().map(unordered).collect();
        v.sort_by_key(|x| format!("{x:?}"));
        v
    };
    match r {
        Reply::Array(v) => Reply::Array(sort(v)),
        Reply::Set(v) => Reply::Set(sort(v)),
        other => other,
    }
}

/// `rdb_changes_since_last_save`.
fn dirty(c: &mut Conn) -> i64 {
    let info = c.q("INFO persistence").text();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("rdb_changes_since_last_save")
}

/// One connection to each server of a pair.
struct Diff {
    p: Conn,
    r: Conn,
}

impl Diff {
    fn new(pair: &Pair) -> Diff {
        Diff {
            p: pair.picket.conn(),
            r: pair.redis.conn(),
        }
    }

    fn both(&mut self, args: &[Vec<u8>]) -> (Reply, Reply) {
        (self.p.cmd(args), self.r.cmd(args))
    }

    /// Same reply (collections compared sorted unless `exact`).
    fn check(&mut self, line: &str, exact: bool) -> Reply {
        let (a, b) = self.both(&words(line));
        let (a, b) = if exact {
            (a, b)
        } else {
            (unordered(a), unordered(b))
        };
        assert_eq!(a, b, "{line}: picket (left), redis (right)");
        a
    }

    /// Same kind of reply with as many items (for random draws).
    fn shape(&mut self, line: &str) {
        let (a, b) = self.both(&words(line));
        let shape = |r: &Reply| match r {
            Reply::Array(v) | Reply::Set(v) => format!("collection of {}", v.len()),
            Reply::Bulk(_) => "bulk".to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(shape(&a), shape(&b), "{line}: picket {a:?}, redis {b:?}");
    }

    /// Run a script of commands (lines, or ` ; ` between commands): `=` before a command asks
    /// for the exact order, `~` for the shape only (random draws). RESP3 sets lose their order
    /// in the client: they are compared sorted.
    fn script(&mut self, script: &str) {
        let lines = script.lines().flat_map(|l| l.split(" ; "));
        for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(l) = line.strip_prefix("= ") {
                self.check(l, true);
            } else if let Some(l) = line.strip_prefix("~ ") {
                self.shape(l);
            } else {
                self.check(line, false);
            }
        }
    }
}

// ------------------------------------------------------------------------ picket on its own

#[test]
fn add_remove_and_queries() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("SADD s 3 1 2 2"), int(3));
    assert_eq!(c.q("SADD s 1 4"), int(1));
    // An intset replies sorted.
    assert_eq!(c.q("SMEMBERS s"), Reply::bulks(&["1", "2", "3", "4"]));
    assert_eq!(c.q("SCARD s"), int(4));
    assert_eq!(c.q("SISMEMBER s 3"), int(1));
    assert_eq!(c.q("SISMEMBER s 03"), int(0));
    assert_eq!(
        c.q("SMISMEMBER s 1 9 4"),
        Reply::arr(vec![int(1), int(0), int(1)])
    );
    assert_eq!(c.q("SMISMEMBER nokey 1"), Reply::arr(vec![int(0)]));
    assert_eq!(c.q("SREM s 1 9"), int(1));
    // SREM stops at the member that empties the set, and the key goes.
    assert_eq!(c.q("SREM s 2 3 4 2"), int(3));
    assert_eq!(c.q("EXISTS s"), int(0));
    assert_eq!(c.q("SREM s 2"), int(0));
    assert_eq!(c.q("SCARD s"), int(0));
    assert_eq!(c.q("SMEMBERS s"), Reply::arr(vec![]));
    // SMOVE.
    c.q("SADD a x y");
    assert_eq!(c.q("SMOVE a b x"), int(1));
    assert_eq!(c.q("SMOVE a b nope"), int(0));
    assert_eq!(c.q("SMOVE a a y"), int(1));
    assert_eq!(c.q("SMOVE a a x"), int(0));
    assert_eq!(c.q("SMOVE a b y"), int(1));
    assert_eq!(c.q("EXISTS a"), int(0));
    assert_eq!(sorted(&c.q("SMEMBERS b")), vec!["x", "y"]);
    assert_eq!(c.q("SMOVE nokey b x"), int(0));
    c.q("SET str v");
    // A missing source answers 0 before the destination's type is checked.
    assert_eq!(c.q("SMOVE nokey str x"), int(0));
    assert_eq!(c.q("SMOVE b str x"), err(WRONGTYPE));
    // Binary-safe members.
    assert_eq!(c.cmd(&[&b"SADD"[..], b"bin", b"\x00\xff", b""]), int(2));
    assert_eq!(c.cmd(&[&b"SISMEMBER"[..], b"bin", b""]), int(1));
}

#[test]
fn spop_and_srandmember_by_their_properties() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let fill = |c: &mut Conn, key: &str, n: usize, prefix: &str| {
        let mut args = vec!["SADD".to_string(), key.to_string()];
        args.extend((0..n).map(|i| format!("{prefix}{i}")));
        c.cmd(&args);
    };
    // Every SPOP case: few (draw and remove), most (rebuild), all (the whole set, DEL).
    for (count, left) in [(3, 97), (90, 10), (100, 0), (500, 0)] {
        fill(&mut c, "p", 100, "m");
        let r = c.q(&format!("SPOP p {count}"));
        let got: BTreeSet<String> = sorted(&r).into_iter().collect();
        assert_eq!(got.len(), 100 - left, "SPOP {count}");
        assert_eq!(c.q("SCARD p"), int(left as i64));
        for m in &got {
            assert_eq!(c.q(&format!("SISMEMBER p {m}")), int(0));
        }
        c.q("DEL p");
    }
    // Popping most of an intset replies the popped members in order.
    c.q("SADD i 1 2 3 4 5 6 7 8 9 10");
    let r = c.q("SPOP i 9");
    let v: Vec<i64> = r
        .items()
        .iter()
        .map(|x| x.text().parse().unwrap())
        .collect();
    assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
    assert_eq!(c.q("OBJECT ENCODING i"), b("intset"));
    // A rebuilt set is an intset again when what stays is integers.
    c.q("SADD h 1 2 3 4 5 6 7 8 9 10 x");
    let r = c.q("SPOP h 10");
    let kept = c.q("SMEMBERS h").items()[0].text();
    let enc = if kept == "x" { "hashtable" } else { "intset" };
    assert_eq!(
        c.q("OBJECT ENCODING h"),
        b(enc),
        "kept {kept}, popped {r:?}"
    );
    // SRANDMEMBER: distinct members for a positive count (every case), repetitions allowed
    // for a negative one.
    fill(&mut c, "r", 50, "m");
    for count in [1i64, 5, 20, 40, 49, 50, 80] {
        let r = c.q(&format!("SRANDMEMBER r {count}"));
        let all = sorted(&r);
        let set: BTreeSet<&String> = all.iter().collect();
        assert_eq!(set.len(), all.len(), "distinct for {count}");
        assert_eq!(all.len() as i64, count.min(50));
    }
    let r = c.q("SRANDMEMBER r -500");
    assert_eq!(r.items().len(), 500);
    assert!(sorted(&r).iter().collect::<BTreeSet<_>>().len() > 30);
    assert_eq!(c.q("SCARD r"), int(50));
    // Every member comes up.
    c.q("SADD small a b c");
    let seen: BTreeSet<String> = sorted(&c.q("SRANDMEMBER small -300")).into_iter().collect();
    assert_eq!(seen.len(), 3);
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        seen.insert(c.q("SRANDMEMBER small").text());
    }
    assert_eq!(seen.len(), 3);
}

#[test]
fn encodings_follow_redis_rules() {
    let s = Server::start(&["--set-max-intset-entries", "4"]);
    let mut c = s.conn();
    let enc = |c: &mut Conn, k: &str| c.q(&format!("OBJECT ENCODING {k}")).text();
    c.q("SADD i 1 2 3 4");
    assert_eq!(enc(&mut c, "i"), "intset");
    c.q("SADD i 5");
    assert_eq!(enc(&mut c, "i"), "hashtable");
    c.q("SREM i 5 4 3");
    assert_eq!(enc(&mut c, "i"), "hashtable", "never converts back");
    // The first member decides the new set's encoding; a non-integer converts.
    c.q("SADD a x 1");
    assert_eq!(enc(&mut c, "a"), "hashtable");
    c.q("SADD n 1 -0");
    assert_eq!(enc(&mut c, "n"), "hashtable");
    c.q("SADD m 9223372036854775807 -9223372036854775808");
    assert_eq!(enc(&mut c, "m"), "intset");
    // STORE results start as intsets whatever their sources are.
    c.q("SADD h 1 2 x");
    c.q("SREM h x");
    c.q("SINTERSTORE d h");
    assert_eq!(enc(&mut c, "d"), "intset");
    c.q("SUNIONSTORE d h i");
    assert_eq!(enc(&mut c, "d"), "intset");
    assert_eq!(c.q("SMEMBERS d"), Reply::bulks(&["1", "2"]));
    c.q("SADD big 1 2 3 4 5 6");
    c.q("SDIFFSTORE d big h");
    assert_eq!(enc(&mut c, "d"), "intset");
    // The limit is read at each insertion (CONFIG SET takes effect at once).
    c.q("CONFIG SET set-max-intset-entries 10");
    c.q("SADD j 1 2 3 4 5 6");
    assert_eq!(enc(&mut c, "j"), "intset");
    c.q("CONFIG SET set-max-intset-entries 0");
    c.q("SADD z 1");
    assert_eq!(enc(&mut c, "z"), "hashtable");
    // SMOVE creates the destination for the member.
    c.q("CONFIG SET set-max-intset-entries 512");
    c.q("SADD src 7 y");
    c.q("SMOVE src dst1 7");
    assert_eq!(enc(&mut c, "dst1"), "intset");
    c.q("SMOVE src dst2 y");
    assert_eq!(enc(&mut c, "dst2"), "hashtable");
}

#[test]
fn sscan_returns_what_stays_while_the_set_changes() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let n = 3000;
    let mut args = vec!["SADD".to_string(), "s".to_string()];
    args.extend((0..n).map(|i| format!("m{i}")));
    c.cmd(&args);
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let r = c.q(&format!("SSCAN s {cursor} COUNT 50"));
        let items = r.items();
        cursor = items[0].text();
        for m in items[1].items() {
            let m = m.text();
            assert!(m.starts_with('m') || m.starts_with('n'), "{m}");
            seen.insert(m);
        }
        calls += 1;
        // Grow (rehashing on the way) and shrink during the scan.
        let mut more = vec!["SADD".to_string(), "s".to_string()];
        more.extend((0..40).map(|i| format!("n{calls}_{i}")));
        c.cmd(&more);
        c.cmd(&["SREM", "s", &format!("m{}", calls * 7 % n)]);
        if cursor == "0" {
            break;
        }
    }
    for i in 0..n {
        let m = format!("m{i}");
        let removed = (1..=calls).any(|k| k * 7 % n == i);
        assert!(removed || seen.contains(&m), "{m} missed");
    }
    // MATCH filters after COUNT picked the buckets; an intset comes whole, cursor 0.
    c.q("SADD i 1 2 3 10 11 12");
    let r = c.q("SSCAN i 0 MATCH 1* COUNT 1");
    assert_eq!(
        r,
        Reply::arr(vec![b("0"), Reply::bulks(&["1", "10", "11", "12"])])
    );
    let r = c.q("SSCAN s 0 MATCH nomatch* COUNT 1000");
    assert!(r.items()[1].items().is_empty());
}

// ------------------------------------------------------------------------ against Redis 7.0

const EDGE_CASES: &str = r"
SADD s 5 3 1 4 ; = SMEMBERS s ; = SINTER s ; = SSCAN s 0 ; = SSCAN s 123 COUNT 1 MATCH *
= SRANDMEMBER s 4 ; = SRANDMEMBER s 100 ; = SRANDMEMBER s 0 ; = SPOP s 0 ; ~ SRANDMEMBER s 2
~ SRANDMEMBER s -7 ; SADD s 3 a ; SADD s '' ; SISMEMBER s '' ; SMISMEMBER s a b 3 ''
SMEMBERS s ; SREM s '' a nope ; = OBJECT ENCODING s ; SADD t 1 2 3 x y ; SINTER s t
SINTER t s nokey ; SINTERSTORE d s t ; = OBJECT ENCODING d ; SINTERSTORE d nokey s ; EXISTS d
SINTERSTORE d s t ; SINTERSTORE d s nokey ; EXISTS d ; SUNION s t nokey ; SUNIONSTORE d s t
= OBJECT ENCODING d ; SDIFF s t ; SDIFF t s ; SDIFF nokey s ; SDIFF s s ; SDIFF s nokey t s
SDIFFSTORE d t s ; SDIFFSTORE d s s ; EXISTS d ; SINTERCARD 2 s t ; SINTERCARD 2 s t LIMIT 1
SINTERCARD 2 s t LIMIT 0 ; SINTERCARD 2 s nokey ; SINTERCARD 1 t limit 2 LIMIT 10
SINTERCARD 0 s ; SINTERCARD -1 s ; SINTERCARD x s ; SINTERCARD 3 s t ; SINTERCARD 1 s LIMIT
SINTERCARD 1 s LIMIT -1 ; SINTERCARD 1 s LIMIT x ; SINTERCARD 1 s FOO
SINTERCARD 9223372036854775807 s ; SMOVE s t 1 ; SMOVE s t nope ; SMOVE s s 4 ; SMOVE nokey t 1
SMOVE s newdst 5 ; = OBJECT ENCODING newdst ; SCARD t ; SPOP s 1 2 ; SPOP s -1 ; SPOP s x
SPOP nokey -1 ; SPOP nokey ; SPOP nokey 5 ; SRANDMEMBER s 1 2 ; SRANDMEMBER s x
SRANDMEMBER nokey x ; SRANDMEMBER s -9223372036854775808 ; SRANDMEMBER nokey -5
SRANDMEMBER nokey ; SSCAN s x ; SSCAN nokey x ; SSCAN nokey 0 COUNT 0 ; SSCAN s 0 COUNT 0
SSCAN s 0 COUNT x ; SSCAN s 0 TYPE set ; SSCAN s 0 MATCH ; SSCAN s 0 NOVALUES ; SADD iset 1 2
= SSCAN iset -1 ; = SSCAN iset 18446744073709551615 ; SSCAN s 18446744073709551616 ; SSCAN s ''
SSCAN t 0 MATCH x ; SADD big 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 ; SPOP big 20
EXISTS big ; SADD big 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 ; ~ SPOP big 19
= OBJECT ENCODING big ; ~ SPOP big 3 ; EXISTS big ; SET str v ; RPUSH list a ; SADD str a
SREM str a ; SMEMBERS str ; SISMEMBER str a ; SMISMEMBER str a ; SCARD str ; SPOP str
SPOP str 0 ; SRANDMEMBER str ; SRANDMEMBER str 0 ; SINTER s str ; SINTER nokey str
SUNION s list ; SDIFF nokey list ; SINTERSTORE d s str ; SUNIONSTORE d nokey list
SDIFFSTORE d s str ; SINTERCARD 2 nokey str ; SMOVE str s a ; SMOVE s list 3 ; SSCAN str 0
SSCAN list x ; SINTERSTORE str s ; TYPE str ; SADD ; SADD s ; SREM s ; SMOVE s t ; SISMEMBER s
SMISMEMBER s ; SCARD ; SCARD s t ; SPOP ; SRANDMEMBER ; SMEMBERS ; SMEMBERS s t ; SINTER
SINTERCARD 1 ; SINTERSTORE d ; SUNION ; SDIFFSTORE d ; SSCAN s
SADD tt 1 2 3 4 5 6 7 8 9 10 x ; EXPIRE tt 100 ; ~ SPOP tt 10 ; TTL tt ; ~ SPOP tt 1 ; TTL tt
";

#[test]
fn differential_edge_cases() {
    let Some(pair) = Pair::start(&["--set-max-intset-entries", "16"]) else {
        return;
    };
    Diff::new(&pair).script(EDGE_CASES);
}

#[test]
fn differential_wrongtype_against_hashes_and_zsets() {
    let Some(pair) = Pair::start(&[]) else { return };
    Diff::new(&pair).script(
        r"
        HSET h f v ; ZADD z 1 m ; SADD s 1 ; SADD h a ; SREM z a ; SMEMBERS h ; SCARD z
        SISMEMBER h f ; SPOP z ; SRANDMEMBER h 2 ; SINTER s h ; SUNION z s ; SDIFF s z
        SINTERCARD 2 s h ; SMOVE s h 1 ; SMOVE z s 1 ; SSCAN h 0 ; SUNIONSTORE h s ; TYPE h
        ",
    );
}

#[test]
fn differential_resp3_shapes() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut d = Diff::new(&pair);
    d.both(&words("HELLO 3"));
    d.script(
        r"
        SADD s 1 2 3 ; SMEMBERS s ; SMEMBERS nokey ; SINTER s nokey ; SUNION s nokey
        SDIFF s nokey ; = SINTERCARD 1 s ; = SMISMEMBER s 1 9 ; = SSCAN s 0 ; = SSCAN nokey 0
        SPOP s 0 ; SPOP nokey 2 ; = SPOP nokey ; = SRANDMEMBER nokey ; = SRANDMEMBER nokey 3
        = SRANDMEMBER s 0 ; = SRANDMEMBER s 5 ; ~ SRANDMEMBER s 1 ; SPOP s 10 ; SADD h a b
        SMEMBERS h ; SPOP h 5
        ",
    );
}

/// The bytes a server sends for `cmds` in RESP3 (the client decodes sets into hash sets, so
/// the order of `~` replies is checked here).
fn resp3_bytes(port: u16, cmds: &[&str]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut exchange = |cmds: &[&str]| {
        let mut req = Vec::new();
        for c in cmds.iter().chain(["PING"].iter()) {
            let w = words(c);
            req.extend_from_slice(&picket_common::resp::encode_command(&w));
        }
        s.write_all(&req).expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"+PONG\r\n") {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "closed");
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    exchange(&["HELLO 3"]);
    exchange(cmds)
}

#[test]
fn differential_resp3_set_order() {
    let Some(pair) = Pair::start(&[]) else { return };
    let cmds = [
        "SADD s 3 1 2 -5",
        "SMEMBERS s",
        "SINTER s",
        "SUNION s nokey",
        "SDIFF s nokey",
        "SPOP s 0",
        "SPOP nokey 1",
        "SPOP s 4",
    ];
    let a = resp3_bytes(pair.picket.port, &cmds);
    assert_eq!(
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&resp3_bytes(pair.redis.port, &cmds))
    );
    assert!(a.starts_with(b":4\r\n~4\r\n$2\r\n-5\r\n$1\r\n1\r\n"));
}

#[test]
fn differential_keyspace_commands_on_sets() {
    let Some(pair) = Pair::start(&["--enable-debug-command", "yes"]) else {
        return;
    };
    Diff::new(&pair).script(
        r"
        SADD s 1 2 3 ; SADD h a b c ; = TYPE s ; = TYPE h ; = OBJECT ENCODING s
        = OBJECT ENCODING h ; = RENAME s s2 ; = SMEMBERS s2 ; = COPY s2 s3
        = OBJECT ENCODING s3 ; = COPY h h2 DB 1 ; = MOVE h 2 ; = SADD s3 4 ; = SMEMBERS s2
        = SMEMBERS s3 ; = EXPIRE s2 100 ; = TTL s2 ; = SADD s2 9 ; = TTL s2
        = SINTERSTORE s2 s3 ; = TTL s2 ; SCAN 0 TYPE set COUNT 100 ; SCAN 0 TYPE SET
        SCAN 0 TYPE string ; = PEXPIRE s3 1 ; = DEBUG SLEEP 0.01 ; = SCARD s3 ; = EXISTS s3
        = DEL s2 h2 nokey ; = DBSIZE
        ",
    );
}

#[test]
fn differential_keyspace_events_and_dirty_counter() {
    let Some(pair) = Pair::start(&["--notify-keyspace-events", "KEAnm"]) else {
        return;
    };
    let mut d = Diff::new(&pair);
    let mut subs = [pair.picket.conn(), pair.redis.conn()];
    for s in &mut subs {
        s.q("PSUBSCRIBE __key*__:*");
    }
    let script = [
        "SADD s 1 2 3",
        "SADD s 1",
        "SREM s 9",
        "SREM s 1 2",
        "SREM s 3 4",
        "SADD a x y",
        "SMOVE a b x",
        "SMOVE a b x",
        "SMOVE a b y",
        "SADD b z",
        "SADD c z",
        "SMOVE b c z",
        "SMOVE c c z",
        "SPOP c",
        "SADD p 1 2 3 4 5",
        "SPOP p 2",
        "SPOP p 0",
        "SPOP p 10",
        "SPOP nokey",
        "SADD u 1 2",
        "SADD v 2 3",
        "SINTERSTORE d u v",
        "SINTERSTORE d u v",
        "SINTERSTORE d u nokey",
        "SINTERSTORE d u nokey",
        "SUNIONSTORE d u v",
        "SDIFFSTORE d u v",
        "SDIFFSTORE d u u",
        "SDIFFSTORE d u u",
        "SINTERCARD 2 u v",
        "SMEMBERS u",
        "SRANDMEMBER u",
        "SET d x",
        "SUNIONSTORE d u",
    ];
    let (mut dp, mut dr) = (dirty(&mut d.p), dirty(&mut d.r));
    for line in script {
        if line.starts_with("SPOP") || line.starts_with("SRANDMEMBER") {
            d.shape(line);
        } else {
            d.check(line, false);
        }
        let (np, nr) = (dirty(&mut d.p), dirty(&mut d.r));
        assert_eq!(np - dp, nr - dr, "dirty counter after {line}");
        (dp, dr) = (np, nr);
    }
    let mut events: Vec<Vec<Reply>> = Vec::new();
    for s in &mut subs {
        s.send(&["PING"]);
        let mut got = Vec::new();
        loop {
            let r = s.read();
            if r.items()[0] == b("pong") {
                break;
            }
            got.push(r);
        }
        events.push(got);
    }
    assert_eq!(events[0], events[1], "events: picket (left), redis (right)");
    assert!(events[1].len() > 40);
}

/// A huge SRANDMEMBER with repetitions stops at the output buffer limit: the client is closed.
#[test]
fn differential_huge_srandmember_hits_the_output_limit() {
    let Some(pair) = Pair::start(&[]) else { return };
    for s in [&pair.picket, &pair.redis] {
        let mut c = s.conn();
        c.q("SADD s a b c");
        c.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0",
        ]);
        c.send(&["SRANDMEMBER", "s", "-100000000"]);
        assert!(c.is_closed(), "port {}", s.port);
        assert_eq!(s.conn().q("SCARD s"), int(3));
    }
}

// ------------------------------------------------------------------------ random walk

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
    fn key(&mut self) -> String {
        if self.below(20) == 0 {
            return self.pick(&["str", "nokey"]).to_string();
        }
        format!("s{}", self.below(5))
    }
    fn member(&mut self) -> String {
        match self.below(10) {
            0..=5 => (self.below(24) as i64 - 4).to_string(),
            6 => self
                .pick(&[
                    "9223372036854775807",
                    "-9223372036854775808",
                    "-0",
                    "07",
                    "''",
                ])
                .to_string(),
            _ => self.pick(&["a", "b", "c", "dd", "e\\x00f"]).to_string(),
        }
    }
    fn members(&mut self, max: usize) -> String {
        let n = 1 + self.below(max);
        (0..n).map(|_| self.member()).collect::<Vec<_>>().join(" ")
    }
    fn keys(&mut self) -> String {
        let n = 1 + self.below(3);
        (0..n).map(|_| self.key()).collect::<Vec<_>>().join(" ")
    }
    fn command(&mut self) -> String {
        let count = || ["-3", "0", "1", "2", "3", "5", "8", "20", "x"];
        match self.below(22) {
            0..=3 => format!("SADD {} {}", self.key(), self.members(12)),
            4 | 5 => format!("SREM {} {}", self.key(), self.members(6)),
            6 => format!("SMOVE {} {} {}", self.key(), self.key(), self.member()),
            7 => format!("SISMEMBER {} {}", self.key(), self.member()),
            8 => format!("SMISMEMBER {} {}", self.key(), self.members(3)),
            9 => format!("SCARD {}", self.key()),
            10 => format!("SMEMBERS {}", self.key()),
            11 => format!("SINTER {}", self.keys()),
            12 => format!("SUNION {}", self.keys()),
            13 => format!("SDIFF {}", self.keys()),
            14 => {
                let limit = ["", " LIMIT 0", " LIMIT 1", " LIMIT 3"];
                let l = self.pick(&limit);
                format!("SINTERCARD 2 {} {}{l}", self.key(), self.key())
            }
            15 => format!("SINTERSTORE {} {}", self.key(), self.keys()),
            16 => format!("SUNIONSTORE {} {}", self.key(), self.keys()),
            17 => format!("SDIFFSTORE {} {}", self.key(), self.keys()),
            18 => format!("SPOP {} {}", self.key(), self.pick(&count())),
            19 => format!("SRANDMEMBER {} {}", self.key(), self.pick(&count())),
            20 => format!("OBJECT ENCODING {}", self.key()),
            _ => format!("SSCAN {} 0 COUNT 1000", self.key()),
        }
    }
}

/// SPOP and SRANDMEMBER draw different members in each server. Picket's draw is checked by its
/// properties against Redis's copy of the set, and SPOP is replayed on Redis as the SREM of
/// what picket popped, so the two keyspaces stay equal.
fn random_step(d: &mut Diff, line: &str) -> Result<(), String> {
    let args = words(line);
    let cmd = line.split(' ').next().unwrap_or_default();
    if cmd != "SPOP" && cmd != "SRANDMEMBER" {
        let (a, b) = d.both(&args);
        let (a, b) = (unordered(a), unordered(b));
        return if a == b {
            Ok(())
        } else {
            Err(format!("picket {a:?}\n  redis  {b:?}"))
        };
    }
    let key = &args[1];
    let card = d.r.cmd(&[&b"SCARD"[..], key]);
    let a = d.p.cmd(&args);
    let count: Option<i64> = args
        .get(2)
        .map(|c| String::from_utf8_lossy(c).parse().unwrap_or(i64::MIN));
    let ok = match (&card, &a, count) {
        (Reply::Error(_), _, _) | (_, Reply::Error(_), _) | (_, _, Some(i64::MIN)) => {
            let b = d.r.cmd(&args);
            return if unordered(a.clone()) == unordered(b.clone()) {
                Ok(())
            } else {
                Err(format!("picket {a:?}\n  redis  {b:?}"))
            };
        }
        (Reply::Int(0), r, None) => *r == Reply::Nil,
        (Reply::Int(n), Reply::Bulk(m), None) => {
            *n > 0 && d.r.cmd(&[&b"SISMEMBER"[..], key, m]) == int(1)
        }
        (Reply::Int(n), Reply::Array(v), Some(c)) => {
            let want = if c < 0 {
                c.unsigned_abs() as i64
            } else {
                c.min(*n)
            };
            let distinct: BTreeSet<String> = v.iter().map(Reply::text).collect();
            (v.len() as i64 == want || *n == 0 && v.is_empty())
                && (c < 0 || distinct.len() == v.len())
                && v.iter().all(|m| {
                    d.r.cmd(&[b"SISMEMBER".to_vec(), key.clone(), m.text().into_bytes()]) == int(1)
                })
        }
        _ => false,
    };
    if !ok {
        return Err(format!("picket {a:?} (redis card {card:?})"));
    }
    if cmd == "SPOP" {
        let popped: Vec<Vec<u8>> = match &a {
            Reply::Bulk(m) => vec![m.clone()],
            Reply::Array(v) => v.iter().map(|m| m.text().into_bytes()).collect(),
            _ => vec![],
        };
        let (size, n) = match card {
            Reply::Int(size) => (size as u64, popped.len() as u64),
            _ => (0, 0),
        };
        if count.is_some() && n < size && (size - n) * 5 <= n {
            // Redis rebuilt the set from what stays, which decides its encoding again:
            // rebuild Redis's copy the same way.
            let mut sadd = vec![b"SADD".to_vec(), key.clone()];
            sadd.extend(
                d.p.cmd(&[&b"SMEMBERS"[..], key])
                    .items()
                    .iter()
                    .map(|m| m.text().into_bytes()),
            );
            d.r.cmd(&[&b"DEL"[..], key]);
            d.r.cmd(&sadd);
        } else if !popped.is_empty() {
            let mut srem = vec![b"SREM".to_vec(), key.clone()];
            srem.extend(popped);
            d.r.cmd(&srem);
        }
    }
    Ok(())
}

fn random_walk(pair: &Pair, seed: u64, steps: usize) {
    eprintln!("sets random walk: seed {seed}, {steps} steps; replay with PICKET_SETS_SEED={seed}");
    let mut rng = Rng(picket_common::ids::seeded(seed));
    let mut d = Diff::new(pair);
    d.both(&words("FLUSHALL"));
    d.both(&words("SET str v"));
    let mut history = Vec::new();
    for step in 0..steps {
        let line = rng.command();
        history.push(line.clone());
        if let Err(e) = random_step(&mut d, &line) {
            let from = history.len().saturating_sub(15);
            panic!(
                "seed {seed}, step {step}: {line}\n  {e}\nlast commands:\n  {}",
                history[from..].join("\n  ")
            );
        }
    }
    for k in 0..5 {
        d.check(&format!("SMEMBERS s{k}"), false);
        d.check(&format!("OBJECT ENCODING s{k}"), true);
    }
}

#[test]
fn differential_random_walk() {
    let Some(pair) = Pair::start(&["--set-max-intset-entries", "10"]) else {
        return;
    };
    let seeds: Vec<u64> = match std::env::var("PICKET_SETS_SEED") {
        Ok(s) => vec![s.parse().expect("PICKET_SETS_SEED is a number")],
        Err(_) => vec![0x5e75_0001, 0x5e75_0002],
    };
    for seed in seeds {
        random_walk(&pair, seed, 3000);
    }
}

// ------------------------------------------------------------------ propagated effects

/// What picket propagates, against the stream Redis 7.0.15 sent a replica for the same
/// commands (SPOP becomes one SREM per member, in MULTI/EXEC when several, or DEL when it takes
/// the whole set; nothing for a command that changed nothing).
#[test]
fn propagation_as_redis() {
    use picket_server::testkit::TestServer;
    let mut t = TestServer::new(&[]);
    let id = t.connect();
    let mut run = |line: &str| (t.line(id, line), t.propagated());
    assert_eq!(run("SADD s 1 2 3").1, vec!["SADD s 1 2 3"]);
    assert!(run("SADD s 1").1.is_empty());
    assert!(run("SREM s 9").1.is_empty());
    let (reply, cmds) = run("SPOP s");
    let m = reply.lines().nth(1).expect("member").to_string();
    assert_eq!(cmds, vec![format!("SREM s {m}")]);
    let (reply, cmds) = run("SPOP s 1");
    let m = reply.lines().nth(2).expect("member").to_string();
    assert_eq!(cmds, vec![format!("SREM s {m}")]);
    assert_eq!(run("SPOP s 5").1, vec!["DEL s"]);
    assert!(run("SPOP s 5").1.is_empty());
    assert!(run("SPOP s").1.is_empty());
    // Few popped (draw one by one) and most popped (rebuild): one SREM each, atomically.
    for (count, size) in [(3, 10), (9, 10)] {
        let add: Vec<String> = (0..size).map(|i| format!("m{i}")).collect();
        run(&format!("SADD p {}", add.join(" ")));
        let (reply, cmds) = run(&format!("SPOP p {count}"));
        let popped: Vec<&str> = reply.lines().skip(2).step_by(2).collect();
        assert_eq!(popped.len(), count);
        let mut want = vec!["MULTI".to_string()];
        want.extend(popped.iter().map(|m| format!("SREM p {m}")));
        want.push("EXEC".into());
        assert_eq!(cmds, want);
        run("DEL p");
    }
    assert!(run("SPOP p 0").1.is_empty());
    run("SADD a x");
    assert_eq!(run("SMOVE a b x").1, vec!["SMOVE a b x"]);
    assert!(run("SMOVE a b x").1.is_empty());
    assert!(run("SINTERSTORE d nokey b").1.is_empty());
    assert_eq!(run("SUNIONSTORE d b").1, vec!["SUNIONSTORE d b"]);
    assert_eq!(
        run("SINTERSTORE d nokey b").1,
        vec!["SINTERSTORE d nokey b"]
    );
    assert!(run("SDIFFSTORE d b b").1.is_empty());
    assert!(run("SRANDMEMBER b 5").1.is_empty());
}
