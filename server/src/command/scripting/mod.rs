//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, on Lua 5.1 as Redis 7.0
//! (`eval.c`, `script.c`, `script_lua.c`).
//!
//! A script runs inside the command that started it, under the server lock like any command,
//! so it is atomic. Its commands run through the pipeline's `call` on the script's own client
//! after Redis's checks for scripts (`call_from_script`); their effects join the execution
//! unit of the EVAL, which the propagator wraps in MULTI/EXEC when there are several: the
//! replicas and the AOF get the effects, never the script. The cache of scripts by SHA1 is
//! the `scripts` state part; the interpreter is `engine`'s.

mod bit;
mod cjson;
mod cmsgpack;
mod convert;
mod engine;
mod ffi;
mod function;
mod function_engine;
mod structlib;

use bytes::Bytes;
use picket_common::resp::ReplyBuf;
use sha1::{Digest, Sha1};

use super::{flags, CmdError, CmdResult, Ctx};
use crate::client::{cflags, Client};
use crate::scripts::{sflags, Script};
use crate::server::Server;

pub use engine::Run;
pub use function::{
    fcall, fcall_ro, function_delete, function_dump, function_flush, function_help, function_kill,
    function_list, function_load, function_restore, function_stats,
    register as register_function_engines, stats_reply as function_stats_reply,
};

/// Bytes held by this thread's Lua heap (0 before its first script).
pub fn lua_memory() -> usize {
    engine::memory()
}

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The lowercase hex SHA1 of `body` (Redis's `sha1hex`).
pub fn sha1hex(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha1::digest(body);
    let mut s = String::with_capacity(40);
    for b in d {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// EVALSHA's argument as the cache's key: lowercase (bytes that are not UTF-8 become U+FFFD,
/// which no cached SHA1 has).
fn lowercase_sha(arg: &[u8]) -> String {
    match std::str::from_utf8(arg) {
        Ok(s) => s.to_ascii_lowercase(),
        Err(_) => String::from_utf8_lossy(arg).to_ascii_lowercase(),
    }
}

/// The flags of a `#!lua` shebang and the length of its line (Redis's
/// `evalExtractShebangFlags`); a body without one runs in compatibility mode.
pub fn shebang_flags(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((sflags::EVAL_COMPAT_MODE, 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts: Vec<&str> = line.split_ascii_whitespace().collect();
    let Some(engine) = parts.first() else {
        return Err("Invalid engine in script shebang".into());
    };
    if *engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut fl = 0;
    for p in &parts[1..] {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {p}"));
        };
        for f in list.split(',') {
            match sflags::NAMES.iter().find(|(n, _)| *n == f) {
                Some((_, v)) => fl |= v,
                None => return Err(format!("Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok((fl, end))
}

/// The flags the pipeline checks for an EVAL-family request: a script that declared flags
/// (a shebang) replaces the command's `write`, `denyoom` and `stale` with its own (Redis's
/// `evalGetCommandFlags` and `scriptFlagsToCmdFlags`); so does a function's (FCALL). With
/// them, whether they come from declared flags (then the command may replicate only if it
/// may write: Redis clears `may-replicate`).
pub fn command_flags_declared(
    srv: &Server,
    spec: &super::CommandSpec,
    args: &[Bytes],
) -> (u32, bool) {
    match declared_flags(srv, spec, args) {
        Some(f) => (script_flags_to_cmd_flags(spec.flags, f), true),
        None => (spec.flags, false),
    }
}

/// The flags an EVAL-family request's script or an FCALL's function declared, if any.
fn declared_flags(srv: &Server, spec: &super::CommandSpec, args: &[Bytes]) -> Option<u32> {
    if matches!(spec.name, "fcall" | "fcall_ro") {
        return function::declared_flags(srv, args);
    }
    if !matches!(spec.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro") || args.len() < 2 {
        return None;
    }
    let evalsha = spec.name.starts_with("evalsha");
    if evalsha && args[1].len() != 40 {
        return None;
    }
    // A body without a shebang runs in compatibility mode (cached or not: the cache holds
    // the same body): no need to hash it.
    if !evalsha && !args[1].starts_with(b"#!") {
        return None;
    }
    let sha = if evalsha {
        lowercase_sha(&args[1])
    } else {
        sha1hex(&args[1])
    };
    let script_flags = match srv.scripts.get(&sha) {
        Some(s) => s.flags,
        None if evalsha => return None,
        None => shebang_flags(&args[1]).ok()?.0,
    };
    if script_flags & sflags::EVAL_COMPAT_MODE != 0 {
        return None;
    }
    Some(script_flags)
}

/// Redis's `scriptFlagsToCmdFlags`.
fn script_flags_to_cmd_flags(cmd_flags: u32, script_flags: u32) -> u32 {
    let mut f = cmd_flags & !(flags::STALE | flags::DENYOOM | flags::WRITE);
    if script_flags & (sflags::ALLOW_OOM | sflags::NO_WRITES) == 0 {
        f |= flags::DENYOOM;
    }
    if script_flags & sflags::NO_WRITES == 0 {
        f |= flags::WRITE;
    }
    if script_flags & sflags::ALLOW_STALE != 0 {
        f |= flags::STALE;
    }
    f & !flags::MAY_REPLICATE
}

/// Compile `body` and add it to the cache (Redis's `luaCreateFunction`); the error is the
/// reply.
fn create_script(
    srv: &mut Server,
    sha: &str,
    body: &Bytes,
) -> Result<std::sync::Arc<Script>, CmdError> {
    if let Some(s) = srv.scripts.get(sha) {
        return Ok(s.clone());
    }
    let (fl, shebang_len) = shebang_flags(body).map_err(CmdError::err)?;
    compile(srv, sha, &body[shebang_len..])?;
    Ok(srv.scripts.insert(sha.to_string(), body.clone(), fl))
}

/// Compile into this thread's engine unless it has the script already.
fn compile(srv: &Server, sha: &str, code: &[u8]) -> Result<(), CmdError> {
    let r = engine::with_engine(srv.scripts.generation, srv.cfg.lua_memory_limit, |e| {
        if e.is_compiled(sha) {
            Ok(())
        } else {
            e.compile(sha, code)
        }
    });
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(msg)) => Err(CmdError::Reply(format!(
            "ERR Error compiling script (new function): {msg}"
        ))),
        Err(e) => Err(CmdError::Reply(format!("ERR {e}"))),
    }
}

pub fn eval(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, false)
}

pub fn eval_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, true)
}

pub fn evalsha(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, false)
}

pub fn evalsha_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, true)
}

thread_local! {
    /// The script client of the last run on this thread, kept for the next (Redis creates its
    /// `lua_client` once): building one costs a few allocations per script.
    static SPARE_CLIENT: std::cell::Cell<Option<Box<Client>>> = const { std::cell::Cell::new(None) };
}

/// The client a script's commands run as (Redis's `lua_client`): the caller's database,
/// RESP2 until `redis.setresp(3)`, authenticated, never blocking. The last run's, reset, if
/// it came back clean.
pub(super) fn script_client(caller: &Client, now: tokio::time::Instant) -> Box<Client> {
    let mut client = SPARE_CLIENT.with(|c| c.take()).unwrap_or_else(|| {
        let mut c = Box::new(Client::new(
            crate::client::SCRIPT_CLIENT_ID,
            std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            now,
        ));
        c.name = Some("lua".into());
        c
    });
    client.db = caller.db;
    // The script runs as its caller's user (the master's link and the loader, user-less,
    // may run anything).
    client.user = caller.user.clone();
    client.acl_exempt =
        caller.acl_exempt || caller.has(cflags::MASTER) || caller.has(cflags::LOADER);
    client.proto = picket_common::resp::Proto::Resp2;
    client.authenticated = true;
    client.flags = cflags::DENY_BLOCKING;
    client.last_interaction = now;
    client
}

/// Keep a script's client for the next run, unless its commands left it holding state that
/// a new client would not have (none of the commands a script may run do: no MULTI, WATCH,
/// SUBSCRIBE or blocking in scripts; checked rather than trusted).
pub(super) fn give_back_client(client: Box<Client>) {
    let clean = client.multi.is_empty()
        && client.watched.is_empty()
        && client.channels.is_empty()
        && client.patterns.is_empty()
        && client.shard_channels.is_empty()
        && client.blocked.is_none()
        && client.replica.is_none()
        && client.close_reason.is_none()
        && client.out.is_empty();
    if clean {
        SPARE_CLIENT.with(|c| c.set(Some(client)));
    }
}

fn eval_generic(ctx: &mut Ctx, evalsha: bool, ro: bool) -> CmdResult {
    // The commands the script runs propagate their own effects; the script never does.
    ctx.propagate = super::exec::Propagate::Nothing;
    // MONITOR shows the script before its commands (EVAL is `skip_monitor` for the
    // pipeline, which would show it after them).
    if !ctx.srv.clients.monitors.is_empty() && !ctx.srv.call.reprocessing {
        super::exec::feed_monitors(ctx.srv, ctx.client, ctx.spec, ctx.args);
    }
    if evalsha && ctx.args[1].len() != 40 {
        return Err(CmdError::Reply(NOSCRIPT.into()));
    }
    let numkeys = super::args::int(&ctx.args[2])?;
    let argc = ctx.args.len() as i64;
    if numkeys > argc - 3 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    let sha = if evalsha {
        lowercase_sha(&ctx.args[1])
    } else {
        sha1hex(&ctx.args[1])
    };
    let script = match ctx.srv.scripts.get(&sha).cloned() {
        Some(s) => s,
        None if evalsha => return Err(CmdError::Reply(NOSCRIPT.into())),
        None => {
            let body = ctx.args[1].clone();
            create_script(ctx.srv, &sha, &body)?
        }
    };
    // A cached script this thread's engine has not compiled yet (another thread's, or
    // before the engine was rebuilt).
    let (_, shebang_len) = shebang_flags(&script.body).unwrap_or((0, 0));
    compile(ctx.srv, &sha, &script.body[shebang_len..])?;

    let obeyed = ctx.client.has(cflags::MASTER) || ctx.client.has(cflags::LOADER);
    let oom_at_start = ctx.srv.call.pre_command_oom;
    prepare(ctx.srv, script.flags, ro, obeyed, oom_at_start)?;

    let compat = script.flags & sflags::EVAL_COMPAT_MODE != 0;
    let read_only = ro || (!compat && script.flags & sflags::NO_WRITES != 0);
    let allow_oom = !compat && script.flags & sflags::ALLOW_OOM != 0;
    let n = numkeys as usize;
    let keys = &ctx.args[3..3 + n];
    let argv = &ctx.args[3 + n..];
    let threshold_ms = ctx.srv.cfg.busy_reply_threshold;
    let generation = ctx.srv.scripts.generation;
    let limit = ctx.srv.cfg.lua_memory_limit;
    let watch = ctx.srv.scripts.watch.clone();
    let started = tokio::time::Instant::now();
    let client = script_client(ctx.client, started);
    let caller_info = crate::command::acl_cmd::caller_info(ctx.srv, ctx.client);
    let mut run = Run {
        srv: &mut *ctx.srv,
        client,
        obeyed,
        read_only,
        allow_oom,
        oom_at_start,
        wrote: false,
        repl: crate::propagate::target::BOTH,
        sha,
        started,
        threshold_ms,
        timed_out: false,
        watch: watch.clone(),
        caller_info,
    };
    let started_ms = run.srv.now_ms.max(0) as u64;
    watch.start(started_ms, obeyed);
    let mark = ctx.out.len();
    let out = &mut *ctx.out;
    // A script past busy-reply-threshold hands the runtime worker to another thread (the
    // engine's count hook), so that connections answer -BUSY and SCRIPT KILL meanwhile.
    let r = engine::with_engine(generation, limit, |e| {
        e.run(&mut run, keys, argv, out, threshold_ms > 0)
    });
    give_back_client(run.client);
    let shutdown = watch.shutdown_requested();
    watch.stop();
    if shutdown {
        ctx.out.buf.truncate(mark);
        shutdown_from_script(ctx);
        return Ok(());
    }
    if let Err(e) = r {
        return Err(CmdError::Reply(format!("ERR {e}")));
    }
    Ok(())
}

/// SHUTDOWN NOSAVE arrived while the script ran past busy-reply-threshold (Redis exits
/// mid-script): the script was stopped; its effects so far are neither propagated nor saved,
/// so the AOF and the replicas never see half a script, and the server stops before anyone
/// else runs a command. The caller gets no reply: its connection closes with the server.
pub(super) fn shutdown_from_script(ctx: &mut Ctx) {
    ctx.srv.propagator.discard_unit();
    let req = crate::server::ShutdownRequest {
        nosave: true,
        ..Default::default()
    };
    tracing::warn!("User requested shutdown...");
    // NOSAVE saves nothing; the AOF written so far (acknowledged writes) is flushed and
    // fsynced. Exit even if that fails, as Redis does for SHUTDOWN NOSAVE during a script.
    if !crate::persist::save::prepare_for_shutdown(ctx.srv, req) {
        tracing::warn!(
            "Errors trying to shut down, exiting anyway (SHUTDOWN NOSAVE during a busy script)."
        );
    }
    ctx.srv.process.shutdown = Some(crate::server::ShutdownRequest {
        prepared: true,
        ..req
    });
    ctx.client.close_asap("server shutdown");
}

/// Redis's `scriptPrepareForRun`: the refusals that depend on the script's flags.
pub(super) fn prepare(srv: &mut Server, fl: u32, ro: bool, obeyed: bool, oom: bool) -> CmdResult {
    let replica = srv.repl.is_replica();
    let running_stale = replica && !srv.repl.link_up() && !srv.cfg.repl.serve_stale_data;
    if fl & sflags::EVAL_COMPAT_MODE != 0 {
        if running_stale {
            return Err(CmdError::Reply(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                    .into(),
            ));
        }
        return Ok(());
    }
    if running_stale && fl & sflags::ALLOW_STALE == 0 {
        return Err(CmdError::Reply("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.".into()));
    }
    if fl & sflags::NO_WRITES == 0 {
        if replica && srv.cfg.repl.read_only && !obeyed {
            return Err(CmdError::Reply(
                "READONLY Can not run script with write flag on readonly replica".into(),
            ));
        }
        if !obeyed {
            if rdb_write_denied(srv) {
                return Err(CmdError::Reply("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".into()));
            }
            if let Some(reason) = srv.persistence.aof.as_ref().and_then(|a| a.write_denied()) {
                return Err(CmdError::Reply(format!("MISCONF Redis is configured to persist data to AOF, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts. AOF error: {reason}")));
            }
        }
        if ro {
            return Err(CmdError::err(
                "Can not execute a script with write flag using *_ro command.",
            ));
        }
        if !replica && !crate::replication::master::enough_good_replicas(srv) {
            return Err(CmdError::Reply(
                "NOREPLICAS Not enough good replicas to write.".into(),
            ));
        }
    }
    if oom && srv.cfg.maxmemory > 0 && fl & (sflags::ALLOW_OOM | sflags::NO_WRITES) == 0 {
        return Err(CmdError::Reply("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into()));
    }
    Ok(())
}

fn rdb_write_denied(srv: &Server) -> bool {
    !srv.repl.is_replica()
        && srv.cfg.stop_writes_on_bgsave_error
        && !srv.cfg.save.is_empty()
        && !srv.persistence.rdb.last_bgsave_ok
}

/// Run one command for the script (Redis's `scriptCall`): the checks a script's command
/// passes, then the command on the script's client. The error is the message of the
/// `{err=...}` table (`-CODE msg`, or a message that gets `ERR`).
pub(crate) fn call_from_script(
    run: &mut Run,
    args: &[Bytes],
    mut buf: bytes::BytesMut,
) -> Result<bytes::BytesMut, (String, bytes::BytesMut)> {
    let srv = &mut *run.srv;
    let rejected = |msg: String, buf: bytes::BytesMut| Err((msg, buf));
    let spec = match super::resolve_renamed(&srv.config.renames, args, false) {
        Ok(s) if s.arity_ok(args.len()) => s,
        Ok(s) => {
            return rejected(
                reject(
                    srv,
                    Some(s),
                    "Wrong number of args calling Redis command from script",
                ),
                buf,
            )
        }
        Err(_) => {
            return rejected(
                reject(srv, None, "Unknown Redis command called from script"),
                buf,
            )
        }
    };
    if spec.has(flags::NOSCRIPT) {
        return rejected(
            reject(
                srv,
                Some(spec),
                "This Redis command is not allowed from script",
            ),
            buf,
        );
    }
    let replica = srv.repl.is_replica();
    if replica && !srv.repl.link_up() && !srv.cfg.repl.serve_stale_data && !spec.has(flags::STALE) {
        return rejected(
            reject(
                srv,
                Some(spec),
                "Can not execute the command on a stale replica",
            ),
            buf,
        );
    }
    // ACL, as Redis's `scriptVerifyACL`.
    let lua = crate::acl::Context::Lua;
    let info = run.caller_info.as_deref();
    if let Err(d) =
        crate::command::acl_cmd::check_client_as(srv, &run.client, info, spec, args, lua)
    {
        let msg = format!(
            "The user executing the script {}",
            crate::acl::script_error_text(d)
        );
        return rejected(reject(srv, Some(spec), &msg), buf);
    }
    let write = spec.has(flags::WRITE);
    let may_replicate = crate::pause::may_replicate(spec);
    if run.read_only && (write || may_replicate) {
        return rejected(
            reject(
                srv,
                Some(spec),
                "Write commands are not allowed from read-only scripts.",
            ),
            buf,
        );
    }
    if write && !run.wrote {
        if replica && srv.cfg.repl.read_only && !run.obeyed {
            return rejected(
                reject(
                    srv,
                    Some(spec),
                    "-READONLY You can't write against a read only replica.",
                ),
                buf,
            );
        }
        if rdb_write_denied(srv) {
            let msg = format!("-{MISCONF_RDB}");
            return rejected(reject(srv, Some(spec), &msg), buf);
        }
        if let Some(reason) = srv.persistence.aof.as_ref().and_then(|a| a.write_denied()) {
            let msg = format!("-MISCONF Errors writing to the AOF file: {reason}");
            return rejected(reject(srv, Some(spec), &msg), buf);
        }
        if !replica && !crate::replication::master::enough_good_replicas(srv) {
            return rejected(
                reject(
                    srv,
                    Some(spec),
                    "-NOREPLICAS Not enough good replicas to write.",
                ),
                buf,
            );
        }
    }
    if !run.allow_oom
        && srv.cfg.maxmemory > 0
        && !run.obeyed
        && !run.wrote
        && run.oom_at_start
        && spec.has(flags::DENYOOM)
    {
        return rejected(
            reject(
                srv,
                Some(spec),
                "-OOM command not allowed when used memory > 'maxmemory'.",
            ),
            buf,
        );
    }
    if write {
        run.wrote = true;
        run.watch.set_wrote();
    }
    buf.clear();
    let mut out = ReplyBuf {
        buf,
        proto: run.client.proto,
    };
    srv.propagator.script_targets = Some(run.repl);
    super::exec::call(srv, &mut run.client, &mut out, spec, args);
    srv.propagator.script_targets = None;
    Ok(out.buf)
}

/// A command the script may not run: counted as rejected, as Redis's `scriptCall` does.
fn reject(srv: &mut Server, spec: Option<&'static super::CommandSpec>, msg: &str) -> String {
    if let Some(s) = spec {
        srv.stats.cmd(s.id).rejected += 1;
    }
    let text = ffi::error_text(msg.as_bytes());
    srv.stats.count_error(&String::from_utf8_lossy(&text));
    msg.to_string()
}

// ------------------------------------------------------------------------------ SCRIPT

pub fn script_load(ctx: &mut Ctx) -> CmdResult {
    let body = ctx.args[2].clone();
    let sha = sha1hex(&body);
    create_script(ctx.srv, &sha, &body)?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

pub fn script_exists(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.args.len() - 2;
    ctx.out.array(n);
    for a in &ctx.args[2..] {
        let sha = String::from_utf8_lossy(a).to_ascii_lowercase();
        let found = ctx.srv.scripts.get(&sha).is_some();
        ctx.out.int(found as i64);
    }
    Ok(())
}

pub fn script_flush(ctx: &mut Ctx) -> CmdResult {
    let ok = match ctx.args.len() {
        2 => true,
        3 => {
            ctx.args[2].eq_ignore_ascii_case(b"sync") || ctx.args[2].eq_ignore_ascii_case(b"async")
        }
        _ => false,
    };
    if !ok {
        return Err(CmdError::err("SCRIPT FLUSH only support SYNC|ASYNC option"));
    }
    ctx.srv.scripts.flush();
    engine::discard_engine();
    ctx.out.ok();
    Ok(())
}

pub fn script_kill(ctx: &mut Ctx) -> CmdResult {
    match ctx.srv.scripts.watch.request_kill().error() {
        None => {
            ctx.out.ok();
            Ok(())
        }
        Some(e) => Err(CmdError::Reply(e.into())),
    }
}

pub fn script_help(ctx: &mut Ctx) -> CmdResult {
    super::client_cmd::help_reply(
        ctx,
        "SCRIPT",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Unit tests of the conversions and the engine, on a test server (no sockets).

    use crate::testkit::TestServer;

    fn eval(t: &mut TestServer, id: u64, script: &str, rest: &[&str]) -> String {
        let mut args: Vec<&[u8]> = vec![b"EVAL", script.as_bytes()];
        args.extend(rest.iter().map(|s| s.as_bytes()));
        String::from_utf8_lossy(&t.run(id, &args)).into_owned()
    }

    #[test]
    fn lua_values_convert_to_resp2_replies() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        assert_eq!(eval(&mut t, c, "return 3.99", &["0"]), ":3\r\n");
        assert_eq!(eval(&mut t, c, "return -3.99", &["0"]), ":-3\r\n");
        assert_eq!(eval(&mut t, c, "return 'x'", &["0"]), "$1\r\nx\r\n");
        assert_eq!(eval(&mut t, c, "return true", &["0"]), ":1\r\n");
        assert_eq!(eval(&mut t, c, "return false", &["0"]), "$-1\r\n");
        assert_eq!(eval(&mut t, c, "return nil", &["0"]), "$-1\r\n");
        assert_eq!(
            eval(&mut t, c, "return {1,'a',{2},nil,5}", &["0"]),
            "*3\r\n:1\r\n$1\r\na\r\n*1\r\n:2\r\n"
        );
        assert_eq!(eval(&mut t, c, "return {ok='fine'}", &["0"]), "+fine\r\n");
        assert_eq!(
            eval(&mut t, c, "return {err='MY bad'}", &["0"]),
            "-MY bad\r\n"
        );
        assert_eq!(
            eval(&mut t, c, "return {double=1.5}", &["0"]),
            "$3\r\n1.5\r\n"
        );
        assert_eq!(
            eval(&mut t, c, "return {map={a=1}}", &["0"]),
            "*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(
            eval(&mut t, c, "return {set={a=true}}", &["0"]),
            "*1\r\n$1\r\na\r\n"
        );
        assert_eq!(
            eval(&mut t, c, "return 0/0", &["0"]),
            ":-9223372036854775808\r\n"
        );
    }

    #[test]
    fn keys_and_argv_and_redis_call() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        assert_eq!(
            eval(
                &mut t,
                c,
                "return redis.call('set', KEYS[1], ARGV[1])",
                &["1", "k", "v"]
            ),
            "+OK\r\n"
        );
        assert_eq!(
            eval(&mut t, c, "return redis.call('get', KEYS[1])", &["1", "k"]),
            "$1\r\nv\r\n"
        );
        assert_eq!(
            eval(
                &mut t,
                c,
                "return redis.call('get', 'nope') == false",
                &["0"]
            ),
            ":1\r\n"
        );
        assert_eq!(
            eval(&mut t, c, "return type(redis.call('set','a','b'))", &["0"]),
            "$5\r\ntable\r\n"
        );
    }

    #[test]
    fn errors_carry_the_script_position() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        t.line(c, "SET s abc");
        let sha = super::sha1hex(b"return redis.call('incr','s')");
        assert_eq!(
            eval(&mut t, c, "return redis.call('incr','s')", &["0"]),
            format!(
                "-ERR value is not an integer or out of range script: {sha}, on @user_script:1.\r\n"
            )
        );
        let sha = super::sha1hex(b"x = 5");
        assert_eq!(
            eval(&mut t, c, "x = 5", &["0"]),
            format!("-ERR user_script:1: Attempt to modify a readonly table script: {sha}, on @user_script:1.\r\n")
        );
        let sha = super::sha1hex(b"return y");
        assert_eq!(
            eval(&mut t, c, "return y", &["0"]),
            format!("-ERR user_script:1: Script attempted to access nonexistent global variable 'y' script: {sha}, on @user_script:1.\r\n")
        );
        assert_eq!(
            eval(&mut t, c, "retur 1", &["0"]),
            "-ERR Error compiling script (new function): user_script:1: '=' expected near '1'\r\n"
        );
        assert_eq!(
            eval(&mut t, c, "return redis.pcall('nosuch')", &["0"]),
            "-ERR Unknown Redis command called from script\r\n"
        );
    }

    #[test]
    fn script_effects_propagate_wrapped_not_the_script() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        t.srv.propagator.enabled = true;
        eval(
            &mut t,
            c,
            "redis.call('set','a','1') redis.call('incr','a') return 1",
            &["0"],
        );
        assert_eq!(t.propagated(), vec!["MULTI", "set a 1", "incr a", "EXEC"]);
        eval(&mut t, c, "return redis.call('set','b','1')", &["0"]);
        assert_eq!(t.propagated(), vec!["set b 1"]);
        eval(&mut t, c, "return redis.call('get','b')", &["0"]);
        assert!(t.propagated().is_empty());
    }

    #[test]
    fn keys_and_argv_start_clean_whatever_the_last_script_did_to_them() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        let spoil = "KEYS[5] = 'x' KEYS.extra = 1 table.insert(ARGV, 'y') \
                     setmetatable(ARGV, {__index = function() return 'meta' end}) \
                     for i = 1, 200 do KEYS[i] = i end return 1";
        assert_eq!(eval(&mut t, c, spoil, &["2", "a", "b", "c"]), ":1\r\n");
        let look = "return {#KEYS, #ARGV, tostring(KEYS.extra), tostring(ARGV[9]), \
                    tostring(getmetatable(ARGV)), KEYS[1], ARGV[1]}";
        for _ in 0..3 {
            assert_eq!(
                eval(&mut t, c, look, &["1", "k", "v"]),
                "*7\r\n:1\r\n:1\r\n$3\r\nnil\r\n$3\r\nnil\r\n$3\r\nnil\r\n\
                 $1\r\nk\r\n$1\r\nv\r\n"
            );
        }
        assert_eq!(eval(&mut t, c, spoil, &["0"]), ":1\r\n");
        assert_eq!(
            eval(&mut t, c, "return {#KEYS, #ARGV}", &["0"]),
            "*2\r\n:0\r\n:0\r\n"
        );
    }

    #[test]
    fn globals_do_not_leak_between_scripts() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        eval(
            &mut t,
            c,
            "redis.call = nil string.rep = nil rawset(_G, 'leak', 1) return 1",
            &["0"],
        );
        assert_eq!(
            eval(
                &mut t,
                c,
                "return {type(redis.call), type(string.rep), rawget(_G, 'leak') == nil}",
                &["0"]
            ),
            "*3\r\n$8\r\nfunction\r\n$8\r\nfunction\r\n:1\r\n"
        );
    }

    #[test]
    fn the_protection_cannot_be_removed_for_the_next_script() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        eval(
            &mut t,
            c,
            "getmetatable(_G).__index = nil getmetatable(_G).__newindex = nil getmetatable('').__index = {} return 1",
            &["0"],
        );
        assert!(eval(&mut t, c, "x = 1", &["0"]).contains("Attempt to modify a readonly table"));
        assert!(
            eval(&mut t, c, "return nope", &["0"]).contains("nonexistent global variable 'nope'")
        );
        assert_eq!(
            eval(&mut t, c, "return ('abc'):upper()", &["0"]),
            "$3\r\nABC\r\n"
        );
    }

    #[test]
    fn the_engine_is_kept_between_scripts() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        // A script-defined upvalue-free check: the compiled function is reused (no reset), so
        // a cached script runs again by SHA after errors and KEYS/ARGV changes.
        assert_eq!(
            eval(&mut t, c, "return KEYS[1]", &["1", "a"]),
            "$1\r\na\r\n"
        );
        assert!(eval(&mut t, c, "error('x')", &["0"]).starts_with("-ERR user_script:1: x"));
        let sha = super::sha1hex(b"return KEYS[1]");
        let r = t.run(c, &[b"EVALSHA", sha.as_bytes(), b"1", b"b"]);
        assert_eq!(String::from_utf8_lossy(&r), "$1\r\nb\r\n");
        super::engine::with_engine(t.srv.scripts.generation, t.srv.cfg.lua_memory_limit, |e| {
            assert!(e.is_compiled(&sha), "the engine was rebuilt");
        })
        .expect("engine");
    }
}
