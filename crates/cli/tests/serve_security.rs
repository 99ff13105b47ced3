//! The control plane under attack and under faults, through the real binaries: a hostile
//! tenant's stage against the agent's token and another tenant's files, forged
//! completions, an agent killed mid-stage, cancel / timeout / agent stop ending whole
//! process trees, outputs over the limit, byte quotas, slow and idle connections, SIGTERM
//! with an event stream open, listings that read only the tenant's records, a hostile
//! service against the agent, and token files.

mod common;
#[path = "common/serve_harness.rs"]
mod serve_harness;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use serve_harness::*;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn submit(c: &tiandi_server::agent::Client, body: Value) -> u64 {
    let (status, t) = call(c, "POST", "/v1/tasks", Some(body));
    assert_eq!(status, 201, "{t}");
    t["id"].as_u64().unwrap()
}

fn file(c: &tiandi_server::agent::Client, id: u64, name: &str) -> String {
    let (status, b) = c
        .request("GET", &format!("/v1/tasks/{id}/files/{name}"), None)
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
    String::from_utf8_lossy(&b).into_owned()
}

/// A command stage on Zhangjiakou.
fn command_task(command: &str, inputs: Value, outputs: Value, timeout_s: f64) -> Value {
    json!({"origin": "Beijing-Miyun", "deadline_s": 3600.0,
        "stages": [{"work_flop": 1e12, "run": {"command": ["sh", "-c", command],
            "inputs": inputs, "outputs": outputs, "timeout_s": timeout_s}}]})
}

#[test]
fn a_tenant_stage_sees_neither_the_agent_token_nor_another_tenants_files() {
    if !require_sandbox("a_tenant_stage_sees_neither_the_agent_token_nor_another_tenants_files") {
        return;
    }
    let dir = common::fresh_dir("serve_security", "isolation");
    let server = Server::start(&dir, "accelerated:5");
    let work = dir.join("zjk");
    // Default options, token from the environment: the set-up the docs give.
    let _agent = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &work);
    let a = server.client(OPERATOR);
    let b = server.client(OTHER);
    wait_agent(&a, "Zhangjiakou");

    // Tenant A's stage holds a private input and runs for a while.
    let private = "A-PRIVATE-7f3c9e21-taklamakan";
    let marker = "88.4213";
    let a_id = submit(
        &a,
        command_task(
            &format!("sleep {marker}"),
            json!({"secret.txt": private}),
            json!([]),
            120.0,
        ),
    );
    wait_running(marker, 20);
    let a_dir = std::fs::read_dir(&work)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("task-{a_id}-stage-0-"))
                && p.is_dir()
        })
        .expect("A's stage directory");

    // Tenant B's stage tries everything it can think of and returns what it found.
    let script = format!(
        r#"{{ echo "== env"; env
echo "== parent"; cat /proc/$PPID/cmdline /proc/$PPID/environ
echo "== all processes"; for p in /proc/[0-9]*; do echo "$p"; cat $p/cmdline $p/environ; done
echo "== A's directory"; ls -la {a} ; cat {a}/secret.txt
echo "== work"; ls -la {w}; cat {w}/*/secret.txt
echo "== search"; find / -xdev -name secret.txt 2>/dev/null; grep -rs taklamakan /work /tmp | head
echo "== who"; id
}} > loot.txt 2>&1; true"#,
        a = a_dir.display(),
        w = work.display()
    );
    let b_id = submit(
        &b,
        command_task(&script, json!({}), json!(["loot.txt"]), 30.0),
    );
    let done = wait_task(&b, b_id, 60, |v| {
        v["state"] != "running" && v["state"] != "queued"
    });
    assert_eq!(done["state"], "completed", "{done}");
    let loot = file(&b, b_id, "loot.txt");
    // The probe really ran, and found nothing.
    assert!(loot.contains("TIANDI_TASK_ID"), "{loot}");
    assert!(loot.contains("== all processes"), "{loot}");
    assert!(!loot.contains(AGENT_ZJK), "the agent token leaked:\n{loot}");
    assert!(!loot.contains("agent-token"), "a token leaked:\n{loot}");
    assert!(!loot.contains(private), "A's input leaked:\n{loot}");
    // Not root, and not the agent's user.
    assert!(loot.contains("uid=65534"), "{loot}");

    // A's stage is unharmed; cancel it (its processes end with it).
    assert_eq!(
        call(&a, "DELETE", &format!("/v1/tasks/{a_id}"), None).0,
        200
    );
    wait_gone(marker, 10, "cancelled stage");

    // The README's example task still completes.
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/serve/task.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let id = submit(&a, example);
    wait_task(&a, id, 60, |v| v["state"] == "completed");
    assert!(file(&a, id, "result.txt").contains("tile analysed on Zhangjiakou"));
}

#[test]
fn a_completion_needs_its_attempt_secret_even_with_the_node_token() {
    let dir = common::fresh_dir("serve_security", "secret");
    // The operator's token is given hashed: the configuration holds no secret.
    let digest = tiandi_server::secret::hex(&tiandi_server::secret::digest("hashed-operator-0099"));
    let server = Server::start_with(&dir, "accelerated:5", "");
    let text = std::fs::read_to_string(&server.config).unwrap()
        + &format!(
            "[[tokens]]\ntoken_sha256 = \"{digest}\"\nrole = \"operator\"\ntenant = \"h\"\n"
        );
    drop(server);
    std::fs::write(dir.join("serve.toml"), text).unwrap();
    let server = Server::start_on(&dir, &dir.join("serve.toml"), free_port(), None);
    let op = server.client("hashed-operator-0099");
    // The test is the agent here: heartbeat, poll, report.
    let agent = server.client(AGENT_ZJK);
    let beat = call(
        &agent,
        "POST",
        "/v1/agents/Zhangjiakou/heartbeat",
        Some(json!({})),
    );
    assert_eq!(beat.0, 200, "{}", beat.1);
    let id = submit(
        &op,
        command_task("echo real > out.txt", json!({}), json!(["out.txt"]), 60.0),
    );
    let (status, answer) = call(
        &agent,
        "POST",
        "/v1/agents/Zhangjiakou/poll",
        Some(json!({"max": 1, "instance": "test-agent"})),
    );
    assert_eq!(status, 200, "{answer}");
    let secret = answer["assignments"][0]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(secret.len() >= 32, "{answer}");
    let report = |secret: Option<&str>| {
        json!({"task": id, "stage": 0, "attempt": 1, "exit_code": 0,
            "outputs": {"out.txt": b64(b"forged")}, "secret": secret})
    };
    for forged in [None, Some("0".repeat(32).as_str()), Some(&secret[..31])] {
        let (status, v) = call(
            &agent,
            "POST",
            "/v1/agents/Zhangjiakou/complete",
            Some(report(forged)),
        );
        assert_eq!(status, 403, "{forged:?}: {v}");
    }
    let (_, t) = call(&op, "GET", &format!("/v1/tasks/{id}"), None);
    assert_eq!(
        (t["state"].as_str(), &t["files"]),
        (Some("running"), &json!([])),
        "{t}"
    );
    let (status, v) = call(
        &agent,
        "POST",
        "/v1/agents/Zhangjiakou/complete",
        Some(report(Some(&secret))),
    );
    assert_eq!(status, 200, "{v}");
    wait_task(&op, id, 20, |v| v["state"] == "completed");
    let (_, metrics) = server
        .client(ADMIN)
        .request("GET", "/metrics", None)
        .unwrap();
    assert!(
        String::from_utf8_lossy(&metrics).contains("tiandi_forged_reports_total 3"),
        "{}",
        String::from_utf8_lossy(&metrics)
    );
}

#[test]
fn killing_an_agent_mid_stage_ends_the_run_and_runs_never_overlap() {
    if !require_sandbox("killing_an_agent_mid_stage_ends_the_run_and_runs_never_overlap") {
        return;
    }
    let dir = common::fresh_dir("serve_security", "agent_kill");
    let server = Server::start(&dir, "accelerated:5");
    let op = server.client(OPERATOR);
    let work = dir.join("zjk");
    let mut agent = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &work);
    wait_agent(&op, "Zhangjiakou");
    let marker = "87.3109";
    // Count the stage's runs (attempts) alive at once, all along, from the environment
    // of every process that carries the stage's mark.
    let stop = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, most) = (stop.clone(), most.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let runs: std::collections::BTreeSet<String> = processes_with(marker)
                    .into_iter()
                    .filter_map(|pid| std::fs::read(format!("/proc/{pid}/environ")).ok())
                    .filter_map(|env| {
                        env.split(|&b| b == 0)
                            .find(|v| v.starts_with(b"TIANDI_ATTEMPT="))
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                    })
                    .collect();
                most.fetch_max(runs.len(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let id = submit(
        &op,
        command_task(
            &format!("sleep 1.5; sleep {marker} & sleep 2; echo $TIANDI_ATTEMPT > out.txt"),
            json!({}),
            json!(["out.txt"]),
            60.0,
        ),
    );
    wait_running(marker, 20);
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    // The first run ends with its agent, at once.
    wait_gone(marker, 3, "the killed agent's stage");
    let _agent = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &work);
    let done = wait_task(&op, id, 60, |v| v["state"] == "completed");
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    assert_eq!(file(&op, id, "out.txt").trim(), "2", "{done}");
    assert_eq!(done["decision"]["stages"][0]["attempt"], 2, "{done}");
    assert_eq!(most.load(Ordering::Relaxed), 1, "two runs overlapped");
}

#[test]
fn cancel_timeout_and_agent_stop_end_the_whole_process_tree() {
    if !require_sandbox("cancel_timeout_and_agent_stop_end_the_whole_process_tree") {
        return;
    }
    let dir = common::fresh_dir("serve_security", "trees");
    let server = Server::start(&dir, "accelerated:5");
    let op = server.client(OPERATOR);
    let _agent = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &dir.join("zjk"));
    wait_agent(&op, "Zhangjiakou");
    // Cancel: a stage with children and a grandchild in a new session.
    let marker = "86.1201";
    let id = submit(
        &op,
        command_task(
            &format!(
                "sleep {marker} & (setsid sleep {marker} &); sleep {marker}; echo late > out.txt"
            ),
            json!({}),
            json!(["out.txt"]),
            120.0,
        ),
    );
    // All three: the shell's child, the grandchild in its own session, and the last one.
    wait_processes(marker, 3, 20);
    assert_eq!(call(&op, "DELETE", &format!("/v1/tasks/{id}"), None).0, 200);
    wait_gone(marker, 5, "cancelled stage");
    let (_, t) = call(&op, "GET", &format!("/v1/tasks/{id}"), None);
    assert_eq!(t["files"], json!([]), "{t}");

    // Timeout.
    let marker = "86.2202";
    let id = submit(
        &op,
        command_task(
            &format!("sleep {marker} & sleep {marker}"),
            json!({}),
            json!([]),
            1.5,
        ),
    );
    let t = wait_task(&op, id, 30, |v| v["state"] == "failed");
    assert!(t["reason"].as_str().unwrap().contains("timed out"), "{t}");
    wait_gone(marker, 3, "timed-out stage");

    // The agent stops (--run-for-s) with a stage running.
    let marker = "86.3303";
    let server2_dir = dir.join("stop");
    std::fs::create_dir_all(&server2_dir).unwrap();
    let mut short = Agent::start_with(
        &server,
        "Wuhu",
        AGENT_WUHU,
        &server2_dir.join("wuhu"),
        &["--run-for-s", "4"],
    );
    wait_agent(&op, "Wuhu");
    submit(
        &op,
        json!({"origin": "Wuhu", "deadline_s": 3600.0, "stages": [{"work_flop": 1e12, "pin": "Wuhu",
            "run": {"command": ["sh", "-c", format!("sleep {marker} & sleep {marker}")], "timeout_s": 120.0}}]}),
    );
    wait_running(marker, 20);
    let status = short.0.wait().unwrap();
    assert!(status.success(), "{status}");
    wait_gone(marker, 3, "the stopped agent's stage");
}

#[test]
fn an_output_over_the_limit_fails_the_task_and_frees_its_quota() {
    let dir = common::fresh_dir("serve_security", "output_limit");
    let server = Server::start_with(&dir, "accelerated:5", "max_active_per_tenant = 1");
    let op = server.client(OPERATOR);
    let work = dir.join("zjk");
    let agent = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &work);
    wait_agent(&op, "Zhangjiakou");
    let id = submit(
        &op,
        command_task(
            "head -c 300000 /dev/zero > big.bin",
            json!({}),
            json!(["big.bin"]),
            60.0,
        ),
    );
    let t = wait_task(&op, id, 30, |v| v["state"] == "failed");
    assert!(
        t["reason"].as_str().unwrap().contains("over the limit"),
        "{t}"
    );
    assert_eq!(t["deadline_met"], false, "{t}");
    // The quota of one unfinished task is free again.
    let next = submit(
        &op,
        command_task("echo ok > o.txt", json!({}), json!(["o.txt"]), 60.0),
    );
    wait_task(&op, next, 30, |v| v["state"] == "completed");
    // A new agent process does not run the failed stage again.
    drop(agent);
    let _again = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &work);
    std::thread::sleep(Duration::from_secs(2));
    let log = std::fs::read_to_string(work.with_extension("log")).unwrap();
    let starts = log
        .lines()
        .filter(|l| l.starts_with(&format!("tiandi agent: task {id} ")) && l.ends_with("started"))
        .count();
    assert_eq!(starts, 1, "{log}");

    // Bytes count too: five outputs reserve more than a 1 MiB byte quota.
    drop(server);
    let dir = common::fresh_dir("serve_security", "byte_quota");
    let server = Server::start_with(
        &dir,
        "accelerated:5",
        "max_active_bytes_per_tenant = 1048576",
    );
    let op = server.client(OPERATOR);
    let (status, v) = call(
        &op,
        "POST",
        "/v1/tasks",
        Some(command_task(
            "true",
            json!({"in.txt": "x"}),
            json!(["a", "b", "c", "d", "e"]),
            60.0,
        )),
    );
    assert_eq!(status, 429, "{v}");
    assert!(v["error"].as_str().unwrap().contains("byte quota"), "{v}");
    // Two outputs fit the quota (and then find no agent: 422, not 429).
    let (status, v) = call(
        &op,
        "POST",
        "/v1/tasks",
        Some(command_task("true", json!({}), json!(["a", "b"]), 60.0)),
    );
    assert_eq!(status, 422, "{v}");
}

#[test]
fn slow_and_idle_connections_are_closed_and_health_still_answers() {
    let dir = common::fresh_dir("serve_security", "slowloris");
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "header_timeout_s = 1.5\nrequest_timeout_s = 1.5\n{}",
            config_text(&dir.join("store.redb"), "accelerated:5")
        ),
    )
    .unwrap();
    // 256 descriptors, as in the report that found the fault.
    let server = Server::spawn(&dir, &config, free_port(), None, Some(256));
    let addr = ("127.0.0.1", server.port);
    // 300 connections that never finish their headers, without a token.
    let slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
            s
        })
        .collect();
    // One keep-alive connection that asks once, then idles.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // One whose body never finishes: 408 once the request timeout passes.
    let mut stalled = TcpStream::connect(addr).unwrap();
    write!(
        stalled,
        "POST /v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR}\r\nContent-Length: 100\r\n\r\n{{\"origin\""
    )
    .unwrap();
    // The service still answers.
    let t0 = Instant::now();
    let health = server.client("");
    loop {
        if let Ok((200, _)) = health.request("GET", "/healthz", None) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "healthz never answered"
        );
    }
    // Every slow connection is closed by the server.
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = Vec::new();
        let r = s.read_to_end(&mut buf);
        assert!(r.is_ok(), "a slow connection stayed open: {r:?}");
    }
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = String::new();
    BufReader::new(stalled).read_line(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let r = idle.read_to_end(&mut buf);
    assert!(r.is_ok(), "the idle connection stayed open: {r:?}");
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
}

#[test]
fn sigterm_exits_with_an_event_stream_open() {
    let dir = common::fresh_dir("serve_security", "sigterm");
    let mut server = Server::start(&dir, "accelerated:5");
    let mut sse = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        sse,
        "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR}\r\n\r\n"
    )
    .unwrap();
    let mut first = String::new();
    BufReader::new(sse.try_clone().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // SAFETY: a signal to our own child.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGTERM);
    }
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    // The stream was closed, not left hanging.
    sse.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    assert!(sse.read_to_end(&mut rest).is_ok());
}

#[test]
fn a_tenants_listing_reads_only_its_own_records() {
    let dir = common::fresh_dir("serve_security", "listing");
    let server = Server::start(&dir, "accelerated:50");
    let a = server.client(OPERATOR);
    let b = server.client(OTHER);
    let admin = server.client(ADMIN);
    for _ in 0..300 {
        submit(
            &a,
            json!({"origin": "Wuhu", "deadline_s": 600.0, "stages": [{"work_flop": 1e9}]}),
        );
    }
    let mine = submit(
        &b,
        json!({"origin": "Wuhu", "deadline_s": 600.0, "stages": [{"work_flop": 1e9}]}),
    );
    let read = || -> u64 {
        let (_, m) = admin.request("GET", "/metrics", None).unwrap();
        String::from_utf8_lossy(&m)
            .lines()
            .find_map(|l| l.strip_prefix("tiandi_store_records_read_total "))
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = read();
    let (status, page) = call(&b, "GET", "/v1/tasks?limit=1000", None);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(page["tasks"][0]["id"], mine);
    assert!(read() - before <= 1, "{} records read", read() - before);
    // Eight large listings at once: each is answered, in full or with a 503 to retry.
    let codes: Vec<u16> = (0..8)
        .map(|_| {
            let c = server.client(OPERATOR);
            std::thread::spawn(move || {
                let (s, v) = call(&c, "GET", "/v1/tasks?limit=1000", None);
                if s == 200 {
                    assert_eq!(v["tasks"].as_array().unwrap().len(), 300);
                }
                s
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(codes.iter().all(|&c| c == 200 || c == 503), "{codes:?}");
    assert!(codes.contains(&200), "{codes:?}");
}

/// A fake service that hands the agent a hostile assignment and keeps its reports.
fn hostile_service(assignments: Vec<Value>) -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let reports: Arc<Mutex<Vec<Value>>> = Arc::default();
    let queue = Arc::new(Mutex::new(assignments));
    let kept = reports.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (reports, queue) = (kept.clone(), queue.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut w = stream;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let mut length = 0;
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    r.read_exact(&mut body).unwrap();
                    let answer = if path.ends_with("/poll") {
                        let next: Vec<Value> = queue.lock().unwrap().drain(..).collect();
                        json!({"assignments": next, "cancel": []})
                    } else if path.ends_with("/complete") {
                        reports
                            .lock()
                            .unwrap()
                            .push(serde_json::from_slice(&body).unwrap());
                        json!({"accepted": true})
                    } else {
                        json!({})
                    };
                    let text = answer.to_string();
                    write!(
                        w,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                        text.len()
                    )
                    .unwrap();
                }
            });
        }
    });
    (url, reports)
}

/// Runs `tiandi agent` (with `extra` flags, and `inherit` open at descriptor 8 as a
/// careless parent might leave it) against a fake service handing out `assignments`;
/// returns its reports by task once there is one for each.
fn agent_against(
    dir: &Path,
    assignments: Vec<Value>,
    extra: &[&str],
    inherit: Option<std::fs::File>,
) -> BTreeMap<u64, Value> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::process::CommandExt as _;
    let n = assignments.len();
    std::fs::create_dir_all(dir).unwrap();
    let (url, reports) = hostile_service(assignments);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tiandi"));
    cmd.args([
        "agent",
        "--server",
        &url,
        "--node",
        "Zhangjiakou",
        "--work-dir",
    ])
    .arg(dir.join("work"))
    .args(["--heartbeat-s", "0.2", "--run-for-s", "8"])
    .args(extra)
    .env("TIANDI_TOKEN", AGENT_ZJK)
    .stderr(std::fs::File::create(dir.join("agent.log")).unwrap());
    if let Some(f) = &inherit {
        let fd = f.as_raw_fd();
        // SAFETY: dup2 is async-signal-safe; it leaves the file open at 8 (without
        // close-on-exec) in the agent.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(fd, 8) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut agent = cmd.spawn().unwrap();
    let t0 = Instant::now();
    while reports.lock().unwrap().len() < n {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "reports: {:?}\n{}",
            reports.lock().unwrap(),
            std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = agent.wait();
    let reports = reports.lock().unwrap();
    reports
        .iter()
        .map(|r| (r["task"].as_u64().unwrap(), r.clone()))
        .collect()
}

/// An assignment as the fake service hands it out.
fn fake_assignment(task: u64, command: Value, inputs: Value, outputs: Value) -> Value {
    json!({"task": task, "stage": 0, "attempt": 1, "command": command,
        "inputs": inputs, "outputs": outputs, "timeout_s": 10.0, "secret": format!("s{task}")})
}

#[test]
fn a_hostile_service_cannot_make_the_agent_write_or_read_outside_the_stage() {
    if !require_sandbox("a_hostile_service_cannot_make_the_agent_write_or_read_outside_the_stage") {
        return;
    }
    let dir = common::fresh_dir("serve_security", "hostile_service");
    let sh = |c: &str| json!(["sh", "-c", c]);
    let host = std::fs::read("/etc/hostname").unwrap_or_else(|_| b"no hostname".to_vec());
    let by_task = agent_against(
        &dir.join("deep/er"),
        vec![
            fake_assignment(
                1,
                sh("true"),
                json!({"../../escape.txt": b64(b"x")}),
                json!([]),
            ),
            fake_assignment(
                2,
                sh("true"),
                json!({}),
                json!(["../../../../etc/hostname"]),
            ),
            fake_assignment(3, sh("true"), json!({}), json!(["/etc/hostname"])),
            // The stage leaves a link to a host file where its output should be.
            fake_assignment(
                4,
                sh("ln -s /etc/hostname out.txt"),
                json!({}),
                json!(["out.txt"]),
            ),
            fake_assignment(5, sh("mkfifo out.txt"), json!({}), json!(["out.txt"])),
        ],
        &[],
        None,
    );
    for (task, r) in &by_task {
        assert_eq!(r["exit_code"], Value::Null, "task {task}: {r}");
        assert_eq!(r["outputs"], json!({}), "task {task}: {r}");
        assert_eq!(r["secret"], format!("s{task}"), "{r}");
        assert!(!r.to_string().contains(&b64(&host)), "{r}");
    }
    assert!(by_task[&1]["message"].as_str().unwrap().contains("refused"));
    assert!(
        by_task[&4]["message"]
            .as_str()
            .unwrap()
            .contains("unreadable")
    );
    assert!(
        by_task[&5]["message"]
            .as_str()
            .unwrap()
            .contains("not a regular file")
    );
    // Nothing named escape.txt anywhere (the stage directory is under deep/er/work).
    let found = std::process::Command::new("find")
        .arg(&dir)
        .args(["-name", "escape.txt"])
        .output()
        .unwrap();
    assert!(
        found.status.success() && found.stdout.is_empty(),
        "{found:?}"
    );
}

#[test]
fn the_agent_refuses_unsafe_set_ups() {
    if !require_sandbox("the_agent_refuses_unsafe_set_ups") {
        return;
    }
    let dir = common::fresh_dir("serve_security", "agent_setup");
    let run = |args: &[&str], token: Option<&str>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tiandi"));
        c.args([
            "agent",
            "--server",
            "http://127.0.0.1:9",
            "--node",
            "Zhangjiakou",
        ])
        .arg("--work-dir")
        .arg(dir.join("w"))
        .args(args)
        .env_remove("TIANDI_TOKEN");
        if let Some(t) = token {
            c.env("TIANDI_TOKEN", t);
        }
        let out = c.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // No sandbox to be had: no command runs, unless the opt-out is explicit.
    let (ok, err) = run(&["--bwrap", "/nonexistent/bwrap"], Some(AGENT_ZJK));
    assert!(!ok && err.contains("--unsafe-no-sandbox"), "{err}");
    // A token file others can read is refused; one only its owner reads is taken.
    let token = dir.join("token");
    std::fs::write(&token, AGENT_ZJK).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, err) = run(&["--token-file", token.to_str().unwrap()], None);
    assert!(!ok && err.contains("chmod 600"), "{err}");
    let (ok, err) = run(&[], None);
    assert!(!ok && err.contains("--token-file"), "{err}");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, err) = run(
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--run-for-s",
            "0.3",
        ],
        None,
    );
    assert!(err.contains("bubblewrap sandbox"), "{err}");
    let (_, err) = run(
        &["--unsafe-no-sandbox", "--run-for-s", "0.3"],
        Some(AGENT_ZJK),
    );
    assert!(err.contains("WARNING"), "{err}");
}

#[test]
fn a_stage_cannot_crash_or_flood_the_agent() {
    if !require_sandbox("a_stage_cannot_crash_or_flood_the_agent") {
        return;
    }
    let dir = common::fresh_dir("serve_security", "agent_crash");
    let server = Server::start(&dir, "accelerated:5");
    let op = server.client(OPERATOR);
    let mut agent = Agent::start(&server, "Zhangjiakou", AGENT_ZJK, &dir.join("zjk"));
    wait_agent(&op, "Zhangjiakou");
    // A directory 30,000 levels deep (a recursive removal overflowed the agent's stack),
    // and 300 MB of standard error (the agent read it whole for the last line).
    let deep = submit(
        &op,
        command_task(
            "python3 -c \"import os\nfor i in range(30000):\n os.mkdir('d'); os.chdir('d')\"; echo ok > out.txt",
            json!({}),
            json!(["out.txt"]),
            120.0,
        ),
    );
    wait_task(&op, deep, 120, |v| v["state"] == "completed");
    let loud = submit(
        &op,
        command_task(
            "head -c 300000000 /dev/zero >&2; echo last words >&2; exit 3",
            json!({}),
            json!([]),
            120.0,
        ),
    );
    let t = wait_task(&op, loud, 120, |v| v["state"] == "failed");
    assert!(t["reason"].as_str().unwrap().contains("last words"), "{t}");
    // ... and the agent read only its tail: its peak memory stays far below 300 MB.
    let status = std::fs::read_to_string(format!("/proc/{}/status", agent.0.id())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(peak_kib < 100 * 1024, "agent peak memory {peak_kib} KiB");
    // The agent lives on and still runs work.
    assert!(agent.0.try_wait().unwrap().is_none(), "the agent died");
    let next = submit(
        &op,
        command_task("echo fine > o.txt", json!({}), json!(["o.txt"]), 60.0),
    );
    wait_task(&op, next, 60, |v| v["state"] == "completed");
    // One token holds at most 16 event streams.
    let streams: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            write!(
                s,
                "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OTHER}\r\n\r\n"
            )
            .unwrap();
            let mut line = String::new();
            BufReader::new(s.try_clone().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert!(line.starts_with("HTTP/1.1 200"), "{line}");
            s
        })
        .collect();
    let (status, v) = call(&server.client(OTHER), "GET", "/v1/events", None);
    assert_eq!(status, 429, "{v}");
    drop(streams);
    std::thread::sleep(Duration::from_millis(300));
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        s,
        "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OTHER}\r\n\r\n"
    )
    .unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "places are freed: {line}");
}

#[test]
fn the_node_command_policy_refuses_other_programs() {
    if !require_sandbox("the_node_command_policy_refuses_other_programs") {
        return;
    }
    let dir = common::fresh_dir("serve_security", "allow_program");
    let by_task = agent_against(
        &dir,
        vec![
            fake_assignment(1, json!(["sh", "-c", "true"]), json!({}), json!([])),
            fake_assignment(2, json!(["true"]), json!({}), json!([])),
        ],
        &["--allow-program", "true"],
        None,
    );
    assert_eq!(by_task[&1]["exit_code"], Value::Null);
    assert!(
        by_task[&1]["message"]
            .as_str()
            .unwrap()
            .contains("not allowed"),
        "{}",
        by_task[&1]
    );
    assert_eq!(by_task[&2]["exit_code"], 0, "{}", by_task[&2]);
}

#[test]
fn a_stage_inherits_no_descriptor_and_meets_a_process_limit() {
    if !require_sandbox("a_stage_inherits_no_descriptor_and_meets_a_process_limit") {
        return;
    }
    let dir = common::fresh_dir("serve_security", "descriptors");
    // A secret file the agent's parent left open at descriptor 8.
    let secret = dir.join("host-secret.txt");
    std::fs::write(&secret, "HOST-SECRET-0b7e").unwrap();
    let by_task = agent_against(
        &dir,
        vec![fake_assignment(
            1,
            json!([
                "sh",
                "-c",
                "{ cat <&8; ls /proc/self/fd; grep processes /proc/self/limits; } > out.txt 2>&1; true"
            ]),
            json!({}),
            json!(["out.txt"]),
        )],
        &[],
        Some(std::fs::File::open(&secret).unwrap()),
    );
    let r = &by_task[&1];
    assert_eq!(r["exit_code"], 0, "{r}");
    let out = base64::engine::general_purpose::STANDARD
        .decode(r["outputs"]["out.txt"].as_str().unwrap())
        .unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(!out.contains("HOST-SECRET"), "{out}");
    // Descriptors 0-2 and the one `ls` opens, none of the agent's.
    let fds: Vec<&str> = out.lines().filter(|l| l.parse::<u32>().is_ok()).collect();
    assert!(fds.iter().all(|f| f.parse::<u32>().unwrap() <= 3), "{out}");
    // As root, stages run as nobody under a process limit.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let limit = out
            .lines()
            .find(|l| l.starts_with("Max processes"))
            .unwrap_or("");
        assert_eq!(limit.split_whitespace().nth(2), Some("4096"), "{out}");
    }
}
