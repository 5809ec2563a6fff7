//! ACL SETUSER / GETUSER / DELUSER / USERS / LIST / WHOAMI / CAT / GENPASS / LOG / DRYRUN /
//! LOAD / SAVE / HELP as Redis 7.0's `aclCommand`, and the permission check of the
//! pipeline with its ACL LOG entry.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::acl::{self, Context, Denied, User};
use crate::client::{cflags, Client, ClientId};
use crate::server::Server;

/// Whether `client` may run `spec` with `args`; a refusal is logged (ACL LOG) and returned.
/// The master's link and the loader run as Redis's user-less clients: anything goes.
pub fn check_client(
    srv: &mut Server,
    client: &Client,
    spec: &'static CommandSpec,
    args: &[Bytes],
    context: Context,
) -> Result<(), Denied> {
    check_client_as(srv, client, None, spec, args, context)
}

/// The CLIENT INFO line a script's ACL LOG entries show: its caller's, when the caller's
/// user has restrictions (else nothing can be refused).
pub fn caller_info(srv: &Server, caller: &Client) -> Option<String> {
    let unrestricted = srv.acl.users.get(&caller.user[..]).is_some_and(|u| {
        u.selectors
            .iter()
            .any(|s| s.allcommands && s.allkeys && s.allchannels)
    });
    (!unrestricted).then(|| caller.info_line(tokio::time::Instant::now()))
}

/// [`check_client`] logging `info` as the client's (a script's caller).
pub fn check_client_as(
    srv: &mut Server,
    client: &Client,
    info: Option<&str>,
    spec: &'static CommandSpec,
    args: &[Bytes],
    context: Context,
) -> Result<(), Denied> {
    if client.acl_exempt || client.has(cflags::LOADER) || client.has(cflags::MASTER) {
        return Ok(());
    }
    let Err(r) = srv.acl.check(&client.user, spec, args) else {
        return Ok(());
    };
    let object = match r.denied {
        Denied::Command => spec.full_name.as_bytes().to_vec(),
        _ => args.get(r.pos).map(|a| a.to_vec()).unwrap_or_default(),
    };
    let user = client.user.to_vec();
    let info = match info {
        Some(i) => i.to_string(),
        None => client.info_line(tokio::time::Instant::now()),
    };
    add_log_entry(srv, r.denied, context, object, user, info);
    Err(r.denied)
}

/// Whether the client's user may read any key with this command (SORT's BY and GET).
pub fn full_key_access(srv: &Server, client: &Client, spec: &CommandSpec, args: &[Bytes]) -> bool {
    if client.acl_exempt || client.has(cflags::LOADER) || client.has(cflags::MASTER) {
        return true;
    }
    srv.acl
        .users
        .get(&client.user[..])
        .is_some_and(|u| acl::unrestricted_read(u, spec, args))
}

/// `addACLLogEntry`.
pub fn add_log(
    srv: &mut Server,
    client: &Client,
    denied: Denied,
    context: Context,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    let info = client.info_line(tokio::time::Instant::now());
    add_log_entry(srv, denied, context, object, username, info);
}

fn add_log_entry(
    srv: &mut Server,
    denied: Denied,
    context: Context,
    object: Vec<u8>,
    username: Vec<u8>,
    client_info: String,
) {
    let entry = acl::log::Entry {
        count: 1,
        reason: denied,
        context,
        object,
        username,
        ctime: srv.clock.unix_ms() as i64,
        client_info,
    };
    let max = srv.cfg.acllog_max_len;
    srv.acl.log.add(entry, max);
}

/// The users of the ACL file, or Redis's error text.
pub fn load_aclfile(srv: &Server) -> Result<BTreeMap<Vec<u8>, User>, String> {
    acl::command::load_file(
        &srv.cfg.aclfile,
        srv.cfg.acl_pubsub_default_all,
        srv.acl.universe,
    )
}

/// The server as the ACL commands see it.
struct ServerHost<'a> {
    srv: &'a mut Server,
    client: &'a mut Client,
}

impl acl::command::Host for ServerHost<'_> {
    fn acl(&mut self) -> &mut acl::Acl {
        &mut self.srv.acl
    }

    fn aclfile(&self) -> String {
        self.srv.cfg.aclfile.clone()
    }

    fn unix_ms(&self) -> i64 {
        self.srv.clock.unix_ms() as i64
    }

    fn current_user(&self) -> Bytes {
        self.client.user.clone()
    }

    /// `ACLFreeUserAndKillClients`.
    fn kill_clients_of(&mut self, name: &[u8]) {
        let ids: Vec<ClientId> = self
            .srv
            .clients
            .values()
            .filter(|c| c.user == name)
            .map(|c| c.id)
            .collect();
        for id in ids {
            if let Some(c) = self.srv.clients.get_mut(&id) {
                c.user = Bytes::from_static(b"default");
                c.authenticated = false;
                c.close_asap("user deleted by ACL DELUSER");
            }
        }
        if self.client.user == name {
            self.client.user = Bytes::from_static(b"default");
            self.client.authenticated = false;
            self.client.flags |= cflags::CLOSE_AFTER_REPLY;
        }
    }

    /// `ACLKillPubsubClientsIfNeeded`: the (RESP2) subscribed connections of the user
    /// holding a channel or pattern no longer allowed are closed.
    fn kill_pubsub_clients(&mut self, name: &[u8], upcoming: &[Vec<u8>]) {
        let allowed = |ch: &[u8], pattern: bool| acl::channel_allowed(upcoming, ch, pattern);
        let ids: Vec<ClientId> = self
            .srv
            .clients
            .values()
            .filter(|c| c.user == name && c.type_name() == "pubsub")
            .filter(|c| {
                c.patterns.iter().any(|p| !allowed(p, true))
                    || c.channels.iter().any(|ch| !allowed(ch, false))
                    || c.shard_channels.iter().any(|ch| !allowed(ch, false))
            })
            .map(|c| c.id)
            .collect();
        for id in ids {
            if let Some(c) = self.srv.clients.get_mut(&id) {
                c.close_asap("its channel permissions were revoked");
            }
        }
    }

    fn dryrun(
        &self,
        u: &User,
        cmd: &[Bytes],
    ) -> Result<Result<(), (acl::Refusal, String)>, String> {
        let Ok(spec) = super::resolve(cmd) else {
            return Err(format!(
                "ERR Command '{}' not found",
                String::from_utf8_lossy(&cmd[0])
            ));
        };
        if !spec.arity_ok(cmd.len()) {
            return Err(format!(
                "ERR wrong number of arguments for '{}' command",
                spec.full_name
            ));
        }
        Ok(acl::check_user(u, spec, cmd).map_err(|r| (r, spec.full_name.to_string())))
    }
}

/// Run an ACL subcommand of the generic family on the server.
fn run(ctx: &mut Ctx, f: acl::command::Handler) -> CmdResult {
    let mut host = ServerHost {
        srv: ctx.srv,
        client: ctx.client,
    };
    f(&mut host, ctx.out, ctx.args).map_err(CmdError::Reply)
}

pub fn setuser(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::setuser)
}

pub fn deluser(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::deluser)
}

pub fn getuser(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::getuser)
}

pub fn users(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::users)
}

pub fn list(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::list)
}

pub fn whoami(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::whoami)
}

pub fn load(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::load)
}

pub fn save(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::save)
}

pub fn cat(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::cat)
}

pub fn genpass(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::genpass)
}

pub fn log(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::log)
}

pub fn dryrun(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::dryrun)
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    run(ctx, acl::command::help)
}
