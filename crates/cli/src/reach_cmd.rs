//! `tiandi reach`: latency circles. For each point of a grid, the share of time it reaches
//! compute within each threshold and its median best delay, as CSV on stdout, and
//! optionally GeoJSON cells and an HTML page of maps (model: `tiandi_network::reach`,
//! docs/reach.md).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use tiandi_html::charts::ReachCell;
use tiandi_html::geo::{GroundPoint, LandMask, wrap_lon};
use tiandi_network::{ComputeSet, Horizon, Network, ReachOptions, ReachPoint, ReachTable, reach};
use tiandi_orbit::Epoch;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ComputeArg {
    /// The scenario's data centres.
    DataCentres,
    /// Every satellite (each carries a compute payload).
    Satellites,
    /// Both.
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FibreArg {
    /// Points on land (Natural Earth 1:110m) have fibre; points at sea do not.
    Land,
    /// Every point has fibre.
    All,
    /// No point has fibre: user terminals only.
    None,
}

/// Flags of `tiandi reach`.
#[derive(clap::Args, Debug)]
pub struct ReachArgs {
    /// Scenario file or built-in name, as in `tiandi simulate` (the default without one).
    scenario: Option<PathBuf>,
    /// Change one key of the scenario (repeatable), as in `tiandi simulate`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = crate::sim_cmd::key_value)]
    settings: Vec<(String, String)>,
    /// What counts as compute.
    #[arg(long, value_enum, default_value = "all")]
    compute: ComputeArg,
    /// Grid spacing, degrees of latitude and of longitude.
    #[arg(long, value_name = "D")]
    grid_deg: f64,
    /// The grid's box: south latitude, west longitude, north latitude, east longitude
    /// (degrees; east < west crosses the antimeridian). The whole globe without it.
    #[arg(
        long,
        value_name = "LAT0,LON0,LAT1,LON1",
        allow_negative_numbers = true
    )]
    bbox: Option<String>,
    /// First snapshot (ISO-8601 UTC); the scenario's start without it.
    #[arg(long, value_name = "ISO")]
    start: Option<String>,
    /// Length of the horizon, s; the scenario's horizon without it.
    #[arg(long, value_name = "S")]
    duration_s: Option<f64>,
    /// Time between snapshots, s.
    #[arg(long, value_name = "T", default_value_t = 60.0)]
    step_s: f64,
    /// Thresholds, ms.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "MS,...",
        default_value = "1,5,20"
    )]
    thresholds_ms: Vec<f64>,
    /// Round-trip delays (twice the one-way) instead of one-way.
    #[arg(long)]
    rtt: bool,
    /// Which points have terrestrial fibre to the nearest ground station or data centre.
    #[arg(long, value_enum, default_value = "land")]
    fibre_access: FibreArg,
    /// A user terminal's elevation mask, degrees; the scenario's GSL mask without it.
    #[arg(long, value_name = "DEG", allow_negative_numbers = true)]
    min_elevation_deg: Option<f64>,
    /// Also write the grid cells with their shares and medians as GeoJSON.
    #[arg(long, value_name = "FILE")]
    geojson: Option<PathBuf>,
    /// Also write an HTML page with a map per threshold and a map of the median delay.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// Most grid points x snapshots held in memory (4 bytes each: 2 GB).
const MAX_CELLS: usize = 500_000_000;

/// A grid box: (lat0, lon0, lat1, lon1), lon1 >= lon0 after unwrapping.
fn parse_bbox(text: Option<&str>) -> Result<[f64; 4]> {
    let Some(text) = text else {
        return Ok([-90.0, -180.0, 90.0, 180.0]);
    };
    let v: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("--bbox {text:?}: {e}; expected LAT0,LON0,LAT1,LON1"))?;
    let [lat0, mut lon0, lat1, mut lon1] = v[..] else {
        bail!(
            "--bbox {text:?}: expected four numbers LAT0,LON0,LAT1,LON1, found {}",
            v.len()
        );
    };
    for (name, lat) in [("LAT0", lat0), ("LAT1", lat1)] {
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            bail!("--bbox {text:?}: {name} {lat} is outside [-90, 90]");
        }
    }
    for (name, lon) in [("LON0", lon0), ("LON1", lon1)] {
        if !(lon.is_finite() && (-180.0..=360.0).contains(&lon)) {
            bail!("--bbox {text:?}: {name} {lon} is outside [-180, 360]");
        }
    }
    if lat1 < lat0 {
        bail!("--bbox {text:?}: LAT1 {lat1} is south of LAT0 {lat0}");
    }
    // West edge into [-180, 180), east edge east of it.
    if lon0 >= 180.0 {
        lon0 -= 360.0;
        if lon1 >= 180.0 {
            lon1 -= 360.0;
        }
    }
    if lon1 < lon0 {
        lon1 += 360.0;
    }
    if lon1 - lon0 > 360.0 {
        bail!("--bbox {text:?}: wider than 360 degrees of longitude");
    }
    Ok([lat0, lon0, lat1, lon1])
}

/// Rounds away the float noise of `start + i * step` (grid values print as typed).
fn tidy(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

/// Number of grid values from `a` to `b` inclusive at `step` (a float: a fine step over a
/// wide box can exceed any integer type before the memory check refuses it).
fn axis_len(a: f64, b: f64, step: f64) -> f64 {
    ((b - a) / step + 1e-9).floor().max(0.0) + 1.0
}

/// Grid values from `a` to `b` inclusive at `step`.
fn axis(a: f64, b: f64, step: f64) -> Vec<f64> {
    let n = axis_len(a, b, step) as usize;
    (0..n).map(|i| tidy(a + i as f64 * step)).collect()
}

pub fn reach_cmd(args: ReachArgs) -> Result<()> {
    let (scenario, _, _) = crate::sim_cmd::load_with(args.scenario.as_ref(), &args.settings)?;
    if !(args.grid_deg.is_finite() && args.grid_deg > 0.0 && args.grid_deg <= 90.0) {
        bail!(
            "--grid-deg {}: expected a spacing in degrees, in (0, 90]",
            args.grid_deg
        );
    }
    let bbox = parse_bbox(args.bbox.as_deref())?;
    let mut thresholds = args.thresholds_ms.clone();
    if thresholds.is_empty() {
        bail!("--thresholds-ms: expected at least one threshold");
    }
    if let Some(t) = thresholds.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
        bail!("--thresholds-ms: {t} is not a delay in ms (> 0)");
    }
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let start = match &args.start {
        Some(s) => Epoch::parse_iso(s).with_context(|| "--start".to_string())?,
        None => scenario.start,
    };
    let duration_s = args.duration_s.unwrap_or(scenario.horizon_h * 3_600.0);
    if !(duration_s.is_finite() && duration_s > 0.0 && duration_s <= 1e7) {
        bail!("--duration-s {duration_s}: expected a number of seconds in (0, 1e7]");
    }
    if !(args.step_s.is_finite() && args.step_s >= 0.001 && args.step_s <= 86_400.0) {
        bail!("--step-s {}: expected 0.001 to 86400 seconds", args.step_s);
    }
    let mask = args
        .min_elevation_deg
        .unwrap_or(scenario.network.links.gsl.min_elevation_deg);
    // A terminal at the surface sees nothing below 0 degrees but the Earth.
    if !(mask.is_finite() && (0.0..=90.0).contains(&mask)) {
        bail!("--min-elevation-deg {mask}: expected degrees in [0, 90]");
    }
    let horizon = Horizon::new(
        start,
        (duration_s * 1e9).round() as i64,
        (args.step_s * 1e9).round() as i64,
    )?;
    let cells = axis_len(bbox[0], bbox[2], args.grid_deg)
        * axis_len(bbox[1], bbox[3], args.grid_deg).min(360.0 / args.grid_deg + 1.0)
        * horizon.n_steps() as f64;
    if cells > MAX_CELLS as f64 {
        bail!(
            "{cells:.3e} delays (points x snapshots) are more than {MAX_CELLS} held in memory: use a coarser --grid-deg or --step-s, a smaller --bbox or a shorter --duration-s"
        );
    }
    let lats = axis(bbox[0], bbox[2], args.grid_deg);
    let mut lons = axis(bbox[1], bbox[3], args.grid_deg);
    // A full circle of longitude would count the antimeridian twice.
    if bbox[3] - bbox[1] >= 360.0 - 1e-9 {
        lons.retain(|&l| l < bbox[1] + 360.0 - 1e-9);
    }
    let n_points = lats.len() * lons.len();
    if n_points.saturating_mul(horizon.n_steps()) > MAX_CELLS {
        bail!(
            "{} points x {} snapshots is more than {MAX_CELLS} delays held in memory: use a coarser --grid-deg or --step-s, a smaller --bbox or a shorter --duration-s",
            n_points,
            horizon.n_steps()
        );
    }
    let land = (args.fibre_access == FibreArg::Land).then(LandMask::new);
    let points: Vec<ReachPoint> = lats
        .iter()
        .flat_map(|&lat| lons.iter().map(move |&lon| (lat, wrap_lon(lon))))
        .map(|(lat, lon)| ReachPoint {
            latitude_deg: lat,
            longitude_deg: tidy(lon),
            fibre: match args.fibre_access {
                FibreArg::All => true,
                FibreArg::None => false,
                FibreArg::Land => land.as_ref().is_some_and(|m| m.contains(lon, lat)),
            },
        })
        .collect();
    let compute = match args.compute {
        ComputeArg::DataCentres => ComputeSet::DataCentres,
        ComputeArg::Satellites => ComputeSet::Satellites,
        ComputeArg::All => ComputeSet::All,
    };
    let net = Network::new(scenario.network.clone()).context("the scenario's network")?;
    let bar = crate::progress::bar(horizon.n_steps() as u64, "reach");
    let table = reach(
        &net,
        &scenario.satellites,
        horizon,
        &points,
        ReachOptions {
            compute,
            terminal_min_elevation_deg: mask,
        },
        &mut || bar.inc(1),
    )?;
    bar.finish_and_clear();
    let factor = if args.rtt { 2.0 } else { 1.0 };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    writeln!(
        out,
        "latitude_deg,longitude_deg,threshold_ms,share_of_time,p50_ms"
    )?;
    for (p, pt) in points.iter().enumerate() {
        let p50 = table
            .median_ms(p, factor)
            .map_or(String::new(), |m| format!("{m:.3}"));
        for &t in &thresholds {
            writeln!(
                out,
                "{},{},{t},{:.4},{p50}",
                pt.latitude_deg,
                pt.longitude_deg,
                table.share_within(p, t, factor)
            )?;
        }
    }
    out.flush()?;
    let what = Described {
        scenario: scenario_name(&args),
        compute: match compute {
            ComputeSet::DataCentres => "data-centres",
            ComputeSet::Satellites => "satellites",
            ComputeSet::All => "all",
        },
        delay_kind: if args.rtt { "round-trip" } else { "one-way" },
        start,
        duration_s,
        step_s: args.step_s,
        mask,
        fibre: args.fibre_access,
        fibre_factor: net.config().fibre_delay_factor,
    };
    if let Some(path) = &args.geojson {
        let text = geojson(&points, &table, &thresholds, factor, args.grid_deg, &what)?;
        tiandi_report::write_atomic(path, |w| w.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        let cells = |value: &dyn Fn(usize) -> Option<f64>| -> Vec<ReachCell> {
            points
                .iter()
                .enumerate()
                .map(|(p, pt)| ReachCell {
                    // Unwrapped longitudes keep a box across the antimeridian in one piece.
                    lon: unwrap_to(pt.longitude_deg, bbox[1]),
                    lat: pt.latitude_deg,
                    value: value(p),
                })
                .collect()
        };
        let half = args.grid_deg / 2.0;
        let ground = |kinds: &[tiandi_network::NodeKind]| -> Vec<GroundPoint> {
            (net.first_station()..net.n_nodes())
                .filter(|&v| kinds.contains(&net.kind(tiandi_network::NodeId(v as u32))))
                .map(|v| {
                    let g = tiandi_orbit::ecef_to_geodetic(net.ground_ecef(v as u32));
                    GroundPoint {
                        name: net.node_name(tiandi_network::NodeId(v as u32)),
                        lon: unwrap_to(wrap_lon(g.longitude_deg), bbox[1]),
                        lat: g.latitude_deg,
                    }
                })
                .collect()
        };
        let page = tiandi_html::reach_page(&tiandi_html::ReachPage {
            heading: what.heading(),
            delay_kind: what.delay_kind,
            notes: what.notes(points.iter().filter(|p| p.fibre).count(), points.len()),
            thresholds_ms: &thresholds,
            shares: thresholds
                .iter()
                .map(|&t| cells(&|p| Some(table.share_within(p, t, factor))))
                .collect(),
            median: cells(&|p| table.median_ms(p, factor)),
            cell_deg: args.grid_deg,
            lon: (bbox[1] - half, bbox[3] + half),
            lat: ((bbox[0] - half).max(-90.0), (bbox[2] + half).min(90.0)),
            data_centres: ground(&[tiandi_network::NodeKind::DataCentre]),
            stations: ground(&[tiandi_network::NodeKind::GroundStation]),
        })?;
        tiandi_html::write_file(path, &page)?;
    }
    Ok(())
}

/// `lon` moved by whole turns into `[west, west + 360)`.
fn unwrap_to(lon: f64, west: f64) -> f64 {
    west + (lon - west).rem_euclid(360.0)
}

fn scenario_name(args: &ReachArgs) -> String {
    match &args.scenario {
        Some(p) => p.display().to_string(),
        None => "default".into(),
    }
}

/// What a run computed, for the GeoJSON's metadata and the page's words.
struct Described {
    scenario: String,
    compute: &'static str,
    delay_kind: &'static str,
    start: Epoch,
    duration_s: f64,
    step_s: f64,
    mask: f64,
    fibre: FibreArg,
    fibre_factor: f64,
}

impl Described {
    fn heading(&self) -> String {
        format!(
            "Scenario {}; compute: {}; {} delays; from {} for {} s at {} s steps",
            self.scenario, self.compute, self.delay_kind, self.start, self.duration_s, self.step_s
        )
    }

    fn notes(&self, n_fibre: usize, n_points: usize) -> Vec<String> {
        let fibre = match self.fibre {
            FibreArg::Land => "those on land, Natural Earth 1:110m",
            FibreArg::All => "all",
            FibreArg::None => "none",
        };
        vec![
            format!(
                "Access by fibre ({n_fibre} of {n_points} points: {fibre}): a point reaches the nearest ground station or data centre over terrestrial fibre, its great-circle distance times the scenario's fibre factor {} at the speed of light.",
                self.fibre_factor
            ),
            format!(
                "Access by user terminal: every point reaches the satellites it sees at or above {}° elevation, at the speed of light over the slant range.",
                self.mask
            ),
            "From there, the best path to the nearest compute node over the snapshot's ISLs, ground links and fibre (ground stations pass traffic only between fibre and space). Faults, link acquisition and queues are left out: this is the geometry's best case.".into(),
        ]
    }
}

/// The grid as GeoJSON (RFC 7946): one Polygon feature per cell with its shares and median.
fn geojson(
    points: &[ReachPoint],
    table: &ReachTable,
    thresholds: &[f64],
    factor: f64,
    cell_deg: f64,
    what: &Described,
) -> Result<String> {
    use serde_json::{Map, Value, json};
    let half = cell_deg / 2.0;
    let features: Vec<Value> = points
        .iter()
        .enumerate()
        .map(|(p, pt)| {
            let (lat, lon) = (pt.latitude_deg, pt.longitude_deg);
            let (s, n) = ((lat - half).max(-90.0), (lat + half).min(90.0));
            let ring = [
                [lon - half, s],
                [lon + half, s],
                [lon + half, n],
                [lon - half, n],
                [lon - half, s],
            ]
            // RFC 7946 longitudes stay within [-180, 180]: a cell on the antimeridian is
            // clipped to its side of it.
            .map(|[x, y]| json!([tidy(x.clamp(-180.0, 180.0)), tidy(y)]));
            let mut props = Map::new();
            props.insert("latitude_deg".into(), json!(lat));
            props.insert("longitude_deg".into(), json!(lon));
            props.insert("fibre".into(), json!(pt.fibre));
            for &t in thresholds {
                let share = (table.share_within(p, t, factor) * 1e4).round() / 1e4;
                props.insert(format!("share_within_{t}ms"), json!(share));
            }
            props.insert(
                "p50_ms".into(),
                json!(table.median_ms(p, factor).map(|m| (m * 1e3).round() / 1e3)),
            );
            json!({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": props,
            })
        })
        .collect();
    let doc = json!({
        "type": "FeatureCollection",
        "tiandi_reach": {
            "scenario": what.scenario,
            "compute": what.compute,
            "delay": what.delay_kind,
            "start_utc": what.start.to_string(),
            "duration_s": what.duration_s,
            "step_s": what.step_s,
            "thresholds_ms": thresholds,
            "terminal_min_elevation_deg": what.mask,
            "fibre_delay_factor": what.fibre_factor,
        },
        "features": features,
    });
    Ok(serde_json::to_string(&doc)? + "\n")
}
