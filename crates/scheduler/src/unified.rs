//! The joint space-ground policy: deadline-aware placement over the whole network, with
//! contact-plan look-ahead, power and heat awareness, and an optional global mode that
//! reassigns waiting stages by min-cost flow at every step.
//!
//! The rule (docs/scheduling.md): the nearest node, by route delay, whose estimated finish
//! (move the input, wait, compute, deliver the result) fits within `safety` of the time
//! left to the deadline; when none fits, the earliest estimated finish. Nearest first keeps
//! data off the scarce ground links and leaves distant idle devices free for work with
//! tight deadlines; the estimate decides when the data's own node is too busy.

use tiandi_network::NodeKind;
use tiandi_workload::{NodeIdx, Pin, Task};

use crate::flow::min_cost_assignment;
use crate::{Decision, Policy, Queued, Reached, Search, View, deliver_estimate, pinned};

/// Which parts of [`Unified`] are on (the ablations switch one off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnifiedOptions {
    /// Search every reachable compute node (bounded by the deadline); off: only the data's
    /// node, the satellite serving it, its topology neighbours and the data centres.
    pub whole_network: bool,
    /// Data on a ground node with no satellite in view waits for the next contact of the
    /// contact plan instead of being refused.
    pub look_ahead: bool,
    /// Skip satellites whose battery would cross its floor in shadow, and count the
    /// throttling the radiator will impose.
    pub power_aware: bool,
    /// Also reassign waiting stages at every step by a min-cost assignment.
    pub global: bool,
    /// A placement counts as meeting the deadline when its estimated finish is within this
    /// fraction of the time left (estimates ignore later faults and power cuts).
    pub safety: f64,
}

impl Default for UnifiedOptions {
    fn default() -> Self {
        UnifiedOptions {
            whole_network: true,
            look_ahead: true,
            power_aware: true,
            global: false,
            safety: SAFETY,
        }
    }
}

/// Default [`UnifiedOptions::safety`]. CHOSEN, not tuned: a fifth of the time left is kept
/// for what the estimate cannot see (faults, power cuts, later link queues).
pub const SAFETY: f64 = 0.8;

/// What the last resort adds for a part of the estimate it cannot make (a result with no
/// route now, a battery that would need the sun first), s.
const UNKNOWN_S: f64 = 86_400.0;

/// Stages the global mode considers per step at most (the most urgent first), and nodes per
/// stage: they bound the assignment problem's size.
const GLOBAL_MAX_ROWS: usize = 64;
const GLOBAL_NODES_PER_ROW: usize = 12;

/// Joint placement over space and ground; see the module documentation.
pub struct Unified {
    name: &'static str,
    o: UnifiedOptions,
}

impl Unified {
    pub fn new(name: &'static str, options: UnifiedOptions) -> Self {
        Unified { name, o: options }
    }

    /// Estimated seconds from now until `node` (reached as `r`, the data being at `from`)
    /// finishes stage `stage` and, for the last stage, delivers the result; `None` when the
    /// node cannot take it. `wide` (the last resort) takes a node whose battery would
    /// cross its floor or whose result has no route now, at a penalty of [`UNKNOWN_S`].
    fn finish_s(
        &self,
        task: &Task,
        stage: usize,
        from: NodeIdx,
        r: &Reached,
        wide: bool,
        view: &dyn View,
    ) -> Option<f64> {
        let s = &task.stages[stage];
        let n = r.node;
        if s.pin == Pin::Ground && view.kind(n) != NodeKind::DataCentre {
            return None;
        }
        if !view.fits_memory(n, s.memory_bytes) {
            return None;
        }
        let mut compute_s = view.compute_s(n, s.peak_flop());
        if !compute_s.is_finite() {
            return None;
        }
        let start_s = r.arrive_s + view.queue_wait_s(n);
        if !start_s.is_finite() {
            return None;
        }
        if self.o.power_aware
            && let Some(p) = view.power(n)
        {
            compute_s = match power_adjusted_s(&p, start_s, compute_s) {
                Some(t) => t,
                None if wide => compute_s + UNKNOWN_S,
                None => return None,
            };
        }
        let deliver_s = if stage + 1 == task.stages.len() {
            match deliver_estimate(
                task,
                n,
                s.output_bytes,
                Some((from, r)),
                self.o.look_ahead,
                view,
            ) {
                Some(d) => d,
                None if wide => UNKNOWN_S,
                None => return None,
            }
        } else {
            0.0
        };
        Some(start_s + compute_s + deliver_s)
    }

    /// The placement for data at `from`, the data reaching it `extra_s` from now; `wide`
    /// searches every reachable node without a deadline bound (the fallback when the
    /// policy's own candidates have none that can take the stage).
    fn choose(
        &self,
        task: &Task,
        stage: usize,
        from: NodeIdx,
        extra_s: f64,
        wide: bool,
        view: &dyn View,
    ) -> Option<NodeIdx> {
        let s = &task.stages[stage];
        let left_s = task.deadline.seconds_since(view.now()) - extra_s;
        let budget_s = self.o.safety * left_s;
        let narrow = (!self.o.whole_network && !wide).then(|| view.candidates(from));
        let mut fits: Option<NodeIdx> = None;
        let mut earliest: Option<(f64, NodeIdx)> = None;
        // Beyond the deadline no node fits; the search still looks for the earliest finish
        // until the delay alone exceeds the best one found.
        let bound_s = if left_s > 0.0 && !wide {
            left_s
        } else {
            f64::INFINITY
        };
        view.search(from, s.input_bytes, bound_s, &mut |r| {
            if r.delay_s > budget_s && earliest.is_some_and(|(f, _)| r.delay_s >= f) {
                return Search::Stop;
            }
            if narrow
                .as_ref()
                .is_some_and(|c| c.binary_search(&r.node).is_err())
            {
                return Search::Continue;
            }
            let Some(f) = self.finish_s(task, stage, from, r, wide, view) else {
                return Search::Continue;
            };
            if f <= budget_s {
                fits = Some(r.node);
                return Search::Stop;
            }
            if earliest.is_none_or(|(e, n)| (f, r.node) < (e, n)) {
                earliest = Some((f, r.node));
            }
            Search::Continue
        });
        fits.or(earliest.map(|(_, n)| n))
    }

    /// Estimated seconds until a waiting stage finishes where it is.
    fn stay_s(&self, q: &Queued<'_>, view: &dyn View) -> Option<f64> {
        let s = &q.task.stages[q.stage];
        let slots = f64::from(view.slots(q.at).max(1));
        let wait_s = view.compute_s(q.at, q.ahead_flop) / slots;
        let compute_s = view.compute_s(q.at, s.peak_flop());
        let deliver_s = if q.stage + 1 == q.task.stages.len() {
            deliver_estimate(q.task, q.at, s.output_bytes, None, self.o.look_ahead, view)?
        } else {
            0.0
        };
        let f = wait_s + compute_s + deliver_s;
        f.is_finite().then_some(f)
    }
}

/// Compute seconds on a satellite in state `p` for a stage starting `start_s` from now
/// that takes `compute_s` at the current rate: longer once the radiator's limit throttles
/// it; `None` when the battery would cross its floor in shadow.
fn power_adjusted_s(p: &crate::PowerState, start_s: f64, compute_s: f64) -> Option<f64> {
    let mut t = compute_s;
    // The headroom is from now; work queued ahead (`start_s`) is taken to heat the node
    // until the stage starts (pessimistic for an idle node).
    let headroom_s = (p.heat_headroom_s - start_s).max(0.0);
    if p.rate_fraction >= 1.0 && t > headroom_s {
        if p.sustained_fraction <= 0.0 {
            return None;
        }
        t = headroom_s + (t - headroom_s) / p.sustained_fraction;
    }
    // The stage's overlap with the shadow it meets; the battery then carries the stage's
    // devices over the overlap and the bus over the shadow from its start (or now).
    let (sh0, sh1) = (p.eclipse_in_s.max(0.0), p.eclipse_end_in_s);
    let end_s = start_s + t;
    let overlap_s = (end_s.min(sh1) - start_s.max(sh0)).max(0.0);
    if overlap_s > 0.0 && sh1.is_finite() {
        let need_wh = (p.slot_busy_w * overlap_s + p.bus_w * (sh1 - sh0)) / 3_600.0;
        if need_wh > p.energy_above_floor_wh() {
            return None;
        }
    }
    Some(t)
}

impl Policy for Unified {
    fn name(&self) -> &'static str {
        self.name
    }

    fn place(&mut self, task: &Task, stage: usize, data_at: NodeIdx, view: &dyn View) -> Decision {
        if let Some(n) = pinned(task, stage) {
            return Decision::Run(n);
        }
        let ground_only = task.stages[stage].pin == Pin::Ground;
        if let Some(n) = self
            .choose(task, stage, data_at, 0.0, false, view)
            .or_else(|| self.choose(task, stage, data_at, 0.0, true, view))
        {
            return Decision::Run(n);
        }
        // Nothing reachable now. A ground node waits for its next contact; the space
        // segment after it is forecast by the current topology.
        if self.o.look_ahead
            && view.kind(data_at).is_ground()
            && let Some((wait_s, sat)) = view.next_contact(data_at)
        {
            if let Some(n) = self.choose(task, stage, sat, wait_s, false, view) {
                return Decision::Run(n);
            }
            if !ground_only {
                return Decision::Run(sat);
            }
        }
        // A ground-pinned stage that reaches no data centre now: the first one (the
        // transfer waits for a route, store and forward), as bent-pipe does.
        if ground_only {
            return view
                .data_centres()
                .first()
                .map_or(Decision::Reject, |&dc| Decision::Run(dc));
        }
        // Data that cannot leave its node now (the node is down, or out of contact) runs
        // where it is if that node computes, and waits there otherwise.
        if view.kind(data_at) == NodeKind::Satellite || view.kind(data_at) == NodeKind::DataCentre {
            return Decision::Run(data_at);
        }
        Decision::Reject
    }

    fn reassigns(&self) -> bool {
        self.o.global
    }

    fn reassign(&mut self, queued: &[Queued<'_>], view: &dyn View) -> Vec<(usize, NodeIdx)> {
        // The stages that would miss their deadline where they wait, most urgent first.
        let mut rows: Vec<(usize, f64, f64)> = queued
            .iter()
            .enumerate()
            .filter(|(_, q)| pinned(q.task, q.stage).is_none())
            .filter_map(|(i, q)| {
                let left_s = q.task.deadline.seconds_since(view.now());
                let stay = self.stay_s(q, view).unwrap_or(f64::INFINITY);
                (left_s > 0.0 && stay > self.o.safety * left_s).then_some((i, left_s, stay))
            })
            .collect();
        if rows.is_empty() {
            return Vec::new();
        }
        rows.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        rows.truncate(GLOBAL_MAX_ROWS);
        // Columns: nodes with a free slot that some row reaches; costs in ms, a missed
        // deadline costing more than any met one.
        let mut cols: Vec<NodeIdx> = Vec::new();
        let mut arcs: Vec<Vec<(usize, i64)>> = Vec::with_capacity(rows.len());
        let mut stay_cost = Vec::with_capacity(rows.len());
        let cost = |f: f64, left_s: f64| -> i64 {
            let miss = if f <= left_s { 0 } else { 1_000_000_000 };
            miss + (f.min(1e8) * 1e3) as i64
        };
        for &(i, left_s, stay) in &rows {
            let q = &queued[i];
            let bytes = q.task.stages[q.stage].input_bytes;
            let mut row = Vec::new();
            view.search(q.at, bytes, left_s, &mut |r| {
                if r.node == q.at || view.free_slots(r.node) == 0 {
                    return Search::Continue;
                }
                if let Some(f) = self.finish_s(q.task, q.stage, q.at, r, false, view)
                    && f < stay
                {
                    let c = match cols.iter().position(|&n| n == r.node) {
                        Some(c) => c,
                        None => {
                            cols.push(r.node);
                            cols.len() - 1
                        }
                    };
                    row.push((c, cost(f, left_s)));
                }
                if row.len() >= GLOBAL_NODES_PER_ROW {
                    Search::Stop
                } else {
                    Search::Continue
                }
            });
            arcs.push(row);
            stay_cost.push(cost(stay, left_s));
        }
        if cols.is_empty() {
            return Vec::new();
        }
        let capacity: Vec<u32> = cols.iter().map(|&n| view.free_slots(n)).collect();
        let a = min_cost_assignment(&arcs, &stay_cost, &capacity);
        rows.iter()
            .zip(a.rows)
            .filter_map(|(&(i, _, _), c)| c.map(|c| (i, cols[c])))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use tiandi_network::NodeKind::{DataCentre, GroundStation, Satellite, UserTerminal};
    use tiandi_workload::Destination;

    use super::*;
    use crate::by_name;
    use crate::fake::{FakeView, healthy, task};

    /// Satellites 0-1-2-3 in a line (ISL 5 ms, 100 Gbit/s), station 4 under satellite 0
    /// (GSL 3 ms, 2 Gbit/s), data centre 5 behind it (fibre 1 ms, 400 Gbit/s), user
    /// terminal 6 under satellite 2 (3 ms, 1 Gbit/s). 1 TFLOP/s everywhere.
    fn world() -> FakeView {
        FakeView::new(&[
            Satellite,
            Satellite,
            Satellite,
            Satellite,
            GroundStation,
            DataCentre,
            UserTerminal,
        ])
        .link(0, 1, 0.005, 100e9)
        .link(1, 2, 0.005, 100e9)
        .link(2, 3, 0.005, 100e9)
        .link(0, 4, 0.003, 2e9)
        .link(4, 5, 0.001, 400e9)
        .link(2, 6, 0.003, 1e9)
    }

    fn unified() -> Unified {
        Unified::new("unified", UnifiedOptions::default())
    }

    fn place(p: &mut dyn Policy, t: &Task, v: &FakeView) -> Decision {
        p.place(t, 0, t.origin, v)
    }

    #[test]
    fn data_stays_where_it_is_when_that_meets_the_deadline() {
        // 100 s of work on satellite 1, deadline 1800 s: the data centre would be faster
        // but the tile would cross a ground link.
        let t = task(1, 1e14, 2_000_000_000, 1_800.0, Destination::AnyGround);
        assert_eq!(place(&mut unified(), &t, &world()), Decision::Run(1));
    }

    #[test]
    fn a_busy_node_overflows_to_the_nearest_that_meets_the_deadline() {
        let mut v = world();
        v.queue_s[1] = 5_000.0; // its own queue: hours
        v.queue_s[0] = 3_000.0; // the neighbour towards the ground: too long too
        let t = task(1, 1e14, 2_000_000_000, 1_800.0, Destination::AnyGround);
        assert_eq!(place(&mut unified(), &t, &v), Decision::Run(2));
    }

    #[test]
    fn the_narrow_ablation_cannot_see_past_the_neighbours() {
        let mut v = world();
        for (n, q) in [(1, 5_000.0), (0, 5_000.0), (2, 5_000.0), (5, 5_000.0)] {
            v.queue_s[n] = q;
        }
        let t = task(1, 1e14, 2_000_000_000, 1_800.0, Destination::AnyGround);
        // Satellite 3, two hops away, is idle: only the whole-network search finds it.
        assert_eq!(place(&mut unified(), &t, &v), Decision::Run(3));
        let mut local = by_name("unified-local").unwrap();
        assert_ne!(place(local.as_mut(), &t, &v), Decision::Run(3));
    }

    #[test]
    fn ground_work_goes_to_orbit_when_the_data_centre_is_saturated() {
        let mut v = world();
        let t = task(5, 5e13, 4_000_000, 60.0, Destination::Origin);
        assert_eq!(place(&mut unified(), &t, &v), Decision::Run(5));
        v.queue_s[5] = 600.0;
        // Up the fibre and the station's link to satellite 0, result back the same way.
        assert_eq!(place(&mut unified(), &t, &v), Decision::Run(0));
        let mut bent = by_name("bent-pipe").unwrap();
        assert_eq!(place(bent.as_mut(), &t, &v), Decision::Run(5));
    }

    #[test]
    fn no_feasible_node_takes_the_earliest_finish() {
        let mut v = world();
        for (n, q) in [(0, 900.0), (1, 400.0), (2, 700.0), (3, 800.0), (5, 650.0)] {
            v.queue_s[n] = q;
        }
        let t = task(1, 1e12, 1_000, 10.0, Destination::AnyGround);
        assert_eq!(place(&mut unified(), &t, &v), Decision::Run(1));
    }

    #[test]
    fn a_terminal_out_of_contact_waits_for_the_next_pass_with_look_ahead() {
        let mut v = world();
        v.links.remove(&(2, 6));
        v.contact[6] = Some((4.0, 3));
        let t = task(6, 1e12, 1_000_000, 10.0, Destination::Origin);
        assert_eq!(place(&mut unified(), &t, &v), Decision::Run(3));
        let mut blind = by_name("unified-no-lookahead").unwrap();
        assert_eq!(place(blind.as_mut(), &t, &v), Decision::Reject);
        // The pass's satellite is busy: the stage goes to its free neighbour, the result
        // back through the pass.
        v.queue_s[3] = 600.0;
        assert_eq!(place(&mut unified(), &t, &v), Decision::Run(2));
    }

    #[test]
    fn a_ground_pinned_stage_never_falls_back_to_a_satellite() {
        let mut v = world();
        v.links.remove(&(4, 5)); // the data centre is cut off
        let mut t = task(1, 1e12, 1_000, 600.0, Destination::AnyGround);
        t.stages[0].pin = Pin::Ground;
        assert_eq!(place(&mut unified(), &t, &v), Decision::Run(5));
    }

    #[test]
    fn a_battery_near_its_floor_in_shadow_is_avoided() {
        let mut v = world();
        let mut low = healthy();
        low.eclipse_in_s = 0.0;
        low.eclipse_end_in_s = 1_500.0;
        low.soc_fraction = 0.71; // 20 Wh above the floor; the bus alone needs 125 Wh
        v.power[1] = Some(low);
        v.power[0] = Some(healthy());
        let t = task(1, 1e14, 2_000_000_000, 1_800.0, Destination::AnyGround);
        assert_eq!(place(&mut unified(), &t, &v), Decision::Run(0));
        let mut blind = by_name("unified-no-power").unwrap();
        assert_eq!(place(blind.as_mut(), &t, &v), Decision::Run(1));
    }

    #[test]
    fn a_hot_radiator_stretches_the_estimate() {
        let mut p = healthy();
        p.heat_headroom_s = 100.0;
        p.sustained_fraction = 0.25;
        // 100 s at full rate, then the remaining 900 s of work at a quarter.
        assert_eq!(power_adjusted_s(&p, 0.0, 1_000.0), Some(100.0 + 3_600.0));
        assert_eq!(power_adjusted_s(&p, 0.0, 50.0), Some(50.0));
        p.sustained_fraction = 0.0;
        assert_eq!(power_adjusted_s(&p, 0.0, 1_000.0), None);
        // A hot satellite loses a tile it would otherwise keep.
        let mut v = world();
        let mut hot = healthy();
        hot.heat_headroom_s = 10.0;
        hot.sustained_fraction = 0.05;
        v.power[1] = Some(hot);
        let t = task(1, 1e14, 2_000_000_000, 1_800.0, Destination::AnyGround);
        assert_ne!(place(&mut unified(), &t, &v), Decision::Run(1));
    }

    #[test]
    fn ground_pinned_stages_run_only_in_data_centres() {
        let mut t = task(1, 1e12, 1_000, 600.0, Destination::AnyGround);
        t.stages[0].pin = Pin::Ground;
        assert_eq!(place(&mut unified(), &t, &world()), Decision::Run(5));
    }

    #[test]
    fn the_global_mode_moves_a_stage_that_would_miss_to_a_free_node() {
        let mut v = world();
        v.free = vec![0, 0, 1, 1, 0, 0, 0];
        let t = task(1, 1e12, 1_000_000, 100.0, Destination::AnyGround);
        // 500 s of work ahead of it on satellite 1 (1 slot at 1 TFLOP/s).
        let q = [Queued {
            task: &t,
            stage: 0,
            at: 1,
            ahead_flop: 5e14,
        }];
        let mut global = by_name("unified-global").unwrap();
        assert!(global.reassigns());
        assert_eq!(global.reassign(&q, &v), vec![(0, 2)]);
        // With little ahead of it, it stays.
        let q = [Queued {
            ahead_flop: 1e12,
            ..q[0]
        }];
        assert!(global.reassign(&q, &v).is_empty());
        assert!(!unified().reassigns());
    }
}
