//! The functions state part (Redis 7.0's `functions.c`): the libraries FUNCTION LOAD
//! created, the index of their functions by name, and the engines that run them.
//!
//! A library is its code (`#!<engine> name=<lib>` then the engine's source) and what running
//! that code once registered: functions with their flags and descriptions. The code is run by
//! an engine, which registers itself at start-up as Redis's `functionsRegisterEngine` (the Lua
//! engine is the command layer's, `command::scripting`); this part keeps no interpreter, so
//! that the RDB loader and FUNCTION RESTORE can create libraries through it.
//!
//! Redis keeps libraries and functions in dicts (iteration order is the hash's); here they
//! are ordered maps, so FUNCTION LIST, DUMP and the RDB list them by name. Function names are
//! looked up without regard to case (Redis's `functionDictType`), library names with.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::persist::rdb::codec::{op, Reader, Writer, CRC64, RDB_VERSION};
use crate::persist::rdb::read::read_function;

/// FUNCTION LOAD's time limit for running a library's code (Redis's `LOAD_TIMEOUT_MS`).
pub const LOAD_TIMEOUT_MS: u64 = 500;

pub const NAME_ERROR: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// A function a library registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    pub name: String,
    pub desc: Option<Bytes>,
    /// `scripts::sflags`.
    pub flags: u32,
}

/// A library.
#[derive(Debug)]
pub struct Library {
    /// Unique in the process: an engine keeps what it compiled for a library under it.
    pub id: u64,
    pub name: String,
    pub engine: &'static str,
    /// The whole payload FUNCTION LOAD got, shebang included.
    pub code: Bytes,
    pub functions: BTreeMap<String, FunctionInfo>,
}

/// An engine's `create`: see [`EngineDef::create`] (arguments: the engines' state, the
/// library's id, its code, the time limit in ms, the heap limit in bytes).
pub type CreateFn = fn(&mut EngineState, u64, &[u8], u64, u64) -> Result<Vec<FunctionInfo>, String>;

/// What the engines keep between calls (the Lua interpreter of functions), opaque here. It
/// lives with the libraries, behind the server lock: one interpreter per server, whatever
/// thread runs the command (as Redis has one), so a library's own state is the same for
/// every call.
#[derive(Default)]
pub struct EngineState(pub Option<Box<dyn std::any::Any + Send>>);

impl std::fmt::Debug for EngineState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "EngineState(running)"
        } else {
            "EngineState(none)"
        })
    }
}

/// An engine (Redis's `engine` callbacks, those picket needs).
pub struct EngineDef {
    pub name: &'static str,
    /// Run a library's code (its shebang line removed: it starts at that line's newline, so
    /// that line numbers count from the shebang) for the library `id`, in `timeout_ms` at
    /// most (0: no limit), and return the functions it registered, in order. The error is
    /// the reply's text.
    pub create: CreateFn,
    /// Bytes of the engine's heap (INFO's `used_memory_vm_functions`).
    pub memory: fn(&EngineState) -> usize,
}

static ENGINES: OnceLock<Vec<EngineDef>> = OnceLock::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Register the engines (once per process; later calls are no-ops): Redis's `functionsInit`.
pub fn register_engines(make: fn() -> Vec<EngineDef>) {
    ENGINES.get_or_init(make);
}

/// The registered engines.
pub fn engines() -> &'static [EngineDef] {
    ENGINES.get().map(|v| v.as_slice()).unwrap_or(&[])
}

fn find_engine(engines: &'static [EngineDef], name: &[u8]) -> Option<&'static EngineDef> {
    engines
        .iter()
        .find(|e| e.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Redis's `functionsVerifyName`: `[a-zA-Z0-9_]+`.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// What the shebang of a library says (Redis's `functionExtractLibMetaData`).
#[derive(Debug, PartialEq, Eq)]
pub struct Metadata {
    pub engine: Vec<u8>,
    pub name: Vec<u8>,
    /// Where the code after the shebang line starts (at its newline).
    pub code_at: usize,
}

pub fn extract_metadata(payload: &[u8]) -> Result<Metadata, String> {
    // (A C string: the payload ends at a NUL for these searches.)
    let cstr = &payload[..payload
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(payload.len())];
    if !cstr.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(nl) = cstr.iter().position(|&c| c == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts = match picket_common::sds::split_args(&cstr[..nl]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("Invalid library metadata".into()),
    };
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name: Option<Vec<u8>> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(c_str(part))
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok(Metadata {
        engine,
        name,
        code_at: nl,
    })
}

fn c_str(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// Libraries and the index of their functions (Redis's `functionsLibCtx`).
#[derive(Debug, Default)]
pub struct LibCtx {
    pub libraries: BTreeMap<String, Arc<Library>>,
    /// Lowercase function name -> (library, function name as registered).
    index: HashMap<String, (String, String)>,
}

impl LibCtx {
    /// The function called `name` (any case), with its library.
    pub fn function(&self, name: &[u8]) -> Option<(&Arc<Library>, &FunctionInfo)> {
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        let (lib, f) = self.index.get(&key)?;
        let lib = self.libraries.get(lib)?;
        let fi = lib.functions.get(f)?;
        Some((lib, fi))
    }

    fn has_function(&self, name: &str) -> bool {
        self.index.contains_key(&name.to_ascii_lowercase())
    }

    /// Functions in the index (INFO's `number_of_functions`).
    pub fn functions_len(&self) -> usize {
        self.index.len()
    }

    /// Functions the libraries registered (FUNCTION STATS's `functions_count`).
    pub fn functions_count(&self) -> usize {
        self.libraries.values().map(|l| l.functions.len()).sum()
    }

    fn link(&mut self, lib: Arc<Library>) {
        for f in lib.functions.keys() {
            // (Two functions of one library that differ only in case: the first stays, as
            // Redis's dictAdd keeps it.)
            self.index
                .entry(f.to_ascii_lowercase())
                .or_insert_with(|| (lib.name.clone(), f.clone()));
        }
        self.libraries.insert(lib.name.clone(), lib);
    }

    fn unlink(&mut self, name: &str) -> Option<Arc<Library>> {
        let lib = self.libraries.remove(name)?;
        for f in lib.functions.keys() {
            let key = f.to_ascii_lowercase();
            if self.index.get(&key).is_some_and(|(l, _)| *l == lib.name) {
                self.index.remove(&key);
            }
        }
        Some(lib)
    }

    /// Redis's `functionsCreateWithLibraryCtx`: run `code` and add the library it defines
    /// (replacing one of the same name if `replace`). On error nothing changed. Returns the
    /// library's name.
    pub fn create(
        &mut self,
        state: &mut EngineState,
        code: &Bytes,
        replace: bool,
        timeout_ms: u64,
        memory_limit: u64,
    ) -> Result<String, String> {
        self.create_with(engines(), state, code, replace, timeout_ms, memory_limit)
    }

    fn create_with(
        &mut self,
        engines: &'static [EngineDef],
        state: &mut EngineState,
        code: &Bytes,
        replace: bool,
        timeout_ms: u64,
        memory_limit: u64,
    ) -> Result<String, String> {
        let md = extract_metadata(code)?;
        if !valid_name(&md.name) {
            return Err(NAME_ERROR.into());
        }
        let Some(engine) = find_engine(engines, &md.engine) else {
            return Err(format!(
                "Engine '{}' not found",
                String::from_utf8_lossy(&md.engine)
            ));
        };
        let name = String::from_utf8_lossy(&md.name).into_owned();
        if self.libraries.contains_key(&name) && !replace {
            return Err(format!("Library '{name}' already exists"));
        }
        let old = self.unlink(&name);
        let r = self.create_unlinked(
            engine,
            state,
            &name,
            code,
            md.code_at,
            timeout_ms,
            memory_limit,
        );
        match r {
            Ok(lib) => {
                self.link(Arc::new(lib));
                Ok(name)
            }
            Err(e) => {
                if let Some(old) = old {
                    self.link(old);
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_unlinked(
        &self,
        engine: &'static EngineDef,
        state: &mut EngineState,
        name: &str,
        code: &Bytes,
        code_at: usize,
        timeout_ms: u64,
        memory_limit: u64,
    ) -> Result<Library, String> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let registered = (engine.create)(state, id, &code[code_at..], timeout_ms, memory_limit)?;
        if registered.is_empty() {
            return Err("No functions registered".into());
        }
        let functions: BTreeMap<String, FunctionInfo> = registered
            .into_iter()
            .map(|f| (f.name.clone(), f))
            .collect();
        if let Some(f) = functions.keys().find(|f| self.has_function(f)) {
            return Err(format!("Function {f} already exists"));
        }
        Ok(Library {
            id,
            name: name.to_string(),
            engine: engine.name,
            code: code.clone(),
            functions,
        })
    }

    /// Redis's `libraryJoin`: move every library of `src` here, replacing those of the same
    /// name if `replace`; on a collision nothing changes.
    pub fn join(&mut self, src: LibCtx, replace: bool) -> Result<(), String> {
        let mut old = Vec::new();
        let mut result = Ok(());
        for name in src.libraries.keys() {
            if self.libraries.contains_key(name) {
                if !replace {
                    result = Err(format!("Library {name} already exists"));
                    break;
                }
                old.extend(self.unlink(name));
            }
        }
        if result.is_ok() {
            for lib in src.libraries.values() {
                if let Some(f) = lib.functions.keys().find(|f| self.has_function(f)) {
                    result = Err(format!("Function {f} already exists"));
                    break;
                }
            }
        }
        match result {
            Ok(()) => {
                for lib in src.libraries.into_values() {
                    self.link(lib);
                }
                Ok(())
            }
            Err(e) => {
                for lib in old {
                    self.link(lib);
                }
                Err(e)
            }
        }
    }

    /// Bytes of the structures (an estimate of Redis's `cache_memory` and dict overhead).
    fn overhead(&self) -> usize {
        let mut n = 0;
        for lib in self.libraries.values() {
            n += 48 + lib.name.len() + lib.code.len();
            for f in lib.functions.values() {
                n += 96 + f.name.len() + f.desc.as_ref().map_or(0, |d| d.len() + 8);
            }
        }
        n + self.index.len() * 32
    }
}

/// The state part.
#[derive(Debug, Default)]
pub struct Functions {
    pub ctx: LibCtx,
    /// Bumped on every change (an engine forgets what it compiled for libraries gone).
    pub generation: u64,
    pub engine: EngineState,
}

impl Functions {
    /// FUNCTION LOAD (and the RDB's, and the AOF's): see [`LibCtx::create`].
    pub fn load(
        &mut self,
        code: &Bytes,
        replace: bool,
        timeout_ms: u64,
        memory_limit: u64,
    ) -> Result<String, String> {
        self.generation += 1;
        self.ctx
            .create(&mut self.engine, code, replace, timeout_ms, memory_limit)
    }

    pub fn delete(&mut self, name: &[u8]) -> bool {
        let name = String::from_utf8_lossy(name);
        let found = self.ctx.unlink(&name).is_some();
        if found {
            self.generation += 1;
        }
        found
    }

    /// FUNCTION FLUSH, and what empties the dataset with its functions (a full sync, DEBUG
    /// RELOAD).
    pub fn clear(&mut self) {
        self.ctx = LibCtx::default();
        self.generation += 1;
    }

    /// Replace every library by those of `ctx` (FUNCTION RESTORE FLUSH).
    pub fn replace_all(&mut self, ctx: LibCtx) {
        self.ctx = ctx;
        self.generation += 1;
    }

    pub fn join(&mut self, src: LibCtx, replace: bool) -> Result<(), String> {
        self.generation += 1;
        self.ctx.join(src, replace)
    }

    /// INFO's `used_memory_functions` (Redis's `functionsMemoryOverhead`).
    pub fn overhead(&self) -> usize {
        200 + self.ctx.overhead()
    }

    /// Bytes of the engines' heaps (INFO's `used_memory_vm_functions`).
    pub fn engine_memory(&self) -> usize {
        engines().iter().map(|e| (e.memory)(&self.engine)).sum()
    }

    /// FUNCTION DUMP's payload (Redis's `functionDumpCommand`): each library as the RDB
    /// holds it, then the RDB version (2 bytes) and the CRC64 (8), little endian.
    pub fn dump(&self, compress: bool) -> Vec<u8> {
        let mut w = Writer::new(compress);
        self.write_rdb(&mut w);
        let mut out = w.buf;
        out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
        let crc = CRC64.checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// The libraries as an RDB file holds them before the databases (Redis's
    /// `rdbSaveFunctions`): `RDB_OPCODE_FUNCTION2` and the code, for each.
    pub fn write_rdb(&self, w: &mut Writer) {
        for lib in self.ctx.libraries.values() {
            w.u8(op::FUNCTION2);
            w.string(&lib.code);
        }
    }
}

/// FUNCTION RESTORE's payload read into a new set of libraries (Redis's
/// `functionRestoreCommand` up to the policy). `skip_crc`: DEBUG
/// SET-SKIP-CHECKSUM-VALIDATION.
pub fn read_dump(
    data: &[u8],
    skip_crc: bool,
    state: &mut EngineState,
    timeout_ms: u64,
    memory_limit: u64,
) -> Result<LibCtx, String> {
    if !verify_payload(data, skip_crc) {
        return Err("DUMP payload version or checksum are wrong".into());
    }
    let mut ctx = LibCtx::default();
    let mut r = Reader::new(data);
    // Records up to the footer (a record may read into it, as Redis's does).
    while data.len() - r.offset() > 10 {
        let t = r.u8().map_err(|_| "can not read data type".to_string())?;
        if t != op::FUNCTION2 && t != op::FUNCTION_PRE_GA {
            return Err("given type is not a function".into());
        }
        let code = Bytes::from(read_function(&mut r, t)?);
        ctx.create(state, &code, false, timeout_ms, memory_limit)?;
    }
    Ok(ctx)
}

/// Redis's `verifyDumpPayload`.
fn verify_payload(p: &[u8], skip_crc: bool) -> bool {
    let Some(body) = p.len().checked_sub(10) else {
        return false;
    };
    let version = u16::from_le_bytes([p[body], p[body + 1]]);
    if version as u32 > RDB_VERSION {
        return false;
    }
    if skip_crc {
        return true;
    }
    let crc = u64::from_le_bytes(p[body + 2..].try_into().expect("8 bytes"));
    CRC64.checksum(&p[..body + 2]) == crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_as_redis_reads_it() {
        let md = extract_metadata(b"#!lua name=mylib\nreturn 1").unwrap();
        assert_eq!(md.engine, b"lua");
        assert_eq!(md.name, b"mylib");
        assert_eq!(md.code_at, 16);
        assert_eq!(
            extract_metadata(b"#!LUA NAME=\"a b\"\nx").unwrap().name,
            b"a b"
        );
        let err = |p: &[u8]| extract_metadata(p).unwrap_err();
        assert_eq!(err(b"return 1"), "Missing library metadata");
        assert_eq!(err(b"#!lua name=x"), "Invalid library metadata");
        assert_eq!(err(b"#!lua name=x\0\n"), "Invalid library metadata");
        assert_eq!(err(b"#!lua name=\"x\n"), "Invalid library metadata");
        assert_eq!(err(b"#!lua\nx"), "Library name was not given");
        assert_eq!(
            err(b"#!lua name=a name=b\nx"),
            "Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(
            err(b"#!lua foo=bar\nx"),
            "Invalid metadata value given: foo=bar"
        );
    }

    #[test]
    fn names() {
        assert!(valid_name(b"a_Z9"));
        assert!(!valid_name(b""));
        assert!(!valid_name(b"a-b"));
        assert!(!valid_name(b"a b"));
    }

    fn fake_create(
        _state: &mut EngineState,
        _id: u64,
        code: &[u8],
        _t: u64,
        _m: u64,
    ) -> Result<Vec<FunctionInfo>, String> {
        // The code is a list of function names.
        let text = String::from_utf8_lossy(code);
        if text.contains("fail") {
            return Err("Error registering functions: boom".into());
        }
        Ok(text
            .split_whitespace()
            .map(|n| FunctionInfo {
                name: n.to_string(),
                desc: None,
                flags: 0,
            })
            .collect())
    }

    /// (The real engines are registered by the command layer; this one stands in.)
    static FAKE: [EngineDef; 1] = [EngineDef {
        name: "LUA",
        create: fake_create,
        memory: |_| 0,
    }];

    fn create(ctx: &mut LibCtx, code: &str, replace: bool) -> Result<String, String> {
        let mut state = EngineState::default();
        ctx.create_with(
            &FAKE,
            &mut state,
            &Bytes::from(code.to_string()),
            replace,
            0,
            0,
        )
    }

    #[test]
    fn create_replace_and_collisions() {
        let mut ctx = LibCtx::default();
        assert_eq!(create(&mut ctx, "#!lua name=a\nf g", false).unwrap(), "a");
        assert!(ctx.function(b"F").is_some());
        assert_eq!(
            create(&mut ctx, "#!lua name=a\nh", false).unwrap_err(),
            "Library 'a' already exists"
        );
        assert_eq!(
            create(&mut ctx, "#!lua name=b\nG", false).unwrap_err(),
            "Function G already exists"
        );
        assert_eq!(
            create(&mut ctx, "#!nope name=b\nx", false).unwrap_err(),
            "Engine 'nope' not found"
        );
        // A failed replace keeps the old library.
        assert!(create(&mut ctx, "#!lua name=a\nfail", true).is_err());
        assert!(ctx.function(b"f").is_some());
        assert_eq!(
            create(&mut ctx, "#!lua name=a\n", true).unwrap_err(),
            "No functions registered"
        );
        assert!(ctx.function(b"g").is_some());
        create(&mut ctx, "#!lua name=a\nh", true).unwrap();
        assert!(ctx.function(b"f").is_none());
        assert!(ctx.function(b"h").is_some());

        let mut src = LibCtx::default();
        create(&mut src, "#!lua name=a\nh2", false).unwrap();
        assert_eq!(
            ctx.join(src, false).unwrap_err(),
            "Library a already exists"
        );
        let mut src = LibCtx::default();
        create(&mut src, "#!lua name=c\nh", false).unwrap();
        assert_eq!(
            ctx.join(src, true).unwrap_err(),
            "Function h already exists"
        );
        let mut src = LibCtx::default();
        create(&mut src, "#!lua name=a\nh", false).unwrap();
        ctx.join(src, true).unwrap();
        assert_eq!(ctx.libraries.len(), 1);
        assert_eq!(ctx.functions_len(), 1);
    }

    #[test]
    fn dump_payloads_are_checked() {
        let f = Functions::default();
        let p = f.dump(true);
        assert_eq!(p.len(), 10);
        assert!(verify_payload(&p, false));
        let mut bad = p.clone();
        bad[3] ^= 1;
        assert!(!verify_payload(&bad, false));
        assert!(verify_payload(&bad, true));
        assert!(!verify_payload(&p[..9], true));
        let mut state = EngineState::default();
        assert!(read_dump(&p, false, &mut state, 0, 0)
            .unwrap()
            .libraries
            .is_empty());
        // A type that is not a function.
        let mut w = Writer::new(false);
        w.u8(0);
        w.string(b"k");
        let mut body = w.buf;
        body.extend_from_slice(&10u16.to_le_bytes());
        let crc = CRC64.checksum(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            read_dump(&body, false, &mut state, 0, 0).unwrap_err(),
            "given type is not a function"
        );
    }

    #[test]
    fn pre_ga_records_become_payloads() {
        let mut w = Writer::new(false);
        w.string(b"lib");
        w.string(b"LUA");
        w.len(1);
        w.string(b"a description");
        w.string(b"body");
        let mut r = Reader::new(&w.buf);
        assert_eq!(
            read_function(&mut r, op::FUNCTION_PRE_GA).unwrap(),
            b"#!LUA name=lib\nbody"
        );
        let mut r = Reader::new(&[0xff]);
        assert_eq!(
            read_function(&mut r, op::FUNCTION2).unwrap_err(),
            "Failed loading library payload"
        );
    }
}
