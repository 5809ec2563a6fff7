//! maxmemory and eviction with the real binary (used_memory comes from the counting
//! allocator of the process): for each policy, a limit a little above the memory in use,
//! writes until past it, and the policy's promise checked.

mod common;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
const VALUE_LEN: usize = 1000;

fn info_field(c: &mut Conn, section: &str, name: &str) -> u64 {
    let info = c.cmd(&["INFO", section]).text();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .trim()
        .parse()
        .unwrap()
}

fn used_memory(c: &mut Conn) -> u64 {
    info_field(c, "memory", "used_memory")
}

fn evicted(c: &mut Conn) -> u64 {
    info_field(c, "stats", "evicted_keys")
}

fn value(i: usize) -> String {
    let head = format!("value-{i}-");
    format!("{head}{}", "x".repeat(VALUE_LEN - head.len()))
}

/// Run commands pipelined (64 at a time); returns the replies.
fn pipeline(c: &mut Conn, cmds: &[Vec<String>]) -> Vec<Reply> {
    let mut out = Vec::with_capacity(cmds.len());
    for chunk in cmds.chunks(64) {
        for cmd in chunk {
            c.send(cmd);
        }
        for _ in chunk {
            out.push(c.read());
        }
    }
    out
}

/// SET `prefix:i` for i in `range`, with a TTL of `ttl_ms(i)` when given; every reply OK.
fn fill(
    c: &mut Conn,
    prefix: &str,
    range: std::ops::Range<usize>,
    ttl_ms: Option<fn(usize) -> u64>,
) {
    let cmds: Vec<Vec<String>> = range
        .map(|i| {
            let mut cmd = vec!["SET".to_string(), format!("{prefix}:{i}"), value(i)];
            if let Some(f) = ttl_ms {
                cmd.extend(["PX".to_string(), f(i).to_string()]);
            }
            cmd
        })
        .collect();
    for r in pipeline(c, &cmds) {
        assert_eq!(r, Reply::ok());
    }
}

/// Which of `prefix:i` for i in `range` still exist.
fn existing(c: &mut Conn, prefix: &str, range: std::ops::Range<usize>) -> HashSet<usize> {
    let cmds: Vec<Vec<String>> = range
        .clone()
        .map(|i| vec!["EXISTS".to_string(), format!("{prefix}:{i}")])
        .collect();
    range
        .zip(pipeline(c, &cmds))
        .filter(|(_, r)| *r == Reply::Int(1))
        .map(|(i, _)| i)
        .collect()
}

/// Set maxmemory a little above what is used now.
fn limit_just_above(c: &mut Conn, margin: u64) -> u64 {
    // Each command's latency histogram (24 KB, as Redis's) is allocated the first time the
    // command runs: run the ones the tests use once before measuring, so that none of them
    // lands on the limit later and forces one large eviction at once.
    for cmd in [
        &["EXISTS", "warm-up"][..],
        &["GET", "warm-up"],
        &["DBSIZE"],
        &["CONFIG", "SET", "maxmemory", "0"],
    ] {
        c.cmd(cmd);
    }
    used_memory(c);
    let limit = used_memory(c) + margin;
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()]),
        Reply::ok()
    );
    limit
}

/// Write `n` new keys one at a time; every write must succeed.
fn write_past_the_limit(c: &mut Conn, prefix: &str, n: usize) {
    for i in 0..n {
        let r = c.cmd(&["SET", &format!("{prefix}:{i}"), &value(i)]);
        assert_eq!(r, Reply::ok(), "write {i} of {n}");
    }
}

/// Memory ends up under the limit (eviction caught up) and evicted_keys counts the keys gone.
fn check_under_limit_and_counted(c: &mut Conn, limit: u64, gone: usize) {
    // (INFO's own reply is allocated while it measures: allow a little over.)
    let used = used_memory(c);
    assert!(used <= limit + 64 * 1024, "used {used} > limit {limit}");
    assert!(gone > 0, "nothing was evicted");
    assert_eq!(evicted(c), gone as u64);
}

#[test]
fn noeviction_refuses_writes_with_redis_s_error() {
    let s = Server::start(&["--maxmemory-policy", "noeviction"]);
    let mut c = s.conn();
    fill(&mut c, "k", 0..1000, None);
    limit_just_above(&mut c, 200 * 1024);
    let mut written = 0;
    let err = loop {
        let r = c.cmd(&["SET", &format!("more:{written}"), &value(written)]);
        if r != Reply::ok() {
            break r;
        }
        written += 1;
        assert!(written < 5000, "never refused");
    };
    assert_eq!(err, Reply::err(OOM));
    assert!(written > 0);
    // Nothing was evicted; reads and deletions still work; other writes that may grow
    // memory are refused too.
    assert_eq!(evicted(&mut c), 0);
    assert_eq!(c.q("DBSIZE"), Reply::Int(1000 + written as i64));
    assert_eq!(c.q("GET k:1").text(), value(1));
    assert_eq!(c.q("RPUSH l a"), Reply::err(OOM));
    assert_eq!(c.q("DEL k:1"), Reply::Int(1));
    assert_eq!(c.q("CONFIG SET maxmemory 0"), Reply::ok());
    assert_eq!(c.q("SET x y"), Reply::ok());
}

/// allkeys-lru: keys read recently survive over keys left untouched (idle time has a
/// resolution of one second, as Redis's LRU clock).
#[test]
fn allkeys_lru_evicts_the_least_recently_used() {
    let s = Server::start(&[
        "--maxmemory-policy",
        "allkeys-lru",
        "--maxmemory-samples",
        "10",
    ]);
    let mut c = s.conn();
    fill(&mut c, "old", 0..3000, None);
    std::thread::sleep(Duration::from_millis(2100));
    // Touch the even keys.
    let gets: Vec<Vec<String>> = (0..3000)
        .step_by(2)
        .map(|i| vec!["GET".to_string(), format!("old:{i}")])
        .collect();
    pipeline(&mut c, &gets);
    let limit = limit_just_above(&mut c, 200 * 1024);
    write_past_the_limit(&mut c, "new", 800);
    let alive = existing(&mut c, "old", 0..3000);
    let new_alive = existing(&mut c, "new", 0..800);
    let touched_gone = (0..3000).step_by(2).filter(|i| !alive.contains(i)).count();
    let untouched_gone = (1..3000).step_by(2).filter(|i| !alive.contains(i)).count();
    check_under_limit_and_counted(
        &mut c,
        limit,
        touched_gone + untouched_gone + 800 - new_alive.len(),
    );
    assert!(
        untouched_gone > 300 && touched_gone * 5 < untouched_gone,
        "evicted {touched_gone} touched and {untouched_gone} untouched keys"
    );
}

/// allkeys-lfu: keys accessed often survive over keys accessed once.
#[test]
fn allkeys_lfu_evicts_the_least_frequently_used() {
    let s = Server::start(&[
        "--maxmemory-policy",
        "allkeys-lfu",
        "--maxmemory-samples",
        "10",
        "--lfu-log-factor",
        "0",
    ]);
    let mut c = s.conn();
    fill(&mut c, "k", 0..3000, None);
    // The even keys are hot: ten reads each.
    let gets: Vec<Vec<String>> = (0..10)
        .flat_map(|_| (0..3000).step_by(2))
        .map(|i| vec!["GET".to_string(), format!("k:{i}")])
        .collect();
    pipeline(&mut c, &gets);
    let freq = c.q("OBJECT FREQ k:0").int();
    assert!(freq >= 10, "{freq}");
    let limit = limit_just_above(&mut c, 200 * 1024);
    write_past_the_limit(&mut c, "new", 800);
    let alive = existing(&mut c, "k", 0..3000);
    let new_alive = existing(&mut c, "new", 0..800);
    let hot_gone = (0..3000).step_by(2).filter(|i| !alive.contains(i)).count();
    let cold_gone = (1..3000).step_by(2).filter(|i| !alive.contains(i)).count();
    check_under_limit_and_counted(&mut c, limit, hot_gone + cold_gone + 800 - new_alive.len());
    assert!(
        cold_gone > 300 && hot_gone * 10 < cold_gone,
        "evicted {hot_gone} hot and {cold_gone} cold keys"
    );
}

/// allkeys-random: any key may go; writes are never refused while keys remain.
#[test]
fn allkeys_random_evicts_any_key() {
    let s = Server::start(&["--maxmemory-policy", "allkeys-random"]);
    let mut c = s.conn();
    fill(&mut c, "k", 0..2000, Some(|_| 100_000_000));
    fill(&mut c, "p", 0..2000, None);
    let limit = limit_just_above(&mut c, 200 * 1024);
    write_past_the_limit(&mut c, "new", 1000);
    let vol_gone = 2000 - existing(&mut c, "k", 0..2000).len();
    let persistent_gone = 2000 - existing(&mut c, "p", 0..2000).len();
    let new_gone = 1000 - existing(&mut c, "new", 0..1000).len();
    check_under_limit_and_counted(&mut c, limit, vol_gone + persistent_gone + new_gone);
    // Volatile and persistent keys alike.
    assert!(
        vol_gone > 100 && persistent_gone > 100,
        "{vol_gone} {persistent_gone}"
    );
}

/// volatile-ttl: the keys closest to expiring go first.
#[test]
fn volatile_ttl_evicts_the_shortest_ttls_first() {
    let s = Server::start(&[
        "--maxmemory-policy",
        "volatile-ttl",
        "--maxmemory-samples",
        "10",
    ]);
    let mut c = s.conn();
    fill(
        &mut c,
        "vol",
        0..2000,
        Some(|i| 1_000_000 + i as u64 * 10_000),
    );
    let limit = limit_just_above(&mut c, 200 * 1024);
    write_past_the_limit(&mut c, "new", 500);
    let alive = existing(&mut c, "vol", 0..2000);
    assert_eq!(existing(&mut c, "new", 0..500).len(), 500);
    let gone: Vec<usize> = (0..2000).filter(|i| !alive.contains(i)).collect();
    check_under_limit_and_counted(&mut c, limit, gone.len());
    let early = gone.iter().filter(|&&i| i < 1000).count();
    assert!(
        gone.len() > 200 && early * 10 >= gone.len() * 9,
        "{early} of the {} evicted keys had the shorter half of the TTLs",
        gone.len()
    );
}

/// Every volatile-* policy evicts only keys with a TTL; once none is left, writes get OOM.
#[test]
fn volatile_policies_never_evict_keys_without_ttl() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let s = Server::start(&["--maxmemory-policy", policy]);
        let mut c = s.conn();
        fill(&mut c, "vol", 0..500, Some(|_| 100_000_000));
        fill(&mut c, "keep", 0..1000, None);
        limit_just_above(&mut c, 100 * 1024);
        let started = Instant::now();
        let mut written = 0;
        let err = loop {
            let r = c.cmd(&["SET", &format!("more:{written}"), &value(written)]);
            if r != Reply::ok() {
                break r;
            }
            written += 1;
            assert!(written < 5000, "{policy}: never refused");
        };
        assert_eq!(err, Reply::err(OOM), "{policy}");
        // Every volatile key went, and only those.
        assert!(
            c.q("INFO keyspace")
                .text()
                .contains(&format!("db0:keys={},expires=0,", 1000 + written)),
            "{policy}: {}",
            c.q("INFO keyspace").text()
        );
        assert_eq!(existing(&mut c, "keep", 0..1000).len(), 1000, "{policy}");
        assert_eq!(
            existing(&mut c, "more", 0..written).len(),
            written,
            "{policy}"
        );
        assert_eq!(evicted(&mut c), 500, "{policy}");
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

#[test]
fn maxmemory_noeviction_and_lru_eviction() {
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    c.q("DEBUG POPULATE 100000 key 100");
    c.q("CONFIG SET maxmemory 1mb");
    assert_eq!(c.q("SET x y"), Reply::err(OOM));
    // Reads still work; commands that do not grow memory too.
    assert_eq!(c.q("GET key:1").text().len(), 100);
    assert_eq!(c.q("DEL key:1"), Reply::Int(1));
    c.q("CONFIG SET maxmemory-policy allkeys-lru");
    c.q("CONFIG SET maxmemory 8mb");
    assert_eq!(c.q("SET x y"), Reply::ok());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let used = used_memory(&mut c);
        // (INFO's own reply is allocated while it measures: allow a little over.)
        if used <= 8 * 1024 * 1024 + 64 * 1024 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "eviction never caught up: {used}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(c.q("DBSIZE").int() < 99999);
    assert!(evicted(&mut c) > 0);
    // LFU: OBJECT FREQ reports the counter; IDLETIME refuses.
    c.q("CONFIG SET maxmemory 0");
    c.q("CONFIG SET maxmemory-policy allkeys-lfu");
    c.q("SET f v");
    assert_eq!(c.q("OBJECT FREQ f"), Reply::Int(5));
    assert!(c.q("OBJECT IDLETIME f").is_error());
}
