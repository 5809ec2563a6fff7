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

/// A kind of subscription: a channel, a pattern, or a shard channel (SSUBSCRIBE).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Channel, Kind::Pattern, Kind::Shard];

    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }

    /// The count a confirmation carries: channels and patterns together, shard channels
    /// apart (Redis's `subscriptionCount` of each pub/sub type).
    fn count(self, client: &Client) -> usize {
        match self {
            Kind::Channel | Kind::Pattern => client.subscriptions(),
            Kind::Shard => client.shard_channels.len(),
        }
    }
}

fn unsubscribe_one(srv: &mut Server, client: &mut Client, name: &Bytes, kind: Kind) {
    let was = match kind {
        Kind::Pattern => {
            let pos = client.patterns.iter().position(|p| p == name);
            pos.map(|i| client.patterns.remove(i)).is_some()
        }
        Kind::Channel => client.channels.remove(name),
        Kind::Shard => client.shard_channels.remove(name),
    };
    if was {
        let map = match kind {
            Kind::Pattern => &mut srv.pubsub.patterns,
            Kind::Channel => &mut srv.pubsub.channels,
            Kind::Shard => &mut srv.pubsub.shard_channels,
        };
        PubSub::unsubscribe(map, name, client.id);
    }
}

/// Unsubscribe from every channel (or pattern, or shard channel), with a confirmation for
/// each (a push, see [`push_to`]) when `confirm_to` is given. Used by (P|S)UNSUBSCRIBE
/// without arguments, RESET and disconnection.
pub fn unsubscribe_all_to(
    srv: &mut Server,
    client: &mut Client,
    kind: Kind,
    confirm_to: Option<&mut ReplyBuf>,
) {
    let mut out = confirm_to;
    let names: Vec<Bytes> = match kind {
        Kind::Pattern => client.patterns.to_vec(),
        Kind::Channel => client.channels.iter().cloned().collect(),
        Kind::Shard => client.shard_channels.iter().cloned().collect(),
    };
    let word = kind.unsubscribe_word();
    if names.is_empty() {
        if let Some(o) = out.as_deref_mut() {
            let count = kind.count(client);
            push_to(srv, client, Some(o), |o| confirm(o, word, None, count));
        }
        return;
    }
    for n in names {
        unsubscribe_one(srv, client, &n, kind);
        if let Some(o) = out.as_deref_mut() {
            let count = kind.count(client);
            push_to(srv, client, Some(o), |o| confirm(o, word, Some(&n), count));
        }
    }
}

/// Silent unsubscription from everything of one kind (RESET, disconnection).
pub fn unsubscribe_all(srv: &mut Server, client: &mut Client, kind: Kind) {
    unsubscribe_all_to(srv, client, kind, None);
}

fn unsubscribe_cmd(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    if ctx.args.len() == 1 {
        unsubscribe_all_to(ctx.srv, ctx.client, kind, Some(ctx.out));
        return Ok(());
    }
    let word = kind.unsubscribe_word();
    let args = ctx.args;
    for name in &args[1..] {
        unsubscribe_one(ctx.srv, ctx.client, name, kind);
        let n = kind.count(ctx.client);
        ctx.push(|o| confirm(o, word, Some(name), n));
    }
    Ok(())
}

pub fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_cmd(ctx, Kind::Channel)
}

pub fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_cmd(ctx, Kind::Pattern)
}

/// SSUBSCRIBE shardchannel [shardchannel ...]: outside a cluster, a channel namespace of
/// its own (Redis 7.0). Refused inside MULTI, unlike SUBSCRIBE, as Redis does.
pub fn ssubscribe(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.has(crate::client::cflags::DENY_BLOCKING) {
        return Err(super::CmdError::err(
            "SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    let args = ctx.args;
    for ch in &args[1..] {
        if ctx.client.shard_channels.insert(ch.clone()) {
            PubSub::subscribe(&mut ctx.srv.pubsub.shard_channels, ch, ctx.client.id);
        }
        let n = ctx.client.shard_channels.len();
        ctx.push(|o| confirm(o, b"ssubscribe", Some(ch), n));
    }
    Ok(())
}

/// SUNSUBSCRIBE [shardchannel ...]
pub fn sunsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_cmd(ctx, Kind::Shard)
}

/// SPUBLISH shardchannel message: to the shard channel's subscribers (no patterns); it
/// reaches the replicas as PUBLISH does.
pub fn spublish(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.data().spublish(&ctx.args[1], &ctx.args[2]);
    ctx.flush_pushes();
    ctx.out.int(n as i64);
    ctx.propagate = Propagate::ForceRepl;
    Ok(())
}

pub fn publish(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.data().publish(&ctx.args[1], &ctx.args[2]);
    ctx.flush_pushes();
    ctx.out.int(n as i64);
    ctx.propagate = Propagate::ForceRepl;
    Ok(())
}

fn channel_list(ctx: &mut Ctx, shard: bool) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(ctx.subcommand_syntax_error());
    }
    let pat = ctx.args.get(2);
    let map = if shard {
        &ctx.srv.pubsub.shard_channels
    } else {
        &ctx.srv.pubsub.channels
    };
    let names: Vec<&Bytes> = map
        .keys()
        .filter(|c| pat.is_none_or(|p| string_match(p, c, false)))
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx, shard: bool) -> CmdResult {
    let chans = &ctx.args[2..];
    ctx.out.array(chans.len() * 2);
    for c in chans {
        let map = if shard {
            &ctx.srv.pubsub.shard_channels
        } else {
            &ctx.srv.pubsub.channels
        };
        let n = map.get(c).map_or(0, |v| v.len());
        ctx.out.bulk(c);
        ctx.out.int(n as i64);
    }
    Ok(())
}

pub fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    channel_list(ctx, false)
}

pub fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    numsub(ctx, false)
}

pub fn pubsub_shardchannels(ctx: &mut Ctx) -> CmdResult {
    channel_list(ctx, true)
}

pub fn pubsub_shardnumsub(ctx: &mut Ctx) -> CmdResult {
    numsub(ctx, true)
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
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}
