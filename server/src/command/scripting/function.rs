//! FUNCTION and FCALL (Redis 7.0's `functions.c`): the libraries are the `functions` state
//! part's, their Lua code runs on `function_engine`. A function runs as an EVAL script does
//! (`prepare`'s refusals, the script's client and `call_from_script`, its effects as
//! MULTI/EXEC, -BUSY and FUNCTION KILL past busy-reply-threshold), with its registered flags
//! as a script's shebang flags.

use std::sync::Arc;

use bytes::Bytes;

use super::super::{CmdError, CmdResult, Ctx};
use super::function_engine;
use crate::client::cflags;
use crate::functions::{engines, EngineDef, Library, LOAD_TIMEOUT_MS};
use crate::scripts::{sflags, RunningFunction};
use crate::server::Server;

/// The engines picket offers (Redis's `luaEngineInitEngine`), for the state part.
pub fn register() {
    crate::functions::register_engines(|| {
        vec![EngineDef {
            name: "LUA",
            create: function_engine::create,
            memory: function_engine::memory,
        }]
    });
}

/// The flags of the function an FCALL or FCALL_RO names, which stand for the command's
/// (Redis's `fcallGetCommandFlags`).
pub fn declared_flags(srv: &Server, args: &[Bytes]) -> Option<u32> {
    let (_, f) = srv.functions.ctx.function(args.get(1)?)?;
    Some(f.flags)
}

pub fn fcall(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, false)
}

pub fn fcall_ro(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, true)
}

/// Redis's `fcallCommandGeneric`.
fn fcall_generic(ctx: &mut Ctx, ro: bool) -> CmdResult {
    // The commands the function runs propagate their own effects; FCALL never does.
    ctx.propagate = super::super::exec::Propagate::Nothing;
    // MONITOR shows the FCALL before its commands.
    if !ctx.srv.clients.monitors.is_empty() && !ctx.srv.call.reprocessing {
        super::super::exec::feed_monitors(ctx.srv, ctx.client, ctx.spec, ctx.args);
    }
    let Some((lib, f)) = ctx.srv.functions.ctx.function(&ctx.args[1]) else {
        return Err(CmdError::err("Function not found"));
    };
    let lib: Arc<Library> = lib.clone();
    let fname = f.name.clone();
    let fflags = f.flags;
    let Some(numkeys) = picket_common::sds::string2ll(&ctx.args[2]) else {
        return Err(CmdError::err("Bad number of keys provided"));
    };
    let argc = ctx.args.len() as i64;
    if numkeys > argc - 3 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    let obeyed = ctx.client.has(cflags::MASTER) || ctx.client.has(cflags::LOADER);
    let oom_at_start = ctx.srv.call.pre_command_oom;
    super::prepare(ctx.srv, fflags, ro, obeyed, oom_at_start)?;

    let n = numkeys as usize;
    let keys = &ctx.args[3..3 + n];
    let argv = &ctx.args[3 + n..];
    let threshold_ms = ctx.srv.cfg.busy_reply_threshold;
    let limit = ctx.srv.cfg.lua_memory_limit;
    let started = tokio::time::Instant::now();
    let running = RunningFunction {
        name: fname.clone(),
        argv: ctx.args.to_vec(),
        libraries: ctx.srv.functions.ctx.libraries.len(),
        functions: ctx.srv.functions.ctx.functions_count(),
        started,
    };
    let watch = ctx.srv.scripts.watch.clone();
    let client = super::script_client(ctx.client, started);
    // The engine is taken out of the state part while the function runs (which reaches the
    // server through `run`).
    forget_gone(ctx.srv);
    let mut slot = std::mem::take(&mut ctx.srv.functions.engine);
    let caller_info = crate::command::acl_cmd::caller_info(ctx.srv, ctx.client);
    let mut run = super::Run {
        srv: &mut *ctx.srv,
        client,
        obeyed,
        read_only: ro || fflags & sflags::NO_WRITES != 0,
        allow_oom: fflags & sflags::ALLOW_OOM != 0,
        oom_at_start,
        wrote: false,
        repl: crate::propagate::target::BOTH,
        sha: fname.clone(),
        started,
        threshold_ms,
        timed_out: false,
        watch: watch.clone(),
        caller_info,
    };
    let started_ms = run.srv.now_ms.max(0) as u64;
    watch.start_function(started_ms, obeyed, running);
    let mark = ctx.out.len();
    let out = &mut *ctx.out;
    // As EVAL's: a function past busy-reply-threshold hands the runtime worker to another
    // thread (the engine's count hook), so that connections answer -BUSY, FUNCTION KILL and
    // FUNCTION STATS meanwhile.
    let r = function_engine::engine(&mut slot, limit).map(|e| {
        e.call(&mut run, &lib, &fname, keys, argv, out);
        e.is_broken()
    });
    if r == Ok(true) {
        slot = Default::default();
    }
    super::give_back_client(run.client);
    let shutdown = watch.shutdown_requested();
    watch.stop();
    ctx.srv.functions.engine = slot;
    if shutdown {
        ctx.out.buf.truncate(mark);
        super::shutdown_from_script(ctx);
        return Ok(());
    }
    if let Err(e) = r {
        return Err(CmdError::Reply(format!("ERR {e}")));
    }
    Ok(())
}

/// The engine forgets the functions of libraries that are gone (after a change), so their
/// memory can be collected.
fn forget_gone(srv: &mut Server) {
    let f = &mut srv.functions;
    if f.engine.0.is_none() {
        return;
    }
    let libs = &f.ctx.libraries;
    if let Ok(e) = function_engine::engine(&mut f.engine, srv.cfg.lua_memory_limit) {
        e.sync(f.generation, || libs.values().map(|l| l.id).collect());
    }
}

// ---------------------------------------------------------------------------- FUNCTION

/// FUNCTION LOAD [REPLACE] code.
pub fn function_load(ctx: &mut Ctx) -> CmdResult {
    let argc = ctx.args.len();
    let mut replace = false;
    let mut pos = 2;
    while pos < argc - 1 {
        let a = &ctx.args[pos];
        pos += 1;
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
            continue;
        }
        return Err(CmdError::err(format!(
            "Unknown option given: {}",
            String::from_utf8_lossy(c_str(a))
        )));
    }
    let code = ctx.args[pos].clone();
    let timeout = if obeyed(ctx) { 0 } else { LOAD_TIMEOUT_MS };
    let limit = ctx.srv.cfg.lua_memory_limit;
    let name = ctx
        .srv
        .functions
        .load(&code, replace, timeout, limit)
        .map_err(CmdError::err)?;
    forget_gone(ctx.srv);
    ctx.srv.dirty += 1;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn obeyed(ctx: &Ctx) -> bool {
    ctx.client.has(cflags::MASTER) || ctx.client.has(cflags::LOADER)
}

fn c_str(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

pub fn function_delete(ctx: &mut Ctx) -> CmdResult {
    if !ctx.srv.functions.delete(&ctx.args[2]) {
        return Err(CmdError::err("Library not found"));
    }
    forget_gone(ctx.srv);
    ctx.srv.dirty += 1;
    ctx.out.ok();
    Ok(())
}

pub fn function_flush(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(ctx.subcommand_syntax_error());
    }
    if ctx.args.len() == 3
        && !ctx.args[2].eq_ignore_ascii_case(b"sync")
        && !ctx.args[2].eq_ignore_ascii_case(b"async")
    {
        return Err(CmdError::err(
            "FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    ctx.srv.functions.clear();
    forget_gone(ctx.srv);
    ctx.srv.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
pub fn function_list(ctx: &mut Ctx) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<Bytes> = None;
    let mut i = 2;
    while i < ctx.args.len() {
        let a = &ctx.args[i];
        if !with_code && a.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
            i += 1;
            continue;
        }
        if pattern.is_none() && a.eq_ignore_ascii_case(b"libraryname") {
            if i >= ctx.args.len() - 1 {
                return Err(CmdError::err("library name argument was not given"));
            }
            pattern = Some(ctx.args[i + 1].clone());
            i += 2;
            continue;
        }
        return Err(CmdError::err(format!(
            "Unknown argument {}",
            String::from_utf8_lossy(c_str(a))
        )));
    }
    let libs: Vec<Arc<Library>> = ctx
        .srv
        .functions
        .ctx
        .libraries
        .values()
        .filter(|l| {
            pattern
                .as_ref()
                .is_none_or(|p| picket_common::glob::string_match(p, l.name.as_bytes(), true))
        })
        .cloned()
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(lib.engine.as_bytes());
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in lib.functions.values() {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.desc {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = sflags::NAMES
                .iter()
                .filter(|(_, v)| f.flags & v != 0)
                .map(|(n, _)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

pub fn function_dump(ctx: &mut Ctx) -> CmdResult {
    let payload = ctx.srv.functions.dump(ctx.srv.cfg.persist.rdbcompression);
    ctx.out.bulk(&payload);
    Ok(())
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
pub fn function_restore(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 4 {
        return Err(ctx.subcommand_syntax_error());
    }
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy = match ctx.args.get(3) {
        None => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"append") => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"replace") => Policy::Replace,
        Some(p) if p.eq_ignore_ascii_case(b"flush") => Policy::Flush,
        Some(_) => {
            return Err(CmdError::err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ))
        }
    };
    // Redis runs a restored library's code without a time limit; picket keeps FUNCTION
    // LOAD's for the clients it need not obey, so a payload cannot stall the server.
    let timeout = if obeyed(ctx) { 0 } else { LOAD_TIMEOUT_MS };
    let limit = ctx.srv.cfg.lua_memory_limit;
    let skip_crc = ctx.srv.debug.skip_checksum_validation;
    let restored = crate::functions::read_dump(
        &ctx.args[2],
        skip_crc,
        &mut ctx.srv.functions.engine,
        timeout,
        limit,
    )
    .map_err(CmdError::err)?;
    if policy == Policy::Flush {
        ctx.srv.functions.replace_all(restored);
    } else {
        ctx.srv
            .functions
            .join(restored, policy == Policy::Replace)
            .map_err(CmdError::err)?;
    }
    forget_gone(ctx.srv);
    ctx.srv.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION STATS. (While a script runs, the connections answer it without the lock:
/// `stats_reply`.)
pub fn function_stats(ctx: &mut Ctx) -> CmdResult {
    let libs = ctx.srv.functions.ctx.libraries.len();
    let fns = ctx.srv.functions.ctx.functions_count();
    stats_reply(ctx.out, None, libs, fns, 0);
    Ok(())
}

/// FUNCTION STATS's reply: the function running (with how long it has run) and the
/// engines' counts.
pub fn stats_reply(
    out: &mut picket_common::resp::ReplyBuf,
    running: Option<&RunningFunction>,
    libraries: usize,
    functions: usize,
    duration_ms: u64,
) {
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some(f) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"command");
            out.array(f.argv.len());
            for a in &f.argv {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(duration_ms as i64);
        }
    }
    out.bulk(b"engines");
    let list = engines();
    out.map(list.len());
    for e in list {
        out.bulk(e.name.as_bytes());
        out.map(2);
        out.bulk(b"libraries_count");
        out.int(libraries as i64);
        out.bulk(b"functions_count");
        out.int(functions as i64);
    }
}

pub fn function_kill(ctx: &mut Ctx) -> CmdResult {
    match ctx.srv.scripts.watch.request_kill_of(false).error() {
        None => {
            ctx.out.ok();
            Ok(())
        }
        Some(e) => Err(CmdError::Reply(e.into())),
    }
}

pub fn function_help(ctx: &mut Ctx) -> CmdResult {
    super::super::client_cmd::help_reply(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! FUNCTION and FCALL on a test server (no sockets).

    use crate::testkit::TestServer;

    const LIB: &str = "#!lua name=lib\n\
        redis.register_function('set', function(keys, args) redis.call('set', keys[1], args[1]) return redis.call('incr', keys[2]) end)\n\
        redis.register_function{function_name='get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}\n\
        redis.register_function('fail', function() return redis.call('nosuch') end)";

    fn run(t: &mut TestServer, c: u64, args: &[&str]) -> String {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        String::from_utf8_lossy(&t.run(c, &args)).into_owned()
    }

    #[test]
    fn load_call_and_propagate_as_redis() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        assert_eq!(run(&mut t, c, &["FUNCTION", "LOAD", LIB]), "$3\r\nlib\r\n");
        // FUNCTION LOAD goes to the replicas and the AOF as it is.
        assert_eq!(t.propagated().len(), 1);
        assert_eq!(
            run(&mut t, c, &["FCALL", "SET", "2", "k", "n", "v"]),
            ":1\r\n"
        );
        // The function's effects, wrapped; never the FCALL.
        assert_eq!(t.propagated(), vec!["MULTI", "set k v", "incr n", "EXEC"]);
        assert_eq!(
            run(&mut t, c, &["FCALL_RO", "get", "1", "k"]),
            "$1\r\nv\r\n"
        );
        assert!(t.propagated().is_empty());
        assert_eq!(
            run(&mut t, c, &["FCALL_RO", "set", "2", "k", "n", "v"]),
            "-ERR Can not execute a script with write flag using *_ro command.\r\n"
        );
        assert_eq!(
            run(&mut t, c, &["FCALL", "fail", "0"]),
            "-ERR Unknown Redis command called from script script: fail, on @user_function:4.\r\n"
        );
        assert_eq!(
            run(&mut t, c, &["FCALL", "nope", "0"]),
            "-ERR Function not found\r\n"
        );
        assert_eq!(
            run(&mut t, c, &["FCALL", "get", "x"]),
            "-ERR Bad number of keys provided\r\n"
        );
        assert_eq!(run(&mut t, c, &["FUNCTION", "DELETE", "lib"]), "+OK\r\n");
        assert_eq!(t.propagated(), vec!["FUNCTION DELETE lib"]);
        assert_eq!(
            run(&mut t, c, &["FCALL", "get", "1", "k"]),
            "-ERR Function not found\r\n"
        );
    }

    #[test]
    fn load_errors_leave_the_library_as_it_was() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        run(&mut t, c, &["FUNCTION", "LOAD", LIB]);
        t.propagated();
        let bad = "#!lua name=lib\nredis.register_function('x', function() return 1 end) x = 1";
        assert_eq!(
            run(&mut t, c, &["FUNCTION", "LOAD", "REPLACE", bad]),
            "-ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table\r\n"
        );
        assert_eq!(run(&mut t, c, &["FCALL", "get", "1", "k"]), "$-1\r\n");
        assert!(t.propagated().iter().all(|c| !c.starts_with("FUNCTION")));
        // A library that loops is stopped at 500 ms.
        let looping = "#!lua name=loop\nwhile true do end";
        let started = std::time::Instant::now();
        assert_eq!(
            run(&mut t, c, &["FUNCTION", "LOAD", looping]),
            "-ERR Error registering functions: ERR FUNCTION LOAD timeout\r\n"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // The load sandbox: no redis.call, no globals but redis.
        assert_eq!(
            run(&mut t, c, &["FUNCTION", "LOAD", "#!lua name=l2\nredis.call('ping')"]),
            "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'\r\n"
        );
        assert_eq!(
            run(&mut t, c, &["FUNCTION", "LOAD", "#!lua name=l2\nreturn string.rep('a', 2)"]),
            "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'\r\n"
        );
        assert_eq!(
            run(
                &mut t,
                c,
                &[
                    "FUNCTION",
                    "LOAD",
                    "#!lua name=lib2\nredis.register_function('GET', function() end)"
                ]
            ),
            "-ERR Function GET already exists\r\n"
        );
    }

    #[test]
    fn list_stats_dump_restore() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        run(&mut t, c, &["FUNCTION", "LOAD", LIB]);
        let list = run(&mut t, c, &["FUNCTION", "LIST", "LIBRARYNAME", "L*"]);
        assert!(list.starts_with("*1\r\n*6\r\n$12\r\nlibrary_name\r\n$3\r\nlib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*3\r\n"), "{list}");
        assert!(
            list.contains(
                "$11\r\ndescription\r\n$5\r\nreads\r\n$5\r\nflags\r\n*1\r\n+no-writes\r\n"
            ),
            "{list}"
        );
        assert_eq!(
            run(&mut t, c, &["FUNCTION", "STATS"]),
            "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:3\r\n"
        );
        let dump = t.run(c, &[b"FUNCTION", b"DUMP"]);
        let payload = &dump[dump.iter().position(|&b| b == b'\n').unwrap() + 1..dump.len() - 2];
        assert_eq!(
            t.run(c, &[b"FUNCTION", b"RESTORE", payload]),
            b"-ERR Library lib already exists\r\n"
        );
        assert_eq!(run(&mut t, c, &["FUNCTION", "FLUSH"]), "+OK\r\n");
        assert_eq!(t.run(c, &[b"FUNCTION", b"RESTORE", payload]), b"+OK\r\n");
        assert_eq!(run(&mut t, c, &["FCALL", "get", "1", "k"]), "$-1\r\n");
        assert_eq!(
            t.run(c, &[b"FUNCTION", b"RESTORE", payload, b"REPLACE"]),
            b"+OK\r\n"
        );
        assert_eq!(
            t.run(c, &[b"FUNCTION", b"RESTORE", &payload[1..], b"FLUSH"]),
            b"-ERR DUMP payload version or checksum are wrong\r\n"
        );
        assert_eq!(run(&mut t, c, &["FCALL", "get", "1", "k"]), "$-1\r\n");
    }
}
