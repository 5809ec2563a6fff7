//! Consumer group commands, as Redis 7.0's `t_stream.c`: XGROUP, XREADGROUP, XACK, XPENDING,
//! XCLAIM and XAUTOCLAIM (XINFO is in `stream_info`). The group itself (PEL, consumers,
//! entries-read) is `db::stream::group`.
//!
//! Propagation follows Redis: XREADGROUP, XCLAIM and XAUTOCLAIM never propagate as typed;
//! each PEL change goes out as an idempotent `XCLAIM key group consumer 0 id TIME t
//! RETRYCOUNT n FORCE JUSTID LASTID last` (`streamPropagateXCLAIM`), a NOACK read as `XGROUP
//! SETID ... ENTRIESREAD n` (`streamPropagateGroupID`) and the consumer a NOACK read created
//! as `XGROUP CREATECONSUMER`. Delivery and seen times come from the server clock.

use bytes::Bytes;

use super::args::{cstr, kw};
use super::streams::{
    parse_id, parse_read_args, parse_strict_id, read_stream, reply_entry, signal_ready, stream_mut,
    write_stream, BLOCKED_DEFAULT_COUNT,
};
use super::{CmdError, CmdResult, Ctx};
use crate::db::stream::group::INVALID_ENTRIES_READ;
use crate::db::stream::{Consumer, Group, Stream, StreamId};
use crate::db::Value;
use crate::notify;

// ------------------------------------------------------------------------------------ helpers

/// An argument as Redis's `%s` shows it in an error: up to a NUL, newlines as spaces.
pub fn fmt_arg(a: &[u8]) -> String {
    String::from_utf8_lossy(cstr(a))
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

fn nogroup_key(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Reply(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        fmt_arg(key),
        fmt_arg(group)
    ))
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn id_arg(id: StreamId) -> Bytes {
    Bytes::from(id.to_bytes())
}

/// `streamPropagateXCLAIM`: the XCLAIM that recreates the NACK of `id` (as given) on a
/// replica.
fn xclaim_prop(key: &Bytes, gname: &Bytes, g: &Group, id: Bytes) -> Option<Vec<Bytes>> {
    let sid = parse_strict_id(&id, 0).ok()?;
    let n = g.pel.get(&sid)?;
    Some(vec![
        b("XCLAIM"),
        key.clone(),
        gname.clone(),
        Bytes::copy_from_slice(&n.consumer),
        b("0"),
        id,
        b("TIME"),
        b(&n.delivery_time.to_string()),
        b("RETRYCOUNT"),
        b(&n.delivery_count.to_string()),
        b("FORCE"),
        b("JUSTID"),
        b("LASTID"),
        id_arg(g.last_id),
    ])
}

/// `streamPropagateGroupID`.
fn setid_prop(key: &Bytes, gname: &Bytes, g: &Group) -> Vec<Bytes> {
    vec![
        b("XGROUP"),
        b("SETID"),
        key.clone(),
        gname.clone(),
        id_arg(g.last_id),
        b("ENTRIESREAD"),
        b(&g.entries_read.to_string()),
    ]
}

/// `streamLookupConsumer` with `SLC_DEFAULT` then `streamCreateConsumer` when missing:
/// true if it was created (the caller counts the change and fires the event).
fn touch_consumer(g: &mut Group, name: &[u8], now: i64) -> bool {
    match g.consumers.get_mut(name) {
        Some(c) => {
            c.seen_time = now;
            false
        }
        None => {
            g.consumers.insert(
                name.to_vec(),
                Consumer {
                    seen_time: now,
                    pel: Default::default(),
                },
            );
            true
        }
    }
}

/// Remove the NACK of `id` from the group and its consumer.
fn drop_nack(g: &mut Group, id: StreamId) {
    g.ack(id);
}

/// The fields of entry `id` as a reply would carry them, if it is in the stream.
fn entry_of(s: &Stream, id: StreamId) -> Option<crate::db::stream::Entry> {
    s.get(id)
}

// ------------------------------------------------------------------------------------ XGROUP

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP (one handler, as Redis's
/// `xgroupCommand`, for its order of checks).
pub fn xgroup(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let argc = args.len();
    let opt = &args[1];
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let db = ctx.db();
    let mut exists = false;
    let mut has_group = false;
    if argc >= 4 {
        let create = kw(opt, "create");
        let setid = kw(opt, "setid");
        let mut i = 5;
        while i < argc {
            if create && kw(&args[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if (create || setid) && kw(&args[i], "entriesread") && i + 1 < argc {
                entries_read = super::args::int(&args[i + 1])?;
                if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                    return Err(CmdError::err(
                        "value for ENTRIESREAD must be positive or -1",
                    ));
                }
                i += 2;
            } else {
                return Err(ctx.subcommand_syntax_error());
            }
        }
        if let Some(s) = write_stream(ctx.srv, db, &args[2])? {
            exists = true;
            has_group = s.groups.contains_key(args[3].as_ref());
        }
    }
    if argc >= 4 && !mkstream {
        if !exists {
            return Err(CmdError::err(
                "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        }
        if !has_group && (kw(opt, "setid") || kw(opt, "createconsumer") || kw(opt, "delconsumer")) {
            return Err(CmdError::Reply(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                fmt_arg(&args[3]),
                fmt_arg(&args[2])
            )));
        }
    }
    let now = ctx.srv.now_ms;
    if argc == 2 && kw(opt, "help") {
        super::client_cmd::help_reply(
            ctx,
            "XGROUP",
            &[
                "CREATE <key> <groupname> <id|$> [option]",
                "    Create a new consumer group. Options are:",
                "    * MKSTREAM",
                "      Create the empty stream if it does not exist.",
                "    * ENTRIESREAD entries_read",
                "      Set the group's entries_read counter (internal use).",
                "CREATECONSUMER <key> <groupname> <consumer>",
                "    Create a new consumer in the specified group.",
                "DELCONSUMER <key> <groupname> <consumer>",
                "    Remove the specified consumer.",
                "DESTROY <key> <groupname>",
                "    Remove the specified group.",
                "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                "    Set the current group ID and entries_read counter.",
            ],
        );
        return Ok(());
    }
    let key = &args[2.min(argc - 1)];
    if kw(opt, "create") && (5..=8).contains(&argc) {
        let id = if cstr(&args[4]) == b"$" {
            if exists {
                stream_mut(ctx.srv, db, key).map_or(StreamId::MIN, |s| s.last_id)
            } else {
                StreamId::MIN
            }
        } else {
            parse_strict_id(&args[4], 0)?
        };
        if !exists {
            ctx.srv
                .data()
                .set_key(db, key, Value::Stream(Box::default()), false);
            ctx.srv.data().signal_modified(db, key);
        }
        let s = stream_mut(ctx.srv, db, key).ok_or_else(vanished)?;
        if s.groups.contains_key(args[3].as_ref()) {
            return Err(CmdError::code(
                "BUSYGROUP",
                "Consumer Group name already exists",
            ));
        }
        s.groups
            .insert(args[3].to_vec(), Group::new(id, entries_read));
        ctx.out.ok();
        ctx.srv.dirty += 1;
        ctx.srv
            .data()
            .notify(notify::STREAM, "xgroup-create", key, db);
        ctx.flush_pushes();
    } else if kw(opt, "setid") && (argc == 5 || argc == 7) {
        let s = stream_mut(ctx.srv, db, key).ok_or_else(vanished)?;
        let id = if cstr(&args[4]) == b"$" {
            s.last_id
        } else {
            parse_id(&args[4], 0)?
        };
        let g = s.groups.get_mut(args[3].as_ref()).ok_or_else(vanished)?;
        g.last_id = id;
        g.entries_read = entries_read;
        ctx.out.ok();
        ctx.srv.dirty += 1;
        ctx.srv
            .data()
            .notify(notify::STREAM, "xgroup-setid", key, db);
        ctx.flush_pushes();
    } else if kw(opt, "destroy") && argc == 4 {
        let s = stream_mut(ctx.srv, db, key).ok_or_else(vanished)?;
        if s.groups.remove(args[3].as_ref()).is_some() {
            ctx.out.int(1);
            ctx.srv.dirty += 1;
            ctx.srv
                .data()
                .notify(notify::STREAM, "xgroup-destroy", key, db);
            ctx.flush_pushes();
            // Blocked XREADGROUP clients of the group get -NOGROUP.
            signal_ready(ctx.srv, db, key);
        } else {
            ctx.out.int(0);
        }
    } else if kw(opt, "createconsumer") && argc == 5 {
        let s = stream_mut(ctx.srv, db, key).ok_or_else(vanished)?;
        let g = s.groups.get_mut(args[3].as_ref()).ok_or_else(vanished)?;
        let created = !g.consumers.contains_key(args[4].as_ref());
        if created {
            touch_consumer(g, &args[4], now);
            ctx.srv.dirty += 1;
            ctx.srv
                .data()
                .notify(notify::STREAM, "xgroup-createconsumer", key, db);
            ctx.flush_pushes();
        }
        ctx.out.int(created as i64);
    } else if kw(opt, "delconsumer") && argc == 5 {
        let s = stream_mut(ctx.srv, db, key).ok_or_else(vanished)?;
        let g = s.groups.get_mut(args[3].as_ref()).ok_or_else(vanished)?;
        let pending = g.delete_consumer(&args[4]);
        if pending.is_some() {
            ctx.srv.dirty += 1;
            ctx.srv
                .data()
                .notify(notify::STREAM, "xgroup-delconsumer", key, db);
            ctx.flush_pushes();
        }
        ctx.out.int(pending.unwrap_or(0) as i64);
    } else {
        return Err(ctx.subcommand_syntax_error());
    }
    Ok(())
}

fn vanished() -> CmdError {
    CmdError::err("internal error: stream or group vanished")
}

// -------------------------------------------------------------------------------- XREADGROUP

/// What one stream of an XREADGROUP serves.
enum Serve {
    /// New entries after the group's last delivered ID.
    New,
    /// The consumer's own PEL after the ID.
    History(StreamId),
}

/// Serve one stream to `consumer` (`streamReplyWithRange` with a group), writing the
/// entries array; appends what it propagates to `props`.
#[allow(clippy::too_many_arguments)]
fn serve_group(
    ctx: &mut Ctx,
    key: &Bytes,
    gname: &Bytes,
    cname: &Bytes,
    what: Serve,
    count: usize,
    noack: bool,
    props: &mut Vec<Vec<Bytes>>,
) {
    let db = ctx.db();
    let now = ctx.srv.now_ms;
    let Some(s) = stream_mut(ctx.srv, db, key) else {
        return;
    };
    let Some(mut g) = s.groups.remove(gname.as_ref()) else {
        return;
    };
    let created = touch_consumer(&mut g, cname, now);
    if created && noack {
        props.push(vec![
            b("XGROUP"),
            b("CREATECONSUMER"),
            key.clone(),
            gname.clone(),
            cname.clone(),
        ]);
    }
    match what {
        Serve::History(gt) => {
            let start = gt.incr().unwrap_or(StreamId::MIN);
            let ids: Vec<StreamId> = g.consumers[cname.as_ref()]
                .pel
                .range(start..)
                .take(if count == 0 { usize::MAX } else { count })
                .copied()
                .collect();
            ctx.out.array(ids.len());
            for id in ids {
                match entry_of(s, id) {
                    Some((id, fields)) => {
                        reply_entry(ctx.out, id, &fields);
                        if let Some(n) = g.pel.get_mut(&id) {
                            n.delivery_time = now;
                            n.delivery_count += 1;
                        }
                    }
                    None => {
                        ctx.out.array(2);
                        ctx.out.bulk(&id.to_bytes());
                        ctx.out.null_array();
                    }
                }
            }
        }
        Serve::New => {
            let start = g.last_id.incr().unwrap_or(StreamId::MIN);
            let entries = s.range(start, StreamId::MAX, false, count);
            let mut propagate_last_id = false;
            ctx.out.array(entries.len());
            for (id, fields) in &entries {
                let id = *id;
                if id > g.last_id {
                    if g.entries_read != INVALID_ENTRIES_READ
                        && !s.range_has_tombstones(Some(id), None)
                    {
                        g.entries_read += 1;
                    } else if s.entries_added != 0 {
                        g.entries_read = s.estimate_distance(id);
                    }
                    g.last_id = id;
                    if noack {
                        propagate_last_id = true;
                    }
                }
                reply_entry(ctx.out, id, fields);
                if !noack {
                    g.assign(id, cname, now, 1);
                    if let Some(p) = xclaim_prop(key, gname, &g, id_arg(id)) {
                        props.push(p);
                    }
                }
            }
            if propagate_last_id {
                props.push(setid_prop(key, gname, &g));
            }
        }
    }
    s.groups.insert(gname.to_vec(), g);
    if created {
        ctx.srv.dirty += 1;
        ctx.srv
            .data()
            .notify(notify::STREAM, "xgroup-createconsumer", key, db);
    }
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key
/// [key ...] id [id ...]
pub fn xreadgroup(ctx: &mut Ctx) -> CmdResult {
    ctx.propagate_as(Vec::new());
    let r = parse_read_args(ctx, true)?;
    let (gname, cname) = r.group.clone().ok_or(CmdError::Syntax)?;
    let args = ctx.args;
    let db = ctx.db();
    let keys = &args[r.streams_arg..r.streams_arg + r.nstreams];
    let mut props = Vec::new();

    // A client run again because a key got data (or lost it, or its group) is served from
    // that key alone (`serveClientsBlockedOnStreamKey`).
    if ctx.served_blocked() {
        let Some(key) = ctx.srv.call.serving_key.clone() else {
            return Ok(());
        };
        let Some(Value::Stream(s)) = ctx.srv.keyspace.dbs[db].get(&key).map(|e| &e.val) else {
            return Ok(());
        };
        let Some(g) = s.groups.get(gname.as_ref()) else {
            return Err(CmdError::code(
                "NOGROUP",
                "the consumer group this client was blocked on no longer exists",
            ));
        };
        if s.last_id > g.last_id {
            let count = if r.count == 0 {
                BLOCKED_DEFAULT_COUNT
            } else {
                r.count
            };
            if ctx.out.resp3() {
                ctx.out.map(1);
            } else {
                ctx.out.array(1);
                ctx.out.array(2);
            }
            ctx.out.bulk(&key);
            serve_group(
                ctx,
                &key,
                &gname,
                &cname,
                Serve::New,
                count,
                r.noack,
                &mut props,
            );
            if !props.is_empty() {
                ctx.srv.dirty += 1;
            }
            ctx.propagate_as(props);
        } else {
            ctx.block_on_keys_with(keys, "stream", None, args.to_vec());
        }
        return Ok(());
    }

    // Resolve the IDs (">" is MAX, as Redis) and check each key's group.
    let mut ids = Vec::with_capacity(r.nstreams);
    for (k, a) in keys.iter().zip(&args[r.streams_arg + r.nstreams..]) {
        let s = read_stream(ctx.srv, db, k)?;
        if !s.is_some_and(|s| s.groups.contains_key(gname.as_ref())) {
            return Err(CmdError::Reply(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                fmt_arg(k),
                fmt_arg(&gname)
            )));
        }
        if cstr(a) == b"$" {
            return Err(CmdError::err(
                "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
            ));
        } else if cstr(a) == b">" {
            ids.push(StreamId::MAX);
        } else {
            ids.push(parse_strict_id(a, 0)?);
        }
    }

    let mut served = 0usize;
    let resp3 = ctx.out.resp3();
    let head_len = ctx.out.buf.len();
    for (i, k) in keys.iter().enumerate() {
        let what = {
            let Some(Value::Stream(s)) = ctx.srv.keyspace.dbs[db].get(k).map(|e| &e.val) else {
                continue;
            };
            let g = &s.groups[gname.as_ref()];
            if ids[i] != StreamId::MAX {
                Some(Serve::History(ids[i]))
            } else if s.length > 0 && s.last_valid_id() > g.last_id {
                Some(Serve::New)
            } else {
                None
            }
        };
        let Some(what) = what else { continue };
        served += 1;
        if !resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(k);
        serve_group(ctx, k, &gname, &cname, what, r.count, r.noack, &mut props);
        ctx.srv.dirty += 1;
    }
    if served > 0 {
        // The array (map) header goes before the per-stream replies.
        let tail = ctx.out.buf.split_off(head_len);
        if resp3 {
            ctx.out.map(served);
        } else {
            ctx.out.array(served);
        }
        ctx.out.buf.extend_from_slice(&tail);
        ctx.propagate_as(props);
        return Ok(());
    }
    if let Some(timeout) = r.timeout {
        if !ctx.can_block() {
            ctx.out.null_array();
            return Ok(());
        }
        ctx.block_on_keys_with(keys, "stream", timeout, args.to_vec());
        return Ok(());
    }
    ctx.out.null_array();
    Ok(())
}

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
