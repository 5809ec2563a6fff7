//! Pops: ZPOPMIN / ZPOPMAX, ZMPOP, and the blocking BZPOPMIN / BZPOPMAX / BZMPOP.

use bytes::Bytes;
use picket_common::resp::ReplyBuf;

use super::{delete_if_empty, peek, write_zset};
use crate::blocking::parse_timeout;
use crate::command::args::{kw, parse_i64};
use crate::command::exec::Propagate;
use crate::command::{CmdError, CmdResult, Ctx};
use crate::db::Value;
use crate::notify;

/// How many members a pop of `count` takes from the sorted set at `key`.
fn pop_len(ctx: &Ctx, key: &[u8], count: usize) -> usize {
    peek(ctx.srv, ctx.client.db, key).map_or(0, |z| count.min(z.len()))
}

/// Pop `n` members (see [`pop_len`]) from the sorted set at `key`, lowest or highest first,
/// writing each with `emit` (the caller wrote the reply's header). As Redis's
/// `genericZpopCommand`: the `zpopmin`/`zpopmax` event after the first member is removed (a
/// RESP3 client subscribed to it sees the push inside the reply, as from Redis), `del` if the
/// set empties.
fn pop(
    ctx: &mut Ctx,
    key: &[u8],
    max: bool,
    n: usize,
    mut emit: impl FnMut(&mut ReplyBuf, &[u8], f64),
) {
    let db = ctx.db();
    for i in 0..n {
        let popped = match ctx.srv.keyspace.dbs[db].get_mut(key).map(|e| &mut e.val) {
            Some(Value::ZSet(z)) => {
                let at = if max { z.len().saturating_sub(1) } else { 0 };
                z.remove_at(at)
            }
            _ => None,
        };
        let Some((m, s)) = popped else {
            break;
        };
        ctx.srv.dirty += 1;
        if i == 0 {
            let event = if max { "zpopmax" } else { "zpopmin" };
            ctx.srv.data().notify(notify::ZSET, event, key, db);
            ctx.srv.data().signal_modified(db, key);
            ctx.flush_pushes();
        }
        emit(ctx.out, &m, s);
    }
    if delete_if_empty(ctx.srv, db, key) {
        ctx.srv.data().notify(notify::GENERIC, "del", key, db);
    }
}

/// One popped member of a nested reply: [member, score].
fn emit_pair(out: &mut ReplyBuf, m: &[u8], s: f64) {
    out.array(2);
    out.bulk(m);
    out.double(s);
}

/// One popped member of a flat reply: member, score.
fn emit_flat(out: &mut ReplyBuf, m: &[u8], s: f64) {
    out.bulk(m);
    out.double(s);
}

fn pop_name(max: bool) -> Bytes {
    Bytes::from_static(if max { b"ZPOPMAX" } else { b"ZPOPMIN" })
}

/// ZPOPMIN/ZPOPMAX key [count]
fn zpop_minmax(ctx: &mut Ctx, max: bool) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match ctx.args.get(2) {
        None => None,
        Some(a) => match parse_i64(a) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::err("value is out of range, must be positive")),
        },
    };
    let nested = ctx.out.resp3() && count.is_some();
    let key = &ctx.args[1];
    let db = ctx.db();
    if write_zset(ctx.srv, db, key)?.is_none() || count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let n = pop_len(ctx, key, count.unwrap_or(1));
    if nested {
        ctx.out.array(n);
        pop(ctx, key, max, n, emit_pair);
    } else {
        ctx.out.array(2 * n);
        pop(ctx, key, max, n, emit_flat);
    }
    Ok(())
}

pub fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    zpop_minmax(ctx, false)
}

pub fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    zpop_minmax(ctx, true)
}

/// The first existing key of `keys` if it is a sorted set; WRONGTYPE if it is another type
/// (the keys after it are not looked at).
fn first_existing(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Option<Bytes>, CmdError> {
    let db = ctx.db();
    for k in keys {
        if let Some(z) = write_zset(ctx.srv, db, k)? {
            if !z.is_empty() {
                return Ok(Some(k.clone()));
            }
        }
    }
    Ok(None)
}

/// Parsed ZMPOP/BZMPOP arguments: keys, MAX or MIN, count.
fn parse_mpop(args: &[Bytes], numkeys_idx: usize) -> Result<(Vec<Bytes>, bool, usize), CmdError> {
    let numkeys = match parse_i64(&args[numkeys_idx]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::err("numkeys should be greater than 0")),
    };
    let where_idx = (numkeys_idx as u64 + 1).saturating_add(numkeys);
    if where_idx >= args.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_idx = where_idx as usize;
    let max = if kw(&args[where_idx], "min") {
        false
    } else if kw(&args[where_idx], "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count.is_none() && kw(&args[j], "count") && more > 0 {
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
    let keys = args[numkeys_idx + 1..where_idx].to_vec();
    Ok((keys, max, count.unwrap_or(1)))
}

/// Pop `count` from `key` for ZMPOP/BZMPOP: reply and propagate as ZPOPMIN/ZPOPMAX key n.
fn mpop_from(ctx: &mut Ctx, key: &Bytes, max: bool, count: usize) {
    let n = pop_len(ctx, key, count);
    ctx.out.array(2);
    ctx.out.bulk(key);
    ctx.out.array(n);
    pop(ctx, key, max, n, emit_pair);
    let n = Bytes::from(n.to_string());
    ctx.propagate = Propagate::Commands(vec![vec![pop_name(max), key.clone(), n]]);
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, max, count) = parse_mpop(ctx.args, 1)?;
    match first_existing(ctx, &keys)? {
        Some(key) => mpop_from(ctx, &key, max, count),
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, max, count) = parse_mpop(ctx.args, 2)?;
    let timeout = parse_timeout(&ctx.args[1])?;
    // Served again because a key got data: that key first, as Redis serves from it.
    let order = ctx.serve_order(&keys);
    match first_existing(ctx, &order)? {
        Some(key) => mpop_from(ctx, &key, max, count),
        None if !ctx.can_block() => ctx.out.null_array(),
        None => ctx.block_on_keys(&keys, "zset", timeout),
    }
    Ok(())
}

/// BZPOPMIN/BZPOPMAX key [key ...] timeout
fn bzpop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let timeout = parse_timeout(&ctx.args[ctx.args.len() - 1])?;
    let keys = ctx.args[1..ctx.args.len() - 1].to_vec();
    let db = ctx.db();
    for key in &ctx.serve_order(&keys) {
        if write_zset(ctx.srv, db, key)?.is_none_or(|z| z.is_empty()) {
            continue;
        }
        let n = pop_len(ctx, key, 1);
        ctx.out.array(1 + 2 * n);
        ctx.out.bulk(key);
        pop(ctx, key, max, n, emit_flat);
        ctx.propagate = Propagate::Commands(vec![vec![pop_name(max), key.clone()]]);
        return Ok(());
    }
    if !ctx.can_block() {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.block_on_keys(&keys, "zset", timeout);
    Ok(())
}

pub fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, false)
}

pub fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, true)
}
