//! The Sentinel configuration file: Redis's `sentinel ...` directives plus the server
//! directives a Sentinel accepts (port, bind, dir, logfile, requirepass, ...). The file is
//! also the state store: [`rewrite`] keeps the user's other lines and comments in place and
//! replaces the `sentinel` lines with the current state, atomically (temporary file, fsync,
//! rename, directory fsync), as Redis's `sentinelFlushConfig`. A file named `*.toml` holds
//! the same settings as TOML ([`toml`]); both forms become the same [`Directive`]s.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::core::{Addr, Core, Master, Timers};

pub mod toml;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{why}")]
    Bad {
        line: usize,
        text: String,
        why: String,
    },
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
    pub announce_port: u16,
    pub deny_scripts_reconfig: bool,
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    /// `sentinel max-sentinels-per-master` (picket's own): the most other sentinels that
    /// hellos make known for one master (see `core::Core::max_sentinels`).
    pub max_sentinels_per_master: usize,
    /// Not a directive: the address found from the links before `SENTINEL CONFIG SET
    /// announce-ip` replaced it, announced again when announce-ip is cleared.
    pub detected_ip: String,
    /// `maxclients`: the most client connections served at once (Redis's default 10000);
    /// lowered at start to what the descriptor limit holds beside the sentinel's own links.
    pub maxclients: u64,
    /// Not a directive: the process's descriptor limit once adjusted at start (None when
    /// unknown or not enforced, as in the simulation). Clients are also refused when they
    /// would leave too few descriptors for the links (see `shell::client_cap`).
    pub fd_limit: Option<u64>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            port: 26379,
            bind: vec!["*".into(), "-::*".into()],
            dir: ".".into(),
            logfile: String::new(),
            loglevel: "notice".into(),
            requirepass: None,
            pidfile: String::new(),
            protected_mode: false,
            announce_ip: String::new(),
            announce_port: 0,
            deny_scripts_reconfig: true,
            resolve_hostnames: false,
            announce_hostnames: false,
            sentinel_user: None,
            sentinel_pass: None,
            max_sentinels_per_master: crate::core::DEFAULT_MAX_SENTINELS,
            detected_ip: String::new(),
            maxclients: 10_000,
            fd_limit: None,
        }
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

fn yes_no(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
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

/// The directives of redis.conf-style text.
fn conf_directives(text: &str) -> Result<Vec<Directive>, ConfigError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(words) = picket_common::sds::split_args(line.as_bytes()) else {
            return Err(bad(i + 1, raw, "Unbalanced quotes in configuration line"));
        };
        let words: Vec<String> = words
            .into_iter()
            .map(|x| String::from_utf8_lossy(&x).into_owned())
            .collect();
        if !words.is_empty() {
            out.push(Directive {
                line: i + 1,
                text: raw.to_string(),
                words,
            });
        }
    }
    Ok(out)
}

/// Command-line options as directives after the file's last line: `--port 26380
/// --sentinel monitor m 127.0.0.1 6379 2`. A bare `--sentinel` is redis-server's mode
/// flag, not a directive.
fn arg_directives(args: &[String], first_line: usize) -> Vec<Directive> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for a in args {
        if let Some(name) = a.strip_prefix("--") {
            groups.push(vec![name.to_string()]);
        } else if let Some(g) = groups.last_mut() {
            g.push(a.clone());
        }
    }
    groups
        .into_iter()
        .filter(|g| g.len() > 1 || g[0] != "sentinel")
        .enumerate()
        .map(|(i, words)| Directive {
            line: first_line + i,
            text: words
                .iter()
                .map(|w| picket_common::sds::bare_or_repr(w))
                .collect::<Vec<_>>()
                .join(" "),
            words,
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
    all.extend(arg_directives(args, text.lines().count() + 1));
    load(&all)
}

/// Parse a TOML config file (see [`toml`]), then `--directive value` arguments.
pub fn parse_toml(text: &str, args: &[String]) -> Result<Loaded, ConfigError> {
    let mut all = toml::directives(text)?;
    all.extend(arg_directives(args, text.lines().count() + 1));
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

/// Apply directives in order.
fn load(all: &[Directive]) -> Result<Loaded, ConfigError> {
    let mut l = Loaded::default();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for d in all {
        let (n, raw, w) = (d.line, d.text.as_str(), &d.words);
        let name = w[0].to_ascii_lowercase();
        let s = &mut l.server;
        let one = |w: &[String]| -> Result<String, ConfigError> {
            if w.len() != 2 {
                return Err(bad(n, raw, "wrong number of arguments"));
            }
            Ok(w[1].clone())
        };
        match name.as_str() {
            "port" => s.port = one(w)?.parse().map_err(|_| bad(n, raw, "Invalid port"))?,
            "bind" => s.bind = w[1..].to_vec(),
            "dir" => s.dir = one(w)?,
            "logfile" => s.logfile = one(w)?,
            "loglevel" => s.loglevel = one(w)?,
            "requirepass" => {
                let p = one(w)?;
                s.requirepass = (!p.is_empty()).then_some(p);
            }
            "pidfile" => s.pidfile = one(w)?,
            "protected-mode" => {
                s.protected_mode =
                    yes_no(&one(w)?).ok_or_else(|| bad(n, raw, "argument must be 'yes' or 'no'"))?
            }
            "maxclients" => {
                s.maxclients = maxclients_arg(&one(w)?).map_err(|why| bad(n, raw, why))?
            }
            "daemonize" | "supervised" | "timeout" | "tcp-keepalive" | "hz" | "user"
            | "acllog-max-len" => {}
            "sentinel" => {
                if w.len() < 2 {
                    return Err(bad(n, raw, "sentinel directive without arguments"));
                }
                sentinel_line(&mut l, &mut index, &w[1..]).map_err(|why| bad(n, raw, why))?;
            }
            _ => return Err(bad(n, raw, "Bad directive or wrong number of arguments")),
        }
    }
    for (name, m) in &l.masters {
        if m.addr.is_none() {
            return Err(bad(
                0,
                name,
                format!(
                    "No such master with specified name: '{name}' (options given, no monitor line)"
                ),
            ));
        }
    }
    Ok(l)
}

fn sentinel_line(
    l: &mut Loaded,
    index: &mut BTreeMap<String, usize>,
    w: &[String],
) -> Result<(), String> {
    let d = w[0].to_ascii_lowercase();
    let s = &mut l.server;
    let arg = |i: usize| {
        w.get(i)
            .cloned()
            .ok_or_else(|| "Wrong number of arguments".to_string())
    };
    match d.as_str() {
        "myid" => {
            let id = arg(1)?;
            if !picket_common::ids::is_hex40(&id) {
                return Err("Malformed Sentinel id in myid option.".into());
            }
            l.myid = Some(id);
            return Ok(());
        }
        "current-epoch" => {
            l.current_epoch = epoch_arg(&arg(1)?)?;
            return Ok(());
        }
        "max-sentinels-per-master" => {
            s.max_sentinels_per_master = parse_max_sentinels(&arg(1)?)
                .ok_or("max-sentinels-per-master must be an integer from 1 to 4294967295.")?;
            return Ok(());
        }
        "announce-ip" => {
            s.announce_ip = arg(1)?;
            return Ok(());
        }
        "announce-port" => {
            s.announce_port = arg(1)?.parse().map_err(|_| "Invalid port")?;
            return Ok(());
        }
        "deny-scripts-reconfig" => {
            s.deny_scripts_reconfig = yes_no(&arg(1)?).ok_or("Please specify yes or no")?;
            return Ok(());
        }
        "resolve-hostnames" => {
            s.resolve_hostnames = yes_no(&arg(1)?).ok_or("Please specify yes or no")?;
            return Ok(());
        }
        "announce-hostnames" => {
            s.announce_hostnames = yes_no(&arg(1)?).ok_or("Please specify yes or no")?;
            return Ok(());
        }
        "sentinel-user" => {
            s.sentinel_user = Some(arg(1)?);
            return Ok(());
        }
        "sentinel-pass" => {
            s.sentinel_pass = Some(arg(1)?);
            return Ok(());
        }
        _ => {}
    }
    // Per-master directives (they may come before `monitor`).
    let name = arg(1)?;
    let i = *index.entry(name.clone()).or_insert_with(|| {
        l.masters.push((name.clone(), MasterConf::default()));
        l.masters.len() - 1
    });
    let m = &mut l.masters[i].1;
    match d.as_str() {
        "monitor" => {
            if w.len() != 5 {
                return Err("Wrong number of arguments".into());
            }
            let port: u16 = w[3].parse().map_err(|_| "Invalid port")?;
            let quorum = parse_quorum(&w[4]).map_err(|e| e.to_string())?;
            if m.addr.is_some() {
                return Err("Duplicated master name.".into());
            }
            m.addr = Some((Addr::new(w[2].clone(), port), quorum));
        }
        "down-after-milliseconds"
        | "failover-timeout"
        | "parallel-syncs"
        | "notification-script"
        | "client-reconfig-script"
        | "auth-pass"
        | "auth-user"
        | "master-reboot-down-after-period"
        | "config-epoch"
        | "leader-epoch" => {
            if w.len() != 3 {
                return Err("Wrong number of arguments".into());
            }
            if d.ends_with("-epoch") {
                epoch_arg(&w[2])?;
            }
            m.opts.push((d, vec![w[2].clone()]));
        }
        "known-replica" | "known-slave" => {
            if w.len() != 4 {
                return Err("Wrong number of arguments".into());
            }
            m.opts.push(("known-replica".into(), w[2..].to_vec()));
        }
        "known-sentinel" => {
            if w.len() != 5 {
                return Err("Wrong number of arguments".into());
            }
            m.opts.push(("known-sentinel".into(), w[2..].to_vec()));
        }
        "rename-command" => {
            if w.len() != 4 {
                return Err("Wrong number of arguments".into());
            }
            m.opts.push(("rename-command".into(), w[2..].to_vec()));
        }
        _ => return Err(format!("Unknown sentinel directive '{}'", w[0])),
    }
    Ok(())
}

/// An epoch in the file: an integer from 0 to 2^63-1 (what a sentinel can reach; see
/// [`crate::core::MAX_EPOCH`]).
fn epoch_arg(v: &str) -> Result<u64, String> {
    crate::core::parse_epoch(v).ok_or_else(|| {
        format!("Invalid epoch '{v}': an epoch is an integer from 0 to 9223372036854775807.")
    })
}

/// A quorum (`sentinel monitor`, SENTINEL MONITOR / SET): a positive integer that fits in
/// 32 bits. Redis keeps the low bits of a larger one (4294967297 becomes 1) and then
/// writes a file it cannot load; picket refuses it.
pub fn parse_quorum(v: &str) -> Result<u32, &'static str> {
    match v.trim().parse::<i128>() {
        Ok(n) if n <= 0 => Err("Quorum must be 1 or greater."),
        Ok(n) => u32::try_from(n).map_err(|_| "Quorum must be at most 4294967295."),
        // As Redis's atoi: not a number reads as 0.
        Err(_) => Err("Quorum must be 1 or greater."),
    }
}

/// `max-sentinels-per-master`: 1 to 4294967295.
pub fn parse_max_sentinels(v: &str) -> Option<usize> {
    let n = picket_common::sds::string2ll(v.as_bytes())?;
    let n = u32::try_from(n).ok().filter(|n| *n >= 1)?;
    usize::try_from(n).ok()
}

/// `maxclients`: 1 to 4294967295, with Redis 7.0's errors.
fn maxclients_arg(v: &str) -> Result<u64, &'static str> {
    let n = picket_common::sds::string2ll(v.as_bytes())
        .ok_or("argument couldn't be parsed into an integer")?;
    u32::try_from(n)
        .ok()
        .filter(|n| *n >= 1)
        .map(u64::from)
        .ok_or("argument must be between 1 and 4294967295 inclusive")
}

/// Apply one per-master option (file or SENTINEL SET) to a master.
pub fn apply_option(m: &mut Master, name: &str, args: &[String], now: u64) -> Result<(), String> {
    let v = args.first().cloned().unwrap_or_default();
    let num = || {
        v.parse::<u64>()
            .map_err(|_| format!("Invalid argument '{v}'"))
    };
    match name {
        "down-after-milliseconds" => {
            let n = num()?;
            if n == 0 {
                return Err(format!("Invalid argument '{v}'"));
            }
            m.down_after = n;
        }
        "failover-timeout" => {
            let n = num()?;
            if n == 0 {
                return Err(format!("Invalid argument '{v}'"));
            }
            m.failover_timeout = n;
        }
        "parallel-syncs" => {
            m.parallel_syncs =
                u32::try_from(num()?).map_err(|_| format!("Invalid argument '{v}'"))?
        }
        "quorum" => m.quorum = parse_quorum(&v).map_err(|_| format!("Invalid argument '{v}'"))?,
        "notification-script" => m.notification_script = (!v.is_empty()).then_some(v),
        "client-reconfig-script" => m.client_reconfig_script = (!v.is_empty()).then_some(v),
        "auth-pass" => m.auth_pass = (!v.is_empty()).then_some(v),
        "auth-user" => m.auth_user = (!v.is_empty()).then_some(v),
        "master-reboot-down-after-period" => m.reboot_down_after = num()?,
        "config-epoch" => m.config_epoch = epoch_arg(&v)?,
        "leader-epoch" => m.leader_epoch = epoch_arg(&v)?,
        "known-replica" => {
            let port: u16 = args
                .get(1)
                .and_then(|p| p.parse().ok())
                .ok_or("Invalid port")?;
            let a = Addr::new(v, port);
            m.replicas
                .insert(a.name(), crate::core::Instance::new(a.name(), a, now));
        }
        "known-sentinel" => {
            let port: u16 = args
                .get(1)
                .and_then(|p| p.parse().ok())
                .ok_or("Invalid port")?;
            let runid = args.get(2).cloned().ok_or("Wrong number of arguments")?;
            let a = Addr::new(v, port);
            let mut s = crate::core::Instance::new(runid.clone(), a, now);
            s.runid = Some(runid.clone());
            m.sentinels.insert(runid, s);
        }
        "rename-command" => {
            let to = args.get(1).cloned().ok_or("Wrong number of arguments")?;
            m.renamed.insert(v.to_ascii_lowercase(), to);
        }
        _ => return Err("Unknown option".into()),
    }
    Ok(())
}

/// The `sentinel` lines of the current state, in Redis's order.
pub fn state_lines(core: &Core, s: &ServerSettings) -> Vec<String> {
    let q = picket_common::sds::bare_or_repr;
    let t = Timers::default();
    let mut out = vec![format!("sentinel myid {}", core.myid)];
    out.push(format!(
        "sentinel deny-scripts-reconfig {}",
        if s.deny_scripts_reconfig { "yes" } else { "no" }
    ));
    out.push(format!(
        "sentinel resolve-hostnames {}",
        if s.resolve_hostnames { "yes" } else { "no" }
    ));
    out.push(format!(
        "sentinel announce-hostnames {}",
        if s.announce_hostnames { "yes" } else { "no" }
    ));
    for (name, m) in &core.masters {
        let a = m.current_addr();
        out.push(format!(
            "sentinel monitor {} {} {} {}",
            q(name),
            q(&a.host),
            a.port,
            m.quorum
        ));
        if m.down_after != t.default_down_after {
            out.push(format!(
                "sentinel down-after-milliseconds {} {}",
                q(name),
                m.down_after
            ));
        }
        if m.failover_timeout != t.default_failover_timeout {
            out.push(format!(
                "sentinel failover-timeout {} {}",
                q(name),
                m.failover_timeout
            ));
        }
        if m.parallel_syncs != 1 {
            out.push(format!(
                "sentinel parallel-syncs {} {}",
                q(name),
                m.parallel_syncs
            ));
        }
        if let Some(x) = &m.notification_script {
            out.push(format!("sentinel notification-script {} {}", q(name), q(x)));
        }
        if let Some(x) = &m.client_reconfig_script {
            out.push(format!(
                "sentinel client-reconfig-script {} {}",
                q(name),
                q(x)
            ));
        }
        if let Some(x) = &m.auth_pass {
            out.push(format!("sentinel auth-pass {} {}", q(name), q(x)));
        }
        if let Some(x) = &m.auth_user {
            out.push(format!("sentinel auth-user {} {}", q(name), q(x)));
        }
        if m.reboot_down_after != 0 {
            out.push(format!(
                "sentinel master-reboot-down-after-period {} {}",
                q(name),
                m.reboot_down_after
            ));
        }
        out.push(format!(
            "sentinel config-epoch {} {}",
            q(name),
            m.config_epoch
        ));
        out.push(format!(
            "sentinel leader-epoch {} {}",
            q(name),
            m.leader_epoch
        ));
        for r in m.replicas.values() {
            if r.addr == a {
                continue;
            }
            out.push(format!(
                "sentinel known-replica {} {} {}",
                q(name),
                q(&r.addr.host),
                r.addr.port
            ));
        }
        for (id, s) in &m.sentinels {
            out.push(format!(
                "sentinel known-sentinel {} {} {} {}",
                q(name),
                q(&s.addr.host),
                s.addr.port,
                q(id)
            ));
        }
        for (from, to) in &m.renamed {
            out.push(format!(
                "sentinel rename-command {} {} {}",
                q(name),
                q(from),
                q(to)
            ));
        }
    }
    out.push(format!("sentinel current-epoch {}", core.current_epoch));
    if !s.announce_ip.is_empty() {
        out.push(format!("sentinel announce-ip {}", q(&s.announce_ip)));
    }
    if s.announce_port != 0 {
        out.push(format!("sentinel announce-port {}", s.announce_port));
    }
    if let Some(u) = &s.sentinel_user {
        out.push(format!("sentinel sentinel-user {}", q(u)));
    }
    if let Some(p) = &s.sentinel_pass {
        out.push(format!("sentinel sentinel-pass {}", q(p)));
    }
    if s.max_sentinels_per_master != crate::core::DEFAULT_MAX_SENTINELS {
        out.push(format!(
            "sentinel max-sentinels-per-master {}",
            s.max_sentinels_per_master
        ));
    }
    out
}

/// The new text of the file: the user's lines as they were, the `sentinel` lines replaced
/// by the state where the first of them was (or appended under Redis's marker).
pub fn rewritten(old: &str, state: &[String]) -> String {
    let mut out = Vec::new();
    let mut placed = false;
    for line in old.lines() {
        let is_sentinel = line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("sentinel"));
        if line.trim() == "# Generated by CONFIG REWRITE" {
            continue;
        }
        if is_sentinel {
            if !placed {
                out.extend(state.iter().cloned());
                placed = true;
            }
            continue;
        }
        out.push(line.to_string());
    }
    if !placed {
        while out.last().is_some_and(|l: &String| l.trim().is_empty()) {
            out.pop();
        }
        out.push("# Generated by CONFIG REWRITE".into());
        out.extend(state.iter().cloned());
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// Write the state into the config file atomically.
pub fn rewrite(path: &Path, core: &Core, s: &ServerSettings) -> Result<(), ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let text = if is_toml(path) {
        toml::rewritten(&old, core, s)?
    } else {
        rewritten(&old, &state_lines(core, s))
    };
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)?;
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
mod tests {
    use super::*;

    #[test]
    fn parses_redis_sentinel_directives() {
        let text = "port 26380\n# comment\nsentinel down-after-milliseconds m 5000\nsentinel monitor m 127.0.0.1 6379 2\nsentinel known-replica m 127.0.0.1 6380\nsentinel myid 0123456789012345678901234567890123456789\nsentinel current-epoch 7\n";
        let l = parse(text, &[]).unwrap();
        assert_eq!(l.server.port, 26380);
        assert_eq!(l.current_epoch, 7);
        assert_eq!(
            l.myid.as_deref(),
            Some("0123456789012345678901234567890123456789")
        );
        let (name, m) = &l.masters[0];
        assert_eq!(name, "m");
        assert_eq!(m.addr, Some((Addr::new("127.0.0.1", 6379), 2)));
        assert_eq!(m.opts.len(), 2);
    }

    #[test]
    fn bad_lines_are_refused_with_their_line_number() {
        for (text, want) in [
            (
                "sentinel monitor m 127.0.0.1 6379 0\n",
                "Quorum must be 1 or greater.",
            ),
            ("sentinel monitor m 127.0.0.1 notaport 2\n", "Invalid port"),
            ("sentinel bogus m 1\n", "Unknown sentinel directive"),
            ("nonsense 1\n", "Bad directive"),
            ("sentinel myid xyz\n", "Malformed Sentinel id"),
        ] {
            let e = parse(text, &[]).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("line 1"), "{e}");
        }
        let e = parse("sentinel down-after-milliseconds x 10\n", &[]).unwrap_err();
        assert!(e.to_string().contains("No such master"), "{e}");
    }

    #[test]
    fn epochs_and_quorums_that_do_not_fit_are_refused_with_their_line() {
        let monitor = "sentinel monitor m 127.0.0.1 6379 2\n";
        for (line, want) in [
            (
                "sentinel current-epoch 18446744073709551615",
                "Invalid epoch",
            ),
            (
                "sentinel current-epoch 9223372036854775808",
                "Invalid epoch",
            ),
            ("sentinel current-epoch -1", "Invalid epoch"),
            (
                "sentinel config-epoch m 9223372036854775808",
                "Invalid epoch",
            ),
            (
                "sentinel leader-epoch m 18446744073709551615",
                "Invalid epoch",
            ),
            ("sentinel leader-epoch m x", "Invalid epoch"),
            (
                "sentinel monitor q 127.0.0.1 6379 4294967297",
                "Quorum must be at most 4294967295.",
            ),
            (
                "sentinel monitor q 127.0.0.1 6379 -1",
                "Quorum must be 1 or greater.",
            ),
            (
                "sentinel monitor q 127.0.0.1 6379 abc",
                "Quorum must be 1 or greater.",
            ),
            (
                "sentinel max-sentinels-per-master 0",
                "max-sentinels-per-master must be",
            ),
        ] {
            let e = parse(&format!("{monitor}{line}\n"), &[])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(want) && e.contains("at line 2") && e.contains(line),
                "{line}: {e}"
            );
        }
        let max = i64::MAX;
        let l = parse(
            &format!("{monitor}sentinel current-epoch {max}\nsentinel config-epoch m {max}\nsentinel monitor q 127.0.0.1 6380 4294967295\n"),
            &[],
        )
        .unwrap();
        assert_eq!(l.current_epoch, crate::core::MAX_EPOCH);
        let c = crate::core_from(&l, 1, 0).unwrap();
        assert_eq!(c.masters["m"].config_epoch, crate::core::MAX_EPOCH);
        assert_eq!(c.masters["q"].quorum, u32::MAX);
    }

    #[test]
    fn max_sentinels_per_master_is_read_and_written_when_not_the_default() {
        let l = parse("sentinel monitor m 127.0.0.1 6379 2\n", &[]).unwrap();
        assert_eq!(l.server.max_sentinels_per_master, 64);
        let c = crate::core_from(&l, 1, 0).unwrap();
        assert_eq!(c.max_sentinels, 64);
        assert!(!state_lines(&c, &l.server)
            .iter()
            .any(|x| x.contains("max-sentinels-per-master")));
        let l = parse(
            "sentinel monitor m 127.0.0.1 6379 2\nsentinel max-sentinels-per-master 5\nsentinel resolve-hostnames yes\n",
            &[],
        )
        .unwrap();
        let c = crate::core_from(&l, 1, 0).unwrap();
        assert_eq!(c.max_sentinels, 5);
        assert!(c.resolve_hostnames);
        let lines = state_lines(&c, &l.server);
        assert!(lines.contains(&"sentinel max-sentinels-per-master 5".to_string()));
        let back = parse(&lines.join("\n"), &[]).unwrap();
        assert_eq!(back.server.max_sentinels_per_master, 5);
        // TOML: the same key under [sentinel], written back only when not the default.
        let t = parse_toml(
            "[sentinel]\nmax-sentinels-per-master = 7\n[masters.m]\nhost = \"127.0.0.1\"\nport = 6379\nquorum = 2\n",
            &[],
        )
        .unwrap();
        assert_eq!(t.server.max_sentinels_per_master, 7);
        let c = crate::core_from(&t, 1, 0).unwrap();
        let mut st = t.server.clone();
        let text = toml::rewritten("", &c, &st).unwrap();
        assert!(text.contains("max-sentinels-per-master = 7"), "{text}");
        st.max_sentinels_per_master = 64;
        let text = toml::rewritten("", &c, &st).unwrap();
        assert!(!text.contains("max-sentinels-per-master"), "{text}");
        st.max_sentinels_per_master = 9;
        let text = toml::rewritten("", &c, &st).unwrap();
        assert!(text.contains("max-sentinels-per-master = 9"), "{text}");
    }

    #[test]
    fn command_line_arguments_are_extra_lines() {
        let args: Vec<String> = [
            "--port",
            "26390",
            "--sentinel",
            "monitor",
            "m",
            "10.0.0.1",
            "6379",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let l = parse("", &args).unwrap();
        assert_eq!(l.server.port, 26390);
        assert_eq!(l.masters[0].1.addr, Some((Addr::new("10.0.0.1", 6379), 1)));
    }

    #[test]
    fn state_lines_quote_what_would_not_read_back() {
        let l = parse("sentinel monitor m 127.0.0.1 6379 2\n", &[]).unwrap();
        let mut c = crate::core_from(&l, 1, 0).unwrap();
        let id = "0123456789012345678901234567890123456789";
        let mut s = crate::core::Instance::new(id.into(), Addr::new("", 26379), 0);
        s.runid = Some(id.into());
        c.masters
            .get_mut("m")
            .unwrap()
            .sentinels
            .insert(id.into(), s);
        let lines = state_lines(&c, &l.server);
        assert!(
            lines.contains(&format!("sentinel known-sentinel m \"\" 26379 {id}")),
            "{lines:?}"
        );
        let back = parse(&lines.join("\n"), &[]).unwrap();
        let c2 = crate::core_from(&back, 1, 0).unwrap();
        assert_eq!(c2.masters["m"].sentinels[id].addr, Addr::new("", 26379));
    }

    #[test]
    fn maxclients_is_read_checked_and_kept_by_the_rewrite() {
        assert_eq!(parse("", &[]).unwrap().server.maxclients, 10_000);
        let text = "port 26379\nmaxclients 300\nsentinel monitor m 127.0.0.1 6379 2\n";
        let l = parse(text, &[]).unwrap();
        assert_eq!(l.server.maxclients, 300);
        let args = vec!["--maxclients".to_string(), "50".to_string()];
        assert_eq!(parse(text, &args).unwrap().server.maxclients, 50);
        for (v, why) in [
            ("0", "argument must be between 1 and 4294967295 inclusive"),
            (
                "4294967296",
                "argument must be between 1 and 4294967295 inclusive",
            ),
            ("abc", "argument couldn't be parsed into an integer"),
        ] {
            let e = parse(&format!("maxclients {v}\n"), &[])
                .unwrap_err()
                .to_string();
            assert!(e.ends_with(why) && e.contains(">>> 'maxclients"), "{e}");
        }
        // The state save keeps the user's line as written (Redis writes the lowered value).
        let c = crate::core_from(&l, 1, 0).unwrap();
        let out = rewritten(text, &state_lines(&c, &l.server));
        assert!(out.contains("\nmaxclients 300\n"), "{out}");
    }

    #[test]
    fn rewrite_keeps_user_lines_in_place() {
        let old = "# my sentinel\nport 26379\nsentinel monitor m 1.2.3.4 6379 2\n# trailing comment\nsentinel known-replica m 1.2.3.5 6379\n";
        let state = vec![
            "sentinel myid x".to_string(),
            "sentinel monitor m 1.2.3.5 6379 2".to_string(),
        ];
        let text = rewritten(old, &state);
        assert_eq!(
            text,
            "# my sentinel\nport 26379\nsentinel myid x\nsentinel monitor m 1.2.3.5 6379 2\n# trailing comment\n"
        );
        let text = rewritten("port 1\n", &state);
        assert_eq!(text, "port 1\n# Generated by CONFIG REWRITE\nsentinel myid x\nsentinel monitor m 1.2.3.5 6379 2\n");
    }
}
