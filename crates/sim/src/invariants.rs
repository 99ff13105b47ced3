//! Invariant checkers run by the tests over many seeds. They look at a run's outputs and
//! trace from outside the engine; the topology check rebuilds every snapshot itself.
//!
//! 1. Every task ends exactly once: completed + failed + dropped = arrived.
//! 2. No transfer uses a link that is down: a hop's link is present, and both ends are out
//!    of outage, in every step from the start of its transmission to its arrival.
//! 3. No compute on a satellite without power or above its temperature limit.
//! 4. Bytes are conserved: every delivered transfer's hops chain from its source to where
//!    it was delivered, each carrying its whole payload; a task's bytes moved are the sum of
//!    its hops; downlink and ISL bytes are parts of that.

use std::collections::{BTreeMap, BTreeSet};

use tiandi_network::{Network, SnapshotBuilder};

use crate::engine::Trace;
use crate::model::{Outcome, RunResult, SimSetup};

/// Checks all invariants; the error lists what broke.
pub fn check(setup: &SimSetup, result: &RunResult, trace: &Trace) -> Result<(), String> {
    let mut problems = Vec::new();
    exactly_once(setup, result, &mut problems);
    links_up(setup, trace, &mut problems);
    compute_powered(setup, result, &mut problems);
    bytes_conserved(result, trace, &mut problems);
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
    for (&k, hops) in &by_step {
        let t = setup.start.add_ns(i64::from(k) * setup.step_ns);
        // Keep-until-lost GSLs depend on history: build every step from the first.
        let from = previous_step.map_or(0, |p: u32| p + 1);
        let mut snap = None;
        for j in from..=k {
            let tj = setup.start.add_ns(i64::from(j) * setup.step_ns);
            snap = Some(builder.build(&setup.satellites, tj).cloned());
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
