//! Parquet plumbing (feature `parquet`) shared by the file modules: writing rows as
//! Snappy-compressed record batches, one typed column at a time, and reading a file's
//! batches back with columns found by name and checked for type.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, PrimitiveBuilder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{Array, ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::read::{MAX_ROWS, ReadError, bad, io_err};

/// Rows per record batch: bounds the memory of the column builders.
const BATCH_ROWS: usize = 65_536;

/// UTC timestamps in ns.
pub(crate) fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn io(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(e)
}

/// Writes `rows` as batches of `schema`; `columns` makes a batch's columns from its rows,
/// in the order of the schema's fields.
pub(crate) fn write_rows<R>(
    w: &mut (dyn Write + Send),
    schema: Schema,
    rows: &[R],
    columns: impl Fn(&[R]) -> Vec<ArrayRef>,
) -> std::io::Result<()> {
    let schema = Arc::new(schema);
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(props)).map_err(io)?;
    for batch in rows.chunks(BATCH_ROWS) {
        let rb = RecordBatch::try_new(schema.clone(), columns(batch)).map_err(io)?;
        writer.write(&rb).map_err(io)?;
    }
    writer.close().map_err(io)?;
    Ok(())
}

/// A column of numbers (`T`: UInt32Type, Float64Type, ...), one per row.
pub(crate) fn numbers<T: ArrowPrimitiveType, R>(
    rows: &[R],
    f: impl Fn(&R) -> T::Native,
) -> ArrayRef {
    let mut b = PrimitiveBuilder::<T>::with_capacity(rows.len());
    rows.iter().for_each(|r| b.append_value(f(r)));
    Arc::new(b.finish())
}

/// A column of UTC timestamps (ns since 1970), null where `f` gives `None`.
pub(crate) fn times<R>(rows: &[R], f: impl Fn(&R) -> Option<i64>) -> ArrayRef {
    let mut b = TimestampNanosecondBuilder::with_capacity(rows.len()).with_timezone("UTC");
    rows.iter().for_each(|r| b.append_option(f(r)));
    Arc::new(b.finish())
}

pub(crate) fn texts<R, S: AsRef<str>>(rows: &[R], f: impl Fn(&R) -> S) -> ArrayRef {
    let mut b = StringBuilder::new();
    rows.iter().for_each(|r| b.append_value(f(r)));
    Arc::new(b.finish())
}

pub(crate) fn flags<R>(rows: &[R], f: impl Fn(&R) -> bool) -> ArrayRef {
    let mut b = BooleanBuilder::with_capacity(rows.len());
    rows.iter().for_each(|r| b.append_value(f(r)));
    Arc::new(b.finish())
}

/// Record batches of a Parquet file.
pub(crate) fn batches(path: &Path) -> Result<Vec<RecordBatch>, ReadError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
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

/// One record batch of a file being read: its columns by name, or an error naming the file
/// and the column.
pub(crate) struct Batch<'a> {
    pub path: &'a Path,
    pub batch: &'a RecordBatch,
}

impl<'a> Batch<'a> {
    fn column(&self, name: &str) -> Result<&'a dyn Array, ReadError> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| bad(self.path, format!("no column {name:?}")))
    }

    /// A column of numbers of type `T`.
    pub fn numbers<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<&'a PrimitiveArray<T>, ReadError> {
        let c = self.column(name)?;
        c.as_primitive_opt::<T>().ok_or_else(|| {
            bad(
                self.path,
                format!("column {name:?} has type {}", c.data_type()),
            )
        })
    }

    pub fn texts(&self, name: &str) -> Result<&'a StringArray, ReadError> {
        self.column(name)?
            .as_string_opt::<i32>()
            .ok_or_else(|| bad(self.path, format!("column {name:?} is not text")))
    }

    pub fn flags(&self, name: &str) -> Result<&'a BooleanArray, ReadError> {
        self.column(name)?
            .as_boolean_opt()
            .ok_or_else(|| bad(self.path, format!("column {name:?} is not boolean")))
    }
}
