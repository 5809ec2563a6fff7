//! The command server's listeners: accepting clients within `maxclients` and the
//! descriptors left, protected mode.

use super::*;

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

/// How long a TLS client has to finish its handshake: the listener's task for it is
/// spawned off the accept loop, and one that never finishes must not hold a client slot
/// for ever (Redis's own handshakes are bounded only by the client `timeout`).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Write Redis's refusal and close (a short write: no long wait), with a slot to give
/// back once done. On a TLS listener the handshake comes first, so the client can read it.
fn refuse<C: Conn>(
    shared: &Shared,
    conn: C,
    tls: Option<Tls>,
    msg: &'static [u8],
    slot: Option<ClientSlot>,
) {
    async fn say<C: Conn>(mut conn: C, msg: &[u8]) {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            conn.write_all(msg).await?;
            conn.flush().await
        })
        .await;
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.shutdown()).await;
    }
    shared.tracker.spawn(async move {
        match tls {
            None => say(conn, msg).await,
            Some(t) => {
                if let Ok(Ok(c)) = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, t.accept(conn)).await
                {
                    say(c, msg).await;
                }
            }
        }
        drop(slot);
    });
}

/// Accept the command server's clients on `listener`: a `tls-port` listener when `tls`
/// is given (each client's handshake runs in its own task, within
/// [`TLS_HANDSHAKE_TIMEOUT`]).
pub(super) async fn accept_loop<L: Listener>(shared: Arc<Shared>, listener: L, tls: Option<Tls>) {
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
                    refuse(
                        &shared,
                        conn,
                        tls.clone(),
                        b"-ERR max number of clients reached\r\n",
                        None,
                    );
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
                    (s.protected_mode, s.tcp_keepalive)
                };
                // Redis's protected mode: on while the default user needs no password.
                let protected = protected && shared.acl().default_user().is_some_and(|u| u.nopass);
                let _ = conn.set_keepalive(keepalive);
                // Protected, only loopback clients are served.
                if protected && !peer.ip().to_canonical().is_loopback() {
                    let msg = picket_server::runtime::DENIED.as_bytes();
                    refuse(&shared, conn, tls.clone(), msg, Some(slot));
                    continue;
                }
                let sh = shared.clone();
                let tls = tls.clone();
                shared.tracker.spawn(async move {
                    match tls {
                        None => super::commands::serve(sh, conn, peer).await,
                        Some(t) => {
                            let cancel = sh.cancel.clone();
                            let handshake = tokio::select! {
                                biased;
                                _ = cancel.cancelled() => None,
                                r = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, t.accept(conn)) => Some(r),
                            };
                            match handshake {
                                Some(Ok(Ok(c))) => super::commands::serve(sh, c, peer).await,
                                Some(Ok(Err(e))) => {
                                    tracing::debug!("Error accepting a client connection: {e} (addr={peer})")
                                }
                                Some(Err(_)) => tracing::debug!(
                                    "Error accepting a client connection: TLS handshake timed out (addr={peer})"
                                ),
                                None => {}
                            }
                        }
                    }
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

/// A served client as CLIENT LIST, the ACL LOG and the ACL commands see it (Redis's
/// `client` fields a sentinel has).
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub addr: std::net::SocketAddr,
    pub laddr: Option<std::net::SocketAddr>,
    /// The socket's descriptor, -1 where there is none (the simulation).
    pub fd: i64,
    pub name: Option<String>,
    /// The ACL user it runs as (`default` until AUTH).
    pub user: Bytes,
    pub created: Instant,
    pub last_interaction: Instant,
    /// The full name of the last command looked up (`cmd=`; `NULL` before any).
    pub cmd: Option<&'static str>,
    pub resp: i64,
    /// Cancelled to close the connection (its user deleted, its channels revoked).
    pub kill: CancellationToken,
}

impl ClientInfo {
    /// Redis's `catClientInfoString`, with the subscription counts given. Picket keeps
    /// no per-client buffer statistics on a sentinel: those fields are 0.
    pub fn line(&self, id: u64, now: Instant, sub: usize, psub: usize) -> String {
        let age = now.saturating_duration_since(self.created).as_secs();
        let idle = now
            .saturating_duration_since(self.last_interaction)
            .as_secs();
        let laddr = self.laddr.map_or_else(String::new, |a| a.to_string());
        format!(
            "id={id} addr={} laddr={laddr} fd={} name={} age={age} idle={idle} flags={} db=0 sub={sub} psub={psub} ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={}",
            self.addr,
            self.fd,
            self.name.as_deref().unwrap_or(""),
            if sub + psub > 0 { "P" } else { "N" },
            self.cmd.unwrap_or("NULL"),
            String::from_utf8_lossy(&self.user),
            self.resp,
        )
    }
}

impl Shared {
    /// The served clients, by id.
    pub fn client_list(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, ClientInfo>> {
        self.client_list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ACL users and log.
    pub fn acl(&self) -> std::sync::MutexGuard<'_, picket_server::acl::Acl> {
        self.acl.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// CLIENT INFO of client `id` (its subscriptions counted), "" when it is gone.
    pub fn client_line(&self, id: u64) -> String {
        let (sub, psub) = self.subscription_counts(id);
        self.client_list()
            .get(&id)
            .map(|c| c.line(id, Instant::now(), sub, psub))
            .unwrap_or_default()
    }

    /// How many channels and patterns client `id` is subscribed to.
    pub fn subscription_counts(&self, id: u64) -> (usize, usize) {
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .map_or((0, 0), |s| (s.channels.len(), s.patterns.len()))
    }
}
