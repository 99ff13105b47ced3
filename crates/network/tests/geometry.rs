//! Link geometry checked against independent computations: hand-built cases with known
//! answers, the orbit core's positions and look angles, the orbit core's contact windows,
//! and Skyfield's contact windows (test_data/skyfield).

mod common;

use glam::DVec3;
use tiandi_network::geometry::{EARTH_RADIUS_GRAZING_KM, great_circle_km};
use tiandi_network::{
    DataCentre, FibreConfig, IslPattern, LinkConfig, LinkKind, Network, NetworkSpec, RouteTable,
    RoutingMode, SPEED_OF_LIGHT_KM_S, SnapshotBuilder,
};
use tiandi_orbit::{
    Epoch, Frame, GroundStation, TleOptions, find_contacts, parse_tle, satellites_from_elements,
};

/// Relative rounding of f64 sums of a few terms: these values are computed two ways with
/// the same formulas in a different order.
const ROUNDING_REL: f64 = 1e-12;

/// WGS-84 equatorial radius: a station at latitude 0, height 0 sits exactly this far out.
const A_KM: f64 = 6_378.137;

/// Two satellites on the equator 6 deg apart at 550 km and a station under the first.
/// Every answer follows from plane geometry.
#[test]
fn two_satellites_one_station_by_hand() {
    let r = A_KM + 550.0;
    let theta = 6f64.to_radians();
    let sat_a = DVec3::new(r, 0.0, 0.0);
    let sat_b = DVec3::new(r * theta.cos(), r * theta.sin(), 0.0);
    let mut links = LinkConfig::default();
    links.isl.pattern = IslPattern::NearestK { k: 1 };
    links.gsl.min_elevation_deg = 25.0;
    let stations = vec![common::station("under-a", 0.0, 0.0)];
    let net = Network::new(NetworkSpec {
        n_satellites: 2,
        stations,
        links: links.clone(),
        ..Default::default()
    })
    .unwrap();
    let mut builder = SnapshotBuilder::new(&net);
    let snap = builder
        .build_from_positions(common::epoch(), &[sat_a, sat_b])
        .unwrap();

    // ISL: chord 2 r sin(theta / 2).
    let isl = snap
        .find_link(0, 1)
        .expect("10 deg apart at 550 km is in line of sight");
    assert_eq!(isl.kind, LinkKind::Isl);
    let chord = 2.0 * r * (theta / 2.0).sin();
    assert!(
        (isl.distance_km - chord).abs() < chord * ROUNDING_REL,
        "{isl:?}"
    );
    assert!((isl.delay_ms - chord / SPEED_OF_LIGHT_KM_S * 1e3).abs() < 1e-12);
    // GSL to the satellite overhead: exactly 550 km.
    let gsl = snap.find_link(0, 2).expect("overhead satellite is visible");
    assert!((gsl.distance_km - 550.0).abs() < 1e-9, "{gsl:?}");
    // Satellite b from the station: elevation atan2(r cos theta - a, r sin theta) = 35.3 deg.
    let elevation = (r * theta.cos() - A_KM).atan2(r * theta.sin()).to_degrees();
    assert!((35.0..36.0).contains(&elevation), "{elevation}");
    assert!(
        snap.find_link(1, 2).is_some(),
        "satellite b at {elevation:.1} deg is above the 25 deg mask"
    );
    assert_eq!(snap.links().len(), 3);

    // Raise the mask above b's elevation: the GSL to b disappears, a's stays.
    let mut high = links.clone();
    high.gsl.min_elevation_deg = elevation + 0.01;
    let stations = vec![common::station("under-a", 0.0, 0.0)];
    let net_high = Network::new(NetworkSpec {
        n_satellites: 2,
        stations,
        links: high,
        ..Default::default()
    })
    .unwrap();
    let mut builder = SnapshotBuilder::new(&net_high);
    let snap = builder
        .build_from_positions(common::epoch(), &[sat_a, sat_b])
        .unwrap();
    assert!(snap.find_link(1, 2).is_none() && snap.find_link(0, 2).is_some());

    // One antenna: the overhead (highest) satellite wins.
    let mut one = links.clone();
    one.gsl.antennas = Some(1);
    let stations = vec![common::station("under-a", 0.0, 0.0)];
    let net_one = Network::new(NetworkSpec {
        n_satellites: 2,
        stations,
        links: one,
        ..Default::default()
    })
    .unwrap();
    let mut builder = SnapshotBuilder::new(&net_one);
    let snap = builder
        .build_from_positions(common::epoch(), &[sat_a, sat_b])
        .unwrap();
    assert!(snap.find_link(0, 2).is_some() && snap.find_link(1, 2).is_none());
}

/// Two satellites 10 deg apart on the equator at 550 km, a station under each. Each station
/// sees the far satellite at only 20.3 deg (below the 25 deg mask), so the one route is up,
/// across, down: (550 + chord + 550) / c.
#[test]
fn route_between_two_stations_by_hand() {
    let r = A_KM + 550.0;
    let theta = 10f64.to_radians();
    let sat_a = DVec3::new(r, 0.0, 0.0);
    let sat_b = DVec3::new(r * theta.cos(), r * theta.sin(), 0.0);
    let mut links = LinkConfig::default();
    links.isl.pattern = IslPattern::NearestK { k: 1 };
    let stations = vec![
        common::station("under-a", 0.0, 0.0),
        common::station("under-b", 0.0, 10.0),
    ];
    let net = Network::new(NetworkSpec {
        n_satellites: 2,
        stations,
        links,
        ..Default::default()
    })
    .unwrap();
    let mut builder = SnapshotBuilder::new(&net);
    let snap = builder
        .build_from_positions(common::epoch(), &[sat_a, sat_b])
        .unwrap();
    let mut table = RouteTable::new(&[2, 3], net.n_nodes(), RoutingMode::SatellitesOnly);
    table.compute(snap);
    let routes: Vec<_> = table.routes().collect();
    assert_eq!(routes.len(), 2);
    let chord = 2.0 * r * (theta / 2.0).sin();
    let far_elevation = (r * theta.cos() - A_KM).atan2(r * theta.sin()).to_degrees();
    assert!((20.0..21.0).contains(&far_elevation), "{far_elevation}");
    assert_eq!(snap.links().len(), 3, "one ISL and two overhead GSLs");
    let expected_ms = (550.0 + chord + 550.0) / SPEED_OF_LIGHT_KM_S * 1e3;
    assert!(
        (routes[0].delay_ms - expected_ms).abs() < expected_ms * ROUNDING_REL,
        "{:?} vs {expected_ms}",
        routes[0]
    );
    assert_eq!(routes[0].path, &[2, 0, 1, 3]);
    assert_eq!(routes[1].path, &[3, 1, 0, 2]);
    assert_eq!(routes[0].hops(), 3);
    // Ground stations do not relay in this mode; with AnyNode they may, but here relaying
    // through a station cannot help.
    let mut any = RouteTable::new(&[2, 3], net.n_nodes(), RoutingMode::AnyNode);
    any.compute(snap);
    assert_eq!(any.routes().next().unwrap().path, &[2, 0, 1, 3]);
}

/// A chord through the atmosphere: satellites 40 deg apart at 550 km pass 400 km below
/// their orbit; at 160 deg apart the line cuts the Earth. Grazing altitude decides.
#[test]
fn grazing_altitude_blocks_low_lines_of_sight() {
    let r = A_KM + 550.0;
    let at = |deg: f64| DVec3::new(r * deg.to_radians().cos(), r * deg.to_radians().sin(), 0.0);
    let build = |sep_deg: f64, grazing_km: f64| {
        let mut links = LinkConfig::default();
        links.isl.pattern = IslPattern::NearestK { k: 1 };
        links.isl.grazing_altitude_km = grazing_km;
        links.isl.max_range_km = 20_000.0;
        let net = Network::new(NetworkSpec {
            n_satellites: 2,
            links,
            ..Default::default()
        })
        .unwrap();
        let mut b = SnapshotBuilder::new(&net);
        b.build_from_positions(common::epoch(), &[at(0.0), at(sep_deg)])
            .unwrap()
            .links()
            .len()
    };
    // Lowest point of the chord: r cos(sep / 2) - R.
    let lowest = |sep: f64| r * (sep / 2.0f64).to_radians().cos() - EARTH_RADIUS_GRAZING_KM;
    assert!(
        lowest(40.0) > 80.0 && lowest(40.0) < 150.0,
        "{}",
        lowest(40.0)
    );
    assert_eq!(build(40.0, 80.0), 1);
    assert_eq!(build(40.0, 150.0), 0);
    assert_eq!(build(160.0, 0.0), 0);
}

/// Links of a real constellation against the orbit core: every ISL length equals the
/// distance between the two satellites' `state_at(t, Itrf)` positions, every GSL exists
/// exactly when `GroundStation::look` puts the satellite above the mask, with its range.
#[test]
fn links_match_orbit_core_positions_and_look_angles() {
    let sats = common::walker(12, 10, 550.0, 53.0);
    let stations = common::cities();
    let ground: Vec<GroundStation> = stations.iter().map(|s| s.station.clone()).collect();
    let net = common::plus_grid_network(sats.len(), 12, stations, 25.0);
    let mut builder = SnapshotBuilder::new(&net);
    // The two paths to ECEF positions (rayon batch vs one satellite) run the same
    // arithmetic; 1 mm covers any reordering.
    const SAME_MATH_KM: f64 = 1e-6;
    // Elevations within this of the mask may round either way between asin and the
    // dot-product test used for links; none of the sampled pairs falls that close.
    const MASK_ROUNDING_DEG: f64 = 1e-9;
    let (mut n_isl, mut n_gsl, mut n_pairs_checked) = (0, 0, 0);
    for minute in [0, 17, 43, 90] {
        let t = common::epoch().add_ns(minute * 60_000_000_000);
        let snap = builder.build(&sats, t).unwrap();
        let pos: Vec<_> = sats
            .iter()
            .map(|s| s.state_at(t, Frame::Itrf).unwrap())
            .collect();
        for l in snap.links().iter().filter(|l| l.kind == LinkKind::Isl) {
            let d = pos[l.a as usize]
                .position_km
                .distance(pos[l.b as usize].position_km);
            assert!((l.distance_km - d).abs() < SAME_MATH_KM, "{l:?} vs {d}");
            n_isl += 1;
        }
        for (g, gs) in ground.iter().enumerate() {
            let node = net.first_station() as u32 + g as u32;
            for (s, st) in pos.iter().enumerate() {
                let look = gs.look(st.position_km, st.velocity_km_s);
                if (look.elevation_deg - 25.0).abs() < MASK_ROUNDING_DEG {
                    continue;
                }
                n_pairs_checked += 1;
                let link = snap.find_link(s as u32, node);
                assert_eq!(
                    link.is_some(),
                    look.elevation_deg > 25.0,
                    "station {} sat {s} at {t}: {look:?}",
                    gs.name
                );
                if let Some(l) = link {
                    assert!((l.distance_km - look.range_km).abs() < SAME_MATH_KM);
                    n_gsl += 1;
                }
            }
        }
    }
    // Plus-grid at 550 km: all 2 x 120 links per snapshot stay in line of sight.
    assert_eq!(n_isl, 4 * 240);
    assert!(
        n_gsl > 0 && n_pairs_checked == 4 * 8 * 120,
        "{n_gsl} {n_pairs_checked}"
    );
}

/// Visibility against the orbit core's contact windows (the foundation issue's
/// `find_contacts`): at the middle of every window the GSL exists, and one tolerance
/// outside either end it does not.
#[test]
fn gsl_visibility_matches_orbit_contact_windows() {
    let sats = common::walker(6, 6, 700.0, 60.0);
    let stations = common::cities();
    let ground: Vec<GroundStation> = stations.iter().map(|s| s.station.clone()).collect();
    let mut links = LinkConfig::default();
    links.isl.pattern = IslPattern::None;
    links.gsl.min_elevation_deg = 15.0;
    let net = Network::new(NetworkSpec {
        n_satellites: sats.len(),
        stations,
        links,
        ..Default::default()
    })
    .unwrap();
    let start = common::epoch();
    let end = start.add_ns(4 * 3_600_000_000_000);
    let contacts = find_contacts(&sats, &ground, start, end, 15.0, &|| ()).unwrap();
    assert!(contacts.len() > 20, "{}", contacts.len());
    // find_contacts refines AOS/LOS to well under a second; 2 s outside a window the
    // elevation is ~0.1 deg or more below the mask for any LEO pass.
    const EDGE_S: i64 = 2;
    check_windows(
        &sats,
        &net,
        contacts
            .iter()
            .map(|c| (c.satellite_idx, c.station_idx, c.aos, c.los)),
        start,
        end,
        EDGE_S,
    );
}

/// Visibility against Skyfield (independent SGP4 and frames): the passes above 10 deg in
/// test_data/skyfield/contacts.csv over the first 12 hours.
#[test]
fn gsl_visibility_matches_skyfield_contacts() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../test_data/skyfield");
    let tle = std::fs::read_to_string(format!("{dir}/satellites.tle")).unwrap();
    let elements = parse_tle(&tle, "satellites.tle", TleOptions::default())
        .unwrap()
        .elements;
    let names: Vec<String> = elements.iter().map(|e| e.name.clone()).collect();
    let sats = satellites_from_elements(elements).unwrap();
    let csv = std::fs::read_to_string(format!("{dir}/stations.csv")).unwrap();
    let stations: Vec<_> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let n = |i: usize| f[i].parse::<f64>().unwrap();
            tiandi_network::StationNode::new(GroundStation::new(f[0], n(1), n(2), n(3)).unwrap())
        })
        .collect();
    let station_names: Vec<String> = stations.iter().map(|s| s.station.name.clone()).collect();
    let mut links = LinkConfig::default();
    links.isl.pattern = IslPattern::None;
    links.gsl.min_elevation_deg = 10.0;
    let net = Network::new(NetworkSpec {
        n_satellites: sats.len(),
        stations,
        links,
        ..Default::default()
    })
    .unwrap();
    let start = common::epoch();
    let end = start.add_ns(12 * 3_600_000_000_000);
    let text = std::fs::read_to_string(format!("{dir}/contacts.csv")).unwrap();
    let windows: Vec<_> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let s = names.iter().position(|n| n == f[0]).unwrap();
            let g = station_names.iter().position(|n| n == f[1]).unwrap();
            (
                s,
                g,
                Epoch::parse_iso(f[2]).unwrap(),
                Epoch::parse_iso(f[3]).unwrap(),
            )
        })
        .filter(|w| w.3 <= end)
        .collect();
    assert!(windows.len() > 50, "{}", windows.len());
    // The orbit crate matches Skyfield's AOS/LOS to well under a second (see its README);
    // 2 s outside a window is ~0.1 deg below the mask or more.
    const EDGE_S: i64 = 2;
    check_windows(&sats, &net, windows.into_iter(), start, end, EDGE_S);
}

fn check_windows(
    sats: &[tiandi_orbit::Satellite],
    net: &Network,
    windows: impl Iterator<Item = (usize, usize, Epoch, Epoch)>,
    start: Epoch,
    end: Epoch,
    edge_s: i64,
) {
    let mut builder = SnapshotBuilder::new(net);
    let edge = edge_s * 1_000_000_000;
    let mut checked = 0;
    for (s, g, aos, los) in windows {
        let node = (net.first_station() + g) as u32;
        let mid = aos.add_ns((los.unix_ns() - aos.unix_ns()) / 2);
        let at = |t: Epoch, b: &mut SnapshotBuilder| {
            b.build(sats, t)
                .unwrap()
                .find_link(s as u32, node)
                .is_some()
        };
        if los.unix_ns() - aos.unix_ns() > 2 * edge {
            assert!(
                at(mid, &mut builder),
                "sat {s} station {g}: no GSL at {mid}, mid-window {aos}..{los}"
            );
            checked += 1;
        }
        if aos > start.add_ns(edge) {
            assert!(
                !at(aos.add_ns(-edge), &mut builder),
                "sat {s} station {g}: GSL {edge_s} s before AOS {aos}"
            );
        }
        if los < end.add_ns(-edge) {
            assert!(
                !at(los.add_ns(edge), &mut builder),
                "sat {s} station {g}: GSL {edge_s} s after LOS {los}"
            );
        }
    }
    assert!(checked > 10);
}

/// Fibre full mesh: data centre to every station and to every other data centre, with
/// great-circle length x 1.5 / c.
#[test]
fn fibre_full_mesh_delays() {
    let site = |n: &str, lat, lon| GroundStation::new(n, lat, lon, 0.0).unwrap();
    let dcs = vec![
        DataCentre {
            site: site("dc-beijing", 39.9, 116.4),
            compute_capacity_flops: 1e18,
        },
        DataCentre {
            site: site("dc-frankfurt", 50.1, 8.7),
            compute_capacity_flops: 5e17,
        },
    ];
    let stations = vec![
        common::station("Kashgar", 39.5, 75.93),
        common::station("Sanya", 18.31, 109.31),
    ];
    let mut links = LinkConfig::default();
    links.isl.pattern = IslPattern::None;
    links.fibre = FibreConfig::FullMesh;
    let net = Network::new(NetworkSpec {
        n_satellites: 1,
        stations,
        data_centres: dcs,
        links,
        ..Default::default()
    })
    .unwrap();
    let mut b = SnapshotBuilder::new(&net);
    let far = DVec3::new(0.0, 0.0, -7_000.0); // a satellite over the south pole: no GSL here
    let snap = b.build_from_positions(common::epoch(), &[far]).unwrap();
    let fibre: Vec<_> = snap
        .links()
        .iter()
        .filter(|l| l.kind == LinkKind::Fibre)
        .collect();
    // 2 DCs x 2 stations + 1 DC pair.
    assert_eq!(fibre.len(), 5);
    let pairs: Vec<_> = fibre.iter().map(|l| (l.a, l.b)).collect();
    assert_eq!(pairs, vec![(1, 3), (1, 4), (2, 3), (2, 4), (3, 4)]);
    // Beijing - Frankfurt great circle is ~7,790 km (spherical); delay x 1.5 / c ~ 39 ms.
    let l = snap.find_link(3, 4).unwrap();
    let expected = great_circle_km(net.ground_ecef(3), net.ground_ecef(4));
    assert!((7_700.0..7_900.0).contains(&expected), "{expected}");
    assert!((l.delay_ms - expected * 1.5 / SPEED_OF_LIGHT_KM_S * 1e3).abs() < 1e-9);
}

/// Laser rate against range: full rate up to `full_rate_km`, then `(full / d)^2` of it.
/// Two satellites on the equator at 550 km, 6 and 30 deg apart (chords 725 and 3,586 km),
/// with the full rate up to 1,000 km.
#[test]
fn isl_rate_falls_with_the_square_of_range() {
    let r = A_KM + 550.0;
    for (deg, expected_fraction) in [(6.0f64, 1.0), (30.0, f64::NAN)] {
        let theta = deg.to_radians();
        let sat_a = DVec3::new(r, 0.0, 0.0);
        let sat_b = DVec3::new(r * theta.cos(), r * theta.sin(), 0.0);
        let mut links = LinkConfig::default();
        links.isl.pattern = IslPattern::NearestK { k: 1 };
        links.isl.full_rate_km = Some(1_000.0);
        let net = Network::new(NetworkSpec {
            n_satellites: 2,
            links: links.clone(),
            ..Default::default()
        })
        .unwrap();
        let mut builder = SnapshotBuilder::new(&net);
        let snap = builder
            .build_from_positions(common::epoch(), &[sat_a, sat_b])
            .unwrap();
        let isl = snap.find_link(0, 1).unwrap();
        let chord = 2.0 * r * (theta / 2.0).sin();
        let fraction = if expected_fraction.is_nan() {
            (1_000.0 / chord).powi(2)
        } else {
            expected_fraction
        };
        let full = links.capacities.isl_bps;
        assert!(
            (isl.capacity_bps - full * fraction).abs() < full * ROUNDING_REL,
            "{deg} deg: {isl:?}"
        );
    }
}

/// Cross-plane lasers switched off near the poles: with a 60 deg limit, a link between two
/// planes exists at 50 deg latitude and not at 70 deg; in-plane links stay.
#[test]
fn cross_plane_links_break_above_the_latitude_limit() {
    let r = A_KM + 550.0;
    let at = |lat_deg: f64, lon_deg: f64| {
        let (la, lo) = (lat_deg.to_radians(), lon_deg.to_radians());
        DVec3::new(
            r * la.cos() * lo.cos(),
            r * la.cos() * lo.sin(),
            r * la.sin(),
        )
    };
    for (lat, cross_expected) in [(50.0, true), (70.0, false)] {
        let mut links = LinkConfig::default();
        links.isl.pattern = IslPattern::PlusGrid { shift: 0 };
        links.isl.cross_plane_max_lat_deg = Some(60.0);
        let net = Network::new(NetworkSpec {
            n_satellites: 4,
            n_planes: Some(2),
            links,
            ..Default::default()
        })
        .unwrap();
        let mut builder = SnapshotBuilder::new(&net);
        // Planes 0 (satellites 0, 1) and 1 (2, 3); 0 and 2 side by side at `lat`.
        let positions = [
            at(lat, 0.0),
            at(lat - 8.0, 0.0),
            at(lat, 8.0),
            at(lat - 8.0, 8.0),
        ];
        let snap = builder
            .build_from_positions(common::epoch(), &positions)
            .unwrap();
        assert!(snap.find_link(0, 1).is_some(), "in-plane at {lat} deg");
        assert_eq!(
            snap.find_link(0, 2).is_some(),
            cross_expected,
            "cross-plane at {lat} deg"
        );
    }
}
