//! Mean orbital elements in the TLE/OMM sense: the one input every orbit source turns into.

use crate::time::Epoch;

/// SGP4 mean elements of one satellite (Kozai mean motion, as in TLE and OMM files).
#[derive(Clone, Debug, PartialEq)]
pub struct Elements {
    /// Object name (3-line TLE title, OMM OBJECT_NAME); empty when the source has none.
    pub name: String,
    /// NORAD catalogue number.
    pub norad_id: u32,
    /// 'U', 'C' or 'S'.
    pub classification: char,
    /// International designator, e.g. "98067A" (may be empty).
    pub international_designator: String,
    pub epoch: Epoch,
    /// First time derivative of mean motion divided by two, rev/day^2 (as printed in TLE).
    pub mean_motion_dot: f64,
    /// Second time derivative of mean motion divided by six, rev/day^3.
    pub mean_motion_ddot: f64,
    /// SGP4 drag term B*, 1/earth radii.
    pub bstar: f64,
    pub ephemeris_type: u8,
    pub element_set_number: u32,
    pub inclination_deg: f64,
    pub raan_deg: f64,
    pub eccentricity: f64,
    pub arg_perigee_deg: f64,
    pub mean_anomaly_deg: f64,
    /// Kozai mean motion, revolutions per day.
    pub mean_motion_rev_day: f64,
    pub revolution_number: u32,
}

impl Elements {
    /// The label used in outputs: the name when present, else the NORAD id.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.norad_id.to_string()
        } else {
            self.name.clone()
        }
    }
}
