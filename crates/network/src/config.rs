//! Link rules: which ISLs, GSLs and fibre links exist, their limits and capacities.
//!
//! The capacity defaults are planning assumptions (round figures for optical ISLs, Ka-band
//! gateways and long-haul fibre), not measurements: set them for the system being studied.

/// How satellites choose their inter-satellite laser partners.
#[derive(Clone, Debug, PartialEq)]
pub enum IslPattern {
    /// No ISLs.
    None,
    /// Each satellite links to the next slot in its plane and to the satellite in the next
    /// plane `shift` slots ahead (Hypatia's `generate_plus_grid_isls` with `isl_shift`):
    /// with its neighbours' links, four lasers per satellite. Needs a plane layout.
    PlusGrid { shift: u32 },
    /// Each satellite proposes links to its `k` nearest satellites within range; proposals
    /// are granted shortest first while both ends have a free laser terminal.
    NearestK { k: u32 },
}

/// Inter-satellite link rules.
#[derive(Clone, Debug, PartialEq)]
pub struct IslConfig {
    pub pattern: IslPattern,
    /// The line of sight must stay this far above the Earth, km (default 80 km: above the
    /// densest atmosphere, as in Hypatia's and Bhattacherjee & Singla's Starlink studies).
    pub grazing_altitude_km: f64,
    /// Longest usable ISL, km.
    pub max_range_km: f64,
    /// Laser terminals per satellite (simultaneous ISLs).
    pub max_terminals: u32,
}

impl Default for IslConfig {
    fn default() -> Self {
        // 5,017 km is just above the longest line of sight between two 550 km satellites that clears
        // 80 km: 2 * sqrt((R+550)^2 - (R+80)^2) = 5,016.6 km with R = 6,378.137 km. The limit then
        // never cuts links the grazing rule allows at Starlink shell-1 altitude.
        IslConfig {
            pattern: IslPattern::PlusGrid { shift: 0 },
            grazing_altitude_km: 80.0,
            max_range_km: 5_017.0,
            max_terminals: 4,
        }
    }
}

/// Which satellites a ground antenna holds when it sees more than it has antennas for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GslStrategy {
    /// Every snapshot, the highest satellites.
    HighestElevation,
    /// Keep each satellite until it sets below the mask; fill free antennas with the highest
    /// new ones (fewer handovers; needs the previous snapshot).
    KeepUntilLost,
}

/// Ground-to-satellite link rules (defaults for stations and user-terminal regions).
#[derive(Clone, Debug, PartialEq)]
pub struct GslConfig {
    /// A satellite is a candidate only at or above this elevation, degrees.
    pub min_elevation_deg: f64,
    /// A satellite is a candidate only within this slant range of a ground station, km;
    /// `None`: no range rule. Hypatia admits by range alone (its maximum GSL length,
    /// 1,089.686 km for Starlink-550 at 25 deg): a mask of 0 deg plus this range
    /// reproduces it. Applies to ground stations, not to user-terminal regions.
    pub max_range_km: Option<f64>,
    /// Simultaneous GSLs per station; `None`: any number (Hypatia's free GSL model).
    pub antennas: Option<u32>,
    pub strategy: GslStrategy,
}

impl Default for GslConfig {
    fn default() -> Self {
        GslConfig {
            min_elevation_deg: 25.0,
            max_range_km: None,
            antennas: None,
            strategy: GslStrategy::HighestElevation,
        }
    }
}

/// Fibre links between data centres and ground stations.
#[derive(Clone, Debug, PartialEq)]
pub enum FibreConfig {
    /// Every data centre to every other data centre and to every ground station.
    FullMesh,
    /// Only these pairs of node ids (each must be a ground station or a data centre).
    List(Vec<(u32, u32)>),
}

/// Capacity of each link type, bit/s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Capacities {
    pub isl_bps: f64,
    pub gsl_bps: f64,
    /// Links of user-terminal regions (the region's aggregate share of one satellite).
    pub user_bps: f64,
    pub fibre_bps: f64,
}

impl Default for Capacities {
    fn default() -> Self {
        Capacities {
            isl_bps: 100e9,
            gsl_bps: 20e9,
            user_bps: 1e9,
            fibre_bps: 400e9,
        }
    }
}

/// All link rules of a network.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    pub isl: IslConfig,
    pub gsl: GslConfig,
    pub fibre: FibreConfig,
    /// Fibre path length over great-circle distance times the slowdown of light in glass:
    /// light in fibre is ~1.47x slower than in vacuum, and routes are not straight; 1.5 is
    /// the conventional planning figure.
    pub fibre_delay_factor: f64,
    pub capacities: Capacities,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            isl: IslConfig::default(),
            gsl: GslConfig::default(),
            fibre: FibreConfig::FullMesh,
            fibre_delay_factor: 1.5,
            capacities: Capacities::default(),
        }
    }
}
