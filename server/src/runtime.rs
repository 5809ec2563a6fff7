//! Starting and stopping the server: listeners, the accept loops, the cron task and graceful
//! shutdown. Generic over [`Net`] so the simulation runs the same code on turmoil.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use picket_common::clock::Clock;
use picket_common::fdlimit::AcceptErrors;
use picket_common::net::bind::parse_bind_list;
use picket_common::net::{Conn, Listener, Net};
use thiserror::Error;
use tokio::io::AsyncWriteExt;

use crate::client::{Client, ClientId};
use crate::command::{multi, pubsub};
use crate::config::ConfigState;
use crate::cron;
use crate::server::Server;

/// Redis 7.0's refusal for non-loopback clients in protected mode.
pub const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

#[derive(Debug, Error)]
pub enum StartError {
    #[error("Could not create server TCP listening socket {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("bind: '{0}' is not a valid address")]
    BadAddress(String),
    #[error("no listening socket could be bound on port {0}")]
    NoListener(u16),
    #[error("Configured to not listen anywhere, exiting.")]
    NowhereToListen,
    #[error("Failed to configure TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Load(String),
    #[error("{0}")]
    Config(String),
    #[error("Aborting Redis startup because of ACL errors: {0}")]
    Acl(String),
}

pub use crate::shared::Shared;

/// Forget a disconnected client: its subscriptions, WATCHes, MONITOR.
pub fn remove_client(shared: &Shared, id: ClientId) {
    let mut srv = shared.lock();
    let Some(mut c) = srv.clients.remove(&id) else {
        return;
    };
    crate::blocking::unblock(&mut srv, &mut c);
    crate::pause::forget(&mut srv, id);
    for kind in pubsub::Kind::ALL {
        pubsub::unsubscribe_all(&mut srv, &mut c, kind);
    }
    multi::unwatch_all(&mut srv, &mut c);
    srv.clients.monitors.remove(&id);
    srv.tracking.forget(id);
    crate::replication::master::forget_replica(&mut srv, &c);
    tracing::debug!(client = id, addr = %c.addr, "client closed");
}

/// Everything `start` needs besides the network.
pub struct Options {
    pub config: ConfigState,
    /// Seed of every random choice of the server (run id, replication id, hash seeds).
    pub seed: u64,
    pub clock: Clock,
}

/// A running server.
pub struct ServerHandle {
    pub shared: Arc<Shared>,
    /// The addresses the listeners are bound to.
    pub addrs: Vec<SocketAddr>,
}

impl ServerHandle {
    /// Ask for a graceful shutdown, as on SIGTERM: the cron performs it, with the flags of
    /// `shutdown-on-sigterm` (or `shutdown-on-sigint` for "SIGINT").
    pub fn request_shutdown(&self, signal: &'static str) {
        let mut srv = self.shared.lock();
        if srv.process.shutdown.is_none() {
            tracing::warn!("Received {signal} scheduling shutdown...");
            let flags = if signal == "SIGINT" {
                srv.cfg.shutdown_on_sigint
            } else {
                srv.cfg.shutdown_on_sigterm
            };
            srv.process.shutdown = Some(crate::server::ShutdownRequest {
                signal: Some(signal),
                save: flags.save,
                nosave: flags.nosave,
                force: flags.force,
                prepared: false,
            });
        }
    }

    /// The fatal error that stopped the server, if any (a corrupt RDB at start-up).
    pub fn fatal(&self) -> Option<String> {
        self.shared.lock().process.fatal.clone()
    }

    /// Wait until the server has stopped (SHUTDOWN or a requested shutdown).
    pub async fn wait(&self) {
        self.shared.cancel.cancelled().await;
        self.shared.tracker.close();
        // Connection tasks end at the cancellation; give them a moment to close sockets.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.shared.tracker.wait()).await;
        tracing::warn!("Picket is now ready to exit, bye bye...");
    }
}

/// Resolve the `bind` entries (see [`picket_common::net::bind`]) at `port`, each with its
/// optional flag.
fn bind_targets(bind: &[String], port: u16) -> Result<Vec<(SocketAddr, bool)>, StartError> {
    let list = parse_bind_list(bind).map_err(|e| StartError::BadAddress(e.0))?;
    Ok(list
        .into_iter()
        .map(|b| (b.socket_addr(port), b.optional))
        .collect())
}

/// Bind every `bind` address at `port`; an optional one (`-addr`) may fail. Fails when
/// none could be bound.
async fn bind_all<N: Net>(
    net: &N,
    bind: &[String],
    port: u16,
    backlog: u32,
) -> Result<Vec<N::Listener>, StartError> {
    let mut listeners = Vec::new();
    for (addr, optional) in bind_targets(bind, port)? {
        match net.bind_with_backlog(addr, backlog).await {
            Ok(l) => listeners.push(l),
            Err(e) if optional => {
                tracing::debug!("optional bind {addr} failed: {e}");
            }
            Err(source) => {
                return Err(StartError::Bind {
                    addr: addr.to_string(),
                    source,
                })
            }
        }
    }
    if listeners.is_empty() {
        return Err(StartError::NoListener(port));
    }
    Ok(listeners)
}

/// The listeners of `port` or (`tls`) `tls-port`, as CONFIG SET moves them (Redis's
/// `changeListenPort`, except that the new port is bound before the old one closes, so a
/// port that cannot be bound leaves the old listeners serving).
struct PortListeners<N: Net> {
    net: N,
    shared: std::sync::Weak<Shared>,
    bind: Vec<String>,
    backlog: u32,
    tls: bool,
    /// The port listened on and what stops its accept loops.
    running: std::sync::Mutex<Option<(u16, tokio_util::sync::CancellationToken)>>,
}

impl<N: Net> PortListeners<N> {
    fn spawn(&self, shared: &Arc<Shared>, port: u16, listeners: Vec<N::Listener>) {
        if listeners.is_empty() {
            return;
        }
        // (A child of the shutdown's token: the server's stop ends the loops too.)
        let stop = shared.cancel.child_token();
        for l in listeners {
            shared
                .tracker
                .spawn(accept_loop(shared.clone(), l, stop.clone(), self.tls));
        }
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        *running = Some((port, stop));
    }

    /// Listen on `port` (0: nowhere) instead; the addresses now bound (None: already
    /// there). Called under the
    /// server lock (CONFIG SET), so the binding is done at once: binding a socket does not
    /// wait on the network, and a network whose bind would wait is refused.
    fn change(&self, port: u16) -> Result<Option<Vec<SocketAddr>>, String> {
        let current = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(p, _)| *p);
        let Some(shared) = self.shared.upgrade() else {
            return Err(crate::tls::LISTEN_FAILED.to_string());
        };
        if current == Some(port) || (current.is_none() && port == 0) {
            return Ok(None);
        }
        let listeners = if port == 0 {
            Vec::new()
        } else {
            let bound = now_or_never(bind_all(&self.net, &self.bind, port, self.backlog));
            match bound {
                Some(Ok(l)) => l,
                Some(Err(e)) => {
                    tracing::warn!("{e}");
                    tracing::warn!("Failed listening on port {port} ({})", self.kind());
                    return Err(crate::tls::LISTEN_FAILED.to_string());
                }
                None => {
                    tracing::warn!(
                        "Failed listening on port {port} ({}): the network cannot bind at once",
                        self.kind()
                    );
                    return Err(crate::tls::LISTEN_FAILED.to_string());
                }
            }
        };
        let addrs: Vec<SocketAddr> = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        if let Some((old, stop)) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            tracing::info!("Closing the {} listeners of port {old}", self.kind());
            stop.cancel();
        }
        if port != 0 {
            tracing::info!("Listening for {} connections on port {port}", self.kind());
        }
        self.spawn(&shared, port, listeners);
        Ok(Some(addrs))
    }
}

impl<N: Net> PortListeners<N> {
    fn kind(&self) -> &'static str {
        if self.tls {
            "TLS"
        } else {
            "TCP"
        }
    }
}

/// A future's output if it is ready at its first poll.
fn now_or_never<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// Bind the listeners and start serving.
pub async fn start<N: Net>(net: N, opts: Options) -> Result<ServerHandle, StartError> {
    // The function engines (Redis's `functionsInit`), before anything may load a library.
    crate::command::scripting::register_function_engines();
    let mut server = Server::new(opts.config, opts.seed, opts.clock);
    let lines = crate::config::acl_user::decode(
        server
            .config
            .store()
            .value("user")
            .unwrap_or(&picket_common::config::Value::List(Vec::new())),
    );
    let aclfile = server.cfg.aclfile.clone();
    crate::config::acl_user::apply_configured_users(&mut server.acl, &lines, &aclfile)
        .map_err(StartError::Config)?;
    if !server.cfg.aclfile.is_empty() {
        let users = crate::command::acl_cmd::load_aclfile(&server).map_err(StartError::Acl)?;
        server.acl.users = users;
    }
    // TLS is configured before anything listens, as Redis's `initServer`.
    server
        .process
        .tls
        .set_handshake_timeout(server.cfg.tls_handshake_timeout);
    if crate::tls::enabled(server.config.store()) {
        match crate::tls::configure(server.config.store()) {
            Ok(tls) => server.process.tls.set_tls(Some(tls)),
            Err(e) => {
                tracing::warn!("{e}");
                tracing::warn!("Failed to configure TLS. Check logs for more info.");
                return Err(StartError::Tls(e));
            }
        }
    }
    let backlog = server.cfg.tcp_backlog;
    let (port, tls_port) = (server.cfg.port, server.cfg.tls_port);
    let listeners = if port != 0 {
        bind_all(&net, &server.cfg.bind, port, backlog).await?
    } else {
        Vec::new()
    };
    let tls_listeners = if tls_port != 0 {
        bind_all(&net, &server.cfg.bind, tls_port, backlog).await?
    } else {
        Vec::new()
    };
    if port == 0 && tls_port == 0 {
        return Err(StartError::NowhereToListen);
    }
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    server.process.bound = addrs.clone();
    server.process.tls_bound = tls_listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    server.process.startup_memory = crate::alloc::allocated();
    let (effects_tx, effects_rx) = tokio::sync::mpsc::unbounded_channel();
    let shared = Arc::new(Shared::new(
        server,
        crate::command::reentry::PIPELINE,
        effects_tx,
    ));
    let sh = shared.clone();
    shared.tracker.spawn(run_effects(sh, effects_rx));
    // Load the dataset while clients may already connect (they get -LOADING meanwhile).
    let plan = crate::persist::startup_sources(&shared.lock()).map_err(StartError::Load)?;
    if let Some((sources, aof)) = plan {
        shared.lock().persistence.rdb.loading = true;
        let sh = shared.clone();
        shared
            .tracker
            .spawn(crate::persist::loader::load_task(sh, sources, aof));
    }
    // The listeners of `port` and `tls-port`, which CONFIG SET opens, moves and closes.
    let bind = shared.lock().cfg.bind.clone();
    let ports = |tls| {
        Arc::new(PortListeners {
            net: net.clone(),
            shared: Arc::downgrade(&shared),
            bind: bind.clone(),
            backlog,
            tls,
            running: std::sync::Mutex::new(None),
        })
    };
    let (plain_ports, tls_ports) = (ports(false), ports(true));
    plain_ports.spawn(&shared, port, listeners);
    tls_ports.spawn(&shared, tls_port, tls_listeners);
    shared.lock().config.on_listen = Some(Box::new(move |tls, port| {
        if tls {
            tls_ports.change(port)
        } else {
            plain_ports.change(port)
        }
    }));
    let sh = shared.clone();
    shared.tracker.spawn(cron::run(sh));
    // The replication link follows `replicaof` (the directive, then REPLICAOF).
    {
        let mut srv = shared.lock();
        if let Some((host, port)) = crate::replication::config::replicaof(srv.config.store()) {
            crate::replication::replica::set_master(&mut srv, &host, port);
            // A fresh start has no history of its own to continue, unless the RDB has one.
            srv.repl.have_history = false;
        }
    }
    let sh = shared.clone();
    shared
        .tracker
        .spawn(crate::replication::replica::run(sh, net));
    Ok(ServerHandle { shared, addrs })
}

/// Start what the code under the lock asked for (the effects outbox, `crate::effects`), in
/// the order it was asked, until shutdown.
async fn run_effects(
    shared: Arc<Shared>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<crate::effects::Effect>,
) {
    let cancel = shared.cancel.clone();
    loop {
        let effect = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            e = rx.recv() => match e {
                Some(e) => e,
                None => break,
            },
        };
        match effect {
            crate::effects::Effect::Spawn { what, start } => {
                tracing::trace!("starting {what}");
                shared.tracker.spawn(start(shared.clone()));
            }
            crate::effects::Effect::ResumeHeld => {
                crate::command::reentry::resume_if_pending(&mut shared.lock());
            }
        }
    }
}

/// Accept connections on `listener` until `stop` (the shutdown, or a TLS listener that
/// CONFIG SET tls-port closed); `tls`: the connections are TLS.
async fn accept_loop<L: Listener>(
    shared: Arc<Shared>,
    listener: L,
    stop: tokio_util::sync::CancellationToken,
    tls: bool,
) {
    // Out of descriptors, accept() fails at once for as long as a connection waits: warn at
    // a bounded rate and back off instead of flooding the log and spinning.
    let mut errors = AcceptErrors::default();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((conn, peer)) => {
                errors.accepted();
                let admitted = if tls {
                    admit_tls(&shared, conn, peer)
                } else {
                    admit(&shared, conn, peer)
                };
                if !admitted {
                    // Let the refusal be written and its descriptor closed before the next
                    // accept, so a burst of excess clients does not pile up descriptors.
                    tokio::task::yield_now().await;
                }
            }
            Err(e) => {
                let wait = errors.failed(&e);
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Register an accepted connection, or refuse it (maxclients, protected mode) with Redis's
/// error before closing (then false).
fn admit<C: Conn>(shared: &Arc<Shared>, conn: C, peer: SocketAddr) -> bool {
    let _ = conn.set_nodelay(true);
    // A script holds the lock: the connection is served -BUSY and SCRIPT KILL until it ends,
    // then admitted (the accept loop goes on meanwhile).
    let srv = match shared.try_lock() {
        Some(g) => g,
        None if shared.script.running() => {
            let sh = shared.clone();
            shared.tracker.spawn(async move {
                let mut conn = conn;
                if let Some(received) = crate::conn::before_admission(&sh, &mut conn).await {
                    let srv = sh.lock();
                    admit_locked(&sh, srv, conn, peer, received);
                }
            });
            return true;
        }
        None => shared.lock(),
    };
    admit_locked(shared, srv, conn, peer, bytes::BytesMut::new())
}

/// A connection to the TLS port. As Redis's `acceptCommonHandler`, it is admitted (or
/// refused) and registered as a client at once, so it counts against `maxclients` while
/// its handshake runs; the handshake runs in its own task, bounded by
/// `tls-handshake-timeout` (Redis waits for ever), and a client that fails it (no or a
/// bad certificate, plain RESP, silence) is dropped. Refusals are written once the
/// handshake is done, as Redis writes them.
fn admit_tls<C: Conn>(shared: &Arc<Shared>, conn: C, peer: SocketAddr) -> bool {
    let _ = conn.set_nodelay(true);
    let crate::tls::InForce {
        tls,
        handshake_timeout,
    } = shared.tls.get();
    let Some(tls) = tls else {
        // (A TLS listener exists only with TLS configured.)
        return false;
    };
    let srv = match shared.try_lock() {
        Some(g) => g,
        None if shared.script.running() => {
            let sh = shared.clone();
            shared.tracker.spawn(async move {
                let Some(mut conn) = handshake(&sh, &tls, conn, handshake_timeout, None).await
                else {
                    return;
                };
                if let Some(received) = crate::conn::before_admission(&sh, &mut conn).await {
                    let srv = sh.lock();
                    admit_locked(&sh, srv, conn, peer, received);
                }
            });
            return true;
        }
        None => shared.lock(),
    };
    match register(srv, &conn, peer) {
        Err(msg) => {
            shared.tracker.spawn(refuse_tls(
                shared.clone(),
                tls,
                conn,
                handshake_timeout,
                msg,
            ));
            false
        }
        Ok((id, notify)) => {
            let sh = shared.clone();
            shared.tracker.spawn(async move {
                let closing = Some((id, &*notify));
                match handshake(&sh, &tls, conn, handshake_timeout, closing).await {
                    Some(conn) => {
                        crate::conn::serve(sh, conn, id, notify, bytes::BytesMut::new()).await;
                    }
                    None => remove_client(&sh, id),
                }
            });
            true
        }
    }
}

/// The server side of a TLS handshake, bounded in time; None when it failed, timed out,
/// the server stops, or (`closing`) the client was killed meanwhile.
async fn handshake<C: Conn>(
    shared: &Shared,
    tls: &picket_common::tls::Tls,
    conn: C,
    timeout: Duration,
    closing: Option<(ClientId, &tokio::sync::Notify)>,
) -> Option<picket_common::tls::MaybeTls<C>> {
    let peer = conn.peer_addr().ok();
    let hs = tokio::time::timeout(timeout, tls.accept(conn));
    tokio::pin!(hs);
    let notify = closing.map(|(_, n)| n);
    loop {
        let woken = async {
            match notify {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = shared.cancel.cancelled() => return None,
            r = &mut hs => {
                return match r {
                    Ok(Ok(c)) => Some(c),
                    Ok(Err(e)) => {
                        // Redis logs this at verbose level.
                        tracing::debug!(
                            "Error accepting a client connection: {e} (addr={})",
                            addr_text(peer)
                        );
                        None
                    }
                    Err(_) => {
                        tracing::debug!(
                            "Error accepting a client connection: TLS handshake not done within {} ms (addr={})",
                            timeout.as_millis(),
                            addr_text(peer)
                        );
                        None
                    }
                };
            }
            _ = woken => {
                if let Some((id, _)) = closing {
                    if crate::conn::closing(shared, id) {
                        return None;
                    }
                }
            }
        }
    }
}

fn addr_text(a: Option<SocketAddr>) -> String {
    a.map_or_else(|| "?".to_string(), |a| a.to_string())
}

/// Write a refusal to a TLS client once its handshake is done, then close.
async fn refuse_tls<C: Conn>(
    shared: Arc<Shared>,
    tls: picket_common::tls::Tls,
    conn: C,
    timeout: Duration,
    msg: &'static [u8],
) {
    if let Some(mut conn) = handshake(&shared, &tls, conn, timeout, None).await {
        let write = async {
            conn.write_all(msg).await?;
            conn.flush().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
        let _ = conn.shutdown().await;
    }
}

/// Admission (maxclients, protected mode) and registration of a new client: its id and
/// wake-up, or Redis's refusal (counted).
fn register<C: Conn>(
    mut srv: crate::shared::Locked<'_>,
    conn: &C,
    peer: SocketAddr,
) -> Result<(ClientId, Arc<tokio::sync::Notify>), &'static [u8]> {
    let laddr = conn.local_addr().unwrap_or(peer);
    srv.stats.total_connections_received += 1;
    if srv.client_count() >= srv.cfg.maxclients {
        srv.stats.rejected_connections += 1;
        return Err(b"-ERR max number of clients reached\r\n");
    }
    if srv.cfg.protected_mode && !srv.requires_auth() && !crate::client::is_local(&peer) {
        // Redis refuses silently; its "Possible SECURITY ATTACK" warning is about HTTP
        // requests, not protected mode.
        tracing::debug!("Protected mode refused connection from {peer}");
        srv.stats.rejected_connections += 1;
        return Err(DENIED.as_bytes());
    }
    let id = srv.clients.next_id();
    let now = srv.clock.now();
    let mut client = Box::new(Client::new(id, peer, laddr, now));
    client.authenticated = !srv.requires_auth();
    client.fd = conn.raw_fd().map_or(-1, i64::from);
    let notify = client.notify.clone();
    srv.clients.insert(id, client);
    drop(srv);
    tracing::debug!(client = id, %peer, "accepted");
    Ok((id, notify))
}

fn admit_locked<C: Conn>(
    shared: &Arc<Shared>,
    srv: crate::shared::Locked<'_>,
    conn: C,
    peer: SocketAddr,
    received: bytes::BytesMut,
) -> bool {
    match register(srv, &conn, peer) {
        Err(msg) => {
            shared.tracker.spawn(async move {
                let mut conn = conn;
                let write = async {
                    conn.write_all(msg).await?;
                    conn.flush().await
                };
                let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
                let _ = conn.shutdown().await;
            });
            false
        }
        Ok((id, notify)) => {
            let sh = shared.clone();
            shared
                .tracker
                .spawn(crate::conn::serve(sh, conn, id, notify, received));
            true
        }
    }
}
