//! Decoding client requests: RESP multibulk frames and inline commands, with Redis's limits
//! enforced while the bytes arrive.
//!
//! `redis-protocol` parses a frame from scratch on every call and checks no limits, no CRLF after
//! bulk payloads, and no inline commands (see ../shared/reference/rust-stack.md §3). So requests
//! go through an incremental scanner: it validates the frame header by header as bytes arrive,
//! remembering where it stopped, enforces the limits, and records where each argument lies; a
//! complete frame is split off the buffer once and its arguments are slices of it, with the raw
//! bytes kept (replication streams those and counts their length). An earlier version handed
//! the validated frame to `redis_protocol::resp2::decode::decode_bytes_mut` as well: parsing
//! every request twice cost about 10% of the server's CPU at pipeline depth 16, so the
//! `redis-protocol` frame layer now serves the replies other servers send (`frame.rs`).

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::sds::string2ll;

/// Longest inline command line, as Redis's `PROTO_INLINE_MAX_SIZE`.
pub const INLINE_MAX: usize = 64 * 1024;
/// Largest multibulk length Redis accepts (`INT_MAX`).
pub const MULTIBULK_MAX: i64 = i32::MAX as i64;
/// Limits for a client that has not authenticated yet (Redis 7.0.15).
pub const UNAUTH_MULTIBULK_MAX: i64 = 10;
pub const UNAUTH_BULK_MAX: i64 = 16384;

/// A protocol violation. Display is the text after `-ERR ` in Redis's reply; the connection is
/// closed after that reply is written.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtoError {
    #[error("Protocol error: invalid multibulk length")]
    MultibulkLength,
    #[error("Protocol error: invalid bulk length")]
    BulkLength,
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthMultibulkLength,
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthBulkLength,
    #[error("Protocol error: expected '$', got '{0}'")]
    ExpectedDollar(char),
    #[error("Protocol error: too big mbulk count string")]
    MultibulkCountTooBig,
    #[error("Protocol error: too big bulk count string")]
    BulkCountTooBig,
    #[error("Protocol error: too big inline request")]
    InlineTooBig,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("Protocol error: expected '\\r\\n' after bulk payload")]
    MissingCrlf,
    #[error("Protocol error: {0}")]
    Other(String),
}

/// Limits applied while decoding; the server fills them from its configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: i64,
    /// Apply the stricter limits of a client that has not authenticated yet.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// One decoded command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The arguments, the command name first. Slices of `raw` for multibulk requests.
    pub args: Vec<Bytes>,
    /// Exactly the bytes this request occupied on the wire (inline requests included).
    pub raw: Bytes,
    pub inline: bool,
}

impl Request {
    /// Bytes consumed from the stream by this request.
    pub fn wire_len(&self) -> usize {
        self.raw.len()
    }
}

/// Where the scanner stopped inside a partial multibulk frame.
#[derive(Debug, Default, Clone)]
struct Partial {
    /// Offset in the buffer of the next header to read.
    pos: usize,
    /// Arguments announced by the `*` header (None until it is read).
    argc: Option<usize>,
    /// Where the arguments scanned so far lie in the frame: (offset, length).
    args: Vec<(usize, usize)>,
}

impl Partial {
    fn reset(&mut self) {
        self.pos = 0;
        self.argc = None;
        self.args.clear();
    }
}

/// Incremental request decoder. Feed it a buffer that the connection appends to; it removes
/// complete requests from the front.
#[derive(Debug, Default)]
pub struct RequestDecoder {
    partial: Partial,
}

impl RequestDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of the buffer that belong to a request still being received (for `qbuf` and the
    /// query-buffer limit the caller can use `buf.len()`).
    pub fn is_mid_request(&self) -> bool {
        self.partial.argc.is_some()
    }

    /// The bulk argument being received, once its `$<len>` header is in `buf`: its length
    /// and the offset of its first byte.
    pub fn bulk_in_progress(&self, buf: &[u8]) -> Option<(usize, usize)> {
        let p = &self.partial;
        let argc = p.argc?;
        if p.args.len() >= argc || p.pos >= buf.len() {
            return None;
        }
        let (line, data_start) = read_line(buf, p.pos)?;
        let len = string2ll(line.strip_prefix(b"$")?)?;
        usize::try_from(len).ok().map(|l| (l, data_start))
    }

    /// The arguments of the request being received that are complete: how many, and their
    /// bytes (Redis holds them in `argv` meanwhile: `argv-mem`).
    pub fn partial_args(&self) -> (usize, usize) {
        let args = &self.partial.args;
        (args.len(), args.iter().map(|&(_, len)| len).sum())
    }

    /// Decode the next complete request. `Ok(None)` means more bytes are needed (or the buffer
    /// held only empty lines / empty multibulks, which Redis skips). After an error the
    /// connection must be closed: the buffer is left in an unspecified state.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Request>, ProtoError> {
        let mut args = Vec::new();
        Ok(self
            .decode_with(buf, limits, &mut args)?
            .map(|(raw, inline)| Request { args, raw, inline }))
    }

    /// As [`RequestDecoder::decode`], for a caller that needs only the arguments: they are
    /// put in `args` (cleared first), whose storage is reused from request to request.
    /// Returns whether a request was decoded.
    pub fn decode_into(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
        args: &mut Vec<Bytes>,
    ) -> Result<bool, ProtoError> {
        args.clear();
        Ok(self.decode_with(buf, limits, args)?.is_some())
    }

    /// Decode the next request's arguments into `args` (empty); its wire bytes and whether
    /// it was inline, or `None` while it is incomplete.
    fn decode_with(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
        args: &mut Vec<Bytes>,
    ) -> Result<Option<(Bytes, bool)>, ProtoError> {
        loop {
            if buf.is_empty() {
                return Ok(None);
            }
            if self.partial.argc.is_none() && buf[0] != b'*' {
                match decode_inline(buf)? {
                    Inline::Incomplete => return Ok(None),
                    Inline::Empty => continue,
                    Inline::Request(r) => {
                        args.extend(r.args);
                        return Ok(Some((r.raw, true)));
                    }
                }
            }
            match self.scan_multibulk(buf, limits)? {
                Scan::Incomplete => return Ok(None),
                Scan::Empty(n) => {
                    // `*0\r\n` or `*-1\r\n`: Redis ignores it.
                    let _ = buf.split_to(n);
                    self.partial.reset();
                    continue;
                }
                Scan::Complete(n) => {
                    let raw = buf.split_to(n).freeze();
                    args.extend(
                        self.partial
                            .args
                            .iter()
                            .map(|&(at, len)| raw.slice(at..at + len)),
                    );
                    self.partial.reset();
                    return Ok(Some((raw, false)));
                }
            }
        }
    }

    fn scan_multibulk(&mut self, buf: &[u8], limits: &Limits) -> Result<Scan, ProtoError> {
        let p = &mut self.partial;
        if p.argc.is_none() {
            let Some((line, next)) = read_line(buf, 0) else {
                if buf.len() > INLINE_MAX {
                    return Err(ProtoError::MultibulkCountTooBig);
                }
                return Ok(Scan::Incomplete);
            };
            let n = string2ll(&line[1..]).ok_or(ProtoError::MultibulkLength)?;
            if n > MULTIBULK_MAX {
                return Err(ProtoError::MultibulkLength);
            }
            if n <= 0 {
                return Ok(Scan::Empty(next));
            }
            if limits.unauthenticated && n > UNAUTH_MULTIBULK_MAX {
                return Err(ProtoError::UnauthMultibulkLength);
            }
            p.argc = Some(n as usize);
            p.pos = next;
            p.args.reserve((n as usize).min(1024));
        }
        let argc = p.argc.unwrap_or(0);
        while p.args.len() < argc {
            if p.pos >= buf.len() {
                return Ok(Scan::Incomplete);
            }
            let Some((line, data_start)) = read_line(buf, p.pos) else {
                if buf.len() - p.pos > INLINE_MAX {
                    return Err(ProtoError::BulkCountTooBig);
                }
                return Ok(Scan::Incomplete);
            };
            // An empty line: Redis looks at the byte where the '$' should be, the CR.
            let first = line.first().copied().unwrap_or(b'\r');
            if first != b'$' {
                return Err(ProtoError::ExpectedDollar(first as char));
            }
            let len = string2ll(&line[1..]).ok_or(ProtoError::BulkLength)?;
            if len < 0 || len > limits.max_bulk_len {
                return Err(ProtoError::BulkLength);
            }
            if limits.unauthenticated && len > UNAUTH_BULK_MAX {
                return Err(ProtoError::UnauthBulkLength);
            }
            let end = data_start + len as usize;
            if buf.len() < end + 2 {
                return Ok(Scan::Incomplete);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ProtoError::MissingCrlf);
            }
            p.args.push((data_start, len as usize));
            p.pos = end + 2;
        }
        Ok(Scan::Complete(p.pos))
    }
}

enum Scan {
    Incomplete,
    Empty(usize),
    Complete(usize),
}

/// The header line starting at `from` (without its CRLF) and the offset just after it.
/// `None` while it is incomplete. Like Redis's `strchr`, the search for the CR stops at a NUL
/// byte: such a header never completes, and the caller's size limit ends the wait.
fn read_line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = &buf[from..];
    let cr = rest.iter().position(|&b| b == b'\r' || b == 0)?;
    if rest[cr] == 0 || rest.len() < cr + 2 {
        return None;
    }
    Some((&rest[..cr], from + cr + 2))
}

/// An inline command: one line split like Redis's `sdssplitargs`. Empty lines are skipped
/// (replicas send bare `\n` as keepalives).
enum Inline {
    Incomplete,
    Empty,
    Request(Request),
}

fn decode_inline(buf: &mut BytesMut) -> Result<Inline, ProtoError> {
    // Redis finds the newline with `strchr`, which stops at a NUL: a NUL before the newline
    // leaves the line incomplete until the buffer passes the inline limit. A line is never
    // longer than the limit either (Redis never holds more of it than that).
    let found = buf.iter().position(|&b| b == b'\n' || b == 0);
    let Some(nl) = found.filter(|&i| buf[i] == b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(ProtoError::InlineTooBig);
        }
        return Ok(Inline::Incomplete);
    };
    if nl > INLINE_MAX {
        return Err(ProtoError::InlineTooBig);
    }
    let raw = buf.split_to(nl + 1).freeze();
    let mut line = &raw[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let args = crate::sds::split_args(line).ok_or(ProtoError::UnbalancedQuotes)?;
    if args.is_empty() {
        return Ok(Inline::Empty);
    }
    Ok(Inline::Request(Request {
        args: args.into_iter().map(Bytes::from).collect(),
        raw,
        inline: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], limits: Limits) -> (Vec<Request>, Option<ProtoError>, usize) {
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match d.decode(&mut buf, &limits) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => return (out, None, buf.len()),
                Err(e) => return (out, Some(e), buf.len()),
            }
        }
    }

    fn args(r: &Request) -> Vec<&[u8]> {
        r.args.iter().map(|a| &a[..]).collect()
    }

    #[test]
    fn multibulk_and_raw_bytes() {
        let wire = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
        let (reqs, err, left) = decode_all(wire, Limits::default());
        assert_eq!(err, None);
        assert_eq!(left, 0);
        assert_eq!(args(&reqs[0]), vec![&b"GET"[..], b"k"]);
        assert_eq!(&reqs[0].raw[..], b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        assert_eq!(reqs[1].wire_len(), 14);
    }

    #[test]
    fn byte_by_byte_arrival() {
        let wire = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\nPING\r\n";
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in wire.iter() {
            buf.extend_from_slice(&[b]);
            while let Some(r) = d.decode(&mut buf, &Limits::default()).unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(args(&got[0]), vec![&b"SET"[..], b"key", b"va\r\nl"]);
        assert_eq!(args(&got[1]), vec![&b"PING"[..]]);
        assert!(got[1].inline);
    }

    #[test]
    fn inline_commands() {
        let (reqs, err, _) = decode_all(
            b"PING\r\n\r\n\nset k \"a b\\x41\\n\" 'it\\'s'\nECHO x\r\n",
            Limits::default(),
        );
        assert_eq!(err, None);
        assert_eq!(reqs.len(), 3);
        assert_eq!(args(&reqs[1]), vec![&b"set"[..], b"k", b"a bA\n", b"it's"]);
        assert_eq!(&reqs[2].raw[..], b"ECHO x\r\n");
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        let (reqs, err, _) = decode_all(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", Limits::default());
        assert_eq!(err, None);
        assert_eq!(reqs.len(), 1);
    }

    #[test]
    fn protocol_errors_match_redis() {
        let cases: &[(&[u8], ProtoError)] = &[
            (b"*2147483648\r\n", ProtoError::MultibulkLength),
            (b"*abc\r\n", ProtoError::MultibulkLength),
            (b"*1\r\n$536870913\r\n", ProtoError::BulkLength),
            (b"*1\r\n$-1\r\n", ProtoError::BulkLength),
            (b"*1\r\n$abc\r\n", ProtoError::BulkLength),
            (b"*1\r\nfoo\r\n", ProtoError::ExpectedDollar('f')),
            (b"SET a \"b\r\n", ProtoError::UnbalancedQuotes),
            (b"*1\r\n$3\r\nfooXY", ProtoError::MissingCrlf),
        ];
        for (input, want) in cases {
            let (_, err, _) = decode_all(input, Limits::default());
            assert_eq!(
                err.as_ref(),
                Some(want),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            ProtoError::ExpectedDollar('f').to_string(),
            "Protocol error: expected '$', got 'f'"
        );
    }

    #[test]
    fn huge_announced_lengths_do_not_allocate_or_error_early() {
        let (reqs, err, left) = decode_all(b"*2147483647\r\n$536870912\r\n", Limits::default());
        assert!(reqs.is_empty() && err.is_none());
        assert_eq!(left, 25);
    }

    #[test]
    fn redis_edge_cases_of_headers_and_lines() {
        // string2ll: "-0" is not a length.
        let (_, err, _) = decode_all(b"*-0\r\n", Limits::default());
        assert_eq!(err, Some(ProtoError::MultibulkLength));
        let (_, err, _) = decode_all(b"*\r\n", Limits::default());
        assert_eq!(err, Some(ProtoError::MultibulkLength));
        // An empty bulk header: Redis reports the CR it found (shown as a space).
        let (_, err, _) = decode_all(b"*1\r\n\r\n", Limits::default());
        assert_eq!(err, Some(ProtoError::ExpectedDollar('\r')));
        // A NUL before the end of a line or header: wait, then "too big" past 64 KB.
        for input in [
            &b"PI\x00NG\r\n"[..],
            b"*1\x00\r\n",
            b"*1\r\n$4\x00\r\nPING\r\n",
        ] {
            let (reqs, err, left) = decode_all(input, Limits::default());
            assert!(
                reqs.is_empty() && err.is_none() && left == input.len(),
                "{input:?}"
            );
        }
        let mut big = b"PI\x00NG".to_vec();
        big.resize(INLINE_MAX + 10, b'x');
        assert_eq!(
            decode_all(&big, Limits::default()).1,
            Some(ProtoError::InlineTooBig)
        );
        let mut big = b"*1\r\n$\x00".to_vec();
        big.resize(INLINE_MAX + 10, b'x');
        assert_eq!(
            decode_all(&big, Limits::default()).1,
            Some(ProtoError::BulkCountTooBig)
        );
        // A complete inline line longer than the limit is refused too.
        let mut long = vec![b'a'; INLINE_MAX + 5];
        long.extend_from_slice(b"\r\n");
        assert_eq!(
            decode_all(&long, Limits::default()).1,
            Some(ProtoError::InlineTooBig)
        );
        // NULs inside bulk payloads are data.
        let (reqs, err, _) = decode_all(b"*1\r\n$3\r\na\x00b\r\n", Limits::default());
        assert!(err.is_none());
        assert_eq!(&reqs[0].args[0][..], b"a\x00b");
    }

    #[test]
    fn unauthenticated_limits() {
        let l = Limits {
            unauthenticated: true,
            ..Limits::default()
        };
        let (_, err, _) = decode_all(b"*100\r\n", l);
        assert_eq!(err, Some(ProtoError::UnauthMultibulkLength));
        let (_, err, _) = decode_all(b"*1\r\n$20000\r\n", l);
        assert_eq!(err, Some(ProtoError::UnauthBulkLength));
    }

    #[test]
    fn oversized_lines_are_refused() {
        let long = vec![b'a'; INLINE_MAX + 1];
        let (_, err, _) = decode_all(&long, Limits::default());
        assert_eq!(err, Some(ProtoError::InlineTooBig));
        let mut mb = b"*1".to_vec();
        mb.extend(std::iter::repeat_n(b'1', INLINE_MAX + 1));
        let (_, err, _) = decode_all(&mb, Limits::default());
        assert_eq!(err, Some(ProtoError::MultibulkCountTooBig));
    }
}
