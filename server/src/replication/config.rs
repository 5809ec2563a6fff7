//! The replication directives (Redis 7.0's names, defaults, ranges and aliases) and their
//! typed form.

use picket_common::config::{ConfigStore, CustomKind, Directive, Kind, RewriteLine, Value};

const I32: i64 = i32::MAX as i64;

/// `replicaof <host> <port>` (alias `slaveof`): the master to follow, or none. CONFIG SET
/// refuses it (REPLICAOF is the command); REPLICAOF keeps it current so CONFIG GET and
/// CONFIG REWRITE show the master in use, as Redis's special config does.
#[derive(Debug)]
pub struct ReplicaOfKind;

impl CustomKind for ReplicaOfKind {
    fn empty(&self) -> Value {
        Value::List(Vec::new())
    }

    fn set(&self, _current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        // `--replicaof "host port"` on the command line is one argument.
        let split: Vec<String>;
        let args = match args {
            [one] if one.contains(' ') => {
                split = one.split_whitespace().map(str::to_string).collect();
                &split[..]
            }
            _ => args,
        };
        match args {
            [] => Ok(Value::List(Vec::new())),
            [one] if one.is_empty() => Ok(Value::List(Vec::new())),
            [no, one] if no.eq_ignore_ascii_case("no") && one.eq_ignore_ascii_case("one") => {
                Ok(Value::List(Vec::new()))
            }
            [host, port] => {
                let p: i64 = port
                    .parse()
                    .map_err(|_| "Invalid master port".to_string())?;
                if !(0..=65535).contains(&p) {
                    return Err("Invalid master port".into());
                }
                Ok(Value::List(vec![host.clone(), p.to_string()]))
            }
            _ => Err("wrong number of arguments".into()),
        }
    }

    fn display(&self, v: &Value) -> String {
        match v {
            Value::List(items) => items.join(" "),
            _ => String::new(),
        }
    }

    fn rewrite_lines(&self, v: &Value, _default: &Value) -> Vec<RewriteLine> {
        match v {
            Value::List(items) if items.len() == 2 => vec![RewriteLine {
                args: items.clone(),
                force: true,
            }],
            // No master: the line goes away.
            _ => Vec::new(),
        }
    }
}

pub static REPLICA_OF: ReplicaOfKind = ReplicaOfKind;

/// `repl-diskless-load` values.
pub const DISKLESS_LOAD: &[&str] = &["disabled", "on-empty-db", "swapdb"];

/// How a replica loads the RDB of a full synchronization (`repl-diskless-load`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DisklessLoad {
    /// Through a temporary file in `dir`, renamed to `dbfilename`, then loaded.
    #[default]
    Disabled,
    /// From the socket as it arrives when the dataset is empty, else as `Disabled`.
    OnEmptyDb,
    /// Redis keeps the old dataset while it parses the new one from the socket; picket
    /// loads through disk instead, which also keeps the old data until the transfer is
    /// complete.
    SwapDb,
}

impl DisklessLoad {
    pub fn from_name(name: &str) -> DisklessLoad {
        match name {
            "on-empty-db" => DisklessLoad::OnEmptyDb,
            "swapdb" => DisklessLoad::SwapDb,
            _ => DisklessLoad::Disabled,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DisklessLoad::Disabled => "disabled",
            DisklessLoad::OnEmptyDb => "on-empty-db",
            DisklessLoad::SwapDb => "swapdb",
        }
    }
}

/// The replication rows of the directive table.
pub static DIRECTIVES: &[Directive] = &[
    Directive::new(
        "replicaof",
        Kind::Custom(&REPLICA_OF),
        "",
        "The master to replicate from: host port (REPLICAOF changes it at run time).",
    )
    .alias(&["slaveof"])
    .immutable(),
    Directive::new(
        "masterauth",
        Kind::String,
        "",
        "Password to authenticate with the master.",
    ),
    Directive::new(
        "masteruser",
        Kind::String,
        "",
        "ACL user to authenticate with the master (with masterauth).",
    ),
    Directive::new(
        "replica-announce-ip",
        Kind::String,
        "",
        "Address (IP or host name) this replica reports to its master (REPLCONF ip-address).",
    )
    .alias(&["slave-announce-ip"]),
    Directive::new(
        "replica-announce-port",
        Kind::Int { min: 0, max: 65535 },
        "0",
        "Port this replica reports to its master (0 = the listening port).",
    )
    .alias(&["slave-announce-port"]),
    Directive::new(
        "repl-timeout",
        Kind::Int { min: 1, max: I32 },
        "60",
        "Seconds without data or ACK after which a replication link is considered dead.",
    ),
    Directive::new(
        "repl-backlog-size",
        Kind::Memory {
            min: 1,
            max: i64::MAX,
        },
        "1mb",
        "Bytes of replication history kept for partial resynchronization (at least 16kb).",
    ),
    Directive::new(
        "repl-backlog-ttl",
        Kind::Int { min: 0, max: I32 },
        "3600",
        "Seconds without replicas after which a master frees its backlog (0 = never).",
    ),
    Directive::new(
        "repl-diskless-sync",
        Kind::Bool,
        "yes",
        "Stream the full-sync RDB to replicas' sockets instead of writing it to disk first.",
    ),
    Directive::new(
        "repl-diskless-sync-delay",
        Kind::Int { min: 0, max: I32 },
        "5",
        "Seconds to wait for more replicas before a diskless full sync starts.",
    ),
    Directive::new(
        "repl-diskless-sync-max-replicas",
        Kind::Int { min: 0, max: I32 },
        "0",
        "Start the diskless sync before the delay once this many replicas wait (0 = off).",
    ),
    Directive::new(
        "repl-diskless-load",
        Kind::Enum(DISKLESS_LOAD),
        "disabled",
        "How a replica loads the RDB of a full sync: through a temp file in dir (disabled), parsed from the socket when the dataset is empty (on-empty-db); swapdb goes through disk.",
    ),
    Directive::new(
        "repl-ping-replica-period",
        Kind::Int { min: 1, max: I32 },
        "10",
        "Seconds between the master's in-band PINGs to its replicas.",
    )
    .alias(&["repl-ping-slave-period"]),
    Directive::new(
        "repl-disable-tcp-nodelay",
        Kind::Bool,
        "no",
        "Accepted for compatibility; picket always sends replication data at once.",
    ),
    Directive::new(
        "replica-read-only",
        Kind::Bool,
        "yes",
        "Refuse writes from normal clients on a replica.",
    )
    .alias(&["slave-read-only"]),
    Directive::new(
        "replica-serve-stale-data",
        Kind::Bool,
        "yes",
        "Serve possibly stale data while the link with the master is down.",
    )
    .alias(&["slave-serve-stale-data"]),
    Directive::new(
        "replica-priority",
        Kind::Int { min: 0, max: I32 },
        "100",
        "Sentinel promotes the replica with the lowest priority first; 0 = never.",
    )
    .alias(&["slave-priority"]),
    Directive::new(
        "replica-announced",
        Kind::Bool,
        "yes",
        "Whether Sentinel lists this replica.",
    ),
    Directive::new(
        "replica-lazy-flush",
        Kind::Bool,
        "no",
        "Accepted for compatibility (the flush before loading a full sync is synchronous).",
    )
    .alias(&["slave-lazy-flush"]),
    Directive::new(
        "replica-ignore-disk-write-errors",
        Kind::Bool,
        "no",
        "A replica whose AOF cannot be written applies its master's writes anyway (yes), or closes the link with its master until the AOF can be written again (no; Redis exits instead).",
    ),
    Directive::new(
        "replica-ignore-maxmemory",
        Kind::Bool,
        "yes",
        "A replica does not evict on its own (the master's DELs do).",
    )
    .alias(&["slave-ignore-maxmemory"]),
    Directive::new(
        "min-replicas-to-write",
        Kind::Int { min: 0, max: I32 },
        "0",
        "Refuse writes unless this many replicas acknowledged within min-replicas-max-lag.",
    )
    .alias(&["min-slaves-to-write"]),
    Directive::new(
        "min-replicas-max-lag",
        Kind::Int { min: 0, max: I32 },
        "10",
        "Seconds since its last ACK within which a replica counts as good.",
    )
    .alias(&["min-slaves-max-lag"]),
    // Picket's own (issue #16, docs/failover-safety.md).
    Directive::new(
        "failover-safety",
        Kind::Enum(SAFETY),
        "classic",
        "classic: Redis's replication, a write is acknowledged once applied on the master; strict: a write is acknowledged only once max(1, min-replicas-to-write) replicas hold it (docs/failover-safety.md).",
    ),
    Directive::new(
        "failover-lease-ms",
        Kind::Int { min: 1, max: I32 },
        "500",
        "Strict mode: how long a write waits for its replicas' acknowledgement before it gets a NOREPLICAS error instead (keep it well under the sentinels' down-after-milliseconds).",
    ),
    Directive::new(
        "failover-epoch",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "0",
        "The newest failover epoch this server has seen: a replica refuses the stream of a master whose epoch is older. REPLFENCE and the replication handshake raise it, and the server rewrites its config file (when it has one) so that it survives a restart (docs/failover-safety.md, rule 2).",
    ),
];

/// `failover-safety` values.
pub const SAFETY: &[&str] = &["classic", "strict"];

/// `failover-safety`: what an acknowledged write promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Safety {
    /// Redis's: the reply leaves once the master applied the write.
    #[default]
    Classic,
    /// The reply leaves once `max(1, min-replicas-to-write)` replicas acknowledged it.
    Strict,
}

/// The smallest backlog Redis keeps (`CONFIG_REPL_BACKLOG_MIN_SIZE`).
pub const BACKLOG_MIN: u64 = 16 * 1024;

/// The typed replication settings.
#[derive(Debug, Clone, Default)]
pub struct ReplSettings {
    pub masterauth: String,
    pub masteruser: String,
    pub announce_ip: String,
    pub announce_port: u16,
    pub timeout_s: u64,
    pub backlog_size: u64,
    pub backlog_ttl_s: u64,
    pub diskless_sync: bool,
    pub diskless_sync_delay_s: u64,
    pub diskless_sync_max_replicas: usize,
    pub diskless_load: DisklessLoad,
    pub ping_period_s: u64,
    pub read_only: bool,
    pub serve_stale_data: bool,
    pub priority: i64,
    pub announced: bool,
    pub ignore_maxmemory: bool,
    /// `replica-ignore-disk-write-errors`.
    pub ignore_disk_write_errors: bool,
    pub min_replicas_to_write: usize,
    pub min_replicas_max_lag_s: u64,
    pub safety: Safety,
    pub lease_ms: u64,
    /// `failover-epoch` (`fence.rs` raises it).
    pub failover_epoch: u64,
}

impl ReplSettings {
    /// How many replicas must hold a write before it is acknowledged (strict mode), or
    /// None (classic).
    pub fn strict_acks(&self) -> Option<usize> {
        (self.safety == Safety::Strict).then_some(self.min_replicas_to_write.max(1))
    }
}

impl ReplSettings {
    pub fn from_store(s: &ConfigStore) -> Self {
        ReplSettings {
            masterauth: s.get_str("masterauth").to_string(),
            masteruser: s.get_str("masteruser").to_string(),
            announce_ip: s.get_str("replica-announce-ip").to_string(),
            announce_port: s.get_int("replica-announce-port") as u16,
            timeout_s: s.get_int("repl-timeout") as u64,
            backlog_size: (s.get_int("repl-backlog-size") as u64).max(BACKLOG_MIN),
            backlog_ttl_s: s.get_int("repl-backlog-ttl") as u64,
            diskless_sync: s.get_bool("repl-diskless-sync"),
            diskless_sync_delay_s: s.get_int("repl-diskless-sync-delay") as u64,
            diskless_sync_max_replicas: s.get_int("repl-diskless-sync-max-replicas") as usize,
            diskless_load: DisklessLoad::from_name(s.get_str("repl-diskless-load")),
            ping_period_s: s.get_int("repl-ping-replica-period") as u64,
            read_only: s.get_bool("replica-read-only"),
            serve_stale_data: s.get_bool("replica-serve-stale-data"),
            priority: s.get_int("replica-priority"),
            announced: s.get_bool("replica-announced"),
            ignore_maxmemory: s.get_bool("replica-ignore-maxmemory"),
            ignore_disk_write_errors: s.get_bool("replica-ignore-disk-write-errors"),
            min_replicas_to_write: s.get_int("min-replicas-to-write") as usize,
            min_replicas_max_lag_s: s.get_int("min-replicas-max-lag") as u64,
            safety: if s.get_str("failover-safety") == "strict" {
                Safety::Strict
            } else {
                Safety::Classic
            },
            lease_ms: s.get_int("failover-lease-ms") as u64,
            failover_epoch: s.get_int("failover-epoch").max(0) as u64,
        }
    }
}

/// The master named by the `replicaof` directive, if any.
pub fn replicaof(s: &ConfigStore) -> Option<(String, u16)> {
    match s.value("replicaof") {
        Some(Value::List(items)) if items.len() == 2 => {
            Some((items[0].clone(), items[1].parse().ok()?))
        }
        _ => None,
    }
}
