//! Run results to files and back: `summary.json`, `tasks.csv`, `faults.csv`, and with the
//! `parquet` feature `tasks.parquet`, `links.parquet` and `nodes.parquet` (links and nodes
//! as CSV otherwise); a sweep's one row per run ([`sweep`]: `summaries.jsonl`, `runs.csv`,
//! `runs.parquet`).
//!
//! An edge crate. Each file's rows are defined once, in the module of that file, beside its
//! writer and its reader ([`summary`], [`tasks`], [`links`], [`nodes`], [`faults`]): the
//! link, node and fault rows are the simulator's own records, the task and summary rows
//! are this crate's. Deterministic: the same results give byte-identical files (no
//! wall-clock times, no hash-map order; floats printed by shortest round trip). Files are
//! written atomically (a temporary file in the same directory, then a rename), so a failed
//! or interrupted run never leaves a half-written file under the final name. Readers name
//! the file, the line or row and the column of what they cannot read, and never panic.

pub mod atomic;
pub mod faults;
pub mod iot;
pub mod links;
pub mod nodes;
#[cfg(feature = "parquet")]
mod parquet_io;
pub mod read;
pub mod summary;
pub mod sweep;
pub mod tasks;

use std::path::{Path, PathBuf};

use tiandi_sim::model::{FaultRecord, LinkSample, NodeSample, RunResult};

use crate::read::first_of;
use crate::tasks::TaskRow;

pub use atomic::write_atomic;
pub use read::{Found, MAX_ROWS, Missing, ReadError};
pub use summary::{RunMeta, summary_json};

/// Why outputs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One policy's run, as the output writers take it.
pub struct PolicyRun<'a> {
    pub policy: &'a str,
    pub result: &'a RunResult,
}

/// The per-run files of one policy into `dir`: tasks (CSV, and Parquet with the feature),
/// links and nodes (Parquet with the feature, else CSV). Returns the paths written.
pub fn write_run_files(
    dir: &Path,
    meta: &RunMeta,
    run: &PolicyRun<'_>,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    let mut put =
        |name: &str, f: &dyn Fn(&mut (dyn std::io::Write + Send)) -> std::io::Result<()>| {
            let path = dir.join(name);
            write_atomic(&path, |w| f(w)).map_err(|source| ReportError::Io {
                path: path.clone(),
                source,
            })?;
            written.push(path);
            Ok::<(), ReportError>(())
        };
    put(tasks::CSV_FILE, &|w| tasks::write_csv(w, run.result))?;
    put(faults::CSV_FILE, &|w| faults::write_csv(w, run.result))?;
    #[cfg(feature = "parquet")]
    {
        put(tasks::PARQUET_FILE, &|w| {
            tasks::write_parquet(w, run.result)
        })?;
        put(links::PARQUET_FILE, &|w| {
            links::write_parquet(w, meta, run.result)
        })?;
        put(nodes::PARQUET_FILE, &|w| {
            nodes::write_parquet(w, meta, run.result)
        })?;
    }
    #[cfg(not(feature = "parquet"))]
    {
        put(links::CSV_FILE, &|w| links::write_csv(w, meta, run.result))?;
        put(nodes::CSV_FILE, &|w| nodes::write_csv(w, meta, run.result))?;
    }
    Ok(written)
}

/// Everything for one invocation. One policy: `summary.json` and the run files directly in
/// `out`. Several (`--compare`): `summary.json` holding all policies in `out`, and each
/// policy's run files in `out/<policy>/`.
pub fn write_outputs(
    out: &Path,
    meta: &RunMeta,
    runs: &[PolicyRun<'_>],
) -> Result<Vec<PathBuf>, ReportError> {
    write_outputs_with(out, meta, runs, None)
}

/// [`write_outputs`] with the run's IoT figures in `summary.json`.
pub fn write_outputs_with(
    out: &Path,
    meta: &RunMeta,
    runs: &[PolicyRun<'_>],
    iot: Option<&iot::IotFigures>,
) -> Result<Vec<PathBuf>, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut written = Vec::new();
    for run in runs {
        let dir = policy_dir(out, runs.len(), run.policy);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        written.extend(write_run_files(&dir, meta, run)?);
    }
    let path = out.join(summary::FILE);
    let json = summary::summary_json_with(meta, runs, iot);
    write_atomic(&path, |w| w.write_all(json.as_bytes())).map_err(io(&path))?;
    written.push(path);
    Ok(written)
}

/// The directory of one policy's files in an output directory of `n_policies` policies:
/// the output directory itself for one policy, `out/<policy>/` for several.
pub fn policy_dir(out: &Path, n_policies: usize, policy: &str) -> PathBuf {
    if n_policies == 1 {
        out.to_path_buf()
    } else {
        out.join(policy)
    }
}

/// One policy's per-run files as read back; each may be missing.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFiles {
    pub tasks: Found<TaskRow>,
    pub links: Found<LinkSample>,
    pub nodes: Found<NodeSample>,
    pub faults: Found<FaultRecord>,
}

/// Reads the per-run files of one policy in `dir`, what [`write_run_files`] writes: the
/// Parquet file of a series where there is one, else its CSV file.
pub fn read_run_files(dir: &Path) -> Result<RunFiles, ReadError> {
    Ok(RunFiles {
        tasks: first_of(dir, &[tasks::CSV_FILE], &[tasks::read_csv])?,
        links: first_of(
            dir,
            &[links::PARQUET_FILE, links::CSV_FILE],
            &[links::read_parquet, links::read_csv],
        )?,
        nodes: first_of(
            dir,
            &[nodes::PARQUET_FILE, nodes::CSV_FILE],
            &[nodes::read_parquet, nodes::read_csv],
        )?,
        faults: first_of(
            dir,
            &[faults::PARQUET_FILE, faults::CSV_FILE],
            &[faults::read_parquet, faults::read_csv],
        )?,
    })
}

/// Whether this build writes Parquet.
pub const PARQUET: bool = cfg!(feature = "parquet");
