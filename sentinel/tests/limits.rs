//! Input that does not fit, against a running picket-sentinel: epochs from 2^63 up in
//! SENTINEL IS-MASTER-DOWN-BY-ADDR and in the config file (refused, never voted in or
//! saved), quorums beyond 32 bits (refused by SENTINEL SET / MONITOR and the file, where
//! Redis keeps the low bits and saves a file it cannot load), and a flood of hellos with
//! new run ids on the master's `__sentinel__:hello` channel (at most
//! `max-sentinels-per-master` sentinels known, the sentinel keeps answering). Error texts
//! Redis 7.0's redis-sentinel shares are compared with it.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

const CANDIDATE: &str = "0123456789abcdef0123456789abcdef01234567";
const OUT_OF_RANGE: &str = "ERR value is not an integer or out of range";

fn wait_master_link(port: u16) {
    wait_for("master link", 20, || {
        cmd(port, &["SENTINEL", "MASTER", "mymaster"])
            .field("role-reported")
            .as_deref()
            == Some("master")
    });
}

/// IS-MASTER-DOWN-BY-ADDR with an epoch of 2^64-1 or 2^63: an error, no vote, nothing
/// saved (before, picket voted in 2^64-1 and saved it, and the next failover wrapped the
/// epoch to 0). Redis's redis-sentinel gives the same error for both.
#[test]
fn is_master_down_by_addr_refuses_epochs_from_2_pow_63() {
    let srv = server(None, free_port(), None, &[]);
    let s = sentinel(None, free_port(), srv.port, 2, "");
    wait_master_link(s.port);
    let before = s.conf_text();
    assert!(before.contains("sentinel current-epoch 0\n"), "{before}");
    let mp = srv.port.to_string();
    let mut c = Client::connect(s.port);
    for epoch in ["18446744073709551615", "9223372036854775808", "-1", "1x"] {
        assert_eq!(
            c.cmd(&[
                "SENTINEL",
                "IS-MASTER-DOWN-BY-ADDR",
                "127.0.0.1",
                &mp,
                epoch,
                CANDIDATE
            ]),
            R::E(OUT_OF_RANGE.into()),
            "{epoch}"
        );
    }
    // A port that is not a number is the same error; one out of range matches no master.
    assert_eq!(
        c.cmd(&[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "x",
            "1",
            CANDIDATE
        ]),
        R::E(OUT_OF_RANGE.into())
    );
    assert_eq!(
        c.cmd(&[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "70000",
            "1",
            CANDIDATE
        ]),
        R::A(vec![R::I(0), R::B(Some("*".into())), R::I(0)])
    );
    // With resolve-hostnames no, a name matches no master (Redis logs it and answers 0).
    assert_eq!(
        c.cmd(&[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "localhost",
            &mp,
            "1",
            CANDIDATE
        ]),
        R::A(vec![R::I(0), R::B(Some("*".into())), R::I(0)])
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.conf_text(), before, "nothing voted or saved");
    assert!(s.log().contains("Failed to resolve hostname 'localhost'"));
    // The largest epoch is taken, and saved as it is.
    let max = i64::MAX.to_string();
    let r = c.cmd(&[
        "SENTINEL",
        "IS-MASTER-DOWN-BY-ADDR",
        "127.0.0.1",
        &mp,
        &max,
        CANDIDATE,
    ]);
    assert_eq!(
        r,
        R::A(vec![R::I(0), R::B(Some(CANDIDATE.into())), R::I(i64::MAX)])
    );
    // Saved before the reply (a crash right after it cannot make this sentinel vote again).
    assert!(s
        .conf_text()
        .contains(&format!("sentinel current-epoch {max}\n")));
    assert!(s
        .conf_text()
        .contains(&format!("sentinel leader-epoch mymaster {max}\n")));
    // ... and a restart loads it.
    let port = s.port;
    let dir = s.into_dir();
    let s = sentinel_from(None, port, "sentinel.conf", "", Some(dir));
    assert_eq!(
        cmd(s.port, &["SENTINEL", "MASTER", "mymaster"])
            .field("name")
            .as_deref(),
        Some("mymaster")
    );

    // Redis 7.0 answers the out-of-range epochs with the same error.
    let Some(redis) = redis_bin() else { return };
    let r = sentinel(Some(&redis), free_port(), srv.port, 2, "");
    wait_master_link(r.port);
    let mut rc = Client::connect(r.port);
    for epoch in ["18446744073709551615", "9223372036854775808"] {
        assert_eq!(
            rc.cmd(&[
                "SENTINEL",
                "IS-MASTER-DOWN-BY-ADDR",
                "127.0.0.1",
                &mp,
                epoch,
                CANDIDATE
            ]),
            R::E(OUT_OF_RANGE.into()),
            "redis-sentinel, {epoch}"
        );
    }
}

fn invalid(v: &str, opt: &str) -> R {
    R::E(format!(
        "ERR Invalid argument '{v}' for SENTINEL SET '{opt}'"
    ))
}

/// SENTINEL SET quorum with values that are not a positive 32-bit integer: Redis's error,
/// nothing changed, and the saved file still loads. (Before, 4294967297 was taken as 1;
/// Redis takes it as 1 too and 4294967296 as 0, which it then cannot load.)
#[test]
fn sentinel_set_and_monitor_refuse_quorums_that_do_not_fit() {
    let srv = server(None, free_port(), None, &[]);
    let s = sentinel(None, free_port(), srv.port, 2, "");
    wait_master_link(s.port);
    let mut c = Client::connect(s.port);
    for v in ["4294967297", "4294967296", "-1", "0", "abc"] {
        assert_eq!(
            c.cmd(&["SENTINEL", "SET", "mymaster", "quorum", v]),
            invalid(v, "quorum"),
            "{v}"
        );
    }
    assert_eq!(
        c.cmd(&[
            "SENTINEL",
            "SET",
            "mymaster",
            "parallel-syncs",
            "4294967297"
        ]),
        invalid("4294967297", "parallel-syncs")
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "mymaster", "quorum", "4294967295"]),
        R::S("OK".into())
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "mymaster", "quorum", "3"]),
        R::S("OK".into())
    );
    assert_eq!(
        c.cmd(&[
            "SENTINEL",
            "MONITOR",
            "other",
            "127.0.0.1",
            "6399",
            "4294967297"
        ]),
        R::E("ERR Quorum must be at most 4294967295.".into())
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "MONITOR", "other", "127.0.0.1", "6399", "0"]),
        R::E("ERR Quorum must be 1 or greater.".into())
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "MASTER", "other"]),
        R::E("ERR No such master with that name".into())
    );
    let m = c.cmd(&["SENTINEL", "MASTER", "mymaster"]);
    assert_eq!(m.field("quorum").as_deref(), Some("3"));
    assert_eq!(m.field("parallel-syncs").as_deref(), Some("1"));
    assert!(s.conf_text().contains(&format!(
        "sentinel monitor mymaster 127.0.0.1 {} 3\n",
        srv.port
    )));
    let port = s.port;
    let dir = s.into_dir();
    let s = sentinel_from(None, port, "sentinel.conf", "", Some(dir));
    assert_eq!(
        cmd(s.port, &["SENTINEL", "MASTER", "mymaster"])
            .field("quorum")
            .as_deref(),
        Some("3")
    );

    // Redis 7.0 gives the same errors for the values it refuses too.
    let Some(redis) = redis_bin() else { return };
    let r = sentinel(Some(&redis), free_port(), srv.port, 2, "");
    wait_master_link(r.port);
    for v in ["-1", "0", "abc"] {
        assert_eq!(
            cmd(r.port, &["SENTINEL", "SET", "mymaster", "quorum", v]),
            invalid(v, "quorum"),
            "redis-sentinel, {v}"
        );
    }
}

/// Run picket-sentinel on a file that must be refused: it exits 1 within 10 s; returns what
/// it printed.
fn refused_at_start(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(&conf, text).unwrap();
    let log = dir.path().join("log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(sentinel_bin())
        .arg(&conf)
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "started with {text:?}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1), "{text:?}");
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        text,
        "file untouched"
    );
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn config_files_with_epochs_or_quorums_that_do_not_fit_are_refused_at_start() {
    let port = free_port();
    let head = format!("port {port}\nsentinel monitor m 127.0.0.1 6379 2\n");
    for (line, why) in [
        (
            "sentinel current-epoch 18446744073709551615",
            "Invalid epoch '18446744073709551615'",
        ),
        (
            "sentinel config-epoch m 9223372036854775808",
            "Invalid epoch '9223372036854775808'",
        ),
        ("sentinel leader-epoch m -1", "Invalid epoch '-1'"),
        (
            "sentinel monitor q 127.0.0.1 6380 4294967297",
            "Quorum must be at most 4294967295.",
        ),
    ] {
        let out = refused_at_start(&format!("{head}{line}\n"));
        assert!(
            out.contains("*** FATAL CONFIG FILE ERROR")
                && out.contains("at line 3")
                && out.contains(&format!(">>> '{line}'"))
                && out.contains(why),
            "{line}: {out}"
        );
    }
}

/// 10,000 hellos with distinct run ids and addresses published on the master: the sentinel
/// keeps at most 64 (the default) other sentinels for the master, the newest, and answers
/// PING quickly all along; the saved file lists at most 64 either.
#[test]
fn a_flood_of_hellos_keeps_at_most_max_sentinels_per_master() {
    let srv = server(None, free_port(), None, &[]);
    let s = sentinel(None, free_port(), srv.port, 2, "");
    wait_master_link(s.port);
    let master = srv.port;
    let hello = move |i: u32| {
        format!(
            "127.0.0.1,{},{:040x},0,mymaster,127.0.0.1,{master},0",
            20_000 + i % 40_000,
            u64::from(i) + 1
        )
    };
    // One first hello, until the pub/sub link is up and it is seen.
    wait_for("the first hello", 20, || {
        cmd(master, &["PUBLISH", "__sentinel__:hello", &hello(0)]);
        std::thread::sleep(Duration::from_millis(100));
        cmd(s.port, &["SENTINEL", "SENTINELS", "mymaster"])
            .items()
            .len()
            == 1
    });
    const N: u32 = 10_000;
    let publisher = std::thread::spawn(move || {
        let mut w = TcpStream::connect(("127.0.0.1", master)).unwrap();
        let mut r = BufReader::new(w.try_clone().unwrap());
        for chunk in (1..N).collect::<Vec<_>>().chunks(500) {
            let mut buf = String::new();
            for &i in chunk {
                let h = hello(i);
                buf.push_str(&format!(
                    "*3\r\n$7\r\nPUBLISH\r\n$18\r\n__sentinel__:hello\r\n${}\r\n{h}\r\n",
                    h.len()
                ));
            }
            w.write_all(buf.as_bytes()).unwrap();
            for _ in chunk {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                assert!(line.starts_with(':'), "{line:?}");
            }
        }
    });
    let mut ping = Client::connect(s.port);
    let mut slowest = Duration::ZERO;
    let last = format!("{:040x}", u64::from(N - 1) + 1);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let t = Instant::now();
        assert_eq!(ping.cmd(&["PING"]), R::S("PONG".into()));
        slowest = slowest.max(t.elapsed());
        let known = cmd(s.port, &["SENTINEL", "SENTINELS", "mymaster"]).items();
        assert!(known.len() <= 64, "{} sentinels known", known.len());
        if publisher.is_finished() && known.iter().any(|x| x.field("name") == Some(last.clone())) {
            assert_eq!(known.len(), 64);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the last hello was not processed within 120 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    publisher.join().unwrap();
    assert!(slowest < Duration::from_secs(2), "a PING took {slowest:?}");
    // The newest 64 are the ones known.
    let known: Vec<String> = cmd(s.port, &["SENTINEL", "SENTINELS", "mymaster"])
        .items()
        .iter()
        .filter_map(|x| x.field("name"))
        .collect();
    for i in N - 64..N {
        let id = format!("{:040x}", u64::from(i) + 1);
        assert!(known.contains(&id), "{id} missing");
    }
    let m = cmd(s.port, &["SENTINEL", "MASTER", "mymaster"]);
    assert_eq!(m.field("num-other-sentinels").as_deref(), Some("64"));
    wait_for("the state saved", 10, || {
        s.conf_text().matches("sentinel known-sentinel ").count() == 64
    });
    assert!(s.log().contains("max-sentinels-per-master 64"));
}

/// The bound is a sentinel setting: SENTINEL CONFIG GET / SET, saved when not the default,
/// loaded again after a restart.
#[test]
fn max_sentinels_per_master_is_a_sentinel_config_setting() {
    let srv = server(None, free_port(), None, &[]);
    let s = sentinel(None, free_port(), srv.port, 2, "");
    let mut c = Client::connect(s.port);
    let get = |c: &mut Client| {
        c.cmd(&["SENTINEL", "CONFIG", "GET", "max-sentinels-per-master"])
            .field("max-sentinels-per-master")
    };
    assert_eq!(get(&mut c).as_deref(), Some("64"));
    assert!(!s.conf_text().contains("max-sentinels-per-master"));
    for bad in ["0", "-1", "abc", "4294967296"] {
        assert_eq!(
            c.cmd(&["SENTINEL", "CONFIG", "SET", "max-sentinels-per-master", bad]),
            R::E(format!(
                "ERR Invalid value '{bad}' to SENTINEL CONFIG SET 'max-sentinels-per-master'"
            ))
        );
    }
    assert_eq!(
        c.cmd(&["SENTINEL", "CONFIG", "SET", "max-sentinels-per-master", "3"]),
        R::S("OK".into())
    );
    assert_eq!(get(&mut c).as_deref(), Some("3"));
    assert!(s
        .conf_text()
        .contains("sentinel max-sentinels-per-master 3\n"));
    // Hellos beyond it evict.
    wait_master_link(s.port);
    for i in 0..5u32 {
        let h = format!(
            "127.0.0.1,{},{:040x},0,mymaster,127.0.0.1,{},0",
            21_000 + i,
            i + 1,
            srv.port
        );
        let id = format!("{:040x}", i + 1);
        wait_for("a hello seen", 20, || {
            cmd(srv.port, &["PUBLISH", "__sentinel__:hello", &h]);
            std::thread::sleep(Duration::from_millis(50));
            cmd(s.port, &["SENTINEL", "SENTINELS", "mymaster"])
                .items()
                .iter()
                .any(|x| x.field("name") == Some(id.clone()))
        });
        assert!(
            cmd(s.port, &["SENTINEL", "SENTINELS", "mymaster"])
                .items()
                .len()
                <= 3
        );
    }
    let port = s.port;
    let dir = s.into_dir();
    let s = sentinel_from(None, port, "sentinel.conf", "", Some(dir));
    assert_eq!(
        cmd(
            s.port,
            &["SENTINEL", "CONFIG", "GET", "max-sentinels-per-master"]
        )
        .field("max-sentinels-per-master")
        .as_deref(),
        Some("3")
    );
    assert_eq!(
        cmd(
            s.port,
            &[
                "SENTINEL",
                "CONFIG",
                "SET",
                "max-sentinels-per-master",
                "64"
            ]
        ),
        R::S("OK".into())
    );
    // As Redis's rewrite does with any option back at its default: a line the file has
    // keeps its place with the value in force; a file without one gets none.
    assert!(s
        .conf_text()
        .contains("\nsentinel max-sentinels-per-master 64\n"));
}
