//! CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO: client-side caching's commands, as
//! Redis 7.0's `clientCommand` (the state and the invalidations are `crate::tracking`'s).

use bytes::Bytes;
use rand::RngExt;

use super::args::{is, parse_i64};
use super::{CmdError, CmdResult, Ctx};
use crate::client::ClientId;
use crate::tracking::{check_client_prefixes, tflags, PrefixClash};

/// CLIENT TRACKING (ON|OFF) [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]
pub fn tracking(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let mut redir: i64 = 0;
    let mut options = 0u32;
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut j = 3;
    while j < a.len() {
        let more = a.len() - 1 - j > 0;
        if is(&a[j], "redirect") && more {
            j += 1;
            if redir != 0 {
                return Err(CmdError::err(
                    "A client can only redirect to a single other client",
                ));
            }
            redir = parse_i64(&a[j]).ok_or(CmdError::NotInteger)?;
            // The client must exist now (it may go away later: the redirection breaks).
            let exists = ClientId::try_from(redir)
                .is_ok_and(|id| id == ctx.client.id || ctx.srv.clients.exists(id));
            if !exists {
                return Err(CmdError::err(
                    "The client ID you want redirect to does not exist",
                ));
            }
        } else if is(&a[j], "bcast") {
            options |= tflags::BCAST;
        } else if is(&a[j], "optin") {
            options |= tflags::OPTIN;
        } else if is(&a[j], "optout") {
            options |= tflags::OPTOUT;
        } else if is(&a[j], "noloop") {
            options |= tflags::NOLOOP;
        } else if is(&a[j], "prefix") && more {
            j += 1;
            prefixes.push(a[j].clone());
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let id = ctx.client.id;
    if is(&a[2], "on") {
        let cur = ctx.srv.tracking.flags(id);
        if options & tflags::BCAST == 0 && !prefixes.is_empty() {
            return Err(CmdError::err(
                "PREFIX option requires BCAST mode to be enabled",
            ));
        }
        if cur & tflags::ON != 0 && (cur & tflags::BCAST != 0) != (options & tflags::BCAST != 0) {
            return Err(CmdError::err("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if options & tflags::BCAST != 0 && options & (tflags::OPTIN | tflags::OPTOUT) != 0 {
            return Err(CmdError::err(
                "OPTIN and OPTOUT are not compatible with BCAST",
            ));
        }
        if options & tflags::OPTIN != 0 && options & tflags::OPTOUT != 0 {
            return Err(CmdError::err(
                "You can't specify both OPTIN mode and OPTOUT mode",
            ));
        }
        if options & tflags::OPTIN != 0 && cur & tflags::OPTOUT != 0
            || options & tflags::OPTOUT != 0 && cur & tflags::OPTIN != 0
        {
            return Err(CmdError::err("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if options & tflags::BCAST != 0 {
            match check_client_prefixes(ctx.srv.tracking.state(id), &prefixes) {
                Ok(()) => {}
                Err(e @ PrefixClash::Existing(..))
                | Err(e @ PrefixClash::Provided { i: 0, .. }) => {
                    return Err(CmdError::Reply(e.message()));
                }
                // Redis 7.0 replies with the error, then enables tracking and replies +OK
                // as well (its check returns the prefix's index as "success").
                Err(e) => {
                    let msg = e.message();
                    ctx.srv.stats.count_error(&msg);
                    ctx.out.error(&msg);
                }
            }
        }
        if !ctx.srv.tracking.active() {
            let seed = ctx.srv.rng.random();
            ctx.srv.tracking.create(seed);
        }
        ctx.srv
            .tracking
            .enable(id, redir as ClientId, options, &prefixes);
    } else if is(&a[2], "off") {
        ctx.srv.tracking.disable(id);
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING (YES|NO): whether the next command's reads are tracked, in OPTIN and
/// OPTOUT modes.
pub fn caching(ctx: &mut Ctx) -> CmdResult {
    let id = ctx.client.id;
    let f = ctx.srv.tracking.flags(id);
    if f & tflags::ON == 0 {
        return Err(CmdError::err("CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    }
    let opt = &ctx.args[2];
    if is(opt, "yes") {
        if f & tflags::OPTIN == 0 {
            return Err(CmdError::err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(opt, "no") {
        if f & tflags::OPTOUT == 0 {
            return Err(CmdError::err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.srv.tracking.set_caching(id);
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR: the client invalidations are redirected to (0: none), -1 when tracking
/// is off.
pub fn getredir(ctx: &mut Ctx) -> CmdResult {
    let n = match ctx.srv.tracking.state(ctx.client.id) {
        Some(t) if t.has(tflags::ON) => t.redirect as i64,
        _ => -1,
    };
    ctx.out.int(n);
    Ok(())
}

/// CLIENT TRACKINGINFO: flags (a set), redirect, prefixes.
pub fn trackinginfo(ctx: &mut Ctx) -> CmdResult {
    let st = ctx
        .srv
        .tracking
        .state(ctx.client.id)
        .cloned()
        .unwrap_or_default();
    let on = st.has(tflags::ON);
    let mut flags = vec![if on { "on" } else { "off" }];
    if st.has(tflags::BCAST) {
        flags.push("bcast");
    }
    if st.has(tflags::OPTIN) {
        flags.push("optin");
        if st.has(tflags::CACHING) {
            flags.push("caching-yes");
        }
    }
    if st.has(tflags::OPTOUT) {
        flags.push("optout");
        if st.has(tflags::CACHING) {
            flags.push("caching-no");
        }
    }
    if st.has(tflags::NOLOOP) {
        flags.push("noloop");
    }
    if st.has(tflags::BROKEN_REDIR) {
        flags.push("broken_redirect");
    }
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(if on { st.redirect as i64 } else { -1 });
    out.bulk(b"prefixes");
    out.array(st.prefixes.len());
    for p in &st.prefixes {
        out.bulk(p);
    }
    Ok(())
}
