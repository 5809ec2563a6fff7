//! RESP framing shared by both binaries: request decoding with Redis's limits, and reply
//! writing in RESP2 or RESP3.

pub mod frame;
pub mod reply;
pub mod request;

pub use reply::{format_double, Deferred, Proto, ReplyBuf};
pub use request::{Limits, ProtoError, Request, RequestDecoder};
