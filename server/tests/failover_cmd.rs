//! The FAILOVER command (Redis 6.2+): a coordinated switch from the master to a replica with
//! no acknowledged write lost, its abort paths (ABORT, a timeout, FORCE), and its errors.
//! The scenarios run on picket-server, on Redis 7.0, and mixed (a picket master handing over
//! to a Redis replica and the reverse), so both sides of `PSYNC ... FAILOVER` are checked
//! against Redis's.

mod common;

use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Picket,
    Redis,
}

fn start(kind: Kind, extra: &[&str]) -> Option<Server> {
    let mut args = vec![
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    match kind {
        Kind::Picket => Some(Server::start(&args)),
        Kind::Redis => Server::redis(&args),
    }
}

fn info(c: &mut Conn, field: &str) -> String {
    let text = c.q("INFO").text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .to_string()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait until `replica` follows `master` with its link up and everything applied.
fn wait_synced(master: &mut Conn, replica: &mut Conn) {
    wait_for("the replica to catch up", || {
        info(replica, "master_link_status") == "up"
            && info(master, "master_repl_offset") == info(replica, "slave_repl_offset")
    });
}

/// A master with two replicas, all synced, with some data.
fn trio(kinds: [Kind; 3]) -> Option<[Server; 3]> {
    let m = start(kinds[0], &[])?;
    let r1 = start(kinds[1], &[])?;
    let r2 = start(kinds[2], &[])?;
    let mut mc = m.conn();
    for i in 0..100 {
        assert_eq!(
            mc.cmd(&["SET", &format!("k{i}"), &i.to_string()]),
            Reply::ok()
        );
    }
    for r in [&r1, &r2] {
        let mut rc = r.conn();
        assert_eq!(
            rc.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
            Reply::ok()
        );
        wait_synced(&mut mc, &mut rc);
    }
    Some([m, r1, r2])
}

fn coordinated_switch(kinds: [Kind; 3]) {
    let Some([m, r1, r2]) = trio(kinds) else {
        return;
    };
    let (mut mc, mut r1c, mut r2c) = (m.conn(), r1.conn(), r2.conn());
    let full_before = info(&mut r1c, "sync_full");
    let port = r1.port.to_string();
    assert_eq!(
        mc.cmd(&["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "20000"]),
        Reply::ok()
    );
    // A write sent now is held, then refused: the old master is a replica by then.
    let mut w = m.conn();
    let r = w.cmd(&["SET", "during", "1"]);
    assert!(
        matches!(&r, Reply::Error(e) if e.starts_with("READONLY")),
        "{r:?}"
    );
    wait_for("the roles to swap", || {
        r1c.q("ROLE").items()[0] == Reply::bulk("master")
            && info(&mut mc, "role") == "slave"
            && info(&mut mc, "master_port") == port
            && info(&mut mc, "master_link_status") == "up"
            && info(&mut mc, "master_failover_state") == "no-failover"
    });
    // The old master continued its history with the new one: no full sync.
    assert_eq!(info(&mut r1c, "sync_full"), full_before);
    assert!(info(&mut r1c, "sync_partial_ok").parse::<u64>().unwrap() >= 1);
    for c in [&mut r1c, &mut mc] {
        assert_eq!(c.q("DBSIZE"), Reply::Int(100));
        assert_eq!(c.q("GET k42"), Reply::bulk("42"));
        assert_eq!(c.q("EXISTS during"), Reply::Int(0));
    }
    // Writes now go to the new master and reach the old one, and through it the other
    // replica (which stayed with the old master, now a replica itself).
    assert_eq!(r1c.q("SET after 1"), Reply::ok());
    wait_for("the write to reach both", || {
        mc.q("GET after") == Reply::bulk("1") && r2c.q("GET after") == Reply::bulk("1")
    });
}

#[test]
fn failover_hands_the_master_role_over_without_losing_writes() {
    coordinated_switch([Kind::Picket; 3]);
}

#[test]
fn redis_failover_behaves_alike() {
    coordinated_switch([Kind::Redis; 3]);
}

#[test]
fn picket_master_hands_over_to_a_redis_replica() {
    coordinated_switch([Kind::Picket, Kind::Redis, Kind::Picket]);
}

#[test]
fn redis_master_hands_over_to_a_picket_replica() {
    coordinated_switch([Kind::Redis, Kind::Picket, Kind::Redis]);
}

/// A target that cannot acknowledge (DEBUG SLEEP): the failover waits with writes held,
/// then ABORT, or the timeout, gives the master back its writes; FORCE fails over anyway.
fn aborts(kind: Kind) {
    let Some([m, r1, _r2]) = trio([kind; 3]) else {
        return;
    };
    let mut mc = m.conn();
    let port = r1.port.to_string();
    let sleep_replica = |secs: &str| {
        let mut c = r1.conn();
        c.send(&["DEBUG", "SLEEP", secs]);
        // Something the sleeping replica has not acknowledged.
        std::thread::sleep(Duration::from_millis(100));
        c
    };

    // ABORT.
    let mut sleeper = sleep_replica("2");
    assert_eq!(mc.q("SET x 1"), Reply::ok());
    assert_eq!(
        mc.cmd(&["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "60000"]),
        Reply::ok()
    );
    assert_eq!(info(&mut mc, "master_failover_state"), "waiting-for-sync");
    assert_eq!(
        mc.q("FAILOVER"),
        Reply::err("ERR FAILOVER already in progress.")
    );
    let mut w = m.conn();
    w.send(&["SET", "held", "1"]);
    w.set_timeout(Duration::from_millis(300));
    assert_eq!(w.try_read(), None, "the write is held");
    w.set_timeout(Duration::from_secs(10));
    assert_eq!(mc.q("FAILOVER ABORT"), Reply::ok());
    assert_eq!(
        w.read(),
        Reply::ok(),
        "and runs on the master after the abort"
    );
    assert_eq!(info(&mut mc, "master_failover_state"), "no-failover");
    assert_eq!(info(&mut mc, "role"), "master");
    assert_eq!(sleeper.read(), Reply::ok());

    // A timeout without FORCE aborts by itself.
    let mut sleeper = sleep_replica("2");
    assert_eq!(mc.q("SET y 1"), Reply::ok());
    assert_eq!(
        mc.cmd(&["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "300"]),
        Reply::ok()
    );
    wait_for("the timeout to abort", || {
        info(&mut mc, "master_failover_state") == "no-failover"
    });
    assert_eq!(info(&mut mc, "role"), "master");
    assert_eq!(mc.q("SET z 1"), Reply::ok());
    assert_eq!(sleeper.read(), Reply::ok());

    // With FORCE the timeout fails over anyway.
    let mut sleeper = sleep_replica("1");
    assert_eq!(mc.q("SET w 1"), Reply::ok());
    assert_eq!(
        mc.cmd(&[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &port,
            "TIMEOUT",
            "200",
            "FORCE"
        ]),
        Reply::ok()
    );
    assert_eq!(sleeper.read(), Reply::ok());
    let mut r1c = r1.conn();
    wait_for("the forced switch", || {
        r1c.q("ROLE").items()[0] == Reply::bulk("master")
            && info(&mut mc, "master_port") == port
            && info(&mut mc, "master_link_status") == "up"
            && info(&mut mc, "master_failover_state") == "no-failover"
    });
}

#[test]
fn failover_abort_timeout_and_force() {
    aborts(Kind::Picket);
}

#[test]
fn redis_failover_aborts_alike() {
    aborts(Kind::Redis);
}

fn errors(kind: Kind) -> Option<Vec<Reply>> {
    let lone = start(kind, &[])?;
    let mut c = lone.conn();
    let mut out = Vec::new();
    for cmd in [
        "FAILOVER",
        "FAILOVER ABORT",
        "FAILOVER TIMEOUT 0",
        "FAILOVER TIMEOUT -5",
        "FAILOVER TIMEOUT abc",
        "FAILOVER TIMEOUT 10 TIMEOUT 10",
        "FAILOVER BOGUS",
        "FAILOVER TO 127.0.0.1",
        "FAILOVER TO 127.0.0.1 abc",
        "FAILOVER FORCE",
        "FAILOVER ABORT FORCE",
    ] {
        out.push(c.q(cmd));
    }
    let [m, r1, _] = trio([kind; 3])?;
    let mut mc = m.conn();
    let port = r1.port.to_string();
    for cmd in [
        vec!["FAILOVER", "FORCE"],
        vec!["FAILOVER", "TO", "127.0.0.1", &port, "FORCE"],
        vec!["FAILOVER", "TO", "127.0.0.1", "1"],
        vec!["FAILOVER", "TO", "10.1.2.3", &port],
    ] {
        out.push(mc.cmd(&cmd));
    }
    let mut rc = r1.conn();
    out.push(rc.q("FAILOVER"));
    // PSYNC ... FAILOVER from someone whose history is not ours.
    out.push(rc.cmd(&[
        "PSYNC",
        "0123456789012345678901234567890123456789",
        "1",
        "FAILOVER",
    ]));
    Some(out)
}

#[test]
fn errors_as_redis() {
    let picket = errors(Kind::Picket).expect("picket starts");
    assert!(picket.iter().all(Reply::is_error), "{picket:?}");
    if let Some(redis) = errors(Kind::Redis) {
        assert_eq!(picket, redis);
    }
}
