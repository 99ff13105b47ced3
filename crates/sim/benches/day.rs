//! The simulation benchmark of the scheduling issue: 24 simulated hours of a 1,584-satellite
//! constellation (Walker 72/22/1, 550 km, 53 deg) with 100 ground stations, 8 data centres
//! and about a million tasks, one run per policy named on the command line (default:
//! unified), timed on the wall clock with peak memory from /proc/self/status.
//! Run: `cargo bench -p tiandi-sim --bench day [-- POLICY...]`.

use std::time::Instant;

use rayon::prelude::*;
use tiandi_network::{
    DataCentre, GSL_HANDOVER_S, ISL_ACQUISITION_S, ISL_FULL_RATE_KM, LinkConfig, NetworkSpec,
    RegionShape, StationNode, UserTerminalRegion,
};
use tiandi_node::{
    Battery, CellType, FaultModel, NodeConfig, Pointing, SaaModel, SolarArray, ThermalParams,
    accelerator,
};
use tiandi_orbit::walker::{WalkerDesign, WalkerKind};
use tiandi_orbit::{
    Epoch, Frame, GroundStation, Satellite, ShadowGeometry, ecef_to_geodetic, sun_position_km,
};
use tiandi_sim::{FaultSetup, SimSetup};
use tiandi_twin::{LEO_DOSE_KRAD_PER_YEAR, PayloadPower, TID_SPREAD_SIGMA, TidModel};
use tiandi_workload::{
    EoConfig, PoissonConfig, TargetArea, TaskKind, TrackPoint, earth_observation_tasks,
    merge_and_number, poisson_tasks,
};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn stations() -> Vec<StationNode> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test_data/ground_stations_top100_cities.csv"
    );
    let text = std::fs::read_to_string(path).expect("ground-station CSV");
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            StationNode::new(
                GroundStation::new(
                    f[0],
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                )
                .unwrap(),
            )
        })
        .collect()
}

fn setup() -> SimSetup {
    let start = Epoch::parse_iso("2026-11-24T00:00:00Z").unwrap();
    let end = start.add_s_f64(86_400.0);
    let design = WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: 72,
        sats_per_plane: 22,
        phasing: 1,
        altitude_km: 550.0,
        inclination_deg: 53.0,
        epoch: start,
        raan_offset_deg: 0.0,
        first_norad_id: 100_000,
        name_prefix: "SL".into(),
    };
    let satellites: Vec<Satellite> = design
        .elements()
        .unwrap()
        .into_iter()
        .map(|e| Satellite::new(e).unwrap())
        .collect();
    let n_sats = satellites.len() as u32;
    let stations = stations();
    let dc_sites = [
        ("Zhangjiakou", 40.8, 114.9),
        ("Ulanqab", 41.0, 113.1),
        ("Zhongwei", 37.5, 105.2),
        ("Qingyang", 35.7, 107.6),
        ("Guian", 26.4, 106.4),
        ("Chongqing", 29.6, 106.5),
        ("Shaoguan", 24.8, 113.6),
        ("Wuhu", 31.3, 118.4),
    ];
    let data_centres: Vec<DataCentre> = dc_sites
        .iter()
        .map(|(n, lat, lon)| DataCentre {
            site: GroundStation::new(*n, *lat, *lon, 0.0).unwrap(),
            compute_capacity_flops: 2e17,
        })
        .collect();
    let regions = [
        ("south-china-sea", 12.0, 114.0),
        ("indian-ocean-lane", 5.0, 80.0),
        ("taklamakan", 38.9, 83.0),
    ];
    let user_terminals: Vec<UserTerminalRegion> = regions
        .iter()
        .map(|(n, lat, lon)| UserTerminalRegion {
            name: (*n).into(),
            shape: RegionShape::Circle {
                latitude_deg: *lat,
                longitude_deg: *lon,
                radius_km: 600.0,
            },
            min_elevation_deg: None,
            links: None,
            rate_bps: None,
        })
        .collect();
    let mut links = LinkConfig::default();
    links.gsl.min_elevation_deg = 25.0;
    // The scenarios' laser-link behaviour: acquisition, handover gaps, rate vs range.
    links.isl.acquisition_s = ISL_ACQUISITION_S;
    links.gsl.handover_s = GSL_HANDOVER_S;
    links.isl.full_rate_km = Some(ISL_FULL_RATE_KM);
    let n_stations = stations.len() as u32;
    let network = NetworkSpec {
        n_satellites: satellites.len(),
        n_planes: Some(72),
        stations,
        data_centres,
        user_terminals,
        links,
    };
    let first_dc = n_sats + n_stations;
    let first_region = first_dc + 8;

    // Earth observation from real ground tracks at 30 s.
    let times: Vec<Epoch> = (0..2_880)
        .map(|k| start.add_ns(k * 30_000_000_000))
        .collect();
    let suns: Vec<_> = times.iter().map(|t| sun_position_km(*t)).collect();
    let eo = EoConfig {
        swath_km: 30.0,
        bytes_per_km2: 0.67e6,
        flop_per_byte: 5e4,
        result_fraction: 0.005,
        memory_bytes: 16_000_000_000,
        tile_bytes: 4_000_000_000,
        deadline_s: 1_800.0,
        daylight_only: true,
        efficiency: TaskKind::EarthObservation.default_efficiency(),
    };
    let areas = vec![
        TargetArea {
            name: "china".into(),
            lat_min_deg: 20.0,
            lat_max_deg: 45.0,
            lon_min_deg: 75.0,
            lon_max_deg: 125.0,
        },
        TargetArea {
            name: "south-china-sea".into(),
            lat_min_deg: 5.0,
            lat_max_deg: 22.0,
            lon_min_deg: 105.0,
            lon_max_deg: 122.0,
        },
        TargetArea {
            name: "africa".into(),
            lat_min_deg: -30.0,
            lat_max_deg: 30.0,
            lon_min_deg: -15.0,
            lon_max_deg: 45.0,
        },
    ];
    let eo_tasks: Vec<_> = satellites
        .par_iter()
        .enumerate()
        .map(|(i, sat)| {
            let track: Vec<TrackPoint> = times
                .iter()
                .zip(&suns)
                .map(|(t, sun)| {
                    let teme = sat.state_at(*t, Frame::Teme).unwrap().position_km;
                    let g = ecef_to_geodetic(sat.state_at(*t, Frame::Itrf).unwrap().position_km);
                    TrackPoint {
                        t: *t,
                        latitude_deg: g.latitude_deg,
                        longitude_deg: g.longitude_deg,
                        sunlit: ShadowGeometry::new(teme, *sun).sunlit_fraction() > 0.5,
                    }
                })
                .collect();
            earth_observation_tasks(&eo, i as u32, &track, &areas)
        })
        .flatten()
        .collect();
    let blind = PoissonConfig {
        rate_per_s: 1.2,
        input_bytes_median: 2e6,
        work_flop_median: 2e12,
        spread_sigma: 0.8,
        output_bytes: 20_000,
        memory_bytes: 8_000_000_000,
        deadline_s: 10.0,
        efficiency: TaskKind::BlindZone.default_efficiency(),
    };
    let ground_ai = PoissonConfig {
        rate_per_s: 0.7,
        input_bytes_median: 1e5,
        work_flop_median: 5e13,
        spread_sigma: 1.0,
        output_bytes: 10_000,
        memory_bytes: 40_000_000_000,
        deadline_s: 30.0,
        efficiency: TaskKind::GroundAi.default_efficiency(),
    };
    let regions_ids: Vec<u32> = (0..3).map(|i| first_region + i).collect();
    let dc_ids: Vec<u32> = (0..8).map(|i| first_dc + i).collect();
    let tasks = merge_and_number(vec![
        eo_tasks,
        poisson_tasks(TaskKind::BlindZone, &blind, &regions_ids, start, end, 7),
        poisson_tasks(TaskKind::GroundAi, &ground_ai, &dc_ids, start, end, 7),
    ]);
    let h100 = accelerator("h100").unwrap();
    let payload_w = 2.0 * h100.system_power_w();
    let node = NodeConfig {
        accelerator: h100,
        n_accelerators: 2.0,
        array: SolarArray::new(
            payload_w / 230.0,
            CellType::GaAsTripleJunction,
            None,
            Pointing::SunTracking,
        )
        .unwrap(),
        battery: Battery::new(payload_w * 0.8, 0.3, 0.95, 0.95).unwrap(),
        bus_power_w: 300.0,
        thermal: ThermalParams::new(2e5, payload_w / 350.0, 0.85, 0.2, 330.0).unwrap(),
    };
    SimSetup {
        start,
        end,
        step_ns: 60_000_000_000,
        seed: 7,
        satellites,
        network,
        satellite_nodes: vec![node; n_sats as usize],
        data_centre_slot_flops: h100.fp16_tflops_dense * 1e12,
        data_centre_slot_memory_bytes: 80_000_000_000,
        data_centre_power: Default::default(),
        payload_power: PayloadPower::default(),
        faults: FaultSetup {
            radiation: Some(
                FaultModel::new(h100.upsets_per_device_day, SaaModel::default()).unwrap(),
            ),
            max_retries: 3,
            outages: vec![],
            tid: Some(TidModel {
                dose_krad_per_year: LEO_DOSE_KRAD_PER_YEAR,
                age_years: 0.0,
                spread_sigma: TID_SPREAD_SIGMA,
            }),
        },
        tasks,
        iot: None,
    }
}

fn main() {
    let policies: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let policies = if policies.is_empty() {
        vec!["unified".to_string()]
    } else {
        policies
    };
    let t0 = Instant::now();
    let setup = setup();
    println!(
        "setup: {} satellites, {} stations, {} data centres, {} tasks in {:.1} s",
        setup.satellites.len(),
        setup.network.stations.len(),
        setup.network.data_centres.len(),
        setup.tasks.len(),
        t0.elapsed().as_secs_f64()
    );
    for name in &policies {
        let mut policy = tiandi_scheduler::by_name(name).expect("a policy name");
        let t = Instant::now();
        let result = tiandi_sim::run(&setup, policy.as_mut(), &|_, _| {}).unwrap();
        let s = &result.summary;
        println!(
            "{name}: 24 h simulated in {:.1} s wall; {} tasks: {} completed, {} failed, {} dropped; p95 {:.1} s; downlink {:.1} GB; peak RSS {:.0} MiB",
            t.elapsed().as_secs_f64(),
            s.tasks_total,
            s.completed,
            s.failed,
            s.dropped,
            s.latency_p95_s,
            s.downlink_bytes as f64 / 1e9,
            peak_rss_mib()
        );
    }
}
