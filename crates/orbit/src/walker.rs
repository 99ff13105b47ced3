//! Constellation designs: Walker delta and Walker star patterns, sun-synchronous orbits.
//!
//! Designs become ordinary mean elements (circular, Kozai mean motion) that go through the
//! same SGP4 path as TLEs. Walker notation i:T/P/F follows Walker (1984), "Satellite
//! constellations", J. Br. Interplanet. Soc. 37: P equally spaced planes over 360 deg (delta)
//! or 180 deg (star), T/P satellites per plane, phase offset F*360/T between adjacent planes.

use crate::elements::Elements;
use crate::time::Epoch;

/// Earth's gravitational parameter, km^3/s^2 (WGS-72, as SGP4 uses it).
pub const MU_WGS72_KM3_S2: f64 = 398_600.8;
/// Equatorial radius, km (WGS-72, as SGP4 uses it).
pub const RADIUS_WGS72_KM: f64 = 6_378.135;
/// J2 (WGS-72, Vallado et al. 2006).
pub const J2_WGS72: f64 = 0.001_082_616;
/// Mean motion of the fictitious mean Sun, rad/s: 2pi per tropical year of 365.2422 days.
pub const SUN_SYNC_NODE_RATE_RAD_S: f64 = std::f64::consts::TAU / (365.242_2 * 86_400.0);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkerKind {
    /// Planes spread over 360 deg of right ascension.
    Delta,
    /// Planes spread over 180 deg (polar "streets of coverage").
    Star,
}

/// A Walker constellation design.
#[derive(Clone, Debug, PartialEq)]
pub struct WalkerDesign {
    pub kind: WalkerKind,
    pub n_planes: u32,
    pub sats_per_plane: u32,
    /// Phasing factor F in 0..P.
    pub phasing: u32,
    pub altitude_km: f64,
    pub inclination_deg: f64,
    pub epoch: Epoch,
    /// Right ascension of plane 0, degrees.
    pub raan_offset_deg: f64,
    /// Catalogue number of the first satellite; the rest follow in order.
    pub first_norad_id: u32,
    /// Name prefix: satellites are named `{prefix}-{plane}-{slot}` (both 0-based).
    pub name_prefix: String,
}

/// A design that cannot exist.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Walker design: {field} {value}: {reason}")]
pub struct DesignError {
    pub field: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl WalkerDesign {
    pub fn validate(&self) -> Result<(), DesignError> {
        let fail = |field, value: String, reason| {
            Err(DesignError {
                field,
                value,
                reason,
            })
        };
        if self.n_planes == 0 {
            return fail("planes", self.n_planes.to_string(), "must be at least 1");
        }
        if self.sats_per_plane == 0 {
            return fail(
                "sats-per-plane",
                self.sats_per_plane.to_string(),
                "must be at least 1",
            );
        }
        if self.phasing >= self.n_planes {
            return fail(
                "phasing",
                self.phasing.to_string(),
                "F must be in 0..planes",
            );
        }
        if !(self.altitude_km.is_finite() && (100.0..=50_000.0).contains(&self.altitude_km)) {
            return fail(
                "altitude-km",
                self.altitude_km.to_string(),
                "must be within 100..50000 km",
            );
        }
        if !(self.inclination_deg.is_finite() && (0.0..=180.0).contains(&self.inclination_deg)) {
            return fail(
                "inclination-deg",
                self.inclination_deg.to_string(),
                "must be within 0..180 deg",
            );
        }
        let total = u64::from(self.n_planes) * u64::from(self.sats_per_plane);
        if total > 1_000_000 {
            return fail(
                "planes x sats-per-plane",
                total.to_string(),
                "more than a million satellites",
            );
        }
        Ok(())
    }

    pub fn n_satellites(&self) -> u32 {
        self.n_planes * self.sats_per_plane
    }

    /// Mean elements for every satellite, plane by plane, slot by slot.
    pub fn elements(&self) -> Result<Vec<Elements>, DesignError> {
        self.validate()?;
        let total = self.n_satellites();
        let spread = match self.kind {
            WalkerKind::Delta => 360.0,
            WalkerKind::Star => 180.0,
        };
        let mean_motion = kozai_mean_motion_for_altitude(self.altitude_km, self.inclination_deg);
        let mut out = Vec::with_capacity(total as usize);
        for plane in 0..self.n_planes {
            let raan = self.raan_offset_deg + spread * f64::from(plane) / f64::from(self.n_planes);
            for slot in 0..self.sats_per_plane {
                let anomaly = 360.0 * f64::from(slot) / f64::from(self.sats_per_plane)
                    + 360.0 * f64::from(self.phasing) * f64::from(plane) / f64::from(total);
                let idx = plane * self.sats_per_plane + slot;
                out.push(Elements {
                    name: format!("{}-{plane}-{slot}", self.name_prefix),
                    norad_id: self.first_norad_id + idx,
                    classification: 'U',
                    international_designator: String::new(),
                    epoch: self.epoch,
                    mean_motion_dot: 0.0,
                    mean_motion_ddot: 0.0,
                    bstar: 0.0,
                    ephemeris_type: 0,
                    element_set_number: 1,
                    inclination_deg: self.inclination_deg,
                    raan_deg: raan.rem_euclid(360.0),
                    eccentricity: 0.0,
                    arg_perigee_deg: 0.0,
                    mean_anomaly_deg: anomaly.rem_euclid(360.0),
                    mean_motion_rev_day: mean_motion,
                    revolution_number: 0,
                });
            }
        }
        Ok(out)
    }
}

/// The Kozai mean motion (rev/day) whose SGP4 mean semi-major axis is
/// `RADIUS_WGS72_KM + altitude_km` for a circular orbit at this inclination.
///
/// SGP4 turns the Kozai mean motion of a TLE into Brouwer's before use; a few fixed-point
/// steps invert that so the design altitude is the propagated mean altitude.
pub fn kozai_mean_motion_for_altitude(altitude_km: f64, inclination_deg: f64) -> f64 {
    let a_km = RADIUS_WGS72_KM + altitude_km;
    let target_rad_min = (MU_WGS72_KM3_S2 / (a_km * a_km * a_km)).sqrt() * 60.0;
    let mut kozai = target_rad_min;
    for _ in 0..8 {
        let Ok(orbit) = sgp4::Orbit::from_kozai_elements(
            &sgp4::WGS72,
            inclination_deg.to_radians(),
            0.0,
            0.0,
            0.0,
            0.0,
            kozai,
        ) else {
            break;
        };
        kozai *= target_rad_min / orbit.mean_motion;
    }
    kozai * 1_440.0 / std::f64::consts::TAU
}

/// Inclination (deg) of a circular sun-synchronous orbit at `altitude_km`: the J2 nodal
/// precession equals the mean Sun's motion (Vallado, 4th ed., eq. 11-14). `None` when no
/// such orbit exists (above about 5,970 km).
pub fn sun_synchronous_inclination_deg(altitude_km: f64) -> Option<f64> {
    let a = RADIUS_WGS72_KM + altitude_km;
    let n = (MU_WGS72_KM3_S2 / (a * a * a)).sqrt();
    let cos_i = -SUN_SYNC_NODE_RATE_RAD_S * 2.0 * a * a
        / (3.0 * J2_WGS72 * RADIUS_WGS72_KM * RADIUS_WGS72_KM * n);
    (cos_i >= -1.0).then(|| cos_i.acos().to_degrees())
}

/// Right ascension of the ascending node (deg, TEME-like mean equator of date) that gives a
/// local time of ascending node `ltan_hours` (6.0 = dawn-dusk) at `epoch`.
pub fn raan_for_ltan_deg(epoch: Epoch, ltan_hours: f64) -> f64 {
    let sun = crate::sun::sun_position_km(epoch);
    let sun_ra_deg = sun.y.atan2(sun.x).to_degrees();
    (sun_ra_deg + (ltan_hours - 12.0) * 15.0).rem_euclid(360.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Satellite;

    fn design(kind: WalkerKind) -> WalkerDesign {
        WalkerDesign {
            kind,
            n_planes: 6,
            sats_per_plane: 4,
            phasing: 1,
            altitude_km: 550.0,
            inclination_deg: 53.0,
            epoch: Epoch::from_ymd_hms(2026, 11, 24, 0, 0, 0.0),
            raan_offset_deg: 0.0,
            first_norad_id: 90_000,
            name_prefix: "T".into(),
        }
    }

    #[test]
    fn walker_delta_layout() {
        let els = design(WalkerKind::Delta).elements().unwrap();
        assert_eq!(els.len(), 24);
        assert_eq!(els[4].raan_deg, 60.0);
        // Plane 1 slot 0 is phased by F*360/T = 15 deg.
        assert_eq!(els[4].mean_anomaly_deg, 15.0);
        assert_eq!(els[1].mean_anomaly_deg, 90.0);
        let star = design(WalkerKind::Star).elements().unwrap();
        assert_eq!(star[4].raan_deg, 30.0);
    }

    #[test]
    fn design_altitude_is_propagated_mean_altitude() {
        // Averaged over one orbit, SGP4's radius is the design radius within 2 km
        // (short-period J2 terms are ~10 km peak; the mean cancels them).
        let els = design(WalkerKind::Delta).elements().unwrap();
        let sat = Satellite::new(els[0].clone()).unwrap();
        let period_min = 1_440.0 / els[0].mean_motion_rev_day;
        let n = 360;
        let mean_r: f64 = (0..n)
            .map(|k| {
                sat.propagate_minutes(period_min * f64::from(k) / f64::from(n))
                    .unwrap()
                    .position_km
                    .length()
            })
            .sum::<f64>()
            / f64::from(n);
        assert!((mean_r - (RADIUS_WGS72_KM + 550.0)).abs() < 2.0, "{mean_r}");
    }

    #[test]
    fn sun_synchronous_inclinations_match_published_values() {
        // Published missions: Sentinel-2 flies at 786 km, 98.57 deg (ESA Sentinel-2 User
        // Handbook); 550 km SSO shells (e.g. Starlink's polar SSO filings) at 97.6 deg.
        assert!((sun_synchronous_inclination_deg(550.0).unwrap() - 97.59).abs() < 0.05);
        assert!((sun_synchronous_inclination_deg(786.0).unwrap() - 98.57).abs() < 0.05);
        assert!(sun_synchronous_inclination_deg(7_000.0).is_none());
    }

    #[test]
    fn bad_designs_are_rejected() {
        let mut d = design(WalkerKind::Delta);
        d.phasing = 6;
        assert_eq!(d.elements().unwrap_err().field, "phasing");
        d.phasing = 0;
        d.altitude_km = -5.0;
        assert_eq!(d.elements().unwrap_err().field, "altitude-km");
    }
}
