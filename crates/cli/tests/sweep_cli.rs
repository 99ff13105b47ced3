//! `tiandi sweep` run as the real binary in fresh directories: four shards merged give the
//! unsharded run's files byte for byte; bad grids, shards and merges fail with a message
//! and write nothing; the same seeds give the same files.

mod common;
use common::{fresh_dir, tiandi};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The grid of every test: small enough to run in seconds (light, six minutes simulated).
const GRID: [&str; 7] = [
    "light",
    "--policies",
    "bent-pipe,onboard",
    "--seeds",
    "1..3",
    "--horizon-h",
    "0.1",
];

/// The files a sweep writes (without a shard) and a merge writes.
const FILES: [&str; 5] = [
    "runs.csv",
    "runs.parquet",
    "summaries.jsonl",
    "sweep.json",
    "stats.csv",
];

const SHARDS: u32 = 4;

fn sweep(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["sweep"];
    args.extend(GRID);
    args.extend(extra);
    tiandi(dir, &args)
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs that must fail; returns stderr.
fn fails(out: Output) -> String {
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "succeeded: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// The unsharded run, made once for all tests, and its stdout.
fn reference() -> &'static (PathBuf, String) {
    static REF: OnceLock<(PathBuf, String)> = OnceLock::new();
    REF.get_or_init(|| {
        let dir = fresh_dir("sweep_cli", "reference");
        let out = ok(sweep(&dir, &["--out", "single"]));
        (dir.join("single"), String::from_utf8(out.stdout).unwrap())
    })
}

/// The four shards' directories, made once (shard 2 from JOB_COMPLETION_INDEX).
fn shards() -> &'static Vec<PathBuf> {
    static SHARD_DIRS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    SHARD_DIRS.get_or_init(|| {
        let dir = fresh_dir("sweep_cli", "shards");
        (0..SHARDS)
            .map(|i| {
                let out = format!("shard-{i}");
                if i == 2 {
                    let mut args = vec!["sweep"];
                    args.extend(GRID);
                    args.extend(["--shard", "env/4", "--out", &out]);
                    ok(Command::new(env!("CARGO_BIN_EXE_tiandi"))
                        .current_dir(&dir)
                        .args(&args)
                        .env("JOB_COMPLETION_INDEX", "2")
                        .env_remove("SLURM_ARRAY_TASK_ID")
                        .output()
                        .unwrap());
                } else {
                    let shard = format!("{i}/{SHARDS}");
                    ok(sweep(&dir, &["--shard", &shard, "--out", &out]));
                }
                dir.join(out)
            })
            .collect()
    })
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file of `dir` equals the reference's, byte for byte.
fn same_as_reference(dir: &Path) {
    let (single, _) = reference();
    for f in FILES {
        assert!(
            read(&single.join(f)) == read(&dir.join(f)),
            "{f} of {} differs from the unsharded run's",
            dir.display()
        );
    }
}

#[test]
fn sharding_is_exact() {
    let (single, stdout) = reference();
    let csv = String::from_utf8(read(&single.join("runs.csv"))).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("scenario_hash,policy,seed,tasks_total,completed,"),
        "{header}"
    );
    assert!(header.contains(",energy.compute_wh,"), "{header}");
    assert!(
        header.contains(",earth-observation.deadline_met_ratio,"),
        "{header}"
    );
    assert!(!header.contains("tiandi_version"), "{header}");
    let rows: Vec<&str> = lines.collect();
    let keys: Vec<String> = rows
        .iter()
        .map(|r| r.split(',').skip(1).take(2).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        keys,
        [
            "bent-pipe,1",
            "onboard,1",
            "bent-pipe,2",
            "onboard,2",
            "bent-pipe,3",
            "onboard,3"
        ]
    );
    assert!(stdout.contains("deadline_met_ratio"), "{stdout}");
    assert!(stdout.contains("paired diff to bent-pipe"), "{stdout}");
    let stats = String::from_utf8(read(&single.join("stats.csv"))).unwrap();
    assert!(stats.starts_with(
        "policy,metric,n,mean,ci95_low,ci95_high,diff_mean,diff_ci95_low,diff_ci95_high\n\
         bent-pipe,tasks_total,3,"
    ));

    let shards = shards();
    for (i, s) in shards.iter().enumerate() {
        assert!(
            !s.join("stats.csv").exists(),
            "a shard writes no statistics"
        );
        let sweep_json = String::from_utf8(read(&s.join("sweep.json"))).unwrap();
        assert!(
            sweep_json.contains(&format!("\"index\": {i}")),
            "{sweep_json}"
        );
    }
    let dir = fresh_dir("sweep_cli", "sharding_is_exact");
    // In any order.
    let mut args = vec!["sweep".to_string(), "merge".to_string()];
    args.extend(
        [3, 0, 2, 1]
            .iter()
            .map(|&i| shards[i].display().to_string()),
    );
    args.extend(["--out".to_string(), "merged".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ok(tiandi(&dir, &args));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), *stdout);
    same_as_reference(&dir.join("merged"));
}

#[test]
fn same_seeds_give_the_same_files() {
    let (single, _) = reference();
    let dir = fresh_dir("sweep_cli", "determinism");
    ok(sweep(&dir, &["--out", "again", "--jobs", "1"]));
    same_as_reference(&dir.join("again"));
    assert!(single.join("runs.parquet").exists());
}

/// Copies the shards into `dir` (to tamper with), returning the copies.
fn copy_shards(dir: &Path) -> Vec<PathBuf> {
    shards()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let to = dir.join(format!("s{i}"));
            std::fs::create_dir_all(&to).unwrap();
            for f in std::fs::read_dir(s).unwrap() {
                let f = f.unwrap().path();
                std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
            }
            to
        })
        .collect()
}

fn merge(dir: &Path, dirs: &[&PathBuf]) -> Output {
    let mut args = vec!["sweep".to_string(), "merge".to_string()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    args.extend(["--out".to_string(), "merged".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tiandi(dir, &args)
}

#[test]
fn bad_grids_shards_and_merges_fail_clearly_and_write_nothing() {
    let dir = fresh_dir("sweep_cli", "bad");
    let bad_run = |extra: &[&str], grid: &[&str], expected: &str| {
        let mut args = vec!["sweep"];
        args.extend(grid);
        args.extend(extra);
        args.extend(["--out", "out"]);
        let e = fails(
            Command::new(env!("CARGO_BIN_EXE_tiandi"))
                .current_dir(&dir)
                .args(&args)
                .env_remove("JOB_COMPLETION_INDEX")
                .env_remove("SLURM_ARRAY_TASK_ID")
                .output()
                .unwrap(),
        );
        assert!(e.contains(expected), "{args:?}: {e}");
        assert!(!dir.join("out").exists(), "{args:?} wrote out/");
    };
    let grid = |seeds: &'static str| -> Vec<&'static str> {
        vec![
            "light",
            "--policies",
            "bent-pipe",
            "--seeds",
            seeds,
            "--horizon-h",
            "0.1",
        ]
    };
    bad_run(&[], &grid("5..3"), "the last seed 3 is before the first 5");
    bad_run(&[], &grid("1..x"), "\"x\" is not a seed");
    bad_run(
        &[],
        &grid("0..18446744073709551615"),
        "more than 1000000 runs",
    );
    bad_run(
        &["--shard", "4/4"],
        &grid("1..2"),
        "index 4 is not below the count 4",
    );
    bad_run(
        &["--shard", "1/0"],
        &grid("1..2"),
        "expected a count from 1",
    );
    bad_run(&["--shard", "2"], &grid("1..2"), "expected I/N");
    bad_run(
        &["--shard", "env/4"],
        &grid("1..2"),
        "neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set",
    );
    bad_run(
        &[],
        &["light", "--policies", "bent-pipe,teleport", "--seeds", "1"],
        "unknown policy \"teleport\"",
    );
    bad_run(
        &[],
        &["light", "--policies", "onboard,onboard", "--seeds", "1"],
        "listed twice",
    );
    bad_run(
        &[],
        &[
            "light",
            "--policies",
            "onboard",
            "--seeds",
            "1",
            "--horizon-h",
            "-1",
        ],
        "--horizon-h",
    );

    let s = copy_shards(&dir);
    let bad_merge = |dirs: &[&PathBuf], expected: &str| {
        let e = fails(merge(&dir, dirs));
        assert!(e.contains(expected), "{e}");
        assert!(!dir.join("merged").exists(), "a failed merge wrote merged/");
        e
    };
    let e = bad_merge(&[&s[0], &s[1], &s[3]], "shard 2/4 of the grid");
    assert!(e.contains("is missing"), "{e}");
    let e = bad_merge(&[&s[0], &s[1], &s[2], &s[3], &s[1]], "shard 1/4 again");
    assert!(e.contains(&s[1].display().to_string()), "{e}");
    bad_merge(
        &[&s[0], &dir.join("nowhere"), &s[2], &s[3]],
        "nowhere: not the output of a sweep",
    );

    // A shard of another grid: other seeds.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    for f in std::fs::read_dir(&s[3]).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, other.join(f.file_name().unwrap())).unwrap();
    }
    let json = std::fs::read_to_string(other.join("sweep.json")).unwrap();
    std::fs::write(
        other.join("sweep.json"),
        json.replace("\"last\": 3", "\"last\": 4")
            .replace("\"n_runs\": 6", "\"n_runs\": 8"),
    )
    .unwrap();
    let e = bad_merge(&[&s[0], &s[1], &s[2], &other], "a shard of another grid");
    assert!(
        e.contains("other") && e.contains("seeds \"1..4\", not \"1..3\""),
        "{e}"
    );

    // A run lost from a shard.
    let lines = std::fs::read_to_string(s[1].join("summaries.jsonl")).unwrap();
    let first = lines.lines().next().unwrap();
    std::fs::write(s[1].join("summaries.jsonl"), format!("{first}\n")).unwrap();
    let e = bad_merge(
        &[&s[0], &s[1], &s[2], &s[3]],
        "1 of the shard's 2 runs missing",
    );
    assert!(e.contains("s1/summaries.jsonl"), "{e}");
    // The same run twice.
    std::fs::write(s[1].join("summaries.jsonl"), format!("{first}\n{first}\n")).unwrap();
    bad_merge(
        &[&s[0], &s[1], &s[2], &s[3]],
        "s1/summaries.jsonl: line 2: the run of onboard, seed 1 comes twice",
    );
    // A run of another shard.
    let of_shard_0 = std::fs::read_to_string(s[0].join("summaries.jsonl")).unwrap();
    std::fs::write(s[1].join("summaries.jsonl"), of_shard_0).unwrap();
    bad_merge(
        &[&s[0], &s[1], &s[2], &s[3]],
        "belongs to shard 0/4, not 1/4",
    );
}
