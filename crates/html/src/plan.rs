//! The page of `tiandi plan --html FILE`: the sized satellite's mass breakdown, its
//! lifetime cost beside a ground data centre, its verdict, and every line of the plan
//! (the fleet's too) with its formula.

use tiandi_node::plan::{Plan, PlanLine};

use crate::HtmlError;
use crate::charts;
use crate::page::{Page, escape, table};

/// Lines M1-M6 (mass) and the cost components (S1-S3, G2/G4/G5) as they appear in the
/// figures.
const MASS: [&str; 6] = ["M1", "M2", "M3", "M4", "M5", "M6"];
const SPACE_COST: [&str; 3] = ["S1", "S2", "S3"];
const GROUND_COST: [&str; 3] = ["G2", "G4", "G5"];

/// The plan as one self-contained HTML page; `heading` says what was sized (the text
/// output's first line). `fleet` holds the fleet's lines (F, L) when one was planned, and
/// `warnings` what the text output warns of; the verdict is stated either way.
pub fn plan_page(
    heading: &str,
    plan: &Plan,
    fleet: &[PlanLine],
    warnings: &[String],
) -> Result<String, HtmlError> {
    let mut lines = plan.lines();
    lines.extend_from_slice(fleet);
    let line = |id: &str| lines.iter().find(|l| l.id == id);
    let items = |ids: &[&str], scale: f64| -> Vec<(String, f64)> {
        ids.iter()
            .filter_map(|id| line(id))
            .map(|l| (format!("{} {}", l.id, l.label), l.value / scale))
            .collect()
    };
    let mut page = Page::new("tiandi plan", heading);
    page.section("figures", "Mass and cost");
    // Short names under the bars: the full labels overlap at six bars.
    let short = |id: &str| match id {
        "M1" => "compute",
        "M2" => "solar array",
        "M3" => "battery",
        "M4" => "radiator",
        "M5" => "structure",
        "M6" => "margin",
        _ => "",
    };
    let mass_items: Vec<(String, f64)> = MASS
        .iter()
        .filter_map(|id| line(id))
        .map(|l| (format!("{} {}", l.id, short(l.id)), l.value))
        .collect();
    let mass = charts::mass_figure(&mass_items)?;
    let cost = charts::cost_figure(
        &items(&SPACE_COST, 1e6),
        &items(&GROUND_COST, 1e6),
        "million CNY",
    )?;
    page.grid(&[mass, cost]);
    let x = plan.space_to_ground_cost_ratio();
    if x.is_finite() {
        page.note(&format!("Per delivered accelerator-hour, the satellite costs {x:.2} times the ground data centre (X1 = S6 / G8)."));
    }
    let failed = plan.verification.failed_checks();
    if failed.is_empty() {
        page.note("Verdict: feasible (the sized satellite passes its own verification, V1-V3).");
    } else {
        for f in &failed {
            page.note(&format!(
                "Verdict: infeasible. Fails {}: {}.",
                f.id, f.message
            ));
        }
    }
    for w in warnings {
        page.note(&format!("Warning: {w}."));
    }
    page.section("lines", "Every line");
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                escape(l.id),
                escape(l.section),
                escape(l.label),
                value_text(l.value),
                escape(l.unit),
                escape(l.formula),
            ]
        })
        .collect();
    let every_line = table(
        &["id", "section", "quantity", "value", "unit", "formula"].map(String::from),
        &rows,
    );
    page.html(&every_line.replacen("<table>", "<table class=\"lines\">", 1));
    page.note("Ids, formulas and the sources of every coefficient: docs/plan.md.");
    Ok(page.finish())
}

fn value_text(v: f64) -> String {
    if !v.is_finite() {
        v.to_string()
    } else if v.abs() >= 1_000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}
