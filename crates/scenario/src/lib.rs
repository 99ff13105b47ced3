//! Scenarios: the TOML scenario format, the built-in default scenario, and the default
//! constellation and ground segment used by `tiandi contacts`.
//!
//! The default is a compute constellation in the spirit of the first space-computing
//! shells (China's "Three-Body" computing constellation, Starcloud): a Walker delta at
//! 550 km serving China's ground stations, whose positions are public (CNSA/CLTC TT&C and
//! data-receiving sites; coordinates rounded to 0.01 deg).
//!
//! An edge crate: it reads the scenario file and the files it names, validates everything
//! (errors carry file, line and key, see [`ScenarioError`]) and turns it into the
//! simulator's [`SimSetup`], generating the workload with the seeded generators of
//! `tiandi_workload`. docs/scenario.md describes every key.

pub mod convert;
pub mod csv_in;
pub mod error;
pub mod file;
pub mod generate;

use std::collections::BTreeMap;
use std::path::Path;

use tiandi_network::NetworkSpec;
use tiandi_node::NodeConfig;
use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, GroundStation, PropagationError, Satellite};
use tiandi_twin::{FaultSetup, PayloadPower, SimSetup};
use tiandi_workload::{NodeIdx, Task};

pub use convert::{EoWorkload, IotWorkload, PoissonWorkload, check_policy, parse_scenario};
pub use error::{ScenarioError, SettingError};

/// Epoch of the default constellation's elements and default start of every window:
/// 2026-11-24T00:00:00Z.
pub const DEFAULT_EPOCH: Epoch = Epoch::from_unix_ns(1_795_478_400 * tiandi_orbit::time::NS_PER_S);

/// The built-in default scenario (`tiandi simulate` with no file;
/// `tiandi scenario show default` prints it).
pub const DEFAULT_SCENARIO_TOML: &str = include_str!("../scenarios/default.toml");

/// Names of the built-in scenarios, for `tiandi scenario show NAME`.
pub const BUILT_IN: [&str; 2] = ["default", "light"];

/// The text of a built-in scenario.
pub fn built_in(name: &str) -> Option<&'static str> {
    match name {
        "default" => Some(DEFAULT_SCENARIO_TOML),
        "light" => Some(light_scenario_toml()),
        _ => None,
    }
}

/// The lines of the default scenario that the `light` variant changes, and what it puts
/// there: one hour, a tenth of the Earth-observation volume and of every arrival rate.
/// Everything else (constellation, ground segment, physics) is the default's.
const LIGHT_CHANGES: [(&str, &str); 11] = [
    ("name = \"default\"", "name = \"light\""),
    (
        "description = \"Space-ground computing over China: 240 satellites, 9 stations, 8 hubs, 6 h\"",
        "description = \"The default scenario, light: 1 h, a tenth of its workload (smoke tests and CI)\"",
    ),
    ("horizon_h = 6.0 ", "horizon_h = 1.0 "),
    ("bytes_per_km2 = 6.0e6", "bytes_per_km2 = 0.6e6"),
    (
        "requests_per_s = 0.1\n\n[[user_terminals]]\nname = \"Indian",
        "requests_per_s = 0.01\n\n[[user_terminals]]\nname = \"Indian",
    ),
    (
        "requests_per_s = 0.1\n\n[[user_terminals]]\nname = \"Takla",
        "requests_per_s = 0.01\n\n[[user_terminals]]\nname = \"Takla",
    ),
    ("requests_per_s = 0.05", "requests_per_s = 0.005"),
    ("rate_per_s = 0.2 ", "rate_per_s = 0.02"),
    ("\"Zhangjiakou\" = 0.5", "\"Zhangjiakou\" = 0.05"),
    ("\"Wuhu\" = 0.5", "\"Wuhu\" = 0.05"),
    ("\"Shaoguan\" = 0.5", "\"Shaoguan\" = 0.05"),
];

/// The `light` built-in: the default scenario with [`LIGHT_CHANGES`] applied.
pub fn light_scenario_toml() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = DEFAULT_SCENARIO_TOML.to_string();
        for (old, new) in LIGHT_CHANGES {
            debug_assert_eq!(text.matches(old).count(), 1, "{old:?}");
            text = text.replacen(old, new, 1);
        }
        text
    })
}

/// The default compute constellation: Walker delta 53 deg: 192/16/1 at 550 km.
pub fn default_walker() -> WalkerDesign {
    WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: 16,
        sats_per_plane: 12,
        phasing: 1,
        altitude_km: 550.0,
        inclination_deg: 53.0,
        epoch: DEFAULT_EPOCH,
        raan_offset_deg: 0.0,
        first_norad_id: 90_000,
        name_prefix: "TD".into(),
    }
}

/// Satellites of the default constellation, ready to propagate.
pub fn default_constellation() -> Result<Vec<Satellite>, PropagationError> {
    let elements = default_walker()
        .elements()
        .expect("the built-in design is valid");
    elements.into_iter().map(Satellite::new).collect()
}

/// Ground stations of the default scenario: (name, latitude deg, longitude deg, elevation m).
pub const DEFAULT_STATIONS: [(&str, f64, f64, f64); 6] = [
    ("Beijing-Miyun", 40.45, 116.85, 100.0),
    ("Kashgar", 39.50, 76.00, 1_300.0),
    ("Sanya", 18.31, 109.31, 20.0),
    ("Jiamusi", 46.80, 130.32, 80.0),
    ("Kunming", 25.03, 102.80, 1_900.0),
    ("Xian", 34.26, 108.94, 400.0),
];

pub fn default_stations() -> Result<Vec<GroundStation>, tiandi_orbit::StationError> {
    DEFAULT_STATIONS
        .iter()
        .map(|(n, lat, lon, alt)| GroundStation::new(*n, *lat, *lon, *alt))
        .collect()
}

/// Sets `value` at the dotted path `parts` under `table`, creating tables on the way; a
/// path through an array of tables (`user_terminals.coverage`) sets it in every element.
fn set_path(table: &mut toml::Table, parts: &[&str], value: &toml::Value) -> Result<(), String> {
    let (first, rest) = parts.split_first().expect("a path has a key");
    if rest.is_empty() {
        table.insert((*first).to_string(), value.clone());
        return Ok(());
    }
    let next = table
        .entry(*first)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match next {
        toml::Value::Table(t) => set_path(t, rest, value),
        toml::Value::Array(items) if items.iter().all(toml::Value::is_table) => {
            for item in items.iter_mut() {
                let t = item.as_table_mut().expect("checked: every item is a table");
                set_path(t, rest, value)?;
            }
            Ok(())
        }
        _ => Err(format!(
            "{first:?} is not a table: it cannot hold {:?}",
            rest.join(".")
        )),
    }
}

/// A validated scenario: everything a run needs except the generated workload, which
/// [`Scenario::setup`] draws (so a seed or horizon override changes it consistently).
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The scenario's `name`, or its file name.
    pub name: String,
    /// The file as named by the user (`default` for the built-in one).
    pub source: String,
    /// FNV-1a 64 of the scenario text and of every file it refers to.
    pub hash: u64,
    pub start: Epoch,
    pub horizon_h: f64,
    pub step_ns: i64,
    pub seed: u64,
    /// The policy named in `[run]`.
    pub policy: String,
    pub satellites: Vec<Satellite>,
    /// One design for every satellite.
    pub node: NodeConfig,
    pub network: NetworkSpec,
    pub slot_flops: f64,
    pub slot_memory_bytes: u64,
    /// `[ground_compute]`'s slot power and PUE.
    pub ground_power: tiandi_twin::GroundPower,
    pub faults: FaultSetup,
    /// `[physics]`: accelerator power gating and energy metering.
    pub payload_power: PayloadPower,
    pub eo: Option<EoWorkload>,
    pub blind_zone: Option<PoissonWorkload>,
    pub ground_ai: Option<PoissonWorkload>,
    /// Tasks from the trace file (ids as in the file; renumbered in the setup).
    pub trace: Vec<Task>,
    /// `[workloads.iot]`: store-and-forward messaging over the same satellites and stations.
    pub iot: Option<IotWorkload>,
    /// Every node by name: satellite labels, stations, data centres, user regions.
    pub node_names: BTreeMap<String, NodeIdx>,
}

impl Scenario {
    /// Reads a scenario file and the files it refers to (relative to its directory).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: shown.clone(),
            line: None,
            key: String::new(),
            message: format!("cannot read the scenario: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        parse_scenario(&text, &shown, base)
    }

    /// Scenario text with `key = value` settings applied (`--set`), as TOML text to parse.
    /// Keys are dotted paths into the file's tables (`physics.energy_metering`,
    /// `workloads.earth_observation.efficiency`); a value is TOML (`false`, `0.5`,
    /// `"gaas"`), or a bare word taken as a string. Comments do not survive.
    pub fn apply_settings(
        text: &str,
        file_name: &str,
        settings: &[(String, String)],
    ) -> Result<String, ScenarioError> {
        let err = |key: &str, message: String| ScenarioError {
            file: file_name.to_string(),
            line: None,
            key: key.to_string(),
            message,
        };
        if settings.is_empty() {
            return Ok(text.to_string());
        }
        let mut root: toml::Table = toml::from_str(text)
            .map_err(|e| err("", format!("is not valid TOML: {}", e.message())))?;
        for (key, value) in settings {
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.clone()));
            let parts: Vec<&str> = key.split('.').collect();
            if parts.iter().any(|p| p.is_empty()) {
                return Err(err(
                    key,
                    "a setting needs a key: `--set section.key=value`".into(),
                ));
            }
            set_path(&mut root, &parts, &parsed).map_err(|m| err(key, m))?;
        }
        toml::to_string(&root).map_err(|e| err("", format!("cannot be written back: {e}")))
    }

    /// A built-in scenario by name.
    pub fn built_in(name: &str) -> Option<Result<Scenario, ScenarioError>> {
        built_in(name).map(|text| parse_scenario(text, name, Path::new(".")))
    }

    /// End of the run.
    pub fn end(&self) -> Epoch {
        self.start.add_ns((self.horizon_h * 3_600e9).round() as i64)
    }

    /// Overrides the horizon (the command line's `--horizon-h`).
    pub fn set_horizon_h(&mut self, horizon_h: f64) -> Result<(), SettingError> {
        if !(horizon_h.is_finite() && horizon_h > 0.0 && horizon_h <= convert::MAX_HORIZON_H) {
            return Err(SettingError::Horizon {
                horizon_h,
                max_h: convert::MAX_HORIZON_H,
            });
        }
        self.horizon_h = horizon_h;
        Ok(())
    }

    /// Names of the nodes in network order.
    pub fn node_labels(&self) -> Vec<String> {
        let n = self.satellites.len()
            + self.network.stations.len()
            + self.network.data_centres.len()
            + self.network.user_terminals.len();
        let mut labels: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        for (name, &idx) in &self.node_names {
            labels[idx as usize] = name.clone();
        }
        labels
    }

    /// The scenario's world without its workload: what a twin is built from (the live
    /// service's, which takes its tasks over HTTP).
    pub fn world(&self) -> SimSetup {
        SimSetup {
            start: self.start,
            end: self.end(),
            step_ns: self.step_ns,
            seed: self.seed,
            satellites: self.satellites.clone(),
            network: self.network.clone(),
            satellite_nodes: vec![self.node.clone(); self.satellites.len()],
            data_centre_slot_flops: self.slot_flops,
            data_centre_slot_memory_bytes: self.slot_memory_bytes,
            data_centre_power: self.ground_power,
            faults: self.faults.clone(),
            payload_power: self.payload_power.clone(),
            tasks: Vec::new(),
            iot: None,
        }
    }

    /// The simulator's input: the scenario with its workload generated for this seed and
    /// horizon. Earth-observation tasks come from each satellite's ground track (SGP4 on
    /// the track step, in parallel).
    pub fn setup(&self) -> Result<SimSetup, ScenarioError> {
        let mut setup = self.world();
        setup.tasks = generate::tasks(self, setup.end)?;
        setup.iot = self
            .iot
            .as_ref()
            .map(|w| generate::iot(self, w, setup.end))
            .transpose()?;
        Ok(setup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_epoch_is_the_documented_date() {
        assert_eq!(
            DEFAULT_EPOCH,
            Epoch::parse_iso("2026-11-24T00:00:00Z").unwrap()
        );
    }

    #[test]
    fn defaults_build() {
        assert_eq!(default_constellation().unwrap().len(), 192);
        assert_eq!(default_stations().unwrap().len(), 6);
    }
}
