//! The `cmsgpack` library scripts get, as Redis's `lua_cmsgpack.c` (lua-cmsgpack 0.4.0):
//! `pack(...)` (integers in their smallest form, floats as float32 when exact, tables as
//! arrays when their keys are 1..n, nesting past 16 as nil), `unpack(s)`, `unpack_one(s
//! [, offset])`, `unpack_limit(s, limit [, offset])` with the same errors.

use std::os::raw::c_int;

use mlua::ffi;

use super::ffi::{push_bytes, raise_positioned, set_field_bytes, set_field_fn, L};

const MAX_NESTING: u32 = 16;

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2147483648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    // IS_INT64_EQUIVALENT: not infinite, and (int64_t)n == n.
    if !n.is_infinite() && (super::convert::c_ll(n) as f64) == n {
        encode_int(out, super::convert::c_ll(n));
        return;
    }
    let f = n as f32;
    if f as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_bits().to_be_bytes());
    }
}

fn encode_len(out: &mut Vec<u8>, n: usize, fix: u8, b16: u8, b32: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 65535 {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Whether the table at the top has exactly the keys 1..n (`table_is_an_array`).
unsafe fn is_array(l: L) -> bool {
    let top = ffi::lua_gettop(l);
    let (mut count, mut max) = (0i64, 0i64);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_settop(l, -2);
        let n = ffi::lua_tonumber(l, -1);
        // IS_INT_EQUIVALENT: fits a C int exactly.
        if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER
            || n <= 0.0
            || n.is_infinite()
            || n != (n as i32) as f64
        {
            ffi::lua_settop(l, top);
            return false;
        }
        max = max.max(n as i64);
        count += 1;
    }
    ffi::lua_settop(l, top);
    max == count
}

/// Encode the value at the top and pop it (`mp_encode_lua_type`).
unsafe fn encode(l: L, out: &mut Vec<u8>, level: u32) {
    let mut t = ffi::lua_type(l, -1);
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TSTRING => encode_bytes(out, super::ffi::to_bytes(l, -1).unwrap_or_default()),
        ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(l, -1) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => encode_number(out, ffi::lua_tonumber(l, -1)),
        ffi::LUA_TTABLE => {
            ffi::luaL_checkstack_(l, 3, c"in function mp_encode_lua_table".as_ptr());
            if is_array(l) {
                let len = ffi::lua_objlen(l, -1);
                encode_len(out, len, 0x90, 0xdc, 0xdd);
                for j in 1..=len {
                    ffi::lua_pushnumber(l, j as f64);
                    ffi::lua_gettable_(l, -2);
                    encode(l, out, level + 1);
                }
            } else {
                let mut len = 0;
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    ffi::lua_settop(l, -2);
                    len += 1;
                }
                encode_len(out, len, 0x80, 0xde, 0xdf);
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    ffi::lua_pushvalue(l, -2);
                    encode(l, out, level + 1); // the key
                    encode(l, out, level + 1); // the value
                }
            }
        }
        _ => out.push(0xc0),
    }
    ffi::lua_settop(l, -2);
}

unsafe extern "C-unwind" fn pack(l: L) -> c_int {
    let nargs = ffi::lua_gettop(l);
    if nargs == 0 {
        ffi::luaL_argerror(l, 0, c"MessagePack pack needs input.".as_ptr());
    }
    if ffi::lua_checkstack(l, nargs) == 0 {
        ffi::luaL_argerror(l, 0, c"Too many arguments for MessagePack pack.".as_ptr());
    }
    let out = {
        let mut out = Vec::new();
        for i in 1..=nargs {
            ffi::luaL_checkstack_(l, 1, c"in function mp_check".as_ptr());
            ffi::lua_pushvalue(l, i);
            encode(l, &mut out, 0);
        }
        out
    };
    push_bytes(l, &out);
    drop(out);
    1
}

enum DecErr {
    Eof,
    BadFmt,
}

struct Cur<'a> {
    p: &'a [u8],
}

impl Cur<'_> {
    fn need(&self, n: usize) -> Result<(), DecErr> {
        if self.p.len() < n {
            Err(DecErr::Eof)
        } else {
            Ok(())
        }
    }
    fn be(&self, from: usize, n: usize) -> u64 {
        self.p[from..from + n]
            .iter()
            .fold(0u64, |a, &b| (a << 8) | b as u64)
    }
}

/// Push the next value (`mp_decode_to_lua_type`).
unsafe fn decode(l: L, c: &mut Cur) -> Result<(), DecErr> {
    c.need(1)?;
    ffi::luaL_checkstack_(
        l,
        1,
        c"too many return values at once; use unpack_one or unpack_limit instead.".as_ptr(),
    );
    let b = c.p[0];
    let adv = |c: &mut Cur, n: usize| c.p = &c.p[n..];
    match b {
        0xcc => {
            c.need(2)?;
            ffi::lua_pushnumber(l, c.p[1] as f64);
            adv(c, 2);
        }
        0xd0 => {
            c.need(2)?;
            ffi::lua_pushnumber(l, c.p[1] as i8 as f64);
            adv(c, 2);
        }
        0xcd => {
            c.need(3)?;
            ffi::lua_pushnumber(l, c.be(1, 2) as f64);
            adv(c, 3);
        }
        0xd1 => {
            c.need(3)?;
            ffi::lua_pushnumber(l, c.be(1, 2) as u16 as i16 as f64);
            adv(c, 3);
        }
        0xce => {
            c.need(5)?;
            ffi::lua_pushnumber(l, c.be(1, 4) as f64);
            adv(c, 5);
        }
        0xd2 => {
            c.need(5)?;
            ffi::lua_pushnumber(l, c.be(1, 4) as u32 as i32 as f64);
            adv(c, 5);
        }
        0xcf => {
            c.need(9)?;
            ffi::lua_pushnumber(l, c.be(1, 8) as f64);
            adv(c, 9);
        }
        0xd3 => {
            c.need(9)?;
            ffi::lua_pushnumber(l, c.be(1, 8) as i64 as f64);
            adv(c, 9);
        }
        0xc0 => {
            ffi::lua_pushnil(l);
            adv(c, 1);
        }
        0xc3 => {
            ffi::lua_pushboolean(l, 1);
            adv(c, 1);
        }
        0xc2 => {
            ffi::lua_pushboolean(l, 0);
            adv(c, 1);
        }
        0xca => {
            c.need(5)?;
            ffi::lua_pushnumber(l, f32::from_bits(c.be(1, 4) as u32) as f64);
            adv(c, 5);
        }
        0xcb => {
            c.need(9)?;
            ffi::lua_pushnumber(l, f64::from_bits(c.be(1, 8)));
            adv(c, 9);
        }
        0xd9..=0xdb => {
            let h = match b {
                0xd9 => 1,
                0xda => 2,
                _ => 4,
            };
            c.need(1 + h)?;
            let n = c.be(1, h) as usize;
            adv(c, 1 + h);
            c.need(n)?;
            push_bytes(l, &c.p[..n]);
            adv(c, n);
        }
        0xdc | 0xdd => {
            let h = if b == 0xdc { 2 } else { 4 };
            c.need(1 + h)?;
            let n = c.be(1, h) as usize;
            adv(c, 1 + h);
            decode_array(l, c, n)?;
        }
        0xde | 0xdf => {
            let h = if b == 0xde { 2 } else { 4 };
            c.need(1 + h)?;
            let n = c.be(1, h) as usize;
            adv(c, 1 + h);
            decode_map(l, c, n)?;
        }
        _ if b & 0x80 == 0 => {
            ffi::lua_pushnumber(l, b as f64);
            adv(c, 1);
        }
        _ if b & 0xe0 == 0xe0 => {
            ffi::lua_pushnumber(l, b as i8 as f64);
            adv(c, 1);
        }
        _ if b & 0xe0 == 0xa0 => {
            let n = (b & 0x1f) as usize;
            c.need(1 + n)?;
            push_bytes(l, &c.p[1..1 + n]);
            adv(c, 1 + n);
        }
        _ if b & 0xf0 == 0x90 => {
            adv(c, 1);
            decode_array(l, c, (b & 0xf) as usize)?;
        }
        _ if b & 0xf0 == 0x80 => {
            adv(c, 1);
            decode_map(l, c, (b & 0xf) as usize)?;
        }
        _ => return Err(DecErr::BadFmt),
    }
    Ok(())
}

unsafe fn decode_array(l: L, c: &mut Cur, n: usize) -> Result<(), DecErr> {
    ffi::lua_createtable(l, 0, 0);
    ffi::luaL_checkstack_(l, 1, c"in function mp_decode_to_lua_array".as_ptr());
    for i in 1..=n {
        ffi::lua_pushnumber(l, i as f64);
        decode(l, c)?;
        ffi::lua_settable(l, -3);
    }
    Ok(())
}

unsafe fn decode_map(l: L, c: &mut Cur, n: usize) -> Result<(), DecErr> {
    ffi::lua_createtable(l, 0, 0);
    for _ in 0..n {
        decode(l, c)?;
        decode(l, c)?;
        ffi::lua_settable(l, -3);
    }
    Ok(())
}

/// `mp_unpack_full`.
unsafe fn unpack_full(l: L, limit: i64, offset: i64) -> c_int {
    let mut len = 0usize;
    let s = ffi::luaL_checklstring(l, 1, &mut len);
    let r: Result<c_int, Vec<u8>> = (|| {
        if offset < 0 || limit < 0 {
            return Err(format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            )
            .into_bytes());
        }
        if offset as usize > len {
            return Err(format!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            )
            .into_bytes());
        }
        let decode_all = limit == 0 && offset == 0;
        let limit = if decode_all { i32::MAX as i64 } else { limit };
        let data = std::slice::from_raw_parts(s as *const u8, len);
        let mut c = Cur {
            p: &data[offset as usize..],
        };
        let mut cnt: c_int = 0;
        while !c.p.is_empty() && (cnt as i64) < limit {
            match decode(l, &mut c) {
                Ok(()) => {}
                Err(DecErr::Eof) => return Err(b"Missing bytes in input.".to_vec()),
                Err(DecErr::BadFmt) => return Err(b"Bad data format in input.".to_vec()),
            }
            cnt += 1;
        }
        if !decode_all {
            let left = c.p.len();
            ffi::luaL_checkstack_(l, 1, c"in function mp_unpack_full".as_ptr());
            ffi::lua_pushnumber(l, if left == 0 { -1.0 } else { (len - left) as f64 });
            ffi::lua_insert(l, 2);
            cnt += 1;
        }
        Ok(cnt)
    })();
    match r {
        Ok(n) => n,
        Err(msg) => raise_positioned(l, msg),
    }
}

unsafe extern "C-unwind" fn unpack(l: L) -> c_int {
    unpack_full(l, 0, 0)
}

unsafe extern "C-unwind" fn unpack_one(l: L) -> c_int {
    let offset = ffi::luaL_optinteger(l, 2, 0) as i64;
    ffi::lua_settop(l, 1);
    unpack_full(l, 1, offset)
}

unsafe extern "C-unwind" fn unpack_limit(l: L) -> c_int {
    let limit = ffi::luaL_checkinteger(l, 2) as i64;
    let offset = ffi::luaL_optinteger(l, 3, 0) as i64;
    ffi::lua_settop(l, 1);
    unpack_full(l, limit, offset)
}

/// Push the `cmsgpack` table.
pub unsafe fn open(l: L) {
    ffi::lua_createtable(l, 0, 8);
    set_field_fn(l, c"pack", pack);
    set_field_fn(l, c"unpack", unpack);
    set_field_fn(l, c"unpack_one", unpack_one);
    set_field_fn(l, c"unpack_limit", unpack_limit);
    set_field_bytes(l, c"_NAME", b"cmsgpack");
    set_field_bytes(l, c"_VERSION", b"lua-cmsgpack 0.4.0");
    set_field_bytes(
        l,
        c"_COPYRIGHT",
        b"Copyright (C) 2012, Salvatore Sanfilippo",
    );
    set_field_bytes(l, c"_DESCRIPTION", b"MessagePack C implementation for Lua");
}
