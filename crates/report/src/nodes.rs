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

/// The power columns, W, in file order, with how each is read from and written to a sample.
type PowerField = (
    &'static str,
    fn(&NodeSample) -> f32,
    fn(&mut NodeSample, f32),
);

const POWER: [PowerField; 7] = [
    ("compute_w", |n| n.compute_w, |n, v| n.compute_w = v),
    ("idle_w", |n| n.idle_w, |n, v| n.idle_w = v),
    ("bus_w", |n| n.bus_w, |n, v| n.bus_w = v),
    ("heater_w", |n| n.heater_w, |n, v| n.heater_w = v),
    ("harvested_w", |n| n.harvested_w, |n, v| n.harvested_w = v),
    ("loss_w", |n| n.loss_w, |n, v| n.loss_w = v),
    ("curtailed_w", |n| n.curtailed_w, |n, v| n.curtailed_w = v),
];

/// `nodes.csv`.
pub fn write_csv(w: &mut dyn Write, meta: &RunMeta, r: &RunResult) -> std::io::Result<()> {
    write!(w, "step,time_utc,satellite,soc_fraction,temp_k")?;
    for (name, _, _) in &POWER {
        write!(w, ",{name}")?;
    }
    writeln!(w, ",throttled,power_limited,powered_slots,work_flop")?;
    for n in &r.nodes {
        write!(
            w,
            "{},{},{},{},{}",
            n.step,
            meta.step_start(n.step + 1),
            n.satellite,
            n.soc_fraction,
            n.temp_k,
        )?;
        for (_, get, _) in &POWER {
            write!(w, ",{}", get(n))?;
        }
        writeln!(
            w,
            ",{},{},{},{}",
            n.throttled, n.power_limited, n.powered_slots, n.work_flop
        )?;
    }
    Ok(())
}

/// Reads `nodes.csv` at `path` (`time_utc` follows from the step and is not read).
pub fn read_csv(path: &Path) -> Result<Vec<NodeSample>, ReadError> {
    let csv = Csv::open(path)?;
    let [step, sat, soc, temp, throttled, limited, powered, work] = csv.cols([
        "step",
        "satellite",
        "soc_fraction",
        "temp_k",
        "throttled",
        "power_limited",
        "powered_slots",
        "work_flop",
    ])?;
    let power: Vec<usize> = POWER
        .iter()
        .map(|(name, _, _)| csv.col(name))
        .collect::<Result<_, _>>()?;
    csv.rows(|r| {
        let mut n = NodeSample {
            step: field(r, step, "step")?,
            satellite: field(r, sat, "satellite")?,
            soc_fraction: field(r, soc, "soc_fraction")?,
            temp_k: field(r, temp, "temp_k")?,
            throttled: field(r, throttled, "throttled")?,
            power_limited: field(r, limited, "power_limited")?,
            powered_slots: field(r, powered, "powered_slots")?,
            work_flop: field(r, work, "work_flop")?,
            ..NodeSample::default()
        };
        for ((name, _, set), &idx) in POWER.iter().zip(&power) {
            set(&mut n, field(r, idx, name)?);
        }
        Ok(n)
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
    let mut cols = vec![
        c.numbers::<UInt32Type>("step", |n| n.step),
        c.times("time_utc", false, |n| {
            Some(meta.step_start(n.step + 1).unix_ns())
        }),
        c.numbers::<UInt32Type>("satellite", |n| n.satellite),
        c.numbers::<Float32Type>("soc_fraction", |n| n.soc_fraction),
        c.numbers::<Float32Type>("temp_k", |n| n.temp_k),
    ];
    for (name, get, _) in POWER {
        cols.push(c.numbers::<Float32Type>(name, get));
    }
    cols.extend([
        c.flags("throttled", |n| n.throttled),
        c.flags("power_limited", |n| n.power_limited),
        c.numbers::<UInt32Type>("powered_slots", |n| n.powered_slots),
        c.numbers::<Float64Type>("work_flop", |n| n.work_flop),
    ]);
    write_rows(w, &r.nodes, &cols)
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
        let (soc, temp) = (
            b.numbers::<Float32Type>("soc_fraction")?,
            b.numbers::<Float32Type>("temp_k")?,
        );
        let power = POWER
            .iter()
            .map(|(name, _, set)| Ok((b.numbers::<Float32Type>(name)?, *set)))
            .collect::<Result<Vec<_>, ReadError>>()?;
        let (throttled, limited) = (b.flags("throttled")?, b.flags("power_limited")?);
        let powered = b.numbers::<UInt32Type>("powered_slots")?;
        let work = b.numbers::<Float64Type>("work_flop")?;
        for i in 0..b.n_rows() {
            let mut n = NodeSample {
                step: step.value(i),
                satellite: sat.value(i),
                soc_fraction: soc.value(i),
                temp_k: temp.value(i),
                throttled: throttled.value(i),
                power_limited: limited.value(i),
                powered_slots: powered.value(i),
                work_flop: work.value(i),
                ..NodeSample::default()
            };
            for (col, set) in &power {
                set(&mut n, col.value(i));
            }
            rows.push(n);
        }
    }
    Ok(rows)
}
