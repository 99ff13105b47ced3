//! The scenario file as written: serde types for the TOML format, nothing else.
//!
//! These types mirror the file (docs/scenario.md describes every key) and are converted to
//! core types by [`crate::convert`]. Optional keys are `Option`s here so the defaults live
//! in one place, the conversion. Unknown keys are errors everywhere (`deny_unknown_fields`).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Ground stations from a CSV file (`name,latitude_deg,longitude_deg,elevation_m`),
    /// relative to the scenario file; listed before any `[[ground_stations]]`.
    pub ground_stations_csv: Option<String>,
    #[serde(default)]
    pub run: RunFile,
    pub constellation: ConstellationFile,
    #[serde(default)]
    pub satellite: SatelliteFile,
    #[serde(default)]
    pub ground_stations: Vec<StationFile>,
    #[serde(default)]
    pub data_centres: Vec<DataCentreFile>,
    #[serde(default)]
    pub ground_compute: GroundComputeFile,
    #[serde(default)]
    pub user_regions: Vec<RegionFile>,
    #[serde(default)]
    pub user_terminals: Vec<TerminalFile>,
    #[serde(default)]
    pub network: NetworkFile,
    #[serde(default)]
    pub faults: FaultsFile,
    #[serde(default)]
    pub workloads: WorkloadsFile,
    #[serde(default)]
    pub physics: PhysicsFile,
}

/// `[physics]`: how satellites power their accelerators and meter energy.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhysicsFile {
    pub energy_metering: Option<bool>,
    pub warm_devices: Option<u32>,
    pub wake_s: Option<f64>,
    pub dod_floor: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFile {
    /// ISO-8601 UTC, quoted or as a TOML datetime.
    pub start: Option<toml::Value>,
    pub horizon_h: Option<f64>,
    pub step_s: Option<f64>,
    pub seed: Option<u64>,
    pub policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstellationFile {
    pub walker: Option<WalkerFile>,
    /// TLE or OMM (JSON/CSV) file, relative to the scenario file.
    pub tle: Option<String>,
    /// With `tle`: satellites are listed plane by plane in this many planes.
    pub planes: Option<u32>,
    /// With `tle`: accept checksum mismatches.
    pub lenient: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkerFile {
    pub kind: Option<String>,
    pub planes: u32,
    pub sats_per_plane: u32,
    pub phasing: Option<u32>,
    pub altitude_km: f64,
    pub inclination_deg: f64,
    pub raan_offset_deg: Option<f64>,
    pub first_norad_id: Option<u32>,
    pub name_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SatelliteFile {
    pub accelerator: Option<String>,
    pub n_accelerators: Option<f64>,
    pub cell: Option<String>,
    pub pointing: Option<String>,
    pub array_area_m2: Option<f64>,
    pub battery_wh: Option<f64>,
    pub dod: Option<f64>,
    pub bus_power_w: Option<f64>,
    pub radiator_area_m2: Option<f64>,
    pub heat_capacity_j_per_k: Option<f64>,
    pub emissivity: Option<f64>,
    pub absorptivity: Option<f64>,
    pub temp_limit_k: Option<f64>,
    pub radiator_scale: Option<f64>,
    pub min_temp_k: Option<f64>,
    pub heater_max_w: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StationFile {
    pub name: String,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub elevation_m: Option<f64>,
    pub min_elevation_deg: Option<f64>,
    pub antennas: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCentreFile {
    pub name: String,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub elevation_m: Option<f64>,
    pub compute_capacity_pflops: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundComputeFile {
    pub slot_tflops: Option<f64>,
    pub slot_memory_gb: Option<f64>,
    pub slot_power_w: Option<f64>,
    pub slot_idle_w: Option<f64>,
    pub pue: Option<f64>,
}

/// Users at points: one terminal, or `count` terminals sampled along a lane.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalFile {
    pub name: String,
    pub latitude_deg: Option<f64>,
    pub longitude_deg: Option<f64>,
    /// Waypoints `[[lat, lon], ...]` of a lane or road.
    pub lane_deg: Option<Vec<[f64; 2]>>,
    pub count: Option<u32>,
    pub min_elevation_deg: Option<f64>,
    pub rate_mbps: Option<f64>,
    pub links: Option<u32>,
    /// Blind-zone requests per second from the whole group.
    pub requests_per_s: Option<f64>,
    /// `points` (each terminal its own node) or `region` (one node whose cap bounds them).
    pub coverage: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionFile {
    pub name: String,
    pub latitude_deg: Option<f64>,
    pub longitude_deg: Option<f64>,
    pub radius_km: Option<f64>,
    /// A polygon of `[latitude_deg, longitude_deg]` vertices instead of a circle.
    pub vertices_deg: Option<Vec<[f64; 2]>>,
    pub min_elevation_deg: Option<f64>,
    pub links: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    pub isl: Option<String>,
    pub isl_shift: Option<u32>,
    pub nearest_k: Option<u32>,
    pub grazing_altitude_km: Option<f64>,
    pub max_isl_range_km: Option<f64>,
    pub laser_terminals: Option<u32>,
    pub isl_acquisition_s: Option<f64>,
    pub isl_rate_vs_range: Option<bool>,
    pub isl_full_rate_km: Option<f64>,
    pub isl_cross_plane_max_lat_deg: Option<f64>,
    pub gsl_handover_s: Option<f64>,
    pub gsl_min_elevation_deg: Option<f64>,
    /// Longest ground-station slant range, km; absent: no range rule.
    pub gsl_max_range_km: Option<f64>,
    pub antennas: Option<u32>,
    pub gsl_strategy: Option<String>,
    /// Fibre pairs by node name; absent: a full mesh.
    pub fibre_links: Option<Vec<[String; 2]>>,
    pub fibre_delay_factor: Option<f64>,
    pub isl_capacity_gbps: Option<f64>,
    pub gsl_capacity_gbps: Option<f64>,
    pub user_capacity_gbps: Option<f64>,
    pub fibre_capacity_gbps: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsFile {
    pub radiation: Option<bool>,
    pub upsets_per_device_day: Option<f64>,
    pub saa_peak_multiplier: Option<f64>,
    pub max_retries: Option<u32>,
    pub tid: Option<bool>,
    pub dose_krad_per_year: Option<f64>,
    pub age_years: Option<f64>,
    #[serde(default)]
    pub outages: Vec<OutageFile>,
}

/// A satellite by name (its label) or by index.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SatRef {
    Index(u32),
    Name(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageFile {
    pub satellite: SatRef,
    pub from_h: f64,
    pub to_h: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadsFile {
    pub earth_observation: Option<EoFile>,
    pub blind_zone: Option<PoissonFile>,
    pub ground_ai: Option<PoissonFile>,
    pub trace: Option<TraceFile>,
    pub iot: Option<IotFile>,
}

/// `[workloads.iot]`: narrowband terminals sending short messages, stored and forwarded
/// by the satellites to the ground stations.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IotFile {
    /// Terminals spread over `areas` (in proportion to their areas).
    pub terminals: Option<u32>,
    #[serde(default)]
    pub areas: Vec<TargetFile>,
    /// Terminals at points from a CSV (`name,latitude_deg,longitude_deg,elevation_m`),
    /// relative to the scenario file; with or instead of `areas`.
    pub terminals_csv: Option<String>,
    pub messages_per_terminal_h: Option<f64>,
    pub message_bytes: Option<u32>,
    pub uplink_bps: Option<f64>,
    pub downlink_bps: Option<f64>,
    pub buffer_messages: Option<u32>,
    pub min_elevation_deg: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EoFile {
    pub swath_km: Option<f64>,
    pub bytes_per_km2: Option<f64>,
    pub flop_per_byte: Option<f64>,
    pub result_fraction: Option<f64>,
    pub memory_bytes: Option<f64>,
    pub tile_bytes: Option<f64>,
    pub deadline_s: Option<f64>,
    pub daylight_only: Option<bool>,
    pub track_step_s: Option<f64>,
    pub efficiency: Option<f64>,
    #[serde(default)]
    pub targets: Vec<TargetFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    pub name: String,
    pub lat_min_deg: f64,
    pub lat_max_deg: f64,
    pub lon_min_deg: f64,
    pub lon_max_deg: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoissonFile {
    /// Origin node names; absent: every user region (blind zone) / data centre (ground AI).
    pub origins: Option<Vec<String>>,
    pub rate_per_s: Option<f64>,
    pub rate_per_s_by_origin: Option<BTreeMap<String, f64>>,
    pub input_bytes_median: Option<f64>,
    pub work_flop_median: Option<f64>,
    pub spread_sigma: Option<f64>,
    pub output_bytes: Option<f64>,
    pub memory_bytes: Option<f64>,
    pub deadline_s: Option<f64>,
    pub efficiency: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceFile {
    /// CSV file relative to the scenario file.
    pub file: String,
}
