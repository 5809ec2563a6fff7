//! The failover simulator: run a scenario over many seeds and print the distribution of
//! the time to `+switch-master`, the writes lost, the split-brain time, and every failing
//! seed with the command that replays it.
//!
//! cargo run -p picket-sim-tests --release --bin picket-sim -- --scenario master-crash \
//!     --seeds 500 --down-after 1000 --quorum 2

use std::process::ExitCode;
use std::time::{Duration, Instant};

use picket_sim_tests::ha::{run_scenario, Report, Settings, SCENARIOS};

fn usage() -> String {
    format!(
        "Usage: picket-sim --scenario <name> [--seeds N] [--first-seed S] [--down-after MS] [--quorum Q]\n\
         \x20                 [--failover-timeout MS] [--sentinels N] [--min-replicas N] [--wait N] [--clients N]\n\
         \x20                 [--safety classic|strict] [--tls yes|no] [--acl yes|no]\n\
         Scenarios: {}\n",
        SCENARIOS.join(", ")
    )
}

fn pct(v: &[u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i]
}

fn line(name: &str, mut v: Vec<u64>, unit: &str) {
    v.sort_unstable();
    if v.is_empty() {
        println!("{name:<28} (none)");
        return;
    }
    println!(
        "{name:<28} min {:>7}{unit}  p50 {:>7}{unit}  p99 {:>7}{unit}  max {:>7}{unit}  (n={})",
        v[0],
        pct(&v, 0.5),
        pct(&v, 0.99),
        v[v.len() - 1],
        v.len()
    );
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut scenario = None;
    let mut seeds = 20u64;
    let mut first = 1u64;
    let mut s = Settings::default();
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        let num = || {
            val.parse::<u64>()
                .map_err(|_| format!("{}: not a number: '{val}'", args[i]))
        };
        let r: Result<(), String> = (|| {
            match args[i].as_str() {
                "--scenario" => scenario = Some(val.clone()),
                "--seeds" => seeds = num()?,
                "--first-seed" => first = num()?,
                "--down-after" => s.down_after_ms = num()?,
                "--failover-timeout" => s.failover_timeout_ms = num()?,
                "--quorum" => s.quorum = num()? as u32,
                "--sentinels" => s.sentinels = num()? as usize,
                "--min-replicas" => s.min_replicas = num()? as usize,
                "--wait" => s.wait_replicas = num()? as usize,
                "--safety" => {
                    s.strict = match val.as_str() {
                        "strict" => true,
                        "classic" => false,
                        _ => return Err(format!("--safety: classic or strict, not '{val}'")),
                    }
                }
                "--clients" => s.clients = num()? as usize,
                "--tls" => {
                    s.tls = match val.as_str() {
                        "yes" => Some(
                            picket_sim_tests::tls::sim_certs()
                                .ok_or("--tls yes needs openssl to make certificates")?
                                .to_path_buf(),
                        ),
                        "no" => None,
                        _ => return Err(format!("--tls: yes or no, not '{val}'")),
                    }
                }
                "--acl" => {
                    s.acl = match val.as_str() {
                        "yes" => Some(picket_sim_tests::ha::AclUsers::from_guide()?),
                        "no" => None,
                        _ => return Err(format!("--acl: yes or no, not '{val}'")),
                    }
                }
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown option {other}")),
            }
            Ok(())
        })();
        if let Err(e) = r {
            if !e.is_empty() {
                eprintln!("picket-sim: {e}");
            }
            eprint!("{}", usage());
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
        i += 2;
    }
    let Some(name) = scenario else {
        eprint!("{}", usage());
        return ExitCode::from(2);
    };
    if !SCENARIOS.contains(&name.as_str()) {
        eprintln!("picket-sim: unknown scenario '{name}'");
        eprint!("{}", usage());
        return ExitCode::from(2);
    }
    let started = Instant::now();
    let mut reports: Vec<Report> = Vec::new();
    let mut errors = Vec::new();
    for seed in first..first + seeds {
        match run_scenario(&name, seed, &s) {
            Ok(r) => reports.push(r),
            Err(e) => errors.push((seed, e)),
        }
    }
    let elapsed = started.elapsed();
    println!(
        "scenario {name}: {} seeds in {:.1}s ({:.2} seeds/s), down-after {} ms, quorum {}, {} sentinels",
        seeds,
        elapsed.as_secs_f64(),
        seeds as f64 / elapsed.as_secs_f64().max(1e-9),
        s.down_after_ms,
        s.quorum,
        s.sentinels
    );
    line(
        "time to +switch-master",
        reports.iter().filter_map(|r| r.switch_ms).collect(),
        "ms",
    );
    line(
        "acknowledged writes lost",
        reports.iter().map(|r| r.lost_writes as u64).collect(),
        "",
    );
    line(
        "stale reads",
        reports.iter().map(|r| r.stale_reads as u64).collect(),
        "",
    );
    line(
        "unavailable (on a replica)",
        reports
            .iter()
            .map(|r| r.unavailable_writes as u64)
            .collect(),
        "",
    );
    line(
        "acknowledged writes",
        reports.iter().map(|r| r.acked_writes as u64).collect(),
        "",
    );
    line(
        "split-brain time",
        reports.iter().map(|r| r.split_brain_ms).collect(),
        "ms",
    );
    let failed: Vec<&Report> = reports.iter().filter(|r| !r.failures.is_empty()).collect();
    println!("failed seeds: {}", failed.len() + errors.len());
    for r in failed {
        println!("  seed {}: {}", r.seed, r.failures.join("; "));
        // Every setting the command line can give, so the replay runs the same deployment.
        println!(
            "    replay: cargo run -p picket-sim-tests --release --bin picket-sim -- --scenario {name} --first-seed {} --seeds 1 --down-after {} --quorum {} --failover-timeout {} --sentinels {} --min-replicas {} --wait {} --clients {} --safety {} --tls {} --acl {}",
            r.seed,
            s.down_after_ms,
            s.quorum,
            s.failover_timeout_ms,
            s.sentinels,
            s.min_replicas,
            s.wait_replicas,
            s.clients,
            if s.strict { "strict" } else { "classic" },
            if s.tls.is_some() { "yes" } else { "no" },
            if s.acl.is_some() { "yes" } else { "no" }
        );
    }
    for (seed, e) in &errors {
        println!("  seed {seed}: simulation error: {e}");
    }
    let _ = Duration::ZERO;
    if errors.is_empty() && reports.iter().all(|r| r.failures.is_empty()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
