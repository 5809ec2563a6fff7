//! The master side: replicas attach with SYNC/PSYNC, get a partial resynchronization from
//! the backlog or a full one from a snapshot (streamed diskless, or written to disk first),
//! then the command stream. REPLCONF, WAIT, min-replicas and the replication cron live here.
//!
//! A replica is an ordinary connection whose output is the replication stream: everything
//! for it (the RDB, then the stream) goes to its client's output buffer, which its
//! connection task writes, so the output buffer limits of the `replica` class apply.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::time::Instant;

use super::psync::{self, BacklogRange, FullReason, PsyncDecision, PsyncRequest, ReplView, Role};
pub use super::state::{RState, ReplicaState};
pub use super::stream::stream_to;
use super::wait::{self, WaitStart};
use super::{feed, LinkState};
use crate::client::{cflags, Client, ClientId};
use crate::command::args::parse_i64;
use crate::command::error::{CmdError, CmdResult};
use crate::ctx::Ctx;
use crate::persist::snapshot::{Snapshot, STEP_KEYS};
use crate::server::Server;
use crate::shared::Shared;

/// The address a replica is known by: its announced ip, or its peer address.
pub fn replica_ip(c: &Client) -> String {
    c.replica
        .as_ref()
        .and_then(|r| r.announced_ip.clone())
        .unwrap_or_else(|| c.addr.ip().to_canonical().to_string())
}

/// Start streaming to a replica whose RDB is delivered: what was produced meanwhile first.
fn go_online(c: &mut Client) {
    let Some(r) = c.replica.as_mut() else { return };
    r.state = RState::Online;
    r.start_stream_on_ack = false;
    let pending = r.pending.split();
    if !pending.is_empty() {
        c.out.raw(&pending);
    }
    c.notify.notify_one();
}

/// Recount the good replicas (online, ACKed within `min-replicas-max-lag`).
pub fn refresh_good_replicas(srv: &mut Server) {
    let now = srv.clock.now();
    let max_lag = srv.cfg.repl.min_replicas_max_lag_s;
    srv.repl.acks.refresh_good(now, max_lag);
}

/// Whether a strict master still holds its lease: `max(1, min-replicas-to-write)` online
/// replicas acknowledged within `failover-lease-ms` (docs/failover-safety.md, rule 3).
/// Always true in classic mode and on replicas.
pub fn lease_held(srv: &Server) -> bool {
    let Some(need) = srv.cfg.repl.strict_acks() else {
        return true;
    };
    if srv.repl.is_replica() {
        return true;
    }
    let lease = Duration::from_millis(srv.cfg.repl.lease_ms);
    srv.repl.acks.fresh(srv.clock.now(), lease) >= need
}

/// Whether writes are allowed by `min-replicas-to-write` (Redis's `checkGoodReplicasStatus`);
/// a strict master needs its lease instead.
pub fn enough_good_replicas(srv: &Server) -> bool {
    let r = &srv.cfg.repl;
    if r.strict_acks().is_some() {
        return lease_held(srv);
    }
    srv.repl.is_replica()
        || wait::min_replicas_ok(
            r.min_replicas_to_write,
            r.min_replicas_max_lag_s,
            srv.repl.acks.good(),
        )
}

/// Online replicas that acknowledged `offset` (WAIT).
pub fn count_acks(srv: &Server, offset: u64) -> usize {
    srv.repl.acks.count_acked(offset)
}

/// Answer the WAITs whose replicas acknowledged enough (or whose time is up).
pub fn serve_waits(srv: &mut Server) {
    let now = srv.clock.now();
    let waiting = srv.repl.acks.waiters().to_vec();
    for (id, acks) in srv.repl.acks.poll(now) {
        if let Some(mut c) = srv.clients.remove(&id) {
            crate::blocking::unblock(srv, &mut c);
            c.out.int(acks as i64);
            c.notify.notify_one();
            srv.clients.insert(id, c);
        } else if let Some(w) = waiting.iter().find(|w| w.client == id) {
            // Its connection holds it right now: served at the next chance.
            srv.repl.acks.put_back(*w);
        }
    }
}

// ------------------------------------------------------------------ commands

/// SYNC
pub fn sync(ctx: &mut Ctx) -> CmdResult {
    attach(ctx, None)
}

/// PSYNC replid offset
pub fn psync(ctx: &mut Ctx) -> CmdResult {
    let replid = String::from_utf8_lossy(&ctx.args[1]).into_owned();
    let offset = parse_i64(&ctx.args[2]).ok_or(CmdError::NotInteger)?;
    attach(ctx, Some((replid, offset)))
}

fn attach(ctx: &mut Ctx, psync: Option<(String, i64)>) -> CmdResult {
    // A replica asking again is ignored, as Redis does.
    if ctx.client.has(cflags::REPLICA) {
        return Ok(());
    }
    let srv = &mut *ctx.srv;
    // `PSYNC <replid> <offset> FAILOVER`: our master hands over to us (FAILOVER).
    if psync.is_some() && ctx.args.len() > 3 && ctx.args[3].eq_ignore_ascii_case(b"failover") {
        super::failover::psync_request(srv, &ctx.args[1])?;
    }
    let now = srv.clock.now();
    // The offset must include everything executed so far.
    feed(srv);
    let request = psync.as_ref().map(|(replid, offset)| PsyncRequest {
        replid,
        offset: *offset,
        capa_psync2: ctx.client.replica.as_ref().is_some_and(|r| r.capa_psync2),
    });
    let decision = psync::decide(request.as_ref(), &repl_view(srv));
    if let PsyncDecision::Refuse(why) = decision {
        return Err(CmdError::Reply(why.reply().into()));
    }
    let who = format!("{}:{}", replica_ip(ctx.client), listening_port(ctx.client));
    tracing::info!("Replica {who} asks for synchronization");
    let state = ctx
        .client
        .replica
        .get_or_insert_with(|| Box::new(ReplicaState::new()));
    match decision {
        PsyncDecision::Continue {
            replid_to_send,
            from_offset: from,
        } => {
            let Some(backlog) = srv.repl.backlog.as_ref() else {
                return Ok(());
            };
            let data = backlog.since(from);
            let line = match replid_to_send {
                Some(id) => format!("+CONTINUE {id}\r\n"),
                None => "+CONTINUE\r\n".to_string(),
            };
            ctx.out.raw(line.as_bytes());
            ctx.out.raw(&data);
            state.state = RState::Online;
            state.header_sent = true;
            ctx.client.flags |= cflags::REPLICA;
            srv.repl.replicas.insert(ctx.client.id);
            srv.repl
                .acks
                .continued(ctx.client.id, from.saturating_sub(1), now);
            srv.repl.no_replicas_since = None;
            srv.repl.stat_sync_partial_ok += 1;
            tracing::info!(
                "Partial resynchronization request from {who} accepted. Sending {} bytes of backlog starting from offset {from}.",
                data.len()
            );
            refresh_good_replicas(srv);
            return Ok(());
        }
        PsyncDecision::FullResync { reason } if psync.is_some() => {
            if reason.is_partial_error() {
                srv.repl.stat_sync_partial_err += 1;
            }
            if reason != FullReason::Requested {
                tracing::info!("{reason}");
            }
            if let FullReason::NoBacklog {
                beyond_master: true,
                ..
            } = reason
            {
                tracing::warn!("Warning: replica {who} tried to PSYNC with an offset that is greater than the master replication offset.");
            }
            tracing::info!("Full resync requested by replica {who}");
        }
        _ => {}
    }
    state.legacy = psync.is_none();
    state.state = RState::WaitBgsaveStart;
    ctx.client.flags |= cflags::REPLICA;
    srv.repl.replicas.insert(ctx.client.id);
    srv.repl.acks.attached(ctx.client.id, now);
    srv.repl.no_replicas_since = None;
    srv.repl.stat_sync_full += 1;
    if srv.repl.backlog.is_none() {
        // A new history begins with the first replica of a master.
        if !srv.repl.is_replica() {
            srv.repl.replid = picket_common::ids::random_hex40(&mut srv.rng);
            srv.repl.clear_replid2();
        }
        let size = srv.cfg.repl.backlog_size;
        srv.repl.ensure_backlog(size);
        srv.propagator.enabled = true;
        tracing::info!(
            "Replication backlog created, my new replication IDs are '{}' and '{}'",
            srv.repl.replid,
            srv.repl.replid2
        );
    }
    srv.repl.waiting_since.get_or_insert(now);
    Ok(())
}

pub fn listening_port(c: &Client) -> u16 {
    c.replica.as_ref().map_or(0, |r| r.listening_port)
}

/// The replication state a PSYNC decision reads.
fn repl_view(srv: &Server) -> ReplView<'_> {
    let r = &srv.repl;
    ReplView {
        replid: &r.replid,
        replid2: &r.replid2,
        second_replid_offset: r.second_offset,
        master_repl_offset: r.offset,
        backlog: r.backlog.as_ref().map(|b| BacklogRange {
            first_byte_offset: b.first_byte_offset(),
            histlen: b.histlen(),
        }),
        role: match r.is_replica() {
            false => Role::Master,
            true => Role::Replica {
                link_up: r.link_up(),
            },
        },
        failing_over: r.failover.state != super::failover::State::None,
    }
}

/// REPLCONF option value [option value ...]
pub fn replconf(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let now = ctx.srv.clock.now();
    let mut i = 1;
    while i + 1 < ctx.args.len() {
        let opt = String::from_utf8_lossy(&ctx.args[i]).to_ascii_lowercase();
        let val = &ctx.args[i + 1];
        i += 2;
        match opt.as_str() {
            "listening-port" => {
                let p = parse_i64(val).ok_or(CmdError::NotInteger)?;
                state(ctx.client).listening_port = p.clamp(0, 65535) as u16;
            }
            "ip-address" => {
                // An IP or, as Redis 7.0, a host name (`replica-announce-ip node2`): up to
                // NET_HOST_STR_LEN (256) bytes.
                if val.len() >= 256 {
                    return Err(CmdError::err(format!(
                        "REPLCONF ip-address provided by replica instance is too long: {} bytes",
                        val.len()
                    )));
                }
                state(ctx.client).announced_ip = Some(String::from_utf8_lossy(val).into_owned());
            }
            "capa" => {
                let st = state(ctx.client);
                if val.eq_ignore_ascii_case(b"eof") {
                    st.capa_eof = true;
                } else if val.eq_ignore_ascii_case(b"psync2") {
                    st.capa_psync2 = true;
                }
            }
            "ack" => {
                // Only replicas ACK; never a reply.
                let Some(off) = parse_i64(val) else {
                    return Ok(());
                };
                if !ctx.client.has(cflags::REPLICA) {
                    return Ok(());
                }
                let Some(st) = ctx.client.replica.as_mut() else {
                    return Ok(());
                };
                ctx.srv.repl.acks.ack(ctx.client.id, off.max(0) as u64, now);
                if st.state == RState::Online && st.start_stream_on_ack {
                    // The client's output is `ctx.out` while its command runs.
                    st.start_stream_on_ack = false;
                    let pending = st.pending.split();
                    ctx.out.raw(&pending);
                }
                ctx.srv.repl.acks_changed = true;
                return Ok(());
            }
            "getack" => {
                // From our master: answer with an ACK (the link does it).
                if ctx.client.has(cflags::MASTER) {
                    ctx.srv.repl.ack_requested = true;
                }
                return Ok(());
            }
            "failover-epoch" => {
                // Picket's (docs/failover-safety.md, rule 2): an integer reply.
                let val = val.clone();
                return super::fence::replconf_epoch(ctx, &val);
            }
            "rdb-only" | "rdb-filter-only" => {}
            _ => {
                return Err(CmdError::err(format!(
                    "Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(&ctx.args[i - 2])
                )))
            }
        }
    }
    ctx.out.simple("OK");
    Ok(())
}

fn state(c: &mut Client) -> &mut ReplicaState {
    c.replica
        .get_or_insert_with(|| Box::new(ReplicaState::new()))
}

/// WAIT numreplicas timeout
pub fn wait(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.repl.is_replica() {
        return Err(CmdError::err("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let n = parse_i64(&ctx.args[1]).ok_or(CmdError::NotInteger)?;
    let ms = parse_i64(&ctx.args[2])
        .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let offset = ctx.client.woff;
    let can_block = ctx.can_block();
    if let WaitStart::Reply(acks) = ctx.srv.repl.acks.start(offset, n, can_block) {
        ctx.out.int(acks as i64);
        return Ok(());
    }
    let now = Instant::now();
    let timeout = Duration::from_millis(ms as u64);
    let deadline = (ms > 0).then(|| now + timeout);
    ctx.srv
        .repl
        .acks
        .add_waiter(ctx.client.id, offset, n.max(0) as usize, now, timeout);
    ctx.client.blocked = Some(crate::blocking::Blocked {
        db: ctx.client.db,
        keys: Vec::new(),
        want: "wait",
        deadline,
        spec: ctx.spec,
        args: ctx.args.to_vec(),
        wait: Some((offset, n.max(0) as usize)),
        postponed: false,
    });
    ctx.client.flags |= cflags::BLOCKED;
    ctx.srv.repl.get_ack = true;
    Ok(())
}

// ------------------------------------------------------------------ cron and full syncs

/// Once a second (and at every tick for starting syncs): start waiting full syncs,
/// keepalives, in-band PINGs, timeouts, backlog expiry, good replica count.
pub fn cron(srv: &mut Server) {
    maybe_start_sync(srv);
    super::fence::track_lease(srv);
    let now = srv.clock.now();
    // A strict master's lease lives on fresh ACKs: ask for one every quarter lease (at
    // most every cron tick), not only when writes wait.
    if srv.cfg.repl.strict_acks().is_some()
        && !srv.repl.is_replica()
        && !srv.repl.replicas.is_empty()
    {
        let quarter = Duration::from_millis((srv.cfg.repl.lease_ms / 4).max(1));
        if srv
            .repl
            .lease_getack
            .is_none_or(|t| now.saturating_duration_since(t) >= quarter)
        {
            srv.repl.lease_getack = Some(now);
            srv.repl.get_ack = true;
        }
    }
    if srv
        .repl
        .last_cron
        .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
    {
        return;
    }
    srv.repl.last_cron = Some(now);
    srv.repl.cron_loops += 1;
    let ids: Vec<ClientId> = srv.repl.replicas.iter().copied().collect();
    // In-band PING, every repl-ping-replica-period seconds (part of the stream: offsets move).
    let period = srv.cfg.repl.ping_period_s.max(1);
    if !ids.is_empty() && !srv.repl.is_replica() && srv.repl.cron_loops.is_multiple_of(period) {
        feed(srv);
        let mut b = BytesMut::new();
        picket_common::resp::append_command(&mut b, &[bytes::Bytes::from_static(b"PING")]);
        super::feed_stream(srv, &b);
    }
    let timeout = srv.cfg.repl.timeout_s;
    for id in &ids {
        let Some(c) = srv.clients.get_mut(id) else {
            continue;
        };
        let Some(r) = c.replica.as_ref() else {
            continue;
        };
        if matches!(r.state, RState::WaitBgsaveStart | RState::WaitBgsaveEnd) && !r.header_sent {
            // Keepalive while the snapshot is prepared (not part of the stream).
            c.out.raw(b"\n");
            c.notify.notify_one();
        } else if srv.repl.acks.timed_out(*id, now, timeout) {
            tracing::warn!(
                "Disconnecting timedout replica (streaming sync): {}:{}",
                replica_ip(c),
                listening_port(c)
            );
            c.close_asap("replica timeout");
        }
    }
    // Without replicas for repl-backlog-ttl, a master frees its backlog (and its history).
    if srv.repl.replicas.is_empty() && !srv.repl.is_replica() && srv.repl.backlog.is_some() {
        let since = *srv.repl.no_replicas_since.get_or_insert(now);
        let ttl = srv.cfg.repl.backlog_ttl_s;
        if ttl > 0 && now.saturating_duration_since(since).as_secs() >= ttl {
            srv.repl.replid = picket_common::ids::random_hex40(&mut srv.rng);
            srv.repl.clear_replid2();
            srv.repl.backlog = None;
            srv.propagator.enabled = srv.persistence.aof.is_some();
            tracing::info!(
                "Replication backlog freed after {ttl} seconds without connected replicas."
            );
        }
    }
    refresh_good_replicas(srv);
}

/// Start a full synchronization for the replicas waiting for one, when no snapshot is being
/// produced (and, diskless, after `repl-diskless-sync-delay` for more replicas to come).
fn maybe_start_sync(srv: &mut Server) {
    let waiting: Vec<ClientId> = srv
        .repl
        .replicas
        .iter()
        .copied()
        .filter(|id| {
            srv.clients.get(id).is_some_and(|c| {
                !c.has(cflags::CLOSE_ASAP)
                    && c.replica
                        .as_ref()
                        .is_some_and(|r| r.state == RState::WaitBgsaveStart)
            })
        })
        .collect();
    if waiting.is_empty() {
        srv.repl.waiting_since = None;
        return;
    }
    if srv.snapshot_busy() {
        return;
    }
    let cfg = &srv.cfg.repl;
    let diskless = cfg.diskless_sync
        && waiting.iter().all(|id| {
            srv.clients
                .get(id)
                .and_then(|c| c.replica.as_ref())
                .is_some_and(|r| r.capa_eof && !r.legacy)
        });
    let now = srv.clock.now();
    if diskless {
        let since = *srv.repl.waiting_since.get_or_insert(now);
        let max = cfg.diskless_sync_max_replicas;
        let delay = Duration::from_secs(cfg.diskless_sync_delay_s);
        let enough = max > 0 && waiting.len() >= max;
        if !enough && now.saturating_duration_since(since) < delay {
            return;
        }
    }
    srv.repl.waiting_since = None;
    // The snapshot holds everything up to here; the stream after it goes to the replicas.
    feed(srv);
    let offset = srv.repl.offset;
    let line = format!("+FULLRESYNC {} {offset}\r\n", srv.repl.replid);
    srv.propagator.reset_selected_db();
    for id in &waiting {
        if let Some(c) = srv.clients.get_mut(id) {
            if let Some(r) = c.replica.as_mut() {
                r.state = RState::WaitBgsaveEnd;
                r.pending.clear();
                if !r.legacy {
                    c.out.raw(line.as_bytes());
                    c.notify.notify_one();
                }
            }
        }
    }
    let snap = Snapshot::begin(srv);
    srv.repl.sync_running = true;
    if diskless {
        tracing::info!(
            "Starting BGSAVE for SYNC with target: replicas sockets ({} replicas)",
            waiting.len()
        );
        let mark = picket_common::ids::random_hex40(&mut srv.rng);
        srv.effects.spawn("full-sync", move |shared| {
            diskless_task(shared, snap, waiting, mark)
        });
    } else {
        tracing::info!("Starting BGSAVE for SYNC with target: disk");
        srv.persistence.rdb.bgsave_started =
            Some((Instant::now(), srv.clock.unix_ms() as i64 / 1000));
        srv.persistence.rdb.last_bgsave_try_ms = srv.now_ms;
        let target = crate::persist::save::rdb_path(srv);
        srv.effects.spawn("full-sync", move |shared| {
            disk_task(shared, snap, waiting, target)
        });
    }
}

/// Output held for a replica before the sync waits for its connection to catch up.
const SYNC_OUT_HIGH: usize = 8 << 20;

/// The replicas of a sync that are still connected.
fn alive(srv: &Server, ids: &[ClientId]) -> Vec<ClientId> {
    ids.iter()
        .copied()
        .filter(|id| {
            srv.clients
                .get(id)
                .is_some_and(|c| !c.has(cflags::CLOSE_ASAP) && c.replica.is_some())
        })
        .collect()
}

/// Append to the output of each replica of a sync.
fn send_all(srv: &mut Server, ids: &[ClientId], bytes: &[u8]) {
    for id in ids {
        if let Some(c) = srv.clients.get_mut(id) {
            c.out.raw(bytes);
            c.notify.notify_one();
        }
    }
}

/// Wait until the replicas' connections have written most of what they hold.
async fn drain(shared: &Shared, ids: &[ClientId]) {
    loop {
        let full = {
            let srv = shared.lock();
            ids.iter()
                .filter_map(|id| srv.clients.get(id))
                .any(|c| c.out.len() > SYNC_OUT_HIGH && !c.has(cflags::CLOSE_ASAP))
        };
        if !full || shared.cancel.is_cancelled() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Diskless: the RDB goes straight to the replicas' sockets, between `$EOF:<mark>` and
/// the mark.
async fn diskless_task(shared: Arc<Shared>, mut snap: Snapshot, ids: Vec<ClientId>, mark: String) {
    {
        let mut srv = shared.lock();
        let header = format!("$EOF:{mark}\r\n");
        for id in &ids {
            if let Some(c) = srv.clients.get_mut(id) {
                if let Some(r) = c.replica.as_mut() {
                    r.header_sent = true;
                }
                c.out.raw(header.as_bytes());
                c.notify.notify_one();
            }
        }
    }
    let mut ids = ids;
    loop {
        let done = {
            let mut srv = shared.lock();
            ids = alive(&srv, &ids);
            if ids.is_empty() || shared.cancel.is_cancelled() {
                snap.abort(&mut srv);
                srv.repl.sync_running = false;
                tracing::warn!("Diskless rdb transfer, no replica left: aborting");
                return;
            }
            let bytes = snap.step(&mut srv, STEP_KEYS);
            send_all(&mut srv, &ids, &bytes);
            if snap.is_done() {
                send_all(&mut srv, &ids, mark.as_bytes());
                let now = srv.clock.now();
                // All alive (replicas) in this lock section.
                for id in &ids {
                    srv.repl.acks.went_online(*id, now);
                    if let Some(c) = srv.clients.get_mut(id) {
                        if let Some(r) = c.replica.as_mut() {
                            r.state = RState::Online;
                            r.start_stream_on_ack = true;
                        }
                    }
                }
                srv.repl.sync_running = false;
                // Online replicas count for min-replicas at once (Redis's `replicaPutOnline`
                // refreshes the count).
                refresh_good_replicas(&mut srv);
                tracing::info!(
                    "Diskless rdb transfer done: {} keys, {} bytes",
                    snap.keys_written,
                    snap.bytes_written
                );
                true
            } else {
                false
            }
        };
        if done {
            return;
        }
        drain(&shared, &ids).await;
        tokio::task::yield_now().await;
    }
}

/// Disk: a background save to the RDB file, then the file as `$<len>\r\n<bytes>`.
async fn disk_task(
    shared: Arc<Shared>,
    mut snap: Snapshot,
    ids: Vec<ClientId>,
    target: std::path::PathBuf,
) {
    let error = crate::persist::save::save_snapshot_to(&shared, &mut snap, &target, |srv| {
        srv.persistence.rdb.bgsave_cancel
    })
    .await;
    let data = if error.is_none() {
        match std::fs::read(&target) {
            Ok(d) => Ok(d),
            Err(e) => Err(format!("reading {}: {e}", target.display())),
        }
    } else {
        Err(error.unwrap_or_default())
    };
    let data = {
        let mut srv = shared.lock();
        srv.repl.sync_running = false;
        let dirty = snap.dirty_at_start;
        crate::persist::save::finish_bgsave(&mut srv, data.is_ok(), dirty);
        match data {
            Ok(d) => {
                let header = format!("${}\r\n", d.len());
                for id in &ids {
                    if let Some(c) = srv.clients.get_mut(id) {
                        if let Some(r) = c.replica.as_mut() {
                            r.state = RState::SendBulk;
                            r.header_sent = true;
                        }
                        c.out.raw(header.as_bytes());
                        c.notify.notify_one();
                    }
                }
                d
            }
            Err(e) => {
                snap.abort(&mut srv);
                tracing::warn!("SYNC failed. BGSAVE child returned an error: {e}");
                for id in &ids {
                    if let Some(c) = srv.clients.get_mut(id) {
                        c.close_asap("full sync failed");
                    }
                }
                return;
            }
        }
    };
    let mut ids = ids;
    for chunk in data.chunks(1 << 20) {
        {
            let mut srv = shared.lock();
            ids = alive(&srv, &ids);
            if ids.is_empty() {
                return;
            }
            send_all(&mut srv, &ids, chunk);
        }
        drain(&shared, &ids).await;
    }
    let mut srv = shared.lock();
    let now = srv.clock.now();
    for id in alive(&srv, &ids) {
        srv.repl.acks.went_online(id, now);
        if let Some(c) = srv.clients.get_mut(&id) {
            go_online(c);
            tracing::info!(
                "Synchronization with replica {}:{} succeeded",
                replica_ip(c),
                listening_port(c)
            );
        }
    }
    refresh_good_replicas(&mut srv);
}

/// A replica client is gone: forget it.
pub fn forget_replica(srv: &mut Server, c: &Client) {
    if srv.repl.replicas.remove(&c.id) {
        srv.repl.acks.left(c.id);
        tracing::info!(
            "Connection with replica {}:{} lost.",
            replica_ip(c),
            listening_port(c)
        );
        if srv.repl.replicas.is_empty() {
            srv.repl.no_replicas_since = Some(srv.clock.now());
        }
        refresh_good_replicas(srv);
    }
}

/// INFO replication's master part and ROLE's replica list: (ip, port, state, offset, lag).
pub fn replica_rows(srv: &Server) -> Vec<(String, u16, RState, u64, u64)> {
    let now = srv.clock.now();
    srv.repl
        .replicas
        .iter()
        .filter_map(|id| srv.clients.get(id))
        .filter_map(|c| {
            let r = c.replica.as_ref()?;
            let acks = &srv.repl.acks;
            let offset = acks.get(c.id).map_or(0, |a| a.offset);
            let lag = acks.lag(c.id, now).unwrap_or(0);
            Some((replica_ip(c), r.listening_port, r.state, offset, lag))
        })
        .collect()
}

/// The link state name of ROLE on a replica.
pub fn link_state_name(s: LinkState) -> &'static str {
    s.name()
}
