//! Retention through the real binaries: under steady `tiandi load`, with
//! `retain_ended_s` set, the store (the redb file, or PostgreSQL's tasks table) stays
//! flat while the tasks submitted keep growing, every deleted task is in the archive, and
//! recent tasks are still served.

mod common;
#[path = "../../server/tests/common/postgres.rs"]
mod postgres;
#[path = "common/serve_harness.rs"]
mod serve_harness;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use postgres::Postgres;
use serde_json::Value;
use serve_harness::*;

fn metric(server: &Server, name: &str) -> f64 {
    let (status, body) = server
        .client(ADMIN)
        .request("GET", "/metrics", None)
        .unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// Runs 24 s of load at 300/s against a service with retention on; gives the store's
/// size sampled each second (after the first third) and the load's report.
fn steady_load(dir: &Path, store: &str, archive: Option<&Path>) -> (Server, Vec<f64>, Value) {
    let mut extra = "retain_ended_s = 5.0\n".to_string();
    if let Some(a) = archive {
        extra += &format!("archive = \"{}\"\n", a.display());
    }
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        format!("{extra}{}", config_with_store(store, "accelerated:20")),
    )
    .unwrap();
    let server = Server::spawn(dir, &config, free_port(), None, None);
    let duration_s = 24;
    let load = Command::new(env!("CARGO_BIN_EXE_tiandi"))
        .args(["load", "--server", &server.url, "--token", OPERATOR])
        .args(["--rate", "300", "--duration-s", &duration_s.to_string()])
        .args(["--connections", "8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let mut sizes = Vec::new();
    while t0.elapsed() < Duration::from_secs(duration_s) {
        std::thread::sleep(Duration::from_secs(1));
        if t0.elapsed() >= Duration::from_secs(duration_s / 3) {
            sizes.push(metric(&server, "tiandi_store_bytes"));
        }
    }
    let out = load.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["accepted"], report["sent"], "{report}");
    (server, sizes, report)
}

/// The store stays flat over the last two thirds of the run, while the tasks submitted
/// triple: without retention it would grow by about 1.1 KB per task.
fn assert_flat(sizes: &[f64], report: &Value, server: &Server) {
    let accepted = report["accepted"].as_f64().unwrap();
    let deleted = metric(server, "tiandi_retention_deleted_total");
    let (first, max) = (sizes[0], sizes.iter().copied().fold(f64::MIN, f64::max));
    let kb: Vec<String> = sizes.iter().map(|s| format!("{:.0}", s / 1e3)).collect();
    eprintln!(
        "store size (kB) each second from a third of the run: {}; {accepted} accepted, {deleted} deleted by retention",
        kb.join(" ")
    );
    // Two thirds of the run is 4,800 tasks, about 5 MB without retention.
    let growth = max - first;
    assert!(
        growth < 0.25 * (accepted * 2.0 / 3.0) * 1_100.0,
        "the store grew by {growth:.0} bytes: {kb:?}"
    );
    assert!(
        deleted >= 0.8 * accepted,
        "retention deleted only {deleted} of {accepted}"
    );
}

#[test]
fn the_embedded_store_stays_flat_and_archives_what_it_drops() {
    let dir = common::fresh_dir("retention", "redb");
    let archive = dir.join("archive");
    let (server, sizes, report) = steady_load(
        &dir,
        &dir.join("store.redb").display().to_string(),
        Some(&archive),
    );
    assert_flat(&sizes, &report, &server);

    // Every deleted task is in the archive (at least once: dedupe by id), as a record.
    let deleted = metric(&server, "tiandi_retention_deleted_total") as usize;
    let mut ids = BTreeSet::new();
    for f in std::fs::read_dir(&archive).unwrap() {
        let path = f.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.starts_with("tasks-") && name.ends_with(".jsonl"),
            "{name}"
        );
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let r: tiandi_server::model::TaskRecord = serde_json::from_str(line).unwrap();
            assert!(r.state.is_final(), "{line}");
            ids.insert(r.id);
        }
    }
    assert_eq!(ids.len(), deleted, "archived ids against deleted tasks");
    // A deleted task is gone from the service; the newest is still there.
    let op = server.client(OPERATOR);
    let oldest = *ids.first().unwrap();
    let (status, _) = call(&op, "GET", &format!("/v1/tasks/{oldest}"), None);
    assert_eq!(status, 404);
    let (_, page) = call(&op, "GET", "/v1/tasks?limit=1000", None);
    let kept = page["tasks"].as_array().unwrap();
    assert!(!kept.is_empty());
    assert!(
        kept.iter()
            .all(|t| !ids.contains(&t["id"].as_u64().unwrap()))
    );

    // Once the newest task has left the store, a restarted service still never gives
    // its id again: the next id is stored beside the deletions.
    let (status, t) = call(&op, "POST", "/v1/tasks", Some(quick()));
    assert_eq!(status, 201, "{t}");
    let last = t["id"].as_u64().unwrap();
    let t0 = Instant::now();
    while call(&op, "GET", &format!("/v1/tasks/{last}"), None).0 != 404 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "retention kept task {last}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut server = server;
    server.crash_and_restart();
    let (status, t) = call(&server.client(OPERATOR), "POST", "/v1/tasks", Some(quick()));
    assert_eq!(status, 201, "{t}");
    assert_eq!(t["id"].as_u64(), Some(last + 1), "an id given again: {t}");
}

fn quick() -> Value {
    serde_json::json!({"origin": "Beijing-Miyun", "deadline_s": 3600.0, "stages": [{"work_flop": 1e11}]})
}

#[test]
fn the_postgresql_store_stays_flat() {
    let Some(pg) = Postgres::start("the_postgresql_store_stays_flat") else {
        return;
    };
    let dir = common::fresh_dir("retention", "pg");
    let url = pg.database("retention");
    let (server, sizes, report) = steady_load(&dir, &url, None);
    assert_flat(&sizes, &report, &server);
    let rows = Postgres::query(&url, "SELECT count(*) FROM tasks");
    let rows: f64 = rows[0].as_deref().unwrap().parse().unwrap();
    assert!(
        rows < 0.2 * report["accepted"].as_f64().unwrap(),
        "{rows} rows left"
    );
}
