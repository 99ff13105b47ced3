//! Typed errors of the network layer: each variant names the field or node and the value.

use tiandi_orbit::{Epoch, PropagationError};

/// Why a network cannot be built or a snapshot cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetworkError {
    #[error("the network has no satellites")]
    NoSatellites,
    #[error("--planes {n_planes} does not divide the {n_satellites} satellites into equal planes")]
    PlanesDoNotDivide {
        n_satellites: usize,
        n_planes: usize,
    },
    #[error("{field} {value} is invalid: expected {expected}")]
    InvalidParameter {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{what} {name:?}: {field} {value} is invalid: expected {expected}")]
    InvalidNode {
        what: &'static str,
        name: String,
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("fibre link #{index} ({a}, {b}): {reason}")]
    BadFibreLink {
        index: usize,
        a: u32,
        b: u32,
        reason: &'static str,
    },
    #[error("expected {expected} satellite positions, got {found}")]
    PositionCount { expected: usize, found: usize },
    #[error("at {time}: {source}")]
    Propagation {
        time: Epoch,
        source: PropagationError,
    },
    #[error("horizon: {reason}")]
    BadHorizon { reason: String },
}
