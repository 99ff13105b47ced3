//! Gateway routing, the mode data transfers use: shortest-delay trees by multi-root
//! Dijkstra on a snapshot where ground nodes act only as gateways between the space segment
//! and fibre (a ground station never bounces traffic from one satellite to another) and
//! nodes that are down are skipped. The other modes ([`crate::RoutingMode`]) route between
//! station pairs for `tiandi routes`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::node::NodeKind;
use crate::snapshot::{LinkKind, Snapshot};

const NONE: u32 = u32::MAX;

/// The roots of a tree towards "any ground node" (where a result may be delivered to the
/// ground segment): every ground station and data centre, at zero delay.
pub fn ground_roots(kinds: &[NodeKind]) -> Vec<(u32, f64)> {
    (0..kinds.len() as u32)
        .filter(|&v| {
            matches!(
                kinds[v as usize],
                NodeKind::GroundStation | NodeKind::DataCentre
            )
        })
        .map(|v| (v, 0.0))
        .collect()
}

/// Distances to the root set and the link towards it, for every node.
#[derive(Clone, Debug, Default)]
pub struct GatewayTree {
    pub dist_ms: Vec<f64>,
    /// The link from a node one hop closer to the roots; `NONE` for roots and unreached.
    pub toward_root: Vec<u32>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl GatewayTree {
    /// Recomputes the tree for `roots` (node, initial delay ms). `is_ground(v)` tells
    /// ground nodes; `down[v]` marks nodes that neither compute nor relay.
    pub fn build(
        &mut self,
        snap: &Snapshot,
        roots: &[(u32, f64)],
        is_ground: &dyn Fn(u32) -> bool,
        down: &[bool],
    ) {
        let n = snap.n_nodes();
        self.dist_ms.clear();
        self.dist_ms.resize(n, f64::INFINITY);
        self.toward_root.clear();
        self.toward_root.resize(n, NONE);
        self.heap.clear();
        for &(r, d) in roots {
            if d < self.dist_ms[r as usize] {
                self.dist_ms[r as usize] = d;
                self.heap.push(Reverse((d.to_bits(), r)));
            }
        }
        // Each node is settled once; the heap holds at most one entry per relaxation.
        while let Some(Reverse((bits, v))) = self.heap.pop() {
            let d = f64::from_bits(bits);
            if d > self.dist_ms[v as usize] {
                continue;
            }
            let via = self.toward_root[v as usize];
            let arrived_by_fibre = via != NONE && snap.link(via).kind == LinkKind::Fibre;
            let is_root = via == NONE;
            let ground = is_ground(v);
            for adj in snap.neighbours(v) {
                let u = adj.node;
                if down.get(u as usize).copied().unwrap_or(false) {
                    continue;
                }
                if ground && !is_root {
                    // A gateway forwards between fibre and the space segment only.
                    let fibre = snap.link(adj.link).kind == LinkKind::Fibre;
                    if fibre == arrived_by_fibre {
                        continue;
                    }
                }
                let nd = d + adj.delay_ms;
                if nd < self.dist_ms[u as usize] {
                    self.dist_ms[u as usize] = nd;
                    self.toward_root[u as usize] = adj.link;
                    self.heap.push(Reverse((nd.to_bits(), u)));
                }
            }
        }
    }

    pub fn reachable(&self, v: u32) -> bool {
        self.dist_ms[v as usize].is_finite()
    }

    /// The next node from `v` towards the roots, `None` at a root or when unreachable.
    pub fn next_hop(&self, snap: &Snapshot, v: u32) -> Option<(u32, u32)> {
        let link = self.toward_root[v as usize];
        if link == NONE {
            return None;
        }
        let l = snap.link(link);
        Some((if l.a == v { l.b } else { l.a }, link))
    }

    /// Estimated seconds to carry `bytes` from `v` to the roots, store and forward: at
    /// each hop the data waits until the link is free (`link_free_in_s(link)` seconds from
    /// now, what is already queued on it), then is transmitted, then propagates. `None`
    /// when unreachable.
    pub fn transfer_s(
        &self,
        snap: &Snapshot,
        v: u32,
        bytes: u64,
        link_free_in_s: &dyn Fn(u32) -> f64,
    ) -> Option<f64> {
        if !self.reachable(v) {
            return None;
        }
        let bits = bytes as f64 * 8.0;
        let mut t_s: f64 = 0.0;
        let mut at = v;
        // Bounded by the node count: the chain towards the roots visits each node once.
        for _ in 0..self.dist_ms.len() {
            let Some((next, link)) = self.next_hop(snap, at) else {
                break;
            };
            let l = snap.link(link);
            t_s = t_s.max(link_free_in_s(link)) + bits / l.capacity_bps + l.delay_ms / 1e3;
            at = next;
        }
        Some(t_s)
    }
}
