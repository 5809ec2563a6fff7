//! The descriptor limit (`ulimit -n`) and the split brain it caused: 300 idle clients of a
//! sentinel under `ulimit -n 256` took the descriptors its links needed, so it could not
//! reach a healthy master, declared it down and promoted a replica. Now the sentinel lowers
//! `maxclients` to what leaves descriptors for its links (refusing the excess with Redis's
//! error), and a link that cannot be opened because of a local error (EMFILE...) never makes
//! an instance down.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use support::*;

const NOFILE: u64 = 256;
const REFUSAL: &[u8] = b"-ERR max number of clients reached\r\n";

/// The events that a false failure detection would publish.
const DOWN_EVENTS: [&str; 6] = [
    "+sdown",
    "+odown",
    "+try-failover",
    "+elected-leader",
    "+switch-master",
    "+failover-end",
];

/// `n` idle connections; after a moment, (the refused ones' bytes, the open ones).
fn idle_clients(port: u16, n: usize) -> (Vec<Vec<u8>>, Vec<TcpStream>) {
    let conns: Vec<TcpStream> = (0..n)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut refused = Vec::new();
    let mut open = Vec::new();
    for mut c in conns {
        c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 256];
        let closed = loop {
            match c.read(&mut b) {
                Ok(0) => break true,
                Ok(k) => got.extend_from_slice(&b[..k]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    break false
                }
                Err(_) => break true,
            }
        };
        if closed || !got.is_empty() {
            refused.push(got);
        } else {
            open.push(c);
        }
    }
    (refused, open)
}

/// A master and a replica (picket), and a picket sentinel under `ulimit -n 256` with quorum
/// 1 and a 1 s down-after that knows the replica.
fn setup() -> (Vec<Proc>, Proc) {
    let mp = free_port();
    let rp = free_port();
    let master = server(None, mp, None, &[]);
    let replica = server(None, rp, Some(mp), &[]);
    wait_for("replica link", 20, || {
        info_field(rp, "master_link_status") == "up"
    });
    let sp = free_port();
    let s = sentinel_from_with_nofile(
        None,
        sp,
        "sentinel.conf",
        &sentinel_conf(sp, mp, 1, ""),
        None,
        Some(NOFILE),
    );
    wait_for("replica known", 20, || {
        cmd(sp, &["SENTINEL", "master", "mymaster"])
            .field("num-slaves")
            .as_deref()
            == Some("1")
    });
    (vec![master, replica], s)
}

/// Close the sentinel's links on the master (it reconnects at once).
fn kill_links(master: u16) {
    cmd(master, &["CLIENT", "KILL", "TYPE", "normal"]);
    cmd(master, &["CLIENT", "KILL", "TYPE", "pubsub"]);
}

/// Events so far, without waiting.
fn drain(rx: &mpsc::Receiver<(String, String)>, seen: &mut Vec<(String, String)>) {
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
}

fn addr_of(admin: &mut Client) -> String {
    admin
        .cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"])
        .items()
        .iter()
        .map(|x| x.s())
        .collect::<Vec<_>>()
        .join(":")
}

/// No failure event, the same master address (asked on the held connection `admin`), and
/// the servers' roles as they were.
fn assert_master_unchanged(
    admin: &mut Client,
    servers: &[Proc],
    addr: &str,
    seen: &[(String, String)],
    log: &str,
) {
    let bad: Vec<_> = seen
        .iter()
        .filter(|(k, _)| DOWN_EVENTS.contains(&k.as_str()))
        .collect();
    assert!(bad.is_empty(), "false failure detection: {bad:?}\n{log}");
    assert_eq!(addr_of(admin), addr);
    assert_eq!(cmd(servers[0].port, &["ROLE"]).items()[0].s(), "master");
    assert_eq!(cmd(servers[1].port, &["ROLE"]).items()[0].s(), "slave");
}

#[test]
fn idle_clients_beyond_maxclients_are_refused_and_the_master_stays_master() {
    if children_may_raise_the_hard_limit() {
        return;
    }
    let (servers, s) = setup();
    let sp = s.port;
    // 256 descriptors, less the sentinel's reserve (32 as Redis, plus 16 for scripts) and
    // its links known at start (2 for the master): 206.
    assert_eq!(info_field(sp, "maxclients"), "206");
    let addr = master_addr(sp);
    let rx = events(sp);
    let mut seen = Vec::new();
    let mut admin = Client::connect(sp);
    // The short connections of the checks above are gone.
    wait_for("only the events and admin clients", 10, || {
        admin
            .cmd(&["INFO", "clients"])
            .s()
            .contains("connected_clients:2\r\n")
    });
    // 300 idle clients: the excess gets Redis's error. The links now known (master and
    // replica: 4 descriptors) keep theirs: 256 - 48 - 4 = 204 clients, 2 of them already
    // here (events, admin).
    let (refused, open) = idle_clients(sp, 300);
    for r in &refused {
        assert_eq!(r.as_slice(), REFUSAL, "{}", String::from_utf8_lossy(r));
    }
    assert_eq!(open.len(), 202, "{}", s.log());
    assert_eq!(refused.len(), 98);
    let info = admin.cmd(&["INFO", "clients"]).s();
    assert!(info.contains("connected_clients:204\r\n"), "{info}");
    // Several down-after periods, the master's links cut every second: the sentinel
    // reconnects with the descriptors it kept and never sees the master down.
    for _ in 0..5 {
        kill_links(servers[0].port);
        std::thread::sleep(Duration::from_secs(1));
        drain(&rx, &mut seen);
    }
    std::thread::sleep(Duration::from_secs(1));
    drain(&rx, &mut seen);
    assert_master_unchanged(&mut admin, &servers, &addr, &seen, &s.log());
    let m = admin.cmd(&["SENTINEL", "master", "mymaster"]);
    assert_eq!(m.field("flags").as_deref(), Some("master"), "{m:?}");
    assert!(!s.log().contains("Can't open a link"), "{}", s.log());
    // Room again once the idle clients leave.
    drop(open);
    wait_for("a free client slot", 10, || {
        let mut c = TcpStream::connect(("127.0.0.1", sp)).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        std::io::Write::write_all(&mut c, b"PING\r\n").unwrap();
        let mut b = [0u8; 7];
        c.read_exact(&mut b).is_ok() && &b == b"+PONG\r\n"
    });
}

/// Set a running process's soft `RLIMIT_NOFILE` (same user, hard limit unchanged: no
/// privilege needed).
fn set_soft_limit(pid: u32, soft: u64) {
    let l = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: NOFILE as libc::rlim_t,
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
fn links_that_fail_locally_never_make_the_master_down() {
    if children_may_raise_the_hard_limit() {
        return;
    }
    let (servers, s) = setup();
    let sp = s.port;
    let addr = master_addr(sp);
    let rx = events(sp);
    let mut seen = Vec::new();
    let mut admin = Client::connect(sp);
    assert_eq!(admin.cmd(&["PING"]).s(), "PONG");
    // No new descriptor at all: every reconnection fails with EMFILE.
    set_soft_limit(s.child.id(), 4);
    for _ in 0..6 {
        kill_links(servers[0].port);
        std::thread::sleep(Duration::from_secs(1));
        drain(&rx, &mut seen);
    }
    admin.send(&["SENTINEL", "master", "mymaster"]);
    let m = admin
        .read()
        .unwrap_or_else(|| panic!("no reply: {}", s.log()));
    assert_eq!(
        m.field("flags").as_deref(),
        Some("master,disconnected"),
        "{m:?}\n{}",
        s.log()
    );
    assert_master_unchanged(&mut admin, &servers, &addr, &seen, &s.log());
    let log = s.log();
    let warning = format!(
        "Can't open a link to master mymaster 127.0.0.1 {}: Too many open files. This is a local error: the instance is not considered down while it lasts.",
        servers[0].port
    );
    assert_eq!(log.matches(&warning).count(), 1, "{log}");
    // Descriptors come back: the links open again, logged once, and all is as before.
    set_soft_limit(s.child.id(), NOFILE);
    wait_for("the master link back", 10, || {
        admin
            .cmd(&["SENTINEL", "master", "mymaster"])
            .field("flags")
            .as_deref()
            == Some("master")
    });
    std::thread::sleep(Duration::from_secs(2));
    drain(&rx, &mut seen);
    assert_master_unchanged(&mut admin, &servers, &addr, &seen, &s.log());
    let log = s.log();
    assert_eq!(
        log.matches("Local error over for master mymaster").count(),
        1,
        "{log}"
    );
}

/// What Redis's sentinel answers the same way: the refusal, and INFO clients' fields (its
/// maxclients is 224 here, since it keeps nothing for its links: the very bug).
#[test]
fn refusal_and_info_clients_as_redis_sentinel() {
    let Some(redis) = redis_bin() else { return };
    if children_may_raise_the_hard_limit() {
        return;
    }
    let mp = free_port();
    let _master = server(None, mp, None, &[]);
    let mut fields = Vec::new();
    for r in [None, Some(redis.as_path())] {
        let sp = free_port();
        let s = sentinel_from_with_nofile(
            r,
            sp,
            "sentinel.conf",
            &sentinel_conf(sp, mp, 1, ""),
            None,
            Some(NOFILE),
        );
        let (refused, open) = idle_clients(sp, 300);
        assert!(!refused.is_empty() && !open.is_empty(), "{}", s.log());
        for b in &refused {
            assert_eq!(
                b.as_slice(),
                REFUSAL,
                "{r:?}: {}",
                String::from_utf8_lossy(b)
            );
        }
        drop(open);
        let mut info = String::new();
        wait_for("a free client slot", 10, || {
            let mut c = Client::connect(sp);
            c.send(&["INFO", "clients"]);
            match c.read() {
                Some(R::B(Some(text))) => {
                    info = text;
                    true
                }
                _ => false,
            }
        });
        let names: Vec<String> = info
            .lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect();
        fields.push(names);
    }
    assert_eq!(fields[0], fields[1], "INFO clients: picket (left), redis");
}
