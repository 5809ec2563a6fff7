//! Persistence: RDB snapshots (and, next, the AOF).

pub mod rdb;
