//! The scenario's workload for one seed and horizon: Earth-observation captures from the
//! satellites' ground tracks, Poisson request streams, and the trace, merged and numbered.

use std::sync::Mutex;

use tiandi_orbit::GroundStation;
use tiandi_orbit::{
    EarthRotation, Epoch, Frame, Shadow, ShadowGeometry, ecef_to_geodetic, for_each_satellite_grid,
    sun_position_km,
};
use tiandi_twin::IotSetup;
use tiandi_workload::{
    NodeIdx, PoissonConfig, Purpose, Stream, Task, TaskKind, TrackPoint, earth_observation_tasks,
    merge_and_number, poisson_tasks,
};

use crate::{EoWorkload, IotWorkload, PoissonWorkload, Scenario, ScenarioError};

/// Most IoT messages one run may send (about 1.6 GB of fates and windows).
pub const MAX_IOT_MESSAGES: f64 = 5e7;

/// The IoT workload for this seed and horizon: the fixed terminals, then those drawn over
/// the areas (uniform over the sphere's surface within each box, boxes chosen in proportion
/// to their areas), each sending a Poisson stream of messages from `start` to `end`.
/// Terminal `i`'s messages come from its own stream, so adding terminals changes no other
/// terminal's times.
pub fn iot(s: &Scenario, w: &IotWorkload, end: Epoch) -> Result<IotSetup, ScenarioError> {
    let err = |message: String| ScenarioError {
        file: s.source.clone(),
        line: None,
        key: "workloads.iot".into(),
        message,
    };
    let mut terminals = w.fixed.clone();
    let sin = |d: f64| d.to_radians().sin();
    let weights: Vec<f64> = w
        .areas
        .iter()
        .map(|a| (sin(a.lat_max_deg) - sin(a.lat_min_deg)) * (a.lon_max_deg - a.lon_min_deg).abs())
        .collect();
    let total_w: f64 = weights.iter().sum();
    let mut place = Stream::new(s.seed, Purpose::Iot, 0);
    for i in 0..w.area_terminals {
        let mut pick = place.uniform() * total_w;
        let mut k = 0;
        while k + 1 < weights.len() && pick >= weights[k] {
            pick -= weights[k];
            k += 1;
        }
        let a = &w.areas[k];
        let lat = place
            .range(sin(a.lat_min_deg), sin(a.lat_max_deg))
            .clamp(-1.0, 1.0)
            .asin()
            .to_degrees();
        let lon = place.range(a.lon_min_deg, a.lon_max_deg);
        let name = format!("{}-{i}", a.name);
        terminals.push(
            GroundStation::new(&name, lat, lon, 0.0)
                .map_err(|e| err(format!("terminal {name}: {e}")))?,
        );
    }
    let hours = end.seconds_since(s.start) / 3_600.0;
    let expected = terminals.len() as f64 * w.messages_per_terminal_h * hours;
    if expected > MAX_IOT_MESSAGES {
        return Err(err(format!(
            "{} terminals x {} messages an hour x {hours} h is {expected:.0} messages: at most {MAX_IOT_MESSAGES:.0}",
            terminals.len(),
            w.messages_per_terminal_h
        )));
    }
    let end_ns = end.unix_ns() - s.start.unix_ns();
    let mut sent: Vec<(u32, i64)> = Vec::with_capacity(expected as usize + 16);
    if w.messages_per_terminal_h > 0.0 {
        let mean_s = 3_600.0 / w.messages_per_terminal_h;
        for t in 0..terminals.len() as u32 {
            let mut rng = Stream::new(s.seed, Purpose::Iot, 1 + u64::from(t));
            let mut at = 0.0;
            loop {
                at += rng.exponential(mean_s) * 1e9;
                if at >= end_ns as f64 {
                    break;
                }
                sent.push((t, at as i64));
            }
        }
    }
    sent.sort_unstable_by_key(|&(t, at)| (at, t));
    Ok(IotSetup {
        terminals,
        min_elevation_deg: w.min_elevation_deg,
        sent,
        config: w.config,
    })
}

/// SplitMix64 (Steele, Lea & Flood 2014): one well-mixed seed per origin from the root seed,
/// so each origin can have its own rate and still its own independent stream.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// All tasks of the scenario in `[start, end)`, sorted by arrival and numbered.
pub fn tasks(s: &Scenario, end: Epoch) -> Result<Vec<Task>, ScenarioError> {
    let mut lists = Vec::new();
    if let Some(eo) = &s.eo {
        lists.extend(eo_tasks(s, eo, end)?);
    }
    for (kind, w) in [
        (TaskKind::BlindZone, &s.blind_zone),
        (TaskKind::GroundAi, &s.ground_ai),
    ] {
        if let Some(w) = w {
            lists.extend(poisson(kind, w, s.start, end, s.seed));
        }
    }
    lists.push(
        s.trace
            .iter()
            .filter(|t| t.arrival < end)
            .cloned()
            .collect(),
    );
    Ok(merge_and_number(lists))
}

fn poisson(
    kind: TaskKind,
    w: &PoissonWorkload,
    start: Epoch,
    end: Epoch,
    seed: u64,
) -> Vec<Vec<Task>> {
    w.origins
        .iter()
        .map(|&(origin, rate_per_s)| {
            let cfg = PoissonConfig {
                rate_per_s,
                ..w.config.clone()
            };
            let origin_seed = mix(seed ^ mix(u64::from(origin) + 1));
            poisson_tasks(kind, &cfg, &[origin], start, end, origin_seed)
        })
        .collect()
}

/// Captures of every satellite, one list per satellite in satellite order.
fn eo_tasks(s: &Scenario, eo: &EoWorkload, end: Epoch) -> Result<Vec<Vec<Task>>, ScenarioError> {
    let step_ns = (eo.track_step_s * 1e9).round() as i64;
    let n_times = ((end.unix_ns() - s.start.unix_ns()) / step_ns + 1) as usize;
    let times: Vec<Epoch> = (0..n_times)
        .map(|k| s.start.add_ns(k as i64 * step_ns))
        .collect();
    let rotations: Vec<EarthRotation> = times.iter().map(|&t| EarthRotation::at(t)).collect();
    let suns: Vec<_> = times.iter().map(|&t| sun_position_km(t)).collect();
    let out: Mutex<Vec<(usize, Vec<Task>)>> = Mutex::new(Vec::with_capacity(s.satellites.len()));
    for_each_satellite_grid(&s.satellites, &times, Frame::Teme, |sat_idx, states| {
        let track: Vec<TrackPoint> = states
            .iter()
            .enumerate()
            .map(|(k, st)| {
                let g = ecef_to_geodetic(rotations[k].teme_to_ecef_position(st.position_km));
                TrackPoint {
                    t: times[k],
                    latitude_deg: g.latitude_deg,
                    longitude_deg: g.longitude_deg,
                    sunlit: ShadowGeometry::new(st.position_km, suns[k]).state() == Shadow::Sunlit,
                }
            })
            .collect();
        let mut tasks =
            earth_observation_tasks(&eo.config, sat_idx as NodeIdx, &track, &eo.targets);
        // A capture still open at the end is flushed at the last grid time: keep only what
        // arrives inside the run.
        tasks.retain(|t| t.arrival < end);
        out.lock()
            .expect("no panics while held")
            .push((sat_idx, tasks));
    })
    .map_err(|e| ScenarioError {
        file: s.source.clone(),
        line: None,
        key: "constellation".into(),
        message: format!("cannot propagate for the Earth-observation ground tracks: {e}"),
    })?;
    let mut per_sat = out.into_inner().expect("no panics while held");
    per_sat.sort_by_key(|(i, _)| *i);
    Ok(per_sat.into_iter().map(|(_, t)| t).collect())
}
