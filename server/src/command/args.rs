//! Parsing command arguments exactly as Redis does (`string2ll`, `strtold` rules, options).

use bytes::Bytes;

use super::error::CmdError;

/// Redis's `string2ll`: optional '-', digits, no leading zeros (except "0"), no spaces, fits
/// an i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    picket_common::sds::string2ll(s)
}

/// An integer argument or `ERR value is not an integer or out of range`.
pub fn int(s: &[u8]) -> Result<i64, CmdError> {
    parse_i64(s).ok_or(CmdError::NotInteger)
}

/// An integer argument with a custom error message (`ERR <msg>`).
pub fn int_or(s: &[u8], msg: &str) -> Result<i64, CmdError> {
    parse_i64(s).ok_or_else(|| CmdError::err(msg))
}

/// A non-negative integer that fits a usize, with Redis's out-of-range message.
pub fn uint(s: &[u8]) -> Result<u64, CmdError> {
    match parse_i64(s) {
        Some(v) if v >= 0 => Ok(v as u64),
        _ => Err(CmdError::NotInteger),
    }
}

/// Redis's `string2ld`/`strtold` acceptance for floats: no spaces, not empty, `inf`/`-inf`
/// accepted, NaN refused.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5120 {
        return None;
    }
    if s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let t = std::str::from_utf8(s).ok()?;
    let lower = t.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            // Rust accepts forms strtod rejects ("1e", "e5" are rejected by both; "1_0" by both).
            // strtod also accepts hex floats ("0x1p3"); Redis passes them through, so do we.
            if let Some(h) = parse_hex_float(&lower) {
                h
            } else {
                t.parse::<f64>().ok()?
            }
        }
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let rest = rest.strip_prefix("0x")?;
    let (mant, exp) = match rest.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in ip.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in fp.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    Some(if neg { -v } else { v })
}

/// A float argument or `ERR value is not a valid float`.
pub fn float(s: &[u8]) -> Result<f64, CmdError> {
    parse_f64(s).ok_or(CmdError::NotFloat)
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], kw: &str) -> bool {
    arg.eq_ignore_ascii_case(kw.as_bytes())
}

/// An argument as C sees it: Redis hands arguments to C string functions (`strcasecmp`,
/// `strtod`, `strtoul`, `opt[n] == '\0'`), so an argument ends at its first NUL byte.
pub fn cstr(a: &[u8]) -> &[u8] {
    match a.iter().position(|&b| b == 0) {
        Some(i) => &a[..i],
        None => a,
    }
}

/// An option name compared as Redis does with `strcasecmp`: case-insensitively, the argument
/// cut at its first NUL byte (unlike [`is`], which compares the whole argument).
pub fn kw(a: &[u8], word: &str) -> bool {
    cstr(a).eq_ignore_ascii_case(word.as_bytes())
}

/// C's `isspace` in the C locale.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A SCAN cursor as Redis parses it with `strtoul` (SCAN, HSCAN, SSCAN, ZSCAN): optional sign
/// (a negative value wraps), decimal digits, nothing after; the empty string is 0; a leading
/// space refused; the C string ends at a NUL byte. None (overflow, anything else) is Redis's
/// `ERR invalid cursor`.
pub fn parse_cursor(s: &[u8]) -> Option<u64> {
    let s = cstr(s);
    let Some(&first) = s.first() else {
        return Some(0);
    };
    if is_space(first) {
        return None;
    }
    let (neg, digits) = match first {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// The `[MATCH pattern] [COUNT count]` options of HSCAN and ZSCAN from `args[from..]`, as
/// Redis's `scanGenericCommand` parses them: (COUNT, default 10; the pattern, None for `*`).
/// A COUNT below 1 is a syntax error.
pub fn scan_options(args: &[Bytes], from: usize) -> Result<(i64, Option<&[u8]>), CmdError> {
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut i = from;
    while i < args.len() {
        let more = args.len() - i;
        if kw(&args[i], "count") && more >= 2 {
            count = int(&args[i + 1])?;
            if count < 1 {
                return Err(CmdError::Syntax);
            }
        } else if kw(&args[i], "match") && more >= 2 {
            let p = &args[i + 1][..];
            pattern = if p == b"*" { None } else { Some(p) };
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok((count, pattern))
}

/// Lowercase a command or option name for messages and lookups.
pub fn lower(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_lowercase()
}

/// An argument shown in an error message (lossy UTF-8, cut to 128 bytes as Redis's `%.128s`).
pub fn shown(arg: &[u8]) -> String {
    let cut = &arg[..arg.len().min(128)];
    String::from_utf8_lossy(cut).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"007"), None);
        assert_eq!(parse_i64(b"+7"), None);
        assert_eq!(parse_i64(b" 7"), None);
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b""), None);
    }

    #[test]
    fn floats_like_strtold() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"abc"), None);
        assert_eq!(parse_f64(b""), None);
    }

    #[test]
    fn cursors_like_strtoul() {
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"+17"), Some(17));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b"12\0junk"), Some(12));
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1 "), None);
        assert_eq!(parse_cursor(b"1x"), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b"abc"), None);
    }

    #[test]
    fn c_strings() {
        assert_eq!(cstr(b"ab\0cd"), b"ab");
        assert_eq!(cstr(b"ab"), b"ab");
        assert!(kw(b"COUNT\0x", "count"));
        assert!(!kw(b"COUNTx", "count"));
        assert!(!is(b"COUNT\0x", "count"));
    }
}
