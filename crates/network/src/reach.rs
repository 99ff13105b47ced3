//! Latency circles: for points on the ground, the best one-way delay to compute (data
//! centres, satellites or both) at each snapshot of a horizon, and per point the share of
//! time within a threshold and the median delay (`tiandi reach`).
//!
//! A point reaches the network in two ways (docs/reach.md):
//! - by terrestrial fibre to the nearest ground station or data centre, at the network's
//!   fibre delay factor, when the point has fibre access (the caller decides which do), or
//!   by fibre straight to the nearest data centre that is compute;
//! - by a user terminal at the point to any satellite it sees at or above its mask.
//!
//! From there the delay to the nearest compute node is the gateway tree's (multi-root
//! Dijkstra from every compute node, ground stations only passing traffic between fibre and
//! the space segment). Faults, outages, link acquisition and queues are not part of it:
//! this is the geometry's best case, the floor an operator's latency promise stands on.

use glam::DVec3;
use rayon::prelude::*;
use tiandi_orbit::{Geodetic, Satellite, geodetic_to_ecef};

use crate::error::NetworkError;
use crate::gateway::GatewayTree;
use crate::geometry::{delay_ms, great_circle_km, sin_elevation_if_visible};
use crate::network::Network;
use crate::node::{NodeId, NodeKind};
use crate::snapshot::SnapshotBuilder;
use crate::timeline::Horizon;

/// Which nodes count as compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComputeSet {
    DataCentres,
    Satellites,
    All,
}

impl ComputeSet {
    fn includes(self, kind: NodeKind) -> bool {
        match self {
            ComputeSet::DataCentres => kind == NodeKind::DataCentre,
            ComputeSet::Satellites => kind == NodeKind::Satellite,
            ComputeSet::All => matches!(kind, NodeKind::DataCentre | NodeKind::Satellite),
        }
    }
}

/// A point of the grid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReachPoint {
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    /// Whether the point has terrestrial fibre to the nearest ground node.
    pub fibre: bool,
}

/// What a reach computation needs besides the network and the points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReachOptions {
    pub compute: ComputeSet,
    /// A user terminal at the point sees satellites at or above this elevation, degrees.
    pub terminal_min_elevation_deg: f64,
}

/// A point reduced to what each snapshot needs.
#[derive(Clone, Copy, Debug)]
struct PointGeometry {
    ecef_km: DVec3,
    up: DVec3,
    /// Nearest ground station or data centre and the fibre delay to it, ms, when the point
    /// has fibre and the network has a ground node.
    fibre: Option<(u32, f64)>,
    /// Fibre delay straight to the nearest compute data centre, ms (infinite without fibre
    /// or when data centres are not compute).
    direct_ms: f64,
}

/// The best delay of every point at every snapshot.
#[derive(Clone, Debug)]
pub struct ReachTable {
    n_points: usize,
    n_steps: usize,
    /// Step-major: `delays_ms[k * n_points + p]`; infinite where no compute is reached.
    delays_ms: Vec<f32>,
}

impl ReachTable {
    pub fn n_points(&self) -> usize {
        self.n_points
    }

    pub fn n_steps(&self) -> usize {
        self.n_steps
    }

    /// Best one-way delay of point `p` at snapshot `k`, ms (infinite when unreachable).
    pub fn delay_ms(&self, p: usize, k: usize) -> f64 {
        f64::from(self.delays_ms[k * self.n_points + p])
    }

    /// The delays of point `p` over the horizon, in snapshot order.
    pub fn delays_of(&self, p: usize) -> impl Iterator<Item = f64> + '_ {
        (0..self.n_steps).map(move |k| self.delay_ms(p, k))
    }

    /// Share of snapshots at which point `p` reaches compute within `threshold_ms`, with
    /// every delay multiplied by `factor` (2 for round trips).
    pub fn share_within(&self, p: usize, threshold_ms: f64, factor: f64) -> f64 {
        if self.n_steps == 0 {
            return 0.0;
        }
        let n = self
            .delays_of(p)
            .filter(|d| d * factor <= threshold_ms)
            .count();
        n as f64 / self.n_steps as f64
    }

    /// Median of point `p`'s delays (nearest rank: the `ceil(n/2)`-th smallest), times
    /// `factor`; `None` when at least half the snapshots reach no compute.
    pub fn median_ms(&self, p: usize, factor: f64) -> Option<f64> {
        let mut d: Vec<f64> = self.delays_of(p).collect();
        if d.is_empty() {
            return None;
        }
        d.sort_by(f64::total_cmp);
        let m = d[d.len().div_ceil(2) - 1] * factor;
        m.is_finite().then_some(m)
    }
}

/// Great-circle distance from a point to the nearest node of the given kinds, km
/// (`None` when the network has none): the fibre attachment and the tests' bounds.
pub fn nearest_ground_km(net: &Network, point: DVec3, kinds: &[NodeKind]) -> Option<(u32, f64)> {
    (net.first_station()..net.n_nodes())
        .map(|v| v as u32)
        .filter(|&v| kinds.contains(&net.kind(NodeId(v))))
        .map(|v| (v, great_circle_km(point, net.ground_ecef(v))))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// ECEF position (km) of a point at zero height and its local vertical.
pub fn point_ecef(latitude_deg: f64, longitude_deg: f64) -> (DVec3, DVec3) {
    let ecef = geodetic_to_ecef(Geodetic {
        latitude_deg,
        longitude_deg,
        altitude_km: 0.0,
    });
    let (sl, cl) = latitude_deg.to_radians().sin_cos();
    let (so, co) = longitude_deg.to_radians().sin_cos();
    (ecef, DVec3::new(cl * co, cl * so, sl))
}

/// The best delay from every point to compute at every snapshot of `horizon`; `tick` is
/// called once per snapshot (progress).
pub fn reach(
    net: &Network,
    sats: &[Satellite],
    horizon: Horizon,
    points: &[ReachPoint],
    options: ReachOptions,
    tick: &mut dyn FnMut(),
) -> Result<ReachTable, NetworkError> {
    let factor = net.config().fibre_delay_factor;
    let geometry: Vec<PointGeometry> = points
        .iter()
        .map(|p| {
            let (ecef_km, up) = point_ecef(p.latitude_deg, p.longitude_deg);
            let fibre = if p.fibre {
                nearest_ground_km(
                    net,
                    ecef_km,
                    &[NodeKind::GroundStation, NodeKind::DataCentre],
                )
                .map(|(v, km)| (v, delay_ms(km, factor)))
            } else {
                None
            };
            let direct_ms = if p.fibre && options.compute.includes(NodeKind::DataCentre) {
                nearest_ground_km(net, ecef_km, &[NodeKind::DataCentre])
                    .map_or(f64::INFINITY, |(_, km)| delay_ms(km, factor))
            } else {
                f64::INFINITY
            };
            PointGeometry {
                ecef_km,
                up,
                fibre,
                direct_ms,
            }
        })
        .collect();
    let kinds: Vec<NodeKind> = (0..net.n_nodes() as u32)
        .map(|v| net.kind(NodeId(v)))
        .collect();
    let roots: Vec<(u32, f64)> = (0..kinds.len() as u32)
        .filter(|&v| options.compute.includes(kinds[v as usize]))
        .map(|v| (v, 0.0))
        .collect();
    let is_ground = |v: u32| kinds[v as usize].is_ground();
    let sin_min = options.terminal_min_elevation_deg.to_radians().sin();
    let n_points = points.len();
    let n_steps = horizon.n_steps();
    let mut delays_ms = vec![f32::INFINITY; n_points * n_steps];
    let mut builder = SnapshotBuilder::new(net);
    let mut tree = GatewayTree::default();
    for (k, column) in delays_ms.chunks_mut(n_points.max(1)).enumerate() {
        let snap = builder.build(sats, horizon.at(k))?;
        tree.build(snap, &roots, &is_ground, &[]);
        let dist = &tree.dist_ms;
        let sat_ecef = snap.sat_ecef_km();
        column
            .par_iter_mut()
            .zip(geometry.par_iter())
            .with_min_len(64)
            .for_each(|(out, g)| {
                let mut best = g
                    .fibre
                    .map_or(f64::INFINITY, |(v, ms)| ms + dist[v as usize])
                    .min(g.direct_ms);
                for (s, &pos) in sat_ecef.iter().enumerate() {
                    let onward = dist[s];
                    if !onward.is_finite() || onward >= best {
                        continue;
                    }
                    let rho = pos - g.ecef_km;
                    if sin_elevation_if_visible(rho, g.up, sin_min).is_some() {
                        best = best.min(delay_ms(rho.length(), 1.0) + onward);
                    }
                }
                *out = best as f32;
            });
        tick();
    }
    Ok(ReachTable {
        n_points,
        n_steps,
        delays_ms,
    })
}
