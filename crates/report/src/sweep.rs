//! The files of `tiandi sweep`, one row per run: `summaries.jsonl` (each run's summary entry,
//! [`PolicyFigures`], as one JSON line: the lossless record that `sweep merge` reads back)
//! and the same runs flattened into named, typed cells as `runs.csv` and `runs.parquet`.
//!
//! Flattening is generic, so that a figure added to [`PolicyFigures`] becomes a column with
//! no change here: a scalar field is a column of its name, a field of a nested object is
//! `PARENT.FIELD` (`energy.compute_wh`), an entry of `by_kind` is `KIND.FIELD`
//! (`earth-observation.deadline_met_ratio`), any other array `PARENT.INDEX`. The columns of
//! a table are the union over its rows in order of first appearance (rows in grid order),
//! after the leading `scenario_hash,policy,seed`; a value a run lacks, or has as `null`,
//! is an empty CSV cell and a Parquet null.
//!
//! Determinism: the rows are parsed from the JSON lines in both a run and a merge, so the
//! two derive the same table from the same text. Integers stay integers; floats are
//! written by Rust's shortest round trip with a `.` or an exponent (`1.0`, `2.5e-7`), so
//! that a CSV cell reads back as the same type and value, and a table read back and
//! written again is byte-identical.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::PolicyRun;
use crate::read::{MAX_ROWS, ReadError, bad, io_err};
use crate::summary::{RunMeta, SummaryFile};

pub const SUMMARIES_FILE: &str = "summaries.jsonl";
pub const CSV_FILE: &str = "runs.csv";
pub const PARQUET_FILE: &str = "runs.parquet";

/// The first columns of every table, in this order.
pub const LEADING: [&str; 3] = ["scenario_hash", "policy", "seed"];

/// Fields of a summary entry left out of the table: the version is the grid's (the sweep
/// writes it once, in `sweep.json`).
const LEFT_OUT: [&str; 1] = ["tiandi_version"];

/// One value of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    /// A non-negative integer.
    UInt(u64),
    /// A negative integer.
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cell {
    /// The CSV text of the cell: empty for null, shortest round trip for floats (always
    /// with a `.` or an exponent, so it does not read back as an integer).
    pub fn text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Bool(b) => b.to_string(),
            Cell::UInt(u) => u.to_string(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(x) => format!("{x:?}"),
            Cell::Text(s) => s.clone(),
        }
    }

    /// The value as a number, for statistics (`None` for null, text and flags).
    pub fn number(&self) -> Option<f64> {
        match *self {
            Cell::UInt(u) => Some(u as f64),
            Cell::Int(i) => Some(i as f64),
            Cell::Float(x) => Some(x),
            _ => None,
        }
    }
}

/// The Parquet type of a column, decided by its values alone (so a merged table types a
/// column as the unsharded one does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Boolean,
    UInt64,
    /// Integers of which some are negative (and none above `i64::MAX`).
    Int64,
    Float64,
    /// Text, or values of several kinds (written as their CSV text).
    Utf8,
}

impl ColumnType {
    /// The type of a column holding `cells`. A column with no value at all is Float64 (as
    /// most figures are).
    pub fn of<'a>(cells: impl IntoIterator<Item = &'a Cell>) -> ColumnType {
        let (mut uint, mut int, mut float, mut bool_, mut text, mut big) =
            (false, false, false, false, false, false);
        for c in cells {
            match c {
                Cell::Null => {}
                Cell::Bool(_) => bool_ = true,
                Cell::UInt(u) => {
                    uint = true;
                    big |= i64::try_from(*u).is_err();
                }
                Cell::Int(_) => int = true,
                Cell::Float(_) => float = true,
                Cell::Text(_) => text = true,
            }
        }
        match (bool_, uint || int, float, text) {
            (false, false, false, false) => ColumnType::Float64,
            (true, false, false, false) => ColumnType::Boolean,
            (false, true, false, false) if !int => ColumnType::UInt64,
            (false, true, false, false) if !big => ColumnType::Int64,
            (false, false, true, false) => ColumnType::Float64,
            _ => ColumnType::Utf8,
        }
    }
}

/// One run's row: its grid coordinates and its cells, the leading columns first.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub policy: String,
    pub seed: u64,
    pub cells: Vec<(String, Cell)>,
}

/// The `summaries.jsonl` line of one run (without its newline): the run's entry of
/// `summary.json`, compact.
pub fn summary_line(meta: &RunMeta, run: &PolicyRun<'_>) -> String {
    let figures = SummaryFile::of(meta, std::slice::from_ref(run))
        .policies
        .remove(0);
    serde_json::to_string(&figures).expect("plain data serialises")
}

/// A JSON value with its object keys in the order of the text (`serde_json::Value` sorts
/// them unless a feature somewhere in the build says otherwise).
#[derive(Clone, Debug, PartialEq)]
enum Tree {
    Null,
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tree, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tree;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Tree, E> {
                Ok(Tree::Null)
            }
            fn visit_none<E>(self) -> Result<Tree, E> {
                Ok(Tree::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
                Tree::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Tree, E> {
                Ok(Tree::Bool(b))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Tree, E> {
                Ok(Tree::UInt(u))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Tree, E> {
                Ok(u64::try_from(i).map_or(Tree::Int(i), Tree::UInt))
            }
            fn visit_f64<E>(self, x: f64) -> Result<Tree, E> {
                Ok(Tree::Float(x))
            }
            fn visit_str<E>(self, s: &str) -> Result<Tree, E> {
                Ok(Tree::Text(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Tree, E> {
                Ok(Tree::Text(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
                let mut items = Vec::new();
                while let Some(t) = seq.next_element()? {
                    items.push(t);
                }
                Ok(Tree::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Tree>()? {
                    entries.push((k, v));
                }
                Ok(Tree::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// Appends the cells of `tree` under the column name `name`.
fn flatten_into(name: String, tree: Tree, out: &mut Vec<(String, Cell)>) {
    let cell = match tree {
        Tree::Null => Cell::Null,
        Tree::Bool(b) => Cell::Bool(b),
        Tree::UInt(u) => Cell::UInt(u),
        Tree::Int(i) => Cell::Int(i),
        Tree::Float(x) => Cell::Float(x),
        Tree::Text(s) => Cell::Text(s),
        Tree::Map(entries) => {
            for (k, v) in entries {
                flatten_into(format!("{name}.{k}"), v, out);
            }
            return;
        }
        Tree::List(items) => {
            for (i, v) in items.into_iter().enumerate() {
                flatten_into(format!("{name}.{i}"), v, out);
            }
            return;
        }
    };
    out.push((name, cell));
}

/// The entries of `by_kind`: each one's fields as `KIND.FIELD`; an entry without a `kind`
/// string as `by_kind.INDEX.FIELD`.
fn flatten_kinds(items: Vec<Tree>, out: &mut Vec<(String, Cell)>) {
    for (i, item) in items.into_iter().enumerate() {
        let kind = match &item {
            Tree::Map(entries) => entries.iter().find_map(|(k, v)| match (k.as_str(), v) {
                ("kind", Tree::Text(s)) => Some(s.clone()),
                _ => None,
            }),
            _ => None,
        };
        match (kind, item) {
            (Some(kind), Tree::Map(entries)) => {
                for (k, v) in entries.into_iter().filter(|(k, _)| k != "kind") {
                    flatten_into(format!("{kind}.{k}"), v, out);
                }
            }
            (_, item) => flatten_into(format!("by_kind.{i}"), item, out),
        }
    }
}

/// The row of one `summaries.jsonl` line; an error says what is wrong with it.
pub fn parse_line(line: &str) -> Result<RunRow, String> {
    let tree: Tree =
        serde_json::from_str(line).map_err(|e| format!("column {}: {e}", e.column()))?;
    let Tree::Map(entries) = tree else {
        return Err("expected a JSON object (one run's summary)".into());
    };
    let mut lead: [Option<Cell>; 3] = [None, None, None];
    let mut rest = Vec::new();
    for (k, v) in entries {
        if let Some(i) = LEADING.iter().position(|l| *l == k) {
            let mut cell = Vec::new();
            flatten_into(k.clone(), v, &mut cell);
            match cell.pop() {
                Some((name, c)) if cell.is_empty() && name == k && lead[i].is_none() => {
                    lead[i] = Some(c)
                }
                _ => return Err(format!("{k}: expected one value")),
            }
            continue;
        }
        if LEFT_OUT.contains(&k.as_str()) {
            continue;
        }
        match v {
            Tree::List(items) if k == "by_kind" => flatten_kinds(items, &mut rest),
            v => flatten_into(k, v, &mut rest),
        }
    }
    let [hash, policy, seed] = lead;
    let policy = match policy {
        Some(Cell::Text(p)) => p,
        _ => return Err("policy: expected the policy's name".into()),
    };
    let seed = match seed {
        Some(Cell::UInt(s)) => s,
        _ => return Err("seed: expected a non-negative integer".into()),
    };
    let hash = match hash {
        Some(c @ Cell::Text(_)) => c,
        _ => return Err("scenario_hash: expected the scenario's hash".into()),
    };
    let mut cells = vec![
        (LEADING[0].to_string(), hash),
        (LEADING[1].to_string(), Cell::Text(policy.clone())),
        (LEADING[2].to_string(), Cell::UInt(seed)),
    ];
    cells.extend(rest);
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in &cells {
        if !seen.insert(name.as_str()) {
            return Err(format!("column {name:?} comes twice"));
        }
    }
    Ok(RunRow {
        policy,
        seed,
        cells,
    })
}

/// The rows of a `summaries.jsonl` file with their line numbers; an error names the file
/// and the line.
pub fn read_summaries(path: &Path) -> Result<Vec<(usize, RunRow)>, ReadError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if rows.len() == MAX_ROWS {
            return Err(bad(path, format!("more than {MAX_ROWS} rows")));
        }
        let row = parse_line(line).map_err(|m| bad(path, format!("line {}: {m}", i + 1)))?;
        rows.push((i + 1, row));
    }
    Ok(rows)
}

/// Runs as a table: the union of their columns in order of first appearance, and each
/// run's cells in that order (null where a run has no such column).
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn of(runs: &[RunRow]) -> Table {
        let mut columns: Vec<String> = LEADING.iter().map(|c| c.to_string()).collect();
        let mut index: BTreeMap<String, usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
        for run in runs {
            for (name, _) in &run.cells {
                if !index.contains_key(name) {
                    index.insert(name.clone(), columns.len());
                    columns.push(name.clone());
                }
            }
        }
        let rows = runs
            .iter()
            .map(|run| {
                let mut row = vec![Cell::Null; columns.len()];
                for (name, cell) in &run.cells {
                    row[index[name]] = cell.clone();
                }
                row
            })
            .collect();
        Table { columns, rows }
    }

    /// The index of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The Parquet type of column `idx`.
    pub fn column_type(&self, idx: usize) -> ColumnType {
        ColumnType::of(self.rows.iter().map(|r| &r[idx]))
    }
}

/// `runs.csv`.
pub fn write_csv(w: &mut (dyn Write + Send), table: &Table) -> std::io::Result<()> {
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record(&table.columns)?;
    for row in &table.rows {
        csv.write_record(row.iter().map(Cell::text))?;
    }
    csv.flush()
}

/// `summaries.jsonl`: the lines, each ending in a newline.
pub fn write_summaries(w: &mut (dyn Write + Send), lines: &[String]) -> std::io::Result<()> {
    for line in lines {
        debug_assert!(!line.contains('\n'));
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// `runs.parquet`: the columns of `runs.csv`, each typed by [`ColumnType::of`], all
/// nullable.
#[cfg(feature = "parquet")]
pub fn write_parquet(w: &mut (dyn Write + Send), table: &Table) -> std::io::Result<()> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, UInt64Array};

    // Each column collects its cells as options: a cell of another type (only Null, by
    // `ColumnType::of`) is a null.
    let column = |idx: usize| -> ArrayRef {
        let cells = table.rows.iter().map(|r| &r[idx]);
        match table.column_type(idx) {
            ColumnType::Boolean => Arc::new(
                cells
                    .map(|c| match c {
                        Cell::Bool(v) => Some(*v),
                        _ => None,
                    })
                    .collect::<BooleanArray>(),
            ),
            ColumnType::UInt64 => Arc::new(
                cells
                    .map(|c| match c {
                        Cell::UInt(v) => Some(*v),
                        _ => None,
                    })
                    .collect::<UInt64Array>(),
            ),
            ColumnType::Int64 => Arc::new(
                cells
                    .map(|c| match c {
                        Cell::UInt(v) => Some(i64::try_from(*v).expect("typed Int64: fits")),
                        Cell::Int(v) => Some(*v),
                        _ => None,
                    })
                    .collect::<Int64Array>(),
            ),
            ColumnType::Float64 => Arc::new(
                cells
                    .map(|c| match c {
                        Cell::Float(v) => Some(*v),
                        _ => None,
                    })
                    .collect::<Float64Array>(),
            ),
            ColumnType::Utf8 => Arc::new(
                cells
                    .map(|c| match c {
                        Cell::Null => None,
                        c => Some(c.text()),
                    })
                    .collect::<StringArray>(),
            ),
        }
    };
    let names: Vec<&str> = table.columns.iter().map(String::as_str).collect();
    crate::parquet_io::write_arrays(w, &names, (0..table.columns.len()).map(column).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(extra: &str) -> String {
        format!(
            r#"{{"policy":"onboard","tiandi_version":"0.1.0","scenario_hash":"fnv1a64:00000000000000ff","seed":7,"completed":3,"ratio":1.0,"tiny":2.5e-7,"missing":null,"energy":{{"compute_wh":12.5,"idle_wh":0.0}},"by_kind":[{{"kind":"earth-observation","total":4,"deadline_met_ratio":0.75}},{{"kind":"ground-ai","total":1,"deadline_met_ratio":null}}]{extra}}}"#
        )
    }

    #[test]
    fn a_line_flattens_with_leading_columns_nested_names_and_kinds() {
        let row = parse_line(&line("")).unwrap();
        assert_eq!(row.policy, "onboard");
        assert_eq!(row.seed, 7);
        let names: Vec<&str> = row.cells.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "scenario_hash",
                "policy",
                "seed",
                "completed",
                "ratio",
                "tiny",
                "missing",
                "energy.compute_wh",
                "energy.idle_wh",
                "earth-observation.total",
                "earth-observation.deadline_met_ratio",
                "ground-ai.total",
                "ground-ai.deadline_met_ratio",
            ]
        );
        let texts: Vec<String> = row.cells.iter().map(|(_, c)| c.text()).collect();
        assert_eq!(
            texts,
            [
                "fnv1a64:00000000000000ff",
                "onboard",
                "7",
                "3",
                "1.0",
                "2.5e-7",
                "",
                "12.5",
                "0.0",
                "4",
                "0.75",
                "1",
                ""
            ]
        );
    }

    #[test]
    fn columns_are_the_union_in_first_appearance_order() {
        let a = parse_line(&line("")).unwrap();
        let b = parse_line(&line(r#","later":-3"#).replace(r#""tiny":2.5e-7,"#, "")).unwrap();
        let t = Table::of(&[b.clone(), a.clone()]);
        assert_eq!(t.columns[3..5], ["completed".to_string(), "ratio".into()]);
        assert_eq!(t.columns.last().unwrap(), "tiny");
        let tiny = t.column("tiny").unwrap();
        assert_eq!(t.rows[0][tiny], Cell::Null);
        assert_eq!(t.rows[1][tiny], Cell::Float(2.5e-7));
        let later = t.column("later").unwrap();
        assert_eq!(t.column_type(later), ColumnType::Int64);
        assert_eq!(t.column_type(t.column("seed").unwrap()), ColumnType::UInt64);
        assert_eq!(
            t.column_type(t.column("missing").unwrap()),
            ColumnType::Float64
        );
        assert_eq!(t.column_type(t.column("policy").unwrap()), ColumnType::Utf8);
    }

    #[test]
    fn csv_reads_back_to_the_same_types_values_and_bytes() {
        // Floats whose shortest forms are long or exponential, and integers at the limits.
        let extra = r#","a":0.1,"b":1e300,"c":5e-324,"d":1.7976931348623157e308,"e":18446744073709551615,"f":-9223372036854775808,"g":123456789.12345679,"h":-0.0"#;
        let row = parse_line(&line(extra)).unwrap();
        let t = Table::of(&[row]);
        let mut out = Vec::new();
        write_csv(&mut out, &t).unwrap();
        // Read back: an empty cell is null, digits an integer, a number with `.` or an
        // exponent a float, anything else text.
        let mut reader = csv::Reader::from_reader(out.as_slice());
        let columns: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<Vec<Cell>> = reader
            .records()
            .map(|r| {
                r.unwrap()
                    .iter()
                    .map(
                        |c| match (c.parse::<u64>(), c.parse::<i64>(), c.parse::<f64>()) {
                            _ if c.is_empty() => Cell::Null,
                            (Ok(u), _, _) => Cell::UInt(u),
                            (_, Ok(i), _) => Cell::Int(i),
                            (_, _, Ok(x)) if c.contains(['.', 'e']) => Cell::Float(x),
                            _ => Cell::Text(c.to_string()),
                        },
                    )
                    .collect()
            })
            .collect();
        let back = Table { columns, rows };
        assert_eq!(back, t);
        let mut again = Vec::new();
        write_csv(&mut again, &back).unwrap();
        assert_eq!(again, out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("scenario_hash,policy,seed,completed,"));
        assert!(text.trim_end().ends_with(",0.1,1e300,5e-324,1.7976931348623157e308,18446744073709551615,-9223372036854775808,123456789.12345679,-0.0"), "{text}");
    }

    #[test]
    fn mixed_kinds_make_a_text_column_and_bad_lines_are_refused() {
        assert_eq!(
            ColumnType::of(&[Cell::UInt(1), Cell::Float(0.5)]),
            ColumnType::Utf8
        );
        assert_eq!(
            ColumnType::of(&[Cell::UInt(u64::MAX), Cell::Int(-1)]),
            ColumnType::Utf8
        );
        assert_eq!(
            ColumnType::of(&[Cell::Bool(true), Cell::Null]),
            ColumnType::Boolean
        );
        assert!(parse_line("[1]").unwrap_err().contains("JSON object"));
        assert!(parse_line("{\"policy\":1}").unwrap_err().contains("policy"));
        let e = parse_line(&line(r#","energy.idle_wh":1"#)).unwrap_err();
        assert!(e.contains("\"energy.idle_wh\" comes twice"), "{e}");
        assert!(parse_line("{").unwrap_err().starts_with("column "));
    }

    #[cfg(feature = "parquet")]
    #[test]
    fn parquet_types_integers_floats_texts_and_nulls() {
        use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
        let a = parse_line(&line(r#","later":-3"#)).unwrap();
        let t = Table::of(&[a]);
        let dir = std::env::temp_dir().join(format!("tiandi-sweep-pq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(PARQUET_FILE);
        crate::write_atomic(&path, |w| write_parquet(w, &t)).unwrap();
        let batches = crate::parquet_io::batches(&path).unwrap();
        let b = &batches[0];
        assert_eq!(b.numbers::<UInt64Type>("seed").unwrap().value(0), 7);
        assert_eq!(b.numbers::<Int64Type>("later").unwrap().value(0), -3);
        let r = b.numbers::<Float64Type>("ratio").unwrap();
        assert_eq!(r.value(0), 1.0);
        let m = b.numbers::<Float64Type>("missing").unwrap();
        assert!(arrow_array::Array::is_null(m, 0));
        assert_eq!(b.texts("policy").unwrap().value(0), "onboard");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
