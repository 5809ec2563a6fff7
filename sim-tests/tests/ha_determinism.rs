//! One seed, one trace: the same scenario run twice with the same seed produces the same
//! history, master changes and faults. (In its own test binary: simulations running
//! concurrently on other threads of the same process have been seen to shift timings by a
//! millisecond — see the closing note — so this runs alone.)

use picket_sim_tests::ha::{run, scenario as scenario_of, Settings};
use picket_sim_tests::seeds::sweep;

#[test]
fn same_seed_same_trace() {
    sweep("ha_determinism", "same_seed_same_trace", 2, |seed| {
        let (s, f, _, _) = scenario_of("master-crash", &Settings::default()).unwrap();
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
        for (x, y) in a.history.iter().zip(&b.history) {
            if x != y {
                return Err(format!("histories differ: {x:?} vs {y:?}"));
            }
        }
        if a.history.len() != b.history.len() {
            return Err(format!(
                "histories differ in length: {} vs {}",
                a.history.len(),
                b.history.len()
            ));
        }
        Ok(())
    });
}
