//! What a simulation run gives back: per-task records, link and node time series, faults
//! and the summary (what it takes, [`SimSetup`], is the twin's). Plain data; the edge
//! crates read and write it.

use tiandi_network::LinkKind;
use tiandi_orbit::Epoch;
pub use tiandi_twin::{FaultSetup, SimSetup};
use tiandi_workload::TaskKind;

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

/// One satellite's physical state at the end of one step, with its average power flows
/// over the step, W. They balance: `harvested = compute + idle + bus + heater + loss +
/// curtailed + stored change` (the change follows from consecutive `soc_fraction`s).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodeSample {
    pub step: u32,
    pub satellite: u32,
    pub soc_fraction: f32,
    pub temp_k: f32,
    /// Accelerators (and host share) while they ran stages.
    pub compute_w: f32,
    /// Powered accelerators while they idled or woke.
    pub idle_w: f32,
    pub bus_w: f32,
    pub heater_w: f32,
    /// Array output at its maximum-power point.
    pub harvested_w: f32,
    /// Charge and discharge losses.
    pub loss_w: f32,
    pub curtailed_w: f32,
    /// The payload ran below its demand for heat (the radiator) in this step.
    pub throttled: bool,
    /// The payload ran below its demand for power (array and battery floor).
    pub power_limited: bool,
    /// Accelerator slots powered.
    pub powered_slots: u32,
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

/// Where the satellites' energy went over a run, Wh (sums over satellites and steps).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EnergyBooks {
    /// Array output at the maximum-power point.
    pub harvested_wh: f64,
    /// Accelerators (with host share) while they ran stages.
    pub compute_wh: f64,
    /// Powered accelerators while idle or waking.
    pub idle_wh: f64,
    pub bus_wh: f64,
    pub heater_wh: f64,
    /// Battery charge and discharge losses.
    pub loss_wh: f64,
    pub curtailed_wh: f64,
    /// Change of the batteries' charge over the run.
    pub stored_change_wh: f64,
}

impl EnergyBooks {
    /// Energy the satellites used: compute, idle, bus and heater.
    pub fn used_wh(&self) -> f64 {
        self.compute_wh + self.idle_wh + self.bus_wh + self.heater_wh
    }
}

/// What the physics did to the work of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhysicsBooks {
    pub energy: EnergyBooks,
    /// Satellite-seconds with the payload held below its demand by heat.
    pub throttled_s: f64,
    /// Satellite-seconds with the payload held below its demand by power.
    pub power_limited_s: f64,
    /// Work of stages that a fault or a power cut threw away, FLOP.
    pub work_lost_flop: f64,
    /// Stages stopped by a power cut (put back in the queue).
    pub stages_preempted: u64,
    /// Device-seconds satellites spent computing stages.
    pub busy_device_s: f64,
    /// Link-seconds new ISLs spent acquiring (pointing, acquisition, tracking) before they
    /// carried data.
    pub isl_acquiring_s: f64,
    /// Link-seconds new ground links spent in handover before they carried data.
    pub gsl_handover_s: f64,
    /// Seconds transfers waited for a link still acquiring or in handover (summed over
    /// hops).
    pub link_wait_s: f64,
    /// Devices retired by total ionizing dose at the end of the run.
    pub devices_retired: u64,
    /// Waiting stages the policy moved to another node (global mode).
    pub stages_reassigned: u64,
    /// Slot-seconds data centres spent computing stages, and slot-seconds they had.
    pub ground_busy_s: f64,
    pub ground_slot_s: f64,
    /// What the data centres drew for that, at their PUE, Wh.
    pub ground_energy_wh: f64,
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
    /// Energy of compute, idle accelerators, bus and heaters (`physics.energy.used_wh()`).
    pub energy_used_wh: f64,
    pub energy_curtailed_wh: f64,
    pub throttled_s: f64,
    pub physics: PhysicsBooks,
    pub faults_injected: u64,
    /// Faults that struck a device while it ran a stage.
    pub faults_hit_stages: u64,
    /// Of those, the stages restarted (the others failed their task).
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
