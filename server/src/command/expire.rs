//! Key expiry commands, as Redis 7.0's `expire.c`: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT
//! (NX/XX/GT/LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.

use bytes::Bytes;

use super::args::{int, is};
use super::keys::lookup_notouch;
use super::{CmdError, CmdResult, Ctx};
use crate::notify;

// ------------------------------------------------------------------------------ EXPIRE family

pub(super) const EXPIRE_NX: u8 = 1;
pub(super) const EXPIRE_XX: u8 = 2;
pub(super) const EXPIRE_GT: u8 = 4;
const EXPIRE_LT: u8 = 8;

/// Redis's `parseExtendedExpireArgumentsOrReply`.
pub(super) fn expire_flags(opts: &[Bytes]) -> Result<u8, CmdError> {
    let mut flags = 0;
    for opt in opts {
        flags |= if is(opt, "nx") {
            EXPIRE_NX
        } else if is(opt, "xx") {
            EXPIRE_XX
        } else if is(opt, "gt") {
            EXPIRE_GT
        } else if is(opt, "lt") {
            EXPIRE_LT
        } else {
            // `%s` of a C string: the option up to its first NUL byte.
            let shown = opt.split(|&b| b == 0).next().unwrap_or_default();
            return Err(CmdError::err(format!(
                "Unsupported option {}",
                String::from_utf8_lossy(shown)
            )));
        };
    }
    if flags & EXPIRE_NX != 0 && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err(CmdError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if flags & EXPIRE_GT != 0 && flags & EXPIRE_LT != 0 {
        return Err(CmdError::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    Ok(flags)
}

/// Redis's `expireGenericCommand`: `basetime` is now (relative forms) or 0 (absolute forms).
fn expire_generic(ctx: &mut Ctx, basetime: i64, seconds: bool) -> CmdResult {
    let flags = expire_flags(&ctx.args[3..])?;
    let invalid = || CmdError::InvalidExpire(ctx.spec.full_name.to_string());
    let mut when = int(&ctx.args[2])?;
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(invalid());
        }
        when *= 1000;
    }
    if when > i64::MAX - basetime {
        return Err(invalid());
    }
    when += basetime;

    let db = ctx.db();
    let key = ctx.args[1].clone();
    if ctx.srv.data().lookup_write(db, &key).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    if flags != 0 {
        let current = ctx.srv.keyspace.dbs[db].expire_at(&key);
        let refused = (flags & EXPIRE_NX != 0 && current.is_some())
            || (flags & EXPIRE_XX != 0 && current.is_none())
            // No TTL counts as an infinite one: GT always fails, LT always passes.
            || (flags & EXPIRE_GT != 0 && current.is_none_or(|c| when <= c))
            || (flags & EXPIRE_LT != 0 && current.is_some_and(|c| when >= c));
        if refused {
            ctx.out.int(0);
            return Ok(());
        }
    }
    if when <= ctx.srv.now_ms {
        // Already expired: delete now and replicate an explicit DEL.
        ctx.srv.keyspace.dbs[db].remove(&key);
        ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), key.clone()]]);
        ctx.changed(notify::GENERIC, "del", &key);
        ctx.out.int(1);
    } else {
        // Redis replies before the `expire` event (a RESP3 subscriber sees `:1` first).
        ctx.out.int(1);
        ctx.srv.keyspace.dbs[db].set_expire(&key, when);
        // Replicas get the absolute time: PEXPIREAT key <ms> [options].
        if ctx.spec.name != "pexpireat" {
            let mut cmd = ctx.args.to_vec();
            cmd[0] = Bytes::from_static(b"PEXPIREAT");
            cmd[2] = Bytes::from(itoa::Buffer::new().format(when).to_owned());
            ctx.propagate_as(vec![cmd]);
        }
        ctx.changed(notify::GENERIC, "expire", &key);
    }
    Ok(())
}

/// EXPIRE key seconds [NX|XX|GT|LT]
pub fn expire(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.srv.now_ms;
    expire_generic(ctx, now, true)
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]
pub fn pexpire(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.srv.now_ms;
    expire_generic(ctx, now, false)
}

/// EXPIREAT key unix-time-seconds [NX|XX|GT|LT]
pub fn expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 0, true)
}

/// PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]
pub fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 0, false)
}

/// Redis's `ttlGenericCommand`: -2 without the key, -1 without a TTL.
fn ttl_generic(ctx: &mut Ctx, ms: bool, absolute: bool) -> CmdResult {
    let db = ctx.db();
    if !lookup_notouch(ctx.srv, db, &ctx.args[1], true) {
        ctx.out.int(-2);
        return Ok(());
    }
    let Some(at) = ctx.srv.keyspace.dbs[db].expire_at(&ctx.args[1]) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let t = if absolute {
        at
    } else {
        at.saturating_sub(ctx.srv.now_ms)
    }
    .max(0);
    // Rounded to the nearest second, without overflow near i64::MAX (as Redis's build does).
    let v = if ms {
        t
    } else {
        ((t as i128 + 500) / 1000) as i64
    };
    ctx.out.int(v);
    Ok(())
}

/// TTL key
pub fn ttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, false)
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, false)
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, true)
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, true)
}

/// PERSIST key
pub fn persist(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let key = ctx.args[1].clone();
    let removed =
        ctx.srv.data().lookup_write(db, &key).is_some() && ctx.srv.keyspace.dbs[db].persist(&key);
    if removed {
        ctx.changed(notify::GENERIC, "persist", &key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}
