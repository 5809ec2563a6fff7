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

fn set(name: &str, args: &[&str], executable: &[&str]) -> Command {
    Command::Set {
        name: name.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        executable: executable.iter().map(|a| a.to_string()).collect(),
    }
}

fn set_event(c: &Core, option: &str, value: &str) -> Action {
    Action::Event(Event::Set {
        at: Subject::master(&c.masters["m"]),
        option: option.into(),
        value: value.into(),
    })
}

#[test]
fn set_applies_the_numeric_options_in_order_announces_each_and_saves() {
    let mut c = core();
    let a = run(
        &mut c,
        0,
        set(
            "m",
            &[
                "quorum",
                "3",
                "DOWN-AFTER-MILLISECONDS",
                "5000",
                "failover-timeout",
                "9000",
                "parallel-syncs",
                "2",
                "master-reboot-down-after-period",
                "0",
            ],
            &[],
        ),
    );
    assert_eq!(
        a,
        vec![
            set_event(&c, "quorum", "3"),
            // The option as spelled.
            set_event(&c, "DOWN-AFTER-MILLISECONDS", "5000"),
            set_event(&c, "failover-timeout", "9000"),
            set_event(&c, "parallel-syncs", "2"),
            set_event(&c, "master-reboot-down-after-period", "0"),
            Action::Flush,
            Action::Reply(Reply::Saved),
        ]
    );
    let m = &c.masters["m"];
    assert_eq!(
        (
            m.quorum,
            m.down_after,
            m.failover_timeout,
            m.parallel_syncs,
            m.reboot_down_after
        ),
        (3, 5000, 9000, 2, 0)
    );
    assert_eq!(
        events(&a)[0],
        "+set master m 10.0.0.1 6379 quorum 3",
        "Redis's payload"
    );
}

#[test]
fn set_of_credentials_or_renames_relinks_the_master_and_its_replicas() {
    let mut c = core_with_peers();
    let a = run(
        &mut c,
        0,
        set(
            "m",
            &[
                "auth-user",
                "u",
                "auth-pass",
                "secret",
                "rename-command",
                "CONFIG",
                "cfg",
            ],
            &[],
        ),
    );
    let mt = Target::Master("m".into());
    let rt = Target::Replica("m".into(), "10.0.0.2:6379".into());
    assert_eq!(
        a,
        vec![
            set_event(&c, "auth-user", "u"),
            // The password is not shown.
            set_event(&c, "auth-pass", "******"),
            set_event(&c, "rename-command", "CONFIG cfg"),
            Action::Disconnect(mt.clone()),
            Action::Connect(mt, Addr::new("10.0.0.1", 6379)),
            Action::Disconnect(rt.clone()),
            Action::Connect(rt, Addr::new("10.0.0.2", 6379)),
            Action::Flush,
            Action::Reply(Reply::Saved),
        ]
    );
    let m = &c.masters["m"];
    assert_eq!(m.auth_user.as_deref(), Some("u"));
    assert_eq!(m.auth_pass.as_deref(), Some("secret"));
    assert_eq!(m.renamed.get("CONFIG").map(String::as_str), Some("cfg"));
    // A rename to the same name (any case) removes the rename; an empty password none.
    run(
        &mut c,
        1,
        set(
            "m",
            &["rename-command", "config", "Config", "auth-pass", ""],
            &[],
        ),
    );
    assert!(c.masters["m"].renamed.is_empty());
    assert_eq!(c.masters["m"].auth_pass, None);
    // An empty name is refused.
    let a = run(&mut c, 2, set("m", &["rename-command", "", "x"], &[]));
    assert_eq!(
        a,
        vec![err(
            "ERR Invalid argument '' for SENTINEL SET 'rename-command'"
        )]
    );
}

#[test]
fn set_of_a_script_path_is_denied_unless_allowed_and_needs_an_executable() {
    let mut c = core();
    assert!(c.settings.deny_scripts_reconfig, "Redis's default");
    let a = run(
        &mut c,
        0,
        set("m", &["notification-script", "/bin/true"], &["/bin/true"]),
    );
    assert_eq!(a, vec![err("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration")]);
    assert_eq!(c.masters["m"].notification_script, None);
    c.settings.deny_scripts_reconfig = false;
    let a = run(&mut c, 0, set("m", &["notification-script", "/nope"], &[]));
    assert_eq!(
        a,
        vec![err(
            "ERR Notification script seems non existing or non executable"
        )]
    );
    let a = run(
        &mut c,
        0,
        set("m", &["client-reconfig-script", "/nope"], &[]),
    );
    assert_eq!(
        a,
        vec![err(
            "ERR Client reconfiguration script seems non existing or non executable"
        )]
    );
    let a = run(
        &mut c,
        0,
        set(
            "m",
            &[
                "notification-script",
                "/bin/true",
                "client-reconfig-script",
                "/bin/true",
            ],
            &["/bin/true"],
        ),
    );
    assert_eq!(
        a,
        vec![
            set_event(&c, "notification-script", "/bin/true"),
            set_event(&c, "client-reconfig-script", "/bin/true"),
            Action::Flush,
            Action::Reply(Reply::Saved),
        ]
    );
    let m = &c.masters["m"];
    assert_eq!(m.notification_script.as_deref(), Some("/bin/true"));
    assert_eq!(m.client_reconfig_script.as_deref(), Some("/bin/true"));
    // An empty path (no file to check) removes the script.
    run(&mut c, 0, set("m", &["notification-script", ""], &[]));
    assert_eq!(c.masters["m"].notification_script, None);
}

#[test]
fn set_stops_at_a_bad_option_keeping_and_saving_those_before_it() {
    let mut c = core();
    let a = run(
        &mut c,
        0,
        set(
            "m",
            &["quorum", "3", "QUORUM", "0", "parallel-syncs", "4"],
            &[],
        ),
    );
    assert_eq!(
        a,
        vec![
            set_event(&c, "quorum", "3"),
            Action::Flush,
            err("ERR Invalid argument '0' for SENTINEL SET 'QUORUM'"),
        ]
    );
    assert_eq!(
        (c.masters["m"].quorum, c.masters["m"].parallel_syncs),
        (3, 1)
    );
    // The first option bad: nothing changed, nothing saved.
    let bad = [
        (
            &["quorum", "4294967296"][..],
            "ERR Invalid argument '4294967296' for SENTINEL SET 'quorum'",
        ),
        (
            &["down-after-milliseconds", "x"][..],
            "ERR Invalid argument 'x' for SENTINEL SET 'down-after-milliseconds'",
        ),
        (
            &["failover-timeout", "-1"][..],
            "ERR Invalid argument '-1' for SENTINEL SET 'failover-timeout'",
        ),
        (
            &["master-reboot-down-after-period", "-1"][..],
            "ERR Invalid argument '-1' for SENTINEL SET 'master-reboot-down-after-period'",
        ),
        (
            &["bogus", "1"][..],
            "ERR Unknown option or number of arguments for SENTINEL SET 'bogus'",
        ),
        // An option without its value.
        (
            &["rename-command", "x"][..],
            "ERR Unknown option or number of arguments for SENTINEL SET 'rename-command'",
        ),
    ];
    for (args, e) in bad {
        let a = run(&mut c, 1, set("m", args, &[]));
        assert_eq!(a, vec![err(e)], "{args:?}");
    }
    // A last option without its value, after a good one.
    let a = run(
        &mut c,
        2,
        set("m", &["parallel-syncs", "5", "failover-timeout"], &[]),
    );
    assert_eq!(
        a,
        vec![
            set_event(&c, "parallel-syncs", "5"),
            Action::Flush,
            err("ERR Unknown option or number of arguments for SENTINEL SET 'failover-timeout'"),
        ]
    );
    let a = run(&mut c, 3, set("x", &["quorum", "1"], &[]));
    assert_eq!(a, vec![err("ERR No such master with that name")]);
}

fn config_set(param: &str, value: &str) -> Command {
    Command::ConfigSet {
        param: param.into(),
        value: value.into(),
    }
}

fn setting_saved(s: Setting) -> Vec<Action> {
    vec![
        Action::Setting(s),
        Action::Flush,
        Action::Reply(Reply::Saved),
    ]
}

#[test]
fn config_set_changes_each_setting_and_saves() {
    let mut c = core();
    let a = run(&mut c, 0, config_set("resolve-hostnames", "YES"));
    assert_eq!(a, setting_saved(Setting::ResolveHostnames(true)));
    assert!(c.resolve_hostnames);
    let a = run(&mut c, 0, config_set("Announce-Hostnames", "yes"));
    assert_eq!(a, setting_saved(Setting::AnnounceHostnames(true)));
    let a = run(&mut c, 0, config_set("max-sentinels-per-master", "5"));
    assert_eq!(a, setting_saved(Setting::MaxSentinels(5)));
    assert_eq!(c.max_sentinels, 5);
    let a = run(&mut c, 0, config_set("announce-port", "7000"));
    assert_eq!(a, setting_saved(Setting::AnnouncePort(7000)));
    assert_eq!(c.announce_port, 7000);
    // 0: the listening port again.
    c.settings.port = 26400;
    let a = run(&mut c, 0, config_set("announce-port", "0"));
    assert_eq!(a, setting_saved(Setting::AnnouncePort(0)));
    assert_eq!(c.announce_port, 26400);
}

#[test]
fn config_set_announce_ip_then_cleared_announces_the_detected_address_again() {
    let mut c = core();
    assert_eq!(c.announce_ip, "10.0.0.9", "found from the links");
    let a = run(&mut c, 0, config_set("announce-ip", "192.0.2.1"));
    assert_eq!(a, setting_saved(Setting::AnnounceIp("192.0.2.1".into())));
    assert_eq!(c.announce_ip, "192.0.2.1");
    run(&mut c, 0, config_set("announce-ip", "192.0.2.2"));
    assert_eq!(c.announce_ip, "192.0.2.2");
    let a = run(&mut c, 0, config_set("announce-ip", ""));
    assert_eq!(a, setting_saved(Setting::AnnounceIp(String::new())));
    assert_eq!(c.announce_ip, "10.0.0.9");
}

#[test]
fn config_set_of_sentinel_credentials_relinks_the_other_sentinels() {
    let mut c = core_with_peers();
    let st = Target::Sentinel("m".into(), A.into());
    let addr = c.masters["m"].sentinels[A].inst.addr.clone();
    let relinked = |s: Setting| {
        vec![
            Action::Setting(s),
            Action::Flush,
            Action::Disconnect(st.clone()),
            Action::Connect(st.clone(), addr.clone()),
            Action::Reply(Reply::Saved),
        ]
    };
    let a = run(&mut c, 0, config_set("sentinel-user", "u"));
    assert_eq!(a, relinked(Setting::SentinelUser(Some("u".into()))));
    let a = run(&mut c, 0, config_set("SENTINEL-PASS", "p"));
    assert_eq!(a, relinked(Setting::SentinelPass(Some("p".into()))));
    let a = run(&mut c, 0, config_set("sentinel-pass", ""));
    assert_eq!(a, relinked(Setting::SentinelPass(None)));
}

#[test]
fn config_set_refuses_a_bad_value_or_parameter_changing_nothing() {
    let mut c = core();
    let bad = [
        ("resolve-hostnames", "maybe"),
        ("announce-hostnames", "1"),
        ("announce-port", "65536"),
        ("announce-port", "-1"),
        ("announce-port", "+1"),
        ("max-sentinels-per-master", "0"),
        ("max-sentinels-per-master", "4294967296"),
    ];
    for (k, v) in bad {
        let a = run(&mut c, 0, config_set(k, v));
        assert_eq!(
            a,
            vec![err(&format!(
                "ERR Invalid value '{v}' to SENTINEL CONFIG SET '{k}'"
            ))]
        );
    }
    let a = run(&mut c, 0, config_set("Bogus", "1"));
    assert_eq!(
        a,
        vec![err("ERR Invalid argument 'Bogus' to SENTINEL CONFIG SET")]
    );
    assert!(!c.resolve_hostnames);
    assert_eq!(c.announce_port, 26379);
    assert_eq!(c.max_sentinels, DEFAULT_MAX_SENTINELS);
}
