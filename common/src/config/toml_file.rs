//! TOML config files: flat keys named like the directives.
//!
//! - single-value directives take a string, integer or boolean (`port = 6380`,
//!   `protected-mode = false` or `"no"`, `maxmemory = "1gb"` or an integer);
//! - multi-argument directives take a string split on whitespace or an array of
//!   arguments, one line either way (`bind = ["127.0.0.1", "-::1"]`, `save = ""`);
//! - repeatable directives (`save`, `client-output-buffer-limit`) take one such string, or
//!   an array whose entries are lines (each a string split on whitespace or an array).

use std::ops::Range;
use std::path::Path;

use toml_edit as te;

use super::conf::{existing_lines, SIGNATURE};
use super::{
    parse_value, value_lines, ConfigError, ConfigStore, Directive, Kind, Location, RawDirective,
};

/// Reads a TOML config file. `store` supplies the directive table.
pub fn parse_toml_file(path: &Path, store: &ConfigStore) -> Result<Vec<RawDirective>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml_str(&text, path, store)
}

fn line_of(text: &str, offset: Option<Range<usize>>) -> usize {
    let end = offset.map_or(0, |r| r.start).min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Reads TOML text; `path` names it in errors.
pub fn parse_toml_str(
    text: &str,
    path: &Path,
    store: &ConfigStore,
) -> Result<Vec<RawDirective>, ConfigError> {
    let at = |span: Option<Range<usize>>| Location::File {
        path: path.to_path_buf(),
        line: line_of(text, span),
    };
    let doc = te::Document::parse(text.to_string()).map_err(|e| ConfigError::Syntax {
        location: at(e.span()),
        message: format!("TOML parse error: {}", e.message()),
    })?;
    let root = doc.as_table();
    let mut out = Vec::new();
    for (name, item) in root.iter() {
        let key_span = root.key(name).and_then(te::Key::span);
        let err = |message: String| ConfigError::Directive {
            location: at(key_span.clone()),
            directive: name.to_string(),
            message,
        };
        let value = match item {
            te::Item::None => continue,
            te::Item::Value(v) => v,
            te::Item::Table(_) | te::Item::ArrayOfTables(_) => {
                return Err(err("tables are not supported, use top-level keys".into()))
            }
        };
        let Some((i, _)) = store.lookup(name) else {
            return Err(err("unknown directive".into()));
        };
        for (args, span) in toml_lines(&store.table[i], value).map_err(err)? {
            out.push(RawDirective {
                location: at(span.or(key_span.clone())),
                name: name.to_string(),
                args,
            });
        }
    }
    Ok(out)
}

fn scalar(v: &te::Value) -> Option<String> {
    match v {
        te::Value::String(s) => Some(s.value().clone()),
        te::Value::Integer(n) => Some(n.value().to_string()),
        te::Value::Boolean(b) => Some(if *b.value() { "yes" } else { "no" }.to_string()),
        _ => None,
    }
}

/// A string in a multi-argument position: whitespace-separated arguments, and `""` is one
/// empty argument (like `save ""` in redis.conf).
fn split_ws(s: &str) -> Vec<String> {
    let args: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    if args.is_empty() {
        vec![String::new()]
    } else {
        args
    }
}

fn one_line(v: &te::Value) -> Result<Vec<String>, String> {
    match v {
        te::Value::String(s) => Ok(split_ws(s.value())),
        te::Value::Array(a) => a
            .iter()
            .map(|e| {
                scalar(e)
                    .ok_or_else(|| "arguments must be strings, integers or booleans".to_string())
            })
            .collect(),
        other => scalar(other)
            .map(|s| vec![s])
            .ok_or_else(|| "expected a string, an integer, a boolean or an array".to_string()),
    }
}

/// One config line read from TOML: its arguments and the span of its value.
pub type Line = (Vec<String>, Option<Range<usize>>);

/// The config lines (arguments, and the span of each in the TOML text) a TOML value of
/// directive `d` stands for, by the rules of the module doc; the error says what the value
/// should be. For TOML readers outside this module (the sentinel's, whose files also have
/// tables).
pub fn toml_value_lines(d: &Directive, v: &te::Value) -> Result<Vec<Line>, String> {
    toml_lines(d, v)
}

/// The config lines a TOML value stands for, with the span of each.
fn toml_lines(d: &Directive, v: &te::Value) -> Result<Vec<Line>, String> {
    if !d.multi_arg() {
        let s = scalar(v).ok_or("expected a string, an integer or a boolean")?;
        return Ok(vec![(vec![s], v.span())]);
    }
    match v {
        te::Value::Array(entries) if d.repeatable() => entries
            .iter()
            .map(|e| Ok((one_line(e)?, e.span())))
            .collect(),
        _ => Ok(vec![(one_line(v)?, v.span())]),
    }
}

fn has_ws(s: &str) -> bool {
    s.chars().any(char::is_whitespace)
}

/// A line that reads back unchanged as one whitespace-separated string.
fn simple(args: &[String]) -> bool {
    args == [""] || args.iter().all(|a| !a.is_empty() && !has_ws(a))
}

fn strings(args: &[String]) -> te::Value {
    te::Value::Array(args.iter().map(String::as_str).collect())
}

/// The TOML value for a directive's lines (at least one).
fn to_toml(d: &Directive, lines: &[Vec<String>]) -> te::Value {
    let first = lines.first().map(Vec::as_slice).unwrap_or_default();
    if !d.multi_arg() {
        let a = first.first().map(String::as_str).unwrap_or_default();
        return match d.kind {
            Kind::Bool => te::Value::from(a == "yes"),
            Kind::Int { .. } | Kind::Memory { .. } => match crate::sds::string2ll(a.as_bytes()) {
                Some(n) => te::Value::from(n),
                None => te::Value::from(a),
            },
            _ => te::Value::from(a),
        };
    }
    let entry = |args: &[String]| {
        if simple(args) {
            te::Value::from(args.join(" "))
        } else {
            strings(args)
        }
    };
    match lines {
        [line] if !d.repeatable() => {
            if line.len() == 1 && (line[0].is_empty() || !has_ws(&line[0])) {
                te::Value::from(line[0].as_str())
            } else {
                strings(line)
            }
        }
        [line] if simple(line) => entry(line),
        _ => te::Value::Array(lines.iter().map(|l| entry(l)).collect()),
    }
}

/// CONFIG REWRITE on TOML text, with the semantics of the redis.conf rewrite: keys whose
/// value still reads as the current value are left untouched, others get the new value
/// (keeping the key's comments and layout), duplicate keys (aliases) are removed, and
/// directives that differ from their default are appended after [`SIGNATURE`].
pub(crate) fn rewrite_toml(
    store: &ConfigStore,
    path: &Path,
    old: &[u8],
) -> Result<Vec<u8>, ConfigError> {
    let location = |line| Location::File {
        path: path.to_path_buf(),
        line,
    };
    let text = std::str::from_utf8(old).map_err(|_| ConfigError::Syntax {
        location: location(1),
        message: "not valid UTF-8".into(),
    })?;
    let mut doc: te::DocumentMut =
        text.parse()
            .map_err(|e: te::TomlError| ConfigError::Syntax {
                location: location(line_of(text, e.span())),
                message: format!("TOML parse error: {}", e.message()),
            })?;
    let mut signed = text.lines().any(|l| l.trim() == SIGNATURE);
    let root = doc.as_table_mut();
    let keys: Vec<String> = root.iter().map(|(k, _)| k.to_string()).collect();
    for (i, d) in store.table.iter().enumerate() {
        let lines = value_lines(d, &store.values[i], &store.defaults[i]);
        let matching: Vec<&String> = keys
            .iter()
            .filter(|k| store.lookup(k).map(|(j, _)| j) == Some(i))
            .collect();
        // File-only directives are never added, and are left as written when their kind
        // gives no lines (`rename-command`).
        if d.file_only && (lines.is_empty() || matching.is_empty()) {
            continue;
        }
        let Some((first, others)) = matching.split_first() else {
            let forced: Vec<Vec<String>> = lines
                .into_iter()
                .filter(|l| l.force)
                .map(|l| l.args)
                .collect();
            if forced.is_empty() {
                continue;
            }
            let mut key = te::Key::new(d.name);
            if !signed {
                let blank = if text.trim().is_empty() { "" } else { "\n" };
                key = key.with_leaf_decor(te::Decor::new(format!("{blank}{SIGNATURE}\n"), " "));
                signed = true;
            }
            root.insert_formatted(&key, te::Item::Value(to_toml(d, &forced)));
            continue;
        };
        for k in others {
            root.remove(k);
        }
        if lines.is_empty() {
            root.remove(first);
            continue;
        }
        let Some(item) = root.get_mut(first) else {
            continue;
        };
        let old_value = item.as_value();
        let unchanged = old_value
            .and_then(|v| toml_lines(d, v).ok())
            .is_some_and(|old_lines| {
                let mut v = store.defaults[i].clone();
                for (k, (args, _)) in old_lines.iter().enumerate() {
                    match parse_value(d, &v, args, k == 0) {
                        Ok(next) => v = next,
                        Err(_) => return false,
                    }
                }
                v == store.values[i]
            });
        if unchanged {
            continue;
        }
        let args: Vec<Vec<String>> = existing_lines(lines).into_iter().map(|l| l.args).collect();
        let mut value = to_toml(d, &args);
        if let Some(old) = old_value {
            *value.decor_mut() = old.decor().clone();
        }
        *item = te::Item::Value(value);
    }
    Ok(doc.to_string().into_bytes())
}
