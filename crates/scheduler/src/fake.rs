//! A small hand-built [`View`] for the policies' unit tests: a few nodes, links with a
//! delay and a capacity, and per-node queues, rates, power and contacts set by the test.

use std::collections::BTreeMap;

use tiandi_network::NodeKind;
use tiandi_orbit::Epoch;
use tiandi_workload::{Destination, NodeIdx, Pin, Stage, Task, TaskKind};

use crate::{PowerState, Reached, Search, View};

pub const T0_NS: i64 = 1_800_000_000_000_000_000;

#[derive(Clone, Debug)]
pub struct FakeView {
    pub kinds: Vec<NodeKind>,
    /// (a, b) -> (delay s, capacity bit/s).
    pub links: BTreeMap<(u32, u32), (f64, f64)>,
    pub queue_s: Vec<f64>,
    /// FLOP/s of a slot; 0: cannot compute.
    pub rate: Vec<f64>,
    pub memory: Vec<u64>,
    pub power: Vec<Option<PowerState>>,
    pub contact: Vec<Option<(f64, NodeIdx)>>,
    pub free: Vec<u32>,
    dcs: Vec<NodeIdx>,
}

impl FakeView {
    /// Nodes of the given kinds, no links; satellites and data centres compute at 1e12
    /// FLOP/s with 16 GB and an empty queue.
    pub fn new(kinds: &[NodeKind]) -> Self {
        let n = kinds.len();
        let computes = |k: &NodeKind| matches!(k, NodeKind::Satellite | NodeKind::DataCentre);
        FakeView {
            kinds: kinds.to_vec(),
            links: BTreeMap::new(),
            queue_s: vec![0.0; n],
            rate: kinds
                .iter()
                .map(|k| if computes(k) { 1e12 } else { 0.0 })
                .collect(),
            memory: kinds
                .iter()
                .map(|k| if computes(k) { 16e9 as u64 } else { 0 })
                .collect(),
            power: vec![None; n],
            contact: vec![None; n],
            free: vec![1; n],
            dcs: (0..n as u32)
                .filter(|&v| kinds[v as usize] == NodeKind::DataCentre)
                .collect(),
        }
    }

    pub fn link(mut self, a: u32, b: u32, delay_s: f64, capacity_bps: f64) -> Self {
        self.links
            .insert((a.min(b), a.max(b)), (delay_s, capacity_bps));
        self
    }

    fn neighbours(&self, v: u32) -> impl Iterator<Item = (u32, f64, f64)> + '_ {
        self.links.iter().filter_map(move |(&(a, b), &(d, c))| {
            if a == v {
                Some((b, d, c))
            } else if b == v {
                Some((a, d, c))
            } else {
                None
            }
        })
    }

    /// Shortest-delay routes from `from`: per node (delay, s per byte), by a plain
    /// Dijkstra over the few nodes.
    fn routes(&self, from: u32) -> Vec<Option<(f64, f64)>> {
        let n = self.kinds.len();
        let mut best: Vec<Option<(f64, f64)>> = vec![None; n];
        let mut done = vec![false; n];
        best[from as usize] = Some((0.0, 0.0));
        while let Some(v) = (0..n)
            .filter(|&v| !done[v] && best[v].is_some())
            .min_by(|&a, &b| best[a].unwrap().0.total_cmp(&best[b].unwrap().0))
        {
            done[v] = true;
            let (d, spb) = best[v].unwrap();
            for (u, dl, cap) in self.neighbours(v as u32) {
                let nd = d + dl;
                if best[u as usize].is_none_or(|b| nd < b.0) {
                    best[u as usize] = Some((nd, spb + 8.0 / cap));
                }
            }
        }
        best
    }

    fn computes(&self, v: u32) -> bool {
        self.rate[v as usize] > 0.0
    }
}

impl View for FakeView {
    fn now(&self) -> Epoch {
        Epoch::from_unix_ns(T0_NS)
    }
    fn kind(&self, node: NodeIdx) -> NodeKind {
        self.kinds[node as usize]
    }
    fn candidates(&self, data_at: NodeIdx) -> Vec<NodeIdx> {
        let mut out: Vec<NodeIdx> = Vec::new();
        if self.computes(data_at) {
            out.push(data_at);
        }
        out.extend(
            self.neighbours(data_at)
                .map(|(u, _, _)| u)
                .filter(|&u| self.kind(u) == NodeKind::Satellite),
        );
        out.extend(self.data_centres());
        out.sort_unstable();
        out.dedup();
        out
    }
    fn data_centres(&self) -> &[NodeIdx] {
        &self.dcs
    }
    fn transfer_s(&self, from: NodeIdx, to: NodeIdx, bytes: u64) -> Option<f64> {
        self.routes(from)[to as usize].map(|(d, spb)| d + bytes as f64 * spb)
    }
    fn to_ground_s(&self, from: NodeIdx, bytes: u64) -> Option<f64> {
        let r = self.routes(from);
        (0..self.kinds.len())
            .filter(|&v| {
                self.kinds[v] != NodeKind::Satellite && self.kinds[v] != NodeKind::UserTerminal
            })
            .filter_map(|v| r[v].map(|(d, spb)| d + bytes as f64 * spb))
            .min_by(f64::total_cmp)
    }
    fn serving_satellite(&self, ground: NodeIdx) -> Option<NodeIdx> {
        self.neighbours(ground)
            .filter(|&(u, _, _)| self.kind(u) == NodeKind::Satellite)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(u, _, _)| u)
    }
    fn queue_wait_s(&self, node: NodeIdx) -> f64 {
        if self.computes(node) {
            self.queue_s[node as usize]
        } else {
            f64::INFINITY
        }
    }
    fn compute_s(&self, node: NodeIdx, work_flop: f64) -> f64 {
        let r = self.rate[node as usize];
        if r > 0.0 {
            work_flop / r
        } else {
            f64::INFINITY
        }
    }
    fn fits_memory(&self, node: NodeIdx, bytes: u64) -> bool {
        bytes <= self.memory[node as usize]
    }
    fn search(
        &self,
        from: NodeIdx,
        bytes: u64,
        max_delay_s: f64,
        visit: &mut dyn FnMut(&Reached) -> Search,
    ) {
        let routes = self.routes(from);
        let mut order: Vec<(f64, u32)> = routes
            .iter()
            .enumerate()
            .filter_map(|(v, r)| r.map(|(d, _)| (d, v as u32)))
            .filter(|&(d, v)| d <= max_delay_s && self.computes(v))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, v) in order {
            let (delay_s, s_per_byte) = routes[v as usize].unwrap();
            let r = Reached {
                node: v,
                delay_s,
                arrive_s: delay_s + bytes as f64 * s_per_byte,
                s_per_byte,
            };
            if visit(&r) == Search::Stop {
                return;
            }
        }
    }
    fn power(&self, node: NodeIdx) -> Option<PowerState> {
        self.power[node as usize]
    }
    fn next_contact(&self, ground: NodeIdx) -> Option<(f64, NodeIdx)> {
        self.contact[ground as usize]
    }
    fn free_slots(&self, node: NodeIdx) -> u32 {
        self.free[node as usize]
    }
}

/// A one-stage task at `origin` arriving now: `work` FLOP, `input` bytes, deadline in
/// `deadline_s`, its result of 1 kB for `destination`.
pub fn task(
    origin: NodeIdx,
    work: f64,
    input: u64,
    deadline_s: f64,
    destination: Destination,
) -> Task {
    Task {
        id: 1,
        kind: TaskKind::EarthObservation,
        arrival: Epoch::from_unix_ns(T0_NS),
        origin,
        destination,
        deadline: Epoch::from_unix_ns(T0_NS + (deadline_s * 1e9) as i64),
        stages: vec![Stage {
            work_flop: work,
            efficiency: 1.0,
            input_bytes: input,
            output_bytes: 1_000,
            memory_bytes: 1_000_000_000,
            pin: Pin::Free,
            after: vec![],
        }],
    }
}

/// A satellite in sunlight with a full battery and a cool radiator.
pub fn healthy() -> PowerState {
    PowerState {
        soc_fraction: 0.9,
        floor_fraction: 0.7,
        battery_wh: 2_000.0,
        eclipse_in_s: 1_000.0,
        eclipse_end_in_s: 3_100.0,
        temp_k: 290.0,
        temp_limit_k: 358.0,
        rate_fraction: 1.0,
        heat_headroom_s: f64::INFINITY,
        sustained_fraction: 1.0,
        slot_busy_w: 60.0,
        bus_w: 300.0,
    }
}
