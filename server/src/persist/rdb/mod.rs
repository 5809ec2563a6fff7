//! Redis-compatible RDB files (version 10, as Redis 7.0 writes them).

pub mod blobs;
pub mod codec;
pub mod lzf;
pub mod read;
pub mod stream;
pub mod stream_value;
pub mod write;
