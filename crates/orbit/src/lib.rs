//! Orbit core of tiandi: time, TLE/OMM input, Walker designs, SGP4 propagation, frames,
//! Sun and eclipse, ground-station geometry and contact windows.
//!
//! Pure and deterministic: no file or network I/O, no wall clock, no randomness. Readers
//! take text plus a source name (used in error messages); the CLI does the file reading.

pub mod contacts;
pub mod elements;
pub mod frames;
pub mod ground;
pub mod omm;
pub mod propagate;
pub mod search;
pub mod sun;
pub mod time;
pub mod tle;
pub mod walker;

pub use contacts::{Contact, ContactError, EclipseInterval, find_contacts, find_eclipses};
pub use elements::Elements;
pub use frames::{EarthRotation, Frame, Geodetic, State, ecef_to_geodetic, geodetic_to_ecef};
pub use ground::{GroundStation, Look, StationError};
pub use propagate::{
    PropagationError, Satellite, for_each_satellite_grid, positions_ecef_at, propagate_grid,
    satellites_from_elements,
};
pub use sun::{Shadow, ShadowGeometry, sun_position_km};
pub use time::{Epoch, TimeParseError};
pub use tle::{TleError, TleOptions, TleRead, format_tle, parse_tle};
