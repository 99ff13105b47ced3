//! What the twin is built from: the world of a scenario (constellation, ground segment,
//! node designs, faults) and, for a simulation run, its horizon and workload. Plain data;
//! the scenario crate fills it in.

use tiandi_network::NetworkSpec;
use tiandi_network::iot::IotConfig;
use tiandi_node::{FaultModel, NodeConfig};
use tiandi_orbit::{Epoch, GroundStation, Satellite};
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
    /// Power of a data-centre slot and the site's overhead.
    pub data_centre_power: GroundPower,
    pub faults: FaultSetup,
    /// How satellites power their accelerators and how their energy is metered.
    pub payload_power: PayloadPower,
    /// Tasks sorted by arrival, ids unique.
    pub tasks: Vec<Task>,
    /// Satellite IoT store and forward over the same satellites and ground stations;
    /// `None`: no IoT workload.
    pub iot: Option<IotSetup>,
}

/// An IoT workload: narrowband terminals that send small messages to whichever satellite
/// they see, which stores them until it sees one of the network's ground stations.
#[derive(Clone, Debug, PartialEq)]
pub struct IotSetup {
    pub terminals: Vec<GroundStation>,
    /// Terminals' elevation mask, deg (the stations keep their own).
    pub min_elevation_deg: f64,
    /// `(terminal, sent_ns)` of every message, in time order; ns since `start`.
    pub sent: Vec<(u32, i64)>,
    pub config: IotConfig,
}

/// The electricity a data-centre slot draws, and its site's overhead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroundPower {
    /// While it computes a stage, W.
    pub busy_w: f64,
    /// While it waits, W.
    pub idle_w: f64,
    /// Power usage effectiveness: the site's draw over its IT equipment's.
    pub pue: f64,
}

/// An H100 SXM's board power limit, W (NVIDIA H100 Tensor Core GPU datasheet, 2023: "Max
/// thermal design power (TDP) up to 700 W"); the default slot is that GPU (989.4 TFLOP/s
/// dense FP16).
pub const GROUND_SLOT_BUSY_W: f64 = 700.0;
/// ASSUMED: an idle H100 at a tenth of its limit (what `nvidia-smi` shows for a GPU at
/// rest with its clocks up is 60-100 W).
pub const GROUND_SLOT_IDLE_W: f64 = 70.0;
/// PUE of China's national computing hubs: the 2021 plan for the hubs
/// (《全国一体化大数据中心协同创新体系算力枢纽实施方案》, NDRC et al.) asks for at most
/// 1.25 in the eastern hubs and 1.2 in the western ones; the default takes 1.25.
pub const GROUND_PUE: f64 = 1.25;

impl Default for GroundPower {
    fn default() -> Self {
        GroundPower {
            busy_w: GROUND_SLOT_BUSY_W,
            idle_w: GROUND_SLOT_IDLE_W,
            pue: GROUND_PUE,
        }
    }
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
    /// Total ionizing dose; `None`: devices never wear out.
    pub tid: Option<TidModel>,
}

/// Total ionizing dose: it accumulates at a constant rate over the satellites' life, and a
/// device retires when it reaches its own tolerance (the accelerator's, spread log-normally
/// from part to part).
#[derive(Clone, Debug, PartialEq)]
pub struct TidModel {
    /// Dose behind the satellite's shielding, krad(Si) a year.
    pub dose_krad_per_year: f64,
    /// Age of every satellite at the run's start, years (also ages its solar array).
    pub age_years: f64,
    /// Sigma of the log of a device's tolerance around the accelerator's figure.
    pub spread_sigma: f64,
}

pub use tiandi_node::radiation::{LEO_DOSE_KRAD_PER_YEAR, TID_SPREAD_SIGMA};

/// How a satellite powers its accelerators.
#[derive(Clone, Debug, PartialEq)]
pub struct PayloadPower {
    /// Devices kept powered (idle) when nothing is in demand, so new work can start at
    /// once.
    pub warm_devices: u32,
    /// Time from power-on to ready for a device that was off, s.
    pub wake_s: f64,
    /// Charge each device for the time it really computes (idle power otherwise). Off:
    /// every powered device is charged its full power for the whole step, the coarse
    /// model of before.
    pub metering: bool,
}

/// Wake time of a power-gated accelerator module, s. ASSUMED 5 s: a Jetson module resumes
/// from SC7 suspend in about a second (NVIDIA Jetson Linux Developer Guide, "Power
/// Management for Jetson AGX Orin Devices"), and deserialising a TensorRT engine back into
/// device memory takes seconds for models of a few hundred MB.
pub const WAKE_S: f64 = 5.0;

impl Default for PayloadPower {
    fn default() -> Self {
        PayloadPower {
            warm_devices: 1,
            wake_s: WAKE_S,
            metering: true,
        }
    }
}
