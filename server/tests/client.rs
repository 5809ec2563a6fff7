//! CLIENT against Redis 7.0: ID, SETNAME/GETNAME, LIST (filters, field names and order),
//! INFO, KILL (every filter, the old form, killing oneself), REPLY ON|OFF|SKIP, NO-EVICT,
//! HELP and the errors of each.

mod common;
mod util;

use std::time::Duration;

use common::{Conn, Pair, Reply, Server};
use util::{client_fields, client_lines, my_field, same_scenario, wait_until};

fn same_lines(pair: &Pair, lines: &[&str]) {
    let cmds: Vec<Vec<&str>> = lines.iter().map(|l| util::words(l)).collect();
    let refs: Vec<&[&str]> = cmds.iter().map(|c| c.as_slice()).collect();
    pair.same(&refs);
}

#[test]
fn subcommand_errors_and_help() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "CLIENT",
            "CLIENT FOO",
            "CLIENT HELP x",
            "CLIENT ID x",
            "CLIENT INFO x",
            "CLIENT GETNAME",
            "CLIENT GETNAME x",
            "CLIENT SETNAME",
            "CLIENT SETNAME a b",
            "CLIENT SETNAME ab",
            "CLIENT GETNAME",
            "CLIENT LIST TYPE foo",
            "CLIENT LIST TYPE",
            "CLIENT LIST ID",
            "CLIENT LIST ID abc",
            "CLIENT LIST ID 0",
            "CLIENT LIST ID -1",
            "CLIENT LIST ID 1 abc",
            "CLIENT LIST foo",
            "CLIENT LIST TYPE normal x",
            "CLIENT LIST ID 99999",
            "CLIENT LIST TYPE master",
            "CLIENT LIST TYPE replica",
            "CLIENT LIST TYPE slave",
            "CLIENT LIST TYPE pubsub",
            "CLIENT KILL",
            "CLIENT KILL 1.2.3.4:5",
            "CLIENT KILL ID",
            "CLIENT KILL ID 0",
            "CLIENT KILL ID abc",
            "CLIENT KILL ID 99999",
            "CLIENT KILL TYPE foo",
            "CLIENT KILL TYPE master",
            "CLIENT KILL TYPE replica",
            "CLIENT KILL TYPE slave",
            "CLIENT KILL USER nouser",
            "CLIENT KILL SKIPME maybe",
            "CLIENT KILL FOO bar",
            "CLIENT KILL ADDR 1.1.1.1:1 LADDR 2.2.2.2:2",
            "CLIENT KILL ID 1 ID",
            "CLIENT REPLY",
            "CLIENT REPLY foo",
            "CLIENT REPLY on x",
            "CLIENT NO-EVICT",
            "CLIENT NO-EVICT maybe",
            "CLIENT NO-EVICT on",
            "CLIENT NO-EVICT OFF",
        ],
    );
    // Names: empty clears, spaces and control characters are refused.
    pair.same(&[
        &["CLIENT", "SETNAME", "x"],
        &["CLIENT", "SETNAME", ""],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", "a b"],
        &["CLIENT", "SETNAME", "a\nb"],
        &["CLIENT", "SETNAME", "a\x01b"],
        &["CLIENT", "SETNAME", "caf\u{e9}"],
        &["CLIENT", "SETNAME", "!~"],
        &["CLIENT", "GETNAME"],
    ]);
}

#[test]
fn client_help_is_redis_help() {
    let Some(pair) = Pair::start(&[]) else { return };
    let p = pair.picket.conn().q("CLIENT HELP");
    let r = pair.redis.conn().q("CLIENT HELP");
    assert_eq!(p, r);
}

#[test]
fn client_list_fields_are_redis_fields_in_redis_order() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    for c in [&mut p, &mut r] {
        c.q("CLIENT SETNAME me");
        c.q("SELECT 2");
    }
    let pl = p.q("CLIENT INFO").text();
    let rl = r.q("CLIENT INFO").text();
    let names = |l: &str| -> Vec<String> { client_fields(l).into_iter().map(|(k, _)| k).collect() };
    assert_eq!(names(&pl), names(&rl), "\npicket: {pl}\nredis:  {rl}");
    // Fields whose values are the same on both for the same state.
    let pick = |l: &str| -> Vec<(String, String)> {
        client_fields(l)
            .into_iter()
            .filter(|(k, _)| {
                [
                    "name", "flags", "db", "sub", "psub", "ssub", "multi", "obl", "oll", "omem",
                    "events", "cmd", "user", "redir", "resp",
                ]
                .contains(&k.as_str())
            })
            .collect()
    };
    assert_eq!(pick(&pl), pick(&rl));
    assert!(pl.ends_with('\n'));
    // CLIENT LIST has the same fields on every line, and the ids and addresses are real.
    let id = p.q("CLIENT ID").int();
    let addr = p.stream.local_addr().unwrap().to_string();
    let laddr = p.stream.peer_addr().unwrap().to_string();
    let lines = client_lines(&mut p);
    let mine = lines
        .iter()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .expect("own line");
    let f = client_fields(mine);
    assert_eq!(f[1], ("addr".to_string(), addr));
    assert_eq!(f[2], ("laddr".to_string(), laddr));
    assert_eq!(f[4], ("name".to_string(), "me".to_string()));
    assert_eq!(f.last().unwrap().0, "resp");
}

#[test]
fn client_list_filters() {
    let s = Server::start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    let mut c = s.conn();
    let ida = a.q("CLIENT ID").int();
    let idb = b.q("CLIENT ID").int();
    let idc = c.q("CLIENT ID").int();
    assert!(ida < idb && idb < idc, "ids grow");
    b.q("SUBSCRIBE ch");
    let ids = |text: String| -> Vec<i64> {
        text.lines()
            .map(|l| client_fields(l)[0].1.parse().unwrap())
            .collect()
    };
    assert_eq!(ids(a.q("CLIENT LIST").text()), vec![ida, idb, idc]);
    assert_eq!(ids(a.q("CLIENT LIST TYPE normal").text()), vec![ida, idc]);
    assert_eq!(ids(a.q("CLIENT LIST TYPE pubsub").text()), vec![idb]);
    // In the order asked, repeats included, unknown ids skipped.
    let (sa, sc) = (ida.to_string(), idc.to_string());
    assert_eq!(
        ids(a
            .cmd(&["CLIENT", "LIST", "ID", &sc, &sa, "999", "0", "-3", &sc])
            .text()),
        vec![idc, ida, idc]
    );
    assert_eq!(a.q("CLIENT LIST TYPE master"), Reply::bulk(""));
    // The pubsub client's line.
    let line = a.cmd(&["CLIENT", "LIST", "ID", &idb.to_string()]).text();
    let f = client_fields(&line);
    let get = |n: &str| f.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(get("flags"), "P");
    assert_eq!(get("sub"), "1");
    assert_eq!(get("cmd"), "subscribe");
}

#[test]
fn client_info_flags_follow_the_state() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_scenario(&pair, |port| {
        let mut a = Conn::connect(port);
        let mut b = Conn::connect(port);
        let id = a.q("CLIENT ID").int().to_string();
        let snap = |b: &mut Conn| -> Vec<(String, String)> {
            let line = b.cmd(&["CLIENT", "LIST", "ID", &id]).text();
            client_fields(&line)
                .into_iter()
                .filter(|(k, _)| {
                    ["flags", "db", "sub", "psub", "multi", "cmd", "name", "resp"]
                        .contains(&k.as_str())
                })
                .collect()
        };
        let mut out = Vec::new();
        a.q("CLIENT NO-EVICT on");
        out.push(snap(&mut b));
        a.q("CLIENT NO-EVICT off");
        a.q("CLIENT SETNAME worker");
        a.q("WATCH k");
        b.q("SET k x");
        out.push(snap(&mut b));
        a.q("MULTI");
        a.q("PING");
        a.q("ECHO x");
        out.push(snap(&mut b));
        a.q("DISCARD");
        a.q("SELECT 3");
        a.q("PSUBSCRIBE x*");
        out.push(snap(&mut b));
        a.q("SUBSCRIBE y z");
        a.read();
        out.push(snap(&mut b));
        a.q("RESET");
        out.push(snap(&mut b));
        a.q("HELLO 3");
        out.push(snap(&mut b));
        a.q("MONITOR");
        out.push(snap(&mut b));
        out
    });
}

/// A connection's own address as the server shows it.
fn addr_of(c: &Conn) -> String {
    c.stream.local_addr().unwrap().to_string()
}

#[test]
fn client_kill_filters() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_scenario(&pair, |port| {
        let mut out: Vec<String> = Vec::new();
        let mut note = |what: &str, r: String| out.push(format!("{what}: {r}"));
        let mut a = Conn::connect(port);
        let mut b = Conn::connect(port);
        let mut c = Conn::connect(port);
        // Registered before anyone looks for them.
        b.q("PING");
        c.q("PING");

        // ADDR, with SKIPME yes (the default) when it is not us.
        let cmd = ["CLIENT", "KILL", "ADDR", &addr_of(&b), "SKIPME", "yes"];
        note("kill addr", format!("{:?}", a.cmd(&cmd)));
        note("b closed", b.is_closed().to_string());

        // ID.
        let mut b = Conn::connect(port);
        let idb = b.q("CLIENT ID").int().to_string();
        note(
            "kill id",
            format!("{:?}", a.cmd(&["CLIENT", "KILL", "ID", &idb])),
        );
        note("b closed", b.is_closed().to_string());
        note(
            "again",
            format!("{:?}", a.cmd(&["CLIENT", "KILL", "ID", &idb])),
        );

        // LADDR: everyone connected to that listener but us.
        let laddr = a.stream.peer_addr().unwrap().to_string();
        note(
            "kill laddr",
            format!("{:?}", a.cmd(&["CLIENT", "KILL", "LADDR", &laddr])),
        );
        note("c closed", c.is_closed().to_string());
        note("a alive", format!("{:?}", a.q("PING")));

        // TYPE pubsub and TYPE normal.
        let mut s = Conn::connect(port);
        s.q("SUBSCRIBE x");
        let mut n = Conn::connect(port);
        n.q("PING");
        note(
            "kill pubsub",
            format!("{:?}", a.q("CLIENT KILL TYPE pubsub")),
        );
        note("s closed", s.is_closed().to_string());
        note(
            "kill normal",
            format!("{:?}", a.q("CLIENT KILL TYPE normal")),
        );
        note("n closed", n.is_closed().to_string());

        // USER, combined filters (all must match).
        let mut u = Conn::connect(port);
        let idu = u.q("CLIENT ID").int().to_string();
        note(
            "kill user+wrong id",
            format!(
                "{:?}",
                a.cmd(&["CLIENT", "KILL", "USER", "default", "ID", "424242"])
            ),
        );
        note(
            "kill user+id",
            format!(
                "{:?}",
                a.cmd(&["CLIENT", "KILL", "USER", "default", "ID", &idu])
            ),
        );
        note("u closed", u.is_closed().to_string());

        // The old form: ip:port, and an unknown address.
        let mut o = Conn::connect(port);
        o.q("PING");
        note(
            "old form",
            format!("{:?}", a.cmd(&["CLIENT", "KILL", &addr_of(&o)])),
        );
        note("o closed", o.is_closed().to_string());
        note(
            "old form none",
            format!("{:?}", a.q("CLIENT KILL 10.0.0.1:1")),
        );
        note("a alive", format!("{:?}", a.q("PING")));
        out
    });
}

#[test]
fn client_kill_self() {
    let Some(pair) = Pair::start(&[]) else { return };
    for port in [pair.picket.port, pair.redis.port] {
        // Alone (the harness's readiness probe or the last test's connection may still be
        // registered for an instant).
        let mut a = Conn::connect(port);
        assert!(wait_until(Duration::from_secs(5), || client_lines(&mut a)
            .len()
            == 1));
        // SKIPME no: the reply is written, then the connection closes.
        assert_eq!(a.q("CLIENT KILL USER default SKIPME no"), Reply::Int(1));
        assert!(a.is_closed());
        // The old form kills oneself (OK first).
        let mut a = Conn::connect(port);
        let me = addr_of(&a);
        assert_eq!(a.cmd(&["CLIENT", "KILL", &me]), Reply::ok());
        assert!(a.is_closed());
        // By id, SKIPME yes: nothing.
        let mut a = Conn::connect(port);
        let id = a.q("CLIENT ID").int().to_string();
        assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &id]), Reply::Int(0));
        assert_eq!(
            a.cmd(&["CLIENT", "KILL", "ID", &id, "SKIPME", "no"]),
            Reply::Int(1)
        );
        assert!(a.is_closed());
        // A killed client leaves CLIENT LIST.
        let mut w = Conn::connect(port);
        assert!(wait_until(Duration::from_secs(5), || client_lines(&mut w)
            .len()
            == 1));
    }
}

#[test]
fn client_reply_modes() {
    let Some(pair) = Pair::start(&[]) else { return };
    for payload in [
        &b"CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY SKIP\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n"[..],
        b"CLIENT REPLY SKIP\r\nPING\r\nPING\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n",
        b"CLIENT REPLY SKIP\r\nNOSUCH\r\nPING\r\nCLIENT REPLY SKIP\r\nGET\r\nECHO x\r\n",
        b"CLIENT REPLY OFF\r\nNOSUCH\r\nGET\r\nECHO x\r\nCLIENT REPLY ON\r\n",
        b"CLIENT REPLY SKIP\r\nMULTI\r\nPING\r\nEXEC\r\n",
        b"MULTI\r\nCLIENT REPLY OFF\r\nPING\r\nEXEC\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n",
        b"MULTI\r\nPING\r\nCLIENT REPLY SKIP\r\nPING\r\nEXEC\r\nPING\r\nPING\r\n",
        b"CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nPING\r\nECHO a\r\n",
        b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING\r\nCLIENT REPLY ON\r\nECHO a\r\n",
    ] {
        util::same_raw(&pair, payload);
    }
    // Pushes still reach a client whose replies are off.
    same_scenario(&pair, |port| {
        let mut a = Conn::connect(port);
        let mut p = Conn::connect(port);
        a.q("HELLO 3");
        a.q("SUBSCRIBE ch");
        a.send(&["CLIENT", "REPLY", "OFF"]);
        let n = p.q("PUBLISH ch hello");
        let msg = a.read();
        a.send(&["CLIENT", "REPLY", "ON"]);
        (n, msg, a.read())
    });
}

#[test]
fn client_setname_getname_and_id() {
    let s = Server::start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    let ida = a.q("CLIENT ID").int();
    let idb = b.q("CLIENT ID").int();
    assert!(idb > ida);
    assert_eq!(a.q("CLIENT ID"), Reply::Int(ida));
    assert_eq!(a.q("CLIENT GETNAME"), Reply::Nil);
    assert_eq!(a.q("CLIENT SETNAME alpha"), Reply::ok());
    assert_eq!(a.q("CLIENT GETNAME"), Reply::bulk("alpha"));
    assert_eq!(b.q("CLIENT GETNAME"), Reply::Nil);
    assert_eq!(my_field(&mut a, "name"), "alpha");
    assert_eq!(my_field(&mut a, "id"), ida.to_string());
    assert_eq!(my_field(&mut a, "cmd"), "client|info");
    // Ids are never reused.
    drop(b);
    let mut c = s.conn();
    assert!(c.q("CLIENT ID").int() > idb);
}
