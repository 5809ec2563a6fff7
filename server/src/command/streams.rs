//! Stream commands without consumer groups, as Redis 7.0's `t_stream.c`: XADD, XRANGE,
//! XREVRANGE, XLEN, XDEL, XTRIM, XREAD and XSETID. The value and its listpack nodes are in
//! `db::stream`; the group commands in `stream_groups`, XINFO in `stream_info`.
//!
//! Each handler keeps Redis's order of checks (options, then the key and its type, then the
//! values), because that order decides the error a client sees. XADD and XTRIM propagate
//! as Redis rewrites them: a generated ID as the ID it got, a `~` trim as `=` with the
//! resulting length or first ID, so replicas and the AOF end with the same stream.

use std::time::Duration;

use bytes::Bytes;
use picket_common::resp::ReplyBuf;

use super::args::{cstr, kw, parse_i64};
use super::{CmdError, CmdResult, Ctx};
use crate::client::cflags;
use crate::db::stream::{AppendError, NodeLimits, Stream, StreamId, Trim};
use crate::db::Value;
use crate::notify;
use crate::server::Server;

// ------------------------------------------------------------------------------------ helpers

pub fn invalid_id() -> CmdError {
    CmdError::err("Invalid stream ID specified as stream command argument")
}

/// Redis's `string2ull`: `string2ll` when it applies (negatives refused), else `strtoull`
/// (leading spaces, a sign, wrapping negation; the whole string must be digits after that).
pub fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return (v >= 0).then_some(v as u64);
    }
    let mut i = 0;
    while i < s.len() && super::args::is_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// `streamGenericParseIDOrReply`: `-`/`+` (unless `strict`), `<ms>`, `<ms>-<seq>`, and
/// `<ms>-*` when `seq_star` (then the second value is false).
pub fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    let a = cstr(arg);
    if strict && (a == b"-" || a == b"+") {
        return Err(invalid_id());
    }
    if a == b"-" {
        return Ok((StreamId::MIN, true));
    }
    if a == b"+" {
        return Ok((StreamId::MAX, true));
    }
    let (ms_part, seq_part) = match a.iter().position(|&b| b == b'-') {
        Some(i) => (&a[..i], Some(&a[i + 1..])),
        None => (a, None),
    };
    let ms = string2ull(ms_part).ok_or_else(invalid_id)?;
    match seq_part {
        Some(b"*") if seq_star => Ok((StreamId::new(ms, 0), false)),
        Some(sq) => Ok((
            StreamId::new(ms, string2ull(sq).ok_or_else(invalid_id)?),
            true,
        )),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

pub fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    Ok(parse_id_full(arg, missing_seq, false, false)?.0)
}

pub fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    Ok(parse_id_full(arg, missing_seq, true, false)?.0)
}

/// A range bound (`streamParseIntervalIDOrReply`): `(` makes it exclusive (and strict).
pub fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_strict_id(&arg[1..], missing_seq)?, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

fn node_limits(srv: &Server) -> NodeLimits {
    NodeLimits {
        bytes: srv.cfg.stream_node_max_bytes,
        entries: srv.cfg.stream_node_max_entries,
    }
}

/// The stream at `key` for reading (`lookupKeyRead` + `checkType`).
pub fn read_stream<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s Stream>, CmdError> {
    match srv.data().lookup_read(db, key).map(|e| &e.val) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The stream at `key` for writing (`lookupKeyWrite` + `checkType`).
pub fn write_stream<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s mut Stream>, CmdError> {
    match srv.data().lookup_write(db, key).map(|e| &mut e.val) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The stream at `key`, already looked up in this command.
pub fn stream_mut<'s>(srv: &'s mut Server, db: usize, key: &[u8]) -> Option<&'s mut Stream> {
    match srv.keyspace.dbs[db].get_mut(key).map(|e| &mut e.val) {
        Some(Value::Stream(s)) => Some(s),
        _ => None,
    }
}

/// Clients blocked on `key` may be served now (`signalKeyAsReady` with `OBJ_STREAM`).
pub fn signal_ready(srv: &mut Server, db: usize, key: &[u8]) {
    srv.keyspace.signal_ready(db, key, "stream");
}

/// One entry as Redis replies it: `[id, [field, value, ...]]`.
pub fn reply_entry(out: &mut ReplyBuf, id: StreamId, fields: &[(Vec<u8>, Vec<u8>)]) {
    out.array(2);
    out.bulk(&id.to_bytes());
    out.array(fields.len() * 2);
    for (f, v) in fields {
        out.bulk(f);
        out.bulk(v);
    }
}

pub fn reply_entries(out: &mut ReplyBuf, entries: &[crate::db::stream::Entry]) {
    out.array(entries.len());
    for (id, f) in entries {
        reply_entry(out, *id, f);
    }
}

// ---------------------------------------------------------------------------- XADD / XTRIM

/// The options of XADD and XTRIM (`streamAddTrimArgs`).
struct AddTrim {
    id: Option<(StreamId, bool)>,
    no_mkstream: bool,
    trim: Trim,
    /// Index of the MAXLEN/MINID value (for the propagation rewrite).
    trim_arg: usize,
    approx: bool,
    limit: u64,
    /// Index of the ID argument (XADD).
    id_pos: usize,
}

/// `streamParseAddOrTrimArgsOrReply`.
fn parse_add_trim(ctx: &Ctx, xadd: bool) -> Result<AddTrim, CmdError> {
    let args = ctx.args;
    let mut a = AddTrim {
        id: None,
        no_mkstream: false,
        trim: Trim::None,
        trim_arg: 0,
        approx: false,
        limit: 0,
        id_pos: 0,
    };
    let both = || {
        CmdError::err("syntax error, MAXLEN and MINID options at the same time are not compatible")
    };
    let mut limit_given = false;
    let mut limit: i64 = 0;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = cstr(&args[i]);
        if xadd && opt == b"*" {
            break;
        } else if kw(opt, "maxlen") && more > 0 {
            if a.trim != Trim::None {
                return Err(both());
            }
            a.approx = false;
            let next = cstr(&args[i + 1]);
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let n = super::args::int(&args[i + 1])?;
            if n < 0 {
                return Err(CmdError::err("The MAXLEN argument must be >= 0."));
            }
            i += 1;
            a.trim = Trim::MaxLen(n as u64);
            a.trim_arg = i;
        } else if kw(opt, "minid") && more > 0 {
            if a.trim != Trim::None {
                return Err(both());
            }
            a.approx = false;
            let next = cstr(&args[i + 1]);
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let id = parse_strict_id(&args[i + 1], 0)?;
            i += 1;
            a.trim = Trim::MinId(id);
            a.trim_arg = i;
        } else if kw(opt, "limit") && more > 0 {
            limit = super::args::int(&args[i + 1])?;
            if limit < 0 {
                return Err(CmdError::err("The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && kw(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            let (id, seq_given) = parse_id_full(&args[i], 0, true, true)?;
            a.id = Some((id, seq_given));
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    a.id_pos = i;
    if limit != 0 && a.trim == Trim::None {
        return Err(CmdError::err(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim == Trim::None {
        return Err(CmdError::err(
            "syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if ctx.client.has(cflags::MASTER) || ctx.client.has(cflags::LOADER) {
        a.limit = 0;
    } else if limit_given {
        if !a.approx {
            return Err(CmdError::err(
                "syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        a.limit = limit as u64;
    } else if a.approx {
        let mut l = 100 * ctx.srv.cfg.stream_node_max_entries as i64;
        if l <= 0 {
            l = 10000;
        }
        a.limit = l.min(1_000_000) as u64;
    }
    Ok(a)
}

/// The argument vector with a `~` trim rewritten as `=` and the count or ID the stream
/// ended with (`streamRewriteApproxSpecifier` + `streamRewriteTrimArgument`).
fn rewrite_trim(args: &mut [Bytes], a: &AddTrim, s: &Stream) {
    args[a.trim_arg - 1] = Bytes::from_static(b"=");
    args[a.trim_arg] = match a.trim {
        Trim::MaxLen(_) => Bytes::from(s.length.to_string()),
        _ => Bytes::from(s.edge_id(true, false).to_bytes()),
    };
}

/// XADD key [NOMKSTREAM] [(MAXLEN|MINID) [=|~] threshold [LIMIT count]] (*|id) field value ...
pub fn xadd(ctx: &mut Ctx) -> CmdResult {
    let a = parse_add_trim(ctx, true)?;
    let args = ctx.args;
    let field_pos = a.id_pos + 1;
    if args.len() < field_pos + 2 || (args.len() - field_pos) % 2 == 1 {
        return Err(ctx.arity_error());
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return Err(CmdError::err(
                "The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let db = ctx.db();
    let key = &args[1];
    if write_stream(ctx.srv, db, key)?.is_none() {
        if a.no_mkstream {
            ctx.out.null();
            return Ok(());
        }
        ctx.srv
            .data()
            .set_key(db, key, Value::Stream(Box::default()), false);
    }
    let lim = node_limits(ctx.srv);
    let now = ctx.srv.now_ms.max(0) as u64;
    let s = stream_mut(ctx.srv, db, key).ok_or_else(vanished)?;
    if s.last_id == StreamId::MAX {
        return Err(CmdError::err(
            "The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = match s.append(&args[field_pos..], a.id, now, lim) {
        Ok(id) => id,
        Err(AppendError::NotGreater) => {
            return Err(CmdError::err(
                "The ID specified in XADD is equal or smaller than the target stream top item",
            ))
        }
        Err(AppendError::TooLarge) => {
            return Err(CmdError::err("Elements are too large to be stored"))
        }
    };
    let idb = id.to_bytes();
    ctx.out.bulk(&idb);
    ctx.changed(notify::STREAM, "xadd", key);

    let mut rewritten: Option<Vec<Bytes>> = None;
    if a.trim != Trim::None {
        let s = stream_mut(ctx.srv, db, key).ok_or_else(vanished)?;
        let trimmed = s.trim(a.trim, a.approx, a.limit);
        if a.approx {
            let mut v = args.to_vec();
            rewrite_trim(&mut v, &a, s);
            rewritten = Some(v);
        }
        if trimmed > 0 {
            ctx.srv.data().notify(notify::STREAM, "xtrim", key, db);
        }
    }
    if !matches!(a.id, Some((_, true))) {
        let v = rewritten.get_or_insert_with(|| args.to_vec());
        v[a.id_pos] = Bytes::from(idb);
    }
    if let Some(v) = rewritten {
        ctx.propagate_as(vec![v]);
    }
    signal_ready(ctx.srv, db, key);
    Ok(())
}

/// XTRIM key (MAXLEN|MINID) [=|~] threshold [LIMIT count]
pub fn xtrim(ctx: &mut Ctx) -> CmdResult {
    let a = parse_add_trim(ctx, false)?;
    let db = ctx.db();
    let key = &ctx.args[1];
    let Some(s) = write_stream(ctx.srv, db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let deleted = s.trim(a.trim, a.approx, a.limit);
    if deleted > 0 {
        if a.approx {
            let mut v = ctx.args.to_vec();
            rewrite_trim(&mut v, &a, s);
            ctx.propagate_as(vec![v]);
        }
        ctx.srv.data().notify(notify::STREAM, "xtrim", key, db);
        ctx.srv.data().signal_modified(db, key);
        ctx.srv.dirty += deleted;
        ctx.flush_pushes();
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn vanished() -> CmdError {
    CmdError::err("internal error: stream vanished")
}

// ----------------------------------------------------------------------------- reads

/// XRANGE key start end [COUNT count]
pub fn xrange(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, false)
}

/// XREVRANGE key end start [COUNT count]
pub fn xrevrange(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, true)
}

fn range_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let args = ctx.args;
    let (sa, ea) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let (mut start, sx) = parse_interval(sa, 0)?;
    if sx {
        start = start
            .incr()
            .ok_or_else(|| CmdError::err("invalid start ID for the interval"))?;
    }
    let (mut end, ex) = parse_interval(ea, u64::MAX)?;
    if ex {
        end = end
            .decr()
            .ok_or_else(|| CmdError::err("invalid end ID for the interval"))?;
    }
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if kw(&args[j], "count") && j + 1 < args.len() {
            count = super::args::int(&args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let db = ctx.db();
    let Some(s) = read_stream(ctx.srv, db, &args[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.null_array();
        return Ok(());
    }
    let n = if count < 0 { 0 } else { count as usize };
    let entries = s.range(start, end, rev, n);
    reply_entries(ctx.out, &entries);
    Ok(())
}

/// XLEN key
pub fn xlen(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let n = read_stream(ctx.srv, db, &ctx.args[1])?.map_or(0, |s| s.length);
    ctx.out.int(n as i64);
    Ok(())
}

/// XDEL key id [id ...]
pub fn xdel(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let key = &ctx.args[1];
    if write_stream(ctx.srv, db, key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = ctx.args[2..]
        .iter()
        .map(|a| parse_strict_id(a, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let s = stream_mut(ctx.srv, db, key).ok_or_else(vanished)?;
    let mut deleted = 0u64;
    let mut first_entry = false;
    for id in ids {
        if s.delete(id) {
            if id == s.first_id {
                first_entry = true;
            }
            if id > s.max_deleted_entry_id {
                s.max_deleted_entry_id = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        if s.length == 0 {
            s.first_id = StreamId::MIN;
        } else if first_entry {
            s.first_id = s.edge_id(true, true);
        }
        ctx.srv.data().signal_modified(db, key);
        ctx.srv.data().notify(notify::STREAM, "xdel", key, db);
        ctx.srv.dirty += deleted;
        ctx.flush_pushes();
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
pub fn xsetid(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let id = parse_strict_id(&args[2], 0)?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if kw(&args[i], "entriesadded") && more > 0 {
            entries_added = super::args::int(&args[i + 1])?;
            if entries_added < 0 {
                return Err(CmdError::err("entries_added must be positive"));
            }
        } else if kw(&args[i], "maxdeletedid") && more > 0 {
            max_xdel = parse_strict_id(&args[i + 1], 0)?;
            if id < max_xdel {
                return Err(CmdError::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let db = ctx.db();
    let key = &args[1];
    let Some(s) = write_stream(ctx.srv, db, key)? else {
        return Err(CmdError::NoSuchKey);
    };
    if s.length > 0 {
        if id < s.last_valid_id() {
            return Err(CmdError::err(
                "The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added != -1 && s.length > entries_added as u64 {
            return Err(CmdError::err(
                "The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted_entry_id = max_xdel;
    }
    ctx.out.ok();
    ctx.srv.dirty += 1;
    ctx.srv.data().notify(notify::STREAM, "xsetid", key, db);
    ctx.flush_pushes();
    Ok(())
}

// ------------------------------------------------------------------------------------ XREAD

/// Redis's `XREAD_BLOCKED_DEFAULT_COUNT`: a client served after blocking without COUNT
/// gets at most this many entries per stream.
pub const BLOCKED_DEFAULT_COUNT: usize = 1000;

/// The options of XREAD and XREADGROUP.
pub struct ReadArgs {
    pub timeout: Option<Option<Duration>>,
    pub count: usize,
    pub streams_arg: usize,
    pub nstreams: usize,
    pub group: Option<(Bytes, Bytes)>,
    pub noack: bool,
}

/// The milliseconds timeout of BLOCK (`getTimeoutFromObjectOrReply` with
/// `UNIT_MILLISECONDS`).
fn parse_ms_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let ms = super::args::int_or(arg, "timeout is not an integer or out of range")?;
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    Ok((ms > 0).then(|| Duration::from_millis((ms as u64).min(100 * 365 * 86_400_000))))
}

pub fn parse_read_args(ctx: &Ctx, xreadgroup: bool) -> Result<ReadArgs, CmdError> {
    let args = ctx.args;
    let mut r = ReadArgs {
        timeout: None,
        count: 0,
        streams_arg: 0,
        nstreams: 0,
        group: None,
        noack: false,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i];
        if kw(o, "block") && more > 0 {
            if ctx.client.id == crate::client::SCRIPT_CLIENT_ID {
                // (Redis names the command as the script typed it.)
                return Err(CmdError::err(format!(
                    "{} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(cstr(&args[0]))
                )));
            }
            i += 1;
            r.timeout = Some(parse_ms_timeout(&args[i])?);
        } else if kw(o, "count") && more > 0 {
            i += 1;
            r.count = super::args::int(&args[i])?.max(0) as usize;
        } else if kw(o, "streams") && more > 0 {
            r.streams_arg = i + 1;
            let n = args.len() - r.streams_arg;
            if !n.is_multiple_of(2) {
                return Err(CmdError::err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            r.nstreams = n / 2;
            break;
        } else if kw(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(CmdError::err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 2;
        } else if kw(o, "noack") {
            if !xreadgroup {
                return Err(CmdError::err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if r.streams_arg == 0 {
        return Err(CmdError::Syntax);
    }
    if xreadgroup && r.group.is_none() {
        return Err(CmdError::err("Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
pub fn xread(ctx: &mut Ctx) -> CmdResult {
    let r = parse_read_args(ctx, false)?;
    let args = ctx.args;
    let db = ctx.db();
    let keys = &args[r.streams_arg..r.streams_arg + r.nstreams];
    let mut ids = Vec::with_capacity(r.nstreams);
    for (k, a) in keys.iter().zip(&args[r.streams_arg + r.nstreams..]) {
        let s = read_stream(ctx.srv, db, k)?;
        if cstr(a) == b"$" {
            ids.push(s.map_or(StreamId::MIN, |s| s.last_id));
        } else if cstr(a) == b">" {
            return Err(CmdError::err(
                "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            ));
        } else {
            ids.push(parse_strict_id(a, 0)?);
        }
    }
    // A client run again because a key got data is served from that key alone (Redis's
    // `serveClientsBlockedOnStreamKey`), if its last ID passed the one waited for.
    let served = ctx.served_blocked();
    let serving = ctx.srv.call.serving_key.clone();
    let count = if served && r.count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        r.count
    };
    let mut results: Vec<(Bytes, Vec<crate::db::stream::Entry>)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        if served && serving.as_ref() != Some(k) {
            continue;
        }
        let Some(Value::Stream(s)) = ctx.srv.keyspace.dbs[db].get(k).map(|e| &e.val) else {
            continue;
        };
        let gt = ids[i];
        let ready = if served {
            s.last_id > gt
        } else {
            s.length > 0 && s.last_valid_id() > gt
        };
        if ready {
            let start = gt.incr().unwrap_or(StreamId::MAX);
            results.push((k.clone(), s.range(start, StreamId::MAX, false, count)));
        }
        if served {
            break;
        }
    }
    if !results.is_empty() {
        reply_read(ctx.out, &results);
        return Ok(());
    }
    if let Some(timeout) = r.timeout {
        if !ctx.can_block() {
            ctx.out.null_array();
            return Ok(());
        }
        // Wait for IDs past those resolved now (`$` is the last ID at this time).
        let mut stored = args.to_vec();
        for (i, id) in ids.iter().enumerate() {
            stored[r.streams_arg + r.nstreams + i] = Bytes::from(id.to_bytes());
        }
        ctx.block_on_keys_with(keys, "stream", timeout, stored);
        return Ok(());
    }
    ctx.out.null_array();
    Ok(())
}

/// XREAD's reply: per stream, its name and entries (an array of pairs in RESP2, a map in
/// RESP3).
pub fn reply_read(out: &mut ReplyBuf, results: &[(Bytes, Vec<crate::db::stream::Entry>)]) {
    if out.resp3() {
        out.map(results.len());
    } else {
        out.array(results.len());
    }
    for (k, entries) in results {
        if !out.resp3() {
            out.array(2);
        }
        out.bulk(k);
        reply_entries(out, entries);
    }
}
