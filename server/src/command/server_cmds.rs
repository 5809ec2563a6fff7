//! Server commands: DBSIZE, TIME, LASTSAVE, COMMAND, CONFIG, SLOWLOG, MONITOR, SHUTDOWN,
//! ROLE; DEBUG is in `debug.rs`.

use bytes::Bytes;
use picket_common::glob::string_match;

use super::args::{is, lower, parse_i64};
use super::client_cmd::help_reply;
use super::keyspec::{Arg, BeginSearch, FindKeys, KeySpec};
use super::{
    all_commands, flags, lookup, lookup_sub, table, CmdError, CmdResult, CommandSpec, Ctx,
};
use crate::client::cflags;
use crate::server::ShutdownRequest;

pub fn dbsize(ctx: &mut Ctx) -> CmdResult {
    ctx.out
        .int(ctx.srv.keyspace.dbs[ctx.client.db].len() as i64);
    Ok(())
}

pub fn time(ctx: &mut Ctx) -> CmdResult {
    let us = ctx.srv.clock.unix_us();
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
    Ok(())
}

pub fn lastsave(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.srv.persistence.lastsave_s);
    Ok(())
}

// ------------------------------------------------------------------------------ COMMAND

fn write_set(ctx: &mut Ctx, items: &[&str]) {
    ctx.out.set(items.len());
    for i in items {
        ctx.out.simple(i);
    }
}

fn write_keyspec(ctx: &mut Ctx, ks: &KeySpec) {
    ctx.out.map(3 + usize::from(ks.notes.is_some()));
    if let Some(n) = ks.notes {
        ctx.out.bulk_str("notes");
        ctx.out.bulk_str(n);
    }
    ctx.out.bulk_str("flags");
    write_set(ctx, ks.flags);
    ctx.out.bulk_str("begin_search");
    ctx.out.map(2);
    ctx.out.bulk_str("type");
    match ks.begin {
        BeginSearch::Index(i) => {
            ctx.out.bulk_str("index");
            ctx.out.bulk_str("spec");
            ctx.out.map(1);
            ctx.out.bulk_str("index");
            ctx.out.int(i);
        }
        BeginSearch::Keyword { keyword, startfrom } => {
            ctx.out.bulk_str("keyword");
            ctx.out.bulk_str("spec");
            ctx.out.map(2);
            ctx.out.bulk_str("keyword");
            ctx.out.bulk_str(keyword);
            ctx.out.bulk_str("startfrom");
            ctx.out.int(startfrom);
        }
        BeginSearch::Unknown => {
            ctx.out.bulk_str("unknown");
            ctx.out.bulk_str("spec");
            ctx.out.map(0);
        }
    }
    ctx.out.bulk_str("find_keys");
    ctx.out.map(2);
    ctx.out.bulk_str("type");
    match ks.find {
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => {
            ctx.out.bulk_str("range");
            ctx.out.bulk_str("spec");
            ctx.out.map(3);
            ctx.out.bulk_str("lastkey");
            ctx.out.int(lastkey);
            ctx.out.bulk_str("keystep");
            ctx.out.int(keystep);
            ctx.out.bulk_str("limit");
            ctx.out.int(limit);
        }
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            ctx.out.bulk_str("keynum");
            ctx.out.bulk_str("spec");
            ctx.out.map(3);
            ctx.out.bulk_str("keynumidx");
            ctx.out.int(keynumidx);
            ctx.out.bulk_str("firstkey");
            ctx.out.int(firstkey);
            ctx.out.bulk_str("keystep");
            ctx.out.int(keystep);
        }
        FindKeys::Unknown => {
            ctx.out.bulk_str("unknown");
            ctx.out.bulk_str("spec");
            ctx.out.map(0);
        }
    }
}

/// One COMMAND INFO entry.
fn write_info(ctx: &mut Ctx, c: &'static CommandSpec) {
    ctx.out.array(10);
    ctx.out.bulk_str(c.full_name);
    ctx.out.int(c.arity as i64);
    let fl: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(bit, _)| c.has(*bit))
        .map(|(_, n)| *n)
        .collect();
    write_set(ctx, &fl);
    ctx.out.int(c.keys.first as i64);
    ctx.out.int(c.keys.last as i64);
    ctx.out.int(c.keys.step as i64);
    write_set(ctx, c.acl);
    // Tips are bulk strings, unlike flags and categories.
    ctx.out.set(c.tips.len());
    for t in c.tips {
        ctx.out.bulk_str(t);
    }
    ctx.out.array(c.key_specs.len());
    for ks in c.key_specs {
        write_keyspec(ctx, ks);
    }
    ctx.out.array(c.subcommands.len());
    for s in c.subcommands {
        write_info(ctx, s);
    }
}

/// The commands of the table that `rename-command` left reachable (Redis iterates its
/// command dictionary, where a disabled command is gone and a renamed one stays).
fn reachable(ctx: &Ctx) -> Vec<&'static CommandSpec> {
    let renames = &ctx.srv.config.renames;
    table::COMMANDS
        .iter()
        .filter(|c| renames.is_reachable(c))
        .collect()
}

/// COMMAND (no subcommand) is COMMAND INFO of everything.
pub fn command_all(ctx: &mut Ctx) -> CmdResult {
    let all = reachable(ctx);
    ctx.out.array(all.len());
    for c in all {
        write_info(ctx, c);
    }
    Ok(())
}

/// Find `name` or `parent|sub`, under the names `rename-command` gave.
fn find_by_full_name(ctx: &Ctx, name: &[u8]) -> Option<&'static CommandSpec> {
    let renames = &ctx.srv.config.renames;
    match name.iter().position(|&b| b == b'|') {
        Some(p) => renames
            .lookup(&name[..p])
            .and_then(|c| lookup_sub(c, &name[p + 1..])),
        None => renames.lookup(name),
    }
}

pub fn command_info(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() == 2 {
        return command_all(ctx);
    }
    ctx.out.array(ctx.args.len() - 2);
    for name in &ctx.args[2..] {
        match find_by_full_name(ctx, name) {
            Some(c) => write_info(ctx, c),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

pub fn command_count(ctx: &mut Ctx) -> CmdResult {
    let n = reachable(ctx).len();
    ctx.out.int(n as i64);
    Ok(())
}

fn write_args(ctx: &mut Ctx, args: &[Arg]) {
    ctx.out.array(args.len());
    for a in args {
        let n = 2
            + usize::from(a.key_spec_index >= 0)
            + usize::from(a.token.is_some())
            + usize::from(a.summary.is_some())
            + usize::from(a.since.is_some())
            + usize::from(a.deprecated_since.is_some())
            + usize::from(!a.flags.is_empty())
            + usize::from(!a.args.is_empty());
        ctx.out.map(n);
        ctx.out.bulk_str("name");
        ctx.out.bulk_str(a.name);
        ctx.out.bulk_str("type");
        ctx.out.bulk_str(a.typ);
        if a.key_spec_index >= 0 {
            ctx.out.bulk_str("key_spec_index");
            ctx.out.int(a.key_spec_index);
        }
        if let Some(t) = a.token {
            ctx.out.bulk_str("token");
            ctx.out.bulk_str(t);
        }
        if let Some(s) = a.summary {
            ctx.out.bulk_str("summary");
            ctx.out.bulk_str(s);
        }
        if let Some(s) = a.since {
            ctx.out.bulk_str("since");
            ctx.out.bulk_str(s);
        }
        if let Some(s) = a.deprecated_since {
            ctx.out.bulk_str("deprecated_since");
            ctx.out.bulk_str(s);
        }
        if !a.flags.is_empty() {
            ctx.out.bulk_str("flags");
            write_set(ctx, a.flags);
        }
        if !a.args.is_empty() {
            ctx.out.bulk_str("arguments");
            write_args(ctx, a.args);
        }
    }
}

fn write_docs(ctx: &mut Ctx, c: &'static CommandSpec) {
    let d = &c.doc;
    let n = 3
        + usize::from(!d.complexity.is_empty())
        + usize::from(!d.doc_flags.is_empty())
        + usize::from(d.deprecated_since.is_some())
        + usize::from(d.replaced_by.is_some())
        + usize::from(!d.history.is_empty())
        + usize::from(!d.arguments.is_empty())
        + usize::from(!c.subcommands.is_empty());
    ctx.out.map(n);
    ctx.out.bulk_str("summary");
    ctx.out.bulk_str(d.summary);
    ctx.out.bulk_str("since");
    ctx.out.bulk_str(d.since);
    ctx.out.bulk_str("group");
    ctx.out.bulk_str(d.group);
    if !d.complexity.is_empty() {
        ctx.out.bulk_str("complexity");
        ctx.out.bulk_str(d.complexity);
    }
    if !d.doc_flags.is_empty() {
        ctx.out.bulk_str("doc_flags");
        write_set(ctx, d.doc_flags);
    }
    if let Some(s) = d.deprecated_since {
        ctx.out.bulk_str("deprecated_since");
        ctx.out.bulk_str(s);
    }
    if let Some(s) = d.replaced_by {
        ctx.out.bulk_str("replaced_by");
        ctx.out.bulk_str(s);
    }
    if !d.history.is_empty() {
        ctx.out.bulk_str("history");
        ctx.out.array(d.history.len());
        for (v, what) in d.history {
            ctx.out.array(2);
            ctx.out.bulk_str(v);
            ctx.out.bulk_str(what);
        }
    }
    if !d.arguments.is_empty() {
        ctx.out.bulk_str("arguments");
        write_args(ctx, d.arguments);
    }
    if !c.subcommands.is_empty() {
        ctx.out.bulk_str("subcommands");
        ctx.out.map(c.subcommands.len());
        for s in c.subcommands {
            ctx.out.bulk_str(s.full_name);
            write_docs(ctx, s);
        }
    }
}

pub fn command_docs(ctx: &mut Ctx) -> CmdResult {
    let found: Vec<&'static CommandSpec> = if ctx.args.len() == 2 {
        reachable(ctx)
    } else {
        ctx.args[2..]
            .iter()
            .filter_map(|n| find_by_full_name(ctx, n))
            .collect()
    };
    ctx.out.map(found.len());
    for c in found {
        ctx.out.bulk_str(c.full_name);
        write_docs(ctx, c);
    }
    Ok(())
}

pub fn command_list(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let filter: Option<(String, Bytes)> = match a.len() {
        2 => None,
        5 if is(&a[2], "filterby") => Some((lower(&a[3]), a[4].clone())),
        _ => return Err(CmdError::Syntax),
    };
    let mut names = Vec::new();
    let renames = &ctx.srv.config.renames;
    for c in all_commands() {
        let top = c.parent.and_then(|p| lookup(p.as_bytes())).unwrap_or(c);
        if !renames.is_reachable(top) {
            continue;
        }
        let keep = match &filter {
            None => true,
            Some((kind, v)) => match kind.as_str() {
                "module" => false,
                "aclcat" => {
                    let cat = format!("@{}", lower(v));
                    c.acl.contains(&cat.as_str())
                }
                "pattern" => string_match(v, c.full_name.as_bytes(), true),
                _ => return Err(CmdError::Syntax),
            },
        };
        if keep {
            names.push(c.full_name);
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk_str(n);
    }
    Ok(())
}

fn getkeys_common(ctx: &mut Ctx, with_flags: bool) -> CmdResult {
    let cmd_args = &ctx.args[2..];
    let Some(c) = super::resolve_renamed(&ctx.srv.config.renames, cmd_args, false).ok() else {
        return Err(CmdError::err("Invalid command specified"));
    };
    // Redis's `doesCommandHaveKeys`: a key spec that is not `not_key`, checked before arity.
    let has_keys = c.key_specs.iter().any(|k| !k.flags.contains(&"not_key"));
    if !has_keys {
        return Err(CmdError::err("The command has no key arguments"));
    }
    if !c.arity_ok(cmd_args.len()) {
        return Err(CmdError::err(
            "Invalid number of arguments specified for command",
        ));
    }
    let keys = if c.name == "set" && c.parent.is_none() {
        super::getkeys::set_get_keys(cmd_args)
    } else {
        super::getkeys::key_positions(c, cmd_args)
    };
    if keys.is_empty() {
        // (EVAL and FCALL with no keys, and the like, have none to give.)
        if c.has(flags::NO_MANDATORY_KEYS) {
            ctx.out.array(0);
            return Ok(());
        }
        return Err(CmdError::err("Invalid arguments specified for command"));
    }
    ctx.out.array(keys.len());
    for (i, fl) in keys {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(&cmd_args[i]);
            write_set(ctx, fl);
        } else {
            ctx.out.bulk(&cmd_args[i]);
        }
    }
    Ok(())
}

pub fn command_getkeys(ctx: &mut Ctx) -> CmdResult {
    getkeys_common(ctx, false)
}

pub fn command_getkeysandflags(ctx: &mut Ctx) -> CmdResult {
    getkeys_common(ctx, true)
}

pub fn command_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}

// ------------------------------------------------------------------------------ CONFIG

pub fn config_get(ctx: &mut Ctx) -> CmdResult {
    // All patterns at once: a directive named twice (`hz HZ h?`) is answered once.
    let patterns: Vec<&[u8]> = ctx.args[2..].iter().map(|a| &a[..]).collect();
    let pairs = ctx.srv.config.store().get_many(&patterns);
    ctx.out.map(pairs.len());
    for (k, v) in pairs {
        ctx.out.bulk_str(&k);
        ctx.out.bulk_str(&v);
    }
    Ok(())
}

pub fn config_set(ctx: &mut Ctx) -> CmdResult {
    let a = &ctx.args[2..];
    if !a.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let pairs: Vec<(String, String)> = a
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).into_owned(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    super::config_set::config_set(ctx.srv, &pairs, crate::client::is_local(&ctx.client.addr))
        .map_err(CmdError::Reply)?;
    ctx.out.ok();
    Ok(())
}

pub fn config_rewrite(ctx: &mut Ctx) -> CmdResult {
    // The users are written as they are now, unless they live in an ACL file.
    let users = if ctx.srv.cfg.aclfile.is_empty() {
        crate::config::acl_user::lines_of(&ctx.srv.acl.users)
    } else {
        picket_common::config::Value::List(Vec::new())
    };
    ctx.srv.config.store.set_internal("user", users);
    ctx.srv.config.rewrite().map_err(CmdError::Reply)?;
    tracing::info!("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

pub fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.stats.reset();
    ctx.out.ok();
    Ok(())
}

pub fn config_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ------------------------------------------------------------------------------ SLOWLOG

pub fn slowlog_get(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(ctx.subcommand_syntax_error());
    }
    let count = match ctx.args.get(2) {
        None => 10,
        Some(a) => match parse_i64(a) {
            Some(n) if n >= -1 => n,
            _ => return Err(CmdError::err("count should be greater than or equal to -1")),
        },
    };
    let n = if count == -1 {
        ctx.srv.slowlog.entries.len()
    } else {
        (count as usize).min(ctx.srv.slowlog.entries.len())
    };
    let entries: Vec<_> = ctx.srv.slowlog.entries.iter().take(n).cloned().collect();
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time_s);
        ctx.out.int(e.duration_us as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk_str(&e.peer);
        ctx.out.bulk(&e.name);
    }
    Ok(())
}

pub fn slowlog_len(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.srv.slowlog.entries.len() as i64);
    Ok(())
}

pub fn slowlog_reset(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

pub fn slowlog_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

// ------------------------------------------------------------------------------ MONITOR, SHUTDOWN, ROLE

pub fn monitor(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.has(cflags::DENY_BLOCKING) {
        // Inside EXEC the client expects one reply per command.
        return Err(CmdError::err(
            "MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if ctx.client.has(cflags::REPLICA) {
        return Ok(());
    }
    ctx.client.flags |= cflags::REPLICA | cflags::MONITOR;
    ctx.srv.clients.monitors.insert(ctx.client.id);
    ctx.out.ok();
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
pub fn shutdown(ctx: &mut Ctx) -> CmdResult {
    let mut req = ShutdownRequest::default();
    let mut abort = false;
    for a in &ctx.args[1..] {
        if is(a, "nosave") {
            req.nosave = true;
        } else if is(a, "save") {
            req.save = true;
        } else if is(a, "force") {
            req.force = true;
        } else if is(a, "now") {
            // Nothing waits for replicas yet: shutdown is already immediate.
        } else if is(a, "abort") {
            abort = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (req.nosave && req.save) || (abort && ctx.args.len() > 2) {
        return Err(CmdError::Syntax);
    }
    if abort {
        return Err(CmdError::err("No shutdown in progress."));
    }
    tracing::warn!("User requested shutdown...");
    if !crate::persist::save::prepare_for_shutdown(ctx.srv, req) && !req.force {
        return Err(CmdError::err("Errors trying to SHUTDOWN. Check logs."));
    }
    req.prepared = true;
    ctx.srv.process.shutdown = Some(req);
    ctx.client.close_asap("server shutdown");
    Ok(())
}

/// SAVE: a snapshot now, in the foreground.
pub fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.persistence.rdb.bgsave_started.is_some() {
        return Err(CmdError::err("Background save already in progress"));
    }
    crate::persist::save::save_now(ctx.srv).map_err(|_| CmdError::Reply("ERR".into()))?;
    ctx.out.ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]
pub fn bgsave(ctx: &mut Ctx) -> CmdResult {
    let schedule = match ctx.args.get(1) {
        None => false,
        Some(a) if is(a, "schedule") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    let srv = &mut *ctx.srv;
    if srv.persistence.rdb.bgsave_started.is_some() || srv.repl.sync_running {
        return Err(CmdError::err("Background save already in progress"));
    }
    // Another background snapshot (an AOF rewrite) runs: later, if asked.
    if crate::persist::save::busy(srv) {
        if !schedule {
            return Err(CmdError::err(crate::persist::save::AOF_CHILD_ACTIVE));
        }
        srv.persistence.rdb.bgsave_scheduled = true;
        ctx.out.simple("Background saving scheduled");
        return Ok(());
    }
    crate::persist::save::start_bgsave(srv).map_err(CmdError::err)?;
    // Inside EXEC Redis defers the fork and says so.
    if ctx.client.has(cflags::DENY_BLOCKING) {
        ctx.out.simple("Background saving scheduled");
    } else {
        ctx.out.simple("Background saving started");
    }
    Ok(())
}

/// BGREWRITEAOF: a new base from a snapshot, in the background. With the AOF off, Redis
/// 7.0 writes one anyway (a base and a manifest naming only it).
pub fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    use crate::persist::aof::RewriteStart;
    let r = crate::persist::aof::start_rewrite(ctx.srv).map_err(CmdError::err)?;
    // Inside EXEC Redis defers the rewrite and says so.
    if r == RewriteStart::Scheduled || ctx.client.has(cflags::DENY_BLOCKING) {
        ctx.out
            .simple("Background append only file rewriting scheduled");
    } else {
        ctx.out
            .simple("Background append only file rewriting started");
    }
    Ok(())
}
