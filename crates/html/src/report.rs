//! The simulation report: reads an output directory and lays out the sections of issue 6
//! (summary, map, policy comparison, task figures, utilisation, one satellite, faults) and,
//! when the run had one, the IoT workload (issue 17).

use std::collections::BTreeMap;
use std::path::Path;

use crate::charts::{self, Figure, MapLayers, policy_colour};
use crate::geo::{self, Geography};
use crate::globe;
use tiandi_report::iot::IotFigures;
use tiandi_report::summary::PolicyFigures;
use tiandi_report::tasks::TaskRow;
use tiandi_sim::model::LinkSample;

use crate::load::{self, Output, PolicyData};
use crate::page::{Page, escape, table};
use crate::{HtmlError, ReportOptions};

/// The policy whose link, node and fault series are drawn: `unified` when it ran (the
/// policy the project argues for), else the first.
fn featured(out: &Output) -> usize {
    out.runs
        .iter()
        .position(|r| r.figures.policy == "unified")
        .unwrap_or(0)
}

fn num(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "-".into(),
    }
}

fn pct(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{:.1} %", v * 100.0),
        _ => "-".into(),
    }
}

fn gb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e9)
}

fn swatch(name: &str, idx: usize) -> String {
    let c = policy_colour(name, idx);
    format!(
        "<span class=\"swatch\" style=\"background:#{:02x}{:02x}{:02x}\"></span>{}",
        c.0,
        c.1,
        c.2,
        escape(name)
    )
}

/// The satellite for the power/thermal figure and why it was chosen.
fn pick_satellite(
    options: &ReportOptions,
    run: &PolicyData,
    geo: Option<&Geography>,
    n_sats: u32,
) -> Result<Option<(u32, String)>, HtmlError> {
    if let Some(node) = &options.node {
        let idx = match node.parse::<u32>() {
            Ok(i) => i,
            Err(_) => {
                let labels = geo.map(|g| &g.labels[..g.satellites().len()]).ok_or_else(|| HtmlError::UnknownNode {
                    node: node.clone(),
                    message: "satellite names need the scenario, which is not available; give an index".into(),
                })?;
                labels
                    .iter()
                    .position(|l| l == node)
                    .ok_or_else(|| HtmlError::UnknownNode {
                        node: node.clone(),
                        message: "no satellite of that name in the scenario".into(),
                    })? as u32
            }
        };
        if n_sats > 0 && idx >= n_sats {
            return Err(HtmlError::UnknownNode {
                node: node.clone(),
                message: format!("satellite indices run from 0 to {}", n_sats - 1),
            });
        }
        return Ok(Some((idx, "Chosen with --node.".into())));
    }
    Ok(run.files.nodes.as_ref().ok().and_then(|n| charts::most_stressed(n)).map(|s| (s, "The most stressed satellite: the lowest state of charge reached (ties: the hottest); choose another with `tiandi report DIR --node N`.".to_string())))
}

/// The report of the output directory `dir` as one HTML page.
pub fn render_report(dir: &Path, options: &ReportOptions) -> Result<String, HtmlError> {
    let out = load::read_output(dir)?;
    let geo = geo::find_scenario(dir, &out.summary);
    let s = &out.summary;
    let n_sats = s
        .n_satellites
        .or_else(|| geo.as_ref().ok().map(|g| g.satellites().len() as u32))
        .unwrap_or(0);
    let f_idx = featured(&out);
    let frun = &out.runs[f_idx];
    let fpol = frun.figures.policy.clone();
    let label = |i: u32| -> String {
        match &geo {
            Ok(g) => g
                .labels
                .get(i as usize)
                .cloned()
                .unwrap_or_else(|| format!("node {i}")),
            Err(_) => format!("node {i}"),
        }
    };
    let chosen = pick_satellite(options, frun, geo.as_ref().ok(), n_sats)?;

    let name = s.scenario.clone().unwrap_or_else(|| "scenario".into());
    let policies: Vec<&str> = out.runs.iter().map(|r| r.figures.policy.as_str()).collect();
    let mut page = Page::new(
        &format!("tiandi report: {name}"),
        &format!(
            "{} to {}, policies {}, seed {}",
            s.start_utc,
            s.end_utc,
            policies.join(", "),
            s.seed.map_or("-".into(), |v| v.to_string())
        ),
    );

    // Summary.
    page.section("summary", "Scenario");
    let mut rows: Vec<Vec<String>> = vec![
        vec!["scenario".into(), escape(&name)],
        vec![
            "source".into(),
            escape(s.scenario_source.as_deref().unwrap_or("-")),
        ],
        vec![
            "scenario hash".into(),
            escape(s.scenario_hash.as_deref().unwrap_or("-")),
        ],
        vec!["seed".into(), s.seed.map_or("-".into(), |v| v.to_string())],
        vec![
            "window (UTC)".into(),
            format!(
                "{} to {} ({:.1} h)",
                escape(&s.start_utc),
                escape(&s.end_utc),
                out.duration_s() / 3_600.0
            ),
        ],
        vec!["step".into(), format!("{} s", s.step_s)],
    ];
    if let Ok(g) = &geo
        && let Some(d) = description(g)
    {
        rows.insert(1, vec!["description".into(), escape(&d)]);
    }
    let count = |v: Option<u32>| v.map_or("-".into(), |v| v.to_string());
    rows.push(vec!["satellites".into(), count(s.n_satellites)]);
    rows.push(vec!["ground stations".into(), count(s.n_ground_stations)]);
    rows.push(vec!["data centres".into(), count(s.n_data_centres)]);
    rows.push(vec!["user regions".into(), count(s.n_user_regions)]);
    rows.push(vec![
        "tasks".into(),
        out.runs[0].figures.tasks_total.to_string(),
    ]);
    rows.push(vec![
        "tiandi version".into(),
        escape(s.tiandi_version.as_deref().unwrap_or("-")),
    ]);
    let cols = table(&["".into(), "".into()], &rows).replacen(
        "<table>\n<thead><tr><th></th><th></th></tr></thead>",
        "<table class=\"kv\">",
        1,
    );
    match &geo {
        Ok(g) => {
            let spec = g.spec();
            let n = spec.stations.len() + spec.data_centres.len() + spec.user_terminals.len();
            page.html(&format!(
                "<div class=\"cols\">{cols}<details><summary>Ground segment: {n} nodes</summary>{}</details></div>",
                ground_table(g)
            ))
        }
        Err(e) => {
            page.html(&cols);
            page.note(&format!("Positions of satellites and ground nodes: not in this output ({e}). The map and the fault map need them."));
        }
    }

    // Globe.
    page.section("globe", "Globe");
    match &geo {
        Ok(g) => page.html(&globe::globe_html(&globe::globe_data(&out, g, frun))),
        Err(e) => page.note(&format!("Globe: not in this output ({e}).")),
    }

    // Map.
    page.section("map", "Map");
    match &geo {
        Ok(g) => {
            let (step, used) = snapshot_step(&out, frun);
            let layers = MapLayers {
                geo: g,
                t_s: out.step_start_s(step),
                used_links: used,
                highlight: chosen.as_ref().map(|c| c.0),
            };
            page.figure(&charts::map_figure(&out, &layers, &fpol)?);
            if let Err(e) = &frun.files.links {
                page.note(&format!("Links that carried data: {e}."));
            }
        }
        Err(e) => page.note(&format!("Map: not in this output ({e}).")),
    }

    // Policies.
    page.section("policies", "Policies side by side");
    page.html(&policy_table(&out));

    // Tasks.
    page.section("tasks", "Task latency, deadlines and bytes");
    let with_tasks: Vec<(&PolicyData, &[TaskRow])> = out
        .runs
        .iter()
        .filter_map(|r| Some((r, r.files.tasks.as_ref().ok()?.as_slice())))
        .collect();
    let mut figs: Vec<Figure> = Vec::new();
    for kind in charts::kinds_of(&out) {
        if let Some(f) = charts::cdf_figure(&out, &kind, &with_tasks)? {
            figs.push(f);
        }
    }
    for r in &out.runs {
        if let Err(e) = &r.files.tasks {
            page.note(&format!("Task records of {}: {e}.", r.figures.policy));
        }
    }
    if figs.is_empty() {
        page.note("Latency CDF: no completed tasks in this output.");
    }
    if let Some(f) = charts::deadline_figure(&out)? {
        figs.push(f);
    }
    figs.push(charts::bytes_figure(&out)?);
    page.grid(&figs);
    page.html(&kind_table(&out));

    // Utilisation.
    page.section("utilisation", "Link utilisation");
    match &frun.files.links {
        Ok(links) => match charts::heatmap_figure(&out, links, &fpol, &label)? {
            Some(f) => page.figure(&f),
            None => page.note(&format!("No link carried data under {fpol}.")),
        },
        Err(e) => page.note(&format!("Link utilisation of {fpol}: {e}.")),
    }

    // One satellite.
    page.section("satellite", "Power and thermal");
    match (&frun.files.nodes, &chosen) {
        (Ok(nodes), Some((sat, why))) => {
            match charts::satellite_figure(&out, nodes, *sat, &label(*sat), &fpol, why)? {
                Some(f) => page.figure(&f),
                None => page.note(&format!(
                    "Satellite {}: no samples in the node series of {fpol}.",
                    label(*sat)
                )),
            }
        }
        (Ok(_), None) => page.note(&format!("The node series of {fpol} is empty.")),
        (Err(e), _) => page.note(&format!(
            "Battery, temperature and compute power of {fpol}: {e}."
        )),
    }

    // Faults.
    page.section("faults", "Faults");
    let fault_rows: Vec<Vec<String>> = out
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = &r.figures;
            let opt = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
            vec![
                swatch(&p.policy, i),
                opt(p.faults_injected),
                opt(p.faults_recovered),
                p.failed.to_string(),
            ]
        })
        .collect();
    page.html(&table(
        &[
            "policy".into(),
            "faults injected".into(),
            "recovered".into(),
            "tasks failed".into(),
        ],
        &fault_rows,
    ));
    match &frun.files.faults {
        Ok(faults) if faults.is_empty() => page.note(&format!("No fault struck under {fpol}.")),
        Ok(faults) => {
            let mut figs = vec![charts::fault_timeline_figure(&out, faults, &fpol, n_sats)?];
            match &geo {
                Ok(g) => figs.insert(0, charts::fault_map_figure(g, faults, &fpol)?),
                Err(e) => page.note(&format!("Where faults struck: not in this output ({e}).")),
            }
            for f in &figs {
                page.figure(f);
            }
        }
        Err(e) => page.note(&format!(
            "Where and when faults struck: {e}; the counts above are from summary.json."
        )),
    }

    if let Some(iot) = &s.iot {
        iot_section(&mut page, iot, &label)?;
    }

    page.section("about", "About this report");
    page.html(&format!(
        "<p>Made by <code>tiandi report</code> from <code>{}</code>: summary.json, tasks.csv, links, nodes and faults files of each policy; positions from the scenario. Self-contained: no external file; the globe's scripts (three.js 0.149.0, MIT, and tiandi's) are inline, and every figure but the globe is static SVG. Rebuild with <code>tiandi report {} [--node N]</code>.</p>",
        escape(&dir.display().to_string()),
        escape(&dir.display().to_string())
    ));
    Ok(page.finish())
}

/// Satellite IoT: the messages' fates, their latency, and the buffers.
fn iot_section(
    page: &mut Page,
    iot: &IotFigures,
    label: &dyn Fn(u32) -> String,
) -> Result<(), HtmlError> {
    page.section("iot", "Satellite IoT store and forward");
    let sent = iot.messages_sent;
    let share = |n: u64| {
        if sent == 0 {
            "-".to_string()
        } else {
            format!("{:.2} %", n as f64 * 100.0 / sent as f64)
        }
    };
    let mins = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.1}", v / 60.0));
    let rows = vec![
        vec!["terminals".into(), iot.terminals.to_string(), String::new()],
        vec![
            "messages sent".into(),
            sent.to_string(),
            format!("{} bytes each", iot.message_bytes),
        ],
        vec![
            "delivered".into(),
            iot.delivered.to_string(),
            share(iot.delivered),
        ],
        vec![
            "stored aboard at the end".into(),
            iot.stored.to_string(),
            share(iot.stored),
        ],
        vec![
            "dropped (buffer full)".into(),
            iot.dropped.to_string(),
            share(iot.dropped),
        ],
        vec![
            "still on terminals".into(),
            iot.on_terminal.to_string(),
            share(iot.on_terminal),
        ],
        vec![
            "latency mean / p50 / p95 / p99 / max, min".into(),
            format!(
                "{} / {} / {} / {} / {}",
                mins(iot.latency_mean_s),
                mins(iot.latency_p50_s),
                mins(iot.latency_p95_s),
                mins(iot.latency_p99_s),
                mins(iot.latency_max_s)
            ),
            String::new(),
        ],
        vec![
            "buffer peak (one satellite)".into(),
            iot.buffer_peak_messages.to_string(),
            format!("of {} messages", iot.buffer_messages),
        ],
        vec![
            "downlink gained through ISLs".into(),
            format!("{:.1} h", iot.isl_relay_s / 3_600.0),
            "satellite-hours".into(),
        ],
        vec![
            "visibility cut by outages".into(),
            format!("{:.1} h", iot.outage_cut_s / 3_600.0),
            "satellite-hours".into(),
        ],
    ];
    page.html(&table(
        &["".into(), "messages".into(), "share".into()],
        &rows,
    ));
    let mut figs = Vec::new();
    figs.extend(charts::iot_latency_figure(iot)?);
    figs.extend(charts::iot_occupancy_figure(iot)?);
    if figs.is_empty() {
        page.note("No IoT message was delivered or stored.");
    } else {
        page.grid(&figs);
    }
    let mut busiest: Vec<&tiandi_report::iot::IotSatellite> = iot.satellites.iter().collect();
    busiest.sort_by(|a, b| {
        b.peak_messages
            .cmp(&a.peak_messages)
            .then(b.dropped.cmp(&a.dropped))
            .then(a.satellite.cmp(&b.satellite))
    });
    let rows: Vec<Vec<String>> = busiest
        .iter()
        .take(10)
        .map(|b| {
            vec![
                escape(&label(b.satellite)),
                b.peak_messages.to_string(),
                format!("{:.1}", b.mean_messages),
                b.dropped.to_string(),
            ]
        })
        .collect();
    page.html(&format!(
        "<details><summary>The {} fullest buffers</summary>{}</details>",
        rows.len(),
        table(
            &[
                "satellite".into(),
                "peak messages".into(),
                "mean messages".into(),
                "dropped".into(),
            ],
            &rows,
        )
    ));
    Ok(())
}

fn description(g: &Geography) -> Option<String> {
    // The scenario type keeps no description: read it from the TOML text.
    let text = match tiandi_scenario::built_in(&g.scenario.source) {
        Some(t) => t.to_string(),
        None => std::fs::read_to_string(&g.scenario.source).ok()?,
    };
    text.lines()
        .find_map(|l| l.strip_prefix("description = "))
        .map(|d| d.trim().trim_matches('"').to_string())
}

/// Ground stations, data centres and user regions with coordinates.
fn ground_table(g: &Geography) -> String {
    let mut rows = Vec::new();
    let fmt = |lat: f64, lon: f64| (format!("{lat:.2}"), format!("{lon:.2}"));
    for p in g.stations() {
        let (a, b) = fmt(p.lat, p.lon);
        rows.push(vec![escape(&p.name), "ground station".into(), a, b]);
    }
    for p in g.data_centres() {
        let (a, b) = fmt(p.lat, p.lon);
        rows.push(vec![escape(&p.name), "data centre".into(), a, b]);
    }
    for (p, _) in g.regions() {
        let (a, b) = fmt(p.lat, p.lon);
        rows.push(vec![escape(&p.name), "user region (centre)".into(), a, b]);
    }
    table(
        &[
            "ground node".into(),
            "kind".into(),
            "lat (deg)".into(),
            "lon (deg)".into(),
        ],
        &rows,
    )
}

/// The step at which the featured policy moved the most bytes, and the links busy then.
fn snapshot_step(out: &Output, run: &PolicyData) -> (u32, Vec<LinkSample>) {
    let Ok(links) = &run.files.links else {
        return (
            ((out.duration_s() / out.summary.step_s) / 2.0) as u32,
            Vec::new(),
        );
    };
    let mut by_step: BTreeMap<u32, u64> = BTreeMap::new();
    for l in links {
        *by_step.entry(l.step).or_default() += l.bytes;
    }
    let step = by_step
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or(
            ((out.duration_s() / out.summary.step_s) / 2.0) as u32,
            |(s, _)| *s,
        );
    (
        step,
        links.iter().filter(|l| l.step == step).copied().collect(),
    )
}

/// One column per policy, one row per figure of summary.json.
fn policy_table(out: &Output) -> String {
    let header: Vec<String> = std::iter::once(String::new())
        .chain(
            out.runs
                .iter()
                .enumerate()
                .map(|(i, r)| swatch(&r.figures.policy, i)),
        )
        .collect();
    let mut rows = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&PolicyFigures) -> String| {
        rows.push(
            std::iter::once(label.to_string())
                .chain(out.runs.iter().map(|r| f(&r.figures)))
                .collect::<Vec<_>>(),
        );
    };
    row("tasks", &|p| p.tasks_total.to_string());
    row("completed", &|p| p.completed.to_string());
    row("failed", &|p| p.failed.to_string());
    row("dropped", &|p| p.dropped.to_string());
    row("deadline met", &|p| pct(p.deadline_met_ratio));
    row("latency p50 (s)", &|p| num(p.latency_p50_s, 2));
    row("latency p95 (s)", &|p| num(p.latency_p95_s, 2));
    row("latency p99 (s)", &|p| num(p.latency_p99_s, 2));
    row("downlink (GB)", &|p| gb(p.downlink_bytes));
    row("ISL (GB)", &|p| gb(p.isl_bytes));
    row("energy used (kWh)", &|p| {
        num(p.energy_used_wh.map(|v| v / 1e3), 2)
    });
    let split = |f: fn(&tiandi_report::summary::EnergyFigures) -> f64| {
        move |p: &PolicyFigures| num(p.energy.as_ref().map(|e| f(e) / 1e3), 2)
    };
    row("energy: compute (kWh)", &split(|e| e.compute_wh));
    row("energy: idle (kWh)", &split(|e| e.idle_wh));
    row("energy: bus (kWh)", &split(|e| e.bus_wh));
    row("energy: heater (kWh)", &split(|e| e.heater_wh));
    row("energy curtailed (kWh)", &|p| {
        num(p.energy_curtailed_wh.map(|v| v / 1e3), 2)
    });
    row("throttled (h)", &|p| {
        num(p.throttled_s.map(|v| v / 3_600.0), 2)
    });
    row("power-limited (h)", &|p| {
        num(p.power_limited_s.map(|v| v / 3_600.0), 2)
    });
    row("faults injected", &|p| {
        p.faults_injected.map_or("-".into(), |v| v.to_string())
    });
    row("faults hit stages", &|p| {
        p.faults_hit_stages.map_or("-".into(), |v| v.to_string())
    });
    row("stages retried", &|p| {
        p.faults_recovered.map_or("-".into(), |v| v.to_string())
    });
    row("ISL acquiring (h)", &|p| {
        num(p.isl_acquiring_s.map(|v| v / 3_600.0), 2)
    });
    row("GSL handover (h)", &|p| {
        num(p.gsl_handover_s.map(|v| v / 3_600.0), 2)
    });
    table(&header, &rows)
}

/// Per task kind and policy: completion, deadlines, latency and where it was computed.
fn kind_table(out: &Output) -> String {
    let mut rows = Vec::new();
    for kind in charts::kinds_of(out) {
        for (i, r) in out.runs.iter().enumerate() {
            let Some(k) = r.figures.by_kind.iter().find(|k| k.kind == kind) else {
                continue;
            };
            let opt = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
            rows.push(vec![
                escape(&kind),
                swatch(&r.figures.policy, i),
                format!("{}/{}", k.completed, k.total),
                pct(k.deadline_met_ratio),
                num(k.latency_p50_s, 2),
                num(k.latency_p95_s, 2),
                k.downlink_bytes.map_or("-".into(), gb),
                opt(k.computed_in_orbit),
                opt(k.computed_on_ground),
            ]);
        }
    }
    let header = [
        "task kind",
        "policy",
        "completed",
        "deadline met",
        "p50 (s)",
        "p95 (s)",
        "downlink (GB)",
        "computed in orbit",
        "on the ground",
    ]
    .map(String::from);
    table(&header, &rows)
}
