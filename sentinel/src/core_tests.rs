//! Unit tests of the core: pure inputs → actions.

use super::*;

const ME: &str = "1111111111111111111111111111111111111111";
const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

fn core() -> Core {
    let mut c = Core::new(ME.into(), picket_common::ids::seeded(1));
    c.announce_ip = "10.0.0.9".into();
    let m = c.monitor("m", Addr::new("10.0.0.1", 6379), 2, 0);
    m.down_after = 1000;
    c.take_actions();
    c
}

fn events(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some(format!("{} {e}", e.kind())),
            _ => None,
        })
        .collect()
}

fn add_sentinel(c: &mut Core, id: &str, port: u16, now: Ms) {
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

fn master_info(replicas: &[(&str, u16)]) -> String {
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

fn replica_info(runid: &str, priority: i64, offset: u64) -> String {
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
fn a_slow_write_of_its_own_state_is_not_a_tilt() {
    let mut c = core();
    c.step(0, Input::Tick);
    // 5 s late, of which 4.5 s writing the state file: 500 ms unexplained, no TILT.
    c.persist_pause_ms = 4500;
    let a = c.step(5000, Input::Tick);
    assert!(!events(&a).iter().any(|e| e.starts_with("+tilt")), "{a:?}");
    assert!(c.tilt_since.is_none());
    // The excuse is used once: the next late tick without a write is a TILT.
    let a = c.step(8000, Input::Tick);
    assert!(events(&a).contains(&"+tilt #tilt mode entered".to_string()));
    // A clock that goes back is a TILT whatever was written.
    let mut c = core();
    c.step(5000, Input::Tick);
    c.persist_pause_ms = 10_000;
    let a = c.step(4000, Input::Tick);
    assert!(events(&a).contains(&"+tilt #tilt mode entered".to_string()));
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
fn healthy(now: Ms) -> (Core, Target, Target, Target) {
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
fn tick_until(c: &mut Core, now: &mut Ms, f: impl Fn(&Action) -> bool) -> Vec<Action> {
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

fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log(_, msg) => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn hellos_naming_hosts_are_ignored_unless_resolve_hostnames() {
    let mut c = core();
    assert!(!c.resolve_hostnames);
    // The sentinel's address is a name: no sentinel, logged as Redis does; the current
    // epoch still counts (Redis adopts it before looking at the sentinel).
    let a = c.step(
        0,
        Input::Hello(format!("sentinel-a.example,26379,{A},2,m,10.0.0.1,6379,0")),
    );
    assert!(c.masters["m"].sentinels.is_empty(), "{a:?}");
    assert!(
        !events(&a).iter().any(|e| e.starts_with("+sentinel")),
        "{a:?}"
    );
    assert!(!a.iter().any(|x| matches!(x, Action::Connect(..))), "{a:?}");
    assert!(logs(&a).contains(&"Failed to resolve hostname 'sentinel-a.example'".to_string()));
    assert_eq!(c.current_epoch, 2);
    // A known sentinel (by IP) announcing a newer configuration whose master is a name:
    // neither the address nor the config epoch is taken.
    c.step(
        0,
        Input::Hello(format!("10.0.0.7,26379,{A},2,m,10.0.0.1,6379,0")),
    );
    assert!(c.masters["m"].sentinels.contains_key(A));
    let a = c.step(
        10,
        Input::Hello(format!("10.0.0.7,26379,{A},3,m,node2,6379,3")),
    );
    assert!(
        !events(&a).iter().any(|e| e.starts_with("+switch-master")),
        "{a:?}"
    );
    assert!(logs(&a).contains(&"Failed to resolve hostname 'node2'".to_string()));
    assert_eq!(c.masters["m"].inst.addr, Addr::new("10.0.0.1", 6379));
    assert_eq!(c.masters["m"].config_epoch, 0);
    // The same configuration announced with an IP is still taken.
    let a = c.step(
        20,
        Input::Hello(format!("10.0.0.7,26379,{A},3,m,10.0.0.2,6379,3")),
    );
    assert!(
        events(&a).contains(&"+switch-master m 10.0.0.1 6379 10.0.0.2 6379".to_string()),
        "{a:?}"
    );
    // Replicas listed by name in a master's INFO are not added either; IPs are.
    let mt = Target::Master("m".into());
    let a = c.step(
        30,
        Input::InfoReply(mt, master_info(&[("replica-x", 6379), ("10.0.0.3", 6379)])),
    );
    let m = &c.masters["m"];
    assert!(m.replicas.contains_key("10.0.0.3:6379"), "{a:?}");
    assert!(!m.replicas.contains_key("replica-x:6379"), "{a:?}");
    assert!(logs(&a).contains(&"Failed to resolve hostname 'replica-x'".to_string()));
    // IS-MASTER-DOWN-BY-ADDR naming a host matches no master.
    c.monitor("h", Addr::new("10.0.0.50", 6379), 1, 30);
    let (_, leader, epoch) = c.is_master_down_by_addr(30, &Addr::new("localhost", 6379), 9, B);
    assert_eq!((leader.as_str(), epoch), ("*", 0));
    assert_eq!(c.current_epoch, 3);

    // With resolve-hostnames yes names are kept as they are (the shell resolves them).
    let mut c = core();
    c.resolve_hostnames = true;
    let a = c.step(
        0,
        Input::Hello(format!("sentinel-a,26379,{A},0,m,10.0.0.1,6379,0")),
    );
    assert!(
        events(&a).contains(&format!(
            "+sentinel sentinel {A} sentinel-a 26379 @ m 10.0.0.1 6379"
        )),
        "{a:?}"
    );
    let a = c.step(
        10,
        Input::Hello(format!("sentinel-a,26379,{A},1,m,node2,6379,1")),
    );
    assert!(
        events(&a).contains(&"+switch-master m 10.0.0.1 6379 node2 6379".to_string()),
        "{a:?}"
    );
    let a = c.step(
        20,
        Input::InfoReply(Target::Master("m".into()), master_info(&[("node3", 6379)])),
    );
    assert!(c.masters["m"].replicas.contains_key("node3:6379"), "{a:?}");
}

#[test]
fn hellos_with_insane_epochs_are_ignored() {
    for (epoch, config_epoch) in [
        ("18446744073709551615", "0"),
        ("9223372036854775808", "0"),
        ("0", "18446744073709551615"),
        ("0", "9223372036854775808"),
        ("-1", "0"),
        ("1", "x"),
    ] {
        let mut c = core();
        let a = c.step(
            0,
            Input::Hello(format!(
                "10.0.0.7,26379,{A},{epoch},m,10.0.0.2,6380,{config_epoch}"
            )),
        );
        assert!(events(&a).is_empty(), "{epoch} {config_epoch}: {a:?}");
        assert!(!a.contains(&Action::Flush), "{a:?}");
        assert!(c.masters["m"].sentinels.is_empty());
        assert_eq!(c.current_epoch, 0);
        assert_eq!(c.masters["m"].config_epoch, 0);
        assert_eq!(c.masters["m"].inst.addr, Addr::new("10.0.0.1", 6379));
    }
    // The largest sane epoch is taken; a failover then cannot start (no wrap to 0) and
    // SENTINEL FAILOVER says why.
    let mut c = core();
    let max = i64::MAX.to_string();
    let a = c.step(
        0,
        Input::Hello(format!("10.0.0.7,26379,{A},{max},m,10.0.0.1,6379,0")),
    );
    assert!(events(&a).contains(&format!("+new-epoch {max}")), "{a:?}");
    assert_eq!(c.current_epoch, MAX_EPOCH);
    let mt = Target::Master("m".into());
    c.step(0, Input::Connected(mt.clone()));
    c.step(
        0,
        Input::InfoReply(mt.clone(), master_info(&[("10.0.0.2", 6379)])),
    );
    let rt = Target::Replica("m".into(), "10.0.0.2:6379".into());
    c.step(0, Input::Connected(rt.clone()));
    c.step(0, Input::PingReply(rt.clone(), "+PONG".into()));
    c.step(
        0,
        Input::InfoReply(rt, replica_info(&"2".repeat(40), 100, 10)),
    );
    assert!(c.force_failover(10, "m").is_err());
    assert_eq!(c.current_epoch, MAX_EPOCH);
    assert!(!c.masters["m"].in_failover());
    let a = c.take_actions();
    assert!(
        logs(&a)
            .iter()
            .any(|l| l.contains("largest an epoch can be")),
        "{a:?}"
    );
}

#[test]
fn epochs_parse_as_redis_getlonglong_below_2_pow_63() {
    assert_eq!(parse_epoch("0"), Some(0));
    assert_eq!(parse_epoch("9223372036854775807"), Some(MAX_EPOCH));
    for bad in [
        "9223372036854775808",
        "18446744073709551615",
        "-1",
        "+1",
        "01",
        " 1",
        "",
        "1x",
    ] {
        assert_eq!(parse_epoch(bad), None, "{bad}");
    }
}

/// A hello from sentinel number `i` (distinct run id and address).
fn hello_of(i: u32, epoch: u64) -> String {
    format!(
        "10.1.{}.{},26379,{:040x},{epoch},m,10.0.0.1,6379,0",
        i >> 8,
        i & 0xff,
        i + 1
    )
}

#[test]
fn hellos_make_at_most_max_sentinels_known_evicting_the_least_recently_heard() {
    let mut c = core();
    c.max_sentinels = 3;
    // Sentinels 0, 1, 2 heard at 0, 10, 20.
    for i in 0..3 {
        c.step(u64::from(i) * 10, Input::Hello(hello_of(i, 0)));
    }
    // 0 speaks again at 30: now 1 (last hello at 10) is the stalest.
    c.step(30, Input::Hello(hello_of(0, 0)));
    let a = c.step(40, Input::Hello(hello_of(3, 0)));
    let ev = events(&a);
    let id = |i: u32| format!("{:040x}", i + 1);
    assert_eq!(
        ev,
        vec![
            format!(
                "-sentinel sentinel {} 10.1.0.1 26379 @ m 10.0.0.1 6379",
                id(1)
            ),
            format!(
                "+sentinel sentinel {} 10.1.0.3 26379 @ m 10.0.0.1 6379",
                id(3)
            ),
        ],
        "{a:?}"
    );
    assert!(a.contains(&Action::Disconnect(Target::Sentinel("m".into(), id(1)))));
    assert!(logs(&a)
        .iter()
        .any(|l| l.contains("max-sentinels-per-master 3")
            && l.contains(&id(1))
            && l.contains("last hello 30 ms ago")));
    let known: Vec<&String> = c.masters["m"].sentinels.keys().collect();
    assert_eq!(known, vec![&id(0), &id(2), &id(3)]);
    // A known sentinel speaking again evicts nobody.
    let a = c.step(50, Input::Hello(hello_of(2, 0)));
    assert!(events(&a).is_empty(), "{a:?}");
    // A sentinel never heard from (a known-sentinel line) goes before any heard one.
    let mut never = Instance::new(id(9), Addr::new("10.1.0.9", 26379), 0);
    never.runid = Some(id(9));
    let m = c.masters.get_mut("m").unwrap();
    m.sentinels.remove(&id(3));
    m.sentinels.insert(id(9), never);
    let a = c.step(60, Input::Hello(hello_of(4, 0)));
    assert!(
        events(&a)[0].starts_with(&format!("-sentinel sentinel {}", id(9))),
        "{a:?}"
    );
    assert!(logs(&a).iter().any(|l| l.contains("never heard from")));

    // 10,000 run ids: never more than the bound, and the newest stay.
    let mut c = core();
    for i in 0..10_000u32 {
        c.step(u64::from(i), Input::Hello(hello_of(i, 0)));
        assert!(c.masters["m"].sentinels.len() <= DEFAULT_MAX_SENTINELS);
    }
    let m = &c.masters["m"];
    assert_eq!(m.sentinels.len(), DEFAULT_MAX_SENTINELS);
    assert!((10_000 - 64..10_000).all(|i| m.sentinels.contains_key(&id(i))));
}
