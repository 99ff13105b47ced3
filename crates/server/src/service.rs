//! The control plane's state machine: accepts tasks and places them on the twin with a
//! scheduling policy, runs modelled stages on the twin's clock, hands command stages to
//! node agents, re-places work when a node is lost, and says which records changed so the
//! caller makes them durable before answering.
//!
//! No I/O and no wall clock: every call takes the twin time (and, for agent liveness, a
//! wall-clock instant) from the caller.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tiandi_orbit::Epoch;
use tiandi_scenario::Scenario;
use tiandi_scheduler::{Decision, Policy, View};
use tiandi_twin::{Executors, Load, NodeReport, Occupancy, Twin, TwinError, TwinView};
use tiandi_workload::{Destination, Task};

use crate::model::{
    Assignment, Completion, Event, MAX_OUTPUT_FILE_BYTES, MAX_OUTPUT_TOTAL_BYTES, StageRecord,
    StageRef, StageState, TaskRecord, TaskSpec, TaskState,
};
use crate::store::Write;

/// Marks the result-delivery entry of a task in the modelled-event heap.
const DELIVER: u16 = u16::MAX;
/// Largest number of stages in one task.
pub const MAX_STAGES: usize = 64;
/// The store's meta key of the next task id (little-endian u64), written by retention.
pub const NEXT_ID: &str = "next_id";
/// Largest deadline, s (30 days).
pub const MAX_DEADLINE_S: f64 = 30.0 * 86_400.0;
/// Largest stage work, FLOP (a million GPU-hours at 1 PFLOP/s is 3.6e24; far beyond a task).
pub const MAX_WORK_FLOP: f64 = 1e24;
/// Largest bytes of any stage field (100 TB).
pub const MAX_BYTES: u64 = 100_000_000_000_000;

/// Work placed on each node and not finished: count and FLOP. The service's load facts
/// for the twin's view: it knows what it placed, not how far each stage has got, and it
/// queues no transfer on a link.
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

impl Occupancy for Loads {
    /// Every placed stage counts as running: its expected start already includes the
    /// wait it was given when placed.
    fn load(&self, node: u32) -> Load {
        Load {
            running: self.active[node as usize],
            queued: 0,
            outstanding_flop: self.work_flop[node as usize],
        }
    }

    fn link_busy_until_ns(&self, _a: u32, _b: u32) -> i64 {
        i64::MIN
    }
}

/// Why a service could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Twin(#[from] TwinError),
    #[error("unknown policy {0:?}")]
    UnknownPolicy(String),
}

/// What kind of refusal: the HTTP layer maps each to its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// A request field is invalid.
    Invalid,
    /// No such task (or not the caller's).
    NotFound,
    /// A report for an attempt that is no longer current, or a task that already ended.
    Stale,
    /// A report without its attempt's secret.
    Forged,
    /// Over the tenant's quota.
    OverQuota,
    /// No placement meets the task's needs now.
    Infeasible,
}

/// Why the service refused a call.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub kind: RefusalKind,
    pub message: String,
    /// The request field at fault, as a JSON path (`stages[1].work_flop`).
    pub field: Option<String>,
}

impl Refusal {
    fn new(kind: RefusalKind, message: impl Into<String>, field: Option<&str>) -> Self {
        Refusal {
            kind,
            message: message.into(),
            field: field.map(str::to_string),
        }
    }
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(RefusalKind::Invalid, message, Some(field))
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(RefusalKind::NotFound, message, None)
    }
    pub fn stale(message: impl Into<String>) -> Self {
        Self::new(RefusalKind::Stale, message, None)
    }
    pub fn infeasible(field: &str, message: impl Into<String>) -> Self {
        Self::new(RefusalKind::Infeasible, message, Some(field))
    }
}

/// What a call changed: records to make durable, events to publish after.
#[derive(Debug, Default)]
pub struct Changes {
    pub writes: Vec<Write>,
    pub events: Vec<Event>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub accepted: u64,
    /// Repeated idempotency keys answered with their task (counted by the HTTP layer,
    /// which reads the task).
    pub duplicate: u64,
    pub rejected_invalid: u64,
    pub rejected_infeasible: u64,
    pub rejected_quota: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub replaced_stages: u64,
    pub agents_lost: u64,
    pub stale_reports: u64,
    /// Reports refused because they did not carry their attempt's secret.
    pub forged_reports: u64,
    /// Stages assigned to an agent process that was replaced by a new one (restart).
    pub restarted_stages: u64,
}

struct AgentInfo {
    last_seen: Instant,
    live: bool,
    /// The agent process polling for the node (a random id it picks at start).
    instance: Option<String>,
}

/// Makes the secret of one stage attempt (random, unguessable).
pub type SecretSource = Box<dyn FnMut() -> String + Send>;

/// Bytes a task holds against its tenant's byte quota while it is unfinished: its inline
/// input files and command lines, and room for the output files its command stages may
/// return.
pub fn reserved_bytes(spec: &TaskSpec) -> u64 {
    spec.stages
        .iter()
        .filter_map(|s| s.run.as_ref())
        .map(|run| {
            let inputs: usize = run
                .inputs
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
                + run.command.iter().map(String::len).sum::<usize>();
            let outputs = (run.outputs.len() * MAX_OUTPUT_FILE_BYTES).min(MAX_OUTPUT_TOTAL_BYTES);
            (inputs + outputs) as u64
        })
        .sum()
}

/// What a tenant's unfinished tasks hold, against its quotas.
#[derive(Debug, Default, Clone, Copy)]
struct TenantUse {
    tasks: usize,
    /// [`reserved_bytes`] of those tasks.
    bytes: u64,
}

/// What [`Service::submit`] did with a submission it did not refuse.
#[derive(Debug)]
pub enum Submitted {
    /// A new task, with its decision.
    Accepted(Box<TaskRecord>),
    /// The tenant's idempotency key was accepted before, as this task: in memory, or in
    /// the store if it ended beyond `keep_finished`.
    Duplicate(u64),
}

/// What an agent's poll gets: work to start, and stages it holds that it must stop.
#[derive(Debug, Default)]
pub struct PollAnswer {
    pub assignments: Vec<Assignment>,
    pub cancel: Vec<StageRef>,
}

pub struct Service {
    pub twin: Twin,
    /// Node names in network order (the scenario's labels), and back.
    names: Vec<String>,
    by_name: HashMap<String, u32>,
    policy: Box<dyn Policy + Send>,
    policy_name: String,
    tasks: BTreeMap<u64, TaskRecord>,
    by_key: HashMap<(String, String), u64>,
    next_id: u64,
    loads: Loads,
    /// Modelled stage finishes and result deliveries: (twin ns, task, stage, attempt).
    modelled: BinaryHeap<Reverse<(i64, u64, u16, u32)>>,
    /// Command stages ready for their agent, per node.
    ready_on: BTreeMap<u32, BTreeSet<(u64, u16)>>,
    /// Command stages handed to their agent and not yet reported, per node.
    assigned_on: BTreeMap<u32, BTreeSet<(u64, u16)>>,
    unplaced: BTreeSet<(u64, u16)>,
    agents: BTreeMap<u32, AgentInfo>,
    /// What each tenant's unfinished tasks hold.
    in_use: HashMap<String, TenantUse>,
    pub max_active_bytes_per_tenant: u64,
    secrets: SecretSource,
    dirty: BTreeSet<u64>,
    events: Vec<Event>,
    counters: Counters,
    pub max_active_per_tenant: usize,
    pub heartbeat_timeout: Duration,
    /// Ended tasks kept in memory, oldest first; older ones are read from the store.
    final_order: VecDeque<u64>,
    pub keep_finished: usize,
    evicted_by_state: BTreeMap<TaskState, u64>,
}

fn iso(ns: i64) -> String {
    Epoch::from_unix_ns(ns).to_string()
}

/// Seconds to ns, at most ~31 years so sums of a few stay far from overflow.
pub(crate) fn secs_ns(s: f64) -> i64 {
    (s * 1e9).round().clamp(0.0, 1e18) as i64
}

impl Service {
    pub fn new(scenario: &Scenario, policy: &str) -> Result<Service, StartError> {
        let twin = Twin::new(&scenario.world())?;
        let names = scenario.node_labels();
        let by_name = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        let policy_box: Box<dyn Policy + Send> = tiandi_scheduler::by_name(policy)
            .ok_or_else(|| StartError::UnknownPolicy(policy.to_string()))?;
        let n = twin.n_nodes();
        Ok(Service {
            twin,
            names,
            by_name,
            policy: policy_box,
            policy_name: policy.to_string(),
            tasks: BTreeMap::new(),
            by_key: HashMap::new(),
            next_id: 1,
            loads: Loads::new(n),
            modelled: BinaryHeap::new(),
            ready_on: BTreeMap::new(),
            assigned_on: BTreeMap::new(),
            unplaced: BTreeSet::new(),
            agents: BTreeMap::new(),
            in_use: HashMap::new(),
            max_active_bytes_per_tenant: u64::MAX,
            secrets: Box::new(|| crate::secret::random_hex(16)),
            dirty: BTreeSet::new(),
            events: Vec::new(),
            counters: Counters::default(),
            max_active_per_tenant: usize::MAX,
            heartbeat_timeout: Duration::from_secs(10),
            final_order: VecDeque::new(),
            keep_finished: usize::MAX,
            evicted_by_state: BTreeMap::new(),
        })
    }

    pub fn loads(&self) -> &Loads {
        &self.loads
    }

    /// The scheduler's view of the twin at twin time `now_ns`, with the service's load
    /// facts.
    pub fn view(&self, now_ns: i64, executors: Executors) -> TwinView<'_> {
        TwinView {
            twin: &self.twin,
            occupancy: &self.loads,
            now_ns,
            executors,
        }
    }

    /// A task held in memory; `None` for unknown ids and for ended tasks beyond
    /// `keep_finished`, which only the store holds.
    pub fn task_in_memory(&self, id: u64) -> Option<&TaskRecord> {
        self.tasks.get(&id)
    }

    /// Tasks held in memory.
    pub fn n_in_memory(&self) -> usize {
        self.tasks.len()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A request refused before it reached the service (its body did not parse).
    pub fn count_invalid_request(&mut self) {
        self.counters.rejected_invalid += 1;
    }

    /// A repeated idempotency key was answered with its task.
    pub fn count_duplicate_answered(&mut self) {
        self.counters.duplicate += 1;
    }

    /// Node names in network order.
    pub fn node_names(&self) -> &[String] {
        &self.names
    }

    pub fn node_name(&self, v: u32) -> &str {
        &self.names[v as usize]
    }

    /// The node called `name`.
    pub fn node_id(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// Replaces the source of attempt secrets (tests make them predictable).
    pub fn set_secret_source(&mut self, source: SecretSource) {
        self.secrets = source;
    }

    /// Brings back stored tasks after a restart: every unfinished stage resumes where it
    /// was. Agents that held work get one heartbeat timeout from `wall` to come back.
    pub fn restore(&mut self, records: Vec<TaskRecord>, wall: Instant) {
        for r in records {
            self.next_id = self.next_id.max(r.id + 1);
            if let Some(k) = &r.spec.idempotency_key {
                self.by_key.insert((r.tenant.clone(), k.clone()), r.id);
            }
            if r.state.is_final() {
                self.final_order.push_back(r.id);
            } else {
                self.hold(&r.tenant, reserved_bytes(&r.spec));
                let all_done = r.stages.iter().all(|s| s.state == StageState::Done);
                for (i, s) in r.stages.iter().enumerate() {
                    let key = (r.id, i as u16);
                    let is_agent = r.spec.stages[i].run.is_some();
                    if s.state != StageState::Done
                        && let Some(n) = s.node
                    {
                        self.loads.add(n, r.spec.stages[i].work_flop);
                        if is_agent {
                            let a = self.agents.entry(n).or_insert(AgentInfo {
                                last_seen: wall,
                                live: true,
                                instance: None,
                            });
                            if a.instance.is_none() {
                                a.instance = s.instance.clone();
                            }
                            self.twin.set_agent_live(n, true);
                        }
                    }
                    match s.state {
                        StageState::Ready if is_agent => {
                            self.ready_on
                                .entry(s.node.unwrap_or(0))
                                .or_default()
                                .insert(key);
                        }
                        StageState::Assigned => {
                            self.assigned_on
                                .entry(s.node.unwrap_or(0))
                                .or_default()
                                .insert(key);
                        }
                        StageState::Modelled => {
                            self.modelled.push(Reverse((
                                s.expected_finish_ns,
                                r.id,
                                i as u16,
                                s.attempt,
                            )));
                        }
                        StageState::Unplaced => {
                            self.unplaced.insert(key);
                        }
                        _ => {}
                    }
                }
                if all_done {
                    let at = r.finished_ns.unwrap_or(r.expected_finish_ns);
                    self.modelled.push(Reverse((at, r.id, DELIVER, 0)));
                }
            }
            self.tasks.insert(r.id, r);
        }
        self.evict();
    }

    /// Drops the oldest ended tasks from memory beyond `keep_finished`; their records are
    /// in the store (call only once their last change has been handed to it).
    ///
    /// Only ended tasks leave, and `finish` takes an ended task out of `ready_on`,
    /// `assigned_on` and `unplaced`, so ids from those indices and from `dirty` are always
    /// in `tasks`. Ids from outside (`submit`'s keys, `complete`, `visible`, `is_current`,
    /// the `modelled` heap) may name an evicted task and are looked up, not indexed.
    fn evict(&mut self) {
        while self.final_order.len() > self.keep_finished {
            let id = self.final_order.pop_front().expect("non-empty");
            if let Some(r) = self.tasks.remove(&id) {
                *self.evicted_by_state.entry(r.state).or_default() += 1;
            }
        }
    }

    /// Retention: `records` (ended tasks read from the store) leave memory and the
    /// store. Their idempotency keys are forgotten with them, so a repeated key is then a
    /// new submission. Returns the deletions to commit; a record that is not ended here
    /// (or no longer the task of that id) is skipped.
    pub fn forget(&mut self, records: &[TaskRecord]) -> Vec<Write> {
        let mut out = Vec::new();
        let mut left_memory = std::collections::HashSet::new();
        for r in records {
            let held = self.tasks.get(&r.id);
            if held.is_some_and(|h| !h.state.is_final()) || self.dirty.contains(&r.id) {
                continue;
            }
            match self.tasks.remove(&r.id) {
                Some(_) => {
                    left_memory.insert(r.id);
                }
                None => {
                    if let Some(n) = self.evicted_by_state.get_mut(&r.state) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            if let Some(k) = &r.spec.idempotency_key {
                let key = (r.tenant.clone(), k.clone());
                if self.by_key.get(&key) == Some(&r.id) {
                    self.by_key.remove(&key);
                }
            }
            out.push(Write::Delete(r.id));
        }
        if !left_memory.is_empty() {
            self.final_order.retain(|id| !left_memory.contains(id));
        }
        if !out.is_empty() {
            // The newest task may be among those deleted: the next id is kept beside
            // them, so ids are never given twice, even after a restart with every task
            // gone.
            out.push(Write::Meta(NEXT_ID, self.next_id.to_le_bytes().to_vec()));
        }
        out
    }

    /// Never gives an id below `next` (from the store's [`NEXT_ID`]).
    pub fn raise_next_id(&mut self, next: u64) {
        self.next_id = self.next_id.max(next);
    }

    /// Tasks held, in memory or only in the store.
    pub fn n_tasks(&self) -> u64 {
        self.tasks.len() as u64 + self.evicted_by_state.values().sum::<u64>()
    }

    /// A new unfinished task of `tenant`, holding `bytes`.
    fn hold(&mut self, tenant: &str, bytes: u64) {
        let u = self.in_use.entry(tenant.to_string()).or_default();
        u.tasks += 1;
        u.bytes += bytes;
    }

    /// Refuses (429) a task of `tenant` holding `bytes` that would exceed either quota.
    fn check_quota(&mut self, tenant: &str, bytes: u64) -> Result<(), Refusal> {
        let u = self.in_use.get(tenant).copied().unwrap_or_default();
        let over = if u.tasks >= self.max_active_per_tenant {
            Some(format!(
                "it has {} unfinished tasks, its quota",
                self.max_active_per_tenant
            ))
        } else if u.bytes.saturating_add(bytes) > self.max_active_bytes_per_tenant {
            Some(format!(
                "its unfinished tasks hold {} bytes and this one needs {bytes} more (input files, command lines and room for outputs): over its byte quota of {}",
                u.bytes, self.max_active_bytes_per_tenant
            ))
        } else {
            None
        };
        match over {
            None => Ok(()),
            Some(why) => {
                self.counters.rejected_quota += 1;
                Err(Refusal::new(
                    RefusalKind::OverQuota,
                    format!("tenant {tenant:?}: {why}"),
                    None,
                ))
            }
        }
    }

    /// Checks a submission and turns it into the simulator's task model.
    pub fn to_task(&self, spec: &TaskSpec, now_ns: i64) -> Result<Task, Refusal> {
        crate::validate::task(spec, now_ns, self.next_id, &self.by_name, &self.twin)
    }

    /// Places stage `i` with the policy: node, expected start and finish (twin ns), route.
    /// `pred_at[j]` is where stage j is (or will be) and when its output is ready.
    fn plan_stage(
        &mut self,
        task: &Task,
        spec: &TaskSpec,
        i: usize,
        pred_at: &[Option<(u32, i64)>],
        now_ns: i64,
    ) -> Result<(u32, i64, i64, Vec<u32>), String> {
        let s = &task.stages[i];
        let data_at = s
            .after
            .first()
            .and_then(|&p| pred_at[usize::from(p)].map(|(n, _)| n))
            .unwrap_or(task.origin);
        let view = TwinView {
            twin: &self.twin,
            occupancy: &self.loads,
            now_ns,
            executors: if spec.stages[i].run.is_some() {
                Executors::Agents
            } else {
                Executors::Any
            },
        };
        let node = match self.policy.place(task, i, data_at, &view) {
            Decision::Run(n) => n,
            Decision::Reject => {
                return Err(if view.executors == Executors::Agents {
                    format!("stage {i} carries a command and no node with a live agent can run it")
                } else {
                    format!(
                        "the {} policy found no node for stage {i}",
                        self.policy_name
                    )
                });
            }
        };
        let compute_s = view.compute_s(node, s.peak_flop());
        if !compute_s.is_finite() || !view.fits_memory(node, s.memory_bytes) {
            return Err(format!(
                "stage {i}: {} cannot run it now (no compute, power, memory or agent)",
                self.names[node as usize]
            ));
        }
        let mut ready_ns = now_ns;
        if s.after.is_empty() {
            let move_s = view
                .transfer_s(task.origin, node, s.input_bytes)
                .ok_or_else(|| {
                    format!(
                        "stage {i}: no route now from {} to {}",
                        self.names[task.origin as usize], self.names[node as usize]
                    )
                })?;
            ready_ns = ready_ns.saturating_add(secs_ns(move_s));
        }
        for &p in &s.after {
            let (pn, pf) = pred_at[usize::from(p)].ok_or("predecessor unplaced")?;
            let bytes = task.stages[usize::from(p)].output_bytes;
            let move_s = view.transfer_s(pn, node, bytes).ok_or_else(|| {
                format!(
                    "stage {i}: no route now from {} to {}",
                    self.names[pn as usize], self.names[node as usize]
                )
            })?;
            ready_ns = ready_ns.max(pf.max(now_ns).saturating_add(secs_ns(move_s)));
        }
        let start_ns = ready_ns.max(now_ns.saturating_add(secs_ns(view.queue_wait_s(node))));
        let finish_ns = start_ns.saturating_add(secs_ns(compute_s).max(1));
        let route = self.twin.route(data_at, node);
        Ok((node, start_ns, finish_ns, route))
    }

    /// A stage placed on `node` now: its load, and on a satellite as many powered devices
    /// as placed stages where the step's power allows (they wake first), as the simulator
    /// powers devices up for queued work.
    fn place_load(&mut self, node: u32, work_flop: f64, now_ns: i64) {
        self.loads.add(node, work_flop);
        if let Some(c) = self.twin.compute_index(node)
            && c < self.twin.n_sats()
        {
            while self.twin.powered_slots(c) < self.loads.active[node as usize]
                && self.twin.power_up(c, now_ns).is_some()
            {}
        }
    }

    fn deliver_s(&self, task: &Task, at: u32, now_ns: i64) -> Option<f64> {
        let bytes = task.result_bytes();
        let view = self.view(now_ns, Executors::Any);
        match task.destination {
            Destination::Node(d) => view.transfer_s(at, d, bytes),
            Destination::Origin => view.transfer_s(at, task.origin, bytes),
            Destination::AnyGround if self.twin.is_ground_segment(at) => Some(0.0),
            Destination::AnyGround => view.to_ground_s(at, bytes),
        }
    }

    /// Accepts or refuses a submission, or names the task an idempotency key of `tenant`
    /// was already given. That task may have ended long ago and left memory (it is then
    /// only in the store), so the caller reads it and counts the duplicate once answered.
    pub fn submit(
        &mut self,
        tenant: &str,
        spec: TaskSpec,
        now_ns: i64,
        wall_ns: i64,
    ) -> Result<Submitted, Refusal> {
        if let Some(k) = &spec.idempotency_key
            && let Some(&id) = self.by_key.get(&(tenant.to_string(), k.clone()))
        {
            return Ok(Submitted::Duplicate(id));
        }
        let bytes = reserved_bytes(&spec);
        self.check_quota(tenant, bytes)?;
        let task = self.to_task(&spec, now_ns).inspect_err(|_| {
            self.counters.rejected_invalid += 1;
        })?;
        let n = task.stages.len();
        let mut pred_at: Vec<Option<(u32, i64)>> = vec![None; n];
        let mut stages = Vec::with_capacity(n);
        for i in 0..n {
            match self.plan_stage(&task, &spec, i, &pred_at, now_ns) {
                Ok((node, start, finish, route)) => {
                    pred_at[i] = Some((node, finish));
                    stages.push(StageRecord {
                        node: Some(node),
                        state: StageState::Waiting,
                        attempt: 1,
                        expected_start_ns: start,
                        expected_finish_ns: finish,
                        route,
                        exit_code: None,
                        secret: None,
                        instance: None,
                    });
                }
                Err(why) => {
                    self.counters.rejected_infeasible += 1;
                    return Err(Refusal::infeasible(&format!("stages[{i}]"), why));
                }
            }
        }
        let last = stages[n - 1].node.unwrap_or(task.origin);
        let Some(deliver_s) = self.deliver_s(&task, last, now_ns) else {
            self.counters.rejected_infeasible += 1;
            return Err(Refusal::infeasible(
                "destination",
                "no route now to deliver the result to its destination",
            ));
        };
        let finish_ns = stages
            .iter()
            .map(|s| s.expected_finish_ns)
            .max()
            .unwrap_or(now_ns)
            .saturating_add(secs_ns(deliver_s));
        if finish_ns > task.deadline.unix_ns() {
            self.counters.rejected_infeasible += 1;
            return Err(Refusal::new(
                RefusalKind::Infeasible,
                format!(
                    "infeasible: the best placement delivers at {} ({:.3} s), after the deadline ({} s)",
                    iso(finish_ns),
                    (finish_ns - now_ns) as f64 / 1e9,
                    spec.deadline_s
                ),
                Some("deadline_s"),
            ));
        }
        let id = self.next_id;
        self.next_id += 1;
        for (i, s) in stages.iter().enumerate() {
            if let Some(node) = s.node {
                self.place_load(node, task.stages[i].work_flop, now_ns);
            }
        }
        let record = TaskRecord {
            id,
            tenant: tenant.to_string(),
            policy: self.policy_name.clone(),
            state: TaskState::Queued,
            submitted_wall_ns: wall_ns,
            submitted_ns: now_ns,
            deadline_ns: task.deadline.unix_ns(),
            expected_finish_ns: finish_ns,
            deliver_s,
            stages,
            finished_ns: None,
            reason: None,
            files: BTreeMap::new(),
            replacements: 0,
            spec,
        };
        if let Some(k) = &record.spec.idempotency_key {
            self.by_key.insert((tenant.to_string(), k.clone()), id);
        }
        self.hold(tenant, bytes);
        self.tasks.insert(id, record);
        self.counters.accepted += 1;
        self.emit_task(id, now_ns);
        for i in 0..n {
            self.maybe_ready(id, i as u16, now_ns);
        }
        Ok(Submitted::Accepted(Box::new(self.tasks[&id].clone())))
    }

    fn emit_task(&mut self, id: u64, now_ns: i64) {
        let r = &self.tasks[&id];
        self.dirty.insert(id);
        self.events.push(Event::Task {
            id,
            tenant: r.tenant.clone(),
            state: r.state,
            at: iso(now_ns),
        });
    }

    /// A waiting stage whose predecessors are all done becomes ready: modelled stages start
    /// running on the twin's clock, command stages wait for their agent.
    fn maybe_ready(&mut self, id: u64, stage: u16, now_ns: i64) {
        let r = self.tasks.get_mut(&id).expect("task exists");
        let i = usize::from(stage);
        if r.stages[i].state != StageState::Waiting
            || r.spec.stages[i]
                .after
                .iter()
                .any(|&p| r.stages[usize::from(p)].state != StageState::Done)
        {
            return;
        }
        let Some(node) = r.stages[i].node else {
            return;
        };
        let s = &mut r.stages[i];
        if r.spec.stages[i].run.is_some() {
            s.state = StageState::Ready;
            self.ready_on.entry(node).or_default().insert((id, stage));
        } else {
            let duration = s.expected_finish_ns - s.expected_start_ns;
            s.expected_finish_ns = s.expected_finish_ns.max(now_ns.saturating_add(duration));
            s.state = StageState::Modelled;
            self.modelled
                .push(Reverse((s.expected_finish_ns, id, stage, s.attempt)));
            if r.state == TaskState::Queued {
                r.state = TaskState::Running;
                self.emit_task(id, now_ns);
            }
        }
        self.dirty.insert(id);
    }

    /// Stage `stage` of task `id` finished (modelled or reported).
    fn stage_done(&mut self, id: u64, stage: u16, now_ns: i64) {
        let r = self.tasks.get_mut(&id).expect("task exists");
        let i = usize::from(stage);
        r.stages[i].state = StageState::Done;
        if let Some(n) = r.stages[i].node {
            self.loads.remove(n, r.spec.stages[i].work_flop);
            if let Some(set) = self.assigned_on.get_mut(&n) {
                set.remove(&(id, stage));
            }
        }
        self.dirty.insert(id);
        let n = r.stages.len();
        let all_done = r.stages.iter().all(|s| s.state == StageState::Done);
        if all_done {
            let at = now_ns.saturating_add(secs_ns(r.deliver_s));
            self.modelled.push(Reverse((at, id, DELIVER, 0)));
        } else {
            for j in i + 1..n {
                self.maybe_ready(id, j as u16, now_ns);
            }
        }
    }

    /// Ends a task in a final state, releasing everything it held.
    fn finish(&mut self, id: u64, state: TaskState, reason: Option<String>, now_ns: i64) {
        let r = self.tasks.get_mut(&id).expect("task exists");
        debug_assert!(!r.state.is_final());
        r.state = state;
        r.finished_ns = Some(now_ns);
        r.reason = reason;
        for (i, s) in r.stages.iter().enumerate() {
            if s.state != StageState::Done {
                if let Some(n) = s.node {
                    self.loads.remove(n, r.spec.stages[i].work_flop);
                    if let Some(set) = self.ready_on.get_mut(&n) {
                        set.remove(&(id, i as u16));
                    }
                    if let Some(set) = self.assigned_on.get_mut(&n) {
                        set.remove(&(id, i as u16));
                    }
                }
                self.unplaced.remove(&(id, i as u16));
            }
        }
        if let Some(u) = self.in_use.get_mut(&r.tenant) {
            u.tasks = u.tasks.saturating_sub(1);
            u.bytes = u.bytes.saturating_sub(reserved_bytes(&r.spec));
        }
        self.final_order.push_back(id);
        match state {
            TaskState::Completed => self.counters.completed += 1,
            TaskState::Failed => self.counters.failed += 1,
            TaskState::Cancelled => self.counters.cancelled += 1,
            _ => {}
        }
        self.emit_task(id, now_ns);
    }

    /// Cancels a task of `tenant` (`None`: any tenant, for admins).
    pub fn cancel(
        &mut self,
        id: u64,
        tenant: Option<&str>,
        now_ns: i64,
    ) -> Result<TaskRecord, Refusal> {
        let r = self.visible(id, tenant)?;
        if r.state.is_final() {
            return Err(Refusal::stale(format!(
                "task {id} already ended ({})",
                r.state.as_str()
            )));
        }
        self.finish(
            id,
            TaskState::Cancelled,
            Some("cancelled by request".into()),
            now_ns,
        );
        Ok(self.tasks[&id].clone())
    }

    /// A task as its tenant (or an admin) may see it; another tenant's task is "not found".
    pub fn visible(&self, id: u64, tenant: Option<&str>) -> Result<&TaskRecord, Refusal> {
        match self.tasks.get(&id) {
            Some(r) if tenant.is_none_or(|t| t == r.tenant) => Ok(r),
            _ => Err(Refusal::not_found(format!("no task {id}"))),
        }
    }

    /// Advances to twin time `now_ns`: topology and node model, modelled stage finishes,
    /// lost agents, and another try for unplaced stages.
    pub fn tick(&mut self, now_ns: i64, wall: Instant) -> Result<(), TwinError> {
        let changes = self.twin.advance_to(now_ns, &self.loads)?;
        for c in changes {
            let (a, b) = (
                self.names[c.a as usize].clone(),
                self.names[c.b as usize].clone(),
            );
            let kind = c.kind.as_str();
            let at = iso(now_ns);
            self.events.push(if c.up {
                Event::LinkUp { a, b, kind, at }
            } else {
                Event::LinkDown { a, b, kind, at }
            });
        }
        while let Some(&Reverse((t, id, stage, attempt))) = self.modelled.peek() {
            if t > now_ns {
                break;
            }
            self.modelled.pop();
            let Some(r) = self.tasks.get(&id) else {
                continue;
            };
            if r.state.is_final() {
                continue;
            }
            if stage == DELIVER {
                self.finish(id, TaskState::Completed, None, t);
            } else {
                let s = &r.stages[usize::from(stage)];
                if s.state == StageState::Modelled && s.attempt == attempt {
                    self.stage_done(id, stage, t);
                }
            }
        }
        let lost: Vec<u32> = self
            .agents
            .iter()
            .filter(|(_, a)| a.live && wall.duration_since(a.last_seen) > self.heartbeat_timeout)
            .map(|(&n, _)| n)
            .collect();
        for n in lost {
            self.agents.get_mut(&n).expect("listed").live = false;
            self.counters.agents_lost += 1;
            self.twin.set_agent_live(n, false);
            self.twin.set_down(n, true);
            self.events.push(Event::NodeAlarm {
                node: self.names[n as usize].clone(),
                alarm: "agent-lost".into(),
                at: iso(now_ns),
            });
            self.replace_node_work(n, now_ns);
        }
        self.retry_unplaced(now_ns);
        Ok(())
    }

    /// Places every unfinished stage on node `n` again (its agent was lost or it failed).
    fn replace_node_work(&mut self, n: u32, now_ns: i64) {
        let mut victims = Vec::new();
        for (&id, r) in &self.tasks {
            if r.state.is_final() {
                continue;
            }
            for (i, s) in r.stages.iter().enumerate() {
                if s.node == Some(n) && s.state != StageState::Done {
                    victims.push((id, i as u16));
                }
            }
        }
        self.ready_on.remove(&n);
        self.assigned_on.remove(&n);
        for (id, i) in victims {
            let r = self.tasks.get_mut(&id).expect("listed");
            let s = &mut r.stages[usize::from(i)];
            self.loads
                .remove(n, r.spec.stages[usize::from(i)].work_flop);
            s.node = None;
            s.attempt += 1;
            s.secret = None;
            s.instance = None;
            s.state = StageState::Unplaced;
            r.replacements += 1;
            self.counters.replaced_stages += 1;
            self.unplaced.insert((id, i));
            self.dirty.insert(id);
        }
        self.retry_unplaced(now_ns);
    }

    fn retry_unplaced(&mut self, now_ns: i64) {
        let pending: Vec<(u64, u16)> = self.unplaced.iter().copied().collect();
        for (id, i) in pending {
            let r = &self.tasks[&id];
            if r.state.is_final() {
                self.unplaced.remove(&(id, i));
                continue;
            }
            // Predecessors not yet placed go first.
            let pred_at: Vec<Option<(u32, i64)>> = r
                .stages
                .iter()
                .map(|s| s.node.map(|n| (n, s.expected_finish_ns)))
                .collect();
            if r.spec.stages[usize::from(i)]
                .after
                .iter()
                .any(|&p| pred_at[usize::from(p)].is_none())
            {
                continue;
            }
            let spec = r.spec.clone();
            let deadline_ns = r.deadline_ns;
            let Ok(mut task) = self.to_task(&spec, r.submitted_ns) else {
                continue;
            };
            task.id = id;
            match self.plan_stage(&task, &spec, usize::from(i), &pred_at, now_ns) {
                Ok((node, start, finish, route)) => {
                    self.unplaced.remove(&(id, i));
                    self.place_load(node, spec.stages[usize::from(i)].work_flop, now_ns);
                    let r = self.tasks.get_mut(&id).expect("listed");
                    let s = &mut r.stages[usize::from(i)];
                    s.node = Some(node);
                    s.state = StageState::Waiting;
                    s.expected_start_ns = start;
                    s.expected_finish_ns = finish;
                    s.route = route;
                    self.dirty.insert(id);
                    self.maybe_ready(id, i, now_ns);
                }
                Err(why) if now_ns > deadline_ns => {
                    self.unplaced.remove(&(id, i));
                    self.finish(
                        id,
                        TaskState::Failed,
                        Some(format!("deadline passed while unplaced: {why}")),
                        now_ns,
                    );
                }
                Err(_) => {}
            }
        }
    }

    /// An agent's heartbeat: the node is (again) served, its telemetry overrides the model.
    pub fn heartbeat(&mut self, node: u32, report: NodeReport, now_ns: i64, wall: Instant) {
        let failed = report.failed == Some(true);
        let was_failed = self.twin.report(node).and_then(|t| t.failed) == Some(true);
        self.twin.set_report(node, report);
        let a = self.agents.entry(node).or_insert(AgentInfo {
            last_seen: wall,
            live: false,
            instance: None,
        });
        a.last_seen = wall;
        let name = self.names[node as usize].clone();
        if !a.live {
            a.live = true;
            self.twin.set_agent_live(node, true);
            self.twin.set_down(node, false);
            self.events.push(Event::NodeAlarm {
                node: name.clone(),
                alarm: "agent-up".into(),
                at: iso(now_ns),
            });
        }
        if failed && !was_failed {
            self.events.push(Event::NodeAlarm {
                node: name,
                alarm: "failed".into(),
                at: iso(now_ns),
            });
            self.replace_node_work(node, now_ns);
        }
    }

    /// Hands up to `max` ready command stages on `node` to the agent process `instance`,
    /// each attempt with a fresh secret its completion must carry back.
    ///
    /// - Stages already handed to this same process that it does not say it `holds`
    ///   (running, or its result not yet delivered) are sent again: their first answer may
    ///   have been lost, say when the service was killed between storing an assignment and
    ///   sending it.
    /// - Stages handed to an earlier process of the node (the agent restarted; the kernel
    ///   ended the old process's stages with it) become new attempts, so a late report of
    ///   the old run is refused.
    /// - Held stages that are no longer current (task cancelled or ended, attempt
    ///   superseded) are listed in `cancel`: the agent ends their processes.
    pub fn poll(
        &mut self,
        node: u32,
        instance: &str,
        max: usize,
        holds: &BTreeSet<StageRef>,
        now_ns: i64,
    ) -> PollAnswer {
        if let Some(a) = self.agents.get_mut(&node)
            && a.instance.as_deref() != Some(instance)
        {
            a.instance = Some(instance.to_string());
            self.restart_assigned(node, instance);
        }
        let cancel: Vec<StageRef> = holds
            .iter()
            .filter(|h| !self.is_current(node, h))
            .copied()
            .collect();
        let mut out: Vec<Assignment> = self
            .assigned_on
            .get(&node)
            .into_iter()
            .flatten()
            .filter(|&&(id, i)| {
                let attempt = self.tasks[&id].stages[usize::from(i)].attempt;
                !holds.contains(&StageRef {
                    task: id,
                    stage: i,
                    attempt,
                })
            })
            .map(|&(id, i)| self.assignment(id, i))
            .collect();
        let picked: Vec<(u64, u16)> = match self.ready_on.get_mut(&node) {
            Some(set) => {
                let picked: Vec<(u64, u16)> = set.iter().take(max).copied().collect();
                for k in &picked {
                    set.remove(k);
                }
                picked
            }
            None => Vec::new(),
        };
        for (id, i) in picked {
            let secret = (self.secrets)();
            let r = self.tasks.get_mut(&id).expect("indexed");
            let s = &mut r.stages[usize::from(i)];
            s.state = StageState::Assigned;
            s.secret = Some(secret);
            s.instance = Some(instance.to_string());
            if r.state == TaskState::Queued {
                r.state = TaskState::Running;
                self.emit_task(id, now_ns);
            }
            self.assigned_on.entry(node).or_default().insert((id, i));
            self.dirty.insert(id);
            out.push(self.assignment(id, i));
        }
        PollAnswer {
            assignments: out,
            cancel,
        }
    }

    /// Whether `h` is the current attempt of a stage assigned to `node`.
    fn is_current(&self, node: u32, h: &StageRef) -> bool {
        self.tasks.get(&h.task).is_some_and(|r| {
            !r.state.is_final()
                && r.stages.get(usize::from(h.stage)).is_some_and(|s| {
                    s.node == Some(node)
                        && s.attempt == h.attempt
                        && s.state == StageState::Assigned
                })
        })
    }

    /// The node's agent came back as a new process: what the old one was given becomes a
    /// new attempt, ready for the new one.
    fn restart_assigned(&mut self, node: u32, instance: &str) {
        let held: Vec<(u64, u16)> = self
            .assigned_on
            .get(&node)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for (id, i) in held {
            let r = self.tasks.get_mut(&id).expect("indexed");
            let s = &mut r.stages[usize::from(i)];
            if s.instance.as_deref() == Some(instance) {
                continue;
            }
            s.attempt += 1;
            s.state = StageState::Ready;
            s.secret = None;
            s.instance = None;
            self.counters.restarted_stages += 1;
            if let Some(set) = self.assigned_on.get_mut(&node) {
                set.remove(&(id, i));
            }
            self.ready_on.entry(node).or_default().insert((id, i));
            self.dirty.insert(id);
        }
    }

    /// What the agent needs to run stage `i` of task `id`.
    fn assignment(&self, id: u64, i: u16) -> Assignment {
        let r = &self.tasks[&id];
        let run = r.spec.stages[usize::from(i)]
            .run
            .clone()
            .expect("only command stages are assigned");
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut inputs: BTreeMap<String, String> = BTreeMap::new();
        // Predecessors' outputs first, then the stage's own files.
        for &p in &r.spec.stages[usize::from(i)].after {
            if let Some(prun) = &r.spec.stages[usize::from(p)].run {
                for name in &prun.outputs {
                    if let Some(content) = r.files.get(name) {
                        inputs.insert(name.clone(), content.clone());
                    }
                }
            }
        }
        for (name, text) in &run.inputs {
            inputs.insert(name.clone(), b64.encode(text));
        }
        Assignment {
            task: id,
            stage: i,
            attempt: r.stages[usize::from(i)].attempt,
            command: run.command,
            inputs,
            outputs: run.outputs,
            timeout_s: run.timeout_s,
            secret: r.stages[usize::from(i)]
                .secret
                .clone()
                .expect("assigned stages have a secret"),
        }
    }

    /// An agent reports a stage ended. Refused (409) unless it is the current attempt of a
    /// stage assigned to this node, and (403) unless it carries that attempt's secret, so
    /// no stage completes twice and a node token alone cannot complete a stage it was not
    /// given. Outputs over the limits fail the stage with the reason.
    pub fn complete(&mut self, node: u32, c: Completion, now_ns: i64) -> Result<(), Refusal> {
        let stale = |why: &str| Refusal::stale(format!("stale report: {why}"));
        let Some(r) = self.tasks.get(&c.task) else {
            if (1..self.next_id).contains(&c.task) {
                // Ended long ago and no longer in memory.
                self.counters.stale_reports += 1;
                return Err(stale(&format!("task {} already ended", c.task)));
            }
            return Err(Refusal::invalid("task", format!("no task {}", c.task)));
        };
        let i = usize::from(c.stage);
        if i >= r.stages.len() {
            return Err(Refusal::invalid(
                "stage",
                format!("task {} has {} stages", c.task, r.stages.len()),
            ));
        }
        let s = &r.stages[i];
        if r.state.is_final() {
            self.counters.stale_reports += 1;
            return Err(stale(&format!("task {} already ended", c.task)));
        }
        if s.node != Some(node) || s.attempt != c.attempt || s.state != StageState::Assigned {
            self.counters.stale_reports += 1;
            return Err(stale(&format!(
                "stage {i} of task {} is not assigned to this node at attempt {}",
                c.task, c.attempt
            )));
        }
        let genuine = match (&s.secret, &c.secret) {
            (Some(want), Some(got)) => crate::secret::same(want, got),
            _ => false,
        };
        if !genuine {
            self.counters.forged_reports += 1;
            return Err(Refusal::new(
                RefusalKind::Forged,
                "the report does not carry the secret of this attempt's assignment",
                Some("secret"),
            ));
        }
        let run = r.spec.stages[i]
            .run
            .as_ref()
            .expect("assigned stages carry a command");
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut refusal = None;
        let mut total = 0usize;
        for (name, content) in &c.outputs {
            if !run.outputs.contains(name) {
                return Err(Refusal::invalid(
                    &format!("outputs.{name}"),
                    "not an output the stage declared",
                ));
            }
            match b64.decode(content) {
                Ok(bytes) if bytes.len() > MAX_OUTPUT_FILE_BYTES => {
                    refusal = Some(format!(
                        "output {name} is {} bytes, over the limit of {MAX_OUTPUT_FILE_BYTES} per file",
                        bytes.len()
                    ));
                }
                Ok(bytes) => total += bytes.len(),
                Err(e) => {
                    return Err(Refusal::invalid(
                        &format!("outputs.{name}"),
                        format!("not base64: {e}"),
                    ));
                }
            }
        }
        if refusal.is_none() && total > MAX_OUTPUT_TOTAL_BYTES {
            refusal = Some(format!(
                "outputs total {total} bytes, over the limit of {MAX_OUTPUT_TOTAL_BYTES} per stage"
            ));
        }
        let name = self.names[node as usize].clone();
        let r = self.tasks.get_mut(&c.task).expect("checked");
        r.stages[i].exit_code = c.exit_code;
        if let Some(why) = refusal {
            self.finish(
                c.task,
                TaskState::Failed,
                Some(format!("stage {i} on {name}: {why}")),
                now_ns,
            );
            return Ok(());
        }
        r.files.extend(c.outputs);
        if c.exit_code == Some(0) {
            self.stage_done(c.task, c.stage, now_ns);
        } else {
            let why = format!(
                "stage {i} on {name}: {}{}",
                c.exit_code
                    .map_or("did not exit normally".into(), |x| format!("exit code {x}")),
                c.message.map(|m| format!(": {m}")).unwrap_or_default()
            );
            self.finish(c.task, TaskState::Failed, Some(why), now_ns);
        }
        Ok(())
    }

    /// The records and events changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        let writes = std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|id| Write::Task(Box::new(self.tasks[&id].clone())))
            .collect();
        // Whatever is evicted now has had its last change handed out above.
        self.evict();
        Changes {
            writes,
            events: std::mem::take(&mut self.events),
        }
    }

    pub fn agent_live(&self, node: u32) -> bool {
        self.agents.get(&node).is_some_and(|a| a.live)
    }

    pub fn agent_seen_s(&self, node: u32, wall: Instant) -> Option<f64> {
        self.agents
            .get(&node)
            .map(|a| wall.duration_since(a.last_seen).as_secs_f64())
    }

    pub fn count_by_state(&self) -> BTreeMap<TaskState, u64> {
        let mut m = self.evicted_by_state.clone();
        for r in self.tasks.values() {
            *m.entry(r.state).or_default() += 1;
        }
        m
    }
}
