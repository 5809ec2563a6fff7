//! Sorted set commands, as Redis 7.0's `t_zset.c`: ZADD and friends, the range family
//! (ZRANGE with BYSCORE / BYLEX / REV / LIMIT, ZRANGESTORE and the older Z[REV]RANGEBY*),
//! removals, pops (ZPOPMIN/MAX, ZMPOP and their blocking forms), the algebra (ZUNION, ZINTER,
//! ZDIFF, their STORE forms, ZINTERCARD), ZRANDMEMBER and ZSCAN.
//!
//! Each handler follows Redis's order of checks (argument parsing, key lookup and type, value
//! checks), because that order decides which error a client sees. Scores are parsed with C's
//! `strtod` rules (`parse.rs`): ZADD and weights as Redis's `string2d` (no leading space,
//! overflow refused), range bounds as `zslParseRange` (leading space and overflow accepted, a
//! bare `(` is an exclusive 0). Storage is `db::zset`.
//!
//! This file holds the shared helpers, ZADD / ZINCRBY, the simple reads and the removals; the
//! range family is in `range.rs`, the pops in `pop.rs`, the algebra in `algebra.rs`,
//! ZRANDMEMBER and ZSCAN in `random.rs`.

mod algebra;
mod parse;
mod pop;
mod random;
mod range;

use picket_common::resp::ReplyBuf;

use super::args::{int, kw};
use super::{CmdError, CmdResult, Ctx};
use crate::db::zset::{Limits, ZSet};
use crate::db::Value;
use crate::notify;
use crate::server::Server;
use parse::{parse_lex_range, parse_score, parse_score_range};
use range::{rank_span, Range, RangeType};

pub use algebra::{zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion, zunionstore};
pub use pop::{bzmpop, bzpopmax, bzpopmin, zmpop, zpopmax, zpopmin};
pub use random::{zrandmember, zscan};
pub use range::{
    zcount, zlexcount, zrange, zrangebylex, zrangebyscore, zrangestore, zrevrange, zrevrangebylex,
    zrevrangebyscore,
};

// ------------------------------------------------------------------------------------ helpers

pub(super) fn limits(srv: &Server) -> Limits {
    Limits {
        max_entries: srv.cfg.zset_max_listpack_entries,
        max_value: srv.cfg.zset_max_listpack_value,
    }
}

/// Seeds for new skiplists and dicts, drawn from one value of the server's RNG (taken before
/// the keyspace is borrowed).
pub(super) fn seeds(srv: &mut Server) -> impl FnMut() -> u64 {
    let mut state = srv.data().random_u64();
    move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The sorted set at `key` for reading (hit/miss statistics, lazy expiry); WRONGTYPE for
/// another type.
pub(super) fn read_zset<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s ZSet>, CmdError> {
    match srv.data().lookup_read(db, key).map(|e| &e.val) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The sorted set at `key` for writing.
fn write_zset<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s mut ZSet>, CmdError> {
    match srv.data().lookup_write(db, key).map(|e| &mut e.val) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The sorted set at `key` without any side effect (after a lookup did them).
pub(super) fn peek<'a>(srv: &'a Server, db: usize, key: &[u8]) -> Option<&'a ZSet> {
    match srv.keyspace.dbs[db].get(key).map(|e| &e.val) {
        Some(Value::ZSet(z)) => Some(z),
        _ => None,
    }
}

/// After removing members: delete the key if the set became empty; true if it did.
fn delete_if_empty(srv: &mut Server, db: usize, key: &[u8]) -> bool {
    if peek(srv, db, key).is_some_and(ZSet::is_empty) {
        srv.keyspace.dbs[db].remove(key);
        return true;
    }
    false
}

/// A range reply's header: `n` items, doubled for RESP2 WITHSCORES (RESP3 nests pairs).
fn range_header(out: &mut ReplyBuf, n: usize, withscores: bool) {
    out.array(if withscores && !out.resp3() { 2 * n } else { n });
}

/// One item of a range reply.
fn range_item(out: &mut ReplyBuf, m: &[u8], s: f64, withscores: bool) {
    if withscores && out.resp3() {
        out.array(2);
    }
    out.bulk(m);
    if withscores {
        out.double(s);
    }
}

fn range_reply(out: &mut ReplyBuf, items: &[(&[u8], f64)], withscores: bool) {
    range_header(out, items.len(), withscores);
    for (m, s) in items {
        range_item(out, m, *s, withscores);
    }
}

/// Store a computed sorted set at `dst` (Redis's `setKey` of the *STORE commands), or delete
/// `dst` when the result is empty; replies with the size.
fn store_result(ctx: &mut Ctx, dst: &[u8], z: ZSet, event: &str) {
    let db = ctx.db();
    if z.is_empty() {
        ctx.out.int(0);
        if ctx.srv.keyspace.dbs[db].remove(dst).is_some() {
            ctx.changed(notify::GENERIC, "del", dst);
        }
        return;
    }
    let n = z.len();
    ctx.srv.data().expire_if_needed(db, dst);
    ctx.srv.data().set_key(db, dst, Value::ZSet(z), false);
    ctx.flush_pushes();
    ctx.out.int(n as i64);
    ctx.changed(notify::ZSET, event, dst);
}

// ----------------------------------------------------------------------------- ZADD, ZINCRBY

const NX: u32 = 1 << 0;
const XX: u32 = 1 << 1;
const GT: u32 = 1 << 2;
const LT: u32 = 1 << 3;
const INCR: u32 = 1 << 4;

/// What `zset_add` did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Added {
    New,
    Updated,
    /// Processed, score unchanged.
    Same,
    Nop,
}

/// Redis's `zsetAdd`: add or update one member. Err when an increment gives NaN. Returns what
/// happened and the member's score after it.
fn zset_add(
    z: &mut ZSet,
    score: f64,
    member: &[u8],
    flags: u32,
    lim: Limits,
    seed: &mut dyn FnMut() -> u64,
) -> Result<(Added, f64), ()> {
    match z.score(member) {
        Some(cur) => {
            if flags & NX != 0 {
                return Ok((Added::Nop, cur));
            }
            let mut score = score;
            if flags & INCR != 0 {
                score += cur;
                if score.is_nan() {
                    return Err(());
                }
            }
            if (flags & LT != 0 && score >= cur) || (flags & GT != 0 && score <= cur) {
                return Ok((Added::Nop, cur));
            }
            if score != cur {
                z.set_score(member, cur, score);
                return Ok((Added::Updated, score));
            }
            Ok((Added::Same, score))
        }
        None if flags & XX == 0 => {
            z.insert(member, score, lim, seed);
            Ok((Added::New, score))
        }
        None => Ok((Added::Nop, 0.0)),
    }
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...], and ZINCRBY.
pub(super) fn zadd_generic(ctx: &mut Ctx, mut flags: u32) -> CmdResult {
    let args = ctx.args;
    let mut ch = false;
    let mut i = 2;
    while i < args.len() {
        let o = &args[i];
        if kw(o, "nx") {
            flags |= NX;
        } else if kw(o, "xx") {
            flags |= XX;
        } else if kw(o, "ch") {
            ch = true;
        } else if kw(o, "incr") {
            flags |= INCR;
        } else if kw(o, "gt") {
            flags |= GT;
        } else if kw(o, "lt") {
            flags |= LT;
        } else {
            break;
        }
        i += 1;
    }
    let elements = args.len() - i;
    if !elements.is_multiple_of(2) || elements == 0 {
        return Err(CmdError::Syntax);
    }
    let n = elements / 2;
    let has = |f: u32| flags & f != 0;
    if has(NX) && has(XX) {
        return Err(CmdError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (has(GT) && has(NX)) || (has(LT) && has(NX)) || (has(GT) && has(LT)) {
        return Err(CmdError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if has(INCR) && n > 1 {
        return Err(CmdError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    let mut scores = Vec::with_capacity(n);
    for j in 0..n {
        scores.push(parse_score(&args[i + 2 * j]).ok_or(CmdError::NotFloat)?);
    }
    let key = &args[1];
    let db = ctx.db();
    let lim = limits(ctx.srv);
    let mut seed = seeds(ctx.srv);
    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut score = 0.0;
    let mut nan = false;
    if write_zset(ctx.srv, db, key)?.is_none() && !has(XX) {
        let z = ZSet::for_first_member(args[i + 1].len(), lim, &mut seed);
        ctx.srv.data().set_key(db, key, Value::ZSet(z), false);
        // Its `new` event comes before the reply, the `zadd` one after (as in Redis).
        ctx.flush_pushes();
    }
    if let Some(z) = write_zset(ctx.srv, db, key)? {
        for (j, &s) in scores.iter().enumerate() {
            match zset_add(z, s, &args[i + 1 + 2 * j], flags, lim, &mut seed) {
                Err(()) => {
                    nan = true;
                    break;
                }
                Ok((what, new)) => {
                    match what {
                        Added::New => added += 1,
                        Added::Updated => updated += 1,
                        _ => {}
                    }
                    if what != Added::Nop {
                        processed += 1;
                    }
                    score = new;
                }
            }
        }
    }
    // A NaN comes only from INCR's single pair, which then changed nothing: no event.
    if nan {
        return Err(CmdError::err("resulting score is not a number (NaN)"));
    }
    // The reply first, then the `zadd` event, as Redis's zaddGenericCommand does.
    if has(INCR) {
        if processed > 0 {
            ctx.out.double(score);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out
            .int((if ch { added + updated } else { added }) as i64);
    }
    if added + updated > 0 {
        let event = if has(INCR) { "zincr" } else { "zadd" };
        ctx.srv.data().signal_modified(db, key);
        ctx.srv.data().notify(notify::ZSET, event, key, db);
        ctx.flush_pushes();
    }
    ctx.srv.dirty += added + updated;
    Ok(())
}

pub fn zadd(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, 0)
}

pub fn zincrby(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, INCR)
}

// ------------------------------------------------------------------------------ simple reads

pub fn zcard(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let n = read_zset(ctx.srv, db, &ctx.args[1])?.map_or(0, ZSet::len);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zscore(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    match read_zset(ctx.srv, db, &ctx.args[1])?.and_then(|z| z.score(&ctx.args[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let z = read_zset(ctx.srv, db, &ctx.args[1])?;
    ctx.out.array(ctx.args.len() - 2);
    for m in &ctx.args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let db = ctx.db();
    let Some(z) = read_zset(ctx.srv, db, &ctx.args[1])? else {
        ctx.out.null();
        return Ok(());
    };
    match z.rank(&ctx.args[2]) {
        Some(r) if rev => ctx.out.int((z.len() - 1 - r) as i64),
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, false)
}

pub fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, true)
}

// ---------------------------------------------------------------------------------- removals

pub fn zrem(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.args[1];
    let db = ctx.db();
    let Some(z) = write_zset(ctx.srv, db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut deleted = 0u64;
    for m in &ctx.args[2..] {
        if z.remove(m) {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    let removed = delete_if_empty(ctx.srv, db, key);
    if deleted > 0 {
        ctx.srv.data().notify(notify::ZSET, "zrem", key, db);
        if removed {
            ctx.srv.data().notify(notify::GENERIC, "del", key, db);
        }
        ctx.srv.data().signal_modified(db, key);
        ctx.srv.dirty += deleted;
    }
    // Redis notifies before it replies.
    ctx.flush_pushes();
    ctx.out.int(deleted as i64);
    Ok(())
}

/// ZREMRANGEBYRANK / ZREMRANGEBYSCORE / ZREMRANGEBYLEX (Redis's `zremrangeGenericCommand`).
fn zremrange_generic(ctx: &mut Ctx, rtype: RangeType) -> CmdResult {
    let args = ctx.args;
    let (range, event) = match rtype {
        RangeType::Rank => (
            Range::Rank(int(&args[2])?, int(&args[3])?),
            "zremrangebyrank",
        ),
        RangeType::Score => (
            Range::Score(parse_score_range(&args[2], &args[3])?),
            "zremrangebyscore",
        ),
        _ => (
            Range::Lex(parse_lex_range(&args[2], &args[3])?),
            "zremrangebylex",
        ),
    };
    let key = &args[1];
    let db = ctx.db();
    let Some(z) = write_zset(ctx.srv, db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let len = z.len() as i64;
    let (lo, n) = match &range {
        Range::Rank(start, end) => {
            let Some(span) = rank_span(*start, *end, len) else {
                ctx.out.int(0);
                return Ok(());
            };
            span
        }
        Range::Score(r) => match z.first_in_score(r) {
            Some(first) => (
                first,
                z.iter_from(first, false)
                    .take_while(|(_, s)| r.lte_max(*s))
                    .count(),
            ),
            None => (0, 0),
        },
        Range::Lex(r) => match z.first_in_lex(r) {
            Some(first) => (
                first,
                z.iter_from(first, false)
                    .take_while(|(m, _)| r.lte_max(m))
                    .count(),
            ),
            None => (0, 0),
        },
    };
    let deleted = if n > 0 {
        z.remove_ranks(lo, lo + n - 1)
    } else {
        0
    };
    let removed = delete_if_empty(ctx.srv, db, key);
    if deleted > 0 {
        ctx.srv.data().signal_modified(db, key);
        ctx.srv.data().notify(notify::ZSET, event, key, db);
        if removed {
            ctx.srv.data().notify(notify::GENERIC, "del", key, db);
        }
    }
    ctx.srv.dirty += deleted as u64;
    ctx.flush_pushes();
    ctx.out.int(deleted as i64);
    Ok(())
}

pub fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, RangeType::Rank)
}

pub fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, RangeType::Score)
}

pub fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, RangeType::Lex)
}
