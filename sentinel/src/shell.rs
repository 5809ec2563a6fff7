//! The thin I/O shell around [`Core`]: the timer, one link task per monitored instance
//! (a command connection, and for masters and replicas a pub/sub connection for hellos),
//! the client-facing command server, event publishing, scripts and state saving.
//! Generic over [`Net`] so the simulation runs the same code on turmoil.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use picket_common::fdlimit::{is_local_resource_error, os_error_text, AcceptErrors};
use picket_common::net::{Conn, Listener, Net};
use picket_common::resp::frame::{decode_reply, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use picket_common::clock::Clock;

use crate::config::ServerSettings;
use crate::core::{Action, Addr, Core, Event, Input, Level, Target};

/// A command for a link task.
#[derive(Debug, Clone)]
enum LinkCmd {
    Ping,
    Info,
    Publish(String),
    Ask {
        ip: String,
        port: u16,
        epoch: u64,
        runid: String,
    },
    ReplicaOf(Option<Addr>),
    /// FAILOVER TO <ip> <port> TIMEOUT <ms> FORCE, to a master.
    Switchover {
        to: Addr,
        timeout_ms: u64,
    },
}

struct LinkHandle {
    addr: Addr,
    tx: mpsc::UnboundedSender<LinkCmd>,
    cancel: CancellationToken,
}

/// A client of the command server subscribed to events.
pub struct Subscriber {
    pub channels: BTreeSet<String>,
    pub patterns: BTreeSet<String>,
    pub tx: mpsc::UnboundedSender<(Option<String>, String, String)>,
    pub resp3: bool,
}

/// How the sentinel stopped: what the binary's exit code says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Outcome {
    /// Asked to (SIGTERM, SHUTDOWN): exit 0.
    #[default]
    Shutdown,
    /// SENTINEL SIMULATE-FAILURE reached its point: exit 99, as Redis's `exit(99)`.
    SimulatedCrash,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Shutdown => 0,
            Outcome::SimulatedCrash => 99,
        }
    }
}

/// What every task shares.
pub struct Shared {
    pub core: Mutex<Core>,
    pub settings: Mutex<ServerSettings>,
    pub config_path: PathBuf,
    pub started: Instant,
    /// Unix time (INFO `server_time_usec`, `lru_clock`): the system's in the binary, a
    /// fixed base in the simulation.
    pub clock: Clock,
    /// The process's run id (INFO `run_id`), new at every start as Redis's `server.runid`;
    /// not the sentinel's identity (`myid`).
    pub run_id: String,
    /// The command server's counters (INFO `# Stats`).
    pub stats: crate::stats::Stats,
    /// The timer's current frequency (INFO `hz`): Redis's sentinel varies it between 10
    /// and 19 so that sentinels do not act in lockstep; picket's period is 50-99 ms.
    hz: std::sync::atomic::AtomicU64,
    pub inputs: mpsc::UnboundedSender<Input>,
    /// Actions produced by commands (SENTINEL MONITOR, RESET, FAILOVER...).
    pub actions: mpsc::UnboundedSender<Vec<Action>>,
    links: Mutex<BTreeMap<Target, LinkHandle>>,
    pub subscribers: Mutex<BTreeMap<u64, Subscriber>>,
    pub next_client: Mutex<u64>,
    pub cancel: CancellationToken,
    /// Why `cancel` was cancelled (set before it).
    outcome: Mutex<Outcome>,
    pub tracker: TaskTracker,
    /// Notification and client-reconfig script runs (Redis's script queue).
    pub scripts: Mutex<crate::scripts::Queue>,
    /// Test hook (the simulation's "stalled process"): the timer sleeps this many ms once,
    /// as if the process had been stopped, so the next tick sees the jump (TILT).
    pub stall_ms: Arc<std::sync::atomic::AtomicU64>,
    /// The addresses the command server listens on.
    pub bound: Mutex<Vec<std::net::SocketAddr>>,
    /// Client connections being served (INFO `connected_clients`, the maxclients check).
    pub clients: AtomicUsize,
    /// Milliseconds spent writing the state file since the last tick: a slow fsync (a busy
    /// disk) stalls the sentinel, but it is its own doing, not a clock jump or a frozen
    /// process, so the TILT check does not count it (see `Core::tick`).
    pub persist_pause_ms: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn settings(&self) -> std::sync::MutexGuard<'_, ServerSettings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Milliseconds since start on the (possibly simulated) monotonic clock.
    pub fn now(&self) -> u64 {
        Instant::now()
            .saturating_duration_since(self.started)
            .as_millis() as u64
    }

    /// INFO `hz`.
    pub fn hz(&self) -> u64 {
        self.hz.load(Ordering::Relaxed)
    }

    /// Distinct channels and patterns the command server's clients are subscribed to (INFO
    /// `pubsub_channels`, `pubsub_patterns`).
    pub fn pubsub_counts(&self) -> (usize, usize) {
        let subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let channels: BTreeSet<&String> = subs.values().flat_map(|s| &s.channels).collect();
        let patterns: BTreeSet<&String> = subs.values().flat_map(|s| &s.patterns).collect();
        (channels.len(), patterns.len())
    }

    /// Save the state into the config file.
    pub fn flush(&self, core: &Core) -> bool {
        let s = self.settings();
        let started = Instant::now();
        let r = crate::config::rewrite(&self.config_path, core, &s);
        drop(s);
        let took = started.elapsed().as_millis() as u64;
        if took >= 500 {
            tracing::warn!(
                "Saving the sentinel state to {} took {took} ms (a slow disk stalls the sentinel meanwhile)",
                self.config_path.display()
            );
        }
        self.persist_pause_ms
            .fetch_add(took, std::sync::atomic::Ordering::SeqCst);
        match r {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
                );
                false
            }
        }
    }

    /// Stop every task, for `why`.
    pub fn stop(&self, why: Outcome) {
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = why;
        self.cancel.cancel();
    }

    /// Wait until the sentinel stops; why it did.
    pub async fn stopped(&self) -> Outcome {
        self.cancel.cancelled().await;
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publish an event to the command server's subscribers.
    pub fn publish(&self, channel: &str, msg: &str) -> usize {
        let subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for s in subs.values() {
            if s.channels.contains(channel) {
                let _ = s.tx.send((None, channel.to_string(), msg.to_string()));
                n += 1;
            }
            for p in &s.patterns {
                if picket_common::glob::string_match_str(p, channel, false) {
                    let _ =
                        s.tx.send((Some(p.clone()), channel.to_string(), msg.to_string()));
                    n += 1;
                }
            }
        }
        n
    }
}

/// INFO `configured_hz`: Redis's default `hz`, which its sentinel randomizes from.
pub const CONFIGURED_HZ: u64 = 10;

/// Start the Sentinel: the timer/driver task, and the listeners. `clock` gives unix time.
pub async fn start<N: Net>(
    net: N,
    mut core: Core,
    settings: ServerSettings,
    config_path: PathBuf,
    clock: Clock,
) -> std::io::Result<Arc<Shared>> {
    let run_id = picket_common::ids::random_hex40(&mut core.rng);
    let (tx, rx) = mpsc::unbounded_channel();
    let (atx, arx) = mpsc::unbounded_channel();
    let port = settings.port;
    let binds = settings.bind.clone();
    let shared = Arc::new(Shared {
        core: Mutex::new(core),
        settings: Mutex::new(settings),
        config_path,
        started: Instant::now(),
        clock,
        run_id,
        stats: Default::default(),
        hz: std::sync::atomic::AtomicU64::new(CONFIGURED_HZ),
        inputs: tx,
        actions: atx,
        links: Mutex::new(BTreeMap::new()),
        subscribers: Mutex::new(BTreeMap::new()),
        next_client: Mutex::new(1),
        cancel: CancellationToken::new(),
        outcome: Mutex::new(Outcome::Shutdown),
        tracker: TaskTracker::new(),
        scripts: Mutex::new(crate::scripts::Queue::default()),
        stall_ms: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        bound: Mutex::new(Vec::new()),
        clients: AtomicUsize::new(0),
        persist_pause_ms: std::sync::atomic::AtomicU64::new(0),
    });
    let mut listeners = Vec::new();
    for b in &binds {
        let (optional, a) = match b.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, b.as_str()),
        };
        let ip: std::net::IpAddr = match a {
            "*" => std::net::Ipv4Addr::UNSPECIFIED.into(),
            "::*" => std::net::Ipv6Addr::UNSPECIFIED.into(),
            x => x.parse().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("bad bind address {x}"),
                )
            })?,
        };
        match net.bind(std::net::SocketAddr::new(ip, port)).await {
            Ok(l) => listeners.push(l),
            Err(e) if optional => tracing::debug!("optional bind {a} failed: {e}"),
            Err(e) => return Err(e),
        }
    }
    *shared.bound.lock().unwrap_or_else(|e| e.into_inner()) = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    for l in listeners {
        let sh = shared.clone();
        shared.tracker.spawn(accept_loop(sh, l));
    }
    // The initial actions (monitor lines) and the timer.
    let first = shared.lock().take_actions();
    let sh = shared.clone();
    let n = net.clone();
    shared.tracker.spawn(async move {
        if execute(&sh, &n, first).is_continue() {
            driver(sh, n, rx, arx).await;
        }
    });
    Ok(shared)
}

/// The timer and the inputs, one at a time through the core.
async fn driver<N: Net>(
    shared: Arc<Shared>,
    net: N,
    mut rx: mpsc::UnboundedReceiver<Input>,
    mut arx: mpsc::UnboundedReceiver<Vec<Action>>,
) {
    let cancel = shared.cancel.clone();
    loop {
        let stall = shared.stall_ms.swap(0, std::sync::atomic::Ordering::SeqCst);
        if stall > 0 {
            tokio::time::sleep(Duration::from_millis(stall)).await;
        }
        // Redis randomizes the timer (hz 10..19) so sentinels do not act in lockstep.
        let jitter = {
            use rand::RngExt;
            shared.lock().rng.random::<u64>() % 50
        };
        shared.hz.store(1000 / (50 + jitter), Ordering::Relaxed);
        shared.stats.sample(shared.now());
        let sleep = tokio::time::sleep(Duration::from_millis(50 + jitter));
        tokio::pin!(sleep);
        let mut inputs = Vec::new();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = &mut sleep => {
                // What arrived while the sentinel was busy (a slow state write) is taken
                // before the tick judges the instances, so late replies are not silence.
                while let Ok(i) = rx.try_recv() {
                    inputs.push(i);
                }
                inputs.push(Input::Tick);
            }
            Some(a) = arx.recv() => {
                if execute(&shared, &net, a).is_break() {
                    return;
                }
                crate::scripts::run_pending(&shared);
                continue;
            }
            Some(i) = rx.recv() => {
                inputs.push(i);
                while let Ok(i) = rx.try_recv() {
                    inputs.push(i);
                }
            }
        }
        // The actions of a whole batch are carried out together, so a burst of inputs (a
        // flood of hellos) saves the state once, not once per input.
        let mut actions = Vec::new();
        for input in inputs {
            let now = shared.now();
            let mut core = shared.lock();
            if matches!(input, Input::Tick) {
                core.persist_pause_ms += shared
                    .persist_pause_ms
                    .swap(0, std::sync::atomic::Ordering::SeqCst);
            }
            actions.extend(core.step(now, input));
        }
        if execute(&shared, &net, actions).is_break() {
            return;
        }
        crate::scripts::run_pending(&shared);
    }
}

/// Carry out the core's actions; `Break` when one stopped the sentinel (the rest are not
/// carried out).
pub fn execute<N: Net>(
    shared: &Arc<Shared>,
    net: &N,
    actions: Vec<Action>,
) -> std::ops::ControlFlow<()> {
    let mut flush = false;
    for a in actions {
        match a {
            Action::Connect(t, addr) => connect(shared, net, t, addr),
            Action::Disconnect(t) => {
                let mut links = shared.links.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(h) = links.remove(&t) {
                    h.cancel.cancel();
                }
            }
            Action::Ping(t) => send(shared, &t, LinkCmd::Ping),
            Action::Info(t) => send(shared, &t, LinkCmd::Info),
            Action::Hello(t, p) => send(shared, &t, LinkCmd::Publish(p)),
            Action::AskMasterDown {
                to,
                master_ip,
                master_port,
                epoch,
                runid,
            } => send(
                shared,
                &to,
                LinkCmd::Ask {
                    ip: master_ip,
                    port: master_port,
                    epoch,
                    runid,
                },
            ),
            Action::ReplicaOf(t, addr) => send(shared, &t, LinkCmd::ReplicaOf(addr)),
            Action::Switchover {
                master,
                to,
                timeout_ms,
            } => send(shared, &master, LinkCmd::Switchover { to, timeout_ms }),
            Action::Event(e) => event(shared, &e),
            Action::ReconfigScript {
                master,
                role,
                from,
                to,
            } => {
                let script = shared
                    .lock()
                    .masters
                    .get(&master)
                    .and_then(|m| m.client_reconfig_script.clone());
                if let Some(s) = script {
                    let args = vec![
                        master,
                        role.to_string(),
                        "start".into(),
                        from.host,
                        from.port.to_string(),
                        to.host,
                        to.port.to_string(),
                    ];
                    run_script(shared, s, args);
                }
            }
            Action::Flush => flush = true,
            Action::Log(level, msg) => match level {
                Level::Debug | Level::Verbose => tracing::debug!("{msg}"),
                Level::Notice => tracing::info!("{msg}"),
                Level::Warning => tracing::warn!("{msg}"),
            },
            Action::Crash => {
                // What the core saved before this point is on disk first, as Redis flushes
                // the config before it crashes after a promotion.
                if flush {
                    let core = shared.lock();
                    shared.flush(&core);
                }
                tracing::warn!("Sentinel CRASH because of SENTINEL simulate-failure");
                shared.stop(Outcome::SimulatedCrash);
                return std::ops::ControlFlow::Break(());
            }
        }
    }
    if flush {
        let core = shared.lock();
        shared.flush(&core);
    }
    std::ops::ControlFlow::Continue(())
}

/// Log an event, publish it (unless DEBUG) and, for a WARNING, hand it to its master's
/// notification script (Redis's `sentinelEvent`).
pub(crate) fn event(shared: &Arc<Shared>, e: &Event) {
    let (level, kind, msg) = (e.level(), e.kind(), e.to_string());
    match level {
        Level::Debug => {
            tracing::debug!("{kind} {msg}");
            return;
        }
        Level::Verbose => tracing::debug!("{kind} {msg}"),
        Level::Notice => tracing::info!("{kind} {msg}"),
        Level::Warning => tracing::warn!("{kind} {msg}"),
    }
    shared.publish(kind, &msg);
    if level == Level::Warning {
        let script = e.master().and_then(|m| {
            shared
                .lock()
                .masters
                .get(m)
                .and_then(|m| m.notification_script.clone())
        });
        if let Some(s) = script {
            run_script(shared, s, vec![kind.to_string(), msg]);
        }
    }
}

/// Queue a script run; it starts at the driver's next turn.
fn run_script(shared: &Arc<Shared>, path: String, args: Vec<String>) {
    let mut argv = vec![path];
    argv.extend(args);
    shared.script_queue().schedule(argv);
}

impl Shared {
    pub fn script_queue(&self) -> std::sync::MutexGuard<'_, crate::scripts::Queue> {
        self.scripts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn send(shared: &Shared, t: &Target, cmd: LinkCmd) {
    let links = shared.links.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = links.get(t) {
        let _ = h.tx.send(cmd);
    }
}

fn connect<N: Net>(shared: &Arc<Shared>, net: &N, t: Target, addr: Addr) {
    let mut links = shared.links.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = links.get(&t) {
        if h.addr == addr && !h.cancel.is_cancelled() {
            return;
        }
        h.cancel.cancel();
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let cancel = shared.cancel.child_token();
    links.insert(
        t.clone(),
        LinkHandle {
            addr: addr.clone(),
            tx,
            cancel: cancel.clone(),
        },
    );
    drop(links);
    let sh = shared.clone();
    let n = net.clone();
    shared.tracker.spawn(link_task(sh, n, t, addr, rx, cancel));
}

/// Encode a command.
fn encode(args: &[&str]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        b.extend_from_slice(a.as_bytes());
        b.extend_from_slice(b"\r\n");
    }
    b
}

/// Read one reply.
async fn read_reply<C: Conn>(conn: &mut C, buf: &mut BytesMut, within: Duration) -> Option<Frame> {
    tokio::time::timeout(within, async {
        loop {
            match decode_reply(buf) {
                Ok(Some((f, _))) => return Some(f),
                Ok(None) => {}
                Err(_) => return None,
            }
            buf.reserve(16 * 1024);
            match conn.read_buf(buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
    .flatten()
}

fn frame_text(f: &Frame) -> String {
    picket_common::resp::frame::show(f)
}

fn frame_bytes(f: &Frame) -> Option<Bytes> {
    match f {
        Frame::BulkString(b) | Frame::SimpleString(b) => Some(b.clone()),
        _ => None,
    }
}

/// Name a command as renamed for this master (`rename-command`).
fn cmd_name(renamed: &BTreeMap<String, String>, name: &str) -> String {
    renamed
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_string(), |(_, v)| v.clone())
}

/// AUTH (user, password), command renames, and the first 8 characters of our id.
type LinkParams = (
    Option<(Option<String>, String)>,
    BTreeMap<String, String>,
    String,
);

/// AUTH arguments and renames for a target.
fn link_params(shared: &Shared, t: &Target) -> LinkParams {
    let core = shared.lock();
    let myid8: String = core.myid.chars().take(8).collect();
    let Some(m) = core.masters.get(t.master()) else {
        return (None, BTreeMap::new(), myid8);
    };
    let auth = match t {
        Target::Sentinel(..) => {
            let s = shared.settings();
            s.sentinel_pass
                .clone()
                .or_else(|| s.requirepass.clone())
                .map(|p| (s.sentinel_user.clone(), p))
        }
        _ => m.auth_pass.clone().map(|p| (m.auth_user.clone(), p)),
    };
    let renamed = if matches!(t, Target::Sentinel(..)) {
        BTreeMap::new()
    } else {
        m.renamed.clone()
    };
    (auth, renamed, myid8)
}

/// Why a link could not be opened.
enum OpenError {
    /// Our own shortage (descriptors, buffers, memory, local ports): nothing about the
    /// instance.
    Local(std::io::Error),
    /// Refused, unreachable, timed out, or an unexpected answer.
    Remote,
}

async fn open<N: Net>(
    net: &N,
    addr: &Addr,
    auth: &Option<(Option<String>, String)>,
    renamed: &BTreeMap<String, String>,
    name: &str,
) -> Result<(N::Conn, BytesMut), OpenError> {
    let connected =
        tokio::time::timeout(Duration::from_secs(5), net.connect(&addr.host, addr.port)).await;
    let mut c = match connected {
        Ok(Ok(c)) => c,
        Ok(Err(e)) if is_local_resource_error(&e) => return Err(OpenError::Local(e)),
        Ok(Err(_)) | Err(_) => return Err(OpenError::Remote),
    };
    let mut buf = BytesMut::new();
    let mut cmds = Vec::new();
    if let Some((user, pass)) = auth {
        let a = cmd_name(renamed, "AUTH");
        cmds.push(match user {
            Some(u) => encode(&[&a, u, pass]),
            None => encode(&[&a, pass]),
        });
    }
    let client = cmd_name(renamed, "CLIENT");
    cmds.push(encode(&[&client, "SETNAME", name]));
    for c2 in &cmds {
        c.write_all(c2).await.map_err(|_| OpenError::Remote)?;
    }
    for _ in &cmds {
        // Errors (an unknown CLIENT on an old server, a bad password) are not fatal here:
        // the instance will look down if it refuses our PINGs.
        read_reply(&mut c, &mut buf, Duration::from_secs(5))
            .await
            .ok_or(OpenError::Remote)?;
    }
    Ok((c, buf))
}

async fn link_task<N: Net>(
    shared: Arc<Shared>,
    net: N,
    t: Target,
    addr: Addr,
    mut rx: mpsc::UnboundedReceiver<LinkCmd>,
    cancel: CancellationToken,
) {
    let inputs = shared.inputs.clone();
    // A link replaced or removed (SENTINEL SET auth-pass, RESET, a switch to a new master)
    // says nothing more: what it would report now (a late reply, its own failure) is
    // about the instance it was opened for, and would land on the one that took its
    // name (a stale Disconnected marks a healthy new master disconnected: never pinged
    // again, so down).
    let report = |i: Input| {
        if !cancel.is_cancelled() {
            let _ = inputs.send(i);
        }
    };
    let mut attempt: Option<Instant> = None;
    loop {
        // No sooner than ping-period after the previous attempt (Redis's reconnection pace).
        if let Some(at) = attempt {
            let wait = crate::link_timing::reconnect_wait(at.elapsed(), timers(&shared).0);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            while rx.try_recv().is_ok() {}
        }
        attempt = Some(Instant::now());
        let (auth, renamed, myid8) = link_params(&shared, &t);
        let cmd_name_ = format!("sentinel-{myid8}-cmd");
        let opened = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            o = open(&net, &addr, &auth, &renamed, &cmd_name_) => o,
        };
        let (mut conn, mut buf) = match opened {
            Ok(c) => c,
            Err(e) => {
                // A local error says nothing about the instance (it must not count towards
                // SDOWN); any other failure is the instance's.
                let input = match e {
                    OpenError::Local(e) => Input::LocalLinkError(t.clone(), os_error_text(&e)),
                    OpenError::Remote => Input::Disconnected(t.clone()),
                };
                report(input);
                // Drop queued commands and retry.
                while rx.try_recv().is_ok() {}
                continue;
            }
        };
        let opened_at = Instant::now();
        // Our address as the peer sees it, for hellos without announce-ip.
        if let Ok(local) = conn.local_addr() {
            let mut core = shared.lock();
            let announce = shared.settings().announce_ip.clone();
            if core.announce_ip.is_empty() && announce.is_empty() {
                core.announce_ip = local.ip().to_canonical().to_string();
            }
        }
        report(Input::Connected(t.clone()));
        // The pub/sub link of a master or replica: hellos from the other sentinels.
        let sub_cancel = cancel.child_token();
        if !matches!(t, Target::Sentinel(..)) {
            let sh = shared.clone();
            let n = net.clone();
            let (t2, a) = (t.clone(), addr.clone());
            let sc = sub_cancel.clone();
            shared.tracker.spawn(async move {
                pubsub_task(sh, n, t2, a, sc).await;
            });
        }
        let ok = loop {
            let cmd = tokio::select! {
                biased;
                _ = cancel.cancelled() => { sub_cancel.cancel(); return; }
                c = rx.recv() => match c { Some(c) => c, None => { sub_cancel.cancel(); return; } },
                // A peer that closed an idle link (a killed process) is noticed now, as
                // Redis's event loop does, not at the next PING.
                r = conn.read_buf(&mut buf) => match r {
                    Ok(0) | Err(_) => break false,
                    Ok(_) => continue,
                },
            };
            let (bytes, n_replies) = match &cmd {
                LinkCmd::Ping => (encode(&[&cmd_name(&renamed, "PING")]), 1),
                LinkCmd::Info => (encode(&[&cmd_name(&renamed, "INFO")]), 1),
                LinkCmd::Publish(p) => (
                    encode(&[&cmd_name(&renamed, "PUBLISH"), "__sentinel__:hello", p]),
                    1,
                ),
                LinkCmd::Ask {
                    ip,
                    port,
                    epoch,
                    runid,
                } => (
                    encode(&[
                        "SENTINEL",
                        "is-master-down-by-addr",
                        ip,
                        &port.to_string(),
                        &epoch.to_string(),
                        runid,
                    ]),
                    1,
                ),
                LinkCmd::ReplicaOf(to) => {
                    let (h, p) = match to {
                        Some(a) => (a.host.clone(), a.port.to_string()),
                        None => ("NO".to_string(), "ONE".to_string()),
                    };
                    let mut b = encode(&[&cmd_name(&renamed, "MULTI")]);
                    b.extend(encode(&[&cmd_name(&renamed, "SLAVEOF"), &h, &p]));
                    b.extend(encode(&[&cmd_name(&renamed, "CONFIG"), "REWRITE"]));
                    b.extend(encode(&[
                        &cmd_name(&renamed, "CLIENT"),
                        "KILL",
                        "TYPE",
                        "normal",
                    ]));
                    b.extend(encode(&[
                        &cmd_name(&renamed, "CLIENT"),
                        "KILL",
                        "TYPE",
                        "pubsub",
                    ]));
                    b.extend(encode(&[&cmd_name(&renamed, "EXEC")]));
                    (b, 6)
                }
                LinkCmd::Switchover { to, timeout_ms } => (
                    encode(&[
                        &cmd_name(&renamed, "FAILOVER"),
                        "TO",
                        &to.host,
                        &to.port.to_string(),
                        "TIMEOUT",
                        &timeout_ms.to_string(),
                        "FORCE",
                    ]),
                    1,
                ),
            };
            if conn.write_all(&bytes).await.is_err() {
                break false;
            }
            // A reply that does not come in time means a dead link (Redis closes a link
            // whose PING is pending for more than half of down-after, once the link is
            // older than min-link-reconnect-period): reconnect rather than queue behind it.
            let wait = if n_replies > 1 {
                Duration::from_secs(10)
            } else {
                let (_, _, min_link) = timers(&shared);
                let down_after = shared
                    .lock()
                    .masters
                    .get(t.master())
                    .map_or(30_000, |m| m.down_after);
                crate::link_timing::reply_wait(opened_at.elapsed(), down_after, min_link)
            };
            let replies = async {
                let mut last = None;
                for _ in 0..n_replies {
                    match read_reply(&mut conn, &mut buf, wait).await {
                        Some(f) => last = Some(f),
                        None => break,
                    }
                }
                last
            };
            let last = tokio::select! {
                biased;
                _ = cancel.cancelled() => { sub_cancel.cancel(); return; }
                last = replies => last,
            };
            let Some(reply) = last else { break false };
            let input = match cmd {
                LinkCmd::Ping => {
                    let line = frame_text(&reply);
                    Some(Input::PingReply(t.clone(), line))
                }
                LinkCmd::Info => frame_bytes(&reply)
                    .map(|b| Input::InfoReply(t.clone(), String::from_utf8_lossy(&b).into_owned())),
                LinkCmd::Ask { .. } => match &reply {
                    Frame::Array(items) if items.len() == 3 => {
                        let down = matches!(items[0], Frame::Integer(1));
                        let leader = frame_bytes(&items[1])
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_else(|| "*".into());
                        let epoch = match items[2] {
                            Frame::Integer(e) => e.max(0) as u64,
                            _ => 0,
                        };
                        Some(Input::MasterDownReply {
                            from: t.clone(),
                            down,
                            leader,
                            epoch,
                        })
                    }
                    _ => None,
                },
                LinkCmd::Switchover { .. } => Some(Input::SwitchoverReply {
                    master: t.master().to_string(),
                    result: match frame_text(&reply) {
                        s if s == "+OK" || s == "OK" => Ok(()),
                        s => Err(s),
                    },
                }),
                _ => None,
            };
            if let Some(i) = input {
                report(i);
            }
        };
        let _ = ok;
        sub_cancel.cancel();
        report(Input::Disconnected(t.clone()));
        while rx.try_recv().is_ok() {}
    }
}

/// The `SENTINEL DEBUG` timers the links follow: ping-period, publish-period,
/// min-link-reconnect-period (ms).
fn timers(shared: &Shared) -> (u64, u64, u64) {
    let t = &shared.lock().timers;
    (t.ping_period, t.publish_period, t.min_link_reconnect_period)
}

/// The pub/sub link of a master or replica (hellos from the other sentinels), as long as
/// its command link lives: opened again whenever it fails or falls silent, as Redis
/// reconnects either link of an instance.
async fn pubsub_task<N: Net>(
    shared: Arc<Shared>,
    net: N,
    t: Target,
    addr: Addr,
    cancel: CancellationToken,
) {
    let inputs = shared.inputs.clone();
    let mut attempt: Option<Instant> = None;
    loop {
        if let Some(at) = attempt {
            let wait = crate::link_timing::reconnect_wait(at.elapsed(), timers(&shared).0);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        attempt = Some(Instant::now());
        let (auth, renamed, myid8) = link_params(&shared, &t);
        let name = format!("sentinel-{myid8}-pubsub");
        let opened = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            o = open(&net, &addr, &auth, &renamed, &name) => o,
        };
        let Ok((mut conn, mut buf)) = opened else {
            continue;
        };
        let opened_at = Instant::now();
        let sub = encode(&[&cmd_name(&renamed, "SUBSCRIBE"), "__sentinel__:hello"]);
        if conn.write_all(&sub).await.is_err() {
            continue;
        }
        loop {
            let (_, publish, min_link) = timers(&shared);
            let silence = crate::link_timing::pubsub_wait(opened_at.elapsed(), publish, min_link);
            let f = tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                f = read_reply(&mut conn, &mut buf, silence) => f,
            };
            // Closed, or silent for too long: a dead link.
            let Some(f) = f else { break };
            let items = match f {
                Frame::Array(v) => v,
                _ => continue,
            };
            if items.len() == 3 {
                if let (Some(kind), Some(msg)) = (frame_bytes(&items[0]), frame_bytes(&items[2])) {
                    if &kind[..] == b"message" {
                        let _ =
                            inputs.send(Input::Hello(String::from_utf8_lossy(&msg).into_owned()));
                    }
                }
            }
        }
    }
}

/// Descriptors the sentinel keeps beside those of its links: Redis's 32 (standard streams,
/// listeners, the event loop, the log, the state file being rewritten) and one for each
/// script that may run at once (`scripts::MAX_RUNNING`).
pub const RESERVED_FDS: u64 =
    picket_common::fdlimit::MIN_RESERVED_FDS + crate::scripts::MAX_RUNNING as u64;

/// How many clients may be connected now: `maxclients`, and never so many that the
/// descriptor limit leaves less than [`RESERVED_FDS`] plus one per link to every instance
/// known now (`Core::link_descriptors`): replicas and sentinels learned after start take
/// their descriptors from the clients' share, not from the links'.
pub fn client_cap(shared: &Shared) -> usize {
    let (max, limit) = {
        let s = shared.settings();
        (s.maxclients, s.fd_limit)
    };
    let cap = match limit {
        None => max,
        Some(limit) => {
            let links = shared.lock().link_descriptors();
            max.min(limit.saturating_sub(RESERVED_FDS.saturating_add(links)))
        }
    };
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// A served client's place in [`Shared::clients`], given back when the connection ends.
struct ClientSlot(Arc<Shared>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn accept_loop<L: Listener>(shared: Arc<Shared>, listener: L) {
    let cancel = shared.cancel.clone();
    // Out of descriptors, accept() fails at once for as long as a connection waits: warn at
    // a bounded rate and back off instead of flooding the log and spinning.
    let mut errors = AcceptErrors::default();
    loop {
        let r = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            r = listener.accept() => r,
        };
        match r {
            Ok((conn, peer)) => {
                errors.accepted();
                if shared.clients.load(Ordering::SeqCst) >= client_cap(&shared) {
                    crate::stats::Stats::add(&shared.stats.rejected_connections, 1);
                    // Redis's refusal (a short write to a fresh socket: no wait).
                    shared.tracker.spawn(async move {
                        let mut conn = conn;
                        let msg = b"-ERR max number of clients reached\r\n";
                        let _ =
                            tokio::time::timeout(Duration::from_secs(1), conn.write_all(msg)).await;
                        let _ = conn.shutdown().await;
                    });
                    // Let the refusal be written and its descriptor closed first.
                    tokio::task::yield_now().await;
                    continue;
                }
                shared.clients.fetch_add(1, Ordering::SeqCst);
                crate::stats::Stats::add(&shared.stats.connections_received, 1);
                let slot = ClientSlot(shared.clone());
                let _ = conn.set_nodelay(true);
                let (protected, keepalive) = {
                    let s = shared.settings();
                    (s.protected_mode && s.requirepass.is_none(), s.tcp_keepalive)
                };
                let _ = conn.set_keepalive(keepalive);
                // Redis's protected mode: without a password, only loopback clients.
                if protected && !peer.ip().to_canonical().is_loopback() {
                    shared.tracker.spawn(async move {
                        let mut conn = conn;
                        let msg = picket_server::runtime::DENIED.as_bytes();
                        let _ =
                            tokio::time::timeout(Duration::from_secs(1), conn.write_all(msg)).await;
                        let _ = conn.shutdown().await;
                        drop(slot);
                    });
                    continue;
                }
                let sh = shared.clone();
                shared.tracker.spawn(async move {
                    crate::commands::serve(sh, conn, peer).await;
                    drop(slot);
                });
            }
            Err(e) => {
                let wait = errors.failed(&e);
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}
