//! Propagation rate of the benchmark workload (10,000 satellites x 1,440 steps, SGP4 +
//! TEME -> ITRF) in one run, with wall and CPU time: CPU time per propagation does not
//! depend on what else the machine runs, wall time does.
//! Run: `cargo run --release -p tiandi-orbit --example propagate_rate [threads]`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, Frame, Satellite, for_each_satellite_grid};

/// User + system CPU seconds of this process, from /proc/self/stat (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0 // USER_HZ is 100 on Linux.
}

fn main() {
    if let Some(n) = std::env::args().nth(1).and_then(|a| a.parse().ok()) {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .unwrap();
    }
    let epoch = Epoch::parse_iso("2026-11-24T00:00:00Z").unwrap();
    let design = WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: 100,
        sats_per_plane: 100,
        phasing: 1,
        altitude_km: 550.0,
        inclination_deg: 53.0,
        epoch,
        raan_offset_deg: 0.0,
        first_norad_id: 100_000,
        name_prefix: "B".into(),
    };
    let sats: Vec<Satellite> = design
        .elements()
        .unwrap()
        .into_iter()
        .map(|e| Satellite::new(e).unwrap())
        .collect();
    let times: Vec<Epoch> = (0..1_440)
        .map(|k| epoch.add_ns(k * 60_000_000_000))
        .collect();
    let n = (sats.len() * times.len()) as f64;
    // The floor: the sgp4 crate alone on one thread, same satellites and times.
    {
        let consts: Vec<sgp4::Constants> = sats
            .iter()
            .take(1_000)
            .map(|s| {
                let e = &s.elements;
                let d = std::f64::consts::PI / 180.0;
                let orbit = sgp4::Orbit::from_kozai_elements(
                    &sgp4::WGS72,
                    e.inclination_deg * d,
                    e.raan_deg * d,
                    e.eccentricity,
                    e.arg_perigee_deg * d,
                    e.mean_anomaly_deg * d,
                    e.mean_motion_rev_day * std::f64::consts::TAU / 1_440.0,
                )
                .unwrap();
                sgp4::Constants::new(
                    sgp4::WGS72,
                    sgp4::iau_epoch_to_sidereal_time,
                    e.epoch.julian_years_j2000(),
                    e.bstar,
                    orbit,
                )
                .unwrap()
            })
            .collect();
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        let mut acc = 0.0;
        for c in &consts {
            for k in 0..1_440 {
                acc += c
                    .propagate(sgp4::MinutesSinceEpoch(f64::from(k)))
                    .unwrap()
                    .position[0];
            }
        }
        let m = (consts.len() * 1_440) as f64;
        let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        println!(
            "sgp4 crate alone, 1 thread: {:.0} ns per propagation (CPU), {:.0} ns wall ({acc:.0})",
            cpu / m * 1e9,
            wall / m * 1e9
        );
    }
    for run in 0..3 {
        let checksum = AtomicU64::new(0);
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        for_each_satellite_grid(&sats, &times, Frame::Itrf, |_, states| {
            let s: f64 = states.iter().map(|s| s.position_km.x).sum();
            checksum.fetch_add(s.to_bits() & 1, Ordering::Relaxed);
        })
        .unwrap();
        let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        println!(
            "run {run}: {:.0} propagations in {wall:.3} s wall = {:.2} M/s; CPU {cpu:.2} s = {:.0} ns per propagation per core ({} threads)",
            n,
            n / wall / 1e6,
            cpu / n * 1e9,
            rayon::current_num_threads()
        );
    }
}
