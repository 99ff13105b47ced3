//! The task files: `tasks.csv` ([`TaskRow`], one per task: what the simulator recorded and
//! whether the deadline was met) and, with the `parquet` feature, `tasks.parquet` (the same
//! columns, plus the deadline and the latency). Times are ISO-8601 UTC with milliseconds in
//! CSV, ns timestamps in Parquet.

use std::io::Write;
use std::path::Path;

use tiandi_orbit::Epoch;
use tiandi_sim::model::{Outcome, RunResult, TaskRecord};
use tiandi_workload::TaskKind;

use crate::read::{Csv, ReadError, field, text, time};

pub const CSV_FILE: &str = "tasks.csv";
pub const PARQUET_FILE: &str = "tasks.parquet";

/// Columns of `tasks.csv`.
pub const CSV_HEADER: &str = "id,kind,arrival_utc,placement,start_utc,finish_utc,bytes_moved,downlink_bytes,isl_bytes,retries,outcome,deadline_met";

/// One row of `tasks.csv`: a [`TaskRecord`] without its deadline, with whether it was met.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRow {
    pub id: u64,
    pub kind: TaskKind,
    pub arrival: Epoch,
    /// Node of each stage (empty when never placed).
    pub placement: Vec<u32>,
    pub start: Option<Epoch>,
    pub finish: Epoch,
    pub bytes_moved: u64,
    pub downlink_bytes: u64,
    pub isl_bytes: u64,
    pub retries: u32,
    pub outcome: Outcome,
    pub deadline_met: bool,
}

impl TaskRow {
    pub fn of(t: &TaskRecord) -> TaskRow {
        TaskRow {
            id: t.id,
            kind: t.kind,
            arrival: t.arrival,
            placement: t.placement.clone(),
            start: t.start,
            finish: t.finish,
            bytes_moved: t.bytes_moved,
            downlink_bytes: t.downlink_bytes,
            isl_bytes: t.isl_bytes,
            retries: t.retries,
            outcome: t.outcome,
            deadline_met: t.deadline_met(),
        }
    }
}

/// Node ids of each stage joined by `-` (empty when the task was never placed).
pub fn placement_text(placement: &[u32]) -> String {
    placement
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

pub fn write_csv(w: &mut dyn Write, r: &RunResult) -> std::io::Result<()> {
    writeln!(w, "{CSV_HEADER}")?;
    for t in r.tasks.iter().map(TaskRow::of) {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            t.id,
            t.kind.as_str(),
            t.arrival,
            placement_text(&t.placement),
            t.start.map(|s| s.to_string()).unwrap_or_default(),
            t.finish,
            t.bytes_moved,
            t.downlink_bytes,
            t.isl_bytes,
            t.retries,
            t.outcome.as_str(),
            t.deadline_met,
        )?;
    }
    Ok(())
}

fn outcome(text: &str) -> Result<Outcome, String> {
    [Outcome::Completed, Outcome::Failed, Outcome::Dropped]
        .into_iter()
        .find(|o| o.as_str() == text)
        .ok_or_else(|| format!("outcome {text:?}: expected completed, failed or dropped"))
}

fn kind(text: &str) -> Result<TaskKind, String> {
    TaskKind::parse(text).ok_or_else(|| {
        let names: Vec<&str> = TaskKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("kind {text:?}: expected one of {}", names.join(", "))
    })
}

fn placement(text: &str) -> Result<Vec<u32>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split('-')
        .map(|n| {
            n.parse()
                .map_err(|_| format!("placement {text:?}: expected node ids joined by -"))
        })
        .collect()
}

/// Reads `tasks.csv` at `path`.
pub fn read_csv(path: &Path) -> Result<Vec<TaskRow>, ReadError> {
    let csv = Csv::open(path)?;
    let [
        id,
        kind_c,
        arrival,
        place,
        start,
        finish,
        moved,
        down,
        isl,
        retries,
        out,
        met,
    ] = csv.cols([
        "id",
        "kind",
        "arrival_utc",
        "placement",
        "start_utc",
        "finish_utc",
        "bytes_moved",
        "downlink_bytes",
        "isl_bytes",
        "retries",
        "outcome",
        "deadline_met",
    ])?;
    csv.rows(|r| {
        Ok(TaskRow {
            id: field(r, id, "id")?,
            kind: kind(text(r, kind_c))?,
            arrival: time(r, arrival, "arrival_utc")?,
            placement: placement(text(r, place))?,
            start: match text(r, start) {
                "" => None,
                _ => Some(time(r, start, "start_utc")?),
            },
            finish: time(r, finish, "finish_utc")?,
            bytes_moved: field(r, moved, "bytes_moved")?,
            downlink_bytes: field(r, down, "downlink_bytes")?,
            isl_bytes: field(r, isl, "isl_bytes")?,
            retries: field(r, retries, "retries")?,
            outcome: outcome(text(r, out))?,
            deadline_met: field(r, met, "deadline_met")?,
        })
    })
}

/// `tasks.parquet`: the columns of `tasks.csv`, plus the deadline and the latency.
#[cfg(feature = "parquet")]
pub fn write_parquet(w: &mut (dyn Write + Send), r: &RunResult) -> std::io::Result<()> {
    use crate::parquet_io::{Columns, write_rows};
    use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
    let c = Columns::<TaskRecord>::new();
    write_rows(
        w,
        &r.tasks,
        &[
            c.numbers::<UInt64Type>("id", |t| t.id),
            c.texts("kind", |t| t.kind.as_str()),
            c.times("arrival_utc", false, |t| Some(t.arrival.unix_ns())),
            c.times("deadline_utc", false, |t| Some(t.deadline.unix_ns())),
            c.texts("placement", |t| placement_text(&t.placement)),
            c.times("start_utc", true, |t| t.start.map(|s| s.unix_ns())),
            c.times("finish_utc", false, |t| Some(t.finish.unix_ns())),
            c.numbers::<Float64Type>("latency_s", TaskRecord::latency_s),
            c.numbers::<UInt64Type>("bytes_moved", |t| t.bytes_moved),
            c.numbers::<UInt64Type>("downlink_bytes", |t| t.downlink_bytes),
            c.numbers::<UInt64Type>("isl_bytes", |t| t.isl_bytes),
            c.numbers::<UInt32Type>("retries", |t| t.retries),
            c.texts("outcome", |t| t.outcome.as_str()),
            c.flags("deadline_met", TaskRecord::deadline_met),
        ],
    )
}
