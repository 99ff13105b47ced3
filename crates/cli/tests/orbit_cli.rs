//! The orbit commands through the real `tiandi` binary: outputs and bad-input handling.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tiandi(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiandi"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run tiandi")
}

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tiandi-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ISS: &str = "ISS (ZARYA)\n1 25544U 98067A   20194.88612269 -.00002218  00000-0 -31515-4 0  9992\n2 25544  51.6461 221.2784 0001413  89.1723 280.4612 15.49507896236008\n";

/// Asserts a failure with exactly one line on stderr containing every `needle`, and no panic.
fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {stderr}");
    assert_ne!(out.status.code(), Some(101), "a panic exit code: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line on stderr, got: {stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "stderr {stderr:?} should mention {n:?}");
    }
}

#[test]
fn corrupted_tle_names_file_line_and_field() {
    let dir = temp_dir("corrupt");
    std::fs::write(
        dir.join("bad.tle"),
        ISS.replace("15.49507896", "15.4950x896"),
    )
    .unwrap();
    let out = tiandi(
        &[
            "propagate",
            "--tle",
            "bad.tle",
            "--start",
            "2020-07-13T00:00:00Z",
            "--end",
            "2020-07-13T01:00:00Z",
        ],
        &dir,
    );
    // The changed digit also breaks the checksum, which is checked first.
    assert_one_line_error(&out, &["bad.tle:3:69", "checksum"]);
    let out = tiandi(
        &[
            "propagate",
            "--tle",
            "bad.tle",
            "--lenient",
            "--start",
            "2020-07-13T00:00:00Z",
            "--end",
            "2020-07-13T01:00:00Z",
        ],
        &dir,
    );
    // Lenient mode lets the checksum pass and stops at the field itself.
    assert_one_line_error(
        &out,
        &["bad.tle:3:53: mean motion: expected a number, found \"15.4950x896\""],
    );
}

#[test]
fn missing_file() {
    let dir = temp_dir("missing");
    let out = tiandi(
        &["contacts", "--tle", "nope.tle", "--station", "A,10,20,0"],
        &dir,
    );
    assert_one_line_error(&out, &["cannot read nope.tle"]);
}

#[test]
fn end_before_start() {
    let dir = temp_dir("window");
    let out = tiandi(
        &[
            "eclipses",
            "--start",
            "2026-11-25T00:00:00Z",
            "--end",
            "2026-11-24T00:00:00Z",
        ],
        &dir,
    );
    assert_one_line_error(
        &out,
        &["--end 2026-11-24T00:00:00.000Z is not after --start 2026-11-25T00:00:00.000Z"],
    );
    let out = tiandi(&["eclipses", "--start", "2026-11-32"], &dir);
    assert_one_line_error(&out, &["--start", "2026-11-32"]);
}

#[test]
fn elevation_out_of_range() {
    let dir = temp_dir("elev");
    let out = tiandi(&["contacts", "--min-elevation-deg", "95"], &dir);
    assert_one_line_error(&out, &["--min-elevation-deg 95"]);
}

#[test]
fn bad_station_csv_names_line_and_field() {
    let dir = temp_dir("stations");
    std::fs::write(
        dir.join("gs.csv"),
        "name,latitude_deg,longitude_deg,elevation_m\nA,10,20,0\nB,95,20,0\n",
    )
    .unwrap();
    let out = tiandi(&["contacts", "--stations", "gs.csv"], &dir);
    assert_one_line_error(&out, &["gs.csv:3", "latitude_deg 95"]);
}

#[test]
fn propagate_writes_the_documented_csv() {
    let dir = temp_dir("prop");
    std::fs::write(dir.join("iss.tle"), ISS).unwrap();
    let out = tiandi(
        &[
            "propagate",
            "--tle",
            "iss.tle",
            "--start",
            "2020-07-13T00:00:00Z",
            "--end",
            "2020-07-13T00:10:00Z",
            "--step-s",
            "300",
            "--frame",
            "itrf",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "satellite,time_utc,x_km,y_km,z_km,vx_km_s,vy_km_s,vz_km_s"
    );
    assert_eq!(lines.len(), 4);
    assert!(
        lines[1].starts_with("ISS (ZARYA),2020-07-13T00:00:00.000Z,"),
        "{}",
        lines[1]
    );
    // The ISS flew at 400-430 km in July 2020: 6,770-6,820 km from the Earth's centre.
    let f: Vec<f64> = lines[2]
        .split(',')
        .skip(2)
        .map(|v| v.parse().unwrap())
        .collect();
    let r = (f[0] * f[0] + f[1] * f[1] + f[2] * f[2]).sqrt();
    assert!((6_770.0..6_820.0).contains(&r), "{r}");
}

#[test]
fn walker_tle_round_trips_through_contacts() {
    let dir = temp_dir("walker");
    let out = tiandi(
        &[
            "constellation",
            "walker",
            "--planes",
            "3",
            "--sats-per-plane",
            "2",
            "--altitude-km",
            "550",
            "--inclination-deg",
            "53",
        ],
        &dir,
    );
    assert!(out.status.success());
    std::fs::write(dir.join("w.tle"), &out.stdout).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 18);
    let out = tiandi(
        &[
            "contacts",
            "--tle",
            "w.tle",
            "--station",
            "Beijing,39.9,116.4,50",
            "--start",
            "2026-11-24T00:00:00Z",
            "--end",
            "2026-11-25T00:00:00Z",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "satellite,station,aos_utc,los_utc,max_elevation_deg,max_elevation_utc"
    );
    // Six satellites at 53 deg over a 40 deg N station for a day: several passes each.
    assert!(text.lines().count() > 10, "{text}");
}

#[test]
fn default_contacts_shows_passes() {
    let dir = temp_dir("default");
    let out = tiandi(&["contacts", "--end", "2026-11-24T02:00:00Z"], &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().count() > 50, "{text}");
    assert!(text.contains(",Kashgar,"));
}
