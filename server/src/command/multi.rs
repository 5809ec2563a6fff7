//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

use super::exec::call;
use super::{CmdError, CmdResult, Ctx};
use crate::client::{cflags, Client};
use crate::db::Watcher;
use crate::server::Server;

pub fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.in_multi() {
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    ctx.client.flags |= cflags::MULTI;
    ctx.out.ok();
    Ok(())
}

/// Forget the queued commands and the transaction flags.
pub fn discard_transaction(client: &mut Client) {
    client.multi.clear();
    client.multi_mem = 0;
    client.flags &= !(cflags::MULTI | cflags::DIRTY_CAS | cflags::DIRTY_EXEC);
}

pub fn discard(ctx: &mut Ctx) -> CmdResult {
    if !ctx.client.in_multi() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    discard_transaction(ctx.client);
    unwatch_all(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Whether a key watched while it still existed has expired since (Redis's
/// `isWatchedKeyExpired`).
fn watched_key_expired(srv: &Server, client: &Client) -> bool {
    client.watched.iter().any(|(db, key)| {
        let expired_when_watched = srv.keyspace.dbs[*db]
            .watched
            .get(key)
            .and_then(|ws| ws.iter().find(|w| w.client == client.id))
            .is_some_and(|w| w.expired);
        !expired_when_watched && srv.keyspace.dbs[*db].is_expired(key, srv.now_ms)
    })
}

pub fn exec(ctx: &mut Ctx) -> CmdResult {
    if !ctx.client.in_multi() {
        return Err(CmdError::err("EXEC without MULTI"));
    }
    if watched_key_expired(ctx.srv, ctx.client) {
        ctx.client.flags |= cflags::DIRTY_CAS;
    }
    if ctx.client.has(cflags::DIRTY_EXEC) {
        discard_transaction(ctx.client);
        unwatch_all(ctx.srv, ctx.client);
        return Err(CmdError::code(
            "EXECABORT",
            "Transaction discarded because of previous errors.",
        ));
    }
    if ctx.client.has(cflags::DIRTY_CAS) {
        discard_transaction(ctx.client);
        unwatch_all(ctx.srv, ctx.client);
        ctx.out.null_array();
        return Ok(());
    }
    unwatch_all(ctx.srv, ctx.client);
    // The clock stays as it was when EXEC started: the transaction sees one time, as
    // Redis's nested `call()` keeps `server.mstime`.
    let queued = std::mem::take(&mut ctx.client.multi);
    discard_transaction(ctx.client);
    ctx.out.array(queued.len());
    let deny_before = ctx.client.flags & cflags::DENY_BLOCKING;
    ctx.client.flags |= cflags::DENY_BLOCKING;
    for q in &queued {
        ctx.client.last_cmd = q.spec.full_name;
        // ACL rules may have changed since the command was queued (Redis re-checks).
        if let Err(denied) = super::acl_cmd::check_client(
            ctx.srv,
            ctx.client,
            q.spec,
            &q.args,
            crate::acl::Context::Multi,
        ) {
            let reason = match denied {
                crate::acl::Denied::Command => "no permission to execute the command or subcommand",
                crate::acl::Denied::Key => "no permission to touch the specified keys",
                crate::acl::Denied::Channel => {
                    "no permission to access one of the channels used as arguments"
                }
                crate::acl::Denied::Auth => "no permission",
            };
            ctx.out.error(&format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"));
            continue;
        }
        // A command that panicked ends the transaction there (its client is closed).
        if call(ctx.srv, ctx.client, ctx.out, q.spec, &q.args) == super::exec::Flow::Close {
            break;
        }
    }
    ctx.client.flags = (ctx.client.flags & !cflags::DENY_BLOCKING) | deny_before;
    ctx.client.last_cmd = "exec";
    // The queued commands propagated their own effects.
    ctx.propagate = super::exec::Propagate::Nothing;
    Ok(())
}

pub fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.in_multi() {
        return Err(CmdError::err("WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    for key in &ctx.args[1..] {
        if ctx.client.watched.iter().any(|(d, k)| *d == db && k == key) {
            continue;
        }
        let expired = ctx.srv.keyspace.dbs[db].is_expired(key, ctx.srv.now_ms);
        ctx.client.watched.push((db, key.clone()));
        ctx.srv.keyspace.dbs[db]
            .watched
            .entry(key.clone())
            .or_default()
            .push(Watcher {
                client: ctx.client.id,
                expired,
            });
    }
    ctx.out.ok();
    Ok(())
}

/// Drop every WATCH of a client.
pub fn unwatch_all(srv: &mut Server, client: &mut Client) {
    for (db, key) in client.watched.drain(..) {
        let d = &mut srv.keyspace.dbs[db];
        if let Some(w) = d.watched.get_mut(&key) {
            w.retain(|w| w.client != client.id);
            if w.is_empty() {
                d.watched.remove(&key);
            }
        }
    }
    client.flags &= !cflags::DIRTY_CAS;
}

pub fn unwatch(ctx: &mut Ctx) -> CmdResult {
    unwatch_all(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}
