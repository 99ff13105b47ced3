//! Propagation throughput: 10,000 satellites x 1,440 steps (one day at 60 s), SGP4 plus
//! the TEME -> ITRF rotation, parallel over satellites. Target: 6 million per second on
//! 2 cores. Run: `cargo bench -p tiandi-orbit --bench propagate`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, Frame, Satellite, for_each_satellite_grid};

fn constellation() -> Vec<Satellite> {
    let design = WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: 100,
        sats_per_plane: 100,
        phasing: 1,
        altitude_km: 550.0,
        inclination_deg: 53.0,
        epoch: Epoch::parse_iso("2026-11-24T00:00:00Z").unwrap(),
        raan_offset_deg: 0.0,
        first_norad_id: 100_000,
        name_prefix: "B".into(),
    };
    design
        .elements()
        .unwrap()
        .into_iter()
        .map(|e| Satellite::new(e).unwrap())
        .collect()
}

fn bench(c: &mut Criterion) {
    let sats = constellation();
    let start = Epoch::parse_iso("2026-11-24T00:00:00Z").unwrap();
    let times: Vec<Epoch> = (0..1_440)
        .map(|k| start.add_ns(k * 60_000_000_000))
        .collect();
    let mut group = c.benchmark_group("propagate");
    group.sample_size(10);
    group.throughput(Throughput::Elements((sats.len() * times.len()) as u64));
    group.bench_function("10000_sats_x_1440_steps_itrf", |b| {
        b.iter(|| {
            // Consume every state so nothing is optimised away.
            let checksum = AtomicU64::new(0);
            for_each_satellite_grid(&sats, &times, Frame::Itrf, |_, states| {
                let s: f64 = states.iter().map(|s| s.position_km.x).sum();
                checksum.fetch_add(s.to_bits() & 1, Ordering::Relaxed);
            })
            .unwrap();
            black_box(checksum.load(Ordering::Relaxed))
        })
    });
    // One satellite on one thread: the per-propagation cost that the parallel run divides.
    let one = &sats[..1];
    group.throughput(Throughput::Elements(times.len() as u64));
    group.bench_function("1_sat_x_1440_steps_itrf_single_thread", |b| {
        b.iter(|| {
            let states = tiandi_orbit::propagate_grid(black_box(one), &times, Frame::Itrf).unwrap();
            black_box(states[0][times.len() - 1].position_km.x)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
