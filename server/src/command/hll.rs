//! HyperLogLog commands, as Redis 7.0's `hyperloglog.c`: PFADD, PFCOUNT, PFMERGE, PFDEBUG,
//! PFSELFTEST. The representation is `db::hll`'s (Redis's bytes).

use super::args::kw;
use super::{CmdError, CmdResult, Ctx};
use crate::db::hll;
use crate::db::Value;
use crate::notify;

/// The HLL bytes of a string value, or Redis's error for another type or a string that is
/// not an HLL.
fn check(v: &Value) -> Result<(), CmdError> {
    if !v.is_string() {
        return Err(CmdError::WrongType);
    }
    if !hll::is_hll(&v.bytes()) {
        return Err(CmdError::Reply(hll::NOT_HLL.into()));
    }
    Ok(())
}

/// Take the value of an existing HLL key out for in-place work (Redis's
/// `dbUnshareStringValue`); `put_back` stores it again.
fn take(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    let db = ctx.client.db;
    match ctx.srv.data().lookup_write(db, key) {
        None => Ok(None),
        Some(e) => {
            check(&e.val)?;
            Ok(Some(
                std::mem::replace(&mut e.val, Value::Int(0)).into_vec(),
            ))
        }
    }
}

fn put_back(ctx: &mut Ctx, key: &[u8], v: Vec<u8>) {
    let db = ctx.client.db;
    if let Some(e) = ctx.srv.data().lookup_write(db, key) {
        e.val = Value::raw(v);
    }
}

/// PFADD key [element ...]
pub fn pfadd(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let max_bytes = ctx.srv.cfg.hll_sparse_max_bytes;
    let mut updated = 0u64;
    let mut v = match take(ctx, key)? {
        Some(v) => v,
        None => {
            let db = ctx.client.db;
            ctx.srv
                .data()
                .set_key(db, key, Value::raw(hll::create()), false);
            updated += 1;
            take(ctx, key)?.unwrap_or_else(hll::create)
        }
    };
    let mut corrupt = false;
    for ele in &args[2..] {
        match hll::add(&mut v, ele, max_bytes) {
            1 => updated += 1,
            -1 => {
                corrupt = true;
                break;
            }
            _ => {}
        }
    }
    if updated > 0 && !corrupt {
        hll::invalidate_cache(&mut v);
    }
    put_back(ctx, key, v);
    if corrupt {
        return Err(CmdError::Reply(hll::INVALID.into()));
    }
    if updated > 0 {
        ctx.changed(notify::STRING, "pfadd", key);
        ctx.srv.dirty += updated - 1;
    }
    ctx.out.int(i64::from(updated > 0));
    Ok(())
}

/// PFCOUNT key [key ...]
pub fn pfcount(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    if args.len() > 2 {
        let mut max = Box::new([0u8; hll::REGISTERS]);
        for key in &args[1..] {
            let Some(e) = ctx.srv.data().lookup_read(db, key) else {
                continue;
            };
            check(&e.val)?;
            if !hll::merge(&mut max, &e.val.bytes()) {
                return Err(CmdError::Reply(hll::INVALID.into()));
            }
        }
        ctx.out.int(hll::count_raw(&max) as i64);
        return Ok(());
    }
    let key = &args[1];
    // A read (no deletion of a logically expired key on a replica), then the cached
    // cardinality is written back: Redis propagates PFCOUNT when it did.
    match ctx.srv.data().lookup_read(db, key) {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(e) => check(&e.val)?,
    }
    let Some(mut v) = take(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    if let Some(card) = hll::cached(&v) {
        put_back(ctx, key, v);
        ctx.out.int(card as i64);
        return Ok(());
    }
    let Some(card) = hll::count(&v) else {
        put_back(ctx, key, v);
        return Err(CmdError::Reply(hll::INVALID.into()));
    };
    hll::set_cache(&mut v, card);
    put_back(ctx, key, v);
    ctx.srv.data().signal_modified(db, key);
    ctx.srv.dirty += 1;
    ctx.out.int(card as i64);
    Ok(())
}

/// PFMERGE destkey [sourcekey ...]
pub fn pfmerge(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let dest = &args[1];
    let max_bytes = ctx.srv.cfg.hll_sparse_max_bytes;
    let mut max = Box::new([0u8; hll::REGISTERS]);
    let mut use_dense = false;
    for key in &args[1..] {
        let Some(e) = ctx.srv.data().lookup_read(db, key) else {
            continue;
        };
        check(&e.val)?;
        let b = e.val.bytes();
        if b[4] == hll::DENSE {
            use_dense = true;
        }
        if !hll::merge(&mut max, &b) {
            return Err(CmdError::Reply(hll::INVALID.into()));
        }
    }
    let mut v = match take(ctx, dest)? {
        Some(v) => v,
        None => {
            ctx.srv
                .data()
                .set_key(db, dest, Value::raw(hll::create()), false);
            take(ctx, dest)?.unwrap_or_else(hll::create)
        }
    };
    if use_dense && v[4] == hll::SPARSE {
        match hll::sparse_to_dense(&v) {
            Some(d) => v = d,
            None => {
                put_back(ctx, dest, v);
                return Err(CmdError::Reply(hll::INVALID.into()));
            }
        }
    }
    for (i, &m) in max.iter().enumerate() {
        if m == 0 {
            continue;
        }
        if v[4] == hll::DENSE {
            let regs = &mut v[hll::HDR_SIZE..];
            if m > hll::dense_get(regs, i) {
                hll::dense_set(regs, i, m);
            }
        } else {
            hll::sparse_set(&mut v, i, m, max_bytes);
        }
    }
    hll::invalidate_cache(&mut v);
    put_back(ctx, dest, v);
    ctx.changed(notify::STRING, "pfadd", dest);
    ctx.out.ok();
    Ok(())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
pub fn pfdebug(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let sub = &args[1];
    let key = &args[2];
    let Some(mut v) = take(ctx, key)? else {
        return Err(CmdError::err("The specified key does not exist"));
    };
    let arity = || {
        CmdError::Reply(format!(
            "ERR Wrong number of arguments for the '{}' subcommand",
            String::from_utf8_lossy(sub)
        ))
    };
    let mut result = Ok(());
    if kw(sub, "getreg") {
        if args.len() != 3 {
            put_back(ctx, key, v);
            return Err(arity());
        }
        if v[4] == hll::SPARSE {
            match hll::sparse_to_dense(&v) {
                Some(d) => {
                    v = d;
                    ctx.srv.dirty += 1;
                }
                None => {
                    put_back(ctx, key, v);
                    return Err(CmdError::Reply(hll::INVALID.into()));
                }
            }
        }
        ctx.out.array(hll::REGISTERS);
        for i in 0..hll::REGISTERS {
            ctx.out.int(hll::dense_get(&v[hll::HDR_SIZE..], i) as i64);
        }
    } else if kw(sub, "decode") {
        if args.len() != 3 {
            result = Err(arity());
        } else if v[4] != hll::SPARSE {
            result = Err(CmdError::err("HLL encoding is not sparse"));
        } else {
            ctx.out.bulk(hll::decode(&v).as_bytes());
        }
    } else if kw(sub, "encoding") {
        if args.len() != 3 {
            result = Err(arity());
        } else {
            ctx.out.simple(if v[4] == hll::DENSE {
                "dense"
            } else {
                "sparse"
            });
        }
    } else if kw(sub, "todense") {
        if args.len() != 3 {
            result = Err(arity());
        } else if v[4] == hll::SPARSE {
            match hll::sparse_to_dense(&v) {
                Some(d) => {
                    v = d;
                    ctx.srv.dirty += 1;
                    ctx.out.int(1);
                }
                None => result = Err(CmdError::Reply(hll::INVALID.into())),
            }
        } else {
            ctx.out.int(0);
        }
    } else {
        result = Err(CmdError::Reply(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        )));
    }
    put_back(ctx, key, v);
    result
}

/// PFSELFTEST: the register packing and the estimator's error, as Redis's self-test (dense
/// and sparse side by side, up to 10 million elements).
pub fn pfselftest(ctx: &mut Ctx) -> CmdResult {
    let max_bytes = ctx.srv.cfg.hll_sparse_max_bytes;
    let mut seed = ctx.srv.data().random_u64() | 1;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut dense = vec![0u8; hll::DENSE_SIZE];
    dense[..4].copy_from_slice(b"HYLL");
    let mut bytes = vec![0u8; hll::REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (rnd() & 63) as u8;
            hll::dense_set(&mut dense[hll::HDR_SIZE..], i, *b);
        }
        for (i, b) in bytes.iter().enumerate() {
            let got = hll::dense_get(&dense[hll::HDR_SIZE..], i);
            if got != *b {
                return Err(CmdError::Reply(format!(
                    "TESTFAILED Register {i} should be {b} but is {got}"
                )));
            }
        }
    }
    dense[hll::HDR_SIZE..].fill(0);
    let mut sparse = hll::create();
    let relerr = 1.04 / (hll::REGISTERS as f64).sqrt();
    let mut checkpoint: u64 = 1;
    let salt = rnd();
    for j in 1..=10_000_000u64 {
        let ele = (j ^ salt).to_le_bytes();
        hll::add(&mut dense, &ele, max_bytes);
        hll::add(&mut sparse, &ele, max_bytes);
        if j != checkpoint {
            continue;
        }
        if (j as usize) < max_bytes / 2 && sparse[4] != hll::SPARSE {
            return Err(CmdError::err("TESTFAILED sparse encoding not used"));
        }
        let cd = hll::count(&dense).unwrap_or(0);
        if Some(cd) != hll::count(&sparse) {
            return Err(CmdError::err("TESTFAILED dense/sparse disagree"));
        }
        let abserr = (checkpoint as i64 - cd as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(CmdError::Reply(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            )));
        }
        checkpoint *= 10;
    }
    ctx.out.ok();
    Ok(())
}
