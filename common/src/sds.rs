//! Redis's string helpers, shared by the protocol and the configuration: `sdssplitargs`
//! (inline commands, config lines), `sdscatrepr` (MONITOR, quoting on rewrite), `sdssplitlen` on spaces (multi-argument
//! CONFIG SET values), `memtoull`, `string2ll`, `strtoll` and the memory formatting of
//! CONFIG REWRITE.

/// C `isspace` in the "C" locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Redis `sdssplitargs`: splits a config line into arguments. Double quotes take the
/// escapes `\n \r \t \b \a \xHH` and `\<any>`; single quotes take only `\'`; a closing
/// quote must be followed by whitespace or the end of the line. Returns `None` for
/// unbalanced quotes (Redis's "Unbalanced quotes in configuration line"). Like the C code,
/// the line ends at the first NUL byte.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = match line.iter().position(|&c| c == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    // Reading past the end sees the C terminator.
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0usize;
    loop {
        while p < line.len() && is_c_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let (mut in_dq, mut in_sq, mut done) = (false, false, false);
        let mut current = Vec::new();
        while !done {
            let c = at(p);
            if in_dq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_value(at(p + 2)), hex_value(at(p + 3))) {
                        current.push(h * 16 + l);
                        p += 3;
                    } else {
                        // `\x` without two hex digits: the generic escape gives 'x'.
                        current.push(b'x');
                        p += 1;
                    }
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => current.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        args.push(current);
    }
}

/// Redis `sdscatrepr`: a double-quoted form that [`split_args`] reads back to `s`.
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(char::from(c)),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// An argument as written by CONFIG REWRITE in a custom directive: bare when that reads
/// back unchanged, else [`repr`].
pub fn bare_or_repr(s: &str) -> String {
    let bare = !s.is_empty()
        && s.bytes()
            .all(|c| (0x21..=0x7e).contains(&c) && !matches!(c, b'"' | b'\'' | b'\\'));
    if bare {
        s.to_string()
    } else {
        repr(s.as_bytes())
    }
}

/// Redis `sdssplitlen(value, " ")`, how CONFIG SET splits a multi-argument value: every
/// single space separates, so `"a  b"` has an empty middle argument and `""` has none.
pub fn split_spaces(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(' ').map(str::to_string).collect()
    }
}

/// Redis `string2ll`: a strict decimal `i64` (no sign but `-`, no leading zeros or spaces).
pub fn string2ll(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some(_) => (false, b),
        None => return None,
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        // -(2^63) is i64::MIN; anything larger overflows.
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// C `strtoll(s, &end, 10)` required to consume the whole string, as Redis checks
/// `*end == '\0'`: leading whitespace and a sign are accepted, overflow saturates, and an
/// empty string is 0 (no digits leaves `end` at the start, which is the terminator).
pub fn strtoll_whole(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        negative = b[i] == b'-';
        i += 1;
    }
    let digits_start = i;
    let mut v: i128 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = (v * 10 + i128::from(b[i] - b'0')).min(i128::from(u64::MAX));
        i += 1;
    }
    if i == digits_start {
        return if b.is_empty() { Some(0) } else { None };
    }
    if i != b.len() {
        return None;
    }
    let v = if negative { -v } else { v };
    Some(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// Redis `memtoull`: digits with an optional unit `b`, `k` (1000), `kb` (1024), `m`, `mb`,
/// `g`, `gb`, case-insensitive. As in Redis, no digits means 0 (`""` and `"gb"` are 0) and
/// digit overflow saturates; unlike Redis 7.0 (which wraps), an overflowing unit
/// multiplication is an error.
pub fn memtoull(s: &str) -> Option<u64> {
    if s.starts_with('-') {
        return None;
    }
    let digits_end = s
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    let mul: u64 = match s[digits_end..].to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits_end >= 128 {
        return None;
    }
    let digits = &s[..digits_end];
    let v = if digits.is_empty() {
        0
    } else {
        // Only ASCII digits here, so the parse fails only on overflow: saturate as strtoull.
        digits.parse::<u64>().unwrap_or(u64::MAX)
    };
    v.checked_mul(mul)
}

/// Redis `rewriteConfigFormatMemory`: `1gb`, `64mb`, `16kb` when exact, else plain bytes.
pub fn format_memory(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    const GB: u64 = 1024 * 1024 * 1024;
    if bytes != 0 && bytes.is_multiple_of(GB) {
        format!("{}gb", bytes / GB)
    } else if bytes != 0 && bytes.is_multiple_of(MB) {
        format!("{}mb", bytes / MB)
    } else if bytes != 0 && bytes.is_multiple_of(KB) {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    fn ok(s: &str, expect: &[&str]) {
        assert_eq!(
            split(s),
            Some(expect.iter().map(|s| s.to_string()).collect()),
            "{s:?}"
        );
    }

    #[test]
    fn split_args_plain() {
        ok("", &[]);
        ok("   \t ", &[]);
        ok("port 6379", &["port", "6379"]);
        ok("  set   a  b  ", &["set", "a", "b"]);
        ok("a\tb\r\nc", &["a", "b", "c"]);
        // Vertical tab separates only while skipping blanks, not inside a token.
        ok("a\x0bb", &["a\x0bb"]);
        ok("\x0ba", &["a"]);
    }

    #[test]
    fn split_args_double_quotes() {
        ok(r#"save """#, &["save", ""]);
        ok(r#""a b" c"#, &["a b", "c"]);
        ok(r#""\n\r\t\b\a\\\"\q""#, &["\n\r\t\x08\x07\\\"q"]);
        ok(r#""\x41\x7a""#, &["Az"]);
        ok(r#""\x4""#, &["x4"]); // not two hex digits: generic escape
        ok(r#""\xZZ""#, &["xZZ"]);
        ok(r#"foo"bar baz""#, &["foobar baz"]); // a quote may open mid-token
        assert_eq!(split_args(br#""\xff""#), Some(vec![vec![0xff]]));
        assert_eq!(split(r#""abc"def"#), None); // closing quote not followed by space
        assert_eq!(split(r#""abc"#), None);
        assert_eq!(split(r#""abc\"#), None);
        ok("\"abc\"\x0b", &["abc"]); // isspace after a closing quote
    }

    #[test]
    fn split_args_single_quotes() {
        ok(r"'a b'", &["a b"]);
        ok(r"'it\'s'", &["it's"]);
        ok(r"'a\nb'", &["a\\nb"]); // no other escapes
        ok(r"'a\\b'", &["a\\\\b"]);
        assert_eq!(split(r"'abc'd"), None);
        assert_eq!(split(r"'abc"), None);
    }

    #[test]
    fn split_args_stops_at_nul() {
        assert_eq!(
            split_args(b"a b\0c"),
            Some(vec![b"a".to_vec(), b"b".to_vec()])
        );
    }

    /// Redis's `sdscatrepr` escapes exactly these, `isprint` bytes (0x20..=0x7e) stay, and
    /// every other byte is `\xhh` in lowercase.
    #[test]
    fn repr_escapes_as_sdscatrepr() {
        let cases: &[(&[u8], &str)] = &[
            (b"", r#""""#),
            (b"\n", r#""\n""#),
            (b"\r", r#""\r""#),
            (b"\t", r#""\t""#),
            (b"\x07", r#""\a""#),
            (b"\x08", r#""\b""#),
            (b"\"", r#""\"""#),
            (b"\\", r#""\\""#),
            (b"\x00\x01\x0b\x0c\x1b\x1f", r#""\x00\x01\x0b\x0c\x1b\x1f""#),
            (b"\x7f\x80\xab\xff", r#""\x7f\x80\xab\xff""#),
            (b" ~'az09", r#"" ~'az09""#),
            (b"a\"b\\c\n\x01 ", r#""a\"b\\c\n\x01 ""#),
        ];
        for (input, want) in cases {
            assert_eq!(repr(input), *want, "{input:?}");
        }
        // Every printable byte is itself, every other byte is escaped.
        for c in 0u8..=255 {
            let r = repr(&[c]);
            if (0x20..=0x7e).contains(&c) && c != b'"' && c != b'\\' {
                assert_eq!(r, format!("\"{}\"", c as char));
            } else {
                assert!(r.starts_with("\"\\") && r.len() >= 4, "{c}: {r}");
            }
        }
    }

    #[test]
    fn repr_round_trips() {
        for s in [
            &b""[..],
            b"plain",
            b"a b",
            b"q\"uo'te\\",
            b"\n\r\t\x07\x08\x00\xff\x7f",
        ] {
            let r = repr(s);
            assert_eq!(split_args(r.as_bytes()), Some(vec![s.to_vec()]), "{r}");
        }
        assert_eq!(repr(b"a\"b\n\x01"), r#""a\"b\n\x01""#);
        assert_eq!(bare_or_repr("127.0.0.1"), "127.0.0.1");
        assert_eq!(bare_or_repr(""), "\"\"");
        assert_eq!(bare_or_repr("a b"), "\"a b\"");
    }

    #[test]
    fn split_spaces_like_sdssplitlen() {
        assert_eq!(split_spaces(""), Vec::<String>::new());
        assert_eq!(split_spaces("a"), ["a"]);
        assert_eq!(split_spaces("a  b"), ["a", "", "b"]);
        assert_eq!(split_spaces(" a "), ["", "a", ""]);
    }

    #[test]
    fn string2ll_is_strict() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "01",
            "-0",
            "1.0",
            "9223372036854775808",
            "abc",
        ] {
            assert_eq!(string2ll(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn strtoll_whole_like_c() {
        assert_eq!(strtoll_whole("60"), Some(60));
        assert_eq!(strtoll_whole("+60"), Some(60));
        assert_eq!(strtoll_whole(" 060"), Some(60));
        assert_eq!(strtoll_whole("-5"), Some(-5));
        assert_eq!(strtoll_whole(""), Some(0));
        assert_eq!(strtoll_whole("99999999999999999999"), Some(i64::MAX));
        for bad in ["+", " ", "1x", "1 ", "x"] {
            assert_eq!(strtoll_whole(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn memtoull_units() {
        assert_eq!(memtoull("100"), Some(100));
        assert_eq!(memtoull("10b"), Some(10));
        assert_eq!(memtoull("1k"), Some(1000));
        assert_eq!(memtoull("1KB"), Some(1024));
        assert_eq!(memtoull("5m"), Some(5_000_000));
        assert_eq!(memtoull("5mb"), Some(5 << 20));
        assert_eq!(memtoull("1g"), Some(1_000_000_000));
        assert_eq!(memtoull("1Gb"), Some(1 << 30));
        // Redis quirks kept: no digits is zero, digit overflow saturates.
        assert_eq!(memtoull(""), Some(0));
        assert_eq!(memtoull("gb"), Some(0));
        assert_eq!(memtoull("99999999999999999999"), Some(u64::MAX));
        for bad in [
            "-1",
            "1.5gb",
            " 1",
            "+1",
            "1 gb",
            "1tb",
            "0x10",
            "99999999999gb",
        ] {
            assert_eq!(memtoull(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn format_memory_like_rewrite() {
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(1000), "1000");
        assert_eq!(format_memory(1024), "1kb");
        assert_eq!(format_memory(3 << 20), "3mb");
        assert_eq!(format_memory(1 << 30), "1gb");
        assert_eq!(format_memory((1 << 30) + 1024), "1048577kb");
    }
}
