//! `tiandi simulate` and `tiandi scenario`: run a scenario under one or several policies,
//! write the outputs, print a side-by-side summary; show and check scenario files.
//!
//! The scenario crate reads and validates the file and generates the workload, the sim
//! crate runs it, the report crate writes the files; this module is glue, progress and
//! the table.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use tiandi_report::{PolicyRun, RunMeta};
use tiandi_scenario::{BUILT_IN, Scenario};
use tiandi_sim::model::{RunResult, SimSetup};
use tiandi_workload::TaskKind;

/// Flags of `tiandi simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    /// Scenario file (TOML, see docs/scenario.md) or the name of a built-in scenario
    /// (`light`: the default with a tenth of its work, for a quick look); without one, the
    /// built-in default scenario (`tiandi scenario show default`).
    scenario: Option<PathBuf>,
    /// Policy to run, overriding the scenario's `run.policy`: bent-pipe, onboard, nearest
    /// or unified.
    #[arg(long, conflicts_with = "compare")]
    policy: Option<String>,
    /// Run several policies on the same workload, e.g. `bent-pipe,onboard,unified`: one
    /// summary.json with all of them, each policy's other files in OUT/<policy>/.
    #[arg(long, value_delimiter = ',', value_name = "A,B,...")]
    compare: Option<Vec<String>>,
    /// Output directory.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Root seed, overriding the scenario's `run.seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Simulated hours, overriding the scenario's `run.horizon_h`.
    #[arg(long, allow_negative_numbers = true)]
    horizon_h: Option<f64>,
    /// Change one key of the scenario, e.g. `--set physics.energy_metering=false` or
    /// `--set workloads.earth_observation.efficiency=1` (repeatable; keys as in
    /// docs/scenario.md).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
    settings: Vec<(String, String)>,
}

pub(crate) fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected KEY=VALUE, found {s:?}")),
    }
}

/// `tiandi scenario ...`.
#[derive(Subcommand)]
pub enum ScenarioCommand {
    /// Print a built-in scenario as TOML (`default`, `light`), a starting point for your
    /// own.
    Show {
        /// Name of the built-in scenario.
        name: String,
    },
    /// Read and validate a scenario file and generate its workload, without running it.
    Check {
        /// Scenario file (TOML).
        file: PathBuf,
    },
}

/// A scenario file, or a built-in scenario by name (`light`) when no such file exists,
/// with `settings` applied. Also returns the text that was parsed when settings changed it
/// (the run writes it beside its outputs), and whether the scenario is a built-in one.
pub(crate) fn load_with(
    path: Option<&PathBuf>,
    settings: &[(String, String)],
) -> Result<(Scenario, Option<String>, bool)> {
    let built_in = |name: &str| {
        tiandi_scenario::built_in(name)
            .map(|t| (t.to_string(), name.to_string(), PathBuf::from(".")))
    };
    let (text, shown, base, is_built_in) = match path {
        Some(p) => match (!p.exists())
            .then(|| p.to_str().and_then(built_in))
            .flatten()
        {
            Some((t, n, b)) => (t, n, b, true),
            None => {
                if settings.is_empty() {
                    return Ok((Scenario::load(p)?, None, false));
                }
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read the scenario {}", p.display()))?;
                let base = p.parent().map_or(PathBuf::from("."), PathBuf::from);
                (text, p.display().to_string(), base, false)
            }
        },
        None => {
            let (t, n, b) = built_in("default").expect("the default scenario is built in");
            (t, n, b, true)
        }
    };
    if settings.is_empty() {
        return Ok((
            tiandi_scenario::parse_scenario(&text, &shown, &base)?,
            None,
            is_built_in,
        ));
    }
    let text = Scenario::apply_settings(&text, &shown, settings)?;
    // Lines in messages are of the text with the settings applied, not of the file.
    let shown = format!("{shown} with --set");
    let scenario = tiandi_scenario::parse_scenario(&text, &shown, &base)?;
    Ok((scenario, Some(text), false))
}

fn load(path: Option<&PathBuf>) -> Result<Scenario> {
    Ok(load_with(path, &[])?.0)
}

pub fn scenario(cmd: ScenarioCommand) -> Result<()> {
    match cmd {
        ScenarioCommand::Show { name } => match tiandi_scenario::built_in(&name) {
            Some(text) => {
                use std::io::Write;
                std::io::stdout().write_all(text.as_bytes())?;
                Ok(())
            }
            None => bail!(
                "no built-in scenario {name:?}: expected one of {}",
                BUILT_IN.join(", ")
            ),
        },
        ScenarioCommand::Check { file } => {
            let s = load(Some(&file))?;
            let setup = s.setup()?;
            let count = |k: TaskKind| setup.tasks.iter().filter(|t| t.kind == k).count();
            println!(
                "{}: ok: {} satellites, {} ground stations, {} data centres, {} user regions; {} tasks over {} h ({})",
                file.display(),
                setup.satellites.len(),
                setup.network.stations.len(),
                setup.network.data_centres.len(),
                setup.network.user_terminals.len(),
                setup.tasks.len(),
                s.horizon_h,
                TaskKind::ALL
                    .iter()
                    .map(|&k| format!("{} {}", k.as_str(), count(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Some(iot) = &setup.iot {
                println!(
                    "  IoT: {} terminals, {} messages of {} bytes",
                    iot.terminals.len(),
                    iot.sent.len(),
                    iot.config.message_bytes
                );
            }
            Ok(())
        }
    }
}

pub fn simulate(args: SimulateArgs) -> Result<()> {
    // Before the run, not after it: an output path that cannot be a directory.
    if args.out.exists() && !args.out.is_dir() {
        bail!(
            "--out {}: exists and is not a directory",
            args.out.display()
        );
    }
    let (mut scenario, set_text, is_built_in) = load_with(args.scenario.as_ref(), &args.settings)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(h) = args.horizon_h {
        scenario.set_horizon_h(h).context("--horizon-h")?;
    }
    let policies: Vec<String> = match (&args.compare, &args.policy) {
        (Some(list), _) => list.iter().map(|p| p.trim().to_string()).collect(),
        (None, Some(p)) => vec![p.clone()],
        (None, None) => vec![scenario.policy.clone()],
    };
    let flag = if args.compare.is_some() {
        "--compare"
    } else {
        "--policy"
    };
    for (i, p) in policies.iter().enumerate() {
        tiandi_scenario::check_policy(p).context(flag)?;
        if policies[..i].contains(p) {
            bail!("{flag}: policy {p:?} is listed twice");
        }
    }

    let t0 = Instant::now();
    let setup = scenario.setup()?;
    eprintln!(
        "scenario {} ({}): {} satellites, {} tasks, {} h from {}, seed {} (workload generated in {:.1} s)",
        scenario.name,
        scenario.source,
        setup.satellites.len(),
        setup.tasks.len(),
        scenario.horizon_h,
        setup.start,
        setup.seed,
        t0.elapsed().as_secs_f64()
    );
    let mut results = Vec::new();
    for name in &policies {
        results.push(run_policy(&setup, name)?);
    }
    let iot = run_iot(&setup)?;

    let scenario_source = match &args.scenario {
        // Absolute, so `tiandi report DIR` finds it from any directory.
        Some(path) if !is_built_in && set_text.is_none() => std::fs::canonicalize(path)
            .map_or_else(|_| scenario.source.clone(), |p| p.display().to_string()),
        // Changed by --set: the text run is written as DIR/scenario.toml.
        _ if set_text.is_some() => "scenario.toml".into(),
        _ => "built-in".into(),
    };
    let meta = run_meta(&scenario, &setup, scenario_source);
    let runs: Vec<PolicyRun<'_>> = policies
        .iter()
        .zip(&results)
        .map(|(p, r)| PolicyRun {
            policy: p,
            result: r,
        })
        .collect();
    let mut written = tiandi_report::write_outputs_with(&args.out, &meta, &runs, iot.as_ref())?;
    if let Some(text) = &set_text {
        // The scenario as run, with its --set values: what `tiandi report` reads.
        let path = args.out.join("scenario.toml");
        let mut file = format!(
            "# The scenario of this run: {} with{}\n",
            args.scenario
                .as_ref()
                .map_or("default".into(), |p| p.display().to_string()),
            args.settings
                .iter()
                .map(|(k, v)| format!(" --set {k}={v}"))
                .collect::<String>()
        );
        file.push_str(text);
        std::fs::write(&path, file).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    } else {
        // A copy an earlier --set run left here would describe another scenario.
        let stale = args.out.join("scenario.toml");
        if std::fs::read_to_string(&stale)
            .is_ok_and(|t| t.starts_with("# The scenario of this run:"))
        {
            std::fs::remove_file(&stale)
                .with_context(|| format!("cannot remove {}", stale.display()))?;
        }
    }
    written.push(tiandi_html::write_report(
        &args.out,
        &tiandi_html::ReportOptions::default(),
    )?);
    print!("{}", table(&meta, &runs));
    if let Some(f) = &iot {
        print!("{}", iot_table(f));
    }
    eprintln!("wrote {} files under {}", written.len(), args.out.display());
    Ok(())
}

/// What identifies a run of `scenario` on `setup` (its workload for one seed).
pub(crate) fn run_meta(scenario: &Scenario, setup: &SimSetup, scenario_source: String) -> RunMeta {
    RunMeta {
        tiandi_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: scenario.name.clone(),
        scenario_source,
        scenario_hash: scenario.hash,
        seed: setup.seed,
        start: setup.start,
        end: setup.end,
        step_ns: setup.step_ns,
        n_satellites: setup.satellites.len() as u32,
        n_ground_stations: setup.network.stations.len() as u32,
        n_data_centres: setup.network.data_centres.len() as u32,
        n_user_regions: setup.network.user_terminals.len() as u32,
    }
}

/// The IoT workload, once for all policies (it does not depend on placement).
pub(crate) fn run_iot(setup: &SimSetup) -> Result<Option<tiandi_report::iot::IotFigures>> {
    let Some(iot) = &setup.iot else {
        return Ok(None);
    };
    let t0 = Instant::now();
    // Four stages: propagation, terminal and station visibility, store and forward.
    let bar = crate::progress::bar(4, "IoT");
    let run = tiandi_sim::iot::run_iot(setup, &|stage| {
        bar.inc(1);
        bar.set_message(stage.to_string());
    })
    .context("IoT store and forward")?
    .expect("the setup has an IoT workload");
    bar.finish_and_clear();
    eprintln!(
        "IoT: {} messages of {} terminals in {:.1} s",
        run.sent,
        run.terminals,
        t0.elapsed().as_secs_f64()
    );
    Ok(Some(tiandi_report::iot::IotFigures::of(
        &run,
        iot.config.message_bytes,
        iot.config.buffer_messages,
    )))
}

/// The IoT lines under the policies' table.
fn iot_table(f: &tiandi_report::iot::IotFigures) -> String {
    let opt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.1}", v / 60.0));
    let share = |n: u64| {
        if f.messages_sent == 0 {
            "-".into()
        } else {
            pct(n as f64 / f.messages_sent as f64)
        }
    };
    let mut out = format!(
        "IoT (the same under every policy): {} terminals, {} messages of {} bytes\n",
        f.terminals, f.messages_sent, f.message_bytes
    );
    for (label, v) in [
        (
            "  delivered",
            format!("{} ({})", f.delivered, share(f.delivered)),
        ),
        (
            "  stored aboard at the end",
            format!("{} ({})", f.stored, share(f.stored)),
        ),
        (
            "  dropped, buffer full",
            format!("{} ({})", f.dropped, share(f.dropped)),
        ),
        (
            "  still on terminals",
            format!("{} ({})", f.on_terminal, share(f.on_terminal)),
        ),
        ("  latency p50 min", opt(f.latency_p50_s)),
        ("  latency p95 min", opt(f.latency_p95_s)),
        ("  latency max min", opt(f.latency_max_s)),
        (
            "  buffer peak messages",
            format!("{} of {}", f.buffer_peak_messages, f.buffer_messages),
        ),
    ] {
        out.push_str(&format!("{label:28}{v:>24}\n"));
    }
    out
}

fn run_policy(setup: &SimSetup, name: &str) -> Result<RunResult> {
    let mut policy =
        tiandi_scheduler::by_name(name).with_context(|| format!("unknown policy {name:?}"))?;
    let n_steps = ((setup.end.unix_ns() - setup.start.unix_ns() + setup.step_ns - 1)
        / setup.step_ns)
        .max(1) as u64;
    let bar = crate::progress::bar(n_steps, name);
    let step_s = setup.step_ns as f64 / 1e9;
    let t0 = Instant::now();
    let on_step = |done: u32, _n: u32| {
        bar.set_position(u64::from(done));
        // Simulated time on the bar, as hours:minutes since the start.
        let min = (f64::from(done) * step_s / 60.0) as u64;
        bar.set_message(format!("{name} T+{}:{:02}", min / 60, min % 60));
    };
    let result = tiandi_sim::run(setup, policy.as_mut(), &on_step)
        .with_context(|| format!("simulation with policy {name}, seed {}", setup.seed))?;
    bar.finish_and_clear();
    eprintln!(
        "{name}: simulated {:.1} h in {:.1} s",
        setup.end.seconds_since(setup.start) / 3_600.0,
        t0.elapsed().as_secs_f64()
    );
    Ok(result)
}

fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "-".into()
    }
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "-".into()
    }
}

fn gb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e9)
}

/// The side-by-side summary: one column per policy.
fn table(meta: &RunMeta, runs: &[PolicyRun<'_>]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&RunResult) -> String| {
        rows.push((
            label.to_string(),
            runs.iter().map(|r| f(r.result)).collect(),
        ))
    };
    row("tasks", &|r| r.summary.tasks_total.to_string());
    row("completed", &|r| r.summary.completed.to_string());
    row("failed", &|r| r.summary.failed.to_string());
    row("dropped", &|r| r.summary.dropped.to_string());
    row("deadline met", &|r| pct(r.summary.deadline_met_ratio));
    row("latency p50 s", &|r| num(r.summary.latency_p50_s, 2));
    row("latency p95 s", &|r| num(r.summary.latency_p95_s, 2));
    row("latency p99 s", &|r| num(r.summary.latency_p99_s, 2));
    row("downlink GB", &|r| gb(r.summary.downlink_bytes));
    row("ISL GB", &|r| gb(r.summary.isl_bytes));
    let kwh = |wh: f64| num(wh / 1e3, 1);
    row("energy used kWh", &|r| kwh(r.summary.energy_used_wh));
    row("  compute kWh", &|r| {
        kwh(r.summary.physics.energy.compute_wh)
    });
    row("  idle kWh", &|r| kwh(r.summary.physics.energy.idle_wh));
    row("  bus kWh", &|r| kwh(r.summary.physics.energy.bus_wh));
    row("  heater kWh", &|r| kwh(r.summary.physics.energy.heater_wh));
    row("ground kWh (at PUE)", &|r| {
        kwh(r.summary.physics.ground_energy_wh)
    });
    row("total energy kWh", &|r| {
        kwh(r.summary.energy_used_wh + r.summary.physics.ground_energy_wh)
    });
    row("energy curtailed kWh", &|r| {
        kwh(r.summary.energy_curtailed_wh)
    });
    row("throttled h", &|r| num(r.summary.throttled_s / 3_600.0, 1));
    row("power-limited h", &|r| {
        num(r.summary.physics.power_limited_s / 3_600.0, 1)
    });
    row("faults injected", &|r| {
        r.summary.faults_injected.to_string()
    });
    row("faults hit stages", &|r| {
        r.summary.faults_hit_stages.to_string()
    });
    row("stages retried", &|r| {
        r.summary.faults_recovered.to_string()
    });
    row("stages reassigned", &|r| {
        r.summary.physics.stages_reassigned.to_string()
    });
    row("work lost PFLOP", &|r| {
        num(r.summary.physics.work_lost_flop / 1e15, 1)
    });
    row("devices retired by dose", &|r| {
        r.summary.physics.devices_retired.to_string()
    });
    row("ISL acquiring h", &|r| {
        num(r.summary.physics.isl_acquiring_s / 3_600.0, 1)
    });
    row("GSL handover h", &|r| {
        num(r.summary.physics.gsl_handover_s / 3_600.0, 1)
    });
    row("transfers waiting for links h", &|r| {
        num(r.summary.physics.link_wait_s / 3_600.0, 1)
    });
    for kind in TaskKind::ALL {
        if !runs
            .iter()
            .any(|r| tiandi_report::summary::kind_summary(&r.result.summary, kind).is_some())
        {
            continue;
        }
        let k = kind.as_str();
        let get = |r: &RunResult| tiandi_report::summary::kind_summary(&r.summary, kind).cloned();
        row(&format!("{k}: completed"), &|r| {
            get(r).map_or("-".into(), |s| format!("{}/{}", s.completed, s.total))
        });
        row(&format!("{k}: deadline met"), &|r| {
            get(r).map_or("-".into(), |s| pct(s.deadline_met_ratio))
        });
        row(&format!("{k}: latency p50 s"), &|r| {
            get(r).map_or("-".into(), |s| num(s.latency_p50_s, 2))
        });
        row(&format!("{k}: latency p95 s"), &|r| {
            get(r).map_or("-".into(), |s| num(s.latency_p95_s, 2))
        });
        row(&format!("{k}: downlink GB"), &|r| {
            get(r).map_or("-".into(), |s| gb(s.downlink_bytes))
        });
        let n_sats = meta.n_satellites;
        row(&format!("{k}: computed in orbit"), &|r| {
            r.tasks
                .iter()
                .filter(|t| t.kind == kind && t.placement.first().is_some_and(|&n| n < n_sats))
                .count()
                .to_string()
        });
    }
    let label_w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let col_w = runs
        .iter()
        .map(|r| r.policy.len())
        .chain(rows.iter().flat_map(|(_, v)| v.iter().map(String::len)))
        .max()
        .unwrap_or(0)
        + 2;
    let mut out = format!(
        "scenario {} ({}), seed {}, {} to {}, {} satellites\n",
        meta.scenario,
        meta.hash_text(),
        meta.seed,
        meta.start,
        meta.end,
        meta.n_satellites
    );
    out.push_str(&format!("{:label_w$}", ""));
    for r in runs {
        out.push_str(&format!("{:>col_w$}", r.policy));
    }
    out.push('\n');
    for (label, values) in rows {
        out.push_str(&format!("{label:label_w$}"));
        for v in values {
            out.push_str(&format!("{v:>col_w$}"));
        }
        out.push('\n');
    }
    out
}
