//! The IoT workload of a run: store and forward over the run's own satellites, ground
//! stations and outages (the same twin the tasks run on), and the figures a report shows.
//!
//! Terminals and stations see satellites at one-second resolution
//! ([`tiandi_network::iot::visibility_windows`], each station at its own mask); a satellite
//! in an outage (`faults.outages`) neither hears terminals nor talks to stations, so its
//! windows are cut there; its buffer survives. With ISLs in the design, a satellite also
//! reaches the ground through its laser neighbours: at each step of the run, every
//! satellite of an ISL-connected group (the twin's snapshot, satellites in outage left
//! out) may downlink during the station windows of any member, so a message waits only
//! until some satellite of its group sees a station. The messages then go through
//! [`tiandi_network::iot::store_and_forward`]. IoT does not depend on the placement
//! policy: the figures are the same under every policy of a run.

use tiandi_network::iot::{
    Fate, IotError, IotOutcome, SampledOrbits, Window, store_and_forward, visibility_windows,
};
use tiandi_network::{IslPattern, LinkKind, Network, NetworkError, SnapshotBuilder};
use tiandi_orbit::PropagationError;

use crate::model::SimSetup;

/// Why the IoT workload could not be run.
#[derive(Debug, thiserror::Error)]
pub enum IotRunError {
    #[error("cannot propagate the satellites for IoT visibility: {0}")]
    Propagation(#[from] PropagationError),
    #[error(transparent)]
    Iot(#[from] IotError),
    #[error("the run is {0} s long: IoT visibility is sampled each second, at most 2^31 s")]
    TooLong(i64),
    #[error("cannot build the ISL topology for IoT forwarding: {0}")]
    Network(#[from] NetworkError),
}

/// Quantiles of the delivered messages' latency: `LATENCY_QUANTILES + 1` values, from the
/// minimum to the maximum in equal steps of probability.
pub const LATENCY_QUANTILES: usize = 100;

/// What a run's IoT workload did.
#[derive(Clone, Debug, PartialEq)]
pub struct IotRun {
    pub outcome: IotOutcome,
    pub terminals: u32,
    pub sent: u64,
    /// Delivered messages' latency, sending to delivery, s: `[q0, q1, ..., q100]` (empty
    /// when none was delivered).
    pub latency_quantiles_s: Vec<f64>,
    pub latency_mean_s: Option<f64>,
    /// Messages on board all satellites together at `start + k * occupancy_step_s`.
    pub occupancy_step_s: f64,
    pub occupancy: Vec<u64>,
    /// Satellite-seconds cut from the windows by outages.
    pub outage_cut_s: f64,
    /// Satellite-seconds of downlink gained through ISL neighbours (0 without ISLs).
    pub isl_relay_s: f64,
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let up = parent[parent[x as usize] as usize];
        parent[x as usize] = up;
        x = up;
    }
    x
}

/// Downlink windows gained through ISLs: for each step `[t_k, t_k+1)`, each satellite gets
/// the station windows of the other members of its ISL-connected group, clipped to the
/// step (`station_windows` already cut by outages, so a satellite in outage lends none;
/// satellites in outage at `t_k` are also left out of the groups). Returns them per
/// satellite and their total length, ns.
fn relay_windows(
    setup: &SimSetup,
    orbits: &SampledOrbits,
    station_windows: &[Vec<Window>],
    end_ns: i64,
) -> Result<(Vec<Vec<Window>>, i64), IotRunError> {
    let n = setup.satellites.len();
    let mut out: Vec<Vec<Window>> = vec![Vec::new(); n];
    if matches!(setup.network.links.isl.pattern, IslPattern::None) || n < 2 {
        return Ok((out, 0));
    }
    let net = Network::new(setup.network.clone())?;
    let mut builder = SnapshotBuilder::new(&net);
    let step_ns = setup.step_ns.max(1_000_000_000);
    let step_s = (step_ns / 1_000_000_000) as usize;
    let start_ns = setup.start.unix_ns();
    let mut gained = 0i64;
    let mut positions = vec![glam::DVec3::ZERO; n];
    let mut parent: Vec<u32> = Vec::with_capacity(n);
    let mut members: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    let mut k = 0usize;
    while (k * step_ns as usize) < end_ns as usize {
        let (t0, t1) = (k as i64 * step_ns, ((k as i64 + 1) * step_ns).min(end_ns));
        let sample = (k * step_s).min(orbits.ecef[0].len() - 1);
        for (p, e) in positions.iter_mut().zip(&orbits.ecef) {
            *p = e[sample];
        }
        let at = setup.start.add_ns(t0);
        let snap = builder.build_from_positions(at, &positions)?;
        let down = |s: u32| {
            setup.faults.outages.iter().any(|&(o, from, to)| {
                o == s && from.unix_ns() - start_ns <= t0 && t0 < to.unix_ns() - start_ns
            })
        };
        parent.clear();
        parent.extend(0..n as u32);
        for l in snap.links() {
            if l.kind == LinkKind::Isl && !down(l.a) && !down(l.b) {
                let (ra, rb) = (find(&mut parent, l.a), find(&mut parent, l.b));
                if ra != rb {
                    parent[ra.max(rb) as usize] = ra.min(rb);
                }
            }
        }
        members.clear();
        for s in 0..n as u32 {
            let r = find(&mut parent, s);
            members.entry(r).or_default().push(s);
        }
        for group in members.values().filter(|g| g.len() > 1) {
            // The group's station time in this step, as sorted disjoint intervals.
            let mut spans: Vec<(i64, i64)> = group
                .iter()
                .flat_map(|&g| station_windows[g as usize].iter())
                .filter(|w| w.end_ns > t0 && w.start_ns < t1)
                .map(|w| (w.start_ns.max(t0), w.end_ns.min(t1)))
                .collect();
            if spans.is_empty() {
                continue;
            }
            spans.sort_unstable();
            let mut merged: Vec<(i64, i64)> = Vec::new();
            for (a, b) in spans {
                match merged.last_mut() {
                    Some(m) if a <= m.1 => m.1 = m.1.max(b),
                    _ => merged.push((a, b)),
                }
            }
            let total: i64 = merged.iter().map(|(a, b)| b - a).sum();
            for &g in group {
                for &(a, b) in &merged {
                    out[g as usize].push(Window {
                        sat: g,
                        start_ns: a,
                        end_ns: b,
                    });
                }
                // What the group adds to the satellite's own station time in the step.
                let mut own: Vec<(i64, i64)> = station_windows[g as usize]
                    .iter()
                    .filter(|w| w.end_ns > t0 && w.start_ns < t1)
                    .map(|w| (w.start_ns.max(t0), w.end_ns.min(t1)))
                    .collect();
                own.sort_unstable();
                let (mut own_ns, mut reach) = (0i64, i64::MIN);
                for (a, b) in own {
                    let a = a.max(reach);
                    if b > a {
                        own_ns += b - a;
                        reach = b;
                    }
                }
                gained += total - own_ns;
            }
        }
        k += 1;
    }
    Ok((out, gained))
}

/// Removes `[from, to)` of satellite `sat` from `windows` (which may split one in two).
fn cut(windows: &mut Vec<Window>, sat: u32, from: i64, to: i64) -> i64 {
    let mut removed = 0;
    let mut out = Vec::with_capacity(windows.len());
    for &w in windows.iter() {
        if w.sat != sat || w.end_ns <= from || w.start_ns >= to {
            out.push(w);
            continue;
        }
        removed += w.end_ns.min(to) - w.start_ns.max(from);
        if w.start_ns < from {
            out.push(Window { end_ns: from, ..w });
        }
        if w.end_ns > to {
            out.push(Window { start_ns: to, ..w });
        }
    }
    *windows = out;
    removed
}

/// Runs the setup's IoT workload, if it has one. `on_stage` hears what is being done.
pub fn run_iot(setup: &SimSetup, on_stage: &dyn Fn(&str)) -> Result<Option<IotRun>, IotRunError> {
    let Some(iot) = &setup.iot else {
        return Ok(None);
    };
    // Times as ns since the start, as the windows and messages have them.
    let start_ns = setup.start.unix_ns();
    let end_ns = setup.end.unix_ns() - start_ns;
    let seconds = end_ns.div_euclid(1_000_000_000);
    let seconds = u32::try_from(seconds.max(0))
        .ok()
        .filter(|&s| s < 1 << 31)
        .ok_or(IotRunError::TooLong(seconds))?;
    on_stage("IoT: propagating the satellites each second");
    let orbits = SampledOrbits::new(&setup.satellites, setup.start, seconds)?;
    on_stage("IoT: terminal visibility");
    let mut terminal_windows = visibility_windows(&orbits, &iot.terminals, iot.min_elevation_deg)?;
    on_stage("IoT: station visibility");
    let n_sats = setup.satellites.len();
    let mut station_windows: Vec<Vec<Window>> = vec![Vec::new(); n_sats];
    for st in &setup.network.stations {
        let per = visibility_windows(
            &orbits,
            std::slice::from_ref(&st.station),
            st.min_elevation_deg
                .unwrap_or(setup.network.links.gsl.min_elevation_deg),
        )?;
        for w in per.into_iter().flatten() {
            station_windows[w.sat as usize].push(w);
        }
    }
    let mut outage_cut_ns = 0i64;
    for &(sat, from, to) in &setup.faults.outages {
        let (from, to) = (from.unix_ns() - start_ns, to.unix_ns() - start_ns);
        for list in terminal_windows.iter_mut() {
            outage_cut_ns += cut(list, sat, from, to);
        }
        if let Some(list) = station_windows.get_mut(sat as usize) {
            outage_cut_ns += cut(list, sat, from, to);
        }
    }
    let (mut relayed, isl_relay_ns) = relay_windows(setup, &orbits, &station_windows, end_ns)?;
    // An outage that begins inside a step ends the satellite's relayed time there too.
    for &(sat, from, to) in &setup.faults.outages {
        let (from, to) = (from.unix_ns() - start_ns, to.unix_ns() - start_ns);
        if let Some(list) = relayed.get_mut(sat as usize) {
            cut(list, sat, from, to);
        }
    }
    for (own, more) in station_windows.iter_mut().zip(relayed) {
        own.extend(more);
    }
    on_stage("IoT: store and forward");
    let outcome = store_and_forward(
        &iot.sent,
        &terminal_windows,
        &station_windows,
        &iot.config,
        end_ns,
    )?;
    let lat = outcome.latencies_ns(&iot.sent);
    let latency_quantiles_s = if lat.is_empty() {
        Vec::new()
    } else {
        (0..=LATENCY_QUANTILES)
            .map(|q| {
                // Nearest rank: the smallest latency with at least q % at or below it.
                let rank = (q * lat.len()).div_ceil(LATENCY_QUANTILES).max(1) - 1;
                lat[rank.min(lat.len() - 1)] as f64 / 1e9
            })
            .collect()
    };
    let latency_mean_s = (!lat.is_empty())
        .then(|| lat.iter().map(|&l| l as f64 / 1e9).fold(0.0, |a, b| a + b) / lat.len() as f64);
    // The fleet's occupancy: +1 when a message comes aboard, -1 when its downlink ends.
    let step_ns = setup.step_ns.max(1_000_000_000);
    let n_samples = (end_ns / step_ns + 1) as usize;
    let mut delta = vec![0i64; n_samples + 1];
    // A message counts at a sample time once it is aboard, and no longer once it is down.
    let sample_after = |t: i64| ((t + step_ns - 1).max(0) / step_ns) as usize;
    for f in &outcome.fates {
        let (on, off) = match *f {
            Fate::Delivered {
                aboard_ns, at_ns, ..
            } => (aboard_ns, Some(at_ns)),
            Fate::Stored { aboard_ns, .. } => (aboard_ns, None),
            _ => continue,
        };
        delta[sample_after(on).min(n_samples)] += 1;
        if let Some(off) = off {
            delta[sample_after(off).min(n_samples)] -= 1;
        }
    }
    let mut level = 0i64;
    let occupancy = delta[..n_samples]
        .iter()
        .map(|d| {
            level += d;
            level as u64
        })
        .collect();
    Ok(Some(IotRun {
        terminals: iot.terminals.len() as u32,
        sent: iot.sent.len() as u64,
        outcome,
        latency_quantiles_s,
        latency_mean_s,
        occupancy_step_s: step_ns as f64 / 1e9,
        occupancy,
        outage_cut_s: outage_cut_ns as f64 / 1e9,
        isl_relay_s: isl_relay_ns as f64 / 1e9,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(sat: u32, s: i64, e: i64) -> Window {
        Window {
            sat,
            start_ns: s,
            end_ns: e,
        }
    }

    #[test]
    fn an_outage_cuts_splits_or_removes_only_its_satellites_windows() {
        let mut v = vec![w(0, 0, 100), w(1, 0, 100), w(0, 200, 300), w(0, 400, 500)];
        let removed = cut(&mut v, 0, 50, 250);
        assert_eq!(removed, 50 + 50);
        assert_eq!(
            v,
            vec![w(0, 0, 50), w(1, 0, 100), w(0, 250, 300), w(0, 400, 500)]
        );
        let removed = cut(&mut v, 0, 410, 420);
        assert_eq!(removed, 10);
        assert_eq!(&v[3..], &[w(0, 400, 410), w(0, 420, 500)]);
        assert_eq!(cut(&mut v, 0, 0, 1000), 50 + 50 + 10 + 80);
        assert_eq!(v, vec![w(1, 0, 100)]);
    }
}
