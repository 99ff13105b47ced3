//! Decision time of the policies' `place()`: the default scenario (240 satellites) and a
//! 1,584-satellite constellation (Walker 72/22/1 at 550 km, the default ground segment and
//! workload), one hour in, under a synthetic load where every satellite is busy (queues of
//! 0 to 40 minutes, from a hash of its id) so that placements search beyond the data's own
//! node. Each
//! iteration places the first stage of a task of the hour before, moved to arrive at that
//! instant, cycling over 400 of them (every kind), then over 200 of each kind. Also the global mode's per-step reassignment of 64 waiting stages.
//! Run: `cargo bench -p tiandi-scenario --bench place`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tiandi_scenario::Scenario;
use tiandi_scheduler::{Queued, by_name};
use tiandi_twin::{Executors, Load, Occupancy, SimSetup, Twin, TwinView};
use tiandi_workload::{Task, TaskKind};

/// A fixed busy network: each compute node's load and each link's queue from a hash of
/// its id (no random crate: the figures must not move between runs).
struct Busy {
    n_sats: u32,
    /// FLOP/s of the satellites' powered slots (all of one design).
    sat_flops: f64,
}

fn hash(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Occupancy for Busy {
    fn load(&self, node: u32) -> Load {
        let h = hash(u64::from(node));
        if node < self.n_sats {
            // Every slot busy, 0 to 40 minutes of work ahead (in 100 s steps): an EO tile's
            // own satellite is often too busy for its 30-minute deadline, and a blind-zone
            // job (10 s) finds a free device only on one satellite in 25.
            let ahead_s = (h % 25) as f64 * 100.0;
            Load {
                running: 3,
                queued: (h % 25) as u32,
                outstanding_flop: ahead_s * self.sat_flops * 3.0,
            }
        } else {
            Load {
                running: (h % 4) as u32,
                queued: 0,
                outstanding_flop: (h % 4) as f64 * 5e13,
            }
        }
    }
    fn link_busy_until_ns(&self, a: u32, b: u32) -> i64 {
        let h = hash((u64::from(a) << 32) | u64::from(b));
        // Some links carry a few seconds of queue.
        if h.is_multiple_of(4) {
            ONE_HOUR_NS + (h % 5) as i64 * 1_000_000_000
        } else {
            0
        }
    }
}

const ONE_HOUR_NS: i64 = 3_600_000_000_000;

fn world(settings: &[(&str, &str)], horizon_h: f64) -> SimSetup {
    let text = tiandi_scenario::built_in("default").unwrap();
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let text = Scenario::apply_settings(text, "default", &settings).unwrap();
    let mut s =
        tiandi_scenario::parse_scenario(&text, "default", std::path::Path::new(".")).unwrap();
    s.set_horizon_h(horizon_h).unwrap();
    s.setup().unwrap()
}

fn bench_world(c: &mut Criterion, label: &str, setup: &SimSetup) {
    let mut twin = Twin::new(setup).unwrap();
    let step_s = setup.step_ns as f64 / 1e9;
    let k = (3_600.0 / step_s) as i64;
    let busy = Busy {
        n_sats: twin.n_sats() as u32,
        sat_flops: twin.slot_rate_flops(0),
    };
    twin.begin_step(k, step_s, &busy).unwrap();
    let now_ns = twin.step_start_ns(k);
    // Tasks of the hour before the instant, moved to arrive now (their origins and
    // deadlines kept): every kind in proportion.
    let near = |kind: Option<TaskKind>, n: usize| -> Vec<Task> {
        setup
            .tasks
            .iter()
            .filter(|t| kind.is_none_or(|k| t.kind == k))
            .filter(|t| t.arrival.unix_ns() <= now_ns && t.arrival.unix_ns() > now_ns - ONE_HOUR_NS)
            .take(n)
            .map(|t| {
                let mut t = t.clone();
                let shift = now_ns - t.arrival.unix_ns();
                t.arrival = t.arrival.add_ns(shift);
                t.deadline = t.deadline.add_ns(shift);
                t
            })
            .collect()
    };
    let owned = near(None, 400);
    let tasks: Vec<&Task> = owned.iter().collect();
    assert!(!tasks.is_empty(), "tasks near the instant");
    let view = TwinView {
        twin: &twin,
        occupancy: &busy,
        now_ns,
        executors: Executors::Any,
    };
    for name in ["unified", "unified-local", "nearest"] {
        let mut policy = by_name(name).unwrap();
        let mut i = 0usize;
        c.bench_function(&format!("place/{label}/{name}"), |b| {
            b.iter(|| {
                let t = tasks[i % tasks.len()];
                i += 1;
                black_box(policy.place(t, 0, t.origin, &view))
            })
        });
    }
    // The kinds apart: a blind-zone job (10 s deadline) searches far for a free device.
    for kind in [
        TaskKind::EarthObservation,
        TaskKind::BlindZone,
        TaskKind::GroundAi,
    ] {
        let owned = near(Some(kind), 200);
        let of_kind: Vec<&Task> = owned.iter().collect();
        if of_kind.is_empty() {
            continue;
        }
        let mut policy = by_name("unified").unwrap();
        let mut i = 0usize;
        c.bench_function(&format!("place/{label}/unified/{}", kind.as_str()), |b| {
            b.iter(|| {
                let t = of_kind[i % of_kind.len()];
                i += 1;
                black_box(policy.place(t, 0, t.origin, &view))
            })
        });
    }
    // The global mode's step: 64 stages waiting behind an hour of work on their node.
    let queued: Vec<Queued<'_>> = tasks
        .iter()
        .take(64)
        .map(|t| Queued {
            task: t,
            stage: 0,
            at: t.origin.min(twin.n_sats() as u32 - 1),
            ahead_flop: 3_600.0 * busy.sat_flops,
        })
        .collect();
    let mut global = by_name("unified-global").unwrap();
    c.bench_function(&format!("reassign/{label}/64 stages"), |b| {
        b.iter(|| black_box(global.reassign(&queued, &view)))
    });
}

fn place(c: &mut Criterion) {
    let default = world(&[], 1.5);
    bench_world(c, "default-240", &default);
    let big = world(
        &[
            ("constellation.walker.planes", "72"),
            ("constellation.walker.sats_per_plane", "22"),
        ],
        1.5,
    );
    bench_world(c, "walker-1584", &big);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = place
}
criterion_main!(benches);
