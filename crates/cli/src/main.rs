//! The `tiandi` binary: argument parsing, file reading, progress and exit codes.
//!
//! A thin layer over the library crates: each subcommand reads its inputs, calls the core
//! and writes CSV/JSON/text to stdout. Errors are printed as one line on stderr and mapped
//! to a non-zero exit code here and nowhere else.

mod d2d_cmd;
mod hypatia_out;
mod input;
mod network_cmd;
mod orbit_cmd;
mod plan_cmd;
mod progress;
mod reach_cmd;
mod report_cmd;
mod serve_cmd;
mod sim_cmd;
mod sweep_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// tiandi (天地): a space-ground computing network run as one machine.
///
/// Digital twin of LEO compute constellations, ground stations and data centres:
/// orbits, contact windows, eclipses, topology and routes, node physics and planning.
#[derive(Parser)]
#[command(name = "tiandi", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Propagate satellites with SGP4 and print their states as CSV
    /// (satellite,time_utc,x_km,y_km,z_km,vx_km_s,vy_km_s,vz_km_s).
    Propagate(orbit_cmd::PropagateArgs),
    /// Contact windows (AOS, LOS, max elevation) between satellites and ground stations, as
    /// CSV. With no --tle, uses the built-in compute constellation and station set.
    Contacts(orbit_cmd::ContactsArgs),
    /// Umbra and penumbra intervals of each satellite, as CSV.
    Eclipses(orbit_cmd::EclipsesArgs),
    /// Generate constellation designs as TLE text (e.g. `constellation walker ... > out.tle`).
    #[command(subcommand)]
    Constellation(orbit_cmd::ConstellationCommand),
    /// The network topology (ISL, GSL, fibre links) at one instant, as CSV.
    Topology(network_cmd::TopologyArgs),
    /// Shortest-delay routes between all pairs of ground nodes (stations, and data centres
    /// and point users when given) over time, as CSV or a summary.
    Routes(network_cmd::RoutesArgs),
    /// Latency circles: for each point of a grid, the share of time it reaches compute
    /// (data centres, satellites or both) within each threshold (1, 5, 20 ms by default)
    /// and its median best delay, as CSV; GeoJSON and an HTML map on request.
    Reach(Box<reach_cmd::ReachArgs>),
    /// Direct-to-device service: the serving satellite of each handset terminal, the
    /// handovers (handovers.csv) and what they cost voice and data sessions (summary.json).
    D2d(Box<d2d_cmd::D2dArgs>),
    /// Size a compute satellite (power, thermal, mass, launch cost) and compare it with a
    /// ground data centre of the same compute.
    Plan(Box<plan_cmd::PlanArgs>),
    /// Simulate a scenario (the built-in default without a file): tasks placed by a
    /// policy over the time-varying network; writes summary.json, tasks.csv/.parquet,
    /// links and nodes, and prints a summary table (side by side with --compare).
    Simulate(sim_cmd::SimulateArgs),
    /// Compare policies over many seeds: a grid of runs in parallel, one row per run
    /// (runs.csv, runs.parquet), each policy's mean and 95% confidence interval and its
    /// paired difference to the first policy; shardable onto a cluster (--shard I/N,
    /// `sweep merge`, `sweep manifest --kubernetes|--slurm`).
    Sweep(Box<sweep_cmd::SweepArgs>),
    /// Scenario files: show a built-in one, check a file.
    #[command(subcommand)]
    Scenario(sim_cmd::ScenarioCommand),
    /// Rebuild DIR/report.html (one self-contained page of maps and plots) from the files
    /// `tiandi simulate --out DIR` wrote.
    Report(report_cmd::ReportArgs),
    /// Run the control plane: a live scheduling service (HTTP/JSON API, OpenAPI at
    /// /openapi.json) over the twin, with a durable task store.
    Serve(serve_cmd::ServeArgs),
    /// Run a node agent: heartbeats with telemetry, runs the stages the service assigns.
    Agent(serve_cmd::AgentArgs),
    /// Load generator for the service benchmark: submissions at a fixed rate, latency
    /// percentiles as JSON.
    Load(serve_cmd::LoadArgs),
    /// Make a new random bearer token for the service: prints the token (give it to its
    /// user) and the `token_sha256` line for the configuration (which then holds no
    /// secret).
    Token,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Propagate(args) => orbit_cmd::propagate(args),
        Command::Contacts(args) => orbit_cmd::contacts(args),
        Command::Eclipses(args) => orbit_cmd::eclipses(args),
        Command::Constellation(cmd) => orbit_cmd::constellation(cmd),
        Command::Topology(args) => network_cmd::topology(args),
        Command::Routes(args) => network_cmd::routes(args),
        Command::Reach(args) => reach_cmd::reach_cmd(*args),
        Command::D2d(args) => d2d_cmd::d2d(*args),
        Command::Plan(args) => plan_cmd::plan(*args),
        Command::Simulate(args) => sim_cmd::simulate(args),
        Command::Sweep(args) => sweep_cmd::sweep(*args),
        Command::Scenario(cmd) => sim_cmd::scenario(cmd),
        Command::Report(args) => report_cmd::report(args),
        Command::Serve(args) => serve_cmd::serve(args),
        Command::Agent(args) => serve_cmd::agent(args),
        Command::Load(args) => serve_cmd::load(args),
        Command::Token => serve_cmd::token(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `tiandi ... | head`: the reader left; that is not a failure.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One line: the chain of contexts joined with ": ".
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
