//! The sentinel's ACL on its client port: the permission check of each command (NOPERM
//! and its ACL LOG entry), AUTH and HELLO with a user name, and the ACL command family
//! (picket-server's, `picket_server::acl::command`) with the sentinel's clients behind it.

use bytes::Bytes;
use picket_common::resp::{Proto, ReplyBuf};
use picket_server::acl::{command as family, log, Acl, Context, Denied, Refusal, User};

use super::{lower, text, Session};
use crate::shell::Shared;

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

impl Session {
    /// A new client name (CLIENT SETNAME, HELLO SETNAME), kept for CLIENT LIST too.
    pub(super) fn set_name(&mut self, shared: &Shared, name: Option<String>) {
        if let Some(c) = shared.client_list().get_mut(&self.id) {
            c.name = name.clone();
        }
        self.name = name;
    }
}

/// `addACLLogEntry` for client `id`.
fn add_log(
    shared: &Shared,
    acl: &mut Acl,
    id: u64,
    reason: Denied,
    object: Vec<u8>,
    username: Vec<u8>,
    max_len: usize,
) {
    let entry = log::Entry {
        count: 1,
        reason,
        context: Context::Toplevel,
        object,
        username,
        ctime: shared.clock.unix_ms() as i64,
        client_info: shared.client_line(id),
    };
    acl.log.add(entry, max_len);
}

/// The user's permission for `cmd`: a refusal is logged (ACL LOG) and its NOPERM text
/// returned.
pub(super) fn check(
    shared: &Shared,
    s: &Session,
    cmd: &crate::acl::Cmd,
    args: &[Bytes],
) -> Result<(), String> {
    let max = shared.settings().acllog_max_len();
    let mut acl = shared.acl();
    let Err(r) = crate::acl::check(&acl, &s.user, cmd, args) else {
        return Ok(());
    };
    let object = match r.denied {
        Denied::Command => cmd.full_name.as_bytes().to_vec(),
        _ => args.get(r.pos).map(|a| a.to_vec()).unwrap_or_default(),
    };
    add_log(
        shared,
        &mut acl,
        s.id,
        r.denied,
        object,
        s.user.to_vec(),
        max,
    );
    Err(crate::acl::noperm_text(r.denied, cmd.full_name))
}

/// Redis's `ACLAuthenticateUser`: on success the connection runs as `user`; a failure is
/// logged (reason `auth`, the command as typed).
fn authenticate(shared: &Shared, s: &mut Session, user: &Bytes, pass: &[u8], typed: &[u8]) -> bool {
    let max = shared.settings().acllog_max_len();
    let mut acl = shared.acl();
    if acl.check_credentials(user, pass) {
        s.authenticated = true;
        s.user = user.clone();
        // Under the ACL's lock: an ACL DELUSER now finds this connection.
        if let Some(c) = shared.client_list().get_mut(&s.id) {
            c.user = user.clone();
        }
        return true;
    }
    add_log(
        shared,
        &mut acl,
        s.id,
        Denied::Auth,
        typed.to_vec(),
        user.to_vec(),
        max,
    );
    false
}

/// AUTH [username] password
pub(super) fn auth(shared: &Shared, s: &mut Session, out: &mut ReplyBuf, args: &[Bytes]) {
    if args.len() > 3 {
        out.error("ERR syntax error");
        return;
    }
    let (user, pass) = if args.len() == 2 {
        if shared.acl().default_user().is_none_or(|u| u.nopass) {
            out.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            return;
        }
        (Bytes::from_static(b"default"), &args[1])
    } else {
        (args[1].clone(), &args[2])
    };
    if authenticate(shared, s, &user, pass, &args[0]) {
        out.ok();
    } else {
        out.error(WRONGPASS);
    }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]], as Redis in sentinel
/// mode (no "role" field). Options apply as they are read: one that fails stops the
/// command, what came before it stays done.
pub(super) fn hello(shared: &Shared, s: &mut Session, out: &mut ReplyBuf, args: &[Bytes]) {
    let mut i = 1;
    let mut proto = s.proto;
    if let Some(v) = args.get(1) {
        match picket_common::sds::string2ll(v) {
            Some(2) => proto = Proto::Resp2,
            Some(3) => proto = Proto::Resp3,
            Some(_) => {
                out.error("NOPROTO unsupported protocol version");
                return;
            }
            None => {
                out.error("ERR Protocol version is not an integer or out of range");
                return;
            }
        }
        i = 2;
    }
    while i < args.len() {
        let more = args.len() - 1 - i;
        match lower(&args[i]).as_str() {
            "auth" if more >= 2 => {
                let user = args[i + 1].clone();
                if !authenticate(shared, s, &user, &args[i + 2], &args[0]) {
                    out.error(WRONGPASS);
                    return;
                }
                i += 3;
            }
            "setname" if more >= 1 => {
                let name = text(&args[i + 1]);
                if name.bytes().any(|b| !(b'!'..=b'~').contains(&b)) {
                    out.error(
                        "ERR Client names cannot contain spaces, newlines or special characters.",
                    );
                    return;
                }
                s.set_name(shared, (!name.is_empty()).then_some(name));
                i += 2;
            }
            _ => {
                out.error(&format!(
                    "ERR Syntax error in HELLO option '{}'",
                    text(&args[i])
                ));
                return;
            }
        }
    }
    if !s.authenticated {
        out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    s.proto = proto;
    out.proto = proto;
    if let Some(c) = shared.client_list().get_mut(&s.id) {
        c.resp = proto.number();
    }
    out.map(6);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto.number());
    out.bulk(b"id");
    out.int(s.id as i64);
    out.bulk(b"mode");
    out.bulk(b"sentinel");
    out.bulk(b"modules");
    out.array(0);
}

/// The sentinel as the ACL commands see it: its users (locked for the command), its
/// clients, and the connection running the command.
struct Host<'a> {
    shared: &'a Shared,
    session: &'a mut Session,
    acl: std::sync::MutexGuard<'a, Acl>,
    aclfile: String,
}

impl Host<'_> {
    /// Close client `id`: the one running the command after its reply, another at once.
    fn close(&mut self, id: u64, kill: &tokio_util::sync::CancellationToken) {
        if id == self.session.id {
            self.session.close_after_reply = true;
        } else {
            kill.cancel();
        }
    }
}

impl family::Host for Host<'_> {
    fn acl(&mut self) -> &mut Acl {
        &mut self.acl
    }

    fn aclfile(&self) -> String {
        self.aclfile.clone()
    }

    fn unix_ms(&self) -> i64 {
        self.shared.clock.unix_ms() as i64
    }

    fn current_user(&self) -> Bytes {
        self.session.user.clone()
    }

    fn kill_clients_of(&mut self, name: &[u8]) {
        let default = Bytes::from_static(b"default");
        let gone: Vec<(u64, tokio_util::sync::CancellationToken)> = {
            let mut list = self.shared.client_list();
            list.iter_mut()
                .filter(|(_, c)| c.user == name)
                .map(|(id, c)| {
                    c.user = default.clone();
                    (*id, c.kill.clone())
                })
                .collect()
        };
        if self.session.user == name {
            self.session.user = default;
            self.session.authenticated = false;
        }
        for (id, kill) in gone {
            self.close(id, &kill);
        }
    }

    fn kill_pubsub_clients(&mut self, name: &[u8], upcoming: &[Vec<u8>]) {
        let allowed = |ch: &str, pattern: bool| {
            picket_server::acl::channel_allowed(upcoming, ch.as_bytes(), pattern)
        };
        let gone: Vec<(u64, tokio_util::sync::CancellationToken)> = {
            let list = self.shared.client_list();
            let subs = self
                .shared
                .subscribers
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            list.iter()
                .filter(|(_, c)| c.user == name)
                .filter(|(id, _)| {
                    // Redis's pub/sub client type: a RESP2 connection in subscribed mode.
                    subs.get(id).is_some_and(|sub| {
                        !sub.resp3
                            && (sub.patterns.iter().any(|p| !allowed(p, true))
                                || sub.channels.iter().any(|ch| !allowed(ch, false)))
                    })
                })
                .map(|(id, c)| (*id, c.kill.clone()))
                .collect()
        };
        for (id, kill) in gone {
            self.close(id, &kill);
        }
    }

    fn dryrun(&self, u: &User, cmd: &[Bytes]) -> Result<Result<(), (Refusal, String)>, String> {
        let not_found = || format!("ERR Command '{}' not found", text(&cmd[0]));
        let typed = lower(&cmd[0]);
        let name = match &self.session.commands {
            None => typed,
            Some(names) => names.lookup(&typed).ok_or_else(not_found)?.to_string(),
        };
        let c = crate::acl::lookup(&name, cmd).map_err(|_| not_found())?;
        if !c.arity_ok(cmd.len()) {
            return Err(c.arity_error());
        }
        Ok(crate::acl::check_user(u, &c, cmd).map_err(|r| (r, c.full_name.to_string())))
    }
}

/// ACL <subcommand> ... (the dispatcher checked the subcommand and its arity).
pub(super) fn command(shared: &Shared, s: &mut Session, out: &mut ReplyBuf, args: &[Bytes]) {
    let sub = lower(&args[1]);
    let Some(f) = family::handler(&sub) else {
        out.error(&format!(
            "ERR unknown subcommand '{}'. Try ACL HELP.",
            text(&args[1])
        ));
        return;
    };
    let aclfile = shared.settings().users_config().aclfile;
    let mut host = Host {
        shared,
        session: s,
        acl: shared.acl(),
        aclfile,
    };
    if let Err(e) = f(&mut host, out, args) {
        out.error(&e);
    }
    // The users as the next state save writes them (Redis writes them at its next
    // config rewrite, not at once).
    if matches!(sub.as_str(), "setuser" | "deluser" | "load") {
        let lines = crate::acl::rewrite_lines(&host.acl, &host.aclfile);
        shared.settings().users = lines;
    }
}
