//! `failover-safety strict` with the real binaries over TCP (issue #16, rules 1 and 3 of
//! docs/failover-safety.md): a write's reply leaves only once enough replicas hold it, replies
//! behind it keep their order, a write the replicas do not acknowledge within the lease gets
//! NOREPLICAS, and a master without fresh ACKs (no replicas, a stopped replica) refuses writes
//! and reads while an idle one keeps its lease. Classic mode (the default) is Redis's
//! behaviour and is tested everywhere else.
//!
//! Rule 2, server side: the failover epoch (`failover-epoch`), `REPLFENCE <epoch>` (a fenced
//! replica takes nothing more from an older master, its handshake refuses it, and the epoch
//! survives a restart), the epoch exchanged in the handshake, and INFO's `failover_*` fields.

mod common;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};
use picket_common::resp::encode_command;

const LEASE_LOST_WRITE: &str = "READONLY You can't write against a master that has not heard from enough replicas within failover-lease-ms (failover-safety strict): a replica may have been promoted.";
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

/// Make `r` a replica of `m` and wait until it is online; connections to both.
fn replicate(m: &Server, r: &Server) -> (Conn, Conn) {
    let mut mc = m.conn();
    let mut rc = r.conn();
    assert_eq!(
        rc.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
        Reply::ok()
    );
    wait_replicas(&mut mc, 1);
    (mc, rc)
}

fn signal(server: &Server, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &server.child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill {sig}");
    if sig == "-STOP" {
        // kill returns once the signal is queued; every thread stops only when it next runs.
        // A thread still running could acknowledge a write the test means to go unacknowledged.
        wait_stopped(server.child.id());
    }
}

/// Wait until every thread of `pid` is stopped (state T in /proc), at most 5 s.
fn wait_stopped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let all_stopped = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks.flatten().all(|t| {
                    std::fs::read_to_string(t.path().join("stat"))
                        .ok()
                        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('T')))
                        .unwrap_or(true)
                })
            })
            .unwrap_or(true);
        if all_stopped {
            return;
        }
        assert!(Instant::now() < deadline, "process {pid} did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
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
    // READONLY: Sentinel-aware clients ask the sentinels for the master again.
    assert_eq!(c.q("SET k v"), Reply::err(LEASE_LOST_WRITE));
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
    let (mut mc, mut rc) = replicate(&m, &r);
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
    let (mut mc, mut rc) = replicate(&m, &r);
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
    assert_eq!(mc.q("SET refused 1"), Reply::err(LEASE_LOST_WRITE));
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

// ------------------------------------------------------------------ rule 2: fencing

/// Wait until `cond` holds (20 s at most).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A master without in-band PINGs: its offset moves only with writes.
fn quiet_master(extra: &[&str]) -> Server {
    let mut args = vec!["--repl-ping-replica-period", "3600"];
    args.extend_from_slice(extra);
    picket(&args)
}

fn follow(replica: &mut Conn, master: &Server) {
    assert_eq!(
        replica.q(&format!("REPLICAOF 127.0.0.1 {}", master.port)),
        Reply::ok()
    );
}

fn epoch_of(c: &mut Conn) -> String {
    c.q("CONFIG GET failover-epoch").items()[1].text()
}

/// REPLFENCE's reply: role, epoch, replid, offset.
fn fence_reply(role: &str, epoch: i64, replid: &str, offset: i64) -> Reply {
    Reply::arr(vec![
        Reply::bulk("role"),
        Reply::bulk(role),
        Reply::bulk("epoch"),
        Reply::Int(epoch),
        Reply::bulk("replid"),
        Reply::bulk(replid),
        Reply::bulk("offset"),
        Reply::Int(offset),
    ])
}

fn failover_fields(c: &mut Conn) -> Vec<String> {
    c.cmd(&["INFO", "replication"])
        .text()
        .lines()
        .filter(|l| l.starts_with("failover_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_fenced_replica_takes_nothing_more_from_its_older_master() {
    let m = quiet_master(&[]);
    let r1 = picket(&[]);
    // Strict: it asks the epoch in its handshakes (a classic one at 0 does not).
    let r2 = picket(&["--failover-safety", "strict"]);
    let (mut mc, mut c1, mut c2) = (m.conn(), r1.conn(), r2.conn());
    assert_eq!(epoch_of(&mut c1), "0");
    follow(&mut c1, &m);
    follow(&mut c2, &m);
    wait_replicas(&mut mc, 2);
    for i in 0..100 {
        assert_eq!(mc.cmd(&["SET", &format!("k{i}"), "v"]), Reply::ok());
    }
    let moff = info(&mut mc, "master_repl_offset");
    let replid = info(&mut mc, "master_replid");
    wait_until("r1 holds every write", || {
        info(&mut c1, "master_repl_offset") == moff
    });
    assert_eq!(info(&mut c1, "master_link_status"), "up");

    // Bad epochs leave everything as it is.
    for bad in ["REPLFENCE x", "REPLFENCE -1", "REPLFENCE 1.5"] {
        assert_eq!(
            c1.q(bad),
            Reply::err("ERR value is not an integer or out of range"),
            "{bad}"
        );
    }
    assert_eq!(
        c1.q("REPLFENCE"),
        Reply::err("ERR wrong number of arguments for 'replfence' command")
    );
    assert_eq!(info(&mut c1, "master_link_status"), "up");

    // The fence: the link with the master (epoch 0) drops before the reply, whose offset
    // is the master's (every write it applied).
    let moff: i64 = moff.parse().unwrap();
    assert_eq!(c1.q("REPLFENCE 5"), fence_reply("slave", 5, &replid, moff));
    assert_eq!(info(&mut c1, "master_link_status"), "down");
    assert_eq!(epoch_of(&mut c1), "5");
    // Idempotent at the same epoch; an older one is refused.
    assert_eq!(c1.q("REPLFENCE 5"), fence_reply("slave", 5, &replid, moff));
    assert_eq!(
        c1.q("REPLFENCE 4"),
        Reply::err("ERR fence epoch 4 is older than this server's failover epoch 5")
    );
    // The master sees it gone; its later writes reach r2 only.
    wait_until("the master sees r1 gone", || {
        info(&mut mc, "connected_slaves") == "1"
    });
    assert_eq!(mc.q("SET after fence"), Reply::ok());
    wait_until("r2 gets the write", || {
        c2.q("GET after") == Reply::bulk("fence")
    });
    // r1 retries its master (once a second) and refuses it each time: down it stays.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(info(&mut c1, "master_link_status"), "down");
        assert_eq!(c1.q("EXISTS after"), Reply::Int(0));
        assert_eq!(info(&mut c1, "master_repl_offset"), moff.to_string());
    }
    // Logged by the fence (and by the second one too when it caught the link's
    // immediate reconnection in its handshake, which it drops as well).
    let log1 = r1.log_text();
    let drops = log1
        .matches(&format!(
            "Fenced at failover epoch 5: dropped the link with master 127.0.0.1:{} (failover epoch 0)",
            m.port
        ))
        .count();
    assert!((1..=2).contains(&drops), "{log1}");
    assert!(
        log1.contains(
            "Master's failover epoch 0 is older than this replica's 5: refusing its stream"
        ),
        "{log1}"
    );
    // The master heard of the newer epoch in r1's handshakes, and warned once.
    let mlog = m.log_text();
    assert_eq!(
        mlog.matches("A replica has seen failover epoch 5, newer than this master's 0: this master may have been superseded").count(),
        1,
        "{mlog}"
    );
    assert_eq!(info(&mut mc, "connected_slaves"), "1");

    // r1 promoted keeps its epoch; r2 follows it, syncs and adopts the epoch.
    assert_eq!(c1.q("REPLICAOF NO ONE"), Reply::ok());
    assert_eq!(epoch_of(&mut c1), "5");
    assert_eq!(info(&mut c1, "failover_epoch"), "5");
    assert_eq!(info(&mut c1, "failover_safety"), "classic");
    follow(&mut c2, &r1);
    wait_replicas(&mut c1, 1);
    wait_until("r2 adopts epoch 5", || epoch_of(&mut c2) == "5");
    assert_eq!(c1.q("SET promoted yes"), Reply::ok());
    wait_until("r2 gets r1's write", || {
        c2.q("GET promoted") == Reply::bulk("yes")
    });
    assert_eq!(c2.q("GET k99"), Reply::bulk("v"));
    // What r1 never took is gone with the old master's history.
    assert_eq!(c2.q("EXISTS after"), Reply::Int(0));
    // And r2 now refuses the old master (epoch 0).
    follow(&mut c2, &m);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(info(&mut c2, "master_link_status"), "down");
    assert_eq!(info(&mut mc, "connected_slaves"), "0");
}

#[test]
fn a_replica_adopts_a_newer_master_epoch_and_a_fence_at_it_keeps_the_link() {
    let m = quiet_master(&[]);
    let r = picket(&[]);
    let (mut mc, mut rc) = (m.conn(), r.conn());
    assert_eq!(mc.q("CONFIG SET failover-epoch 7"), Reply::ok());
    assert_eq!(rc.q("CONFIG SET failover-epoch 2"), Reply::ok());
    follow(&mut rc, &m);
    wait_replicas(&mut mc, 1);
    assert_eq!(epoch_of(&mut rc), "7");
    assert!(r
        .log_text()
        .contains("Adopting the master's failover epoch 7"));
    assert_eq!(mc.q("SET a 1"), Reply::ok());
    let moff = info(&mut mc, "master_repl_offset");
    wait_until("the replica holds the write", || {
        info(&mut rc, "master_repl_offset") == moff
    });
    // The master is at the fence's epoch: nothing is dropped.
    let replid = info(&mut mc, "master_replid");
    assert_eq!(
        rc.q("REPLFENCE 7"),
        fence_reply("slave", 7, &replid, moff.parse().unwrap())
    );
    assert_eq!(info(&mut rc, "master_link_status"), "up");
    assert_eq!(mc.q("SET b 2"), Reply::ok());
    wait_until("the replica still takes the stream", || {
        rc.q("GET b") == Reply::bulk("2")
    });
    assert!(!r.log_text().contains("Fenced at failover epoch"));
    // On a master, REPLFENCE only raises the epoch.
    let moff: i64 = info(&mut mc, "master_repl_offset").parse().unwrap();
    assert_eq!(mc.q("REPLFENCE 8"), fence_reply("master", 8, &replid, moff));
    assert_eq!(info(&mut mc, "connected_slaves"), "1");
    assert_eq!(epoch_of(&mut mc), "8");
}

#[test]
fn the_failover_epoch_survives_a_restart_with_a_config_file() {
    let confdir = tempfile::tempdir().unwrap();
    let conf = confdir.path().join("picket.conf");
    std::fs::write(&conf, "# fenced\nrepl-ping-replica-period 3600\n").unwrap();
    let s = Server::start_with_file(&conf, &[]);
    let mut c = s.conn();
    let replid = info(&mut c, "master_replid");
    assert_eq!(c.q("REPLFENCE 7"), fence_reply("master", 7, &replid, 0));
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("\nfailover-epoch 7\n"), "{text}");
    drop(c);
    drop(s);
    let s = Server::start_with_file(&conf, &[]);
    let mut c = s.conn();
    assert_eq!(epoch_of(&mut c), "7");
    assert_eq!(
        c.q("REPLFENCE 6"),
        Reply::err("ERR fence epoch 6 is older than this server's failover epoch 7")
    );
    // The file cannot be rewritten: the error says so, and the epoch is raised in memory
    // all the same (the safe side).
    std::fs::remove_dir_all(confdir.path()).unwrap();
    let reply = c.q("REPLFENCE 9");
    assert!(
        reply
            .text()
            .starts_with("ERR Failed to persist the failover epoch: "),
        "{reply:?}"
    );
    assert_eq!(epoch_of(&mut c), "9");
    // Without a config file, REPLFENCE only raises the epoch in memory.
    let s = picket(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("REPLFENCE 3").items()[3], Reply::Int(3));
}

#[test]
fn info_shows_the_failover_fields_in_strict_mode_or_past_epoch_zero() {
    // Classic at epoch 0: INFO is Redis's.
    let m = picket(&[]);
    let mut mc = m.conn();
    assert_eq!(failover_fields(&mut mc), Vec::<String>::new());
    assert_eq!(mc.q("CONFIG SET failover-epoch 3"), Reply::ok());
    assert_eq!(
        failover_fields(&mut mc),
        ["failover_safety:classic", "failover_epoch:3"]
    );
    // A strict master with a replica holds its lease.
    let m = picket(&["--failover-safety", "strict", "--failover-lease-ms", "400"]);
    let r = picket(&["--failover-safety", "strict"]);
    let (mut mc, mut rc) = (m.conn(), r.conn());
    follow(&mut rc, &m);
    wait_replicas(&mut mc, 1);
    wait_until("the lease is held", || {
        info(&mut mc, "failover_lease") == "held"
    });
    assert_eq!(
        failover_fields(&mut mc),
        [
            "failover_safety:strict",
            "failover_epoch:0",
            "failover_min_acks:1",
            "failover_lease_ms:400",
            "failover_lease:held",
            "failover_lease_lost_ms:0",
        ]
    );
    // A strict replica shows its mode and epoch only.
    assert_eq!(
        failover_fields(&mut rc),
        ["failover_safety:strict", "failover_epoch:0"]
    );
    // The replica stops: the lease is lost, and the time since it was held grows.
    signal(&r, "-STOP");
    wait_until("the lease is lost", || {
        info(&mut mc, "failover_lease") == "lost"
    });
    let first: u64 = info(&mut mc, "failover_lease_lost_ms").parse().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let later: u64 = info(&mut mc, "failover_lease_lost_ms").parse().unwrap();
    assert!(later >= first + 250, "{first} then {later}");
    signal(&r, "-CONT");
    // A strict master that never held its lease counts from its start.
    let lone = picket(&[
        "--failover-safety",
        "strict",
        "--min-replicas-to-write",
        "2",
    ]);
    let mut lc = lone.conn();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(info(&mut lc, "failover_min_acks"), "2");
    assert_eq!(info(&mut lc, "failover_lease"), "lost");
    let lost: u64 = info(&mut lc, "failover_lease_lost_ms").parse().unwrap();
    assert!(lost >= 250, "{lost}");
}

#[test]
fn a_fence_under_a_stream_of_writes_is_final() {
    let m = quiet_master(&[]);
    let r = picket(&[]);
    let (mut mc, mut rc) = (m.conn(), r.conn());
    follow(&mut rc, &m);
    wait_replicas(&mut mc, 1);
    let port = m.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = Conn::connect(port);
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut batch = Vec::new();
                for _ in 0..20 {
                    i += 1;
                    batch.extend_from_slice(&encode_command(&["SET", &format!("w{i}"), "x"]));
                }
                c.send_raw(&batch);
                for _ in 0..20 {
                    assert_eq!(c.read(), Reply::ok());
                }
            }
            i
        })
    };
    wait_until("the stream flows", || rc.q("DBSIZE").int() > 200);
    let reply = rc.q("REPLFENCE 1").items();
    let fenced_at = reply[7].int();
    let keys = rc.q("DBSIZE").int();
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    // Not one more byte of the master's stream after the reply.
    assert_eq!(info(&mut rc, "master_repl_offset"), fenced_at.to_string());
    assert_eq!(rc.q("DBSIZE").int(), keys);
    assert!(
        (keys as u64) < written,
        "the master wrote on after the fence: {keys} of {written}"
    );
    assert_eq!(info(&mut rc, "master_link_status"), "down");
}

#[test]
fn a_fence_during_a_full_sync_leaves_no_history_of_the_old_master() {
    // The replica holds the history of `small`, then fully syncs with `big`.
    let small = quiet_master(&[]);
    let big = quiet_master(&["--enable-debug-command", "yes"]);
    let r = picket(&["--repl-diskless-load", "disabled"]);
    let (mut sc, mut bc, mut rc) = (small.conn(), big.conn(), r.conn());
    assert_eq!(
        bc.cmd(&["DEBUG", "POPULATE", "500000", "key", "32"]),
        Reply::ok()
    );
    assert_eq!(sc.q("SET mine 1"), Reply::ok());
    follow(&mut rc, &small);
    wait_replicas(&mut sc, 1);
    assert_eq!(sc.q("SET streamed 1"), Reply::ok());
    let old_replid = info(&mut sc, "master_replid");
    let old_offset = info(&mut sc, "master_repl_offset");
    assert_ne!(old_offset, "0");
    wait_until("the replica holds small's history", || {
        info(&mut rc, "master_repl_offset") == old_offset
    });
    assert_eq!(info(&mut rc, "master_replid"), old_replid);
    follow(&mut rc, &big);
    // Fence while the replica loads big's snapshot (small's data already flushed).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !rc
        .cmd(&["INFO", "persistence"])
        .text()
        .contains("loading:1")
    {
        assert!(Instant::now() < deadline, "the replica never loaded");
        std::thread::sleep(Duration::from_millis(2));
    }
    let reply = rc.q("REPLFENCE 3").items();
    let big_replid = info(&mut bc, "master_replid");
    assert_eq!(reply[1], Reply::bulk("slave"));
    // Neither small's history (flushed) nor big's (abandoned): a new, empty one.
    assert_ne!(reply[5], Reply::bulk(&old_replid), "{reply:?}");
    assert_ne!(reply[5], Reply::bulk(&big_replid), "{reply:?}");
    assert_eq!(reply[7], Reply::Int(0));
    wait_until("the load ends", || {
        !rc.cmd(&["INFO", "persistence"])
            .text()
            .contains("loading:1")
    });
    // Nothing of the abandoned sync stays, and big is refused from now on.
    assert_eq!(rc.q("DBSIZE"), Reply::Int(0));
    assert_eq!(info(&mut rc, "master_repl_offset"), "0");
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(info(&mut rc, "master_link_status"), "down");
    assert_eq!(rc.q("DBSIZE"), Reply::Int(0));
}

/// The Jepsen harness's finding: a fenced replica reconnected to its old master, which had
/// been stopped (SIGSTOP: the kernel still completes the connection, nobody answers the
/// handshake); the sentinels' REPLICAOF to the new master must not wait for that handshake
/// to time out (repl-timeout, 60 s by default).
#[test]
fn replicaof_abandons_a_handshake_with_a_stopped_master() {
    let old = quiet_master(&[]);
    let new = quiet_master(&[]);
    let r = picket(&[]);
    let (_oc, mut rc) = replicate(&old, &r);
    signal(&old, "-STOP");
    // The fence drops the link; the replica reconnects to the stopped master and waits in
    // its handshake.
    assert_eq!(rc.cmd(&["REPLFENCE", "3"]).items().len(), 8);
    wait_until("the replica drops its link", || {
        info(&mut rc, "master_link_status") == "down"
    });
    // Reconnected (within a second) and waiting for PING's reply.
    std::thread::sleep(Duration::from_millis(1500));
    // The new master was promoted at the fence's epoch.
    assert_eq!(new.conn().cmd(&["REPLFENCE", "3"]).items().len(), 8);
    let t = Instant::now();
    assert_eq!(
        rc.q(&format!("REPLICAOF 127.0.0.1 {}", new.port)),
        Reply::ok()
    );
    wait_until("the replica follows the new master", || {
        info(&mut rc, "master_link_status") == "up"
            && info(&mut rc, "master_port") == new.port.to_string()
    });
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    signal(&old, "-CONT");
}
