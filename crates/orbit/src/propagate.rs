//! SGP4/SDP4 propagation through the `sgp4` crate, set up as Vallado's reference (WGS-72).
//!
//! The `sgp4` crate's `Constants::from_elements` uses WGS-84 and misses Vallado's
//! verification vectors by kilometres; the reference implementation (and Skyfield,
//! python-sgp4) uses WGS-72 with IAU sidereal time, which is what is built here.

use glam::DVec3;
use rayon::prelude::*;

use crate::elements::Elements;
use crate::frames::{EarthRotation, Frame, State};
use crate::time::Epoch;

/// Why an orbit cannot be propagated. Codes follow Vallado's `sgp4` error numbers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PropagationError {
    /// The elements cannot initialise SGP4 (Vallado code 1 or 2 at epoch).
    #[error("satellite {satellite}: elements cannot be propagated: {reason}")]
    BadElements { satellite: String, reason: String },
    /// Mean eccentricity out of [0, 1) during propagation (Vallado code 1).
    #[error(
        "satellite {satellite}: mean eccentricity {eccentricity} out of range at {minutes} min from epoch"
    )]
    Eccentricity {
        satellite: String,
        eccentricity: f64,
        minutes: f64,
    },
    /// Perturbed eccentricity out of [0, 1) (Vallado code 3).
    #[error(
        "satellite {satellite}: perturbed eccentricity {eccentricity} out of range at {minutes} min from epoch"
    )]
    PerturbedEccentricity {
        satellite: String,
        eccentricity: f64,
        minutes: f64,
    },
    /// Semi-latus rectum below zero (Vallado code 4).
    #[error("satellite {satellite}: semi-latus rectum negative at {minutes} min from epoch")]
    SemiLatusRectum { satellite: String, minutes: f64 },
    /// The position is below the Earth's surface (Vallado code 6: decayed).
    #[error(
        "satellite {satellite}: decayed (radius {radius_km:.1} km below the Earth's) at {minutes} min from epoch"
    )]
    Decayed {
        satellite: String,
        radius_km: f64,
        minutes: f64,
    },
}

impl PropagationError {
    /// Vallado's error code for this error (1, 3, 4 or 6; 2 for elements that do not initialise).
    pub fn vallado_code(&self) -> u8 {
        match self {
            PropagationError::BadElements { .. } => 2,
            PropagationError::Eccentricity { .. } => 1,
            PropagationError::PerturbedEccentricity { .. } => 3,
            PropagationError::SemiLatusRectum { .. } => 4,
            PropagationError::Decayed { .. } => 6,
        }
    }
}

/// WGS-72 equatorial radius used by SGP4, km (Vallado et al. 2006, `getgravconst`).
pub const WGS72_RADIUS_KM: f64 = 6_378.135;

/// A satellite ready to propagate: its elements and the SGP4 constants made from them.
#[derive(Clone, Debug)]
pub struct Satellite {
    pub elements: Elements,
    label: String,
    constants: sgp4::Constants,
}

impl Satellite {
    pub fn new(elements: Elements) -> Result<Self, PropagationError> {
        let label = elements.label();
        let bad = |reason: String| PropagationError::BadElements {
            satellite: label.clone(),
            reason,
        };
        let deg = std::f64::consts::PI / 180.0;
        let orbit = sgp4::Orbit::from_kozai_elements(
            &sgp4::WGS72,
            elements.inclination_deg * deg,
            elements.raan_deg * deg,
            elements.eccentricity,
            elements.arg_perigee_deg * deg,
            elements.mean_anomaly_deg * deg,
            // rev/day -> rad/min
            elements.mean_motion_rev_day * std::f64::consts::TAU / 1_440.0,
        )
        .map_err(|e| bad(e.to_string()))?;
        let constants = sgp4::Constants::new(
            sgp4::WGS72,
            sgp4::iau_epoch_to_sidereal_time,
            elements.epoch.julian_years_j2000(),
            elements.bstar,
            orbit,
        )
        .map_err(|e| bad(e.to_string()))?;
        Ok(Satellite {
            elements,
            label,
            constants,
        })
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn epoch(&self) -> Epoch {
        self.elements.epoch
    }

    /// TEME state `minutes` after the element epoch.
    pub fn propagate_minutes(&self, minutes: f64) -> Result<State, PropagationError> {
        let p = self
            .constants
            .propagate(sgp4::MinutesSinceEpoch(minutes))
            .map_err(|e| {
                let satellite = self.label.clone();
                match e {
                    sgp4::Error::OutOfRangeEccentricity { eccentricity, t } => {
                        PropagationError::Eccentricity {
                            satellite,
                            eccentricity,
                            minutes: t,
                        }
                    }
                    sgp4::Error::OutOfRangePerturbedEccentricity { eccentricity, t } => {
                        PropagationError::PerturbedEccentricity {
                            satellite,
                            eccentricity,
                            minutes: t,
                        }
                    }
                    sgp4::Error::NegativeSemiLatusRectum { t } => {
                        PropagationError::SemiLatusRectum {
                            satellite,
                            minutes: t,
                        }
                    }
                }
            })?;
        let position_km = DVec3::from_array(p.position);
        let radius_km = position_km.length();
        // Vallado's sgp4 flags code 6 when the radius falls below one Earth radius.
        if radius_km < WGS72_RADIUS_KM {
            return Err(PropagationError::Decayed {
                satellite: self.label.clone(),
                radius_km,
                minutes,
            });
        }
        Ok(State {
            position_km,
            velocity_km_s: DVec3::from_array(p.velocity),
        })
    }

    /// State at a UTC instant in the given frame.
    pub fn state_at(&self, t: Epoch, frame: Frame) -> Result<State, PropagationError> {
        let teme = self.propagate_minutes(t.seconds_since(self.elements.epoch) / 60.0)?;
        Ok(match frame {
            Frame::Teme => teme,
            Frame::Itrf => EarthRotation::at(t).teme_to_ecef(teme),
        })
    }

    /// TEME position at a UTC instant.
    pub fn position_teme_km(&self, t: Epoch) -> Result<DVec3, PropagationError> {
        Ok(self.state_at(t, Frame::Teme)?.position_km)
    }
}

/// Builds satellites from elements, failing on the first set SGP4 cannot initialise.
pub fn satellites_from_elements(
    elements: Vec<Elements>,
) -> Result<Vec<Satellite>, PropagationError> {
    elements.into_iter().map(Satellite::new).collect()
}

/// ECEF positions of all satellites at one instant, in parallel. `out[i]` is satellite `i`.
pub fn positions_ecef_at(
    sats: &[Satellite],
    t: Epoch,
    out: &mut [DVec3],
) -> Result<(), PropagationError> {
    assert_eq!(sats.len(), out.len(), "one output slot per satellite");
    let rot = EarthRotation::at(t);
    out.par_iter_mut()
        .zip(sats.par_iter())
        .with_min_len(64)
        .try_for_each(|(slot, sat)| {
            *slot = rot.teme_to_ecef_position(sat.position_teme_km(t)?);
            Ok(())
        })
}

/// States of all satellites at every instant of a grid, parallel over satellites.
/// Returns `[sat][step]`. The Earth rotation for each step is computed once.
pub fn propagate_grid(
    sats: &[Satellite],
    times: &[Epoch],
    frame: Frame,
) -> Result<Vec<Vec<State>>, PropagationError> {
    let rotations: Vec<EarthRotation> = times.iter().map(|t| EarthRotation::at(*t)).collect();
    sats.par_iter()
        .map(|sat| {
            let mut states = Vec::with_capacity(times.len());
            states_over_grid(sat, times, &rotations, frame, &mut states)?;
            Ok(states)
        })
        .collect()
}

/// Propagates every satellite over a time grid in parallel and hands each satellite's
/// states (one per grid time) to `sink(satellite_idx, states)`, reusing one buffer per
/// worker: memory stays at one row per thread however large the grid.
pub fn for_each_satellite_grid(
    sats: &[Satellite],
    times: &[Epoch],
    frame: Frame,
    sink: impl Fn(usize, &[State]) + Sync,
) -> Result<(), PropagationError> {
    let rotations: Vec<EarthRotation> = times.iter().map(|t| EarthRotation::at(*t)).collect();
    sats.par_iter().enumerate().try_for_each_init(
        || Vec::with_capacity(times.len()),
        |buf: &mut Vec<State>, (idx, sat)| {
            states_over_grid(sat, times, &rotations, frame, buf)?;
            sink(idx, buf);
            Ok(())
        },
    )
}

/// One satellite's states over a grid into `out` (cleared first).
fn states_over_grid(
    sat: &Satellite,
    times: &[Epoch],
    rotations: &[EarthRotation],
    frame: Frame,
    out: &mut Vec<State>,
) -> Result<(), PropagationError> {
    out.clear();
    for (t, rot) in times.iter().zip(rotations) {
        let teme = sat.propagate_minutes(t.seconds_since(sat.elements.epoch) / 60.0)?;
        out.push(match frame {
            Frame::Teme => teme,
            Frame::Itrf => rot.teme_to_ecef(teme),
        });
    }
    Ok(())
}
