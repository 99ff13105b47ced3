//! The page of `tiandi reach --html FILE`: one map of latency circles per threshold (the
//! share of time each grid cell reaches compute within it), a map of the median delay, and
//! the access model the figures rest on.

use crate::HtmlError;
use crate::charts::{self, ReachCell, ReachMap};
use crate::geo::GroundPoint;
use crate::page::{Page, escape, table};

/// Everything the page shows.
pub struct ReachPage<'a> {
    /// What was computed (scenario, compute set, horizon): the page's subtitle.
    pub heading: String,
    /// "one-way" or "round-trip".
    pub delay_kind: &'a str,
    /// The access model and other facts the reader needs, one sentence each.
    pub notes: Vec<String>,
    pub thresholds_ms: &'a [f64],
    /// Per threshold, every cell's share of time within it.
    pub shares: Vec<Vec<ReachCell>>,
    /// Every cell's median best delay, ms.
    pub median: Vec<ReachCell>,
    pub cell_deg: f64,
    pub lon: (f64, f64),
    pub lat: (f64, f64),
    pub data_centres: Vec<GroundPoint>,
    pub stations: Vec<GroundPoint>,
}

fn threshold_text(t: f64) -> String {
    format!("{t}")
}

/// The page as self-contained HTML.
pub fn reach_page(p: &ReachPage<'_>) -> Result<String, HtmlError> {
    let mut page = Page::new("tiandi reach", &p.heading);
    page.section("circles", "Latency circles");
    for n in &p.notes {
        page.note(n);
    }
    let n_points = p.median.len();
    let mut rows = Vec::new();
    for (t, cells) in p.thresholds_ms.iter().zip(&p.shares) {
        let count =
            |f: &dyn Fn(f64) -> bool| cells.iter().filter(|c| c.value.is_some_and(f)).count();
        let always = count(&|v| v >= 1.0);
        let most = count(&|v| v >= 0.99);
        let half = count(&|v| v >= 0.5);
        let ever = count(&|v| v > 0.0);
        let pct = |n: usize| format!("{n} ({:.1} %)", 100.0 * n as f64 / n_points.max(1) as f64);
        rows.push(vec![
            escape(&format!("{} ms", threshold_text(*t))),
            pct(always),
            pct(most),
            pct(half),
            pct(ever),
        ]);
    }
    page.html(&table(
        &[
            format!("{} delay within", p.delay_kind),
            "points always".into(),
            "at least 99 % of the time".into(),
            "at least half the time".into(),
            "ever".into(),
        ],
        &rows,
    ));
    for (i, (t, cells)) in p.thresholds_ms.iter().zip(&p.shares).enumerate() {
        let t = threshold_text(*t);
        let f = charts::reach_map_figure(&ReachMap {
            id: format!("reach-{i}"),
            title: format!("Share of time within {t} ms ({})", p.delay_kind),
            caption: format!(
                "Each {}° cell: the share of snapshots at which the best {} delay from its centre to compute is at most {t} ms.",
                p.cell_deg, p.delay_kind
            ),
            cells,
            cell_deg: p.cell_deg,
            lon: p.lon,
            lat: p.lat,
            range: (0.0, 1.0),
            scale_label: "share of time".into(),
            data_centres: &p.data_centres,
            stations: &p.stations,
        })?;
        page.figure(&f);
    }
    page.section("median", "Median delay");
    let finite: Vec<f64> = p.median.iter().filter_map(|c| c.value).collect();
    let hi = finite.iter().copied().fold(0.0_f64, f64::max);
    let lo = finite.iter().copied().fold(hi, f64::min);
    let f = charts::reach_map_figure(&ReachMap {
        id: "reach-median".into(),
        title: format!("Median best {} delay to compute (ms)", p.delay_kind),
        caption: "Each cell: the median over the horizon of the best delay from its centre to compute. Grey: no compute reached at least half of the time.".into(),
        cells: &p.median,
        cell_deg: p.cell_deg,
        lon: p.lon,
        lat: p.lat,
        range: (lo, hi.max(lo + 1e-9)),
        scale_label: "median delay (ms)".into(),
        data_centres: &p.data_centres,
        stations: &p.stations,
    })?;
    page.figure(&f);
    page.note("The model, its sources and the command line: docs/reach.md.");
    Ok(page.finish())
}
