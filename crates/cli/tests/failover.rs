//! Several `tiandi serve` instances on one private PostgreSQL, through the real binaries:
//! `kill -9` of the leader under `tiandi load` (three times, each killed instance
//! restarted as the new follower), and a leader paused with SIGSTOP past its lease that
//! must step down on waking. Every acknowledged task is there once with its key and its
//! decision, no command runs twice at once, and takeover is measured.

mod common;
#[path = "../../server/tests/common/postgres.rs"]
mod postgres;
#[path = "common/serve_harness.rs"]
mod serve_harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::Postgres;
use serde_json::{Value, json};
use serve_harness::*;
use tiandi_server::agent::Client;
use tiandi_server::load::Acknowledged;

/// The lease of these tests, in seconds (the default).
const LEASE_S: f64 = 2.0;

/// One instance's directory and configuration on `url`.
fn instance(dir: &Path, name: &str, url: &str) -> (PathBuf, PathBuf, u16) {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let config = d.join("serve.toml");
    let text = format!(
        "lease_s = {LEASE_S}\n{}",
        config_with_store(url, "accelerated:20")
    );
    std::fs::write(&config, text).unwrap();
    (d, config, free_port())
}

fn start(dir: &Path, config: &Path, port: u16) -> Server {
    Server::spawn(dir, config, port, None, None)
}

/// "leader" or "follower" as the instance's `/healthz` says, or `None` when it does not
/// answer.
fn role(url: &str) -> Option<&'static str> {
    let c = Client::new(url, "", Duration::from_millis(500)).with_retry_budget(Duration::ZERO);
    match c.request("GET", "/healthz", None) {
        Ok((200, body)) => {
            let v: Value = serde_json::from_slice(&body).ok()?;
            Some(if v["status"] == "follower" {
                "follower"
            } else {
                "leader"
            })
        }
        _ => None,
    }
}

/// Waits until the instance at `url` leads; the time it took.
fn wait_leads(url: &str, within: Duration) -> Duration {
    let t0 = Instant::now();
    while role(url) != Some("leader") {
        assert!(
            t0.elapsed() < within,
            "{url} did not lead within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    t0.elapsed()
}

fn agent(servers: &str, node: &str, token: &str, work: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(work.with_extension("log"))
        .unwrap();
    // Unsandboxed: the stages' commands share a lock directory to catch two runs of one
    // stage at the same time.
    Command::new(env!("CARGO_BIN_EXE_tiandi"))
        .args(["agent", "--server", servers, "--node", node])
        .env("TIANDI_TOKEN", token)
        .args([
            "--heartbeat-s",
            "0.2",
            "--slots",
            "4",
            "--unsafe-no-sandbox",
        ])
        .arg("--work-dir")
        .arg(work)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Every task the service lists, by id, read from `url`.
fn all_tasks(url: &str) -> BTreeMap<u64, Value> {
    let op = Client::new(url, OPERATOR, Duration::from_secs(30));
    let mut out = BTreeMap::new();
    let mut after = 0;
    loop {
        let (status, page) = call(
            &op,
            "GET",
            &format!("/v1/tasks?limit=1000&after={after}"),
            None,
        );
        assert_eq!(status, 200, "{page}");
        for t in page["tasks"].as_array().unwrap() {
            out.insert(t["id"].as_u64().unwrap(), t.clone());
        }
        match page["next_after"].as_u64() {
            Some(n) => after = n,
            None => return out,
        }
    }
}

fn nodes_of(task: &Value) -> String {
    task["decision"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["node"].as_str().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(";")
}

/// Each idempotency key appears on exactly one task; the map from key to task.
fn by_key(tasks: &BTreeMap<u64, Value>) -> BTreeMap<String, &Value> {
    let mut out: BTreeMap<String, &Value> = BTreeMap::new();
    for t in tasks.values() {
        if let Some(k) = t["idempotency_key"].as_str()
            && let Some(first) = out.insert(k.to_string(), t)
        {
            panic!("key {k} made two tasks: {} and {}", first["id"], t["id"]);
        }
    }
    out
}

/// The agent logs' "started" lines, per task id.
fn starts(logs: &[PathBuf]) -> BTreeMap<u64, u32> {
    let mut runs = BTreeMap::new();
    for log in logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        for line in text.lines().filter(|l| l.ends_with(": started")) {
            let id = line
                .split_whitespace()
                .nth(3)
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("unreadable agent line {line:?}"));
            *runs.entry(id).or_default() += 1;
        }
    }
    runs
}

#[test]
fn kill_the_leader_three_times_under_load() {
    let Some(pg) = Postgres::start("kill_the_leader_three_times_under_load") else {
        return;
    };
    let dir = common::fresh_dir("failover", "kill");
    let url = pg.database("kill");
    let specs = [instance(&dir, "a", &url), instance(&dir, "b", &url)];
    let mut servers: Vec<Server> = Vec::new();
    servers.push(start(&specs[0].0, &specs[0].1, specs[0].2));
    wait_leads(&servers[0].url, Duration::from_secs(30));
    servers.push(start(&specs[1].0, &specs[1].1, specs[1].2));
    assert_eq!(role(&servers[1].url), Some("follower"));
    let both = format!("{},{}", servers[0].url, servers[1].url);

    let locks = dir.join("locks");
    std::fs::create_dir_all(&locks).unwrap();
    let overlap = dir.join("overlap.txt");
    let works = [dir.join("zjk"), dir.join("wuhu")];
    let mut agents = vec![
        agent(&both, "Zhangjiakou", AGENT_ZJK, &works[0]),
        agent(&both, "Wuhu", AGENT_WUHU, &works[1]),
    ];
    wait_agent(&servers[0].client(OPERATOR), "Zhangjiakou");
    wait_agent(&servers[0].client(OPERATOR), "Wuhu");

    // Tasks whose command holds a lock directory named by the task for 0.3 s: a second
    // run of the same stage while the first still runs cannot take it and says so.
    let stop = Arc::new(AtomicBool::new(false));
    let commands: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let submitter = {
        let (stop, commands, both) = (stop.clone(), commands.clone(), both.clone());
        let script = format!(
            "mkdir {l}/$TIANDI_TASK_ID || echo $TIANDI_TASK_ID >> {o}; sleep 0.3; rmdir {l}/$TIANDI_TASK_ID",
            l = locks.display(),
            o = overlap.display()
        );
        std::thread::spawn(move || {
            let servers: Vec<&str> = both.split(',').collect();
            let c = Client::with_servers(&servers, OPERATOR, Duration::from_secs(10), None);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let key = format!("cmd-{n}");
                let body = json!({"origin": "Beijing-Miyun", "deadline_s": 3600.0,
                    "idempotency_key": key,
                    "stages": [{"work_flop": 1e12, "run": {"command": ["sh", "-c", script], "timeout_s": 30.0}}]});
                match c.request("POST", "/v1/tasks", Some(body.to_string().as_bytes())) {
                    Ok((201 | 200, b)) => {
                        let v: Value = serde_json::from_slice(&b).unwrap();
                        commands
                            .lock()
                            .unwrap()
                            .push((v["id"].as_u64().unwrap(), key));
                    }
                    Ok((s, b)) => panic!("{s}: {}", String::from_utf8_lossy(&b)),
                    Err(e) => panic!("no answer within the retry budget: {e}"),
                }
                std::thread::sleep(Duration::from_millis(150));
            }
        })
    };

    let record = dir.join("acked.csv");
    let (rate, duration_s) = (150, 40);
    let load = Command::new(env!("CARGO_BIN_EXE_tiandi"))
        .args(["load", "--server", &both, "--token", OPERATOR])
        .args([
            "--rate",
            &rate.to_string(),
            "--duration-s",
            &duration_s.to_string(),
        ])
        .args(["--connections", "8", "--seed", "3", "--record"])
        .arg(&record)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut takeovers = Vec::new();
    let mut leader = 0;
    for round in 0..3 {
        std::thread::sleep(Duration::from_secs(6));
        assert_eq!(role(&servers[leader].url), Some("leader"), "round {round}");
        let survivor = 1 - leader;
        servers[leader].child.kill().unwrap();
        servers[leader].child.wait().unwrap();
        let killed = Instant::now();
        wait_leads(&servers[survivor].url, Duration::from_secs(30));
        let took = killed.elapsed();
        takeovers.push(took);
        eprintln!("round {round}: takeover {:.0} ms", took.as_secs_f64() * 1e3);
        // The killed instance comes back on its port as the follower.
        let (d, c, p) = &specs[leader];
        servers[leader] = start(d, c, *p);
        assert_eq!(
            role(&servers[leader].url),
            Some("follower"),
            "round {round}"
        );
        leader = survivor;
    }

    let out = load.wait_with_output().unwrap();
    stop.store(true, Ordering::Relaxed);
    submitter.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("load across three kills: {report}");
    // Load went on against the survivor: every submission was acknowledged in the end,
    // through the clients' retries.
    let sent = report["sent"].as_u64().unwrap();
    assert_eq!(sent, rate * duration_s, "{report}");
    assert_eq!(report["accepted"].as_u64(), Some(sent), "{report}");
    assert_eq!(report["errors"], json!(0), "{report}");
    assert!(report["retries"].as_u64().unwrap() > 0, "{report}");

    // Every acknowledged task is there once, with its key and the decision it was
    // answered with.
    let acked: Vec<Acknowledged> = csv::Reader::from_path(&record)
        .unwrap()
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(acked.len() as u64, sent);
    let tasks = all_tasks(&servers[leader].url);
    let keyed = by_key(&tasks);
    for a in &acked {
        let t = keyed
            .get(&a.idempotency_key)
            .unwrap_or_else(|| panic!("acknowledged {} lost", a.idempotency_key));
        assert_eq!(t["id"].as_u64(), Some(a.id), "{a:?}: {t}");
        assert_eq!(
            nodes_of(t),
            a.nodes,
            "{a:?}: decided again differently: {t}"
        );
    }

    // The command tasks all finish, each ran once, and never two runs at once.
    let commands = commands.lock().unwrap().clone();
    assert!(commands.len() > 50, "{} command tasks", commands.len());
    let op = Client::new(&servers[leader].url, OPERATOR, Duration::from_secs(10));
    for (id, key) in &commands {
        let t = wait_task(&op, *id, 90, |v| {
            v["state"] != "queued" && v["state"] != "running"
        });
        assert_eq!(t["state"], "completed", "{key}: {t}");
        assert_eq!(keyed[key.as_str()]["id"].as_u64(), Some(*id), "{key}");
    }
    assert!(
        !overlap.exists(),
        "two runs of one stage at once: tasks {}",
        std::fs::read_to_string(&overlap).unwrap_or_default()
    );
    let logs: Vec<PathBuf> = works.iter().map(|w| w.with_extension("log")).collect();
    let runs = starts(&logs);
    for (id, key) in &commands {
        assert_eq!(
            runs.get(id),
            Some(&1),
            "{key} (task {id}) started {:?} times",
            runs.get(id)
        );
    }

    for t in &takeovers {
        assert!(*t <= Duration::from_secs(5), "takeovers {takeovers:?}");
    }
    let ms: Vec<String> = takeovers
        .iter()
        .map(|t| format!("{:.0}", t.as_secs_f64() * 1e3))
        .collect();
    eprintln!(
        "takeover after kill -9 (lease {LEASE_S} s): {} ms; {} load tasks and {} command tasks acknowledged",
        ms.join(", "),
        acked.len(),
        commands.len()
    );
    for a in &mut agents {
        let _ = a.kill();
        let _ = a.wait();
    }
}

#[test]
fn a_paused_leader_steps_down_and_decides_nothing_twice() {
    let Some(pg) = Postgres::start("a_paused_leader_steps_down_and_decides_nothing_twice") else {
        return;
    };
    let dir = common::fresh_dir("failover", "pause");
    let url = pg.database("pause");
    let (da, ca, pa) = instance(&dir, "a", &url);
    let (db, cb, pb) = instance(&dir, "b", &url);
    let a = start(&da, &ca, pa);
    wait_leads(&a.url, Duration::from_secs(30));
    let b = start(&db, &cb, pb);
    assert_eq!(role(&b.url), Some("follower"));

    let submit = |c: &Client, key: &str| -> (u16, Value) {
        let body = json!({"origin": "Beijing-Miyun", "deadline_s": 3600.0,
            "idempotency_key": key, "stages": [{"work_flop": 1e12}, {"work_flop": 3e12}]});
        call(c, "POST", "/v1/tasks", Some(body))
    };
    let via_a = a.client(OPERATOR);
    let via_b = b.client(OPERATOR);
    let mut before = BTreeMap::new();
    for i in 0..20 {
        // Half through the follower, which forwards them.
        let c = if i % 2 == 0 { &via_a } else { &via_b };
        let (status, t) = submit(c, &format!("pre-{i}"));
        assert_eq!(status, 201, "{t}");
        before.insert(
            format!("pre-{i}"),
            (t["id"].as_u64().unwrap(), nodes_of(&t)),
        );
    }

    let pid = a.child.id() as libc::pid_t;
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let paused = Instant::now();
    // A submission sent to the paused leader waits in its socket's queue.
    let during = {
        let url = a.url.clone();
        std::thread::spawn(move || {
            let c = Client::new(&url, OPERATOR, Duration::from_secs(30));
            let body = json!({"origin": "Beijing-Miyun", "deadline_s": 3600.0,
                "idempotency_key": "during", "stages": [{"work_flop": 1e12}]});
            call(&c, "POST", "/v1/tasks", Some(body))
        })
    };
    let took = wait_leads(&b.url, Duration::from_secs(30));
    eprintln!(
        "takeover from a paused leader: {:.0} ms",
        took.as_secs_f64() * 1e3
    );
    assert!(took <= Duration::from_secs(5), "{took:?}");
    let mut after = BTreeMap::new();
    for i in 0..10 {
        let (status, t) = submit(&via_b, &format!("post-{i}"));
        assert_eq!(status, 201, "{t}");
        after.insert(format!("post-{i}"), t["id"].as_u64().unwrap());
    }
    // Paused well past its lease.
    std::thread::sleep(Duration::from_secs_f64(2.0 * LEASE_S).saturating_sub(paused.elapsed()));
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);

    // On waking it steps down before answering anything as the leader.
    let t0 = Instant::now();
    while role(&a.url) != Some("follower") {
        assert!(t0.elapsed() < Duration::from_secs(5), "a did not step down");
        std::thread::sleep(Duration::from_millis(20));
    }
    let t0 = Instant::now();
    let log = loop {
        let log = std::fs::read_to_string(da.join("serve.log")).unwrap();
        if log.contains("steps down") {
            break log;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "{log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(role(&b.url), Some("leader"));

    // The submission queued at the paused leader was decided once, by the new leader.
    let (status, t) = during.join().unwrap();
    assert!(status == 201 || status == 200, "{status}: {t}");
    let during_id = t["id"].as_u64().unwrap();

    // Sent again to either instance, the earlier keys name their tasks and decisions.
    for (key, (id, nodes)) in &before {
        for c in [&via_a, &via_b] {
            let (status, t) = submit(c, key);
            assert_eq!(status, 200, "{key}: {t}");
            assert_eq!(t["id"].as_u64(), Some(*id), "{key}: {t}");
            assert_eq!(&nodes_of(&t), nodes, "{key} decided again differently: {t}");
        }
    }
    let tasks = all_tasks(&a.url);
    let keyed = by_key(&tasks);
    assert_eq!(keyed.len(), before.len() + after.len() + 1, "{keyed:?}");
    assert_eq!(keyed["during"]["id"].as_u64(), Some(during_id));
    for (key, id) in &after {
        assert_eq!(keyed[key.as_str()]["id"].as_u64(), Some(*id));
    }
    // The lease row names the new leader.
    let holder = Postgres::query(&url, "SELECT address FROM leader");
    assert_eq!(holder, vec![Some(b.url.clone())]);
}

/// A store that takes longer to load than the lease lasts: the instance taking over
/// renews its lease while it loads, instead of losing it and starting again forever.
#[test]
fn a_store_slower_to_load_than_the_lease_is_still_taken_over() {
    let Some(pg) = Postgres::start("a_store_slower_to_load_than_the_lease_is_still_taken_over")
    else {
        return;
    };
    let dir = common::fresh_dir("failover", "large");
    let url = pg.database("large");
    let d = dir.join("a");
    std::fs::create_dir_all(&d).unwrap();
    let config = d.join("serve.toml");
    let lease_s = 0.5;
    let text = format!(
        "lease_s = {lease_s}\n{}",
        config_with_store(&url, "accelerated:20")
    );
    std::fs::write(&config, text).unwrap();
    let port = free_port();
    let mut a = start(&d, &config, port);
    wait_leads(&a.url, Duration::from_secs(30));
    let op = a.client(OPERATOR);
    let (status, t) = call(
        &op,
        "POST",
        "/v1/tasks",
        Some(json!({"origin": "Beijing-Miyun", "deadline_s": 3600.0,
            "stages": [{"work_flop": 1e12}]})),
    );
    assert_eq!(status, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    wait_task(&op, id, 30, |v| v["state"] == "completed");
    // Copies of the ended task make a store that takes seconds to load.
    let copies = 80_000;
    Postgres::query(
        &url,
        &format!(
            "INSERT INTO tasks (id, tenant, state, ended_ns, record)
             SELECT g, tenant, state, ended_ns, jsonb_set(record::jsonb, '{{id}}', to_jsonb(g))::text
               FROM tasks, generate_series({}, {}) g WHERE id = {id}",
            id + 1,
            id + copies
        ),
    );
    a.crash_and_restart();
    let took = wait_leads(&a.url, Duration::from_secs(120));
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    let ready = log
        .lines()
        .rev()
        .find(|l| l.contains(" leads "))
        .unwrap_or_default()
        .to_string();
    eprintln!("{copies} tasks: leading {took:?} after the restart ({ready})");
    assert!(!log.contains("cannot lead"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    // It held the lease all along: it leads in the first epoch it took after the restart.
    let epochs = Postgres::query(&url, "SELECT epoch FROM leader");
    assert_eq!(epochs, vec![Some("2".to_string())], "{log}");
    let (status, h) = call(&a.client(OPERATOR), "GET", "/healthz", None);
    assert_eq!(status, 200);
    assert_eq!(h["tasks"].as_u64(), Some(copies + 1), "{h}");
}
