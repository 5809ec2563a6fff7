//! The commands ACL rules range over: picket's table plus the Redis 7.0 commands picket does
//! not implement (`absent.rs`), each with an id for the permission bitmaps, its ACL
//! categories and its subcommands, as Redis's `server.orig_commands` with `ACLGetCommandID`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::command::spec::{flags, CommandSpec};

/// Redis's `ACLCommandCategories`, in its order (ACL CAT, the describer's fit).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The bit of a category (`ACLGetCommandCategoryFlagByName`, case-insensitive).
pub fn category_bit(name: &[u8]) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// One command or subcommand.
#[derive(Debug)]
pub struct AclCmd {
    /// `get`, `config|get`.
    pub full_name: String,
    /// Category bits (index in [`CATEGORIES`]).
    pub cats: u32,
    pub no_auth: bool,
    pub parent: Option<usize>,
    /// Subcommand ids; a container has some (`subcommands_dict`).
    pub subs: Vec<usize>,
}

#[derive(Debug)]
pub struct Universe {
    /// By id; top-level commands in name order, each followed by its subcommands.
    pub cmds: Vec<AclCmd>,
    by_name: BTreeMap<String, usize>,
    /// The id of each table row, by `CommandSpec::id`.
    by_spec: Vec<usize>,
}

fn cats_of(names: &[&str]) -> u32 {
    names
        .iter()
        .filter_map(|c| category_bit(c.trim_start_matches('@').as_bytes()))
        .fold(0, |a, b| a | b)
}

/// One command of a table an ACL universe is built from: its full name (`get`,
/// `config|get`), ACL categories (names, `@` optional), whether it needs no
/// authentication, and its table row id if it has one.
#[derive(Debug, Clone)]
pub struct Row {
    pub full_name: String,
    pub cats: u32,
    pub no_auth: bool,
    pub spec: Option<usize>,
}

impl Row {
    pub fn new(full_name: &str, cats: &[&str], no_auth: bool, spec: Option<usize>) -> Row {
        Row {
            full_name: full_name.to_string(),
            cats: cats_of(cats),
            no_auth,
            spec,
        }
    }
}

impl Universe {
    fn build() -> Universe {
        let mut rows: Vec<Row> = crate::command::lookup::all_commands()
            .map(|c| Row::new(c.full_name, c.acl, c.has(flags::NO_AUTH), Some(c.id)))
            .collect();
        for (name, cats, no_auth) in super::absent::ABSENT {
            if !rows.iter().any(|r| r.full_name == *name) {
                rows.push(Row::new(name, cats, *no_auth, None));
            }
        }
        Universe::from_rows(rows)
    }

    /// The universe of another command table (a sentinel's): ids by name order, each
    /// container followed by its subcommands, as picket-server's. A name given twice keeps
    /// its first row.
    pub fn from_rows(list: Vec<Row>) -> Universe {
        // name -> (categories, no_auth, spec id)
        let mut rows: BTreeMap<String, (u32, bool, Option<usize>)> = BTreeMap::new();
        for r in list {
            rows.entry(r.full_name)
                .or_insert((r.cats, r.no_auth, r.spec));
        }
        let max_spec = rows.values().filter_map(|r| r.2).max().unwrap_or(0);
        let mut cmds: Vec<AclCmd> = Vec::new();
        let mut by_name = BTreeMap::new();
        let mut by_spec = vec![usize::MAX; max_spec + 1];
        // BTreeMap order puts `config` before `config|get` and that before `configx`
        // only when '|' sorts after every name character, which it does (0x7c).
        let tops: Vec<&String> = rows.keys().filter(|n| !n.contains('|')).collect();
        for top in tops {
            let id = cmds.len();
            let (cats, no_auth, spec) = rows[top];
            cmds.push(AclCmd {
                full_name: top.clone(),
                cats,
                no_auth,
                parent: None,
                subs: Vec::new(),
            });
            by_name.insert(top.clone(), id);
            if let Some(s) = spec {
                by_spec[s] = id;
            }
            let prefix = format!("{top}|");
            for (name, (cats, no_auth, spec)) in rows.range(prefix.clone()..) {
                if !name.starts_with(&prefix) {
                    break;
                }
                let sid = cmds.len();
                cmds.push(AclCmd {
                    full_name: name.clone(),
                    cats: *cats,
                    no_auth: *no_auth,
                    parent: Some(id),
                    subs: Vec::new(),
                });
                cmds[id].subs.push(sid);
                by_name.insert(name.clone(), sid);
                if let Some(s) = spec {
                    by_spec[*s] = sid;
                }
            }
        }
        Universe {
            cmds,
            by_name,
            by_spec,
        }
    }

    /// Redis's `ACLLookupCommand`: `name` or `container|sub`, case-insensitive.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('|').collect();
        match parts.as_slice() {
            [one] => self.by_name.get(*one).copied(),
            [base, sub] => {
                let b = *self.by_name.get(*base)?;
                if self.cmds[b].subs.is_empty() {
                    // A command without subcommands looked up strictly with two parts.
                    return None;
                }
                self.by_name.get(&format!("{base}|{sub}")).copied()
            }
            _ => None,
        }
    }

    /// The id of a table row.
    pub fn of_spec(&self, spec: &CommandSpec) -> usize {
        self.by_spec.get(spec.id).copied().unwrap_or(usize::MAX)
    }
}

/// The universe, built once from the static table.
pub fn universe() -> &'static Universe {
    static U: OnceLock<Universe> = OnceLock::new();
    U.get_or_init(Universe::build)
}

impl Universe {
    /// ACL CAT <category>: the names of the commands in a category, in id order.
    pub fn commands_in(&self, cat: u32) -> Vec<&str> {
        self.cmds
            .iter()
            .filter(|c| c.cats & cat != 0)
            .map(|c| c.full_name.as_str())
            .collect()
    }
}

/// A universe as users and selectors hold it: compared by identity (a permission bitmap
/// means something only in the universe its ids come from).
#[derive(Clone, Copy)]
pub struct UniverseRef(pub &'static Universe);

impl UniverseRef {
    /// picket-server's.
    pub fn server() -> UniverseRef {
        UniverseRef(universe())
    }
}

impl std::ops::Deref for UniverseRef {
    type Target = Universe;
    fn deref(&self) -> &Universe {
        self.0
    }
}

impl PartialEq for UniverseRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for UniverseRef {}

impl std::fmt::Debug for UniverseRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Universe({} commands)", self.0.cmds.len())
    }
}
