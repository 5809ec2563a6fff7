//! `picket-sentinel CONFIG_FILE [--directive value ...]`, as `redis-sentinel`. The file is
//! redis.conf-style lines, or TOML when its name ends in `.toml` (see `config::toml`).

use std::process::ExitCode;

use picket_common::fdlimit;
use picket_common::net::TokioNet;
use picket_sentinel::{absolute, config, core_from, shell, PICKET_VERSION, REDIS_VERSION};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!("Picket sentinel v={PICKET_VERSION} (Redis {REDIS_VERSION} compatible)");
            return ExitCode::SUCCESS;
        }
        Some("-h") | Some("--help") | None => {
            eprintln!("Usage: picket-sentinel /path/to/sentinel.conf|sentinel.toml [--port 26379] [--sentinel monitor <name> <ip> <port> <quorum>] ...");
            return if argv.is_empty() {
                eprintln!("Sentinel needs config file on disk to save state. Exiting...");
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
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
    if std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .is_err()
    {
        eprintln!(
            "Sentinel config file {} is not writable. Exiting...",
            path.display()
        );
        return ExitCode::from(1);
    }
    let rest: Vec<String> = argv[1..].to_vec();
    let mut loaded = match config::parse_file(&path, &text, &rest) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    init_logging(&loaded.server.loglevel, &loaded.server.logfile);
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
    runtime.block_on(async move {
        // Save at once: a new myid must survive a restart.
        core.timers = Default::default();
        let shared = match shell::start(
            TokioNet,
            core,
            settings,
            path,
            picket_common::clock::Clock::system(),
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("Could not create server TCP listening socket: {e}");
                return ExitCode::from(1);
            }
        };
        {
            let core = shared.lock();
            shared.flush(&core);
        }
        tracing::info!("Running mode=sentinel, port={}.", shared.settings().port);
        for (name, m) in &shared.lock().masters {
            tracing::warn!(
                "+monitor master {name} {} {} quorum {}",
                m.inst.addr.host,
                m.inst.addr.port,
                m.quorum
            );
        }
        let sh = shared.clone();
        tokio::spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::warn!("Received SIGTERM scheduling shutdown...");
            let core = sh.lock();
            sh.flush(&core);
            drop(core);
            sh.cancel.cancel();
        });
        shared.cancel.cancelled().await;
        tracing::warn!("Sentinel is now ready to exit, bye bye...");
        ExitCode::SUCCESS
    })
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
