//! A directive table and helpers shared by the config tests.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Directive, Kind, BIND_LIST, CLIENT_OUTPUT_BUFFER_LIMIT, SAVE};

const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

pub static TABLE: &[Directive] = &[
    Directive::new("daemonize", Kind::Bool, "no", "Run in the background.").immutable(),
    Directive::new(
        "protected-mode",
        Kind::Bool,
        "yes",
        "Refuse remote clients without auth.",
    ),
    Directive::new(
        "port",
        Kind::Int { min: 0, max: 65535 },
        "6379",
        "TCP port.",
    ),
    Directive::new(
        "hz",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "10",
        "Cron frequency.",
    ),
    Directive::new(
        "replica-priority",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "100",
        "Priority.",
    )
    .alias(&["slave-priority"]),
    Directive::new(
        "replica-read-only",
        Kind::Bool,
        "yes",
        "Read-only replicas.",
    )
    .alias(&["slave-read-only"]),
    Directive::new(
        "maxmemory",
        Kind::Memory {
            min: 0,
            max: i64::MAX,
        },
        "0",
        "Memory limit.",
    ),
    Directive::new(
        "repl-backlog-size",
        Kind::Memory {
            min: 1,
            max: i64::MAX,
        },
        "1mb",
        "Backlog size.",
    ),
    Directive::new(
        "maxmemory-policy",
        Kind::Enum(POLICIES),
        "noeviction",
        "Eviction policy.",
    ),
    Directive::new("dbfilename", Kind::String, "dump.rdb", "RDB file name.").protected(),
    Directive::new("logfile", Kind::String, "\"\"", "Log file.").immutable(),
    Directive::new("masterauth", Kind::String, "", "Password for the master."),
    Directive::new(
        "save",
        Kind::Custom(&SAVE),
        "3600 1 300 100 60 10000",
        "Snapshot points.",
    ),
    Directive::new(
        "client-output-buffer-limit",
        Kind::Custom(&CLIENT_OUTPUT_BUFFER_LIMIT),
        "normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60",
        "Output buffer limits.",
    ),
    Directive::new(
        "bind",
        Kind::Custom(&BIND_LIST),
        "* -::*",
        "Addresses to listen on.",
    ),
];

/// A fresh, empty directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir(tag: &str) -> TempDir {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "picket-config-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    TempDir(dir)
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}
