//! Sun position (low-precision) and a satellite's shadow state (conical Earth shadow).
//!
//! Sun: "Low precision formulas for the Sun", The Astronomical Almanac (e.g. 2019, p. C5),
//! stated accuracy 0.01 deg between 1950 and 2050. The formula's time argument is TT; UTC
//! is used here (the ~69 s difference moves the Sun by 0.0008 deg). The result is on the
//! mean equator and equinox of date, which differs from TEME by nutation in right ascension
//! (< 0.005 deg): well inside the formula's own accuracy. The Almanac's mean longitude
//! includes annual aberration (-20.5"); it is added back here to give the geometric
//! direction, the convention of Montenbruck & Gill's shadow function and of the Skyfield
//! reference data (measured against DE421 in TEME over the test window: 0.003 deg worst).
//!
//! Shadow: a spherical Earth of radius `EARTH_SHADOW_RADIUS_KM` and a spherical Sun; the
//! satellite is in umbra when the Earth's disc covers the Sun's entirely, penumbra when
//! partly (Montenbruck & Gill, Satellite Orbits, 2000, sec. 3.4.2). The atmosphere and
//! Earth's oblateness are ignored.

use glam::DVec3;

use crate::time::Epoch;

/// Astronomical unit, km (IAU 2012 Resolution B2).
pub const AU_KM: f64 = 149_597_870.7;
/// Solar radius, km (IAU 2015 Resolution B3 nominal: 695,700 km; 696,000 km is the
/// classical value used by Montenbruck & Gill and in the Skyfield reference data).
pub const SUN_RADIUS_KM: f64 = 696_000.0;
/// Earth radius used for the shadow cone, km (WGS-84 equatorial).
pub const EARTH_SHADOW_RADIUS_KM: f64 = 6_378.137;

/// The constant of annual aberration, 20.49552 arcsec (IAU 1976), in degrees.
const ABERRATION_DEG: f64 = 20.495_52 / 3_600.0;

/// Geometric geocentric Sun position, km, mean equator and equinox of date (~TEME).
pub fn sun_position_km(t: Epoch) -> DVec3 {
    let (whole, frac) = t.julian_date_split();
    let n = (whole - crate::time::JD_J2000) + frac;
    let l = (280.460 + 0.985_647_4 * n + ABERRATION_DEG).to_radians();
    let g = (357.528 + 0.985_600_3 * n).to_radians();
    let lambda =
        l + (1.915_f64.to_radians()) * g.sin() + (0.020_f64.to_radians()) * (2.0 * g).sin();
    let eps = (23.439 - 0.000_000_4 * n).to_radians();
    let r_au = 1.000_14 - 0.016_71 * g.cos() - 0.000_14 * (2.0 * g).cos();
    let (sin_l, cos_l) = lambda.sin_cos();
    let (sin_e, cos_e) = eps.sin_cos();
    DVec3::new(cos_l, cos_e * sin_l, sin_e * sin_l) * (r_au * AU_KM)
}

/// Whether a satellite sees the Sun.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Shadow {
    Sunlit,
    Penumbra,
    Umbra,
}

impl Shadow {
    pub fn as_str(self) -> &'static str {
        match self {
            Shadow::Sunlit => "sunlit",
            Shadow::Penumbra => "penumbra",
            Shadow::Umbra => "umbra",
        }
    }
}

/// The angles of the conical shadow test, radians.
#[derive(Clone, Copy, Debug)]
pub struct ShadowGeometry {
    /// Apparent radius of the Sun seen from the satellite.
    pub sun_radius_rad: f64,
    /// Apparent radius of the Earth seen from the satellite.
    pub earth_radius_rad: f64,
    /// Angle between the Earth's and the Sun's centres seen from the satellite.
    pub separation_rad: f64,
}

impl ShadowGeometry {
    /// `r_sat` and `r_sun` geocentric in the same (inertial) frame, km.
    pub fn new(r_sat: DVec3, r_sun: DVec3) -> Self {
        let to_sun = r_sun - r_sat;
        let d_sun = to_sun.length();
        let d_earth = r_sat.length();
        ShadowGeometry {
            sun_radius_rad: (SUN_RADIUS_KM / d_sun).min(1.0).asin(),
            earth_radius_rad: (EARTH_SHADOW_RADIUS_KM / d_earth).min(1.0).asin(),
            separation_rad: (-r_sat).angle_between(to_sun),
        }
    }

    /// Positive outside the umbra, negative inside; smooth in time.
    pub fn umbra_margin_rad(&self) -> f64 {
        self.separation_rad - (self.earth_radius_rad - self.sun_radius_rad)
    }

    /// Positive when fully sunlit, negative when any of the Sun is hidden.
    pub fn penumbra_margin_rad(&self) -> f64 {
        self.separation_rad - (self.earth_radius_rad + self.sun_radius_rad)
    }

    pub fn state(&self) -> Shadow {
        if self.umbra_margin_rad() < 0.0 {
            Shadow::Umbra
        } else if self.penumbra_margin_rad() < 0.0 {
            Shadow::Penumbra
        } else {
            Shadow::Sunlit
        }
    }

    /// Fraction of the Sun's disc that is visible (1 sunlit, 0 umbra), from the overlap
    /// area of two discs of the apparent radii (Montenbruck & Gill eq. 3.87-3.90).
    pub fn sunlit_fraction(&self) -> f64 {
        let (a, b, c) = (
            self.sun_radius_rad,
            self.earth_radius_rad,
            self.separation_rad,
        );
        match self.state() {
            Shadow::Sunlit => 1.0,
            Shadow::Umbra => 0.0,
            Shadow::Penumbra => {
                if c < (a - b).abs() {
                    // The Earth's disc lies inside the Sun's (annular; not in LEO).
                    return 1.0 - (b * b) / (a * a);
                }
                let x = (c * c + a * a - b * b) / (2.0 * c);
                let y = (a * a - x * x).max(0.0).sqrt();
                let area = a * a * (x / a).clamp(-1.0, 1.0).acos()
                    + b * b * ((c - x) / b).clamp(-1.0, 1.0).acos()
                    - c * y;
                (1.0 - area / (std::f64::consts::PI * a * a)).clamp(0.0, 1.0)
            }
        }
    }
}

/// Shadow state of a satellite at TEME position `r_sat_km` at time `t`.
pub fn shadow_at(r_sat_km: DVec3, t: Epoch) -> ShadowGeometry {
    ShadowGeometry::new(r_sat_km, sun_position_km(t))
}

/// The beta angle: the Sun's elevation above the orbit plane, degrees, from the orbit's
/// angular-momentum direction `h` (any length) and the Sun vector.
pub fn beta_angle_deg(h: DVec3, r_sun: DVec3) -> f64 {
    90.0 - h.angle_between(r_sun).to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sun_matches_astronomical_almanac_example() {
        // Vallado (4th ed.) Example 5-1: 2006 April 2, 00:00 UT1 -> r_sun (MOD) =
        // (146186178, 28788977, 12481500) km, |r| = 1.001 AU.
        let r = sun_position_km(Epoch::from_ymd_hms(2006, 4, 2, 0, 0, 0.0));
        let expected = DVec3::new(146_186_178.0, 28_788_977.0, 12_481_500.0);
        assert!(r.angle_between(expected).to_degrees() < 0.01, "{r}");
        assert!((r.length() / expected.length() - 1.0).abs() < 1e-4);
    }

    #[test]
    fn shadow_states_on_the_sun_line() {
        let sun = DVec3::new(AU_KM, 0.0, 0.0);
        let behind = ShadowGeometry::new(DVec3::new(-7_000.0, 0.0, 0.0), sun);
        assert_eq!(behind.state(), Shadow::Umbra);
        assert_eq!(behind.sunlit_fraction(), 0.0);
        let front = ShadowGeometry::new(DVec3::new(7_000.0, 0.0, 0.0), sun);
        assert_eq!(front.state(), Shadow::Sunlit);
        // Exactly at the grazing line the Sun's centre is on the Earth's limb: penumbra with
        // half the disc visible.
        let r = 7_000.0_f64;
        let b = (EARTH_SHADOW_RADIUS_KM / r).asin();
        let on_limb = DVec3::new(-r * b.cos(), r * b.sin(), 0.0);
        // The Sun direction from the satellite differs from +x by ~r/AU: tiny. Check state and
        // that the visible fraction is close to one half.
        let g = ShadowGeometry::new(on_limb, sun);
        assert_eq!(g.state(), Shadow::Penumbra);
        assert!(
            (g.sunlit_fraction() - 0.5).abs() < 0.02,
            "{}",
            g.sunlit_fraction()
        );
    }
}
