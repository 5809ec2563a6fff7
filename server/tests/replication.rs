//! Replication with the real binaries over TCP: full sync (disk and diskless) of every type,
//! writes during a sync, partial resync after a link break, backlog overrun, promotion that
//! keeps the history, chained replicas, WAIT, min-replicas, read-only replicas, random
//! workloads, and interoperability with Redis 7.0 in both directions.

mod common;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};

type Dump = BTreeMap<(usize, Vec<u8>), (String, String, i64)>;

/// Everything every database holds: type, value, absolute expiry.
fn dump(c: &mut Conn) -> Dump {
    let mut out = BTreeMap::new();
    for db in [0usize, 5] {
        c.cmd(&["SELECT", &db.to_string()]);
        let mut cursor = "0".to_string();
        loop {
            let r = c.cmd(&["SCAN", &cursor, "COUNT", "1000"]).items();
            cursor = r[0].text();
            for k in r[1].items() {
                let Reply::Bulk(key) = k else { panic!() };
                let t = c.cmd(&[&b"TYPE"[..], &key]).text();
                let value = match t.as_str() {
                    "string" => c.cmd(&[&b"GET"[..], &key]).text(),
                    "list" => format!("{:?}", c.cmd(&[&b"LRANGE"[..], &key, b"0", b"-1"])),
                    "set" => {
                        let mut m: Vec<String> = c
                            .cmd(&[&b"SMEMBERS"[..], &key])
                            .items()
                            .iter()
                            .map(|r| r.text())
                            .collect();
                        m.sort();
                        format!("{m:?}")
                    }
                    "hash" => {
                        let items = c.cmd(&[&b"HGETALL"[..], &key]).items();
                        let mut pairs: Vec<(String, String)> = items
                            .chunks(2)
                            .map(|p| (p[0].text(), p[1].text()))
                            .collect();
                        pairs.sort();
                        format!("{pairs:?}")
                    }
                    "zset" => format!(
                        "{:?}",
                        c.cmd(&[&b"ZRANGE"[..], &key, b"0", b"-1", b"WITHSCORES"])
                    ),
                    // Gone between SCAN and TYPE (expired).
                    "none" => continue,
                    other => panic!("type {other}"),
                };
                let exp = c.cmd(&[&b"PEXPIRETIME"[..], &key]).int();
                out.insert((db, key), (t, value, exp));
            }
            if cursor == "0" {
                break;
            }
        }
    }
    c.cmd(&["SELECT", "0"]);
    out
}

/// Small and large encodings of every type, in two databases, with expiries.
fn populate(c: &mut Conn) {
    c.q("RPUSH list a b c 1 2 3");
    c.q("SADD ints 1 2 3 -5");
    c.q("SADD words x y z");
    c.q("HSET h f1 v1 f2 22");
    c.q("ZADD z 1 a 2.5 b -3 c");
    c.q("SET plain hello");
    c.q("SET n 12345");
    c.q("SET ttl v PX 100000000");
    c.cmd(&["SET", "binary", "a\0b\r\n\u{ff}"]);
    for i in 0..300 {
        let v = format!("value-{i}-{}", "x".repeat(i % 70));
        c.cmd(&["RPUSH", "biglist", &v]);
        c.cmd(&["SADD", "bigset", &v]);
        c.cmd(&["SADD", "bigints", &(i * 7919).to_string()]);
        c.cmd(&["HSET", "bighash", &format!("f{i}"), &v]);
        c.cmd(&["ZADD", "bigzset", &format!("{}.5", i * 3), &v]);
    }
    c.cmd(&["SET", "bigstring", &"s".repeat(100_000)]);
    c.q("SELECT 5");
    c.q("SET in5 five");
    c.q("HSET h5 a 1");
    c.q("SELECT 0");
}

fn info(c: &mut Conn, field: &str) -> String {
    let text = c.q("INFO").text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .to_string()
}

fn info_int(c: &mut Conn, field: &str) -> i64 {
    info(c, field).parse().unwrap_or(-1)
}

/// A picket-server with no diskless delay (tests do not wait 5 s for more replicas).
fn picket(extra: &[&str]) -> Server {
    let mut args = vec!["--repl-diskless-sync-delay", "0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Wait until the replica's link is up and it applied everything the master produced.
fn wait_synced(master: &mut Conn, replica: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = info(replica, "master_link_status") == "up";
        let m = info_int(master, "master_repl_offset");
        let r = info_int(replica, "slave_repl_offset");
        if up && m == r && m > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica never caught up: link up={up} master={m} replica={r}; master sees {}; \
             replica last heard from its master {} s ago",
            info(master, "slave0"),
            info(replica, "master_last_io_seconds_ago")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn replicaof(c: &mut Conn, port: u16) {
    assert_eq!(c.q(&format!("REPLICAOF 127.0.0.1 {port}")), Reply::ok());
}

#[test]
fn full_sync_of_every_type_diskless_and_disk() {
    for diskless in ["yes", "no"] {
        let m = picket(&["--repl-diskless-sync", diskless]);
        let mut mc = m.conn();
        populate(&mut mc);
        let r = picket(&[]);
        let mut rc = r.conn();
        replicaof(&mut rc, m.port);
        wait_synced(&mut mc, &mut rc);
        assert_eq!(dump(&mut mc), dump(&mut rc), "diskless={diskless}");
        assert_eq!(info_int(&mut mc, "sync_full"), 1);
        assert_eq!(info(&mut rc, "role"), "slave");
        assert_eq!(
            info(&mut rc, "master_replid"),
            info(&mut mc, "master_replid")
        );
        // The stream goes on after the sync.
        mc.q("SET after sync");
        mc.q("SELECT 5");
        mc.q("DEL in5");
        wait_synced(&mut mc, &mut rc);
        assert_eq!(dump(&mut mc), dump(&mut rc), "diskless={diskless}");
        let line = info(&mut mc, "slave0");
        assert!(line.starts_with("ip=127.0.0.1,port="), "{line}");
        assert!(line.contains(",state=online,"), "{line}");
    }
}

#[test]
fn writes_during_the_full_sync_arrive() {
    let m = picket(&["--enable-debug-command", "yes"]);
    let mut mc = m.conn();
    mc.q("DEBUG POPULATE 100000 key 64");
    let r = picket(&[]);
    let mut rc = r.conn();
    replicaof(&mut rc, m.port);
    // Write while the snapshot is produced and sent.
    for i in 0..3000 {
        mc.cmd(&["SET", &format!("key:{}", i * 31), "changed"]);
        mc.cmd(&["INCR", "counter"]);
        mc.cmd(&["DEL", &format!("key:{}", i * 31 + 1)]);
    }
    wait_synced(&mut mc, &mut rc);
    assert_eq!(mc.q("DBSIZE"), rc.q("DBSIZE"));
    assert_eq!(rc.q("GET counter"), Reply::bulk("3000"));
    for i in (0..3000).step_by(7) {
        let k = format!("key:{}", i * 31);
        assert_eq!(rc.cmd(&["GET", &k]), Reply::bulk("changed"), "{k}");
        let gone = format!("key:{}", i * 31 + 1);
        assert_eq!(rc.cmd(&["EXISTS", &gone]).int(), 0);
    }
    assert_eq!(info_int(&mut mc, "sync_full"), 1);
}

#[test]
fn partial_resync_after_the_link_breaks() {
    let m = picket(&[]);
    let mut mc = m.conn();
    populate(&mut mc);
    let r = picket(&[]);
    let mut rc = r.conn();
    replicaof(&mut rc, m.port);
    wait_synced(&mut mc, &mut rc);
    for round in 1..=3 {
        assert_eq!(mc.q("CLIENT KILL TYPE replica").int(), 1);
        for i in 0..50 {
            mc.cmd(&["SET", &format!("r{round}:{i}"), "v"]);
        }
        wait_synced(&mut mc, &mut rc);
        assert_eq!(info_int(&mut mc, "sync_partial_ok"), round);
    }
    assert_eq!(info_int(&mut mc, "sync_full"), 1);
    assert_eq!(dump(&mut mc), dump(&mut rc));
}

#[test]
fn backlog_overrun_leads_to_a_full_sync() {
    let m = picket(&["--repl-backlog-size", "16kb"]);
    let mut mc = m.conn();
    let r = picket(&[]);
    let mut rc = r.conn();
    replicaof(&mut rc, m.port);
    mc.q("SET a 1");
    wait_synced(&mut mc, &mut rc);
    // Point the replica elsewhere (nothing listens there), write more than the backlog.
    let dead = common::free_port();
    replicaof(&mut rc, dead);
    for i in 0..100 {
        mc.cmd(&["SET", &format!("k{i}"), &"x".repeat(1000)]);
    }
    replicaof(&mut rc, m.port);
    wait_synced(&mut mc, &mut rc);
    assert_eq!(info_int(&mut mc, "sync_full"), 2);
    // The first PSYNC (a former master offering its own history) was refused too, as in
    // Redis.
    assert_eq!(info_int(&mut mc, "sync_partial_err"), 2);
    assert_eq!(dump(&mut mc), dump(&mut rc));
    // A small gap is served from the backlog.
    replicaof(&mut rc, dead);
    mc.q("SET small gap");
    replicaof(&mut rc, m.port);
    wait_synced(&mut mc, &mut rc);
    assert_eq!(info_int(&mut mc, "sync_full"), 2);
    assert_eq!(info_int(&mut mc, "sync_partial_ok"), 1);
    assert_eq!(rc.q("GET small"), Reply::bulk("gap"));
}

#[test]
fn promotion_keeps_history_for_siblings_and_the_old_master() {
    let a = picket(&[]);
    let b = picket(&[]);
    let c = picket(&[]);
    let (mut ac, mut bc, mut cc) = (a.conn(), b.conn(), c.conn());
    populate(&mut ac);
    replicaof(&mut bc, a.port);
    replicaof(&mut cc, a.port);
    wait_synced(&mut ac, &mut bc);
    wait_synced(&mut ac, &mut cc);
    let old_id = info(&mut ac, "master_replid");
    let offset = info_int(&mut bc, "master_repl_offset");
    assert_eq!(bc.q("REPLICAOF NO ONE"), Reply::ok());
    assert_eq!(info(&mut bc, "role"), "master");
    assert_eq!(info(&mut bc, "master_replid2"), old_id);
    assert_eq!(info_int(&mut bc, "second_repl_offset"), offset + 1);
    assert_ne!(info(&mut bc, "master_replid"), old_id);
    bc.q("SET promoted yes");
    replicaof(&mut cc, b.port);
    replicaof(&mut ac, b.port);
    wait_synced(&mut bc, &mut cc);
    wait_synced(&mut bc, &mut ac);
    assert_eq!(info_int(&mut bc, "sync_full"), 0);
    assert_eq!(info_int(&mut bc, "sync_partial_ok"), 2);
    let want = dump(&mut bc);
    assert_eq!(dump(&mut ac), want);
    assert_eq!(dump(&mut cc), want);
    assert_eq!(ac.q("GET promoted"), Reply::bulk("yes"));
}

#[test]
fn chained_replicas_restream_what_they_applied() {
    let a = picket(&[]);
    let b = picket(&[]);
    let c = picket(&[]);
    let (mut ac, mut bc, mut cc) = (a.conn(), b.conn(), c.conn());
    replicaof(&mut bc, a.port);
    ac.q("SET first 1");
    wait_synced(&mut ac, &mut bc);
    replicaof(&mut cc, b.port);
    populate(&mut ac);
    ac.q("INCRBYFLOAT f 1.5");
    ac.q("SET gone soon PX 1");
    wait_synced(&mut ac, &mut bc);
    wait_synced(&mut ac, &mut cc);
    let want = dump(&mut ac);
    assert_eq!(dump(&mut bc), want);
    assert_eq!(dump(&mut cc), want);
    assert_eq!(
        info_int(&mut cc, "master_repl_offset"),
        info_int(&mut ac, "master_repl_offset")
    );
}

#[test]
fn wait_counts_acknowledging_replicas() {
    let m = picket(&[]);
    let r = picket(&[]);
    let mut mc = m.conn();
    let mut rc = r.conn();
    // Without replicas WAIT answers 0 at once (and after its timeout when asking for more).
    assert_eq!(mc.q("WAIT 0 0").int(), 0);
    assert_eq!(mc.q("WAIT 1 100").int(), 0);
    replicaof(&mut rc, m.port);
    mc.q("SET a 1");
    wait_synced(&mut mc, &mut rc);
    mc.q("SET b 2");
    assert_eq!(mc.q("WAIT 1 0").int(), 1);
    let t = Instant::now();
    assert_eq!(mc.q("WAIT 2 300").int(), 1);
    assert!(t.elapsed() >= Duration::from_millis(250));
    // Inside MULTI it does not block. (The GETACK the last WAIT sent is part of the stream:
    // the replica's next periodic ACK covers it.)
    std::thread::sleep(Duration::from_millis(1100));
    mc.q("MULTI");
    mc.q("WAIT 5 0");
    assert_eq!(mc.q("EXEC"), Reply::Array(vec![Reply::Int(1)]));
    assert!(rc
        .q("WAIT 1 0")
        .text()
        .starts_with("ERR WAIT cannot be used with replica instances"));
    assert_eq!(mc.q("WAIT 1 -1"), Reply::err("ERR timeout is negative"));
    assert_eq!(
        mc.q("WAIT x 0"),
        Reply::err("ERR value is not an integer or out of range")
    );
}

#[test]
fn min_replicas_refuse_writes() {
    let m = picket(&[]);
    let r = picket(&[]);
    let mut mc = m.conn();
    let mut rc = r.conn();
    replicaof(&mut rc, m.port);
    mc.q("SET a 1");
    wait_synced(&mut mc, &mut rc);
    mc.q("CONFIG SET min-replicas-to-write 2");
    assert_eq!(
        mc.q("SET b 2"),
        Reply::err("NOREPLICAS Not enough good replicas to write.")
    );
    // Reads still work.
    assert_eq!(mc.q("GET a"), Reply::bulk("1"));
    assert_eq!(info_int(&mut mc, "min_slaves_good_slaves"), 1);
    mc.q("CONFIG SET min-replicas-to-write 1");
    assert_eq!(mc.q("SET b 2"), Reply::ok());
    // A transaction with a write is refused as a whole.
    mc.q("CONFIG SET min-replicas-to-write 3");
    mc.q("MULTI");
    assert_eq!(
        mc.q("SET c 3"),
        Reply::err("NOREPLICAS Not enough good replicas to write.")
    );
    assert_eq!(
        mc.q("EXEC"),
        Reply::err("EXECABORT Transaction discarded because of previous errors.")
    );
}

#[test]
fn replica_read_only_role_and_replicaof_errors() {
    let m = picket(&[]);
    let r = picket(&[]);
    let mut mc = m.conn();
    let mut rc = r.conn();
    assert_eq!(
        rc.q("REPLICAOF 127.0.0.1 notaport"),
        Reply::err("ERR Invalid master port")
    );
    assert_eq!(
        rc.q("REPLICAOF 127.0.0.1 70000"),
        Reply::err("ERR Invalid master port")
    );
    assert_eq!(rc.q("REPLICAOF NO ONE"), Reply::ok());
    replicaof(&mut rc, m.port);
    assert_eq!(
        rc.q(&format!("SLAVEOF 127.0.0.1 {}", m.port)),
        Reply::simple("OK Already connected to specified master")
    );
    assert_eq!(
        rc.q("CONFIG GET replicaof").items()[1],
        Reply::bulk(&format!("127.0.0.1 {}", m.port))
    );
    mc.q("SET a 1");
    wait_synced(&mut mc, &mut rc);
    assert_eq!(
        rc.q("SET x 1"),
        Reply::err("READONLY You can't write against a read only replica.")
    );
    assert_eq!(rc.q("GET a"), Reply::bulk("1"));
    let role = rc.q("ROLE").items();
    assert_eq!(role[0], Reply::bulk("slave"));
    assert_eq!(role[1], Reply::bulk("127.0.0.1"));
    assert_eq!(role[2], Reply::Int(m.port as i64));
    assert_eq!(role[3], Reply::bulk("connected"));
    assert_eq!(role[4].int(), info_int(&mut mc, "master_repl_offset"));
    let role = mc.q("ROLE").items();
    assert_eq!(role[0], Reply::bulk("master"));
    let replicas = role[2].items();
    assert_eq!(replicas.len(), 1);
    assert_eq!(replicas[0].items()[1], Reply::bulk(&r.port.to_string()));
    for f in [
        "master_host",
        "master_port",
        "master_last_io_seconds_ago",
        "master_sync_in_progress",
        "slave_repl_offset",
        "slave_priority",
        "slave_read_only",
        "replica_announced",
    ] {
        assert!(!info(&mut rc, f).is_empty(), "INFO lacks {f}");
    }
    rc.q("CONFIG SET replica-read-only no");
    assert_eq!(rc.q("SET x 1"), Reply::ok());
    // With the link down and replica-serve-stale-data no, data commands are refused.
    rc.q("CONFIG SET replica-serve-stale-data no");
    drop(mc);
    drop(m);
    let deadline = Instant::now() + Duration::from_secs(10);
    while info(&mut rc, "master_link_status") == "up" {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        rc.q("GET a"),
        Reply::err(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
        )
    );
    assert!(info_int(&mut rc, "master_link_down_since_seconds") >= 0);
    assert_eq!(rc.q("REPLICAOF NO ONE"), Reply::ok());
    assert_eq!(rc.q("GET a"), Reply::bulk("1"));
    assert_eq!(rc.q("ROLE").items()[0], Reply::bulk("master"));
}

#[test]
fn master_and_replica_equal_after_random_workloads() {
    let m = picket(&[]);
    let r = picket(&[]);
    let mut mc = m.conn();
    let mut rc = r.conn();
    replicaof(&mut rc, m.port);
    mc.q("SET seed 1");
    wait_synced(&mut mc, &mut rc);
    let mut rng = picket_common::ids::seeded(0x9E37_79B9_7F4A_7C15);
    let mut next = move |n: u64| rand::RngExt::random_range(&mut rng, 0..n);
    for _ in 0..4000 {
        let k = format!("k{}", next(60));
        let v = next(1000).to_string();
        let cmd: Vec<String> = match next(16) {
            0 => vec!["SET".into(), k, v],
            1 => vec!["INCRBY".into(), format!("n{}", next(10)), v],
            2 => vec!["LPUSH".into(), format!("l{}", next(10)), v],
            3 => vec!["RPOP".into(), format!("l{}", next(10))],
            4 => vec!["SADD".into(), format!("s{}", next(10)), v],
            5 => vec!["SPOP".into(), format!("s{}", next(10))],
            6 => vec!["HINCRBY".into(), format!("h{}", next(10)), v, "3".into()],
            7 => vec!["ZINCRBY".into(), format!("z{}", next(10)), "1.5".into(), v],
            8 => vec!["ZPOPMIN".into(), format!("z{}", next(10))],
            9 => vec!["EXPIRE".into(), k, (next(100) + 100).to_string()],
            10 => vec!["SET".into(), k, v, "PX".into(), (next(30) + 1).to_string()],
            11 => vec!["DEL".into(), k],
            12 => vec!["INCRBYFLOAT".into(), format!("f{}", next(5)), "0.1".into()],
            13 => vec!["SRANDMEMBER".into(), format!("s{}", next(10))],
            14 => vec![
                "LMOVE".into(),
                format!("l{}", next(10)),
                format!("l{}", next(10)),
                "LEFT".into(),
                "RIGHT".into(),
            ],
            _ => vec![
                "SELECT".into(),
                if next(2) == 0 { "0".into() } else { "5".into() },
            ],
        };
        mc.cmd(&cmd);
    }
    mc.q("SELECT 0");
    // Let the short expiries pass so the master's DELs reach the replica.
    std::thread::sleep(Duration::from_millis(100));
    for db in ["0", "5"] {
        mc.cmd(&["SELECT", db]);
        for i in 0..60 {
            mc.cmd(&["EXISTS", &format!("k{i}")]);
        }
    }
    mc.q("SELECT 0");
    wait_synced(&mut mc, &mut rc);
    assert_eq!(dump(&mut mc), dump(&mut rc));
}

#[test]
fn replica_never_expires_keys_by_itself() {
    let m = picket(&["--enable-debug-command", "yes"]);
    let r = picket(&[]);
    let mut mc = m.conn();
    let mut rc = r.conn();
    replicaof(&mut rc, m.port);
    mc.q("SET a 1");
    wait_synced(&mut mc, &mut rc);
    // Stop the master's expiry so it sends no DEL: the replica hides the key but keeps it.
    mc.q("DEBUG SET-ACTIVE-EXPIRE 0");
    mc.q("SET e v PX 50");
    wait_synced(&mut mc, &mut rc);
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(rc.q("GET e"), Reply::Nil);
    assert_eq!(rc.q("EXISTS e").int(), 0);
    assert_eq!(
        rc.q("DBSIZE").int(),
        2,
        "the replica deleted an expired key itself"
    );
    // The master's lookup deletes it and the DEL reaches the replica.
    assert_eq!(mc.q("GET e"), Reply::Nil);
    wait_synced(&mut mc, &mut rc);
    assert_eq!(rc.q("DBSIZE").int(), 1);
}

#[test]
fn redis_replica_follows_a_picket_master() {
    let m = picket(&[]);
    let mut mc = m.conn();
    populate(&mut mc);
    let Some(r) = Server::redis(&["--replicaof", "127.0.0.1", &m.port.to_string()]) else {
        return;
    };
    let mut rc = r.conn();
    wait_synced(&mut mc, &mut rc);
    assert_eq!(dump(&mut mc), dump(&mut rc));
    mc.q("INCRBYFLOAT f 2.5");
    mc.q("SPOP words");
    mc.q("EXPIRE plain 1000");
    wait_synced(&mut mc, &mut rc);
    assert_eq!(dump(&mut mc), dump(&mut rc));
    // The replica loses its link and continues with a partial resync.
    rc.q("CLIENT KILL TYPE master");
    mc.q("SET during break");
    wait_synced(&mut mc, &mut rc);
    assert_eq!(info_int(&mut mc, "sync_partial_ok"), 1);
    assert_eq!(info_int(&mut mc, "sync_full"), 1);
    assert_eq!(dump(&mut mc), dump(&mut rc));
    assert_eq!(mc.q("WAIT 1 0").int(), 1);
}

#[test]
fn picket_replica_follows_a_redis_master() {
    let Some(m) = Server::redis(&["--repl-diskless-sync-delay", "0"]) else {
        return;
    };
    let mut mc = m.conn();
    populate(&mut mc);
    let r = picket(&[]);
    let mut rc = r.conn();
    replicaof(&mut rc, m.port);
    wait_synced(&mut mc, &mut rc);
    assert_eq!(dump(&mut mc), dump(&mut rc));
    mc.q("INCRBYFLOAT f 2.5");
    mc.q("SPOP words");
    mc.q("LPOP biglist");
    wait_synced(&mut mc, &mut rc);
    assert_eq!(dump(&mut mc), dump(&mut rc));
    assert_eq!(mc.q("WAIT 1 0").int(), 1);
    mc.q("CLIENT KILL TYPE replica");
    mc.q("SET during break");
    wait_synced(&mut mc, &mut rc);
    assert_eq!(info_int(&mut mc, "sync_partial_ok"), 1);
    assert_eq!(info_int(&mut mc, "sync_full"), 1);
    assert_eq!(dump(&mut mc), dump(&mut rc));
    // Disk-based sync from Redis too.
    mc.q("CONFIG SET repl-diskless-sync no");
    assert_eq!(rc.q("REPLICAOF NO ONE"), Reply::ok());
    rc.q("SET local 1");
    replicaof(&mut rc, m.port);
    wait_synced(&mut mc, &mut rc);
    assert_eq!(dump(&mut mc), dump(&mut rc));
}

/// A hand-driven replica: raw bytes in and out.
struct FakeReplica {
    s: std::net::TcpStream,
    buf: Vec<u8>,
}

impl FakeReplica {
    fn connect(port: u16) -> FakeReplica {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        FakeReplica { s, buf: Vec::new() }
    }

    fn send(&mut self, line: &str) {
        use std::io::Write;
        let parts: Vec<&str> = line.split(' ').collect();
        self.s
            .write_all(&picket_common::resp::encode_command(&parts))
            .expect("write");
    }

    /// Read until `n` bytes are buffered (or fail).
    fn fill(&mut self, n: usize) {
        use std::io::Read;
        let mut chunk = [0u8; 65536];
        while self.buf.len() < n {
            let got = self.s.read(&mut chunk).expect("read");
            assert!(got > 0, "closed");
            self.buf.extend_from_slice(&chunk[..got]);
        }
    }

    fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let l: Vec<u8> = self.buf.drain(..=i).collect();
                return String::from_utf8_lossy(&l).trim_end().to_string();
            }
            let n = self.buf.len() + 1;
            self.fill(n);
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.fill(n);
        self.buf.drain(..n).collect()
    }

    /// Wait for `pat` in the stream, consuming through it.
    fn expect(&mut self, pat: &[u8]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(i) = self.buf.windows(pat.len()).position(|w| w == pat) {
                self.buf.drain(..i + pat.len());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {:?}",
                String::from_utf8_lossy(pat)
            );
            let n = self.buf.len() + 1;
            self.fill(n);
        }
    }
}

#[test]
fn wire_format_of_full_syncs_and_the_stream() {
    // Diskless: +FULLRESYNC, $EOF:<mark>, the RDB, the mark; the stream starts at the ACK.
    let m = picket(&["--repl-ping-replica-period", "1"]);
    let mut mc = m.conn();
    mc.q("SET a 1");
    let mut f = FakeReplica::connect(m.port);
    f.send("REPLCONF listening-port 1234");
    assert_eq!(f.line(), "+OK");
    f.send("REPLCONF capa eof capa psync2");
    assert_eq!(f.line(), "+OK");
    f.send("PSYNC ? -1");
    let mut l = f.line();
    while l.is_empty() {
        l = f.line();
    }
    let parts: Vec<&str> = l.split(' ').collect();
    assert_eq!(parts[0], "+FULLRESYNC");
    assert_eq!(parts[1].len(), 40);
    let offset: u64 = parts[2].parse().unwrap();
    let mut header = f.line();
    while header.is_empty() {
        header = f.line();
    }
    let mark = header
        .strip_prefix("$EOF:")
        .expect("diskless header")
        .to_string();
    assert_eq!(mark.len(), 40);
    f.expect(mark.as_bytes());
    mc.q("SET b 2");
    // Nothing of the stream before the first ACK...
    std::thread::sleep(Duration::from_millis(100));
    f.s.set_nonblocking(true).ok();
    let mut probe = [0u8; 16];
    use std::io::Read;
    assert!(f.s.read(&mut probe).is_err(), "stream before the first ACK");
    f.s.set_nonblocking(false).ok();
    f.send(&format!("REPLCONF ACK {offset}"));
    f.expect(b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n");
    // In-band PING every repl-ping-replica-period.
    f.expect(b"*1\r\n$4\r\nPING\r\n");
    let line = info(&mut mc, "slave0");
    assert!(line.contains("port=1234,state=online"), "{line}");
    drop(f);

    // Disk: $<len> then exactly the RDB bytes, no CRLF after them; SYNC has no reply line.
    mc.q("CONFIG SET repl-diskless-sync no");
    let mut f = FakeReplica::connect(m.port);
    f.send("SYNC");
    let mut header = f.line();
    while header.is_empty() {
        header = f.line();
    }
    let len: usize = header.strip_prefix('$').expect("bulk").parse().unwrap();
    let rdb = f.take(len);
    assert!(rdb.starts_with(b"REDIS0010"), "{:?}", &rdb[..9]);
    mc.q("SET c 3");
    f.expect(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n3\r\n");
}

#[test]
fn replication_commands_refuse_bad_input() {
    let m = picket(&[]);
    let mut mc = m.conn();
    assert_eq!(
        mc.q("REPLCONF listening-port"),
        Reply::err("ERR syntax error")
    );
    assert_eq!(
        mc.q("REPLCONF foo bar"),
        Reply::err("ERR Unrecognized REPLCONF option: foo")
    );
    assert_eq!(
        mc.q("PSYNC abc notanumber"),
        Reply::err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        mc.q("REPLCONF listening-port x"),
        Reply::err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        mc.q("REPLICAOF onlyhost"),
        Reply::err("ERR wrong number of arguments for 'replicaof' command")
    );
    // A replica whose link is down refuses to serve a sync.
    let r = picket(&[]);
    let mut rc = r.conn();
    replicaof(&mut rc, common::free_port());
    assert_eq!(
        rc.q("PSYNC ? -1"),
        Reply::err("NOMASTERLINK Can't SYNC while not connected with my master")
    );
    // The server goes on serving.
    assert_eq!(mc.q("PING"), Reply::simple("PONG"));
}

#[test]
fn slow_replica_over_its_output_limit_is_dropped_and_resyncs() {
    let m = picket(&[]);
    let mut mc = m.conn();
    assert_eq!(
        mc.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "replica 256kb 0 0"
        ]),
        Reply::ok()
    );
    // A replica that never reads.
    let mut f = FakeReplica::connect(m.port);
    f.send("REPLCONF capa eof");
    f.send("PSYNC ? -1");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !info(&mut mc, "slave0").contains("state=online") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let big = "x".repeat(10_000);
    for i in 0..400 {
        mc.cmd(&["SET", &format!("k{i}"), &big]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_int(&mut mc, "connected_slaves") != 0 {
        assert!(
            Instant::now() < deadline,
            "the slow replica was not dropped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        m.log_text().contains("output buffer limits"),
        "{}",
        m.log_text()
    );
    // A real replica that keeps up syncs fine afterwards.
    let r = picket(&[]);
    let mut rc = r.conn();
    replicaof(&mut rc, m.port);
    wait_synced(&mut mc, &mut rc);
    assert_eq!(mc.q("DBSIZE"), rc.q("DBSIZE"));
}

#[test]
fn restarted_replica_and_master_continue_with_psync() {
    let m = picket(&[]);
    let mut mc = m.conn();
    populate(&mut mc);
    let rdir = tempfile::tempdir().unwrap();
    let rdir_s = rdir.path().to_str().unwrap().to_string();
    let master_arg = format!("127.0.0.1 {}", m.port);
    let r = picket(&["--dir", &rdir_s, "--replicaof", &master_arg]);
    let mut rc = r.conn();
    wait_synced(&mut mc, &mut rc);
    // The replica saves and restarts: its RDB knows the replication id and offset.
    assert_eq!(rc.q("SAVE"), Reply::ok());
    drop(rc);
    drop(r);
    mc.q("SET while down 1");
    let r = picket(&["--dir", &rdir_s, "--replicaof", &master_arg]);
    let mut rc = r.conn();
    wait_synced(&mut mc, &mut rc);
    assert_eq!(info_int(&mut mc, "sync_full"), 1);
    assert_eq!(info_int(&mut mc, "sync_partial_ok"), 1);
    assert_eq!(dump(&mut mc), dump(&mut rc));
    // The master saves and restarts on the same port: its replica continues too.
    assert_eq!(mc.q("SAVE"), Reply::ok());
    let port = m.port.to_string();
    let mdir = m.dir.path().to_str().unwrap().to_string();
    let keep = tempfile::tempdir().unwrap();
    std::fs::copy(m.dir.path().join("dump.rdb"), keep.path().join("dump.rdb")).unwrap();
    drop(mc);
    drop(m);
    let _ = mdir;
    let m2 = Server::start_on_port(
        port.parse().unwrap(),
        &[
            "--dir",
            keep.path().to_str().unwrap(),
            "--repl-diskless-sync-delay",
            "0",
        ],
    );
    let mut mc = m2.conn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while info(&mut mc, "loading") != "0" {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    mc.q("SET after restart 1");
    wait_synced(&mut mc, &mut rc);
    assert_eq!(info_int(&mut mc, "sync_full"), 0);
    assert_eq!(info_int(&mut mc, "sync_partial_ok"), 1);
    assert_eq!(dump(&mut mc), dump(&mut rc));
}
