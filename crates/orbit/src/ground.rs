//! Ground stations and their view of a satellite: azimuth, elevation, range, range rate.

use glam::DVec3;

use crate::frames::{Geodetic, geodetic_to_ecef};

/// A named point on the ground (station, data centre, terminal) with its ECEF position and
/// local East-North-Up axes precomputed.
#[derive(Clone, Debug, PartialEq)]
pub struct GroundStation {
    pub name: String,
    pub geodetic: Geodetic,
    pub ecef_km: DVec3,
    east: DVec3,
    north: DVec3,
    up: DVec3,
}

/// A coordinate outside its valid range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("station {name:?}: {field} {value} is outside {range}")]
pub struct StationError {
    pub name: String,
    pub field: &'static str,
    pub value: f64,
    pub range: &'static str,
}

impl GroundStation {
    /// Validates the coordinates: latitude in [-90, 90], longitude in [-180, 360), altitude
    /// in [-500 m, 10 km] (the Dead Sea shore to above Everest).
    pub fn new(
        name: impl Into<String>,
        latitude_deg: f64,
        longitude_deg: f64,
        altitude_m: f64,
    ) -> Result<Self, StationError> {
        let name = name.into();
        let check = |field, value: f64, ok: bool, range| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(StationError {
                    name: name.clone(),
                    field,
                    value,
                    range,
                })
            }
        };
        check(
            "latitude_deg",
            latitude_deg,
            (-90.0..=90.0).contains(&latitude_deg),
            "[-90, 90]",
        )?;
        check(
            "longitude_deg",
            longitude_deg,
            (-180.0..360.0).contains(&longitude_deg),
            "[-180, 360)",
        )?;
        check(
            "elevation_m",
            altitude_m,
            (-500.0..=10_000.0).contains(&altitude_m),
            "[-500, 10000]",
        )?;
        let geodetic = Geodetic {
            latitude_deg,
            longitude_deg,
            altitude_km: altitude_m / 1_000.0,
        };
        let (sin_lat, cos_lat) = latitude_deg.to_radians().sin_cos();
        let (sin_lon, cos_lon) = longitude_deg.to_radians().sin_cos();
        Ok(GroundStation {
            name,
            geodetic,
            ecef_km: geodetic_to_ecef(geodetic),
            east: DVec3::new(-sin_lon, cos_lon, 0.0),
            north: DVec3::new(-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat),
            up: DVec3::new(cos_lat * cos_lon, cos_lat * sin_lon, sin_lat),
        })
    }

    /// Elevation of an ECEF point above the local horizon (geodetic normal), degrees.
    #[inline]
    pub fn elevation_deg(&self, sat_ecef_km: DVec3) -> f64 {
        let rho = sat_ecef_km - self.ecef_km;
        (rho.dot(self.up) / rho.length())
            .clamp(-1.0, 1.0)
            .asin()
            .to_degrees()
    }

    /// Full look angles to a satellite given its ECEF position and velocity.
    pub fn look(&self, sat_ecef_km: DVec3, sat_ecef_vel_km_s: DVec3) -> Look {
        let rho = sat_ecef_km - self.ecef_km;
        let range_km = rho.length();
        let (e, n, u) = (rho.dot(self.east), rho.dot(self.north), rho.dot(self.up));
        Look {
            azimuth_deg: e.atan2(n).to_degrees().rem_euclid(360.0),
            elevation_deg: (u / range_km).clamp(-1.0, 1.0).asin().to_degrees(),
            range_km,
            range_rate_km_s: rho.dot(sat_ecef_vel_km_s) / range_km,
        }
    }

    /// Unit vector of the local vertical (geodetic up), ECEF.
    pub fn up(&self) -> DVec3 {
        self.up
    }
}

/// Topocentric look angles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    /// Clockwise from north, [0, 360).
    pub azimuth_deg: f64,
    pub elevation_deg: f64,
    pub range_km: f64,
    /// Positive when the satellite moves away.
    pub range_rate_km_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overhead_and_horizon() {
        let gs = GroundStation::new("eq", 0.0, 0.0, 0.0).unwrap();
        let zenith = DVec3::new(6_378.137 + 550.0, 0.0, 0.0);
        let look = gs.look(zenith, DVec3::new(0.0, 0.0, 7.6));
        assert!((look.elevation_deg - 90.0).abs() < 1e-9);
        assert!((look.range_km - 550.0).abs() < 1e-9);
        assert!(look.range_rate_km_s.abs() < 1e-12);
        // Due north on the horizon plane: azimuth 0, elevation 0.
        let north = DVec3::new(6_378.137, 0.0, 1_000.0);
        let look = gs.look(north, DVec3::ZERO);
        assert!(
            look.elevation_deg.abs() < 1e-9 && look.azimuth_deg.abs() < 1e-9,
            "{look:?}"
        );
        // Due east: azimuth 90.
        let east = DVec3::new(6_378.137, 1_000.0, 0.0);
        assert!((gs.look(east, DVec3::ZERO).azimuth_deg - 90.0).abs() < 1e-9);
    }

    #[test]
    fn rejects_bad_coordinates() {
        let e = GroundStation::new("x", 95.0, 0.0, 0.0).unwrap_err();
        assert_eq!(e.field, "latitude_deg");
        assert!(GroundStation::new("x", 0.0, f64::NAN, 0.0).is_err());
    }
}
