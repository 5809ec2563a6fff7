//! The command table's row type: a command's name, arity, flags, key positions and
//! documentation, as Redis 7.0's `COMMAND INFO` / `COMMAND DOCS` give them. Data only; the
//! handlers are indexed by `id` (`handlers.rs`).

use super::keyspec;

/// Command flags, named as Redis 7.0 reports them in COMMAND INFO.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;
    pub const MOVABLEKEYS: u32 = 1 << 16;
    pub const ALLOW_BUSY: u32 = 1 << 17;
    pub const NO_ASYNC_LOADING: u32 = 1 << 18;
    pub const SENTINEL: u32 = 1 << 19;
    pub const ONLY_SENTINEL: u32 = 1 << 20;
    pub const PROTECTED: u32 = 1 << 21;
    /// Allowed on an importing slot after ASKING (a cluster flag: RESTORE-ASKING).
    pub const ASKING: u32 = 1 << 22;

    /// Names in the order Redis prints them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (ONLY_SENTINEL, "only_sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (PROTECTED, "protected"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Where a command's keys are: Redis's legacy (first, last, step) triple. `last` < 0 counts
/// from the end (-1 = last argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keys {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

impl Keys {
    pub const NONE: Keys = Keys {
        first: 0,
        last: 0,
        step: 0,
    };
    pub const fn one(at: i32) -> Keys {
        Keys {
            first: at,
            last: at,
            step: 1,
        }
    }
    pub const fn range(first: i32, last: i32, step: i32) -> Keys {
        Keys { first, last, step }
    }

    /// Indexes of the keys in `argc` arguments.
    pub fn positions(&self, argc: usize) -> Vec<usize> {
        if self.first <= 0 || argc == 0 {
            return Vec::new();
        }
        let last = if self.last < 0 {
            argc as i32 + self.last
        } else {
            self.last.min(argc as i32 - 1)
        };
        let step = self.step.max(1) as usize;
        (self.first as usize..=last.max(0) as usize)
            .step_by(step)
            .filter(|&i| i < argc && i >= self.first as usize)
            .collect()
    }
}

/// One row of the command table (generated in `table.rs` from Redis 7.0's metadata).
pub struct CommandSpec {
    /// Lowercase name; for a subcommand, the subcommand alone (`get` of `config`).
    pub name: &'static str,
    /// The name Redis uses in messages and statistics: `get`, `config|get`.
    pub full_name: &'static str,
    /// Index of the command among all commands and subcommands (for per-command stats).
    pub id: usize,
    /// For a subcommand, its container (`config`).
    pub parent: Option<&'static str>,
    /// Redis arity: `n` exactly n arguments (the name included), `-n` at least n.
    pub arity: i32,
    pub flags: u32,
    pub keys: Keys,
    /// ACL categories as COMMAND INFO lists them.
    pub acl: &'static [&'static str],
    pub tips: &'static [&'static str],
    pub key_specs: &'static [keyspec::KeySpec],
    pub doc: keyspec::Doc,
    pub subcommands: &'static [CommandSpec],
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CommandSpec({})", self.full_name)
    }
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn is_write(&self) -> bool {
        self.has(flags::WRITE)
    }

    /// Whether `argc` arguments satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}
