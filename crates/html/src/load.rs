//! Reading a `tiandi simulate` output directory: `summary.json`, and per policy the task
//! records (`tasks.csv`), link and node series and fault records (Parquet or CSV).
//!
//! A file that is absent is not an error: the figure that needs it says so instead. A file
//! that is present but malformed is an error naming the file, row and column.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, TimestampNanosecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Deserialize;
use tiandi_orbit::Epoch;

use crate::HtmlError;

/// Most rows read from one series file: bounds memory on a corrupt or foreign file
/// (a 24 h, 1,584-satellite run at 60 s steps has 2.3 M node rows).
pub const MAX_ROWS: usize = 50_000_000;

/// `summary.json` as the report needs it. Fields the report does not use are ignored;
/// figures that may be `null` (no completed task) are options.
#[derive(Clone, Debug, Deserialize)]
pub struct SummaryFile {
    #[serde(default)]
    pub tiandi_version: Option<String>,
    #[serde(default)]
    pub scenario: Option<String>,
    #[serde(default)]
    pub scenario_source: Option<String>,
    #[serde(default)]
    pub scenario_hash: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    pub start_utc: String,
    pub end_utc: String,
    pub step_s: f64,
    #[serde(default)]
    pub n_satellites: Option<u32>,
    #[serde(default)]
    pub n_ground_stations: Option<u32>,
    #[serde(default)]
    pub n_data_centres: Option<u32>,
    #[serde(default)]
    pub n_user_regions: Option<u32>,
    pub policies: Vec<PolicyFigures>,
}

/// One policy's entry of `summary.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct PolicyFigures {
    pub policy: String,
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
    #[serde(default)]
    pub energy_used_wh: Option<f64>,
    #[serde(default)]
    pub energy_curtailed_wh: Option<f64>,
    #[serde(default)]
    pub throttled_s: Option<f64>,
    #[serde(default)]
    pub faults_injected: Option<u64>,
    #[serde(default)]
    pub faults_recovered: Option<u64>,
    #[serde(default)]
    pub by_kind: Vec<KindFigures>,
}

/// One task kind's entry of a policy.
#[derive(Clone, Debug, Deserialize)]
pub struct KindFigures {
    pub kind: String,
    pub total: u64,
    pub completed: u64,
    pub deadline_met_ratio: Option<f64>,
    #[serde(default)]
    pub latency_p50_s: Option<f64>,
    #[serde(default)]
    pub latency_p95_s: Option<f64>,
    #[serde(default)]
    pub downlink_bytes: Option<u64>,
    #[serde(default)]
    pub isl_bytes: Option<u64>,
    #[serde(default)]
    pub computed_in_orbit: Option<u64>,
    #[serde(default)]
    pub computed_on_ground: Option<u64>,
}

/// One row of `tasks.csv`, reduced to what the figures use.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRow {
    pub kind: String,
    /// Seconds from the run's start.
    pub arrival_s: f64,
    /// Arrival to result, s; only for completed tasks.
    pub latency_s: Option<f64>,
    pub deadline_met: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkKind {
    Isl,
    Gsl,
    Fibre,
}

impl LinkKind {
    fn parse(s: &str) -> Option<LinkKind> {
        match s {
            "isl" => Some(LinkKind::Isl),
            "gsl" => Some(LinkKind::Gsl),
            "fibre" => Some(LinkKind::Fibre),
            _ => None,
        }
    }
}

/// Bytes carried by one link during one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkRow {
    pub step: u32,
    pub a: u32,
    pub b: u32,
    pub kind: LinkKind,
    pub bytes: u64,
    pub utilisation: f64,
}

/// One satellite's state at the end of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeRow {
    pub step: u32,
    pub satellite: u32,
    pub soc_fraction: f32,
    pub temp_k: f32,
    pub compute_w: f32,
}

/// One injected fault.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultRow {
    /// Seconds from the run's start.
    pub t_s: f64,
    pub satellite: u32,
    pub task: Option<u64>,
    pub recovered: bool,
}

/// A series that may be missing from the output: `Err` holds the sentence saying so.
pub type Maybe<T> = Result<Vec<T>, String>;

/// One policy's files.
#[derive(Clone, Debug)]
pub struct PolicyData {
    pub figures: PolicyFigures,
    /// Directory holding this policy's files.
    pub dir: PathBuf,
    pub tasks: Maybe<TaskRow>,
    pub links: Maybe<LinkRow>,
    pub nodes: Maybe<NodeRow>,
    pub faults: Maybe<FaultRow>,
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
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> HtmlError + '_ {
    move |source| HtmlError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad(path: &Path, message: impl Into<String>) -> HtmlError {
    HtmlError::Malformed {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads `dir`: `summary.json` must be there; everything else is optional.
pub fn read_output(dir: &Path) -> Result<Output, HtmlError> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let summary: SummaryFile = serde_json::from_str(&text).map_err(|e| {
        bad(
            &path,
            format!("line {}, column {}: {e}", e.line(), e.column()),
        )
    })?;
    if summary.policies.is_empty() {
        return Err(bad(&path, "no policies"));
    }
    if !(summary.step_s.is_finite() && summary.step_s > 0.0) {
        return Err(bad(
            &path,
            format!(
                "step_s {}: expected a positive number of seconds",
                summary.step_s
            ),
        ));
    }
    let start =
        Epoch::parse_iso(&summary.start_utc).map_err(|e| bad(&path, format!("start_utc: {e}")))?;
    let end =
        Epoch::parse_iso(&summary.end_utc).map_err(|e| bad(&path, format!("end_utc: {e}")))?;
    let one = summary.policies.len() == 1;
    let mut runs = Vec::new();
    for figures in &summary.policies {
        // One policy: files beside summary.json; several (--compare): one directory each.
        let pdir = if one {
            dir.to_path_buf()
        } else {
            dir.join(&figures.policy)
        };
        runs.push(PolicyData {
            figures: figures.clone(),
            tasks: read_tasks(&pdir, start)?,
            links: read_links(&pdir)?,
            nodes: read_nodes(&pdir)?,
            faults: read_faults(&pdir, start)?,
            dir: pdir,
        });
    }
    Ok(Output {
        dir: dir.to_path_buf(),
        summary,
        start,
        end,
        runs,
    })
}

fn missing(dir: &Path, names: &[&str]) -> String {
    format!(
        "not in this output (no {} in {})",
        names.join(" or "),
        dir.display()
    )
}

/// A CSV file's rows as string records with a column index by name.
struct Csv {
    path: PathBuf,
    header: Vec<String>,
    reader: csv::Reader<File>,
}

impl Csv {
    fn open(path: &Path) -> Result<Csv, HtmlError> {
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

    fn col(&self, name: &str) -> Result<usize, HtmlError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(&self.path, format!("no column {name:?}")))
    }

    /// Calls `f` with each record and its 1-based line number.
    fn for_each(
        &mut self,
        mut f: impl FnMut(&csv::StringRecord, u64) -> Result<(), String>,
    ) -> Result<(), HtmlError> {
        let mut record = csv::StringRecord::new();
        let mut n = 0usize;
        while self
            .reader
            .read_record(&mut record)
            .map_err(|e| bad(&self.path, e.to_string()))?
        {
            n += 1;
            if n > MAX_ROWS {
                return Err(bad(&self.path, format!("more than {MAX_ROWS} rows")));
            }
            let line = record.position().map_or(0, |p| p.line());
            f(&record, line).map_err(|m| bad(&self.path, format!("line {line}: {m}")))?;
        }
        Ok(())
    }
}

fn field<T: std::str::FromStr>(r: &csv::StringRecord, idx: usize, name: &str) -> Result<T, String> {
    let text = r.get(idx).unwrap_or("");
    text.parse()
        .map_err(|_| format!("{name} {text:?} is not a valid value"))
}

fn time_s(text: &str, start: Epoch, name: &str) -> Result<f64, String> {
    Epoch::parse_iso(text)
        .map(|t| t.seconds_since(start))
        .map_err(|e| format!("{name} {text:?}: {e}"))
}

fn read_tasks(dir: &Path, start: Epoch) -> Result<Maybe<TaskRow>, HtmlError> {
    let path = dir.join("tasks.csv");
    if !path.exists() {
        return Ok(Err(missing(dir, &["tasks.csv"])));
    }
    let mut csv = Csv::open(&path)?;
    let (kind, arrival, finish, outcome, met) = (
        csv.col("kind")?,
        csv.col("arrival_utc")?,
        csv.col("finish_utc")?,
        csv.col("outcome")?,
        csv.col("deadline_met")?,
    );
    let mut rows = Vec::new();
    csv.for_each(|r, _| {
        let arrival_s = time_s(r.get(arrival).unwrap_or(""), start, "arrival_utc")?;
        let completed = r.get(outcome) == Some("completed");
        let latency_s = if completed {
            Some(time_s(r.get(finish).unwrap_or(""), start, "finish_utc")? - arrival_s)
        } else {
            None
        };
        rows.push(TaskRow {
            kind: r.get(kind).unwrap_or("").to_string(),
            arrival_s,
            latency_s,
            deadline_met: field(r, met, "deadline_met")?,
        });
        Ok(())
    })?;
    Ok(Ok(rows))
}

/// Record batches of a Parquet file.
fn parquet_batches(path: &Path) -> Result<Vec<RecordBatch>, HtmlError> {
    let file = File::open(path).map_err(io_err(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| bad(path, e.to_string()))?;
    let mut batches = Vec::new();
    let mut n = 0;
    for batch in reader {
        let batch = batch.map_err(|e| bad(path, e.to_string()))?;
        n += batch.num_rows();
        if n > MAX_ROWS {
            return Err(bad(path, format!("more than {MAX_ROWS} rows")));
        }
        batches.push(batch);
    }
    Ok(batches)
}

/// A column of a record batch by name, or an error naming the file and the column.
fn column<'a>(path: &Path, b: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, HtmlError> {
    b.column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| bad(path, format!("no column {name:?}")))
}

macro_rules! typed {
    ($path:expr, $batch:expr, $name:expr, $ty:ty) => {
        column($path, $batch, $name)?
            .as_primitive_opt::<$ty>()
            .ok_or_else(|| {
                bad(
                    $path,
                    format!(
                        "column {:?} has type {}",
                        $name,
                        column($path, $batch, $name)
                            .map(|c| c.data_type().to_string())
                            .unwrap_or_default()
                    ),
                )
            })?
    };
}

fn read_links(dir: &Path) -> Result<Maybe<LinkRow>, HtmlError> {
    let pq = dir.join("links.parquet");
    let mut rows = Vec::new();
    if pq.exists() {
        for b in parquet_batches(&pq)? {
            let (step, a, bb) = (
                typed!(&pq, &b, "step", UInt32Type),
                typed!(&pq, &b, "a", UInt32Type),
                typed!(&pq, &b, "b", UInt32Type),
            );
            let bytes = typed!(&pq, &b, "bytes", UInt64Type);
            let util = typed!(&pq, &b, "utilisation", Float64Type);
            let kind = column(&pq, &b, "kind")?
                .as_string_opt::<i32>()
                .ok_or_else(|| bad(&pq, "column \"kind\" is not text"))?;
            for i in 0..b.num_rows() {
                let k = kind.value(i);
                rows.push(LinkRow {
                    step: step.value(i),
                    a: a.value(i),
                    b: bb.value(i),
                    kind: LinkKind::parse(k)
                        .ok_or_else(|| bad(&pq, format!("row {i}: link kind {k:?}")))?,
                    bytes: bytes.value(i),
                    utilisation: util.value(i),
                });
            }
        }
        return Ok(Ok(rows));
    }
    let path = dir.join("links.csv");
    if !path.exists() {
        return Ok(Err(missing(dir, &["links.parquet", "links.csv"])));
    }
    let mut csv = Csv::open(&path)?;
    let cols = [
        csv.col("step")?,
        csv.col("a")?,
        csv.col("b")?,
        csv.col("kind")?,
        csv.col("bytes")?,
        csv.col("utilisation")?,
    ];
    csv.for_each(|r, _| {
        let k = r.get(cols[3]).unwrap_or("");
        rows.push(LinkRow {
            step: field(r, cols[0], "step")?,
            a: field(r, cols[1], "a")?,
            b: field(r, cols[2], "b")?,
            kind: LinkKind::parse(k)
                .ok_or_else(|| format!("link kind {k:?}: expected isl, gsl or fibre"))?,
            bytes: field(r, cols[4], "bytes")?,
            utilisation: field(r, cols[5], "utilisation")?,
        });
        Ok(())
    })?;
    Ok(Ok(rows))
}

fn read_nodes(dir: &Path) -> Result<Maybe<NodeRow>, HtmlError> {
    let pq = dir.join("nodes.parquet");
    let mut rows = Vec::new();
    if pq.exists() {
        for b in parquet_batches(&pq)? {
            let (step, sat) = (
                typed!(&pq, &b, "step", UInt32Type),
                typed!(&pq, &b, "satellite", UInt32Type),
            );
            let (soc, temp, compute) = (
                typed!(&pq, &b, "soc_fraction", Float32Type),
                typed!(&pq, &b, "temp_k", Float32Type),
                typed!(&pq, &b, "compute_w", Float32Type),
            );
            for i in 0..b.num_rows() {
                rows.push(NodeRow {
                    step: step.value(i),
                    satellite: sat.value(i),
                    soc_fraction: soc.value(i),
                    temp_k: temp.value(i),
                    compute_w: compute.value(i),
                });
            }
        }
        return Ok(Ok(rows));
    }
    let path = dir.join("nodes.csv");
    if !path.exists() {
        return Ok(Err(missing(dir, &["nodes.parquet", "nodes.csv"])));
    }
    let mut csv = Csv::open(&path)?;
    let cols = [
        csv.col("step")?,
        csv.col("satellite")?,
        csv.col("soc_fraction")?,
        csv.col("temp_k")?,
        csv.col("compute_w")?,
    ];
    csv.for_each(|r, _| {
        rows.push(NodeRow {
            step: field(r, cols[0], "step")?,
            satellite: field(r, cols[1], "satellite")?,
            soc_fraction: field(r, cols[2], "soc_fraction")?,
            temp_k: field(r, cols[3], "temp_k")?,
            compute_w: field(r, cols[4], "compute_w")?,
        });
        Ok(())
    })?;
    Ok(Ok(rows))
}

/// Fault records: `faults.parquet` (`time_utc` timestamp, `satellite` u32, `task` u64
/// nullable, `recovered` bool) or `faults.csv` (`time_utc,satellite,task,recovered`, task
/// empty when the fault hit no running stage).
fn read_faults(dir: &Path, start: Epoch) -> Result<Maybe<FaultRow>, HtmlError> {
    let pq = dir.join("faults.parquet");
    let mut rows = Vec::new();
    if pq.exists() {
        for b in parquet_batches(&pq)? {
            let t = typed!(&pq, &b, "time_utc", TimestampNanosecondType);
            let sat = typed!(&pq, &b, "satellite", UInt32Type);
            let task = typed!(&pq, &b, "task", UInt64Type);
            let rec = column(&pq, &b, "recovered")?
                .as_boolean_opt()
                .ok_or_else(|| bad(&pq, "column \"recovered\" is not boolean"))?;
            for i in 0..b.num_rows() {
                rows.push(FaultRow {
                    t_s: Epoch::from_unix_ns(t.value(i)).seconds_since(start),
                    satellite: sat.value(i),
                    task: task.is_valid(i).then(|| task.value(i)),
                    recovered: rec.value(i),
                });
            }
        }
        return Ok(Ok(rows));
    }
    let path = dir.join("faults.csv");
    if !path.exists() {
        return Ok(Err(missing(dir, &["faults.parquet", "faults.csv"])));
    }
    let mut csv = Csv::open(&path)?;
    let cols = [
        csv.col("time_utc")?,
        csv.col("satellite")?,
        csv.col("task")?,
        csv.col("recovered")?,
    ];
    csv.for_each(|r, _| {
        let task = r.get(cols[2]).unwrap_or("");
        rows.push(FaultRow {
            t_s: time_s(r.get(cols[0]).unwrap_or(""), start, "time_utc")?,
            satellite: field(r, cols[1], "satellite")?,
            task: if task.is_empty() {
                None
            } else {
                Some(field(r, cols[2], "task")?)
            },
            recovered: field(r, cols[3], "recovered")?,
        });
        Ok(())
    })?;
    Ok(Ok(rows))
}
