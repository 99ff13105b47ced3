//! `summary.json`: the run's identity (version, scenario hash, seed, window) and one entry
//! per policy with every figure of [`tiandi_sim::model::Summary`], per task kind too, and
//! where each kind was computed (in orbit or on the ground), which explains the bytes.
//!
//! [`SummaryFile`] is the file: [`summary_json`] writes it and [`read_summary`] reads it
//! back. The reader accepts files of earlier versions, which lack some figures (options:
//! a missing one reads as `None`), and ignores fields it does not know.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tiandi_orbit::Epoch;
use tiandi_sim::model::{KindSummary, Summary};
use tiandi_workload::TaskKind;

use crate::PolicyRun;
use crate::read::{ReadError, bad, io_err};

pub const FILE: &str = "summary.json";

/// What identifies a run, written beside the figures.
#[derive(Clone, Debug, PartialEq)]
pub struct RunMeta {
    pub tiandi_version: String,
    /// Scenario name and where it came from (a path or `built-in`).
    pub scenario: String,
    pub scenario_source: String,
    pub scenario_hash: u64,
    pub seed: u64,
    pub start: Epoch,
    pub end: Epoch,
    pub step_ns: i64,
    pub n_satellites: u32,
    pub n_ground_stations: u32,
    pub n_data_centres: u32,
    pub n_user_regions: u32,
}

impl RunMeta {
    /// `fnv1a64:` and 16 hex digits.
    pub fn hash_text(&self) -> String {
        format!("fnv1a64:{:016x}", self.scenario_hash)
    }

    /// Start of step `step`.
    pub fn step_start(&self, step: u32) -> Epoch {
        self.start.add_ns(i64::from(step) * self.step_ns)
    }
}

/// `summary.json`. Figures that have no value (a percentile of no completed task) are
/// `null`, read as `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryFile {
    pub tiandi_version: Option<String>,
    pub scenario: Option<String>,
    pub scenario_source: Option<String>,
    pub scenario_hash: Option<String>,
    pub seed: Option<u64>,
    pub start_utc: String,
    pub end_utc: String,
    pub step_s: f64,
    pub n_satellites: Option<u32>,
    pub n_ground_stations: Option<u32>,
    pub n_data_centres: Option<u32>,
    pub n_user_regions: Option<u32>,
    pub policies: Vec<PolicyFigures>,
    /// The IoT workload's figures, when the scenario has one (the same under every policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iot: Option<crate::iot::IotFigures>,
}

/// One policy's entry of `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyFigures {
    pub policy: String,
    pub tiandi_version: Option<String>,
    pub scenario_hash: Option<String>,
    pub seed: Option<u64>,
    pub tasks_total: u64,
    pub completed: u64,
    pub failed: u64,
    pub dropped: u64,
    pub deadline_met_ratio: Option<f64>,
    pub latency_p50_s: Option<f64>,
    pub latency_p95_s: Option<f64>,
    pub latency_p99_s: Option<f64>,
    pub downlink_bytes: u64,
    pub isl_bytes: u64,
    pub energy_used_wh: Option<f64>,
    pub energy_curtailed_wh: Option<f64>,
    pub throttled_s: Option<f64>,
    /// Satellite-seconds with the payload held below its demand by power.
    #[serde(default)]
    pub power_limited_s: Option<f64>,
    /// Where the satellites' energy went.
    #[serde(default)]
    pub energy: Option<EnergyFigures>,
    pub faults_injected: Option<u64>,
    /// Faults that struck a device while it ran a stage.
    #[serde(default)]
    pub faults_hit_stages: Option<u64>,
    /// Stages restarted after a fault (`faults_hit_stages` less the tasks it failed).
    pub faults_recovered: Option<u64>,
    /// Useful work thrown away by faults and power cuts, FLOP.
    #[serde(default)]
    pub work_lost_flop: Option<f64>,
    /// Stages stopped by a power cut and queued again.
    #[serde(default)]
    pub stages_preempted: Option<u64>,
    /// Waiting stages a global policy moved to another node.
    #[serde(default)]
    pub stages_reassigned: Option<u64>,
    /// Link-seconds new ISLs spent acquiring before they carried data.
    #[serde(default)]
    pub isl_acquiring_s: Option<f64>,
    /// Link-seconds new ground links spent in handover.
    #[serde(default)]
    pub gsl_handover_s: Option<f64>,
    /// Seconds transfers waited for a link still acquiring or in handover.
    #[serde(default)]
    pub link_wait_s: Option<f64>,
    /// Devices retired by total ionizing dose at the end of the run.
    #[serde(default)]
    pub devices_retired: Option<u64>,
    #[serde(default)]
    pub by_kind: Vec<KindFigures>,
}

/// The satellites' energy over the run, Wh. `harvested = compute + idle + bus + heater +
/// loss + curtailed + stored_change`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergyFigures {
    pub harvested_wh: f64,
    pub compute_wh: f64,
    pub idle_wh: f64,
    pub bus_wh: f64,
    pub heater_wh: f64,
    pub loss_wh: f64,
    pub curtailed_wh: f64,
    pub stored_change_wh: f64,
    /// The data centres' draw for their slots, busy and idle, at their PUE.
    #[serde(default)]
    pub ground_wh: Option<f64>,
    /// Satellites' use (compute, idle, bus, heater) plus the ground's.
    #[serde(default)]
    pub total_wh: Option<f64>,
}

/// One task kind's entry of a policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindFigures {
    pub kind: String,
    pub total: u64,
    pub completed: u64,
    pub deadline_met_ratio: Option<f64>,
    pub latency_p50_s: Option<f64>,
    pub latency_p95_s: Option<f64>,
    pub downlink_bytes: Option<u64>,
    pub isl_bytes: Option<u64>,
    /// Tasks whose first stage ran on a satellite / on the ground (data centre).
    pub computed_in_orbit: Option<u64>,
    pub computed_on_ground: Option<u64>,
}

/// A figure that has a value: not NaN (a percentile of nothing) nor infinite. JSON has no
/// such numbers; `null` stands for them.
fn value(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl KindFigures {
    fn of(k: &KindSummary, run: &PolicyRun<'_>, n_satellites: u32) -> KindFigures {
        let of_kind = || run.result.tasks.iter().filter(|t| t.kind == k.kind);
        let first_on = |in_orbit: bool| {
            of_kind()
                .filter(|t| {
                    t.placement
                        .first()
                        .is_some_and(|&n| (n < n_satellites) == in_orbit)
                })
                .count() as u64
        };
        KindFigures {
            kind: k.kind.as_str().to_string(),
            total: k.total,
            completed: k.completed,
            deadline_met_ratio: value(k.deadline_met_ratio),
            latency_p50_s: value(k.latency_p50_s),
            latency_p95_s: value(k.latency_p95_s),
            downlink_bytes: Some(k.downlink_bytes),
            isl_bytes: Some(of_kind().map(|t| t.isl_bytes).sum()),
            computed_in_orbit: Some(first_on(true)),
            computed_on_ground: Some(first_on(false)),
        }
    }
}

impl PolicyFigures {
    fn of(meta: &RunMeta, run: &PolicyRun<'_>) -> PolicyFigures {
        let s: &Summary = &run.result.summary;
        PolicyFigures {
            policy: run.policy.to_string(),
            tiandi_version: Some(meta.tiandi_version.clone()),
            scenario_hash: Some(meta.hash_text()),
            seed: Some(s.seed),
            tasks_total: s.tasks_total,
            completed: s.completed,
            failed: s.failed,
            dropped: s.dropped,
            deadline_met_ratio: value(s.deadline_met_ratio),
            latency_p50_s: value(s.latency_p50_s),
            latency_p95_s: value(s.latency_p95_s),
            latency_p99_s: value(s.latency_p99_s),
            downlink_bytes: s.downlink_bytes,
            isl_bytes: s.isl_bytes,
            energy_used_wh: value(s.energy_used_wh),
            energy_curtailed_wh: value(s.energy_curtailed_wh),
            throttled_s: value(s.throttled_s),
            power_limited_s: value(s.physics.power_limited_s),
            energy: Some(EnergyFigures {
                harvested_wh: s.physics.energy.harvested_wh,
                compute_wh: s.physics.energy.compute_wh,
                idle_wh: s.physics.energy.idle_wh,
                bus_wh: s.physics.energy.bus_wh,
                heater_wh: s.physics.energy.heater_wh,
                loss_wh: s.physics.energy.loss_wh,
                curtailed_wh: s.physics.energy.curtailed_wh,
                stored_change_wh: s.physics.energy.stored_change_wh,
                ground_wh: value(s.physics.ground_energy_wh),
                total_wh: value(s.energy_used_wh + s.physics.ground_energy_wh),
            }),
            faults_injected: Some(s.faults_injected),
            faults_hit_stages: Some(s.faults_hit_stages),
            faults_recovered: Some(s.faults_recovered),
            work_lost_flop: value(s.physics.work_lost_flop),
            stages_preempted: Some(s.physics.stages_preempted),
            stages_reassigned: Some(s.physics.stages_reassigned),
            isl_acquiring_s: value(s.physics.isl_acquiring_s),
            gsl_handover_s: value(s.physics.gsl_handover_s),
            link_wait_s: value(s.physics.link_wait_s),
            devices_retired: Some(s.physics.devices_retired),
            by_kind: s
                .by_kind
                .iter()
                .map(|k| KindFigures::of(k, run, meta.n_satellites))
                .collect(),
        }
    }
}

impl SummaryFile {
    /// The file of these runs.
    pub fn of(meta: &RunMeta, runs: &[PolicyRun<'_>]) -> SummaryFile {
        SummaryFile {
            tiandi_version: Some(meta.tiandi_version.clone()),
            scenario: Some(meta.scenario.clone()),
            scenario_source: Some(meta.scenario_source.clone()),
            scenario_hash: Some(meta.hash_text()),
            seed: Some(meta.seed),
            start_utc: meta.start.to_string(),
            end_utc: meta.end.to_string(),
            step_s: meta.step_ns as f64 / 1e9,
            n_satellites: Some(meta.n_satellites),
            n_ground_stations: Some(meta.n_ground_stations),
            n_data_centres: Some(meta.n_data_centres),
            n_user_regions: Some(meta.n_user_regions),
            policies: runs.iter().map(|r| PolicyFigures::of(meta, r)).collect(),
            iot: None,
        }
    }
}

/// The text of `summary.json` (pretty-printed, ending in a newline). Figures that have no
/// value (a percentile of no completed task) are `null`.
pub fn summary_json(meta: &RunMeta, runs: &[PolicyRun<'_>]) -> String {
    summary_json_with(meta, runs, None)
}

/// [`summary_json`] with the run's IoT figures.
pub fn summary_json_with(
    meta: &RunMeta,
    runs: &[PolicyRun<'_>],
    iot: Option<&crate::iot::IotFigures>,
) -> String {
    let mut file = SummaryFile::of(meta, runs);
    file.iot = iot.cloned();
    let mut s = serde_json::to_string_pretty(&file).expect("plain data serialises");
    s.push('\n');
    s
}

/// `summary.json` as read back, with its window parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRead {
    pub file: SummaryFile,
    pub start: Epoch,
    pub end: Epoch,
}

/// Reads and checks `path`: at least one policy, a positive step, a window in ISO-8601 UTC.
pub fn read_summary(path: &Path) -> Result<SummaryRead, ReadError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let file: SummaryFile = serde_json::from_str(&text).map_err(|e| {
        bad(
            path,
            format!("line {}, column {}: {e}", e.line(), e.column()),
        )
    })?;
    if file.policies.is_empty() {
        return Err(bad(path, "no policies"));
    }
    if !(file.step_s.is_finite() && file.step_s > 0.0) {
        return Err(bad(
            path,
            format!(
                "step_s {}: expected a positive number of seconds",
                file.step_s
            ),
        ));
    }
    let start =
        Epoch::parse_iso(&file.start_utc).map_err(|e| bad(path, format!("start_utc: {e}")))?;
    let end = Epoch::parse_iso(&file.end_utc).map_err(|e| bad(path, format!("end_utc: {e}")))?;
    Ok(SummaryRead { file, start, end })
}

/// The figures of one kind, if the run had tasks of it.
pub fn kind_summary(summary: &Summary, kind: TaskKind) -> Option<&KindSummary> {
    summary.by_kind.iter().find(|k| k.kind == kind)
}
