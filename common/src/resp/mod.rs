//! RESP framing shared by both binaries: request decoding with Redis's limits, reply
//! writing in RESP2 or RESP3, and the links' codec (commands out, replies in).

pub mod frame;
pub mod link;
pub mod reply;
pub mod request;

pub use link::{append_command, command_len, encode_command, ReplyError, ReplyLimits, ReplyReader};
pub use reply::{format_double, Deferred, Proto, ReplyBuf};
pub use request::{Limits, ProtoError, Request, RequestDecoder};
