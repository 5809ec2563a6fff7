//! The range family: ZRANGE (BYSCORE / BYLEX / REV / LIMIT), ZRANGESTORE, the older
//! Z[REV]RANGE[BYSCORE|BYLEX], and the counts ZCOUNT and ZLEXCOUNT.

use bytes::Bytes;

use super::parse::{parse_lex_range, parse_score_range};
use super::{limits, range_header, range_item, range_reply, read_zset, seeds, store_result};
use crate::command::args::{int, kw};
use crate::command::{CmdError, CmdResult, Ctx};
use crate::db::zset::{LexRange, ScoreRange, ZSet};
use crate::db::SmallBytes;

/// Members counted from `first` on while `inside` holds: a walk for a listpack, ranks of the
/// first and last member for a skiplist (as Redis's ZCOUNT / ZLEXCOUNT).
fn count_in(
    z: &ZSet,
    first: Option<usize>,
    last: impl FnOnce() -> Option<usize>,
    inside: impl Fn(&[u8], f64) -> bool,
) -> usize {
    let Some(first) = first else {
        return 0;
    };
    match z {
        ZSet::Listpack(_) => z
            .iter_from(first, false)
            .take_while(|(m, s)| inside(m, *s))
            .count(),
        ZSet::Skiplist(_) => {
            let mut count = z.len() - first;
            if let Some(last) = last() {
                count -= z.len() - (last + 1);
            }
            count
        }
    }
}

pub fn zcount(ctx: &mut Ctx) -> CmdResult {
    let r = parse_score_range(&ctx.args[2], &ctx.args[3])?;
    let db = ctx.db();
    let n = match read_zset(ctx.srv, db, &ctx.args[1])? {
        None => 0,
        Some(z) => count_in(
            z,
            z.first_in_score(&r),
            || z.last_in_score(&r),
            |_, s| r.lte_max(s),
        ),
    };
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let r = parse_lex_range(&ctx.args[2], &ctx.args[3])?;
    let db = ctx.db();
    let n = match read_zset(ctx.srv, db, &ctx.args[1])? {
        None => 0,
        Some(z) => count_in(
            z,
            z.first_in_lex(&r),
            || z.last_in_lex(&r),
            |m, _| r.lte_max(m),
        ),
    };
    ctx.out.int(n as i64);
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// A parsed range.
pub(super) enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// A rank range `start..=end` (negative: from the end) over `len` members, clamped as Redis
/// does: (first rank, how many), or None when it is empty.
pub(super) fn rank_span(start: i64, end: i64, len: i64) -> Option<(usize, usize)> {
    let start = (if start < 0 { start + len } else { start }).max(0);
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((start as usize, (end - start + 1) as usize))
}

/// The members of a range, in reply order (Redis's `genericZrangeby*Command`).
fn collect_range<'a>(
    z: &'a ZSet,
    range: &Range,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(&'a [u8], f64)> {
    let len = z.len() as i64;
    match range {
        Range::Rank(start, end) => {
            let Some((start, n)) = rank_span(*start, *end, len) else {
                return Vec::new();
            };
            let from = if rev { len as usize - 1 - start } else { start };
            z.iter_from(from, rev).take(n).collect()
        }
        Range::Score(r) => {
            if offset > 0 && offset >= len {
                return Vec::new();
            }
            let first = if rev {
                z.last_in_score(r)
            } else {
                z.first_in_score(r)
            };
            walk(z, first, rev, offset, limit, |_, s| {
                if rev {
                    r.gte_min(s)
                } else {
                    r.lte_max(s)
                }
            })
        }
        Range::Lex(r) => {
            let first = if rev {
                z.last_in_lex(r)
            } else {
                z.first_in_lex(r)
            };
            walk(z, first, rev, offset, limit, |m, _| {
                if rev {
                    r.gte_min(m)
                } else {
                    r.lte_max(m)
                }
            })
        }
    }
}

/// From `first`, skip `offset` members without looking at them, then take up to `limit`
/// (negative: no limit) while `inside` holds. A negative offset skips everything, as Redis's
/// `while (ln && offset--)`.
fn walk(
    z: &ZSet,
    first: Option<usize>,
    rev: bool,
    offset: i64,
    limit: i64,
    inside: impl Fn(&[u8], f64) -> bool,
) -> Vec<(&[u8], f64)> {
    let Some(first) = first else {
        return Vec::new();
    };
    if offset < 0 {
        return Vec::new();
    }
    let take = if limit < 0 {
        usize::MAX
    } else {
        limit as usize
    };
    z.iter_from(first, rev)
        .skip(offset as usize)
        .take(take)
        .take_while(|(m, s)| inside(m, *s))
        .collect()
}

/// Redis's `zrangeGenericCommand`: ZRANGE, ZRANGESTORE and the older range commands. The
/// source key is at `src`; `store` is ZRANGESTORE's destination.
fn zrange_generic(
    ctx: &mut Ctx,
    src: usize,
    store: Option<&Bytes>,
    mut rtype: RangeType,
    mut dir: Direction,
) -> CmdResult {
    let args = ctx.args;
    let (mut minidx, mut maxidx) = (src + 1, src + 2);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = src + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if store.is_none() && kw(a, "withscores") {
            withscores = true;
        } else if kw(a, "limit") && left >= 2 {
            offset = int(&args[j + 1])?;
            limit = int(&args[j + 2])?;
            j += 2;
        } else if dir == Direction::Auto && kw(a, "rev") {
            dir = Direction::Reverse;
        } else if rtype == RangeType::Auto && kw(a, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && kw(a, "byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = dir == Direction::Reverse;
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if limit != -1 && rtype == RangeType::Rank {
        return Err(CmdError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(CmdError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let range = match rtype {
        RangeType::Score => Range::Score(parse_score_range(&args[minidx], &args[maxidx])?),
        RangeType::Lex => Range::Lex(parse_lex_range(&args[minidx], &args[maxidx])?),
        _ => Range::Rank(int(&args[minidx])?, int(&args[maxidx])?),
    };
    let db = ctx.db();
    let Some(z) = read_zset(ctx.srv, db, &args[src])? else {
        match store {
            Some(dst) => store_result(ctx, dst, ZSet::default(), "zrangestore"),
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    if let (None, Range::Rank(start, end)) = (store, &range) {
        // The common read, streamed into the reply without collecting it first.
        let len = z.len() as i64;
        let Some((start, n)) = rank_span(*start, *end, len) else {
            ctx.out.array(0);
            return Ok(());
        };
        let from = if rev { len as usize - 1 - start } else { start };
        range_header(ctx.out, n, withscores);
        for (m, s) in z.iter_from(from, rev).take(n) {
            range_item(ctx.out, m, s, withscores);
        }
        return Ok(());
    }
    let items = collect_range(z, &range, rev, offset, limit);
    match store {
        None => range_reply(ctx.out, &items, withscores),
        Some(dst) => {
            // Built as Redis does: a listpack that converts as members are added, or a
            // skiplist from the start when a rank range is known to be too long.
            let owned: Vec<(SmallBytes, f64)> = items
                .iter()
                .map(|(m, s)| (SmallBytes::from(*m), *s))
                .collect();
            let lim = limits(ctx.srv);
            let mut seed = seeds(ctx.srv);
            let mut result = match range {
                Range::Rank(..) if owned.len() > lim.max_entries => ZSet::new_skiplist(seed()),
                _ => ZSet::default(),
            };
            for (m, s) in &owned {
                result.insert(m, *s, lim, &mut seed);
            }
            store_result(ctx, dst, result, "zrangestore");
        }
    }
    Ok(())
}

pub fn zrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RangeType::Auto, Direction::Auto)
}

pub fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.args[1].clone();
    zrange_generic(ctx, 2, Some(&dst), RangeType::Auto, Direction::Auto)
}

pub fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RangeType::Rank, Direction::Reverse)
}

pub fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RangeType::Score, Direction::Forward)
}

pub fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RangeType::Score, Direction::Reverse)
}

pub fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RangeType::Lex, Direction::Forward)
}

pub fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RangeType::Lex, Direction::Reverse)
}
