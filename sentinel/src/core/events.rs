//! The events a Sentinel publishes, as values: one variant per event type of Redis 7.0's
//! `sentinel.c` (see `../shared/reference/redis-ha.md` §2.10). The channel is
//! [`Event::kind`], the payload is the `Display` form (Redis's `sentinelEvent` text, with the
//! instance description `%@` formatted in one place, [`Subject`]), the level decides where
//! it goes ([`Event::level`]: DEBUG ones are only logged, WARNING ones also run the master's
//! notification script, [`Event::master`]). The same value is logged, published and
//! recorded by the simulation.

use std::fmt;

use super::{Addr, FailoverState, Instance, Level, Master};

/// What kind of instance an event (or a link, or a reply) is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKind {
    Master,
    Replica,
    Sentinel,
}

impl InstanceKind {
    /// The word Redis uses in `%@` and in the flags (`master`, `slave`, `sentinel`).
    pub fn word(self) -> &'static str {
        match self {
            InstanceKind::Master => "master",
            InstanceKind::Replica => "slave",
            InstanceKind::Sentinel => "sentinel",
        }
    }
}

/// The instance an event is about, as Redis's `%@` prints it: `master <name> <ip> <port>`,
/// or `<slave|sentinel> <name> <ip> <port> @ <master> <ip> <port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub kind: InstanceKind,
    pub name: String,
    pub addr: Addr,
    /// The master of a replica or sentinel (its name and address); `None` for a master.
    pub of: Option<(String, Addr)>,
}

impl Subject {
    pub fn master(m: &Master) -> Subject {
        Subject {
            kind: InstanceKind::Master,
            name: m.inst.name.clone(),
            addr: m.inst.addr.clone(),
            of: None,
        }
    }

    pub fn replica(r: &Instance, m: &Master) -> Subject {
        Subject::child(InstanceKind::Replica, r, m)
    }

    pub fn sentinel(s: &Instance, m: &Master) -> Subject {
        Subject::child(InstanceKind::Sentinel, s, m)
    }

    fn child(kind: InstanceKind, i: &Instance, m: &Master) -> Subject {
        Subject {
            kind,
            name: i.name.clone(),
            addr: i.addr.clone(),
            of: Some((m.inst.name.clone(), m.inst.addr.clone())),
        }
    }

    /// The name of the master this instance belongs to (itself for a master).
    pub fn master_name(&self) -> &str {
        match &self.of {
            Some((name, _)) => name,
            None => &self.name,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.kind.word(),
            self.name,
            self.addr.host,
            self.addr.port
        )?;
        if let Some((name, addr)) = &self.of {
            write!(f, " @ {name} {} {}", addr.host, addr.port)?;
        }
        Ok(())
    }
}

/// One event, with what its payload says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    // ------------------------------------------------------------ monitoring
    /// SENTINEL MONITOR added a master: `%@ quorum <q>`.
    Monitor {
        at: Subject,
        quorum: u32,
    },
    /// SENTINEL REMOVE forgot a master.
    Unmonitor(Subject),
    /// SENTINEL SET changed an option: `%@ <option> <value>` (secrets shown as `******`).
    Set {
        at: Subject,
        option: String,
        value: String,
    },
    /// SENTINEL RESET (or a reset for a new address) of a master.
    ResetMaster(Subject),
    /// A replica became known.
    Slave(Subject),
    /// Another sentinel became known through its hello.
    Sentinel(Subject),
    /// A sentinel was forgotten to make room under `max-sentinels-per-master` (picket's
    /// own: Redis has no such limit).
    SentinelRemoved(Subject),
    /// A known sentinel announced itself at a new address: `%@ ip <ip> port <port> for <runid>`
    /// (about the master).
    SentinelAddressSwitch {
        at: Subject,
        addr: Addr,
        runid: String,
    },
    /// Redis: another run id announced an address a known sentinel had; that one is
    /// removed. Picket forgets the stale sentinel without this event.
    SentinelInvalidAddr(Subject),
    /// Redis (SENTINEL CONFIG SET announce-*): `%@ <n> additional matching instances`.
    /// Not emitted by picket.
    SentinelAddressUpdate {
        at: Subject,
        count: usize,
    },
    /// An instance's run id changed.
    Reboot(Subject),
    /// Redis (VERBOSE): the role an instance reports changed, `%@ new reported role is
    /// <role>`; `+role-change` when it is the role we know it by, else `-role-change`.
    /// Not emitted by picket.
    RoleChange {
        at: Subject,
        expected: bool,
        role: &'static str,
    },
    /// A replica that says it is a master outside a failover is turned back into a replica.
    ConvertToSlave(Subject),
    /// A replica following the wrong master is pointed at the right one.
    FixSlaveConfig(Subject),

    // ------------------------------------------------------------ failure detection
    Sdown(Subject),
    SdownCleared(Subject),
    /// `%@ #quorum <votes>/<quorum>`.
    Odown {
        at: Subject,
        votes: u32,
        quorum: u32,
    },
    OdownCleared(Subject),
    /// `#tilt mode entered`.
    Tilt,
    /// `#tilt mode exited`.
    TiltExit,

    // ------------------------------------------------------------ election and failover
    /// The current epoch grew: the payload is the epoch alone.
    NewEpoch {
        master: String,
        epoch: u64,
    },
    /// This sentinel voted: `<runid> <epoch>`.
    VoteForLeader {
        master: String,
        runid: String,
        epoch: u64,
    },
    TryFailover(Subject),
    ElectedLeader(Subject),
    FailoverAbortNotElected(Subject),
    FailoverStateSelectSlave(Subject),
    FailoverAbortNoGoodSlave(Subject),
    SelectedSlave(Subject),
    FailoverStateSendSlaveofNoone(Subject),
    FailoverAbortSlaveTimeout(Subject),
    FailoverStateWaitPromotion(Subject),
    /// The master refused the FAILOVER hand-over (picket's own, DEBUG): `%@ <error>` about
    /// the promoted replica.
    SwitchoverRefused {
        at: Subject,
        why: String,
    },
    /// Strict failover safety: a replica stopped taking the old master's stream at the
    /// leader's epoch and reported where it stands: `%@ #epoch <epoch> offset <offset>`.
    SlaveFenced {
        at: Subject,
        epoch: u64,
        offset: u64,
    },
    /// Strict failover safety: the leader does not promote yet, and says why:
    /// `%@ #fenced <fenced>/<need> <why>` (too few replicas fenced, the old master's lease
    /// not yet over, or no fenced replica can be promoted).
    FailoverWaitFence {
        at: Subject,
        fenced: usize,
        need: usize,
        why: &'static str,
    },
    PromotedSlave(Subject),
    FailoverStateReconfSlaves(Subject),
    SlaveReconfSent(Subject),
    SlaveReconfInprog(Subject),
    SlaveReconfDone(Subject),
    SlaveReconfSentTimeout(Subject),
    SlaveReconfSentBe(Subject),
    FailoverEndForTimeout(Subject),
    FailoverEnd(Subject),
    /// `<name> <old-ip> <old-port> <new-ip> <new-port>`.
    SwitchMaster {
        name: String,
        old: Addr,
        new: Addr,
    },
    /// A newer configuration learned from a sentinel's hello (about that sentinel).
    ConfigUpdateFrom(Subject),

    // ------------------------------------------------------------ scripts
    /// A script failed: `<path> <signal> <exit code>` (`99` as the signal when it could not
    /// start).
    ScriptError {
        path: String,
        signal: i32,
        code: i32,
    },
    /// A script ran past `script-max-runtime` and was killed: `<path> <pid>`.
    ScriptTimeout {
        path: String,
        pid: u32,
    },
    /// DEBUG: a script started, `<pid>`.
    ScriptChild {
        pid: u32,
    },
    /// DEBUG: a script ended, `<pid> <exit code> <signal>`.
    ScriptChildExit {
        pid: u32,
        code: i32,
        signal: i32,
    },

    // ------------------------------------------------------------ links (DEBUG)
    /// Redis: the command link to an instance failed, `%@ #<error>`. Not emitted by picket.
    CmdLinkReconnection {
        at: Subject,
        error: String,
    },
    /// Redis: the pub/sub link to an instance failed, `%@ #<error>`. Not emitted by picket.
    PubsubLinkReconnection {
        at: Subject,
        error: String,
    },
}

impl Event {
    /// The failover state's event (`+failover-state-...`), about the master.
    pub fn failover_state(state: FailoverState, at: Subject) -> Option<Event> {
        Some(match state {
            FailoverState::SelectSlave => Event::FailoverStateSelectSlave(at),
            FailoverState::SendSlaveofNoone => Event::FailoverStateSendSlaveofNoone(at),
            FailoverState::WaitPromotion => Event::FailoverStateWaitPromotion(at),
            FailoverState::ReconfSlaves => Event::FailoverStateReconfSlaves(at),
            FailoverState::None | FailoverState::WaitStart | FailoverState::UpdateConfig => {
                return None
            }
        })
    }

    /// The event type: the pub/sub channel it is published on.
    pub fn kind(&self) -> &'static str {
        use Event::*;
        match self {
            Monitor { .. } => "+monitor",
            Unmonitor(_) => "-monitor",
            Set { .. } => "+set",
            ResetMaster(_) => "+reset-master",
            Slave(_) => "+slave",
            Sentinel(_) => "+sentinel",
            SentinelRemoved(_) => "-sentinel",
            SentinelAddressSwitch { .. } => "+sentinel-address-switch",
            SentinelInvalidAddr(_) => "+sentinel-invalid-addr",
            SentinelAddressUpdate { .. } => "+sentinel-address-update",
            Reboot(_) => "+reboot",
            RoleChange { expected: true, .. } => "+role-change",
            RoleChange {
                expected: false, ..
            } => "-role-change",
            ConvertToSlave(_) => "+convert-to-slave",
            FixSlaveConfig(_) => "+fix-slave-config",
            Sdown(_) => "+sdown",
            SdownCleared(_) => "-sdown",
            Odown { .. } => "+odown",
            OdownCleared(_) => "-odown",
            Tilt => "+tilt",
            TiltExit => "-tilt",
            NewEpoch { .. } => "+new-epoch",
            VoteForLeader { .. } => "+vote-for-leader",
            TryFailover(_) => "+try-failover",
            ElectedLeader(_) => "+elected-leader",
            FailoverAbortNotElected(_) => "-failover-abort-not-elected",
            FailoverStateSelectSlave(_) => "+failover-state-select-slave",
            FailoverAbortNoGoodSlave(_) => "-failover-abort-no-good-slave",
            SelectedSlave(_) => "+selected-slave",
            FailoverStateSendSlaveofNoone(_) => "+failover-state-send-slaveof-noone",
            FailoverAbortSlaveTimeout(_) => "-failover-abort-slave-timeout",
            FailoverStateWaitPromotion(_) => "+failover-state-wait-promotion",
            SwitchoverRefused { .. } => "-switchover-refused",
            SlaveFenced { .. } => "+slave-fenced",
            FailoverWaitFence { .. } => "+failover-wait-fence",
            PromotedSlave(_) => "+promoted-slave",
            FailoverStateReconfSlaves(_) => "+failover-state-reconf-slaves",
            SlaveReconfSent(_) => "+slave-reconf-sent",
            SlaveReconfInprog(_) => "+slave-reconf-inprog",
            SlaveReconfDone(_) => "+slave-reconf-done",
            SlaveReconfSentTimeout(_) => "-slave-reconf-sent-timeout",
            SlaveReconfSentBe(_) => "+slave-reconf-sent-be",
            FailoverEndForTimeout(_) => "+failover-end-for-timeout",
            FailoverEnd(_) => "+failover-end",
            SwitchMaster { .. } => "+switch-master",
            ConfigUpdateFrom(_) => "+config-update-from",
            ScriptError { .. } => "-script-error",
            ScriptTimeout { .. } => "-script-timeout",
            ScriptChild { .. } => "+script-child",
            ScriptChildExit { .. } => "-script-child",
            CmdLinkReconnection { .. } => "-cmd-link-reconnection",
            PubsubLinkReconnection { .. } => "-pubsub-link-reconnection",
        }
    }

    /// The level: DEBUG events are only logged; the others are published too, and WARNING
    /// ones run the master's notification script.
    pub fn level(&self) -> Level {
        use Event::*;
        match self {
            SwitchoverRefused { .. }
            | ScriptChild { .. }
            | ScriptChildExit { .. }
            | CmdLinkReconnection { .. }
            | PubsubLinkReconnection { .. } => Level::Debug,
            RoleChange { .. } => Level::Verbose,
            Slave(_)
            | Sentinel(_)
            | SentinelRemoved(_)
            | SentinelAddressSwitch { .. }
            | SentinelInvalidAddr(_)
            | SentinelAddressUpdate { .. }
            | Reboot(_)
            | ConvertToSlave(_)
            | FixSlaveConfig(_)
            | SlaveFenced { .. }
            | SlaveReconfSent(_)
            | SlaveReconfInprog(_)
            | SlaveReconfDone(_)
            | SlaveReconfSentTimeout(_)
            | SlaveReconfSentBe(_) => Level::Notice,
            _ => Level::Warning,
        }
    }

    /// The master the event concerns (whose notification script runs), if any.
    pub fn master(&self) -> Option<&str> {
        use Event::*;
        match self {
            Monitor { at, .. }
            | Set { at, .. }
            | SentinelAddressSwitch { at, .. }
            | SentinelAddressUpdate { at, .. }
            | RoleChange { at, .. }
            | Odown { at, .. }
            | SwitchoverRefused { at, .. }
            | SlaveFenced { at, .. }
            | FailoverWaitFence { at, .. }
            | CmdLinkReconnection { at, .. }
            | PubsubLinkReconnection { at, .. } => Some(at.master_name()),
            Unmonitor(at)
            | ResetMaster(at)
            | Slave(at)
            | Sentinel(at)
            | SentinelRemoved(at)
            | SentinelInvalidAddr(at)
            | Reboot(at)
            | ConvertToSlave(at)
            | FixSlaveConfig(at)
            | Sdown(at)
            | SdownCleared(at)
            | OdownCleared(at)
            | TryFailover(at)
            | ElectedLeader(at)
            | FailoverAbortNotElected(at)
            | FailoverStateSelectSlave(at)
            | FailoverAbortNoGoodSlave(at)
            | SelectedSlave(at)
            | FailoverStateSendSlaveofNoone(at)
            | FailoverAbortSlaveTimeout(at)
            | FailoverStateWaitPromotion(at)
            | PromotedSlave(at)
            | FailoverStateReconfSlaves(at)
            | SlaveReconfSent(at)
            | SlaveReconfInprog(at)
            | SlaveReconfDone(at)
            | SlaveReconfSentTimeout(at)
            | SlaveReconfSentBe(at)
            | FailoverEndForTimeout(at)
            | FailoverEnd(at)
            | ConfigUpdateFrom(at) => Some(at.master_name()),
            NewEpoch { master, .. } | VoteForLeader { master, .. } => Some(master),
            SwitchMaster { name, .. } => Some(name),
            Tilt
            | TiltExit
            | ScriptError { .. }
            | ScriptTimeout { .. }
            | ScriptChild { .. }
            | ScriptChildExit { .. } => None,
        }
    }
}

impl Event {
    /// The instance the event is about (`%@`), if it has one.
    pub fn subject_mut(&mut self) -> Option<&mut Subject> {
        use Event::*;
        match self {
            Monitor { at, .. }
            | Set { at, .. }
            | SentinelAddressSwitch { at, .. }
            | SentinelAddressUpdate { at, .. }
            | RoleChange { at, .. }
            | Odown { at, .. }
            | SwitchoverRefused { at, .. }
            | SlaveFenced { at, .. }
            | FailoverWaitFence { at, .. }
            | CmdLinkReconnection { at, .. }
            | PubsubLinkReconnection { at, .. } => Some(at),
            Unmonitor(at)
            | ResetMaster(at)
            | Slave(at)
            | Sentinel(at)
            | SentinelRemoved(at)
            | SentinelInvalidAddr(at)
            | Reboot(at)
            | ConvertToSlave(at)
            | FixSlaveConfig(at)
            | Sdown(at)
            | SdownCleared(at)
            | OdownCleared(at)
            | TryFailover(at)
            | ElectedLeader(at)
            | FailoverAbortNotElected(at)
            | FailoverStateSelectSlave(at)
            | FailoverAbortNoGoodSlave(at)
            | SelectedSlave(at)
            | FailoverStateSendSlaveofNoone(at)
            | FailoverAbortSlaveTimeout(at)
            | FailoverStateWaitPromotion(at)
            | PromotedSlave(at)
            | FailoverStateReconfSlaves(at)
            | SlaveReconfSent(at)
            | SlaveReconfInprog(at)
            | SlaveReconfDone(at)
            | SlaveReconfSentTimeout(at)
            | SlaveReconfSentBe(at)
            | FailoverEndForTimeout(at)
            | FailoverEnd(at)
            | ConfigUpdateFrom(at) => Some(at),
            NewEpoch { .. }
            | VoteForLeader { .. }
            | SwitchMaster { .. }
            | Tilt
            | TiltExit
            | ScriptError { .. }
            | ScriptTimeout { .. }
            | ScriptChild { .. }
            | ScriptChildExit { .. } => None,
        }
    }
}

/// The payload, exactly as Redis publishes it.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Event::*;
        match self {
            Monitor { at, quorum } => write!(f, "{at} quorum {quorum}"),
            Set { at, option, value } => write!(f, "{at} {option} {value}"),
            SentinelAddressSwitch { at, addr, runid } => {
                write!(f, "{at} ip {} port {} for {runid}", addr.host, addr.port)
            }
            SentinelAddressUpdate { at, count } => {
                write!(f, "{at} {count} additional matching instances")
            }
            RoleChange { at, role, .. } => write!(f, "{at} new reported role is {role}"),
            Odown { at, votes, quorum } => write!(f, "{at} #quorum {votes}/{quorum}"),
            Tilt => f.write_str("#tilt mode entered"),
            TiltExit => f.write_str("#tilt mode exited"),
            NewEpoch { epoch, .. } => write!(f, "{epoch}"),
            VoteForLeader { runid, epoch, .. } => write!(f, "{runid} {epoch}"),
            SwitchoverRefused { at, why } => write!(f, "{at} {why}"),
            SlaveFenced { at, epoch, offset } => write!(f, "{at} #epoch {epoch} offset {offset}"),
            FailoverWaitFence {
                at,
                fenced,
                need,
                why,
            } => write!(f, "{at} #fenced {fenced}/{need} {why}"),
            SwitchMaster { name, old, new } => write!(
                f,
                "{name} {} {} {} {}",
                old.host, old.port, new.host, new.port
            ),
            ScriptError { path, signal, code } => write!(f, "{path} {signal} {code}"),
            ScriptTimeout { path, pid } => write!(f, "{path} {pid}"),
            ScriptChild { pid } => write!(f, "{pid}"),
            ScriptChildExit { pid, code, signal } => write!(f, "{pid} {code} {signal}"),
            CmdLinkReconnection { at, error } | PubsubLinkReconnection { at, error } => {
                write!(f, "{at} #{error}")
            }
            Unmonitor(at)
            | ResetMaster(at)
            | Slave(at)
            | Sentinel(at)
            | SentinelRemoved(at)
            | SentinelInvalidAddr(at)
            | Reboot(at)
            | ConvertToSlave(at)
            | FixSlaveConfig(at)
            | Sdown(at)
            | SdownCleared(at)
            | OdownCleared(at)
            | TryFailover(at)
            | ElectedLeader(at)
            | FailoverAbortNotElected(at)
            | FailoverStateSelectSlave(at)
            | FailoverAbortNoGoodSlave(at)
            | SelectedSlave(at)
            | FailoverStateSendSlaveofNoone(at)
            | FailoverAbortSlaveTimeout(at)
            | FailoverStateWaitPromotion(at)
            | PromotedSlave(at)
            | FailoverStateReconfSlaves(at)
            | SlaveReconfSent(at)
            | SlaveReconfInprog(at)
            | SlaveReconfDone(at)
            | SlaveReconfSentTimeout(at)
            | SlaveReconfSentBe(at)
            | FailoverEndForTimeout(at)
            | FailoverEnd(at)
            | ConfigUpdateFrom(at) => write!(f, "{at}"),
        }
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
