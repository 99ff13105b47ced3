//! `tiandi plan` through the real binary: bad input gives one line and a non-zero exit, and
//! the 8 x H100 dawn-dusk plan is a complete, self-consistent breakdown whose every line
//! docs/plan.md explains.

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    // A fresh, empty working directory: the command must not depend on files around it.
    let dir = std::env::temp_dir().join(format!(
        "tiandi-plan-cli-{}-{}",
        std::process::id(),
        args.join("_").replace(['/', ' '], "")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tiandi"))
        .arg("plan")
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    out
}

#[test]
fn bad_input_gives_one_clear_line_and_a_failure_exit() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["--array-area-m2", "-3"],
            "invalid array-area-m2 -3: expected a finite number > 0",
        ),
        (
            &["--cell-efficiency", "1.2"],
            "invalid cell-efficiency 1.2: expected a fraction in (0, 1]",
        ),
        (
            &["--accelerator", "tpu9"],
            "invalid accelerator \"tpu9\": expected one of h100, orin, versal, atlas300i",
        ),
        (
            &["--charge-efficiency", "1.5"],
            "invalid charge-efficiency 1.5",
        ),
        (&["--cell", "cigs"], "invalid cell \"cigs\""),
        (&["--ltan", "25:00"], "invalid ltan \"25:00\""),
    ];
    for (args, expected) in cases {
        let out = run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: one line, got {stderr:?}"
        );
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{args:?}: {stderr:?}"
        );
    }
}

fn plan_json() -> serde_json::Value {
    let out = run(&[
        "--accelerator",
        "h100",
        "--count",
        "8",
        "--altitude-km",
        "550",
        "--sun-synchronous",
        "--ltan",
        "06:00",
        "--cell",
        "gaas",
        "--launch-price-cny-per-kg",
        "70000",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn eight_h100_dawn_dusk_breakdown_adds_up_and_is_documented() {
    let doc = plan_json();
    let lines = doc["lines"].as_array().unwrap();
    let value = |id: &str| {
        lines
            .iter()
            .find(|l| l["id"] == id)
            .unwrap_or_else(|| panic!("line {id} missing"))["value"]
            .as_f64()
            .unwrap()
    };
    // Every quantity the issue asks for is present.
    for id in [
        "O4", "O5", "P4", "P6", "P8", "T3", "T4", "M5", "M6", "M7", "S1", "S6", "G8",
    ] {
        assert!(value(id).is_finite(), "{id}");
    }
    // Relative tolerance for re-deriving a total: the JSON carries full f64 precision, so
    // only summation-order rounding differs.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
    assert!(close(
        value("M7"),
        ["M1", "M2", "M3", "M4", "M5", "M6"]
            .iter()
            .map(|id| value(id))
            .sum()
    ));
    assert!(close(value("S1"), value("M7") * 70_000.0));
    assert!(close(value("S4"), value("S1") + value("S2") + value("S3")));
    assert!(close(value("S6"), value("S4") / value("S5")));
    assert!(close(value("G6"), value("G2") + value("G4") + value("G5")));
    assert!(close(value("X1"), value("S6") / value("G8")));
    assert_eq!(value("C1"), 8.0);
    assert!(close(value("C5"), 8.0 * 989.4));
    // The design works: full payload energy on its worst day, battery at or above its limit.
    assert!(value("V3") > 0.999 && value("V1") >= 0.7 - 1e-9);
    // Traceability: every line has a formula and docs/plan.md explains every id.
    let doc_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/plan.md");
    let text = std::fs::read_to_string(&doc_path).unwrap();
    for l in lines {
        let id = l["id"].as_str().unwrap();
        assert!(!l["formula"].as_str().unwrap().is_empty(), "{id}");
        assert!(
            text.contains(&format!("**{id}**")),
            "docs/plan.md does not explain {id}"
        );
    }
}

#[test]
fn text_table_shows_space_and_ground_side_by_side() {
    let out = run(&[
        "--accelerator",
        "orin",
        "--count",
        "4",
        "--inclination-deg",
        "53",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("M7  total launch mass"), "{text}");
    assert!(text.contains("CNY per accelerator-hour"), "{text}");
    assert!(text.contains("i 53 deg"), "{text}");
}

#[test]
fn a_design_that_fails_its_own_verification_is_infeasible_and_exits_non_zero() {
    // A body-fixed array in a dawn-dusk orbit sees the Sun at a grazing angle: the
    // array sized for a tracking one cannot carry the load.
    for json in [false, true] {
        let mut args = vec!["--count", "8", "--pointing", "body-fixed"];
        if json {
            args.push("--json");
        }
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains("infeasible") && stderr.contains("V3"),
            "{stderr}"
        );
        // The plan is still printed, with the verdict in it.
        let text = String::from_utf8(out.stdout).unwrap();
        if json {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["verdict"], "infeasible", "{text}");
            assert_eq!(v["failed_checks"][0]["id"], "V3", "{text}");
            let v3 = v["lines"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["id"] == "V3")
                .unwrap()["value"]
                .as_f64()
                .unwrap();
            assert!(v3 < 0.99, "{v3}");
        } else {
            assert!(text.contains("verdict: infeasible"), "{text}");
            assert!(
                text.contains("fails V3: payload energy delivered"),
                "{text}"
            );
        }
    }
    // The default design passes, and says so.
    let out = run(&["--count", "8"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("verdict: feasible")
    );
}

/// The plan's lines by id, from `--json`, and its warnings.
fn json_lines(args: &[&str]) -> (std::collections::BTreeMap<String, f64>, Vec<String>) {
    let mut all = args.to_vec();
    all.push("--json");
    let out = run(&all);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_string(),
                l["value"].as_f64().unwrap(),
            )
        })
        .collect();
    let warnings = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    (lines, warnings)
}

fn close_rel(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn a_fleet_totals_n_satellites_and_counts_whole_satellites_per_launch() {
    let (one, w) = json_lines(&["--count", "8"]);
    assert!(w.is_empty(), "{w:?}");
    assert!(
        !one.contains_key("F1"),
        "no fleet lines without --satellites"
    );
    for n in [1u64, 7, 250] {
        let (f, _) = json_lines(&["--count", "8", "--satellites", &n.to_string()]);
        let nf = n as f64;
        assert_eq!(f["F1"], nf);
        for (fleet_id, one_id) in [
            ("F2", "C4"),
            ("F3", "P4"),
            ("F4", "M7"),
            ("F5", "S1"),
            ("F6", "S2"),
            ("F7", "S3"),
            ("F8", "S4"),
            ("F12", "G6"),
        ] {
            assert!(
                close_rel(f[fleet_id], nf * one[one_id]),
                "{fleet_id} = {} against {n} x {one_id} = {}",
                f[fleet_id],
                nf * one[one_id]
            );
        }
        // 2 % a year over 5 years.
        assert!(close_rel(f["F9"], nf * 0.02 * 5.0), "{}", f["F9"]);
        assert!(close_rel(f["F11"], f["F8"] + f["F9"] * one["S4"]));
        // Launches: whole satellites per launch, never fewer than the mass alone needs.
        for l in &tiandi_node::fleet::LAUNCHERS {
            let (cap, _) = l.capacity_kg(true).unwrap();
            let per = (cap / one["M7"]).floor();
            let expected = (nf / per).ceil();
            assert_eq!(f[l.line_id], expected, "{} for {n}", l.name);
            assert!(f[l.line_id] >= (f["F4"] / cap).ceil(), "{}", l.name);
        }
    }
    // The manufacturing cost has its documented default, 8,000 CNY/kg of the mass that is
    // neither compute nor array, plus the array at the catalogue's USD 300/W for GaAs.
    assert!(close_rel(one["P9"], one["P5"] * 300.0 * 7.2));
    assert!(close_rel(
        one["S2"],
        (one["M7"] - one["M1"] - one["M2"]) * 8_000.0 + one["P9"]
    ));
}

#[test]
fn a_power_target_is_split_into_the_fewest_satellites_one_launcher_lifts() {
    let (f, w) = json_lines(&["--total-compute-power-w", "1e8"]);
    assert!(w.is_empty(), "{w:?}");
    let n = f["F1"];
    assert!(close_rel(f["F2"], 1e8), "{}", f["F2"]);
    // Each satellite fits a Long March 8A (7 t to SSO), and one fewer would not.
    assert!(f["M7"] <= 7_000.0, "{}", f["M7"]);
    let fewer = format!("{}", 1e8 / (n - 1.0));
    let (bigger, w) = json_lines(&["--compute-power-w", &fewer]);
    assert!(bigger["M7"] > 7_000.0, "{} satellites would do", n - 1.0);
    assert!(w.iter().any(|w| w.contains("Long March 8A")), "{w:?}");
    // With Starship as the limit the satellites are bigger and fewer.
    let (s, _) = json_lines(&["--total-compute-power-w", "1e8", "--launcher", "starship"]);
    assert!(
        s["F1"] < n && s["M7"] <= 100_000.0,
        "{} {}",
        s["F1"],
        s["M7"]
    );
}

#[test]
fn a_satellite_no_launcher_lifts_is_stated() {
    let out = run(&["--compute-power-w", "1e9"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot be launched in one piece on any launcher"),
        "{stderr}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("warning: one satellite"), "{text}");
    let out = run(&["--total-compute-power-w", "1e9", "--launcher", "saturn-v"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid --launcher \"saturn-v\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The golden test of a 1 GW fleet's array: the fleet array area F3 against an estimate by
/// hand, P / (1361 W/m^2 x efficiency x packing), for each catalogued cell.
///
/// P is what the array must deliver while in sunlight: the fleet's load (1 GW of payload
/// plus 300 W of bus per satellite) raised to carry the eclipse through the battery,
/// `load x (T - t_s + t_s / (eta_c eta_d)) / (T - t_s)` with the worst orbit's eclipse
/// fraction (O5, checked against Skyfield elsewhere) and eta_c = eta_d = 0.95. The
/// efficiency is the cell's at end of life and at the array's 60 C, worked out here from
/// the catalogue's published inputs; the packing factor is 0.90, and the plan's 10 % array
/// margin is applied. The planner instead integrates the sunlight over sampled orbits at
/// the Sun's true distance (January's perihelion gives 3.4 % more than 1361 W/m^2) and
/// through the penumbra, so the two differ by a few per cent; 5 % is the issue's
/// tolerance.
#[test]
fn a_one_gigawatt_fleet_array_matches_the_estimate_by_hand() {
    // cell, AM0 efficiency, temperature coefficient per K, degradation per year.
    for (cell, eta, k_t, d) in [
        ("gaas", 0.30, -0.002, 0.0275),
        ("silicon", 0.22, -0.004, 0.0375),
        ("tandem", 0.31, -0.0025, 0.0375),
    ] {
        let (f, _) = json_lines(&["--total-compute-power-w", "1e9", "--cell", cell]);
        let n = f["F1"];
        assert!(close_rel(f["F2"], 1e9), "{}", f["F2"]);
        let load_w = 1e9 + n * 300.0;
        let period_s = f["O3"] * 60.0;
        let shadow_s = f["O5"] * period_s;
        let sunlit_s = period_s - shadow_s;
        let p_sun = load_w * (sunlit_s + shadow_s / (0.95 * 0.95)) / sunlit_s;
        let eta_eol = eta * (1.0 + k_t * (333.15 - 301.15)) * (1.0_f64 - d).powi(5);
        let packing = 0.90;
        let by_hand_m2 = p_sun / (1361.0 * eta_eol * packing) * 1.10;
        let rel = f["F3"] / by_hand_m2 - 1.0;
        assert!(
            rel.abs() < 0.05,
            "{cell}: fleet array {:.0} m2 against {by_hand_m2:.0} m2 by hand ({:+.1} %)",
            f["F3"],
            rel * 100.0
        );
        // The planner's end-of-life panel efficiency is the same product.
        assert!(
            (f["P1"] - eta_eol * packing).abs() < 1e-9,
            "{cell}: P1 {}",
            f["P1"]
        );
    }
}

#[test]
fn the_cell_catalogue_binds_mass_cost_and_warnings() {
    let (flex, w) = json_lines(&["--count", "8"]);
    assert!(w.is_empty(), "{w:?}");
    let (rigid, _) = json_lines(&["--count", "8", "--array", "rigid"]);
    // Same cells, same area; the honeycomb panel is 3.90 kg/m^2 against the blanket's 2.45.
    assert!(close_rel(rigid["P4"], flex["P4"]));
    assert!(close_rel(flex["P6"], flex["P4"] * 2.45));
    assert!(close_rel(rigid["P6"], rigid["P4"] * 3.90));
    assert!(rigid["M7"] > flex["M7"] && rigid["S1"] > flex["S1"]);
    // Silicon: cheaper per watt (USD 20 against 300), more area for the same load.
    let (si, _) = json_lines(&["--count", "8", "--cell", "silicon"]);
    assert!(si["P4"] > flex["P4"]);
    assert!(close_rel(si["P9"], si["P5"] * 20.0 * 7.2));
    assert!(si["P9"] < flex["P9"] / 5.0);
    // The tandem is lighter per watt than GaAs, and the plan says it is not flight proven.
    let (t, w) = json_lines(&["--count", "8", "--cell", "tandem"]);
    assert!(t["P6"] / t["P5"] < flex["P6"] / flex["P5"]);
    assert!(
        w.iter().any(|w| w.contains("not space-qualified")
            && w.contains("34.85 % is a terrestrial lab record")),
        "{w:?}"
    );
    // Overrides win over the catalogue.
    let (o, _) = json_lines(&[
        "--count",
        "8",
        "--array-kg-per-m2",
        "1.0",
        "--array-cost-usd-per-w",
        "0",
    ]);
    assert!(close_rel(o["P6"], o["P4"]) && o["P9"] == 0.0);
    let out = run(&["--array", "foldy"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("array"));
}

#[test]
fn the_cell_catalogue_lists_every_cell_with_sources() {
    let out = run(&["--cells"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for key in ["silicon", "gaas", "tandem"] {
        assert!(
            text.contains(&format!("\n{key}: ")),
            "{key} missing:\n{text}"
        );
    }
    assert!(text.contains("terrestrial lab record, not space-qualified: 34.85 %"));
    let out = run(&["--cells", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cells = doc["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3);
    for c in cells {
        for k in [
            "efficiency_bol_am0",
            "degradation_per_year",
            "rigid_kg_per_m2",
            "flexible_kg_per_m2",
            "cost_usd_per_w",
        ] {
            assert!(c[k].as_f64().unwrap() > 0.0, "{k} of {}", c["cell"]);
        }
        assert!(c["rigid_kg_per_m2"].as_f64() > c["flexible_kg_per_m2"].as_f64());
    }
    let tandem = cells.iter().find(|c| c["cell"] == "tandem").unwrap();
    assert_eq!(tandem["space_qualified"], false);
    assert!(
        tandem["terrestrial_lab_record"]["conditions"]
            .as_str()
            .unwrap()
            .contains("AM1.5G")
    );
}

#[test]
fn a_borrowed_capacity_and_an_impossible_fleet_are_said_plainly() {
    // Falcon 9 publishes a low-Earth-orbit figure only: sizing for the dawn-dusk orbit
    // with it says so.
    let (_, w) = json_lines(&["--total-compute-power-w", "1e8", "--launcher", "falcon-9"]);
    assert!(
        w.iter()
            .any(|w| w.contains("Falcon 9 has no published figure") && w.contains("overstates")),
        "{w:?}"
    );
    let (_, w) = json_lines(&["--total-compute-power-w", "1e8"]);
    assert!(
        !w.iter().any(|w| w.contains("no published figure")),
        "{w:?}"
    );
    // A fleet beyond the sizing's range names that range, not the launcher.
    let out = run(&["--total-compute-power-w", "1e12"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("more than 10000000 satellites"), "{err}");
}

#[test]
fn the_ground_buys_its_accelerators_again_at_each_refresh() {
    let price = ["--count", "8", "--accelerator-price-cny", "250000"];
    let (f, _) = json_lines(&price);
    // The default 6-year refresh does not come within a 5-year life.
    assert_eq!(f["G9"], 0.0);
    assert!(close_rel(f["G5"], f["S3"]) && f["S3"] == 8.0 * 250_000.0);
    // Every 2 years within 5: bought at 0, 2 and 4 years.
    let mut args = price.to_vec();
    args.extend(["--hardware-refresh-years", "2"]);
    let (r, _) = json_lines(&args);
    assert_eq!(r["G9"], 2.0);
    assert!(close_rel(r["G5"], 3.0 * r["S3"]));
    assert!(close_rel(r["G6"], r["G2"] + r["G4"] + r["G5"]));
    assert!(r["G8"] > f["G8"]);
    let out = run(&["--hardware-refresh-years", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("hardware-refresh-years"));
}
