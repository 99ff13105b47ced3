//! The twin's look-ahead: every satellite's predicted shadow intervals and every point
//! user terminal's contact windows with the satellites, over a rolling window, for the
//! scheduler's contact-plan and eclipse questions.
//!
//! Windows come from the orbit crate's window search (SGP4, the same geometry as the
//! snapshots; contacts at each terminal's elevation mask). A snapshot also applies antenna
//! counts and range limits, so a predicted contact is a satellite in view, not a promise of
//! a free antenna. Only user terminals at a point are followed: they have no fibre, so when
//! no satellite is in view their data has nowhere to go. Ground stations reach the data
//! centres by fibre (in a full fibre mesh; a listed fibre plan can leave one without,
//! and it is not followed either), region-shaped terminals are not points, and following
//! every station of a large ground segment costs more than the run (100 stations and
//! 1,584 satellites: ~40 s a simulated day).

use tiandi_network::{NetworkSpec, RegionShape};
use tiandi_orbit::{ContactError, Epoch, GroundStation, Satellite, find_contacts, find_eclipses};

/// How far ahead the plan looks, s, and when it is extended: once less than
/// [`PLAN_KEEP_S`] of it is left.
pub const PLAN_WINDOW_S: f64 = 3.0 * 3_600.0;
const PLAN_KEEP_S: f64 = 1.5 * 3_600.0;

/// A ground node the plan follows: its node id, site and elevation mask.
#[derive(Clone, Debug)]
struct Site {
    node: u32,
    site: GroundStation,
    min_elevation_deg: f64,
}

/// Predicted windows, per satellite and per followed ground node.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plans {
    sites: Vec<Site>,
    /// End of the window computed, ns (`i64::MIN` before the first).
    until_ns: i64,
    /// Per satellite: (start, end) of each stretch in umbra or penumbra, sorted.
    shadows: Vec<Vec<(i64, i64)>>,
    /// Per node (empty for nodes not followed): (aos, los, satellite), sorted by aos.
    contacts: Vec<Vec<(i64, i64, u32)>>,
}

impl Plans {
    pub fn new(spec: &NetworkSpec, n_nodes: usize) -> Self {
        let n_sats = spec.n_satellites;
        let default_mask = spec.links.gsl.min_elevation_deg;
        let mut sites = Vec::new();
        let first_user = n_sats + spec.stations.len() + spec.data_centres.len();
        for (i, ut) in spec.user_terminals.iter().enumerate() {
            if let RegionShape::Circle {
                latitude_deg,
                longitude_deg,
                radius_km,
            } = ut.shape
                && radius_km == 0.0
                && let Ok(site) = GroundStation::new(&ut.name, latitude_deg, longitude_deg, 0.0)
            {
                sites.push(Site {
                    node: (first_user + i) as u32,
                    site,
                    min_elevation_deg: ut.min_elevation_deg.unwrap_or(default_mask),
                });
            }
        }
        Plans {
            sites,
            until_ns: i64::MIN,
            shadows: vec![Vec::new(); n_sats],
            contacts: vec![Vec::new(); n_nodes],
        }
    }

    /// Makes the plan cover at least [`PLAN_KEEP_S`] beyond `now_ns`, recomputing a
    /// [`PLAN_WINDOW_S`] window from `now_ns` when it does not.
    pub fn cover(&mut self, sats: &[Satellite], now_ns: i64) -> Result<(), ContactError> {
        let keep_ns = (PLAN_KEEP_S * 1e9) as i64;
        if self.until_ns != i64::MIN && now_ns + keep_ns <= self.until_ns {
            return Ok(());
        }
        let start = Epoch::from_unix_ns(now_ns);
        let end = Epoch::from_unix_ns(now_ns + (PLAN_WINDOW_S * 1e9) as i64);
        for s in &mut self.shadows {
            s.clear();
        }
        // A satellite that does not propagate over the whole window (decaying) leaves the
        // plan empty for it: no prediction, not an error for a run that may end first.
        if !sats.is_empty()
            && let Ok(found) = find_eclipses(sats, start, end, &|| {})
        {
            for e in found {
                let s = &mut self.shadows[e.satellite_idx];
                let (a, b) = (e.start.unix_ns(), e.end.unix_ns());
                // Penumbra, umbra, penumbra in turn: one stretch of shadow.
                match s.last_mut() {
                    Some(last) if a <= last.1 => last.1 = last.1.max(b),
                    _ => s.push((a, b)),
                }
            }
            for s in &mut self.shadows {
                s.sort_unstable();
            }
        }
        for site in &self.sites {
            self.contacts[site.node as usize].clear();
        }
        // One search per elevation mask: each propagates every satellite over the window.
        let mut masks: Vec<f64> = self.sites.iter().map(|s| s.min_elevation_deg).collect();
        masks.sort_by(f64::total_cmp);
        masks.dedup();
        for mask in masks {
            if sats.is_empty() {
                break;
            }
            let group: Vec<&Site> = self
                .sites
                .iter()
                .filter(|s| s.min_elevation_deg == mask)
                .collect();
            let stations: Vec<GroundStation> = group.iter().map(|s| s.site.clone()).collect();
            let Ok(found) = find_contacts(sats, &stations, start, end, mask, &|| {}) else {
                continue;
            };
            for c in found {
                self.contacts[group[c.station_idx].node as usize].push((
                    c.aos.unix_ns(),
                    c.los.unix_ns(),
                    c.satellite_idx as u32,
                ));
            }
        }
        for site in &self.sites {
            self.contacts[site.node as usize].sort_unstable();
        }
        self.until_ns = end.unix_ns();
        Ok(())
    }

    /// The shadow satellite `sat` is in or enters next: seconds until it starts (0 when
    /// under way) and until it ends; both infinite when none is predicted in the window.
    pub fn shadow_times(&self, sat: u32, now_ns: i64) -> (f64, f64) {
        let s = |ns: i64| (ns - now_ns).max(0) as f64 / 1e9;
        let none = (f64::INFINITY, f64::INFINITY);
        let Some(list) = self.shadows.get(sat as usize) else {
            return none;
        };
        match list.iter().find(|&&(_, b)| b > now_ns) {
            Some(&(a, b)) => (s(a), s(b)),
            None => none,
        }
    }

    /// Whether node `v` is followed by the plan.
    pub fn follows(&self, v: u32) -> bool {
        self.sites.iter().any(|s| s.node == v)
    }

    /// The earliest contact of ground node `v` under way or starting after `now_ns`:
    /// (seconds until it starts, satellite). Among contacts under way, the one lasting
    /// longest.
    pub fn next_contact(&self, v: u32, now_ns: i64) -> Option<(f64, u32)> {
        let list = self.contacts.get(v as usize)?;
        let under_way = list
            .iter()
            .filter(|c| c.0 <= now_ns && c.1 > now_ns)
            .max_by_key(|c| (c.1, std::cmp::Reverse(c.2)));
        if let Some(c) = under_way {
            return Some((0.0, c.2));
        }
        list.iter()
            .filter(|c| c.0 > now_ns)
            .min_by_key(|c| (c.0, c.2))
            .map(|c| ((c.0 - now_ns) as f64 / 1e9, c.2))
    }

    /// Seconds until the last contact under way at `now_ns` ends (0 with none).
    pub fn contact_left_s(&self, v: u32, now_ns: i64) -> f64 {
        self.contacts
            .get(v as usize)
            .and_then(|list| {
                list.iter()
                    .filter(|c| c.0 <= now_ns && c.1 > now_ns)
                    .map(|c| c.1)
                    .max()
            })
            .map_or(0.0, |end| (end - now_ns) as f64 / 1e9)
    }
}
