//! The benchmark scenario shared by the criterion bench and the `starlink_routes` example:
//! Starlink shell 1 (Walker 72 x 22, 550 km, 53 deg, plus-grid) and the 100 largest cities.

#![allow(dead_code)]

use tiandi_network::{IslPattern, LinkConfig, Network, NetworkSpec, StationNode};
use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, GroundStation, Satellite};

/// Hypatia's top-100 cities (see test_data/README-network.md).
const CITIES_CSV: &str = include_str!("../../../../test_data/ground_stations_top100_cities.csv");

pub fn start() -> Epoch {
    Epoch::from_ymd_hms(2026, 11, 24, 0, 0, 0.0)
}

/// Starlink shell 1 as a Walker delta 53:1584/72/1 at 550 km, plane by plane.
pub fn starlink_shell1() -> Vec<Satellite> {
    let design = WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: 72,
        sats_per_plane: 22,
        phasing: 1,
        altitude_km: 550.0,
        inclination_deg: 53.0,
        epoch: start(),
        raan_offset_deg: 0.0,
        first_norad_id: 100_000,
        name_prefix: "STARLINK-S1".into(),
    };
    design
        .elements()
        .expect("valid design")
        .into_iter()
        .map(|e| Satellite::new(e).expect("circular LEO propagates"))
        .collect()
}

/// The 100 cities as ground stations (simple CSV: no quoted fields in this file).
pub fn top100_stations() -> Vec<StationNode> {
    CITIES_CSV
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| {
                f[i].trim()
                    .parse::<f64>()
                    .expect("number in the cities file")
            };
            StationNode::new(GroundStation::new(f[0], num(1), num(2), num(3)).expect("valid city"))
        })
        .collect()
}

/// The benchmark network: plus-grid ISLs (shift 0), GSLs above 25 deg, no antenna limit.
pub fn network(n_satellites: usize) -> Network {
    let mut links = LinkConfig::default();
    links.isl.pattern = IslPattern::PlusGrid { shift: 0 };
    links.gsl.min_elevation_deg = 25.0;
    Network::new(NetworkSpec {
        n_satellites,
        n_planes: Some(72),
        stations: top100_stations(),
        links,
        ..Default::default()
    })
    .expect("valid network")
}
