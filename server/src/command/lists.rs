//! List commands, as Redis 7.0's `t_list.c`. Blocking variants use `crate::blocking`: when
//! nothing can be served they block; when a key gets data they run again and are propagated
//! as their non-blocking form.
//!
//! Each handler keeps Redis's order of checks (argument parsing, key lookup and type, value
//! checks), because that order decides which error a client sees, and Redis's order of
//! keyspace events (the push side of a move before its pop side, `del` after the pop).

use std::time::Duration;

use bytes::Bytes;

use super::args::kw;
use super::args::{int, parse_i64};
use super::{CmdError, CmdResult, Ctx};
use crate::blocking::parse_timeout;
use crate::db::list::PosQuery;
use crate::db::{List, SmallBytes, Value};
use crate::notify;
use crate::server::Server;

pub use crate::db::list::End;

// ------------------------------------------------------------------------------------ helpers

impl End {
    fn pop_name(self) -> &'static [u8] {
        match self {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        }
    }
    fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }
    fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }
    /// The word Redis propagates for a side (`shared.left` / `shared.right`).
    fn word(self) -> &'static [u8] {
        match self {
            End::Left => b"left",
            End::Right => b"right",
        }
    }
}

/// LEFT or RIGHT (Redis's `getListPositionFromObjectOrReply`, `strcasecmp`).
fn side(arg: &[u8]) -> Result<End, CmdError> {
    if kw(arg, "right") {
        Ok(End::Right)
    } else if kw(arg, "left") {
        Ok(End::Left)
    } else {
        Err(CmdError::Syntax)
    }
}

/// The list at `key` for reading (`lookupKeyRead` + `checkType`); WRONGTYPE for another type.
pub(super) fn read_list<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s List>, CmdError> {
    match srv.data().lookup_read(db, key).map(|e| &e.val) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The list at `key` for writing (`lookupKeyWrite` + `checkType`); WRONGTYPE for another type.
pub(super) fn write_list<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s mut List>, CmdError> {
    match srv.data().lookup_write(db, key).map(|e| &mut e.val) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The list at `key`, already looked up in this command (no expiry check, no LRU update).
fn list_mut<'s>(srv: &'s mut Server, db: usize, key: &[u8]) -> Option<&'s mut List> {
    match srv.keyspace.dbs[db].get_mut(key).map(|e| &mut e.val) {
        Some(Value::List(l)) => Some(l),
        _ => None,
    }
}

/// After removing elements from the list at `key`: delete it if it became empty (lists are
/// never empty in Redis), firing `del`.
pub(super) fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.client.db;
    let empty = matches!(ctx.srv.keyspace.dbs[db].get(key).map(|e| &e.val), Some(Value::List(l)) if l.is_empty());
    if empty {
        ctx.srv.keyspace.dbs[db].remove(key);
        ctx.srv.data().notify(notify::GENERIC, "del", key, db);
    }
}

/// What follows removing `n` elements from the list at `key` with `event` (Redis's
/// `listElementsRemoved` and the tails of LREM/LTRIM): the event, `del` if the list is now
/// empty, WATCH invalidation, `n` changes.
fn elements_removed(ctx: &mut Ctx, key: &[u8], event: &str, n: usize) {
    let db = ctx.client.db;
    ctx.srv.data().notify(notify::LIST, event, key, db);
    delete_if_empty(ctx, key);
    ctx.srv.data().signal_modified(db, key);
    ctx.srv.dirty += n as u64;
}

/// Pop up to `n` elements from one end of the list at `key`, which this command found to be
/// a list, with the events and counters of a pop.
fn pop_from(ctx: &mut Ctx, key: &[u8], end: End, n: usize) -> Vec<SmallBytes> {
    let db = ctx.client.db;
    let popped = match list_mut(ctx.srv, db, key) {
        Some(l) => l.pop_many(end, n),
        None => Vec::new(),
    };
    if !popped.is_empty() {
        elements_removed(ctx, key, end.pop_event(), popped.len());
    }
    popped
}

fn reply_items<'v>(ctx: &mut Ctx, items: impl ExactSizeIterator<Item = &'v SmallBytes>) {
    ctx.out.array(items.len());
    for v in items {
        ctx.out.bulk(v);
    }
}

fn count_arg(n: usize) -> Bytes {
    Bytes::from(itoa::Buffer::new().format(n).to_owned())
}

// -------------------------------------------------------------------------------- push / pop

pub fn lpush(ctx: &mut Ctx) -> CmdResult {
    push_cmd(ctx, End::Left, false)
}

pub fn rpush(ctx: &mut Ctx) -> CmdResult {
    push_cmd(ctx, End::Right, false)
}

pub fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push_cmd(ctx, End::Left, true)
}

pub fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push_cmd(ctx, End::Right, true)
}

/// LPUSH/RPUSH/LPUSHX/RPUSHX key element [element ...] (Redis's `pushGenericCommand`).
fn push_cmd(ctx: &mut Ctx, end: End, only_existing: bool) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let items = &args[2..];
    let db = ctx.client.db;
    let len = match write_list(ctx.srv, db, key)? {
        Some(l) => {
            for it in items {
                l.push(end, it);
            }
            l.len()
        }
        None if only_existing => {
            ctx.out.int(0);
            return Ok(());
        }
        None => {
            let mut l = List::new();
            for it in items {
                l.push(end, it);
            }
            let n = l.len();
            ctx.srv.data().set_key(db, key, Value::List(l), false);
            n
        }
    };
    ctx.srv.dirty += items.len() as u64;
    ctx.out.int(len as i64);
    ctx.srv.data().signal_modified(db, key);
    ctx.srv
        .data()
        .notify(notify::LIST, end.push_event(), key, db);
    Ok(())
}

pub fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop_cmd(ctx, End::Left)
}

pub fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop_cmd(ctx, End::Right)
}

/// LPOP/RPOP key [count] (Redis's `popGenericCommand`).
fn pop_cmd(ctx: &mut Ctx, end: End) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(ctx.arity_error());
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match parse_i64(a) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::err("value is out of range, must be positive")),
        },
    };
    let key = &args[1];
    let db = ctx.client.db;
    if write_list(ctx.srv, db, key)?.is_none() {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    match count {
        Some(0) => ctx.out.array(0),
        Some(n) => {
            let popped = pop_from(ctx, key, end, n);
            reply_items(ctx, popped.iter());
        }
        None => match pop_from(ctx, key, end, 1).first() {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

// ------------------------------------------------------------------------------ read commands

/// LLEN key
pub fn llen(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.client.db;
    let len = read_list(ctx.srv, db, &ctx.args[1])?.map_or(0, List::len);
    ctx.out.int(len as i64);
    Ok(())
}

/// LRANGE key start stop
pub fn lrange(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let start = int(&args[2])?;
    let stop = int(&args[3])?;
    let db = ctx.client.db;
    let Some(l) = read_list(ctx.srv, db, &args[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    match l.range(start, stop) {
        None => ctx.out.array(0),
        Some((s, e)) => {
            ctx.out.array(e - s + 1);
            for v in l.iter_range(s, e) {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

/// LINDEX key index (the key is looked up before the index is parsed).
pub fn lindex(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let Some(l) = read_list(ctx.srv, db, &args[1])? else {
        ctx.out.null();
        return Ok(());
    };
    let index = int(&args[2])?;
    match l.get(index) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut q = PosQuery {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if kw(&args[j], "rank") && more {
            j += 1;
            q.rank = int(&args[j])?;
            if q.rank == 0 {
                return Err(CmdError::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if kw(&args[j], "count") && more {
            j += 1;
            match parse_i64(&args[j]) {
                Some(n) if n >= 0 => q.count = Some(n),
                _ => return Err(CmdError::err("COUNT can't be negative")),
            }
        } else if kw(&args[j], "maxlen") && more {
            j += 1;
            match parse_i64(&args[j]) {
                Some(n) if n >= 0 => q.maxlen = n,
                _ => return Err(CmdError::err("MAXLEN can't be negative")),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let db = ctx.client.db;
    let Some(l) = read_list(ctx.srv, db, &args[1])? else {
        match q.count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let found = l.positions(&args[2], q);
    match q.count {
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(i),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

// ----------------------------------------------------------------------------- write commands

/// LSET key index element (no key is an error, checked before the index is parsed).
pub fn lset(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let db = ctx.client.db;
    let Some(l) = write_list(ctx.srv, db, key)? else {
        return Err(CmdError::NoSuchKey);
    };
    let index = int(&args[2])?;
    if !l.set(index, &args[3]) {
        return Err(CmdError::err("index out of range"));
    }
    ctx.out.ok();
    ctx.changed(notify::LIST, "lset", key);
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element
pub fn linsert(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let after = if kw(&args[2], "after") {
        true
    } else if kw(&args[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let key = &args[1];
    let db = ctx.client.db;
    let Some(l) = write_list(ctx.srv, db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    if !l.insert(after, &args[3], &args[4]) {
        ctx.out.int(-1);
        return Ok(());
    }
    let len = l.len();
    ctx.changed(notify::LIST, "linsert", key);
    ctx.out.int(len as i64);
    Ok(())
}

/// LREM key count element
pub fn lrem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let count = int(&args[2])?;
    let key = &args[1];
    let db = ctx.client.db;
    let Some(l) = write_list(ctx.srv, db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = l.remove(count, &args[3]);
    if removed > 0 {
        elements_removed(ctx, key, "lrem", removed);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// LTRIM key start stop: the `ltrim` event and WATCH invalidation even when nothing goes.
pub fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let start = int(&args[2])?;
    let stop = int(&args[3])?;
    let key = &args[1];
    let db = ctx.client.db;
    let Some(l) = write_list(ctx.srv, db, key)? else {
        ctx.out.ok();
        return Ok(());
    };
    let removed = l.trim(start, stop);
    elements_removed(ctx, key, "ltrim", removed);
    ctx.out.ok();
    Ok(())
}

// ---------------------------------------------------------------------------------- moves

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx) -> CmdResult {
    let from = side(&ctx.args[3])?;
    let to = side(&ctx.args[4])?;
    lmove_generic(ctx, from, to)
}

/// RPOPLPUSH source destination
pub fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    lmove_generic(ctx, End::Right, End::Left)
}

/// Move one element from `args[1]` to `args[2]` (Redis's `lmoveGenericCommand`). The
/// destination's type is checked before anything is popped; the source may be the
/// destination (a rotation, which never empties the list).
fn lmove_generic(ctx: &mut Ctx, from: End, to: End) -> CmdResult {
    let args = ctx.args;
    let (src, dst) = (&args[1], &args[2]);
    let db = ctx.client.db;
    if write_list(ctx.srv, db, src)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    write_list(ctx.srv, db, dst)?;
    let Some(value) = list_mut(ctx.srv, db, src).and_then(|l| l.pop(from)) else {
        ctx.out.null();
        return Ok(());
    };
    // The push side first: new key (waking its waiters), WATCH, event.
    match list_mut(ctx.srv, db, dst) {
        Some(l) => l.push(to, &value),
        None => {
            let l = List::from_items(&[value.as_bytes()]);
            ctx.srv.data().set_key(db, dst, Value::List(l), false);
        }
    }
    ctx.srv.data().signal_modified(db, dst);
    ctx.srv
        .data()
        .notify(notify::LIST, to.push_event(), dst, db);
    ctx.out.bulk(&value);
    // Then the pop side.
    elements_removed(ctx, src, from.pop_event(), 1);
    // The blocking forms reach replicas and the AOF as the plain ones. A client served after
    // blocking gets Redis's `serveClientBlockedOnList` rewrite, which spells the sides in
    // lowercase; served at once, the arguments are kept as typed.
    let (name, served) = (ctx.spec.name, ctx.served_blocked());
    let rewrite = match name {
        "blmove" => {
            let (a3, a4) = if served {
                (
                    Bytes::from_static(from.word()),
                    Bytes::from_static(to.word()),
                )
            } else {
                (args[3].clone(), args[4].clone())
            };
            Some(vec![
                Bytes::from_static(b"LMOVE"),
                src.clone(),
                dst.clone(),
                a3,
                a4,
            ])
        }
        "brpoplpush" => Some(vec![
            Bytes::from_static(b"RPOPLPUSH"),
            src.clone(),
            dst.clone(),
        ]),
        _ => None,
    };
    if let Some(cmd) = rewrite {
        ctx.propagate_as(vec![cmd]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------- multi-key pops

/// LMPOP/BLMPOP's arguments from `numkeys_idx` on: the keys, the side, and COUNT (default 1),
/// with Redis's messages.
fn mpop_args(args: &[Bytes], numkeys_idx: usize) -> Result<(&[Bytes], End, usize), CmdError> {
    let numkeys = match parse_i64(&args[numkeys_idx]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::err("numkeys should be greater than 0")),
    };
    let where_idx = (numkeys_idx as u64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_idx >= args.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_idx = where_idx as usize;
    let end = side(&args[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && kw(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            match parse_i64(&args[j]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err(CmdError::err("count should be greater than 0")),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok((&args[numkeys_idx + 1..where_idx], end, count.unwrap_or(1)))
}

/// How a multi-key pop replies: BLPOP/BRPOP's `[key, element]`, or LMPOP/BLMPOP's
/// `[key, [elements]]` for up to `count` elements.
#[derive(Clone, Copy)]
enum PopShape {
    One,
    Many(usize),
}

/// Pop from the first non-empty list of `keys` (a key of another type is an error, wherever
/// it is). Returns false when every key was empty. Replicas get `[LR]POP key [n]`.
///
/// A waiter served after blocking is different: Redis pops from the key that became ready
/// without looking at the others, so one of them that has since become another type does
/// not fail it. The re-executed command skips such keys.
fn pop_first(ctx: &mut Ctx, keys: &[Bytes], end: End, shape: PopShape) -> Result<bool, CmdError> {
    let db = ctx.client.db;
    let served = ctx.served_blocked();
    for key in keys {
        match write_list(ctx.srv, db, key) {
            Ok(Some(_)) => {}
            Ok(None) => continue,
            Err(_) if served => continue,
            Err(e) => return Err(e),
        }
        let mut replicated = vec![Bytes::from_static(end.pop_name()), key.clone()];
        match shape {
            PopShape::One => {
                let popped = pop_from(ctx, key, end, 1);
                let Some(v) = popped.first() else { continue };
                ctx.out.array(2);
                ctx.out.bulk(key);
                ctx.out.bulk(v);
            }
            PopShape::Many(count) => {
                let popped = pop_from(ctx, key, end, count);
                if popped.is_empty() {
                    continue;
                }
                replicated.push(count_arg(popped.len()));
                ctx.out.array(2);
                ctx.out.bulk(key);
                reply_items(ctx, popped.iter());
            }
        }
        ctx.propagate_as(vec![replicated]);
        return Ok(true);
    }
    Ok(false)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, end, count) = mpop_args(ctx.args, 1)?;
    if !pop_first(ctx, keys, end, PopShape::Many(count))? {
        ctx.out.null_array();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------- blocking

pub fn blpop(ctx: &mut Ctx) -> CmdResult {
    blpop_cmd(ctx, End::Left)
}

pub fn brpop(ctx: &mut Ctx) -> CmdResult {
    blpop_cmd(ctx, End::Right)
}

/// BLPOP/BRPOP key [key ...] timeout
fn blpop_cmd(ctx: &mut Ctx, end: End) -> CmdResult {
    let args = ctx.args;
    let timeout = parse_timeout(&args[args.len() - 1])?;
    blocking_pop(ctx, &args[1..args.len() - 1], end, PopShape::One, timeout)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: the timeout is parsed
/// after the other arguments, as Redis does.
pub fn blmpop(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (keys, end, count) = mpop_args(args, 2)?;
    let timeout = parse_timeout(&args[1])?;
    blocking_pop(ctx, keys, end, PopShape::Many(count), timeout)
}

/// Pop from the first non-empty list, or block on all the keys (inside MULTI: answer as a
/// time-out at once).
fn blocking_pop(
    ctx: &mut Ctx,
    keys: &[Bytes],
    end: End,
    shape: PopShape,
    timeout: Option<Duration>,
) -> CmdResult {
    let order = ctx.serve_order(keys);
    if pop_first(ctx, &order, end, shape)? {
        return Ok(());
    }
    if !ctx.can_block() {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.block_on_keys(keys, "list", timeout);
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let from = side(&args[3])?;
    let to = side(&args[4])?;
    let timeout = parse_timeout(&args[5])?;
    blmove_generic(ctx, from, to, timeout)
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    let timeout = parse_timeout(&ctx.args[3])?;
    blmove_generic(ctx, End::Right, End::Left, timeout)
}

/// Move at once if the source has data; else block on the source alone. The destination's
/// type is only checked when there is something to move. Inside MULTI an empty source
/// answers a null bulk (not the null array of a time-out).
fn blmove_generic(ctx: &mut Ctx, from: End, to: End, timeout: Option<Duration>) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    if write_list(ctx.srv, db, &args[1])?.is_some() {
        return lmove_generic(ctx, from, to);
    }
    if !ctx.can_block() {
        ctx.out.null();
        return Ok(());
    }
    ctx.block_on_keys(&args[1..2], "list", timeout);
    Ok(())
}
