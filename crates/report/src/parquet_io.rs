//! Parquet plumbing (feature `parquet`) shared by the file modules: writing rows as
//! Snappy-compressed record batches of a list of typed columns (name and values side by
//! side, so a schema cannot drift from its data), and reading a file's batches back with
//! columns found by name and checked for type.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, PrimitiveBuilder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{Array, ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::read::{MAX_ROWS, ReadError, bad, io_err};

/// Rows per record batch: bounds the memory of the column builders.
const BATCH_ROWS: usize = 65_536;

fn io(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(e)
}

/// One column of a file: its name, whether it may be null, and how a batch of rows makes
/// its values. The schema's type of a column is the type of the array it makes.
pub(crate) struct Column<'a, R> {
    name: &'static str,
    nullable: bool,
    make: MakeArray<'a, R>,
}

/// Makes a column's values of a batch of rows.
type MakeArray<'a, R> = Box<dyn Fn(&[R]) -> ArrayRef + 'a>;

/// The column constructors for rows of type `R` (naming `R` once lets the compiler type
/// each column's closure).
pub(crate) struct Columns<R>(std::marker::PhantomData<fn(&R)>);

impl<R> Columns<R> {
    pub(crate) fn new() -> Columns<R> {
        Columns(std::marker::PhantomData)
    }

    /// Numbers of type `T` (UInt32Type, Float64Type, ...), one per row.
    pub(crate) fn numbers<'a, T: ArrowPrimitiveType>(
        &self,
        name: &'static str,
        f: impl Fn(&R) -> T::Native + 'a,
    ) -> Column<'a, R> {
        Column {
            name,
            nullable: false,
            make: Box::new(move |rows| {
                let mut b = PrimitiveBuilder::<T>::with_capacity(rows.len());
                rows.iter().for_each(|r| b.append_value(f(r)));
                Arc::new(b.finish())
            }),
        }
    }

    /// UTC timestamps in ns since 1970; nullable when `f` may give `None`.
    pub(crate) fn times<'a>(
        &self,
        name: &'static str,
        nullable: bool,
        f: impl Fn(&R) -> Option<i64> + 'a,
    ) -> Column<'a, R> {
        Column {
            name,
            nullable,
            make: Box::new(move |rows| {
                let mut b =
                    TimestampNanosecondBuilder::with_capacity(rows.len()).with_timezone("UTC");
                rows.iter().for_each(|r| b.append_option(f(r)));
                Arc::new(b.finish())
            }),
        }
    }

    pub(crate) fn texts<'a, S: AsRef<str>>(
        &self,
        name: &'static str,
        f: impl Fn(&R) -> S + 'a,
    ) -> Column<'a, R> {
        Column {
            name,
            nullable: false,
            make: Box::new(move |rows| {
                let mut b = StringBuilder::new();
                rows.iter().for_each(|r| b.append_value(f(r)));
                Arc::new(b.finish())
            }),
        }
    }

    pub(crate) fn flags<'a>(
        &self,
        name: &'static str,
        f: impl Fn(&R) -> bool + 'a,
    ) -> Column<'a, R> {
        Column {
            name,
            nullable: false,
            make: Box::new(move |rows| {
                let mut b = BooleanBuilder::with_capacity(rows.len());
                rows.iter().for_each(|r| b.append_value(f(r)));
                Arc::new(b.finish())
            }),
        }
    }
}

/// Writes `rows` as Snappy-compressed record batches of `columns`.
pub(crate) fn write_rows<R>(
    w: &mut (dyn Write + Send),
    rows: &[R],
    columns: &[Column<'_, R>],
) -> std::io::Result<()> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(c.name, (c.make)(&[]).data_type().clone(), c.nullable))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(properties())).map_err(io)?;
    for batch in rows.chunks(BATCH_ROWS) {
        let arrays = columns.iter().map(|c| (c.make)(batch)).collect();
        let rb = RecordBatch::try_new(schema.clone(), arrays).map_err(io)?;
        writer.write(&rb).map_err(io)?;
    }
    writer.close().map_err(io)?;
    Ok(())
}

/// How every file is written: Snappy-compressed.
fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build()
}

/// Writes one record batch of nullable columns named `names` holding `arrays` (a table
/// whose columns are known only at run time: `runs.parquet`).
pub(crate) fn write_arrays(
    w: &mut (dyn Write + Send),
    names: &[&str],
    arrays: Vec<ArrayRef>,
) -> std::io::Result<()> {
    assert_eq!(names.len(), arrays.len(), "one array per column");
    let fields: Vec<Field> = names
        .iter()
        .zip(&arrays)
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(properties())).map_err(io)?;
    let rb = RecordBatch::try_new(schema, arrays).map_err(io)?;
    writer.write(&rb).map_err(io)?;
    writer.close().map_err(io)?;
    Ok(())
}

/// The record batches of the Parquet file at `path`.
pub(crate) fn batches(path: &Path) -> Result<Vec<Batch<'_>>, ReadError> {
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
        batches.push(Batch { path, batch });
    }
    Ok(batches)
}

/// One record batch of a file being read: its columns by name, or an error naming the file
/// and the column.
pub(crate) struct Batch<'a> {
    path: &'a Path,
    batch: RecordBatch,
}

impl Batch<'_> {
    pub fn n_rows(&self) -> usize {
        self.batch.num_rows()
    }

    fn column(&self, name: &str) -> Result<&dyn Array, ReadError> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| bad(self.path, format!("no column {name:?}")))
    }

    /// A column of numbers of type `T`.
    pub fn numbers<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<&PrimitiveArray<T>, ReadError> {
        let c = self.column(name)?;
        c.as_primitive_opt::<T>().ok_or_else(|| {
            bad(
                self.path,
                format!("column {name:?} has type {}", c.data_type()),
            )
        })
    }

    pub fn texts(&self, name: &str) -> Result<&StringArray, ReadError> {
        self.column(name)?
            .as_string_opt::<i32>()
            .ok_or_else(|| bad(self.path, format!("column {name:?} is not text")))
    }

    pub fn flags(&self, name: &str) -> Result<&BooleanArray, ReadError> {
        self.column(name)?
            .as_boolean_opt()
            .ok_or_else(|| bad(self.path, format!("column {name:?} is not boolean")))
    }
}
