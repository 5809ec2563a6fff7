//! The `struct` library scripts get, as Redis's `lua_struct.c` (Roberto Ierusalimschy's
//! struct 0.2 with Redis's fixes) on x86-64: `pack(fmt, ...)`, `unpack(fmt, s [, pos])`,
//! `size(fmt)`, with `<` `>` `!n` ` `, `x`, `b/B h/H l/L T i/In I/In` (integers), `f d`,
//! `cn c0 s`, native little-endian and alignment 1 by default, and the same errors.

use std::os::raw::c_int;

use mlua::ffi;

use super::ffi::{arg_error_msg, push_bytes, raise_positioned, set_field_fn, type_name, L};

const MAXINTSIZE: usize = 32;
/// `MAXALIGN` on x86-64: the padding before a double in a struct (8).
const MAXALIGN: usize = 8;

#[derive(Clone, Copy, PartialEq)]
enum Endian {
    Big,
    Little,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn default_options() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// Errors raised as `luaL_error` (positioned) or `luaL_argerror` messages (already
/// formatted, positioned too).
type Res<T> = Result<T, Vec<u8>>;

struct Fmt<'a> {
    f: &'a [u8],
    i: usize,
}

impl Fmt<'_> {
    fn peek(&self) -> u8 {
        self.f.get(self.i).copied().unwrap_or(0)
    }

    fn getnum(&mut self, df: usize) -> Res<usize> {
        if !self.peek().is_ascii_digit() {
            return Ok(df);
        }
        let mut a: i64 = 0;
        while self.peek().is_ascii_digit() {
            let d = (self.peek() - b'0') as i64;
            if a > (i32::MAX as i64 / 10) || a * 10 > (i32::MAX as i64 - d) {
                return Err(b"integral size overflow".to_vec());
            }
            a = a * 10 + d;
            self.i += 1;
        }
        Ok(a as usize)
    }

    fn optsize(&mut self, opt: u8) -> Res<usize> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.getnum(1)?,
            b'i' | b'I' => {
                let sz = self.getnum(4)?;
                if sz > MAXINTSIZE {
                    return Err(
                        format!("integral size {sz} is larger than limit of {MAXINTSIZE}")
                            .into_bytes(),
                    );
                }
                sz
            }
            _ => 0,
        })
    }
}

fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

unsafe fn controloptions(l: L, opt: u8, fmt: &mut Fmt, h: &mut Header) -> Res<()> {
    match opt {
        b' ' => Ok(()),
        b'>' => {
            h.endian = Endian::Big;
            Ok(())
        }
        b'<' => {
            h.endian = Endian::Little;
            Ok(())
        }
        b'!' => {
            let a = fmt.getnum(MAXALIGN)?;
            if a == 0 || a & (a - 1) != 0 {
                return Err(format!("alignment {a} is not a power of 2").into_bytes());
            }
            h.align = a;
            Ok(())
        }
        _ => Err(arg_error_msg(
            l,
            1,
            &format!("invalid format option '{}'", opt as char),
        )),
    }
}

unsafe fn check_number(l: L, arg: c_int) -> Res<f64> {
    if ffi::lua_isnumber(l, arg) == 0 {
        let got = type_name(l, arg);
        return Err(arg_error_msg(
            l,
            arg,
            &format!("number expected, got {got}"),
        ));
    }
    Ok(ffi::lua_tonumber(l, arg))
}

unsafe fn check_bytes<'a>(l: L, arg: c_int) -> Res<&'a [u8]> {
    if ffi::lua_isstring(l, arg) == 0 {
        let got = type_name(l, arg);
        return Err(arg_error_msg(
            l,
            arg,
            &format!("string expected, got {got}"),
        ));
    }
    Ok(super::ffi::to_bytes(l, arg).unwrap_or_default())
}

unsafe fn pack_inner(l: L) -> Res<Vec<u8>> {
    let f = check_bytes(l, 1)?;
    let mut fmt = Fmt { f, i: 0 };
    let mut h = Header::default_options();
    let mut arg: c_int = 2;
    let mut total: usize = 0;
    // (As the C code's mark separating the arguments from its buffer: a missing first
    // argument is then a nil.)
    ffi::lua_pushnil(l);
    let mut b = Vec::new();
    // (The C code stops at a NUL in the format.)
    while fmt.peek() != 0 {
        let opt = fmt.peek();
        fmt.i += 1;
        let mut size = fmt.optsize(opt)?;
        let toalign = gettoalign(total, &h, opt, size);
        total += toalign;
        b.extend(std::iter::repeat_n(0u8, toalign));
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(l, arg)?;
                arg += 1;
                let mut value: u64 = if n < 0.0 {
                    super::convert::c_ll(n) as u64
                } else {
                    n as u64
                };
                let mut buff = [0u8; MAXINTSIZE];
                if h.endian == Endian::Little {
                    for byte in buff.iter_mut().take(size) {
                        *byte = (value & 0xff) as u8;
                        value >>= 8;
                    }
                } else {
                    for i in (0..size).rev() {
                        buff[i] = (value & 0xff) as u8;
                        value >>= 8;
                    }
                }
                b.extend_from_slice(&buff[..size]);
            }
            b'x' => b.push(0),
            b'f' => {
                let v = check_number(l, arg)? as f32;
                arg += 1;
                let bytes = match h.endian {
                    Endian::Little => v.to_le_bytes(),
                    Endian::Big => v.to_be_bytes(),
                };
                b.extend_from_slice(&bytes);
            }
            b'd' => {
                let v = check_number(l, arg)?;
                arg += 1;
                let bytes = match h.endian {
                    Endian::Little => v.to_le_bytes(),
                    Endian::Big => v.to_be_bytes(),
                };
                b.extend_from_slice(&bytes);
            }
            b'c' | b's' => {
                let s = check_bytes(l, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(arg_error_msg(l, arg, "string too short"));
                }
                b.extend_from_slice(&s[..size]);
                if opt == b's' {
                    b.push(0);
                    size += 1;
                }
            }
            _ => controloptions(l, opt, &mut fmt, &mut h)?,
        }
        total += size;
    }
    Ok(b)
}

unsafe extern "C-unwind" fn pack(l: L) -> c_int {
    match pack_inner(l) {
        Ok(b) => {
            push_bytes(l, &b);
            drop(b);
            1
        }
        Err(msg) => raise_positioned(l, msg),
    }
}

fn getinteger(buff: &[u8], endian: Endian, signed: bool, size: usize) -> f64 {
    let mut v: u64 = 0;
    match endian {
        Endian::Big => {
            for &c in &buff[..size] {
                v = (v << 8) | c as u64;
            }
        }
        Endian::Little => {
            for &c in buff[..size].iter().rev() {
                v = (v << 8) | c as u64;
            }
        }
    }
    if !signed {
        return v as f64;
    }
    // (A shift by 64 or more is taken modulo 64, as x86 does.)
    let mask = u64::MAX.wrapping_shl((size * 8).wrapping_sub(1) as u32);
    if v & mask != 0 {
        v |= mask;
    }
    v as i64 as f64
}

unsafe fn unpack_inner(l: L) -> Res<c_int> {
    let f = check_bytes(l, 1)?;
    let data = check_bytes(l, 2)?;
    let ld = data.len();
    let pos_arg: i64 = match ffi::lua_type(l, 3) {
        t if t <= ffi::LUA_TNIL => 1,
        _ => check_number(l, 3)? as i64,
    };
    let mut pos = pos_arg as u64 as usize;
    if pos == 0 {
        return Err(arg_error_msg(l, 3, "offset must be 1 or greater"));
    }
    pos -= 1;
    let mut fmt = Fmt { f, i: 0 };
    let mut h = Header::default_options();
    let mut n: c_int = 0;
    while fmt.peek() != 0 {
        let opt = fmt.peek();
        fmt.i += 1;
        let mut size = fmt.optsize(opt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(arg_error_msg(l, 2, "data string too short"));
        }
        ffi::luaL_checkstack_(l, 2, c"too many results".as_ptr());
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = getinteger(&data[pos..], h.endian, opt.is_ascii_lowercase(), size);
                ffi::lua_pushnumber(l, v);
                n += 1;
            }
            b'x' => {}
            b'f' => {
                let mut a = [0u8; 4];
                a.copy_from_slice(&data[pos..pos + 4]);
                let v = match h.endian {
                    Endian::Little => f32::from_le_bytes(a),
                    Endian::Big => f32::from_be_bytes(a),
                };
                ffi::lua_pushnumber(l, v as f64);
                n += 1;
            }
            b'd' => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&data[pos..pos + 8]);
                let v = match h.endian {
                    Endian::Little => f64::from_le_bytes(a),
                    Endian::Big => f64::from_be_bytes(a),
                };
                ffi::lua_pushnumber(l, v);
                n += 1;
            }
            b'c' => {
                if size == 0 {
                    if n == 0 || ffi::lua_isnumber(l, -1) == 0 {
                        return Err(b"format 'c0' needs a previous size".to_vec());
                    }
                    size = ffi::lua_tonumber(l, -1) as u64 as usize;
                    ffi::lua_settop(l, -2);
                    n -= 1;
                    if !(size <= ld && pos <= ld - size) {
                        return Err(arg_error_msg(l, 2, "data string too short"));
                    }
                }
                push_bytes(l, &data[pos..pos + size]);
                n += 1;
            }
            b's' => {
                let Some(e) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(b"unfinished string in data".to_vec());
                };
                size = e + 1;
                push_bytes(l, &data[pos..pos + e]);
                n += 1;
            }
            _ => controloptions(l, opt, &mut fmt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    ffi::lua_pushinteger(l, pos.wrapping_add(1) as ffi::lua_Integer);
    Ok(n + 1)
}

unsafe extern "C-unwind" fn unpack(l: L) -> c_int {
    match unpack_inner(l) {
        Ok(n) => n,
        Err(msg) => raise_positioned(l, msg),
    }
}

unsafe fn size_inner(l: L) -> Res<usize> {
    let f = check_bytes(l, 1)?;
    let mut fmt = Fmt { f, i: 0 };
    let mut h = Header::default_options();
    let mut pos: usize = 0;
    while fmt.peek() != 0 {
        let opt = fmt.peek();
        fmt.i += 1;
        let size = fmt.optsize(opt)?;
        pos += gettoalign(pos, &h, opt, size);
        if opt == b's' {
            return Err(arg_error_msg(l, 1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error_msg(l, 1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(l, opt, &mut fmt, &mut h)?;
        }
        pos += size;
    }
    Ok(pos)
}

unsafe extern "C-unwind" fn size(l: L) -> c_int {
    match size_inner(l) {
        Ok(n) => {
            ffi::lua_pushinteger(l, n as ffi::lua_Integer);
            1
        }
        Err(msg) => raise_positioned(l, msg),
    }
}

/// Push the `struct` table.
pub unsafe fn open(l: L) {
    ffi::lua_createtable(l, 0, 3);
    set_field_fn(l, c"pack", pack);
    set_field_fn(l, c"unpack", unpack);
    set_field_fn(l, c"size", size);
}
