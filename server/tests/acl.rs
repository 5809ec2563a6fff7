//! ACL against Redis 7.0: randomized SETUSER rule lists compared through their replies,
//! ACL GETUSER and ACL LIST; NOPERM for commands, keys (read/write) and channels; AUTH and
//! HELLO with users; ACL LOG; MULTI and scripts; the ACL file.
//!
//! Redis writes the single commands of a canonical rule text in its command dictionary's
//! (randomly seeded) order, so those tokens are compared as sets; the category part is
//! compared in order.

mod common;
use std::process::Command;

use common::{picket_bin, Conn, Pair, Reply, Rng, Server};

/// A canonical rule text with its single-command tokens sorted (see the module doc).
fn norm_rules(s: &str) -> String {
    let mut cats = Vec::new();
    let mut singles = Vec::new();
    for t in s.split(' ') {
        if t.starts_with("+@") || t.starts_with("-@") || !(t.starts_with('+') || t.starts_with('-'))
        {
            cats.push(t.to_string());
        } else {
            singles.push(t.to_string());
        }
    }
    singles.sort();
    cats.extend(singles);
    cats.join(" ")
}

/// ACL LIST lines / GETUSER replies with each selector's rules normalized.
fn norm(r: &Reply) -> Reply {
    match r {
        Reply::Bulk(b) => {
            let s = String::from_utf8_lossy(b).into_owned();
            // Selectors are in parentheses: normalize each part on its own.
            let mut out = String::new();
            let mut depth_part = String::new();
            for ch in s.chars() {
                match ch {
                    '(' => {
                        out.push_str(&norm_rules(&depth_part));
                        depth_part.clear();
                        out.push('(');
                    }
                    ')' => {
                        out.push_str(&norm_rules(&depth_part));
                        depth_part.clear();
                        out.push(')');
                    }
                    c => depth_part.push(c),
                }
            }
            out.push_str(&norm_rules(&depth_part));
            Reply::Bulk(out.into_bytes())
        }
        Reply::Array(v) => Reply::Array(v.iter().map(norm).collect()),
        // The client keeps RESP3 maps and sets in a hash order.
        Reply::Map(v) => {
            let mut v: Vec<(Reply, Reply)> = v.iter().map(|(k, v)| (norm(k), norm(v))).collect();
            v.sort_by_key(|(k, _)| format!("{k:?}"));
            Reply::Map(v)
        }
        Reply::Set(v) => {
            let mut v: Vec<Reply> = v.iter().map(norm).collect();
            v.sort_by_key(|x| format!("{x:?}"));
            Reply::Set(v)
        }
        other => other.clone(),
    }
}

fn both(p: &mut Conn, r: &mut Conn, cmd: &[&str]) -> Reply {
    let a = p.cmd(cmd);
    let b = r.cmd(cmd);
    assert_eq!(
        norm(&a),
        norm(&b),
        "{cmd:?}: picket (left) and redis (right) differ"
    );
    a
}

const RULES: &[&str] = &[
    "on",
    "off",
    "nopass",
    "resetpass",
    ">p1",
    ">p2",
    "<p1",
    "<nope",
    "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    "!5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    "#XYZ",
    "~k*",
    "%R~r*",
    "%W~w*",
    "%RW~x*",
    "%X~bad",
    "%R~",
    "~*",
    "allkeys",
    "resetkeys",
    "&c*",
    "&*",
    "allchannels",
    "resetchannels",
    "+get",
    "-get",
    "+set",
    "+@read",
    "-@write",
    "+@all",
    "-@all",
    "allcommands",
    "nocommands",
    "+config|get",
    "-config|set",
    "+select|0",
    "+select|1",
    "+client|id",
    "-client",
    "+@nosuch",
    "+nosuch",
    "reset",
    "clearselectors",
    "(+get ~s*)",
    "(+@write %W~w* &x)",
    "sanitize-payload",
    "skip-sanitize-payload",
    "bogus",
    "+config|get|x",
    "+debug|",
    "-select|0",
    "+@dangerous",
    "-@admin",
    "+@keyspace",
    "-@slow",
    "+@string",
    "-@fast",
    "+@pubsub",
    "+cluster|info",
    "-module",
    "+@hash",
    "-hset",
    "+@list",
    "-@dangerous",
    "+acl|whoami",
    "+@scripting",
    "-eval",
    "+@connection",
    "-@transaction",
];

#[test]
fn setuser_randomized_rules_as_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    let mut rng = Rng(0x5eed_ac10);
    for i in 0..300 {
        let user = format!("u{}", i % 40);
        let n = 1 + rng.below(7) as usize;
        let mut cmd = vec!["ACL".to_string(), "SETUSER".to_string(), user.clone()];
        for _ in 0..n {
            cmd.push(RULES[rng.below(RULES.len() as u64) as usize].to_string());
        }
        let args: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
        both(&mut p, &mut r, &args);
        both(&mut p, &mut r, &["ACL", "GETUSER", &user]);
    }
    both(&mut p, &mut r, &["ACL", "LIST"]);
    both(&mut p, &mut r, &["ACL", "USERS"]);
    // RESP3: GETUSER is a map with a set of flags.
    assert!(!p.cmd(&["HELLO", "3"]).is_error());
    assert!(!r.cmd(&["HELLO", "3"]).is_error());
    for i in 0..40 {
        both(&mut p, &mut r, &["ACL", "GETUSER", &format!("u{i}")]);
    }
}

#[test]
fn acl_commands_as_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    for c in [
        &["ACL", "CAT"][..],
        &["ACL", "WHOAMI"],
        &["ACL", "USERS"],
        &["ACL", "LIST"],
        &["ACL", "GETUSER", "nobody"],
        &["ACL", "GETUSER", "default"],
        &["ACL", "CAT", "nosuch"],
        &["ACL", "DELUSER", "default"],
        &["ACL", "DELUSER", "nobody"],
        &["ACL", "SETUSER", "a b"],
        &["ACL", "SETUSER", "x", "(+get", "~x"],
        &[
            "ACL", "SETUSER", "x", "on", "(+get", "~x)", "(", "+set", ")", ">pw",
        ],
        &["ACL", "GETUSER", "x"],
        &["ACL", "DRYRUN", "x", "get", "x"],
        &["ACL", "DRYRUN", "x", "get", "y"],
        &["ACL", "DRYRUN", "x", "set", "x", "v"],
        &["ACL", "DRYRUN", "x", "del", "x"],
        &["ACL", "DRYRUN", "nobody", "get", "x"],
        &["ACL", "DRYRUN", "x", "nosuch"],
        &["ACL", "DRYRUN", "x", "get"],
        &["ACL", "GENPASS", "0"],
        &["ACL", "GENPASS", "5000"],
        &["ACL", "GENPASS", "x"],
        &["ACL", "LOG", "x"],
        &["ACL", "LOAD"],
        &["ACL", "SAVE"],
        &["ACL", "HELP"],
        &["ACL", "NOSUCH"],
        &["ACL", "DELUSER", "x", "y"],
    ] {
        both(&mut p, &mut r, c);
    }
    // ACL CAT <category> lists the same commands (in another order: Redis's dictionary's).
    let cats = p.cmd(&["ACL", "CAT"]);
    for cat in cats.items() {
        let name = cat.text();
        let mut a: Vec<String> = p
            .cmd(&["ACL", "CAT", &name])
            .items()
            .iter()
            .map(|x| x.text())
            .collect();
        let mut b: Vec<String> = r
            .cmd(&["ACL", "CAT", &name])
            .items()
            .iter()
            .map(|x| x.text())
            .collect();
        a.retain(|c| !common::PICKET_COMMANDS.contains(&c.as_str()));
        a.sort();
        b.sort();
        assert_eq!(a, b, "ACL CAT {name}");
    }
    assert_eq!(p.cmd(&["ACL", "GENPASS"]).text().len(), 64);
    assert_eq!(p.cmd(&["ACL", "GENPASS", "5"]).text().len(), 2);
    // Hex from the system's generator: never the same twice.
    let (a, b) = (
        p.cmd(&["ACL", "GENPASS"]).text(),
        p.cmd(&["ACL", "GENPASS"]).text(),
    );
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{a}"
    );
    assert_ne!(a, b);
}

/// A user for the permission tests, on both servers, and a connection authenticated as it.
fn user_conns(pair: &Pair, rules: &[&str]) -> (Conn, Conn) {
    let mut setup = vec!["ACL", "SETUSER", "alice", "on", ">pw"];
    setup.extend_from_slice(rules);
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    both(&mut p, &mut r, &setup);
    both(&mut p, &mut r, &["AUTH", "alice", "pw"]);
    (p, r)
}

/// ACL LOG entries without the fields that name the connection or the time.
fn log_core(c: &mut Conn) -> Vec<Vec<Reply>> {
    c.cmd(&["ACL", "LOG"])
        .items()
        .iter()
        .map(|e| {
            let f = e.items();
            assert_eq!(f.len(), 14, "{e:?}");
            assert_eq!(f[10], Reply::bulk("age-seconds"));
            assert!(f[13].text().contains("user="), "{e:?}");
            f[..10].to_vec()
        })
        .collect()
}

#[test]
fn noperm_for_commands_keys_and_channels() {
    let Some(pair) = Pair::start(&[]) else { return };
    let (mut p, mut r) = user_conns(
        &pair,
        &[
            "+get",
            "+set",
            "+publish",
            "+subscribe",
            "+psubscribe",
            "+copy",
            "+config|get",
            "+select|0",
            "~k*",
            "%R~r*",
            "%W~w*",
            "&news*",
            "+acl|log",
        ],
    );
    for c in [
        &["GET", "k1"][..],
        &["GET", "r1"],
        &["GET", "w1"],
        &["GET", "other"],
        &["SET", "k1", "v"],
        &["SET", "w1", "v"],
        &["SET", "r1", "v"],
        &["COPY", "r1", "w1"],
        &["COPY", "w1", "r1"],
        &["DEL", "k1"],
        &["CONFIG", "GET", "maxmemory"],
        &["CONFIG", "SET", "hz", "10"],
        &["SELECT", "0"],
        &["SELECT", "1"],
        &["PUBLISH", "news1", "x"],
        &["PUBLISH", "sports", "x"],
        &["ACL", "WHOAMI"],
        &["ACL", "LIST"],
    ] {
        both(&mut p, &mut r, c);
    }
    let (a, b) = (log_core(&mut p), log_core(&mut r));
    assert_eq!(a, b);
    both(&mut p, &mut r, &["SUBSCRIBE", "news1", "sports"]);
    let mut p2 = pair.picket.conn();
    let mut r2 = pair.redis.conn();
    both(&mut p2, &mut r2, &["AUTH", "alice", "pw"]);
    both(&mut p2, &mut r2, &["PSUBSCRIBE", "news*"]);
    let mut p3 = pair.picket.conn();
    let mut r3 = pair.redis.conn();
    both(&mut p3, &mut r3, &["AUTH", "alice", "pw"]);
    both(&mut p3, &mut r3, &["PSUBSCRIBE", "news1*"]);
    both(&mut p3, &mut r3, &["PING"]);
    let mut admin_p = pair.picket.conn();
    let mut admin_r = pair.redis.conn();
    let (a, b) = (log_core(&mut admin_p), log_core(&mut admin_r));
    assert_eq!(a, b);
    assert_eq!(admin_p.cmd(&["ACL", "LOG", "1"]).items().len(), 1);
    both(&mut admin_p, &mut admin_r, &["ACL", "LOG", "RESET"]);
    both(&mut admin_p, &mut admin_r, &["ACL", "LOG"]);
}

#[test]
fn auth_and_hello_with_users() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    for c in [
        &["AUTH", "pw"][..],
        &["ACL", "SETUSER", "bob", ">pw", "+@all", "~*"],
        &["AUTH", "bob", "pw"],
        &["ACL", "SETUSER", "bob", "on"],
        &["AUTH", "bob", "wrong"],
        &["AUTH", "nobody", "pw"],
        &["HELLO", "2", "AUTH", "bob", "wrong"],
        &["HELLO", "2", "AUTH", "bob", "pw", "SETNAME", "bobconn"],
        &["ACL", "WHOAMI"],
        &["CLIENT", "GETNAME"],
        &["AUTH", "default", "anything"],
        &["ACL", "WHOAMI"],
        &["ACL", "SETUSER", "default", ">secret"],
        &["AUTH", "secret"],
        &["AUTH", "default", "x"],
    ] {
        let a = p.cmd(c);
        let b = r.cmd(c);
        if c[0] == "HELLO" && !a.is_error() {
            assert!(!b.is_error());
            // CLIENT LIST shows the user.
            let line = p.cmd(&["CLIENT", "INFO"]).text();
            assert!(line.contains(" user=bob "), "{line}");
            r.cmd(&["CLIENT", "INFO"]);
            continue;
        }
        assert_eq!(norm(&a), norm(&b), "{c:?}");
    }
    // A new connection must authenticate now that default has a password.
    let mut p2 = pair.picket.conn();
    let mut r2 = pair.redis.conn();
    for c in [&["GET", "x"][..], &["AUTH", "secret"], &["ACL", "WHOAMI"]] {
        both(&mut p2, &mut r2, c);
    }
    let (a, b) = (log_core(&mut p2), log_core(&mut r2));
    assert_eq!(a, b);
    // ACL DELUSER closes the user's connections.
    let mut p3 = pair.picket.conn();
    let mut r3 = pair.redis.conn();
    both(&mut p3, &mut r3, &["AUTH", "bob", "pw"]);
    both(&mut p3, &mut r3, &["ACL", "WHOAMI"]);
    both(&mut p2, &mut r2, &["ACL", "DELUSER", "bob"]);
    assert!(p3.is_closed());
    assert!(r3.is_closed());
    assert!(!p.is_closed());
}

#[test]
fn multi_and_scripts() {
    let Some(pair) = Pair::start(&[]) else { return };
    let (mut p, mut r) = user_conns(
        &pair,
        &[
            "+multi",
            "+exec",
            "+get",
            "+set",
            "+eval",
            "+fcall",
            "~k*",
            "+@scripting",
            "-script",
        ],
    );
    for c in [
        &["MULTI"][..],
        &["GET", "k"],
        &["GET", "x"],
        &["DEL", "k"],
        &["EXEC"],
        &["EVAL", "return redis.call('get','x')", "0"],
        &["EVAL", "return redis.pcall('get','x')", "0"],
        &["EVAL", "return redis.call('del','k')", "0"],
        &["EVAL", "return redis.call('set','k1','v')", "0"],
        &["EVAL", "return redis.call('publish','c','v')", "0"],
        &["MULTI"],
        &["SET", "k1", "a"],
    ] {
        both(&mut p, &mut r, c);
    }
    // Rules changed between the queueing and EXEC.
    let mut ap = pair.picket.conn();
    let mut ar = pair.redis.conn();
    both(&mut ap, &mut ar, &["ACL", "SETUSER", "alice", "-set"]);
    both(&mut p, &mut r, &["EXEC"]);
    let (a, b) = (log_core(&mut ap), log_core(&mut ar));
    assert_eq!(a, b);
    // Entries from scripts show the caller's connection, as Redis.
    for c in [&mut ap, &mut ar] {
        let log = c.cmd(&["ACL", "LOG"]);
        let lua: Vec<String> = log
            .items()
            .iter()
            .filter(|e| e.items()[5] == Reply::bulk("lua"))
            .map(|e| e.items()[13].text())
            .collect();
        assert!(!lua.is_empty());
        assert!(
            lua.iter()
                .all(|i| i.contains(" cmd=eval ") && i.contains(" user=alice ")),
            "{lua:?}"
        );
    }
}

#[test]
fn pubsub_default_and_log_len_config() {
    let Some(pair) = Pair::start(&[
        "--acl-pubsub-default",
        "allchannels",
        "--acllog-max-len",
        "2",
    ]) else {
        return;
    };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    for c in [
        &["ACL", "SETUSER", "a"][..],
        &["ACL", "LIST"],
        &["CONFIG", "SET", "acl-pubsub-default", "resetchannels"],
        &["ACL", "SETUSER", "b", "reset"],
        &["ACL", "LIST"],
        &["CONFIG", "GET", "acl-pubsub-default"],
        &["CONFIG", "GET", "acllog-max-len"],
        &["AUTH", "x", "y"],
        &["AUTH", "x2", "y"],
        &["AUTH", "x3", "y"],
    ] {
        both(&mut p, &mut r, c);
    }
    assert_eq!(log_core(&mut p), log_core(&mut r));
    assert_eq!(p.cmd(&["ACL", "LOG"]).items().len(), 2);
    // CONFIG SET requirepass is the default user's password.
    both(&mut p, &mut r, &["CONFIG", "SET", "requirepass", "s3"]);
    both(&mut p, &mut r, &["ACL", "GETUSER", "default"]);
    both(&mut p, &mut r, &["CONFIG", "SET", "requirepass", ""]);
    both(&mut p, &mut r, &["ACL", "GETUSER", "default"]);
}

fn write(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).expect("write the ACL file");
}

#[test]
fn aclfile_load_save_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("users.acl");
    let text = "user alice on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~k* &c +get (+set %W~w*)\nuser default on nopass ~* &* +@all\n";
    write(&file, text);
    let rfile = dir.path().join("redis.acl");
    write(&rfile, text);
    let f = file.to_str().unwrap_or_default();
    let rf = rfile.to_str().unwrap_or_default();
    let picket = Server::start(&["--aclfile", f]);
    let Some(redis) = Server::redis(&["--aclfile", rf]) else {
        return;
    };
    let mut p = picket.conn();
    let mut r = redis.conn();
    let mut pa = picket.conn();
    let mut ra = redis.conn();
    both(&mut pa, &mut ra, &["AUTH", "alice", "password"]);
    for c in [
        &["ACL", "LIST"][..],
        &["AUTH", "alice", "password"],
        &["ACL", "WHOAMI"],
        &["AUTH", "default", "x"],
        &["ACL", "SETUSER", "bob", "on", "nopass", "+@read", "~*"],
        &["ACL", "SAVE"],
        &["ACL", "WHOAMI"],
        &["ACL", "DELUSER", "bob"],
        &["ACL", "LOAD"],
        &["ACL", "LIST"],
    ] {
        both(&mut p, &mut r, c);
    }
    // ACL LOAD closed the connection authenticated as alice (Redis 7.0 frees the old users).
    assert!(pa.is_closed());
    assert!(ra.is_closed());
    both(&mut p, &mut r, &["ACL", "WHOAMI"]);
    let saved = std::fs::read_to_string(&file).unwrap_or_default();
    let listed: Vec<String> = p
        .cmd(&["ACL", "LIST"])
        .items()
        .iter()
        .map(|x| x.text())
        .collect();
    assert_eq!(
        saved,
        listed.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    // A bad file is refused by ACL LOAD with Redis's text (the file names differ).
    write(&file, "user carol on +nosuch\nnotuser x\n");
    write(&rfile, "user carol on +nosuch\nnotuser x\n");
    let a = p.cmd(&["ACL", "LOAD"]).text().replace(f, "FILE");
    let b = r.cmd(&["ACL", "LOAD"]).text().replace(rf, "FILE");
    assert_eq!(a, b);
    both(&mut p, &mut r, &["ACL", "USERS"]);
    // No temporary files are left.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn bad_aclfile_at_startup_exits_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("users.acl");
    write(&file, "user alice on +nosuch\n");
    let f = file.to_str().unwrap_or_default();
    let out = Command::new(picket_bin())
        .args(["--port", "0", "--aclfile", f])
        .output()
        .expect("run picket-server");
    assert_ne!(out.status.code(), Some(0));
    let err =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains(&format!("Aborting Redis startup because of ACL errors: {f}:1: Error in applying operation '+nosuch': Unknown command or category name in ACL.")),
        "{err}"
    );
    let missing = dir.path().join("missing.acl");
    let out = Command::new(picket_bin())
        .args([
            "--port",
            "0",
            "--aclfile",
            missing.to_str().unwrap_or_default(),
        ])
        .output()
        .expect("run picket-server");
    assert_ne!(out.status.code(), Some(0));
    let err =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("Error loading ACLs, opening file"), "{err}");
}

/// Wait until `f` holds (10 s at most).
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// A replica that authenticates as a least-privilege user (what Redis documents for
/// `masteruser`: +psync +replconf +ping) syncs from a picket master, whether the replica is
/// Redis 7.0 or picket; with a user lacking +psync it does not.
#[test]
fn replica_with_a_least_privilege_user_syncs() {
    let master = Server::start(&["--requirepass", "adminpw"]);
    let mut m = master.conn();
    assert_eq!(m.cmd(&["AUTH", "adminpw"]), Reply::ok());
    for c in [
        &[
            "ACL",
            "SETUSER",
            "repl",
            "on",
            ">rpw",
            "+psync",
            "+replconf",
            "+ping",
        ][..],
        &["ACL", "SETUSER", "weak", "on", ">wpw", "+replconf", "+ping"],
        &["SET", "k1", "v1"],
    ] {
        assert_eq!(m.cmd(c), Reply::ok(), "{c:?}");
    }
    let port = master.port.to_string();
    let mut replicas = vec![Server::start(&[
        "--masteruser",
        "repl",
        "--masterauth",
        "rpw",
        "--replicaof",
        "127.0.0.1",
        &port,
    ])];
    if let Some(r) = Server::redis(&[
        "--masteruser",
        "repl",
        "--masterauth",
        "rpw",
        "--replicaof",
        "127.0.0.1",
        &port,
    ]) {
        replicas.push(r);
    }
    assert_eq!(m.cmd(&["SET", "k2", "v2"]), Reply::ok());
    for r in &replicas {
        let mut c = r.conn();
        assert!(
            eventually(|| c.cmd(&["GET", "k2"]) == Reply::bulk("v2")),
            "replica (redis: {}) did not sync",
            r.is_redis
        );
        assert_eq!(c.cmd(&["GET", "k1"]), Reply::bulk("v1"));
    }
    // The replica connections run as `repl`.
    let list = m.cmd(&["CLIENT", "LIST", "TYPE", "replica"]).text();
    assert_eq!(
        list.matches(" user=repl ").count(),
        replicas.len(),
        "{list}"
    );
    // Without +psync the handshake is refused and logged.
    let weak = Server::start(&[
        "--masteruser",
        "weak",
        "--masterauth",
        "wpw",
        "--replicaof",
        "127.0.0.1",
        &port,
    ]);
    assert!(eventually(|| {
        let log = m.cmd(&["ACL", "LOG"]);
        log.items().iter().any(|e| {
            let f = e.items();
            f.get(7) == Some(&Reply::bulk("psync")) && f.get(9) == Some(&Reply::bulk("weak"))
        })
    }));
    let mut w = weak.conn();
    assert_eq!(w.cmd(&["GET", "k1"]), Reply::Nil);
}

/// The ACL user Redis's Sentinel documentation gives for the monitored servers.
const SENTINEL_USER: &[&str] = &[
    "ACL",
    "SETUSER",
    "sentinel-user",
    "on",
    ">sentpw",
    "allchannels",
    "+multi",
    "+slaveof",
    "+ping",
    "+exec",
    "+subscribe",
    "+config|rewrite",
    "+role",
    "+publish",
    "+info",
    "+client|setname",
    "+client|kill",
    "+script|kill",
];

/// A real redis-sentinel monitors picket servers as that user and fails over, with no ACL
/// refusal on the way.
#[test]
fn sentinel_works_with_the_documented_user() {
    // Redis's sentinel is redis-server in sentinel mode (Debian's redis-sentinel package
    // only adds a service around the same binary).
    let Some(redis_bin) = common::which("redis-server") else {
        return;
    };
    let a = Server::start(&["--requirepass", "adminpw"]);
    let b = Server::start(&[
        "--requirepass",
        "adminpw",
        "--masterauth",
        "adminpw",
        "--replicaof",
        "127.0.0.1",
        &a.port.to_string(),
    ]);
    for s in [&a, &b] {
        let mut c = s.conn();
        assert_eq!(c.cmd(&["AUTH", "adminpw"]), Reply::ok());
        assert_eq!(c.cmd(SENTINEL_USER), Reply::ok());
    }
    let mut bc = b.conn();
    assert_eq!(bc.cmd(&["AUTH", "adminpw"]), Reply::ok());
    assert!(eventually(|| bc
        .cmd(&["INFO", "replication"])
        .text()
        .contains("master_link_status:up")));
    let dir = tempfile::tempdir().expect("tempdir");
    let sport = common::free_port();
    let conf = dir.path().join("sentinel.conf");
    write(
        &conf,
        &format!(
            "port {sport}\nsentinel monitor mymaster 127.0.0.1 {} 1\nsentinel auth-user mymaster sentinel-user\nsentinel auth-pass mymaster sentpw\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n",
            a.port
        ),
    );
    let mut child = Command::new(redis_bin)
        .arg(&conf)
        .arg("--sentinel")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn redis-sentinel");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(eventually(|| std::net::TcpStream::connect((
            "127.0.0.1",
            sport
        ))
        .is_ok()));
        let mut s = Conn::connect(sport);
        // The sentinel sees the replica (INFO) and talks on the hello channel.
        assert!(eventually(|| {
            let r = s.cmd(&["SENTINEL", "REPLICAS", "mymaster"]);
            !r.is_error()
                && r.items().len() == 1
                && r.items()[0]
                    .items()
                    .windows(2)
                    .any(|w| w[0] == Reply::bulk("flags") && w[1] == Reply::bulk("slave"))
                && r.items()[0]
                    .items()
                    .windows(2)
                    .any(|w| w[0] == Reply::bulk("master-link-status") && w[1] == Reply::bulk("ok"))
        }));
        // Its INFO is refreshed every 10 s at first: wait for a fresh one.
        std::thread::sleep(std::time::Duration::from_secs(1));
        assert!(eventually(
            || s.cmd(&["SENTINEL", "FAILOVER", "mymaster"]) == Reply::ok()
        ));
        let b_port = b.port.to_string();
        assert!(eventually(|| {
            let r = s.cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
            !r.is_error() && r.items().get(1).map(|p| p.text()) == Some(b_port.clone())
        }));
        // The sentinel closes normal clients of the servers it reconfigures: ask anew.
        let role = |srv: &Server| {
            let mut c = srv.conn();
            c.cmd(&["AUTH", "adminpw"]);
            c.cmd(&["ROLE"])
                .items()
                .first()
                .map(|r| r.text())
                .unwrap_or_default()
        };
        assert!(eventually(|| role(&b) == "master"));
        // The old master is converted once it has reported the wrong role for a while.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
        while role(&a) != "slave" {
            let mut c = a.conn();
            c.cmd(&["AUTH", "adminpw"]);
            let log = c.cmd(&["ACL", "LOG"]);
            assert!(
                std::time::Instant::now() < deadline,
                "old master not converted; ACL LOG {log:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        for srv in [&a, &b] {
            let mut c = srv.conn();
            assert_eq!(c.cmd(&["AUTH", "adminpw"]), Reply::ok());
            let log = c.cmd(&["ACL", "LOG"]);
            assert!(log.items().is_empty(), "{log:?}");
        }
    }));
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// Revoking channels closes the user's subscribers that hold a channel no longer allowed
/// (Redis 7.0's `ACLKillPubsubClientsIfNeeded`); the others stay.
#[test]
fn revoked_channels_close_subscribers() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut ap = pair.picket.conn();
    let mut ar = pair.redis.conn();
    both(
        &mut ap,
        &mut ar,
        &[
            "ACL", "SETUSER", "sub", "on", ">pw", "+@all", "~*", "&news*", "&sport",
        ],
    );
    let mut conns = Vec::new();
    for cmd in [
        &["SUBSCRIBE", "news1"][..],
        &["SUBSCRIBE", "sport"],
        &["PSUBSCRIBE", "news*"],
    ] {
        let mut p = pair.picket.conn();
        let mut r = pair.redis.conn();
        both(&mut p, &mut r, &["AUTH", "sub", "pw"]);
        both(&mut p, &mut r, cmd);
        conns.push((p, r));
    }
    // Still a superset: nobody is closed.
    both(&mut ap, &mut ar, &["ACL", "SETUSER", "sub", "&more"]);
    // `sport` is revoked.
    both(
        &mut ap,
        &mut ar,
        &["ACL", "SETUSER", "sub", "resetchannels", "&news*"],
    );
    both(&mut ap, &mut ar, &["PUBLISH", "news1", "x"]);
    for (i, (p, r)) in conns.iter_mut().enumerate() {
        let closed = r.is_closed();
        assert_eq!(p.is_closed(), closed, "subscriber {i}");
        assert_eq!(closed, i == 1, "subscriber {i}");
    }
}

/// SORT's BY and GET patterns need read access to every key (Redis 7.0's sort.c).
#[test]
fn sort_by_and_get_need_full_read_access() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut ap = pair.picket.conn();
    let mut ar = pair.redis.conn();
    both(&mut ap, &mut ar, &["RPUSH", "l1", "3", "1", "2"]);
    for rules in [&["~l*"][..], &["%R~*"], &["~*"], &["%W~*", "~l*"]] {
        let mut setup = vec!["ACL", "SETUSER", "s", "reset", "on", "nopass", "+@all"];
        setup.extend_from_slice(rules);
        both(&mut ap, &mut ar, &setup);
        let mut p = pair.picket.conn();
        let mut r = pair.redis.conn();
        both(&mut p, &mut r, &["AUTH", "s", "x"]);
        for c in [
            &["SORT", "l1"][..],
            &["SORT", "l1", "BY", "nosort"],
            &["SORT", "l1", "BY", "w_*"],
            &["SORT", "l1", "GET", "#"],
            &["SORT", "l1", "GET", "v_*"],
            &["SORT_RO", "l1", "GET", "v_*"],
        ] {
            both(&mut p, &mut r, c);
        }
    }
}

/// ACL SETUSER's rules are redacted in SLOWLOG, as Redis does (MONITOR shows no admin
/// command at all).
#[test]
fn setuser_rules_are_redacted() {
    let Some(pair) = Pair::start(&["--slowlog-log-slower-than", "0"]) else {
        return;
    };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    both(&mut p, &mut r, &["ACL", "SETUSER", "u", "on", ">secret"]);
    let (a, b) = (
        p.cmd(&["SLOWLOG", "GET", "1"]),
        r.cmd(&["SLOWLOG", "GET", "1"]),
    );
    assert_eq!(a.items()[0].items()[3], b.items()[0].items()[3]);
    assert_eq!(
        a.items()[0].items()[3],
        Reply::bulks(&["ACL", "SETUSER", "(redacted)", "(redacted)", "(redacted)"])
    );
}
