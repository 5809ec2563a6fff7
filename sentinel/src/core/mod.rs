//! The Sentinel's decisions, as a pure state machine: [`Core::step`] takes the time and one
//! input (a timer tick, a reply, a hello, a link going up or down) and returns the actions
//! the shell must perform (send PING/INFO/hello, ask peers, reconfigure servers, publish an
//! event, save the state). No I/O and no clock reads here: the same inputs give the same
//! actions, which is what the unit tests and the simulation rely on.
//!
//! The rules are Redis 7.0's `sentinel.c` (see `../shared/reference/redis-ha.md` §2).

use std::collections::BTreeMap;

use picket_common::ids::Rng;

/// Milliseconds on the shell's monotonic clock.
pub type Ms = u64;

/// The largest epoch picket accepts or reaches: epochs are signed 64-bit numbers in Redis's
/// replies (`:leader_epoch`) and its `getLongLongFromObject` checks, so anything from 2^63 up
/// is refused wherever an epoch comes in (commands, hellos, the config file) and no
/// increment goes past it (no wrap to 0).
pub const MAX_EPOCH: u64 = i64::MAX as u64;

/// An epoch as Redis's `getLongLongFromObject` reads one (strict decimal, no `+`, no leading
/// zeros), not negative: `None` for anything else, including 2^63 and above.
pub fn parse_epoch(s: &str) -> Option<u64> {
    picket_common::sds::string2ll(s.as_bytes()).and_then(|v| u64::try_from(v).ok())
}

/// Whether `host` is an IP address (what Redis's `anetResolve(.., ANET_IP_ONLY)` accepts
/// when `resolve-hostnames` is off), not a name.
pub fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

/// The default of `sentinel max-sentinels-per-master`: how many other sentinels hellos
/// may make known for one master.
pub const DEFAULT_MAX_SENTINELS: usize = 64;

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

    /// What kind of instance it names.
    pub fn kind(&self) -> InstanceKind {
        match self {
            Target::Master(_) => InstanceKind::Master,
            Target::Replica(..) => InstanceKind::Replica,
            Target::Sentinel(..) => InstanceKind::Sentinel,
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
    /// When a reboot was seen (its INFO's `run_id` changed) with `reboot_down_after` set;
    /// cleared by a `+PONG`.
    pub reboot_since: Option<Ms>,
    /// `rename-command`: a command name as given (matched case-insensitively) -> its name
    /// on this master.
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
    /// This failover hands over with the master's FAILOVER command (a reachable master,
    /// SENTINEL FAILOVER): waiting for its answer, or for the promotion it makes.
    pub switchover: bool,
    /// When the last new replica was learned (or the master added): INFO is asked every
    /// second until one period passes without a new one.
    pub replicas_changed: Ms,
    pub replicas: BTreeMap<String, Replica>,
    pub sentinels: BTreeMap<String, PeerSentinel>,
    /// `failover-safety strict` as the master's INFO reports it (docs/failover-safety.md):
    /// failovers fence the replicas first (`fence.rs`). None: Redis's classic failover.
    pub safety: Option<StrictSafety>,
    /// The master's replication id, from its INFO (`master_replid`): the history whose
    /// offsets the fenced replicas are compared on.
    pub replid: Option<String>,
    /// A strict master's INFO said it has held no lease for this long: (when that INFO
    /// arrived, ms without a lease then). None while it holds it.
    pub lease_lost: Option<(Ms, u64)>,
    /// This sentinel's fencing round, while it leads a strict failover.
    pub fence: Option<FenceRound>,
    /// The master's own `failover_epoch`, from its INFO.
    pub server_epoch: u64,
    /// When this sentinel last raised the master's failover epoch (epoch, time), so that
    /// replicas fenced by a failover that never finished rejoin it (`Core::rejoin_fenced`).
    pub rejoin_sent: Option<(u64, Ms)>,
}

/// What a strict master promises, from its INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrictSafety {
    /// `W`: replicas that hold a write before it is acknowledged.
    pub min_acks: u32,
    /// `failover-lease-ms`.
    pub lease_ms: u64,
}

impl Default for StrictSafety {
    /// What a strict server uses unless configured otherwise; the safe side when only a
    /// replica told us the deployment is strict (a smaller `W` asks for more fences).
    fn default() -> Self {
        StrictSafety {
            min_acks: 1,
            lease_ms: 500,
        }
    }
}

/// The fences of one strict failover: which replicas stopped taking the old master's
/// stream at the leader's epoch, and where each stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FenceRound {
    pub epoch: u64,
    /// Replica name -> when REPLFENCE was last sent to it.
    pub sent: BTreeMap<String, Ms>,
    /// Replica name -> its answer.
    pub fenced: BTreeMap<String, FenceReport>,
    /// When enough replicas were fenced; the leader then waits one lease.
    pub complete_at: Option<Ms>,
    /// The last wait announced (fenced count and reason), so the event is not repeated.
    pub announced: Option<(usize, &'static str)>,
}

/// A server's answer to `REPLFENCE <epoch>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceReport {
    pub role: Role,
    pub epoch: u64,
    pub replid: String,
    pub offset: u64,
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
            reboot_since: None,
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
            switchover: false,
            replicas_changed: now,
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
            safety: None,
            replid: None,
            lease_lost: None,
            fence: None,
            server_epoch: 0,
            rejoin_sent: None,
        }
    }

    /// The same master, configured as now (options, scripts, auth, renames, config epoch),
    /// at `addr` and with no runtime state: no replicas, sentinels, votes or failover
    /// (Redis's `sentinelResetMaster`).
    pub fn reset_at(&self, addr: Addr, timers: &Timers, now: Ms) -> Master {
        let mut m = Master::new(&self.inst.name, addr, self.quorum, timers, now);
        m.down_after = self.down_after;
        m.failover_timeout = self.failover_timeout;
        m.parallel_syncs = self.parallel_syncs;
        m.auth_pass = self.auth_pass.clone();
        m.auth_user = self.auth_user.clone();
        m.notification_script = self.notification_script.clone();
        m.client_reconfig_script = self.client_reconfig_script.clone();
        m.reboot_down_after = self.reboot_down_after;
        m.renamed = self.renamed.clone();
        m.config_epoch = self.config_epoch;
        m.safety = self.safety;
        m
    }

    pub fn in_failover(&self) -> bool {
        self.failover_state != FailoverState::None
    }

    /// The promoted replica, once one was selected.
    pub fn promoted(&self) -> Option<&Replica> {
        self.replicas.values().find(|r| r.promoted)
    }

    /// The address clients should use: the promoted replica once the failover reconfigures
    /// the others (Redis's `sentinelGetCurrentMasterAddress`).
    pub fn current_addr(&self) -> Addr {
        if self.failover_state >= FailoverState::ReconfSlaves {
            if let Some(p) = self.promoted() {
                return p.inst.addr.clone();
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
    /// Strict failover safety: `REPLFENCE <epoch>` to a replica (it stops taking the old
    /// master's stream and reports its replication id and offset).
    Fence(Target, u64),
    /// Ask the master for a coordinated hand-over to a replica: `FAILOVER TO <ip> <port>
    /// TIMEOUT <ms> FORCE` (writes held until the replica has them all, at most that long).
    Switchover {
        master: Target,
        to: Addr,
        timeout_ms: u64,
    },
    /// Publish (and log) an event (its master's notification script runs for a warning).
    Event(Event),
    /// Run the client reconfig script: master, role (leader|observer), state, from, to.
    ReconfigScript {
        master: String,
        role: &'static str,
        from: Addr,
        to: Addr,
    },
    /// Save the state (config rewrite).
    Flush,
    /// A log line that is not an event (Redis's `serverLog`), e.g. "Failed to resolve
    /// hostname '...'".
    Log(Level, String),
    /// SENTINEL SIMULATE-FAILURE reached its point: the process exits with 99.
    Crash,
    /// The reply to the client command being run ([`Input::Command`]).
    Reply(Reply),
    /// SENTINEL CONFIG SET changed a sentinel setting: the shell keeps it for the config
    /// rewrite and the links (before the [`Action::Flush`] that comes with it).
    Setting(Setting),
}

/// Inputs from the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The periodic timer.
    Tick,
    Connected(Target),
    Disconnected(Target),
    /// A link to the instance could not be opened because of a local error (EMFILE,
    /// ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL: the text given), which says nothing about
    /// the instance: unlike [`Input::Disconnected`] it never leads to SDOWN.
    LocalLinkError(Target, String),
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
    /// The master's answer to FAILOVER: `Ok(())` when it started the hand-over, else the
    /// error line.
    SwitchoverReply {
        master: String,
        result: Result<(), String>,
    },
    /// A replica's answer to [`Action::Fence`] at `epoch`, or the error line.
    FenceReply {
        target: Target,
        epoch: u64,
        result: Result<FenceReport, String>,
    },
    /// A client command that changes the state: its reply is one [`Action::Reply`].
    Command(Command),
    /// A link resolved a host name to this IP (on every connection).
    Resolved {
        host: String,
        ip: String,
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
    /// `sentinel resolve-hostnames`: off, an address that arrives from the network (hello,
    /// INFO, IS-MASTER-DOWN-BY-ADDR) must be an IP, as Redis's `createSentinelAddr`.
    pub resolve_hostnames: bool,
    /// `sentinel announce-hostnames`: names are shown as they are (hellos, events, replies,
    /// SLAVEOF) rather than as the IPs they resolved to (see `hosts.rs`).
    pub announce_hostnames: bool,
    /// What each name resolved to when a link last connected (lower case name -> IP), for
    /// showing IPs with `announce-hostnames no` and comparing names with IPs.
    pub resolved: BTreeMap<String, String>,
    /// `sentinel max-sentinels-per-master`: the most other sentinels known per master; a
    /// hello from a new one beyond it evicts the one unheard of for the longest.
    pub max_sentinels: usize,
    /// What SENTINEL SET / CONFIG SET decide with (deny-scripts-reconfig, the port,
    /// announce-ip as configured).
    pub settings: CoreSettings,
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
    ev: &dyn Fn(&Instance) -> Subject,
) -> bool {
    // Unable to ask (a local error): no new judgement either way until a link opens.
    if inst.local_error_since.is_some() {
        return false;
    }
    let elapsed = match inst.act_ping {
        Some(t) => now.saturating_sub(t),
        None if !inst.connected => now.saturating_sub(inst.last_avail),
        None => 0,
    };
    let down = elapsed > down_after;
    if down && inst.sdown_since.is_none() {
        inst.sdown_since = Some(now);
        inst.last_sdown = Some(now);
        out.push(Action::Event(Event::Sdown(ev(inst))));
        return true;
    }
    if !down && inst.sdown_since.is_some() {
        inst.sdown_since = None;
        out.push(Action::Event(Event::SdownCleared(ev(inst))));
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
            resolve_hostnames: false,
            announce_hostnames: false,
            resolved: BTreeMap::new(),
            max_sentinels: DEFAULT_MAX_SENTINELS,
            settings: CoreSettings::default(),
            sim: SimFailure::default(),
            rng,
            out: Vec::new(),
        }
    }

    pub(super) fn event(&mut self, e: Event) {
        self.out.push(Action::Event(e));
    }

    pub(super) fn log(&mut self, level: Level, msg: String) {
        self.out.push(Action::Log(level, msg));
    }

    /// Whether an address that came from the network can be used: an IP, or any name with
    /// `resolve-hostnames yes` (the shell resolves it when it connects). Otherwise logs
    /// Redis's "Failed to resolve hostname" and the caller ignores the address.
    pub(super) fn usable_host(&mut self, host: &str) -> bool {
        if self.resolve_hostnames || is_ip(host) {
            return true;
        }
        self.log(
            Level::Warning,
            format!("Failed to resolve hostname '{host}'"),
        );
        false
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
                self.local_error_over(now, &t, true);
                if let Some(i) = self.instance_mut(&t) {
                    i.connected = true;
                    i.link_since = now;
                    // A new link is no answer: the PING pending since before it (if any)
                    // stays pending, as Redis keeps `act_ping_time` across reconnections.
                    // Otherwise every reconnection (SENTINEL SET auth-pass, a server that
                    // accepts and then refuses us) would clear SDOWN without a valid reply.
                    if i.act_ping.is_none() {
                        i.act_ping = Some(now);
                    }
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
            Input::LocalLinkError(t, error) => self.local_link_error(now, &t, &error),
            Input::Disconnected(t) => {
                self.local_error_over(now, &t, false);
                if let Some(i) = self.instance_mut(&t) {
                    i.connected = false;
                    if i.act_ping.is_none() {
                        i.act_ping = Some(now);
                    }
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
            Input::SwitchoverReply { master, result } => {
                self.switchover_reply(now, &master, result)
            }
            Input::FenceReply {
                target,
                epoch,
                result,
            } => self.fence_reply(now, &target, epoch, result),
            Input::Command(cmd) => self.command(now, cmd),
            Input::Resolved { host, ip } => self.host_resolved(&host, &ip),
        }
        self.take_actions()
    }

    /// Queue actions to hand out with the next `take_actions`.
    pub fn push_actions(&mut self, mut a: Vec<Action>) {
        self.out.append(&mut a);
    }

    /// Actions produced outside `step` (monitor, commands), addresses as others must see
    /// them (`announce-hostnames`, see `hosts.rs`).
    pub fn take_actions(&mut self) -> Vec<Action> {
        let out = std::mem::take(&mut self.out);
        out.into_iter().map(|a| self.present(a)).collect()
    }

    pub fn instance_mut(&mut self, t: &Target) -> Option<&mut Instance> {
        match t {
            Target::Master(m) => self.masters.get_mut(m).map(|m| &mut m.inst),
            Target::Replica(m, r) => Some(&mut self.masters.get_mut(m)?.replicas.get_mut(r)?.inst),
            Target::Sentinel(m, s) => {
                Some(&mut self.masters.get_mut(m)?.sentinels.get_mut(s)?.inst)
            }
        }
    }

    pub fn instance(&self, t: &Target) -> Option<&Instance> {
        match t {
            Target::Master(m) => self.masters.get(m).map(|m| &m.inst),
            Target::Replica(m, r) => Some(&self.masters.get(m)?.replicas.get(r)?.inst),
            Target::Sentinel(m, s) => Some(&self.masters.get(m)?.sentinels.get(s)?.inst),
        }
    }

    pub(super) fn ping_reply(&mut self, now: Ms, t: &Target, line: &str) {
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
        }
        if let Target::Master(name) = t {
            if line.starts_with("+PONG") {
                if let Some(m) = self.masters.get_mut(name) {
                    m.reboot_since = None;
                }
            }
        }
    }
}

mod commands;
mod detect;
pub mod events;
mod failover;
mod fence;
mod hello;
mod hosts;
mod info;
mod instance;
mod links;
pub mod options;
mod settings;

pub use commands::{Command, Reply};
pub use events::{Event, InstanceKind, Subject};
pub use fence::fences_needed;
pub use info::{parse_info, InfoFields};
pub use instance::{Instance, PeerSentinel, Replica, Role};
pub use settings::{CoreSettings, Setting, SCRIPT_OPTIONS};

#[cfg(test)]
#[path = "../core_tests.rs"]
mod tests;

#[cfg(test)]
mod surface_tests;

#[cfg(test)]
mod hello_tests;

#[cfg(test)]
mod command_tests;

#[cfg(test)]
#[path = "fence_tests.rs"]
mod fence_tests;

#[cfg(test)]
mod hosts_tests;
