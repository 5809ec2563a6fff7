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
