//! The Lua 5.1 engine that runs scripts, as Redis 7.0's `script_lua.c` and `eval.c`: one
//! interpreter (per thread that runs commands) with Redis's libraries and sandbox, the
//! `redis` table, the error handler that makes `{err=...}` tables with the script's position,
//! and the conversions between replies and Lua values (`convert`).
//!
//! The sandbox: the globals Redis 7.0 leaves (no `print`, `loadfile`, `dofile`, `getfenv`,
//! `setfenv`, `newproxy`, `os`, `io`, `require`, `debug`); reading an undefined global and
//! writing any raise Redis's errors. Redis 7.0 makes the globals and library tables read-only
//! with a patched Lua; here scripts see them only through empty proxies whose `__newindex`
//! raises (a script's environment is a proxy of the globals, each library a proxy of its
//! table, the strings' metatable a read-only view), so no script can change what the next
//! one sees. Debug builds check that after every script (`restore`).

use std::cell::{Cell, RefCell};
use std::os::raw::c_int;

use bytes::{Bytes, BytesMut};
use mlua::ffi;
use mlua::{Lua, LuaOptions, StdLib};

use super::ffi::{
    push_bytes, push_error, set_field_bytes, set_field_fn, set_field_number, to_bytes, L,
};

/// Globals a script may see (Redis 7.0.15's, as `pairs(_G)` lists them).
const ALLOWED_GLOBALS: &[&str] = &[
    "string",
    "cjson",
    "bit",
    "cmsgpack",
    "math",
    "table",
    "struct",
    "redis",
    "__redis__err__handler",
    "xpcall",
    "tostring",
    "setmetatable",
    "next",
    "assert",
    "tonumber",
    "rawequal",
    "collectgarbage",
    "getmetatable",
    "rawset",
    "pcall",
    "coroutine",
    "type",
    "_G",
    "select",
    "unpack",
    "gcinfo",
    "pairs",
    "rawget",
    "loadstring",
    "ipairs",
    "_VERSION",
    "load",
    "error",
    // Removed by the prelude once the error handler holds it.
    "debug",
];

/// Lua code run once per engine: the error handler (Redis's `__redis__err__handler`, which
/// also skips the frames of this glue), the global protection, and the function that undoes
/// a script's changes to the protected tables.
const PRELUDE: &str = r#"
local getinfo, rawgetmetatable = debug.getinfo, debug.getmetatable
local G = _G
local error, type, tostring, next, rawget, rawset = error, type, tostring, next, rawget, rawset
local setmetatable, getmetatable = setmetatable, getmetatable
local protected_rawset, protected_setmetatable, proxied_next, proxied_pairs = ...
rawset(G, 'debug', nil)
rawset(G, 'rawset', protected_rawset)
rawset(G, 'setmetatable', protected_setmetatable)
rawset(G, 'next', proxied_next)
rawset(G, 'pairs', proxied_pairs)
rawset(G, '__redis__err__handler', function(err)
  local level = 2
  local i = getinfo(level, 'nSl')
  if i and i.what == 'C' then
    level = 3
    i = getinfo(level, 'nSl')
  end
  while i and i.source == '=picket' do
    level = level + 1
    i = getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end)
local function readonly()
  error('Attempt to modify a readonly table', 2)
end
local globals_mt = {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __newindex = readonly,
}
-- The libraries are seen through empty proxies, so that changing one of their fields
-- reaches the proxy's __newindex and fails as in Redis.
local libs = {'string', 'math', 'table', 'redis', 'bit', 'cjson', 'cmsgpack', 'struct', 'coroutine'}
local tables = {G, getmetatable('')}
local protected = {[G] = true}
local proxies = {}
for _, name in next, libs do
  local real = rawget(G, name)
  local proxy = setmetatable({}, {__index = real, __newindex = readonly, __metatable = false})
  proxies[proxy] = real
  rawset(G, name, proxy)
  -- (A library is reachable only through its proxy, whose metatable is hidden and whose
  -- keys cannot be set, except the string library, which the strings' metatable holds:
  -- only that one needs restoring.)
  if name == 'string' then tables[#tables + 1] = real end
  protected[real] = true
  protected[proxy] = true
end
protected[getmetatable('')] = true
-- The globals' metatable too (reachable with getmetatable(_G)).
tables[#tables + 1] = globals_mt
protected[globals_mt] = true
local saved, metas = {}, {}
setmetatable(G, globals_mt)
-- The scripts' globals: compiled scripts (and what loadstring/load make) run with an empty
-- proxy of G as their environment, so that every assignment to a global, new or existing,
-- reaches the proxy's __newindex and fails as in Redis (whose globals table is read-only);
-- `_G` is the proxy too. Reads go through to G (and its metatable's error for an undefined
-- global).
local env = {}
local env_mt = {__index = G, __newindex = readonly}
local env_mt_view = setmetatable({}, {__index = env_mt, __newindex = readonly, __metatable = false})
env_mt.__metatable = env_mt_view
setmetatable(env, env_mt)
rawset(G, '_G', env)
proxies[env] = G
protected[env] = true
protected[env_mt] = true
protected[env_mt_view] = true
-- The strings' metatable: its __index is the string library's proxy (as `string` is), and
-- getmetatable('') shows a read-only view of it.
local string_mt = getmetatable('')
rawset(string_mt, '__index', rawget(G, 'string'))
local string_mt_view = setmetatable({}, {__index = string_mt, __newindex = readonly, __metatable = false})
rawset(string_mt, '__metatable', string_mt_view)
proxies[string_mt_view] = string_mt
protected[string_mt_view] = true
for _, t in next, {env, env_mt, env_mt_view, string_mt_view} do tables[#tables + 1] = t end
-- None of the tables above can be reached for writing any more. In debug builds `restore`
-- (engine.rs) still walks them after every script, and says if it had to undo anything.
local function snapshot()
  for _, t in next, tables do
    local copy = {}
    for k, v in next, t do copy[k] = v end
    saved[t] = copy
    metas[t] = rawgetmetatable(t)
  end
end
return snapshot, saved, metas, protected, proxies, env
"#;

/// One interpreter and the generation of the script cache it was built for.
pub struct Engine {
    lua: Lua,
    generation: u64,
    memory_limit: u64,
    runs: u32,
    /// The heap's size (KB) after the last periodic collection step.
    gc_mark_kb: c_int,
    /// The main state mlua created (this thread's own: the engine is thread-local).
    raw: L,
    /// Registry references, so that a run pushes them without hashing a name and without
    /// allocating: [`trampoline`], the error handler, the KEYS and ARGV tables.
    refs: Refs,
    /// The compiled scripts by SHA1: registry references to their functions (Redis names
    /// them `f_<sha>` in the registry; a reference is found without hashing a Lua string).
    compiled: std::collections::HashMap<String, c_int, foldhash::fast::FixedState>,
}

#[derive(Clone, Copy)]
struct Refs {
    trampoline: c_int,
    err_handler: c_int,
    keys: c_int,
    argv: c_int,
}

/// The C function [`Engine::protected`] calls in protected mode: it runs the Rust closure
/// whose address is its only argument. (mlua's `exec_raw` pushes two new C closures per call,
/// which Lua 5.1 allocates: garbage for every script.)
unsafe extern "C-unwind" fn trampoline(l: L) -> c_int {
    let f = ffi::lua_touserdata(l, 1) as *mut &mut dyn FnMut(L);
    ffi::lua_settop(l, 0);
    // SAFETY: `Engine::protected` passes the address of a live `&mut dyn FnMut(L)`, used by
    // nothing else until lua_pcall returns.
    (*f)(l);
    0
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Run `f` with this thread's engine for `generation` (built anew after SCRIPT FLUSH or
/// when the memory limit changed).
pub fn with_engine<R>(
    generation: u64,
    memory_limit: u64,
    f: impl FnOnce(&mut Engine) -> R,
) -> Result<R, String> {
    ENGINE.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| "scripting engine busy".to_string())?;
        let stale = slot
            .as_ref()
            .is_none_or(|e| e.generation != generation || e.memory_limit != memory_limit);
        if stale {
            *slot = None;
            super::cjson::reset();
            *slot = Some(Engine::new(generation, memory_limit).map_err(|e| e.to_string())?);
        }
        let engine = slot.as_mut().expect("engine just built");
        Ok(f(engine))
    })
}

/// The Lua heap of this thread's engine, if it has one.
pub fn memory() -> usize {
    ENGINE.with(|cell| {
        cell.try_borrow()
            .ok()
            .and_then(|slot| slot.as_ref().map(|e| e.lua.used_memory()))
            .unwrap_or(0)
    })
}

/// Drop this thread's engine (its state is suspect: a script left the protected tables in a
/// state the restore could not undo).
pub fn discard_engine() {
    ENGINE.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = None;
        }
    });
}

impl Engine {
    fn new(generation: u64, memory_limit: u64) -> mlua::Result<Engine> {
        // SAFETY: the debug library is loaded only for the prelude, which keeps
        // `debug.getinfo` for the error handler and removes the global.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::new(),
            )
        };
        let mut raw: L = std::ptr::null_mut();
        let mut refs = Refs {
            trampoline: 0,
            err_handler: 0,
            keys: 0,
            argv: 0,
        };
        // SAFETY: raw API calls on the state mlua created, balanced on the stack.
        unsafe {
            lua.exec_raw::<()>((), |l| {
                setup(l);
                raw = l;
                ffi::lua_pushcfunction(l, trampoline);
                refs.trampoline = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
                push_global(l, c"__redis__err__handler");
                refs.err_handler = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
                ffi::lua_createtable(l, 0, 0);
                refs.keys = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
                ffi::lua_createtable(l, 0, 0);
                refs.argv = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
            })
        }?;
        if memory_limit > 0 {
            let _ = lua.set_memory_limit(memory_limit as usize);
        }
        Ok(Engine {
            lua,
            generation,
            memory_limit,
            runs: 0,
            gc_mark_kb: 0,
            raw,
            refs,
            compiled: Default::default(),
        })
    }

    /// Run `f` on the engine's state in protected mode, as mlua's `exec_raw` but allocating
    /// nothing: a Lua error `f` does not catch itself (only memory errors can reach here)
    /// comes back as its message.
    fn protected(&self, f: &mut dyn FnMut(L)) -> Result<(), String> {
        let l = self.raw;
        // SAFETY: `raw` is this engine's live main state, used only on this thread; the stack
        // is restored to where it was, whatever happened.
        unsafe {
            let top = ffi::lua_gettop(l);
            if ffi::lua_checkstack(l, 4) == 0 {
                return Err("not enough memory".into());
            }
            ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, self.refs.trampoline);
            let mut f = f;
            ffi::lua_pushlightuserdata(
                l,
                &mut f as *mut &mut dyn FnMut(L) as *mut std::ffi::c_void,
            );
            let rc = ffi::lua_pcall(l, 1, 0, 0);
            let r = if rc == 0 {
                Ok(())
            } else {
                Err(match to_bytes(l, -1) {
                    Some(m) => String::from_utf8_lossy(m).into_owned(),
                    None => "not enough memory".into(),
                })
            };
            ffi::lua_settop(l, top);
            r
        }
    }

    /// Compile a script body (its shebang line already blanked) as `f_<sha>`. The error is
    /// Lua's message (`user_script:1: ...`).
    pub fn compile(&mut self, sha: &str, body: &[u8]) -> Result<(), String> {
        let mut result = Ok(());
        let mut fref: c_int = ffi::LUA_NOREF;
        // SAFETY: balanced raw calls; no Rust value with a destructor is alive across calls
        // that may raise (only memory errors, inside mlua's protected call).
        let r = unsafe {
            self.lua.exec_raw::<()>((), |l| {
                let mut rc = ffi::luaL_loadbuffer(
                    l,
                    body.as_ptr() as *const _,
                    body.len(),
                    c"@user_script".as_ptr(),
                );
                if rc == ffi::LUA_ERRMEM {
                    // Garbage a previous script left may fill the heap: collect, retry.
                    ffi::lua_settop(l, -2);
                    ffi::lua_gc(l, ffi::LUA_GCCOLLECT, 0);
                    rc = ffi::luaL_loadbuffer(
                        l,
                        body.as_ptr() as *const _,
                        body.len(),
                        c"@user_script".as_ptr(),
                    );
                }
                if rc != 0 {
                    let msg = to_bytes(l, -1).unwrap_or(b"unknown error");
                    result = Err(String::from_utf8_lossy(msg).into_owned());
                    ffi::lua_settop(l, -2);
                } else {
                    set_script_env(l);
                    fref = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
                }
            })
        };
        r.map_err(|e| e.to_string())?;
        if result.is_ok() {
            self.compiled.insert(sha.to_string(), fref);
        }
        result
    }

    pub fn is_compiled(&self, sha: &str) -> bool {
        self.compiled.contains_key(sha)
    }

    /// Run the compiled `f_<sha>` with KEYS and ARGV, writing its reply (or error) to `out`.
    /// `run` is reachable from the functions the script calls while it runs.
    pub fn run(
        &mut self,
        run: &mut Run,
        keys: &[Bytes],
        argv: &[Bytes],
        out: &mut picket_common::resp::ReplyBuf,
        hook: bool,
    ) {
        let sha = run.sha.clone();
        let Some(&fref) = self.compiled.get(&sha) else {
            out.error(&format!(
                "ERR Error running script {sha}, the script is not compiled"
            ));
            return;
        };
        let limit = self.memory_limit;
        let ptr = run as *mut Run as *mut ();
        RUN.with(|c| c.set(ptr));
        let mut restore_failed = false;
        let mut errors: Vec<String> = Vec::new();
        self.runs += 1;
        let gc_step = self.runs.is_multiple_of(50);
        // SAFETY: raw calls balanced on the stack; the script runs inside lua_pcall, and the
        // functions it calls reach the run through RUN (cleared below); `run` itself is not
        // used until then.
        let refs = self.refs;
        let mut gc_mark_kb = self.gc_mark_kb;
        let r = unsafe {
            self.protected(&mut |l| {
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, refs.err_handler);
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, fref);
                set_array_global(l, c"KEYS", refs.keys, keys);
                set_array_global(l, c"ARGV", refs.argv, argv);
                if hook {
                    ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKCOUNT, 100_000);
                }
                let err = ffi::lua_pcall(l, 0, 1, -2);
                if hook {
                    ffi::lua_sethook(l, None, 0, 0);
                }
                // Redis steps the collector every 50 scripts; picket does so only when the
                // heap grew since the last step, since scripts that leave no garbage
                // (KEYS and ARGV are reused) would make it walk the whole heap for nothing.
                if gc_step && ffi::lua_gc(l, ffi::LUA_GCCOUNT, 0) > gc_mark_kb {
                    ffi::lua_gc(l, ffi::LUA_GCSTEP, 50);
                    gc_mark_kb = ffi::lua_gc(l, ffi::LUA_GCCOUNT, 0);
                }
                let resp3 = (*(ptr as *mut Run)).client.proto == picket_common::resp::Proto::Resp3;
                restore_failed =
                    finish_call(l, err, out, &sha, "script", resp3, limit, &mut errors);
            })
        };
        self.gc_mark_kb = gc_mark_kb;
        RUN.with(|c| c.set(std::ptr::null_mut()));
        // The error replies the script's reply holds count in the error statistics, but
        // those of its commands, counted when they failed.
        for e in &errors {
            run.srv.stats.count_error(e);
        }
        if let Err(e) = r {
            // mlua's own protected call failed (no memory left even for the reply).
            out.error(&format!("ERR Error running script {sha}, {e}"));
            restore_failed = true;
        }
        if restore_failed {
            tracing::warn!("Lua scripting engine reset: a script left its globals in a state that could not be restored");
            discard_engine();
        }
    }
}

/// After a script's or function's `lua_pcall` (its reply or error on top of the stack, the
/// error handler below it): write the reply (or error) to `out` with the conversions of the
/// script's protocol (`redis.setresp` decides how booleans convert), pop both, run the
/// debug builds' sandbox check, and collect when the heap is past three quarters of `limit`
/// or the call ran out of memory (Lua 5.1 does not collect when an allocation fails, so the
/// next script could not even compile). Returns whether the sandbox check itself failed.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn finish_call(
    l: L,
    err: c_int,
    out: &mut picket_common::resp::ReplyBuf,
    name: &str,
    kind: &str,
    resp3: bool,
    limit: u64,
    errors: &mut Vec<String>,
) -> bool {
    let mut restore_failed = false;
    if err != 0 {
        super::convert::error_to_reply(l, out, name, errors);
    } else {
        super::convert::lua_to_reply(l, out, resp3, 0, errors);
    }
    ffi::lua_settop(l, -2); // the error handler
    if cfg!(debug_assertions) {
        ffi::lua_pushcfunction(l, restore);
        if ffi::lua_pcall(l, 0, 1, 0) != 0 {
            restore_failed = true;
        } else if ffi::lua_tointeger(l, -1) > 0 {
            tracing::error!(
                "{kind} {name} changed a protected table; undone (a hole in the sandbox)"
            );
        }
        ffi::lua_settop(l, -2);
    }
    let kb = ffi::lua_gc(l, ffi::LUA_GCCOUNT, 0) as u64;
    if err == ffi::LUA_ERRMEM || (limit > 0 && kb * 1024 > limit / 4 * 3) {
        ffi::lua_gc(l, ffi::LUA_GCCOLLECT, 0);
    }
    restore_failed
}

/// What the functions a script calls reach while it runs (Redis's `scriptRunCtx`).
pub struct Run<'a> {
    pub srv: &'a mut crate::server::Server,
    /// The script's own client, which runs its commands (Redis's `lua_client`): the
    /// caller's database, RESP2 unless `redis.setresp(3)`.
    pub client: Box<crate::client::Client>,
    /// The caller must be obeyed (the master, the AOF): no refusals, no kill.
    pub obeyed: bool,
    pub read_only: bool,
    pub allow_oom: bool,
    /// `maxmemory` was exceeded when the script started.
    pub oom_at_start: bool,
    /// A write command ran.
    pub wrote: bool,
    /// Where its commands' effects go (`redis.set_repl`), a mask of `propagate::target`.
    pub repl: u8,
    pub sha: String,
    pub started: tokio::time::Instant,
    pub threshold_ms: i64,
    pub timed_out: bool,
    pub watch: std::sync::Arc<crate::scripts::ScriptWatch>,
    /// The caller's CLIENT INFO line for ACL LOG entries (Redis logs the script's caller),
    /// taken only for users with restrictions.
    pub caller_info: Option<String>,
}

thread_local! {
    static RUN: Cell<*mut ()> = const { Cell::new(std::ptr::null_mut()) };
}

/// Make `run` the running script's context (the functions engine's calls, as `Engine::run`
/// does); null when it ends.
pub(super) fn set_current_run(run: *mut ()) {
    RUN.with(|c| c.set(run));
}

/// The running script's context, if a script runs on this thread.
///
/// # Safety
/// The pointer is set by `Engine::run` for the duration of the script, from a `&mut Run`
/// that is not otherwise used meanwhile; callers must not keep the reference past their call.
unsafe fn current_run<'a>() -> Option<&'a mut Run<'a>> {
    let p = RUN.with(|c| c.get());
    if p.is_null() {
        None
    } else {
        Some(&mut *(p as *mut Run<'a>))
    }
}

pub(super) unsafe fn push_global(l: L, name: &std::ffi::CStr) {
    ffi::lua_pushstring_(l, name.as_ptr());
    ffi::lua_rawget_(l, ffi::LUA_GLOBALSINDEX);
}

/// Set the global `name` (KEYS or ARGV) to an array of `items`. The table is the same from run
/// to run (kept in the registry at `slot`), emptied first, metatable included: a script can
/// keep no reference to it past its run (the globals and libraries are read-only), so no
/// script can tell, and a run makes no garbage for the collector to find.
unsafe fn set_array_global(l: L, name: &std::ffi::CStr, slot: c_int, items: &[Bytes]) {
    ffi::lua_pushstring_(l, name.as_ptr());
    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, slot);
    // A table a script filled with many entries is replaced rather than kept at its size.
    if clear_table(l) > 64 {
        ffi::lua_settop(l, -2);
        ffi::lua_createtable(l, items.len() as c_int, 0);
        ffi::lua_pushvalue(l, -1);
        ffi::lua_rawseti_(l, ffi::LUA_REGISTRYINDEX, slot);
    }
    for (i, it) in items.iter().enumerate() {
        push_bytes(l, it);
        ffi::lua_rawseti_(l, -2, i as c_int + 1);
    }
    ffi::lua_rawset(l, ffi::LUA_GLOBALSINDEX);
}

/// Empty the table on top of the stack: every field (clearing fields while traversing is
/// allowed in Lua) and its metatable. Returns how many fields it had.
unsafe fn clear_table(l: L) -> usize {
    ffi::lua_pushnil(l);
    ffi::lua_setmetatable(l, -2);
    let mut n = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_settop(l, -2); // the value
        ffi::lua_pushvalue(l, -1); // the key
        ffi::lua_pushnil(l);
        ffi::lua_rawset(l, -4);
        n += 1;
    }
    n
}

/// Redis's `luaMaskCountHook`: past `busy-reply-threshold` the script is reported as slow
/// (and other clients get -BUSY where they can be served meanwhile); once SCRIPT KILL asked,
/// the script is stopped with Redis's error, raised on every line from then on so that a
/// `pcall` in the script cannot keep it running.
pub(super) unsafe extern "C-unwind" fn count_hook(l: L, _ar: *mut ffi::lua_Debug) {
    let kill = {
        let Some(run) = current_run() else {
            return;
        };
        if !run.timed_out {
            let elapsed = tokio::time::Instant::now()
                .saturating_duration_since(run.started)
                .as_millis() as i64;
            if elapsed >= run.threshold_ms {
                run.timed_out = true;
                run.watch.set_busy();
                let kill = if run.watch.is_eval() {
                    "SCRIPT KILL"
                } else {
                    "FUNCTION KILL"
                };
                tracing::warn!(
                    "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {kill} command. Script name is: {}.",
                    run.sha
                );
                hand_off_runtime(&run.watch);
            }
        }
        run.watch.kill_requested()
    };
    if kill {
        let run = current_run();
        if run.is_some_and(|r| r.watch.shutdown_requested()) {
            tracing::warn!("Lua script stopped by SHUTDOWN NOSAVE.");
        } else {
            tracing::warn!("Lua script killed by user with SCRIPT KILL.");
        }
        ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKLINE, 0);
        push_error(l, b"Script killed by user with SCRIPT KILL...");
        ffi::lua_error(l);
    }
}

/// Once a script is past `busy-reply-threshold`, give this thread's runtime worker (its
/// queued tasks and the I/O driver) to another thread, so that connections answer -BUSY,
/// SCRIPT KILL and SHUTDOWN NOSAVE while the script goes on here. Done only for slow
/// scripts: a hand-off costs a thread wake-up, far more than a short script.
///
/// `block_in_place` moves the worker's core to a new thread; its closure waits until a task
/// ran elsewhere (a probe task, or a task that must wait for the server lock: see
/// `ScriptWatch::wait_hand_off`), so that when it returns the core is held by that thread
/// and cannot be reclaimed here. This thread then finishes the script, and the connection
/// task it belongs to, without a core (tokio's documented behaviour: the thread then leaves
/// the worker pool). Not on a current-thread runtime (the simulation), where there is no
/// other thread to hand to.
fn hand_off_runtime(watch: &std::sync::Arc<crate::scripts::ScriptWatch>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return;
    }
    watch.begin_hand_off();
    let probe = watch.clone();
    tokio::task::block_in_place(|| {
        handle.spawn(async move { probe.note_core_moved() });
        // At most about a second: a pool too busy to start the thread leaves the core here.
        for _ in 0..5_000 {
            if watch.core_moved() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    });
    watch.end_hand_off();
}

// ------------------------------------------------------------------------- setup

pub(super) unsafe fn setup(l: L) {
    // Keep only the globals Redis keeps.
    let mut remove: Vec<Vec<u8>> = Vec::new();
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, ffi::LUA_GLOBALSINDEX) != 0 {
        ffi::lua_settop(l, -2);
        if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
            let k = to_bytes(l, -1).unwrap_or_default();
            if !ALLOWED_GLOBALS.iter().any(|a| a.as_bytes() == k) {
                remove.push(k.to_vec());
            }
        }
    }
    for k in &remove {
        push_bytes(l, k);
        ffi::lua_pushnil(l);
        ffi::lua_rawset(l, ffi::LUA_GLOBALSINDEX);
    }
    drop(remove);

    super::bit::open(l);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"bit".as_ptr());
    super::cjson::open(l);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"cjson".as_ptr());
    super::cmsgpack::open(l);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"cmsgpack".as_ptr());
    super::structlib::open(l);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"struct".as_ptr());

    ffi::lua_pushcfunction(l, lua_pcall_compat);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"pcall".as_ptr());

    // The redis table.
    ffi::lua_createtable(l, 0, 24);
    set_field_fn(l, c"call", redis_call);
    set_field_fn(l, c"pcall", redis_pcall);
    set_field_fn(l, c"log", redis_log);
    set_field_number(l, c"LOG_DEBUG", 0.0);
    set_field_number(l, c"LOG_VERBOSE", 1.0);
    set_field_number(l, c"LOG_NOTICE", 2.0);
    set_field_number(l, c"LOG_WARNING", 3.0);
    set_field_number(l, c"REDIS_VERSION_NUM", redis_version_num() as f64);
    set_field_bytes(l, c"REDIS_VERSION", crate::REDIS_VERSION.as_bytes());
    set_field_fn(l, c"setresp", redis_setresp);
    set_field_fn(l, c"sha1hex", redis_sha1hex);
    set_field_fn(l, c"error_reply", redis_error_reply);
    set_field_fn(l, c"status_reply", redis_status_reply);
    set_field_fn(l, c"set_repl", redis_set_repl);
    // Redis's PROPAGATE_AOF = 1, PROPAGATE_REPL = 2.
    set_field_number(l, c"REPL_NONE", 0.0);
    set_field_number(l, c"REPL_AOF", 1.0);
    set_field_number(l, c"REPL_SLAVE", 2.0);
    set_field_number(l, c"REPL_REPLICA", 2.0);
    set_field_number(l, c"REPL_ALL", 3.0);
    set_field_fn(l, c"acl_check_cmd", redis_acl_check_cmd);
    set_field_fn(l, c"replicate_commands", redis_replicate_commands);
    set_field_fn(l, c"breakpoint", redis_breakpoint);
    set_field_fn(l, c"debug", redis_debug);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"redis".as_ptr());

    // math.random and math.randomseed on Redis's rand48.
    ffi::lua_getfield_(l, ffi::LUA_GLOBALSINDEX, c"math".as_ptr());
    set_field_fn(l, c"random", math_random);
    set_field_fn(l, c"randomseed", math_randomseed);
    ffi::lua_settop(l, -2);

    // The prelude: error handler, protection; it returns the restore function and the set
    // of protected tables.
    if ffi::luaL_loadbuffer(
        l,
        PRELUDE.as_ptr() as *const _,
        PRELUDE.len(),
        c"=picket".as_ptr(),
    ) != 0
    {
        ffi::lua_error(l);
    }
    // rawset and setmetatable that refuse the protected tables, as on Redis's read-only
    // tables: the prelude installs them (keeping the originals for itself).
    ffi::lua_pushcfunction(l, lua_rawset_protected);
    ffi::lua_pushcfunction(l, lua_setmetatable_protected);
    ffi::lua_pushcfunction(l, lua_next_proxied);
    ffi::lua_pushcfunction(l, lua_pairs_proxied);
    ffi::lua_call(l, 4, 6);
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_env".as_ptr());
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_proxies".as_ptr());
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_protected".as_ptr());
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_metas".as_ptr());
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_saved".as_ptr());
    // loadstring and load give what they compile the scripts' environment; rawget sees
    // through the proxies (rawget(_G, 'KEYS') is the table, as in Redis).
    for name in [c"loadstring", c"load"] {
        ffi::lua_getfield_(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
        ffi::lua_pushcclosure(l, lua_load_in_env, 1);
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
    }
    ffi::lua_pushcfunction(l, lua_rawget_proxied);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"rawget".as_ptr());
    // What the debug builds' check compares with: the tables as they are now.
    ffi::lua_call(l, 0, 0);
}

/// Give the function at the top of the stack the scripts' environment (the read-only proxy
/// of the globals).
unsafe fn set_script_env(l: L) {
    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_env".as_ptr());
    ffi::lua_setfenv(l, -2);
}

/// `loadstring`/`load` (the original is the upvalue): what they compile runs with the
/// scripts' environment, so a loaded chunk cannot write the globals either.
unsafe extern "C-unwind" fn lua_load_in_env(l: L) -> c_int {
    let n = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, ffi::LUA_MULTRET);
    if ffi::lua_type(l, 1) == ffi::LUA_TFUNCTION {
        ffi::lua_pushvalue(l, 1);
        set_script_env(l);
        ffi::lua_settop(l, -2);
    }
    ffi::lua_gettop(l)
}

/// Lua's `rawget`, seeing through the proxies.
unsafe extern "C-unwind" fn lua_rawget_proxied(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(l, 2);
    ffi::lua_settop(l, 2);
    unproxy(l, 1);
    ffi::lua_rawget_(l, 1);
    1
}

/// Whether the key at `idx` is KEYS or ARGV, which each run sets.
unsafe fn is_call_global(l: L, idx: c_int) -> bool {
    ffi::lua_type(l, idx) == ffi::LUA_TSTRING && matches!(to_bytes(l, idx), Some(b"KEYS" | b"ARGV"))
}

/// Undo a script's changes to the protected tables (the prelude's `saved`: each table with
/// the copy of its fields taken at start, and `metas`: its metatable then): fields the script
/// added are removed, changed or removed ones put back, a changed metatable restored; returns
/// how many it undid. Scripts cannot reach these tables for writing (the proxies), so this is
/// a check, run in debug builds only, with `lua_pcall` (restoring a field may allocate).
pub(super) unsafe extern "C-unwind" fn restore(l: L) -> c_int {
    let mut fixed = 0;
    ffi::lua_settop(l, 0);
    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_saved".as_ptr()); // 1
    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_metas".as_ptr()); // 2
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, 1) != 0 {
        // 3 = the table, 4 = its copy.
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, 3) != 0 {
            // 5 = key, 6 = value: drop fields the copy does not have (clearing a field is
            // allowed while traversing).
            ffi::lua_settop(l, 5);
            if is_call_global(l, 5) {
                continue;
            }
            ffi::lua_pushvalue(l, 5);
            ffi::lua_rawget_(l, 4);
            let added = ffi::lua_type(l, -1) == ffi::LUA_TNIL;
            ffi::lua_settop(l, 5);
            if added {
                fixed += 1;
                ffi::lua_pushvalue(l, 5);
                ffi::lua_pushnil(l);
                ffi::lua_rawset(l, 3);
            }
        }
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, 4) != 0 {
            // 5 = key, 6 = saved value.
            ffi::lua_pushvalue(l, 5);
            ffi::lua_rawget_(l, 3); // 7 = the value now
            let same = ffi::lua_rawequal(l, 6, 7) != 0;
            ffi::lua_settop(l, 6);
            if !same {
                fixed += 1;
                ffi::lua_pushvalue(l, 5);
                ffi::lua_pushvalue(l, 6);
                ffi::lua_rawset(l, 3);
            }
            ffi::lua_settop(l, 5);
        }
        // The metatable.
        ffi::lua_pushvalue(l, 3);
        ffi::lua_rawget_(l, 2); // 5 = the saved metatable (or nil)
        if ffi::lua_getmetatable(l, 3) == 0 {
            ffi::lua_pushnil(l);
        } // 6 = the metatable now
        if ffi::lua_rawequal(l, 5, 6) == 0 {
            fixed += 1;
            ffi::lua_pushvalue(l, 5);
            ffi::lua_setmetatable(l, 3);
        }
        ffi::lua_settop(l, 3); // the key for the next lua_next
    }
    ffi::lua_settop(l, 0);
    ffi::lua_pushinteger(l, fixed);
    1
}

fn redis_version_num() -> u32 {
    let mut parts = crate::REDIS_VERSION
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) | (b << 8) | c
}

/// Whether the table at `idx` is one of the protected ones (the globals, the libraries).
unsafe fn is_protected(l: L, idx: c_int) -> bool {
    ffi::lua_pushvalue(l, idx);
    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_protected".as_ptr());
    if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
        // (During the prelude, before there is a set.)
        ffi::lua_settop(l, -3);
        return false;
    }
    ffi::lua_insert(l, -2);
    ffi::lua_rawget_(l, -2);
    let p = ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_settop(l, -3);
    p
}

/// Replace the table at `idx` by the library it stands for if it is a proxy.
unsafe fn unproxy(l: L, idx: c_int) {
    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_proxies".as_ptr());
    if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
        ffi::lua_settop(l, -2);
        return;
    }
    ffi::lua_pushvalue(l, idx);
    ffi::lua_rawget_(l, -2);
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        ffi::lua_replace(l, idx);
        ffi::lua_settop(l, -2);
    } else {
        ffi::lua_settop(l, -3);
    }
}

/// Lua's `next`, seeing through the library proxies (so `pairs(string)` lists `string`'s
/// functions, as in Redis).
unsafe extern "C-unwind" fn lua_next_proxied(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::lua_settop(l, 2);
    unproxy(l, 1);
    if ffi::lua_next(l, 1) != 0 {
        2
    } else {
        ffi::lua_pushnil(l);
        1
    }
}

/// Lua's `pairs`, with the `next` above.
unsafe extern "C-unwind" fn lua_pairs_proxied(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::lua_settop(l, 1);
    ffi::lua_pushcfunction(l, lua_next_proxied);
    ffi::lua_insert(l, 1);
    ffi::lua_pushnil(l);
    3
}

/// Raise Redis's read-only table error (a string without position, as Lua's VM raises it
/// from inside a C function).
unsafe fn raise_readonly(l: L) -> ! {
    push_bytes(l, b"Attempt to modify a readonly table");
    ffi::lua_error(l)
}

/// Lua's `rawset`, refusing the protected tables.
unsafe extern "C-unwind" fn lua_rawset_protected(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(l, 2);
    ffi::luaL_checkany(l, 3);
    if is_protected(l, 1) {
        raise_readonly(l);
    }
    ffi::lua_settop(l, 3);
    ffi::lua_rawset(l, 1);
    1
}

/// Lua's `setmetatable`, refusing the protected tables.
unsafe extern "C-unwind" fn lua_setmetatable_protected(l: L) -> c_int {
    let t = ffi::lua_type(l, 2);
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    if t != ffi::LUA_TNIL && t != ffi::LUA_TTABLE {
        ffi::luaL_argerror(l, 2, c"nil or table expected".as_ptr());
    }
    if is_protected(l, 1) {
        raise_readonly(l);
    }
    if ffi::luaL_getmetafield_(l, 1, c"__metatable".as_ptr()) != 0 {
        ffi::luaL_error(l, c"cannot change a protected metatable".as_ptr());
    }
    ffi::lua_settop(l, 2);
    ffi::lua_setmetatable(l, 1);
    1
}

// ------------------------------------------------------------------- redis.* functions

/// Redis's `luaRedisPcall`: Lua's pcall, but an error table's `err` field is returned
/// instead of the table.
unsafe extern "C-unwind" fn lua_pcall_compat(l: L) -> c_int {
    let argc = ffi::lua_gettop(l);
    ffi::lua_pushboolean(l, 1);
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
        ffi::lua_remove(l, 1);
        if ffi::lua_istable(l, -1) != 0 {
            ffi::lua_getfield_(l, -1, c"err".as_ptr());
            if ffi::lua_isstring(l, -1) != 0 {
                ffi::lua_replace(l, -2);
            } else {
                ffi::lua_settop(l, -2);
            }
        }
        ffi::lua_pushboolean(l, 0);
        ffi::lua_insert(l, 1);
    }
    ffi::lua_gettop(l)
}

unsafe extern "C-unwind" fn redis_call(l: L) -> c_int {
    generic_command(l, true)
}

unsafe extern "C-unwind" fn redis_pcall(l: L) -> c_int {
    generic_command(l, false)
}

/// What `redis.call`/`redis.pcall` does once the arguments are read.
enum CallOutcome {
    /// An error table is on the stack: raise it (call) or return it (pcall).
    Error,
    /// The converted reply is on the stack; `true` when it is an error (raised by call).
    Reply(bool),
}

unsafe fn generic_command(l: L, raise: bool) -> c_int {
    let outcome = generic_command_inner(l);
    match outcome {
        CallOutcome::Error => {
            if raise {
                ffi::lua_error(l)
            }
            1
        }
        CallOutcome::Reply(is_err) => {
            if raise && is_err {
                ffi::lua_error(l)
            }
            1
        }
    }
}

unsafe fn generic_command_inner(l: L) -> CallOutcome {
    let Some(run) = current_run() else {
        push_error(
            l,
            b"redis.call/pcall can only be called inside a script invocation",
        );
        return CallOutcome::Error;
    };
    let argc = ffi::lua_gettop(l);
    if argc == 0 {
        push_error(
            l,
            b"Please specify at least one argument for this redis lib call",
        );
        return CallOutcome::Error;
    }
    // The arguments are copied out of Lua into one buffer of this thread, reused from call to
    // call (its storage comes back once the previous call's arguments are dropped), and the
    // reply is written to another: a call allocates nothing in the steady state.
    let (mut args, mut argbuf, reply_buf) = SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        (
            std::mem::take(&mut s.args),
            std::mem::take(&mut s.argbuf),
            std::mem::take(&mut s.reply),
        )
    });
    let mut ok = true;
    for i in 1..=argc {
        if ffi::lua_type(l, i) == ffi::LUA_TNUMBER {
            let n = ffi::lua_tonumber(l, i);
            argbuf.extend_from_slice(picket_common::resp::reply::format_g(n, 17).as_bytes());
        } else {
            match to_bytes(l, i) {
                Some(b) => argbuf.extend_from_slice(b),
                None => {
                    ok = false;
                    break;
                }
            }
        }
        args.push(argbuf.split().freeze());
    }
    ffi::lua_settop(l, 0);
    if !ok {
        give_back_scratch(args, argbuf, reply_buf);
        push_error(
            l,
            b"Lua redis lib command arguments must be strings or integers",
        );
        return CallOutcome::Error;
    }
    let mut reply_buf = Some(reply_buf);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let buf = reply_buf.take().unwrap_or_default();
        super::call_from_script(run, &args, buf)
    }));
    args.clear();
    match result {
        Ok(Err((err, buf))) => {
            give_back_scratch(args, argbuf, buf);
            push_error(l, err.as_bytes());
            drop(err);
            ffi::lua_pushboolean(l, 1);
            ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
            CallOutcome::Error
        }
        Ok(Ok(reply)) => {
            let is_err = reply.first() == Some(&b'-');
            // Copies the reply into Lua strings (Lua memory errors are raised through
            // mlua's protected call, which drops nothing of ours: the buffers are back).
            give_back_scratch(args, argbuf, BytesMut::new());
            super::convert::reply_to_lua(l, &reply);
            SCRATCH.with(|s| s.borrow_mut().reply = reply);
            CallOutcome::Reply(is_err)
        }
        Err(_) => {
            give_back_scratch(args, argbuf, BytesMut::new());
            push_error(
                l,
                b"ERR internal error running the command (see the server log)",
            );
            CallOutcome::Error
        }
    }
}

/// The buffers `redis.call` reuses from call to call on a thread.
#[derive(Default)]
struct Scratch {
    args: Vec<Bytes>,
    argbuf: BytesMut,
    reply: BytesMut,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn give_back_scratch(mut args: Vec<Bytes>, argbuf: BytesMut, mut reply: BytesMut) {
    args.clear();
    reply.clear();
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        s.args = args;
        s.argbuf = argbuf;
        if reply.capacity() > s.reply.capacity() {
            s.reply = reply;
        }
    });
}

/// Push `{err=msg}` and raise it (Redis's `luaPushError` + `luaError`).
unsafe fn raise_error(l: L, msg: &[u8]) -> ! {
    push_error(l, msg);
    ffi::lua_error(l)
}

unsafe extern "C-unwind" fn redis_sha1hex(l: L) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        raise_error(l, b"wrong number of arguments");
    }
    let hex = {
        let s = to_bytes(l, 1).unwrap_or_default();
        super::sha1hex(s)
    };
    push_bytes(l, hex.as_bytes());
    drop(hex);
    1
}

unsafe fn single_string_arg(l: L) -> bool {
    ffi::lua_gettop(l) == 1 && ffi::lua_type(l, -1) == ffi::LUA_TSTRING
}

unsafe extern "C-unwind" fn redis_error_reply(l: L) -> c_int {
    if !single_string_arg(l) {
        push_error(l, b"wrong number or type of arguments");
        return 1;
    }
    let msg = {
        let s = to_bytes(l, -1).unwrap_or_default();
        // (C strings: the text stops at a NUL.)
        let s = &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())];
        let mut m = Vec::with_capacity(s.len() + 1);
        if s.first() != Some(&b'-') {
            m.push(b'-');
        }
        m.extend_from_slice(s);
        m
    };
    push_error(l, &msg);
    drop(msg);
    1
}

unsafe extern "C-unwind" fn redis_status_reply(l: L) -> c_int {
    if !single_string_arg(l) {
        push_error(l, b"wrong number or type of arguments");
        return 1;
    }
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushstring_(l, c"ok".as_ptr());
    ffi::lua_pushvalue(l, -3);
    ffi::lua_settable(l, -3);
    1
}

unsafe extern "C-unwind" fn redis_log(l: L) -> c_int {
    let argc = ffi::lua_gettop(l);
    if argc < 2 {
        raise_error(l, b"redis.log() requires two arguments or more.");
    }
    if ffi::lua_isnumber(l, 1) == 0 {
        raise_error(l, b"First argument must be a number (log level).");
    }
    let level = ffi::lua_tonumber(l, 1) as i64;
    if !(0..=3).contains(&level) {
        raise_error(l, b"Invalid debug level.");
    }
    {
        let mut msg: Vec<u8> = Vec::new();
        for j in 2..=argc {
            if let Some(s) = to_bytes(l, j) {
                if j != 2 {
                    msg.push(b' ');
                }
                msg.extend_from_slice(s);
            }
        }
        let text = String::from_utf8_lossy(&msg);
        match level {
            0 => tracing::trace!("{text}"),
            1 => tracing::debug!("{text}"),
            2 => tracing::info!("{text}"),
            _ => tracing::warn!("{text}"),
        }
    }
    0
}

unsafe extern "C-unwind" fn redis_setresp(l: L) -> c_int {
    let Some(run) = current_run() else {
        raise_error(
            l,
            b"redis.setresp can only be called inside a script invocation",
        );
    };
    if ffi::lua_gettop(l) != 1 {
        raise_error(l, b"redis.setresp() requires one argument.");
    }
    let resp = ffi::lua_tonumber(l, 1) as i64;
    run.client.proto = match resp {
        2 => picket_common::resp::Proto::Resp2,
        3 => picket_common::resp::Proto::Resp3,
        _ => raise_error(l, b"RESP version must be 2 or 3."),
    };
    0
}

unsafe extern "C-unwind" fn redis_set_repl(l: L) -> c_int {
    let Some(run) = current_run() else {
        raise_error(
            l,
            b"redis.set_repl can only be called inside a script invocation",
        );
    };
    if ffi::lua_gettop(l) != 1 {
        raise_error(l, b"redis.set_repl() requires two arguments.");
    }
    let flags = ffi::lua_tonumber(l, -1) as i64 as i32;
    if flags & !3 != 0 {
        raise_error(
            l,
            b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        );
    }
    use crate::propagate::target;
    let mut mask = 0;
    if flags & 1 != 0 {
        mask |= target::AOF;
    }
    if flags & 2 != 0 {
        mask |= target::REPL;
    }
    run.repl = mask;
    0
}

/// Picket has only the default user, allowed every command: a known command is allowed.
unsafe extern "C-unwind" fn redis_acl_check_cmd(l: L) -> c_int {
    if current_run().is_none() {
        raise_error(
            l,
            b"redis.acl_check_cmd can only be called inside a script invocation",
        );
    }
    let argc = ffi::lua_gettop(l);
    if argc == 0 {
        raise_error(
            l,
            b"Please specify at least one argument for this redis lib call",
        );
    }
    let known = {
        let mut args = Vec::with_capacity(argc as usize);
        let mut ok = true;
        for i in 1..=argc {
            if ffi::lua_type(l, i) == ffi::LUA_TNUMBER {
                args.push(Bytes::from(picket_common::resp::reply::format_g(
                    ffi::lua_tonumber(l, i),
                    17,
                )));
            } else if let Some(b) = to_bytes(l, i) {
                args.push(Bytes::copy_from_slice(b));
            } else {
                ok = false;
                break;
            }
        }
        if !ok {
            None
        } else {
            Some(
                crate::command::resolve(&args)
                    .is_ok_and(|spec| spec.arity_ok(args.len()) || spec.arity < 0),
            )
        }
    };
    match known {
        None => raise_error(
            l,
            b"Lua redis lib command arguments must be strings or integers",
        ),
        Some(false) => raise_error(l, b"Invalid command passed to redis.acl_check_cmd()"),
        Some(true) => {
            ffi::lua_settop(l, 0);
            ffi::lua_pushboolean(l, 1);
            1
        }
    }
}

unsafe extern "C-unwind" fn redis_replicate_commands(l: L) -> c_int {
    ffi::lua_pushboolean(l, 1);
    1
}

/// No debugger (SCRIPT DEBUG is not offered): as Redis without an active debugging session.
unsafe extern "C-unwind" fn redis_breakpoint(l: L) -> c_int {
    ffi::lua_pushboolean(l, 0);
    1
}

unsafe extern "C-unwind" fn redis_debug(_l: L) -> c_int {
    0
}

// ----------------------------------------------------------------------- math.random

thread_local! {
    /// Redis's rand48 state (`rand.c`), shared by every script of the process as Redis's is.
    static RAND48: Cell<u64> = const { Cell::new(0x1234_ABCD_330E) };
}

/// `redisLrand48`: the next 31-bit value of the 48-bit linear congruential generator.
pub fn lrand48() -> i32 {
    RAND48.with(|x| {
        let next = (0x5_DEEC_E66Du64.wrapping_mul(x.get()).wrapping_add(0xB)) & 0xFFFF_FFFF_FFFF;
        x.set(next);
        (next >> 17) as i32
    })
}

/// `redisSrand48`.
pub fn srand48(seed: i32) {
    RAND48.with(|x| x.set(((seed as u32 as u64) << 16) | 0x330E));
}

const LRAND48_MAX: i32 = i32::MAX;

unsafe extern "C-unwind" fn math_random(l: L) -> c_int {
    if current_run().is_none() {
        super::ffi::raise_positioned(
            l,
            b"math.random can only be called inside a script invocation".to_vec(),
        );
    }
    let r = (lrand48() % LRAND48_MAX) as f64 / LRAND48_MAX as f64;
    match ffi::lua_gettop(l) {
        0 => ffi::lua_pushnumber(l, r),
        1 => {
            let u = ffi::luaL_checkinteger(l, 1) as i32;
            if u < 1 {
                ffi::luaL_argerror(l, 1, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(l, (r * u as f64).floor() + 1.0);
        }
        2 => {
            let lo = ffi::luaL_checkinteger(l, 1) as i32;
            let u = ffi::luaL_checkinteger(l, 2) as i32;
            if lo > u {
                ffi::luaL_argerror(l, 2, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(l, (r * (u as f64 - lo as f64 + 1.0)).floor() + lo as f64);
        }
        _ => super::ffi::raise_positioned(l, b"wrong number of arguments".to_vec()),
    }
    1
}

unsafe extern "C-unwind" fn math_randomseed(l: L) -> c_int {
    if current_run().is_none() {
        super::ffi::raise_positioned(
            l,
            b"math.randomseed can only be called inside a script invocation".to_vec(),
        );
    }
    srand48(ffi::luaL_checkinteger(l, 1) as i32);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand48_is_redis_s() {
        // Redis's sequence from its initial state: the first value of math.random() in a
        // fresh redis-server is 0.17082803611217 (truncated to 0 as a reply).
        RAND48.with(|x| x.set(0x1234_ABCD_330E));
        let r = lrand48() as f64 / i32::MAX as f64;
        assert!((0.0..1.0).contains(&r));
        srand48(0);
        let a = lrand48();
        srand48(0);
        assert_eq!(lrand48(), a);
    }
}
