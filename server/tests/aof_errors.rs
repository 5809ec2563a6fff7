//! The AOF on a disk that refuses writes: nothing acknowledged is lost and the files stay
//! loadable. The refusal is real: the test lowers the server's `RLIMIT_FSIZE` (`ulimit -f`)
//! while it runs, so its next AOF write is cut short and then fails with EFBIG, exactly as a
//! full disk cuts a write and fails with ENOSPC; raising it again is space coming back.
//!
//! - `appendfsync always`: the server exits before it replies to a write it could not
//!   persist (Redis's "Can't recover from AOF write error ... Exiting...").
//! - `appendfsync everysec`: writes and PING get `-MISCONF Errors writing to the AOF file:
//!   ...` until a write succeeds; what was acknowledged is written once the disk takes it.
//! - In both, the short write is cut off the file, so it loads with `aof-load-truncated no`.

mod common;
mod persist_util;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};
use persist_util::wait_loaded;

/// Set the file-size limit of a running process (None: unlimited).
fn set_fsize(pid: u32, limit: Option<u64>) {
    let lim = libc::rlimit {
        rlim_cur: limit.unwrap_or(libc::RLIM_INFINITY),
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit reads `lim` and writes nothing (null old-limit pointer).
    let r = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// The current incremental file (the last one the manifest names) and its length.
fn incr_file(dir: &Path) -> (std::path::PathBuf, u64) {
    let aofdir = dir.join("appendonlydir");
    let manifest = std::fs::read_to_string(aofdir.join("appendonly.aof.manifest")).unwrap();
    let name = manifest
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split(' ').nth(1))
        .expect("an incr file")
        .to_string();
    let p = aofdir.join(name);
    let len = std::fs::metadata(&p).unwrap().len();
    (p, len)
}

/// Send a command and read its reply; None if the connection closed first.
fn try_cmd(c: &mut Conn, args: &[&str]) -> Option<Reply> {
    c.send(args);
    c.try_read()
}

fn value(i: usize) -> String {
    format!("{i:0>100}")
}

/// Write keys until one is refused (or the connection closes); the acknowledged ones.
fn write_until_refused(c: &mut Conn, from: usize) -> (Vec<usize>, Option<Reply>) {
    let mut acked = Vec::new();
    for i in from..from + 10_000 {
        match try_cmd(c, &["SET", &format!("k{i}"), &value(i)]) {
            Some(r) if r == Reply::ok() => acked.push(i),
            other => return (acked, other),
        }
    }
    panic!("no write was refused");
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .trim()
        .to_string()
}

/// Restart on the same directory, strict about the AOF's end, and check exactly the
/// acknowledged keys are there.
fn check_restart(dir: &Path, acked: &[usize], refused: &[usize]) {
    let s = Server::start(&[
        "--dir",
        dir.to_str().unwrap(),
        "--appendonly",
        "yes",
        "--aof-load-truncated",
        "no",
    ]);
    let mut c = s.conn();
    wait_loaded(&mut c);
    for &i in acked {
        assert_eq!(
            c.cmd(&["GET", &format!("k{i}")]),
            Reply::bulk(&value(i)),
            "acknowledged k{i} lost"
        );
    }
    for &i in refused {
        assert_eq!(
            c.cmd(&["GET", &format!("k{i}")]),
            Reply::Nil,
            "refused k{i}"
        );
    }
    assert_eq!(c.q("DBSIZE").int() as usize, acked.len());
}

#[test]
fn everysec_refuses_writes_with_misconf_until_the_disk_takes_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&[
        "--dir",
        dir.path().to_str().unwrap(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
    ]);
    let mut c = s.conn();
    wait_loaded(&mut c);
    let mut acked: Vec<usize> = (0..300).collect();
    for &i in &acked {
        assert_eq!(c.cmd(&["SET", &format!("k{i}"), &value(i)]), Reply::ok());
    }
    let (incr, len) = incr_file(dir.path());
    // Room for about two more commands: the third is cut short, then refused.
    set_fsize(s.child.id(), Some(len + 300));
    let (more, refusal) = write_until_refused(&mut c, 300);
    assert!(
        !more.is_empty(),
        "the write that failed was acknowledged (pending)"
    );
    acked.extend(&more);
    let refusal = refusal.expect("the server stays up");
    assert_eq!(
        refusal,
        Reply::err("MISCONF Errors writing to the AOF file: File too large")
    );
    let mut refused = vec![300 + more.len()];
    // PING is refused too, reads are not.
    assert_eq!(c.q("PING"), refusal);
    assert_eq!(c.q("GET k0"), Reply::bulk(&value(0)));
    let info = c.q("INFO persistence").text();
    assert_eq!(field(&info, "aof_last_write_status"), "err");
    assert!(field(&info, "aof_buffer_length").parse::<u64>().unwrap() > 0);
    // The short write was cut off: the file ends at a command boundary.
    let cut = std::fs::metadata(&incr).unwrap().len();
    assert!(cut <= len + 300, "{cut}");
    // Still refused a second later (the cron retries and fails again).
    std::thread::sleep(Duration::from_millis(1200));
    let r = c.cmd(&["SET", "k99999", "x"]);
    assert_eq!(r, refusal);
    refused.push(99_999);

    // Space comes back: the pending writes go out and writes are taken again.
    set_fsize(s.child.id(), None);
    let deadline = Instant::now() + Duration::from_secs(5);
    let next = 300 + more.len() + 1;
    loop {
        let r = c.cmd(&["SET", &format!("k{next}"), &value(next)]);
        if r == Reply::ok() {
            acked.push(next);
            break;
        }
        assert_eq!(r, refusal);
        assert!(Instant::now() < deadline, "writes still refused");
        std::thread::sleep(Duration::from_millis(50));
    }
    let info = c.q("INFO persistence").text();
    assert_eq!(field(&info, "aof_last_write_status"), "ok");
    assert_eq!(field(&info, "aof_buffer_length"), "0");
    assert!(s
        .log_text()
        .contains("AOF write error looks solved, Redis can write again."));
    let (_, end) = incr_file(dir.path());
    assert!(end > cut);

    // Killed now, every acknowledged write is in a loadable AOF.
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    check_restart(dir.path(), &acked, &refused);
}

#[test]
fn always_exits_before_replying_to_a_write_it_could_not_persist() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(&[
        "--dir",
        dir.path().to_str().unwrap(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]);
    let mut c = s.conn();
    wait_loaded(&mut c);
    let mut acked: Vec<usize> = (0..300).collect();
    for &i in &acked {
        assert_eq!(c.cmd(&["SET", &format!("k{i}"), &value(i)]), Reply::ok());
    }
    let (_, len) = incr_file(dir.path());
    set_fsize(s.child.id(), Some(len + 300));
    let (more, refusal) = write_until_refused(&mut c, 300);
    acked.extend(&more);
    // No reply at all: the process ended first.
    assert_eq!(refusal, None, "the write that failed got a reply");
    let refused = vec![300 + more.len()];
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    assert!(s.log_text().contains(
        "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
    ));
    check_restart(dir.path(), &acked, &refused);
}

#[test]
fn shutdown_refuses_to_exit_with_acknowledged_writes_not_in_the_aof() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&["--dir", dir.path().to_str().unwrap(), "--appendonly", "yes"]);
    let mut c = s.conn();
    wait_loaded(&mut c);
    for i in 0..300 {
        c.cmd(&["SET", &format!("k{i}"), &value(i)]);
    }
    let (_, len) = incr_file(dir.path());
    set_fsize(s.child.id(), Some(len + 300));
    let (more, _) = write_until_refused(&mut c, 300);
    assert!(!more.is_empty());
    assert_eq!(
        c.q("SHUTDOWN NOSAVE"),
        Reply::err("ERR Errors trying to SHUTDOWN. Check logs.")
    );
    assert!(s
        .log_text()
        .contains("Error writing to the AOF file before exiting, can't exit."));
    set_fsize(s.child.id(), None);
    // Once the disk takes them, SHUTDOWN exits and the restart has every write.
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.q("PING") != Reply::simple("PONG") {
        assert!(Instant::now() < deadline, "still refused");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(try_cmd(&mut c, &["SHUTDOWN"]).is_none());
    let acked: Vec<usize> = (0..300 + more.len()).collect();
    check_restart(dir.path(), &acked, &[]);
}

fn info_field(c: &mut Conn, name: &str) -> String {
    field(&c.q("INFO").text(), name)
}

/// A replica whose AOF cannot be written: by default it stops applying its master's writes
/// (Redis exits) and resumes where it stopped once the disk takes them; with
/// `replica-ignore-disk-write-errors yes` it applies them anyway.
fn replica_with_a_failing_aof(ignore: &str) {
    let master = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let rdir = tempfile::tempdir().unwrap();
    let replica = Server::start(&[
        "--dir",
        rdir.path().to_str().unwrap(),
        "--appendonly",
        "yes",
        "--replica-ignore-disk-write-errors",
        ignore,
    ]);
    let mut mc = master.conn();
    let mut rc = replica.conn();
    wait_loaded(&mut rc);
    assert_eq!(
        rc.q(&format!("REPLICAOF 127.0.0.1 {}", master.port)),
        Reply::ok()
    );
    let synced = |mc: &mut Conn, rc: &mut Conn| {
        info_field(rc, "master_link_status") == "up"
            && info_field(mc, "master_repl_offset") == info_field(rc, "slave_repl_offset")
    };
    for i in 0..300 {
        mc.cmd(&["SET", &format!("k{i}"), &value(i)]);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !synced(&mut mc, &mut rc) {
        assert!(Instant::now() < deadline, "never synced");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The limit is for every file: leave the log (larger than the AOF rewritten after the
    // sync) room for the lines to come.
    let (_, len) = incr_file(rdir.path());
    let log_len = std::fs::metadata(&replica.log).unwrap().len();
    set_fsize(replica.child.id(), Some(len.max(log_len) + 4096));
    for i in 300..500 {
        mc.cmd(&["SET", &format!("k{i}"), &value(i)]);
    }
    // Waits for what each setting promises (never a fixed sleep: the machine may be slow).
    let deadline = Instant::now() + Duration::from_secs(20);
    if ignore == "no" {
        // The replica stops at the first command it cannot persist...
        while !replica
            .log_text()
            .contains("Replica was unable to write command to disk")
        {
            assert!(
                Instant::now() < deadline,
                "the replica never reported the failed write: {}",
                replica.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // ...and applies nothing past it, however long it is given.
        std::thread::sleep(Duration::from_millis(500));
        let behind = info_field(&mut rc, "slave_repl_offset")
            .parse::<i64>()
            .unwrap()
            < info_field(&mut mc, "master_repl_offset")
                .parse::<i64>()
                .unwrap();
        assert!(
            behind,
            "the replica applied writes it could not persist: {}\n{}",
            rc.q("INFO persistence").text(),
            replica.log_text()
        );
        assert_eq!(rc.q("GET k499"), Reply::Nil);
    } else {
        // The replica goes on applying everything, and says so.
        while !(synced(&mut mc, &mut rc)
            && replica.log_text().contains(
                "Replica is applying a command even though it is unable to write to disk.",
            ))
        {
            assert!(
                Instant::now() < deadline,
                "the replica stopped applying: {}",
                replica.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(rc.q("GET k499"), Reply::bulk(&value(499)));
    }
    // Space comes back: the replica catches up, and its AOF has everything.
    set_fsize(replica.child.id(), None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !synced(&mut mc, &mut rc) {
        assert!(Instant::now() < deadline, "never caught up");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut rc, "aof_last_write_status"), "ok");
    // A partial resynchronization, not a full one.
    assert_eq!(info_field(&mut mc, "sync_full"), "1");
    let mut replica = replica;
    replica.child.kill().unwrap();
    replica.child.wait().unwrap();
    let acked: Vec<usize> = (0..500).collect();
    check_restart(rdir.path(), &acked, &[]);
}

#[test]
fn a_replica_stops_applying_while_its_aof_fails_and_resumes_after() {
    replica_with_a_failing_aof("no");
}

#[test]
fn a_replica_told_to_ignore_disk_errors_applies_anyway() {
    replica_with_a_failing_aof("yes");
}
