//! Access control lists as Redis 7.0's `acl.c`: users (`user.rs`) with selectors and the
//! rules that set them, their canonical text (`describe.rs`), the permission checks of the
//! command pipeline (here), the security log (`log.rs`) and the ACL file (`file.rs`).

pub mod absent;
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
pub use user::{RuleError, User};

/// The users and the log.
#[derive(Debug)]
pub struct Acl {
    /// By name, in byte order (Redis's rax).
    pub users: BTreeMap<Vec<u8>, User>,
    pub log: log::Log,
    /// `acl-pubsub-default`: whether new selectors get `allchannels`.
    pub pubsub_default_all: bool,
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
        universe();
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), User::default_user(pubsub_default_all));
        Acl {
            users,
            log: log::Log::default(),
            pubsub_default_all,
        }
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
            .unwrap_or_else(|| User::new(name, all));
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
    let mut keys: Option<Vec<(usize, &'static [&'static str])>> = None;
    for s in &u.selectors {
        match check_selector(s, spec, args, &mut keys) {
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
    match spec.name {
        "subscribe" | "ssubscribe" => (1..argc, false),
        "psubscribe" => (1..argc, true),
        "publish" | "spublish" => (1..2.min(argc), false),
        _ => (0..0, false),
    }
}

fn check_selector(
    s: &user::Selector,
    spec: &CommandSpec,
    args: &[Bytes],
    keys: &mut Option<Vec<(usize, &'static [&'static str])>>,
) -> Result<(), Refusal> {
    let u = universe();
    let id = u.of_spec(spec);
    let c = u.cmds.get(id);
    if !s.allcommands && !c.is_some_and(|c| c.no_auth) && !s.bit(id) {
        let denied = Refusal {
            denied: Denied::Command,
            pos: 0,
        };
        let idx = if spec.parent.is_some() { 2 } else { 1 };
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
    if !s.allchannels {
        let (range, is_pattern) = channels_of(spec, args.len());
        for pos in range {
            let ch = &args[pos];
            let ok = s.channels.iter().any(|p| {
                if is_pattern {
                    p == ch
                } else {
                    string_match(p, ch, false)
                }
            });
            if !ok {
                return Err(Refusal {
                    denied: Denied::Channel,
                    pos,
                });
            }
        }
    }
    Ok(())
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
