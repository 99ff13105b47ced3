//! `tiandi propagate`, `contacts`, `eclipses` and `constellation`: the orbit-core commands.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, Frame, GroundStation, Satellite};

use crate::input;
use crate::progress;

/// Where satellites come from: a file, or the built-in default constellation.
#[derive(Args, Clone)]
pub struct SatelliteSource {
    /// Orbit element file: TLE (2- or 3-line, any mix), or CelesTrak OMM JSON/CSV.
    /// Without it, the built-in default compute constellation is used.
    #[arg(long, value_name = "FILE")]
    pub tle: Option<PathBuf>,
    /// Accept TLE checksum mismatches with a warning instead of an error.
    #[arg(long)]
    pub lenient: bool,
}

impl SatelliteSource {
    pub fn load(&self) -> Result<Vec<Satellite>> {
        match &self.tle {
            Some(path) => input::read_satellites(path, self.lenient),
            None => Ok(tiandi_scenario::default_constellation()?),
        }
    }
}

/// A UTC window.
#[derive(Args, Clone)]
pub struct Window {
    /// Start, ISO-8601 UTC (e.g. 2026-11-24T00:00:00Z). Default: the scenario epoch.
    #[arg(long, value_name = "ISO")]
    pub start: Option<String>,
    /// End, ISO-8601 UTC. Default: one day after the start.
    #[arg(long, value_name = "ISO")]
    pub end: Option<String>,
}

impl Window {
    fn resolve(&self) -> Result<(Epoch, Epoch)> {
        let start = match &self.start {
            Some(s) => Epoch::parse_iso(s).context("--start")?,
            None => tiandi_scenario::DEFAULT_EPOCH,
        };
        let end = match &self.end {
            Some(s) => Epoch::parse_iso(s).context("--end")?,
            None => start.add_ns(tiandi_orbit::time::NS_PER_DAY),
        };
        if end <= start {
            bail!("--end {end} is not after --start {start}");
        }
        Ok((start, end))
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FrameArg {
    Teme,
    Itrf,
}

#[derive(Args)]
pub struct PropagateArgs {
    #[command(flatten)]
    source: SatelliteSource,
    #[command(flatten)]
    window: Window,
    /// Output step, seconds.
    #[arg(long, default_value_t = 60.0, value_name = "S")]
    step_s: f64,
    /// Output frame: TEME (SGP4's) or ITRF (Earth-fixed, no polar motion).
    #[arg(long, value_enum, default_value = "teme")]
    frame: FrameArg,
}

pub fn propagate(args: PropagateArgs) -> Result<()> {
    let sats = args.source.load()?;
    let (start, end) = args.window.resolve()?;
    if !(args.step_s.is_finite() && args.step_s >= 0.001) {
        bail!("--step-s {}: must be at least 0.001 s", args.step_s);
    }
    let step_ns = (args.step_s * 1e9).round() as i64;
    let n_steps = (end.unix_ns() - start.unix_ns()) / step_ns + 1;
    if n_steps.saturating_mul(sats.len() as i64) > 200_000_000 {
        bail!(
            "{} satellites x {n_steps} steps is more than 200 million rows; use a larger --step-s",
            sats.len()
        );
    }
    let times: Vec<Epoch> = (0..n_steps).map(|k| start.add_ns(k * step_ns)).collect();
    let frame = match args.frame {
        FrameArg::Teme => Frame::Teme,
        FrameArg::Itrf => Frame::Itrf,
    };
    let bar = progress::bar(sats.len() as u64, "propagate");
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(
        out,
        "satellite,time_utc,x_km,y_km,z_km,vx_km_s,vy_km_s,vz_km_s"
    )?;
    // Chunks keep memory bounded for large runs while rayon works inside each chunk.
    for chunk in sats.chunks(256) {
        let states = tiandi_orbit::propagate_grid(chunk, &times, frame)?;
        for (sat, states) in chunk.iter().zip(states) {
            let label = csv_field(sat.label());
            for (t, s) in times.iter().zip(states) {
                let (r, v) = (s.position_km, s.velocity_km_s);
                writeln!(
                    out,
                    "{label},{t},{:.6},{:.6},{:.6},{:.9},{:.9},{:.9}",
                    r.x, r.y, r.z, v.x, v.y, v.z
                )?;
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    out.flush()?;
    Ok(())
}

#[derive(Args)]
pub struct ContactsArgs {
    #[command(flatten)]
    source: SatelliteSource,
    /// A ground station NAME,LAT_DEG,LON_DEG,ALT_M (repeatable).
    #[arg(long = "station", value_name = "NAME,LAT,LON,ALT_M")]
    stations: Vec<String>,
    /// Ground-station CSV with header name,latitude_deg,longitude_deg,elevation_m.
    #[arg(long = "stations", value_name = "CSV")]
    stations_csv: Option<PathBuf>,
    #[command(flatten)]
    window: Window,
    /// Elevation mask, degrees above the horizon.
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "E",
        allow_negative_numbers = true
    )]
    min_elevation_deg: f64,
}

pub fn contacts(args: ContactsArgs) -> Result<()> {
    if !(args.min_elevation_deg.is_finite() && (-90.0..=90.0).contains(&args.min_elevation_deg)) {
        bail!(
            "--min-elevation-deg {}: must be within [-90, 90] degrees",
            args.min_elevation_deg
        );
    }
    let (start, end) = args.window.resolve()?;
    let mut stations: Vec<GroundStation> = args
        .stations
        .iter()
        .map(|s| input::parse_station_arg(s))
        .collect::<Result<_>>()?;
    if let Some(path) = &args.stations_csv {
        stations.extend(input::read_stations_csv(path)?);
    }
    if stations.is_empty() {
        if args.source.tle.is_some() {
            bail!("no ground stations: give --station NAME,LAT,LON,ALT_M or --stations CSV");
        }
        stations = tiandi_scenario::default_stations()?;
    }
    let sats = args.source.load()?;
    let bar = progress::bar(sats.len() as u64, "contacts");
    let contacts = tiandi_orbit::find_contacts(
        &sats,
        &stations,
        start,
        end,
        args.min_elevation_deg,
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(
        out,
        "satellite,station,aos_utc,los_utc,max_elevation_deg,max_elevation_utc"
    )?;
    let mut rows: Vec<(&tiandi_orbit::Contact, &str, &str)> = contacts
        .iter()
        .map(|c| {
            (
                c,
                sats[c.satellite_idx].label(),
                stations[c.station_idx].name.as_str(),
            )
        })
        .collect();
    // Sorted by AOS, then satellite and station as printed.
    rows.sort_by(|a, b| (a.0.aos, a.1, a.2).cmp(&(b.0.aos, b.1, b.2)));
    for (c, sat, station) in rows {
        writeln!(
            out,
            "{},{},{},{},{:.4},{}",
            csv_field(sat),
            csv_field(station),
            c.aos,
            c.los,
            c.max_elevation_deg,
            c.max_elevation_at
        )?;
    }
    out.flush()?;
    Ok(())
}

#[derive(Args)]
pub struct EclipsesArgs {
    #[command(flatten)]
    source: SatelliteSource,
    #[command(flatten)]
    window: Window,
}

pub fn eclipses(args: EclipsesArgs) -> Result<()> {
    let (start, end) = args.window.resolve()?;
    let sats = args.source.load()?;
    let bar = progress::bar(sats.len() as u64, "eclipses");
    let intervals = tiandi_orbit::find_eclipses(&sats, start, end, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "satellite,kind,start_utc,end_utc")?;
    let mut rows: Vec<(&tiandi_orbit::EclipseInterval, &str)> = intervals
        .iter()
        .map(|e| (e, sats[e.satellite_idx].label()))
        .collect();
    rows.sort_by(|a, b| (a.0.start, a.1).cmp(&(b.0.start, b.1)));
    for (e, sat) in rows {
        writeln!(
            out,
            "{},{},{},{}",
            csv_field(sat),
            e.kind.as_str(),
            e.start,
            e.end
        )?;
    }
    out.flush()?;
    Ok(())
}

#[derive(Subcommand)]
pub enum ConstellationCommand {
    /// A Walker constellation i:T/P/F written as TLE text on stdout.
    Walker(WalkerArgs),
    /// The inclination of a circular sun-synchronous orbit at an altitude.
    SunSync {
        /// Altitude above the equatorial radius, km.
        #[arg(long, value_name = "KM")]
        altitude_km: f64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum WalkerKindArg {
    Delta,
    Star,
}

#[derive(Args)]
pub struct WalkerArgs {
    /// Walker delta (planes over 360 deg) or star (over 180 deg).
    #[arg(long, value_enum, default_value = "delta")]
    kind: WalkerKindArg,
    /// Number of orbital planes P.
    #[arg(long)]
    planes: u32,
    /// Satellites per plane (T = planes x sats-per-plane).
    #[arg(long)]
    sats_per_plane: u32,
    /// Phasing factor F (0..P).
    #[arg(long, default_value_t = 1)]
    phasing: u32,
    /// Circular altitude above the equatorial radius, km.
    #[arg(long)]
    altitude_km: f64,
    /// Inclination, degrees; or use --sun-synchronous.
    #[arg(long, required_unless_present = "sun_synchronous")]
    inclination_deg: Option<f64>,
    /// Use the sun-synchronous inclination for the altitude.
    #[arg(long)]
    sun_synchronous: bool,
    /// Element epoch, ISO-8601 UTC.
    #[arg(long, default_value = "2026-11-24T00:00:00Z")]
    epoch: String,
    /// Right ascension of the first plane, degrees.
    #[arg(long, default_value_t = 0.0)]
    raan_offset_deg: f64,
    /// NORAD number of the first satellite.
    #[arg(long, default_value_t = 90_000)]
    first_norad_id: u32,
    /// Satellite name prefix (names are PREFIX-PLANE-SLOT).
    #[arg(long, default_value = "WALKER")]
    name_prefix: String,
}

pub fn constellation(cmd: ConstellationCommand) -> Result<()> {
    match cmd {
        ConstellationCommand::Walker(a) => {
            let inclination_deg = match (a.inclination_deg, a.sun_synchronous) {
                (Some(_), true) => bail!("give --inclination-deg or --sun-synchronous, not both"),
                (Some(i), false) => i,
                (None, _) => tiandi_orbit::walker::sun_synchronous_inclination_deg(a.altitude_km)
                    .with_context(|| {
                    format!(
                        "--altitude-km {}: no sun-synchronous orbit exists that high",
                        a.altitude_km
                    )
                })?,
            };
            let design = WalkerDesign {
                kind: match a.kind {
                    WalkerKindArg::Delta => WalkerKind::Delta,
                    WalkerKindArg::Star => WalkerKind::Star,
                },
                n_planes: a.planes,
                sats_per_plane: a.sats_per_plane,
                phasing: a.phasing,
                altitude_km: a.altitude_km,
                inclination_deg,
                epoch: Epoch::parse_iso(&a.epoch).context("--epoch")?,
                raan_offset_deg: a.raan_offset_deg,
                first_norad_id: a.first_norad_id,
                name_prefix: a.name_prefix,
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for e in design.elements()? {
                out.write_all(tiandi_orbit::format_tle(&e).as_bytes())?;
            }
            out.flush()?;
        }
        ConstellationCommand::SunSync { altitude_km } => {
            let i = tiandi_orbit::walker::sun_synchronous_inclination_deg(altitude_km)
                .with_context(|| {
                    format!(
                        "--altitude-km {altitude_km}: no sun-synchronous orbit exists that high"
                    )
                })?;
            println!("{i:.4}");
        }
    }
    Ok(())
}

/// Quotes a CSV field when it holds a comma, quote or newline.
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
