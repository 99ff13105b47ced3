//! The summary of one run: counts, deadline-met ratio, latency percentiles, bytes, energy,
//! faults; overall and per task kind.

use tiandi_workload::TaskKind;

use crate::model::{FaultRecord, KindSummary, Outcome, PhysicsBooks, Summary, TaskRecord};

/// The `q`-quantile (0..=1) of sorted values by the nearest-rank method; NaN when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn completed_latencies<'a>(records: impl Iterator<Item = &'a TaskRecord>) -> Vec<f64> {
    let mut v: Vec<f64> = records
        .filter(|r| r.outcome == Outcome::Completed)
        .map(TaskRecord::latency_s)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        f64::NAN
    } else {
        n as f64 / d as f64
    }
}

pub fn summarise(
    policy: &str,
    seed: u64,
    records: &[TaskRecord],
    faults: &[FaultRecord],
    physics: PhysicsBooks,
) -> Summary {
    let count = |o: Outcome| records.iter().filter(|r| r.outcome == o).count() as u64;
    let lat = completed_latencies(records.iter());
    let by_kind = TaskKind::ALL
        .iter()
        .filter_map(|&kind| {
            let of_kind: Vec<&TaskRecord> = records.iter().filter(|r| r.kind == kind).collect();
            if of_kind.is_empty() {
                return None;
            }
            let lat = completed_latencies(of_kind.iter().copied());
            Some(KindSummary {
                kind,
                total: of_kind.len() as u64,
                completed: lat.len() as u64,
                deadline_met_ratio: ratio(
                    of_kind.iter().filter(|r| r.deadline_met()).count(),
                    of_kind.len(),
                ),
                latency_p50_s: quantile(&lat, 0.50),
                latency_p95_s: quantile(&lat, 0.95),
                downlink_bytes: of_kind.iter().map(|r| r.downlink_bytes).sum(),
            })
        })
        .collect();
    Summary {
        policy: policy.to_string(),
        seed,
        tasks_total: records.len() as u64,
        completed: count(Outcome::Completed),
        failed: count(Outcome::Failed),
        dropped: count(Outcome::Dropped),
        deadline_met_ratio: ratio(
            records.iter().filter(|r| r.deadline_met()).count(),
            records.len(),
        ),
        latency_p50_s: quantile(&lat, 0.50),
        latency_p95_s: quantile(&lat, 0.95),
        latency_p99_s: quantile(&lat, 0.99),
        downlink_bytes: records.iter().map(|r| r.downlink_bytes).sum(),
        isl_bytes: records.iter().map(|r| r.isl_bytes).sum(),
        energy_used_wh: physics.energy.used_wh(),
        energy_curtailed_wh: physics.energy.curtailed_wh,
        throttled_s: physics.throttled_s,
        physics,
        faults_injected: faults.len() as u64,
        faults_hit_stages: faults.iter().filter(|f| f.task.is_some()).count() as u64,
        faults_recovered: faults.iter().filter(|f| f.recovered).count() as u64,
        by_kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.95), 95.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[7.0], 0.5), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
