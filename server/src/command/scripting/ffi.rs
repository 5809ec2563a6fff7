//! Small helpers over Lua 5.1's C API (through `mlua::ffi`), used by the functions scripts
//! call (`redis.*`, `bit.*`, `cjson.*`), written as C functions as Redis's are: they raise
//! Lua errors (tables or strings) with `lua_error`, which a Rust callback of mlua cannot.
//!
//! Rule for every `extern "C-unwind"` function here: nothing with a destructor may be alive
//! when `lua_error` (or an API call that may raise, like a failed allocation) is reached, so
//! the long jump over the frame skips no drop that matters; values are built in inner
//! functions that return before the raise.

use std::os::raw::{c_char, c_int};

use mlua::ffi;
pub use mlua::ffi::lua_State;

pub type L = *mut lua_State;

pub unsafe fn push_bytes(l: L, b: &[u8]) {
    ffi::lua_pushlstring_(l, b.as_ptr() as *const c_char, b.len());
}

/// The bytes of the value at `idx` if it is a string or a number (converted in place, as
/// `lua_tolstring` does).
pub unsafe fn to_bytes<'a>(l: L, idx: c_int) -> Option<&'a [u8]> {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        None
    } else {
        Some(std::slice::from_raw_parts(p as *const u8, len))
    }
}

pub unsafe fn set_field_bytes(l: L, key: &std::ffi::CStr, value: &[u8]) {
    push_bytes(l, value);
    ffi::lua_setfield(l, -2, key.as_ptr());
}

pub unsafe fn set_field_number(l: L, key: &std::ffi::CStr, value: f64) {
    ffi::lua_pushnumber(l, value);
    ffi::lua_setfield(l, -2, key.as_ptr());
}

pub unsafe fn set_field_fn(l: L, key: &std::ffi::CStr, f: ffi::lua_CFunction) {
    ffi::lua_pushcfunction(l, f);
    ffi::lua_setfield(l, -2, key.as_ptr());
}

/// The text of an error table's `err` field as Redis's `luaPushErrorBuff` makes it: a
/// leading `-CODE` is kept as the code, else `ERR` is put before; CR and LF at either end
/// are trimmed.
pub fn error_text(err: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match err.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&c| c == b' ') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", err),
    };
    let start = msg
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .unwrap_or(msg.len());
    let end = msg
        .iter()
        .rposition(|&c| c != b'\r' && c != b'\n')
        .map_or(start, |i| i + 1);
    let mut out = Vec::with_capacity(code.len() + 1 + end - start);
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(&msg[start..end]);
    out
}

/// Push `{err = <text>}` (Redis's `luaPushError`).
pub unsafe fn push_error(l: L, err: &[u8]) {
    ffi::lua_checkstack(l, 4);
    let text = error_text(err);
    ffi::lua_createtable(l, 0, 1);
    set_field_bytes(l, c"err", &text);
}

/// Push an error string prefixed with the position of the Lua code at `level` (as
/// `luaL_error` does), ready for `lua_error`.
pub unsafe fn push_positioned(l: L, msg: &[u8]) {
    // Room for the message even when a deep decode filled the stack.
    ffi::lua_checkstack(l, 4);
    ffi::luaL_where(l, 1);
    push_bytes(l, msg);
    ffi::lua_concat(l, 2);
}

/// `luaL_argerror` with a Rust message.
pub unsafe fn arg_error_msg(l: L, narg: c_int, msg: &str) -> Vec<u8> {
    // Built as luaL_argerror would, without raising from inside a frame with live values.
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    let mut narg = narg;
    let mut name = String::from("?");
    if ffi::lua_getstack(l, 0, &mut ar) != 0 {
        ffi::lua_getinfo(l, c"n".as_ptr(), &mut ar);
        if !ar.namewhat.is_null() && std::ffi::CStr::from_ptr(ar.namewhat).to_bytes() == b"method" {
            narg -= 1;
        }
        if !ar.name.is_null() {
            name = std::ffi::CStr::from_ptr(ar.name)
                .to_string_lossy()
                .into_owned();
        }
    }
    format!("bad argument #{narg} to '{name}' ({msg})").into_bytes()
}

/// The name of the type of the value at `idx` (`lua_typename`).
pub unsafe fn type_name(l: L, idx: c_int) -> String {
    let t = ffi::lua_type(l, idx);
    std::ffi::CStr::from_ptr(ffi::lua_typename(l, t))
        .to_string_lossy()
        .into_owned()
}

/// Raise the error string `msg` with the caller's position (as `luaL_error`).
///
/// # Safety
/// Long-jumps: the caller must hold no value with a destructor.
pub unsafe fn raise_positioned(l: L, msg: Vec<u8>) -> ! {
    push_positioned(l, &msg);
    drop(msg);
    ffi::lua_error(l)
}
