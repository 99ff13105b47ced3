//! Scheduling policies of tiandi behind one [`Policy`] trait: where each stage of a task
//! runs. The simulator (and later the control plane) asks; the policy answers from a
//! read-only [`View`] of the twin. Pure and deterministic.
//!
//! Adding a policy: implement [`Policy`], then add a name to [`by_name`] (see
//! ARCHITECTURE.md, "Adding a policy").

use tiandi_network::NodeKind;
use tiandi_orbit::Epoch;
use tiandi_workload::{Destination, NodeIdx, Pin, Task};

/// A read-only view of the twin at the decision instant.
pub trait View {
    fn now(&self) -> Epoch;
    fn kind(&self, node: NodeIdx) -> NodeKind;
    /// The compute nodes worth scoring for data at `data_at`: the node itself when it can
    /// compute, the satellite serving it (ground origins), its neighbours on the current
    /// topology, and every data centre. Sorted, no repeats.
    fn candidates(&self, data_at: NodeIdx) -> Vec<NodeIdx>;
    /// Data centres, in network order.
    fn data_centres(&self) -> &[NodeIdx];
    /// Estimated seconds to move `bytes` from `from` to `to` on the current topology
    /// (path delay plus store-and-forward transmission at each hop's capacity, plus what is
    /// already queued on the first hop); `None` when no route exists now.
    fn transfer_s(&self, from: NodeIdx, to: NodeIdx, bytes: u64) -> Option<f64>;
    /// Like [`View::transfer_s`] to the nearest ground station (for "deliver to ground").
    fn to_ground_s(&self, from: NodeIdx, bytes: u64) -> Option<f64>;
    /// The satellite a user region or ground station is linked to with the best delay.
    fn serving_satellite(&self, ground: NodeIdx) -> Option<NodeIdx>;
    /// Seconds until a node's queue drains (running plus queued work at current speed).
    fn queue_wait_s(&self, node: NodeIdx) -> f64;
    /// Seconds one stage of `work_flop` peak-rate FLOP ([`tiandi_workload::Stage::peak_flop`])
    /// takes on `node` at its current throughput;
    /// infinite when the node cannot compute now (no power, over temperature).
    fn compute_s(&self, node: NodeIdx, work_flop: f64) -> f64;
    /// Whether `node` has `bytes` of memory for one more stage.
    fn fits_memory(&self, node: NodeIdx, bytes: u64) -> bool;
}

/// A placement answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Run(NodeIdx),
    /// The policy refuses the stage (no feasible node): the task is dropped.
    Reject,
}

/// A placement policy.
pub trait Policy {
    fn name(&self) -> &'static str;
    /// Where stage `stage` of `task` runs, its input being at `data_at` now.
    fn place(&mut self, task: &Task, stage: usize, data_at: NodeIdx, view: &dyn View) -> Decision;
}

/// The names accepted by [`by_name`].
pub const POLICY_NAMES: [&str; 4] = ["bent-pipe", "onboard", "nearest", "unified"];

/// A policy by its name, `None` for an unknown name.
pub fn by_name(name: &str) -> Option<Box<dyn Policy + Send>> {
    match name {
        "bent-pipe" => Some(Box::new(BentPipe)),
        "onboard" => Some(Box::new(Onboard)),
        "nearest" => Some(Box::new(Nearest)),
        "unified" => Some(Box::new(Unified)),
        _ => None,
    }
}

/// Honours a stage's pin when it names a place outright.
fn pinned(task: &Task, stage: usize, data_at: NodeIdx) -> Option<NodeIdx> {
    match task.stages[stage].pin {
        Pin::Origin => Some(task.origin),
        Pin::Node(n) => Some(n),
        Pin::Free | Pin::Ground => {
            let _ = data_at;
            None
        }
    }
}

/// The data centre with the least estimated arrival of `bytes` from `data_at`, breaking
/// ties by the shorter queue then the lower id.
fn best_data_centre(
    data_at: NodeIdx,
    bytes: u64,
    work_flop: f64,
    view: &dyn View,
) -> Option<NodeIdx> {
    view.data_centres()
        .iter()
        .filter_map(|&dc| {
            let move_s = if dc == data_at {
                0.0
            } else {
                view.transfer_s(data_at, dc, bytes)?
            };
            Some((
                move_s + view.queue_wait_s(dc) + view.compute_s(dc, work_flop),
                dc,
            ))
        })
        .filter(|(s, _)| s.is_finite())
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, dc)| dc)
}

/// Today's practice: all raw data goes down, everything computes on the ground.
pub struct BentPipe;

impl Policy for BentPipe {
    fn name(&self) -> &'static str {
        "bent-pipe"
    }

    fn place(&mut self, task: &Task, stage: usize, data_at: NodeIdx, view: &dyn View) -> Decision {
        if let Some(n) = pinned(task, stage, data_at) {
            return Decision::Run(n);
        }
        let s = &task.stages[stage];
        if view.kind(data_at) == NodeKind::DataCentre {
            return Decision::Run(data_at);
        }
        // With no route now, the first data centre: the transfer waits for a contact
        // (store and forward).
        match best_data_centre(data_at, s.input_bytes, s.peak_flop(), view)
            .or_else(|| view.data_centres().first().copied())
        {
            Some(dc) => Decision::Run(dc),
            None => Decision::Reject,
        }
    }
}

/// Process where the data is: on the capturing satellite, on the satellite serving a user
/// region, in the data centre where a job arrived.
pub struct Onboard;

impl Policy for Onboard {
    fn name(&self) -> &'static str {
        "onboard"
    }

    fn place(&mut self, task: &Task, stage: usize, data_at: NodeIdx, view: &dyn View) -> Decision {
        if let Some(n) = pinned(task, stage, data_at) {
            return Decision::Run(n);
        }
        match view.kind(data_at) {
            NodeKind::Satellite | NodeKind::DataCentre => Decision::Run(data_at),
            NodeKind::UserTerminal | NodeKind::GroundStation => view
                .serving_satellite(data_at)
                .map_or(Decision::Reject, Decision::Run),
        }
    }
}

/// The compute node with the least transfer delay that has free capacity now; when all are
/// busy, the one whose queue drains first.
pub struct Nearest;

impl Policy for Nearest {
    fn name(&self) -> &'static str {
        "nearest"
    }

    fn place(&mut self, task: &Task, stage: usize, data_at: NodeIdx, view: &dyn View) -> Decision {
        if let Some(n) = pinned(task, stage, data_at) {
            return Decision::Run(n);
        }
        let s = &task.stages[stage];
        let ground_only = s.pin == Pin::Ground;
        let mut best: Option<(bool, f64, NodeIdx)> = None;
        for n in view.candidates(data_at) {
            if ground_only && view.kind(n) != NodeKind::DataCentre {
                continue;
            }
            if !view.fits_memory(n, s.memory_bytes) || !view.compute_s(n, s.peak_flop()).is_finite()
            {
                continue;
            }
            let Some(move_s) = (if n == data_at {
                Some(0.0)
            } else {
                view.transfer_s(data_at, n, 0)
            }) else {
                continue;
            };
            let busy = view.queue_wait_s(n) > 0.0;
            let key = (busy, move_s, n);
            if best.is_none_or(|b| {
                (key.0, key.1) < (b.0, b.1) || ((key.0, key.1) == (b.0, b.1) && key.2 < b.2)
            }) {
                best = Some(key);
            }
        }
        best.map_or(Decision::Reject, |(_, _, n)| Decision::Run(n))
    }
}

/// Joint placement: the node with the earliest estimated finish of the whole task
/// (move input, wait, compute, deliver the result), preferring nodes that meet the deadline;
/// an earliest-finish-time list scheduler on the current topology.
pub struct Unified;

impl Policy for Unified {
    fn name(&self) -> &'static str {
        "unified"
    }

    fn place(&mut self, task: &Task, stage: usize, data_at: NodeIdx, view: &dyn View) -> Decision {
        if let Some(n) = pinned(task, stage, data_at) {
            return Decision::Run(n);
        }
        let s = &task.stages[stage];
        let last = stage + 1 == task.stages.len();
        let deadline_s = task.deadline.seconds_since(view.now());
        let mut best: Option<(bool, f64, NodeIdx)> = None;
        for n in view.candidates(data_at) {
            if s.pin == Pin::Ground && view.kind(n) != NodeKind::DataCentre {
                continue;
            }
            if !view.fits_memory(n, s.memory_bytes) {
                continue;
            }
            let compute_s = view.compute_s(n, s.peak_flop());
            if !compute_s.is_finite() {
                continue;
            }
            let Some(move_s) = (if n == data_at {
                Some(0.0)
            } else {
                view.transfer_s(data_at, n, s.input_bytes)
            }) else {
                continue;
            };
            let deliver_s = if last {
                match deliver_estimate(task, n, s.output_bytes, view) {
                    Some(d) => d,
                    None => continue,
                }
            } else {
                0.0
            };
            let finish_s = move_s + view.queue_wait_s(n) + compute_s + deliver_s;
            let key = (finish_s > deadline_s, finish_s, n);
            if best.is_none_or(|b| {
                (key.0, key.1) < (b.0, b.1) || ((key.0, key.1) == (b.0, b.1) && key.2 < b.2)
            }) {
                best = Some(key);
            }
        }
        match best {
            Some((_, _, n)) => Decision::Run(n),
            // Nothing reachable now: fall back to where the data is if it can compute.
            None if view.compute_s(data_at, s.peak_flop()).is_finite() => Decision::Run(data_at),
            None => Decision::Reject,
        }
    }
}

/// Seconds to deliver a result of `bytes` from `at` to the task's destination.
fn deliver_estimate(task: &Task, at: NodeIdx, bytes: u64, view: &dyn View) -> Option<f64> {
    match task.destination {
        Destination::Node(d) if d == at => Some(0.0),
        Destination::Node(d) => view.transfer_s(at, d, bytes),
        Destination::Origin if task.origin == at => Some(0.0),
        Destination::Origin => view.transfer_s(at, task.origin, bytes),
        Destination::AnyGround if view.kind(at) != NodeKind::Satellite => Some(0.0),
        Destination::AnyGround => view.to_ground_s(at, bytes),
    }
}
