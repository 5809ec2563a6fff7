//! The Sentinel configuration file: Redis's `sentinel ...` directives plus every server
//! directive of redis.conf, as Redis's sentinel (a mode of redis-server) reads them:
//! the server directives line by line with picket-server's table ([`directives`]), then the
//! `sentinel` lines ([`sentinel_lines`]). The file is also the state store: [`rewrite`]
//! saves the state as Redis's `sentinelFlushConfig` does ([`rewrite::rewritten`]: the
//! user's lines and comments in place, Redis's lines for the state), atomically
//! (temporary file, fsync, rename, directory fsync). A file named `*.toml` holds the same
//! settings as TOML ([`toml`]); both forms become the same [`Directive`]s.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use picket_common::config::ConfigStore;
use picket_common::tls::{Tls, TlsError, TlsSettings};
use thiserror::Error;

use crate::core::{Addr, Core};

pub mod directives;
pub mod rewrite;
mod sentinel_lines;
pub mod toml;

pub use crate::core::options::{apply_option, parse_max_sentinels, parse_quorum};
pub use directives::CommandNames;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Redis's start-up error for a line (print it after an empty line, as Redis does).
    #[error("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{why}")]
    Bad {
        line: usize,
        text: String,
        why: String,
    },
    /// An `include` whose file cannot be read (Redis's text).
    #[error("Fatal error, can't open config file '{path}': {why}")]
    Include { path: String, why: String },
}

/// Settings of the process (not the monitoring state).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub port: u16,
    pub bind: Vec<String>,
    pub dir: String,
    pub logfile: String,
    pub loglevel: String,
    pub requirepass: Option<String>,
    pub pidfile: String,
    pub protected_mode: bool,
    pub announce_ip: String,
    /// Whether announce-ip is set, even to "" (SENTINEL CONFIG SET announce-ip ""): Redis
    /// then writes `sentinel announce-ip ""`.
    pub announce_ip_set: bool,
    pub announce_port: u16,
    pub deny_scripts_reconfig: bool,
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    /// `sentinel max-sentinels-per-master` (picket's own): the most other sentinels that
    /// hellos make known for one master (see `core::Core::max_sentinels`).
    pub max_sentinels_per_master: usize,
    /// `maxclients`: the most client connections served at once (Redis's default 10000);
    /// lowered at start to what the descriptor limit holds beside the sentinel's own links.
    pub maxclients: u64,
    /// Not a directive: the process's descriptor limit once adjusted at start (None when
    /// unknown or not enforced, as in the simulation). Clients are also refused when they
    /// would leave too few descriptors for the links (see `shell::client_cap`).
    pub fd_limit: Option<u64>,
    /// `timeout`: seconds after which an idle client (not subscribed) is closed; 0 never.
    pub timeout: u64,
    /// `tcp-keepalive`: keepalive period of client connections, seconds; 0 off.
    pub tcp_keepalive: u64,
    /// `hz` as configured (1..500; INFO `configured_hz`). A sentinel's timer runs at its
    /// own randomized rate whatever it says, as Redis's.
    pub configured_hz: u32,
    pub daemonize: bool,
    /// `supervised`: no, upstart, systemd, auto.
    pub supervised: String,
    /// Not a directive: the supervisor found at start (INFO `process_supervised`).
    pub process_supervised: &'static str,
    /// Not a directive: the absolute path of the executable (INFO `executable`).
    pub executable: String,
    /// The command names as `rename-command` left them.
    pub commands: CommandNames,
    /// Not a directive: the ACL users as the state save writes them (`<name> <rules>`,
    /// what follows `user `), kept by the shell from its live users; `None` until then
    /// (the save writes the users the configuration gives).
    pub users: Option<Vec<String>>,
    /// Every server directive as the file and the arguments set it (the rewrite writes
    /// them back, as Redis's does).
    pub directives: ConfigStore,
    /// `tls-port`: the port of the TLS listener (0: none).
    pub tls_port: u16,
    /// The `tls-*` directives; `tls.replication` (`tls-replication`) makes every link to
    /// an instance TLS, as Redis's sentinel.
    pub tls: TlsSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        let mut s = ServerSettings {
            port: 26379,
            bind: vec!["*".into(), "-::*".into()],
            dir: ".".into(),
            logfile: String::new(),
            loglevel: "notice".into(),
            requirepass: None,
            pidfile: String::new(),
            protected_mode: false,
            announce_ip: String::new(),
            announce_ip_set: false,
            announce_port: 0,
            deny_scripts_reconfig: true,
            resolve_hostnames: false,
            announce_hostnames: false,
            sentinel_user: None,
            sentinel_pass: None,
            max_sentinels_per_master: crate::core::DEFAULT_MAX_SENTINELS,
            maxclients: 10_000,
            fd_limit: None,
            timeout: 0,
            tcp_keepalive: 300,
            configured_hz: 10,
            daemonize: false,
            supervised: "no".into(),
            process_supervised: "no",
            executable: String::new(),
            commands: CommandNames::default(),
            users: None,
            directives: directives::new_store(),
            tls_port: 0,
            tls: TlsSettings::default(),
        };
        s.read_directives();
        s
    }
}

impl ServerSettings {
    /// Keep a setting SENTINEL CONFIG SET changed (the core decided it: see
    /// [`crate::core::Setting`]), for the config rewrite and the links.
    pub fn apply(&mut self, s: &crate::core::Setting) {
        use crate::core::Setting;
        match s {
            Setting::ResolveHostnames(b) => self.resolve_hostnames = *b,
            Setting::AnnounceHostnames(b) => self.announce_hostnames = *b,
            Setting::AnnounceIp(v) => {
                self.announce_ip = v.clone();
                self.announce_ip_set = true;
            }
            Setting::AnnouncePort(p) => self.announce_port = *p,
            Setting::SentinelUser(u) => self.sentinel_user = u.clone(),
            Setting::SentinelPass(p) => self.sentinel_pass = p.clone(),
            Setting::MaxSentinels(n) => self.max_sentinels_per_master = *n,
        }
    }

    /// The settings of the server directives a sentinel acts on, from [`Self::directives`].
    pub fn read_directives(&mut self) {
        let d = &self.directives;
        self.port = u16::try_from(d.get_int("port")).unwrap_or(26379);
        self.bind = d.get_list("bind").to_vec();
        self.dir = d.get_str("dir").to_string();
        self.logfile = d.get_str("logfile").to_string();
        self.loglevel = d.get_str("loglevel").to_string();
        let pass = d.get_str("requirepass");
        self.requirepass = (!pass.is_empty()).then(|| pass.to_string());
        self.pidfile = d.get_str("pidfile").to_string();
        self.protected_mode = d.get_bool("protected-mode");
        self.maxclients = u64::try_from(d.get_int("maxclients")).unwrap_or(10_000);
        self.timeout = u64::try_from(d.get_int("timeout")).unwrap_or(0);
        self.tcp_keepalive = u64::try_from(d.get_int("tcp-keepalive")).unwrap_or(0);
        self.configured_hz = u32::try_from(d.get_int("hz").clamp(1, 500)).unwrap_or(10);
        self.daemonize = d.get_bool("daemonize");
        self.supervised = d.get_str("supervised").to_string();
        self.commands = directives::command_names(d);
        self.tls_port = u16::try_from(d.get_int("tls-port")).unwrap_or(0);
        // The server's reading of the `tls-*` directives (Redis's sentinel runs the same
        // tlsConfigure).
        self.tls = picket_server::tls::settings(d);
    }

    /// The port hellos announce without `sentinel announce-port`: the TLS port when the
    /// links are TLS and there is one, else `port` (Redis's `sentinelSendHello`).
    pub fn hello_port(&self) -> u16 {
        if self.tls.replication && self.tls_port != 0 {
            self.tls_port
        } else {
            self.port
        }
    }

    /// The TLS contexts, when `tls-port` or `tls-replication` asks for TLS (Redis
    /// configures TLS at start then, and exits when it cannot); `None` otherwise.
    pub fn tls_context(&self) -> Result<Option<Tls>, TlsError> {
        if self.tls_port == 0 && !self.tls.replication {
            return Ok(None);
        }
        Tls::configure(&self.tls).map(Some)
    }

    /// How the configuration sets the ACL users up (`user` lines, `aclfile`,
    /// `requirepass`, `acl-pubsub-default`).
    pub fn users_config(&self) -> crate::acl::UsersConfig {
        let d = &self.directives;
        crate::acl::UsersConfig {
            lines: d
                .value("user")
                .cloned()
                .unwrap_or(picket_common::config::Value::List(Vec::new())),
            aclfile: d.get_str("aclfile").to_string(),
            requirepass: d.get_str("requirepass").to_string(),
            pubsub_default_all: d.get_str("acl-pubsub-default") == "allchannels",
        }
    }

    /// `acllog-max-len`.
    pub fn acllog_max_len(&self) -> usize {
        usize::try_from(self.directives.get_int("acllog-max-len")).unwrap_or(0)
    }

    /// The `user` lines the state save writes (without the word `user`): the live users
    /// once the shell keeps them, else those the configuration gives; `None` with an
    /// `aclfile` (its users are not the config file's).
    pub fn user_lines(&self) -> Option<Vec<String>> {
        let c = self.users_config();
        if !c.aclfile.is_empty() {
            return None;
        }
        if let Some(u) = &self.users {
            return Some(u.clone());
        }
        // The configuration was checked at start; should it not load, the default user.
        let acl = crate::acl::load_users(&c).unwrap_or_else(|_| {
            picket_server::acl::Acl::new_in(c.pubsub_default_all, crate::acl::universe())
        });
        crate::acl::rewrite_lines(&acl, "")
    }
}

/// A master as configured (before `Core` holds it).
#[derive(Debug, Clone, Default)]
pub struct MasterConf {
    pub addr: Option<(Addr, u32)>,
    pub opts: Vec<(String, Vec<String>)>,
}

/// What the file says.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub server: ServerSettings,
    pub myid: Option<String>,
    pub current_epoch: u64,
    /// Masters in file order of their first line.
    pub masters: Vec<(String, MasterConf)>,
}

fn bad(line: usize, text: &str, why: impl Into<String>) -> ConfigError {
    ConfigError::Bad {
        line,
        text: text.to_string(),
        why: why.into(),
    }
}

/// One directive of a source: its line (for errors), the text shown in errors, and its
/// words (`port 26379`, `sentinel monitor m 127.0.0.1 6379 2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub line: usize,
    pub text: String,
    pub words: Vec<String>,
}

/// The directives of redis.conf-style text, with the lines of the files its `include`
/// lines name (relative to the working directory, as in Redis; a pattern in the file name
/// takes the matching files in name order, none being fine).
fn conf_directives(text: &str) -> Result<Vec<Directive>, ConfigError> {
    let mut out = Vec::new();
    conf_into(text, 0, &mut out)?;
    Ok(out)
}

/// Includes nested deeper than this are refused (Redis recurses until the stack ends).
const MAX_INCLUDE_DEPTH: usize = 16;

fn conf_into(text: &str, depth: usize, out: &mut Vec<Directive>) -> Result<(), ConfigError> {
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(words) = picket_common::sds::split_args(line.as_bytes()) else {
            return Err(bad(i + 1, line, "Unbalanced quotes in configuration line"));
        };
        let words: Vec<String> = words
            .into_iter()
            .map(|x| String::from_utf8_lossy(&x).into_owned())
            .collect();
        if words.is_empty() {
            continue;
        }
        if words[0].eq_ignore_ascii_case("include") && words.len() == 2 {
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(bad(i + 1, line, "includes nested too deep (a loop?)"));
            }
            for path in include_targets(&words[1]) {
                let text = std::fs::read(&path).map_err(|e| ConfigError::Include {
                    path: path.display().to_string(),
                    why: picket_common::fdlimit::os_error_text(&e),
                })?;
                conf_into(&String::from_utf8_lossy(&text), depth + 1, out)?;
            }
            continue;
        }
        out.push(Directive {
            line: i + 1,
            text: line.to_string(),
            words,
        });
    }
    Ok(())
}

/// The files an `include` names: the path itself, or with `*?[` in the file name the
/// matching files of its directory in name order.
fn include_targets(arg: &str) -> Vec<PathBuf> {
    let path = Path::new(arg);
    let pattern = match path.file_name().and_then(|n| n.to_str()) {
        Some(name) if name.contains(['*', '?', '[']) => name,
        _ => return vec![path.to_path_buf()],
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    let listing = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(listing) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.') || pattern.starts_with('.'))
        .filter(|n| picket_common::glob::string_match_str(pattern, n, false))
        .collect();
    names.sort();
    names.into_iter().map(|n| dir.join(n)).collect()
}

/// Command-line options as lines after the file's last line, built as redis-server builds
/// them (`--port 6380` is the line `port "6380"`, a bare `--sentinel` the line `sentinel`,
/// `--save` without a value `save ""`), numbered as Redis numbers them: the file's text,
/// a newline, then one line per option.
fn arg_directives(args: &[String], text: &str) -> Vec<Directive> {
    let first_line = text.matches('\n').count() + 2;
    let mut lines: Vec<String> = Vec::new();
    let mut handled_last = true;
    for (j, a) in args.iter().enumerate() {
        let last = j + 1 == args.len();
        let next_is_option = args.get(j + 1).is_some_and(|n| n.starts_with("--"));
        match a.strip_prefix("--") {
            Some(name) if handled_last => {
                let mut line = format!("{name} ");
                let parts = picket_common::sds::split_args(a.as_bytes()).map_or(0, |p| p.len());
                if parts == 1 {
                    handled_last = false;
                    if a.eq_ignore_ascii_case("--save") && (last || next_is_option) {
                        line.push_str("\"\"");
                        handled_last = next_is_option;
                    } else if a.eq_ignore_ascii_case("--sentinel") && next_is_option {
                        handled_last = true;
                    }
                } else {
                    handled_last = true;
                }
                lines.push(line);
            }
            _ => {
                let v = picket_common::sds::repr(a.as_bytes());
                match lines.last_mut() {
                    Some(l) => {
                        l.push_str(&v);
                        l.push(' ');
                    }
                    None => lines.push(format!("{v} ")),
                }
                handled_last = true;
            }
        }
    }
    lines
        .into_iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let line = l.trim_matches([' ', '\t', '\r', '\n']).to_string();
            let words: Vec<String> = picket_common::sds::split_args(line.as_bytes())?
                .into_iter()
                .map(|x| String::from_utf8_lossy(&x).into_owned())
                .collect();
            (!words.is_empty()).then(|| Directive {
                line: first_line + i,
                text: line,
                words,
            })
        })
        .collect()
}

/// Whether a config file is TOML (by its `.toml` extension) rather than redis.conf lines.
pub fn is_toml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// Parse the text of a redis.conf-style config file, then `--directive value` arguments
/// (as extra lines).
pub fn parse(text: &str, args: &[String]) -> Result<Loaded, ConfigError> {
    let mut all = conf_directives(text)?;
    all.extend(arg_directives(args, text));
    load(&all)
}

/// Parse a TOML config file (see [`toml`]), then `--directive value` arguments.
pub fn parse_toml(text: &str, args: &[String]) -> Result<Loaded, ConfigError> {
    let mut all = toml::directives(text)?;
    all.extend(arg_directives(args, text));
    load(&all)
}

/// Parse a config file in the format its name says.
pub fn parse_file(path: &Path, text: &str, args: &[String]) -> Result<Loaded, ConfigError> {
    if is_toml(path) {
        parse_toml(text, args)
    } else {
        parse(text, args)
    }
}

/// Apply directives as Redis's sentinel does: the server directives in order (stopping at
/// the first bad one), then the `sentinel` lines: process-wide options, `monitor` lines,
/// then per-master lines.
fn load(all: &[Directive]) -> Result<Loaded, ConfigError> {
    let mut l = Loaded::default();
    let mut store = directives::new_store();
    let mut loader = directives::Loader::default();
    let mut queued = Vec::new();
    for d in all {
        let w = &d.words;
        if w[0].eq_ignore_ascii_case("sentinel") {
            // A bare `sentinel` is redis-server's mode flag.
            if w.len() > 1 {
                queued.push(d);
            }
            continue;
        }
        loader
            .apply(&mut store, &w[0], &w[1..])
            .map_err(|why| bad(d.line, &d.text, why))?;
    }
    directives::finish(&mut store);
    l.server.directives = store;
    l.server.read_directives();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for pass in 0..3 {
        for d in queued
            .iter()
            .filter(|d| sentinel_lines::pass_of(&d.words[1..]) == pass)
        {
            sentinel_lines::sentinel_line(&mut l, &mut index, &d.words[1..])
                .map_err(|why| bad(d.line, &d.text, why))?;
        }
    }
    Ok(l)
}

/// Write the state into the config file atomically (render, then [`write_atomically`]).
pub fn rewrite(path: &Path, core: &Core, s: &ServerSettings) -> Result<(), ConfigError> {
    let old = read_old(path)?;
    let text = render(path, &old, core, s)?;
    write_atomically(path, &text).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The file's text as it is now, the base of a rewrite ("" when there is none). A file that
/// is there but cannot be read is not replaced by one without the user's lines (Redis's
/// rewrite fails then too).
pub fn read_old(path: &Path) -> Result<String, ConfigError> {
    match std::fs::read(path) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(ConfigError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The file's new text: `old` rewritten with the state (TOML or redis.conf style, by the
/// file's name), without I/O.
pub fn render(
    path: &Path,
    old: &str,
    core: &Core,
    s: &ServerSettings,
) -> Result<String, ConfigError> {
    if is_toml(path) {
        toml::rewritten(old, core, s)
    } else {
        Ok(rewrite::rewritten(old, core, s))
    }
}

/// Replace the file with `text` so that a crash leaves the old file or the new one, never a
/// mix: write a temporary file, fsync it, rename it over the file, fsync the directory.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
