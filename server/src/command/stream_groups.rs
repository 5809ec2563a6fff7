//! Consumer group commands, as Redis 7.0's `t_stream.c`: XGROUP and XREADGROUP, with the
//! helpers the PEL commands share (XACK, XPENDING, XCLAIM, XAUTOCLAIM are in `stream_pel`,
//! XINFO in `stream_info`). The group itself (PEL, consumers,
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

pub(super) fn nogroup_key(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Reply(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        fmt_arg(key),
        fmt_arg(group)
    ))
}

pub(super) fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

pub(super) fn id_arg(id: StreamId) -> Bytes {
    Bytes::from(id.to_bytes())
}

/// `streamPropagateXCLAIM`: the XCLAIM that recreates the NACK of `id` (as given) on a
/// replica.
pub(super) fn xclaim_prop(key: &Bytes, gname: &Bytes, g: &Group, id: Bytes) -> Option<Vec<Bytes>> {
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
pub(super) fn setid_prop(key: &Bytes, gname: &Bytes, g: &Group) -> Vec<Bytes> {
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
pub(super) fn touch_consumer(g: &mut Group, name: &[u8], now: i64) -> bool {
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
pub(super) fn drop_nack(g: &mut Group, id: StreamId) {
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

pub(super) fn vanished() -> CmdError {
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
