//! What the readers of the output files share: their error, the sentence for a file that
//! is not there, the bound on rows, and a CSV reader that finds columns by name and names
//! the file, line and field of a bad value.

use std::fs::File;
use std::path::{Path, PathBuf};

use tiandi_orbit::Epoch;

/// Most rows read from one file: bounds memory on a corrupt or foreign file (a 24 h,
/// 1,584-satellite run at 60 s steps has 2.3 M node rows).
pub const MAX_ROWS: usize = 50_000_000;

/// Why an output file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is there but is not what the writer writes: the message names the row or
    /// line and the column.
    #[error("{path}: {message}")]
    Malformed { path: PathBuf, message: String },
}

/// A per-run file that is not in an output directory (not an error: the figure that needs
/// it says so).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub dir: PathBuf,
    /// The names looked for, in the order tried.
    pub names: &'static [&'static str],
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not in this output (no {} in {})",
            self.names.join(" or "),
            self.dir.display()
        )
    }
}

/// The rows of a per-run file, or which file is missing.
pub type Found<T> = Result<Vec<T>, Missing>;

/// A reader of one file's rows.
pub(crate) type Reader<T> = fn(&Path) -> Result<Vec<T>, ReadError>;

/// The rows of the first of `names` in `dir` that exists, read by the reader beside its
/// name (a series is written as Parquet or as CSV), or which names are missing.
pub(crate) fn first_of<T>(
    dir: &Path,
    names: &'static [&'static str],
    readers: &[Reader<T>],
) -> Result<Found<T>, ReadError> {
    for (name, read) in names.iter().zip(readers) {
        let path = dir.join(name);
        if path.exists() {
            return read(&path).map(Ok);
        }
    }
    Ok(Err(Missing {
        dir: dir.to_path_buf(),
        names,
    }))
}

/// The reader of a Parquet file in a build without Parquet.
#[cfg(not(feature = "parquet"))]
pub fn no_parquet<T>(path: &Path) -> Result<Vec<T>, ReadError> {
    Err(bad(
        path,
        "this build reads no Parquet (tiandi-report without its parquet feature)",
    ))
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn bad(path: &Path, message: impl Into<String>) -> ReadError {
    ReadError::Malformed {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A CSV file's rows as string records with a column index by name.
pub(crate) struct Csv {
    path: PathBuf,
    header: Vec<String>,
    reader: csv::Reader<File>,
}

impl Csv {
    pub(crate) fn open(path: &Path) -> Result<Csv, ReadError> {
        let file = File::open(path).map_err(io_err(path))?;
        let mut reader = csv::Reader::from_reader(file);
        let header = reader
            .headers()
            .map_err(|e| bad(path, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        Ok(Csv {
            path: path.to_path_buf(),
            header,
            reader,
        })
    }

    pub(crate) fn col(&self, name: &str) -> Result<usize, ReadError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(&self.path, format!("no column {name:?}")))
    }

    /// The indices of the columns `names`.
    pub(crate) fn cols<const N: usize>(&self, names: [&str; N]) -> Result<[usize; N], ReadError> {
        let mut idx = [0; N];
        for (i, name) in names.iter().enumerate() {
            idx[i] = self.col(name)?;
        }
        Ok(idx)
    }

    /// Each record made into a row by `row`; an error names the line.
    pub(crate) fn rows<T>(
        mut self,
        mut row: impl FnMut(&csv::StringRecord) -> Result<T, String>,
    ) -> Result<Vec<T>, ReadError> {
        let mut record = csv::StringRecord::new();
        let mut rows = Vec::new();
        while self
            .reader
            .read_record(&mut record)
            .map_err(|e| bad(&self.path, e.to_string()))?
        {
            if rows.len() == MAX_ROWS {
                return Err(bad(&self.path, format!("more than {MAX_ROWS} rows")));
            }
            let line = record.position().map_or(0, |p| p.line());
            rows.push(row(&record).map_err(|m| bad(&self.path, format!("line {line}: {m}")))?);
        }
        Ok(rows)
    }
}

/// The text of column `idx` (empty when the record is short).
pub(crate) fn text(r: &csv::StringRecord, idx: usize) -> &str {
    r.get(idx).unwrap_or("")
}

pub(crate) fn field<T: std::str::FromStr>(
    r: &csv::StringRecord,
    idx: usize,
    name: &str,
) -> Result<T, String> {
    let text = text(r, idx);
    text.parse()
        .map_err(|_| format!("{name} {text:?} is not a valid value"))
}

/// An ISO-8601 UTC time.
pub(crate) fn time(r: &csv::StringRecord, idx: usize, name: &str) -> Result<Epoch, String> {
    let text = text(r, idx);
    Epoch::parse_iso(text).map_err(|e| format!("{name} {text:?}: {e}"))
}
