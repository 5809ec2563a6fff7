//! The server directives of a sentinel config file. Redis's Sentinel is a mode of
//! redis-server: its sentinel.conf takes every directive of redis.conf (`port`, `dir`,
//! `protected-mode`, `repl-diskless-sync-delay`, `enable-debug-command` ...), checked by the
//! same table with the same errors. picket-sentinel shares picket-server's table (names,
//! aliases, kinds, ranges, defaults, Redis's error texts) with two rows of its own: a
//! sentinel's `rename-command` renames the sentinel's commands, and `loadmodule` is
//! accepted and ignored, as Redis's sentinel loads no modules. Every value is stored (the
//! config rewrite writes them back); [`ServerSettings`](super::ServerSettings) holds the
//! ones a sentinel acts on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use picket_common::config::{
    ConfigStore, CustomKind, Directive, Kind, LineError, RewriteLine, Value,
};

/// Redis's reason for a line it has no directive for (or the wrong number of arguments of
/// a directive outside its table).
pub const BAD_DIRECTIVE: &str = "Bad directive or wrong number of arguments";

/// Directives Redis 7.0 still reads and ignores (with exactly one argument); its config
/// rewrite turns their lines into `# ??? ` comments.
pub const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// The commands of a Redis 7.0 sentinel (its table's `CMD_SENTINEL` commands), the names
/// `rename-command` may rename. QUIT is not in the table (it cannot be renamed).
pub const SENTINEL_COMMANDS: &[&str] = &[
    "auth",
    "client",
    "hello",
    "ping",
    "psubscribe",
    "publish",
    "punsubscribe",
    "subscribe",
    "unsubscribe",
    "sentinel",
    "acl",
    "command",
    "info",
    "role",
    "shutdown",
];

/// The sentinel's command names as the `rename-command` lines left them: a name (lower
/// case) and the command it calls now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandNames {
    names: BTreeMap<String, &'static str>,
    renamed: bool,
}

impl Default for CommandNames {
    fn default() -> Self {
        CommandNames {
            names: SENTINEL_COMMANDS
                .iter()
                .map(|c| (c.to_string(), *c))
                .collect(),
            renamed: false,
        }
    }
}

impl CommandNames {
    /// Replays `rename-command` pairs in order, as Redis does on its command dictionary.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let mut names = CommandNames::default();
        if let Value::List(items) = v {
            for pair in items.chunks_exact(2) {
                names.rename(&pair[0], &pair[1])?;
            }
        }
        Ok(names)
    }

    /// One `rename-command <name> <new-name>`: the command leaves `name` for `new-name`, or
    /// is gone when `new-name` is empty.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), String> {
        let cmd = self
            .names
            .remove(&old.to_ascii_lowercase())
            .ok_or("No such command in rename-command")?;
        self.renamed = true;
        if !new.is_empty() {
            let new = new.to_ascii_lowercase();
            if self.names.contains_key(&new) {
                return Err("Target command name already exists".into());
            }
            self.names.insert(new, cmd);
        }
        Ok(())
    }

    /// The command a client's name (any case) calls now; `None` for an unknown name.
    /// Names that are not sentinel commands at all are returned as they are, so the caller
    /// answers them as unknown the same way.
    pub fn lookup<'a>(&self, name: &'a str) -> Option<&'a str> {
        if !self.renamed {
            return Some(name);
        }
        let lower = name.to_ascii_lowercase();
        match self.names.get(&lower) {
            Some(cmd) => Some(cmd),
            None if SENTINEL_COMMANDS.contains(&lower.as_str()) => None,
            None => Some(name),
        }
    }

    /// Whether any `rename-command` line applied.
    pub fn is_renamed(&self) -> bool {
        self.renamed
    }
}

/// A sentinel's `rename-command <name> <new-name>`: checked against the sentinel's
/// commands; the lines stay in the file as written.
#[derive(Debug)]
struct RenameKind;

impl CustomKind for RenameKind {
    fn empty(&self) -> Value {
        Value::List(Vec::new())
    }
    fn set(&self, current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        match args {
            // Only the (empty) default has no arguments.
            [] => Ok(current.clone()),
            [old, new] => {
                let mut names = CommandNames::from_value(current)?;
                names.rename(old, new)?;
                let mut pairs = match current {
                    Value::List(p) => p.clone(),
                    _ => Vec::new(),
                };
                pairs.extend([old.clone(), new.clone()]);
                Ok(Value::List(pairs))
            }
            _ => Err(BAD_DIRECTIVE.into()),
        }
    }
    fn display(&self, v: &Value) -> String {
        match v {
            Value::List(items) => items.join(" "),
            _ => String::new(),
        }
    }
    fn rewrite_lines(&self, _v: &Value, _default: &Value) -> Vec<RewriteLine> {
        Vec::new()
    }
    fn repeatable(&self) -> bool {
        true
    }
}

/// `loadmodule <path> [args]`: Redis's sentinel queues it and never loads it.
#[derive(Debug)]
struct IgnoredModule;

impl CustomKind for IgnoredModule {
    fn empty(&self) -> Value {
        Value::List(Vec::new())
    }
    fn set(&self, _current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        Ok(Value::List(args.to_vec()))
    }
    fn display(&self, _v: &Value) -> String {
        String::new()
    }
    fn rewrite_lines(&self, _v: &Value, _default: &Value) -> Vec<RewriteLine> {
        Vec::new()
    }
    fn repeatable(&self) -> bool {
        true
    }
}

static RENAME: RenameKind = RenameKind;
static MODULE: IgnoredModule = IgnoredModule;

/// The directive table of a sentinel: picket-server's, with the sentinel's
/// `rename-command` and `loadmodule` rows.
pub static TABLE: LazyLock<Vec<Directive>> = LazyLock::new(|| {
    picket_server::config::DIRECTIVES
        .iter()
        .map(|d| match d.name {
            "rename-command" => Directive {
                kind: Kind::Custom(&RENAME),
                doc: "Config file and command line only: rename-command <name> <new-name> makes a sentinel command (SENTINEL, INFO, PING, ...) known under another name only, or under none with \"\"; lines apply in order.",
                ..*d
            },
            // The sentinel's ACL users, over the sentinel's commands (`crate::acl`).
            "user" => Directive {
                kind: Kind::Custom(&crate::acl::USER_LINES),
                doc: "Config file and command line only: `user <name> <rules...>` declares an ACL user of the sentinel as ACL SETUSER would, over the sentinel's commands (+@all, +sentinel|get-master-addr-by-name, &+switch-master); each user once, not together with aclfile. The state save writes the current users back.",
                ..*d
            },
            "loadmodule" => Directive {
                kind: Kind::Custom(&MODULE),
                doc: "Accepted and ignored, as Redis's sentinel does: a sentinel loads no modules (the config rewrite drops the line, as Redis's).",
                ..*d
            },
            // What the two TLS switches mean for a sentinel (see `ServerSettings::tls`).
            "tls-port" => Directive {
                doc: "Port of the sentinel's TLS listener (0: none; with port 0, TLS only). Its hellos announce it when tls-replication is yes.",
                ..*d
            },
            "tls-replication" => Directive {
                doc: "Every link of the sentinel to masters, replicas and other sentinels is TLS (Redis's sentinel follows tls-replication for all of them).",
                ..*d
            },
            _ => *d,
        })
        .collect()
});

/// A store of the server directives holding what Redis's sentinel starts from: the table's
/// defaults, then port 26379 and protected-mode no (Redis's `initSentinelConfig`). These
/// two differ from the table's defaults, so the rewrite writes them as Redis's does.
pub fn new_store() -> ConfigStore {
    // The table is picket-server's (whose tests load it) with two rows whose defaults are
    // empty lists (tested below): it always loads.
    let mut s = ConfigStore::new(&TABLE).expect("picket-server's directive table loads");
    s.set_internal("port", Value::Int(26379));
    s.set_internal("protected-mode", Value::Bool(false));
    s
}

/// What the sentinel loader keeps between server-directive lines.
#[derive(Debug, Default)]
pub struct Loader {
    /// Directives with a line already (their next line adds to a repeatable value).
    seen: BTreeSet<&'static str>,
}

impl Loader {
    /// One server-directive line of a sentinel config, as redis-server in sentinel mode
    /// reads it; the error is Redis's reason.
    pub fn apply(
        &mut self,
        store: &mut ConfigStore,
        name: &str,
        args: &[String],
    ) -> Result<(), String> {
        let lower = name.to_ascii_lowercase();
        // Module configs (`module.name value`) wait for modules a sentinel never loads.
        if lower.contains('.') {
            return Ok(());
        }
        let Some((d, _)) = store.find(&lower) else {
            return Err(BAD_DIRECTIVE.into());
        };
        // Redis reads these outside its config table, with their own argument counts.
        let arity_ok = match d.name {
            "rename-command" => args.len() == 2,
            "user" | "loadmodule" => !args.is_empty(),
            n if DEPRECATED.contains(&n) => args.len() == 1,
            _ => true,
        };
        if !arity_ok {
            return Err(BAD_DIRECTIVE.into());
        }
        let first = self.seen.insert(d.name);
        match store.apply_line(&lower, args, first) {
            Ok(_) => Ok(()),
            Err(LineError::Unknown) => Err(BAD_DIRECTIVE.into()),
            Err(LineError::WrongArgs) => Err("wrong number of arguments".into()),
            Err(LineError::Bad(why)) => Err(why),
        }
    }
}

/// Once every line is read: `hz` is capped to 1..500 as Redis does (and rewrites).
pub fn finish(store: &mut ConfigStore) {
    let hz = store.get_int("hz");
    if !(1..=500).contains(&hz) {
        store.set_internal("hz", Value::Int(hz.clamp(1, 500)));
    }
}

/// The values of the `rename-command` lines.
pub fn command_names(store: &ConfigStore) -> CommandNames {
    store
        .value("rename-command")
        .and_then(|v| CommandNames::from_value(v).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(lines: &[&str]) -> Result<ConfigStore, String> {
        let mut s = new_store();
        let mut l = Loader::default();
        for line in lines {
            let w = picket_common::sds::split_spaces(line);
            l.apply(&mut s, &w[0], &w[1..])?;
        }
        finish(&mut s);
        Ok(s)
    }

    #[test]
    fn the_table_loads_with_sentinel_values() {
        let s = new_store();
        assert_eq!(s.get_int("port"), 26379);
        assert!(!s.get_bool("protected-mode"));
        assert_eq!(s.get_str("enable-debug-command"), "no");
        assert_eq!(s.get_int("repl-diskless-sync-delay"), 5);
        // The rows the sentinel replaces keep their place and flags.
        let (d, _) = s.find("rename-command").unwrap();
        assert!(d.file_only);
        assert!(TABLE.iter().any(|d| d.name == "loadmodule" && d.file_only));
    }

    #[test]
    fn server_directives_with_redis_errors() {
        let s = load(&[
            "repl-diskless-sync-delay 0",
            "enable-protected-configs yes",
            "enable-debug-command yes",
            "slave-priority 7",
            "save 900 1",
            "save 300 10",
            "io-threads 4",
            "loadmodule /x.so a b",
            "list-max-ziplist-entries 5",
            "some.module-config 1",
            "hz 1000",
        ])
        .unwrap();
        assert_eq!(s.get_int("repl-diskless-sync-delay"), 0);
        assert_eq!(s.get_str("enable-debug-command"), "yes");
        assert_eq!(s.get_int("replica-priority"), 7);
        assert_eq!(s.get_save_points("save").len(), 2);
        assert_eq!(s.get_int("hz"), 500, "capped as Redis");
        for (line, why) in [
            ("port abc", "argument couldn't be parsed into an integer"),
            (
                "port 70000",
                "argument must be between 0 and 65535 inclusive",
            ),
            ("protected-mode maybe", "argument must be 'yes' or 'no'"),
            ("nosuch 1", BAD_DIRECTIVE),
            (
                "loglevel loud",
                "argument(s) must be one of the following: debug, verbose, notice, warning",
            ),
            ("maxmemory 1x", "argument must be a memory value"),
            ("daemonize", "wrong number of arguments"),
            ("daemonize yes no", "wrong number of arguments"),
            ("save 1 2 3", "Invalid save parameters"),
            (
                "io-threads 0",
                "argument must be between 1 and 128 inclusive",
            ),
            (
                "rename-command get foo",
                "No such command in rename-command",
            ),
            ("rename-command ping", BAD_DIRECTIVE),
            ("user", BAD_DIRECTIVE),
            ("list-max-ziplist-value 1 2", BAD_DIRECTIVE),
        ] {
            assert_eq!(load(&[line]).unwrap_err(), why, "{line}");
        }
    }

    #[test]
    fn rename_command_renames_sentinel_commands() {
        let s = load(&[
            "rename-command sentinel xsentinel",
            "rename-command PING \"\"",
        ])
        .unwrap();
        let n = command_names(&s);
        assert_eq!(n.lookup("XSENTINEL"), Some("sentinel"));
        assert_eq!(n.lookup("sentinel"), None);
        assert_eq!(n.lookup("ping"), None);
        assert_eq!(n.lookup("info"), Some("info"));
        assert_eq!(n.lookup("nosuch"), Some("nosuch"));
        assert_eq!(
            load(&["rename-command info role"]).unwrap_err(),
            "Target command name already exists"
        );
        let plain = command_names(&new_store());
        assert!(!plain.is_renamed());
        assert_eq!(plain.lookup("Sentinel"), Some("Sentinel"));
    }

    #[test]
    fn user_lines_are_checked_over_the_sentinel_commands() {
        let s = load(&[
            "user default on >pw ~* &* +@all",
            "user app on >apppw resetchannels &+switch-master -@all +sentinel|get-master-addr-by-name",
        ])
        .unwrap();
        let lines = picket_server::config::acl_user::decode(s.value("user").unwrap());
        assert_eq!(lines.len(), 2);
        // requirepass is left as it is: the user line resets the default user at start.
        assert_eq!(s.get_str("requirepass"), "");
        // Unknown commands wait for the start (Redis checks them when it applies the
        // lines); syntax errors are the line's.
        assert!(load(&["user bob on +get"]).is_ok());
        assert_eq!(
            load(&["user bob on bogus"]).unwrap_err(),
            "Error in user declaration 'bob': Syntax error"
        );
        assert_eq!(
            load(&["user bob on", "user bob off"]).unwrap_err(),
            "Error in user declaration 'bob': Duplicate user found. A user can only be defined once in config files"
        );
    }
}
