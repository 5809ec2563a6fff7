//! List commands, as Redis 7.0's `t_list.c`. Blocking variants use `crate::blocking`: when
//! nothing can be served they block; when a key gets data they run again and are propagated
//! as their non-blocking form.

use bytes::Bytes;

use super::exec::Propagate;
use super::{CmdError, CmdResult, Ctx};
use crate::blocking::parse_timeout;
use crate::db::{List, SmallBytes, Value};
use crate::notify;
use crate::server::Server;

// ------------------------------------------------------------------------------------ helpers

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

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
}

/// The list at `key` for reading; WRONGTYPE for another type.
#[allow(dead_code)] // for the read commands of the family (LLEN, LRANGE, ...), next
pub(super) fn read_list<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s List>, CmdError> {
    match srv.lookup_read(db, key).map(|e| &e.val) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The list at `key` for writing; WRONGTYPE for another type.
pub(super) fn write_list<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s mut List>, CmdError> {
    match srv.lookup_write(db, key).map(|e| &mut e.val) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// After popping from the list at `key`: delete it if it became empty (lists are never
/// empty in Redis), firing `del`.
pub(super) fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.client.db;
    let empty =
        matches!(ctx.srv.dbs[db].get(key).map(|e| &e.val), Some(Value::List(l)) if l.is_empty());
    if empty {
        ctx.srv.dbs[db].remove(key);
        ctx.srv.notify(notify::GENERIC, "del", key, db);
    }
}

/// Push `items` at one end of the list at `key`, creating it unless `only_existing`.
/// Returns the new length, or None when the key does not exist and was not created.
fn push(
    ctx: &mut Ctx,
    key: &Bytes,
    items: &[Bytes],
    end: End,
    only_existing: bool,
) -> Result<Option<usize>, CmdError> {
    let db = ctx.client.db;
    let len = match write_list(ctx.srv, db, key)? {
        Some(l) => {
            for it in items {
                let v = SmallBytes::from(&it[..]);
                match end {
                    End::Left => l.items.push_front(v),
                    End::Right => l.items.push_back(v),
                }
            }
            l.len()
        }
        None if only_existing => return Ok(None),
        None => {
            let mut l = List::new();
            for it in items {
                let v = SmallBytes::from(&it[..]);
                match end {
                    End::Left => l.items.push_front(v),
                    End::Right => l.items.push_back(v),
                }
            }
            let n = l.len();
            ctx.srv.set_key(db, key, Value::List(Box::new(l)), false);
            n
        }
    };
    let event = if end == End::Left { "lpush" } else { "rpush" };
    ctx.srv.signal_modified(db, key);
    ctx.srv.notify(notify::LIST, event, key, db);
    ctx.srv.dirty += items.len() as u64;
    Ok(Some(len))
}

/// Pop up to `count` elements from one end of the list at `key`. None if the key does not
/// exist.
fn pop(
    ctx: &mut Ctx,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<SmallBytes>>, CmdError> {
    let db = ctx.client.db;
    let Some(l) = write_list(ctx.srv, db, key)? else {
        return Ok(None);
    };
    let n = count.min(l.len());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let v = match end {
            End::Left => l.items.pop_front(),
            End::Right => l.items.pop_back(),
        };
        if let Some(v) = v {
            out.push(v);
        }
    }
    if !out.is_empty() {
        ctx.changed(notify::LIST, end.pop_event(), key);
        delete_if_empty(ctx, key);
    }
    Ok(Some(out))
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

fn push_cmd(ctx: &mut Ctx, end: End, only_existing: bool) -> CmdResult {
    let key = ctx.args[1].clone();
    let items = &ctx.args[2..];
    let len = push(ctx, &key, items, end, only_existing)?;
    ctx.out.int(len.unwrap_or(0) as i64);
    Ok(())
}

pub fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop_cmd(ctx, End::Left)
}

pub fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop_cmd(ctx, End::Right)
}

/// LPOP/RPOP key [count]
fn pop_cmd(ctx: &mut Ctx, end: End) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(ctx.arity_error());
    }
    let count = match ctx.args.get(2) {
        None => None,
        Some(a) => match super::args::parse_i64(a) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::err("value is out of range, must be positive")),
        },
    };
    let key = ctx.args[1].clone();
    let db = ctx.client.db;
    // The type is checked before a count of 0 answers.
    if ctx.srv.lookup_write(db, &key).is_none() {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    if write_list(ctx.srv, db, &key)?.is_none() {
        return Ok(());
    }
    if count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let popped = pop(ctx, &key, end, count.unwrap_or(1))?.unwrap_or_default();
    match count {
        None => match popped.first() {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.array(popped.len());
            for v in &popped {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------- blocking

pub fn blpop(ctx: &mut Ctx) -> CmdResult {
    blocking_pop(ctx, End::Left)
}

pub fn brpop(ctx: &mut Ctx) -> CmdResult {
    blocking_pop(ctx, End::Right)
}

/// BLPOP/BRPOP key [key ...] timeout: pop from the first non-empty list, or block.
fn blocking_pop(ctx: &mut Ctx, end: End) -> CmdResult {
    let timeout = parse_timeout(&ctx.args[ctx.args.len() - 1])?;
    let keys: Vec<Bytes> = ctx.args[1..ctx.args.len() - 1].to_vec();
    let db = ctx.client.db;
    for key in &keys {
        if write_list(ctx.srv, db, key)?.is_none() {
            continue;
        }
        let popped = pop(ctx, key, end, 1)?.unwrap_or_default();
        if let Some(v) = popped.first() {
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.bulk(v);
            // Replicas and the AOF see what happened: a plain pop.
            ctx.propagate =
                Propagate::Commands(vec![vec![Bytes::from_static(end.pop_name()), key.clone()]]);
            return Ok(());
        }
    }
    if !ctx.can_block() {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.block_on_keys(&keys, "list", timeout);
    Ok(())
}

macro_rules! pending { ($($n:ident),*) => { $(pub fn $n(_ctx: &mut Ctx) -> CmdResult { Err(CmdError::err("pending")) })* } }
pending!(
    llen, lrange, lindex, lset, linsert, lrem, ltrim, lpos, rpoplpush, lmove, lmpop, blmove,
    brpoplpush, blmpop
);
