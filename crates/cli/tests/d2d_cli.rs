//! `tiandi d2d` through the real binary: keep-until-lost handovers fall on the LOS that
//! `tiandi contacts` gives for the same point and mask, predictive switches before LOS to a
//! satellite that stays longer, the books of sessions balance, runs are reproducible, and
//! bad input names the flag or file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tiandi_orbit::Epoch;

fn tiandi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiandi"))
        .args(args)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tiandi-d2d-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const START: &str = "2026-11-24T00:00:00Z";

/// A 12 x 20 Walker shell at 550 km, 53 deg, and one handset at 30 N 110 E.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let out = tiandi(&[
        "constellation",
        "walker",
        "--planes",
        "12",
        "--sats-per-plane",
        "20",
        "--altitude-km",
        "550",
        "--inclination-deg",
        "53",
    ]);
    assert!(out.status.success());
    let tle = dir.join("shell.tle");
    std::fs::write(&tle, &out.stdout).unwrap();
    let terminals = dir.join("terminals.csv");
    std::fs::write(
        &terminals,
        "name,latitude_deg,longitude_deg,elevation_m\nhandset,30.0,110.0,0\n",
    )
    .unwrap();
    (tle, terminals)
}

fn d2d(tle: &Path, terminals: &Path, strategy: &str, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "d2d",
        "--tle",
        tle.to_str().unwrap(),
        "--terminals",
        terminals.to_str().unwrap(),
        "--start",
        START,
        "--duration-s",
        "21600",
        "--strategy",
        strategy,
        "--min-elevation-deg",
        "25",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = tiandi(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// (time, from, to) of every handover.
fn handovers(dir: &Path) -> Vec<(Epoch, String, String)> {
    let text = std::fs::read_to_string(dir.join("handovers.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("terminal,time_utc,from_satellite,to_satellite,interruption_ms")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 5, "{l}");
            assert_eq!(f[4], "200");
            (Epoch::parse_iso(f[1]).unwrap(), f[2].into(), f[3].into())
        })
        .collect()
}

/// (satellite, aos, los) of every pass `tiandi contacts` finds for the handset.
fn passes(tle: &Path) -> Vec<(String, Epoch, Epoch)> {
    let out = tiandi(&[
        "contacts",
        "--tle",
        tle.to_str().unwrap(),
        "--station",
        "handset,30.0,110.0,0",
        "--start",
        START,
        "--end",
        "2026-11-24T06:00:00Z",
        "--min-elevation-deg",
        "25",
    ]);
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                Epoch::parse_iso(f[2]).unwrap(),
                Epoch::parse_iso(f[3]).unwrap(),
            )
        })
        .collect()
}

#[test]
fn keep_until_lost_hands_over_at_the_los_of_the_contact_plan() {
    let dir = scratch("kul");
    let (tle, terminals) = setup(&dir);
    d2d(&tle, &terminals, "keep-until-lost", &dir.join("out"), &[]);
    let hs = handovers(&dir.join("out"));
    let ps = passes(&tle);
    assert!(hs.len() >= 10, "{} handovers in 6 h", hs.len());
    for (at, from, to) in &hs {
        let los = ps
            .iter()
            .filter(|(s, aos, los)| s == from && aos <= at && (at.seconds_since(*los)).abs() <= 1.0)
            .count();
        assert_eq!(
            los, 1,
            "handover at {at} from {from}: no pass of it ends there"
        );
        // The new satellite is in view at that moment.
        assert!(
            ps.iter()
                .any(|(s, aos, los)| s == to && aos <= at && at < los),
            "{to} is not in view at {at}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn predictive_switches_early_to_a_longer_pass_and_hands_over_least() {
    let dir = scratch("pred");
    let (tle, terminals) = setup(&dir);
    for s in ["predictive", "highest-elevation", "keep-until-lost"] {
        d2d(&tle, &terminals, s, &dir.join(s), &[]);
    }
    let ps = passes(&tle);
    let pass_of = |sat: &str, at: Epoch| {
        ps.iter()
            .find(|(s, aos, los)| s == sat && *aos <= at && at <= *los)
            .unwrap_or_else(|| panic!("{sat} not in view at {at}"))
            .2
    };
    let pred = handovers(&dir.join("predictive"));
    let mut early = 0;
    for (at, from, to) in &pred {
        let (from_los, to_los) = (pass_of(from, *at), pass_of(to, *at));
        // 5 s before LOS (the default lead) to a satellite that stays longer, or at LOS.
        let lead = from_los.seconds_since(*at);
        assert!(
            (lead - 5.0).abs() < 1e-3 || lead.abs() < 1e-3,
            "{at}: {lead} s before LOS"
        );
        if (lead - 5.0).abs() < 1e-3 {
            // Only to a pass that outlasts the serving one by the lead at least.
            assert!(
                to_los.seconds_since(from_los) >= 5.0 - 1e-3,
                "{at}: switched to a pass ending {} s later",
                to_los.seconds_since(from_los)
            );
            early += 1;
        }
    }
    assert!(early > 0, "no early switch in 6 h");
    let he = handovers(&dir.join("highest-elevation"));
    let kul = handovers(&dir.join("keep-until-lost"));
    assert!(
        pred.len() <= kul.len() && kul.len() < he.len(),
        "predictive {}, keep-until-lost {}, highest-elevation {}",
        pred.len(),
        kul.len(),
        he.len()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn outages_are_the_gaps_between_passes_and_sessions_in_them_are_blocked() {
    let dir = scratch("gaps");
    let (tle, terminals) = setup(&dir);
    // The shell leaves gaps at a 25 deg mask: the outage share must be the part of the 6 h
    // that no pass of `tiandi contacts` covers.
    d2d(&tle, &terminals, "keep-until-lost", &dir.join("o"), &[]);
    let mut ps: Vec<(Epoch, Epoch)> = passes(&tle).into_iter().map(|p| (p.1, p.2)).collect();
    ps.sort();
    let (mut covered, mut reach) = (0.0, Epoch::parse_iso(START).unwrap());
    for (aos, los) in ps {
        let a = aos.max(reach);
        if los > a {
            covered += los.seconds_since(a);
            reach = los;
        }
    }
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("o/summary.json")).unwrap()).unwrap();
    let gap = 1.0 - covered / 21_600.0;
    let outage = s["outage_share"].as_f64().unwrap();
    assert!(
        gap > 0.01,
        "the shell covers the handset {covered} s of 6 h"
    );
    assert!(
        (outage - gap).abs() < 1e-6,
        "outage {outage} against gaps {gap}"
    );
    assert!(
        s["sessions_blocked"].as_u64().unwrap() + s["voice"]["dropped_by_outage"].as_u64().unwrap()
            > 0
    );
    // A handset at the pole never sees a 53 deg shell: no handover, every session blocked,
    // none dropped.
    let pole = dir.join("pole.csv");
    std::fs::write(
        &pole,
        "name,latitude_deg,longitude_deg,elevation_m\npole,90,0,0\n",
    )
    .unwrap();
    d2d(&tle, &pole, "predictive", &dir.join("p"), &[]);
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("p/summary.json")).unwrap()).unwrap();
    assert_eq!(p["handovers"], 0);
    assert_eq!(p["outage_share"].as_f64(), Some(1.0));
    assert!(p["sessions"].as_u64().unwrap() > 0);
    assert_eq!(p["sessions_blocked"], p["sessions"]);
    assert_eq!(p["sessions_dropped"], 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_session_books_balance_and_a_seed_reproduces_them() {
    let dir = scratch("books");
    let (tle, terminals) = setup(&dir);
    let extra = ["--sessions-per-hour", "30", "--handover-failure", "0.05"];
    d2d(
        &tle,
        &terminals,
        "highest-elevation",
        &dir.join("a"),
        &extra,
    );
    d2d(
        &tle,
        &terminals,
        "highest-elevation",
        &dir.join("b"),
        &extra,
    );
    for f in ["handovers.csv", "summary.json"] {
        assert_eq!(
            std::fs::read(dir.join("a").join(f)).unwrap(),
            std::fs::read(dir.join("b").join(f)).unwrap(),
            "{f} differs between two runs with one seed"
        );
    }
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("a/summary.json")).unwrap()).unwrap();
    let n = |v: &serde_json::Value| v.as_u64().unwrap();
    assert_eq!(
        n(&s["sessions"]),
        n(&s["voice"]["sessions"]) + n(&s["data"]["sessions"])
    );
    assert_eq!(
        n(&s["sessions_dropped"]),
        n(&s["voice"]["dropped"]) + n(&s["data"]["dropped"])
    );
    for k in ["voice", "data"] {
        assert_eq!(
            n(&s[k]["dropped"]),
            n(&s[k]["dropped_by_outage"])
                + n(&s[k]["dropped_by_failed_handover"])
                + n(&s[k]["dropped_by_long_handover"])
        );
    }
    // Both drop causes bind at these settings, and the handover count is the file's.
    assert!(
        n(&s["voice"]["dropped_by_failed_handover"]) + n(&s["data"]["dropped_by_failed_handover"])
            > 0
    );
    assert_eq!(n(&s["handovers"]) as usize, handovers(&dir.join("a")).len());
    let share = s["interruption_share"].as_f64().unwrap();
    assert!((share - n(&s["handovers"]) as f64 * 0.2 / 21_600.0).abs() < 1e-12);
    // A handover longer than the radio-link timer drops every session it meets.
    d2d(
        &tle,
        &terminals,
        "highest-elevation",
        &dir.join("c"),
        &["--handover-ms", "1500", "--sessions-per-hour", "30"],
    );
    let c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("c/summary.json")).unwrap()).unwrap();
    let long =
        n(&c["voice"]["dropped_by_long_handover"]) + n(&c["data"]["dropped_by_long_handover"]);
    assert!(long > 0);
    // A session killed by a handover was interrupted by it.
    assert!(n(&c["sessions_interrupted"]) >= long);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_names_the_flag_or_file() {
    let dir = scratch("bad");
    let (tle, terminals) = setup(&dir);
    let out = dir.join("out");
    let base = [
        "d2d",
        "--tle",
        tle.to_str().unwrap(),
        "--terminals",
        terminals.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    for (extra, want) in [
        (&["--handover-ms", "-1"][..], "--handover-ms -1"),
        (&["--min-elevation-deg", "95"][..], "--min-elevation-deg 95"),
        (&["--handover-failure", "2"][..], "--handover-failure 2"),
        (&["--strategy", "psychic"][..], "psychic"),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let o = tiandi(&args);
        assert!(!o.status.success(), "{extra:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    // Element sets carry their own epochs: --tle needs --start.
    let o = tiandi(&base);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs --start"));
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "name,latitude_deg,longitude_deg,elevation_m\nx,91,0,0\n",
    )
    .unwrap();
    let o = tiandi(&[
        "d2d",
        "--tle",
        tle.to_str().unwrap(),
        "--terminals",
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.csv"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
