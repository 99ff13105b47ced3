//! The node series: each satellite's state at the end of each step, one [`NodeSample`] a
//! row, with the step's end time. `nodes.parquet` with the `parquet` feature, `nodes.csv`
//! without; the reader takes either.

use std::io::Write;
use std::path::Path;

use tiandi_sim::model::{NodeSample, RunResult};

use crate::RunMeta;
use crate::read::{Csv, ReadError, field};

#[cfg(feature = "parquet")]
use crate::parquet_io::{Columns, batches, write_rows};
#[cfg(feature = "parquet")]
use arrow_array::types::{Float32Type, Float64Type, UInt32Type};

pub const PARQUET_FILE: &str = "nodes.parquet";
pub const CSV_FILE: &str = "nodes.csv";

/// `nodes.csv`.
pub fn write_csv(w: &mut dyn Write, meta: &RunMeta, r: &RunResult) -> std::io::Result<()> {
    writeln!(
        w,
        "step,time_utc,satellite,soc_fraction,temp_k,compute_w,curtailed_w,throttled,work_flop"
    )?;
    for n in &r.nodes {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{}",
            n.step,
            meta.step_start(n.step + 1),
            n.satellite,
            n.soc_fraction,
            n.temp_k,
            n.compute_w,
            n.curtailed_w,
            n.throttled,
            n.work_flop
        )?;
    }
    Ok(())
}

/// Reads `nodes.csv` at `path` (`time_utc` follows from the step and is not read).
pub fn read_csv(path: &Path) -> Result<Vec<NodeSample>, ReadError> {
    let csv = Csv::open(path)?;
    let [step, sat, soc, temp, compute, curtailed, throttled, work] = csv.cols([
        "step",
        "satellite",
        "soc_fraction",
        "temp_k",
        "compute_w",
        "curtailed_w",
        "throttled",
        "work_flop",
    ])?;
    csv.rows(|r| {
        Ok(NodeSample {
            step: field(r, step, "step")?,
            satellite: field(r, sat, "satellite")?,
            soc_fraction: field(r, soc, "soc_fraction")?,
            temp_k: field(r, temp, "temp_k")?,
            compute_w: field(r, compute, "compute_w")?,
            curtailed_w: field(r, curtailed, "curtailed_w")?,
            throttled: field(r, throttled, "throttled")?,
            work_flop: field(r, work, "work_flop")?,
        })
    })
}

/// The reader of `nodes.parquet` in a build without Parquet.
#[cfg(not(feature = "parquet"))]
pub use crate::read::no_parquet as read_parquet;

/// `nodes.parquet`.
#[cfg(feature = "parquet")]
pub fn write_parquet(
    w: &mut (dyn Write + Send),
    meta: &RunMeta,
    r: &RunResult,
) -> std::io::Result<()> {
    let c = Columns::<NodeSample>::new();
    write_rows(
        w,
        &r.nodes,
        &[
            c.numbers::<UInt32Type>("step", |n| n.step),
            c.times("time_utc", false, |n| {
                Some(meta.step_start(n.step + 1).unix_ns())
            }),
            c.numbers::<UInt32Type>("satellite", |n| n.satellite),
            c.numbers::<Float32Type>("soc_fraction", |n| n.soc_fraction),
            c.numbers::<Float32Type>("temp_k", |n| n.temp_k),
            c.numbers::<Float32Type>("compute_w", |n| n.compute_w),
            c.numbers::<Float32Type>("curtailed_w", |n| n.curtailed_w),
            c.flags("throttled", |n| n.throttled),
            c.numbers::<Float64Type>("work_flop", |n| n.work_flop),
        ],
    )
}

/// Reads `nodes.parquet` at `path`.
#[cfg(feature = "parquet")]
pub fn read_parquet(path: &Path) -> Result<Vec<NodeSample>, ReadError> {
    let mut rows = Vec::new();
    for b in batches(path)? {
        let (step, sat) = (
            b.numbers::<UInt32Type>("step")?,
            b.numbers::<UInt32Type>("satellite")?,
        );
        let (soc, temp, compute, curtailed) = (
            b.numbers::<Float32Type>("soc_fraction")?,
            b.numbers::<Float32Type>("temp_k")?,
            b.numbers::<Float32Type>("compute_w")?,
            b.numbers::<Float32Type>("curtailed_w")?,
        );
        let throttled = b.flags("throttled")?;
        let work = b.numbers::<Float64Type>("work_flop")?;
        for i in 0..b.n_rows() {
            rows.push(NodeSample {
                step: step.value(i),
                satellite: sat.value(i),
                soc_fraction: soc.value(i),
                temp_k: temp.value(i),
                compute_w: compute.value(i),
                curtailed_w: curtailed.value(i),
                throttled: throttled.value(i),
                work_flop: work.value(i),
            });
        }
    }
    Ok(rows)
}
