//! The orbit commands through the real `tiandi` binary: outputs and bad-input handling.

mod common;
use common::{fresh_dir, tiandi};

use std::process::Output;

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
    let dir = fresh_dir("orbit_cli", "corrupt");
    std::fs::write(
        dir.join("bad.tle"),
        ISS.replace("15.49507896", "15.4950x896"),
    )
    .unwrap();
    let out = tiandi(
        &dir,
        &[
            "propagate",
            "--tle",
            "bad.tle",
            "--start",
            "2020-07-13T00:00:00Z",
            "--end",
            "2020-07-13T01:00:00Z",
        ],
    );
    // The changed digit also breaks the checksum, which is checked first.
    assert_one_line_error(&out, &["bad.tle:3:69", "checksum"]);
    let out = tiandi(
        &dir,
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
    );
    // Lenient mode lets the checksum pass and stops at the field itself.
    assert_one_line_error(
        &out,
        &["bad.tle:3:53: mean motion: expected a number, found \"15.4950x896\""],
    );
}

#[test]
fn missing_file() {
    let dir = fresh_dir("orbit_cli", "missing");
    let out = tiandi(
        &dir,
        &["contacts", "--tle", "nope.tle", "--station", "A,10,20,0"],
    );
    assert_one_line_error(&out, &["cannot read nope.tle"]);
}

#[test]
fn end_before_start() {
    let dir = fresh_dir("orbit_cli", "window");
    let out = tiandi(
        &dir,
        &[
            "eclipses",
            "--start",
            "2026-11-25T00:00:00Z",
            "--end",
            "2026-11-24T00:00:00Z",
        ],
    );
    assert_one_line_error(
        &out,
        &["--end 2026-11-24T00:00:00.000Z is not after --start 2026-11-25T00:00:00.000Z"],
    );
    let out = tiandi(&dir, &["eclipses", "--start", "2026-11-32"]);
    assert_one_line_error(&out, &["--start", "2026-11-32"]);
}

#[test]
fn elevation_out_of_range() {
    let dir = fresh_dir("orbit_cli", "elev");
    let out = tiandi(&dir, &["contacts", "--min-elevation-deg", "95"]);
    assert_one_line_error(&out, &["--min-elevation-deg 95"]);
}

#[test]
fn bad_station_csv_names_line_and_field() {
    let dir = fresh_dir("orbit_cli", "stations");
    std::fs::write(
        dir.join("gs.csv"),
        "name,latitude_deg,longitude_deg,elevation_m\nA,10,20,0\nB,95,20,0\n",
    )
    .unwrap();
    let out = tiandi(&dir, &["contacts", "--stations", "gs.csv"]);
    assert_one_line_error(&out, &["gs.csv:3", "latitude_deg 95"]);
}

#[test]
fn propagate_writes_the_documented_csv() {
    let dir = fresh_dir("orbit_cli", "prop");
    std::fs::write(dir.join("iss.tle"), ISS).unwrap();
    let out = tiandi(
        &dir,
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
    let dir = fresh_dir("orbit_cli", "walker");
    let out = tiandi(
        &dir,
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
    );
    assert!(out.status.success());
    std::fs::write(dir.join("w.tle"), &out.stdout).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 18);
    let out = tiandi(
        &dir,
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
    let dir = fresh_dir("orbit_cli", "default");
    let out = tiandi(&dir, &["contacts", "--end", "2026-11-24T02:00:00Z"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().count() > 50, "{text}");
    assert!(text.contains(",Kashgar,"));
}
