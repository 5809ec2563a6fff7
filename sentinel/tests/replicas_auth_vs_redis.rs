//! picket-sentinel against Redis 7.0's sentinel on real Redis servers: which replicas are
//! listed and counted (`replica-announced no`, `replica-priority 0`) and which may be
//! promoted; SENTINEL SET auth-pass / auth-user dropping the links so that a master that
//! wants a password is seen up once the password is right; SIMULATE-FAILURE crashes.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use support::*;

/// The replica ports SENTINEL REPLICAS lists.
fn listed(port: u16) -> BTreeSet<u16> {
    cmd(port, &["SENTINEL", "REPLICAS", "mymaster"])
        .items()
        .iter()
        .map(|r| r.field("port").unwrap().parse().unwrap())
        .collect()
}

fn num_slaves(port: u16) -> String {
    cmd(port, &["SENTINEL", "MASTER", "mymaster"])
        .field("num-slaves")
        .unwrap()
}

fn info_master0(port: u16) -> String {
    cmd(port, &["INFO", "sentinel"])
        .s()
        .split("\r\n")
        .find_map(|l| l.strip_prefix("master0:"))
        .unwrap()
        .to_string()
}

#[test]
fn unannounced_replicas_are_counted_but_not_listed_as_redis() {
    let Some(redis) = redis_bin() else { return };
    let m = server(Some(&redis), free_port(), None, &[]);
    let plain = server(Some(&redis), free_port(), Some(m.port), &[]);
    let never = server(
        Some(&redis),
        free_port(),
        Some(m.port),
        &["--replica-priority", "0"],
    );
    let hidden = server(
        Some(&redis),
        free_port(),
        Some(m.port),
        &["--replica-announced", "no"],
    );
    let picket = sentinel(None, free_port(), m.port, 1, "");
    let redis_s = sentinel(Some(&redis), free_port(), m.port, 1, "");
    let want: BTreeSet<u16> = [plain.port, never.port].into();
    for port in [picket.port, redis_s.port] {
        // Listed once the hidden replica's own INFO says replica_announced:0.
        wait_for("the replicas as Redis lists them", 30, || {
            num_slaves(port) == "3" && listed(port) == want
        });
    }
    for port in [picket.port, redis_s.port] {
        // Counted everywhere else: num-slaves, INFO's slaves=, INFO-CACHE.
        assert!(
            info_master0(port).contains(",slaves=3,"),
            "{}",
            info_master0(port)
        );
        let ic = cmd(port, &["SENTINEL", "INFO-CACHE", "mymaster"]);
        assert_eq!(ic.items()[1].items().len(), 4, "{ic:?}");
        let hidden_port = format!("tcp_port:{}\r\n", hidden.port);
        assert!(
            ic.items()[1]
                .items()
                .iter()
                .any(|e| e.items()[1].s().contains(&hidden_port)),
            "{ic:?}"
        );
        // The listed ones, as Redis shows them.
        for r in cmd(port, &["SENTINEL", "REPLICAS", "mymaster"]).items() {
            let p: u16 = r.field("port").unwrap().parse().unwrap();
            let prio = if p == never.port { "0" } else { "100" };
            assert_eq!(r.field("slave-priority").as_deref(), Some(prio), "{r:?}");
            assert_eq!(r.field("replica-announced").as_deref(), Some("1"), "{r:?}");
            assert_eq!(r.field("flags").as_deref(), Some("slave"), "{r:?}");
        }
    }
    // The same replies, field names and order.
    let keys = |port| {
        cmd(port, &["SENTINEL", "REPLICAS", "mymaster"])
            .items()
            .iter()
            .map(|r| r.keys())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(picket.port), keys(redis_s.port));
    assert_eq!(num_slaves(picket.port), num_slaves(redis_s.port));
}

/// Master + a `replica-priority 0` replica, monitored by one sentinel (picket or Redis):
/// no replica to promote; with an unannounced replica added, that one is promoted.
fn priority_zero_is_never_promoted(redis: &Path, picket: bool) -> (String, String) {
    let m = server(Some(redis), free_port(), None, &[]);
    let never = server(
        Some(redis),
        free_port(),
        Some(m.port),
        &["--replica-priority", "0"],
    );
    let s = sentinel((!picket).then_some(redis), free_port(), m.port, 1, "");
    wait_for("the replica known", 30, || {
        num_slaves(s.port) == "1"
            && cmd(s.port, &["SENTINEL", "REPLICAS", "mymaster"]).items()[0]
                .field("slave-priority")
                .as_deref()
                == Some("0")
    });
    let refused = cmd(s.port, &["SENTINEL", "FAILOVER", "mymaster"]);
    let hidden = server(
        Some(redis),
        free_port(),
        Some(m.port),
        &["--replica-announced", "no"],
    );
    wait_for("the hidden replica known", 30, || {
        info_field(hidden.port, "master_link_status") == "up"
            && num_slaves(s.port) == "2"
            && listed(s.port) == [never.port].into()
    });
    // It may take a moment before its INFO is fresh enough to be chosen.
    wait_for("a failover to start", 30, || {
        cmd(s.port, &["SENTINEL", "FAILOVER", "mymaster"]) == R::S("OK".into())
    });
    let new = wait_switch(&[&s], &format!("127.0.0.1:{}", m.port), 60);
    assert_eq!(port_of(&new), hidden.port, "picket: {picket}");
    assert_eq!(cmd(hidden.port, &["ROLE"]).items()[0].s(), "master");
    // The priority-0 replica follows the new master.
    wait_for("the priority-0 replica reconfigured", 30, || {
        info_field(never.port, "master_port") == hidden.port.to_string()
    });
    (format!("{refused:?}"), new)
}

#[test]
fn priority_zero_replicas_are_never_promoted_as_redis() {
    let Some(redis) = redis_bin() else { return };
    let (picket_refused, _) = priority_zero_is_never_promoted(&redis, true);
    let (redis_refused, _) = priority_zero_is_never_promoted(&redis, false);
    assert_eq!(picket_refused, redis_refused);
    assert_eq!(
        picket_refused,
        format!(
            "{:?}",
            R::E("NOGOODSLAVE No suitable replica to promote".into())
        )
    );
}

/// The `+sdown` / `-sdown` events of the master, in order, over the auth scenario.
fn auth_scenario(redis: &Path, picket: bool) -> Vec<String> {
    let acl: &[&str] = &[
        "--requirepass",
        "secret",
        "--masterauth",
        "secret",
        "--user",
        "mon",
        "on",
        ">monpw",
        "~*",
        "&*",
        "+@all",
    ];
    let m = server(Some(redis), free_port(), None, acl);
    let mut rargs = acl.to_vec();
    rargs.extend(["--replicaof", "127.0.0.1"]);
    let mport = m.port.to_string();
    rargs.push(&mport);
    let replicas: Vec<Proc> = (0..2)
        .map(|_| server(Some(redis), free_port(), None, &rargs))
        .collect();
    // Quorum 2 with one sentinel: the master is judged down, never failed over.
    let s = sentinel((!picket).then_some(redis), free_port(), m.port, 2, "");
    let rx = events(s.port);
    let mut seen = Vec::new();
    let at = format!("master mymaster 127.0.0.1 {}", m.port);
    let set = |args: &[&str]| {
        let mut v = vec!["SENTINEL", "SET", "mymaster"];
        v.extend_from_slice(args);
        assert_eq!(cmd(s.port, &v), R::S("OK".into()), "{v:?}");
    };
    let flags = || {
        cmd(s.port, &["SENTINEL", "MASTER", "mymaster"])
            .field("flags")
            .unwrap()
    };
    // No password: every PING gets NOAUTH, the master is down.
    wait_new(&rx, &mut seen, "+sdown", &at);
    // A wrong password: the links are dropped and opened again, still refused; no
    // -sdown/+sdown flapping.
    set(&["auth-pass", "wrong"]);
    let from = seen.len();
    let until = std::time::Instant::now() + Duration::from_millis(2500);
    while let Ok(e) = rx.recv_timeout(until.saturating_duration_since(std::time::Instant::now())) {
        seen.push(e);
    }
    assert!(
        !seen[from..]
            .iter()
            .any(|(k, m)| k.ends_with("sdown") && *m == at),
        "{seen:#?}"
    );
    assert!(flags().starts_with("s_down"), "{}", flags());
    // A user and its password: up again, and its replicas are found.
    set(&["auth-user", "mon", "auth-pass", "monpw"]);
    wait_new(&rx, &mut seen, "-sdown", &at);
    wait_for("the replicas found", 30, || num_slaves(s.port) == "2");
    for r in &replicas {
        wait_for("the replica's INFO", 30, || {
            cmd(s.port, &["SENTINEL", "REPLICAS", "mymaster"])
                .items()
                .iter()
                .any(|x| {
                    x.field("port") == Some(r.port.to_string())
                        && x.field("flags").as_deref() == Some("slave")
                        && x.field("role-reported").as_deref() == Some("slave")
                })
        });
    }
    // Wrong again: down again (master and replicas alike).
    set(&["auth-pass", "bad"]);
    wait_new(&rx, &mut seen, "+sdown", &at);
    // Back to the default user's password.
    set(&["auth-user", "", "auth-pass", "secret"]);
    wait_new(&rx, &mut seen, "-sdown", &at);
    wait_for("the master up", 20, || !flags().contains("s_down"));
    drop(replicas);
    seen.iter()
        .filter(|(k, m)| (k == "+sdown" || k == "-sdown") && *m == at)
        .map(|(k, _)| k.clone())
        .collect()
}

/// Wait (20 s at most) for a `kind` event about `msg` that comes after those in `seen`.
fn wait_new(
    rx: &std::sync::mpsc::Receiver<(String, String)>,
    seen: &mut Vec<(String, String)>,
    kind: &str,
    msg: &str,
) {
    let from = seen.len();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !seen[from..].iter().any(|(k, m)| k == kind && m == msg) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) => seen.push(e),
            Err(_) => panic!("no {kind} {msg} within 20 s; seen: {seen:#?}"),
        }
    }
}

#[test]
fn auth_pass_and_auth_user_relink_as_redis() {
    let Some(redis) = redis_bin() else { return };
    let p = auth_scenario(&redis, true);
    let r = auth_scenario(&redis, false);
    assert_eq!(p, ["+sdown", "-sdown", "+sdown", "-sdown"]);
    assert_eq!(p, r);
}

/// One sentinel (picket or Redis) on a master and a replica, armed with `flag`, asked to
/// fail over: its exit code, log and saved configuration.
fn crash(redis: &Path, picket: bool, flag: &str) -> (Option<i32>, String, String) {
    let m = server(Some(redis), free_port(), None, &[]);
    let _r = server(Some(redis), free_port(), Some(m.port), &[]);
    let mut s = sentinel((!picket).then_some(redis), free_port(), m.port, 1, "");
    wait_for("the replica known", 30, || num_slaves(s.port) == "1");
    assert_eq!(
        cmd(s.port, &["SENTINEL", "SIMULATE-FAILURE", flag]),
        R::S("OK".into())
    );
    wait_for("a failover to start", 30, || {
        cmd(s.port, &["SENTINEL", "FAILOVER", "mymaster"]) == R::S("OK".into())
    });
    let status = s.wait_exit(60).expect("the sentinel exits");
    (status.code(), s.log(), s.conf_text())
}

#[test]
fn simulated_crashes_as_redis() {
    let Some(redis) = redis_bin() else { return };
    for picket in [true, false] {
        let who = if picket { "picket" } else { "redis" };
        let (code, log, conf) = crash(&redis, picket, "crash-after-election");
        assert_eq!(code, Some(99), "{who}: {log}");
        let at = log.rfind("+elected-leader").expect(who);
        let tail = &log[at..];
        assert!(
            tail.contains("Sentinel CRASH because of SENTINEL simulate-failure"),
            "{who}: {log}"
        );
        assert!(
            !tail.contains("+failover-state-select-slave"),
            "{who}: {log}"
        );
        // The vote it gave itself is on disk (epoch 1).
        assert!(conf.contains("sentinel current-epoch 1\n"), "{who}: {conf}");

        let (code, log, conf) = crash(&redis, picket, "crash-after-promotion");
        assert_eq!(code, Some(99), "{who}: {log}");
        let at = log.rfind("+promoted-slave").expect(who);
        let tail = &log[at..];
        assert!(
            tail.contains("Sentinel CRASH because of SENTINEL simulate-failure"),
            "{who}: {log}"
        );
        assert!(
            !tail.contains("+failover-state-reconf-slaves"),
            "{who}: {log}"
        );
        // Saved before the exit: the promotion's configuration epoch.
        assert!(
            conf.contains("sentinel config-epoch mymaster 1\n"),
            "{who}: {conf}"
        );
    }
}
