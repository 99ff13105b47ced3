//! `tiandi agent`: the node agent. Heartbeats with telemetry, polls for assigned stages,
//! runs each stage's command in its own working directory (input files written first,
//! declared output files read back), and reports completion until the service has it.
//!
//! Each (task, stage, attempt) runs at most once per agent process; the service refuses
//! reports of superseded attempts, so a stage completes at most once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;

use crate::model::{Assignment, Completion, StageRef, Telemetry};

/// A small blocking HTTP client bound to one service and token.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl Client {
    pub fn new(base: &str, token: &str, timeout: Duration) -> Client {
        Self::with_roots(base, token, timeout, None)
    }

    /// A client that trusts only the certificates in `ca_pem` for HTTPS (a private CA or
    /// the service's self-signed certificate); with `None`, the Mozilla roots.
    pub fn with_roots(base: &str, token: &str, timeout: Duration, ca_pem: Option<&[u8]>) -> Client {
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false);
        if let Some(pem) = ca_pem {
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            );
        }
        Client {
            agent: config.build().into(),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
    }

    /// Reads a PEM file of trusted certificates for [`Client::with_roots`].
    pub fn read_ca(path: &Path) -> Result<Vec<u8>, String> {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let n = ureq::tls::parse_pem(&pem)
            .filter(|i| matches!(i, Ok(ureq::tls::PemItem::Certificate(_))))
            .count();
        if n == 0 {
            return Err(format!(
                "{}: no PEM certificate in the file",
                path.display()
            ));
        }
        Ok(pem)
    }

    /// Sends a request; `Ok((status, body))` for any HTTP answer, `Err` when there was none
    /// (connection refused, timeout).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, Vec<u8>), String> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let result = match method {
            "GET" => self.agent.get(&url).header("Authorization", &auth).call(),
            "DELETE" => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            "POST" => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(&[])),
            other => return Err(format!("unsupported method {other}")),
        };
        let mut resp = result.map_err(|e| format!("{method} {url}: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?;
        Ok((status, bytes))
    }
}

/// `tiandi agent` settings.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub server: String,
    pub node: String,
    pub token: String,
    /// Where each stage gets its working directory.
    pub work_dir: PathBuf,
    /// Stages run at once.
    pub slots: u32,
    pub heartbeat: Duration,
    pub poll: Duration,
    /// A JSON file of [`Telemetry`] re-read before every heartbeat (the node's sensors).
    pub telemetry_file: Option<PathBuf>,
    /// Stop after this long (tests and demos); `None` runs until killed.
    pub run_for: Option<Duration>,
    /// PEM certificates to trust for an HTTPS service.
    pub ca_pem: Option<Vec<u8>>,
    /// Keep every stage's working directory; by default those of stages that succeeded
    /// are removed once their outputs are read (failed ones stay for inspection).
    pub keep_work: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("agent: {0}")]
    Setup(String),
    #[error("agent: the service refused this agent: {0}")]
    Refused(String),
}

/// Reports kept until the service acknowledges them; bounded so a long outage cannot grow
/// memory without end (the oldest are dropped and logged).
const MAX_PENDING_REPORTS: usize = 10_000;

fn read_telemetry(path: &Path) -> Result<Telemetry, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs the agent loop until `run_for` elapses (or forever).
pub fn run(cfg: AgentConfig) -> Result<(), AgentError> {
    std::fs::create_dir_all(&cfg.work_dir)
        .map_err(|e| AgentError::Setup(format!("{}: {e}", cfg.work_dir.display())))?;
    let client = Client::with_roots(
        &cfg.server,
        &cfg.token,
        Duration::from_secs(10),
        cfg.ca_pem.as_deref(),
    );
    let base = format!("/v1/agents/{}", cfg.node);
    let started = Instant::now();
    let mut last_heartbeat: Option<Instant> = None;
    let mut heard = false;
    let mut started_keys: BTreeSet<(u64, u16, u32)> = BTreeSet::new();
    // Started and not yet reported: told to the service with every poll, so it re-sends
    // any assignment whose answer this agent never received.
    let mut holds: BTreeSet<StageRef> = BTreeSet::new();
    let mut running = 0u32;
    let (done_tx, done_rx) = mpsc::channel::<Completion>();
    let mut pending: VecDeque<Completion> = VecDeque::new();
    let mut last_error = String::new();
    loop {
        if cfg.run_for.is_some_and(|d| started.elapsed() >= d) {
            return Ok(());
        }
        while let Ok(c) = done_rx.try_recv() {
            running = running.saturating_sub(1);
            pending.push_back(c);
            if pending.len() > MAX_PENDING_REPORTS {
                let lost = pending.pop_front().expect("non-empty");
                eprintln!(
                    "tiandi agent: dropping the report of task {} stage {} (too many unsent)",
                    lost.task, lost.stage
                );
            }
        }
        let mut note = |e: String| {
            if e != last_error {
                eprintln!("tiandi agent: {e}");
                last_error = e;
            }
        };
        if last_heartbeat.is_none_or(|t| t.elapsed() >= cfg.heartbeat) {
            let mut t = match &cfg.telemetry_file {
                Some(p) => read_telemetry(p).unwrap_or_else(|e| {
                    note(format!("telemetry: {e}"));
                    Telemetry::default()
                }),
                None => Telemetry::default(),
            };
            t.slots = Some(cfg.slots);
            let body = serde_json::to_vec(&t).expect("plain struct");
            match client.request("POST", &format!("{base}/heartbeat"), Some(&body)) {
                Ok((200, _)) => {
                    if !heard {
                        eprintln!(
                            "tiandi agent: node {} registered with {}",
                            cfg.node, cfg.server
                        );
                    }
                    heard = true;
                    last_heartbeat = Some(Instant::now());
                }
                Ok((s @ (401 | 403 | 404), b)) => {
                    return Err(AgentError::Refused(format!(
                        "{s}: {}",
                        String::from_utf8_lossy(&b)
                    )));
                }
                Ok((s, b)) => note(format!("heartbeat: {s}: {}", String::from_utf8_lossy(&b))),
                Err(e) => {
                    heard = false;
                    note(e);
                }
            }
        }
        // Reports first: they free the service's view of this node.
        while let Some(c) = pending.front() {
            let body = serde_json::to_vec(c).expect("plain struct");
            let settled = match client.request("POST", &format!("{base}/complete"), Some(&body)) {
                Ok((200, _)) => true,
                // Stale (another attempt superseded it, or the task ended) or refused:
                // sending it again cannot help.
                Ok((s, b)) if (400..500).contains(&s) => {
                    note(format!(
                        "task {} stage {}: report refused: {s}: {}",
                        c.task,
                        c.stage,
                        String::from_utf8_lossy(&b)
                    ));
                    true
                }
                Ok((s, b)) => {
                    note(format!("report: {s}: {}", String::from_utf8_lossy(&b)));
                    false
                }
                Err(e) => {
                    note(e);
                    false
                }
            };
            if !settled {
                break;
            }
            let c = pending.pop_front().expect("front exists");
            holds.remove(&StageRef {
                task: c.task,
                stage: c.stage,
                attempt: c.attempt,
            });
        }
        if heard && running < cfg.slots {
            let body = json!({"max": cfg.slots - running, "holds": holds}).to_string();
            match client.request("POST", &format!("{base}/poll"), Some(body.as_bytes())) {
                Ok((200, b)) => {
                    let parsed: Result<BTreeMap<String, Vec<Assignment>>, _> =
                        serde_json::from_slice(&b);
                    match parsed {
                        Ok(mut m) => {
                            for a in m.remove("assignments").unwrap_or_default() {
                                if !started_keys.insert((a.task, a.stage, a.attempt)) {
                                    continue;
                                }
                                holds.insert(StageRef {
                                    task: a.task,
                                    stage: a.stage,
                                    attempt: a.attempt,
                                });
                                running += 1;
                                let tx = done_tx.clone();
                                let dir = cfg.work_dir.join(format!(
                                    "task-{}-stage-{}-attempt-{}",
                                    a.task, a.stage, a.attempt
                                ));
                                let node = cfg.node.clone();
                                let keep = cfg.keep_work;
                                std::thread::spawn(move || {
                                    let c = execute(&a, &dir, &node);
                                    if !keep && c.exit_code == Some(0) {
                                        let _ = std::fs::remove_dir_all(&dir);
                                    }
                                    let _ = tx.send(c);
                                });
                            }
                        }
                        Err(e) => note(format!("poll: unreadable answer: {e}")),
                    }
                }
                Ok((409, _)) => heard = false,
                Ok((s, b)) => note(format!("poll: {s}: {}", String::from_utf8_lossy(&b))),
                Err(e) => note(e),
            }
        }
        std::thread::sleep(cfg.poll);
    }
}

/// Runs one assignment to its end and says how it went.
pub fn execute(a: &Assignment, dir: &Path, node: &str) -> Completion {
    let mut c = Completion {
        task: a.task,
        stage: a.stage,
        attempt: a.attempt,
        exit_code: None,
        outputs: BTreeMap::new(),
        message: None,
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let prepared = (|| -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (name, content) in &a.inputs {
            let bytes = b64
                .decode(content)
                .map_err(|e| format!("input {name}: {e}"))?;
            std::fs::write(dir.join(name), bytes).map_err(|e| format!("input {name}: {e}"))?;
        }
        Ok(())
    })();
    if let Err(e) = prepared {
        c.message = Some(e);
        return c;
    }
    let child = Command::new(&a.command[0])
        .args(&a.command[1..])
        .current_dir(dir)
        .env("TIANDI_TASK_ID", a.task.to_string())
        .env("TIANDI_STAGE", a.stage.to_string())
        .env("TIANDI_ATTEMPT", a.attempt.to_string())
        .env("TIANDI_NODE", node)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(ch) => ch,
        Err(e) => {
            c.message = Some(format!("cannot start {:?}: {e}", a.command[0]));
            return c;
        }
    };
    let deadline = Instant::now() + Duration::from_secs_f64(a.timeout_s);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                c.message = Some(format!("waiting for the command: {e}"));
                return c;
            }
        }
    };
    let Some(status) = status else {
        c.message = Some(format!("timed out after {} s", a.timeout_s));
        return c;
    };
    c.exit_code = status.code();
    if status.success() {
        for name in &a.outputs {
            match std::fs::read(dir.join(name)) {
                Ok(bytes) => {
                    c.outputs.insert(name.clone(), b64.encode(bytes));
                }
                Err(e) => {
                    c.exit_code = None;
                    c.message = Some(format!("declared output {name} missing: {e}"));
                    c.outputs.clear();
                    break;
                }
            }
        }
    }
    c
}
