//! The client-facing command surface of a running picket-sentinel, against Redis 7.0's
//! replies: SENTINEL SET / CONFIG / DEBUG / INFO-CACHE / IS-MASTER-DOWN-BY-ADDR / MONITOR /
//! REMOVE / RESET, their events, RESP3, bad input, and a sentinel configured in TOML that
//! discovers its peers and keeps its state across a restart.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::*;

const MYID_LEN: usize = 40;

#[test]
fn sentinel_commands_on_a_live_deployment() {
    let d = deploy(None, &[], "");
    let (s0, s1, s2) = (
        d.sentinels[0].port,
        d.sentinels[1].port,
        d.sentinels[2].port,
    );
    let master = d.servers[0].port;
    let rx = events(s0);
    let mut seen = Vec::new();
    let mut c = Client::connect(s0);

    // --- SENTINEL SET: +set per option, Redis's errors, deny-scripts-reconfig (default yes).
    assert_eq!(
        c.cmd(&[
            "SENTINEL",
            "SET",
            "mymaster",
            "quorum",
            "2",
            "PARALLEL-SYNCS",
            "2"
        ]),
        R::S("OK".into())
    );
    let at = format!("master mymaster 127.0.0.1 {master}");
    wait_event(&rx, &mut seen, "+set", 5, |m| m == format!("{at} quorum 2"));
    wait_event(&rx, &mut seen, "+set", 5, |m| {
        m == format!("{at} PARALLEL-SYNCS 2")
    });
    c.cmd(&[
        "SENTINEL",
        "SET",
        "mymaster",
        "auth-pass",
        "x",
        "auth-pass",
        "",
    ]);
    wait_event(&rx, &mut seen, "+set", 5, |m| {
        m == format!("{at} auth-pass ******")
    });
    for (args, want) in [
        (
            vec!["notification-script", "/bin/true"],
            "ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration",
        ),
        (
            vec!["client-reconfig-script", "/bin/true"],
            "ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration",
        ),
        (
            vec!["parallel-syncs", "0"],
            "ERR Invalid argument '0' for SENTINEL SET 'parallel-syncs'",
        ),
        (
            vec!["down-after-milliseconds", "x"],
            "ERR Invalid argument 'x' for SENTINEL SET 'down-after-milliseconds'",
        ),
        (
            vec!["quorum", "2", "bogus"],
            "ERR Unknown option or number of arguments for SENTINEL SET 'bogus'",
        ),
        (
            vec!["rename-command", "CONFIG"],
            "ERR Unknown option or number of arguments for SENTINEL SET 'rename-command'",
        ),
    ] {
        let mut a = vec!["SENTINEL", "SET", "mymaster"];
        a.extend(args);
        assert_eq!(c.cmd(&a), R::E(want.into()), "{a:?}");
    }
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "mymaster"]),
        R::E("ERR wrong number of arguments for 'sentinel|set' command".into())
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "nosuch", "quorum", "1"]),
        R::E("ERR No such master with that name".into())
    );
    let m = c.cmd(&["SENTINEL", "MASTER", "mymaster"]);
    assert_eq!(m.field("parallel-syncs").as_deref(), Some("2"));
    assert!(!m.keys().contains(&"notification-script".to_string()));
    assert!(d.sentinels[0]
        .conf_text()
        .contains("sentinel parallel-syncs mymaster 2\n"));

    // --- SENTINEL DEBUG: the timers in Redis's order; setting them.
    let dbg = c.cmd(&["SENTINEL", "DEBUG"]);
    assert_eq!(
        dbg.keys(),
        [
            "INFO-PERIOD",
            "PING-PERIOD",
            "ASK-PERIOD",
            "PUBLISH-PERIOD",
            "DEFAULT-DOWN-AFTER",
            "DEFAULT-FAILOVER-TIMEOUT",
            "TILT-TRIGGER",
            "TILT-PERIOD",
            "SLAVE-RECONF-TIMEOUT",
            "MIN-LINK-RECONNECT-PERIOD",
            "ELECTION-TIMEOUT",
            "SCRIPT-MAX-RUNTIME",
            "SCRIPT-RETRY-DELAY"
        ]
    );
    assert_eq!(dbg.field("PING-PERIOD").as_deref(), Some("1000"));
    assert_eq!(
        c.cmd(&[
            "SENTINEL",
            "DEBUG",
            "ping-period",
            "500",
            "INFO-PERIOD",
            "2000"
        ]),
        R::S("OK".into())
    );
    let dbg = c.cmd(&["SENTINEL", "DEBUG"]);
    assert_eq!(dbg.field("PING-PERIOD").as_deref(), Some("500"));
    assert_eq!(dbg.field("INFO-PERIOD").as_deref(), Some("2000"));
    for (args, want) in [
        (
            vec!["ping-period"],
            "ERR Unknown option or number of arguments for SENTINEL DEBUG 'ping-period'",
        ),
        (
            vec!["ping-period", "0"],
            "ERR Invalid argument '0' for SENTINEL DEBUG 'ping-period'",
        ),
        (
            vec!["bogus", "1"],
            "ERR Unknown option or number of arguments for SENTINEL DEBUG 'bogus'",
        ),
    ] {
        let mut a = vec!["SENTINEL", "DEBUG"];
        a.extend(args);
        assert_eq!(c.cmd(&a), R::E(want.into()), "{a:?}");
    }
    // A 2 s info period shows in INFO-CACHE ages.
    std::thread::sleep(Duration::from_millis(2500));

    // --- INFO-CACHE: [name, [[age-ms, INFO text], ... master first, then replicas]].
    let ic = c.cmd(&["SENTINEL", "INFO-CACHE", "mymaster", "nosuch", "mymaster"]);
    let v = ic.items();
    assert_eq!(v.len(), 2, "{ic:?}");
    assert_eq!(v[0].s(), "mymaster");
    let insts = v[1].items();
    assert_eq!(insts.len(), 3);
    for (i, e) in insts.iter().enumerate() {
        let pair = e.items();
        let R::I(age) = pair[0] else {
            panic!("age is an integer: {e:?}")
        };
        assert!((0..5000).contains(&age), "{age}");
        let role = if i == 0 { "role:master" } else { "role:slave" };
        assert!(pair[1].s().contains(role), "{}", pair[1].s());
    }
    assert_eq!(
        c.cmd(&["SENTINEL", "INFO-CACHE"]),
        R::E("ERR wrong number of arguments for 'sentinel|info-cache' command".into())
    );

    // --- IS-MASTER-DOWN-BY-ADDR: [down, leader, leader-epoch].
    let r = c.cmd(&[
        "SENTINEL",
        "is-master-down-by-addr",
        "127.0.0.1",
        &master.to_string(),
        "0",
        "*",
    ]);
    assert_eq!(r, R::A(vec![R::I(0), R::B(Some("*".into())), R::I(0)]));
    let r = c.cmd(&[
        "SENTINEL",
        "is-master-down-by-addr",
        "10.9.9.9",
        "1",
        "0",
        "*",
    ]);
    assert_eq!(r, R::A(vec![R::I(0), R::B(Some("*".into())), R::I(0)]));
    assert_eq!(
        c.cmd(&[
            "SENTINEL",
            "is-master-down-by-addr",
            "127.0.0.1",
            "x",
            "0",
            "*"
        ]),
        R::E("ERR value is not an integer or out of range".into())
    );
    // A vote request (on the third sentinel): one vote per epoch, first come first served.
    let runid_a = "a".repeat(MYID_LEN);
    let runid_b = "b".repeat(MYID_LEN);
    let epoch = 100.to_string();
    let ask = |runid: &str| {
        cmd(
            s2,
            &[
                "SENTINEL",
                "is-master-down-by-addr",
                "127.0.0.1",
                &master.to_string(),
                &epoch,
                runid,
            ],
        )
    };
    assert_eq!(
        ask(&runid_a),
        R::A(vec![R::I(0), R::B(Some(runid_a.clone())), R::I(100)])
    );
    assert_eq!(
        ask(&runid_b),
        R::A(vec![R::I(0), R::B(Some(runid_a.clone())), R::I(100)])
    );

    // --- CONFIG GET / SET.
    let g = c.cmd(&["SENTINEL", "CONFIG", "GET", "announce-*"]);
    assert_eq!(
        g.keys(),
        ["announce-hostnames", "announce-ip", "announce-port"]
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "CONFIG", "SET", "announce-ip", "127.0.0.1"]),
        R::S("OK".into())
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "CONFIG", "GET", "announce-ip"])
            .field("announce-ip")
            .as_deref(),
        Some("127.0.0.1")
    );
    // Written as Redis writes it (quoted), and kept when cleared (`""`), as Redis 7.0 does.
    assert!(d.sentinels[0]
        .conf_text()
        .contains("sentinel announce-ip \"127.0.0.1\"\n"));
    assert_eq!(
        c.cmd(&["SENTINEL", "CONFIG", "SET", "announce-ip", ""]),
        R::S("OK".into())
    );
    assert!(d.sentinels[0]
        .conf_text()
        .contains("sentinel announce-ip \"\"\n"));
    for (args, want) in [
        (
            vec!["SET", "bogus", "1"],
            "ERR Invalid argument 'bogus' to SENTINEL CONFIG SET",
        ),
        (
            vec!["SET", "announce-port", "x"],
            "ERR Invalid value 'x' to SENTINEL CONFIG SET 'announce-port'",
        ),
        (
            vec!["SET", "resolve-hostnames", "maybe"],
            "ERR Invalid value 'maybe' to SENTINEL CONFIG SET 'resolve-hostnames'",
        ),
        (
            vec!["GET"],
            "ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.",
        ),
    ] {
        let mut a = vec!["SENTINEL", "CONFIG"];
        a.extend(args);
        assert_eq!(c.cmd(&a), R::E(want.into()), "{a:?}");
    }
    // The others still know this sentinel at a real address after the announce-ip dance.
    std::thread::sleep(Duration::from_millis(2500));
    let myid0 = c.cmd(&["SENTINEL", "MYID"]).s();
    for p in [s1, s2] {
        let ss = cmd(p, &["SENTINEL", "SENTINELS", "mymaster"]);
        let me = ss
            .items()
            .into_iter()
            .find(|x| x.field("runid").as_deref() == Some(myid0.as_str()))
            .expect("known");
        assert_eq!(me.field("ip").as_deref(), Some("127.0.0.1"));
        assert_eq!(me.field("port"), Some(s0.to_string()));
    }

    // --- MONITOR / REMOVE and their events.
    let replica = d.servers[1].port.to_string();
    assert_eq!(
        c.cmd(&["SENTINEL", "MONITOR", "other", "127.0.0.1", &replica, "2"]),
        R::S("OK".into())
    );
    wait_event(&rx, &mut seen, "+monitor", 5, |m| {
        m == format!("master other 127.0.0.1 {replica} quorum 2")
    });
    assert!(d.sentinels[0]
        .conf_text()
        .contains(&format!("sentinel monitor other 127.0.0.1 {replica} 2\n")));
    assert_eq!(c.cmd(&["SENTINEL", "MASTERS"]).items().len(), 2);
    for (args, want) in [
        (
            vec!["other", "127.0.0.1", "1", "1"],
            "ERR Duplicate master name.",
        ),
        (
            vec!["x", "127.0.0.1", "1", "0"],
            "ERR Quorum must be 1 or greater.",
        ),
        (vec!["x", "127.0.0.1", "1", "q"], "ERR Invalid quorum"),
        (vec!["x", "127.0.0.1", "p", "1"], "ERR Invalid port"),
        (
            vec!["x", "127.0.0.1", "70000", "1"],
            "ERR Invalid port number.",
        ),
        (
            vec!["x", "not-an-ip", "1", "1"],
            "ERR Invalid IP address or hostname specified",
        ),
    ] {
        let mut a = vec!["SENTINEL", "MONITOR"];
        a.extend(args);
        assert_eq!(c.cmd(&a), R::E(want.into()), "{a:?}");
    }
    assert_eq!(c.cmd(&["SENTINEL", "REMOVE", "other"]), R::S("OK".into()));
    wait_event(&rx, &mut seen, "-monitor", 5, |m| {
        m == format!("master other 127.0.0.1 {replica}")
    });
    assert!(!d.sentinels[0].conf_text().contains("monitor other"));
    assert_eq!(
        c.cmd(&["SENTINEL", "REMOVE", "other"]),
        R::E("ERR No such master with that name".into())
    );

    // --- RESET: the count; replicas and sentinels forgotten, then found again.
    assert_eq!(c.cmd(&["SENTINEL", "RESET", "nomatch*"]), R::I(0));
    assert_eq!(c.cmd(&["SENTINEL", "RESET", "my*"]), R::I(1));
    wait_event(&rx, &mut seen, "+reset-master", 5, |m| m == at);
    let m = c.cmd(&["SENTINEL", "MASTER", "mymaster"]);
    assert_eq!(m.field("num-slaves").as_deref(), Some("0"), "{m:?}");
    assert_eq!(
        m.field("num-other-sentinels").as_deref(),
        Some("0"),
        "{m:?}"
    );
    wait_discovery(&d.sentinels[..1]);
    wait_event(&rx, &mut seen, "+slave", 5, |_| true);
    wait_event(&rx, &mut seen, "+sentinel", 5, |_| true);
}

#[test]
fn resp3_and_bad_input() {
    let srv = server(None, free_port(), None, &[]);
    let s = sentinel(None, free_port(), srv.port, 1, "");
    wait_for("master link", 10, || {
        cmd(s.port, &["SENTINEL", "MASTER", "mymaster"])
            .field("role-reported")
            .as_deref()
            == Some("master")
    });
    let mut c = Client::connect(s.port);
    // HELLO 3: Redis's sentinel-mode map (no "role").
    let h = c.cmd(&["HELLO", "3"]);
    assert!(matches!(h, R::M(_)), "{h:?}");
    assert_eq!(
        h.keys(),
        ["server", "version", "proto", "id", "mode", "modules"]
    );
    assert_eq!(h.field("proto").as_deref(), Some("3"));
    assert_eq!(h.field("mode").as_deref(), Some("sentinel"));
    let m = c.cmd(&["SENTINEL", "MASTER", "mymaster"]);
    let R::M(pairs) = &m else {
        panic!("SENTINEL MASTER is a map in RESP3: {m:?}")
    };
    assert_eq!(
        pairs[0],
        (R::B(Some("name".into())), R::B(Some("mymaster".into())))
    );
    assert_eq!(m.field("port"), Some(srv.port.to_string()));
    let all = c.cmd(&["SENTINEL", "MASTERS"]);
    assert!(matches!(&all.items()[0], R::M(_)), "{all:?}");
    assert!(matches!(c.cmd(&["SENTINEL", "DEBUG"]), R::M(_)));
    assert!(matches!(
        c.cmd(&["SENTINEL", "CONFIG", "GET", "*"]),
        R::M(_)
    ));
    assert_eq!(
        c.cmd(&["SENTINEL", "get-master-addr-by-name", "nosuch"]),
        R::Nil
    );
    assert!(matches!(c.cmd(&["INFO", "sentinel"]), R::B(Some(_))));
    // Events are pushes in RESP3.
    c.cmd(&["SUBSCRIBE", "+set"]);
    cmd(s.port, &["SENTINEL", "SET", "mymaster", "quorum", "1"]);
    let p = c.read().unwrap();
    assert!(matches!(p, R::P(_)), "{p:?}");
    assert_eq!(p.items()[1].s(), "+set");
    let mut c = Client::connect(s.port);
    assert_eq!(c.cmd(&["HELLO", "2"]).field("proto").as_deref(), Some("2"));
    assert!(matches!(
        c.cmd(&["SENTINEL", "MASTER", "mymaster"]),
        R::A(_)
    ));

    // Bad input: Redis's errors, and the connection and the process keep serving.
    for (args, want) in [
        (
            vec!["SENTINEL"],
            "ERR wrong number of arguments for 'sentinel' command",
        ),
        (
            vec!["SENTINEL", "bogus"],
            "ERR unknown subcommand 'bogus'. Try SENTINEL HELP.",
        ),
        (
            vec!["SENTINEL", "masters", "x"],
            "ERR wrong number of arguments for 'sentinel|masters' command",
        ),
        (
            vec!["SENTINEL", "master"],
            "ERR wrong number of arguments for 'sentinel|master' command",
        ),
        (
            vec!["SENTINEL", "is-master-down-by-addr", "1.2.3.4", "1"],
            "ERR wrong number of arguments for 'sentinel|is-master-down-by-addr' command",
        ),
        (
            vec!["SENTINEL", "simulate-failure"],
            "ERR wrong number of arguments for 'sentinel|simulate-failure' command",
        ),
        (
            vec!["SENTINEL", "simulate-failure", "bogus"],
            "ERR Unknown failure simulation specified",
        ),
        (
            vec!["SENTINEL", "failover", "nosuch"],
            "ERR No such master with that name",
        ),
        (
            vec!["GET", "k"],
            "ERR unknown command 'GET', with args beginning with: 'k' ",
        ),
        (
            vec!["PING", "a", "b"],
            "ERR wrong number of arguments for 'ping' command",
        ),
        (
            vec!["CLIENT"],
            "ERR wrong number of arguments for 'client' command",
        ),
        (
            vec!["CLIENT", "bogus"],
            "ERR unknown subcommand 'bogus'. Try CLIENT HELP.",
        ),
        (
            vec!["PUBLISH", "ch", "x"],
            "ERR Only HELLO messages are accepted by Sentinel instances.",
        ),
        (vec!["HELLO", "4"], "NOPROTO unsupported protocol version"),
    ] {
        assert_eq!(c.cmd(&args), R::E(want.into()), "{args:?}");
    }
    assert_eq!(c.cmd(&["PING"]), R::S("PONG".into()));
    // Protocol garbage gets an error and a closed connection; others are unaffected.
    for junk in [
        &b"*abc\r\n"[..],
        b"*1\r\n$-5\r\n",
        b"*2\r\n$3\r\nfoo\r\n$999999999999\r\n",
    ] {
        let mut t = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        t.write_all(junk).unwrap();
        let mut buf = Vec::new();
        let _ = t.read_to_end(&mut buf);
        let reply = String::from_utf8_lossy(&buf);
        assert!(reply.starts_with("-ERR"), "{junk:?} -> {reply:?}");
    }
    assert_eq!(c.cmd(&["PING"]), R::S("PONG".into()));
    assert_eq!(
        cmd(s.port, &["SENTINEL", "get-master-addr-by-name", "mymaster"]).items()[1].s(),
        srv.port.to_string()
    );
}

/// A sentinel deployment configured in TOML: discovery, then a restart keeps the state,
/// and the user's comments and keys stay in place.
#[test]
fn toml_configured_sentinels_discover_and_keep_state_across_a_restart() {
    let srv = servers(None, &[]);
    let master = srv[0].port;
    let toml = |port: u16| {
        format!(
            "# my sentinel, in TOML\nport = {port}  # client port\nbind = [\"127.0.0.1\"]\nloglevel = \"notice\"\n\n[sentinel]\n# written by the sentinel\n\n# the data set\n[masters.mymaster]\nhost = \"127.0.0.1\"\nport = {master}\nquorum = 2\ndown-after-milliseconds = 1000 # quick\nfailover-timeout = 10000\n"
        )
    };
    let mut sentinels: Vec<Proc> = (0..3)
        .map(|_| {
            let p = free_port();
            sentinel_from(None, p, "sentinel.toml", &toml(p), None)
        })
        .collect();
    wait_discovery(&sentinels);
    let s0 = sentinels.remove(0);
    let port = s0.port;
    let myid = cmd(port, &["SENTINEL", "MYID"]).s();
    let conf = s0.conf.clone().unwrap();
    // The state is written off the core, a moment after it is known: wait until the file
    // has everyone discovered.
    let ports: Vec<String> = srv[1..]
        .iter()
        .map(|r| r.port)
        .chain(sentinels.iter().map(|s| s.port))
        .map(|p| format!("\"127.0.0.1:{p}"))
        .collect();
    wait_for("saved state", 10, || {
        let t = std::fs::read_to_string(&conf).unwrap();
        t.contains("known-sentinels")
            && t.contains("known-replicas")
            && ports.iter().all(|p| t.contains(p.as_str()))
    });
    let dir = s0.into_dir();
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.starts_with(&format!(
            "# my sentinel, in TOML\nport = {port}  # client port\nbind = [\"127.0.0.1\"]\nloglevel = \"notice\"\n\n[sentinel]\nmyid = \"{myid}\"\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("\n# written by the sentinel\n\n# the data set\n[masters.mymaster]\n"),
        "{text}"
    );
    assert!(
        text.contains("down-after-milliseconds = 1000 # quick\n"),
        "{text}"
    );
    for r in &srv[1..] {
        assert!(
            text.contains(&format!("\"127.0.0.1:{}\"", r.port)),
            "{text}"
        );
    }
    for s in &sentinels {
        let id = cmd(s.port, &["SENTINEL", "MYID"]).s();
        assert!(
            text.contains(&format!("\"127.0.0.1:{} {id}\"", s.port)),
            "{text}"
        );
    }
    // Restart from the same file: the same id, and it knows everyone at once.
    let s0 = sentinel_from(None, port, "sentinel.toml", "", Some(dir));
    let mut c = Client::connect(s0.port);
    assert_eq!(c.cmd(&["SENTINEL", "MYID"]).s(), myid);
    let m = c.cmd(&["SENTINEL", "MASTER", "mymaster"]);
    assert_eq!(m.field("num-slaves").as_deref(), Some("2"), "{m:?}");
    assert_eq!(
        m.field("num-other-sentinels").as_deref(),
        Some("2"),
        "{m:?}"
    );
    assert_eq!(m.field("down-after-milliseconds").as_deref(), Some("1000"));
    // A runtime change is saved into the TOML file.
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "mymaster", "quorum", "1"]),
        R::S("OK".into())
    );
    let text = s0.conf_text();
    assert!(text.contains("\nquorum = 1\n"), "{text}");
    assert!(text.starts_with("# my sentinel, in TOML\n"), "{text}");
    // A broken file is refused with the line.
    let bad = tempfile::tempdir().unwrap();
    let path = bad.path().join("bad.toml");
    std::fs::write(&path, "port = 1\n[masters.m]\nhost = \"h\"\n").unwrap();
    let out = std::process::Command::new(sentinel_bin())
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("at line 2") && err.contains("'host', 'port' and 'quorum' are required"),
        "{err}"
    );
}
