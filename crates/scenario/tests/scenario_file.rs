//! The scenario format end to end: the built-in default and the examples parse and build,
//! generated workloads are well formed and seeded, and bad input names file, line and key.

use std::path::{Path, PathBuf};

use tiandi_network::RegionShape;
use tiandi_orbit::format_tle;
use tiandi_scenario::{
    DEFAULT_SCENARIO_TOML, Scenario, ScenarioError, SettingError, parse_scenario,
};
use tiandi_workload::{Destination, TaskKind};

/// A fresh directory under cargo's per-crate temporary directory.
fn fresh_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("scenario_file")
        .join(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    parse_scenario(text, "s.toml", Path::new("."))
}

/// The default scenario with one line replaced (the old text must be there exactly once).
fn variant(old: &str, new: &str) -> String {
    assert_eq!(DEFAULT_SCENARIO_TOML.matches(old).count(), 1, "{old:?}");
    DEFAULT_SCENARIO_TOML.replace(old, new)
}

/// 1-based line of the first occurrence of `needle` in the text.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.rfind(needle).unwrap()].matches('\n').count() + 1
}

/// A minimal scenario (one plane, one station, one data centre) with extra text appended.
const SMALL: &str = r#"
[run]
horizon_h = 0.5
[constellation.walker]
planes = 2
sats_per_plane = 4
altitude_km = 550
inclination_deg = 53
[satellite]
array_area_m2 = 10
battery_wh = 2000
radiator_area_m2 = 3
heat_capacity_j_per_k = 50000
[[ground_stations]]
name = "Sanya"
latitude_deg = 18.31
longitude_deg = 109.31
[[data_centres]]
name = "Guian"
latitude_deg = 26.42
longitude_deg = 106.38
compute_capacity_pflops = 5
"#;

#[test]
fn default_scenario_builds() {
    let s = Scenario::built_in("default").unwrap().unwrap();
    assert_eq!(s.satellites.len(), 240);
    assert_eq!(s.network.stations.len(), 9);
    assert_eq!(s.network.data_centres.len(), 8);
    // Terminals at points: 6 ships, 8 ships and 4 vehicles.
    assert_eq!(s.network.user_terminals.len(), 18);
    assert_eq!(s.policy, "unified");
    let setup = s.setup().unwrap();
    let n_nodes = 240 + 9 + 8 + 18;
    assert!(
        setup
            .tasks
            .windows(2)
            .all(|w| w[0].arrival <= w[1].arrival && w[1].id == w[0].id + 1)
    );
    assert!(setup.tasks.iter().all(|t| t.validate().is_ok()
        && (t.origin as usize) < n_nodes
        && t.arrival >= setup.start
        && t.arrival < setup.end));
    for kind in [
        TaskKind::EarthObservation,
        TaskKind::BlindZone,
        TaskKind::GroundAi,
    ] {
        let n = setup.tasks.iter().filter(|t| t.kind == kind).count();
        // Earth observation: ~1.3 GB/s of capture over the targets in daylight, in 2 GB
        // tiles, from 240 satellites over 6 h.
        let range = if kind == TaskKind::EarthObservation {
            100_000..400_000
        } else {
            1_000..60_000
        };
        assert!(range.contains(&n), "{kind:?}: {n} tasks");
    }
    // Captures start on satellites and go to the ground; requests come from regions and
    // go back; AI jobs arrive at data centres.
    for t in &setup.tasks {
        match t.kind {
            TaskKind::EarthObservation => {
                assert!(t.origin < 240 && t.destination == Destination::AnyGround)
            }
            TaskKind::BlindZone => assert!(t.origin >= 257 && t.destination == Destination::Origin),
            TaskKind::GroundAi => assert!(
                (249..257).contains(&t.origin) && t.destination == Destination::Node(t.origin)
            ),
            TaskKind::Graph => panic!("no trace in the default"),
        }
    }
    // The outage names a satellite by label.
    assert_eq!(setup.faults.outages.len(), 1);
    assert_eq!(setup.faults.outages[0].0, 3 * 15 + 4);
    // The satellite design was sized by the planner: positive and plausible.
    assert!(
        (2.0..50.0).contains(&s.node.array.area_m2()),
        "{}",
        s.node.array.area_m2()
    );
}

#[test]
fn gsl_max_range_reaches_the_link_rules() {
    assert_eq!(
        Scenario::built_in("default")
            .unwrap()
            .unwrap()
            .network
            .links
            .gsl
            .max_range_km,
        None
    );
    let text = variant(
        "gsl_min_elevation_deg = 25.0",
        "gsl_min_elevation_deg = 0.0\ngsl_max_range_km = 1089.686",
    );
    let gsl = parse(&text).unwrap().network.links.gsl;
    assert_eq!(
        (gsl.min_elevation_deg, gsl.max_range_km),
        (0.0, Some(1089.686))
    );
}

#[test]
fn workload_follows_the_seed_and_horizon() {
    let mut s = parse(&format!(
        "{SMALL}\n[workloads.ground_ai]\nrate_per_s = 0.5\n"
    ))
    .unwrap();
    let a = s.setup().unwrap().tasks;
    assert_eq!(a, s.setup().unwrap().tasks);
    s.seed = 2;
    let b = s.setup().unwrap().tasks;
    assert_ne!(a, b);
    // 0.5/s for 1,800 s: 900 expected, Poisson sd 30.
    assert!((a.len() as f64 - 900.0).abs() < 150.0, "{}", a.len());
    s.set_horizon_h(1.0).unwrap();
    assert!(s.setup().unwrap().tasks.len() > a.len() + 400);
    let e = s.set_horizon_h(-1.0).unwrap_err();
    assert!(matches!(e, SettingError::Horizon { horizon_h, .. } if horizon_h == -1.0));
    assert_eq!(
        e.to_string(),
        "horizon -1 h: expected more than 0 and at most 168 h"
    );
    assert_eq!(s.horizon_h, 1.0, "a rejected horizon leaves the old one");
}

#[test]
fn earth_observation_needs_daylight_over_targets() {
    let eo = "\n[workloads.earth_observation]\ndaylight_only = false\n[[workloads.earth_observation.targets]]\nname = \"world\"\nlat_min_deg = -90\nlat_max_deg = 90\nlon_min_deg = -180\nlon_max_deg = 180\n";
    let s = parse(&format!("{SMALL}{eo}")).unwrap();
    let tasks = s.setup().unwrap().tasks;
    // Imaging the whole half hour: 8 sats x ~7.6 km/s x 1,800 s x 30 km x 0.67 MB/km^2
    // = ~2.2 TB in 2 GB tiles: ~1,100 tiles.
    let total: u64 = tasks.iter().map(|t| t.stages[0].input_bytes).sum();
    assert!((1.5e12..3.0e12).contains(&(total as f64)), "{total}");
    assert!(
        tasks
            .iter()
            .all(|t| t.kind == TaskKind::EarthObservation && t.origin < 8)
    );
}

#[test]
fn negative_deadline_names_file_line_and_key() {
    let text = variant("deadline_s = 1800.0", "deadline_s = -5");
    let e = parse(&text).unwrap_err();
    let line = line_of(&text, "deadline_s = -5");
    assert_eq!(
        e.to_string(),
        format!(
            "s.toml:{line}: workloads.earth_observation.deadline_s: must be positive, found -5"
        )
    );
}

#[test]
fn typo_is_an_unknown_key_with_its_line() {
    let text = variant("horizon_h = 6.0", "horizn_h = 6.0");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(line_of(&text, "horizn_h")));
    assert_eq!(e.key, "run.horizn_h");
    assert!(
        e.message.contains("unknown field `horizn_h`"),
        "{}",
        e.message
    );
    assert!(!e.to_string().contains('\n'));
    // Also inside an array of tables.
    let text = variant(
        "compute_capacity_pflops = 20.0\n\n[[data_centres]]\nname = \"Wuhu\"",
        "compute_capacity_pflop = 20.0\n\n[[data_centres]]\nname = \"Wuhu\"",
    );
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(line_of(&text, "compute_capacity_pflop ")));
    assert!(
        e.key.starts_with("data_centres[0].compute_capacity_pflop"),
        "{}",
        e.key
    );
}

#[test]
fn unknown_policy_and_wrong_types() {
    let text = variant("policy = \"unified\"", "policy = \"teleport\"");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(line_of(&text, "teleport")));
    assert_eq!(e.key, "run.policy");
    assert!(
        e.message
            .starts_with("unknown policy \"teleport\": expected one of bent-pipe"),
        "{}",
        e.message
    );
    // Outside a file (`--policy`), the same check is a typed error naming the policy.
    let e = tiandi_scenario::check_policy("teleport").unwrap_err();
    assert!(matches!(&e, SettingError::UnknownPolicy { name, .. } if name == "teleport"));
    assert_eq!(e.to_string(), parse(&text).unwrap_err().message);
    let text = variant("planes = 16", "planes = \"sixteen\"");
    let e = parse(&text).unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str()),
        (
            Some(line_of(&text, "sixteen")),
            "constellation.walker.planes"
        )
    );
    let text = variant(
        "start = \"2026-11-24T00:00:00Z\"",
        "start = 2026-11-24T00:00:00Z",
    );
    assert_eq!(parse(&text).unwrap().start, tiandi_scenario::DEFAULT_EPOCH);
    let text = variant("start = \"2026-11-24T00:00:00Z\"", "start = \"yesterday\"");
    assert_eq!(parse(&text).unwrap_err().key, "run.start");
}

#[test]
fn value_errors_across_sections() {
    let cases = [
        (
            "latitude_deg = 40.45",
            "latitude_deg = 95",
            "ground_stations[0].latitude_deg",
        ),
        (
            "gsl_capacity_gbps = 2.0",
            "gsl_capacity_gbps = 0",
            "network.gsl_capacity_gbps",
        ),
        ("isl = \"plus-grid\"", "isl = \"mesh\"", "network.isl"),
        (
            "gsl_min_elevation_deg = 25.0",
            "gsl_max_range_km = 0.5",
            "network.gsl_max_range_km",
        ),
        (
            "accelerator = \"orin\"",
            "accelerator = \"tpu9\"",
            "satellite.accelerator",
        ),
        (
            "satellite = \"TD-3-4\"",
            "satellite = \"TD-99-0\"",
            "faults.outages[0].satellite",
        ),
        ("to_h = 3.0", "to_h = 1.0", "faults.outages[0].to_h"),
        ("count = 4", "count = 0", "user_terminals[2].count"),
        (
            "lane_deg = [[41.8, 84.3], [37.1, 82.7]]",
            "lane_deg = [[41.8, 84.3], [97.1, 82.7]]",
            "user_terminals[2].lane_deg[1].latitude_deg",
        ),
        (
            "lat_max_deg = 54.0",
            "lat_max_deg = 10.0",
            "workloads.earth_observation.targets[0].lat_max_deg",
        ),
        (
            "name = \"Qingdao\"",
            "name = \"Sanya\"",
            "ground_stations[8].name",
        ),
    ];
    for (old, new, key) in cases {
        let text = variant(old, new);
        let e = parse(&text).unwrap_err();
        assert_eq!(e.key, key, "{new}: {e}");
        assert_eq!(e.line, Some(line_of(&text, new)), "{new}: {e}");
    }
}

#[test]
fn referenced_files_tle_csv_trace() {
    let dir = fresh_dir("referenced");
    let design = tiandi_scenario::default_walker();
    let tle: String = design.elements().unwrap().iter().map(format_tle).collect();
    std::fs::write(dir.join("sats.tle"), tle).unwrap();
    std::fs::write(dir.join("gs.csv"), "name,latitude_deg,longitude_deg,elevation_m\nSanya,18.31,109.31,20\nKashgar,39.5,76,1300\n").unwrap();
    std::fs::write(
        dir.join("trace.csv"),
        "id,kind,arrival_utc,origin,destination,input_bytes,work_flop,output_bytes,memory_bytes,deadline_s\n\
         10,graph,2026-11-24T00:10:00Z,TD-0-0,ground,1e9,1e13,1e6,1e9,600\n\
         11,ground-ai,2026-11-24T00:05:00Z,Guian,Guian,1e6,1e12,1e3,1e9,60\n\
         12,ground-ai,2026-11-24T09:00:00Z,Guian,Guian,1e6,1e12,1e3,1e9,60\n",
    )
    .unwrap();
    let text = "ground_stations_csv = \"gs.csv\"\n[run]\nhorizon_h = 1\n[constellation]\ntle = \"sats.tle\"\nplanes = 16\n[[data_centres]]\nname = \"Guian\"\nlatitude_deg = 26.42\nlongitude_deg = 106.38\ncompute_capacity_pflops = 5\n[workloads.trace]\nfile = \"trace.csv\"\n";
    std::fs::write(dir.join("s.toml"), text).unwrap();
    let s = Scenario::load(&dir.join("s.toml")).unwrap();
    assert_eq!(s.satellites.len(), 192);
    assert_eq!(s.network.stations.len(), 2);
    assert_eq!(s.network.n_planes, Some(16));
    // The trace task after the 1 h horizon is left out; the others are renumbered by arrival.
    let tasks = s.setup().unwrap().tasks;
    assert_eq!(tasks.len(), 2);
    assert_eq!((tasks[0].id, tasks[0].kind), (0, TaskKind::GroundAi));
    assert_eq!((tasks[1].kind, tasks[1].origin), (TaskKind::Graph, 0));
    // The referenced files are part of the scenario's identity.
    let h = s.hash;
    std::fs::write(
        dir.join("gs.csv"),
        "name,latitude_deg,longitude_deg,elevation_m\nSanya,18.31,109.31,20\n",
    )
    .unwrap();
    assert_ne!(Scenario::load(&dir.join("s.toml")).unwrap().hash, h);

    // A missing TLE file: the scenario's line and key, and the path that was tried.
    std::fs::write(dir.join("s.toml"), text.replace("sats.tle", "missing.tle")).unwrap();
    let e = Scenario::load(&dir.join("s.toml")).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(5), "constellation.tle"));
    assert!(e.message.contains("missing.tle"), "{}", e.message);
    // A bad row of the station CSV names the CSV's own line and column.
    std::fs::write(dir.join("s.toml"), text).unwrap();
    std::fs::write(dir.join("gs.csv"), "name,latitude_deg,longitude_deg,elevation_m\nSanya,18.31,109.31,20\nKashgar,north,76,1300\n").unwrap();
    let e = Scenario::load(&dir.join("s.toml")).unwrap_err();
    assert!(e.file.ends_with("gs.csv"), "{e}");
    assert_eq!((e.line, e.key.as_str()), (Some(3), "latitude_deg"));
    // Plus-grid ISLs need planes.
    std::fs::write(
        dir.join("gs.csv"),
        "name,latitude_deg,longitude_deg,elevation_m\nSanya,18.31,109.31,20\n",
    )
    .unwrap();
    std::fs::write(dir.join("s.toml"), text.replace("planes = 16\n", "")).unwrap();
    assert_eq!(
        Scenario::load(&dir.join("s.toml")).unwrap_err().key,
        "network.isl"
    );
}

#[test]
fn structural_errors() {
    let e = parse("[run]\nseed = 1\n").unwrap_err();
    assert!(e.message.contains("constellation"), "{e}");
    let e = parse(&SMALL.replace(
        "[constellation.walker]",
        "[constellation]\ntle = \"x.tle\"\n[constellation.walker]",
    ))
    .unwrap_err();
    assert_eq!(e.key, "constellation.tle");
    let e = parse(&SMALL.replace(
        "compute_capacity_pflops = 5",
        "compute_capacity_pflops = 5\n[[user_regions]]\nname = \"sea\"\nlatitude_deg = 10",
    ))
    .unwrap_err();
    assert_eq!(e.key, "user_regions[0]");
    let e = parse("[constellation.walker]\nplanes = 2\nsats_per_plane = 2\naltitude_km = 550\ninclination_deg = 53\n").unwrap_err();
    assert_eq!(e.key, "ground_stations");
}

#[test]
fn the_light_variant_is_the_default_with_a_tenth_of_the_work() {
    let light = Scenario::built_in("light").unwrap().unwrap();
    let default = Scenario::built_in("default").unwrap().unwrap();
    assert_eq!(light.name, "light");
    assert_eq!(light.horizon_h, 1.0);
    assert_eq!(light.satellites.len(), default.satellites.len());
    assert_eq!(light.node, default.node);
    let eo = |s: &Scenario| s.eo.as_ref().unwrap().config.bytes_per_km2;
    assert!((eo(&light) * 10.0 - eo(&default)).abs() < 1e-6);
    let rate = |s: &Scenario| s.blind_zone.as_ref().unwrap().origins[0].1;
    assert!((rate(&light) * 10.0 - rate(&default)).abs() < 1e-12);
    let dc = |s: &Scenario| s.ground_ai.as_ref().unwrap().origins[0].1;
    assert!((dc(&light) * 10.0 - dc(&default)).abs() < 1e-12);
}

#[test]
fn every_example_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.satellites.is_empty());
            n += 1;
        }
    }
    assert!(n >= 2, "examples/ should hold the commented scenarios");
    // examples/default.toml is the built-in default, word for word.
    assert_eq!(
        std::fs::read_to_string(dir.join("default.toml")).unwrap(),
        DEFAULT_SCENARIO_TOML
    );
}

/// Terminals along a lane sit at the middles of equal parts of its great-circle length:
/// four terminals on a meridian lane from 0 to 40 deg N are at 5, 15, 25 and 35 deg N
/// (a sphere; 1e-9 deg of rounding). With `coverage = "region"` the lane is one node whose
/// circle reaches the farthest terminal (15 deg of arc on the 6,371 km sphere).
#[test]
fn terminals_are_sampled_along_their_lane() {
    let lane = |coverage: &str| {
        variant(
            "[network]",
            &format!(
                "[[user_terminals]]\nname = \"road\"\nlane_deg = [[0.0, 30.0], [40.0, 30.0]]\n\
                 count = 4\nrate_mbps = 50.0\nmin_elevation_deg = 30.0\n\
                 coverage = \"{coverage}\"\n\n[network]"
            ),
        )
    };
    let s = parse_scenario(&lane("points"), "s.toml", Path::new(".")).unwrap();
    let road: Vec<_> = s
        .network
        .user_terminals
        .iter()
        .filter(|t| t.name.starts_with("road-"))
        .collect();
    assert_eq!(road.len(), 4);
    for (t, lat) in road.iter().zip([5.0, 15.0, 25.0, 35.0]) {
        let RegionShape::Circle {
            latitude_deg,
            longitude_deg,
            radius_km,
        } = t.shape
        else {
            panic!("{t:?}");
        };
        assert!((latitude_deg - lat).abs() < 1e-9, "{t:?}");
        assert!((longitude_deg - 30.0).abs() < 1e-9, "{t:?}");
        assert_eq!(radius_km, 0.0);
        assert_eq!(t.rate_bps, Some(50e6));
        assert_eq!(t.min_elevation_deg, Some(30.0));
    }
    let s = parse_scenario(&lane("region"), "s.toml", Path::new(".")).unwrap();
    let road = s
        .network
        .user_terminals
        .iter()
        .find(|t| t.name == "road")
        .unwrap();
    let RegionShape::Circle {
        latitude_deg,
        radius_km,
        ..
    } = road.shape
    else {
        panic!("{road:?}");
    };
    assert!((latitude_deg - 20.0).abs() < 1e-9, "{road:?}");
    let expected = 15f64.to_radians() * 6_371.0;
    assert!(
        (radius_km - expected).abs() < 1e-6,
        "{radius_km} vs {expected}"
    );
}
