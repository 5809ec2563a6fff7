//! Server commands against Redis 7.0: COMMAND (COUNT, INFO with key specs, DOCS, LIST
//! FILTERBY, GETKEYS, GETKEYSANDFLAGS), CONFIG GET/SET/RESETSTAT/REWRITE, SLOWLOG, MONITOR,
//! SHUTDOWN, SIGTERM, TIME, DBSIZE, LASTSAVE, DEBUG, ROLE.

mod common;
mod util;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Conn, Pair, Reply, Server};
use util::{same_scenario, wait_until};

const DEBUG: &[&str] = &["--enable-debug-command", "yes"];

fn same_lines(pair: &Pair, lines: &[&str]) {
    let cmds: Vec<Vec<&str>> = lines.iter().map(|l| util::words(l)).collect();
    let refs: Vec<&[&str]> = cmds.iter().map(|c| c.as_slice()).collect();
    pair.same(&refs);
}

/// Subcommands Redis 7.0 has and picket does not (yet).
const MISSING_SUBCOMMANDS: &[&str] = &["script|debug"];

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ------------------------------------------------------------------------------ COMMAND

/// A COMMAND INFO entry with its subcommands replaced by their sorted names (Redis lists them
/// in dict order), those picket lacks left out.
fn info_entry(r: &Reply) -> Reply {
    let mut v = r.items();
    if v.len() == 10 {
        let mut names: Vec<String> = v[9]
            .items()
            .iter()
            .map(|s| s.items()[0].text())
            .filter(|n| !MISSING_SUBCOMMANDS.contains(&n.as_str()))
            .collect();
        names.sort();
        v[9] = Reply::Array(names.iter().map(|n| Reply::bulk(n)).collect());
    }
    Reply::Array(v)
}

/// A COMMAND DOCS reply (RESP2: name, flat doc array) with the `subcommands` map replaced by
/// sorted names, those picket lacks left out.
fn docs_entry(r: &Reply) -> Reply {
    let v = r.items();
    assert_eq!(v.len(), 2, "{r:?}");
    let mut doc = v[1].items();
    for i in (0..doc.len()).step_by(2) {
        if doc[i] == Reply::bulk("subcommands") {
            let flat = doc[i + 1].items();
            let mut names: Vec<String> = flat
                .iter()
                .step_by(2)
                .map(|n| n.text())
                .filter(|n| !MISSING_SUBCOMMANDS.contains(&n.as_str()))
                .collect();
            names.sort();
            doc[i + 1] = Reply::Array(names.iter().map(|n| Reply::bulk(n)).collect());
        }
    }
    Reply::Array(vec![v[0].clone(), Reply::Array(doc)])
}

#[test]
fn command_info_and_docs_equal_redis_for_every_command() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    let names: Vec<String> = p
        .q("COMMAND LIST")
        .items()
        .iter()
        .map(|n| n.text())
        .collect();
    assert!(names.len() > 100, "{}", names.len());
    let redis_names: BTreeSet<String> = r
        .q("COMMAND LIST")
        .items()
        .iter()
        .map(|n| n.text())
        .collect();
    // Picket's own commands are exactly the known ones; every other is Redis's.
    let own: Vec<&str> = names
        .iter()
        .map(|n| n.as_str())
        .filter(|n| !redis_names.contains(*n))
        .collect();
    assert_eq!(own, common::PICKET_COMMANDS);
    for n in names
        .iter()
        .filter(|n| !common::PICKET_COMMANDS.contains(&n.as_str()))
    {
        assert!(redis_names.contains(n), "{n} is not a Redis 7.0 command");
        let pi = p.cmd(&["COMMAND", "INFO", n]).items();
        let ri = r.cmd(&["COMMAND", "INFO", n]).items();
        assert_eq!(info_entry(&pi[0]), info_entry(&ri[0]), "COMMAND INFO {n}");
        let pd = p.cmd(&["COMMAND", "DOCS", n]);
        let rd = r.cmd(&["COMMAND", "DOCS", n]);
        assert_eq!(docs_entry(&pd), docs_entry(&rd), "COMMAND DOCS {n}");
    }
    // The subcommands Redis has and picket lacks are exactly the known ones.
    let ours: BTreeSet<&String> = names.iter().collect();
    let containers: BTreeSet<&str> = names
        .iter()
        .filter_map(|n| n.split_once('|').map(|(c, _)| c))
        .collect();
    let mut missing: Vec<&str> = redis_names
        .iter()
        .filter(|n| {
            n.split_once('|')
                .is_some_and(|(c, _)| containers.contains(c) && !ours.contains(n))
        })
        .map(|n| n.as_str())
        .collect();
    missing.sort();
    let mut known = MISSING_SUBCOMMANDS.to_vec();
    known.sort();
    assert_eq!(missing, known);
    // COMMAND (all) and COMMAND COUNT agree with the list.
    let all = p.q("COMMAND").items();
    let top = names.iter().filter(|n| !n.contains('|')).count();
    assert_eq!(all.len(), top);
    assert_eq!(p.q("COMMAND COUNT"), Reply::Int(top as i64));
    assert_eq!(p.q("COMMAND INFO").items().len(), top);
    assert_eq!(p.q("COMMAND DOCS").items().len(), top * 2);
}

#[test]
fn command_errors_and_lookups() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "COMMAND COUNT x",
            "COMMAND FOO",
            "COMMAND INFO nosuch get",
            "COMMAND INFO GET Set config|get CONFIG|GET config|nosuch get|x",
            "COMMAND DOCS nosuch get",
            "COMMAND DOCS nosuch",
            "COMMAND LIST x",
            "COMMAND LIST FILTERBY",
            "COMMAND LIST FILTERBY foo bar",
            "COMMAND LIST FILTERBY module x",
            "COMMAND LIST FILTERBY aclcat nosuchcat",
            "COMMAND LIST FILTERBY pattern zzz*",
            "COMMAND GETKEYS",
            "COMMAND GETKEYS get",
            "COMMAND GETKEYS nosuch a",
            "COMMAND GETKEYS ping",
            "COMMAND GETKEYS get a b",
            "COMMAND GETKEYS get a",
            "COMMAND GETKEYS GET a",
            "COMMAND GETKEYS set a b",
            "COMMAND GETKEYS set a b ex 10 get",
            "COMMAND GETKEYS mset a b c d",
            "COMMAND GETKEYS mset a b c",
            "COMMAND GETKEYS mget a b c",
            "COMMAND GETKEYS del a b c",
            "COMMAND GETKEYS bitop and d a b c",
            "COMMAND GETKEYS object encoding k",
            "COMMAND GETKEYS config get x",
            "COMMAND GETKEYS client list",
            "COMMAND GETKEYS rename a b",
            "COMMAND GETKEYS copy a b db 2 replace",
            "COMMAND GETKEYS move a 3",
            "COMMAND GETKEYS watch a b c",
            "COMMAND GETKEYS touch x",
            "COMMAND GETKEYS publish ch msg",
            "COMMAND GETKEYSANDFLAGS set a b",
            "COMMAND GETKEYSANDFLAGS copy a b",
            "COMMAND GETKEYSANDFLAGS rename a b",
            "COMMAND GETKEYSANDFLAGS getex k persist",
            "COMMAND GETKEYSANDFLAGS getdel k",
            "COMMAND GETKEYSANDFLAGS bitop or d a b",
            "COMMAND GETKEYSANDFLAGS msetnx a 1 b 2",
            "COMMAND GETKEYSANDFLAGS del a b",
            "COMMAND GETKEYSANDFLAGS ping",
        ],
    );
    // In RESP3: null, and key flags as a set.
    same_scenario(&pair, |port| {
        let mut c = Conn::connect(port);
        c.q("HELLO 3");
        vec![
            c.q("COMMAND INFO nosuch"),
            c.q("COMMAND GETKEYSANDFLAGS set a b"),
            c.q("COMMAND GETKEYSANDFLAGS set a b get"),
        ]
        .into_iter()
        .map(util::sorted_maps)
        .collect::<Vec<_>>()
    });
}

#[test]
fn command_list_filters_match_redis_on_our_commands() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    let ours: BTreeSet<String> = p
        .q("COMMAND LIST")
        .items()
        .iter()
        .map(|n| n.text())
        .collect();
    let set = |c: &mut Conn, args: &[&str]| -> BTreeSet<String> {
        c.cmd(args).items().iter().map(|n| n.text()).collect()
    };
    for (kind, value) in [
        ("aclcat", "pubsub"),
        ("aclcat", "string"),
        ("aclcat", "keyspace"),
        ("aclcat", "admin"),
        ("aclcat", "CONNECTION"),
        ("aclcat", "fast"),
        ("aclcat", "dangerous"),
        ("pattern", "*"),
        ("pattern", "client*"),
        ("pattern", "*|*"),
        ("pattern", "CONFIG|?et"),
        ("pattern", "[gs]et"),
    ] {
        let args = ["COMMAND", "LIST", "FILTERBY", kind, value];
        let mut mine = set(&mut p, &args);
        // Picket's own commands (in @admin, @dangerous, `*`): Redis has none to compare.
        let own = ["admin", "dangerous", "*"].contains(&value);
        for n in common::PICKET_COMMANDS {
            assert_eq!(mine.remove(*n), own, "{n} in FILTERBY {kind} {value}");
        }
        let theirs: BTreeSet<String> = set(&mut r, &args).intersection(&ours).cloned().collect();
        assert_eq!(mine, theirs, "FILTERBY {kind} {value}");
    }
}

// ------------------------------------------------------------------------------ CONFIG

#[test]
fn config_errors_and_values() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "CONFIG",
            "CONFIG FOO",
            "CONFIG GET",
            "CONFIG GET nosuch",
            "CONFIG GET maxclients",
            "CONFIG GET MAXCLIENTS",
            "CONFIG SET",
            "CONFIG SET timeout",
            "CONFIG SET timeout a",
            "CONFIG SET timeout -1",
            "CONFIG SET timeout 1.5",
            "CONFIG SET nosuch 1",
            "CONFIG SET timeout 5 timeout 6",
            "CONFIG SET timeout 5 nosuch 1",
            "CONFIG GET timeout",
            "CONFIG SET timeout 7 hz 0",
            "CONFIG GET timeout",
            "CONFIG GET hz",
            "CONFIG SET hz 1000",
            "CONFIG GET hz",
            "CONFIG SET hz -1",
            "CONFIG SET hz 10",
            "CONFIG SET TIMEOUT 0",
            "CONFIG SET maxclients 0",
            "CONFIG SET maxclients 100000000000",
            "CONFIG SET maxclients 5000",
            "CONFIG GET maxclients",
            "CONFIG SET loglevel foo",
            "CONFIG SET loglevel nothing",
            "CONFIG SET loglevel VERBOSE",
            "CONFIG GET loglevel",
            "CONFIG SET loglevel notice",
            "CONFIG SET databases 3",
            "CONFIG SET enable-debug-command yes",
            "CONFIG SET enable-protected-configs yes",
            "CONFIG SET dir /nonexistent",
            "CONFIG SET protected-mode maybe",
            "CONFIG SET protected-mode no",
            "CONFIG GET protected-mode",
            "CONFIG SET protected-mode yes",
            "CONFIG SET client-output-buffer-limit foo",
            "CONFIG SET client-output-buffer-limit pubsub 1 2",
            "CONFIG SET slowlog-log-slower-than -2",
            "CONFIG SET slowlog-log-slower-than -1",
            "CONFIG SET slowlog-log-slower-than 10000",
            "CONFIG SET slowlog-max-len -1",
            "CONFIG SET proto-max-bulk-len 10",
            "CONFIG SET proto-max-bulk-len 1mb",
            "CONFIG GET proto-max-bulk-len",
            "CONFIG SET proto-max-bulk-len 512mb",
            "CONFIG SET client-query-buffer-limit 1kb",
            "CONFIG SET active-expire-effort 11",
            "CONFIG SET active-expire-effort 1",
            "CONFIG SET notify-keyspace-events Q",
            "CONFIG GET requirepass",
            "CONFIG GET enable-debug-command",
            "CONFIG GET databases",
            "CONFIG GET bind",
            "CONFIG RESETSTAT x",
            "CONFIG RESETSTAT",
            "CONFIG REWRITE x",
            "CONFIG REWRITE",
            "CONFIG HELP",
            "CONFIG HELP x",
        ],
    );
    pair.same(&[
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 64kb 32kb 60",
        ],
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 1mb 1 replica 1gb 2gb 3",
        ],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60",
        ],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 64kb 32kb 60",
            "timeout",
        ],
        &["CONFIG", "SET", "notify-keyspace-events", ""],
        &["CONFIG", "SET", "requirepass", ""],
    ]);
    // Multiple patterns, compared as sorted pairs (Redis answers in dict order).
    for args in [
        &["CONFIG", "GET", "slowlog*"][..],
        &["CONFIG", "GET", "*max-*-len*"],
        &["CONFIG", "GET", "timeout", "hz", "maxclients"],
        &["CONFIG", "GET", "hz", "h?", "HZ"],
        &["CONFIG", "GET", "*buffer*", "notify*", "nosuch*"],
    ] {
        same_scenario(&pair, |port| {
            let items = Conn::connect(port).cmd(args).items();
            let mut pairs: Vec<(String, String)> = items
                .chunks(2)
                .map(|kv| (kv[0].text(), kv[1].text()))
                .collect();
            pairs.sort();
            pairs
        });
    }
}

#[test]
fn config_get_every_directive_matches_redis_defaults() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    let all = p.q("CONFIG GET *").items();
    assert!(all.len() >= 40);
    for kv in all.chunks(2) {
        let name = kv[0].text();
        if ["dir", "port"].contains(&name.as_str()) {
            continue;
        }
        if let Some((_, default)) = common::PICKET_DIRECTIVES.iter().find(|(n, _)| *n == name) {
            assert_eq!(kv[1].text(), *default, "default of picket's {name}");
            continue;
        }
        let theirs = r.cmd(&["CONFIG", "GET", &name]).items();
        assert_eq!(theirs.len(), 2, "{name} is not a Redis 7.0 directive");
        assert_eq!(kv[1], theirs[1], "default of {name}");
    }
}

#[test]
fn config_set_loglevel_changes_what_is_logged() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let logged = |s: &Server| s.log_text().matches(") from client: id=").count();
    // Protocol errors are logged at verbose level, as in Redis.
    util::raw(s.port, b"*x\r\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(logged(&s), 0);
    assert_eq!(c.q("CONFIG SET loglevel verbose"), Reply::ok());
    assert_eq!(
        c.q("CONFIG GET loglevel").items()[1],
        Reply::bulk("verbose")
    );
    util::raw(s.port, b"*y\r\n");
    assert!(wait_until(Duration::from_secs(3), || logged(&s) == 1));
    assert!(s
        .log_text()
        .contains("Protocol error (invalid multibulk length) from client: id="));
    assert_eq!(c.q("CONFIG SET loglevel warning"), Reply::ok());
    util::raw(s.port, b"*z\r\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(logged(&s), 1);
    // A warning still shows.
    c.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 1kb 0 0",
    ]);
    let mut sub = s.conn();
    sub.q("SUBSCRIBE ch");
    c.cmd(&["PUBLISH", "ch", &"x".repeat(5000)]);
    assert!(wait_until(Duration::from_secs(3), || s
        .log_text()
        .contains("overcoming of output buffer limits")));
}

#[test]
fn config_resetstat_clears_the_counters() {
    let s = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut c = s.conn();
    for _ in 0..5 {
        c.q("PING");
        c.q("NOSUCH");
    }
    c.q("GET");
    // Refused commands are not processed.
    assert_eq!(
        util::info_field(&mut c, "stats", "total_commands_processed"),
        "5"
    );
    assert_eq!(
        util::info_field(&mut c, "errorstats", "errorstat_ERR"),
        "count=6"
    );
    assert_eq!(c.q("CONFIG RESETSTAT"), Reply::ok());
    let text = c.q("INFO commandstats").text();
    // Only the INFO call itself can be counted now.
    assert!(!text.contains("cmdstat_ping"), "{text}");
    assert!(!c.q("INFO errorstats").text().contains("errorstat_"));
    assert_eq!(
        util::info_field(&mut c, "stats", "total_error_replies"),
        "0"
    );
    let processed: u64 = util::info_field(&mut c, "stats", "total_commands_processed")
        .parse()
        .unwrap();
    assert!(processed <= 4, "{processed}");
    // The slow log is not statistics: it stays.
    assert!(c.q("SLOWLOG LEN").int() > 0);
}

#[test]
fn config_rewrite_keeps_comments() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(
        &conf,
        "# My server\n# timeout comment\ntimeout 0\n\n# keep this\nhz 10\nslowlog-max-len 64\n",
    )
    .unwrap();
    let s = Server::start_with_file(&conf, &[]);
    let mut c = s.conn();
    for line in [
        "CONFIG SET timeout 5",
        "CONFIG SET maxclients 100",
        "CONFIG SET slowlog-max-len 128",
        "CONFIG SET notify-keyspace-events KEA",
    ] {
        assert_eq!(c.q(line), Reply::ok());
    }
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 64kb 32kb 60"
        ]),
        Reply::ok()
    );
    assert_eq!(c.q("CONFIG REWRITE"), Reply::ok());
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with("# My server\n# timeout comment\ntimeout 5\n\n# keep this\nhz 10\nslowlog-max-len 128\n"), "{text}");
    assert!(text.contains("# Generated by CONFIG REWRITE\n"), "{text}");
    for line in [
        "maxclients 100",
        "client-output-buffer-limit pubsub 64kb 32kb 60",
        "notify-keyspace-events AKE",
    ] {
        assert!(
            text.lines()
                .any(|l| l == line || l == line.replace("AKE", "\"AKE\"")),
            "{line} in {text}"
        );
    }
    // Rewriting again changes nothing.
    assert_eq!(c.q("CONFIG REWRITE"), Reply::ok());
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), text);
    // A restart from the rewritten file has the values.
    drop(c);
    drop(s);
    let s = Server::start_with_file(&conf, &[]);
    let mut c = s.conn();
    assert_eq!(c.q("CONFIG GET timeout").items()[1], Reply::bulk("5"));
    assert_eq!(c.q("CONFIG GET maxclients").items()[1], Reply::bulk("100"));
}

#[test]
fn config_rewrite_of_a_toml_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("picket.toml");
    std::fs::write(&conf, "# Picket\ntimeout = 0 # idle\n\n# stats\nhz = 10\n").unwrap();
    let s = Server::start_with_file(&conf, &[]);
    let mut c = s.conn();
    assert_eq!(c.q("CONFIG SET timeout 9"), Reply::ok());
    assert_eq!(c.q("CONFIG SET maxclients 77"), Reply::ok());
    assert_eq!(c.q("CONFIG REWRITE"), Reply::ok());
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.starts_with("# Picket\ntimeout = 9 # idle\n\n# stats\nhz = 10\n"),
        "{text}"
    );
    assert!(text.contains("maxclients = 77"), "{text}");
    drop(c);
    drop(s);
    let s = Server::start_with_file(&conf, &[]);
    assert_eq!(
        s.conn().q("CONFIG GET timeout").items()[1],
        Reply::bulk("9")
    );
}

#[test]
fn config_rewrite_without_a_file() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(&pair, &["CONFIG REWRITE"]);
}

// ------------------------------------------------------------------------------ SLOWLOG

#[test]
fn slowlog_records_every_command_at_zero() {
    let Some(pair) = Pair::start(&["--slowlog-log-slower-than", "0"]) else {
        return;
    };
    same_lines(
        &pair,
        &[
            "SLOWLOG",
            "SLOWLOG FOO",
            "SLOWLOG GET -2",
            "SLOWLOG GET abc",
            "SLOWLOG GET 1 2",
            "SLOWLOG LEN x",
            "SLOWLOG RESET x",
            "SLOWLOG HELP",
        ],
    );
    same_scenario(&pair, |port| {
        let mut c = Conn::connect(port);
        c.q("CLIENT SETNAME logger");
        c.q("SLOWLOG RESET");
        c.q("PING");
        c.cmd(&["ECHO", &"x".repeat(200)]);
        let many: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
        let mut cmd = vec!["ECHO"];
        cmd.extend(many.iter().map(String::as_str));
        c.cmd(&cmd);
        c.q("NOSUCH");
        c.q("SELECT 100");
        let len = c.q("SLOWLOG LEN");
        // id, time, duration, args, peer, name: mask what differs between servers.
        let entries: Vec<Reply> = c
            .q("SLOWLOG GET -1")
            .items()
            .into_iter()
            .map(|e| {
                let mut v = e.items();
                assert_eq!(v.len(), 6);
                let t = v[1].int();
                assert!((t - unix_now()).abs() <= 5, "timestamp {t}");
                assert!(v[2].int() >= 0);
                assert_eq!(v[4].text(), c.stream.local_addr().unwrap().to_string());
                v[1] = Reply::Int(0);
                v[2] = Reply::Int(0);
                v[4] = Reply::Nil;
                Reply::Array(v)
            })
            .collect();
        let two = c.q("SLOWLOG GET 2").items().len();
        let zero = c.q("SLOWLOG GET 0").items().len();
        c.q("CONFIG SET slowlog-max-len 3");
        let trimmed = c.q("SLOWLOG LEN");
        (len, entries, two, zero, trimmed)
    });
    // -1 disables it, and SLOWLOG itself is not logged.
    let s = Server::start(&["--slowlog-log-slower-than", "-1"]);
    let mut c = s.conn();
    c.q("PING");
    assert_eq!(c.q("SLOWLOG LEN"), Reply::Int(0));
}

#[test]
fn slowlog_threshold_with_debug_sleep() {
    let s = Server::start(DEBUG);
    let mut c = s.conn();
    assert_eq!(c.q("SLOWLOG LEN"), Reply::Int(0));
    c.q("DEBUG SLEEP 0.05");
    c.q("PING");
    let e = c.q("SLOWLOG GET").items();
    assert_eq!(e.len(), 1);
    let v = e[0].items();
    assert!(v[2].int() >= 50_000, "{v:?}");
    assert_eq!(v[3], Reply::bulks(&["DEBUG", "SLEEP", "0.05"]));
}

// ------------------------------------------------------------------------------ MONITOR

/// MONITOR lines with the timestamp and address masked.
fn monitor_lines(port: u16) -> Vec<String> {
    let mut m = Conn::connect(port);
    assert_eq!(m.q("MONITOR"), Reply::ok());
    let mut a = Conn::connect(port);
    let addr = a.stream.local_addr().unwrap().to_string();
    for cmd in [
        vec!["SET", "k", "v"],
        vec!["AUTH", "x"],
        vec!["AUTH", "u", "p"],
        vec!["HELLO", "2", "AUTH", "default", "pw", "SETNAME", "n"],
        vec!["ECHO", "a\"b\n\x01\u{e9} c\\"],
        vec!["SELECT", "2"],
        vec!["PING"],
        vec!["CONFIG", "GET", "hz"],
        vec!["DEBUG", "OBJECT", "k"],
        vec!["MULTI"],
        vec!["PING"],
        vec!["EXEC"],
        vec!["CLIENT", "ID"],
        vec!["NOSUCH"],
        vec!["GET"],
        vec!["SLOWLOG", "LEN"],
        vec!["ECHO", "last"],
    ] {
        a.cmd(&cmd);
    }
    let mut out = Vec::new();
    loop {
        let line = m.read().text();
        // `<sec>.<usec> [<db> <addr>] args`
        let (ts, rest) = line.split_once(' ').unwrap();
        let (secs, usecs) = ts.split_once('.').unwrap();
        assert!((secs.parse::<i64>().unwrap() - unix_now()).abs() <= 5);
        assert_eq!(usecs.len(), 6);
        let rest = rest.replace(&addr, "ADDR");
        let done = rest.ends_with("\"last\"");
        out.push(rest);
        if done {
            return out;
        }
    }
}

#[test]
fn monitor_output_matches_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let lines = same_scenario(&pair, monitor_lines);
    assert!(lines.contains(&"[0 ADDR] \"AUTH\" \"(redacted)\"".to_string()));
    // The monitor sees its own commands after their replies; RESET ends monitoring.
    same_scenario(&pair, |port| {
        let mut m = Conn::connect(port);
        let addr = m.stream.local_addr().unwrap().to_string();
        let mask = |r: Reply| -> String {
            let t = r.text();
            t.split_once(' ')
                .map_or(t.clone(), |(_, rest)| rest.replace(&addr, "ADDR"))
        };
        let mut out = vec![mask(m.q("MONITOR")), mask(m.q("PING"))];
        out.push(mask(m.read()));
        out.push(mask(m.q("RESET")));
        out.push(mask(m.q("PING")));
        out.push(mask(m.q("ECHO x")));
        out
    });
}

// ------------------------------------------------------------------------------ SHUTDOWN, SIGTERM

#[test]
fn shutdown_errors() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "SHUTDOWN FOO",
            "SHUTDOWN ABORT",
            "SHUTDOWN NOSAVE SAVE",
            "SHUTDOWN SAVE NOSAVE",
            "SHUTDOWN ABORT NOSAVE",
            "SHUTDOWN NOW ABORT",
            "PING",
        ],
    );
}

fn wait_exit(s: &mut Server) -> std::process::ExitStatus {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            return st;
        }
        assert!(std::time::Instant::now() < end, "server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shutdown_nosave_exits_zero() {
    for args in [
        &["SHUTDOWN", "NOSAVE"][..],
        &["SHUTDOWN"],
        &["SHUTDOWN", "NOW", "FORCE"],
    ] {
        let mut s = Server::start(&[]);
        let mut other = s.conn();
        other.q("PING");
        let mut c = s.conn();
        c.send(args);
        assert!(
            c.try_read().is_none(),
            "SHUTDOWN answers nothing when it succeeds"
        );
        let st = wait_exit(&mut s);
        assert_eq!(st.code(), Some(0), "{args:?}");
        assert!(other.is_closed());
        let log = s.log_text();
        assert!(log.contains("User requested shutdown..."), "{log}");
        assert!(log.contains("is now ready to exit, bye bye..."), "{log}");
    }
}

#[test]
fn sigterm_exits_zero_with_the_shutdown_lines() {
    let mut s = Server::start(&[]);
    let mut c = s.conn();
    c.q("PING");
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(s.child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let st = wait_exit(&mut s);
    assert_eq!(st.code(), Some(0));
    assert!(c.is_closed());
    let log = s.log_text();
    let want = [
        "Received SIGTERM scheduling shutdown...",
        "User requested shutdown...",
        "is now ready to exit, bye bye...",
    ];
    let mut at = 0;
    for w in want {
        let p = log[at..]
            .find(w)
            .unwrap_or_else(|| panic!("{w:?} (in order) in\n{log}"));
        at += p + w.len();
    }
}

// ------------------------------------------------------------------------------ TIME, DBSIZE, LASTSAVE, ROLE

#[test]
fn time_dbsize_lastsave_role() {
    let Some(pair) = Pair::start(DEBUG) else {
        return;
    };
    same_lines(
        &pair,
        &[
            "TIME x",
            "DBSIZE x",
            "LASTSAVE x",
            "ROLE x",
            "DBSIZE",
            "DEBUG POPULATE 25",
            "DBSIZE",
            "SELECT 1",
            "DBSIZE",
            "SELECT 0",
            "SET another 1",
            "DBSIZE",
            "ROLE",
        ],
    );
    let mut c = pair.picket.conn();
    let t = c.q("TIME").items();
    assert_eq!(t.len(), 2);
    let secs: i64 = t[0].text().parse().unwrap();
    let usecs: i64 = t[1].text().parse().unwrap();
    assert!((secs - unix_now()).abs() <= 2);
    assert!((0..1_000_000).contains(&usecs));
    let last = c.q("LASTSAVE").int();
    assert!((last - unix_now()).abs() <= 60, "{last}");
}

// ------------------------------------------------------------------------------ DEBUG

#[test]
fn debug_is_refused_by_default() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &["DEBUG HELP", "DEBUG SLEEP 0", "DEBUG", "DEBUG POPULATE 1"],
    );
    let Some(pair) = Pair::start(&["--enable-debug-command", "local"]) else {
        return;
    };
    same_lines(&pair, &["DEBUG SLEEP 0"]);
}

#[test]
fn debug_subcommands() {
    let Some(pair) = Pair::start(DEBUG) else {
        return;
    };
    same_lines(
        &pair,
        &[
            "DEBUG",
            "DEBUG FOO",
            "DEBUG HELP x",
            "DEBUG SLEEP",
            "DEBUG SLEEP 0",
            "DEBUG SLEEP abc",
            "DEBUG SLEEP 0.01",
            "DEBUG OBJECT",
            "DEBUG OBJECT nokey",
            "DEBUG POPULATE",
            "DEBUG POPULATE abc",
            "DEBUG POPULATE -1",
            "DEBUG POPULATE 3",
            "DBSIZE",
            "DEBUG POPULATE 3 key 10",
            "DEBUG POPULATE 2 p 0",
            "DEBUG POPULATE 2 q -5",
            "DEBUG POPULATE 2 r abc",
            "DEBUG POPULATE 2 s 5",
            "DEBUG POPULATE 1 t 5 extra",
            "DBSIZE",
            "GET key:1",
            "GET p:1",
            "GET s:1",
            "STRLEN s:1",
            "DEBUG SET-ACTIVE-EXPIRE",
            "DEBUG SET-ACTIVE-EXPIRE abc",
            "DEBUG SET-ACTIVE-EXPIRE 0",
            "DEBUG SET-ACTIVE-EXPIRE 1",
            "DEBUG SET-ACTIVE-EXPIRE 2",
        ],
    );
    // DEBUG OBJECT: the line's shape (pointer and idle time differ).
    same_scenario(&pair, |port| {
        let mut c = Conn::connect(port);
        c.q("DEBUG POPULATE 1 obj");
        c.q("SET int 12345");
        // Not compressible by LZF, which Redis's estimate applies.
        let long: String = (32u8..127).map(char::from).collect();
        c.cmd(&["SET", "long", &long]);
        ["obj:0", "int", "long"]
            .iter()
            .map(|k| {
                let line = c.cmd(&["DEBUG", "OBJECT", k]).text();
                line.split(' ')
                    .filter(|f| !f.starts_with("at:") && !f.starts_with("lru"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
    });
    // DEBUG SLEEP stalls the whole server.
    let mut a = pair.picket.conn();
    let mut b = pair.picket.conn();
    a.send(&["DEBUG", "SLEEP", "0.5"]);
    std::thread::sleep(Duration::from_millis(50));
    let t = std::time::Instant::now();
    assert_eq!(b.q("PING"), Reply::simple("PONG"));
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(a.read(), Reply::ok());
    // SET-ACTIVE-EXPIRE 0 leaves expired keys in place until they are touched.
    a.q("FLUSHALL");
    a.q("DEBUG SET-ACTIVE-EXPIRE 0");
    a.q("SET e 1 PX 10");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.q("DBSIZE"), Reply::Int(1));
    a.q("DEBUG SET-ACTIVE-EXPIRE 1");
    assert!(wait_until(Duration::from_secs(5), || a.q("DBSIZE") == Reply::Int(0)));
}
