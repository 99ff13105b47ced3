//! Shortest-delay routing over a snapshot: Dijkstra on the CSR (a bucket queue when link
//! delays allow it, else a binary heap), and the all-pairs route table between endpoints
//! (ground stations, data centres), in parallel over sources, every buffer reused from one
//! snapshot to the next.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::snapshot::Snapshot;

/// Which nodes may forward traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoutingMode {
    /// Only satellites relay; ground nodes are endpoints. A ground station links to any
    /// satellite it sees, so each end effectively picks its best visible satellite. This is
    /// Hypatia's `algorithm_free_one_only_over_isls`. A direct ground-ground link (fibre)
    /// is still a one-hop route.
    SatellitesOnly,
    /// Every node relays (ground stations bounce traffic, fibre joins the network).
    AnyNode,
}

/// Marker for "no predecessor link".
const NONE: u32 = u32::MAX;

/// Largest ratio of the longest to the shortest link delay for which the bucket queue is
/// used: the queue then has at most `2 * ratio + 2` buckets (plenty for LEO networks, where
/// it is ~20-50); beyond it (e.g. a zero-length fibre link) the binary heap is used.
const MAX_BUCKET_RATIO: f64 = 4_096.0;

/// The priority queue of Dijkstra's frontier.
trait Frontier {
    fn push(&mut self, d: f64, v: u32);
    fn pop(&mut self) -> Option<u32>;
}

/// Binary heap on (delay bits, node): non-negative finite f64 bits order like the values;
/// ties go to the lower node id.
impl Frontier for BinaryHeap<Reverse<(u64, u32)>> {
    #[inline]
    fn push(&mut self, d: f64, v: u32) {
        BinaryHeap::push(self, Reverse((d.to_bits(), v)));
    }

    #[inline]
    fn pop(&mut self) -> Option<u32> {
        BinaryHeap::pop(self).map(|Reverse((_, v))| v)
    }
}

/// Dial's bucket queue with bucket width at most half the shortest link delay: a node in
/// the lowest non-empty bucket cannot be improved by any other node of that bucket (every
/// link is longer than the bucket is wide), so settling it in any order is exact.
#[derive(Clone, Debug, Default)]
struct Buckets {
    /// 1 / bucket width, 1/ms.
    inv_width: f64,
    slots: Vec<Vec<u32>>,
    /// Slot count minus one; the count is a power of two (a mask, not a division).
    mask: usize,
    current: usize,
    len: usize,
}

impl Frontier for Buckets {
    #[inline]
    fn push(&mut self, d: f64, v: u32) {
        let abs = (d * self.inv_width) as usize;
        debug_assert!(
            abs >= self.current && abs <= self.current + self.mask,
            "entry outside the live window"
        );
        self.slots[abs & self.mask].push(v);
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        // Bounded: a non-empty slot lies within one window (mask + 1 slots) of the current one.
        loop {
            if let Some(v) = self.slots[self.current & self.mask].pop() {
                self.len -= 1;
                return Some(v);
            }
            self.current += 1;
        }
    }
}

impl Buckets {
    fn reset(&mut self, min_delay_ms: f64, max_delay_ms: f64) {
        let width_ms = min_delay_ms * 0.5;
        self.inv_width = 1.0 / width_ms;
        // Live entries span at most one longest link beyond the current bucket.
        let n_slots = ((max_delay_ms / width_ms).ceil() as usize + 2).next_power_of_two();
        self.mask = n_slots - 1;
        if self.slots.len() < n_slots {
            self.slots.resize_with(n_slots, Vec::new);
        }
        self.slots[..n_slots].iter_mut().for_each(Vec::clear);
        self.current = 0;
        self.len = 0;
    }
}

/// Single-source shortest paths by delay, with reusable buffers.
#[derive(Clone, Debug, Default)]
pub struct ShortestPaths {
    src: u32,
    dist_ms: Vec<f64>,
    pred_link: Vec<u32>,
    settled: Vec<bool>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    buckets: Buckets,
}

impl ShortestPaths {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs Dijkstra from `src` over the whole reachable graph.
    pub fn run(&mut self, snap: &Snapshot, src: u32, mode: RoutingMode) {
        self.run_until(snap, src, mode, |_| false, usize::MAX);
    }

    /// Runs Dijkstra from `src`, stopping early once `n_targets` nodes for which
    /// `is_target` holds (never counting `src`) are settled. Distances of settled nodes are
    /// final; others may be infinite or provisional.
    pub fn run_until(
        &mut self,
        snap: &Snapshot,
        src: u32,
        mode: RoutingMode,
        is_target: impl Fn(u32) -> bool,
        n_targets: usize,
    ) {
        let n = snap.n_nodes();
        assert!((src as usize) < n, "source {src} out of range");
        self.src = src;
        self.dist_ms.clear();
        self.dist_ms.resize(n, f64::INFINITY);
        self.pred_link.clear();
        self.pred_link.resize(n, NONE);
        self.settled.clear();
        self.settled.resize(n, false);
        if n_targets == 0 {
            return;
        }
        let (lo, hi) = snap.delay_range_ms();
        if lo > 0.0 && hi / lo <= MAX_BUCKET_RATIO {
            self.buckets.reset(lo, hi);
            let mut q = std::mem::take(&mut self.buckets);
            self.search(snap, mode, &is_target, n_targets, &mut q);
            self.buckets = q;
        } else {
            let mut heap = std::mem::take(&mut self.heap);
            heap.clear();
            self.search(snap, mode, &is_target, n_targets, &mut heap);
            self.heap = heap;
        }
    }

    fn search(
        &mut self,
        snap: &Snapshot,
        mode: RoutingMode,
        is_target: &impl Fn(u32) -> bool,
        n_targets: usize,
        queue: &mut impl Frontier,
    ) {
        let src = self.src;
        let n_sats = snap.n_satellites() as u32;
        let mut remaining = n_targets;
        self.dist_ms[src as usize] = 0.0;
        queue.push(0.0, src);
        // Bounded: each push follows a strict improvement of a node's distance, and each
        // node is expanded once (when settled).
        while let Some(u) = queue.pop() {
            if self.settled[u as usize] {
                continue; // stale entry
            }
            self.settled[u as usize] = true;
            if u != src && is_target(u) {
                remaining -= 1;
                if remaining == 0 {
                    break;
                }
            }
            if u != src && mode == RoutingMode::SatellitesOnly && u >= n_sats {
                continue; // ground nodes are endpoints only
            }
            let d = self.dist_ms[u as usize];
            for adj in snap.neighbours(u) {
                let nd = d + adj.delay_ms;
                let v = adj.node as usize;
                if nd < self.dist_ms[v] {
                    self.dist_ms[v] = nd;
                    self.pred_link[v] = adj.link;
                    queue.push(nd, adj.node);
                }
            }
        }
    }

    pub fn source(&self) -> u32 {
        self.src
    }

    /// Shortest delay to `dst`, ms; infinite when unreachable. Final only for settled nodes.
    pub fn delay_ms(&self, dst: u32) -> f64 {
        self.dist_ms[dst as usize]
    }

    /// Whether `dst` was settled (its delay and path are final).
    pub fn is_settled(&self, dst: u32) -> bool {
        self.settled[dst as usize]
    }

    /// Appends the path `src .. dst` (node ids) to `nodes` and its links to `links`, and
    /// returns the bottleneck capacity (bit/s); `None` without touching either when `dst`
    /// is the source, unreachable or not settled.
    pub fn path_into(
        &self,
        snap: &Snapshot,
        dst: u32,
        nodes: &mut Vec<u32>,
        links: &mut Vec<u32>,
    ) -> Option<f64> {
        if dst == self.src || !self.settled[dst as usize] {
            return None;
        }
        let (node_start, link_start) = (nodes.len(), links.len());
        let mut v = dst;
        let mut bottleneck = f64::INFINITY;
        nodes.push(v);
        // Bounded by the node count: a predecessor chain visits each node at most once.
        for _ in 0..self.dist_ms.len() {
            if v == self.src {
                break;
            }
            let link = self.pred_link[v as usize];
            let l = snap.link(link);
            bottleneck = bottleneck.min(l.capacity_bps);
            v = if l.a == v { l.b } else { l.a };
            nodes.push(v);
            links.push(link);
        }
        assert_eq!(v, self.src, "predecessor chain must end at the source");
        nodes[node_start..].reverse();
        links[link_start..].reverse();
        Some(bottleneck)
    }
}

/// Where one route's data sits in a [`Part`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    dst: u32,
    /// Infinite when there is no route.
    delay_ms: f64,
    bottleneck_bps: f64,
    node_start: u32,
    /// Nodes on the path (hops + 1), 0 when there is no route.
    node_len: u32,
    link_start: u32,
}

/// Routes from one source to a run of destinations, paths flattened.
#[derive(Clone, Debug, Default)]
struct Part {
    entries: Vec<Entry>,
    nodes: Vec<u32>,
    links: Vec<u32>,
}

impl Part {
    fn clear(&mut self) {
        self.entries.clear();
        self.nodes.clear();
        self.links.clear();
    }

    fn nodes_of(&self, e: &Entry) -> &[u32] {
        &self.nodes[e.node_start as usize..(e.node_start + e.node_len) as usize]
    }

    fn links_of(&self, e: &Entry) -> &[u32] {
        let hops = e.node_len.saturating_sub(1);
        &self.links[e.link_start as usize..(e.link_start + hops) as usize]
    }
}

/// One ordered pair of endpoints at one snapshot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Route<'a> {
    pub src: u32,
    pub dst: u32,
    /// One-way delay, ms; infinite when there is no route.
    pub delay_ms: f64,
    /// Bottleneck (smallest) link capacity on the path, bit/s; 0 without a route.
    pub bottleneck_bps: f64,
    /// Node ids from `src` to `dst`; empty without a route.
    pub path: &'a [u32],
    /// Link indices into the snapshot's links, in path order.
    pub links: &'a [u32],
}

impl Route<'_> {
    pub fn is_reachable(&self) -> bool {
        !self.path.is_empty()
    }

    /// Links on the path.
    pub fn hops(&self) -> u32 {
        self.links.len() as u32
    }
}

/// Shortest-delay routes between every ordered pair of endpoints at one snapshot.
///
/// Links are undirected with the same delay both ways, so Dijkstra runs from endpoint `i`
/// only until the endpoints after it are settled; the route `j -> i` (j > i) is the reverse
/// of `i -> j`, its delay re-summed in its own path order.
#[derive(Clone, Debug)]
pub struct RouteTable {
    endpoints: Vec<u32>,
    /// Endpoint index of each node, `u32::MAX` for non-endpoints.
    rank: Vec<u32>,
    mode: RoutingMode,
    /// `upper[i]`: routes from endpoint i to endpoints i+1.. (from Dijkstra).
    upper: Vec<Part>,
    /// `lower[j]`: routes from endpoint j to endpoints ..j (reversed from `upper`).
    lower: Vec<Part>,
    paths: Vec<ShortestPaths>,
}

impl RouteTable {
    /// A table for these endpoints (distinct node ids) over a network of `n_nodes` nodes.
    pub fn new(endpoints: &[u32], n_nodes: usize, mode: RoutingMode) -> Self {
        let mut rank = vec![u32::MAX; n_nodes];
        for (i, &e) in endpoints.iter().enumerate() {
            assert!(rank[e as usize] == u32::MAX, "endpoint {e} listed twice");
            rank[e as usize] = i as u32;
        }
        let n = endpoints.len();
        RouteTable {
            endpoints: endpoints.to_vec(),
            rank,
            mode,
            upper: vec![Part::default(); n],
            lower: vec![Part::default(); n],
            paths: vec![ShortestPaths::default(); n],
        }
    }

    pub fn endpoints(&self) -> &[u32] {
        &self.endpoints
    }

    pub fn mode(&self) -> RoutingMode {
        self.mode
    }

    /// Recomputes every route for `snap`, in parallel over sources.
    pub fn compute(&mut self, snap: &Snapshot) {
        assert_eq!(
            snap.n_nodes(),
            self.rank.len(),
            "snapshot of another network"
        );
        let (endpoints, rank, mode) = (&self.endpoints, &self.rank, self.mode);
        let n = endpoints.len();
        self.upper
            .par_iter_mut()
            .zip(self.paths.par_iter_mut())
            .enumerate()
            .with_max_len(1)
            .for_each(|(i, (part, sp))| {
                let src = endpoints[i];
                sp.run_until(
                    snap,
                    src,
                    mode,
                    |v| rank[v as usize] != u32::MAX && rank[v as usize] as usize > i,
                    n - 1 - i,
                );
                part.clear();
                for &dst in &endpoints[i + 1..] {
                    let (node_start, link_start) =
                        (part.nodes.len() as u32, part.links.len() as u32);
                    let (delay_ms, bottleneck_bps) =
                        match sp.path_into(snap, dst, &mut part.nodes, &mut part.links) {
                            Some(b) => (sp.delay_ms(dst), b),
                            None => (f64::INFINITY, 0.0),
                        };
                    let node_len = part.nodes.len() as u32 - node_start;
                    part.entries.push(Entry {
                        dst,
                        delay_ms,
                        bottleneck_bps,
                        node_start,
                        node_len,
                        link_start,
                    });
                }
            });
        let upper = &self.upper;
        self.lower
            .par_iter_mut()
            .enumerate()
            .with_max_len(4)
            .for_each(|(j, part)| {
                part.clear();
                for (i, up) in upper[..j].iter().enumerate() {
                    let e = &up.entries[j - i - 1];
                    debug_assert_eq!(e.dst, endpoints[j]);
                    let (node_start, link_start) =
                        (part.nodes.len() as u32, part.links.len() as u32);
                    part.nodes.extend(up.nodes_of(e).iter().rev());
                    part.links.extend(up.links_of(e).iter().rev());
                    let delay_ms = if e.node_len == 0 {
                        f64::INFINITY
                    } else {
                        // Summed in this path's own order, so delay == sum of its link delays.
                        part.links[link_start as usize..]
                            .iter()
                            .fold(0.0, |acc, &l| acc + snap.link(l).delay_ms)
                    };
                    part.entries.push(Entry {
                        dst: endpoints[i],
                        delay_ms,
                        bottleneck_bps: e.bottleneck_bps,
                        node_start,
                        node_len: e.node_len,
                        link_start,
                    });
                }
            });
    }

    /// Every ordered pair, reachable or not: sources in endpoint order, then destinations
    /// in endpoint order.
    pub fn pairs(&self) -> impl Iterator<Item = Route<'_>> {
        (0..self.endpoints.len()).flat_map(move |i| {
            let src = self.endpoints[i];
            [&self.lower[i], &self.upper[i]]
                .into_iter()
                .flat_map(move |part| {
                    part.entries.iter().map(move |e| Route {
                        src,
                        dst: e.dst,
                        delay_ms: e.delay_ms,
                        bottleneck_bps: e.bottleneck_bps,
                        path: part.nodes_of(e),
                        links: part.links_of(e),
                    })
                })
        })
    }

    /// The reachable routes, in [`RouteTable::pairs`] order.
    pub fn routes(&self) -> impl Iterator<Item = Route<'_>> {
        self.pairs().filter(Route::is_reachable)
    }

    /// Number of ordered pairs whose path (or reachability) differs from `previous`.
    pub fn count_changes(&self, previous: &RouteTable) -> u64 {
        assert_eq!(
            self.endpoints, previous.endpoints,
            "tables over different endpoints"
        );
        let changed = |cur: &Part, old: &Part| -> u64 {
            cur.entries
                .iter()
                .zip(&old.entries)
                .filter(|(e, o)| cur.nodes_of(e) != old.nodes_of(o))
                .count() as u64
        };
        (0..self.endpoints.len())
            .into_par_iter()
            .with_max_len(8)
            .map(|i| {
                changed(&self.lower[i], &previous.lower[i])
                    + changed(&self.upper[i], &previous.upper[i])
            })
            .sum()
    }

    /// Calls `f(delay_ms, hops)` for every ordered pair in [`RouteTable::pairs`] order
    /// (`delay_ms` infinite without a route); cheaper than building [`Route`]s.
    pub fn for_each_delay(&self, mut f: impl FnMut(f64, u32)) {
        for i in 0..self.endpoints.len() {
            for part in [&self.lower[i], &self.upper[i]] {
                for e in &part.entries {
                    f(e.delay_ms, e.node_len.saturating_sub(1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IslPattern, LinkConfig, Network, NetworkSpec, SnapshotBuilder, StationNode};
    use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
    use tiandi_orbit::{Epoch, GroundStation, Satellite};

    /// The bucket queue and the binary heap settle every node at the same delay, on a
    /// constellation big enough that buckets hold many nodes (20 x 20 at 550 km).
    #[test]
    fn bucket_queue_matches_binary_heap() {
        let epoch = Epoch::from_ymd_hms(2026, 11, 24, 0, 0, 0.0);
        let design = WalkerDesign {
            kind: WalkerKind::Delta,
            n_planes: 20,
            sats_per_plane: 20,
            phasing: 1,
            altitude_km: 550.0,
            inclination_deg: 53.0,
            epoch,
            raan_offset_deg: 0.0,
            first_norad_id: 1,
            name_prefix: "B".into(),
        };
        let sats: Vec<Satellite> = design
            .elements()
            .unwrap()
            .into_iter()
            .map(|e| Satellite::new(e).unwrap())
            .collect();
        let stations = [
            (35.7, 139.7),
            (28.7, 77.2),
            (-23.5, -46.6),
            (40.7, -74.0),
            (51.5, -0.1),
            (-33.9, 151.2),
        ]
        .iter()
        .enumerate()
        .map(|(i, &(lat, lon))| {
            StationNode::new(GroundStation::new(format!("g{i}"), lat, lon, 0.0).unwrap())
        })
        .collect();
        let mut links = LinkConfig::default();
        links.isl.pattern = IslPattern::PlusGrid { shift: 0 };
        links.gsl.min_elevation_deg = 10.0;
        let net = Network::new(NetworkSpec {
            n_satellites: sats.len(),
            n_planes: Some(20),
            stations,
            links,
            ..Default::default()
        })
        .unwrap();
        let mut builder = SnapshotBuilder::new(&net);
        let snap = builder.build(&sats, epoch.add_ns(600_000_000_000)).unwrap();
        let (lo, hi) = snap.delay_range_ms();
        let mut compared = 0;
        for src in net.station_ids().map(|i| i.0).chain([0, 123]) {
            for mode in [RoutingMode::SatellitesOnly, RoutingMode::AnyNode] {
                let mut with_buckets = ShortestPaths::new();
                with_buckets.run(snap, src, mode);
                let mut with_heap = with_buckets.clone();
                with_heap.dist_ms.fill(f64::INFINITY);
                with_heap.settled.fill(false);
                let mut heap = BinaryHeap::new();
                with_heap.search(snap, mode, &|_| false, usize::MAX, &mut heap);
                // Link delays spread over more than a factor 2: buckets hold mixed delays.
                assert!(hi / lo > 2.0, "{lo} .. {hi} ms");
                for v in 0..snap.n_nodes() {
                    // Same link delays added along the same optimal path: equal to rounding
                    // (1e-12 relative), unless two paths tie to within it.
                    let (a, b) = (with_buckets.dist_ms[v], with_heap.dist_ms[v]);
                    assert!(
                        a == b || (a - b).abs() <= 1e-12 * a,
                        "node {v} from {src}: {a} vs {b}"
                    );
                    compared += usize::from(a.is_finite());
                }
            }
        }
        assert!(compared > 10 * 400);
    }
}
