//! What a simulation run takes and what it gives back: the setup, per-task records, link
//! and node time series, faults and the summary. Plain data; the edge crates read and
//! write it.

use tiandi_network::{LinkKind, NetworkSpec};
use tiandi_node::{FaultModel, NodeConfig};
use tiandi_orbit::{Epoch, Satellite};
use tiandi_workload::{Task, TaskKind};

/// Everything one run needs. Node numbering is the network's: satellites (same order as
/// `satellites`), ground stations, data centres, user regions.
#[derive(Clone, Debug)]
pub struct SimSetup {
    pub start: Epoch,
    pub end: Epoch,
    /// Topology and node-physics step, ns.
    pub step_ns: i64,
    /// Root of all randomness in the run (faults); printed in every result.
    pub seed: u64,
    pub satellites: Vec<Satellite>,
    pub network: NetworkSpec,
    /// Compute payload, power and thermal of each satellite (same order as `satellites`).
    pub satellite_nodes: Vec<NodeConfig>,
    /// Throughput of one compute slot in a data centre, FLOP/s: a data centre has
    /// `compute_capacity_flops / data_centre_slot_flops` slots.
    pub data_centre_slot_flops: f64,
    /// Memory of one data-centre slot, bytes.
    pub data_centre_slot_memory_bytes: u64,
    pub faults: FaultSetup,
    /// Tasks sorted by arrival, ids unique.
    pub tasks: Vec<Task>,
}

/// Fault injection.
#[derive(Clone, Debug)]
pub struct FaultSetup {
    /// Radiation upsets on satellites; `None` injects none.
    pub radiation: Option<FaultModel>,
    /// A stage hit by a fault is restarted at most this many times, then the task fails.
    pub max_retries: u32,
    /// Satellite outages: (satellite index, from, to). The node neither computes nor relays.
    pub outages: Vec<(u32, Epoch, Epoch)>,
}

/// How a task ended. Every task ends exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Its result reached its destination.
    Completed,
    /// A stage failed more often than `max_retries`.
    Failed,
    /// Refused by the policy, or still unfinished when the run ended.
    Dropped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Dropped => "dropped",
        }
    }
}

/// One task's life.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRecord {
    pub id: u64,
    pub kind: TaskKind,
    pub arrival: Epoch,
    pub deadline: Epoch,
    /// Node of each stage (empty when rejected before the first placement).
    pub placement: Vec<u32>,
    /// When the first stage started computing.
    pub start: Option<Epoch>,
    /// When the result arrived (or the task failed/was dropped).
    pub finish: Epoch,
    /// Bytes sent over every hop, summed.
    pub bytes_moved: u64,
    /// Bytes sent down satellite -> ground links.
    pub downlink_bytes: u64,
    /// Bytes sent over inter-satellite links.
    pub isl_bytes: u64,
    pub retries: u32,
    pub outcome: Outcome,
}

impl TaskRecord {
    pub fn deadline_met(&self) -> bool {
        self.outcome == Outcome::Completed && self.finish <= self.deadline
    }

    pub fn latency_s(&self) -> f64 {
        self.finish.seconds_since(self.arrival)
    }
}

/// Bytes carried by one link during one step (links that carried nothing are left out).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkSample {
    pub step: u32,
    pub a: u32,
    pub b: u32,
    pub kind: LinkKind,
    pub bytes: u64,
    /// bytes x 8 / (capacity x step length).
    pub utilisation: f64,
}

/// One satellite's physical state at the end of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeSample {
    pub step: u32,
    pub satellite: u32,
    pub soc_fraction: f32,
    pub temp_k: f32,
    pub compute_w: f32,
    pub curtailed_w: f32,
    pub throttled: bool,
    /// Floating-point work done on this satellite during the step.
    pub work_flop: f64,
}

/// One injected fault.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultRecord {
    pub t: Epoch,
    pub satellite: u32,
    /// The task whose running stage it hit, if any.
    pub task: Option<u64>,
    /// Whether that stage was restarted (false: the task failed, or nothing was running).
    pub recovered: bool,
}

/// The figures of `summary.json` for one policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub policy: String,
    pub seed: u64,
    pub tasks_total: u64,
    pub completed: u64,
    pub failed: u64,
    pub dropped: u64,
    pub deadline_met_ratio: f64,
    pub latency_p50_s: f64,
    pub latency_p95_s: f64,
    pub latency_p99_s: f64,
    pub downlink_bytes: u64,
    pub isl_bytes: u64,
    pub energy_used_wh: f64,
    pub energy_curtailed_wh: f64,
    pub throttled_s: f64,
    pub faults_injected: u64,
    pub faults_recovered: u64,
    /// Per task kind: (kind, completed, deadline-met ratio, p95 latency s).
    pub by_kind: Vec<KindSummary>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct KindSummary {
    pub kind: TaskKind,
    pub total: u64,
    pub completed: u64,
    pub deadline_met_ratio: f64,
    pub latency_p50_s: f64,
    pub latency_p95_s: f64,
    pub downlink_bytes: u64,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub summary: Summary,
    /// In task-id order.
    pub tasks: Vec<TaskRecord>,
    pub links: Vec<LinkSample>,
    pub nodes: Vec<NodeSample>,
    pub faults: Vec<FaultRecord>,
    pub n_steps: u32,
}
