//! Strict failover safety: the leader's fencing round, as exact inputs and actions.

use super::tests::{events, healthy, master_info, tick_until};
use super::*;

const HISTORY: &str = "abcabcabcabcabcabcabcabcabcabcabcabcabca";

/// A strict master's INFO (W = 1, lease 500 ms) with the two replicas of `healthy`.
fn strict_master_info(lease_lost_ms: u64) -> String {
    let lease = if lease_lost_ms == 0 { "held" } else { "lost" };
    format!(
        "{}master_replid:{HISTORY}\r\nfailover_safety:strict\r\nfailover_epoch:0\r\n\
         failover_min_acks:1\r\nfailover_lease_ms:500\r\nfailover_lease:{lease}\r\n\
         failover_lease_lost_ms:{lease_lost_ms}\r\n",
        master_info(&[("10.0.0.2", 6379), ("10.0.0.3", 6379)])
    )
}

/// `healthy` with a strict master.
fn strict(now: Ms) -> (Core, Target, Target, Target) {
    let (mut c, mt, r2, r3) = healthy(now);
    c.step(now, Input::InfoReply(mt.clone(), strict_master_info(0)));
    assert_eq!(
        c.masters["m"].safety,
        Some(StrictSafety {
            min_acks: 1,
            lease_ms: 500
        })
    );
    (c, mt, r2, r3)
}

fn fenced(epoch: u64, replid: &str, offset: u64) -> Result<FenceReport, String> {
    Ok(FenceReport {
        role: Role::Slave,
        epoch,
        replid: replid.into(),
        offset,
    })
}

fn fences(a: &[Action]) -> Vec<(Target, u64)> {
    a.iter()
        .filter_map(|x| match x {
            Action::Fence(t, e) => Some((t.clone(), *e)),
            _ => None,
        })
        .collect()
}

fn promotions(a: &[Action]) -> Vec<Target> {
    a.iter()
        .filter_map(|x| match x {
            Action::ReplicaOf(t, None) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn fences_needed_is_n_minus_w_plus_one() {
    assert_eq!(fences_needed(2, 1), 2);
    assert_eq!(fences_needed(2, 2), 1);
    assert_eq!(fences_needed(4, 2), 3);
    assert_eq!(fences_needed(1, 1), 1);
    // W above n: nothing was ever acknowledged; one fenced replica still has to exist.
    assert_eq!(fences_needed(1, 3), 1);
    assert_eq!(fences_needed(0, 1), 1);
}

#[test]
fn the_leader_fences_every_replica_waits_a_lease_and_promotes_the_most_advanced_fenced() {
    let mut now = 1000;
    let (mut c, _mt, r2, r3) = strict(now);
    c.force_failover(now, "m").unwrap();
    let a = tick_until(&mut c, &mut now, |a| matches!(a, Action::Fence(..)));
    assert_eq!(fences(&a), vec![(r2.clone(), 1), (r3.clone(), 1)]);
    assert!(
        !a.iter().any(|x| matches!(x, Action::Switchover { .. })),
        "a strict failover never hands over with FAILOVER: {a:?}"
    );
    // r2 answers: one of two fenced, the leader waits.
    let a = c.step(
        now,
        Input::FenceReply {
            target: r2.clone(),
            epoch: 1,
            result: fenced(1, HISTORY, 30),
        },
    );
    assert_eq!(
        events(&a),
        vec![
            "+slave-fenced slave 10.0.0.2:6379 10.0.0.2 6379 @ m 10.0.0.1 6379 #epoch 1 offset 30"
        ]
    );
    now += 100;
    let a = c.step(now, Input::Tick);
    assert_eq!(
        events(&a),
        vec![
            "+failover-wait-fence master m 10.0.0.1 6379 #fenced 1/2 waiting for replicas to fence"
        ]
    );
    assert!(promotions(&a).is_empty());
    // Fences are sent again to the replica that did not answer, once a second.
    let a = tick_until(&mut c, &mut now, |a| matches!(a, Action::Fence(..)));
    assert_eq!(fences(&a), vec![(r3.clone(), 1)]);
    // r3 answers; its INFO said 20 > 10, but the fence says r2 is ahead: r2 it is.
    c.step(
        now,
        Input::FenceReply {
            target: r3.clone(),
            epoch: 1,
            result: fenced(1, HISTORY, 25),
        },
    );
    now += 100;
    let a = c.step(now, Input::Tick);
    assert_eq!(
        events(&a),
        vec!["+failover-wait-fence master m 10.0.0.1 6379 #fenced 2/2 waiting for the old master's lease to end"]
    );
    let fenced_at = now;
    let a = tick_until(&mut c, &mut now, |a| {
        matches!(a, Action::ReplicaOf(_, None))
    });
    assert!(now - fenced_at >= 500, "one lease after the fences");
    assert_eq!(promotions(&a), vec![r2.clone()]);
    let ev = events(&a);
    assert!(
        ev.iter()
            .any(|e| e.starts_with("+selected-slave slave 10.0.0.2:6379")),
        "{ev:?}"
    );
}

#[test]
fn replies_of_another_epoch_or_errors_do_not_count() {
    let mut now = 1000;
    let (mut c, _mt, r2, r3) = strict(now);
    c.force_failover(now, "m").unwrap();
    tick_until(&mut c, &mut now, |a| matches!(a, Action::Fence(..)));
    // A late answer to an older round, an answer at another epoch, a refusal.
    let a = c.step(
        now,
        Input::FenceReply {
            target: r2.clone(),
            epoch: 0,
            result: fenced(0, HISTORY, 30),
        },
    );
    assert!(events(&a).is_empty());
    let a = c.step(
        now,
        Input::FenceReply {
            target: r2.clone(),
            epoch: 1,
            result: fenced(2, HISTORY, 30),
        },
    );
    assert!(events(&a).is_empty(), "{a:?}");
    let a = c.step(
        now,
        Input::FenceReply {
            target: r3.clone(),
            epoch: 1,
            result: Err("-ERR fence epoch 1 is older than this server's failover epoch 4".into()),
        },
    );
    assert!(
        a.iter().any(
            |x| matches!(x, Action::Log(Level::Warning, m) if m.contains("refused the fence"))
        ),
        "{a:?}"
    );
    assert!(c.masters["m"].fence.as_ref().unwrap().fenced.is_empty());
}

#[test]
fn too_few_fences_wait_then_abort_at_failover_timeout() {
    let mut now = 1000;
    let (mut c, _mt, r2, _r3) = strict(now);
    c.masters.get_mut("m").unwrap().failover_timeout = 3000;
    c.force_failover(now, "m").unwrap();
    tick_until(&mut c, &mut now, |a| matches!(a, Action::Fence(..)));
    c.step(
        now,
        Input::FenceReply {
            target: r2.clone(),
            epoch: 1,
            result: fenced(1, HISTORY, 30),
        },
    );
    let a = tick_until(&mut c, &mut now, |a| {
        matches!(a, Action::Event(Event::FailoverAbortNoGoodSlave(_)))
    });
    assert!(promotions(&a).is_empty(), "{a:?}");
    assert!(c.masters["m"].fence.is_none());
    assert_eq!(c.masters["m"].failover_state, FailoverState::None);
}

#[test]
fn only_the_master_s_history_counts_and_the_best_must_be_promotable() {
    let mut now = 1000;
    let (mut c, _mt, r2, r3) = strict(now);
    c.force_failover(now, "m").unwrap();
    tick_until(&mut c, &mut now, |a| matches!(a, Action::Fence(..)));
    // r3 is far ahead on another history (it never synced with this master): r2 is
    // the one that holds this master's writes.
    for (t, id, off) in [(&r2, HISTORY, 30), (&r3, "another", 900)] {
        c.step(
            now,
            Input::FenceReply {
                target: t.clone(),
                epoch: 1,
                result: fenced(1, id, off),
            },
        );
    }
    assert_eq!(c.select_fenced("m").as_deref(), Some("10.0.0.2:6379"));
    // With priority 0 the best may not be promoted, and no other is as advanced.
    c.masters
        .get_mut("m")
        .unwrap()
        .replicas
        .get_mut("10.0.0.2:6379")
        .unwrap()
        .priority = 0;
    assert_eq!(c.select_fenced("m"), None);
    let a = tick_until(
        &mut c,
        &mut now,
        |a| matches!(a, Action::Event(Event::FailoverWaitFence { why, .. }) if why.starts_with("no fenced")),
    );
    assert!(promotions(&a).is_empty());
}

#[test]
fn a_strict_master_without_its_lease_for_long_is_subjectively_down() {
    let now = 1000;
    let (mut c, mt, _r2, _r3) = strict(now);
    // down-after 1000 + failover-timeout: lost for 1 s is not down yet.
    c.masters.get_mut("m").unwrap().failover_timeout = 4000;
    let a = c.step(now, Input::InfoReply(mt.clone(), strict_master_info(1000)));
    assert!(events(&a).is_empty());
    assert_eq!(c.masters["m"].lease_lost, Some((now, 1000)));
    let mut t = now;
    let mut down_at = None;
    while t < now + 6000 {
        t += 100;
        c.step(t, Input::PingReply(mt.clone(), "+PONG".into()));
        let a = c.step(t, Input::Tick);
        if events(&a).iter().any(|e| e.starts_with("+sdown master m")) {
            down_at = Some(t);
            break;
        }
    }
    // 1000 ms lost when told + 4000 ms more > 5000 ms.
    assert_eq!(down_at, Some(now + 4100));
    // The lease back: the master is up again.
    let a = c.step(t, Input::InfoReply(mt.clone(), strict_master_info(0)));
    assert!(c.masters["m"].lease_lost.is_none(), "{a:?}");
    let a = c.step(t + 100, Input::Tick);
    assert!(
        events(&a).iter().any(|e| e.starts_with("-sdown master m")),
        "{a:?}"
    );
}

#[test]
fn a_classic_master_is_never_fenced() {
    let mut now = 1000;
    let (mut c, _mt, _r2, _r3) = healthy(now);
    assert_eq!(c.masters["m"].safety, None);
    c.force_failover(now, "m").unwrap();
    let a = tick_until(&mut c, &mut now, |a| matches!(a, Action::Switchover { .. }));
    assert!(fences(&a).is_empty());
}

#[test]
fn replicas_fenced_by_an_unfinished_failover_rejoin_a_healthy_master() {
    let now = 1000;
    let (mut c, mt, r2, _r3) = strict(now);
    c.masters.get_mut("m").unwrap().failover_timeout = 3000;
    // r2 was fenced at epoch 3 by a failover that never promoted; it follows the master
    // but refuses its stream (the master's epoch is 0).
    let fenced_info = |down_s: u64| {
        format!(
            "run_id:{}\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\n\
             master_link_status:down\r\nmaster_link_down_since_seconds:{down_s}\r\n\
             slave_priority:100\r\nslave_repl_offset:10\r\nfailover_safety:strict\r\n\
             failover_epoch:3\r\n",
            "2".repeat(40)
        )
    };
    // Cut off for 5 s: within failover-timeout + one INFO period, its leader may still act.
    c.step(now, Input::InfoReply(r2.clone(), fenced_info(5)));
    c.step(now, Input::PingReply(mt.clone(), "+PONG".into()));
    let a = c.step(now + 100, Input::Tick);
    assert!(!a.iter().any(|x| matches!(x, Action::Fence(..))), "{a:?}");
    // Cut off for 20 s: the master's epoch is raised to 3, once.
    c.step(now + 200, Input::InfoReply(r2.clone(), fenced_info(20)));
    let a = c.step(now + 300, Input::Tick);
    assert_eq!(fences(&a), vec![(mt.clone(), 3)]);
    let a = c.step(now + 400, Input::Tick);
    assert!(fences(&a).is_empty(), "{a:?}");
    // Not while the master is in trouble.
    let (mut c, mt, r2, _r3) = strict(now);
    c.masters.get_mut("m").unwrap().failover_timeout = 3000;
    c.step(now, Input::InfoReply(r2.clone(), fenced_info(20)));
    c.step(now, Input::Disconnected(mt.clone()));
    let a = c.step(now + 100, Input::Tick);
    assert!(fences(&a).is_empty(), "{a:?}");
}
