//! The Sentinel's decisions, as a pure state machine: [`Core::step`] takes the time and one
//! input (a timer tick, a reply, a hello, a link going up or down) and returns the actions
//! the shell must perform (send PING/INFO/hello, ask peers, reconfigure servers, publish an
//! event, save the state). No I/O and no clock reads here: the same inputs give the same
//! actions, which is what the unit tests and the simulation rely on.
//!
//! The rules are Redis 7.0's `sentinel.c` (see `../shared/reference/redis-ha.md` §2).

use std::collections::BTreeMap;

use picket_common::ids::Rng;
use rand::RngExt;

/// Milliseconds on the shell's monotonic clock.
pub type Ms = u64;

/// Timer periods (`SENTINEL DEBUG` changes them), in ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timers {
    pub info_period: Ms,
    pub ping_period: Ms,
    pub ask_period: Ms,
    pub publish_period: Ms,
    pub default_down_after: Ms,
    pub tilt_trigger: Ms,
    pub tilt_period: Ms,
    pub slave_reconf_timeout: Ms,
    pub min_link_reconnect_period: Ms,
    pub default_failover_timeout: Ms,
    pub election_timeout: Ms,
    pub script_max_runtime: Ms,
    pub script_retry_delay: Ms,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            info_period: 10_000,
            ping_period: 1_000,
            ask_period: 1_000,
            publish_period: 2_000,
            default_down_after: 30_000,
            tilt_trigger: 2_000,
            tilt_period: 30_000,
            slave_reconf_timeout: 10_000,
            min_link_reconnect_period: 15_000,
            default_failover_timeout: 180_000,
            election_timeout: 10_000,
            script_max_runtime: 60_000,
            script_retry_delay: 30_000,
        }
    }
}

impl Timers {
    /// `SENTINEL DEBUG` names, in Redis's order.
    pub const NAMES: [&'static str; 13] = [
        "info-period",
        "ping-period",
        "ask-period",
        "publish-period",
        "default-down-after",
        "tilt-trigger",
        "tilt-period",
        "slave-reconf-timeout",
        "min-link-reconnect-period",
        "default-failover-timeout",
        "election-timeout",
        "script-max-runtime",
        "script-retry-delay",
    ];

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Ms> {
        Some(match name {
            "info-period" => &mut self.info_period,
            "ping-period" => &mut self.ping_period,
            "ask-period" => &mut self.ask_period,
            "publish-period" => &mut self.publish_period,
            "default-down-after" => &mut self.default_down_after,
            "tilt-trigger" => &mut self.tilt_trigger,
            "tilt-period" => &mut self.tilt_period,
            "slave-reconf-timeout" => &mut self.slave_reconf_timeout,
            "min-link-reconnect-period" => &mut self.min_link_reconnect_period,
            "default-failover-timeout" => &mut self.default_failover_timeout,
            "election-timeout" => &mut self.election_timeout,
            "script-max-runtime" => &mut self.script_max_runtime,
            "script-retry-delay" => &mut self.script_retry_delay,
            _ => return None,
        })
    }
}

/// A host and port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr {
    pub host: String,
    pub port: u16,
}

impl Addr {
    pub fn new(host: impl Into<String>, port: u16) -> Addr {
        Addr {
            host: host.into(),
            port,
        }
    }

    /// `ip:port`, IPv6 in brackets (a replica's name).
    pub fn name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Which instance an input or action is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Master(String),
    /// Master name, replica name (`ip:port`).
    Replica(String, String),
    /// Master name, sentinel run id. (Redis shares one link per sentinel across masters;
    /// the shell may do the same keyed by address.)
    Sentinel(String, String),
}

impl Target {
    pub fn master(&self) -> &str {
        match self {
            Target::Master(m) | Target::Replica(m, _) | Target::Sentinel(m, _) => m,
        }
    }
}

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
    // INFO
    pub info_refresh: Option<Ms>,
    pub info: Option<String>,
    pub role: Role,
    pub role_time: Ms,
    pub master_link_down_ms: u64,
    pub master_link_up: bool,
    pub master_host: Option<String>,
    pub master_port: u16,
    pub priority: i64,
    pub repl_offset: u64,
    pub announced: bool,
    // replica flags during a failover
    pub promoted: bool,
    pub reconf_sent: bool,
    pub reconf_inprog: bool,
    pub reconf_done: bool,
    pub reconf_sent_time: Ms,
    // sentinels
    pub last_hello: Option<Ms>,
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub master_down: bool,
    pub last_master_down_reply: Option<Ms>,
    pub last_ask: Option<Ms>,
    pub info_sent: Option<Ms>,
    /// Masters: reboot seen (`run_id` changed) at this time.
    pub reboot_since: Option<Ms>,
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
            info_refresh: None,
            info: None,
            role: Role::Unknown,
            role_time: now,
            master_link_down_ms: 0,
            master_link_up: false,
            master_host: None,
            master_port: 0,
            priority: 100,
            repl_offset: 0,
            announced: true,
            promoted: false,
            reconf_sent: false,
            reconf_inprog: false,
            reconf_done: false,
            reconf_sent_time: 0,
            last_hello: None,
            leader: None,
            leader_epoch: 0,
            master_down: false,
            last_master_down_reply: None,
            last_ask: None,
            info_sent: None,
            reboot_since: None,
        }
    }
}

/// The failover state machine (Redis's `failover_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailoverState {
    None,
    WaitStart,
    SelectSlave,
    SendSlaveofNoone,
    WaitPromotion,
    ReconfSlaves,
    UpdateConfig,
}

impl FailoverState {
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// A monitored master with its replicas and the other sentinels that monitor it.
#[derive(Debug, Clone)]
pub struct Master {
    pub inst: Instance,
    pub quorum: u32,
    pub down_after: Ms,
    pub failover_timeout: Ms,
    pub parallel_syncs: u32,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    pub notification_script: Option<String>,
    pub client_reconfig_script: Option<String>,
    pub reboot_down_after: Ms,
    pub renamed: BTreeMap<String, String>,
    pub config_epoch: u64,
    /// This sentinel's vote for this master (`leader`, `leader_epoch`).
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub odown_since: Option<Ms>,
    pub failover_state: FailoverState,
    pub failover_epoch: u64,
    pub failover_state_change: Ms,
    pub failover_start_time: Ms,
    pub force_failover: bool,
    pub replicas: BTreeMap<String, Instance>,
    pub sentinels: BTreeMap<String, Instance>,
}

impl Master {
    pub fn new(name: &str, addr: Addr, quorum: u32, timers: &Timers, now: Ms) -> Master {
        Master {
            inst: Instance::new(name.to_string(), addr, now),
            quorum,
            down_after: timers.default_down_after,
            failover_timeout: timers.default_failover_timeout,
            parallel_syncs: 1,
            auth_pass: None,
            auth_user: None,
            notification_script: None,
            client_reconfig_script: None,
            reboot_down_after: 0,
            renamed: BTreeMap::new(),
            config_epoch: 0,
            leader: None,
            leader_epoch: 0,
            odown_since: None,
            failover_state: FailoverState::None,
            failover_epoch: 0,
            failover_state_change: 0,
            failover_start_time: 0,
            force_failover: false,
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
        }
    }

    pub fn in_failover(&self) -> bool {
        self.failover_state != FailoverState::None
    }

    /// The promoted replica, once one was selected.
    pub fn promoted(&self) -> Option<&Instance> {
        self.replicas.values().find(|r| r.promoted)
    }

    /// The address clients should use: the promoted replica once the failover reconfigures
    /// the others (Redis's `sentinelGetCurrentMasterAddress`).
    pub fn current_addr(&self) -> Addr {
        if self.failover_state >= FailoverState::ReconfSlaves {
            if let Some(p) = self.promoted() {
                return p.addr.clone();
            }
        }
        self.inst.addr.clone()
    }

    /// Comma-separated flags, Redis's order.
    pub fn flags(&self) -> String {
        let mut f = Vec::new();
        if self.inst.sdown_since.is_some() {
            f.push("s_down");
        }
        if self.odown_since.is_some() {
            f.push("o_down");
        }
        f.push("master");
        if !self.inst.connected {
            f.push("disconnected");
        }
        if self.in_failover() {
            f.push("failover_in_progress");
        }
        if self.force_failover {
            f.push("force_failover");
        }
        f.join(",")
    }
}

/// Flags of a replica or sentinel.
pub fn instance_flags(i: &Instance, sentinel: bool) -> String {
    let mut f = Vec::new();
    if i.sdown_since.is_some() {
        f.push("s_down");
    }
    f.push(if sentinel { "sentinel" } else { "slave" });
    if !i.connected {
        f.push("disconnected");
    }
    if i.master_down {
        f.push("master_down");
    }
    if i.promoted {
        f.push("promoted");
    }
    if i.reconf_sent {
        f.push("reconf_sent");
    }
    if i.reconf_inprog {
        f.push("reconf_inprog");
    }
    if i.reconf_done {
        f.push("reconf_done");
    }
    f.join(",")
}

/// Event levels: debug ones are only logged, warning ones run the notification script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open (or keep) the links of an instance.
    Connect(Target, Addr),
    /// Close the links of an instance (it was removed or its auth changed).
    Disconnect(Target),
    Ping(Target),
    Info(Target),
    /// PUBLISH __sentinel__:hello <payload> through the instance.
    Hello(Target, String),
    /// SENTINEL is-master-down-by-addr to a peer.
    AskMasterDown {
        to: Target,
        master_ip: String,
        master_port: u16,
        epoch: u64,
        runid: String,
    },
    /// Reconfigure a server: `MULTI; REPLICAOF <addr>|NO ONE; CONFIG REWRITE; CLIENT KILL
    /// TYPE normal; CLIENT KILL TYPE pubsub; EXEC`.
    ReplicaOf(Target, Option<Addr>),
    /// Publish (and log) an event; `master` is the master name for the scripts.
    Event {
        level: Level,
        kind: String,
        msg: String,
        master: Option<String>,
    },
    /// Run the client reconfig script: master, role (leader|observer), state, from, to.
    ReconfigScript {
        master: String,
        role: &'static str,
        from: Addr,
        to: Addr,
    },
    /// Save the state (config rewrite).
    Flush,
    /// SENTINEL SIMULATE-FAILURE reached its point: the process exits with 99.
    Crash,
}

/// Inputs from the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The periodic timer.
    Tick,
    Connected(Target),
    Disconnected(Target),
    /// The first line of a PING reply (`+PONG`, `-LOADING ...`).
    PingReply(Target, String),
    InfoReply(Target, String),
    /// A hello received on a link (pub/sub message, or PUBLISH from a peer).
    Hello(String),
    /// Reply to is-master-down-by-addr from a peer.
    MasterDownReply {
        from: Target,
        down: bool,
        leader: String,
        epoch: u64,
    },
}

/// Simulated failures (SENTINEL SIMULATE-FAILURE).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimFailure {
    pub crash_after_election: bool,
    pub crash_after_promotion: bool,
}

/// The whole Sentinel state.
#[derive(Debug)]
pub struct Core {
    pub myid: String,
    pub current_epoch: u64,
    pub masters: BTreeMap<String, Master>,
    pub timers: Timers,
    pub tilt_since: Option<Ms>,
    pub previous_tick: Option<Ms>,
    /// The address this sentinel announces in hellos (announce-ip or the link's local
    /// address, filled by the shell) and its port.
    pub announce_ip: String,
    pub announce_port: u16,
    pub sim: SimFailure,
    pub rng: Rng,
    out: Vec<Action>,
}

/// The SDOWN check, as Redis: no valid reply for longer than down-after.
fn check_sdown(
    inst: &mut Instance,
    down_after: Ms,
    now: Ms,
    out: &mut Vec<Action>,
    ev: &dyn Fn(&Instance) -> String,
) -> bool {
    let elapsed = match inst.act_ping {
        Some(t) if inst.connected => now.saturating_sub(t),
        _ if !inst.connected => now.saturating_sub(inst.last_avail),
        _ => 0,
    };
    let down = elapsed > down_after;
    if down && inst.sdown_since.is_none() {
        inst.sdown_since = Some(now);
        out.push(Action::Event {
            level: Level::Warning,
            kind: "+sdown".into(),
            msg: ev(inst),
            master: None,
        });
        return true;
    }
    if !down && inst.sdown_since.is_some() {
        inst.sdown_since = None;
        out.push(Action::Event {
            level: Level::Warning,
            kind: "-sdown".into(),
            msg: ev(inst),
            master: None,
        });
    }
    false
}

impl Core {
    pub fn new(myid: String, rng: Rng) -> Core {
        Core {
            myid,
            current_epoch: 0,
            masters: BTreeMap::new(),
            timers: Timers::default(),
            tilt_since: None,
            previous_tick: None,
            announce_ip: String::new(),
            announce_port: 26379,
            sim: SimFailure::default(),
            rng,
            out: Vec::new(),
        }
    }

    fn event(&mut self, level: Level, kind: &str, msg: String, master: Option<&str>) {
        self.out.push(Action::Event {
            level,
            kind: kind.to_string(),
            msg,
            master: master.map(str::to_string),
        });
    }

    /// `%@` for a master: `master <name> <ip> <port>`.
    pub fn at_master(m: &Master) -> String {
        format!(
            "master {} {} {}",
            m.inst.name, m.inst.addr.host, m.inst.addr.port
        )
    }

    /// `%@` for a replica or sentinel: `<type> <name> <ip> <port> @ <master> <ip> <port>`.
    pub fn at_child(kind: &str, i: &Instance, m: &Master) -> String {
        format!(
            "{kind} {} {} {} @ {} {} {}",
            i.name, i.addr.host, i.addr.port, m.inst.name, m.inst.addr.host, m.inst.addr.port
        )
    }

    /// Add a master (config `monitor` or SENTINEL MONITOR).
    pub fn monitor(&mut self, name: &str, addr: Addr, quorum: u32, now: Ms) -> &mut Master {
        let m = Master::new(name, addr.clone(), quorum, &self.timers, now);
        self.out
            .push(Action::Connect(Target::Master(name.to_string()), addr));
        self.masters.entry(name.to_string()).or_insert(m)
    }

    /// Run one input; returns the actions.
    pub fn step(&mut self, now: Ms, input: Input) -> Vec<Action> {
        match input {
            Input::Tick => self.tick(now),
            Input::Connected(t) => {
                if let Some(i) = self.instance_mut(&t) {
                    i.connected = true;
                    i.link_since = now;
                    i.act_ping = Some(now);
                }
                // A first PING at once.
                self.out.push(Action::Ping(t.clone()));
                if let Some(i) = self.instance_mut(&t) {
                    i.last_ping = Some(now);
                }
                if !matches!(t, Target::Sentinel(..)) {
                    self.out.push(Action::Info(t));
                }
            }
            Input::Disconnected(t) => {
                if let Some(i) = self.instance_mut(&t) {
                    i.connected = false;
                    i.act_ping = None;
                }
            }
            Input::PingReply(t, line) => self.ping_reply(now, &t, &line),
            Input::InfoReply(t, text) => self.info_reply(now, &t, &text),
            Input::Hello(payload) => self.hello(now, &payload),
            Input::MasterDownReply {
                from,
                down,
                leader,
                epoch,
            } => self.master_down_reply(now, &from, down, &leader, epoch),
        }
        std::mem::take(&mut self.out)
    }

    /// Queue actions to hand out with the next `take_actions`.
    pub fn push_actions(&mut self, mut a: Vec<Action>) {
        self.out.append(&mut a);
    }

    /// Actions produced outside `step` (monitor, commands).
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    pub fn instance_mut(&mut self, t: &Target) -> Option<&mut Instance> {
        match t {
            Target::Master(m) => self.masters.get_mut(m).map(|m| &mut m.inst),
            Target::Replica(m, r) => self.masters.get_mut(m)?.replicas.get_mut(r),
            Target::Sentinel(m, s) => self.masters.get_mut(m)?.sentinels.get_mut(s),
        }
    }

    pub fn instance(&self, t: &Target) -> Option<&Instance> {
        match t {
            Target::Master(m) => self.masters.get(m).map(|m| &m.inst),
            Target::Replica(m, r) => self.masters.get(m)?.replicas.get(r),
            Target::Sentinel(m, s) => self.masters.get(m)?.sentinels.get(s),
        }
    }

    fn ping_reply(&mut self, now: Ms, t: &Target, line: &str) {
        let Some(i) = self.instance_mut(t) else {
            return;
        };
        let valid = line.starts_with("+PONG")
            || line.starts_with("-LOADING")
            || line.starts_with("-MASTERDOWN");
        i.last_pong = Some(now);
        if valid {
            i.last_avail = now;
            i.act_ping = None;
            if matches!(t, Target::Master(_)) {
                i.reboot_since = None;
            }
        }
    }

    // ------------------------------------------------------------------ timer

    fn tick(&mut self, now: Ms) {
        // TILT: the timer stalled or jumped.
        if let Some(prev) = self.previous_tick {
            let delta = now as i64 - prev as i64;
            if delta < 0 || delta as u64 > self.timers.tilt_trigger {
                if self.tilt_since.is_none() {
                    self.event(Level::Warning, "+tilt", "#tilt mode entered".into(), None);
                }
                self.tilt_since = Some(now);
            }
        }
        self.previous_tick = Some(now);
        if let Some(since) = self.tilt_since {
            if now.saturating_sub(since) > self.timers.tilt_period {
                self.tilt_since = None;
                self.event(Level::Warning, "-tilt", "#tilt mode exited".into(), None);
            }
        }
        let names: Vec<String> = self.masters.keys().cloned().collect();
        for name in names {
            self.periodic(now, &name);
        }
    }

    /// Everything done per master each tick (Redis's `sentinelHandleRedisInstance` for the
    /// master and its replicas and sentinels).
    fn periodic(&mut self, now: Ms, name: &str) {
        let tilt = self.tilt_since.is_some();
        let timers = self.timers.clone();
        let myid = self.myid.clone();
        let epoch = self.current_epoch;
        let announce = (self.announce_ip.clone(), self.announce_port);
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let mut out = Vec::new();
        let master_failing = m.odown_since.is_some() || m.in_failover();
        let cur = m.current_addr();
        let hello = format!(
            "{},{},{},{},{},{},{},{}",
            announce.0, announce.1, myid, epoch, m.inst.name, cur.host, cur.port, m.config_epoch
        );
        let down_after = m.down_after;
        // Periodic commands.
        let send = |t: Target, i: &mut Instance, kind: u8, out: &mut Vec<Action>| {
            if !i.connected {
                return;
            }
            if kind != 2 {
                let period = if kind == 1 && (master_failing || i.master_link_down_ms != 0) {
                    1000
                } else {
                    timers.info_period
                };
                let stale = i
                    .info_refresh
                    .is_none_or(|r| now.saturating_sub(r) > period);
                let asked = i
                    .info_sent
                    .is_some_and(|s| now.saturating_sub(s) < period.min(1000));
                if stale && !asked {
                    out.push(Action::Info(t.clone()));
                    i.info_sent = Some(now);
                }
            }
            let ping_period = down_after.min(timers.ping_period);
            if i.last_pong
                .is_none_or(|p| now.saturating_sub(p) > ping_period)
                && i.last_ping
                    .is_none_or(|p| now.saturating_sub(p) > ping_period / 2)
            {
                out.push(Action::Ping(t.clone()));
                i.last_ping = Some(now);
                if i.act_ping.is_none() {
                    i.act_ping = Some(now);
                }
            }
            if i.last_hello_sent
                .is_none_or(|h| now.saturating_sub(h) > timers.publish_period)
            {
                out.push(Action::Hello(t.clone(), hello.clone()));
                i.last_hello_sent = Some(now);
            }
        };
        send(Target::Master(name.to_string()), &mut m.inst, 0, &mut out);
        for (k, r) in m.replicas.iter_mut() {
            send(Target::Replica(name.to_string(), k.clone()), r, 1, &mut out);
        }
        for (k, s) in m.sentinels.iter_mut() {
            send(
                Target::Sentinel(name.to_string(), k.clone()),
                s,
                2,
                &mut out,
            );
        }
        // Reconnect disconnected instances (the shell keeps trying; this re-requests).
        self.out.append(&mut out);
        if tilt {
            return;
        }
        self.check_down(now, name);
        self.failover_step(now, name);
        self.ask_others(now, name, false);
    }

    fn check_down(&mut self, now: Ms, name: &str) {
        let timers = self.timers.clone();
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let mut out = Vec::new();
        let at = Core::at_master(m);
        let down_after = m.down_after;
        // A master that reports itself as a replica for long enough is down too.
        let reports_slave = m.inst.role == Role::Slave
            && now.saturating_sub(m.inst.role_time) > down_after + 2 * timers.info_period;
        let rebooted = m.reboot_down_after > 0
            && m.inst
                .reboot_since
                .is_some_and(|t| now.saturating_sub(t) > m.reboot_down_after);
        {
            let inst = &mut m.inst;
            if reports_slave || rebooted {
                if inst.sdown_since.is_none() {
                    inst.sdown_since = Some(now);
                    out.push(Action::Event {
                        level: Level::Warning,
                        kind: "+sdown".into(),
                        msg: at.clone(),
                        master: Some(name.to_string()),
                    });
                }
            } else {
                let a = at.clone();
                check_sdown(inst, down_after, now, &mut out, &move |_| a.clone());
            }
        }
        let m_ro = m.clone();
        for r in m.replicas.values_mut() {
            check_sdown(r, down_after, now, &mut out, &|i| {
                Core::at_child("slave", i, &m_ro)
            });
        }
        for s in m.sentinels.values_mut() {
            check_sdown(s, down_after, now, &mut out, &|i| {
                Core::at_child("sentinel", i, &m_ro)
            });
        }
        // Votes older than 5 s do not count.
        for s in m.sentinels.values_mut() {
            if s.last_master_down_reply
                .is_some_and(|t| now.saturating_sub(t) > 5 * timers.ask_period)
            {
                s.master_down = false;
                s.leader = None;
            }
        }
        // ODOWN: self (if SDOWN) + sentinels that say so >= quorum.
        let mut votes = 0u32;
        if m.inst.sdown_since.is_some() {
            votes = 1 + m.sentinels.values().filter(|s| s.master_down).count() as u32;
        }
        let odown = m.inst.sdown_since.is_some() && votes >= m.quorum;
        if odown && m.odown_since.is_none() {
            m.odown_since = Some(now);
            out.push(Action::Event {
                level: Level::Warning,
                kind: "+odown".into(),
                msg: format!("{at} #quorum {votes}/{}", m.quorum),
                master: Some(name.to_string()),
            });
        } else if !odown && m.odown_since.is_some() {
            m.odown_since = None;
            out.push(Action::Event {
                level: Level::Warning,
                kind: "-odown".into(),
                msg: at,
                master: Some(name.to_string()),
            });
        }
        for a in &mut out {
            if let Action::Event { master, .. } = a {
                master.get_or_insert_with(|| name.to_string());
            }
        }
        self.out.append(&mut out);
    }

    /// Ask the other sentinels whether they see the master down (and, during our failover,
    /// for their vote).
    fn ask_others(&mut self, now: Ms, name: &str, force: bool) {
        let ask_period = self.timers.ask_period;
        let myid = self.myid.clone();
        let epoch = self.current_epoch;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if m.inst.sdown_since.is_none() {
            return;
        }
        let runid = if m.in_failover() {
            myid
        } else {
            "*".to_string()
        };
        let addr = m.inst.addr.clone();
        for (k, s) in m.sentinels.iter_mut() {
            if !s.connected {
                continue;
            }
            let due = s
                .last_ask
                .is_none_or(|t| now.saturating_sub(t) >= ask_period);
            if !(force || due) {
                continue;
            }
            s.last_ask = Some(now);
            self.out.push(Action::AskMasterDown {
                to: Target::Sentinel(name.to_string(), k.clone()),
                master_ip: addr.host.clone(),
                master_port: addr.port,
                epoch,
                runid: runid.clone(),
            });
        }
    }

    fn master_down_reply(&mut self, now: Ms, from: &Target, down: bool, leader: &str, epoch: u64) {
        let Some(s) = self.instance_mut(from) else {
            return;
        };
        s.last_master_down_reply = Some(now);
        s.master_down = down;
        if leader != "*" {
            s.leader = Some(leader.to_string());
            s.leader_epoch = epoch;
        }
    }

    /// SENTINEL is-master-down-by-addr: our view, and our vote when a run id asks for it.
    /// Returns (down, leader, leader_epoch).
    pub fn is_master_down_by_addr(
        &mut self,
        now: Ms,
        addr: &Addr,
        req_epoch: u64,
        runid: &str,
    ) -> (bool, String, u64) {
        let Some(name) = self
            .masters
            .iter()
            .find(|(_, m)| m.inst.addr == *addr)
            .map(|(n, _)| n.clone())
        else {
            return (false, "*".into(), 0);
        };
        let tilt = self.tilt_since.is_some();
        let down = !tilt
            && self
                .masters
                .get(&name)
                .is_some_and(|m| m.inst.sdown_since.is_some());
        if runid == "*" {
            return (down, "*".into(), 0);
        }
        let (leader, epoch) = self.vote_leader(now, &name, req_epoch, runid);
        (down, leader.unwrap_or_else(|| "*".into()), epoch)
    }

    /// Redis's `sentinelVoteLeader`: one vote per epoch, first come first served.
    pub fn vote_leader(
        &mut self,
        now: Ms,
        name: &str,
        req_epoch: u64,
        runid: &str,
    ) -> (Option<String>, u64) {
        if req_epoch > self.current_epoch {
            self.current_epoch = req_epoch;
            self.out.push(Action::Flush);
            let e = self.current_epoch.to_string();
            self.event(Level::Warning, "+new-epoch", e, Some(name));
        }
        let current = self.current_epoch;
        let myid = self.myid.clone();
        let jitter = self.rng.random::<u64>() % 1000;
        let Some(m) = self.masters.get_mut(name) else {
            return (None, 0);
        };
        if m.leader_epoch < req_epoch && current <= req_epoch {
            m.leader = Some(runid.to_string());
            m.leader_epoch = current;
            let at = Core::at_master(m);
            let _ = at;
            self.out.push(Action::Flush);
            self.out.push(Action::Event {
                level: Level::Warning,
                kind: "+vote-for-leader".into(),
                msg: format!("{runid} {current}"),
                master: Some(name.to_string()),
            });
            // Voting for another: do not start our own failover soon.
            if runid != myid {
                m.failover_start_time = now + jitter;
            }
        }
        (m.leader.clone(), m.leader_epoch)
    }

    /// Redis's `sentinelGetLeader`: the run id with a majority of the voters and at least
    /// quorum votes in `epoch`, if any.
    pub fn get_leader(&mut self, now: Ms, name: &str, epoch: u64) -> Option<String> {
        let myid = self.myid.clone();
        let m = self.masters.get(name)?;
        let voters = m.sentinels.len() as u32 + 1;
        let quorum = m.quorum;
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for s in m.sentinels.values() {
            if let Some(l) = &s.leader {
                if s.leader_epoch == self.current_epoch {
                    *counts.entry(l.clone()).or_default() += 1;
                }
            }
        }
        // Our own vote: for the most voted, or ourselves (ties: the smallest run id, for
        // determinism).
        let mut best: Option<(String, u32)> = None;
        for (id, n) in &counts {
            if best.as_ref().is_none_or(|(_, b)| n > b) {
                best = Some((id.clone(), *n));
            }
        }
        let mine = best.map(|(id, _)| id).unwrap_or(myid);
        let (voted, _) = self.vote_leader(now, name, epoch, &mine);
        if let Some(v) = voted {
            *counts.entry(v).or_default() += 1;
        }
        let (winner, n) = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(k, v)| (k.clone(), *v))?;
        (n > voters / 2 && n >= quorum).then_some(winner)
    }

    // ------------------------------------------------------------------ failover

    fn failover_step(&mut self, now: Ms, name: &str) {
        self.start_failover_if_needed(now, name);
        let Some(state) = self.masters.get(name).map(|m| m.failover_state) else {
            return;
        };
        match state {
            FailoverState::None => {}
            FailoverState::WaitStart => self.fo_wait_start(now, name),
            FailoverState::SelectSlave => self.fo_select_slave(now, name),
            FailoverState::SendSlaveofNoone => self.fo_send_slaveof_noone(now, name),
            FailoverState::WaitPromotion => {
                let timeout = self.masters[name].failover_timeout;
                if now.saturating_sub(self.masters[name].failover_state_change) > timeout {
                    self.abort_failover(name, "-failover-abort-slave-timeout");
                }
            }
            FailoverState::ReconfSlaves => self.fo_reconf_slaves(now, name),
            FailoverState::UpdateConfig => self.switch_to_promoted(now, name),
        }
    }

    fn start_failover_if_needed(&mut self, now: Ms, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        if m.odown_since.is_none() || m.in_failover() {
            return;
        }
        if now.saturating_sub(m.failover_start_time) < 2 * m.failover_timeout
            && m.failover_start_time != 0
        {
            return;
        }
        self.start_failover(now, name);
    }

    fn start_failover(&mut self, now: Ms, name: &str) {
        self.current_epoch += 1;
        let epoch = self.current_epoch;
        let jitter = self.rng.random::<u64>() % 1000;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        m.failover_state = FailoverState::WaitStart;
        m.failover_state_change = now;
        m.failover_epoch = epoch;
        m.failover_start_time = now + jitter;
        let at = Core::at_master(m);
        self.event(Level::Warning, "+new-epoch", epoch.to_string(), Some(name));
        self.event(Level::Warning, "+try-failover", at, Some(name));
        self.out.push(Action::Flush);
        // Ask for votes at once.
        self.ask_others(now, name, true);
    }

    fn set_state(&mut self, now: Ms, name: &str, st: FailoverState, event: &str) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        m.failover_state = st;
        m.failover_state_change = now;
        let at = Core::at_master(m);
        self.event(Level::Warning, event, at, Some(name));
    }

    fn fo_wait_start(&mut self, now: Ms, name: &str) {
        let epoch = self.masters[name].failover_epoch;
        let forced = self.masters[name].force_failover;
        let leader = self.get_leader(now, name, epoch);
        let me = leader.as_deref() == Some(self.myid.as_str());
        if !me && !forced {
            let m = &self.masters[name];
            let timeout = self.timers.election_timeout.min(m.failover_timeout);
            if now.saturating_sub(m.failover_start_time) > timeout {
                self.abort_failover(name, "-failover-abort-not-elected");
            }
            return;
        }
        let at = Core::at_master(&self.masters[name]);
        self.event(Level::Warning, "+elected-leader", at, Some(name));
        if self.sim.crash_after_election {
            self.out.push(Action::Crash);
        }
        self.set_state(
            now,
            name,
            FailoverState::SelectSlave,
            "+failover-state-select-slave",
        );
    }

    /// The replica to promote (Redis's `sentinelSelectSlave`).
    pub fn select_replica(&self, now: Ms, name: &str) -> Option<String> {
        let m = self.masters.get(name)?;
        let t = &self.timers;
        let info_validity = if m.inst.sdown_since.is_some() {
            5 * t.ping_period
        } else {
            3 * t.info_period
        };
        let max_link_down =
            m.inst.sdown_since.map_or(0, |s| now.saturating_sub(s)) + 10 * m.down_after;
        let mut c: Vec<(&String, &Instance)> = m
            .replicas
            .iter()
            .filter(|(_, r)| {
                r.sdown_since.is_none()
                    && r.connected
                    && now.saturating_sub(r.last_avail) <= 5 * t.ping_period
                    && r.priority != 0
                    && r.info_refresh
                        .is_some_and(|i| now.saturating_sub(i) <= info_validity)
                    && r.master_link_down_ms <= max_link_down
            })
            .collect();
        c.sort_by(|a, b| {
            a.1.priority
                .cmp(&b.1.priority)
                .then(b.1.repl_offset.cmp(&a.1.repl_offset))
                .then(match (&a.1.runid, &b.1.runid) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
        });
        c.first().map(|(k, _)| (*k).clone())
    }

    fn fo_select_slave(&mut self, now: Ms, name: &str) {
        match self.select_replica(now, name) {
            None => {
                self.abort_failover(name, "-failover-abort-no-good-slave");
            }
            Some(k) => {
                let Some(m) = self.masters.get_mut(name) else {
                    return;
                };
                let Some(r) = m.replicas.get_mut(&k) else {
                    return;
                };
                r.promoted = true;
                let msg = Core::at_child("slave", &m.replicas[&k], m);
                self.event(Level::Warning, "+selected-slave", msg, Some(name));
                self.set_state(
                    now,
                    name,
                    FailoverState::SendSlaveofNoone,
                    "+failover-state-send-slaveof-noone",
                );
            }
        }
    }

    fn fo_send_slaveof_noone(&mut self, now: Ms, name: &str) {
        let m = &self.masters[name];
        let Some((k, r)) = m.replicas.iter().find(|(_, r)| r.promoted) else {
            return;
        };
        if !r.connected {
            if now.saturating_sub(m.failover_state_change) > m.failover_timeout {
                self.abort_failover(name, "-failover-abort-slave-timeout");
            }
            return;
        }
        let t = Target::Replica(name.to_string(), k.clone());
        let msg = Core::at_child("slave", r, m);
        self.out.push(Action::ReplicaOf(t, None));
        self.set_state(
            now,
            name,
            FailoverState::WaitPromotion,
            "+failover-state-wait-promotion",
        );
        let _ = msg;
    }

    fn fo_reconf_slaves(&mut self, now: Ms, name: &str) {
        let timers = self.timers.clone();
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let Some(promoted) = m.promoted().map(|p| p.addr.clone()) else {
            return;
        };
        let mut out = Vec::new();
        let m_ro = m.clone();
        let mut in_progress = m
            .replicas
            .values()
            .filter(|r| !r.promoted && (r.reconf_sent || r.reconf_inprog))
            .count() as u32;
        for (k, r) in m.replicas.iter_mut() {
            if r.promoted || r.reconf_done {
                continue;
            }
            // Sent too long ago: consider it done.
            if r.reconf_sent && now.saturating_sub(r.reconf_sent_time) > timers.slave_reconf_timeout
            {
                r.reconf_sent = false;
                r.reconf_done = true;
                in_progress = in_progress.saturating_sub(1);
                out.push(Action::Event {
                    level: Level::Notice,
                    kind: "-slave-reconf-sent-timeout".into(),
                    msg: Core::at_child("slave", r, &m_ro),
                    master: Some(name.to_string()),
                });
                continue;
            }
            if r.reconf_sent || r.reconf_inprog {
                continue;
            }
            if in_progress >= m_ro.parallel_syncs.max(1) {
                break;
            }
            if !r.connected || r.sdown_since.is_some() {
                continue;
            }
            r.reconf_sent = true;
            r.reconf_sent_time = now;
            in_progress += 1;
            out.push(Action::ReplicaOf(
                Target::Replica(name.to_string(), k.clone()),
                Some(promoted.clone()),
            ));
            out.push(Action::Event {
                level: Level::Notice,
                kind: "+slave-reconf-sent".into(),
                msg: Core::at_child("slave", r, &m_ro),
                master: Some(name.to_string()),
            });
        }
        self.out.append(&mut out);
        // Done when every replica not down is reconfigured, or on timeout.
        let m = &self.masters[name];
        let pending = m
            .replicas
            .values()
            .filter(|r| !r.promoted && !r.reconf_done && r.sdown_since.is_none())
            .count();
        let timed_out = now.saturating_sub(m.failover_state_change) > m.failover_timeout;
        if pending == 0 || timed_out {
            let at = Core::at_master(m);
            if timed_out && pending > 0 {
                self.event(
                    Level::Warning,
                    "+failover-end-for-timeout",
                    at.clone(),
                    Some(name),
                );
                // Best effort for the rest.
                let m = self.masters.get_mut(name).expect("checked above");
                let mut out = Vec::new();
                let m_ro = m.clone();
                for (k, r) in m.replicas.iter_mut() {
                    if !r.promoted && !r.reconf_done && !r.reconf_sent {
                        r.reconf_sent = true;
                        out.push(Action::ReplicaOf(
                            Target::Replica(name.to_string(), k.clone()),
                            Some(promoted.clone()),
                        ));
                        out.push(Action::Event {
                            level: Level::Notice,
                            kind: "+slave-reconf-sent-be".into(),
                            msg: Core::at_child("slave", r, &m_ro),
                            master: Some(name.to_string()),
                        });
                    }
                }
                self.out.append(&mut out);
            }
            self.event(Level::Warning, "+failover-end", at, Some(name));
            let m = self.masters.get_mut(name).expect("checked above");
            m.failover_state = FailoverState::UpdateConfig;
            m.failover_state_change = now;
        }
    }

    fn abort_failover(&mut self, name: &str, event: &str) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if m.failover_state > FailoverState::WaitPromotion {
            return;
        }
        m.failover_state = FailoverState::None;
        m.force_failover = false;
        for r in m.replicas.values_mut() {
            r.promoted = false;
        }
        let at = Core::at_master(m);
        self.event(Level::Warning, event, at, Some(name));
    }

    /// The failover is done: the promoted replica is the master (Redis's
    /// `sentinelFailoverSwitchToPromotedSlave`).
    fn switch_to_promoted(&mut self, now: Ms, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let Some(p) = m.promoted().map(|p| p.addr.clone()) else {
            return;
        };
        self.switch_master(now, name, p);
    }

    /// Move a master to a new address: `+switch-master`, its replicas become the old
    /// master and the other replicas (Redis's `sentinelResetMasterAndChangeAddress`).
    pub fn switch_master(&mut self, now: Ms, name: &str, to: Addr) {
        let timers = self.timers.clone();
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let old = m.inst.addr.clone();
        let mut replicas: Vec<Addr> = m
            .replicas
            .values()
            .map(|r| r.addr.clone())
            .filter(|a| *a != to)
            .collect();
        if old != to && !replicas.contains(&old) {
            replicas.push(old.clone());
        }
        let msg = format!("{name} {} {} {} {}", old.host, old.port, to.host, to.port);
        // Reset the master.
        let mut fresh = Master::new(name, to.clone(), m.quorum, &timers, now);
        fresh.down_after = m.down_after;
        fresh.failover_timeout = m.failover_timeout;
        fresh.parallel_syncs = m.parallel_syncs;
        fresh.auth_pass = m.auth_pass.clone();
        fresh.auth_user = m.auth_user.clone();
        fresh.notification_script = m.notification_script.clone();
        fresh.client_reconfig_script = m.client_reconfig_script.clone();
        fresh.reboot_down_after = m.reboot_down_after;
        fresh.renamed = m.renamed.clone();
        fresh.config_epoch = m.config_epoch;
        fresh.leader = m.leader.clone();
        fresh.leader_epoch = m.leader_epoch;
        fresh.failover_start_time = m.failover_start_time;
        fresh.sentinels = m
            .sentinels
            .iter()
            .map(|(k, s)| {
                let mut s = s.clone();
                s.master_down = false;
                s.leader = None;
                (k.clone(), s)
            })
            .collect();
        replicas.sort();
        for a in &replicas {
            fresh
                .replicas
                .insert(a.name(), Instance::new(a.name(), a.clone(), now));
        }
        *m = fresh;
        self.out
            .push(Action::Disconnect(Target::Master(name.to_string())));
        self.out.push(Action::Connect(
            Target::Master(name.to_string()),
            to.clone(),
        ));
        self.event(Level::Warning, "+switch-master", msg, Some(name));
        let m = &self.masters[name];
        let mut adds = Vec::new();
        for (k, r) in &m.replicas {
            // Fresh links, as Redis creates new instances.
            adds.push(Action::Disconnect(Target::Replica(
                name.to_string(),
                k.clone(),
            )));
            adds.push(Action::Connect(
                Target::Replica(name.to_string(), k.clone()),
                r.addr.clone(),
            ));
            adds.push(Action::Event {
                level: Level::Notice,
                kind: "+slave".into(),
                msg: Core::at_child("slave", r, m),
                master: Some(name.to_string()),
            });
        }
        self.out.append(&mut adds);
        self.out.push(Action::Flush);
    }

    // ------------------------------------------------------------------ INFO

    fn info_reply(&mut self, now: Ms, t: &Target, text: &str) {
        let tilt = self.tilt_since.is_some();
        let name = t.master().to_string();
        let Some(inst) = self.instance_mut(t) else {
            return;
        };
        let info = parse_info(text);
        inst.info_refresh = Some(now);
        inst.info = Some(text.to_string());
        let old_runid = inst.runid.clone();
        if let Some(id) = info.run_id.clone() {
            inst.runid = Some(id);
        }
        let reported = info.role;
        if reported != inst.role {
            inst.role = reported;
            inst.role_time = now;
        }
        inst.master_link_down_ms = info.link_down_ms;
        inst.master_link_up = info.link_up;
        inst.master_host = info.master_host.clone();
        inst.master_port = info.master_port;
        if let Some(p) = info.priority {
            inst.priority = p;
        }
        inst.repl_offset = info.repl_offset;
        inst.announced = info.announced;
        let mut events = Vec::new();
        if let Target::Master(_) = t {
            if let (Some(old), Some(new)) = (old_runid, info.run_id.as_ref()) {
                if old != *new {
                    inst.reboot_since = Some(now);
                    events.push(("+reboot", ()));
                }
            }
        }
        // Replicas listed by a master.
        if let Target::Master(_) = t {
            if reported == Role::Master {
                let m = self.masters.get_mut(&name).expect("instance exists");
                let mut new = Vec::new();
                for a in &info.replicas {
                    let k = a.name();
                    if !m.replicas.contains_key(&k) {
                        m.replicas
                            .insert(k.clone(), Instance::new(k.clone(), a.clone(), now));
                        new.push(k);
                    }
                }
                let added: Vec<(String, String, Addr)> = new
                    .into_iter()
                    .map(|k| {
                        let r = &m.replicas[&k];
                        (k.clone(), Core::at_child("slave", r, m), r.addr.clone())
                    })
                    .collect();
                for (k, msg, addr) in added {
                    self.out.push(Action::Connect(
                        Target::Replica(name.clone(), k.clone()),
                        addr,
                    ));
                    self.event(Level::Notice, "+slave", msg, Some(&name));
                    self.out.push(Action::Flush);
                }
            }
            if !events.is_empty() {
                let at = Core::at_master(&self.masters[&name]);
                self.event(Level::Warning, "+reboot", at, Some(&name));
            }
        }
        if tilt {
            return;
        }
        let Target::Replica(_, rk) = t else { return };
        let m = self.masters.get(&name).expect("instance exists");
        let r = &m.replicas[rk];
        // The promoted replica became a master: the failover goes on.
        if reported == Role::Master
            && r.promoted
            && m.failover_state == FailoverState::WaitPromotion
        {
            let epoch = m.failover_epoch;
            let msg = Core::at_child("slave", r, m);
            let from = m.inst.addr.clone();
            let to = r.addr.clone();
            let m = self.masters.get_mut(&name).expect("instance exists");
            m.config_epoch = epoch;
            self.out.push(Action::Flush);
            self.event(Level::Warning, "+promoted-slave", msg, Some(&name));
            if self.sim.crash_after_promotion {
                self.out.push(Action::Crash);
            }
            self.set_state(
                now,
                &name,
                FailoverState::ReconfSlaves,
                "+failover-state-reconf-slaves",
            );
            self.out.push(Action::ReconfigScript {
                master: name.clone(),
                role: "leader",
                from,
                to,
            });
            // Hellos at once so the others learn the new configuration.
            if let Some(m) = self.masters.get_mut(&name) {
                m.inst.last_hello_sent = None;
                for x in m.replicas.values_mut() {
                    x.last_hello_sent = None;
                }
                for x in m.sentinels.values_mut() {
                    x.last_hello_sent = None;
                }
            }
            return;
        }
        // A replica that reports being a master outside a failover is converted back, if
        // the master looks sane.
        let master_sane = m.inst.role == Role::Master
            && m.inst.sdown_since.is_none()
            && m.inst
                .info_refresh
                .is_some_and(|i| now.saturating_sub(i) < 2 * self.timers.info_period);
        if reported == Role::Master
            && !r.promoted
            && !m.in_failover()
            && master_sane
            && now.saturating_sub(r.role_time) > 4 * self.timers.publish_period
        {
            let msg = Core::at_child("slave", r, m);
            let addr = m.inst.addr.clone();
            self.out.push(Action::ReplicaOf(t.clone(), Some(addr)));
            self.event(Level::Notice, "+convert-to-slave", msg, Some(&name));
            return;
        }
        // Replicas being reconfigured during our failover.
        if m.failover_state == FailoverState::ReconfSlaves && !r.promoted {
            let Some(p) = m.promoted().map(|p| p.addr.clone()) else {
                return;
            };
            let follows =
                r.master_host.as_deref() == Some(p.host.as_str()) && r.master_port == p.port;
            let msg = Core::at_child("slave", r, m);
            let (sent, inprog, up) = (r.reconf_sent, r.reconf_inprog, r.master_link_up);
            let m = self.masters.get_mut(&name).expect("instance exists");
            let r = m.replicas.get_mut(rk).expect("instance exists");
            if sent && follows {
                r.reconf_sent = false;
                r.reconf_inprog = true;
                self.event(
                    Level::Notice,
                    "+slave-reconf-inprog",
                    msg.clone(),
                    Some(&name),
                );
            }
            let m = self.masters.get_mut(&name).expect("instance exists");
            let r = m.replicas.get_mut(rk).expect("instance exists");
            if (inprog || sent) && follows && up {
                r.reconf_inprog = false;
                r.reconf_done = true;
                self.event(Level::Notice, "+slave-reconf-done", msg, Some(&name));
            }
        }
    }

    // ------------------------------------------------------------------ hello

    fn hello(&mut self, now: Ms, payload: &str) {
        let parts: Vec<&str> = payload.split(',').collect();
        if parts.len() != 8 {
            return;
        }
        let (ip, port, runid, epoch, mname, mip, mport, mepoch) = (
            parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7],
        );
        if runid == self.myid {
            return;
        }
        let (Ok(port), Ok(epoch), Ok(mport), Ok(mepoch)) = (
            port.parse::<u16>(),
            epoch.parse::<u64>(),
            mport.parse::<u16>(),
            mepoch.parse::<u64>(),
        ) else {
            return;
        };
        if !self.masters.contains_key(mname) {
            return;
        }
        let addr = Addr::new(ip, port);
        let m = self.masters.get_mut(mname).expect("checked");
        let known = m.sentinels.get(runid).map(|s| s.addr.clone());
        match known {
            Some(a) if a == addr => {}
            Some(_) => {
                // Same sentinel at a new address.
                m.sentinels.remove(runid);
                let mut s = Instance::new(runid.to_string(), addr.clone(), now);
                s.runid = Some(runid.to_string());
                m.sentinels.insert(runid.to_string(), s);
                let msg = format!(
                    "{} ip {} port {} for {runid}",
                    Core::at_master(m),
                    addr.host,
                    addr.port
                );
                self.out.push(Action::Disconnect(Target::Sentinel(
                    mname.into(),
                    runid.into(),
                )));
                self.out.push(Action::Connect(
                    Target::Sentinel(mname.into(), runid.into()),
                    addr.clone(),
                ));
                self.event(Level::Notice, "+sentinel-address-switch", msg, Some(mname));
                self.out.push(Action::Flush);
            }
            None => {
                // Another run id at this address is stale.
                let stale: Vec<String> = m
                    .sentinels
                    .iter()
                    .filter(|(_, s)| s.addr == addr)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in stale {
                    m.sentinels.remove(&k);
                    self.out
                        .push(Action::Disconnect(Target::Sentinel(mname.into(), k)));
                }
                let m = self.masters.get_mut(mname).expect("checked");
                let mut s = Instance::new(runid.to_string(), addr.clone(), now);
                s.runid = Some(runid.to_string());
                let msg = Core::at_child("sentinel", &s, m);
                m.sentinels.insert(runid.to_string(), s);
                self.out.push(Action::Connect(
                    Target::Sentinel(mname.into(), runid.into()),
                    addr.clone(),
                ));
                self.event(Level::Notice, "+sentinel", msg, Some(mname));
                self.out.push(Action::Flush);
            }
        }
        if let Some(s) = self
            .masters
            .get_mut(mname)
            .and_then(|m| m.sentinels.get_mut(runid))
        {
            s.last_hello = Some(now);
        }
        if epoch > self.current_epoch {
            self.current_epoch = epoch;
            self.out.push(Action::Flush);
            self.event(Level::Warning, "+new-epoch", epoch.to_string(), Some(mname));
        }
        // A newer configuration of the master: adopt it.
        let m = &self.masters[mname];
        if mepoch > m.config_epoch {
            let to = Addr::new(mip, mport);
            let from = m.inst.addr.clone();
            let s = &m.sentinels[runid];
            let msg = Core::at_child("sentinel", s, m);
            let m = self.masters.get_mut(mname).expect("checked");
            m.config_epoch = mepoch;
            if to != from {
                self.event(Level::Warning, "+config-update-from", msg, Some(mname));
                self.switch_master(now, mname, to.clone());
                self.out.push(Action::ReconfigScript {
                    master: mname.to_string(),
                    role: "observer",
                    from,
                    to,
                });
            }
            self.out.push(Action::Flush);
        }
    }

    // ------------------------------------------------------------------ commands

    /// SENTINEL FAILOVER: start a failover without agreement.
    pub fn force_failover(&mut self, now: Ms, name: &str) -> Result<(), &'static str> {
        let m = self
            .masters
            .get(name)
            .ok_or("No such master with that name")?;
        if m.in_failover() {
            return Err("-INPROG Failover already in progress");
        }
        if self.select_replica(now, name).is_none() {
            return Err("-NOGOODSLAVE No suitable replica to promote");
        }
        self.start_failover(now, name);
        if let Some(m) = self.masters.get_mut(name) {
            m.force_failover = true;
        }
        Ok(())
    }

    /// SENTINEL RESET for one master: forget replicas and sentinels.
    pub fn reset_master(&mut self, now: Ms, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let addr = m.inst.addr.clone();
        let old: Vec<Target> = m
            .replicas
            .keys()
            .map(|k| Target::Replica(name.into(), k.clone()))
            .chain(
                m.sentinels
                    .keys()
                    .map(|k| Target::Sentinel(name.into(), k.clone())),
            )
            .collect();
        for t in old {
            self.out.push(Action::Disconnect(t));
        }
        let timers = self.timers.clone();
        let m = self.masters.get_mut(name).expect("checked");
        let mut fresh = Master::new(name, addr.clone(), m.quorum, &timers, now);
        fresh.down_after = m.down_after;
        fresh.failover_timeout = m.failover_timeout;
        fresh.parallel_syncs = m.parallel_syncs;
        fresh.auth_pass = m.auth_pass.clone();
        fresh.auth_user = m.auth_user.clone();
        fresh.notification_script = m.notification_script.clone();
        fresh.client_reconfig_script = m.client_reconfig_script.clone();
        fresh.reboot_down_after = m.reboot_down_after;
        fresh.renamed = m.renamed.clone();
        fresh.config_epoch = m.config_epoch;
        *m = fresh;
        let at = Core::at_master(m);
        self.out
            .push(Action::Disconnect(Target::Master(name.into())));
        self.out
            .push(Action::Connect(Target::Master(name.into()), addr));
        self.event(Level::Warning, "+reset-master", at, Some(name));
        self.out.push(Action::Flush);
    }
}

/// What Sentinel reads from INFO.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InfoFields {
    pub run_id: Option<String>,
    pub role: Role,
    pub replicas: Vec<Addr>,
    pub master_host: Option<String>,
    pub master_port: u16,
    pub link_up: bool,
    pub link_down_ms: u64,
    pub priority: Option<i64>,
    pub repl_offset: u64,
    pub announced: bool,
}

/// Parse the INFO fields Sentinel uses (Redis's `sentinelRefreshInstanceInfo`).
pub fn parse_info(text: &str) -> InfoFields {
    let mut f = InfoFields {
        announced: true,
        ..Default::default()
    };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k {
            "run_id" if v.len() == 40 => f.run_id = Some(v.to_string()),
            "role" => {
                f.role = match v {
                    "master" => Role::Master,
                    "slave" => Role::Slave,
                    _ => Role::Unknown,
                }
            }
            "master_host" => f.master_host = Some(v.to_string()),
            "master_port" => f.master_port = v.parse().unwrap_or(0),
            "master_link_status" => f.link_up = v == "up",
            "master_link_down_since_seconds" => {
                f.link_down_ms = v.parse::<i64>().map_or(0, |s| (s.max(0) as u64) * 1000)
            }
            "slave_priority" => f.priority = v.parse().ok(),
            "slave_repl_offset" => f.repl_offset = v.parse().unwrap_or(0),
            "replica_announced" => f.announced = v != "0",
            k if k.starts_with("slave")
                && k[5..].chars().all(|c| c.is_ascii_digit())
                && k.len() > 5 =>
            {
                // ip=..,port=..,state=..,offset=..,lag=..
                let mut ip = None;
                let mut port = None;
                for kv in v.split(',') {
                    if let Some(x) = kv.strip_prefix("ip=") {
                        ip = Some(x.to_string());
                    } else if let Some(x) = kv.strip_prefix("port=") {
                        port = x.parse::<u16>().ok();
                    }
                }
                if let (Some(ip), Some(port)) = (ip, port) {
                    f.replicas.push(Addr::new(ip, port));
                }
            }
            _ => {}
        }
    }
    f
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
