//! The custom (multi-argument) kinds both binaries need: `save`, `client-output-buffer-limit`
//! and a space-separated list (`bind`), with the typed values the server reads.

use super::{CustomKind, RewriteLine, Value};
use crate::sds::{format_memory, memtoull, strtoll_whole};

/// One `save <seconds> <changes>` point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavePoint {
    pub seconds: i64,
    pub changes: i64,
}

/// The `save` directive: pairs of seconds/changes. In a source (a file with its includes,
/// the command line) the first line replaces the default and later lines add points;
/// CONFIG SET replaces; `save ""` (or `save` alone) clears.
#[derive(Debug)]
pub struct SaveKind;

const INVALID_SAVE: &str = "Invalid save parameters";

impl CustomKind for SaveKind {
    fn empty(&self) -> Value {
        Value::Save(Vec::new())
    }

    fn set(
        &self,
        current: &Value,
        args: &[String],
        first_in_source: bool,
    ) -> Result<Value, String> {
        // A single argument holding the pairs (`--save "900 1"` on redis-server's command
        // line) is split on spaces, as Redis does.
        let split: Vec<String>;
        let args = if args.len() == 1 && args[0].is_empty() {
            &[][..]
        } else if args.len() == 1 && args[0].contains(' ') {
            split = args[0].split(' ').map(str::to_string).collect();
            &split[..]
        } else {
            args
        };
        if !args.len().is_multiple_of(2) {
            return Err(INVALID_SAVE.into());
        }
        let mut points = Vec::with_capacity(args.len() / 2);
        for pair in args.chunks_exact(2) {
            let seconds = strtoll_whole(&pair[0]).filter(|&s| s >= 1);
            // Redis keeps `changes` in a C int.
            let changes =
                strtoll_whole(&pair[1]).filter(|&c| (0..=i64::from(i32::MAX)).contains(&c));
            match (seconds, changes) {
                (Some(seconds), Some(changes)) => points.push(SavePoint { seconds, changes }),
                _ => return Err(INVALID_SAVE.into()),
            }
        }
        if points.is_empty() || first_in_source {
            return Ok(Value::Save(points));
        }
        let mut merged = match current {
            Value::Save(p) => p.clone(),
            _ => Vec::new(),
        };
        merged.extend(points);
        Ok(Value::Save(merged))
    }

    fn display(&self, v: &Value) -> String {
        match v {
            Value::Save(points) => points
                .iter()
                .map(|p| format!("{} {}", p.seconds, p.changes))
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        }
    }

    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        let force = v != default;
        match v {
            Value::Save(points) if !points.is_empty() => points
                .iter()
                .map(|p| RewriteLine {
                    args: vec![p.seconds.to_string(), p.changes.to_string()],
                    force,
                })
                .collect(),
            _ => vec![RewriteLine {
                args: vec![String::new()],
                force,
            }],
        }
    }

    fn repeatable(&self) -> bool {
        true
    }
}

/// Limits of one client class (`client-output-buffer-limit <class> <hard> <soft> <secs>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

/// The three classes of `client-output-buffer-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferLimits {
    pub normal: BufferLimit,
    pub replica: BufferLimit,
    pub pubsub: BufferLimit,
}

impl BufferLimits {
    fn class_mut(&mut self, class: usize) -> &mut BufferLimit {
        match class {
            0 => &mut self.normal,
            1 => &mut self.replica,
            _ => &mut self.pubsub,
        }
    }

    fn classes(&self) -> [(&'static str, &'static str, BufferLimit); 3] {
        // (CONFIG GET name, CONFIG REWRITE name, limits), in Redis's class order.
        [
            ("normal", "normal", self.normal),
            ("slave", "replica", self.replica),
            ("pubsub", "pubsub", self.pubsub),
        ]
    }
}

/// `client-output-buffer-limit`: each line sets the classes it names (groups of four
/// arguments) and keeps the others, in files and in CONFIG SET alike. Classes are
/// `normal`, `replica` (alias `slave`) and `pubsub`; sizes take memory units.
#[derive(Debug)]
pub struct BufferLimitsKind;

impl CustomKind for BufferLimitsKind {
    fn empty(&self) -> Value {
        Value::BufferLimits(BufferLimits::default())
    }

    fn set(
        &self,
        current: &Value,
        args: &[String],
        _first_in_source: bool,
    ) -> Result<Value, String> {
        if !args.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut updates = Vec::with_capacity(args.len() / 4);
        for group in args.chunks_exact(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => 0,
                "replica" | "slave" => 1,
                "pubsub" => 2,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let hard = memtoull(&group[1]);
            let soft = memtoull(&group[2]);
            // Redis keeps the seconds in a C int.
            let secs = strtoll_whole(&group[3]).filter(|&s| (0..=i64::from(i32::MAX)).contains(&s));
            match (hard, soft, secs) {
                (Some(hard_bytes), Some(soft_bytes), Some(secs)) => {
                    let soft_seconds = secs.unsigned_abs();
                    updates.push((
                        class,
                        BufferLimit {
                            hard_bytes,
                            soft_bytes,
                            soft_seconds,
                        },
                    ));
                }
                _ => {
                    return Err(
                        "Error in hard, soft or soft_seconds setting in buffer limit \
                                configuration."
                            .into(),
                    )
                }
            }
        }
        let mut limits = match current {
            Value::BufferLimits(l) => *l,
            _ => BufferLimits::default(),
        };
        for (class, limit) in updates {
            *limits.class_mut(class) = limit;
        }
        Ok(Value::BufferLimits(limits))
    }

    fn display(&self, v: &Value) -> String {
        let limits = match v {
            Value::BufferLimits(l) => *l,
            _ => BufferLimits::default(),
        };
        limits
            .classes()
            .iter()
            .map(|(name, _, l)| {
                format!(
                    "{name} {} {} {}",
                    l.hard_bytes, l.soft_bytes, l.soft_seconds
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        let (Value::BufferLimits(cur), Value::BufferLimits(def)) = (v, default) else {
            return Vec::new();
        };
        cur.classes()
            .iter()
            .zip(def.classes().iter())
            .map(|((_, name, l), (_, _, d))| RewriteLine {
                args: vec![
                    (*name).to_string(),
                    format_memory(l.hard_bytes),
                    format_memory(l.soft_bytes),
                    l.soft_seconds.to_string(),
                ],
                force: l != d,
            })
            .collect()
    }

    fn repeatable(&self) -> bool {
        true
    }
}

/// A space-separated list on one line, e.g. `bind 127.0.0.1 -::1`. Each line replaces the
/// list; a single empty argument (`bind ""`) is the empty list. At most `max` items.
#[derive(Debug)]
pub struct ListKind {
    pub max: usize,
    /// The error when there are more than `max` items (Redis's bind says
    /// "Too many bind addresses specified.").
    pub too_many: &'static str,
}

impl CustomKind for ListKind {
    fn empty(&self) -> Value {
        Value::List(Vec::new())
    }

    fn set(
        &self,
        _current: &Value,
        args: &[String],
        _first_in_source: bool,
    ) -> Result<Value, String> {
        if args.len() > self.max {
            return Err(self.too_many.into());
        }
        if args.len() == 1 && args[0].is_empty() {
            return Ok(Value::List(Vec::new()));
        }
        Ok(Value::List(args.to_vec()))
    }

    fn display(&self, v: &Value) -> String {
        match v {
            Value::List(items) => items.join(" "),
            _ => String::new(),
        }
    }

    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        let args = match v {
            Value::List(items) if !items.is_empty() => items.clone(),
            _ => vec![String::new()],
        };
        vec![RewriteLine {
            args,
            force: v != default,
        }]
    }
}

/// `save` ([`SaveKind`]).
pub static SAVE: SaveKind = SaveKind;
/// `client-output-buffer-limit` ([`BufferLimitsKind`]).
pub static CLIENT_OUTPUT_BUFFER_LIMIT: BufferLimitsKind = BufferLimitsKind;
/// `bind`: up to 16 addresses, as Redis's `CONFIG_BINDADDR_MAX`.
pub static BIND_LIST: ListKind = ListKind {
    max: 16,
    too_many: "Too many bind addresses specified.",
};

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        crate::sds::split_spaces(s)
    }

    #[test]
    fn save_parsing_and_merging() {
        let v = SAVE
            .set(&SAVE.empty(), &args("3600 1 300 100 60 10000"), true)
            .unwrap();
        assert_eq!(SAVE.display(&v), "3600 1 300 100 60 10000");
        let v2 = SAVE.set(&v, &args("10 1"), false).unwrap();
        assert_eq!(SAVE.display(&v2), "3600 1 300 100 60 10000 10 1");
        let v3 = SAVE.set(&v2, &args("10 1"), true).unwrap();
        assert_eq!(SAVE.display(&v3), "10 1");
        // `save ""` and bare `save` clear, even when not first.
        assert_eq!(
            SAVE.set(&v2, &[String::new()], false).unwrap(),
            Value::Save(vec![])
        );
        assert_eq!(SAVE.set(&v2, &[], false).unwrap(), Value::Save(vec![]));
        // strtoll quirks: "+60" is fine, an empty `changes` is 0.
        assert_eq!(
            SAVE.display(&SAVE.set(&v, &args("+60 "), true).unwrap()),
            "60 0"
        );
        for bad in [
            "60",
            "0 1",
            "60 -1",
            "60 1x",
            "abc",
            " 60 1",
            "60  1",
            "60 2147483648",
        ] {
            assert_eq!(
                SAVE.set(&v, &args(bad), true),
                Err(INVALID_SAVE.to_string()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn save_rewrite_lines() {
        let def = SAVE.set(&SAVE.empty(), &args("3600 1"), true).unwrap();
        let cur = SAVE.set(&def, &args("10 1 20 2"), true).unwrap();
        let lines = SAVE.rewrite_lines(&cur, &def);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.force));
        assert_eq!(lines[1].args, ["20", "2"]);
        let none = SAVE.rewrite_lines(&SAVE.empty(), &def);
        assert_eq!(
            none,
            vec![RewriteLine {
                args: vec![String::new()],
                force: true
            }]
        );
        assert!(!SAVE.rewrite_lines(&def, &def)[0].force);
    }

    #[test]
    fn buffer_limits_merge_and_display() {
        let k = &CLIENT_OUTPUT_BUFFER_LIMIT;
        let d = k
            .set(
                &k.empty(),
                &args("normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60"),
                true,
            )
            .unwrap();
        assert_eq!(
            k.display(&d),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        let v = k.set(&d, &args("PUBSUB 1mb 2kb 3"), false).unwrap();
        assert_eq!(
            k.display(&v),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2048 3"
        );
        let v = k
            .set(&v, &args("replica 1 2 3 normal 4 5 +6"), true)
            .unwrap();
        let Value::BufferLimits(l) = v.clone() else {
            panic!()
        };
        assert_eq!(
            l.replica,
            BufferLimit {
                hard_bytes: 1,
                soft_bytes: 2,
                soft_seconds: 3
            }
        );
        assert_eq!(l.normal.soft_seconds, 6);
        assert_eq!(k.set(&v, &[], true), Ok(v.clone())); // nothing to set
        let lines = k.rewrite_lines(&v, &d);
        assert_eq!(lines[1].args, ["replica", "1", "2", "3"]);
        assert!(lines.iter().all(|l| l.force));
        let lines = k.rewrite_lines(&d, &d);
        assert_eq!(lines[1].args, ["replica", "256mb", "64mb", "60"]);
        assert!(lines.iter().all(|l| !l.force));
    }

    #[test]
    fn buffer_limits_errors() {
        let k = &CLIENT_OUTPUT_BUFFER_LIMIT;
        let e = |s: &str| k.set(&k.empty(), &args(s), true).unwrap_err();
        assert_eq!(
            e("normal 1 1"),
            "Wrong number of arguments in buffer limit configuration."
        );
        for class in ["foo 1 1 1", "master 1 1 1", "normal 1 1 1 x 1 1 1"] {
            assert_eq!(
                e(class),
                "Invalid client class specified in buffer limit configuration."
            );
        }
        for bad in [
            "normal 1x 1 1",
            "normal 1 1 -1",
            "normal 1 1 1x",
            "normal -1 1 1",
        ] {
            assert_eq!(
                e(bad),
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
            );
        }
        // All-or-nothing: a bad later group leaves nothing half-applied (value returned is new).
        assert!(k
            .set(&k.empty(), &args("normal 1 1 1 pubsub x 1 1"), true)
            .is_err());
    }

    #[test]
    fn list_kind() {
        let k = &BIND_LIST;
        let v = k.set(&k.empty(), &args("127.0.0.1 -::1"), true).unwrap();
        assert_eq!(k.display(&v), "127.0.0.1 -::1");
        assert_eq!(k.set(&v, &[String::new()], true), Ok(Value::List(vec![])));
        assert_eq!(k.set(&v, &[], true), Ok(Value::List(vec![])));
        let many: Vec<String> = (0..17).map(|i| i.to_string()).collect();
        assert_eq!(
            k.set(&v, &many, true),
            Err("Too many bind addresses specified.".into())
        );
        assert_eq!(k.rewrite_lines(&Value::List(vec![]), &v)[0].args, [""]);
    }
}
