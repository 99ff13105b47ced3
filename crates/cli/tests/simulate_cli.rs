//! `tiandi simulate` and `tiandi scenario` run as the real binary in a fresh directory:
//! bad input gets one line naming file:line and key with a non-zero exit; the same seed
//! gives byte-identical summary.json and tasks.csv; --compare writes one summary and a
//! directory per policy.

mod common;
use common::{fresh_dir, tiandi};

use std::path::Path;

/// The small commented example of examples/.
fn small_example() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/small.toml"))
        .unwrap()
}

/// 1-based line of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).unwrap()].matches('\n').count() + 1
}

/// Runs a scenario that must fail and returns its one stderr line.
fn fails(dir: &Path, text: &str, extra: &[&str]) -> String {
    std::fs::write(dir.join("s.toml"), text).unwrap();
    let mut args = vec!["simulate", "s.toml"];
    args.extend_from_slice(extra);
    let out = tiandi(dir, &args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!dir.join("out").exists(), "no outputs after an error");
    stderr.trim_end().to_string()
}

#[test]
fn bad_scenarios_get_one_line_with_file_line_and_key() {
    let dir = fresh_dir("simulate_cli", "bad");
    let base = small_example();

    let text = base.replace("policy = \"unified\"", "policy = \"teleport\"");
    let e = fails(&dir, &text, &[]);
    let line = line_of(&text, "teleport");
    assert!(
        e.starts_with(&format!(
            "error: s.toml:{line}: run.policy: unknown policy \"teleport\""
        )),
        "{e}"
    );

    let text = base.replace("deadline_s = 1200.0", "deadline_s = -5");
    let e = fails(&dir, &text, &[]);
    let line = line_of(&text, "deadline_s = -5");
    assert_eq!(
        e,
        format!(
            "error: s.toml:{line}: workloads.earth_observation.deadline_s: must be positive, found -5"
        )
    );

    let text = base.replace("horizon_h = 1.0", "horizn_h = 1.0");
    let e = fails(&dir, &text, &[]);
    let line = line_of(&text, "horizn_h");
    assert!(
        e.starts_with(&format!(
            "error: s.toml:{line}: run.horizn_h: unknown field `horizn_h`"
        )),
        "{e}"
    );

    let walker = base.find("[constellation.walker]").unwrap();
    let walker_end = base.find("# Every satellite's payload").unwrap();
    let text = format!(
        "{}[constellation]\ntle = \"nowhere.tle\"\nplanes = 4\n\n{}",
        &base[..walker],
        &base[walker_end..]
    );
    let e = fails(&dir, &text, &[]);
    let line = line_of(&text, "tle = \"nowhere");
    assert!(
        e.starts_with(&format!(
            "error: s.toml:{line}: constellation.tle: cannot read "
        )),
        "{e}"
    );
    assert!(e.contains("nowhere.tle"), "{e}");

    // Flags are checked before any work.
    let e = fails(&dir, &base, &["--compare", "bent-pipe,warp"]);
    assert!(
        e.starts_with("error: --compare: unknown policy \"warp\""),
        "{e}"
    );
    let e = fails(&dir, &base, &["--horizon-h", "-2"]);
    assert!(e.starts_with("error: --horizon-h:"), "{e}");
    // The data centres' power keys: a PUE below 1 and an idle draw above the busy one.
    let gc = "[ground_compute]\nslot_power_w = 700.0\n";
    let text = base.replace(
        "[[user_regions]]",
        &format!("{gc}pue = 0.5\n\n[[user_regions]]"),
    );
    let e = fails(&dir, &text, &[]);
    let line = line_of(&text, "pue = 0.5");
    assert_eq!(
        e,
        format!("error: s.toml:{line}: ground_compute.pue: must be in [1, 5], found 0.5")
    );
    let text = base.replace(
        "[[user_regions]]",
        &format!("{gc}slot_idle_w = 900.0\n\n[[user_regions]]"),
    );
    let e = fails(&dir, &text, &[]);
    let line = line_of(&text, "slot_idle_w = 900.0");
    assert_eq!(
        e,
        format!(
            "error: s.toml:{line}: ground_compute.slot_idle_w: must be in [0, slot_power_w = 700] W, found 900"
        )
    );

    let out = tiandi(&dir, &["simulate", "missing.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .starts_with("error: missing.toml: cannot read the scenario")
    );
}

#[test]
fn same_seed_gives_identical_outputs_and_compare_writes_per_policy() {
    let dir = fresh_dir("simulate_cli", "determinism");
    std::fs::write(dir.join("s.toml"), small_example()).unwrap();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec!["simulate", "s.toml", "--horizon-h", "0.25", "--out", out];
        args.extend_from_slice(extra);
        let o = tiandi(&dir, &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let table = run("a", &[]);
    run("b", &[]);
    for f in ["summary.json", "tasks.csv"] {
        let a = std::fs::read(dir.join("a").join(f)).unwrap();
        assert!(!a.is_empty());
        assert_eq!(
            a,
            std::fs::read(dir.join("b").join(f)).unwrap(),
            "{f} differs between two runs with the same seed"
        );
    }
    for f in ["tasks.parquet", "links.parquet", "nodes.parquet"] {
        assert!(dir.join("a").join(f).is_file(), "{f}");
    }
    assert!(
        table.contains("deadline met") && table.contains("unified"),
        "{table}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("a/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 7);
    assert_eq!(summary["policies"][0]["policy"], "unified");
    assert!(
        summary["scenario_hash"]
            .as_str()
            .unwrap()
            .starts_with("fnv1a64:")
    );
    let tasks = std::fs::read_to_string(dir.join("a/tasks.csv")).unwrap();
    let n_tasks = summary["policies"][0]["tasks_total"].as_u64().unwrap();
    assert_eq!(tasks.lines().count() as u64, n_tasks + 1);
    assert_eq!(
        tasks.lines().next().unwrap(),
        "id,kind,arrival_utc,placement,start_utc,finish_utc,bytes_moved,downlink_bytes,isl_bytes,retries,outcome,deadline_met"
    );

    // Another seed, another workload.
    run("c", &["--seed", "8"]);
    assert_ne!(
        std::fs::read(dir.join("a/tasks.csv")).unwrap(),
        std::fs::read(dir.join("c/tasks.csv")).unwrap()
    );

    // --compare: one summary with every policy, files per policy.
    let table = run("cmp", &["--compare", "bent-pipe,onboard"]);
    let header = table.lines().nth(1).unwrap();
    assert!(
        header.contains("bent-pipe") && header.contains("onboard"),
        "{table}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cmp/summary.json")).unwrap()).unwrap();
    let names: Vec<&str> = summary["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["policy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bent-pipe", "onboard"]);
    for p in names {
        assert!(dir.join("cmp").join(p).join("tasks.csv").is_file());
    }
    assert!(!dir.join("cmp/tasks.csv").exists());
}

#[test]
fn scenario_show_prints_the_default_and_check_reads_it_back() {
    let dir = fresh_dir("simulate_cli", "show");
    let out = tiandi(&dir, &["scenario", "show", "default"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, tiandi_scenario::DEFAULT_SCENARIO_TOML);
    std::fs::write(dir.join("d.toml"), &text).unwrap();
    let out = tiandi(&dir, &["scenario", "check", "d.toml"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success()
            && stdout.starts_with(
                "d.toml: ok: 240 satellites, 9 ground stations, 8 data centres, 18 user regions"
            ),
        "{stdout}"
    );
    let out = tiandi(&dir, &["scenario", "show", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: no built-in scenario \"nope\": expected one of default, light\n"
    );
}

#[test]
fn settings_change_one_key_and_bad_ones_are_named() {
    let dir = fresh_dir("simulate_cli", "set");
    let small = small_example();
    // Metering off: every powered device is charged its full power, so nothing is idle.
    let e = fails(&dir, &small, &["--set", "physics.energy_metering=maybe"]);
    assert!(
        e.contains("s.toml with --set") && e.contains("physics.energy_metering"),
        "{e}"
    );
    let e = fails(&dir, &small, &["--set", "run.horizon_h.x=1"]);
    assert!(
        e.contains("run.horizon_h.x") && e.contains("not a table"),
        "{e}"
    );
    let out = tiandi(
        &dir,
        &[
            "simulate",
            "s.toml",
            "--set",
            "physics.energy_metering=false",
            "--set",
            "run.horizon_h=0.2",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/summary.json")).unwrap())
            .unwrap();
    let p = &summary["policies"][0];
    assert_eq!(p["energy"]["idle_wh"], 0.0, "{p}");
    assert!(p["energy"]["compute_wh"].as_f64().unwrap() > 0.0, "{p}");
    assert_eq!(summary["end_utc"], "2026-11-24T02:12:00.000Z");
}

#[test]
fn an_output_path_that_is_a_file_is_refused_before_the_run() {
    let dir = fresh_dir("simulate_cli", "out_file");
    std::fs::write(dir.join("taken"), "not a directory").unwrap();
    let out = tiandi(&dir, &["simulate", "light", "--out", "taken"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: --out taken: exists and is not a directory"
    );
    // Nothing ran: no progress or timing lines before the error.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("taken")).unwrap(),
        "not a directory"
    );
}
