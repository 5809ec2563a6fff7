//! The failover epoch and fencing (docs/failover-safety.md, rule 2, server side).
//!
//! Every server keeps the newest failover epoch it has seen (`failover-epoch`). A failover
//! leader of epoch `E` fences a replica with `REPLFENCE E`: the replica raises its epoch to
//! `E` and drops at once the link with a master whose epoch (learned in the handshake,
//! `REPLCONF failover-epoch`, see `link.rs`) is older, so that not one more byte of that
//! master's stream is applied after the reply; its handshake then refuses that master.
//!
//! Dropping the link bumps the REPLICAOF generation under the server lock, as REPLICAOF
//! does: the link task checks the generation under the same lock before it applies any
//! stream byte, RDB chunk or resynchronization (`replica.rs`, `fullsync.rs`), so once the
//! REPLFENCE handler released the lock nothing of the old link is applied any more.

use std::time::Duration;

use picket_common::config::Value;

use super::LinkState;
use crate::command::args::parse_i64;
use crate::command::error::{CmdError, CmdResult};
use crate::ctx::Ctx;
use crate::server::Server;

/// Set the failover epoch (in memory, then in the config file when the server has one, as
/// CONFIG REWRITE writes it). On a persistence error the epoch stays set in memory.
pub fn set_epoch(srv: &mut Server, epoch: u64) -> Result<(), String> {
    let epoch = epoch.min(i64::MAX as u64);
    srv.config
        .store_mut()
        .set_internal("failover-epoch", Value::Int(epoch as i64));
    srv.cfg.repl.failover_epoch = epoch;
    if srv.config.file().is_none() {
        return Ok(());
    }
    srv.config.store().rewrite().map_err(|e| e.to_string())
}

/// The handshake learned the master's epoch `master` (not older than ours, the link
/// checked): remember it for the link, and adopt it when it is newer.
pub fn learned_master_epoch(srv: &mut Server, master: u64) {
    if let Some(m) = srv.repl.master.as_mut() {
        m.master_epoch = master;
    }
    if master > srv.cfg.repl.failover_epoch {
        tracing::info!("Adopting the master's failover epoch {master}");
        if let Err(e) = set_epoch(srv, master) {
            tracing::warn!("Failed to persist the failover epoch {master}: {e}");
        }
    }
}

/// REPLFENCE epoch
pub fn replfence(ctx: &mut Ctx) -> CmdResult {
    let epoch = parse_i64(&ctx.args[1])
        .filter(|e| *e >= 0)
        .ok_or(CmdError::NotInteger)? as u64;
    let srv = &mut *ctx.srv;
    let current = srv.cfg.repl.failover_epoch;
    if epoch < current {
        return Err(CmdError::err(format!(
            "fence epoch {epoch} is older than this server's failover epoch {current}"
        )));
    }
    let persisted = set_epoch(srv, epoch);
    // Dropped even when the epoch could not be persisted: the safe side.
    drop_older_link(srv, epoch);
    if let Err(why) = persisted {
        return Err(CmdError::err(format!(
            "Failed to persist the failover epoch: {why}"
        )));
    }
    let srv = &*ctx.srv;
    ctx.out.array(8);
    ctx.out.bulk(b"role");
    let role: &[u8] = if srv.repl.is_replica() {
        b"slave"
    } else {
        b"master"
    };
    ctx.out.bulk(role);
    ctx.out.bulk(b"epoch");
    ctx.out.int(epoch as i64);
    ctx.out.bulk(b"replid");
    ctx.out.bulk(srv.repl.replid.as_bytes());
    ctx.out.bulk(b"offset");
    ctx.out.int(srv.repl.offset as i64);
    Ok(())
}

/// Drop the link with the master if the master's epoch is older than `epoch` (a link
/// waiting to connect has nothing in flight: its next handshake reads the new epoch).
fn drop_older_link(srv: &mut Server, epoch: u64) {
    let now = srv.clock.now();
    let Some(m) = srv.repl.master.as_ref() else {
        return;
    };
    if m.state == LinkState::Connect || m.master_epoch >= epoch {
        return;
    }
    if m.state == LinkState::Sync && srv.persistence.rdb.loading {
        // A full synchronization past "Flushing old data": the dataset is neither the old
        // history nor the master's. The load is abandoned (emptied when it stops, see
        // `replica::full_sync`), so this replica holds no history of any master: a new
        // empty one, which no leader takes for the most advanced on the old master's.
        srv.repl.have_history = false;
        srv.repl.replid = picket_common::ids::random_hex40(&mut srv.rng);
        srv.repl.clear_replid2();
        srv.repl.offset = 0;
        tracing::warn!("Fenced during a full synchronization: the dataset being loaded is dropped");
    }
    let history = srv.repl.have_history;
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    if m.state == LinkState::Connected {
        m.down_since = Some(now);
    }
    m.state = LinkState::Connect;
    m.has_client = m.has_client && history;
    let (host, port, master) = (m.host.clone(), m.port, m.master_epoch);
    // The link task sees the new generation under the lock before it applies anything.
    srv.repl.generation += 1;
    srv.repl.moved.notify_waiters();
    srv.repl.wake.notify_one();
    tracing::warn!(
        "Fenced at failover epoch {epoch}: dropped the link with master {host}:{port} (failover epoch {master})"
    );
}

/// `REPLCONF failover-epoch <E>` on the master side: answers this server's epoch; a
/// replica that has seen a newer one means this master may have been superseded.
pub fn replconf_epoch(ctx: &mut Ctx, val: &[u8]) -> CmdResult {
    let seen = parse_i64(val)
        .filter(|e| *e >= 0)
        .ok_or(CmdError::NotInteger)? as u64;
    let own = ctx.srv.cfg.repl.failover_epoch;
    if seen > own && ctx.srv.repl.superseded_warned.insert(seen) {
        tracing::warn!(
            "A replica has seen failover epoch {seen}, newer than this master's {own}: this master may have been superseded"
        );
    }
    ctx.out.int(own as i64);
    Ok(())
}

/// From the replication cron: when this master became one, and when its lease was last
/// seen held.
pub fn track_lease(srv: &mut Server) {
    if srv.repl.is_replica() {
        return;
    }
    let now = srv.clock.now();
    srv.repl.master_since.get_or_insert(now);
    if super::master::lease_held(srv) {
        srv.repl.lease_held_at = Some(now);
    }
}

/// INFO's `failover_lease_lost_ms`: 0 while the lease is held, else the time since it was
/// last held (since this server became a master or started, if never).
pub fn lease_lost_ms(srv: &Server) -> u64 {
    if super::master::lease_held(srv) {
        return 0;
    }
    let now = srv.clock.now();
    let since = srv
        .repl
        .lease_held_at
        .or(srv.repl.master_since)
        .unwrap_or(now);
    let lost: Duration = now.saturating_duration_since(since);
    lost.as_millis() as u64
}
