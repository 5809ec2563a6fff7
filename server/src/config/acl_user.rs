//! `user <name> <rules...>` lines of the config file, as Redis 7.0's
//! `ACLAppendUserForLoading`: each line is checked on a scratch user when it is read (an
//! unknown command is let through, as Redis defers it), a user may be declared once, and
//! the lines are applied at start-up (`apply_configured_users`). CONFIG REWRITE writes the
//! live users back (`lines_of`).

use bytes::Bytes;
use picket_common::config::{CustomKind, RewriteLine, Value};

use crate::acl::{self, RuleError, User};

/// Arguments of one line are kept joined by this byte (a rule never holds it: Redis's
/// rules are NUL-terminated strings).
const SEP: char = '\0';

fn encode(args: &[String]) -> String {
    args.join(&SEP.to_string())
}

/// The stored lines: (name, rules with selectors merged).
pub fn decode(v: &Value) -> Vec<(String, Vec<String>)> {
    match v {
        Value::List(lines) => lines
            .iter()
            .filter_map(|l| {
                let mut parts = l.split(SEP).map(str::to_string);
                let name = parts.next()?;
                Some((name, parts.collect()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The `user` directive's value for the live users (CONFIG REWRITE), one line each, in
/// name order, as ACL LIST shows them.
pub fn lines_of(users: &std::collections::BTreeMap<Vec<u8>, User>) -> Value {
    Value::List(
        users
            .values()
            .map(|u| {
                let mut args = vec![String::from_utf8_lossy(&u.name).into_owned()];
                let descr = String::from_utf8_lossy(&acl::describe::user(u)).into_owned();
                args.extend(descr.split(' ').map(str::to_string));
                encode(&args)
            })
            .collect(),
    )
}

/// `user <name> <rules...>` lines, checked over the commands of a universe
/// (picket-server's, or a sentinel's).
#[derive(Debug)]
pub struct UserKind {
    pub universe: fn() -> acl::UniverseRef,
}

impl UserKind {
    /// picket-server's `user` lines.
    pub const SERVER: UserKind = UserKind {
        universe: acl::UniverseRef::server,
    };
}

impl CustomKind for UserKind {
    fn empty(&self) -> Value {
        Value::List(Vec::new())
    }

    fn set(&self, current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        let Some((name, rules)) = args.split_first() else {
            return Ok(current.clone());
        };
        // Redis names the argument at the merged rule's index of the whole line (`user`
        // being argument 0), which is what its message shows.
        let arg_at = |j: usize| -> String {
            if j == 0 {
                "user".to_string()
            } else {
                args.get(j - 1).cloned().unwrap_or_default()
            }
        };
        let existing = decode(current);
        if existing.iter().any(|(n, _)| n == name) {
            return Err(format!(
                "Error in user declaration '{name}': Duplicate user found. A user can only be defined once in config files"
            ));
        }
        let raw: Vec<Bytes> = rules
            .iter()
            .map(|r| Bytes::copy_from_slice(r.as_bytes()))
            .collect();
        let merged = acl::merge_selector_args(&raw)
            .map_err(|i| format!("Error in user declaration '{}': Wrong format", arg_at(i)))?;
        let mut scratch = User::new_in(b"__fakeuser:0__", false, (self.universe)());
        for (j, op) in merged.iter().enumerate() {
            match scratch.apply(op, false) {
                Ok(()) | Err(RuleError::Unknown) => {}
                Err(e) => return Err(format!("Error in user declaration '{}': {e}", arg_at(j))),
            }
        }
        let mut line = vec![name.clone()];
        line.extend(
            merged
                .iter()
                .map(|r| String::from_utf8_lossy(r).into_owned()),
        );
        let mut lines = match current {
            Value::List(l) => l.clone(),
            _ => Vec::new(),
        };
        lines.push(encode(&line));
        Ok(Value::List(lines))
    }

    fn display(&self, _v: &Value) -> String {
        String::new()
    }

    /// One `user` line per user, always written (Redis's `rewriteConfigUserOption`).
    fn rewrite_lines(&self, v: &Value, _default: &Value) -> Vec<RewriteLine> {
        decode(v)
            .into_iter()
            .map(|(name, rules)| {
                let mut args = vec![name];
                args.extend(rules);
                RewriteLine { args, force: true }
            })
            .collect()
    }

    fn repeatable(&self) -> bool {
        true
    }
}

/// Redis's `ACLLoadUsersAtStartup` for the config file's lines: `user` lines and an
/// `aclfile` exclude each other; each configured user is created (the default user reset
/// first) and its rules applied. The error is the start-up message.
pub fn apply_configured_users(
    acl: &mut acl::Acl,
    lines: &[(String, Vec<String>)],
    aclfile: &str,
) -> Result<(), String> {
    if !aclfile.is_empty() && !lines.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    let all = acl.pubsub_default_all;
    for (name, rules) in lines {
        if acl::user::has_spaces(name.as_bytes()) {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        let mut u = match acl.users.get(name.as_bytes()) {
            Some(existing) => {
                let mut u = existing.clone();
                let _ = u.apply(b"reset", all);
                u
            }
            None => acl.new_user(name.as_bytes()),
        };
        for r in rules {
            if let Err(e) = u.apply(r.as_bytes(), all) {
                return Err(format!(
                    "Error loading ACL rule '{r}' for the user named '{name}': {e}. Critical error while loading ACLs. Exiting."
                ));
            }
        }
        if !u.enabled {
            tracing::info!("The user '{name}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.");
        }
        acl.users.insert(name.as_bytes().to_vec(), u);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(cur: &Value, s: &str) -> Result<Value, String> {
        let args: Vec<String> = s.split(' ').map(str::to_string).collect();
        UserKind::SERVER.set(cur, &args, true)
    }

    #[test]
    fn lines_are_checked_and_accumulate() {
        let v = line(
            &UserKind::SERVER.empty(),
            "alice on >pw ~k* (+get ~x) +nosuch",
        )
        .unwrap();
        let v = line(&v, "default on nopass ~* &* +@all").unwrap();
        let d = decode(&v);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].1, ["on", ">pw", "~k*", "(+get ~x)", "+nosuch"]);
        assert_eq!(
            line(&v, "alice on").unwrap_err(),
            "Error in user declaration 'alice': Duplicate user found. A user can only be defined once in config files"
        );
        // Redis's message names the line's argument at the rule's index.
        assert_eq!(
            line(&v, "bob on bogus").unwrap_err(),
            "Error in user declaration 'bob': Syntax error"
        );
        let mut acl = acl::Acl::new(false);
        let err = apply_configured_users(&mut acl, &d, "").unwrap_err();
        assert!(
            err.contains("Error loading ACL rule '+nosuch' for the user named 'alice'"),
            "{err}"
        );
        let ok = decode(&line(&UserKind::SERVER.empty(), "default on >pw ~* &* +@all").unwrap());
        apply_configured_users(&mut acl, &ok, "").unwrap();
        assert!(acl.auth_required());
        assert!(apply_configured_users(&mut acl, &ok, "/x.acl").is_err());
    }
}
