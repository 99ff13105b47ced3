//! Time-varying network of tiandi: nodes, links (ISL, GSL, fibre), topology snapshots,
//! contact plans and shortest-delay routing.
//!
//! Pure and deterministic: no I/O, no wall clock, no randomness; every iteration order is
//! fixed (node ids, then link order). Node numbering everywhere: satellites `0..N` in input
//! order, then ground stations, then data centres, then user-terminal regions.
//!
//! The hot path (one snapshot: links, CSR adjacency, all-pairs routes) reuses its buffers
//! from one snapshot to the next: see [`SnapshotBuilder`] and [`RouteTable`].

pub mod config;
pub mod d2d;
pub mod error;
pub mod forwarding;
pub mod gateway;
pub mod geometry;
pub mod iot;
pub mod network;
pub mod node;
pub mod reach;
pub mod routing;
pub mod snapshot;
pub mod timeline;

pub use config::{
    Capacities, FibreConfig, GSL_HANDOVER_S, GslConfig, GslStrategy, ISL_ACQUISITION_S,
    ISL_FULL_RATE_KM, IslConfig, IslPattern, LinkConfig,
};
pub use error::NetworkError;
pub use forwarding::ForwardingTable;
pub use gateway::{GatewayTree, ground_roots};
pub use geometry::SPEED_OF_LIGHT_KM_S;
pub use network::{Network, NetworkSpec, PlaneLayout};
pub use node::{DataCentre, NodeId, NodeKind, RegionShape, StationNode, UserTerminalRegion};
pub use reach::{ComputeSet, ReachOptions, ReachPoint, ReachTable, reach};
pub use routing::{Route, RouteTable, RoutingMode, ShortestPaths};
pub use snapshot::{Adjacent, Link, LinkKind, Snapshot, SnapshotBuilder};
pub use timeline::{
    ContactEvent, ContactPlan, Horizon, RouteStats, RouteSummary, RouteTimeline, contact_plan,
    diff_links,
};
