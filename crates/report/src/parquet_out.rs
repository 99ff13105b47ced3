//! Parquet outputs (feature `parquet`): tasks, link utilisation and node series as typed
//! columns (UTC timestamps in ns, unsigned ids and byte counts), Snappy-compressed.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, StringBuilder, TimestampNanosecondBuilder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tiandi_sim::model::RunResult;

use crate::RunMeta;
use crate::csv_out::placement_text;

/// Rows per record batch: bounds the memory of the column builders.
const BATCH_ROWS: usize = 65_536;

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn io(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(e)
}

/// Writes batches built by `batch(range)` for consecutive row ranges.
fn write_batches(
    w: &mut (dyn Write + Send),
    schema: Arc<Schema>,
    n_rows: usize,
    batch: impl Fn(std::ops::Range<usize>) -> Vec<ArrayRef>,
) -> std::io::Result<()> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(props)).map_err(io)?;
    let mut from = 0;
    while from < n_rows {
        let to = (from + BATCH_ROWS).min(n_rows);
        let rb = RecordBatch::try_new(schema.clone(), batch(from..to)).map_err(io)?;
        writer.write(&rb).map_err(io)?;
        from = to;
    }
    writer.close().map_err(io)?;
    Ok(())
}

/// `tasks.parquet`: the columns of `tasks.csv`, plus the deadline and the latency.
pub fn write_tasks(w: &mut (dyn Write + Send), r: &RunResult) -> std::io::Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::UInt64, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("arrival_utc", utc(), false),
        Field::new("deadline_utc", utc(), false),
        Field::new("placement", DataType::Utf8, false),
        Field::new("start_utc", utc(), true),
        Field::new("finish_utc", utc(), false),
        Field::new("latency_s", DataType::Float64, false),
        Field::new("bytes_moved", DataType::UInt64, false),
        Field::new("downlink_bytes", DataType::UInt64, false),
        Field::new("isl_bytes", DataType::UInt64, false),
        Field::new("retries", DataType::UInt32, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("deadline_met", DataType::Boolean, false),
    ]));
    write_batches(w, schema, r.tasks.len(), |range| {
        let rows = &r.tasks[range];
        let ts = |f: &dyn Fn(&tiandi_sim::model::TaskRecord) -> Option<i64>| {
            let mut b = TimestampNanosecondBuilder::with_capacity(rows.len()).with_timezone("UTC");
            rows.iter().for_each(|t| b.append_option(f(t)));
            Arc::new(b.finish()) as ArrayRef
        };
        let u64s = |f: &dyn Fn(&tiandi_sim::model::TaskRecord) -> u64| {
            let mut b = UInt64Builder::with_capacity(rows.len());
            rows.iter().for_each(|t| b.append_value(f(t)));
            Arc::new(b.finish()) as ArrayRef
        };
        let strs = |f: &dyn Fn(&tiandi_sim::model::TaskRecord) -> String| {
            let mut b = StringBuilder::new();
            rows.iter().for_each(|t| b.append_value(f(t)));
            Arc::new(b.finish()) as ArrayRef
        };
        let mut latency = Float64Builder::with_capacity(rows.len());
        let mut retries = UInt32Builder::with_capacity(rows.len());
        let mut met = BooleanBuilder::with_capacity(rows.len());
        for t in rows {
            latency.append_value(t.latency_s());
            retries.append_value(t.retries);
            met.append_value(t.deadline_met());
        }
        vec![
            u64s(&|t| t.id),
            strs(&|t| t.kind.as_str().to_string()),
            ts(&|t| Some(t.arrival.unix_ns())),
            ts(&|t| Some(t.deadline.unix_ns())),
            strs(&placement_text),
            ts(&|t| t.start.map(|s| s.unix_ns())),
            ts(&|t| Some(t.finish.unix_ns())),
            Arc::new(latency.finish()),
            u64s(&|t| t.bytes_moved),
            u64s(&|t| t.downlink_bytes),
            u64s(&|t| t.isl_bytes),
            Arc::new(retries.finish()),
            strs(&|t| t.outcome.as_str().to_string()),
            Arc::new(met.finish()),
        ]
    })
}

/// `links.parquet`: bytes and utilisation of each link that carried data, per step.
pub fn write_links(
    w: &mut (dyn Write + Send),
    meta: &RunMeta,
    r: &RunResult,
) -> std::io::Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("step", DataType::UInt32, false),
        Field::new("time_utc", utc(), false),
        Field::new("a", DataType::UInt32, false),
        Field::new("b", DataType::UInt32, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("utilisation", DataType::Float64, false),
    ]));
    write_batches(w, schema, r.links.len(), |range| {
        let rows = &r.links[range];
        let (mut step, mut a, mut b) = (
            UInt32Builder::new(),
            UInt32Builder::new(),
            UInt32Builder::new(),
        );
        let mut time = TimestampNanosecondBuilder::new().with_timezone("UTC");
        let mut kind = StringBuilder::new();
        let mut bytes = UInt64Builder::new();
        let mut util = Float64Builder::new();
        for l in rows {
            step.append_value(l.step);
            time.append_value(meta.step_start(l.step).unix_ns());
            a.append_value(l.a);
            b.append_value(l.b);
            kind.append_value(l.kind.as_str());
            bytes.append_value(l.bytes);
            util.append_value(l.utilisation);
        }
        vec![
            Arc::new(step.finish()),
            Arc::new(time.finish()),
            Arc::new(a.finish()),
            Arc::new(b.finish()),
            Arc::new(kind.finish()),
            Arc::new(bytes.finish()),
            Arc::new(util.finish()),
        ]
    })
}

/// `nodes.parquet`: each satellite's state of charge, temperature and power per step.
pub fn write_nodes(
    w: &mut (dyn Write + Send),
    meta: &RunMeta,
    r: &RunResult,
) -> std::io::Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("step", DataType::UInt32, false),
        Field::new("time_utc", utc(), false),
        Field::new("satellite", DataType::UInt32, false),
        Field::new("soc_fraction", DataType::Float32, false),
        Field::new("temp_k", DataType::Float32, false),
        Field::new("compute_w", DataType::Float32, false),
        Field::new("curtailed_w", DataType::Float32, false),
        Field::new("throttled", DataType::Boolean, false),
        Field::new("work_flop", DataType::Float64, false),
    ]));
    write_batches(w, schema, r.nodes.len(), |range| {
        let rows = &r.nodes[range];
        let (mut step, mut sat) = (UInt32Builder::new(), UInt32Builder::new());
        let mut time = TimestampNanosecondBuilder::new().with_timezone("UTC");
        let (mut soc, mut temp, mut compute, mut curtailed) = (
            Float32Builder::new(),
            Float32Builder::new(),
            Float32Builder::new(),
            Float32Builder::new(),
        );
        let mut throttled = BooleanBuilder::new();
        let mut work = Float64Builder::new();
        for n in rows {
            step.append_value(n.step);
            time.append_value(meta.step_start(n.step + 1).unix_ns());
            sat.append_value(n.satellite);
            soc.append_value(n.soc_fraction);
            temp.append_value(n.temp_k);
            compute.append_value(n.compute_w);
            curtailed.append_value(n.curtailed_w);
            throttled.append_value(n.throttled);
            work.append_value(n.work_flop);
        }
        vec![
            Arc::new(step.finish()),
            Arc::new(time.finish()),
            Arc::new(sat.finish()),
            Arc::new(soc.finish()),
            Arc::new(temp.finish()),
            Arc::new(compute.finish()),
            Arc::new(curtailed.finish()),
            Arc::new(throttled.finish()),
            Arc::new(work.finish()),
        ]
    })
}
