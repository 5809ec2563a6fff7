//! CLIENT subcommands.

use bytes::Bytes;

use super::args::is;
use super::connection::valid_client_name;
use super::{CmdError, CmdResult, Ctx};
use crate::client::{cflags, Client, ClientId};

/// Write a HELP reply: the header, the lines, and the closing HELP entry (Redis's
/// `addReplyHelp`).
pub fn help_reply(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

/// Redis 7.0's text (the ID filters are not in Redis's help either).
pub fn help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}

pub fn id(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

pub fn setname(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.args[2].clone();
    valid_client_name(&name)?;
    ctx.client.name = if name.is_empty() { None } else { Some(name) };
    ctx.out.ok();
    Ok(())
}

pub fn getname(ctx: &mut Ctx) -> CmdResult {
    match &ctx.client.name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Parse a `TYPE` argument: normal, master, replica (or slave), pubsub.
fn client_type(arg: &[u8]) -> Result<&'static str, CmdError> {
    let t = String::from_utf8_lossy(arg).to_ascii_lowercase();
    match t.as_str() {
        "normal" => Ok("normal"),
        "master" => Ok("master"),
        "replica" | "slave" => Ok("replica"),
        "pubsub" => Ok("pubsub"),
        _ => Err(CmdError::err(format!(
            "Unknown client type '{}'",
            String::from_utf8_lossy(arg)
        ))),
    }
}

/// Visit every client (the calling one included) in id order.
fn for_each_client(ctx: &Ctx, mut f: impl FnMut(&Client)) {
    let me = ctx.client.id;
    let mut done_me = false;
    for (&id, c) in &ctx.srv.clients {
        if !done_me && id > me {
            f(ctx.client);
            done_me = true;
        }
        f(c);
    }
    if !done_me {
        f(ctx.client);
    }
}

/// CLIENT LIST [TYPE type] [ID id [id ...]]
pub fn list(ctx: &mut Ctx) -> CmdResult {
    let mut typ: Option<&str> = None;
    let a = ctx.args;
    let now = ctx.srv.clock.now();
    let mut text = String::new();
    if a.len() == 4 && is(&a[2], "type") {
        typ = Some(client_type(&a[3])?);
    } else if a.len() >= 4 && is(&a[2], "id") {
        // In the order asked, repeats included; ids of no client (0, -1 ...) are skipped.
        let mut ids = Vec::new();
        for x in &a[3..] {
            let n = super::args::parse_i64(x).ok_or_else(|| CmdError::err("Invalid client ID"))?;
            ids.push(n);
        }
        for n in ids {
            let Ok(id) = ClientId::try_from(n) else {
                continue;
            };
            let trk = ctx.srv.tracking.state(id);
            if id == ctx.client.id {
                text.push_str(&ctx.client.info_line_tracked(now, ctx.out.len(), trk));
                text.push('\n');
            } else if let Some(c) = ctx.srv.clients.get(&id) {
                text.push_str(&c.info_line_tracked(now, c.out.len(), trk));
                text.push('\n');
            }
        }
        ctx.out.verbatim("txt", text.as_bytes());
        return Ok(());
    } else if a.len() != 2 {
        return Err(CmdError::Syntax);
    }
    let (me, my_pending) = (ctx.client.id, ctx.out.len());
    for_each_client(ctx, |c| {
        if typ.is_some_and(|t| c.type_name() != t) {
            return;
        }
        let pending = if c.id == me { my_pending } else { c.out.len() };
        text.push_str(&c.info_line_tracked(now, pending, ctx.srv.tracking.state(c.id)));
        text.push('\n');
    });
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

pub fn info(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.srv.clock.now();
    let trk = ctx.srv.tracking.state(ctx.client.id);
    let mut line = ctx.client.info_line_tracked(now, ctx.out.len(), trk);
    line.push('\n');
    ctx.out.verbatim("txt", line.as_bytes());
    Ok(())
}

/// A filter of CLIENT KILL.
#[derive(Default)]
struct KillFilter {
    addr: Option<String>,
    laddr: Option<String>,
    id: Option<ClientId>,
    typ: Option<&'static str>,
    user: Option<Bytes>,
    skipme: bool,
}

impl KillFilter {
    fn matches(&self, c: &Client) -> bool {
        self.addr.as_ref().is_none_or(|a| c.addr.to_string() == *a)
            && self
                .laddr
                .as_ref()
                .is_none_or(|a| c.laddr.to_string() == *a)
            && self.id.is_none_or(|i| c.id == i)
            && self.typ.is_none_or(|t| c.type_name() == t)
            && self.user.as_ref().is_none_or(|u| c.user == *u)
    }
}

/// CLIENT KILL ip:port | CLIENT KILL <filter> <value> ...
pub fn kill(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let mut f = KillFilter {
        skipme: true,
        ..Default::default()
    };
    let old_form = a.len() == 3;
    if old_form {
        f.addr = Some(String::from_utf8_lossy(&a[2]).into_owned());
        f.skipme = false;
    } else if a.len() > 3 && (a.len() - 2).is_multiple_of(2) {
        let mut i = 2;
        while i < a.len() {
            let v = &a[i + 1];
            if is(&a[i], "id") {
                let n = super::args::parse_i64(v)
                    .filter(|&n| n > 0)
                    .ok_or_else(|| CmdError::err("client-id should be greater than 0"))?;
                f.id = Some(n as ClientId);
            } else if is(&a[i], "type") {
                f.typ = Some(client_type(v)?);
            } else if is(&a[i], "addr") {
                f.addr = Some(String::from_utf8_lossy(v).into_owned());
            } else if is(&a[i], "laddr") {
                f.laddr = Some(String::from_utf8_lossy(v).into_owned());
            } else if is(&a[i], "user") {
                if !ctx.srv.acl.users.contains_key(&v[..]) {
                    return Err(CmdError::err(format!(
                        "No such user '{}'",
                        String::from_utf8_lossy(v)
                    )));
                }
                f.user = Some(v.clone());
            } else if is(&a[i], "skipme") {
                f.skipme = if is(v, "yes") {
                    true
                } else if is(v, "no") {
                    false
                } else {
                    return Err(CmdError::Syntax);
                };
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
    } else {
        return Err(CmdError::Syntax);
    }

    let mut killed = 0;
    let ids: Vec<ClientId> = ctx
        .srv
        .clients
        .values()
        .filter(|c| f.matches(c))
        .map(|c| c.id)
        .collect();
    for id in ids {
        if let Some(c) = ctx.srv.clients.get_mut(&id) {
            c.close_asap("killed by CLIENT KILL");
            killed += 1;
        }
    }
    let kill_me = !f.skipme && f.matches(ctx.client);
    if kill_me {
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            return Err(CmdError::err("No such client"));
        }
        ctx.out.ok();
    } else {
        ctx.out.int(killed);
    }
    if kill_me {
        ctx.client.flags |= cflags::CLOSE_AFTER_REPLY;
    }
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP
pub fn reply(ctx: &mut Ctx) -> CmdResult {
    let mode = &ctx.args[2];
    if is(mode, "on") {
        ctx.client.flags &= !(cflags::REPLY_OFF | cflags::REPLY_SKIP | cflags::REPLY_SKIP_NEXT);
        ctx.out.ok();
    } else if is(mode, "off") {
        ctx.client.flags |= cflags::REPLY_OFF;
    } else if is(mode, "skip") {
        if !ctx.client.has(cflags::REPLY_OFF) {
            ctx.client.flags |= cflags::REPLY_SKIP_NEXT;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

/// CLIENT NO-EVICT ON|OFF
pub fn no_evict(ctx: &mut Ctx) -> CmdResult {
    let v = &ctx.args[2];
    if is(v, "on") {
        ctx.client.flags |= cflags::NO_EVICT;
    } else if is(v, "off") {
        ctx.client.flags &= !cflags::NO_EVICT;
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
pub fn unblock(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    if a.len() > 4 {
        return Err(ctx.subcommand_syntax_error());
    }
    let id = super::args::parse_i64(&a[2]).ok_or(CmdError::NotInteger)?;
    let with_error = match a.get(3) {
        None => false,
        Some(m) if is(m, "timeout") => false,
        Some(m) if is(m, "error") => true,
        Some(_) => {
            return Err(CmdError::err(
                "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let srv = &mut *ctx.srv;
    let unblocked = match srv.clients.remove(&(id as ClientId)) {
        Some(mut c) => {
            // A client held by a pause is not waiting for keys: it is not unblocked (Redis
            // 7.0.15 crashes here; later versions answer 0).
            let was = c.blocked.as_ref().is_some_and(|b| !b.postponed);
            if was {
                if with_error {
                    c.out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                } else {
                    let mut out = std::mem::take(&mut c.out);
                    super::reentry::reply_timed_out(srv, &c, &mut out);
                    c.out = out;
                }
                crate::blocking::unblock(srv, &mut c);
                c.notify.notify_one();
            }
            srv.clients.insert(c.id, c);
            was
        }
        None => false,
    };
    ctx.out.int(unblocked as i64);
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]
pub fn pause(ctx: &mut Ctx) -> CmdResult {
    crate::pause::client_pause(ctx)
}

/// CLIENT UNPAUSE
pub fn unpause(ctx: &mut Ctx) -> CmdResult {
    crate::pause::client_unpause(ctx)
}
