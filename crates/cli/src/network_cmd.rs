//! `tiandi topology` and `tiandi routes`: read satellites and stations, build the network
//! (crate `tiandi_network`) and write links or routes as CSV, or route statistics (and,
//! with `--hypatia-out`, Hypatia's satellite-network state).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use tiandi_network::{
    DataCentre, GslStrategy, Horizon, IslPattern, LinkConfig, Network, NetworkSpec, RegionShape,
    RouteTimeline, RoutingMode, SnapshotBuilder, StationNode, UserTerminalRegion,
};
use tiandi_orbit::{Epoch, Satellite};

use crate::hypatia_out::HypatiaWriter;
use crate::input::{read_satellites, read_stations_csv};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IslArg {
    /// Two intra-plane and two inter-plane neighbours (needs --planes).
    PlusGrid,
    /// The k nearest satellites within range (see --nearest-k).
    NearestK,
    /// No inter-satellite links.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GslStrategyArg {
    /// Each instant, the highest satellites.
    HighestElevation,
    /// Keep a satellite until it sets; fewer handovers.
    KeepUntilLost,
}

/// The network: satellites, stations and link rules.
#[derive(clap::Args, Debug)]
pub struct NetworkArgs {
    /// Satellites: a TLE (2- or 3-line) or OMM file, listed plane by plane for --planes.
    #[arg(long, value_name = "FILE")]
    tle: PathBuf,
    /// Accept TLE checksum mismatches (as warnings).
    #[arg(long)]
    lenient: bool,
    /// Number of orbital planes (equal numbers of satellites per plane, in file order).
    #[arg(long, value_name = "P")]
    planes: Option<u32>,
    /// Inter-satellite link pattern.
    #[arg(long, value_enum, default_value = "plus-grid")]
    isl: IslArg,
    /// Plus-grid: the inter-plane partner is this many slots ahead in the next plane.
    #[arg(long, default_value_t = 0, value_name = "SLOTS")]
    isl_shift: u32,
    /// Nearest-k: number of nearest satellites each satellite proposes links to.
    #[arg(long, default_value_t = 4, value_name = "K")]
    nearest_k: u32,
    /// Lowest altitude the line of sight of an ISL may pass at, km.
    #[arg(long, default_value_t = 80.0, value_name = "KM")]
    grazing_altitude_km: f64,
    /// Longest ISL, km.
    #[arg(long, default_value_t = 5_017.0, value_name = "KM")]
    max_isl_range_km: f64,
    /// Laser terminals per satellite.
    #[arg(long, default_value_t = 4, value_name = "N")]
    laser_terminals: u32,
    /// Ground stations: CSV with header name,latitude_deg,longitude_deg,elevation_m.
    #[arg(long, value_name = "CSV", required_unless_present_any = ["data_centres", "users"])]
    ground_stations: Option<PathBuf>,
    /// Data centres (same CSV header): reached over fibre, full mesh with each other and
    /// every station; routes then run between all ground nodes.
    #[arg(long, value_name = "CSV")]
    data_centres: Option<PathBuf>,
    /// Point users, e.g. ships or terminals (same CSV header): a user terminal at each point
    /// links to the satellites it sees at the elevation mask; users are endpoints only.
    #[arg(long, value_name = "CSV")]
    users: Option<PathBuf>,
    /// Minimum elevation for a ground-to-satellite link, degrees.
    #[arg(
        long,
        default_value_t = 25.0,
        value_name = "DEG",
        allow_negative_numbers = true
    )]
    min_elevation_deg: f64,
    /// Longest ground-to-satellite slant range, km (in addition to the elevation mask);
    /// Hypatia's rule is `--min-elevation-deg 0 --max-gsl-range-km 1089.686` (Starlink-550).
    #[arg(long, value_name = "KM")]
    max_gsl_range_km: Option<f64>,
    /// Antennas per station (simultaneous GSLs); unlimited when absent.
    #[arg(long, value_name = "N")]
    antennas: Option<u32>,
    /// Which satellites a station keeps when it has more in view than antennas.
    #[arg(long, value_enum, default_value = "highest-elevation")]
    gsl_strategy: GslStrategyArg,
}

#[derive(clap::Args, Debug)]
pub struct TopologyArgs {
    #[command(flatten)]
    network: NetworkArgs,
    /// The instant (ISO-8601 UTC, e.g. 2026-11-24T12:00:00Z).
    #[arg(long, value_name = "ISO")]
    at: String,
}

#[derive(clap::Args, Debug)]
pub struct RoutesArgs {
    #[command(flatten)]
    network: NetworkArgs,
    /// First snapshot (ISO-8601 UTC).
    #[arg(long, value_name = "ISO")]
    start: String,
    /// Length of the horizon, seconds: snapshots at start + k * step while before start + duration.
    #[arg(long, value_name = "D")]
    duration_s: f64,
    /// Time between snapshots, milliseconds.
    #[arg(long, value_name = "S")]
    step_ms: u64,
    /// Print statistics (delay mean/p50/p99, unreachable pairs, path churn) instead of routes.
    #[arg(long)]
    summary: bool,
    /// Also write Hypatia's satellite-network state (tles.txt, isls.txt, ground stations,
    /// forwarding state per step) into this directory; see docs/network.md.
    #[arg(long, value_name = "DIR")]
    hypatia_out: Option<PathBuf>,
}

fn load(args: &NetworkArgs) -> Result<(Vec<Satellite>, Network)> {
    let sats = read_satellites(&args.tle, args.lenient)?;
    let read = |p: &Option<PathBuf>| match p {
        Some(p) => read_stations_csv(p),
        None => Ok(Vec::new()),
    };
    let stations = read(&args.ground_stations)?;
    let data_centres = read(&args.data_centres)?
        .into_iter()
        .map(|site| DataCentre {
            site,
            compute_capacity_flops: 0.0,
        })
        .collect();
    let users = read(&args.users)?
        .into_iter()
        .map(|g| UserTerminalRegion {
            name: g.name.clone(),
            shape: RegionShape::Circle {
                latitude_deg: g.geodetic.latitude_deg,
                longitude_deg: g.geodetic.longitude_deg,
                radius_km: 0.0,
            },
            min_elevation_deg: None,
            links: None,
            rate_bps: None,
        })
        .collect();
    let mut links = LinkConfig::default();
    links.isl.pattern = match args.isl {
        IslArg::PlusGrid => IslPattern::PlusGrid {
            shift: args.isl_shift,
        },
        IslArg::NearestK => IslPattern::NearestK { k: args.nearest_k },
        IslArg::None => IslPattern::None,
    };
    links.isl.grazing_altitude_km = args.grazing_altitude_km;
    links.isl.max_range_km = args.max_isl_range_km;
    links.isl.max_terminals = args.laser_terminals;
    links.gsl.min_elevation_deg = args.min_elevation_deg;
    if let Some(r) = args
        .max_gsl_range_km
        .filter(|r| !(r.is_finite() && *r > 0.0))
    {
        anyhow::bail!("--max-gsl-range-km {r}: expected a slant range in km, > 0");
    }
    links.gsl.max_range_km = args.max_gsl_range_km;
    links.gsl.antennas = args.antennas;
    links.gsl.strategy = match args.gsl_strategy {
        GslStrategyArg::HighestElevation => GslStrategy::HighestElevation,
        GslStrategyArg::KeepUntilLost => GslStrategy::KeepUntilLost,
    };
    let spec = NetworkSpec {
        n_satellites: sats.len(),
        n_planes: args.planes,
        stations: stations.into_iter().map(StationNode::new).collect(),
        data_centres,
        user_terminals: users,
        links,
    };
    let net = Network::new(spec).with_context(|| format!("{}", args.tle.display()))?;
    Ok((sats, net))
}

fn parse_time(flag: &str, text: &str) -> Result<Epoch> {
    Epoch::parse_iso(text).with_context(|| format!("--{flag}"))
}

pub fn topology(args: TopologyArgs) -> Result<()> {
    let t = parse_time("at", &args.at)?;
    let (sats, net) = load(&args.network)?;
    let mut builder = SnapshotBuilder::new(&net);
    let snap = builder.build(&sats, t)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    writeln!(out, "a,b,kind,distance_km,delay_ms,capacity_bps")?;
    for l in snap.links() {
        writeln!(
            out,
            "{},{},{},{:.3},{:.6},{:.0}",
            l.a,
            l.b,
            l.kind.as_str(),
            l.distance_km,
            l.delay_ms,
            l.capacity_bps
        )?;
    }
    out.flush()?;
    Ok(())
}

pub fn routes(args: RoutesArgs) -> Result<()> {
    let start = parse_time("start", &args.start)?;
    if !(args.duration_s.is_finite() && args.duration_s > 0.0 && args.duration_s <= 1e7) {
        anyhow::bail!(
            "--duration-s {}: expected a number of seconds in (0, 1e7]",
            args.duration_s
        );
    }
    if args.step_ms == 0 || args.step_ms > 86_400_000 {
        anyhow::bail!("--step-ms {}: expected 1 to 86400000 ms", args.step_ms);
    }
    let step_ns = args.step_ms as i64 * 1_000_000;
    let horizon = Horizon::new(start, (args.duration_s * 1e9).round() as i64, step_ns)?;
    let (sats, net) = load(&args.network)?;
    // Stations only: Hypatia's model, satellites relay. With data centres or users, every
    // ground node is an endpoint and stations and data centres relay too.
    let stations_only = net.first_data_centre() == net.n_nodes();
    let (endpoints, mode): (Vec<u32>, RoutingMode) = if stations_only {
        (
            net.station_ids().map(|id| id.0).collect(),
            RoutingMode::SatellitesOnly,
        )
    } else {
        if args.hypatia_out.is_some() {
            anyhow::bail!(
                "--hypatia-out: Hypatia's state files have ground stations only; leave out --data-centres and --users"
            );
        }
        (
            (net.first_station() as u32..net.n_nodes() as u32).collect(),
            RoutingMode::GroundRelay {
                first_user: net.first_user_terminal() as u32,
            },
        )
    };
    if endpoints.len() < 2 {
        anyhow::bail!(
            "{} ground node(s): routes need at least two endpoints",
            endpoints.len()
        );
    }
    let mut timeline = RouteTimeline::new(&sats, &net, horizon, &endpoints, mode)?;
    let mut hypatia = match &args.hypatia_out {
        Some(dir) => Some(HypatiaWriter::create(
            dir,
            &net,
            &sats,
            args.step_ms,
            args.duration_s,
        )?),
        None => None,
    };
    let bar = crate::progress::bar(horizon.n_steps() as u64, "routes");
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    if !args.summary {
        writeln!(out, "time_s,src,dst,delay_ms,hops,path")?;
    }
    let mut path = String::new();
    while let Some((k, snap, table)) = timeline.step()? {
        bar.inc(1);
        if let Some(w) = &mut hypatia {
            w.write_step(k as i64 * step_ns, snap, table)?;
        }
        if args.summary {
            continue;
        }
        let time_s = (k as i64 * step_ns) as f64 / 1e9;
        for r in table.routes() {
            path.clear();
            for (i, node) in r.path.iter().enumerate() {
                if i > 0 {
                    path.push('-');
                }
                path.push_str(itoa(*node, &mut [0u8; 10]));
            }
            writeln!(
                out,
                "{time_s:.3},{},{},{:.6},{},{path}",
                r.src,
                r.dst,
                r.delay_ms,
                r.hops()
            )?;
        }
    }
    bar.finish_and_clear();
    if let Some(w) = hypatia {
        w.finish(&net)?;
    }
    if args.summary {
        let s = timeline.summary();
        let pair_snapshots = s.n_pairs * s.n_snapshots;
        writeln!(
            out,
            "snapshots: {} ({} ms step), ground nodes: {}, ordered pairs: {}",
            s.n_snapshots,
            args.step_ms,
            endpoints.len(),
            s.n_pairs
        )?;
        writeln!(
            out,
            "routes: {} of {} pair-snapshots",
            s.n_routes, pair_snapshots
        )?;
        writeln!(
            out,
            "delay_ms: mean {:.3}, p50 {:.3}, p99 {:.3}, min {:.3}, max {:.3}; mean hops {:.2}",
            s.mean_delay_ms,
            s.p50_delay_ms,
            s.p99_delay_ms,
            s.min_delay_ms,
            s.max_delay_ms,
            s.mean_hops
        )?;
        writeln!(
            out,
            "unreachable: {} pair-snapshots; {} pairs never reachable",
            s.unreachable_pair_snapshots, s.pairs_never_reachable
        )?;
        writeln!(
            out,
            "path changes: {} ({:.2} per pair per hour)",
            s.path_changes, s.path_changes_per_pair_per_hour
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Decimal digits of `v` without allocating (the route CSV can have millions of rows).
fn itoa(mut v: u32, buf: &mut [u8; 10]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).expect("ASCII digits")
}
