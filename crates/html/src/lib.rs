//! Self-contained HTML reports: `report.html` of a `tiandi simulate` output directory, and
//! the page of a `tiandi plan` sizing.
//!
//! An edge crate. One HTML file with inline CSS and inline SVG figures drawn by plotters,
//! plus a 3D globe (vendored three.js and `tiandi-web`'s scripts, inline); no external
//! reference, light and dark themes. The simulation report is
//! built from the output files alone (plus the scenario, re-read for positions), so
//! `tiandi simulate` and `tiandi report DIR` share [`write_report`]. Data an output lacks
//! is reported as missing, never made up.

pub mod charts;
pub mod check;
pub mod d2d;
pub mod geo;
pub mod globe;
pub mod load;
pub mod page;
pub mod plan;
pub mod reach;
pub mod report;

use std::path::{Path, PathBuf};

pub use check::{MAX_REPORT_BYTES, audit};
pub use d2d::{D2dPage, D2dTerminal, d2d_page};
pub use plan::plan_page;
pub use reach::{ReachPage, reach_page};
pub use report::render_report;

/// Name of the report inside an output directory.
pub const REPORT_FILE: &str = "report.html";

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// An output file that cannot be read (the error names it).
    #[error(transparent)]
    Read(#[from] tiandi_report::ReadError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--node {node}: {message}")]
    UnknownNode { node: String, message: String },
    #[error("drawing a figure: {0}")]
    Draw(String),
}

/// Choices for the simulation report.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// Satellite for the power/thermal figure: an index or a name; `None` picks the most
    /// stressed one (lowest state of charge reached).
    pub node: Option<String>,
}

/// Reads the output directory `out_dir` and writes `out_dir/report.html` (atomically).
/// Returns the path written.
pub fn write_report(out_dir: &Path, options: &ReportOptions) -> Result<PathBuf, HtmlError> {
    let html = render_report(out_dir, options)?;
    let path = out_dir.join(REPORT_FILE);
    write_file(&path, &html)?;
    Ok(path)
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn write_file(path: &Path, text: &str) -> Result<(), HtmlError> {
    tiandi_report::write_atomic(path, |w| w.write_all(text.as_bytes())).map_err(|source| {
        HtmlError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}
