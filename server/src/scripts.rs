//! The scripting state part: the script cache (EVAL's and SCRIPT LOAD's bodies by SHA1, with
//! the flags of their `#!lua` shebang) and the watch over the script or function running
//! now, which a connection can read and a SCRIPT KILL or FUNCTION KILL can set without the
//! server lock. The Lua engine that runs them is the command layer's (`command::scripting`);
//! the function libraries are the `functions` state part's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// The flags a `#!lua flags=...` shebang declares (Redis's `SCRIPT_FLAG_*`).
pub mod sflags {
    pub const NO_WRITES: u32 = 1 << 0;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    /// No shebang: the script runs as before Redis 7.0 (its commands are checked one by one).
    pub const EVAL_COMPAT_MODE: u32 = 1 << 4;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 5;

    /// The names a shebang may use.
    pub const NAMES: &[(&str, u32)] = &[
        ("no-writes", NO_WRITES),
        ("allow-oom", ALLOW_OOM),
        ("allow-stale", ALLOW_STALE),
        ("no-cluster", NO_CLUSTER),
        ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
    ];
}

/// A cached script.
#[derive(Debug)]
pub struct Script {
    pub body: Bytes,
    pub flags: u32,
}

/// The script cache and the running script's watch.
#[derive(Debug, Default)]
pub struct Scripts {
    /// By lowercase hex SHA1 of the body (never iterated for output; foldhash, as the keyspace).
    pub cache: HashMap<String, Arc<Script>, foldhash::fast::FixedState>,
    /// Bytes held by the cache (the bodies and their names), for INFO's `used_memory_scripts_eval`.
    pub mem: usize,
    /// Bumped by SCRIPT FLUSH: an engine built for an older generation is thrown away (Redis
    /// recreates its Lua interpreter on SCRIPT FLUSH).
    pub generation: u64,
    pub watch: Arc<ScriptWatch>,
}

impl Scripts {
    pub fn get(&self, sha: &str) -> Option<&Arc<Script>> {
        self.cache.get(sha)
    }

    pub fn insert(&mut self, sha: String, body: Bytes, flags: u32) -> Arc<Script> {
        self.mem += sha.len() + body.len();
        let s = Arc::new(Script { body, flags });
        self.cache.insert(sha, s.clone());
        s
    }

    /// SCRIPT FLUSH: forget every script and the engine's state.
    pub fn flush(&mut self) {
        self.cache = HashMap::default();
        self.mem = 0;
        self.generation += 1;
    }
}

/// The script running now, as other connections may see it without the server lock: whether
/// one runs, since when, whether it wrote, and SCRIPT KILL's request.
#[derive(Debug, Default)]
pub struct ScriptWatch {
    running: AtomicBool,
    /// The script has run a write command: SCRIPT KILL cannot stop it.
    wrote: AtomicBool,
    /// SCRIPT KILL (or SHUTDOWN NOSAVE) asked for it to stop.
    kill: AtomicBool,
    /// SHUTDOWN NOSAVE asked for it to stop, and for the server to exit.
    shutdown: AtomicBool,
    /// The script was sent by the master or the AOF: it cannot be killed.
    obeyed: AtomicBool,
    /// Past `busy-reply-threshold`: other clients get -BUSY.
    busy: AtomicBool,
    /// Milliseconds of the process's monotonic clock when it started.
    started_ms: AtomicU64,
    /// The script's thread is handing its runtime worker to another thread (see
    /// `command::scripting::engine::hand_off_runtime`).
    handing_off: AtomicBool,
    /// Another thread ran a task since the hand-off began: it holds the worker now.
    core_moved: AtomicBool,
    /// It is an FCALL (not an EVAL): what FUNCTION STATS shows of it.
    function: Mutex<Option<RunningFunction>>,
}

/// The function running now, as FUNCTION STATS shows it.
#[derive(Debug, Clone)]
pub struct RunningFunction {
    pub name: String,
    /// The caller's command (FCALL and its arguments, as sent).
    pub argv: Vec<Bytes>,
    /// FUNCTION STATS's `engines` counts (they cannot change while the function runs).
    pub libraries: usize,
    pub functions: usize,
    /// When it started (FUNCTION STATS's `duration_ms`).
    pub started: tokio::time::Instant,
}

/// What SCRIPT KILL finds.
#[derive(Debug, PartialEq, Eq)]
pub enum KillOutcome {
    Killed,
    NotBusy,
    Wrote,
    Obeyed,
    /// SCRIPT KILL while a function runs (`eval_running` false), or FUNCTION KILL while an
    /// EVAL script does.
    WrongKind {
        eval_running: bool,
    },
}

impl ScriptWatch {
    /// An EVAL script starts.
    pub fn start(&self, now_ms: u64, obeyed: bool) {
        self.set_function(None);
        self.start_run(now_ms, obeyed);
    }

    /// A function (FCALL) starts.
    pub fn start_function(&self, now_ms: u64, obeyed: bool, f: RunningFunction) {
        self.set_function(Some(f));
        self.start_run(now_ms, obeyed);
    }

    fn set_function(&self, f: Option<RunningFunction>) {
        if let Ok(mut g) = self.function.lock() {
            *g = f;
        }
    }

    /// The function running now, if what runs is a function.
    pub fn running_function(&self) -> Option<RunningFunction> {
        if !self.running() {
            return None;
        }
        self.function.lock().ok().and_then(|g| g.clone())
    }

    /// What runs is an EVAL script (or nothing).
    pub fn is_eval(&self) -> bool {
        self.function.lock().map(|g| g.is_none()).unwrap_or(true)
    }

    fn start_run(&self, now_ms: u64, obeyed: bool) {
        self.wrote.store(false, Ordering::Relaxed);
        self.kill.store(false, Ordering::Relaxed);
        self.shutdown.store(false, Ordering::Relaxed);
        self.busy.store(false, Ordering::Relaxed);
        self.obeyed.store(obeyed, Ordering::Relaxed);
        self.started_ms.store(now_ms, Ordering::Relaxed);
        self.running.store(true, Ordering::Release);
    }

    pub fn stop(&self) {
        self.running.store(false, Ordering::Release);
        self.busy.store(false, Ordering::Relaxed);
        self.kill.store(false, Ordering::Relaxed);
        self.shutdown.store(false, Ordering::Relaxed);
    }

    pub fn running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    pub fn started_ms(&self) -> u64 {
        self.started_ms.load(Ordering::Relaxed)
    }

    pub fn set_wrote(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    pub fn set_busy(&self) {
        self.busy.store(true, Ordering::Relaxed);
    }

    /// Past the threshold: clients other than the script's get -BUSY.
    pub fn busy(&self) -> bool {
        self.running() && self.busy.load(Ordering::Relaxed)
    }

    /// The script's thread starts handing its worker over.
    pub fn begin_hand_off(&self) {
        self.core_moved.store(false, Ordering::SeqCst);
        self.handing_off.store(true, Ordering::SeqCst);
    }

    pub fn end_hand_off(&self) {
        self.handing_off.store(false, Ordering::SeqCst);
    }

    /// A task ran on a thread other than the script's (it holds a runtime worker).
    pub fn note_core_moved(&self) {
        self.core_moved.store(true, Ordering::SeqCst);
    }

    pub fn core_moved(&self) -> bool {
        self.core_moved.load(Ordering::SeqCst)
    }

    /// Called by a task about to give its worker away (`block_in_place`) while a script
    /// runs: wait until the script's thread finished handing its own worker over, or that
    /// thread, leaving its `block_in_place`, would take back the worker this task gives away
    /// and keep it while it runs the script (tokio's `block_in_place` reclaims a worker left
    /// free when it returns), and nothing would serve the connections.
    pub fn wait_hand_off(&self) {
        if !self.handing_off.load(Ordering::SeqCst) {
            return;
        }
        self.note_core_moved();
        while self.handing_off.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    }

    pub fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    pub fn shutdown_requested(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }

    /// SHUTDOWN NOSAVE while the script is busy: stop it whatever it did (writes, or sent by
    /// the master), and exit. False: no script runs past the threshold.
    pub fn request_shutdown(&self) -> bool {
        if !self.busy() {
            return false;
        }
        self.shutdown.store(true, Ordering::Relaxed);
        self.kill.store(true, Ordering::Relaxed);
        true
    }

    /// SCRIPT KILL (Redis's `scriptKill` for EVAL scripts).
    pub fn request_kill(&self) -> KillOutcome {
        self.request_kill_of(true)
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: Redis's `scriptKill`.
    pub fn request_kill_of(&self, eval: bool) -> KillOutcome {
        if !self.running() {
            return KillOutcome::NotBusy;
        }
        if self.obeyed.load(Ordering::Relaxed) {
            return KillOutcome::Obeyed;
        }
        if self.wrote.load(Ordering::Relaxed) {
            return KillOutcome::Wrote;
        }
        let eval_running = self.is_eval();
        if eval != eval_running {
            return KillOutcome::WrongKind { eval_running };
        }
        self.kill.store(true, Ordering::Relaxed);
        KillOutcome::Killed
    }
}

impl KillOutcome {
    /// The reply to SCRIPT KILL, as Redis 7.0 words it (`None`: +OK).
    pub fn error(&self) -> Option<&'static str> {
        match self {
            KillOutcome::Killed => None,
            KillOutcome::NotBusy => Some("NOTBUSY No scripts in execution right now."),
            KillOutcome::Obeyed => Some("UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed."),
            KillOutcome::Wrote => Some("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."),
            KillOutcome::WrongKind { eval_running: true } => Some(BUSY),
            KillOutcome::WrongKind { eval_running: false } => Some(BUSY_FUNCTION),
        }
    }
}

impl ScriptWatch {
    /// The -BUSY reply for what runs now (Redis's `slowevalerr` or `slowscripterr`).
    pub fn busy_error(&self) -> &'static str {
        if self.is_eval() {
            BUSY
        } else {
            BUSY_FUNCTION
        }
    }
}

/// The reply other clients get while a script runs past `busy-reply-threshold`.
pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// The same while a function runs (Redis's `slowscripterr`).
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
