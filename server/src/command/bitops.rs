//! Bit commands on string values, as Redis 7.0's `bitops.c`: SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP.

use std::borrow::Cow;

use super::args::{cstr, kw};
use super::args::{int, parse_i64};
use super::strings::{read_string, write_string};
use super::{CmdError, CmdResult, Ctx};
use crate::db::Value;
use crate::notify;
use crate::server::Server;

// -------------------------------------------------------------------------------------- bits

const BIT_OFFSET_ERR: &str = "bit offset is not an integer or out of range";

/// Redis's `getBitOffsetFromArgument` (no `#` form): 0 ≤ offset and offset / 8 below
/// `proto-max-bulk-len` (2^32 bits by default).
fn bit_offset(srv: &Server, arg: &[u8]) -> Result<u64, CmdError> {
    match parse_i64(arg) {
        Some(v) if v >= 0 && (v >> 3) < srv.cfg.proto_max_bulk_len => Ok(v as u64),
        _ => Err(CmdError::err(BIT_OFFSET_ERR)),
    }
}

/// SETBIT key offset value: the previous bit.
pub fn setbit(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let key = &args[1];
    let offset = bit_offset(ctx.srv, &args[2])?;
    let on = match parse_i64(&args[3]) {
        Some(v) if v & !1 == 0 => v as u8,
        _ => return Err(CmdError::err("bit is not an integer or out of range")),
    };
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7) as u8;
    let (old, dirty) = match write_string(ctx.srv, db, key)? {
        None => {
            let mut data = vec![0u8; byte + 1];
            data[byte] |= on << shift;
            ctx.srv.data().set_key(db, key, Value::raw(data), false);
            (0, true)
        }
        Some(e) => {
            // Like Redis's dbUnshareStringValue, the value becomes "raw" even if unchanged.
            let mut data = std::mem::replace(&mut e.val, Value::Int(0)).into_vec();
            let grew = data.len() < byte + 1;
            if grew {
                data.resize(byte + 1, 0);
            }
            let old = (data[byte] >> shift) & 1;
            data[byte] = (data[byte] & !(1 << shift)) | (on << shift);
            e.val = Value::raw(data);
            (old, grew || old != on)
        }
    };
    if dirty {
        ctx.changed(notify::STRING, "setbit", key);
    }
    ctx.out.int(old as i64);
    Ok(())
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let offset = bit_offset(ctx.srv, &args[2])?;
    let bit = match read_string(ctx.srv, db, &args[1])? {
        None => 0,
        Some(v) => {
            let s = v.bytes();
            let byte = (offset >> 3) as usize;
            s.get(byte).map_or(0, |b| (b >> (7 - (offset & 7))) & 1)
        }
    };
    ctx.out.int(bit as i64);
    Ok(())
}

/// The value of bit `i` (0 = most significant bit of the first byte).
fn bit_at(p: &[u8], i: i64) -> u8 {
    (p[(i >> 3) as usize] >> (7 - (i & 7))) & 1
}

fn popcount(p: &[u8]) -> i64 {
    let mut chunks = p.chunks_exact(8);
    let mut n = 0i64;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        n += u64::from_ne_bytes(w).count_ones() as i64;
    }
    n + chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as i64)
        .sum::<i64>()
}

/// Whether a BYTE/BIT unit argument says BIT.
fn unit_is_bit(a: &[u8]) -> Result<bool, CmdError> {
    if kw(a, "bit") {
        Ok(true)
    } else if kw(a, "byte") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Normalise a start/end pair against a length as Redis's bit commands do: negative counts
/// from the end, then both clamped to [0, len-1]. Returns the inclusive range in bits, or
/// None when it is empty.
fn bit_range(start: i64, end: i64, len_bytes: i64, is_bit: bool) -> Option<(i64, i64)> {
    let len = if is_bit { len_bytes * 8 } else { len_bytes };
    let fix = |i: i64| if i < 0 { len.wrapping_add(i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(len - 1));
    if start > end {
        None
    } else if is_bit {
        Some((start, end))
    } else {
        Some((start * 8, end * 8 + 7))
    }
}

/// BITCOUNT key [start end [BYTE | BIT]]
pub fn bitcount(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    // Redis 7.0 looks the key up first: a missing key counts 0 whatever the other arguments.
    let Some(v) = read_string(ctx.srv, db, &args[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    let p = v.bytes();
    let len = p.len() as i64;
    let range = match args.len() {
        2 => bit_range(0, -1, len, false),
        4 | 5 => {
            let start = int(&args[2])?;
            let end = int(&args[3])?;
            if start < 0 && end < 0 && start > end {
                ctx.out.int(0);
                return Ok(());
            }
            let is_bit = args.len() == 5 && unit_is_bit(&args[4])?;
            bit_range(start, end, len, is_bit)
        }
        _ => return Err(CmdError::Syntax),
    };
    let count = match range {
        None => 0,
        Some((first, last)) => {
            let (sb, eb) = ((first >> 3) as usize, (last >> 3) as usize);
            let head = !(0xffu16 >> (first & 7)) as u8; // bits before the first one
            let tail = (0xffu16 >> ((last & 7) + 1)) as u8; // bits after the last one
            popcount(&p[sb..=eb])
                - (p[sb] & head).count_ones() as i64
                - (p[eb] & tail).count_ones() as i64
        }
    };
    ctx.out.int(count);
    Ok(())
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
pub fn bitpos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let want = match int(&args[2])? {
        b @ (0 | 1) => b as u8,
        _ => return Err(CmdError::err("The bit argument must be 1 or 0.")),
    };
    // A missing key is an infinite run of clear bits.
    let Some(v) = read_string(ctx.srv, db, &args[1])? else {
        ctx.out.int(if want == 1 { -1 } else { 0 });
        return Ok(());
    };
    let p = v.bytes();
    let len = p.len() as i64;
    let mut end_given = false;
    let range = match args.len() {
        3 => bit_range(0, -1, len, false),
        4..=6 => {
            let start = int(&args[3])?;
            let is_bit = args.len() == 6 && unit_is_bit(&args[5])?;
            // Without an end the range runs to the end of the string (only the BYTE form
            // can omit it).
            let end = if args.len() >= 5 {
                end_given = true;
                int(&args[4])?
            } else {
                -1
            };
            bit_range(start, end, len, is_bit)
        }
        _ => return Err(CmdError::Syntax),
    };
    let pos = match range {
        None => -1,
        Some((first, last)) => match find_bit(&p, want, first, last) {
            Some(i) => i,
            // Looking for a clear bit without an explicit end: the string continues with
            // zeros, so the answer is the first bit after the range.
            None if want == 0 && !end_given => last + 1,
            None => -1,
        },
    };
    ctx.out.int(pos);
    Ok(())
}

/// The first bit equal to `want` in bits `first..=last` of `p`.
fn find_bit(p: &[u8], want: u8, first: i64, last: i64) -> Option<i64> {
    let mut i = first;
    while i <= last && i & 7 != 0 {
        if bit_at(p, i) == want {
            return Some(i);
        }
        i += 1;
    }
    // Whole bytes: skip those without the wanted bit.
    let skip = if want == 1 { 0x00 } else { 0xff };
    let whole_end = ((last + 1) >> 3) as usize; // bytes fully inside the range end here
    let from = (i >> 3) as usize;
    if from < whole_end {
        if let Some(k) = p[from..whole_end].iter().position(|&b| b != skip) {
            let b = p[from + k];
            let bits = if want == 1 { b } else { !b };
            return Some((from + k) as i64 * 8 + bits.leading_zeros() as i64);
        }
        i = whole_end as i64 * 8;
    }
    while i <= last {
        if bit_at(p, i) == want {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// BITOP AND | OR | XOR | NOT destkey key [key ...]: the length of the result; an empty result
/// deletes the destination.
pub fn bitop(ctx: &mut Ctx) -> CmdResult {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let args = ctx.args;
    let db = ctx.client.db;
    let op = match cstr(&args[1]).to_ascii_lowercase().as_slice() {
        b"and" => Op::And,
        b"or" => Op::Or,
        b"xor" => Op::Xor,
        b"not" => Op::Not,
        _ => return Err(CmdError::Syntax),
    };
    if op == Op::Not && args.len() != 4 {
        return Err(CmdError::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let target = &args[2];
    let mut sources: Vec<Cow<'static, [u8]>> = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        match read_string(ctx.srv, db, key)? {
            None => sources.push(Cow::Borrowed(b"")),
            Some(v) => sources.push(Cow::Owned(v.bytes().into_owned())),
        }
    }
    let maxlen = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    if maxlen == 0 {
        // Redis's dbDelete: no expiry check here.
        if ctx.srv.keyspace.dbs[db].remove(target).is_some() {
            ctx.changed(notify::GENERIC, "del", target);
        }
        ctx.out.int(0);
        return Ok(());
    }
    let mut res = vec![0u8; maxlen];
    res[..sources[0].len()].copy_from_slice(&sources[0]);
    match op {
        Op::Not => res.iter_mut().for_each(|b| *b = !*b),
        Op::And => {
            for s in &sources[1..] {
                for (i, b) in res.iter_mut().enumerate() {
                    *b &= s.get(i).copied().unwrap_or(0);
                }
            }
        }
        Op::Or | Op::Xor => {
            for s in &sources[1..] {
                for (b, x) in res.iter_mut().zip(s.iter()) {
                    if op == Op::Or {
                        *b |= x;
                    } else {
                        *b ^= x;
                    }
                }
            }
        }
    }
    // setKey looks the destination up for writing first (an expired one is deleted, then added).
    ctx.srv.data().exists(db, target);
    ctx.srv.data().set_key(db, target, Value::raw(res), false);
    ctx.changed(notify::STRING, "set", target);
    ctx.out.int(maxlen as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------- BITFIELD

/// What a BITFIELD overflow does (Redis's `BFOVERFLOW_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

/// One operation of a BITFIELD call, parsed before any runs.
#[derive(Debug)]
struct BitfieldOp {
    op: FieldOp,
    offset: u64,
    value: i64,
    signed: bool,
    bits: u32,
    overflow: Overflow,
}

const BITFIELD_TYPE_ERR: &str =
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// `i1`..`i64` or `u1`..`u63` (Redis's `getBitfieldTypeFromArgument`; lowercase only).
fn bitfield_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(CmdError::err(BITFIELD_TYPE_ERR)),
    };
    match parse_i64(&arg[1..]) {
        Some(b) if b >= 1 && b <= if signed { 64 } else { 63 } => Ok((signed, b as u32)),
        _ => Err(CmdError::err(BITFIELD_TYPE_ERR)),
    }
}

/// A bit offset, or `#n` for the n-th field of `bits` bits (Redis's
/// `getBitOffsetFromArgument` with `hash`).
fn bitfield_offset(srv: &Server, arg: &[u8], bits: u32) -> Result<u64, CmdError> {
    let hash = arg.first() == Some(&b'#');
    let n = parse_i64(if hash { &arg[1..] } else { arg })
        .ok_or_else(|| CmdError::err(BIT_OFFSET_ERR))?;
    let n = if hash {
        n.checked_mul(bits as i64)
            .ok_or_else(|| CmdError::err(BIT_OFFSET_ERR))?
    } else {
        n
    };
    if n < 0 || (n >> 3) >= srv.cfg.proto_max_bulk_len {
        return Err(CmdError::err(BIT_OFFSET_ERR));
    }
    Ok(n as u64)
}

/// Bits `offset..offset + bits` of `p` (most significant first), bytes past the end as 0.
fn get_unsigned_field(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let o = offset + i;
        let bit = p
            .get((o >> 3) as usize)
            .map_or(0, |b| (b >> (7 - (o & 7))) & 1);
        v = (v << 1) | bit as u64;
    }
    v
}

fn get_signed_field(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut v = get_unsigned_field(p, offset, bits);
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        v |= u64::MAX << bits;
    }
    v as i64
}

/// Write the low `bits` bits of `value` at `offset` (the string is long enough).
fn set_field(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits as u64 {
        let bit = ((value >> (bits as u64 - 1 - i)) & 1) as u8;
        let o = offset + i;
        let byte = (o >> 3) as usize;
        let shift = 7 - (o & 7) as u8;
        p[byte] = (p[byte] & !(1 << shift)) | (bit << shift);
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: whether `value + incr` leaves `bits` bits, and
/// the value to store then (wrapped or saturated; none for FAIL).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (bool, u64) {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > maxincr) {
        match ow {
            Overflow::Wrap => (true, wrap()),
            Overflow::Sat => (true, max),
            Overflow::Fail => (true, 0),
        }
    } else if incr < 0 && incr < minincr {
        match ow {
            Overflow::Wrap => (true, wrap()),
            Overflow::Sat => (true, 0),
            Overflow::Fail => (true, 0),
        }
    } else {
        (false, value.wrapping_add(incr as u64))
    }
}

/// Redis's `checkSignedBitfieldOverflow`.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (bool, i64) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        match ow {
            Overflow::Wrap => (true, wrap()),
            Overflow::Sat => (true, max),
            Overflow::Fail => (true, 0),
        }
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        match ow {
            Overflow::Wrap => (true, wrap()),
            Overflow::Sat => (true, min),
            Overflow::Fail => (true, 0),
        }
    } else {
        (false, value.wrapping_add(incr))
    }
}

/// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
/// [OVERFLOW WRAP|SAT|FAIL] ...
pub fn bitfield(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, false)
}

/// BITFIELD_RO key [GET type offset] ...
pub fn bitfield_ro(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, true)
}

/// Redis's `bitfieldGeneric`: every operation is parsed (and refused) before any runs.
fn bitfield_generic(ctx: &mut Ctx, ro_command: bool) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let key = &args[1];
    let mut ops: Vec<BitfieldOp> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut readonly = true;
    let mut highest_write: u64 = 0;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = &args[j];
        let op = if kw(sub, "get") && rem >= 2 {
            FieldOp::Get
        } else if kw(sub, "set") && rem >= 3 {
            FieldOp::Set
        } else if kw(sub, "incrby") && rem >= 3 {
            FieldOp::IncrBy
        } else if kw(sub, "overflow") && rem >= 1 {
            let t = &args[j + 1];
            overflow = if kw(t, "wrap") {
                Overflow::Wrap
            } else if kw(t, "sat") {
                Overflow::Sat
            } else if kw(t, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::err("Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = bitfield_type(&args[j + 1])?;
        let offset = bitfield_offset(ctx.srv, &args[j + 2], bits)?;
        let mut value = 0;
        if op != FieldOp::Get {
            readonly = false;
            highest_write = highest_write.max(offset + bits as u64 - 1);
            value = int(&args[j + 3])?;
        }
        ops.push(BitfieldOp {
            op,
            offset,
            value,
            signed,
            bits,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }

    if readonly {
        let data: Vec<u8> = match read_string(ctx.srv, db, key)? {
            None => Vec::new(),
            Some(v) => v.bytes().into_owned(),
        };
        ctx.out.array(ops.len());
        for o in &ops {
            if o.signed {
                ctx.out.int(get_signed_field(&data, o.offset, o.bits));
            } else {
                ctx.out
                    .int(get_unsigned_field(&data, o.offset, o.bits) as i64);
            }
        }
        return Ok(());
    }
    if ro_command {
        return Err(CmdError::err(
            "BITFIELD_RO only supports the GET subcommand",
        ));
    }
    // Redis's lookupStringForBitCommand: the string grows (or is created) up to the last
    // byte written, before anything runs.
    let need = (highest_write >> 3) as usize + 1;
    let mut data = match write_string(ctx.srv, db, key)? {
        None => {
            ctx.srv
                .data()
                .set_key(db, key, Value::raw(vec![0u8; need]), false);
            vec![0u8; need]
        }
        Some(e) => {
            let mut d = std::mem::replace(&mut e.val, Value::Int(0)).into_vec();
            if d.len() < need {
                d.resize(need, 0);
            }
            d
        }
    };
    ctx.out.array(ops.len());
    let mut changes = 0u64;
    for o in &ops {
        match o.op {
            FieldOp::Get => {
                if o.signed {
                    ctx.out.int(get_signed_field(&data, o.offset, o.bits));
                } else {
                    ctx.out
                        .int(get_unsigned_field(&data, o.offset, o.bits) as i64);
                }
            }
            FieldOp::Set | FieldOp::IncrBy => {
                changes += 1;
                let (overflowed, store, reply) = if o.signed {
                    let old = get_signed_field(&data, o.offset, o.bits);
                    if o.op == FieldOp::IncrBy {
                        let (ov, v) = signed_overflow(old, o.value, o.bits, o.overflow);
                        (ov, v as u64, v)
                    } else {
                        let (ov, v) = signed_overflow(o.value, 0, o.bits, o.overflow);
                        (ov, if ov { v } else { o.value } as u64, old)
                    }
                } else {
                    let old = get_unsigned_field(&data, o.offset, o.bits);
                    if o.op == FieldOp::IncrBy {
                        let (ov, v) = unsigned_overflow(old, o.value, o.bits, o.overflow);
                        (ov, v, v as i64)
                    } else {
                        let (ov, v) = unsigned_overflow(o.value as u64, 0, o.bits, o.overflow);
                        (ov, if ov { v } else { o.value as u64 }, old as i64)
                    }
                };
                if overflowed && o.overflow == Overflow::Fail {
                    ctx.out.null();
                } else {
                    ctx.out.int(reply);
                    set_field(&mut data, o.offset, o.bits, store);
                }
            }
        }
    }
    match ctx.srv.data().lookup_write(db, key) {
        Some(e) => e.val = Value::raw(data),
        None => return Err(CmdError::err("internal error: string vanished")),
    }
    if changes > 0 {
        ctx.changed(notify::STRING, "setbit", key);
        ctx.srv.dirty += changes - 1;
    }
    Ok(())
}

// --------------------------------------------------------------------------------------- LCS

/// The largest LCS table picket allocates (Redis tries any size and may be killed by the
/// kernel for it): 4 GiB, two strings of about 32k bytes each.
const LCS_MAX_TABLE: u64 = 4 << 30;

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN] (Redis's `lcsCommand`).
pub fn lcs(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.client.db;
    let mut strings: Vec<Vec<u8>> = Vec::with_capacity(2);
    let mut wrong = false;
    for key in &args[1..3] {
        match ctx.srv.data().lookup_read(db, key) {
            None => strings.push(Vec::new()),
            Some(e) if !e.val.is_string() => wrong = true,
            Some(e) => strings.push(e.val.bytes().into_owned()),
        }
    }
    if wrong {
        return Err(CmdError::err(
            "The specified keys must contain string values",
        ));
    }
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        if kw(opt, "idx") {
            getidx = true;
        } else if kw(opt, "len") {
            getlen = true;
        } else if kw(opt, "withmatchlen") {
            withmatchlen = true;
        } else if kw(opt, "minmatchlen") && more > 0 {
            minmatchlen = int(&args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(CmdError::err(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (a, b) = (&strings[0], &strings[1]);
    if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
        return Err(CmdError::err("String too long for LCS"));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    let mut table: Vec<u32> = Vec::new();
    if cells * 4 > LCS_MAX_TABLE || table.try_reserve_exact(cells as usize).is_err() {
        return Err(CmdError::err(
            "Insufficient memory, failed allocating transient memory for LCS",
        ));
    }
    table.resize(cells as usize, 0);
    let w = blen + 1;
    for i in 1..=alen {
        for jj in 1..=blen {
            table[i * w + jj] = if a[i - 1] == b[jj - 1] {
                table[(i - 1) * w + jj - 1] + 1
            } else {
                table[(i - 1) * w + jj].max(table[i * w + jj - 1])
            };
        }
    }
    let total = table[alen * w + blen];
    let compute = getidx || !getlen;
    let mut result = vec![0u8; if compute { total as usize } else { 0 }];
    let mut idx = total as usize;
    // The ranges, as Redis walks back from the end of both strings.
    let mut ranges: Vec<(u32, u32, u32, u32, u32)> = Vec::new();
    let (mut astart, mut aend, mut bstart, mut bend) = (alen as u32, 0u32, 0u32, 0u32);
    let (mut i, mut jj) = (alen, blen);
    while compute && i > 0 && jj > 0 {
        let mut emit = false;
        if a[i - 1] == b[jj - 1] {
            result[idx - 1] = a[i - 1];
            if astart == alen as u32 {
                astart = (i - 1) as u32;
                aend = (i - 1) as u32;
                bstart = (jj - 1) as u32;
                bend = (jj - 1) as u32;
            } else if astart == i as u32 && bstart == jj as u32 {
                astart -= 1;
                bstart -= 1;
            } else {
                emit = true;
            }
            if astart == 0 || bstart == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            jj -= 1;
        } else {
            let l1 = table[(i - 1) * w + jj];
            let l2 = table[i * w + jj - 1];
            if l1 > l2 {
                i -= 1;
            } else {
                jj -= 1;
            }
            if astart != alen as u32 {
                emit = true;
            }
        }
        let match_len = aend.wrapping_sub(astart).wrapping_add(1);
        if emit {
            if minmatchlen == 0 || match_len as i64 >= minmatchlen {
                ranges.push((astart, aend, bstart, bend, match_len));
            }
            astart = alen as u32;
        }
    }
    drop(table);
    if getidx {
        ctx.out.map(2);
        ctx.out.bulk(b"matches");
        ctx.out.array(ranges.len());
        for (a0, a1, b0, b1, len) in ranges {
            ctx.out.array(2 + withmatchlen as usize);
            ctx.out.array(2);
            ctx.out.int(a0 as i64);
            ctx.out.int(a1 as i64);
            ctx.out.array(2);
            ctx.out.int(b0 as i64);
            ctx.out.int(b1 as i64);
            if withmatchlen {
                ctx.out.int(len as i64);
            }
        }
        ctx.out.bulk(b"len");
        ctx.out.int(total as i64);
    } else if getlen {
        ctx.out.int(total as i64);
    } else {
        ctx.out.bulk(&result);
    }
    Ok(())
}
