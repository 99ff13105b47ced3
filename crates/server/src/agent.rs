//! `tiandi agent`: the node agent. Heartbeats with telemetry, polls for assigned stages,
//! runs each stage's command in a sandbox of its own working directory (input files
//! written first, declared output files read back; see [`crate::sandbox`]), and reports
//! completion, with the attempt's secret, until the service has it.
//!
//! Guarantees: each (task, stage, attempt) runs at most once per agent process; the
//! service refuses reports of superseded attempts, so a stage completes at most once; a
//! stage's processes end when it is cancelled, times out, or the agent stops or dies, so
//! two runs of one stage never overlap. Execution itself is at least once: a stage whose
//! agent died mid-run runs again as a new attempt.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;

use crate::model::{
    Assignment, Completion, MAX_OUTPUT_FILE_BYTES, MAX_OUTPUT_TOTAL_BYTES, StageRef, Telemetry,
    safe_file_name,
};
use crate::sandbox::Isolation;

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
    /// How stages are isolated.
    pub isolation: Isolation,
    /// The node's command policy: `None` runs any program; `Some(list)` only those whose
    /// program (the command's first word) is in the list, as written.
    pub allow_programs: Option<Vec<String>>,
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

/// Reads an agent token from a file that only its owner may read (like ssh's keys).
pub fn read_token_file(path: &Path) -> Result<String, String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{}: mode {:o}: a token file must be readable by its owner only (chmod 600)",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(format!(
            "{}: expected one token on one line",
            path.display()
        ));
    }
    Ok(token.to_string())
}

/// A stage being run by a thread of this agent.
struct Running {
    /// Set to end the stage's processes (cancelled by the service, or the agent stops).
    stop: Arc<AtomicBool>,
}

/// What the service answered to a poll.
#[derive(serde::Deserialize)]
struct PollReply {
    #[serde(default)]
    assignments: Vec<Assignment>,
    #[serde(default)]
    cancel: Vec<StageRef>,
}

/// Runs the agent loop until `run_for` elapses (or forever).
pub fn run(cfg: AgentConfig) -> Result<(), AgentError> {
    create_private_dir(&cfg.work_dir)
        .map_err(|e| AgentError::Setup(format!("{}: {e}", cfg.work_dir.display())))?;
    let client = Client::with_roots(
        &cfg.server,
        &cfg.token,
        Duration::from_secs(10),
        cfg.ca_pem.as_deref(),
    );
    // This process, as the service tells it from an earlier one of the same node.
    let instance = crate::secret::random_hex(16);
    let base = format!("/v1/agents/{}", cfg.node);
    let started = Instant::now();
    let mut last_heartbeat: Option<Instant> = None;
    let mut heard = false;
    let mut started_keys: BTreeSet<StageRef> = BTreeSet::new();
    let mut running: BTreeMap<StageRef, Running> = BTreeMap::new();
    let (done_tx, done_rx) = mpsc::channel::<(Completion, bool)>();
    let mut pending: VecDeque<Completion> = VecDeque::new();
    let mut last_error = String::new();
    let isolation = Arc::new(cfg.isolation.clone());
    loop {
        if cfg.run_for.is_some_and(|d| started.elapsed() >= d) {
            stop_all(&running, &done_rx);
            return Ok(());
        }
        while let Ok((c, cancelled)) = done_rx.try_recv() {
            running.remove(&c.stage_ref());
            eprintln!(
                "tiandi agent: task {} stage {} attempt {}: ended{}",
                c.task,
                c.stage,
                c.attempt,
                if cancelled { " (stopped)" } else { "" }
            );
            if cancelled {
                // The service no longer wants it: nothing to report.
                continue;
            }
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
                    stop_all(&running, &done_rx);
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
                // Stale: another attempt superseded it, or the task ended.
                Ok((409, b)) => {
                    note(format!(
                        "task {} stage {}: report refused as stale: {}",
                        c.task,
                        c.stage,
                        String::from_utf8_lossy(&b)
                    ));
                    true
                }
                // Malformed or too large: the stage must still end, so say it failed,
                // without outputs (once; a refusal of that is final).
                Ok((s @ (400 | 413), b)) if c.exit_code.is_some() || !c.outputs.is_empty() => {
                    let why = format!(
                        "the service refused the stage's report ({s}: {})",
                        String::from_utf8_lossy(&b)
                    );
                    note(format!("task {} stage {}: {why}", c.task, c.stage));
                    let front = pending.front_mut().expect("front exists");
                    front.exit_code = None;
                    front.outputs.clear();
                    front.message = Some(why);
                    continue;
                }
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
            pending.pop_front();
        }
        if heard {
            let free = cfg.slots.saturating_sub(running.len() as u32);
            // Held: running, or ended with the report not yet delivered. The service sends
            // again any assignment of this process not held (its answer was lost), and
            // says which held ones to stop.
            let holds: BTreeSet<StageRef> = running
                .keys()
                .copied()
                .chain(pending.iter().map(Completion::stage_ref))
                .collect();
            let body = json!({"max": free, "holds": holds, "instance": instance}).to_string();
            match client.request("POST", &format!("{base}/poll"), Some(body.as_bytes())) {
                Ok((200, b)) => match serde_json::from_slice::<PollReply>(&b) {
                    Ok(reply) => {
                        for key in reply.cancel {
                            if let Some(r) = running.get(&key) {
                                r.stop.store(true, Ordering::Relaxed);
                            } else {
                                // Finished here, but the service no longer wants the report.
                                pending.retain(|c| c.stage_ref() != key);
                            }
                        }
                        for a in reply.assignments {
                            let key = StageRef {
                                task: a.task,
                                stage: a.stage,
                                attempt: a.attempt,
                            };
                            if !started_keys.insert(key) {
                                continue;
                            }
                            let stop = Arc::new(AtomicBool::new(false));
                            running.insert(key, Running { stop: stop.clone() });
                            let tx = done_tx.clone();
                            // A random part, so no stage can guess another's directory.
                            let dir = cfg.work_dir.join(format!(
                                "task-{}-stage-{}-attempt-{}-{}",
                                a.task,
                                a.stage,
                                a.attempt,
                                crate::secret::random_hex(6)
                            ));
                            let node = cfg.node.clone();
                            let keep = cfg.keep_work;
                            let isolation = isolation.clone();
                            let allow = cfg.allow_programs.clone();
                            eprintln!(
                                "tiandi agent: task {} stage {} attempt {}: started",
                                a.task, a.stage, a.attempt
                            );
                            std::thread::spawn(move || {
                                let c =
                                    execute(&a, &dir, &node, &isolation, allow.as_deref(), &stop);
                                if !keep && c.exit_code == Some(0) {
                                    remove_stage_dir(&dir);
                                }
                                let _ = tx.send((c, stop.load(Ordering::Relaxed)));
                            });
                        }
                    }
                    Err(e) => note(format!("poll: unreadable answer: {e}")),
                },
                Ok((409, _)) => heard = false,
                Ok((s, b)) => note(format!("poll: {s}: {}", String::from_utf8_lossy(&b))),
                Err(e) => note(e),
            }
        }
        std::thread::sleep(cfg.poll);
    }
}

/// Ends every running stage and waits (a little) until their threads say so.
fn stop_all(running: &BTreeMap<StageRef, Running>, done: &mpsc::Receiver<(Completion, bool)>) {
    for r in running.values() {
        r.stop.store(true, Ordering::Relaxed);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left = running.len();
    while left > 0 {
        let Some(wait) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        match done.recv_timeout(wait) {
            Ok(_) => left -= 1,
            Err(_) => break,
        }
    }
}

/// Creates the agent's work directory: listable by its owner only, searchable by the
/// sandbox's user (who can reach only a stage directory whose random name it is given).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
}

/// Checks what the service sent before anything is written or run: a hostile or broken
/// service must not make the agent write outside the stage's directory or read files
/// that are not the stage's outputs.
fn check_assignment(a: &Assignment) -> Result<(), String> {
    for name in a.inputs.keys().chain(&a.outputs) {
        if !safe_file_name(name) {
            return Err(format!(
                "the service sent the file name {name:?}: refused (names are 1-128 of A-Z a-z 0-9 . _ -)"
            ));
        }
    }
    if a.command.is_empty() || a.command[0].is_empty() {
        return Err("the service sent an empty command".into());
    }
    if !(a.timeout_s.is_finite() && a.timeout_s > 0.0 && a.timeout_s <= 86_400.0) {
        return Err(format!("the service sent the timeout {} s", a.timeout_s));
    }
    Ok(())
}

/// Reads one declared output: a regular file in the stage's directory (never through a
/// link, never a FIFO or device), at most `limit` bytes.
fn read_output(dir: &Path, name: &str, limit: usize) -> Result<Vec<u8>, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(dir.join(name))
        .map_err(|e| format!("declared output {name} missing or unreadable: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("declared output {name}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("declared output {name} is not a regular file"));
    }
    if meta.len() > limit as u64 {
        return Err(format!(
            "output {name} is {} bytes, over the limit of {limit} bytes",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("declared output {name}: {e}"))?;
    if bytes.len() > limit {
        return Err(format!(
            "output {name} grew over the limit of {limit} bytes"
        ));
    }
    Ok(bytes)
}

/// The last line or so of a stage's standard error (at most 1 KiB), for its failure;
/// only that much is read, however large the stage made the file.
fn stderr_tail(path: &Path) -> String {
    use std::io::{Seek as _, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    if f.seek(SeekFrom::Start(len.saturating_sub(1024))).is_err() {
        return String::new();
    }
    let mut tail = Vec::new();
    let _ = f.take(1024).read_to_end(&mut tail);
    String::from_utf8_lossy(&tail).trim().to_string()
}

/// Removes a stage's directory. The stage shaped the tree, perhaps tens of thousands of
/// levels deep, which would overflow the stack of a recursive removal: GNU `rm` walks it
/// iteratively, never follows links, and stays on this file system.
fn remove_stage_dir(dir: &Path) {
    let ok = std::process::Command::new("rm")
        .args(["-rf", "--one-file-system", "--"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("tiandi agent: could not remove {}", dir.display());
    }
}

/// Runs one assignment to its end (or until `stop` is set) and says how it went.
pub fn execute(
    a: &Assignment,
    dir: &Path,
    node: &str,
    isolation: &Isolation,
    allow: Option<&[String]>,
    stop: &AtomicBool,
) -> Completion {
    let mut c = Completion {
        task: a.task,
        stage: a.stage,
        attempt: a.attempt,
        exit_code: None,
        outputs: BTreeMap::new(),
        message: None,
        secret: Some(a.secret.clone()),
    };
    if let Err(e) = check_assignment(a) {
        c.message = Some(e);
        return c;
    }
    if let Some(list) = allow
        && !list.iter().any(|p| *p == a.command[0])
    {
        c.message = Some(format!(
            "the program {:?} is not allowed on node {node} (its agent's --allow-program list)",
            a.command[0]
        ));
        return c;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let prepared = (|| -> Result<(), String> {
        std::fs::create_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (name, content) in &a.inputs {
            let bytes = b64
                .decode(content)
                .map_err(|e| format!("input {name}: {e}"))?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(dir.join(name))
                .map_err(|e| format!("input {name}: {e}"))?;
            std::io::Write::write_all(&mut f, &bytes).map_err(|e| format!("input {name}: {e}"))?;
        }
        isolation
            .hand_over(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))
    })();
    if let Err(e) = prepared {
        c.message = Some(e);
        return c;
    }
    let env = [
        ("TIANDI_TASK_ID".to_string(), a.task.to_string()),
        ("TIANDI_STAGE".to_string(), a.stage.to_string()),
        ("TIANDI_ATTEMPT".to_string(), a.attempt.to_string()),
        ("TIANDI_NODE".to_string(), node.to_string()),
    ];
    let mut command = match isolation.prepare(dir, &a.command, &env) {
        Ok(p) => p,
        Err(e) => {
            c.message = Some(e);
            return c;
        }
    };
    // The stage's standard error, kept beside its directory (not in it, so the stage
    // cannot swap it for a link), tells why a stage failed.
    let err_path = dir.with_extension("stderr");
    let stderr = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&err_path)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn();
    let mut child = match child {
        Ok(ch) => ch,
        Err(e) => {
            let _ = std::fs::remove_file(&err_path);
            // The program started is the sandbox's unless the opt-out is on.
            c.message = Some(format!("cannot start {:?}: {e}", command.get_program()));
            return c;
        }
    };
    let deadline = Instant::now() + Duration::from_secs_f64(a.timeout_s);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if stop.load(Ordering::Relaxed) => {
                isolation.kill(&mut child);
                break Err("stopped: the task was cancelled or the agent is stopping".to_string());
            }
            Ok(None) if Instant::now() >= deadline => {
                isolation.kill(&mut child);
                break Err(format!("timed out after {} s", a.timeout_s));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                isolation.kill(&mut child);
                break Err(format!("waiting for the command: {e}"));
            }
        }
    };
    let tail = stderr_tail(&err_path);
    let _ = std::fs::remove_file(&err_path);
    let status = match status {
        Ok(s) => s,
        Err(why) => {
            c.message = Some(why);
            return c;
        }
    };
    c.exit_code = status.code();
    if !status.success() && !tail.is_empty() {
        c.message = Some(format!("standard error ends: {tail}"));
    }
    if status.success() {
        let mut total = 0usize;
        for name in &a.outputs {
            let room = MAX_OUTPUT_FILE_BYTES.min(MAX_OUTPUT_TOTAL_BYTES - total);
            match read_output(dir, name, room) {
                Ok(bytes) => {
                    total += bytes.len();
                    c.outputs.insert(name.clone(), b64.encode(bytes));
                }
                Err(e) => {
                    c.exit_code = None;
                    c.message = Some(if room < MAX_OUTPUT_FILE_BYTES && e.contains("limit") {
                        format!("{e} (outputs total at most {MAX_OUTPUT_TOTAL_BYTES} bytes)")
                    } else {
                        e
                    });
                    c.outputs.clear();
                    break;
                }
            }
        }
    }
    c
}
