//! Connection commands against Redis 7.0: PING, ECHO, QUIT, SELECT, RESET, HELLO (RESP2 and
//! RESP3 shapes, AUTH, SETNAME, errors), AUTH with and without `requirepass`, NOAUTH before
//! authentication, and the protocol limits of unauthenticated clients.

mod common;
mod util;

use common::{Pair, Reply, Server};
use util::{mask_hello_id, my_field, same_raw, same_scenario};

/// Each line is sent as a command on one connection to both servers; replies must be equal.
fn same_lines(pair: &Pair, lines: &[&str]) {
    let cmds: Vec<Vec<&str>> = lines.iter().map(|l| util::words(l)).collect();
    let refs: Vec<&[&str]> = cmds.iter().map(|c| c.as_slice()).collect();
    pair.same(&refs);
}

#[test]
fn ping_echo_select_differential() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "PING",
            "PING hello",
            "PING a b",
            "ECHO",
            "ECHO a b",
            "ECHO x",
            "SELECT 1",
            "SELECT 15",
            "SELECT 16",
            "SELECT -1",
            "SELECT a",
            "SELECT 1.5",
            "SELECT",
            "SELECT 0 1",
            "RESET x",
            "NOSUCHCOMMAND a b",
        ],
    );
    pair.same(&[&["ECHO", ""], &["PING", ""], &["ECHO", "a\r\nb\x00c"]]);
}

#[test]
fn quit_replies_then_closes_even_in_a_pipeline() {
    let Some(pair) = Pair::start(&[]) else { return };
    let r = same_raw(&pair, b"PING\r\nQUIT\r\nPING\r\n");
    assert_eq!(r.text(), "+PONG\r\n+OK\r\n");
    assert!(r.closed);
    // QUIT takes (and ignores) arguments.
    let r = same_raw(&pair, b"QUIT now please\r\nPING\r\n");
    assert_eq!(r.text(), "+OK\r\n");
    assert!(r.closed);
    // QUIT inside MULTI is not queued.
    let r = same_raw(&pair, b"MULTI\r\nQUIT\r\n");
    assert_eq!(r.text(), "+OK\r\n+OK\r\n");
    assert!(r.closed);
}

#[test]
fn hello_shapes_and_errors() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_scenario(&pair, |port| {
        let mut c = common::Conn::connect(port);
        let mut out = Vec::new();
        for line in [
            "HELLO",
            "HELLO 2",
            "HELLO 4",
            "HELLO 1",
            "HELLO a",
            "HELLO 3 SETNAME",
            "HELLO 3 AUTH default",
            "HELLO 3 AUTH",
            "HELLO 2 FOO",
            "HELLO 3 SETNAME a b",
            "CLIENT GETNAME",
            // Without a password, any password of the default user is accepted.
            "HELLO 3 AUTH default anything",
            "HELLO 3 SETNAME foo",
            "CLIENT GETNAME",
            "HELLO 2 SETNAME bar",
            "CLIENT GETNAME",
            "HELLO 3",
            "PING",
            "ECHO x",
            "CLIENT GETNAME",
        ] {
            out.push((line, mask_hello_id(c.q(line))));
        }
        out.push(("setname bad", c.cmd(&["HELLO", "3", "SETNAME", "a b"])));
        out
    });
}

#[test]
fn hello_reply_fields() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let id = c.q("CLIENT ID").int();
    // The map, byte for byte (the test client's maps lose their order).
    let r = util::raw(s.port, b"HELLO 3\r\n");
    let id2 = r.text();
    let id2 = id2
        .split("$2\r\nid\r\n:")
        .nth(1)
        .and_then(|t| t.split("\r\n").next())
        .expect("id in HELLO");
    assert_eq!(
        r.text(),
        format!(
            "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
             $5\r\nproto\r\n:3\r\n$2\r\nid\r\n:{id2}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
             $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
        )
    );
    let Reply::Map(m) = c.q("HELLO 3") else {
        panic!("HELLO 3 must answer a map")
    };
    assert!(m.contains(&(Reply::bulk("id"), Reply::Int(id))));
    assert_eq!(my_field(&mut c, "resp"), "3");
    // Back to RESP2: a flat array of 14.
    let r = c.q("HELLO 2");
    assert_eq!(r.items().len(), 14);
    assert!(matches!(r, Reply::Array(_)));
}

#[test]
fn reset_restores_a_fresh_connection() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_scenario(&pair, |port| {
        let mut c = common::Conn::connect(port);
        let mut out = Vec::new();
        c.q("SELECT 5");
        c.q("CLIENT SETNAME someone");
        mask_hello_id(c.q("HELLO 3"));
        c.q("CLIENT NO-EVICT on");
        c.q("WATCH k");
        c.q("MULTI");
        out.push(c.q("PING"));
        out.push(c.q("RESET"));
        for f in ["db", "name", "flags", "resp", "multi", "sub", "psub"] {
            out.push(Reply::bulk(&format!("{f}={}", my_field(&mut c, f))));
        }
        c.q("SUBSCRIBE ch");
        c.q("PSUBSCRIBE p*");
        out.push(c.q("RESET"));
        out.push(c.q("PING"));
        out.push(c.q("PUBSUB NUMSUB ch"));
        out.push(c.q("PUBSUB NUMPAT"));
        c.q("MONITOR");
        out.push(c.q("RESET"));
        out.push(Reply::bulk(&my_field(&mut c, "flags")));
        out
    });
}

#[test]
fn auth_without_requirepass() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "AUTH x",
            "AUTH default x",
            "AUTH nosuchuser x",
            "AUTH a b c",
            "AUTH",
            "PING",
        ],
    );
}

#[test]
fn auth_with_requirepass() {
    let Some(pair) = Pair::start(&["--requirepass", "secret"]) else {
        return;
    };
    same_scenario(&pair, |port| {
        let mut c = common::Conn::connect(port);
        let mut out = Vec::new();
        for line in [
            "PING",
            "ECHO a",
            "NOSUCH",
            "GET",
            "CLIENT ID",
            "HELLO",
            "HELLO 3",
            "HELLO 5",
            "HELLO x",
            "HELLO 3 AUTH default wrong",
            "HELLO 3 AUTH",
            "AUTH",
            "AUTH wrong",
            "AUTH default wrong",
            "AUTH nouser secret",
            "AUTH a b c",
            "MULTI",
            "EXEC",
            "PING",
            "AUTH secret",
            "PING",
            "AUTH wrong",
            // A failed AUTH does not log the client out.
            "PING",
            "RESET",
            "PING",
            "AUTH default secret",
            "PING",
            "RESET",
            "HELLO 3 AUTH default secret SETNAME foo",
            "CLIENT GETNAME",
            "PING",
        ] {
            out.push((line, mask_hello_id(c.q(line))));
        }
        // QUIT is allowed before authentication.
        let mut c = common::Conn::connect(port);
        out.push(("QUIT", c.q("QUIT")));
        out.push(("closed", Reply::Int(c.is_closed() as i64)));
        out
    });
    // A transaction begun before AUTH: EXEC is refused with EXECABORT.
    let r = same_raw(
        &pair,
        b"MULTI\r\nAUTH wrong\r\nEXEC\r\nAUTH secret\r\nEXEC\r\n",
    );
    assert!(r
        .text()
        .contains("-EXECABORT Transaction discarded because of: NOAUTH"));
}

#[test]
fn unauthenticated_protocol_limits() {
    let Some(pair) = Pair::start(&["--requirepass", "secret"]) else {
        return;
    };
    // More than 10 arguments, or a bulk over 16 KB, before AUTH: protocol error and close.
    let r = same_raw(&pair, b"*11\r\n");
    assert_eq!(
        r.text(),
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert!(r.closed);
    let r = same_raw(&pair, b"*1\r\n$16385\r\n");
    assert_eq!(
        r.text(),
        "-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    assert!(r.closed);
    // At the limits it is fine (and answered with NOAUTH).
    let mut big = b"*1\r\n$16384\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'a', 16384));
    big.extend_from_slice(b"\r\n");
    let r = same_raw(&pair, &big);
    assert!(r.text().starts_with("-ERR unknown command"), "{r:?}");
    let mut ten = b"*10\r\n".to_vec();
    for _ in 0..10 {
        ten.extend_from_slice(b"$4\r\nPING\r\n");
    }
    same_raw(&pair, &ten);
    // After AUTH the limits are lifted, in the same pipeline.
    let mut after = b"AUTH secret\r\n*11\r\n$4\r\nECHO\r\n".to_vec();
    for _ in 0..10 {
        after.extend_from_slice(b"$1\r\nx\r\n");
    }
    after.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$20000\r\n");
    after.extend(std::iter::repeat_n(b'y', 20000));
    after.extend_from_slice(b"\r\n");
    let r = same_raw(&pair, &after);
    assert!(!r.closed);
    assert!(r
        .text()
        .starts_with("+OK\r\n-ERR wrong number of arguments for 'echo' command\r\n$20000\r\n"));
    // A RESET logs the client out again: the limits are back.
    let r = same_raw(&pair, b"AUTH secret\r\nRESET\r\n*11\r\n");
    assert_eq!(
        r.text(),
        "+OK\r\n+RESET\r\n-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
}

#[test]
fn select_changes_the_database_of_this_connection_only() {
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut a = s.conn();
    let mut b = s.conn();
    assert_eq!(a.q("SELECT 3"), Reply::ok());
    assert_eq!(a.q("DEBUG POPULATE 7"), Reply::ok());
    assert_eq!(a.q("DBSIZE"), Reply::Int(7));
    assert_eq!(b.q("DBSIZE"), Reply::Int(0));
    assert_eq!(my_field(&mut a, "db"), "3");
    assert_eq!(b.q("SELECT 3"), Reply::ok());
    assert_eq!(b.q("DBSIZE"), Reply::Int(7));
}

#[test]
fn hello_applies_auth_and_setname_as_it_reads_them() {
    let Some(pair) = Pair::start(&["--requirepass", "secret"]) else {
        return;
    };
    same_scenario(&pair, |port| {
        let mut out = Vec::new();
        for line in [
            "HELLO 3 SETNAME n1",
            "HELLO 3 AUTH default wrong SETNAME n2",
            "HELLO 3 SETNAME n3 AUTH default wrong",
            "HELLO 2 SETNAME n4 FOO",
            "HELLO 2 SETNAME n5 SETNAME n6 BAR",
            "HELLO 9 SETNAME n7",
            "HELLO 3 AUTH default secret FOO",
            "HELLO 3 AUTH default secret AUTH default wrong",
            "HELLO 3 AUTH default wrong AUTH default secret",
        ] {
            let mut c = common::Conn::connect(port);
            out.push((line, "reply", mask_hello_id(c.q(line))));
            out.push((line, "ping", c.q("PING")));
            c.q("AUTH secret");
            out.push((line, "name", c.q("CLIENT GETNAME")));
            out.push((line, "resp", Reply::bulk(&my_field(&mut c, "resp"))));
        }
        out
    });
}
