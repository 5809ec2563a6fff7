//! Unit tests of host names: a deployment known only by names (resolve-hostnames yes),
//! shown as names or as the IPs the links resolved them to (announce-hostnames), and
//! names compared with IPs.

use super::tests::*;
use super::*;

const NODES: [(&str, &str); 3] = [
    ("node1", "10.0.0.1"),
    ("node2", "10.0.0.2"),
    ("node3", "10.0.0.3"),
];

fn replica_info_of(runid: &str, master_host: &str, offset: u64) -> String {
    format!("run_id:{runid}\r\nrole:slave\r\nmaster_host:{master_host}\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_priority:100\r\nslave_repl_offset:{offset}\r\nreplica_announced:1\r\n")
}

/// A core that knows `m` as node1 and its replicas node2, node3 (from the master's INFO),
/// every name resolved by the links; the actions of the discovery.
fn named(announce: bool) -> (Core, Vec<Action>) {
    let mut c = Core::new(ME.into(), picket_common::ids::seeded(1));
    c.announce_ip = "node9".into();
    c.resolve_hostnames = true;
    c.announce_hostnames = announce;
    let m = c.monitor("m", Addr::new("node1", 6379), 1, 0);
    m.down_after = 1000;
    c.take_actions();
    let mut all = Vec::new();
    for (host, ip) in NODES {
        all.extend(c.step(
            0,
            Input::Resolved {
                host: host.into(),
                ip: ip.into(),
            },
        ));
    }
    let mt = Target::Master("m".into());
    all.extend(c.step(0, Input::Connected(mt.clone())));
    all.extend(c.step(0, Input::PingReply(mt.clone(), "+PONG".into())));
    all.extend(c.step(
        0,
        Input::InfoReply(mt, master_info(&[("node2", 6379), ("node3", 6379)])),
    ));
    for (id, host, off) in [("2", "node2", 10), ("3", "node3", 20)] {
        let t = Target::Replica("m".into(), format!("{host}:6379"));
        assert!(c.instance(&t).is_some(), "replicas are known by name");
        all.extend(c.step(0, Input::Connected(t.clone())));
        all.extend(c.step(0, Input::PingReply(t.clone(), "+PONG".into())));
        all.extend(c.step(
            0,
            Input::InfoReply(t, replica_info_of(&id.repeat(40), "node1", off)),
        ));
    }
    (c, all)
}

fn hellos(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Hello(_, p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// The master fails; SENTINEL FAILOVER promotes node3 (the larger offset) and points node2
/// at it: every action until +switch-master.
fn fail_over(c: &mut Core) -> Vec<Action> {
    let mut now = 100;
    let mt = Target::Master("m".into());
    let mut all = c.step(now, Input::Disconnected(mt));
    c.force_failover(now, "m").expect("a replica to promote");
    let r3 = Target::Replica("m".into(), "node3:6379".into());
    all.extend(tick_until(
        c,
        &mut now,
        |a| matches!(a, Action::ReplicaOf(t, None) if *t == r3),
    ));
    // node3 reports being a master now.
    let promoted = "run_id:3333333333333333333333333333333333333333\r\nrole:master\r\n";
    all.extend(c.step(now, Input::InfoReply(r3, promoted.into())));
    let r2 = Target::Replica("m".into(), "node2:6379".into());
    all.extend(tick_until(
        c,
        &mut now,
        |a| matches!(a, Action::ReplicaOf(t, Some(_)) if *t == r2),
    ));
    all.extend(c.step(
        now,
        Input::InfoReply(
            r2,
            replica_info_of(&"2".repeat(40), c.shown_host("node3").as_str(), 20),
        ),
    ));
    all.extend(tick_until(c, &mut now, |a| {
        matches!(a, Action::Event(Event::SwitchMaster { .. }))
    }));
    all
}

#[test]
fn with_announce_hostnames_everything_carries_the_names() {
    let (mut c, a) = named(true);
    let ev = events(&a);
    assert!(
        ev.contains(&"+slave slave node2:6379 node2 6379 @ m node1 6379".to_string()),
        "{ev:?}"
    );
    let mut now = 0;
    let a = tick_until(&mut c, &mut now, |a| matches!(a, Action::Hello(..)));
    let h = hellos(&a);
    assert!(
        h[0].starts_with(&format!("node9,26379,{ME},0,m,node1,6379,")),
        "{h:?}"
    );
    assert_eq!(
        c.shown(&c.masters["m"].current_addr()),
        Addr::new("node1", 6379)
    );

    let a = fail_over(&mut c);
    let ev = events(&a);
    for e in [
        "+selected-slave slave node3:6379 node3 6379 @ m node1 6379",
        "+promoted-slave slave node3:6379 node3 6379 @ m node1 6379",
        "+switch-master m node1 6379 node3 6379",
    ] {
        assert!(ev.contains(&e.to_string()), "{e} not in {ev:?}");
    }
    // SLAVEOF names the promoted replica.
    let to: Vec<&Addr> = a
        .iter()
        .filter_map(|x| match x {
            Action::ReplicaOf(_, Some(to)) => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(to, vec![&Addr::new("node3", 6379)], "{a:?}");
    // The state keeps names; the links connect to names (resolved by the shell).
    assert_eq!(c.masters["m"].inst.addr, Addr::new("node3", 6379));
    assert!(a
        .iter()
        .any(|x| *x == Action::Connect(Target::Master("m".into()), Addr::new("node3", 6379))));
    assert!(c.masters["m"].replicas.contains_key("node1:6379"));
}

#[test]
fn without_announce_hostnames_the_resolved_ips_are_shown() {
    let (mut c, a) = named(false);
    let ev = events(&a);
    // Redis names a replica by its resolved address then.
    assert!(
        ev.contains(&"+slave slave 10.0.0.2:6379 10.0.0.2 6379 @ m 10.0.0.1 6379".to_string()),
        "{ev:?}"
    );
    let mut now = 0;
    let a = tick_until(&mut c, &mut now, |a| matches!(a, Action::Hello(..)));
    let h = hellos(&a);
    assert!(
        h[0].starts_with(&format!("node9,26379,{ME},0,m,10.0.0.1,6379,")),
        "{h:?}"
    );
    assert_eq!(
        c.shown(&c.masters["m"].current_addr()),
        Addr::new("10.0.0.1", 6379)
    );
    assert_eq!(
        c.shown_replica_name(&c.masters["m"].replicas["node2:6379"]),
        "10.0.0.2:6379"
    );

    let a = fail_over(&mut c);
    let ev = events(&a);
    for e in [
        "+selected-slave slave 10.0.0.3:6379 10.0.0.3 6379 @ m 10.0.0.1 6379",
        "+switch-master m 10.0.0.1 6379 10.0.0.3 6379",
    ] {
        assert!(ev.contains(&e.to_string()), "{e} not in {ev:?}");
    }
    let to: Vec<&Addr> = a
        .iter()
        .filter_map(|x| match x {
            Action::ReplicaOf(_, Some(to)) => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(to, vec![&Addr::new("10.0.0.3", 6379)], "{a:?}");
    // Links and state keep the names, so a new address is found on reconnection.
    assert_eq!(c.masters["m"].inst.addr, Addr::new("node3", 6379));
    assert!(a
        .iter()
        .any(|x| *x == Action::Connect(Target::Master("m".into()), Addr::new("node3", 6379))));
    // A name that resolves elsewhere later is shown at its new address.
    c.step(
        now,
        Input::Resolved {
            host: "NODE3".into(),
            ip: "10.0.9.3".into(),
        },
    );
    assert_eq!(
        c.shown(&c.masters["m"].inst.addr),
        Addr::new("10.0.9.3", 6379)
    );
}

#[test]
fn names_and_ips_of_the_same_host_are_the_same_instance() {
    let (mut c, _) = named(true);
    assert!(c.same_host("node1", "10.0.0.1"));
    assert!(c.same_host("NODE1", "node1"));
    assert!(!c.same_host("node1", "10.0.0.2"));
    assert!(!c.same_host("node1", "unknown"));
    // A replica that reports its master by IP follows it: no +fix-slave-config, ever.
    let r2 = Target::Replica("m".into(), "node2:6379".into());
    let mt = Target::Master("m".into());
    let mut all = Vec::new();
    for k in 0..400u64 {
        let now = 100 + k * 100;
        c.step(now, Input::PingReply(mt.clone(), "+PONG".into()));
        c.step(now, Input::PingReply(r2.clone(), "+PONG".into()));
        if k % 10 == 0 {
            c.step(
                now,
                Input::InfoReply(mt.clone(), master_info(&[("node2", 6379)])),
            );
            all.extend(c.step(
                now,
                Input::InfoReply(r2.clone(), replica_info_of(&"2".repeat(40), "10.0.0.1", 10)),
            ));
        }
        all.extend(c.step(now, Input::Tick));
    }
    assert!(
        !events(&all)
            .iter()
            .any(|e| e.starts_with("+fix-slave-config")),
        "{:?}",
        events(&all)
    );
    // A peer that announces the master by IP announces no new address.
    let a = c.step(
        41_000,
        Input::Hello(format!("node7,26379,{A},1,m,10.0.0.1,6379,1")),
    );
    assert!(
        !events(&a).iter().any(|e| e.starts_with("+switch-master")),
        "{a:?}"
    );
    assert_eq!(c.masters["m"].inst.addr, Addr::new("node1", 6379));
    assert_eq!(c.masters["m"].config_epoch, 1);
    // IS-MASTER-DOWN-BY-ADDR by IP finds the master known by name.
    let (down, _, _) = c.is_master_down_by_addr(41_000, &Addr::new("10.0.0.1", 6379), 1, "*");
    assert!(!down);
    c.step(41_100, Input::Disconnected(mt.clone()));
    let mut now = 41_100;
    tick_until(
        &mut c,
        &mut now,
        |a| matches!(a, Action::Event(Event::Sdown(s)) if s.kind == InstanceKind::Master),
    );
    let (down, _, _) = c.is_master_down_by_addr(now, &Addr::new("10.0.0.1", 6379), 1, "*");
    assert!(down);
}

#[test]
fn failover_to_names_the_replica_as_its_master_lists_it() {
    // FAILOVER TO goes to the master, which finds the replica by the address its INFO
    // lists (the name the replica announces), whatever announce-hostnames says.
    for announce in [false, true] {
        let (mut c, _) = named(announce);
        let mut now = 100;
        c.force_failover(now, "m").expect("a replica to promote");
        let a = tick_until(&mut c, &mut now, |a| matches!(a, Action::Switchover { .. }));
        let to = a.iter().find_map(|x| match x {
            Action::Switchover { to, .. } => Some(to.clone()),
            _ => None,
        });
        assert_eq!(to, Some(Addr::new("node3", 6379)), "announce {announce}");
    }
}
