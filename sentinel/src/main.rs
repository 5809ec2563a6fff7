//! `picket-sentinel CONFIG_FILE [--directive value ...]`, as `redis-sentinel`. The file is
//! redis.conf-style lines, or TOML when its name ends in `.toml` (see `config::toml`).

use std::process::ExitCode;

use picket_common::config::Value;
use picket_common::fdlimit;
use picket_common::net::TokioNet;
use picket_sentinel::{absolute, config, core_from, shell, PICKET_VERSION, REDIS_VERSION};
use picket_server::supervise::{self, Supervision};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!("Picket sentinel v={PICKET_VERSION} (Redis {REDIS_VERSION} compatible)");
            return ExitCode::SUCCESS;
        }
        Some("-h") | Some("--help") => {
            eprintln!("Usage: picket-sentinel /path/to/sentinel.conf|sentinel.toml [--port 26379] [--sentinel monitor <name> <ip> <port> <quorum>] ...");
            return ExitCode::SUCCESS;
        }
        // As redis-server: options without a config file first (`--sentinel f.conf`).
        None => {
            eprintln!("Sentinel needs config file on disk to save state. Exiting...");
            return ExitCode::from(1);
        }
        Some(a) if a.starts_with('-') => {
            eprintln!("Sentinel needs config file on disk to save state. Exiting...");
            return ExitCode::from(1);
        }
        _ => {}
    }
    let path = absolute(&argv[0]);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "Sentinel config file {} can't be read ({e}). Exiting...",
                path.display()
            );
            return ExitCode::from(1);
        }
    };
    let rest: Vec<String> = argv[1..].to_vec();
    let mut loaded = match config::parse_file(&path, &text, &rest) {
        Ok(l) => l,
        Err(e @ config::ConfigError::Bad { .. }) => {
            // Redis's start-up error, an empty line first.
            eprintln!("\n{e}");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    // As Redis's sentinelCheckConfigFile, once the configuration is read.
    if let Err(e) = std::fs::OpenOptions::new().append(true).open(&path) {
        eprintln!(
            "Sentinel config file {} is not writable: {}. Exiting...",
            path.display(),
            fdlimit::os_error_text(&e)
        );
        return ExitCode::from(1);
    }
    // The ACL users (Redis's ACLLoadUsersAtStartup): a rule or an ACL file that does not
    // load stops the start with Redis's message.
    if let Err(e) = picket_sentinel::acl::load_users(&loaded.server.users_config()) {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    // As Redis's initServer (which runs after daemonizing: here first, so that a
    // sentinel that cannot start says so with its exit code): TLS is configured at start
    // when tls-port or tls-replication ask for it, and a bad configuration stops it.
    let tls = match loaded.server.tls_context() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}\nFailed to configure TLS. Check logs for more info.");
            return ExitCode::from(1);
        }
    };
    if loaded.server.port == 0 && loaded.server.tls_port == 0 {
        eprintln!("Configured to not listen anywhere, exiting.");
        return ExitCode::from(1);
    }
    // As Redis: supervision first (a supervised sentinel does not daemonize), then
    // `daemonize yes` detaches before anything is logged or bound.
    let (supervision, supervision_log) =
        supervise::detect(&loaded.server.supervised, |k| std::env::var(k).ok());
    let background = loaded.server.daemonize && supervision == Supervision::None;
    if background && std::env::var_os(supervise::DAEMON_ENV).is_none() {
        let logfile = &loaded.server.logfile;
        if !logfile.is_empty() {
            let open = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(logfile);
            if let Err(e) = open {
                eprintln!("Can't open the log file: {e}");
                return ExitCode::from(1);
            }
        }
        return match supervise::spawn_daemon() {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("picket-sentinel: can't start in the background: {e}");
                ExitCode::from(1)
            }
        };
    }
    if background && loaded.server.pidfile.is_empty() {
        // Redis's default pid file of a daemon, which its config rewrite then writes.
        let default = supervise::DEFAULT_PIDFILE.to_string();
        loaded
            .server
            .directives
            .set_internal("pidfile", Value::Str(default.clone()));
        loaded.server.pidfile = default;
    }
    loaded.server.process_supervised = supervision.info_name();
    loaded.server.executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    init_logging(&loaded.server.loglevel, &loaded.server.logfile);
    for (level, msg) in &supervision_log {
        match *level {
            tracing::Level::WARN => tracing::warn!("{msg}"),
            _ => tracing::debug!("{msg}"),
        }
    }
    if !loaded.server.dir.is_empty() {
        if let Err(e) = std::env::set_current_dir(&loaded.server.dir) {
            eprintln!("Can't chdir to '{}': {e}", loaded.server.dir);
            return ExitCode::from(1);
        }
    }
    let seed = picket_common::ids::os_seed();
    let mut core = match core_from(&loaded, seed, 0) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    if !adjust_open_files(&mut loaded.server, core.link_descriptors()) {
        return ExitCode::from(1);
    }
    if loaded.myid.is_none() {
        tracing::info!("Sentinel ID is {}", core.myid);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let settings = loaded.server.clone();
    let pidfile = settings.pidfile.clone();
    let new_id = loaded.myid.is_none();
    // SENTINEL SIMULATE-FAILURE stopped it: exit 99 as Redis's exit(99), pid file left.
    let crashed = std::cell::Cell::new(false);
    let crashed_ref = &crashed;
    let code = runtime.block_on(async move {
        core.timers = Default::default();
        let shared = match shell::start_with_tls(
            TokioNet,
            core,
            settings,
            path,
            picket_common::clock::Clock::system(),
            tls,
            // As Redis: a new myid is saved at once (it must survive a restart), before
            // any client is served.
            new_id,
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("Could not create server TCP listening socket: {e}");
                return ExitCode::from(1);
            }
        };
        if !pidfile.is_empty() {
            if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
                tracing::warn!("Failed to write PID file: {e}");
            }
        }
        {
            let s = shared.settings();
            if s.tls_port != 0 {
                tracing::info!(
                    "Running mode=sentinel, port={}, tls-port={}.",
                    s.port,
                    s.tls_port
                );
            } else {
                tracing::info!("Running mode=sentinel, port={}.", s.port);
            }
        }
        // The state is written on a thread: the core's (only) thread never waits for the
        // disk.
        shared.set_state_store(std::sync::Arc::new(shell::DiskStore { on_thread: true }));
        for (name, m) in &shared.lock().masters {
            tracing::warn!(
                "+monitor master {name} {} {} quorum {}",
                m.inst.addr.host,
                m.inst.addr.port,
                m.quorum
            );
        }
        supervision.notify("STATUS=Ready to accept connections\n");
        supervision.notify("READY=1\n");
        let sh = shared.clone();
        tokio::spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                biased;
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::warn!("Received SIGTERM scheduling shutdown...");
            sh.save_now().await;
            sh.cancel.cancel();
        });
        let outcome = shared.stopped().await;
        if outcome != shell::Outcome::Shutdown {
            crashed_ref.set(true);
            return ExitCode::from(outcome.exit_code());
        }
        supervision.notify("STOPPING=1\n");
        tracing::warn!("Sentinel is now ready to exit, bye bye...");
        ExitCode::SUCCESS
    });
    if !loaded.server.pidfile.is_empty() && !crashed.get() {
        let _ = std::fs::remove_file(&loaded.server.pidfile);
    }
    code
}

/// As Redis's `adjustOpenFilesLimit`, with a larger reserve: room for `maxclients` plus
/// [`shell::RESERVED_FDS`] plus `links` (the descriptors of the links to the instances the
/// file already knows, `Core::link_descriptors`), or fewer clients. False when not even
/// one client fits (the process must exit).
fn adjust_open_files(settings: &mut config::ServerSettings, links: u64) -> bool {
    let requested = settings.maxclients;
    let adjusted = fdlimit::adjust(requested, shell::RESERVED_FDS + links);
    adjusted.log();
    if let fdlimit::Adjustment::TooLow { .. } = adjusted {
        return false;
    }
    settings.maxclients = adjusted.maxclients(requested);
    settings.fd_limit = Some(adjusted.limit());
    true
}

fn init_logging(level: &str, file: &str) {
    let filter = match level {
        "debug" => "debug",
        "verbose" => "debug",
        "warning" => "warn",
        _ => "info",
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .with_ansi(false);
    if file.is_empty() {
        builder.with_writer(std::io::stdout).init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
        {
            Ok(f) => builder.with_writer(std::sync::Mutex::new(f)).init(),
            Err(e) => {
                eprintln!("Can't open the log file: {e}");
                builder.with_writer(std::io::stdout).init();
            }
        }
    }
}
