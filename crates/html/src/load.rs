//! Reading a `tiandi simulate` output directory through the report crate's readers:
//! `summary.json`, and per policy the task rows, link and node series and fault records.
//!
//! A file that is absent is not an error: the figure that needs it says so instead. A file
//! that is present but malformed is an error naming the file, row and column.

use std::path::{Path, PathBuf};

use tiandi_orbit::Epoch;
use tiandi_report::summary::{PolicyFigures, SummaryFile, read_summary};
use tiandi_report::tasks::TaskRow;
use tiandi_report::{RunFiles, policy_dir, read_run_files};
use tiandi_sim::model::Outcome;

use crate::HtmlError;

/// One policy's files.
#[derive(Clone, Debug)]
pub struct PolicyData {
    pub figures: PolicyFigures,
    /// Directory holding this policy's files.
    pub dir: PathBuf,
    /// Its series; each may be missing (`Err` says which file).
    pub files: RunFiles,
}

/// Everything read from an output directory.
#[derive(Clone, Debug)]
pub struct Output {
    pub dir: PathBuf,
    pub summary: SummaryFile,
    pub start: Epoch,
    pub end: Epoch,
    pub runs: Vec<PolicyData>,
}

impl Output {
    /// Length of the run, s.
    pub fn duration_s(&self) -> f64 {
        self.end.seconds_since(self.start)
    }

    /// Start of step `step`, s from the run's start.
    pub fn step_start_s(&self, step: u32) -> f64 {
        f64::from(step) * self.summary.step_s
    }

    /// Seconds from the run's start to `t`.
    pub fn since_start_s(&self, t: Epoch) -> f64 {
        t.seconds_since(self.start)
    }

    /// Arrival to result of a completed task, s (`None` for the others).
    pub fn latency_s(&self, t: &TaskRow) -> Option<f64> {
        // Both ends from the run's start, as the figures have always measured it.
        (t.outcome == Outcome::Completed)
            .then(|| self.since_start_s(t.finish) - self.since_start_s(t.arrival))
    }
}

/// Reads `dir`: `summary.json` must be there; everything else is optional.
pub fn read_output(dir: &Path) -> Result<Output, HtmlError> {
    let read = read_summary(&dir.join(tiandi_report::summary::FILE))?;
    let n_policies = read.file.policies.len();
    let mut runs = Vec::new();
    for figures in &read.file.policies {
        let pdir = policy_dir(dir, n_policies, &figures.policy);
        runs.push(PolicyData {
            figures: figures.clone(),
            files: read_run_files(&pdir)?,
            dir: pdir,
        });
    }
    Ok(Output {
        dir: dir.to_path_buf(),
        summary: read.file,
        start: read.start,
        end: read.end,
        runs,
    })
}
