//! Sentinels that require authentication from each other: a picket-server master and a
//! replica, three sentinels whose config is the block of docs/guide.md section 9 as
//! written (the default user off, an admin, the least-privilege `sentinel-peer` user the
//! sentinels log in as, `sentinel sentinel-user` / `sentinel-pass`). They discover each
//! other, fail over when the master is killed, their links to each other run as
//! `sentinel-peer`, and no ACL LOG has a refusal. The same with Redis 7.0's sentinels
//! checks that the documented user is enough for Redis too.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// The config block of the guide's section 9 that declares `sentinel-peer`.
fn guide_block() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let guide = std::fs::read_to_string(root.join("docs/guide.md")).expect("docs/guide.md");
    let section = guide
        .split("\n## ")
        .find(|s| s.starts_with("9. "))
        .expect("section 9 of the guide");
    section
        .split("```")
        .skip(1)
        .step_by(2)
        .find(|b| b.contains("user sentinel-peer "))
        .expect("a block with `user sentinel-peer` in section 9")
        .trim_start_matches(|c: char| c.is_alphanumeric())
        .trim_start_matches('\n')
        .to_string()
}

/// A picket-server master and one replica, in sync.
fn master_and_replica() -> Vec<Proc> {
    let m = server(None, free_port(), None, &[]);
    let r = server(None, free_port(), Some(m.port), &[]);
    wait_for("the replica's link", 20, || {
        info_field(r.port, "master_link_status") == "up"
    });
    vec![m, r]
}

/// A connection logged in as the guide's admin.
fn admin(port: u16) -> Client {
    let mut c = Client::connect(port);
    assert_eq!(
        c.cmd(&["AUTH", "admin", "admin-secret"]),
        R::S("OK".into()),
        "port {port}"
    );
    c
}

fn master_of(port: u16) -> String {
    admin(port)
        .cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"])
        .items()
        .iter()
        .map(R::s)
        .collect::<Vec<_>>()
        .join(":")
}

/// Deploy (Redis's sentinels with `redis`), fail over, check the links and the logs.
fn deploy_and_fail_over(redis: Option<&Path>) {
    let who = if redis.is_some() { "redis" } else { "picket" };
    let block = guide_block();
    let mut servers = master_and_replica();
    let master = servers[0].port;
    let sentinels: Vec<Proc> = (0..3)
        .map(|_| sentinel(redis, free_port(), master, 2, &block))
        .collect();
    // Nothing runs without logging in.
    assert_eq!(
        cmd(sentinels[0].port, &["SENTINEL", "MASTERS"]),
        R::E("NOAUTH Authentication required.".into())
    );
    for s in &sentinels {
        wait_for("discovery through ACL-protected sentinels", 40, || {
            let m = admin(s.port).cmd(&["SENTINEL", "MASTER", "mymaster"]);
            m.field("num-slaves").as_deref() == Some("1")
                && m.field("num-other-sentinels").as_deref() == Some("2")
        });
    }
    // SENTINEL SENTINELS shows the two others, up.
    for s in &sentinels {
        let peers = admin(s.port).cmd(&["SENTINEL", "SENTINELS", "mymaster"]);
        let mut ports: Vec<u16> = peers
            .items()
            .iter()
            .map(|p| p.field("port").unwrap().parse().unwrap())
            .collect();
        ports.sort();
        let mut want: Vec<u16> = sentinels
            .iter()
            .map(|x| x.port)
            .filter(|p| *p != s.port)
            .collect();
        want.sort();
        assert_eq!(ports, want, "{who}: {peers:?}");
    }
    // The links between the sentinels run as the least-privilege user.
    for s in &sentinels {
        wait_for("the other sentinels' links", 20, || {
            let list = admin(s.port).cmd(&["CLIENT", "LIST"]).s();
            list.lines()
                .filter(|l| l.contains(" user=sentinel-peer ") && l.contains("-cmd "))
                .count()
                == 2
        });
    }
    // Kill the master: +switch-master, the replica is the new master.
    let mut sub = admin(sentinels[0].port);
    sub.w
        .set_read_timeout(Some(std::time::Duration::from_secs(90)))
        .unwrap();
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "+switch-master"]).items()[2],
        R::I(1)
    );
    let old = format!("127.0.0.1:{master}");
    servers[0].kill9();
    let msg = sub.read().expect("+switch-master");
    let payload = msg.items()[2].s();
    let new_port = servers[1].port;
    assert_eq!(
        payload,
        format!("mymaster 127.0.0.1 {master} 127.0.0.1 {new_port}"),
        "{who}"
    );
    for s in &sentinels {
        wait_for("every sentinel on the new master", 30, || {
            master_of(s.port) != old
        });
        assert_eq!(master_of(s.port), format!("127.0.0.1:{new_port}"), "{who}");
    }
    assert_eq!(cmd(new_port, &["ROLE"]).items()[0].s(), "master");
    // No sentinel refused anything of another on the way.
    for s in &sentinels {
        let log = admin(s.port).cmd(&["ACL", "LOG"]);
        assert_eq!(log, R::A(Vec::new()), "{who}: ACL LOG of {}", s.port);
    }
}

#[test]
fn picket_sentinels_with_acl_users_discover_each_other_and_fail_over() {
    deploy_and_fail_over(None);
}

#[test]
fn redis_sentinels_with_the_guides_users_do_as_well() {
    let Some(redis) = redis_bin() else { return };
    deploy_and_fail_over(Some(&redis));
}

/// Deploy with the guide's block minus `rule`; wait for a refusal of `object` for
/// `reason` in some sentinel's ACL LOG (killing the master first with `kill`).
fn without(rule: &str, reason: &str, object: &str, kill: bool) {
    let block = guide_block();
    let peer = block
        .lines()
        .find(|l| l.starts_with("user sentinel-peer "))
        .expect("the peer line");
    assert!(peer.contains(&format!(" {rule}")), "{rule} not in {peer}");
    let block = block.replace(peer, &peer.replace(&format!(" {rule}"), ""));
    let mut servers = master_and_replica();
    let master = servers[0].port;
    let sentinels: Vec<Proc> = (0..3)
        .map(|_| sentinel(None, free_port(), master, 2, &block))
        .collect();
    if kill {
        for s in &sentinels {
            wait_for("discovery", 40, || {
                admin(s.port)
                    .cmd(&["SENTINEL", "MASTER", "mymaster"])
                    .field("num-other-sentinels")
                    .as_deref()
                    == Some("2")
            });
        }
        servers[0].kill9();
    }
    wait_for(&format!("a refused {object} in ACL LOG"), 40, || {
        sentinels.iter().any(|s| {
            admin(s.port).cmd(&["ACL", "LOG"]).items().iter().any(|e| {
                e.field("object").as_deref() == Some(object)
                    && e.field("username").as_deref() == Some("sentinel-peer")
                    && e.field("reason").as_deref() == Some(reason)
            })
        })
    });
    if kill {
        // Without the others' answers the master never gets to ODOWN: no failover.
        assert_eq!(master_of(sentinels[0].port), format!("127.0.0.1:{master}"));
    }
}

/// Each part of the documented peer user is used: without it, the sentinels' requests to
/// each other are refused (and logged).
#[test]
fn every_rule_of_the_peer_user_is_needed() {
    without("+ping", "command", "ping", false);
    without("+publish", "command", "publish", false);
    without(
        "&__sentinel__:hello",
        "channel",
        "__sentinel__:hello",
        false,
    );
    without("+client|setname", "command", "client|setname", false);
    without(
        "+sentinel|is-master-down-by-addr",
        "command",
        "sentinel|is-master-down-by-addr",
        true,
    );
}
