//! The twin: the world at the current step. Its node table and compute slots, every
//! satellite's power, thermal and radiation state, the topology snapshot with the links
//! that came and went, and the gateway routing trees. Drivers (the simulator's event loop,
//! the live service) move it step by step and tell it what only they know: how loaded
//! each node is ([`Occupancy`]), which nodes are down or reported on by an agent.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;
use tiandi_network::{
    ContactEvent, GatewayTree, LinkKind, Network, NetworkError, NodeId, NodeKind, Snapshot,
    SnapshotBuilder, diff_links, ground_roots,
};
use tiandi_node::{Environment, FaultModel, FaultRng, NodeState, ParamError, StepResult};
use tiandi_orbit::{Epoch, Frame, PropagationError, Satellite, ecef_to_geodetic};

use crate::setup::SimSetup;
use crate::view::Occupancy;

/// Initial battery state of charge and temperature of every satellite.
const INITIAL_SOC_FRACTION: f64 = 0.9;
const INITIAL_TEMP_K: f64 = 293.15;
/// Marks "no compute" in the node-to-compute index.
const NONE: u32 = u32::MAX;
/// Steps replayed at most when a driver jumps ahead (a service restarted after a long
/// pause); older ones are skipped and the node model resumes from its last state.
pub const MAX_CATCH_UP_STEPS: i64 = 360;

/// Why a twin could not be built or stepped.
#[derive(Debug, thiserror::Error)]
pub enum TwinError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Propagation(#[from] PropagationError),
    #[error("satellite {satellite}: {source}")]
    Node {
        satellite: usize,
        source: ParamError,
    },
}

/// The compute capacity of a node: identical slots, each running one stage at a time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ComputeSpec {
    pub slots: u32,
    pub slot_flops: f64,
    pub slot_memory_bytes: u64,
}

/// A satellite's modelled condition after the last step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SatStatus {
    pub soc_fraction: f64,
    pub temp_k: f64,
    /// Throughput of a powered slot as a fraction of its peak.
    pub rate_fraction: f64,
    pub sunlit_fraction: f64,
    pub payload_w: f64,
}

/// What a node's agent reports about it; each value given overrides the model.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodeReport {
    /// Battery state of charge, 0..1.
    pub battery_soc: Option<f64>,
    pub temperature_k: Option<f64>,
    /// The node says it cannot compute.
    pub failed: Option<bool>,
    /// Stages the agent runs at once.
    pub slots: Option<u32>,
}

/// A single-event upset drawn for the coming step: it strikes device `device` of
/// satellite `satellite` (devices beyond those running a stage were idle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upset {
    pub satellite: u32,
    pub device: u32,
}

/// What one step of the twin produced, for the driver's books.
#[derive(Debug, Default)]
pub struct StepReport {
    /// The node model's outcome for every satellite, in satellite order.
    pub physics: Vec<StepResult>,
    /// Radiation upsets, in the order they were drawn.
    pub upsets: Vec<Upset>,
    /// Links that came up or went down at this step (none at the first step: it is the
    /// baseline).
    pub link_changes: Vec<ContactEvent>,
}

/// Where a transfer goes: one node, or any ground station or data centre.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dest {
    Node(u32),
    AnyGround,
}

/// The fixed part: what the scenario says and nothing changes.
struct World {
    net: Arc<Network>,
    sats: Arc<Vec<Satellite>>,
    kinds: Vec<NodeKind>,
    start_ns: i64,
    step_ns: i64,
    /// Compute nodes in order: satellites, then data centres.
    computes: Vec<u32>,
    /// Each node's position in `computes`, `NONE` when it cannot compute.
    compute_of: Vec<u32>,
    specs: Vec<ComputeSpec>,
    data_centres: Vec<u32>,
    outages: Vec<(u32, Epoch, Epoch)>,
}

/// A link's current spell of presence, in steps.
#[derive(Clone, Copy, Debug)]
struct Spell {
    up_since_step: i64,
    last_seen_step: i64,
}

/// The topology at the current step.
struct Topology {
    builder: SnapshotBuilder<'static>,
    /// The current step; `i64::MIN` before the first.
    step: i64,
    spells: HashMap<(u32, u32), Spell>,
    links: Vec<(u32, u32, LinkKind)>,
    scratch: Vec<(u32, u32, LinkKind)>,
}

/// Shortest-delay trees on the current snapshot, built on first use.
#[derive(Default)]
struct TreeCache {
    trees: HashMap<Dest, GatewayTree>,
    spare: Vec<GatewayTree>,
}

impl TreeCache {
    fn clear(&mut self) {
        let TreeCache { trees, spare } = self;
        spare.extend(trees.drain().map(|(_, t)| t));
    }
}

/// The node model of every satellite and what it allows each compute node.
struct Physics {
    states: Vec<NodeState>,
    status: Vec<SatStatus>,
    /// Slots powered in this step, per compute node.
    allowed: Vec<u32>,
    /// Throughput of one powered slot as a fraction of its peak, per compute node.
    rate_fraction: Vec<f64>,
    radiation: Option<FaultModel>,
    fault_rngs: Vec<FaultRng>,
}

/// What the drivers say about nodes.
struct Liveness {
    /// Nodes that neither compute nor relay now: outages and `forced_down`.
    down: Vec<bool>,
    /// Set by the driver (lost agents, reported failures).
    forced_down: Vec<bool>,
    reports: Vec<Option<NodeReport>>,
    /// Whether a live agent serves the node.
    agent_live: Vec<bool>,
    agent_data_centres: Vec<u32>,
}

/// The world at the current step; see the module documentation.
pub struct Twin {
    world: World,
    topo: Topology,
    trees: RefCell<TreeCache>,
    physics: Physics,
    live: Liveness,
}

impl Twin {
    /// The twin of `setup`'s world (its tasks and end are not read), before its first step.
    pub fn new(setup: &SimSetup) -> Result<Twin, TwinError> {
        let net = Arc::new(Network::new(setup.network.clone())?);
        let n_nodes = net.n_nodes();
        let n_sats = setup.satellites.len();
        let kinds: Vec<NodeKind> = (0..n_nodes as u32).map(|i| net.kind(NodeId(i))).collect();
        let mut compute_of = vec![NONE; n_nodes];
        let mut computes = Vec::new();
        let mut specs = Vec::new();
        let mut allowed = Vec::new();
        let mut rate_fraction = Vec::new();
        for (i, cfg) in setup.satellite_nodes.iter().enumerate().take(n_sats) {
            let slots = cfg.n_accelerators.round().max(1.0) as u32;
            compute_of[i] = computes.len() as u32;
            computes.push(i as u32);
            specs.push(ComputeSpec {
                slots,
                slot_flops: cfg.accelerator.fp16_tflops_dense * 1e12 * cfg.n_accelerators
                    / f64::from(slots),
                slot_memory_bytes: (cfg.accelerator.memory_gb * 1e9) as u64,
            });
            // Until the first step grants power, every slot may run at full rate.
            allowed.push(slots);
            rate_fraction.push(1.0);
        }
        let first_dc = net.first_data_centre();
        let mut data_centres = Vec::new();
        for (j, dc) in setup.network.data_centres.iter().enumerate() {
            let node = (first_dc + j) as u32;
            let slots = (dc.compute_capacity_flops / setup.data_centre_slot_flops)
                .floor()
                .max(1.0) as u32;
            compute_of[node as usize] = computes.len() as u32;
            computes.push(node);
            data_centres.push(node);
            specs.push(ComputeSpec {
                slots,
                slot_flops: setup.data_centre_slot_flops,
                slot_memory_bytes: setup.data_centre_slot_memory_bytes,
            });
            allowed.push(slots);
            rate_fraction.push(1.0);
        }
        let states = setup
            .satellite_nodes
            .iter()
            .take(n_sats)
            .enumerate()
            .map(|(i, cfg)| {
                NodeState::new(
                    cfg.clone(),
                    INITIAL_SOC_FRACTION.max(1.0 - cfg.battery.dod_limit()),
                    INITIAL_TEMP_K,
                    0.0,
                )
                .map_err(|source| TwinError::Node {
                    satellite: i,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Twin {
            world: World {
                net: net.clone(),
                sats: Arc::new(setup.satellites.clone()),
                kinds,
                start_ns: setup.start.unix_ns(),
                step_ns: setup.step_ns,
                computes,
                compute_of,
                specs,
                data_centres,
                outages: setup.faults.outages.clone(),
            },
            topo: Topology {
                builder: SnapshotBuilder::shared(net),
                step: i64::MIN,
                spells: HashMap::new(),
                links: Vec::new(),
                scratch: Vec::new(),
            },
            trees: RefCell::new(TreeCache::default()),
            physics: Physics {
                status: vec![SatStatus::default(); states.len()],
                states,
                allowed,
                rate_fraction,
                radiation: setup.faults.radiation.clone(),
                fault_rngs: (0..n_sats as u64)
                    .map(|i| FaultRng::new(setup.seed, i))
                    .collect(),
            },
            live: Liveness {
                down: vec![false; n_nodes],
                forced_down: vec![false; n_nodes],
                reports: vec![None; n_nodes],
                agent_live: vec![false; n_nodes],
                agent_data_centres: Vec::new(),
            },
        })
    }

    // ----- the node table ----------------------------------------------------------------

    pub fn network(&self) -> &Arc<Network> {
        &self.world.net
    }

    pub fn satellites(&self) -> &Arc<Vec<Satellite>> {
        &self.world.sats
    }

    pub fn n_nodes(&self) -> usize {
        self.world.kinds.len()
    }

    pub fn n_sats(&self) -> usize {
        self.world.sats.len()
    }

    pub fn kind(&self, v: u32) -> NodeKind {
        self.world.kinds[v as usize]
    }

    pub fn kinds(&self) -> &[NodeKind] {
        &self.world.kinds
    }

    /// Whether a result delivered to `v` has reached the ground segment (a ground station
    /// or a data centre; a user region is not).
    pub fn is_ground_segment(&self, v: u32) -> bool {
        matches!(self.kind(v), NodeKind::GroundStation | NodeKind::DataCentre)
    }

    pub fn step_ns(&self) -> i64 {
        self.world.step_ns
    }

    /// The step holding twin time `t_ns`.
    pub fn step_of(&self, t_ns: i64) -> i64 {
        (t_ns - self.world.start_ns).div_euclid(self.world.step_ns)
    }

    /// When step `step` starts, ns.
    pub fn step_start_ns(&self, step: i64) -> i64 {
        self.world.start_ns + step * self.world.step_ns
    }

    /// Data centres, in network order.
    pub fn data_centres(&self) -> &[u32] {
        &self.world.data_centres
    }

    /// Compute nodes (satellites, then data centres); their position is the compute index.
    pub fn compute_nodes(&self) -> &[u32] {
        &self.world.computes
    }

    /// The compute index of node `v`, `None` when it cannot compute.
    pub fn compute_index(&self, v: u32) -> Option<usize> {
        match self.world.compute_of.get(v as usize) {
            Some(&c) if c != NONE => Some(c as usize),
            _ => None,
        }
    }

    /// A node's compute capacity, with the slot count its agent reports.
    pub fn compute(&self, v: u32) -> Option<ComputeSpec> {
        let mut spec = self.world.specs[self.compute_index(v)?];
        if let Some(slots) = self.report(v).and_then(|r| r.slots) {
            spec.slots = slots.max(1);
        }
        Some(spec)
    }

    // ----- stepping ----------------------------------------------------------------------

    /// Whether the twin has made its first step.
    pub fn ready(&self) -> bool {
        self.topo.step != i64::MIN
    }

    /// The current step (`i64::MIN` before the first).
    pub fn step(&self) -> i64 {
        self.topo.step
    }

    /// Makes step `step` current: builds its topology, marks outages, steps every
    /// satellite's node model over `dt_s` for the slots `occupancy` demands, and draws the
    /// radiation upsets of the step. Steps must come in increasing order.
    pub fn begin_step(
        &mut self,
        step: i64,
        dt_s: f64,
        occupancy: &dyn Occupancy,
    ) -> Result<StepReport, TwinError> {
        assert!(
            self.topo.step == i64::MIN || step > self.topo.step,
            "step {step} after step {}",
            self.topo.step
        );
        let t0 = self.step_start_ns(step);
        let t = Epoch::from_unix_ns(t0);
        self.topo.builder.build(&self.world.sats, t)?;
        let link_changes = self.track_links(step, t);
        self.topo.step = step;
        self.mark_down(t0);
        self.trees.get_mut().clear();
        let physics = self.step_physics(t, dt_s, occupancy)?;
        let upsets = self.draw_upsets(dt_s);
        Ok(StepReport {
            physics,
            upsets,
            link_changes,
        })
    }

    /// Moves a driver that follows a clock to twin time `now_ns`: every step from the one
    /// after the current (at most [`MAX_CATCH_UP_STEPS`] back) to the one holding `now_ns`.
    /// Returns the link changes of those steps; nothing when `now_ns` is in the current
    /// step.
    pub fn advance_to(
        &mut self,
        now_ns: i64,
        occupancy: &dyn Occupancy,
    ) -> Result<Vec<ContactEvent>, TwinError> {
        let step = self.step_of(now_ns);
        if self.ready() && step <= self.topo.step {
            return Ok(Vec::new());
        }
        let first = if self.ready() {
            (self.topo.step + 1).max(step - MAX_CATCH_UP_STEPS)
        } else {
            step
        };
        let dt_s = self.world.step_ns as f64 / 1e9;
        let mut changes = Vec::new();
        for k in first..=step {
            changes.extend(self.begin_step(k, dt_s, occupancy)?.link_changes);
        }
        Ok(changes)
    }

    /// Updates the links' spells of presence and lists what changed since the last step.
    fn track_links(&mut self, step: i64, t: Epoch) -> Vec<ContactEvent> {
        let topo = &mut self.topo;
        let snap = topo.builder.snapshot();
        let consecutive = topo.step != i64::MIN && topo.step == step - 1;
        for l in snap.links() {
            let s = topo.spells.entry((l.a, l.b)).or_insert(Spell {
                up_since_step: step,
                last_seen_step: i64::MIN,
            });
            if !consecutive || s.last_seen_step != step - 1 {
                s.up_since_step = step;
            }
            s.last_seen_step = step;
        }
        topo.scratch.clear();
        topo.scratch
            .extend(snap.links().iter().map(|l| (l.a, l.b, l.kind)));
        let mut changes = Vec::new();
        if topo.step != i64::MIN {
            diff_links(&topo.links, &topo.scratch, t, &mut changes);
        }
        std::mem::swap(&mut topo.links, &mut topo.scratch);
        changes
    }

    fn mark_down(&mut self, t0: i64) {
        let n_sats = self.n_sats();
        let live = &mut self.live;
        for (v, d) in live.down.iter_mut().enumerate() {
            let outage = v < n_sats
                && self.world.outages.iter().any(|&(s, from, to)| {
                    s as usize == v && from.unix_ns() <= t0 && t0 < to.unix_ns()
                });
            *d = outage || live.forced_down[v];
        }
    }

    /// Node physics of every satellite for the coming step, in parallel: power for the
    /// slots in demand (at least one, a warm standby, so new work can start at once), then
    /// the rate of a powered slot.
    fn step_physics(
        &mut self,
        t: Epoch,
        dt_s: f64,
        occupancy: &dyn Occupancy,
    ) -> Result<Vec<StepResult>, TwinError> {
        let sun = tiandi_orbit::sun_position_km(t);
        let n_sats = self.n_sats();
        let demands: Vec<(u32, u32, bool)> = (0..n_sats)
            .map(|i| {
                let slots = self.world.specs[i].slots;
                let load = occupancy.load(i as u32);
                (
                    (load.running + load.queued).clamp(1, slots),
                    slots,
                    self.live.down[i],
                )
            })
            .collect();
        let sats = &self.world.sats;
        let results: Vec<StepResult> = self
            .physics
            .states
            .par_iter_mut()
            .zip(sats.par_iter())
            .zip(demands.par_iter())
            .map(|((state, sat), &(demand, slots, down))| {
                let s = sat.state_at(t, Frame::Teme)?;
                let env = Environment::from_geometry(s.position_km, s.velocity_km_s, sun);
                let requested_w = if down {
                    0.0
                } else {
                    state.config().payload_max_w() * f64::from(demand) / f64::from(slots)
                };
                Ok((state.step(dt_s, &env, requested_w), env.sunlit_fraction))
            })
            .collect::<Result<Vec<_>, PropagationError>>()?
            .into_iter()
            .enumerate()
            .map(|(i, (r, sunlit_fraction))| {
                let (demand, slots, down) = demands[i];
                // Only the demanded slots are powered: the granted power is shared by
                // their accelerators (and host share), and each runs at its throttle
                // curve's fraction.
                let cfg = self.physics.states[i].config();
                let fraction = if down || r.granted_w <= 0.0 {
                    0.0
                } else {
                    let powered_accels = cfg.n_accelerators * f64::from(demand) / f64::from(slots);
                    let per_accel_w = r.granted_w
                        / powered_accels
                        / (1.0 + cfg.accelerator.host_overhead_fraction);
                    cfg.accelerator.throughput_fraction(per_accel_w)
                };
                let fraction = fraction.min(1.0);
                self.physics.rate_fraction[i] = fraction;
                self.physics.allowed[i] = if fraction > 0.0 { demand } else { 0 };
                self.physics.status[i] = SatStatus {
                    soc_fraction: r.soc_wh / cfg.battery.capacity_wh(),
                    temp_k: r.temp_k,
                    rate_fraction: fraction,
                    sunlit_fraction,
                    payload_w: r.granted_w,
                };
                r
            })
            .collect();
        Ok(results)
    }

    /// Radiation upsets for the coming step, drawn at its start: each hits one device of
    /// its satellite at random.
    fn draw_upsets(&mut self, dt_s: f64) -> Vec<Upset> {
        let Some(model) = &self.physics.radiation else {
            return Vec::new();
        };
        let snap = self.topo.builder.snapshot();
        let mut out = Vec::new();
        for i in 0..self.n_sats() {
            let g = ecef_to_geodetic(snap.sat_ecef_km()[i]);
            let slots = self.world.specs[i].slots;
            let rng = &mut self.physics.fault_rngs[i];
            let n = model.faults_between(&g, &g, dt_s, slots, rng);
            for _ in 0..n.min(u64::from(slots) * 4) {
                let device = (rng.next_u64() % u64::from(slots)) as u32;
                out.push(Upset {
                    satellite: i as u32,
                    device,
                });
            }
        }
        out
    }

    // ----- state at the current step ------------------------------------------------------

    /// The topology at the current step (empty before the first).
    pub fn snapshot(&self) -> &Snapshot {
        self.topo.builder.snapshot()
    }

    /// The first step of link `(a, b)`'s current spell (a < b), `None` when it is not
    /// present now.
    pub fn link_up_since(&self, a: u32, b: u32) -> Option<i64> {
        self.topo
            .spells
            .get(&(a, b))
            .filter(|s| s.last_seen_step == self.topo.step)
            .map(|s| s.up_since_step)
    }

    /// Whether node `v` neither computes nor relays now.
    pub fn is_down(&self, v: u32) -> bool {
        self.live.down[v as usize]
    }

    pub fn down(&self) -> &[bool] {
        &self.live.down
    }

    /// A satellite's modelled condition after the last step.
    pub fn sat_status(&self, sat: u32) -> SatStatus {
        self.physics.status[sat as usize]
    }

    /// Slots of compute node `c` (a compute index) powered in this step, capped by what
    /// its agent reports.
    pub fn powered_slots(&self, c: usize) -> u32 {
        let v = self.world.computes[c];
        match self.report(v).and_then(|r| r.slots) {
            Some(slots) => self.physics.allowed[c].min(slots.max(1)),
            None => self.physics.allowed[c],
        }
    }

    /// FLOP/s of one powered slot of compute node `c` (a compute index) by the model.
    pub fn slot_rate_of(&self, c: usize) -> f64 {
        self.world.specs[c].slot_flops * self.physics.rate_fraction[c]
    }

    /// FLOP/s of one slot of node `v` now; 0 when it cannot compute (no compute, down, no
    /// power, or its agent reports it failed, over temperature or under its battery floor).
    pub fn slot_rate_flops(&self, v: u32) -> f64 {
        let Some(c) = self.compute_index(v) else {
            return 0.0;
        };
        if self.live.down[v as usize] {
            return 0.0;
        }
        if let Some(r) = self.report(v) {
            if r.failed == Some(true) {
                return 0.0;
            }
            if (v as usize) < self.n_sats() {
                let cfg = self.physics.states[v as usize].config();
                let hot = r
                    .temperature_k
                    .is_some_and(|t| t > cfg.thermal.temp_limit_k());
                let flat = r
                    .battery_soc
                    .is_some_and(|s| s <= 1.0 - cfg.battery.dod_limit());
                if hot || flat {
                    return 0.0;
                }
            }
        }
        self.slot_rate_of(c)
    }

    /// The satellite a ground node is linked to with the best delay (not one that is down).
    pub fn serving_satellite(&self, ground: u32) -> Option<u32> {
        self.snapshot()
            .neighbours(ground)
            .iter()
            .filter(|a| {
                self.kind(a.node) == NodeKind::Satellite && !self.live.down[a.node as usize]
            })
            .min_by(|a, b| a.delay_ms.total_cmp(&b.delay_ms).then(a.node.cmp(&b.node)))
            .map(|a| a.node)
    }

    // ----- what drivers say ----------------------------------------------------------------

    /// Marks a node down or up (lost agent, reported failure) from now on; routes are
    /// recomputed.
    pub fn set_down(&mut self, v: u32, down: bool) {
        let i = v as usize;
        if self.live.forced_down[i] != down {
            self.live.forced_down[i] = down;
            let t0 = if self.ready() {
                self.step_start_ns(self.topo.step)
            } else {
                self.world.start_ns
            };
            self.mark_down(t0);
            self.trees.get_mut().clear();
        }
    }

    pub fn set_agent_live(&mut self, v: u32, live: bool) {
        self.live.agent_live[v as usize] = live;
        let agent_live = &self.live.agent_live;
        self.live.agent_data_centres = self
            .world
            .data_centres
            .iter()
            .copied()
            .filter(|&d| agent_live[d as usize])
            .collect();
    }

    pub fn agent_live(&self, v: u32) -> bool {
        self.live.agent_live[v as usize]
    }

    /// Data centres served by a live agent, in network order.
    pub fn agent_data_centres(&self) -> &[u32] {
        &self.live.agent_data_centres
    }

    pub fn set_report(&mut self, v: u32, report: NodeReport) {
        self.live.reports[v as usize] = Some(report);
    }

    pub fn report(&self, v: u32) -> Option<&NodeReport> {
        self.live.reports[v as usize].as_ref()
    }

    // ----- routes ----------------------------------------------------------------------------

    /// Runs `f` on the shortest-delay gateway tree towards `dest` on the current snapshot
    /// (built on first use in a step, skipping nodes that are down).
    pub fn with_tree<R>(&self, dest: Dest, f: impl FnOnce(&GatewayTree, &Snapshot) -> R) -> R {
        let snap = self.snapshot();
        let mut cache = self.trees.borrow_mut();
        let TreeCache { trees, spare } = &mut *cache;
        let tree = trees.entry(dest).or_insert_with(|| {
            let mut tree = spare.pop().unwrap_or_default();
            let roots: Vec<(u32, f64)> = match dest {
                Dest::Node(n) => vec![(n, 0.0)],
                Dest::AnyGround => ground_roots(&self.world.kinds),
            };
            let kinds = &self.world.kinds;
            tree.build(
                snap,
                &roots,
                &|v| kinds[v as usize] != NodeKind::Satellite,
                &self.live.down,
            );
            tree
        });
        f(tree, snap)
    }

    /// Nodes from `from` to `to` along the current shortest-delay route (both ends
    /// included); empty when there is none.
    pub fn route(&self, from: u32, to: u32) -> Vec<u32> {
        if from == to {
            return vec![from];
        }
        self.with_tree(Dest::Node(to), |tree, snap| {
            if !tree.reachable(from) {
                return Vec::new();
            }
            let mut path = vec![from];
            let mut at = from;
            for _ in 0..self.n_nodes() {
                match tree.next_hop(snap, at) {
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
}
