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
use tiandi_node::{
    Environment, FaultModel, FaultRng, Grant, Limit, NodeState, ParamError, StepResult,
};
use tiandi_orbit::{Epoch, Frame, PropagationError, Satellite, ecef_to_geodetic};

use crate::plan::Plans;
use crate::setup::{PayloadPower, SimSetup};
use crate::view::{Occupancy, SearchScratch};

/// Seconds per Julian year, for the dose.
const S_PER_YEAR: f64 = 365.25 * 86_400.0;

/// Each satellite's device tolerances, krad(Si), highest first: the accelerator's figure
/// spread log-normally, from the run's seed on a stream of their own.
fn tid_tolerances(setup: &SimSetup) -> Vec<Vec<f64>> {
    let Some(tid) = &setup.faults.tid else {
        return Vec::new();
    };
    setup
        .satellite_nodes
        .iter()
        .enumerate()
        .map(|(i, cfg)| {
            let slots = cfg.n_accelerators.round().max(1.0) as usize;
            let mut rng = FaultRng::new(setup.seed, TID_STREAM + i as u64);
            let mut tol: Vec<f64> = (0..slots)
                .map(|_| {
                    // Box-Muller: a standard normal from two uniforms.
                    let (u1, u2) = (rng.next_f64().max(1e-300), rng.next_f64());
                    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                    cfg.accelerator.tid_tolerance_krad * (tid.spread_sigma * z).exp()
                })
                .collect();
            tol.sort_by(|a, b| b.total_cmp(a));
            tol
        })
        .collect()
}

/// Stream offset of the TID draws (the upsets use streams 0..n_sats).
const TID_STREAM: u64 = 1 << 40;

/// Initial battery state of charge of every satellite (raised to the battery's
/// depth-of-discharge floor where that is higher) and initial temperature.
pub const INITIAL_SOC_FRACTION: f64 = 0.9;
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
    #[error("contact and eclipse plan: {0}")]
    Plan(#[from] tiandi_orbit::ContactError),
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
    /// Average payload power over the last settled step, W.
    pub payload_w: f64,
    /// Accelerator slots powered in the current step.
    pub powered_slots: u32,
    /// What bounds the current step's payload power below its demand.
    pub limit: Limit,
    /// Devices retired by total ionizing dose.
    pub retired_devices: u32,
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

/// A single-event upset drawn for the coming step: at `at_ns` it strikes device (slot)
/// `device` of satellite `satellite`. It disturbs work only if a stage runs on that device
/// then, so stages are hit in proportion to their busy time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upset {
    pub satellite: u32,
    pub device: u32,
    pub at_ns: i64,
}

/// Where one satellite's energy went in one settled step, Wh: the node model's flows with
/// the payload's share split into computing and idle devices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SatEnergy {
    pub result: StepResult,
    /// Energy of devices while they ran a stage.
    pub compute_wh: f64,
    /// Energy of powered devices while they waited (idle or waking).
    pub idle_wh: f64,
    pub bus_wh: f64,
    pub heater_wh: f64,
    /// Slots powered in the step.
    pub powered_slots: u32,
}

/// What one step of the twin produced, for the driver's books.
#[derive(Debug, Default)]
pub struct StepReport {
    /// Radiation upsets of the step, in time order.
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
    /// The first step made current: its links are taken as acquired.
    first_step: i64,
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

/// The power state of one satellite's accelerator slots in the current step.
#[derive(Clone, Debug, Default)]
struct Devices {
    /// Slots powered now: devices `0..powered`.
    powered: u32,
    /// When each powered device is ready to compute, ns (a device that was off wakes
    /// first). Devices powered earlier are ready earlier: the ready ones are a prefix.
    ready_at_ns: Vec<i64>,
    /// Device-seconds powered in the open step (a device powered mid-step counts from then).
    on_s: f64,
    /// Slots that may be powered: alive and the satellite not down.
    usable: u32,
    /// The step's payload power cap, W.
    cap_w: f64,
    /// Power of one powered slot while it computes (throttled when the grant is short) and
    /// while it idles, W (accelerators and host share).
    busy_w: f64,
    power: Option<SlotPower>,
}

/// The power of one accelerator slot of a satellite with `slots` slots (accelerators and
/// host share), W.
#[derive(Clone, Copy, Debug)]
struct SlotPower {
    max_w: f64,
    idle_w: f64,
    /// Accelerator-equivalents in a slot.
    per_slot: f64,
    host: f64,
}

impl SlotPower {
    fn of(cfg: &tiandi_node::NodeConfig, slots: u32) -> Self {
        let per_slot = cfg.n_accelerators / f64::from(slots);
        let host = 1.0 + cfg.accelerator.host_overhead_fraction;
        SlotPower {
            max_w: cfg.accelerator.system_power_w() * per_slot,
            idle_w: cfg.accelerator.idle_power_w * host * per_slot,
            per_slot,
            host,
        }
    }

    /// The throughput fraction of a slot drawing `busy_w` (0 below idle).
    fn fraction(&self, cfg: &tiandi_node::NodeConfig, busy_w: f64) -> f64 {
        if busy_w <= 0.0 {
            return 0.0;
        }
        cfg.accelerator
            .throughput_fraction(busy_w / self.per_slot / self.host)
            .min(1.0)
    }
}

/// The node model of every satellite and what it allows each compute node.
struct Physics {
    states: Vec<NodeState>,
    status: Vec<SatStatus>,
    /// The open step's grant per satellite, `None` once settled.
    grants: Vec<Option<Grant>>,
    devices: Vec<Devices>,
    /// Length of the open step, s.
    open_dt_s: f64,
    /// End of the open step, ns.
    open_end_ns: i64,
    power: PayloadPower,
    /// Slots powered in this step, per compute node.
    allowed: Vec<u32>,
    /// Throughput of one powered slot as a fraction of its peak, per compute node.
    rate_fraction: Vec<f64>,
    radiation: Option<FaultModel>,
    fault_rngs: Vec<FaultRng>,
    /// Per satellite, each device's TID tolerance, krad(Si), highest first (so the devices
    /// that retire are the highest-numbered); empty without a TID model.
    tid_tolerance: Vec<Vec<f64>>,
    /// Devices usable per satellite (not retired by dose).
    alive: Vec<u32>,
    tid: Option<crate::setup::TidModel>,
    /// Per satellite, for every usable slot computing in this step's environment: seconds
    /// until the temperature limit and the fraction of that power the radiator holds.
    heat: Vec<(f64, f64)>,
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
    pub(crate) search: RefCell<SearchScratch>,
    plans: Plans,
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
                slot_flops: cfg.accelerator.peak_ops() * cfg.n_accelerators / f64::from(slots),
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
                    setup.faults.tid.as_ref().map_or(0.0, |t| t.age_years),
                )
                .map_err(|source| TwinError::Node {
                    satellite: i,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let alive: Vec<u32> = specs.iter().take(n_sats).map(|s| s.slots).collect();
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
                first_step: i64::MIN,
                spells: HashMap::new(),
                links: Vec::new(),
                scratch: Vec::new(),
            },
            trees: RefCell::new(TreeCache::default()),
            search: RefCell::new(SearchScratch::default()),
            plans: Plans::new(&setup.network, n_nodes),
            physics: Physics {
                status: vec![SatStatus::default(); states.len()],
                grants: vec![None; states.len()],
                devices: vec![Devices::default(); states.len()],
                open_dt_s: 0.0,
                open_end_ns: 0,
                power: setup.payload_power.clone(),
                states,
                allowed,
                rate_fraction,
                tid_tolerance: tid_tolerances(setup),
                alive,
                tid: setup.faults.tid.clone(),
                heat: vec![(f64::INFINITY, 1.0); n_sats],
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

    /// Makes step `step` current: builds its topology, marks outages, grants every
    /// satellite's payload power for the slots `occupancy` demands, and draws the radiation
    /// upsets of the step. A step still open is settled first ([`Self::end_step`]). Steps
    /// must come in increasing order.
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
        if self.step_open() {
            self.end_step(occupancy);
        }
        let t0 = self.step_start_ns(step);
        let t = Epoch::from_unix_ns(t0);
        self.topo.builder.build(&self.world.sats, t)?;
        self.plans.cover(&self.world.sats, t0)?;
        let link_changes = self.track_links(step, t);
        self.topo.step = step;
        self.mark_down(t0);
        self.trees.get_mut().clear();
        self.retire_by_dose(t0);
        self.grant_power(t, dt_s, occupancy)?;
        let upsets = self.draw_upsets(t0, dt_s);
        Ok(StepReport {
            upsets,
            link_changes,
        })
    }

    /// Whether the current step has been granted power and not yet settled.
    pub fn step_open(&self) -> bool {
        self.physics.grants.iter().any(Option::is_some)
    }

    /// Settles the open step: each satellite's payload is charged for what its devices did
    /// (busy device-seconds from `occupancy`, or the running stages for the whole step
    /// when the driver does not meter), and its battery and temperature move. Returns the
    /// energy of every satellite, in satellite order (empty when no step is open).
    pub fn end_step(&mut self, occupancy: &dyn Occupancy) -> Vec<SatEnergy> {
        let dt_s = self.physics.open_dt_s;
        let metering = self.physics.power.metering;
        let ph = &mut self.physics;
        let mut out = Vec::with_capacity(ph.states.len());
        for i in 0..ph.states.len() {
            let Some(grant) = ph.grants[i].take() else {
                continue;
            };
            let d = &ph.devices[i];
            let powered_s = d.on_s.min(f64::from(d.powered) * dt_s);
            let busy_s = if !metering {
                powered_s
            } else {
                occupancy.busy_device_s(i as u32).unwrap_or_else(|| {
                    f64::from(occupancy.load(i as u32).running.min(d.powered)) * dt_s
                })
            }
            .clamp(0.0, powered_s);
            let (compute_wh, idle_wh) = match d.power {
                Some(sp) if d.busy_w > 0.0 => (
                    busy_s * d.busy_w / 3_600.0,
                    (powered_s - busy_s) * sp.idle_w / 3_600.0,
                ),
                _ => (0.0, 0.0),
            };
            let payload_w = if dt_s > 0.0 {
                (compute_wh + idle_wh) * 3_600.0 / dt_s
            } else {
                0.0
            };
            // The invariant's mutant: the payload's energy taken twice.
            let drawn_w = if cfg!(feature = "mutant-charge-twice") {
                2.0 * payload_w
            } else {
                payload_w
            };
            let r = ph.states[i].settle(dt_s, &grant, drawn_w);
            let cfg = ph.states[i].config();
            let st = &mut ph.status[i];
            st.soc_fraction = if cfg.battery.capacity_wh() > 0.0 {
                r.soc_wh / cfg.battery.capacity_wh()
            } else {
                0.0
            };
            st.temp_k = r.temp_k;
            st.payload_w = r.granted_w;
            let dt_h = dt_s / 3_600.0;
            // The books are what the devices did, not what the battery saw: the energy
            // invariant compares the two.
            out.push(SatEnergy {
                result: r,
                compute_wh,
                idle_wh,
                bus_wh: r.bus_w * dt_h,
                heater_wh: r.heater_w * dt_h,
                powered_slots: d.powered,
            });
        }
        out
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
        if topo.first_step == i64::MIN {
            topo.first_step = step;
        }
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

    /// Grants every satellite's payload power for the coming step, in parallel. The slots
    /// in demand (running plus queued stages, at least the warm standby) are powered; those
    /// that were off wake first. Each powered slot gets an equal share of what the array,
    /// the battery above its floor and the radiator allow, and runs at the throttle
    /// curve's fraction of its peak for that share.
    fn grant_power(
        &mut self,
        t: Epoch,
        dt_s: f64,
        occupancy: &dyn Occupancy,
    ) -> Result<(), TwinError> {
        let sun = tiandi_orbit::sun_position_km(t);
        let t0 = t.unix_ns();
        let warm_min = self.physics.power.warm_devices;
        let wake_ns = (self.physics.power.wake_s * 1e9).round() as i64;
        let n_sats = self.n_sats();
        let demands: Vec<(u32, u32, u32)> = (0..n_sats)
            .map(|i| {
                let slots = self.world.specs[i].slots;
                // Devices retired by dose are never powered again.
                let usable = slots.min(self.physics.alive[i]);
                let load = occupancy.load(i as u32);
                let usable = if self.live.down[i] { 0 } else { usable };
                let want = (load.running + load.queued)
                    .max(warm_min)
                    .max(load.running)
                    .min(usable);
                (want, slots, usable)
            })
            .collect();
        let sats = &self.world.sats;
        let envs: Vec<Environment> = sats
            .par_iter()
            .map(|sat| {
                let s = sat.state_at(t, Frame::Teme)?;
                Ok(Environment::from_geometry(
                    s.position_km,
                    s.velocity_km_s,
                    sun,
                ))
            })
            .collect::<Result<Vec<_>, PropagationError>>()?;
        let ph = &mut self.physics;
        ph.open_dt_s = dt_s;
        ph.open_end_ns = t0 + (dt_s * 1e9).round() as i64;
        let grants: Vec<Grant> = ph
            .states
            .par_iter()
            .zip(envs.par_iter())
            .zip(demands.par_iter())
            .map(|((state, env), &(want, slots, usable))| {
                let SlotPower { max_w, idle_w, .. } = SlotPower::of(state.config(), slots);
                // The cap is asked for every usable slot, so devices can be powered up
                // mid-step when work arrives; the heaters are sized for the slots in demand.
                let mut g = state.grant(
                    dt_s,
                    env,
                    f64::from(usable) * max_w,
                    f64::from(want) * idle_w,
                );
                if g.payload_cap_w >= f64::from(want) * max_w {
                    g.limit = Limit::None;
                }
                g
            })
            .collect();
        for (i, grant) in grants.into_iter().enumerate() {
            let (want, slots, usable) = demands[i];
            let cfg = ph.states[i].config();
            let sp = SlotPower::of(cfg, slots);
            let (max_w, idle_w) = (sp.max_w, sp.idle_w);
            // As many slots as the grant can keep at least idle; each gets an equal share.
            let mut powered = want;
            if idle_w > 0.0 && grant.payload_cap_w < f64::from(powered) * idle_w {
                powered = (grant.payload_cap_w / idle_w).floor() as u32;
            }
            let busy_w = if powered > 0 {
                (grant.payload_cap_w / f64::from(powered)).min(max_w)
            } else {
                0.0
            };
            let fraction = sp.fraction(cfg, busy_w);
            let (powered, busy_w) = if fraction > 0.0 {
                (powered, busy_w)
            } else {
                (0, 0.0)
            };
            // Devices that stay on keep their ready times (a wake longer than a step goes
            // on); the newly powered wake from now.
            let d = &mut ph.devices[i];
            d.ready_at_ns.truncate(powered as usize);
            while d.ready_at_ns.len() < powered as usize {
                d.ready_at_ns.push(t0 + wake_ns);
            }
            d.powered = powered;
            d.on_s = f64::from(powered) * dt_s;
            d.usable = usable;
            d.cap_w = grant.payload_cap_w;
            d.busy_w = busy_w;
            d.power = Some(sp);
            ph.rate_fraction[i] = fraction;
            ph.allowed[i] = powered;
            ph.status[i].limit = grant.limit;
            ph.status[i].rate_fraction = fraction;
            ph.status[i].sunlit_fraction = envs[i].sunlit_fraction;
            ph.heat[i] = ph.states[i].heat_outlook(&envs[i], f64::from(usable) * max_w);
            ph.status[i].powered_slots = powered;
            ph.status[i].retired_devices =
                self.world.specs[i].slots - ph.alive[i].min(self.world.specs[i].slots);
            ph.grants[i] = Some(grant);
        }
        Ok(())
    }

    /// Devices of each satellite still under their TID tolerance at `t0`.
    fn retire_by_dose(&mut self, t0: i64) {
        let Some(tid) = &self.physics.tid else {
            return;
        };
        let years = tid.age_years + (t0 - self.world.start_ns) as f64 / 1e9 / S_PER_YEAR;
        let dose = tid.dose_krad_per_year * years;
        for (alive, tol) in self
            .physics
            .alive
            .iter_mut()
            .zip(&self.physics.tid_tolerance)
        {
            *alive = tol.iter().filter(|&&t| t > dose).count() as u32;
        }
    }

    /// Radiation upsets for the coming step: a Poisson count per satellite over all its
    /// devices, each at a uniform instant of the step on a uniform device.
    fn draw_upsets(&mut self, t0: i64, dt_s: f64) -> Vec<Upset> {
        let Some(model) = &self.physics.radiation else {
            return Vec::new();
        };
        let snap = self.topo.builder.snapshot();
        let dt_ns = (dt_s * 1e9) as i64;
        let mut out = Vec::new();
        for i in 0..self.n_sats() {
            let g = ecef_to_geodetic(snap.sat_ecef_km()[i]);
            let slots = self.world.specs[i].slots;
            let rng = &mut self.physics.fault_rngs[i];
            let n = model.faults_between(&g, &g, dt_s, slots, rng);
            for _ in 0..n.min(u64::from(slots) * 4) {
                let device = (rng.next_u64() % u64::from(slots)) as u32;
                let offset = (rng.next_f64() * dt_ns as f64) as i64;
                out.push(Upset {
                    satellite: i as u32,
                    device,
                    at_ns: t0 + offset.clamp(0, (dt_ns - 1).max(0)),
                });
            }
        }
        out.sort_by_key(|u| (u.at_ns, u.satellite, u.device));
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

    /// When link `(a, b)` (a < b) carries data in its current spell, ns: from the spell's
    /// first step plus the ISL acquisition or GSL handover time (links of the twin's first
    /// step are taken as acquired). `None` when the link is not present now.
    pub fn link_usable_from_ns(&self, a: u32, b: u32) -> Option<i64> {
        let since = self.link_up_since(a, b)?;
        let start = self.step_start_ns(since);
        if since == self.topo.first_step {
            return Some(start);
        }
        let links = self.world.net.config();
        let wait_s = match self.topo.builder.snapshot().find_link(a, b)?.kind {
            LinkKind::Isl => links.isl.acquisition_s,
            LinkKind::Gsl => links.gsl.handover_s,
            _ => 0.0,
        };
        Some(start + (wait_s * 1e9).round() as i64)
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

    /// Satellite `sat`'s node model (battery, temperature, design).
    pub fn node_state(&self, sat: u32) -> &NodeState {
        &self.physics.states[sat as usize]
    }

    /// For satellite `sat` computing on every usable slot in this step's environment:
    /// seconds until its temperature limit, and the fraction of that power its radiator
    /// holds at the limit.
    pub fn heat_outlook(&self, sat: u32) -> (f64, f64) {
        self.physics.heat[sat as usize]
    }

    /// The shadow satellite `sat` is in or enters next, from the plan: seconds until it
    /// starts (0 when under way) and until it ends (both infinite when none is predicted).
    pub fn shadow_times(&self, sat: u32, now_ns: i64) -> (f64, f64) {
        self.plans.shadow_times(sat, now_ns)
    }

    /// The next contact of ground node `v` with a satellite from the plan: seconds until it
    /// starts (0 when under way) and the satellite; `None` when the plan does not follow
    /// the node or predicts none.
    pub fn next_contact(&self, v: u32, now_ns: i64) -> Option<(f64, u32)> {
        self.plans.next_contact(v, now_ns)
    }

    /// Seconds until ground node `v`'s contacts under way end (0 with none; infinite when
    /// the plan does not follow the node).
    pub fn contact_left_s(&self, v: u32, now_ns: i64) -> f64 {
        if self.plans.follows(v) {
            self.plans.contact_left_s(v, now_ns)
        } else {
            f64::INFINITY
        }
    }

    /// Power of one slot of satellite `sat` while it computes in this step, W.
    pub fn slot_busy_w(&self, sat: u32) -> f64 {
        let d = &self.physics.devices[sat as usize];
        match d.power {
            Some(_) if d.busy_w > 0.0 => d.busy_w,
            Some(sp) => sp.max_w,
            None => 0.0,
        }
    }

    /// Slots of compute node `c` (a compute index) ready to compute at `now_ns`: the
    /// powered ones, less those still waking.
    pub fn ready_slots(&self, c: usize, now_ns: i64) -> u32 {
        let powered = self.powered_slots(c);
        match self.physics.devices.get(c) {
            Some(d) => {
                powered.min(d.ready_at_ns.iter().take_while(|&&r| r <= now_ns).count() as u32)
            }
            None => powered,
        }
    }

    /// When compute node `c`'s next waking slot is ready, if one wakes after `now_ns`.
    pub fn wake_at_ns(&self, c: usize, now_ns: i64) -> Option<i64> {
        let d = self.physics.devices.get(c)?;
        d.ready_at_ns.iter().copied().find(|&r| r > now_ns)
    }

    /// Slots compute node `c` can run stages on in this step: the powered ones plus those
    /// [`Self::power_up`] could still switch on within the step's cap.
    pub fn slots_available(&self, c: usize) -> u32 {
        let powered = self.powered_slots(c);
        let Some(d) = self.physics.devices.get(c) else {
            return powered;
        };
        if self.physics.grants.get(c).is_none_or(Option::is_none) {
            return powered;
        }
        let Some(sp) = d.power else {
            return powered;
        };
        let share_w = if d.powered > 0 {
            d.busy_w
        } else {
            d.cap_w.min(sp.max_w)
        };
        if share_w <= 0.0 || share_w < sp.idle_w {
            return powered;
        }
        let more = ((d.cap_w / share_w) * (1.0 + 1e-12)).floor() as u32;
        powered.max(more.min(d.usable))
    }

    /// How long until the `k`-th device (0-based, in readiness order) of compute node `c`
    /// can take a stage, s: 0 for a ready one, the rest of its wake for a waking one, a
    /// whole wake for one still to be powered up.
    pub fn device_ready_in_s(&self, c: usize, k: u32, now_ns: i64) -> f64 {
        let Some(d) = self.physics.devices.get(c) else {
            return 0.0;
        };
        match d.ready_at_ns.get(k as usize) {
            Some(&r) => (r - now_ns).max(0) as f64 / 1e9,
            None => self.physics.power.wake_s,
        }
    }

    /// Powers one more slot of satellite compute node `c` at `now_ns`, mid-step, for work
    /// that has no device: when a usable slot is off and the step's cap holds one more
    /// device at the others' share (so nothing running changes pace). Returns when it is
    /// ready (after the wake); `None` when no slot can be powered.
    pub fn power_up(&mut self, c: usize, now_ns: i64) -> Option<i64> {
        let ph = &mut self.physics;
        if ph.grants.get(c)?.is_none() {
            return None;
        }
        let d = &mut ph.devices[c];
        if d.powered >= d.usable {
            return None;
        }
        let sp = d.power?;
        let n = d.powered + 1;
        if d.powered == 0 {
            // The first device sets the pace: its share of the cap and the throttle curve.
            let busy_w = d.cap_w.min(sp.max_w);
            let fraction = sp.fraction(ph.states[c].config(), busy_w);
            if fraction <= 0.0 {
                return None;
            }
            d.busy_w = busy_w;
            ph.rate_fraction[c] = fraction;
            ph.status[c].rate_fraction = fraction;
        } else if f64::from(n) * d.busy_w > d.cap_w * (1.0 + 1e-12) {
            return None;
        }
        let ready = now_ns + (ph.power.wake_s * 1e9).round() as i64;
        d.ready_at_ns.push(ready);
        d.powered = n;
        d.on_s += (ph.open_end_ns - now_ns).max(0) as f64 / 1e9;
        ph.allowed[c] = n;
        ph.status[c].powered_slots = n;
        Some(ready)
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
