//! The ACL command family as Redis 7.0's `aclCommand`: SETUSER / GETUSER / DELUSER / USERS /
//! LIST / WHOAMI / CAT / GENPASS / LOG / DRYRUN / LOAD / SAVE / HELP, over any process that
//! holds an [`Acl`] (picket-server's pipeline, picket-sentinel's command server) through
//! [`Host`]. Each subcommand writes its reply into `out`, or returns the error reply's
//! text (with its code: `ERR ...`). Arity is the caller's table's business.

use std::collections::BTreeMap;

use bytes::Bytes;
use picket_common::resp::ReplyBuf;

use super::{describe, universe, Acl, Denied, Refusal, UniverseRef, User};

/// What the ACL commands need from the process that runs them.
pub trait Host {
    fn acl(&mut self) -> &mut Acl;
    /// `aclfile` ("" when none).
    fn aclfile(&self) -> String;
    /// Unix time in ms (ACL LOG ages).
    fn unix_ms(&self) -> i64;
    /// The user of the connection running the command.
    fn current_user(&self) -> Bytes;
    /// Close the connections authenticated as `name` (`ACLFreeUserAndKillClients`): the
    /// one running the command once its reply is written, the others at once; they are
    /// no longer authenticated.
    fn kill_clients_of(&mut self, name: &[u8]);
    /// Close the subscribed connections of `name` holding a channel or a pattern that
    /// `upcoming` no longer allows (see [`super::revoked_channels`]).
    fn kill_pubsub_clients(&mut self, name: &[u8], upcoming: &[Vec<u8>]);
    /// ACL DRYRUN's look-up and check of `cmd` (its name first) for `u`: whether it may
    /// run (else the refusal and the command's full name), or the error reply's text
    /// (an unknown command, the wrong number of arguments).
    fn dryrun(&self, u: &User, cmd: &[Bytes]) -> Result<Result<(), (Refusal, String)>, String>;
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Redis's `addReplySubcommandSyntaxError` for ACL.
fn subcommand_syntax(args: &[Bytes]) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
        lossy(&args[1])
    )
}

/// The users of the ACL file at `path` (over the commands of `universe`), or Redis's error
/// text (without "ERR ").
pub fn load_file(
    path: &str,
    all_channels: bool,
    universe: UniverseRef,
) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            crate::persist::aof_file::strerror(&e)
        )
    })?;
    super::file::parse(&text, path, all_channels, universe)
}

pub fn setuser(h: &mut dyn Host, out: &mut ReplyBuf, args: &[Bytes]) -> Result<(), String> {
    let name = args[2].clone();
    if super::user::has_spaces(&name) {
        return Err("ERR Usernames can't contain spaces or null characters".into());
    }
    let original = h.acl().users.get(&name[..]).cloned();
    h.acl()
        .set_user(&name, &args[3..])
        .map_err(|e| format!("ERR {e}"))?;
    let new = h.acl().users.get(&name[..]).cloned();
    if let (Some(original), Some(new)) = (original, new) {
        if let Some(upcoming) = super::revoked_channels(&new, &original) {
            h.kill_pubsub_clients(&name, &upcoming);
        }
    }
    out.ok();
    Ok(())
}

pub fn deluser(h: &mut dyn Host, out: &mut ReplyBuf, args: &[Bytes]) -> Result<(), String> {
    if args[2..].iter().any(|n| &n[..] == b"default") {
        return Err("ERR The 'default' user cannot be removed".into());
    }
    let mut deleted = 0;
    for name in &args[2..] {
        if h.acl().users.remove(&name[..]).is_some() {
            h.kill_clients_of(name);
            deleted += 1;
        }
    }
    out.int(deleted);
    Ok(())
}

fn selector_fields(out: &mut ReplyBuf, s: &super::user::Selector) {
    out.bulk(b"commands");
    out.bulk(describe::command_rules(s).as_bytes());
    out.bulk(b"keys");
    out.bulk(&describe::keys_field(s));
    out.bulk(b"channels");
    out.bulk(&describe::channels_field(s));
}

pub fn getuser(h: &mut dyn Host, out: &mut ReplyBuf, args: &[Bytes]) -> Result<(), String> {
    let Some(u) = h.acl().users.get(&args[2][..]) else {
        out.null();
        return Ok(());
    };
    out.map(6);
    out.bulk(b"flags");
    let flags = describe::flags(u);
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(u.passwords.len());
    for p in &u.passwords {
        out.bulk(p.as_bytes());
    }
    selector_fields(out, u.root());
    out.bulk(b"selectors");
    out.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        out.map(3);
        selector_fields(out, s);
    }
    Ok(())
}

pub fn users(h: &mut dyn Host, out: &mut ReplyBuf, _args: &[Bytes]) -> Result<(), String> {
    let acl = h.acl();
    out.array(acl.users.len());
    for n in acl.users.keys() {
        out.bulk(n);
    }
    Ok(())
}

pub fn list(h: &mut dyn Host, out: &mut ReplyBuf, _args: &[Bytes]) -> Result<(), String> {
    let lines = super::file::lines(&h.acl().users);
    out.array(lines.len());
    for l in lines {
        out.bulk(&l);
    }
    Ok(())
}

pub fn whoami(h: &mut dyn Host, out: &mut ReplyBuf, _args: &[Bytes]) -> Result<(), String> {
    out.bulk(&h.current_user());
    Ok(())
}

pub fn load(h: &mut dyn Host, out: &mut ReplyBuf, _args: &[Bytes]) -> Result<(), String> {
    let path = h.aclfile();
    if path.is_empty() {
        return Err(NO_ACLFILE.into());
    }
    let (all, universe) = {
        let acl = h.acl();
        (acl.pubsub_default_all, acl.universe)
    };
    let users = load_file(&path, all, universe).map_err(|e| format!("ERR {e}"))?;
    // Redis 7.0 frees every old user but the default one (whose record takes the new
    // rules), closing their connections, even those of users the file keeps.
    let gone: Vec<Vec<u8>> = h
        .acl()
        .users
        .keys()
        .filter(|n| n.as_slice() != b"default")
        .cloned()
        .collect();
    h.acl().users = users;
    for name in gone {
        h.kill_clients_of(&name);
    }
    out.ok();
    Ok(())
}

pub fn save(h: &mut dyn Host, out: &mut ReplyBuf, _args: &[Bytes]) -> Result<(), String> {
    let path = h.aclfile();
    if path.is_empty() {
        return Err(NO_ACLFILE.into());
    }
    let unique = h.unix_ms() as u64;
    let path = std::path::PathBuf::from(path);
    if let Err(e) = super::file::save(&path, &h.acl().users, unique) {
        tracing::warn!("Writing ACL file for ACL SAVE: {e}");
        return Err("ERR There was an error trying to save the ACLs. Please check the server logs for more information".into());
    }
    out.ok();
    Ok(())
}

pub fn cat(h: &mut dyn Host, out: &mut ReplyBuf, args: &[Bytes]) -> Result<(), String> {
    match args.len() {
        2 => {
            out.array(universe::CATEGORIES.len());
            for c in universe::CATEGORIES {
                out.bulk(c.as_bytes());
            }
        }
        3 => {
            let Some(bit) = universe::category_bit(&args[2]) else {
                let name: String = lossy(&args[2]).chars().take(128).collect();
                return Err(format!("ERR Unknown category '{name}'"));
            };
            let names = h.acl().universe.0.commands_in(bit);
            out.array(names.len());
            for n in names {
                out.bulk(n.as_bytes());
            }
        }
        _ => return Err(subcommand_syntax(args)),
    }
    Ok(())
}

pub fn genpass(_h: &mut dyn Host, out: &mut ReplyBuf, args: &[Bytes]) -> Result<(), String> {
    if args.len() > 3 {
        return Err(subcommand_syntax(args));
    }
    let bits = match args.get(2) {
        Some(a) => picket_common::sds::string2ll(a).ok_or(NOT_INTEGER)?,
        None => 256,
    };
    if bits <= 0 || bits > 4096 {
        return Err("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096".into());
    }
    let chars = ((bits + 3) / 4) as usize;
    // A password comes from the operating system's generator, as Redis's from
    // /dev/urandom: the process's seeded RNG (which replays under the simulation) is
    // predictable. Nothing decides on it, so determinism does not suffer.
    let mut raw = vec![0u8; chars.div_ceil(2)];
    if let Err(e) = rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut raw) {
        return Err(format!("ERR Failed to generate a random password: {e}"));
    }
    const HEX: &[u8] = b"0123456789abcdef";
    let pass: Vec<u8> = raw
        .iter()
        .flat_map(|b| [HEX[(b >> 4) as usize], HEX[(b & 15) as usize]])
        .take(chars)
        .collect();
    out.bulk(&pass);
    Ok(())
}

pub fn log(h: &mut dyn Host, out: &mut ReplyBuf, args: &[Bytes]) -> Result<(), String> {
    if args.len() > 3 {
        return Err(subcommand_syntax(args));
    }
    let mut count: i64 = 10;
    if let Some(a) = args.get(2) {
        if a.eq_ignore_ascii_case(b"reset") {
            h.acl().log.entries.clear();
            out.ok();
            return Ok(());
        }
        count = picket_common::sds::string2ll(a).ok_or(NOT_INTEGER)?.max(0);
    }
    let now = h.unix_ms();
    let acl = h.acl();
    let entries: Vec<_> = acl
        .log
        .entries
        .iter()
        .take(usize::try_from(count).unwrap_or(usize::MAX))
        .collect();
    out.array(entries.len());
    for e in entries {
        out.map(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.reason().as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.name().as_bytes());
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(&e.username);
        out.bulk(b"age-seconds");
        out.double((now - e.ctime) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

pub fn dryrun(h: &mut dyn Host, out: &mut ReplyBuf, args: &[Bytes]) -> Result<(), String> {
    let name = &args[2];
    let Some(u) = h.acl().users.get(&name[..]).cloned() else {
        return Err(format!("ERR User '{}' not found", lossy(name)));
    };
    let cmd = &args[3..];
    match h.dryrun(&u, cmd)? {
        Ok(()) => out.ok(),
        Err((r, full_name)) => {
            let arg = || lossy(&cmd[r.pos]);
            let text = match r.denied {
                Denied::Command => {
                    format!("This user has no permissions to run the '{full_name}' command")
                }
                Denied::Key => {
                    format!("This user has no permissions to access the '{}' key", arg())
                }
                _ => format!(
                    "This user has no permissions to access the '{}' channel",
                    arg()
                ),
            };
            out.bulk(text.as_bytes());
        }
    }
    Ok(())
}

/// Redis's `addReplyHelp`: the header, `lines`, then HELP.
pub fn help_reply(out: &mut ReplyBuf, cmd: &str, lines: &[&str]) {
    out.array(lines.len() + 3);
    out.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

pub fn help(_h: &mut dyn Host, out: &mut ReplyBuf, _args: &[Bytes]) -> Result<(), String> {
    help_reply(
        out,
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

/// A subcommand of ACL.
pub type Handler = fn(&mut dyn Host, &mut ReplyBuf, &[Bytes]) -> Result<(), String>;

/// The handler of ACL `sub` (lower case), for callers without a table of their own.
pub fn handler(sub: &str) -> Option<Handler> {
    Some(match sub {
        "cat" => cat,
        "deluser" => deluser,
        "dryrun" => dryrun,
        "genpass" => genpass,
        "getuser" => getuser,
        "help" => help,
        "list" => list,
        "load" => load,
        "log" => log,
        "save" => save,
        "setuser" => setuser,
        "users" => users,
        "whoami" => whoami,
        _ => return None,
    })
}
