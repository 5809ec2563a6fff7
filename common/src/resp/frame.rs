//! Replies from another server, for the links picket opens itself (replica → master,
//! sentinel → instances, simulated clients): `redis-protocol`'s RESP2 frame, read by
//! [`super::link::ReplyReader`].

pub use redis_protocol::resp2::types::BytesFrame as Frame;

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
