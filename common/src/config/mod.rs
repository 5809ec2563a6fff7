//! One configuration model for both binaries.
//!
//! Each binary defines a static table of [`Directive`]s; a [`ConfigStore`] holds the
//! current value of every directive in table order. Values come from the table defaults,
//! then a file (redis.conf syntax, or TOML when the name ends in `.toml`), then
//! redis-server-style command-line arguments (`--port 6380 --save ""`); later sources
//! override earlier ones. At run time the same store answers CONFIG GET, performs CONFIG
//! SET (all-or-nothing, with an apply hook) and CONFIG REWRITE (keeping the file's
//! comments and layout).
//!
//! ```
//! use picket_common::config::{ConfigStore, Directive, Kind};
//! static TABLE: &[Directive] = &[
//!     Directive::new("port", Kind::Int { min: 0, max: 65535 }, "6379", "TCP port."),
//!     Directive::new("maxmemory", Kind::Memory { min: 0, max: i64::MAX }, "0", "Memory limit.")
//! ];
//! let store = ConfigStore::load(TABLE, None, &["--port".into(), "6380".into()]).unwrap();
//! assert_eq!(store.get_int("port"), 6380);
//! assert_eq!(store.get(b"max*"), vec![("maxmemory".to_string(), "0".to_string())]);
//! ```

mod cmdline;
mod conf;
pub mod kinds;
mod rewrite;
mod runtime;
mod toml_file;

#[cfg(test)]
mod test_table;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use cmdline::parse_args;
pub use conf::{parse_conf_file, parse_conf_str};
pub use kinds::{
    BufferLimit, BufferLimits, BufferLimitsKind, ListKind, SaveKind, SavePoint, BIND_LIST,
    CLIENT_OUTPUT_BUFFER_LIMIT, SAVE,
};
pub use runtime::ConfigSetError;
pub use toml_file::{parse_toml_file, parse_toml_str, toml_value_lines};

/// How a directive's arguments are parsed, shown and rewritten.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `yes` / `no` (case-insensitive); TOML also takes `true` / `false`.
    Bool,
    /// A strict decimal integer within `min..=max`.
    Int { min: i64, max: i64 },
    /// Bytes with optional units as Redis `memtoull` (`1gb`, `5mb`, `100k`, `10b`, plain);
    /// CONFIG GET prints bytes, CONFIG REWRITE the largest exact binary unit.
    Memory { min: i64, max: i64 },
    /// One of these names (case-insensitive on input, shown as written here).
    Enum(&'static [&'static str]),
    /// Any single string.
    String,
    /// Multi-part or otherwise special values (`save`, `client-output-buffer-limit`, `bind`).
    Custom(&'static dyn CustomKind),
}

/// A special directive kind. Implementations are stateless statics.
pub trait CustomKind: fmt::Debug + Sync {
    /// The value before any line is applied; the default string is applied on top of it.
    fn empty(&self) -> Value;
    /// Applies one line's arguments (or one CONFIG SET value split on spaces) to the
    /// current value. `first_in_source` is true for the first line of this directive in a
    /// source (a file with its includes, or the command line) and for CONFIG SET, so that
    /// accumulating kinds like `save` replace the previous value then. The error is the
    /// reason shown to the user (Redis's wording).
    fn set(&self, current: &Value, args: &[String], first_in_source: bool)
        -> Result<Value, String>;
    /// The CONFIG GET form.
    fn display(&self, v: &Value) -> String;
    /// The config-file lines (arguments only, unquoted) that reproduce `v`. A line is
    /// `force`d when it must be written even if the file does not mention the directive,
    /// i.e. when it differs from `default`.
    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine>;
    /// Whether the directive may appear on several lines that add up (`save`,
    /// `client-output-buffer-limit`); in TOML its array entries are then lines.
    fn repeatable(&self) -> bool {
        false
    }
    /// Whether the directive takes several arguments on a line (CONFIG SET splits its
    /// value on spaces). When false it takes exactly one.
    fn multi_arg(&self) -> bool {
        true
    }
}

/// One line produced by [`CustomKind::rewrite_lines`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteLine {
    pub args: Vec<String>,
    pub force: bool,
}

/// One entry of a binary's directive table.
#[derive(Debug, Clone, Copy)]
pub struct Directive {
    /// Canonical lower-case name.
    pub name: &'static str,
    /// Other accepted names (e.g. `slave-priority`); CONFIG GET lists them too.
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    /// The default in config-line syntax: the value for single-argument kinds, the
    /// argument list (split like a config line) for custom kinds.
    pub default: &'static str,
    /// Whether CONFIG SET may change it.
    pub mutable: bool,
    /// Redis 7.0 "protected config" (`dir`, `dbfilename`): CONFIG SET needs
    /// `enable-protected-configs`.
    pub protected: bool,
    /// Only in config files and on the command line, like Redis's `rename-command`,
    /// `user` or `loadmodule`: CONFIG GET does not list it, CONFIG SET does not know it, and
    /// CONFIG REWRITE never appends it; the lines a file has are kept as written when its
    /// kind gives no [`CustomKind::rewrite_lines`], else replaced by them.
    pub file_only: bool,
    /// A check of every new value after its kind parsed it (Redis's `is_valid_fn`), in
    /// files, on the command line and in CONFIG SET alike; the error is the reason shown.
    pub check: Option<Check>,
    pub doc: &'static str,
}

/// See [`Directive::check`].
pub type Check = fn(&Value) -> Result<(), String>;

impl Directive {
    /// A mutable, unprotected directive without aliases.
    pub const fn new(
        name: &'static str,
        kind: Kind,
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        Directive {
            name,
            aliases: &[],
            kind,
            default,
            mutable: true,
            protected: false,
            file_only: false,
            check: None,
            doc,
        }
    }

    pub const fn alias(self, aliases: &'static [&'static str]) -> Self {
        Directive { aliases, ..self }
    }

    pub const fn immutable(self) -> Self {
        Directive {
            mutable: false,
            ..self
        }
    }

    pub const fn protected(self) -> Self {
        Directive {
            protected: true,
            ..self
        }
    }

    /// See [`Directive::file_only`]. Such a directive is also immutable.
    pub const fn file_only(self) -> Self {
        Directive {
            file_only: true,
            mutable: false,
            ..self
        }
    }

    /// Adds a check of new values (see [`Directive::check`]).
    pub const fn check(self, check: Check) -> Self {
        Directive {
            check: Some(check),
            ..self
        }
    }

    /// Whether repeated lines add up (see [`CustomKind::repeatable`]).
    pub fn repeatable(&self) -> bool {
        matches!(self.kind, Kind::Custom(k) if k.repeatable())
    }

    /// Whether a line carries several arguments (see [`CustomKind::multi_arg`]).
    pub fn multi_arg(&self) -> bool {
        matches!(self.kind, Kind::Custom(k) if k.multi_arg())
    }

    /// The name (slot 0) or an alias (slot 1..).
    fn slot_name(&self, slot: usize) -> &'static str {
        match slot {
            0 => self.name,
            n => self.aliases.get(n - 1).copied().unwrap_or(self.name),
        }
    }

    fn slots(&self) -> impl Iterator<Item = (usize, &'static str)> + '_ {
        std::iter::once(self.name)
            .chain(self.aliases.iter().copied())
            .enumerate()
    }
}

/// The current value of a directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    /// [`Kind::Int`] and [`Kind::Memory`] (bytes).
    Int(i64),
    /// [`Kind::String`] and [`Kind::Enum`] (the table's spelling).
    Str(String),
    /// [`ListKind`], and free for other custom kinds.
    List(Vec<String>),
    Save(Vec<SavePoint>),
    BufferLimits(BufferLimits),
}

/// Where a directive came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File { path: PathBuf, line: usize },
    CommandLine,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path, line } => write!(f, "{}:{line}", path.display()),
            Location::CommandLine => f.write_str("command line"),
        }
    }
}

/// A directive as read from a source, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDirective {
    pub location: Location,
    /// As written (lower-cased for config files, like Redis).
    pub name: String,
    pub args: Vec<String>,
}

/// The syntax of a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// redis.conf lines.
    Conf,
    Toml,
}

impl Format {
    /// TOML when the name ends in `.toml`, else redis.conf.
    pub fn of(path: &Path) -> Format {
        match path.extension() {
            Some(ext) if ext.eq_ignore_ascii_case("toml") => Format::Toml,
            _ => Format::Conf,
        }
    }
}

/// A start-up or rewrite error. Display is one line naming the source.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The source could not be read as lines / TOML.
    #[error("{location}: {message}")]
    Syntax { location: Location, message: String },
    /// An unknown directive, a wrong number of arguments or a bad value.
    #[error("{location}: '{directive}': {message}")]
    Directive {
        location: Location,
        directive: String,
        message: String,
    },
    /// The binary's directive table itself is wrong (a programming error).
    #[error("invalid directive table: {0}")]
    Table(String),
    /// CONFIG REWRITE without a file (Redis's wording).
    #[error("The server is running without a config file")]
    NoConfigFile,
}

/// Why [`ConfigStore::apply_line`] refused a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// No directive has this name or alias.
    Unknown,
    /// A single-value directive without exactly one argument.
    WrongArgs,
    /// The kind or the directive's check refused the value: the reason, Redis's words.
    Bad(String),
}

/// The file a store was loaded from, which CONFIG REWRITE updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// Absolute, so a later change of working directory does not matter.
    pub path: PathBuf,
    pub format: Format,
}

/// The current value of every directive of a table.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    table: &'static [Directive],
    values: Vec<Value>,
    defaults: Vec<Value>,
    /// Lower-case name or alias -> (directive index, slot).
    index: HashMap<String, (usize, usize)>,
    file: Option<ConfigFile>,
}

impl ConfigStore {
    /// A store holding the defaults. Fails if the table has duplicate names or a default
    /// its kind rejects.
    pub fn new(table: &'static [Directive]) -> Result<Self, ConfigError> {
        let mut index = HashMap::new();
        let mut defaults = Vec::with_capacity(table.len());
        for (i, d) in table.iter().enumerate() {
            for (slot, name) in d.slots() {
                if name != name.to_ascii_lowercase() || name.is_empty() {
                    return Err(ConfigError::Table(format!(
                        "name '{name}' must be lower case"
                    )));
                }
                if index.insert(name.to_string(), (i, slot)).is_some() {
                    return Err(ConfigError::Table(format!("'{name}' is defined twice")));
                }
            }
            let args = crate::sds::split_args(d.default.as_bytes())
                .and_then(|a| {
                    a.into_iter()
                        .map(|a| String::from_utf8(a).ok())
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| ConfigError::Table(format!("'{}': unreadable default", d.name)))?;
            let args = match d.kind {
                Kind::Custom(_) if d.multi_arg() => args,
                _ if args.is_empty() => vec![String::new()],
                _ => args,
            };
            let empty = match d.kind {
                Kind::Custom(k) => k.empty(),
                _ => Value::Str(String::new()),
            };
            if !d.multi_arg() && args.len() != 1 {
                return Err(ConfigError::Table(format!(
                    "'{}': default needs one argument",
                    d.name
                )));
            }
            let v = parse_value(d, &empty, &args, true)
                .map_err(|e| ConfigError::Table(format!("'{}': bad default: {e}", d.name)))?;
            defaults.push(v);
        }
        Ok(ConfigStore {
            table,
            values: defaults.clone(),
            defaults,
            index,
            file: None,
        })
    }

    /// Defaults, then `file` (TOML if it ends in `.toml`, else redis.conf), then `args`
    /// (redis-server style, without the program name and config file).
    pub fn load(
        table: &'static [Directive],
        file: Option<&Path>,
        args: &[String],
    ) -> Result<Self, ConfigError> {
        let mut store = ConfigStore::new(table)?;
        if let Some(path) = file {
            let format = Format::of(path);
            let entries = match format {
                Format::Conf => parse_conf_file(path)?,
                Format::Toml => parse_toml_file(path, &store)?,
            };
            store.apply_source(&entries)?;
            let path = std::path::absolute(path).map_err(|source| ConfigError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            store.file = Some(ConfigFile { path, format });
        }
        let entries = parse_args(args)?;
        store.apply_source(&entries)?;
        Ok(store)
    }

    /// Like [`ConfigStore::load`] from redis-server's argv (without the program name): a
    /// first argument not starting with `-` is the config file.
    pub fn load_argv(table: &'static [Directive], argv: &[String]) -> Result<Self, ConfigError> {
        match argv.split_first() {
            Some((file, rest)) if !file.starts_with('-') => {
                ConfigStore::load(table, Some(Path::new(file)), rest)
            }
            _ => ConfigStore::load(table, None, argv),
        }
    }

    /// Applies one source's directives in order (all of a file with its includes, or the
    /// command line). Stops at the first error; earlier directives stay applied.
    pub fn apply_source(&mut self, entries: &[RawDirective]) -> Result<(), ConfigError> {
        let mut seen = vec![false; self.table.len()];
        for e in entries {
            let err = |message: String| ConfigError::Directive {
                location: e.location.clone(),
                directive: e.name.clone(),
                message,
            };
            let Some((i, _)) = self.lookup(&e.name) else {
                return Err(err("unknown directive".into()));
            };
            let d = &self.table[i];
            if !d.multi_arg() && e.args.len() != 1 {
                return Err(err(format!(
                    "wrong number of arguments (expected 1, got {})",
                    e.args.len()
                )));
            }
            let first = !std::mem::replace(&mut seen[i], true);
            let v = parse_value(d, &self.values[i], &e.args, first)
                .map_err(|reason| err(format!("{reason} (got '{}')", e.args.join(" "))))?;
            self.values[i] = v;
        }
        Ok(())
    }

    /// One config-file line `name args...` as Redis's `loadServerConfigFromString` applies a
    /// line of its standard config table, for loaders that read files themselves (the
    /// sentinel's, whose files mix these lines with `sentinel` lines): a single-value
    /// directive takes exactly one argument; a multi-argument one (not file-only) given a
    /// single non-empty argument splits it like a config line, as `--save "900 1"` from a
    /// command line. `first` as in [`CustomKind::set`]. Returns the directive.
    pub fn apply_line(
        &mut self,
        name: &str,
        args: &[String],
        first: bool,
    ) -> Result<&'static Directive, LineError> {
        let (i, _) = self.lookup(name).ok_or(LineError::Unknown)?;
        let d = &self.table[i];
        if !d.multi_arg() && args.len() != 1 {
            return Err(LineError::WrongArgs);
        }
        let split;
        let args = match args {
            [one] if d.multi_arg() && !d.file_only && !one.is_empty() => {
                split = crate::sds::split_args(one.as_bytes())
                    .map(|a| {
                        a.into_iter()
                            .map(|x| String::from_utf8_lossy(&x).into_owned())
                            .collect::<Vec<_>>()
                    })
                    .ok_or_else(|| {
                        LineError::Bad("Unbalanced quotes in configuration line".into())
                    })?;
                &split[..]
            }
            _ => args,
        };
        let v = parse_value(d, &self.values[i], args, first).map_err(LineError::Bad)?;
        self.values[i] = v;
        Ok(d)
    }

    /// The table this store holds (for docs generation).
    pub fn directives(&self) -> &'static [Directive] {
        self.table
    }

    /// The file the store was loaded from, if any.
    pub fn config_file(&self) -> Option<&ConfigFile> {
        self.file.as_ref()
    }

    /// Finds a directive by name or alias, case-insensitively: (index, slot).
    fn lookup(&self, name: &str) -> Option<(usize, usize)> {
        self.index
            .get(name)
            .or_else(|| self.index.get(&name.to_ascii_lowercase()))
            .copied()
    }

    /// The directive and current value for a name or alias (any case).
    pub fn find(&self, name: &str) -> Option<(&'static Directive, &Value)> {
        let (i, _) = self.lookup(name)?;
        Some((&self.table[i], &self.values[i]))
    }

    /// Set a value from the program itself (state that commands change, such as the master
    /// REPLICAOF picked), bypassing CONFIG SET's checks: CONFIG GET and CONFIG REWRITE then
    /// show it. Returns false for an unknown name.
    pub fn set_internal(&mut self, name: &str, value: Value) -> bool {
        match self.lookup(name) {
            Some((i, _)) => {
                self.values[i] = value;
                true
            }
            None => false,
        }
    }

    /// The current value of `name`. A name not in the table is a programming error:
    /// debug builds panic, release builds get `None`.
    pub fn value(&self, name: &str) -> Option<&Value> {
        let v = self.find(name).map(|(_, v)| v);
        debug_assert!(v.is_some(), "config directive '{name}' is not in the table");
        v
    }

    /// A [`Kind::Bool`] value (false for a name or kind mismatch, which debug builds assert).
    pub fn get_bool(&self, name: &str) -> bool {
        match self.value(name) {
            Some(Value::Bool(b)) => *b,
            other => mismatch(name, other, false),
        }
    }

    /// A [`Kind::Int`] or [`Kind::Memory`] value (0 on mismatch).
    pub fn get_int(&self, name: &str) -> i64 {
        match self.value(name) {
            Some(Value::Int(n)) => *n,
            other => mismatch(name, other, 0),
        }
    }

    /// A [`Kind::String`] or [`Kind::Enum`] value ("" on mismatch).
    pub fn get_str(&self, name: &str) -> &str {
        match self.value(name) {
            Some(Value::Str(s)) => s,
            other => mismatch(name, other, ""),
        }
    }

    /// A list value such as `bind` (empty on mismatch).
    pub fn get_list(&self, name: &str) -> &[String] {
        match self.value(name) {
            Some(Value::List(l)) => l,
            other => mismatch(name, other, &[]),
        }
    }

    /// `save` points (empty on mismatch).
    pub fn get_save_points(&self, name: &str) -> &[SavePoint] {
        match self.value(name) {
            Some(Value::Save(p)) => p,
            other => mismatch(name, other, &[]),
        }
    }

    /// `client-output-buffer-limit` (all zero, i.e. unlimited, on mismatch).
    pub fn get_buffer_limits(&self, name: &str) -> BufferLimits {
        match self.value(name) {
            Some(Value::BufferLimits(l)) => *l,
            other => mismatch(name, other, BufferLimits::default()),
        }
    }

    /// The directives whose value is not the default, with their CONFIG GET form, in
    /// table order.
    pub fn changed(&self) -> Vec<(&'static Directive, String)> {
        self.table
            .iter()
            .zip(self.values.iter().zip(&self.defaults))
            .filter(|(_, (v, def))| v != def)
            .map(|(d, (v, _))| (d, display_value(d, v)))
            .collect()
    }

    /// The CONFIG GET form of a directive's value.
    pub fn display(&self, name: &str) -> Option<String> {
        let (i, _) = self.lookup(name)?;
        Some(display_value(&self.table[i], &self.values[i]))
    }
}

fn mismatch<T>(name: &str, got: Option<&Value>, fallback: T) -> T {
    debug_assert!(
        got.is_none(),
        "config directive '{name}' read with the wrong type: {got:?}"
    );
    fallback
}

/// Parses arguments for `d` (exactly one for non-multi-arg kinds, checked by callers), then
/// runs the directive's check.
fn parse_value(
    d: &Directive,
    current: &Value,
    args: &[String],
    first: bool,
) -> Result<Value, String> {
    let v = parse_kind(d, current, args, first)?;
    if let Some(check) = d.check {
        check(&v)?;
    }
    Ok(v)
}

fn parse_kind(
    d: &Directive,
    current: &Value,
    args: &[String],
    first: bool,
) -> Result<Value, String> {
    let one = || args.first().map(String::as_str).unwrap_or("");
    match d.kind {
        Kind::Bool => match one() {
            s if s.eq_ignore_ascii_case("yes") => Ok(Value::Bool(true)),
            s if s.eq_ignore_ascii_case("no") => Ok(Value::Bool(false)),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int { min, max } => {
            let n = crate::sds::string2ll(one().as_bytes())
                .ok_or("argument couldn't be parsed into an integer")?;
            check_range(i128::from(n), min, max)?;
            Ok(Value::Int(n))
        }
        Kind::Memory { min, max } => {
            let n = crate::sds::memtoull(one()).ok_or("argument must be a memory value")?;
            check_range(i128::from(n), min, max)?;
            // In range of two i64 bounds, so it fits.
            Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        Kind::Enum(names) => names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(one()))
            .map(|n| Value::Str((*n).to_string()))
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                )
            }),
        Kind::String => Ok(Value::Str(one().to_string())),
        Kind::Custom(k) => k.set(current, args, first),
    }
}

fn check_range(n: i128, min: i64, max: i64) -> Result<(), String> {
    if n < i128::from(min) || n > i128::from(max) {
        Err(format!(
            "argument must be between {min} and {max} inclusive"
        ))
    } else {
        Ok(())
    }
}

/// The CONFIG GET form.
fn display_value(d: &Directive, v: &Value) -> String {
    match (d.kind, v) {
        (Kind::Custom(k), v) => k.display(v),
        (_, Value::Bool(b)) => yes_no(*b).into(),
        (_, Value::Int(n)) => n.to_string(),
        (_, Value::Str(s)) => s.clone(),
        (_, Value::List(l)) => l.join(" "),
        (_, other) => format!("{other:?}"),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The config-file lines for a directive's value (arguments unquoted).
fn value_lines(d: &Directive, v: &Value, default: &Value) -> Vec<RewriteLine> {
    let force = v != default;
    let arg = match (d.kind, v) {
        (Kind::Custom(k), v) => return k.rewrite_lines(v, default),
        (Kind::Memory { .. }, Value::Int(n)) if *n >= 0 => {
            crate::sds::format_memory(n.unsigned_abs())
        }
        (_, v) => display_value(d, v),
    };
    vec![RewriteLine {
        args: vec![arg],
        force,
    }]
}

#[cfg(test)]
mod rewrite_tests;
#[cfg(test)]
mod tests;
