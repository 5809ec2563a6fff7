//! The one way back into the pipeline for commands that do not arrive from their client's
//! connection now: commands replayed from the AOF and the master's stream ([`replay`],
//! which the runtime hands to the loader and the replica link as `shared::Pipeline`),
//! blocked clients served when their keys get data ([`serve_ready_keys`]) or when their
//! time runs out ([`timed_out`]), and clients held by CLIENT PAUSE or FAILOVER run again
//! when the pause ends ([`resume`]). Each runs its command through `exec` as if it had just
//! arrived, as its own execution unit.

use bytes::Bytes;
use picket_common::resp::ReplyBuf;

use super::exec::{call, process};
use crate::client::{cflags, Client, ClientId};
use crate::ctx::Flow;
use crate::replication::master::count_acks;
use crate::server::Server;

/// Run a replayed command (the AOF at start-up, the master's stream on a replica) through
/// the whole pipeline, as the client `client`.
pub fn replay(srv: &mut Server, client: &mut Client, out: &mut ReplyBuf, args: &[Bytes]) -> Flow {
    process(srv, client, out, args)
}

/// Whether `args` names a command of this server (its renames applied), as the AOF loader
/// checks before it replays one.
pub fn resolves(srv: &Server, args: &[Bytes]) -> bool {
    super::resolve_renamed(&srv.config.renames, args, true).is_ok()
}

/// The pipeline's entry as the runtime hands it to the code below the command layer.
pub const PIPELINE: crate::shared::Pipeline = crate::shared::Pipeline { replay, resolves };

/// The reply a blocked client gets when its time-out passes or CLIENT UNBLOCK ... TIMEOUT
/// ends the wait: a null array, as Redis 7.0 for lists and sorted sets.
pub fn reply_timed_out(srv: &mut Server, client: &Client, out: &mut ReplyBuf) {
    // WAIT answers with the replicas that acknowledged so far.
    match client.blocked.as_ref().and_then(|b| b.wait) {
        Some((offset, _)) => out.int(count_acks(srv, offset) as i64),
        None => out.null_array(),
    }
}

/// End a client's wait because its deadline passed (called by its connection task).
pub fn timed_out(srv: &mut Server, client: &mut Client, out: &mut ReplyBuf) {
    if client.blocked.is_none() {
        return;
    }
    reply_timed_out(srv, client, out);
    crate::blocking::unblock(srv, client);
}

/// Serve the clients waiting for keys that became ready, in the order they blocked, until no
/// ready key is left (serving one may make another ready, e.g. BLMOVE).
pub fn serve_ready_keys(srv: &mut Server) {
    while !srv.keyspace.ready_keys.is_empty() {
        let ready = std::mem::take(&mut srv.keyspace.ready_keys);
        for (db, key) in ready {
            let waiters: Vec<ClientId> = match srv.keyspace.blocking.get(&(db, key.clone())) {
                Some(q) => q.iter().copied().collect(),
                None => continue,
            };
            for id in waiters {
                let found = srv.keyspace.dbs[db].get(&key).map(|e| e.val.type_name());
                let Some(mut client) = srv.clients.remove(&id) else {
                    continue;
                };
                let group_wait = client
                    .blocked
                    .as_ref()
                    .is_some_and(|b| b.spec.name == "xreadgroup" && !b.postponed);
                if group_wait && found != Some("stream") {
                    // The stream an XREADGROUP waits on is gone (Redis 7.0's
                    // `unblockDeletedStreamReadgroupClients`).
                    client
                        .out
                        .error("UNBLOCKED the stream key no longer exists");
                    crate::blocking::unblock(srv, &mut client);
                    client.notify.notify_one();
                } else if found
                    .is_some_and(|f| client.blocked.as_ref().is_some_and(|b| b.want == f))
                {
                    srv.call.serving_key = Some(key.clone());
                    reexecute(srv, &mut client);
                    srv.call.serving_key = None;
                }
                srv.clients.insert(id, client);
            }
        }
    }
}

/// Run a blocked client's command again, as its own execution unit, with the reply going
/// to its output.
fn reexecute(srv: &mut Server, client: &mut Client) {
    let Some(b) = client.blocked.as_ref() else {
        return;
    };
    let (spec, args) = (b.spec, b.args.clone());
    let mut out = std::mem::take(&mut client.out);
    let saved_db = client.db;
    client.db = b.db;
    srv.clients.start_running(client);
    srv.call.reprocessing = true;
    srv.call.reblocked = false;
    srv.call.clock_hint = None;
    srv.propagator.begin_unit();
    // Redis 7.0 propagates what a served BLPOP/BRPOP/BLMOVE/BRPOPLPUSH did without counting
    // it as a change (`serveClientBlockedOnList`); the multi-pops count their elements.
    let dirty = srv.dirty;
    call(srv, client, &mut out, spec, &args);
    if matches!(spec.name, "blpop" | "brpop" | "blmove" | "brpoplpush") {
        srv.dirty = dirty;
    }
    srv.propagator.end_unit();
    // Its effects go to the stream now, so the offset its reply depends on is known (WAIT,
    // strict failover safety).
    crate::replication::feed(srv);
    client.woff = srv.repl.offset;
    srv.call.reprocessing = false;
    if srv.tracking.has_pending() {
        srv.with_tracking(|t, sink| t.flush_pending(sink));
    }
    if srv.clients.finish_running() {
        client.flags |= cflags::DIRTY_CAS;
    }
    if !srv.call.reblocked {
        crate::blocking::unblock(srv, client);
        client.served_write = Some(client.woff);
    }
    client.db = saved_db;
    srv.clients.write_pushes(&mut out);
    client.out = out;
    client.notify.notify_one();
}

/// The cron's part: end the pauses whose time is over and run the held clients.
pub fn pause_cron(srv: &mut Server) {
    if srv.pauses.expire(srv.now_ms) {
        resume(srv);
    }
}

/// After a command: if a pause ended or eased meanwhile, run the held clients.
pub fn resume_if_pending(srv: &mut Server) {
    if srv.pauses.resume_pending && !srv.pauses.resuming {
        resume(srv);
    }
}

/// Process the held clients' commands again, in the order they were held, each with its
/// full checks (a command still paused is held again, at the back).
pub fn resume(srv: &mut Server) {
    srv.pauses.resuming = true;
    while std::mem::take(&mut srv.pauses.resume_pending) {
        let held = std::mem::take(&mut srv.pauses.held);
        for id in held {
            let Some(mut client) = srv.clients.remove(&id) else {
                continue;
            };
            let Some(b) = client.blocked.take_if(|b| b.postponed) else {
                srv.clients.insert(id, client);
                continue;
            };
            client.flags &= !cflags::BLOCKED;
            let mut out = std::mem::take(&mut client.out);
            srv.call.clock_hint = None;
            let flow = process(srv, &mut client, &mut out, &b.args);
            if flow == crate::ctx::Flow::Close {
                client.flags |= cflags::CLOSE_AFTER_REPLY;
            }
            client.out = out;
            client.notify.notify_one();
            srv.clients.insert(id, client);
        }
    }
    srv.pauses.resuming = false;
}
