//! `DEBUG SLEEP` with an argument whose microseconds do not fit a 64-bit integer used to
//! panic inside the command; in a transaction that left the AOF with the first half of it
//! and no MULTI/EXEC, and the replica without it. Redis 7.0 answers `+OK` at once (its
//! conversion gives a negative time, which nanosleep refuses): so does picket now, and the
//! transaction reaches the AOF and the replica whole.

mod common;
mod persist_util;

use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};
use persist_util::wait_loaded;

fn transaction(c: &mut Conn) -> Vec<Reply> {
    let mut replies = vec![c.q("MULTI"), c.q("SET a 1")];
    replies.push(c.q("DEBUG SLEEP 1e20"));
    replies.push(c.q("DEBUG SLEEP 9223372036854.775807"));
    replies.push(c.q("SET b 2"));
    replies.push(c.q("EXEC"));
    replies
}

#[test]
fn huge_sleeps_answer_at_once_as_redis_and_the_transaction_stays_whole() {
    let master = Server::start(&[
        "--enable-debug-command",
        "yes",
        "--appendonly",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let replica = Server::start(&[]);
    let mut mc = master.conn();
    wait_loaded(&mut mc);
    let mut rc = replica.conn();
    assert_eq!(
        rc.q(&format!("REPLICAOF 127.0.0.1 {}", master.port)),
        Reply::ok()
    );
    let started = Instant::now();
    let picket = transaction(&mut mc);
    assert!(started.elapsed() < Duration::from_secs(5));
    let expected = vec![
        Reply::ok(),
        Reply::simple("QUEUED"),
        Reply::simple("QUEUED"),
        Reply::simple("QUEUED"),
        Reply::simple("QUEUED"),
        Reply::arr(vec![Reply::ok(), Reply::ok(), Reply::ok(), Reply::ok()]),
    ];
    assert_eq!(picket, expected);
    if let Some(redis) = Server::redis(&["--enable-debug-command", "yes"]) {
        assert_eq!(transaction(&mut redis.conn()), expected, "redis-server");
    }
    // Outside a transaction too, and the server goes on.
    assert_eq!(mc.q("DEBUG SLEEP 1e300"), Reply::ok());
    assert_eq!(mc.q("PING"), Reply::simple("PONG"));

    // The AOF has the transaction, wrapped.
    let aofdir = master.dir.path().join("appendonlydir");
    let incr: String = std::fs::read_dir(&aofdir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
        .collect();
    let multi = incr.find("MULTI").expect("MULTI in the AOF");
    let a = incr.find("$1\r\na\r\n").expect("SET a");
    let b = incr.find("$1\r\nb\r\n").expect("SET b");
    let exec = incr.find("EXEC").expect("EXEC in the AOF");
    assert!(multi < a && a < b && b < exec, "{incr:?}");

    // The replica has it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while rc.q("GET b") != Reply::bulk("2") {
        assert!(
            Instant::now() < deadline,
            "the replica never got the transaction"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rc.q("GET a"), Reply::bulk("1"));
}
