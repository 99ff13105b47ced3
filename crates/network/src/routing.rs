//! Shortest-delay routing over a snapshot: Dijkstra on the CSR (a bucket queue when link
//! delays allow it, else a binary heap), and the all-pairs route table between endpoints
//! (ground stations, data centres), in parallel over sources, every buffer reused from one
//! snapshot to the next.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Mutex, PoisonError};

use glam::DVec3;
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
    /// Satellites, ground stations and data centres relay; user terminals (node ids from
    /// `first_user` up, numbered last) are endpoints only. A data centre reaches space over
    /// fibre to a station, and a station may relay between any of its links (Hypatia's
    /// ground-station relays). `tiandi routes` uses it once data centres or users are
    /// endpoints.
    GroundRelay { first_user: u32 },
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
        // Nodes from this id up only end paths (the source excepted).
        let first_end_only = match mode {
            RoutingMode::SatellitesOnly => snap.n_satellites() as u32,
            RoutingMode::AnyNode => u32::MAX,
            RoutingMode::GroundRelay { first_user } => first_user,
        };
        let mut remaining = n_targets;
        let n = snap.n_nodes();
        // Slices of the node count: their bounds checks can share one length.
        let dist = &mut self.dist_ms[..n];
        let pred = &mut self.pred_link[..n];
        let settled = &mut self.settled[..n];
        dist[src as usize] = 0.0;
        queue.push(0.0, src);
        // Bounded: each push follows a strict improvement of a node's distance, and each
        // node is expanded once (when settled).
        while let Some(u) = queue.pop() {
            let ui = u as usize;
            if settled[ui] {
                continue; // stale entry
            }
            settled[ui] = true;
            if u != src {
                if is_target(u) {
                    remaining -= 1;
                    if remaining == 0 {
                        break;
                    }
                }
                if u >= first_end_only {
                    continue; // ground nodes are endpoints only
                }
            }
            let d = dist[ui];
            for adj in snap.neighbours(u) {
                let nd = d + adj.delay_ms;
                let v = adj.node as usize;
                if nd < dist[v] {
                    dist[v] = nd;
                    pred[v] = adj.link;
                    queue.push(nd, adj.node);
                }
            }
        }
    }

    pub fn source(&self) -> u32 {
        self.src
    }

    /// The neighbour of `v` on its shortest path back to the source (links are undirected:
    /// the next hop from `v` toward the source); `None` at the source and for nodes not
    /// settled.
    pub fn toward_source(&self, snap: &Snapshot, v: u32) -> Option<u32> {
        if v == self.src || !self.settled[v as usize] {
            return None;
        }
        let l = snap.link(self.pred_link[v as usize]);
        Some(if l.a == v { l.b } else { l.a })
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
        let (node_start, link_start) = (nodes.len(), links.len());
        let (_, bottleneck) = self.walk_back(snap, dst, nodes, links)?;
        nodes[node_start..].reverse();
        links[link_start..].reverse();
        Some(bottleneck)
    }

    /// Appends the path walked back from `dst` to the source (node ids, then its links in
    /// the same order) and returns its delay summed in that order, ms, and its bottleneck
    /// capacity, bit/s; `None` without touching either when `dst` is the source,
    /// unreachable or not settled.
    fn walk_back(
        &self,
        snap: &Snapshot,
        dst: u32,
        nodes: &mut Vec<u32>,
        links: &mut Vec<u32>,
    ) -> Option<(f64, f64)> {
        if dst == self.src || !self.settled[dst as usize] {
            return None;
        }
        let mut v = dst;
        let (mut delay_ms, mut bottleneck) = (0.0, f64::INFINITY);
        nodes.push(v);
        // Bounded by the node count: a predecessor chain visits each node at most once.
        for _ in 0..self.dist_ms.len() {
            if v == self.src {
                break;
            }
            let link = self.pred_link[v as usize];
            let l = snap.link(link);
            delay_ms += l.delay_ms;
            bottleneck = bottleneck.min(l.capacity_bps);
            debug_assert!(l.a == v || l.b == v, "link {link} does not reach node {v}");
            v = if l.a == v { l.b } else { l.a };
            nodes.push(v);
            links.push(link);
        }
        assert_eq!(v, self.src, "predecessor chain must end at the source");
        Some((delay_ms, bottleneck))
    }
}

/// One route found by a search: from the search's source out to a target, and the same
/// path walked back from the target (links are undirected with the same delay both ways).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    /// Source to target, ms (Dijkstra's sum, in path order); infinite without a route.
    out_delay_ms: f64,
    /// Target back to the source, ms, summed in that order; infinite without a route.
    back_delay_ms: f64,
    bottleneck_bps: f64,
    node_start: u32,
    /// Nodes on the path (hops + 1), 0 when there is no route.
    node_len: u32,
    link_start: u32,
}

/// Routes from one search source to its targets, paths flattened in both directions
/// (`out_*` from the source, `back_*` from the target; same offsets).
#[derive(Clone, Debug, Default)]
struct Part {
    entries: Vec<Entry>,
    out_nodes: Vec<u32>,
    out_links: Vec<u32>,
    back_nodes: Vec<u32>,
    back_links: Vec<u32>,
}

impl Part {
    fn clear(&mut self) {
        self.entries.clear();
        self.out_nodes.clear();
        self.out_links.clear();
        self.back_nodes.clear();
        self.back_links.clear();
    }

    fn out_nodes_of(&self, e: &Entry) -> &[u32] {
        &self.out_nodes[e.node_start as usize..(e.node_start + e.node_len) as usize]
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

/// Dijkstra scratch, one per worker thread, reused between searches and snapshots. Cloning
/// gives an empty pool (scratch holds no results).
#[derive(Debug, Default)]
pub(crate) struct ScratchPool(pub(crate) Vec<Mutex<ShortestPaths>>);

impl Clone for ScratchPool {
    fn clone(&self) -> Self {
        ScratchPool::default()
    }
}

/// Shortest-delay routes between every ordered pair of endpoints at one snapshot.
///
/// Links are undirected with the same delay both ways, so each unordered pair is searched
/// once: endpoints are searched from in a fixed order, each Dijkstra stopping once the
/// endpoints after it in that order are settled, and the route back is the same path
/// reversed. Each direction's delay is summed in its own path order, so a route's delay is
/// the sum of its link delays. The order puts remote endpoints first (largest sum of
/// straight-line distances to the others): their long searches then cover the far pairs,
/// and the searches from the clustered endpoints left at the end stay short (on the
/// benchmark this halves the nodes settled). It depends only on the endpoints' positions;
/// it could change which of two paths of equal delay (to the last bit) is reported.
#[derive(Clone, Debug)]
pub struct RouteTable {
    endpoints: Vec<u32>,
    mode: RoutingMode,
    /// Endpoint indices in search order.
    order: Vec<u32>,
    /// Search position of each endpoint index.
    position: Vec<u32>,
    /// Per node: 1 + the search position of the endpoint there, 0 for other nodes.
    node_rank: Vec<u32>,
    /// Endpoint positions (km) the order was derived from; empty before the first compute.
    order_ecef_km: Vec<DVec3>,
    /// `parts[p]`: routes from the endpoint at search position `p` to those after it.
    parts: Vec<Part>,
    /// Delay (ms) and hops of every ordered pair in [`RouteTable::pairs`] order, gathered
    /// from `parts` in parallel so that the statistics read them in sequence.
    pair_delay_ms: Vec<f64>,
    pair_hops: Vec<u32>,
    computed: bool,
    scratch: ScratchPool,
}

impl RouteTable {
    /// A table for these endpoints (distinct node ids) over a network of `n_nodes` nodes.
    pub fn new(endpoints: &[u32], n_nodes: usize, mode: RoutingMode) -> Self {
        let mut node_rank = vec![0; n_nodes];
        for (i, &e) in endpoints.iter().enumerate() {
            assert!(node_rank[e as usize] == 0, "endpoint {e} listed twice");
            node_rank[e as usize] = i as u32 + 1;
        }
        let n = endpoints.len();
        RouteTable {
            endpoints: endpoints.to_vec(),
            mode,
            order: (0..n as u32).collect(),
            position: (0..n as u32).collect(),
            node_rank,
            order_ecef_km: Vec::new(),
            parts: vec![Part::default(); n],
            pair_delay_ms: vec![f64::INFINITY; n * n.saturating_sub(1)],
            pair_hops: vec![0; n * n.saturating_sub(1)],
            computed: false,
            scratch: ScratchPool::default(),
        }
    }

    pub fn endpoints(&self) -> &[u32] {
        &self.endpoints
    }

    pub fn mode(&self) -> RoutingMode {
        self.mode
    }

    /// Derives the search order from the endpoints' positions, unless they are those of
    /// the last call (ground endpoints never move: computed once).
    fn update_order(&mut self, snap: &Snapshot) {
        let n = self.endpoints.len();
        let unchanged = self.order_ecef_km.len() == n
            && self
                .endpoints
                .iter()
                .zip(&self.order_ecef_km)
                .all(|(&e, &p)| snap.node_ecef_km(e) == p);
        if unchanged {
            return;
        }
        self.order_ecef_km.clear();
        self.order_ecef_km
            .extend(self.endpoints.iter().map(|&e| snap.node_ecef_km(e)));
        let pos = &self.order_ecef_km;
        let spread_km: Vec<f64> = pos
            .iter()
            .map(|p| pos.iter().map(|q| p.distance(*q)).sum())
            .collect();
        self.order.sort_unstable_by(|&a, &b| {
            spread_km[b as usize]
                .total_cmp(&spread_km[a as usize])
                .then(a.cmp(&b))
        });
        for (p, &i) in self.order.iter().enumerate() {
            self.position[i as usize] = p as u32;
            self.node_rank[self.endpoints[i as usize] as usize] = p as u32 + 1;
        }
    }

    /// Recomputes every route for `snap`, in parallel over searches.
    pub fn compute(&mut self, snap: &Snapshot) {
        assert_eq!(
            snap.n_nodes(),
            self.node_rank.len(),
            "snapshot of another network"
        );
        self.update_order(snap);
        let n_threads = rayon::current_num_threads().max(1);
        if self.scratch.0.len() < n_threads {
            self.scratch.0.resize_with(n_threads, Default::default);
        }
        let (endpoints, order, node_rank, mode) =
            (&self.endpoints, &self.order, &self.node_rank, self.mode);
        let pool = &self.scratch.0;
        let n = endpoints.len();
        self.parts
            .par_iter_mut()
            .enumerate()
            .with_max_len(1)
            .for_each(|(p, part)| {
                // Any slot works (the mutex serialises collisions); the thread's own keeps
                // its scratch warm in cache.
                let slot = rayon::current_thread_index().unwrap_or(0) % pool.len();
                let mut sp = pool[slot].lock().unwrap_or_else(PoisonError::into_inner);
                let src = endpoints[order[p] as usize];
                let later = p as u32 + 1;
                sp.run_until(
                    snap,
                    src,
                    mode,
                    |v| node_rank[v as usize] > later,
                    n - 1 - p,
                );
                part.clear();
                for &t in &order[p + 1..] {
                    let dst = endpoints[t as usize];
                    let start = part.back_nodes.len();
                    let link_start = part.back_links.len();
                    let entry =
                        match sp.walk_back(snap, dst, &mut part.back_nodes, &mut part.back_links) {
                            Some((back_delay_ms, bottleneck_bps)) => Entry {
                                out_delay_ms: sp.delay_ms(dst),
                                back_delay_ms,
                                bottleneck_bps,
                                node_start: start as u32,
                                node_len: (part.back_nodes.len() - start) as u32,
                                link_start: link_start as u32,
                            },
                            None => Entry {
                                out_delay_ms: f64::INFINITY,
                                back_delay_ms: f64::INFINITY,
                                bottleneck_bps: 0.0,
                                node_start: start as u32,
                                node_len: 0,
                                link_start: link_start as u32,
                            },
                        };
                    part.out_nodes.extend(part.back_nodes[start..].iter().rev());
                    part.out_links
                        .extend(part.back_links[link_start..].iter().rev());
                    part.entries.push(entry);
                }
            });
        let (parts, position) = (&self.parts, &self.position);
        if n > 1 {
            self.pair_delay_ms
                .par_chunks_mut(n - 1)
                .zip(self.pair_hops.par_chunks_mut(n - 1))
                .enumerate()
                .with_max_len(4)
                .for_each(|(a, (delays, hops))| {
                    let others = (0..n).filter(|&b| b != a);
                    for ((delay_ms, hops), b) in delays.iter_mut().zip(hops).zip(others) {
                        let (_, e, out) = entry_of(parts, position, a, b);
                        *delay_ms = if out { e.out_delay_ms } else { e.back_delay_ms };
                        *hops = e.node_len.saturating_sub(1);
                    }
                });
        }
        self.computed = true;
    }

    /// The route between endpoint indices `a` and `b` (`a != b`) of a computed table.
    fn route_at(&self, a: usize, b: usize) -> Route<'_> {
        let (part, e, out) = entry_of(&self.parts, &self.position, a, b);
        let (nodes, links, delay_ms) = if out {
            (&part.out_nodes, &part.out_links, e.out_delay_ms)
        } else {
            (&part.back_nodes, &part.back_links, e.back_delay_ms)
        };
        let (ns, ls) = (e.node_start as usize, e.link_start as usize);
        let hops = e.node_len.saturating_sub(1) as usize;
        Route {
            src: self.endpoints[a],
            dst: self.endpoints[b],
            delay_ms,
            bottleneck_bps: e.bottleneck_bps,
            path: &nodes[ns..ns + e.node_len as usize],
            links: &links[ls..ls + hops],
        }
    }

    /// Ordered pairs of endpoint indices in [`RouteTable::pairs`] order; none before the
    /// first compute.
    fn pair_indices(&self) -> impl Iterator<Item = (usize, usize)> + use<> {
        let n = if self.computed {
            self.endpoints.len()
        } else {
            0
        };
        (0..n).flat_map(move |a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
    }

    /// Every ordered pair, reachable or not: sources in endpoint order, then destinations
    /// in endpoint order.
    pub fn pairs(&self) -> impl Iterator<Item = Route<'_>> {
        self.pair_indices().map(|(a, b)| self.route_at(a, b))
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
        if !(self.computed && previous.computed) {
            return 0;
        }
        if self.order == previous.order {
            // Same searches: compare each unordered pair once; its reverse changes with it.
            let changed = self
                .parts
                .par_iter()
                .zip(&previous.parts)
                .with_max_len(8)
                .map(|(cur, old)| {
                    cur.entries
                        .iter()
                        .zip(&old.entries)
                        .filter(|(e, o)| cur.out_nodes_of(e) != old.out_nodes_of(o))
                        .count() as u64
                })
                .sum::<u64>();
            2 * changed
        } else {
            let n = self.endpoints.len();
            (0..n)
                .into_par_iter()
                .map(|a| {
                    (0..n)
                        .filter(|&b| {
                            b != a && self.route_at(a, b).path != previous.route_at(a, b).path
                        })
                        .count() as u64
                })
                .sum()
        }
    }

    /// Calls `f(delay_ms, hops)` for every ordered pair in [`RouteTable::pairs`] order
    /// (`delay_ms` infinite without a route); cheaper than building [`Route`]s.
    pub fn for_each_delay(&self, mut f: impl FnMut(f64, u32)) {
        if self.computed {
            for (&delay_ms, &hops) in self.pair_delay_ms.iter().zip(&self.pair_hops) {
                f(delay_ms, hops);
            }
        }
    }
}

/// The search part and entry of the route between endpoint indices `a` and `b`, and whether
/// it runs out from `a` (the search started at `a`) rather than back to it.
fn entry_of<'p>(
    parts: &'p [Part],
    position: &[u32],
    a: usize,
    b: usize,
) -> (&'p Part, &'p Entry, bool) {
    let (pa, pb) = (position[a] as usize, position[b] as usize);
    let (first, gap) = (pa.min(pb), pa.abs_diff(pb));
    let part = &parts[first];
    (part, &part.entries[gap - 1], pa < pb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IslPattern, LinkConfig, Network, NetworkSpec, SnapshotBuilder, StationNode};
    use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
    use tiandi_orbit::{Epoch, GroundStation, Satellite};

    /// A 20 x 20 Walker at 550 km (big enough that buckets hold many nodes) with six city
    /// stations at a 10 deg mask, and its satellites.
    fn walker_20x20() -> (Network, Vec<Satellite>, Epoch) {
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
        (net, sats, epoch)
    }

    /// The bucket queue and the binary heap settle every node at the same delay.
    #[test]
    fn bucket_queue_matches_binary_heap() {
        let (net, sats, epoch) = walker_20x20();
        let mut builder = SnapshotBuilder::new(&net);
        let snap = builder.build(&sats, epoch.add_ns(600_000_000_000)).unwrap();
        let (lo, hi) = snap.delay_range_ms();
        let mut compared = 0;
        for src in net.station_ids().map(|i| i.0).chain([0, 123]) {
            let relay = RoutingMode::GroundRelay {
                first_user: net.n_nodes() as u32,
            };
            for mode in [RoutingMode::SatellitesOnly, RoutingMode::AnyNode, relay] {
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

    /// Every route of the table, whichever end its search started from, is the path and
    /// delay (to the last bit) that Dijkstra from its own source finds; the reverse route
    /// is the same path backwards.
    #[test]
    fn table_routes_match_dijkstra_from_each_source() {
        let (net, sats, epoch) = walker_20x20();
        let mut builder = SnapshotBuilder::new(&net);
        let endpoints: Vec<u32> = net.station_ids().map(|i| i.0).collect();
        let mut table = RouteTable::new(&endpoints, net.n_nodes(), RoutingMode::SatellitesOnly);
        let mut n_checked = 0;
        for minutes in [0, 7, 31] {
            let snap = builder
                .build(&sats, epoch.add_ns(minutes * 60_000_000_000))
                .unwrap();
            table.compute(snap);
            assert!(table.order != (0..endpoints.len() as u32).collect::<Vec<_>>());
            let mut sp = ShortestPaths::new();
            let (mut nodes, mut links) = (Vec::new(), Vec::new());
            let mut pairs = table.pairs();
            for &src in &endpoints {
                sp.run(snap, src, RoutingMode::SatellitesOnly);
                for &dst in endpoints.iter().filter(|&&d| d != src) {
                    let r = pairs.next().unwrap();
                    assert_eq!((r.src, r.dst), (src, dst));
                    nodes.clear();
                    links.clear();
                    let bottleneck = sp.path_into(snap, dst, &mut nodes, &mut links);
                    assert_eq!(r.path, &nodes[..], "{src} -> {dst} at {minutes} min");
                    assert_eq!(r.links, &links[..]);
                    assert_eq!(r.bottleneck_bps, bottleneck.unwrap_or(0.0));
                    assert_eq!(r.delay_ms.to_bits(), sp.delay_ms(dst).to_bits());
                    n_checked += usize::from(r.is_reachable());
                }
            }
            assert!(pairs.next().is_none());
        }
        assert!(n_checked > 60, "{n_checked}");
    }
}
