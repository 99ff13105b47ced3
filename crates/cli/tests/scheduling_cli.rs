//! Unified scheduling through the real binary: with the ground hubs saturated, ground-AI
//! work reaches orbit under `unified` (by fibre to a station and up its link) and never
//! under `bent-pipe`, and meets more deadlines for it.

mod common;
use common::{fresh_dir, tiandi};

use std::path::Path;

#[test]
fn ground_work_reaches_orbit() {
    let dir = fresh_dir("scheduling_cli", "saturated");
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/saturated-ground.toml");
    let out = tiandi(
        &dir,
        &[
            "simulate",
            example.to_str().unwrap(),
            "--compare",
            "bent-pipe,unified",
            "--out",
            "out",
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
    let ground_ai = |policy: &str| {
        summary["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["policy"] == policy)
            .unwrap()["by_kind"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == "ground-ai")
            .unwrap()
            .clone()
    };
    let (bent, unified) = (ground_ai("bent-pipe"), ground_ai("unified"));
    assert_eq!(bent["computed_in_orbit"], 0, "{bent}");
    let in_orbit = unified["computed_in_orbit"].as_u64().unwrap();
    assert!(in_orbit > 0, "{unified}");
    // The hubs alone meet almost nothing; orbit takes a real share and meets deadlines.
    let met = |k: &serde_json::Value| k["deadline_met_ratio"].as_f64().unwrap();
    assert!(met(&bent) < 0.05, "{bent}");
    assert!(met(&unified) > met(&bent) + 0.1, "{unified} vs {bent}");
}
