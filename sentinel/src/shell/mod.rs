//! The thin I/O shell around [`Core`]: the timer, one link task per monitored instance
//! (a command connection, and for masters and replicas a pub/sub connection for hellos),
//! the client-facing command server, event publishing, scripts and state saving.
//! Generic over [`Net`] so the simulation runs the same code on turmoil.
//!
//! `links` runs the connections to the instances, `clients` accepts the command server's
//! connections, `pubsub` delivers events to its subscribers, `state_file` saves the state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use picket_common::fdlimit::{is_local_resource_error, os_error_text, AcceptErrors};
use picket_common::net::{Conn, Listener, Net};
use picket_common::resp::frame::Frame;
use picket_common::resp::ReplyReader;
use picket_common::tls::Tls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use picket_common::clock::Clock;

use crate::config::ServerSettings;
use crate::core::{Action, Addr, Core, Event, Input, Level, Target};

mod clients;
pub mod commands;
mod links;
mod pubsub;
mod script_runs;
mod state_file;

use clients::accept_loop;
pub use clients::{client_cap, ClientInfo, RESERVED_FDS};
use links::{connect, send, LinkCmd, LinkHandle};
pub use pubsub::{outbox, write_within, Inbox, Outbox, PubsubLimits, Push, Subscriber, WriteError};
use state_file::StateWriter;
pub use state_file::{DiskStore, Saving, StateStore, Written};

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
    /// Actions produced by commands (SENTINEL MONITOR, RESET, FAILOVER...), held until the
    /// save of the sequence number given is on disk, if one is.
    pub actions: mpsc::UnboundedSender<(Option<u64>, Vec<Action>)>,
    links: Mutex<BTreeMap<Target, LinkHandle>>,
    pub subscribers: Mutex<BTreeMap<u64, Subscriber>>,
    /// The served clients (CLIENT LIST, the ACL's closing of connections). Locked after
    /// `acl` when both are, before `subscribers`.
    client_list: Mutex<BTreeMap<u64, ClientInfo>>,
    /// The ACL users and log (see `crate::acl`).
    acl: Mutex<picket_server::acl::Acl>,
    /// Bounds of the subscribers' queues and writes.
    pubsub_limits: Mutex<PubsubLimits>,
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
    /// The addresses the command server listens on (`port`).
    pub bound: Mutex<Vec<std::net::SocketAddr>>,
    /// The addresses its TLS listeners are bound to (`tls-port`).
    pub tls_bound: Mutex<Vec<std::net::SocketAddr>>,
    /// The TLS contexts (`tls-port` or `tls-replication` set): the TLS listeners' and,
    /// with `tls-replication`, every link's (see [`Shared::link_tls`]).
    pub tls: Option<Tls>,
    /// Client connections being served (INFO `connected_clients`, the maxclients check).
    pub clients: AtomicUsize,
    /// The state writer (see `state_file`).
    pub writer: StateWriter,
    /// Name resolution through the sentinel's [`Net`] (SENTINEL MONITOR's check).
    pub resolver: Resolver,
}

/// [`Net::resolve`] of the network the sentinel runs on, for tasks that do not know it.
pub type Resolver = Box<
    dyn Fn(
            String,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = std::io::Result<Vec<std::net::IpAddr>>> + Send>,
        > + Send
        + Sync,
>;

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

    /// The TLS context of the links to instances: with `tls-replication yes` every link
    /// (to masters, replicas and other sentinels, command and pub/sub) is TLS, as Redis's
    /// `instanceLinkNegotiateTLS` makes them.
    pub fn link_tls(&self) -> Option<&Tls> {
        if self.settings().tls.replication {
            self.tls.as_ref()
        } else {
            None
        }
    }

    /// INFO `hz`.
    pub fn hz(&self) -> u64 {
        self.hz.load(Ordering::Relaxed)
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
}

/// INFO `configured_hz`: Redis's default `hz`, which its sentinel randomizes from.
pub const CONFIGURED_HZ: u64 = 10;

/// Start the Sentinel: the timer/driver task, and the listeners. `clock` gives unix time.
/// TLS, when the settings ask for it, is configured from them (an error is `InvalidInput`).
pub async fn start<N: Net>(
    net: N,
    core: Core,
    settings: ServerSettings,
    config_path: PathBuf,
    clock: Clock,
) -> std::io::Result<Arc<Shared>> {
    let tls = settings
        .tls_context()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    start_with_tls(net, core, settings, config_path, clock, tls, false).await
}

/// [`start`] with TLS contexts made already (the binary checks them before it starts;
/// the simulation seeds their randomness): the `tls-port` listeners use them, and with
/// `tls-replication` every link. `None` when neither is set. `save_first`: the state is
/// on disk before the first client is accepted (Redis's `sentinelIsRunning` saves a new
/// `myid` before its event loop runs), so no client sees a sentinel whose identity a crash
/// would lose.
pub async fn start_with_tls<N: Net>(
    net: N,
    mut core: Core,
    settings: ServerSettings,
    config_path: PathBuf,
    clock: Clock,
    tls: Option<Tls>,
    save_first: bool,
) -> std::io::Result<Arc<Shared>> {
    let tls_port = settings.tls_port;
    if tls_port != 0 && tls.is_none() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "tls-port is set but TLS is not configured",
        ));
    }
    let run_id = picket_common::ids::random_hex40(&mut core.rng);
    // The users (Redis's ACLLoadUsersAtStartup); the binary checked them already and
    // said why they do not load.
    let mut settings = settings;
    let acl = crate::acl::load_users(&settings.users_config())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    settings.users = crate::acl::rewrite_lines(&acl, &settings.users_config().aclfile);
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
        client_list: Mutex::new(BTreeMap::new()),
        acl: Mutex::new(acl),
        pubsub_limits: Mutex::new(PubsubLimits::default()),
        next_client: Mutex::new(1),
        cancel: CancellationToken::new(),
        outcome: Mutex::new(Outcome::Shutdown),
        tracker: TaskTracker::new(),
        scripts: Mutex::new(crate::scripts::Queue::default()),
        stall_ms: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        bound: Mutex::new(Vec::new()),
        tls_bound: Mutex::new(Vec::new()),
        tls: tls.clone(),
        clients: AtomicUsize::new(0),
        writer: StateWriter::default(),
        resolver: {
            let n = net.clone();
            Box::new(move |host: String| {
                let n = n.clone();
                Box::pin(async move { n.resolve(&host).await })
            })
        },
    });
    let binds = picket_common::net::bind::parse_bind_list(&binds)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // As Redis: port 0 is no plain listener, tls-port 0 no TLS one.
    let mut listeners = Vec::new();
    for (p, tls) in [(port, None), (tls_port, tls)] {
        if p == 0 {
            continue;
        }
        for b in &binds {
            match net.bind(b.socket_addr(p)).await {
                Ok(l) => listeners.push((l, tls.clone())),
                Err(e) if b.optional => tracing::debug!("optional bind {} failed: {e}", b.ip),
                Err(e) => return Err(e),
            }
        }
    }
    let addrs = |want_tls: bool| -> Vec<std::net::SocketAddr> {
        listeners
            .iter()
            .filter(|(_, t)| t.is_some() == want_tls)
            .filter_map(|(l, _)| l.local_addr().ok())
            .collect()
    };
    *shared.bound.lock().unwrap_or_else(|e| e.into_inner()) = addrs(false);
    *shared.tls_bound.lock().unwrap_or_else(|e| e.into_inner()) = addrs(true);
    shared.tracker.spawn(state_file::writer(shared.clone()));
    if save_first {
        shared.save_now().await;
    }
    for (l, tls) in listeners {
        let sh = shared.clone();
        shared.tracker.spawn(accept_loop(sh, l, tls));
    }
    // The initial actions (monitor lines) and the timer.
    let first = shared.lock().take_actions();
    let sh = shared.clone();
    let n = net.clone();
    shared.tracker.spawn(async move {
        let mut held = Held::default();
        if execute(&sh, &n, first, &mut held).is_continue() {
            driver(sh, n, rx, arx, held).await;
        }
    });
    Ok(shared)
}

/// Actions waiting for a save to be on disk, in their order. What follows a save in the
/// core's output acts on the saved state (asks for votes in a new epoch, promotes, crashes)
/// and does not leave before it is durable; later actions queue behind it to keep their
/// order, except PING, INFO and log lines, which neither act on the state nor may wait
/// for a slow disk (their delay would look like a silent instance).
#[derive(Default)]
pub struct Held {
    queue: std::collections::VecDeque<(u64, Action)>,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The sequence number the last held action waits for.
    fn last(&self) -> Option<u64> {
        self.queue.back().map(|(s, _)| *s)
    }

    /// The actions whose save is done, in order.
    fn release(&mut self, written: u64) -> Vec<Action> {
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|(s, _)| *s <= written) {
            if let Some((_, a)) = self.queue.pop_front() {
                out.push(a);
            }
        }
        out
    }
}

/// The timer and the inputs, one at a time through the core.
async fn driver<N: Net>(
    shared: Arc<Shared>,
    net: N,
    mut rx: mpsc::UnboundedReceiver<Input>,
    mut arx: mpsc::UnboundedReceiver<(Option<u64>, Vec<Action>)>,
    mut held: Held,
) {
    let cancel = shared.cancel.clone();
    let mut written = shared.writer.subscribe();
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
            Ok(()) = written.changed(), if !held.is_empty() => {
                written.borrow_and_update();
                let ready = held.release(shared.writer.written().seq);
                if execute(&shared, &net, ready, &mut held).is_break() {
                    return;
                }
                script_runs::run_pending(&shared);
                continue;
            }
            _ = &mut sleep => {
                while let Ok(i) = rx.try_recv() {
                    inputs.push(i);
                }
                inputs.push(Input::Tick);
            }
            Some((seq, a)) = arx.recv() => {
                let flow = match seq {
                    Some(seq) => hold(&shared, &net, seq, a, &mut held),
                    None => execute(&shared, &net, a, &mut held),
                };
                if flow.is_break() {
                    return;
                }
                script_runs::run_pending(&shared);
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
            actions.extend(shared.lock().step(now, input));
        }
        if execute(&shared, &net, actions, &mut held).is_break() {
            return;
        }
        script_runs::run_pending(&shared);
    }
}

/// Whether an action may pass actions held for a save (see [`Held`]).
fn passes(a: &Action) -> bool {
    matches!(a, Action::Ping(_) | Action::Info(_) | Action::Log(..))
}

/// Carry out `actions` once save `seq` is on disk (those that may pass at once).
fn hold<N: Net>(
    shared: &Arc<Shared>,
    net: &N,
    seq: u64,
    actions: Vec<Action>,
    held: &mut Held,
) -> std::ops::ControlFlow<()> {
    if held.is_empty() && shared.writer.written().seq >= seq {
        return execute(shared, net, actions, held);
    }
    let seq = seq.max(held.last().unwrap_or(0));
    let (now, later): (Vec<Action>, Vec<Action>) = actions.into_iter().partition(passes);
    held.queue.extend(later.into_iter().map(|a| (seq, a)));
    execute(shared, net, now, held)
}

/// Carry out the core's actions; `Break` when one stopped the sentinel (the rest are not
/// carried out). A save (one for the whole list, with the state the core has now) is
/// handed to the writer at the first `Flush`; what follows it waits until it is on disk,
/// and so does everything while earlier actions wait (see [`Held`]).
pub fn execute<N: Net>(
    shared: &Arc<Shared>,
    net: &N,
    actions: Vec<Action>,
    held: &mut Held,
) -> std::ops::ControlFlow<()> {
    let mut actions = actions.into_iter();
    while let Some(a) = actions.next() {
        if let Some(seq) = held.last() {
            // A save is handed at once (it covers the state as it is now).
            if !passes(&a) && a != Action::Flush {
                held.queue.push_back((seq, a));
                continue;
            }
        }
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
            Action::Fence(t, epoch) => send(shared, &t, LinkCmd::Fence(epoch)),
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
            Action::Flush => {
                let saving = {
                    let core = shared.lock();
                    shared.save(&core)
                };
                // Later Flushes of the list are in this save already.
                let rest: Vec<Action> = actions.filter(|a| *a != Action::Flush).collect();
                return match saving {
                    Saving::Queued(seq) => hold(shared, net, seq, rest, held),
                    Saving::Failed => execute(shared, net, rest, held),
                };
            }
            Action::Log(level, msg) => match level {
                Level::Debug | Level::Verbose => tracing::debug!("{msg}"),
                Level::Notice => tracing::info!("{msg}"),
                Level::Warning => tracing::warn!("{msg}"),
            },
            // Replies are taken by the command server from the output of its command.
            Action::Reply(_) => {}
            // The command server keeps it before the save (see `commands::sentinel`); again
            // is harmless.
            Action::Setting(s) => shared.settings().apply(&s),
            Action::Crash => {
                // What the core saved before this point is on disk first (the crash was
                // held behind its save), as Redis flushes the config before it crashes
                // after a promotion.
                tracing::warn!("Sentinel CRASH because of SENTINEL simulate-failure");
                shared.stop(Outcome::SimulatedCrash);
                return std::ops::ControlFlow::Break(());
            }
        }
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
