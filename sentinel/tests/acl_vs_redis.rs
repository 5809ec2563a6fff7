//! picket-sentinel's own ACL users against Redis 7.0's sentinel: both start from the same
//! config (`user` lines for an admin, a least-privilege client user that may only ask for
//! the master's address and the sentinels and listen on `+switch-master`, the default user
//! off), and a list of commands run as each user gets the same replies and errors: NOAUTH,
//! AUTH / HELLO with a user, NOPERM for commands, subcommands and channels, the ACL
//! command family, ACL LOG entries, CLIENT LIST's `user=`, the connections of a deleted
//! user or of a user whose channels were revoked closed, and the user lines kept by the
//! state save. Bad `user` lines and bad ACL files stop both at start with Redis's message.

mod support;

use std::path::Path;

use support::*;

/// The users of both sentinels.
const USERS: &str = "user default off
user admin on >adminpw ~* &* +@all
user app on >apppw resetchannels &+switch-master -@all +sentinel|get-master-addr-by-name +sentinel|sentinels +subscribe +ping
";

/// A sentinel (picket, or Redis with `redis`) monitoring a master that is not there (the
/// same address for both, so their replies match), with [`USERS`] and `extra` lines.
fn acl_sentinel(redis: Option<&Path>, master: u16, extra: &str) -> Proc {
    let port = free_port();
    let text =
        format!("port {port}\nsentinel monitor mymaster 127.0.0.1 {master} 2\n{USERS}{extra}");
    sentinel_from(redis, port, "sentinel.conf", &text, None)
}

/// A connection logged in as `user`.
fn login(port: u16, user: &str, pass: &str) -> Client {
    let mut c = Client::connect(port);
    assert_eq!(c.cmd(&["AUTH", user, pass]), R::S("OK".into()), "{user}");
    c
}

/// A reply with what differs by nature between two processes made equal: client ids,
/// ACL LOG ages and client lines (kept: their `cmd=` and `user=`).
fn normal(r: R) -> R {
    match r {
        R::A(v) => {
            let mut out = Vec::new();
            let mut it = v.into_iter().peekable();
            while let Some(x) = it.next() {
                let key = x.s();
                let is_key = matches!(x, R::B(Some(_)));
                out.push(normal(x));
                match key.as_str() {
                    "age-seconds" | "id" if is_key => {
                        it.next();
                        out.push(R::S("*".into()));
                    }
                    "client-info" if is_key => {
                        let line = it.next().map(|l| l.s()).unwrap_or_default();
                        let kept: Vec<&str> = line
                            .split(' ')
                            .filter(|f| f.starts_with("cmd=") || f.starts_with("user="))
                            .collect();
                        out.push(R::S(kept.join(" ")));
                    }
                    "commands" if is_key => {
                        let rules = it.next().map(|l| l.s()).unwrap_or_default();
                        out.push(R::S(rules_in_order(&rules)));
                    }
                    _ => {}
                }
            }
            R::A(out)
        }
        R::B(Some(s)) if s.starts_with("user ") => R::B(Some(rules_in_order(&s))),
        other => other,
    }
}

/// An ACL rule text with its single-command rules sorted: Redis lists them in its command
/// dictionary's order (a hash seeded at random on each start), picket in its id order.
fn rules_in_order(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let single = |t: &str| (t.starts_with('+') || t.starts_with('-')) && !t[1..].starts_with('@');
    for t in text.split(' ') {
        if single(t) {
            run.push(t.to_string());
            continue;
        }
        run.sort();
        out.append(&mut run);
        out.push(t.to_string());
    }
    run.sort();
    out.append(&mut run);
    out.join(" ")
}

/// The replies of `script` on each sentinel (a fresh connection as `user`, or not logged in
/// with `None`), compared one by one.
fn same_replies(picket: u16, redis: u16, user: Option<(&str, &str)>, script: &[&[&str]]) {
    let mut conns: Vec<Client> = [picket, redis]
        .iter()
        .map(|&p| match user {
            Some((u, pw)) => login(p, u, pw),
            None => Client::connect(p),
        })
        .collect();
    for args in script {
        let p = normal(conns[0].cmd(args));
        let r = normal(conns[1].cmd(args));
        assert_eq!(p, r, "{args:?} as {user:?}: picket (left) vs Redis");
    }
}

fn is_closed(c: &mut Client) -> bool {
    c.w.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    // A closed connection reads as the end (or an error) at once.
    c.send(&["PING"]);
    c.read().is_none()
}

#[test]
fn commands_as_each_user_get_the_replies_of_redis() {
    let Some(redis) = redis_bin() else { return };
    let master = free_port();
    let ps = acl_sentinel(None, master, "");
    let rs = acl_sentinel(Some(&redis), master, "");
    let (p, r) = (ps.port, rs.port);
    for port in [p, r] {
        assert_eq!(
            login(port, "admin", "adminpw").cmd(&["ACL", "LOG", "RESET"]),
            R::S("OK".into())
        );
    }

    // Not logged in: the default user is off.
    same_replies(
        p,
        r,
        None,
        &[
            &["PING"],
            &["SENTINEL", "MASTERS"],
            &["GET", "k"],
            &["SENTINEL"],
            &["SENTINEL", "bogus"],
            &["PING", "a", "b"],
            &["HELLO", "3"],
            &["AUTH", "nopass"],
            &["AUTH", "app", "wrong"],
            &["AUTH", "nobody", "x"],
            &["AUTH", "a", "b", "c"],
            &["HELLO", "3", "AUTH", "app", "wrong"],
            &["HELLO", "2", "AUTH", "app", "apppw", "SETNAME", "me"],
            &["CLIENT", "GETNAME"],
            &["ACL", "WHOAMI"],
        ],
    );

    // The least-privilege client user.
    same_replies(
        p,
        r,
        Some(("app", "apppw")),
        &[
            &["PING"],
            &["SENTINEL", "get-master-addr-by-name", "mymaster"],
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"],
            &["SENTINEL", "sentinels", "mymaster"],
            &["SENTINEL", "masters"],
            &["SENTINEL", "master", "mymaster"],
            &["SENTINEL", "replicas", "mymaster"],
            &["SENTINEL", "reset", "*"],
            &["SENTINEL", "failover", "mymaster"],
            &["SENTINEL", "set", "mymaster", "quorum", "1"],
            &["SENTINEL", "config", "get", "*"],
            &[
                "SENTINEL",
                "is-master-down-by-addr",
                "127.0.0.1",
                "1",
                "0",
                "*",
            ],
            &["SENTINEL", "monitor", "x", "127.0.0.1", "1", "1"],
            &["SENTINEL", "get-master-addr-by-name"],
            &["SENTINEL", "masters", "x"],
            &["SENTINEL", "bogus"],
            &["SENTINEL"],
            &["INFO"],
            &["ROLE"],
            &["CLIENT", "ID"],
            &["CLIENT", "LIST"],
            &["CLIENT", "bogus"],
            &["ACL", "WHOAMI"],
            &["ACL", "LIST"],
            &["ACL", "SETUSER", "app", "+@all"],
            &["COMMAND", "COUNT"],
            &["PUBLISH", "__sentinel__:hello", "x"],
            &["PSUBSCRIBE", "*"],
            &["SHUTDOWN"],
            &["GET", "k"],
            &["AUTH", "admin", "wrong"],
            &["SUBSCRIBE", "+sdown"],
            &["SUBSCRIBE", "+switch-master", "+odown"],
            &["SUBSCRIBE", "+switch-master"],
            &["PING"],
            &["INFO"],
        ],
    );

    // What the refusals above left in ACL LOG (newest first), as Redis logs them.
    same_replies(
        p,
        r,
        Some(("admin", "adminpw")),
        &[
            &["ACL", "LOG"],
            &["ACL", "LOG", "2"],
            &["ACL", "LOG", "100"],
        ],
    );

    // The admin: the ACL command family.
    same_replies(
        p,
        r,
        Some(("admin", "adminpw")),
        &[
            &["ACL", "WHOAMI"],
            &["ACL", "USERS"],
            &["ACL", "LIST"],
            &["ACL", "GETUSER", "app"],
            &["ACL", "GETUSER", "default"],
            &["ACL", "GETUSER", "nobody"],
            &["ACL", "CAT"],
            &["ACL", "CAT", "nosuch"],
            &["ACL", "DRYRUN", "app", "sentinel", "masters"],
            &[
                "ACL",
                "DRYRUN",
                "app",
                "SENTINEL",
                "get-master-addr-by-name",
                "m",
            ],
            &["ACL", "DRYRUN", "app", "subscribe", "foo"],
            &["ACL", "DRYRUN", "app", "subscribe", "+switch-master"],
            &["ACL", "DRYRUN", "app", "get", "k"],
            &["ACL", "DRYRUN", "app", "sentinel"],
            &["ACL", "DRYRUN", "app", "sentinel", "nosuch"],
            &["ACL", "DRYRUN", "app", "ping", "a", "b", "c"],
            &["ACL", "DRYRUN", "nobody", "ping"],
            &["ACL", "DRYRUN", "app"],
            &["ACL", "SETUSER", "x", "+get"],
            &["ACL", "SETUSER", "x", "bogus"],
            &["ACL", "SETUSER", "x", "~*", "~a"],
            &["ACL", "SETUSER", "x", "&*", "&a"],
            &["ACL", "SETUSER", "x", "+sentinel|masters|x"],
            &["ACL", "SETUSER", "x", "+acl|nosuch"],
            &["ACL", "SETUSER", "x", "+@nosuch"],
            &["ACL", "SETUSER", "x", "(+ping"],
            &["ACL", "SETUSER", "x", "#abc"],
            &["ACL", "SETUSER", "x", "<nope"],
            &["ACL", "SETUSER", "a b"],
            &["ACL", "GETUSER", "x"],
            &[
                "ACL",
                "SETUSER",
                "x",
                "on",
                ">xpw",
                "+@all",
                "-@dangerous",
                "+sentinel|get-master-addr-by-name",
                "(+ping",
                "&x)",
                "+ping|y",
            ],
            &["ACL", "GETUSER", "x"],
            &["ACL", "LIST"],
            &[
                "ACL",
                "SETUSER",
                "y",
                "on",
                "nopass",
                "+@connection",
                "-@slow",
            ],
            &["ACL", "GETUSER", "y"],
            &["ACL", "DRYRUN", "x", "ping", "y"],
            &["ACL", "DRYRUN", "x", "sentinel", "reset", "*"],
            &[
                "ACL",
                "DRYRUN",
                "x",
                "sentinel",
                "get-master-addr-by-name",
                "m",
            ],
            &["ACL", "DELUSER", "default"],
            &["ACL", "DELUSER", "x", "y", "nobody"],
            &["ACL", "USERS"],
            &["ACL", "GENPASS", "0"],
            &["ACL", "GENPASS", "x"],
            &["ACL", "GENPASS", "1", "2"],
            &["ACL", "LOAD"],
            &["ACL", "SAVE"],
            &["ACL", "HELP"],
            &["ACL", "nosuch"],
            &["ACL"],
            &["ACL", "LOG", "x"],
            &["AUTH", "admin", "adminpw"],
        ],
    );
    for port in [p, r] {
        let mut a = login(port, "admin", "adminpw");
        assert_eq!(a.cmd(&["ACL", "GENPASS"]).s().len(), 64);
        assert_eq!(a.cmd(&["ACL", "GENPASS", "5"]).s().len(), 2);
    }
    // Each category holds the same sentinel commands (Redis lists them in hash order).
    let cats = login(p, "admin", "adminpw").cmd(&["ACL", "CAT"]);
    assert_eq!(cats.items().len(), 21);
    for cat in cats.items() {
        let names = |port| {
            let mut v: Vec<String> = login(port, "admin", "adminpw")
                .cmd(&["ACL", "CAT", &cat.s()])
                .items()
                .iter()
                .map(R::s)
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(p), names(r), "ACL CAT {}", cat.s());
    }
}

#[test]
fn connections_of_deleted_or_revoked_users_close_as_redis() {
    let Some(redis) = redis_bin() else { return };
    let master = free_port();
    let ps = acl_sentinel(None, master, "");
    let rs = acl_sentinel(Some(&redis), master, "");
    for (port, who) in [(ps.port, "picket"), (rs.port, "redis")] {
        let mut admin = login(port, "admin", "adminpw");
        let mut app = login(port, "app", "apppw");
        let mut sub = login(port, "app", "apppw");
        assert_eq!(
            sub.cmd(&["SUBSCRIBE", "+switch-master"]).items()[2],
            R::I(1)
        );
        // CLIENT LIST shows who runs as which user.
        let list = admin.cmd(&["CLIENT", "LIST"]).s();
        assert_eq!(list.matches(" user=app ").count(), 2, "{who}: {list}");
        assert_eq!(list.matches(" user=admin ").count(), 1, "{who}: {list}");
        assert!(
            admin.cmd(&["CLIENT", "INFO"]).s().contains(" user=admin "),
            "{who}"
        );
        // Channels kept: the subscriber stays; a channel it holds revoked: it is closed.
        assert_eq!(
            admin.cmd(&["ACL", "SETUSER", "app", "&+sdown"]),
            R::S("OK".into())
        );
        assert_eq!(app.cmd(&["PING"]), R::S("PONG".into()), "{who}");
        assert_eq!(
            admin.cmd(&["ACL", "SETUSER", "app", "resetchannels", "&+sdown"]),
            R::S("OK".into())
        );
        assert!(is_closed(&mut sub), "{who}: the subscriber is closed");
        assert_eq!(app.cmd(&["PING"]), R::S("PONG".into()), "{who}");
        // A deleted user's connections close; a new one cannot log in as it.
        assert_eq!(admin.cmd(&["ACL", "DELUSER", "app"]), R::I(1));
        assert!(
            is_closed(&mut app),
            "{who}: the deleted user's connection is closed"
        );
        let mut c = Client::connect(port);
        assert_eq!(
            c.cmd(&["AUTH", "app", "apppw"]),
            R::E("WRONGPASS invalid username-password pair or user is disabled.".into())
        );
        // Deleting one's own user: the reply, then the connection closes.
        admin.cmd(&["ACL", "SETUSER", "tmp", "on", ">t", "+@all"]);
        let mut tmp = login(port, "tmp", "t");
        assert_eq!(tmp.cmd(&["ACL", "DELUSER", "tmp"]), R::I(1), "{who}");
        assert!(tmp.read().is_none(), "{who}: closed after its reply");
        assert_eq!(admin.cmd(&["PING"]), R::S("PONG".into()));
    }
}

/// The `user` lines of a config file, each with its rules as [`rules_in_order`] gives.
fn user_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("user "))
        .map(rules_in_order)
        .collect()
}

#[test]
fn user_lines_survive_state_saves_as_redis() {
    let Some(redis) = redis_bin() else { return };
    let master = free_port();
    let ps = acl_sentinel(None, master, "requirepass unused\n");
    let rs = acl_sentinel(Some(&redis), master, "requirepass unused\n");
    let mut files = Vec::new();
    for s in [&ps, &rs] {
        let mut a = login(s.port, "admin", "adminpw");
        assert_eq!(a.cmd(&["SENTINEL", "FLUSHCONFIG"]), R::S("OK".into()));
        let first = user_lines(&s.conf_text());
        // A user added at run time is written by the next save.
        assert_eq!(
            a.cmd(&["ACL", "SETUSER", "ops", "on", ">opspw", "+sentinel|masters"]),
            R::S("OK".into())
        );
        assert_eq!(a.cmd(&["ACL", "DELUSER", "app"]), R::I(1));
        assert_eq!(a.cmd(&["SENTINEL", "FLUSHCONFIG"]), R::S("OK".into()));
        files.push((first, user_lines(&s.conf_text()), s.conf_text()));
    }
    let (p, r) = (&files[0], &files[1]);
    assert_eq!(p.0, r.0, "after the first save:\n{}\n---\n{}", p.2, r.2);
    assert_eq!(p.1, r.1, "after the second save:\n{}\n---\n{}", p.2, r.2);
    assert!(p
        .0
        .contains(&"user default off sanitize-payload resetchannels -@all".to_string()));
    assert_eq!(p.1.len(), 3, "{:?}", p.1);
    // The saved file starts again with the same users.
    let dir = ps.into_dir();
    let port = {
        let text = std::fs::read_to_string(dir.path().join("sentinel.conf")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("port "))
            .unwrap()
            .parse::<u16>()
            .unwrap()
    };
    let again = sentinel_from(None, port, "sentinel.conf", "", Some(dir));
    let mut ops = login(again.port, "ops", "opspw");
    assert_eq!(ops.cmd(&["SENTINEL", "MASTERS"]).items().len(), 1);
    assert_eq!(
        ops.cmd(&["SENTINEL", "RESET", "*"]),
        R::E("NOPERM this user has no permissions to run the 'sentinel|reset' command".into())
    );
}

/// Start a sentinel from `text` and wait for it to exit: its code and what it printed.
fn start_fails(bin: &Path, redis: bool, text: &str, files: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sentinel.conf");
    let text = text.replace("$DIR", &dir.path().display().to_string());
    std::fs::write(&conf, &text).unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    let mut cmd = std::process::Command::new(bin);
    cmd.arg(&conf);
    if redis {
        cmd.arg("--sentinel");
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} did not stop on a bad config:\n{text}", bin.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
    all.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), all)
}

/// Config lines, files beside the config, and what the start-up error says.
type BadStart = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

#[test]
fn bad_user_lines_and_acl_files_stop_the_start_as_redis() {
    let Some(redis) = redis_bin() else { return };
    let head = format!(
        "port {}\nsentinel monitor m 127.0.0.1 {} 2\n",
        free_port(),
        free_port()
    );
    let cases: &[BadStart] = &[
        (
            "user bob on bogus\n",
            &[],
            &[
                "Reading the configuration file, at line 3",
                ">>> 'user bob on bogus'",
                "Error in user declaration 'bob': Syntax error",
            ],
        ),
        (
            "user bob on\nuser bob off\n",
            &[],
            &["Error in user declaration 'bob': Duplicate user found. A user can only be defined once in config files"],
        ),
        (
            "user bob on (+ping\n",
            &[],
            &["Error in user declaration"],
        ),
        (
            "user bob on ~* ~x\n",
            &[],
            // (Redis names the line's argument at the failing rule's index: `on`.)
            &["Error in user declaration 'on': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid"],
        ),
        (
            "user bob on +get\n",
            &[],
            &[
                "Error loading ACL rule '+get' for the user named 'bob': Unknown command or category name in ACL",
                "Critical error while loading ACLs. Exiting.",
            ],
        ),
        (
            "aclfile $DIR/users.acl\nuser bob on\n",
            &[("users.acl", "user bob on\n")],
            &["Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid."],
        ),
        (
            "aclfile $DIR/nosuch.acl\n",
            &[],
            &["Aborting Redis startup because of ACL errors: Error loading ACLs, opening file '", "nosuch.acl': No such file or directory"],
        ),
        (
            "aclfile $DIR/users.acl\n",
            &[("users.acl", "user a on +get\nfoo\nuser a on\n")],
            &[
                "Aborting Redis startup because of ACL errors: ",
                "users.acl:1: Error in applying operation '+get': Unknown command or category name in ACL. ",
                "users.acl:2 should start with user keyword followed by the username. WARNING: Duplicate user 'a' found on line 3. WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
            ],
        ),
    ];
    for (lines, files, want) in cases {
        let text = format!("{head}{lines}");
        for (bin, is_redis) in [(sentinel_bin(), false), (redis.clone(), true)] {
            let (code, out) = start_fails(&bin, is_redis, &text, files);
            assert_eq!(code, 1, "{lines:?} (redis: {is_redis}): {out}");
            for w in *want {
                assert!(
                    out.contains(w),
                    "{lines:?} (redis: {is_redis}): no {w:?} in:\n{out}"
                );
            }
        }
    }
}

#[test]
fn an_acl_file_is_loaded_saved_and_reloaded_as_redis() {
    let Some(redis) = redis_bin() else { return };
    let master = free_port();
    let mut outs = Vec::new();
    for r in [None, Some(redis.as_path())] {
        let dir = tempfile::tempdir().unwrap();
        let dir_path = dir.path().display().to_string();
        let acl = dir.path().join("users.acl");
        std::fs::write(
            &acl,
            "user admin on >adminpw ~* &* +@all\nuser default off\nuser app on >apppw -@all +ping\n",
        )
        .unwrap();
        let port = free_port();
        let text = format!(
            "port {port}\nsentinel monitor mymaster 127.0.0.1 {master} 2\naclfile {}\n",
            acl.display()
        );
        let s = sentinel_from(r, port, "sentinel.conf", &text, Some(dir));
        let mut a = login(s.port, "admin", "adminpw");
        let mut app = login(s.port, "app", "apppw");
        let mut seen = vec![normal(a.cmd(&["ACL", "LIST"]))];
        seen.push(a.cmd(&["ACL", "SETUSER", "ops", "on", "nopass", "+ping"]));
        seen.push(a.cmd(&["ACL", "SAVE"]));
        let saved = std::fs::read_to_string(&acl).unwrap();
        seen.push(R::S(
            saved
                .lines()
                .map(rules_in_order)
                .collect::<Vec<_>>()
                .join("\n"),
        ));
        // LOAD: the file's users replace the others, whose connections close.
        std::fs::write(
            &acl,
            "user admin on >adminpw ~* &* +@all\nuser default off\nuser app on >apppw -@all +ping\n",
        )
        .unwrap();
        seen.push(a.cmd(&["ACL", "LOAD"]));
        // Every user's connections close, the one that ran LOAD after its reply.
        seen.push(R::I(i64::from(a.read().is_none())));
        seen.push(R::I(i64::from(is_closed(&mut app))));
        let mut a = login(s.port, "admin", "adminpw");
        seen.push(normal(a.cmd(&["ACL", "USERS"])));
        std::fs::write(&acl, "user x on +get\n").unwrap();
        let e = a.cmd(&["ACL", "LOAD"]).s().replace(&dir_path, "$DIR");
        seen.push(R::E(e));
        seen.push(normal(a.cmd(&["ACL", "USERS"])));
        // The user lines are not written into the config file with an ACL file.
        assert_eq!(
            Client::connect(s.port).cmd(&["AUTH", "admin", "adminpw"]),
            R::S("OK".into())
        );
        let mut b = login(s.port, "admin", "adminpw");
        assert_eq!(b.cmd(&["SENTINEL", "FLUSHCONFIG"]), R::S("OK".into()));
        assert!(!s.conf_text().contains("\nuser "), "{}", s.conf_text());
        outs.push(seen);
    }
    assert_eq!(outs[0], outs[1], "{:#?}\n---\n{:#?}", outs[0], outs[1]);
}

/// `requirepass` alone: the default user's password, for AUTH with and without the user
/// name, as Redis.
#[test]
fn requirepass_is_the_default_users_password_as_redis() {
    let Some(redis) = redis_bin() else { return };
    let master = free_port();
    let mut ports = Vec::new();
    let mut procs = Vec::new();
    for r in [None, Some(redis.as_path())] {
        let port = free_port();
        let text = format!(
            "port {port}\nsentinel monitor mymaster 127.0.0.1 {master} 2\nrequirepass s3cret\n"
        );
        procs.push(sentinel_from(r, port, "sentinel.conf", &text, None));
        ports.push(port);
    }
    same_replies(
        ports[0],
        ports[1],
        None,
        &[
            &["PING"],
            &["HELLO", "3"],
            &["AUTH", "wrong"],
            &["AUTH", "default", "wrong"],
            &["AUTH", "s3cret"],
            &["ACL", "WHOAMI"],
            &["AUTH", "default", "s3cret"],
            &["ACL", "LIST"],
            &["ACL", "SETUSER", "default", "resetpass", "nopass"],
            &["AUTH", "x"],
            &["ACL", "LOG", "2"],
        ],
    );
    // After that, the default user needs no password: a new connection runs at once.
    same_replies(ports[0], ports[1], None, &[&["PING"], &["ACL", "WHOAMI"]]);
}
