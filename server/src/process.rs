//! The process part of the server: who it is (run id, executable, the addresses it listens
//! on) and where it is in its life (the cron's tick count, a shutdown asked for, a fatal
//! error that must end it), with the rate limits of its recurring warnings.

use std::path::PathBuf;

/// Why and how the server is going down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownRequest {
    pub nosave: bool,
    pub save: bool,
    pub force: bool,
    pub signal: Option<&'static str>,
    /// The final save (if any) is done: the server may stop now.
    pub prepared: bool,
}

/// The process's identity and lifecycle.
pub struct Process {
    pub run_id: String,
    /// Addresses the listeners are bound to.
    pub bound: Vec<std::net::SocketAddr>,
    /// Addresses the TLS listeners (`tls-port`) are bound to.
    pub tls_bound: Vec<std::net::SocketAddr>,
    /// The TLS configuration in force (`crate::tls`): made at start-up when TLS is on
    /// (`tls-port`, `tls-replication`, `tls-cluster`), replaced whole by CONFIG SET; each
    /// handshake takes the one in force when it starts.
    pub tls: crate::tls::Current,
    pub executable: PathBuf,
    /// A shutdown asked for (SHUTDOWN, a signal), done by the cron.
    pub shutdown: Option<ShutdownRequest>,
    /// A fatal error (a corrupt RDB at start-up, an AOF that `appendfsync always` cannot
    /// make durable): the process must exit with an error.
    pub fatal: Option<String>,
    /// How many hz ticks the cron has run.
    pub cronloops: u64,
    /// `used_memory` once the server was ready (INFO `used_memory_startup`).
    pub startup_memory: usize,
    /// When the POST / Host: warning was last logged (at most once a minute).
    pub security_warned_ms: i64,
    /// When a replica last logged applying its master's writes with the AOF failing.
    pub disk_error_logged_ms: i64,
}

impl Process {
    pub fn new(run_id: String) -> Self {
        Process {
            run_id,
            bound: Vec::new(),
            tls_bound: Vec::new(),
            tls: crate::tls::Current::default(),
            executable: std::env::current_exe().unwrap_or_default(),
            shutdown: None,
            fatal: None,
            cronloops: 0,
            startup_memory: 0,
            security_warned_ms: i64::MIN / 2,
            disk_error_logged_ms: i64::MIN / 2,
        }
    }
}
