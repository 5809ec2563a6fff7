//! Deterministic simulation of Picket deployments on turmoil.
//!
//! The real server code runs on simulated hosts: [`SimNet`] implements picket's `Net` over
//! turmoil's sockets (newtypes here, so no production crate depends on turmoil). Each scenario
//! takes a seed; a failure prints the seed and the command that replays it.
#[cfg(not(tokio_unstable))]
compile_error!("sim-tests need `--cfg tokio_unstable` (set in .cargo/config.toml): without it turmoil cannot seed tokio's scheduler and seeds do not replay");

pub mod client;
pub mod ha;
pub mod net;
pub mod seeds;
pub mod tls;

use std::time::{Duration, UNIX_EPOCH};

/// The simulated wall clock starts here (2026-01-01T00:00:00Z), so runs do not depend on
/// the real date.
pub const EPOCH_MS: u64 = 1_767_225_600_000;

/// A turmoil builder with Picket's defaults: explicit epoch and seed, 1 ms ticks, generous
/// TCP capacity.
pub fn builder(seed: u64, duration: Duration) -> turmoil::Builder {
    let mut b = turmoil::Builder::new();
    b.rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_millis(EPOCH_MS))
        .simulation_duration(duration)
        .tick_duration(Duration::from_millis(5))
        .tcp_capacity(4096)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5));
    b
}

/// A data directory of one server start, removed when the server stops or its host
/// crashes (the future is dropped). Files a server writes (the RDB of a replica's full
/// sync) stay its own: hosts and simulations running concurrently share no file, and a
/// restarted host starts without data, as before servers wrote any.
struct ServerDir(std::path::PathBuf);

impl ServerDir {
    fn new(seed: u64) -> std::io::Result<ServerDir> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = std::env::temp_dir().join(format!(
            "picket-sim-server-{}-{seed}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&d)?;
        Ok(ServerDir(d))
    }
}

impl Drop for ServerDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run picket-server on the current simulated host, with `args` on top of simulation
/// defaults (port 6379, protected mode off since clients come from other hosts, a data
/// directory of its own unless `args` name one), until it shuts down.
pub async fn run_server(seed: u64, args: &[&str]) -> turmoil::Result {
    run_server_on(net::SimNet, seed, args).await
}

/// [`run_server`] on another simulated network (one with its own name resolution).
pub async fn run_server_on<N: picket_common::net::Net>(
    net: N,
    seed: u64,
    args: &[&str],
) -> turmoil::Result {
    run_server_watched(net, seed, args, |_| {}).await
}

/// [`run_server_on`], showing the running server to `on_start` (the simulation reads its
/// state through it: the ACL log).
pub async fn run_server_watched<N: picket_common::net::Net>(
    net: N,
    seed: u64,
    args: &[&str],
    on_start: impl FnOnce(&picket_server::ServerHandle),
) -> turmoil::Result {
    // turmoil binds only the unspecified address of the simulation's IP version (IPv4).
    let mut all = vec![
        "--port",
        "6379",
        "--bind",
        "0.0.0.0",
        "--protected-mode",
        "no",
    ];
    let dir = if args.contains(&"--dir") {
        None
    } else {
        Some(ServerDir::new(seed)?)
    };
    let dir_arg = dir.as_ref().map(|d| d.0.to_string_lossy().into_owned());
    if let Some(d) = &dir_arg {
        all.extend(["--dir", d.as_str()]);
    }
    all.extend_from_slice(args);
    let config = picket_server::config::ConfigState::from_args(&all)?;
    let opts = picket_server::Options {
        config,
        seed,
        clock: picket_common::clock::Clock::starting_at(EPOCH_MS),
    };
    let handle = picket_server::start(net, opts).await?;
    on_start(&handle);
    handle.wait().await;
    drop(dir);
    Ok(())
}
