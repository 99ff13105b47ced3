//! `tiandi reach` against physics on the default scenario: no delay beats light over the
//! great circle (or the straight line to a satellite), shares grow with the threshold,
//! nothing 300 km from every data centre is within 1 ms of one, and the CSV, GeoJSON and
//! HTML outputs agree with the library's delays.

use std::process::{Command, Output};

use glam::DVec3;
use tiandi_html::geo::LandMask;
use tiandi_network::reach::{nearest_ground_km, point_ecef};
use tiandi_network::{
    ComputeSet, Horizon, Network, NodeKind, ReachOptions, ReachPoint, SPEED_OF_LIGHT_KM_S, reach,
};
use tiandi_orbit::positions_ecef_at;
use tiandi_scenario::Scenario;

/// Relative slack of a lower bound: delays are stored as f32 (6e-8 relative rounding).
const F32_REL: f64 = 1e-6;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiandi"))
        .arg("reach")
        .args(args)
        .output()
        .unwrap()
}

/// A 2-degree grid over China and its seas, with fibre on land.
fn china_grid() -> Vec<ReachPoint> {
    let land = LandMask::new();
    let mut pts = Vec::new();
    for i in 0..=18 {
        for j in 0..=31 {
            let (lat, lon) = (18.0 + 2.0 * f64::from(i), 73.0 + 2.0 * f64::from(j));
            pts.push(ReachPoint {
                latitude_deg: lat,
                longitude_deg: lon,
                fibre: land.contains(lon, lat),
            });
        }
    }
    pts
}

fn ms(km: f64) -> f64 {
    km / SPEED_OF_LIGHT_KM_S * 1e3
}

#[test]
fn no_delay_beats_light_and_data_centres_bind_the_one_ms_circle() {
    let s = Scenario::built_in("default").unwrap().unwrap();
    let net = Network::new(s.network.clone()).unwrap();
    let horizon = Horizon::new(s.start, 3_600_000_000_000, 120_000_000_000).unwrap();
    let points = china_grid();
    let mask = s.network.links.gsl.min_elevation_deg;
    let mut positions = vec![DVec3::ZERO; s.satellites.len()];
    let mut checked = 0u64;
    let factor = net.config().fibre_delay_factor;
    for compute in [
        ComputeSet::DataCentres,
        ComputeSet::Satellites,
        ComputeSet::All,
    ] {
        let table = reach(
            &net,
            &s.satellites,
            horizon,
            &points,
            ReachOptions {
                compute,
                terminal_min_elevation_deg: mask,
            },
            &mut || {},
        )
        .unwrap();
        for k in 0..horizon.n_steps() {
            positions_ecef_at(&s.satellites, horizon.at(k), &mut positions).unwrap();
            for (p, pt) in points.iter().enumerate() {
                let (x, _) = point_ecef(pt.latitude_deg, pt.longitude_deg);
                let dc_km = nearest_ground_km(&net, x, &[NodeKind::DataCentre])
                    .unwrap()
                    .1;
                let sat_km = positions
                    .iter()
                    .map(|q| (*q - x).length())
                    .fold(f64::INFINITY, f64::min);
                let bound_ms = match compute {
                    ComputeSet::DataCentres => ms(dc_km),
                    ComputeSet::Satellites => ms(sat_km),
                    ComputeSet::All => ms(dc_km.min(sat_km)),
                };
                let d = table.delay_ms(p, k);
                assert!(
                    d >= bound_ms * (1.0 - F32_REL),
                    "{compute:?} ({}, {}) at step {k}: {d} ms is faster than light ({bound_ms} ms)",
                    pt.latitude_deg,
                    pt.longitude_deg
                );
                // Fibre straight to the nearest data centre is always open to a point with
                // fibre, so it bounds the delay from above too.
                if compute != ComputeSet::Satellites && pt.fibre {
                    let direct = ms(dc_km * factor);
                    assert!(
                        d <= direct * (1.0 + F32_REL),
                        "{compute:?} ({}, {}) at step {k}: {d} ms, direct fibre {direct} ms",
                        pt.latitude_deg,
                        pt.longitude_deg
                    );
                }
                if compute == ComputeSet::DataCentres && dc_km > 300.0 {
                    assert!(
                        d > 1.0,
                        "({}, {}): {d} ms",
                        pt.latitude_deg,
                        pt.longitude_deg
                    );
                }
                checked += 1;
            }
        }
        // The mechanisms bind: a land point next to a hub is within 1 ms by fibre, and a
        // sea point (no fibre) reaches data centres only through space, above 2 x 550 km.
        if compute == ComputeSet::DataCentres {
            let near = points
                .iter()
                .position(|p| {
                    let (x, _) = point_ecef(p.latitude_deg, p.longitude_deg);
                    p.fibre
                        && nearest_ground_km(&net, x, &[NodeKind::DataCentre])
                            .unwrap()
                            .1
                            < 150.0
                })
                .expect("a grid point near a data centre");
            assert_eq!(table.share_within(near, 1.0, 1.0), 1.0);
            let sea = points.iter().position(|p| !p.fibre).unwrap();
            let m = table.median_ms(sea, 1.0).unwrap();
            assert!(m > ms(2.0 * 550.0), "sea point median {m} ms");
        }
    }
    assert!(checked > 50_000, "{checked} delays checked");
}

#[test]
fn a_point_at_a_data_centre_is_at_zero_and_its_neighbour_at_the_fibre_delay() {
    let s = Scenario::built_in("default").unwrap().unwrap();
    let net = Network::new(s.network.clone()).unwrap();
    let dc = &s.network.data_centres[0].site.geodetic;
    // 0.5 deg of latitude north of the first data centre: by hand, 55.6 km of great
    // circle (R = 6371.0088 km) x 1.5 / c, provided the data centre is its nearest node.
    let points = [
        ReachPoint {
            latitude_deg: dc.latitude_deg,
            longitude_deg: dc.longitude_deg,
            fibre: true,
        },
        ReachPoint {
            latitude_deg: dc.latitude_deg + 0.5,
            longitude_deg: dc.longitude_deg,
            fibre: true,
        },
    ];
    let horizon = Horizon::new(s.start, 600_000_000_000, 60_000_000_000).unwrap();
    let table = reach(
        &net,
        &s.satellites,
        horizon,
        &points,
        ReachOptions {
            compute: ComputeSet::DataCentres,
            terminal_min_elevation_deg: 25.0,
        },
        &mut || {},
    )
    .unwrap();
    let (x, _) = point_ecef(points[1].latitude_deg, points[1].longitude_deg);
    let (nearest, _) =
        nearest_ground_km(&net, x, &[NodeKind::GroundStation, NodeKind::DataCentre]).unwrap();
    assert_eq!(
        net.kind(tiandi_network::NodeId(nearest)),
        NodeKind::DataCentre
    );
    let by_hand = 0.5_f64.to_radians() * 6_371.008_8 * 1.5 / SPEED_OF_LIGHT_KM_S * 1e3;
    for k in 0..horizon.n_steps() {
        assert!(table.delay_ms(0, k).abs() < 1e-9);
        let d = table.delay_ms(1, k);
        assert!((d - by_hand).abs() < 1e-3 * by_hand, "{d} vs {by_hand} ms");
    }
}

/// A point whose nearest ground node is a station, but which lies within 1 ms of fibre of
/// a data centre, is not forced through the station: it takes the fibre straight to the
/// data centre.
#[test]
fn a_point_beside_a_station_still_takes_the_fibre_straight_to_a_data_centre() {
    let s = Scenario::built_in("default").unwrap().unwrap();
    let net = Network::new(s.network.clone()).unwrap();
    let factor = net.config().fibre_delay_factor;
    // Points 20 km from each station, on a grid of bearings; keep those whose nearest node
    // is a station and whose nearest data centre is 100-190 km away by great circle.
    let mut points = Vec::new();
    let mut direct = Vec::new();
    for st in &s.network.stations {
        let g = &st.station.geodetic;
        for b in 0..8 {
            let bearing = f64::from(b) * std::f64::consts::FRAC_PI_4;
            let dlat = 20.0 / 111.2 * bearing.cos();
            let dlon = 20.0 / (111.2 * g.latitude_deg.to_radians().cos()) * bearing.sin();
            let p = ReachPoint {
                latitude_deg: g.latitude_deg + dlat,
                longitude_deg: g.longitude_deg + dlon,
                fibre: true,
            };
            let (x, _) = point_ecef(p.latitude_deg, p.longitude_deg);
            let (nearest, _) =
                nearest_ground_km(&net, x, &[NodeKind::GroundStation, NodeKind::DataCentre])
                    .unwrap();
            let dc_km = nearest_ground_km(&net, x, &[NodeKind::DataCentre])
                .unwrap()
                .1;
            if net.kind(tiandi_network::NodeId(nearest)) == NodeKind::GroundStation
                && (100.0..190.0).contains(&dc_km)
            {
                points.push(p);
                direct.push(ms(dc_km * factor));
            }
        }
    }
    assert!(!points.is_empty(), "no station lies 100-190 km from a hub");
    let horizon = Horizon::new(s.start, 600_000_000_000, 60_000_000_000).unwrap();
    let table = reach(
        &net,
        &s.satellites,
        horizon,
        &points,
        ReachOptions {
            compute: ComputeSet::DataCentres,
            terminal_min_elevation_deg: 25.0,
        },
        &mut || {},
    )
    .unwrap();
    for (p, &want) in direct.iter().enumerate() {
        assert!(want < 1.0, "{want} ms");
        for k in 0..horizon.n_steps() {
            let d = table.delay_ms(p, k);
            assert!(
                d <= want * (1.0 + F32_REL),
                "point {p}: {d} ms, direct {want} ms"
            );
        }
        assert_eq!(table.share_within(p, 1.0, 1.0), 1.0);
    }
}

fn parse_csv(text: &str) -> Vec<(f64, f64, f64, f64, Option<f64>)> {
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("latitude_deg,longitude_deg,threshold_ms,share_of_time,p50_ms")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 5, "{l}");
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                (!f[4].is_empty()).then(|| f[4].parse().unwrap()),
            )
        })
        .collect()
}

#[test]
fn the_command_writes_monotone_shares_geojson_and_a_map_and_rtt_doubles() {
    let dir = std::env::temp_dir().join(format!("tiandi-reach-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gj = dir.join("r.geojson");
    let html = dir.join("r.html");
    let base = [
        "--grid-deg",
        "3",
        "--bbox",
        "18,73,54,135",
        "--duration-s",
        "3600",
        "--step-s",
        "120",
        "--compute",
        "data-centres",
        "--thresholds-ms",
        "20,1,5,2,50",
    ];
    let mut args = base.to_vec();
    args.extend([
        "--geojson",
        gj.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = parse_csv(&String::from_utf8(out.stdout).unwrap());
    // 13 latitudes x 21 longitudes, each with the five thresholds in increasing order.
    assert_eq!(rows.len(), 13 * 21 * 5);
    for point in rows.chunks(5) {
        let t: Vec<f64> = point.iter().map(|r| r.2).collect();
        assert_eq!(t, [1.0, 2.0, 5.0, 20.0, 50.0]);
        for w in point.windows(2) {
            assert!(
                w[0].3 <= w[1].3,
                "shares fall with the threshold: {point:?}"
            );
        }
        // The median is within a threshold at least half the time, and beyond it otherwise.
        if let Some(m) = point[0].4 {
            for r in point {
                assert_eq!(r.3 >= 0.5, m <= r.2, "{point:?}");
            }
        }
    }
    assert!(
        rows.iter().any(|r| r.2 == 1.0 && r.3 > 0.0),
        "someone is within 1 ms"
    );
    assert!(
        rows.iter().any(|r| r.2 == 1.0 && r.3 == 0.0),
        "someone is not"
    );
    // GeoJSON: one cell per point, with the same shares.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&gj).unwrap()).unwrap();
    let features = doc["features"].as_array().unwrap();
    assert_eq!(features.len(), 13 * 21);
    assert_eq!(doc["type"], "FeatureCollection");
    for (f, point) in features.iter().zip(rows.chunks(5)) {
        assert_eq!(f["geometry"]["type"], "Polygon");
        assert_eq!(f["geometry"]["coordinates"][0].as_array().unwrap().len(), 5);
        let p = &f["properties"];
        assert_eq!(p["latitude_deg"].as_f64().unwrap(), point[0].0);
        assert_eq!(p["share_within_5ms"].as_f64().unwrap(), point[2].3);
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Share of time within 1 ms (one-way)"));
    assert_eq!(
        page.matches("<figure").count(),
        6,
        "five thresholds and the median"
    );
    assert!(
        tiandi_html::audit(&page).is_empty(),
        "{:?}",
        tiandi_html::audit(&page)
    );
    // Round trips are twice the one-way delays: the RTT's 2 ms share is the one-way 1 ms's.
    let mut rtt = base.to_vec();
    rtt.push("--rtt");
    let out = run(&rtt);
    assert!(out.status.success());
    let rtt_rows = parse_csv(&String::from_utf8(out.stdout).unwrap());
    for (a, b) in rows.chunks(5).zip(rtt_rows.chunks(5)) {
        assert_eq!(a[0].3, b[1].3, "one-way 1 ms vs round-trip 2 ms");
        if let (Some(x), Some(y)) = (a[0].4, b[0].4) {
            assert!((2.0 * x - y).abs() <= 0.002, "{x} {y}");
        }
    }
    // Same input, same bytes.
    let first = std::fs::read(&gj).unwrap();
    std::fs::remove_file(&gj).unwrap();
    let again = run(&args);
    assert!(again.status.success());
    assert_eq!(std::fs::read(&gj).unwrap(), first);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_names_the_flag_and_fails() {
    let cases: [(&[&str], &str); 9] = [
        (&["--grid-deg", "0"], "--grid-deg 0"),
        (
            &["--grid-deg", "1", "--bbox", "10,20,30"],
            "expected four numbers",
        ),
        (
            &["--grid-deg", "1", "--bbox", "40,0,10,10"],
            "south of LAT0",
        ),
        (
            &["--grid-deg", "1", "--bbox", "95,0,99,10"],
            "outside [-90, 90]",
        ),
        (
            &["--grid-deg", "1", "--thresholds-ms", "5,-1"],
            "--thresholds-ms: -1",
        ),
        (
            &[
                "--grid-deg",
                "0.001",
                "--duration-s",
                "86400",
                "--step-s",
                "1",
            ],
            "held in memory",
        ),
        // Spacings so fine that the point count overflows before any allocation.
        (
            &["--grid-deg", "1e-7", "--duration-s", "60"],
            "held in memory",
        ),
        (
            &[
                "--grid-deg",
                "1e-20",
                "--bbox",
                "0,0,1,1",
                "--duration-s",
                "60",
            ],
            "held in memory",
        ),
        (
            &["--grid-deg", "1", "--min-elevation-deg", "-10"],
            "--min-elevation-deg -10",
        ),
    ];
    for (args, want) in cases {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
