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
    if std::mem::take(&mut srv.repl.acks_changed) {
        master::refresh_good_replicas(srv);
        master::serve_waits(srv);
        failover::update(srv);
        // Replies held for their writes' acknowledgement may leave now.
        for id in srv.repl.gated.iter() {
            if let Some(c) = srv.clients.get(id) {
                c.notify.notify_one();
            }
        }
    }
    crate::persist::aof::flush(srv);
}
