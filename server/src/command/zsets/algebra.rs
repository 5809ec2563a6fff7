//! The algebra: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, over sorted sets
//! and plain sets (whose members score 1).

use bytes::Bytes;

use super::parse::parse_score;
use super::{limits, range_header, range_item, seeds, store_result};
use crate::command::args::{int, kw, parse_i64};
use crate::command::{CmdError, CmdResult, Ctx};
use crate::db::{Dict, Set, SmallBytes, Value, ZSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// An input of the algebra: a sorted set, a plain set (scores 1), or nothing.
#[derive(Clone, Copy)]
enum Src<'a> {
    None,
    Z(&'a ZSet),
    S(&'a Set),
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self {
            Src::None => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    /// Every member with its score.
    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Src::None => {}
            Src::Z(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Src::S(s) => s.iter().for_each(|m| m.with_bytes(|b| f(b, 1.0))),
        }
    }

    fn find(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::None => None,
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }
}

/// Redis's `zunionInterAggregate`.
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            // inf + -inf: Redis keeps 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// `weight * score`, with NaN (0 * inf) as 0.
fn weighted(w: f64, s: f64) -> f64 {
    let v = w * s;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Redis's `zunionInterDiffGenericCommand`: ZUNION, ZINTER, ZDIFF, their STORE forms (with
/// `dst`) and ZINTERCARD (`card_only`).
fn zalgebra(
    ctx: &mut Ctx,
    dst: Option<&Bytes>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
) -> CmdResult {
    let args = ctx.args;
    let setnum = int(&args[numkeys_idx])?;
    if setnum < 1 {
        return Err(CmdError::err(format!(
            "at least 1 input key is needed for '{}' command",
            ctx.spec.full_name
        )));
    }
    if setnum > (args.len() - (numkeys_idx + 1)) as i64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    let db = ctx.db();
    for k in keys {
        match ctx.srv.data().lookup_read(db, k).map(|e| &e.val) {
            None | Some(Value::ZSet(_)) | Some(Value::Set(_)) => {}
            Some(_) => return Err(CmdError::WrongType),
        }
    }
    let mut weights = vec![1.0; setnum];
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: usize = 0;
    let mut j = numkeys_idx + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && kw(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                *w = parse_score(&args[j])
                    .ok_or_else(|| CmdError::err("weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && kw(a, "aggregate") {
            let v = &args[j + 1];
            how = if kw(v, "sum") {
                Aggregate::Sum
            } else if kw(v, "min") {
                Aggregate::Min
            } else if kw(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card_only && kw(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && kw(a, "limit") {
            limit = match parse_i64(&args[j + 1]) {
                Some(n) if n >= 0 => n as usize,
                _ => return Err(CmdError::err("LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let acc_seed = ctx.srv.data().random_u64();
    let dbref = &ctx.srv.keyspace.dbs[db];
    let mut srcs: Vec<(Src, f64)> = keys
        .iter()
        .zip(weights)
        .map(|(k, w)| {
            let src = match dbref.get(k).map(|e| &e.val) {
                Some(Value::ZSet(z)) => Src::Z(z),
                Some(Value::Set(s)) => Src::S(s),
                _ => Src::None,
            };
            (src, w)
        })
        .collect();
    if op != SetOp::Diff {
        // Smallest first (a stable sort, as glibc's qsort is in practice).
        srcs.sort_by_key(|(s, _)| s.len());
    }
    let mut result: Vec<(SmallBytes, f64)> = Vec::new();
    let mut cardinality = 0usize;
    match op {
        SetOp::Inter => {
            let (first, w0) = srcs[0];
            let mut done = false;
            first.for_each(|m, s0| {
                if done {
                    return;
                }
                let mut score = weighted(w0, s0);
                for (src, w) in &srcs[1..] {
                    // Only the first input's product has NaN turned into 0 (Redis).
                    match src.find(m) {
                        Some(v) => aggregate(&mut score, v * *w, how),
                        None => return,
                    }
                }
                if card_only {
                    cardinality += 1;
                    if limit > 0 && cardinality >= limit {
                        done = true;
                    }
                } else {
                    result.push((SmallBytes::from(m), score));
                }
            });
        }
        SetOp::Union => {
            let mut acc: Dict<SmallBytes, f64> = Dict::with_seed(acc_seed);
            for (src, w) in &srcs {
                src.for_each(|m, s| {
                    let score = weighted(*w, s);
                    let (v, inserted) = acc.get_or_insert_with(m, || SmallBytes::from(m), || score);
                    if !inserted {
                        aggregate(v, score, how);
                    }
                });
            }
            result.extend(acc.drain());
        }
        SetOp::Diff => {
            let (first, _) = srcs[0];
            first.for_each(|m, s| {
                if srcs[1..].iter().all(|(src, _)| src.find(m).is_none()) {
                    result.push((SmallBytes::from(m), s));
                }
            });
        }
    }
    if card_only {
        ctx.out.int(cardinality as i64);
        return Ok(());
    }
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
    });
    match dst {
        None => {
            range_header(ctx.out, result.len(), withscores);
            for (m, s) in &result {
                range_item(ctx.out, m, *s, withscores);
            }
        }
        Some(dst) => {
            let lim = limits(ctx.srv);
            let mut seed = seeds(ctx.srv);
            let z = ZSet::from_sorted(result, lim, &mut seed);
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            store_result(ctx, dst, z, event);
        }
    }
    Ok(())
}

pub fn zunion(ctx: &mut Ctx) -> CmdResult {
    zalgebra(ctx, None, 1, SetOp::Union, false)
}

pub fn zinter(ctx: &mut Ctx) -> CmdResult {
    zalgebra(ctx, None, 1, SetOp::Inter, false)
}

pub fn zdiff(ctx: &mut Ctx) -> CmdResult {
    zalgebra(ctx, None, 1, SetOp::Diff, false)
}

pub fn zintercard(ctx: &mut Ctx) -> CmdResult {
    zalgebra(ctx, None, 1, SetOp::Inter, true)
}

pub fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.args[1].clone();
    zalgebra(ctx, Some(&dst), 2, SetOp::Union, false)
}

pub fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.args[1].clone();
    zalgebra(ctx, Some(&dst), 2, SetOp::Inter, false)
}

pub fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.args[1].clone();
    zalgebra(ctx, Some(&dst), 2, SetOp::Diff, false)
}
