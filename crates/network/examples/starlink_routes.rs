//! The headline benchmark as one timed run: Starlink shell 1, 100 city ground stations,
//! all ordered station pairs routed at 2,000 snapshots (200 s at 100 ms). Prints wall time,
//! time per snapshot, peak RSS and the route summary.
//!
//! `cargo run --release -p tiandi-network --example starlink_routes [-- SNAPSHOTS]`

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::Instant;

use tiandi_network::{Horizon, RouteTimeline, RoutingMode};

/// Peak resident set size (VmHWM) in KiB, from /proc/self/status (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let n_snapshots: i64 = std::env::args()
        .nth(1)
        .map_or(2_000, |a| a.parse().expect("SNAPSHOTS must be an integer"));
    let wall = Instant::now();
    let sats = common::starlink_shell1();
    let net = common::network(sats.len());
    let endpoints: Vec<u32> = net.station_ids().map(|id| id.0).collect();
    let step_ns = 100_000_000;
    let horizon =
        Horizon::new(common::start(), n_snapshots * step_ns, step_ns).expect("valid horizon");
    let mut timeline = RouteTimeline::new(
        &sats,
        &net,
        horizon,
        &endpoints,
        RoutingMode::SatellitesOnly,
    )
    .expect("valid timeline");
    let setup_s = wall.elapsed().as_secs_f64();
    let run = Instant::now();
    timeline.run_to_end().expect("propagation succeeds");
    let run_s = run.elapsed().as_secs_f64();
    let total_s = wall.elapsed().as_secs_f64();
    let s = timeline.summary();
    println!(
        "satellites {} ground stations {} snapshots {} threads {}",
        sats.len(),
        endpoints.len(),
        s.n_snapshots,
        rayon::current_num_threads()
    );
    println!(
        "wall {total_s:.3} s (setup {setup_s:.3} s, run {run_s:.3} s), {:.3} ms per snapshot",
        run_s * 1e3 / s.n_snapshots as f64
    );
    match peak_rss_kib() {
        Some(kib) => println!("peak RSS {:.1} MiB", kib as f64 / 1024.0),
        None => println!("peak RSS unknown (no /proc/self/status)"),
    }
    println!(
        "routes {} / {} pair-snapshots; delay mean {:.3} ms p50 {:.3} ms p99 {:.3} ms; unreachable pair-snapshots {}; path changes {} ({:.1} per pair per hour)",
        s.n_routes,
        s.n_pairs * s.n_snapshots,
        s.mean_delay_ms,
        s.p50_delay_ms,
        s.p99_delay_ms,
        s.unreachable_pair_snapshots,
        s.path_changes,
        s.path_changes_per_pair_per_hour
    );
}
