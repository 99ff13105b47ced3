//! The scheduler's one [`View`] of the twin, and the load facts a driver lends it: the
//! simulator knows every running stage and link queue, the live service only what it
//! placed. What differs between the two is this parameter, not a second view.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tiandi_network::{LinkKind, NodeKind};
use tiandi_orbit::Epoch;
use tiandi_scheduler::{PowerState, Reached, Search, View};
use tiandi_workload::NodeIdx;

use crate::twin::{Dest, Twin};

/// What is placed on a compute node and not finished.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Load {
    /// Stages computing now.
    pub running: u32,
    /// Stages waiting for a slot.
    pub queued: u32,
    /// Work of both still to do, FLOP.
    pub outstanding_flop: f64,
}

/// The load facts a driver knows about its nodes and links.
pub trait Occupancy {
    /// What is placed on node `node` (a node id) and not finished.
    fn load(&self, node: u32) -> Load;
    /// Twin time (ns) until which link `(a, b)` (a < b) is busy sending what is already
    /// queued on it; any time not after now means free.
    fn link_busy_until_ns(&self, a: u32, b: u32) -> i64;
    /// Bytes committed to link `(a, b)` by transfers under way that have not reached it
    /// yet (their routes cross it); they will queue there before new data.
    fn link_backlog_bytes(&self, _a: u32, _b: u32) -> u64 {
        0
    }
    /// Device-seconds satellite `sat`'s devices spent computing in the step the twin is
    /// settling; `None` when the driver does not meter (the twin then charges the running
    /// stages for the whole step).
    fn busy_device_s(&self, _sat: u32) -> Option<f64> {
        None
    }
}

/// No load anywhere: a twin nobody has placed work on.
pub struct Idle;

impl Occupancy for Idle {
    fn load(&self, _node: u32) -> Load {
        Load::default()
    }
    fn link_busy_until_ns(&self, _a: u32, _b: u32) -> i64 {
        i64::MIN
    }
}

/// Which nodes may run the stage being placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Executors {
    /// Any compute node (modelled work).
    Any,
    /// Only nodes with a live agent (a stage that carries a command needs a real
    /// executor); agents may serve any compute node, satellites included.
    Agents,
}

/// The scheduler's window on the twin at instant `now_ns`, with a driver's load facts.
pub struct TwinView<'a> {
    pub twin: &'a Twin,
    pub occupancy: &'a dyn Occupancy,
    pub now_ns: i64,
    pub executors: Executors,
}

impl TwinView<'_> {
    fn usable(&self, v: u32) -> bool {
        self.executors == Executors::Any || self.twin.agent_live(v)
    }

    /// Seconds until link `link` of the current snapshot can start a new transmission:
    /// what is queued on it, then what transfers under way have committed to it.
    fn link_free_in_s(&self, link: u32) -> f64 {
        let l = self.twin.snapshot().link(link);
        let busy = self.occupancy.link_busy_until_ns(l.a, l.b);
        let queued_s = (busy.saturating_sub(self.now_ns)).max(0) as f64 / 1e9;
        let backlog = self.occupancy.link_backlog_bytes(l.a, l.b);
        queued_s + backlog as f64 * 8.0 / l.capacity_bps
    }
}

/// Buffers of [`View::search`], kept by the twin between calls.
#[derive(Default)]
pub(crate) struct SearchScratch {
    delay_ms: Vec<f64>,
    arrive_s: Vec<f64>,
    s_per_byte: Vec<f64>,
    via: Vec<u32>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

const NO_LINK: u32 = u32::MAX;

impl View for TwinView<'_> {
    fn now(&self) -> Epoch {
        Epoch::from_unix_ns(self.now_ns)
    }

    fn kind(&self, node: NodeIdx) -> NodeKind {
        self.twin.kind(node)
    }

    fn candidates(&self, data_at: NodeIdx) -> Vec<NodeIdx> {
        let t = self.twin;
        let mut out = Vec::new();
        if t.compute_index(data_at).is_some() {
            out.push(data_at);
        }
        if t.kind(data_at).is_ground() {
            out.extend(t.serving_satellite(data_at));
        }
        for adj in t.snapshot().neighbours(data_at) {
            if t.kind(adj.node) == NodeKind::Satellite
                && t.compute_index(adj.node).is_some()
                && !t.is_down(adj.node)
            {
                out.push(adj.node);
            }
        }
        out.extend_from_slice(t.data_centres());
        if self.executors == Executors::Agents {
            out.extend(
                t.compute_nodes()
                    .iter()
                    .copied()
                    .filter(|&v| t.agent_live(v)),
            );
            out.retain(|&v| self.usable(v));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn data_centres(&self) -> &[NodeIdx] {
        match self.executors {
            Executors::Any => self.twin.data_centres(),
            Executors::Agents => self.twin.agent_data_centres(),
        }
    }

    fn transfer_s(&self, from: NodeIdx, to: NodeIdx, bytes: u64) -> Option<f64> {
        let t = self.twin;
        if from == to {
            return Some(0.0);
        }
        // A direct link: its queue, delay and transmission time.
        if let Some(l) = t.snapshot().find_link(from, to)
            && !t.is_down(from)
            && !t.is_down(to)
        {
            let idx = t.snapshot().link_index(from, to);
            let wait_s = idx.map_or(0.0, |i| self.link_free_in_s(i));
            return Some(wait_s + l.delay_ms / 1e3 + bytes as f64 * 8.0 / l.capacity_bps);
        }
        t.with_tree(Dest::Node(to), |tree, snap| {
            tree.transfer_s(snap, from, bytes, &|link| self.link_free_in_s(link))
        })
    }

    fn to_ground_s(&self, from: NodeIdx, bytes: u64) -> Option<f64> {
        self.twin.with_tree(Dest::AnyGround, |tree, snap| {
            tree.transfer_s(snap, from, bytes, &|link| self.link_free_in_s(link))
        })
    }

    fn serving_satellite(&self, ground: NodeIdx) -> Option<NodeIdx> {
        self.twin
            .serving_satellite(ground)
            .filter(|&s| self.usable(s))
    }

    fn queue_wait_s(&self, node: NodeIdx) -> f64 {
        let t = self.twin;
        let Some(c) = t.compute_index(node) else {
            return f64::INFINITY;
        };
        // Slots it may use this step: powered, or powered up on demand (after a wake).
        let slots = t.slots_available(c);
        let powered = t.powered_slots(c);
        let load = self.occupancy.load(node);
        let ahead = load.running + load.queued;
        let rate = t.slot_rate_flops(node);
        // The queue drains at the powered slots' rate; a free slot (ready, waking or still
        // off) takes the stage after its wake, if that comes first.
        let drain_s = if rate > 0.0 {
            load.outstanding_flop / (rate * f64::from(powered.max(1)))
        } else {
            f64::INFINITY
        };
        if ahead < slots {
            return t.device_ready_in_s(c, ahead, self.now_ns).min(drain_s);
        }
        if rate <= 0.0 {
            return f64::INFINITY;
        }
        load.outstanding_flop / (rate * f64::from(slots.max(1)))
    }

    fn compute_s(&self, node: NodeIdx, work_flop: f64) -> f64 {
        if !self.usable(node) {
            return f64::INFINITY;
        }
        let rate = self.twin.slot_rate_flops(node);
        if rate <= 0.0 {
            f64::INFINITY
        } else {
            work_flop / rate
        }
    }

    fn search(
        &self,
        from: NodeIdx,
        bytes: u64,
        max_delay_s: f64,
        visit: &mut dyn FnMut(&Reached) -> Search,
    ) {
        let t = self.twin;
        let snap = t.snapshot();
        let n = t.n_nodes();
        // Data on a node that is down goes nowhere until it is up (as the gateway trees
        // route): nothing is reachable from it now.
        if from as usize >= n || t.is_down(from) {
            return;
        }
        let mut guard = t.search.borrow_mut();
        let sc = &mut *guard;
        sc.delay_ms.clear();
        sc.delay_ms.resize(n, f64::INFINITY);
        sc.arrive_s.resize(n, 0.0);
        sc.s_per_byte.resize(n, 0.0);
        sc.via.clear();
        sc.via.resize(n, NO_LINK);
        sc.heap.clear();
        let bits = bytes as f64 * 8.0;
        let max_ms = max_delay_s * 1e3;
        let down = t.down();
        sc.delay_ms[from as usize] = 0.0;
        sc.arrive_s[from as usize] = 0.0;
        sc.s_per_byte[from as usize] = 0.0;
        sc.heap.push(Reverse((0f64.to_bits(), from)));
        // Dijkstra by delay, as the gateway trees route: a ground node other than the
        // source forwards only between fibre and the space segment.
        while let Some(Reverse((key, v))) = sc.heap.pop() {
            let d = f64::from_bits(key);
            let vi = v as usize;
            if d > sc.delay_ms[vi] {
                continue;
            }
            if d > max_ms {
                break;
            }
            if t.compute_index(v).is_some() && !down[vi] && self.usable(v) {
                let r = Reached {
                    node: v,
                    delay_s: d / 1e3,
                    arrive_s: sc.arrive_s[vi],
                    s_per_byte: sc.s_per_byte[vi],
                };
                if visit(&r) == Search::Stop {
                    return;
                }
            }
            let via = sc.via[vi];
            let ground = v != from && t.kind(v) != NodeKind::Satellite;
            let by_fibre = via != NO_LINK && snap.link(via).kind == LinkKind::Fibre;
            for adj in snap.neighbours(v) {
                let u = adj.node as usize;
                if down[u] {
                    continue;
                }
                let l = snap.link(adj.link);
                if ground && (l.kind == LinkKind::Fibre) == by_fibre {
                    continue;
                }
                let nd = d + adj.delay_ms;
                if nd < sc.delay_ms[u] {
                    sc.delay_ms[u] = nd;
                    sc.via[u] = adj.link;
                    sc.arrive_s[u] = sc.arrive_s[vi].max(self.link_free_in_s(adj.link))
                        + bits / l.capacity_bps
                        + l.delay_ms / 1e3;
                    sc.s_per_byte[u] = sc.s_per_byte[vi] + 8.0 / l.capacity_bps;
                    sc.heap.push(Reverse((nd.to_bits(), adj.node)));
                }
            }
        }
    }

    fn power(&self, node: NodeIdx) -> Option<PowerState> {
        let t = self.twin;
        if node as usize >= t.n_sats() {
            return None;
        }
        let st = t.sat_status(node);
        let ns = t.node_state(node);
        let cfg = ns.config();
        let (eclipse_in_s, eclipse_end_in_s) = t.shadow_times(node, self.now_ns);
        let (heat_headroom_s, sustained_fraction) = t.heat_outlook(node);
        Some(PowerState {
            soc_fraction: st.soc_fraction,
            floor_fraction: 1.0 - cfg.battery.dod_limit(),
            battery_wh: cfg.battery.capacity_wh(),
            eclipse_in_s,
            eclipse_end_in_s,
            temp_k: ns.temp_k(),
            temp_limit_k: cfg.thermal.temp_limit_k(),
            rate_fraction: st.rate_fraction,
            heat_headroom_s,
            sustained_fraction,
            slot_busy_w: t.slot_busy_w(node),
            bus_w: cfg.bus_power_w,
        })
    }

    fn next_contact(&self, ground: NodeIdx) -> Option<(f64, NodeIdx)> {
        self.twin
            .next_contact(ground, self.now_ns)
            .filter(|&(_, s)| self.usable(s) && !self.twin.is_down(s))
    }

    fn free_slots(&self, node: NodeIdx) -> u32 {
        let Some(c) = self.twin.compute_index(node) else {
            return 0;
        };
        if !self.usable(node) || self.twin.slot_rate_flops(node) <= 0.0 {
            return 0;
        }
        let load = self.occupancy.load(node);
        self.twin
            .slots_available(c)
            .saturating_sub(load.running + load.queued)
    }

    fn slots(&self, node: NodeIdx) -> u32 {
        self.twin
            .compute_index(node)
            .map_or(1, |c| self.twin.slots_available(c).max(1))
    }

    fn fits_memory(&self, node: NodeIdx, bytes: u64) -> bool {
        self.usable(node)
            && self
                .twin
                .compute(node)
                .is_some_and(|c| bytes <= c.slot_memory_bytes)
    }
}
