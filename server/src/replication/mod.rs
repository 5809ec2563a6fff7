//! Replication, PSYNC2 style, wire-compatible with Redis 7.0 (see
//! `../shared/reference/redis-ha.md` §1).
//!
//! - [`Repl`] is the replication state of the server: replication ids and offsets, the
//!   backlog, the replicas attached to this server, and (on a replica) the link to its master.
//! - [`feed`] takes the effects the commands produced (the propagator's stream) to the AOF
//!   buffer and, on a master, to the backlog and every replica; [`feed_stream`] adds bytes that
//!   only replicas see (in-band PING, `REPLCONF GETACK`).
//! - `master` serves replicas: SYNC/PSYNC, full synchronization from a snapshot that does not
//!   stop writes, REPLCONF, WAIT, min-replicas, the replication cron.
//! - `psync` decides how a SYNC/PSYNC is answered and `wait` accounts the replicas' ACKs
//!   for WAIT and min-replicas: pure engines the master side calls.
//! - `link` is the replica's link with its master as a sans-IO state machine (handshake,
//!   PSYNC reply, repl-timeout, ACKs); `replica` is the link task that drives it over the
//!   network, loads the RDB and applies the command stream;
//!   `fullsync` receives and loads a full synchronization's RDB in bounded memory
//!   (through a temp file, or parsed from the socket), `payload` its pure parts.

pub mod backlog;
pub mod config;
pub mod failover;
pub mod fence;
pub mod fullsync;
pub mod gate;
pub mod handshake;
pub mod link;
pub mod master;
pub mod payload;
pub mod psync;
pub mod replica;
pub mod state;
pub mod stream;
pub mod wait;

pub use state::{LinkState, MasterLink, Repl, NO_REPLID};
pub use stream::{feed, feed_stream};

use bytes::{Bytes, BytesMut};

use crate::server::Server;

/// After a batch of commands (and each cron tick): effects to the AOF file, GETACK to the
/// replicas when a WAIT asks for it, WAITs that got their ACKs answered.
pub fn after_batch(srv: &mut Server) {
    feed(srv);
    let acks_changed = std::mem::take(&mut srv.repl.acks_changed);
    if acks_changed {
        // The round trip of the last gated GETACK is over (or another ACK came first).
        srv.repl.gate_ack_in_flight = None;
    }
    // Gated writes (strict mode) ask for one GETACK per replica round trip: the writes of
    // every client that arrive meanwhile wait for the next one, released together (a group
    // commit) instead of one GETACK, ACK and wake-up round per client batch. A GETACK whose
    // ACK is lost is sent again after a tenth of the lease.
    if srv.repl.gate_ack {
        let now = srv.clock.now();
        let retry = std::time::Duration::from_millis((srv.cfg.repl.lease_ms / 10).max(1));
        let in_flight = srv
            .repl
            .gate_ack_in_flight
            .is_some_and(|t| now.saturating_duration_since(t) < retry);
        if !in_flight {
            srv.repl.gate_ack = false;
            srv.repl.gate_ack_in_flight = Some(now);
            srv.repl.get_ack = true;
        }
    }
    if srv.repl.get_ack {
        srv.repl.get_ack = false;
        let mut b = BytesMut::new();
        picket_common::resp::append_command(
            &mut b,
            &[
                Bytes::from_static(b"REPLCONF"),
                Bytes::from_static(b"GETACK"),
                Bytes::from_static(b"*"),
            ],
        );
        feed_stream(srv, &b);
    }
    if acks_changed {
        master::refresh_good_replicas(srv);
        master::serve_waits(srv);
        failover::update(srv);
        // Replies held for their writes' acknowledgement may leave now: wake the clients
        // whose oldest held write is acknowledged (or out of time), not all of them.
        // (As `conn::gate_output` releases: everything once not strict, or a replica.)
        let need = srv
            .cfg
            .repl
            .strict_acks()
            .filter(|_| !srv.repl.is_replica());
        let now = srv.clock.now();
        for id in srv.repl.gated.iter() {
            if let Some(c) = srv.clients.get(id) {
                let ready = c.gate.waiting_for().is_none_or(|(offset, deadline)| {
                    deadline <= now || need.is_none_or(|n| srv.repl.acks.count_acked(offset) >= n)
                });
                if ready {
                    c.notify.notify_one();
                }
            }
        }
    }
    crate::persist::aof::flush(srv);
}
