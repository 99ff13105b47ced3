//! `tiandi d2d`: direct-to-device service for handset terminals. Which satellite serves
//! each terminal, the handovers (`DIR/handovers.csv`) and what they cost seeded voice and
//! data sessions (`DIR/summary.json`). Model: `tiandi_network::d2d`, docs/d2d.md.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use tiandi_network::d2d::{Drop, LinkBudget, ServeOptions, Session, Strategy, judge, serve};
use tiandi_node::FaultRng;
use tiandi_orbit::{Epoch, GroundStation, Satellite};

use crate::input;
use crate::progress;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    /// The satellite highest in the sky, decided every step.
    HighestElevation,
    /// Keep the serving satellite until its pass ends, then the highest in view.
    KeepUntilLost,
    /// From the contact plan: switch a lead time before the serving satellite sets, to
    /// the one in view that stays longest.
    Predictive,
}

/// Flags of `tiandi d2d`.
#[derive(clap::Args, Debug)]
pub struct D2dArgs {
    /// Scenario file or built-in name, as in `tiandi simulate` (the default without one);
    /// its satellites serve the handsets.
    #[arg(conflicts_with = "tle")]
    scenario: Option<PathBuf>,
    /// Satellites from a TLE or OMM file instead of a scenario.
    #[arg(long, value_name = "FILE")]
    tle: Option<PathBuf>,
    /// Handset terminals, CSV with header name,latitude_deg,longitude_deg,elevation_m.
    #[arg(long, value_name = "CSV", required_unless_present_any = ["grid", "population"], conflicts_with_all = ["grid", "population"])]
    terminals: Option<PathBuf>,
    /// Handsets on a grid instead: `LAT0,LON0,LAT1,LON1` (deg), one at the centre of each
    /// `--grid-deg` cell.
    #[arg(
        long,
        value_name = "LAT0,LON0,LAT1,LON1",
        conflicts_with = "population",
        allow_hyphen_values = true
    )]
    grid: Option<String>,
    /// Cell size of `--grid`, deg.
    #[arg(
        long,
        value_name = "D",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    grid_deg: f64,
    /// Handsets sampled from a population CSV instead (header
    /// name,latitude_deg,longitude_deg,population): `--handsets` of them, each place drawn
    /// in proportion to its population and the handset put uniformly within
    /// `--spread-km` of it (seeded by `--seed`).
    #[arg(long, value_name = "CSV")]
    population: Option<PathBuf>,
    /// Number of handsets sampled from `--population`.
    #[arg(long, value_name = "N", default_value_t = 100)]
    handsets: u32,
    /// Radius around a place within which its sampled handsets stand, km.
    #[arg(
        long,
        value_name = "KM",
        default_value_t = 20.0,
        allow_negative_numbers = true
    )]
    spread_km: f64,
    /// Start, ISO-8601 UTC; the scenario's start without it.
    #[arg(long, value_name = "ISO")]
    start: Option<String>,
    /// Length of the run, s.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 3_600.0,
        allow_negative_numbers = true
    )]
    duration_s: f64,
    /// Decision step of highest-elevation, ms.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1_000.0,
        allow_negative_numbers = true
    )]
    step_ms: f64,
    /// How the serving satellite is chosen.
    #[arg(long, value_enum, default_value = "keep-until-lost")]
    strategy: StrategyArg,
    /// Service interruption of one handover, ms (the seed's target: under 200 ms).
    #[arg(
        long,
        value_name = "X",
        default_value_t = 200.0,
        allow_negative_numbers = true
    )]
    handover_ms: f64,
    /// The handsets' elevation mask, degrees.
    #[arg(
        long,
        value_name = "E",
        default_value_t = 25.0,
        allow_negative_numbers = true
    )]
    min_elevation_deg: f64,
    /// How long before the serving satellite sets the predictive strategy switches, ms.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 5_000.0,
        allow_negative_numbers = true
    )]
    lead_ms: f64,
    /// Radio-link-failure timer: a session is dropped by an outage (no satellite in view)
    /// or a handover interruption at least this long, ms.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1_000.0,
        allow_negative_numbers = true
    )]
    rlf_ms: f64,
    /// Probability that a handover fails and drops the session it interrupts.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.01,
        allow_negative_numbers = true
    )]
    handover_failure: f64,
    /// Sessions started per terminal-hour (Poisson arrivals).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4.0,
        allow_negative_numbers = true
    )]
    sessions_per_hour: f64,
    /// Mean length of a voice call, s (exponential).
    #[arg(
        long,
        value_name = "S",
        default_value_t = 120.0,
        allow_negative_numbers = true
    )]
    voice_mean_s: f64,
    /// Mean length of a data session, s (exponential).
    #[arg(
        long,
        value_name = "S",
        default_value_t = 600.0,
        allow_negative_numbers = true
    )]
    data_mean_s: f64,
    /// Share of sessions that are voice calls.
    #[arg(
        long,
        value_name = "F",
        default_value_t = 0.5,
        allow_negative_numbers = true
    )]
    voice_share: f64,
    /// Seed of the session arrivals and handover failures.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Handset link budget: the satellite beam's EIRP density, dBW/MHz (3GPP TR 38.821,
    /// LEO 600 km S band, set 1).
    #[arg(
        long,
        value_name = "DBW",
        default_value_t = 34.0,
        allow_negative_numbers = true
    )]
    eirp_dbw_per_mhz: f64,
    /// The handset's G/T, dB/K (TR 38.821's handheld: 0 dBi antenna, 7 dB noise figure).
    #[arg(long, value_name = "DB", default_value_t = -31.6, allow_negative_numbers = true)]
    handset_gt_db_k: f64,
    /// Carrier frequency, GHz (S band).
    #[arg(
        long,
        value_name = "GHZ",
        default_value_t = 2.0,
        allow_negative_numbers = true
    )]
    frequency_ghz: f64,
    /// Polarisation, shadowing, scintillation and atmospheric losses, dB (TR 38.821's
    /// 3 + 3 + 2.2 + 0.1).
    #[arg(
        long,
        value_name = "DB",
        default_value_t = 8.3,
        allow_negative_numbers = true
    )]
    losses_db: f64,
    /// Bandwidth one handset is given, MHz (ASSUMED).
    #[arg(
        long,
        value_name = "MHZ",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    bandwidth_mhz: f64,
    /// Rate a handset needs to be served, kbit/s (ASSUMED); where the budget cannot carry
    /// it, the satellite does not serve, so the budget raises the mask.
    #[arg(
        long,
        value_name = "KBPS",
        default_value_t = 1_000.0,
        allow_negative_numbers = true
    )]
    rate_kbps: f64,
    /// Output directory (created): terminals.csv, handovers.csv, summary.json and report.html.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Most handsets one run takes from a grid or a population sample.
const MAX_HANDSETS: usize = 100_000;

/// The handsets and what they came from (for messages): a CSV of points, a grid, or a
/// sample of a population CSV.
fn handsets(args: &D2dArgs) -> Result<(Vec<GroundStation>, String)> {
    if let Some(path) = &args.terminals {
        return Ok((input::read_stations_csv(path)?, path.display().to_string()));
    }
    if let Some(spec) = &args.grid {
        let v: Vec<f64> = spec
            .split(',')
            .map(|x| x.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
            .collect::<Option<_>>()
            .filter(|v: &Vec<f64>| v.len() == 4)
            .with_context(|| format!("--grid {spec:?}: expected LAT0,LON0,LAT1,LON1 in degrees"))?;
        let (lat0, lon0, lat1, lon1) = (v[0], v[1], v[2], v[3]);
        if !(-90.0..=90.0).contains(&lat0) || !(-90.0..=90.0).contains(&lat1) || lat1 <= lat0 {
            bail!("--grid {spec:?}: latitudes must be within -90..=90 with LAT0 < LAT1");
        }
        if !(-180.0..=180.0).contains(&lon0) || !(-180.0..=180.0).contains(&lon1) || lon1 <= lon0 {
            bail!("--grid {spec:?}: longitudes must be within -180..=180 with LON0 < LON1");
        }
        let d = check("grid-deg", args.grid_deg, 0.01, 90.0)?;
        let (n_lat, n_lon) = (
            ((lat1 - lat0) / d).ceil() as usize,
            ((lon1 - lon0) / d).ceil() as usize,
        );
        if n_lat.saturating_mul(n_lon) > MAX_HANDSETS {
            bail!(
                "--grid {spec:?} --grid-deg {d}: {} handsets, at most {MAX_HANDSETS}",
                n_lat * n_lon
            );
        }
        let mut out = Vec::new();
        for i in 0..n_lat {
            for j in 0..n_lon {
                let lat = (lat0 + (i as f64 + 0.5) * d).min(lat1);
                let lon = (lon0 + (j as f64 + 0.5) * d).min(lon1);
                out.push(GroundStation::new(
                    format!("grid_{lat:.3}_{lon:.3}"),
                    lat,
                    lon,
                    0.0,
                )?);
            }
        }
        return Ok((out, format!("--grid {spec}")));
    }
    let path = args
        .population
        .as_ref()
        .expect("clap requires one source of handsets");
    let places = read_population(path)?;
    let n = args.handsets as usize;
    if n == 0 || n > MAX_HANDSETS {
        bail!("--handsets {n}: expected 1 to {MAX_HANDSETS}");
    }
    let spread = check("spread-km", args.spread_km, 0.0, 2_000.0)?;
    let total: f64 = places.iter().map(|p| p.3).sum();
    let mut rng = FaultRng::new(args.seed, 0xd2d0_0000_9090_0000);
    let mut out = Vec::with_capacity(n);
    let mut taken = vec![0usize; places.len()];
    for _ in 0..n {
        let mut pick = rng.next_f64() * total;
        let mut k = 0;
        while k + 1 < places.len() && pick >= places[k].3 {
            pick -= places[k].3;
            k += 1;
        }
        let (name, lat, lon, _) = &places[k];
        // Uniform over a disc of `spread` km on the sphere's tangent plane.
        let r = spread * rng.next_f64().sqrt();
        let az = rng.next_f64() * std::f64::consts::TAU;
        let dlat = (r * az.cos() / 6_371.0).to_degrees();
        let dlon = (r * az.sin() / (6_371.0 * lat.to_radians().cos().max(0.01))).to_degrees();
        let lat = (lat + dlat).clamp(-90.0, 90.0);
        let lon = (lon + dlon + 540.0).rem_euclid(360.0) - 180.0;
        out.push(GroundStation::new(
            format!("{name}-{}", taken[k]),
            lat,
            lon,
            0.0,
        )?);
        taken[k] += 1;
    }
    Ok((out, path.display().to_string()))
}

/// A population CSV: `name,latitude_deg,longitude_deg,population`, errors naming file,
/// line and field.
fn read_population(path: &std::path::Path) -> Result<Vec<(String, f64, f64, f64)>> {
    const HEADER: [&str; 4] = ["name", "latitude_deg", "longitude_deg", "population"];
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split(',').map(str::trim).collect())
        .unwrap_or_default();
    if header != HEADER {
        bail!(
            "{shown}:1: header is {:?}, expected {}",
            header.join(","),
            HEADER.join(",")
        );
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 4 {
            bail!("{shown}:{}: expected 4 fields, found {}", i + 1, f.len());
        }
        let num = |k: usize| -> Result<f64> {
            f[k].parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| {
                    format!(
                        "{shown}:{}: {}: expected a number, found {:?}",
                        i + 1,
                        HEADER[k],
                        f[k]
                    )
                })
        };
        let (lat, lon, pop) = (num(1)?, num(2)?, num(3)?);
        GroundStation::new(f[0], lat, lon, 0.0).with_context(|| format!("{shown}:{}", i + 1))?;
        if pop < 0.0 {
            bail!(
                "{shown}:{}: population: expected a number >= 0, found {pop}",
                i + 1
            );
        }
        out.push((f[0].to_string(), lat, lon, pop));
    }
    if out.iter().map(|p| p.3).sum::<f64>() <= 0.0 {
        bail!("{shown}: no population to sample (no rows, or all zero)");
    }
    Ok(out)
}

fn check(name: &str, v: f64, lo: f64, hi: f64) -> Result<f64> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        bail!("--{name} {v}: expected a number within {lo}..={hi}")
    }
}

/// FNV-1a of a terminal's name: its random stream, whatever its row in the CSV.
fn name_stream(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Seeded Poisson sessions, terminal by terminal (one random stream each, keyed by name, so
/// adding or reordering terminals does not change the others' sessions).
fn sessions(args: &D2dArgs, terminals: &[GroundStation], start: Epoch, end: Epoch) -> Vec<Session> {
    let span_s = end.seconds_since(start);
    let rate_per_s = args.sessions_per_hour / 3_600.0;
    let mut out = Vec::new();
    for (k, site) in terminals.iter().enumerate() {
        let mut rng = FaultRng::new(args.seed, name_stream(&site.name));
        let mut t = 0.0;
        loop {
            t += -(1.0 - rng.next_f64()).ln() / rate_per_s;
            if t >= span_s {
                break;
            }
            let voice = rng.next_f64() < args.voice_share;
            let mean = if voice {
                args.voice_mean_s
            } else {
                args.data_mean_s
            };
            let len = -(1.0 - rng.next_f64()).ln() * mean;
            let s0 = start.add_s_f64(t);
            let s1 = start.add_s_f64((t + len).min(span_s));
            if s1 > s0 {
                out.push(Session {
                    terminal: k,
                    start: s0,
                    end: s1,
                    voice,
                });
            }
        }
    }
    out
}

fn load(args: &D2dArgs) -> Result<(Vec<Satellite>, Epoch, String)> {
    match &args.tle {
        Some(path) => {
            let sats = input::read_satellites(path, false)?;
            if args.start.is_none() {
                bail!(
                    "--tle {} needs --start: element sets carry their own epochs",
                    path.display()
                );
            }
            Ok((
                sats,
                tiandi_scenario::DEFAULT_EPOCH,
                path.display().to_string(),
            ))
        }
        None => {
            let (s, shown, _) = crate::sim_cmd::load_with(args.scenario.as_ref(), &[])?;
            Ok((
                s.satellites,
                s.start,
                shown.unwrap_or_else(|| "default".into()),
            ))
        }
    }
}

/// What the link budget did to the masks, over every (terminal, satellite) pair.
struct Masks {
    /// Lowest and highest budget mask of the pairs the budget can serve, deg.
    lowest: Option<f64>,
    highest: Option<f64>,
    /// Pairs the budget cannot serve even overhead.
    unreachable: usize,
    /// Whether any pair's budget mask is above the handset's mask.
    binds: bool,
}

/// The passes of every terminal: `find_contacts` at the handset's mask, or, where the link
/// budget needs a higher elevation for the required rate, at that elevation (rounded up to
/// 0.01 deg), terminal by terminal and for each group of satellites with the same mask.
fn passes(
    args: &D2dArgs,
    sats: &[Satellite],
    terminals: &[GroundStation],
    start: Epoch,
    end: Epoch,
    budget: &LinkBudget,
) -> Result<(Vec<tiandi_orbit::Contact>, Masks)> {
    let radii: Vec<f64> = sats
        .iter()
        .map(|s| Ok(s.position_teme_km(start)?.length()))
        .collect::<Result<_, tiandi_orbit::PropagationError>>()?;
    // Per terminal, per satellite: the mask in hundredths of a degree, None out of reach.
    let mut masks = Masks {
        lowest: None,
        highest: None,
        unreachable: 0,
        binds: false,
    };
    let base = (args.min_elevation_deg * 100.0).ceil() as i64;
    let per: Vec<Vec<Option<i64>>> = terminals
        .iter()
        .map(|t| {
            radii
                .iter()
                .map(|&r| match budget.mask_deg(t.ecef_km.length(), r) {
                    None => {
                        masks.unreachable += 1;
                        None
                    }
                    Some(e) => {
                        masks.lowest = Some(masks.lowest.map_or(e, |l: f64| l.min(e)));
                        masks.highest = Some(masks.highest.map_or(e, |h: f64| h.max(e)));
                        masks.binds |= e > args.min_elevation_deg;
                        Some(((e * 100.0).ceil() as i64).max(base))
                    }
                })
                .collect()
        })
        .collect();
    let bar = progress::bar(sats.len() as u64, "passes");
    if !masks.binds && masks.unreachable == 0 {
        let contacts = tiandi_orbit::find_contacts(
            sats,
            terminals,
            start,
            end,
            args.min_elevation_deg,
            &|| bar.inc(1),
        )?;
        bar.finish_and_clear();
        return Ok((contacts, masks));
    }
    bar.set_length((sats.len() * terminals.len()) as u64);
    let mut all = Vec::new();
    for (k, t) in terminals.iter().enumerate() {
        let mut groups: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
        for (s, m) in per[k].iter().enumerate() {
            match m {
                Some(m) => groups.entry(*m).or_default().push(s),
                None => bar.inc(1),
            }
        }
        for (m, idx) in groups {
            let group: Vec<Satellite> = idx.iter().map(|&i| sats[i].clone()).collect();
            let mask = if m == base {
                args.min_elevation_deg
            } else {
                m as f64 / 100.0
            };
            if mask > 90.0 {
                continue;
            }
            for mut c in tiandi_orbit::find_contacts(
                &group,
                std::slice::from_ref(t),
                start,
                end,
                mask,
                &|| bar.inc(1),
            )? {
                c.satellite_idx = idx[c.satellite_idx];
                c.station_idx = k;
                all.push(c);
            }
        }
    }
    bar.finish_and_clear();
    all.sort_by_key(|c| (c.aos, c.satellite_idx, c.station_idx));
    Ok((all, masks))
}

pub fn d2d(args: D2dArgs) -> Result<()> {
    check("duration-s", args.duration_s, 1.0, 1e7)?;
    check("step-ms", args.step_ms, 1.0, 3.6e6)?;
    check("handover-ms", args.handover_ms, 0.0, 3.6e6)?;
    check("min-elevation-deg", args.min_elevation_deg, 0.0, 90.0)?;
    check("lead-ms", args.lead_ms, 0.0, 3.6e6)?;
    check("rlf-ms", args.rlf_ms, 1.0, 3.6e6)?;
    check("handover-failure", args.handover_failure, 0.0, 1.0)?;
    check("sessions-per-hour", args.sessions_per_hour, 1e-6, 3_600.0)?;
    check("voice-mean-s", args.voice_mean_s, 0.001, 1e6)?;
    check("data-mean-s", args.data_mean_s, 0.001, 1e6)?;
    check("voice-share", args.voice_share, 0.0, 1.0)?;
    let (terminals, terminals_from) = handsets(&args)?;
    if terminals.is_empty() {
        bail!("{terminals_from}: no terminals");
    }
    let mut names: Vec<&str> = terminals.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "{terminals_from}: terminal name {:?} appears twice (handovers.csv names terminals)",
            w[0]
        );
    }
    let (sats, default_start, source) = load(&args)?;
    let start = match &args.start {
        Some(s) => Epoch::parse_iso(s).context("--start")?,
        None => default_start,
    };
    let end = start.add_ns((args.duration_s * 1e9).round() as i64);
    let budget = LinkBudget {
        eirp_dbw_per_mhz: check("eirp-dbw-per-mhz", args.eirp_dbw_per_mhz, -100.0, 200.0)?,
        g_over_t_db_k: check("handset-gt-db-k", args.handset_gt_db_k, -100.0, 100.0)?,
        frequency_ghz: check("frequency-ghz", args.frequency_ghz, 0.01, 1_000.0)?,
        losses_db: check("losses-db", args.losses_db, 0.0, 200.0)?,
        bandwidth_mhz: check("bandwidth-mhz", args.bandwidth_mhz, 1e-6, 1e5)?,
        required_bps: check("rate-kbps", args.rate_kbps, 1e-3, 1e9)? * 1e3,
    };
    let (contacts, masks) = passes(&args, &sats, &terminals, start, end, &budget)?;
    let strategy = match args.strategy {
        StrategyArg::HighestElevation => Strategy::HighestElevation,
        StrategyArg::KeepUntilLost => Strategy::KeepUntilLost,
        StrategyArg::Predictive => Strategy::Predictive,
    };
    let ms_ns = |ms: f64| (ms * 1e6).round() as i64;
    let service = serve(
        &sats,
        &terminals,
        &contacts,
        ServeOptions {
            strategy,
            start,
            end,
            step_ns: ms_ns(args.step_ms),
            lead_ns: ms_ns(args.lead_ms),
        },
    )?;
    let sessions = sessions(&args, &terminals, start, end);
    let p_fail = args.handover_failure;
    // One draw per (session, handover of it): common random numbers across strategies.
    let fail_seed = args.seed ^ 0xd2d0_fa11_0000_0000;
    let outcomes = judge(
        &service,
        &sessions,
        ms_ns(args.handover_ms),
        ms_ns(args.rlf_ms),
        &|i, k| FaultRng::new(fail_seed, ((i as u64) << 20) ^ u64::from(k)).next_f64() < p_fail,
    );

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    // The handsets served, as a station CSV (a grid's or a sample's are made here).
    let path = args.out.join("terminals.csv");
    let mut csv = String::from("name,latitude_deg,longitude_deg,elevation_m\n");
    for t in &terminals {
        csv.push_str(&format!(
            "{},{},{},{}\n",
            crate::orbit_cmd::csv_field(&t.name),
            t.geodetic.latitude_deg,
            t.geodetic.longitude_deg,
            (t.geodetic.altitude_km * 1e4).round() / 10.0
        ));
    }
    std::fs::write(&path, csv).with_context(|| format!("writing {}", path.display()))?;
    let path = args.out.join("handovers.csv");
    let mut csv = String::from("terminal,time_utc,from_satellite,to_satellite,interruption_ms\n");
    for h in &service.handovers {
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            crate::orbit_cmd::csv_field(&terminals[h.terminal].name),
            h.at,
            crate::orbit_cmd::csv_field(sats[h.from].label()),
            crate::orbit_cmd::csv_field(sats[h.to].label()),
            args.handover_ms
        ));
    }
    std::fs::write(&path, csv).with_context(|| format!("writing {}", path.display()))?;

    let terminal_s = terminals.len() as f64 * args.duration_s;
    let outage_s: f64 = service
        .outages
        .iter()
        .map(|o| o.end.seconds_since(o.start))
        .fold(0.0, |a, b| a + b);
    let n_ho = service.handovers.len() as f64;
    // Time lost to handovers: each lasts the handover time, cut short by the next handover
    // of the same terminal and by the end of the window.
    let handover_ns = ms_ns(args.handover_ms);
    let interrupted_ns: i64 = service
        .handovers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let next = service
                .handovers
                .get(i + 1)
                .filter(|n| n.terminal == h.terminal)
                .map_or(end, |n| n.at);
            handover_ns.min(next.unix_ns() - h.at.unix_ns())
        })
        .sum();
    let count = |voice: bool, d: Option<Drop>| {
        sessions
            .iter()
            .zip(&outcomes)
            .filter(|(s, o)| s.voice == voice && o.dropped.map(|x| x.0) == d)
            .count()
    };
    let kind = |voice: bool| {
        let n = sessions.iter().filter(|s| s.voice == voice).count();
        let blocked = sessions
            .iter()
            .zip(&outcomes)
            .filter(|(s, o)| s.voice == voice && o.blocked)
            .count();
        let dropped = n - count(voice, None);
        let served = n - blocked;
        serde_json::json!({
            "sessions": n,
            "blocked": blocked,
            "dropped": dropped,
            "dropped_share_of_served": if served > 0 { dropped as f64 / served as f64 } else { 0.0 },
            "dropped_by_outage": count(voice, Some(Drop::Outage)),
            "dropped_by_failed_handover": count(voice, Some(Drop::FailedHandover)),
            "dropped_by_long_handover": count(voice, Some(Drop::LongHandover)),
        })
    };
    let interrupted = outcomes.iter().filter(|o| o.interruptions > 0).count();
    let summary = serde_json::json!({
        "satellites": source,
        "terminals": terminals.len(),
        "start_utc": start.to_string(),
        "duration_s": args.duration_s,
        "strategy": strategy.key(),
        "min_elevation_deg": args.min_elevation_deg,
        "handover_ms": args.handover_ms,
        "lead_ms": args.lead_ms,
        "rlf_ms": args.rlf_ms,
        "handover_failure": args.handover_failure,
        "seed": args.seed,
        "link_budget": {
            "eirp_dbw_per_mhz": budget.eirp_dbw_per_mhz,
            "handset_g_over_t_db_k": budget.g_over_t_db_k,
            "frequency_ghz": budget.frequency_ghz,
            "losses_db": budget.losses_db,
            "bandwidth_mhz": budget.bandwidth_mhz,
            "rate_kbps": args.rate_kbps,
            "required_cnr_db": budget.required_cnr_db(),
            "max_range_km": budget.max_range_km(),
            "budget_mask_deg_min": masks.lowest,
            "budget_mask_deg_max": masks.highest,
            "pairs_out_of_reach": masks.unreachable,
            "binds": masks.binds,
        },
        "handovers": service.handovers.len(),
        "handovers_per_terminal_hour": n_ho / (terminal_s / 3_600.0),
        "interruption_share": interrupted_ns as f64 / 1e9 / terminal_s,
        "outage_share": outage_s / terminal_s,
        "sessions": sessions.len(),
        "sessions_blocked": outcomes.iter().filter(|o| o.blocked).count(),
        "sessions_interrupted": interrupted,
        "sessions_dropped": sessions.len() - count(true, None) - count(false, None),
        "voice": kind(true),
        "data": kind(false),
    });
    let path = args.out.join("summary.json");
    let mut text = serde_json::to_string_pretty(&summary).expect("JSON of plain values");
    text.push('\n');
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    let hours = args.duration_s / 3_600.0;
    let per_terminal: Vec<tiandi_html::D2dTerminal> = terminals
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let mine = || {
                sessions
                    .iter()
                    .zip(&outcomes)
                    .filter(move |(s, _)| s.terminal == k)
            };
            tiandi_html::D2dTerminal {
                name: t.name.clone(),
                handovers_per_hour: service.handovers.iter().filter(|h| h.terminal == k).count()
                    as f64
                    / hours,
                outage_share: service
                    .outages
                    .iter()
                    .filter(|o| o.terminal == k)
                    .map(|o| o.end.seconds_since(o.start))
                    .fold(0.0, |a, b| a + b)
                    / args.duration_s,
                sessions: mine().count(),
                blocked: mine().filter(|(_, o)| o.blocked).count(),
                dropped: mine().filter(|(_, o)| o.dropped.is_some()).count(),
            }
        })
        .collect();
    let pct = |v: f64| format!("{:.2} %", v * 100.0);
    let mask_range = match (masks.lowest, masks.highest) {
        (Some(lo), Some(hi)) => format!("{lo:.2} to {hi:.2} deg"),
        _ => "none reachable".into(),
    };
    let page = tiandi_html::d2d_page(&tiandi_html::D2dPage {
        heading: format!(
            "{} terminals, satellites from {source}, {} h from {start}, {}",
            terminals.len(),
            hours,
            strategy.key()
        ),
        figures: vec![
            ("strategy".into(), strategy.key().into()),
            ("handovers".into(), service.handovers.len().to_string()),
            (
                "handovers per terminal-hour".into(),
                format!("{:.2}", n_ho / (terminal_s / 3_600.0)),
            ),
            (
                "handover interruption".into(),
                format!("{} ms", args.handover_ms),
            ),
            (
                "interruption share".into(),
                pct(interrupted_ns as f64 / 1e9 / terminal_s),
            ),
            ("outage share".into(), pct(outage_s / terminal_s)),
            ("sessions".into(), sessions.len().to_string()),
            (
                "sessions blocked".into(),
                outcomes.iter().filter(|o| o.blocked).count().to_string(),
            ),
            ("sessions interrupted".into(), interrupted.to_string()),
            (
                "sessions dropped".into(),
                (sessions.len() - count(true, None) - count(false, None)).to_string(),
            ),
        ],
        budget: vec![
            (
                "satellite EIRP density".into(),
                format!("{} dBW/MHz", budget.eirp_dbw_per_mhz),
            ),
            (
                "handset G/T".into(),
                format!("{} dB/K", budget.g_over_t_db_k),
            ),
            ("frequency".into(), format!("{} GHz", budget.frequency_ghz)),
            ("losses".into(), format!("{} dB", budget.losses_db)),
            ("bandwidth".into(), format!("{} MHz", budget.bandwidth_mhz)),
            ("required rate".into(), format!("{} kbit/s", args.rate_kbps)),
            (
                "required C/N".into(),
                format!("{:.2} dB", budget.required_cnr_db()),
            ),
            (
                "longest range".into(),
                format!("{:.0} km", budget.max_range_km()),
            ),
            ("budget's mask".into(), mask_range),
            (
                "handset's mask".into(),
                format!("{} deg", args.min_elevation_deg),
            ),
            (
                "budget binds".into(),
                if masks.binds || masks.unreachable > 0 {
                    "yes: passes end where the rate cannot be carried".into()
                } else {
                    "no: the handset's mask is the stricter".into()
                },
            ),
        ],
        terminals: per_terminal,
    })?;
    let path = args.out.join(tiandi_html::REPORT_FILE);
    tiandi_html::write_file(&path, &page)?;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "{} terminals, {} handovers ({:.2} per terminal-hour), outage {:.2} %, {} of {} sessions dropped; wrote {}",
        terminals.len(),
        service.handovers.len(),
        n_ho / (terminal_s / 3_600.0),
        outage_s / terminal_s * 100.0,
        sessions.len() - count(true, None) - count(false, None),
        sessions.len(),
        args.out.display()
    )?;
    Ok(())
}
