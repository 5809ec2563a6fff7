//! Pub/Sub commands. Confirmations and messages are push frames in RESP3 and arrays in RESP2.

use bytes::Bytes;
use picket_common::glob::string_match;
use picket_common::resp::ReplyBuf;

use super::client_cmd::help_reply;
use super::exec::{push_to, Propagate};
use super::{CmdResult, Ctx};
use crate::client::Client;
use crate::pubsub::PubSub;
use crate::server::Server;

fn confirm(out: &mut ReplyBuf, kind: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(kind);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

pub fn subscribe(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    for ch in &args[1..] {
        if ctx.client.channels.insert(ch.clone()) {
            PubSub::subscribe(&mut ctx.srv.pubsub.channels, ch, ctx.client.id);
        }
        let n = ctx.client.subscriptions();
        ctx.push(|o| confirm(o, b"subscribe", Some(ch), n));
    }
    Ok(())
}

pub fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    for pat in &args[1..] {
        if !ctx.client.patterns.contains(pat) {
            ctx.client.patterns.push(pat.clone());
            PubSub::subscribe(&mut ctx.srv.pubsub.patterns, pat, ctx.client.id);
        }
        let n = ctx.client.subscriptions();
        ctx.push(|o| confirm(o, b"psubscribe", Some(pat), n));
    }
    Ok(())
}

fn unsubscribe_one(srv: &mut Server, client: &mut Client, name: &Bytes, pattern: bool) {
    let was = if pattern {
        let pos = client.patterns.iter().position(|p| p == name);
        pos.map(|i| client.patterns.remove(i)).is_some()
    } else {
        client.channels.remove(name)
    };
    if was {
        let map = if pattern {
            &mut srv.pubsub.patterns
        } else {
            &mut srv.pubsub.channels
        };
        PubSub::unsubscribe(map, name, client.id);
    }
}

/// Unsubscribe from every channel (or pattern), with a confirmation for each (a push, see
/// [`push_to`]) when `confirm_to` is given. Used by UNSUBSCRIBE without arguments, RESET and
/// disconnection.
pub fn unsubscribe_all_to(
    srv: &mut Server,
    client: &mut Client,
    pattern: bool,
    confirm_to: Option<&mut ReplyBuf>,
) {
    let mut out = confirm_to;
    let names: Vec<Bytes> = if pattern {
        client.patterns.to_vec()
    } else {
        client.channels.iter().cloned().collect()
    };
    let kind: &[u8] = if pattern {
        b"punsubscribe"
    } else {
        b"unsubscribe"
    };
    if names.is_empty() {
        if let Some(o) = out.as_deref_mut() {
            let count = client.subscriptions();
            push_to(srv, client, Some(o), |o| confirm(o, kind, None, count));
        }
        return;
    }
    for n in names {
        unsubscribe_one(srv, client, &n, pattern);
        if let Some(o) = out.as_deref_mut() {
            let count = client.subscriptions();
            push_to(srv, client, Some(o), |o| confirm(o, kind, Some(&n), count));
        }
    }
}

/// Silent unsubscription from everything of one kind (RESET, disconnection).
pub fn unsubscribe_all(srv: &mut Server, client: &mut Client, pattern: bool) {
    unsubscribe_all_to(srv, client, pattern, None);
}

fn unsubscribe_cmd(ctx: &mut Ctx, pattern: bool) -> CmdResult {
    if ctx.args.len() == 1 {
        unsubscribe_all_to(ctx.srv, ctx.client, pattern, Some(ctx.out));
        return Ok(());
    }
    let kind: &[u8] = if pattern {
        b"punsubscribe"
    } else {
        b"unsubscribe"
    };
    let args = ctx.args;
    for name in &args[1..] {
        unsubscribe_one(ctx.srv, ctx.client, name, pattern);
        let n = ctx.client.subscriptions();
        ctx.push(|o| confirm(o, kind, Some(name), n));
    }
    Ok(())
}

pub fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_cmd(ctx, false)
}

pub fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_cmd(ctx, true)
}

pub fn publish(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.data().publish(&ctx.args[1], &ctx.args[2]);
    ctx.flush_pushes();
    ctx.out.int(n as i64);
    ctx.propagate = Propagate::ForceRepl;
    Ok(())
}

pub fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(ctx.subcommand_syntax_error());
    }
    let pat = ctx.args.get(2);
    let names: Vec<&Bytes> = ctx
        .srv
        .pubsub
        .channels
        .keys()
        .filter(|c| pat.is_none_or(|p| string_match(p, c, false)))
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n);
    }
    Ok(())
}

pub fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    let chans = &ctx.args[2..];
    ctx.out.array(chans.len() * 2);
    for c in chans {
        let n = ctx.srv.pubsub.channels.get(c).map_or(0, |v| v.len());
        ctx.out.bulk(c);
        ctx.out.int(n as i64);
    }
    Ok(())
}

pub fn pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.srv.pubsub.patterns.len() as i64);
    Ok(())
}

pub fn pubsub_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
        ],
    );
    Ok(())
}
