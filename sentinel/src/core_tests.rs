//! Unit tests of the core: pure inputs → actions.

use super::*;

pub(super) const ME: &str = "1111111111111111111111111111111111111111";
pub(super) const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub(super) const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
pub(super) const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

pub(super) fn core() -> Core {
    let mut c = Core::new(ME.into(), picket_common::ids::seeded(1));
    c.announce_ip = "10.0.0.9".into();
    let m = c.monitor("m", Addr::new("10.0.0.1", 6379), 2, 0);
    m.down_after = 1000;
    c.take_actions();
    c
}

pub(super) fn events(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some(format!("{} {e}", e.kind())),
            _ => None,
        })
        .collect()
}

pub(super) fn add_sentinel(c: &mut Core, id: &str, port: u16, now: Ms) {
    let hello = format!(
        "10.0.{}.{},{port},{id},0,m,10.0.0.1,6379,0",
        port >> 8,
        port & 0xff
    );
    let a = c.step(now, Input::Hello(hello));
    assert!(
        events(&a).iter().any(|e| e.starts_with("+sentinel ")),
        "{a:?}"
    );
    c.step(
        now,
        Input::Connected(Target::Sentinel("m".into(), id.into())),
    );
}

pub(super) fn master_info(replicas: &[(&str, u16)]) -> String {
    let mut t = format!(
        "# Server\r\nrun_id:{}\r\n# Replication\r\nrole:master\r\nconnected_slaves:{}\r\n",
        "9".repeat(40),
        replicas.len()
    );
    for (i, (ip, port)) in replicas.iter().enumerate() {
        t.push_str(&format!(
            "slave{i}:ip={ip},port={port},state=online,offset=10,lag=0\r\n"
        ));
    }
    t
}

pub(super) fn replica_info(runid: &str, priority: i64, offset: u64) -> String {
    format!("run_id:{runid}\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_priority:{priority}\r\nslave_repl_offset:{offset}\r\nreplica_announced:1\r\n")
}

#[test]
fn sdown_after_down_after_and_back() {
    let mut c = core();
    let t = Target::Master("m".into());
    c.step(0, Input::Connected(t.clone()));
    // PING sent at 0 and never answered.
    let a = c.step(500, Input::Tick);
    assert!(!events(&a).iter().any(|e| e.starts_with("+sdown")));
    let a = c.step(1200, Input::Tick);
    assert!(
        events(&a).contains(&"+sdown master m 10.0.0.1 6379".to_string()),
        "{a:?}"
    );
    // Invalid replies (-MISCONF) keep it down; +PONG brings it back.
    c.step(1300, Input::PingReply(t.clone(), "-MISCONF x".into()));
    let a = c.step(1400, Input::Tick);
    assert!(!events(&a).iter().any(|e| e.starts_with("-sdown")));
    c.step(1500, Input::PingReply(t, "+PONG".into()));
    let a = c.step(1600, Input::Tick);
    assert!(
        events(&a).contains(&"-sdown master m 10.0.0.1 6379".to_string()),
        "{a:?}"
    );
}

#[test]
fn odown_needs_quorum_including_self() {
    let mut c = core();
    add_sentinel(&mut c, A, 26380, 0);
    add_sentinel(&mut c, B, 26381, 0);
    let t = Target::Master("m".into());
    c.step(0, Input::Connected(t));
    let a = c.step(1200, Input::Tick);
    assert!(!events(&a).iter().any(|e| e.starts_with("+odown")));
    // Asks the others while SDOWN.
    assert!(a
        .iter()
        .any(|x| matches!(x, Action::AskMasterDown { runid, .. } if runid == "*")));
    c.step(
        1250,
        Input::MasterDownReply {
            from: Target::Sentinel("m".into(), A.into()),
            down: true,
            leader: "*".into(),
            epoch: 0,
        },
    );
    let a = c.step(1300, Input::Tick);
    assert!(
        events(&a).contains(&"+odown master m 10.0.0.1 6379 #quorum 2/2".to_string()),
        "{a:?}"
    );
    // Its answer ages out after 5 s: no longer ODOWN.
    let mut seen = false;
    let mut t = 1300;
    while t < 7500 {
        t += 100;
        seen |= events(&c.step(t, Input::Tick))
            .iter()
            .any(|e| e.starts_with("-odown"));
    }
    assert!(seen);
}

#[test]
fn one_vote_per_epoch_first_come_first_served() {
    let mut c = core();
    let (l, e) = c.vote_leader(0, "m", 1, A);
    assert_eq!((l.as_deref(), e), (Some(A), 1));
    let a = c.take_actions();
    assert!(events(&a).contains(&"+new-epoch 1".to_string()));
    assert!(events(&a).contains(&format!("+vote-for-leader {A} 1")));
    // Another candidate in the same epoch gets the existing vote.
    let (l, e) = c.vote_leader(0, "m", 1, B);
    assert_eq!((l.as_deref(), e), (Some(A), 1));
    assert!(events(&c.take_actions()).is_empty());
}

#[test]
fn epochs_from_the_future_are_adopted_and_older_requests_get_the_current_vote() {
    let mut c = core();
    let (l, e) = c.vote_leader(0, "m", 7, B);
    assert_eq!((l.as_deref(), e), (Some(B), 7));
    assert_eq!(c.current_epoch, 7);
    c.take_actions();
    // A request for an older epoch changes nothing.
    let (l, e) = c.vote_leader(0, "m", 3, A);
    assert_eq!((l.as_deref(), e), (Some(B), 7));
    assert_eq!(c.current_epoch, 7);
    assert!(events(&c.take_actions()).is_empty());
    // is-master-down-by-addr carries the vote.
    let (down, leader, epoch) = c.is_master_down_by_addr(0, &Addr::new("10.0.0.1", 6379), 8, C);
    assert!(!down);
    assert_eq!((leader.as_str(), epoch), (C, 8));
    let (_, leader, _) = c.is_master_down_by_addr(0, &Addr::new("10.9.9.9", 1), 9, C);
    assert_eq!(leader, "*");
}

#[test]
fn split_votes_elect_nobody() {
    let mut c = core();
    for (id, p) in [(A, 26380), (B, 26381), (C, 26382)] {
        add_sentinel(&mut c, id, p, 0);
    }
    c.current_epoch = 1;
    // Two for A, two for B (us included): 2 of 4 is no majority.
    let m = c.masters.get_mut("m").unwrap();
    for (id, v) in [(A, A), (B, B), (C, B)] {
        let s = m.sentinels.get_mut(id).unwrap();
        s.leader = Some(v.into());
        s.leader_epoch = 1;
    }
    m.sentinels.get_mut(C).unwrap().leader = Some(A.into());
    // Votes: A (from A, C) = 2, B (from B) = 1; we vote for the most voted: A → 3 of 4.
    assert_eq!(c.get_leader(0, "m", 1).as_deref(), Some(A));
    // A real split: our vote already went to B in this epoch.
    let mut c = core();
    for (id, p) in [(A, 26380), (B, 26381), (C, 26382)] {
        add_sentinel(&mut c, id, p, 0);
    }
    c.current_epoch = 1;
    c.vote_leader(0, "m", 1, B);
    let m = c.masters.get_mut("m").unwrap();
    for (id, v) in [(A, A), (B, B), (C, A)] {
        let s = m.sentinels.get_mut(id).unwrap();
        s.leader = Some(v.into());
        s.leader_epoch = 1;
    }
    assert_eq!(c.get_leader(0, "m", 1), None);
}

#[test]
fn replica_selection_order_and_exclusions() {
    let mut c = core();
    let mt = Target::Master("m".into());
    c.step(0, Input::Connected(mt.clone()));
    c.step(
        0,
        Input::InfoReply(
            mt,
            master_info(&[
                ("10.0.0.2", 6379),
                ("10.0.0.3", 6379),
                ("10.0.0.4", 6379),
                ("10.0.0.5", 6379),
            ]),
        ),
    );
    let cases = [
        ("10.0.0.2:6379", "2".repeat(40), 100, 50),
        ("10.0.0.3:6379", "4".repeat(40), 100, 90),
        ("10.0.0.4:6379", "3".repeat(40), 100, 90),
        ("10.0.0.5:6379", "1".repeat(40), 0, 1000),
    ];
    for (k, runid, prio, off) in &cases {
        let t = Target::Replica("m".into(), k.to_string());
        c.step(10, Input::Connected(t.clone()));
        c.step(10, Input::PingReply(t.clone(), "+PONG".into()));
        c.step(10, Input::InfoReply(t, replica_info(runid, *prio, *off)));
    }
    // Priority 0 is never chosen; equal priority: higher offset; equal offset: smaller runid.
    assert_eq!(c.select_replica(20, "m").as_deref(), Some("10.0.0.4:6379"));
    // A lower priority number wins over offsets.
    let t = Target::Replica("m".into(), "10.0.0.2:6379".into());
    c.step(
        20,
        Input::InfoReply(t, replica_info(&"2".repeat(40), 10, 50)),
    );
    assert_eq!(c.select_replica(30, "m").as_deref(), Some("10.0.0.2:6379"));
    // A disconnected one is excluded.
    c.step(
        30,
        Input::Disconnected(Target::Replica("m".into(), "10.0.0.2:6379".into())),
    );
    assert_eq!(c.select_replica(40, "m").as_deref(), Some("10.0.0.4:6379"));
}

#[test]
fn hellos_add_sentinels_and_newer_configs_switch_the_master() {
    let mut c = core();
    let a = c.step(
        0,
        Input::Hello(format!("10.0.0.7,26379,{A},3,m,10.0.0.1,6379,0")),
    );
    let ev = events(&a);
    assert!(
        ev.contains(&format!(
            "+sentinel sentinel {A} 10.0.0.7 26379 @ m 10.0.0.1 6379"
        )),
        "{ev:?}"
    );
    assert!(ev.contains(&"+new-epoch 3".to_string()));
    assert!(a.contains(&Action::Flush));
    // Our own hello is ignored; a malformed one too.
    assert!(c
        .step(
            0,
            Input::Hello(format!("10.0.0.9,26379,{ME},3,m,10.0.0.1,6379,0"))
        )
        .is_empty());
    assert!(c.step(0, Input::Hello("1,2,3".into())).is_empty());
    // A newer config epoch with another address: follow it.
    let a = c.step(
        10,
        Input::Hello(format!("10.0.0.7,26379,{A},3,m,10.0.0.2,6380,3")),
    );
    let ev = events(&a);
    assert!(
        ev.contains(&"+switch-master m 10.0.0.1 6379 10.0.0.2 6380".to_string()),
        "{ev:?}"
    );
    assert_eq!(c.masters["m"].inst.addr, Addr::new("10.0.0.2", 6380));
    assert!(c.masters["m"].replicas.contains_key("10.0.0.1:6379"));
    assert_eq!(c.masters["m"].config_epoch, 3);
}

/// A switch to a replica closes that replica's links (it is monitored as the master now,
/// on new links): no link of the old topology is left open, as Redis releases the old
/// instances. The other replicas get fresh links.
#[test]
fn a_switch_closes_the_promoted_replicas_links() {
    let mut c = core();
    c.step(0, Input::Connected(Target::Master("m".into())));
    c.step(
        0,
        Input::InfoReply(
            Target::Master("m".into()),
            master_info(&[("10.0.0.2", 6379), ("10.0.0.3", 6379)]),
        ),
    );
    assert_eq!(c.masters["m"].replicas.len(), 2);
    c.take_actions();
    c.switch_master(10, "m", Addr::new("10.0.0.2", 6379));
    let a = c.take_actions();
    let promoted = Target::Replica("m".into(), "10.0.0.2:6379".into());
    assert!(a.contains(&Action::Disconnect(promoted.clone())), "{a:?}");
    assert!(
        !a.iter()
            .any(|x| matches!(x, Action::Connect(t, _) if *t == promoted)),
        "{a:?}"
    );
    for k in ["10.0.0.1:6379", "10.0.0.3:6379"] {
        let t = Target::Replica("m".into(), k.into());
        assert!(a.contains(&Action::Disconnect(t.clone())), "{k}: {a:?}");
        assert!(
            a.iter()
                .any(|x| matches!(x, Action::Connect(u, _) if *u == t)),
            "{k}: {a:?}"
        );
    }
}

#[test]
fn tilt_when_the_timer_jumps() {
    let mut c = core();
    c.step(0, Input::Tick);
    let a = c.step(5000, Input::Tick);
    assert!(events(&a).contains(&"+tilt #tilt mode entered".to_string()));
    // In TILT, is-master-down-by-addr answers 0 even for a down master.
    c.masters.get_mut("m").unwrap().inst.sdown_since = Some(1);
    let (down, _, _) = c.is_master_down_by_addr(5000, &Addr::new("10.0.0.1", 6379), 0, "*");
    assert!(!down);
    let mut t = 5000;
    let mut exited = false;
    while t < 40_000 {
        t += 100;
        exited |= events(&c.step(t, Input::Tick)).contains(&"-tilt #tilt mode exited".to_string());
    }
    assert!(exited);
}

#[test]
fn the_whole_failover_as_actions() {
    let mut c = core();
    add_sentinel(&mut c, A, 26380, 0);
    let mt = Target::Master("m".into());
    c.step(0, Input::Connected(mt.clone()));
    c.step(
        0,
        Input::InfoReply(
            mt.clone(),
            master_info(&[("10.0.0.2", 6379), ("10.0.0.3", 6379)]),
        ),
    );
    let r2 = Target::Replica("m".into(), "10.0.0.2:6379".into());
    let r3 = Target::Replica("m".into(), "10.0.0.3:6379".into());
    let mut now = 0;
    let mut all = Vec::new();
    let step = |c: &mut Core, now: u64, i: Input, all: &mut Vec<Action>| {
        let a = c.step(now, i);
        all.extend(a.clone());
        a
    };
    for t in [&r2, &r3] {
        step(&mut c, 0, Input::Connected(t.clone()), &mut all);
    }
    // The master stops answering; the replicas answer; A agrees and votes for us.
    while now < 4000 {
        now += 100;
        for (t, id, off) in [(&r2, "2", 10), (&r3, "3", 20)] {
            step(
                &mut c,
                now,
                Input::PingReply(t.clone(), "+PONG".into()),
                &mut all,
            );
            step(
                &mut c,
                now,
                Input::InfoReply(t.clone(), replica_info(&id.repeat(40), 100, off)),
                &mut all,
            );
        }
        let a = step(&mut c, now, Input::Tick, &mut all);
        for x in &a {
            if let Action::AskMasterDown { epoch, runid, .. } = x {
                let leader = if runid == "*" {
                    "*".to_string()
                } else {
                    runid.clone()
                };
                step(
                    &mut c,
                    now,
                    Input::MasterDownReply {
                        from: Target::Sentinel("m".into(), A.into()),
                        down: true,
                        leader,
                        epoch: *epoch,
                    },
                    &mut all,
                );
            }
            if let Action::ReplicaOf(t, None) = x {
                assert_eq!(t, &r3, "the replica with the highest offset is promoted");
                // It reports master from now on.
                let info = format!("run_id:{}\r\nrole:master\r\n", "3".repeat(40));
                step(&mut c, now, Input::InfoReply(r3.clone(), info), &mut all);
            }
            if let Action::ReplicaOf(t, Some(to)) = x {
                assert_eq!(t, &r2);
                assert_eq!(to, &Addr::new("10.0.0.3", 6379));
                let info = format!("run_id:{}\r\nrole:slave\r\nmaster_host:10.0.0.3\r\nmaster_port:6379\r\nmaster_link_status:up\r\n", "2".repeat(40));
                step(
                    &mut c,
                    now + 50,
                    Input::InfoReply(r2.clone(), info),
                    &mut all,
                );
            }
        }
    }
    let ev: Vec<String> = events(&all)
        .iter()
        .map(|e| e.split(' ').next().unwrap().to_string())
        .collect();
    let mut it = ev.iter();
    for want in [
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
    ] {
        assert!(
            it.any(|e| e == want),
            "{want} missing or out of order: {ev:?}"
        );
    }
    assert_eq!(c.masters["m"].inst.addr, Addr::new("10.0.0.3", 6379));
    assert_eq!(c.masters["m"].config_epoch, 1);
    // The master was down: it was never asked to hand over.
    assert!(
        !all.iter().any(|a| matches!(a, Action::Switchover { .. })),
        "{all:?}"
    );
}

/// A core monitoring a reachable master with two replicas (offsets 10 and 20), all
/// answering; returns it with the replica targets.
pub(super) fn healthy(now: Ms) -> (Core, Target, Target, Target) {
    let mut c = core();
    let mt = Target::Master("m".into());
    c.step(now, Input::Connected(mt.clone()));
    c.step(
        now,
        Input::InfoReply(
            mt.clone(),
            master_info(&[("10.0.0.2", 6379), ("10.0.0.3", 6379)]),
        ),
    );
    let r2 = Target::Replica("m".into(), "10.0.0.2:6379".into());
    let r3 = Target::Replica("m".into(), "10.0.0.3:6379".into());
    for (t, id, off) in [(&r2, "2", 10), (&r3, "3", 20)] {
        c.step(now, Input::Connected(t.clone()));
        c.step(now, Input::PingReply(t.clone(), "+PONG".into()));
        c.step(
            now,
            Input::InfoReply(t.clone(), replica_info(&id.repeat(40), 100, off)),
        );
    }
    c.step(now, Input::PingReply(mt.clone(), "+PONG".into()));
    (c, mt, r2, r3)
}

/// Tick until an action matches.
pub(super) fn tick_until(c: &mut Core, now: &mut Ms, f: impl Fn(&Action) -> bool) -> Vec<Action> {
    let mut all = Vec::new();
    for _ in 0..100 {
        *now += 100;
        let a = c.step(*now, Input::Tick);
        let hit = a.iter().any(&f);
        all.extend(a);
        if hit {
            return all;
        }
    }
    panic!("no such action: {all:?}");
}

#[test]
fn manual_failover_of_a_reachable_master_hands_over_with_failover() {
    let mut now = 1000;
    let (mut c, mt, r2, r3) = healthy(now);
    c.force_failover(now, "m").unwrap();
    let a = tick_until(&mut c, &mut now, |a| matches!(a, Action::Switchover { .. }));
    assert!(
        !a.iter().any(|x| matches!(x, Action::ReplicaOf(_, None))),
        "no SLAVEOF NO ONE while the master hands over: {a:?}"
    );
    let Some(Action::Switchover {
        master,
        to,
        timeout_ms,
    }) = a.iter().find(|x| matches!(x, Action::Switchover { .. }))
    else {
        unreachable!()
    };
    assert_eq!(master, &mt);
    assert_eq!(
        to,
        &Addr::new("10.0.0.3", 6379),
        "the most up-to-date replica"
    );
    assert!((1000..=10_000).contains(timeout_ms));
    let ev = events(&a);
    assert!(ev
        .iter()
        .any(|e| e.starts_with("+failover-state-wait-promotion")));
    // The master accepts; the replica reports itself master.
    let a = c.step(
        now,
        Input::SwitchoverReply {
            master: "m".into(),
            result: Ok(()),
        },
    );
    assert!(a.contains(&Action::Info(r3.clone())), "{a:?}");
    let info = format!("run_id:{}\r\nrole:master\r\n", "3".repeat(40));
    let a = c.step(now, Input::InfoReply(r3.clone(), info));
    assert!(events(&a).iter().any(|e| e.starts_with("+promoted-slave")));
    // Both servers then get what Sentinel's promotion gives: CONFIG REWRITE and clients
    // dropped, the old master as a replica of the new one.
    assert!(a.contains(&Action::ReplicaOf(r3.clone(), None)), "{a:?}");
    assert!(
        a.contains(&Action::ReplicaOf(
            mt.clone(),
            Some(Addr::new("10.0.0.3", 6379))
        )),
        "{a:?}"
    );
    // The other replica is reconfigured as usual.
    let a = tick_until(
        &mut c,
        &mut now,
        |a| matches!(a, Action::ReplicaOf(t, Some(_)) if *t == r2),
    );
    assert!(events(&a)
        .iter()
        .any(|e| e.starts_with("+slave-reconf-sent")));
}

#[test]
fn a_master_refusing_failover_gets_the_classic_promotion() {
    let mut now = 1000;
    let (mut c, _mt, _r2, r3) = healthy(now);
    c.force_failover(now, "m").unwrap();
    tick_until(&mut c, &mut now, |a| matches!(a, Action::Switchover { .. }));
    let a = c.step(
        now,
        Input::SwitchoverReply {
            master: "m".into(),
            result: Err("-ERR unknown command 'FAILOVER'".into()),
        },
    );
    assert!(a.contains(&Action::ReplicaOf(r3.clone(), None)), "{a:?}");
    // A late second answer changes nothing.
    let a = c.step(
        now,
        Input::SwitchoverReply {
            master: "m".into(),
            result: Err("-ERR again".into()),
        },
    );
    assert!(a.is_empty(), "{a:?}");
    let info = format!("run_id:{}\r\nrole:master\r\n", "3".repeat(40));
    let a = c.step(now, Input::InfoReply(r3.clone(), info));
    assert!(events(&a).iter().any(|e| e.starts_with("+promoted-slave")));
    assert!(
        !a.iter().any(|x| matches!(x, Action::ReplicaOf(..))),
        "the classic path already reconfigured it: {a:?}"
    );
}

#[test]
fn a_master_is_asked_for_info_every_second_until_its_replicas_settle() {
    let mut c = core();
    let mt = Target::Master("m".into());
    c.step(0, Input::Connected(mt.clone()));
    c.step(0, Input::PingReply(mt.clone(), "+PONG".into()));
    // Tick every 100 ms from `from` to `to`, answering each INFO with `replicas`; the
    // number of INFOs asked.
    let run = |c: &mut Core, from: Ms, to: Ms, replicas: &[(&str, u16)]| {
        let mut asked = 0;
        for now in (from..to).step_by(100) {
            let a = c.step(now, Input::Tick);
            if a.contains(&Action::Info(mt.clone())) {
                asked += 1;
                c.step(now, Input::InfoReply(mt.clone(), master_info(replicas)));
            }
        }
        asked
    };
    // No replica known: every second.
    let n = run(&mut c, 0, 5_000, &[]);
    assert!((4..=6).contains(&n), "{n} INFOs in 5 s");
    // A first replica, then a second one 3 s later: still every second meanwhile, and for a
    // period after the last new one.
    let n = run(&mut c, 5_000, 8_000, &[("10.0.0.2", 6379)]);
    assert!((2..=4).contains(&n), "{n} INFOs in 3 s");
    let two = [("10.0.0.2", 6379), ("10.0.0.3", 6379)];
    let n = run(&mut c, 8_000, 17_000, &two);
    assert!(n >= 8, "{n} INFOs in the 9 s after the last new replica");
    assert_eq!(c.masters["m"].replicas.len(), 2);
    // Settled: Redis's 10 s period.
    let n = run(&mut c, 19_000, 39_000, &two);
    assert!((1..=2).contains(&n), "{n} INFOs in 20 s once settled");
}

#[test]
fn a_replica_following_another_master_is_repointed_after_failover_timeout() {
    let now = 1000;
    let (mut c, mt, r2, _r3) = healthy(now);
    c.masters.get_mut("m").unwrap().failover_timeout = 3000;
    let elsewhere = |id: &str| {
        format!("run_id:{}\r\nrole:slave\r\nmaster_host:10.0.0.7\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_priority:100\r\nslave_repl_offset:10\r\n", id.repeat(40))
    };
    // It just moved: not yet.
    let a = c.step(now, Input::InfoReply(r2.clone(), elsewhere("2")));
    assert!(events(&a).is_empty(), "{a:?}");
    c.step(now + 2000, Input::PingReply(mt.clone(), "+PONG".into()));
    let a = c.step(now + 2000, Input::InfoReply(r2.clone(), elsewhere("2")));
    assert!(events(&a).is_empty(), "{a:?}");
    // Following the other master for longer than failover-timeout: repointed, once.
    let t = now + 3100;
    c.step(t, Input::PingReply(mt.clone(), "+PONG".into()));
    c.step(
        t,
        Input::InfoReply(
            mt.clone(),
            master_info(&[("10.0.0.2", 6379), ("10.0.0.3", 6379)]),
        ),
    );
    let a = c.step(t, Input::InfoReply(r2.clone(), elsewhere("2")));
    assert_eq!(
        events(&a),
        vec!["+fix-slave-config slave 10.0.0.2:6379 10.0.0.2 6379 @ m 10.0.0.1 6379"]
    );
    assert!(
        a.contains(&Action::ReplicaOf(
            r2.clone(),
            Some(Addr::new("10.0.0.1", 6379))
        )),
        "{a:?}"
    );
    let a = c.step(t + 100, Input::InfoReply(r2.clone(), elsewhere("2")));
    assert!(events(&a).is_empty(), "{a:?}");
}
