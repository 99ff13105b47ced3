//! The discrete-event simulation of tiandi: tasks placed by a policy, data moved hop by
//! hop over the time-varying topology, compute within power and thermal limits, faults,
//! metrics, and the invariant checkers that tests run on many seeds.
//!
//! Deterministic: the same setup and seed give the same result, bit for bit (parallel
//! work is collected in index order; maps that are iterated are ordered).

pub mod engine;
pub mod invariants;
pub mod iot;
pub mod model;
pub mod summary;

pub use engine::{
    Delivery, Hooks, HopRecord, Rejection, SimError, Trace, run, run_traced, run_with,
};
pub use model::{
    FaultRecord, FaultSetup, KindSummary, LinkSample, NodeSample, Outcome, RunResult, SimSetup,
    Summary, TaskRecord,
};
