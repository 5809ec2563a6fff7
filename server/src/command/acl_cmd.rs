//! ACL SETUSER / GETUSER / DELUSER / USERS / LIST / WHOAMI / CAT / GENPASS / LOG / DRYRUN /
//! LOAD / SAVE / HELP as Redis 7.0's `aclCommand`, and the permission check of the
//! pipeline with its ACL LOG entry.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::args::{is, parse_i64};
use super::client_cmd::help_reply;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::acl::{self, describe, universe, Context, Denied, User};
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
    let path = &srv.cfg.aclfile;
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            crate::persist::aof_file::strerror(&e)
        )
    })?;
    acl::file::parse(&text, path, srv.cfg.acl_pubsub_default_all)
}

/// Close the connections authenticated as `name` (`ACLFreeUserAndKillClients`).
fn kill_clients_of(ctx: &mut Ctx, name: &[u8]) {
    let ids: Vec<ClientId> = ctx
        .srv
        .clients
        .values()
        .filter(|c| c.user == name)
        .map(|c| c.id)
        .collect();
    for id in ids {
        if let Some(c) = ctx.srv.clients.get_mut(&id) {
            c.user = Bytes::from_static(b"default");
            c.authenticated = false;
            c.close_asap("user deleted by ACL DELUSER");
        }
    }
    if ctx.client.user == name {
        ctx.client.user = Bytes::from_static(b"default");
        ctx.client.authenticated = false;
        ctx.client.flags |= cflags::CLOSE_AFTER_REPLY;
    }
}

pub fn setuser(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.args[2].clone();
    if acl::user::has_spaces(&name) {
        return Err(CmdError::err(
            "Usernames can't contain spaces or null characters",
        ));
    }
    let original = ctx.srv.acl.users.get(&name[..]).cloned();
    ctx.srv
        .acl
        .set_user(&name, &ctx.args[3..])
        .map_err(CmdError::err)?;
    if let (Some(original), Some(new)) = (original, ctx.srv.acl.users.get(&name[..]).cloned()) {
        kill_pubsub_clients_if_needed(ctx, &new, &original);
    }
    ctx.out.ok();
    Ok(())
}

/// `ACLKillPubsubClientsIfNeeded`: when a user loses channel permissions, its (RESP2)
/// subscribed connections that hold a channel or pattern no longer allowed are closed.
fn kill_pubsub_clients_if_needed(ctx: &mut Ctx, new: &User, original: &User) {
    if new.selectors.iter().any(|s| s.allchannels) {
        return;
    }
    let upcoming: Vec<&Vec<u8>> = new.selectors.iter().flat_map(|s| &s.channels).collect();
    let superset = original
        .selectors
        .iter()
        .all(|s| !s.allchannels && s.channels.iter().all(|c| upcoming.contains(&c)));
    if superset {
        return;
    }
    let allowed = |ch: &[u8], pattern: bool| {
        upcoming.iter().any(|p| {
            if pattern {
                p.as_slice() == ch
            } else {
                picket_common::glob::string_match(p, ch, false)
            }
        })
    };
    let ids: Vec<ClientId> = ctx
        .srv
        .clients
        .values()
        .filter(|c| c.user == original.name && c.type_name() == "pubsub")
        .filter(|c| {
            c.patterns.iter().any(|p| !allowed(p, true))
                || c.channels.iter().any(|ch| !allowed(ch, false))
                || c.shard_channels.iter().any(|ch| !allowed(ch, false))
        })
        .map(|c| c.id)
        .collect();
    for id in ids {
        if let Some(c) = ctx.srv.clients.get_mut(&id) {
            c.close_asap("its channel permissions were revoked");
        }
    }
}

pub fn deluser(ctx: &mut Ctx) -> CmdResult {
    if ctx.args[2..].iter().any(|n| &n[..] == b"default") {
        return Err(CmdError::err("The 'default' user cannot be removed"));
    }
    let mut deleted = 0;
    for j in 2..ctx.args.len() {
        let name = ctx.args[j].clone();
        if ctx.srv.acl.users.remove(&name[..]).is_some() {
            kill_clients_of(ctx, &name);
            deleted += 1;
        }
    }
    ctx.out.int(deleted);
    Ok(())
}

fn selector_fields(ctx: &mut Ctx, s: &acl::user::Selector) {
    ctx.out.bulk(b"commands");
    ctx.out.bulk(describe::command_rules(s).as_bytes());
    ctx.out.bulk(b"keys");
    ctx.out.bulk(&describe::keys_field(s));
    ctx.out.bulk(b"channels");
    ctx.out.bulk(&describe::channels_field(s));
}

pub fn getuser(ctx: &mut Ctx) -> CmdResult {
    let Some(u) = ctx.srv.acl.users.get(&ctx.args[2][..]).cloned() else {
        ctx.out.null();
        return Ok(());
    };
    ctx.out.map(6);
    ctx.out.bulk(b"flags");
    let flags = describe::flags(&u);
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.bulk(f.as_bytes());
    }
    ctx.out.bulk(b"passwords");
    ctx.out.array(u.passwords.len());
    for p in &u.passwords {
        ctx.out.bulk(p.as_bytes());
    }
    selector_fields(ctx, u.root());
    ctx.out.bulk(b"selectors");
    ctx.out.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        ctx.out.map(3);
        selector_fields(ctx, s);
    }
    Ok(())
}

pub fn users(ctx: &mut Ctx) -> CmdResult {
    let names: Vec<Vec<u8>> = ctx.srv.acl.users.keys().cloned().collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(&n);
    }
    Ok(())
}

pub fn list(ctx: &mut Ctx) -> CmdResult {
    let lines = acl::file::lines(&ctx.srv.acl.users);
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.bulk(&l);
    }
    Ok(())
}

pub fn whoami(ctx: &mut Ctx) -> CmdResult {
    let user = ctx.client.user.clone();
    ctx.out.bulk(&user);
    Ok(())
}

const NO_ACLFILE: &str = "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

pub fn load(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.cfg.aclfile.is_empty() {
        return Err(CmdError::err(NO_ACLFILE));
    }
    let users = load_aclfile(ctx.srv).map_err(CmdError::err)?;
    // Redis 7.0 frees every old user but the default one (whose record takes the new
    // rules), closing their connections, even those of users the file keeps.
    let gone: Vec<Vec<u8>> = ctx
        .srv
        .acl
        .users
        .keys()
        .filter(|n| n.as_slice() != b"default")
        .cloned()
        .collect();
    ctx.srv.acl.users = users;
    for name in gone {
        kill_clients_of(ctx, &name);
    }
    ctx.out.ok();
    Ok(())
}

pub fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.cfg.aclfile.is_empty() {
        return Err(CmdError::err(NO_ACLFILE));
    }
    let path = std::path::PathBuf::from(&ctx.srv.cfg.aclfile);
    let unique = ctx.srv.clock.unix_ms();
    if let Err(e) = acl::file::save(&path, &ctx.srv.acl.users, unique) {
        tracing::warn!("Writing ACL file for ACL SAVE: {e}");
        return Err(CmdError::err("There was an error trying to save the ACLs. Please check the server logs for more information"));
    }
    ctx.out.ok();
    Ok(())
}

pub fn cat(ctx: &mut Ctx) -> CmdResult {
    match ctx.args.len() {
        2 => {
            ctx.out.array(universe::CATEGORIES.len());
            for c in universe::CATEGORIES {
                ctx.out.bulk(c.as_bytes());
            }
        }
        3 => {
            let Some(bit) = universe::category_bit(&ctx.args[2]) else {
                let name = String::from_utf8_lossy(&ctx.args[2]);
                let name: String = name.chars().take(128).collect();
                return Err(CmdError::err(format!("Unknown category '{name}'")));
            };
            let names = universe::commands_in(bit);
            ctx.out.array(names.len());
            for n in names {
                ctx.out.bulk(n.as_bytes());
            }
        }
        _ => return Err(subcommand_syntax(ctx)),
    }
    Ok(())
}

fn subcommand_syntax(ctx: &Ctx) -> CmdError {
    CmdError::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
        String::from_utf8_lossy(&ctx.args[1])
    ))
}

pub fn genpass(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(subcommand_syntax(ctx));
    }
    let bits = match ctx.args.get(2) {
        Some(a) => parse_i64(a).ok_or(CmdError::NotInteger)?,
        None => 256,
    };
    if bits <= 0 || bits > 4096 {
        return Err(CmdError::err("ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"));
    }
    let chars = ((bits + 3) / 4) as usize;
    // A password comes from the operating system's generator, as Redis's from
    // /dev/urandom: the server's seeded RNG (which replays under the simulation) is
    // predictable. Nothing decides on it, so determinism does not suffer.
    let mut raw = vec![0u8; chars.div_ceil(2)];
    if let Err(e) = rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut raw) {
        return Err(CmdError::err(format!(
            "Failed to generate a random password: {e}"
        )));
    }
    const HEX: &[u8] = b"0123456789abcdef";
    let pass: Vec<u8> = raw
        .iter()
        .flat_map(|b| [HEX[(b >> 4) as usize], HEX[(b & 15) as usize]])
        .take(chars)
        .collect();
    ctx.out.bulk(&pass);
    Ok(())
}

pub fn log(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(subcommand_syntax(ctx));
    }
    let mut count: i64 = 10;
    if let Some(a) = ctx.args.get(2) {
        if is(a, "reset") {
            ctx.srv.acl.log.entries.clear();
            ctx.out.ok();
            return Ok(());
        }
        count = parse_i64(a).ok_or(CmdError::NotInteger)?.max(0);
    }
    let now = ctx.srv.clock.unix_ms() as i64;
    let entries: Vec<_> = ctx
        .srv
        .acl
        .log
        .entries
        .iter()
        .take(count as usize)
        .cloned()
        .collect();
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.map(7);
        ctx.out.bulk(b"count");
        ctx.out.int(e.count as i64);
        ctx.out.bulk(b"reason");
        ctx.out.bulk(e.reason.reason().as_bytes());
        ctx.out.bulk(b"context");
        ctx.out.bulk(e.context.name().as_bytes());
        ctx.out.bulk(b"object");
        ctx.out.bulk(&e.object);
        ctx.out.bulk(b"username");
        ctx.out.bulk(&e.username);
        ctx.out.bulk(b"age-seconds");
        ctx.out.double((now - e.ctime) as f64 / 1000.0);
        ctx.out.bulk(b"client-info");
        ctx.out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

pub fn dryrun(ctx: &mut Ctx) -> CmdResult {
    let name = &ctx.args[2];
    let Some(u) = ctx.srv.acl.users.get(&name[..]) else {
        return Err(CmdError::err(format!(
            "User '{}' not found",
            String::from_utf8_lossy(name)
        )));
    };
    let cmd = &ctx.args[3..];
    let Ok(spec) = super::resolve(cmd) else {
        return Err(CmdError::err(format!(
            "Command '{}' not found",
            String::from_utf8_lossy(&cmd[0])
        )));
    };
    if !spec.arity_ok(cmd.len()) {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{}' command",
            spec.full_name
        )));
    }
    match acl::check_user(u, spec, cmd) {
        Ok(()) => ctx.out.ok(),
        Err(r) => {
            let arg = || String::from_utf8_lossy(&cmd[r.pos]).into_owned();
            let text = match r.denied {
                Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    spec.full_name
                ),
                Denied::Key => {
                    format!("This user has no permissions to access the '{}' key", arg())
                }
                _ => format!(
                    "This user has no permissions to access the '{}' channel",
                    arg()
                ),
            };
            ctx.out.bulk(text.as_bytes());
        }
    }
    Ok(())
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}
