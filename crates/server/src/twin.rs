//! The live digital twin the service decides on: the scenario's network at the twin
//! clock's current step (topology snapshot, shortest-delay trees), each satellite's power
//! and thermal state stepped by the node model, and agent telemetry that overrides it.
//!
//! Pure: the caller passes the time. `PlaceView` is the scheduler's window on it.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tiandi_network::{LinkKind, Network, NodeId, NodeKind, Snapshot, SnapshotBuilder};
use tiandi_node::{Environment, NodeState};
use tiandi_orbit::{Epoch, Frame, Satellite};
use tiandi_scenario::Scenario;
use tiandi_scheduler::{Site, View};
use tiandi_sim::route::Tree;
use tiandi_workload::NodeIdx;

use crate::model::Telemetry;

/// Steps replayed at most when the clock has jumped (a restart after a long pause); older
/// ones are skipped and the node model resumes from its last state.
const MAX_CATCH_UP_STEPS: i64 = 360;
const INITIAL_SOC_FRACTION: f64 = 0.9;
const INITIAL_TEMP_K: f64 = 293.15;

/// Compute capacity of a node.
#[derive(Clone, Copy, Debug)]
pub struct Compute {
    pub slots: u32,
    pub slot_flops: f64,
    pub slot_memory_bytes: u64,
}

/// A satellite's modelled condition after the last step.
#[derive(Clone, Copy, Debug, Default)]
pub struct SatStatus {
    pub soc_fraction: f64,
    pub temp_k: f64,
    /// Throughput of a powered slot as a fraction of its peak.
    pub rate_fraction: f64,
    pub sunlit_fraction: f64,
    pub payload_w: f64,
}

/// A link that appeared or went away at a step.
#[derive(Clone, Copy, Debug)]
pub struct LinkChange {
    pub a: u32,
    pub b: u32,
    pub kind: LinkKind,
    pub up: bool,
}

/// Work placed on each node and not finished: count and FLOP.
#[derive(Clone, Debug, Default)]
pub struct Loads {
    pub active: Vec<u32>,
    pub work_flop: Vec<f64>,
}

impl Loads {
    pub fn new(n: usize) -> Self {
        Loads {
            active: vec![0; n],
            work_flop: vec![0.0; n],
        }
    }
    pub fn add(&mut self, node: u32, work_flop: f64) {
        self.active[node as usize] += 1;
        self.work_flop[node as usize] += work_flop;
    }
    pub fn remove(&mut self, node: u32, work_flop: f64) {
        let i = node as usize;
        self.active[i] = self.active[i].saturating_sub(1);
        self.work_flop[i] = if self.active[i] == 0 {
            0.0
        } else {
            (self.work_flop[i] - work_flop).max(0.0)
        };
    }
}

pub struct Twin {
    pub net: Arc<Network>,
    pub sats: Arc<Vec<Satellite>>,
    pub kinds: Vec<NodeKind>,
    pub names: Vec<String>,
    pub by_name: HashMap<String, u32>,
    pub step_ns: i64,
    /// Index of the current step (twin ns / step_ns); `i64::MIN` before the first.
    step: i64,
    pub snap: Snapshot,
    physics: Vec<NodeState>,
    pub sat_status: Vec<SatStatus>,
    compute: Vec<Option<Compute>>,
    pub data_centres: Vec<u32>,
    /// Nodes that neither compute nor relay (lost agents, reported failures).
    pub down: Vec<bool>,
    pub telemetry: Vec<Option<Telemetry>>,
    /// Whether a live agent serves the node.
    pub agent_live: Vec<bool>,
    agent_dcs: Vec<u32>,
    trees: RefCell<HashMap<Option<u32>, Tree>>,
    links: BTreeSet<(u32, u32)>,
}

impl Twin {
    pub fn new(s: &Scenario) -> Result<Twin, String> {
        let net = Network::new(s.network.clone()).map_err(|e| e.to_string())?;
        let n = net.n_nodes();
        let kinds: Vec<NodeKind> = (0..n as u32).map(|i| net.kind(NodeId(i))).collect();
        let names = s.node_labels();
        let by_name = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        let mut compute = vec![None; n];
        let cfg = &s.node;
        let slots = cfg.n_accelerators.round().max(1.0) as u32;
        for c in compute.iter_mut().take(s.satellites.len()) {
            *c = Some(Compute {
                slots,
                slot_flops: cfg.accelerator.fp16_tflops_dense * 1e12 * cfg.n_accelerators
                    / f64::from(slots),
                slot_memory_bytes: (cfg.accelerator.memory_gb * 1e9) as u64,
            });
        }
        let first_dc = net.first_data_centre();
        let mut data_centres = Vec::new();
        for (j, dc) in s.network.data_centres.iter().enumerate() {
            let node = (first_dc + j) as u32;
            compute[node as usize] = Some(Compute {
                slots: (dc.compute_capacity_flops / s.slot_flops).floor().max(1.0) as u32,
                slot_flops: s.slot_flops,
                slot_memory_bytes: s.slot_memory_bytes,
            });
            data_centres.push(node);
        }
        let physics = (0..s.satellites.len())
            .map(|_| {
                NodeState::new(
                    cfg.clone(),
                    INITIAL_SOC_FRACTION.max(1.0 - cfg.battery.dod_limit()),
                    INITIAL_TEMP_K,
                    0.0,
                )
                .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n_sats = s.satellites.len();
        Ok(Twin {
            net: Arc::new(net),
            sats: Arc::new(s.satellites.clone()),
            kinds,
            names,
            by_name,
            step_ns: s.step_ns,
            step: i64::MIN,
            snap: Snapshot::default(),
            physics,
            sat_status: vec![SatStatus::default(); n_sats],
            compute,
            data_centres,
            down: vec![false; n],
            telemetry: vec![None; n],
            agent_live: vec![false; n],
            agent_dcs: Vec::new(),
            trees: RefCell::new(HashMap::new()),
            links: BTreeSet::new(),
        })
    }

    pub fn n_nodes(&self) -> usize {
        self.kinds.len()
    }

    pub fn n_sats(&self) -> usize {
        self.sats.len()
    }

    pub fn is_ground(&self, v: u32) -> bool {
        self.kinds[v as usize] != NodeKind::Satellite
    }

    pub fn compute(&self, v: u32) -> Option<Compute> {
        let mut c = self.compute[v as usize]?;
        if let Some(slots) = self.telemetry[v as usize].as_ref().and_then(|t| t.slots) {
            c.slots = slots.max(1);
        }
        Some(c)
    }

    /// Whether the twin is at a step yet.
    pub fn ready(&self) -> bool {
        self.step != i64::MIN
    }

    /// Moves the twin to twin time `now_ns`: at a new step, steps the node model of every
    /// satellite (payload demand from `loads`), rebuilds the topology and returns the links
    /// that changed.
    pub fn advance(&mut self, now_ns: i64, loads: &Loads) -> Result<Vec<LinkChange>, String> {
        let step = now_ns.div_euclid(self.step_ns);
        if step == self.step {
            return Ok(Vec::new());
        }
        let first = if self.step == i64::MIN || step < self.step {
            step
        } else {
            (self.step + 1).max(step - MAX_CATCH_UP_STEPS)
        };
        for k in first..=step {
            self.physics_step(Epoch::from_unix_ns(k * self.step_ns), loads)?;
        }
        self.step = step;
        let t = Epoch::from_unix_ns(step * self.step_ns);
        let mut builder = SnapshotBuilder::new(&self.net);
        self.snap = builder
            .build(&self.sats, t)
            .map_err(|e| e.to_string())?
            .clone();
        self.trees.borrow_mut().clear();
        let now: BTreeSet<(u32, u32)> = self.snap.links().iter().map(|l| (l.a, l.b)).collect();
        let mut changes = Vec::new();
        for l in self.snap.links() {
            if !self.links.contains(&(l.a, l.b)) && l.kind != LinkKind::Fibre {
                changes.push(LinkChange {
                    a: l.a,
                    b: l.b,
                    kind: l.kind,
                    up: true,
                });
            }
        }
        for &(a, b) in self.links.difference(&now) {
            let kind = if self.is_ground(a) || self.is_ground(b) {
                LinkKind::Gsl
            } else {
                LinkKind::Isl
            };
            changes.push(LinkChange {
                a,
                b,
                kind,
                up: false,
            });
        }
        // The first snapshot is the baseline, not a burst of changes.
        if self.links.is_empty() {
            changes.clear();
        }
        self.links = now;
        Ok(changes)
    }

    fn physics_step(&mut self, t: Epoch, loads: &Loads) -> Result<(), String> {
        let sun = tiandi_orbit::sun_position_km(t);
        let dt_s = self.step_ns as f64 / 1e9;
        for i in 0..self.physics.len() {
            let s = self.sats[i]
                .state_at(t, Frame::Teme)
                .map_err(|e| format!("satellite {}: {e}", self.names[i]))?;
            let env = Environment::from_geometry(s.position_km, s.velocity_km_s, sun);
            let slots = self.compute[i].map_or(1, |c| c.slots);
            let demand = loads.active[i].clamp(1, slots);
            let state = &mut self.physics[i];
            let requested_w = if self.down[i] {
                0.0
            } else {
                state.config().payload_max_w() * f64::from(demand) / f64::from(slots)
            };
            let r = state.step(dt_s, &env, requested_w);
            let cfg = state.config();
            let powered = cfg.n_accelerators * f64::from(demand) / f64::from(slots);
            let fraction = if r.granted_w <= 0.0 {
                0.0
            } else {
                let per_accel_w =
                    r.granted_w / powered / (1.0 + cfg.accelerator.host_overhead_fraction);
                cfg.accelerator.throughput_fraction(per_accel_w).min(1.0)
            };
            self.sat_status[i] = SatStatus {
                soc_fraction: r.soc_wh / cfg.battery.capacity_wh(),
                temp_k: r.temp_k,
                rate_fraction: fraction,
                sunlit_fraction: env.sunlit_fraction,
                payload_w: r.granted_w,
            };
        }
        Ok(())
    }

    /// Marks a node down or up (lost agent, reported failure); routes are recomputed.
    pub fn set_down(&mut self, v: u32, down: bool) {
        if self.down[v as usize] != down {
            self.down[v as usize] = down;
            self.trees.borrow_mut().clear();
        }
    }

    pub fn set_agent_live(&mut self, v: u32, live: bool) {
        self.agent_live[v as usize] = live;
        self.agent_dcs = self
            .data_centres
            .iter()
            .copied()
            .filter(|&d| self.agent_live[d as usize])
            .collect();
    }

    /// FLOP/s of one slot of `v` now; 0 when it cannot compute.
    pub fn slot_rate_flops(&self, v: u32) -> f64 {
        let Some(c) = self.compute(v) else {
            return 0.0;
        };
        if self.down[v as usize] {
            return 0.0;
        }
        let tele = self.telemetry[v as usize].as_ref();
        if tele.and_then(|t| t.failed) == Some(true) {
            return 0.0;
        }
        if (v as usize) < self.n_sats() {
            let cfg = self.physics[v as usize].config();
            let st = &self.sat_status[v as usize];
            let temp_k = tele.and_then(|t| t.temperature_k).unwrap_or(st.temp_k);
            let soc = tele.and_then(|t| t.battery_soc).unwrap_or(st.soc_fraction);
            if temp_k > cfg.thermal.temp_limit_k() || soc <= 1.0 - cfg.battery.dod_limit() {
                return 0.0;
            }
            // Before the first step the model has not granted power yet: assume full rate.
            let fraction = if self.ready() { st.rate_fraction } else { 1.0 };
            c.slot_flops * fraction
        } else {
            c.slot_flops
        }
    }

    /// Runs `f` on the shortest-delay tree towards `dest` (`None`: any ground node).
    pub fn with_tree<R>(&self, dest: Option<u32>, f: impl FnOnce(&Tree) -> R) -> R {
        let mut trees = self.trees.borrow_mut();
        let tree = trees.entry(dest).or_insert_with(|| {
            let roots: Vec<(u32, f64)> = match dest {
                Some(n) => vec![(n, 0.0)],
                None => tiandi_sim::route::ground_roots(&self.kinds),
            };
            let mut tree = Tree::default();
            let kinds = &self.kinds;
            tree.build(
                &self.snap,
                &roots,
                &|v| kinds[v as usize] != NodeKind::Satellite,
                &self.down,
            );
            tree
        });
        f(tree)
    }

    /// Nodes from `from` to `to` along the current shortest-delay route (both ends
    /// included); empty when there is none.
    pub fn route(&self, from: u32, to: u32) -> Vec<u32> {
        if from == to {
            return vec![from];
        }
        self.with_tree(Some(to), |tree| {
            if !tree.reachable(from) {
                return Vec::new();
            }
            let mut path = vec![from];
            let mut at = from;
            for _ in 0..self.n_nodes() {
                match tree.next_hop(&self.snap, at) {
                    Some((next, _)) => {
                        path.push(next);
                        at = next;
                    }
                    None => break,
                }
            }
            path
        })
    }

    pub fn transfer_s(&self, from: u32, to: u32, bytes: u64) -> Option<f64> {
        if from == to {
            return Some(0.0);
        }
        self.with_tree(Some(to), |tree| {
            tree.transfer_s(&self.snap, from, bytes, &|_| 0.0)
        })
    }

    pub fn serving_satellite(&self, ground: u32) -> Option<u32> {
        self.snap
            .neighbours(ground)
            .iter()
            .filter(|a| {
                self.kinds[a.node as usize] == NodeKind::Satellite && !self.down[a.node as usize]
            })
            .min_by(|a, b| a.delay_ms.total_cmp(&b.delay_ms).then(a.node.cmp(&b.node)))
            .map(|a| a.node)
    }

    pub fn site(&self, v: u32) -> Site {
        match self.kinds[v as usize] {
            NodeKind::Satellite => Site::Satellite,
            NodeKind::GroundStation => Site::GroundStation,
            NodeKind::DataCentre => Site::DataCentre,
            NodeKind::UserTerminal => Site::UserRegion,
        }
    }
}

/// The scheduler's window on the twin and the service's loads at one instant. With
/// `agents_only`, nodes without a live agent cannot compute (a stage that carries a
/// command needs a real executor).
pub struct PlaceView<'a> {
    pub twin: &'a Twin,
    pub loads: &'a Loads,
    pub now_ns: i64,
    pub agents_only: bool,
}

impl PlaceView<'_> {
    fn usable(&self, v: u32) -> bool {
        !self.agents_only || self.twin.agent_live[v as usize]
    }
}

impl View for PlaceView<'_> {
    fn now(&self) -> Epoch {
        Epoch::from_unix_ns(self.now_ns)
    }

    fn site(&self, node: NodeIdx) -> Site {
        self.twin.site(node)
    }

    fn candidates(&self, data_at: NodeIdx) -> Vec<NodeIdx> {
        let t = self.twin;
        let mut out = Vec::new();
        if t.compute[data_at as usize].is_some() {
            out.push(data_at);
        }
        if t.is_ground(data_at) {
            out.extend(t.serving_satellite(data_at));
        }
        for adj in t.snap.neighbours(data_at) {
            if t.kinds[adj.node as usize] == NodeKind::Satellite && !t.down[adj.node as usize] {
                out.push(adj.node);
            }
        }
        out.extend_from_slice(&t.data_centres);
        if self.agents_only {
            // Agents may serve any node, satellites included.
            out.extend(
                (0..t.n_nodes() as u32)
                    .filter(|&v| t.agent_live[v as usize] && t.compute[v as usize].is_some()),
            );
        }
        out.retain(|&v| self.usable(v));
        out.sort_unstable();
        out.dedup();
        out
    }

    fn data_centres(&self) -> &[NodeIdx] {
        if self.agents_only {
            &self.twin.agent_dcs
        } else {
            &self.twin.data_centres
        }
    }

    fn transfer_s(&self, from: NodeIdx, to: NodeIdx, bytes: u64) -> Option<f64> {
        self.twin.transfer_s(from, to, bytes)
    }

    fn to_ground_s(&self, from: NodeIdx, bytes: u64) -> Option<f64> {
        let t = self.twin;
        t.with_tree(None, |tree| tree.transfer_s(&t.snap, from, bytes, &|_| 0.0))
    }

    fn serving_satellite(&self, ground: NodeIdx) -> Option<NodeIdx> {
        self.twin
            .serving_satellite(ground)
            .filter(|&s| self.usable(s))
    }

    fn queue_wait_s(&self, node: NodeIdx) -> f64 {
        let Some(c) = self.twin.compute(node) else {
            return f64::INFINITY;
        };
        if self.loads.active[node as usize] < c.slots {
            return 0.0;
        }
        let rate = self.twin.slot_rate_flops(node) * f64::from(c.slots);
        if rate <= 0.0 {
            f64::INFINITY
        } else {
            self.loads.work_flop[node as usize] / rate
        }
    }

    fn compute_s(&self, node: NodeIdx, work_flop: f64) -> f64 {
        if !self.usable(node) {
            return f64::INFINITY;
        }
        let rate = self.twin.slot_rate_flops(node);
        if rate <= 0.0 {
            f64::INFINITY
        } else {
            work_flop / rate
        }
    }

    fn fits_memory(&self, node: NodeIdx, bytes: u64) -> bool {
        self.usable(node)
            && self
                .twin
                .compute(node)
                .is_some_and(|c| bytes <= c.slot_memory_bytes)
    }
}
