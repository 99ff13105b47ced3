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

/// Time from a new ISL's appearance to its first data, s: ASSUMED 20 s. The LEO-LEO laser
/// links between TerraSAR-X and NFIRE (Tesat LCT, beaconless acquisition) were acquired in
/// seconds to tens of seconds (Smutny et al., "5.6 Gbps optical intersatellite
/// communication link", Proc. SPIE 7199, 2009; Sterr, Gregory and Heine, "Beaconless
/// acquisition for ISL and SGL, summary of 3 years operation in space and on ground",
/// ICSOS 2011). The scenarios' default; [`IslConfig::default`] keeps 0 (Hypatia's model).
pub const ISL_ACQUISITION_S: f64 = 20.0;

/// Longest ISL at the full rate, km: ASSUMED 4,000 km, the order of the ranges operators
/// quote for their optical terminals' full rate (SpaceX for Starlink's, 2024). Beyond it
/// the rate falls with the square of the range.
pub const ISL_FULL_RATE_KM: f64 = 4_000.0;

/// Interruption of a ground link when a station hands over to another satellite, s:
/// ASSUMED 5 s, a parabolic dish slewing tens of degrees at a few degrees a second and its
/// modem locking again. The scenarios' default; [`GslConfig::default`] keeps 0.
pub const GSL_HANDOVER_S: f64 = 5.0;

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
    /// A new or re-formed ISL carries data only this long after it appears (pointing,
    /// acquisition and tracking), s. Links present at the start are already acquired.
    pub acquisition_s: f64,
    /// Longest ISL at the full `Capacities::isl_bps`, km; beyond it the rate falls as
    /// `(full_rate_km / d)^2` (received power falls as 1/d^2; at a fixed energy per bit the
    /// rate follows it). `None`: full rate at any range.
    pub full_rate_km: Option<f64>,
    /// Links between satellites of different planes exist only while both ends are within
    /// this geocentric latitude, deg (cross-plane terminals cannot track near the poles,
    /// where the planes cross). `None`: no such rule. Needs a plane layout.
    pub cross_plane_max_lat_deg: Option<f64>,
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
            acquisition_s: 0.0,
            full_rate_km: None,
            cross_plane_max_lat_deg: None,
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
    /// A ground link that appears (a handover to a new satellite) carries data only this
    /// long after it appears, s: the antenna slews and the modem locks.
    pub handover_s: f64,
}

impl Default for GslConfig {
    fn default() -> Self {
        GslConfig {
            min_elevation_deg: 25.0,
            max_range_km: None,
            antennas: None,
            strategy: GslStrategy::HighestElevation,
            handover_s: 0.0,
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
