//! The discrete-event engine: tasks arrive, a policy places each stage, data moves hop by
//! hop over the time-varying topology (store and forward when no route exists), stages run
//! on nodes within their power and thermal limits, faults restart or fail them.
//!
//! Time is integer nanoseconds. Events are ordered by (time, sequence number). The topology
//! and node physics advance in fixed steps: a step's snapshot holds from its start until
//! the next step; power is granted per step for the slots in demand at its start (at least
//! one, a warm standby, so new work can start at once).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use rayon::prelude::*;
use tiandi_network::{LinkKind, Network, NetworkError, NodeKind, Snapshot, SnapshotBuilder};
use tiandi_node::{Environment, FaultRng, NodeState, StepResult};
use tiandi_orbit::{Epoch, Frame, PropagationError, ecef_to_geodetic};
use tiandi_scheduler::{Decision, Policy, Site, View};
use tiandi_workload::{Destination, NodeIdx, TaskError};

use crate::model::{FaultRecord, LinkSample, NodeSample, Outcome, RunResult, SimSetup, TaskRecord};
use crate::route::Tree;
use crate::summary::summarise;

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("scenario: {field}: {message}")]
    Setup {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Propagation(#[from] PropagationError),
    #[error("satellite {satellite}: {source}")]
    Node {
        satellite: usize,
        source: tiandi_node::ParamError,
    },
}

const NONE: u32 = u32::MAX;
/// Initial battery state of charge and temperature of every satellite.
const INITIAL_SOC_FRACTION: f64 = 0.9;
const INITIAL_TEMP_K: f64 = 293.15;

/// One hop of one transfer, for the invariant checkers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HopRecord {
    pub task: u64,
    pub transfer: u32,
    pub from: u32,
    pub to: u32,
    pub start: Epoch,
    pub done: Epoch,
    pub bytes: u64,
}

/// What the engine can record beyond the result, for tests.
#[derive(Default)]
pub struct Trace {
    pub hops: Vec<HopRecord>,
    pub deliveries: Vec<Delivery>,
}

/// A transfer that reached its destination, for the invariant checkers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delivery {
    pub transfer: u32,
    pub task: u64,
    pub bytes: u64,
    /// Where the data started.
    pub from: u32,
    /// Where it was delivered.
    pub to: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrive(u32),
    HopDone(u32),
    StageDone { compute: u32, token: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Dest {
    Node(u32),
    AnyGround,
}

/// What a transfer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Payload {
    /// Input of a stage (from the origin or a predecessor).
    StageInput(u16),
    /// The final result.
    Result,
}

struct Transfer {
    task: u32,
    /// Where the data started.
    from: u32,
    payload: Payload,
    bytes: u64,
    at: u32,
    dest: Dest,
    /// The hop in flight: (next node, link endpoints a < b, transmission start ns).
    in_flight: Option<(u32, (u32, u32), i64)>,
}

struct Running {
    task: u32,
    stage: u16,
    remaining_flop: f64,
    since_ns: i64,
    token: u64,
}

struct ComputeNode {
    node: u32,
    slots: u32,
    slot_flops: f64,
    slot_memory_bytes: u64,
    /// Slots powered in this step.
    allowed: u32,
    /// Throughput of one powered slot as a fraction of `slot_flops`.
    rate_fraction: f64,
    running: Vec<Running>,
    queue: VecDeque<(u32, u16)>,
    /// Sum of the work of the queued stages, FLOP.
    queued_flop: f64,
    work_done_step: f64,
}

impl ComputeNode {
    fn rate_flops(&self) -> f64 {
        self.slot_flops * self.rate_fraction
    }

    /// Brings every running stage's remaining work up to `now` at the current rate.
    fn settle(&mut self, now: i64) {
        let rate = self.rate_flops();
        for r in &mut self.running {
            let done = (rate * (now - r.since_ns) as f64 / 1e9).min(r.remaining_flop);
            r.remaining_flop -= done;
            self.work_done_step += done;
            r.since_ns = now;
        }
    }
}

struct TaskRun {
    stage_node: Vec<u32>,
    /// Inputs still travelling to each stage (set when the stage is placed).
    pending_inputs: Vec<u32>,
    /// Predecessors not yet finished, per stage.
    pending_preds: Vec<u16>,
    start: Option<i64>,
    bytes_moved: u64,
    downlink_bytes: u64,
    isl_bytes: u64,
    retries: u32,
    ended: Option<(Outcome, i64)>,
}

#[derive(Clone, Copy, Default)]
struct LinkUse {
    free_at_ns: i64,
    /// First step of the link's current spell of presence.
    up_since_step: u32,
    /// Last step the link was present in (`u32::MAX` before it ever was).
    last_seen_step: u32,
}

struct Engine<'s> {
    setup: &'s SimSetup,
    n_sats: usize,
    kinds: Vec<NodeKind>,
    snap: Snapshot,
    now: i64,
    step: u32,
    step_ns: i64,
    down: Vec<bool>,
    trees: RefCell<HashMap<Dest, Tree>>,
    spare_trees: RefCell<Vec<Tree>>,
    compute_of: Vec<u32>,
    computes: Vec<ComputeNode>,
    data_centres: Vec<u32>,
    physics: Vec<NodeState>,
    fault_rngs: Vec<FaultRng>,
    links: HashMap<(u32, u32), LinkUse>,
    link_bytes_step: BTreeMap<(u32, u32), (LinkKind, u64, f64)>,
    events: BinaryHeap<Reverse<(i64, u64, Event)>>,
    seq: u64,
    next_token: u64,
    tasks: Vec<TaskRun>,
    transfers: Vec<Transfer>,
    waiting: Vec<u32>,
    out_links: Vec<LinkSample>,
    out_nodes: Vec<NodeSample>,
    out_faults: Vec<FaultRecord>,
    energy_used_wh: f64,
    energy_curtailed_wh: f64,
    throttled_s: f64,
    trace: Option<&'s mut Trace>,
}

/// Runs one policy over the setup. `on_step(done, total)` is called after every step.
pub fn run(
    setup: &SimSetup,
    policy: &mut dyn Policy,
    on_step: &(dyn Fn(u32, u32) + Sync),
) -> Result<RunResult, SimError> {
    run_traced(setup, policy, on_step, None)
}

/// [`run`], also recording every hop and delivery into `trace` (for invariant checks).
pub fn run_traced(
    setup: &SimSetup,
    policy: &mut dyn Policy,
    on_step: &(dyn Fn(u32, u32) + Sync),
    trace: Option<&mut Trace>,
) -> Result<RunResult, SimError> {
    validate(setup)?;
    let network = Network::new(setup.network.clone())?;
    let mut builder = SnapshotBuilder::new(&network);
    let mut engine = Engine::new(setup, &network, trace)?;
    let n_steps =
        ((setup.end.unix_ns() - setup.start.unix_ns() + setup.step_ns - 1) / setup.step_ns) as u32;
    let mut next_arrival = 0usize;
    for step in 0..n_steps {
        let t0 = setup.start.unix_ns() + i64::from(step) * setup.step_ns;
        let t1 = (t0 + setup.step_ns).min(setup.end.unix_ns());
        engine.begin_step(step, t0, t1, &mut builder)?;
        // Arrivals are fed lazily so the heap holds only what is near.
        while next_arrival < setup.tasks.len() && setup.tasks[next_arrival].arrival.unix_ns() < t1 {
            let at = setup.tasks[next_arrival].arrival.unix_ns().max(t0);
            engine.push(at, Event::Arrive(next_arrival as u32));
            next_arrival += 1;
        }
        while let Some(&Reverse((t, _, ev))) = engine.events.peek() {
            if t >= t1 {
                break;
            }
            engine.events.pop();
            engine.now = t;
            engine.handle(ev, policy);
        }
        engine.end_step(t1);
        on_step(step + 1, n_steps);
    }
    Ok(engine.finish(policy.name(), n_steps))
}

fn validate(setup: &SimSetup) -> Result<(), SimError> {
    let fail = |field, message: String| Err(SimError::Setup { field, message });
    if setup.end <= setup.start {
        return fail(
            "end",
            format!("{} is not after the start {}", setup.end, setup.start),
        );
    }
    if setup.step_ns <= 0 {
        return fail("step", "must be positive".into());
    }
    if setup.satellite_nodes.len() != setup.satellites.len() {
        return fail(
            "satellite_nodes",
            format!(
                "{} configurations for {} satellites",
                setup.satellite_nodes.len(),
                setup.satellites.len()
            ),
        );
    }
    if !(setup.data_centre_slot_flops.is_finite() && setup.data_centre_slot_flops > 0.0) {
        return fail(
            "data_centre_slot_flops",
            format!("must be positive, found {}", setup.data_centre_slot_flops),
        );
    }
    let n_nodes = setup.satellites.len()
        + setup.network.stations.len()
        + setup.network.data_centres.len()
        + setup.network.user_terminals.len();
    let mut last = None;
    for t in &setup.tasks {
        t.validate()?;
        if last.is_some_and(|l| t.arrival < l) {
            return fail(
                "tasks",
                format!("task {} arrives before the one listed ahead of it", t.id),
            );
        }
        last = Some(t.arrival);
        if t.origin as usize >= n_nodes {
            return fail(
                "tasks",
                format!(
                    "task {}: origin node {} does not exist ({n_nodes} nodes)",
                    t.id, t.origin
                ),
            );
        }
    }
    Ok(())
}

impl<'s> Engine<'s> {
    fn new(
        setup: &'s SimSetup,
        net: &Network,
        trace: Option<&'s mut Trace>,
    ) -> Result<Self, SimError> {
        let n_sats = setup.satellites.len();
        let n_nodes = net.n_nodes();
        let kinds: Vec<NodeKind> = (0..n_nodes as u32)
            .map(|i| net.kind(tiandi_network::NodeId(i)))
            .collect();
        let mut compute_of = vec![NONE; n_nodes];
        let mut computes = Vec::new();
        for (i, cfg) in setup.satellite_nodes.iter().enumerate() {
            let slots = cfg.n_accelerators.round().max(1.0) as u32;
            compute_of[i] = computes.len() as u32;
            computes.push(ComputeNode {
                node: i as u32,
                slots,
                slot_flops: cfg.accelerator.fp16_tflops_dense * 1e12 * cfg.n_accelerators
                    / f64::from(slots),
                slot_memory_bytes: (cfg.accelerator.memory_gb * 1e9) as u64,
                allowed: 0,
                rate_fraction: 0.0,
                running: Vec::new(),
                queue: VecDeque::new(),
                queued_flop: 0.0,
                work_done_step: 0.0,
            });
        }
        let first_dc = net.first_data_centre();
        let mut data_centres = Vec::new();
        for (j, dc) in setup.network.data_centres.iter().enumerate() {
            let node = (first_dc + j) as u32;
            let slots = (dc.compute_capacity_flops / setup.data_centre_slot_flops)
                .floor()
                .max(1.0) as u32;
            compute_of[node as usize] = computes.len() as u32;
            data_centres.push(node);
            computes.push(ComputeNode {
                node,
                slots,
                slot_flops: setup.data_centre_slot_flops,
                slot_memory_bytes: setup.data_centre_slot_memory_bytes,
                allowed: slots,
                rate_fraction: 1.0,
                running: Vec::new(),
                queue: VecDeque::new(),
                queued_flop: 0.0,
                work_done_step: 0.0,
            });
        }
        let physics = setup
            .satellite_nodes
            .iter()
            .enumerate()
            .map(|(i, cfg)| {
                NodeState::new(
                    cfg.clone(),
                    INITIAL_SOC_FRACTION.max(1.0 - cfg.battery.dod_limit()),
                    INITIAL_TEMP_K,
                    0.0,
                )
                .map_err(|source| SimError::Node {
                    satellite: i,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tasks = setup
            .tasks
            .iter()
            .map(|t| TaskRun {
                stage_node: vec![NONE; t.stages.len()],
                pending_inputs: vec![0; t.stages.len()],
                pending_preds: t.stages.iter().map(|s| s.after.len() as u16).collect(),
                start: None,
                bytes_moved: 0,
                downlink_bytes: 0,
                isl_bytes: 0,
                retries: 0,
                ended: None,
            })
            .collect();
        Ok(Engine {
            setup,
            n_sats,
            kinds,
            snap: Snapshot::default(),
            now: setup.start.unix_ns(),
            step: 0,
            step_ns: setup.step_ns,
            down: vec![false; n_nodes],
            trees: RefCell::new(HashMap::new()),
            spare_trees: RefCell::new(Vec::new()),
            compute_of,
            computes,
            data_centres,
            physics,
            fault_rngs: (0..n_sats as u64)
                .map(|i| FaultRng::new(setup.seed, i))
                .collect(),
            links: HashMap::new(),
            link_bytes_step: BTreeMap::new(),
            events: BinaryHeap::new(),
            seq: 0,
            next_token: 0,
            tasks,
            transfers: Vec::new(),
            waiting: Vec::new(),
            out_links: Vec::new(),
            out_nodes: Vec::new(),
            out_faults: Vec::new(),
            energy_used_wh: 0.0,
            energy_curtailed_wh: 0.0,
            throttled_s: 0.0,
            trace,
        })
    }

    fn push(&mut self, t: i64, ev: Event) {
        self.seq += 1;
        self.events.push(Reverse((t, self.seq, ev)));
    }

    fn is_ground(&self, v: u32) -> bool {
        self.kinds[v as usize] != NodeKind::Satellite
    }

    // ----- steps -------------------------------------------------------------------------

    fn begin_step(
        &mut self,
        step: u32,
        t0: i64,
        t1: i64,
        builder: &mut SnapshotBuilder<'_>,
    ) -> Result<(), SimError> {
        self.step = step;
        self.now = t0;
        let t = Epoch::from_unix_ns(t0);
        self.snap
            .clone_from(builder.build(&self.setup.satellites, t)?);
        for l in self.snap.links() {
            let u = self.links.entry((l.a, l.b)).or_insert(LinkUse {
                free_at_ns: 0,
                up_since_step: step,
                last_seen_step: u32::MAX,
            });
            if step == 0 || u.last_seen_step != step - 1 {
                u.up_since_step = step;
            }
            u.last_seen_step = step;
        }
        for (i, d) in self.down.iter_mut().enumerate().take(self.n_sats) {
            *d =
                self.setup.faults.outages.iter().any(|&(s, from, to)| {
                    s as usize == i && from.unix_ns() <= t0 && t0 < to.unix_ns()
                });
        }
        {
            let mut trees = self.trees.borrow_mut();
            let mut spare = self.spare_trees.borrow_mut();
            spare.extend(trees.drain().map(|(_, tree)| tree));
        }
        self.physics_step(t, (t1 - t0) as f64 / 1e9)?;
        self.inject_faults(t, (t1 - t0) as f64 / 1e9);
        // Transfers that had no route try again on the new topology.
        for tr in std::mem::take(&mut self.waiting) {
            self.advance_transfer(tr);
        }
        for c in 0..self.computes.len() {
            self.try_start(c);
        }
        Ok(())
    }

    /// Node physics of every satellite for the coming step, in parallel: power for the slots
    /// in demand, then the rate of every running stage.
    fn physics_step(&mut self, t: Epoch, dt_s: f64) -> Result<(), SimError> {
        let sun = tiandi_orbit::sun_position_km(t);
        let demands: Vec<(u32, bool)> = self.computes[..self.n_sats]
            .iter()
            .map(|c| {
                (
                    ((c.running.len() + c.queue.len()) as u32).clamp(1, c.slots),
                    self.down[c.node as usize],
                )
            })
            .collect();
        let sats = &self.setup.satellites;
        let results: Vec<StepResult> = self
            .physics
            .par_iter_mut()
            .zip(sats.par_iter())
            .zip(
                demands
                    .par_iter()
                    .zip(self.computes[..self.n_sats].par_iter()),
            )
            .map(|((state, sat), (&(demand, down), c))| {
                let s = sat.state_at(t, Frame::Teme)?;
                let env = Environment::from_geometry(s.position_km, s.velocity_km_s, sun);
                let requested_w = if down {
                    0.0
                } else {
                    state.config().payload_max_w() * f64::from(demand) / f64::from(c.slots)
                };
                Ok(state.step(dt_s, &env, requested_w))
            })
            .collect::<Result<_, PropagationError>>()?;
        let now = t.unix_ns();
        for (i, r) in results.iter().enumerate() {
            let (demand, down) = demands[i];
            let c = &mut self.computes[i];
            c.settle(now);
            // Only the demanded slots are powered: the granted power is shared by their
            // accelerators (and host share), and each runs at its throttle curve's fraction.
            let cfg = self.physics[i].config();
            let fraction = if down || r.granted_w <= 0.0 {
                0.0
            } else {
                let powered_accels = cfg.n_accelerators * f64::from(demand) / f64::from(c.slots);
                let per_accel_w =
                    r.granted_w / powered_accels / (1.0 + cfg.accelerator.host_overhead_fraction);
                cfg.accelerator.throughput_fraction(per_accel_w)
            };
            c.rate_fraction = fraction.min(1.0);
            c.allowed = if c.rate_fraction > 0.0 { demand } else { 0 };
            self.energy_used_wh += r.granted_w * dt_s / 3_600.0;
            self.energy_curtailed_wh += r.power.curtailed_wh;
            let throttled = r.requested_w > 0.0 && r.granted_w < r.requested_w;
            if throttled {
                self.throttled_s += dt_s;
            }
            let cfg = self.physics[i].config();
            self.out_nodes.push(NodeSample {
                step: self.step,
                satellite: i as u32,
                soc_fraction: (r.soc_wh / cfg.battery.capacity_wh()) as f32,
                temp_k: r.temp_k as f32,
                compute_w: r.granted_w as f32,
                curtailed_w: (r.power.curtailed_wh * 3_600.0 / dt_s.max(1e-9)) as f32,
                throttled,
                work_flop: 0.0,
            });
        }
        for c in 0..self.n_sats {
            self.reschedule_running(c);
        }
        Ok(())
    }

    /// Radiation upsets for the coming step, applied at its start: each upset hits one
    /// device at random; if a stage runs there it restarts (or its task fails).
    fn inject_faults(&mut self, t: Epoch, dt_s: f64) {
        let Some(model) = &self.setup.faults.radiation else {
            return;
        };
        for i in 0..self.n_sats {
            let g = ecef_to_geodetic(self.snap.sat_ecef_km()[i]);
            let slots = self.computes[i].slots;
            let n = model.faults_between(&g, &g, dt_s, slots, &mut self.fault_rngs[i]);
            for _ in 0..n.min(u64::from(slots) * 4) {
                let device = (self.fault_rngs[i].next_u64() % u64::from(slots)) as usize;
                let hit = (device < self.computes[i].running.len()).then_some(device);
                let mut record = FaultRecord {
                    t,
                    satellite: i as u32,
                    task: None,
                    recovered: false,
                };
                if let Some(d) = hit {
                    let task = self.computes[i].running[d].task;
                    record.task = Some(self.setup.tasks[task as usize].id);
                    self.tasks[task as usize].retries += 1;
                    if self.tasks[task as usize].retries > self.setup.faults.max_retries {
                        self.computes[i].running.swap_remove(d);
                        self.end_task(task, Outcome::Failed);
                    } else {
                        let stage = self.computes[i].running[d].stage;
                        let token = self.new_token();
                        let r = &mut self.computes[i].running[d];
                        r.remaining_flop =
                            self.setup.tasks[task as usize].stages[stage as usize].work_flop;
                        r.since_ns = t.unix_ns();
                        r.token = token;
                        record.recovered = true;
                    }
                    self.reschedule_running(i);
                }
                self.out_faults.push(record);
            }
        }
    }

    fn end_step(&mut self, t1: i64) {
        self.now = t1;
        for c in &mut self.computes {
            c.settle(t1);
        }
        let base = self.out_nodes.len() - self.n_sats;
        for i in 0..self.n_sats {
            self.out_nodes[base + i].work_flop = self.computes[i].work_done_step;
        }
        for c in &mut self.computes {
            c.work_done_step = 0.0;
        }
        let step_s = self.step_ns as f64 / 1e9;
        for (&(a, b), &(kind, bytes, cap)) in &self.link_bytes_step {
            self.out_links.push(LinkSample {
                step: self.step,
                a,
                b,
                kind,
                bytes,
                utilisation: bytes as f64 * 8.0 / (cap * step_s),
            });
        }
        self.link_bytes_step.clear();
    }

    fn finish(mut self, policy: &str, n_steps: u32) -> RunResult {
        let end = self.setup.end.unix_ns();
        for ti in 0..self.tasks.len() {
            if self.tasks[ti].ended.is_none() {
                self.tasks[ti].ended = Some((Outcome::Dropped, end));
            }
        }
        let records: Vec<TaskRecord> = self
            .setup
            .tasks
            .iter()
            .zip(&self.tasks)
            .map(|(t, r)| {
                let (outcome, finish) = r.ended.expect("every task has ended");
                TaskRecord {
                    id: t.id,
                    kind: t.kind,
                    arrival: t.arrival,
                    deadline: t.deadline,
                    placement: r
                        .stage_node
                        .iter()
                        .copied()
                        .filter(|&n| n != NONE)
                        .collect(),
                    start: r.start.map(Epoch::from_unix_ns),
                    finish: Epoch::from_unix_ns(finish),
                    bytes_moved: r.bytes_moved,
                    downlink_bytes: r.downlink_bytes,
                    isl_bytes: r.isl_bytes,
                    retries: r.retries,
                    outcome,
                }
            })
            .collect();
        let summary = summarise(
            policy,
            self.setup.seed,
            &records,
            &self.out_faults,
            self.energy_used_wh,
            self.energy_curtailed_wh,
            self.throttled_s,
        );
        RunResult {
            summary,
            tasks: records,
            links: self.out_links,
            nodes: self.out_nodes,
            faults: self.out_faults,
            n_steps,
        }
    }

    // ----- events ------------------------------------------------------------------------

    fn handle(&mut self, ev: Event, policy: &mut dyn Policy) {
        match ev {
            Event::Arrive(ti) => {
                let task = &self.setup.tasks[ti as usize];
                for s in 0..task.stages.len() {
                    if task.stages[s].after.is_empty() {
                        self.ready_stage(ti, s as u16, task.origin, policy);
                    }
                }
            }
            Event::HopDone(tr) => self.hop_done(tr),
            Event::StageDone { compute, token } => self.stage_done(compute as usize, token, policy),
        }
    }

    /// A stage whose predecessors are done: place it and send its inputs.
    fn ready_stage(&mut self, ti: u32, s: u16, data_at: u32, policy: &mut dyn Policy) {
        if self.tasks[ti as usize].ended.is_some() {
            return;
        }
        let task = &self.setup.tasks[ti as usize];
        let decision = {
            let view = EngineView { e: self };
            policy.place(task, s as usize, data_at, &view)
        };
        let node = match decision {
            Decision::Run(n)
                if (n as usize) < self.compute_of.len() && self.compute_of[n as usize] != NONE =>
            {
                n
            }
            // A refusal, or an answer that is not a compute node: the task cannot run.
            _ => {
                self.end_task(ti, Outcome::Dropped);
                return;
            }
        };
        self.tasks[ti as usize].stage_node[s as usize] = node;
        let stage = &task.stages[s as usize];
        let inputs: Vec<(u32, u64)> = if stage.after.is_empty() {
            vec![(task.origin, stage.input_bytes)]
        } else {
            stage
                .after
                .iter()
                .map(|&p| {
                    (
                        self.tasks[ti as usize].stage_node[p as usize],
                        task.stages[p as usize].output_bytes,
                    )
                })
                .collect()
        };
        self.tasks[ti as usize].pending_inputs[s as usize] = inputs.len() as u32;
        for (from, bytes) in inputs {
            self.start_transfer(ti, Payload::StageInput(s), from, Dest::Node(node), bytes);
        }
    }

    fn start_transfer(&mut self, task: u32, payload: Payload, from: u32, dest: Dest, bytes: u64) {
        let id = self.transfers.len() as u32;
        self.transfers.push(Transfer {
            task,
            from,
            payload,
            bytes,
            at: from,
            dest,
            in_flight: None,
        });
        self.advance_transfer(id);
    }

    fn arrived(&self, tr: &Transfer) -> bool {
        match tr.dest {
            Dest::Node(n) => tr.at == n,
            Dest::AnyGround => matches!(
                self.kinds[tr.at as usize],
                NodeKind::GroundStation | NodeKind::DataCentre
            ),
        }
    }

    /// Moves a transfer on: delivered, one more hop, or waiting for a route.
    fn advance_transfer(&mut self, id: u32) {
        let tr = &self.transfers[id as usize];
        if self.tasks[tr.task as usize].ended.is_some() {
            return;
        }
        if self.arrived(tr) {
            self.deliver(id);
            return;
        }
        let (at, dest) = (tr.at, tr.dest);
        let next = self.with_tree(dest, |tree, snap| tree.next_hop(snap, at));
        let Some((next, link)) = next else {
            self.waiting.push(id);
            return;
        };
        let l = *self.snap.link(link);
        let key = (l.a, l.b);
        let bits = self.transfers[id as usize].bytes as f64 * 8.0;
        let use_ = self
            .links
            .get_mut(&key)
            .expect("every link of the snapshot is tracked");
        let start = use_.free_at_ns.max(self.now);
        let tx_ns = (bits / l.capacity_bps * 1e9).ceil() as i64;
        use_.free_at_ns = start + tx_ns;
        let done = start + tx_ns + (l.delay_ms * 1e6).round() as i64;
        self.transfers[id as usize].in_flight = Some((next, key, start));
        self.push(done, Event::HopDone(id));
    }

    fn hop_done(&mut self, id: u32) {
        let Some((next, key, start)) = self.transfers[id as usize].in_flight.take() else {
            return;
        };
        let task = self.transfers[id as usize].task;
        if self.tasks[task as usize].ended.is_some() {
            return;
        }
        let from = self.transfers[id as usize].at;
        // The link must have been up from the step the transmission started in to now, and
        // both ends alive.
        let start_step = ((start - self.setup.start.unix_ns()) / self.step_ns) as u32;
        let continuous = self
            .links
            .get(&key)
            .is_some_and(|u| u.last_seen_step == self.step && u.up_since_step <= start_step);
        let link = self
            .snap
            .find_link(key.0, key.1)
            .copied()
            .filter(|_| continuous);
        match link {
            Some(l) if !self.down[next as usize] && !self.down[from as usize] => {
                let bytes = self.transfers[id as usize].bytes;
                let t = &mut self.tasks[task as usize];
                t.bytes_moved += bytes;
                match l.kind {
                    LinkKind::Isl => t.isl_bytes += bytes,
                    LinkKind::Gsl if self.kinds[from as usize] == NodeKind::Satellite => {
                        t.downlink_bytes += bytes
                    }
                    _ => {}
                }
                let entry = self
                    .link_bytes_step
                    .entry(key)
                    .or_insert((l.kind, 0, l.capacity_bps));
                entry.1 += bytes;
                if let Some(trace) = self.trace.as_deref_mut() {
                    trace.hops.push(HopRecord {
                        task: self.setup.tasks[task as usize].id,
                        transfer: id,
                        from,
                        to: next,
                        start: Epoch::from_unix_ns(start),
                        done: Epoch::from_unix_ns(self.now),
                        bytes,
                    });
                }
                self.transfers[id as usize].at = next;
            }
            // Lost with the link: the data is still at the sender; send again.
            _ => {}
        }
        self.advance_transfer(id);
    }

    fn deliver(&mut self, id: u32) {
        let tr = &self.transfers[id as usize];
        let (ti, payload, at) = (tr.task, tr.payload, tr.at);
        let delivery = Delivery {
            transfer: id,
            task: self.setup.tasks[ti as usize].id,
            bytes: tr.bytes,
            from: tr.from,
            to: at,
        };
        if let Some(trace) = self.trace.as_deref_mut() {
            trace.deliveries.push(delivery);
        }
        match payload {
            Payload::Result => self.end_task(ti, Outcome::Completed),
            Payload::StageInput(s) => {
                let t = &mut self.tasks[ti as usize];
                t.pending_inputs[s as usize] -= 1;
                if t.pending_inputs[s as usize] == 0 {
                    let c = self.compute_of[at as usize] as usize;
                    self.computes[c].queue.push_back((ti, s));
                    self.computes[c].queued_flop +=
                        self.setup.tasks[ti as usize].stages[s as usize].work_flop;
                    self.try_start(c);
                }
            }
        }
    }

    fn new_token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// Starts queued stages while powered slots are free.
    fn try_start(&mut self, c: usize) {
        loop {
            let node = &self.computes[c];
            if node.running.len() as u32 >= node.allowed {
                return;
            }
            let Some((ti, s)) = self.computes[c].queue.pop_front() else {
                return;
            };
            let work = self.setup.tasks[ti as usize].stages[s as usize].work_flop;
            let node = &mut self.computes[c];
            node.queued_flop = if node.queue.is_empty() {
                0.0
            } else {
                (node.queued_flop - work).max(0.0)
            };
            if self.tasks[ti as usize].ended.is_some() {
                continue;
            }
            let token = self.new_token();
            let now = self.now;
            self.tasks[ti as usize].start.get_or_insert(now);
            self.computes[c].running.push(Running {
                task: ti,
                stage: s,
                remaining_flop: work,
                since_ns: now,
                token,
            });
            self.schedule_finish(c, self.computes[c].running.len() - 1);
        }
    }

    fn schedule_finish(&mut self, c: usize, r: usize) {
        let rate = self.computes[c].rate_flops();
        if rate <= 0.0 {
            return; // stalled until the next step gives it power
        }
        let run = &self.computes[c].running[r];
        let at = run.since_ns + (run.remaining_flop / rate * 1e9).ceil() as i64;
        let token = run.token;
        self.push(
            at,
            Event::StageDone {
                compute: c as u32,
                token,
            },
        );
    }

    /// New tokens and finish events for every running stage of a node after a rate change.
    fn reschedule_running(&mut self, c: usize) {
        for r in 0..self.computes[c].running.len() {
            let token = self.new_token();
            self.computes[c].running[r].token = token;
            self.schedule_finish(c, r);
        }
    }

    fn stage_done(&mut self, c: usize, token: u64, policy: &mut dyn Policy) {
        let Some(r) = self.computes[c]
            .running
            .iter()
            .position(|r| r.token == token)
        else {
            return;
        };
        self.computes[c].settle(self.now);
        let run = self.computes[c].running.swap_remove(r);
        let ti = run.task;
        if self.tasks[ti as usize].ended.is_none() {
            let node = self.computes[c].node;
            let task = &self.setup.tasks[ti as usize];
            let s = run.stage;
            if usize::from(s) + 1 == task.stages.len() {
                let bytes = task.stages[s as usize].output_bytes;
                let dest = match task.destination {
                    Destination::Node(n) => Dest::Node(n),
                    Destination::Origin => Dest::Node(task.origin),
                    Destination::AnyGround => Dest::AnyGround,
                };
                self.start_transfer(ti, Payload::Result, node, dest, bytes);
            } else {
                let successors: Vec<u16> = (s + 1..task.stages.len() as u16)
                    .filter(|&k| task.stages[k as usize].after.contains(&s))
                    .collect();
                for k in successors {
                    let t = &mut self.tasks[ti as usize];
                    t.pending_preds[k as usize] -= 1;
                    if t.pending_preds[k as usize] == 0 {
                        self.ready_stage(ti, k, node, policy);
                    }
                }
            }
        }
        self.try_start(c);
    }

    fn end_task(&mut self, ti: u32, outcome: Outcome) {
        let t = &mut self.tasks[ti as usize];
        assert!(t.ended.is_none(), "task {ti} ends twice");
        t.ended = Some((outcome, self.now));
        // Free the slots its other stages hold (only where its stages were placed).
        let mut nodes = t.stage_node.clone();
        nodes.sort_unstable();
        nodes.dedup();
        for node in nodes.into_iter().filter(|&n| n != NONE) {
            let c = self.compute_of[node as usize] as usize;
            let before = self.computes[c].running.len();
            self.computes[c].running.retain(|r| r.task != ti);
            if self.computes[c].running.len() != before {
                self.try_start(c);
            }
        }
    }

    /// Seconds from now until link `link` of `snap` has sent what is queued on it.
    fn link_free_in_s(&self, snap: &Snapshot, link: u32) -> f64 {
        let l = snap.link(link);
        self.links
            .get(&(l.a, l.b))
            .map_or(0.0, |u| (u.free_at_ns - self.now).max(0) as f64 / 1e9)
    }

    /// Runs `f` on the (cached) tree towards `dest` for the current snapshot.
    fn with_tree<R>(&self, dest: Dest, f: impl FnOnce(&Tree, &Snapshot) -> R) -> R {
        let mut trees = self.trees.borrow_mut();
        let tree = trees.entry(dest).or_insert_with(|| {
            let mut tree = self.spare_trees.borrow_mut().pop().unwrap_or_default();
            let roots: Vec<(u32, f64)> = match dest {
                Dest::Node(n) => vec![(n, 0.0)],
                Dest::AnyGround => crate::route::ground_roots(&self.kinds),
            };
            let kinds = &self.kinds;
            tree.build(
                &self.snap,
                &roots,
                &|v| kinds[v as usize] != NodeKind::Satellite,
                &self.down,
            );
            tree
        });
        f(tree, &self.snap)
    }
}

/// The policy's window on the engine.
struct EngineView<'a, 's> {
    e: &'a Engine<'s>,
}

impl View for EngineView<'_, '_> {
    fn now(&self) -> Epoch {
        Epoch::from_unix_ns(self.e.now)
    }

    fn site(&self, node: NodeIdx) -> Site {
        match self.e.kinds[node as usize] {
            NodeKind::Satellite => Site::Satellite,
            NodeKind::GroundStation => Site::GroundStation,
            NodeKind::DataCentre => Site::DataCentre,
            NodeKind::UserTerminal => Site::UserRegion,
        }
    }

    fn candidates(&self, data_at: NodeIdx) -> Vec<NodeIdx> {
        let e = self.e;
        let mut out = Vec::new();
        if e.compute_of[data_at as usize] != NONE {
            out.push(data_at);
        }
        if e.is_ground(data_at) {
            out.extend(self.serving_satellite(data_at));
        }
        for adj in e.snap.neighbours(data_at) {
            if e.kinds[adj.node as usize] == NodeKind::Satellite
                && e.compute_of[adj.node as usize] != NONE
                && !e.down[adj.node as usize]
            {
                out.push(adj.node);
            }
        }
        out.extend_from_slice(&e.data_centres);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn data_centres(&self) -> &[NodeIdx] {
        &self.e.data_centres
    }

    fn transfer_s(&self, from: NodeIdx, to: NodeIdx, bytes: u64) -> Option<f64> {
        let e = self.e;
        if from == to {
            return Some(0.0);
        }
        // A direct link: its queue, delay and transmission time.
        if let Some(l) = e.snap.find_link(from, to)
            && !e.down[from as usize]
            && !e.down[to as usize]
        {
            let wait_s = e
                .links
                .get(&(l.a, l.b))
                .map_or(0.0, |u| (u.free_at_ns - e.now).max(0) as f64 / 1e9);
            return Some(wait_s + l.delay_ms / 1e3 + bytes as f64 * 8.0 / l.capacity_bps);
        }
        e.with_tree(Dest::Node(to), |tree, snap| {
            tree.transfer_s(snap, from, bytes, &|link| e.link_free_in_s(snap, link))
        })
    }

    fn to_ground_s(&self, from: NodeIdx, bytes: u64) -> Option<f64> {
        let e = self.e;
        e.with_tree(Dest::AnyGround, |tree, snap| {
            tree.transfer_s(snap, from, bytes, &|link| e.link_free_in_s(snap, link))
        })
    }

    fn serving_satellite(&self, ground: NodeIdx) -> Option<NodeIdx> {
        let e = self.e;
        e.snap
            .neighbours(ground)
            .iter()
            .filter(|a| e.kinds[a.node as usize] == NodeKind::Satellite && !e.down[a.node as usize])
            .min_by(|a, b| a.delay_ms.total_cmp(&b.delay_ms).then(a.node.cmp(&b.node)))
            .map(|a| a.node)
    }

    fn queue_wait_s(&self, node: NodeIdx) -> f64 {
        let e = self.e;
        let c = e.compute_of[node as usize];
        if c == NONE {
            return f64::INFINITY;
        }
        let c = &e.computes[c as usize];
        if (c.running.len() as u32) < c.allowed && c.queue.is_empty() {
            return 0.0;
        }
        let rate = c.rate_flops() * f64::from(c.allowed.max(1));
        if rate <= 0.0 {
            return f64::INFINITY;
        }
        let running: f64 = c.running.iter().map(|r| r.remaining_flop).sum();
        (running + c.queued_flop) / rate
    }

    fn compute_s(&self, node: NodeIdx, work_flop: f64) -> f64 {
        let e = self.e;
        let c = e.compute_of[node as usize];
        if c == NONE {
            return f64::INFINITY;
        }
        let rate = e.computes[c as usize].rate_flops();
        if rate <= 0.0 {
            f64::INFINITY
        } else {
            work_flop / rate
        }
    }

    fn fits_memory(&self, node: NodeIdx, bytes: u64) -> bool {
        let c = self.e.compute_of[node as usize];
        c != NONE && bytes <= self.e.computes[c as usize].slot_memory_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_order_by_time_then_sequence() {
        let mut heap = BinaryHeap::new();
        heap.push(Reverse((5_i64, 2_u64, Event::Arrive(9))));
        heap.push(Reverse((5, 1, Event::HopDone(3))));
        heap.push(Reverse((4, 3, Event::Arrive(1))));
        let order: Vec<Event> =
            std::iter::from_fn(|| heap.pop().map(|Reverse((_, _, e))| e)).collect();
        assert_eq!(
            order,
            vec![Event::Arrive(1), Event::HopDone(3), Event::Arrive(9)]
        );
    }
}
