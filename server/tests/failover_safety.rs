//! `failover-safety strict` with the real binaries over TCP (issue #16, rules 1 and 3 of
//! docs/failover-safety.md): a write's reply leaves only once enough replicas hold it, replies
//! behind it keep their order, a write the replicas do not acknowledge within the lease gets
//! NOREPLICAS, and a master without fresh ACKs (no replicas, a stopped replica) refuses writes
//! and reads while an idle one keeps its lease. Classic mode (the default) is Redis's
//! behaviour and is tested everywhere else.

mod common;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};
use picket_common::resp::encode_command;

const LEASE_LOST: &str = "MASTERDOWN This master has not heard from enough replicas within failover-lease-ms (failover-safety strict): a replica may have been promoted.";

fn info(c: &mut Conn, field: &str) -> String {
    let text = c.cmd(&["INFO", "replication"]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_default()
}

fn picket(extra: &[&str]) -> Server {
    let mut args = vec!["--repl-diskless-sync-delay", "0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Wait until the master counts `n` online replicas.
fn wait_replicas(master: &mut Conn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while info(master, "connected_slaves") != n.to_string()
        || (0..n).any(|i| !info(master, &format!("slave{i}")).contains("state=online"))
    {
        assert!(Instant::now() < deadline, "replicas never came online");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(server: &Server, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &server.child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill {sig}");
}

#[test]
fn the_directives_read_and_change_like_any_other() {
    let s = picket(&[]);
    let mut c = s.conn();
    assert_eq!(
        c.q("CONFIG GET failover-safety"),
        Reply::bulks(&["failover-safety", "classic"])
    );
    assert_eq!(
        c.q("CONFIG GET failover-lease-ms"),
        Reply::bulks(&["failover-lease-ms", "500"])
    );
    assert_eq!(c.q("CONFIG SET failover-safety strict"), Reply::ok());
    assert_eq!(
        c.q("CONFIG GET failover-safety"),
        Reply::bulks(&["failover-safety", "strict"])
    );
    let bad = c.q("CONFIG SET failover-safety sometimes");
    assert!(bad.is_error(), "{bad:?}");
    assert!(c.q("CONFIG SET failover-lease-ms 0").is_error());
    assert_eq!(c.q("CONFIG SET failover-safety classic"), Reply::ok());
}

#[test]
fn a_strict_master_without_replicas_refuses_writes_before_applying_them() {
    let s = picket(&["--failover-safety", "strict"]);
    let mut c = s.conn();
    assert_eq!(
        c.q("SET k v"),
        Reply::err("NOREPLICAS Not enough good replicas to write.")
    );
    // Without a lease it serves no data either (a replica may have been promoted); what
    // reads no data still runs.
    assert_eq!(c.q("GET k"), Reply::err(LEASE_LOST));
    assert_eq!(c.q("DBSIZE"), Reply::err(LEASE_LOST));
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
    assert_eq!(info(&mut c, "role"), "master");
    // Classic again: the write was never applied.
    assert_eq!(c.q("CONFIG SET failover-safety classic"), Reply::ok());
    assert_eq!(c.q("EXISTS k"), Reply::Int(0));
}

#[test]
fn an_acknowledged_write_is_on_the_replica_when_its_reply_arrives() {
    let m = picket(&["--failover-safety", "strict"]);
    let r = picket(&[]);
    let mut mc = m.conn();
    let mut rc = r.conn();
    assert_eq!(
        rc.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
        Reply::ok()
    );
    wait_replicas(&mut mc, 1);
    for i in 0..200 {
        let key = format!("k{i}");
        assert_eq!(mc.cmd(&["SET", &key, &i.to_string()]), Reply::ok());
        // The reply came after the replica's ACK of the write: it holds the value now.
        assert_eq!(
            rc.cmd(&["GET", &key]),
            Reply::bulk(&i.to_string()),
            "key {key}"
        );
    }
    // A pipeline of writes and reads: replies in order, each write on the replica.
    let mut batch = Vec::new();
    for _ in 0..50 {
        batch.extend_from_slice(&encode_command(&["INCR", "counter"]));
        batch.extend_from_slice(&encode_command(&["GET", "counter"]));
    }
    mc.send_raw(&batch);
    for i in 1..=50 {
        assert_eq!(mc.read(), Reply::Int(i));
        assert_eq!(mc.read(), Reply::bulk(&i.to_string()));
    }
    assert_eq!(rc.q("GET counter"), Reply::bulk("50"));
    // MULTI/EXEC: the transaction's reply is held for its effects.
    mc.q("MULTI");
    mc.q("SET t1 a");
    mc.q("SET t2 b");
    assert_eq!(mc.q("EXEC"), Reply::arr(vec![Reply::ok(), Reply::ok()]));
    assert_eq!(rc.q("MGET t1 t2"), Reply::bulks(&["a", "b"]));
    // A blocked pop served by another client's push: its reply is a write's too.
    let mut waiter = m.conn();
    waiter.send(&["BLPOP", "q", "5"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(mc.q("RPUSH q x y"), Reply::Int(2));
    assert_eq!(waiter.read(), Reply::bulks(&["q", "x"]));
    assert_eq!(rc.q("LRANGE q 0 -1"), Reply::bulks(&["y"]));
    assert_eq!(mc.q("PUBLISH ch m"), Reply::Int(0));
}

#[test]
fn a_write_the_replica_does_not_acknowledge_within_the_lease_gets_noreplicas() {
    let m = picket(&["--failover-safety", "strict", "--failover-lease-ms", "300"]);
    let r = picket(&[]);
    let mut mc = m.conn();
    let mut rc = r.conn();
    assert_eq!(
        rc.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
        Reply::ok()
    );
    wait_replicas(&mut mc, 1);
    assert_eq!(mc.q("SET before 1"), Reply::ok());
    // A stopped replica (a GC pause, SIGSTOP) acknowledges nothing.
    signal(&r, "-STOP");
    let started = Instant::now();
    let mut batch = encode_command(&["SET", "during", "2"]).to_vec();
    batch.extend_from_slice(&encode_command(&["GET", "during"]));
    mc.send_raw(&batch);
    let reply = mc.read();
    let waited = started.elapsed();
    assert_eq!(
        reply,
        Reply::err("NOREPLICAS Not enough good replicas acknowledged the write within failover-lease-ms; it was applied on the master and may or may not survive a failover.")
    );
    assert!(
        waited >= Duration::from_millis(250),
        "the error came before the lease ran out: {waited:?}"
    );
    // The read behind the write waited for it, and sees it: it was applied here.
    assert_eq!(mc.read(), Reply::bulk("2"));
    let stats = mc.cmd(&["INFO", "errorstats"]).text();
    assert!(stats.contains("errorstat_NOREPLICAS:count=1"), "{stats}");
    // The lease is lost: the master refuses writes before applying them, and reads.
    assert_eq!(
        mc.q("SET refused 1"),
        Reply::err("NOREPLICAS Not enough good replicas to write.")
    );
    assert_eq!(mc.q("GET before"), Reply::err(LEASE_LOST));
    assert_eq!(mc.q("PING"), Reply::simple("PONG"));
    // PUBLISH reaches the replicas' stream but is no write: its reply is not held (the
    // sentinels' hellos must not wait for ACKs).
    let t = Instant::now();
    assert_eq!(mc.q("PUBLISH ch m"), Reply::Int(0));
    assert!(
        t.elapsed() < Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    // The replica is back: writes are acknowledged again, and it has everything.
    signal(&r, "-CONT");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = mc.q("SET after 3");
        if reply == Reply::ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes never acknowledged again: {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        rc.q("MGET before during after"),
        Reply::bulks(&["1", "2", "3"])
    );
    assert_eq!(mc.q("EXISTS refused"), Reply::Int(0));
    // An idle strict master keeps its lease: it asks for ACKs itself.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(mc.q("GET before"), Reply::bulk("1"));
}

#[test]
fn classic_mode_replies_without_waiting_for_replicas() {
    let m = picket(&[]);
    let mut mc = m.conn();
    // No replica at all: a classic master writes.
    assert_eq!(mc.q("SET k v"), Reply::ok());
    // Switching to strict and back at run time.
    assert_eq!(mc.q("CONFIG SET failover-safety strict"), Reply::ok());
    assert!(mc.q("SET k w").is_error());
    assert_eq!(mc.q("CONFIG SET failover-safety classic"), Reply::ok());
    assert_eq!(mc.q("SET k w"), Reply::ok());
    assert_eq!(mc.q("GET k"), Reply::bulk("w"));
}
