//! Output files from a hand-made run result: the exact tasks.csv text, summary.json fields
//! (every Summary figure, per kind, null for no value), the one-policy and compare
//! layouts, byte-identical rewrites, and the readers: every file reads back as written,
//! and a missing or malformed file is named with its line and column.

use std::path::{Path, PathBuf};

use tiandi_network::LinkKind;
use tiandi_orbit::Epoch;
use tiandi_report::summary::{SummaryFile, read_summary};
use tiandi_report::tasks::{CSV_HEADER, TaskRow};
use tiandi_report::{PolicyRun, RunFiles, RunMeta, read_run_files, summary_json, write_outputs};
use tiandi_sim::model::{
    EnergyBooks, FaultRecord, KindSummary, LinkSample, NodeSample, Outcome, PhysicsBooks,
    RunResult, Summary, TaskRecord,
};
use tiandi_workload::TaskKind;

fn fresh_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report_outputs")
        .join(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn t0() -> Epoch {
    Epoch::parse_iso("2026-11-24T00:00:00Z").unwrap()
}

fn meta() -> RunMeta {
    RunMeta {
        tiandi_version: "0.1.0".into(),
        scenario: "test".into(),
        scenario_source: "s.toml".into(),
        scenario_hash: 0xabc,
        seed: 42,
        start: t0(),
        end: t0().add_s_f64(3_600.0),
        step_ns: 10_000_000_000,
        n_satellites: 4,
        n_ground_stations: 1,
        n_data_centres: 1,
        n_user_regions: 0,
    }
}

fn result(policy: &str) -> RunResult {
    let tasks = vec![
        TaskRecord {
            id: 0,
            kind: TaskKind::EarthObservation,
            arrival: t0().add_s_f64(1.5),
            deadline: t0().add_s_f64(601.5),
            placement: vec![2],
            start: Some(t0().add_s_f64(2.0)),
            finish: t0().add_s_f64(30.25),
            bytes_moved: 3_000,
            downlink_bytes: 1_000,
            isl_bytes: 2_000,
            retries: 1,
            outcome: Outcome::Completed,
        },
        TaskRecord {
            id: 1,
            kind: TaskKind::GroundAi,
            arrival: t0().add_s_f64(5.0),
            deadline: t0().add_s_f64(65.0),
            placement: vec![],
            start: None,
            finish: t0().add_s_f64(5.0),
            bytes_moved: 0,
            downlink_bytes: 0,
            isl_bytes: 0,
            retries: 0,
            outcome: Outcome::Dropped,
        },
    ];
    let kind = |kind, total, completed, ratio, p| KindSummary {
        kind,
        total,
        completed,
        deadline_met_ratio: ratio,
        latency_p50_s: p,
        latency_p95_s: p,
        downlink_bytes: if kind == TaskKind::EarthObservation {
            1_000
        } else {
            0
        },
    };
    RunResult {
        summary: Summary {
            policy: policy.into(),
            seed: 42,
            tasks_total: 2,
            completed: 1,
            failed: 0,
            dropped: 1,
            deadline_met_ratio: 0.5,
            latency_p50_s: 28.75,
            latency_p95_s: 28.75,
            latency_p99_s: 28.75,
            downlink_bytes: 1_000,
            isl_bytes: 2_000,
            energy_used_wh: 12.5,
            energy_curtailed_wh: 0.0,
            throttled_s: 0.0,
            physics: PhysicsBooks {
                energy: EnergyBooks {
                    harvested_wh: 20.0,
                    compute_wh: 6.0,
                    idle_wh: 1.5,
                    bus_wh: 5.0,
                    heater_wh: 0.0,
                    loss_wh: 0.5,
                    curtailed_wh: 0.0,
                    stored_change_wh: 7.0,
                },
                work_lost_flop: 3e13,
                ..PhysicsBooks::default()
            },
            faults_injected: 1,
            faults_hit_stages: 1,
            faults_recovered: 1,
            by_kind: vec![
                kind(TaskKind::EarthObservation, 1, 1, 1.0, 28.75),
                kind(TaskKind::GroundAi, 1, 0, 0.0, f64::NAN),
            ],
        },
        tasks,
        links: vec![LinkSample {
            step: 0,
            a: 2,
            b: 4,
            kind: LinkKind::Gsl,
            bytes: 1_000,
            utilisation: 0.25,
        }],
        nodes: vec![NodeSample {
            step: 0,
            satellite: 2,
            soc_fraction: 0.9,
            temp_k: 290.0,
            compute_w: 100.0,
            idle_w: 10.0,
            bus_w: 50.0,
            heater_w: 0.0,
            harvested_w: 300.0,
            loss_w: 2.0,
            curtailed_w: 0.0,
            throttled: false,
            power_limited: false,
            powered_slots: 2,
            work_flop: 1e15,
        }],
        faults: vec![FaultRecord {
            t: t0().add_s_f64(3.0),
            satellite: 2,
            task: Some(0),
            recovered: true,
        }],
        n_steps: 360,
    }
}

#[test]
fn tasks_csv_is_exact() {
    let r = result("unified");
    let mut buf = Vec::new();
    tiandi_report::tasks::write_csv(&mut buf, &r).unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "id,kind,arrival_utc,placement,start_utc,finish_utc,bytes_moved,downlink_bytes,isl_bytes,retries,outcome,deadline_met\n\
         0,earth-observation,2026-11-24T00:00:01.500Z,2,2026-11-24T00:00:02.000Z,2026-11-24T00:00:30.250Z,3000,1000,2000,1,completed,true\n\
         1,ground-ai,2026-11-24T00:00:05.000Z,,,2026-11-24T00:00:05.000Z,0,0,0,0,dropped,false\n"
    );
}

#[test]
fn summary_json_has_every_figure() {
    let r = result("unified");
    let text = summary_json(
        &meta(),
        &[PolicyRun {
            policy: "unified",
            result: &r,
        }],
    );
    assert!(text.ends_with("}\n"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["scenario_hash"], "fnv1a64:0000000000000abc");
    assert_eq!(v["seed"], 42);
    assert_eq!(v["start_utc"], "2026-11-24T00:00:00.000Z");
    let p = &v["policies"][0];
    for key in [
        "policy",
        "tiandi_version",
        "scenario_hash",
        "seed",
        "tasks_total",
        "completed",
        "failed",
        "dropped",
        "deadline_met_ratio",
        "latency_p50_s",
        "latency_p95_s",
        "latency_p99_s",
        "downlink_bytes",
        "isl_bytes",
        "energy_used_wh",
        "energy_curtailed_wh",
        "throttled_s",
        "faults_injected",
        "faults_recovered",
        "by_kind",
    ] {
        assert!(!p[key].is_null(), "{key}");
    }
    assert_eq!(p["latency_p95_s"], 28.75);
    let eo = &p["by_kind"][0];
    assert_eq!(
        (
            eo["kind"].as_str(),
            eo["computed_in_orbit"].as_u64(),
            eo["isl_bytes"].as_u64()
        ),
        (Some("earth-observation"), Some(1), Some(2_000))
    );
    // No completed ground-AI task: no percentile, written as null.
    assert!(p["by_kind"][1]["latency_p95_s"].is_null());
    assert_eq!(p["by_kind"][1]["computed_on_ground"], 0);
}

#[test]
fn layouts_and_byte_identical_rewrites() {
    let dir = fresh_dir("layouts");
    let (a, b) = (result("bent-pipe"), result("unified"));
    let one = [PolicyRun {
        policy: "unified",
        result: &b,
    }];
    let written = write_outputs(&dir.join("one"), &meta(), &one).unwrap();
    assert!(written.iter().all(|p| p.is_file()));
    let first = std::fs::read(dir.join("one/summary.json")).unwrap();
    let tasks = std::fs::read(dir.join("one/tasks.csv")).unwrap();
    write_outputs(&dir.join("one"), &meta(), &one).unwrap();
    assert_eq!(first, std::fs::read(dir.join("one/summary.json")).unwrap());
    assert_eq!(tasks, std::fs::read(dir.join("one/tasks.csv")).unwrap());
    let links = if tiandi_report::PARQUET {
        "links.parquet"
    } else {
        "links.csv"
    };
    assert!(dir.join("one").join(links).is_file());

    let two = [
        PolicyRun {
            policy: "bent-pipe",
            result: &a,
        },
        PolicyRun {
            policy: "unified",
            result: &b,
        },
    ];
    write_outputs(&dir.join("two"), &meta(), &two).unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("two/summary.json")).unwrap()).unwrap();
    assert_eq!(v["policies"].as_array().unwrap().len(), 2);
    assert!(
        dir.join("two/bent-pipe/tasks.csv").is_file()
            && dir.join("two/unified").join(links).is_file()
    );
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("two"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn files_read_back_as_written() {
    let dir = fresh_dir("read_back");
    let r = result("unified");
    let runs = [PolicyRun {
        policy: "unified",
        result: &r,
    }];
    write_outputs(&dir, &meta(), &runs).unwrap();
    let summary = read_summary(&dir.join("summary.json")).unwrap();
    assert_eq!(summary.file, SummaryFile::of(&meta(), &runs));
    assert_eq!((summary.start, summary.end), (meta().start, meta().end));
    // No ground-AI task completed: its percentile is null in the file, None read back.
    assert_eq!(summary.file.policies[0].by_kind[1].latency_p95_s, None);
    let rows: Vec<TaskRow> = r.tasks.iter().map(TaskRow::of).collect();
    // Links and nodes from Parquet or CSV, whichever this build writes. The fault's time
    // is a whole millisecond, which is what faults.csv keeps.
    assert_eq!(
        read_run_files(&dir).unwrap(),
        RunFiles {
            tasks: Ok(rows),
            links: Ok(r.links.clone()),
            nodes: Ok(r.nodes.clone()),
            faults: Ok(r.faults.clone()),
        }
    );
}

/// The error of reading `file` in `dir` after writing `text` into it.
fn error_of(
    dir: &Path,
    file: &str,
    text: &str,
    read: fn(&Path) -> Result<(), tiandi_report::ReadError>,
) -> String {
    std::fs::write(dir.join(file), text).unwrap();
    let e = read(dir).unwrap_err().to_string();
    std::fs::remove_file(dir.join(file)).unwrap();
    let path = dir.join(file).display().to_string();
    e.strip_prefix(&format!("{path}: "))
        .unwrap_or_else(|| panic!("{e:?} does not start with {path}"))
        .to_string()
}

#[test]
fn missing_files_are_named_and_bad_ones_are_errors_naming_line_and_column() {
    let dir = fresh_dir("bad_rows");
    assert_eq!(
        read_run_files(&dir).unwrap().links.unwrap_err().to_string(),
        format!(
            "not in this output (no links.parquet or links.csv in {})",
            dir.display()
        )
    );
    let read = |d: &Path| read_run_files(d).map(drop);
    let row = "0,earth-observation,2026-11-24T00:00:01.500Z,2,,2026-11-24T00:00:30.250Z,3000,1000,2000,1,completed";
    assert_eq!(
        error_of(
            &dir,
            "tasks.csv",
            &format!("{CSV_HEADER}\n{row},maybe\n"),
            read
        ),
        "line 2: deadline_met \"maybe\" is not a valid value"
    );
    assert_eq!(
        error_of(
            &dir,
            "tasks.csv",
            &format!("{CSV_HEADER}\n{row},true\n{row}-x,true\n"),
            read
        ),
        "line 3: outcome \"completed-x\": expected completed, failed or dropped"
    );
    assert_eq!(
        error_of(&dir, "nodes.csv", "step,satellite\n0,1\n", read),
        "no column \"soc_fraction\""
    );
    assert_eq!(
        error_of(
            &dir,
            "links.csv",
            "step,time_utc,a,b,kind,bytes,utilisation\n0,x,1,2,laser,5,0.1\n",
            read
        ),
        "line 2: link kind \"laser\": expected isl, gsl or fibre"
    );
    // Not Parquet at all (or a build without Parquet): an error naming the file.
    error_of(&dir, "links.parquet", "not parquet", read);
    assert!(
        error_of(
            &dir,
            "faults.csv",
            "time_utc,satellite,task,recovered\nyesterday,1,,false\n",
            read
        )
        .starts_with("line 2: time_utc \"yesterday\": ")
    );
    let summary = |d: &Path| read_summary(&d.join("summary.json")).map(drop);
    let window = r#""start_utc": "2026-11-24T00:00:00Z", "end_utc": "2026-11-24T01:00:00Z""#;
    assert_eq!(
        error_of(
            &dir,
            "summary.json",
            &format!("{{{window}, \"step_s\": 10, \"policies\": []}}"),
            summary
        ),
        "no policies"
    );
    let policy = r#"{"policy": "p", "tasks_total": 0, "completed": 0, "failed": 0, "dropped": 0, "downlink_bytes": 0, "isl_bytes": 0}"#;
    assert_eq!(
        error_of(
            &dir,
            "summary.json",
            &format!("{{{window}, \"step_s\": -1, \"policies\": [{policy}]}}"),
            summary
        ),
        "step_s -1: expected a positive number of seconds"
    );
    let e = error_of(
        &dir,
        "summary.json",
        &format!("{{{window}, \"step_s\": 10, \"policies\": [{{}}]}}"),
        summary,
    );
    assert!(
        e.starts_with("line 1, column ") && e.contains("missing field `policy`"),
        "{e}"
    );
}
