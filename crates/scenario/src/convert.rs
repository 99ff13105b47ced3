//! From the file to a validated [`Scenario`]: defaults, range checks, referenced files
//! (TLE/OMM, station CSV, task trace) and name resolution. Every error carries the file,
//! line and key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tiandi_network::iot::IotConfig;
use tiandi_network::{
    Capacities, DataCentre, FibreConfig, GSL_HANDOVER_S, GslConfig, GslStrategy, ISL_ACQUISITION_S,
    ISL_FULL_RATE_KM, IslConfig, IslPattern, LinkConfig, Network, NetworkSpec, RegionShape,
    StationNode, UserTerminalRegion,
};
use tiandi_node::plan::{ComputeTarget, OrbitChoice, PlanInput, plan};
use tiandi_node::{Battery, CellType, FaultModel, NodeConfig, Pointing, SaaModel, SolarArray};
use tiandi_node::{ThermalParams, accelerator};
use tiandi_orbit::walker::{RADIUS_WGS72_KM, WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, GroundStation, Satellite, TleOptions};
use tiandi_twin::{FaultSetup, LEO_DOSE_KRAD_PER_YEAR, PayloadPower, TID_SPREAD_SIGMA, TidModel};
use tiandi_workload::{
    EoConfig, MIN_EFFICIENCY, NodeIdx, PoissonConfig, TargetArea, Task, TaskKind,
};

use crate::error::{KeyPath, Locator, ScenarioError, SettingError};
use crate::file::{self, ScenarioFile};
use crate::{DEFAULT_EPOCH, Scenario};

/// Longest horizon a scenario may ask for, hours (one week: a bound on every loop).
pub const MAX_HORIZON_H: f64 = 168.0;

/// FNV-1a, 64 bit: the scenario fingerprint in `summary.json`. Not a security hash; it only
/// has to tell two scenario texts apart, and needs no dependency.
pub fn fnv1a64(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// FNV-1a offset basis.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

type Result<T> = std::result::Result<T, ScenarioError>;

/// Checks numbers against their ranges and names the key on failure.
pub(crate) struct Check<'a> {
    pub loc: Locator<'a>,
}

impl Check<'_> {
    pub fn err(&self, path: &KeyPath, message: impl Into<String>) -> ScenarioError {
        self.loc.error(path, message)
    }

    fn finite(&self, path: &KeyPath, v: f64) -> Result<f64> {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.err(path, format!("must be a finite number, found {v}")))
        }
    }

    pub fn positive(&self, path: &KeyPath, v: f64) -> Result<f64> {
        if self.finite(path, v)? > 0.0 {
            Ok(v)
        } else {
            Err(self.err(path, format!("must be positive, found {v}")))
        }
    }

    pub fn non_negative(&self, path: &KeyPath, v: f64) -> Result<f64> {
        if self.finite(path, v)? >= 0.0 {
            Ok(v)
        } else {
            Err(self.err(path, format!("must be zero or positive, found {v}")))
        }
    }

    pub fn within(&self, path: &KeyPath, v: f64, lo: f64, hi: f64) -> Result<f64> {
        if (lo..=hi).contains(&self.finite(path, v)?) {
            Ok(v)
        } else {
            Err(self.err(path, format!("must be in [{lo}, {hi}], found {v}")))
        }
    }

    /// A byte count written as a number (`2e9` or `2_000_000_000`).
    pub fn bytes(&self, path: &KeyPath, v: f64) -> Result<u64> {
        let v = self.non_negative(path, v)?;
        if v > 1e18 {
            return Err(self.err(path, format!("must be at most 1e18 bytes, found {v}")));
        }
        Ok(v.round() as u64)
    }
}

/// Reads a file named in the scenario, relative to the scenario's directory, and folds its
/// text into the scenario's fingerprint `hash`.
fn read_referenced(
    check: &Check<'_>,
    base: &Path,
    path: &KeyPath,
    name: &str,
    hash: &mut u64,
) -> Result<(PathBuf, String)> {
    let full = base.join(name);
    match std::fs::read_to_string(&full) {
        Ok(text) => {
            *hash = fnv1a64(fnv1a64(*hash, &[0xff]), text.as_bytes());
            Ok((full, text))
        }
        Err(e) => Err(check.err(path, format!("cannot read {}: {e}", full.display()))),
    }
}

/// Parses and validates a scenario. `file_name` is used in messages; `base_dir` resolves the
/// files the scenario refers to.
///
/// The sections are checked in file order (run, constellation, satellite, ground segment,
/// ground compute, network, faults, workloads), so the first error reported is the same
/// whichever sections are wrong; the fingerprint covers the text, then each referenced
/// file in the order read.
pub fn parse_scenario(text: &str, file_name: &str, base_dir: &Path) -> Result<Scenario> {
    let check = Check {
        loc: Locator::new(file_name, text),
    };
    let raw: ScenarioFile = toml::from_str(text).map_err(|e| check.loc.from_toml(&e))?;
    let mut hash = fnv1a64(FNV_OFFSET, text.as_bytes());
    let run = run_section(&check, &raw.run)?;
    let constellation = constellation(&check, &raw.constellation, run.start, base_dir, &mut hash)?;
    let node = satellite_config(
        &check,
        &raw.satellite,
        run.start,
        constellation.altitude_km,
        constellation.inclination_deg,
    )?;
    let satellites = constellation.satellites;
    let n_sats = satellites.len();
    let (ground, names) = ground_segment(&check, &raw, base_dir, &mut hash, &satellites)?;
    let (slot_flops, slot_memory_bytes, ground_power) =
        ground_compute(&check, &raw.ground_compute, &ground.data_centres)?;
    let first_user = n_sats + ground.stations.len() + ground.data_centres.len();
    let terminal_rates: BTreeMap<NodeIdx, f64> = ground
        .terminal_rates
        .iter()
        .map(|(&i, &r)| ((first_user + i) as NodeIdx, r))
        .collect();
    let network = network_spec(
        &check,
        &raw.network,
        &names,
        n_sats,
        constellation.n_planes,
        ground,
    )?;
    let faults = fault_setup(&check, &raw.faults, &node, &names, n_sats, run.start)?;
    let (payload_power, dod_floor) = physics_section(&check, &raw.physics, &node)?;
    let mut node = node;
    if !dod_floor {
        // The battery as sized (for its depth of discharge), usable down to empty.
        let b = &node.battery;
        node.battery = Battery::new(
            b.capacity_wh(),
            1.0,
            b.charge_efficiency(),
            b.discharge_efficiency(),
        )
        .expect("a valid battery stays valid with the whole capacity usable");
    }
    let workloads = workloads(
        &check,
        &raw.workloads,
        &network,
        (&names, &terminal_rates),
        base_dir,
        &mut hash,
        run.start,
    )?;
    Ok(Scenario {
        name: raw.name.clone().unwrap_or_else(|| file_name.to_string()),
        source: file_name.to_string(),
        hash,
        start: run.start,
        horizon_h: run.horizon_h,
        step_ns: (run.step_s * 1e9).round() as i64,
        seed: run.seed,
        policy: run.policy,
        satellites,
        node,
        network,
        slot_flops,
        slot_memory_bytes,
        ground_power,
        faults,
        payload_power,
        eo: workloads.eo,
        blind_zone: workloads.blind_zone,
        ground_ai: workloads.ground_ai,
        trace: workloads.trace,
        iot: workloads.iot,
        node_names: names,
    })
}

/// `[physics]`: accelerator power gating and energy metering.
fn physics_section(
    check: &Check<'_>,
    f: &file::PhysicsFile,
    node: &NodeConfig,
) -> Result<(PayloadPower, bool)> {
    let p = KeyPath::root().key("physics");
    let d = PayloadPower::default();
    let warm_devices = f.warm_devices.unwrap_or(d.warm_devices);
    let slots = node.n_accelerators.round().max(1.0) as u32;
    if warm_devices > slots {
        return Err(check.err(
            &p.key("warm_devices"),
            format!("must be at most the satellite's {slots} accelerators, found {warm_devices}"),
        ));
    }
    Ok((
        PayloadPower {
            warm_devices,
            wake_s: check.within(&p.key("wake_s"), f.wake_s.unwrap_or(d.wake_s), 0.0, 3_600.0)?,
            metering: f.energy_metering.unwrap_or(d.metering),
        },
        f.dod_floor.unwrap_or(true),
    ))
}

/// `[run]`, checked.
struct RunSection {
    start: Epoch,
    horizon_h: f64,
    step_s: f64,
    seed: u64,
    policy: String,
}

fn run_section(check: &Check<'_>, r: &file::RunFile) -> Result<RunSection> {
    let run = KeyPath::root().key("run");
    let start = match &r.start {
        None => DEFAULT_EPOCH,
        Some(v) => {
            let s = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Datetime(d) => d.to_string(),
                other => {
                    return Err(check.err(
                        &run.key("start"),
                        format!(
                            "expected an ISO-8601 UTC time, found a {}",
                            other.type_str()
                        ),
                    ));
                }
            };
            Epoch::parse_iso(&s).map_err(|e| check.err(&run.key("start"), e.to_string()))?
        }
    };
    let horizon_h = check.within(
        &run.key("horizon_h"),
        r.horizon_h.unwrap_or(6.0),
        1e-3,
        MAX_HORIZON_H,
    )?;
    let step_s = check.within(&run.key("step_s"), r.step_s.unwrap_or(10.0), 0.1, 3_600.0)?;
    let seed = r.seed.unwrap_or(1);
    let policy = r.policy.clone().unwrap_or_else(|| "unified".into());
    check_policy(&policy).map_err(|e| check.err(&run.key("policy"), e.to_string()))?;
    Ok(RunSection {
        start,
        horizon_h,
        step_s,
        seed,
        policy,
    })
}

/// `[constellation]`: the satellites, and the orbit the satellite design is sized for.
struct Constellation {
    satellites: Vec<Satellite>,
    /// Known when the satellites are listed plane by plane.
    n_planes: Option<u32>,
    /// Of the design, or of the first satellite in the file.
    altitude_km: f64,
    inclination_deg: f64,
}

fn constellation(
    check: &Check<'_>,
    c: &file::ConstellationFile,
    start: Epoch,
    base_dir: &Path,
    hash: &mut u64,
) -> Result<Constellation> {
    let con = KeyPath::root().key("constellation");
    match (&c.walker, &c.tle) {
        (Some(_), Some(_)) => {
            Err(check.err(&con.key("tle"), "give either `walker` or `tle`, not both"))
        }
        (None, None) => Err(check.err(&con, "give a `walker` table or a `tle` file")),
        (Some(w), None) => {
            if c.planes.is_some() || c.lenient.is_some() {
                return Err(check.err(
                    &con.key("planes"),
                    "`planes` and `lenient` go with `tle`; a walker has its own planes",
                ));
            }
            walker_constellation(check, &con.key("walker"), w, start)
        }
        (None, Some(tle)) => tle_constellation(check, &con, c, tle, base_dir, hash),
    }
}

fn walker_constellation(
    check: &Check<'_>,
    wp: &KeyPath,
    w: &file::WalkerFile,
    start: Epoch,
) -> Result<Constellation> {
    let kind = match w.kind.as_deref().unwrap_or("delta") {
        "delta" => WalkerKind::Delta,
        "star" => WalkerKind::Star,
        other => {
            return Err(check.err(
                &wp.key("kind"),
                format!("expected delta or star, found {other:?}"),
            ));
        }
    };
    let design = WalkerDesign {
        kind,
        n_planes: w.planes,
        sats_per_plane: w.sats_per_plane,
        phasing: w.phasing.unwrap_or(0),
        altitude_km: w.altitude_km,
        inclination_deg: w.inclination_deg,
        epoch: start,
        raan_offset_deg: w.raan_offset_deg.unwrap_or(0.0),
        first_norad_id: w.first_norad_id.unwrap_or(90_000),
        name_prefix: w.name_prefix.clone().unwrap_or_else(|| "TD".into()),
    };
    let elements = design.elements().map_err(|e| {
        let key = match e.field {
            "n_planes" | "planes" => "planes",
            "sats_per_plane" => "sats_per_plane",
            "phasing" => "phasing",
            "altitude_km" => "altitude_km",
            "inclination_deg" => "inclination_deg",
            _ => "",
        };
        let p = if key.is_empty() {
            wp.clone()
        } else {
            wp.key(key)
        };
        check.err(&p, e.to_string())
    })?;
    if elements.len() > 100_000 {
        return Err(check.err(
            wp,
            format!("{} satellites: at most 100,000", elements.len()),
        ));
    }
    let satellites = elements
        .into_iter()
        .map(Satellite::new)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| check.err(wp, e.to_string()))?;
    Ok(Constellation {
        satellites,
        n_planes: Some(w.planes),
        altitude_km: w.altitude_km,
        inclination_deg: w.inclination_deg,
    })
}

/// Satellites from a TLE or OMM (JSON or CSV) file, recognised by content.
fn tle_constellation(
    check: &Check<'_>,
    con: &KeyPath,
    c: &file::ConstellationFile,
    tle: &str,
    base_dir: &Path,
    hash: &mut u64,
) -> Result<Constellation> {
    let tp = con.key("tle");
    let (full, text) = read_referenced(check, base_dir, &tp, tle, hash)?;
    let name = full.display().to_string();
    let lenient = c.lenient.unwrap_or(false);
    let elements = match tiandi_orbit::omm::detect(&text) {
        Some(tiandi_orbit::omm::OmmFormat::Json) => tiandi_orbit::omm::parse_omm_json(&text, &name)
            .map_err(|e| check.err(&tp, e.to_string()))?,
        Some(tiandi_orbit::omm::OmmFormat::Csv) => tiandi_orbit::omm::parse_omm_csv(&text, &name)
            .map_err(|e| check.err(&tp, e.to_string()))?,
        None => {
            tiandi_orbit::parse_tle(&text, &name, TleOptions { lenient })
                .map_err(|e| check.err(&tp, e.to_string()))?
                .elements
        }
    };
    if elements.is_empty() {
        return Err(check.err(
            &tp,
            format!("{name}: no element sets found (expected TLE lines or OMM records)"),
        ));
    }
    let first = elements[0].clone();
    let satellites = elements
        .into_iter()
        .map(Satellite::new)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| check.err(&tp, format!("{name}: {e}")))?;
    if let Some(p) = c.planes
        && (p == 0 || !satellites.len().is_multiple_of(p as usize))
    {
        return Err(check.err(
            &con.key("planes"),
            format!(
                "{p} planes do not divide the {} satellites into equal planes",
                satellites.len()
            ),
        ));
    }
    // Altitude of the first satellite from its mean motion (Kepler's third law).
    let n_rad_s = first.mean_motion_rev_day * std::f64::consts::TAU / 86_400.0;
    let a_km = (tiandi_orbit::walker::MU_WGS72_KM3_S2 / (n_rad_s * n_rad_s)).cbrt();
    Ok(Constellation {
        satellites,
        n_planes: c.planes,
        altitude_km: a_km - RADIUS_WGS72_KM,
        inclination_deg: first.inclination_deg,
    })
}

/// Stations, data centres and user regions.
struct GroundSegment {
    stations: Vec<StationNode>,
    data_centres: Vec<DataCentre>,
    /// `[[user_regions]]` then the nodes of `[[user_terminals]]`.
    user_regions: Vec<UserTerminalRegion>,
    /// Blind-zone arrivals per second of user nodes whose terminal group sets them, by
    /// index into `user_regions`.
    terminal_rates: BTreeMap<usize, f64>,
}

/// The ground segment, and every node by name: satellite labels, stations, data centres,
/// user regions.
fn ground_segment(
    check: &Check<'_>,
    raw: &ScenarioFile,
    base_dir: &Path,
    hash: &mut u64,
    satellites: &[Satellite],
) -> Result<(GroundSegment, BTreeMap<String, NodeIdx>)> {
    let mut names: BTreeMap<String, NodeIdx> = BTreeMap::new();
    for (i, s) in satellites.iter().enumerate() {
        names.entry(s.label().to_string()).or_insert(i as NodeIdx);
    }
    let (stations, station_paths) = stations(check, raw, base_dir, hash)?;
    let data_centres = data_centres(check, &raw.data_centres)?;
    let mut user_regions = user_regions(check, &raw.user_regions)?;
    let terminals = user_terminals(check, &raw.user_terminals)?;
    let mut terminal_rates = BTreeMap::new();
    let mut terminal_names = Vec::new();
    for (node, path, rate) in terminals {
        if let Some(r) = rate {
            terminal_rates.insert(user_regions.len(), r);
        }
        terminal_names.push((node.name.clone(), path));
        user_regions.push(node);
    }
    // Ground names must be unique: traces and fibre lists refer to nodes by name.
    let root = KeyPath::root();
    let ground_names = stations
        .iter()
        .map(|s| s.station.name.clone())
        .zip(station_paths)
        .chain(
            raw.data_centres
                .iter()
                .enumerate()
                .map(|(i, d)| (d.name.clone(), root.key("data_centres").index(i))),
        )
        .chain(
            raw.user_regions
                .iter()
                .enumerate()
                .map(|(i, r)| (r.name.clone(), root.key("user_regions").index(i))),
        )
        .chain(terminal_names);
    for (k, (name, p)) in ground_names.enumerate() {
        let idx = (satellites.len() + k) as NodeIdx;
        if names.insert(name.clone(), idx).is_some() {
            return Err(check.err(
                &p.key("name"),
                format!("{name:?} is already the name of another node"),
            ));
        }
    }
    let ground = GroundSegment {
        stations,
        data_centres,
        user_regions,
        terminal_rates,
    };
    Ok((ground, names))
}

/// Ground stations, the CSV's first, then the table's, each with the key path it came from.
fn stations(
    check: &Check<'_>,
    raw: &ScenarioFile,
    base_dir: &Path,
    hash: &mut u64,
) -> Result<(Vec<StationNode>, Vec<KeyPath>)> {
    let root = KeyPath::root();
    let mut stations = Vec::new();
    let mut station_paths = Vec::new();
    if let Some(csv_name) = &raw.ground_stations_csv {
        let p = root.key("ground_stations_csv");
        let (full, text) = read_referenced(check, base_dir, &p, csv_name, hash)?;
        for st in crate::csv_in::parse_stations_csv(&text, &full.display().to_string())? {
            stations.push(StationNode::new(st));
            station_paths.push(p.clone());
        }
    }
    for (i, s) in raw.ground_stations.iter().enumerate() {
        let p = root.key("ground_stations").index(i);
        let station = ground_site(
            check,
            &p,
            &s.name,
            s.latitude_deg,
            s.longitude_deg,
            s.elevation_m,
        )?;
        if let Some(e) = s.min_elevation_deg {
            check.within(&p.key("min_elevation_deg"), e, -90.0, 89.9)?;
        }
        stations.push(StationNode {
            station,
            min_elevation_deg: s.min_elevation_deg,
            antennas: s.antennas,
        });
        station_paths.push(p);
    }
    if stations.is_empty() {
        return Err(check.err(&root.key("ground_stations"), "at least one ground station is needed (`[[ground_stations]]` or `ground_stations_csv`)"));
    }
    Ok((stations, station_paths))
}

fn data_centres(check: &Check<'_>, raw: &[file::DataCentreFile]) -> Result<Vec<DataCentre>> {
    let root = KeyPath::root();
    let mut data_centres = Vec::new();
    for (i, d) in raw.iter().enumerate() {
        let p = root.key("data_centres").index(i);
        let site = ground_site(
            check,
            &p,
            &d.name,
            d.latitude_deg,
            d.longitude_deg,
            d.elevation_m,
        )?;
        let pflops =
            check.positive(&p.key("compute_capacity_pflops"), d.compute_capacity_pflops)?;
        data_centres.push(DataCentre {
            site,
            compute_capacity_flops: pflops * 1e15,
        });
    }
    if data_centres.is_empty() {
        return Err(check.err(
            &root.key("data_centres"),
            "at least one `[[data_centres]]` is needed",
        ));
    }
    Ok(data_centres)
}

/// `[[user_terminals]]`: users at points. Each group is one terminal at a point, or
/// `count` terminals at even spacing along a lane's great-circle legs (at the middles of
/// `count` equal parts), each its own node (`name-1` ... `name-N`) seeing satellites from
/// its own position, mask and rate; with `coverage = "region"` the group is one node whose
/// cap bounds its terminals (the coarse region model). Returns each node with its key path
/// and, when the group sets `requests_per_s`, its share of the group's arrivals.
fn user_terminals(
    check: &Check<'_>,
    raw: &[file::TerminalFile],
) -> Result<Vec<(UserTerminalRegion, KeyPath, Option<f64>)>> {
    let mut out = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        let p = KeyPath::root().key("user_terminals").index(i);
        if t.name.trim().is_empty() {
            return Err(check.err(&p.key("name"), "must not be empty"));
        }
        let waypoints: Vec<(f64, f64)> = match (&t.lane_deg, t.latitude_deg, t.longitude_deg) {
            (Some(lane), None, None) if !lane.is_empty() => {
                lane.iter().map(|[a, b]| (*a, *b)).collect()
            }
            (None, Some(lat), Some(lon)) => vec![(lat, lon)],
            _ => {
                return Err(check.err(
                    &p,
                    "give latitude_deg and longitude_deg (one point) or lane_deg (waypoints)",
                ));
            }
        };
        for (k, &(lat, lon)) in waypoints.iter().enumerate() {
            let wp = if t.lane_deg.is_some() {
                p.key("lane_deg").index(k)
            } else {
                p.clone()
            };
            check.within(&wp.key("latitude_deg"), lat, -90.0, 90.0)?;
            check.within(&wp.key("longitude_deg"), lon, -180.0, 360.0)?;
        }
        let count = t.count.unwrap_or(1);
        if count == 0 || count > 10_000 {
            return Err(check.err(
                &p.key("count"),
                format!("must be 1 to 10000, found {count}"),
            ));
        }
        if t.links == Some(0) {
            return Err(check.err(&p.key("links"), "must be at least 1"));
        }
        if t.lane_deg.is_none() && count != 1 {
            return Err(check.err(&p.key("count"), "a single point has one terminal"));
        }
        if let Some(e) = t.min_elevation_deg {
            check.within(&p.key("min_elevation_deg"), e, -90.0, 89.9)?;
        }
        let rate_bps = t
            .rate_mbps
            .map(|r| check.positive(&p.key("rate_mbps"), r).map(|r| r * 1e6))
            .transpose()?;
        let requests = t
            .requests_per_s
            .map(|r| check.within(&p.key("requests_per_s"), r, 0.0, 100.0))
            .transpose()?;
        let points = sample_lane(&waypoints, count);
        let node = |name: String, shape: RegionShape| UserTerminalRegion {
            name,
            shape,
            min_elevation_deg: t.min_elevation_deg,
            links: t.links,
            rate_bps,
        };
        match t.coverage.as_deref().unwrap_or("points") {
            "points" => {
                let share = requests.map(|r| r / f64::from(count));
                for (k, &(lat, lon)) in points.iter().enumerate() {
                    let name = if count == 1 {
                        t.name.clone()
                    } else {
                        format!("{}-{}", t.name, k + 1)
                    };
                    let shape = RegionShape::Circle {
                        latitude_deg: lat,
                        longitude_deg: lon,
                        radius_km: 0.0,
                    };
                    out.push((node(name, shape), p.clone(), share));
                }
            }
            "region" => {
                let (lat, lon, radius_km) = bounding_circle(&points);
                let shape = RegionShape::Circle {
                    latitude_deg: lat,
                    longitude_deg: lon,
                    radius_km,
                };
                out.push((node(t.name.clone(), shape), p.clone(), requests));
            }
            other => {
                return Err(check.err(
                    &p.key("coverage"),
                    format!("expected \"points\" or \"region\", found {other:?}"),
                ));
            }
        }
    }
    Ok(out)
}

/// Unit vector of a latitude and longitude, deg (a sphere: terminals are placed on it and
/// the network puts them on the ellipsoid).
fn unit(lat_deg: f64, lon_deg: f64) -> glam::DVec3 {
    let (la, lo) = (lat_deg.to_radians(), lon_deg.to_radians());
    glam::DVec3::new(la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin())
}

fn lat_lon(u: glam::DVec3) -> (f64, f64) {
    let u = u.normalize();
    (u.z.asin().to_degrees(), u.y.atan2(u.x).to_degrees())
}

/// `count` points at the middles of `count` equal arc-length parts of the polyline through
/// `waypoints` (great-circle legs); a single waypoint gives itself.
fn sample_lane(waypoints: &[(f64, f64)], count: u32) -> Vec<(f64, f64)> {
    if waypoints.len() == 1 {
        return vec![waypoints[0]];
    }
    let units: Vec<glam::DVec3> = waypoints.iter().map(|&(a, b)| unit(a, b)).collect();
    let legs: Vec<f64> = units
        .windows(2)
        .map(|w| w[0].cross(w[1]).length().atan2(w[0].dot(w[1])))
        .collect();
    let total: f64 = legs.iter().sum();
    (0..count)
        .map(|k| {
            let mut s = total * (f64::from(k) + 0.5) / f64::from(count);
            for (j, &leg) in legs.iter().enumerate() {
                if s <= leg || j + 1 == legs.len() {
                    let f = if leg > 0.0 {
                        (s / leg).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    // Spherical linear interpolation along the leg.
                    let (a, b) = (units[j], units[j + 1]);
                    let p = if leg > 1e-12 {
                        (a * ((1.0 - f) * leg).sin() + b * (f * leg).sin()) / leg.sin()
                    } else {
                        a
                    };
                    return lat_lon(p);
                }
                s -= leg;
            }
            unreachable!("the loop returns on the last leg")
        })
        .collect()
}

/// A circle (centre lat, lon, ground radius km) holding every point: centred on their mean
/// direction, out to the farthest (mean Earth radius 6,371.0 km).
fn bounding_circle(points: &[(f64, f64)]) -> (f64, f64, f64) {
    let units: Vec<glam::DVec3> = points.iter().map(|&(a, b)| unit(a, b)).collect();
    let sum: glam::DVec3 = units.iter().copied().sum();
    let centre = if sum.length() > 1e-9 {
        sum.normalize()
    } else {
        units[0]
    };
    let radius = units
        .iter()
        .map(|u| u.cross(centre).length().atan2(u.dot(centre)))
        .fold(0.0, f64::max);
    let (lat, lon) = lat_lon(centre);
    (lat, lon, (radius * 6_371.0).min(5_000.0))
}

fn user_regions(check: &Check<'_>, raw: &[file::RegionFile]) -> Result<Vec<UserTerminalRegion>> {
    let mut regions = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let p = KeyPath::root().key("user_regions").index(i);
        if r.name.trim().is_empty() {
            return Err(check.err(&p.key("name"), "must not be empty"));
        }
        let shape = match (&r.vertices_deg, r.latitude_deg, r.longitude_deg, r.radius_km) {
            (Some(v), None, None, None) => RegionShape::Polygon {
                vertices_deg: v.iter().map(|[a, b]| (*a, *b)).collect(),
            },
            (None, Some(lat), Some(lon), Some(radius)) => {
                check.within(&p.key("latitude_deg"), lat, -90.0, 90.0)?;
                check.within(&p.key("longitude_deg"), lon, -180.0, 360.0)?;
                check.within(&p.key("radius_km"), radius, 0.0, 5_000.0)?;
                RegionShape::Circle {
                    latitude_deg: lat,
                    longitude_deg: lon,
                    radius_km: radius,
                }
            }
            _ => return Err(check.err(&p, "give latitude_deg, longitude_deg and radius_km (a circle) or vertices_deg (a polygon)")),
        };
        if let Some(e) = r.min_elevation_deg {
            check.within(&p.key("min_elevation_deg"), e, -90.0, 89.9)?;
        }
        regions.push(UserTerminalRegion {
            name: r.name.clone(),
            shape,
            min_elevation_deg: r.min_elevation_deg,
            links: r.links,
            rate_bps: None,
        });
    }
    Ok(regions)
}

/// `[ground_compute]`: (FLOP/s, memory bytes, power) of one data-centre slot; every data
/// centre must hold at least one.
fn ground_compute(
    check: &Check<'_>,
    g: &file::GroundComputeFile,
    data_centres: &[DataCentre],
) -> Result<(f64, u64, tiandi_twin::GroundPower)> {
    let root = KeyPath::root();
    let gc = root.key("ground_compute");
    let slot_flops = check.positive(&gc.key("slot_tflops"), g.slot_tflops.unwrap_or(989.4))? * 1e12;
    let slot_memory_bytes = (check
        .positive(&gc.key("slot_memory_gb"), g.slot_memory_gb.unwrap_or(80.0))?
        * 1e9)
        .round() as u64;
    for (i, d) in data_centres.iter().enumerate() {
        if d.compute_capacity_flops < slot_flops {
            return Err(check.err(
                &root
                    .key("data_centres")
                    .index(i)
                    .key("compute_capacity_pflops"),
                format!(
                    "{} PFLOP/s is less than one ground_compute slot ({} TFLOP/s)",
                    d.compute_capacity_flops / 1e15,
                    slot_flops / 1e12
                ),
            ));
        }
    }
    let d = tiandi_twin::GroundPower::default();
    let busy_w = check.positive(&gc.key("slot_power_w"), g.slot_power_w.unwrap_or(d.busy_w))?;
    let idle_key = gc.key("slot_idle_w");
    let idle_w = g.slot_idle_w.unwrap_or(d.idle_w);
    if !(idle_w.is_finite() && (0.0..=busy_w).contains(&idle_w)) {
        return Err(check.err(
            &idle_key,
            format!("must be in [0, slot_power_w = {busy_w}] W, found {idle_w}"),
        ));
    }
    let pue_key = gc.key("pue");
    let pue = g.pue.unwrap_or(d.pue);
    if !(pue.is_finite() && (1.0..=5.0).contains(&pue)) {
        return Err(check.err(&pue_key, format!("must be in [1, 5], found {pue}")));
    }
    Ok((
        slot_flops,
        slot_memory_bytes,
        tiandi_twin::GroundPower {
            busy_w,
            idle_w,
            pue,
        },
    ))
}

/// `[network]` with the nodes it joins, checked by building the network once.
fn network_spec(
    check: &Check<'_>,
    n: &file::NetworkFile,
    names: &BTreeMap<String, NodeIdx>,
    n_sats: usize,
    n_planes: Option<u32>,
    ground: GroundSegment,
) -> Result<NetworkSpec> {
    let np = KeyPath::root().key("network");
    let links = link_config(check, n, names, n_sats)?;
    let network = NetworkSpec {
        n_satellites: n_sats,
        n_planes,
        stations: ground.stations,
        data_centres: ground.data_centres,
        user_terminals: ground.user_regions,
        links,
    };
    if matches!(network.links.isl.pattern, IslPattern::PlusGrid { .. }) && n_planes.is_none() {
        return Err(check.err(
            &np.key("isl"),
            "plus-grid ISLs need the satellites listed plane by plane: set constellation.planes",
        ));
    }
    Network::new(network.clone()).map_err(|e| check.err(&np, e.to_string()))?;
    Ok(network)
}

/// `[faults]`: radiation upsets, retries and scheduled outages.
fn fault_setup(
    check: &Check<'_>,
    f: &file::FaultsFile,
    node: &NodeConfig,
    names: &BTreeMap<String, NodeIdx>,
    n_sats: usize,
    start: Epoch,
) -> Result<FaultSetup> {
    let fp = KeyPath::root().key("faults");
    let radiation = if f.radiation.unwrap_or(true) {
        let rate = check.non_negative(
            &fp.key("upsets_per_device_day"),
            f.upsets_per_device_day
                .unwrap_or(node.accelerator.upsets_per_device_day),
        )?;
        let mut saa = SaaModel::default();
        if let Some(m) = f.saa_peak_multiplier {
            saa.peak_multiplier = check.within(&fp.key("saa_peak_multiplier"), m, 1.0, 1e6)?;
        }
        Some(FaultModel::new(rate, saa).map_err(|e| check.err(&fp, e.to_string()))?)
    } else {
        None
    };
    let max_retries = f.max_retries.unwrap_or(3);
    if max_retries > 100 {
        return Err(check.err(
            &fp.key("max_retries"),
            format!("must be at most 100, found {max_retries}"),
        ));
    }
    let mut outages = Vec::new();
    for (i, o) in f.outages.iter().enumerate() {
        let p = fp.key("outages").index(i);
        let sat = match &o.satellite {
            file::SatRef::Index(k) if (*k as usize) < n_sats => *k,
            file::SatRef::Index(k) => {
                return Err(check.err(
                    &p.key("satellite"),
                    format!("satellite index {k} is out of range (0..{n_sats})"),
                ));
            }
            file::SatRef::Name(n) => match names.get(n) {
                Some(&k) if (k as usize) < n_sats => k,
                _ => {
                    return Err(check.err(&p.key("satellite"), format!("no satellite named {n:?}")));
                }
            },
        };
        let from = check.non_negative(&p.key("from_h"), o.from_h)?;
        let to = check.positive(&p.key("to_h"), o.to_h)?;
        if to <= from {
            return Err(check.err(
                &p.key("to_h"),
                format!("must be after from_h ({from}), found {to}"),
            ));
        }
        outages.push((
            sat,
            start.add_s_f64(from * 3_600.0),
            start.add_s_f64(to * 3_600.0),
        ));
    }
    // With `tid = false` the dose is zero: devices never retire, but the age still ages
    // the solar arrays.
    let dose_krad_per_year = if f.tid.unwrap_or(true) {
        check.within(
            &fp.key("dose_krad_per_year"),
            f.dose_krad_per_year.unwrap_or(LEO_DOSE_KRAD_PER_YEAR),
            0.0,
            10_000.0,
        )?
    } else {
        0.0
    };
    let tid = Some(TidModel {
        dose_krad_per_year,
        age_years: check.within(&fp.key("age_years"), f.age_years.unwrap_or(0.0), 0.0, 100.0)?,
        spread_sigma: TID_SPREAD_SIGMA,
    });
    Ok(FaultSetup {
        radiation,
        max_retries,
        outages,
        tid,
    })
}

/// `[workloads]`, each kind checked; the trace is read here, the rest generated later.
struct Workloads {
    eo: Option<EoWorkload>,
    blind_zone: Option<PoissonWorkload>,
    ground_ai: Option<PoissonWorkload>,
    trace: Vec<Task>,
    iot: Option<IotWorkload>,
}

fn workloads(
    check: &Check<'_>,
    w: &file::WorkloadsFile,
    network: &NetworkSpec,
    (names, terminal_rates): (&BTreeMap<String, NodeIdx>, &BTreeMap<NodeIdx, f64>),
    base_dir: &Path,
    hash: &mut u64,
    start: Epoch,
) -> Result<Workloads> {
    let wp = KeyPath::root().key("workloads");
    let eo = match &w.earth_observation {
        None => None,
        Some(e) => Some(eo_workload(check, &wp.key("earth_observation"), e)?),
    };
    // Node numbering: satellites, stations, data centres, user regions.
    let first_dc = network.n_satellites + network.stations.len();
    let first_region = first_dc + network.data_centres.len();
    let region_nodes: Vec<(NodeIdx, Option<f64>)> = (0..network.user_terminals.len())
        .map(|r| {
            let node = (first_region + r) as NodeIdx;
            (node, terminal_rates.get(&node).copied())
        })
        .collect();
    let dc_nodes: Vec<(NodeIdx, Option<f64>)> = (0..network.data_centres.len())
        .map(|d| ((first_dc + d) as NodeIdx, None))
        .collect();
    let blind_zone = match &w.blind_zone {
        None => None,
        Some(b) => Some(poisson_workload(
            check,
            &wp.key("blind_zone"),
            b,
            names,
            &region_nodes,
            "user region",
            &BLIND_ZONE_DEFAULTS,
        )?),
    };
    let ground_ai = match &w.ground_ai {
        None => None,
        Some(g) => Some(poisson_workload(
            check,
            &wp.key("ground_ai"),
            g,
            names,
            &dc_nodes,
            "data centre",
            &GROUND_AI_DEFAULTS,
        )?),
    };
    let trace: Vec<Task> = match &w.trace {
        None => Vec::new(),
        Some(t) => {
            let p = wp.key("trace").key("file");
            let (full, text) = read_referenced(check, base_dir, &p, &t.file, hash)?;
            crate::csv_in::parse_trace_csv(&text, &full.display().to_string(), names, start)?
        }
    };
    let iot = match &w.iot {
        None => None,
        Some(f) => Some(iot_workload(check, &wp.key("iot"), f, base_dir, hash)?),
    };
    Ok(Workloads {
        eo,
        blind_zone,
        ground_ai,
        trace,
        iot,
    })
}

/// `Ok` for a policy `tiandi_scheduler::by_name` knows.
pub fn check_policy(name: &str) -> std::result::Result<(), SettingError> {
    if tiandi_scheduler::POLICY_NAMES.contains(&name) {
        Ok(())
    } else {
        Err(SettingError::UnknownPolicy {
            name: name.to_string(),
            known: &tiandi_scheduler::POLICY_NAMES,
        })
    }
}

fn ground_site(
    check: &Check<'_>,
    p: &KeyPath,
    name: &str,
    lat: f64,
    lon: f64,
    elevation_m: Option<f64>,
) -> Result<GroundStation> {
    if name.trim().is_empty() {
        return Err(check.err(&p.key("name"), "must not be empty"));
    }
    GroundStation::new(name, lat, lon, elevation_m.unwrap_or(0.0)).map_err(|e| {
        let key = match e.field {
            f if f.starts_with("lat") => "latitude_deg",
            f if f.starts_with("lon") => "longitude_deg",
            _ => "elevation_m",
        };
        check.err(&p.key(key), e.to_string())
    })
}

/// What the planner sized for the figures the file leaves out.
struct PlannedDesign {
    array_area_m2: f64,
    battery_wh: f64,
    radiator_area_m2: f64,
    heat_capacity_j_per_k: f64,
}

/// The satellite's compute, power and thermal design; what the file leaves out is sized
/// by the `tiandi plan` planner for the constellation's orbit.
fn satellite_config(
    check: &Check<'_>,
    s: &file::SatelliteFile,
    start: Epoch,
    altitude_km: f64,
    inclination_deg: f64,
) -> Result<NodeConfig> {
    let p = KeyPath::root().key("satellite");
    let acc_name = s.accelerator.as_deref().unwrap_or("orin");
    let acc = accelerator(acc_name).map_err(|e| check.err(&p.key("accelerator"), e.to_string()))?;
    let n_acc = check.within(
        &p.key("n_accelerators"),
        s.n_accelerators.unwrap_or(8.0),
        0.0,
        10_000.0,
    )?;
    let cell = CellType::parse(s.cell.as_deref().unwrap_or("gaas"))
        .map_err(|e| check.err(&p.key("cell"), e.to_string()))?;
    let pointing = Pointing::parse(s.pointing.as_deref().unwrap_or("tracking"))
        .map_err(|e| check.err(&p.key("pointing"), e.to_string()))?;
    let dod = check.within(&p.key("dod"), s.dod.unwrap_or(0.3), 0.01, 1.0)?;
    let bus_power_w = check.non_negative(&p.key("bus_power_w"), s.bus_power_w.unwrap_or(300.0))?;
    let emissivity = check.within(
        &p.key("emissivity"),
        s.emissivity.unwrap_or(0.85),
        0.01,
        1.0,
    )?;
    let absorptivity = check.within(
        &p.key("absorptivity"),
        s.absorptivity.unwrap_or(0.20),
        0.0,
        1.0,
    )?;
    let temp_limit_k = check.within(
        &p.key("temp_limit_k"),
        s.temp_limit_k.unwrap_or(318.0),
        250.0,
        700.0,
    )?;
    for (key, v) in [
        ("array_area_m2", s.array_area_m2),
        ("battery_wh", s.battery_wh),
        ("radiator_area_m2", s.radiator_area_m2),
        ("heat_capacity_j_per_k", s.heat_capacity_j_per_k),
    ] {
        if let Some(v) = v {
            check.positive(&p.key(key), v)?;
        }
    }
    let sized = if s.array_area_m2.is_none()
        || s.battery_wh.is_none()
        || s.radiator_area_m2.is_none()
        || s.heat_capacity_j_per_k.is_none()
    {
        let mut input = PlanInput::new(
            acc,
            ComputeTarget::PowerW((n_acc * acc.system_power_w()).max(1.0)),
        );
        input.altitude_km = altitude_km;
        input.orbit = OrbitChoice::Inclined {
            inclination_deg,
            raan_deg: 0.0,
        };
        input.epoch = start;
        input.cell = cell;
        input.pointing = pointing;
        input.bus_power_w = bus_power_w;
        input.dod = dod;
        input.emissivity = emissivity;
        input.absorptivity = absorptivity;
        input.temp_limit_k = temp_limit_k;
        input.radiator_temp_k = input.radiator_temp_k.min(temp_limit_k);
        // A year in 12 sampled orbits: enough for the worst beta angle to within a few
        // degrees, and fast (the full planner samples 53).
        input.survey_orbits = 12;
        input.survey_step_days = 30.0;
        let pl =
            plan(&input).map_err(|e| check.err(&p, format!("cannot size the satellite: {e}")))?;
        Some(PlannedDesign {
            array_area_m2: pl.power.array_area_m2,
            battery_wh: pl.power.battery_wh,
            radiator_area_m2: pl.thermal.radiator_area_m2,
            heat_capacity_j_per_k: pl.mass.total_kg
                * input.specific_heat_j_per_kg_k
                * input.thermal_mass_fraction,
        })
    } else {
        None
    };
    // The file's value, or the planner's when the file leaves it out.
    let pick = |v: Option<f64>, figure: fn(&PlannedDesign) -> f64| {
        v.unwrap_or_else(|| figure(sized.as_ref().expect("sized when a value is missing")))
    };
    let array = SolarArray::new(
        pick(s.array_area_m2, |z| z.array_area_m2),
        cell,
        None,
        pointing,
    )
    .map_err(|e| check.err(&p.key("array_area_m2"), e.to_string()))?;
    let battery = Battery::new(pick(s.battery_wh, |z| z.battery_wh), dod, 0.95, 0.95)
        .map_err(|e| check.err(&p.key("battery_wh"), e.to_string()))?;
    let radiator_scale = check.within(
        &p.key("radiator_scale"),
        s.radiator_scale.unwrap_or(1.0),
        0.01,
        100.0,
    )?;
    let min_temp_k = check.within(
        &p.key("min_temp_k"),
        s.min_temp_k
            .unwrap_or(tiandi_node::thermal::MIN_OPERATING_TEMP_K),
        3.0,
        temp_limit_k,
    )?;
    let heater_max_w = check.within(
        &p.key("heater_max_w"),
        s.heater_max_w.unwrap_or(tiandi_node::thermal::HEATER_MAX_W),
        0.0,
        1e6,
    )?;
    let thermal = ThermalParams::new(
        pick(s.heat_capacity_j_per_k, |z| z.heat_capacity_j_per_k),
        pick(s.radiator_area_m2, |z| z.radiator_area_m2) * radiator_scale,
        emissivity,
        absorptivity,
        temp_limit_k,
    )
    .and_then(|t| t.with_heater(min_temp_k, heater_max_w))
    .map_err(|e| check.err(&p, e.to_string()))?;
    Ok(NodeConfig {
        accelerator: acc,
        n_accelerators: n_acc,
        array,
        battery,
        bus_power_w,
        thermal,
    })
}

fn link_config(
    check: &Check<'_>,
    n: &file::NetworkFile,
    names: &BTreeMap<String, NodeIdx>,
    n_sats: usize,
) -> Result<LinkConfig> {
    let p = KeyPath::root().key("network");
    let d = LinkConfig::default();
    let pattern = match n.isl.as_deref().unwrap_or("plus-grid") {
        "plus-grid" => IslPattern::PlusGrid {
            shift: n.isl_shift.unwrap_or(0),
        },
        "nearest-k" => IslPattern::NearestK {
            k: n.nearest_k.unwrap_or(4),
        },
        "none" => IslPattern::None,
        other => {
            return Err(check.err(
                &p.key("isl"),
                format!("expected plus-grid, nearest-k or none, found {other:?}"),
            ));
        }
    };
    let strategy = match n.gsl_strategy.as_deref().unwrap_or("highest-elevation") {
        "highest-elevation" => GslStrategy::HighestElevation,
        "keep-until-lost" => GslStrategy::KeepUntilLost,
        other => {
            return Err(check.err(
                &p.key("gsl_strategy"),
                format!("expected highest-elevation or keep-until-lost, found {other:?}"),
            ));
        }
    };
    let fibre = match &n.fibre_links {
        None => FibreConfig::FullMesh,
        Some(pairs) => {
            let mut list = Vec::new();
            for (i, [a, b]) in pairs.iter().enumerate() {
                let node = |name: &String| match names.get(name) {
                    Some(&k) if k as usize >= n_sats => Ok(k),
                    _ => Err(check.err(
                        &p.key("fibre_links").index(i),
                        format!("no ground station or data centre named {name:?}"),
                    )),
                };
                list.push((node(a)?, node(b)?));
            }
            FibreConfig::List(list)
        }
    };
    let gbps = |key: &str, v: Option<f64>, default_bps: f64| -> Result<f64> {
        Ok(check.positive(&p.key(key), v.unwrap_or(default_bps / 1e9))? * 1e9)
    };
    Ok(LinkConfig {
        isl: IslConfig {
            pattern,
            grazing_altitude_km: check.within(
                &p.key("grazing_altitude_km"),
                n.grazing_altitude_km.unwrap_or(d.isl.grazing_altitude_km),
                0.0,
                1_000.0,
            )?,
            max_range_km: check.positive(
                &p.key("max_isl_range_km"),
                n.max_isl_range_km.unwrap_or(d.isl.max_range_km),
            )?,
            max_terminals: n.laser_terminals.unwrap_or(d.isl.max_terminals),
            acquisition_s: check.within(
                &p.key("isl_acquisition_s"),
                n.isl_acquisition_s.unwrap_or(ISL_ACQUISITION_S),
                0.0,
                3_600.0,
            )?,
            full_rate_km: if n.isl_rate_vs_range.unwrap_or(true) {
                Some(check.positive(
                    &p.key("isl_full_rate_km"),
                    n.isl_full_rate_km.unwrap_or(ISL_FULL_RATE_KM),
                )?)
            } else {
                None
            },
            cross_plane_max_lat_deg: n
                .isl_cross_plane_max_lat_deg
                .map(|l| check.within(&p.key("isl_cross_plane_max_lat_deg"), l, 0.0, 90.0))
                .transpose()?,
        },
        gsl: GslConfig {
            min_elevation_deg: check.within(
                &p.key("gsl_min_elevation_deg"),
                n.gsl_min_elevation_deg.unwrap_or(d.gsl.min_elevation_deg),
                -90.0,
                89.9,
            )?,
            max_range_km: n
                .gsl_max_range_km
                .map(|r| check.within(&p.key("gsl_max_range_km"), r, 1.0, 100_000.0))
                .transpose()?,
            antennas: n.antennas,
            strategy,
            handover_s: check.within(
                &p.key("gsl_handover_s"),
                n.gsl_handover_s.unwrap_or(GSL_HANDOVER_S),
                0.0,
                3_600.0,
            )?,
        },
        fibre,
        fibre_delay_factor: check.within(
            &p.key("fibre_delay_factor"),
            n.fibre_delay_factor.unwrap_or(d.fibre_delay_factor),
            1.0,
            10.0,
        )?,
        capacities: Capacities {
            isl_bps: gbps(
                "isl_capacity_gbps",
                n.isl_capacity_gbps,
                d.capacities.isl_bps,
            )?,
            gsl_bps: gbps(
                "gsl_capacity_gbps",
                n.gsl_capacity_gbps,
                d.capacities.gsl_bps,
            )?,
            user_bps: gbps(
                "user_capacity_gbps",
                n.user_capacity_gbps,
                d.capacities.user_bps,
            )?,
            fibre_bps: gbps(
                "fibre_capacity_gbps",
                n.fibre_capacity_gbps,
                d.capacities.fibre_bps,
            )?,
        },
    })
}

/// Earth observation: the imager, the analysis and the targets.
#[derive(Clone, Debug, PartialEq)]
pub struct EoWorkload {
    pub config: EoConfig,
    pub targets: Vec<TargetArea>,
    /// Ground-track sampling step, s.
    pub track_step_s: f64,
}

fn eo_workload(check: &Check<'_>, p: &KeyPath, e: &file::EoFile) -> Result<EoWorkload> {
    let config = EoConfig {
        swath_km: check.within(
            &p.key("swath_km"),
            e.swath_km.unwrap_or(30.0),
            0.01,
            5_000.0,
        )?,
        bytes_per_km2: check
            .positive(&p.key("bytes_per_km2"), e.bytes_per_km2.unwrap_or(0.67e6))?,
        flop_per_byte: check
            .non_negative(&p.key("flop_per_byte"), e.flop_per_byte.unwrap_or(5e4))?,
        result_fraction: check.within(
            &p.key("result_fraction"),
            e.result_fraction.unwrap_or(0.01),
            0.0,
            1.0,
        )?,
        memory_bytes: check.bytes(&p.key("memory_bytes"), e.memory_bytes.unwrap_or(4e9))?,
        tile_bytes: check.bytes(
            &p.key("tile_bytes"),
            check.positive(&p.key("tile_bytes"), e.tile_bytes.unwrap_or(2e9))?,
        )?,
        deadline_s: check.positive(&p.key("deadline_s"), e.deadline_s.unwrap_or(1_800.0))?,
        daylight_only: e.daylight_only.unwrap_or(true),
        efficiency: check.within(
            &p.key("efficiency"),
            e.efficiency
                .unwrap_or(TaskKind::EarthObservation.default_efficiency()),
            MIN_EFFICIENCY,
            1.0,
        )?,
    };
    if config.tile_bytes < 1_000 {
        return Err(check.err(
            &p.key("tile_bytes"),
            format!("must be at least 1000 bytes, found {}", config.tile_bytes),
        ));
    }
    let track_step_s = check.within(
        &p.key("track_step_s"),
        e.track_step_s.unwrap_or(10.0),
        0.1,
        600.0,
    )?;
    if e.targets.is_empty() {
        return Err(check.err(&p.key("targets"), "at least one target area is needed"));
    }
    let mut targets = Vec::new();
    for (i, t) in e.targets.iter().enumerate() {
        let tp = p.key("targets").index(i);
        check.within(&tp.key("lat_min_deg"), t.lat_min_deg, -90.0, 90.0)?;
        check.within(&tp.key("lat_max_deg"), t.lat_max_deg, -90.0, 90.0)?;
        check.within(&tp.key("lon_min_deg"), t.lon_min_deg, -180.0, 180.0)?;
        check.within(&tp.key("lon_max_deg"), t.lon_max_deg, -180.0, 180.0)?;
        if t.lat_max_deg <= t.lat_min_deg {
            return Err(check.err(
                &tp.key("lat_max_deg"),
                format!(
                    "must be above lat_min_deg ({}), found {}",
                    t.lat_min_deg, t.lat_max_deg
                ),
            ));
        }
        targets.push(TargetArea {
            name: t.name.clone(),
            lat_min_deg: t.lat_min_deg,
            lat_max_deg: t.lat_max_deg,
            lon_min_deg: t.lon_min_deg,
            lon_max_deg: t.lon_max_deg,
        });
    }
    Ok(EoWorkload {
        config,
        targets,
        track_step_s,
    })
}

/// Satellite IoT: where the terminals are, how often they send, and the link and buffer
/// figures. The terminals in `areas` and their messages are drawn in [`Scenario::setup`].
#[derive(Clone, Debug, PartialEq)]
pub struct IotWorkload {
    /// Terminals at fixed points (`terminals_csv`).
    pub fixed: Vec<GroundStation>,
    /// Terminals drawn uniformly over the surface of these boxes, in proportion to area.
    pub areas: Vec<TargetArea>,
    pub area_terminals: u32,
    pub messages_per_terminal_h: f64,
    pub min_elevation_deg: f64,
    pub config: IotConfig,
}

/// Most IoT terminals a scenario may have.
pub const MAX_IOT_TERMINALS: u32 = 1_000_000;

/// ASSUMED defaults of `[workloads.iot]`, after public figures of narrowband satellite
/// messaging (docs/iot.md): a 100-byte report (Iridium's Short Burst Data carries up to 340
/// bytes from a device); a 2.4 kbit/s terminal uplink (Iridium's data channel); a 1 Mbit/s
/// satellite-to-gateway downlink; 100,000 messages (10 MB) on board.
pub const IOT_MESSAGE_BYTES: u32 = 100;
pub const IOT_UPLINK_BPS: f64 = 2_400.0;
pub const IOT_DOWNLINK_BPS: f64 = 1e6;
pub const IOT_BUFFER_MESSAGES: u32 = 100_000;

fn target_areas(
    check: &Check<'_>,
    p: &KeyPath,
    areas: &[file::TargetFile],
) -> Result<Vec<TargetArea>> {
    let mut targets = Vec::new();
    for (i, t) in areas.iter().enumerate() {
        let tp = p.index(i);
        check.within(&tp.key("lat_min_deg"), t.lat_min_deg, -90.0, 90.0)?;
        check.within(&tp.key("lat_max_deg"), t.lat_max_deg, -90.0, 90.0)?;
        check.within(&tp.key("lon_min_deg"), t.lon_min_deg, -180.0, 180.0)?;
        check.within(&tp.key("lon_max_deg"), t.lon_max_deg, -180.0, 180.0)?;
        if t.lat_max_deg <= t.lat_min_deg {
            return Err(check.err(
                &tp.key("lat_max_deg"),
                format!(
                    "must be above lat_min_deg ({}), found {}",
                    t.lat_min_deg, t.lat_max_deg
                ),
            ));
        }
        targets.push(TargetArea {
            name: t.name.clone(),
            lat_min_deg: t.lat_min_deg,
            lat_max_deg: t.lat_max_deg,
            lon_min_deg: t.lon_min_deg,
            lon_max_deg: t.lon_max_deg,
        });
    }
    Ok(targets)
}

fn iot_workload(
    check: &Check<'_>,
    p: &KeyPath,
    f: &file::IotFile,
    base_dir: &Path,
    hash: &mut u64,
) -> Result<IotWorkload> {
    let fixed = match &f.terminals_csv {
        None => Vec::new(),
        Some(name) => {
            let cp = p.key("terminals_csv");
            let (full, text) = read_referenced(check, base_dir, &cp, name, hash)?;
            crate::csv_in::parse_stations_csv(&text, &full.display().to_string())?
        }
    };
    let areas = target_areas(check, &p.key("areas"), &f.areas)?;
    let area_terminals = match (f.terminals, areas.is_empty()) {
        (Some(n), false) => n,
        (Some(_), true) => {
            return Err(check.err(
                &p.key("terminals"),
                "places terminals in `[[workloads.iot.areas]]`, and there is none",
            ));
        }
        (None, false) => {
            return Err(check.err(
                &p.key("terminals"),
                "is needed with `[[workloads.iot.areas]]`: how many terminals they hold",
            ));
        }
        (None, true) => 0,
    };
    let total = fixed.len() as u64 + u64::from(area_terminals);
    if total == 0 {
        return Err(check.err(
            p,
            "has no terminals: give `terminals` with `[[workloads.iot.areas]]`, or `terminals_csv`",
        ));
    }
    if total > u64::from(MAX_IOT_TERMINALS) {
        return Err(check.err(
            &p.key("terminals"),
            format!("{total} terminals: at most {MAX_IOT_TERMINALS}"),
        ));
    }
    let messages_per_terminal_h = check.within(
        &p.key("messages_per_terminal_h"),
        f.messages_per_terminal_h.unwrap_or(1.0),
        0.0,
        3_600.0,
    )?;
    let message_bytes = f.message_bytes.unwrap_or(IOT_MESSAGE_BYTES);
    if message_bytes == 0 || message_bytes > 1_000_000 {
        return Err(check.err(
            &p.key("message_bytes"),
            format!("must be 1 to 1000000 bytes, found {message_bytes}"),
        ));
    }
    let uplink_bps = check.within(
        &p.key("uplink_bps"),
        f.uplink_bps.unwrap_or(IOT_UPLINK_BPS),
        1.0,
        1e12,
    )?;
    let downlink_bps = check.within(
        &p.key("downlink_bps"),
        f.downlink_bps.unwrap_or(IOT_DOWNLINK_BPS),
        1.0,
        1e12,
    )?;
    let buffer_messages = f.buffer_messages.unwrap_or(IOT_BUFFER_MESSAGES);
    let min_elevation_deg = check.within(
        &p.key("min_elevation_deg"),
        f.min_elevation_deg.unwrap_or(10.0),
        0.0,
        89.9,
    )?;
    Ok(IotWorkload {
        fixed,
        areas,
        area_terminals,
        messages_per_terminal_h,
        min_elevation_deg,
        config: IotConfig {
            message_bytes,
            uplink_bps,
            downlink_bps,
            buffer_messages,
        },
    })
}

/// Poisson request traffic: the per-request figures and each origin with its rate.
#[derive(Clone, Debug, PartialEq)]
pub struct PoissonWorkload {
    /// `rate_per_s` here is unused: each origin has its own.
    pub config: PoissonConfig,
    /// (origin node, arrivals per second).
    pub origins: Vec<(NodeIdx, f64)>,
}

struct PoissonDefaults {
    rate_per_s: f64,
    input_bytes_median: f64,
    work_flop_median: f64,
    spread_sigma: f64,
    output_bytes: f64,
    memory_bytes: f64,
    deadline_s: f64,
    efficiency: f64,
}

/// Blind-zone requests: a small model's answer to a ship or desert terminal (a few MB in,
/// 2 TFLOP of inference, 50 kB back within 10 s).
const BLIND_ZONE_DEFAULTS: PoissonDefaults = PoissonDefaults {
    rate_per_s: 0.1,
    input_bytes_median: 1e6,
    work_flop_median: 2e12,
    spread_sigma: 0.5,
    output_bytes: 5e4,
    memory_bytes: 8e9,
    deadline_s: 10.0,
    efficiency: TaskKind::BlindZone.default_efficiency(),
};

/// Ground AI jobs: inference batches at a data centre (4 MB in, 50 TFLOP, 100 kB out, 60 s).
const GROUND_AI_DEFAULTS: PoissonDefaults = PoissonDefaults {
    rate_per_s: 0.2,
    input_bytes_median: 4e6,
    work_flop_median: 5e13,
    spread_sigma: 0.7,
    output_bytes: 1e5,
    memory_bytes: 16e9,
    deadline_s: 60.0,
    efficiency: TaskKind::GroundAi.default_efficiency(),
};

fn poisson_workload(
    check: &Check<'_>,
    p: &KeyPath,
    w: &file::PoissonFile,
    names: &BTreeMap<String, NodeIdx>,
    allowed: &[(NodeIdx, Option<f64>)],
    what: &str,
    d: &PoissonDefaults,
) -> Result<PoissonWorkload> {
    let config = PoissonConfig {
        rate_per_s: check
            .non_negative(&p.key("rate_per_s"), w.rate_per_s.unwrap_or(d.rate_per_s))?,
        input_bytes_median: check.positive(
            &p.key("input_bytes_median"),
            w.input_bytes_median.unwrap_or(d.input_bytes_median),
        )?,
        work_flop_median: check.non_negative(
            &p.key("work_flop_median"),
            w.work_flop_median.unwrap_or(d.work_flop_median),
        )?,
        spread_sigma: check.within(
            &p.key("spread_sigma"),
            w.spread_sigma.unwrap_or(d.spread_sigma),
            0.0,
            5.0,
        )?,
        output_bytes: check
            .bytes(
                &p.key("output_bytes"),
                w.output_bytes.unwrap_or(d.output_bytes),
            )?
            .max(1),
        memory_bytes: check.bytes(
            &p.key("memory_bytes"),
            w.memory_bytes.unwrap_or(d.memory_bytes),
        )?,
        deadline_s: check.positive(&p.key("deadline_s"), w.deadline_s.unwrap_or(d.deadline_s))?,
        efficiency: check.within(
            &p.key("efficiency"),
            w.efficiency.unwrap_or(d.efficiency),
            MIN_EFFICIENCY,
            1.0,
        )?,
    };
    let resolve = |path: &KeyPath, name: &str| match names.get(name) {
        Some(k) if allowed.iter().any(|(a, _)| a == k) => Ok(*k),
        _ => Err(check.err(path, format!("no {what} named {name:?}"))),
    };
    let mut origins: Vec<NodeIdx> = match &w.origins {
        None => allowed.iter().map(|(a, _)| *a).collect(),
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, n)| resolve(&p.key("origins").index(i), n))
            .collect::<Result<_>>()?,
    };
    origins.sort_unstable();
    origins.dedup();
    if origins.is_empty() {
        return Err(check.err(
            &p.key("origins"),
            format!("no origins: define at least one {what}"),
        ));
    }
    // Each origin's rate: its terminal group's share, else `rate_per_s`; then overrides.
    let mut rates: BTreeMap<NodeIdx, f64> = origins
        .iter()
        .map(|&o| {
            let group = allowed.iter().find(|(a, _)| *a == o).and_then(|(_, r)| *r);
            (o, group.unwrap_or(config.rate_per_s))
        })
        .collect();
    if let Some(by) = &w.rate_per_s_by_origin {
        for (name, &rate) in by {
            let rp = p.key("rate_per_s_by_origin").key(name);
            let node = resolve(&rp, name)?;
            let rate = check.non_negative(&rp, rate)?;
            match rates.get_mut(&node) {
                Some(r) => *r = rate,
                None => return Err(check.err(&rp, format!("{name:?} is not one of the origins"))),
            }
        }
    }
    // A bound on the generated volume: ten million requests per origin-day is far beyond
    // any scenario this simulator is for.
    if let Some((_, r)) = rates.iter().find(|(_, r)| **r > 100.0) {
        return Err(check.err(
            &p.key("rate_per_s"),
            format!("must be at most 100 per second, found {r}"),
        ));
    }
    Ok(PoissonWorkload {
        config,
        origins: origins.iter().map(|o| (*o, rates[o])).collect(),
    })
}
