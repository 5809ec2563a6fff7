//! The sentinel's own ACL users. Redis 7.0's sentinel is a mode of redis-server: it has the
//! server's ACL (`user` lines, `aclfile`, AUTH with a user name, the ACL command family,
//! the NOPERM checks of `processCommand`) over its own command table, the commands flagged
//! `CMD_SENTINEL` ([`table::COMMANDS`]): `+@all` means those, `+get` is unknown, and
//! `+sentinel|get-master-addr-by-name` names a subcommand. picket-sentinel runs
//! picket-server's ACL code (`picket_server::acl`) on that table.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bytes::Bytes;
use picket_common::config::Value;
use picket_server::acl::{self, Acl, Refusal, Row, Universe, UniverseRef};
use picket_server::config::acl_user::UserKind;

mod table;

pub use table::COMMANDS;

/// The sentinel's commands as ACL rules name them.
pub fn universe() -> UniverseRef {
    static U: OnceLock<Universe> = OnceLock::new();
    UniverseRef(U.get_or_init(|| {
        Universe::from_rows(
            COMMANDS
                .iter()
                .map(|(name, _, cats, no_auth)| Row::new(name, cats, *no_auth, None))
                .collect(),
        )
    }))
}

/// The kind of the sentinel's `user` directive: lines checked over its commands.
pub static USER_LINES: UserKind = UserKind { universe };

/// A command of the sentinel's table, as a client called it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmd {
    /// `ping`, `sentinel|masters`.
    pub full_name: &'static str,
    /// Its id in [`universe`].
    pub id: usize,
    pub subcommand: bool,
    /// Redis's arity: `n` exactly, `-n` at least.
    pub arity: i32,
    /// Runs without authentication (AUTH, HELLO).
    pub no_auth: bool,
}

impl Cmd {
    /// Redis's `commandCheckArity`.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity > 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Redis's `-ERR wrong number of arguments` reply.
    pub fn arity_error(&self) -> String {
        format!(
            "ERR wrong number of arguments for '{}' command",
            self.full_name
        )
    }
}

/// Why a command was not found (Redis's `commandCheckExistence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    Command,
    /// A container (SENTINEL, CLIENT, ACL, COMMAND) with a subcommand it does not have.
    Subcommand,
}

fn rows() -> &'static BTreeMap<&'static str, (i32, bool)> {
    static M: OnceLock<BTreeMap<&'static str, (i32, bool)>> = OnceLock::new();
    M.get_or_init(|| {
        COMMANDS
            .iter()
            .map(|(name, arity, _, no_auth)| (*name, (*arity, *no_auth)))
            .collect()
    })
}

fn cmd_of(full_name: &'static str, subcommand: bool) -> Option<Cmd> {
    let (arity, no_auth) = *rows().get(full_name)?;
    let id = universe().lookup(full_name.as_bytes())?;
    Some(Cmd {
        full_name,
        id,
        subcommand,
        arity,
        no_auth,
    })
}

/// Redis's `lookupCommand` on the sentinel's table: `name` is the command (lower case,
/// after `rename-command`), `args` the whole call. A container called with a subcommand
/// stands for that subcommand.
pub fn lookup(name: &str, args: &[Bytes]) -> Result<Cmd, NotFound> {
    let Some((&top, _)) = rows().get_key_value(name) else {
        return Err(NotFound::Command);
    };
    let container = rows()
        .range(format!("{top}|").as_str()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(&format!("{top}|")));
    if args.len() == 1 || !container {
        return cmd_of(top, false).ok_or(NotFound::Command);
    }
    let sub = format!("{top}|{}", String::from_utf8_lossy(&args[1]).to_lowercase());
    match rows().get_key_value(sub.as_str()) {
        Some((&full, _)) => cmd_of(full, true).ok_or(NotFound::Subcommand),
        None => Err(NotFound::Subcommand),
    }
}

/// `ACLCheckAllPerm` for `cmd` run by `user` (a user that is gone may run nothing).
pub fn check(acl: &Acl, user: &[u8], cmd: &Cmd, args: &[Bytes]) -> Result<(), Refusal> {
    match acl.users.get(user) {
        Some(u) => check_user(u, cmd, args),
        None => Err(Refusal {
            denied: acl::Denied::Command,
            pos: 0,
        }),
    }
}

/// `ACLCheckAllUserCommandPerm`: whether `u` may run `cmd` with `args`.
pub fn check_user(u: &acl::User, cmd: &Cmd, args: &[Bytes]) -> Result<(), Refusal> {
    let (channels, patterns) = if cmd.subcommand {
        (0..0, false)
    } else {
        acl::channel_args(cmd.full_name, args.len())
    };
    acl::check_keyless(
        u,
        &acl::KeylessCmd {
            id: cmd.id,
            subcommand: cmd.subcommand,
            args,
            channels,
            patterns,
        },
    )
}

/// The NOPERM reply of `processCommand`.
pub fn noperm_text(denied: acl::Denied, full_name: &str) -> String {
    match denied {
        acl::Denied::Command => {
            format!("NOPERM this user has no permissions to run the '{full_name}' command")
        }
        acl::Denied::Key => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        _ => "NOPERM this user has no permissions to access one of the channels used as arguments"
            .into(),
    }
}

/// How the configuration sets the users up.
#[derive(Debug, Clone)]
pub struct UsersConfig {
    /// The `user` directive's value (its lines).
    pub lines: Value,
    /// `aclfile` ("" none).
    pub aclfile: String,
    /// `requirepass` ("" none): the default user's password.
    pub requirepass: String,
    /// `acl-pubsub-default allchannels`.
    pub pubsub_default_all: bool,
}

impl Default for UsersConfig {
    fn default() -> Self {
        UsersConfig {
            lines: Value::List(Vec::new()),
            aclfile: String::new(),
            requirepass: String::new(),
            pubsub_default_all: false,
        }
    }
}

/// The users at start-up, as Redis's `initServer` (requirepass becomes the default user's
/// password) then `ACLLoadUsersAtStartup` (the `user` lines, which reset the default user
/// if they name it, or the ACL file): the error is Redis's message.
pub fn load_users(c: &UsersConfig) -> Result<Acl, String> {
    let mut acl = Acl::new_in(c.pubsub_default_all, universe());
    acl.set_default_password((!c.requirepass.is_empty()).then_some(c.requirepass.as_bytes()));
    let lines = picket_server::config::acl_user::decode(&c.lines);
    picket_server::config::acl_user::apply_configured_users(&mut acl, &lines, &c.aclfile)?;
    if !c.aclfile.is_empty() {
        acl.users = acl::command::load_file(&c.aclfile, c.pubsub_default_all, universe())
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
    }
    Ok(acl)
}

/// The `user` lines a config rewrite writes (`<name> <rules>`, after `user `, in name
/// order, as Redis's `rewriteConfigUserOption`); `None` with an ACL file, whose users are
/// not the config file's.
pub fn rewrite_lines(acl: &Acl, aclfile: &str) -> Option<Vec<String>> {
    if !aclfile.is_empty() {
        return None;
    }
    Some(
        acl::file::lines(&acl.users)
            .iter()
            .map(|l| {
                let l = String::from_utf8_lossy(l);
                l.strip_prefix("user ").unwrap_or(&l).to_string()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests;
