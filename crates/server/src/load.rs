//! `tiandi load`: the load generator of the control-plane benchmark. Submits tasks at a
//! fixed rate from several keep-alive connections and measures each decision's latency
//! from the instant it was due (so a stalled server cannot hide its queue: no coordinated
//! omission). Every submission carries an idempotency key made from the seed and its
//! index, so one that a client sends again (failing over to another instance) is
//! answered with the task it already made.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::agent::Client;

#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The service's addresses (base URLs), tried in order; at least one.
    pub servers: Vec<String>,
    pub token: String,
    /// Submissions per second, all connections together.
    pub rate: f64,
    pub duration: Duration,
    pub connections: usize,
    /// Seeds the choice of origins and task sizes, and the idempotency keys.
    pub seed: u64,
    /// PEM certificates to trust for an HTTPS service.
    pub ca_pem: Option<Vec<u8>>,
    /// How long one submission goes on failing over between the addresses.
    pub retry_budget: Duration,
    /// Keep every acknowledged submission ([`LoadRun::acknowledged`]).
    pub record: bool,
}

#[derive(Debug, Serialize)]
pub struct LoadReport {
    pub target_rate: f64,
    pub duration_s: f64,
    pub connections: usize,
    pub sent: u64,
    /// Answered 201 or 200.
    pub accepted: u64,
    /// Of those, answered 200: the key was known already, because a submission sent
    /// again had been carried out the first time, or an earlier run with the same seed
    /// made it.
    pub duplicates: u64,
    pub refused: u64,
    pub errors: u64,
    /// Requests sent again by the clients (no answer, or 502, 503 or 504), the first
    /// `GET /v1/nodes` included: above zero, the service failed over or was busy.
    pub retries: u64,
    /// Accepted submissions per second of wall time.
    pub accepted_per_s: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p90: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    /// The first refusals and errors, for the reader.
    pub samples: Vec<String>,
}

/// One acknowledged submission: a row of `tiandi load --record`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledged {
    pub idempotency_key: String,
    /// The task's id, from the answer.
    pub id: u64,
    /// 201, or 200 for a key the service knew (see [`LoadReport::duplicates`]).
    pub status: u16,
    /// The nodes of the task's stages in the answer's decision, in stage order, joined by
    /// `;` (empty for a stage without a node).
    pub nodes: String,
}

impl Acknowledged {
    /// The CSV header: the fields' names, in their order (a reader deserializes rows by
    /// these names; `crates/cli/tests/serve.rs` reads a written file back).
    pub const COLUMNS: [&'static str; 4] = ["idempotency_key", "id", "status", "nodes"];
}

/// What a run measured, and (with [`LoadConfig::record`]) what it was answered.
#[derive(Debug)]
pub struct LoadRun {
    pub report: LoadReport,
    /// Every acknowledged submission in submission order.
    pub acknowledged: Vec<Acknowledged>,
}

/// The part of a task's answer that `--record` keeps.
#[derive(Deserialize)]
struct TaskAnswer {
    id: u64,
    decision: DecisionAnswer,
}

#[derive(Deserialize)]
struct DecisionAnswer {
    stages: Vec<StageAnswer>,
}

#[derive(Deserialize)]
struct StageAnswer {
    node: Option<String>,
}

/// What one connection's worker counted.
#[derive(Default)]
struct Tally {
    latencies_s: Vec<f64>,
    sent: u64,
    duplicates: u64,
    refused: u64,
    errors: u64,
    retries: u64,
    samples: Vec<String>,
    /// (submission index, row)
    acknowledged: Vec<(u64, Acknowledged)>,
}

impl Tally {
    fn sample(&mut self, text: String) {
        if self.samples.len() < 3 {
            self.samples.push(text);
        }
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn quantile_ms(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i] * 1e3
}

/// The idempotency key of submission `index` of a run with `seed`.
pub fn idempotency_key(seed: u64, index: u64) -> String {
    format!("load-{seed}-{index}")
}

/// Submission `index`'s body: its origin and size drawn from (seed, index) alone, so a
/// key always names the same submission, however many connections send them.
fn submission(seed: u64, index: u64, origins: &[String]) -> String {
    let mut state = seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F);
    let r = splitmix(&mut state);
    let origin = &origins[(r % origins.len() as u64) as usize];
    let work = 1e11 * (1 + (r >> 32) % 50) as f64;
    json!({
        "origin": origin,
        "deadline_s": 3600.0,
        "idempotency_key": idempotency_key(seed, index),
        "stages": [{"work_flop": work, "input_bytes": 1_000_000, "output_bytes": 10_000}],
    })
    .to_string()
}

/// The twin's ground stations and data centres, from `GET /v1/nodes`.
fn origins(probe: &Client) -> Result<Vec<String>, String> {
    let (status, body) = probe.request("GET", "/v1/nodes", None)?;
    if status != 200 {
        return Err(format!(
            "GET /v1/nodes: {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let nodes: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("GET /v1/nodes: {e}"))?;
    let origins: Vec<String> = nodes["nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|n| n["kind"] == "ground-station" || n["kind"] == "data-centre")
                .filter_map(|n| n["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if origins.is_empty() {
        return Err("the twin has no ground station or data centre to submit from".into());
    }
    Ok(origins)
}

/// The record of an acknowledged submission, from its answer.
fn row(idempotency_key: String, status: u16, answer: &[u8]) -> Result<Acknowledged, String> {
    let task: TaskAnswer =
        serde_json::from_slice(answer).map_err(|e| format!("an answer without a task: {e}"))?;
    let nodes: Vec<String> = task
        .decision
        .stages
        .into_iter()
        .map(|s| s.node.unwrap_or_default())
        .collect();
    Ok(Acknowledged {
        idempotency_key,
        id: task.id,
        status,
        nodes: nodes.join(";"),
    })
}

/// When each submission is due.
struct Schedule {
    t0: Instant,
    interval: Duration,
    total: u64,
}

/// One connection's share: submissions `k`, `k + n`, `k + 2n`, ... each sent at its due
/// instant (or at once when late).
fn worker(cfg: &LoadConfig, client: &Client, origins: &[String], at: &Schedule, k: u64) -> Tally {
    let n = cfg.connections.max(1) as u64;
    let mut tally = Tally::default();
    let mut index = k;
    while index < at.total {
        let due = at.t0 + at.interval.mul_f64(index as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let body = submission(cfg.seed, index, origins);
        tally.sent += 1;
        match client.request("POST", "/v1/tasks", Some(body.as_bytes())) {
            Ok((status @ (201 | 200), answer)) => {
                let latency_s = due.elapsed().as_secs_f64();
                let key = || idempotency_key(cfg.seed, index);
                match cfg.record.then(|| row(key(), status, &answer)).transpose() {
                    Ok(row) => {
                        tally.latencies_s.push(latency_s);
                        tally.duplicates += u64::from(status == 200);
                        tally.acknowledged.extend(row.map(|r| (index, r)));
                    }
                    // Not recordable, so not counted as acknowledged.
                    Err(e) => {
                        tally.errors += 1;
                        tally.sample(format!("{status}: {}: {e}", key()));
                    }
                }
            }
            Ok((status, answer)) => {
                tally.refused += 1;
                tally.sample(format!("{status}: {}", String::from_utf8_lossy(&answer)));
            }
            Err(e) => {
                tally.errors += 1;
                tally.sample(e);
            }
        }
        index += n;
    }
    tally.retries = client.retries();
    tally
}

/// Runs the load and reports. Origins are the twin's ground stations and data centres.
pub fn run(cfg: &LoadConfig) -> Result<LoadRun, String> {
    let client_for = |timeout_s| {
        Client::with_servers(
            &cfg.servers,
            &cfg.token,
            Duration::from_secs(timeout_s),
            cfg.ca_pem.as_deref(),
        )
        .with_retry_budget(cfg.retry_budget)
    };
    let probe = client_for(10);
    let origins = origins(&probe)?;
    let n = cfg.connections.max(1);
    let at = Schedule {
        t0: Instant::now() + Duration::from_millis(100),
        interval: Duration::from_secs_f64(1.0 / cfg.rate),
        total: (cfg.rate * cfg.duration.as_secs_f64()).round() as u64,
    };
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n as u64)
            .map(|k| {
                let (origins, at, client_for) = (&origins, &at, &client_for);
                // Its own client: its own keep-alive connection.
                s.spawn(move || worker(cfg, &client_for(30), origins, at, k))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("load worker"))
            .collect()
    });
    let elapsed = at.t0.elapsed().as_secs_f64();
    let mut all = Tally {
        retries: probe.retries(),
        ..Tally::default()
    };
    for t in tallies {
        all.latencies_s.extend(t.latencies_s);
        all.sent += t.sent;
        all.duplicates += t.duplicates;
        all.refused += t.refused;
        all.errors += t.errors;
        all.retries += t.retries;
        all.samples.extend(t.samples);
        all.acknowledged.extend(t.acknowledged);
    }
    all.samples.truncate(5);
    all.acknowledged.sort_by_key(|(index, _)| *index);
    let lat = &mut all.latencies_s;
    lat.sort_by(f64::total_cmp);
    let report = LoadReport {
        target_rate: cfg.rate,
        duration_s: elapsed,
        connections: n,
        sent: all.sent,
        accepted: lat.len() as u64,
        duplicates: all.duplicates,
        refused: all.refused,
        errors: all.errors,
        retries: all.retries,
        accepted_per_s: lat.len() as f64 / elapsed,
        latency_ms_p50: quantile_ms(lat, 0.50),
        latency_ms_p90: quantile_ms(lat, 0.90),
        latency_ms_p99: quantile_ms(lat, 0.99),
        latency_ms_max: lat.last().map_or(f64::NAN, |x| x * 1e3),
        samples: all.samples,
    };
    Ok(LoadRun {
        report,
        acknowledged: all.acknowledged.into_iter().map(|(_, r)| r).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submission_is_drawn_from_the_seed_and_its_index_alone() {
        let origins: Vec<String> = ["Kashgar", "Wuhu", "Beijing-Miyun"]
            .map(String::from)
            .into();
        assert_eq!(submission(7, 41, &origins), submission(7, 41, &origins));
        let task = |seed, index| {
            let mut v: serde_json::Value =
                serde_json::from_str(&submission(seed, index, &origins)).unwrap();
            assert_eq!(v["idempotency_key"], format!("load-{seed}-{index}"));
            v.as_object_mut().unwrap().remove("idempotency_key");
            v.to_string()
        };
        // Without their keys, the tasks still differ from index to index and seed to seed.
        let by_index: std::collections::BTreeSet<String> = (0..20).map(|i| task(7, i)).collect();
        let by_seed: std::collections::BTreeSet<String> = (0..20).map(|s| task(s, 41)).collect();
        assert!(
            by_index.len() > 10 && by_seed.len() > 10,
            "{by_index:?} {by_seed:?}"
        );
    }

    #[test]
    fn a_record_row_holds_the_id_and_the_nodes_of_the_decision() {
        let answer = json!({"id": 12, "state": "queued", "decision": {"deliver_s": 0.1,
            "stages": [{"stage": 0, "node": "Wuhu"}, {"stage": 1, "node": null},
                       {"stage": 2, "node": "SAT-3-7"}]}});
        let r = row("load-1-0".into(), 201, answer.to_string().as_bytes()).unwrap();
        assert_eq!(
            r,
            Acknowledged {
                idempotency_key: "load-1-0".into(),
                id: 12,
                status: 201,
                nodes: "Wuhu;;SAT-3-7".into()
            }
        );
        assert!(row("k".into(), 200, b"{\"error\": \"x\"}").is_err());
    }
}
