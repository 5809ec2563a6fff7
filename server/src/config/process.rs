//! The directives about the process itself (supervision, daemonizing, logging, pid file,
//! threads), typed: the binary reads them at start-up from here rather than by name.

use picket_common::config::ConfigStore;

/// Part of [`super::Settings`].
#[derive(Debug, Clone)]
pub struct ProcessSettings {
    /// `supervised`: `no`, `upstart`, `systemd` or `auto`.
    pub supervised: String,
    pub daemonize: bool,
    pub logfile: String,
    pub loglevel: String,
    pub pidfile: String,
    /// Threads of the runtime (1 runs everything on one thread).
    pub io_threads: usize,
}

impl ProcessSettings {
    pub fn from_store(s: &ConfigStore) -> Self {
        ProcessSettings {
            supervised: s.get_str("supervised").to_string(),
            daemonize: s.get_bool("daemonize"),
            logfile: s.get_str("logfile").to_string(),
            loglevel: s.get_str("loglevel").to_string(),
            pidfile: s.get_str("pidfile").to_string(),
            io_threads: s.get_int("io-threads").max(1) as usize,
        }
    }
}
