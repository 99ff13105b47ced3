//! Contact windows between satellites and ground stations, and eclipse intervals.
//!
//! Both run the same way: sample a smooth margin function on a coarse grid shared by all
//! satellites (one SGP4 call per satellite per step), then refine every crossing and every
//! near-miss peak to `REFINE_TOL_NS` with fresh propagations. Parallel over satellites.

use glam::DVec3;
use rayon::prelude::*;

use crate::frames::EarthRotation;
use crate::ground::GroundStation;
use crate::propagate::{PropagationError, Satellite};
use crate::search::{Interval, golden_max, grid, positive_intervals};
use crate::sun::{Shadow, ShadowGeometry, sun_position_km};
use crate::time::Epoch;

/// Crossings are refined to 1 ms (the issue asks for 10 ms; outputs print milliseconds).
pub const REFINE_TOL_NS: i64 = 1_000_000;
/// Coarse grid step. A 30 s step is far below any LEO pass (minutes) and eclipse (tens of
/// minutes); passes that only graze the mask between samples are caught by peak refinement.
pub const COARSE_STEP_NS: i64 = 30_000_000_000;

/// One pass of a satellite over a station above the elevation mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Contact {
    pub satellite_idx: usize,
    pub station_idx: usize,
    pub aos: Epoch,
    pub los: Epoch,
    pub max_elevation_deg: f64,
    pub max_elevation_at: Epoch,
}

/// A bad request for contact windows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContactError {
    #[error("end {end} is not after start {start}")]
    EmptyWindow { start: Epoch, end: Epoch },
    #[error("minimum elevation {0} deg is outside [-90, 90]")]
    BadElevation(f64),
    #[error(transparent)]
    Propagation(#[from] PropagationError),
}

fn check_window(start: Epoch, end: Epoch) -> Result<(), ContactError> {
    if end <= start {
        Err(ContactError::EmptyWindow { start, end })
    } else {
        Ok(())
    }
}

/// ECEF position of a satellite at `t`.
fn ecef(sat: &Satellite, t: Epoch) -> Result<DVec3, PropagationError> {
    Ok(EarthRotation::at(t).teme_to_ecef_position(sat.position_teme_km(t)?))
}

/// All passes of all satellites over all stations in `[start, end]` above
/// `min_elevation_deg`, sorted by AOS, then satellite index, then station index. Passes in
/// progress at either end are clipped to the window. `on_satellite_done` is called once per
/// satellite (for progress reporting; may be called from several threads).
pub fn find_contacts(
    sats: &[Satellite],
    stations: &[GroundStation],
    start: Epoch,
    end: Epoch,
    min_elevation_deg: f64,
    on_satellite_done: &(dyn Fn() + Sync),
) -> Result<Vec<Contact>, ContactError> {
    check_window(start, end)?;
    if !(-90.0..=90.0).contains(&min_elevation_deg) || !min_elevation_deg.is_finite() {
        return Err(ContactError::BadElevation(min_elevation_deg));
    }
    let times = grid(start, end, COARSE_STEP_NS);
    let rotations: Vec<EarthRotation> = times.iter().map(|t| EarthRotation::at(*t)).collect();
    let per_sat: Vec<Vec<Contact>> = sats
        .par_iter()
        .enumerate()
        .map(|(sat_idx, sat)| {
            let positions = times
                .iter()
                .zip(&rotations)
                .map(|(t, rot)| Ok(rot.teme_to_ecef_position(sat.position_teme_km(*t)?)))
                .collect::<Result<Vec<DVec3>, PropagationError>>()?;
            let mut contacts = Vec::new();
            let mut samples = vec![0.0; times.len()];
            for (station_idx, gs) in stations.iter().enumerate() {
                for (s, p) in samples.iter_mut().zip(&positions) {
                    *s = gs.elevation_deg(*p) - min_elevation_deg;
                }
                // A propagation failure inside refinement surfaces as "no visibility" there;
                // the grid pass above has already proved the satellite propagates over the
                // whole window, so this cannot hide a decayed orbit.
                let margin = |t: Epoch| {
                    ecef(sat, t).map_or(f64::NEG_INFINITY, |p| {
                        gs.elevation_deg(p) - min_elevation_deg
                    })
                };
                for Interval {
                    start: aos,
                    end: los,
                } in positive_intervals(&times, &samples, margin, REFINE_TOL_NS)
                {
                    let (max_at, max_margin) = golden_max(margin, aos, los, REFINE_TOL_NS);
                    contacts.push(Contact {
                        satellite_idx: sat_idx,
                        station_idx,
                        aos,
                        los,
                        max_elevation_deg: max_margin + min_elevation_deg,
                        max_elevation_at: max_at,
                    });
                }
            }
            on_satellite_done();
            Ok(contacts)
        })
        .collect::<Result<_, PropagationError>>()?;
    let mut all: Vec<Contact> = per_sat.into_iter().flatten().collect();
    all.sort_by_key(|c| (c.aos, c.satellite_idx, c.station_idx));
    Ok(all)
}

/// One stretch of umbra or penumbra.
#[derive(Clone, Debug, PartialEq)]
pub struct EclipseInterval {
    pub satellite_idx: usize,
    /// `Shadow::Umbra` or `Shadow::Penumbra`; a penumbra interval never contains umbra.
    pub kind: Shadow,
    pub start: Epoch,
    pub end: Epoch,
}

/// Umbra and penumbra intervals of every satellite in `[start, end]`, sorted by start,
/// then satellite index. An eclipse normally gives penumbra, umbra, penumbra in turn.
pub fn find_eclipses(
    sats: &[Satellite],
    start: Epoch,
    end: Epoch,
    on_satellite_done: &(dyn Fn() + Sync),
) -> Result<Vec<EclipseInterval>, ContactError> {
    check_window(start, end)?;
    let times = grid(start, end, COARSE_STEP_NS);
    let suns: Vec<DVec3> = times.iter().map(|t| sun_position_km(*t)).collect();
    let per_sat: Vec<Vec<EclipseInterval>> = sats
        .par_iter()
        .enumerate()
        .map(|(satellite_idx, sat)| {
            let geometry = times
                .iter()
                .zip(&suns)
                .map(|(t, sun)| Ok(ShadowGeometry::new(sat.position_teme_km(*t)?, *sun)))
                .collect::<Result<Vec<ShadowGeometry>, PropagationError>>()?;
            let at = |t: Epoch| {
                sat.position_teme_km(t)
                    .map(|r| ShadowGeometry::new(r, sun_position_km(t)))
            };
            // "Inside" margins: positive in umbra, positive when any of the Sun is hidden.
            let umbra_samples: Vec<f64> = geometry.iter().map(|g| -g.umbra_margin_rad()).collect();
            let shadow_samples: Vec<f64> =
                geometry.iter().map(|g| -g.penumbra_margin_rad()).collect();
            let umbra = positive_intervals(
                &times,
                &umbra_samples,
                |t| at(t).map_or(f64::NEG_INFINITY, |g| -g.umbra_margin_rad()),
                REFINE_TOL_NS,
            );
            let shadow = positive_intervals(
                &times,
                &shadow_samples,
                |t| at(t).map_or(f64::NEG_INFINITY, |g| -g.penumbra_margin_rad()),
                REFINE_TOL_NS,
            );
            on_satellite_done();
            Ok(split_penumbra(satellite_idx, &shadow, &umbra))
        })
        .collect::<Result<_, PropagationError>>()?;
    let mut all: Vec<EclipseInterval> = per_sat.into_iter().flatten().collect();
    all.sort_by_key(|e| (e.start, e.satellite_idx, e.kind));
    Ok(all)
}

/// Penumbra = shadow minus umbra; both lists sorted and each umbra inside a shadow interval.
fn split_penumbra(
    satellite_idx: usize,
    shadow: &[Interval],
    umbra: &[Interval],
) -> Vec<EclipseInterval> {
    let mut out = Vec::new();
    let mut umbra_iter = umbra.iter().peekable();
    for s in shadow {
        let mut cursor = s.start;
        while let Some(u) = umbra_iter.next_if(|u| u.start <= s.end) {
            if u.start > cursor {
                out.push(EclipseInterval {
                    satellite_idx,
                    kind: Shadow::Penumbra,
                    start: cursor,
                    end: u.start,
                });
            }
            out.push(EclipseInterval {
                satellite_idx,
                kind: Shadow::Umbra,
                start: u.start,
                end: u.end,
            });
            cursor = cursor.max(u.end);
        }
        if cursor < s.end {
            out.push(EclipseInterval {
                satellite_idx,
                kind: Shadow::Penumbra,
                start: cursor,
                end: s.end,
            });
        }
    }
    // Umbra outside any shadow interval cannot happen geometrically (umbra margin < 0 implies
    // penumbra margin < 0), but refinement to 1 ms could in principle order them oddly.
    for u in umbra_iter {
        out.push(EclipseInterval {
            satellite_idx,
            kind: Shadow::Umbra,
            start: u.start,
            end: u.end,
        });
    }
    out
}
