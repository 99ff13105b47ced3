//! Deterministic simulation tests: randomised small scenarios (constellation, ground
//! segment, workload, policy, faults, outages) on many seeds, with every invariant checker
//! on. A failure prints the line that reproduces it.

use tiandi_network::{
    DataCentre, LinkConfig, NetworkSpec, RegionShape, StationNode, UserTerminalRegion,
};
use tiandi_node::{
    Battery, CellType, FaultModel, NodeConfig, Pointing, SaaModel, SolarArray, ThermalParams,
    accelerator,
};
use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{Epoch, GroundStation, Satellite};
use tiandi_sim::{FaultSetup, SimSetup, Trace, invariants, run_traced};
use tiandi_twin::{PayloadPower, TID_SPREAD_SIGMA, TidModel};
use tiandi_workload::{Destination, Pin, Purpose, Stage, Stream, Task, TaskKind, merge_and_number};

/// Seeds run by default; `SWARM_SEEDS=N` runs more, `SWARM_SEED=S` runs just one.
const DEFAULT_SEEDS: u64 = 50;

fn node_config(rng: &mut Stream) -> NodeConfig {
    let acc = accelerator(["h100", "orin", "versal", "atlas300i"][rng.index(4)]).unwrap();
    let n_accelerators = (1 + rng.index(4)) as f64;
    let payload_w = n_accelerators * acc.system_power_w();
    NodeConfig {
        accelerator: acc,
        n_accelerators,
        // Sometimes generous, sometimes starved: both power limits and idle time happen.
        array: SolarArray::new(
            payload_w / 250.0 * rng.range(0.3, 2.0),
            CellType::GaAsTripleJunction,
            None,
            Pointing::SunTracking,
        )
        .unwrap(),
        battery: Battery::new(payload_w * rng.range(0.1, 1.0), 0.3, 0.95, 0.95).unwrap(),
        bus_power_w: 100.0,
        // A radiator that is sometimes too small, so the thermal limit bites.
        thermal: ThermalParams::new(
            5e4,
            payload_w / 400.0 * rng.range(0.5, 1.5),
            0.85,
            0.2,
            330.0,
        )
        .unwrap(),
    }
}

fn scenario(seed: u64) -> SimSetup {
    let mut rng = Stream::new(seed, Purpose::Policy, 999);
    let start = Epoch::parse_iso("2026-11-24T00:00:00Z").unwrap();
    let design = WalkerDesign {
        kind: if rng.uniform() < 0.7 {
            WalkerKind::Delta
        } else {
            WalkerKind::Star
        },
        n_planes: 2 + rng.index(5) as u32,
        sats_per_plane: 3 + rng.index(6) as u32,
        phasing: 1,
        altitude_km: rng.range(500.0, 1_200.0),
        inclination_deg: rng.range(30.0, 98.0),
        epoch: start,
        raan_offset_deg: rng.range(0.0, 360.0),
        first_norad_id: 1,
        name_prefix: "S".into(),
    };
    let satellites: Vec<Satellite> = design
        .elements()
        .unwrap()
        .into_iter()
        .map(|e| Satellite::new(e).unwrap())
        .collect();
    let n_sats = satellites.len() as u32;
    let n_stations = 2 + rng.index(4);
    let stations: Vec<StationNode> = (0..n_stations)
        .map(|i| {
            StationNode::new(
                GroundStation::new(
                    format!("GS{i}"),
                    rng.range(-60.0, 60.0),
                    rng.range(-180.0, 180.0),
                    0.0,
                )
                .unwrap(),
            )
        })
        .collect();
    let n_dcs = 1 + rng.index(3);
    let data_centres: Vec<DataCentre> = (0..n_dcs)
        .map(|i| DataCentre {
            site: GroundStation::new(
                format!("DC{i}"),
                rng.range(-50.0, 50.0),
                rng.range(-180.0, 180.0),
                0.0,
            )
            .unwrap(),
            compute_capacity_flops: rng.range(1e15, 2e16),
        })
        .collect();
    let n_regions = rng.index(3);
    // Regions, or terminals at points with their own mask and rate.
    let user_terminals: Vec<UserTerminalRegion> = (0..n_regions)
        .map(|i| {
            let point = rng.uniform() < 0.5;
            UserTerminalRegion {
                name: format!("R{i}"),
                shape: RegionShape::Circle {
                    latitude_deg: rng.range(-50.0, 50.0),
                    longitude_deg: rng.range(-180.0, 180.0),
                    radius_km: if point { 0.0 } else { 500.0 },
                },
                min_elevation_deg: point.then(|| rng.range(10.0, 40.0)),
                links: None,
                rate_bps: point.then(|| rng.range(1e7, 1e9)),
            }
        })
        .collect();
    let mut links = LinkConfig::default();
    // Slow links sometimes, so queues and store-and-forward happen.
    links.capacities.gsl_bps = rng.range(1e8, 2e10);
    links.capacities.isl_bps = rng.range(1e9, 1e11);
    // Laser links as they behave: acquisition, handover gaps, rate falling with range,
    // cross-plane links off near the poles.
    links.isl.acquisition_s = rng.range(0.0, 40.0);
    links.gsl.handover_s = rng.range(0.0, 10.0);
    links.isl.full_rate_km = (rng.uniform() < 0.5).then(|| rng.range(500.0, 5_000.0));
    links.isl.cross_plane_max_lat_deg = (rng.uniform() < 0.3).then(|| rng.range(30.0, 80.0));
    let network = NetworkSpec {
        n_satellites: satellites.len(),
        n_planes: Some(design.n_planes),
        stations,
        data_centres,
        user_terminals,
        links,
    };
    let first_dc = n_sats + n_stations as u32;
    let first_region = first_dc + n_dcs as u32;
    let horizon_s = rng.range(1_800.0, 7_200.0);
    let end = start.add_s_f64(horizon_s);
    let n_tasks = 20 + rng.index(200);
    let tasks: Vec<Task> = (0..n_tasks)
        .map(|_| {
            let arrival = start.add_s_f64(rng.range(0.0, horizon_s * 0.8));
            let (kind, origin, destination) = match rng.index(3) {
                0 => (
                    TaskKind::EarthObservation,
                    rng.index(n_sats as usize) as u32,
                    Destination::AnyGround,
                ),
                1 if n_regions > 0 => {
                    let r = first_region + rng.index(n_regions) as u32;
                    (TaskKind::BlindZone, r, Destination::Origin)
                }
                _ => {
                    let dc = first_dc + rng.index(n_dcs) as u32;
                    (TaskKind::GroundAi, dc, Destination::Node(dc))
                }
            };
            let n_stages = 1 + rng.index(3);
            let stages = (0..n_stages)
                .map(|k| Stage {
                    work_flop: rng.lognormal(1e14, 1.0),
                    input_bytes: rng.lognormal(1e8, 1.5) as u64,
                    output_bytes: rng.lognormal(1e6, 1.0) as u64,
                    memory_bytes: 1 << 30,
                    pin: if k == 0 && rng.uniform() < 0.2 {
                        Pin::Origin
                    } else {
                        Pin::Free
                    },
                    after: if k == 0 { vec![] } else { vec![(k - 1) as u16] },
                    efficiency: 0.2 + 0.8 * rng.uniform(),
                })
                .collect();
            Task {
                id: 0,
                kind,
                arrival,
                origin,
                destination,
                deadline: arrival.add_s_f64(rng.range(60.0, 3_600.0)),
                stages,
            }
        })
        .collect();
    // A pinned-to-origin stage on a region or data-centre origin is not computable there
    // unless it is a data centre; keep pins only where they can run.
    let tasks: Vec<Task> = tasks
        .into_iter()
        .map(|mut t| {
            if t.origin >= first_region {
                for s in &mut t.stages {
                    s.pin = Pin::Free;
                }
            }
            t
        })
        .collect();
    let n_outages = rng.index(3);
    let outages = (0..n_outages)
        .map(|_| {
            let from = start.add_s_f64(rng.range(0.0, horizon_s));
            (
                rng.index(n_sats as usize) as u32,
                from,
                from.add_s_f64(rng.range(60.0, 1_200.0)),
            )
        })
        .collect();
    let satellite_nodes = (0..n_sats).map(|_| node_config(&mut rng)).collect();
    SimSetup {
        start,
        end,
        step_ns: [10, 30, 60][rng.index(3)] * 1_000_000_000,
        seed,
        satellites,
        network,
        satellite_nodes,
        data_centre_slot_flops: 1e15,
        data_centre_slot_memory_bytes: 80_000_000_000,
        data_centre_power: Default::default(),
        // Sometimes every device is always on, sometimes they sleep and wake slowly.
        payload_power: PayloadPower {
            warm_devices: rng.index(2) as u32,
            wake_s: rng.range(0.0, 20.0),
            metering: rng.uniform() < 0.8,
        },
        faults: FaultSetup {
            // Upset rates far above reality so that restarts and failures are exercised.
            radiation: Some(FaultModel::new(rng.range(0.0, 200.0), SaaModel::default()).unwrap()),
            max_retries: rng.index(4) as u32,
            outages,
            // Sometimes old satellites, sometimes a dose fast enough to retire devices
            // during the run.
            tid: (rng.uniform() < 0.4).then(|| TidModel {
                dose_krad_per_year: 10f64.powf(rng.range(-1.0, 4.0)),
                age_years: rng.range(0.0, 15.0),
                spread_sigma: TID_SPREAD_SIGMA,
            }),
        },
        tasks: merge_and_number(vec![tasks]),
        iot: None,
    }
}

fn run_seed(seed: u64) {
    let setup = scenario(seed);
    let names = tiandi_scheduler::POLICY_NAMES;
    let policy_name = names[(seed % names.len() as u64) as usize];
    let mut policy = tiandi_scheduler::by_name(policy_name).unwrap();
    let mut trace = Trace::default();
    let result = run_traced(&setup, policy.as_mut(), &|_, _| {}, Some(&mut trace)).unwrap_or_else(|e| {
        panic!("seed {seed} ({policy_name}): run failed: {e}\nreproduce: SWARM_SEED={seed} cargo test -p tiandi-sim --test swarm")
    });
    if let Err(problems) = invariants::check(&setup, &result, &trace) {
        panic!(
            "seed {seed} ({policy_name}): invariants broken:\n{problems}\nreproduce: SWARM_SEED={seed} cargo test -p tiandi-sim --test swarm"
        );
    }
}

#[test]
fn swarm() {
    let seeds: Vec<u64> = match (std::env::var("SWARM_SEED"), std::env::var("SWARM_SEEDS")) {
        (Ok(s), _) => vec![s.parse().expect("SWARM_SEED is a number")],
        (_, Ok(n)) => (0..n.parse().expect("SWARM_SEEDS is a number")).collect(),
        _ => (0..DEFAULT_SEEDS).collect(),
    };
    for seed in seeds {
        run_seed(seed);
    }
}

#[test]
fn same_seed_same_result() {
    for seed in [3, 17] {
        let setup = scenario(seed);
        let run = || {
            let mut p = tiandi_scheduler::by_name("unified").unwrap();
            tiandi_sim::run(&setup, p.as_mut(), &|_, _| {}).unwrap()
        };
        let (a, b) = (run(), run());
        // Debug text, so that NaN figures (a percentile of nothing) compare equal.
        assert_eq!(format!("{:?}", a.summary), format!("{:?}", b.summary));
        assert_eq!(a.tasks, b.tasks);
        assert_eq!(a.links, b.links);
        assert_eq!(a.nodes, b.nodes);
    }
}

/// Golden: upsets strike devices uniformly in time, so the stages they hit follow the
/// stages' busy time. With a constant rate r per device-second (no SAA), hits over a run
/// are Poisson with mean r x busy device-seconds; summed over 30 seeded runs the observed
/// count must lie within 4 standard deviations of that mean (a 6e-5 two-sided chance of a
/// false alarm). Idle devices are struck too: those upsets hit nothing.
#[test]
fn faults_hit_stages_in_proportion_to_busy_time() {
    // High enough for ~300 hits, low enough that the twin's cap of 4 upsets a device per
    // step never binds.
    let per_device_day = 2_000.0;
    let (mut hits, mut injected, mut busy_s, mut device_s) = (0u64, 0u64, 0.0, 0.0);
    for seed in 100..130 {
        let mut setup = scenario(seed);
        setup.faults.radiation = Some(
            FaultModel::new(
                per_device_day,
                SaaModel {
                    peak_multiplier: 1.0,
                    ..SaaModel::default()
                },
            )
            .unwrap(),
        );
        setup.faults.max_retries = 1_000;
        let mut p = tiandi_scheduler::by_name("onboard").unwrap();
        let r = tiandi_sim::run(&setup, p.as_mut(), &|_, _| {}).unwrap();
        hits += r.summary.faults_hit_stages;
        injected += r.summary.faults_injected;
        busy_s += r.summary.physics.busy_device_s;
        let horizon_s = (setup.end.unix_ns() - setup.start.unix_ns()) as f64 / 1e9;
        device_s += setup
            .satellite_nodes
            .iter()
            .map(|c| c.n_accelerators.round().max(1.0) * horizon_s)
            .sum::<f64>();
    }
    let rate = per_device_day / 86_400.0;
    let expected = rate * busy_s;
    let sd = expected.sqrt();
    println!("{hits} hits of {injected} upsets; expected {expected:.1} +- {sd:.1}");
    assert!(
        (hits as f64 - expected).abs() <= 4.0 * sd,
        "{hits} hits, expected {expected:.1} +- {sd:.1} from {busy_s:.0} busy device-s"
    );
    // And upsets as a whole follow all device-time.
    let all = rate * device_s;
    assert!(
        (injected as f64 - all).abs() <= 4.0 * all.sqrt(),
        "{injected} upsets, expected {all:.1}"
    );
    assert!(expected > 100.0, "too few hits to test: {expected:.1}");
}

/// Golden: an ISL that re-forms carries data exactly `acquisition_s` after it appears.
/// The same scenario runs with no acquisition time and with 17.5 s (no GSL handover
/// either way); the traces agree until the first hop that the acquisition delays. That
/// hop starts exactly 17.5 s after a step boundary (the link's first step), and where the
/// transfer was waiting for the link at that boundary (the run without acquisition sent
/// it then), it starts exactly 17.5 s later than there.
#[test]
fn one_isl_reacquisition_delays_a_transfer_by_the_acquisition_time() {
    let acquisition_ns = 17_500_000_000_i64;
    let mut exact = 0;
    for seed in 0..40 {
        let mut base = scenario(seed);
        base.network.links.gsl.handover_s = 0.0;
        base.network.links.isl.acquisition_s = 0.0;
        let mut slow = base.clone();
        slow.network.links.isl.acquisition_s = acquisition_ns as f64 / 1e9;
        let trace_of = |setup: &SimSetup| {
            let mut p = tiandi_scheduler::by_name("nearest").unwrap();
            let mut trace = Trace::default();
            run_traced(setup, p.as_mut(), &|_, _| {}, Some(&mut trace)).unwrap();
            trace
        };
        let (a, b) = (trace_of(&base), trace_of(&slow));
        // Hops by identity (transfer, sender, receiver, n-th time), in each run.
        let keyed = |t: &Trace| {
            let mut seen = std::collections::BTreeMap::new();
            t.hops
                .iter()
                .map(|h| {
                    let n = seen.entry((h.transfer, h.from, h.to)).or_insert(0u32);
                    *n += 1;
                    ((h.transfer, h.from, h.to, *n), *h)
                })
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let (ka, kb) = (keyed(&a), keyed(&b));
        // The first change in time is the cause; everything after may ripple from it.
        let Some((x, y)) = ka
            .iter()
            .filter_map(|(key, x)| kb.get(key).filter(|y| *y != x).map(|y| (*x, *y)))
            .min_by_key(|(x, _)| (x.start, x.transfer))
        else {
            continue;
        };
        let n_sats = base.satellites.len() as u32;
        assert!(
            x.from < n_sats && x.to < n_sats,
            "seed {seed}: first change is an ISL hop"
        );
        let since_start = y.start.unix_ns() - acquisition_ns - base.start.unix_ns();
        assert_eq!(
            since_start % base.step_ns,
            0,
            "seed {seed}: the delayed hop starts {acquisition_ns} ns after a step boundary"
        );
        let delay = y.start.unix_ns() - x.start.unix_ns();
        assert!(
            delay > 0 && delay <= acquisition_ns,
            "seed {seed}: {delay} ns"
        );
        if (x.start.unix_ns() - base.start.unix_ns()) % base.step_ns == 0 {
            assert_eq!(delay, acquisition_ns, "seed {seed}");
            exact += 1;
        }
    }
    assert!(
        exact >= 1,
        "no seed had a transfer waiting for a re-formed ISL"
    );
    println!("{exact} seeds with a transfer delayed by exactly the acquisition time");
}

#[test]
fn energy_charged_twice_breaks_the_balance() {
    // The mutation the energy invariant is for: one step's compute energy charged twice.
    let (setup, result, trace) = (0..20)
        .map(|seed| {
            let setup = scenario(seed);
            let mut p = tiandi_scheduler::by_name("onboard").unwrap();
            let mut trace = Trace::default();
            let r = run_traced(&setup, p.as_mut(), &|_, _| {}, Some(&mut trace)).unwrap();
            (setup, r, trace)
        })
        .find(|(_, r, _)| r.nodes.iter().any(|n| n.compute_w > 1.0))
        .expect("some seed computes in orbit");
    invariants::check(&setup, &result, &trace).unwrap();
    let mut twice = result.clone();
    let k = twice.nodes.iter().position(|n| n.compute_w > 1.0).unwrap();
    twice.nodes[k].compute_w *= 2.0;
    let err = invariants::check(&setup, &twice, &trace).unwrap_err();
    assert!(err.contains("harvested"), "{err}");
    // Charged twice in the run's books only: the steps no longer sum to them.
    let mut books = result.clone();
    books.summary.physics.energy.compute_wh *= 2.0;
    let err = invariants::check(&setup, &books, &trace).unwrap_err();
    assert!(err.contains("compute energy"), "{err}");
}

#[test]
fn invariant_checker_catches_a_broken_record() {
    // The checkers must be able to fail: corrupt one record and one hop.
    let setup = scenario(0);
    let mut p = tiandi_scheduler::by_name("bent-pipe").unwrap();
    let mut trace = Trace::default();
    let mut result = run_traced(&setup, p.as_mut(), &|_, _| {}, Some(&mut trace)).unwrap();
    invariants::check(&setup, &result, &trace).unwrap();
    let moved = result
        .tasks
        .iter()
        .position(|r| r.bytes_moved > 0)
        .expect("some task moved data");
    result.tasks[moved].bytes_moved += 1;
    let err = invariants::check(&setup, &result, &trace).unwrap_err();
    assert!(err.contains("hops carried"), "{err}");
    result.tasks[moved].bytes_moved -= 1;
    // A delivered transfer whose last hop is dropped no longer reaches where it arrived.
    let delivered = trace
        .deliveries
        .iter()
        .find(|d| d.from != d.to)
        .copied()
        .expect("some transfer crossed a link");
    let last = trace
        .hops
        .iter()
        .rposition(|h| h.transfer == delivered.transfer)
        .unwrap();
    let removed = trace.hops.remove(last);
    let err = invariants::check(&setup, &result, &trace).unwrap_err();
    assert!(err.contains("but its hops end at node"), "{err}");
    trace.hops.insert(last, removed);
    invariants::check(&setup, &result, &trace).unwrap();
    let n = setup.satellites.len() as u32;
    // A hop between two satellites that are never linked (plane 0 slot 0 to a far slot).
    let mut bad = trace.hops[0];
    bad.from = 0;
    bad.to = n - 1;
    bad.done = bad.start;
    trace.hops.push(bad);
    let err = invariants::check(&setup, &result, &trace).unwrap_err();
    assert!(
        err.contains("uses a link that is down") || err.contains("hops carried"),
        "{err}"
    );
}

/// Total ionizing dose changes what runs: satellites 100 years old (15 krad, every
/// commercial device far past its 2 krad tolerance; the rad-hard Versal's 100 krad holds)
/// retire every commercial device and compute nothing on those satellites; new ones retire
/// none.
#[test]
fn devices_past_their_dose_tolerance_never_compute() {
    let run = |age_years: f64| {
        let mut setup = scenario(5);
        setup.faults.tid = Some(TidModel {
            dose_krad_per_year: 0.15,
            age_years,
            spread_sigma: TID_SPREAD_SIGMA,
        });
        let mut p = tiandi_scheduler::by_name("onboard").unwrap();
        let r = tiandi_sim::run(&setup, p.as_mut(), &|_, _| {}).unwrap();
        let commercial = |i: usize| setup.satellite_nodes[i].accelerator.tid_tolerance_krad < 10.0;
        let devices: u64 = (0..setup.satellite_nodes.len())
            .filter(|&i| commercial(i))
            .map(|i| setup.satellite_nodes[i].n_accelerators.round().max(1.0) as u64)
            .sum();
        let orbit_flop: f64 = r
            .nodes
            .iter()
            .filter(|n| commercial(n.satellite as usize))
            .map(|n| n.work_flop)
            .sum();
        (r.summary.physics.devices_retired, devices, orbit_flop)
    };
    let (retired, devices, flop) = run(100.0);
    assert_eq!(retired, devices);
    assert_eq!(flop, 0.0);
    let (retired, _, flop) = run(0.0);
    assert_eq!(retired, 0);
    assert!(flop > 0.0, "new satellites compute");
}
