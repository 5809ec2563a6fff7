//! Parsing command arguments exactly as Redis does (`string2ll`, `strtold` rules, options).

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
}
