//! Shared builders for the network integration tests: small Walker constellations and
//! station sets.

#![allow(dead_code)]

use tiandi_network::{IslPattern, LinkConfig, Network, NetworkSpec, StationNode};
use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, GroundStation, Satellite};

pub fn epoch() -> Epoch {
    Epoch::from_ymd_hms(2026, 11, 24, 0, 0, 0.0)
}

/// A Walker delta of `planes` x `per_plane` satellites, listed plane by plane.
pub fn walker(
    planes: u32,
    per_plane: u32,
    altitude_km: f64,
    inclination_deg: f64,
) -> Vec<Satellite> {
    let design = WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: planes,
        sats_per_plane: per_plane,
        phasing: 1 % planes,
        altitude_km,
        inclination_deg,
        epoch: epoch(),
        raan_offset_deg: 0.0,
        first_norad_id: 80_000,
        name_prefix: "W".into(),
    };
    design
        .elements()
        .unwrap()
        .into_iter()
        .map(|e| Satellite::new(e).unwrap())
        .collect()
}

pub fn station(name: &str, lat: f64, lon: f64) -> StationNode {
    StationNode::new(GroundStation::new(name, lat, lon, 0.0).unwrap())
}

/// Eight cities spread over the inhabited latitudes.
pub fn cities() -> Vec<StationNode> {
    vec![
        station("Tokyo", 35.6895, 139.6917),
        station("Delhi", 28.6667, 77.2167),
        station("Sao-Paulo", -23.5475, -46.6361),
        station("New-York", 40.7143, -74.006),
        station("London", 51.5085, -0.1257),
        station("Lagos", 6.4531, 3.3958),
        station("Sydney", -33.8679, 151.2073),
        station("Los-Angeles", 34.0522, -118.2437),
    ]
}

/// A plus-grid network over `n_planes` planes with the given stations and mask.
pub fn plus_grid_network(
    n_satellites: usize,
    n_planes: u32,
    stations: Vec<StationNode>,
    min_elevation_deg: f64,
) -> Network {
    let mut links = LinkConfig::default();
    links.isl.pattern = IslPattern::PlusGrid { shift: 0 };
    links.gsl.min_elevation_deg = min_elevation_deg;
    Network::new(NetworkSpec {
        n_satellites,
        n_planes: Some(n_planes),
        stations,
        links,
        ..Default::default()
    })
    .unwrap()
}
