//! Conversions between replies and Lua values, as Redis 7.0's `script_lua.c`:
//! - a command's reply (RESP2 or RESP3, as the script chose with `redis.setresp`) to a Lua
//!   value for `redis.call` (`redisProtocolToLuaType`): integers and doubles to numbers
//!   (doubles as `{double=n}`), bulk strings to strings, nil bulk and nil array to `false`,
//!   status to `{ok=...}`, errors to `{err=...}`, arrays to tables, RESP3 maps to
//!   `{map={...}}`, sets to `{set={k=true}}`, null to nil, booleans to booleans, big numbers
//!   to `{big_number=s}`, verbatim strings to `{verbatim_string={format=,string=}}`;
//! - the script's result to the reply (`luaReplyToRedisReply`): numbers truncated to
//!   integers, strings to bulk strings, booleans (RESP2: true 1, false nil; RESP3: booleans),
//!   `{err=}`, `{ok=}`, `{double=}`, `{big_number=}`, `{verbatim_string=}`, `{map=}`, `{set=}`,
//!   other tables to arrays that stop at the first nil, anything else to nil.

use std::os::raw::c_int;

use mlua::ffi;
use picket_common::resp::{Proto, ReplyBuf};

use super::ffi::{push_bytes, push_error, to_bytes, L};

/// The deepest nesting of tables converted to a reply; deeper (a table that contains
/// itself) gets Redis's stack-limit error in its place.
const MAX_DEPTH: usize = 1000;

/// C's `(long long)` of a double on x86-64: out of range and NaN give `LLONG_MIN`.
pub fn c_ll(n: f64) -> i64 {
    if n.is_nan() || !((i64::MIN as f64)..(i64::MAX as f64)).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Text with CR and LF replaced by spaces (Redis's `sdsmapchars(s, "\r\n", "  ")`).
fn map_newlines(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

/// The bytes before the first NUL (Redis copies these fields as C strings).
fn c_str(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// Raw get of a string key of the table at `idx` (pushes the value).
unsafe fn raw_field(l: L, idx: c_int, key: &std::ffi::CStr) -> c_int {
    ffi::lua_pushstring_(l, key.as_ptr());
    let idx = if idx < 0 && idx > ffi::LUA_REGISTRYINDEX {
        idx - 1
    } else {
        idx
    };
    ffi::lua_rawget_(l, idx);
    ffi::lua_type(l, -1)
}

/// Convert the value at the top of the stack to a reply in `out` and pop it.
///
/// # Safety
/// `l` is a valid state with a value on the stack.
pub unsafe fn lua_to_reply(
    l: L,
    out: &mut ReplyBuf,
    script_resp3: bool,
    depth: usize,
    errors: &mut Vec<String>,
) {
    if depth > MAX_DEPTH || ffi::lua_checkstack(l, 4) == 0 {
        out.error("ERR reached lua stack limit");
        errors.push("ERR reached lua stack limit".into());
        ffi::lua_settop(l, -2);
        return;
    }
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => out.bulk(to_bytes(l, -1).unwrap_or_default()),
        ffi::LUA_TBOOLEAN => {
            let b = ffi::lua_toboolean(l, -1) != 0;
            if !script_resp3 {
                if b {
                    out.int(1)
                } else {
                    out.null()
                }
            } else {
                out.boolean(b)
            }
        }
        ffi::LUA_TNUMBER => out.int(c_ll(ffi::lua_tonumber(l, -1))),
        ffi::LUA_TTABLE => {
            table_to_reply(l, out, script_resp3, depth, errors);
            return;
        }
        _ => out.null(),
    }
    ffi::lua_settop(l, -2);
}

unsafe fn table_to_reply(
    l: L,
    out: &mut ReplyBuf,
    script_resp3: bool,
    depth: usize,
    errors: &mut Vec<String>,
) {
    // {err=...}
    if raw_field(l, -1, c"err") == ffi::LUA_TSTRING {
        ffi::lua_settop(l, -2);
        let msg = error_message(l);
        let mut m = msg.unwrap_or_default();
        while m.last().is_some_and(|&c| c == b'\r' || c == b'\n') {
            m.pop();
        }
        let text = String::from_utf8_lossy(&m).into_owned();
        out.error(&format!("-{text}"));
        if !ignores_stats(l) {
            errors.push(text);
        }
        ffi::lua_settop(l, -2);
        return;
    }
    ffi::lua_settop(l, -2);
    // {ok=...}
    if raw_field(l, -1, c"ok") == ffi::LUA_TSTRING {
        let ok = map_newlines(c_str(to_bytes(l, -1).unwrap_or_default()));
        out.buf.extend_from_slice(b"+");
        out.buf.extend_from_slice(&ok);
        out.buf.extend_from_slice(b"\r\n");
        ffi::lua_settop(l, -3);
        return;
    }
    ffi::lua_settop(l, -2);
    // {double=n}
    if raw_field(l, -1, c"double") == ffi::LUA_TNUMBER {
        out.double(ffi::lua_tonumber(l, -1));
        ffi::lua_settop(l, -3);
        return;
    }
    ffi::lua_settop(l, -2);
    // {big_number=s}
    if raw_field(l, -1, c"big_number") == ffi::LUA_TSTRING {
        let n = map_newlines(to_bytes(l, -1).unwrap_or_default());
        match out.proto {
            Proto::Resp2 => out.bulk(&n),
            Proto::Resp3 => {
                out.buf.extend_from_slice(b"(");
                out.buf.extend_from_slice(&n);
                out.buf.extend_from_slice(b"\r\n");
            }
        }
        ffi::lua_settop(l, -3);
        return;
    }
    ffi::lua_settop(l, -2);
    // {verbatim_string={format=, string=}}
    if raw_field(l, -1, c"verbatim_string") == ffi::LUA_TTABLE {
        if raw_field(l, -1, c"format") == ffi::LUA_TSTRING {
            if raw_field(l, -2, c"string") == ffi::LUA_TSTRING {
                let format = to_bytes(l, -2).unwrap_or_default();
                let mut f = [b' '; 3];
                for (i, c) in c_str(format).iter().take(3).enumerate() {
                    f[i] = *c;
                }
                let text = to_bytes(l, -1).unwrap_or_default();
                out.verbatim(&String::from_utf8_lossy(&f), text);
                ffi::lua_settop(l, -5);
                return;
            }
            ffi::lua_settop(l, -2);
        }
        ffi::lua_settop(l, -2);
    }
    ffi::lua_settop(l, -2);
    // {map={...}}
    if raw_field(l, -1, c"map") == ffi::LUA_TTABLE {
        let d = out.deferred();
        let mut n = 0;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            // table, key, value
            ffi::lua_pushvalue(l, -2);
            lua_to_reply(l, out, script_resp3, depth + 1, errors); // the key
            lua_to_reply(l, out, script_resp3, depth + 1, errors); // the value
            n += 1;
        }
        out.finish_map(d, n);
        ffi::lua_settop(l, -3);
        return;
    }
    ffi::lua_settop(l, -2);
    // {set={...}}
    if raw_field(l, -1, c"set") == ffi::LUA_TTABLE {
        let d = out.deferred();
        let mut n = 0;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_settop(l, -2);
            ffi::lua_pushvalue(l, -1);
            lua_to_reply(l, out, script_resp3, depth + 1, errors);
            n += 1;
        }
        out.finish_set(d, n);
        ffi::lua_settop(l, -3);
        return;
    }
    ffi::lua_settop(l, -2);
    // An array, up to the first nil.
    let d = out.deferred();
    let mut n = 0;
    let mut j = 1;
    loop {
        ffi::lua_rawgeti_(l, -1, j);
        j += 1;
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            ffi::lua_settop(l, -2);
            break;
        }
        lua_to_reply(l, out, script_resp3, depth + 1, errors);
        n += 1;
    }
    out.finish_array(d, n);
    ffi::lua_settop(l, -2);
}

/// Whether the error table at the top says its error was counted already (the error of a
/// command the script ran: `ignore_error_stats_update`).
unsafe fn ignores_stats(l: L) -> bool {
    ffi::lua_getfield_(l, -1, c"ignore_error_stats_update".as_ptr());
    let b = ffi::lua_isboolean(l, -1) != 0 && ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_settop(l, -2);
    b
}

/// The `err` field of the error table at the top (Redis's `luaExtractErrorInformation`'s
/// `msg`).
unsafe fn error_message(l: L) -> Option<Vec<u8>> {
    let mut msg = None;
    if ffi::lua_isstring(l, -1) != 0 {
        msg = Some(format!("ERR {}", String::from_utf8_lossy(to_bytes(l, -1)?)).into_bytes());
    }
    if ffi::lua_istable(l, -1) != 0 {
        ffi::lua_getfield_(l, -1, c"err".as_ptr());
        if ffi::lua_isstring(l, -1) != 0 {
            msg = Some(c_str(to_bytes(l, -1).unwrap_or_default()).to_vec());
        }
        ffi::lua_settop(l, -2);
    }
    msg
}

/// The reply for the error a script raised (at the top of the stack; popped), as Redis's
/// `luaCallFunction`: `<err> script: <sha>, on <source>:<line>.` for error tables, else
/// `ERR Error running script <sha>, <message>`.
///
/// # Safety
/// `l` is a valid state with the error object on the stack.
pub unsafe fn error_to_reply(l: L, out: &mut ReplyBuf, sha: &str, errors: &mut Vec<String>) {
    if ffi::lua_istable(l, -1) == 0 {
        let msg = if ffi::lua_isstring(l, -1) != 0 {
            c_str(to_bytes(l, -1).unwrap_or_default()).to_vec()
        } else {
            b"execution failure".to_vec()
        };
        let msg = &msg[..msg.len().min(100)];
        let text = format!(
            "ERR Error running script {sha}, {}",
            String::from_utf8_lossy(msg)
        );
        let text = text.trim_end_matches(['\r', '\n']);
        out.error(text);
        errors.push(text.to_string());
        ffi::lua_settop(l, -2);
        return;
    }
    let msg = error_message(l);
    let ignore = ignores_stats(l);
    let field = |l: L, k: &std::ffi::CStr| -> Option<Vec<u8>> {
        ffi::lua_getfield_(l, -1, k.as_ptr());
        let v = if ffi::lua_isstring(l, -1) != 0 {
            Some(c_str(to_bytes(l, -1).unwrap_or_default()).to_vec())
        } else {
            None
        };
        ffi::lua_settop(l, -2);
        v
    };
    let source = field(l, c"source");
    let line = field(l, c"line");
    let mut text = Vec::new();
    text.push(b'-');
    text.extend_from_slice(&msg.unwrap_or_default());
    if let (Some(source), Some(line)) = (source, line) {
        text.extend_from_slice(b" script: ");
        text.extend_from_slice(sha.as_bytes());
        text.extend_from_slice(b", on ");
        text.extend_from_slice(&source);
        text.push(b':');
        text.extend_from_slice(&line);
        text.push(b'.');
    }
    let text = String::from_utf8_lossy(&text).into_owned();
    out.error(&text);
    if !ignore {
        errors.push(text.trim_start_matches('-').to_string());
    }
    ffi::lua_settop(l, -2);
}

// ------------------------------------------------------------------- reply -> Lua

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn line(&mut self) -> &[u8] {
        let start = self.pos;
        let end = self.b[start..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(self.b.len(), |i| start + i);
        self.pos = (end + 2).min(self.b.len());
        &self.b[start..end]
    }

    fn int_line(&mut self) -> i64 {
        let line = self.line();
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn bulk(&mut self, n: i64) -> &[u8] {
        let n = n.max(0) as usize;
        let start = self.pos.min(self.b.len());
        let end = (start + n).min(self.b.len());
        self.pos = (end + 2).min(self.b.len());
        &self.b[start..end]
    }
}

/// Push the Lua value of the reply `reply` (one complete reply).
///
/// # Safety
/// `l` is a valid state.
pub unsafe fn reply_to_lua(l: L, reply: &[u8]) {
    let mut p = Parser { b: reply, pos: 0 };
    parse(l, &mut p, true);
}

/// Parse one reply; push it when `push` (attributes are parsed and dropped).
unsafe fn parse(l: L, p: &mut Parser, push: bool) {
    if p.pos >= p.b.len() {
        if push {
            ffi::lua_pushnil(l);
        }
        return;
    }
    let tag = p.b[p.pos];
    p.pos += 1;
    if push {
        ffi::luaL_checkstack_(l, 5, c"reached lua stack limit".as_ptr());
    }
    match tag {
        b':' => {
            let n = p.int_line();
            if push {
                ffi::lua_pushnumber(l, n as f64);
            }
        }
        b'$' => {
            let n = p.int_line();
            if n < 0 {
                if push {
                    ffi::lua_pushboolean(l, 0);
                }
            } else {
                let s = p.bulk(n);
                if push {
                    push_bytes(l, s);
                }
            }
        }
        b'+' => {
            let s = p.line();
            if push {
                ffi::lua_createtable(l, 0, 1);
                push_bytes(l, s);
                ffi::lua_setfield(l, -2, c"ok".as_ptr());
            }
        }
        b'-' => {
            let s = p.line();
            if push {
                let mut e = Vec::with_capacity(s.len() + 1);
                e.push(b'-');
                e.extend_from_slice(s);
                push_error(l, &e);
                ffi::lua_pushboolean(l, 1);
                ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
            }
        }
        b'*' | b'>' => {
            let n = p.int_line();
            if n < 0 {
                if push {
                    ffi::lua_pushboolean(l, 0);
                }
                return;
            }
            if push {
                ffi::lua_createtable(l, 0, 0);
            }
            for j in 0..n {
                parse(l, p, push);
                if push {
                    ffi::lua_rawseti_(l, -2, (j + 1) as c_int);
                }
            }
        }
        b'%' => {
            let n = p.int_line();
            if push {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushstring_(l, c"map".as_ptr());
                ffi::lua_createtable(l, 0, 0);
            }
            for _ in 0..n {
                parse(l, p, push);
                parse(l, p, push);
                if push {
                    ffi::lua_settable(l, -3);
                }
            }
            if push {
                ffi::lua_settable(l, -3);
            }
        }
        b'~' => {
            let n = p.int_line();
            if push {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushstring_(l, c"set".as_ptr());
                ffi::lua_createtable(l, 0, 0);
            }
            for _ in 0..n {
                parse(l, p, push);
                if push {
                    ffi::lua_pushboolean(l, 1);
                    ffi::lua_settable(l, -3);
                }
            }
            if push {
                ffi::lua_settable(l, -3);
            }
        }
        b'|' => {
            let n = p.int_line();
            for _ in 0..n {
                parse(l, p, false);
                parse(l, p, false);
            }
            parse(l, p, push);
        }
        b'_' => {
            p.line();
            if push {
                ffi::lua_pushnil(l);
            }
        }
        b'#' => {
            let s = p.line();
            if push {
                ffi::lua_pushboolean(l, (s == b"t") as c_int);
            }
        }
        b',' => {
            let s = p.line();
            let d = parse_double(s);
            if push {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushnumber(l, d);
                ffi::lua_setfield(l, -2, c"double".as_ptr());
            }
        }
        b'(' => {
            let s = p.line();
            if push {
                ffi::lua_createtable(l, 0, 1);
                push_bytes(l, s);
                ffi::lua_setfield(l, -2, c"big_number".as_ptr());
            }
        }
        b'=' => {
            let n = p.int_line();
            let s = p.bulk(n);
            if push {
                let (format, text) = if s.len() >= 4 {
                    (&s[..3], &s[4..])
                } else {
                    (&b""[..], s)
                };
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushstring_(l, c"verbatim_string".as_ptr());
                ffi::lua_createtable(l, 0, 2);
                push_bytes(l, text);
                ffi::lua_setfield(l, -2, c"string".as_ptr());
                push_bytes(l, format);
                ffi::lua_setfield(l, -2, c"format".as_ptr());
                ffi::lua_settable(l, -3);
            }
        }
        _ => {
            p.line();
            if push {
                ffi::lua_pushnil(l);
            }
        }
    }
}

/// A RESP3 double (`inf`, `-inf`, `nan` spelled out).
fn parse_double(s: &[u8]) -> f64 {
    match s {
        b"inf" => f64::INFINITY,
        b"-inf" => f64::NEG_INFINITY,
        b"nan" | b"-nan" => f64::NAN,
        _ => std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_truncate_as_c_does() {
        assert_eq!(c_ll(3.99), 3);
        assert_eq!(c_ll(-3.99), -3);
        assert_eq!(c_ll(f64::NAN), i64::MIN);
        assert_eq!(c_ll(1e300), i64::MIN);
        assert_eq!(c_ll(-1e300), i64::MIN);
    }

    #[test]
    fn newlines_in_status_become_spaces() {
        assert_eq!(map_newlines(b"a\r\nb"), b"a  b");
    }
}
