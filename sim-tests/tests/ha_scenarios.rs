//! Whole HA deployments under faults, each scenario over several seeds (`PICKET_SIM_SEEDS=N`
//! for more, `PICKET_SIM_SEED=S` to replay one). Every run is checked: sentinels agree on
//! one master and epoch, every reachable server converged to it (data and offset), the
//! failover finished within its bound, plus the scenario's own promise.

use picket_sim_tests::ha::{run_scenario, Settings};
use picket_sim_tests::seeds::sweep;

fn scenario(name: &str, test: &str, seeds: u64) {
    sweep("ha_scenarios", test, seeds, |seed| {
        let r = run_scenario(name, seed, &Settings::default())?;
        if r.failures.is_empty() {
            Ok(())
        } else {
            Err(format!("scenario {name}: {}", r.failures.join("\n  ")))
        }
    });
}

#[test]
fn master_crash() {
    scenario("master-crash", "master_crash", 4);
}

#[test]
fn master_partitioned_from_everyone_is_demoted_after_the_heal() {
    scenario(
        "master-partitioned",
        "master_partitioned_from_everyone_is_demoted_after_the_heal",
        3,
    );
}

#[test]
fn master_isolated_from_sentinels_only() {
    scenario(
        "master-isolated-from-sentinels",
        "master_isolated_from_sentinels_only",
        3,
    );
}

#[test]
fn sentinel_crash_during_election() {
    scenario(
        "sentinel-crash-during-election",
        "sentinel_crash_during_election",
        3,
    );
}

#[test]
fn no_quorum_no_failover() {
    scenario("no-quorum", "no_quorum_no_failover", 3);
}

#[test]
fn priority_zero_is_never_promoted() {
    scenario("priority-zero", "priority_zero_is_never_promoted", 3);
}

#[test]
fn flapping_links() {
    scenario("flapping-links", "flapping_links", 3);
}

#[test]
fn cascading_failures() {
    scenario("cascading-failures", "cascading_failures", 3);
}

#[test]
fn sentinel_restart_keeps_state() {
    scenario("sentinel-restart", "sentinel_restart_keeps_state", 3);
}

#[test]
fn fenced_writes_lose_nothing() {
    scenario("fenced-writes", "fenced_writes_lose_nothing", 3);
}

#[test]
fn stalled_sentinel_enters_tilt_and_the_others_fail_over() {
    scenario(
        "sentinel-stall",
        "stalled_sentinel_enters_tilt_and_the_others_fail_over",
        3,
    );
}

#[test]
fn slow_links_cause_no_false_failover() {
    scenario("slow-links", "slow_links_cause_no_false_failover", 3);
}

#[test]
fn the_most_up_to_date_replica_is_promoted() {
    scenario(
        "most-up-to-date-promoted",
        "the_most_up_to_date_replica_is_promoted",
        3,
    );
}

#[test]
fn sentinel_that_lost_its_disk_relearns_the_master() {
    scenario(
        "sentinel-lost-disk",
        "sentinel_that_lost_its_disk_relearns_the_master",
        3,
    );
}

#[test]
fn manual_switchover_loses_no_acknowledged_write() {
    scenario(
        "manual-switchover",
        "manual_switchover_loses_no_acknowledged_write",
        3,
    );
}

#[test]
fn early_master_crash_finds_every_replica() {
    scenario(
        "early-master-crash",
        "early_master_crash_finds_every_replica",
        3,
    );
}

#[test]
fn strict_mode_master_isolated_loses_no_acknowledged_write() {
    scenario(
        "strict-master-isolated",
        "strict_mode_master_isolated_loses_no_acknowledged_write",
        3,
    );
}
