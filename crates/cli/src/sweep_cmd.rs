//! `tiandi sweep`: a grid of runs (seeds × policies) on one scenario, run in parallel, one
//! row per run in `runs.csv`/`runs.parquet`, each policy's mean and 95 % confidence
//! interval and its paired difference to the first policy; shards of the grid for a
//! cluster (`--shard I/N`), their merge, and the cluster's job files (`manifest`).
//!
//! The grid is ordered seed first, then policies as given: run `k` is seed
//! `first + k / n_policies` under policy `k % n_policies`, and belongs to shard `k % N`.
//! Every output is derived from the runs' `summaries.jsonl` lines in grid order, by the
//! same code in a run and in a merge, so that a merge of the shards writes the files of the
//! unsharded run byte for byte. docs/sweep.md has the files and the method.

mod manifest;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use tiandi_report::PolicyRun;
use tiandi_report::sweep::{self as table, RunRow, Table};
use tiandi_scenario::Scenario;
use tiandi_sim::model::SimSetup;

use crate::sim_cmd::{key_value, load_with, run_meta};

/// The description of the grid.
pub const SWEEP_FILE: &str = "sweep.json";
/// The statistics of an unsharded run or a merge.
pub const STATS_FILE: &str = "stats.csv";
/// Most runs in one grid: bounds the memory of the rows and the time of a mistyped range.
const MAX_RUNS: u64 = 1_000_000;
/// Most shards of one grid.
const MAX_SHARDS: u32 = 100_000;
/// The environment variables `--shard env/N` reads the index from, in this order.
pub const INDEX_VARS: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

/// Flags of `tiandi sweep`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    command: Option<SweepCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum SweepCommand {
    /// Join the output directories of the shards of one grid into the files the unsharded
    /// sweep writes (byte-identical); refuses shards of different grids, and missing or
    /// duplicated shards or runs.
    Merge(MergeArgs),
    /// Write a Kubernetes Indexed Job (JSON, which is YAML too) or a Slurm job-array
    /// script that runs the shards of a sweep and then merges them.
    Manifest(Box<manifest::ManifestArgs>),
}

/// What defines a grid: the scenario and its changes, the policies and the seeds.
#[derive(Args, Clone, Debug)]
pub(crate) struct GridArgs {
    /// Scenario file (TOML) or the name of a built-in scenario (`light`), as for `tiandi
    /// simulate`; without one, the built-in default. (A file named `merge` or `manifest`:
    /// write `./merge`.)
    scenario: Option<PathBuf>,
    /// Policies to compare, e.g. `bent-pipe,onboard,unified`; differences are to the
    /// first.
    #[arg(long, value_delimiter = ',', value_name = "A,B,...", required = true)]
    policies: Vec<String>,
    /// Seeds, inclusive: `1..20` is 20 seeds; a single seed `7` is one.
    #[arg(long, value_name = "A..B", value_parser = parse_seeds, required = true)]
    seeds: Option<Seeds>,
    /// Simulated hours of every run, overriding the scenario's `run.horizon_h`.
    #[arg(long, allow_negative_numbers = true)]
    horizon_h: Option<f64>,
    /// Change one key of the scenario, as for `tiandi simulate` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
    settings: Vec<(String, String)>,
}

/// Flags of a sweep run.
#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    grid: GridArgs,
    /// Output directory: runs.csv, runs.parquet, summaries.jsonl, sweep.json and (not for
    /// a shard) stats.csv.
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// Run one shard of the grid: `I/N` (0 <= I < N) runs the runs k with k mod N = I,
    /// in grid order (seed, then policy). `env/N` takes I from JOB_COMPLETION_INDEX
    /// (Kubernetes Indexed Jobs) or else SLURM_ARRAY_TASK_ID (Slurm job arrays). A shard
    /// prints no statistics and writes no stats.csv: `tiandi sweep merge` does.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<ShardSpec>,
    /// Runs at once [default: the rayon pool's size: RAYON_NUM_THREADS, else the cores].
    /// A run of the default scenario holds several hundred MB.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    jobs: Option<u32>,
}

/// Flags of `tiandi sweep merge`.
#[derive(Args)]
struct MergeArgs {
    /// The shards' output directories, in any order.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Output directory of the merged files.
    #[arg(long)]
    out: PathBuf,
}

/// An inclusive range of seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Seeds {
    pub first: u64,
    pub last: u64,
}

impl Seeds {
    /// How many seeds (at least 1).
    fn count(&self) -> u64 {
        (self.last - self.first).saturating_add(1)
    }
}

impl std::fmt::Display for Seeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.first, self.last)
    }
}

fn parse_seeds(s: &str) -> Result<Seeds, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("{t:?} is not a seed (an integer from 0 to {})", u64::MAX))
    };
    let (first, last) = match s.split_once("..") {
        Some((a, b)) => (number(a)?, number(b.strip_prefix('=').unwrap_or(b))?),
        None => {
            let a = number(s)?;
            (a, a)
        }
    };
    if last < first {
        return Err(format!(
            "the last seed {last} is before the first {first} (A..B is inclusive, A <= B)"
        ));
    }
    Ok(Seeds { first, last })
}

/// One shard of a grid: the runs k with k mod count = index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `--shard`: an index given, or one to read from the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ShardSpec {
    Given(Shard),
    FromEnv { count: u32 },
}

fn parse_shard(s: &str) -> Result<ShardSpec, String> {
    let Some((i, n)) = s.split_once('/') else {
        return Err("expected I/N (0 <= I < N) or env/N".into());
    };
    let count = match n.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_SHARDS).contains(&n) => n,
        _ => return Err(format!("N {n:?}: expected a count from 1 to {MAX_SHARDS}")),
    };
    if i.trim() == "env" {
        return Ok(ShardSpec::FromEnv { count });
    }
    match i.trim().parse::<u32>() {
        Ok(index) if index < count => Ok(ShardSpec::Given(Shard { index, count })),
        Ok(index) => Err(format!(
            "index {index} is not below the count {count} (indexes run from 0 to {})",
            count - 1
        )),
        Err(_) => Err(format!(
            "I {i:?}: expected an index from 0 to {}",
            count - 1
        )),
    }
}

impl ShardSpec {
    /// The shard, its index read through `var` when it comes from the environment.
    fn resolve(self, var: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let count = match self {
            ShardSpec::Given(s) => return Ok(s),
            ShardSpec::FromEnv { count } => count,
        };
        let mut found: Option<(&str, u32)> = None;
        for name in INDEX_VARS {
            let Some(text) = var(name) else { continue };
            let index = match text.trim().parse::<u32>() {
                Ok(i) if i < count => i,
                _ => bail!(
                    "--shard env/{count}: {name}={text:?} is not an index from 0 to {}",
                    count - 1
                ),
            };
            match found {
                Some((other, i)) if i != index => {
                    bail!("--shard env/{count}: {other}={i} and {name}={index} disagree; unset one")
                }
                Some(_) => {}
                None => found = Some((name, index)),
            }
        }
        match found {
            Some((_, index)) => Ok(Shard { index, count }),
            None => bail!(
                "--shard env/{count}: neither {} is set; give the index as --shard I/{count}",
                INDEX_VARS.join(" nor ")
            ),
        }
    }
}

/// `sweep.json`: what the grid is (and, for a shard, which shard). Two outputs are shards
/// of one grid when all but `shard` agree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SweepFile {
    pub tiandi_version: String,
    /// The scenario's name.
    pub scenario: String,
    /// As given: a file, a built-in name, or `default`.
    pub scenario_source: String,
    pub scenario_hash: String,
    pub policies: Vec<String>,
    pub seeds: Seeds,
    pub horizon_h: f64,
    /// `--set` values, `KEY=VALUE`, in the order given.
    pub settings: Vec<String>,
    pub n_runs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

impl SweepFile {
    /// The policy and seed of run `k`.
    fn run(&self, k: u64) -> (&str, u64) {
        let n = self.policies.len() as u64;
        (&self.policies[(k % n) as usize], self.seeds.first + k / n)
    }

    /// The index of the run of `policy` on `seed`, if the grid has it.
    fn index_of(&self, policy: &str, seed: u64) -> Option<u64> {
        let p = self.policies.iter().position(|q| q == policy)? as u64;
        (self.seeds.first..=self.seeds.last)
            .contains(&seed)
            .then(|| (seed - self.seeds.first) * self.policies.len() as u64 + p)
    }

    /// The runs of `shard` (all of them without one), in grid order.
    fn runs_of(&self, shard: Option<Shard>) -> Vec<u64> {
        let (i, n) = shard.map_or((0, 1), |s| (u64::from(s.index), u64::from(s.count)));
        (i..self.n_runs).step_by(n as usize).collect()
    }

    fn text(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("plain data serialises");
        s.push('\n');
        s
    }
}

/// A grid checked and its scenario loaded.
struct Grid {
    scenario: Scenario,
    file: SweepFile,
}

/// The checks of the grid that need no scenario: policies known and not repeated, the
/// number of runs bounded. Returns the number of runs.
pub(crate) fn check_grid(policies: &[String], seeds: Seeds) -> Result<u64> {
    if policies.is_empty() {
        bail!("--policies: name at least one policy");
    }
    for (i, p) in policies.iter().enumerate() {
        tiandi_scenario::check_policy(p).context("--policies")?;
        if policies[..i].contains(p) {
            bail!("--policies: policy {p:?} is listed twice");
        }
    }
    let n_runs = seeds
        .count()
        .checked_mul(policies.len() as u64)
        .filter(|&n| n <= MAX_RUNS);
    n_runs.with_context(|| {
        format!(
            "--seeds {seeds} with {} policies: more than {MAX_RUNS} runs",
            policies.len()
        )
    })
}

impl GridArgs {
    fn policies(&self) -> Vec<String> {
        self.policies.iter().map(|p| p.trim().to_string()).collect()
    }

    fn seeds(&self) -> Seeds {
        self.seeds.expect("clap requires --seeds")
    }

    /// The scenario as given on the command line.
    fn source(&self) -> String {
        self.scenario
            .as_ref()
            .map_or("default".into(), |p| p.display().to_string())
    }

    /// Loads and checks the grid.
    fn load(&self) -> Result<Grid> {
        let policies = self.policies();
        let n_runs = check_grid(&policies, self.seeds())?;
        let (mut scenario, _, _) = load_with(self.scenario.as_ref(), &self.settings)?;
        if let Some(h) = self.horizon_h {
            scenario.set_horizon_h(h).context("--horizon-h")?;
        }
        let file = SweepFile {
            tiandi_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: scenario.name.clone(),
            scenario_source: self.source(),
            scenario_hash: format!("fnv1a64:{:016x}", scenario.hash),
            policies,
            seeds: self.seeds(),
            horizon_h: scenario.horizon_h,
            settings: self
                .settings
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            n_runs,
            shard: None,
        };
        Ok(Grid { scenario, file })
    }
}

pub fn sweep(args: SweepArgs) -> Result<()> {
    match args.command {
        Some(SweepCommand::Merge(m)) => merge(m),
        Some(SweepCommand::Manifest(m)) => manifest::manifest(*m),
        None => run(args.run),
    }
}

/// Fails unless `out` can be a directory.
fn check_out(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        bail!("--out {}: exists and is not a directory", out.display());
    }
    Ok(())
}

fn run(args: RunArgs) -> Result<()> {
    let out = args.out.clone().expect("clap requires --out");
    check_out(&out)?;
    let shard = args
        .shard
        .map(|s| s.resolve(|name| std::env::var(name).ok()))
        .transpose()?;
    let mut grid = args.grid.load()?;
    grid.file.shard = shard;
    let runs = grid.file.runs_of(shard);
    let jobs = args
        .jobs
        .map_or_else(rayon::current_num_threads, |j| j as usize);
    eprintln!(
        "sweep {} ({}): {} policies x {} seeds = {} runs{}, {} h each, {} at once",
        grid.file.scenario,
        grid.file.scenario_hash,
        grid.file.policies.len(),
        grid.file.seeds.count(),
        grid.file.n_runs,
        shard.map_or(String::new(), |s| format!(
            "; shard {s}: {} of them",
            runs.len()
        )),
        grid.file.horizon_h,
        jobs.min(runs.len()).max(1),
    );
    let t0 = Instant::now();
    let lines = run_all(&grid, &runs, jobs)?;
    eprintln!(
        "{} runs in {:.1} s",
        lines.len(),
        t0.elapsed().as_secs_f64()
    );
    let written = write_outputs(&out, &grid.file, &lines)?;
    eprintln!("wrote {} files under {}", written.len(), out.display());
    Ok(())
}

/// The workload of one seed, generated by the first run that needs it and dropped after the
/// last.
struct SeedSlot {
    setup: Option<Arc<SimSetup>>,
    remaining: usize,
}

/// Runs `runs` (grid indexes) on `jobs` threads; returns their `summaries.jsonl` lines in
/// the order of `runs`. The first failure in grid order is the error.
fn run_all(grid: &Grid, runs: &[u64], jobs: usize) -> Result<Vec<String>> {
    let n_pol = grid.file.policies.len() as u64;
    // One slot per seed of these runs, in order.
    let mut seed_of_run = Vec::with_capacity(runs.len());
    let mut slots: Vec<Mutex<SeedSlot>> = Vec::new();
    let mut last_seed = None;
    for &k in runs {
        if last_seed != Some(k / n_pol) {
            last_seed = Some(k / n_pol);
            slots.push(Mutex::new(SeedSlot {
                setup: None,
                remaining: 0,
            }));
        }
        slots.last().unwrap().lock().unwrap().remaining += 1;
        seed_of_run.push(slots.len() - 1);
    }
    let results: Vec<Mutex<Option<Result<String>>>> =
        runs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let bar = crate::progress::bar(runs.len() as u64, "sweep");
    let worker = || {
        // After a failure no run is taken; a run taken is always run, so the runs never
        // started all come after every run started.
        while !failed.load(Ordering::SeqCst) {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= runs.len() {
                break;
            }
            let (policy, seed) = grid.file.run(runs[i]);
            let t0 = Instant::now();
            let result = one_run(grid, &slots[seed_of_run[i]], policy, seed);
            if result.is_err() {
                failed.store(true, Ordering::SeqCst);
            } else {
                bar.suspend(|| {
                    eprintln!(
                        "run {} (seed {seed}, {policy}): {:.1} s",
                        runs[i],
                        t0.elapsed().as_secs_f64()
                    )
                });
            }
            *results[i].lock().unwrap() = Some(result);
            bar.inc(1);
        }
    };
    std::thread::scope(|s| {
        for _ in 0..jobs.min(runs.len()).max(1) {
            s.spawn(worker);
        }
    });
    bar.finish_and_clear();
    let mut lines = Vec::with_capacity(runs.len());
    for r in results {
        // A run never started comes after the one that failed, whose error returns first.
        let result = r
            .into_inner()
            .unwrap()
            .expect("a run not started follows a failure");
        lines.push(result?);
    }
    Ok(lines)
}

/// One run: the seed's workload (generated once and shared), the simulation, and the
/// run's summary line. The run's result is dropped here.
fn one_run(grid: &Grid, slot: &Mutex<SeedSlot>, policy: &str, seed: u64) -> Result<String> {
    let setup = {
        let mut slot = slot.lock().unwrap();
        match &slot.setup {
            Some(s) => s.clone(),
            None => {
                let mut scenario = grid.scenario.clone();
                scenario.seed = seed;
                let setup = Arc::new(
                    scenario
                        .setup()
                        .with_context(|| format!("the workload of seed {seed}"))?,
                );
                slot.setup = Some(setup.clone());
                setup
            }
        }
    };
    let mut p =
        tiandi_scheduler::by_name(policy).with_context(|| format!("unknown policy {policy:?}"))?;
    let result = tiandi_sim::run(&setup, p.as_mut(), &|_, _| {})
        .with_context(|| format!("simulation with policy {policy}, seed {seed}"))?;
    let meta = run_meta(&grid.scenario, &setup, grid.file.scenario_source.clone());
    let line = table::summary_line(
        &meta,
        &PolicyRun {
            policy,
            result: &result,
        },
    );
    drop(result);
    drop(setup);
    let mut slot = slot.lock().unwrap();
    slot.remaining -= 1;
    if slot.remaining == 0 {
        slot.setup = None;
    }
    Ok(line)
}

/// Writes every output of `lines` (runs in grid order) into `out`: the table, the lines,
/// `sweep.json`, and without a shard `stats.csv`, whose table it prints. Returns the paths
/// written.
fn write_outputs(out: &Path, file: &SweepFile, lines: &[String]) -> Result<Vec<PathBuf>> {
    let rows: Vec<RunRow> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| table::parse_line(l).map_err(|m| anyhow::anyhow!("run {i}: {m}")))
        .collect::<Result<_>>()?;
    let runs = Table::of(&rows);
    let stats = file
        .shard
        .is_none()
        .then(|| stats::compare(&runs, &file.policies));

    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = Vec::new();
    let mut put =
        |name: &str, fill: &dyn Fn(&mut (dyn std::io::Write + Send)) -> std::io::Result<()>| {
            let path = out.join(name);
            tiandi_report::write_atomic(&path, fill)
                .with_context(|| format!("cannot write {}", path.display()))?;
            written.push(path);
            Ok::<(), anyhow::Error>(())
        };
    put(table::CSV_FILE, &|w| table::write_csv(w, &runs))?;
    put(table::PARQUET_FILE, &|w| table::write_parquet(w, &runs))?;
    put(table::SUMMARIES_FILE, &|w| table::write_summaries(w, lines))?;
    let text = file.text();
    put(SWEEP_FILE, &|w| w.write_all(text.as_bytes()))?;
    match &stats {
        Some(stats) => {
            let csv = stats::csv(stats);
            put(STATS_FILE, &|w| w.write_all(csv.as_bytes()))?;
            print!("{}", stats::table(stats, file));
        }
        None => {
            // A shard's statistics would be of a slice of each policy's seeds.
            let stale = out.join(STATS_FILE);
            if stale.exists() {
                std::fs::remove_file(&stale)
                    .with_context(|| format!("cannot remove {}", stale.display()))?;
            }
            println!(
                "shard {}: {} runs; statistics after `tiandi sweep merge` of all shards",
                file.shard.expect("no stats only for a shard"),
                rows.len()
            );
        }
    }
    Ok(written)
}

/// One shard's output read back.
struct ShardOutput {
    dir: PathBuf,
    file: SweepFile,
    shard: Shard,
}

fn read_sweep_file(dir: &Path) -> Result<SweepFile> {
    let path = dir.join(SWEEP_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: not the output of a sweep (cannot read {SWEEP_FILE})",
            dir.display()
        )
    })?;
    let file: SweepFile = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a {SWEEP_FILE} of tiandi sweep", path.display()))?;
    if file.policies.is_empty() || file.seeds.last < file.seeds.first {
        bail!("{}: no policies or no seeds", path.display());
    }
    let n_runs = file.seeds.count().checked_mul(file.policies.len() as u64);
    if n_runs != Some(file.n_runs) || file.n_runs > MAX_RUNS {
        bail!(
            "{}: n_runs {} is not seeds x policies",
            path.display(),
            file.n_runs
        );
    }
    if let Some(s) = file.shard
        && (s.count == 0 || s.index >= s.count)
    {
        bail!(
            "{}: shard {s} is not an index below a count",
            path.display()
        );
    }
    Ok(file)
}

/// The first field in which two grids differ, with both values.
fn grid_difference(a: &SweepFile, b: &SweepFile) -> Option<(&'static str, String, String)> {
    let fields: [(&str, String, String); 9] = [
        (
            "tiandi_version",
            a.tiandi_version.clone(),
            b.tiandi_version.clone(),
        ),
        ("scenario", a.scenario.clone(), b.scenario.clone()),
        (
            "scenario_source",
            a.scenario_source.clone(),
            b.scenario_source.clone(),
        ),
        (
            "scenario_hash",
            a.scenario_hash.clone(),
            b.scenario_hash.clone(),
        ),
        ("policies", a.policies.join(","), b.policies.join(",")),
        ("seeds", a.seeds.to_string(), b.seeds.to_string()),
        (
            "horizon_h",
            format!("{:?}", a.horizon_h),
            format!("{:?}", b.horizon_h),
        ),
        ("settings", a.settings.join(" "), b.settings.join(" ")),
        ("n_runs", a.n_runs.to_string(), b.n_runs.to_string()),
    ];
    fields.into_iter().find(|(_, x, y)| x != y)
}

fn merge(args: MergeArgs) -> Result<()> {
    check_out(&args.out)?;
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    if let Some(out) = canon(&args.out)
        && let Some(d) = args.dirs.iter().find(|d| canon(d) == Some(out.clone()))
    {
        bail!(
            "--out {}: is the shard directory {}; merge into another directory",
            args.out.display(),
            d.display()
        );
    }
    let mut shards: Vec<ShardOutput> = Vec::new();
    for dir in &args.dirs {
        let file = read_sweep_file(dir)?;
        let shard = file.shard.unwrap_or(Shard { index: 0, count: 1 });
        if let Some(first) = shards.first() {
            if let Some((field, x, y)) = grid_difference(&first.file, &file) {
                bail!(
                    "{}: a shard of another grid than {} ({field} {y:?}, not {x:?})",
                    dir.display(),
                    first.dir.display()
                );
            }
            if shard.count != first.shard.count {
                bail!(
                    "{}: shard {shard} of a grid cut into {} shards, {} is {}",
                    dir.display(),
                    shard.count,
                    first.dir.display(),
                    first.shard
                );
            }
        }
        if let Some(other) = shards.iter().find(|s| s.shard == shard) {
            bail!(
                "{}: shard {shard} again ({} is shard {shard} too)",
                dir.display(),
                other.dir.display()
            );
        }
        shards.push(ShardOutput {
            dir: dir.clone(),
            file,
            shard,
        });
    }
    let grid = shards[0].file.clone();
    let count = shards[0].shard.count;
    let missing: Vec<String> = (0..count)
        .filter(|i| !shards.iter().any(|s| s.shard.index == *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard{} {} of the grid of {} {} missing (given: {})",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            shards[0].dir.display(),
            if missing.len() == 1 { "is" } else { "are" },
            shards
                .iter()
                .map(|s| format!("{} ({})", s.dir.display(), s.shard))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut lines: Vec<Option<String>> = vec![None; grid.n_runs as usize];
    for s in &shards {
        let path = s.dir.join(table::SUMMARIES_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read {}", s.dir.display(), path.display()))?;
        let expected = grid.runs_of(Some(s.shard));
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let at = || format!("{}: line {}", path.display(), i + 1);
            let row = table::parse_line(line).map_err(|m| anyhow::anyhow!("{}: {m}", at()))?;
            let k = grid.index_of(&row.policy, row.seed).with_context(|| {
                format!(
                    "{}: a run ({}, seed {}) not in the grid",
                    at(),
                    row.policy,
                    row.seed
                )
            })?;
            if k % u64::from(count) != u64::from(s.shard.index) {
                bail!(
                    "{}: the run of {}, seed {} belongs to shard {}/{count}, not {}",
                    at(),
                    row.policy,
                    row.seed,
                    k % u64::from(count),
                    s.shard
                );
            }
            if lines[k as usize].is_some() {
                bail!(
                    "{}: the run of {}, seed {} comes twice",
                    at(),
                    row.policy,
                    row.seed
                );
            }
            lines[k as usize] = Some(line.to_string());
            n += 1;
        }
        if n != expected.len() {
            let absent: Vec<String> = expected
                .iter()
                .filter(|&&k| lines[k as usize].is_none())
                .take(5)
                .map(|&k| {
                    let (p, seed) = grid.run(k);
                    format!("{p} seed {seed}")
                })
                .collect();
            bail!(
                "{}: {} of the shard's {} runs missing (e.g. {})",
                path.display(),
                expected.len() - n,
                expected.len(),
                absent.join(", ")
            );
        }
    }
    let lines: Vec<String> = lines
        .into_iter()
        .map(|l| l.expect("every run checked"))
        .collect();
    let merged = SweepFile {
        shard: None,
        ..grid
    };
    let written = write_outputs(&args.out, &merged, &lines)?;
    eprintln!(
        "merged {} shards, {} runs: wrote {} files under {}",
        shards.len(),
        lines.len(),
        written.len(),
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_inclusive_ranges_or_one_seed() {
        assert_eq!(parse_seeds("1..20").unwrap().count(), 20);
        assert_eq!(parse_seeds("7").unwrap(), Seeds { first: 7, last: 7 });
        assert_eq!(parse_seeds("3..3").unwrap().count(), 1);
        assert!(
            parse_seeds("5..3")
                .unwrap_err()
                .contains("before the first 5")
        );
        assert!(parse_seeds("a..3").unwrap_err().contains("not a seed"));
        assert!(parse_seeds("-1").is_err());
        assert_eq!(
            parse_seeds(&format!("0..{}", u64::MAX)).unwrap().count(),
            u64::MAX
        );
    }

    #[test]
    fn shards_come_from_the_flag_or_the_environment() {
        assert_eq!(
            parse_shard("1/4").unwrap(),
            ShardSpec::Given(Shard { index: 1, count: 4 })
        );
        assert!(
            parse_shard("4/4")
                .unwrap_err()
                .contains("not below the count 4")
        );
        assert!(parse_shard("0/0").is_err());
        assert!(parse_shard("x/2").is_err());
        assert!(parse_shard("3").is_err());
        let spec = parse_shard("env/4").unwrap();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            spec.resolve(env(&[("JOB_COMPLETION_INDEX", "2")])).unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert_eq!(
            spec.resolve(env(&[("SLURM_ARRAY_TASK_ID", "3")])).unwrap(),
            Shard { index: 3, count: 4 }
        );
        let e = spec.resolve(env(&[])).unwrap_err().to_string();
        assert!(
            e.contains("neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID"),
            "{e}"
        );
        let e = spec
            .resolve(env(&[("SLURM_ARRAY_TASK_ID", "4")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("SLURM_ARRAY_TASK_ID=\"4\""), "{e}");
        let e = spec
            .resolve(env(&[
                ("JOB_COMPLETION_INDEX", "1"),
                ("SLURM_ARRAY_TASK_ID", "2"),
            ]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("disagree"), "{e}");
    }

    #[test]
    fn runs_are_seed_major_and_shards_take_every_nth() {
        let file = SweepFile {
            tiandi_version: "0".into(),
            scenario: "s".into(),
            scenario_source: "s".into(),
            scenario_hash: "h".into(),
            policies: vec!["a".into(), "b".into()],
            seeds: Seeds {
                first: 10,
                last: 12,
            },
            horizon_h: 1.0,
            settings: vec![],
            n_runs: 6,
            shard: None,
        };
        assert_eq!(file.run(0), ("a", 10));
        assert_eq!(file.run(3), ("b", 11));
        assert_eq!(file.index_of("b", 11), Some(3));
        assert_eq!(file.index_of("b", 13), None);
        assert_eq!(file.index_of("c", 11), None);
        assert_eq!(file.runs_of(None), [0, 1, 2, 3, 4, 5]);
        let mut all: Vec<u64> = (0..4)
            .flat_map(|index| file.runs_of(Some(Shard { index, count: 4 })))
            .collect();
        assert_eq!(file.runs_of(Some(Shard { index: 1, count: 4 })), [1, 5]);
        all.sort();
        assert_eq!(all, [0, 1, 2, 3, 4, 5]);
    }
}
