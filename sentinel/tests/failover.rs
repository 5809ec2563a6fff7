//! Sentinels and servers as real processes over TCP: discovery, kill -9 of the master and a
//! full failover with every event in order, the old master rejoining as a replica, no
//! failover without quorum, manual failover, a restarted sentinel keeping its state, and
//! interoperability with Redis 7.0 (redis-server and redis-server --sentinel) both ways.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::*;

/// Three servers (Redis with `redis_servers`) and three sentinels of the given kinds (Redis
/// for a `Some`), all with `quorum`, once they have discovered each other.
fn deploy_kinds(
    redis_servers: Option<&Path>,
    sentinel_kinds: [Option<&Path>; 3],
    quorum: u32,
) -> Deployment {
    let servers = servers(redis_servers, &[]);
    let master = servers[0].port;
    let sentinels: Vec<Proc> = sentinel_kinds
        .iter()
        .map(|k| sentinel(*k, free_port(), master, quorum, ""))
        .collect();
    wait_discovery(&sentinels);
    Deployment { servers, sentinels }
}

const LEADER_ORDER: &[&str] = &[
    "+sdown",
    "+odown",
    "+new-epoch",
    "+try-failover",
    "+vote-for-leader",
    "+elected-leader",
    "+failover-state-select-slave",
    "+selected-slave",
    "+failover-state-send-slaveof-noone",
    "+failover-state-wait-promotion",
    "+promoted-slave",
    "+failover-state-reconf-slaves",
    "+slave-reconf-sent",
    "+slave-reconf-inprog",
    "+slave-reconf-done",
    "+failover-end",
    "+switch-master",
];

/// Kill the master, wait until every sentinel points elsewhere; returns the new address
/// and each sentinel's events.
fn kill_and_failover(d: &mut Deployment) -> (String, Vec<Vec<(String, String)>>) {
    let rxs: Vec<_> = d.sentinels.iter().map(|s| events(s.port)).collect();
    let old = format!("127.0.0.1:{}", d.servers[0].port);
    d.servers[0].kill9();
    let t = Instant::now();
    for s in &d.sentinels {
        wait_for("+switch-master", 60, || master_addr(s.port) != old);
    }
    eprintln!("failover took {:?}", t.elapsed());
    let new = master_addr(d.sentinels[0].port);
    for s in &d.sentinels {
        assert_eq!(master_addr(s.port), new);
    }
    // The leader announces the new address before it finishes reconfiguring the replicas:
    // wait for its own +switch-master (after +failover-end).
    let mut evs: Vec<Vec<(String, String)>> = vec![Vec::new(); rxs.len()];
    wait_for("the leader's +failover-end and +switch-master", 60, || {
        for (i, rx) in rxs.iter().enumerate() {
            evs[i].extend(rx.try_iter());
        }
        evs.iter().any(|e| {
            let mut it = e.iter();
            it.any(|(k, _)| k == "+failover-end") && it.any(|(k, _)| k == "+switch-master")
        })
    });
    (new, evs)
}

fn assert_leader_events(evs: &[Vec<(String, String)>]) {
    let leader = evs
        .iter()
        .find(|e| e.iter().any(|(k, _)| k == "+elected-leader"))
        .unwrap_or_else(|| panic!("no sentinel was elected: {evs:#?}"));
    let mut it = leader.iter();
    for want in LEADER_ORDER {
        assert!(
            it.any(|(k, _)| k == want),
            "event {want} missing or out of order in {leader:#?}"
        );
    }
    let (_, sw) = leader.iter().find(|(k, _)| k == "+switch-master").unwrap();
    let parts: Vec<&str> = sw.split(' ').collect();
    assert_eq!(parts.len(), 5, "{sw}");
    assert_eq!(parts[0], "mymaster");
}

#[test]
fn failover_after_kill_9_with_every_event_and_the_old_master_rejoins() {
    let mut d = deploy_kinds(None, [None, None, None], 2);
    let mut c = Client::connect(d.servers[0].port);
    c.cmd(&["SET", "before", "1"]);
    c.cmd(&["WAIT", "2", "1000"]);
    let (new, evs) = kill_and_failover(&mut d);
    assert_leader_events(&evs);
    let port: u16 = new.rsplit(':').next().unwrap().parse().unwrap();
    let mut c = Client::connect(port);
    assert_eq!(c.cmd(&["ROLE"]).items()[0].s(), "master");
    assert_eq!(c.cmd(&["GET", "before"]).s(), "1");
    assert_eq!(c.cmd(&["SET", "after", "2"]).s(), "OK");
    // Each sentinel holds one command link and one pub/sub link to the new master: the
    // links it had to it as a replica are closed (Redis releases the old instances).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let list = Client::connect(port).cmd(&["CLIENT", "LIST"]).s();
        let mut names: Vec<&str> = list
            .lines()
            .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("name=")))
            .filter(|n| n.starts_with("sentinel-"))
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        if n == 6 && names.len() == 6 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not one link of each kind per sentinel on the new master:\n{list}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The old master comes back (as a master, from its empty config) and is converted.
    let old_port = d.servers[0].port;
    let rxs: Vec<_> = d.sentinels.iter().map(|s| events(s.port)).collect();
    d.servers[0] = server(None, old_port, None, &[]);
    wait_for("old master demoted", 40, || {
        info_field(old_port, "role") == "slave"
            && info_field(old_port, "master_link_status") == "up"
    });
    // Some sentinel converted it.
    assert!(rxs
        .iter()
        .any(|rx| rx.try_iter().any(|(k, _)| k == "+convert-to-slave")));
    assert_eq!(Client::connect(old_port).cmd(&["GET", "after"]).s(), "2");
    // The sentinels' state files hold the new master.
    let conf = std::fs::read_to_string(d.sentinels[0].conf.as_ref().unwrap()).unwrap();
    assert!(
        conf.contains(&format!("sentinel monitor mymaster 127.0.0.1 {port} 2")),
        "{conf}"
    );
    assert!(conf.starts_with("# test sentinel\n"), "{conf}");
    assert!(conf.contains("sentinel known-sentinel mymaster"), "{conf}");
}

#[test]
fn no_failover_without_quorum() {
    let mut d = deploy_kinds(None, [None, None, None], 4);
    let rx = events(d.sentinels[0].port);
    let old = master_addr(d.sentinels[0].port);
    d.servers[0].kill9();
    std::thread::sleep(Duration::from_secs(5));
    let evs: Vec<_> = rx.try_iter().collect();
    assert!(evs.iter().any(|(k, _)| k == "+sdown"), "{evs:?}");
    assert!(!evs.iter().any(|(k, _)| k == "+odown"), "{evs:?}");
    assert_eq!(master_addr(d.sentinels[0].port), old);
    let r = Client::connect(d.sentinels[0].port).cmd(&["SENTINEL", "ckquorum", "mymaster"]);
    assert!(r.s().starts_with("NOQUORUM"), "{r:?}");
}

#[test]
fn manual_failover_and_sentinel_commands() {
    let d = deploy_kinds(None, [None, None, None], 2);
    let s = d.sentinels[0].port;
    let mut c = Client::connect(s);
    assert_eq!(
        c.cmd(&["SENTINEL", "ckquorum", "mymaster"]).s(),
        "OK 3 usable Sentinels. Quorum and failover authorization can be reached"
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "master", "nosuch"]),
        R::E("ERR No such master with that name".into())
    );
    // A null array (`*-1`), as Redis answers for an unknown name.
    assert_eq!(
        c.cmd(&["SENTINEL", "get-master-addr-by-name", "nosuch"]),
        R::Nil
    );
    assert_eq!(
        c.cmd(&["PUBLISH", "other", "x"]),
        R::E("ERR Only HELLO messages are accepted by Sentinel instances.".into())
    );
    assert_eq!(c.cmd(&["ROLE"]).items()[0].s(), "sentinel");
    let m = c.cmd(&["SENTINEL", "master", "mymaster"]);
    let names: Vec<String> = m.items().chunks(2).map(|p| p[0].s()).collect();
    assert_eq!(
        &names[..7],
        &[
            "name",
            "ip",
            "port",
            "runid",
            "flags",
            "link-pending-commands",
            "link-refcount"
        ]
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "set", "mymaster", "quorum", "0"]).s(),
        "ERR Invalid argument '0' for SENTINEL SET 'quorum'"
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "set", "mymaster", "bogus", "1"]).s(),
        "ERR Unknown option or number of arguments for SENTINEL SET 'bogus'"
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "set", "mymaster", "parallel-syncs", "2"])
            .s(),
        "OK"
    );
    let old = master_addr(s);
    assert_eq!(c.cmd(&["SENTINEL", "failover", "mymaster"]).s(), "OK");
    wait_for("manual failover", 30, || master_addr(s) != old);
    for x in &d.sentinels {
        wait_for("others follow", 30, || {
            master_addr(x.port) == master_addr(s)
        });
    }
}

#[test]
fn restarted_sentinel_keeps_its_state() {
    let mut d = deploy_kinds(None, [None, None, None], 2);
    let s0 = d.sentinels.remove(0);
    let myid = Client::connect(s0.port).cmd(&["SENTINEL", "myid"]).s();
    let port = s0.port;
    let conf = s0.conf.clone().unwrap();
    // The state is written off the core, a moment after it is known: wait until the file
    // has everyone discovered (a kill -9 before that loses what was not written yet).
    wait_for("the discovered state on disk", 10, || {
        let t = std::fs::read_to_string(&conf).unwrap_or_default();
        t.matches("sentinel known-replica mymaster").count() == 2
            && t.matches("sentinel known-sentinel mymaster").count() == 2
    });
    // Stop it (its state is in the file), keep the directory.
    let mut s0 = s0;
    s0.kill9();
    let dir = std::mem::replace(&mut s0.dir, tempfile::tempdir().unwrap());
    drop(s0);
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains(&format!("sentinel myid {myid}")), "{text}");
    assert!(text.contains("sentinel known-replica mymaster"), "{text}");
    // The file is there: its text is the restarted sentinel's config.
    let s = sentinel_from(None, port, "sentinel.conf", "", Some(dir));
    let mut c = Client::connect(s.port);
    assert_eq!(c.cmd(&["SENTINEL", "myid"]).s(), myid);
    let m = c.cmd(&["SENTINEL", "master", "mymaster"]);
    assert_eq!(m.field("num-slaves").as_deref(), Some("2"));
    assert_eq!(m.field("num-other-sentinels").as_deref(), Some("2"));
    drop(d);
}

#[test]
fn picket_sentinels_manage_redis_servers() {
    let Some(redis) = redis_bin() else { return };
    let mut d = deploy_kinds(Some(&redis), [None, None, None], 2);
    let (new, evs) = kill_and_failover(&mut d);
    assert_leader_events(&evs);
    let port: u16 = new.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        Client::connect(port).cmd(&["ROLE"]).items()[0].s(),
        "master"
    );
}

#[test]
fn redis_sentinels_manage_picket_servers() {
    let Some(redis) = redis_bin() else { return };
    let r = Some(redis.as_path());
    let mut d = deploy_kinds(None, [r, r, r], 2);
    let (new, evs) = kill_and_failover(&mut d);
    assert_leader_events(&evs);
    let port: u16 = new.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        Client::connect(port).cmd(&["ROLE"]).items()[0].s(),
        "master"
    );
    // The other replica follows the new master.
    for s in &d.servers[1..] {
        if s.port != port {
            wait_for("replica follows", 30, || {
                info_field(s.port, "master_port") == port.to_string()
                    && info_field(s.port, "master_link_status") == "up"
            });
        }
    }
}

#[test]
fn mixed_picket_and_redis_sentinels_agree_on_one_failover() {
    let Some(redis) = redis_bin() else { return };
    let r = Some(redis.as_path());
    let mut d = deploy_kinds(None, [None, r, None], 2);
    let (new, evs) = kill_and_failover(&mut d);
    assert_leader_events(&evs);
    let epochs: Vec<String> = d
        .sentinels
        .iter()
        .map(|s| {
            Client::connect(s.port)
                .cmd(&["SENTINEL", "master", "mymaster"])
                .field("config-epoch")
                .unwrap()
        })
        .collect();
    assert!(
        epochs.iter().all(|e| *e == epochs[0] && e != "0"),
        "{epochs:?}"
    );
    let _ = new;
    for s in &d.sentinels {
        let _ = s.log();
    }
}

/// A Lua script through a failover (issue 17): its effects reach the replicas as the
/// commands it ran, wrapped in MULTI/EXEC, so the promoted replica holds every acknowledged
/// script whole (a "seckill": stock and orders always add up). The script cache is not
/// replicated (as Redis 7.0: EVALSHA gets -NOSCRIPT on the new master until a client sends
/// the body with EVAL, which clients do), and the script runs on the new master.
#[test]
fn scripts_survive_a_failover_whole() {
    const SECKILL: &str = "local stock = tonumber(redis.call('GET', KEYS[1])) \
        if stock and stock > 0 then \
          redis.call('DECR', KEYS[1]) \
          redis.call('RPUSH', KEYS[2], ARGV[1]) \
          return 1 \
        end \
        return 0";
    let mut d = deploy_kinds(None, [None, None, None], 2);
    let mut c = Client::connect(d.servers[0].port);
    let sha = c.cmd(&["SCRIPT", "LOAD", SECKILL]).s();
    assert_eq!(c.cmd(&["SET", "stock", "25"]).s(), "OK");
    let mut sold = 0;
    for buyer in 0..40 {
        let b = format!("buyer{buyer}");
        sold += u32::from(c.cmd(&["EVALSHA", &sha, "2", "stock", "orders", &b]).s() == "1");
    }
    assert_eq!(sold, 25);
    assert_eq!(c.cmd(&["WAIT", "2", "2000"]).s(), "2");
    let (new, _) = kill_and_failover(&mut d);
    let mut c = Client::connect(port_of(&new));
    assert_eq!(c.cmd(&["ROLE"]).items()[0].s(), "master");
    assert_eq!(c.cmd(&["GET", "stock"]).s(), "0");
    let orders: Vec<String> = c
        .cmd(&["LRANGE", "orders", "0", "-1"])
        .items()
        .iter()
        .map(|r| r.s())
        .collect();
    let want: Vec<String> = (0..25).map(|b| format!("buyer{b}")).collect();
    assert_eq!(orders, want);
    let r = c.cmd(&["EVALSHA", &sha, "2", "stock", "orders", "late"]);
    assert_eq!(r.s(), "NOSCRIPT No matching script. Please use EVAL.");
    assert_eq!(c.cmd(&["SET", "stock", "1"]).s(), "OK");
    let r = c.cmd(&["EVAL", SECKILL, "2", "stock", "orders", "after"]);
    assert_eq!(r.s(), "1");
    assert_eq!(
        c.cmd(&["EVALSHA", &sha, "2", "stock", "orders", "x"]).s(),
        "0"
    );
    assert_eq!(c.cmd(&["LLEN", "orders"]).s(), "26");
}
