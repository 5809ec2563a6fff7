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
            Action::Event { kind, msg, .. } => Some(format!("{kind} {msg}")),
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
