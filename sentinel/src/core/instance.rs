//! The instances the core knows, by role: what every instance has ([`Instance`]: address,
//! run id, link and health, what INFO said) and what only one role has ([`Replica`]: its
//! replication as INFO reports it and its part in a failover; [`PeerSentinel`]: hellos and
//! votes of another sentinel).

use super::{Addr, InfoFields, Ms};

/// The role an instance reports in INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Unknown,
    Master,
    Slave,
}

/// One monitored instance (master, replica or other sentinel): link state and what INFO
/// told about it.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub addr: Addr,
    pub runid: Option<String>,
    pub connected: bool,
    pub link_since: Ms,
    /// When the oldest unanswered PING was sent (Redis's `act_ping_time`), None if none.
    pub act_ping: Option<Ms>,
    pub last_ping: Option<Ms>,
    pub last_pong: Option<Ms>,
    /// Last valid PING reply (`last_avail_time`).
    pub last_avail: Ms,
    pub last_hello_sent: Option<Ms>,
    pub sdown_since: Option<Ms>,
    /// When it last entered SDOWN (kept after it leaves it: Redis's `s_down_since_time`).
    pub last_sdown: Option<Ms>,
    // INFO
    pub info_refresh: Option<Ms>,
    pub info: Option<String>,
    pub role: Role,
    pub role_time: Ms,
    pub info_sent: Option<Ms>,
    /// Since when no link to the instance can be opened for a reason of our own (out of
    /// descriptors, buffers, memory, local ports): meanwhile nothing is learned about the
    /// instance, so its silence does not count towards SDOWN (see `links.rs`).
    pub local_error_since: Option<Ms>,
}

impl Instance {
    pub fn new(name: String, addr: Addr, now: Ms) -> Instance {
        Instance {
            name,
            addr,
            runid: None,
            connected: false,
            link_since: now,
            act_ping: Some(now),
            last_ping: None,
            last_pong: None,
            last_avail: now,
            last_hello_sent: None,
            sdown_since: None,
            last_sdown: None,
            info_refresh: None,
            info: None,
            role: Role::Unknown,
            role_time: now,
            info_sent: None,
            local_error_since: None,
        }
    }
}

/// A replica of a monitored master: its link and health, its replication as its INFO
/// reports it, and its part in a failover.
#[derive(Debug, Clone)]
pub struct Replica {
    pub inst: Instance,
    // INFO
    pub master_link_down_ms: u64,
    pub master_link_up: bool,
    pub master_host: Option<String>,
    pub master_port: u16,
    pub priority: i64,
    pub repl_offset: u64,
    pub announced: bool,
    /// `failover_epoch` (strict failover safety): the epoch it was fenced at.
    pub failover_epoch: u64,
    /// When the master it reports last changed (Redis's `slave_conf_change_time`).
    pub conf_change_time: Ms,
    // flags during a failover
    pub promoted: bool,
    pub reconf_sent: bool,
    pub reconf_inprog: bool,
    pub reconf_done: bool,
    pub reconf_sent_time: Ms,
}

impl Replica {
    /// A replica known by its address (its name is `ip:port`).
    pub fn new(addr: Addr, now: Ms) -> Replica {
        Replica {
            inst: Instance::new(addr.name(), addr, now),
            master_link_down_ms: 0,
            master_link_up: false,
            master_host: None,
            master_port: 0,
            priority: 100,
            repl_offset: 0,
            announced: true,
            failover_epoch: 0,
            conf_change_time: now,
            promoted: false,
            reconf_sent: false,
            reconf_inprog: false,
            reconf_done: false,
            reconf_sent_time: 0,
        }
    }

    /// Take what its INFO says about its replication (Redis's
    /// `sentinelRefreshInstanceInfo` for a slave).
    pub fn refresh(&mut self, info: &InfoFields, now: Ms) {
        if self.master_host != info.master_host || self.master_port != info.master_port {
            self.conf_change_time = now;
        }
        self.master_link_down_ms = info.link_down_ms;
        self.master_link_up = info.link_up;
        self.master_host = info.master_host.clone();
        self.master_port = info.master_port;
        if let Some(p) = info.priority {
            self.priority = p;
        }
        self.repl_offset = info.repl_offset;
        self.announced = info.announced;
        self.failover_epoch = info.failover_epoch;
    }

    /// Its flags, Redis's order.
    pub fn flags(&self) -> String {
        let mut f = common_flags(&self.inst, "slave");
        if self.promoted {
            f.push("promoted");
        }
        if self.reconf_sent {
            f.push("reconf_sent");
        }
        if self.reconf_inprog {
            f.push("reconf_inprog");
        }
        if self.reconf_done {
            f.push("reconf_done");
        }
        f.join(",")
    }
}

/// Another sentinel that monitors the same master: its link and health, what it told us in
/// hellos and in its replies to is-master-down-by-addr.
#[derive(Debug, Clone)]
pub struct PeerSentinel {
    pub inst: Instance,
    /// When its last hello was received.
    pub last_hello: Option<Ms>,
    /// Its vote (`leader`, `leader_epoch`), from its last reply to is-master-down-by-addr.
    pub leader: Option<String>,
    pub leader_epoch: u64,
    /// Whether its last reply said the master is down.
    pub master_down: bool,
    pub last_master_down_reply: Option<Ms>,
    /// When it was last asked is-master-down-by-addr.
    pub last_ask: Option<Ms>,
}

impl PeerSentinel {
    /// A sentinel known by its run id (its name) and address.
    pub fn new(runid: String, addr: Addr, now: Ms) -> PeerSentinel {
        let mut inst = Instance::new(runid.clone(), addr, now);
        inst.runid = Some(runid);
        PeerSentinel {
            inst,
            last_hello: None,
            leader: None,
            leader_epoch: 0,
            master_down: false,
            last_master_down_reply: None,
            last_ask: None,
        }
    }

    /// Its flags, Redis's order.
    pub fn flags(&self) -> String {
        let mut f = common_flags(&self.inst, "sentinel");
        if self.master_down {
            f.push("master_down");
        }
        f.join(",")
    }
}

/// The flags every replica or sentinel may have, Redis's order: `s_down`, its role word,
/// `disconnected`.
pub(super) fn common_flags(i: &Instance, role: &'static str) -> Vec<&'static str> {
    let mut f = Vec::new();
    if i.sdown_since.is_some() {
        f.push("s_down");
    }
    f.push(role);
    if !i.connected {
        f.push("disconnected");
    }
    f
}
