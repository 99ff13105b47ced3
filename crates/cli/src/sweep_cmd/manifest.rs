//! `tiandi sweep manifest`: the job files that run a sweep's shards on a cluster and then
//! merge them. `--kubernetes`: a v1 List of two batch/v1 Jobs (typed with k8s-openapi,
//! written as JSON, which is YAML too): an Indexed Job whose pod I runs shard I, and a
//! merge Job created suspended, to be resumed once the first has completed. `--slurm`: a
//! bash script that is a job array of the shards, submits itself and a merge job that
//! depends on the array (`afterok`), and runs one shard here when SLURM_ARRAY_TASK_ID is
//! set.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Args};

use super::{GridArgs, MAX_SHARDS, check_grid};

/// Flags of `tiandi sweep manifest`.
#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["kubernetes", "slurm"])))]
pub struct ManifestArgs {
    /// Write Kubernetes Jobs: an Indexed Job of the shards and a suspended merge Job, as
    /// one v1 List in JSON (`kubectl apply -f` reads it; docs/sweep.md has the commands).
    #[arg(long)]
    kubernetes: bool,
    /// Write a Slurm job-array script: `bash FILE submit` submits the shards and the merge
    /// (after all shards succeed); `SLURM_ARRAY_TASK_ID=I bash FILE` runs shard I here;
    /// `bash FILE merge` merges.
    #[arg(long)]
    slurm: bool,
    #[command(flatten)]
    grid: GridArgs,
    /// Number of shards: the Job's completions, the array's tasks.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_SHARDS)))]
    shards: u32,
    /// Container image holding the `tiandi` program (--kubernetes).
    #[arg(long)]
    image: Option<String>,
    /// Write the manifest to this file rather than to stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Name of the shards' Job (Slurm job); the merge is NAME-merge.
    #[arg(long, default_value = "tiandi-sweep")]
    name: String,
    /// PersistentVolumeClaim mounted at --data-dir in every pod; the shards' pods write
    /// to it at once, so on several nodes it needs ReadWriteMany (--kubernetes).
    #[arg(long, default_value = "tiandi-sweep")]
    pvc: String,
    /// Directory of the shards (DIR/shard-I) and of the merge (DIR/merged) [default:
    /// /data, the volume's mount, for --kubernetes; tiandi-sweep, relative to the
    /// submission directory, for --slurm].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
    /// The program the jobs run (in the image; on the cluster's nodes for Slurm, where
    /// the environment variable TIANDI overrides it).
    #[arg(long, default_value = "tiandi")]
    tiandi_bin: String,
    /// Shards running at once [default: all of them].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    parallelism: Option<u32>,
    /// CPU request and limit of each shard's pod, a Kubernetes quantity (`2`, `1500m`).
    #[arg(long)]
    cpu: Option<String>,
    /// Memory request and limit of each shard's pod, a Kubernetes quantity (`4Gi`); a
    /// default-scenario run takes several hundred MB, and a shard runs as many at once
    /// as it has cores.
    #[arg(long)]
    memory: Option<String>,
    /// One more `#SBATCH` option for the shards and the merge (repeatable), e.g.
    /// `--sbatch=--time=04:00:00 --sbatch=--partition=batch` (--slurm).
    #[arg(long = "sbatch", value_name = "OPTION", allow_hyphen_values = true)]
    sbatch: Vec<String>,
}

pub fn manifest(args: ManifestArgs) -> Result<()> {
    let policies = args.grid.policies();
    let n_runs = check_grid(&policies, args.grid.seeds())?;
    if u64::from(args.shards) > n_runs {
        bail!("--shards {}: the grid has only {n_runs} runs", args.shards);
    }
    check_scenario(&args.grid)?;
    let argv = sweep_argv(&args.grid)?;
    let text = if args.kubernetes {
        kubernetes(&args, &argv)?
    } else {
        slurm(&args, &argv)?
    };
    match &args.out {
        Some(path) => {
            tiandi_report::write_atomic(path, |w| w.write_all(text.as_bytes()))
                .with_context(|| format!("cannot write {}", path.display()))?;
            let shown = path.display();
            if args.kubernetes {
                eprintln!(
                    "wrote {shown}: kubectl apply -f {shown}; kubectl wait --for=condition=complete --timeout=-1s job/{0}; kubectl patch job/{0}-merge --type=merge -p '{{\"spec\":{{\"suspend\":false}}}}'",
                    args.name
                );
            } else {
                eprintln!(
                    "wrote {shown}: bash {shown} submit (or SLURM_ARRAY_TASK_ID=I bash {shown} for shard I here, then bash {shown} merge)"
                );
            }
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Loads the scenario when it is here (a built-in or an existing file), which checks it,
/// its settings and the horizon; a file that is only on the cluster is not checked.
fn check_scenario(grid: &GridArgs) -> Result<()> {
    let here = match &grid.scenario {
        None => true,
        Some(p) => {
            p.exists()
                || p.to_str()
                    .is_some_and(|n| tiandi_scenario::built_in(n).is_some())
        }
    };
    if here {
        grid.load().map(|_| ())
    } else {
        eprintln!(
            "note: scenario {} is not here, so it is not checked: the jobs must find it",
            grid.source()
        );
        match grid.horizon_h {
            Some(h) if !(h.is_finite() && h > 0.0) => {
                bail!("--horizon-h {h}: expected a positive number of hours")
            }
            _ => Ok(()),
        }
    }
}

/// The arguments of `tiandi sweep` that give the grid, as the jobs pass them.
fn sweep_argv(grid: &GridArgs) -> Result<Vec<String>> {
    let mut argv = vec!["sweep".to_string()];
    if let Some(s) = &grid.scenario {
        let s = s
            .to_str()
            .with_context(|| format!("scenario {}: not UTF-8", s.display()))?;
        if s.starts_with('-') || s == "merge" || s == "manifest" {
            argv.push(format!("./{s}"));
        } else {
            argv.push(s.to_string());
        }
    }
    argv.push("--policies".into());
    argv.push(grid.policies().join(","));
    argv.push("--seeds".into());
    argv.push(grid.seeds().to_string());
    if let Some(h) = grid.horizon_h {
        argv.push("--horizon-h".into());
        // Display of f64 reads back to the same number.
        argv.push(h.to_string());
    }
    for (k, v) in &grid.settings {
        argv.push("--set".into());
        argv.push(format!("{k}={v}"));
    }
    Ok(argv)
}

/// A DNS-1123 label of at most `max` characters (Kubernetes names, kept for Slurm too).
fn check_name(flag: &str, name: &str, max: usize) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        bail!(
            "{flag} {name:?}: expected at most {max} lower-case letters, digits and '-', \
             starting and ending with a letter or digit"
        );
    }
    Ok(())
}

/// Rejects a value that would change the meaning of the file it is written into.
fn check_plain(flag: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.chars().any(|c| c.is_control()) {
        bail!("{flag} {value:?}: expected a non-empty value on one line");
    }
    Ok(())
}

/// The merge's arguments after the program: every shard directory, then the output.
#[cfg(feature = "kubernetes")]
fn merge_argv(data: &str, shards: u32) -> Vec<String> {
    let mut argv = vec!["sweep".to_string(), "merge".to_string()];
    argv.extend((0..shards).map(|i| format!("{data}/shard-{i}")));
    argv.push("--out".into());
    argv.push(format!("{data}/merged"));
    argv
}

#[cfg(feature = "kubernetes")]
fn kubernetes(args: &ManifestArgs, argv: &[String]) -> Result<String> {
    use std::collections::BTreeMap;

    use k8s_openapi::api::batch::v1::{Job, JobSpec};
    use k8s_openapi::api::core::v1::{
        Container, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec,
        ResourceRequirements, Volume, VolumeMount,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    // Pod names add "-<index>-<5 characters>" to the Job's name: keep them within 63.
    check_name("--name", &args.name, 45)?;
    check_name("--pvc", &args.pvc, 253)?;
    let image = args
        .image
        .as_deref()
        .context("--kubernetes needs --image IMAGE (an image holding tiandi)")?;
    check_plain("--image", image)?;
    check_plain("--tiandi-bin", &args.tiandi_bin)?;
    let data = args.data_dir.as_deref().unwrap_or("/data");
    check_plain("--data-dir", data)?;
    if !data.starts_with('/') {
        bail!("--data-dir {data:?}: the volume's mount path must be absolute");
    }
    let mut resources = BTreeMap::new();
    for (flag, key, value) in [
        ("--cpu", "cpu", &args.cpu),
        ("--memory", "memory", &args.memory),
    ] {
        if let Some(v) = value {
            check_quantity(flag, v)?;
            resources.insert(key.to_string(), Quantity(v.clone()));
        }
    }
    // Kubernetes expands $(VAR) in arguments: `$$(` keeps a literal `$(`.
    let literal = |s: &str| s.replace("$(", "$$(");
    let mut shard_args: Vec<String> = argv.iter().map(|a| literal(a)).collect();
    shard_args.extend([
        "--shard".to_string(),
        format!("env/{}", args.shards),
        "--out".to_string(),
        format!("{}/shard-$(JOB_COMPLETION_INDEX)", literal(data)),
    ]);
    let merge_args: Vec<String> = merge_argv(&literal(data), args.shards);

    let labels = |component: &str| {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), "tiandi".to_string()),
            ("app.kubernetes.io/instance".to_string(), args.name.clone()),
            (
                "app.kubernetes.io/component".to_string(),
                component.to_string(),
            ),
        ])
    };
    let job = |name: String, component: &str, args_: Vec<String>, spec: JobSpec| {
        let pod = PodSpec {
            restart_policy: Some("Never".into()),
            containers: vec![Container {
                name: "tiandi".into(),
                image: Some(image.to_string()),
                command: Some(vec![args.tiandi_bin.clone()]),
                args: Some(args_),
                volume_mounts: Some(vec![VolumeMount {
                    name: "data".into(),
                    mount_path: data.to_string(),
                    ..Default::default()
                }]),
                resources: (component == "sweep-shard" && !resources.is_empty()).then(|| {
                    ResourceRequirements {
                        requests: Some(resources.clone()),
                        limits: Some(resources.clone()),
                        ..Default::default()
                    }
                }),
                ..Default::default()
            }],
            volumes: Some(vec![Volume {
                name: "data".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: args.pvc.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        Job {
            metadata: ObjectMeta {
                name: Some(name),
                labels: Some(labels(component)),
                ..Default::default()
            },
            spec: Some(JobSpec {
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels(component)),
                        ..Default::default()
                    }),
                    spec: Some(pod),
                },
                ..spec
            }),
            ..Default::default()
        }
    };
    let n = i32::try_from(args.shards).expect("at most MAX_SHARDS shards");
    let shards = job(
        args.name.clone(),
        "sweep-shard",
        shard_args,
        JobSpec {
            completion_mode: Some("Indexed".into()),
            completions: Some(n),
            parallelism: Some(args.parallelism.map_or(n, |p| p.min(args.shards) as i32)),
            // A shard that fails is retried once; the others go on.
            backoff_limit_per_index: Some(1),
            ..Default::default()
        },
    );
    let merge = job(
        format!("{}-merge", args.name),
        "sweep-merge",
        merge_args,
        JobSpec {
            completions: Some(1),
            backoff_limit: Some(1),
            // Created with the shards, started once they are complete (docs/sweep.md).
            suspend: Some(true),
            ..Default::default()
        },
    );
    let list = KubeList {
        api_version: "v1".into(),
        kind: "List".into(),
        items: vec![shards, merge],
    };
    let mut text = serde_json::to_string_pretty(&list).context("serialising the Jobs")?;
    text.push('\n');
    Ok(text)
}

#[cfg(not(feature = "kubernetes"))]
fn kubernetes(_: &ManifestArgs, _: &[String]) -> Result<String> {
    bail!("--kubernetes: this tiandi was built without its `kubernetes` feature")
}

/// kubectl's `List` of objects (not an API type, so not in k8s-openapi).
#[cfg(feature = "kubernetes")]
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeList {
    pub api_version: String,
    pub kind: String,
    pub items: Vec<k8s_openapi::api::batch::v1::Job>,
}

/// A plausible Kubernetes quantity: a decimal number and an optional suffix (`500m`,
/// `4Gi`, `1.5`). The API server checks the rest.
#[cfg(feature = "kubernetes")]
fn check_quantity(flag: &str, v: &str) -> Result<()> {
    let digits = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &v[digits.len()..];
    const SUFFIXES: [&str; 13] = [
        "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi",
    ];
    if digits
        .parse::<f64>()
        .is_ok_and(|x| x.is_finite() && x > 0.0)
        && SUFFIXES.contains(&suffix)
    {
        Ok(())
    } else {
        bail!("{flag} {v:?}: expected a positive quantity such as 2, 1500m or 4Gi")
    }
}

/// `s` as one bash word.
fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=,+@%-".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn slurm(args: &ManifestArgs, argv: &[String]) -> Result<String> {
    check_name("--name", &args.name, 200)?;
    check_plain("--tiandi-bin", &args.tiandi_bin)?;
    let data = args.data_dir.as_deref().unwrap_or("tiandi-sweep");
    check_plain("--data-dir", data)?;
    for opt in &args.sbatch {
        check_plain("--sbatch", opt)?;
        if !opt.starts_with('-') {
            bail!("--sbatch {opt:?}: expected an sbatch option, such as --time=04:00:00");
        }
    }
    let n = args.shards;
    let words = |v: &[String]| v.iter().map(|a| sh_quote(a)).collect::<Vec<_>>().join(" ");
    let array = match args.parallelism {
        Some(p) => format!("0-{}%{p}", n - 1),
        None => format!("0-{}", n - 1),
    };
    let mut s = String::new();
    s.push_str(&format!(
        r#"#!/usr/bin/env bash
# A tiandi sweep as a Slurm job array of {n} shards and a merge, written by
# `tiandi sweep manifest --slurm` (docs/sweep.md).
#
#   bash FILE submit                  submits the shards (this file, as a job array) and
#                                     the merge, which starts once every shard succeeded
#   SLURM_ARRAY_TASK_ID=I bash FILE   runs shard I here (what array task I runs)
#   bash FILE merge                   merges the shards into $TIANDI_SWEEP_DIR/merged
#
# TIANDI is the program [{bin}]; TIANDI_SWEEP_DIR the directory of the shards and of the
# merge, relative to where the jobs are submitted from [{data}].
#SBATCH --job-name={name}
#SBATCH --array={array}
"#,
        bin = args.tiandi_bin,
        name = args.name,
    ));
    for opt in &args.sbatch {
        s.push_str(&format!("#SBATCH {opt}\n"));
    }
    s.push_str(&format!(
        r#"set -euo pipefail

tiandi=${{TIANDI:-{bin}}}
dir=${{TIANDI_SWEEP_DIR:-{data}}}

case "${{1-}}" in
submit)
    script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
    array=$(sbatch --parsable "$script")
    array=${{array%%;*}}
    merge=$(sbatch --parsable --job-name={merge_name} --dependency="afterok:$array"{opts} \
        --wrap="bash $(printf %q "$script") merge")
    echo "submitted the shards as job $array and the merge as job ${{merge%%;*}}"
    ;;
merge)
    shards=()
    for ((i = 0; i < {n}; i++)); do shards+=("$dir/shard-$i"); done
    exec "$tiandi" sweep merge "${{shards[@]}}" --out "$dir/merged"
    ;;
'')
    : "${{SLURM_ARRAY_TASK_ID:?is not set: submit with 'bash $0 submit', or set it to run one shard here}}"
    exec "$tiandi" {sweep} --shard env/{n} --out "$dir/shard-$SLURM_ARRAY_TASK_ID"
    ;;
*)
    echo "usage: bash $0 [submit | merge], or SLURM_ARRAY_TASK_ID=I bash $0" >&2
    exit 2
    ;;
esac
"#,
        bin = sh_quote(&args.tiandi_bin),
        data = sh_quote(data),
        merge_name = sh_quote(&format!("{}-merge", args.name)),
        opts = args
            .sbatch
            .iter()
            .map(|o| format!(" {}", sh_quote(o)))
            .collect::<String>(),
        sweep = words(argv),
    ));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_bash() {
        assert_eq!(sh_quote("light"), "light");
        assert_eq!(sh_quote("--set"), "--set");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote("$(rm)"), "'$(rm)'");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn names_are_dns_labels() {
        assert!(check_name("--name", "tiandi-sweep-2", 45).is_ok());
        assert!(check_name("--name", "Tiandi", 45).is_err());
        assert!(check_name("--name", "-a", 45).is_err());
        assert!(check_name("--name", &"a".repeat(46), 45).is_err());
    }
}
