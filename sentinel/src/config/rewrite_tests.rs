//! The rewrite against files redis-sentinel 7.0.15 wrote from the same input (the
//! integration tests compare with a running Redis too).

use super::*;
use crate::config::parse;

const ID: &str = "0123456789abcdef0123456789abcdef01234567";

fn cwd() -> String {
    repr(
        std::env::current_dir()
            .unwrap()
            .to_string_lossy()
            .as_bytes(),
    )
}

/// The file after `n` saves of the state loaded from `text`.
fn saved(text: &str, n: usize) -> String {
    let l = parse(text, &[]).unwrap();
    let mut c = crate::core_from(&l, 1, 0).unwrap();
    c.myid = ID.into();
    let mut out = text.to_string();
    for _ in 0..n {
        out = rewritten(&out, &c, &l.server);
    }
    out
}

#[test]
fn a_monitor_line_gets_redis_lines() {
    let text = "sentinel monitor m 127.0.0.1 6999 2\n";
    let want = format!(
        "sentinel monitor m 127.0.0.1 6999 2\n\n{SIGNATURE}\nport 26379\nprotected-mode no\ndir {}\nlatency-tracking-info-percentiles 50 99 99.9\nuser default on nopass ~* &* +@all\nsentinel myid {ID}\nsentinel config-epoch m 0\nsentinel leader-epoch m 0\nsentinel current-epoch 0\n",
        cwd()
    );
    assert_eq!(saved(text, 1), want);
    // Every later save ends with the blank line Redis's split leaves.
    assert_eq!(saved(text, 2), format!("{want}\n"));
    assert_eq!(saved(text, 3), format!("{want}\n"));
}

#[test]
fn lines_are_reused_in_place_dropped_or_commented_as_redis() {
    let text = "# head\nhz 1000\nsave 900 1\nsave 300 10\nreplicaof 1.2.3.4 5\nrename-command sentinel xsentinel\nslave-priority 5\nbind 127.0.0.1\nmaxclients 100\ndaemonize no\nlist-max-ziplist-entries 1\nlua-replicate-commands yes\nloadmodule /x.so a b\nsentinel known-slave m 127.0.0.1 7001\nsentinel monitor m 127.0.0.1 6999 2\nsentinel announce-ip 127.0.0.1\nsentinel sentinel-user bob\nclient-output-buffer-limit pubsub 1mb 1mb 0\nport 26999\n";
    // What redis-sentinel 7.0.15 wrote after two saves, but for the generated server lines
    // (Redis's order is random, picket's is its table's) and the known-slave line, which
    // Redis 7.0 keeps while it appends a known-replica line for the same replica (a file it
    // cannot load again); picket rewrites it in place, as Redis 7.2 does.
    let want = format!(
        "# head\nhz 500\n\nreplicaof 1.2.3.4 5\nrename-command sentinel xsentinel\nreplica-priority 5\nbind 127.0.0.1\nmaxclients 100\ndaemonize no\n# ??? list-max-ziplist-entries 1\n# ??? lua-replicate-commands yes\n\nsentinel known-replica m 127.0.0.1 7001\nsentinel monitor m 127.0.0.1 6999 2\nsentinel announce-ip \"127.0.0.1\"\nsentinel sentinel-user bob\nclient-output-buffer-limit normal 0 0 0\nport 26999\n\n{SIGNATURE}\nprotected-mode no\ndir {}\nclient-output-buffer-limit replica 256mb 64mb 60\nlatency-tracking-info-percentiles 50 99 99.9\nuser default on nopass ~* &* +@all\nsentinel myid {ID}\nsentinel config-epoch m 0\nsentinel leader-epoch m 0\nsentinel current-epoch 0\n\nclient-output-buffer-limit pubsub 1mb 1mb 0\n",
        cwd()
    );
    assert_eq!(saved(text, 2), want);
    // And it loads again.
    parse(&want, &[]).unwrap();
}

#[test]
fn defaults_are_written_only_where_the_file_had_them() {
    let text = "port 26379\nbind * -::*\ndaemonize no\npidfile \"\"\nsentinel deny-scripts-reconfig yes\nsentinel resolve-hostnames no\nsentinel monitor m 127.0.0.1 6999 2\nsentinel down-after-milliseconds m 30000\n";
    let out = saved(text, 1);
    let head: Vec<&str> = out.lines().take(8).collect();
    // The default bind and an empty pidfile go (Redis writes neither); other defaults stay
    // where they were, with the value in force.
    assert_eq!(
        head,
        [
            "port 26379",
            "",
            "daemonize no",
            "",
            "sentinel deny-scripts-reconfig yes",
            "sentinel resolve-hostnames no",
            "sentinel monitor m 127.0.0.1 6999 2",
            "",
        ]
    );
    assert!(!out.contains("down-after"), "{out}");
}

#[test]
fn sentinel_options_and_state_as_redis_writes_them() {
    let text = format!(
        "sentinel monitor m 127.0.0.1 6999 2\nsentinel myid {ID}\nsentinel current-epoch 7\nsentinel config-epoch m 5\nsentinel leader-epoch m 6\nsentinel announce-port 26400\nsentinel deny-scripts-reconfig no\nsentinel resolve-hostnames yes\nsentinel announce-hostnames yes\nsentinel sentinel-pass pw\nsentinel known-replica m 127.0.0.1 7001\nsentinel known-sentinel m 127.0.0.1 26401 {}\nsentinel rename-command m CONFIG xconfig\nsentinel failover-timeout m 10000\nsentinel parallel-syncs m 3\nsentinel auth-pass m secret\nsentinel master-reboot-down-after-period m 5000\nrequirepass foo\n",
        "f".repeat(40)
    );
    let out = saved(&text, 1);
    let generated: Vec<&str> = out
        .split(SIGNATURE)
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("sentinel ") || l.starts_with("user "))
        .collect();
    assert_eq!(
        generated,
        [
            "user default on #2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae ~* &* +@all",
        ]
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "sentinel monitor m 127.0.0.1 6999 2");
    assert_eq!(lines[1], format!("sentinel myid {ID}"));
    // The file's sentinel lines are reused in Redis's order of options.
    assert!(lines.contains(&"requirepass \"foo\""), "{out}");
    for want in [
        "sentinel current-epoch 7",
        "sentinel config-epoch m 5",
        "sentinel leader-epoch m 6",
        "sentinel announce-port 26400",
        "sentinel deny-scripts-reconfig no",
        "sentinel resolve-hostnames yes",
        "sentinel announce-hostnames yes",
        "sentinel sentinel-pass pw",
        "sentinel known-replica m 127.0.0.1 7001",
        "sentinel rename-command m CONFIG xconfig",
        "sentinel failover-timeout m 10000",
        "sentinel parallel-syncs m 3",
        "sentinel auth-pass m secret",
        "sentinel master-reboot-down-after-period m 5000",
    ] {
        assert!(lines.contains(&want), "{want}: {out}");
    }
    assert!(out.contains(&format!(
        "sentinel known-sentinel m 127.0.0.1 26401 {}",
        "f".repeat(40)
    )));
}

#[test]
fn an_empty_announce_ip_set_at_run_time_is_written_as_redis() {
    let text = "sentinel monitor m 127.0.0.1 6999 2\n";
    let l = parse(text, &[]).unwrap();
    let c = crate::core_from(&l, 1, 0).unwrap();
    let mut s = l.server.clone();
    s.announce_ip_set = true;
    let out = rewritten(text, &c, &s);
    assert!(out.contains("\nsentinel announce-ip \"\"\n"), "{out}");
    // Read back, an empty announce-ip is none.
    let back = parse(&out, &[]).unwrap();
    assert!(!back.server.announce_ip_set);
    assert!(!rewritten(&out, &c, &back.server).contains("announce-ip"));
}

#[test]
fn user_lines_stay_in_place_with_the_live_users() {
    let text =
        "user default off\nsentinel monitor m 127.0.0.1 6999 2\nuser app on >apppw -@all +ping\n";
    let out = saved(text, 1);
    let hash = picket_server::acl::user::hash_password(b"apppw");
    // The file's lines in order for the users in name order; plain passwords as hashes.
    assert!(
        out.starts_with(&format!("user app on #{hash} resetchannels -@all +ping\nsentinel monitor m 127.0.0.1 6999 2\nuser default off sanitize-payload resetchannels -@all\n")),
        "{out}"
    );
    // Users changed at run time (the shell keeps them in the settings): a new one is
    // appended, a deleted one's line goes.
    let l = parse(text, &[]).unwrap();
    let c = crate::core_from(&l, 1, 0).unwrap();
    let mut s = l.server.clone();
    s.users = Some(vec![
        "default on nopass ~* &* +@all".into(),
        "ops on nopass -@all +sentinel|masters".into(),
    ]);
    let out = rewritten(text, &c, &s);
    let users: Vec<&str> = out.lines().filter(|l| l.starts_with("user ")).collect();
    assert_eq!(
        users,
        [
            "user default on nopass ~* &* +@all",
            "user ops on nopass -@all +sentinel|masters"
        ],
        "{out}"
    );
    assert!(
        out.starts_with("user default on nopass ~* &* +@all\nsentinel monitor"),
        "{out}"
    );
    // With an ACL file, the file's user lines are dropped.
    let l = parse(&format!("{text}aclfile /x.acl\n"), &[]).unwrap();
    let out = rewritten(text, &c, &l.server);
    assert!(!out.contains("user "), "{out}");
}
