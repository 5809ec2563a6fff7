//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET.

use bytes::Bytes;
use picket_common::resp::Proto;

use super::args::{is, parse_i64};
use super::{CmdError, CmdResult, Ctx};
use crate::client::cflags;

/// PING [message]
pub fn ping(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 2 {
        return Err(ctx.arity_error());
    }
    if ctx.client.in_pubsub_context() {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(ctx.args.get(1).map(|b| &b[..]).unwrap_or(b""));
    } else if let Some(msg) = ctx.args.get(1) {
        ctx.out.bulk(msg);
    } else {
        ctx.out.simple("PONG");
    }
    Ok(())
}

/// ECHO message
pub fn echo(ctx: &mut Ctx) -> CmdResult {
    ctx.out.bulk(&ctx.args[1]);
    Ok(())
}

/// QUIT: reply OK, then close.
pub fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.out.ok();
    ctx.client.flags |= cflags::CLOSE_AFTER_REPLY;
    Ok(())
}

/// Redis's `ACLAuthenticateUser`: on success the connection is authenticated as `user`;
/// a failure is logged (ACL LOG, reason `auth`).
fn authenticate(ctx: &mut Ctx, user: &Bytes, pass: &[u8]) -> bool {
    if ctx.srv.acl.check_credentials(user, pass) {
        ctx.client.authenticated = true;
        ctx.client.user = user.clone();
        return true;
    }
    let context = if ctx.client.in_multi() {
        crate::acl::Context::Multi
    } else {
        crate::acl::Context::Toplevel
    };
    let object = ctx.args[0].to_vec();
    super::acl_cmd::add_log(
        ctx.srv,
        ctx.client,
        crate::acl::Denied::Auth,
        context,
        object,
        user.to_vec(),
    );
    false
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let (user, pass): (Bytes, Bytes) = if ctx.args.len() == 2 {
        if ctx.srv.acl.default_user().is_none_or(|u| u.nopass) {
            return Err(CmdError::err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
        }
        (Bytes::from_static(b"default"), ctx.args[1].clone())
    } else {
        (ctx.args[1].clone(), ctx.args[2].clone())
    };
    if authenticate(ctx, &user, &pass) {
        ctx.out.ok();
        Ok(())
    } else {
        tracing::debug!(client = ctx.client.id, "AUTH failed");
        Err(CmdError::Reply(WRONGPASS.into()))
    }
}

/// Validate a client name as Redis's `clientSetName`.
pub fn valid_client_name(name: &[u8]) -> Result<(), CmdError> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx) -> CmdResult {
    let mut ver: Option<i64> = None;
    if ctx.args.len() >= 2 {
        let v = parse_i64(&ctx.args[1])
            .ok_or_else(|| CmdError::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::code("NOPROTO", "unsupported protocol version"));
        }
        ver = Some(v);
    }
    // Redis 7.0 applies AUTH and SETNAME as it reads them: an option that fails stops the
    // command, but what came before it stays done (even the name of an unauthenticated
    // client).
    let mut j = 2;
    while j < ctx.args.len() {
        let more = ctx.args.len() - 1 - j;
        let opt = &ctx.args[j];
        if is(opt, "auth") && more >= 2 {
            let (user, pass) = (ctx.args[j + 1].clone(), ctx.args[j + 2].clone());
            if !authenticate(ctx, &user, &pass) {
                return Err(CmdError::Reply(WRONGPASS.into()));
            }
            j += 3;
        } else if is(opt, "setname") && more >= 1 {
            let n: Bytes = ctx.args[j + 1].clone();
            valid_client_name(&n)?;
            ctx.client.name = if n.is_empty() { None } else { Some(n) };
            j += 2;
        } else {
            return Err(CmdError::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if ctx.srv.requires_auth() && !ctx.client.authenticated {
        return Err(CmdError::code("NOAUTH", "HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(v) = ver {
        let proto = if v == 3 { Proto::Resp3 } else { Proto::Resp2 };
        ctx.client.proto = proto;
        ctx.out.proto = proto;
    }
    ctx.out.map(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(crate::REDIS_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.int(ctx.client.proto.number());
    ctx.out.bulk(b"id");
    ctx.out.int(ctx.client.id as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(b"standalone");
    ctx.out.bulk(b"role");
    ctx.out.bulk(b"master");
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
    Ok(())
}

/// SELECT index
pub fn select(ctx: &mut Ctx) -> CmdResult {
    let id = parse_i64(&ctx.args[1]).ok_or(CmdError::NotInteger)?;
    if id < 0 || id as usize >= ctx.srv.keyspace.dbs.len() {
        return Err(CmdError::DbIndex);
    }
    ctx.client.db = id as usize;
    ctx.out.ok();
    Ok(())
}

/// RESET: back to a fresh connection's state.
pub fn reset(ctx: &mut Ctx) -> CmdResult {
    super::multi::discard_transaction(ctx.client);
    super::multi::unwatch_all(ctx.srv, ctx.client);
    for kind in super::pubsub::Kind::ALL {
        super::pubsub::unsubscribe_all(ctx.srv, ctx.client, kind);
    }
    ctx.srv.clients.monitors.remove(&ctx.client.id);
    ctx.srv.tracking.disable(ctx.client.id);
    // As Redis's `clearClientConnectionState`: CLIENT NO-EVICT survives a RESET.
    ctx.client.flags &= !(cflags::MONITOR
        | cflags::REPLICA
        | cflags::REPLY_OFF
        | cflags::REPLY_SKIP
        | cflags::REPLY_SKIP_NEXT);
    ctx.client.db = 0;
    ctx.client.proto = Proto::Resp2;
    ctx.out.proto = Proto::Resp2;
    ctx.client.name = None;
    // As Redis's `clearClientConnectionState`: back to the default user.
    ctx.client.user = Bytes::from_static(b"default");
    ctx.client.authenticated = !ctx.srv.requires_auth();
    ctx.out.simple("RESET");
    Ok(())
}
