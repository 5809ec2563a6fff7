//! `failover-safety strict` (docs/failover-safety.md): not one acknowledged write lost, in
//! every fault scenario, over many seeds. 100 seeds per scenario by default;
//! `PICKET_SIM_STRICT_SEEDS=1000` for the long sweep, `PICKET_SIM_SEED=S` to replay one.
//! Every run is also held to the scenario's own checks (agreement, convergence, bounds).
//! A failure names the worst seed with the `picket-sim` command that replays it.

use picket_sim_tests::ha::{run_scenario, Report, Settings};

fn sweep(name: &str) {
    let seeds: Vec<u64> = match std::env::var("PICKET_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(s) => vec![s],
        None => {
            let n = std::env::var("PICKET_SIM_STRICT_SEEDS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(100u64);
            (1..=n).collect()
        }
    };
    let s = Settings {
        strict: true,
        ..Settings::default()
    };
    let mut reports: Vec<Report> = Vec::new();
    for &seed in &seeds {
        match run_scenario(name, seed, &s) {
            Ok(r) => reports.push(r),
            Err(e) => panic!(
                "scenario {name} seed {seed}: the simulation failed: {e}\nreplay with: {}",
                replay(name, seed)
            ),
        }
    }
    let acked: usize = reports.iter().map(|r| r.acked_writes).sum();
    let lost: usize = reports.iter().map(|r| r.lost_writes).sum();
    let unavailable: usize = reports.iter().map(|r| r.unavailable_writes).sum();
    let split = reports.iter().map(|r| r.split_brain_ms).max().unwrap_or(0);
    let stale: usize = reports.iter().map(|r| r.stale_reads).sum();
    eprintln!(
        "strict {name}: {} seeds, {acked} writes acknowledged, {lost} lost, {unavailable} unavailable at the end, {stale} stale reads, worst split brain {split} ms",
        reports.len()
    );
    // The worst seed: the most writes lost, then any other failure.
    let worst = reports
        .iter()
        .filter(|r| r.lost_writes > 0 || !r.failures.is_empty())
        .max_by_key(|r| (r.lost_writes, r.failures.len()));
    if let Some(r) = worst {
        let failing: Vec<u64> = reports
            .iter()
            .filter(|r| r.lost_writes > 0 || !r.failures.is_empty())
            .map(|r| r.seed)
            .collect();
        panic!(
            "strict {name}: {} of {} seeds failed ({failing:?}); worst seed {}: {} lost of {} acknowledged:\n  {}\nreplay with: {}",
            failing.len(),
            reports.len(),
            r.seed,
            r.lost_writes,
            r.acked_writes,
            r.failures.join("\n  "),
            replay(name, r.seed)
        );
    }
}

fn replay(name: &str, seed: u64) -> String {
    format!(
        "cargo run -p picket-sim-tests --release --bin picket-sim -- --scenario {name} --first-seed {seed} --seeds 1 --safety strict  (logs: PICKET_SIM_SEED={seed} RUST_LOG=debug cargo test -p picket-sim-tests --test strict_sweep)"
    )
}

#[test]
fn master_crash() {
    sweep("master-crash");
}

#[test]
fn master_isolated_from_sentinels() {
    sweep("master-isolated-from-sentinels");
}

#[test]
fn asymmetric_partition() {
    sweep("asymmetric-partition");
}

#[test]
fn replica_partitioned_with_the_master() {
    sweep("replica-with-master");
}

#[test]
fn flapping_links() {
    sweep("flapping-links");
}

#[test]
fn paused_master() {
    sweep("paused-master");
}

#[test]
fn sentinel_clock_pause_tilt() {
    sweep("sentinel-stall");
}

#[test]
fn restarts_in_a_loop() {
    sweep("restart-loop");
}
