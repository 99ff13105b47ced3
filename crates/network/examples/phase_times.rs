//! Time of each phase of one benchmark snapshot (propagation + links, routes), for tuning.
//!
//! `cargo run --release -p tiandi-network --example phase_times`

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::Instant;

use tiandi_network::{RouteTable, RoutingMode, SnapshotBuilder};

fn main() {
    let sats = common::starlink_shell1();
    let net = common::network(sats.len());
    let endpoints: Vec<u32> = net.station_ids().map(|id| id.0).collect();
    let mut builder = SnapshotBuilder::new(&net);
    let mut table = RouteTable::new(&endpoints, net.n_nodes(), RoutingMode::SatellitesOnly);
    let n = 200;
    let (mut build_s, mut route_s) = (0.0, 0.0);
    let mut positions = vec![glam::DVec3::ZERO; sats.len()];
    let mut prop_s = 0.0;
    for k in 0..n {
        let t = common::start().add_ns(k * 100_000_000);
        let t0 = Instant::now();
        tiandi_orbit::positions_ecef_at(&sats, t, &mut positions).unwrap();
        prop_s += t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let snap = builder.build(&sats, t).unwrap();
        build_s += t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        table.compute(snap);
        route_s += t0.elapsed().as_secs_f64();
    }
    let per = |s: f64| s * 1e3 / n as f64;
    let horizon =
        tiandi_network::Horizon::new(common::start(), n * 100_000_000, 100_000_000).unwrap();
    let mut tl = tiandi_network::RouteTimeline::new(
        &sats,
        &net,
        horizon,
        &endpoints,
        RoutingMode::SatellitesOnly,
    )
    .unwrap();
    let t0 = Instant::now();
    tl.run_to_end().unwrap();
    println!(
        "timeline {:.3} ms per snapshot",
        per(t0.elapsed().as_secs_f64())
    );
    let mut prev = table.clone();
    let t0 = Instant::now();
    let mut c = 0;
    for _ in 0..n {
        c += table.count_changes(&prev);
        std::mem::swap(&mut prev, &mut table);
    }
    println!(
        "count_changes {:.3} ms ({c})",
        per(t0.elapsed().as_secs_f64())
    );
    println!("links {} ", builder.snapshot().links().len());
    let snap = builder.snapshot();
    let mut sp = tiandi_network::ShortestPaths::new();
    let t0 = Instant::now();
    let (mut path, mut links) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        for &src in &endpoints {
            sp.run(snap, src, RoutingMode::SatellitesOnly);
            for &dst in &endpoints {
                path.clear();
                links.clear();
                let _ = sp.path_into(snap, dst, &mut path, &mut links);
            }
        }
    }
    println!(
        "one thread: {:.1} us per source (Dijkstra + 99 paths)",
        t0.elapsed().as_secs_f64() * 1e6 / 1000.0
    );
    let t0 = Instant::now();
    for _ in 0..10 {
        for &src in &endpoints {
            sp.run(snap, src, RoutingMode::SatellitesOnly);
        }
    }
    println!(
        "one thread: {:.1} us per Dijkstra",
        t0.elapsed().as_secs_f64() * 1e6 / 1000.0
    );
    println!(
        "propagation only {:.3} ms, build (incl. propagation) {:.3} ms, routes {:.3} ms per snapshot",
        per(prop_s),
        per(build_s),
        per(route_s)
    );
}
