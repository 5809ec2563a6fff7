//! SENTINEL SET (a master's options) and SENTINEL CONFIG SET (the sentinel's own settings)
//! as core inputs ([`Command::Set`], [`Command::ConfigSet`]), with Redis 7.0's replies,
//! errors and `+set` events. Each change is saved before the reply goes out (an
//! [`Action::Flush`] with the reply); a sentinel setting also comes out as an
//! [`Action::Setting`], which the shell keeps for the config rewrite and the links.

use std::collections::BTreeSet;

use super::*;

/// What the core decides SENTINEL SET / CONFIG SET with, besides what it runs on
/// ([`Core::announce_ip`], [`Core::resolve_hostnames`]...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreSettings {
    /// `sentinel deny-scripts-reconfig`: SENTINEL SET refuses to change a script path.
    pub deny_scripts_reconfig: bool,
    /// The port announced when announce-port is 0: the command server's `port`, or its
    /// `tls-port` when the links are TLS (`ServerSettings::hello_port`).
    pub port: u16,
    /// `sentinel announce-ip` as configured ("" when unset).
    pub announce_ip: String,
    /// The address found from the links before SENTINEL CONFIG SET announce-ip replaced
    /// it, announced again when announce-ip is cleared.
    pub detected_ip: String,
}

impl Default for CoreSettings {
    /// Redis's defaults.
    fn default() -> Self {
        CoreSettings {
            deny_scripts_reconfig: true,
            port: 26379,
            announce_ip: String::new(),
            detected_ip: String::new(),
        }
    }
}

/// A sentinel setting changed by SENTINEL CONFIG SET, its value checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    ResolveHostnames(bool),
    AnnounceHostnames(bool),
    /// As Redis, an empty value is kept (and saved as `sentinel announce-ip ""`).
    AnnounceIp(String),
    AnnouncePort(u16),
    /// None when set to "".
    SentinelUser(Option<String>),
    SentinelPass(Option<String>),
    MaxSentinels(usize),
}

/// The options of SENTINEL SET whose value is a script path.
pub const SCRIPT_OPTIONS: [&str; 2] = ["notification-script", "client-reconfig-script"];

impl Core {
    /// SENTINEL SET <name> <option> <value> [<option> <value> ...], as Redis 7.0: options
    /// are applied in order, each one announced with `+set`; an error stops at that option
    /// (those before it stay applied and are saved). `rename-command` takes two values.
    /// `executable`: the script paths given that name an executable file.
    pub(super) fn set_command(
        &mut self,
        now: Ms,
        name: &str,
        args: &[String],
        executable: &BTreeSet<String>,
    ) -> Reply {
        let deny = self.settings.deny_scripts_reconfig;
        let Some(m) = self.masters.get_mut(name) else {
            return Reply::Error(super::commands::NO_MASTER.into());
        };
        let mut events = Vec::new();
        let mut relink = false;
        let mut error = None;
        let n = args.len();
        let mut j = 0;
        while j < n {
            let raw = args[j].clone();
            let opt = raw.to_ascii_lowercase();
            let more = n - 1 - j;
            let value = args.get(j + 1).cloned().unwrap_or_default();
            let invalid = |v: &str| format!("ERR Invalid argument '{v}' for SENTINEL SET '{raw}'");
            let int = value.parse::<i64>().ok();
            let shown = match opt.as_str() {
                "rename-command" if more > 1 => {
                    let to = args[j + 2].clone();
                    if value.is_empty() || to.is_empty() {
                        error = Some(invalid(""));
                        break;
                    }
                    // A rename to the same name removes the rename.
                    m.renamed.retain(|k, _| !k.eq_ignore_ascii_case(&value));
                    if !value.eq_ignore_ascii_case(&to) {
                        m.renamed.insert(value.clone(), to.clone());
                    }
                    relink = true;
                    j += 1;
                    format!("{value} {to}")
                }
                "down-after-milliseconds" | "failover-timeout" | "parallel-syncs" | "quorum"
                    if more > 0 =>
                {
                    // apply_option also refuses what does not fit (a quorum or
                    // parallel-syncs beyond 32 bits), where Redis keeps the low bits.
                    if int.is_none_or(|v| v <= 0)
                        || super::options::apply_option(m, &opt, std::slice::from_ref(&value), now)
                            .is_err()
                    {
                        error = Some(invalid(&value));
                        break;
                    }
                    value
                }
                "master-reboot-down-after-period" if more > 0 => {
                    if int.is_none_or(|v| v < 0) {
                        error = Some(invalid(&value));
                        break;
                    }
                    let _ =
                        super::options::apply_option(m, &opt, std::slice::from_ref(&value), now);
                    value
                }
                "notification-script" | "client-reconfig-script" if more > 0 => {
                    if deny {
                        error = Some("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration".to_string());
                        break;
                    }
                    if !value.is_empty() && !executable.contains(&value) {
                        error = Some(if opt == "notification-script" {
                            "ERR Notification script seems non existing or non executable"
                                .to_string()
                        } else {
                            "ERR Client reconfiguration script seems non existing or non executable"
                                .to_string()
                        });
                        break;
                    }
                    let _ =
                        super::options::apply_option(m, &opt, std::slice::from_ref(&value), now);
                    value
                }
                "auth-pass" | "auth-user" if more > 0 => {
                    let _ =
                        super::options::apply_option(m, &opt, std::slice::from_ref(&value), now);
                    relink = true;
                    if opt == "auth-pass" {
                        "******".to_string()
                    } else {
                        value
                    }
                }
                _ => {
                    error = Some(format!(
                        "ERR Unknown option or number of arguments for SENTINEL SET '{raw}'"
                    ));
                    break;
                }
            };
            j += 2;
            events.push(Event::Set {
                at: Subject::master(m),
                option: raw,
                value: shown,
            });
        }
        let mut links = Vec::new();
        if relink {
            // New credentials or command names: fresh links to the master and its replicas.
            links.push((Target::Master(name.to_string()), m.inst.addr.clone()));
            for (k, r) in &m.replicas {
                links.push((
                    Target::Replica(name.to_string(), k.clone()),
                    r.inst.addr.clone(),
                ));
            }
        }
        let changed = !events.is_empty();
        for e in events {
            self.event(e);
        }
        for (t, addr) in links {
            self.out.push(Action::Disconnect(t.clone()));
            self.out.push(Action::Connect(t, addr));
        }
        // As Redis: what was applied is saved, even before an error.
        if changed {
            self.out.push(Action::Flush);
        }
        match error {
            Some(e) => Reply::Error(e),
            None if changed => Reply::Saved,
            None => Reply::Ok,
        }
    }

    /// SENTINEL CONFIG SET <param> <value>, as Redis 7.0 (one pair): the new value takes
    /// effect at once and is saved (the value stays in force when it cannot be, as in
    /// Redis). New sentinel credentials close the links to the other sentinels, which
    /// reconnect with them.
    pub(super) fn config_set_command(&mut self, param: &str, value: &str) -> Reply {
        let yn = match value.to_ascii_lowercase().as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        };
        let nonempty = || (!value.is_empty()).then(|| value.to_string());
        let setting = match param.to_ascii_lowercase().as_str() {
            "resolve-hostnames" => yn.map(Setting::ResolveHostnames),
            "announce-hostnames" => yn.map(Setting::AnnounceHostnames),
            "announce-ip" => Some(Setting::AnnounceIp(value.to_string())),
            // Redis's getLongLongFromObject: a strict integer, then 0..65535.
            "announce-port" => picket_common::sds::string2ll(value.as_bytes())
                .and_then(|p| u16::try_from(p).ok())
                .map(Setting::AnnouncePort),
            "sentinel-user" => Some(Setting::SentinelUser(nonempty())),
            "sentinel-pass" => Some(Setting::SentinelPass(nonempty())),
            // Picket's own: takes effect at the next new sentinel (none is forgotten now).
            "max-sentinels-per-master" => {
                super::options::parse_max_sentinels(value).map(Setting::MaxSentinels)
            }
            _ => {
                return Reply::Error(format!(
                    "ERR Invalid argument '{param}' to SENTINEL CONFIG SET"
                ))
            }
        };
        let Some(setting) = setting else {
            return Reply::Error(format!(
                "ERR Invalid value '{value}' to SENTINEL CONFIG SET '{param}'"
            ));
        };
        let drop_sentinel_links =
            matches!(setting, Setting::SentinelUser(_) | Setting::SentinelPass(_));
        self.apply_setting(&setting);
        self.out.push(Action::Setting(setting));
        self.out.push(Action::Flush);
        if drop_sentinel_links {
            // Redis's sentinelDropConnections: the links reconnect with the new credentials.
            let mut links = Vec::new();
            for (name, m) in &self.masters {
                for (id, s) in &m.sentinels {
                    links.push((
                        Target::Sentinel(name.clone(), id.clone()),
                        s.inst.addr.clone(),
                    ));
                }
            }
            for (t, addr) in links {
                self.out.push(Action::Disconnect(t.clone()));
                self.out.push(Action::Connect(t, addr));
            }
        }
        Reply::Saved
    }

    /// What a setting changes in the core (the rest is the shell's: see [`Setting`]).
    fn apply_setting(&mut self, s: &Setting) {
        match s {
            Setting::ResolveHostnames(b) => self.resolve_hostnames = *b,
            Setting::AnnounceIp(v) => {
                if self.settings.announce_ip.is_empty() {
                    // Remember the address found from the links, to announce it again
                    // when announce-ip is cleared.
                    self.settings.detected_ip = self.announce_ip.clone();
                }
                self.settings.announce_ip = v.clone();
                // Hellos then carry the address found from the links again, where Redis
                // would announce an empty address.
                if !v.is_empty() {
                    self.announce_ip = v.clone();
                } else if !self.settings.detected_ip.is_empty() {
                    self.announce_ip = self.settings.detected_ip.clone();
                }
            }
            Setting::AnnouncePort(p) => {
                self.announce_port = if *p != 0 { *p } else { self.settings.port };
            }
            Setting::MaxSentinels(n) => self.max_sentinels = *n,
            Setting::AnnounceHostnames(b) => self.announce_hostnames = *b,
            Setting::SentinelUser(_) | Setting::SentinelPass(_) => {}
        }
    }
}
