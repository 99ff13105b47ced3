//! Reference frames: TEME -> ECEF (ITRF without polar motion) and ECEF <-> WGS-84 geodetic.
//!
//! TEME -> ITRF follows Vallado et al. (2006) "Revisiting Spacetrack Report #3", eq. (1)-(2):
//! a rotation by GMST (IAU 1982) about the z axis. Polar motion (< 0.5 arcsec, ~15 m at the
//! surface) is ignored and UT1 is taken as UTC, so "ITRF" here is the pseudo-Earth-fixed
//! frame; the error this leaves is far below what SGP4 itself carries (~1 km at epoch).

use glam::DVec3;

use crate::time::{Epoch, gmst_rad};

/// Earth's rotation rate, rad/s (IERS Conventions 2010, Table 1.1: 7.292115e-5).
pub const EARTH_ROTATION_RAD_S: f64 = 7.292_115e-5;
/// WGS-84 semi-major axis, km (NIMA TR8350.2, Table 3.1).
pub const WGS84_A_KM: f64 = 6_378.137;
/// WGS-84 flattening (NIMA TR8350.2, Table 3.1).
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;
/// WGS-84 first eccentricity squared.
pub const WGS84_E2: f64 = WGS84_F * (2.0 - WGS84_F);

/// A position and velocity, km and km/s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct State {
    pub position_km: DVec3,
    pub velocity_km_s: DVec3,
}

/// The frame a state is expressed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// True Equator, Mean Equinox of date: SGP4's native, quasi-inertial frame.
    Teme,
    /// Earth-fixed (ITRF without polar motion).
    Itrf,
}

/// Rotation of TEME into the Earth-fixed frame at `t`: (cos, sin) of GMST.
#[derive(Clone, Copy, Debug)]
pub struct EarthRotation {
    cos: f64,
    sin: f64,
}

impl EarthRotation {
    pub fn at(t: Epoch) -> Self {
        let (sin, cos) = gmst_rad(t).sin_cos();
        EarthRotation { cos, sin }
    }

    /// Rotates a TEME position into ECEF.
    #[inline]
    pub fn teme_to_ecef_position(&self, r: DVec3) -> DVec3 {
        DVec3::new(
            self.cos * r.x + self.sin * r.y,
            -self.sin * r.x + self.cos * r.y,
            r.z,
        )
    }

    /// Rotates a TEME state into ECEF, removing the Earth's rotation from the velocity.
    #[inline]
    pub fn teme_to_ecef(&self, s: State) -> State {
        let r = self.teme_to_ecef_position(s.position_km);
        let v_rot = self.teme_to_ecef_position(s.velocity_km_s);
        let omega = DVec3::new(0.0, 0.0, EARTH_ROTATION_RAD_S);
        State {
            position_km: r,
            velocity_km_s: v_rot - omega.cross(r),
        }
    }

    /// Rotates an ECEF position into TEME.
    #[inline]
    pub fn ecef_to_teme_position(&self, r: DVec3) -> DVec3 {
        DVec3::new(
            self.cos * r.x - self.sin * r.y,
            self.sin * r.x + self.cos * r.y,
            r.z,
        )
    }
}

/// A point on or above the WGS-84 ellipsoid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geodetic {
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub altitude_km: f64,
}

/// Geodetic -> ECEF on WGS-84.
pub fn geodetic_to_ecef(g: Geodetic) -> DVec3 {
    let (sin_lat, cos_lat) = g.latitude_deg.to_radians().sin_cos();
    let (sin_lon, cos_lon) = g.longitude_deg.to_radians().sin_cos();
    let n = WGS84_A_KM / (1.0 - WGS84_E2 * sin_lat * sin_lat).sqrt();
    DVec3::new(
        (n + g.altitude_km) * cos_lat * cos_lon,
        (n + g.altitude_km) * cos_lat * sin_lon,
        (n * (1.0 - WGS84_E2) + g.altitude_km) * sin_lat,
    )
}

/// ECEF -> geodetic on WGS-84 (Bowring's method iterated to convergence; exact to
/// micrometres for points between the Earth's centre region and far beyond GEO).
pub fn ecef_to_geodetic(r: DVec3) -> Geodetic {
    let p = (r.x * r.x + r.y * r.y).sqrt();
    let longitude_deg = r.y.atan2(r.x).to_degrees();
    if p < 1e-9 {
        let b = WGS84_A_KM * (1.0 - WGS84_F);
        let lat = if r.z >= 0.0 { 90.0 } else { -90.0 };
        return Geodetic {
            latitude_deg: lat,
            longitude_deg: 0.0,
            altitude_km: r.z.abs() - b,
        };
    }
    let mut lat = r.z.atan2(p * (1.0 - WGS84_E2));
    let mut alt = 0.0;
    // Bounded fixed-point iteration: converges to 1e-15 rad in < 6 steps for any real orbit.
    for _ in 0..10 {
        let (sin_lat, cos_lat) = lat.sin_cos();
        let n = WGS84_A_KM / (1.0 - WGS84_E2 * sin_lat * sin_lat).sqrt();
        // h = p cos(lat) + z sin(lat) - a sqrt(1 - e^2 sin^2 lat): no division by cos(lat),
        // so it stays exact to rounding up to the poles.
        alt = p * cos_lat + r.z * sin_lat - WGS84_A_KM * WGS84_A_KM / n;
        let next = r.z.atan2(p * (1.0 - WGS84_E2 * n / (n + alt)));
        let done = (next - lat).abs() < 1e-14;
        lat = next;
        if done {
            break;
        }
    }
    Geodetic {
        latitude_deg: lat.to_degrees(),
        longitude_deg,
        altitude_km: alt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_point() {
        // The equator at the prime meridian is (a, 0, 0); the pole is (0, 0, b).
        let r = geodetic_to_ecef(Geodetic {
            latitude_deg: 0.0,
            longitude_deg: 0.0,
            altitude_km: 0.0,
        });
        assert!((r - DVec3::new(WGS84_A_KM, 0.0, 0.0)).length() < 1e-9);
        let r = geodetic_to_ecef(Geodetic {
            latitude_deg: 90.0,
            longitude_deg: 0.0,
            altitude_km: 0.0,
        });
        assert!((r.z - 6_356.752_314_245).abs() < 1e-6, "{r}");
    }

    #[test]
    fn vallado_example_3_3() {
        // Vallado (4th ed.) Example 3-3: r_ECEF = (6524.834, 6862.875, 6448.296) km ->
        // lat 34.352496 deg, lon 46.4464 deg, h 5085.22 km.
        let g = ecef_to_geodetic(DVec3::new(6_524.834, 6_862.875, 6_448.296));
        assert!((g.latitude_deg - 34.352_496).abs() < 1e-5, "{g:?}");
        assert!((g.longitude_deg - 46.446_4).abs() < 1e-4, "{g:?}");
        assert!((g.altitude_km - 5_085.22).abs() < 0.01, "{g:?}");
    }

    proptest! {
        // Round trip to 1 mm and 1e-9 deg: far below any use in the project.
        #[test]
        fn geodetic_round_trip(lat in -90.0f64..=90.0, lon in -180.0f64..180.0, alt in -5.0f64..40_000.0) {
            let g = Geodetic { latitude_deg: lat, longitude_deg: lon, altitude_km: alt };
            let back = ecef_to_geodetic(geodetic_to_ecef(g));
            prop_assert!((back.latitude_deg - lat).abs() < 1e-9, "{back:?}");
            prop_assert!((back.altitude_km - alt).abs() < 1e-6, "{back:?}");
            if lat.abs() < 89.999_999 {
                let dlon = (back.longitude_deg - lon + 540.0).rem_euclid(360.0) - 180.0;
                prop_assert!(dlon.abs() < 1e-9, "{back:?}");
            }
        }

        #[test]
        fn ecef_round_trip(x in -50_000.0f64..50_000.0, y in -50_000.0f64..50_000.0, z in -50_000.0f64..50_000.0) {
            let r = DVec3::new(x, y, z);
            prop_assume!(r.length() > 3_000.0);
            let back = geodetic_to_ecef(ecef_to_geodetic(r));
            prop_assert!((back - r).length() < 1e-6, "{r} -> {back}");
        }
    }
}
