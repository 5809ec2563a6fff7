//! Redis glob matching (`util.c::stringmatchlen`), used by KEYS, SCAN MATCH, PSUBSCRIBE,
//! CONFIG GET and SENTINEL RESET.
//!
//! The pattern language and its quirks are Redis 7.0's, byte for byte:
//! - `*` any run of bytes, `?` one byte, `[abc]`, `[^abc]`, `[a-z]` (a reversed range is
//!   swapped), `\x` matches `x` literally, outside and inside classes;
//! - an unterminated `[` class ends at the end of the pattern and keeps what it parsed;
//!   `[a-]` is the range `a`..`]` (Redis reads the `]` as the range end);
//! - a trailing `\` matches a literal backslash;
//! - range bounds compare as C `char`, which is signed on the platforms Redis ships on, so
//!   `[a-\xff]` is the range -1..=97 and matches `\xff` but not `\x80`;
//! - with `nocase`, ASCII letters fold to lower case (escaped class members compare
//!   exactly, as in Redis);
//! - the empty string matches only the empty pattern (`**` does not match `""`).
//!
//! Unlike Redis's recursive implementation this one is iterative with a single backtrack
//! point, so it uses constant stack and O(pattern × string) time for any input
//! (CVE-2022-36021, CVE-2024-31228). Every non-`*` element consumes exactly one byte, which
//! is what makes a single backtrack point enough: once a later `*` matched, a longer match
//! for an earlier `*` can only shift the rest of the pattern further right, which the later
//! `*` already covers.

/// One element of a pattern, read at a position without allocating.
#[derive(Debug, Clone, Copy)]
enum Token {
    /// A run of `*`.
    Star,
    /// `?`.
    Any,
    /// A literal byte (plain or escaped).
    Lit(u8),
    /// A `[...]` class; `body` is the index just after `[` (and after `^` if negated).
    Class { body: usize, negated: bool },
}

/// Reads the token at `pi` (which must be `< pattern.len()`); returns it and the index of
/// the next token.
fn token_at(pattern: &[u8], pi: usize) -> (Token, usize) {
    let len = pattern.len();
    match pattern[pi] {
        b'*' => {
            let mut next = pi + 1;
            while next < len && pattern[next] == b'*' {
                next += 1;
            }
            (Token::Star, next)
        }
        b'?' => (Token::Any, pi + 1),
        b'[' => {
            let mut body = pi + 1;
            let negated = body < len && pattern[body] == b'^';
            if negated {
                body += 1;
            }
            let (_, next) = scan_class(pattern, body, None, false);
            (Token::Class { body, negated }, next)
        }
        b'\\' if pi + 1 < len => (Token::Lit(pattern[pi + 1]), pi + 2),
        b => (Token::Lit(b), pi + 1),
    }
}

/// A byte as Redis compares it in class ranges: a C `char`, signed on x86-64 where the
/// reference Redis runs (checked: `KEYS [a-\xff]` matches `\xff` but not `\x80`).
fn signed(b: u8) -> i32 {
    i32::from(b as i8)
}

/// C `tolower` in the "C" locale, applied to a signed char value.
fn lower_signed(c: i32) -> i32 {
    if (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

/// Walks a class body starting at `body` exactly like Redis's class loop. With `c` set,
/// reports whether the byte is a member (before negation). Returns the index of the token
/// after the class.
fn scan_class(pattern: &[u8], body: usize, c: Option<u8>, nocase: bool) -> (bool, usize) {
    let len = pattern.len();
    let mut i = body;
    let mut matched = false;
    loop {
        let rest = len - i;
        if rest >= 2 && pattern[i] == b'\\' {
            i += 1;
            if c == Some(pattern[i]) {
                matched = true;
            }
        } else if rest >= 1 && pattern[i] == b']' {
            return (matched, i + 1);
        } else if rest == 0 {
            // Unterminated class: it ends with the pattern.
            return (matched, len);
        } else if rest >= 3 && pattern[i + 1] == b'-' {
            if let Some(c) = c {
                let (mut start, mut end, mut c) =
                    (signed(pattern[i]), signed(pattern[i + 2]), signed(c));
                if start > end {
                    std::mem::swap(&mut start, &mut end);
                }
                if nocase {
                    start = lower_signed(start);
                    end = lower_signed(end);
                    c = lower_signed(c);
                }
                if c >= start && c <= end {
                    matched = true;
                }
            }
            i += 2;
        } else if let Some(c) = c {
            if eq_byte(pattern[i], c, nocase) {
                matched = true;
            }
        }
        i += 1;
    }
}

fn eq_byte(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Whether the single-byte token `t` matches `c`.
fn token_matches(pattern: &[u8], t: Token, c: u8, nocase: bool) -> bool {
    match t {
        Token::Star => false,
        Token::Any => true,
        Token::Lit(p) => eq_byte(p, c, nocase),
        Token::Class { body, negated } => scan_class(pattern, body, Some(c), nocase).0 != negated,
    }
}

/// Redis `stringmatchlen(pattern, string, nocase)`: whether `string` matches the glob
/// `pattern`. Binary-safe; bounded time and stack for any input.
pub fn string_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    if string.is_empty() {
        // Redis's loop never runs for an empty string, so only an empty pattern matches.
        return pattern.is_empty();
    }
    let (plen, slen) = (pattern.len(), string.len());
    let (mut pi, mut si) = (0usize, 0usize);
    // (index of the token after the last `*`, string index that `*` currently stops at)
    let mut backtrack: Option<(usize, usize)> = None;
    while si < slen {
        if pi < plen {
            let (tok, next) = token_at(pattern, pi);
            if let Token::Star = tok {
                if next == plen {
                    return true; // a final `*` takes the (non-empty) rest
                }
                backtrack = Some((next, si));
                pi = next;
                continue;
            }
            if token_matches(pattern, tok, string[si], nocase) {
                pi = next;
                si += 1;
                continue;
            }
        }
        // Mismatch, or pattern exhausted with string left: let the last `*` take one more
        // byte. Redis never lets a `*` followed by more pattern take the whole rest.
        match backtrack {
            Some((bp, bs)) if bs + 1 < slen => {
                backtrack = Some((bp, bs + 1));
                pi = bp;
                si = bs + 1;
            }
            _ => return false,
        }
    }
    // String consumed: trailing `*`s match nothing.
    while pi < plen && pattern[pi] == b'*' {
        pi += 1;
    }
    pi == plen
}

/// [`string_match`] over `&str`.
pub fn string_match_str(pattern: &str, s: &str, nocase: bool) -> bool {
    string_match(pattern.as_bytes(), s.as_bytes(), nocase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A direct port of Redis 7.0's recursive `stringmatchlen` (without the pruning flag,
    /// which does not change results), as the reference. Out-of-range reads of the C code
    /// see the NUL terminator, modelled by `at`.
    fn reference(p: &[u8], s: &[u8], nocase: bool) -> bool {
        fn at(b: &[u8], i: usize) -> u8 {
            b.get(i).copied().unwrap_or(0)
        }
        fn low(c: i32) -> i32 {
            lower_signed(c)
        }
        fn rec(p: &[u8], mut pi: usize, s: &[u8], mut si: usize, nocase: bool) -> bool {
            let mut plen = p.len() - pi;
            let mut slen = s.len() - si;
            while plen > 0 && slen > 0 {
                match p[pi] {
                    b'*' => {
                        while plen > 0 && at(p, pi + 1) == b'*' {
                            pi += 1;
                            plen -= 1;
                        }
                        if plen == 1 {
                            return true;
                        }
                        while slen > 0 {
                            if rec(p, pi + 1, s, si, nocase) {
                                return true;
                            }
                            si += 1;
                            slen -= 1;
                        }
                        return false;
                    }
                    b'?' => {
                        si += 1;
                        slen -= 1;
                    }
                    b'[' => {
                        pi += 1;
                        plen -= 1;
                        let not = at(p, pi) == b'^';
                        if not {
                            pi += 1;
                            plen -= 1;
                        }
                        let mut m = false;
                        loop {
                            if at(p, pi) == b'\\' && plen >= 2 {
                                pi += 1;
                                plen -= 1;
                                if p[pi] == s[si] {
                                    m = true;
                                }
                            } else if at(p, pi) == b']' {
                                break;
                            } else if plen == 0 {
                                pi -= 1;
                                plen += 1;
                                break;
                            } else if plen >= 3 && p[pi + 1] == b'-' {
                                let mut start = signed(p[pi]);
                                let mut end = signed(p[pi + 2]);
                                let mut c = signed(s[si]);
                                if start > end {
                                    std::mem::swap(&mut start, &mut end);
                                }
                                if nocase {
                                    start = low(start);
                                    end = low(end);
                                    c = low(c);
                                }
                                pi += 2;
                                plen -= 2;
                                if c >= start && c <= end {
                                    m = true;
                                }
                            } else if (!nocase && p[pi] == s[si])
                                || (nocase && low(signed(p[pi])) == low(signed(s[si])))
                            {
                                m = true;
                            }
                            pi += 1;
                            plen -= 1;
                        }
                        if not {
                            m = !m;
                        }
                        if !m {
                            return false;
                        }
                        si += 1;
                        slen -= 1;
                    }
                    c => {
                        if c == b'\\' && plen >= 2 {
                            pi += 1;
                            plen -= 1;
                        }
                        let (a, b) = (p[pi], s[si]);
                        let eq = if nocase {
                            low(signed(a)) == low(signed(b))
                        } else {
                            a == b
                        };
                        if !eq {
                            return false;
                        }
                        si += 1;
                        slen -= 1;
                    }
                }
                pi += 1;
                plen -= 1;
                if slen == 0 {
                    while at(p, pi) == b'*' {
                        pi += 1;
                        plen -= 1;
                    }
                    break;
                }
            }
            plen == 0 && slen == 0
        }
        rec(p, 0, s, 0, nocase)
    }

    fn m(p: &str, s: &str) -> bool {
        string_match_str(p, s, false)
    }

    #[test]
    fn redis_keyspace_pattern_tests() {
        // From Redis tests/unit/keyspace.tcl and tests/unit/other.tcl.
        assert!(m("foo*", "foo_a"));
        assert!(m("foo*", "foo"));
        assert!(!m("foo*", "fo"));
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hallo"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
    }

    #[test]
    fn redis_util_stringmatch_tests() {
        // From Redis src/util.c test_stringmatch / tests/unit/keyspace.tcl "Regression for
        // pattern matching long nested loops" and "Coverage: basic SWAPDB test..." patterns.
        assert!(!string_match(b"a*a*a*a*a*a*a*a*a*a*b", &[b'a'; 50], false));
        assert!(string_match(b"*[a-z]", b"1234a", false));
        // Redis "Regression for pattern matching very long nested loops":
        let pat = "*".repeat(50_000) + "a";
        let s = "a".repeat(50_000) + "b";
        assert!(!m(&pat, &s));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(m("[abc]", "b"));
        assert!(!m("[abc]", "d"));
        assert!(m("[z-a]", "q")); // reversed range swapped
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "b"));
        assert!(!m("[]", "]")); // an empty class matches nothing
        assert!(!m("[]]", "x]") && !m("[]]", "]]"));
        assert!(m("[^", "x")); // unterminated negated empty class: any byte
        assert!(!m("[", "x"));
        assert!(m("[ab", "a")); // unterminated class keeps its members
        assert!(!m("[ab", "c"));
        assert!(m("[a-]", "a")); // range a..]
        assert!(m("[a-]", "_"));
        assert!(!m("[a-]", "-"));
        assert!(m("a\\", "a\\")); // trailing backslash is literal
        assert!(!m("a\\", "a"));
        assert!(m("\\a", "a"));
        assert!(m("[\\", "\\")); // a lone backslash inside an unterminated class is literal
        assert!(m("a[*]b", "a*b"));
        assert!(m("a[?]b", "a?b"));
        assert!(!m("a[?]b", "axb"));
    }

    #[test]
    fn binary_and_signed_ranges() {
        assert!(string_match(b"[a-\xff]", b"\xff", false));
        assert!(string_match(b"[a-\xff]", b"a", false));
        assert!(string_match(b"[a-\xff]", b"\x00", false));
        assert!(!string_match(b"[a-\xff]", b"\x80", false));
        assert!(!string_match(b"[a-\xff]", b"b", false));
        assert!(string_match(b"a\x00*", b"a\x00\x01\x02", false));
        assert!(!string_match(b"a\x00", b"a", false));
    }

    #[test]
    fn nocase() {
        assert!(string_match_str("HeLLo", "hello", true));
        assert!(!string_match_str("HeLLo", "hello", false));
        assert!(string_match_str("[A-C]x", "bX", true));
        assert!(string_match_str("[abc]", "B", true));
        assert!(!string_match_str("[\\B]", "b", true)); // escaped members compare exactly
        assert!(string_match_str("*PRIORITY*", "replica-priority", true));
    }

    #[test]
    fn empty_inputs() {
        assert!(m("", ""));
        assert!(!m("*", "")); // Redis: an empty string matches only an empty pattern
        assert!(!m("**", ""));
        assert!(!m("", "a"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(m("*a", "a"));
        assert!(m("*a*b", "ab"));
        assert!(m("*a*b*", "ab"));
    }

    #[test]
    fn adversarial_patterns_finish() {
        let pat = "a*".repeat(2_000) + "b";
        let s = "a".repeat(100_000);
        assert!(!m(&pat, &s));
        let pat = "*a".repeat(1_000) + "*b";
        assert!(!m(&pat, &s));
        let pat = "[a-z]*".repeat(1_000) + "[^a]";
        assert!(!m(&pat, &s));
    }

    #[test]
    fn known_cases_agree_with_reference() {
        let pats: &[&[u8]] = &[
            b"*", b"?", b"[", b"[^", b"[]", b"[]]", b"[a-]", b"[-a]", b"[\\", b"\\", b"a\\",
            b"*\\", b"[^]a]", b"[a-c-e]", b"*?*", b"?*?", b"[\\]-a]",
        ];
        let strs: &[&[u8]] = &[b"", b"a", b"]", b"-", b"\\", b"^", b"ab", b"a]", b"e", b"d"];
        for p in pats {
            for s in strs {
                for nocase in [false, true] {
                    assert_eq!(
                        string_match(p, s, nocase),
                        reference(p, s, nocase),
                        "pattern {:?} string {:?}",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(s)
                    );
                }
            }
        }
    }

    fn alphabet() -> impl Strategy<Value = u8> {
        prop_oneof![
            Just(b'a'),
            Just(b'b'),
            Just(b'A'),
            Just(b'*'),
            Just(b'?'),
            Just(b'['),
            Just(b']'),
            Just(b'^'),
            Just(b'-'),
            Just(b'\\'),
            Just(0xffu8),
            Just(0x80u8),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn agrees_with_recursive_reference(
            p in proptest::collection::vec(alphabet(), 0..10),
            s in proptest::collection::vec(alphabet(), 0..8),
            nocase in any::<bool>(),
        ) {
            prop_assert_eq!(string_match(&p, &s, nocase), reference(&p, &s, nocase));
        }

        #[test]
        fn agrees_on_plain_letters(
            p in "[ab*?]{0,12}",
            s in "[ab]{0,12}",
        ) {
            prop_assert_eq!(m(&p, &s), reference(p.as_bytes(), s.as_bytes(), false));
        }
    }
}
