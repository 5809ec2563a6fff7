//! Unit tests of the state-changing client commands as core inputs: the exact reply and
//! actions of each.

use super::tests::*;
use super::*;

fn run(c: &mut Core, now: Ms, cmd: Command) -> Vec<Action> {
    c.step(now, Input::Command(cmd))
}

fn err(e: &str) -> Action {
    Action::Reply(Reply::Error(e.into()))
}

/// The core of the tests with one replica (10.0.0.2:6379) and one sentinel (A) known.
fn core_with_peers() -> Core {
    let mut c = core();
    add_sentinel(&mut c, A, 26380, 0);
    let mt = Target::Master("m".into());
    c.step(0, Input::Connected(mt.clone()));
    c.step(0, Input::InfoReply(mt, master_info(&[("10.0.0.2", 6379)])));
    assert!(c.masters["m"].replicas.contains_key("10.0.0.2:6379"));
    c
}

#[test]
fn monitor_adds_a_master_links_it_announces_it_and_saves() {
    let mut c = core();
    let addr = Addr::new("10.0.0.5", 7000);
    let a = run(
        &mut c,
        5,
        Command::Monitor {
            name: "n".into(),
            addr: addr.clone(),
            quorum: 3,
        },
    );
    let at = Subject::master(&c.masters["n"]);
    assert_eq!(
        a,
        vec![
            Action::Connect(Target::Master("n".into()), addr),
            Action::Event(Event::Monitor { at, quorum: 3 }),
            Action::Flush,
            Action::Reply(Reply::Ok),
        ]
    );
    assert_eq!(c.masters["n"].quorum, 3);
    // The same name again: refused, nothing changes.
    let a = run(
        &mut c,
        6,
        Command::Monitor {
            name: "n".into(),
            addr: Addr::new("10.0.0.6", 7000),
            quorum: 1,
        },
    );
    assert_eq!(a, vec![err("ERR Duplicate master name.")]);
    assert_eq!(c.masters["n"].inst.addr, Addr::new("10.0.0.5", 7000));
}

#[test]
fn remove_forgets_a_master_closes_its_links_and_saves() {
    let mut c = core_with_peers();
    let at = Subject::master(&c.masters["m"]);
    let a = run(&mut c, 10, Command::Remove { name: "m".into() });
    assert_eq!(
        a,
        vec![
            Action::Event(Event::Unmonitor(at)),
            Action::Disconnect(Target::Master("m".into())),
            Action::Disconnect(Target::Replica("m".into(), "10.0.0.2:6379".into())),
            Action::Disconnect(Target::Sentinel("m".into(), A.into())),
            Action::Flush,
            Action::Reply(Reply::Ok),
        ]
    );
    assert!(c.masters.is_empty());
    let a = run(&mut c, 11, Command::Remove { name: "m".into() });
    assert_eq!(a, vec![err("ERR No such master with that name")]);
}

#[test]
fn reset_renews_the_matching_masters_and_counts_them() {
    let mut c = core_with_peers();
    let a = run(
        &mut c,
        20,
        Command::Reset {
            pattern: "x*".into(),
        },
    );
    assert_eq!(a, vec![Action::Reply(Reply::Int(0))]);
    assert_eq!(c.masters["m"].replicas.len(), 1);
    let a = run(
        &mut c,
        20,
        Command::Reset {
            pattern: "*".into(),
        },
    );
    let at = Subject::master(&c.masters["m"]);
    let mt = Target::Master("m".into());
    assert_eq!(
        a,
        vec![
            Action::Disconnect(Target::Replica("m".into(), "10.0.0.2:6379".into())),
            Action::Disconnect(Target::Sentinel("m".into(), A.into())),
            Action::Disconnect(mt.clone()),
            Action::Connect(mt, Addr::new("10.0.0.1", 6379)),
            Action::Event(Event::ResetMaster(at)),
            Action::Flush,
            Action::Reply(Reply::Int(1)),
        ]
    );
    assert!(c.masters["m"].replicas.is_empty());
    assert!(c.masters["m"].sentinels.is_empty());
}

#[test]
fn failover_starts_in_a_new_epoch_or_says_why_not() {
    let mut c = core();
    let a = run(&mut c, 0, Command::Failover { name: "x".into() });
    assert_eq!(a, vec![err("ERR No such master with that name")]);
    let a = run(&mut c, 0, Command::Failover { name: "m".into() });
    assert_eq!(a, vec![err("NOGOODSLAVE No suitable replica to promote")]);
    let mut c = core_with_peers();
    let r = Target::Replica("m".into(), "10.0.0.2:6379".into());
    c.step(1, Input::Connected(r.clone()));
    c.step(1, Input::PingReply(r.clone(), "+PONG".into()));
    c.step(
        1,
        Input::InfoReply(r, replica_info(&"8".repeat(40), 100, 10)),
    );
    let a = run(&mut c, 2, Command::Failover { name: "m".into() });
    let at = Subject::master(&c.masters["m"]);
    assert_eq!(
        a,
        vec![
            Action::Event(Event::NewEpoch {
                master: "m".into(),
                epoch: 1,
            }),
            Action::Event(Event::TryFailover(at)),
            Action::Flush,
            Action::Reply(Reply::Ok),
        ]
    );
    assert_eq!(c.current_epoch, 1);
    assert!(c.masters["m"].force_failover);
    let a = run(&mut c, 3, Command::Failover { name: "m".into() });
    assert_eq!(a, vec![err("INPROG Failover already in progress")]);
}

#[test]
fn is_master_down_by_addr_votes_once_per_epoch_and_saves_the_vote() {
    let mut c = core();
    let addr = Some(Addr::new("10.0.0.1", 6379));
    let ask = |runid: &str, epoch: u64| Command::IsMasterDownByAddr {
        addr: addr.clone(),
        epoch,
        runid: runid.into(),
    };
    // Only asking whether it is down: no vote.
    let a = run(&mut c, 0, ask("*", 1));
    assert_eq!(
        a,
        vec![Action::Reply(Reply::MasterDown {
            down: false,
            leader: "*".into(),
            epoch: 0,
        })]
    );
    // A vote in a new epoch: the epoch and the vote are saved before the reply.
    let a = run(&mut c, 0, ask(A, 1));
    assert_eq!(
        a,
        vec![
            Action::Flush,
            Action::Event(Event::NewEpoch {
                master: "m".into(),
                epoch: 1,
            }),
            Action::Flush,
            Action::Event(Event::VoteForLeader {
                master: "m".into(),
                runid: A.into(),
                epoch: 1,
            }),
            Action::Reply(Reply::MasterDown {
                down: false,
                leader: A.into(),
                epoch: 1,
            }),
        ]
    );
    // Another candidate in the same epoch gets the vote already given.
    let a = run(&mut c, 1, ask(B, 1));
    assert_eq!(
        a,
        vec![Action::Reply(Reply::MasterDown {
            down: false,
            leader: A.into(),
            epoch: 1,
        })]
    );
    // No master at that address, or a port out of range.
    for addr in [Some(Addr::new("10.0.0.1", 6380)), None] {
        let a = run(
            &mut c,
            2,
            Command::IsMasterDownByAddr {
                addr,
                epoch: 5,
                runid: B.into(),
            },
        );
        assert_eq!(
            a,
            vec![Action::Reply(Reply::MasterDown {
                down: false,
                leader: "*".into(),
                epoch: 0,
            })]
        );
    }
    assert_eq!(c.current_epoch, 1);
}

#[test]
fn simulate_failure_clears_then_sets_in_order() {
    let mut c = core();
    let sim =
        |flags: &[&str]| Command::SimulateFailure(flags.iter().map(|f| f.to_string()).collect());
    let election = Action::Log(
        Level::Warning,
        "Failure simulation: this Sentinel will crash after being successfully elected as failover leader".into(),
    );
    let a = run(&mut c, 0, sim(&["crash-after-election"]));
    assert_eq!(a, vec![election.clone(), Action::Reply(Reply::Ok)]);
    assert!(c.sim.crash_after_election && !c.sim.crash_after_promotion);
    // HELP disarms (the flags are cleared first).
    let a = run(&mut c, 0, sim(&["help"]));
    assert_eq!(
        a,
        vec![Action::Reply(Reply::Bulks(vec![
            "crash-after-election".into(),
            "crash-after-promotion".into(),
        ]))]
    );
    assert_eq!(c.sim, SimFailure::default());
    // An unknown flag after a known one: the known one stays set.
    let a = run(&mut c, 0, sim(&["crash-after-election", "bogus"]));
    assert_eq!(
        a,
        vec![election, err("ERR Unknown failure simulation specified")]
    );
    assert!(c.sim.crash_after_election);
}

#[test]
fn debug_sets_timers_in_order_until_a_bad_pair() {
    let mut c = core();
    let debug = |args: &[&str]| Command::Debug(args.iter().map(|a| a.to_string()).collect());
    let a = run(
        &mut c,
        0,
        debug(&["PING-PERIOD", "500", "info-period", "2000"]),
    );
    assert_eq!(a, vec![Action::Reply(Reply::Ok)]);
    assert_eq!((c.timers.ping_period, c.timers.info_period), (500, 2000));
    let a = run(
        &mut c,
        0,
        debug(&["ping-period", "700", "info-period", "0"]),
    );
    assert_eq!(
        a,
        vec![err(
            "ERR Invalid argument '0' for SENTINEL DEBUG 'info-period'"
        )]
    );
    assert_eq!((c.timers.ping_period, c.timers.info_period), (700, 2000));
    let a = run(&mut c, 0, debug(&["ping-period", "+5"]));
    assert_eq!(
        a,
        vec![err(
            "ERR Invalid argument '+5' for SENTINEL DEBUG 'ping-period'"
        )]
    );
    for args in [&["nope", "1"][..], &["ping-period"][..]] {
        let a = run(&mut c, 0, debug(args));
        assert_eq!(
            a,
            vec![err(&format!(
                "ERR Unknown option or number of arguments for SENTINEL DEBUG '{}'",
                args[0]
            ))]
        );
    }
    assert_eq!(c.timers.ping_period, 700);
}
