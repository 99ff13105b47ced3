//! What the twin is built from: the world of a scenario (constellation, ground segment,
//! node designs, faults) and, for a simulation run, its horizon and workload. Plain data;
//! the scenario crate fills it in.

use tiandi_network::NetworkSpec;
use tiandi_node::{FaultModel, NodeConfig};
use tiandi_orbit::{Epoch, Satellite};
use tiandi_workload::Task;

/// Everything one run needs. Node numbering is the network's: satellites (same order as
/// `satellites`), ground stations, data centres, user regions. The twin reads the world
/// part (all but `end` and `tasks`); the live service builds it with no tasks.
#[derive(Clone, Debug)]
pub struct SimSetup {
    /// The twin's origin: step `k` starts at `start + k * step_ns`.
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
