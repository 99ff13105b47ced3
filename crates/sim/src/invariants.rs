//! Invariant checkers run by the tests over many seeds. They look at a run's outputs and
//! trace from outside the engine; the topology check rebuilds every snapshot itself.
//!
//! 1. Every task ends exactly once: completed + failed + dropped = arrived.
//! 2. No transfer uses a link that is down: a hop's link is present, and both ends are out
//!    of outage, in every step from the start of its transmission to its arrival; a link
//!    that appeared after the first step is used only once acquired (ISL) or handed over
//!    (GSL).
//! 3. No compute on a satellite without power or above its temperature limit.
//! 4. Bytes are conserved: every delivered transfer's hops chain from its source to where
//!    it was delivered, each carrying its whole payload; a task's bytes moved are the sum of
//!    its hops; downlink and ISL bytes are parts of that.
//! 5. Energy balances on every satellite in every step: what the array harvested went to
//!    compute, idle devices, bus, heaters, battery losses, curtailment and the change of
//!    charge read off consecutive samples; the charge never falls below the battery's
//!    depth-of-discharge floor; the run's energy books are the sums of the steps.
//! 6. Liveness: a task is dropped only when no node could have taken it. A refused stage
//!    had no compute node able to run it reachable from its data at that instant (the
//!    engine counts them itself, not the policy); every other dropped task was still under
//!    way at the end of the run (a stage running or queued, data moving or waiting for a
//!    route), cut off by the horizon, and none of those is stuck: no transfer waits for a
//!    route the final topology has, no stage waits beside a free ready device.

use std::collections::{BTreeMap, BTreeSet};

use tiandi_network::{LinkKind, Network, SnapshotBuilder};

use crate::engine::Trace;
use tiandi_twin::INITIAL_SOC_FRACTION;

use crate::model::{EnergyBooks, Outcome, RunResult, SimSetup};

/// Checks all invariants; the error lists what broke.
pub fn check(setup: &SimSetup, result: &RunResult, trace: &Trace) -> Result<(), String> {
    let mut problems = Vec::new();
    exactly_once(setup, result, &mut problems);
    links_up(setup, trace, &mut problems);
    compute_powered(setup, result, &mut problems);
    bytes_conserved(result, trace, &mut problems);
    energy_balances(setup, result, &mut problems);
    live(result, trace, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn exactly_once(setup: &SimSetup, result: &RunResult, problems: &mut Vec<String>) {
    if result.tasks.len() != setup.tasks.len() {
        problems.push(format!(
            "{} tasks arrived, {} records",
            setup.tasks.len(),
            result.tasks.len()
        ));
        return;
    }
    for (t, r) in setup.tasks.iter().zip(&result.tasks) {
        if t.id != r.id {
            problems.push(format!("record order: task {} recorded as {}", t.id, r.id));
        }
        if r.finish < r.arrival || r.finish > setup.end {
            problems.push(format!(
                "task {}: finish {} outside [{}, {}]",
                r.id, r.finish, r.arrival, setup.end
            ));
        }
        if r.outcome == Outcome::Completed && r.placement.len() != t.stages.len() {
            problems.push(format!(
                "task {}: completed with {} of {} stages placed",
                r.id,
                r.placement.len(),
                t.stages.len()
            ));
        }
    }
    let s = &result.summary;
    if s.completed + s.failed + s.dropped != s.tasks_total
        || s.tasks_total != setup.tasks.len() as u64
    {
        problems.push(format!(
            "{} completed + {} failed + {} dropped != {} arrived",
            s.completed,
            s.failed,
            s.dropped,
            setup.tasks.len()
        ));
    }
}

fn live(result: &RunResult, trace: &Trace, problems: &mut Vec<String>) {
    let refused: BTreeMap<u64, u32> = trace
        .rejections
        .iter()
        .map(|r| (r.task, r.reachable_compute))
        .collect();
    let under_way: BTreeSet<u64> = trace.in_progress.iter().copied().collect();
    let mut bad = 0usize;
    for r in result
        .tasks
        .iter()
        .filter(|r| r.outcome == Outcome::Dropped)
    {
        let why = match refused.get(&r.id) {
            Some(0) => continue,
            Some(n) => format!("refused with {n} compute nodes able to run it and reachable"),
            None if under_way.contains(&r.id) => continue,
            None => "dropped while nothing of it was under way and no stage was refused".into(),
        };
        bad += 1;
        if bad <= 5 {
            problems.push(format!("task {}: {why}", r.id));
        }
    }
    if bad > 5 {
        problems.push(format!("... {} more tasks dropped without cause", bad - 5));
    }
    for (id, why) in trace.stuck.iter().take(5) {
        problems.push(format!("task {id}: under way at the end but stuck: {why}"));
    }
    if trace.stuck.len() > 5 {
        problems.push(format!("... {} more tasks stuck", trace.stuck.len() - 5));
    }
}

fn links_up(setup: &SimSetup, trace: &Trace, problems: &mut Vec<String>) {
    let Ok(net) = Network::new(setup.network.clone()) else {
        problems.push("network does not build".into());
        return;
    };
    let step_of =
        |t: tiandi_orbit::Epoch| ((t.unix_ns() - setup.start.unix_ns()) / setup.step_ns) as u32;
    // The steps each hop spans, gathered per step so every snapshot is built once.
    let mut by_step: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, h) in trace.hops.iter().enumerate() {
        for k in step_of(h.start)..=step_of(h.done) {
            by_step.entry(k).or_default().push(i);
        }
    }
    let mut builder = SnapshotBuilder::new(&net);
    let mut previous_step = None;
    // The first step of each present link's spell: a link that appeared after the first
    // step carries data only after its acquisition (ISL) or handover (GSL) time.
    let mut spell_start: BTreeMap<(u32, u32), u32> = BTreeMap::new();
    let links = &setup.network.links;
    for (&k, hops) in &by_step {
        let t = setup.start.add_ns(i64::from(k) * setup.step_ns);
        // Keep-until-lost GSLs depend on history: build every step from the first.
        let from = previous_step.map_or(0, |p: u32| p + 1);
        let mut snap = None;
        for j in from..=k {
            let tj = setup.start.add_ns(i64::from(j) * setup.step_ns);
            let built = builder.build(&setup.satellites, tj).cloned();
            if let Ok(s) = &built {
                let present: BTreeSet<(u32, u32)> = s.links().iter().map(|l| (l.a, l.b)).collect();
                spell_start.retain(|key, _| present.contains(key));
                for key in present {
                    spell_start.entry(key).or_insert(j);
                }
            }
            snap = Some(built);
        }
        previous_step = Some(k);
        let snap = match snap.expect("at least one step built") {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("snapshot at {t}: {e}"));
                return;
            }
        };
        let down: BTreeSet<u32> = setup
            .faults
            .outages
            .iter()
            .filter(|(_, from, to)| from.unix_ns() <= t.unix_ns() && t.unix_ns() < to.unix_ns())
            .map(|(s, _, _)| *s)
            .collect();
        for &i in hops {
            let h = &trace.hops[i];
            let key = (h.from.min(h.to), h.from.max(h.to));
            if let (Some(&since), Some(l)) = (spell_start.get(&key), snap.find_link(h.from, h.to))
                && since > 0
                && step_of(h.start) == k
            {
                let wait_s = match l.kind {
                    LinkKind::Isl => links.isl.acquisition_s,
                    LinkKind::Gsl => links.gsl.handover_s,
                    _ => 0.0,
                };
                let usable = setup.start.unix_ns()
                    + i64::from(since) * setup.step_ns
                    + (wait_s * 1e9).round() as i64;
                if h.start.unix_ns() < usable {
                    problems.push(format!(
                        "task {}: hop {}->{} starts at {} before its link (up at step {since}) \
                         is usable at {}",
                        h.task,
                        h.from,
                        h.to,
                        h.start,
                        tiandi_orbit::Epoch::from_unix_ns(usable)
                    ));
                }
            }
            if snap.find_link(h.from, h.to).is_none() {
                problems.push(format!(
                    "task {}: hop {}->{} at step {k} ({t}) uses a link that is down",
                    h.task, h.from, h.to
                ));
            }
            if down.contains(&h.from) || down.contains(&h.to) {
                problems.push(format!(
                    "task {}: hop {}->{} at step {k} touches a satellite in outage",
                    h.task, h.from, h.to
                ));
            }
        }
    }
}

fn compute_powered(setup: &SimSetup, result: &RunResult, problems: &mut Vec<String>) {
    for s in &result.nodes {
        if s.work_flop <= 0.0 {
            continue;
        }
        if s.compute_w <= 0.0 {
            problems.push(format!(
                "satellite {} computed {:.3e} FLOP in step {} with no power granted",
                s.satellite, s.work_flop, s.step
            ));
        }
        let limit = setup.satellite_nodes[s.satellite as usize]
            .thermal
            .temp_limit_k();
        // f32 storage of the temperature: 1e-3 K.
        if f64::from(s.temp_k) > limit + 1e-3 {
            problems.push(format!(
                "satellite {} computed at {} K, above its {} K limit (step {})",
                s.satellite, s.temp_k, limit, s.step
            ));
        }
    }
}

fn energy_balances(setup: &SimSetup, result: &RunResult, problems: &mut Vec<String>) {
    let n_sats = setup.satellites.len();
    let mut soc: Vec<f64> = setup
        .satellite_nodes
        .iter()
        .map(|c| INITIAL_SOC_FRACTION.max(1.0 - c.battery.dod_limit()))
        .collect();
    let mut books = EnergyBooks::default();
    let step_s = setup.step_ns as f64 / 1e9;
    let run_s = (setup.end.unix_ns() - setup.start.unix_ns()) as f64 / 1e9;
    for s in &result.nodes {
        let i = s.satellite as usize;
        if i >= n_sats {
            problems.push(format!("node sample of satellite {i}, of {n_sats}"));
            return;
        }
        let battery = &setup.satellite_nodes[i].battery;
        let cap = battery.capacity_wh();
        let dt_s = step_s.min(run_s - f64::from(s.step) * step_s);
        let h = dt_s / 3_600.0;
        let wh = |w: f32| f64::from(w) * h;
        let stored = (f64::from(s.soc_fraction) - soc[i]) * cap;
        soc[i] = f64::from(s.soc_fraction);
        let (harvested, compute, idle, bus, heater, loss, curtailed) = (
            wh(s.harvested_w),
            wh(s.compute_w),
            wh(s.idle_w),
            wh(s.bus_w),
            wh(s.heater_w),
            wh(s.loss_w),
            wh(s.curtailed_w),
        );
        let out = compute + idle + bus + heater + loss + curtailed + stored;
        // f32 storage: ~1e-7 of each flow and of the battery's capacity.
        let tol = 1e-6 * (harvested + out.abs() + cap) + 1e-6;
        if (harvested - out).abs() > tol {
            problems.push(format!(
                "satellite {i} step {}: harvested {harvested:.6} Wh but compute {compute:.6} + \
                 idle {idle:.6} + bus {bus:.6} + heater {heater:.6} + loss {loss:.6} + \
                 curtailed {curtailed:.6} + stored {stored:.6} = {out:.6} Wh",
                s.step
            ));
        }
        let floor = 1.0 - battery.dod_limit();
        if f64::from(s.soc_fraction) < floor - 1e-6 {
            problems.push(format!(
                "satellite {i} step {}: charge {} below the depth-of-discharge floor {floor}",
                s.step, s.soc_fraction
            ));
        }
        books.harvested_wh += harvested;
        books.compute_wh += compute;
        books.idle_wh += idle;
        books.bus_wh += bus;
        books.heater_wh += heater;
        books.loss_wh += loss;
        books.curtailed_wh += curtailed;
        books.stored_change_wh += stored;
    }
    let e = &result.summary.physics.energy;
    let pairs = [
        ("harvested", books.harvested_wh, e.harvested_wh),
        ("compute", books.compute_wh, e.compute_wh),
        ("idle", books.idle_wh, e.idle_wh),
        ("bus", books.bus_wh, e.bus_wh),
        ("heater", books.heater_wh, e.heater_wh),
        ("loss", books.loss_wh, e.loss_wh),
        ("curtailed", books.curtailed_wh, e.curtailed_wh),
        ("stored change", books.stored_change_wh, e.stored_change_wh),
    ];
    for (name, steps, total) in pairs {
        if (steps - total).abs() > 1e-5 * (steps.abs() + total.abs()) + 1e-3 {
            problems.push(format!(
                "{name} energy: steps sum to {steps:.6} Wh, the run's books say {total:.6} Wh"
            ));
        }
    }
}

fn bytes_conserved(result: &RunResult, trace: &Trace, problems: &mut Vec<String>) {
    // Every delivered transfer: its hops chain from where the data started to where it was
    // delivered, and each carried the transfer's whole payload.
    let mut hops_of: BTreeMap<u32, Vec<&crate::engine::HopRecord>> = BTreeMap::new();
    for h in &trace.hops {
        hops_of.entry(h.transfer).or_default().push(h);
    }
    for d in &trace.deliveries {
        let hops = hops_of.get(&d.transfer).map_or(&[][..], Vec::as_slice);
        let mut at = d.from;
        for h in hops {
            if h.from != at || h.bytes != d.bytes {
                problems.push(format!(
                    "task {}: transfer {} hop {}->{} ({} bytes) does not continue from node {at} with {} bytes",
                    d.task, d.transfer, h.from, h.to, h.bytes, d.bytes
                ));
            }
            at = h.to;
        }
        if at != d.to {
            problems.push(format!(
                "task {}: transfer {} delivered at node {} but its hops end at node {at}",
                d.task, d.transfer, d.to
            ));
        }
    }
    let mut hop_bytes: BTreeMap<u64, u64> = BTreeMap::new();
    for h in &trace.hops {
        *hop_bytes.entry(h.task).or_default() += h.bytes;
    }
    let delivered_results: BTreeSet<u64> = trace.deliveries.iter().map(|d| d.task).collect();
    for r in &result.tasks {
        let hops = hop_bytes.get(&r.id).copied().unwrap_or(0);
        if hops != r.bytes_moved {
            problems.push(format!(
                "task {}: hops carried {hops} bytes, record says {}",
                r.id, r.bytes_moved
            ));
        }
        if r.downlink_bytes + r.isl_bytes > r.bytes_moved {
            problems.push(format!(
                "task {}: downlink {} + ISL {} exceed bytes moved {}",
                r.id, r.downlink_bytes, r.isl_bytes, r.bytes_moved
            ));
        }
        if r.outcome == Outcome::Completed && !delivered_results.contains(&r.id) {
            problems.push(format!("task {}: completed without a delivery", r.id));
        }
    }
}
