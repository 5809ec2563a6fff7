//! Set commands, as Redis 7.0's `t_set.c`: replies (RESP3 sets where Redis uses them), errors
//! in Redis's order, keyspace events, the dirty counter, and the propagated effects (SPOP as
//! SREM, or DEL when it empties the set). Random choices (SPOP, SRANDMEMBER) draw from the
//! server's seeded RNG and follow Redis's case analysis, so edge results agree with Redis even
//! though the members drawn differ.

use bytes::Bytes;
use picket_common::glob::string_match;
use picket_common::resp::ReplyBuf;
use rand::RngExt;

use super::args::{int, is, parse_cursor, parse_i64, scan_options};
use super::exec::Propagate;
use super::{CmdError, CmdResult, Ctx};
use crate::db::set::{self, Member, Set};
use crate::db::{Db, Dict, SmallBytes, Value};
use crate::notify;
use crate::server::Server;

// ------------------------------------------------------------------------------------ helpers

fn reply_member(out: &mut ReplyBuf, m: Member) {
    match m {
        Member::Int(n) => out.bulk_int(n),
        Member::Bytes(b) => out.bulk(b),
    }
}

/// The set at `key` for reading (lookup with statistics and `keymiss`); WRONGTYPE for another
/// type.
fn read_set<'s>(srv: &'s mut Server, db: usize, key: &[u8]) -> Result<Option<&'s Set>, CmdError> {
    match srv.data().lookup_read(db, key).map(|e| &e.val) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Whether a set is stored at `key`, after a write lookup; WRONGTYPE for another type.
fn write_lookup(srv: &mut Server, db: usize, key: &[u8]) -> Result<bool, CmdError> {
    match srv.data().lookup_write(db, key).map(|e| &e.val) {
        None => Ok(false),
        Some(Value::Set(_)) => Ok(true),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Mutable access to the set stored at `key` (looked up already), with a seed source for the
/// dicts it may create and the intset limit.
fn with_set<R>(
    srv: &mut Server,
    db: usize,
    key: &[u8],
    f: impl FnOnce(&mut Set, usize, set::Seed) -> R,
) -> Option<R> {
    let crate::data::Data {
        keyspace: crate::keyspace::Keyspace { dbs, .. },
        rng,
        cfg,
        ..
    } = srv.data();
    let max = cfg.set_max_intset_entries;
    match dbs[db].get_mut(key).map(|e| &mut e.val) {
        Some(Value::Set(s)) => Some(f(s, max, &mut || rng.random())),
        _ => None,
    }
}

/// Delete the set at `key` if it is empty; true if it was.
fn remove_if_empty(srv: &mut Server, db: usize, key: &[u8]) -> bool {
    let empty = matches!(srv.keyspace.dbs[db].get(key).map(|e| &e.val), Some(Value::Set(s)) if s.is_empty());
    if empty {
        srv.keyspace.dbs[db].remove(key);
    }
    empty
}

/// Store a command's result set at `dst` (Redis's `setKey`, whose write lookup expires an
/// old key first), or, for an empty result, delete `dst` (`dbDelete`, no expiry check): the
/// reply is the result's size. `event` is the command's keyspace event.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: Set, event: &str) {
    let db = ctx.db();
    let n = result.len();
    if n > 0 {
        ctx.srv.data().lookup_write(db, dst);
        ctx.srv.data().set_key(db, dst, Value::Set(result), false);
        ctx.out.int(n as i64);
        ctx.changed(notify::SET, event, dst);
    } else {
        ctx.out.int(0);
        if ctx.srv.keyspace.dbs[db].remove(dst).is_some() {
            ctx.changed(notify::GENERIC, "del", dst);
        }
    }
}

/// Look up every key for reading, in order (statistics, `keymiss`, lazy expiry), stopping at
/// the first of another type.
fn lookup_all(srv: &mut Server, db: usize, keys: &[Bytes]) -> CmdResult {
    for k in keys {
        read_set(srv, db, k)?;
    }
    Ok(())
}

/// The sets stored at `keys` (None for a missing key), without any side effect.
fn stored<'a>(db: &'a Db, keys: &[Bytes]) -> Vec<Option<&'a Set>> {
    keys.iter()
        .map(|k| match db.get(k).map(|e| &e.val) {
            Some(Value::Set(s)) => Some(s),
            _ => None,
        })
        .collect()
}

// ------------------------------------------------------------------------- add and remove

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let key = ctx.args[1].clone();
    if !write_lookup(ctx.srv, db, &key)? {
        let s = Set::for_member(&ctx.args[2], &mut || ctx.srv.data().random_u64());
        ctx.srv.data().set_key(db, &key, Value::Set(s), false);
    }
    let members = &ctx.args[2..];
    let added = with_set(ctx.srv, db, &key, |s, max, seed| {
        members.iter().filter(|m| s.add(m, max, seed)).count()
    })
    .unwrap_or(0);
    if added > 0 {
        ctx.srv.data().signal_modified(db, &key);
        ctx.srv.data().notify(notify::SET, "sadd", &key, db);
    }
    ctx.srv.dirty += added as u64;
    ctx.out.int(added as i64);
    Ok(())
}

/// SREM key member [member ...]: stops at the member that empties the set, which is deleted.
pub fn srem(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let key = ctx.args[1].clone();
    if !write_lookup(ctx.srv, db, &key)? {
        ctx.out.int(0);
        return Ok(());
    }
    let members = &ctx.args[2..];
    let removed = with_set(ctx.srv, db, &key, |s, _, _| {
        let mut n = 0;
        for m in members {
            if s.remove(m) {
                n += 1;
                if s.is_empty() {
                    break;
                }
            }
        }
        n
    })
    .unwrap_or(0);
    if removed > 0 {
        let deleted = remove_if_empty(ctx.srv, db, &key);
        ctx.srv.data().signal_modified(db, &key);
        ctx.srv.data().notify(notify::SET, "srem", &key, db);
        if deleted {
            ctx.srv.data().notify(notify::GENERIC, "del", &key, db);
        }
        ctx.srv.dirty += removed as u64;
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let (src, dst, m) = (
        ctx.args[1].clone(),
        ctx.args[2].clone(),
        ctx.args[3].clone(),
    );
    let src_val = ctx
        .srv
        .data()
        .lookup_write(db, &src)
        .map(|e| e.val.type_name());
    let dst_val = ctx
        .srv
        .data()
        .lookup_write(db, &dst)
        .map(|e| e.val.type_name());
    let Some(src_type) = src_val else {
        ctx.out.int(0);
        return Ok(());
    };
    if src_type != "set" || dst_val.is_some_and(|t| t != "set") {
        return Err(CmdError::WrongType);
    }
    if src == dst {
        let member = matches!(ctx.srv.keyspace.dbs[db].get(&src).map(|e| &e.val),
            Some(Value::Set(s)) if s.contains(&m));
        ctx.out.int(member as i64);
        return Ok(());
    }
    if !with_set(ctx.srv, db, &src, |s, _, _| s.remove(&m)).unwrap_or(false) {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.srv.data().notify(notify::SET, "srem", &src, db);
    if remove_if_empty(ctx.srv, db, &src) {
        ctx.srv.data().notify(notify::GENERIC, "del", &src, db);
    }
    if dst_val.is_none() {
        let s = Set::for_member(&m, &mut || ctx.srv.data().random_u64());
        ctx.srv.data().set_key(db, &dst, Value::Set(s), false);
    }
    ctx.srv.data().signal_modified(db, &src);
    ctx.srv.dirty += 1;
    if with_set(ctx.srv, db, &dst, |s, max, seed| s.add(&m, max, seed)).unwrap_or(false) {
        ctx.changed(notify::SET, "sadd", &dst);
    }
    ctx.out.int(1);
    Ok(())
}

// ------------------------------------------------------------------------------- queries

/// SISMEMBER key member
pub fn sismember(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let found = read_set(ctx.srv, db, &ctx.args[1])?.is_some_and(|s| s.contains(&ctx.args[2]));
    ctx.out.int(found as i64);
    Ok(())
}

/// SMISMEMBER key member [member ...]: a missing key is an empty set.
pub fn smismember(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let s = read_set(ctx.srv, db, &ctx.args[1])?;
    ctx.out.array(ctx.args.len() - 2);
    for m in &ctx.args[2..] {
        ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

/// SCARD key
pub fn scard(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let n = read_set(ctx.srv, db, &ctx.args[1])?.map_or(0, Set::len);
    ctx.out.int(n as i64);
    Ok(())
}

// ------------------------------------------------------------------------------- random

/// The `count` of SPOP: any failure is "must be positive" (Redis's
/// `getPositiveLongFromObjectOrReply`).
fn spop_count(arg: &[u8]) -> Result<u64, CmdError> {
    match parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(CmdError::err("value is out of range, must be positive")),
    }
}

/// SPOP key [count]: propagated as `SREM key member` per member popped, or as DEL when the
/// whole set goes.
pub fn spop(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    if ctx.args.len() == 3 {
        return spop_count_cmd(ctx);
    }
    let db = ctx.db();
    let key = ctx.args[1].clone();
    if !write_lookup(ctx.srv, db, &key)? {
        ctx.out.null();
        return Ok(());
    }
    let popped = with_set(ctx.srv, db, &key, |s, _, seed| {
        let m = s.random(seed).map(|m| m.to_small())?;
        s.remove(&m);
        Some(m)
    })
    .flatten();
    let Some(m) = popped else {
        // A stored set is never empty.
        ctx.out.null();
        return Ok(());
    };
    ctx.srv.data().notify(notify::SET, "spop", &key, db);
    ctx.propagate_as(vec![vec![
        Bytes::from_static(b"SREM"),
        key.clone(),
        Bytes::copy_from_slice(&m),
    ]]);
    ctx.out.bulk(&m);
    if remove_if_empty(ctx.srv, db, &key) {
        ctx.srv.data().notify(notify::GENERIC, "del", &key, db);
    }
    ctx.srv.data().signal_modified(db, &key);
    ctx.srv.dirty += 1;
    Ok(())
}

/// Redis's `SPOP_MOVE_STRATEGY_MUL`.
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;

fn spop_count_cmd(ctx: &mut Ctx) -> CmdResult {
    let count = spop_count(&ctx.args[2])?;
    let db = ctx.db();
    let key = ctx.args[1].clone();
    if !write_lookup(ctx.srv, db, &key)? || count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    let size = with_set(ctx.srv, db, &key, |s, _, _| s.len()).unwrap_or(0) as u64;
    ctx.srv.data().notify(notify::SET, "spop", &key, db);
    ctx.srv.dirty += count.min(size);
    if count >= size {
        // The whole set, as SUNION of it replies it (an intset result comes sorted).
        let all = with_set(ctx.srv, db, &key, |s, max, seed| {
            set::union(&[Some(&*s)], max, seed)
        });
        let all = all.unwrap_or_default();
        ctx.out.set(all.len());
        for m in all.iter() {
            reply_member(ctx.out, m);
        }
        ctx.srv.keyspace.dbs[db].remove(&key);
        ctx.srv.data().notify(notify::GENERIC, "del", &key, db);
        ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), key.clone()]]);
        ctx.srv.data().signal_modified(db, &key);
        return Ok(());
    }
    let remaining = size - count;
    let popped: Vec<SmallBytes> = with_set(ctx.srv, db, &key, |s, max, seed| {
        if remaining * SPOP_MOVE_STRATEGY_MUL > count {
            // Few to pop: draw and remove them one by one.
            let mut out = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let Some(m) = s.random(seed).map(|m| m.to_small()) else {
                    break;
                };
                s.remove(&m);
                out.push(m);
            }
            out
        } else {
            // Most of the set: draw the members that stay into a new set, and pop what is
            // left of the old one, in its order.
            let mut kept: Option<Set> = None;
            for _ in 0..remaining {
                let Some(m) = s.random(seed).map(|m| m.to_small()) else {
                    break;
                };
                let k = kept.get_or_insert_with(|| Set::for_member(&m, seed));
                k.add(&m, max, seed);
                s.remove(&m);
            }
            let out = s.iter().map(|m| m.to_small()).collect();
            if let Some(k) = kept {
                *s = k;
            }
            out
        }
    })
    .unwrap_or_default();
    ctx.out.set(popped.len());
    let mut effects = Vec::with_capacity(popped.len());
    for m in &popped {
        ctx.out.bulk(m);
        effects.push(vec![
            Bytes::from_static(b"SREM"),
            key.clone(),
            Bytes::copy_from_slice(m),
        ]);
    }
    ctx.propagate = Propagate::Commands(effects);
    ctx.srv.data().signal_modified(db, &key);
    Ok(())
}

/// Redis's `SRANDMEMBER_SUB_STRATEGY_MUL`.
const SRANDMEMBER_SUB_STRATEGY_MUL: u64 = 3;

/// Replies bigger than this are cut and the client closed, as an output buffer limit would
/// (Redis has none by default and would run out of memory on `SRANDMEMBER k -<huge>`).
const MAX_RANDOM_REPLY: usize = 512 << 20;

/// SRANDMEMBER key [count]: a negative count allows repetitions.
pub fn srandmember(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let db = ctx.db();
    if ctx.args.len() == 2 {
        if read_set(ctx.srv, db, &ctx.args[1])?.is_none() {
            ctx.out.null();
            return Ok(());
        }
        let crate::data::Data {
            keyspace: crate::keyspace::Keyspace { dbs, .. },
            rng,
            ..
        } = ctx.srv.data();
        match stored(&dbs[db], &ctx.args[1..2])[0].and_then(|s| s.random(&mut || rng.random())) {
            Some(m) => reply_member(ctx.out, m),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let l = int(&ctx.args[2])?;
    if l == i64::MIN {
        return Err(CmdError::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    if read_set(ctx.srv, db, &ctx.args[1])?.is_none() || count == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    let hard = ctx.srv.cfg.obuf_limits[0].hard as usize;
    let limit = if hard > 0 { hard } else { MAX_RANDOM_REPLY };
    let crate::data::Data {
        keyspace: crate::keyspace::Keyspace { dbs, .. },
        rng,
        ..
    } = ctx.srv.data();
    let Some(s) = stored(&dbs[db], &ctx.args[1..2])[0] else {
        ctx.out.array(0);
        return Ok(());
    };
    let mut rand = || rng.random::<u64>();
    let size = s.len() as u64;
    // Repetitions allowed (or a single member): draw `count` times.
    if !uniq || count == 1 {
        ctx.out.array(count as usize);
        for _ in 0..count {
            if let Some(m) = s.random(&mut rand) {
                reply_member(ctx.out, m);
            }
            if ctx.out.len() > limit {
                ctx.client.close_asap("output buffer limits");
                break;
            }
        }
        return Ok(());
    }
    // The whole set, in its order.
    if count >= size {
        ctx.out.array(size as usize);
        for m in s.iter() {
            reply_member(ctx.out, m);
        }
        return Ok(());
    }
    let mut picked: Dict<SmallBytes, ()> = Dict::with_seed(rand());
    if count * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        // Close to the whole set: copy it, then remove random members.
        picked.expand(size as usize);
        for m in s.iter() {
            picked.insert(m.to_small(), ());
        }
        while picked.len() as u64 > count {
            let Some(k) = picked.random_entry(&mut rand).map(|(k, _)| k.clone()) else {
                break;
            };
            picked.remove(&k);
        }
    } else {
        // Far fewer than the set: draw until enough distinct members.
        picked.expand(count as usize);
        while (picked.len() as u64) < count {
            let Some(m) = s.random(&mut rand) else { break };
            m.with_bytes(|b| {
                picked.get_or_insert_with(b, || SmallBytes::from(b), || ());
            });
        }
    }
    ctx.out.array(picked.len());
    for k in picked.keys() {
        ctx.out.bulk(k);
    }
    Ok(())
}

// ---------------------------------------------------------------------------- algebra

/// SMEMBERS key (Redis runs it as SINTER of one key).
pub fn smembers(ctx: &mut Ctx) -> CmdResult {
    sinter(ctx)
}

/// SINTER key [key ...]: members in the order of the smallest set.
pub fn sinter(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    if ctx.args.len() == 2 {
        // SMEMBERS (or SINTER of one key): the members in the set's own order, without the
        // vectors of the many-set path.
        let Some(s) = read_set(ctx.srv, db, &ctx.args[1])? else {
            ctx.out.set(0);
            return Ok(());
        };
        ctx.out.set(s.len());
        for m in s.iter() {
            reply_member(ctx.out, m);
        }
        return Ok(());
    }
    lookup_all(ctx.srv, db, &ctx.args[1..])?;
    let sets = stored(&ctx.srv.keyspace.dbs[db], &ctx.args[1..]);
    let Some(sets) = sets.into_iter().collect::<Option<Vec<&Set>>>() else {
        ctx.out.set(0);
        return Ok(());
    };
    let head = ctx.out.deferred();
    let mut n = 0;
    let out = &mut *ctx.out;
    set::intersect(&sets, |m| {
        reply_member(out, m);
        n += 1;
        true
    });
    ctx.out.finish_set(head, n);
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let numkeys = match parse_i64(&ctx.args[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::err("numkeys should be greater than 0")),
    };
    if numkeys > (ctx.args.len() - 2) as u64 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    let numkeys = numkeys as usize;
    let mut limit: u64 = 0;
    let mut j = 2 + numkeys;
    while j < ctx.args.len() {
        if is(&ctx.args[j], "limit") && j + 1 < ctx.args.len() {
            j += 1;
            limit = match parse_i64(&ctx.args[j]) {
                Some(n) if n >= 0 => n as u64,
                _ => return Err(CmdError::err("LIMIT can't be negative")),
            };
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let db = ctx.db();
    lookup_all(ctx.srv, db, &ctx.args[2..2 + numkeys])?;
    let sets = stored(&ctx.srv.keyspace.dbs[db], &ctx.args[2..2 + numkeys]);
    let mut n: u64 = 0;
    if let Some(sets) = sets.into_iter().collect::<Option<Vec<&Set>>>() {
        set::intersect(&sets, |_| {
            n += 1;
            limit == 0 || n < limit
        });
    }
    ctx.out.int(n as i64);
    Ok(())
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let dst = ctx.args[1].clone();
    lookup_all(ctx.srv, db, &ctx.args[2..])?;
    let crate::data::Data {
        keyspace: crate::keyspace::Keyspace { dbs, .. },
        rng,
        cfg,
        ..
    } = ctx.srv.data();
    let max = cfg.set_max_intset_entries;
    // A missing key makes the result empty, and the destination goes.
    let result = match stored(&dbs[db], &ctx.args[2..])
        .into_iter()
        .collect::<Option<Vec<_>>>()
    {
        Some(sets) => set::intersection(&sets, max, &mut || rng.random()),
        None => Set::default(),
    };
    store_result(ctx, &dst, result, "sinterstore");
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// SUNION / SDIFF and their STORE forms (Redis's `sunionDiffGenericCommand`).
fn union_diff(ctx: &mut Ctx, op: Op, store: bool) -> CmdResult {
    let db = ctx.db();
    let first = if store { 2 } else { 1 };
    let keys = &ctx.args[first..];
    lookup_all(ctx.srv, db, keys)?;
    let crate::data::Data {
        keyspace: crate::keyspace::Keyspace { dbs, .. },
        rng,
        cfg,
        ..
    } = ctx.srv.data();
    let max = cfg.set_max_intset_entries;
    let sets = stored(&dbs[db], keys);
    let mut seed = || rng.random::<u64>();
    let result = match op {
        Op::Union => set::union(&sets, max, &mut seed),
        Op::Diff => set::difference(&sets, max, &mut seed),
    };
    if store {
        let dst = ctx.args[1].clone();
        let event = if op == Op::Union {
            "sunionstore"
        } else {
            "sdiffstore"
        };
        store_result(ctx, &dst, result, event);
    } else {
        ctx.out.set(result.len());
        for m in result.iter() {
            reply_member(ctx.out, m);
        }
    }
    Ok(())
}

pub fn sunion(ctx: &mut Ctx) -> CmdResult {
    union_diff(ctx, Op::Union, false)
}

pub fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    union_diff(ctx, Op::Union, true)
}

pub fn sdiff(ctx: &mut Ctx) -> CmdResult {
    union_diff(ctx, Op::Diff, false)
}

pub fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    union_diff(ctx, Op::Diff, true)
}

// ------------------------------------------------------------------------------------ SSCAN

/// SSCAN key cursor [MATCH pattern] [COUNT count]: an intset comes whole with cursor 0; a dict
/// is scanned like the keyspace (COUNT buckets' worth, at most 10×COUNT bucket visits).
pub fn sscan(ctx: &mut Ctx) -> CmdResult {
    let mut cursor = parse_cursor(&ctx.args[2]).ok_or_else(|| CmdError::err("invalid cursor"))?;
    let db = ctx.db();
    if read_set(ctx.srv, db, &ctx.args[1])?.is_none() {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    let args = ctx.args;
    let (count, pattern) = scan_options(args, 3)?;
    let Some(Value::Set(s)) = ctx.srv.keyspace.dbs[db].get(&args[1]).map(|e| &e.val) else {
        return Ok(());
    };
    let mut found: Vec<SmallBytes> = Vec::new();
    match s {
        Set::Intset(v) => {
            found.extend(v.iter().map(|n| Member::Int(n).to_small()));
            cursor = 0;
        }
        Set::Table(d) => {
            let mut max_iterations = count.saturating_mul(10);
            loop {
                cursor = d.scan(cursor, |k, _| found.push(k.clone()));
                if cursor == 0 || max_iterations == 0 {
                    break;
                }
                max_iterations -= 1;
                if found.len() >= count as usize {
                    break;
                }
            }
        }
    }
    if let Some(p) = pattern {
        found.retain(|k| string_match(p, k, false));
    }
    ctx.out.array(2);
    ctx.out.bulk_int(cursor as i64);
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}
