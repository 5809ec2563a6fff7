//! The Lua engine of FUNCTION and FCALL (Redis 7.0's `function_lua.c`): an interpreter of its
//! own (one per server, apart from EVAL's), with the same libraries, `redis` table and global
//! protection as EVAL's (`engine::setup`), where
//! - a library's code runs once (FUNCTION LOAD, the RDB, FUNCTION RESTORE) in Redis's load
//!   sandbox: the only global it sees is a `redis` table with `register_function`, `log`, the
//!   log levels and the version; creating a global, or reading another, is an error; the run
//!   stops after `timeout` ms with Redis's "FUNCTION LOAD timeout";
//! - the functions it registered run with the keys and arguments as their two arguments (no
//!   KEYS/ARGV), seeing the globals EVAL's scripts see (and none they could create).
//!
//! The functions a library registered are kept in the registry under the library's id. The
//! interpreter is the server's (in its `functions` state part, not per thread as EVAL's), so a
//! library's own upvalues persist from call to call as in Redis. An engine built anew (after
//! a function broke its globals) runs a library's code again when one of its functions is
//! first called.

use std::cell::RefCell;
use std::collections::HashSet;
use std::os::raw::c_int;

use bytes::Bytes;
use mlua::ffi;
use mlua::{Lua, LuaOptions, StdLib};

use super::engine::{count_hook, push_global, set_current_run, Run};
use super::ffi::{push_bytes, push_error, to_bytes, L};
use crate::functions::{EngineState, FunctionInfo, Library, NAME_ERROR};
use crate::scripts::sflags;

/// Built once per engine, after `engine::setup`: the load sandbox's globals and `redis`
/// table, and the table the functions' code runs in (its reads reach the real globals, its
/// writes fail). Returns the functions' globals, their metatable, the load sandbox, and the
/// error handler for C functions registered as callbacks.
const FN_PRELUDE: &str = r#"
local register_function = ...
local G = _G
local error, tostring, setmetatable, type = error, tostring, setmetatable, type
local function readonly()
  error('Attempt to modify a readonly table', 2)
end
local function nonexistent(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
-- A read-only view of `t` (an empty proxy: assigning even an existing key reaches
-- __newindex) whose missing keys are errors.
local function sealed(t)
  setmetatable(t, {__index = nonexistent, __metatable = false})
  return setmetatable({}, {__index = t, __newindex = readonly, __metatable = false})
end
local real = G.redis
local lib_redis = sealed({
  register_function = register_function,
  log = real.log,
  LOG_DEBUG = real.LOG_DEBUG,
  LOG_VERBOSE = real.LOG_VERBOSE,
  LOG_NOTICE = real.LOG_NOTICE,
  LOG_WARNING = real.LOG_WARNING,
  REDIS_VERSION_NUM = real.REDIS_VERSION_NUM,
  REDIS_VERSION = real.REDIS_VERSION,
})
local lib_api = sealed({redis = lib_redis})
local fg_mt = {__index = G, __newindex = readonly, __metatable = false}
local fg = setmetatable({}, fg_mt)
local function positionless_handler(err)
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  return err
end
return fg, fg_mt, lib_api, positionless_handler
"#;

/// The functions engine of a server (kept in its `functions.engine`).
pub struct FnEngine {
    lua: Lua,
    memory_limit: u64,
    /// Libraries whose code ran here (their functions are in `picket_fn_libs`).
    loaded: HashSet<u64>,
    /// The `Functions::generation` last seen: when it moves, libraries gone are dropped.
    generation: u64,
    runs: u32,
    broken: bool,
}

/// The engine as the state part holds it.
struct Held(FnEngine);

// SAFETY: `Lua` is not `Send` only because of its non-atomic reference counts; the engine
// holds the only handle to its state (no mlua value is kept beyond a call), and it is only
// reached through `&mut Server`, under the server lock, so it is used by one thread at a
// time with the lock's ordering between them.
unsafe impl Send for Held {}

thread_local! {
    /// The library being loaded: the functions registered so far, and the time limit.
    static LOADING: RefCell<Option<LoadCtx>> = const { RefCell::new(None) };
}

struct LoadCtx {
    functions: Vec<FunctionInfo>,
    started: tokio::time::Instant,
    timeout_ms: u64,
}

/// The server's functions engine (built on first use).
pub fn engine(slot: &mut EngineState, memory_limit: u64) -> Result<&mut FnEngine, String> {
    let missing = slot.0.as_ref().is_none_or(|b| !b.is::<Held>());
    if missing {
        let e = FnEngine::new(memory_limit).map_err(|e| e.to_string())?;
        slot.0 = Some(Box::new(Held(e)));
    }
    let held = slot
        .0
        .as_mut()
        .and_then(|b| b.downcast_mut::<Held>())
        .expect("engine just built");
    let e = &mut held.0;
    if e.memory_limit != memory_limit {
        let _ = e.lua.set_memory_limit(memory_limit as usize);
        e.memory_limit = memory_limit;
    }
    Ok(e)
}

/// Bytes held by the functions heap (0 before the first library).
pub fn memory(slot: &EngineState) -> usize {
    slot.0
        .as_ref()
        .and_then(|b| b.downcast_ref::<Held>())
        .map_or(0, |h| h.0.lua.used_memory())
}

/// The engine's `create` for the functions state part.
pub fn create(
    slot: &mut EngineState,
    id: u64,
    code: &[u8],
    timeout_ms: u64,
    memory_limit: u64,
) -> Result<Vec<FunctionInfo>, String> {
    engine(slot, memory_limit)?.load(id, code, timeout_ms)
}

impl FnEngine {
    fn new(memory_limit: u64) -> mlua::Result<FnEngine> {
        // SAFETY: as `Engine::new`: the debug library is there for the prelude only.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::new(),
            )
        };
        // SAFETY: raw API calls on the state mlua created, balanced on the stack.
        unsafe {
            lua.exec_raw::<()>((), |l| {
                super::engine::setup(l);
                fn_setup(l);
            })
        }?;
        if memory_limit > 0 {
            let _ = lua.set_memory_limit(memory_limit as usize);
        }
        Ok(FnEngine {
            lua,
            memory_limit,
            loaded: HashSet::new(),
            generation: u64::MAX,
            runs: 0,
            broken: false,
        })
    }

    /// Run a library's code (starting at its shebang's newline) for library `id`: Redis's
    /// `luaEngineCreate`. The functions it registered, or the reply's error text.
    pub fn load(
        &mut self,
        id: u64,
        code: &[u8],
        timeout_ms: u64,
    ) -> Result<Vec<FunctionInfo>, String> {
        LOADING.with(|c| {
            *c.borrow_mut() = Some(LoadCtx {
                functions: Vec::new(),
                started: tokio::time::Instant::now(),
                timeout_ms,
            })
        });
        let mut result: Result<(), String> = Ok(());
        // SAFETY: balanced raw calls; errors raised inside are caught by lua_pcall (or by
        // mlua's protected call around the whole, for memory errors).
        let r = unsafe {
            self.lua.exec_raw::<()>((), |l| {
                // A fresh table for the callbacks, and the sandbox as the globals' fallback.
                ffi::lua_newtable(l);
                ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_loading".as_ptr());
                set_fallback(l, c"picket_fn_lib_api");
                let rc = ffi::luaL_loadbuffer(
                    l,
                    code.as_ptr() as *const _,
                    code.len(),
                    c"@user_function".as_ptr(),
                );
                if rc != 0 {
                    let msg = to_bytes(l, -1).unwrap_or(b"unknown error");
                    result = Err(format!(
                        "Error compiling function: {}",
                        String::from_utf8_lossy(msg)
                    ));
                    ffi::lua_settop(l, -2);
                } else {
                    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_globals".as_ptr());
                    ffi::lua_setfenv(l, -2);
                    ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKCOUNT, 100_000);
                    let err = ffi::lua_pcall(l, 0, 0, 0);
                    ffi::lua_sethook(l, None, 0, 0);
                    if err != 0 {
                        let msg = error_info(l);
                        result = Err(format!(
                            "Error registering functions: {}",
                            String::from_utf8_lossy(&msg)
                        ));
                        ffi::lua_settop(l, -2);
                    }
                }
                set_fallback(l, c"picket_fn_real_globals");
                if result.is_ok() {
                    // picket_fn_libs[id] = picket_fn_loading
                    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_libs".as_ptr());
                    ffi::lua_pushnumber(l, id as f64);
                    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_loading".as_ptr());
                    ffi::lua_rawset(l, -3);
                    ffi::lua_settop(l, -2);
                }
                ffi::lua_pushnil(l);
                ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_loading".as_ptr());
            })
        };
        let functions = LOADING
            .with(|c| c.borrow_mut().take())
            .map(|c| c.functions)
            .unwrap_or_default();
        if let Err(e) = r {
            // (mlua's protected call failed: no memory even for the error.)
            return Err(format!("Error registering functions: ERR {e}"));
        }
        result?;
        self.loaded.insert(id);
        Ok(functions)
    }

    /// Forget the libraries that are gone (when the state's generation moved).
    /// `ids` gives the ids of the libraries there are now (asked only when it moved).
    pub fn sync(&mut self, generation: u64, ids: impl FnOnce() -> HashSet<u64>) {
        if self.generation == generation {
            return;
        }
        self.generation = generation;
        let ids = ids();
        let gone: Vec<u64> = self
            .loaded
            .iter()
            .copied()
            .filter(|i| !ids.contains(i))
            .collect();
        if gone.is_empty() {
            return;
        }
        // SAFETY: balanced raw calls.
        let _ = unsafe {
            self.lua.exec_raw::<()>((), |l| {
                ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_libs".as_ptr());
                for id in &gone {
                    ffi::lua_pushnumber(l, *id as f64);
                    ffi::lua_pushnil(l);
                    ffi::lua_rawset(l, -3);
                }
                ffi::lua_settop(l, -2);
            })
        };
        for id in gone {
            self.loaded.remove(&id);
        }
    }

    /// Run function `name` of `lib` with `keys` and `args` (Redis's `luaEngineCall` and
    /// `luaCallFunction`), writing its reply or error to `out`. The library's code runs
    /// first if this thread has not run it.
    pub fn call(
        &mut self,
        run: &mut Run,
        lib: &Library,
        name: &str,
        keys: &[Bytes],
        args: &[Bytes],
        out: &mut picket_common::resp::ReplyBuf,
    ) {
        let hook = run.threshold_ms > 0;
        if !self.loaded.contains(&lib.id) {
            let code_at = crate::functions::extract_metadata(&lib.code)
                .map(|m| m.code_at)
                .unwrap_or(0);
            if let Err(e) = self.load(lib.id, &lib.code[code_at..], 0) {
                out.error(&format!("ERR {e}"));
                return;
            }
        }
        let fname = format!("{name}\0");
        let limit = self.memory_limit;
        let ptr = run as *mut Run as *mut ();
        set_current_run(ptr);
        let mut restore_failed = false;
        let mut errors: Vec<String> = Vec::new();
        self.runs += 1;
        let gc_step = self.runs.is_multiple_of(50);
        let id = lib.id;
        // SAFETY: as `Engine::run`: balanced raw calls; the function runs inside lua_pcall
        // and the functions it calls reach `run` through the current-run pointer (cleared
        // below), which is not otherwise used meanwhile.
        let r = unsafe {
            self.lua.exec_raw::<()>((), |l| {
                ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_libs".as_ptr());
                ffi::lua_pushnumber(l, id as f64);
                ffi::lua_rawget_(l, -2);
                ffi::lua_replace(l, -2);
                let found = ffi::lua_type(l, -1) == ffi::LUA_TTABLE;
                if found {
                    ffi::lua_getfield_(l, -1, fname.as_ptr() as *const _);
                    ffi::lua_replace(l, -2);
                }
                if !found || ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
                    ffi::lua_settop(l, -2);
                    out.error("ERR Function not found");
                    return;
                }
                // The error handler goes below the callback. A C function registered as
                // the callback (redis.log, say) is at the bottom of Redis's stack, so its
                // errors get no position; here mlua's frames are below it: the handler
                // that adds none.
                let handler = if ffi::lua_iscfunction(l, -1) != 0 {
                    c"picket_fn_err_handler_c"
                } else {
                    c"picket_fn_err_handler"
                };
                ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, handler.as_ptr());
                ffi::lua_insert(l, -2);
                push_array(l, keys);
                push_array(l, args);
                if hook {
                    ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKCOUNT, 100_000);
                }
                let err = ffi::lua_pcall(l, 2, 1, -4);
                if hook {
                    ffi::lua_sethook(l, None, 0, 0);
                }
                if gc_step {
                    ffi::lua_gc(l, ffi::LUA_GCSTEP, 50);
                }
                let resp3 = (*(ptr as *mut Run)).client.proto == picket_common::resp::Proto::Resp3;
                restore_failed = super::engine::finish_call(
                    l,
                    err,
                    out,
                    name,
                    "function",
                    resp3,
                    limit,
                    &mut errors,
                );
            })
        };
        set_current_run(std::ptr::null_mut());
        for e in &errors {
            run.srv.stats.count_error(e);
        }
        if let Err(e) = r {
            out.error(&format!("ERR Error running script {name}, {e}"));
            restore_failed = true;
        }
        if restore_failed {
            tracing::warn!("Lua functions engine reset: a function left its globals in a state that could not be restored");
            self.broken = true;
        }
    }

    /// A call left the interpreter in a state it cannot be trusted in: the caller drops
    /// the engine (the libraries run again on a new one when next called).
    pub fn is_broken(&self) -> bool {
        self.broken
    }
}

/// Make the table in the registry under `key` the fallback of the functions' globals.
unsafe fn set_fallback(l: L, key: &std::ffi::CStr) {
    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_globals_mt".as_ptr());
    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, key.as_ptr());
    ffi::lua_setfield(l, -2, c"__index".as_ptr());
    ffi::lua_settop(l, -2);
}

unsafe fn push_array(l: L, items: &[Bytes]) {
    ffi::lua_createtable(l, items.len() as c_int, 0);
    for (i, it) in items.iter().enumerate() {
        push_bytes(l, it);
        ffi::lua_rawseti_(l, -2, i as c_int + 1);
    }
}

/// The message of the error at the top (Redis's `luaExtractErrorInformation`'s `msg`): a
/// string gets `ERR `, a table gives its `err` field.
unsafe fn error_info(l: L) -> Vec<u8> {
    let mut msg = Vec::new();
    if ffi::lua_isstring(l, -1) != 0 {
        msg = b"ERR ".to_vec();
        msg.extend_from_slice(c_str(to_bytes(l, -1).unwrap_or_default()));
    }
    if ffi::lua_istable(l, -1) != 0 {
        ffi::lua_getfield_(l, -1, c"err".as_ptr());
        if ffi::lua_isstring(l, -1) != 0 {
            msg = c_str(to_bytes(l, -1).unwrap_or_default()).to_vec();
        }
        ffi::lua_settop(l, -2);
    }
    msg
}

fn c_str(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

unsafe fn fn_setup(l: L) {
    // The globals of Redis's functions engine are EVAL's but the error handler (which lives
    // in the registry there) and redis.breakpoint, redis.debug and redis.replicate_commands
    // (EVAL's alone).
    push_global(l, c"__redis__err__handler");
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_err_handler".as_ptr());
    forget_saved_global(l, c"__redis__err__handler");
    ffi::lua_pushstring_(l, c"__redis__err__handler".as_ptr());
    ffi::lua_pushnil(l);
    ffi::lua_rawset(l, ffi::LUA_GLOBALSINDEX);
    // (The real redis table, behind its proxy: not restored after a call, so these go for
    // good.)
    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_proxies".as_ptr());
    push_global(l, c"redis");
    ffi::lua_rawget_(l, -2);
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        for k in [c"breakpoint", c"debug", c"replicate_commands"] {
            ffi::lua_pushstring_(l, k.as_ptr());
            ffi::lua_pushnil(l);
            ffi::lua_rawset(l, -3);
        }
    }
    ffi::lua_settop(l, -3);
    ffi::lua_newtable(l);
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_libs".as_ptr());
    ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
    ffi::lua_setfield(
        l,
        ffi::LUA_REGISTRYINDEX,
        c"picket_fn_real_globals".as_ptr(),
    );
    if ffi::luaL_loadbuffer(
        l,
        FN_PRELUDE.as_ptr() as *const _,
        FN_PRELUDE.len(),
        c"=picket".as_ptr(),
    ) != 0
    {
        ffi::lua_error(l);
    }
    ffi::lua_pushcfunction(l, register_function);
    ffi::lua_call(l, 1, 4);
    ffi::lua_setfield(
        l,
        ffi::LUA_REGISTRYINDEX,
        c"picket_fn_err_handler_c".as_ptr(),
    );
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_lib_api".as_ptr());
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_globals_mt".as_ptr());
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_globals".as_ptr());
}

/// Remove global `name` from the copy of the globals that the debug builds' check after
/// each call (`engine::restore`) compares with.
unsafe fn forget_saved_global(l: L, name: &std::ffi::CStr) {
    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_saved".as_ptr());
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        // picket_saved[_G][name] = nil
        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        ffi::lua_rawget_(l, -2);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            ffi::lua_pushstring_(l, name.as_ptr());
            ffi::lua_pushnil(l);
            ffi::lua_rawset(l, -3);
        }
        ffi::lua_settop(l, -2);
    }
    ffi::lua_settop(l, -2);
}

/// Redis's `luaEngineLoadHook`: past the time limit the load stops (and every line after,
/// so that a pcall in the library cannot keep it going).
unsafe extern "C-unwind" fn load_hook(l: L, _ar: *mut ffi::lua_Debug) {
    let expired = LOADING.with(|c| {
        c.borrow().as_ref().is_some_and(|x| {
            x.timeout_ms > 0
                && tokio::time::Instant::now()
                    .saturating_duration_since(x.started)
                    .as_millis() as u64
                    > x.timeout_ms
        })
    });
    if expired {
        ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKLINE, 0);
        push_error(l, b"FUNCTION LOAD timeout");
        ffi::lua_error(l);
    }
}

// --------------------------------------------------------- redis.register_function

/// `redis.register_function(name, callback)` or `redis.register_function{function_name=,
/// callback=, flags=, description=}` (Redis's `luaRegisterFunction`).
unsafe extern "C-unwind" fn register_function(l: L) -> c_int {
    let r = register_inner(l);
    match r {
        Ok(()) => 0,
        Err(msg) => {
            push_error(l, msg.as_bytes());
            drop(msg);
            ffi::lua_error(l)
        }
    }
}

/// What the arguments give: the name, description, flags, and the callback's reference in
/// the registry.
struct Registration {
    name: Vec<u8>,
    desc: Option<Vec<u8>>,
    flags: u32,
    callback: c_int,
}

unsafe fn register_inner(l: L) -> Result<(), String> {
    if LOADING.with(|c| c.borrow().is_none()) {
        return Err("redis.register_function can only be called on FUNCTION LOAD command".into());
    }
    let argc = ffi::lua_gettop(l);
    if !(1..=2).contains(&argc) {
        return Err("wrong number of arguments to redis.register_function".into());
    }
    let reg = if argc == 1 {
        named_args(l)?
    } else {
        positional_args(l)?
    };
    // Redis's `functionLibCreateFunction`.
    let err = if !crate::functions::valid_name(&reg.name) {
        Some(NAME_ERROR.to_string())
    } else {
        let name = String::from_utf8_lossy(&reg.name).into_owned();
        let dup = LOADING.with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|x| x.functions.iter().any(|f| f.name == name))
        });
        if dup {
            Some("Function already exists in the library".to_string())
        } else {
            // picket_fn_loading[name] = callback
            ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"picket_fn_loading".as_ptr());
            push_bytes(l, name.as_bytes());
            ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, reg.callback);
            ffi::lua_rawset(l, -3);
            ffi::lua_settop(l, -2);
            LOADING.with(|c| {
                if let Some(x) = c.borrow_mut().as_mut() {
                    x.functions.push(FunctionInfo {
                        name,
                        desc: reg.desc.map(Bytes::from),
                        flags: reg.flags,
                    });
                }
            });
            None
        }
    };
    ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, reg.callback);
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

unsafe fn string_arg(l: L, idx: c_int) -> Option<Vec<u8>> {
    if ffi::lua_isstring(l, idx) == 0 {
        return None;
    }
    Some(to_bytes(l, idx).unwrap_or_default().to_vec())
}

unsafe fn positional_args(l: L) -> Result<Registration, String> {
    let Some(name) = string_arg(l, 1) else {
        return Err("first argument to redis.register_function must be a string".into());
    };
    if ffi::lua_isfunction(l, 2) == 0 {
        return Err("second argument to redis.register_function must be a function".into());
    }
    let callback = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
    Ok(Registration {
        name,
        desc: None,
        flags: 0,
        callback,
    })
}

unsafe fn named_args(l: L) -> Result<Registration, String> {
    if ffi::lua_istable(l, 1) == 0 {
        return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into());
    }
    let mut name = None;
    let mut desc = None;
    let mut flags = 0;
    let mut callback: Option<c_int> = None;
    let mut err: Option<&str> = None;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        // table, key, value
        if ffi::lua_isstring(l, -2) == 0 {
            err = Some("named argument key given to redis.register_function is not a string");
            break;
        }
        let key = to_bytes(l, -2).unwrap_or_default();
        if key.eq_ignore_ascii_case(b"function_name") {
            match string_arg(l, -1) {
                Some(n) => name = Some(n),
                None => {
                    err = Some(
                        "function_name argument given to redis.register_function must be a string",
                    );
                    break;
                }
            }
        } else if key.eq_ignore_ascii_case(b"description") {
            match string_arg(l, -1) {
                Some(d) => desc = Some(d),
                None => {
                    err = Some(
                        "description argument given to redis.register_function must be a string",
                    );
                    break;
                }
            }
        } else if key.eq_ignore_ascii_case(b"callback") {
            if ffi::lua_isfunction(l, -1) == 0 {
                err = Some("callback argument given to redis.register_function must be a function");
                break;
            }
            if let Some(old) = callback.take() {
                ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, old);
            }
            callback = Some(ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX));
            continue; // (luaL_ref popped the value)
        } else if key.eq_ignore_ascii_case(b"flags") {
            if ffi::lua_istable(l, -1) == 0 {
                err = Some("flags argument to redis.register_function must be a table representing function flags");
                break;
            }
            match read_flags(l) {
                Some(f) => flags = f,
                None => {
                    err = Some("unknown flag given");
                    break;
                }
            }
        } else {
            err = Some("unknown argument given to redis.register_function");
            break;
        }
        ffi::lua_settop(l, -2);
    }
    if err.is_none() {
        if name.is_none() {
            err = Some("redis.register_function must get a function name argument");
        } else if callback.is_none() {
            err = Some("redis.register_function must get a callback argument");
        }
    }
    match (err, name, callback) {
        (None, Some(name), Some(callback)) => Ok(Registration {
            name,
            desc,
            flags,
            callback,
        }),
        (e, _, cb) => {
            if let Some(cb) = cb {
                ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, cb);
            }
            Err(e.unwrap_or_default().to_string())
        }
    }
}

/// The flags in the table at the top (Redis's `luaRegisterFunctionReadFlags`); `None` for a
/// value that is not a known flag.
unsafe fn read_flags(l: L) -> Option<u32> {
    let mut flags = 0;
    let mut j = 1;
    loop {
        ffi::lua_pushnumber(l, j as f64);
        j += 1;
        ffi::lua_gettable_(l, -2);
        let t = ffi::lua_type(l, -1);
        if t == ffi::LUA_TNIL {
            ffi::lua_settop(l, -2);
            return Some(flags);
        }
        if ffi::lua_isstring(l, -1) == 0 {
            ffi::lua_settop(l, -2);
            return None;
        }
        let s = c_str(to_bytes(l, -1).unwrap_or_default());
        let found = sflags::NAMES
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(s))
            .map(|(_, v)| *v);
        ffi::lua_settop(l, -2);
        flags |= found?;
    }
}
