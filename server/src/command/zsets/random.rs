//! ZRANDMEMBER and ZSCAN.

use picket_common::glob::string_match;
use rand::RngExt;

use super::{peek, range_header, range_item, read_zset};
use crate::command::args::{kw, parse_cursor, parse_i64, scan_options};
use crate::command::{CmdError, CmdResult, Ctx};
use crate::db::{SmallBytes, Value, ZSet};

/// Redis's `ZRANDMEMBER_SUB_STRATEGY_MUL`.
const SUB_STRATEGY_MUL: u64 = 3;

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    if args.len() >= 3 {
        let l = match parse_i64(&args[2]) {
            None => return Err(CmdError::NotInteger),
            Some(i64::MIN) => {
                return Err(CmdError::err(format!(
                    "value is out of range, value must between {} and {}",
                    -i64::MAX,
                    i64::MAX
                )))
            }
            Some(l) => l,
        };
        if args.len() > 4 || (args.len() == 4 && !kw(&args[3], "withscores")) {
            return Err(CmdError::Syntax);
        }
        let withscores = args.len() == 4;
        if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
            return Err(CmdError::err("value is out of range"));
        }
        return zrandmember_count(ctx, l, withscores);
    }
    if read_zset(ctx.srv, db, &args[1])?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    let crate::data::Data { keyspace, rng, .. } = ctx.srv.data();
    let mut rand = || rng.random::<u64>();
    if let Some((m, _)) = peek_dbs(&keyspace.dbs, db, &args[1]).and_then(|z| z.random(&mut rand)) {
        ctx.out.bulk(m);
    }
    Ok(())
}

fn peek_dbs<'a>(dbs: &'a [crate::db::Db], db: usize, key: &[u8]) -> Option<&'a ZSet> {
    match dbs[db].get(key).map(|e| &e.val) {
        Some(Value::ZSet(z)) => Some(z),
        _ => None,
    }
}

fn zrandmember_count(ctx: &mut Ctx, l: i64, withscores: bool) -> CmdResult {
    let db = ctx.db();
    let key = &ctx.args[1];
    if read_zset(ctx.srv, db, key)?.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    if count == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    let crate::data::Data { keyspace, rng, .. } = ctx.srv.data();
    let mut rand = || rng.random::<u64>();
    let Some(z) = peek_dbs(&keyspace.dbs, db, key) else {
        return Ok(());
    };
    let out = &mut *ctx.out;
    let size = z.len() as u64;
    if size == 0 {
        out.array(0);
        return Ok(());
    }
    // CASE 1: repetitions allowed (or one member): `count` independent picks.
    if !uniq || count == 1 {
        range_header(out, count as usize, withscores);
        if matches!(z, ZSet::Listpack(_)) && count >= 16 {
            // A pick in a packed set walks to its rank: index the members once instead.
            let all: Vec<(&[u8], f64)> = z.iter().collect();
            for _ in 0..count {
                let (m, s) = all[(rand() % size) as usize];
                range_item(out, m, s, withscores);
            }
            return Ok(());
        }
        for _ in 0..count {
            if let Some((m, s)) = z.random(&mut rand) {
                range_item(out, m, s, withscores);
            }
        }
        return Ok(());
    }
    // CASE 2: the whole set, in the order Redis walks it (highest first).
    if count >= size {
        range_header(out, size as usize, withscores);
        for (m, s) in z.iter_from(size as usize - 1, true) {
            range_item(out, m, s, withscores);
        }
        return Ok(());
    }
    range_header(out, count as usize, withscores);
    if count * SUB_STRATEGY_MUL > size {
        // CASE 3: everything, minus random members until `count` are left.
        let mut all: Vec<(&[u8], f64)> = z.iter_from(size as usize - 1, true).collect();
        while all.len() as u64 > count {
            let i = (rand() % all.len() as u64) as usize;
            all.swap_remove(i);
        }
        for (m, s) in all {
            range_item(out, m, s, withscores);
        }
        return Ok(());
    }
    // CASE 4: few out of many.
    match z {
        ZSet::Listpack(_) => {
            // Selection sampling, in listpack order (Redis's `lpRandomPairsUnique`).
            let mut need = count;
            let mut left = size;
            for (m, s) in z.iter() {
                if need == 0 {
                    break;
                }
                if rand() % left < need {
                    range_item(out, m, s, withscores);
                    need -= 1;
                }
                left -= 1;
            }
        }
        ZSet::Skiplist(_) => {
            let mut seen: std::collections::BTreeSet<&[u8]> = std::collections::BTreeSet::new();
            while (seen.len() as u64) < count {
                if let Some((m, s)) = z.random(&mut rand) {
                    if seen.insert(m) {
                        range_item(out, m, s, withscores);
                    }
                }
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------- ZSCAN

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: a listpack comes whole with cursor 0 (its
/// scores as the listpack holds them); a skiplist's dict is scanned like the keyspace.
pub fn zscan(ctx: &mut Ctx) -> CmdResult {
    let mut cursor = parse_cursor(&ctx.args[2]).ok_or_else(|| CmdError::err("invalid cursor"))?;
    let db = ctx.db();
    let args = ctx.args;
    if read_zset(ctx.srv, db, &args[1])?.is_none() {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    let (count, pattern) = scan_options(args, 3)?;
    let Some(z) = peek(ctx.srv, db, &args[1]) else {
        return Ok(());
    };
    let mut found: Vec<(SmallBytes, String)> = Vec::new();
    match z {
        ZSet::Listpack(_) => {
            z.scan(0, |m, s| {
                found.push((SmallBytes::from(m), crate::db::zset::listpack_score_text(s)))
            });
            cursor = 0;
        }
        ZSet::Skiplist(_) => {
            let mut max_iterations = count.saturating_mul(10);
            loop {
                cursor = z.scan(cursor, |m, s| {
                    found.push((SmallBytes::from(m), picket_common::resp::format_double(s)))
                });
                if cursor == 0 || max_iterations == 0 {
                    break;
                }
                max_iterations -= 1;
                // Members and scores both count, as in Redis's list of replies.
                if 2 * found.len() >= count as usize {
                    break;
                }
            }
        }
    }
    if let Some(p) = pattern {
        found.retain(|(m, _)| string_match(p, m, false));
    }
    ctx.out.array(2);
    ctx.out.bulk_int(cursor as i64);
    ctx.out.array(2 * found.len());
    for (m, s) in &found {
        ctx.out.bulk(m);
        ctx.out.bulk(s.as_bytes());
    }
    Ok(())
}
