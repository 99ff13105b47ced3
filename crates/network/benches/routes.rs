//! Criterion benchmarks of the scenario: Starlink shell 1 (1,584 satellites,
//! plus-grid) and 100 city ground stations at a 25 deg mask. Per snapshot: building the
//! topology (SGP4 + links + CSR), all-pairs routes, and both together; plus a 200-snapshot
//! stretch of the 2,000-snapshot horizon. The full horizon, timed once with peak memory, is
//! the `starlink_routes` example (see docs/PERFORMANCE.md).
//!
//! `cargo bench -p tiandi-network --bench routes`

mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tiandi_network::{Horizon, RouteTable, RouteTimeline, RoutingMode, SnapshotBuilder};

const STEP_NS: i64 = 100_000_000;

fn bench(c: &mut Criterion) {
    let sats = common::starlink_shell1();
    let net = common::network(sats.len());
    let endpoints: Vec<u32> = net.station_ids().map(|id| id.0).collect();

    let mut builder = SnapshotBuilder::new(&net);
    let mut k = 0i64;
    c.bench_function("snapshot_build_starlink_100gs", |b| {
        b.iter(|| {
            k += 1;
            black_box(
                builder
                    .build(&sats, common::start().add_ns(k * STEP_NS))
                    .unwrap()
                    .links()
                    .len(),
            )
        })
    });

    let mut builder = SnapshotBuilder::new(&net);
    let snap = builder.build(&sats, common::start()).unwrap();
    let mut table = RouteTable::new(&endpoints, net.n_nodes(), RoutingMode::SatellitesOnly);
    c.bench_function("routes_all_pairs_starlink_100gs", |b| {
        b.iter(|| table.compute(black_box(snap)))
    });

    let mut builder = SnapshotBuilder::new(&net);
    let mut table = RouteTable::new(&endpoints, net.n_nodes(), RoutingMode::SatellitesOnly);
    let mut k = 0i64;
    c.bench_function("snapshot_and_routes_starlink_100gs", |b| {
        b.iter(|| {
            k += 1;
            let snap = builder
                .build(&sats, common::start().add_ns(k * STEP_NS))
                .unwrap();
            table.compute(snap);
        })
    });

    let mut group = c.benchmark_group("horizon");
    group.sample_size(10);
    group.bench_function("200_snapshots_100ms_starlink_100gs", |b| {
        b.iter(|| {
            let horizon = Horizon::new(common::start(), 200 * STEP_NS, STEP_NS).unwrap();
            let mut tl = RouteTimeline::new(
                &sats,
                &net,
                horizon,
                &endpoints,
                RoutingMode::SatellitesOnly,
            )
            .unwrap();
            tl.run_to_end().unwrap();
            black_box(tl.summary())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
