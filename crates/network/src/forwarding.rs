//! Forwarding state at one snapshot: every node's next hop toward each destination, read
//! off the destinations' shortest-delay trees (what a hop-by-hop forwarding table holds,
//! e.g. Hypatia's `fstate` files).

use std::sync::PoisonError;

use rayon::prelude::*;

use crate::routing::{RoutingMode, ScratchPool};
use crate::snapshot::Snapshot;

/// Marker for "no next hop".
const NONE: u32 = u32::MAX;

/// Next hops of every node toward a fixed set of destinations, recomputed per snapshot
/// with reused buffers.
///
/// Links are undirected with the same delay both ways, so one Dijkstra from each
/// destination gives every node's shortest path to it; the next hop of node `v` is `v`'s
/// predecessor in that tree. Following next hops from any node therefore walks a shortest
/// path to the destination, in the same routing mode as [`crate::RouteTable`].
#[derive(Clone, Debug)]
pub struct ForwardingTable {
    destinations: Vec<u32>,
    mode: RoutingMode,
    n_nodes: usize,
    /// `next[d * n_nodes + v]`: the next hop of node `v` toward destination index `d`,
    /// [`NONE`] at the destination itself and without a route.
    next: Vec<u32>,
    scratch: ScratchPool,
}

impl ForwardingTable {
    /// A table toward these destinations (node ids) over a network of `n_nodes` nodes.
    pub fn new(destinations: &[u32], n_nodes: usize, mode: RoutingMode) -> Self {
        assert!(
            destinations.iter().all(|&d| (d as usize) < n_nodes),
            "destination out of range"
        );
        ForwardingTable {
            destinations: destinations.to_vec(),
            mode,
            n_nodes,
            next: vec![NONE; destinations.len() * n_nodes],
            scratch: ScratchPool::default(),
        }
    }

    pub fn destinations(&self) -> &[u32] {
        &self.destinations
    }

    /// Recomputes every next hop for `snap`, in parallel over destinations.
    pub fn compute(&mut self, snap: &Snapshot) {
        assert_eq!(snap.n_nodes(), self.n_nodes, "snapshot of another network");
        let n_threads = rayon::current_num_threads().max(1);
        if self.scratch.0.len() < n_threads {
            self.scratch.0.resize_with(n_threads, Default::default);
        }
        let (pool, mode, destinations) = (&self.scratch.0, self.mode, &self.destinations);
        self.next
            .par_chunks_mut(self.n_nodes)
            .zip(destinations.par_iter())
            .with_max_len(1)
            .for_each(|(next, &dst)| {
                let slot = rayon::current_thread_index().unwrap_or(0) % pool.len();
                let mut sp = pool[slot].lock().unwrap_or_else(PoisonError::into_inner);
                sp.run(snap, dst, mode);
                for (v, hop) in next.iter_mut().enumerate() {
                    *hop = sp.toward_source(snap, v as u32).unwrap_or(NONE);
                }
            });
    }

    /// The next hop of `node` toward destination index `dst_idx` (into
    /// [`ForwardingTable::destinations`]); `None` at the destination and without a route.
    pub fn next_hop(&self, dst_idx: usize, node: u32) -> Option<u32> {
        let hop = self.next[dst_idx * self.n_nodes + node as usize];
        (hop != NONE).then_some(hop)
    }
}
