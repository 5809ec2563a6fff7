//! The rest of Redis 7.0's directives, so that an existing redis.conf (Debian's stock one
//! included) loads unchanged: process control (daemonize, supervised, signals), the listen
//! backlog, `rename-command`, and the directives of features picket does not have. Names,
//! types, defaults, ranges, aliases, mutability and error texts are Redis 7.0.15's.
//!
//! A directive that would change what the server does in a way picket cannot honour (a unix
//! socket, cluster mode, modules, ACL users other than a full-access default user) is
//! refused at start-up and by CONFIG SET. The others without an effect are accepted and
//! stored (CONFIG GET, SET and REWRITE work as in Redis); their description starts with
//! [`INERT`] and says why, and a value other than the default is logged at start-up
//! ([`inert_settings`]).

use picket_common::config::{ConfigStore, Directive, Kind};

use super::acl_user::UserKind;
use super::kinds::{
    self, MemoryOrPercent, Octal, OomScoreValues, Percentiles, Refused, RenameCommandKind,
    ShutdownFlagsKind, SynonymEnum,
};

const I32: i64 = i32::MAX as i64;
const I64: i64 = i64::MAX;
const PORT: Kind = Kind::Int { min: 0, max: 65535 };

/// How the description of a directive without effect starts.
pub const INERT: &str = "Accepted for compatibility; no effect in picket";

/// A row of a directive picket accepts and stores but does not act on.
macro_rules! inert {
    ($name:literal, $kind:expr, $default:literal, $why:literal) => {
        Directive::new(
            $name,
            $kind,
            $default,
            concat!(
                "Accepted for compatibility; no effect in picket: ",
                $why,
                "."
            ),
        )
    };
}

static OOM_SCORE_ADJ: SynonymEnum = SynonymEnum {
    names: &["no", "yes", "relative", "absolute"],
    shown_as: &[("relative", "yes")],
};
static MAXMEMORY_CLIENTS: MemoryOrPercent = MemoryOrPercent { max_percent: 100 };
static PERCENTILES: Percentiles = Percentiles;
static OOM_SCORE_VALUES: OomScoreValues = OomScoreValues;
static SHUTDOWN_FLAGS: ShutdownFlagsKind = ShutdownFlagsKind;
static SOCKET_PERM: Octal = Octal { max: 0o777 };
static RENAME_COMMAND: RenameCommandKind = RenameCommandKind;
static LOADMODULE: Refused = Refused {
    reason: "not supported by picket: modules cannot be loaded",
};
static USER: UserKind = UserKind::SERVER;

const ALLOW: &[&str] = &["no", "yes", "local"];
const SUPERVISED: &[&str] = &["upstart", "systemd", "auto", "no"];
const SYSLOG_FACILITY: &[&str] = &[
    "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// The compatibility rows of the directive table.
pub static DIRECTIVES: &[Directive] = &[
    // ------------------------------------------------------------------ process and network
    Directive::new(
        "daemonize",
        Kind::Bool,
        "no",
        "Run in the background: picket starts itself again with the same arguments in a new process group, standard input and output on /dev/null, and exits 0. Not when supervised by systemd. A daemon without a pidfile writes /var/run/picket.pid (Redis writes /var/run/redis.pid).",
    )
    .immutable(),
    Directive::new(
        "supervised",
        Kind::Enum(SUPERVISED),
        "no",
        "systemd: once listening, send READY=1 and a STATUS line to $NOTIFY_SOCKET (and STOPPING=1 at shutdown); auto: the same when NOTIFY_SOCKET is set; upstart is not supported (logged, then run unsupervised); no: nothing.",
    )
    .immutable(),
    Directive::new(
        "tcp-backlog",
        Kind::Int { min: 0, max: I32 },
        "511",
        "Length of the queue of connections not yet accepted on each listening socket (the kernel caps it at net.core.somaxconn).",
    )
    .immutable(),
    Directive::new(
        "shutdown-on-sigterm",
        Kind::Custom(&SHUTDOWN_FLAGS),
        "default",
        "What SIGTERM does: default (save if save points are set), or any of save, nosave, now, force as SHUTDOWN takes them (now changes nothing: picket never waits for replicas).",
    ),
    Directive::new(
        "shutdown-on-sigint",
        Kind::Custom(&SHUTDOWN_FLAGS),
        "default",
        "What SIGINT does, as shutdown-on-sigterm; a second SIGINT during the shutdown exits at once.",
    ),
    inert!(
        "shutdown-timeout",
        Kind::Int { min: 0, max: I32 },
        "10",
        "picket does not wait for replicas to catch up before shutting down"
    ),
    Directive::new(
        "unixsocket",
        Kind::String,
        "",
        "Unix socket to listen on: picket listens on TCP only and refuses any value but \"\".",
    )
    .immutable()
    .check(kinds::no_unixsocket),
    inert!(
        "unixsocketperm",
        Kind::Custom(&SOCKET_PERM),
        "0",
        "there is no unix socket"
    )
    .immutable(),
    inert!(
        "bind-source-addr",
        Kind::String,
        "",
        "connections to a master use the source address the OS picks"
    ),
    inert!(
        "socket-mark-id",
        Kind::Int {
            min: 0,
            max: u32::MAX as i64
        },
        "0",
        "picket sets no socket mark"
    )
    .immutable(),
    inert!(
        "io-threads-do-reads",
        Kind::Bool,
        "no",
        "with io-threads above 1 the threads always read and parse requests too"
    )
    .immutable(),
    // ------------------------------------------------------------------ commands
    Directive::new(
        "rename-command",
        Kind::Custom(&RENAME_COMMAND),
        "",
        "Config file and command line only: rename-command <name> <new-name> makes a command known under another name only, or under none with \"\"; lines apply in order. The master's stream and the AOF may still use the original names.",
    )
    .file_only(),
    Directive::new(
        "loadmodule",
        Kind::Custom(&LOADMODULE),
        "",
        "Refused: picket cannot load Redis modules.",
    )
    .file_only(),
    Directive::new(
        "user",
        Kind::Custom(&USER),
        "",
        "Config file and command line only: `user <name> <rules...>` declares an ACL user as ACL SETUSER would (each user once; not together with aclfile). CONFIG REWRITE writes the current users back.",
    )
    .file_only(),
    inert!(
        "lua-replicate-commands",
        Kind::String,
        "",
        "deprecated in Redis, which ignores it too; config file and command line only"
    )
    .file_only(),
    inert!(
        "list-max-ziplist-entries",
        Kind::String,
        "",
        "deprecated in Redis, which ignores it too; config file and command line only"
    )
    .file_only(),
    inert!(
        "list-max-ziplist-value",
        Kind::String,
        "",
        "deprecated in Redis, which ignores it too; config file and command line only"
    )
    .file_only(),
    inert!(
        "enable-module-command",
        Kind::Enum(ALLOW),
        "no",
        "there is no MODULE command"
    )
    .immutable(),
    // ------------------------------------------------------------------ ACL
    Directive::new(
        "aclfile",
        Kind::String,
        "",
        "ACL file to load users from at start-up and with ACL LOAD, written by ACL SAVE; not together with `user` lines.",
    )
    .immutable(),
    Directive::new(
        "acl-pubsub-default",
        Kind::Enum(&["allchannels", "resetchannels"]),
        "resetchannels",
        "Channel permissions of new users and selectors: allchannels or resetchannels.",
    ),
    Directive::new(
        "acllog-max-len",
        Kind::Int { min: 0, max: I64 },
        "128",
        "Most entries kept by the ACL log (ACL LOG).",
    ),
    // ------------------------------------------------------------------ TLS
    Directive::new(
        "tls-port",
        PORT,
        "0",
        "Port for TLS connections, on the addresses of `bind` (0: none). `port 0` with a tls-port makes a TLS-only server. CONFIG SET opens, moves or closes the TLS listener, as Redis 7.0.",
    ),
    Directive::new(
        "tls-replication",
        Kind::Bool,
        "no",
        "A replica connects to its master over TLS (presenting tls-client-cert-file, else tls-cert-file, and verifying the master's chain against the CA, not its name) and announces its tls-port as its listening port.",
    ),
    inert!("tls-cluster", Kind::Bool, "no", "there is no cluster mode (a yes still requires a valid TLS configuration, as in Redis)"),
    Directive::new(
        "tls-auth-clients",
        Kind::Enum(&["no", "yes", "optional"]),
        "yes",
        "Client certificates on the TLS port: yes (required, signed by the CA), optional (verified when given), no (not asked for). Applies to new connections.",
    ),
    Directive::new(
        "tls-cert-file",
        Kind::String,
        "",
        "Server certificate (PEM, the chain may follow), also the client certificate of outgoing TLS links when tls-client-cert-file is not set. CONFIG SET reloads the TLS configuration: connections already open keep theirs.",
    ),
    Directive::new("tls-key-file", Kind::String, "", "Private key of tls-cert-file (PEM, unencrypted: PKCS#8, PKCS#1 or SEC1)."),
    Directive::new(
        "tls-key-file-pass",
        Kind::String,
        "",
        "Passphrase of an encrypted tls-key-file: picket (rustls) cannot read encrypted keys and refuses them with a message; store the key decrypted.",
    ),
    Directive::new(
        "tls-client-cert-file",
        Kind::String,
        "",
        "Client certificate of outgoing TLS links (replication); with tls-client-key-file, else tls-cert-file is used.",
    ),
    Directive::new("tls-client-key-file", Kind::String, "", "Private key of tls-client-cert-file (PEM, unencrypted)."),
    Directive::new(
        "tls-client-key-file-pass",
        Kind::String,
        "",
        "Passphrase of an encrypted tls-client-key-file: refused as tls-key-file-pass.",
    ),
    Directive::new(
        "tls-dh-params-file",
        Kind::String,
        "",
        "DH parameters file: checked as Redis reads it (it must exist and hold DH PARAMETERS), but rustls has no finite-field Diffie-Hellman (ECDHE only), so it configures nothing (logged once).",
    ),
    Directive::new(
        "tls-ca-cert-file",
        Kind::String,
        "",
        "CA certificate(s) that client certificates (tls-auth-clients) and masters' certificates (tls-replication) are verified against.",
    ),
    Directive::new(
        "tls-ca-cert-dir",
        Kind::String,
        "",
        "Directory of CA certificates (every file in it that holds a PEM certificate), as tls-ca-cert-file.",
    ),
    Directive::new(
        "tls-protocols",
        Kind::String,
        "",
        "Protocols, space separated: TLSv1.2 and TLSv1.3 (empty: both). TLSv1 and TLSv1.1 are accepted but not offered (rustls has neither).",
    ),
    Directive::new(
        "tls-ciphers",
        Kind::String,
        "",
        "TLSv1.2 cipher suites, an OpenSSL list of ECDHE AES-GCM and CHACHA20 suite names (DEFAULT, ALL, HIGH: all of them; names rustls lacks are skipped).",
    ),
    Directive::new(
        "tls-ciphersuites",
        Kind::String,
        "",
        "TLSv1.3 cipher suites, `:` separated (TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256).",
    ),
    Directive::new(
        "tls-prefer-server-ciphers",
        Kind::Bool,
        "no",
        "Choose the cipher suite in the server's order rather than the client's.",
    ),
    Directive::new(
        "tls-session-caching",
        Kind::Bool,
        "yes",
        "Resume TLS sessions (session cache and TLSv1.3 tickets).",
    ),
    Directive::new(
        "tls-session-cache-size",
        Kind::Int { min: 0, max: I32 },
        "20480",
        "Sessions the cache holds.",
    ),
    inert!(
        "tls-session-cache-timeout",
        Kind::Int { min: 0, max: I32 },
        "300",
        "rustls's session cache has no timeout of its own (entries leave by size)"
    ),
    Directive::new(
        "tls-handshake-timeout",
        Kind::Int { min: 1, max: I32 },
        "10000",
        "picket's own: milliseconds a client of the TLS port has to complete its handshake before it is dropped (Redis waits for ever, or `timeout`).",
    ),
    // ------------------------------------------------------------------ cluster
    Directive::new(
        "cluster-enabled",
        Kind::Bool,
        "no",
        "Redis Cluster mode: picket has none (use replication with Sentinel) and refuses yes.",
    )
    .immutable()
    .check(kinds::no_cluster),
    inert!(
        "cluster-config-file",
        Kind::String,
        "nodes.conf",
        "there is no cluster mode"
    )
    .immutable(),
    inert!("cluster-port", PORT, "0", "there is no cluster mode").immutable(),
    inert!(
        "cluster-node-timeout",
        Kind::Int { min: 0, max: I64 },
        "15000",
        "there is no cluster mode"
    ),
    inert!("cluster-announce-ip", Kind::String, "", "there is no cluster mode"),
    inert!(
        "cluster-announce-hostname",
        Kind::String,
        "",
        "there is no cluster mode"
    )
    .check(kinds::valid_hostname),
    inert!("cluster-announce-port", PORT, "0", "there is no cluster mode"),
    inert!("cluster-announce-bus-port", PORT, "0", "there is no cluster mode"),
    inert!("cluster-announce-tls-port", PORT, "0", "there is no cluster mode"),
    inert!(
        "cluster-preferred-endpoint-type",
        Kind::Enum(&["ip", "hostname", "unknown-endpoint"]),
        "ip",
        "there is no cluster mode"
    ),
    inert!(
        "cluster-require-full-coverage",
        Kind::Bool,
        "yes",
        "there is no cluster mode"
    ),
    inert!(
        "cluster-allow-reads-when-down",
        Kind::Bool,
        "no",
        "there is no cluster mode"
    ),
    inert!(
        "cluster-allow-pubsubshard-when-down",
        Kind::Bool,
        "yes",
        "there is no cluster mode"
    ),
    inert!(
        "cluster-allow-replica-migration",
        Kind::Bool,
        "yes",
        "there is no cluster mode"
    ),
    inert!(
        "cluster-migration-barrier",
        Kind::Int { min: 0, max: I32 },
        "1",
        "there is no cluster mode"
    ),
    inert!(
        "cluster-replica-no-failover",
        Kind::Bool,
        "no",
        "there is no cluster mode"
    )
    .alias(&["cluster-slave-no-failover"]),
    inert!(
        "cluster-replica-validity-factor",
        Kind::Int { min: 0, max: I32 },
        "10",
        "there is no cluster mode"
    )
    .alias(&["cluster-slave-validity-factor"]),
    inert!(
        "cluster-link-sendbuf-limit",
        Kind::Memory { min: 0, max: I64 },
        "0",
        "there is no cluster mode"
    ),
    // ------------------------------------------------------------------ memory
    Directive::new(
        "activerehashing",
        Kind::Bool,
        "yes",
        "Let the cron rehash the keyspace's hash tables a little each tick (rehashing also advances on every access).",
    ),
    Directive::new(
        "activedefrag",
        Kind::Bool,
        "no",
        "Active defragmentation: picket has none and refuses yes, as Debian's Redis does (no defragmenting allocator).",
    )
    .check(kinds::no_active_defrag),
    inert!(
        "active-defrag-ignore-bytes",
        Kind::Memory { min: 1, max: I64 },
        "100mb",
        "there is no active defragmentation"
    ),
    inert!(
        "active-defrag-threshold-lower",
        Kind::Int { min: 0, max: 1000 },
        "10",
        "there is no active defragmentation"
    ),
    inert!(
        "active-defrag-threshold-upper",
        Kind::Int { min: 0, max: 1000 },
        "100",
        "there is no active defragmentation"
    ),
    inert!(
        "active-defrag-cycle-min",
        Kind::Int { min: 1, max: 99 },
        "1",
        "there is no active defragmentation"
    ),
    inert!(
        "active-defrag-cycle-max",
        Kind::Int { min: 1, max: 99 },
        "25",
        "there is no active defragmentation"
    ),
    inert!(
        "active-defrag-max-scan-fields",
        Kind::Int { min: 1, max: I64 },
        "1000",
        "there is no active defragmentation"
    ),
    inert!(
        "jemalloc-bg-thread",
        Kind::Bool,
        "yes",
        "picket's jemalloc purges freed pages on the allocating threads, without a background thread"
    ),
    inert!(
        "disable-thp",
        Kind::Bool,
        "yes",
        "picket leaves transparent huge pages as the system sets them"
    )
    .immutable(),
    inert!(
        "maxmemory-clients",
        Kind::Custom(&MAXMEMORY_CLIENTS),
        "0",
        "picket does not evict clients for their memory (output buffer limits still apply)"
    ),
    inert!(
        "maxmemory-eviction-tenacity",
        Kind::Int { min: 0, max: 100 },
        "10",
        "eviction works on at most 10000 keys per command, without a time budget"
    ),
    inert!("lazyfree-lazy-eviction", Kind::Bool, "no", "picket frees values at once (only latency differs); the setting still makes evicted keys propagate as UNLINK rather than DEL, as Redis"),
    inert!("lazyfree-lazy-expire", Kind::Bool, "no", "picket frees values at once (only latency differs); the setting still makes expired keys propagate as UNLINK rather than DEL, as Redis"),
    inert!("lazyfree-lazy-server-del", Kind::Bool, "no", "picket frees deleted, expired, evicted and flushed values at once (only latency differs)"),
    inert!("lazyfree-lazy-user-del", Kind::Bool, "no", "picket frees deleted, expired, evicted and flushed values at once (only latency differs)"),
    inert!("lazyfree-lazy-user-flush", Kind::Bool, "no", "picket frees deleted, expired, evicted and flushed values at once (only latency differs)"),
    inert!(
        "oom-score-adj",
        Kind::Custom(&OOM_SCORE_ADJ),
        "no",
        "picket does not change its OOM score"
    ),
    inert!(
        "oom-score-adj-values",
        Kind::Custom(&OOM_SCORE_VALUES),
        "0 200 800",
        "picket does not change its OOM score"
    ),
    // ------------------------------------------------------------------ data types
    inert!(
        "list-compress-depth",
        Kind::Int { min: 0, max: I32 },
        "0",
        "lists are not compressed, in memory or in RDB files"
    ),
    Directive::new(
        "hll-sparse-max-bytes",
        Kind::Memory { min: 0, max: I64 },
        "3000",
        "Largest sparse HyperLogLog (bytes, header included) before it turns dense.",
    ),
    Directive::new(
        "tracking-table-max-keys",
        Kind::Int { min: 0, max: I64 },
        "1000000",
        "Most keys the client-side caching table remembers (CLIENT TRACKING); past it, random keys are dropped and their clients told to invalidate them (0 = no limit).",
    ),
    inert!(
        "sanitize-dump-payload",
        Kind::Enum(&["no", "yes", "clients"]),
        "no",
        "picket has no RESTORE command"
    ),
    // ------------------------------------------------------------------ persistence
    inert!(
        "no-appendfsync-on-rewrite",
        Kind::Bool,
        "no",
        "the AOF is fsynced per appendfsync during background saves and rewrites too"
    ),
    inert!(
        "aof-rewrite-incremental-fsync",
        Kind::Bool,
        "yes",
        "a rewritten AOF is fsynced once, when complete"
    ),
    inert!(
        "rdb-save-incremental-fsync",
        Kind::Bool,
        "yes",
        "an RDB file is fsynced once, when complete"
    ),
    inert!(
        "aof-timestamp-enabled",
        Kind::Bool,
        "no",
        "picket writes no timestamp annotations in the AOF"
    ),
    inert!(
        "aof-disable-auto-gc",
        Kind::Bool,
        "no",
        "AOF files a rewrite made obsolete are always deleted"
    ),
    inert!(
        "rdb-del-sync-files",
        Kind::Bool,
        "no",
        "RDB files written for replication are kept, as with no"
    ),
    inert!(
        "propagation-error-behavior",
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
        "ignore",
        "errors of commands from the master or the AOF are ignored, as with ignore"
    ),
    // ------------------------------------------------------------------ logging and monitoring
    inert!("syslog-enabled", Kind::Bool, "no", "picket logs to logfile or standard output only").immutable(),
    inert!("syslog-ident", Kind::String, "redis", "picket logs to logfile or standard output only").immutable(),
    inert!(
        "syslog-facility",
        Kind::Enum(SYSLOG_FACILITY),
        "local0",
        "picket logs to logfile or standard output only"
    )
    .immutable(),
    inert!(
        "always-show-logo",
        Kind::Bool,
        "no",
        "picket logs no ASCII-art logo"
    )
    .immutable(),
    inert!(
        "set-proc-title",
        Kind::Bool,
        "yes",
        "picket does not change its process title"
    )
    .immutable(),
    inert!(
        "proc-title-template",
        Kind::String,
        "\"{title} {listen-addr} {server-mode}\"",
        "picket does not change its process title"
    )
    .check(kinds::valid_proc_title),
    inert!(
        "crash-log-enabled",
        Kind::Bool,
        "yes",
        "picket writes no crash report"
    ),
    inert!(
        "crash-memcheck-enabled",
        Kind::Bool,
        "yes",
        "picket runs no memory test after a crash"
    ),
    Directive::new(
        "latency-monitor-threshold",
        Kind::Int { min: 0, max: I64 },
        "0",
        "Record latency events (LATENCY) that take at least this many milliseconds (0 = off).",
    ),
    Directive::new(
        "latency-tracking",
        Kind::Bool,
        "yes",
        "Keep a histogram of each command's latency (LATENCY HISTOGRAM, INFO latencystats).",
    ),
    Directive::new(
        "latency-tracking-info-percentiles",
        Kind::Custom(&PERCENTILES),
        "50 99 99.9",
        "The percentiles INFO latencystats shows per command.",
    ),
    inert!(
        "dynamic-hz",
        Kind::Bool,
        "yes",
        "the cron runs at exactly hz, whatever the number of clients"
    ),
    inert!(
        "ignore-warnings",
        Kind::String,
        "",
        "picket checks for no kernel bugs (Redis's ARM64-COW-BUG warning)"
    ),
    inert!("server_cpulist", Kind::String, "", "picket sets no CPU affinity").immutable(),
    inert!("bio_cpulist", Kind::String, "", "picket sets no CPU affinity").immutable(),
    inert!("aof_rewrite_cpulist", Kind::String, "", "picket sets no CPU affinity").immutable(),
    inert!("bgsave_cpulist", Kind::String, "", "picket sets no CPU affinity").immutable(),
];

/// The settings of directives without effect whose value is not the default, as
/// `name value` lines for a start-up warning (file-only ones too: they are not listed by
/// CONFIG GET, so the log is where an operator learns they do nothing).
pub fn inert_settings(store: &ConfigStore) -> Vec<String> {
    store
        .changed()
        .into_iter()
        .filter(|(d, _)| d.doc.starts_with(INERT))
        .map(|(d, v)| format!("{} {v}", d.name))
        .collect()
}
