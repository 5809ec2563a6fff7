//! Writing replies in RESP2 or RESP3 straight into a client's output buffer.
//!
//! Replies are written without building frame values first: the hot path (GET, SET, INCR) is a
//! handful of `extend_from_slice` calls. Each method writes the RESP3 type and, for a RESP2 client,
//! the shape Redis 7.0 falls back to (maps as flat arrays, doubles and verbatim strings as bulk
//! strings, booleans as integers, null as `$-1` or `*-1`).

use bytes::{BufMut, BytesMut};

/// Protocol version negotiated with HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Resp2,
    Resp3,
}

impl Proto {
    pub fn number(self) -> i64 {
        match self {
            Proto::Resp2 => 2,
            Proto::Resp3 => 3,
        }
    }
}

/// A reply sink: a byte buffer and the protocol of the client it is for.
#[derive(Debug, Default)]
pub struct ReplyBuf {
    pub buf: BytesMut,
    pub proto: Proto,
}

/// A placeholder for a collection header whose length is known only after its items are
/// written (Redis's `addReplyDeferredLen`).
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Deferred(usize);

impl ReplyBuf {
    pub fn new(proto: Proto) -> Self {
        ReplyBuf {
            buf: BytesMut::new(),
            proto,
        }
    }

    pub fn resp3(&self) -> bool {
        self.proto == Proto::Resp3
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn header(&mut self, tag: u8, n: i64) {
        self.buf.put_u8(tag);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string; `s` must not contain CR or LF (they are replaced by spaces, as Redis's
    /// `addReplyStatusLength` callers ensure).
    pub fn simple(&mut self, s: &str) {
        self.buf.put_u8(b'+');
        self.put_line(s.as_bytes());
    }

    /// An error reply. `msg` includes its code (`ERR ...`, `WRONGTYPE ...`); a leading `-` is
    /// tolerated. Newlines are replaced so the protocol stays intact, as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.buf.put_u8(b'-');
        self.put_line(msg.strip_prefix('-').unwrap_or(msg).as_bytes());
    }

    fn put_line(&mut self, s: &[u8]) {
        if s.iter().any(|&b| b == b'\r' || b == b'\n') {
            self.buf.extend(
                s.iter()
                    .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
        } else {
            self.buf.extend_from_slice(s);
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    /// A bulk string holding a decimal integer (e.g. CONFIG GET values, INCRBYFLOAT results).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// Null bulk string: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.proto {
            Proto::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Proto::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// Null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.proto {
            Proto::Resp2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Proto::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs: `%n` in RESP3, an array of `2n` items in RESP2.
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', 2 * n as i64),
            Proto::Resp3 => self.header(b'%', n as i64),
        }
    }

    /// A set: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', n as i64),
            Proto::Resp3 => self.header(b'~', n as i64),
        }
    }

    /// An out-of-band push (pub/sub messages): `>n` in RESP3, an array in RESP2.
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', n as i64),
            Proto::Resp3 => self.header(b'>', n as i64),
        }
    }

    /// A double as Redis 7.0's `addReplyDouble`: `%.17g` in a bulk string for RESP2,
    /// `,%.17g` for RESP3, `inf` / `-inf` spelled out.
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        match self.proto {
            Proto::Resp2 => self.bulk(s.as_bytes()),
            Proto::Resp3 => {
                self.buf.put_u8(b',');
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        match self.proto {
            Proto::Resp2 => self.int(b as i64),
            Proto::Resp3 => self
                .buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// A verbatim string (`=len\r\ntxt:...`) in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        match self.proto {
            Proto::Resp2 => self.bulk(text),
            Proto::Resp3 => {
                self.header(b'=', (text.len() + 4) as i64);
                self.buf.extend_from_slice(format.as_bytes());
                self.buf.put_u8(b':');
                self.buf.extend_from_slice(text);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Append bytes that are already RESP-encoded.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Reserve the place of a collection header to be filled by `finish_*`.
    pub fn deferred(&mut self) -> Deferred {
        Deferred(self.buf.len())
    }

    pub fn finish_array(&mut self, d: Deferred, n: usize) {
        self.finish(d, b'*', n as i64);
    }

    pub fn finish_map(&mut self, d: Deferred, pairs: usize) {
        match self.proto {
            Proto::Resp2 => self.finish(d, b'*', 2 * pairs as i64),
            Proto::Resp3 => self.finish(d, b'%', pairs as i64),
        }
    }

    pub fn finish_set(&mut self, d: Deferred, n: usize) {
        match self.proto {
            Proto::Resp2 => self.finish(d, b'*', n as i64),
            Proto::Resp3 => self.finish(d, b'~', n as i64),
        }
    }

    fn finish(&mut self, d: Deferred, tag: u8, n: i64) {
        let mut head = Vec::with_capacity(24);
        head.push(tag);
        head.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        head.extend_from_slice(b"\r\n");
        let tail = self.buf.split_off(d.0);
        self.buf.extend_from_slice(&head);
        self.buf.extend_from_slice(&tail);
    }

    /// Take the written bytes, leaving the buffer empty (and its protocol unchanged).
    pub fn take(&mut self) -> BytesMut {
        self.buf.split()
    }
}

/// C's `printf("%.17g", d)`, which Redis 7.0 uses for doubles in replies; `inf`, `-inf`, `nan`
/// as Redis spells them.
pub fn format_double(d: f64) -> String {
    format_g(d, 17)
}

/// C's `%.<precision>g`.
pub fn format_g(d: f64, precision: usize) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let p = precision.max(1);
    // Integers that fit the precision print as themselves (the common case of sorted-set
    // scores): no need for the exact decimal expansion below.
    if d.fract() == 0.0 && d.abs() < 9.007_199_254_740_992e15 && d.abs() < 10f64.powi(p as i32) {
        return itoa::Buffer::new().format(d as i64).to_string();
    }
    if let Some(s) = short_exact_decimal(d, p) {
        return s;
    }
    format_g_exact(d, p)
}

/// `%.<p>g` of a double whose exact value has at most `p` significant digits and prints in
/// fixed notation (1e-4 <= |d| < 10^p): that exact value, written from integers (scores
/// such as 1.5 or 0.25). None for any other double. The general path's exact formatting
/// costs a big-number expansion per call.
fn short_exact_decimal(d: f64, p: usize) -> Option<String> {
    let a = d.abs();
    if p > 17 || !(1e-4..10f64.powi(p as i32)).contains(&a) {
        return None;
    }
    let bits = a.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        return None;
    }
    // a = m * 2^e exactly, m odd.
    let mant = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let tz = mant.trailing_zeros();
    let m = mant >> tz;
    let e = biased - 1075 + tz as i32;
    if e >= 0 {
        return None; // an integer: the caller's path, or too big for the precision
    }
    // k fractional digits: a * 10^k = m * 5^k.
    let k = (-e) as u32;
    if k > 24 {
        return None;
    }
    let scaled = (m as u128) * 5u128.pow(k);
    if scaled >= 10u128.pow(p as u32) {
        return None;
    }
    let ten_k = 10u128.pow(k);
    let (int_part, frac) = (scaled / ten_k, scaled % ten_k);
    let mut s = String::with_capacity(24);
    if d < 0.0 {
        s.push('-');
    }
    s.push_str(itoa::Buffer::new().format(int_part as u64));
    s.push('.');
    let digits = itoa::Buffer::new().format(frac as u64).to_string();
    for _ in digits.len()..k as usize {
        s.push('0');
    }
    // m is odd, so the last digit is 5: no trailing zeros to trim.
    s.push_str(&digits);
    Some(s)
}

/// `%.<p>g` through the exact decimal expansion (any finite, non-zero double).
fn format_g_exact(d: f64, p: usize) -> String {
    // Scientific form with p significant digits: "d.ddddde[-]x", correctly rounded.
    let sci = format!("{:.*e}", p - 1, d);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let m = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_exact_decimals_print_as_the_exact_expansion_does() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut fast = 0;
        for i in 0..200_000 {
            // Dyadic values m / 2^k of every size, and arbitrary bit patterns.
            let d = if i % 2 == 0 {
                let m = (next() >> (next() % 64)) as f64;
                let k = (next() % 70) as i32;
                let s = if next() % 2 == 0 { 1.0 } else { -1.0 };
                s * m / 2f64.powi(k)
            } else {
                f64::from_bits(next())
            };
            if !d.is_finite() || d == 0.0 {
                continue;
            }
            for p in [17, 15, 6, 1] {
                if let Some(s) = short_exact_decimal(d, p) {
                    fast += 1;
                    assert_eq!(s, format_g_exact(d, p), "{d:e} at precision {p}");
                }
            }
        }
        assert!(fast > 10_000, "the fast path ran {fast} times");
        assert_eq!(format_g(1.5, 17), "1.5");
        assert_eq!(format_g(-0.25, 17), "-0.25");
        assert_eq!(format_g(0.1, 17), "0.10000000000000001");
        assert_eq!(format_g(0.0001220703125, 17), "0.0001220703125");
        assert_eq!(format_g(6.103515625e-05, 17), "6.103515625e-05");
        assert_eq!(format_g(123456.5, 6), "123456");
    }

    fn out(p: Proto, f: impl FnOnce(&mut ReplyBuf)) -> String {
        let mut r = ReplyBuf::new(p);
        f(&mut r);
        String::from_utf8(r.buf.to_vec()).unwrap()
    }

    #[test]
    fn shapes_in_both_protocols() {
        assert_eq!(out(Proto::Resp2, |r| r.map(2)), "*4\r\n");
        assert_eq!(out(Proto::Resp3, |r| r.map(2)), "%2\r\n");
        assert_eq!(out(Proto::Resp2, |r| r.null()), "$-1\r\n");
        assert_eq!(out(Proto::Resp2, |r| r.null_array()), "*-1\r\n");
        assert_eq!(out(Proto::Resp3, |r| r.null_array()), "_\r\n");
        assert_eq!(out(Proto::Resp2, |r| r.boolean(true)), ":1\r\n");
        assert_eq!(out(Proto::Resp3, |r| r.boolean(false)), "#f\r\n");
        assert_eq!(out(Proto::Resp3, |r| r.push(3)), ">3\r\n");
        assert_eq!(
            out(Proto::Resp3, |r| r.verbatim("txt", b"hi")),
            "=6\r\ntxt:hi\r\n"
        );
        assert_eq!(
            out(Proto::Resp2, |r| r.verbatim("txt", b"hi")),
            "$2\r\nhi\r\n"
        );
        assert_eq!(
            out(Proto::Resp2, |r| r.error("ERR a\r\nb")),
            "-ERR a  b\r\n"
        );
        assert_eq!(out(Proto::Resp2, |r| r.double(1.5)), "$3\r\n1.5\r\n");
        assert_eq!(out(Proto::Resp3, |r| r.double(f64::INFINITY)), ",inf\r\n");
    }

    #[test]
    fn deferred_headers() {
        let s = out(Proto::Resp3, |r| {
            r.int(7);
            let d = r.deferred();
            r.bulk(b"a");
            r.bulk(b"b");
            r.finish_map(d, 1);
        });
        assert_eq!(s, ":7\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n");
    }

    #[test]
    fn percent_g_17_like_c() {
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1e17), "1e+17");
        assert_eq!(format_double(12345678901234567.0), "12345678901234568");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1.0000000000000001e-05");
        assert_eq!(format_double(3.0e-300), "3.0000000000000002e-300");
        assert_eq!(format_g(100.0, 6), "100");
        // The integer fast path agrees with printf's %.17g / %.6g.
        assert_eq!(format_g(123.0, 17), "123");
        assert_eq!(format_g(-5.0, 17), "-5");
        assert_eq!(format_g(999999.0, 6), "999999");
        assert_eq!(format_g(1000000.0, 6), "1e+06");
        assert_eq!(format_g(1e16, 17), "10000000000000000");
        assert_eq!(format_g(1e17, 17), "1e+17");
        assert_eq!(format_g(9007199254740992.0, 17), "9007199254740992");
        assert_eq!(format_g(1234567.0, 6), "1.23457e+06");
    }
}
