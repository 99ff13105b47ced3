//! Scheduling policies of tiandi behind one [`Policy`] trait: where each stage of a task
//! runs. The simulator and the control plane ask; the policy answers from a read-only
//! [`View`] of the twin. Pure and deterministic.
//!
//! Adding a policy: implement [`Policy`] (a `name` and `place`), then add its name to
//! [`POLICY_NAMES`] and [`by_name`]; it is then selectable in scenario files, `--policy`,
//! `--compare` and `tiandi sweep`, and the swarm test runs it (docs/scheduling.md).

mod baseline;
mod flow;
mod unified;

#[cfg(test)]
mod fake;

pub use baseline::{BentPipe, Nearest, Onboard};
pub use flow::{Assignment, min_cost_assignment};
pub use unified::{Unified, UnifiedOptions};

use tiandi_network::NodeKind;
use tiandi_orbit::Epoch;
use tiandi_workload::{Destination, NodeIdx, Pin, Task};

/// A compute node a [`View::search`] reached, with what it costs to get the data there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reached {
    pub node: NodeIdx,
    /// Propagation delay along the route, s: a lower bound on any transfer there.
    pub delay_s: f64,
    /// Estimated seconds to move the searched bytes there now, store and forward: at each
    /// hop the data waits for what is queued or committed on the link, is transmitted, then
    /// propagates.
    pub arrive_s: f64,
    /// Transmission seconds per byte summed over the route's hops (for a result sent back
    /// the same way).
    pub s_per_byte: f64,
}

/// What a search visitor says after each node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    Continue,
    Stop,
}

/// A satellite's power and heat as the scheduler sees them (from the twin's node model).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PowerState {
    /// Battery state of charge, 0..1.
    pub soc_fraction: f64,
    /// The depth-of-discharge floor as a state of charge, 0..1.
    pub floor_fraction: f64,
    pub battery_wh: f64,
    /// Seconds until the satellite next enters the Earth's shadow (0 when in shadow now,
    /// infinite when none is predicted within the plan's window).
    pub eclipse_in_s: f64,
    /// Seconds until that shadow ends (in shadow now: until sunlight).
    pub eclipse_end_in_s: f64,
    pub temp_k: f64,
    pub temp_limit_k: f64,
    /// Throughput of a powered slot now, as a fraction of its peak (below 1: throttled).
    pub rate_fraction: f64,
    /// Seconds of computing on every usable slot before the temperature reaches its limit
    /// (infinite when the radiator holds that power).
    pub heat_headroom_s: f64,
    /// Fraction of every-slot power the radiator holds at the limit (1: never throttles).
    pub sustained_fraction: f64,
    /// Power of one slot while it computes, W.
    pub slot_busy_w: f64,
    /// The bus's own draw, W.
    pub bus_w: f64,
}

impl PowerState {
    /// Energy above the depth-of-discharge floor, Wh.
    pub fn energy_above_floor_wh(&self) -> f64 {
        ((self.soc_fraction - self.floor_fraction) * self.battery_wh).max(0.0)
    }
}

/// A read-only view of the twin at the decision instant.
pub trait View {
    fn now(&self) -> Epoch;
    fn kind(&self, node: NodeIdx) -> NodeKind;
    /// The compute nodes of a fixed neighbourhood of data at `data_at`: the node itself
    /// when it can compute, the satellite serving it (ground origins), its neighbours on the
    /// current topology, and every data centre. Sorted, no repeats.
    fn candidates(&self, data_at: NodeIdx) -> Vec<NodeIdx>;
    /// Data centres, in network order.
    fn data_centres(&self) -> &[NodeIdx];
    /// Estimated seconds to move `bytes` from `from` to `to` on the current topology
    /// (path delay plus store-and-forward transmission at each hop's capacity, after what
    /// is queued or committed on each hop); `None` when no route exists now.
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

    /// Visits the compute nodes reachable from `from` on the current topology in order of
    /// route delay (`from` first when it computes), with the cost of carrying `bytes` there,
    /// until the visitor stops or the delay passes `max_delay_s`. Routes are the ones
    /// transfers take (ground nodes relay only between fibre and the space segment);
    /// nothing is reachable from a node that is down.
    fn search(
        &self,
        from: NodeIdx,
        bytes: u64,
        max_delay_s: f64,
        visit: &mut dyn FnMut(&Reached) -> Search,
    );
    /// A satellite's power and heat; `None` for other nodes or when not modelled.
    fn power(&self, node: NodeIdx) -> Option<PowerState> {
        let _ = node;
        None
    }
    /// The next contact of a ground node with a satellite from the contact plan: seconds
    /// until it starts (0 when one is under way) and the satellite. `None` when the plan
    /// predicts none (or the node has fibre, or no plan is kept).
    fn next_contact(&self, ground: NodeIdx) -> Option<(f64, NodeIdx)> {
        let _ = ground;
        None
    }
    /// Slots of `node` that could take a stage now or after a wake, less what runs and
    /// waits there.
    fn free_slots(&self, node: NodeIdx) -> u32 {
        u32::from(self.queue_wait_s(node) == 0.0)
    }
    /// Slots `node` runs stages on in this step (at least 1 for a compute node).
    fn slots(&self, node: NodeIdx) -> u32 {
        let _ = node;
        1
    }
}

/// A placement answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Run(NodeIdx),
    /// The policy refuses the stage (no feasible node): the task is dropped.
    Reject,
}

/// A placed stage whose inputs are at its node and that has not started, for
/// [`Policy::reassign`].
#[derive(Clone, Copy, Debug)]
pub struct Queued<'a> {
    pub task: &'a Task,
    pub stage: usize,
    /// Where it waits (its inputs are there).
    pub at: NodeIdx,
    /// Work ahead of it on that node (running and queued before it), FLOP at peak.
    pub ahead_flop: f64,
}

/// A placement policy.
pub trait Policy {
    fn name(&self) -> &'static str;
    /// Where stage `stage` of `task` runs, its input being at `data_at` now.
    fn place(&mut self, task: &Task, stage: usize, data_at: NodeIdx, view: &dyn View) -> Decision;
    /// Whether the driver should offer [`Policy::reassign`] the queued stages at every step.
    fn reassigns(&self) -> bool {
        false
    }
    /// New nodes for stages that wait and have not started: `(index into queued, node)`.
    /// The driver moves each one's inputs there. The default moves nothing.
    fn reassign(&mut self, queued: &[Queued<'_>], view: &dyn View) -> Vec<(usize, NodeIdx)> {
        let _ = (queued, view);
        Vec::new()
    }
}

/// The policies of [`by_name`]: the four of the comparison, then unified's ablations
/// (docs/scheduling.md).
pub const POLICY_NAMES: [&str; 8] = [
    "bent-pipe",
    "onboard",
    "nearest",
    "unified",
    "unified-local",
    "unified-no-lookahead",
    "unified-no-power",
    "unified-global",
];

/// A policy by its name, `None` for an unknown name.
pub fn by_name(name: &str) -> Option<Box<dyn Policy + Send>> {
    let full = UnifiedOptions::default();
    let unified = |name, o| Some(Box::new(Unified::new(name, o)) as Box<dyn Policy + Send>);
    match name {
        "bent-pipe" => Some(Box::new(BentPipe)),
        "onboard" => Some(Box::new(Onboard)),
        "nearest" => Some(Box::new(Nearest)),
        "unified" => unified("unified", full),
        "unified-local" => unified(
            "unified-local",
            UnifiedOptions {
                whole_network: false,
                ..full
            },
        ),
        "unified-no-lookahead" => unified(
            "unified-no-lookahead",
            UnifiedOptions {
                look_ahead: false,
                ..full
            },
        ),
        "unified-no-power" => unified(
            "unified-no-power",
            UnifiedOptions {
                power_aware: false,
                ..full
            },
        ),
        "unified-global" => unified(
            "unified-global",
            UnifiedOptions {
                global: true,
                ..full
            },
        ),
        _ => None,
    }
}

/// Honours a stage's pin when it names a place outright.
fn pinned(task: &Task, stage: usize) -> Option<NodeIdx> {
    match task.stages[stage].pin {
        Pin::Origin => Some(task.origin),
        Pin::Node(n) => Some(n),
        Pin::Free | Pin::Ground => None,
    }
}

/// Seconds to deliver a result of `bytes` from `at` to the task's destination; `back` is
/// the route from the stage's data back to `at` when known (a result for the origin
/// returns the way the data came). With `look_ahead`, a ground destination out of contact
/// now is reached through the satellite of its next contact, once that contact starts.
fn deliver_estimate(
    task: &Task,
    at: NodeIdx,
    bytes: u64,
    back: Option<(NodeIdx, &Reached)>,
    look_ahead: bool,
    view: &dyn View,
) -> Option<f64> {
    let origin_back = |d: NodeIdx| match back {
        Some((from, r)) if from == d => Some(r.delay_s + bytes as f64 * r.s_per_byte),
        _ => None,
    };
    let later = |d: NodeIdx| {
        if !look_ahead {
            return None;
        }
        let (wait_s, sat) = view.next_contact(d)?;
        Some(view.transfer_s(at, sat, bytes)?.max(wait_s))
    };
    let to = |d: NodeIdx| {
        origin_back(d)
            .or_else(|| view.transfer_s(at, d, bytes))
            .or_else(|| later(d))
    };
    match task.destination {
        Destination::Node(d) if d == at => Some(0.0),
        Destination::Node(d) => to(d),
        Destination::Origin if task.origin == at => Some(0.0),
        Destination::Origin => to(task.origin),
        Destination::AnyGround if view.kind(at) != NodeKind::Satellite => Some(0.0),
        Destination::AnyGround => view.to_ground_s(at, bytes),
    }
}
