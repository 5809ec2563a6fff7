//! The append-only file with the real binary: no acknowledged write lost to SIGKILL under
//! `appendfsync always`, rewrites, a cut last command, CONFIG SET appendonly, and Redis 7.0
//! loading picket's AOF and the other way round.

mod common;
mod persist_util;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};
use persist_util::{all_types_commands, assert_same, check_aof, copy_dir, dump, run, wait_loaded};

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

/// The files of an AOF directory, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Wait until the manifest names `expect` and no temporary or history file is left (a
/// finished rewrite saves the manifest twice, the second time without its history
/// entries once their files are deleted: both servers pass through that state).
fn wait_manifest(dir: &Path, expect: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let path = dir.join("appendonlydir/appendonly.aof.manifest");
        let m = std::fs::read_to_string(path).unwrap_or_default();
        if m.contains(expect)
            && !m.contains(" type h")
            && !files(dir).iter().any(|f| f.starts_with("temp-"))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "manifest never named {expect}: {m} {:?}",
            files(dir)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// CONFIG SET appendonly yes / no / yes gives the same files and manifest as Redis 7.0
/// (a background rewrite writes the base; the temporary incremental file becomes the first
/// one), and the data survives a SIGKILL once the base is written.
#[test]
fn config_set_appendonly_starts_and_stops_the_aof() {
    let mut manifests = Vec::new();
    let redis = Server::redis(&[]);
    let picket = Server::start(&["--save", ""]);
    for s in redis.iter().chain([&picket]) {
        let mut c = s.conn();
        c.q("SET before aof");
        assert_eq!(c.q("CONFIG SET appendonly yes"), Reply::ok());
        c.q("SET with aof");
        assert!(c.q("INFO persistence").text().contains("aof_enabled:1"));
        wait_manifest(s.dir.path(), "appendonly.aof.1.incr.aof seq 1 type i");
        assert_eq!(c.q("CONFIG SET appendonly no"), Reply::ok());
        assert!(c.q("INFO persistence").text().contains("aof_enabled:0"));
        c.q("SET while off");
        assert_eq!(c.q("CONFIG SET appendonly yes"), Reply::ok());
        c.q("SET again on");
        wait_manifest(s.dir.path(), "appendonly.aof.2.incr.aof seq 2 type i");
        manifests.push((manifest(s.dir.path()), files(s.dir.path())));
    }
    if manifests.len() == 2 {
        assert_eq!(
            manifests[0], manifests[1],
            "redis (left) and picket (right)"
        );
    }
    let mut picket = picket;
    picket.child.kill().unwrap();
    picket.child.wait().unwrap();
    let t = start_aof(picket.dir.path(), &[]);
    let mut d = t.conn();
    assert_eq!(d.q("GET before"), Reply::bulk("aof"));
    assert_eq!(d.q("GET with"), Reply::bulk("aof"));
    assert_eq!(d.q("GET while"), Reply::bulk("off"));
    assert_eq!(d.q("GET again"), Reply::bulk("on"));
}

/// CONFIG SET appendonly yes on a big dataset answers at once and the server keeps serving
/// while the base is written in the background; writes made meanwhile are in the AOF.
#[test]
fn config_set_appendonly_writes_the_base_in_the_background() {
    let mut s = Server::start(&["--enable-debug-command", "yes", "--save", ""]);
    let mut c = s.conn();
    assert_eq!(c.q("DEBUG POPULATE 1000000"), Reply::ok());
    assert_eq!(c.q("CONFIG SET appendonly yes"), Reply::ok());
    let info = c.q("INFO persistence").text();
    assert!(info.contains("aof_rewrite_in_progress:1"), "{info}");
    assert!(info.contains("aof_enabled:1"), "{info}");
    // Exiting now would lose the data (Redis: "Writing initial AOF, can't exit.").
    assert_eq!(
        c.q("SHUTDOWN NOSAVE"),
        Reply::err("ERR Errors trying to SHUTDOWN. Check logs.")
    );
    let mut writes = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while c
        .q("INFO persistence")
        .text()
        .contains("aof_rewrite_in_progress:1")
    {
        assert_eq!(c.q("PING"), Reply::simple("PONG"));
        assert_eq!(
            c.cmd(&["SET", &format!("during:{writes}"), "x"]),
            Reply::ok()
        );
        assert_eq!(
            c.cmd(&["SET", "key:7", &format!("changed {writes}")]),
            Reply::ok()
        );
        writes += 1;
        assert!(Instant::now() < deadline, "the rewrite never finished");
    }
    assert!(writes > 0);
    let info = c.q("INFO persistence").text();
    assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
    c.q("SET after base");
    assert_eq!(
        files(s.dir.path()),
        [
            "appendonly.aof.1.base.rdb",
            "appendonly.aof.1.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let t = start_aof(s.dir.path(), &[]);
    let mut d = t.conn();
    assert_eq!(d.q("DBSIZE"), Reply::Int(1_000_001 + writes as i64));
    assert_eq!(
        d.cmd(&["GET", &format!("during:{}", writes - 1)]),
        Reply::bulk("x")
    );
    assert_eq!(d.q("GET key:7").text(), format!("changed {}", writes - 1));
    assert_eq!(d.q("GET key:8"), Reply::bulk("value:8"));
    assert_eq!(d.q("GET after"), Reply::bulk("base"));
}

/// BGREWRITEAOF with appendonly no writes an AOF anyway, as Redis 7.0: a base and a
/// manifest naming only it (the same files as Redis), which Redis loads.
#[test]
fn bgrewriteaof_with_the_aof_off_writes_a_base_like_redis() {
    let redis = Server::redis(&[]);
    let picket = Server::start(&["--save", ""]);
    let mut seen = Vec::new();
    for s in redis.iter().chain([&picket]) {
        let mut c = s.conn();
        run(&mut c, &all_types_commands(None));
        let started = Reply::simple("Background append only file rewriting started");
        assert_eq!(c.q("BGREWRITEAOF"), started);
        wait_manifest(s.dir.path(), "appendonly.aof.1.base.rdb seq 1 type b");
        c.q("SET more x");
        assert_eq!(c.q("BGREWRITEAOF"), started);
        wait_manifest(s.dir.path(), "appendonly.aof.2.base.rdb seq 2 type b");
        assert!(c.q("INFO persistence").text().contains("aof_enabled:0"));
        seen.push((manifest(s.dir.path()), files(s.dir.path())));
    }
    assert_eq!(
        seen.last().unwrap().1,
        ["appendonly.aof.2.base.rdb", "appendonly.aof.manifest"]
    );
    if seen.len() == 2 {
        assert_eq!(seen[0], seen[1], "redis (left) and picket (right)");
        let ours = dump(&mut picket.conn());
        let copy = copy_aof(picket.dir.path());
        let dir = copy.path().to_str().unwrap();
        let r = Server::redis(&["--appendonly", "yes", "--dir", dir]).unwrap();
        let mut rc = r.conn();
        wait_loaded(&mut rc);
        assert_same(
            &ours,
            &dump(&mut rc),
            true,
            "picket's base (left) in redis (right)",
        );
    }
}

/// A rewrite asked while a BGSAVE runs is scheduled, and a BGSAVE asked while a rewrite runs
/// is refused (or scheduled with SCHEDULE), with Redis 7.0's replies; both happen later.
#[test]
fn background_saves_and_rewrites_wait_for_each_other() {
    let s = Server::start(&["--enable-debug-command", "yes", "--save", ""]);
    let mut c = s.conn();
    assert_eq!(c.q("DEBUG POPULATE 300000"), Reply::ok());
    assert_eq!(c.q("BGSAVE"), Reply::simple("Background saving started"));
    assert_eq!(
        c.q("BGREWRITEAOF"),
        Reply::simple("Background append only file rewriting scheduled")
    );
    assert_eq!(
        c.q("BGSAVE"),
        Reply::err("ERR Background save already in progress")
    );
    wait_manifest(s.dir.path(), "appendonly.aof.1.base.rdb seq 1 type b");
    // The AOF switched on during a BGSAVE starts its rewrite afterwards.
    assert_eq!(c.q("BGSAVE"), Reply::simple("Background saving started"));
    assert_eq!(c.q("CONFIG SET appendonly yes"), Reply::ok());
    wait_manifest(s.dir.path(), "appendonly.aof.1.incr.aof seq 1 type i");
    // A rewrite running: BGSAVE is refused, or scheduled.
    let busy = "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";
    std::fs::remove_file(s.dir.path().join("dump.rdb")).unwrap();
    assert_eq!(
        c.q("BGREWRITEAOF"),
        Reply::simple("Background append only file rewriting started")
    );
    assert_eq!(
        c.q("BGREWRITEAOF"),
        Reply::err("ERR Background append only file rewriting already in progress")
    );
    assert_eq!(c.q("BGSAVE"), Reply::err(busy));
    assert_eq!(
        c.q("BGSAVE SCHEDULE"),
        Reply::simple("Background saving scheduled")
    );
    wait_rewrites(&mut c, 2);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !s.dir.path().join("dump.rdb").exists()
        || c.q("INFO persistence")
            .text()
            .contains("rdb_bgsave_in_progress:1")
    {
        assert!(Instant::now() < deadline, "the scheduled BGSAVE never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
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

/// Wait until the `n`th AOF rewrite of a server (picket or Redis) is done.
fn wait_rewrites(c: &mut Conn, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = c.q("INFO persistence").text();
        let done = info.contains("aof_rewrite_in_progress:0")
            && info.contains("aof_rewrite_scheduled:0")
            && info.contains(&format!("aof_rewrites:{n}\r\n"));
        if done {
            assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
            return;
        }
        assert!(Instant::now() < deadline, "rewrite never finished: {info}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fill a server with AOF on: half the data set, a rewrite (a base), the other half (an
/// incremental file). Returns the dump.
fn fill_around_a_rewrite(c: &mut Conn) -> persist_util::Dump {
    run(c, &all_types_commands(Some(0)));
    assert_eq!(
        c.q("BGREWRITEAOF"),
        Reply::simple("Background append only file rewriting started")
    );
    wait_rewrites(c, 1);
    run(c, &all_types_commands(Some(1)));
    dump(c)
}

/// The AOF directory of a server, copied to a fresh `dir` (as an operator moves it).
fn copy_aof(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    copy_dir(
        &from.join("appendonlydir"),
        &to.path().join("appendonlydir"),
    );
    check_aof(&to.path().join("appendonlydir/appendonly.aof.manifest"));
    to
}

/// (c) Picket's AOF directory (a base, RDB or commands, and an incremental file) passes
/// redis-check-aof and loads in Redis 7.0 with every key, type, value, TTL and encoding
/// equal; Redis's AOF directory (likewise, with timestamp annotations) loads in picket.
#[test]
fn aof_interop_with_redis_every_type_both_preambles() {
    if common::which("redis-server").is_none() {
        return;
    }
    for preamble in ["yes", "no"] {
        let args = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble];
        // Picket's files in Redis.
        let p = Server::start(&[&args[..], &["--save", ""]].concat());
        let mut pc = p.conn();
        wait_loaded(&mut pc);
        let ours = fill_around_a_rewrite(&mut pc);
        let m = manifest(p.dir.path());
        let ext = if preamble == "yes" { "rdb" } else { "aof" };
        assert!(
            m.contains(&format!("appendonly.aof.2.base.{ext} seq 2 type b")),
            "{m}"
        );
        let copy = copy_aof(p.dir.path());
        let r = Server::redis(&[&args[..], &["--dir", copy.path().to_str().unwrap()]].concat())
            .unwrap();
        let mut rc = r.conn();
        wait_loaded(&mut rc);
        let what = format!("picket's AOF (preamble {preamble}, left) loaded by redis (right)");
        assert_same(&ours, &dump(&mut rc), true, &what);
        // Redis's files in picket.
        let r = Server::redis(&[&args[..], &["--aof-timestamp-enabled", "yes"]].concat()).unwrap();
        let mut rc = r.conn();
        let theirs = fill_around_a_rewrite(&mut rc);
        let copy = copy_aof(r.dir.path());
        if preamble == "no" {
            let base = copy.path().join("appendonlydir/appendonly.aof.2.base.aof");
            let text = std::fs::read(base).unwrap();
            assert!(text.starts_with(b"#TS:"), "annotations expected");
        }
        let p = Server::start(&[&args[..], &["--dir", copy.path().to_str().unwrap()]].concat());
        let mut pc = p.conn();
        wait_loaded(&mut pc);
        let what = format!("redis's AOF (preamble {preamble}, left) loaded by picket (right)");
        assert_same(&theirs, &dump(&mut pc), true, &what);
    }
}
