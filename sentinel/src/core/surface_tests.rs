//! Core decisions behind the command surface: a new link is no answer (SENTINEL SET
//! auth-pass relinks), `replica_announced` as Redis reads it, and SENTINEL DEBUG timers up
//! to 2^63-1.

use super::*;

const ME: &str = "1111111111111111111111111111111111111111";

fn core() -> Core {
    let mut c = Core::new(ME.into(), picket_common::ids::seeded(1));
    // Quorum 2 with no other sentinel: SDOWN never becomes ODOWN (no failover here).
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

/// Ticks every 100 ms over (from, to]; every action.
fn ticks(c: &mut Core, from: Ms, to: Ms) -> Vec<Action> {
    let mut all = Vec::new();
    let mut now = from;
    while now < to {
        now += 100;
        all.extend(c.step(now, Input::Tick));
    }
    all
}

#[test]
fn a_new_link_does_not_clear_sdown_only_a_valid_reply_does() {
    // A master that wants a password we do not have: every PING gets -NOAUTH.
    let mut c = core();
    let t = Target::Master("m".into());
    c.step(0, Input::Connected(t.clone()));
    c.step(
        5,
        Input::PingReply(t.clone(), "-NOAUTH Authentication required.".into()),
    );
    let a = ticks(&mut c, 0, 1200);
    assert_eq!(events(&a), ["+sdown master m 10.0.0.1 6379"]);
    // SENTINEL SET auth-pass (a wrong one): the links are dropped and opened again. The
    // new link is no answer: the master stays down, no -sdown/+sdown flapping.
    c.step(1250, Input::Disconnected(t.clone()));
    c.step(1300, Input::Connected(t.clone()));
    c.step(
        1310,
        Input::PingReply(t.clone(), "-WRONGPASS invalid".into()),
    );
    let a = ticks(&mut c, 1200, 3000);
    assert!(
        !events(&a).iter().any(|e| e.contains("sdown")),
        "{:?}",
        events(&a)
    );
    assert!(c.masters["m"].inst.sdown_since.is_some());
    // The right password: the first PONG brings it back.
    c.step(3050, Input::Disconnected(t.clone()));
    c.step(3100, Input::Connected(t.clone()));
    c.step(3110, Input::PingReply(t, "+PONG".into()));
    let a = ticks(&mut c, 3000, 3200);
    assert_eq!(events(&a), ["-sdown master m 10.0.0.1 6379"]);
}

#[test]
fn a_pending_ping_stays_pending_across_reconnections() {
    // A server that accepts the link and drops it before answering, again and again: it
    // is down after down-after, as in Redis (the first unanswered PING counts).
    let mut c = core();
    let t = Target::Master("m".into());
    let mut all = Vec::new();
    let mut now = 0;
    while now < 1500 {
        all.extend(c.step(now, Input::Connected(t.clone())));
        all.extend(c.step(now + 20, Input::Disconnected(t.clone())));
        all.extend(ticks(&mut c, now, now + 100));
        now += 100;
    }
    assert!(
        events(&all).contains(&"+sdown master m 10.0.0.1 6379".to_string()),
        "{:?}",
        events(&all)
    );
}

#[test]
fn replica_announced_is_read_as_redis_atoi_reads_it() {
    for (v, announced) in [
        ("1", true),
        ("0", false),
        ("00", false),
        (" 1", true),
        ("2", true),
        ("yes", false),
        ("", false),
        ("-1", true),
    ] {
        let f = parse_info(&format!("role:slave\r\nreplica_announced:{v}\r\n"));
        assert_eq!(f.announced, announced, "{v:?}");
    }
    // Absent (an older server): announced.
    assert!(parse_info("role:slave\r\n").announced);
}

#[test]
fn timers_up_to_the_largest_debug_value_never_overflow() {
    // SENTINEL DEBUG accepts up to 2^63-1 for every timer: a whole monitoring and failover
    // cycle runs (in debug builds, an overflow would panic).
    let mut c = core();
    let big = i64::MAX as u64;
    for name in Timers::NAMES {
        *c.timers.get_mut(name).expect("a timer") = big;
    }
    let mt = Target::Master("m".into());
    c.step(0, Input::Connected(mt.clone()));
    let info = format!(
        "run_id:{}\r\nrole:master\r\nslave0:ip=10.0.0.2,port=6379,state=online,offset=1,lag=0\r\n",
        "9".repeat(40)
    );
    c.step(1, Input::InfoReply(mt.clone(), info));
    let rt = Target::Replica("m".into(), "10.0.0.2:6379".into());
    c.step(2, Input::Connected(rt.clone()));
    c.step(3, Input::PingReply(rt.clone(), "+PONG".into()));
    c.step(
        4,
        Input::InfoReply(
            rt.clone(),
            format!(
                "run_id:{}\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_priority:100\r\nslave_repl_offset:5\r\n",
                "8".repeat(40)
            ),
        ),
    );
    for now in [100, 1_000, 1_000_000, big / 2, big] {
        c.step(now, Input::PingReply(rt.clone(), "+PONG".into()));
        c.step(now, Input::Tick);
    }
    assert!(c.select_replica(big, "m").is_some() || c.masters["m"].in_failover());
    // A manual failover goes through every state with the huge timers.
    let _ = c.force_failover(big, "m");
    for now in [big, big] {
        c.step(now, Input::Tick);
    }
}

// ------------------------------------------------------------ SENTINEL DEBUG's effects

const PEER: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A master with one replica and one other sentinel, all linked; `set` changes the timers
/// first (as SENTINEL DEBUG would). The replica was learned at 0.
fn deployment(set: &[(&str, Ms)], down_after: Ms) -> Core {
    let mut c = Core::new(ME.into(), picket_common::ids::seeded(7));
    c.announce_ip = "10.0.0.9".into();
    for (name, v) in set {
        *c.timers.get_mut(name).expect("a timer") = *v;
    }
    let m = c.monitor("m", Addr::new("10.0.0.1", 6379), 1, 0);
    m.down_after = down_after;
    c.take_actions();
    let mt = Target::Master("m".into());
    c.step(0, Input::Connected(mt.clone()));
    c.step(0, Input::InfoReply(mt, master_info()));
    c.step(0, Input::Connected(replica()));
    c.step(
        0,
        Input::Hello(format!("10.0.0.8,26379,{PEER},0,m,10.0.0.1,6379,0")),
    );
    c.step(0, Input::Connected(peer()));
    c
}

fn master_info() -> String {
    format!(
        "run_id:{}\r\nrole:master\r\nslave0:ip=10.0.0.2,port=6379,state=online,offset=1,lag=0\r\n",
        "9".repeat(40)
    )
}

fn replica() -> Target {
    Target::Replica("m".into(), "10.0.0.2:6379".into())
}

fn peer() -> Target {
    Target::Sentinel("m".into(), PEER.into())
}

/// Ticks every 100 ms over (from, to], every instance answering at once (the master only
/// when `master_up`); the actions.
fn run(c: &mut Core, from: Ms, to: Ms, master_up: bool) -> Vec<Action> {
    let mut all = Vec::new();
    let mut now = from;
    while now < to {
        now += 100;
        let mut pending = c.step(now, Input::Tick);
        while let Some(a) = pending.pop() {
            let reply = match &a {
                Action::Ping(t) if master_up || !matches!(t, Target::Master(_)) => {
                    Some(Input::PingReply(t.clone(), "+PONG".into()))
                }
                Action::Info(Target::Master(m)) if master_up => {
                    Some(Input::InfoReply(Target::Master(m.clone()), master_info()))
                }
                Action::Info(t @ Target::Replica(..)) => Some(Input::InfoReply(
                    t.clone(),
                    format!(
                        "run_id:{}\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_priority:100\r\nslave_repl_offset:1\r\n",
                        "8".repeat(40)
                    ),
                )),
                _ => None,
            };
            if let Some(r) = reply {
                pending.extend(c.step(now, r));
            }
            all.push(a);
        }
    }
    all
}

fn count(actions: &[Action], f: impl Fn(&Action) -> bool) -> usize {
    actions.iter().filter(|a| f(a)).count()
}

#[test]
fn info_period_sets_how_often_instances_are_asked_for_info() {
    let infos = |set: &[(&str, Ms)]| {
        let mut c = deployment(set, 30_000);
        run(&mut c, 0, 20_000, true);
        let a = run(&mut c, 20_000, 40_000, true);
        count(&a, |a| matches!(a, Action::Info(Target::Master(_))))
    };
    // Every 10 s by default, every 2 s with info-period 2000.
    let slow = infos(&[]);
    assert!((1..=2).contains(&slow), "{slow}");
    let fast = infos(&[("info-period", 2000)]);
    assert!((9..=10).contains(&fast), "{fast}");
}

#[test]
fn ping_period_sets_how_often_instances_are_pinged() {
    let pings = |set: &[(&str, Ms)]| {
        let mut c = deployment(set, 30_000);
        let a = run(&mut c, 0, 10_000, true);
        count(&a, |a| *a == Action::Ping(replica()))
    };
    let slow = pings(&[]);
    let fast = pings(&[("ping-period", 300)]);
    // Once the last PONG is older than the period: ~1.1 s apart, then ~0.4 s apart.
    assert!((8..=10).contains(&slow), "{slow}");
    assert!((24..=34).contains(&fast), "{fast}");
}

#[test]
fn publish_period_sets_how_often_hellos_are_sent() {
    let hellos = |set: &[(&str, Ms)]| {
        let mut c = deployment(set, 30_000);
        let a = run(&mut c, 0, 10_000, true);
        count(&a, |a| matches!(a, Action::Hello(Target::Master(_), _)))
    };
    let slow = hellos(&[]);
    let fast = hellos(&[("publish-period", 500)]);
    assert!((4..=5).contains(&slow), "{slow}");
    assert!((16..=20).contains(&fast), "{fast}");
}

#[test]
fn ask_period_sets_how_often_the_others_are_asked() {
    let asks = |set: &[(&str, Ms)]| {
        // Quorum 2: the master is SDOWN and stays short of ODOWN, so only asking remains.
        let mut c = deployment(set, 1000);
        c.masters.get_mut("m").expect("m").quorum = 2;
        run(&mut c, 0, 2000, false);
        let a = run(&mut c, 2000, 7000, false);
        assert!(c.masters["m"].inst.sdown_since.is_some());
        count(&a, |a| matches!(a, Action::AskMasterDown { .. }))
    };
    let slow = asks(&[]);
    let fast = asks(&[("ask-period", 200)]);
    assert!((5..=6).contains(&slow), "{slow}");
    assert!((24..=26).contains(&fast), "{fast}");
}

#[test]
fn defaults_apply_to_masters_monitored_afterwards() {
    let mut c = deployment(
        &[
            ("default-down-after", 1234),
            ("default-failover-timeout", 5678),
        ],
        30_000,
    );
    // The master already monitored keeps its own; a new one takes the defaults.
    assert_eq!(c.masters["m"].down_after, 30_000);
    let n = c.monitor("n", Addr::new("10.0.0.5", 6379), 1, 0);
    assert_eq!((n.down_after, n.failover_timeout), (1234, 5678));
}

#[test]
fn tilt_trigger_and_tilt_period_set_when_tilt_starts_and_ends() {
    let tilt = |set: &[(&str, Ms)]| {
        let mut c = deployment(set, 30_000);
        run(&mut c, 0, 1000, true);
        // The timer stalls for 1.5 s.
        let mut ev = events(&c.step(2500, Input::Tick));
        ev.extend(events(&run(&mut c, 2500, 8000, true)));
        ev.into_iter()
            .filter(|e| e.contains("tilt"))
            .collect::<Vec<_>>()
    };
    assert!(tilt(&[]).is_empty(), "{:?}", tilt(&[]));
    assert_eq!(
        tilt(&[("tilt-trigger", 1000)]),
        ["+tilt #tilt mode entered"]
    );
    assert_eq!(
        tilt(&[("tilt-trigger", 1000), ("tilt-period", 3000)]),
        ["+tilt #tilt mode entered", "-tilt #tilt mode exited"]
    );
}

#[test]
fn election_timeout_sets_when_an_unelected_failover_is_abandoned() {
    let abort_at = |set: &[(&str, Ms)]| {
        // Quorum 1, two voters, the other never votes: never elected.
        let mut c = deployment(set, 1000);
        let mut now = 0;
        let mut tried = None;
        while now < 20_000 {
            let a = run(&mut c, now, now + 100, false);
            now += 100;
            for e in events(&a) {
                if e.starts_with("+try-failover") {
                    tried = Some(now);
                }
                if e.starts_with("-failover-abort-not-elected") {
                    return now - tried.expect("tried first");
                }
            }
        }
        panic!("never abandoned")
    };
    // min(election-timeout, failover-timeout): 10 s by default; the start time carries up
    // to 1 s of jitter.
    let slow = abort_at(&[]);
    let fast = abort_at(&[("election-timeout", 2000)]);
    assert!((10_000..=11_200).contains(&slow), "{slow}");
    assert!((2_000..=3_200).contains(&fast), "{fast}");
}
