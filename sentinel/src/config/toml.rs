//! The Sentinel configuration as TOML (`picket-sentinel sentinel.toml`): the same settings
//! as the redis.conf form, read into the same directives so both are checked by one code
//! path, and rewritten in place with `toml_edit` so the user's comments, key order and other
//! keys survive every state save.
//!
//! ```toml
//! port = 26379
//! bind = ["127.0.0.1", "-::1"]       # or "127.0.0.1 -::1"
//! dir = "/var/lib/picket"
//!
//! [sentinel]                         # process-wide state and options
//! myid = "..."                       # written on first start
//! current-epoch = 0
//! deny-scripts-reconfig = true       # or "yes"
//! announce-ip = "10.0.0.1"
//! max-sentinels-per-master = 64      # picket's own; written when not the default
//!
//! [masters.mymaster]                 # one table per monitored master
//! host = "10.0.0.2"
//! port = 6379
//! quorum = 2
//! down-after-milliseconds = 5000
//! rename-command = { CONFIG = "xconfig" }
//! known-replicas = ["10.0.0.3:6379"]
//! known-sentinels = ["10.0.0.4:26379 <40-hex run id>"]
//! ```
//!
//! Top-level keys are the server directives of redis.conf (any of picket-server's table,
//! by its TOML rules: `save = ["900 1", "300 10"]`, `bind = "127.0.0.1 -::1"`).
//! Values: strings, integers, or booleans (`true` = `yes`). `known-sentinels` entries may
//! also be inline tables `{ ip = "..", port = 26379, runid = ".." }`, and `rename-command`
//! an array of `["OLD", "new"]` pairs.

use std::ops::Range;

use toml_edit as te;

use super::{bad, ConfigError, Directive, ServerSettings};
use crate::core::{Core, Master, Timers};

/// Keys of `[sentinel]`, as `sentinel <key> <value>` lines.
const SENTINEL_KEYS: &[&str] = &[
    "myid",
    "current-epoch",
    "announce-ip",
    "announce-port",
    "deny-scripts-reconfig",
    "resolve-hostnames",
    "announce-hostnames",
    "sentinel-user",
    "sentinel-pass",
    "max-sentinels-per-master",
];

/// Keys of `[masters.<name>]` that are `sentinel <key> <name> <value>` lines.
const MASTER_OPTIONS: &[&str] = &[
    "down-after-milliseconds",
    "failover-timeout",
    "parallel-syncs",
    "auth-pass",
    "auth-user",
    "notification-script",
    "client-reconfig-script",
    "master-reboot-down-after-period",
    "config-epoch",
    "leader-epoch",
];

fn line_of(text: &str, span: Option<Range<usize>>) -> usize {
    let end = span.map_or(0, |r| r.start).min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Reads TOML text as directives.
pub(super) fn directives(text: &str) -> Result<Vec<Directive>, ConfigError> {
    let doc = te::Document::parse(text.to_string()).map_err(|e| {
        let line = line_of(text, e.span());
        bad(
            line,
            text.lines().nth(line - 1).unwrap_or(""),
            format!("TOML parse error: {}", e.message().trim()),
        )
    })?;
    let mut r = Reader {
        text,
        out: Vec::new(),
    };
    let root = doc.as_table();
    for (key, item) in root.iter() {
        let span = root.key(key).and_then(te::Key::span);
        match key {
            "sentinel" => {
                let t = r.table(item, span.clone(), "sentinel")?;
                for (k, v) in t.iter() {
                    let span = t.key(k).and_then(te::Key::span);
                    if !SENTINEL_KEYS.contains(&k) {
                        return Err(r.err(span, format!("Unknown sentinel directive '{k}'")));
                    }
                    let v = r.scalar(v, span.clone(), k)?;
                    r.push(span, vec!["sentinel".into(), k.into(), v]);
                }
            }
            "masters" => {
                let t = r.table(item, span.clone(), "masters")?;
                for (name, m) in t.iter() {
                    let span = t.key(name).and_then(te::Key::span);
                    let m = r.table(m, span.clone(), name)?;
                    r.master(name, m, span)?;
                }
            }
            k => {
                // Any server directive (or alias) of the table, by the rules of
                // picket-server's TOML files.
                let lower = k.to_ascii_lowercase();
                let d = super::directives::TABLE
                    .iter()
                    .find(|d| d.name == lower || d.aliases.contains(&lower.as_str()));
                let (Some(d), Some(v)) = (d, item.as_value()) else {
                    return Err(r.err(
                        span,
                        format!("Bad directive or wrong number of arguments ('{k}')"),
                    ));
                };
                let lines = picket_common::config::toml_value_lines(d, v)
                    .map_err(|why| r.err(span.clone(), format!("'{k}': {why}")))?;
                for (args, at) in lines {
                    let mut words = vec![k.to_string()];
                    words.extend(args);
                    r.push(at.or(span.clone()), words);
                }
            }
        }
    }
    Ok(r.out)
}

struct Reader<'a> {
    text: &'a str,
    out: Vec<Directive>,
}

impl Reader<'_> {
    fn err(&self, span: Option<Range<usize>>, why: impl Into<String>) -> ConfigError {
        let line = line_of(self.text, span);
        bad(line, self.text.lines().nth(line - 1).unwrap_or(""), why)
    }

    fn push(&mut self, span: Option<Range<usize>>, words: Vec<String>) {
        let line = line_of(self.text, span);
        self.out.push(Directive {
            line,
            text: self.text.lines().nth(line - 1).unwrap_or("").to_string(),
            words,
        });
    }

    fn table<'t>(
        &self,
        item: &'t te::Item,
        span: Option<Range<usize>>,
        what: &str,
    ) -> Result<&'t dyn te::TableLike, ConfigError> {
        item.as_table_like()
            .ok_or_else(|| self.err(span, format!("'{what}' must be a table")))
    }

    fn scalar_value(
        &self,
        v: &te::Value,
        span: Option<Range<usize>>,
        key: &str,
    ) -> Result<String, ConfigError> {
        plain(v).ok_or_else(|| {
            self.err(
                v.span().or(span),
                format!("'{key}' must be a string, an integer or a boolean"),
            )
        })
    }

    fn scalar(
        &self,
        item: &te::Item,
        span: Option<Range<usize>>,
        key: &str,
    ) -> Result<String, ConfigError> {
        match item.as_value() {
            Some(v) => self.scalar_value(v, span, key),
            None => Err(self.err(
                span,
                format!("'{key}' must be a string, an integer or a boolean"),
            )),
        }
    }

    fn strings<'t>(
        &self,
        item: &'t te::Item,
        span: Option<Range<usize>>,
        key: &str,
    ) -> Result<Vec<&'t te::Value>, ConfigError> {
        match item.as_value() {
            Some(te::Value::Array(a)) => Ok(a.iter().collect()),
            _ => Err(self.err(span, format!("'{key}' must be an array"))),
        }
    }

    /// `[masters.<name>]`: a monitor line first, then the options in file order.
    fn master(
        &mut self,
        name: &str,
        t: &dyn te::TableLike,
        span: Option<Range<usize>>,
    ) -> Result<(), ConfigError> {
        let get = |k: &str| t.get(k).map(|i| (i, t.key(k).and_then(te::Key::span)));
        let (Some(host), Some(port), Some(quorum)) = (get("host"), get("port"), get("quorum"))
        else {
            return Err(self.err(
                span,
                format!("masters.{name}: 'host', 'port' and 'quorum' are required"),
            ));
        };
        let words = vec![
            "sentinel".to_string(),
            "monitor".into(),
            name.into(),
            self.scalar(host.0, host.1, "host")?,
            self.scalar(port.0, port.1.clone(), "port")?,
            self.scalar(quorum.0, quorum.1, "quorum")?,
        ];
        self.push(span, words);
        let line = |d: &str, rest: Vec<String>| {
            let mut w = vec!["sentinel".to_string(), d.to_string(), name.to_string()];
            w.extend(rest);
            w
        };
        for (k, item) in t.iter() {
            let span = t.key(k).and_then(te::Key::span);
            match k {
                "host" | "port" | "quorum" => {}
                k if MASTER_OPTIONS.contains(&k) => {
                    let v = self.scalar(item, span.clone(), k)?;
                    self.push(span, line(k, vec![v]));
                }
                "known-replicas" => {
                    for e in self.strings(item, span.clone(), k)? {
                        let s = self.scalar_value(e, span.clone(), k)?;
                        let a = parse_addr(&s).ok_or_else(|| {
                            self.err(e.span().or(span.clone()), format!("Bad address '{s}'"))
                        })?;
                        self.push(span.clone(), line("known-replica", vec![a.0, a.1]));
                    }
                }
                "known-sentinels" => {
                    for e in self.strings(item, span.clone(), k)? {
                        let (ip, port, runid) = self.sentinel_entry(e, span.clone())?;
                        self.push(span.clone(), line("known-sentinel", vec![ip, port, runid]));
                    }
                }
                "rename-command" => {
                    let mut pairs = Vec::new();
                    if let Some(rt) = item.as_table_like() {
                        for (from, to) in rt.iter() {
                            pairs.push((from.to_string(), self.scalar(to, span.clone(), k)?));
                        }
                    } else {
                        for e in self.strings(item, span.clone(), k)? {
                            let words: Vec<String> = match e {
                                te::Value::Array(a) => a
                                    .iter()
                                    .map(|x| self.scalar_value(x, span.clone(), k))
                                    .collect::<Result<_, _>>()?,
                                other => self
                                    .scalar_value(other, span.clone(), k)?
                                    .split_whitespace()
                                    .map(str::to_string)
                                    .collect(),
                            };
                            let [from, to] = <[String; 2]>::try_from(words).map_err(|_| {
                                self.err(
                                    e.span().or(span.clone()),
                                    "rename-command entries are [\"OLD\", \"new\"]",
                                )
                            })?;
                            pairs.push((from, to));
                        }
                    }
                    for (from, to) in pairs {
                        self.push(span.clone(), line("rename-command", vec![from, to]));
                    }
                }
                k => {
                    return Err(self.err(
                        span,
                        format!("Unknown sentinel directive '{k}' (masters.{name})"),
                    ))
                }
            }
        }
        Ok(())
    }

    /// `"ip:port runid"` or `{ ip = "..", port = n, runid = ".." }`.
    fn sentinel_entry(
        &self,
        e: &te::Value,
        span: Option<Range<usize>>,
    ) -> Result<(String, String, String), ConfigError> {
        let bad_entry = || {
            self.err(
                e.span().or(span.clone()),
                "known-sentinels entries are \"ip:port runid\" or { ip, port, runid }",
            )
        };
        if let te::Value::InlineTable(t) = e {
            let field = |k: &str| {
                t.get(k)
                    .and_then(|v| self.scalar_value(v, span.clone(), k).ok())
            };
            return match (field("ip"), field("port"), field("runid")) {
                (Some(ip), Some(port), Some(runid)) => Ok((ip, port, runid)),
                _ => Err(bad_entry()),
            };
        }
        let s = self.scalar_value(e, span.clone(), "known-sentinels")?;
        let mut w = s.split_whitespace();
        let (Some(addr), Some(runid), None) = (w.next(), w.next(), w.next()) else {
            return Err(bad_entry());
        };
        let (ip, port) = parse_addr(addr).ok_or_else(bad_entry)?;
        Ok((ip, port, runid.to_string()))
    }
}

/// `ip:port`, `[v6]:port` (or a bare v6 address whose last colon starts the port).
fn parse_addr(s: &str) -> Option<(String, String)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || port.is_empty() {
        return None;
    }
    Some((host.to_string(), port.to_string()))
}

// ---------------------------------------------------------------------------- rewrite

/// A string, integer or boolean as its text.
fn plain(v: &te::Value) -> Option<String> {
    match v {
        te::Value::String(s) => Some(s.value().clone()),
        te::Value::Integer(n) => Some(n.value().to_string()),
        te::Value::Boolean(b) => Some(if *b.value() { "yes" } else { "no" }.into()),
        _ => None,
    }
}

/// The same value (type and content), whatever the formatting.
fn same(a: &te::Value, b: &te::Value) -> bool {
    match (a, b) {
        (te::Value::String(x), te::Value::String(y)) => x.value() == y.value(),
        (te::Value::Integer(x), te::Value::Integer(y)) => x.value() == y.value(),
        (te::Value::Boolean(x), te::Value::Boolean(y)) => x.value() == y.value(),
        (te::Value::Array(x), te::Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same(a, b))
        }
        (te::Value::InlineTable(x), te::Value::InlineTable(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => false,
    }
}

/// Set `key` to `v`, leaving an equal value untouched and keeping the comments around a
/// changed one.
fn set(t: &mut dyn te::TableLike, key: &str, v: te::Value) {
    match t.get_mut(key) {
        Some(item) => match item.as_value() {
            Some(old) if same(old, &v) => {}
            Some(old) => {
                let mut v = v;
                *v.decor_mut() = old.decor().clone();
                *item = te::Item::Value(v);
            }
            None => *item = te::Item::Value(v),
        },
        None => {
            t.insert(key, te::Item::Value(v));
        }
    }
}

/// A boolean in the user's style: `true`, or `"yes"` if the key held a string.
fn boolean(t: &dyn te::TableLike, key: &str, b: bool) -> te::Value {
    match t.get(key).and_then(te::Item::as_value) {
        Some(te::Value::String(_)) => te::Value::from(if b { "yes" } else { "no" }),
        _ => te::Value::from(b),
    }
}

/// Set a key whose default value is left out of the file unless the user wrote it.
fn set_unless_default(t: &mut dyn te::TableLike, key: &str, v: te::Value, default: bool) {
    if !default || t.contains_key(key) {
        set(t, key, v);
    }
}

/// Set an optional key: `None` removes it.
fn set_opt(t: &mut dyn te::TableLike, key: &str, v: Option<te::Value>) {
    match v {
        Some(v) => set(t, key, v),
        None => {
            t.remove(key);
        }
    }
}

fn int(n: u64) -> te::Value {
    te::Value::from(i64::try_from(n).unwrap_or(i64::MAX))
}

/// An array, one entry per line when it has more than one.
fn list(items: Vec<String>) -> te::Value {
    let mut a = te::Array::new();
    let many = items.len() > 1;
    for s in items {
        let v = te::Value::from(s);
        a.push_formatted(if many { v.decorated("\n    ", "") } else { v });
    }
    if many {
        a.set_trailing_comma(true);
        a.set_trailing("\n");
    }
    te::Value::Array(a)
}

/// The table under `key`, created (as `[key]`, or implicit for a parent of tables) when
/// missing or not a table; `first` puts a new one before the file's other tables.
fn table_mut<'a>(
    t: &'a mut dyn te::TableLike,
    key: &str,
    implicit: bool,
    first: bool,
) -> &'a mut dyn te::TableLike {
    if !t.get(key).is_some_and(|i| i.is_table_like()) {
        let mut new = te::Table::new();
        new.set_implicit(implicit);
        if first {
            new.set_position(Some(-1));
        }
        t.insert(key, te::Item::Table(new));
    }
    t.get_mut(key)
        .and_then(te::Item::as_table_like_mut)
        .expect("just made a table")
}

/// The new text of a TOML config file: the state keys updated, everything else (comments,
/// order, the server keys) as it was.
pub(super) fn rewritten(old: &str, core: &Core, s: &ServerSettings) -> Result<String, ConfigError> {
    let mut doc: te::DocumentMut = old.parse().map_err(|e: te::TomlError| {
        let line = line_of(old, e.span());
        bad(
            line,
            old.lines().nth(line - 1).unwrap_or(""),
            format!("TOML parse error: {}", e.message().trim()),
        )
    })?;
    let root = doc.as_table_mut();
    let t = Timers::default();
    users(root, s);
    {
        let st = table_mut(root, "sentinel", false, true);
        set(st, "myid", te::Value::from(core.myid.as_str()));
        let deny = boolean(st, "deny-scripts-reconfig", s.deny_scripts_reconfig);
        set(st, "deny-scripts-reconfig", deny);
        let resolve = boolean(st, "resolve-hostnames", s.resolve_hostnames);
        set(st, "resolve-hostnames", resolve);
        let announce = boolean(st, "announce-hostnames", s.announce_hostnames);
        set(st, "announce-hostnames", announce);
        set(st, "current-epoch", int(core.current_epoch));
        set_opt(
            st,
            "announce-ip",
            (!s.announce_ip.is_empty()).then(|| te::Value::from(s.announce_ip.as_str())),
        );
        set_opt(
            st,
            "announce-port",
            (s.announce_port != 0).then(|| int(u64::from(s.announce_port))),
        );
        set_opt(
            st,
            "sentinel-user",
            s.sentinel_user.as_deref().map(te::Value::from),
        );
        set_opt(
            st,
            "sentinel-pass",
            s.sentinel_pass.as_deref().map(te::Value::from),
        );
        let max = s.max_sentinels_per_master;
        set_unless_default(
            st,
            "max-sentinels-per-master",
            int(u64::try_from(max).unwrap_or(u64::MAX)),
            max == crate::core::DEFAULT_MAX_SENTINELS,
        );
    }
    let masters = table_mut(root, "masters", true, false);
    let gone: Vec<String> = masters
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !core.masters.contains_key(k))
        .collect();
    for k in gone {
        masters.remove(&k);
    }
    for (name, m) in &core.masters {
        master_keys(table_mut(masters, name, false, false), m, &t);
    }
    Ok(doc.to_string())
}

/// The top-level `user` key: the live users (as the redis.conf form's `user` lines) once
/// they differ from those the configuration gives (ACL SETUSER, DELUSER, LOAD); else the
/// key stays as written. Not with an ACL file, whose users are not the config file's.
fn users(root: &mut dyn te::TableLike, s: &ServerSettings) {
    let Some(live) = s.user_lines() else {
        return;
    };
    let configured = crate::acl::load_users(&s.users_config())
        .ok()
        .and_then(|acl| crate::acl::rewrite_lines(&acl, ""));
    if configured.as_ref() != Some(&live) {
        set(root, "user", list(live));
    }
}

fn master_keys(mt: &mut dyn te::TableLike, m: &Master, t: &Timers) {
    let a = m.current_addr();
    set(mt, "host", te::Value::from(a.host.as_str()));
    set(mt, "port", int(u64::from(a.port)));
    set(mt, "quorum", int(u64::from(m.quorum)));
    set_unless_default(
        mt,
        "down-after-milliseconds",
        int(m.down_after),
        m.down_after == t.default_down_after,
    );
    set_unless_default(
        mt,
        "failover-timeout",
        int(m.failover_timeout),
        m.failover_timeout == t.default_failover_timeout,
    );
    set_unless_default(
        mt,
        "parallel-syncs",
        int(u64::from(m.parallel_syncs)),
        m.parallel_syncs == 1,
    );
    let text = |v: &Option<String>| v.as_deref().map(te::Value::from);
    set_opt(mt, "notification-script", text(&m.notification_script));
    set_opt(
        mt,
        "client-reconfig-script",
        text(&m.client_reconfig_script),
    );
    set_opt(mt, "auth-pass", text(&m.auth_pass));
    set_opt(mt, "auth-user", text(&m.auth_user));
    set_unless_default(
        mt,
        "master-reboot-down-after-period",
        int(m.reboot_down_after),
        m.reboot_down_after == 0,
    );
    set(mt, "config-epoch", int(m.config_epoch));
    set(mt, "leader-epoch", int(m.leader_epoch));
    let replicas: Vec<String> = m
        .replicas
        .values()
        .filter(|r| r.inst.addr != a)
        .map(|r| r.inst.addr.name())
        .collect();
    let empty = replicas.is_empty();
    set_unless_default(mt, "known-replicas", list(replicas), empty);
    let sentinels: Vec<String> = m
        .sentinels
        .iter()
        .map(|(id, x)| format!("{} {id}", x.inst.addr.name()))
        .collect();
    let empty = sentinels.is_empty();
    // Entries written as inline tables by the user stay so while they hold the same data.
    let same_tables = mt
        .get("known-sentinels")
        .and_then(te::Item::as_array)
        .is_some_and(|a| {
            a.len() == m.sentinels.len()
                && a.iter().all(|e| match e {
                    te::Value::InlineTable(t) => {
                        let f = |k: &str| t.get(k).and_then(plain);
                        f("runid")
                            .and_then(|id| m.sentinels.get(&id))
                            .is_some_and(|x| {
                                f("ip").as_deref() == Some(x.inst.addr.host.as_str())
                                    && f("port") == Some(x.inst.addr.port.to_string())
                            })
                    }
                    _ => false,
                })
        });
    if !same_tables {
        set_unless_default(mt, "known-sentinels", list(sentinels), empty);
    }
    // rename-command: left as written while it maps the same names (case-insensitively).
    let current: Vec<(String, String)> = match mt.get("rename-command") {
        Some(i) => match i.as_table_like() {
            Some(rt) => rt
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.to_ascii_lowercase(), v.to_string())))
                .collect(),
            None => i
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| {
                            let w: Vec<String> = match e {
                                te::Value::Array(p) => p
                                    .iter()
                                    .filter_map(|x| x.as_str().map(str::to_string))
                                    .collect(),
                                te::Value::String(s) => {
                                    s.value().split_whitespace().map(str::to_string).collect()
                                }
                                _ => Vec::new(),
                            };
                            (w.len() == 2).then(|| (w[0].to_ascii_lowercase(), w[1].clone()))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        None => Vec::new(),
    };
    let mut current = current;
    current.sort();
    let mut wanted: Vec<(String, String)> = m
        .renamed
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    wanted.sort();
    if current != wanted {
        if wanted.is_empty() {
            mt.remove("rename-command");
        } else {
            let mut it = te::InlineTable::new();
            for (k, v) in &wanted {
                it.insert(k.to_ascii_uppercase().as_str(), te::Value::from(v.as_str()));
            }
            set(mt, "rename-command", te::Value::InlineTable(it));
        }
    }
}

#[cfg(test)]
#[path = "toml_tests.rs"]
mod tests;
