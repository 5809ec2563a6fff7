//! RDB persistence with the real binary: BGSAVE isolation while writes go on, restart from
//! the file, interoperability with Redis 7.0 both ways, corrupt files, save points,
//! SHUTDOWN/SIGTERM saves, MISCONF, LOADING. (maxmemory is in eviction.rs.)

mod common;
mod persist_util;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};
use persist_util::{assert_same, check_rdb, dump, populate_all, wait_loaded};

fn wait_bgsave_done(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = c.q("INFO persistence").text();
        if info.contains("rdb_bgsave_in_progress:0") {
            assert!(info.contains("rdb_last_bgsave_status:ok"), "{info}");
            return;
        }
        assert!(Instant::now() < deadline, "BGSAVE never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Restart a server on the RDB another one saved, and wait until it is loaded.
fn start_on(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let s = Server::start(&args);
    wait_loaded(&mut s.conn());
    s
}

fn populate(c: &mut Conn) {
    c.q("RPUSH list a b c 1 2 3");
    c.q("SADD ints 1 2 3 -5");
    c.q("SADD words x y z");
    c.q("HSET h f1 v1 f2 22");
    c.q("SET plain hello");
    c.q("SET n 12345");
    c.q("SET ttl v PX 100000000");
    c.cmd(&["SET", "binary", "a\0b\r\n\u{ff}"]);
    c.q("SELECT 5");
    c.q("SET in5 five");
    c.q("SELECT 0");
}

#[test]
fn bgsave_is_a_point_in_time_while_writes_go_on() {
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    c.q("DEBUG POPULATE 200000");
    let before = c.q("DBSIZE").int();
    assert_eq!(c.q("BGSAVE"), Reply::simple("Background saving started"));
    // Change, delete and add keys while the snapshot is written.
    for i in (0..200000).step_by(97) {
        c.cmd(&["SET", &format!("key:{i}"), "changed"]);
        c.cmd(&["DEL", &format!("key:{}", i + 1)]);
        c.cmd(&["SET", &format!("new:{i}"), "x"]);
    }
    c.q("FLUSHDB");
    wait_bgsave_done(&mut c);
    drop(c);
    let dir = s.dir.path().to_path_buf();
    let t = start_on(&dir, &[]);
    let mut c = t.conn();
    assert_eq!(c.q("DBSIZE").int(), before);
    for i in (0..200000).step_by(97) {
        assert_eq!(
            c.cmd(&["GET", &format!("key:{i}")]).text(),
            format!("value:{i}")
        );
        assert_eq!(c.cmd(&["EXISTS", &format!("key:{}", i + 1)]), Reply::Int(1));
        assert_eq!(c.cmd(&["EXISTS", &format!("new:{i}")]), Reply::Int(0));
    }
}

#[test]
fn restart_keeps_every_key_type_and_ttl() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    populate(&mut c);
    let before = dump(&mut c);
    assert_eq!(c.q("SAVE"), Reply::ok());
    let t = start_on(s.dir.path(), &[]);
    let mut d = t.conn();
    assert_same(&before, &dump(&mut d), true, "picket restarted on its RDB");
    d.q("SELECT 5");
    assert_eq!(d.q("GET in5"), Reply::bulk("five"));
    let info = d.q("INFO persistence").text();
    assert!(info.contains("rdb_last_load_keys_loaded:9"), "{info}");
}

/// (a) An RDB picket writes (compressed and checksummed, and neither) passes redis-check-rdb
/// and loads in Redis 7.0 with every key, type, value, TTL and encoding equal; (b) an RDB
/// Redis writes (likewise both ways) loads in picket with everything equal, OBJECT ENCODING
/// included. The data set has every type in its small and large encodings.
#[test]
fn rdb_interop_with_redis_every_type_and_encoding() {
    for (compression, checksum) in [("yes", "yes"), ("no", "no")] {
        let args = ["--rdbcompression", compression, "--rdbchecksum", checksum];
        let Some(r) = Server::redis(&args) else {
            return;
        };
        let p = Server::start(&[&args[..], &["--save", ""]].concat());
        let (mut pc, mut rc) = (p.conn(), r.conn());
        populate_all(&mut pc);
        populate_all(&mut rc);
        let ours = dump(&mut pc);
        let theirs = dump(&mut rc);
        let encodings: std::collections::BTreeSet<&str> =
            ours.values().map(|k| k.encoding.as_str()).collect();
        let all = [
            "embstr",
            "hashtable",
            "int",
            "intset",
            "listpack",
            "quicklist",
            "raw",
            "skiplist",
        ];
        assert_eq!(
            encodings,
            all.into_iter().collect(),
            "the data set's encodings"
        );
        // The same commands give the same data, in the same encodings.
        assert_same(
            &ours,
            &theirs,
            true,
            "picket (left) and redis (right), same commands",
        );
        // rdbchecksum is immutable, as in Redis.
        let set = ["CONFIG", "SET", "rdbchecksum", "yes"];
        assert_eq!(pc.cmd(&set), rc.cmd(&set));
        // (a) Redis loads picket's file.
        assert_eq!(pc.q("SAVE"), Reply::ok());
        check_rdb(&p.dir.path().join("dump.rdb"));
        let dir = p.dir.path().to_str().unwrap();
        let r2 = Server::redis(&["--dir", dir]).unwrap();
        let mut c2 = r2.conn();
        wait_loaded(&mut c2);
        let what = format!("picket's RDB ({args:?}, left) loaded by redis (right)");
        assert_same(&ours, &dump(&mut c2), true, &what);
        // (b) Picket loads Redis's file.
        assert_eq!(rc.q("SAVE"), Reply::ok());
        let p2 = start_on(r.dir.path(), &[]);
        let what = format!("redis's RDB ({args:?}, left) loaded by picket (right)");
        assert_same(&theirs, &dump(&mut p2.conn()), true, &what);
    }
}

#[test]
fn a_corrupt_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let good = include_bytes!("data/redis70-all-types.rdb");
    let file = dir.path().join("dump.rdb");
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let out = Command::new(common::picket_bin())
        .args([
            "--port",
            &common::free_port().to_string(),
            "--dir",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(file.to_str().unwrap()) && err.contains("offset"),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), &good[..good.len() / 2]);
}

#[test]
fn redis_all_types_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        "tests/data/redis70-all-types.rdb",
        dir.path().join("dump.rdb"),
    )
    .unwrap();
    let s = start_on(dir.path(), &[]);
    let mut c = s.conn();
    assert_eq!(c.q("GET s4").text(), "abc".repeat(100));
    assert_eq!(c.q("LLEN l2"), Reply::Int(2000));
    assert_eq!(c.q("OBJECT ENCODING set1"), Reply::bulk("intset"));
    assert_eq!(c.q("SCARD set2"), Reply::Int(602));
    assert_eq!(c.q("HGET h1 f2"), Reply::bulk("22"));
    assert_eq!(c.q("HLEN h2"), Reply::Int(10));
    assert!(c.q("PTTL e1").int() > 0);
    c.q("SELECT 3");
    assert_eq!(c.q("GET db3key"), Reply::bulk("v"));
}

#[test]
fn shutdown_and_sigterm_save_when_save_points_exist() {
    // Default save points: SHUTDOWN saves.
    let mut s = Server::start(&[]);
    let mut c = s.conn();
    c.q("SET a 1");
    c.send(&["SHUTDOWN"]);
    assert!(c.try_read().is_none());
    assert!(s.child.wait().unwrap().success());
    assert!(s.dir.path().join("dump.rdb").exists());
    // NOSAVE does not.
    let mut s = Server::start(&[]);
    let mut c = s.conn();
    c.q("SET a 1");
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(c.try_read().is_none());
    s.child.wait().unwrap();
    assert!(!s.dir.path().join("dump.rdb").exists());
    // Without save points nothing is saved, unless SAVE is asked.
    let mut s = Server::start(&["--save", ""]);
    let mut c = s.conn();
    c.q("SET a 1");
    c.send(&["SHUTDOWN"]);
    assert!(c.try_read().is_none());
    s.child.wait().unwrap();
    assert!(!s.dir.path().join("dump.rdb").exists());
    // SIGTERM saves too.
    let mut s = Server::start(&[]);
    let mut c = s.conn();
    c.q("SET a 1");
    // SAFETY: sending a signal to our own child process.
    unsafe { libc_kill(s.child.id() as i32, 15) };
    assert!(s.child.wait().unwrap().success());
    assert!(s.dir.path().join("dump.rdb").exists());
    assert!(s
        .log_text()
        .contains("Saving the final RDB snapshot before exiting."));
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn save_points_trigger_a_background_save() {
    let s = Server::start(&["--save", "1 1"]);
    let mut c = s.conn();
    c.q("SET a 1");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.dir.path().join("dump.rdb").exists() {
        assert!(Instant::now() < deadline, "no save happened");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_bgsave_done(&mut c);
    assert!(c
        .q("INFO persistence")
        .text()
        .contains("rdb_changes_since_last_save:0"));
    assert!(s.log_text().contains("1 changes in 1 seconds. Saving..."));
}

#[test]
fn misconf_after_a_failed_save() {
    let base = tempfile::tempdir().unwrap();
    let sub = base.path().join("gone");
    std::fs::create_dir(&sub).unwrap();
    let s = Server::start(&["--dir", sub.to_str().unwrap()]);
    let mut c = s.conn();
    std::fs::remove_dir(&sub).unwrap();
    c.q("SET a 1");
    c.q("BGSAVE");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c
        .q("INFO persistence")
        .text()
        .contains("rdb_last_bgsave_status:err")
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let e = c.q("SET b 2");
    assert!(
        e.text()
            .starts_with("MISCONF Redis is configured to save RDB snapshots"),
        "{e:?}"
    );
    assert!(c.q("PING").is_error());
    assert_eq!(c.q("GET a"), Reply::bulk("1"));
    // Once a save succeeds, writes are accepted again.
    std::fs::create_dir(&sub).unwrap();
    assert_eq!(c.q("SAVE"), Reply::ok());
    assert_eq!(c.q("SET b 2"), Reply::ok());
}

/// While a big RDB loads at start-up, data commands (and PING, as in Redis 7.0) get
/// `-LOADING`, commands flagged `loading` (INFO, ECHO, CONFIG) work, and INFO persistence
/// shows `loading:1` with Redis's `loading_*` fields.
#[test]
fn clients_get_loading_while_a_big_rdb_loads() {
    let mut s = Server::start(&["--enable-debug-command", "yes", "--save", ""]);
    let mut c = s.conn();
    // 2M keys take seconds in a debug build, more on a loaded machine.
    c.set_timeout(Duration::from_secs(120));
    assert_eq!(c.q("DEBUG POPULATE 2000000"), Reply::ok());
    assert_eq!(c.q("SAVE"), Reply::ok());
    c.set_timeout(Duration::from_secs(10));
    drop(c);
    let size = std::fs::metadata(s.dir.path().join("dump.rdb"))
        .unwrap()
        .len();
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let t = Server::start(&["--dir", s.dir.path().to_str().unwrap()]);
    let mut c = t.conn();
    let info = c.q("INFO persistence").text();
    assert!(info.contains("\r\nloading:1\r\n"), "not loading: {info}");
    let loading = Reply::err("LOADING Redis is loading the dataset in memory");
    assert_eq!(c.q("GET key:1"), loading);
    assert_eq!(c.q("SET a b"), loading);
    assert_eq!(c.q("DBSIZE"), loading);
    assert_eq!(c.q("PING"), loading);
    assert_eq!(c.q("ECHO hi"), Reply::bulk("hi"));
    assert_eq!(c.q("CONFIG GET save").items().len(), 2);
    // Switching the AOF on (or moving `dir`) waits for the end of loading, as in Redis.
    assert_eq!(c.q("CONFIG SET appendonly yes"), loading);
    assert_eq!(c.q("CONFIG SET maxmemory 0"), Reply::ok());
    // The fields Redis 7.0.15 shows while loading.
    let fields: Vec<(String, String)> = info
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.starts_with("loading_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "loading_start_time",
            "loading_total_bytes",
            "loading_rdb_used_mem",
            "loading_loaded_bytes",
            "loading_loaded_perc",
            "loading_eta_seconds"
        ],
        "{info}"
    );
    assert_eq!(fields[1].1, size.to_string());
    // Progress is reported as it goes.
    let loaded = |c: &mut Conn| -> Option<u64> {
        let info = c.q("INFO persistence").text();
        info.lines()
            .find_map(|l| l.strip_prefix("loading_loaded_bytes:"))
            .map(|v| v.trim().parse().unwrap())
    };
    let first = loaded(&mut c).expect("still loading");
    std::thread::sleep(Duration::from_millis(100));
    if let Some(later) = loaded(&mut c) {
        assert!(later > first, "{first} then {later}");
    }
    wait_loaded(&mut c);
    assert_eq!(c.q("DBSIZE"), Reply::Int(2_000_000));
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
    assert!(!c.q("INFO persistence").text().contains("loading_"));
}

/// Redis saves each key's LFU counter (or LRU idle time) under an LFU (LRU) policy, and
/// loading keeps them: picket reports the same OBJECT FREQ / IDLETIME as Redis after loading
/// Redis's file, and a new key's counter without one.
#[test]
fn lfu_counters_and_idle_times_survive_a_redis_rdb() {
    for policy in ["allkeys-lfu", "allkeys-lru"] {
        let args = ["--maxmemory-policy", policy, "--lfu-log-factor", "0"];
        let Some(r) = Server::redis(&args) else {
            return;
        };
        let mut rc = r.conn();
        rc.q("SET hot v");
        rc.q("SET cold v");
        for _ in 0..10 {
            rc.q("GET hot");
        }
        if policy == "allkeys-lru" {
            std::thread::sleep(Duration::from_millis(1100));
            rc.q("GET hot");
        }
        assert_eq!(rc.q("SAVE"), Reply::ok());
        let p = start_on(r.dir.path(), &args);
        let mut pc = p.conn();
        for key in ["hot", "cold"] {
            let q = if policy == "allkeys-lfu" {
                format!("OBJECT FREQ {key}")
            } else {
                format!("OBJECT IDLETIME {key}")
            };
            let (ours, theirs) = (pc.q(&q).int(), rc.q(&q).int());
            assert!(
                (ours - theirs).abs() <= 1,
                "{policy} {key}: picket {ours}, redis {theirs}"
            );
        }
        if policy == "allkeys-lfu" {
            assert_eq!(pc.q("OBJECT FREQ hot"), Reply::Int(15));
        } else {
            assert!(pc.q("OBJECT IDLETIME cold").int() >= 1);
        }
    }
}
