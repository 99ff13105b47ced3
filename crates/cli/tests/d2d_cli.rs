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
    passes_at(tle, 25.0)
}

fn passes_at(tle: &Path, mask_deg: f64) -> Vec<(String, Epoch, Epoch)> {
    let mask = mask_deg.to_string();
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
        &mask,
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

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// The handset's link budget: at 1 Mbit/s in 1 MHz it needs 0 dB (13 deg from 550 km),
/// under the 25 deg mask, so it changes nothing; at 2 Mbit/s it needs 4.8 dB, about 32 deg,
/// and a keep-until-lost handover then falls at the LOS of the from-satellite's pass at the
/// budget's mask (bracketed by `tiandi contacts` at the lowest and highest budget mask of
/// the shell's satellites, within 1 s); outages grow and handovers thin out with the rate.
#[test]
fn the_handset_link_budget_raises_the_mask_when_the_rate_needs_it() {
    let dir = scratch("budget");
    let (tle, terminals) = setup(&dir);
    let run = |kbps: &str| {
        let out = dir.join(format!("r{kbps}"));
        d2d(
            &tle,
            &terminals,
            "keep-until-lost",
            &out,
            &["--rate-kbps", kbps],
        );
        out
    };
    let (low, one, two, three) = (run("1"), run("1000"), run("2000"), run("3000"));
    let read = |d: &Path| std::fs::read_to_string(d.join("handovers.csv")).unwrap();
    assert_eq!(read(&low), read(&one));
    let (s1, s2, s3) = (summary(&one), summary(&two), summary(&three));
    assert_eq!(s1["link_budget"]["binds"], false);
    assert!((s1["link_budget"]["budget_mask_deg_max"].as_f64().unwrap() - 13.0).abs() < 1.0);
    assert_eq!(s2["link_budget"]["binds"], true);
    // The report page shows the run, the budget and every handset.
    let html = std::fs::read_to_string(two.join("report.html")).unwrap();
    for needle in [
        "Direct-to-device service",
        "Handset link budget",
        "2000 kbit/s",
        "budget binds",
        "yes: passes end",
        "Handovers per hour, by handset",
        "<td>handset</td>",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle}");
    }
    let page1 = std::fs::read_to_string(one.join("report.html")).unwrap();
    assert!(
        page1.contains("no: the handset&#39;s mask") || page1.contains("no: the handset's mask")
    );
    let outage = |s: &serde_json::Value| s["outage_share"].as_f64().unwrap();
    let per_h = |s: &serde_json::Value| s["handovers_per_terminal_hour"].as_f64().unwrap();
    assert!(outage(&s1) < outage(&s2) && outage(&s2) < outage(&s3));
    assert!(per_h(&s1) > per_h(&s2) && per_h(&s2) > per_h(&s3));
    let b = &s2["link_budget"];
    let (lo, hi) = (
        b["budget_mask_deg_min"].as_f64().unwrap(),
        b["budget_mask_deg_max"].as_f64().unwrap(),
    );
    assert!(lo > 25.0 && hi < 40.0, "{lo} .. {hi}");
    // A higher mask ends a pass earlier: LOS at `hi` <= served LOS <= LOS at `lo`.
    let (early, late) = (
        passes_at(&tle, (hi * 100.0).ceil() / 100.0),
        passes_at(&tle, lo),
    );
    let hs = handovers(&two);
    assert!(hs.len() >= 5, "{} handovers", hs.len());
    for (at, from, _) in &hs {
        let los_of = |ps: &[(String, Epoch, Epoch)]| {
            ps.iter()
                .filter(|(s, aos, los)| s == from && *aos <= *at && at.seconds_since(*los) < 120.0)
                .map(|p| p.2)
                .min_by(|a, b| {
                    a.seconds_since(*at)
                        .abs()
                        .total_cmp(&b.seconds_since(*at).abs())
                })
        };
        let (e, l) = (los_of(&early), los_of(&late));
        let (e, l) = (
            e.expect("a pass at the high mask"),
            l.expect("a pass at the low mask"),
        );
        assert!(
            at.seconds_since(e) >= -1.0 && l.seconds_since(*at) >= -1.0,
            "handover at {at} from {from}: LOS at {hi:.2} deg {e}, at {lo:.2} deg {l}"
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

/// Handsets from a grid (one at each cell's centre) and sampled from a population CSV
/// (places in proportion to population, each handset within the spread of its place,
/// reproducible by seed).
#[test]
fn handsets_come_from_a_grid_or_a_population_sample() {
    let dir = scratch("sources");
    let (tle, _) = setup(&dir);
    let run = |extra: &[&str], out: &str| {
        let mut args = vec![
            "d2d",
            "--tle",
            tle.to_str().unwrap(),
            "--start",
            START,
            "--duration-s",
            "600",
            "--out",
        ];
        let out = dir.join(out);
        args.push(out.to_str().unwrap());
        args.extend_from_slice(extra);
        let o = tiandi(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (summary(&out), out)
    };
    // 20..30 N x 100..115 E at 5 deg: 2 x 3 cells.
    let (s, g) = run(&["--grid", "20,100,30,115", "--grid-deg", "5"], "grid");
    assert_eq!(s["terminals"], 6);
    let grid = std::fs::read_to_string(g.join("terminals.csv")).unwrap();
    assert!(
        grid.contains("grid_22.500_102.500,22.5,102.5,0") && grid.contains(",27.5,112.5,0"),
        "{grid}"
    );
    let pop = dir.join("pop.csv");
    std::fs::write(
        &pop,
        "name,latitude_deg,longitude_deg,population\nBig,30.0,110.0,3000\nSmall,40.0,116.0,1000\nNone,20.0,100.0,0\n",
    )
    .unwrap();
    let p = pop.to_str().unwrap();
    let sample = &["--population", p, "--handsets", "400", "--spread-km", "30"];
    let (s, a) = run(sample, "pop-a");
    assert_eq!(s["terminals"], 400);
    let (_, b) = run(sample, "pop-b");
    let read = |d: &Path| std::fs::read_to_string(d.join("handovers.csv")).unwrap();
    assert_eq!(read(&a), read(&b));
    let mut with_seed = sample.to_vec();
    with_seed.extend_from_slice(&["--seed", "9"]);
    let (_, c) = run(&with_seed, "pop-c");
    assert_ne!(read(&a), read(&c));
    // terminals.csv: names are the place and a count; the big place has about three
    // quarters (binomial, 400 draws: sigma 2.2 %), and each handset is within 30 km of it.
    let rows: Vec<(String, f64, f64)> = std::fs::read_to_string(a.join("terminals.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 400);
    let big = rows.iter().filter(|r| r.0.starts_with("Big-")).count();
    let small = rows.iter().filter(|r| r.0.starts_with("Small-")).count();
    assert_eq!(big + small, 400, "a place of no population was drawn");
    assert!(
        (big as f64 / 400.0 - 0.75).abs() < 0.08,
        "{big} big, {small} small"
    );
    assert!(
        rows.iter().any(|r| r.0 == "Big-0")
            && rows.iter().any(|r| r.0 == format!("Big-{}", big - 1))
    );
    let km = |lat: f64, lon: f64, lat0: f64, lon0: f64| {
        let (p, q) = (lat.to_radians(), lat0.to_radians());
        let h = ((p - q) / 2.0).sin().powi(2)
            + p.cos() * q.cos() * ((lon - lon0).to_radians() / 2.0).sin().powi(2);
        2.0 * 6_371.0 * h.sqrt().asin()
    };
    for (n, lat, lon) in &rows {
        let (lat0, lon0) = if n.starts_with("Big-") {
            (30.0, 110.0)
        } else {
            (40.0, 116.0)
        };
        // The disc is drawn on the tangent plane: 0.1 % slack for the sphere.
        assert!(km(*lat, *lon, lat0, lon0) <= 30.03, "{n} at {lat},{lon}");
    }
    assert!(
        rows.iter()
            .any(|(n, lat, lon)| n.starts_with("Big-") && km(*lat, *lon, 30.0, 110.0) > 20.0)
    );
    for bad in [
        vec!["--grid", "30,100,20,115"],
        vec!["--grid", "20,100,30"],
        vec!["--grid", "20,100,30,115", "--grid-deg", "0"],
        vec!["--population", p, "--handsets", "0"],
        vec!["--population", p, "--spread-km", "-1"],
        vec!["--population", tle.to_str().unwrap()],
    ] {
        let mut args = vec![
            "d2d",
            "--tle",
            tle.to_str().unwrap(),
            "--start",
            START,
            "--out",
            dir.join("bad").to_str().unwrap().to_string().leak(),
        ];
        args.extend(bad.iter().copied());
        let o = tiandi(&args);
        assert!(!o.status.success(), "{bad:?} was accepted");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            e.contains("--grid")
                || e.contains("--handsets")
                || e.contains("--spread-km")
                || e.contains("header"),
            "{bad:?}: {e}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
