//! Tasks: what arrives, where its data is, what it must compute and where the result goes.

use tiandi_orbit::Epoch;

/// Index of a node in the network's numbering (satellites, then ground stations, data
/// centres, user-terminal regions); the same number as `tiandi_network::NodeId`.
pub type NodeIdx = u32;

/// What a task is for; used for per-kind metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskKind {
    /// Raw imagery captured on a satellite: analyse, deliver the result to the ground.
    EarthObservation,
    /// A request from users beyond the ground network: answer goes back to them.
    BlindZone,
    /// Inference or batch job arriving at a ground data centre.
    GroundAi,
    /// A generic task graph from a trace.
    Graph,
}

/// The least fraction of peak a stage may claim: below 1 % a device is better called idle,
/// and a tiny value would make a stage's time at peak overflow.
pub const MIN_EFFICIENCY: f64 = 0.01;

impl TaskKind {
    pub const ALL: [TaskKind; 4] = [
        TaskKind::EarthObservation,
        TaskKind::BlindZone,
        TaskKind::GroundAi,
        TaskKind::Graph,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::EarthObservation => "earth-observation",
            TaskKind::BlindZone => "blind-zone",
            TaskKind::GroundAi => "ground-ai",
            TaskKind::Graph => "graph",
        }
    }

    pub fn parse(s: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The fraction of an accelerator's peak that this kind of work achieves, unless a
    /// scenario says otherwise.
    pub const fn default_efficiency(self) -> f64 {
        match self {
            // Convolutional image analysis, batched: MLPerf Inference v3.0 (Edge, offline)
            // has Jetson AGX Orin 64GB at ~6,400 ResNet-50 images/s; at 8.2 GOP an image
            // that is 52 TOPS of its 137.5 dense INT8 TOPS: 0.38.
            TaskKind::EarthObservation => 0.38,
            // A small model answering one request: decoding is memory-bound. Pope et al.,
            // "Efficiently Scaling Transformer Inference" (MLSys 2023) report model FLOP
            // utilisation of a few percent at batch 1 rising to ~30 % at large batch for
            // decode; 0.10 for the small batches of a blind-zone queue.
            TaskKind::BlindZone => 0.10,
            // Batched inference at a hub, prefill-heavy: the same paper reaches 76 % MFU in
            // prefill at large batch and much less in decode; 0.40 as a serving average.
            TaskKind::GroundAi => 0.40,
            // A trace's work is taken as already measured against peak.
            TaskKind::Graph => 1.0,
        }
    }
}

/// Where a stage may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// Wherever the policy decides.
    Free,
    /// On the node where the task's input is (the capturing satellite, say).
    Origin,
    /// On a ground node (data centre).
    Ground,
    /// On this node.
    Node(NodeIdx),
}

/// One computation step of a task.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// Work, floating-point operations.
    pub work_flop: f64,
    /// Bytes this stage reads (for the first stage: the task's input at the origin).
    pub input_bytes: u64,
    /// Bytes this stage produces.
    pub output_bytes: u64,
    /// Memory the stage needs while it runs, bytes (model weights plus working set).
    pub memory_bytes: u64,
    pub pin: Pin,
    /// Indices of stages that must finish first (all lower than this stage's index).
    pub after: Vec<u16>,
    /// Fraction of a device's peak throughput this stage's work achieves (0, 1]: it runs
    /// for `work_flop / (peak x efficiency x throttle)`.
    pub efficiency: f64,
}

impl Stage {
    /// The stage's work in peak-rate FLOP: what a device at its peak rate would have to
    /// do, `work_flop / efficiency`.
    pub fn peak_flop(&self) -> f64 {
        self.work_flop / self.efficiency
    }
}

/// Where the final result must be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// This node.
    Node(NodeIdx),
    /// Any ground station or data centre (the ground segment takes it from there).
    AnyGround,
    /// Back to the origin (a blind-zone user region).
    Origin,
}

/// A task: a DAG of stages over data that starts at `origin`.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub id: u64,
    pub kind: TaskKind,
    pub arrival: Epoch,
    pub origin: NodeIdx,
    pub destination: Destination,
    pub deadline: Epoch,
    /// Stages in topological order; the last stage's output is the result.
    pub stages: Vec<Stage>,
}

/// A task that breaks the model's rules.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("task {task_id}: {field}: {message}")]
pub struct TaskError {
    pub task_id: u64,
    pub field: &'static str,
    pub message: String,
}

impl Task {
    /// Checks the invariants the simulator relies on.
    pub fn validate(&self) -> Result<(), TaskError> {
        let fail = |field, message: String| {
            Err(TaskError {
                task_id: self.id,
                field,
                message,
            })
        };
        if self.deadline <= self.arrival {
            return fail(
                "deadline",
                format!(
                    "{} is not after the arrival {}",
                    self.deadline, self.arrival
                ),
            );
        }
        if self.stages.is_empty() {
            return fail("stages", "a task needs at least one stage".into());
        }
        for (i, s) in self.stages.iter().enumerate() {
            if !(s.work_flop.is_finite() && s.work_flop >= 0.0) {
                return fail(
                    "work_flop",
                    format!("stage {i}: {} is not a non-negative number", s.work_flop),
                );
            }
            if !(s.efficiency.is_finite() && (MIN_EFFICIENCY..=1.0).contains(&s.efficiency)) {
                return fail(
                    "efficiency",
                    format!(
                        "stage {i}: {} is not in [{MIN_EFFICIENCY}, 1]",
                        s.efficiency
                    ),
                );
            }
            if let Some(bad) = s.after.iter().find(|&&d| usize::from(d) >= i) {
                return fail(
                    "after",
                    format!("stage {i} depends on stage {bad}, which does not come before it"),
                );
            }
        }
        Ok(())
    }

    /// Total bytes of the final result.
    pub fn result_bytes(&self) -> u64 {
        self.stages.last().map_or(0, |s| s.output_bytes)
    }

    /// Total work over all stages, FLOP.
    pub fn total_work_flop(&self) -> f64 {
        self.stages.iter().map(|s| s.work_flop).sum()
    }
}
