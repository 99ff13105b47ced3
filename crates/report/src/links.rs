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
use crate::parquet_io::{Columns, batches, write_rows};
#[cfg(feature = "parquet")]
use crate::read::bad;
#[cfg(feature = "parquet")]
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};

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
    let c = Columns::<LinkSample>::new();
    write_rows(
        w,
        &r.links,
        &[
            c.numbers::<UInt32Type>("step", |l| l.step),
            c.times("time_utc", false, |l| {
                Some(meta.step_start(l.step).unix_ns())
            }),
            c.numbers::<UInt32Type>("a", |l| l.a),
            c.numbers::<UInt32Type>("b", |l| l.b),
            c.texts("kind", |l| l.kind.as_str()),
            c.numbers::<UInt64Type>("bytes", |l| l.bytes),
            c.numbers::<Float64Type>("utilisation", |l| l.utilisation),
        ],
    )
}

/// Reads `links.parquet` at `path`.
#[cfg(feature = "parquet")]
pub fn read_parquet(path: &Path) -> Result<Vec<LinkSample>, ReadError> {
    let mut rows = Vec::new();
    for b in batches(path)? {
        let (step, a, bb) = (
            b.numbers::<UInt32Type>("step")?,
            b.numbers::<UInt32Type>("a")?,
            b.numbers::<UInt32Type>("b")?,
        );
        let bytes = b.numbers::<UInt64Type>("bytes")?;
        let util = b.numbers::<Float64Type>("utilisation")?;
        let kind = b.texts("kind")?;
        for i in 0..b.n_rows() {
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
