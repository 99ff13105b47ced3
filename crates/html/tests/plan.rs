//! The planner's page: self-contained, with the mass and cost figures and every line.

use tiandi_html::{audit, plan_page};
use tiandi_node::accelerator;
use tiandi_node::plan::{ComputeTarget, PlanInput, plan};

#[test]
fn plan_page_has_mass_and_cost_figures_and_every_line() {
    let input = PlanInput::new(accelerator("h100").unwrap(), ComputeTarget::Count(8));
    let p = plan(&input).unwrap();
    let html = plan_page("8 x H100, 550 km dawn-dusk", &p, &[], &[]).unwrap();
    assert_eq!(audit(&html), Vec::<String>::new());
    assert!(html.contains("id=\"fig-mass\"") && html.contains("id=\"fig-cost\""));
    for l in &p.lines() {
        assert!(
            html.contains(&format!("<td>{}</td>", l.id)),
            "line {} missing",
            l.id
        );
    }
    // The mass bars are M1-M6, which add up to the launch mass M7.
    let lines = p.lines();
    let m: f64 = lines
        .iter()
        .filter(|l| ["M1", "M2", "M3", "M4", "M5", "M6"].contains(&l.id))
        .map(|l| l.value)
        .sum();
    assert!((m - p.mass.total_kg).abs() < 1e-6 * p.mass.total_kg);
    for id in [
        "M1 compute",
        "M6 margin",
        "S1 launch cost",
        "G4 electricity cost",
    ] {
        assert!(
            html.contains(&format!(">\n{id}\n</text>")),
            "{id} not drawn"
        );
    }
}

#[test]
fn plan_page_shows_the_fleet_the_verdict_and_the_warnings() {
    let input = PlanInput::new(accelerator("h100").unwrap(), ComputeTarget::Count(8));
    let p = plan(&input).unwrap();
    let fleet = tiandi_node::fleet::fleet(&p, 40, 0.02, 5.0, true).lines();
    let warning = "one satellite is too heavy to launch in one piece on X".to_string();
    let html = plan_page("a fleet", &p, &fleet, std::slice::from_ref(&warning)).unwrap();
    assert_eq!(audit(&html), Vec::<String>::new());
    for id in ["F1", "F4", "F11", "L1", "L5"] {
        assert!(
            html.contains(&format!("<td>{id}</td>")),
            "line {id} missing"
        );
    }
    assert!(html.contains("Verdict: feasible"));
    assert!(html.contains(&warning));

    let mut bad = input.clone();
    bad.pointing = tiandi_node::Pointing::BodyFixedZenith;
    let p = plan(&bad).unwrap();
    let html = plan_page("body-fixed", &p, &[], &[]).unwrap();
    assert!(html.contains("Verdict: infeasible. Fails V3"), "no verdict");
}
