//! One seed, one trace, with every link logged in as a least-privilege ACL user: the same
//! scenario run twice with the same seed produces the same history, master changes and
//! faults (the clients' AUTH and the nodes' ACL checks draw nothing random). In its own
//! test binary, as ha_determinism.rs: simulations on other threads of the process can
//! shift timings.

use picket_sim_tests::ha::{run, scenario as scenario_of, AclUsers, Settings};
use picket_sim_tests::seeds::sweep;

#[test]
fn acl_same_seed_same_trace() {
    let base = Settings {
        acl: Some(AclUsers::from_guide().expect("the guide's users")),
        ..Settings::default()
    };
    sweep(
        "ha_acl_determinism",
        "acl_same_seed_same_trace",
        2,
        |seed| {
            let (s, f, _, _) = scenario_of("master-crash", &base).ok_or("no scenario")?;
            let (a, fa) = run(seed, &s, &f)?;
            let (b, fb) = run(seed, &s, &f)?;
            if fa != fb {
                return Err(format!("faults differ: {fa:?} vs {fb:?}"));
            }
            if a.master_changes != b.master_changes || a.master_changes.len() != 2 {
                return Err(format!(
                    "master changes differ (or no failover): {:?} vs {:?}",
                    a.master_changes, b.master_changes
                ));
            }
            if a.history.is_empty() || a.history != b.history {
                let first = a.history.iter().zip(&b.history).find(|(x, y)| x != y);
                return Err(format!(
                    "histories differ ({} vs {} operations), first at {first:?}",
                    a.history.len(),
                    b.history.len()
                ));
            }
            Ok(())
        },
    );
}
