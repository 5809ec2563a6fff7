//! The special directive kinds of Redis 7.0's compatibility rows (values with their own
//! syntax, display and CONFIG SET errors), and the checks of single values: each with
//! Redis's error text, learnt from redis-server 7.0.15.

use picket_common::config::{CustomKind, RewriteLine, Value};
use picket_common::sds::{format_memory, memtoull, string2ll, strtoll_whole};

use crate::command::rename::Renames;

fn one_line(args: Vec<String>, v: &Value, default: &Value) -> Vec<RewriteLine> {
    vec![RewriteLine {
        args,
        force: v != default,
    }]
}

fn list(v: &Value) -> &[String] {
    match v {
        Value::List(items) => items,
        _ => &[],
    }
}

/// An enum whose names include synonyms, shown as the first name of the same meaning
/// (Redis's `configEnumGetName`): `oom-score-adj relative` reads back as `yes`.
#[derive(Debug)]
pub struct SynonymEnum {
    /// Every accepted name, in Redis's order (the order of its error message).
    pub names: &'static [&'static str],
    /// (synonym, the name it is shown as).
    pub shown_as: &'static [(&'static str, &'static str)],
}

impl CustomKind for SynonymEnum {
    fn empty(&self) -> Value {
        Value::Str(String::new())
    }
    fn set(&self, _current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        let arg = args.first().map(String::as_str).unwrap_or_default();
        let name = self
            .names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(arg))
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    self.names.join(", ")
                )
            })?;
        let shown = self
            .shown_as
            .iter()
            .find(|(syn, _)| syn == name)
            .map_or(*name, |(_, shown)| *shown);
        Ok(Value::Str(shown.to_string()))
    }
    fn display(&self, v: &Value) -> String {
        match v {
            Value::Str(s) => s.clone(),
            _ => String::new(),
        }
    }
    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        one_line(vec![self.display(v)], v, default)
    }
    fn multi_arg(&self) -> bool {
        false
    }
}

/// Bytes with memory units, or a percentage of `maxmemory` (`maxmemory-clients 5%`),
/// stored as Redis does: a percentage as a negative number.
#[derive(Debug)]
pub struct MemoryOrPercent {
    pub max_percent: i64,
}

impl CustomKind for MemoryOrPercent {
    fn empty(&self) -> Value {
        Value::Int(0)
    }
    fn set(&self, _current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        let arg = args.first().map(String::as_str).unwrap_or_default();
        let too_much = || {
            format!(
                "percentage argument must be less or equal to {}",
                self.max_percent
            )
        };
        if let Some(p) = arg.strip_suffix('%').filter(|_| arg.len() > 1) {
            if let Some(p) = string2ll(p.as_bytes()).filter(|&p| p >= 0) {
                if p > self.max_percent {
                    return Err(too_much());
                }
                return Ok(Value::Int(-p));
            }
        }
        let n = memtoull(arg).ok_or("argument must be a memory or percent value")?;
        // Redis keeps the bytes in a signed long long: past i64::MAX they read as a
        // (too large) percentage.
        i64::try_from(n).map(Value::Int).map_err(|_| too_much())
    }
    fn display(&self, v: &Value) -> String {
        match v {
            Value::Int(n) if *n < 0 => format!("{}%", n.unsigned_abs()),
            Value::Int(n) => n.to_string(),
            _ => String::new(),
        }
    }
    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        let arg = match v {
            Value::Int(n) if *n >= 0 => format_memory(n.unsigned_abs()),
            _ => self.display(v),
        };
        one_line(vec![arg], v, default)
    }
    fn multi_arg(&self) -> bool {
        false
    }
}

/// `latency-tracking-info-percentiles`: numbers in 0..=100 on one line, shown as C's `%f`
/// without trailing zeros; `""` is none.
#[derive(Debug)]
pub struct Percentiles;

fn format_percentile(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

impl CustomKind for Percentiles {
    fn empty(&self) -> Value {
        Value::List(Vec::new())
    }
    fn set(&self, _current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        if matches!(args, [one] if one.is_empty()) {
            return Ok(Value::List(Vec::new()));
        }
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            // Redis's string2d: the whole argument, no spaces around, not NaN.
            let p: f64 = a
                .parse()
                .ok()
                .filter(|p: &f64| !p.is_nan() && !a.starts_with(char::is_whitespace))
                .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
            if !(0.0..=100.0).contains(&p) {
                return Err(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                        .into(),
                );
            }
            out.push(format_percentile(p));
        }
        Ok(Value::List(out))
    }
    fn display(&self, v: &Value) -> String {
        list(v).join(" ")
    }
    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        let args = match list(v) {
            [] => vec![String::new()],
            items => items.to_vec(),
        };
        one_line(args, v, default)
    }
}

/// `oom-score-adj-values`: three integers in -2000..=2000 (C `strtoll`, whole argument).
#[derive(Debug)]
pub struct OomScoreValues;

impl CustomKind for OomScoreValues {
    fn empty(&self) -> Value {
        Value::List(Vec::new())
    }
    fn set(&self, _current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        if args.len() != 3 {
            return Err("wrong number of arguments".into());
        }
        args.iter()
            .map(|a| {
                strtoll_whole(a)
                    .filter(|n| (-2000..=2000).contains(n))
                    .map(|n| n.to_string())
                    .ok_or_else(|| {
                        "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                            .to_string()
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List)
    }
    fn display(&self, v: &Value) -> String {
        list(v).join(" ")
    }
    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        one_line(list(v).to_vec(), v, default)
    }
}

/// What a signal's shutdown does (`shutdown-on-sigterm`, `shutdown-on-sigint`): the flags
/// of SHUTDOWN; none is `default` (save if save points are configured).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownFlags {
    pub save: bool,
    pub nosave: bool,
    pub now: bool,
    pub force: bool,
}

const SHUTDOWN_NAMES: &[&str] = &["default", "save", "nosave", "now", "force"];

impl ShutdownFlags {
    /// From the stored form (`save now`, `default`).
    pub fn parse(s: &str) -> ShutdownFlags {
        let mut f = ShutdownFlags::default();
        for word in s.split(' ') {
            match word {
                "save" => f.save = true,
                "nosave" => f.nosave = true,
                "now" => f.now = true,
                "force" => f.force = true,
                _ => {}
            }
        }
        f
    }

    /// Redis's spelling: the set flags in table order, or `default`.
    pub fn name(&self) -> String {
        let words: Vec<&str> = [
            (self.save, "save"),
            (self.nosave, "nosave"),
            (self.now, "now"),
            (self.force, "force"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| w)
        .collect();
        if words.is_empty() {
            "default".into()
        } else {
            words.join(" ")
        }
    }
}

/// The kind of [`ShutdownFlags`]: any of `default save nosave now force` on one line.
#[derive(Debug)]
pub struct ShutdownFlagsKind;

impl CustomKind for ShutdownFlagsKind {
    fn empty(&self) -> Value {
        Value::Str("default".into())
    }
    fn set(&self, _current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        if args.is_empty() {
            return Err("wrong number of arguments".into());
        }
        let mut words = Vec::with_capacity(args.len());
        for a in args {
            let name = SHUTDOWN_NAMES
                .iter()
                .find(|n| n.eq_ignore_ascii_case(a))
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        SHUTDOWN_NAMES.join(", ")
                    )
                })?;
            words.push(*name);
        }
        let flags = ShutdownFlags::parse(&words.join(" "));
        if flags.save && flags.nosave {
            return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
        }
        Ok(Value::Str(flags.name()))
    }
    fn display(&self, v: &Value) -> String {
        match v {
            Value::Str(s) => s.clone(),
            _ => String::new(),
        }
    }
    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        let args = self.display(v).split(' ').map(str::to_string).collect();
        one_line(args, v, default)
    }
}

/// An octal number in `0..=max` (`unixsocketperm 700`), shown in octal.
#[derive(Debug)]
pub struct Octal {
    pub max: i64,
}

/// C `strtoll(s, &end, 8)` consuming the whole string.
fn strtoll_octal(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() {
        return if s.is_empty() { Some(0) } else { None };
    }
    if !digits.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
        return None;
    }
    let v = i64::from_str_radix(digits, 8).unwrap_or(i64::MAX);
    Some(if negative { -v } else { v })
}

impl CustomKind for Octal {
    fn empty(&self) -> Value {
        Value::Int(0)
    }
    fn set(&self, _current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        let arg = args.first().map(String::as_str).unwrap_or_default();
        let n = strtoll_octal(arg).ok_or("argument couldn't be parsed as an octal number")?;
        if !(0..=self.max).contains(&n) {
            return Err(format!(
                "argument must be between 0 and {:o} inclusive",
                self.max
            ));
        }
        Ok(Value::Int(n))
    }
    fn display(&self, v: &Value) -> String {
        match v {
            Value::Int(n) => format!("{n:o}"),
            _ => String::new(),
        }
    }
    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        one_line(vec![self.display(v)], v, default)
    }
    fn multi_arg(&self) -> bool {
        false
    }
}

/// `rename-command <name> <new-name>` lines, kept as pairs (a flat list) and checked by
/// replaying them on the command table as Redis does.
#[derive(Debug)]
pub struct RenameCommandKind;

/// The pairs of a `rename-command` value.
pub fn rename_pairs(v: &Value) -> impl Iterator<Item = (&str, &str)> {
    list(v)
        .chunks_exact(2)
        .map(|p| (p[0].as_str(), p[1].as_str()))
}

impl CustomKind for RenameCommandKind {
    fn empty(&self) -> Value {
        Value::List(Vec::new())
    }
    fn set(&self, current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        match args {
            // Only the (empty) default has no arguments.
            [] => Ok(current.clone()),
            [old, new] => {
                let mut renames =
                    Renames::from_pairs(rename_pairs(current)).map_err(|e| e.to_string())?;
                renames.rename(old, new).map_err(|e| e.to_string())?;
                let mut pairs = list(current).to_vec();
                pairs.extend([old.clone(), new.clone()]);
                Ok(Value::List(pairs))
            }
            _ => Err("wrong number of arguments".into()),
        }
    }
    fn display(&self, v: &Value) -> String {
        list(v).join(" ")
    }
    fn rewrite_lines(&self, _v: &Value, _default: &Value) -> Vec<RewriteLine> {
        // File-only: CONFIG REWRITE keeps the file's lines.
        Vec::new()
    }
    fn repeatable(&self) -> bool {
        true
    }
}

/// A file-only directive picket refuses whatever its arguments (`loadmodule`, `user`).
#[derive(Debug)]
pub struct Refused {
    pub reason: &'static str,
}

impl CustomKind for Refused {
    fn empty(&self) -> Value {
        Value::List(Vec::new())
    }
    fn set(&self, current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        if args.is_empty() {
            // The (empty) default.
            return Ok(current.clone());
        }
        Err(self.reason.into())
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

// ------------------------------------------------------------------------------ checks

/// The reason a value picket cannot honour is refused, e.g. `TLS is not supported`.
fn unsupported(what: &str) -> String {
    format!("not supported by picket: {what}")
}

/// `cluster-enabled`: only `no`.
pub fn no_cluster(v: &Value) -> Result<(), String> {
    match v {
        Value::Bool(true) => Err(unsupported(
            "picket has no Redis Cluster mode; use replication with Sentinel",
        )),
        _ => Ok(()),
    }
}

/// `unixsocket`: only "".
pub fn no_unixsocket(v: &Value) -> Result<(), String> {
    match v {
        Value::Str(s) if !s.is_empty() => Err(unsupported(
            "picket listens on TCP only; remove the line or set it to \"\"",
        )),
        _ => Ok(()),
    }
}

/// `activedefrag yes` fails as on Debian's redis-server, which has no defragmenting
/// allocator either.
pub fn no_active_defrag(v: &Value) -> Result<(), String> {
    match v {
        Value::Bool(true) => Err("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution".into()),
        _ => Ok(()),
    }
}

/// `cluster-announce-hostname`: letters, digits, `-` and `.` (Redis's
/// `isValidAnnouncedHostname`).
pub fn valid_hostname(v: &Value) -> Result<(), String> {
    match v {
        Value::Str(s)
            if !s
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.') =>
        {
            Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into())
        }
        _ => Ok(()),
    }
}

/// `proc-title-template`: Redis expands it with an empty title and refuses unknown
/// `{variables}`, an unclosed `{`, and a result that is empty once spaces are trimmed.
pub fn valid_proc_title(v: &Value) -> Result<(), String> {
    const INVALID: &str = "template format is invalid or contains unknown variables";
    let Value::Str(t) = v else { return Ok(()) };
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if after.is_empty() {
            return Err(INVALID.into());
        }
        if let Some(more) = after.strip_prefix('{') {
            out.push('{');
            rest = more;
            continue;
        }
        let close = after.find('}').ok_or(INVALID)?;
        // What each variable expands to when Redis validates (title ""): picket has no
        // unix socket and runs standalone; the others are never empty.
        let value = match &after[..close] {
            "title" | "server-mode" | "unixsocket" => "",
            "listen-addr" | "port" | "tls-port" | "config-file" => "x",
            _ => return Err(INVALID.into()),
        };
        out.push_str(value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if out.trim_matches(' ').is_empty() {
        return Err(INVALID.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        picket_common::sds::split_spaces(s)
    }

    #[test]
    fn synonym_enum_shows_the_first_name() {
        static K: SynonymEnum = SynonymEnum {
            names: &["no", "yes", "relative", "absolute"],
            shown_as: &[("relative", "yes")],
        };
        let e = K.empty();
        assert_eq!(
            K.set(&e, &args("RELATIVE"), true),
            Ok(Value::Str("yes".into()))
        );
        assert_eq!(
            K.set(&e, &args("absolute"), true),
            Ok(Value::Str("absolute".into()))
        );
        assert_eq!(
            K.set(&e, &args("x"), true).unwrap_err(),
            "argument(s) must be one of the following: no, yes, relative, absolute"
        );
    }

    #[test]
    fn memory_or_percent() {
        let k = MemoryOrPercent { max_percent: 100 };
        let e = k.empty();
        let show = |a: &str| k.set(&e, &args(a), true).map(|v| k.display(&v));
        assert_eq!(show("10%").unwrap(), "10%");
        assert_eq!(show("0%").unwrap(), "0");
        assert_eq!(show("100%").unwrap(), "100%");
        assert_eq!(show("1k").unwrap(), "1000");
        assert_eq!(k.set(&e, &[String::new()], true), Ok(Value::Int(0)));
        assert_eq!(show("9223372036854775807").unwrap(), "9223372036854775807");
        let much = "percentage argument must be less or equal to 100";
        assert_eq!(show("101%").unwrap_err(), much);
        assert_eq!(show("9223372036854775808").unwrap_err(), much);
        for bad in ["-1%", "1.5%", "5%x", "x", "-1"] {
            assert_eq!(
                show(bad).unwrap_err(),
                "argument must be a memory or percent value",
                "{bad}"
            );
        }
        let v = k.set(&e, &args("2mb"), true).unwrap();
        assert_eq!(k.rewrite_lines(&v, &e)[0].args, ["2mb"]);
    }

    #[test]
    fn percentiles_as_redis_prints_them() {
        let k = Percentiles;
        let e = k.empty();
        let show = |a: &str| k.set(&e, &args(a), true).map(|v| k.display(&v));
        assert_eq!(show("50 99 99.9").unwrap(), "50 99 99.9");
        assert_eq!(show("50.0 1e2 .5 5. +5").unwrap(), "50 100 0.5 5 5");
        assert_eq!(
            show("33.333333333 0.0000001 99.9999999").unwrap(),
            "33.333333 0 100"
        );
        assert_eq!(show("-0").unwrap(), "-0");
        assert_eq!(show("").unwrap(), "");
        let invalid = "Invalid latency-tracking-info-percentiles parameters";
        let range = "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
        assert_eq!(show("nan").unwrap_err(), invalid);
        assert_eq!(show("50  99").unwrap_err(), invalid);
        assert_eq!(show("1,2").unwrap_err(), invalid);
        assert_eq!(show("inf").unwrap_err(), range);
        assert_eq!(show("100.1").unwrap_err(), range);
    }

    #[test]
    fn oom_score_values() {
        let k = OomScoreValues;
        let e = k.empty();
        let show = |a: &str| k.set(&e, &args(a), true).map(|v| k.display(&v));
        assert_eq!(show("0 200 800").unwrap(), "0 200 800");
        assert_eq!(show("+1 2 -2000").unwrap(), "1 2 -2000");
        assert_eq!(
            show("0 200 800 1").unwrap_err(),
            "wrong number of arguments"
        );
        assert_eq!(show("0  200 800").unwrap_err(), "wrong number of arguments");
        let bad = "Invalid oom-score-adj-values, elements must be between -2000 and 2000.";
        assert_eq!(show("0 200 x").unwrap_err(), bad);
        assert_eq!(show("0 200 2001").unwrap_err(), bad);
    }

    #[test]
    fn shutdown_flags() {
        let k = ShutdownFlagsKind;
        let e = k.empty();
        let show = |a: &str| k.set(&e, &args(a), true).map(|v| k.display(&v));
        assert_eq!(show("force save").unwrap(), "save force");
        assert_eq!(show("force now nosave").unwrap(), "nosave now force");
        assert_eq!(show("default now").unwrap(), "now");
        assert_eq!(show("NOW now").unwrap(), "now");
        assert_eq!(show("default").unwrap(), "default");
        assert_eq!(
            show("save nosave").unwrap_err(),
            "shutdown options SAVE and NOSAVE can't be used simultaneously"
        );
        let one_of = "argument(s) must be one of the following: default, save, nosave, now, force";
        assert_eq!(show("force,now").unwrap_err(), one_of);
        assert_eq!(k.set(&e, &[String::new()], true).unwrap_err(), one_of);
        let f = ShutdownFlags::parse("nosave now force");
        assert!(f.nosave && f.now && f.force && !f.save);
    }

    #[test]
    fn octal() {
        let k = Octal { max: 0o777 };
        let e = k.empty();
        let show = |a: &str| k.set(&e, &args(a), true).map(|v| k.display(&v));
        assert_eq!(show("0700").unwrap(), "700");
        assert_eq!(show("0").unwrap(), "0");
        assert_eq!(k.set(&e, &[String::new()], true), Ok(Value::Int(0)));
        assert_eq!(
            show("800").unwrap_err(),
            "argument couldn't be parsed as an octal number"
        );
        assert_eq!(
            show("1777").unwrap_err(),
            "argument must be between 0 and 777 inclusive"
        );
        assert_eq!(
            show("-1").unwrap_err(),
            "argument must be between 0 and 777 inclusive"
        );
    }

    #[test]
    fn rename_command_lines() {
        let k = RenameCommandKind;
        let v = k.set(&k.empty(), &args("get myget"), false).unwrap();
        let v = k
            .set(&v, &[String::from("flushall"), String::new()], false)
            .unwrap();
        assert_eq!(
            rename_pairs(&v).collect::<Vec<_>>(),
            [("get", "myget"), ("flushall", "")]
        );
        assert_eq!(
            k.set(&v, &args("get x"), false).unwrap_err(),
            "No such command in rename-command"
        );
        assert_eq!(
            k.set(&v, &args("set myget"), false).unwrap_err(),
            "Target command name already exists"
        );
        assert_eq!(
            k.set(&v, &args("a b c"), false).unwrap_err(),
            "wrong number of arguments"
        );
    }

    #[test]
    fn proc_title_templates() {
        let ok = |t: &str| valid_proc_title(&Value::Str(t.into())).is_ok();
        for good in [
            "{title} {listen-addr} {server-mode}",
            "x",
            "}",
            "a}}b",
            "{{x",
            "a{{",
            "{port}{port}",
            "a{title}b {config-file}",
        ] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "{title}",
            "",
            "{title} {unknown}",
            "{title",
            "{ title}",
            "{}",
            "{",
            " {server-mode} ",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }

    #[test]
    fn hostnames() {
        let ok = |t: &str| valid_hostname(&Value::Str(t.into())).is_ok();
        assert!(ok("") && ok("-x") && ok("a.b-c"));
        assert!(!ok("a b") && !ok("a_b") && !ok("é"));
    }
}
