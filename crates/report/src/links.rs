//! The link series: bytes and utilisation of each link that carried data, per step, one
//! [`LinkSample`] a row, with the step's start time. `links.parquet` with the `parquet`
//! feature, `links.csv` without; the reader takes either.

use std::io::Write;
use std::path::Path;

use tiandi_network::LinkKind;
use tiandi_sim::model::{LinkSample, RunResult};

use crate::RunMeta;
use crate::read::{Csv, ReadError, field, text};

#[cfg(feature = "parquet")]
use crate::parquet_io::{Batch, batches, numbers, texts, times, utc, write_rows};
#[cfg(feature = "parquet")]
use crate::read::bad;
#[cfg(feature = "parquet")]
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
#[cfg(feature = "parquet")]
use arrow_schema::{DataType, Field, Schema};

pub const PARQUET_FILE: &str = "links.parquet";
pub const CSV_FILE: &str = "links.csv";

fn link_kind(text: &str) -> Option<LinkKind> {
    [LinkKind::Isl, LinkKind::Gsl, LinkKind::Fibre]
        .into_iter()
        .find(|k| k.as_str() == text)
}

/// `links.csv` (links that carried nothing are left out).
pub fn write_csv(w: &mut dyn Write, meta: &RunMeta, r: &RunResult) -> std::io::Result<()> {
    writeln!(w, "step,time_utc,a,b,kind,bytes,utilisation")?;
    for l in &r.links {
        writeln!(
            w,
            "{},{},{},{},{},{},{}",
            l.step,
            meta.step_start(l.step),
            l.a,
            l.b,
            l.kind.as_str(),
            l.bytes,
            l.utilisation
        )?;
    }
    Ok(())
}

/// Reads `links.csv` at `path` (`time_utc` follows from the step and is not read).
pub fn read_csv(path: &Path) -> Result<Vec<LinkSample>, ReadError> {
    let csv = Csv::open(path)?;
    let [step, a, b, kind_c, bytes, util] =
        csv.cols(["step", "a", "b", "kind", "bytes", "utilisation"])?;
    csv.rows(|r| {
        let k = text(r, kind_c);
        Ok(LinkSample {
            step: field(r, step, "step")?,
            a: field(r, a, "a")?,
            b: field(r, b, "b")?,
            kind: link_kind(k)
                .ok_or_else(|| format!("link kind {k:?}: expected isl, gsl or fibre"))?,
            bytes: field(r, bytes, "bytes")?,
            utilisation: field(r, util, "utilisation")?,
        })
    })
}

/// The reader of `links.parquet` in a build without Parquet.
#[cfg(not(feature = "parquet"))]
pub use crate::read::no_parquet as read_parquet;

/// `links.parquet`.
#[cfg(feature = "parquet")]
pub fn write_parquet(
    w: &mut (dyn Write + Send),
    meta: &RunMeta,
    r: &RunResult,
) -> std::io::Result<()> {
    let schema = Schema::new(vec![
        Field::new("step", DataType::UInt32, false),
        Field::new("time_utc", utc(), false),
        Field::new("a", DataType::UInt32, false),
        Field::new("b", DataType::UInt32, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("utilisation", DataType::Float64, false),
    ]);
    write_rows(w, schema, &r.links, |rows| {
        vec![
            numbers::<UInt32Type, _>(rows, |l| l.step),
            times(rows, |l| Some(meta.step_start(l.step).unix_ns())),
            numbers::<UInt32Type, _>(rows, |l| l.a),
            numbers::<UInt32Type, _>(rows, |l| l.b),
            texts(rows, |l| l.kind.as_str()),
            numbers::<UInt64Type, _>(rows, |l| l.bytes),
            numbers::<Float64Type, _>(rows, |l| l.utilisation),
        ]
    })
}

/// Reads `links.parquet` at `path`.
#[cfg(feature = "parquet")]
pub fn read_parquet(path: &Path) -> Result<Vec<LinkSample>, ReadError> {
    let mut rows = Vec::new();
    for batch in batches(path)? {
        let b = Batch {
            path,
            batch: &batch,
        };
        let (step, a, bb) = (
            b.numbers::<UInt32Type>("step")?,
            b.numbers::<UInt32Type>("a")?,
            b.numbers::<UInt32Type>("b")?,
        );
        let bytes = b.numbers::<UInt64Type>("bytes")?;
        let util = b.numbers::<Float64Type>("utilisation")?;
        let kind = b.texts("kind")?;
        for i in 0..batch.num_rows() {
            let k = kind.value(i);
            rows.push(LinkSample {
                step: step.value(i),
                a: a.value(i),
                b: bb.value(i),
                kind: link_kind(k).ok_or_else(|| bad(path, format!("row {i}: link kind {k:?}")))?,
                bytes: bytes.value(i),
                utilisation: util.value(i),
            });
        }
    }
    Ok(rows)
}
