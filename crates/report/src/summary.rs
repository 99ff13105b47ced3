//! `summary.json`: the run's identity (version, scenario hash, seed, window) and one entry
//! per policy with every figure of [`tiandi_sim::model::Summary`], per task kind too, and
//! where each kind was computed (in orbit or on the ground), which explains the bytes.

use serde::Serialize;
use tiandi_orbit::Epoch;
use tiandi_sim::model::{KindSummary, Summary};
use tiandi_workload::TaskKind;

use crate::PolicyRun;

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

#[derive(Serialize)]
struct File<'a> {
    tiandi_version: &'a str,
    scenario: &'a str,
    scenario_source: &'a str,
    scenario_hash: String,
    seed: u64,
    start_utc: String,
    end_utc: String,
    step_s: f64,
    n_satellites: u32,
    n_ground_stations: u32,
    n_data_centres: u32,
    n_user_regions: u32,
    policies: Vec<PolicyOut<'a>>,
}

#[derive(Serialize)]
struct PolicyOut<'a> {
    policy: &'a str,
    tiandi_version: &'a str,
    scenario_hash: String,
    seed: u64,
    tasks_total: u64,
    completed: u64,
    failed: u64,
    dropped: u64,
    deadline_met_ratio: f64,
    latency_p50_s: f64,
    latency_p95_s: f64,
    latency_p99_s: f64,
    downlink_bytes: u64,
    isl_bytes: u64,
    energy_used_wh: f64,
    energy_curtailed_wh: f64,
    throttled_s: f64,
    faults_injected: u64,
    faults_recovered: u64,
    by_kind: Vec<KindOut>,
}

#[derive(Serialize)]
struct KindOut {
    kind: &'static str,
    total: u64,
    completed: u64,
    deadline_met_ratio: f64,
    latency_p50_s: f64,
    latency_p95_s: f64,
    downlink_bytes: u64,
    isl_bytes: u64,
    /// Tasks whose first stage ran on a satellite / on the ground (data centre).
    computed_in_orbit: u64,
    computed_on_ground: u64,
}

fn kind_out(k: &KindSummary, run: &PolicyRun<'_>, n_satellites: u32) -> KindOut {
    let of_kind = || run.result.tasks.iter().filter(|t| t.kind == k.kind);
    KindOut {
        kind: k.kind.as_str(),
        total: k.total,
        completed: k.completed,
        deadline_met_ratio: k.deadline_met_ratio,
        latency_p50_s: k.latency_p50_s,
        latency_p95_s: k.latency_p95_s,
        downlink_bytes: k.downlink_bytes,
        isl_bytes: of_kind().map(|t| t.isl_bytes).sum(),
        computed_in_orbit: of_kind()
            .filter(|t| t.placement.first().is_some_and(|&n| n < n_satellites))
            .count() as u64,
        computed_on_ground: of_kind()
            .filter(|t| t.placement.first().is_some_and(|&n| n >= n_satellites))
            .count() as u64,
    }
}

fn policy_out<'a>(meta: &'a RunMeta, run: &'a PolicyRun<'a>) -> PolicyOut<'a> {
    let s: &Summary = &run.result.summary;
    PolicyOut {
        policy: run.policy,
        tiandi_version: &meta.tiandi_version,
        scenario_hash: meta.hash_text(),
        seed: s.seed,
        tasks_total: s.tasks_total,
        completed: s.completed,
        failed: s.failed,
        dropped: s.dropped,
        deadline_met_ratio: s.deadline_met_ratio,
        latency_p50_s: s.latency_p50_s,
        latency_p95_s: s.latency_p95_s,
        latency_p99_s: s.latency_p99_s,
        downlink_bytes: s.downlink_bytes,
        isl_bytes: s.isl_bytes,
        energy_used_wh: s.energy_used_wh,
        energy_curtailed_wh: s.energy_curtailed_wh,
        throttled_s: s.throttled_s,
        faults_injected: s.faults_injected,
        faults_recovered: s.faults_recovered,
        by_kind: s
            .by_kind
            .iter()
            .map(|k| kind_out(k, run, meta.n_satellites))
            .collect(),
    }
}

/// The text of `summary.json` (pretty-printed, ending in a newline). Figures that have no
/// value (a percentile of no completed task) are `null`.
pub fn summary_json(meta: &RunMeta, runs: &[PolicyRun<'_>]) -> String {
    let file = File {
        tiandi_version: &meta.tiandi_version,
        scenario: &meta.scenario,
        scenario_source: &meta.scenario_source,
        scenario_hash: meta.hash_text(),
        seed: meta.seed,
        start_utc: meta.start.to_string(),
        end_utc: meta.end.to_string(),
        step_s: meta.step_ns as f64 / 1e9,
        n_satellites: meta.n_satellites,
        n_ground_stations: meta.n_ground_stations,
        n_data_centres: meta.n_data_centres,
        n_user_regions: meta.n_user_regions,
        policies: runs.iter().map(|r| policy_out(meta, r)).collect(),
    };
    let mut s = serde_json::to_string_pretty(&file).expect("plain data serialises");
    s.push('\n');
    s
}

/// The figures of one kind, if the run had tasks of it.
pub fn kind_summary(summary: &Summary, kind: TaskKind) -> Option<&KindSummary> {
    summary.by_kind.iter().find(|k| k.kind == kind)
}
