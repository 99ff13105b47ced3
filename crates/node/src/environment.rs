//! What a satellite's surroundings give and take at one instant (sunlight, eclipse, Earth
//! infrared and albedo, beta angle, sub-satellite point), derived from the orbit core, and a
//! survey of orbits spread over a year for design sizing.

use glam::DVec3;
use tiandi_orbit::frames::{EarthRotation, Frame, Geodetic, ecef_to_geodetic};
use tiandi_orbit::sun::{AU_KM, Shadow, ShadowGeometry, beta_angle_deg, sun_position_km};
use tiandi_orbit::{Epoch, PropagationError, Satellite};

use crate::power::{Pointing, SOLAR_CONSTANT_W_M2};
use crate::radiation::SaaModel;
use crate::thermal::ThermalEnv;

/// Earth's mean outgoing longwave radiation at the top of the atmosphere, W/m^2 (CERES
/// EBAF-TOA Ed4.0, Loeb et al. 2018, J. Climate 31, 895: 240 W/m^2 global annual mean).
pub const EARTH_OLR_W_M2: f64 = 240.0;
/// Earth's albedo: CERES measures 0.29 globally; 0.30 is a round orbit-average design
/// value (Gilmore 2002, ch. 2, tabulates hot and cold design albedos either side of it).
pub const EARTH_ALBEDO: f64 = 0.30;
/// Earth radius for view factors, km (WGS-84 equatorial).
pub const EARTH_RADIUS_KM: f64 = 6_378.137;

/// The environment of one satellite at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Environment {
    /// Solar irradiance at the satellite's distance from the Sun, W/m^2 (not reduced by
    /// shadow).
    pub irradiance_w_m2: f64,
    /// Visible fraction of the Sun's disc (1 sunlit, 0 umbra; in between in penumbra).
    pub sunlit_fraction: f64,
    pub shadow: Shadow,
    /// Sun elevation above the orbit plane, deg.
    pub beta_deg: f64,
    /// Cosine of the Sun's angle from the local vertical (radial unit vector . Sun unit
    /// vector): > 0 over the day side.
    pub cos_sun_zenith: f64,
    /// Geocentric radius minus the Earth's equatorial radius, km.
    pub altitude_km: f64,
    /// View factor from the radiator to the Earth (see [`vertical_plate_view_factor`]).
    pub radiator_earth_view_factor: f64,
}

/// View factor from a flat plate whose normal is horizontal (perpendicular to the local
/// vertical) to a spherical Earth, at H = r / R_E: `(atan(1/sqrt(H^2-1)) - sqrt(H^2-1)/H^2) / pi`
/// (Gilmore, Spacecraft Thermal Control Handbook vol. 1, 2002, ch. 2, plate perpendicular
/// to the planet). 1/2 at the surface, 0.258 at 550 km.
pub fn vertical_plate_view_factor(radius_km: f64) -> f64 {
    let h = (radius_km / EARTH_RADIUS_KM).max(1.0);
    let s = (h * h - 1.0).sqrt();
    let first = if s > 0.0 {
        (1.0 / s).atan()
    } else {
        std::f64::consts::FRAC_PI_2
    };
    (first - s / (h * h)) / std::f64::consts::PI
}

impl Environment {
    /// From a TEME position and velocity (km, km/s) and the geocentric Sun vector (km).
    ///
    /// The radiator is taken on the anti-Sun orbit-normal face of a nadir-pointing body:
    /// it never sees the Sun directly, and it sees the Earth edge-on.
    pub fn from_geometry(r_km: DVec3, v_km_s: DVec3, r_sun_km: DVec3) -> Self {
        let shadow = ShadowGeometry::new(r_km, r_sun_km);
        let radius_km = r_km.length();
        let au = r_sun_km.length() / AU_KM;
        Environment {
            irradiance_w_m2: SOLAR_CONSTANT_W_M2 / (au * au),
            sunlit_fraction: shadow.sunlit_fraction(),
            shadow: shadow.state(),
            beta_deg: beta_angle_deg(r_km.cross(v_km_s), r_sun_km),
            cos_sun_zenith: r_km.normalize().dot((r_sun_km - r_km).normalize()),
            altitude_km: radius_km - EARTH_RADIUS_KM,
            radiator_earth_view_factor: vertical_plate_view_factor(radius_km),
        }
    }

    /// Propagates `sat` to `t` and builds the environment there.
    pub fn at(sat: &Satellite, t: Epoch) -> Result<Self, PropagationError> {
        let s = sat.state_at(t, Frame::Teme)?;
        Ok(Self::from_geometry(
            s.position_km,
            s.velocity_km_s,
            sun_position_km(t),
        ))
    }

    /// Cosine of the Sun's incidence on the array for a pointing mode (before shadow).
    pub fn array_cos_incidence(&self, pointing: Pointing) -> f64 {
        match pointing {
            Pointing::SunTracking => 1.0,
            Pointing::SingleAxis => self.beta_deg.to_radians().cos().max(0.0),
            Pointing::BodyFixedZenith => self.cos_sun_zenith.max(0.0),
        }
    }

    /// Radiative loads on the radiator: Earth IR `OLR x F`; albedo `a x S x F x cos(zenith)`
    /// on the day side (the usual cosine approximation, Gilmore 2002 ch. 2); no direct Sun.
    pub fn thermal(&self) -> ThermalEnv {
        let f = self.radiator_earth_view_factor;
        ThermalEnv {
            solar_w_m2: 0.0,
            albedo_w_m2: EARTH_ALBEDO * self.irradiance_w_m2 * f * self.cos_sun_zenith.max(0.0),
            earth_ir_w_m2: EARTH_OLR_W_M2 * f,
        }
    }
}

/// One orbit's worth of environment, integrated.
#[derive(Clone, Debug, PartialEq)]
pub struct OrbitStats {
    pub start: Epoch,
    pub period_s: f64,
    /// Beta angle at the start of the orbit, deg.
    pub beta_deg: f64,
    /// Equivalent full-shadow time: integral of (1 - sunlit fraction), s.
    pub shadow_s: f64,
    /// Time in umbra, s.
    pub umbra_s: f64,
    /// Equivalent full-shadow time of the longest continuous shadow pass, s.
    pub longest_shadow_s: f64,
    /// Sunlight on 1 m^2 of array with the survey's pointing, Wh/m^2 (irradiance x visible
    /// fraction x cos incidence, integrated).
    pub light_wh_per_m2: f64,
    /// Time-averaged SAA rate multiplier.
    pub mean_saa_multiplier: f64,
    /// Largest albedo and IR loads on the radiator over the orbit, W/m^2.
    pub max_albedo_w_m2: f64,
    pub max_earth_ir_w_m2: f64,
}

impl OrbitStats {
    pub fn eclipse_fraction(&self) -> f64 {
        self.shadow_s / self.period_s
    }
}

/// Orbits sampled through a year (or any span).
#[derive(Clone, Debug, PartialEq)]
pub struct OrbitSurvey {
    pub orbits: Vec<OrbitStats>,
}

/// (sqrt(5) - 1) / 2: successive multiples mod 1 spread evenly over the day.
const GOLDEN_FRACTION: f64 = 0.618_033_988_749_895;

/// Bound on samples per orbit.
const MAX_SAMPLES_PER_ORBIT: usize = 1_000_000;

/// Surveys one orbit starting at each of `start + k x day_step_days + frac(k x 0.618) days`
/// for k in 0..n_samples, sampled every ~`step_s` seconds (midpoint rule). The golden-ratio
/// offset of the time of day moves each sample's ground track (a sun-synchronous orbit
/// started at the same UTC every day repeats nearly the same track and could miss the
/// SAA entirely). `pointing` sets the cosine used for `light_wh_per_m2`.
pub fn survey_orbit(
    sat: &Satellite,
    start: Epoch,
    n_samples: u32,
    day_step_days: f64,
    step_s: f64,
    pointing: Pointing,
    saa: &SaaModel,
) -> Result<OrbitSurvey, PropagationError> {
    assert!(
        step_s > 0.0 && day_step_days >= 0.0,
        "survey step {step_s} s, {day_step_days} d"
    );
    let period_s = 86_400.0 / sat.elements.mean_motion_rev_day;
    let n = ((period_s / step_s).ceil() as usize).clamp(8, MAX_SAMPLES_PER_ORBIT);
    let dt = period_s / n as f64;
    let mut orbits = Vec::with_capacity(n_samples as usize);
    for k in 0..n_samples {
        let time_of_day = (f64::from(k) * GOLDEN_FRACTION).fract();
        let t0 = start.add_s_f64((f64::from(k) * day_step_days + time_of_day) * 86_400.0);
        let mut stats = OrbitStats {
            start: t0,
            period_s,
            beta_deg: Environment::at(sat, t0)?.beta_deg,
            shadow_s: 0.0,
            umbra_s: 0.0,
            longest_shadow_s: 0.0,
            light_wh_per_m2: 0.0,
            mean_saa_multiplier: 0.0,
            max_albedo_w_m2: 0.0,
            max_earth_ir_w_m2: 0.0,
        };
        // Shadow runs wrap around the orbit's end: remember the run open at the start.
        let mut runs: Vec<f64> = Vec::new();
        let mut current = 0.0;
        let mut first_in_shadow = false;
        for i in 0..n {
            let t = t0.add_s_f64((i as f64 + 0.5) * dt);
            let s = sat.state_at(t, Frame::Teme)?;
            let env =
                Environment::from_geometry(s.position_km, s.velocity_km_s, sun_position_km(t));
            let dark = 1.0 - env.sunlit_fraction;
            stats.shadow_s += dark * dt;
            if env.shadow == Shadow::Umbra {
                stats.umbra_s += dt;
            }
            if dark > 0.0 {
                if i == 0 {
                    first_in_shadow = true;
                }
                current += dark * dt;
            } else if current > 0.0 {
                runs.push(current);
                current = 0.0;
            }
            stats.light_wh_per_m2 +=
                env.irradiance_w_m2 * env.sunlit_fraction * env.array_cos_incidence(pointing) * dt
                    / 3_600.0;
            let geo: Geodetic =
                ecef_to_geodetic(EarthRotation::at(t).teme_to_ecef_position(s.position_km));
            stats.mean_saa_multiplier += saa.multiplier(&geo) / n as f64;
            let th = env.thermal();
            stats.max_albedo_w_m2 = stats.max_albedo_w_m2.max(th.albedo_w_m2);
            stats.max_earth_ir_w_m2 = stats.max_earth_ir_w_m2.max(th.earth_ir_w_m2);
        }
        if current > 0.0 {
            if first_in_shadow && !runs.is_empty() {
                runs[0] += current;
            } else {
                runs.push(current);
            }
        }
        stats.longest_shadow_s = runs.iter().copied().fold(0.0, f64::max);
        orbits.push(stats);
    }
    Ok(OrbitSurvey { orbits })
}

impl OrbitSurvey {
    /// The orbit with the most shadow.
    pub fn worst_eclipse(&self) -> &OrbitStats {
        self.orbits
            .iter()
            .max_by(|a, b| a.shadow_s.total_cmp(&b.shadow_s))
            .expect("survey has orbits")
    }
    pub fn mean_eclipse_fraction(&self) -> f64 {
        self.orbits
            .iter()
            .map(OrbitStats::eclipse_fraction)
            .sum::<f64>()
            / self.orbits.len() as f64
    }
    pub fn max_longest_shadow_s(&self) -> f64 {
        self.orbits
            .iter()
            .map(|o| o.longest_shadow_s)
            .fold(0.0, f64::max)
    }
    /// Fraction of sampled orbits with any umbra.
    pub fn fraction_with_umbra(&self) -> f64 {
        self.orbits.iter().filter(|o| o.umbra_s > 0.0).count() as f64 / self.orbits.len() as f64
    }
    pub fn mean_saa_multiplier(&self) -> f64 {
        self.orbits
            .iter()
            .map(|o| o.mean_saa_multiplier)
            .sum::<f64>()
            / self.orbits.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_factor_limits_and_550_km() {
        assert!((vertical_plate_view_factor(EARTH_RADIUS_KM) - 0.5).abs() < 1e-12);
        // Hand calculation at 550 km: H = 1.086232, sqrt(H^2 - 1) = 0.424154,
        // atan(1/0.424154) = 1.169904, 0.424154 / 1.179900 = 0.359483 -> 0.25798.
        assert!((vertical_plate_view_factor(EARTH_RADIUS_KM + 550.0) - 0.25798).abs() < 1e-4);
        assert!(vertical_plate_view_factor(42_164.0) < 0.01);
    }

    #[test]
    fn pointing_cosines() {
        let sun = DVec3::new(AU_KM, 0.0, 0.0);
        // Over the sub-solar point, moving along +y: beta 0, Sun at zenith.
        let e = Environment::from_geometry(
            DVec3::new(6_928.0, 0.0, 0.0),
            DVec3::new(0.0, 7.6, 0.0),
            sun,
        );
        assert!(e.beta_deg.abs() < 1e-9 && e.cos_sun_zenith > 0.999_999);
        assert_eq!(e.array_cos_incidence(Pointing::SunTracking), 1.0);
        assert!((e.array_cos_incidence(Pointing::SingleAxis) - 1.0).abs() < 1e-12);
        // Orbit plane normal to the Sun (beta 90): single-axis and zenith arrays see nothing.
        let e = Environment::from_geometry(
            DVec3::new(0.0, 6_928.0, 0.0),
            DVec3::new(0.0, 0.0, 7.6),
            sun,
        );
        assert!((e.beta_deg - 90.0).abs() < 1e-6);
        assert!(e.array_cos_incidence(Pointing::SingleAxis) < 1e-9);
        assert!(e.array_cos_incidence(Pointing::BodyFixedZenith) < 1e-3);
        assert_eq!(e.shadow, Shadow::Sunlit);
    }
}
