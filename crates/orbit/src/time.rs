//! Time: an integer UTC instant (`Epoch`), ISO-8601 parsing/printing and sidereal time.
//!
//! Simulated time is an integer count of nanoseconds since 1970-01-01T00:00:00 UTC
//! (POSIX time: leap seconds are not counted, as in TLE epochs and SGP4). Floats appear
//! only when a physics routine needs Julian dates or minutes since an element epoch.

use std::fmt;

/// Nanoseconds in one second.
pub const NS_PER_S: i64 = 1_000_000_000;
/// Nanoseconds in one day.
pub const NS_PER_DAY: i64 = 86_400 * NS_PER_S;
/// Julian date of the Unix epoch 1970-01-01T00:00:00 UTC.
pub const JD_UNIX_EPOCH: f64 = 2_440_587.5;
/// Julian date of J2000.0 (2000-01-01T12:00:00).
pub const JD_J2000: f64 = 2_451_545.0;

/// A UTC instant, nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(i64);

/// An ISO-8601 timestamp that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid UTC time {text:?}: expected ISO-8601 such as 2026-11-24T12:00:00Z ({reason})")]
pub struct TimeParseError {
    pub text: String,
    pub reason: String,
}

impl Epoch {
    pub const fn from_unix_ns(ns: i64) -> Self {
        Epoch(ns)
    }

    pub const fn unix_ns(self) -> i64 {
        self.0
    }

    pub fn from_unix_s_f64(s: f64) -> Self {
        Epoch((s * NS_PER_S as f64).round() as i64)
    }

    /// Builds an instant from a calendar date and time of day (proleptic Gregorian, UTC).
    pub fn from_ymd_hms(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        min: u32,
        sec_f64: f64,
    ) -> Self {
        let days = days_from_civil(year, month, day);
        let whole = (days * 86_400 + i64::from(hour) * 3_600 + i64::from(min) * 60) * NS_PER_S;
        Epoch(whole + (sec_f64 * NS_PER_S as f64).round() as i64)
    }

    /// The TLE epoch form: a year and a fractional day of year (day 1.0 = Jan 1 00:00).
    pub fn from_year_day(year: i32, day_of_year: f64) -> Self {
        let jan1 = days_from_civil(year, 1, 1) * NS_PER_DAY;
        Epoch(jan1 + ((day_of_year - 1.0) * NS_PER_DAY as f64).round() as i64)
    }

    /// Parses `2026-11-24T12:00:00Z`, `2026-11-24T12:00:00.123+08:00`, `2026-11-24 12:00:00`
    /// (a time without zone is UTC) or a bare date `2026-11-24`.
    pub fn parse_iso(text: &str) -> Result<Self, TimeParseError> {
        let t = text.trim();
        let err = |reason: &str| TimeParseError {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let in_range = |dt: chrono::NaiveDateTime| {
            Self::from_chrono(dt).ok_or_else(|| {
                err("outside 1677-09-21 to 2262-04-11, the range of nanosecond time")
            })
        };
        if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
            return in_range(dt.naive_utc());
        }
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(t.trim_end_matches('Z'), fmt) {
                return in_range(dt);
            }
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return in_range(d.and_hms_opt(0, 0, 0).ok_or_else(|| err("bad date"))?);
        }
        Err(err("not a date and time"))
    }

    /// `None` outside the range of i64 nanoseconds since 1970.
    fn from_chrono(dt: chrono::NaiveDateTime) -> Option<Self> {
        dt.and_utc().timestamp_nanos_opt().map(Epoch)
    }

    pub fn add_ns(self, ns: i64) -> Self {
        Epoch(self.0 + ns)
    }

    pub fn add_s_f64(self, s: f64) -> Self {
        Epoch(self.0 + (s * NS_PER_S as f64).round() as i64)
    }

    /// Seconds from `earlier` to `self`.
    pub fn seconds_since(self, earlier: Epoch) -> f64 {
        (self.0 - earlier.0) as f64 / NS_PER_S as f64
    }

    /// Julian date split into a whole part and a fraction, to keep sub-millisecond precision.
    pub fn julian_date_split(self) -> (f64, f64) {
        let days = self.0.div_euclid(NS_PER_DAY);
        let rem = self.0.rem_euclid(NS_PER_DAY);
        (JD_UNIX_EPOCH + days as f64, rem as f64 / NS_PER_DAY as f64)
    }

    /// Julian centuries of 36525 days since J2000.0.
    pub fn julian_centuries_j2000(self) -> f64 {
        let (whole, frac) = self.julian_date_split();
        ((whole - JD_J2000) + frac) / 36_525.0
    }

    /// Julian years of 365.25 days since J2000.0 (the `sgp4` crate's epoch unit).
    pub fn julian_years_j2000(self) -> f64 {
        let (whole, frac) = self.julian_date_split();
        ((whole - JD_J2000) + frac) / 365.25
    }
}

impl fmt::Display for Epoch {
    /// ISO-8601 UTC with millisecond precision, rounded to the nearest millisecond:
    /// `2026-11-24T12:00:00.123Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = (self.0 + 500_000).div_euclid(1_000_000);
        let days = ms.div_euclid(86_400_000);
        let rem = ms.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (h, rem) = (rem / 3_600_000, rem % 3_600_000);
        let (mi, rem) = (rem / 60_000, rem % 60_000);
        let (s, milli) = (rem / 1_000, rem % 1_000);
        write!(f, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
    }
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Greenwich mean sidereal time (IAU 1982, Vallado eq. 3-47), radians in [0, 2pi).
///
/// UT1 is taken equal to UTC (|UT1-UTC| < 0.9 s, i.e. < 0.4 km of Earth rotation at the
/// equator); this is the angle that rotates TEME into the pseudo-Earth-fixed frame.
pub fn gmst_rad(t: Epoch) -> f64 {
    let (whole, frac) = t.julian_date_split();
    let tut1 = ((whole - JD_J2000) + frac) / 36_525.0;
    let seconds = -6.2e-6 * tut1 * tut1 * tut1
        + 0.093_104 * tut1 * tut1
        + (876_600.0 * 3_600.0 + 8_640_184.812_866) * tut1
        + 67_310.548_41;
    (seconds * std::f64::consts::PI / 43_200.0).rem_euclid(std::f64::consts::TAU)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_beyond_nanosecond_range_are_errors_not_overflows() {
        for text in [
            "2263-01-01T00:00:00Z",
            "1600-01-01",
            "3778-11-11T08:08:27.629Z",
        ] {
            let e = Epoch::parse_iso(text).unwrap_err();
            assert!(e.reason.contains("range"), "{text}: {e}");
        }
        assert!(Epoch::parse_iso("2262-04-11T00:00:00Z").is_ok());
    }

    #[test]
    fn iso_round_trip_and_rounding() {
        let t = Epoch::parse_iso("2026-11-24T12:00:00.1234Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-24T12:00:00.123Z");
        let t = Epoch::parse_iso("2026-11-24T23:59:59.9996Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-25T00:00:00.000Z");
        let t = Epoch::parse_iso("2026-11-24T20:00:00+08:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-24T12:00:00.000Z");
        assert_eq!(
            Epoch::parse_iso("1969-12-31T23:59:59.5Z")
                .unwrap()
                .to_string(),
            "1969-12-31T23:59:59.500Z"
        );
        assert!(Epoch::parse_iso("2026-13-01T00:00:00Z").is_err());
        assert!(Epoch::parse_iso("yesterday").is_err());
    }

    #[test]
    fn year_day_matches_calendar() {
        // Day 1.5 of 2020 is Jan 1 12:00; day 60 of leap year 2020 is Feb 29.
        assert_eq!(
            Epoch::from_year_day(2020, 1.5),
            Epoch::from_ymd_hms(2020, 1, 1, 12, 0, 0.0)
        );
        assert_eq!(
            Epoch::from_year_day(2020, 60.0),
            Epoch::from_ymd_hms(2020, 2, 29, 0, 0, 0.0)
        );
    }

    #[test]
    fn gmst_matches_vallado_example_3_5() {
        // Vallado, Fundamentals of Astrodynamics (4th ed.), Example 3-5:
        // 1992 Aug 20 12:14 UT1 -> GMST = 152.578 787 886 deg.
        let t = Epoch::from_ymd_hms(1992, 8, 20, 12, 14, 0.0);
        let gmst_deg = gmst_rad(t).to_degrees();
        assert!((gmst_deg - 152.578_787_886).abs() < 1e-6, "{gmst_deg}");
    }
}
