//! Whole HA deployments in one turmoil simulation: servers, sentinels and clients on their
//! own hosts, running the real picket-server and picket-sentinel code; fault injection on
//! a schedule; Sentinel-aware clients that record a history; checkers applied to every
//! scenario; and the named scenarios the tests and `picket-sim` run over many seeds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use picket_common::resp::frame::Frame;

use crate::client::{show, SimClient};
use crate::{builder, run_server};

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
    pub clients: usize,
    /// `replica-priority` per server (index 0 is the first master).
    pub priorities: Vec<i64>,
    /// How long the simulation runs.
    pub duration: Duration,
    /// Writes stop at this time; checks start after `settle`.
    pub writes_until: Duration,
    pub settle: Duration,
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
            clients: 2,
            priorities: vec![100; 3],
            duration: Duration::from_secs(120),
            writes_until: Duration::from_secs(32),
            settle: Duration::from_secs(10),
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
    /// Freeze a sentinel's timer for this long, as a stopped process (it enters TILT).
    Stall(String, Duration),
    /// Extra latency on the links between two groups.
    Latency(Vec<String>, Vec<String>, Duration),
    /// turmoil's message loss rate on the links between two groups.
    Loss(Vec<String>, Vec<String>, f64),
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

/// What a run observed; the checkers read it.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub history: Vec<Op>,
    /// (ms, master address) each time the watcher saw the address change.
    pub master_changes: Vec<(u64, String)>,
    /// Final state, collected by the checker host.
    pub final_master: Option<String>,
    pub sentinels_agree: bool,
    pub epochs: Vec<String>,
    pub converged: Vec<(String, bool, String)>,
    pub final_keys: BTreeSet<String>,
    pub notes: Vec<String>,
    /// Server host name → IP.
    pub host_ips: BTreeMap<String, String>,
    /// The checker finished: the other observers stop.
    pub done: bool,
    /// The first sentinel reported TILT at some point.
    pub tilt_seen: bool,
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
    pub acked_writes: usize,
    pub split_brain_ms: u64,
    pub failures: Vec<String>,
    pub trace_hash: u64,
}

fn server_host(i: usize) -> String {
    format!("s{}", i + 1)
}

fn sentinel_host(i: usize) -> String {
    format!("t{}", i + 1)
}

/// A directory for the hosts' files, unique per run.
fn run_dir(seed: u64) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("picket-sim-{}-{seed}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("sim dir");
    d
}

async fn run_sentinel(
    seed: u64,
    dir: PathBuf,
    master_ip: String,
    s: Settings,
    host: String,
    stalls: Stalls,
) -> turmoil::Result {
    std::fs::create_dir_all(&dir)?;
    let conf = dir.join("sentinel.conf");
    if !conf.exists() {
        std::fs::write(
            &conf,
            format!(
                "port 26379\nbind 0.0.0.0\nsentinel monitor mymaster {master_ip} 6379 {}\nsentinel down-after-milliseconds mymaster {}\nsentinel failover-timeout mymaster {}\n",
                s.quorum, s.down_after_ms, s.failover_timeout_ms
            ),
        )?;
    }
    let text = std::fs::read_to_string(&conf)?;
    let loaded = picket_sentinel::config::parse(&text, &[])?;
    let core = picket_sentinel::core_from(&loaded, seed, 0)?;
    let shared =
        picket_sentinel::shell::start(crate::net::SimNet, core, loaded.server.clone(), conf)
            .await?;
    {
        let core = shared.lock();
        shared.flush(&core);
    }
    stalls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(host, shared.stall_ms.clone());
    shared.cancel.cancelled().await;
    Ok(())
}

fn frame_str(f: &Frame) -> Option<String> {
    match f {
        Frame::BulkString(b) | Frame::SimpleString(b) => {
            Some(String::from_utf8_lossy(b).into_owned())
        }
        _ => None,
    }
}

/// Ask the sentinels where the master is (the first that answers).
async fn resolve(sentinels: usize) -> Option<String> {
    for i in 0..sentinels {
        let Ok(Ok(mut c)) = tokio::time::timeout(
            Duration::from_millis(500),
            SimClient::connect(&sentinel_host(i), 26379),
        )
        .await
        else {
            continue;
        };
        if let Ok(Frame::Array(v)) = c
            .cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"])
            .await
        {
            if v.len() == 2 {
                if let (Some(h), Some(p)) = (frame_str(&v[0]), frame_str(&v[1])) {
                    return Some(format!("{h}:{p}"));
                }
            }
        }
    }
    None
}

fn split(addr: &str) -> (String, u16) {
    let (h, p) = addr.rsplit_once(':').unwrap_or((addr, "6379"));
    (h.to_string(), p.parse().unwrap_or(6379))
}

/// A Sentinel-aware writer: resolve, check ROLE, SET a unique key (and WAIT), record.
async fn writer(id: usize, s: Settings, obs: Arc<Mutex<Observed>>) -> turmoil::Result {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut n = 0u64;
    let mut conn: Option<(String, SimClient)> = None;
    while turmoil::sim_elapsed().unwrap_or_default() < s.writes_until {
        if conn.is_none() {
            let Some(addr) = resolve(s.sentinels).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let (h, p) = split(&addr);
            match tokio::time::timeout(Duration::from_millis(500), SimClient::connect(&h, p)).await
            {
                Ok(Ok(mut c)) => {
                    let role = c.cmd(&["ROLE"]).await;
                    let is_master = matches!(&role, Ok(Frame::Array(v)) if v.first().and_then(frame_str).as_deref() == Some("master"));
                    if is_master {
                        conn = Some((addr, c));
                    } else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
                _ => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some((addr, c)) = conn.as_mut() else {
            continue;
        };
        n += 1;
        let key = format!("c{id}:{n}");
        let at_ms = turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64;
        let r = c.cmd(&["SET", &key, "v"]).await;
        let mut outcome = match &r {
            Ok(Frame::SimpleString(_)) => Outcome::Ok,
            Ok(Frame::Error(_)) => Outcome::Fail,
            Ok(_) => Outcome::Unknown,
            Err(_) => Outcome::Unknown,
        };
        if outcome == Outcome::Ok && s.wait_replicas > 0 {
            let w = c.cmd(&["WAIT", &s.wait_replicas.to_string(), "1000"]).await;
            outcome = match w {
                Ok(Frame::Integer(k)) if k as usize >= s.wait_replicas => Outcome::Ok,
                // Written on the master but not acknowledged by enough replicas.
                _ => Outcome::Unknown,
            };
        }
        let server = addr.clone();
        obs.lock()
            .unwrap_or_else(|e| e.into_inner())
            .history
            .push(Op {
                at_ms,
                client: id,
                key,
                outcome,
                server,
            });
        // A READONLY or a dead link: re-resolve.
        if outcome != Outcome::Ok {
            conn = None;
            tokio::time::sleep(Duration::from_millis(50)).await;
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// Watches the master address as the first sentinel reports it.
async fn watcher(s: Settings, obs: Arc<Mutex<Observed>>) -> turmoil::Result {
    let mut last: Option<String> = None;
    while turmoil::sim_elapsed().unwrap_or_default() < s.duration - Duration::from_secs(2) {
        if obs.lock().unwrap_or_else(|e| e.into_inner()).done {
            break;
        }
        if let Ok(Ok(mut c)) =
            tokio::time::timeout(Duration::from_millis(300), SimClient::connect("t1", 26379)).await
        {
            if info_fields(&mut c, "sentinel")
                .await
                .get("sentinel_tilt")
                .map(String::as_str)
                == Some("1")
            {
                obs.lock().unwrap_or_else(|e| e.into_inner()).tilt_seen = true;
            }
        }
        if let Some(a) = resolve(1).await {
            if last.as_ref() != Some(&a) {
                let t = turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64;
                obs.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .master_changes
                    .push((t, a.clone()));
                last = Some(a);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn info_fields(c: &mut SimClient, section: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Ok(f) = c.cmd(&["INFO", section]).await {
        if let Some(t) = frame_str(&f) {
            for l in t.split("\r\n") {
                if let Some((k, v)) = l.split_once(':') {
                    m.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    m
}

async fn keys(c: &mut SimClient) -> BTreeSet<String> {
    match c.cmd(&["KEYS", "*"]).await {
        Ok(Frame::Array(v)) => v.iter().filter_map(frame_str).collect(),
        _ => BTreeSet::new(),
    }
}

/// After the faults: what the sentinels agree on, and whether every reachable server
/// converged to the final master.
async fn checker(s: Settings, ips: Vec<String>, obs: Arc<Mutex<Observed>>) -> turmoil::Result {
    tokio::time::sleep(s.writes_until + s.settle).await;
    // The sentinels agree on one master and one epoch (retry while they converge).
    let mut agree = false;
    let mut master = None;
    let mut epochs = Vec::new();
    for _ in 0..50 {
        let mut addrs = BTreeSet::new();
        epochs.clear();
        let mut all = true;
        for i in 0..s.sentinels {
            let Ok(Ok(mut c)) = tokio::time::timeout(
                Duration::from_millis(500),
                SimClient::connect(&sentinel_host(i), 26379),
            )
            .await
            else {
                continue;
            };
            let a = c
                .cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"])
                .await;
            match a {
                Ok(Frame::Array(v)) if v.len() == 2 => {
                    addrs.insert(format!(
                        "{}:{}",
                        frame_str(&v[0]).unwrap_or_default(),
                        frame_str(&v[1]).unwrap_or_default()
                    ));
                }
                _ => all = false,
            }
            if let Ok(Frame::Array(v)) = c.cmd(&["SENTINEL", "master", "mymaster"]).await {
                let kv: Vec<String> = v.iter().filter_map(frame_str).collect();
                if let Some(p) = kv.iter().position(|k| k == "config-epoch") {
                    epochs.push(kv.get(p + 1).cloned().unwrap_or_default());
                }
            }
        }
        let same_epoch = epochs.windows(2).all(|w| w[0] == w[1]);
        if all && addrs.len() == 1 && same_epoch {
            agree = true;
            master = addrs.into_iter().next();
            break;
        }
        master = addrs.into_iter().next();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut converged = Vec::new();
    let mut final_keys = BTreeSet::new();
    if let Some(m) = &master {
        let (mh, mp) = split(m);
        // Retry: replicas may still be syncing.
        for _ in 0..75 {
            converged.clear();
            let Ok(Ok(mut mc)) =
                tokio::time::timeout(Duration::from_secs(1), SimClient::connect(&mh, mp)).await
            else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let minfo = info_fields(&mut mc, "replication").await;
            let moff = minfo.get("master_repl_offset").cloned().unwrap_or_default();
            final_keys = keys(&mut mc).await;
            let mut all_ok = true;
            for ip in &ips {
                if *ip == mh {
                    continue;
                }
                let Ok(Ok(mut c)) =
                    tokio::time::timeout(Duration::from_millis(500), SimClient::connect(ip, 6379))
                        .await
                else {
                    // A crashed server that stays down does not count.
                    continue;
                };
                let info = info_fields(&mut c, "replication").await;
                let ok = info.get("role").map(String::as_str) == Some("slave")
                    && info.get("master_host") == Some(&mh)
                    && info.get("master_link_status").map(String::as_str) == Some("up")
                    && info.get("slave_repl_offset") == Some(&moff)
                    && keys(&mut c).await == final_keys;
                all_ok &= ok;
                converged.push((
                    ip.clone(),
                    ok,
                    format!(
                        "role={:?} master={:?} link={:?} offset={:?} vs {moff}",
                        info.get("role"),
                        info.get("master_host"),
                        info.get("master_link_status"),
                        info.get("slave_repl_offset")
                    ),
                ));
            }
            if all_ok {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut o = obs.lock().unwrap_or_else(|e| e.into_inner());
    o.final_master = master;
    o.sentinels_agree = agree;
    o.epochs = epochs;
    o.converged = converged;
    o.final_keys = final_keys;
    o.done = true;
    Ok(())
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
    for (i, h) in servers.iter().enumerate() {
        let s2 = s.clone();
        let master = servers[0].clone();
        let hseed = seed.wrapping_mul(31).wrapping_add(i as u64);
        sim.host(h.as_str(), move || {
            let s = s2.clone();
            let master = master.clone();
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
                if i != 0 {
                    let ip = turmoil::lookup(master.as_str()).to_string();
                    args.extend(["--replicaof".into(), format!("{ip} 6379")]);
                }
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                run_server(hseed, &refs).await
            }
        });
    }
    for (i, h) in sentinels.iter().enumerate() {
        let s2 = s.clone();
        let d = dir.join(h);
        let master = servers[0].clone();
        let hseed = seed.wrapping_mul(131).wrapping_add(100 + i as u64);
        let (host, st) = (h.clone(), stalls.clone());
        sim.host(h.as_str(), move || {
            let s = s2.clone();
            let d = d.clone();
            let master = master.clone();
            let (host, st) = (host.clone(), st.clone());
            async move {
                let ip = turmoil::lookup(master.as_str()).to_string();
                run_sentinel(hseed, d, ip, s, host, st).await
            }
        });
    }
    for c in 0..s.clients {
        let (s2, o) = (s.clone(), obs.clone());
        sim.client(format!("c{}", c + 1), writer(c, s2, o));
    }
    let (s2, o) = (s.clone(), obs.clone());
    sim.client("watcher", watcher(s2, o));
    let (s2, o) = (s.clone(), obs.clone());
    let ips: Vec<String> = servers.clone();
    sim.client("checker", async move {
        let map: BTreeMap<String, String> = ips
            .iter()
            .map(|h| (h.clone(), turmoil::lookup(h.as_str()).to_string()))
            .collect();
        o.lock().unwrap_or_else(|e| e.into_inner()).host_ips = map.clone();
        let ips: Vec<String> = map.into_values().collect();
        checker(s2, ips, o).await
    });
    let all_hosts: Vec<String> = servers
        .iter()
        .chain(&sentinels)
        .cloned()
        .chain((0..s.clients).map(|c| format!("c{}", c + 1)))
        .chain(["watcher".to_string(), "checker".to_string()])
        .collect();
    let mut pending: Vec<(Duration, Fault)> = faults.to_vec();
    pending.sort_by_key(|f| f.0);
    let mut applied = Vec::new();
    loop {
        let t = sim.elapsed();
        while pending.first().is_some_and(|(at, _)| *at <= t) {
            let (at, f) = pending.remove(0);
            applied.push(format!("{}ms {f:?}", at.as_millis()));
            match f {
                Fault::Crash(h) => power_off(&mut sim, &h, &all_hosts),
                Fault::Restart(h) => power_on(&mut sim, &h, &all_hosts),
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
    let _ = std::fs::remove_dir_all(&dir);
    let o = obs.lock().unwrap_or_else(|e| e.into_inner()).clone();
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

/// What a scenario requires of a run.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// A failover must happen (the master address changes), within this bound after the
    /// fault.
    pub failover_within_ms: Option<u64>,
    /// No failover may happen.
    pub no_failover: bool,
    /// Acknowledged writes lost must be zero.
    pub no_lost_writes: bool,
    /// This server host must not be the final master.
    pub never_master: Option<String>,
    /// The first sentinel must have entered TILT.
    pub tilt: bool,
}

fn fnv(h: &mut u64, s: &str) {
    for b in s.bytes() {
        *h ^= b as u64;
        *h = h.wrapping_mul(0x100000001b3);
    }
}

/// Apply the checkers to a run.
pub fn check(
    seed: u64,
    s: &Settings,
    fault_at: Option<Duration>,
    expect: &Expect,
    o: &Observed,
    applied: &[String],
) -> Report {
    let mut failures = Vec::new();
    if !o.sentinels_agree {
        failures.push(format!(
            "sentinels do not agree on one master and epoch (master {:?}, epochs {:?})",
            o.final_master, o.epochs
        ));
    }
    for (ip, ok, why) in &o.converged {
        if !ok {
            failures.push(format!(
                "server {ip} did not converge to the final master: {why}"
            ));
        }
    }
    let first = o.master_changes.first().map(|x| x.1.clone());
    let switch = fault_at.and_then(|f| {
        o.master_changes
            .iter()
            .find(|(t, a)| *t >= f.as_millis() as u64 && Some(a) != first.as_ref())
            .map(|(t, _)| t - f.as_millis() as u64)
    });
    if let Some(bound) = expect.failover_within_ms {
        match switch {
            None => failures.push("no failover happened".into()),
            Some(t) if t > bound => {
                failures.push(format!("failover took {t} ms > bound {bound} ms"))
            }
            _ => {}
        }
    }
    if expect.tilt && !o.tilt_seen {
        failures.push("the stalled sentinel never reported TILT".into());
    }
    if expect.no_failover && o.master_changes.len() > 1 {
        failures.push(format!("a failover happened: {:?}", o.master_changes));
    }
    if let (Some(h), Some(m)) = (&expect.never_master, &o.final_master) {
        let ip = o.host_ips.get(h).cloned().unwrap_or_default();
        let ever = o.master_changes.iter().any(|(_, a)| split(a).0 == ip);
        if m.starts_with(&format!("{ip}:")) || ever {
            failures.push(format!("{h} ({ip}) became master"));
        }
    }
    // Lost acknowledged writes: acked but absent from the final master.
    let acked: Vec<&Op> = o
        .history
        .iter()
        .filter(|op| op.outcome == Outcome::Ok)
        .collect();
    let lost = acked
        .iter()
        .filter(|op| !o.final_keys.contains(&op.key))
        .count();
    if expect.no_lost_writes && lost > 0 {
        failures.push(format!("{lost} acknowledged writes lost"));
    }
    // Split brain: once the sentinels moved the master elsewhere, how long a deposed master
    // still acknowledged writes (two servers acting as master), plus any overlap of two
    // servers' acknowledgement windows.
    let mut spans: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for op in &acked {
        let e = spans
            .entry(op.server.as_str())
            .or_insert((op.at_ms, op.at_ms));
        e.0 = e.0.min(op.at_ms);
        e.1 = e.1.max(op.at_ms);
    }
    let mut split = 0;
    for (i, (t, addr)) in o.master_changes.iter().enumerate() {
        if i == 0 {
            continue;
        }
        let deposed = &o.master_changes[i - 1].1;
        if deposed == addr {
            continue;
        }
        if let Some((_, last)) = spans.get(deposed.as_str()) {
            split += last.saturating_sub(*t);
        }
    }
    let v: Vec<(u64, u64)> = spans.values().copied().collect();
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            let lo = v[i].0.max(v[j].0);
            let hi = v[i].1.min(v[j].1);
            split += hi.saturating_sub(lo);
        }
    }
    let mut h = 0xcbf29ce484222325u64;
    for op in &o.history {
        fnv(&mut h, &format!("{op:?}"));
    }
    for c in &o.master_changes {
        fnv(&mut h, &format!("{c:?}"));
    }
    for a in applied {
        fnv(&mut h, a);
    }
    let _ = s;
    Report {
        seed,
        fault_at_ms: fault_at.map(|f| f.as_millis() as u64),
        detection_ms: None,
        switch_ms: switch,
        lost_writes: lost,
        acked_writes: acked.len(),
        split_brain_ms: split,
        failures,
        trace_hash: h,
    }
}

/// The named scenarios.
pub const SCENARIOS: &[&str] = &[
    "master-crash",
    "master-partitioned",
    "master-isolated-from-sentinels",
    "sentinel-crash-during-election",
    "no-quorum",
    "priority-zero",
    "flapping-links",
    "cascading-failures",
    "sentinel-restart",
    "fenced-writes",
    "sentinel-stall",
    "slow-links",
    "most-up-to-date-promoted",
    "sentinel-lost-disk",
];

/// A scenario's settings, fault schedule, time of the fault and expectations.
pub type Plan = (Settings, Vec<(Duration, Fault)>, Option<Duration>, Expect);

/// A scenario's settings, fault schedule, fault time and expectations.
pub fn scenario(name: &str, base: &Settings) -> Option<Plan> {
    let mut s = base.clone();
    let sec = Duration::from_secs;
    let all_but = |h: &str, s: &Settings| -> Vec<String> {
        (0..s.servers)
            .map(server_host)
            .chain((0..s.sentinels).map(sentinel_host))
            .chain((0..s.clients).map(|c| format!("c{}", c + 1)))
            .chain(["watcher".to_string(), "checker".to_string()])
            .filter(|x| x != h)
            .collect()
    };
    let sentinels: Vec<String> = (0..s.sentinels).map(sentinel_host).collect();
    let bound = s.down_after_ms + 2 * s.failover_timeout_ms + 5000;
    // After the sentinels' second INFO round (10 s): they know every replica, as they would
    // in any deployment that has run for a while (replicas are learned only from INFO).
    let fault = sec(12);
    let mut e = Expect::default();
    let f: Vec<(Duration, Fault)> = match name {
        "master-crash" => {
            e.failover_within_ms = Some(bound);
            vec![(fault, Fault::Crash("s1".into()))]
        }
        "master-partitioned" => {
            // Cut off from everyone; after the heal it must be demoted.
            e.failover_within_ms = Some(bound);
            let others = all_but("s1", &s);
            vec![
                (fault, Fault::Partition(vec!["s1".into()], others.clone())),
                (sec(26), Fault::Repair(vec!["s1".into()], others)),
            ]
        }
        "master-isolated-from-sentinels" => {
            // The clients still reach it: the split-brain window is measured.
            e.failover_within_ms = Some(bound);
            let cut: Vec<String> = sentinels
                .iter()
                .cloned()
                .chain(["s2".into(), "s3".into()])
                .collect();
            vec![
                (fault, Fault::Partition(vec!["s1".into()], cut.clone())),
                (sec(26), Fault::Repair(vec!["s1".into()], cut)),
            ]
        }
        "sentinel-crash-during-election" => {
            e.failover_within_ms = Some(bound);
            vec![
                (fault, Fault::Crash("s1".into())),
                (
                    fault + Duration::from_millis(s.down_after_ms + 200),
                    Fault::Crash("t1".into()),
                ),
                (sec(30), Fault::Restart("t1".into())),
            ]
        }
        "no-quorum" => {
            s.quorum = 3;
            e.no_failover = true;
            vec![
                (sec(4), Fault::Crash("t3".into())),
                (fault, Fault::Crash("s1".into())),
                (sec(30), Fault::Restart("s1".into())),
            ]
        }
        "priority-zero" => {
            s.priorities = vec![100, 0, 100];
            e.failover_within_ms = Some(bound);
            e.never_master = Some("s2".into());
            vec![(fault, Fault::Crash("s1".into()))]
        }
        "flapping-links" => {
            let mut v = Vec::new();
            let mut t = fault;
            for k in 0..12 {
                let f = if k % 2 == 0 {
                    Fault::Partition(vec!["s1".into()], sentinels.clone())
                } else {
                    Fault::Repair(vec!["s1".into()], sentinels.clone())
                };
                v.push((t, f));
                t += Duration::from_millis(s.down_after_ms * 7 / 10);
            }
            v.push((t, Fault::Repair(vec!["s1".into()], sentinels.clone())));
            v
        }
        "cascading-failures" => {
            e.failover_within_ms = Some(bound);
            // The first failover's winner is crashed later too; the last server remains.
            s.duration = sec(150);
            s.writes_until = sec(58);
            vec![
                (fault, Fault::Crash("s1".into())),
                (sec(38), Fault::CrashMaster),
            ]
        }
        "sentinel-restart" => {
            e.failover_within_ms = Some(bound);
            vec![
                (fault, Fault::Crash("s1".into())),
                (sec(30), Fault::Restart("t1".into())),
                (sec(31), Fault::Restart("t2".into())),
            ]
        }
        "fenced-writes" => {
            // min-replicas-to-write plus WAIT on all replicas: no acknowledged write lost.
            s.min_replicas = 1;
            s.wait_replicas = 2;
            e.failover_within_ms = Some(bound);
            e.no_lost_writes = true;
            vec![(fault, Fault::Crash("s1".into()))]
        }
        "sentinel-stall" => {
            // A stopped sentinel process: TILT, no action from it meanwhile; a later master
            // crash is still handled by the others.
            e.tilt = true;
            e.failover_within_ms = Some(bound);
            vec![
                (sec(6), Fault::Stall("t1".into(), sec(4))),
                (fault, Fault::Crash("s1".into())),
            ]
        }
        "most-up-to-date-promoted" => {
            // s3 stops receiving the stream 4 s before the crash: s2 has the larger offset
            // and must be the one promoted.
            e.failover_within_ms = Some(bound);
            e.never_master = Some("s3".into());
            vec![
                (sec(8), Fault::Hold(vec!["s1".into()], vec!["s3".into()])),
                (fault, Fault::Crash("s1".into())),
                (
                    sec(20),
                    Fault::Release(vec!["s1".into()], vec!["s3".into()]),
                ),
            ]
        }
        "sentinel-lost-disk" => {
            // After a failover, a sentinel loses its state file and restarts from the
            // original configuration: it learns the current master from the others' hellos.
            e.failover_within_ms = Some(bound);
            vec![
                (fault, Fault::Crash("s1".into())),
                (sec(24), Fault::LoseDisk("t1".into())),
            ]
        }
        "slow-links" => {
            // 200 ms more on every link of the master: slower, but no false failover.
            e.no_failover = true;
            let others = all_but("s1", &s);
            vec![
                (
                    sec(5),
                    Fault::Latency(
                        vec!["s1".into()],
                        others.clone(),
                        Duration::from_millis(200),
                    ),
                ),
                (
                    sec(25),
                    Fault::Latency(vec!["s1".into()], others, Duration::from_millis(1)),
                ),
            ]
        }
        _ => return None,
    };
    Some((s, f, Some(fault), e))
}

/// Run a named scenario for one seed.
pub fn run_scenario(name: &str, seed: u64, base: &Settings) -> Result<Report, String> {
    let (s, faults, at, expect) =
        scenario(name, base).ok_or_else(|| format!("unknown scenario {name}"))?;
    let (o, applied) = run(seed, &s, &faults)?;
    let mut r = check(seed, &s, at, &expect, &o, &applied);
    if !r.failures.is_empty() {
        r.failures.push(format!("faults: {applied:?}"));
        r.failures
            .push(format!("master changes: {:?}", o.master_changes));
    }
    let _ = show;
    Ok(r)
}
