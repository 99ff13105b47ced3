//! The baseline policies a joint scheduler is measured against: bent pipe (everything down
//! to the ground), onboard (compute where the data is) and nearest (the closest free node).

use tiandi_network::NodeKind;
use tiandi_workload::{NodeIdx, Pin, Task};

use crate::{Decision, Policy, Search, View, pinned};

/// The data centre with the least estimated arrival of `bytes` from `data_at`, breaking
/// ties by the shorter queue then the lower id.
fn best_data_centre(
    data_at: NodeIdx,
    bytes: u64,
    work_flop: f64,
    view: &dyn View,
) -> Option<NodeIdx> {
    view.data_centres()
        .iter()
        .filter_map(|&dc| {
            let move_s = if dc == data_at {
                0.0
            } else {
                view.transfer_s(data_at, dc, bytes)?
            };
            Some((
                move_s + view.queue_wait_s(dc) + view.compute_s(dc, work_flop),
                dc,
            ))
        })
        .filter(|(s, _)| s.is_finite())
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, dc)| dc)
}

/// Today's practice: all raw data goes down, everything computes on the ground.
pub struct BentPipe;

impl Policy for BentPipe {
    fn name(&self) -> &'static str {
        "bent-pipe"
    }

    fn place(&mut self, task: &Task, stage: usize, data_at: NodeIdx, view: &dyn View) -> Decision {
        if let Some(n) = pinned(task, stage) {
            return Decision::Run(n);
        }
        let s = &task.stages[stage];
        if view.kind(data_at) == NodeKind::DataCentre {
            return Decision::Run(data_at);
        }
        // With no route now, the first data centre: the transfer waits for a contact
        // (store and forward).
        match best_data_centre(data_at, s.input_bytes, s.peak_flop(), view)
            .or_else(|| view.data_centres().first().copied())
        {
            Some(dc) => Decision::Run(dc),
            None => Decision::Reject,
        }
    }
}

/// Process where the data is: on the capturing satellite, on the satellite serving a user
/// region, in the data centre where a job arrived.
pub struct Onboard;

impl Policy for Onboard {
    fn name(&self) -> &'static str {
        "onboard"
    }

    fn place(&mut self, task: &Task, stage: usize, data_at: NodeIdx, view: &dyn View) -> Decision {
        if let Some(n) = pinned(task, stage) {
            return Decision::Run(n);
        }
        match view.kind(data_at) {
            NodeKind::Satellite | NodeKind::DataCentre => Decision::Run(data_at),
            NodeKind::UserTerminal | NodeKind::GroundStation => view
                .serving_satellite(data_at)
                .map_or(Decision::Reject, Decision::Run),
        }
    }
}

/// The compute node with the least transfer delay that has free capacity now; when all are
/// busy, the one whose queue drains first.
pub struct Nearest;

impl Policy for Nearest {
    fn name(&self) -> &'static str {
        "nearest"
    }

    fn place(&mut self, task: &Task, stage: usize, data_at: NodeIdx, view: &dyn View) -> Decision {
        if let Some(n) = pinned(task, stage) {
            return Decision::Run(n);
        }
        let s = &task.stages[stage];
        let ground_only = s.pin == Pin::Ground;
        let mut best: Option<(bool, f64, NodeIdx)> = None;
        for n in view.candidates(data_at) {
            if ground_only && view.kind(n) != NodeKind::DataCentre {
                continue;
            }
            if !view.fits_memory(n, s.memory_bytes) || !view.compute_s(n, s.peak_flop()).is_finite()
            {
                continue;
            }
            let Some(move_s) = (if n == data_at {
                Some(0.0)
            } else {
                view.transfer_s(data_at, n, 0)
            }) else {
                continue;
            };
            let busy = view.queue_wait_s(n) > 0.0;
            let key = (busy, move_s, n);
            if best.is_none_or(|b| {
                (key.0, key.1) < (b.0, b.1) || ((key.0, key.1) == (b.0, b.1) && key.2 < b.2)
            }) {
                best = Some(key);
            }
        }
        if let Some((_, _, n)) = best {
            return Decision::Run(n);
        }
        // Nothing near can take it: the nearest node anywhere that can.
        let mut found = None;
        view.search(data_at, 0, f64::INFINITY, &mut |r| {
            let n = r.node;
            if (ground_only && view.kind(n) != NodeKind::DataCentre)
                || !view.fits_memory(n, s.memory_bytes)
                || !view.compute_s(n, s.peak_flop()).is_finite()
            {
                return Search::Continue;
            }
            found = Some(n);
            Search::Stop
        });
        found.map_or(Decision::Reject, Decision::Run)
    }
}

#[cfg(test)]
mod tests {
    use tiandi_network::NodeKind::{DataCentre, GroundStation, Satellite, UserTerminal};
    use tiandi_workload::Destination;

    use super::*;
    use crate::fake::{FakeView, task};

    /// Satellites 0-1 (ISL), station 2 under satellite 0, data centre 3 behind it, user
    /// terminal 4 under satellite 1.
    fn world() -> FakeView {
        FakeView::new(&[
            Satellite,
            Satellite,
            GroundStation,
            DataCentre,
            UserTerminal,
        ])
        .link(0, 1, 0.005, 100e9)
        .link(0, 2, 0.003, 2e9)
        .link(2, 3, 0.001, 400e9)
        .link(1, 4, 0.003, 1e9)
    }

    #[test]
    fn bent_pipe_sends_everything_to_a_data_centre() {
        let t = task(1, 1e14, 2_000_000_000, 1_800.0, Destination::AnyGround);
        assert_eq!(BentPipe.place(&t, 0, 1, &world()), Decision::Run(3));
        let t = task(3, 1e12, 1_000, 60.0, Destination::Origin);
        assert_eq!(BentPipe.place(&t, 0, 3, &world()), Decision::Run(3));
    }

    #[test]
    fn onboard_computes_where_the_data_is() {
        let t = task(1, 1e14, 2_000_000_000, 1_800.0, Destination::AnyGround);
        assert_eq!(Onboard.place(&t, 0, 1, &world()), Decision::Run(1));
        // A user terminal's work goes to the satellite serving it.
        let t = task(4, 1e12, 1_000, 10.0, Destination::Origin);
        assert_eq!(Onboard.place(&t, 0, 4, &world()), Decision::Run(1));
        let mut v = world();
        v.links.remove(&(1, 4));
        assert_eq!(Onboard.place(&t, 0, 4, &v), Decision::Reject);
    }

    #[test]
    fn nearest_prefers_a_free_node_then_the_shortest_move() {
        let mut v = world();
        let t = task(1, 1e12, 1_000, 10.0, Destination::AnyGround);
        assert_eq!(Nearest.place(&t, 0, 1, &v), Decision::Run(1));
        v.queue_s[1] = 30.0;
        assert_eq!(Nearest.place(&t, 0, 1, &v), Decision::Run(0));
        v.queue_s[0] = 30.0;
        assert_eq!(Nearest.place(&t, 0, 1, &v), Decision::Run(3));
    }
}
