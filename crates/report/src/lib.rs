//! Run results to files: `summary.json`, `tasks.csv`, and with the `parquet` feature
//! `tasks.parquet`, `links.parquet` and `nodes.parquet` (CSV otherwise).
//!
//! An edge crate. Deterministic: the same results give byte-identical files (no wall-clock
//! times, no hash-map order; floats printed by shortest round trip). Files are written
//! atomically (a temporary file in the same directory, then a rename), so a failed or
//! interrupted run never leaves a half-written file under the final name.

pub mod atomic;
pub mod csv_out;
#[cfg(feature = "parquet")]
pub mod parquet_out;
pub mod summary;

use std::path::{Path, PathBuf};

use tiandi_sim::model::RunResult;

pub use atomic::write_atomic;
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
    put("tasks.csv", &|w| csv_out::write_tasks(w, run.result))?;
    put("faults.csv", &|w| csv_out::write_faults(w, run.result))?;
    #[cfg(feature = "parquet")]
    {
        put("tasks.parquet", &|w| {
            parquet_out::write_tasks(w, run.result)
        })?;
        put("links.parquet", &|w| {
            parquet_out::write_links(w, meta, run.result)
        })?;
        put("nodes.parquet", &|w| {
            parquet_out::write_nodes(w, meta, run.result)
        })?;
    }
    #[cfg(not(feature = "parquet"))]
    {
        put("links.csv", &|w| csv_out::write_links(w, meta, run.result))?;
        put("nodes.csv", &|w| csv_out::write_nodes(w, meta, run.result))?;
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
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut written = Vec::new();
    if let [one] = runs {
        written.extend(write_run_files(out, meta, one)?);
    } else {
        for run in runs {
            let dir = out.join(run.policy);
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            written.extend(write_run_files(&dir, meta, run)?);
        }
    }
    let path = out.join("summary.json");
    let json = summary_json(meta, runs);
    write_atomic(&path, |w| w.write_all(json.as_bytes())).map_err(io(&path))?;
    written.push(path);
    Ok(written)
}

/// Whether this build writes Parquet.
pub const PARQUET: bool = cfg!(feature = "parquet");
