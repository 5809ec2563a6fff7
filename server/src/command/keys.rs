//! Keyspace commands (Redis 7.0's `db.c`, `expire.c` and OBJECT from `object.c`): DEL,
//! UNLINK, EXISTS, TYPE, TOUCH, the EXPIRE and TTL families, PERSIST, RENAME(NX), COPY, MOVE,
//! SWAPDB, FLUSHDB, FLUSHALL, KEYS, SCAN, RANDOMKEY and OBJECT.
//!
//! Every command is written against `Value`'s generic methods (`type_name`, `encoding`,
//! `clone`), so new value types need nothing here.

use picket_common::glob::string_match;
use rand::RngExt;

use super::args::{int, is, parse_cursor, parse_i64};
use super::client_cmd::help_reply;
use super::exec::Propagate;
use super::{CmdError, CmdResult, Ctx};
use crate::db::{idle_seconds, SmallBytes, Value};
use crate::notify;
use crate::server::Server;

// ------------------------------------------------------------------------------ helpers

/// Redis's `lookupKeyReadWithFlags(LOOKUP_NOTOUCH)`: lazy expiry and hit/miss statistics
/// (and, if `notify_miss`, the `keymiss` event), without touching the LRU clock. Used by
/// EXISTS, TYPE, TTL, SCAN's TYPE filter and (without the event) OBJECT.
pub(super) fn lookup_notouch(srv: &mut Server, db: usize, key: &[u8], notify_miss: bool) -> bool {
    // (On a replica an expired key stays until its master's DEL, but is not found.)
    if !srv.data().expire_if_needed(db, key) && srv.keyspace.dbs[db].contains(key) {
        srv.data().stats.keyspace_hits += 1;
        return true;
    }
    srv.data().stats.keyspace_misses += 1;
    if notify_miss && srv.cfg.notify_keyspace_events & notify::KEY_MISS != 0 {
        srv.data().notify(notify::KEY_MISS, "keymiss", key, db);
    }
    false
}

/// Redis's `getIntFromObjectOrReply`: an integer in the C `int` range. With `msg`, every
/// failure is `ERR <msg>`; without, Redis's two generic messages.
fn int32(arg: &[u8], msg: Option<&str>) -> Result<i64, CmdError> {
    let Some(v) = parse_i64(arg) else {
        return Err(msg.map_or(CmdError::NotInteger, CmdError::err));
    };
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        return Err(msg.map_or_else(
            || {
                CmdError::err(
                    "value is out of range, value must between -2147483648 and 2147483647",
                )
            },
            CmdError::err,
        ));
    }
    Ok(v)
}

/// A database index as `selectDb` accepts it.
fn db_index(srv: &Server, id: i64) -> Result<usize, CmdError> {
    if id < 0 || id as u64 >= srv.keyspace.dbs.len() as u64 {
        return Err(CmdError::DbIndex);
    }
    Ok(id as usize)
}

/// `ERR source and destination objects are the same` (Redis's `shared.sameobjecterr`).
fn same_object() -> CmdError {
    CmdError::err("source and destination objects are the same")
}

/// Signal (WATCH) and notify a change of `key` in `db`, which may not be the client's; the
/// caller counts it in `dirty`.
fn changed_in(srv: &mut Server, db: usize, event: &str, key: &[u8]) {
    srv.data().signal_modified(db, key);
    srv.data().notify(notify::GENERIC, event, key, db);
}

// ------------------------------------------------------------------------------ DEL, EXISTS ...

/// DEL key [key ...] and UNLINK key [key ...] (values are freed at once either way).
pub fn del(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let mut n = 0;
    for i in 1..ctx.args.len() {
        let key = ctx.args[i].clone();
        if ctx.srv.data().delete(db, &key) {
            ctx.changed(notify::GENERIC, "del", &key);
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// EXISTS key [key ...]: a key named twice counts twice.
pub fn exists(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let n = ctx.args[1..]
        .iter()
        .filter(|k| lookup_notouch(ctx.srv, db, k, true))
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

/// TYPE key
pub fn type_(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let name = if lookup_notouch(ctx.srv, db, &ctx.args[1], true) {
        ctx.srv.keyspace.dbs[db]
            .get(&ctx.args[1])
            .map_or("none", |e| e.val.type_name())
    } else {
        "none"
    };
    ctx.out.simple(name);
    Ok(())
}

/// TOUCH key [key ...]: a read lookup of each (LRU and statistics).
pub fn touch(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let n = ctx.args[1..]
        .iter()
        .filter(|k| ctx.srv.data().lookup_read(db, k).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

// ------------------------------------------------------------------------------ RENAME, COPY, MOVE

/// Redis's `renameGenericCommand`: the value and its TTL move to the new name.
fn rename_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let db = ctx.db();
    let src = ctx.args[1].clone();
    let dst = ctx.args[2].clone();
    if ctx.srv.data().lookup_write(db, &src).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    let expire = ctx.srv.keyspace.dbs[db].expire_at(&src);
    if ctx.srv.data().lookup_write(db, &dst).is_some() {
        if nx {
            ctx.out.int(0);
            return Ok(());
        }
        ctx.srv.keyspace.dbs[db].remove(&dst);
    }
    let Some(entry) = ctx.srv.keyspace.dbs[db].remove(&src) else {
        // The lookup above found it and nothing removed it since.
        return Err(CmdError::NoSuchKey);
    };
    ctx.srv.data().set_key(db, &dst, entry.val, false);
    if let Some(at) = expire {
        ctx.srv.keyspace.dbs[db].set_expire(&dst, at);
    }
    ctx.srv.data().signal_modified(db, &src);
    ctx.srv.data().signal_modified(db, &dst);
    ctx.srv
        .data()
        .notify(notify::GENERIC, "rename_from", &src, db);
    ctx.srv
        .data()
        .notify(notify::GENERIC, "rename_to", &dst, db);
    ctx.srv.dirty += 1;
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// RENAME key newkey
pub fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, true)
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: &mut Ctx) -> CmdResult {
    let src_db = ctx.db();
    let mut dst_db = src_db;
    let mut replace = false;
    let mut j = 3;
    while j < ctx.args.len() {
        let more = ctx.args.len() - j - 1;
        if is(&ctx.args[j], "replace") {
            replace = true;
        } else if is(&ctx.args[j], "db") && more >= 1 {
            let id = int32(&ctx.args[j + 1], None)?;
            dst_db = db_index(ctx.srv, id)?;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let src = ctx.args[1].clone();
    let dst = ctx.args[2].clone();
    if src_db == dst_db && src == dst {
        return Err(same_object());
    }
    let Some(val) = ctx
        .srv
        .data()
        .lookup_read(src_db, &src)
        .map(|e| e.val.clone())
    else {
        ctx.out.int(0);
        return Ok(());
    };
    let expire = ctx.srv.keyspace.dbs[src_db].expire_at(&src);
    if ctx.srv.data().lookup_write(dst_db, &dst).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        ctx.srv.keyspace.dbs[dst_db].remove(&dst);
    }
    ctx.srv.data().set_key(dst_db, &dst, val, false);
    if let Some(at) = expire {
        ctx.srv.keyspace.dbs[dst_db].set_expire(&dst, at);
    }
    changed_in(ctx.srv, dst_db, "copy_to", &dst);
    ctx.srv.dirty += 1;
    ctx.out.int(1);
    Ok(())
}

/// MOVE key db
pub fn move_(ctx: &mut Ctx) -> CmdResult {
    let src_db = ctx.db();
    let id = int32(&ctx.args[2], None)?;
    let dst_db = db_index(ctx.srv, id)?;
    if src_db == dst_db {
        return Err(same_object());
    }
    let key = ctx.args[1].clone();
    if ctx.srv.data().lookup_write(src_db, &key).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let expire = ctx.srv.keyspace.dbs[src_db].expire_at(&key);
    if ctx.srv.data().lookup_write(dst_db, &key).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(entry) = ctx.srv.keyspace.dbs[src_db].remove(&key) else {
        // The lookup above found it and nothing removed it since.
        ctx.out.int(0);
        return Ok(());
    };
    ctx.srv.data().set_key(dst_db, &key, entry.val, false);
    if let Some(at) = expire {
        ctx.srv.keyspace.dbs[dst_db].set_expire(&key, at);
    }
    ctx.srv.data().signal_modified(src_db, &key);
    ctx.srv.data().signal_modified(dst_db, &key);
    ctx.srv
        .data()
        .notify(notify::GENERIC, "move_from", &key, src_db);
    ctx.srv
        .data()
        .notify(notify::GENERIC, "move_to", &key, dst_db);
    ctx.srv.dirty += 1;
    ctx.out.int(1);
    Ok(())
}

// ------------------------------------------------------------------------------ SWAPDB, FLUSH*

/// SWAPDB index1 index2: clients stay in their database and see the other's data; WATCHes of
/// keys present in either are invalidated.
pub fn swapdb(ctx: &mut Ctx) -> CmdResult {
    let a = int32(&ctx.args[1], Some("invalid first DB index"))?;
    let b = int32(&ctx.args[2], Some("invalid second DB index"))?;
    let a = db_index(ctx.srv, a)?;
    let b = db_index(ctx.srv, b)?;
    if a != b {
        ctx.srv.data().touch_all_watched(a, Some(b));
        ctx.srv.data().touch_all_watched(b, Some(a));
        let (lo, hi) = (a.min(b), a.max(b));
        let (left, right) = ctx.srv.keyspace.dbs.split_at_mut(hi);
        left[lo].swap_data(&mut right[0]);
        // Clients blocked on keys that now hold data are served after the command.
        ctx.srv.keyspace.signal_ready_db(a);
        ctx.srv.keyspace.signal_ready_db(b);
    }
    ctx.srv.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// The optional `ASYNC|SYNC` of FLUSHDB and FLUSHALL (both free at once here).
fn flush_mode(ctx: &Ctx) -> CmdResult {
    match ctx.args.len() {
        1 => Ok(()),
        2 if is(&ctx.args[1], "sync") || is(&ctx.args[1], "async") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

/// FLUSHDB [ASYNC|SYNC]: always propagated, even when the database was empty.
pub fn flushdb(ctx: &mut Ctx) -> CmdResult {
    flush_mode(ctx)?;
    let db = ctx.db();
    ctx.srv.data().touch_all_watched(db, None);
    ctx.srv.data().signal_flushed();
    let n = ctx.srv.keyspace.dbs[db].clear();
    ctx.srv.dirty += n as u64;
    ctx.propagate = Propagate::Force;
    ctx.out.ok();
    Ok(())
}

/// FLUSHALL [ASYNC|SYNC]: always propagated. Redis 7.0 without save points adds the number of
/// removed keys to the dirty counter (and, with save points, saves; persistence is not here).
pub fn flushall(ctx: &mut Ctx) -> CmdResult {
    flush_mode(ctx)?;
    let mut n = 0;
    for db in 0..ctx.srv.keyspace.dbs.len() {
        ctx.srv.data().touch_all_watched(db, None);
        n += ctx.srv.keyspace.dbs[db].clear();
    }
    ctx.srv.data().signal_flushed();
    ctx.srv.dirty += n as u64;
    ctx.propagate = Propagate::Force;
    ctx.out.ok();
    Ok(())
}

// ------------------------------------------------------------------------------ KEYS, SCAN, RANDOMKEY

/// KEYS pattern: logically expired keys are skipped (not deleted).
pub fn keys(ctx: &mut Ctx) -> CmdResult {
    let pattern = &ctx.args[1];
    let all = &pattern[..] == b"*";
    let now = ctx.srv.now_ms;
    let db = &ctx.srv.keyspace.dbs[ctx.client.db];
    let head = ctx.out.deferred();
    let mut n = 0;
    for (k, _) in db.keys.iter() {
        if (all || string_match(pattern, k, false)) && !db.is_expired(k, now) {
            ctx.out.bulk(k);
            n += 1;
        }
    }
    ctx.out.finish_array(head, n);
    Ok(())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type], as Redis's `scanGenericCommand`:
/// COUNT buckets' worth of keys are collected (at most 10×COUNT bucket visits), then filtered
/// by pattern, type and expiry (expired keys are deleted on the way).
pub fn scan(ctx: &mut Ctx) -> CmdResult {
    let mut cursor = parse_cursor(&ctx.args[1]).ok_or_else(|| CmdError::err("invalid cursor"))?;
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let args = ctx.args;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i;
        if is(&args[i], "count") && more >= 2 {
            count = int(&args[i + 1])?;
            if count < 1 {
                return Err(CmdError::Syntax);
            }
        } else if is(&args[i], "match") && more >= 2 {
            let p = &args[i + 1][..];
            pattern = if p == b"*" { None } else { Some(p) };
        } else if is(&args[i], "type") && more >= 2 {
            type_name = Some(&args[i + 1][..]);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }

    let db = ctx.db();
    let mut found: Vec<SmallBytes> = Vec::new();
    {
        let dict = &ctx.srv.keyspace.dbs[db].keys;
        let want = count as u64 as usize;
        let mut max_iterations = count.saturating_mul(10);
        loop {
            cursor = dict.scan(cursor, |k, _| found.push(k.clone()));
            if cursor == 0 || max_iterations == 0 {
                break;
            }
            max_iterations -= 1;
            if found.len() >= want {
                break;
            }
        }
    }
    found.retain(|k| {
        if let Some(p) = pattern {
            if !string_match(p, k, false) {
                return false;
            }
        }
        if let Some(t) = type_name {
            // A key that expired is "none" here, deleted by this lookup, and then not filtered
            // as expired: Redis 7.0 returns it for TYPE none.
            let name = if lookup_notouch(ctx.srv, db, k, true) {
                ctx.srv.keyspace.dbs[db]
                    .get(k)
                    .map_or("none", |e| e.val.type_name())
            } else {
                "none"
            };
            if !t.eq_ignore_ascii_case(name.as_bytes()) {
                return false;
            }
        }
        !ctx.srv.data().expire_if_needed(db, k)
    });
    ctx.out.array(2);
    // `addReplyBulkLongLong` of the unsigned cursor.
    ctx.out.bulk_int(cursor as i64);
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// RANDOMKEY: a fair random key; expired keys drawn are deleted and another is drawn.
pub fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let all_volatile =
        ctx.srv.keyspace.dbs[db].keys.len() == ctx.srv.keyspace.dbs[db].expires.len();
    let mut tries = 100;
    loop {
        let key = {
            let crate::data::Data {
                keyspace: crate::keyspace::Keyspace { dbs, .. },
                rng,
                ..
            } = ctx.srv.data();
            let mut rand = || rng.random::<u64>();
            match dbs[db].keys.random_entry(&mut rand) {
                Some((k, _)) => k.clone(),
                None => {
                    ctx.out.null();
                    return Ok(());
                }
            }
        };
        // On a master an expired key is deleted here, and another is drawn.
        if ctx.srv.keyspace.dbs[db].expire_at(&key).is_some()
            && ctx.srv.data().expire_if_needed(db, &key)
        {
            // An expired key that stays (a replica waits for its master's DEL) could be drawn
            // forever when every key is volatile: after 100 tries Redis returns it anyway.
            if all_volatile && ctx.srv.keyspace.dbs[db].contains(&key) {
                tries -= 1;
                if tries == 0 {
                    ctx.out.bulk(&key);
                    return Ok(());
                }
            }
            continue;
        }
        ctx.out.bulk(&key);
        return Ok(());
    }
}

// ------------------------------------------------------------------------------ OBJECT

/// Redis's `objectCommandLookup`: expiry and statistics, no LRU touch, no `keymiss` event.
/// Writes the null reply when the key is missing.
fn object_lookup(ctx: &mut Ctx) -> Option<usize> {
    let db = ctx.db();
    if lookup_notouch(ctx.srv, db, &ctx.args[2], false) {
        Some(db)
    } else {
        ctx.out.null();
        None
    }
}

/// OBJECT ENCODING key
pub fn object_encoding(ctx: &mut Ctx) -> CmdResult {
    let Some(db) = object_lookup(ctx) else {
        return Ok(());
    };
    match ctx.srv.keyspace.dbs[db].get(&ctx.args[2]) {
        Some(e) => ctx.out.bulk_str(e.val.encoding()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT FREQ key: the LFU counter (with an LFU policy only).
pub fn object_freq(ctx: &mut Ctx) -> CmdResult {
    let Some(db) = object_lookup(ctx) else {
        return Ok(());
    };
    if !ctx.srv.cfg.maxmemory_policy.is_lfu() {
        return Err(CmdError::err(
            "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    let (now, decay) = (ctx.srv.now_ms, ctx.srv.cfg.lfu_decay_time);
    match ctx.srv.keyspace.dbs[db].get(&ctx.args[2]) {
        Some(e) => ctx
            .out
            .int(crate::evict::lfu_counter(e.lru, now, decay) as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT IDLETIME key: seconds since the last access, without counting this one.
pub fn object_idletime(ctx: &mut Ctx) -> CmdResult {
    let Some(db) = object_lookup(ctx) else {
        return Ok(());
    };
    if ctx.srv.cfg.maxmemory_policy.is_lfu() {
        return Err(CmdError::err(
            "An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    let clock = ctx.srv.lru_clock();
    match ctx.srv.keyspace.dbs[db].get(&ctx.args[2]) {
        Some(e) => ctx.out.int(idle_seconds(e.lru, clock) as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Redis's `OBJ_SHARED_REFCOUNT`: the refcount of the shared integers 0..9999.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis's `OBJ_SHARED_INTEGERS`.
const SHARED_INTEGERS: i64 = 10000;

/// OBJECT REFCOUNT key: Redis stores small integers as shared objects.
pub fn object_refcount(ctx: &mut Ctx) -> CmdResult {
    let Some(db) = object_lookup(ctx) else {
        return Ok(());
    };
    match ctx.srv.keyspace.dbs[db].get(&ctx.args[2]) {
        Some(e) => {
            let shared = matches!(e.val, Value::Int(n) if (0..SHARED_INTEGERS).contains(&n));
            ctx.out.int(if shared { SHARED_REFCOUNT } else { 1 });
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT HELP
pub fn object_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::expire::{expire_flags, EXPIRE_GT, EXPIRE_NX, EXPIRE_XX};
    use super::*;
    use bytes::Bytes;

    #[test]
    fn cursor_like_strtoul() {
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"+12"), Some(12));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1 "), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b"0x10"), None);
        assert_eq!(parse_cursor(b"7\0junk"), Some(7));
    }

    /// Runs commands on an in-process server and returns what they propagated, as text.
    /// One client of an in-process server; `run` gives the reply and the propagated
    /// commands.
    struct Harness {
        t: crate::testkit::TestServer,
        id: crate::client::ClientId,
    }

    impl Harness {
        fn new() -> Self {
            let mut t = crate::testkit::TestServer::new(&[]);
            let id = t.connect();
            Harness { t, id }
        }

        fn run(&mut self, line: &str) -> (String, Vec<String>) {
            let reply = self.t.line(self.id, line);
            (reply, self.t.propagated())
        }
    }

    #[test]
    fn propagation_as_redis() {
        let mut h = Harness::new();
        assert_eq!(h.run("DEL nokey").1, Vec::<String>::new());
        h.t.srv.data().set_key(0, b"k", Value::string(b"v"), false);
        // Relative and second-based times become PEXPIREAT <abs ms>, options kept.
        let (reply, cmds) = h.run("EXPIRE k 100 NX");
        assert_eq!(reply, ":1\r\n");
        let now = h.t.srv.now_ms;
        assert_eq!(cmds, vec![format!("PEXPIREAT k {} NX", now + 100_000)]);
        let (_, cmds) = h.run("pexpire k 5000");
        assert_eq!(cmds, vec![format!("PEXPIREAT k {}", h.t.srv.now_ms + 5000)]);
        assert_eq!(
            h.run("EXPIREAT k 4102444800").1,
            vec!["PEXPIREAT k 4102444800000"]
        );
        assert_eq!(
            h.run("pexpireat k 4102444800001 GT").1,
            vec!["pexpireat k 4102444800001 GT"]
        );
        // A refused option changes nothing and propagates nothing.
        assert_eq!(h.run("EXPIRE k 1 GT").1, Vec::<String>::new());
        assert_eq!(h.run("PERSIST k").1, vec!["PERSIST k"]);
        // A time in the past deletes the key: DEL.
        assert_eq!(h.run("EXPIRE k -1").1, vec!["DEL k"]);
        assert!(!h.t.srv.keyspace.dbs[0].contains(b"k"));
        // FLUSHDB and FLUSHALL propagate even when there was nothing to remove.
        assert_eq!(h.run("FLUSHDB").1, vec!["FLUSHDB"]);
        assert_eq!(h.run("FLUSHALL ASYNC").1, vec!["FLUSHALL ASYNC"]);
        // A key found expired by a lookup is deleted with a DEL of its own.
        h.t.srv
            .data()
            .set_key(0, b"old", Value::string(b"v"), false);
        h.t.srv.keyspace.dbs[0].set_expire(b"old", 1);
        let (reply, cmds) = h.run("DEL old");
        assert_eq!(reply, ":0\r\n");
        assert_eq!(cmds, vec!["DEL old"]);
        h.t.srv.data().set_key(0, b"a", Value::string(b"1"), false);
        assert_eq!(h.run("RENAME a b").1, vec!["RENAME a b"]);
        assert_eq!(h.run("COPY b c DB 2").1, vec!["COPY b c DB 2"]);
        assert_eq!(h.run("MOVE b 3").1, vec!["MOVE b 3"]);
        assert_eq!(h.run("MOVE b 3").1, Vec::<String>::new());
        assert_eq!(h.run("SWAPDB 2 3").1, vec!["SWAPDB 2 3"]);
        assert_eq!(h.run("RENAME zz b").1, Vec::<String>::new());
    }

    #[test]
    fn expire_option_rules() {
        let b = |v: &[&str]| {
            v.iter()
                .map(|s| Bytes::from(s.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(expire_flags(&b(&["nx"])), Ok(EXPIRE_NX));
        assert_eq!(expire_flags(&b(&["XX", "gt"])), Ok(EXPIRE_XX | EXPIRE_GT));
        assert!(expire_flags(&b(&["nx", "lt"])).is_err());
        assert!(expire_flags(&b(&["gt", "lt"])).is_err());
        assert_eq!(
            expire_flags(&b(&["foo"])),
            Err(CmdError::err("Unsupported option foo"))
        );
    }
}
