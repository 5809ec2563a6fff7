//! The descriptor limit (`ulimit -n`), against Redis 7.0: at start the server makes room for
//! `maxclients` + 32 descriptors or lowers `maxclients` to what fits (Redis's
//! `adjustOpenFilesLimit`, with its three warnings), so the excess client gets `-ERR max
//! number of clients reached` while earlier clients and BGSAVE keep working; CONFIG SET
//! maxclients refuses what the limit cannot hold; and an accept() that fails for want of
//! descriptors is logged at a bounded rate, not in a flood.

mod common;
mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Reply, Server};
use util::{info_field, wait_until};

const NOFILE: u64 = 256;
const REDUCED: &str = "224";

const WARNINGS: [&str; 3] = [
    "You requested maxclients of 10000 requiring at least 10032 max file descriptors.",
    "Server can't set maximum open files to 10032 because of OS error: Operation not permitted.",
    "Current maximum open files is 256. maxclients has been reduced to 224 to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
];

fn name(s: &Server) -> &'static str {
    if s.is_redis {
        "redis"
    } else {
        "picket"
    }
}

/// picket, and redis-server when installed, both under `ulimit -n 256`.
fn both_limited(extra: &[&str]) -> Vec<Server> {
    let mut v = vec![Server::start_with_nofile(extra, false, NOFILE).expect("picket")];
    if let Some(r) = Server::start_with_nofile(extra, true, NOFILE) {
        v.push(r);
    }
    v
}

/// Connect and PING: the first reply line, "" when the connection closed without one.
fn ping(port: u16) -> (TcpStream, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let _ = s.write_all(b"PING\r\n");
    let mut got = Vec::new();
    let mut b = [0u8; 256];
    while !got.ends_with(b"\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&b[..n]),
        }
    }
    (s, String::from_utf8_lossy(&got).trim_end().to_string())
}

fn bgsave_done(c: &mut common::Conn) -> bool {
    wait_until(Duration::from_secs(10), || {
        info_field(c, "persistence", "rdb_bgsave_in_progress") == "0"
    })
}

#[test]
fn low_ulimit_reduces_maxclients_and_refuses_the_excess() {
    if common::children_may_raise_the_hard_limit() {
        return;
    }
    for s in both_limited(&[]) {
        let who = name(&s);
        let mut admin = s.conn();
        assert_eq!(
            info_field(&mut admin, "clients", "maxclients"),
            REDUCED,
            "{who}"
        );
        assert_eq!(
            admin.q("CONFIG GET maxclients"),
            Reply::bulks(&["maxclients", REDUCED]),
            "{who}"
        );
        assert_eq!(admin.q("SET k v"), Reply::ok());
        // The start-up probe's connection is gone.
        assert!(wait_until(Duration::from_secs(5), || {
            info_field(&mut admin, "clients", "connected_clients") == "1"
        }));
        // 300 more clients: 223 fit beside the admin connection, the rest are refused.
        let mut admitted = Vec::new();
        let mut refused = 0;
        for i in 0..300 {
            let (conn, line) = ping(s.port);
            match line.as_str() {
                "+PONG" => admitted.push(conn),
                "-ERR max number of clients reached" => refused += 1,
                other => panic!("{who}: client {i} got {other:?}"),
            }
        }
        assert_eq!(admitted.len(), 223, "{who}");
        assert_eq!(refused, 77, "{who}");
        // Earlier clients still work.
        assert_eq!(admin.q("GET k"), Reply::bulk("v"), "{who}");
        for c in admitted.iter_mut().take(5) {
            c.write_all(b"PING\r\n").unwrap();
            let mut b = [0u8; 7];
            c.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"+PONG\r\n", "{who}");
        }
        assert!(
            info_field(&mut admin, "stats", "rejected_connections")
                .parse::<u64>()
                .unwrap()
                >= 77
        );
        // Persistence keeps its descriptors with every client slot taken.
        assert_eq!(
            admin.q("BGSAVE"),
            Reply::simple("Background saving started"),
            "{who}"
        );
        assert!(bgsave_done(&mut admin), "{who}");
        assert_eq!(
            info_field(&mut admin, "persistence", "rdb_last_bgsave_status"),
            "ok",
            "{who}"
        );
        assert!(s.dir.path().join("dump.rdb").exists(), "{who}");
        // CONFIG SET cannot raise maxclients past the limit (Redis's error), and lowering
        // it works.
        assert_eq!(
            admin.q("CONFIG SET maxclients 300"),
            Reply::err("ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with 224"),
            "{who}"
        );
        assert_eq!(
            admin.q("CONFIG GET maxclients"),
            Reply::bulks(&["maxclients", REDUCED]),
            "{who}"
        );
        assert_eq!(admin.q("CONFIG SET maxclients 200"), Reply::ok(), "{who}");
        assert_eq!(
            info_field(&mut admin, "clients", "maxclients"),
            "200",
            "{who}"
        );
        // The warnings, once each at start (and again for the refused CONFIG SET, as Redis).
        let log = s.log_text();
        assert_eq!(
            log.matches(WARNINGS[0]).count(),
            1,
            "{who}: start-up warning missing or repeated:\n{log}"
        );
        assert_eq!(log.matches(WARNINGS[2]).count(), 2, "{who}:\n{log}");
        assert!(log.contains(WARNINGS[1]), "{who}:\n{log}");
        assert!(
            log.contains(
                "You requested maxclients of 300 requiring at least 332 max file descriptors."
            ),
            "{who}:\n{log}"
        );
        assert!(
            log.contains("Failed applying new configuration. Possibly related to new maxclients setting. Restoring previous settings."),
            "{who}:\n{log}"
        );
        if !s.is_redis {
            assert!(
                !log.contains("Accepting client connection"),
                "picket ran out of descriptors:\n{log}"
            );
        }
        drop(admitted);
    }
}

#[test]
fn a_ulimit_that_fits_no_client_stops_the_start() {
    if common::children_may_raise_the_hard_limit() {
        return;
    }
    let mut bins = vec![common::picket_bin().to_string()];
    bins.extend(common::which("redis-server"));
    for bin in bins {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut cmd = std::process::Command::new(&bin);
        cmd.args(["--port", &common::free_port().to_string(), "--save", ""])
            .current_dir(dir.path())
            .stdout(std::fs::File::create(&log).unwrap());
        common::set_nofile_in_child(&mut cmd, 30);
        let mut child = cmd.spawn().expect("run");
        let mut status = None;
        wait_until(Duration::from_secs(5), || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            text.contains("Your current 'ulimit -n' of 30 is not enough for the server to start. Please increase your open file limit to at least 10032. Exiting."),
            "{bin}: {text}"
        );
        assert_eq!(status.and_then(|s| s.code()), Some(1), "{bin}: {text}");
    }
}

/// Set a running process's `RLIMIT_NOFILE` (same user: allowed without privileges).
fn prlimit(pid: u32, n: u64) {
    let l = libc::rlimit {
        rlim_cur: n as libc::rlim_t,
        rlim_max: n as libc::rlim_t,
    };
    // SAFETY: prlimit reads `l` and writes nothing (null old limit).
    let r = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &l,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn accept_out_of_descriptors_is_logged_at_a_bounded_rate() {
    let s = Server::start_with_nofile(&[], false, NOFILE).expect("picket");
    // The limit drops under the server's feet (as when descriptors go to something else):
    // accept() fails with EMFILE while maxclients still admits.
    prlimit(s.child.id(), 48);
    let mut open = Vec::new();
    let mut waiting = Vec::new();
    for _ in 0..60 {
        let mut c = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
        c.set_read_timeout(Some(Duration::from_millis(300))).ok();
        c.write_all(b"PING\r\n").unwrap();
        let mut b = [0u8; 7];
        match c.read_exact(&mut b) {
            Ok(()) => {
                assert_eq!(&b, b"+PONG\r\n");
                open.push(c);
            }
            Err(_) => waiting.push(c),
        }
    }
    assert!(!open.is_empty() && !waiting.is_empty(), "{}", s.log_text());
    std::thread::sleep(Duration::from_secs(2));
    let log = s.log_text();
    let warnings = log.matches("Accepting client connection").count();
    assert_eq!(
        warnings, 1,
        "one warning per 10 s when accept() fails, not a flood:\n{log}"
    );
    assert!(
        log.contains("Accepting client connection: accept: Too many open files"),
        "{log}"
    );
    // Descriptors come back: the waiting clients are served.
    drop(open);
    for c in waiting.iter_mut().take(10) {
        c.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut b = [0u8; 7];
        c.read_exact(&mut b)
            .expect("served once descriptors are free");
        assert_eq!(&b, b"+PONG\r\n");
    }
    let log = s.log_text();
    assert!(log.contains("Accepting client connections again"), "{log}");
}
