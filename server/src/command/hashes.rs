//! Hash commands, as Redis 7.0's `t_hash.c` (and HSCAN from `db.c`'s `scanGenericCommand`).
//!
//! Each handler follows Redis's order of checks (argument parsing, then key lookup and type,
//! then value checks), because that order decides which error a client sees. The encoding
//! rules (listpack until a size limit, then a dict for good) live in `db::hash`.

use bytes::Bytes;
use picket_common::glob::string_match;
use picket_common::resp::ReplyBuf;
use rand::RngExt;

use super::args::{int, kw, parse_cursor, parse_i64, scan_options};
use super::strings::{long_double_add, LdAddError};
use super::{CmdError, CmdResult, Ctx};
use crate::client::{cflags, Client};
use crate::config::BufferLimit;
use crate::db::hash::{Limits, Seed};
use crate::db::{Hash, SmallBytes, Value};
use crate::notify;
use crate::server::Server;

// ------------------------------------------------------------------------------------ helpers

fn limits(srv: &Server) -> Limits {
    Limits {
        entries: srv.cfg.hash_max_listpack_entries,
        value: srv.cfg.hash_max_listpack_value,
    }
}

/// The hash at `key` for reading (Redis's `lookupKeyRead` + `checkType`): hit/miss
/// statistics, `keymiss`, lazy expiry, WRONGTYPE for another type.
fn read_hash<'s>(srv: &'s mut Server, db: usize, key: &[u8]) -> Result<Option<&'s Hash>, CmdError> {
    match srv.data().lookup_read(db, key).map(|e| &e.val) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The hash at `key` for writing (Redis's `lookupKeyWrite` + `checkType`).
fn write_hash<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s mut Hash>, CmdError> {
    match srv.data().lookup_write(db, key).map(|e| &mut e.val) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Run `f` on the hash stored at `key` with the listpack limits and the server's RNG as the
/// seed source for a dict it may become. `None` if there is no hash there (callers looked it
/// up or created it just before).
fn with_hash<R>(
    srv: &mut Server,
    db: usize,
    key: &[u8],
    f: impl FnOnce(&mut Hash, Limits, Seed) -> R,
) -> Option<R> {
    let lim = limits(srv);
    let crate::data::Data {
        keyspace: crate::keyspace::Keyspace { dbs, .. },
        rng,
        ..
    } = srv.data();
    match dbs[db].get_mut(key).map(|e| &mut e.val) {
        Some(Value::Hash(h)) => {
            let mut seed = || rng.random::<u64>();
            Some(f(h, lim, &mut seed))
        }
        _ => None,
    }
}

/// Store an empty hash at `key` (Redis's `hashTypeLookupWriteOrCreate` after a miss: `dbAdd`,
/// which fires `new`). The caller fills it in the same command.
fn create(srv: &mut Server, db: usize, key: &[u8]) {
    srv.data()
        .set_key(db, key, Value::Hash(Hash::default()), false);
}

/// The error for a hash that vanished between its lookup and its use: impossible, as nothing
/// runs in between, but answered rather than panicking.
fn vanished() -> CmdError {
    CmdError::err("internal error: hash vanished")
}

/// The event, WATCH signal and dirty count of a hash write.
fn changed_by(ctx: &mut Ctx, event: &str, key: &[u8], dirty: u64) {
    let db = ctx.db();
    ctx.srv.data().signal_modified(db, key);
    ctx.srv.data().notify(notify::HASH, event, key, db);
    ctx.srv.dirty += dirty;
}

// ------------------------------------------------------------------------------------ writes

/// HSET key field value [field value ...]
pub fn hset(ctx: &mut Ctx) -> CmdResult {
    hset_generic(ctx, false)
}

/// HMSET key field value [field value ...] (HSET answering OK).
pub fn hmset(ctx: &mut Ctx) -> CmdResult {
    hset_generic(ctx, true)
}

fn hset_generic(ctx: &mut Ctx, hmset: bool) -> CmdResult {
    let args = ctx.args;
    if args.len() % 2 == 1 {
        return Err(ctx.arity_error());
    }
    let db = ctx.db();
    let key = &args[1];
    if write_hash(ctx.srv, db, key)?.is_none() {
        create(ctx.srv, db, key);
    }
    let created = with_hash(ctx.srv, db, key, |h, lim, seed| {
        h.try_conversion(&args[2..], lim, seed);
        let mut created = 0;
        for pair in args[2..].chunks_exact(2) {
            if !h.set(&pair[0], &pair[1], lim, seed) {
                created += 1;
            }
        }
        created
    })
    .ok_or_else(vanished)?;
    if hmset {
        ctx.out.ok();
    } else {
        ctx.out.int(created);
    }
    changed_by(ctx, "hset", key, (args.len() as u64 - 2) / 2);
    Ok(())
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let (key, field) = (&args[1], &args[2]);
    match write_hash(ctx.srv, db, key)? {
        Some(h) if h.contains(field) => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(_) => {}
        None => create(ctx.srv, db, key),
    }
    with_hash(ctx.srv, db, key, |h, lim, seed| {
        h.try_conversion(&args[2..4], lim, seed);
        h.set(field, &args[3], lim, seed);
    })
    .ok_or_else(vanished)?;
    ctx.out.int(1);
    changed_by(ctx, "hset", key, 1);
    Ok(())
}

/// HDEL key field [field ...]: the key goes with its last field (`del`).
pub fn hdel(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let key = &args[1];
    if write_hash(ctx.srv, db, key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let (deleted, emptied) = with_hash(ctx.srv, db, key, |h, _, _| {
        let mut deleted = 0u64;
        for f in &args[2..] {
            if h.remove(f) {
                deleted += 1;
                if h.is_empty() {
                    break;
                }
            }
        }
        (deleted, h.is_empty())
    })
    .ok_or_else(vanished)?;
    if emptied {
        ctx.srv.keyspace.dbs[db].remove(key);
    }
    if deleted > 0 {
        changed_by(ctx, "hdel", key, deleted);
        if emptied {
            ctx.srv.data().notify(notify::GENERIC, "del", key, db);
        }
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// Store `value` in `field` of the hash at `key`, creating the key if `exists` is false
/// (HINCRBY and HINCRBYFLOAT, once their checks passed: Redis creates the key before them,
/// but no check can fail on a new key, so no empty hash is ever left).
fn store_field(ctx: &mut Ctx, exists: bool, key: &[u8], field: &[u8], value: &[u8]) -> CmdResult {
    let db = ctx.db();
    if !exists {
        create(ctx.srv, db, key);
    }
    with_hash(ctx.srv, db, key, |h, lim, seed| {
        h.set(field, value, lim, seed);
    })
    .ok_or_else(vanished)
}

/// HINCRBY key field increment
pub fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let (key, field) = (&args[1], &args[2]);
    let incr = int(&args[3])?;
    let (exists, old) = match write_hash(ctx.srv, db, key)? {
        None => (false, 0),
        Some(h) => match h.get(field) {
            None => (true, 0),
            Some(v) => (
                true,
                parse_i64(v).ok_or_else(|| CmdError::err("hash value is not an integer"))?,
            ),
        },
    };
    let new = old.checked_add(incr).ok_or(CmdError::Overflow)?;
    store_field(
        ctx,
        exists,
        key,
        field,
        itoa::Buffer::new().format(new).as_bytes(),
    )?;
    ctx.out.int(new);
    changed_by(ctx, "hincrby", key, 1);
    Ok(())
}

/// HINCRBYFLOAT key field increment: C `long double` arithmetic as Redis; propagated as
/// `HSET key field <result>` so replicas and the AOF store the same bytes.
pub fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let (key, field, incr) = (&args[1], &args[2], &args[3]);
    // The increment alone first: a valid float, and finite.
    match long_double_add(None, incr) {
        Ok(_) => {}
        Err(LdAddError::NanOrInf) => return Err(CmdError::err("value is NaN or Infinity")),
        Err(_) => return Err(CmdError::NotFloat),
    }
    let (exists, current) = match write_hash(ctx.srv, db, key)? {
        None => (false, None),
        Some(h) => (true, h.get(field).map(|v| v.to_vec())),
    };
    let sum = long_double_add(current.as_deref(), incr).map_err(|e| match e {
        LdAddError::Current => CmdError::err("hash value is not a float"),
        LdAddError::Increment => CmdError::NotFloat,
        LdAddError::NanOrInf => CmdError::err("increment would produce NaN or Infinity"),
    })?;
    store_field(ctx, exists, key, field, &sum)?;
    ctx.out.bulk(&sum);
    changed_by(ctx, "hincrbyfloat", key, 1);
    ctx.propagate_as(vec![vec![
        Bytes::from_static(b"HSET"),
        key.clone(),
        field.clone(),
        Bytes::from(sum),
    ]]);
    Ok(())
}

// ------------------------------------------------------------------------------------ reads

/// HGET key field
pub fn hget(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    match read_hash(ctx.srv, db, &args[1])?.and_then(|h| h.get(&args[2])) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]: a missing key is an empty hash (nulls).
pub fn hmget(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let h = read_hash(ctx.srv, db, &args[1])?;
    ctx.out.array(args.len() - 2);
    for f in &args[2..] {
        match h.and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let found = read_hash(ctx.srv, db, &args[1])?.is_some_and(|h| h.contains(&args[2]));
    ctx.out.int(found as i64);
    Ok(())
}

/// HLEN key
pub fn hlen(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let n = read_hash(ctx.srv, db, &ctx.args[1])?.map_or(0, Hash::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let n = read_hash(ctx.srv, db, &args[1])?
        .and_then(|h| h.get(&args[2]))
        .map_or(0, |v| v.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// What HGETALL, HKEYS and HVALS return of each pair.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    Fields,
    Values,
    Both,
}

/// Redis's `genericHgetallCommand`: a map for HGETALL (RESP3), flat arrays otherwise.
fn hgetall_generic(ctx: &mut Ctx, parts: Parts) -> CmdResult {
    let db = ctx.db();
    let Some(h) = read_hash(ctx.srv, db, &ctx.args[1])? else {
        match parts {
            Parts::Both => ctx.out.map(0),
            _ => ctx.out.array(0),
        }
        return Ok(());
    };
    match parts {
        Parts::Both => ctx.out.map(h.len()),
        _ => ctx.out.array(h.len()),
    }
    for (f, v) in h.iter() {
        if parts != Parts::Values {
            ctx.out.bulk(f);
        }
        if parts != Parts::Fields {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

/// HGETALL key
pub fn hgetall(ctx: &mut Ctx) -> CmdResult {
    hgetall_generic(ctx, Parts::Both)
}

/// HKEYS key
pub fn hkeys(ctx: &mut Ctx) -> CmdResult {
    hgetall_generic(ctx, Parts::Fields)
}

/// HVALS key
pub fn hvals(ctx: &mut Ctx) -> CmdResult {
    hgetall_generic(ctx, Parts::Values)
}

// ------------------------------------------------------------------------------------ HRANDFIELD

/// Redis's `HRANDFIELD_SUB_STRATEGY_MUL`.
const SUB_STRATEGY_MUL: u64 = 3;

/// A reply this big is cut and its client closed even without an output buffer limit: Redis
/// would grow it until the process runs out of memory (`HRANDFIELD k -4611686018427387903
/// WITHVALUES` kills a Redis 7.0).
const MAX_RANDOM_REPLY: usize = 1 << 30;

/// Whether a long HRANDFIELD reply must stop: the client reached its output buffer limit (as
/// Redis's `CLIENT_CLOSE_ASAP` check in its loop), or [`MAX_RANDOM_REPLY`].
fn reply_overflow(
    limits: &[BufferLimit; 3],
    now: tokio::time::Instant,
    client: &mut Client,
    out: &ReplyBuf,
) -> bool {
    crate::server::check_output_limits(client, out.len(), limits, now);
    if out.len() > MAX_RANDOM_REPLY && !client.has(cflags::CLOSE_ASAP) {
        tracing::warn!("HRANDFIELD reply over {MAX_RANDOM_REPLY} bytes: closing the client");
        client.close_asap("HRANDFIELD reply too big");
    }
    client.has(cflags::CLOSE_ASAP)
}

/// One element of an HRANDFIELD reply with a count: the field, or with values a [field,
/// value] pair in RESP3 and the two flat in RESP2.
fn random_pair(out: &mut ReplyBuf, withvalues: bool, f: &[u8], v: &[u8]) {
    if withvalues && out.resp3() {
        out.array(2);
    }
    out.bulk(f);
    if withvalues {
        out.bulk(v);
    }
}

/// A uniform double in [0, 1], as C's `(double)rand() / RAND_MAX`.
fn unit_random(rand: &mut dyn FnMut() -> u64) -> f64 {
    (rand() >> 11) as f64 / ((1u64 << 53) - 1) as f64
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    if args.len() >= 3 {
        let l = int(&args[2])?;
        if l < -i64::MAX {
            return Err(CmdError::err(format!(
                "value is out of range, value must between {} and {}",
                -i64::MAX,
                i64::MAX
            )));
        }
        if args.len() > 4 || (args.len() == 4 && !kw(&args[3], "withvalues")) {
            return Err(CmdError::Syntax);
        }
        let withvalues = args.len() == 4;
        if withvalues && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
            return Err(CmdError::err("value is out of range"));
        }
        return hrandfield_count(ctx, l, withvalues);
    }
    if read_hash(ctx.srv, db, &args[1])?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    let crate::data::Data {
        keyspace: crate::keyspace::Keyspace { dbs, .. },
        rng,
        ..
    } = ctx.srv.data();
    let mut rand = || rng.random::<u64>();
    match dbs[db].get(&args[1]).map(|e| &e.val) {
        Some(Value::Hash(h)) => match h.random(&mut rand) {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        },
        _ => ctx.out.null(),
    }
    Ok(())
}

/// Redis's `hrandfieldWithCountCommand`: a negative count may repeat fields (in draw order);
/// a positive one gives distinct fields, by one of three strategies.
fn hrandfield_count(ctx: &mut Ctx, l: i64, withvalues: bool) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let Some(size) = read_hash(ctx.srv, db, &args[1])?.map(Hash::len) else {
        ctx.out.array(0);
        return Ok(());
    };
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    if count == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    let size = size as u64;
    let Ctx {
        srv, out, client, ..
    } = ctx;
    // Split the server: the hash is read while the RNG moves.
    let crate::data::Data {
        keyspace: crate::keyspace::Keyspace { dbs, .. },
        rng,
        cfg,
        clock,
        ..
    } = srv.data();
    let Some(Value::Hash(h)) = dbs[db].get(&args[1]).map(|e| &e.val) else {
        return Err(vanished());
    };
    let h: &Hash = h;
    let mut rand = || rng.random::<u64>();
    let flat = withvalues && !out.resp3();
    let header = |n: u64| (if flat { n * 2 } else { n }) as usize;

    // Case 1: a negative count (or 1): independent draws, in draw order.
    if !uniq || count == 1 {
        out.array(header(count));
        for at in 1..=count {
            let Some((f, v)) = h.random(&mut rand) else {
                break;
            };
            random_pair(out, withvalues, f, v);
            if at % 1024 == 0 && reply_overflow(&cfg.obuf_limits, clock.now(), client, out) {
                break;
            }
        }
        return Ok(());
    }
    let reply_size = count.min(size);
    out.array(header(reply_size));
    // Case 2: at least as many as there are: the whole hash.
    if count >= size {
        for (f, v) in h.iter() {
            random_pair(out, withvalues, f, v);
        }
        return Ok(());
    }
    let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
    if count * SUB_STRATEGY_MUL > size {
        // Case 3: close to the size: drop random pairs until `count` remain.
        let drop = (size - count) as usize;
        let mut idx: Vec<usize> = (0..pairs.len()).collect();
        let mut dropped = vec![false; pairs.len()];
        for i in 0..drop {
            let j = i + (rand() % (idx.len() - i) as u64) as usize;
            idx.swap(i, j);
            dropped[idx[i]] = true;
        }
        for ((f, v), gone) in pairs.iter().zip(dropped) {
            if !gone {
                random_pair(out, withvalues, f, v);
            }
        }
    } else if let Hash::Listpack(_) = h {
        // Case 4, listpack: selection sampling, in the hash's order (`lpRandomPairsUnique`).
        let mut remaining = count;
        for (i, (f, v)) in pairs.iter().enumerate() {
            if remaining == 0 {
                break;
            }
            let threshold = remaining as f64 / (size - i as u64) as f64;
            if unit_random(&mut rand) <= threshold {
                random_pair(out, withvalues, f, v);
                remaining -= 1;
            }
        }
    } else {
        // Case 4, dict: random draws, skipping fields already given.
        let mut seen = std::collections::BTreeSet::new();
        while (seen.len() as u64) < count {
            let Some((f, v)) = h.random(&mut rand) else {
                break;
            };
            if seen.insert(f) {
                random_pair(out, withvalues, f, v);
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------ HSCAN

/// HSCAN key cursor [MATCH pattern] [COUNT count]: a listpack hash comes whole with cursor 0,
/// whatever the cursor; a dict is scanned with Redis's reverse-binary cursor, COUNT counting
/// fields and values alike. The options are parsed only once the key is found.
pub fn hscan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let mut cursor = parse_cursor(&args[2]).ok_or_else(|| CmdError::err("invalid cursor"))?;
    let Some(h) = read_hash(ctx.srv, db, &args[1])? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let (count, pattern) = scan_options(args, 3)?;
    let mut found: Vec<(SmallBytes, SmallBytes)> = Vec::new();
    match h {
        Hash::Listpack(_) => {
            found.extend(
                h.iter()
                    .map(|(f, x)| (SmallBytes::from(f), SmallBytes::from(x))),
            );
            cursor = 0;
        }
        Hash::Table(d) => {
            // Redis's arithmetic on a C `long`: a huge COUNT wraps, which leaves the loop
            // bounded only by the end of the scan.
            let count = count.wrapping_mul(2);
            let mut max_iterations = count.wrapping_mul(10);
            loop {
                cursor = d.scan(cursor, |f, x| found.push((f.clone(), x.clone())));
                if cursor == 0 || max_iterations == 0 {
                    break;
                }
                max_iterations = max_iterations.wrapping_sub(1);
                if (found.len() as u64).saturating_mul(2) >= count as u64 {
                    break;
                }
            }
        }
    }
    if let Some(p) = pattern {
        found.retain(|(f, _)| string_match(p, f, false));
    }
    ctx.out.array(2);
    ctx.out.bulk_int(cursor as i64);
    ctx.out.array(found.len() * 2);
    for (f, x) in &found {
        ctx.out.bulk(f);
        ctx.out.bulk(x);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_random_spans_zero_to_one() {
        assert_eq!(unit_random(&mut || 0), 0.0);
        assert_eq!(unit_random(&mut || u64::MAX), 1.0);
    }
}
