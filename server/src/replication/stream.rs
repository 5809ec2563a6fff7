//! The replication stream, one way: what the commands propagated (`crate::propagate`) goes
//! to the AOF's buffer and, on a master, to the backlog and every replica. Nothing here
//! reads back from the AOF or the replicas.

use crate::config::BufferLimit;
use tokio::time::Instant;

use super::state::RState;
use crate::client::{cflags, Client, ClientId};
use crate::server::{check_output_limits, Server};

/// Take the effects produced since the last call: to the AOF buffer, and on a master to the
/// backlog and the replicas. Called after every command (so WAIT knows each client's
/// offset) and before anything reads the offset.
pub fn feed(srv: &mut Server) {
    if srv.propagator.pending.is_empty() && srv.propagator.aof_pending.is_empty() {
        return;
    }
    let bytes = srv.propagator.take();
    let aof = srv.propagator.take_aof();
    if srv.persistence.aof.is_some() {
        srv.repl.aof_buf.extend_from_slice(&aof);
    }
    // A replica's sub-replicas get its master's stream as it was applied, not its own
    // effects (Redis's `replicationFeedStreamFromMasterStream`).
    if !srv.repl.is_replica() {
        feed_stream(srv, &bytes);
    }
}

/// Append bytes to the replication stream: the backlog, and every replica (online ones get
/// them at once, those in a full sync once their RDB is sent). Without a backlog there is
/// no stream, as in Redis.
pub fn feed_stream(srv: &mut Server, bytes: &[u8]) {
    let Some(backlog) = srv.repl.backlog.as_mut() else {
        return;
    };
    backlog.append(bytes);
    srv.repl.offset += bytes.len() as u64;
    if srv.repl.replicas.is_empty() {
        return;
    }
    let now = srv.clock.now();
    let limits = srv.cfg.obuf_limits;
    let ids: Vec<ClientId> = srv.repl.replicas.iter().copied().collect();
    for id in ids {
        if let Some(c) = srv.clients.get_mut(&id) {
            stream_to(c, bytes, &limits, now);
        }
    }
}

/// Give stream bytes to one replica, according to its state.
pub fn stream_to(c: &mut Client, bytes: &[u8], limits: &[BufferLimit; 3], now: Instant) {
    if !c.has(cflags::REPLICA) || c.has(cflags::CLOSE_ASAP) {
        return;
    }
    let Some(r) = c.replica.as_mut() else { return };
    let used = match r.state {
        // Its snapshot is not taken yet: these bytes will be in it.
        RState::WaitBgsaveStart => return,
        RState::Online if !r.start_stream_on_ack => {
            c.out.raw(bytes);
            c.out_peak = c.out_peak.max(c.out.len());
            c.notify.notify_one();
            c.out.len()
        }
        _ => {
            r.pending.extend_from_slice(bytes);
            r.pending.len() + c.out.len()
        }
    };
    check_output_limits(c, used, limits, now);
}
