//! Scenarios: the built-in default constellation and ground segment.
//!
//! The default is a compute constellation in the spirit of the first space-computing
//! shells (China's "Three-Body" computing constellation, Starcloud): a Walker delta at
//! 550 km serving China's ground stations, whose positions are public (CNSA/CLTC TT&C and
//! data-receiving sites; coordinates rounded to 0.01 deg).

use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, GroundStation, PropagationError, Satellite};

/// Epoch of the default constellation's elements and default start of every window:
/// 2026-11-24T00:00:00Z.
pub const DEFAULT_EPOCH: Epoch = Epoch::from_unix_ns(1_795_478_400 * tiandi_orbit::time::NS_PER_S);

/// The default compute constellation: Walker delta 53 deg: 192/16/1 at 550 km.
pub fn default_walker() -> WalkerDesign {
    WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: 16,
        sats_per_plane: 12,
        phasing: 1,
        altitude_km: 550.0,
        inclination_deg: 53.0,
        epoch: DEFAULT_EPOCH,
        raan_offset_deg: 0.0,
        first_norad_id: 90_000,
        name_prefix: "TD".into(),
    }
}

/// Satellites of the default constellation, ready to propagate.
pub fn default_constellation() -> Result<Vec<Satellite>, PropagationError> {
    let elements = default_walker()
        .elements()
        .expect("the built-in design is valid");
    elements.into_iter().map(Satellite::new).collect()
}

/// Ground stations of the default scenario: (name, latitude deg, longitude deg, elevation m).
pub const DEFAULT_STATIONS: [(&str, f64, f64, f64); 6] = [
    ("Beijing-Miyun", 40.45, 116.85, 100.0),
    ("Kashgar", 39.50, 76.00, 1_300.0),
    ("Sanya", 18.31, 109.31, 20.0),
    ("Jiamusi", 46.80, 130.32, 80.0),
    ("Kunming", 25.03, 102.80, 1_900.0),
    ("Xian", 34.26, 108.94, 400.0),
];

pub fn default_stations() -> Result<Vec<GroundStation>, tiandi_orbit::StationError> {
    DEFAULT_STATIONS
        .iter()
        .map(|(n, lat, lon, alt)| GroundStation::new(*n, *lat, *lon, *alt))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_epoch_is_the_documented_date() {
        assert_eq!(
            DEFAULT_EPOCH,
            Epoch::parse_iso("2026-11-24T00:00:00Z").unwrap()
        );
    }

    #[test]
    fn defaults_build() {
        assert_eq!(default_constellation().unwrap().len(), 192);
        assert_eq!(default_stations().unwrap().len(), 6);
    }
}
