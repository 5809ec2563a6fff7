//! The append-only file with the real binary: no acknowledged write lost to SIGKILL under
//! `appendfsync always`, rewrites, a cut last command, CONFIG SET appendonly, and Redis 7.0
//! loading picket's AOF and the other way round.

mod common;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};

fn wait_loaded(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c.q("INFO persistence").text().contains("\r\nloading:0\r\n") {
        assert!(Instant::now() < deadline, "never finished loading");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_aof(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--dir", dir.to_str().unwrap(), "--appendonly", "yes"];
    args.extend_from_slice(extra);
    let s = Server::start(&args);
    wait_loaded(&mut s.conn());
    s
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap()
}

#[test]
fn sigkill_under_appendfsync_always_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start_aof(dir.path(), &["--appendfsync", "always"]);
    let mut c = s.conn();
    let mut acked = 0;
    for i in 0..2000 {
        if c.cmd(&["SET", &format!("k{i}"), &format!("v{i}")]) == Reply::ok() {
            acked = i + 1;
        }
        if i % 100 == 0 {
            c.cmd(&["INCR", "counter"]);
        }
    }
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let t = start_aof(dir.path(), &[]);
    let mut d = t.conn();
    for i in 0..acked {
        assert_eq!(
            d.cmd(&["GET", &format!("k{i}")]).text(),
            format!("v{i}"),
            "k{i} lost"
        );
    }
    assert_eq!(d.q("GET counter"), Reply::bulk("20"));
}

#[test]
fn rewrite_replaces_base_and_increments_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_aof(dir.path(), &[]);
    let mut c = s.conn();
    for i in 0..1000 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    c.q("SET ttl x PX 100000000");
    assert_eq!(
        c.q("BGREWRITEAOF"),
        Reply::simple("Background append only file rewriting started")
    );
    c.q("SET during rewrite");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !manifest(dir.path()).contains("seq 2 type b") {
        assert!(
            Instant::now() < deadline,
            "rewrite never finished: {}",
            manifest(dir.path())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    c.q("SET after rewrite");
    let m = manifest(dir.path());
    assert!(!m.contains(".1.base") && !m.contains(".1.incr"), "{m}");
    // The old files are gone.
    let files: Vec<String> = std::fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!files.iter().any(|f| f.contains(".1.")), "{files:?}");
    c.send(&["SHUTDOWN", "NOSAVE"]);
    let _ = c.try_read();
    drop(s);
    let t = start_aof(dir.path(), &[]);
    let mut d = t.conn();
    assert_eq!(d.q("DBSIZE"), Reply::Int(1003));
    assert_eq!(d.q("GET during"), Reply::bulk("rewrite"));
    assert_eq!(d.q("GET after"), Reply::bulk("rewrite"));
    assert!(d.q("PTTL ttl").int() > 0);
}

#[test]
fn rewrite_as_commands_without_rdb_preamble() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_aof(dir.path(), &["--aof-use-rdb-preamble", "no"]);
    let mut c = s.conn();
    c.q("SET a 1");
    c.q("RPUSH l x y z");
    c.q("SET t v PX 100000000");
    c.q("SELECT 2");
    c.q("SET in2 two");
    c.q("BGREWRITEAOF");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !manifest(dir.path()).contains("base.aof") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(c);
    drop(s);
    let t = start_aof(dir.path(), &[]);
    let mut d = t.conn();
    assert_eq!(d.q("GET a"), Reply::bulk("1"));
    assert_eq!(d.q("RPOP l"), Reply::bulk("z"));
    assert!(d.q("PTTL t").int() > 0);
    d.q("SELECT 2");
    assert_eq!(d.q("GET in2"), Reply::bulk("two"));
}

#[test]
fn a_cut_last_command_is_dropped_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_aof(dir.path(), &["--appendfsync", "always"]);
    let mut c = s.conn();
    c.q("SET a 1");
    drop(c);
    drop(s);
    let incr = dir.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let mut data = std::fs::read(&incr).unwrap();
    let whole = data.len();
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nb");
    std::fs::write(&incr, &data).unwrap();
    // Refused with aof-load-truncated no, the file left alone.
    let out = std::process::Command::new(common::picket_bin())
        .args([
            "--port",
            &common::free_port().to_string(),
            "--dir",
            dir.path().to_str().unwrap(),
            "--appendonly",
            "yes",
            "--aof-load-truncated",
            "no",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("appendonly.aof.1.incr.aof"));
    assert_eq!(std::fs::read(&incr).unwrap().len(), data.len());
    // Loaded (and the cut command dropped) with the default.
    let t = start_aof(dir.path(), &[]);
    let mut d = t.conn();
    assert_eq!(d.q("GET a"), Reply::bulk("1"));
    assert_eq!(d.q("EXISTS b"), Reply::Int(0));
    assert_eq!(std::fs::read(&incr).unwrap().len(), whole);
}

#[test]
fn config_set_appendonly_starts_and_stops_the_aof() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&["--dir", dir.path().to_str().unwrap()]);
    let mut c = s.conn();
    c.q("SET before aof");
    assert_eq!(c.q("CONFIG SET appendonly yes"), Reply::ok());
    c.q("SET with aof");
    assert!(c.q("INFO persistence").text().contains("aof_enabled:1"));
    drop(c);
    drop(s);
    let t = start_aof(dir.path(), &[]);
    let mut d = t.conn();
    assert_eq!(d.q("GET before"), Reply::bulk("aof"));
    assert_eq!(d.q("GET with"), Reply::bulk("aof"));
    assert_eq!(d.q("CONFIG SET appendonly no"), Reply::ok());
    assert!(d.q("INFO persistence").text().contains("aof_enabled:0"));
}

#[test]
fn redis_and_picket_load_each_other_s_aof() {
    if common::which("redis-server").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = Server::redis(&["--appendonly", "yes", "--dir", dir.path().to_str().unwrap()]).unwrap();
    let mut rc = r.conn();
    rc.q("SET from redis");
    rc.q("RPUSH l a b");
    rc.q("SET t v PX 100000000");
    rc.q("BGREWRITEAOF");
    std::thread::sleep(Duration::from_millis(500));
    rc.q("SET after rewrite");
    rc.send(&["SHUTDOWN", "NOSAVE"]);
    let _ = rc.try_read();
    drop(rc);
    drop(r);
    let p = start_aof(dir.path(), &[]);
    let mut pc = p.conn();
    assert_eq!(pc.q("GET from"), Reply::bulk("redis"));
    assert_eq!(pc.q("GET after"), Reply::bulk("rewrite"));
    assert_eq!(pc.q("LPOP l"), Reply::bulk("a"));
    assert!(pc.q("PTTL t").int() > 0);
    pc.q("SET from picket");
    pc.send(&["SHUTDOWN", "NOSAVE"]);
    let _ = pc.try_read();
    drop(pc);
    drop(p);
    let r = Server::redis(&["--appendonly", "yes", "--dir", dir.path().to_str().unwrap()]).unwrap();
    let mut rc = r.conn();
    assert_eq!(rc.q("GET from"), Reply::bulk("picket"));
    assert_eq!(rc.q("LLEN l"), Reply::Int(1));
}
