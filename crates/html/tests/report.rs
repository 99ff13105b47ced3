//! The report of a small simulated run (examples/small.toml, two policies, written by the
//! report crate as `tiandi simulate --compare` writes it) is self-contained, well formed,
//! complete, small and deterministic; missing outputs are said to be missing.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tiandi_html::{MAX_REPORT_BYTES, ReportOptions, audit, render_report, write_report};
use tiandi_report::{PolicyRun, RunMeta};
use tiandi_scenario::Scenario;
use tiandi_sim::model::RunResult;

const POLICIES: [&str; 2] = ["bent-pipe", "unified"];

/// examples/small.toml with radiation upsets frequent enough to strike within its hour.
fn example() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/small.toml"),
        )
        .unwrap();
        let faulty = text.replace(
            "[faults]\nradiation = true\n",
            "[faults]\nradiation = true\nupsets_per_device_day = 100.0\n",
        );
        assert_ne!(faulty, text, "the example's [faults] table has moved");
        let path = fresh_dir("scenario").join("small.toml");
        std::fs::write(&path, faulty).unwrap();
        path
    })
    .clone()
}

fn fresh_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tiandi-html-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the example once under both policies and writes the outputs.
fn run_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let path = example();
        let scenario = Scenario::load(&path).unwrap();
        let setup = scenario.setup().unwrap();
        let results: Vec<RunResult> = POLICIES
            .iter()
            .map(|p| {
                let mut policy = tiandi_scheduler::by_name(p).unwrap();
                tiandi_sim::run(&setup, policy.as_mut(), &|_, _| {}).unwrap()
            })
            .collect();
        let meta = RunMeta {
            tiandi_version: "test".into(),
            scenario: scenario.name.clone(),
            scenario_source: path.display().to_string(),
            scenario_hash: scenario.hash,
            seed: setup.seed,
            start: setup.start,
            end: setup.end,
            step_ns: setup.step_ns,
            n_satellites: setup.satellites.len() as u32,
            n_ground_stations: setup.network.stations.len() as u32,
            n_data_centres: setup.network.data_centres.len() as u32,
            n_user_regions: setup.network.user_terminals.len() as u32,
        };
        let runs: Vec<PolicyRun<'_>> = POLICIES
            .iter()
            .zip(&results)
            .map(|(p, r)| PolicyRun {
                policy: p,
                result: r,
            })
            .collect();
        let dir = fresh_dir("run");
        tiandi_report::write_outputs(&dir, &meta, &runs).unwrap();
        dir
    })
}

fn figure_ids(html: &str) -> Vec<String> {
    html.match_indices("<figure id=\"fig-")
        .map(|(at, _)| html[at + 16..].split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn report_of_a_small_run_is_self_contained_complete_and_small() {
    let dir = run_dir();
    let path = write_report(dir, &ReportOptions::default()).unwrap();
    assert_eq!(path, dir.join("report.html"));
    let html = std::fs::read_to_string(&path).unwrap();
    assert_eq!(audit(&html), Vec::<String>::new());
    assert!(html.len() < MAX_REPORT_BYTES, "{} bytes", html.len());
    // The small run should stay far below the limit: 1 MB besides the vendored three.js
    // leaves room for the default one.
    let own = html.len() - tiandi_web::THREE_JS.len();
    assert!(own < 1_000_000, "{own} bytes for 60 satellites over 1 h");
    globe_block_matches_the_run(&html);
    let ids = figure_ids(&html);
    for want in [
        "map",
        "cdf-earth-observation",
        "deadline",
        "bytes",
        "heatmap",
        "satellite",
        "fault-map",
        "fault-timeline",
    ] {
        assert!(ids.iter().any(|i| i == want), "no figure {want} in {ids:?}");
    }
    assert!(
        !html.contains("not in this output"),
        "everything is in this output"
    );
    assert!(html.contains("@media (prefers-color-scheme:dark)"));
}

#[test]
fn policies_have_one_colour_across_figures() {
    let html = render_report(run_dir(), &ReportOptions::default()).unwrap();
    // unified is #2E86DE, bent-pipe #E66100: in the table swatches and in every per-policy figure.
    for (policy, hex) in [("unified", "2E86DE"), ("bent-pipe", "E66100")] {
        assert!(
            html.contains(&format!("background:#{}", hex.to_lowercase())),
            "{policy} swatch"
        );
        for fig in ["cdf-earth-observation", "deadline", "bytes"] {
            let at = html.find(&format!("<figure id=\"fig-{fig}\"")).unwrap();
            let body = &html[at..at + html[at..].find("</figure>").unwrap()];
            assert!(
                body.contains(&format!("\"#{hex}\"")),
                "{policy} colour missing from {fig}"
            );
        }
    }
}

#[test]
fn the_same_outputs_give_the_same_page() {
    let a = render_report(run_dir(), &ReportOptions::default()).unwrap();
    let b = render_report(run_dir(), &ReportOptions::default()).unwrap();
    assert!(a == b, "two renderings differ");
}

#[test]
fn node_option_picks_by_index_or_name_and_rejects_unknown() {
    let dir = run_dir();
    let by_index = render_report(
        dir,
        &ReportOptions {
            node: Some("5".into()),
        },
    )
    .unwrap();
    let name = tiandi_scenario::Scenario::load(&example())
        .unwrap()
        .node_labels()[5]
        .clone();
    assert!(
        by_index.contains(&format!("Satellite {name} (unified)")),
        "title names satellite 5 ({name})"
    );
    assert!(by_index.contains("Chosen with --node."));
    let by_name = render_report(
        dir,
        &ReportOptions {
            node: Some(name.clone()),
        },
    )
    .unwrap();
    assert_eq!(by_index, by_name);
    let e = render_report(
        dir,
        &ReportOptions {
            node: Some("999".into()),
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "--node 999: satellite indices run from 0 to 59"
    );
    let e = render_report(
        dir,
        &ReportOptions {
            node: Some("nope".into()),
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "--node nope: no satellite of that name in the scenario"
    );
}

#[test]
fn missing_outputs_are_said_to_be_missing_not_drawn() {
    // One policy's summary and tasks only, and a scenario source that no longer exists.
    let src = run_dir();
    let dir = fresh_dir("partial");
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("summary.json")).unwrap()).unwrap();
    let unified = summary["policies"][1].clone();
    summary["policies"] = serde_json::json!([unified]);
    summary["scenario_source"] = serde_json::json!("/nonexistent/small.toml");
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
    std::fs::copy(src.join("unified/tasks.csv"), dir.join("tasks.csv")).unwrap();
    let html = render_report(&dir, &ReportOptions::default()).unwrap();
    assert_eq!(audit(&html), Vec::<String>::new());
    let ids = figure_ids(&html);
    for absent in ["map", "heatmap", "satellite", "fault-map", "fault-timeline"] {
        assert!(
            !ids.iter().any(|i| i == absent),
            "figure {absent} drawn without its data"
        );
    }
    assert!(
        html.contains("Map: not in this output (the scenario file of the run cannot be read"),
        "map note"
    );
    assert!(html.contains(
        "Link utilisation of unified: not in this output (no links.parquet or links.csv in"
    ));
    assert!(html.contains("Battery, temperature and compute power of unified: not in this output (no nodes.parquet or nodes.csv in"));
    assert!(html.contains(
        "Where and when faults struck: not in this output (no faults.parquet or faults.csv in"
    ));
    // What the files do hold is still drawn.
    assert!(ids.iter().any(|i| i == "cdf-earth-observation"), "{ids:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_edited_end_does_not_stretch_the_globe_past_the_scenario() {
    // summary.json is not covered by the scenario's hash: an end 234 years on must leave the
    // globe at the scenario's own hour, not regenerate centuries of positions and tasks.
    let src = run_dir();
    let dir = fresh_dir("far-end");
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("summary.json")).unwrap()).unwrap();
    assert!(
        summary["end_utc"].is_string(),
        "summary.json's end has moved"
    );
    summary["end_utc"] = serde_json::json!("2260-01-01T00:00:00Z");
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
    let html = render_report(&dir, &ReportOptions::default()).unwrap();
    let at = html.find("id=\"globe-data\">").expect("no globe data") + 16;
    let len = html[at..].find("</script>").unwrap();
    let d: serde_json::Value = serde_json::from_str(&html[at..at + len]).unwrap();
    assert_eq!(d["n_samples"], 61, "the scenario's hour at 60 s");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn csv_series_read_like_parquet() {
    // The report crate without its parquet feature writes links.csv and nodes.csv: the
    // same series as CSV must give the same page as the Parquet files.
    let src = run_dir();
    let dir = fresh_dir("csv");
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("summary.json")).unwrap()).unwrap();
    summary["policies"] = serde_json::json!([summary["policies"][1].clone()]);
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
    for f in ["tasks.csv", "faults.csv", "links.parquet", "nodes.parquet"] {
        std::fs::copy(src.join("unified").join(f), dir.join(f)).unwrap();
    }
    let from_parquet = render_report(&dir, &ReportOptions::default()).unwrap();
    let out = tiandi_html::load::read_output(&dir).unwrap();
    let links = out.runs[0].files.links.as_ref().unwrap();
    let nodes = out.runs[0].files.nodes.as_ref().unwrap();
    assert!(!links.is_empty() && !nodes.is_empty());
    let mut l = String::from("step,time_utc,a,b,kind,bytes,utilisation\n");
    for r in links {
        l.push_str(&format!(
            "{},x,{},{},{},{},{}\n",
            r.step,
            r.a,
            r.b,
            r.kind.as_str(),
            r.bytes,
            r.utilisation
        ));
    }
    let mut n = String::from(
        "step,time_utc,satellite,soc_fraction,temp_k,compute_w,idle_w,bus_w,heater_w,\
         harvested_w,loss_w,curtailed_w,throttled,power_limited,powered_slots,work_flop\n",
    );
    for r in nodes {
        n.push_str(&format!(
            "{},x,{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.step,
            r.satellite,
            r.soc_fraction,
            r.temp_k,
            r.compute_w,
            r.idle_w,
            r.bus_w,
            r.heater_w,
            r.harvested_w,
            r.loss_w,
            r.curtailed_w,
            r.throttled,
            r.power_limited,
            r.powered_slots,
            r.work_flop
        ));
    }
    std::fs::remove_file(dir.join("links.parquet")).unwrap();
    std::fs::remove_file(dir.join("nodes.parquet")).unwrap();
    std::fs::write(dir.join("links.csv"), l).unwrap();
    std::fs::write(dir.join("nodes.csv"), n).unwrap();
    let from_csv = render_report(&dir, &ReportOptions::default()).unwrap();
    assert!(
        from_csv.replace(&dir.display().to_string(), "")
            == from_parquet.replace(&dir.display().to_string(), ""),
        "CSV and Parquet give different pages"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_malformed_file_is_an_error_naming_it() {
    let dir = fresh_dir("bad");
    std::fs::write(dir.join("summary.json"), "{\"policies\": 3}").unwrap();
    let e = render_report(&dir, &ReportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "{}: line 1, column",
            dir.join("summary.json").display()
        )),
        "{e}"
    );
    let e = render_report(&fresh_dir("empty"), &ReportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("summary.json: No such file"), "{e}");
}

/// The globe's data block: every satellite, one sample a minute, tasks and state series.
fn globe_block_matches_the_run(html: &str) {
    let at = html.find("id=\"globe-data\">").expect("no globe data") + 16;
    let len = html[at..].find("</script>").unwrap();
    let d: serde_json::Value = serde_json::from_str(&html[at..at + len]).unwrap();
    assert_eq!(d["n_satellites"], 60);
    assert_eq!(d["sample_s"], 60.0);
    assert_eq!(d["n_samples"], 61, "1 h at 60 s, both ends");
    let pos = d["pos"].as_str().unwrap();
    // 61 samples x 60 satellites x 3 coordinates x 2 bytes, base64.
    assert_eq!(pos.len(), (61 * 60 * 3 * 2usize).div_ceil(3) * 4);
    assert!(
        d["isl_pairs"].as_u64().unwrap() > 0,
        "the small run has ISLs"
    );
    assert!(!d["flows"]["kinds"].as_array().unwrap().is_empty());
    assert!(d["series"]["n_points"].as_u64().unwrap() > 10);
    assert_eq!(d["names"].as_array().unwrap().len(), 60);
    // One 16-bit scale per satellite, its largest coordinate over 32,767: for the example's
    // LEO orbits, at most 8,000 km (and a fair part of their radius).
    let scales = d["pos_scales_km"]
        .as_array()
        .expect("a scale per satellite");
    assert_eq!(scales.len(), 60);
    for s in scales {
        let r = s.as_f64().unwrap() * 32_767.0;
        assert!((4_000.0..8_000.0).contains(&r), "scale of {r} km");
    }
    for s in [
        "<canvas id=\"globe-canvas\"",
        "id=\"globe-time\"",
        "id=\"globe-play\"",
        "id=\"globe-speed\"",
    ] {
        assert!(html.contains(s), "no {s}");
    }
}

#[test]
fn the_audit_refuses_scripts_that_reach_out() {
    let dir = run_dir();
    let html =
        std::fs::read_to_string(write_report(dir, &ReportOptions::default()).unwrap()).unwrap();
    for bad in [
        "<script>fetch('/x')</script>",
        "<script src=\"a.js\"></script>",
        "<script>new WebSocket('ws://x')</script>",
        "<script>var u = 'https://cdn.example/t.js'</script>",
        "<script>new Image().src = '//x.example/p'</script>",
        "<script>fetch ('/x')</script>",
        "<script>new Worker('w.js')</script>",
    ] {
        let page = html.replacen("</body>", &format!("{bad}</body>"), 1);
        assert!(!audit(&page).is_empty(), "{bad} passed the audit");
    }
    // The vendored three.js passes only byte for byte: a changed copy is audited.
    let changed = html.replacen(
        tiandi_web::THREE_JS,
        &tiandi_web::THREE_JS.replacen("\"149\"", "\"150\"", 1),
        1,
    );
    assert!(
        audit(&changed)
            .iter()
            .any(|p| p.contains("reaches the network"))
    );
}
