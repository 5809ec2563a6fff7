//! The replica side: the link task that drives the link's state machine ([`Link`], in
//! `link.rs`) over the network, receives and loads the RDB of a full synchronization,
//! then applies the master's command stream, acknowledging its offset.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use picket_common::net::{Conn, Net};
use picket_common::resp::{Limits, ReplyBuf, ReplyReader, RequestDecoder};
use picket_common::tls::MaybeTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::{LinkState, MasterLink};
use crate::client::{cflags, Client};
use crate::server::Server;
use crate::shared::Shared;

use super::fullsync;
pub use super::handshake::{parse_psync_reply, HandshakeParams, PsyncAnswer, PsyncReply};
use super::link::{Down, Event, Link, Output};
use super::payload::SyncError;

// ------------------------------------------------------------------ the link task

/// Why one link attempt ended.
enum End {
    /// REPLICAOF changed (or the server stops): do not retry this master.
    Changed,
    /// Connection or protocol failure: retry after a pause.
    Failed(String),
    /// The link was up and broke: reconnect at once.
    Lost(String),
}

/// The replication link: follows `srv.repl.master`, reconnecting as needed.
pub async fn run<N: Net>(shared: Arc<Shared>, net: N) {
    let cancel = shared.cancel.clone();
    let wake = shared.lock().repl.wake.clone();
    loop {
        let target = {
            let srv = shared.lock();
            srv.repl
                .master
                .as_ref()
                .map(|m| (m.host.clone(), m.port, srv.repl.generation))
        };
        let Some((host, port, gen)) = target else {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = wake.notified() => continue,
            }
        };
        let end = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            e = link(&shared, &net, &host, port, gen) => e,
        };
        let pause = {
            let mut srv = shared.lock();
            if srv.repl.generation != gen {
                continue;
            }
            let now = srv.clock.now();
            let history = srv.repl.have_history;
            if let Some(m) = srv.repl.master.as_mut() {
                if m.state == LinkState::Connected {
                    m.down_since = Some(now);
                }
                m.state = LinkState::Connect;
                m.has_client = m.has_client && history;
            }
            match end {
                End::Changed => false,
                End::Lost(why) => {
                    tracing::warn!("Connection with master lost: {why}");
                    false
                }
                End::Failed(why) => {
                    tracing::warn!("{why}");
                    // A FAILOVER hand-over that did not get its PSYNC answered is over:
                    // this server is a master again.
                    if srv.repl.failover.state == super::failover::State::InProgress {
                        super::failover::psync_answered(&mut srv, false);
                        continue;
                    }
                    true
                }
            }
        };
        if pause {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

/// Whether REPLICAOF moved on since `gen`.
fn changed(shared: &Shared, gen: u64) -> bool {
    shared.lock().repl.generation != gen
}

/// `fut`'s output, or None when REPLICAOF (or REPLFENCE) moves on from `gen` first
/// (`moved` is `srv.repl.moved`, notified whenever the generation moves).
async fn unless_moved<F: std::future::Future>(
    shared: &Shared,
    moved: &tokio::sync::Notify,
    gen: u64,
    fut: F,
) -> Option<F::Output> {
    let notified = moved.notified();
    tokio::pin!(notified);
    // Registered before the check: a move between the two still wakes it.
    notified.as_mut().enable();
    if changed(shared, gen) {
        return None;
    }
    tokio::select! {
        biased;
        _ = &mut notified => None,
        r = fut => Some(r),
    }
}

fn set_state(shared: &Shared, gen: u64, state: LinkState) -> bool {
    let mut srv = shared.lock();
    if srv.repl.generation != gen {
        return false;
    }
    if let Some(m) = srv.repl.master.as_mut() {
        m.state = state;
    }
    true
}

/// Why no line could be read.
enum ReadError {
    /// The deadline passed.
    Timeout,
    Io(String),
}

/// Read until `buf` holds a line (or `deadline` passes); returns it without CRLF.
async fn read_line<C: Conn>(
    conn: &mut C,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<Vec<u8>, ReadError> {
    let mut reader = ReplyReader::default();
    loop {
        if let Some(line) = reader
            .read_line(buf)
            .map_err(|e| ReadError::Io(e.to_string()))?
        {
            return Ok(line.to_vec());
        }
        buf.reserve(64 * 1024);
        match tokio::time::timeout_at(deadline, conn.read_buf(buf)).await {
            Err(_) => return Err(ReadError::Timeout),
            Ok(Ok(0)) => return Err(ReadError::Io("connection closed by the master".into())),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(ReadError::Io(e.to_string())),
        }
    }
}

fn down_or_failed(o: Output) -> End {
    match o {
        Output::Down(d) => end_of(d),
        other => End::Failed(format!("unexpected link output {other:?}")),
    }
}

/// How a link attempt ends when the machine says the link is down.
fn end_of(d: Down) -> End {
    if d.reconnect_now {
        End::Lost(d.reason)
    } else {
        End::Failed(d.reason)
    }
}

/// Connect to the master, over TLS when `tls` is given (tls-replication; `Some(None)`:
/// TLS is asked for but not configured, which fails as Redis's `connCreateTLS` does
/// without a context).
async fn connect<N: Net>(
    net: &N,
    host: &str,
    port: u16,
    tls: Option<Option<picket_common::tls::Tls>>,
) -> std::io::Result<MaybeTls<N::Conn>> {
    let conn = net.connect(host, port).await?;
    match tls {
        None => Ok(MaybeTls::Plain(conn)),
        Some(Some(tls)) => tls.connect(conn, host).await,
        Some(None) => Err(std::io::Error::other(
            "TLS replication is on (tls-replication yes) but TLS is not configured",
        )),
    }
}

/// One connection to the master: handshake, sync, stream, until it ends.
async fn link<N: Net>(shared: &Arc<Shared>, net: &N, host: &str, port: u16, gen: u64) -> End {
    let (timeout, params, tls) = {
        let mut srv = shared.lock();
        let r = &srv.cfg.repl;
        let timeout = Duration::from_secs(r.timeout_s.max(1));
        // Redis's `REPLCONF listening-port`: replica-announce-port, else the TLS port
        // when replication is TLS, else the port.
        let listening_port = if r.announce_port != 0 {
            r.announce_port
        } else if srv.cfg.tls_replication && srv.cfg.tls_port != 0 {
            srv.cfg.tls_port
        } else {
            srv.cfg.port
        };
        let params = HandshakeParams {
            masteruser: r.masteruser.clone(),
            masterauth: r.masterauth.clone(),
            listening_port,
            announce_ip: r.announce_ip.clone(),
            psync_from: srv
                .repl
                .have_history
                .then(|| (srv.repl.replid.clone(), srv.repl.offset + 1)),
            failover: srv.repl.failover.state == super::failover::State::InProgress,
            failover_epoch: r.failover_epoch,
            strict: r.strict_acks().is_some(),
            keep_history: r.strict_acks().is_some()
                && srv.repl.have_history
                && srv.repl.offset > 0
                && srv
                    .repl
                    .history_from
                    .as_ref()
                    .is_some_and(|(h, p)| h.eq_ignore_ascii_case(host) && *p == port),
        };
        if let Some(m) = srv.repl.master.as_mut() {
            m.state = LinkState::Connecting;
            m.master_epoch = 0;
        }
        tracing::info!("Connecting to MASTER {host}:{port}");
        // Redis's `connectWithMaster`: a TLS connection when tls-replication is on.
        let tls = srv.cfg.tls_replication.then(|| srv.process.tls.get().tls);
        (timeout, params, tls)
    };
    let failover = params.failover;
    // REPLICAOF (or REPLFENCE) abandons the connection and the handshake at once: a master
    // that accepted the connection and stopped answering (a stopped process) would
    // otherwise hold the next master back until the handshake times out. (The sync and the
    // stream check the generation as they go.)
    let moved = shared.lock().repl.moved.clone();
    let mut m = Link::new(params, timeout, Instant::now());
    m.connect(Instant::now());
    let deadline = m.poll_timeout().unwrap_or_else(|| Instant::now() + timeout);
    let Some(connecting) = unless_moved(
        shared,
        &moved,
        gen,
        tokio::time::timeout_at(deadline, connect(net, host, port, tls)),
    )
    .await
    else {
        return End::Changed;
    };
    let mut conn = match connecting {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            let why = format!("Error condition on socket for SYNC: {e} ({host}:{port})");
            m.handle(Event::Error(&why), Instant::now());
            return m.poll_output().map_or(End::Failed(why), down_or_failed);
        }
        Err(_) => {
            m.handle(Event::Timeout, Instant::now());
            return m.poll_output().map_or(
                End::Failed("Timeout connecting to the MASTER...".into()),
                down_or_failed,
            );
        }
    };
    if !set_state(shared, gen, LinkState::Handshake) {
        return End::Changed;
    }
    tracing::info!("MASTER <-> REPLICA sync started");
    m.handle(Event::Connected, Instant::now());
    let mut buf = BytesMut::new();
    let reply = loop {
        if let Some(bytes) = m.poll_transmit() {
            if let Err(e) = write_flushed(&mut conn, &bytes).await {
                return End::Failed(format!("Error writing to MASTER: {e}"));
            }
        }
        let mut psync = None;
        while let Some(out) = m.poll_output() {
            match out {
                Output::Psync(r) => {
                    psync = Some(r);
                    break;
                }
                Output::Down(d) => return end_of(d),
                Output::MasterEpoch(epoch) => {
                    let mut srv = shared.lock();
                    if srv.repl.generation != gen {
                        return End::Changed;
                    }
                    super::fence::learned_master_epoch(&mut srv, epoch);
                }
                Output::Up => {}
            }
        }
        if let Some(r) = psync {
            break r;
        }
        let deadline = m.poll_timeout().unwrap_or_else(|| Instant::now() + timeout);
        let Some(read) = unless_moved(
            shared,
            &moved,
            gen,
            read_line(&mut conn, &mut buf, deadline),
        )
        .await
        else {
            return End::Changed;
        };
        if changed(shared, gen) {
            return End::Changed;
        }
        match read {
            Ok(line) => m.handle(Event::Line(&line), Instant::now()),
            Err(ReadError::Timeout) => m.handle(Event::Timeout, Instant::now()),
            Err(ReadError::Io(e)) => m.handle(Event::Error(&e), Instant::now()),
        }
    };
    if failover {
        let mut srv = shared.lock();
        if srv.repl.generation != gen {
            return End::Changed;
        }
        super::failover::psync_answered(&mut srv, true);
    }
    match reply {
        PsyncReply::Continue { new_replid } => {
            let mut srv = shared.lock();
            if srv.repl.generation != gen {
                return End::Changed;
            }
            if let Some(id) = new_replid {
                if id != srv.repl.replid {
                    srv.repl.shift_replid(id.clone());
                    tracing::info!("Master replication ID changed to {id}");
                    disconnect_replicas(&mut srv);
                }
            }
            let size = srv.cfg.repl.backlog_size;
            srv.repl.ensure_backlog(size);
            tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        }
        PsyncReply::Full { replid, offset } => {
            tracing::info!("Full resync from master: {replid}:{offset}");
            if let Err(e) =
                full_sync(shared, &mut conn, &mut buf, gen, timeout, replid, offset).await
            {
                return e;
            }
        }
        PsyncReply::LegacySync => {
            if let Err(e) =
                full_sync(shared, &mut conn, &mut buf, gen, timeout, String::new(), 0).await
            {
                return e;
            }
        }
    }
    stream(shared, conn, buf, gen, m).await
}

/// Close this server's own replicas (its history changed: they must resync with it).
pub fn disconnect_replicas(srv: &mut Server) {
    let ids: Vec<_> = srv.repl.replicas.iter().copied().collect();
    for id in ids {
        if let Some(c) = srv.clients.get_mut(&id) {
            c.close_asap("replication history changed");
        }
    }
}

/// Receive the RDB of a full synchronization and load it (see `fullsync.rs`).
async fn full_sync<C: Conn>(
    shared: &Arc<Shared>,
    conn: &mut C,
    buf: &mut BytesMut,
    gen: u64,
    timeout: Duration,
    replid: String,
    offset: u64,
) -> Result<(), End> {
    if !set_state(shared, gen, LinkState::Sync) {
        return Err(End::Changed);
    }
    let mut link = fullsync::Link {
        shared,
        conn,
        buf,
        gen,
        timeout,
    };
    let loaded = match fullsync::receive(&mut link).await {
        Ok(l) => l,
        Err(SyncError::Changed) => return Err(End::Changed),
        Err(e) => return Err(End::Failed(e.to_string())),
    };
    let mut srv = shared.lock();
    srv.persistence.rdb.loading = false;
    if srv.repl.generation != gen {
        // Abandoned while loading (REPLFENCE, the one command that changes the link while
        // the server loads): the loaded data belongs to no history this server holds.
        for db in srv.keyspace.dbs.iter_mut() {
            db.clear();
        }
        srv.repl.have_history = false;
        return Err(End::Changed);
    }
    let info = loaded.info;
    // The master's history is ours now.
    let (id, off) = if replid.is_empty() {
        (
            info.repl_id.unwrap_or_default(),
            info.repl_offset.unwrap_or(0),
        )
    } else {
        (replid, offset)
    };
    srv.repl.replid = if id.is_empty() {
        picket_common::ids::random_hex40(&mut srv.rng)
    } else {
        id
    };
    srv.repl.offset = off;
    srv.repl.clear_replid2();
    let size = srv.cfg.repl.backlog_size;
    srv.repl.ensure_backlog(size);
    srv.propagator.enabled = true;
    srv.repl.have_history = true;
    srv.repl.master_db = 0;
    if loaded.diskless {
        // Not on disk: the next save point must write it (Redis's `server.dirty++`).
        srv.dirty += 1;
    }
    tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    // The AOF restarts from the new data (Redis's `restartAOFAfterSYNC`): a rewrite
    // already running has a base from before the sync, so it is dropped too.
    if srv.persistence.aof.is_some() {
        let off = crate::persist::aof::set_enabled(&mut srv, false);
        if let Err(e) = off.and_then(|()| crate::persist::aof::set_enabled(&mut srv, true)) {
            tracing::warn!("Failed enabling the AOF after successful master synchronization! Trying it again in one second: {e}");
        }
    }
    Ok(())
}

/// Apply the master's stream; the link machine says when to ACK and when the master is
/// silent for too long.
async fn stream<C: Conn>(
    shared: &Arc<Shared>,
    conn: C,
    mut buf: BytesMut,
    gen: u64,
    mut m: Link,
) -> End {
    let (mut rd, mut wr) = tokio::io::split(conn);
    let (mut master, wake, offset) = {
        let mut srv = shared.lock();
        if srv.repl.generation != gen {
            return End::Changed;
        }
        let now = srv.clock.now();
        let db = srv.repl.master_db;
        let host_port = srv.repl.master.as_ref().map(|m| (m.host.clone(), m.port));
        if let Some(m) = srv.repl.master.as_mut() {
            m.state = LinkState::Connected;
            m.down_since = None;
            m.has_client = true;
            m.last_io = Some(now);
        }
        if let Some((h, p)) = host_port {
            tracing::info!("MASTER <-> REPLICA sync: link with {h}:{p} is up");
            srv.repl.history_from = Some((h, p));
        }
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let mut c = Client::new(0, addr, addr, now);
        c.authenticated = true;
        c.flags |= cflags::MASTER;
        c.db = db;
        (c, srv.repl.wake.clone(), srv.repl.offset)
    };
    // The first ACK goes out at once: a diskless master starts the stream on it.
    m.handle(Event::Synced { offset }, Instant::now());
    let mut decoder = RequestDecoder::new();
    loop {
        while let Some(out) = m.poll_output() {
            if let Output::Down(d) = out {
                save_master_db(shared, &master, gen);
                return end_of(d);
            }
        }
        // Apply what is complete, under one lock hold per batch.
        if !buf.is_empty() {
            let (acks, offset, end) = apply(shared, &mut master, &mut decoder, &mut buf, gen);
            // Stopped on a fatal error (what was applied is not durable): no ACK leaves.
            if shared.cancel.is_cancelled() {
                if let Some(e) = end {
                    return e;
                }
            }
            for off in acks {
                m.handle(
                    Event::Applied {
                        offset: off,
                        getack: true,
                    },
                    Instant::now(),
                );
            }
            m.handle(
                Event::Applied {
                    offset,
                    getack: false,
                },
                Instant::now(),
            );
            if let Some(bytes) = m.poll_transmit() {
                if let Err(e) = write_flushed(&mut wr, &bytes).await {
                    return End::Lost(e.to_string());
                }
            }
            if let Some(e) = end {
                save_master_db(shared, &master, gen);
                return e;
            }
        }
        if let Some(bytes) = m.poll_transmit() {
            if let Err(e) = write_flushed(&mut wr, &bytes).await {
                return End::Lost(e.to_string());
            }
        }
        let wake_at = m.poll_timeout();
        buf.reserve(64 * 1024);
        // The timer first: a busy stream must not starve the ACKs and the timeout check.
        tokio::select! {
            biased;
            _ = sleep_until_opt(wake_at) => m.handle(Event::Timeout, Instant::now()),
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) => m.handle(Event::Error("connection closed"), Instant::now()),
                Err(e) => m.handle(Event::Error(&e.to_string()), Instant::now()),
                Ok(_) => {
                    m.handle(Event::Data, Instant::now());
                    let mut srv = shared.lock();
                    let now = srv.clock.now();
                    if let Some(m) = srv.repl.master.as_mut() {
                        m.last_io = Some(now);
                    }
                }
            },
            _ = wake.notified() => {
                if changed(shared, gen) {
                    return End::Changed;
                }
            }
        }
    }
}

/// Write and flush (a TLS stream holds what it could not send until flushed).
async fn write_flushed<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn save_master_db(shared: &Shared, master: &Client, gen: u64) {
    let mut srv = shared.lock();
    if srv.repl.generation == gen {
        srv.repl.master_db = master.db;
    }
}

/// Apply the complete commands in `buf`; returns the ACK offsets to send, the offset
/// applied so far, and the end of the link if the stream is bad or REPLICAOF changed.
fn apply(
    shared: &Shared,
    master: &mut Client,
    decoder: &mut RequestDecoder,
    buf: &mut BytesMut,
    gen: u64,
) -> (Vec<u64>, u64, Option<End>) {
    let mut srv = shared.lock();
    if srv.repl.generation != gen {
        return (Vec::new(), srv.repl.offset, Some(End::Changed));
    }
    let limits = Limits {
        max_bulk_len: i64::MAX,
        unauthenticated: false,
    };
    let mut acks = Vec::new();
    srv.call.clock_hint = None;
    let mut end = None;
    loop {
        match decoder.decode(buf, &limits) {
            Ok(Some(req)) => {
                let mut out = ReplyBuf::default();
                srv.repl.applying = true;
                srv.repl.ack_requested = false;
                let flow = (shared.pipeline.replay)(&mut srv, master, &mut out, &req.args);
                srv.repl.applying = false;
                if flow == crate::ctx::Flow::Close {
                    // Not applied, and not counted: the link resumes from this command.
                    if let Some(why) = master.close_reason.take() {
                        // Refused (the AOF cannot be written): retry after a pause.
                        end = Some(End::Failed(why));
                    } else {
                        // It panicked halfway: the dataset may hold part of it, so the next
                        // link asks for a full resynchronization.
                        srv.repl.have_history = false;
                        end = Some(End::Lost(
                            "internal error applying a command from the MASTER: a full resynchronization follows".into(),
                        ));
                    }
                    master.flags &= !(cflags::CLOSE_ASAP | cflags::CLOSE_AFTER_REPLY);
                    break;
                }
                if std::mem::take(&mut srv.repl.ack_requested) {
                    // The GETACK's own bytes are not counted yet.
                    acks.push(srv.repl.offset);
                }
                // Sub-replicas and the backlog get exactly the bytes received.
                super::feed_stream(&mut srv, &req.raw);
            }
            Ok(None) => break,
            Err(e) => {
                end = Some(End::Lost(format!("Protocol error from MASTER: {e}")));
                break;
            }
        }
    }
    super::after_batch(&mut srv);
    srv.tracking_before_sleep();
    // What was applied could not be made durable: acknowledge none of it.
    if srv.process.fatal.is_some() {
        let off = srv.repl.offset;
        return (
            Vec::new(),
            off,
            Some(End::Lost("the server stopped on a fatal error".into())),
        );
    }
    (acks, srv.repl.offset, end)
}

/// REPLICAOF host port: follow a master. Returns false if it already is this one.
pub fn set_master(srv: &mut Server, host: &str, port: u16) -> bool {
    if let Some(m) = &srv.repl.master {
        if m.host.eq_ignore_ascii_case(host) && m.port == port {
            return false;
        }
    }
    let was_master = srv.repl.master.is_none();
    // A former master continues its own history with the new master if it can.
    if was_master {
        crate::replication::feed(srv);
        srv.repl.have_history = true;
        srv.repl.master_db = 0;
    }
    disconnect_replicas(srv);
    unblock_all(srv, "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)");
    srv.repl.master = Some(MasterLink {
        host: host.to_string(),
        port,
        state: LinkState::Connect,
        last_io: None,
        down_since: None,
        has_client: false,
        sync_total: 0,
        sync_read: 0,
        sync_last_io: None,
        master_epoch: 0,
    });
    srv.repl.master_since = None;
    srv.repl.lease_held_at = None;
    srv.repl.generation += 1;
    srv.repl.moved.notify_waiters();
    srv.repl.wake.notify_one();
    set_config(srv, Some((host, port)));
    true
}

/// REPLICAOF NO ONE: become a master, keeping the history for the replicas.
pub fn unset_master(srv: &mut Server) {
    srv.repl.history_from = None;
    if srv.repl.master.take().is_none() {
        return;
    }
    // A fenced replica promoted keeps its failover epoch: a master at that epoch.
    srv.repl.master_since = Some(srv.clock.now());
    srv.repl.lease_held_at = None;
    let id = picket_common::ids::random_hex40(&mut srv.rng);
    srv.repl.shift_replid(id);
    disconnect_replicas(srv);
    srv.propagator.reset_selected_db();
    let size = srv.cfg.repl.backlog_size;
    srv.repl.ensure_backlog(size);
    srv.propagator.enabled = true;
    srv.repl.generation += 1;
    srv.repl.moved.notify_waiters();
    srv.repl.wake.notify_one();
    set_config(srv, None);
    tracing::info!(
        "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
        srv.repl.replid2,
        srv.repl.second_offset,
        srv.repl.replid
    );
}

fn set_config(srv: &mut Server, master: Option<(&str, u16)>) {
    let v = match master {
        Some((h, p)) => picket_common::config::Value::List(vec![h.to_string(), p.to_string()]),
        None => picket_common::config::Value::List(Vec::new()),
    };
    srv.config.store_mut().set_internal("replicaof", v);
}

/// End every blocking wait with an error (the instance changed role).
fn unblock_all(srv: &mut Server, msg: &str) {
    let ids: Vec<_> = srv
        .clients
        .values()
        // Clients held by a pause are not waiting for keys: their command starts over when
        // the pause ends (and is refused then if it is a write), as Redis's
        // `disconnectAllBlockedClients`.
        .filter(|c| c.blocked.as_ref().is_some_and(|b| !b.postponed))
        .map(|c| c.id)
        .collect();
    for id in ids {
        if let Some(mut c) = srv.clients.remove(&id) {
            crate::blocking::unblock(srv, &mut c);
            c.out.error(msg);
            c.notify.notify_one();
            srv.clients.insert(id, c);
        }
    }
}
