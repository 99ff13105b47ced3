//! `tiandi sweep` run as the real binary in fresh directories: four shards merged give the
//! unsharded run's files byte for byte, as do the commands of the Kubernetes manifest and
//! of the Slurm script; the manifest reads back as typed Jobs with nothing dropped; bad
//! grids, shards and merges fail with a message and write nothing; the same seeds give
//! the same files.

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

/// Runs `program args` in `dir` with `env` set, like a job on a cluster.
fn job(dir: &Path, program: &str, args: &[String], env: &[(&str, String)]) -> Output {
    let program = if program == "tiandi" {
        env!("CARGO_BIN_EXE_tiandi")
    } else {
        program
    };
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[cfg(feature = "kubernetes")]
#[test]
fn kubernetes_manifest_reads_back_as_jobs_whose_commands_merge_exactly() {
    use k8s_openapi::api::batch::v1::Job;
    use serde_json::Value;

    let dir = fresh_dir("sweep_cli", "kubernetes");
    let mut args = vec!["sweep", "manifest", "--kubernetes"];
    args.extend(GRID);
    args.extend([
        "--shards",
        "4",
        "--image",
        "registry.example/tiandi:0.1",
        "--pvc",
        "results",
        "--memory",
        "2Gi",
        "--out",
        "jobs.json",
    ]);
    ok(tiandi(&dir, &args));
    let text = std::fs::read_to_string(dir.join("jobs.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "List");
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    // Typed: every field known to batch/v1 (nothing dropped on the way back out).
    let jobs: Vec<Job> = items
        .iter()
        .map(|v| {
            let job: Job = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(
                &serde_json::to_value(&job).unwrap(),
                v,
                "a field was dropped"
            );
            job
        })
        .collect();
    let spec = |j: &Job| j.spec.clone().unwrap();
    let container = |j: &Job| spec(j).template.spec.unwrap().containers[0].clone();
    let (shards, merge) = (&jobs[0], &jobs[1]);
    assert_eq!(shards.metadata.name.as_deref(), Some("tiandi-sweep"));
    assert_eq!(spec(shards).completion_mode.as_deref(), Some("Indexed"));
    assert_eq!(spec(shards).completions, Some(4));
    assert_eq!(spec(shards).parallelism, Some(4));
    assert_eq!(spec(shards).suspend, None);
    assert_eq!(merge.metadata.name.as_deref(), Some("tiandi-sweep-merge"));
    assert_eq!(spec(merge).suspend, Some(true));
    for j in &jobs {
        let pod = spec(j).template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let volumes = pod.volumes.unwrap();
        let claim = volumes[0].persistent_volume_claim.as_ref().unwrap();
        assert_eq!(claim.claim_name, "results");
        let mount = &container(j).volume_mounts.unwrap()[0];
        assert_eq!(
            (mount.name.as_str(), mount.mount_path.as_str()),
            ("data", "/data")
        );
        assert_eq!(volumes[0].name, mount.name);
        assert_eq!(
            container(j).image.as_deref(),
            Some("registry.example/tiandi:0.1")
        );
    }
    let shard_args = container(shards).args.unwrap();
    let tail: Vec<&str> = shard_args[shard_args.len() - 4..]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "--shard",
            "env/4",
            "--out",
            "/data/shard-$(JOB_COMPLETION_INDEX)"
        ]
    );
    let memory = container(shards).resources.unwrap().limits.unwrap()["memory"].clone();
    assert_eq!(memory.0, "2Gi");

    // The pods' commands, run here: /data is a directory of this test, $(JOB_COMPLETION_INDEX)
    // is what Kubernetes expands it to.
    let data = dir.join("data");
    let local = |a: &String, i: u32| {
        a.replace("/data", &data.display().to_string())
            .replace("$(JOB_COMPLETION_INDEX)", &i.to_string())
    };
    let program = container(shards).command.unwrap()[0].clone();
    for i in 0..4 {
        let args: Vec<String> = shard_args.iter().map(|a| local(a, i)).collect();
        ok(job(
            &dir,
            &program,
            &args,
            &[("JOB_COMPLETION_INDEX", i.to_string())],
        ));
    }
    let merge_args: Vec<String> = container(merge)
        .args
        .unwrap()
        .iter()
        .map(|a| local(a, 0))
        .collect();
    ok(job(&dir, &program, &merge_args, &[]));
    same_as_reference(&data.join("merged"));
}

#[test]
fn slurm_script_runs_its_shards_here_and_merges_exactly() {
    let dir = fresh_dir("sweep_cli", "slurm");
    let mut args = vec!["sweep", "manifest", "--slurm"];
    args.extend(GRID);
    args.extend([
        "--shards",
        "4",
        "--sbatch=--time=01:00:00",
        "--out",
        "sweep.sh",
    ]);
    ok(tiandi(&dir, &args));
    let script = std::fs::read_to_string(dir.join("sweep.sh")).unwrap();
    assert!(script.contains("\n#SBATCH --array=0-3\n"), "{script}");
    assert!(script.contains("\n#SBATCH --time=01:00:00\n"), "{script}");
    let bash = |args: &[&str], env: &[(&str, String)]| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let bin = env!("CARGO_BIN_EXE_tiandi").to_string();
        let mut env = env.to_vec();
        env.push(("TIANDI", bin));
        job(&dir, "bash", &args, &env)
    };
    ok(bash(&["-n", "sweep.sh"], &[]));
    // Without an index or a mode it says what to do.
    let e = fails(bash(&["sweep.sh"], &[]));
    assert!(e.contains("SLURM_ARRAY_TASK_ID"), "{e}");
    for i in 0..4 {
        ok(bash(
            &["sweep.sh"],
            &[("SLURM_ARRAY_TASK_ID", i.to_string())],
        ));
    }
    ok(bash(&["sweep.sh", "merge"], &[]));
    same_as_reference(&dir.join("tiandi-sweep/merged"));

    // `submit` with a stand-in sbatch that records its arguments: the array, then the
    // merge after it.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("sbatch");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"$@\" >> \"$SBATCH_LOG\"\necho '4242;cluster'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let log = dir.join("sbatch.log");
    let out = ok(bash(
        &["sweep.sh", "submit"],
        &[("PATH", path), ("SBATCH_LOG", log.display().to_string())],
    ));
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].starts_with("--parsable /") && calls[0].ends_with("/sweep.sh"));
    assert!(
        calls[1].contains("--dependency=afterok:4242 --time=01:00:00 --wrap=bash /"),
        "{}",
        calls[1]
    );
    assert!(calls[1].ends_with("/sweep.sh merge"), "{}", calls[1]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("job 4242"));
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

#[test]
fn manifests_refuse_bad_flags_and_write_nothing() {
    let dir = fresh_dir("sweep_cli", "manifest_bad");
    let bad = |extra: &[&str], expected: &str| {
        let mut args = vec!["sweep", "manifest"];
        args.extend(GRID);
        args.extend(extra);
        args.extend(["--out", "jobs.json"]);
        let e = fails(tiandi(&dir, &args));
        assert!(e.contains(expected), "{args:?}: {e}");
        assert!(!dir.join("jobs.json").exists(), "{args:?} wrote its file");
    };
    bad(
        &["--slurm", "--shards", "7"],
        "--shards 7: the grid has only 6 runs",
    );
    bad(&["--shards", "2"], "--kubernetes");
    bad(
        &["--slurm", "--kubernetes", "--shards", "2"],
        "cannot be used with",
    );
    bad(
        &["--slurm", "--shards", "2", "--name", "My Sweep"],
        "--name \"My Sweep\"",
    );
    bad(
        &["--slurm", "--shards", "2", "--sbatch", "time=1"],
        "expected an sbatch option",
    );
    if cfg!(feature = "kubernetes") {
        bad(&["--kubernetes", "--shards", "2"], "needs --image");
        bad(
            &[
                "--kubernetes",
                "--shards",
                "2",
                "--image",
                "i",
                "--memory",
                "lots",
            ],
            "--memory \"lots\"",
        );
        bad(
            &[
                "--kubernetes",
                "--shards",
                "2",
                "--image",
                "i",
                "--data-dir",
                "data",
            ],
            "must be absolute",
        );
    }
}
