//! Whole HA deployments with every link TLS: the servers on a `TlsNet` (their listeners
//! and replication links), the sentinels with their own `tls-port` and `tls-replication`
//! (links to servers and to each other), the clients TLS clients. The master fails; the
//! sentinels, talking TLS only, fail over, and the writers go on writing on the new
//! master. Each run is checked as the plain scenarios are (ha_scenarios.rs).

use picket_sim_tests::ha::{run_variant, Settings};
use picket_sim_tests::seeds::sweep;
use picket_sim_tests::tls::sim_certs;

/// The scenario `name` with TLS everywhere, checked, plus: writes acknowledged by the
/// final master after the fault, and bytes on the wire.
fn tls_scenario(name: &str, test: &str, seeds: u64) {
    let Some(certs) = sim_certs() else { return };
    let base = Settings {
        tls: Some(certs.to_path_buf()),
        ..Settings::default()
    };
    sweep("ha_tls", test, seeds, |seed| {
        let o = run_variant(seed, name, "over TLS", &base)?;
        if o.wire_digest == 0 {
            return Err("nothing went over the tapped TLS links".into());
        }
        Ok(())
    });
}

#[test]
fn tls_master_crash_fails_over_and_writes_go_on() {
    tls_scenario(
        "master-crash",
        "tls_master_crash_fails_over_and_writes_go_on",
        3,
    );
}

#[test]
fn tls_master_partitioned_is_replaced_and_demoted_after_the_heal() {
    tls_scenario(
        "master-partitioned",
        "tls_master_partitioned_is_replaced_and_demoted_after_the_heal",
        2,
    );
}
