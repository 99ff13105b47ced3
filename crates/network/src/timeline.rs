//! Over a horizon: snapshots at a fixed step, the contact plan (link up/down events) and
//! the route timeline with its statistics (delay percentiles, reachability, path churn).

use tiandi_orbit::{Epoch, Satellite};

use crate::error::NetworkError;
use crate::network::Network;
use crate::routing::{RouteTable, RoutingMode};
use crate::snapshot::{LinkKind, Snapshot, SnapshotBuilder};

/// Upper bound on the number of snapshots of one horizon (a day at 10 ms).
pub const MAX_SNAPSHOTS: u64 = 8_640_000;

/// Instants `start + k * step` for `k` in `0..n_steps`, covering `[start, start + duration)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Horizon {
    start: Epoch,
    step_ns: i64,
    n_steps: usize,
}

impl Horizon {
    /// A horizon of `duration_ns` at `step_ns`: `ceil(duration / step)` snapshots, the first
    /// at `start` (200 s at 100 ms is 2,000 snapshots, t = 0 .. 199.9 s, as Hypatia does).
    pub fn new(start: Epoch, duration_ns: i64, step_ns: i64) -> Result<Self, NetworkError> {
        if step_ns <= 0 {
            return Err(NetworkError::BadHorizon {
                reason: format!("step {step_ns} ns must be positive"),
            });
        }
        if duration_ns <= 0 {
            return Err(NetworkError::BadHorizon {
                reason: format!("duration {duration_ns} ns must be positive"),
            });
        }
        let n = (duration_ns as u64).div_ceil(step_ns as u64);
        if n > MAX_SNAPSHOTS {
            return Err(NetworkError::BadHorizon {
                reason: format!("{n} snapshots is more than the limit of {MAX_SNAPSHOTS}"),
            });
        }
        Ok(Horizon {
            start,
            step_ns,
            n_steps: n as usize,
        })
    }

    pub fn start(&self) -> Epoch {
        self.start
    }

    pub fn step_ns(&self) -> i64 {
        self.step_ns
    }

    pub fn n_steps(&self) -> usize {
        self.n_steps
    }

    /// The instant of snapshot `k`.
    pub fn at(&self, k: usize) -> Epoch {
        assert!(k < self.n_steps, "snapshot {k} beyond the horizon");
        self.start.add_ns(k as i64 * self.step_ns)
    }
}

/// A link coming up or going down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContactEvent {
    pub time: Epoch,
    pub a: u32,
    pub b: u32,
    pub kind: LinkKind,
    /// `true` when the link appears at `time`, `false` when it is gone at `time`.
    pub up: bool,
}

/// Link up/down events over a horizon, sampled at its step: every link present in the
/// first snapshot is "up" at the start; links still up at the end have no "down" event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactPlan {
    pub events: Vec<ContactEvent>,
}

/// Appends the differences between two sorted link sets to `out`.
pub fn diff_links(
    prev: &[(u32, u32, LinkKind)],
    cur: &[(u32, u32, LinkKind)],
    time: Epoch,
    out: &mut Vec<ContactEvent>,
) {
    let (mut i, mut j) = (0, 0);
    while i < prev.len() || j < cur.len() {
        let p = prev.get(i).map(|l| (l.0, l.1));
        let c = cur.get(j).map(|l| (l.0, l.1));
        match (p, c) {
            (Some(pk), Some(ck)) if pk == ck => {
                i += 1;
                j += 1;
            }
            (Some(pk), Some(ck)) if pk < ck => {
                out.push(ContactEvent {
                    time,
                    a: pk.0,
                    b: pk.1,
                    kind: prev[i].2,
                    up: false,
                });
                i += 1;
            }
            (Some(pk), None) => {
                out.push(ContactEvent {
                    time,
                    a: pk.0,
                    b: pk.1,
                    kind: prev[i].2,
                    up: false,
                });
                i += 1;
            }
            (_, Some(ck)) => {
                out.push(ContactEvent {
                    time,
                    a: ck.0,
                    b: ck.1,
                    kind: cur[j].2,
                    up: true,
                });
                j += 1;
            }
            (None, None) => unreachable!("loop condition"),
        }
    }
}

/// The contact plan of a network over a horizon (events in time order, then by link).
pub fn contact_plan(
    sats: &[Satellite],
    net: &Network,
    horizon: Horizon,
) -> Result<ContactPlan, NetworkError> {
    let mut builder = SnapshotBuilder::new(net);
    let mut plan = ContactPlan::default();
    let mut prev: Vec<(u32, u32, LinkKind)> = Vec::new();
    let mut cur = Vec::new();
    for k in 0..horizon.n_steps() {
        let t = horizon.at(k);
        let snap = builder.build(sats, t)?;
        cur.clear();
        cur.extend(snap.links().iter().map(|l| (l.a, l.b, l.kind)));
        diff_links(&prev, &cur, t, &mut plan.events);
        std::mem::swap(&mut prev, &mut cur);
    }
    Ok(plan)
}

/// Histogram bin width for delay percentiles, ms: 1 microsecond.
pub const DELAY_BIN_MS: f64 = 0.001;
/// Delays up to this are binned; longer ones are kept exactly (none in LEO networks).
const MAX_BINNED_MS: f64 = 2_000.0;

/// Running statistics of routes over snapshots.
#[derive(Clone, Debug, Default)]
pub struct RouteStats {
    n_snapshots: u64,
    n_pairs: u64,
    n_routes: u64,
    sum_delay_ms: f64,
    sum_hops: u64,
    min_delay_ms: f64,
    max_delay_ms: f64,
    bins: Vec<u64>,
    overflow_ms: Vec<f64>,
    unreachable_pair_snapshots: u64,
    ever_reached: Vec<bool>,
    path_changes: u64,
    step_ns: i64,
}

/// Summary of a route timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteSummary {
    pub n_snapshots: u64,
    /// Ordered endpoint pairs per snapshot.
    pub n_pairs: u64,
    /// Routes found over all snapshots.
    pub n_routes: u64,
    pub mean_delay_ms: f64,
    /// Nearest-rank percentiles, to the centre of a 1 us bin ([`DELAY_BIN_MS`]).
    pub p50_delay_ms: f64,
    pub p99_delay_ms: f64,
    pub min_delay_ms: f64,
    pub max_delay_ms: f64,
    pub mean_hops: f64,
    /// (pair, snapshot) combinations without a route.
    pub unreachable_pair_snapshots: u64,
    /// Pairs with no route in any snapshot.
    pub pairs_never_reachable: u64,
    /// Times a pair's path (or reachability) differed from the previous snapshot's.
    pub path_changes: u64,
    /// `path_changes / n_pairs / hours`, hours being the time between the first and last snapshot.
    pub path_changes_per_pair_per_hour: f64,
}

impl RouteStats {
    fn new(n_pairs: usize, step_ns: i64) -> Self {
        RouteStats {
            n_pairs: n_pairs as u64,
            min_delay_ms: f64::INFINITY,
            max_delay_ms: f64::NEG_INFINITY,
            ever_reached: vec![false; n_pairs],
            step_ns,
            ..Default::default()
        }
    }

    /// Adds one snapshot's route delays (path changes are added by the caller).
    fn add_delays(&mut self, table: &RouteTable) {
        self.n_snapshots += 1;
        let mut pair = 0;
        table.for_each_delay(|delay_ms, hops| {
            if delay_ms.is_finite() {
                self.ever_reached[pair] = true;
                self.n_routes += 1;
                self.sum_delay_ms += delay_ms;
                self.sum_hops += u64::from(hops);
                self.min_delay_ms = self.min_delay_ms.min(delay_ms);
                self.max_delay_ms = self.max_delay_ms.max(delay_ms);
                if delay_ms < MAX_BINNED_MS {
                    let bin = (delay_ms / DELAY_BIN_MS) as usize;
                    if bin >= self.bins.len() {
                        self.bins.resize(bin + 1, 0);
                    }
                    self.bins[bin] += 1;
                } else {
                    self.overflow_ms.push(delay_ms);
                }
            } else {
                self.unreachable_pair_snapshots += 1;
            }
            pair += 1;
        });
        assert_eq!(pair as u64, self.n_pairs, "every table has the same pairs");
    }

    /// Nearest-rank percentile `q` in (0, 1].
    fn percentile(&mut self, q: f64) -> f64 {
        if self.n_routes == 0 {
            return f64::NAN;
        }
        let rank = ((q * self.n_routes as f64).ceil() as u64).clamp(1, self.n_routes);
        let mut seen = 0;
        for (bin, &count) in self.bins.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return (bin as f64 + 0.5) * DELAY_BIN_MS;
            }
        }
        self.overflow_ms.sort_by(f64::total_cmp);
        self.overflow_ms[(rank - seen - 1) as usize]
    }

    pub fn summary(&self) -> RouteSummary {
        let mut s = self.clone();
        let hours = (self.n_snapshots.saturating_sub(1) as f64) * self.step_ns as f64 / 3.6e12;
        let nan_if_empty = |v: f64| if self.n_routes == 0 { f64::NAN } else { v };
        RouteSummary {
            n_snapshots: self.n_snapshots,
            n_pairs: self.n_pairs,
            n_routes: self.n_routes,
            mean_delay_ms: nan_if_empty(self.sum_delay_ms / self.n_routes as f64),
            p50_delay_ms: s.percentile(0.5),
            p99_delay_ms: s.percentile(0.99),
            min_delay_ms: nan_if_empty(self.min_delay_ms),
            max_delay_ms: nan_if_empty(self.max_delay_ms),
            mean_hops: nan_if_empty(self.sum_hops as f64 / self.n_routes as f64),
            unreachable_pair_snapshots: self.unreachable_pair_snapshots,
            pairs_never_reachable: self.ever_reached.iter().filter(|r| !**r).count() as u64,
            path_changes: self.path_changes,
            path_changes_per_pair_per_hour: if hours > 0.0 && self.n_pairs > 0 {
                self.path_changes as f64 / self.n_pairs as f64 / hours
            } else {
                0.0
            },
        }
    }
}

/// Routes between endpoints at every snapshot of a horizon, one snapshot per
/// [`RouteTimeline::step`], with statistics gathered on the way. Memory stays constant:
/// two route tables (current and previous, for churn) and two snapshots.
///
/// Each step routes snapshot k while, in parallel (`rayon::join`), the builder propagates
/// and links snapshot k + 1 and the statistics take in the delays of snapshot k - 1: their
/// serial parts fill the gaps of the parallel route search instead of leaving a core idle.
pub struct RouteTimeline<'a> {
    sats: &'a [Satellite],
    builder: SnapshotBuilder<'a>,
    horizon: Horizon,
    next: usize,
    /// The snapshot routed by the last step (the builder holds the one after it).
    snapshot: Snapshot,
    /// Outcome of building snapshot `next` ahead, during the previous step.
    ahead: Option<Result<(), NetworkError>>,
    current: RouteTable,
    previous: RouteTable,
    stats: RouteStats,
    /// Whether the delays of `current` are still to be added to `stats`.
    pending: bool,
}

impl<'a> RouteTimeline<'a> {
    /// Routes between `endpoints` (node ids) of `net`, whose satellites are `sats`.
    pub fn new(
        sats: &'a [Satellite],
        net: &'a Network,
        horizon: Horizon,
        endpoints: &[u32],
        mode: RoutingMode,
    ) -> Result<Self, NetworkError> {
        if sats.len() != net.n_satellites() {
            return Err(NetworkError::PositionCount {
                expected: net.n_satellites(),
                found: sats.len(),
            });
        }
        if let Some(&bad) = endpoints.iter().find(|&&e| e as usize >= net.n_nodes()) {
            return Err(NetworkError::InvalidParameter {
                field: "endpoint",
                value: bad.to_string(),
                expected: "a node id of the network",
            });
        }
        let table = RouteTable::new(endpoints, net.n_nodes(), mode);
        let n_pairs = endpoints.len() * endpoints.len().saturating_sub(1);
        let builder = SnapshotBuilder::new(net);
        Ok(RouteTimeline {
            sats,
            snapshot: builder.snapshot().clone(),
            builder,
            horizon,
            next: 0,
            ahead: None,
            previous: table.clone(),
            current: table,
            stats: RouteStats::new(n_pairs, horizon.step_ns()),
            pending: false,
        })
    }

    pub fn horizon(&self) -> Horizon {
        self.horizon
    }

    /// Computes the next snapshot and its routes; `None` after the last one.
    #[allow(clippy::type_complexity)]
    pub fn step(&mut self) -> Result<Option<(usize, &Snapshot, &RouteTable)>, NetworkError> {
        if self.next >= self.horizon.n_steps() {
            return Ok(None);
        }
        let k = self.next;
        match self.ahead.take() {
            Some(built) => built?,
            None => {
                self.builder.build(self.sats, self.horizon.at(k))?;
            }
        }
        self.builder.swap_snapshot(&mut self.snapshot);
        std::mem::swap(&mut self.current, &mut self.previous);
        let (sats, horizon, pending) = (self.sats, self.horizon, self.pending);
        let (builder, stats, previous) = (&mut self.builder, &mut self.stats, &self.previous);
        let (current, snapshot) = (&mut self.current, &self.snapshot);
        let (ahead, ()) = rayon::join(
            || {
                let ahead = (k + 1 < horizon.n_steps())
                    .then(|| builder.build(sats, horizon.at(k + 1)).map(|_| ()));
                if pending {
                    stats.add_delays(previous);
                }
                ahead
            },
            || current.compute(snapshot),
        );
        self.ahead = ahead;
        if k > 0 {
            self.stats.path_changes += self.current.count_changes(&self.previous);
        }
        self.pending = true;
        self.next += 1;
        Ok(Some((k, &self.snapshot, &self.current)))
    }

    /// Runs the remaining snapshots without looking at them.
    pub fn run_to_end(&mut self) -> Result<(), NetworkError> {
        while self.step()?.is_some() {}
        Ok(())
    }

    /// Statistics of the snapshots stepped through so far.
    pub fn summary(&self) -> RouteSummary {
        if self.pending {
            let mut stats = self.stats.clone();
            stats.add_delays(&self.current);
            stats.summary()
        } else {
            self.stats.summary()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_counts_like_hypatia() {
        let t0 = Epoch::from_unix_ns(0);
        let h = Horizon::new(t0, 200_000_000_000, 100_000_000).unwrap();
        assert_eq!(h.n_steps(), 2_000);
        assert_eq!(h.at(1_999), t0.add_ns(199_900_000_000));
        assert_eq!(Horizon::new(t0, 250, 100).unwrap().n_steps(), 3);
        assert!(Horizon::new(t0, 100, 0).is_err());
        assert!(Horizon::new(t0, 0, 100).is_err());
    }

    #[test]
    fn diff_reports_ups_and_downs() {
        let t = Epoch::from_unix_ns(5);
        let prev = [
            (0, 1, LinkKind::Isl),
            (0, 5, LinkKind::Gsl),
            (2, 3, LinkKind::Isl),
        ];
        let cur = [
            (0, 1, LinkKind::Isl),
            (1, 5, LinkKind::Gsl),
            (2, 3, LinkKind::Isl),
            (3, 4, LinkKind::Isl),
        ];
        let mut out = Vec::new();
        diff_links(&prev, &cur, t, &mut out);
        let got: Vec<_> = out.iter().map(|e| (e.a, e.b, e.up)).collect();
        assert_eq!(got, vec![(0, 5, false), (1, 5, true), (3, 4, true)]);
    }
}
