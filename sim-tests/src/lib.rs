//! Deterministic simulation of Picket deployments on turmoil.
#[cfg(not(tokio_unstable))]
compile_error!("sim-tests need `--cfg tokio_unstable` (set in .cargo/config.toml): without it turmoil cannot seed tokio's scheduler and seeds do not replay");
