//! Link geometry: light-time delays, line-of-sight grazing altitude, great-circle and
//! elevation tests, all on plain ECEF vectors (km).

use glam::DVec3;

/// Speed of light in vacuum, km/s (SI definition, exact: 299,792,458 m/s).
pub const SPEED_OF_LIGHT_KM_S: f64 = 299_792.458;
/// Radius of the sphere used for grazing-altitude checks, km: the WGS-84 equatorial radius
/// (NIMA TR8350.2 Table 3.1). Using the equatorial (largest) radius keeps the check
/// conservative: a link it accepts clears the ellipsoid by at least the grazing altitude.
pub const EARTH_RADIUS_GRAZING_KM: f64 = 6_378.137;
/// Mean Earth radius for great-circle (fibre) distances, km (IUGG mean radius R1,
/// Moritz 2000, "Geodetic Reference System 1980").
pub const EARTH_MEAN_RADIUS_KM: f64 = 6_371.008_8;

/// One-way light time over `distance_km` through a medium `factor` times slower than
/// vacuum, milliseconds.
#[inline]
pub fn delay_ms(distance_km: f64, factor: f64) -> f64 {
    distance_km * factor / SPEED_OF_LIGHT_KM_S * 1_000.0
}

/// Smallest distance from the Earth's centre to any point of the segment `a`-`b`, km.
#[inline]
pub fn segment_min_radius_km(a: DVec3, b: DVec3) -> f64 {
    let d = b - a;
    let len2 = d.length_squared();
    if len2 == 0.0 {
        return a.length();
    }
    // Parameter of the closest point to the origin on the infinite line, clamped to the segment.
    let s = (-a.dot(d) / len2).clamp(0.0, 1.0);
    (a + d * s).length()
}

/// Whether the straight line between two points stays above `grazing_altitude_km` over a
/// sphere of radius [`EARTH_RADIUS_GRAZING_KM`].
#[inline]
pub fn line_of_sight_clear(a: DVec3, b: DVec3, grazing_altitude_km: f64) -> bool {
    segment_min_radius_km(a, b) > EARTH_RADIUS_GRAZING_KM + grazing_altitude_km
}

/// Great-circle distance between the directions of two ECEF points on a sphere of
/// [`EARTH_MEAN_RADIUS_KM`], km.
pub fn great_circle_km(a: DVec3, b: DVec3) -> f64 {
    // atan2 of |a x b| and a.b is accurate at all angles (acos is not near 0 and pi).
    let angle = a.cross(b).length().atan2(a.dot(b));
    angle * EARTH_MEAN_RADIUS_KM
}

/// Elevation test without trigonometry: a point with offset `rho` from an observer whose
/// local vertical is `up` (unit) is at or above the elevation whose sine is `sin_min`
/// exactly when `rho.up >= sin_min |rho|`. Returns the sine of the elevation when visible.
#[inline]
pub fn sin_elevation_if_visible(rho: DVec3, up: DVec3, sin_min: f64) -> Option<f64> {
    let h = rho.dot(up);
    let r2 = rho.length_squared();
    let visible = if sin_min >= 0.0 {
        h >= 0.0 && h * h >= sin_min * sin_min * r2
    } else {
        h >= sin_min * r2.sqrt()
    };
    visible.then(|| h / r2.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grazing_of_a_chord_through_the_earth_fails_and_a_short_one_passes() {
        let r = EARTH_RADIUS_GRAZING_KM + 550.0;
        // Antipodal points: the segment passes through the centre.
        assert_eq!(
            segment_min_radius_km(DVec3::new(r, 0.0, 0.0), DVec3::new(-r, 0.0, 0.0)),
            0.0
        );
        // 90 deg apart at 550 km: the midpoint radius is r / sqrt(2) = 4897 km, below ground.
        assert!(!line_of_sight_clear(
            DVec3::new(r, 0.0, 0.0),
            DVec3::new(0.0, r, 0.0),
            80.0
        ));
        // Two points 1,000 km apart: the midpoint sinks by r - sqrt(r^2 - 500^2) ~ 18 km only.
        let half = 500.0_f64;
        let x = (r * r - half * half).sqrt();
        let (a, b) = (DVec3::new(x, -half, 0.0), DVec3::new(x, half, 0.0));
        // The closest point is the midpoint (x, 0, 0): exact to rounding (1e-9 km).
        assert!((segment_min_radius_km(a, b) - x).abs() < 1e-9);
        assert!(line_of_sight_clear(a, b, 80.0));
    }

    #[test]
    fn delay_of_one_light_millisecond() {
        // 299.792458 km in vacuum is exactly 1 ms; through fibre (x1.5) 1.5 ms.
        assert!((delay_ms(299.792_458, 1.0) - 1.0).abs() < 1e-12);
        assert!((delay_ms(299.792_458, 1.5) - 1.5).abs() < 1e-12);
    }

    #[test]
    fn great_circle_quarter_turn() {
        let d = great_circle_km(DVec3::X * 6_400.0, DVec3::Y * 10.0);
        assert!((d - EARTH_MEAN_RADIUS_KM * std::f64::consts::FRAC_PI_2).abs() < 1e-9);
    }

    #[test]
    fn elevation_test_matches_asin() {
        let up = DVec3::Z;
        // 30 deg elevation exactly is visible at a 30 deg mask, not at 30.001.
        let rho = DVec3::new(30f64.to_radians().cos(), 0.0, 30f64.to_radians().sin()) * 1_000.0;
        let s = sin_elevation_if_visible(rho, up, 29.999f64.to_radians().sin()).unwrap();
        assert!((s.asin().to_degrees() - 30.0).abs() < 1e-9);
        assert!(sin_elevation_if_visible(rho, up, 30.001f64.to_radians().sin()).is_none());
        // Below the horizon with a negative mask.
        let low = DVec3::new(1.0, 0.0, -0.01);
        assert!(sin_elevation_if_visible(low, up, (-1.0f64).to_radians().sin()).is_some());
        assert!(sin_elevation_if_visible(low, up, 0.0).is_none());
    }
}
