//! Workloads of tiandi: tasks and task graphs, seeded generators (Earth observation,
//! blind-zone service, ground AI) and the random streams they draw from.
//!
//! Pure and deterministic: generators take their inputs (ground tracks, origins, a seed)
//! as arguments; reading trace files is the scenario crate's job.

pub mod generate;
pub mod rng;
pub mod task;

pub use generate::{
    EoConfig, PoissonConfig, TargetArea, TrackPoint, earth_observation_tasks, merge_and_number,
    poisson_tasks,
};
pub use rng::{Purpose, Stream};
pub use task::{Destination, MIN_EFFICIENCY, NodeIdx, Pin, Stage, Task, TaskError, TaskKind};
