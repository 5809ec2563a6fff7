//! `picket-server [CONFIG_FILE] [--directive value ...]`, in the argument style of
//! redis-server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use picket_common::clock::Clock;
use picket_common::config::Value;
use picket_common::fdlimit;
use picket_common::ids;
use picket_common::net::TokioNet;
use picket_server::config::{compat, ConfigState};
use picket_server::supervise::{self, Supervision};
use picket_server::{logging, start, Options, PICKET_VERSION, REDIS_VERSION};

#[global_allocator]
static ALLOC: picket_server::alloc::CountingAlloc = picket_server::alloc::CountingAlloc;

fn usage() -> String {
    "Usage: picket-server [/path/to/redis.conf | /path/to/picket.toml] [options]\n\
     \x20      picket-server - (read config from stdin is not supported)\n\
     \x20      picket-server -v or --version\n\
     \x20      picket-server -h or --help\n\n\
     Examples:\n\
     \x20      picket-server (run the server with default config)\n\
     \x20      picket-server /etc/picket/6379.conf\n\
     \x20      picket-server --port 7777\n\
     \x20      picket-server deploy/server.toml --loglevel verbose\n"
        .to_string()
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!("Picket server v={PICKET_VERSION} (Redis {REDIS_VERSION} compatible)");
            return ExitCode::SUCCESS;
        }
        Some("-h") | Some("--help") => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    // `picket-server sentinel.conf --sentinel`, as redis-server: run picket-sentinel.
    if argv.iter().any(|a| a == "--sentinel") {
        return run_sentinel(&argv);
    }
    // A file-size limit (`ulimit -f`) makes a write fail with EFBIG, which the AOF and the
    // saves handle as a write error, instead of killing the process with SIGXFSZ.
    // SAFETY: only sets the disposition of one signal to SIG_IGN, before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let (file, rest): (Option<PathBuf>, &[String]) = match argv.split_first() {
        Some((f, rest)) if !f.starts_with('-') => (Some(PathBuf::from(f)), rest),
        _ => (None, &argv[..]),
    };
    let mut config = match ConfigState::load(file.as_deref(), rest) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("picket-server: {e}");
            return ExitCode::from(1);
        }
    };
    // As Redis: supervision first (a supervised server does not daemonize), then
    // `daemonize yes` detaches before anything is logged or bound.
    let process = config.settings().process;
    let (supervision, supervision_log) =
        supervise::detect(&process.supervised, |k| std::env::var(k).ok());
    let background = process.daemonize && supervision == Supervision::None;
    if background && std::env::var_os(supervise::DAEMON_ENV).is_none() {
        // The daemon's errors go nowhere: check the log file here, as Redis does while
        // reading the configuration.
        let logfile = &process.logfile;
        if !logfile.is_empty() {
            let open = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(logfile);
            if let Err(e) = open {
                eprintln!("picket-server: can't open the log file '{logfile}': {e}");
                return ExitCode::from(1);
            }
        }
        return match supervise::spawn_daemon() {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("picket-server: can't start in the background: {e}");
                ExitCode::from(1)
            }
        };
    }
    if background && process.pidfile.is_empty() {
        let default = Value::Str(supervise::DEFAULT_PIDFILE.to_string());
        config.store_mut().set_internal("pidfile", default);
    }
    config.process_supervised = supervision.info_name();
    let settings = config.settings();
    let loglevel = settings.process.loglevel.clone();
    let logfile = settings.process.logfile.clone();
    let handle = match logging::init(&loglevel, &logfile, 'M') {
        Ok(h) => h,
        Err(e) => {
            eprintln!("picket-server: can't open the log file '{logfile}': {e}");
            return ExitCode::from(1);
        }
    };
    config.on_loglevel = Some(Box::new(move |level: &str| {
        let _ = handle.modify(|f| *f = logging::level_of(level));
    }));
    let pidfile = settings.process.pidfile.clone();
    let inert = compat::inert_settings(config.store());
    let is_replica = picket_server::replication::config::replicaof(config.store()).is_some();

    // `io-threads 1` (the default, as Redis) runs the server on one worker thread. It is a
    // multi-thread runtime of one worker, not a current-thread one, so that a running script
    // hands the runtime to another thread (block_in_place) and the other connections are
    // still answered (-BUSY, SCRIPT KILL) as Redis does. Measured against the current-thread
    // build (redis-benchmark SET/GET, 4 alternating runs): P1 0.95-0.97x, P16 1.05-1.17x.
    let io_threads = settings.process.io_threads;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(io_threads.max(1));
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("picket-server: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async move {
        tracing::info!("oO0OoO0OoO0Oo Picket is starting oO0OoO0OoO0Oo");
        tracing::info!(
            "Picket version={PICKET_VERSION} (Redis {REDIS_VERSION} compatible), bits={}, pid={}, just started",
            usize::BITS,
            std::process::id()
        );
        match file.as_deref() {
            Some(f) => tracing::info!("Configuration loaded from {}", f.display()),
            None => tracing::warn!(
                "No config file specified, using the default config. In order to specify a config file use picket-server /path/to/picket.conf"
            ),
        }
        for (level, msg) in &supervision_log {
            match *level {
                tracing::Level::WARN => tracing::warn!("{msg}"),
                _ => tracing::debug!("{msg}"),
            }
        }
        for line in &inert {
            tracing::warn!("'{line}' has no effect in picket (see docs/config-reference.md)");
        }
        // As Redis's adjustOpenFilesLimit: room for maxclients plus 32 descriptors of our
        // own (listeners, logs, persistence, replication), or fewer clients.
        let requested = settings.maxclients.max(1) as u64;
        let adjusted = fdlimit::adjust(requested, fdlimit::MIN_RESERVED_FDS);
        adjusted.log();
        if let fdlimit::Adjustment::TooLow { .. } = adjusted {
            return 1u8;
        }
        let maxclients = adjusted.maxclients(requested);
        if maxclients != requested {
            config
                .store_mut()
                .set_internal("maxclients", Value::Int(maxclients as i64));
        }
        config.on_maxclients = Some(Box::new(maxclients_hook));
        let opts = Options {
            config,
            seed: ids::os_seed(),
            clock: Clock::system(),
        };
        let server = match start(TokioNet, opts).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("{e}");
                eprintln!("picket-server: {e}");
                return 1u8;
            }
        };
        if !pidfile.is_empty() {
            if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
                tracing::warn!("Failed to write PID file {pidfile}: {e}");
            }
        }
        if let Some(w) = supervise::backlog_warning(settings.tcp_backlog) {
            tracing::warn!("{w}");
        }
        tracing::info!("Server initialized");
        let port = if settings.port != 0 {
            settings.port
        } else {
            settings.tls_port
        };
        tracing::info!("Running mode=standalone, port={port}.");
        if settings.port != 0 {
            tracing::info!(
                "Ready to accept connections tcp (pid={}, port={})",
                std::process::id(),
                server.addrs.first().map(|a| a.port()).unwrap_or(settings.port)
            );
        }
        if settings.tls_port != 0 {
            tracing::info!(
                "Ready to accept connections tls (pid={}, port={})",
                std::process::id(),
                settings.tls_port
            );
        }
        supervision.notify(if is_replica {
            "STATUS=Ready to accept connections in read-only mode. Waiting for MASTER <-> REPLICA sync\n"
        } else {
            "STATUS=Ready to accept connections\n"
        });
        supervision.notify("READY=1\n");
        let waiter = server.wait();
        tokio::pin!(waiter);
        let mut signals = Signals::new();
        // systemd hears STOPPING=1 once, when a signal asks for the shutdown or the server
        // stopped (SHUTDOWN).
        let mut stopping = false;
        loop {
            tokio::select! {
                biased;
                _ = &mut waiter => break,
                sig = signals.next() => match sig {
                    Some(name) => {
                        // A second SIGINT means "now", as in Redis (not a second SIGTERM).
                        if name == "SIGINT" && server.shared.lock().process.shutdown.is_some() {
                            tracing::warn!("You insist... exiting now.");
                            return 1;
                        }
                        if !stopping {
                            stopping = true;
                            supervision.notify("STOPPING=1\n");
                        }
                        server.request_shutdown(name);
                    }
                    None => {
                        // No signal handling available: just wait for SHUTDOWN.
                        (&mut waiter).await;
                        break;
                    }
                },
            }
        }
        if !stopping {
            supervision.notify("STOPPING=1\n");
        }
        // The process ends here: leave the dataset to the OS instead of freeing it value by
        // value (a second or more for millions of keys), as Redis's exit does. Nothing of
        // the server has a destructor with effects; SHUTDOWN saved and flushed already.
        std::mem::forget(server.shared.clone());
        if !pidfile.is_empty() && Path::new(&pidfile).exists() {
            let _ = std::fs::remove_file(&pidfile);
        }
        if let Some(e) = server.fatal() {
            eprintln!("picket-server: {e}");
            return 1;
        }
        0
    });
    ExitCode::from(code)
}

/// CONFIG SET maxclients: make room for the new number of clients or refuse, as Redis
/// 7.0's `updateMaxclients` (the warnings of the start-up adjustment, then the error).
fn maxclients_hook(maxclients: u64) -> Result<(), String> {
    let adjusted = fdlimit::adjust(maxclients, fdlimit::MIN_RESERVED_FDS);
    match adjusted {
        fdlimit::Adjustment::Reduced { .. } | fdlimit::Adjustment::TooLow { .. } => {
            adjusted.log();
            tracing::warn!("Failed applying new configuration. Possibly related to new maxclients setting. Restoring previous settings.");
            let fits = adjusted.limit().saturating_sub(fdlimit::MIN_RESERVED_FDS);
            Err(format!("The operating system is not able to handle the specified number of clients, try with {fits}"))
        }
        _ => {
            adjusted.log();
            Ok(())
        }
    }
}

/// SIGTERM and SIGINT as a stream of names. SIGHUP is ignored, as Redis ignores it (a
/// daemon outlives the terminal it was started from).
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    /// Kept registered so that SIGHUP is caught (and ignored) instead of killing the process.
    #[cfg(unix)]
    _hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
                _hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) -> Option<&'static str> {
        #[cfg(unix)]
        {
            match (&mut self.term, &mut self.int) {
                (Some(t), Some(i)) => tokio::select! {
                    biased;
                    _ = t.recv() => Some("SIGTERM"),
                    _ = i.recv() => Some("SIGINT"),
                },
                (Some(t), None) => t.recv().await.map(|_| "SIGTERM"),
                (None, Some(i)) => i.recv().await.map(|_| "SIGINT"),
                (None, None) => None,
            }
        }
        #[cfg(not(unix))]
        None
    }
}

/// Sentinel mode: hand over to the picket-sentinel binary installed beside this one.
fn run_sentinel(argv: &[String]) -> ExitCode {
    let me = std::env::current_exe().unwrap_or_default();
    let bin = me.with_file_name("picket-sentinel");
    // Replace this process (signals, pid files and supervisors then see the Sentinel). The
    // arguments go as they are, `--sentinel` included: the sentinel reads them as
    // redis-server does (a bare `--sentinel` is a line of its own, so the line numbers of
    // its errors are Redis's).
    use std::os::unix::process::CommandExt;
    let e = std::process::Command::new(&bin).args(argv).exec();
    eprintln!("picket-server: sentinel mode needs {} ({e})", bin.display());
    ExitCode::from(1)
}
