//! CLIENT PAUSE / UNPAUSE against the real binary, each scenario also run against Redis 7.0:
//! what WRITE and ALL hold, that held commands run in order when the pause ends (by
//! UNPAUSE or by its timeout), transactions, expiry while paused, and the errors.

mod common;

use std::time::Duration;

use common::{Conn, Reply, Server};

/// Whether a reply is still held after a while (the connection gives nothing for 300 ms).
fn held(c: &mut Conn) -> bool {
    c.set_timeout(Duration::from_millis(300));
    let got = c.try_read();
    c.set_timeout(Duration::from_secs(10));
    match got {
        None => true,
        Some(r) => panic!("expected the command to be held, got {r:?}"),
    }
}

fn write_pause(s: &Server) {
    let mut admin = s.conn();
    let mut w = s.conn();
    let mut r = s.conn();
    let wid = w.q("CLIENT ID").int();
    assert_eq!(admin.q("SET k v0"), Reply::ok());
    assert_eq!(admin.q("CLIENT PAUSE 20000 WRITE"), Reply::ok());
    // Reads go on; a write is held with what follows it on the same connection.
    assert_eq!(r.q("GET k"), Reply::bulk("v0"));
    w.send(&["SET", "k", "v1"]);
    w.send(&["GET", "k"]);
    assert!(held(&mut w));
    assert_eq!(r.q("GET k"), Reply::bulk("v0"), "not applied while held");
    let list = admin.q("CLIENT LIST").text();
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={wid} ")))
        .expect("the held client is listed");
    assert!(line.contains(" flags=b "), "{line}");
    assert!(line.contains(" cmd=set "), "{line}");
    let info = admin.q("INFO clients").text();
    assert!(info.contains("blocked_clients:1\r\n"), "{info}");
    // PUBLISH may replicate: held too. WAIT is not.
    let mut p = s.conn();
    p.send(&["PUBLISH", "ch", "x"]);
    assert!(held(&mut p));
    assert_eq!(r.q("WAIT 0 100"), Reply::Int(0));
    // A transaction: the write is held as it is queued, and the rest waits behind it.
    let mut m = s.conn();
    assert_eq!(m.q("MULTI"), Reply::ok());
    m.send(&["INCR", "n"]);
    m.send(&["EXEC"]);
    assert!(held(&mut m));
    // UNPAUSE: the held commands run, in the order they were held.
    assert_eq!(admin.q("CLIENT UNPAUSE"), Reply::ok());
    assert_eq!(w.read(), Reply::ok());
    assert_eq!(w.read(), Reply::bulk("v1"));
    assert_eq!(p.read(), Reply::Int(0));
    assert_eq!(m.read(), Reply::simple("QUEUED"));
    assert_eq!(m.read(), Reply::arr(vec![Reply::Int(1)]));
    let info = admin.q("INFO clients").text();
    assert!(info.contains("blocked_clients:0\r\n"), "{info}");
}

fn all_pause_ends_by_itself(s: &Server) {
    let mut admin = s.conn();
    let mut r = s.conn();
    let mut other = s.conn();
    assert_eq!(admin.q("SET k v"), Reply::ok());
    assert_eq!(admin.q("CLIENT PAUSE 1000"), Reply::ok());
    r.send(&["GET", "k"]);
    assert!(held(&mut r));
    // Under ALL even CLIENT UNPAUSE waits for the pause to end.
    other.send(&["CLIENT", "UNPAUSE"]);
    assert!(held(&mut other));
    assert_eq!(r.read(), Reply::bulk("v"));
    assert_eq!(other.read(), Reply::ok());
    // A QUIT held by a pause still answers before the connection closes.
    assert_eq!(admin.q("CLIENT PAUSE 500 ALL"), Reply::ok());
    r.send(&["QUIT"]);
    assert!(held(&mut r));
    assert_eq!(r.read(), Reply::ok());
    assert!(r.is_closed());
}

fn expiry_waits(s: &Server) {
    let mut c = s.conn();
    assert_eq!(c.q("FLUSHALL"), Reply::ok());
    assert_eq!(c.q("SET e 1 PX 100"), Reply::ok());
    assert_eq!(c.q("SET kept 1"), Reply::ok());
    assert_eq!(c.q("CLIENT PAUSE 20000 WRITE"), Reply::ok());
    std::thread::sleep(Duration::from_millis(400));
    // Past its expiry the key reads as missing, but it is not deleted while paused.
    assert_eq!(c.q("GET e"), Reply::Nil);
    assert_eq!(c.q("EXISTS e"), Reply::Int(0));
    assert_eq!(c.q("DBSIZE"), Reply::Int(2));
    assert_eq!(c.q("CLIENT UNPAUSE"), Reply::ok());
    let mut n = 0;
    for _ in 0..100 {
        n = c.q("DBSIZE").int();
        if n == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(n, 1, "the expired key goes once the pause ends");
}

fn errors(s: &Server) -> Vec<Reply> {
    let mut c = s.conn();
    let mut out = Vec::new();
    for cmd in [
        "CLIENT PAUSE abc",
        "CLIENT PAUSE -1",
        "CLIENT PAUSE 10 foo",
        "CLIENT PAUSE 10 write extra",
        "CLIENT PAUSE 99999999999999999999",
        "CLIENT PAUSE",
        "CLIENT UNPAUSE x",
        "CLIENT UNPAUSE",
    ] {
        out.push(c.q(cmd));
    }
    out
}

#[test]
fn write_pause_holds_writes_until_unpause() {
    write_pause(&Server::start(&[]));
}

#[test]
fn all_pause_holds_everything_until_its_timeout() {
    all_pause_ends_by_itself(&Server::start(&[]));
}

#[test]
fn keys_do_not_expire_while_paused() {
    expiry_waits(&Server::start(&[]));
}

#[test]
fn same_as_redis() {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let picket = Server::start(&[]);
    assert_eq!(errors(&picket), errors(&redis));
    write_pause(&redis);
    all_pause_ends_by_itself(&redis);
    expiry_waits(&redis);
}

/// CLIENT UNBLOCK does not release a client held by a pause (Redis 7.0.15 crashes on this;
/// later versions answer 0, as picket does), and a held client that disconnects leaves
/// nothing behind.
#[test]
fn held_clients_are_not_unblocked_and_may_leave() {
    let s = Server::start(&[]);
    let mut admin = s.conn();
    let mut w = s.conn();
    let wid = w.q("CLIENT ID").int().to_string();
    assert_eq!(admin.q("CLIENT PAUSE 20000 WRITE"), Reply::ok());
    w.send(&["SET", "a", "1"]);
    assert!(held(&mut w));
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &wid]), Reply::Int(0));
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &wid, "ERROR"]),
        Reply::Int(0)
    );
    let mut gone = s.conn();
    gone.send(&["SET", "b", "1"]);
    assert!(held(&mut gone));
    drop(gone);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(admin.q("CLIENT UNPAUSE"), Reply::ok());
    assert_eq!(w.read(), Reply::ok());
    assert_eq!(admin.q("GET a"), Reply::bulk("1"));
    assert_eq!(admin.q("EXISTS b"), Reply::Int(0), "its write went with it");
    assert_eq!(admin.q("PING"), Reply::simple("PONG"));
}
