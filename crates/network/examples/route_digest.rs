//! A digest of every route of the benchmark horizon (source, destination, delay and
//! bottleneck to the bit, path, links) and the full-precision summary: run it before and
//! after an optimisation to check that no result changed.
//!
//! `cargo run --release -p tiandi-network --example route_digest [-- SNAPSHOTS [STRIDE]]`

#[path = "../benches/common/mod.rs"]
mod common;

use std::hash::{DefaultHasher, Hash, Hasher};

use tiandi_network::{Horizon, RouteTimeline, RoutingMode};

fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .map_or(2_000, |a| a.parse().unwrap());
    let stride: usize = std::env::args().nth(2).map_or(1, |a| a.parse().unwrap());
    let sats = common::starlink_shell1();
    let net = common::network(sats.len());
    let endpoints: Vec<u32> = net.station_ids().map(|id| id.0).collect();
    let step_ns = 100_000_000;
    let horizon = Horizon::new(common::start(), n * step_ns, step_ns).unwrap();
    let mut tl = RouteTimeline::new(
        &sats,
        &net,
        horizon,
        &endpoints,
        RoutingMode::SatellitesOnly,
    )
    .unwrap();
    let mut h = DefaultHasher::new();
    let mut n_pairs = 0u64;
    while let Some((k, _, table)) = tl.step().unwrap() {
        if k % stride != 0 {
            continue;
        }
        for r in table.pairs() {
            n_pairs += 1;
            (
                r.src,
                r.dst,
                r.delay_ms.to_bits(),
                r.bottleneck_bps.to_bits(),
            )
                .hash(&mut h);
            r.path.hash(&mut h);
            r.links.hash(&mut h);
        }
    }
    println!("pairs {n_pairs} digest {:016x}", h.finish());
    println!("{:?}", tl.summary());
}
