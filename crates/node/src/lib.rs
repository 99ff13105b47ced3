//! Node physics of tiandi: compute payloads, power (solar array, eclipse, battery), lumped
//! thermal model with throttling, radiation faults, and the compute-satellite design planner.
//!
//! Pure and deterministic: no I/O, no wall clock, and randomness only from a caller-seeded
//! [`radiation::FaultRng`]. Inputs are validated by constructors that return
//! [`ParamError`], which names the field (spelt as the CLI flag) and the offending value.
//!
//! A discrete-event simulator steps one satellite with [`node::NodeState::step`], feeding it
//! the [`environment::Environment`] that [`environment::Environment::from_geometry`] derives
//! from the orbit core's propagation and Sun model.

pub mod cells;
pub mod environment;
pub mod error;
pub mod fleet;
pub mod node;
pub mod payload;
pub mod plan;
pub mod power;
pub mod radiation;
pub mod thermal;

pub use cells::{ArrayBuild, CELLS, CellSpec};
pub use environment::{Environment, OrbitSurvey, survey_orbit};
pub use error::ParamError;
pub use node::{Grant, Limit, NodeConfig, NodeState, StepResult};
pub use payload::{Accelerator, CATALOGUE, accelerator};
pub use power::{Battery, CellType, Pointing, PowerFlows, SolarArray};
pub use radiation::{FaultModel, FaultRng, SaaModel};
pub use thermal::{ThermalEnv, ThermalParams, radiator_area_m2};
