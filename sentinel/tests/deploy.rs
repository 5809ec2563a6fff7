//! The local three-node deployment (`deploy/picket-ha`): it starts, its status table
//! matches the servers, a Sentinel-aware client keeps writing through the failover drill,
//! the drill reports what all three sentinels published, and the old master comes back as a
//! replica. It never lies: a port another process holds, or a process that dies at start,
//! makes `up` fail naming the port and the cause; `stop` waits until every process exited
//! and says when it had to use SIGKILL. Every environment variable the script reads is
//! documented in its help, README.md and docs/guide.md.

mod ha_support;

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ha_support::*;

/// The rows of the status table: (node, server address, role, link, what its sentinel sees).
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .filter(|l| l.starts_with(['1', '2', '3']))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// "time to <event>: <secs>s ..." of the drill's summary.
fn time_to(drill: &str, event: &str) -> f64 {
    let prefix = format!("time to {event}: ");
    let line = drill
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' line:\n{drill}"));
    let v = &line[prefix.len()..];
    let secs = v.split('s').next().unwrap_or("");
    secs.parse()
        .unwrap_or_else(|_| panic!("'{line}' has no measured time:\n{drill}"))
}

#[test]
fn local_deployment_survives_the_failover_drill() {
    if !python3_available() {
        return;
    }
    let ha = Ha::new();
    let [m0, r1, r2] = ha.servers;
    let up = ha.ok("up");
    assert!(
        up.contains("all six processes are running and answering on their ports"),
        "{up}"
    );
    let t = rows(&up);
    assert_eq!(t.len(), 3, "{up}");
    assert_eq!(
        t[0][1..3],
        [format!("127.0.0.1:{m0}"), "master".into()],
        "{up}"
    );
    for (row, port) in t[1..].iter().zip([r1, r2]) {
        assert_eq!(
            row[1..3],
            [format!("127.0.0.1:{port}"), "slave".into()],
            "{up}"
        );
        assert_eq!(row[4], "up", "{up}");
    }
    for (row, s) in t.iter().zip(ha.sentinels) {
        assert!(
            row.join(" ")
                .ends_with(&format!("127.0.0.1:{m0} (sentinel :{s})")),
            "{up}"
        );
    }
    // `up` again: everything is already running, and it says so.
    let again = ha.ok("up");
    assert_eq!(again.matches("is already running").count(), 6, "{again}");

    // A Sentinel-aware client: resolve the master, check ROLE, write; re-resolve on error.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let (s2, a2, sentinels) = (stop.clone(), acked.clone(), ha.sentinels);
    let writer = std::thread::spawn(move || {
        let mut i = 0u64;
        while !s2.load(Ordering::SeqCst) {
            let Some(addr) = sentinels
                .iter()
                .find_map(|&s| cmd(s, &["SENTINEL", "get-master-addr-by-name", "mymaster"]))
            else {
                continue;
            };
            let port: u16 = addr.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            if cmd(port, &["ROLE"])
                .and_then(|r| r.first().cloned())
                .as_deref()
                != Some("master")
            {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            i += 1;
            if cmd(port, &["SET", "last", &i.to_string()]).is_some_and(|r| r[0] == "+OK") {
                a2.store(i, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let drill = ha.ok("drill");
    assert!(
        drill.contains(&format!("+switch-master mymaster 127.0.0.1 {m0} ")),
        "{drill}"
    );
    // It listened to all three sentinels: each one's events are in the timeline, each one
    // published +switch-master, and the times are measured, never negative or made up.
    for s in ha.sentinels {
        assert!(
            drill.contains(&format!("[:{s}] +switch-master mymaster")),
            "no +switch-master from :{s}:\n{drill}"
        );
    }
    let (sdown, odown, switch) = (
        time_to(&drill, "+sdown"),
        time_to(&drill, "+odown"),
        time_to(&drill, "+switch-master"),
    );
    assert!(
        0.0 < sdown && sdown <= odown && odown <= switch,
        "{sdown} {odown} {switch}:\n{drill}"
    );
    let summary = drill
        .lines()
        .find(|l| l.starts_with("time to +switch-master: "))
        .unwrap_or_default();
    assert!(
        summary.ends_with("published by 3 of 3 sentinels)"),
        "{drill}"
    );
    assert!(!drill.contains("not observed"), "{drill}");
    let back = drill
        .lines()
        .find_map(|l| l.strip_prefix("old master back as replica: "))
        .and_then(|v| v.trim_end_matches('s').parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no measured return of the old master:\n{drill}"));
    assert!(back >= switch, "{drill}");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("the writer thread");
    let before = acked.load(Ordering::SeqCst);
    assert!(before > 0);

    // The status table tells the truth: one master, everyone sees it.
    let status = ha.ok("status");
    let port = ha.master_port().expect("a master");
    assert_ne!(port, m0);
    let last = cmd(port, &["GET", "last"]).expect("GET");
    assert_eq!(
        last[0],
        before.to_string(),
        "the last acknowledged write after the failover"
    );
    let t = rows(&status);
    assert_eq!(t.iter().filter(|r| r[2] == "master").count(), 1, "{status}");
    assert!(
        t.iter()
            .any(|r| r[1] == format!("127.0.0.1:{port}") && r[2] == "master"),
        "{status}"
    );
    for row in &t {
        assert!(
            row.join(" ")
                .contains(&format!("127.0.0.1:{port} (sentinel")),
            "{status}"
        );
    }

    // stop: each of the six processes is confirmed gone, and the ports are free.
    let pids: Vec<i32> = (1..=3)
        .flat_map(|n| [ha.pid(n, "server"), ha.pid(n, "sentinel")])
        .map(|p| p.expect("a pid file"))
        .collect();
    let stopped = ha.ok("stop");
    for pid in &pids {
        assert!(
            stopped.contains(&format!("(pid {pid}) exited")),
            "{pid}:\n{stopped}"
        );
        assert!(!alive(*pid), "pid {pid} still runs after stop:\n{stopped}");
    }
    assert!(
        stopped.contains("stopped: no process of this deployment is running"),
        "{stopped}"
    );
    for p in ha.servers.iter().chain(&ha.sentinels) {
        assert!(
            TcpStream::connect(("127.0.0.1", *p)).is_err(),
            "{p} answers"
        );
    }
    let again = ha.ok("stop");
    assert!(again.starts_with("nothing was running"), "{again}");
}

#[test]
fn up_fails_loudly_when_a_port_is_taken_or_a_process_dies() {
    if !python3_available() {
        return;
    }
    let me = std::process::id();
    // Ports held by another process (this test): nothing starts, both ports are named with
    // their holder, and the exit code says it failed.
    let ha = Ha::new();
    let held: Vec<TcpListener> = [ha.sentinels[1], ha.servers[2]]
        .iter()
        .map(|&p| TcpListener::bind(("127.0.0.1", p)).expect("bind"))
        .collect();
    let r = ha.run("up");
    assert_eq!(r.code, Some(1), "{}", r.both());
    for (p, what) in [
        (ha.sentinels[1], "the sentinel of node 2"),
        (ha.servers[2], "the server of node 3"),
    ] {
        assert!(
            r.err
                .contains(&format!("port {p} ({what}) is held by pid {me} ")),
            "{}",
            r.both()
        );
    }
    assert!(r.err.contains("nothing was started"), "{}", r.both());
    assert!(!r.out.contains("running and answering"), "{}", r.both());
    assert!(cmd(ha.servers[0], &["PING"]).is_none());
    assert!(ha.pid(1, "server").is_none());
    drop(held);

    // Another deployment on the same ports (the case of the issue): it is named by pid and
    // by what it answers.
    ha.ok("up");
    let other = Ha {
        dir: tempfile::tempdir().expect("temp dir"),
        bins: ha.bins.clone(),
        servers: ha.servers,
        sentinels: ha.sentinels,
    };
    let r = other.run("up");
    assert_eq!(r.code, Some(1), "{}", r.both());
    let first = ha.pid(1, "server").expect("pid");
    assert!(
        r.err.contains(&format!(
            "port {} (the server of node 1) is held by pid {first} (",
            ha.servers[0]
        )),
        "{}",
        r.both()
    );
    assert!(
        r.err.contains(&format!("process_id:{first} ")),
        "{}",
        r.both()
    );
    assert_eq!(r.err.matches(" is held by pid ").count(), 6, "{}", r.both());
    assert!(other.pid(1, "server").is_none());
    // The first deployment is untouched.
    assert_eq!(info_field(ha.servers[0], "process_id"), first.to_string());
    ha.ok("stop");

    // A process that dies at start: `up` names it, shows why from its log, stops what it
    // started and fails.
    let conf = ha.node_dir(2).join("server.conf");
    let text = std::fs::read_to_string(&conf).expect("server.conf of node 2");
    std::fs::write(&conf, format!("{text}no-such-directive yes\n")).expect("write");
    let r = ha.run("up");
    assert_eq!(r.code, Some(1), "{}", r.both());
    assert!(
        r.err.contains(&format!(
            "the server of node 2 (127.0.0.1:{}) (pid ",
            ha.servers[1]
        )) && r.err.contains(") died: exit code 1"),
        "{}",
        r.both()
    );
    assert!(
        r.err.contains("'no-such-directive'"),
        "the cause, from its log:\n{}",
        r.both()
    );
    assert!(
        r.err.contains("processes this run started were stopped"),
        "{}",
        r.both()
    );
    assert!(cmd(ha.servers[0], &["PING"]).is_none(), "{}", r.both());
    std::fs::write(&conf, text).expect("write");

    // drill and status on a stopped deployment say so instead of pretending.
    let r = ha.run("drill");
    assert_eq!(r.code, Some(1), "{}", r.both());
    assert!(r.err.contains("no sentinel answers"), "{}", r.both());
    let status = ha.ok("status");
    assert_eq!(
        rows(&status).iter().filter(|r| r[2] == "down").count(),
        3,
        "{status}"
    );
}

#[test]
fn stop_confirms_every_exit_and_escalates_to_sigkill() {
    if !python3_available() {
        return;
    }
    let ha = Ha::new();
    ha.ok("up");
    let stuck = ha.pid(3, "server").expect("pid");
    // A stopped process cannot act on SIGTERM; only SIGKILL ends it.
    // SAFETY: kill(2) on a pid this test's deployment started; no memory is involved.
    assert_eq!(unsafe { libc::kill(stuck, libc::SIGSTOP) }, 0);
    let r = ha.run_with("stop", &[("PICKET_HA_TIMEOUT", "2")]);
    assert!(r.ok(), "{}", r.both());
    let name = format!(
        "the server of node 3 (127.0.0.1:{}) (pid {stuck})",
        ha.servers[2]
    );
    assert!(
        r.out.contains(&format!(
            "{name} did not exit within 2s of SIGTERM: sending SIGKILL"
        )),
        "{}",
        r.both()
    );
    assert!(
        r.out.contains(&format!("{name} exited (SIGKILL)")),
        "{}",
        r.both()
    );
    assert!(
        r.out.contains(&format!(" of 2s) for {name} to exit")),
        "progress while it waits:\n{}",
        r.both()
    );
    assert_eq!(r.out.matches(") exited").count(), 6, "{}", r.both());
    assert!(!alive(stuck));
}

/// Every PICKET_* variable the script reads, from its source.
fn variables_read(script: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in script.match_indices("\"PICKET_") {
        let name: String = script[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        out.insert(name);
    }
    out
}

#[test]
fn help_and_docs_name_every_variable_the_script_reads() {
    let script = std::fs::read_to_string(root().join("deploy/picket-ha")).expect("script");
    let vars = variables_read(&script);
    for v in [
        "PICKET_HA_DIR",
        "PICKET_HA_REBUILD",
        "PICKET_BIN_DIR",
        "PICKET_HA_DOWN_AFTER",
        "PICKET_HA_SERVER_PORTS",
        "PICKET_HA_SENTINEL_PORTS",
        "PICKET_HA_TIMEOUT",
    ] {
        assert!(vars.contains(v), "{v} not read by the script? {vars:?}");
    }
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let deployment = section(&readme, "## The local HA deployment");
    let guide = std::fs::read_to_string(root().join("docs/guide.md")).expect("guide");
    let drill = section(&guide, "## 2. The local deployment");
    for v in &vars {
        assert!(
            deployment.contains(v.as_str()),
            "README.md's deployment section lacks {v}"
        );
        assert!(
            drill.contains(v.as_str()),
            "docs/guide.md section 2 lacks {v}"
        );
    }
    if !python3_available() {
        return;
    }
    let ha = Ha::new();
    let help = ha.ok("help");
    for v in &vars {
        assert!(help.contains(v.as_str()), "the help lacks {v}:\n{help}");
    }
    let r = ha.run("frobnicate");
    assert_eq!(r.code, Some(2), "{}", r.both());
    assert!(
        r.err.contains("unknown command 'frobnicate'"),
        "{}",
        r.both()
    );
    let r = ha.run_with("status", &[("PICKET_HA_SERVER_PORTS", "1,2")]);
    assert_eq!(r.code, Some(2), "{}", r.both());
    assert!(
        r.err.contains("expected three distinct ports"),
        "{}",
        r.both()
    );
}

/// A markdown section: from its heading to the next heading of the same level.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no section '{heading}'"));
    let level = heading.split(' ').next().unwrap_or("##");
    let rest = &text[start + heading.len()..];
    let end = rest
        .match_indices(&format!("\n{level} "))
        .next()
        .map_or(rest.len(), |(i, _)| i);
    &text[start..start + heading.len() + end]
}

/// Strict mode (deploy's default): a master that lost its replicas' acknowledgements
/// answers writes with READONLY, which redis-py's Sentinel client takes as "this is no
/// longer the master": it drops the connection and asks the sentinels again (instead of
/// staying on an old master that a partition cut off). Once the replicas are back, the
/// same client writes again.
#[test]
fn a_strict_master_without_its_replicas_sends_redis_py_back_to_the_sentinels() {
    if !python3_available() {
        return;
    }
    let has_redis_py = std::process::Command::new("python3")
        .args(["-c", "import redis"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_redis_py {
        skip_or_fail(
            "the redis-py check of strict mode",
            "python3 has no redis-py: pip install redis",
        );
        return;
    }
    let ha = Ha::new();
    ha.ok("up");
    let replicas: Vec<i32> = (2..=3)
        .map(|n| ha.pid(n, "server").expect("replica pid"))
        .collect();
    let signal = |sig: &str| {
        for pid in &replicas {
            let _ = std::process::Command::new("kill")
                .args([sig, &pid.to_string()])
                .status();
        }
    };
    struct Resume<F: Fn(&str)>(F);
    impl<F: Fn(&str)> Drop for Resume<F> {
        fn drop(&mut self) {
            (self.0)("-CONT");
        }
    }
    let _resume = Resume(signal);
    let script = format!(
        r#"
import sys
from redis.sentinel import Sentinel
from redis.exceptions import ConnectionError
s = Sentinel([("127.0.0.1", p) for p in {:?}], socket_timeout=2)
m = s.master_for("mymaster", socket_timeout=2)
try:
    m.set("k", "v")
    print("WROTE")
except ConnectionError as e:
    print("RERESOLVE", e)
"#,
        ha.sentinels
    );
    let run = || {
        let o = std::process::Command::new("python3")
            .args(["-c", &script])
            .output()
            .expect("python3 runs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let wrote = |what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let out = run();
            if out.starts_with("WROTE") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: {out}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wrote("never wrote");
    // Both replicas stopped: no ACK within the lease.
    (_resume.0)("-STOP");
    std::thread::sleep(Duration::from_millis(1200));
    let out = run();
    assert!(
        out.starts_with("RERESOLVE The previous master is now a slave"),
        "{out}"
    );
    (_resume.0)("-CONT");
    wrote("never wrote again");
}
