//! RDB persistence with the real binary: BGSAVE isolation while writes go on, restart from
//! the file, interoperability with Redis 7.0 both ways, corrupt files, save points,
//! SHUTDOWN/SIGTERM saves, MISCONF.

mod common;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};

/// Everything a key holds, comparable across servers: type, value, absolute expiry.
fn dump(c: &mut Conn) -> BTreeMap<Vec<u8>, (String, String, i64)> {
    let mut out = BTreeMap::new();
    let mut cursor = "0".to_string();
    loop {
        let r = c.cmd(&["SCAN", &cursor, "COUNT", "1000"]).items();
        cursor = r[0].text();
        for k in r[1].items() {
            let Reply::Bulk(key) = k else { panic!() };
            let t = c.cmd(&[&b"TYPE"[..], &key]).text();
            let value = match t.as_str() {
                "string" => c.cmd(&[&b"GET"[..], &key]).text(),
                "list" => format!("{:?}", c.cmd(&[&b"LRANGE"[..], &key, b"0", b"-1"])),
                "set" => {
                    let mut m: Vec<String> = c
                        .cmd(&[&b"SMEMBERS"[..], &key])
                        .items()
                        .iter()
                        .map(|r| r.text())
                        .collect();
                    m.sort();
                    format!("{m:?}")
                }
                "hash" => {
                    let items = c.cmd(&[&b"HGETALL"[..], &key]).items();
                    let mut pairs: Vec<(String, String)> = items
                        .chunks(2)
                        .map(|p| (p[0].text(), p[1].text()))
                        .collect();
                    pairs.sort();
                    format!("{pairs:?}")
                }
                "zset" => format!(
                    "{:?}",
                    c.cmd(&[&b"ZRANGE"[..], &key, b"0", b"-1", b"WITHSCORES"])
                ),
                other => panic!("type {other}"),
            };
            let exp = c.cmd(&[&b"PEXPIRETIME"[..], &key]).int();
            out.insert(key, (t, value, exp));
        }
        if cursor == "0" {
            return out;
        }
    }
}

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
    let mut c = s.conn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !c.q("INFO persistence").text().contains("\r\nloading:0\r\n") {
        assert!(Instant::now() < deadline, "never finished loading");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    assert_eq!(dump(&mut d), before);
    d.q("SELECT 5");
    assert_eq!(d.q("GET in5"), Reply::bulk("five"));
    let info = d.q("INFO persistence").text();
    assert!(info.contains("rdb_last_load_keys_loaded:9"), "{info}");
}

#[test]
fn redis_loads_what_picket_saves_and_back() {
    let Some(r) = Server::redis(&[]) else { return };
    let s = Server::start(&[]);
    let mut c = s.conn();
    populate(&mut c);
    let ours = dump(&mut c);
    c.q("SAVE");
    let file = s.dir.path().join("dump.rdb");
    if let Some(check) = common::which("redis-check-rdb") {
        let out = Command::new(check).arg(&file).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("RDB looks OK"), "{text}");
    }
    // Redis 7.0 loads picket's file with every key equal.
    drop(r);
    let r = Server::redis(&["--dir", s.dir.path().to_str().unwrap()]).unwrap();
    let mut rc = r.conn();
    assert_eq!(dump(&mut rc), ours);
    // And picket loads what Redis saves (into the same dir).
    rc.q("SET written-by redis");
    assert_eq!(rc.q("SAVE"), Reply::ok());
    let theirs = dump(&mut rc);
    drop(rc);
    drop(r);
    let t = start_on(s.dir.path(), &[]);
    let mut tc = t.conn();
    assert_eq!(dump(&mut tc), theirs);
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

#[test]
fn maxmemory_noeviction_and_lru_eviction() {
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    c.q("DEBUG POPULATE 100000 key 100");
    c.q("CONFIG SET maxmemory 1mb");
    assert_eq!(
        c.q("SET x y"),
        Reply::err("OOM command not allowed when used memory > 'maxmemory'.")
    );
    // Reads still work; commands that do not grow memory too.
    assert_eq!(c.q("GET key:1").text().len(), 100);
    assert_eq!(c.q("DEL key:1"), Reply::Int(1));
    c.q("CONFIG SET maxmemory-policy allkeys-lru");
    c.q("CONFIG SET maxmemory 8mb");
    assert_eq!(c.q("SET x y"), Reply::ok());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = c.q("INFO memory").text();
        let used: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
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
    let evicted = c.q("INFO stats").text();
    assert!(!evicted.contains("evicted_keys:0\r"), "{evicted}");
    // LFU: OBJECT FREQ reports the counter; IDLETIME refuses.
    c.q("CONFIG SET maxmemory 0");
    c.q("CONFIG SET maxmemory-policy allkeys-lfu");
    c.q("SET f v");
    assert_eq!(c.q("OBJECT FREQ f"), Reply::Int(5));
    assert!(c.q("OBJECT IDLETIME f").is_error());
}
