//! The `bit` library scripts get, with Lua BitOp 1.0.2's semantics (Redis's `lua_bit.c`):
//! numbers are taken modulo 2^32 as signed 32-bit integers, results are signed.

use std::os::raw::c_int;

use mlua::ffi;

use super::ffi::{arg_error_msg, raise_positioned, set_field_fn, type_name, L};

/// Lua BitOp's argument conversion: the number plus 2^52+2^51, whose low 32 bits are the
/// integer (rounding as the FPU does); a non-number is a type error.
unsafe fn barg(l: L, idx: c_int) -> Result<u32, Vec<u8>> {
    let n = ffi::lua_tonumber(l, idx);
    let b = to_bits(n);
    if b == 0 && ffi::lua_isnumber(l, idx) == 0 {
        let got = type_name(l, idx);
        return Err(arg_error_msg(
            l,
            idx,
            &format!("number expected, got {got}"),
        ));
    }
    Ok(b)
}

/// The normalisation of Lua BitOp (`barg` without the type check).
pub fn to_bits(n: f64) -> u32 {
    let b = n + 6755399441055744.0;
    b.to_bits() as u32
}

fn ret(l: L, b: u32) -> c_int {
    unsafe { ffi::lua_pushnumber(l, b as i32 as f64) };
    1
}

macro_rules! bitfn {
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

bitfn!(tobit, |l| Ok(ret(l, barg(l, 1)?)));
bitfn!(bnot, |l| Ok(ret(l, !barg(l, 1)?)));
bitfn!(band, |l| {
    let mut b = barg(l, 1)?;
    for i in 2..=ffi::lua_gettop(l) {
        b &= barg(l, i)?;
    }
    Ok(ret(l, b))
});
bitfn!(bor, |l| {
    let mut b = barg(l, 1)?;
    for i in 2..=ffi::lua_gettop(l) {
        b |= barg(l, i)?;
    }
    Ok(ret(l, b))
});
bitfn!(bxor, |l| {
    let mut b = barg(l, 1)?;
    for i in 2..=ffi::lua_gettop(l) {
        b ^= barg(l, i)?;
    }
    Ok(ret(l, b))
});
bitfn!(lshift, |l| {
    let (b, n) = (barg(l, 1)?, barg(l, 2)? & 31);
    Ok(ret(l, b << n))
});
bitfn!(rshift, |l| {
    let (b, n) = (barg(l, 1)?, barg(l, 2)? & 31);
    Ok(ret(l, b >> n))
});
bitfn!(arshift, |l| {
    let (b, n) = (barg(l, 1)?, barg(l, 2)? & 31);
    Ok(ret(l, ((b as i32) >> n) as u32))
});
bitfn!(rol, |l| {
    let (b, n) = (barg(l, 1)?, barg(l, 2)? & 31);
    Ok(ret(l, b.rotate_left(n)))
});
bitfn!(ror, |l| {
    let (b, n) = (barg(l, 1)?, barg(l, 2)? & 31);
    Ok(ret(l, b.rotate_right(n)))
});
bitfn!(bswap, |l| Ok(ret(l, barg(l, 1)?.swap_bytes())));
bitfn!(tohex, |l| {
    let mut b = barg(l, 1)?;
    let mut n: i32 = if ffi::lua_type(l, 2) == ffi::LUA_TNONE {
        8
    } else {
        barg(l, 2)? as i32
    };
    let digits: &[u8; 16] = if n < 0 {
        n = n.wrapping_neg();
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    // (n = INT_MIN stays negative, as in C: no digits.)
    let n = n.clamp(0, 8) as usize;
    let mut buf = [0u8; 8];
    for i in (0..n).rev() {
        buf[i] = digits[(b & 15) as usize];
        b >>= 4;
    }
    super::ffi::push_bytes(l, &buf[..n]);
    Ok(1)
});

/// Push the `bit` table.
pub unsafe fn open(l: L) {
    ffi::lua_createtable(l, 0, 12);
    set_field_fn(l, c"tobit", tobit);
    set_field_fn(l, c"bnot", bnot);
    set_field_fn(l, c"band", band);
    set_field_fn(l, c"bor", bor);
    set_field_fn(l, c"bxor", bxor);
    set_field_fn(l, c"lshift", lshift);
    set_field_fn(l, c"rshift", rshift);
    set_field_fn(l, c"arshift", arshift);
    set_field_fn(l, c"rol", rol);
    set_field_fn(l, c"ror", ror);
    set_field_fn(l, c"bswap", bswap);
    set_field_fn(l, c"tohex", tohex);
}

#[cfg(test)]
mod tests {
    use super::to_bits;

    #[test]
    fn normalisation_is_lua_bitop_s() {
        assert_eq!(to_bits(1.0), 1);
        assert_eq!(to_bits(-1.0) as i32, -1);
        assert_eq!(to_bits(4294967296.0), 0);
        assert_eq!(to_bits(4294967295.0) as i32, -1);
        assert_eq!(to_bits(2147483648.0) as i32, i32::MIN);
        // Rounds half to even, as the FPU does.
        assert_eq!(to_bits(2.5), 2);
        assert_eq!(to_bits(3.5), 4);
    }
}
