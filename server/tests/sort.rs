//! SORT and SORT_RO, compared reply by reply with Redis 7.0 (lists, sets and sorted sets;
//! numeric and ALPHA orders; BY, GET and hash-field patterns; LIMIT; STORE; the score parsing
//! of C's strtod; the order BY + LIMIT leaves equal weights in, which is Redis's partial
//! quicksort), keyspace events and the dirty counter of SORT ... STORE, a seeded random walk,
//! and the propagated effects, checked in-process.

mod common;

use common::{Conn, Pair, Reply, Server};

/// Split a command line on spaces; `''` is an empty argument, `\xNN` a byte.
fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w == "''" {
                return Vec::new();
            }
            let (mut out, bytes, mut i) = (Vec::new(), w.as_bytes(), 0);
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

/// A reply with the items of every collection in it sorted.
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

fn dirty(c: &mut Conn) -> i64 {
    let info = c.q("INFO persistence").text();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("rdb_changes_since_last_save")
}

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

    /// Lines compared exactly (SORT's order is the point), but `~` before a line compares
    /// its items sorted (a set's hash order).
    fn script(&mut self, script: &str) {
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (line, exact) = match line.strip_prefix("~ ") {
                Some(l) => (l, false),
                None => (line, true),
            };
            let (a, b) = self.both(&words(line));
            let (a, b) = if exact {
                (a, b)
            } else {
                (unordered(a), unordered(b))
            };
            assert_eq!(a, b, "{line}: picket (left), redis (right)");
        }
    }
}

// ------------------------------------------------------------------------ picket on its own

#[test]
fn sort_basics() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.q("RPUSH l 3 1 2 10");
    assert_eq!(c.q("SORT l"), Reply::bulks(&["1", "2", "3", "10"]));
    assert_eq!(c.q("SORT l DESC LIMIT 1 2"), Reply::bulks(&["3", "2"]));
    assert_eq!(c.q("SORT l ALPHA"), Reply::bulks(&["1", "10", "2", "3"]));
    assert_eq!(
        c.q("SORT l BY nosort"),
        Reply::bulks(&["3", "1", "2", "10"])
    );
    assert_eq!(c.q("SORT l STORE dst"), Reply::Int(4));
    assert_eq!(c.q("TYPE dst"), Reply::simple("list"));
    assert_eq!(
        c.q("SORT dst BY nosort"),
        Reply::bulks(&["1", "2", "3", "10"])
    );
    assert_eq!(
        c.q("SORT_RO l STORE dst"),
        Reply::err("ERR syntax error"),
        "SORT_RO has no STORE"
    );
    c.q("SADD s b a c");
    assert_eq!(c.q("SORT s ALPHA"), Reply::bulks(&["a", "b", "c"]));
    assert_eq!(
        c.q("SORT s"),
        Reply::err("ERR One or more scores can't be converted into double")
    );
    c.q("SET str v");
    assert_eq!(
        c.q("SORT str"),
        Reply::err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(c.q("SORT nokey"), Reply::arr(vec![]));
}

// ------------------------------------------------------------------------ against Redis 7.0

const LISTS_AND_SETS: &str = r"
RPUSH l 3 1 2 10 -1 1.5 1e1 0x10 ' 7'
SORT l
SORT l DESC
SORT l ASC DESC ASC
SORT l LIMIT 0 3
SORT l LIMIT 2 3
SORT l LIMIT -5 2
SORT l LIMIT 3 -1
SORT l LIMIT 3 0
SORT l LIMIT 100 2
SORT l LIMIT 2 9223372036854775807
SORT l LIMIT 9223372036854775807 9223372036854775807
SORT l LIMIT -9223372036854775808 -9223372036854775808
SORT l ALPHA
SORT l ALPHA DESC LIMIT 1 4
SORT l BY nosort
SORT l BY nosort DESC
SORT l BY nosort LIMIT 2 3
SORT l BY nosort DESC LIMIT 2 3
SORT l BY nosort LIMIT 20 2
SORT l BY nosort DESC LIMIT 8 5
SORT l BY nosort ALPHA DESC
SORT_RO l BY nosort GET #
SORT l GET # GET # LIMIT 0 2
SORT l GET nostar
SORT l GET *
SORT l BY nosort GET # ALPHA STORE dst
SORT dst BY nosort
SORT l BY nosort LIMIT 0 0 STORE dst
EXISTS dst
RPUSH words b A a B _ aa '' \xff \xc3\xa9 a\x00b a\x00a
SORT words ALPHA
SORT words ALPHA DESC
SORT words ALPHA STORE w2
SORT w2 BY nosort
SORT words
RPUSH dups 2 1 2 1 2 b a b
SORT dups ALPHA
SORT dups LIMIT 0 4 ALPHA
SADD iset 5 -3 100 7 0
SORT iset
SORT iset BY nosort
SORT iset BY nosort DESC LIMIT 1 2
SORT iset ALPHA DESC
SORT iset BY nosort STORE d2
SORT d2 BY nosort
SADD hset b a c 10 2 1.5 ''
SORT hset ALPHA
SORT hset ALPHA DESC LIMIT 2 3
SORT hset BY nosort STORE d3
SORT d3 BY nosort
~ SORT hset BY nosort
SORT hset
SADD nums 10 2 1.5 -7 1e2
SORT nums
SORT nums DESC LIMIT 1 3
";

const PATTERNS: &str = r"
RPUSH l a b c d e
MSET w_a 3 w_b 1 w_c 2 w_d 1 w_e x
SORT l BY w_*
DEL w_e
SORT l BY w_*
SORT l BY w_* DESC
SORT l BY w_* ALPHA
SORT l BY w_* LIMIT 1 2
SORT l BY w_* GET # GET w_* GET nope_*
SORT l BY w_* STORE st GET w_*
SORT st BY nosort
SORT l BY nope_* GET #
SORT l BY *
SORT l BY w_*x
SET w_cx 5
SORT l BY w_*x GET w_*x
HSET h_a f 5 g A
HSET h_b f 1 g B
HSET h_c g C
SET h_d 9
SORT l BY h_*->f GET h_*->g GET # GET h_*-> GET h_*->nope
SORT l BY h_*->f DESC LIMIT 0 3
SORT l BY h_*->g ALPHA
SORT l BY h_*-> GET h_*
SORT l BY h_->f*
SORT l BY w_* GET h_*->g STORE st
SORT st BY nosort
RPUSH lst x
SORT l BY lst GET lst
SORT l BY l GET l
RPUSH k_a list
SORT l BY k_* GET k_*
SET pre_a_post 1
SET pre_b_post 0
SORT l BY pre_*_post GET pre_*_post
SORT l GET #x GET \x23 GET #\x00x
SET a\x00z 1
SORT l GET *\x00z
SADD s a b c d e
SORT s BY w_*
SORT s BY w_* GET #
SORT s BY w_* ALPHA LIMIT 0 1
";

const ERRORS: &str = r"
RPUSH l 1 2
SET str v
HSET h f v
SORT
SORT_RO
SORT l FOO
SORT l LIMIT
SORT l LIMIT 1
SORT l LIMIT x 1
SORT l LIMIT 1 x
SORT l LIMIT 1.5 2
SORT l BY
SORT l GET
SORT l STORE
SORT_RO l STORE d
SORT_RO l store
SORT l GET # STORE
SORT str
SORT str BY nosort
SORT h
SORT str FOO
SORT str LIMIT x 1
SORT nokey
SORT nokey BY nosort DESC LIMIT 1 1
SORT nokey STORE d
EXISTS d
SORT l STORE str
TYPE str
SORT l BY nosort STORE h
TYPE h
";

#[test]
fn differential_lists_and_sets() {
    let Some(pair) = Pair::start(&[]) else { return };
    Diff::new(&pair).script(LISTS_AND_SETS);
}

#[test]
fn differential_patterns() {
    let Some(pair) = Pair::start(&[]) else { return };
    Diff::new(&pair).script(PATTERNS);
}

#[test]
fn differential_errors() {
    let Some(pair) = Pair::start(&[]) else { return };
    Diff::new(&pair).script(ERRORS);
}

#[test]
fn differential_sorted_sets() {
    let Some(pair) = Pair::start(&[]) else { return };
    Diff::new(&pair).script(
        r"
        ZADD z 1 b 2 a 3 10 3 c
        OBJECT ENCODING z
        SORT z
        SORT z ALPHA
        SORT z ALPHA DESC LIMIT 1 2
        SORT z BY nosort
        SORT z BY nosort DESC
        SORT z BY nosort LIMIT 1 2
        SORT z BY nosort DESC LIMIT 1 2
        SORT z BY nosort LIMIT 3 10
        SORT z BY nosort DESC LIMIT 10 1
        SORT z BY nosort STORE d
        SORT d BY nosort
        OBJECT ENCODING z
        ZADD z2 5 x
        SORT_RO z2 BY nosort GET #
        OBJECT ENCODING z2
        ZADD zn 1 10 2 9 3 -1
        SORT zn
        SORT zn DESC
        SET w_10 1
        SORT zn BY w_* LIMIT 0 2
        ",
    );
}

/// Equal weights with BY and a narrowing LIMIT: Redis's partial quicksort leaves them in an
/// order of its own, which picket reproduces.
#[test]
fn differential_ties_with_by_and_limit() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut d = Diff::new(&pair);
    let mut push = vec!["RPUSH".to_string(), "l".to_string()];
    push.extend((0..120).map(|i| format!("e{i}")));
    d.both(
        &push
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect::<Vec<_>>(),
    );
    for i in 0..120 {
        if i % 3 != 0 {
            d.both(&words(&format!(
                "SET w_e{i} {}",
                ["x", "y", "z"][i % 4 % 3]
            )));
        }
    }
    d.script(
        r"
        SORT l BY w_* ALPHA
        SORT l BY w_* ALPHA LIMIT 0 10
        SORT l BY w_* ALPHA LIMIT 30 25
        SORT l BY w_* ALPHA DESC LIMIT 50 40
        SORT l BY w_* ALPHA LIMIT 100 100
        SORT l BY w_* ALPHA DESC STORE st LIMIT 7 70
        SORT st BY nosort
        SORT l BY w_* LIMIT 5 5
        SORT l BY w_* ALPHA LIMIT 1 6 GET w_*
        ",
    );
}

/// Scores are parsed as C's strtod. A range error (overflow, inexact underflow) leaves
/// `errno` set in Redis, which then refuses every string score until something clears it
/// (INCRBYFLOAT does): each such case is followed by a reset.
#[test]
fn differential_scores_like_strtod() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut d = Diff::new(&pair);
    d.script("RPUSH l a\nRPUSH e x");
    for w in [
        "1.5",
        "\\x20\\x201.5",
        "\\x0b5",
        "1.5\\x20",
        "0x1p3",
        "0x1.8",
        "0x",
        "1e",
        "+.5e1",
        "5.",
        ".",
        "-0",
        "00012",
        "inf",
        "-Infinity",
        "infinityx",
        "nan",
        "nan(1)",
        "1_0",
        "\\x20",
        "''",
        "1\\x00x",
        "2.2250738585072014e-308",
        "0x1p-1074",
        "1e400",
        "1e-400",
        "1e-310",
        "4.9e-324",
        "0x1.8p-1074",
        "-1e309",
    ] {
        d.script(&format!(
            "SET w_a {w}\nSORT l BY w_*\nSET w_x {w}\nSORT e BY w_*"
        ));
        d.both(&words("INCRBYFLOAT errno_reset 0"));
        d.script(&format!("DEL w_a\nRPUSH m {w}\nSORT m\nDEL m"));
        d.both(&words("INCRBYFLOAT errno_reset 0"));
    }
}

#[test]
fn differential_events_and_dirty_counter() {
    let Some(pair) = Pair::start(&["--notify-keyspace-events", "KEAnm"]) else {
        return;
    };
    let mut d = Diff::new(&pair);
    let mut subs = [pair.picket.conn(), pair.redis.conn()];
    for s in &mut subs {
        s.q("PSUBSCRIBE __key*__:*");
    }
    let script = [
        "RPUSH l 2 1 3",
        "SORT l",
        "SORT l STORE d",
        "SORT l STORE d LIMIT 0 1",
        "SORT l STORE d LIMIT 5 1",
        "SORT l STORE d LIMIT 5 1",
        "SORT nokey STORE d",
        "SORT l BY w_* GET h_*->f",
        "SORT nokey",
        "SORT l BY nosort GET # GET w_*",
        "SET d x",
        "EXPIRE d 100",
        "SORT l STORE d GET #",
        "TTL d",
        "SORT_RO l BY w_*",
    ];
    let (mut dp, mut dr) = (dirty(&mut d.p), dirty(&mut d.r));
    for line in script {
        d.script(line);
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
            if r.items()[0] == Reply::bulk("pong") {
                break;
            }
            got.push(r);
        }
        events.push(got);
    }
    assert_eq!(events[0], events[1], "events: picket (left), redis (right)");
    assert!(events[1].len() > 15);
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
    fn value(&mut self) -> String {
        match self.below(3) {
            0 => (self.below(12) as i64 - 3).to_string(),
            1 => self
                .pick(&["a", "b", "B", "ab", "1.5", "-0", "07", "''", "x\\x00y", "x"])
                .into(),
            _ => format!("e{}", self.below(15)),
        }
    }
    /// A value without NUL, for sets and sorted sets: C string comparison ties "x\0y" with
    /// "x", which then keep their input order, a hash order there.
    fn value_without_nul(&mut self) -> String {
        let v = self.value();
        if v.contains("x00") {
            "y".into()
        } else {
            v
        }
    }
    fn option(&mut self) -> String {
        match self.below(11) {
            0 => "DESC".into(),
            1 => "ALPHA".into(),
            2 => "ASC".into(),
            3 | 4 => {
                let n = ["-2", "0", "1", "3", "7", "100"];
                format!("LIMIT {} {}", self.pick(&n), self.pick(&n))
            }
            5 | 6 => format!("BY {}", self.pick(&["w_*", "h_*->f", "nosort", "w_*", "#"])),
            7 | 8 => format!("GET {}", self.pick(&["#", "w_*", "h_*->f", "h_*->g"])),
            9 => format!("STORE {}", self.pick(&["dst", "l0"])),
            _ => "ALPHA".into(),
        }
    }
    fn command(&mut self) -> String {
        match self.below(12) {
            0 | 1 => {
                let n = 1 + self.below(6);
                let vals: Vec<String> = (0..n).map(|_| self.value()).collect();
                format!("RPUSH l{} {}", self.below(3), vals.join(" "))
            }
            2 => format!("SET w_{} {}", self.value(), self.value()),
            3 => format!(
                "HSET h_{} {} {}",
                self.value(),
                self.pick(&["f", "g"]),
                self.value()
            ),
            4 => format!("DEL l{}", self.below(3)),
            5 => {
                let n = 1 + self.below(4);
                let vals: Vec<String> = (0..n)
                    .map(|_| format!("{} {}", self.below(5), self.value_without_nul()))
                    .collect();
                format!("ZADD z {}", vals.join(" "))
            }
            6 if self.below(2) == 0 => format!("SADD iset {}", self.below(50) as i64 - 10),
            6 => format!("SADD hset {}", self.value_without_nul()),
            _ => {
                let n = self.below(4);
                let mut opts: Vec<String> = (0..n).map(|_| self.option()).collect();
                let cmd = if self.below(4) == 0 {
                    "SORT_RO"
                } else {
                    "SORT"
                };
                let key = match self.below(10) {
                    0 => "iset".to_string(),
                    1 => "hset".to_string(),
                    2 => "z".to_string(),
                    _ => format!("l{}", self.below(3)),
                };
                // Sets and sorted sets are loaded in hash order: equal ALPHA weights would
                // keep two different orders.
                let by_weight = opts.iter().any(|o| o.starts_with("BY ") && o.contains('*'));
                if !key.starts_with('l') && by_weight {
                    opts.retain(|o| o != "ALPHA");
                }
                // A hash-table set left unsorted (BY without '*', no STORE) comes in hash
                // order: no such command for it.
                let dontsort = opts
                    .iter()
                    .any(|o| o.starts_with("BY ") && !o.contains('*'));
                let store = opts.iter().any(|o| o.starts_with("STORE"));
                if key == "hset" && dontsort && !store {
                    opts.retain(|o| !o.starts_with("BY "));
                }
                format!("{cmd} {key} {}", opts.join(" "))
            }
        }
    }
}

#[test]
fn differential_random_walk() {
    let Some(pair) = Pair::start(&[]) else { return };
    let seeds: Vec<u64> = match std::env::var("PICKET_SORT_SEED") {
        Ok(s) => vec![s.parse().expect("PICKET_SORT_SEED is a number")],
        Err(_) => vec![0x5047_0001, 0x5047_0002],
    };
    let mut d = Diff::new(&pair);
    for seed in seeds {
        eprintln!("sort random walk: seed {seed}; replay with PICKET_SORT_SEED={seed}");
        d.both(&words("FLUSHALL"));
        d.both(&words("SADD iset 3 1 2 -8 40"));
        let mut rng = Rng(picket_common::ids::seeded(seed));
        let mut history = Vec::new();
        for step in 0..2500 {
            let line = rng.command();
            history.push(line.clone());
            let (a, b) = d.both(&words(&line));
            if a != b {
                let from = history.len().saturating_sub(12);
                panic!(
                    "seed {seed}, step {step}: {line}\n  picket {a:?}\n  redis  {b:?}\nlast commands:\n  {}",
                    history[from..].join("\n  ")
                );
            }
            // Keep the score-parsing errno of Redis clear (see the strtod test).
            d.both(&words("INCRBYFLOAT errno_reset 0"));
        }
    }
}

// ------------------------------------------------------------------ propagated effects

/// SORT ... STORE propagates as itself when it changed the keyspace, like Redis 7.0.15's
/// replication stream.
#[test]
fn propagation_as_redis() {
    use picket_server::testkit::TestServer;
    let mut t = TestServer::new(&[]);
    let id = t.connect();
    let mut run = |line: &str| (t.line(id, line), t.propagated());
    run("RPUSH l 3 1 2");
    assert!(run("SORT l").1.is_empty());
    assert_eq!(run("SORT l STORE d").1, vec!["SORT l STORE d"]);
    assert_eq!(
        run("SORT l LIMIT 9 9 STORE d").1,
        vec!["SORT l LIMIT 9 9 STORE d"]
    );
    assert!(run("SORT l LIMIT 9 9 STORE d").1.is_empty());
    assert!(run("SORT nokey STORE d").1.is_empty());
    assert!(run("SORT_RO l").1.is_empty());
    // A client blocked on the destination is served, as its own LPOP.
    run("DEL d");
    let waiter = t.connect();
    assert_eq!(t.line(waiter, "BLPOP d 0"), "");
    assert_eq!(t.line(id, "SORT l STORE d"), ":3\r\n");
    assert_eq!(t.pending_output(waiter), "*2\r\n$1\r\nd\r\n$1\r\n1\r\n");
    assert_eq!(t.propagated(), vec!["SORT l STORE d", "LPOP d"]);
}

#[test]
fn differential_store_serves_blocked_clients() {
    let Some(pair) = Pair::start(&[]) else { return };
    for s in [&pair.picket, &pair.redis] {
        let (mut a, mut b) = (s.conn(), s.conn());
        b.q("RPUSH l 2 1");
        a.send(&["BLPOP", "d", "0"]);
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(b.q("SORT l STORE d"), Reply::Int(2));
        assert_eq!(a.read(), Reply::bulks(&["d", "1"]));
        assert_eq!(b.q("SORT d BY nosort"), Reply::bulks(&["2"]));
    }
}
