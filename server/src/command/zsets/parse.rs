//! Score and range arguments as Redis parses them: a clone of C's `strtod` ([`strtod`]), ZADD
//! scores and weights as `string2d` ([`parse_score`]: no leading space, overflow refused),
//! score ranges as `zslParseRange` (leading space and overflow accepted, a bare `(` is an
//! exclusive 0) and lex ranges as `zslParseLexRange`.

use crate::command::args::{cstr, is_space};
use crate::command::CmdError;
use crate::db::zset::{LexBound, LexRange, ScoreRange};

fn starts_ci(s: &[u8], word: &str) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word.as_bytes())
}

/// `x * 2^e` without intermediate overflow.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

/// The hexadecimal part of a `0x` float: (magnitude, bytes consumed, range error).
fn hex_float(s: &[u8]) -> Option<(f64, usize, bool)> {
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut digits = 0;
    let mut nonzero = false;
    let mut i = 0;
    let mut seen_point = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !seen_point {
            seen_point = true;
            i += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else {
            break;
        };
        digits += 1;
        nonzero |= d != 0;
        if mant < (1 << 56) {
            mant = mant * 16 + d as u64;
            if seen_point {
                exp -= 4;
            }
        } else if !seen_point {
            exp += 4;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < s.len() && (s[i] | 0x20) == b'p' {
        let mut k = i + 1;
        let neg = matches!(s.get(k), Some(b'-'));
        if matches!(s.get(k), Some(b'-' | b'+')) {
            k += 1;
        }
        let start = k;
        let mut e: i64 = 0;
        while k < s.len() && s[k].is_ascii_digit() {
            e = (e * 10 + (s[k] - b'0') as i64).min(1 << 40);
            k += 1;
        }
        if k > start {
            exp += if neg { -e } else { e };
            i = k;
        }
    }
    let v = ldexp(mant as f64, exp);
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    Some((v, i, erange))
}

/// C's `strtod` over `s` (glibc, C locale): (value, bytes consumed, ERANGE with a zero or
/// infinite result). Consumed is 0 when nothing converts. Leading white space is skipped;
/// `inf`, `infinity`, `nan`, `nan(...)` and hexadecimal floats are accepted.
pub(crate) fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let start = i;
    let neg = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[i..];
    if starts_ci(rest, "inf") {
        let n = if starts_ci(rest, "infinity") { 8 } else { 3 };
        return (sign * f64::INFINITY, i + n, false);
    }
    if starts_ci(rest, "nan") {
        let mut n = 3;
        if rest.get(3) == Some(&b'(') {
            if let Some(close) = rest[4..]
                .iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
            {
                if rest[4 + close] == b')' {
                    n = 4 + close + 1;
                }
            }
        }
        return (f64::NAN, i + n, false);
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        return match hex_float(&rest[2..]) {
            Some((v, n, erange)) => (sign * v, i + 2 + n, erange),
            // "0x" with no digit: the "0" converts.
            None => (sign * 0.0, i + 1, false),
        };
    }
    let mut j = i;
    let mut digits = 0;
    let mut nonzero = false;
    while j < s.len() && s[j].is_ascii_digit() {
        nonzero |= s[j] != b'0';
        digits += 1;
        j += 1;
    }
    if j < s.len() && s[j] == b'.' {
        j += 1;
        while j < s.len() && s[j].is_ascii_digit() {
            nonzero |= s[j] != b'0';
            digits += 1;
            j += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if j < s.len() && (s[j] | 0x20) == b'e' {
        let mut k = j + 1;
        if matches!(s.get(k), Some(b'-' | b'+')) {
            k += 1;
        }
        if k < s.len() && s[k].is_ascii_digit() {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    // The scanned text is plain ASCII digits, sign, point and exponent: Rust parses it with
    // the same correct rounding as glibc.
    let v = std::str::from_utf8(&s[start..j])
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0);
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    (v, j, erange)
}

/// Redis's `string2d` (ZADD scores, increments, weights): the whole argument, no leading
/// space, no overflow or underflow to zero, no NaN.
pub(crate) fn parse_score(a: &[u8]) -> Option<f64> {
    if a.is_empty() || is_space(a[0]) {
        return None;
    }
    let (v, n, erange) = strtod(a);
    (n == a.len() && !erange && !v.is_nan()).then_some(v)
}

/// One bound of `zslParseRange`: `(` for exclusive, then `strtod` up to the end of the C
/// string.
fn parse_range_item(a: &[u8]) -> Option<(f64, bool)> {
    let a = cstr(a);
    let (body, ex) = match a.first() {
        Some(b'(') => (&a[1..], true),
        _ => (a, false),
    };
    let (v, n, _) = strtod(body);
    (n == body.len() && !v.is_nan()).then_some((v, ex))
}

pub(super) fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let bad = || CmdError::err("min or max is not a float");
    let (min, minex) = parse_range_item(min).ok_or_else(bad)?;
    let (max, maxex) = parse_range_item(max).ok_or_else(bad)?;
    Ok(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

/// One bound of `zslParseLexRange`: `-`, `+`, `(value` or `[value`.
fn parse_lex_item(a: &[u8]) -> Option<(LexBound, bool)> {
    let alone = a.get(1).is_none_or(|&c| c == 0);
    match a.first()? {
        b'+' if alone => Some((LexBound::Max, true)),
        b'-' if alone => Some((LexBound::Min, true)),
        b'(' => Some((LexBound::Value(a[1..].to_vec()), true)),
        b'[' => Some((LexBound::Value(a[1..].to_vec()), false)),
        _ => None,
    }
}

pub(super) fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    let bad = || CmdError::err("min or max not valid string range item");
    let (min, minex) = parse_lex_item(min).ok_or_else(bad)?;
    let (max, maxex) = parse_lex_item(max).ok_or_else(bad)?;
    Ok(LexRange {
        min,
        minex,
        max,
        maxex,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_like_glibc() {
        assert_eq!(strtod(b"  1.5x"), (1.5, 5, false));
        assert_eq!(strtod(b"-inf"), (f64::NEG_INFINITY, 4, false));
        assert_eq!(strtod(b"Infinity!"), (f64::INFINITY, 8, false));
        assert_eq!(strtod(b"infin").1, 3);
        assert!(strtod(b"nan(123)").0.is_nan() && strtod(b"nan(123)").1 == 8);
        assert_eq!(strtod(b"0x1p3"), (8.0, 5, false));
        assert_eq!(strtod(b"0x.8"), (0.5, 4, false));
        assert_eq!(strtod(b"0xg"), (0.0, 1, false));
        assert_eq!(strtod(b"1e"), (1.0, 1, false));
        assert_eq!(strtod(b"1e+"), (1.0, 1, false));
        assert_eq!(strtod(b".e1"), (0.0, 0, false));
        assert_eq!(strtod(b"1e400"), (f64::INFINITY, 5, true));
        assert_eq!(strtod(b"1e-400"), (0.0, 6, true));
        assert_eq!(strtod(b"0e-400"), (0.0, 6, false));
        assert_eq!(strtod(b""), (0.0, 0, false));
    }

    #[test]
    fn scores_and_ranges_as_redis_parses_them() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b"1\0"), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_range_item(b"(1"), Some((1.0, true)));
        assert_eq!(parse_range_item(b"("), Some((0.0, true)));
        assert_eq!(parse_range_item(b""), Some((0.0, false)));
        assert_eq!(parse_range_item(b" 2"), Some((2.0, false)));
        assert_eq!(parse_range_item(b"2\0x"), Some((2.0, false)));
        assert_eq!(parse_range_item(b"1e400"), Some((f64::INFINITY, false)));
        assert_eq!(parse_range_item(b" "), None);
        assert_eq!(parse_range_item(b"(nan"), None);
        assert_eq!(parse_lex_item(b"-"), Some((LexBound::Min, true)));
        assert_eq!(parse_lex_item(b"+\0"), Some((LexBound::Max, true)));
        assert_eq!(parse_lex_item(b"+a"), None);
        assert_eq!(
            parse_lex_item(b"[a"),
            Some((LexBound::Value(b"a".to_vec()), false))
        );
        assert_eq!(
            parse_lex_item(b"("),
            Some((LexBound::Value(Vec::new()), true))
        );
        assert_eq!(parse_lex_item(b""), None);
        assert_eq!(parse_lex_item(b"a"), None);
    }
}
