//! The commands on a group's pending entries list, as Redis 7.0's `t_stream.c`: XACK,
//! XPENDING, XCLAIM and XAUTOCLAIM. XCLAIM and XAUTOCLAIM propagate each change as the
//! idempotent XCLAIM of `stream_groups`; an entry no longer in the stream leaves the PEL
//! (XAUTOCLAIM lists those IDs in its third reply element).

use super::args::kw;
use super::stream_groups::{
    drop_nack, fmt_arg, id_arg, nogroup_key, setid_prop, touch_consumer, vanished, xclaim_prop,
};
use super::streams::{parse_strict_id, read_stream, reply_entry, stream_mut};
use super::{CmdError, CmdResult, Ctx};
use crate::db::stream::StreamId;
use crate::notify;

// ------------------------------------------------------------------------------------ XACK

/// XACK key group id [id ...]
pub fn xack(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let has = read_stream(ctx.srv, db, &args[1])?
        .is_some_and(|s| s.groups.contains_key(args[2].as_ref()));
    if !has {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = args[3..]
        .iter()
        .map(|a| parse_strict_id(a, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let s = stream_mut(ctx.srv, db, &args[1]).ok_or_else(vanished)?;
    let g = s.groups.get_mut(args[2].as_ref()).ok_or_else(vanished)?;
    let mut acked = 0;
    for id in ids {
        if g.ack(id) {
            acked += 1;
        }
    }
    ctx.srv.dirty += acked;
    ctx.out.int(acked as i64);
    Ok(())
}

// -------------------------------------------------------------------------------- XPENDING

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub fn xpending(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CmdError::Syntax);
    }
    let mut range = None;
    let mut minidle = 0i64;
    if argc >= 6 {
        let mut si = 3;
        if kw(&args[3], "idle") {
            minidle = super::args::int(&args[4])?;
            if argc < 8 {
                return Err(CmdError::Syntax);
            }
            si += 2;
        }
        let count = super::args::int(&args[si + 2])?.max(0);
        let (mut start, sx) = super::streams::parse_interval(&args[si], 0)?;
        if sx {
            start = start
                .incr()
                .ok_or_else(|| CmdError::err("invalid start ID for the interval"))?;
        }
        let (mut end, ex) = super::streams::parse_interval(&args[si + 1], u64::MAX)?;
        if ex {
            end = end
                .decr()
                .ok_or_else(|| CmdError::err("invalid end ID for the interval"))?;
        }
        range = Some((start, end, count, args.get(si + 3).cloned()));
    }
    let db = ctx.db();
    let now = ctx.srv.now_ms;
    let s = read_stream(ctx.srv, db, &args[1])?;
    let Some(g) = s.and_then(|s| s.groups.get(args[2].as_ref())) else {
        return Err(nogroup_key(&args[1], &args[2]));
    };
    let out = &mut *ctx.out;
    let Some((start, end, count, consumer)) = range else {
        out.array(4);
        out.int(g.pel.len() as i64);
        if g.pel.is_empty() {
            out.null();
            out.null();
            out.null_array();
        } else {
            out.bulk(&g.pel.keys().next().expect("pel").to_bytes());
            out.bulk(&g.pel.keys().next_back().expect("pel").to_bytes());
            let with: Vec<_> = g
                .consumers
                .iter()
                .filter(|(_, c)| !c.pel.is_empty())
                .collect();
            out.array(with.len());
            for (name, c) in with {
                out.array(2);
                out.bulk(name);
                out.bulk_int(c.pel.len() as i64);
            }
        }
        return Ok(());
    };
    let ids: Vec<StreamId> = match &consumer {
        Some(name) => match g.consumers.get(name.as_ref()) {
            None => {
                out.array(0);
                return Ok(());
            }
            Some(c) => {
                if start > end {
                    Vec::new()
                } else {
                    c.pel.range(start..=end).copied().collect()
                }
            }
        },
        None => {
            if start > end {
                Vec::new()
            } else {
                g.pel.range(start..=end).map(|(k, _)| *k).collect()
            }
        }
    };
    let mut rows = Vec::new();
    let mut left = count;
    for id in ids {
        if left == 0 {
            break;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        if minidle != 0 && now - n.delivery_time < minidle {
            continue;
        }
        left -= 1;
        rows.push((
            id,
            n.consumer.clone(),
            (now - n.delivery_time).max(0),
            n.delivery_count,
        ));
    }
    out.array(rows.len());
    for (id, c, idle, dc) in rows {
        out.array(4);
        out.bulk(&id.to_bytes());
        out.bulk(&c);
        out.int(idle);
        out.int(dc as i64);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------- XCLAIM

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-ms]
/// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]
pub fn xclaim(ctx: &mut Ctx) -> CmdResult {
    ctx.propagate_as(Vec::new());
    let args = ctx.args;
    let argc = args.len();
    let db = ctx.db();
    let (key, gname, cname) = (&args[1], &args[2], &args[3]);
    let has = read_stream(ctx.srv, db, key)?.is_some_and(|s| s.groups.contains_key(gname.as_ref()));
    if !has {
        return Err(nogroup_key(key, gname));
    }
    let minidle =
        super::args::int_or(&args[4], "Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argc {
        match parse_strict_id(&args[j], 0) {
            Ok(id) => ids.push((id, args[j].clone())),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.srv.now_ms;
    let mut force = false;
    let mut justid = false;
    let mut deliverytime: i64 = -1;
    let mut retrycount: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < argc {
        let more = argc - 1 - j;
        let o = &args[j];
        if kw(o, "force") {
            force = true;
        } else if kw(o, "justid") {
            justid = true;
        } else if kw(o, "idle") && more > 0 {
            j += 1;
            let v = super::args::int_or(&args[j], "Invalid IDLE option argument for XCLAIM")?;
            deliverytime = now.wrapping_sub(v);
        } else if kw(o, "time") && more > 0 {
            j += 1;
            deliverytime =
                super::args::int_or(&args[j], "Invalid TIME option argument for XCLAIM")?;
        } else if kw(o, "retrycount") && more > 0 {
            j += 1;
            retrycount =
                super::args::int_or(&args[j], "Invalid RETRYCOUNT option argument for XCLAIM")?;
        } else if kw(o, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(&args[j], 0)?;
        } else {
            return Err(CmdError::err(format!(
                "Unrecognized XCLAIM option '{}'",
                fmt_arg(o)
            )));
        }
        j += 1;
    }
    let s = stream_mut(ctx.srv, db, key).ok_or_else(vanished)?;
    let mut g = s.groups.remove(gname.as_ref()).ok_or_else(vanished)?;
    let mut propagate_last_id = false;
    if last_id > g.last_id {
        g.last_id = last_id;
        propagate_last_id = true;
    }
    if deliverytime == -1 || deliverytime < 0 || deliverytime > now {
        deliverytime = now;
    }
    let mut props = Vec::new();
    let mut dirty = 0u64;
    let mut consumer_done = false;
    let mut created = false;
    let mut replies: Vec<(StreamId, Option<crate::db::stream::Entry>)> = Vec::new();
    for (id, typed) in ids {
        let exists = s.get(id);
        let Some(entry) = exists else {
            if g.pel.contains_key(&id) {
                if let Some(p) = xclaim_prop(key, gname, &g, typed) {
                    props.push(p);
                }
                propagate_last_id = false;
                dirty += 1;
                drop_nack(&mut g, id);
            }
            continue;
        };
        let mut fresh = false;
        if force && !g.pel.contains_key(&id) {
            fresh = true;
        }
        if !fresh && !g.pel.contains_key(&id) {
            continue;
        }
        if !fresh && minidle != 0 {
            let n = &g.pel[&id];
            if now - n.delivery_time < minidle {
                continue;
            }
        }
        if !consumer_done {
            consumer_done = true;
            created = touch_consumer(&mut g, cname, now);
        }
        // (A NACK FORCE creates starts at one delivery, as `streamCreateNACK`.)
        let old_count = g.pel.get(&id).map_or(1, |n| n.delivery_count);
        let new_count = if retrycount >= 0 {
            retrycount as u64
        } else if !justid {
            old_count + 1
        } else {
            old_count
        };
        g.assign(id, cname, deliverytime, new_count);
        replies.push((id, if justid { None } else { Some(entry) }));
        if let Some(p) = xclaim_prop(key, gname, &g, typed) {
            props.push(p);
        }
        propagate_last_id = false;
        dirty += 1;
    }
    if propagate_last_id {
        props.push(setid_prop(key, gname, &g));
        dirty += 1;
    }
    s.groups.insert(gname.to_vec(), g);
    ctx.out.array(replies.len());
    for (id, e) in replies {
        match e {
            None => ctx.out.bulk(&id.to_bytes()),
            Some((id, f)) => reply_entry(ctx.out, id, &f),
        }
    }
    if created {
        dirty += 1;
        ctx.srv
            .data()
            .notify(notify::STREAM, "xgroup-createconsumer", key, db);
    }
    ctx.srv.dirty += dirty;
    ctx.propagate_as(props);
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub fn xautoclaim(ctx: &mut Ctx) -> CmdResult {
    ctx.propagate_as(Vec::new());
    let args = ctx.args;
    let argc = args.len();
    let minidle =
        super::args::int_or(&args[4], "Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let (mut start, sx) = super::streams::parse_interval(&args[5], 0)?;
    if sx {
        start = start
            .incr()
            .ok_or_else(|| CmdError::err("invalid start ID for the interval"))?;
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argc {
        let more = argc - 1 - j;
        if kw(&args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match super::args::parse_i64(&args[j + 1]) {
                Some(v) if (1..=max).contains(&v) => v,
                _ => return Err(CmdError::err("COUNT must be > 0")),
            };
            j += 1;
        } else if kw(&args[j], "justid") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let db = ctx.db();
    let (key, gname, cname) = (&args[1], &args[2], &args[3]);
    let has = read_stream(ctx.srv, db, key)?.is_some_and(|s| s.groups.contains_key(gname.as_ref()));
    if !has {
        return Err(nogroup_key(key, gname));
    }
    let now = ctx.srv.now_ms;
    let s = stream_mut(ctx.srv, db, key).ok_or_else(vanished)?;
    let mut g = s.groups.remove(gname.as_ref()).ok_or_else(vanished)?;
    let mut attempts = count.saturating_mul(10);
    let mut props = Vec::new();
    let mut deleted = Vec::new();
    let mut claimed: Vec<(StreamId, Option<crate::db::stream::Entry>)> = Vec::new();
    let mut dirty = 0u64;
    let mut consumer_done = false;
    let mut created = false;
    let mut cursor = Some(start);
    let mut next: Option<StreamId>;
    loop {
        next = cursor.and_then(|c| g.pel.range(c..).next().map(|(k, _)| *k));
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        let Some(id) = next else { break };
        cursor = id.incr();
        let Some(entry) = s.get(id) else {
            if let Some(p) = xclaim_prop(key, gname, &g, id_arg(id)) {
                props.push(p);
            }
            dirty += 1;
            drop_nack(&mut g, id);
            deleted.push(id);
            count -= 1;
            continue;
        };
        if minidle != 0 && now - g.pel[&id].delivery_time < minidle {
            continue;
        }
        if !consumer_done {
            consumer_done = true;
            created = touch_consumer(&mut g, cname, now);
        }
        let c = g.pel[&id].delivery_count + if justid { 0 } else { 1 };
        g.assign(id, cname, now, c);
        claimed.push((id, if justid { None } else { Some(entry) }));
        count -= 1;
        if let Some(p) = xclaim_prop(key, gname, &g, id_arg(id)) {
            props.push(p);
        }
        dirty += 1;
    }
    s.groups.insert(gname.to_vec(), g);
    let out = &mut *ctx.out;
    out.array(3);
    out.bulk(&next.unwrap_or(StreamId::MIN).to_bytes());
    out.array(claimed.len());
    for (id, e) in claimed {
        match e {
            None => out.bulk(&id.to_bytes()),
            Some((id, f)) => reply_entry(out, id, &f),
        }
    }
    out.array(deleted.len());
    for id in deleted {
        out.bulk(&id.to_bytes());
    }
    if created {
        dirty += 1;
        ctx.srv
            .data()
            .notify(notify::STREAM, "xgroup-createconsumer", key, db);
    }
    ctx.srv.dirty += dirty;
    ctx.propagate_as(props);
    Ok(())
}
