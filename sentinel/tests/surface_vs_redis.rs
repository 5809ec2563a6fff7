//! picket-sentinel against Redis 7.0's sentinel, both monitoring the same master: INFO
//! (sections, field names and order, section selection), SENTINEL DEBUG, SENTINEL
//! SIMULATE-FAILURE and SENTINEL INFO-CACHE give the same replies and errors.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use support::*;

/// Section headers and field names of an INFO text, in order; `masterN:` lines as their
/// name and the keys inside (`master0[name,status,address,slaves,sentinels]`).
fn shape(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with("# ") {
            out.push(line.to_string());
            continue;
        }
        let (name, value) = line.split_once(':').expect("name:value");
        if name.starts_with("master") && name[6..].chars().all(|c| c.is_ascii_digit()) {
            let keys: Vec<&str> = value
                .split(',')
                .map(|kv| kv.split('=').next().unwrap_or(""))
                .collect();
            out.push(format!("{name}[{}]", keys.join(",")));
        } else {
            out.push(name.to_string());
        }
    }
    out
}

fn field(text: &str, name: &str) -> String {
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .to_string()
}

/// A picket and a Redis sentinel (quorum 1) on one Redis master that know each other.
struct Pair {
    _master: Proc,
    picket: Proc,
    redis: Proc,
}

fn pair(redis: &Path) -> Pair {
    let master = server(Some(redis), free_port(), None, &[]);
    let picket = sentinel(None, free_port(), master.port, 1, "");
    let redis = sentinel(Some(redis), free_port(), master.port, 1, "");
    for s in [&picket, &redis] {
        wait_for("the sentinels to know each other", 30, || {
            cmd(s.port, &["SENTINEL", "MASTER", "mymaster"])
                .field("num-other-sentinels")
                .as_deref()
                == Some("1")
        });
    }
    Pair {
        _master: master,
        picket,
        redis,
    }
}

#[test]
fn info_sections_and_fields_equal_redis() {
    let Some(redis) = redis_bin() else { return };
    let p = pair(&redis);
    let (pp, rp) = (p.picket.port, p.redis.port);
    for args in [
        &["INFO"][..],
        &["INFO", "default"],
        &["INFO", "all"],
        &["INFO", "everything"],
        &["INFO", "server"],
        &["INFO", "Server"],
        &["INFO", "clients"],
        &["INFO", "stats"],
        &["INFO", "cpu"],
        &["INFO", "SENTINEL"],
        &["INFO", "sentinel", "server"],
        &["INFO", "cpu", "stats", "cpu", "clients"],
        &["INFO", "bogus", "sentinel"],
        &["INFO", "all", "server"],
        &["INFO", "memory"],
        &["INFO", "replication", "keyspace", "persistence"],
        &["INFO", "bogus"],
    ] {
        let pt = cmd(pp, args).s();
        let rt = cmd(rp, args).s();
        assert_eq!(
            shape(&pt),
            shape(&rt),
            "{args:?}\npicket:\n{pt}\nredis:\n{rt}"
        );
        // The same framing: one blank line between sections, CRLF at the end, nothing
        // at all for no section.
        assert_eq!(pt.is_empty(), rt.is_empty(), "{args:?}");
        if !pt.is_empty() {
            assert!(pt.ends_with("\r\n") && !pt.ends_with("\r\n\r\n"), "{pt:?}");
            assert_eq!(
                pt.matches("\r\n\r\n# ").count() + 1,
                pt.matches("# ").count(),
                "{pt:?}"
            );
        }
    }
    // A bulk string in RESP3 too, on both.
    for port in [pp, rp] {
        let mut c = Client::connect(port);
        c.cmd(&["HELLO", "3"]);
        assert!(
            matches!(c.cmd(&["INFO", "sentinel"]), R::B(Some(_))),
            "{port}"
        );
    }

    // Values that must agree, or follow the same rules.
    wait_for("both to see the same master line", 30, || {
        let line = |port| field(&cmd(port, &["INFO", "sentinel"]).s(), "master0");
        line(pp) == line(rp)
    });
    let master0 = field(&cmd(pp, &["INFO", "sentinel"]).s(), "master0");
    assert!(master0.ends_with(",slaves=0,sentinels=2"), "{master0}");
    for (s, port) in [(&p.picket, pp), (&p.redis, rp)] {
        let t = cmd(port, &["INFO"]).s();
        for (name, want) in [
            ("redis_version", "7.0.15".to_string()),
            ("redis_mode", "sentinel".to_string()),
            ("tcp_port", port.to_string()),
            ("process_id", s.child.id().to_string()),
            (
                "config_file",
                s.conf.as_ref().unwrap().display().to_string(),
            ),
            ("configured_hz", "10".to_string()),
            ("io_threads_active", "0".to_string()),
            ("maxclients", "10000".to_string()),
            ("sentinel_masters", "1".to_string()),
            ("sentinel_simulate_failure_flags", "0".to_string()),
            ("sentinel_running_scripts", "0".to_string()),
        ] {
            assert_eq!(field(&t, name), want, "{name} on {port}");
        }
        // run_id is the process's, not the sentinel's identity.
        let myid = cmd(port, &["SENTINEL", "MYID"]).s();
        assert_eq!(field(&t, "run_id").len(), 40);
        assert_ne!(field(&t, "run_id"), myid, "{port}");
        // The timer runs at 10 to 20 Hz.
        let hz: u64 = field(&t, "hz").parse().unwrap();
        assert!((10..=20).contains(&hz), "{hz}");
        // The counters move as Redis's do: a connection, a command, an error reply.
        let stats = |name: &str| -> u64 {
            field(&cmd(port, &["INFO", "stats"]).s(), name)
                .parse()
                .unwrap()
        };
        let conns = stats("total_connections_received");
        let errors = stats("total_error_replies");
        let cmds = stats("total_commands_processed");
        let input = stats("total_net_input_bytes");
        assert!(matches!(cmd(port, &["SENTINEL", "bogus"]), R::E(_)));
        assert!(stats("total_connections_received") >= conns + 2);
        assert!(stats("total_error_replies") > errors);
        assert!(stats("total_commands_processed") >= cmds + 2);
        assert!(stats("total_net_input_bytes") > input);
    }
}

/// Send the same commands to both; the replies must be equal.
fn same_replies(pp: u16, rp: u16, cmds: &[&[&str]]) {
    let (mut pc, mut rc) = (Client::connect(pp), Client::connect(rp));
    for c in cmds {
        assert_eq!(pc.cmd(c), rc.cmd(c), "{c:?}");
    }
}

#[test]
fn sentinel_debug_equals_redis() {
    let Some(redis) = redis_bin() else { return };
    let p = pair(&redis);
    let debug: &[&str] = &["SENTINEL", "DEBUG"];
    same_replies(
        p.picket.port,
        p.redis.port,
        &[
            debug,
            &["SENTINEL", "debug", "ping-period"],
            &["SENTINEL", "DEBUG", "ping-period", "0"],
            &["SENTINEL", "DEBUG", "ping-period", "-1"],
            &["SENTINEL", "DEBUG", "ping-period", "+5"],
            &["SENTINEL", "DEBUG", "ping-period", "05"],
            &["SENTINEL", "DEBUG", "ping-period", " 5"],
            &["SENTINEL", "DEBUG", "ping-period", "1.5"],
            &["SENTINEL", "DEBUG", "ping-period", "9223372036854775808"],
            &["SENTINEL", "DEBUG", "bogus", "1"],
            &["SENTINEL", "DEBUG", "Info-Period", "abc"],
            debug,
            // Every parameter, mixed case; then the list in Redis's order.
            &[
                "SENTINEL",
                "DEBUG",
                "INFO-PERIOD",
                "9000",
                "ping-period",
                "900",
                "ask-period",
                "1100",
                "publish-period",
                "2100",
                "default-down-after",
                "31000",
                "tilt-trigger",
                "2200",
                "tilt-period",
                "31000",
                "slave-reconf-timeout",
                "11000",
                "min-link-reconnect-period",
                "16000",
                "default-failover-timeout",
                "181000",
                "election-timeout",
                "11000",
                "script-max-runtime",
                "61000",
                "script-retry-delay",
                "31000",
            ],
            debug,
            // Pairs before a bad one stay set, as in Redis.
            &[
                "SENTINEL",
                "DEBUG",
                "ask-period",
                "1200",
                "ping-period",
                "x",
                "publish-period",
                "2200",
            ],
            &["SENTINEL", "DEBUG", "tilt-period", "30500", "ask-period"],
            debug,
            // The largest value Redis takes.
            &[
                "SENTINEL",
                "DEBUG",
                "script-retry-delay",
                "9223372036854775807",
            ],
            debug,
            // Back to the defaults.
            &[
                "SENTINEL",
                "DEBUG",
                "info-period",
                "10000",
                "ping-period",
                "1000",
                "ask-period",
                "1000",
                "publish-period",
                "2000",
                "default-down-after",
                "30000",
                "tilt-trigger",
                "2000",
                "tilt-period",
                "30000",
                "slave-reconf-timeout",
                "10000",
                "min-link-reconnect-period",
                "15000",
                "default-failover-timeout",
                "180000",
                "election-timeout",
                "10000",
                "script-max-runtime",
                "60000",
                "script-retry-delay",
                "30000",
            ],
            debug,
        ],
    );
    // The defaults apply to masters monitored afterwards, on both.
    let master = p._master.port.to_string();
    same_replies(
        p.picket.port,
        p.redis.port,
        &[
            &[
                "SENTINEL",
                "DEBUG",
                "default-down-after",
                "4321",
                "default-failover-timeout",
                "8765",
            ],
            &["SENTINEL", "MONITOR", "other", "127.0.0.1", &master, "2"],
        ],
    );
    for port in [p.picket.port, p.redis.port] {
        let m = cmd(port, &["SENTINEL", "MASTER", "other"]);
        assert_eq!(m.field("down-after-milliseconds").as_deref(), Some("4321"));
        assert_eq!(m.field("failover-timeout").as_deref(), Some("8765"));
        let m = cmd(port, &["SENTINEL", "MASTER", "mymaster"]);
        assert_eq!(m.field("down-after-milliseconds").as_deref(), Some("1000"));
    }
    // RESP3: a map on both.
    let (mut pc, mut rc) = (
        Client::connect(p.picket.port),
        Client::connect(p.redis.port),
    );
    pc.cmd(&["HELLO", "3"]);
    rc.cmd(&["HELLO", "3"]);
    let (pd, rd) = (pc.cmd(debug), rc.cmd(debug));
    assert!(matches!(pd, R::M(_)), "{pd:?}");
    assert_eq!(pd, rd);
}

#[test]
fn simulate_failure_equals_redis() {
    let Some(redis) = redis_bin() else { return };
    let p = pair(&redis);
    let flags = |port| {
        field(
            &cmd(port, &["INFO", "sentinel"]).s(),
            "sentinel_simulate_failure_flags",
        )
    };
    let sim = |args: &[&str]| {
        let mut v = vec!["SENTINEL", "SIMULATE-FAILURE"];
        v.extend_from_slice(args);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    for args in [
        &[][..],
        &["HELP"],
        &["help"],
        &["Crash-After-Election"],
        &["crash-after-promotion", "CRASH-AFTER-ELECTION"],
        &["crash-after-election", "bogus"],
        &["crash-after-promotion", "help"],
        &["help", "bogus"],
        &["bogus", "help"],
        &["crash-after-promotion"],
        &["bogus"],
    ] {
        let a = sim(args);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let (pr, rr) = (cmd(p.picket.port, &a), cmd(p.redis.port, &a));
        assert_eq!(pr, rr, "{a:?}");
        // The flags as left (cleared first, then set up to an error or HELP).
        assert_eq!(flags(p.picket.port), flags(p.redis.port), "{a:?}");
    }
}

#[test]
fn info_cache_equals_redis() {
    let Some(redis) = redis_bin() else { return };
    let servers = servers(Some(&redis), &[]);
    let master = servers[0].port;
    let picket = sentinel(None, free_port(), master, 1, "");
    let redis_s = sentinel(Some(&redis), free_port(), master, 1, "");
    let (pp, rp) = (picket.port, redis_s.port);
    // Both have the INFO of the master and of both replicas.
    let entries = |port| -> Vec<(i64, Option<String>)> {
        let r = cmd(port, &["SENTINEL", "INFO-CACHE", "mymaster"]);
        let v = r.items();
        assert_eq!(v.len(), 2, "{r:?}");
        assert_eq!(v[0].s(), "mymaster");
        v[1].items()
            .into_iter()
            .map(|e| {
                let pair = e.items();
                assert_eq!(pair.len(), 2, "{e:?}");
                let R::I(age) = pair[0] else {
                    panic!("the age is an integer: {e:?}")
                };
                let text = match &pair[1] {
                    R::B(Some(t)) => Some(t.clone()),
                    R::B(None) | R::Nil => None,
                    other => panic!("the INFO is a bulk string or null: {other:?}"),
                };
                (age, text)
            })
            .collect()
    };
    for port in [pp, rp] {
        wait_for("every INFO cached", 30, || {
            let e = entries(port);
            e.len() == 3 && e.iter().all(|(_, t)| t.is_some())
        });
    }
    let ports = |port| -> (String, BTreeSet<String>) {
        let e = entries(port);
        let tcp = |t: &Option<String>| field(t.as_ref().unwrap(), "tcp_port");
        let first = e[0].1.as_ref().unwrap();
        assert!(first.contains("role:master"), "{first}");
        for (age, t) in &e {
            assert!(*age >= 0, "{age}");
            assert!(t.as_ref().unwrap().starts_with("# Server\r\n"));
        }
        (tcp(&e[0].1), e[1..].iter().map(|(_, t)| tcp(t)).collect())
    };
    // The master first, then its replicas.
    assert_eq!(ports(pp), ports(rp));
    assert_eq!(ports(pp).0, master.to_string());
    assert_eq!(
        ports(pp).1,
        servers[1..].iter().map(|s| s.port.to_string()).collect()
    );
    let shape = |r: R| -> Vec<usize> {
        let v = r.items();
        v.iter()
            .skip(1)
            .step_by(2)
            .map(|x| x.items().len())
            .collect()
    };
    for args in [
        &["SENTINEL", "INFO-CACHE", "nosuch"][..],
        &["SENTINEL", "INFO-CACHE", "mymaster", "mymaster"],
        &["SENTINEL", "INFO-CACHE", "nosuch", "mymaster"],
    ] {
        let (pr, rr) = (cmd(pp, args), cmd(rp, args));
        assert_eq!(pr.items().len(), rr.items().len(), "{args:?}");
        assert_eq!(shape(pr), shape(rr), "{args:?}");
    }
    same_replies(
        pp,
        rp,
        &[
            &["SENTINEL", "INFO-CACHE"],
            &["SENTINEL", "INFO-CACHE", "nosuch"],
        ],
    );
    // RESP3: the same types (arrays, integers, bulk strings).
    for port in [pp, rp] {
        let mut c = Client::connect(port);
        c.cmd(&["HELLO", "3"]);
        let r = c.cmd(&["SENTINEL", "INFO-CACHE", "mymaster"]);
        let v = r.items();
        assert!(matches!(&v[1], R::A(_)), "{r:?}");
        for e in v[1].items() {
            assert!(matches!(e.items()[..], [R::I(_), R::B(Some(_))]), "{e:?}");
        }
    }
}
