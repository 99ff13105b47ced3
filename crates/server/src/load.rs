//! `tiandi load`: the load generator of the control-plane benchmark. Submits tasks at a
//! fixed rate from several keep-alive connections and measures each decision's latency
//! from the instant it was due (so a stalled server cannot hide its queue: no coordinated
//! omission).

use std::time::{Duration, Instant};

use serde::Serialize;
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
    /// Seeds the choice of origins and task sizes.
    pub seed: u64,
    /// PEM certificates to trust for an HTTPS service.
    pub ca_pem: Option<Vec<u8>>,
    /// How long one request goes on failing over between the addresses.
    pub retry_budget: Duration,
}

#[derive(Debug, Serialize)]
pub struct LoadReport {
    pub target_rate: f64,
    pub duration_s: f64,
    pub connections: usize,
    pub sent: u64,
    pub accepted: u64,
    pub refused: u64,
    pub errors: u64,
    /// Accepted submissions per second of wall time.
    pub accepted_per_s: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p90: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    /// The first refusals and errors, for the reader.
    pub samples: Vec<String>,
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

/// Runs the load and reports. Origins are the twin's ground stations and data centres.
pub fn run(cfg: &LoadConfig) -> Result<LoadReport, String> {
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
    let n = cfg.connections.max(1);
    let total = (cfg.rate * cfg.duration.as_secs_f64()).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / cfg.rate);
    let t0 = Instant::now() + Duration::from_millis(100);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|k| {
                let (origins, client_for) = (&origins, &client_for);
                s.spawn(move || {
                    let client = client_for(30);
                    let mut rng = cfg.seed ^ (k as u64).wrapping_mul(0xA076_1D64_78BD_642F);
                    let mut lat = Vec::new();
                    let (mut sent, mut refused, mut errors) = (0u64, 0u64, 0u64);
                    let mut samples = Vec::new();
                    let mut j = k as u64;
                    while j < total {
                        let due = t0 + interval.mul_f64(j as f64);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let r = splitmix(&mut rng);
                        let origin = &origins[(r % origins.len() as u64) as usize];
                        let work = 1e11 * (1 + (r >> 32) % 50) as f64;
                        let body = json!({
                            "origin": origin,
                            "deadline_s": 3600.0,
                            "stages": [{"work_flop": work, "input_bytes": 1_000_000, "output_bytes": 10_000}],
                        })
                        .to_string();
                        sent += 1;
                        match client.request("POST", "/v1/tasks", Some(body.as_bytes())) {
                            Ok((201 | 200, _)) => lat.push(due.elapsed().as_secs_f64()),
                            Ok((s, b)) => {
                                refused += 1;
                                if samples.len() < 3 {
                                    samples.push(format!("{s}: {}", String::from_utf8_lossy(&b)));
                                }
                            }
                            Err(e) => {
                                errors += 1;
                                if samples.len() < 3 {
                                    samples.push(e);
                                }
                            }
                        }
                        j += n as u64;
                    }
                    (lat, sent, refused, errors, samples)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("load worker"))
            .collect()
    });
    let elapsed = t0.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    let (mut sent, mut refused, mut errors) = (0, 0, 0);
    let mut samples = Vec::new();
    for (l, s, r, e, sm) in results {
        lat.extend(l);
        sent += s;
        refused += r;
        errors += e;
        samples.extend(sm);
    }
    samples.truncate(5);
    lat.sort_by(f64::total_cmp);
    Ok(LoadReport {
        target_rate: cfg.rate,
        duration_s: elapsed,
        connections: n,
        sent,
        accepted: lat.len() as u64,
        refused,
        errors,
        accepted_per_s: lat.len() as f64 / elapsed,
        latency_ms_p50: quantile_ms(&lat, 0.50),
        latency_ms_p90: quantile_ms(&lat, 0.90),
        latency_ms_p99: quantile_ms(&lat, 0.99),
        latency_ms_max: lat.last().map_or(f64::NAN, |x| x * 1e3),
        samples,
    })
}
