//! The control plane through the real binaries: `tiandi serve` and `tiandi agent` as
//! processes on loopback, driven over HTTP. Submit -> place -> agent runs -> complete,
//! cancel, agent death -> re-placement, authorisation and tenancy, bad input, and the
//! crash test: SIGKILL the server under load, restart it, and find every acknowledged task.

mod common;
#[path = "common/serve_harness.rs"]
mod serve_harness;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serve_harness::*;
use tiandi_server::agent::Client;
use tiandi_server::load::Acknowledged;

#[test]
fn submit_place_run_complete_with_events() {
    let dir = common::fresh_dir("serve", "lifecycle");
    let server = Server::start(&dir, "accelerated:20");
    let op = server.client(OPERATOR);

    // Listen to the event stream first.
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut sse = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        sse,
        "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR}\r\n\r\n"
    )
    .unwrap();
    sse.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let lines = events.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(sse).lines() {
            let Ok(line) = line else { break };
            lines.lock().unwrap().push(line);
        }
    });

    let _agent = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &dir.join("zjk"));
    wait_agent(&op, "Zhangjiakou");
    let (status, task) = call(
        &op,
        "POST",
        "/v1/tasks",
        Some(json!({
            "origin": "Beijing-Miyun",
            "deadline_s": 600.0,
            "stages": [
                {"work_flop": 1e12, "input_bytes": 1000, "output_bytes": 100,
                 "run": {"command": ["sh", "-c", "tr a-z A-Z < in.txt > mid.txt"],
                         "inputs": {"in.txt": "tiles over the taklamakan\n"},
                         "outputs": ["mid.txt"]}},
                {"work_flop": 1e12, "after": [0],
                 "run": {"command": ["sh", "-c", "wc -c < mid.txt > out.txt"], "outputs": ["out.txt"]}}
            ]
        })),
    );
    assert_eq!(status, 201, "{task}");
    let id = task["id"].as_u64().unwrap();
    // The decision: both stages on the only node with an agent, a route from the origin.
    for s in task["decision"]["stages"].as_array().unwrap() {
        assert_eq!(s["node"], "Zhangjiakou", "{task}");
    }
    assert_eq!(task["decision"]["stages"][0]["route"][0], "Beijing-Miyun");
    assert!(task["expected_finish"].as_str().unwrap() <= task["deadline"].as_str().unwrap());

    let done = wait_task(&op, id, 30, |v| v["state"] == "completed");
    assert_eq!(done["files"], json!(["mid.txt", "out.txt"]), "{done}");
    let (status, mid) = op
        .request("GET", &format!("/v1/tasks/{id}/files/mid.txt"), None)
        .unwrap();
    assert_eq!(
        (status, String::from_utf8(mid).unwrap()),
        (200, "TILES OVER THE TAKLAMAKAN\n".into())
    );
    let (_, out) = op
        .request("GET", &format!("/v1/tasks/{id}/files/out.txt"), None)
        .unwrap();
    // Succeeded stages leave no working directory behind.
    let left: Vec<_> = std::fs::read_dir(dir.join("zjk")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(String::from_utf8(out).unwrap().trim(), "26");

    // A modelled task (no command) runs on the twin's clock.
    let (status, m) = call(
        &op,
        "POST",
        "/v1/tasks",
        Some(json!({"origin": "Kashgar", "deadline_s": 3600.0, "stages": [{"work_flop": 1e13}]})),
    );
    assert_eq!(status, 201, "{m}");
    wait_task(&op, m["id"].as_u64().unwrap(), 30, |v| {
        v["state"] == "completed"
    });

    // The stream told of both tasks' ends.
    let t0 = Instant::now();
    loop {
        let text = events.lock().unwrap().join("\n");
        let completed = text.matches("\"state\":\"completed\"").count();
        if text.contains("event: task") && completed >= 2 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "events so far:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The listing pages by id and filters by state.
    let (_, page) = call(&op, "GET", "/v1/tasks?state=completed&limit=1", None);
    assert_eq!(page["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_after"], json!(id));
    let (_, page) = call(&op, "GET", &format!("/v1/tasks?after={id}"), None);
    assert_eq!(page["tasks"][0]["id"], m["id"]);
}

#[test]
fn cancel_and_agent_death_replaces_work() {
    let dir = common::fresh_dir("serve", "replace");
    let server = Server::start(&dir, "accelerated:5");
    let op = server.client(OPERATOR);

    // Cancel: a long modelled job.
    let (status, long) = call(
        &op,
        "POST",
        "/v1/tasks",
        Some(json!({"origin": "Wuhu", "deadline_s": 86400.0, "stages": [{"work_flop": 1e18}]})),
    );
    assert_eq!(status, 201, "{long}");
    let id = long["id"].as_u64().unwrap();
    let (status, c) = call(&op, "DELETE", &format!("/v1/tasks/{id}"), None);
    assert_eq!(
        (status, c["state"].as_str()),
        (200, Some("cancelled")),
        "{c}"
    );
    // A cancelled task neither met nor missed its deadline.
    assert_eq!(c["deadline_met"], Value::Null, "{c}");
    let (status, _) = call(&op, "DELETE", &format!("/v1/tasks/{id}"), None);
    assert_eq!(status, 409);

    // A command stage that hangs on its first node.
    let mut first = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &dir.join("zjk"));
    wait_agent(&op, "Zhangjiakou");
    let script = "if [ \"$TIANDI_NODE\" = Zhangjiakou ]; then sleep 20; fi; echo $TIANDI_NODE $TIANDI_ATTEMPT > who.txt";
    let (status, t) = call(
        &op,
        "POST",
        "/v1/tasks",
        Some(json!({"origin": "Beijing-Miyun", "deadline_s": 3600.0,
            "stages": [{"work_flop": 1e12, "run": {"command": ["sh", "-c", script], "outputs": ["who.txt"], "timeout_s": 30.0}}]})),
    );
    assert_eq!(status, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    wait_task(&op, id, 20, |v| {
        v["decision"]["stages"][0]["state"] == "assigned"
    });
    let _second = Agent::start(&server, "Wuhu", AGENT_WUHU, &dir.join("wuhu"));
    wait_agent(&op, "Wuhu");
    // The first agent dies; after the heartbeat timeout its stage goes to the other.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let done = wait_task(&op, id, 30, |v| v["state"] == "completed");
    assert_eq!(done["replacements"], 1, "{done}");
    assert_eq!(done["decision"]["stages"][0]["node"], "Wuhu");
    assert_eq!(done["decision"]["stages"][0]["attempt"], 2);
    let (_, who) = op
        .request("GET", &format!("/v1/tasks/{id}/files/who.txt"), None)
        .unwrap();
    assert_eq!(String::from_utf8(who).unwrap().trim(), "Wuhu 2");
    let (_, node) = call(&op, "GET", "/v1/nodes/Zhangjiakou", None);
    assert_eq!(node["agent"]["live"], false, "{node}");
    // A late report from the lost agent's attempt is refused.
    let (status, v) = call(
        &server.client(AGENT_ZJK),
        "POST",
        "/v1/agents/Zhangjiakou/complete",
        Some(json!({"task": id, "stage": 0, "attempt": 1, "exit_code": 0})),
    );
    assert_eq!(status, 409, "{v}");
}

#[test]
fn tokens_roles_and_tenants_are_enforced() {
    let dir = common::fresh_dir("serve", "auth");
    let server = Server::start(&dir, "accelerated:5");
    let a = server.client(OPERATOR);
    let b = server.client(OTHER);
    let task = json!({"origin": "Wuhu", "deadline_s": 600.0, "stages": [{"work_flop": 1e12}]});
    let (status, t) = call(&a, "POST", "/v1/tasks", Some(task.clone()));
    assert_eq!(status, 201, "{t}");
    let id = t["id"].as_u64().unwrap();

    assert_eq!(call(&server.client(""), "GET", "/v1/tasks", None).0, 401);
    assert_eq!(
        call(
            &server.client("not-a-token-at-all"),
            "GET",
            "/v1/nodes",
            None
        )
        .0,
        401
    );
    // Another tenant neither sees nor cancels it; the listing holds only its own.
    assert_eq!(call(&b, "GET", &format!("/v1/tasks/{id}"), None).0, 404);
    assert_eq!(call(&b, "DELETE", &format!("/v1/tasks/{id}"), None).0, 404);
    let (_, page) = call(&b, "GET", "/v1/tasks", None);
    assert_eq!(page["tasks"], json!([]));
    let (_, page) = call(&server.client(ADMIN), "GET", "/v1/tasks", None);
    assert_eq!(page["tasks"][0]["tenant"], "a");
    // Agents use only their own node's endpoints.
    let agent = server.client(AGENT_ZJK);
    assert_eq!(call(&agent, "POST", "/v1/tasks", Some(task)).0, 403);
    assert_eq!(call(&agent, "GET", &format!("/v1/tasks/{id}"), None).0, 403);
    assert_eq!(
        call(&agent, "POST", "/v1/agents/Wuhu/heartbeat", Some(json!({}))).0,
        403
    );
    assert_eq!(
        call(
            &agent,
            "POST",
            "/v1/agents/Zhangjiakou/heartbeat",
            Some(json!({}))
        )
        .0,
        200
    );
    // Not even an admin speaks for a node's agent: its heartbeat would mark a ground
    // station served by an agent that runs nothing, and submissions from it would fail.
    let admin = server.client(ADMIN);
    let (status, v) = call(
        &admin,
        "POST",
        "/v1/agents/Beijing-Miyun/heartbeat",
        Some(json!({})),
    );
    assert_eq!(status, 403, "{v}");
    std::thread::sleep(Duration::from_secs(4));
    let (_, station) = call(&a, "GET", "/v1/nodes/Beijing-Miyun", None);
    assert_eq!(station["down"], false, "{station}");
    let (status, t) = call(
        &a,
        "POST",
        "/v1/tasks",
        Some(
            json!({"origin": "Beijing-Miyun", "deadline_s": 600.0, "stages": [{"work_flop": 1e12}]}),
        ),
    );
    assert_eq!(status, 201, "{t}");
    // Operators do not read metrics; admins do.
    assert_eq!(call(&a, "GET", "/metrics", None).0, 403);
    let (status, text) = server
        .client(ADMIN)
        .request("GET", "/metrics", None)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert_eq!(status, 200);
    assert!(
        text.contains("tiandi_submissions_total{outcome=\"accepted\"} 2"),
        "{text}"
    );
}

#[test]
fn bad_input_is_refused_with_the_field_named() {
    let dir = common::fresh_dir("serve", "bad_input");
    let server = Server::start(&dir, "accelerated:5");
    let op = server.client(OPERATOR);
    let post = |body: &str| {
        let (s, v) = op
            .request("POST", "/v1/tasks", Some(body.as_bytes()))
            .unwrap();
        (
            s,
            serde_json::from_slice::<Value>(&v).unwrap_or(Value::Null),
        )
    };
    let cases: [(&str, u16, &str); 10] = [
        ("{\"origin\": ", 400, "origin"),
        ("[1, 2", 400, "body"),
        (
            "{\"deadline_s\": 60, \"stages\": [{\"work_flop\": 1}]}",
            400,
            "origin",
        ),
        (
            "{\"origin\": \"Wuhu\", \"deadline_s\": -5, \"stages\": [{\"work_flop\": 1}]}",
            400,
            "deadline_s",
        ),
        (
            "{\"origin\": \"Wuhu\", \"deadline_s\": 60, \"stages\": [{\"work_flop\": -1}]}",
            400,
            "stages[0].work_flop",
        ),
        (
            "{\"origin\": \"Wuhu\", \"deadline_s\": 60, \"stages\": [{\"work_flop\": \"lots\"}]}",
            400,
            "stages[0].work_flop",
        ),
        (
            "{\"origin\": \"Atlantis\", \"deadline_s\": 60, \"stages\": [{\"work_flop\": 1}]}",
            400,
            "origin",
        ),
        (
            "{\"origin\": \"Wuhu\", \"deadline_s\": 60, \"stages\": [{\"work_flop\": 1, \"after\": [0]}]}",
            400,
            "stages[0].after",
        ),
        (
            "{\"origin\": \"Wuhu\", \"deadline_s\": 60, \"stages\": [{\"work_flop\": 1, \"colour\": 2}]}",
            400,
            "stages[0].colour",
        ),
        // No node computes 1e24 FLOP within a second.
        (
            "{\"origin\": \"Wuhu\", \"deadline_s\": 1, \"stages\": [{\"work_flop\": 1e24}]}",
            422,
            "deadline_s",
        ),
    ];
    for (body, status, field) in cases {
        let (s, v) = post(body);
        assert_eq!(
            (s, v["field"].as_str()),
            (status, Some(field)),
            "{body} -> {v}"
        );
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // A command stage with no live agent anywhere cannot be placed.
    let (s, v) = post(
        "{\"origin\": \"Wuhu\", \"deadline_s\": 60, \"stages\": [{\"work_flop\": 1, \"run\": {\"command\": [\"true\"]}}]}",
    );
    assert_eq!((s, v["field"].as_str()), (422, Some("stages[0]")), "{v}");
    // Too large a body.
    let big = format!("{{\"origin\": \"{}\"}}", "x".repeat(70_000));
    // ... answered in the API's JSON error form.
    let (s, v) = post(&big);
    assert_eq!((s, v["field"].as_str()), (413, Some("body")), "{v}");
    // A deadline too short to be a deadline names the request's field.
    let (s, v) =
        post("{\"origin\": \"Wuhu\", \"deadline_s\": 1e-12, \"stages\": [{\"work_flop\": 1}]}");
    assert_eq!((s, v["field"].as_str()), (400, Some("deadline_s")), "{v}");
    let (s, v) = call(&op, "GET", "/v1/tasks?limit=0", None);
    assert_eq!((s, v["field"].as_str()), (400, Some("limit")));
    let (s, v) = call(
        &op,
        "GET",
        "/v1/routes?src=Wuhu&dst=Kashgar&at=yesterday",
        None,
    );
    assert_eq!((s, v["field"].as_str()), (400, Some("at")));
    let (s, v) = call(&op, "GET", "/v1/routes?src=Wuhu&dst=Kashgar", None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["hops"][0], "Wuhu");
    // Nothing invalid was stored.
    let (_, page) = call(&op, "GET", "/v1/tasks", None);
    assert_eq!(page["tasks"], json!([]));

    // A bad configuration names the file, line and key, and the service does not start.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "store = \"s.redb\"\nclock = \"sometimes\"\n").unwrap();
    let out = common::tiandi(&dir, &["serve", "--config", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("bad.toml:2: clock:"), "{err}");
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_task() {
    let dir = common::fresh_dir("serve", "crash");
    let mut server = Server::start(&dir, "accelerated:50");
    let _agent = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &dir.join("zjk"));
    wait_agent(&server.client(OPERATOR), "Zhangjiakou");
    // (id, idempotency key, carries a command) of every 2xx answer
    let acked: Arc<Mutex<Vec<(u64, String, bool)>>> = Arc::default();
    let mut rng = 0x5EED_u64;
    for round in 0..4 {
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let (stop, acked) = (stop.clone(), acked.clone());
                let client = server.client(OPERATOR);
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let command = n.is_multiple_of(10);
                        let mut stage = json!({"work_flop": 1e12 * (1 + n % 7) as f64});
                        if command {
                            stage["run"] = json!({"command": ["sh", "-c", "echo $TIANDI_TASK_ID > ran.txt"],
                                "outputs": ["ran.txt"]});
                        }
                        let key = format!("r{round}-w{w}-{n}");
                        let body = json!({"origin": "Beijing-Miyun", "deadline_s": 3600.0,
                            "stages": [stage], "idempotency_key": key});
                        match client.request("POST", "/v1/tasks", Some(body.to_string().as_bytes()))
                        {
                            // 200: the client sent it again across the kill, and the first
                            // attempt had been stored (its answer was lost).
                            Ok((201 | 200, b)) => {
                                let v: Value = serde_json::from_slice(&b).unwrap();
                                acked.lock().unwrap().push((
                                    v["id"].as_u64().unwrap(),
                                    key,
                                    command,
                                ));
                            }
                            // 422 for a command stage: the restarted service has not heard
                            // the agent's next heartbeat yet (it restores liveness only for
                            // agents that held work). Refused, so nothing was acknowledged.
                            Ok((422, b))
                                if command
                                    && String::from_utf8_lossy(&b).contains("no node with a live agent") =>
                            {
                                std::thread::sleep(Duration::from_millis(20))
                            }
                            Ok((s, b)) => panic!("{s}: {}", String::from_utf8_lossy(&b)),
                            // No answer within the client's retry budget: nothing was
                            // acknowledged.
                            Err(_) => std::thread::sleep(Duration::from_millis(20)),
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
            })
            .collect();
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(400 + (rng >> 33) % 800));
        server.crash_and_restart();
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
    }
    let acked = acked.lock().unwrap().clone();
    let n_command = acked.iter().filter(|(_, _, c)| *c).count();
    assert!(
        acked.len() > 100 && n_command > 5,
        "too little load: {} tasks",
        acked.len()
    );
    eprintln!(
        "{} tasks acknowledged ({n_command} with a command) across 4 SIGKILLs",
        acked.len()
    );
    // Every acknowledged task is there and reaches a final state: completed.
    let op = server.client(OPERATOR);
    let t0 = Instant::now();
    // An id acknowledged twice means the first task was lost and its id handed out again.
    let mut keys: BTreeMap<u64, &str> = BTreeMap::new();
    for (id, key, _) in &acked {
        if let Some(first) = keys.insert(*id, key) {
            panic!("task {id} ({first}) lost: its id was given again to {key}");
        }
    }
    let mut pending: BTreeSet<u64> = keys.keys().copied().collect();
    while !pending.is_empty() {
        let mut still = BTreeSet::new();
        for &id in &pending {
            let (status, v) = call(&op, "GET", &format!("/v1/tasks/{id}"), None);
            assert_eq!(status, 200, "acknowledged task {id} lost: {v}");
            // The same task, not another one that took its id after a restart.
            assert_eq!(
                v["idempotency_key"],
                json!(keys[&id]),
                "acknowledged task {id} lost"
            );
            match v["state"].as_str().unwrap() {
                "completed" => {}
                "queued" | "running" => {
                    still.insert(id);
                }
                other => panic!("task {id} ended {other}: {v}"),
            }
        }
        pending = still;
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "{} tasks never finished, e.g. {:?}",
            pending.len(),
            pending.iter().next()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The listing pages through all of them (most ended long ago and are read from the
    // store, not memory).
    let mut listed = BTreeSet::new();
    let mut after = 0;
    loop {
        let (status, page) = call(
            &op,
            "GET",
            &format!("/v1/tasks?limit=1000&after={after}"),
            None,
        );
        assert_eq!(status, 200, "{page}");
        listed.extend(
            page["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_u64().unwrap()),
        );
        match page["next_after"].as_u64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert!(
        keys.keys().all(|id| listed.contains(id)),
        "{} listed",
        listed.len()
    );
    let (_, h) = call(&server.client(ADMIN), "GET", "/healthz", None);
    assert!(h["tasks"].as_u64().unwrap() >= keys.len() as u64, "{h}");
    let (_, metrics) = server
        .client(ADMIN)
        .request("GET", "/metrics", None)
        .unwrap();
    let metrics = String::from_utf8(metrics).unwrap();
    let in_memory: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tiandi_tasks_in_memory "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(in_memory <= 1_000 + 50, "{in_memory} tasks in memory");
    // No command ran twice: the agent logs each start (a stage cannot write outside its
    // sandbox), and each output names the task that wrote it.
    let log = std::fs::read_to_string(dir.join("zjk.log")).unwrap_or_default();
    let mut runs: BTreeMap<u64, u32> = BTreeMap::new();
    for line in log.lines().filter(|l| l.ends_with(": started")) {
        let id = line
            .split_whitespace()
            .nth(3)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("unreadable agent line {line:?}"));
        *runs.entry(id).or_default() += 1;
    }
    for (id, _, command) in acked.iter().filter(|a| a.2) {
        let (_, out) = op
            .request("GET", &format!("/v1/tasks/{id}/files/ran.txt"), None)
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out).trim(),
            id.to_string(),
            "{command}"
        );
    }
    for (id, _, command) in &acked {
        if *command {
            assert_eq!(
                runs.get(id),
                Some(&1),
                "command task {id} ran {:?} times",
                runs.get(id)
            );
        }
    }
    assert!(
        runs.values().all(|&n| n == 1),
        "a command ran twice: {runs:?}"
    );
}

#[test]
fn https_when_a_certificate_is_configured() {
    let dir = common::fresh_dir("serve", "tls");
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = key.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), key.signing_key.serialize_pem()).unwrap();
    let config = dir.join("serve.toml");
    let text = config_text(&dir.join("store.redb"), "accelerated:20")
        + "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n";
    std::fs::write(&config, text).unwrap();
    let server = Server::start_on(&dir, &config, free_port(), Some(cert_pem.into_bytes()));
    assert!(server.url.starts_with("https://"));

    // The whole path over TLS: an agent that trusts the certificate, a submission, a run.
    let _agent = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &dir.join("zjk"));
    let op = server.client(OPERATOR);
    wait_agent(&op, "Zhangjiakou");
    let (status, t) = call(
        &op,
        "POST",
        "/v1/tasks",
        Some(json!({"origin": "Beijing-Miyun", "deadline_s": 600.0,
            "stages": [{"work_flop": 1e12, "run": {"command": ["true"]}}]})),
    );
    assert_eq!(status, 201, "{t}");
    wait_task(&op, t["id"].as_u64().unwrap(), 30, |v| {
        v["state"] == "completed"
    });

    // A client that does not trust the certificate gets no answer, nor does plain HTTP.
    let stranger = Client::new(&server.url, OPERATOR, Duration::from_secs(5));
    assert!(stranger.request("GET", "/healthz", None).is_err());
    let plain = Client::new(
        &format!("http://127.0.0.1:{}", server.port),
        OPERATOR,
        Duration::from_secs(5),
    );
    assert!(!matches!(
        plain.request("GET", "/healthz", None),
        Ok((200, _))
    ));
}

#[test]
fn work_that_ends_while_the_server_is_down_is_stored_as_ended() {
    let dir = common::fresh_dir("serve", "down_time");
    let mut server = Server::start(&dir, "accelerated:5");
    let op = server.client(OPERATOR);
    let (status, t) = call(
        &op,
        "POST",
        "/v1/tasks",
        Some(json!({"origin": "Wuhu", "deadline_s": 3600.0, "stages": [{"work_flop": 1e16}]})),
    );
    assert_eq!(status, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    // Killed before the task ends; it ends (on the twin clock) while the server is down.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let twin_s = |k: &str| {
        tiandi_orbit::Epoch::parse_iso(t[k].as_str().unwrap())
            .unwrap()
            .unix_ns() as f64
            / 1e9
    };
    let wall_s = (twin_s("expected_finish") - twin_s("twin_submitted")) / 5.0;
    assert!(wall_s > 0.2, "the task must outlast the kill: {t}");
    std::thread::sleep(Duration::from_secs_f64(wall_s + 0.5));
    server.crash_and_restart();
    let op = server.client(OPERATOR);
    wait_task(&op, id, 10, |v| v["state"] == "completed");
    // The listing reads the store: the completion found at start-up must be stored too.
    let t0 = Instant::now();
    loop {
        let (_, page) = call(&op, "GET", "/v1/tasks?state=completed", None);
        if page["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["id"] == id)
        {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "completion never stored: {page}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A modelled task that ends at once, under idempotency key `key`.
fn quick_task(key: &str) -> Value {
    json!({"origin": "Beijing-Miyun", "deadline_s": 600.0, "idempotency_key": key,
        "stages": [{"work_flop": 1e9}]})
}

/// A task's view without the fields that change as it runs: what was decided.
fn decided(task: &Value) -> Value {
    let mut v = task.clone();
    let o = v.as_object_mut().unwrap();
    for k in ["state", "finished", "deadline_met", "reason"] {
        o.remove(k);
    }
    for s in v["decision"]["stages"].as_array_mut().unwrap() {
        let s = s.as_object_mut().unwrap();
        s.remove("state");
        s.remove("exit_code");
    }
    v
}

/// A value of the admin's `/metrics`.
fn metric(server: &Server, name: &str) -> u64 {
    let (status, text) = server
        .client(ADMIN)
        .request("GET", "/metrics", None)
        .unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no metric {name}"))
        .parse()
        .unwrap()
}

/// Issue 11, item 4: a key whose task ended more than `keep_finished_in_memory` tasks ago
/// lives only in the store; repeating it must answer that task (it panicked the handler,
/// and the client got no answer).
#[test]
fn a_repeated_key_gets_its_task_after_it_left_memory_and_after_a_restart() {
    let dir = common::fresh_dir("serve", "old_key");
    // The harness keeps 1,000 ended tasks in memory, the least the configuration allows.
    let mut server = Server::start(&dir, "accelerated:10");
    let op = server.client(OPERATOR);
    let (status, first) = call(&op, "POST", "/v1/tasks", Some(quick_task("old-0")));
    assert_eq!(status, 201, "{first}");
    let id = first["id"].as_u64().unwrap();
    assert!(
        first["decision"]["stages"][0]["node"].is_string(),
        "{first}"
    );
    wait_task(&op, id, 30, |v| v["state"] == "completed");
    // More tasks than memory keeps end after it, so it leaves memory. Four connections at
    // once share the store's commits.
    const N_MORE: usize = 1_050;
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let c = server.client(OPERATOR);
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for n in (1 + w..=N_MORE).step_by(4) {
                    let key = format!("old-{n}");
                    let (status, v) = call(&c, "POST", "/v1/tasks", Some(quick_task(&key)));
                    assert_eq!(status, 201, "{key}: {v}");
                    out.push((key, v));
                }
                out
            })
        })
        .collect();
    let mut recent: Vec<(String, Value)> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    recent.sort_by_key(|(_, v)| v["id"].as_u64());
    let t0 = Instant::now();
    while metric(&server, "tiandi_tasks{state=\"completed\"}") < 1 + N_MORE as u64 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "tasks never finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(metric(&server, "tiandi_tasks_in_memory") <= 1_000);

    let (last_key, last) = recent.last().unwrap().clone();
    let mut their_id: Option<Value> = None;
    for round in ["before a restart", "after a restart"] {
        // The oldest key: its task is only in the store.
        let read = metric(&server, "tiandi_store_records_read_total");
        let duplicates = metric(&server, "tiandi_submissions_total{outcome=\"duplicate\"}");
        let (status, again) = call(&op, "POST", "/v1/tasks", Some(quick_task("old-0")));
        assert_eq!(status, 200, "{round}: {again}");
        assert_eq!(again["id"], json!(id), "{round}: {again}");
        assert_eq!(again["state"], "completed", "{round}: {again}");
        assert_eq!(decided(&again), decided(&first), "{round}");
        assert!(
            metric(&server, "tiandi_store_records_read_total") > read,
            "{round}: task {id} was not read from the store, so this tested nothing"
        );
        assert_eq!(
            metric(&server, "tiandi_submissions_total{outcome=\"duplicate\"}"),
            duplicates + 1,
            "{round}"
        );
        // A recent key: its task is in memory.
        let (status, again) = call(&op, "POST", "/v1/tasks", Some(quick_task(&last_key)));
        assert_eq!(status, 200, "{round}: {again}");
        assert_eq!(decided(&again), decided(&last), "{round}");
        // Keys are per tenant: another tenant's "old-0" is its own task, new the first
        // time and the same one after the restart.
        let (status, theirs) = call(
            &server.client(OTHER),
            "POST",
            "/v1/tasks",
            Some(quick_task("old-0")),
        );
        assert_ne!(
            theirs["id"],
            json!(id),
            "{round}: another tenant got task {id}"
        );
        assert_eq!(theirs["tenant"], "b", "{round}: {theirs}");
        match &their_id {
            None => {
                assert_eq!(status, 201, "{round}: {theirs}");
                their_id = Some(theirs["id"].clone());
            }
            Some(before) => assert_eq!((status, &theirs["id"]), (200, before), "{round}"),
        }

        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
        assert!(
            !log.contains("panic"),
            "{round}: the server panicked:\n{log}"
        );
        if round == "before a restart" {
            server.crash_and_restart();
        }
    }
}

/// `tiandi load` with two addresses, the first where nothing listens: every submission is
/// accepted through the second, the retries say so, and `--record` lists each key once
/// with the task it made. Run again with the same seed, the same keys get the same tasks.
#[test]
fn load_fails_over_past_a_closed_address_and_records_each_key_once() {
    let dir = common::fresh_dir("serve", "load_failover");
    let server = Server::start(&dir, "accelerated:20");
    let closed = format!("http://127.0.0.1:{}", free_port());
    let n = 40;
    let load = |servers: &[&str], record: &str| -> Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tiandi"))
            .arg("load")
            .args(servers)
            .args(["--token", OPERATOR, "--rate", "40", "--duration-s", "1"])
            .args(["--connections", "2", "--seed", "7", "--record"])
            .arg(dir.join(record))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let read = |record: &str| -> Vec<Acknowledged> {
        let text = std::fs::read_to_string(dir.join(record)).unwrap();
        assert_eq!(text.lines().next(), Some("idempotency_key,id,status,nodes"));
        csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .unwrap()
    };

    let both = format!("{closed},{}", server.url);
    let report = load(&["--server", &both], "first.csv");
    for (field, want) in [
        ("sent", n),
        ("accepted", n),
        ("duplicates", 0),
        ("errors", 0),
    ] {
        assert_eq!(report[field], json!(want), "{field}: {report}");
    }
    // The first request of each client (the probe's, and each connection's first
    // submission) found the first address closed; after that, they remember the second.
    assert!(report["retries"].as_u64().unwrap() >= 3, "{report}");
    let first = read("first.csv");
    let keys: Vec<String> = first.iter().map(|r| r.idempotency_key.clone()).collect();
    let want: Vec<String> = (0..n).map(|i| format!("load-7-{i}")).collect();
    assert_eq!(keys, want, "each key once, in submission order");
    let ids: BTreeSet<u64> = first.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), n as usize, "{first:?}");
    // Each row is the service's task: its key, and the nodes of its decision.
    let op = server.client(OPERATOR);
    for r in &first {
        assert_eq!(r.status, 201, "{r:?}");
        let (status, task) = call(&op, "GET", &format!("/v1/tasks/{}", r.id), None);
        assert_eq!(status, 200, "{task}");
        assert_eq!(task["idempotency_key"], json!(r.idempotency_key), "{task}");
        let nodes: Vec<&str> = task["decision"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["node"].as_str().unwrap())
            .collect();
        assert_eq!(r.nodes, nodes.join(";"), "{task}");
    }

    // The same seed again (the addresses given the other way: the flag repeated): every
    // submission is answered with the task its key already made.
    let again = load(&["--server", &closed, "--server", &server.url], "again.csv");
    assert_eq!(
        (&again["accepted"], &again["duplicates"]),
        (&json!(n), &json!(n)),
        "{again}"
    );
    let again = read("again.csv");
    assert_eq!(again.len(), first.len());
    for (a, f) in again.iter().zip(&first) {
        assert_eq!(
            (a.status, &a.idempotency_key, a.id),
            (200, &f.idempotency_key, f.id)
        );
    }
}

/// `tiandi agent` given two addresses, the first where nothing listens, registers through
/// the second and runs its node's work. A malformed address is refused before anything
/// (shown with `tiandi load`, which shares the agent's flags for the service).
#[test]
fn an_agent_fails_over_past_a_closed_address() {
    let dir = common::fresh_dir("serve", "agent_failover");
    let server = Server::start(&dir, "accelerated:20");
    let closed = format!("http://127.0.0.1:{}", free_port());
    let addresses = format!("{closed},{}", server.url);
    let work = dir.join("zjk");
    let _agent = Agent::start_via(&server, &addresses, "Zhangjiakou", AGENT_ZJK, &work, &[]);
    let op = server.client(OPERATOR);
    wait_agent(&op, "Zhangjiakou");
    let (status, t) = call(
        &op,
        "POST",
        "/v1/tasks",
        Some(json!({"origin": "Beijing-Miyun", "deadline_s": 600.0,
            "stages": [{"work_flop": 1e12, "run": {"command": ["true"]}}]})),
    );
    assert_eq!(status, 201, "{t}");
    wait_task(&op, t["id"].as_u64().unwrap(), 30, |v| {
        v["state"] == "completed"
    });
    let log = std::fs::read_to_string(work.with_extension("log")).unwrap();
    assert!(
        log.contains(&format!("registered with {}", server.url)),
        "{log}"
    );

    for bad in ["127.0.0.1:7878", "http://", ""] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tiandi"))
            .args(["load", "--token", OPERATOR, "--server"])
            .arg(format!("{},{bad}", server.url))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("expected a URL"),
            "{bad:?}: {err}"
        );
    }
}
