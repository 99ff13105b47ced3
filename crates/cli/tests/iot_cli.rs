//! The IoT workload of `tiandi simulate`: through the scenario file, the twin and the
//! report. Deliveries agree with a first-in-first-out replay over the contact windows of
//! `find_contacts` for a terminal at the station, an outage of the satellite moves them
//! past it, a small buffer drops and the books balance, and the summary, the table and the
//! report carry the figures, byte-identical for one seed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tiandi_network::iot::Fate;
use tiandi_orbit::find_contacts;
use tiandi_scenario::Scenario;
use tiandi_sim::iot::run_iot;

fn tiandi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiandi"))
        .args(args)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tiandi-iot-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SANYA: (f64, f64, f64) = (18.31, 109.31, 20.0);

/// One satellite at 900 km, 50 deg; one station at Sanya (10 deg mask); `iot` is the body
/// of `[workloads.iot]`; `extra` is appended.
fn scenario_text(iot: &str, extra: &str) -> String {
    format!(
        r#"
name = "iot-test"
[run]
start = "2026-11-24T00:00:00Z"
horizon_h = 24.0
step_s = 60.0
seed = 3
[constellation.walker]
kind = "delta"
planes = 1
sats_per_plane = 1
phasing = 0
altitude_km = 900.0
inclination_deg = 50.0
[satellite]
accelerator = "orin"
n_accelerators = 1
array_area_m2 = 1.0
battery_wh = 200.0
radiator_area_m2 = 0.5
heat_capacity_j_per_k = 20000.0
[[ground_stations]]
name = "Sanya"
latitude_deg = {}
longitude_deg = {}
elevation_m = {}
min_elevation_deg = 10.0
[[data_centres]]
name = "Beijing"
latitude_deg = 39.9
longitude_deg = 116.4
compute_capacity_pflops = 1.0
[network]
isl = "none"
[workloads.iot]
{iot}
{extra}
"#,
        SANYA.0, SANYA.1, SANYA.2
    )
}

/// A scenario whose one IoT terminal stands at the station.
fn at_station(dir: &Path, extra: &str) -> Scenario {
    std::fs::write(
        dir.join("t.csv"),
        format!(
            "name,latitude_deg,longitude_deg,elevation_m\nbuoy,{},{},{}\n",
            SANYA.0, SANYA.1, SANYA.2
        ),
    )
    .unwrap();
    let text = scenario_text(
        "terminals_csv = \"t.csv\"\nmessages_per_terminal_h = 0.75\nmin_elevation_deg = 10.0",
        extra,
    );
    let path = dir.join("s.toml");
    std::fs::write(&path, text).unwrap();
    Scenario::load(&path).unwrap()
}

const S: i64 = 1_000_000_000;

/// A terminal at the station, one satellite: each message's delivery equals a replay of
/// the two first-in-first-out queues over `find_contacts`' windows (which bisect AOS and
/// LOS to the millisecond), within the one-second sampling of the IoT visibility.
#[test]
fn deliveries_replay_first_in_first_out_over_the_contact_windows() {
    let dir = scratch("replay");
    let s = at_station(&dir, "");
    let setup = s.setup().unwrap();
    let iot = setup.iot.as_ref().unwrap();
    assert!(iot.sent.len() >= 10, "{} messages", iot.sent.len());
    let run = run_iot(&setup, &|_| {}).unwrap().unwrap();
    let station = &setup.network.stations[0].station;
    let contacts = find_contacts(
        &setup.satellites,
        std::slice::from_ref(station),
        setup.start,
        setup.end,
        10.0,
        &|| {},
    )
    .unwrap();
    assert!(contacts.len() >= 3, "{} passes", contacts.len());
    let t0 = setup.start.unix_ns();
    let windows: Vec<(i64, i64)> = contacts
        .iter()
        .map(|c| (c.aos.unix_ns() - t0, c.los.unix_ns() - t0))
        .collect();
    let (up, down) = (iot.config.uplink_ns(), iot.config.downlink_ns());
    // 100 bytes at 2.4 kbit/s and at 1 Mbit/s.
    assert_eq!((up, down), (333_333_334, 800_000));
    let (mut terminal_free, mut sat_free) = (0i64, 0i64);
    let mut waited = 0;
    for (&(_, sent), fate) in iot.sent.iter().zip(&run.outcome.fates) {
        let t = sent.max(terminal_free);
        let Some(&(aos, _)) = windows
            .iter()
            .find(|&&(aos, los)| t.max(aos) + up + down <= los)
        else {
            assert!(
                matches!(fate, Fate::OnTerminal),
                "sent at {} s after the last pass: {fate:?}",
                sent / S
            );
            continue;
        };
        let aboard = t.max(aos) + up;
        let at = aboard.max(sat_free) + down;
        terminal_free = aboard;
        sat_free = at;
        waited += usize::from(aos > sent);
        let Fate::Delivered { at_ns, .. } = *fate else {
            panic!("sent at {} s: {fate:?}, expected delivery", sent / S);
        };
        // The sampled window opens at the first whole second at or after AOS.
        assert!(
            (0..=S).contains(&(at_ns - at)),
            "sent at {} s: delivered at {at_ns} ns, replay {at} ns",
            sent / S
        );
    }
    assert!(waited >= 3, "only {waited} messages waited for a pass");
    assert_eq!(run.outcome.delivered + run.outcome.on_terminal, run.sent);
}

/// An outage of the only satellite over a pass: nothing is delivered during it, the
/// messages that pass would have carried arrive later, and the cut is reported.
#[test]
fn an_outage_of_the_satellite_delays_its_messages_past_the_outage() {
    let dir = scratch("outage");
    let base = at_station(&dir, "");
    let setup = base.setup().unwrap();
    let clear = run_iot(&setup, &|_| {}).unwrap().unwrap();
    let contacts = find_contacts(
        &setup.satellites,
        std::slice::from_ref(&setup.network.stations[0].station),
        setup.start,
        setup.end,
        10.0,
        &|| {},
    )
    .unwrap();
    let t0 = setup.start.unix_ns();
    let delivered_at = |run: &tiandi_sim::iot::IotRun| -> Vec<Option<i64>> {
        run.outcome
            .fates
            .iter()
            .map(|f| match f {
                Fate::Delivered { at_ns, .. } => Some(*at_ns),
                _ => None,
            })
            .collect()
    };
    let before = delivered_at(&clear);
    // The first pass that delivers a message.
    let c = contacts
        .iter()
        .find(|c| {
            let (a, l) = (c.aos.unix_ns() - t0, c.los.unix_ns() - t0);
            before.iter().flatten().any(|&d| d >= a && d <= l + S)
        })
        .expect("some pass delivers");
    let from_h = (c.aos.unix_ns() - t0 - 60 * S) as f64 / 3.6e12;
    let to_h = (c.los.unix_ns() - t0 + 60 * S) as f64 / 3.6e12;
    let dir2 = scratch("outage2");
    let cut = at_station(
        &dir2,
        &format!("[[faults.outages]]\nsatellite = 0\nfrom_h = {from_h}\nto_h = {to_h}\n"),
    );
    let setup2 = cut.setup().unwrap();
    assert_eq!(
        setup2.iot.as_ref().unwrap().sent,
        setup.iot.as_ref().unwrap().sent
    );
    let hit = run_iot(&setup2, &|_| {}).unwrap().unwrap();
    let after = delivered_at(&hit);
    let (from, to) = ((from_h * 3.6e12) as i64, (to_h * 3.6e12) as i64);
    assert!(hit.outage_cut_s > 0.0);
    // Nor does the satellite hear a terminal during it.
    for f in &hit.outcome.fates {
        if let Fate::Delivered { aboard_ns: t, .. }
        | Fate::Stored { aboard_ns: t, .. }
        | Fate::Dropped { at_ns: t, .. } = *f
        {
            assert!(
                !(from..to).contains(&t),
                "taken aboard at {t} ns inside the outage"
            );
        }
    }
    let mut moved = 0;
    for (b, a) in before.iter().zip(&after) {
        if let Some(a) = a {
            assert!(
                !(from..to).contains(a),
                "delivered at {a} ns inside the outage"
            );
        }
        match (b, a) {
            (Some(b), Some(a)) if (from..to).contains(b) => {
                assert!(a >= &to, "moved to {a}, outage ends {to}");
                moved += 1;
            }
            (Some(b), None) => assert!((from..to).contains(b)),
            (Some(b), Some(a)) => assert!(a >= b),
            _ => {}
        }
    }
    assert!(moved + (clear.outcome.delivered - hit.outcome.delivered) as usize > 0);
}

/// Terminals far from the station fill a three-message buffer: drops are counted per
/// satellite and in total, no buffer exceeds its size, and every message is in one place.
#[test]
fn a_small_buffer_drops_and_the_books_balance() {
    let dir = scratch("buffer");
    let text = scenario_text(
        "terminals = 300\nmessages_per_terminal_h = 2.0\nbuffer_messages = 3\n[[workloads.iot.areas]]\nname = \"Pacific\"\nlat_min_deg = 0.0\nlat_max_deg = 20.0\nlon_min_deg = 150.0\nlon_max_deg = 170.0",
        "",
    );
    let path = dir.join("s.toml");
    std::fs::write(&path, text).unwrap();
    let setup = Scenario::load(&path).unwrap().setup().unwrap();
    let run = run_iot(&setup, &|_| {}).unwrap().unwrap();
    let o = &run.outcome;
    assert!(o.dropped > 0, "{o:?}");
    assert!(o.delivered > 0);
    assert_eq!(o.on_terminal + o.delivered + o.stored + o.dropped, run.sent);
    assert_eq!(o.buffers.iter().map(|b| b.dropped).sum::<u64>(), o.dropped);
    assert!(o.buffers.iter().all(|b| b.peak <= 3));
    // The occupancy series never exceeds one satellite's buffer either.
    assert!(run.occupancy.iter().all(|&n| n <= 3), "{:?}", run.occupancy);
    assert!(run.occupancy.iter().any(|&n| n > 0));
}

#[test]
fn simulate_writes_the_iot_figures_the_table_and_the_report_section() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/iot-tianqi.toml");
    let example = example.to_str().unwrap();
    let dir = scratch("cli");
    let run = |out: &str, seed: &str| {
        let o = tiandi(&[
            "simulate",
            example,
            "--horizon-h",
            "3",
            "--seed",
            seed,
            "--out",
            dir.join(out).to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let table = run("a", "1");
    assert!(
        table.contains("IoT (the same under every policy): 25000 terminals"),
        "{table}"
    );
    run("b", "1");
    run("c", "2");
    let read = |d: &str, f: &str| std::fs::read_to_string(dir.join(d).join(f)).unwrap();
    assert_eq!(read("a", "summary.json"), read("b", "summary.json"));
    assert_ne!(read("a", "summary.json"), read("c", "summary.json"));
    let v: serde_json::Value = serde_json::from_str(&read("a", "summary.json")).unwrap();
    let iot = &v["iot"];
    let n = |k: &str| iot[k].as_u64().unwrap_or_else(|| panic!("iot.{k}: {iot}"));
    assert_eq!(n("terminals"), 25_000);
    assert_eq!(
        n("on_terminal") + n("delivered") + n("stored") + n("dropped"),
        n("messages_sent")
    );
    // About 25,000 x 3 messages, a Poisson count: within 2 % (over 10 sigma).
    assert!((n("messages_sent") as f64 / 75_000.0 - 1.0).abs() < 0.02);
    assert_eq!(iot["latency_percentiles_s"].as_array().unwrap().len(), 101);
    assert_eq!(iot["satellites"].as_array().unwrap().len(), 41);
    // 3 h at 60 s: the start and 180 steps.
    assert_eq!(iot["occupancy_messages"].as_array().unwrap().len(), 181);
    let html = read("a", "report.html");
    for needle in [
        "id=\"iot\"",
        "IoT message latency CDF",
        "IoT messages on board",
        "The 10 fullest buffers",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle}");
    }
    // `tiandi report` rebuilds the same page from the directory.
    let again = tiandi(&["report", dir.join("a").to_str().unwrap()]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(read("a", "report.html"), html);
}

#[test]
fn bad_iot_keys_name_the_key() {
    let dir = scratch("bad");
    let area = "[[workloads.iot.areas]]\nname = \"A\"\nlat_min_deg = 0.0\nlat_max_deg = 10.0\nlon_min_deg = 100.0\nlon_max_deg = 110.0";
    for (body, key, words) in [
        ("terminals = 10", "workloads.iot.terminals", "there is none"),
        (area, "workloads.iot.terminals", "is needed"),
        ("", "workloads.iot", "no terminals"),
        (
            &format!("terminals = 10\nmessage_bytes = 0\n{area}"),
            "workloads.iot.message_bytes",
            "1 to 1000000",
        ),
        (
            &format!("terminals = 10\nuplink_bps = -1\n{area}"),
            "workloads.iot.uplink_bps",
            "",
        ),
        (
            &format!("terminals = 10\nmin_elevation_deg = 95\n{area}"),
            "workloads.iot.min_elevation_deg",
            "",
        ),
        (
            &format!("terminals = 2000000\n{area}"),
            "workloads.iot.terminals",
            "at most",
        ),
        (
            &format!("terminals = 10\nrate = 3\n{area}"),
            "rate",
            "unknown field",
        ),
        (
            "terminals_csv = \"missing.csv\"",
            "workloads.iot.terminals_csv",
            "",
        ),
    ] {
        let path = dir.join("s.toml");
        std::fs::write(&path, scenario_text(body, "")).unwrap();
        let e = Scenario::load(&path).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains(words), "{body:?}: {e}");
        let o = tiandi(&["scenario", "check", path.to_str().unwrap()]);
        assert!(!o.status.success());
    }
}

/// With laser links, a satellite downlinks through its ISL group: on the example (41
/// satellites, nearest-k ISLs, 6 h, stations at a 45 deg mask) messages arrive sooner than without ISLs, the relayed
/// time is reported, and every delivery's downlink still falls inside a window in which
/// some satellite sees a station (the one-second visibility of the same stations).
#[test]
fn isl_neighbours_carry_messages_to_a_satellite_that_sees_a_station() {
    use tiandi_network::iot::{SampledOrbits, visibility_windows};
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/iot-tianqi.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    let load = |isl: &str| {
        let t = Scenario::apply_settings(
            &text,
            "iot-tianqi.toml",
            &[
                ("network.isl".into(), isl.into()),
                ("run.horizon_h".into(), "6".into()),
                ("workloads.iot.terminals".into(), "3000".into()),
                // High station masks leave gaps with no satellite over any station.
                ("ground_stations.min_elevation_deg".into(), "45".into()),
            ],
        )
        .unwrap();
        tiandi_scenario::parse_scenario(&t, "iot-tianqi.toml", example.parent().unwrap())
            .unwrap()
            .setup()
            .unwrap()
    };
    let (plain, linked) = (load("none"), load("nearest-k"));
    assert_eq!(
        plain.iot.as_ref().unwrap().sent,
        linked.iot.as_ref().unwrap().sent
    );
    let a = run_iot(&plain, &|_| {}).unwrap().unwrap();
    let b = run_iot(&linked, &|_| {}).unwrap().unwrap();
    assert_eq!(a.isl_relay_s, 0.0);
    assert!(b.isl_relay_s > 3_600.0, "{}", b.isl_relay_s);
    let mean = |r: &tiandi_sim::iot::IotRun| r.latency_mean_s.unwrap();
    let q95 = |r: &tiandi_sim::iot::IotRun| r.latency_quantiles_s[95];
    assert!(
        mean(&b) < 0.8 * mean(&a),
        "{} against {}",
        mean(&b),
        mean(&a)
    );
    assert!(q95(&b) < q95(&a));
    assert!(b.outcome.delivered >= a.outcome.delivered);
    let seconds = (linked.end.unix_ns() - linked.start.unix_ns()) / S;
    let orbits = SampledOrbits::new(&linked.satellites, linked.start, seconds as u32).unwrap();
    let mut any: Vec<(i64, i64)> = Vec::new();
    for st in &linked.network.stations {
        let mask = st.min_elevation_deg.unwrap();
        for w in visibility_windows(&orbits, std::slice::from_ref(&st.station), mask)
            .unwrap()
            .into_iter()
            .flatten()
        {
            any.push((w.start_ns, w.end_ns));
        }
    }
    any.sort_unstable();
    let covered: i64 = any
        .iter()
        .fold((0i64, i64::MIN), |(sum, reach), &(s, e)| {
            let s = s.max(reach);
            (sum + (e - s).max(0), reach.max(e))
        })
        .0;
    assert!(
        covered < seconds * S * 9 / 10,
        "stations always in sight: no gap to test"
    );
    let down = linked.iot.as_ref().unwrap().config.downlink_ns();
    for f in &b.outcome.fates {
        if let Fate::Delivered { at_ns, .. } = *f {
            assert!(
                any.iter().any(|&(s, e)| s <= at_ns - down && at_ns <= e),
                "delivered at {at_ns} ns with no satellite over a station"
            );
        }
    }
}
