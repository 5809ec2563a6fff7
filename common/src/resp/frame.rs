//! Replies from another server, for the links picket opens itself (replica → master,
//! sentinel → instances, simulated clients): RESP2 frames decoded with `redis-protocol`,
//! with the raw bytes of each frame kept (a replica counts them into its offset).

use bytes::{Bytes, BytesMut};
use redis_protocol::resp2::decode::decode_bytes_mut;
pub use redis_protocol::resp2::types::BytesFrame as Frame;

use super::ProtoError;

/// Decode the next complete reply from `buf`, removing it. `Ok(None)` means more bytes are
/// needed. The second element is the reply's raw bytes.
pub fn decode_reply(buf: &mut BytesMut) -> Result<Option<(Frame, Bytes)>, ProtoError> {
    match decode_bytes_mut(buf) {
        Ok(Some((frame, _consumed, raw))) => Ok(Some((frame, raw))),
        Ok(None) => Ok(None),
        Err(e) => Err(ProtoError::Other(e.details().to_string())),
    }
}

/// A reply as compact text for logs and traces: `+OK`, `$v`, `:1`, `-ERR ...`, `nil`,
/// `[a,b]`.
pub fn show(f: &Frame) -> String {
    match f {
        Frame::SimpleString(s) => format!("+{}", String::from_utf8_lossy(s)),
        Frame::Error(e) => format!("-{e}"),
        Frame::Integer(n) => format!(":{n}"),
        Frame::BulkString(b) => format!("${}", String::from_utf8_lossy(b)),
        Frame::Null => "nil".into(),
        Frame::Array(v) => format!("[{}]", v.iter().map(show).collect::<Vec<_>>().join(",")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_their_raw_bytes() {
        let mut buf = BytesMut::from(&b"+OK\r\n*2\r\n$1\r\na\r\n:5\r\n$-1\r\n$3\r\nab"[..]);
        let (f, raw) = decode_reply(&mut buf).unwrap().unwrap();
        assert_eq!((show(&f), &raw[..]), ("+OK".to_string(), &b"+OK\r\n"[..]));
        let (f, raw) = decode_reply(&mut buf).unwrap().unwrap();
        assert_eq!(show(&f), "[$a,:5]");
        assert_eq!(raw.len(), 15);
        let (f, _) = decode_reply(&mut buf).unwrap().unwrap();
        assert_eq!(show(&f), "nil");
        assert!(decode_reply(&mut buf).unwrap().is_none());
        assert!(decode_reply(&mut BytesMut::from(&b"?x\r\n"[..])).is_err());
    }
}
