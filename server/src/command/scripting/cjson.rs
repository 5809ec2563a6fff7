//! The `cjson` library scripts get, as Redis's `lua_cjson.c` (Lua CJSON 2.1.0) behaves with
//! its default configuration: the same escapes, number format (`%.14g`), array detection
//! (sparse arrays refused past ratio 2 and 10 items), nesting limits, error texts, and
//! `cjson.null` (a NULL light userdata). The configuration functions set the options of
//! this engine, as Redis's module-wide configuration.

use std::cell::Cell;
use std::os::raw::c_int;

use mlua::ffi;

use super::ffi::{arg_error_msg, push_bytes, raise_positioned, set_field_bytes, set_field_fn, L};

#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 off, 1 on, 2 null.
    encode_invalid_numbers: u8,
    decode_invalid_numbers: bool,
    keep_buffer: bool,
    precision: i32,
}

const DEFAULT: Config = Config {
    sparse_convert: false,
    sparse_ratio: 2,
    sparse_safe: 10,
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    encode_invalid_numbers: 0,
    decode_invalid_numbers: true,
    keep_buffer: true,
    precision: 14,
};

thread_local! {
    static CONFIG: Cell<Config> = const { Cell::new(DEFAULT) };
}

fn cfg() -> Config {
    CONFIG.with(|c| c.get())
}

/// A new engine starts from the defaults.
pub fn reset() {
    CONFIG.with(|c| c.set(DEFAULT));
}

// ----------------------------------------------------------------------------- encoding

fn escape(b: u8) -> Option<&'static [u8]> {
    Some(match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'/' => b"\\/",
        8 => b"\\b",
        9 => b"\\t",
        10 => b"\\n",
        12 => b"\\f",
        13 => b"\\r",
        0..=31 => return None.or(Some(&[])),
        127 => b"\\u007f",
        _ => return None,
    })
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match escape(c) {
            Some(e) if !e.is_empty() => out.extend_from_slice(e),
            Some(_) => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            None => out.push(c),
        }
    }
    out.push(b'"');
}

enum EncErr {
    /// "Cannot serialise <type>: <reason>".
    Type(String, &'static str),
    Depth(i32),
}

unsafe fn append_number(l: L, idx: c_int, out: &mut Vec<u8>, c: &Config) -> Result<(), EncErr> {
    let n = ffi::lua_tonumber(l, idx);
    if !n.is_finite() {
        match c.encode_invalid_numbers {
            0 => {
                return Err(EncErr::Type(
                    super::ffi::type_name(l, idx),
                    "must not be NaN or Inf",
                ))
            }
            1 if n.is_nan() => {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
            1 => {}
            _ => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    out.extend_from_slice(picket_common::resp::reply::format_g(n, c.precision as usize).as_bytes());
    Ok(())
}

/// The array length of the table at the top, or -1 for an object (`lua_array_length`).
unsafe fn array_length(l: L, c: &Config) -> Result<i64, EncErr> {
    let mut max: i64 = 0;
    let mut items: i64 = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if ffi::lua_type(l, -2) == ffi::LUA_TNUMBER {
            let k = ffi::lua_tonumber(l, -2);
            if k != 0.0 && k.floor() == k && k >= 1.0 {
                if k as i64 > max {
                    max = k as i64;
                }
                items += 1;
                ffi::lua_settop(l, -2);
                continue;
            }
        }
        ffi::lua_settop(l, -3);
        return Ok(-1);
    }
    if c.sparse_ratio > 0 && max > items * c.sparse_ratio as i64 && max > c.sparse_safe as i64 {
        if !c.sparse_convert {
            return Err(EncErr::Type("table".into(), "excessively sparse array"));
        }
        return Ok(-1);
    }
    Ok(max)
}

unsafe fn append_data(l: L, depth: i32, out: &mut Vec<u8>, c: &Config) -> Result<(), EncErr> {
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => {
            append_string(out, super::ffi::to_bytes(l, -1).unwrap_or_default());
        }
        ffi::LUA_TNUMBER => append_number(l, -1, out, c)?,
        ffi::LUA_TBOOLEAN => {
            if ffi::lua_toboolean(l, -1) != 0 {
                out.extend_from_slice(b"true")
            } else {
                out.extend_from_slice(b"false")
            }
        }
        ffi::LUA_TTABLE => {
            let depth = depth + 1;
            if depth > c.encode_max_depth || ffi::lua_checkstack(l, 3) == 0 {
                return Err(EncErr::Depth(depth));
            }
            let len = array_length(l, c)?;
            if len > 0 {
                out.push(b'[');
                for i in 1..=len {
                    if i > 1 {
                        out.push(b',');
                    }
                    ffi::lua_rawgeti_(l, -1, i as c_int);
                    append_data(l, depth, out, c)?;
                    ffi::lua_settop(l, -2);
                }
                out.push(b']');
            } else {
                out.push(b'{');
                ffi::lua_pushnil(l);
                let mut comma = false;
                while ffi::lua_next(l, -2) != 0 {
                    if comma {
                        out.push(b',');
                    }
                    comma = true;
                    match ffi::lua_type(l, -2) {
                        ffi::LUA_TNUMBER => {
                            out.push(b'"');
                            append_number(l, -2, out, c)?;
                            out.extend_from_slice(b"\":");
                        }
                        ffi::LUA_TSTRING => {
                            // (lua_tolstring on a string key does not change it.)
                            append_string(out, super::ffi::to_bytes(l, -2).unwrap_or_default());
                            out.push(b':');
                        }
                        _ => {
                            return Err(EncErr::Type(
                                super::ffi::type_name(l, -2),
                                "table key must be a number or string",
                            ))
                        }
                    }
                    append_data(l, depth, out, c)?;
                    ffi::lua_settop(l, -2);
                }
                out.push(b'}');
            }
        }
        ffi::LUA_TNIL => out.extend_from_slice(b"null"),
        ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => {
            out.extend_from_slice(b"null")
        }
        _ => {
            return Err(EncErr::Type(
                super::ffi::type_name(l, -1),
                "type not supported",
            ))
        }
    }
    Ok(())
}

unsafe extern "C-unwind" fn encode(l: L) -> c_int {
    let r: Result<(), Vec<u8>> = (|| {
        if ffi::lua_gettop(l) != 1 {
            return Err(arg_error_msg(l, 1, "expected 1 argument"));
        }
        let c = cfg();
        let mut out = Vec::new();
        // The value stays at index 1; errors leave the stack as they are (lua_error unwinds it).
        let top = ffi::lua_gettop(l);
        match append_data(l, 0, &mut out, &c) {
            Ok(()) => {
                ffi::lua_settop(l, top);
                push_bytes(l, &out);
                Ok(())
            }
            Err(EncErr::Type(t, why)) => Err(format!("Cannot serialise {t}: {why}").into_bytes()),
            Err(EncErr::Depth(d)) => {
                Err(format!("Cannot serialise, excessive nesting ({d})").into_bytes())
            }
        }
    })();
    match r {
        Ok(()) => 1,
        Err(msg) => raise_positioned(l, msg),
    }
}

// ----------------------------------------------------------------------------- decoding

#[derive(Clone, Copy, PartialEq, Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

fn tok_name(t: &Tok) -> &'static str {
    match t {
        Tok::ObjBegin => "T_OBJ_BEGIN",
        Tok::ObjEnd => "T_OBJ_END",
        Tok::ArrBegin => "T_ARR_BEGIN",
        Tok::ArrEnd => "T_ARR_END",
        Tok::Str => "T_STRING",
        Tok::Num(_) => "T_NUMBER",
        Tok::Bool(_) => "T_BOOLEAN",
        Tok::Null => "T_NULL",
        Tok::Colon => "T_COLON",
        Tok::Comma => "T_COMMA",
        Tok::End => "T_END",
        Tok::Error(e) => e,
    }
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    depth: i32,
    tmp: Vec<u8>,
    cfg: Config,
}

enum DecErr {
    Msg(Vec<u8>),
}

impl Parser<'_> {
    /// The byte at `i`, NUL past the end (the C parser reads a NUL-terminated string).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let rest = &self.data[p.min(self.data.len())..];
        let starts = |w: &[u8]| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(w);
        starts(b"inf") || starts(b"nan")
    }

    fn number(&mut self) -> Tok {
        match strtod(&self.data[self.pos..]) {
            Some((n, used)) => {
                self.pos += used;
                Tok::Num(n)
            }
            None => Tok::Error("invalid number"),
        }
    }

    fn string(&mut self) -> Tok {
        self.pos += 1;
        self.tmp.clear();
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return Tok::Error("unexpected end of string");
            }
            if ch == b'\\' {
                let e = self.at(self.pos + 1);
                let out = match e {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => 9,
                    b'n' => 10,
                    b'f' => 12,
                    b'r' => 13,
                    b'u' => {
                        if self.unicode_escape() {
                            continue;
                        }
                        return Tok::Error("invalid unicode escape code");
                    }
                    _ => return Tok::Error("invalid escape code"),
                };
                self.tmp.push(out);
                self.pos += 2;
                continue;
            }
            self.tmp.push(ch);
            self.pos += 1;
        }
        self.pos += 1;
        Tok::Str
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let d = (self.at(at + i) as char).to_digit(16)?;
            v = (v << 4) | d;
        }
        Some(v)
    }

    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        // The UTF-8 form of the code point (surrogates encoded as such, as the C code does).
        if cp <= 0x7F {
            self.tmp.push(cp as u8);
        } else if cp <= 0x7FF {
            self.tmp.push(((cp >> 6) | 0xC0) as u8);
            self.tmp.push(((cp & 0x3F) | 0x80) as u8);
        } else if cp <= 0xFFFF {
            self.tmp.push(((cp >> 12) | 0xE0) as u8);
            self.tmp.push((((cp >> 6) & 0x3F) | 0x80) as u8);
            self.tmp.push(((cp & 0x3F) | 0x80) as u8);
        } else {
            self.tmp.push(((cp >> 18) | 0xF0) as u8);
            self.tmp.push((((cp >> 12) & 0x3F) | 0x80) as u8);
            self.tmp.push((((cp >> 6) & 0x3F) | 0x80) as u8);
            self.tmp.push(((cp & 0x3F) | 0x80) as u8);
        }
        self.pos += len;
        true
    }

    /// The next token and its index (0-based).
    fn next(&mut self) -> (Tok, usize) {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let idx = self.pos;
        let ch = self.at(self.pos);
        let single = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return (t, idx);
        }
        if ch == 0 {
            return (Tok::End, idx);
        }
        if !matches!(
            ch,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9'
        ) {
            return (Tok::Error("invalid token"), idx);
        }
        let rest = &self.data[self.pos..];
        let tok = if ch == b'"' {
            self.string()
        } else if ch == b'-' || ch.is_ascii_digit() {
            if !self.cfg.decode_invalid_numbers && self.is_invalid_number() {
                Tok::Error("invalid number")
            } else {
                self.number()
            }
        } else if rest.starts_with(b"true") {
            self.pos += 4;
            Tok::Bool(true)
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            Tok::Bool(false)
        } else if rest.starts_with(b"null") {
            self.pos += 4;
            Tok::Null
        } else if self.cfg.decode_invalid_numbers && self.is_invalid_number() {
            self.number()
        } else {
            Tok::Error("invalid token")
        };
        // An error token's index is where the parser stopped.
        let idx = if matches!(tok, Tok::Error(_)) {
            self.pos
        } else {
            idx
        };
        (tok, idx)
    }

    fn parse_error(&self, exp: &str, tok: (Tok, usize)) -> DecErr {
        DecErr::Msg(
            format!(
                "Expected {exp} but found {} at character {}",
                tok_name(&tok.0),
                tok.1 + 1
            )
            .into_bytes(),
        )
    }

    unsafe fn descend(&mut self, l: L, slots: c_int) -> Result<(), DecErr> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth && ffi::lua_checkstack(l, slots) != 0 {
            return Ok(());
        }
        Err(DecErr::Msg(
            format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            )
            .into_bytes(),
        ))
    }

    unsafe fn value(&mut self, l: L, tok: (Tok, usize)) -> Result<(), DecErr> {
        match tok.0 {
            Tok::Str => push_bytes(l, &self.tmp),
            Tok::Num(n) => ffi::lua_pushnumber(l, n),
            Tok::Bool(b) => ffi::lua_pushboolean(l, b as c_int),
            Tok::Null => ffi::lua_pushlightuserdata(l, std::ptr::null_mut()),
            Tok::ObjBegin => {
                self.descend(l, 3)?;
                ffi::lua_createtable(l, 0, 0);
                let mut t = self.next();
                if t.0 == Tok::ObjEnd {
                    self.depth -= 1;
                    return Ok(());
                }
                loop {
                    if t.0 != Tok::Str {
                        return Err(self.parse_error("object key string", t));
                    }
                    push_bytes(l, &self.tmp);
                    t = self.next();
                    if t.0 != Tok::Colon {
                        return Err(self.parse_error("colon", t));
                    }
                    t = self.next();
                    self.value(l, t)?;
                    ffi::lua_rawset(l, -3);
                    t = self.next();
                    if t.0 == Tok::ObjEnd {
                        self.depth -= 1;
                        return Ok(());
                    }
                    if t.0 != Tok::Comma {
                        return Err(self.parse_error("comma or object end", t));
                    }
                    t = self.next();
                }
            }
            Tok::ArrBegin => {
                self.descend(l, 2)?;
                ffi::lua_createtable(l, 0, 0);
                let mut t = self.next();
                if t.0 == Tok::ArrEnd {
                    self.depth -= 1;
                    return Ok(());
                }
                let mut i = 1;
                loop {
                    self.value(l, t)?;
                    ffi::lua_rawseti_(l, -2, i);
                    i += 1;
                    t = self.next();
                    if t.0 == Tok::ArrEnd {
                        self.depth -= 1;
                        return Ok(());
                    }
                    if t.0 != Tok::Comma {
                        return Err(self.parse_error("comma or array end", t));
                    }
                    t = self.next();
                }
            }
            _ => return Err(self.parse_error("value", tok)),
        }
        Ok(())
    }
}

/// C's `strtod` on a prefix of `s`: the value and the bytes used, `None` when no number
/// starts there (decimal, hexadecimal, `inf`, `infinity`, `nan`, with an optional sign).
pub fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let neg = match s.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let rest = &s[i..];
    let sign = if neg { -1.0 } else { 1.0 };
    let ci = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if ci(b"infinity") {
        return Some((sign * f64::INFINITY, i + 8));
    }
    if ci(b"inf") {
        return Some((sign * f64::INFINITY, i + 3));
    }
    if ci(b"nan") {
        let mut used = i + 3;
        // nan(chars)
        if s.get(used) == Some(&b'(') {
            if let Some(close) = s[used..].iter().position(|&c| c == b')') {
                if s[used + 1..used + close]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    used += close + 1;
                }
            }
        }
        return Some((f64::NAN, used));
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        let mut j = 2;
        let mut v = 0f64;
        let mut digits = 0;
        while let Some(d) = rest.get(j).and_then(|&c| (c as char).to_digit(16)) {
            v = v * 16.0 + d as f64;
            j += 1;
            digits += 1;
        }
        if rest.get(j) == Some(&b'.') {
            let mut scale = 1.0 / 16.0;
            let mut k = j + 1;
            while let Some(d) = rest.get(k).and_then(|&c| (c as char).to_digit(16)) {
                v += d as f64 * scale;
                scale /= 16.0;
                k += 1;
                digits += 1;
            }
            if digits > 0 {
                j = k;
            }
        }
        if digits == 0 {
            // "0x" alone: the "0" is the number.
            return Some((0.0 * sign, i + 1));
        }
        if matches!(rest.get(j), Some(b'p') | Some(b'P')) {
            let mut k = j + 1;
            let eneg = match rest.get(k) {
                Some(b'-') => {
                    k += 1;
                    true
                }
                Some(b'+') => {
                    k += 1;
                    false
                }
                _ => false,
            };
            let start = k;
            let mut e: i32 = 0;
            while let Some(d) = rest.get(k).filter(|c| c.is_ascii_digit()) {
                e = e.saturating_mul(10).saturating_add((d - b'0') as i32);
                k += 1;
            }
            if k > start {
                v *= 2f64.powi(if eneg { -e } else { e });
                j = k;
            }
        }
        return Some((sign * v, i + j));
    }
    // Decimal: digits [. digits] [e [sign] digits]
    let mut j = 0;
    let mut mant = 0;
    while rest.get(j).is_some_and(|c| c.is_ascii_digit()) {
        j += 1;
        mant += 1;
    }
    if rest.get(j) == Some(&b'.') {
        let mut k = j + 1;
        while rest.get(k).is_some_and(|c| c.is_ascii_digit()) {
            k += 1;
            mant += 1;
        }
        if mant > 0 {
            j = k;
        }
    }
    if mant == 0 {
        return None;
    }
    if matches!(rest.get(j), Some(b'e') | Some(b'E')) {
        let mut k = j + 1;
        if matches!(rest.get(k), Some(b'-') | Some(b'+')) {
            k += 1;
        }
        let start = k;
        while rest.get(k).is_some_and(|c| c.is_ascii_digit()) {
            k += 1;
        }
        if k > start {
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).ok()?;
    let text = text.strip_suffix('.').unwrap_or(text);
    let v: f64 = text.parse().ok()?;
    Some((sign * v, i + j))
}

unsafe extern "C-unwind" fn decode(l: L) -> c_int {
    let r: Result<(), Vec<u8>> = (|| {
        if ffi::lua_gettop(l) != 1 {
            return Err(arg_error_msg(l, 1, "expected 1 argument"));
        }
        if ffi::lua_type(l, 1) != ffi::LUA_TSTRING && ffi::lua_type(l, 1) != ffi::LUA_TNUMBER {
            let got = super::ffi::type_name(l, 1);
            return Err(arg_error_msg(l, 1, &format!("string expected, got {got}")));
        }
        let data = super::ffi::to_bytes(l, 1).unwrap_or_default();
        if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
            return Err(b"JSON parser does not support UTF-16 or UTF-32".to_vec());
        }
        let mut p = Parser {
            data,
            pos: 0,
            depth: 0,
            tmp: Vec::new(),
            cfg: cfg(),
        };
        let t = p.next();
        let r = p.value(l, t).and_then(|()| {
            let t = p.next();
            if t.0 != Tok::End {
                Err(p.parse_error("the end", t))
            } else {
                Ok(())
            }
        });
        match r {
            Ok(()) => Ok(()),
            Err(DecErr::Msg(m)) => Err(m),
        }
    })();
    match r {
        Ok(()) => 1,
        Err(msg) => raise_positioned(l, msg),
    }
}

// ------------------------------------------------------------------------ configuration

/// `json_integer_option`: an optional integer argument in [min, max].
unsafe fn int_option(l: L, idx: c_int, min: i32, max: i32) -> Result<Option<i32>, Vec<u8>> {
    if ffi::lua_type(l, idx) <= ffi::LUA_TNIL {
        return Ok(None);
    }
    if ffi::lua_isnumber(l, idx) == 0 {
        let got = super::ffi::type_name(l, idx);
        return Err(arg_error_msg(
            l,
            idx,
            &format!("number expected, got {got}"),
        ));
    }
    let v = ffi::lua_tonumber(l, idx) as i64;
    if v < min as i64 || v > max as i64 {
        return Err(arg_error_msg(
            l,
            1,
            &format!("expected integer between {min} and {max}"),
        ));
    }
    Ok(Some(v as i32))
}

/// `json_enum_option` for booleans: `true`/`false`, or one of `names` (index returned).
unsafe fn enum_option(l: L, idx: c_int, names: &[&str]) -> Result<Option<u8>, Vec<u8>> {
    match ffi::lua_type(l, idx) {
        t if t <= ffi::LUA_TNIL => Ok(None),
        ffi::LUA_TBOOLEAN => Ok(Some(if ffi::lua_toboolean(l, idx) != 0 {
            1
        } else {
            0
        })),
        _ => {
            let s = super::ffi::to_bytes(l, idx).unwrap_or_default();
            match names.iter().position(|n| n.as_bytes() == s) {
                Some(i) => Ok(Some(i as u8)),
                None => Err(arg_error_msg(
                    l,
                    idx,
                    &format!("invalid option '{}'", String::from_utf8_lossy(s)),
                )),
            }
        }
    }
}

fn too_many(l: L, n: c_int) -> Result<(), Vec<u8>> {
    if unsafe { ffi::lua_gettop(l) } > n {
        return Err(unsafe { arg_error_msg(l, n + 1, "found too many arguments") });
    }
    Ok(())
}

macro_rules! cfgfn {
    ($name:ident, |$l:ident| $body:expr) => {
        #[allow(clippy::redundant_closure_call)]
        unsafe extern "C-unwind" fn $name($l: L) -> c_int {
            let r: Result<c_int, Vec<u8>> = (|| -> Result<c_int, Vec<u8>> { $body })();
            match r {
                Ok(n) => n,
                Err(msg) => raise_positioned($l, msg),
            }
        }
    };
}

fn update(f: impl FnOnce(&mut Config)) -> Config {
    CONFIG.with(|c| {
        let mut v = c.get();
        f(&mut v);
        c.set(v);
        v
    })
}

cfgfn!(encode_sparse_array, |l| {
    too_many(l, 3)?;
    let convert = enum_option(l, 1, &[])?;
    let ratio = int_option(l, 2, 0, i32::MAX)?;
    let safe = int_option(l, 3, 0, i32::MAX)?;
    let c = update(|c| {
        if let Some(v) = convert {
            c.sparse_convert = v != 0;
        }
        if let Some(v) = ratio {
            c.sparse_ratio = v;
        }
        if let Some(v) = safe {
            c.sparse_safe = v;
        }
    });
    ffi::lua_pushboolean(l, c.sparse_convert as c_int);
    ffi::lua_pushnumber(l, c.sparse_ratio as f64);
    ffi::lua_pushnumber(l, c.sparse_safe as f64);
    Ok(3)
});
cfgfn!(encode_max_depth, |l| {
    too_many(l, 1)?;
    let v = int_option(l, 1, 1, i32::MAX)?;
    let c = update(|c| c.encode_max_depth = v.unwrap_or(c.encode_max_depth));
    ffi::lua_pushnumber(l, c.encode_max_depth as f64);
    Ok(1)
});
cfgfn!(decode_max_depth, |l| {
    too_many(l, 1)?;
    let v = int_option(l, 1, 1, i32::MAX)?;
    let c = update(|c| c.decode_max_depth = v.unwrap_or(c.decode_max_depth));
    ffi::lua_pushnumber(l, c.decode_max_depth as f64);
    Ok(1)
});
cfgfn!(encode_number_precision, |l| {
    too_many(l, 1)?;
    let v = int_option(l, 1, 1, 14)?;
    let c = update(|c| c.precision = v.unwrap_or(c.precision));
    ffi::lua_pushnumber(l, c.precision as f64);
    Ok(1)
});
cfgfn!(encode_keep_buffer, |l| {
    too_many(l, 1)?;
    let v = enum_option(l, 1, &[])?;
    let c = update(|c| c.keep_buffer = v.map_or(c.keep_buffer, |v| v != 0));
    ffi::lua_pushboolean(l, c.keep_buffer as c_int);
    Ok(1)
});
cfgfn!(encode_invalid_numbers, |l| {
    too_many(l, 1)?;
    let v = enum_option(l, 1, &["off", "on", "null"])?;
    let c = update(|c| c.encode_invalid_numbers = v.unwrap_or(c.encode_invalid_numbers));
    if c.encode_invalid_numbers == 2 {
        push_bytes(l, b"null");
    } else {
        ffi::lua_pushboolean(l, c.encode_invalid_numbers as c_int);
    }
    Ok(1)
});
cfgfn!(decode_invalid_numbers, |l| {
    too_many(l, 1)?;
    let v = enum_option(l, 1, &["off", "on"])?;
    let c = update(|c| c.decode_invalid_numbers = v.map_or(c.decode_invalid_numbers, |v| v != 0));
    ffi::lua_pushboolean(l, c.decode_invalid_numbers as c_int);
    Ok(1)
});
cfgfn!(new, |l| {
    // A new module table (sharing this engine's configuration).
    open(l);
    Ok(1)
});

/// Push the `cjson` table.
pub unsafe fn open(l: L) {
    ffi::lua_createtable(l, 0, 14);
    set_field_fn(l, c"encode", encode);
    set_field_fn(l, c"decode", decode);
    set_field_fn(l, c"encode_sparse_array", encode_sparse_array);
    set_field_fn(l, c"encode_max_depth", encode_max_depth);
    set_field_fn(l, c"decode_max_depth", decode_max_depth);
    set_field_fn(l, c"encode_number_precision", encode_number_precision);
    set_field_fn(l, c"encode_keep_buffer", encode_keep_buffer);
    set_field_fn(l, c"encode_invalid_numbers", encode_invalid_numbers);
    set_field_fn(l, c"decode_invalid_numbers", decode_invalid_numbers);
    set_field_fn(l, c"new", new);
    ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
    ffi::lua_setfield(l, -2, c"null".as_ptr());
    set_field_bytes(l, c"_NAME", b"cjson");
    set_field_bytes(l, c"_VERSION", b"2.1.0");
}

#[cfg(test)]
mod tests {
    use super::strtod;

    #[test]
    fn strtod_takes_the_longest_number_prefix() {
        assert_eq!(strtod(b"12abc"), Some((12.0, 2)));
        assert_eq!(strtod(b"-1.5e3,"), Some((-1500.0, 6)));
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"0x10]"), Some((16.0, 4)));
        assert_eq!(strtod(b"-inf"), Some((f64::NEG_INFINITY, 4)));
        assert!(strtod(b"nan").is_some_and(|(n, u)| n.is_nan() && u == 3));
        assert_eq!(strtod(b"-x"), None);
        assert_eq!(strtod(b".5"), Some((0.5, 2)));
        assert_eq!(strtod(b"5."), Some((5.0, 2)));
    }
}
