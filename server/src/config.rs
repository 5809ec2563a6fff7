//! picket-server's configuration: the directive table (one row per directive, as Redis's
//! `standardConfig` table), the typed [`Settings`] the hot paths read, and the CONFIG SET
//! side effects.

use std::path::Path;

use bytes::Bytes;
use picket_common::config::{
    ConfigError, ConfigStore, CustomKind, Directive, Kind, RewriteLine, SavePoint, Value,
    BIND_LIST, CLIENT_OUTPUT_BUFFER_LIMIT, SAVE,
};

use crate::command::rename::Renames;
use crate::notify;

pub mod acl_user;
pub mod compat;
pub mod kinds;
pub mod process;

pub use kinds::ShutdownFlags;

const I32: i64 = i32::MAX as i64;

/// `notify-keyspace-events`: Redis's flag letters, stored in canonical order.
#[derive(Debug)]
pub struct NotifyKind;

impl CustomKind for NotifyKind {
    fn empty(&self) -> Value {
        Value::Str(String::new())
    }
    fn set(&self, _current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        let [s] = args else {
            return Err("wrong number of arguments".into());
        };
        let f = notify::parse(s)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())?;
        Ok(Value::Str(notify::to_canonical(f)))
    }
    fn display(&self, v: &Value) -> String {
        match v {
            Value::Str(s) => notify::to_string(notify::parse(s).unwrap_or(0)),
            _ => String::new(),
        }
    }
    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        vec![RewriteLine {
            args: vec![self.display(v)],
            force: v != default,
        }]
    }
    fn multi_arg(&self) -> bool {
        false
    }
}

static NOTIFY: NotifyKind = NotifyKind;

const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const ALLOW: &[&str] = &["no", "yes", "local"];

/// Every directive picket-server accepts: the core rows below, replication's, then the
/// rest of Redis 7.0's ([`compat`]).
pub static DIRECTIVES: std::sync::LazyLock<Vec<Directive>> = std::sync::LazyLock::new(|| {
    [
        CORE,
        crate::replication::config::DIRECTIVES,
        compat::DIRECTIVES,
    ]
    .concat()
});

static CORE: &[Directive] = &[
    Directive::new(
        "bind",
        Kind::Custom(&BIND_LIST),
        "* -::*",
        "Interfaces to listen on; a leading '-' makes an address optional.",
    )
    .immutable(),
    Directive::new(
        "port",
        Kind::Int { min: 0, max: 65535 },
        "6379",
        "TCP port to listen on, on the addresses of `bind` (0: none, e.g. a TLS-only server with tls-port). CONFIG SET moves or closes the listener, as Redis 7.0; open connections stay.",
    ),
    Directive::new(
        "protected-mode",
        Kind::Bool,
        "yes",
        "Refuse clients from non-loopback addresses while the default user has no password.",
    ),
    Directive::new(
        "requirepass",
        Kind::String,
        "",
        "Password of the default user; empty means none.",
    ),
    Directive::new(
        "dir",
        Kind::String,
        ".",
        "Working directory for files the server writes.",
    )
    .protected(),
    Directive::new(
        "timeout",
        Kind::Int { min: 0, max: I32 },
        "0",
        "Close a normal client after this many idle seconds (0 = never).",
    ),
    Directive::new(
        "tcp-keepalive",
        Kind::Int { min: 0, max: I32 },
        "300",
        "TCP keepalive period in seconds (0 = off).",
    ),
    Directive::new(
        "hz",
        Kind::Int { min: 0, max: I32 },
        "10",
        "Frequency of periodic duties (expiry, timeouts, metrics), clamped to 1..500.",
    ),
    Directive::new(
        "maxclients",
        Kind::Int {
            min: 1,
            max: u32::MAX as i64,
        },
        "10000",
        "Maximum number of connected clients. At start the server raises its descriptor limit (ulimit -n) to maxclients + 32 where it can; where it cannot, maxclients is lowered to the limit - 32 (logged), so the 32 stay for its own files and links (RDB, AOF, replication, listeners).",
    ),
    Directive::new(
        "databases",
        Kind::Int { min: 1, max: I32 },
        "16",
        "Number of logical databases.",
    )
    .immutable(),
    Directive::new(
        "loglevel",
        Kind::Enum(LOGLEVELS),
        "notice",
        "Log verbosity: debug, verbose, notice, warning.",
    ),
    Directive::new(
        "logfile",
        Kind::String,
        "",
        "Log file; empty means standard output.",
    )
    .immutable(),
    Directive::new(
        "pidfile",
        Kind::String,
        "",
        "Write the process id to this file while running.",
    )
    .immutable(),
    Directive::new(
        "proto-max-bulk-len",
        Kind::Memory {
            min: 1024 * 1024,
            max: i64::MAX,
        },
        "512mb",
        "Largest bulk string a client may send.",
    ),
    Directive::new(
        "client-query-buffer-limit",
        Kind::Memory {
            min: 1024 * 1024,
            max: i64::MAX,
        },
        "1gb",
        "Largest unparsed input buffered for one client.",
    ),
    Directive::new(
        "client-output-buffer-limit",
        Kind::Custom(&CLIENT_OUTPUT_BUFFER_LIMIT),
        "normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60",
        "Per class: hard limit, soft limit and soft seconds for pending output.",
    ),
    Directive::new(
        "slowlog-log-slower-than",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        "10000",
        "Log commands slower than this many microseconds (-1 = off).",
    ),
    Directive::new(
        "slowlog-max-len",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
        "Entries kept in the slow log.",
    ),
    Directive::new(
        "enable-debug-command",
        Kind::Enum(ALLOW),
        "no",
        "Allow DEBUG: no, yes, or local (loopback clients only).",
    )
    .immutable(),
    Directive::new(
        "enable-protected-configs",
        Kind::Enum(ALLOW),
        "no",
        "Allow CONFIG SET of protected directives such as dir.",
    )
    .immutable(),
    Directive::new(
        "notify-keyspace-events",
        Kind::Custom(&NOTIFY),
        "",
        "Keyspace event classes to publish (Redis's letters, e.g. KEA).",
    ),
    Directive::new(
        "save",
        Kind::Custom(&SAVE),
        "3600 1 300 100 60 10000",
        "Save points: snapshot after <seconds> if at least <changes> writes happened; \"\" disables.",
    ),
    Directive::new(
        "dbfilename",
        Kind::String,
        "dump.rdb",
        "File name of the RDB snapshot, in `dir`.",
    )
    .protected(),
    Directive::new(
        "rdbcompression",
        Kind::Bool,
        "yes",
        "Compress strings longer than 20 bytes with LZF in RDB files.",
    ),
    Directive::new(
        "rdbchecksum",
        Kind::Bool,
        "yes",
        "End RDB files with a CRC64 checksum (and check it on load).",
    )
    .immutable(),
    Directive::new(
        "stop-writes-on-bgsave-error",
        Kind::Bool,
        "yes",
        "Refuse writes (MISCONF) after a failed background save until a save succeeds.",
    ),
    Directive::new(
        "appendonly",
        Kind::Bool,
        "no",
        "Log every write to the append-only file (and load it, not the RDB, at start).",
    ),
    Directive::new(
        "appendfilename",
        Kind::String,
        "appendonly.aof",
        "Base name of the AOF files.",
    )
    .immutable(),
    Directive::new(
        "appenddirname",
        Kind::String,
        "appendonlydir",
        "Directory, in `dir`, of the AOF files and their manifest.",
    )
    .immutable(),
    Directive::new(
        "appendfsync",
        Kind::Enum(&["always", "everysec", "no"]),
        "everysec",
        "When the AOF is fsynced: after every write batch, once a second, or when the OS decides.",
    ),
    Directive::new(
        "aof-use-rdb-preamble",
        Kind::Bool,
        "yes",
        "Write the AOF base as an RDB (else as commands).",
    ),
    Directive::new(
        "aof-load-truncated",
        Kind::Bool,
        "yes",
        "Load an AOF whose last command is cut (a crash mid-write), dropping that command.",
    ),
    Directive::new(
        "auto-aof-rewrite-percentage",
        Kind::Int { min: 0, max: I32 },
        "100",
        "Rewrite the AOF when it grew by this percentage since the last rewrite (0 = never).",
    ),
    Directive::new(
        "auto-aof-rewrite-min-size",
        Kind::Memory { min: 0, max: i64::MAX },
        "64mb",
        "Do not auto-rewrite an AOF smaller than this.",
    ),
    Directive::new(
        "maxmemory",
        Kind::Memory { min: 0, max: i64::MAX },
        "0",
        "Memory limit for the dataset (0 = none); past it, keys are evicted by the policy or writes refused.",
    ),
    Directive::new(
        "busy-reply-threshold",
        Kind::Int { min: 0, max: i64::MAX },
        "5000",
        "Milliseconds a script may run before it is reported as slow and SCRIPT KILL may stop it (0 = never).",
    )
    .alias(&["lua-time-limit"]),
    Directive::new(
        "lua-memory-limit",
        Kind::Memory { min: 0, max: i64::MAX },
        "1gb",
        "Picket's own: the most the Lua heap of scripts may hold (0 = no limit); a script that allocates past it gets an error reply.",
    ),
    Directive::new(
        "maxmemory-policy",
        Kind::Enum(crate::evict::policy::Policy::NAMES),
        "noeviction",
        "How to make room past maxmemory: volatile-/allkeys- lru, lfu, random; volatile-ttl; noeviction.",
    ),
    Directive::new(
        "maxmemory-samples",
        Kind::Int { min: 1, max: 64 },
        "5",
        "Keys sampled per database to choose each eviction victim.",
    ),
    Directive::new(
        "lfu-log-factor",
        Kind::Int { min: 0, max: I32 },
        "10",
        "How slowly the LFU counter grows with accesses.",
    ),
    Directive::new(
        "lfu-decay-time",
        Kind::Int { min: 0, max: I32 },
        "1",
        "Minutes after which an idle key's LFU counter is decremented by one (0 = never).",
    ),
    Directive::new(
        "hash-max-listpack-entries",
        Kind::Int { min: 0, max: i64::MAX },
        "512",
        "A hash with more fields than this is stored as a hash table (listpack encoding below).",
    )
    .alias(&["hash-max-ziplist-entries"]),
    Directive::new(
        "hash-max-listpack-value",
        Kind::Int { min: 0, max: i64::MAX },
        "64",
        "A hash with a field or value longer than this many bytes is stored as a hash table.",
    )
    .alias(&["hash-max-ziplist-value"]),
    Directive::new(
        "set-max-intset-entries",
        Kind::Int { min: 0, max: i64::MAX },
        "512",
        "A set of integers with more members than this is stored as a hash table (intset below).",
    ),
    Directive::new(
        "stream-node-max-bytes",
        Kind::Memory { min: 0, max: i64::MAX },
        "4096",
        "A stream node (a listpack of entries) takes no new entry past this many bytes (0: no limit).",
    ),
    Directive::new(
        "stream-node-max-entries",
        Kind::Int { min: 0, max: i64::MAX },
        "100",
        "A stream node takes no new entry past this many entries, deleted ones included (0: no limit).",
    ),
    Directive::new(
        "zset-max-listpack-entries",
        Kind::Int { min: 0, max: i64::MAX },
        "128",
        "A sorted set with more members than this is stored as a skiplist (listpack below).",
    )
    .alias(&["zset-max-ziplist-entries"]),
    Directive::new(
        "zset-max-listpack-value",
        Kind::Int { min: 0, max: i64::MAX },
        "64",
        "A sorted set with a member longer than this many bytes is stored as a skiplist.",
    )
    .alias(&["zset-max-ziplist-value"]),
    Directive::new(
        "list-max-listpack-size",
        Kind::Int { min: i32::MIN as i64, max: I32 },
        "-2",
        "Size of the nodes of lists saved in RDB files (as Redis's quicklist: -1..-5 = 4..64 KB, positive = entries).",
    )
    .alias(&["list-max-ziplist-size"]),
    Directive::new(
        "io-threads",
        Kind::Int { min: 1, max: 128 },
        "1",
        "Threads serving clients: 1 runs everything on one thread as Redis does; more spreads request parsing and socket I/O over a thread pool (commands still execute one at a time).",
    )
    .immutable(),
    Directive::new(
        "active-expire-effort",
        Kind::Int { min: 1, max: 10 },
        "1",
        "Effort of the active expiry cycle, 1..10.",
    ),
];

/// The server's configuration as typed values, rebuilt after every change.
#[derive(Debug, Clone)]
pub struct Settings {
    pub port: u16,
    /// `tls-port` (0: no TLS listener).
    pub tls_port: u16,
    /// `tls-replication`: the link to the master is TLS.
    pub tls_replication: bool,
    /// `tls-handshake-timeout`: how long a TLS client may take to finish its handshake.
    pub tls_handshake_timeout: std::time::Duration,
    pub bind: Vec<String>,
    pub dir: String,
    pub requirepass: Option<Bytes>,
    /// `aclfile` ("": none).
    pub aclfile: String,
    /// `acl-pubsub-default allchannels`.
    pub acl_pubsub_default_all: bool,
    pub acllog_max_len: usize,
    pub protected_mode: bool,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub hz: u32,
    pub maxclients: usize,
    pub databases: usize,
    pub proto_max_bulk_len: i64,
    /// `hll-sparse-max-bytes`: a sparse HyperLogLog growing past it turns dense.
    pub hll_sparse_max_bytes: usize,
    pub client_query_buffer_limit: u64,
    /// normal, replica, pubsub.
    pub obuf_limits: [BufferLimit; 3],
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    /// `latency-monitor-threshold` in ms (0: the latency monitor is off).
    pub latency_monitor_threshold: u64,
    /// `latency-tracking`: per-command latency histograms.
    pub latency_tracking: bool,
    /// `latency-tracking-info-percentiles`: each as shown (`99.9`) and its value.
    pub latency_percentiles: Vec<(String, f64)>,
    pub enable_debug_command: Allow,
    pub enable_protected_configs: Allow,
    pub notify_keyspace_events: u32,
    pub active_expire_effort: u32,
    /// Encoding thresholds of collections (Redis's `*-max-listpack-*` directives).
    pub hash_max_listpack_entries: usize,
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub list_max_listpack_size: i64,
    /// RDB save points (seconds, changes).
    pub save: Vec<SavePoint>,
    pub dbfilename: String,
    pub stop_writes_on_bgsave_error: bool,
    /// Expired and evicted keys propagate as UNLINK instead of DEL (Redis's
    /// `propagateDeletion`; picket frees values at once either way).
    pub lazyfree_lazy_expire: bool,
    pub lazyfree_lazy_eviction: bool,
    pub maxmemory: u64,
    pub busy_reply_threshold: i64,
    pub lua_memory_limit: u64,
    pub maxmemory_policy: crate::evict::policy::Policy,
    pub maxmemory_samples: usize,
    pub lfu_log_factor: i64,
    pub lfu_decay_time: i64,
    /// `tracking-table-max-keys` (0: no limit).
    pub tracking_table_max_keys: u64,
    /// The cron advances the rehashing of the keyspace's tables.
    pub activerehashing: bool,
    /// The listen backlog of the listening sockets.
    pub tcp_backlog: u32,
    pub shutdown_on_sigterm: ShutdownFlags,
    pub shutdown_on_sigint: ShutdownFlags,
    pub repl: crate::replication::config::ReplSettings,
    pub persist: crate::persist::config::PersistSettings,
    pub process: process::ProcessSettings,
}

/// One class of `client-output-buffer-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// `enable-debug-command` / `enable-protected-configs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    No,
    Yes,
    Local,
}

fn allow(s: &str) -> Allow {
    match s {
        "yes" => Allow::Yes,
        "local" => Allow::Local,
        _ => Allow::No,
    }
}

/// Applies a new `loglevel` to the logger.
pub type LogLevelHook = Box<dyn Fn(&str) + Send>;

/// Makes room for a new `maxclients` (the process's descriptor limit), or says why not.
pub type MaxclientsHook = Box<dyn Fn(u64) -> Result<(), String> + Send>;

/// Moves the listeners of `port` (or, with true, `tls-port`) to a new port (0: closes
/// them): the addresses now bound, None when nothing changed, or why not (the runtime sets
/// it).
pub type ListenHook =
    Box<dyn Fn(bool, u16) -> Result<Option<Vec<std::net::SocketAddr>>, String> + Send>;

/// The loaded configuration: the directive store and the file it came from.
pub struct ConfigState {
    pub(crate) store: ConfigStore,
    /// Called when `loglevel` changes, to reload the log filter.
    pub on_loglevel: Option<LogLevelHook>,
    /// Called when CONFIG SET raises `maxclients` (the binary sets it; the simulation and
    /// the tests have no descriptor limit to change).
    pub on_maxclients: Option<MaxclientsHook>,
    /// Called when CONFIG SET changes `port` or `tls-port` (the runtime sets it once
    /// listening).
    pub on_listen: Option<ListenHook>,
    /// The command names as the `rename-command` lines left them.
    pub renames: Renames,
    /// The supervisor the process talks to (INFO `process_supervised`): `no`, `systemd`.
    pub process_supervised: &'static str,
}

impl ConfigState {
    /// Defaults, then the config file, then `--directive value` arguments.
    pub fn load(file: Option<&Path>, args: &[String]) -> Result<Self, ConfigError> {
        let store = ConfigStore::load(&DIRECTIVES, file, args)?;
        // Each line was checked when it was read, by replaying the lines before it.
        let renames = store
            .value("rename-command")
            .map(|v| Renames::from_pairs(kinds::rename_pairs(v)))
            .transpose()
            .map_err(|e| ConfigError::Table(format!("rename-command: {e}")))?
            .unwrap_or_default();
        let mut state = ConfigState {
            store,
            on_loglevel: None,
            on_maxclients: None,
            on_listen: None,
            renames,
            process_supervised: "no",
        };
        state.clamp_hz();
        state.clamp_backlog_size();
        Ok(state)
    }

    /// `repl-backlog-size` is at least 16kb, as Redis's `resizeReplicationBacklog` makes it
    /// (CONFIG GET shows the size in use).
    pub(crate) fn clamp_backlog_size(&mut self) {
        let min = crate::replication::config::BACKLOG_MIN as i64;
        if self.store.get_int("repl-backlog-size") < min {
            self.store
                .set_internal("repl-backlog-size", picket_common::config::Value::Int(min));
        }
    }

    /// Mutable access for state that commands change (REPLICAOF sets `replicaof`).
    pub fn store_mut(&mut self) -> &mut ConfigStore {
        &mut self.store
    }

    /// `hz` accepts 0..INT_MAX but stores it capped to 1..500, as Redis's `updateHZ`, so that
    /// CONFIG GET and CONFIG REWRITE show the value in use.
    pub(crate) fn clamp_hz(&mut self) {
        let hz = self.store.get_int("hz");
        let capped = hz.clamp(1, 500);
        if capped != hz {
            let pair = [("hz".to_string(), capped.to_string())];
            let _ = self.store.set_checked(&pair, true, |_, _| Ok(()));
        }
    }

    /// Only defaults and the given arguments (tests and the simulation).
    pub fn from_args(args: &[&str]) -> Result<Self, ConfigError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Self::load(None, &args)
    }

    pub fn store(&self) -> &ConfigStore {
        &self.store
    }

    pub fn file(&self) -> Option<&Path> {
        self.store.config_file().map(|f| f.path.as_path())
    }

    pub fn get(&self, pattern: &[u8]) -> Vec<(String, String)> {
        self.store.get(pattern)
    }

    /// CONFIG REWRITE, with Redis's error replies.
    pub fn rewrite(&self) -> Result<(), String> {
        match self.store.rewrite() {
            Ok(()) => Ok(()),
            Err(ConfigError::NoConfigFile) => {
                Err("ERR The server is running without a config file".into())
            }
            Err(e) => {
                tracing::warn!("CONFIG REWRITE failed: {e}");
                Err(format!("ERR Rewriting config file: {e}"))
            }
        }
    }

    pub fn settings(&self) -> Settings {
        let s = &self.store;
        let limits = s.get_buffer_limits("client-output-buffer-limit");
        let conv = |l: picket_common::config::BufferLimit| BufferLimit {
            hard: l.hard_bytes,
            soft: l.soft_bytes,
            soft_seconds: l.soft_seconds,
        };
        let pass = s.get_str("requirepass");
        Settings {
            port: s.get_int("port") as u16,
            tls_port: s.get_int("tls-port") as u16,
            tls_replication: s.get_bool("tls-replication"),
            tls_handshake_timeout: std::time::Duration::from_millis(
                s.get_int("tls-handshake-timeout").max(1) as u64,
            ),
            bind: s.get_list("bind").to_vec(),
            dir: s.get_str("dir").to_string(),
            requirepass: if pass.is_empty() {
                None
            } else {
                Some(Bytes::copy_from_slice(pass.as_bytes()))
            },
            aclfile: s.get_str("aclfile").to_string(),
            acl_pubsub_default_all: s.get_str("acl-pubsub-default") == "allchannels",
            acllog_max_len: s.get_int("acllog-max-len").max(0) as usize,
            protected_mode: s.get_bool("protected-mode"),
            timeout: s.get_int("timeout") as u64,
            tcp_keepalive: s.get_int("tcp-keepalive") as u64,
            hz: s.get_int("hz").clamp(1, 500) as u32,
            maxclients: s.get_int("maxclients") as usize,
            databases: s.get_int("databases") as usize,
            proto_max_bulk_len: s.get_int("proto-max-bulk-len"),
            hll_sparse_max_bytes: s.get_int("hll-sparse-max-bytes").max(0) as usize,
            client_query_buffer_limit: s.get_int("client-query-buffer-limit") as u64,
            obuf_limits: [
                conv(limits.normal),
                conv(limits.replica),
                conv(limits.pubsub),
            ],
            slowlog_log_slower_than: s.get_int("slowlog-log-slower-than"),
            slowlog_max_len: s.get_int("slowlog-max-len") as usize,
            latency_monitor_threshold: s.get_int("latency-monitor-threshold").max(0) as u64,
            latency_tracking: s.get_bool("latency-tracking"),
            latency_percentiles: s
                .get_list("latency-tracking-info-percentiles")
                .iter()
                .map(|p| (p.clone(), p.parse().unwrap_or(0.0)))
                .collect(),
            enable_debug_command: allow(s.get_str("enable-debug-command")),
            enable_protected_configs: allow(s.get_str("enable-protected-configs")),
            notify_keyspace_events: notify::parse(s.get_str("notify-keyspace-events")).unwrap_or(0),
            active_expire_effort: s.get_int("active-expire-effort") as u32,
            hash_max_listpack_entries: s.get_int("hash-max-listpack-entries") as usize,
            stream_node_max_bytes: s.get_int("stream-node-max-bytes") as usize,
            stream_node_max_entries: s.get_int("stream-node-max-entries") as usize,
            hash_max_listpack_value: s.get_int("hash-max-listpack-value") as usize,
            set_max_intset_entries: s.get_int("set-max-intset-entries") as usize,
            zset_max_listpack_entries: s.get_int("zset-max-listpack-entries") as usize,
            zset_max_listpack_value: s.get_int("zset-max-listpack-value") as usize,
            list_max_listpack_size: s.get_int("list-max-listpack-size"),
            save: s.get_save_points("save").to_vec(),
            dbfilename: s.get_str("dbfilename").to_string(),
            stop_writes_on_bgsave_error: s.get_bool("stop-writes-on-bgsave-error"),
            lazyfree_lazy_expire: s.get_bool("lazyfree-lazy-expire"),
            lazyfree_lazy_eviction: s.get_bool("lazyfree-lazy-eviction"),
            maxmemory: s.get_int("maxmemory") as u64,
            busy_reply_threshold: s.get_int("busy-reply-threshold"),
            lua_memory_limit: s.get_int("lua-memory-limit") as u64,
            maxmemory_policy: crate::evict::policy::Policy::parse(s.get_str("maxmemory-policy")),
            maxmemory_samples: s.get_int("maxmemory-samples") as usize,
            lfu_log_factor: s.get_int("lfu-log-factor"),
            lfu_decay_time: s.get_int("lfu-decay-time"),
            tracking_table_max_keys: s.get_int("tracking-table-max-keys").max(0) as u64,
            activerehashing: s.get_bool("activerehashing"),
            tcp_backlog: u32::try_from(s.get_int("tcp-backlog")).unwrap_or(u32::MAX),
            shutdown_on_sigterm: ShutdownFlags::parse(s.get_str("shutdown-on-sigterm")),
            shutdown_on_sigint: ShutdownFlags::parse(s.get_str("shutdown-on-sigint")),
            repl: crate::replication::config::ReplSettings::from_store(s),
            persist: crate::persist::config::PersistSettings::from_store(s),
            process: process::ProcessSettings::from_store(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_loads_with_defaults() {
        let c = ConfigState::from_args(&[]).unwrap();
        let s = c.settings();
        assert_eq!(s.port, 6379);
        assert_eq!(s.bind, vec!["*".to_string(), "-::*".to_string()]);
        assert_eq!(s.obuf_limits[2].hard, 32 << 20);
        assert!(s.requirepass.is_none());
        assert_eq!(s.hz, 10);
    }

    /// Every name `settings()` reads (and the sub-structs it builds: replication,
    /// persistence, process) is a directive of the table with the kind read: the store's
    /// getters assert it in debug builds, so a typo fails here instead of falling back.
    #[test]
    #[cfg(debug_assertions)]
    fn settings_read_only_names_of_the_table() {
        let c = ConfigState::from_args(&[]).unwrap();
        let s = c.settings();
        assert!(s.persist.aof_use_rdb_preamble);
        assert_eq!(s.persist.appendfilename, "appendonly.aof");
        assert_eq!(s.process.io_threads, 1);
    }

    #[test]
    fn arguments_override_defaults() {
        let c =
            ConfigState::from_args(&["--port", "7777", "--notify-keyspace-events", "KEA"]).unwrap();
        let s = c.settings();
        assert_eq!(s.port, 7777);
        assert_eq!(notify::to_string(s.notify_keyspace_events), "AKE");
        assert!(ConfigState::from_args(&["--notify-keyspace-events", "Q"]).is_err());
        assert!(ConfigState::from_args(&["--nosuch", "1"]).is_err());
    }
}
