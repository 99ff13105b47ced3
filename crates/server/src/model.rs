//! The wire and storage model of the control plane: task submissions as they arrive
//! (JSON), the stored task record with every stage's placement and state, events.
//!
//! The submission is the simulator's task model (`tiandi_workload::Task`: a DAG of stages
//! with work, bytes, memory, pin and predecessors) with node names instead of indices, a
//! relative deadline, and an optional command per stage for node agents to run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A task as submitted to `POST /v1/tasks`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// `earth-observation`, `blind-zone`, `ground-ai` or `graph` (the default).
    #[serde(default)]
    pub kind: Option<String>,
    /// Node (by name) where the task's input data is.
    pub origin: String,
    /// `any-ground` (the default), `origin`, or a node name.
    #[serde(default)]
    pub destination: Option<String>,
    /// Seconds of twin time from submission by which the result must be delivered.
    pub deadline_s: f64,
    pub stages: Vec<StageSpec>,
    /// Resubmitting with the same key returns the first task instead of a new one.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// One stage of a submitted task.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub work_flop: f64,
    #[serde(default)]
    pub input_bytes: u64,
    #[serde(default)]
    pub output_bytes: u64,
    #[serde(default)]
    pub memory_bytes: u64,
    /// `free` (the default), `origin`, `ground`, or a node name.
    #[serde(default)]
    pub pin: Option<String>,
    #[serde(default)]
    pub after: Vec<u16>,
    /// Fraction of a device's peak the work achieves, 0.01 to 1; the task kind's default
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efficiency: Option<f64>,
    /// A command for a node agent to run; such a stage is placed only on nodes with a live
    /// agent.
    #[serde(default)]
    pub run: Option<RunSpec>,
}

/// What a node agent runs for a stage.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Program and arguments (no shell unless you name one).
    pub command: Vec<String>,
    /// Files written into the working directory before the command runs: name -> text.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// Files the command leaves in its working directory, sent back with the result (and
    /// handed to the stages that come after it).
    #[serde(default)]
    pub outputs: Vec<String>,
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
}

fn default_timeout_s() -> f64 {
    60.0
}

/// Lifecycle of a task. `completed`, `failed` and `cancelled` are final.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Accepted and placed; no stage has started.
    Queued,
    /// At least one stage has started.
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl TaskState {
    pub const ALL: [TaskState; 5] = [
        TaskState::Queued,
        TaskState::Running,
        TaskState::Completed,
        TaskState::Failed,
        TaskState::Cancelled,
    ];

    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Failed | TaskState::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Lifecycle of one stage.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StageState {
    /// Predecessors not finished yet.
    Waiting,
    /// Inputs ready; runs in the twin (modelled node) or waits for its agent to poll.
    Ready,
    /// Handed to the node's agent (this attempt).
    Assigned,
    /// Running in the twin's model until its expected finish.
    Modelled,
    /// No node can take it now (its node was lost); placement is retried.
    Unplaced,
    Done,
}

/// A stored stage: where it runs, when, and how far it got.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StageRecord {
    /// Node index in the twin; `None` while unplaced.
    pub node: Option<u32>,
    pub state: StageState,
    /// Placement attempt: bumped whenever the stage is placed again, so a lost agent's late
    /// report is refused.
    pub attempt: u32,
    /// Twin time, ns since 1970.
    pub expected_start_ns: i64,
    pub expected_finish_ns: i64,
    /// Node indices from where the stage's input is to where it runs.
    pub route: Vec<u32>,
    pub exit_code: Option<i32>,
    /// The current attempt's secret, handed to the agent with the assignment; a completion
    /// must carry it. `None` until the attempt is assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The agent process (its instance id) the attempt was handed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// A stored task: the submission, its decision and its progress. Written whole on every
/// change.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TaskRecord {
    pub id: u64,
    pub tenant: String,
    pub spec: TaskSpec,
    pub state: TaskState,
    pub policy: String,
    /// Wall clock (UTC) of acceptance, ns since 1970.
    pub submitted_wall_ns: i64,
    /// Twin time of acceptance and of the deadline, ns.
    pub submitted_ns: i64,
    pub deadline_ns: i64,
    /// Expected delivery of the result at decision time, twin ns.
    pub expected_finish_ns: i64,
    /// Expected seconds to deliver the result from the last stage's node.
    pub deliver_s: f64,
    pub stages: Vec<StageRecord>,
    pub finished_ns: Option<i64>,
    pub reason: Option<String>,
    /// Output files reported by agents: name -> base64.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Times the task was placed again after a node was lost.
    #[serde(default)]
    pub replacements: u32,
}

/// Something the service tells `/v1/events` listeners.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    Task {
        id: u64,
        #[serde(skip)]
        tenant: String,
        state: TaskState,
        at: String,
    },
    LinkUp {
        a: String,
        b: String,
        kind: &'static str,
        at: String,
    },
    LinkDown {
        a: String,
        b: String,
        kind: &'static str,
        at: String,
    },
    NodeAlarm {
        node: String,
        alarm: String,
        at: String,
    },
}

impl Event {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Task { .. } => "task",
            Event::LinkUp { .. } => "link-up",
            Event::LinkDown { .. } => "link-down",
            Event::NodeAlarm { .. } => "node-alarm",
        }
    }
}

/// Telemetry an agent sends with each heartbeat; every field present overrides the twin's
/// modelled value for that node.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    /// Battery state of charge, 0..1.
    #[serde(default)]
    pub battery_soc: Option<f64>,
    #[serde(default)]
    pub temperature_k: Option<f64>,
    /// The node reports itself unable to compute.
    #[serde(default)]
    pub failed: Option<bool>,
    /// Stages the agent runs at once.
    #[serde(default)]
    pub slots: Option<u32>,
}

impl From<&tiandi_twin::NodeReport> for Telemetry {
    /// What the twin holds of a node's last report, as it went over the wire.
    fn from(r: &tiandi_twin::NodeReport) -> Self {
        Telemetry {
            battery_soc: r.battery_soc,
            temperature_k: r.temperature_k,
            failed: r.failed,
            slots: r.slots,
        }
    }
}

/// One piece of work handed to an agent.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Assignment {
    pub task: u64,
    pub stage: u16,
    pub attempt: u32,
    pub command: Vec<String>,
    /// name -> base64 content: the stage's own inputs and its predecessors' outputs.
    pub inputs: BTreeMap<String, String>,
    pub outputs: Vec<String>,
    pub timeout_s: f64,
    /// This attempt's secret: the completion must carry it back.
    pub secret: String,
}

/// One attempt of one stage.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct StageRef {
    pub task: u64,
    pub stage: u16,
    pub attempt: u32,
}

/// An agent's report that a stage ended.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    pub task: u64,
    pub stage: u16,
    pub attempt: u32,
    /// The command's exit code; `null` when it could not start or timed out.
    pub exit_code: Option<i32>,
    /// name -> base64 content.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    #[serde(default)]
    pub message: Option<String>,
    /// The secret of the assignment this reports on; a report without it is refused.
    #[serde(default)]
    pub secret: Option<String>,
}

impl Completion {
    /// The attempt this reports on.
    pub fn stage_ref(&self) -> StageRef {
        StageRef {
            task: self.task,
            stage: self.stage,
            attempt: self.attempt,
        }
    }
}

/// Largest output file an agent may return, bytes (after base64 decoding).
pub const MAX_OUTPUT_FILE_BYTES: usize = 256 * 1024;
/// Largest sum of one stage's output files, bytes.
pub const MAX_OUTPUT_TOTAL_BYTES: usize = 1 << 20;

/// A file name a stage may read or write: 1-128 of `A-Z a-z 0-9 . _ -`, not `.` or `..`.
/// Both the service (on submission) and the agent (on assignment) check it, so neither
/// trusts the other with a path.
pub fn safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}
