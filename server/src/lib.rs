//! picket-server: a Redis-compatible data server (see ../../shared/DESIGN.md).
//!
//! The binary (`main.rs`) parses arguments, sets up logging and signals, and calls
//! [`runtime::start`] with the real network; the simulation calls it with turmoil's.

pub mod acl;
pub mod alloc;
pub mod blocking;
pub mod client;
pub mod client_mem;
pub mod clients;
pub mod command;
pub mod config;
pub mod conn;
pub mod cron;
pub mod ctx;
pub mod data;
pub mod db;
pub mod effects;
pub mod evict;
pub mod functions;
pub mod keyspace;
pub mod latency;
pub mod logging;
pub mod notify;
pub mod pause;
pub mod persist;
pub mod process;
pub mod propagate;
pub mod pubsub;
pub mod replication;
pub mod runtime;
pub mod scripts;
pub mod server;
pub mod shared;
pub mod slowlog;
pub mod stats;
pub mod supervise;
pub mod testkit;
pub mod tls;
pub mod tracking;

pub use runtime::{start, Options, ServerHandle, StartError};

/// The Redis version picket-server is compatible with, reported to clients (INFO, HELLO) so
/// that they enable the features they know Redis 7.0 has.
pub const REDIS_VERSION: &str = "7.0.15";
/// picket-server's own version.
pub const PICKET_VERSION: &str = env!("CARGO_PKG_VERSION");
