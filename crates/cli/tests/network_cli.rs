//! `tiandi topology` and `tiandi routes` run as the real binary in a fresh directory:
//! output shape and contents, consistency between the two commands, and one clear error
//! line with a non-zero exit for bad input.

mod common;
use common::{fresh_dir, tiandi};

use std::path::PathBuf;
use std::process::Output;

use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, format_tle};

const START: &str = "2026-11-24T00:00:00Z";

/// A Walker 12 x 12 at 550 km, 53 deg as TLE text, plane by plane (144 satellites).
fn walker_tle() -> String {
    let design = WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: 12,
        sats_per_plane: 12,
        phasing: 1,
        altitude_km: 550.0,
        inclination_deg: 53.0,
        epoch: Epoch::parse_iso(START).unwrap(),
        raan_offset_deg: 0.0,
        first_norad_id: 70_000,
        name_prefix: "T".into(),
    };
    design.elements().unwrap().iter().map(format_tle).collect()
}

const STATIONS: &str = "name,latitude_deg,longitude_deg,elevation_m\nTokyo,35.6895,139.6917,0\nDelhi,28.6667,77.2167,0\nLondon,51.5085,-0.1257,0\nNew-York,40.7143,-74.006,0\n";

fn setup(test: &str) -> PathBuf {
    let dir = fresh_dir("network_cli", test);
    std::fs::write(dir.join("sats.tle"), walker_tle()).unwrap();
    std::fs::write(dir.join("gs.csv"), STATIONS).unwrap();
    dir
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn topology_lists_each_link_once() {
    let dir = setup("topology");
    let out = stdout(&tiandi(
        &dir,
        &[
            "topology",
            "--tle",
            "sats.tle",
            "--planes",
            "12",
            "--isl",
            "plus-grid",
            "--ground-stations",
            "gs.csv",
            "--at",
            "2026-11-24T00:10:00Z",
        ],
    ));
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("a,b,kind,distance_km,delay_ms,capacity_bps")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let mut isl = 0;
    let mut seen = std::collections::BTreeSet::new();
    for r in &rows {
        assert_eq!(r.len(), 6, "{r:?}");
        let (a, b): (u32, u32) = (r[0].parse().unwrap(), r[1].parse().unwrap());
        assert!(a < b && seen.insert((a, b)), "{r:?}");
        let distance: f64 = r[3].parse().unwrap();
        let delay: f64 = r[4].parse().unwrap();
        // delay = distance / c to the printed precision (1 m, 1 ns).
        assert!((delay - distance / 299_792.458 * 1e3).abs() < 1e-5, "{r:?}");
        match r[2] {
            "isl" => {
                isl += 1;
                assert!(b < 144);
            }
            "gsl" => assert!(a < 144 && (144..148).contains(&b), "{r:?}"),
            other => panic!("unexpected kind {other}"),
        }
    }
    // Plus-grid over 12 x 12 at 550 km: neighbours are at most ~30 deg apart (chord
    // < 3,600 km, lowest point ~300 km up), so all 2 x 144 links exist.
    assert_eq!(isl, 288);
}

#[test]
fn routes_csv_and_summary_agree() {
    let dir = setup("routes");
    let base = [
        "routes",
        "--tle",
        "sats.tle",
        "--planes",
        "12",
        "--isl",
        "plus-grid",
        "--ground-stations",
        "gs.csv",
        "--start",
        START,
        "--duration-s",
        "60",
        "--step-ms",
        "10000",
        "--min-elevation-deg",
        "10",
    ];
    let out = stdout(&tiandi(&dir, &base));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("time_s,src,dst,delay_ms,hops,path"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert!(!rows.is_empty());
    let mut times = std::collections::BTreeSet::new();
    for r in &rows {
        let path: Vec<u32> = r[5].split('-').map(|n| n.parse().unwrap()).collect();
        assert_eq!(path.first().unwrap().to_string(), r[1]);
        assert_eq!(path.last().unwrap().to_string(), r[2]);
        assert_eq!(path.len() - 1, r[4].parse::<usize>().unwrap());
        assert!(
            path[1..path.len() - 1].iter().all(|&n| n < 144),
            "only satellites relay: {r:?}"
        );
        assert_ne!(r[1], r[2]);
        times.insert(r[0].clone());
    }
    // 60 s at 10 s: t = 0, 10, ..., 50.
    assert_eq!(
        times.into_iter().collect::<Vec<_>>(),
        ["0.000", "10.000", "20.000", "30.000", "40.000", "50.000"]
    );
    let mut with_summary = base.to_vec();
    with_summary.push("--summary");
    let summary = stdout(&tiandi(&dir, &with_summary));
    assert!(
        summary.contains(&format!(
            "routes: {} of {} pair-snapshots",
            rows.len(),
            6 * 12
        )),
        "{summary}"
    );
    assert!(
        summary.contains("p99") && summary.contains("per pair per hour"),
        "{summary}"
    );
}

#[test]
fn routes_are_consistent_with_topology() {
    let dir = setup("consistent");
    let at = "2026-11-24T00:05:00Z";
    let topo = stdout(&tiandi(
        &dir,
        &[
            "topology",
            "--tle",
            "sats.tle",
            "--planes",
            "12",
            "--ground-stations",
            "gs.csv",
            "--at",
            at,
        ],
    ));
    let delay: std::collections::BTreeMap<(u32, u32), f64> = topo
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                (f[0].parse().unwrap(), f[1].parse().unwrap()),
                f[4].parse().unwrap(),
            )
        })
        .collect();
    let routes = stdout(&tiandi(
        &dir,
        &[
            "routes",
            "--tle",
            "sats.tle",
            "--planes",
            "12",
            "--ground-stations",
            "gs.csv",
            "--start",
            at,
            "--duration-s",
            "1",
            "--step-ms",
            "1000",
        ],
    ));
    let mut n = 0;
    for l in routes.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let path: Vec<u32> = f[5].split('-').map(|x| x.parse().unwrap()).collect();
        let sum: f64 = path
            .windows(2)
            .map(|w| delay[&(w[0].min(w[1]), w[0].max(w[1]))])
            .sum();
        // Both printed to 1 ns; a path of up to ~20 links accumulates < 2e-5 ms of rounding.
        assert!((sum - f[3].parse::<f64>().unwrap()).abs() < 2e-5, "{l}");
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn routes_run_between_data_centres_stations_and_point_users() {
    let dir = setup("any_nodes");
    std::fs::write(
        dir.join("dc.csv"),
        "name,latitude_deg,longitude_deg,elevation_m\nDC-Beijing,39.9,116.4,50\nDC-Frankfurt,50.11,8.68,100\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("users.csv"),
        "name,latitude_deg,longitude_deg,elevation_m\nShip-Pacific,30.0,-150.0,0\nShip-Indian,-20.0,80.0,0\n",
    )
    .unwrap();
    let net = [
        "--tle",
        "sats.tle",
        "--planes",
        "12",
        "--ground-stations",
        "gs.csv",
        "--data-centres",
        "dc.csv",
        "--users",
        "users.csv",
    ];
    let mut topo_args = vec!["topology"];
    topo_args.extend(net);
    topo_args.extend(["--at", START]);
    let topo = stdout(&tiandi(&dir, &topo_args));
    let links: std::collections::BTreeMap<(u32, u32), (String, f64)> = topo
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                (f[0].parse().unwrap(), f[1].parse().unwrap()),
                (f[2].to_string(), f[4].parse().unwrap()),
            )
        })
        .collect();
    let mut route_args = vec!["routes"];
    route_args.extend(net);
    route_args.extend([
        "--start",
        START,
        "--duration-s",
        "600",
        "--step-ms",
        "60000",
    ]);
    let routes = stdout(&tiandi(&dir, &route_args));
    // Ids: 144 satellites, stations 144-147, data centres 148-149, users 150-151.
    let (first_dc, first_user, n_nodes) = (148u32, 150u32, 152u32);
    let mut pairs = std::collections::BTreeSet::new();
    let mut dc_to_user = 0;
    for l in routes.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let path: Vec<u32> = f[5].split('-').map(|x| x.parse().unwrap()).collect();
        let (src, dst) = (path[0], *path.last().unwrap());
        assert_eq!((src, dst), (f[1].parse().unwrap(), f[2].parse().unwrap()));
        assert!(
            src >= 144 && dst >= 144 && src < n_nodes && dst < n_nodes,
            "{l}"
        );
        pairs.insert((src, dst));
        // Users end paths and never relay.
        assert!(
            path[1..path.len() - 1].iter().all(|&v| v < first_user),
            "{l}"
        );
        if (first_dc..first_user).contains(&src) && dst >= first_user {
            dc_to_user += 1;
            // A data centre has fibre only: its first hop is a station, its second a satellite.
            assert!((144..148).contains(&path[1]), "{l}");
        }
        if f[0] == "0.000" {
            let sum: f64 = path
                .windows(2)
                .map(|w| {
                    let (kind, d) = &links[&(w[0].min(w[1]), w[0].max(w[1]))];
                    if w[0] >= first_dc || w[1] >= first_dc {
                        let want = if w[0] >= first_user || w[1] >= first_user {
                            "gsl"
                        } else {
                            "fibre"
                        };
                        assert_eq!(kind, want, "{l}");
                    }
                    d
                })
                .sum();
            assert!((sum - f[3].parse::<f64>().unwrap()).abs() < 2e-5, "{l}");
        }
    }
    assert!(dc_to_user > 0, "no route from a data centre to a user");
    // Every ordered pair of the eight ground nodes is routed at some snapshot.
    assert_eq!(pairs.len(), 8 * 7, "{pairs:?}");
    // Hypatia's files have stations only.
    let mut hyp = route_args.clone();
    hyp.extend(["--hypatia-out", "h"]);
    let out = tiandi(&dir, &hyp);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ground stations only"));
}

#[test]
fn gsl_range_rule_limits_topology_links() {
    let dir = setup("gsl_range");
    let gsl_km = |extra: &[&str]| -> Vec<f64> {
        let mut args = vec![
            "topology",
            "--tle",
            "sats.tle",
            "--planes",
            "12",
            "--ground-stations",
            "gs.csv",
            "--at",
            "2026-11-24T00:10:00Z",
            "--min-elevation-deg",
            "0",
        ];
        args.extend_from_slice(extra);
        stdout(&tiandi(&dir, &args))
            .lines()
            .skip(1)
            .filter(|l| l.contains(",gsl,"))
            .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
            .collect()
    };
    let all = gsl_km(&[]);
    let ranged = gsl_km(&["--max-gsl-range-km", "1500"]);
    assert!(ranged.iter().all(|&d| d <= 1_500.0), "{ranged:?}");
    // The same links, less those beyond range (12 x 12 at 550 km: several per station).
    let expected: Vec<f64> = all.iter().copied().filter(|&d| d <= 1_500.0).collect();
    assert_eq!(ranged, expected);
    assert!(
        ranged.len() < all.len(),
        "{} of {}",
        ranged.len(),
        all.len()
    );
}

fn error_line(o: &Output) -> String {
    assert!(!o.status.success(), "should fail");
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

#[test]
fn bad_input_gets_one_clear_line() {
    let dir = setup("bad");
    let run = |args: &[&str]| {
        let mut all = vec!["topology", "--at", START];
        all.extend_from_slice(args);
        tiandi(&dir, &all)
    };
    let err = error_line(&run(&[
        "--tle",
        "sats.tle",
        "--planes",
        "7",
        "--ground-stations",
        "gs.csv",
    ]));
    assert!(
        err.contains("--planes 7") && err.contains("144 satellites"),
        "{err}"
    );

    std::fs::write(
        dir.join("lat95.csv"),
        "name,latitude_deg,longitude_deg,elevation_m\nNowhere,95,10,0\n",
    )
    .unwrap();
    let err = error_line(&run(&[
        "--tle",
        "sats.tle",
        "--planes",
        "12",
        "--ground-stations",
        "lat95.csv",
    ]));
    assert!(
        err.contains("lat95.csv") && err.contains("latitude_deg") && err.contains("95"),
        "{err}"
    );

    std::fs::write(dir.join("empty.tle"), "").unwrap();
    let err = error_line(&run(&[
        "--tle",
        "empty.tle",
        "--planes",
        "12",
        "--ground-stations",
        "gs.csv",
    ]));
    assert!(err.contains("empty.tle"), "{err}");

    let err = error_line(&tiandi(
        &dir,
        &[
            "routes",
            "--tle",
            "sats.tle",
            "--planes",
            "12",
            "--ground-stations",
            "gs.csv",
            "--start",
            START,
            "--duration-s",
            "10",
            "--step-ms",
            "0",
        ],
    ));
    assert!(err.contains("--step-ms"), "{err}");
    let err = error_line(&run(&[
        "--tle",
        "sats.tle",
        "--isl",
        "plus-grid",
        "--ground-stations",
        "gs.csv",
    ]));
    assert!(err.contains("planes"), "{err}");
    let err = error_line(&run(&[
        "--tle",
        "sats.tle",
        "--planes",
        "12",
        "--ground-stations",
        "gs.csv",
        "--max-gsl-range-km",
        "0",
    ]));
    assert!(err.contains("--max-gsl-range-km 0"), "{err}");
    let err = error_line(&tiandi(
        &dir,
        &[
            "routes",
            "--tle",
            "sats.tle",
            "--isl",
            "nearest-k",
            "--ground-stations",
            "gs.csv",
            "--start",
            START,
            "--duration-s",
            "10",
            "--step-ms",
            "10000",
            "--hypatia-out",
            "hyp",
        ],
    ));
    assert!(
        err.contains("--hypatia-out") && err.contains("nearest-k"),
        "{err}"
    );
}
