//! What Redis's C string handling does to requests that the shared decoder
//! (`picket_common::resp::RequestDecoder`) does not know, checked on the unparsed input before
//! each decode.
//!
//! Redis finds the end of a line with `strchr`, which stops at a NUL byte: a NUL before the
//! newline of an inline command, or before the CR of a `*` or `$` header, leaves the request
//! incomplete until the buffer passes 64 KB, and then it is "too big". (The shared decoder
//! reads past the NUL, and its inline splitter loops forever on a NUL outside quotes.) Redis
//! also refuses inline lines longer than 64 KB, which it never sees whole.

use picket_common::resp::request::INLINE_MAX;
use picket_common::resp::ProtoError;

/// What to do with the input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// Let the decoder handle it.
    Decode,
    /// A NUL hides the end of the line: wait for more bytes.
    Wait,
    Error(ProtoError),
}

/// Check the input, which always starts at a request boundary (the decoder only removes
/// complete requests).
pub fn check(buf: &[u8]) -> Guard {
    let mut start = 0;
    // Blank inline lines are skipped by the decoder in the same call: look past them.
    while start < buf.len() {
        if buf[start] == b'*' {
            return multibulk(buf, start);
        }
        let end = buf[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| start + p);
        let line = &buf[start..end.unwrap_or(buf.len())];
        if line.contains(&0) {
            return stalled(buf, start, ProtoError::InlineTooBig);
        }
        let Some(end) = end else {
            return Guard::Decode;
        };
        if line.len() > INLINE_MAX {
            return Guard::Error(ProtoError::InlineTooBig);
        }
        if !line
            .iter()
            .all(|b| matches!(b, b' ' | b'\r' | b'\t' | 0x0b | 0x0c))
        {
            return Guard::Decode;
        }
        start = end + 1;
    }
    Guard::Decode
}

/// Waiting on a NUL, until the unparsed rest passes the inline limit.
fn stalled(buf: &[u8], from: usize, too_big: ProtoError) -> Guard {
    if buf.len() - from > INLINE_MAX {
        Guard::Error(too_big)
    } else {
        Guard::Wait
    }
}

/// The header line at `at`: `Ok(Some(end))` with the offset of its CR, `Ok(None)` when it is
/// not complete, `Err(())` when a NUL comes first.
fn header(buf: &[u8], at: usize) -> Result<Option<usize>, ()> {
    match buf[at..].iter().position(|&b| b == b'\r' || b == 0) {
        None => Ok(None),
        Some(p) if buf[at + p] == 0 => Err(()),
        Some(p) => Ok(Some(at + p)),
    }
}

fn number(text: &[u8]) -> Option<i64> {
    picket_common::sds::string2ll(text)
}

/// Walk the headers of the multibulk request at `start` as far as they have arrived.
fn multibulk(buf: &[u8], start: usize) -> Guard {
    let cr = match header(buf, start) {
        Err(()) => return stalled(buf, start, ProtoError::MultibulkCountTooBig),
        Ok(None) => return Guard::Decode,
        Ok(Some(cr)) => cr,
    };
    let Some(argc) = number(&buf[start + 1..cr]).filter(|&n| n > 0) else {
        return Guard::Decode;
    };
    let mut pos = cr + 2;
    for _ in 0..argc {
        if pos >= buf.len() {
            return Guard::Decode;
        }
        let cr = match header(buf, pos) {
            Err(()) => return stalled(buf, pos, ProtoError::BulkCountTooBig),
            Ok(None) => return Guard::Decode,
            Ok(Some(cr)) => cr,
        };
        if buf[pos] != b'$' {
            return Guard::Decode;
        }
        let Some(len) = number(&buf[pos + 1..cr]).filter(|&n| n >= 0) else {
            return Guard::Decode;
        };
        pos = match (cr as u64).checked_add(4 + len as u64) {
            Some(p) if p <= buf.len() as u64 => p as usize,
            _ => return Guard::Decode,
        };
    }
    Guard::Decode
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_bytes_stall_lines_and_headers() {
        assert_eq!(check(b"PING\r\n"), Guard::Decode);
        assert_eq!(check(b"\x00\x01 x\r\n"), Guard::Wait);
        assert_eq!(check(b"\r\n \n PI\x00NG"), Guard::Wait);
        assert_eq!(check(b"PING\r\n\x00"), Guard::Decode);
        assert_eq!(check(b"*1\r\n$1\r\n\x00\r\n"), Guard::Decode);
        assert_eq!(check(b"*1\x00\r\n"), Guard::Wait);
        assert_eq!(check(b"*2\r\n$4\r\nECHO\r\n$1\x00\r\n"), Guard::Wait);
        assert_eq!(check(b"*2\r\n$4\r\nEC\x00O\r\n$1\x00\r\n"), Guard::Wait);
        // A header the decoder refuses is left to it.
        assert_eq!(check(b"*+1\r\n$\x00"), Guard::Decode);
        let mut big = b"*2\r\n$\x00".to_vec();
        big.resize(INLINE_MAX + 10, b'x');
        assert_eq!(check(&big), Guard::Error(ProtoError::BulkCountTooBig));
        let mut big = b"*\x00".to_vec();
        big.resize(INLINE_MAX + 10, b'x');
        assert_eq!(check(&big), Guard::Error(ProtoError::MultibulkCountTooBig));
    }

    #[test]
    fn inline_lines_longer_than_64k_are_refused() {
        let mut line = vec![b'a'; INLINE_MAX + 1];
        line.extend_from_slice(b"\r\n");
        assert_eq!(check(&line), Guard::Error(ProtoError::InlineTooBig));
        let mut line = vec![b'a'; INLINE_MAX];
        line.extend_from_slice(b"\n");
        assert_eq!(check(&line), Guard::Decode);
    }
}
