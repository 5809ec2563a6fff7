//! One seed, one trace, with TLS on every link: the same scenario run twice with the same
//! seed produces the same history, master changes and faults, and the same bytes on the
//! wire (rustls's randomness and key exchange seeded, Ed25519 signatures: see
//! sim-tests/src/tls.rs). In its own test binary, as ha_determinism.rs: simulations on
//! other threads of the process can shift timings.

use picket_sim_tests::ha::{run, scenario as scenario_of, Settings};
use picket_sim_tests::seeds::sweep;
use picket_sim_tests::tls::sim_certs;

#[test]
fn tls_same_seed_same_trace_same_bytes() {
    let Some(certs) = sim_certs() else { return };
    let base = Settings {
        tls: Some(certs.to_path_buf()),
        ..Settings::default()
    };
    sweep(
        "ha_tls_determinism",
        "tls_same_seed_same_trace_same_bytes",
        2,
        |seed| {
            let (s, f, _, _) = scenario_of("master-crash", &base).ok_or("no scenario")?;
            let (a, fa) = run(seed, &s, &f)?;
            let (b, fb) = run(seed, &s, &f)?;
            if fa != fb {
                return Err(format!("faults differ: {fa:?} vs {fb:?}"));
            }
            if a.master_changes != b.master_changes {
                return Err(format!(
                    "master changes differ: {:?} vs {:?}",
                    a.master_changes, b.master_changes
                ));
            }
            if a.history != b.history {
                let first = a.history.iter().zip(&b.history).find(|(x, y)| x != y);
                return Err(format!(
                    "histories differ ({} vs {} operations), first at {first:?}",
                    a.history.len(),
                    b.history.len()
                ));
            }
            if a.wire_digest == 0 || a.wire_digest != b.wire_digest {
                return Err(format!(
                    "the bytes on the wire differ: digest {:#x} vs {:#x}",
                    a.wire_digest, b.wire_digest
                ));
            }
            Ok(())
        },
    );
}
