//! Reading the user's files: orbit element files (TLE / OMM) and ground-station CSVs.
//!
//! Every error names the file, and where the format has lines, the line and field.

use std::path::Path;

use anyhow::{Context, Result, bail};
use tiandi_orbit::{Elements, GroundStation, Satellite, TleOptions};

/// Reads a whole file, naming it in the error.
pub fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Reads orbital elements from a TLE file (2- or 3-line), an OMM JSON file or an OMM CSV
/// file, recognised by content. Warnings (lenient checksum mismatches) go to stderr.
pub fn read_elements(path: &Path, lenient: bool) -> Result<Vec<Elements>> {
    let text = read_text(path)?;
    let name = path.display().to_string();
    let elements = match tiandi_orbit::omm::detect(&text) {
        Some(tiandi_orbit::omm::OmmFormat::Json) => {
            tiandi_orbit::omm::parse_omm_json(&text, &name)?
        }
        Some(tiandi_orbit::omm::OmmFormat::Csv) => tiandi_orbit::omm::parse_omm_csv(&text, &name)?,
        None => {
            let read = tiandi_orbit::parse_tle(&text, &name, TleOptions { lenient })?;
            for w in &read.warnings {
                eprintln!("warning: {w}");
            }
            read.elements
        }
    };
    if elements.is_empty() {
        bail!("{name}: no element sets found (expected TLE lines or OMM records)");
    }
    Ok(elements)
}

/// Reads elements and sets each satellite up for SGP4.
pub fn read_satellites(path: &Path, lenient: bool) -> Result<Vec<Satellite>> {
    let elements = read_elements(path, lenient)?;
    let name = path.display().to_string();
    elements
        .into_iter()
        .map(|e| Satellite::new(e).with_context(|| name.clone()))
        .collect()
}

/// Reads a ground-station CSV with the header `name,latitude_deg,longitude_deg,elevation_m`.
pub fn read_stations_csv(path: &Path) -> Result<Vec<GroundStation>> {
    let text = read_text(path)?;
    parse_stations_csv(&text, &path.display().to_string())
}

pub fn parse_stations_csv(text: &str, source: &str) -> Result<Vec<GroundStation>> {
    const HEADER: [&str; 4] = ["name", "latitude_deg", "longitude_deg", "elevation_m"];
    // The csv crate counts CRLF-terminated lines one short: normalise so errors name the
    // right line.
    let text = text.replace("\r\n", "\n");
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .with_context(|| format!("{source}:1: cannot read the header"))?
        .clone();
    let header: Vec<&str> = header.iter().collect();
    if header != HEADER {
        bail!(
            "{source}:1: header is {:?}, expected {}",
            header.join(","),
            HEADER.join(",")
        );
    }
    let mut stations = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{source}: malformed CSV"))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| -> Result<f64> {
            let raw = &record[i];
            raw.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| {
                    format!(
                        "{source}:{line}: {}: expected a number, found {raw:?}",
                        HEADER[i]
                    )
                })
        };
        let station = GroundStation::new(&record[0], field(1)?, field(2)?, field(3)?)
            .with_context(|| format!("{source}:{line}"))?;
        stations.push(station);
    }
    if stations.is_empty() {
        bail!("{source}: no stations (only a header)");
    }
    Ok(stations)
}

/// Parses `--station NAME,LAT_DEG,LON_DEG,ALT_M`.
pub fn parse_station_arg(arg: &str) -> Result<GroundStation> {
    let parts: Vec<&str> = arg.split(',').map(str::trim).collect();
    if parts.len() != 4 {
        bail!("--station {arg:?}: expected NAME,LAT_DEG,LON_DEG,ALT_M");
    }
    let num = |i: usize, what: &str| -> Result<f64> {
        parts[i]
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .with_context(|| format!("--station {arg:?}: {what} {:?} is not a number", parts[i]))
    };
    GroundStation::new(
        parts[0],
        num(1, "LAT_DEG")?,
        num(2, "LON_DEG")?,
        num(3, "ALT_M")?,
    )
    .with_context(|| format!("--station {arg:?}"))
}
