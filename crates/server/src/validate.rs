//! Validation of what clients and agents send, in one place: a submission becomes the
//! simulator's task model and an agent's telemetry a twin node report, or a refusal that
//! names the field at fault.

use std::collections::HashMap;

use tiandi_orbit::Epoch;
use tiandi_twin::{NodeReport, Twin};
use tiandi_workload::{Destination, MIN_EFFICIENCY, Pin, Stage, Task, TaskKind};

use crate::model::{RunSpec, TaskSpec, Telemetry, safe_file_name};
use crate::service::{MAX_BYTES, MAX_DEADLINE_S, MAX_STAGES, MAX_WORK_FLOP, Refusal, secs_ns};

/// An agent's telemetry as a report on its node, with every value in its range.
pub fn report(t: &Telemetry) -> Result<NodeReport, Refusal> {
    if let Some(s) = t.battery_soc
        && !(0.0..=1.0).contains(&s)
    {
        return Err(Refusal::invalid(
            "battery_soc",
            format!("{s}: expected 0 to 1"),
        ));
    }
    if let Some(k) = t.temperature_k
        && !(k.is_finite() && (3.0..=1_000.0).contains(&k))
    {
        return Err(Refusal::invalid(
            "temperature_k",
            format!("{k}: expected 3 to 1000 K"),
        ));
    }
    if let Some(n) = t.slots
        && !(1..=1_024).contains(&n)
    {
        return Err(Refusal::invalid(
            "slots",
            format!("{n}: expected 1 to 1024"),
        ));
    }
    Ok(NodeReport {
        battery_soc: t.battery_soc,
        temperature_k: t.temperature_k,
        failed: t.failed,
        slots: t.slots,
    })
}

fn node_index(by_name: &HashMap<String, u32>, name: &str, field: &str) -> Result<u32, Refusal> {
    by_name.get(name).copied().ok_or_else(|| {
        Refusal::invalid(
            field,
            format!("no node named {name:?} in the twin (GET /v1/nodes lists them)"),
        )
    })
}

/// Checks a submission and turns it into the simulator's task model, numbered `id`,
/// arriving at twin time `now_ns`; node names are looked up in `by_name`.
pub fn task(
    spec: &TaskSpec,
    now_ns: i64,
    id: u64,
    by_name: &HashMap<String, u32>,
    twin: &Twin,
) -> Result<Task, Refusal> {
    let kind = match &spec.kind {
        None => TaskKind::Graph,
        Some(k) => TaskKind::parse(k).ok_or_else(|| {
            Refusal::invalid(
                "kind",
                format!("{k:?}: expected earth-observation, blind-zone, ground-ai or graph"),
            )
        })?,
    };
    let origin = node_index(by_name, &spec.origin, "origin")?;
    let destination = match spec.destination.as_deref() {
        None | Some("any-ground") => Destination::AnyGround,
        Some("origin") => Destination::Origin,
        Some(name) => Destination::Node(node_index(by_name, name, "destination")?),
    };
    // At least a nanosecond once on the twin's clock, so the deadline is after arrival.
    if !(spec.deadline_s.is_finite()
        && secs_ns(spec.deadline_s) > 0
        && spec.deadline_s <= MAX_DEADLINE_S)
    {
        return Err(Refusal::invalid(
            "deadline_s",
            format!(
                "{}: expected at least 1e-9 and at most {MAX_DEADLINE_S} s",
                spec.deadline_s
            ),
        ));
    }
    if spec.stages.is_empty() || spec.stages.len() > MAX_STAGES {
        return Err(Refusal::invalid(
            "stages",
            format!("{} stages: expected 1 to {MAX_STAGES}", spec.stages.len()),
        ));
    }
    if let Some(k) = &spec.idempotency_key
        && (k.is_empty() || k.len() > 128)
    {
        return Err(Refusal::invalid(
            "idempotency_key",
            "expected 1 to 128 characters",
        ));
    }
    let mut stages = Vec::with_capacity(spec.stages.len());
    for (i, s) in spec.stages.iter().enumerate() {
        let f = |name: &str| format!("stages[{i}].{name}");
        if !(s.work_flop.is_finite() && s.work_flop >= 0.0 && s.work_flop <= MAX_WORK_FLOP) {
            return Err(Refusal::invalid(
                &f("work_flop"),
                format!("{}: expected 0 to {MAX_WORK_FLOP:e}", s.work_flop),
            ));
        }
        for (name, v) in [
            ("input_bytes", s.input_bytes),
            ("output_bytes", s.output_bytes),
            ("memory_bytes", s.memory_bytes),
        ] {
            if v > MAX_BYTES {
                return Err(Refusal::invalid(
                    &f(name),
                    format!("{v}: expected at most {MAX_BYTES}"),
                ));
            }
        }
        if let Some(&bad) = s.after.iter().find(|&&d| usize::from(d) >= i) {
            return Err(Refusal::invalid(
                &f("after"),
                format!("stage {i} depends on stage {bad}, which does not come before it"),
            ));
        }
        let pin = match s.pin.as_deref() {
            None | Some("free") => Pin::Free,
            Some("origin") => Pin::Origin,
            Some("ground") => Pin::Ground,
            Some(name) => {
                let n = node_index(by_name, name, &f("pin"))?;
                if twin.compute(n).is_none() {
                    return Err(Refusal::invalid(
                        &f("pin"),
                        format!("{name:?} has no compute (pin to a satellite or data centre)"),
                    ));
                }
                Pin::Node(n)
            }
        };
        if let Some(run) = &s.run {
            self::run(run, &f("run"))?;
        }
        let efficiency = s.efficiency.unwrap_or(kind.default_efficiency());
        if !(efficiency.is_finite() && (MIN_EFFICIENCY..=1.0).contains(&efficiency)) {
            return Err(Refusal::invalid(
                &f("efficiency"),
                format!("{efficiency} is not in [{MIN_EFFICIENCY}, 1]"),
            ));
        }
        stages.push(Stage {
            work_flop: s.work_flop,
            input_bytes: s.input_bytes,
            output_bytes: s.output_bytes,
            memory_bytes: s.memory_bytes,
            pin,
            after: s.after.clone(),
            efficiency,
        });
    }
    let task = Task {
        id,
        kind,
        arrival: Epoch::from_unix_ns(now_ns),
        origin,
        destination,
        deadline: Epoch::from_unix_ns(now_ns.saturating_add(secs_ns(spec.deadline_s))),
        stages,
    };
    task.validate()
        .map_err(|e| Refusal::invalid(e.field, e.message))?;
    Ok(task)
}

fn run(run: &RunSpec, field: &str) -> Result<(), Refusal> {
    if run.command.is_empty() || run.command.len() > 256 || run.command[0].is_empty() {
        return Err(Refusal::invalid(
            &format!("{field}.command"),
            "expected a program and up to 255 arguments",
        ));
    }
    for name in run.inputs.keys() {
        if !safe_file_name(name) {
            return Err(Refusal::invalid(
                &format!("{field}.inputs"),
                format!("{name:?}: file names are 1-128 of A-Z a-z 0-9 . _ -"),
            ));
        }
    }
    for name in &run.outputs {
        if !safe_file_name(name) {
            return Err(Refusal::invalid(
                &format!("{field}.outputs"),
                format!("{name:?}: file names are 1-128 of A-Z a-z 0-9 . _ -"),
            ));
        }
    }
    if !(run.timeout_s.is_finite() && run.timeout_s > 0.0 && run.timeout_s <= 86_400.0) {
        return Err(Refusal::invalid(
            &format!("{field}.timeout_s"),
            format!(
                "{}: expected more than 0 and at most 86400 s",
                run.timeout_s
            ),
        ));
    }
    Ok(())
}
