//! Seed sweeps: `PICKET_SIM_SEEDS=N` widens a sweep, `PICKET_SIM_SEED=S` replays one seed.

/// The seeds a sweep runs: `PICKET_SIM_SEED` alone if set, else `PICKET_SIM_SEEDS` (or
/// `default`) seeds starting at 1.
pub fn seeds(default: u64) -> Vec<u64> {
    if let Some(s) = std::env::var("PICKET_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return vec![s];
    }
    let n = std::env::var("PICKET_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    (1..=n).collect()
}

/// Logs on simulated time, enabled by `RUST_LOG` (e.g. when replaying one seed).
pub fn init_logs() {
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::time::FormatTime;
    struct SimTime;
    impl FormatTime for SimTime {
        fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
            let t = turmoil::sim_elapsed().unwrap_or_default();
            write!(w, "[sim {:>9.3}s]", t.as_secs_f64())
        }
    }
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_timer(SimTime)
            .with_test_writer()
            .try_init();
    }
}

/// Run `scenario` for every seed; on the first failure, panic with the seed and the command
/// that replays it.
pub fn sweep(
    test_binary: &str,
    test_name: &str,
    default: u64,
    scenario: impl Fn(u64) -> Result<(), String>,
) {
    init_logs();
    for seed in seeds(default) {
        if let Err(e) = scenario(seed) {
            panic!(
                "seed {seed} failed: {e}\nreplay with: PICKET_SIM_SEED={seed} RUST_LOG=debug cargo test -p picket-sim-tests --test {test_binary} {test_name} -- --nocapture"
            );
        }
    }
}
