//! FAILOVER: a coordinated switch of a master with one of its replicas, as Redis 7.0's
//! (`FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]`).
//!
//! 1. The master holds writes (a client pause for this purpose, `pause.rs`) and asks its
//!    replicas for an ACK: `waiting-for-sync`.
//! 2. When the target (or, without TO, the first replica) has acknowledged the whole stream
//!    (or the timeout passes with FORCE), the master becomes a replica of it and its PSYNC
//!    carries `FAILOVER`: `failover-in-progress`.
//! 3. The target, seeing `PSYNC <its replid> <offset> FAILOVER`, becomes a master first
//!    (keeping the history as its replid2) and then answers the PSYNC, normally with
//!    `+CONTINUE`. The old master then lets the held clients go on (their writes now get
//!    READONLY) and the failover is over.
//!
//! A timeout without FORCE, FAILOVER ABORT, or a target that refuses the PSYNC aborts: the
//! old master is a master again and the held writes run there.

pub use super::state::{Failover, FailoverState as State};
use crate::client::Client;
use crate::command::args::{is, parse_i64};
use crate::command::error::{CmdError, CmdResult};
use crate::ctx::Ctx;
use crate::pause::{PauseKind, Purpose};
use crate::server::Server;

use super::master::{listening_port, replica_ip, RState};

/// The online replica of this master at `host:port`.
fn find_replica<'a>(srv: &'a Server, host: &str, port: u16) -> Option<&'a Client> {
    srv.repl
        .replicas
        .iter()
        .filter_map(|id| srv.clients.get(id))
        .find(|c| replica_ip(c).eq_ignore_ascii_case(host) && listening_port(c) == port)
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]
pub fn failover(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    if a.len() == 2 && is(&a[1], "abort") {
        if ctx.srv.repl.failover.state == State::None {
            return Err(CmdError::err("No failover in progress."));
        }
        abort(ctx.srv, "Failover manually aborted");
        ctx.out.ok();
        return Ok(());
    }
    let mut timeout_ms = 0i64;
    let mut force = false;
    let mut target: Option<(String, i64)> = None;
    let mut j = 1;
    while j < a.len() {
        if is(&a[j], "timeout") && j + 1 < a.len() && timeout_ms == 0 {
            timeout_ms = parse_i64(&a[j + 1]).ok_or(CmdError::NotInteger)?;
            if timeout_ms <= 0 {
                return Err(CmdError::err("FAILOVER timeout must be greater than 0"));
            }
            j += 2;
        } else if is(&a[j], "to") && j + 2 < a.len() && target.is_none() {
            let port = parse_i64(&a[j + 2]).ok_or(CmdError::NotInteger)?;
            target = Some((String::from_utf8_lossy(&a[j + 1]).into_owned(), port));
            j += 3;
        } else if is(&a[j], "force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let srv = &mut *ctx.srv;
    if srv.repl.failover.state != State::None {
        return Err(CmdError::err("FAILOVER already in progress."));
    }
    if srv.repl.is_replica() {
        return Err(CmdError::err(
            "FAILOVER is not valid when server is a replica.",
        ));
    }
    if srv.repl.replicas.is_empty() {
        return Err(CmdError::err("FAILOVER requires connected replicas."));
    }
    if force && (timeout_ms == 0 || target.is_none()) {
        return Err(CmdError::err(
            "FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    let mut f = Failover {
        state: State::WaitForSync,
        target: None,
        end_ms: (timeout_ms > 0).then(|| srv.now_ms.saturating_add(timeout_ms)),
        force,
    };
    if let Some((host, port)) = target {
        let port = u16::try_from(port).ok();
        let replica = port.and_then(|p| find_replica(srv, &host, p));
        let Some(replica) = replica else {
            return Err(CmdError::err(
                "FAILOVER target HOST and PORT is not a replica.",
            ));
        };
        if replica.replica.as_ref().map(|r| r.state) != Some(RState::Online) {
            return Err(CmdError::err("FAILOVER target replica is not online."));
        }
        tracing::info!("FAILOVER requested to {host}:{}.", port.unwrap_or(0));
        f.target = port.map(|p| (host, p));
    } else {
        tracing::info!("FAILOVER requested to any replica.");
    }
    srv.repl.failover = f;
    srv.pauses
        .pause(Purpose::Failover, PauseKind::Write, i64::MAX);
    // Ask for fresh ACKs now rather than waiting for the replicas' next one.
    srv.repl.get_ack = true;
    ctx.out.ok();
    Ok(())
}

/// Move a waiting failover on: time out, or fail over once the target acknowledged the whole
/// stream (Redis's `updateFailoverStatus`). Called after ACKs arrive and from the cron.
pub fn update(srv: &mut Server) {
    if srv.repl.failover.state != State::WaitForSync {
        return;
    }
    super::feed(srv);
    let f = &srv.repl.failover;
    if f.end_ms.is_some_and(|end| end <= srv.now_ms) {
        if f.force {
            if let Some((host, port)) = f.target.clone() {
                tracing::info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                start_switch(srv, &host, port);
                return;
            }
        }
        abort(srv, "Replica never caught up before timeout");
        return;
    }
    let offset = srv.repl.offset;
    let synced = |c: &Client| srv.repl.acks.caught_up(c.id, offset);
    let target = match &f.target {
        Some((host, port)) => find_replica(srv, host, *port)
            .filter(|c| synced(c))
            .map(|_| (host.clone(), *port)),
        None => srv
            .repl
            .replicas
            .iter()
            .filter_map(|id| srv.clients.get(id))
            .find(|c| synced(c))
            .map(|c| (replica_ip(c), listening_port(c))),
    };
    if let Some((host, port)) = target {
        tracing::info!("Failover target {host}:{port} is synced, failing over.");
        start_switch(srv, &host, port);
    }
}

/// Become a replica of the target; the link's PSYNC will carry FAILOVER.
fn start_switch(srv: &mut Server, host: &str, port: u16) {
    srv.repl.failover.target = Some((host.to_string(), port));
    srv.repl.failover.state = State::InProgress;
    super::replica::set_master(srv, host, port);
}

/// The target answered the PSYNC FAILOVER (`accepted`) or refused it: the failover is over
/// either way (Redis's `clearFailoverState` / `abortFailover`).
pub fn psync_answered(srv: &mut Server, accepted: bool) {
    if srv.repl.failover.state != State::InProgress {
        return;
    }
    if accepted {
        tracing::info!("FAILOVER to {} completed.", srv.repl.failover.target_name());
        clear(srv);
    } else {
        abort(srv, "Failover target rejected psync request");
    }
    // Outside a command: the held clients go on once the lock is released.
    srv.effects.resume_held();
}

/// End the failover, back to a master if it had switched (Redis's `abortFailover`).
pub fn abort(srv: &mut Server, why: &str) {
    if srv.repl.failover.state == State::None {
        return;
    }
    tracing::info!(
        "FAILOVER to {} aborted: {why}",
        srv.repl.failover.target_name()
    );
    if srv.repl.failover.state == State::InProgress {
        super::replica::unset_master(srv);
    }
    clear(srv);
}

fn clear(srv: &mut Server) {
    srv.repl.failover = Failover::default();
    srv.pauses.unpause(Purpose::Failover);
}

/// The target's side of PSYNC ... FAILOVER: become a master when the request continues our
/// own history, so that the PSYNC that follows is answered as a master's.
pub fn psync_request(srv: &mut Server, replid: &[u8]) -> Result<(), CmdError> {
    if replid != srv.repl.replid.as_bytes() {
        return Err(CmdError::err("PSYNC FAILOVER replid must match my replid."));
    }
    super::replica::unset_master(srv);
    tracing::info!(
        "Failover request received for replid {}.",
        String::from_utf8_lossy(replid)
    );
    Ok(())
}
