//! The digital twin of tiandi: the world at an instant, one model that the simulator and
//! the live control plane both drive.
//!
//! - [`Twin`]: the node table and compute slots, every satellite's per-step power, thermal
//!   and radiation update, the topology snapshot with the links that came and went, and
//!   the gateway routing trees.
//! - [`TwinView`]: the one implementation of the scheduler's `View`. What differs between
//!   the simulator and the service is a parameter of it: where load facts come from
//!   ([`Occupancy`]) and which nodes may execute ([`Executors`]).
//! - [`SimSetup`]: what a twin (and a simulation run) is built from.
//!
//! Pure and deterministic: no I/O, no wall clock; the caller passes every instant.

mod plan;
pub mod setup;
pub mod twin;
pub mod view;

pub use plan::PLAN_WINDOW_S;
pub use setup::{
    FaultSetup, GROUND_PUE, GROUND_SLOT_BUSY_W, GROUND_SLOT_IDLE_W, GroundPower, IotSetup,
    LEO_DOSE_KRAD_PER_YEAR, PayloadPower, SimSetup, TID_SPREAD_SIGMA, TidModel, WAKE_S,
};
pub use twin::{
    ComputeSpec, Dest, INITIAL_SOC_FRACTION, MAX_CATCH_UP_STEPS, NodeReport, SatEnergy, SatStatus,
    StepReport, Twin, TwinError, Upset,
};
pub use view::{Executors, Idle, Load, Occupancy, TwinView};
