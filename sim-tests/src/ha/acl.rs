//! Deployments whose every link runs as a least-privilege ACL user: the users of
//! docs/guide.md section 9 (the sentinels' user and the replicas' user on the servers, the
//! sentinels' own block), the logins of the client programs, and the ACL logs of every
//! server and sentinel of a run, read through their shared state.

use std::sync::Weak;

use super::*;

/// A user name and its password.
pub type Login = (String, String);

/// The users of an ACL deployment ([`Settings::acl`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclUsers {
    /// The `user` lines of every server, without the directive's name: the default user
    /// off, the guide's sentinel and replica users, the clients' `app` and the checker's
    /// `admin`.
    pub server_users: Vec<String>,
    /// The lines of every sentinel's config, as the guide gives them: the default user off,
    /// `admin`, `sentinel-peer`, `app`, `sentinel sentinel-user` and `sentinel-pass`.
    pub sentinel_lines: Vec<String>,
    /// The sentinels' login on the servers (`sentinel auth-user` / `auth-pass`).
    pub sentinel_login: Login,
    /// The replicas' login on their master (`masteruser` / `masterauth`).
    pub replica_login: Login,
    /// The writers' and the reader's logins: on the servers, on the sentinels.
    pub app: Logins,
    /// The watcher's, the checker's and the operator's logins.
    pub admin: Logins,
}

/// A client program's logins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logins {
    pub server: Login,
    pub sentinel: Login,
}

/// The sentinels' and the replicas' users on the servers, as the guide names them.
const SENTINEL_USER: &str = "sentinel-user";
const REPLICA_USER: &str = "replica-user";

/// The clients' user on the servers: the commands the writers and the reader send, on
/// their keys (`c<n>:<m>` and the counter `ctr`), no channel.
const SERVER_APP: &str =
    "app on >app-secret resetchannels ~ctr ~c[0-9]*:* +get +set +incr +wait +role +ping";
/// The checker's user on the servers (INFO, KEYS, CONFIG SET in strict mode).
const SERVER_ADMIN: &str = "admin on >admin-secret ~* &* +@all";

impl AclUsers {
    /// The users of docs/guide.md section 9, verbatim, with the clients' users.
    pub fn from_guide() -> Result<AclUsers, String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/guide.md");
        let guide = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        AclUsers::from_guide_text(&guide)
    }

    /// [`AclUsers::from_guide`] on the guide's text.
    pub fn from_guide_text(guide: &str) -> Result<AclUsers, String> {
        let section = guide
            .split("\n## ")
            .find(|s| s.starts_with("9. "))
            .ok_or("no section 9 in the guide")?;
        let block = |marker: &str| -> Result<Vec<String>, String> {
            section
                .split("```")
                .skip(1)
                .step_by(2)
                .find(|b| b.contains(marker))
                .map(|b| {
                    b.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .filter(|l| l.contains(' '))
                        .map(str::to_string)
                        .collect()
                })
                .ok_or_else(|| format!("no block with `{marker}` in section 9 of the guide"))
        };
        let servers = block(&format!("user {SENTINEL_USER} "))?;
        let sentinel_lines = block("user sentinel-peer ")?;
        let user_rules = |lines: &[String], name: &str| -> Result<String, String> {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(&format!("user {name} ")))
                .map(|r| format!("{name} {r}"))
                .ok_or_else(|| format!("no `user {name}` line in the guide's block"))
        };
        let sentinel_user = user_rules(&servers, SENTINEL_USER)?;
        let replica_user = user_rules(&servers, REPLICA_USER)?;
        let server_users = vec![
            "default off".to_string(),
            sentinel_user.clone(),
            replica_user.clone(),
            SERVER_APP.to_string(),
            SERVER_ADMIN.to_string(),
        ];
        let sentinel_side = |name: &str| -> Result<Login, String> {
            let rules = user_rules(&sentinel_lines, name)?;
            Ok((name.to_string(), password_of(&rules)?))
        };
        Ok(AclUsers {
            sentinel_login: (SENTINEL_USER.into(), password_of(&sentinel_user)?),
            replica_login: (REPLICA_USER.into(), password_of(&replica_user)?),
            app: Logins {
                server: ("app".into(), password_of(SERVER_APP)?),
                sentinel: sentinel_side("app")?,
            },
            admin: Logins {
                server: ("admin".into(), password_of(SERVER_ADMIN)?),
                sentinel: sentinel_side("admin")?,
            },
            server_users,
            sentinel_lines,
        })
    }

    /// The server users with `rule` taken out of the sentinels' user (a deployment that
    /// lacks one permission).
    pub fn without_sentinel_rule(mut self, rule: &str) -> AclUsers {
        for u in &mut self.server_users {
            if u.starts_with(&format!("{SENTINEL_USER} ")) {
                *u = u
                    .split(' ')
                    .filter(|r| *r != rule)
                    .collect::<Vec<_>>()
                    .join(" ");
            }
        }
        self
    }

    /// The server users with `rules` added to the sentinels' user (picket's additions:
    /// `+failover` for the hand-over of SENTINEL FAILOVER, `+replfence` for strict failover
    /// safety).
    pub fn with_sentinel_rules(mut self, rules: &[&str]) -> AclUsers {
        for u in &mut self.server_users {
            if u.starts_with(&format!("{SENTINEL_USER} ")) {
                for r in rules {
                    u.push(' ');
                    u.push_str(r);
                }
            }
        }
        self
    }

    /// The server arguments: the `user` lines, `masteruser` and `masterauth`.
    pub(super) fn server_args(&self) -> Vec<String> {
        let mut args: Vec<String> = self
            .server_users
            .iter()
            .map(|u| format!("--user {u}"))
            .collect();
        args.extend([
            "--masteruser".into(),
            self.replica_login.0.clone(),
            "--masterauth".into(),
            self.replica_login.1.clone(),
        ]);
        args
    }

    /// The sentinel config's lines: the users, and the login on the servers of `master`
    /// (after its `sentinel monitor` line).
    pub(super) fn sentinel_conf(&self, master: &str) -> (String, String) {
        let users = self.sentinel_lines.join("\n") + "\n";
        let login = format!(
            "sentinel auth-user {master} {}\nsentinel auth-pass {master} {}\n",
            self.sentinel_login.0, self.sentinel_login.1
        );
        (users, login)
    }
}

/// The password of a user's rules (its first `>password`).
fn password_of(rules: &str) -> Result<String, String> {
    rules
        .split(' ')
        .find_map(|r| r.strip_prefix('>'))
        .map(str::to_string)
        .ok_or_else(|| format!("no password in `{rules}`"))
}

/// A node whose ACL log is read.
enum Source {
    Server(Weak<picket_server::shared::Shared>),
    Sentinel(Weak<picket_sentinel::shell::Shared>),
}

struct Node {
    host: String,
    source: Source,
    /// The log as last read (a crashed node keeps its last reading).
    last: Vec<String>,
}

/// The ACL logs of every server and sentinel a run started (restarts included): each
/// node registers its shared state when it starts; the run reads every live one before it
/// applies a fault (so a node's log is read before it is crashed) and at the end. Reading
/// changes nothing in the nodes.
#[derive(Clone, Default)]
pub(crate) struct AclLogs(Arc<Mutex<Vec<Node>>>);

impl AclLogs {
    pub(crate) fn server(&self, host: &str, shared: &Arc<picket_server::shared::Shared>) {
        self.add(host, Source::Server(Arc::downgrade(shared)));
    }

    pub(crate) fn sentinel(&self, host: &str, shared: &Arc<picket_sentinel::shell::Shared>) {
        self.add(host, Source::Sentinel(Arc::downgrade(shared)));
    }

    fn add(&self, host: &str, source: Source) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(Node {
            host: host.to_string(),
            source,
            last: Vec::new(),
        });
    }

    /// Read the logs of the nodes still running.
    pub(crate) fn read(&self) {
        for n in self.0.lock().unwrap_or_else(|e| e.into_inner()).iter_mut() {
            let lines = match &n.source {
                Source::Server(w) => w.upgrade().map(|s| entries(&s.lock().acl.log)),
                Source::Sentinel(w) => w.upgrade().map(|s| entries(&s.acl().log)),
            };
            if let Some(l) = lines {
                n.last = l;
            }
        }
    }

    /// Every refusal logged, `host: entry`, in the order the nodes started.
    pub(crate) fn refusals(&self) -> Vec<String> {
        self.read();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flat_map(|n| n.last.iter().map(move |e| format!("{}: {e}", n.host)))
            .collect()
    }
}

/// A log's entries as ACL LOG shows them, oldest first.
fn entries(log: &picket_server::acl::log::Log) -> Vec<String> {
    log.entries
        .iter()
        .rev()
        .map(|e| {
            format!(
                "{} refused '{}' to '{}' ({}, {} times; {})",
                e.reason.reason(),
                String::from_utf8_lossy(&e.object),
                String::from_utf8_lossy(&e.username),
                e.context.name(),
                e.count,
                e.client_info
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_users_and_logins() {
        let a = AclUsers::from_guide().expect("the guide's users");
        assert_eq!(a.server_users[0], "default off");
        assert!(a.server_users[1].starts_with("sentinel-user on >sentinel-secret "));
        assert!(a.server_users[1].contains(" +slaveof "));
        assert_eq!(
            a.server_users[2],
            "replica-user on >replica-secret +psync +replconf +ping"
        );
        assert_eq!(
            a.sentinel_login,
            ("sentinel-user".into(), "sentinel-secret".into())
        );
        assert_eq!(
            a.replica_login,
            ("replica-user".into(), "replica-secret".into())
        );
        assert_eq!(a.app.sentinel, ("app".into(), "app-secret".into()));
        assert_eq!(a.admin.sentinel, ("admin".into(), "admin-secret".into()));
        assert_eq!(a.sentinel_lines[0], "user default off");
        assert!(a
            .sentinel_lines
            .contains(&"sentinel sentinel-user sentinel-peer".to_string()));
        assert!(a
            .sentinel_lines
            .contains(&"sentinel sentinel-pass peer-secret".to_string()));
        let b = a.clone().without_sentinel_rule("+slaveof");
        assert!(!b.server_users[1].contains("+slaveof"));
        assert!(b.server_users[1].contains(" +multi "));
        assert_eq!(b.server_users[2], a.server_users[2]);
        let c = a.clone().with_sentinel_rules(&["+failover", "+replfence"]);
        assert_eq!(
            c.server_users[1],
            format!("{} +failover +replfence", a.server_users[1])
        );
    }

    #[test]
    fn a_guide_without_the_section_is_an_error() {
        assert!(AclUsers::from_guide_text("# Guide\n## 8. Other\n").is_err());
        let no_peer =
            "# Guide\n## 9. ACL\n```\nuser sentinel-user on >s +ping\nuser replica-user on >r +psync\n```\n";
        let e = AclUsers::from_guide_text(no_peer).unwrap_err();
        assert!(e.contains("sentinel-peer"), "{e}");
        let no_pass = "# Guide\n## 9. ACL\n```\nuser sentinel-user on nopass +ping\nuser replica-user on >r +psync\n```\n```\nuser sentinel-peer on >p +ping\nuser app on >a +ping\nuser admin on >x +@all\n```\n";
        let e = AclUsers::from_guide_text(no_pass).unwrap_err();
        assert!(e.contains("no password"), "{e}");
    }
}
