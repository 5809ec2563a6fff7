//! The persistence directives read while the server runs (RDB encoding, the AOF's files,
//! fsync and rewrite policy, loading), typed once per configuration change so that code
//! reads fields instead of looking names up in the directive store.

use picket_common::config::ConfigStore;

use super::aof_file::Fsync;

/// RDB and AOF settings (part of [`crate::config::Settings`]).
#[derive(Debug, Clone)]
pub struct PersistSettings {
    pub appendonly: bool,
    pub appendfilename: String,
    pub appenddirname: String,
    pub appendfsync: Fsync,
    /// A rewritten AOF starts with an RDB preamble.
    pub aof_use_rdb_preamble: bool,
    /// Load an AOF whose last command is cut (a crash mid-write) instead of refusing.
    pub aof_load_truncated: bool,
    /// Automatic rewrite once the AOF grew by this percentage over its last rewrite (0: never).
    pub auto_aof_rewrite_percentage: i64,
    /// ... and is at least this large.
    pub auto_aof_rewrite_min_size: u64,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
}

impl PersistSettings {
    pub fn from_store(s: &ConfigStore) -> Self {
        PersistSettings {
            appendonly: s.get_bool("appendonly"),
            appendfilename: s.get_str("appendfilename").to_string(),
            appenddirname: s.get_str("appenddirname").to_string(),
            appendfsync: Fsync::parse(s.get_str("appendfsync")),
            aof_use_rdb_preamble: s.get_bool("aof-use-rdb-preamble"),
            aof_load_truncated: s.get_bool("aof-load-truncated"),
            auto_aof_rewrite_percentage: s.get_int("auto-aof-rewrite-percentage"),
            auto_aof_rewrite_min_size: s.get_int("auto-aof-rewrite-min-size") as u64,
            rdbcompression: s.get_bool("rdbcompression"),
            rdbchecksum: s.get_bool("rdbchecksum"),
        }
    }
}
