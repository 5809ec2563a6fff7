//! Blocking commands with several clients: wake-up by push, FIFO fairness, sub-second
//! time-outs, wake-up by MULTI/EXEC, RENAME and COPY, CLIENT UNBLOCK, disconnection, and
//! no blocking inside MULTI.

mod common;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};

fn client_id(c: &mut Conn) -> i64 {
    c.q("CLIENT ID").int()
}

/// Wait until `n` clients are blocked (INFO clients), so a test does not race the BLPOP.
fn wait_blocked(c: &mut Conn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = c.q("INFO clients").text();
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {n} blocked clients:\n{info}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn blpop_is_woken_by_a_push_from_another_client() {
    let s = Server::start(&[]);
    let mut waiter = s.conn();
    let mut other = s.conn();
    waiter.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut other, 1);
    assert_eq!(other.q("RPUSH q job1"), Reply::Int(1));
    assert_eq!(waiter.read(), Reply::bulks(&["q", "job1"]));
    // The element was consumed, and the key is gone with it.
    assert_eq!(other.q("EXISTS q"), Reply::Int(0));
    // The waiter's connection goes on normally.
    assert_eq!(waiter.q("PING"), Reply::simple("PONG"));
    // A command pipelined after a blocking one waits for it.
    waiter.send(&["BRPOP", "a", "b", "0"]);
    waiter.send(&["ECHO", "after"]);
    wait_blocked(&mut other, 1);
    assert_eq!(other.q("LPUSH b x"), Reply::Int(1));
    assert_eq!(waiter.read(), Reply::bulks(&["b", "x"]));
    assert_eq!(waiter.read(), Reply::bulk("after"));
}

#[test]
fn first_blocked_is_first_served() {
    let s = Server::start(&[]);
    let mut c1 = s.conn();
    let mut c2 = s.conn();
    let mut c3 = s.conn();
    let mut p = s.conn();
    c1.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut p, 1);
    c2.send(&["BLPOP", "other", "k", "0"]);
    wait_blocked(&mut p, 2);
    c3.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut p, 3);
    // Two elements for three waiters: the first two blocked get them, in order.
    assert_eq!(p.q("RPUSH k first second"), Reply::Int(2));
    assert_eq!(c1.read(), Reply::bulks(&["k", "first"]));
    assert_eq!(c2.read(), Reply::bulks(&["k", "second"]));
    wait_blocked(&mut p, 1);
    assert_eq!(p.q("RPUSH k third"), Reply::Int(1));
    assert_eq!(c3.read(), Reply::bulks(&["k", "third"]));
}

#[test]
fn timeouts_have_sub_second_precision() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let t = Instant::now();
    assert_eq!(c.q("BLPOP nothing 0.2"), Reply::NilArray);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    c.q("HELLO 3");
    assert_eq!(c.q("BRPOP nothing 0.05"), Reply::Nil);
    assert_eq!(
        c.q("BLPOP nothing -1"),
        Reply::err("ERR timeout is negative")
    );
    assert_eq!(
        c.q("BLPOP nothing abc"),
        Reply::err("ERR timeout is not a float or out of range")
    );
}

#[test]
fn woken_by_exec_rename_and_copy() {
    let s = Server::start(&[]);
    let mut w = s.conn();
    let mut p = s.conn();
    // MULTI/EXEC: served after the whole transaction.
    w.send(&["BLPOP", "t", "0"]);
    wait_blocked(&mut p, 1);
    assert_eq!(p.q("MULTI"), Reply::ok());
    assert_eq!(p.q("RPUSH t a"), Reply::simple("QUEUED"));
    assert_eq!(p.q("RPUSH t b"), Reply::simple("QUEUED"));
    assert_eq!(p.q("EXEC"), Reply::arr(vec![Reply::Int(1), Reply::Int(2)]));
    assert_eq!(w.read(), Reply::bulks(&["t", "a"]));
    assert_eq!(p.q("LPOP t"), Reply::bulk("b"));
    // RENAME creates the waited-for key.
    w.send(&["BLPOP", "r", "0"]);
    wait_blocked(&mut p, 1);
    p.q("RPUSH src x");
    assert_eq!(p.q("RENAME src r"), Reply::ok());
    assert_eq!(w.read(), Reply::bulks(&["r", "x"]));
    // COPY too.
    w.send(&["BRPOP", "c", "0"]);
    wait_blocked(&mut p, 1);
    p.q("RPUSH orig y");
    assert_eq!(p.q("COPY orig c"), Reply::Int(1));
    assert_eq!(w.read(), Reply::bulks(&["c", "y"]));
    assert_eq!(p.q("LPOP orig"), Reply::bulk("y"));
}

#[test]
fn a_key_of_another_type_does_not_serve() {
    let s = Server::start(&[]);
    let mut w = s.conn();
    let mut p = s.conn();
    w.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut p, 1);
    p.q("SET k str");
    // Still waiting (Redis 7.0 keeps a list waiter blocked on a string key).
    wait_blocked(&mut p, 1);
    p.q("DEL k");
    p.q("LPUSH k v");
    assert_eq!(w.read(), Reply::bulks(&["k", "v"]));
}

#[test]
fn client_unblock_timeout_and_error() {
    let s = Server::start(&[]);
    let mut w = s.conn();
    let mut p = s.conn();
    let id = client_id(&mut w).to_string();
    w.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut p, 1);
    assert_eq!(p.cmd(&["CLIENT", "UNBLOCK", &id]), Reply::Int(1));
    assert_eq!(w.read(), Reply::NilArray);
    w.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut p, 1);
    assert_eq!(p.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]), Reply::Int(1));
    assert_eq!(
        w.read(),
        Reply::err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    );
    // Not blocked: nothing to do.
    assert_eq!(p.cmd(&["CLIENT", "UNBLOCK", &id]), Reply::Int(0));
    assert_eq!(p.q("CLIENT UNBLOCK 999999"), Reply::Int(0));
    assert_eq!(
        p.cmd(&["CLIENT", "UNBLOCK", &id, "FOO"]),
        Reply::err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    );
    // The client list shows the blocked flag while waiting.
    w.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut p, 1);
    let list = p.q("CLIENT LIST").text();
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap();
    assert!(
        line.contains(" flags=b ") && line.contains("cmd=blpop"),
        "{line}"
    );
}

#[test]
fn a_blocked_client_that_disconnects_leaves_nothing_behind() {
    let s = Server::start(&[]);
    let mut p = s.conn();
    {
        let mut w = s.conn();
        w.send(&["BLPOP", "k", "0"]);
        wait_blocked(&mut p, 1);
    }
    wait_blocked(&mut p, 0);
    assert_eq!(p.q("RPUSH k v"), Reply::Int(1));
    assert_eq!(p.q("LPOP k"), Reply::bulk("v"));
    let list = p.q("CLIENT LIST").text();
    assert_eq!(list.lines().count(), 1, "{list}");
}

#[test]
fn blocking_commands_do_not_block_inside_multi() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.q("MULTI");
    c.q("BLPOP k 0");
    c.q("BRPOP k 10");
    // (A null array nested in an array reads as Nil in the test client.)
    c.send(&["EXEC"]);
    let mut raw = [0u8; 64];
    let n = std::io::Read::read(&mut c.stream, &mut raw).unwrap();
    assert_eq!(&raw[..n], b"*2\r\n*-1\r\n*-1\r\n");
    // With data, they pop as usual.
    c.q("RPUSH k a b");
    c.q("MULTI");
    c.q("BLPOP k 0");
    c.q("BRPOP k 0");
    assert_eq!(
        c.q("EXEC"),
        Reply::arr(vec![Reply::bulks(&["k", "a"]), Reply::bulks(&["k", "b"])])
    );
}

#[test]
fn wrong_type_is_an_error_not_a_wait() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.q("SET s v");
    assert_eq!(
        c.q("BLPOP s 0"),
        Reply::err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
}
