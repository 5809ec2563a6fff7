//! Every event variant: its channel, level, master and payload as Redis 7.0 publishes it.

use super::*;

fn master() -> Subject {
    Subject {
        kind: InstanceKind::Master,
        name: "mymaster".into(),
        addr: Addr::new("10.0.0.1", 6379),
        of: None,
    }
}

fn replica() -> Subject {
    Subject {
        kind: InstanceKind::Replica,
        name: "10.0.0.2:6380".into(),
        addr: Addr::new("10.0.0.2", 6380),
        of: Some(("mymaster".into(), Addr::new("10.0.0.1", 6379))),
    }
}

fn sentinel() -> Subject {
    Subject {
        kind: InstanceKind::Sentinel,
        name: "a".repeat(40),
        addr: Addr::new("10.0.0.3", 26379),
        of: Some(("mymaster".into(), Addr::new("10.0.0.1", 6379))),
    }
}

const M: &str = "master mymaster 10.0.0.1 6379";
const R: &str = "slave 10.0.0.2:6380 10.0.0.2 6380 @ mymaster 10.0.0.1 6379";

#[test]
fn every_variant_has_redis_channel_level_and_payload() {
    use Level::*;
    let s_desc = format!(
        "sentinel {} 10.0.0.3 26379 @ mymaster 10.0.0.1 6379",
        "a".repeat(40)
    );
    let mm = Some("mymaster");
    #[rustfmt::skip]
    let cases: Vec<(Event, &str, Level, Option<&str>, String)> = vec![
        (Event::Monitor { at: master(), quorum: 2 }, "+monitor", Warning, mm, format!("{M} quorum 2")),
        (Event::Unmonitor(master()), "-monitor", Warning, mm, M.into()),
        (Event::Set { at: master(), option: "auth-pass".into(), value: "******".into() }, "+set", Warning, mm, format!("{M} auth-pass ******")),
        (Event::ResetMaster(master()), "+reset-master", Warning, mm, M.into()),
        (Event::Slave(replica()), "+slave", Notice, mm, R.into()),
        (Event::Sentinel(sentinel()), "+sentinel", Notice, mm, s_desc.clone()),
        (Event::SentinelRemoved(sentinel()), "-sentinel", Notice, mm, s_desc.clone()),
        (Event::SentinelAddressSwitch { at: master(), addr: Addr::new("10.0.0.9", 26380), runid: "r1".into() }, "+sentinel-address-switch", Notice, mm, format!("{M} ip 10.0.0.9 port 26380 for r1")),
        (Event::SentinelInvalidAddr(sentinel()), "+sentinel-invalid-addr", Notice, mm, s_desc.clone()),
        (Event::SentinelAddressUpdate { at: master(), count: 3 }, "+sentinel-address-update", Notice, mm, format!("{M} 3 additional matching instances")),
        (Event::Reboot(replica()), "+reboot", Notice, mm, R.into()),
        (Event::RoleChange { at: replica(), expected: true, role: "slave" }, "+role-change", Verbose, mm, format!("{R} new reported role is slave")),
        (Event::RoleChange { at: replica(), expected: false, role: "master" }, "-role-change", Verbose, mm, format!("{R} new reported role is master")),
        (Event::ConvertToSlave(replica()), "+convert-to-slave", Notice, mm, R.into()),
        (Event::FixSlaveConfig(replica()), "+fix-slave-config", Notice, mm, R.into()),
        (Event::Sdown(master()), "+sdown", Warning, mm, M.into()),
        (Event::SdownCleared(sentinel()), "-sdown", Warning, mm, s_desc.clone()),
        (Event::Odown { at: master(), votes: 2, quorum: 2 }, "+odown", Warning, mm, format!("{M} #quorum 2/2")),
        (Event::OdownCleared(master()), "-odown", Warning, mm, M.into()),
        (Event::Tilt, "+tilt", Warning, None, "#tilt mode entered".into()),
        (Event::TiltExit, "-tilt", Warning, None, "#tilt mode exited".into()),
        (Event::NewEpoch { master: "mymaster".into(), epoch: 7 }, "+new-epoch", Warning, mm, "7".into()),
        (Event::VoteForLeader { master: "mymaster".into(), runid: "r1".into(), epoch: 7 }, "+vote-for-leader", Warning, mm, "r1 7".into()),
        (Event::TryFailover(master()), "+try-failover", Warning, mm, M.into()),
        (Event::ElectedLeader(master()), "+elected-leader", Warning, mm, M.into()),
        (Event::FailoverAbortNotElected(master()), "-failover-abort-not-elected", Warning, mm, M.into()),
        (Event::FailoverStateSelectSlave(master()), "+failover-state-select-slave", Warning, mm, M.into()),
        (Event::FailoverAbortNoGoodSlave(master()), "-failover-abort-no-good-slave", Warning, mm, M.into()),
        (Event::SelectedSlave(replica()), "+selected-slave", Warning, mm, R.into()),
        (Event::FailoverStateSendSlaveofNoone(master()), "+failover-state-send-slaveof-noone", Warning, mm, M.into()),
        (Event::FailoverAbortSlaveTimeout(master()), "-failover-abort-slave-timeout", Warning, mm, M.into()),
        (Event::FailoverStateWaitPromotion(master()), "+failover-state-wait-promotion", Warning, mm, M.into()),
        (Event::SwitchoverRefused { at: replica(), why: "ERR nope".into() }, "-switchover-refused", Debug, mm, format!("{R} ERR nope")),
        (Event::PromotedSlave(replica()), "+promoted-slave", Warning, mm, R.into()),
        (Event::FailoverStateReconfSlaves(master()), "+failover-state-reconf-slaves", Warning, mm, M.into()),
        (Event::SlaveReconfSent(replica()), "+slave-reconf-sent", Notice, mm, R.into()),
        (Event::SlaveReconfInprog(replica()), "+slave-reconf-inprog", Notice, mm, R.into()),
        (Event::SlaveReconfDone(replica()), "+slave-reconf-done", Notice, mm, R.into()),
        (Event::SlaveReconfSentTimeout(replica()), "-slave-reconf-sent-timeout", Notice, mm, R.into()),
        (Event::SlaveReconfSentBe(replica()), "+slave-reconf-sent-be", Notice, mm, R.into()),
        (Event::FailoverEndForTimeout(master()), "+failover-end-for-timeout", Warning, mm, M.into()),
        (Event::FailoverEnd(master()), "+failover-end", Warning, mm, M.into()),
        (Event::SwitchMaster { name: "mymaster".into(), old: Addr::new("10.0.0.1", 6379), new: Addr::new("10.0.0.2", 6380) }, "+switch-master", Warning, mm, "mymaster 10.0.0.1 6379 10.0.0.2 6380".into()),
        (Event::ConfigUpdateFrom(sentinel()), "+config-update-from", Warning, mm, s_desc.clone()),
        (Event::ScriptError { path: "/bin/notify".into(), signal: 0, code: 1 }, "-script-error", Warning, None, "/bin/notify 0 1".into()),
        (Event::ScriptTimeout { path: "/bin/notify".into(), pid: 42 }, "-script-timeout", Warning, None, "/bin/notify 42".into()),
        (Event::ScriptChild { pid: 42 }, "+script-child", Debug, None, "42".into()),
        (Event::ScriptChildExit { pid: 42, code: 1, signal: 0 }, "-script-child", Debug, None, "42 1 0".into()),
        (Event::CmdLinkReconnection { at: replica(), error: "Connection refused".into() }, "-cmd-link-reconnection", Debug, mm, format!("{R} #Connection refused")),
        (Event::PubsubLinkReconnection { at: master(), error: "timeout".into() }, "-pubsub-link-reconnection", Debug, mm, format!("{M} #timeout")),
    ];
    let mut channels = std::collections::BTreeSet::new();
    for (e, kind, level, master, payload) in &cases {
        println!("{} {e}", e.kind());
        assert_eq!(e.kind(), *kind, "{e:?}");
        assert_eq!(e.level(), *level, "{e:?}");
        assert_eq!(e.master(), *master, "{e:?}");
        assert_eq!(e.to_string(), *payload, "{e:?}");
        channels.insert(e.kind());
    }
    // One channel per case: no two variants share one (the two role changes aside, which
    // are one variant).
    assert_eq!(channels.len(), cases.len());
}

#[test]
fn failover_states_have_their_events() {
    assert_eq!(
        Event::failover_state(FailoverState::SelectSlave, master()).map(|e| e.kind()),
        Some("+failover-state-select-slave")
    );
    assert_eq!(
        Event::failover_state(FailoverState::ReconfSlaves, master()).map(|e| e.kind()),
        Some("+failover-state-reconf-slaves")
    );
    assert_eq!(
        Event::failover_state(FailoverState::WaitStart, master()),
        None
    );
}
