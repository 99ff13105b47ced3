//! Criterion benchmark of satellite IoT store and forward at the scale: 100,000
//! terminals over China and its seas, 24 h at 1 s resolution, a 40-satellite narrowband
//! shell (Walker 8 x 5 at 900 km, 50 deg: a Tianqi-like size, parameters ASSUMED), three
//! stations, a 10 deg mask, one 64-byte message per terminal per hour (2.4 million).
//! Timed: sampling the orbits, every terminal's and satellite's visibility windows and the
//! store and forward itself.
//!
//! `cargo bench -p tiandi-network --bench iot`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tiandi_network::iot::{IotConfig, SampledOrbits, store_and_forward, visibility_windows};
use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, GroundStation, Satellite};

const DAY_S: u32 = 86_400;

fn sats() -> Vec<Satellite> {
    WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: 8,
        sats_per_plane: 5,
        phasing: 1,
        altitude_km: 900.0,
        inclination_deg: 50.0,
        epoch: Epoch::from_ymd_hms(2026, 11, 24, 0, 0, 0.0),
        raan_offset_deg: 0.0,
        first_norad_id: 90_000,
        name_prefix: "TQ".into(),
    }
    .elements()
    .unwrap()
    .into_iter()
    .map(|e| Satellite::new(e).unwrap())
    .collect()
}

/// `n` terminals scattered over 18-50 N, 75-135 E by a fixed linear congruential draw.
fn terminals(n: usize) -> Vec<GroundStation> {
    let mut x = 0x1077_u64;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|i| {
            GroundStation::new(
                format!("iot{i}"),
                18.0 + 32.0 * next(),
                75.0 + 60.0 * next(),
                0.0,
            )
            .unwrap()
        })
        .collect()
}

fn day(sats: &[Satellite], terminals: &[GroundStation], stations: &[GroundStation]) -> u64 {
    let start = Epoch::from_ymd_hms(2026, 11, 24, 0, 0, 0.0);
    let orbits = SampledOrbits::new(sats, start, DAY_S).unwrap();
    let up = visibility_windows(&orbits, terminals, 10.0).unwrap();
    // Satellite-to-station windows: the stations' windows regrouped per satellite.
    let mut down = vec![Vec::new(); sats.len()];
    for w in visibility_windows(&orbits, stations, 10.0)
        .unwrap()
        .into_iter()
        .flatten()
    {
        down[w.sat as usize].push(w);
    }
    let n = terminals.len() as i64;
    let mut sent: Vec<(u32, i64)> = (0..24i64)
        .flat_map(|h| {
            (0..n).map(move |i| (i as u32, (h * 3_600 + (i * 7_919) % 3_600) * 1_000_000_000))
        })
        .collect();
    sent.sort_by_key(|s| (s.1, s.0));
    let cfg = IotConfig {
        message_bytes: 64,
        uplink_bps: 2_400.0,
        downlink_bps: 100_000.0,
        buffer_messages: 200_000,
    };
    let out = store_and_forward(&sent, &up, &down, &cfg, i64::from(DAY_S) * 1_000_000_000).unwrap();
    out.delivered
}

fn bench(c: &mut Criterion) {
    let sats = sats();
    let terminals = terminals(100_000);
    let stations = [
        GroundStation::new("Miyun", 40.45, 116.86, 0.0).unwrap(),
        GroundStation::new("Kashgar", 39.47, 75.99, 0.0).unwrap(),
        GroundStation::new("Sanya", 18.25, 109.5, 0.0).unwrap(),
    ];
    let mut g = c.benchmark_group("iot");
    g.sample_size(10).warm_up_time(Duration::from_secs(1));
    g.bench_function("store_and_forward_100k_terminals_24h_1s", |b| {
        b.iter(|| black_box(day(&sats, &terminals, &stations)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
