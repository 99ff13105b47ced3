//! The twin driven two ways, the simulator's and the live service's, for comparing what
//! each sees and decides (the `one_twin` test and the `twin_agreement` example).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use tiandi_scenario::Scenario;
use tiandi_scheduler::View;
use tiandi_server::model::{StageSpec, TaskSpec};
use tiandi_server::service::{Service, Submitted};
use tiandi_sim::{Hooks, SimSetup, run_with};
use tiandi_twin::Executors;
use tiandi_workload::{Destination, Pin, Task};

/// A scenario from TOML text, resolved against the built-in scenarios' directory.
pub fn scenario(text: &str, name: &str) -> Scenario {
    tiandi_scenario::parse_scenario(text, name, Path::new(".")).expect("scenario parses")
}

/// How many sampled (from, to, bytes) transfers each instant asks about.
pub const N_TRANSFER_SAMPLES: usize = 1_200;

/// Every answer of `view` that placement asks for, as text (floats to the bit, by `{:?}`):
/// candidates and serving satellite for every node, compute time, queue wait and memory
/// fit for every compute node, transfer estimates for sampled pairs and sizes, and the
/// way to the ground from every node.
pub fn answers(view: &dyn View, n_nodes: u32, seed: u64) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!("now {:?}", view.now()));
    out.push(format!("data centres {:?}", view.data_centres()));
    for v in 0..n_nodes {
        out.push(format!(
            "{v} kind {:?} candidates {:?} serving {:?} queue {:?} ground {:?}",
            view.kind(v),
            view.candidates(v),
            view.serving_satellite(v),
            view.queue_wait_s(v),
            view.to_ground_s(v, 1_000_000),
        ));
        for work in [2e12, 1e14] {
            out.push(format!(
                "{v} compute {work:e} {:?}",
                view.compute_s(v, work)
            ));
        }
        for mem in [8e9 as u64, 16e9 as u64, 100e9 as u64] {
            out.push(format!("{v} memory {mem} {}", view.fits_memory(v, mem)));
        }
    }
    let mut rng = tiandi_node::FaultRng::new(seed, 0);
    for _ in 0..N_TRANSFER_SAMPLES {
        let from = (rng.next_u64() % u64::from(n_nodes)) as u32;
        let to = (rng.next_u64() % u64::from(n_nodes)) as u32;
        let bytes = [0, 50_000, 1_000_000, 4_000_000, 250_000_000][(rng.next_u64() % 5) as usize];
        out.push(format!(
            "transfer {from}->{to} {bytes} {:?}",
            view.transfer_s(from, to, bytes)
        ));
    }
    out
}

/// The simulator's answers at the start of each of `steps` (ascending), with no work
/// placed: the engine drives the twin over the scenario's world.
pub fn sim_answers(s: &Scenario, steps: &[u32]) -> BTreeMap<u32, Vec<String>> {
    let setup = s.world();
    let n_nodes = n_nodes(&setup);
    let mut got = BTreeMap::new();
    let mut watch = |step: u32, view: &tiandi_twin::TwinView<'_>| {
        if steps.contains(&step) {
            got.insert(step, answers(view, n_nodes, u64::from(step)));
        }
    };
    let mut policy = tiandi_scheduler::by_name("unified").expect("a policy");
    run_with(
        &setup,
        policy.as_mut(),
        &|_, _| {},
        Hooks {
            trace: None,
            at_step: Some(&mut watch),
        },
    )
    .expect("the run");
    got
}

/// The live service's answers at the start of each of `steps`: its clock ticks through
/// every step, as `tiandi serve` does.
pub fn service_answers(s: &Scenario, steps: &[u32]) -> BTreeMap<u32, Vec<String>> {
    let mut svc = Service::new(s, "unified").expect("the service");
    let n_nodes = svc.node_names().len() as u32;
    let last = *steps.iter().max().expect("some steps");
    let mut got = BTreeMap::new();
    for step in 0..=last {
        let now = s.start.unix_ns() + i64::from(step) * s.step_ns;
        svc.tick(now, Instant::now()).expect("tick");
        if steps.contains(&step) {
            got.insert(
                step,
                answers(&svc.view(now, Executors::Any), n_nodes, u64::from(step)),
            );
        }
    }
    got
}

fn n_nodes(setup: &SimSetup) -> u32 {
    (setup.satellites.len()
        + setup.network.stations.len()
        + setup.network.data_centres.len()
        + setup.network.user_terminals.len()) as u32
}

/// The submission of a simulator task, as a client of the service would send it.
fn spec_of(task: &Task, names: &[String]) -> TaskSpec {
    let name = |v: u32| names[v as usize].clone();
    TaskSpec {
        kind: Some(task.kind.as_str().to_string()),
        origin: name(task.origin),
        destination: Some(match task.destination {
            Destination::AnyGround => "any-ground".to_string(),
            Destination::Origin => "origin".to_string(),
            Destination::Node(n) => name(n),
        }),
        deadline_s: task.deadline.seconds_since(task.arrival),
        stages: task
            .stages
            .iter()
            .map(|st| StageSpec {
                work_flop: st.work_flop,
                input_bytes: st.input_bytes,
                output_bytes: st.output_bytes,
                memory_bytes: st.memory_bytes,
                pin: match st.pin {
                    Pin::Free => None,
                    Pin::Origin => Some("origin".to_string()),
                    Pin::Ground => Some("ground".to_string()),
                    Pin::Node(n) => Some(name(n)),
                },
                after: st.after.clone(),
                efficiency: Some(st.efficiency),
                run: None,
            })
            .collect(),
        idempotency_key: None,
    }
}

/// How the first-stage placements of the simulator and the service compare.
#[derive(Debug, Default)]
pub struct Agreement {
    pub compared: usize,
    pub same: usize,
    /// Count of each kind of difference.
    pub differences: BTreeMap<String, usize>,
}

impl Agreement {
    pub fn share(&self) -> f64 {
        self.same as f64 / self.compared.max(1) as f64
    }
}

/// Runs the first `n` tasks of `s` (seed and horizon as in the scenario) through the
/// simulator and through the service core at their arrival instants (twin clock, no
/// HTTP, modelled stages), and compares where each first stage was placed.
pub fn agreement(s: &Scenario, n: usize) -> Agreement {
    let mut setup = s.setup().expect("the workload");
    setup.tasks.truncate(n);
    let mut policy = tiandi_scheduler::by_name("unified").expect("a policy");
    let sim = tiandi_sim::run(&setup, policy.as_mut(), &|_, _| {}).expect("the run");

    let mut svc = Service::new(s, "unified").expect("the service");
    let names = svc.node_names().to_vec();
    let kinds = svc.twin.kinds().to_vec();
    let kind = |v: u32| format!("{:?}", kinds[v as usize]);
    let mut out = Agreement::default();
    let mut step = 0i64;
    let first = s.start.unix_ns();
    for (task, record) in setup.tasks.iter().zip(&sim.tasks) {
        let at = task.arrival.unix_ns();
        // Every step up to the arrival, as the service's ticker does, then the arrival.
        while first + step * s.step_ns <= at {
            svc.tick(first + step * s.step_ns, Instant::now())
                .expect("tick");
            step += 1;
        }
        svc.tick(at, Instant::now()).expect("tick");
        let sim_node = record.placement.first().copied();
        let answer = svc.submit("agreement", spec_of(task, &names), at, 0);
        out.compared += 1;
        match (sim_node, answer) {
            (Some(a), Ok(Submitted::Accepted(r))) if r.stages[0].node == Some(a) => out.same += 1,
            (Some(a), Ok(Submitted::Accepted(r))) => {
                let b = r.stages[0].node.expect("placed");
                *out.differences
                    .entry(format!(
                        "{}: simulator {} / service {}",
                        task.kind.as_str(),
                        kind(a),
                        kind(b)
                    ))
                    .or_default() += 1;
            }
            // Both refused it.
            (None, Err(_)) => out.same += 1,
            (_, Ok(Submitted::Duplicate(id))) => panic!("no key was sent, yet task {id} repeats"),
            (None, Ok(_)) => {
                *out.differences
                    .entry(format!(
                        "{}: simulator dropped, service placed",
                        task.kind.as_str()
                    ))
                    .or_default() += 1;
            }
            (Some(a), Err(e)) => {
                let why: String = e.message.split(':').next().unwrap_or("").to_string();
                *out.differences
                    .entry(format!(
                        "{}: simulator {} / service refused {:?} ({why})",
                        task.kind.as_str(),
                        kind(a),
                        e.kind
                    ))
                    .or_default() += 1;
            }
        }
        // As the API layer does after every call: hand the changes out, so ended tasks
        // leave memory.
        let _ = svc.take_changes();
    }
    out
}
