//! `tiandi routes` against Hypatia's Starlink-550 reference sample
//! (test_data/hypatia_starlink550/, see its README): with Hypatia's GSL rule (range only)
//! the routes reproduce Hypatia's paths, and the forwarding state `--hypatia-out` writes
//! walks, hop by hop, exactly the routes `tiandi routes` prints.

mod common;
use common::{fresh_dir, tiandi};

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use tiandi_orbit::{TleOptions, parse_tle};

/// Share of the reference's (time, pair) points whose path must be Hypatia's, node for
/// node. Not 1: Hypatia positions satellites with pyephem's own SGP4 and measures ranges
/// from pyephem observers, tiandi with the `sgp4` crate and WGS-84 station positions;
/// paths whose lengths differ by less than those position differences (metres), and
/// satellites within metres of the range limit, can go either way.
const MIN_AGREEMENT: f64 = 0.99;

/// Hypatia's Starlink-550 setup: 72 planes of 22, plus-grid ISLs, GSLs by range only
/// (`MAX_GSL_LENGTH_M` = 1,089,686 m: 25 deg elevation on a sphere at 550 km), the
/// top-100 cities, reference times t = 0 s and t = 100 s after the TLE epoch.
const N_SATS: u32 = 1_584;
const N_STATIONS: u32 = 100;
const EPOCH: &str = "2000-01-01T00:00:00Z";

fn test_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_data")
}

/// A reference point whose path differs: (time, src, dst), Hypatia's path, tiandi's.
type Mismatch<'a> = (&'a (u32, u32, u32), &'a String, Option<&'a String>);

/// The agreement share of `ours` with the reference, and the mismatches.
fn agreement<'a>(ours: &'a Paths, reference: &'a Paths) -> (f64, Vec<Mismatch<'a>>) {
    let mismatches: Vec<Mismatch<'a>> = reference
        .iter()
        .filter_map(|(key, path)| match ours.get(key) {
            Some(p) if p == path => None,
            other => Some((key, path, other)),
        })
        .collect();
    let n = reference.len();
    ((n - mismatches.len()) as f64 / n as f64, mismatches)
}

fn routes_args(extra: &[&str]) -> Vec<String> {
    let data = test_data();
    let mut args: Vec<String> = [
        "routes",
        "--tle",
        data.join("hypatia_starlink550/tles.txt").to_str().unwrap(),
        "--planes",
        "72",
        "--isl",
        "plus-grid",
        "--ground-stations",
        data.join("ground_stations_top100_cities.csv")
            .to_str()
            .unwrap(),
        "--start",
        EPOCH,
        "--duration-s",
        "200",
        "--step-ms",
        "100000",
        "--min-elevation-deg",
        "0",
        "--max-gsl-range-km",
        "1089.686",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run(dir: &Path, args: &[String]) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out: Output = tiandi(dir, &args);
    assert!(
        out.status.success(),
        "tiandi {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// (time s, src, dst) -> path as printed ("a-b-c").
type Paths = BTreeMap<(u32, u32, u32), String>;

/// `time_s,src,dst,path` rows (Hypatia) or `time_s,src,dst,delay_ms,hops,path` (tiandi).
fn parse_paths(text: &str) -> Paths {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let path_col = header
        .iter()
        .position(|&h| h == "path")
        .expect("a path column");
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let time_s = f[0].parse::<f64>().unwrap().round() as u32;
            let key = (time_s, f[1].parse().unwrap(), f[2].parse().unwrap());
            (key, f[path_col].to_string())
        })
        .collect()
}

fn reference_paths() -> Paths {
    let file =
        std::fs::File::open(test_data().join("hypatia_starlink550/paths_t0_t100.csv.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    let paths = parse_paths(&text);
    assert_eq!(
        paths.len(),
        2 * 9_900,
        "t = 0 and 100 s, every ordered pair"
    );
    paths
}

#[test]
fn routes_reproduce_hypatia_starlink550() {
    let dir = fresh_dir("hypatia", "reproduce");
    let started = Instant::now();
    let ours = parse_paths(&run(&dir, &routes_args(&[])));
    let elapsed = started.elapsed();
    let reference = reference_paths();
    let (share, mismatches) = agreement(&ours, &reference);
    let n = reference.len();
    println!(
        "Hypatia Starlink-550, range rule: {} of {n} (time, pair) paths identical ({:.2} %); \
         tiandi routes took {:.2} s",
        n - mismatches.len(),
        100.0 * share,
        elapsed.as_secs_f64()
    );
    for ((t, src, dst), theirs, ours) in mismatches.iter().take(20) {
        println!("  t = {t} s, {src} -> {dst}: Hypatia {theirs}, tiandi {ours:?}");
    }
    assert!(
        share >= MIN_AGREEMENT,
        "{:.2} % of Hypatia's paths reproduced, expected at least {:.0} %",
        100.0 * share,
        100.0 * MIN_AGREEMENT
    );
    // The range rule is what makes the difference: tiandi's own rule (25 deg above the
    // WGS-84 vertical, no range limit) admits other satellites near the edge of coverage.
    let mut args = routes_args(&[]);
    let n_rule_args = 4; // --min-elevation-deg 0 --max-gsl-range-km 1089.686
    args.truncate(args.len() - n_rule_args);
    args.extend(["--min-elevation-deg".to_string(), "25".to_string()]);
    let (elevation_share, _) = agreement(&parse_paths(&run(&dir, &args)), &reference);
    println!(
        "Hypatia Starlink-550, 25 deg elevation rule instead: {:.2} % identical",
        100.0 * elevation_share
    );
    assert!(elevation_share < share);
}

/// One fstate row's decision: next hop, my interface, next hop's interface.
type Decision = (i64, i64, i64);

/// Reads `fstate_<t_ns>.txt` into `state` (later files carry only the changed entries)
/// and returns how many rows it had.
fn apply_fstate(path: &Path, state: &mut BTreeMap<(u32, u32), Decision>) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let f: Vec<i64> = line.split(',').map(|x| x.parse().unwrap()).collect();
        assert_eq!(f.len(), 5, "{line}");
        state.insert((f[0] as u32, f[1] as u32), (f[2], f[3], f[4]));
        n += 1;
    }
    n
}

/// Hypatia's interface numbering: a satellite's ISL interfaces in `isls.txt` order, then
/// its one GSL interface; a station's only interface is 0.
fn interfaces(isls: &str) -> (BTreeMap<(u32, u32), i64>, Vec<i64>) {
    let mut ifs = BTreeMap::new();
    let mut count = vec![0i64; N_SATS as usize];
    for line in isls.lines() {
        let (a, b) = line.split_once(' ').unwrap();
        let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
        ifs.insert((a, b), count[a as usize]);
        ifs.insert((b, a), count[b as usize]);
        count[a as usize] += 1;
        count[b as usize] += 1;
    }
    (ifs, count)
}

#[test]
fn hypatia_out_forwarding_walks_the_printed_routes() {
    let dir = fresh_dir("hypatia", "out");
    let ours = parse_paths(&run(&dir, &routes_args(&["--hypatia-out", "hyp"])));
    let hyp = dir.join("hyp");
    let read = |name: &str| std::fs::read_to_string(hyp.join(name)).unwrap();

    // Static files. tles.txt: Hypatia's "planes per-plane" line, then the same element
    // sets and names as Hypatia's (zero exponents may be written "-0" where it has "+0").
    let written = read("tles.txt");
    let (counts, written) = written.split_once('\n').unwrap();
    assert_eq!(counts, "72 22");
    let tles = |text: &str| {
        parse_tle(text, "tles.txt", TleOptions { lenient: false })
            .unwrap()
            .elements
    };
    let reference =
        std::fs::read_to_string(test_data().join("hypatia_starlink550/tles.txt")).unwrap();
    assert_eq!(tles(written), tles(&reference));
    let isls = read("isls.txt");
    assert_eq!(isls.lines().count(), 2 * N_SATS as usize);
    assert_eq!(isls.lines().next(), Some("0 1"));
    assert_eq!(isls.lines().nth(1), Some("0 22"));
    let stations = read("ground_stations.txt");
    assert_eq!(stations.lines().count(), N_STATIONS as usize);
    assert!(
        stations.starts_with("0,Tokyo,35.689500,139.691710,0.000000,"),
        "{stations}"
    );
    assert_eq!(
        read("ground_stations.basic.txt").lines().count(),
        N_STATIONS as usize
    );
    assert_eq!(
        read("gsl_interfaces_info.txt").lines().count(),
        (N_SATS + N_STATIONS) as usize
    );
    assert!(read("description.txt").starts_with("max_gsl_length_m=1089686.0000000000\n"));

    let (ifs, n_isls) = interfaces(&isls);
    let state_dir = hyp.join("dynamic_state_100000ms_for_200s");
    let mut state = BTreeMap::new();
    let n_entries = (N_SATS * N_STATIONS + N_STATIONS * (N_STATIONS - 1)) as usize;
    for (time_s, t_ns) in [(0u32, 0u64), (100, 100_000_000_000)] {
        let rows = apply_fstate(&state_dir.join(format!("fstate_{t_ns}.txt")), &mut state);
        if time_s == 0 {
            assert_eq!(rows, n_entries, "the first file has every entry");
        } else {
            assert!(
                rows < n_entries,
                "later files only the changes ({rows} rows)"
            );
        }
        assert_eq!(state.len(), n_entries);
        let mut n_routes = 0;
        for src in N_SATS..N_SATS + N_STATIONS {
            for dst in N_SATS..N_SATS + N_STATIONS {
                if src == dst {
                    continue;
                }
                // Follow the forwarding state, checking the interfaces on the way.
                let mut walked = vec![src];
                let mut at = src;
                while at != dst {
                    let (next, my_if, next_if) = state[&(at, dst)];
                    if next < 0 {
                        assert_eq!((my_if, next_if), (-1, -1));
                        break;
                    }
                    let next = next as u32;
                    let expected_ifs = match (at < N_SATS, next < N_SATS) {
                        (false, true) => (0, n_isls[next as usize]),
                        (true, false) => (n_isls[at as usize], 0),
                        (true, true) => (ifs[&(at, next)], ifs[&(next, at)]),
                        (false, false) => panic!("station {at} forwards to station {next}"),
                    };
                    assert_eq!(
                        (my_if, next_if),
                        expected_ifs,
                        "{at} -> {next} toward {dst}"
                    );
                    walked.push(next);
                    at = next;
                    assert!(walked.len() <= (N_SATS + 2) as usize, "forwarding loop");
                }
                let printed = ours.get(&(time_s, src, dst));
                if at == dst {
                    let walked: Vec<String> = walked.iter().map(u32::to_string).collect();
                    assert_eq!(
                        Some(&walked.join("-")),
                        printed,
                        "t = {time_s} s, {src} -> {dst}"
                    );
                    n_routes += 1;
                } else {
                    assert_eq!(
                        printed, None,
                        "t = {time_s} s, {src} -> {dst}: walked {walked:?}"
                    );
                }
            }
        }
        assert_eq!(
            n_routes,
            ours.keys().filter(|k| k.0 == time_s).count(),
            "every printed route walked"
        );
    }
}
