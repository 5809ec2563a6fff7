//! The codec of the links picket opens itself (replica → master, sentinel → servers and peer
//! sentinels, simulated clients), and of the command streams it writes (replication, AOF):
//! one command encoder and one incremental reply reader.
//!
//! The reader is sans-IO: the caller owns the buffer it reads the socket into and asks the
//! reader for the next reply (`Ok(None)`: more bytes are needed). It validates headers as
//! the bytes arrive, remembering where it stopped, so a large reply arriving in many reads
//! is scanned once; it enforces size limits (a peer cannot make it buffer without bound) and
//! checks the CRLF after bulk payloads, which `redis-protocol` does not.
//!
//! A replica's link to its master also reads lines: the handshake's single-line replies,
//! then after `+FULLRESYNC` the `$<len>` or `$EOF:<mark>` line announcing the RDB payload,
//! whose bytes are raw (not RESP): the caller takes them straight from the buffer. The
//! reader holds no bytes of its own, so switching between replies, lines and raw bytes at a
//! reply boundary loses nothing.

use bytes::{Bytes, BytesMut};
use redis_protocol::bytes_utils::Str;
use thiserror::Error;

use super::frame::Frame;
use super::request::{INLINE_MAX, MULTIBULK_MAX};
use crate::sds::string2ll;

// ------------------------------------------------------------------ encoding

/// The size of a command encoded by [`append_command`].
pub fn command_len<A: AsRef<[u8]>>(args: &[A]) -> usize {
    let digits = |n: usize| itoa::Buffer::new().format(n).len();
    let head = 3 + digits(args.len());
    head + args
        .iter()
        .map(|a| {
            let len = a.as_ref().len();
            1 + digits(len) + 2 + len + 2
        })
        .sum::<usize>()
}

/// Append a command to `buf` as a RESP multibulk of bulk strings.
pub fn append_command<A: AsRef<[u8]>>(buf: &mut BytesMut, args: &[A]) {
    let mut n = itoa::Buffer::new();
    buf.extend_from_slice(b"*");
    buf.extend_from_slice(n.format(args.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        buf.extend_from_slice(b"$");
        buf.extend_from_slice(n.format(a.len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// A command as a RESP multibulk of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Bytes {
    let mut b = BytesMut::with_capacity(command_len(args));
    append_command(&mut b, args);
    b.freeze()
}

// ------------------------------------------------------------------ reading

/// What the reader accepts from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// The longest header or status line, without its CRLF.
    pub max_line: usize,
    /// The longest bulk string.
    pub max_bulk_len: usize,
    /// The most elements of one array.
    pub max_array_len: usize,
    /// The deepest nesting of arrays.
    pub max_depth: usize,
    /// The most bytes one reply may occupy on the wire.
    pub max_reply_len: usize,
}

impl Default for ReplyLimits {
    /// Redis's own limits where it has them (`PROTO_INLINE_MAX_SIZE`, `proto-max-bulk-len`,
    /// `INT_MAX` elements), and bounds on nesting and on one reply's size.
    fn default() -> Self {
        ReplyLimits {
            max_line: INLINE_MAX,
            max_bulk_len: 512 * 1024 * 1024,
            max_array_len: MULTIBULK_MAX as usize,
            max_depth: 64,
            max_reply_len: 1024 * 1024 * 1024,
        }
    }
}

/// Why a peer's bytes are not a reply. The link is unusable afterwards: close it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReplyError {
    #[error("reply line too long")]
    LineTooLong,
    #[error("reply too long")]
    ReplyTooLong,
    #[error("invalid reply type byte {0:?}")]
    BadType(char),
    #[error("invalid integer in reply")]
    BadInteger,
    #[error("invalid bulk length in reply")]
    BadBulkLength,
    #[error("bulk reply longer than the limit")]
    BulkTooLong,
    #[error("invalid array length in reply")]
    BadArrayLength,
    #[error("array reply longer than the limit")]
    ArrayTooLong,
    #[error("reply nested too deep")]
    TooDeep,
    #[error("expected CRLF after a bulk payload")]
    MissingCrlf,
    #[error("a line was asked for in the middle of a reply")]
    MidReply,
}

/// Where the scan of a partial reply stopped.
#[derive(Debug, Default, Clone)]
struct Scan {
    /// Offset in the buffer of the next header.
    pos: usize,
    /// Elements still expected by each open array, innermost last.
    open: Vec<usize>,
}

/// Incremental reader of RESP2 replies (see the module documentation).
#[derive(Debug, Default, Clone)]
pub struct ReplyReader {
    limits: ReplyLimits,
    scan: Scan,
}

/// One header line: its type byte, the text after it, and the offset after its CRLF.
struct Header<'a> {
    kind: u8,
    text: &'a [u8],
    next: usize,
}

impl ReplyReader {
    pub fn new(limits: ReplyLimits) -> Self {
        ReplyReader {
            limits,
            scan: Scan::default(),
        }
    }

    /// Whether part of a reply has been scanned (the next call continues it).
    pub fn is_mid_reply(&self) -> bool {
        self.scan.pos > 0
    }

    /// The next complete reply, removed from `buf` with its raw bytes (a replica counts
    /// them into its offset). `Ok(None)`: more bytes are needed.
    pub fn read_reply(&mut self, buf: &mut BytesMut) -> Result<Option<(Frame, Bytes)>, ReplyError> {
        let end = match self.scan_reply(buf) {
            Ok(Some(end)) => end,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.scan = Scan::default();
                return Err(e);
            }
        };
        self.scan = Scan::default();
        let raw = buf.split_to(end).freeze();
        let (frame, _) = build(&raw, 0)?;
        Ok(Some((frame, raw)))
    }

    /// The next line, removed from `buf` without its LF or CRLF (an empty line is a
    /// keepalive a master sends while it prepares a payload). `Ok(None)`: more bytes are
    /// needed. Only at a reply boundary.
    pub fn read_line(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, ReplyError> {
        if self.is_mid_reply() {
            return Err(ReplyError::MidReply);
        }
        let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > self.limits.max_line {
                return Err(ReplyError::LineTooLong);
            }
            return Ok(None);
        };
        let mut line = buf.split_to(lf + 1).freeze();
        line.truncate(lf);
        if line.last() == Some(&b'\r') {
            line.truncate(lf - 1);
        }
        Ok(Some(line))
    }

    /// Scan on from where the last call stopped; the reply's length once it is complete.
    fn scan_reply(&mut self, buf: &[u8]) -> Result<Option<usize>, ReplyError> {
        let limits = self.limits;
        loop {
            let pos = self.scan.pos;
            if pos > limits.max_reply_len {
                return Err(ReplyError::ReplyTooLong);
            }
            let Some(h) = header(buf, pos, limits.max_line)? else {
                return Ok(None);
            };
            let mut next = h.next;
            match h.kind {
                b'+' | b'-' => {}
                b':' => {
                    string2ll(h.text).ok_or(ReplyError::BadInteger)?;
                }
                b'$' => {
                    let len = string2ll(h.text).ok_or(ReplyError::BadBulkLength)?;
                    if len >= 0 {
                        let len = len as usize;
                        if len > limits.max_bulk_len {
                            return Err(ReplyError::BulkTooLong);
                        }
                        let end = next + len;
                        if end > limits.max_reply_len {
                            return Err(ReplyError::ReplyTooLong);
                        }
                        if buf.len() < end + 2 {
                            return Ok(None);
                        }
                        if &buf[end..end + 2] != b"\r\n" {
                            return Err(ReplyError::MissingCrlf);
                        }
                        next = end + 2;
                    } else if len != -1 {
                        return Err(ReplyError::BadBulkLength);
                    }
                }
                b'*' => {
                    let len = string2ll(h.text).ok_or(ReplyError::BadArrayLength)?;
                    if len > 0 {
                        if len as u64 > limits.max_array_len as u64 {
                            return Err(ReplyError::ArrayTooLong);
                        }
                        if self.scan.open.len() >= limits.max_depth {
                            return Err(ReplyError::TooDeep);
                        }
                        self.scan.open.push(len as usize);
                        self.scan.pos = next;
                        continue;
                    }
                    if len < -1 {
                        return Err(ReplyError::BadArrayLength);
                    }
                }
                other => return Err(ReplyError::BadType(other as char)),
            }
            // One element is complete: close the arrays it completes.
            self.scan.pos = next;
            loop {
                match self.scan.open.last_mut() {
                    None => return Ok(Some(next)),
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        self.scan.open.pop();
                    }
                }
            }
        }
    }
}

/// The header line at `from`, `None` while it is incomplete.
fn header(buf: &[u8], from: usize, max_line: usize) -> Result<Option<Header<'_>>, ReplyError> {
    let rest = &buf[from.min(buf.len())..];
    let Some(cr) = rest.iter().position(|&b| b == b'\r') else {
        if rest.len() > max_line {
            return Err(ReplyError::LineTooLong);
        }
        return Ok(None);
    };
    if cr > max_line {
        return Err(ReplyError::LineTooLong);
    }
    if rest.len() < cr + 2 {
        return Ok(None);
    }
    if rest[cr + 1] != b'\n' {
        return Err(ReplyError::MissingCrlf);
    }
    let Some(&kind) = rest.first().filter(|_| cr > 0) else {
        return Err(ReplyError::BadType('\r'));
    };
    Ok(Some(Header {
        kind,
        text: &rest[1..cr],
        next: from + cr + 2,
    }))
}

/// Build the frame at `at` of a reply the scan validated; returns it and the offset after.
fn build(raw: &Bytes, at: usize) -> Result<(Frame, usize), ReplyError> {
    let h = header(raw, at, usize::MAX)?.ok_or(ReplyError::MissingCrlf)?;
    let text = || raw.slice(at + 1..h.next - 2);
    Ok(match h.kind {
        b'+' => (Frame::SimpleString(text()), h.next),
        b'-' => {
            let t = text();
            let s = match Str::from_inner(t.clone()) {
                Ok(s) => s,
                Err(_) => Str::from(String::from_utf8_lossy(&t).into_owned()),
            };
            (Frame::Error(s), h.next)
        }
        b':' => {
            let n = string2ll(h.text).ok_or(ReplyError::BadInteger)?;
            (Frame::Integer(n), h.next)
        }
        b'$' => match string2ll(h.text).ok_or(ReplyError::BadBulkLength)? {
            n if n < 0 => (Frame::Null, h.next),
            n => {
                let end = h.next + n as usize;
                (Frame::BulkString(raw.slice(h.next..end)), end + 2)
            }
        },
        b'*' => match string2ll(h.text).ok_or(ReplyError::BadArrayLength)? {
            n if n < 0 => (Frame::Null, h.next),
            n => {
                let mut items = Vec::with_capacity((n as usize).min(1024));
                let mut pos = h.next;
                for _ in 0..n {
                    let (f, p) = build(raw, pos)?;
                    items.push(f);
                    pos = p;
                }
                (Frame::Array(items), pos)
            }
        },
        other => return Err(ReplyError::BadType(other as char)),
    })
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
