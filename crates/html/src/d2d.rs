//! The page of `tiandi d2d` (`DIR/report.html`): the run's figures and link budget, and per
//! handset the handovers, the outage and the sessions dropped, as tables and bar charts.

use crate::HtmlError;
use crate::charts;
use crate::page::{Page, escape, table};

/// One handset's figures.
pub struct D2dTerminal {
    pub name: String,
    pub handovers_per_hour: f64,
    /// Share of the window with no satellite in view.
    pub outage_share: f64,
    pub sessions: usize,
    pub blocked: usize,
    pub dropped: usize,
}

/// Everything the page shows.
pub struct D2dPage {
    /// What was run (satellites, window, strategy): the page's subtitle.
    pub heading: String,
    /// (label, value) of the run's figures, in order.
    pub figures: Vec<(String, String)>,
    /// (label, value) of the handset link budget.
    pub budget: Vec<(String, String)>,
    pub terminals: Vec<D2dTerminal>,
}

/// The page as self-contained HTML.
pub fn d2d_page(p: &D2dPage) -> Result<String, HtmlError> {
    let mut page = Page::new("tiandi d2d", &p.heading);
    let kv = |rows: &[(String, String)]| {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|(k, v)| vec![escape(k), escape(v)])
            .collect();
        table(&["".into(), "".into()], &rows).replacen(
            "<table>\n<thead><tr><th></th><th></th></tr></thead>",
            "<table class=\"kv\">",
            1,
        )
    };
    page.section("d2d", "Direct-to-device service");
    page.html(&kv(&p.figures));
    page.section("budget", "Handset link budget");
    page.note("The satellite serves a handset only where the downlink carries the required rate (Shannon's bound over the handset's bandwidth); where that needs more elevation than the handset's mask, the budget is the mask (docs/d2d.md).");
    page.html(&kv(&p.budget));
    page.section("terminals", "Handsets");
    // Bars numbered as the table's rows: twenty names do not fit under a chart.
    let names: Vec<String> = (1..=p.terminals.len()).map(|i| i.to_string()).collect();
    let figs = [
        charts::terminal_bars(
            "d2d-handovers",
            "Handovers per hour, by handset",
            "handovers per hour",
            &names,
            &p.terminals
                .iter()
                .map(|t| t.handovers_per_hour)
                .collect::<Vec<_>>(),
            "Changes of serving satellite per hour of each handset, numbered as in the table below (handovers.csv).",
        )?,
        charts::terminal_bars(
            "d2d-outage",
            "Time with no satellite in view, by handset",
            "outage (% of the window)",
            &names,
            &p.terminals
                .iter()
                .map(|t| t.outage_share * 100.0)
                .collect::<Vec<_>>(),
            "Share of the window in which no satellite met the handset's mask and link budget, handsets numbered as in the table below.",
        )?,
    ];
    page.grid(&figs);
    let rows: Vec<Vec<String>> = p
        .terminals
        .iter()
        .enumerate()
        .map(|(i, t)| {
            vec![
                (i + 1).to_string(),
                escape(&t.name),
                format!("{:.2}", t.handovers_per_hour),
                format!("{:.2} %", t.outage_share * 100.0),
                t.sessions.to_string(),
                t.blocked.to_string(),
                t.dropped.to_string(),
            ]
        })
        .collect();
    page.html(&table(
        &[
            "#".into(),
            "handset".into(),
            "handovers / h".into(),
            "outage".into(),
            "sessions".into(),
            "blocked".into(),
            "dropped".into(),
        ],
        &rows,
    ));
    Ok(page.finish())
}
