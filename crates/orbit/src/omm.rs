//! CelesTrak OMM (CCSDS Orbit Mean-Elements Message) in its JSON and CSV forms.
//!
//! Field names are CCSDS 502.0-B-3 keywords as CelesTrak publishes them (`OBJECT_NAME`,
//! `EPOCH`, `MEAN_MOTION`, ...). Numbers may be JSON numbers or strings.

use serde_json::Value;

use crate::elements::Elements;
use crate::time::Epoch;

/// A bad OMM record: where it is and which field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}:{location}: {field}: {message}")]
pub struct OmmError {
    pub source_name: String,
    /// `line N` for CSV and JSON syntax errors, `record N` (1-based) for JSON records.
    pub location: String,
    pub field: String,
    pub message: String,
}

/// The two OMM encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OmmFormat {
    Json,
    Csv,
}

/// Recognises OMM text by its first characters: `[`/`{` for JSON, an `OBJECT_NAME`/
/// `CCSDS_OMM_VERS` header for CSV. `None` means "not OMM" (read it as TLE).
pub fn detect(text: &str) -> Option<OmmFormat> {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('[') || t.starts_with('{') {
        Some(OmmFormat::Json)
    } else if t.starts_with("OBJECT_NAME") || t.starts_with("CCSDS_OMM_VERS") {
        Some(OmmFormat::Csv)
    } else {
        None
    }
}

/// Looks up a field of one record, as text.
trait Record {
    fn get(&self, key: &str) -> Option<String>;
}

impl Record for serde_json::Map<String, Value> {
    fn get(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

struct CsvRecord<'a> {
    header: &'a csv::StringRecord,
    row: &'a csv::StringRecord,
}

impl Record for CsvRecord<'_> {
    fn get(&self, key: &str) -> Option<String> {
        let idx = self.header.iter().position(|h| h == key)?;
        self.row
            .get(idx)
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().to_string())
    }
}

fn elements_from(rec: &dyn Record, src: &str, location: String) -> Result<Elements, OmmError> {
    let fail = |field: &str, message: String| OmmError {
        source_name: src.to_string(),
        location: location.clone(),
        field: field.to_string(),
        message,
    };
    let text = |key: &str| rec.get(key).ok_or_else(|| fail(key, "missing".into()));
    let num = |key: &str| -> Result<f64, OmmError> {
        let raw = text(key)?;
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| fail(key, format!("expected a number, found {raw:?}")))
    };
    let opt_num = |key: &str| -> Result<f64, OmmError> {
        if rec.get(key).is_some() {
            num(key)
        } else {
            Ok(0.0)
        }
    };
    let epoch_raw = text("EPOCH")?;
    let epoch = Epoch::parse_iso(&epoch_raw).map_err(|e| fail("EPOCH", e.to_string()))?;
    let eccentricity = num("ECCENTRICITY")?;
    if !(0.0..1.0).contains(&eccentricity) {
        return Err(fail(
            "ECCENTRICITY",
            format!("{eccentricity} is outside [0, 1)"),
        ));
    }
    let mean_motion_rev_day = num("MEAN_MOTION")?;
    if mean_motion_rev_day <= 0.0 {
        return Err(fail(
            "MEAN_MOTION",
            format!("must be positive, found {mean_motion_rev_day}"),
        ));
    }
    let inclination_deg = num("INCLINATION")?;
    if !(0.0..=180.0).contains(&inclination_deg) {
        return Err(fail(
            "INCLINATION",
            format!("{inclination_deg} deg is outside 0..180"),
        ));
    }
    let norad_raw = text("NORAD_CAT_ID")?;
    let norad_id = norad_raw.trim().parse().map_err(|_| {
        fail(
            "NORAD_CAT_ID",
            format!("expected a whole number, found {norad_raw:?}"),
        )
    })?;
    let whole = |key: &str| -> Result<u32, OmmError> {
        match rec.get(key) {
            None => Ok(0),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| fail(key, format!("expected a whole number, found {raw:?}"))),
        }
    };
    Ok(Elements {
        name: rec.get("OBJECT_NAME").unwrap_or_default(),
        norad_id,
        classification: rec
            .get("CLASSIFICATION_TYPE")
            .and_then(|c| c.chars().next())
            .unwrap_or('U'),
        international_designator: rec
            .get("OBJECT_ID")
            .map(|id| tle_designator(&id))
            .unwrap_or_default(),
        epoch,
        mean_motion_dot: opt_num("MEAN_MOTION_DOT")?,
        mean_motion_ddot: opt_num("MEAN_MOTION_DDOT")?,
        bstar: opt_num("BSTAR")?,
        ephemeris_type: whole("EPHEMERIS_TYPE")?.min(9) as u8,
        element_set_number: whole("ELEMENT_SET_NO")?,
        inclination_deg,
        raan_deg: num("RA_OF_ASC_NODE")?,
        eccentricity,
        arg_perigee_deg: num("ARG_OF_PERICENTER")?,
        mean_anomaly_deg: num("MEAN_ANOMALY")?,
        mean_motion_rev_day,
        revolution_number: whole("REV_AT_EPOCH")?,
    })
}

/// "1998-067A" -> "98067A" (the TLE form of the COSPAR id).
fn tle_designator(object_id: &str) -> String {
    match object_id.split_once('-') {
        Some((year, rest)) if year.len() == 4 => format!("{}{}", &year[2..], rest),
        _ => object_id.to_string(),
    }
}

/// Reads CelesTrak OMM JSON: an array of records (or one record).
pub fn parse_omm_json(text: &str, source_name: &str) -> Result<Vec<Elements>, OmmError> {
    let value: Value = serde_json::from_str(text).map_err(|e| OmmError {
        source_name: source_name.to_string(),
        location: format!("line {}:{}", e.line(), e.column()),
        field: "JSON".into(),
        message: e.to_string(),
    })?;
    let records = match value {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return Err(OmmError {
                source_name: source_name.into(),
                location: "line 1".into(),
                field: "JSON".into(),
                message: "expected an array of OMM records".into(),
            });
        }
    };
    records
        .iter()
        .enumerate()
        .map(|(i, rec)| {
            let location = format!("record {}", i + 1);
            let obj = rec.as_object().ok_or_else(|| OmmError {
                source_name: source_name.into(),
                location: location.clone(),
                field: "JSON".into(),
                message: "expected an object".into(),
            })?;
            elements_from(obj, source_name, location)
        })
        .collect()
}

/// Reads CelesTrak OMM CSV (a header row of keywords, one record per line).
pub fn parse_omm_csv(text: &str, source_name: &str) -> Result<Vec<Elements>, OmmError> {
    // The csv crate counts CRLF-terminated lines one short: normalise so errors name the
    // right line.
    let text = text.replace("\r\n", "\n");
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let csv_err = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line());
        OmmError {
            source_name: source_name.into(),
            location: format!("line {line}"),
            field: "CSV".into(),
            message: e.to_string(),
        }
    };
    let header = reader.headers().map_err(csv_err)?.clone();
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(csv_err)?;
        let line = row.position().map_or(0, |p| p.line());
        out.push(elements_from(
            &CsvRecord {
                header: &header,
                row: &row,
            },
            source_name,
            format!("line {line}"),
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tle::{TleOptions, parse_tle};

    const ISS_TLE: &str = "ISS (ZARYA)\n1 25544U 98067A   20194.88612269 -.00002218  00000-0 -31515-4 0  9992\n2 25544  51.6461 221.2784 0001413  89.1723 280.4612 15.49507896236008\n";
    const ISS_JSON: &str = r#"[{"OBJECT_NAME":"ISS (ZARYA)","OBJECT_ID":"1998-067A","EPOCH":"2020-07-12T21:16:01.000416","MEAN_MOTION":15.49507896,"ECCENTRICITY":0.0001413,"INCLINATION":51.6461,"RA_OF_ASC_NODE":221.2784,"ARG_OF_PERICENTER":89.1723,"MEAN_ANOMALY":280.4612,"EPHEMERIS_TYPE":0,"CLASSIFICATION_TYPE":"U","NORAD_CAT_ID":25544,"ELEMENT_SET_NO":999,"REV_AT_EPOCH":23600,"BSTAR":-3.1515e-5,"MEAN_MOTION_DOT":-2.218e-5,"MEAN_MOTION_DDOT":0}]"#;
    const ISS_CSV: &str = "OBJECT_NAME,OBJECT_ID,EPOCH,MEAN_MOTION,ECCENTRICITY,INCLINATION,RA_OF_ASC_NODE,ARG_OF_PERICENTER,MEAN_ANOMALY,EPHEMERIS_TYPE,CLASSIFICATION_TYPE,NORAD_CAT_ID,ELEMENT_SET_NO,REV_AT_EPOCH,BSTAR,MEAN_MOTION_DOT,MEAN_MOTION_DDOT\r\nISS (ZARYA),1998-067A,2020-07-12T21:16:01.000416,15.49507896,.0001413,51.6461,221.2784,89.1723,280.4612,0,U,25544,999,23600,-.31515E-4,-.2218E-4,0\r\n";

    #[test]
    fn json_and_csv_match_the_tle() {
        let tle = &parse_tle(ISS_TLE, "t", TleOptions::default())
            .unwrap()
            .elements[0];
        for els in [
            parse_omm_json(ISS_JSON, "j").unwrap(),
            parse_omm_csv(ISS_CSV, "c").unwrap(),
        ] {
            let e = &els[0];
            assert_eq!(e.name, tle.name);
            assert_eq!(e.international_designator, "98067A");
            assert_eq!(e.norad_id, tle.norad_id);
            // The TLE epoch has 0.864 ms resolution; the OMM gives microseconds.
            assert!(e.epoch.seconds_since(tle.epoch).abs() < 0.001);
            assert!((e.bstar - tle.bstar).abs() < 1e-15);
            assert_eq!(e.mean_motion_rev_day, tle.mean_motion_rev_day);
        }
        assert_eq!(detect(ISS_JSON), Some(OmmFormat::Json));
        assert_eq!(detect(ISS_CSV), Some(OmmFormat::Csv));
        assert_eq!(detect(ISS_TLE), None);
    }

    #[test]
    fn errors_name_record_and_field() {
        let e = parse_omm_json(&ISS_JSON.replace("15.49507896", "\"fast\""), "a.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.json:record 1: MEAN_MOTION: expected a number, found \"fast\""
        );
        let e = parse_omm_json(
            &ISS_JSON.replace("\"EPOCH\":\"2020-07-12T21:16:01.000416\",", ""),
            "a.json",
        )
        .unwrap_err();
        assert_eq!((e.field.as_str(), e.message.as_str()), ("EPOCH", "missing"));
        let e = parse_omm_csv(&ISS_CSV.replace(",.0001413,", ",1.5,"), "a.csv").unwrap_err();
        assert_eq!(
            (e.location.as_str(), e.field.as_str()),
            ("line 2", "ECCENTRICITY")
        );
        let e = parse_omm_json("[{\"OBJECT_NAME\": ", "b.json").unwrap_err();
        assert!(e.location.starts_with("line 1:"), "{e}");
    }
}
