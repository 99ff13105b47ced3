//! CSV outputs: one row per task (`tasks.csv`), and, without the `parquet` feature, the
//! link and node series. Times are ISO-8601 UTC with milliseconds.

use std::io::Write;

use tiandi_sim::model::{RunResult, TaskRecord};

use crate::RunMeta;

/// Columns of `tasks.csv`.
pub const TASKS_HEADER: &str = "id,kind,arrival_utc,placement,start_utc,finish_utc,bytes_moved,downlink_bytes,isl_bytes,retries,outcome,deadline_met";

/// Node ids of each stage joined by `-` (empty when the task was never placed).
pub fn placement_text(t: &TaskRecord) -> String {
    t.placement
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

pub fn write_tasks(w: &mut dyn Write, r: &RunResult) -> std::io::Result<()> {
    writeln!(w, "{TASKS_HEADER}")?;
    for t in &r.tasks {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            t.id,
            t.kind.as_str(),
            t.arrival,
            placement_text(t),
            t.start.map(|s| s.to_string()).unwrap_or_default(),
            t.finish,
            t.bytes_moved,
            t.downlink_bytes,
            t.isl_bytes,
            t.retries,
            t.outcome.as_str(),
            t.deadline_met(),
        )?;
    }
    Ok(())
}

/// `links.csv`: bytes carried per link and step (links that carried nothing are left out).
pub fn write_links(w: &mut dyn Write, meta: &RunMeta, r: &RunResult) -> std::io::Result<()> {
    writeln!(w, "step,time_utc,a,b,kind,bytes,utilisation")?;
    for l in &r.links {
        writeln!(
            w,
            "{},{},{},{},{},{},{}",
            l.step,
            meta.step_start(l.step),
            l.a,
            l.b,
            l.kind.as_str(),
            l.bytes,
            l.utilisation
        )?;
    }
    Ok(())
}

/// `nodes.csv`: each satellite's state at the end of each step.
pub fn write_nodes(w: &mut dyn Write, meta: &RunMeta, r: &RunResult) -> std::io::Result<()> {
    writeln!(
        w,
        "step,time_utc,satellite,soc_fraction,temp_k,compute_w,curtailed_w,throttled,work_flop"
    )?;
    for n in &r.nodes {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{}",
            n.step,
            meta.step_start(n.step + 1),
            n.satellite,
            n.soc_fraction,
            n.temp_k,
            n.compute_w,
            n.curtailed_w,
            n.throttled,
            n.work_flop
        )?;
    }
    Ok(())
}

/// `faults.csv`: one row per injected upset; `task` is empty when nothing ran on the
/// device it hit.
pub fn write_faults(w: &mut dyn Write, r: &RunResult) -> std::io::Result<()> {
    writeln!(w, "time_utc,satellite,task,recovered")?;
    for f in &r.faults {
        let task = f.task.map(|t| t.to_string()).unwrap_or_default();
        writeln!(w, "{},{},{},{}", f.t, f.satellite, task, f.recovered)?;
    }
    Ok(())
}
