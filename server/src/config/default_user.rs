//! `user default ...` lines as the sentinel takes them: a sentinel has only the default
//! user, whose password is `requirepass`. Redis 7's CONFIG REWRITE writes the default user
//! into every file it rewrites (`user default on nopass ~* &* +@all`, or `#<sha256>` with
//! `requirepass`), so files that Sentinel had Redis rewrite carry one. Such a line is
//! accepted when its password agrees with `requirepass` (or sets it, for `>password`
//! without one); any other `user` line is refused. (The data server has real ACL users:
//! `acl_user.rs`.)

use picket_common::config::{CustomKind, RewriteLine, Value};
use sha2::{Digest, Sha256};

const ONLY_DEFAULT: &str = "not supported by picket: there are no ACL users besides default (use requirepass for its password)";
const FULL_ACCESS: &str = "not supported by picket: the default user must have full access (on ~* &* +@all), as requirepass gives";

/// Redis's `ACLHashPassword`: lower-case hex SHA-256.
pub fn hash_password(pw: &str) -> String {
    Sha256::digest(pw.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The password part of an accepted `user default` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultUserPassword {
    /// `nopass`: no password, as an empty `requirepass`.
    NoPass,
    /// `>password`.
    Plain(String),
    /// `#<sha256 hex>`.
    Hash(String),
}

impl DefaultUserPassword {
    fn encode(&self) -> String {
        match self {
            DefaultUserPassword::NoPass => "nopass".into(),
            DefaultUserPassword::Plain(p) => format!(">{p}"),
            DefaultUserPassword::Hash(h) => format!("#{h}"),
        }
    }

    fn decode(s: &str) -> Option<Self> {
        if s == "nopass" {
            Some(DefaultUserPassword::NoPass)
        } else if let Some(p) = s.strip_prefix('>') {
            Some(DefaultUserPassword::Plain(p.to_string()))
        } else {
            s.strip_prefix('#')
                .map(|h| DefaultUserPassword::Hash(h.to_string()))
        }
    }

    /// The line's password for the stored value of the `user` directive, if there was a line.
    pub fn of(v: &Value) -> Option<Self> {
        match v {
            Value::List(items) => items.first().and_then(|s| Self::decode(s)),
            _ => None,
        }
    }

    /// The value of the `user` directive for `requirepass` (after CONFIG SET requirepass).
    pub fn for_requirepass(pass: &str) -> Value {
        let p = if pass.is_empty() {
            DefaultUserPassword::NoPass
        } else {
            DefaultUserPassword::Hash(hash_password(pass))
        };
        Value::List(vec![p.encode()])
    }

    /// Whether it agrees with `requirepass`; `Err` says how it does not.
    pub fn check(&self, requirepass: &str) -> Result<(), String> {
        let agrees = match self {
            DefaultUserPassword::NoPass => requirepass.is_empty(),
            DefaultUserPassword::Plain(p) => requirepass.is_empty() || requirepass == p,
            DefaultUserPassword::Hash(h) => {
                !requirepass.is_empty() && hash_password(requirepass) == *h
            }
        };
        if agrees {
            return Ok(());
        }
        Err(match self {
            DefaultUserPassword::Hash(_) if requirepass.is_empty() => {
                "not supported by picket: a password known only by its hash; set requirepass to it"
                    .into()
            }
            _ => "the default user's password differs from requirepass".into(),
        })
    }
}

/// `user default <rules...>`: only the default user with full access; the value keeps its
/// password ([`DefaultUserPassword`]), the last line winning.
#[derive(Debug)]
pub struct UserKind;

impl CustomKind for UserKind {
    fn empty(&self) -> Value {
        Value::List(Vec::new())
    }

    fn set(&self, current: &Value, args: &[String], _first: bool) -> Result<Value, String> {
        let Some((name, rules)) = args.split_first() else {
            // The (empty) default.
            return Ok(current.clone());
        };
        if name != "default" {
            return Err(ONLY_DEFAULT.into());
        }
        // Redis applies a config file's user line to a reset user: off, no password, no
        // keys, channels or commands.
        let (mut on, mut keys, mut channels, mut commands) = (false, false, false, false);
        let mut nopass = false;
        let mut passwords: Vec<DefaultUserPassword> = Vec::new();
        for rule in rules {
            let lower = rule.to_ascii_lowercase();
            match lower.as_str() {
                "on" => on = true,
                "off" => on = false,
                "~*" | "allkeys" | "%rw~*" => keys = true,
                "&*" | "allchannels" => channels = true,
                "+@all" | "allcommands" => commands = true,
                "nopass" => {
                    nopass = true;
                    passwords.clear();
                }
                "resetpass" => {
                    nopass = false;
                    passwords.clear();
                }
                "sanitize-payload" | "skip-sanitize-payload" => {}
                "reset" => {
                    (on, keys, channels, commands, nopass) = (false, false, false, false, false);
                    passwords.clear();
                }
                _ if rule.starts_with('>') => {
                    nopass = false;
                    passwords.push(DefaultUserPassword::Plain(rule[1..].to_string()));
                }
                _ if rule.starts_with('#') => {
                    let hex = &rule[1..];
                    let lower_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
                    if hex.len() != 64 || !hex.bytes().all(lower_hex) {
                        return Err("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".into());
                    }
                    nopass = false;
                    passwords.push(DefaultUserPassword::Hash(rule[1..].to_string()));
                }
                _ => return Err(FULL_ACCESS.into()),
            }
        }
        if !(on && keys && channels && commands) {
            return Err(FULL_ACCESS.into());
        }
        let password = match (nopass, passwords.as_slice()) {
            (true, _) => DefaultUserPassword::NoPass,
            (false, [one]) => one.clone(),
            (false, []) => {
                return Err("not supported by picket: a default user without password nor nopass (nobody could log in)".into())
            }
            (false, _) => {
                return Err("not supported by picket: several passwords (requirepass is one)".into())
            }
        };
        Ok(Value::List(vec![password.encode()]))
    }

    fn display(&self, v: &Value) -> String {
        DefaultUserPassword::of(v)
            .map(|p| p.encode())
            .unwrap_or_default()
    }

    /// The line as Redis's CONFIG REWRITE writes the default user (a plain password as
    /// its hash), where the file had its line.
    fn rewrite_lines(&self, v: &Value, default: &Value) -> Vec<RewriteLine> {
        let Some(p) = DefaultUserPassword::of(v) else {
            return Vec::new();
        };
        let pass = match p {
            DefaultUserPassword::Plain(pw) => format!("#{}", hash_password(&pw)),
            other => other.encode(),
        };
        let args = ["default", "on", &pass, "~*", "&*", "+@all"];
        vec![RewriteLine {
            args: args.iter().map(|a| a.to_string()).collect(),
            force: v != default,
        }]
    }

    fn repeatable(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> Result<Option<DefaultUserPassword>, String> {
        let args: Vec<String> = s.split(' ').map(str::to_string).collect();
        UserKind
            .set(&UserKind.empty(), &args, true)
            .map(|v| DefaultUserPassword::of(&v))
    }

    #[test]
    fn sha256_as_redis() {
        // What Redis 7.0 wrote for `requirepass s3cret`.
        assert_eq!(
            hash_password("s3cret"),
            "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"
        );
    }

    #[test]
    fn full_access_default_user_lines() {
        assert_eq!(
            line("default on nopass ~* &* +@all"),
            Ok(Some(DefaultUserPassword::NoPass))
        );
        assert_eq!(
            line("default on #1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0 ~* &* +@all"),
            Ok(Some(DefaultUserPassword::Hash(
                "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0".into()
            )))
        );
        assert_eq!(
            line("default on sanitize-payload >pw allkeys allchannels allcommands"),
            Ok(Some(DefaultUserPassword::Plain("pw".into())))
        );
        for bad in [
            "alice on nopass ~* &* +@all",
            "default off nopass ~* &* +@all",
            "default on nopass ~cache:* &* +@all",
            "default on nopass ~* +@all",
            "default on nopass ~* &* +@all -flushall",
            "default on ~* &* +@all",
            "default on >a >b ~* &* +@all",
        ] {
            assert!(
                line(bad).unwrap_err().contains("not supported by picket"),
                "{bad}"
            );
        }
    }

    #[test]
    fn agreement_with_requirepass() {
        let hash = DefaultUserPassword::Hash(hash_password("pw"));
        assert!(hash.check("pw").is_ok());
        assert!(hash.check("other").is_err());
        assert!(hash.check("").unwrap_err().contains("set requirepass"));
        assert!(DefaultUserPassword::NoPass.check("").is_ok());
        assert!(DefaultUserPassword::NoPass.check("pw").is_err());
        let plain = DefaultUserPassword::Plain("pw".into());
        assert!(plain.check("").is_ok() && plain.check("pw").is_ok() && plain.check("x").is_err());
        let v = DefaultUserPassword::for_requirepass("pw");
        let lines = UserKind.rewrite_lines(&v, &UserKind.empty());
        assert_eq!(lines[0].args[2], format!("#{}", hash_password("pw")));
        assert_eq!(
            UserKind.rewrite_lines(&DefaultUserPassword::for_requirepass(""), &UserKind.empty())[0]
                .args,
            ["default", "on", "nopass", "~*", "&*", "+@all"]
        );
    }
}
