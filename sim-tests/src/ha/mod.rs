//! Whole HA deployments in one turmoil simulation: servers, sentinels and clients on their
//! own hosts, running the real picket-server and picket-sentinel code; fault injection on
//! a schedule; Sentinel-aware clients that record a history; checkers applied to every
//! scenario; and the named scenarios the tests and `picket-sim` run over many seeds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use picket_common::resp::frame::Frame;

use crate::client::{show, ClientError, SimClient};
use crate::net::SimNet;
use crate::tls::{seeded_tls, sim_tls_settings, TapNet, TlsNet, WireDigest};
use crate::{builder, run_server_watched};

mod acl;
mod actors;
mod scenarios;

use acl::AclLogs;
pub use acl::{AclUsers, Login, Logins};
pub use actors::run_dir;
use actors::*;
pub use scenarios::*;

/// The host of every client program (writers, reader, watcher, checker).
pub const CLIENTS: &str = "clients";

/// Everything a deployment can be configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub servers: usize,
    pub sentinels: usize,
    pub quorum: u32,
    pub down_after_ms: u64,
    pub failover_timeout_ms: u64,
    /// `min-replicas-to-write` on every server (0: off).
    pub min_replicas: usize,
    /// Clients WAIT for this many replicas after each write (0: no WAIT).
    pub wait_replicas: usize,
    /// `failover-safety strict` on every server (docs/failover-safety.md).
    pub strict: bool,
    pub clients: usize,
    /// `replica-priority` per server (index 0 is the first master).
    pub priorities: Vec<i64>,
    /// How long the simulation runs.
    pub duration: Duration,
    /// Writes stop at this time; checks start after `settle`.
    pub writes_until: Duration,
    pub settle: Duration,
    /// Every link TLS, with the certificates of this directory ([`crate::tls::sim_certs`]):
    /// the servers on a [`TlsNet`], the sentinels with `tls-port` and `tls-replication`,
    /// the clients TLS clients.
    pub tls: Option<PathBuf>,
    /// Every link as a least-privilege ACL user (`user default off` everywhere): the
    /// servers with these users and `masteruser`, the sentinels with theirs and
    /// `sentinel auth-user`, the clients logged in as `app` (writers, reader) or `admin`
    /// (watcher, checker, operator).
    pub acl: Option<AclUsers>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            servers: 3,
            sentinels: 3,
            quorum: 2,
            down_after_ms: 1000,
            failover_timeout_ms: 10_000,
            min_replicas: 0,
            wait_replicas: 0,
            strict: false,
            clients: 2,
            priorities: vec![100; 3],
            duration: Duration::from_secs(120),
            writes_until: Duration::from_secs(32),
            settle: Duration::from_secs(10),
            tls: None,
            acl: None,
        }
    }
}

/// A fault, applied at a simulated time.
#[derive(Debug, Clone)]
pub enum Fault {
    Crash(String),
    Restart(String),
    /// Symmetric partition between two groups of hosts.
    Partition(Vec<String>, Vec<String>),
    Repair(Vec<String>, Vec<String>),
    /// One-way: messages from the first group to the second are dropped.
    PartitionOneWay(Vec<String>, Vec<String>),
    Hold(Vec<String>, Vec<String>),
    Release(Vec<String>, Vec<String>),
    /// Lose the host's files (sentinel state), then restart it.
    LoseDisk(String),
    /// Crash the server that is the master now (as the watcher last saw it).
    CrashMaster,
    /// Restart every host crashed so far and not restarted.
    RestartCrashed,
    /// Freeze a sentinel's timer for this long, as a stopped process (it enters TILT).
    Stall(String, Duration),
    /// Extra latency on the links between two groups.
    Latency(Vec<String>, Vec<String>, Duration),
    /// turmoil's message loss rate on the links between two groups.
    Loss(Vec<String>, Vec<String>, f64),
    /// An operator's `SENTINEL FAILOVER mymaster`, sent to this sentinel.
    ManualFailover(String),
}

/// One operation in a client's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub at_ms: u64,
    pub client: usize,
    pub key: String,
    pub outcome: Outcome,
    /// The server that answered (`ip:port`).
    pub server: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Fail,
    Unknown,
}

/// A read of the counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub start_ms: u64,
    pub value: i64,
    /// The server that answered (`ip:port`).
    pub server: String,
}

/// What a run observed; the checkers read it.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub history: Vec<Op>,
    /// The counter's acknowledged increments: (when the reply arrived, the value).
    pub counter_acks: Vec<(u64, i64)>,
    /// The reader's reads of the counter.
    pub reads: Vec<Read>,
    /// (ms, master address) each time the watcher saw the address change.
    pub master_changes: Vec<(u64, String)>,
    /// Final state, collected by the checker host.
    pub final_master: Option<String>,
    pub sentinels_agree: bool,
    pub epochs: Vec<String>,
    pub converged: Vec<(String, bool, String)>,
    pub final_keys: BTreeSet<String>,
    /// Every key any reachable server holds at the end (the final master's included): an
    /// acknowledged write absent from the final master but held here is unavailable, not
    /// lost (a strict deployment that would not promote a replica it could not fence).
    pub held_keys: BTreeSet<String>,
    /// The final master is a strict master without its lease: it serves no data (the
    /// deployment waits for its replicas or for an operator).
    pub final_master_leaseless: bool,
    pub notes: Vec<String>,
    /// Server host name → IP.
    pub host_ips: BTreeMap<String, String>,
    /// The checker finished: the other observers stop.
    pub done: bool,
    /// The first sentinel reported TILT at some point.
    pub tilt_seen: bool,
    /// With TLS, the digest of the handshake records written on the wire (the randoms and
    /// key shares a seed must replay: [`WireDigest`]); 0 without.
    pub wire_digest: u64,
    /// What the ACL logs of every server and sentinel hold at the end of the run (or when
    /// the node was crashed), `host: entry`: each entry a refused command, key, channel or
    /// AUTH.
    pub acl_refusals: Vec<String>,
    /// With ACL users: (node, CLIENT LIST) of the final master and of every sentinel, read
    /// by the checker at the end (who is logged in as whom).
    pub client_lists: Vec<(String, String)>,
}

/// The port of every sentinel (servers listen on 6379).
pub(crate) const SENTINEL_PORT: u16 = 26379;

/// How the client programs (writers, reader, watcher, checker, operator) reach servers and
/// sentinels: plainly or as TLS clients, logged in as an ACL user or as `default`.
#[derive(Clone)]
pub(crate) struct Dial {
    net: DialNet,
    /// With ACL users: whom to log in as, on a server or on a sentinel (by the port).
    login: Option<Logins>,
}

#[derive(Clone)]
enum DialNet {
    Plain,
    Tls(TlsNet<TapNet<SimNet>>),
}

impl Dial {
    /// Connect, and log in if the deployment has ACL users (an AUTH refused is an error).
    pub(crate) async fn connect(&self, host: &str, port: u16) -> Result<SimClient, ClientError> {
        let mut c = match &self.net {
            DialNet::Plain => SimClient::connect(host, port).await?,
            DialNet::Tls(net) => SimClient::connect_on(net, host, port).await?,
        };
        if let Some(l) = &self.login {
            let (user, pass) = if port == SENTINEL_PORT {
                &l.sentinel
            } else {
                &l.server
            };
            match c.cmd(&["AUTH", user, pass]).await? {
                Frame::SimpleString(_) => {}
                other => {
                    return Err(ClientError::Protocol(format!(
                        "AUTH as {user} on {host}:{port}: {}",
                        show(&other)
                    )))
                }
            }
        }
        Ok(c)
    }

    /// The same network, logged in with `login`.
    fn as_user(&self, login: Option<&Logins>) -> Dial {
        Dial {
            net: self.net.clone(),
            login: login.cloned(),
        }
    }
}

type Stalls = Arc<Mutex<BTreeMap<String, Arc<std::sync::atomic::AtomicU64>>>>;

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Report {
    pub seed: u64,
    pub fault_at_ms: Option<u64>,
    pub detection_ms: Option<u64>,
    pub switch_ms: Option<u64>,
    pub lost_writes: usize,
    /// Acknowledged writes not on the final master but still on some server.
    pub unavailable_writes: usize,
    pub acked_writes: usize,
    pub split_brain_ms: u64,
    /// Reads of the counter that returned less than an increment acknowledged before the
    /// read started (the old master serving after the new one took writes, or a lost
    /// increment).
    pub stale_reads: usize,
    pub failures: Vec<String>,
    pub trace_hash: u64,
}

/// Run one deployment with a fault schedule.
pub fn run(
    seed: u64,
    s: &Settings,
    faults: &[(Duration, Fault)],
) -> Result<(Observed, Vec<String>), String> {
    let mut sim = builder(seed, s.duration).build();
    let dir = run_dir(seed);
    let obs: Arc<Mutex<Observed>> = Arc::default();
    let stalls: Stalls = Arc::default();
    let servers: Vec<String> = (0..s.servers).map(server_host).collect();
    let sentinels: Vec<String> = (0..s.sentinels).map(sentinel_host).collect();
    let wire = WireDigest::handshakes();
    let tls_settings = s.tls.as_deref().map(sim_tls_settings);
    let net = match &tls_settings {
        None => DialNet::Plain,
        Some(t) => {
            let tls = seeded_tls(t, seed.wrapping_mul(131).wrapping_add(999))
                .map_err(|e| format!("TLS: {e}"))?;
            DialNet::Tls(TlsNet::new(TapNet::new(SimNet, wire.clone()), tls))
        }
    };
    let base = Dial { net, login: None };
    // The writers and the reader log in as the application; the watcher, the checker and
    // the operator as the administrator.
    let dial = base.as_user(s.acl.as_ref().map(|a| &a.app));
    let admin = base.as_user(s.acl.as_ref().map(|a| &a.admin));
    let acl_logs = AclLogs::default();
    for (i, h) in servers.iter().enumerate() {
        let s2 = s.clone();
        let master = servers[0].clone();
        let hseed = seed.wrapping_mul(31).wrapping_add(i as u64);
        let (ts, wire, logs, host) = (
            tls_settings.clone(),
            wire.clone(),
            acl_logs.clone(),
            h.clone(),
        );
        sim.host(h.as_str(), move || {
            let s = s2.clone();
            let master = master.clone();
            let (ts, wire, logs, host) = (ts.clone(), wire.clone(), logs.clone(), host.clone());
            async move {
                let prio = s.priorities.get(i).copied().unwrap_or(100).to_string();
                let minr = s.min_replicas.to_string();
                let mut args: Vec<String> = vec![
                    "--repl-diskless-sync-delay".into(),
                    "0".into(),
                    "--replica-priority".into(),
                    prio,
                    "--min-replicas-to-write".into(),
                    minr,
                    "--repl-timeout".into(),
                    "5".into(),
                ];
                if s.strict {
                    args.extend(["--failover-safety".into(), "strict".into()]);
                }
                if i != 0 {
                    let ip = turmoil::lookup(master.as_str()).to_string();
                    args.extend(["--replicaof".into(), format!("{ip} 6379")]);
                }
                if let Some(a) = &s.acl {
                    args.extend(a.server_args());
                }
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                let watch = |h: &picket_server::ServerHandle| logs.server(&host, &h.shared);
                match ts {
                    None => run_server_watched(SimNet, hseed, &refs, watch).await,
                    // The network puts TLS on the server's every connection, replication
                    // links included.
                    Some(t) => {
                        let net = TlsNet::new(TapNet::new(SimNet, wire), seeded_tls(&t, hseed)?);
                        run_server_watched(net, hseed, &refs, watch).await
                    }
                }
            }
        });
    }
    for (i, h) in sentinels.iter().enumerate() {
        let s2 = s.clone();
        let d = dir.join(h);
        let master = servers[0].clone();
        let hseed = seed.wrapping_mul(131).wrapping_add(100 + i as u64);
        let (host, st, wire, logs) = (h.clone(), stalls.clone(), wire.clone(), acl_logs.clone());
        sim.host(h.as_str(), move || {
            let s = s2.clone();
            let d = d.clone();
            let master = master.clone();
            let (host, st, wire, logs) = (host.clone(), st.clone(), wire.clone(), logs.clone());
            async move {
                let ip = turmoil::lookup(master.as_str()).to_string();
                run_sentinel(hseed, d, ip, s, host, st, wire, logs).await
            }
        });
    }
    // The clients (writers, reader, watcher, checker) share one host: each turmoil host
    // costs every simulated tick a pass over its links, and partitions never separate them.
    let (s2, o) = (s.clone(), obs.clone());
    let ips: Vec<String> = servers.clone();
    let (d0, a0) = (dial.clone(), admin.clone());
    sim.client(CLIENTS, async move {
        let dial = d0;
        let map: BTreeMap<String, String> = ips
            .iter()
            .map(|h| (h.clone(), turmoil::lookup(h.as_str()).to_string()))
            .collect();
        o.lock().unwrap_or_else(|e| e.into_inner()).host_ips = map.clone();
        let ips: Vec<String> = map.into_values().collect();
        let errors = |r: turmoil::Result| r.map_err(|e| e.to_string());
        let mut tasks = Vec::new();
        for c in 0..s2.clients {
            let (s3, o3, d3) = (s2.clone(), o.clone(), dial.clone());
            tasks.push(tokio::spawn(
                async move { errors(writer(c, s3, o3, d3).await) },
            ));
        }
        let (s3, o3, d3) = (s2.clone(), o.clone(), dial.clone());
        tasks.push(tokio::spawn(
            async move { errors(reader(s3, o3, d3).await) },
        ));
        let (s3, o3, d3) = (s2.clone(), o.clone(), a0.clone());
        tasks.push(tokio::spawn(
            async move { errors(watcher(s3, o3, d3).await) },
        ));
        tasks.push(tokio::spawn(async move {
            errors(checker(s2, ips, o, a0).await)
        }));
        for t in tasks {
            t.await??;
        }
        Ok(())
    });
    let all_hosts: Vec<String> = servers
        .iter()
        .chain(&sentinels)
        .cloned()
        .chain([CLIENTS.to_string()])
        .collect();
    let mut pending: Vec<(Duration, Fault)> = faults.to_vec();
    pending.sort_by_key(|f| f.0);
    let mut applied = Vec::new();
    let mut crashed: BTreeSet<String> = BTreeSet::new();
    loop {
        let t = sim.elapsed();
        while pending.first().is_some_and(|(at, _)| *at <= t) {
            // Read the ACL logs before a fault may crash a node.
            acl_logs.read();
            let (at, f) = pending.remove(0);
            applied.push(format!("{}ms {f:?}", at.as_millis()));
            match f {
                Fault::Crash(h) => {
                    power_off(&mut sim, &h, &all_hosts);
                    crashed.insert(h);
                }
                Fault::Restart(h) => {
                    power_on(&mut sim, &h, &all_hosts);
                    crashed.remove(&h);
                }
                Fault::RestartCrashed => {
                    for h in std::mem::take(&mut crashed) {
                        applied.push(format!("  = restart {h}"));
                        power_on(&mut sim, &h, &all_hosts);
                    }
                }
                Fault::CrashMaster => {
                    let o = obs.lock().unwrap_or_else(|e| e.into_inner());
                    let ip = o.master_changes.last().map(|(_, a)| split(a).0);
                    let host = o
                        .host_ips
                        .iter()
                        .find(|(_, v)| Some(*v) == ip.as_ref())
                        .map(|(k, _)| k.clone());
                    drop(o);
                    if let Some(h) = host {
                        applied.push(format!("  = crash {h}"));
                        power_off(&mut sim, &h, &all_hosts);
                        crashed.insert(h);
                    }
                }
                Fault::Stall(h, d) => {
                    if let Some(x) = stalls.lock().unwrap_or_else(|e| e.into_inner()).get(&h) {
                        x.store(d.as_millis() as u64, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                Fault::Latency(a, b, d) => pairs(&a, &b, |x, y| sim.set_link_latency(x, y, d)),
                Fault::Loss(a, b, r) => pairs(&a, &b, |x, y| sim.set_link_fail_rate(x, y, r)),
                Fault::LoseDisk(h) => {
                    power_off(&mut sim, &h, &all_hosts);
                    let _ = std::fs::remove_dir_all(dir.join(&h));
                    power_on(&mut sim, &h, &all_hosts);
                }
                Fault::Partition(a, b) => pairs(&a, &b, |x, y| sim.partition(x, y)),
                Fault::Repair(a, b) => pairs(&a, &b, |x, y| sim.repair(x, y)),
                Fault::PartitionOneWay(a, b) => pairs(&a, &b, |x, y| sim.partition_oneway(x, y)),
                Fault::Hold(a, b) => pairs(&a, &b, |x, y| sim.hold(x, y)),
                Fault::Release(a, b) => pairs(&a, &b, |x, y| sim.release(x, y)),
                Fault::ManualFailover(h) => {
                    let name = format!("operator{}", applied.len());
                    let dial = admin.clone();
                    sim.client(name, async move {
                        let mut c = dial.connect(&h, SENTINEL_PORT).await?;
                        let r = c.cmd(&["SENTINEL", "FAILOVER", "mymaster"]).await?;
                        tracing::info!("SENTINEL FAILOVER: {}", show(&r));
                        Ok(())
                    });
                }
            }
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e.to_string());
            }
        }
    }
    // Before the simulation (and the nodes with it) is dropped.
    let refusals = acl_logs.refusals();
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
    let mut o = obs.lock().unwrap_or_else(|e| e.into_inner()).clone();
    o.wire_digest = wire.value();
    o.acl_refusals = refusals;
    Ok((o, applied))
}

/// A crash is a power-off: the host's links go silent (no resets reach the peers, which
/// notice by their timeouts, as with a machine that loses power) and it stops. (turmoil
/// sends the resets of a crashed host's sockets in an order that varies from run to run,
/// which would break replay by seed.)
fn power_off(sim: &mut turmoil::Sim<'_>, h: &str, all: &[String]) {
    for o in all.iter().filter(|o| o.as_str() != h) {
        sim.partition(h, o.as_str());
    }
    sim.crash(h);
}

/// Apply `f` to every (host of `a`, host of `b`) pair.
fn pairs(a: &[String], b: &[String], mut f: impl FnMut(&str, &str)) {
    for x in a {
        for y in b {
            f(x, y);
        }
    }
}

/// Start a crashed host again (its files are kept) and reconnect its links.
fn power_on(sim: &mut turmoil::Sim<'_>, h: &str, all: &[String]) {
    for o in all.iter().filter(|o| o.as_str() != h) {
        sim.repair(h, o.as_str());
    }
    sim.bounce(h);
}
