//! The discrete-event engine: tasks arrive, a policy places each stage, data moves hop by
//! hop over the time-varying topology (store and forward when no route exists), stages run
//! on nodes within their power and thermal limits, faults restart or fail them.
//!
//! Time is integer nanoseconds. Events are ordered by (time, sequence number). The world
//! (topology, node physics, radiation, routing trees, the policy's view) is the twin's:
//! the engine moves it one step at a time and lends it the load facts only the engine
//! knows (running stages, link queues). A step's snapshot holds from its start until the
//! next step. Power is granted per step for the slots in demand at its start (at least the
//! warm standby, so new work can start at once); slots that were off wake before they take
//! work. At the step's end the twin charges each satellite for the device-seconds its
//! stages really computed, and idle power for the rest. A radiation upset strikes one
//! device at an instant of the step: a stage running there loses its work and restarts.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use tiandi_network::{LinkKind, NodeKind};
use tiandi_node::Limit;
use tiandi_orbit::Epoch;
use tiandi_scheduler::{Decision, Policy, Queued};
use tiandi_twin::{Dest, Executors, Load, Occupancy, Twin, TwinError, TwinView, Upset};
use tiandi_workload::{Destination, Pin, Task, TaskError};

use crate::model::{
    FaultRecord, LinkSample, NodeSample, Outcome, PhysicsBooks, RunResult, SimSetup, TaskRecord,
};
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
    Twin(#[from] TwinError),
}

const NONE: u32 = u32::MAX;

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
    /// Stages the policy refused (their tasks were dropped then).
    pub rejections: Vec<Rejection>,
    /// Tasks still under way at the end of the run (a stage running or queued, or data
    /// moving or waiting for a route): dropped by the horizon, not by the engine.
    pub in_progress: Vec<u64>,
    /// Of those, tasks stuck at the end for no reason the final state shows: a transfer
    /// waiting for a route that exists, or a stage queued on a node with a ready device
    /// free and power to run it.
    pub stuck: Vec<(u64, &'static str)>,
}

/// A refused stage, with what the engine saw at that instant (not what the policy said):
/// how many compute nodes could run it and were reachable from its data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rejection {
    pub task: u64,
    pub at: Epoch,
    pub data_at: u32,
    pub reachable_compute: u32,
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
    StageDone {
        compute: u32,
        token: u64,
    },
    /// Waking accelerators of a compute node are ready.
    Wake(u32),
    /// The step's radiation upset with this index strikes.
    Upset(u32),
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
    /// Links of its route not yet reached, in route order, whose backlog counts its bytes.
    reserved: VecDeque<(u32, u32)>,
    /// Neither delivered nor abandoned.
    live: bool,
}

struct Running {
    task: u32,
    stage: u16,
    /// The device (slot) it runs on.
    device: u32,
    /// Useful FLOP per FLOP at peak of this stage.
    efficiency: f64,
    /// Work left, in FLOP at the device's peak (`Stage::peak_flop`).
    remaining_flop: f64,
    since_ns: i64,
    token: u64,
}

impl Running {
    /// Useful work done so far of a stage of `peak_flop` (its work at peak), FLOP.
    fn useful_done(&self, peak_flop: f64) -> f64 {
        (peak_flop - self.remaining_flop) * self.efficiency
    }
}

/// What runs and waits on one compute node (the twin holds its capacity and power).
#[derive(Default)]
struct Slots {
    running: Vec<Running>,
    queue: VecDeque<(u32, u16)>,
    /// Sum of the work of the queued stages, FLOP at peak.
    queued_flop: f64,
    /// Useful work done in the current step, FLOP.
    work_done_step: f64,
    /// Device-seconds spent computing in the current step.
    busy_s_step: f64,
}

impl Slots {
    /// Brings every running stage's remaining work up to `now` at `rate` FLOP/s per slot,
    /// and books the time its device was busy.
    fn settle(&mut self, now: i64, rate: f64) {
        for r in &mut self.running {
            let dt_s = (now - r.since_ns) as f64 / 1e9;
            if rate > 0.0 && dt_s > 0.0 {
                let busy_s = dt_s.min(r.remaining_flop / rate);
                let done = (rate * busy_s).min(r.remaining_flop);
                r.remaining_flop -= done;
                self.work_done_step += done * r.efficiency;
                self.busy_s_step += busy_s;
            }
            r.since_ns = now;
        }
    }

    /// The lowest device below `ready` that no stage runs on.
    fn free_device(&self, ready: u32) -> Option<u32> {
        (0..ready).find(|d| self.running.iter().all(|r| r.device != *d))
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

/// The load facts only the engine knows, lent to the twin's view: stages on each compute
/// node, and when each link has sent what is queued on it.
struct EngineLoad {
    /// Per compute index (the twin's).
    slots: Vec<Slots>,
    /// Each node's compute index, `NONE` when it cannot compute.
    compute_of: Vec<u32>,
    /// Per link (a < b): when its transmitter is free, ns.
    link_free_at: HashMap<(u32, u32), i64>,
    /// Per link (a < b): bytes of transfers under way whose routes reach it later.
    committed: HashMap<(u32, u32), u64>,
}

impl Occupancy for EngineLoad {
    fn load(&self, node: u32) -> Load {
        let c = self.compute_of[node as usize];
        if c == NONE {
            return Load::default();
        }
        let s = &self.slots[c as usize];
        let running: f64 = s.running.iter().map(|r| r.remaining_flop).sum();
        Load {
            running: s.running.len() as u32,
            queued: s.queue.len() as u32,
            outstanding_flop: running + s.queued_flop,
        }
    }

    fn link_busy_until_ns(&self, a: u32, b: u32) -> i64 {
        self.link_free_at.get(&(a, b)).copied().unwrap_or(0)
    }

    fn link_backlog_bytes(&self, a: u32, b: u32) -> u64 {
        self.committed.get(&(a, b)).copied().unwrap_or(0)
    }

    fn busy_device_s(&self, sat: u32) -> Option<f64> {
        let c = *self.compute_of.get(sat as usize)?;
        self.slots.get(c as usize).map(|s| s.busy_s_step)
    }
}

/// Simulated time and the event queue.
struct Clock {
    now: i64,
    step: u32,
    /// Start of the current step, ns.
    step_start_ns: i64,
    events: BinaryHeap<Reverse<(i64, u64, Event)>>,
    seq: u64,
    next_token: u64,
}

/// The work in flight: tasks, transfers and transfers waiting for a route.
struct Work {
    tasks: Vec<TaskRun>,
    transfers: Vec<Transfer>,
    waiting: Vec<u32>,
}

/// What the run records beyond the task records.
#[derive(Default)]
struct Books {
    links: Vec<LinkSample>,
    nodes: Vec<NodeSample>,
    faults: Vec<FaultRecord>,
    link_bytes_step: BTreeMap<(u32, u32), (LinkKind, u64, f64)>,
    physics: PhysicsBooks,
    /// The radiation upsets of the current step.
    upsets: Vec<Upset>,
}

struct Engine<'s> {
    setup: &'s SimSetup,
    twin: Twin,
    clock: Clock,
    work: Work,
    load: EngineLoad,
    books: Books,
    trace: Option<&'s mut Trace>,
}

/// A look at the policy's view at the start of a step: (step index, view).
pub type StepWatch<'a> = dyn FnMut(u32, &TwinView<'_>) + 'a;

/// What a caller may watch of a run beyond its result (tests).
#[derive(Default)]
pub struct Hooks<'a> {
    /// Every hop and delivery, for the invariant checkers.
    pub trace: Option<&'a mut Trace>,
    /// Called at the start of every step, after the twin has moved, with the step index
    /// and the policy's view at that instant.
    pub at_step: Option<&'a mut StepWatch<'a>>,
}

/// Runs one policy over the setup. `on_step(done, total)` is called after every step.
pub fn run(
    setup: &SimSetup,
    policy: &mut dyn Policy,
    on_step: &(dyn Fn(u32, u32) + Sync),
) -> Result<RunResult, SimError> {
    run_with(setup, policy, on_step, Hooks::default())
}

/// [`run`], also recording every hop and delivery into `trace` (for invariant checks).
pub fn run_traced(
    setup: &SimSetup,
    policy: &mut dyn Policy,
    on_step: &(dyn Fn(u32, u32) + Sync),
    trace: Option<&mut Trace>,
) -> Result<RunResult, SimError> {
    run_with(
        setup,
        policy,
        on_step,
        Hooks {
            trace,
            at_step: None,
        },
    )
}

/// [`run`] with [`Hooks`].
pub fn run_with(
    setup: &SimSetup,
    policy: &mut dyn Policy,
    on_step: &(dyn Fn(u32, u32) + Sync),
    hooks: Hooks<'_>,
) -> Result<RunResult, SimError> {
    validate(setup)?;
    let Hooks { trace, mut at_step } = hooks;
    let mut engine = Engine::new(setup, trace)?;
    let n_steps =
        ((setup.end.unix_ns() - setup.start.unix_ns() + setup.step_ns - 1) / setup.step_ns) as u32;
    let mut next_arrival = 0usize;
    for step in 0..n_steps {
        let t0 = setup.start.unix_ns() + i64::from(step) * setup.step_ns;
        let t1 = (t0 + setup.step_ns).min(setup.end.unix_ns());
        engine.begin_step(step, t0, t1)?;
        if policy.reassigns() {
            engine.reassign(policy);
        }
        if let Some(f) = at_step.as_deref_mut() {
            f(step, &engine.view());
        }
        // Arrivals are fed lazily so the heap holds only what is near.
        while next_arrival < setup.tasks.len() && setup.tasks[next_arrival].arrival.unix_ns() < t1 {
            let at = setup.tasks[next_arrival].arrival.unix_ns().max(t0);
            engine.push(at, Event::Arrive(next_arrival as u32));
            next_arrival += 1;
        }
        while let Some(&Reverse((t, _, ev))) = engine.clock.events.peek() {
            if t >= t1 {
                break;
            }
            engine.clock.events.pop();
            engine.clock.now = t;
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
    fn new(setup: &'s SimSetup, trace: Option<&'s mut Trace>) -> Result<Self, SimError> {
        let twin = Twin::new(setup)?;
        let compute_of = (0..twin.n_nodes() as u32)
            .map(|v| twin.compute_index(v).map_or(NONE, |c| c as u32))
            .collect();
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
            load: EngineLoad {
                slots: (0..twin.compute_nodes().len())
                    .map(|_| Slots::default())
                    .collect(),
                compute_of,
                link_free_at: HashMap::new(),
                committed: HashMap::new(),
            },
            twin,
            clock: Clock {
                now: setup.start.unix_ns(),
                step: 0,
                step_start_ns: setup.start.unix_ns(),
                events: BinaryHeap::new(),
                seq: 0,
                next_token: 0,
            },
            work: Work {
                tasks,
                transfers: Vec::new(),
                waiting: Vec::new(),
            },
            books: Books::default(),
            trace,
        })
    }

    fn push(&mut self, t: i64, ev: Event) {
        self.clock.seq += 1;
        self.clock.events.push(Reverse((t, self.clock.seq, ev)));
    }

    /// The policy's window on the twin now, with the engine's load facts.
    fn view(&self) -> TwinView<'_> {
        TwinView {
            twin: &self.twin,
            occupancy: &self.load,
            now_ns: self.clock.now,
            executors: Executors::Any,
        }
    }

    /// FLOP/s of one powered slot of compute node `c`.
    fn rate_flops(&self, c: usize) -> f64 {
        self.twin.slot_rate_of(c)
    }

    // ----- steps -------------------------------------------------------------------------

    fn begin_step(&mut self, step: u32, t0: i64, t1: i64) -> Result<(), SimError> {
        self.clock.step = step;
        self.clock.now = t0;
        self.clock.step_start_ns = t0;
        let dt_s = (t1 - t0) as f64 / 1e9;
        // The previous step was settled at its end, at the old rate.
        let report = self.twin.begin_step(i64::from(step), dt_s, &self.load)?;
        for c in 0..self.twin.n_sats() {
            self.preempt_unpowered(c);
            self.reschedule_running(c);
            if let Some(at) = self.twin.wake_at_ns(c, t0) {
                self.push(at, Event::Wake(c as u32));
            }
        }
        self.books.upsets = report.upsets;
        for k in 0..self.books.upsets.len() {
            let at = self.books.upsets[k].at_ns;
            self.push(at, Event::Upset(k as u32));
        }
        // Transfers that had no route try again on the new topology.
        if !cfg!(feature = "mutant-no-retry") {
            for tr in std::mem::take(&mut self.work.waiting) {
                self.advance_transfer(tr);
            }
        }
        for c in 0..self.load.slots.len() {
            self.try_start(c);
        }
        Ok(())
    }

    /// Offers the policy every placed stage that waits in a queue (inputs there, not
    /// started) and moves the ones it reassigns: off the queue, inputs sent to the new node.
    fn reassign(&mut self, policy: &mut dyn Policy) {
        let setup = self.setup;
        let mut queued: Vec<(usize, u32, Queued<'s>)> = Vec::new();
        for (c, slots) in self.load.slots.iter().enumerate() {
            let at = self.twin.compute_nodes()[c];
            let mut ahead: f64 = slots.running.iter().map(|r| r.remaining_flop).sum();
            for &(ti, s) in &slots.queue {
                let task = &setup.tasks[ti as usize];
                if self.work.tasks[ti as usize].ended.is_none() {
                    queued.push((
                        c,
                        ti,
                        Queued {
                            task,
                            stage: s as usize,
                            at,
                            ahead_flop: ahead,
                        },
                    ));
                }
                ahead += task.stages[s as usize].peak_flop();
            }
        }
        if queued.is_empty() {
            return;
        }
        let offered: Vec<Queued<'s>> = queued.iter().map(|(_, _, q)| *q).collect();
        let moves = policy.reassign(&offered, &self.view());
        for (i, node) in moves {
            let Some(&(c, ti, q)) = queued.get(i) else {
                continue;
            };
            if node == q.at || self.twin.compute_index(node).is_none() {
                continue;
            }
            let s = q.stage as u16;
            let Some(pos) = self.load.slots[c].queue.iter().position(|&e| e == (ti, s)) else {
                continue;
            };
            self.load.slots[c].queue.remove(pos);
            let work = q.task.stages[q.stage].peak_flop();
            let slots = &mut self.load.slots[c];
            slots.queued_flop = if slots.queue.is_empty() {
                0.0
            } else {
                (slots.queued_flop - work).max(0.0)
            };
            let stage = &q.task.stages[q.stage];
            let bytes = if stage.after.is_empty() {
                stage.input_bytes
            } else {
                stage
                    .after
                    .iter()
                    .map(|&p| q.task.stages[p as usize].output_bytes)
                    .sum()
            };
            self.books.physics.stages_reassigned += 1;
            self.work.tasks[ti as usize].stage_node[q.stage] = node;
            self.work.tasks[ti as usize].pending_inputs[q.stage] = 1;
            self.start_transfer(ti, Payload::StageInput(s), q.at, Dest::Node(node), bytes);
        }
    }

    /// Stages on devices the new step left unpowered move to a free powered device (device
    /// numbers are labels: the powered ones are the lowest); where none is free (the grant
    /// fell below what runs) their work is lost and they go back to the front of the queue.
    fn preempt_unpowered(&mut self, c: usize) {
        let powered = self.twin.powered_slots(c);
        let slots = &mut self.load.slots[c];
        let mut k = 0;
        while k < slots.running.len() {
            if slots.running[k].device < powered {
                k += 1;
                continue;
            }
            if let Some(d) = slots.free_device(powered) {
                slots.running[k].device = d;
                k += 1;
                continue;
            }
            let r = slots.running.swap_remove(k);
            let stage = &self.setup.tasks[r.task as usize].stages[r.stage as usize];
            self.books.physics.work_lost_flop += r.useful_done(stage.peak_flop());
            self.books.physics.stages_preempted += 1;
            slots.queued_flop += stage.peak_flop();
            slots.queue.push_front((r.task, r.stage));
        }
    }

    /// Radiation upset `k` of the step strikes now: if a stage runs on the struck device it
    /// loses its work and restarts (or, past the retry limit, its task fails).
    fn upset(&mut self, k: u32) {
        let u = self.books.upsets[k as usize];
        let c = u.satellite as usize;
        let now = self.clock.now;
        let rate = self.rate_flops(c);
        self.load.slots[c].settle(now, rate);
        let hit = self.load.slots[c]
            .running
            .iter()
            .position(|r| r.device == u.device);
        let mut record = FaultRecord {
            t: Epoch::from_unix_ns(now),
            satellite: u.satellite,
            task: None,
            recovered: false,
        };
        if let Some(d) = hit {
            let r = &self.load.slots[c].running[d];
            let task = r.task;
            let peak = self.setup.tasks[task as usize].stages[r.stage as usize].peak_flop();
            self.books.physics.work_lost_flop += r.useful_done(peak);
            record.task = Some(self.setup.tasks[task as usize].id);
            self.work.tasks[task as usize].retries += 1;
            if self.work.tasks[task as usize].retries > self.setup.faults.max_retries {
                self.load.slots[c].running.swap_remove(d);
                self.end_task(task, Outcome::Failed);
                self.try_start(c);
            } else {
                let token = self.new_token();
                let r = &mut self.load.slots[c].running[d];
                r.remaining_flop = peak;
                r.since_ns = now;
                r.token = token;
                record.recovered = true;
                self.schedule_finish(c, d);
            }
        }
        self.books.faults.push(record);
    }

    fn end_step(&mut self, t1: i64) {
        self.clock.now = t1;
        for c in 0..self.load.slots.len() {
            let rate = self.rate_flops(c);
            self.load.slots[c].settle(t1, rate);
        }
        let dt_s = ((t1 - self.clock.step_start_ns) as f64 / 1e9).max(1e-9);
        self.book_link_timing(self.clock.step_start_ns, t1);
        let energy = self.twin.end_step(&self.load);
        for (i, e) in energy.iter().enumerate() {
            let w = |wh: f64| (wh * 3_600.0 / dt_s) as f32;
            let p = &mut self.books.physics;
            let f = &e.result.power;
            p.energy.harvested_wh += f.collected_wh;
            p.energy.compute_wh += e.compute_wh;
            p.energy.idle_wh += e.idle_wh;
            p.energy.bus_wh += e.bus_wh;
            p.energy.heater_wh += e.heater_wh;
            p.energy.loss_wh += f.loss_wh;
            p.energy.curtailed_wh += f.curtailed_wh;
            p.energy.stored_change_wh += f.stored_change_wh;
            p.busy_device_s += self.load.slots[i].busy_s_step;
            let throttled = e.result.limit == Limit::Thermal;
            let power_limited = e.result.limit == Limit::Power;
            if throttled {
                p.throttled_s += dt_s;
            }
            if power_limited {
                p.power_limited_s += dt_s;
            }
            let status = self.twin.sat_status(i as u32);
            self.books.nodes.push(NodeSample {
                step: self.clock.step,
                satellite: i as u32,
                soc_fraction: status.soc_fraction as f32,
                temp_k: e.result.temp_k as f32,
                compute_w: w(e.compute_wh),
                idle_w: w(e.idle_wh),
                bus_w: w(e.bus_wh),
                heater_w: w(e.heater_wh),
                harvested_w: w(f.collected_wh),
                loss_w: w(f.loss_wh),
                curtailed_w: w(f.curtailed_wh),
                throttled,
                power_limited,
                powered_slots: e.powered_slots,
                work_flop: self.load.slots[i].work_done_step,
            });
        }
        let n_sats = self.twin.n_sats();
        for c in n_sats..self.load.slots.len() {
            self.books.physics.ground_busy_s += self.load.slots[c].busy_s_step;
            let slots = f64::from(self.twin.powered_slots(c));
            self.books.physics.ground_slot_s += slots * dt_s;
        }
        for c in &mut self.load.slots {
            c.work_done_step = 0.0;
            c.busy_s_step = 0.0;
        }
        let step_s = self.setup.step_ns as f64 / 1e9;
        for (&(a, b), &(kind, bytes, cap)) in &self.books.link_bytes_step {
            self.books.links.push(LinkSample {
                step: self.clock.step,
                a,
                b,
                kind,
                bytes,
                utilisation: bytes as f64 * 8.0 / (cap * step_s),
            });
        }
        self.books.link_bytes_step.clear();
    }

    /// Link-seconds within `[t0, t1)` that links spent acquiring (ISL) or in handover (GSL)
    /// before they could carry data.
    fn book_link_timing(&mut self, t0: i64, t1: i64) {
        let (mut isl_s, mut gsl_s) = (0.0, 0.0);
        for l in self.twin.snapshot().links() {
            if !matches!(l.kind, LinkKind::Isl | LinkKind::Gsl) {
                continue;
            }
            let Some(usable) = self.twin.link_usable_from_ns(l.a, l.b) else {
                continue;
            };
            if usable <= t0 {
                continue;
            }
            let since = self
                .twin
                .link_up_since(l.a, l.b)
                .map_or(t0, |k| self.twin.step_start_ns(k));
            let overlap = (usable.min(t1) - since.max(t0)).max(0) as f64 / 1e9;
            if l.kind == LinkKind::Isl {
                isl_s += overlap;
            } else {
                gsl_s += overlap;
            }
        }
        self.books.physics.isl_acquiring_s += isl_s;
        self.books.physics.gsl_handover_s += gsl_s;
    }

    fn finish(mut self, policy: &str, n_steps: u32) -> RunResult {
        let end = self.setup.end.unix_ns();
        if self.trace.is_some() {
            let mut busy = vec![false; self.work.tasks.len()];
            for tr in &self.work.transfers {
                if tr.live {
                    busy[tr.task as usize] = true;
                }
            }
            for slots in &self.load.slots {
                for r in &slots.running {
                    busy[r.task as usize] = true;
                }
                for &(ti, _) in &slots.queue {
                    busy[ti as usize] = true;
                }
            }
            let ids: Vec<u64> = (0..self.work.tasks.len())
                .filter(|&i| self.work.tasks[i].ended.is_none() && busy[i])
                .map(|i| self.setup.tasks[i].id)
                .collect();
            let mut stuck = Vec::new();
            for &id in &self.work.waiting {
                let tr = &self.work.transfers[id as usize];
                if !tr.live || self.work.tasks[tr.task as usize].ended.is_some() {
                    continue;
                }
                let routed = self
                    .twin
                    .with_tree(tr.dest, |tree, snap| tree.next_hop(snap, tr.at).is_some());
                if routed {
                    stuck.push((
                        self.setup.tasks[tr.task as usize].id,
                        "waits for a route that exists",
                    ));
                }
            }
            for (c, slots) in self.load.slots.iter().enumerate() {
                // A device ready at the very end has had no event to take work yet.
                let ready = self.twin.ready_slots(c, end - 1);
                if self.rate_flops(c) > 0.0 && slots.free_device(ready).is_some() {
                    for &(ti, _) in &slots.queue {
                        if self.work.tasks[ti as usize].ended.is_none() {
                            stuck.push((
                                self.setup.tasks[ti as usize].id,
                                "queued beside a free ready device",
                            ));
                        }
                    }
                }
            }
            if let Some(trace) = self.trace.as_deref_mut() {
                trace.in_progress = ids;
                trace.stuck = stuck;
            }
        }
        for ti in 0..self.work.tasks.len() {
            if self.work.tasks[ti].ended.is_none() {
                self.work.tasks[ti].ended = Some((Outcome::Dropped, end));
            }
        }
        let records: Vec<TaskRecord> = self
            .setup
            .tasks
            .iter()
            .zip(&self.work.tasks)
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
        let gp = self.setup.data_centre_power;
        let p = &mut self.books.physics;
        p.ground_energy_wh = (p.ground_busy_s * gp.busy_w
            + (p.ground_slot_s - p.ground_busy_s).max(0.0) * gp.idle_w)
            * gp.pue
            / 3_600.0;
        self.books.physics.devices_retired = (0..self.twin.n_sats() as u32)
            .map(|i| u64::from(self.twin.sat_status(i).retired_devices))
            .sum();
        let summary = summarise(
            policy,
            self.setup.seed,
            &records,
            &self.books.faults,
            self.books.physics,
        );
        RunResult {
            summary,
            tasks: records,
            links: self.books.links,
            nodes: self.books.nodes,
            faults: self.books.faults,
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
            Event::Wake(c) => self.try_start(c as usize),
            Event::Upset(k) => self.upset(k),
        }
    }

    /// A stage whose predecessors are done: place it and send its inputs.
    fn ready_stage(&mut self, ti: u32, s: u16, data_at: u32, policy: &mut dyn Policy) {
        if self.work.tasks[ti as usize].ended.is_some() {
            return;
        }
        let task = &self.setup.tasks[ti as usize];
        let decision = if cfg!(feature = "mutant-drop-all") {
            // The liveness invariant's mutant: every stage refused.
            Decision::Reject
        } else {
            policy.place(task, s as usize, data_at, &self.view())
        };
        let node = match decision {
            Decision::Run(n) if self.twin.compute_index(n).is_some() => n,
            // A refusal, or an answer that is not a compute node: the task cannot run.
            _ => {
                if self.trace.is_some() {
                    let reachable_compute = self.reachable_compute(data_at, task, s as usize);
                    let r = Rejection {
                        task: task.id,
                        at: Epoch::from_unix_ns(self.clock.now),
                        data_at,
                        reachable_compute,
                    };
                    if let Some(trace) = self.trace.as_deref_mut() {
                        trace.rejections.push(r);
                    }
                }
                self.end_task(ti, Outcome::Dropped);
                return;
            }
        };
        self.work.tasks[ti as usize].stage_node[s as usize] = node;
        let stage = &task.stages[s as usize];
        let inputs: Vec<(u32, u64)> = if stage.after.is_empty() {
            vec![(task.origin, stage.input_bytes)]
        } else {
            stage
                .after
                .iter()
                .map(|&p| {
                    (
                        self.work.tasks[ti as usize].stage_node[p as usize],
                        task.stages[p as usize].output_bytes,
                    )
                })
                .collect()
        };
        self.work.tasks[ti as usize].pending_inputs[s as usize] = inputs.len() as u32;
        for (from, bytes) in inputs {
            self.start_transfer(ti, Payload::StageInput(s), from, Dest::Node(node), bytes);
        }
    }

    /// Compute nodes that could run stage `s` of `task` now (computing, memory enough,
    /// allowed by its pin) and that data at `data_at` reaches on the current routes.
    fn reachable_compute(&self, data_at: u32, task: &Task, s: usize) -> u32 {
        let stage = &task.stages[s];
        self.twin
            .compute_nodes()
            .iter()
            .filter(|&&n| {
                let pin_ok = match stage.pin {
                    Pin::Free => true,
                    Pin::Ground => self.twin.kind(n) == NodeKind::DataCentre,
                    Pin::Origin => n == task.origin,
                    Pin::Node(p) => n == p,
                };
                pin_ok
                    && self.twin.slot_rate_flops(n) > 0.0
                    && self
                        .twin
                        .compute(n)
                        .is_some_and(|c| stage.memory_bytes <= c.slot_memory_bytes)
                    && (n == data_at || !self.twin.route(data_at, n).is_empty())
            })
            .count() as u32
    }

    fn start_transfer(&mut self, task: u32, payload: Payload, from: u32, dest: Dest, bytes: u64) {
        let id = self.work.transfers.len() as u32;
        self.work.transfers.push(Transfer {
            task,
            from,
            payload,
            bytes,
            at: from,
            dest,
            in_flight: None,
            reserved: VecDeque::new(),
            live: true,
        });
        self.reserve_route(id);
        self.advance_transfer(id);
    }

    /// Counts transfer `id`'s bytes on the links of its current route from where it is
    /// (the policy's view sees them as backlog until each hop starts).
    fn reserve_route(&mut self, id: u32) {
        let tr = &self.work.transfers[id as usize];
        let (from, dest, bytes) = (tr.at, tr.dest, tr.bytes);
        if self.arrived(tr) {
            return;
        }
        let route: VecDeque<(u32, u32)> = self.twin.with_tree(dest, |tree, snap| {
            let mut links = VecDeque::new();
            let mut at = from;
            while let Some((next, link)) = tree.next_hop(snap, at) {
                let l = snap.link(link);
                links.push_back((l.a, l.b));
                at = next;
                if links.len() > snap.n_nodes() {
                    break;
                }
            }
            links
        });
        for key in &route {
            *self.load.committed.entry(*key).or_insert(0) += bytes;
        }
        self.work.transfers[id as usize].reserved = route;
    }

    /// Takes transfer `id`'s bytes off the backlog of `key`, the hop it starts now (every
    /// reserved link when `None`: the transfer is over). A hop that is not the next one
    /// reserved means the route changed: the old reservations go and the current route
    /// is reserved from here.
    fn release(&mut self, id: u32, key: Option<(u32, u32)>) {
        let tr = &mut self.work.transfers[id as usize];
        let bytes = tr.bytes;
        let keys: Vec<(u32, u32)> = match key {
            Some(k) if tr.reserved.front() == Some(&k) => {
                tr.reserved.pop_front().into_iter().collect()
            }
            Some(k) => {
                let old: Vec<(u32, u32)> = std::mem::take(&mut tr.reserved).into();
                self.unreserve(&old, bytes);
                self.reserve_route(id);
                let tr = &mut self.work.transfers[id as usize];
                if tr.reserved.front() == Some(&k) {
                    tr.reserved.pop_front().into_iter().collect()
                } else {
                    Vec::new()
                }
            }
            None => std::mem::take(&mut tr.reserved).into(),
        };
        self.unreserve(&keys, bytes);
    }

    fn unreserve(&mut self, keys: &[(u32, u32)], bytes: u64) {
        for k in keys {
            if let Some(c) = self.load.committed.get_mut(k) {
                *c = c.saturating_sub(bytes);
                if *c == 0 {
                    self.load.committed.remove(k);
                }
            }
        }
    }

    fn arrived(&self, tr: &Transfer) -> bool {
        match tr.dest {
            Dest::Node(n) => tr.at == n,
            Dest::AnyGround => self.twin.is_ground_segment(tr.at),
        }
    }

    /// Moves a transfer on: delivered, one more hop, or waiting for a route.
    fn advance_transfer(&mut self, id: u32) {
        let tr = &self.work.transfers[id as usize];
        if self.work.tasks[tr.task as usize].ended.is_some() {
            self.release(id, None);
            self.work.transfers[id as usize].live = false;
            return;
        }
        if self.arrived(tr) {
            self.release(id, None);
            self.work.transfers[id as usize].live = false;
            self.deliver(id);
            return;
        }
        let (at, dest) = (tr.at, tr.dest);
        let next = self.twin.with_tree(dest, |tree, snap| {
            tree.next_hop(snap, at)
                .map(|(n, link)| (n, *snap.link(link)))
        });
        let Some((next, l)) = next else {
            // No route now: its reservations would stand on links it may never take.
            self.release(id, None);
            self.work.waiting.push(id);
            return;
        };
        let key = (l.a, l.b);
        self.release(id, Some(key));
        let bits = self.work.transfers[id as usize].bytes as f64 * 8.0;
        // A link that just appeared carries data once acquired (ISL) or handed over (GSL).
        let usable_from = self
            .twin
            .link_usable_from_ns(key.0, key.1)
            .unwrap_or(i64::MIN);
        let free_at = self.load.link_free_at.entry(key).or_insert(0);
        let ready = (*free_at).max(self.clock.now);
        let start = ready.max(usable_from);
        // Waiting counts up to the run's end.
        let waited = start.min(self.setup.end.unix_ns()) - ready;
        if waited > 0 {
            self.books.physics.link_wait_s += waited as f64 / 1e9;
        }
        let tx_ns = (bits / l.capacity_bps * 1e9).ceil() as i64;
        *free_at = start + tx_ns;
        let done = start + tx_ns + (l.delay_ms * 1e6).round() as i64;
        self.work.transfers[id as usize].in_flight = Some((next, key, start));
        self.push(done, Event::HopDone(id));
    }

    fn hop_done(&mut self, id: u32) {
        let Some((next, key, start)) = self.work.transfers[id as usize].in_flight.take() else {
            return;
        };
        let task = self.work.transfers[id as usize].task;
        if self.work.tasks[task as usize].ended.is_some() {
            self.release(id, None);
            return;
        }
        let from = self.work.transfers[id as usize].at;
        // The link must have been up from the step the transmission started in to now, and
        // both ends alive.
        let start_step = (start - self.setup.start.unix_ns()) / self.setup.step_ns;
        let continuous = self
            .twin
            .link_up_since(key.0, key.1)
            .is_some_and(|since| since <= start_step);
        let link = self
            .twin
            .snapshot()
            .find_link(key.0, key.1)
            .copied()
            .filter(|_| continuous);
        match link {
            Some(l) if !self.twin.is_down(next) && !self.twin.is_down(from) => {
                let bytes = self.work.transfers[id as usize].bytes;
                let t = &mut self.work.tasks[task as usize];
                t.bytes_moved += bytes;
                match l.kind {
                    LinkKind::Isl => t.isl_bytes += bytes,
                    LinkKind::Gsl if self.twin.kind(from) == NodeKind::Satellite => {
                        t.downlink_bytes += bytes
                    }
                    _ => {}
                }
                let entry =
                    self.books
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
                        done: Epoch::from_unix_ns(self.clock.now),
                        bytes,
                    });
                }
                self.work.transfers[id as usize].at = next;
            }
            // Lost with the link: the data is still at the sender; send again.
            _ => {}
        }
        self.advance_transfer(id);
    }

    fn deliver(&mut self, id: u32) {
        let tr = &self.work.transfers[id as usize];
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
                let t = &mut self.work.tasks[ti as usize];
                t.pending_inputs[s as usize] -= 1;
                if t.pending_inputs[s as usize] == 0 {
                    let c = self.load.compute_of[at as usize] as usize;
                    self.load.slots[c].queue.push_back((ti, s));
                    self.load.slots[c].queued_flop +=
                        self.setup.tasks[ti as usize].stages[s as usize].peak_flop();
                    self.try_start(c);
                }
            }
        }
    }

    fn new_token(&mut self) -> u64 {
        self.clock.next_token += 1;
        self.clock.next_token
    }

    /// Starts queued stages while ready (powered and awake) slots are free.
    fn try_start(&mut self, c: usize) {
        loop {
            let now = self.clock.now;
            let ready = self.twin.ready_slots(c, now);
            let Some(device) = self.load.slots[c].free_device(ready) else {
                // Work beyond what the waking devices will take powers up another one
                // (within the step's cap); it starts when that device is ready.
                let waking = self.twin.powered_slots(c).saturating_sub(ready) as usize;
                if c < self.twin.n_sats()
                    && self.load.slots[c].queue.len() > waking
                    && let Some(at) = self.twin.power_up(c, now)
                {
                    self.push(at, Event::Wake(c as u32));
                    continue;
                }
                return;
            };
            let Some((ti, s)) = self.load.slots[c].queue.pop_front() else {
                return;
            };
            let stage = &self.setup.tasks[ti as usize].stages[s as usize];
            let (work, efficiency) = (stage.peak_flop(), stage.efficiency);
            let node = &mut self.load.slots[c];
            node.queued_flop = if node.queue.is_empty() {
                0.0
            } else {
                (node.queued_flop - work).max(0.0)
            };
            if self.work.tasks[ti as usize].ended.is_some() {
                continue;
            }
            let token = self.new_token();
            let now = self.clock.now;
            self.work.tasks[ti as usize].start.get_or_insert(now);
            self.load.slots[c].running.push(Running {
                task: ti,
                stage: s,
                device,
                efficiency,
                remaining_flop: work,
                since_ns: now,
                token,
            });
            self.schedule_finish(c, self.load.slots[c].running.len() - 1);
        }
    }

    fn schedule_finish(&mut self, c: usize, r: usize) {
        let rate = self.rate_flops(c);
        if rate <= 0.0 {
            return; // stalled until the next step gives it power
        }
        let run = &self.load.slots[c].running[r];
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
        for r in 0..self.load.slots[c].running.len() {
            let token = self.new_token();
            self.load.slots[c].running[r].token = token;
            self.schedule_finish(c, r);
        }
    }

    fn stage_done(&mut self, c: usize, token: u64, policy: &mut dyn Policy) {
        let Some(r) = self.load.slots[c]
            .running
            .iter()
            .position(|r| r.token == token)
        else {
            return;
        };
        let rate = self.rate_flops(c);
        self.load.slots[c].settle(self.clock.now, rate);
        let run = self.load.slots[c].running.swap_remove(r);
        let ti = run.task;
        if self.work.tasks[ti as usize].ended.is_none() {
            let node = self.twin.compute_nodes()[c];
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
                    let t = &mut self.work.tasks[ti as usize];
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
        let t = &mut self.work.tasks[ti as usize];
        assert!(t.ended.is_none(), "task {ti} ends twice");
        t.ended = Some((outcome, self.clock.now));
        // Free the slots its other stages hold (only where its stages were placed).
        let mut nodes = t.stage_node.clone();
        nodes.sort_unstable();
        nodes.dedup();
        for node in nodes.into_iter().filter(|&n| n != NONE) {
            let c = self.load.compute_of[node as usize] as usize;
            let before = self.load.slots[c].running.len();
            self.load.slots[c].running.retain(|r| r.task != ti);
            if self.load.slots[c].running.len() != before {
                self.try_start(c);
            }
        }
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
