//! One twin, two drivers: the simulator and the live service build the same world from
//! the same scenario, see the same answers at the same instants, and make the same
//! placements for the same tasks.

mod twin_paths;

use tiandi_scenario::DEFAULT_SCENARIO_TOML;
use twin_paths::{agreement, scenario, service_answers, sim_answers};

/// Every 36 minutes of the default scenario's 6 hours (step 10 s): 10 instants, the first
/// at its start and the last 5 h 24 min in.
const STEPS: [u32; 10] = [0, 216, 432, 648, 864, 1080, 1296, 1512, 1728, 1944];

#[test]
fn both_drivers_give_the_same_view_answers() {
    let s = scenario(DEFAULT_SCENARIO_TOML, "default");
    let sim = sim_answers(&s, &STEPS);
    let svc = service_answers(&s, &STEPS);
    assert_eq!(
        sim.len(),
        STEPS.len(),
        "the simulator reached every instant"
    );
    assert_eq!(svc.len(), STEPS.len(), "the service reached every instant");
    for step in STEPS {
        let (a, b) = (&sim[&step], &svc[&step]);
        assert_eq!(a.len(), b.len(), "step {step}: as many answers");
        if let Some((x, y)) = a.iter().zip(b).find(|(x, y)| x != y) {
            panic!("step {step}: the simulator answers\n  {x}\nthe service\n  {y}");
        }
        // Not a vacuous match: the answers carry routes, candidates and compute times.
        assert!(
            a.iter()
                .any(|l| l.starts_with("transfer") && l.contains("Some("))
        );
        assert!(
            a.iter()
                .filter(|l| l.contains(" compute "))
                .any(|l| !l.ends_with("inf"))
        );
    }
}

/// The built-in light variant: the default with a tenth of its work, so queues do not
/// form.
fn light() -> String {
    tiandi_scenario::built_in("light").unwrap().to_string()
}

#[test]
fn both_drivers_place_the_same_first_stages_under_light_load() {
    let s = scenario(&light(), "light");
    let a = agreement(&s, 2_000);
    assert_eq!(a.compared, 2_000, "{a:?}");
    assert!(a.share() >= 0.99, "agreement {:.4}: {a:?}", a.share());
}
