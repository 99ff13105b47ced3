//! The latency-circle benchmark of the operator's-questions issue: `tiandi reach` over
//! China at 0.5 deg (18-54 N, 73-135 E: 9,125 land and sea points) for 6 h at 60 s on the
//! default scenario, for each compute set, timed on the wall clock (best and median of
//! five runs). The CSV writing of the command is not in it (a few ms).
//! Run: `cargo bench -p tiandi-cli --bench reach`.

use std::time::Instant;

use tiandi_html::geo::LandMask;
use tiandi_network::{ComputeSet, Horizon, Network, ReachOptions, ReachPoint, reach};
use tiandi_scenario::Scenario;

fn main() {
    let s = Scenario::built_in("default")
        .expect("built in")
        .expect("valid");
    let net = Network::new(s.network.clone()).expect("network");
    let horizon = Horizon::new(s.start, 6 * 3_600_000_000_000, 60_000_000_000).expect("horizon");
    let t0 = Instant::now();
    let land = LandMask::new();
    let mut points = Vec::new();
    for i in 0..=72 {
        for j in 0..=124 {
            let (lat, lon) = (18.0 + 0.5 * f64::from(i), 73.0 + 0.5 * f64::from(j));
            points.push(ReachPoint {
                latitude_deg: lat,
                longitude_deg: lon,
                fibre: land.contains(lon, lat),
            });
        }
    }
    println!(
        "grid: {} points ({} on land), land mask {:.3} s; {} snapshots; {} threads",
        points.len(),
        points.iter().filter(|p| p.fibre).count(),
        t0.elapsed().as_secs_f64(),
        horizon.n_steps(),
        rayon::current_num_threads()
    );
    for compute in [
        ComputeSet::All,
        ComputeSet::DataCentres,
        ComputeSet::Satellites,
    ] {
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let table = reach(
                    &net,
                    &s.satellites,
                    horizon,
                    &points,
                    ReachOptions {
                        compute,
                        terminal_min_elevation_deg: s.network.links.gsl.min_elevation_deg,
                    },
                    &mut || {},
                )
                .expect("reach");
                std::hint::black_box(table.delay_ms(0, 0));
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "reach {compute:?}: best {:.3} s, median {:.3} s (target <= 30 s)",
            times[0], times[2]
        );
    }
}
