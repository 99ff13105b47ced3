//! The fault records: one [`FaultRecord`] a row, `faults.csv`
//! (`time_utc,satellite,task,recovered`; `task` empty when nothing ran on the device the
//! upset hit). The reader also takes `faults.parquet` (`time_utc` timestamp, `satellite`
//! u32, `task` u64 nullable, `recovered` bool), which this crate does not write yet.

use std::io::Write;
use std::path::Path;

use tiandi_sim::model::{FaultRecord, RunResult};

use crate::read::{Csv, ReadError, field, text, time};

pub const PARQUET_FILE: &str = "faults.parquet";
pub const CSV_FILE: &str = "faults.csv";

/// `faults.csv`.
pub fn write_csv(w: &mut dyn Write, r: &RunResult) -> std::io::Result<()> {
    writeln!(w, "time_utc,satellite,task,recovered")?;
    for f in &r.faults {
        let task = f.task.map(|t| t.to_string()).unwrap_or_default();
        writeln!(w, "{},{},{},{}", f.t, f.satellite, task, f.recovered)?;
    }
    Ok(())
}

/// Reads `faults.csv` at `path`. Its times have millisecond precision.
pub fn read_csv(path: &Path) -> Result<Vec<FaultRecord>, ReadError> {
    let csv = Csv::open(path)?;
    let [t, sat, task, recovered] = csv.cols(["time_utc", "satellite", "task", "recovered"])?;
    csv.rows(|r| {
        Ok(FaultRecord {
            t: time(r, t, "time_utc")?,
            satellite: field(r, sat, "satellite")?,
            task: match text(r, task) {
                "" => None,
                _ => Some(field(r, task, "task")?),
            },
            recovered: field(r, recovered, "recovered")?,
        })
    })
}

/// The reader of `faults.parquet` in a build without Parquet.
#[cfg(not(feature = "parquet"))]
pub use crate::read::no_parquet as read_parquet;

/// Reads `faults.parquet` at `path`.
#[cfg(feature = "parquet")]
pub fn read_parquet(path: &Path) -> Result<Vec<FaultRecord>, ReadError> {
    use arrow_array::Array;
    use arrow_array::types::{TimestampNanosecondType, UInt32Type, UInt64Type};
    use tiandi_orbit::Epoch;

    use crate::parquet_io::batches;

    let mut rows = Vec::new();
    for b in batches(path)? {
        let t = b.numbers::<TimestampNanosecondType>("time_utc")?;
        let sat = b.numbers::<UInt32Type>("satellite")?;
        let task = b.numbers::<UInt64Type>("task")?;
        let recovered = b.flags("recovered")?;
        for i in 0..b.n_rows() {
            rows.push(FaultRecord {
                t: Epoch::from_unix_ns(t.value(i)),
                satellite: sat.value(i),
                task: task.is_valid(i).then(|| task.value(i)),
                recovered: recovered.value(i),
            });
        }
    }
    Ok(rows)
}
