//! CSV files a scenario refers to: ground stations and task traces. Errors name the file,
//! the line and the column.

use std::collections::{BTreeMap, BTreeSet};

use tiandi_orbit::{Epoch, GroundStation};
use tiandi_workload::{Destination, NodeIdx, Pin, Stage, Task, TaskKind};

use crate::error::ScenarioError;

type Result<T> = std::result::Result<T, ScenarioError>;

fn err(file: &str, line: usize, key: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        line: Some(line),
        key: key.to_string(),
        message: message.into(),
    }
}

/// Reads the records of a CSV with exactly `header`, giving each record with its line.
fn records(text: &str, file: &str, header: &[&str]) -> Result<Vec<(usize, csv::StringRecord)>> {
    // The csv crate counts CRLF-terminated lines one short: normalise so errors name the
    // right line.
    let text = text.replace("\r\n", "\n");
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let found = reader
        .headers()
        .map_err(|e| err(file, 1, "header", format!("cannot read the header: {e}")))?
        .clone();
    let found: Vec<&str> = found.iter().collect();
    if found != header {
        return Err(err(
            file,
            1,
            "header",
            format!("found {:?}, expected {}", found.join(","), header.join(",")),
        ));
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            err(file, line, "", format!("malformed CSV: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        out.push((line, record));
    }
    Ok(out)
}

fn number(file: &str, line: usize, key: &str, raw: &str) -> Result<f64> {
    raw.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| err(file, line, key, format!("expected a number, found {raw:?}")))
}

fn non_negative(file: &str, line: usize, key: &str, raw: &str) -> Result<f64> {
    let v = number(file, line, key, raw)?;
    if v < 0.0 {
        return Err(err(
            file,
            line,
            key,
            format!("must be zero or positive, found {v}"),
        ));
    }
    Ok(v)
}

/// A station CSV with the header `name,latitude_deg,longitude_deg,elevation_m` (the format
/// `tiandi contacts --ground-stations` reads).
pub fn parse_stations_csv(text: &str, file: &str) -> Result<Vec<GroundStation>> {
    const HEADER: [&str; 4] = ["name", "latitude_deg", "longitude_deg", "elevation_m"];
    let mut stations = Vec::new();
    for (line, r) in records(text, file, &HEADER)? {
        let lat = number(file, line, HEADER[1], &r[1])?;
        let lon = number(file, line, HEADER[2], &r[2])?;
        let alt = number(file, line, HEADER[3], &r[3])?;
        let st = GroundStation::new(&r[0], lat, lon, alt)
            .map_err(|e| err(file, line, e.field, e.to_string()))?;
        stations.push(st);
    }
    if stations.is_empty() {
        return Err(err(file, 1, "", "no stations (only a header)"));
    }
    Ok(stations)
}

/// Columns of a task trace.
pub const TRACE_HEADER: [&str; 10] = [
    "id",
    "kind",
    "arrival_utc",
    "origin",
    "destination",
    "input_bytes",
    "work_flop",
    "output_bytes",
    "memory_bytes",
    "deadline_s",
];

/// A task trace: one single-stage task per row. `origin` and `destination` are node names;
/// `destination` may also be `ground` (any ground station or data centre) or `origin`.
/// Ids must be unique; the run renumbers tasks by arrival.
pub fn parse_trace_csv(
    text: &str,
    file: &str,
    names: &BTreeMap<String, NodeIdx>,
    start: Epoch,
) -> Result<Vec<Task>> {
    let mut tasks = Vec::new();
    let mut ids = BTreeSet::new();
    let h = TRACE_HEADER;
    for (line, r) in records(text, file, &TRACE_HEADER)? {
        let id: u64 = r[0].parse().map_err(|_| {
            err(
                file,
                line,
                h[0],
                format!("expected a non-negative integer, found {:?}", &r[0]),
            )
        })?;
        if !ids.insert(id) {
            return Err(err(file, line, h[0], format!("id {id} appears twice")));
        }
        let kind = TaskKind::parse(&r[1]).ok_or_else(|| {
            let known: Vec<&str> = TaskKind::ALL.iter().map(|k| k.as_str()).collect();
            err(
                file,
                line,
                h[1],
                format!("expected one of {}, found {:?}", known.join(", "), &r[1]),
            )
        })?;
        let arrival = Epoch::parse_iso(&r[2]).map_err(|e| err(file, line, h[2], e.to_string()))?;
        if arrival < start {
            return Err(err(
                file,
                line,
                h[2],
                format!("{arrival} is before the run starts ({start})"),
            ));
        }
        let node = |i: usize| {
            names
                .get(&r[i])
                .copied()
                .ok_or_else(|| err(file, line, h[i], format!("no node named {:?}", &r[i])))
        };
        let origin = node(3)?;
        let destination = match &r[4] {
            "ground" => Destination::AnyGround,
            "origin" => Destination::Origin,
            _ => Destination::Node(node(4)?),
        };
        let input_bytes = non_negative(file, line, h[5], &r[5])?.round() as u64;
        let work_flop = non_negative(file, line, h[6], &r[6])?;
        let output_bytes = non_negative(file, line, h[7], &r[7])?.round() as u64;
        let memory_bytes = non_negative(file, line, h[8], &r[8])?.round() as u64;
        let deadline_s = number(file, line, h[9], &r[9])?;
        if deadline_s <= 0.0 {
            return Err(err(
                file,
                line,
                h[9],
                format!("must be positive, found {deadline_s}"),
            ));
        }
        let task = Task {
            id,
            kind,
            arrival,
            origin,
            destination,
            deadline: arrival.add_s_f64(deadline_s),
            stages: vec![Stage {
                work_flop,
                input_bytes: input_bytes.max(1),
                output_bytes: output_bytes.max(1),
                memory_bytes,
                pin: Pin::Free,
                after: Vec::new(),
                efficiency: kind.default_efficiency(),
            }],
        };
        task.validate()
            .map_err(|e| err(file, line, e.field, e.message))?;
        tasks.push(task);
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> BTreeMap<String, NodeIdx> {
        [
            ("SAT-0".to_string(), 0),
            ("Sanya".to_string(), 1),
            ("Gui'an".to_string(), 2),
        ]
        .into_iter()
        .collect()
    }

    const START: &str = "2026-11-24T00:00:00Z";

    #[test]
    fn trace_reads_and_names_bad_fields() {
        let head = TRACE_HEADER.join(",");
        let ok = format!(
            "{head}\n7,earth-observation,2026-11-24T00:01:00Z,SAT-0,ground,2e9,1e14,2e7,4e9,1800\n3,ground-ai,2026-11-24T00:00:30Z,Gui'an,Gui'an,1e6,1e12,1e3,1e9,60\n"
        );
        let start = Epoch::parse_iso(START).unwrap();
        let tasks = parse_trace_csv(&ok, "t.csv", &names(), start).unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].destination, Destination::AnyGround);
        assert_eq!(tasks[0].stages[0].input_bytes, 2_000_000_000);
        assert_eq!(tasks[1].destination, Destination::Node(2));
        assert_eq!(tasks[1].deadline, tasks[1].arrival.add_s_f64(60.0));

        let bad = format!(
            "{head}\n1,ground-ai,2026-11-24T00:00:30Z,Gui'an,Gui'an,1e6,1e12,1e3,1e9,60\n2,ground-ai,2026-11-24T00:00:30Z,Nowhere,Gui'an,1e6,1e12,1e3,1e9,60\n"
        );
        let e = parse_trace_csv(&bad, "t.csv", &names(), start).unwrap_err();
        assert_eq!(e.to_string(), "t.csv:3: origin: no node named \"Nowhere\"");
        let bad =
            format!("{head}\n1,ground-ai,2026-11-24T00:00:30Z,Gui'an,Gui'an,1e6,1e12,1e3,1e9,-5\n");
        let e = parse_trace_csv(&bad, "t.csv", &names(), start).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv:2: deadline_s: must be positive, found -5"
        );
        let bad =
            format!("{head}\n1,movie,2026-11-24T00:00:30Z,Gui'an,Gui'an,1e6,1e12,1e3,1e9,5\n");
        assert_eq!(
            parse_trace_csv(&bad, "t.csv", &names(), start)
                .unwrap_err()
                .key,
            "kind"
        );
        let e = parse_trace_csv("id,kind\n", "t.csv", &names(), start).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (Some(1), "header"));
    }

    #[test]
    fn stations_csv() {
        let s = parse_stations_csv(
            "name,latitude_deg,longitude_deg,elevation_m\nA,10,20,0\r\nB,95,20,0\n",
            "gs.csv",
        )
        .unwrap_err();
        assert_eq!((s.file.as_str(), s.line), ("gs.csv", Some(3)));
        let ok = parse_stations_csv(
            "name,latitude_deg,longitude_deg,elevation_m\nA,10,20,0\n",
            "gs.csv",
        )
        .unwrap();
        assert_eq!(ok[0].name, "A");
    }
}
