//! Access control lists as Redis 7.0's `acl.c`: users (`user.rs`) with selectors and the
//! rules that set them, their canonical text (`describe.rs`), the permission checks of the
//! command pipeline (here), the security log (`log.rs`) and the ACL file (`file.rs`).

pub mod absent;
pub mod command;
pub mod describe;
pub mod file;
pub mod log;
pub mod universe;
pub mod user;

use std::collections::BTreeMap;

use bytes::Bytes;
use picket_common::glob::string_match;

use crate::command::spec::CommandSpec;
pub use log::{Context, Denied};
use universe::universe;
pub use universe::{Row, Universe, UniverseRef};
pub use user::{RuleError, User};

/// The users and the log.
#[derive(Debug)]
pub struct Acl {
    /// By name, in byte order (Redis's rax).
    pub users: BTreeMap<Vec<u8>, User>,
    pub log: log::Log,
    /// `acl-pubsub-default`: whether new selectors get `allchannels`.
    pub pubsub_default_all: bool,
    /// The commands the rules name (picket-server's, or a sentinel's).
    pub universe: UniverseRef,
}

impl Default for Acl {
    fn default() -> Self {
        Acl::new(false)
    }
}

/// A refused command: the reason, and the argument index of the key or channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub denied: Denied,
    pub pos: usize,
}

impl Acl {
    pub fn new(pubsub_default_all: bool) -> Acl {
        // Built now rather than inside the first command checked.
        Acl::new_in(pubsub_default_all, UniverseRef(universe()))
    }

    /// The default user alone, over the commands of `universe` (a sentinel's).
    pub fn new_in(pubsub_default_all: bool, universe: UniverseRef) -> Acl {
        let mut users = BTreeMap::new();
        users.insert(
            b"default".to_vec(),
            User::default_user_in(pubsub_default_all, universe),
        );
        Acl {
            users,
            log: log::Log::default(),
            pubsub_default_all,
            universe,
        }
    }

    /// A new user named `name` (off, nothing allowed) over this ACL's commands.
    pub fn new_user(&self, name: &[u8]) -> User {
        User::new_in(name, self.pubsub_default_all, self.universe)
    }

    pub fn default_user(&self) -> Option<&User> {
        self.users.get(b"default".as_slice())
    }

    /// Redis's `authRequired` for a connection not yet authenticated.
    pub fn auth_required(&self) -> bool {
        self.default_user().is_none_or(|u| !u.nopass || !u.enabled)
    }

    /// `ACLUpdateDefaultUserPassword` (requirepass).
    pub fn set_default_password(&mut self, pass: Option<&[u8]>) {
        let all = self.pubsub_default_all;
        if let Some(u) = self.users.get_mut(b"default".as_slice()) {
            let _ = u.apply(b"resetpass", all);
            match pass {
                Some(p) => {
                    let mut op = b">".to_vec();
                    op.extend_from_slice(p);
                    let _ = u.apply(&op, all);
                }
                None => {
                    let _ = u.apply(b"nopass", all);
                }
            }
        }
    }

    /// `ACLCheckUserCredentials`.
    pub fn check_credentials(&self, name: &[u8], pass: &[u8]) -> bool {
        let Some(u) = self.users.get(name) else {
            return false;
        };
        if !u.enabled {
            return false;
        }
        if u.nopass {
            return true;
        }
        let hashed = user::hash_password(pass);
        let mut ok = false;
        for p in &u.passwords {
            ok |= constant_time_eq(p.as_bytes(), hashed.as_bytes());
        }
        ok
    }

    /// `ACLStringSetUser`: merge `(...)` selectors spread over arguments, apply every rule
    /// to a copy, and store it only if all succeed. Returns the error text after "ERR ".
    pub fn set_user(&mut self, name: &[u8], rules: &[Bytes]) -> Result<(), String> {
        let merged = merge_selector_args(rules).map_err(|i| {
            format!(
                "Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(&rules[i])
            )
        })?;
        let all = self.pubsub_default_all;
        let mut u = self
            .users
            .get(name)
            .cloned()
            .unwrap_or_else(|| User::new_in(name, all, self.universe));
        for op in &merged {
            u.apply(op, all).map_err(|e| {
                format!(
                    "Error in ACL SETUSER modifier '{}': {e}",
                    String::from_utf8_lossy(op)
                )
            })?;
        }
        self.users.insert(name.to_vec(), u);
        Ok(())
    }

    /// `ACLCheckAllUserCommandPerm` for the user named `name` (a missing user may do
    /// nothing).
    pub fn check(&self, name: &[u8], spec: &CommandSpec, args: &[Bytes]) -> Result<(), Refusal> {
        let Some(u) = self.users.get(name) else {
            return Err(Refusal {
                denied: Denied::Command,
                pos: 0,
            });
        };
        check_user(u, spec, args)
    }
}

pub fn check_user(u: &User, spec: &CommandSpec, args: &[Bytes]) -> Result<(), Refusal> {
    let mut keys: Option<Vec<(usize, &'static [&'static str])>> = None;
    check_selectors(u, |s| check_selector(s, spec, args, &mut keys))
}

/// The first selector that allows, else the most relevant refusal (Redis's order of
/// reasons, then the furthest argument).
fn check_selectors(
    u: &User,
    mut check: impl FnMut(&user::Selector) -> Result<(), Refusal>,
) -> Result<(), Refusal> {
    // A selector that allows everything (the default user's) needs no look at the command.
    if u.selectors
        .iter()
        .any(|s| s.allcommands && s.allkeys && s.allchannels)
    {
        return Ok(());
    }
    let mut relevant = Refusal {
        denied: Denied::Command,
        pos: 0,
    };
    for s in &u.selectors {
        match check(s) {
            Ok(()) => return Ok(()),
            Err(r) => {
                if r.denied > relevant.denied
                    || (r.denied == relevant.denied && r.pos > relevant.pos)
                {
                    relevant = r;
                }
            }
        }
    }
    Err(relevant)
}

/// A command without keys, as a table other than picket-server's knows it (a
/// sentinel's): its id in the user's universe, whether it is a subcommand, its arguments
/// (the name first), and which of them are channels (and whether as patterns).
#[derive(Debug, Clone)]
pub struct KeylessCmd<'a> {
    pub id: usize,
    pub subcommand: bool,
    pub args: &'a [Bytes],
    pub channels: std::ops::Range<usize>,
    pub patterns: bool,
}

/// `ACLCheckAllUserCommandPerm` for a command without keys.
pub fn check_keyless(u: &User, cmd: &KeylessCmd<'_>) -> Result<(), Refusal> {
    check_selectors(u, |s| {
        check_command_bit(s, cmd.id, cmd.subcommand, cmd.args)?;
        check_channels(s, cmd.args, cmd.channels.clone(), cmd.patterns)
    })
}

/// Which arguments of a command are channels, and whether as patterns, by its name:
/// Redis's `getChannelsFromCommand` (publish and subscribe only).
pub fn channel_args(name: &str, argc: usize) -> (std::ops::Range<usize>, bool) {
    match name {
        "subscribe" | "ssubscribe" => (1..argc, false),
        "psubscribe" => (1..argc, true),
        "publish" | "spublish" => (1..2.min(argc), false),
        _ => (0..0, false),
    }
}

/// `ACLUserCheckCmdWithUnrestrictedKeyAccess` for read access (SORT's BY and GET): a
/// selector that may run the command and read every key.
pub fn unrestricted_read(u: &User, spec: &CommandSpec, args: &[Bytes]) -> bool {
    let mut keys = None;
    u.selectors.iter().any(|s| {
        check_selector(s, spec, args, &mut keys).is_ok()
            && (s.allkeys
                || s.patterns
                    .iter()
                    .any(|p| p.flags & user::READ != 0 && p.pattern == b"*"))
    })
}

/// Which arguments of a command are channels, and whether as patterns (Redis's
/// `getChannelsFromCommand`, publish and subscribe only).
fn channels_of(spec: &CommandSpec, argc: usize) -> (std::ops::Range<usize>, bool) {
    if spec.parent.is_some() {
        return (0..0, false);
    }
    channel_args(spec.name, argc)
}

/// The command part of a selector's check: the command's bit, or an allowed first
/// argument.
fn check_command_bit(
    s: &user::Selector,
    id: usize,
    subcommand: bool,
    args: &[Bytes],
) -> Result<(), Refusal> {
    let c = s.universe.cmds.get(id);
    if !s.allcommands && !c.is_some_and(|c| c.no_auth) && !s.bit(id) {
        let denied = Refusal {
            denied: Denied::Command,
            pos: 0,
        };
        let idx = if subcommand { 2 } else { 1 };
        let first = match (args.get(idx), s.firstargs.get(&id)) {
            (Some(a), Some(list)) if args.len() >= 2 => {
                list.iter().any(|x| a.eq_ignore_ascii_case(x))
            }
            _ => false,
        };
        if !first {
            return Err(denied);
        }
    }
    Ok(())
}

/// The channel part of a selector's check.
fn check_channels(
    s: &user::Selector,
    args: &[Bytes],
    range: std::ops::Range<usize>,
    is_pattern: bool,
) -> Result<(), Refusal> {
    if s.allchannels {
        return Ok(());
    }
    for pos in range {
        let ch = &args[pos];
        if !channel_allowed(&s.channels, ch, is_pattern) {
            return Err(Refusal {
                denied: Denied::Channel,
                pos,
            });
        }
    }
    Ok(())
}

/// `ACLCheckChannelAgainstList`: a pattern (PSUBSCRIBE) must be in the list as it is; a
/// channel must match one of the list's patterns.
pub fn channel_allowed<P: AsRef<[u8]>>(list: &[P], ch: &[u8], is_pattern: bool) -> bool {
    list.iter().any(|p| {
        if is_pattern {
            p.as_ref() == ch
        } else {
            string_match(p.as_ref(), ch, false)
        }
    })
}

/// The first half of `ACLKillPubsubClientsIfNeeded`: when `new` may no longer use every
/// channel `original` could, the channel patterns it has (to check each subscribed
/// connection of the user against, with [`channel_allowed`]); `None` when no connection
/// can have lost anything.
pub fn revoked_channels(new: &User, original: &User) -> Option<Vec<Vec<u8>>> {
    if new.selectors.iter().any(|s| s.allchannels) {
        return None;
    }
    let upcoming: Vec<Vec<u8>> = new
        .selectors
        .iter()
        .flat_map(|s| s.channels.iter().cloned())
        .collect();
    let superset = original
        .selectors
        .iter()
        .all(|s| !s.allchannels && s.channels.iter().all(|c| upcoming.contains(c)));
    (!superset).then_some(upcoming)
}

fn check_selector(
    s: &user::Selector,
    spec: &CommandSpec,
    args: &[Bytes],
    keys: &mut Option<Vec<(usize, &'static [&'static str])>>,
) -> Result<(), Refusal> {
    let id = s.universe.of_spec(spec);
    check_command_bit(s, id, spec.parent.is_some(), args)?;
    let has_keys = spec.key_specs.iter().any(|k| !k.flags.contains(&"not_key"));
    if !s.allkeys && has_keys {
        let keys = keys.get_or_insert_with(|| crate::command::getkeys::keys_with_flags(spec, args));
        for &(pos, flags) in keys.iter() {
            let mut need = 0;
            if flags.contains(&"access") {
                need |= user::READ;
            }
            if flags
                .iter()
                .any(|f| matches!(*f, "insert" | "delete" | "update"))
            {
                need |= user::WRITE;
            }
            let key = &args[pos];
            let ok = s
                .patterns
                .iter()
                .any(|p| p.flags & need == need && string_match(&p.pattern, key, false));
            if !ok {
                return Err(Refusal {
                    denied: Denied::Key,
                    pos,
                });
            }
        }
    }
    let (range, is_pattern) = channels_of(spec, args.len());
    check_channels(s, args, range, is_pattern)
}

/// `ACLMergeSelectorArguments`: `(` ... `)` spread over arguments become one; `Err` is the
/// index of an unmatched opening one.
pub fn merge_selector_args(args: &[Bytes]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, op) in args.iter().enumerate() {
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.to_vec()));
            continue;
        }
        if let Some((_, sel)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                if let Some((_, sel)) = open.take() {
                    out.push(sel);
                }
            }
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((j, _)) => Err(j),
        None => Ok(out),
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= (a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0)) as usize;
    }
    diff == 0
}

/// The NOPERM reply of the pipeline (`processCommand`).
pub fn noperm_text(denied: Denied, spec: &CommandSpec) -> String {
    match denied {
        Denied::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            spec.full_name
        ),
        Denied::Key => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        _ => "NOPERM this user has no permissions to access one of the channels used as arguments"
            .into(),
    }
}

/// `getAclErrorMessage` (scripts: "The user executing the script ...").
pub fn script_error_text(denied: Denied) -> &'static str {
    match denied {
        Denied::Command => "can't run this command or subcommand",
        Denied::Key => "can't access at least one of the keys mentioned in the command arguments",
        Denied::Channel => "can't publish to the channel mentioned in the command",
        Denied::Auth => "lacking the permissions for the command",
    }
}

#[cfg(test)]
mod tests;
