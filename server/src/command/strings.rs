//! String commands, as Redis 7.0's `t_string.c` and the string half of `bitops.c`: SET and its
//! variants, GET and its variants, counters, ranges and bits.
//!
//! Each handler follows Redis's order of checks (argument parsing, then key lookup and type,
//! then value checks), because that order decides which error a client sees.

use std::os::raw::{c_char, c_int};

use bytes::Bytes;

use super::args::{cstr, int, kw};
use super::{CmdError, CmdResult, Ctx};
use crate::db::{Entry, Value};
use crate::notify;
use crate::server::Server;

// ------------------------------------------------------------------------------------ helpers

/// A string value for reading (Redis's `lookupKeyRead` + `checkType`): hit/miss statistics,
/// lazy expiry, WRONGTYPE for another type.
pub(super) fn read_string<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s Value>, CmdError> {
    match srv.data().lookup_read(db, key) {
        None => Ok(None),
        Some(e) if !e.val.is_string() => Err(CmdError::WrongType),
        Some(e) => Ok(Some(&e.val)),
    }
}

/// A string entry for writing (Redis's `lookupKeyWrite` + `checkType`).
pub(super) fn write_string<'s>(
    srv: &'s mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'s mut Entry>, CmdError> {
    match srv.data().lookup_write(db, key) {
        None => Ok(None),
        Some(e) if !e.val.is_string() => Err(CmdError::WrongType),
        Some(e) => Ok(Some(e)),
    }
}

/// Redis's `checkStringLength`: a string may not grow beyond `proto-max-bulk-len` (`max`).
/// (Redis exempts its master link and AOF loading; picket has neither yet.)
pub(super) fn check_string_length(total: usize, max: i64) -> CmdResult {
    if total as u128 > max.max(0) as u128 {
        return Err(CmdError::StringTooLong);
    }
    Ok(())
}

fn bytes_of(n: i64) -> Bytes {
    Bytes::from(itoa::Buffer::new().format(n).to_owned())
}

/// GET's body (Redis's `getGenericCommand`): reply with the value or null. Returns whether the
/// key existed.
fn get_generic(ctx: &mut Ctx, key: &[u8]) -> Result<bool, CmdError> {
    let db = ctx.client.db;
    match read_string(ctx.srv, db, key)? {
        None => {
            ctx.out.null();
            Ok(false)
        }
        Some(v) => {
            ctx.out.bulk(&v.bytes());
            Ok(true)
        }
    }
}

// ------------------------------------------------------------------------ SET and GETEX options

const NX: u32 = 1 << 0;
const XX: u32 = 1 << 1;
const GET: u32 = 1 << 2;
const KEEPTTL: u32 = 1 << 3;
const PERSIST: u32 = 1 << 4;
const EX: u32 = 1 << 5;
const PX: u32 = 1 << 6;
const EXAT: u32 = 1 << 7;
const PXAT: u32 = 1 << 8;
const ANY_EXPIRE: u32 = EX | PX | EXAT | PXAT;

/// Redis's `parseExtendedStringArgumentsOrReply`: SET's options from argument 3, or GETEX's from
/// argument 2. An option may repeat (the last expiry wins); conflicting ones are a syntax error.
fn parse_extended(args: &[Bytes], is_set: bool) -> Result<(u32, Option<&Bytes>), CmdError> {
    let mut flags = 0u32;
    let mut expire = None;
    let mut j = if is_set { 3 } else { 2 };
    while j < args.len() {
        let opt = cstr(&args[j]);
        let has_next = j + 1 < args.len();
        let lower = opt.to_ascii_lowercase();
        let exp_kind = match lower.as_slice() {
            b"ex" => EX,
            b"px" => PX,
            b"exat" => EXAT,
            b"pxat" => PXAT,
            _ => 0,
        };
        if lower == b"nx" && flags & XX == 0 && is_set {
            flags |= NX;
        } else if lower == b"xx" && flags & NX == 0 && is_set {
            flags |= XX;
        } else if lower == b"get" && is_set {
            flags |= GET;
        } else if lower == b"keepttl" && flags & (PERSIST | ANY_EXPIRE) == 0 && is_set {
            flags |= KEEPTTL;
        } else if lower == b"persist" && !is_set && flags & (ANY_EXPIRE | KEEPTTL) == 0 {
            flags |= PERSIST;
        } else if exp_kind != 0
            && flags & (KEEPTTL | PERSIST | (ANY_EXPIRE & !exp_kind)) == 0
            && has_next
        {
            flags |= exp_kind;
            expire = Some(&args[j + 1]);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok((flags, expire))
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute expiry time in unix ms. EX and PX are
/// relative to the command's time; overflow and values ≤ 0 are "invalid expire time".
fn expire_ms(ctx: &Ctx, flags: u32, arg: &[u8]) -> Result<i64, CmdError> {
    let invalid = || CmdError::InvalidExpire(ctx.spec.full_name.to_string());
    let mut ms = int(arg)?;
    let seconds = flags & (EX | EXAT) != 0;
    if ms <= 0 || (seconds && ms > i64::MAX / 1000) {
        return Err(invalid());
    }
    if seconds {
        ms *= 1000;
    }
    if flags & (EX | PX) != 0 {
        // Redis adds in C and checks the sign, so an overflow wraps to a negative time.
        ms = ms.wrapping_add(ctx.srv.now_ms);
    }
    if ms <= 0 {
        return Err(invalid());
    }
    Ok(ms)
}

/// What SET-like commands answer: SET's OK/null, or SETNX's 1/0.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetReply {
    Ok,
    Int,
}

/// Redis's `setGenericCommand`, shared by SET, SETNX, SETEX and PSETEX.
fn set_generic(
    ctx: &mut Ctx,
    flags: u32,
    key: &Bytes,
    val: &Bytes,
    expire: Option<&Bytes>,
    reply: SetReply,
) -> CmdResult {
    let db = ctx.client.db;
    let when = match expire {
        Some(e) => Some(expire_ms(ctx, flags, e)?),
        None => None,
    };
    if flags & GET != 0 {
        get_generic(ctx, key)?;
    }
    let found = ctx.srv.data().lookup_write(db, key).is_some();
    if (flags & NX != 0 && found) || (flags & XX != 0 && !found) {
        if flags & GET == 0 {
            match reply {
                SetReply::Ok => ctx.out.null(),
                SetReply::Int => ctx.out.int(0),
            }
        }
        return Ok(());
    }
    ctx.srv
        .data()
        .set_key(db, key, Value::string(val), flags & KEEPTTL != 0);
    ctx.changed(notify::STRING, "set", key);
    if let Some(when) = when {
        ctx.srv.keyspace.dbs[db].set_expire(key, when);
        ctx.srv.data().notify(notify::GENERIC, "expire", key, db);
        // Replicas and the AOF get an absolute time: SET key value PXAT <ms>.
        ctx.propagate_as(vec![vec![
            Bytes::from_static(b"SET"),
            key.clone(),
            val.clone(),
            Bytes::from_static(b"PXAT"),
            bytes_of(when),
        ]]);
    } else if flags & GET != 0 {
        // Propagate without the GET option(s).
        let argv = ctx
            .args
            .iter()
            .enumerate()
            .filter(|(j, a)| !(*j >= 3 && kw(a, "get")))
            .map(|(_, a)| a.clone())
            .collect();
        ctx.propagate_as(vec![argv]);
    }
    if flags & GET == 0 {
        match reply {
            SetReply::Ok => ctx.out.ok(),
            SetReply::Int => ctx.out.int(1),
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------ SET family

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
pub fn set(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (flags, expire) = parse_extended(args, true)?;
    set_generic(ctx, flags, &args[1], &args[2], expire, SetReply::Ok)
}

/// SETNX key value
pub fn setnx(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    set_generic(ctx, NX, &args[1], &args[2], None, SetReply::Int)
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    set_generic(ctx, EX, &args[1], &args[3], Some(&args[2]), SetReply::Ok)
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    set_generic(ctx, PX, &args[1], &args[3], Some(&args[2]), SetReply::Ok)
}

/// GET key
pub fn get(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    get_generic(ctx, &args[1]).map(|_| ())
}

/// GETSET key value: GET, then SET (propagated as SET).
pub fn getset(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let key = &args[1];
    get_generic(ctx, key)?;
    ctx.srv
        .data()
        .set_key(db, key, Value::string(&args[2]), false);
    ctx.changed(notify::STRING, "set", key);
    ctx.propagate_as(vec![vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        args[2].clone(),
    ]]);
    Ok(())
}

/// GETDEL key: GET, then delete (propagated as DEL).
pub fn getdel(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let key = &args[1];
    if get_generic(ctx, key)? && ctx.srv.keyspace.dbs[db].remove(key).is_some() {
        ctx.changed(notify::GENERIC, "del", key);
        ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), key.clone()]]);
    }
    Ok(())
}

/// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]
pub fn getex(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let key = &args[1];
    let (flags, expire) = parse_extended(args, false)?;
    let Some(val) = read_string(ctx.srv, db, key)? else {
        ctx.out.null();
        return Ok(());
    };
    let val = val.bytes().into_owned();
    let when = match expire {
        Some(e) => Some(expire_ms(ctx, flags, e)?),
        None => None,
    };
    ctx.out.bulk(&val);
    match when {
        // An absolute time already past deletes the key (Redis's `checkAlreadyExpired`).
        Some(t) if flags & (EXAT | PXAT) != 0 && t <= ctx.srv.now_ms => {
            ctx.srv.keyspace.dbs[db].remove(key);
            ctx.changed(notify::GENERIC, "del", key);
            ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), key.clone()]]);
        }
        Some(t) => {
            ctx.srv.keyspace.dbs[db].set_expire(key, t);
            ctx.changed(notify::GENERIC, "expire", key);
            ctx.propagate_as(vec![vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                bytes_of(t),
            ]]);
        }
        None if flags & PERSIST != 0 && ctx.srv.keyspace.dbs[db].persist(key) => {
            ctx.changed(notify::GENERIC, "persist", key);
            ctx.propagate_as(vec![vec![Bytes::from_static(b"PERSIST"), key.clone()]]);
        }
        None => {}
    }
    Ok(())
}

/// MSET key value [key value ...]
pub fn mset(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, false)
}

/// MSETNX key value [key value ...]: all or nothing, 0 if any key exists.
pub fn msetnx(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, true)
}

fn mset_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    if args.len().is_multiple_of(2) {
        return Err(ctx.arity_error());
    }
    if nx
        && args[1..]
            .iter()
            .step_by(2)
            .any(|k| ctx.srv.data().exists(db, k))
    {
        ctx.out.int(0);
        return Ok(());
    }
    for pair in args[1..].chunks_exact(2) {
        // setKey looks the key up for writing first (an expired key is deleted, then added).
        ctx.srv.data().exists(db, &pair[0]);
        ctx.srv
            .data()
            .set_key(db, &pair[0], Value::string(&pair[1]), false);
        ctx.changed(notify::STRING, "set", &pair[0]);
    }
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// MGET key [key ...]: null for missing keys and for values that are not strings.
pub fn mget(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    ctx.out.array(args.len() - 1);
    for key in &args[1..] {
        match ctx.srv.data().lookup_read(db, key) {
            Some(e) if e.val.is_string() => ctx.out.bulk(&e.val.bytes()),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------ in-place changes

/// APPEND key value
pub fn append(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let (key, add) = (&args[1], &args[2]);
    let max = ctx.srv.cfg.proto_max_bulk_len;
    let total = match write_string(ctx.srv, db, key)? {
        None => {
            ctx.srv.data().set_key(db, key, Value::string(add), false);
            add.len()
        }
        Some(e) => {
            check_string_length(e.val.str_len() + add.len(), max)?;
            let mut data = std::mem::replace(&mut e.val, Value::Int(0)).into_vec();
            data.extend_from_slice(add);
            let n = data.len();
            e.val = Value::raw(data);
            n
        }
    };
    ctx.changed(notify::STRING, "append", key);
    ctx.out.int(total as i64);
    Ok(())
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.client.db;
    let n = read_string(ctx.srv, db, &ctx.args[1])?.map_or(0, |v| v.str_len());
    ctx.out.int(n as i64);
    Ok(())
}

/// GETRANGE key start end (and SUBSTR).
pub fn getrange(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let mut start = int(&args[2])?;
    let mut end = int(&args[3])?;
    let Some(v) = read_string(ctx.srv, db, &args[1])? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let s = v.bytes();
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start = len.wrapping_add(start);
    }
    if end < 0 {
        end = len.wrapping_add(end);
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&s[start as usize..=end as usize]);
    }
    Ok(())
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let (key, piece) = (&args[1], &args[3]);
    let offset = int(&args[2])?;
    if offset < 0 {
        return Err(CmdError::err("offset is out of range"));
    }
    let offset = offset as usize;
    let needed = offset.saturating_add(piece.len());
    let max = ctx.srv.cfg.proto_max_bulk_len;
    let len = match write_string(ctx.srv, db, key)? {
        None => {
            if piece.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            check_string_length(needed, max)?;
            let mut data = vec![0u8; needed];
            data[offset..].copy_from_slice(piece);
            ctx.srv.data().set_key(db, key, Value::raw(data), false);
            needed
        }
        Some(e) => {
            if piece.is_empty() {
                ctx.out.int(e.val.str_len() as i64);
                return Ok(());
            }
            check_string_length(needed, max)?;
            // Like Redis's dbUnshareStringValue: the value becomes "raw".
            let mut data = std::mem::replace(&mut e.val, Value::Int(0)).into_vec();
            if data.len() < needed {
                data.resize(needed, 0);
            }
            data[offset..needed].copy_from_slice(piece);
            let n = data.len();
            e.val = Value::raw(data);
            n
        }
    };
    ctx.changed(notify::STRING, "setrange", key);
    ctx.out.int(len as i64);
    Ok(())
}

// --------------------------------------------------------------------------------- counters

/// INCR key
pub fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_decr(ctx, 1)
}

/// DECR key
pub fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_decr(ctx, -1)
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx) -> CmdResult {
    let by = int(&ctx.args[2])?;
    incr_decr(ctx, by)
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx) -> CmdResult {
    let by = int(&ctx.args[2])?;
    if by == i64::MIN {
        return Err(CmdError::err("decrement would overflow"));
    }
    incr_decr(ctx, -by)
}

/// Redis's `incrDecrCommand`: the value (0 when missing) must be a 64-bit integer; the TTL stays.
fn incr_decr(ctx: &mut Ctx, by: i64) -> CmdResult {
    let db = ctx.client.db;
    let key = &ctx.args[1];
    let old = match write_string(ctx.srv, db, key)? {
        None => 0,
        Some(e) => e.val.as_int().ok_or(CmdError::NotInteger)?,
    };
    let new = old.checked_add(by).ok_or(CmdError::Overflow)?;
    ctx.srv.data().set_key(db, key, Value::Int(new), true);
    ctx.changed(notify::STRING, "incrby", key);
    ctx.out.int(new);
    Ok(())
}

/// Why a `long double` addition failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LdAddError {
    /// The stored value is not a valid float.
    Current,
    /// The increment is not a valid float.
    Increment,
    /// The sum is NaN or infinite.
    NanOrInf,
}

extern "C" {
    /// See longdouble.c: `current + increment` printed as Redis's `ld2string(LD_STR_HUMAN)`.
    fn picket_ld_add(
        current: *const c_char,
        current_len: usize,
        increment: *const c_char,
        increment_len: usize,
        out: *mut c_char,
        outlen: usize,
    ) -> c_int;
}

/// Redis's `MAX_LONG_DOUBLE_CHARS`: the output buffer the C side requires.
const LD_MAX_CHARS: usize = 5 * 1024;

/// `current + increment` in C `long double`, as INCRBYFLOAT and HINCRBYFLOAT compute it
/// (operands parsed by Redis's `string2ld`, result printed with `%.17Lf` and trimmed). `None`
/// counts as 0. The result is what Redis gives on the same platform.
pub(crate) fn long_double_add(
    current: Option<&[u8]>,
    increment: &[u8],
) -> Result<Vec<u8>, LdAddError> {
    let mut out = vec![0u8; LD_MAX_CHARS];
    let (cur_ptr, cur_len) = match current {
        Some(c) => (c.as_ptr() as *const c_char, c.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: `cur_ptr`/`cur_len` and `increment` describe live, readable byte slices (or a
    // null pointer, which the C side treats as "missing"), and the C side reads at most
    // `len` bytes of each (it copies them into its own buffer after checking the length).
    // `out` is writable for `out.len()` bytes and the C side writes at most that many
    // (snprintf bounded by LD_MAX_CHARS, which it checks `outlen` against). Nothing is
    // retained after the call.
    let n = unsafe {
        picket_ld_add(
            cur_ptr,
            cur_len,
            increment.as_ptr() as *const c_char,
            increment.len(),
            out.as_mut_ptr() as *mut c_char,
            out.len(),
        )
    };
    match n {
        -1 => Err(LdAddError::Current),
        -2 => Err(LdAddError::Increment),
        // -3, and -4 (buffer too small) which cannot happen with LD_MAX_CHARS.
        n if n < 0 => Err(LdAddError::NanOrInf),
        n => {
            out.truncate((n as usize).min(LD_MAX_CHARS));
            Ok(out)
        }
    }
}

/// INCRBYFLOAT key increment (propagated as SET key result KEEPTTL).
pub fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let key = &args[1];
    let current: Option<Vec<u8>> =
        write_string(ctx.srv, db, key)?.map(|e| e.val.bytes().into_owned());
    let sum = long_double_add(current.as_deref(), &args[2]).map_err(|e| match e {
        LdAddError::Current | LdAddError::Increment => CmdError::NotFloat,
        LdAddError::NanOrInf => CmdError::err("increment would produce NaN or Infinity"),
    })?;
    ctx.srv.data().set_key(db, key, Value::plain(&sum), true);
    ctx.changed(notify::STRING, "incrbyfloat", key);
    ctx.out.bulk(&sum);
    ctx.propagate_as(vec![vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        Bytes::from(sum),
        Bytes::from_static(b"KEEPTTL"),
    ]]);
    Ok(())
}
