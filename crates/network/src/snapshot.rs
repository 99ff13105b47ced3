//! Topology snapshots: every link that exists at one instant, as a sorted link list plus a
//! CSR adjacency, built by a [`SnapshotBuilder`] that reuses its buffers between instants.

use std::ops::Deref;
use std::sync::Arc;

use glam::DVec3;
use rayon::prelude::*;
use tiandi_orbit::{Epoch, Satellite, positions_ecef_at};

use crate::config::{GslStrategy, IslPattern};
use crate::error::NetworkError;
use crate::geometry::{delay_ms, line_of_sight_clear, sin_elevation_if_visible};
use crate::network::Network;

/// The kind of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkKind {
    /// Laser inter-satellite link.
    Isl,
    /// Ground-to-satellite link (ground station or user-terminal region to satellite).
    Gsl,
    /// Terrestrial fibre between data centres and ground stations.
    Fibre,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Isl => "isl",
            LinkKind::Gsl => "gsl",
            LinkKind::Fibre => "fibre",
        }
    }
}

/// One undirected link, `a < b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    pub a: u32,
    pub b: u32,
    pub kind: LinkKind,
    pub distance_km: f64,
    /// One-way propagation delay, ms.
    pub delay_ms: f64,
    pub capacity_bps: f64,
}

/// One entry of the CSR adjacency: the other end, the link, and its delay inline (the
/// routing hot loop reads only this).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Adjacent {
    pub node: u32,
    pub link: u32,
    pub delay_ms: f64,
}

/// The network at one instant. Links are sorted by `(a, b)`; `neighbours(v)` lists the
/// links at `v` in increasing order of the other end.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    time: Option<Epoch>,
    n_satellites: usize,
    n_nodes: usize,
    sat_ecef_km: Vec<DVec3>,
    /// ECEF positions of the ground nodes (fixed), km, node `n_satellites + i` at index `i`.
    ground_ecef_km: Vec<DVec3>,
    links: Vec<Link>,
    offsets: Vec<u32>,
    adjacency: Vec<Adjacent>,
    min_delay_ms: f64,
    max_delay_ms: f64,
}

impl Snapshot {
    /// The instant of this snapshot.
    pub fn time(&self) -> Epoch {
        self.time.expect("a built snapshot has a time")
    }

    pub fn n_satellites(&self) -> usize {
        self.n_satellites
    }

    pub fn n_nodes(&self) -> usize {
        self.n_nodes
    }

    /// ECEF satellite positions used for this snapshot, km, satellite `i` at index `i`.
    pub fn sat_ecef_km(&self) -> &[DVec3] {
        &self.sat_ecef_km
    }

    /// ECEF position of any node at this instant, km.
    pub fn node_ecef_km(&self, node: u32) -> DVec3 {
        let i = node as usize;
        match i.checked_sub(self.n_satellites) {
            None => self.sat_ecef_km[i],
            Some(g) => self.ground_ecef_km[g],
        }
    }

    /// All links, sorted by `(a, b)`.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Shortest and longest link delay, ms (`(inf, -inf)` without links).
    pub fn delay_range_ms(&self) -> (f64, f64) {
        (self.min_delay_ms, self.max_delay_ms)
    }

    pub fn link(&self, idx: u32) -> &Link {
        &self.links[idx as usize]
    }

    /// Every link at `node`, by increasing other end.
    #[inline]
    pub fn neighbours(&self, node: u32) -> &[Adjacent] {
        let (lo, hi) = (
            self.offsets[node as usize] as usize,
            self.offsets[node as usize + 1] as usize,
        );
        &self.adjacency[lo..hi]
    }

    /// The link between two nodes, if any (either order).
    pub fn find_link(&self, x: u32, y: u32) -> Option<&Link> {
        self.link_index(x, y).map(|i| &self.links[i as usize])
    }

    /// The index of the link between `x` and `y` (either order), for [`Self::link`].
    pub fn link_index(&self, x: u32, y: u32) -> Option<u32> {
        let key = (x.min(y), x.max(y));
        self.links
            .binary_search_by(|l| (l.a, l.b).cmp(&key))
            .ok()
            .map(|i| i as u32)
    }
}

/// Scratch of one ground node's GSL choice, kept between snapshots for keep-until-lost.
#[derive(Clone, Debug, Default)]
struct GroundScratch {
    /// (visibility key, higher is better; satellite)
    candidates: Vec<(f64, u32)>,
    chosen: Vec<u32>,
    previous: Vec<u32>,
}

/// Builds snapshots of one network, reusing every buffer. With
/// [`GslStrategy::KeepUntilLost`] it remembers the previous snapshot's GSLs, so feed it
/// instants in time order.
pub struct SnapshotBuilder<'n> {
    net: NetRef<'n>,
    snapshot: Snapshot,
    stations: Vec<GroundScratch>,
    regions: Vec<GroundScratch>,
    terminals_used: Vec<u32>,
    proposals: Vec<(f64, u32, u32)>,
    nearest: Vec<(f64, u32)>,
    fill: Vec<u32>,
}

/// The network a builder works for: borrowed, or shared by a builder that outlives its
/// creator's borrow (the twin owns its builder).
#[derive(Clone)]
enum NetRef<'n> {
    Borrowed(&'n Network),
    Shared(Arc<Network>),
}

impl Deref for NetRef<'_> {
    type Target = Network;
    fn deref(&self) -> &Network {
        match self {
            NetRef::Borrowed(n) => n,
            NetRef::Shared(n) => n,
        }
    }
}

impl SnapshotBuilder<'static> {
    /// A builder that holds its network by a shared pointer.
    pub fn shared(net: Arc<Network>) -> Self {
        Self::with(NetRef::Shared(net))
    }
}

impl<'n> SnapshotBuilder<'n> {
    pub fn new(net: &'n Network) -> Self {
        Self::with(NetRef::Borrowed(net))
    }

    fn with(net: NetRef<'n>) -> Self {
        let n = net.n_satellites();
        SnapshotBuilder {
            snapshot: Snapshot {
                time: None,
                n_satellites: n,
                n_nodes: net.n_nodes(),
                sat_ecef_km: vec![DVec3::ZERO; n],
                ground_ecef_km: (n..net.n_nodes())
                    .map(|id| net.ground_ecef(id as u32))
                    .collect(),
                links: Vec::new(),
                offsets: vec![0; net.n_nodes() + 1],
                adjacency: Vec::new(),
                min_delay_ms: f64::INFINITY,
                max_delay_ms: f64::NEG_INFINITY,
            },
            stations: vec![GroundScratch::default(); net.n_stations()],
            regions: vec![GroundScratch::default(); net.region_caps.len()],
            terminals_used: vec![0; n],
            proposals: Vec::new(),
            nearest: Vec::new(),
            fill: vec![0; net.n_nodes() + 1],
            net,
        }
    }

    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The last snapshot built.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Exchanges the last snapshot built with `other`, which must come from this builder
    /// (the route timeline builds the next snapshot while routing the current one).
    pub(crate) fn swap_snapshot(&mut self, other: &mut Snapshot) {
        assert_eq!(
            (other.n_satellites, other.n_nodes),
            (self.snapshot.n_satellites, self.snapshot.n_nodes),
            "snapshot of another network"
        );
        std::mem::swap(&mut self.snapshot, other);
    }

    /// Propagates `sats` (SGP4, in parallel) to `t` and builds the snapshot.
    pub fn build(&mut self, sats: &[Satellite], t: Epoch) -> Result<&Snapshot, NetworkError> {
        if sats.len() != self.net.n_satellites() {
            return Err(NetworkError::PositionCount {
                expected: self.net.n_satellites(),
                found: sats.len(),
            });
        }
        positions_ecef_at(sats, t, &mut self.snapshot.sat_ecef_km)
            .map_err(|source| NetworkError::Propagation { time: t, source })?;
        self.build_links(t);
        Ok(&self.snapshot)
    }

    /// Builds the snapshot at `t` from given ECEF satellite positions (km).
    pub fn build_from_positions(
        &mut self,
        t: Epoch,
        sat_ecef_km: &[DVec3],
    ) -> Result<&Snapshot, NetworkError> {
        if sat_ecef_km.len() != self.net.n_satellites() {
            return Err(NetworkError::PositionCount {
                expected: self.net.n_satellites(),
                found: sat_ecef_km.len(),
            });
        }
        self.snapshot.sat_ecef_km.copy_from_slice(sat_ecef_km);
        self.build_links(t);
        Ok(&self.snapshot)
    }

    fn build_links(&mut self, t: Epoch) {
        self.snapshot.time = Some(t);
        self.snapshot.links.clear();
        self.build_isls();
        self.build_gsls();
        let caps = self.net.config().capacities;
        self.snapshot
            .links
            .extend(self.net.fibre.iter().map(|f| Link {
                a: f.a,
                b: f.b,
                kind: LinkKind::Fibre,
                distance_km: f.distance_km,
                delay_ms: f.delay_ms,
                capacity_bps: caps.fibre_bps,
            }));
        self.snapshot.links.sort_unstable_by_key(|l| (l.a, l.b));
        debug_assert!(
            self.snapshot
                .links
                .windows(2)
                .all(|w| (w[0].a, w[0].b) < (w[1].a, w[1].b)),
            "links are unique"
        );
        self.build_csr();
    }

    fn build_isls(&mut self) {
        let cfg = &self.net.config().isl;
        let pos = &self.snapshot.sat_ecef_km;
        let links = &mut self.snapshot.links;
        let used = &mut self.terminals_used;
        used.fill(0);
        let full_bps = self.net.config().capacities.isl_bps;
        let capacity_bps = |d: f64| match cfg.full_rate_km {
            Some(r) if d > r => full_bps * (r / d) * (r / d),
            _ => full_bps,
        };
        // sin of the cross-plane latitude limit, and each satellite's plane.
        let polar = cfg
            .cross_plane_max_lat_deg
            .zip(self.net.layout())
            .map(|(lat, layout)| (lat.to_radians().sin(), layout.sats_per_plane));
        let usable = |a: u32, b: u32| -> Option<f64> {
            let (pa, pb) = (pos[a as usize], pos[b as usize]);
            if let Some((sin_max, per_plane)) = polar
                && a / per_plane != b / per_plane
                && (pa.z.abs() > sin_max * pa.length() || pb.z.abs() > sin_max * pb.length())
            {
                return None;
            }
            let d = pa.distance(pb);
            (d <= cfg.max_range_km && line_of_sight_clear(pa, pb, cfg.grazing_altitude_km))
                .then_some(d)
        };
        let mut grant = |a: u32, b: u32, d: f64, links: &mut Vec<Link>| {
            if used[a as usize] < cfg.max_terminals && used[b as usize] < cfg.max_terminals {
                used[a as usize] += 1;
                used[b as usize] += 1;
                links.push(Link {
                    a,
                    b,
                    kind: LinkKind::Isl,
                    distance_km: d,
                    delay_ms: delay_ms(d, 1.0),
                    capacity_bps: capacity_bps(d),
                });
            }
        };
        match cfg.pattern {
            IslPattern::None => {}
            IslPattern::PlusGrid { .. } => {
                for &(a, b) in &self.net.plus_grid_pairs {
                    if let Some(d) = usable(a, b) {
                        grant(a, b, d, links);
                    }
                }
            }
            IslPattern::NearestK { k } => {
                let proposals = &mut self.proposals;
                proposals.clear();
                let nearest = &mut self.nearest;
                let n = pos.len() as u32;
                for a in 0..n {
                    nearest.clear();
                    nearest.extend(
                        (0..n)
                            .filter(|&b| b != a)
                            .filter_map(|b| usable(a, b).map(|d| (d, b))),
                    );
                    let k = (k as usize).min(nearest.len());
                    if k < nearest.len() {
                        nearest.select_nth_unstable_by(k, |x, y| {
                            x.0.total_cmp(&y.0).then(x.1.cmp(&y.1))
                        });
                    }
                    proposals.extend(nearest[..k].iter().map(|&(d, b)| (d, a.min(b), a.max(b))));
                }
                proposals
                    .sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then((x.1, x.2).cmp(&(y.1, y.2))));
                proposals.dedup_by_key(|p| (p.1, p.2));
                for &(d, a, b) in proposals.iter() {
                    grant(a, b, d, links);
                }
            }
        }
    }

    fn build_gsls(&mut self) {
        let net = self.net.clone();
        let net: &Network = &net;
        let gsl = &net.config().gsl;
        let caps = net.config().capacities;
        let pos = &self.snapshot.sat_ecef_km;
        let strategy = gsl.strategy;
        self.stations
            .par_iter_mut()
            .zip(net.station_views.par_iter())
            .for_each(|(scratch, view)| {
                scratch.candidates.clear();
                for (i, &p) in pos.iter().enumerate() {
                    let rho = p - view.ecef_km;
                    if rho.length_squared() > view.max_range2_km2 {
                        continue; // beyond the range rule (never, without one)
                    }
                    if let Some(s) = sin_elevation_if_visible(rho, view.up, view.sin_min_elevation)
                    {
                        scratch.candidates.push((s, i as u32));
                    }
                }
                choose(scratch, view.antennas, strategy);
            });
        for (scratch, &(cap, min_el_rad, max_links, _)) in
            self.regions.iter_mut().zip(&net.region_caps)
        {
            scratch.candidates.clear();
            for (i, &p) in pos.iter().enumerate() {
                if let Some(angle) = cap.sees(p, min_el_rad) {
                    // Smaller central angle first: closest to the region's centre.
                    scratch.candidates.push((-angle, i as u32));
                }
            }
            choose(scratch, max_links, strategy);
        }
        let links = &mut self.snapshot.links;
        let first_station = net.first_station() as u32;
        for (g, (scratch, view)) in self.stations.iter().zip(&net.station_views).enumerate() {
            for &s in &scratch.chosen {
                let d = pos[s as usize].distance(view.ecef_km);
                links.push(Link {
                    a: s,
                    b: first_station + g as u32,
                    kind: LinkKind::Gsl,
                    distance_km: d,
                    delay_ms: delay_ms(d, 1.0),
                    capacity_bps: caps.gsl_bps,
                });
            }
        }
        let first_region = net.first_user_terminal() as u32;
        for (r, (scratch, (cap, _, _, rate_bps))) in
            self.regions.iter().zip(&net.region_caps).enumerate()
        {
            for &s in &scratch.chosen {
                let d = pos[s as usize].distance(cap.centre_ecef_km);
                links.push(Link {
                    a: s,
                    b: first_region + r as u32,
                    kind: LinkKind::Gsl,
                    distance_km: d,
                    delay_ms: delay_ms(d, 1.0),
                    capacity_bps: *rate_bps,
                });
            }
        }
    }

    fn build_csr(&mut self) {
        let snap = &mut self.snapshot;
        let n = snap.n_nodes;
        snap.offsets.clear();
        snap.offsets.resize(n + 1, 0);
        for l in &snap.links {
            snap.offsets[l.a as usize + 1] += 1;
            snap.offsets[l.b as usize + 1] += 1;
        }
        for i in 0..n {
            snap.offsets[i + 1] += snap.offsets[i];
        }
        (snap.min_delay_ms, snap.max_delay_ms) = snap
            .links
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| {
                (lo.min(l.delay_ms), hi.max(l.delay_ms))
            });
        let fill = &mut self.fill;
        fill.copy_from_slice(&snap.offsets);
        snap.adjacency.clear();
        snap.adjacency
            .resize(2 * snap.links.len(), Adjacent::default());
        // Links are sorted by (a, b): filling in link order lists each node's neighbours in
        // increasing order (all smaller ends come before all larger ends).
        for (i, l) in snap.links.iter().enumerate() {
            let i = i as u32;
            let fa = &mut fill[l.a as usize];
            snap.adjacency[*fa as usize] = Adjacent {
                node: l.b,
                link: i,
                delay_ms: l.delay_ms,
            };
            *fa += 1;
            let fb = &mut fill[l.b as usize];
            snap.adjacency[*fb as usize] = Adjacent {
                node: l.a,
                link: i,
                delay_ms: l.delay_ms,
            };
            *fb += 1;
        }
    }
}

/// Picks at most `limit` satellites from the candidates by the strategy; `chosen` ends up
/// sorted by satellite id, and becomes `previous` for the next snapshot.
fn choose(scratch: &mut GroundScratch, limit: u32, strategy: GslStrategy) {
    let GroundScratch {
        candidates,
        chosen,
        previous,
    } = scratch;
    chosen.clear();
    let limit = limit as usize;
    if candidates.len() <= limit {
        chosen.extend(candidates.iter().map(|c| c.1));
    } else {
        if strategy == GslStrategy::KeepUntilLost {
            // Candidates are in satellite order and `previous` is sorted: merge-intersect.
            let mut j = 0;
            for c in candidates.iter() {
                while j < previous.len() && previous[j] < c.1 {
                    j += 1;
                }
                if j < previous.len() && previous[j] == c.1 && chosen.len() < limit {
                    chosen.push(c.1);
                }
            }
            candidates.retain(|c| chosen.binary_search(&c.1).is_err());
        }
        candidates.sort_unstable_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        let room = limit - chosen.len();
        chosen.extend(candidates.iter().take(room).map(|c| c.1));
        chosen.sort_unstable();
    }
    previous.clear();
    previous.extend_from_slice(chosen);
}
