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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;

use crate::model::{
    Assignment, Completion, MAX_OUTPUT_FILE_BYTES, MAX_OUTPUT_TOTAL_BYTES, StageRef, Telemetry,
    safe_file_name,
};
use crate::sandbox::Isolation;

/// How long [`Client::request`] keeps trying by default when no address answers.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(30);
/// The first pause before an address is tried again; each further one doubles, up to
/// [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// The longest wait for a TCP connection (less when the request timeout is shorter), so
/// that an address whose host is down is left for the next one quickly.
const CONNECT_TIMEOUT_MAX: Duration = Duration::from_secs(3);

/// A small blocking HTTP client for one service, reachable at one or more addresses (its
/// instances), with one token.
///
/// [`Client::request`] fails over: when an address gives no answer, or answers 502, 503 or
/// 504 (an instance that is not the leader yet, or whose store failed), it tries the next
/// one, until an address answers or the retry budget is spent. Clones share the
/// connection pool, the address that last answered and the count of retries.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    bases: Arc<[String]>,
    token: String,
    retry_budget: Duration,
    /// Index in `bases` of the address that last answered: where the next request starts.
    current: Arc<AtomicUsize>,
    retries: Arc<AtomicU64>,
}

/// How one attempt at one address went.
enum Attempt {
    /// An HTTP answer.
    Answer(u16, Vec<u8>),
    /// No answer, for a reason that another address or a later try may not have
    /// (refused, reset, timed out, name not found).
    NoAnswer(String),
    /// No answer, for a reason no retry changes (TLS refused, not HTTP, a bad URL).
    Failed(String),
}

/// Whether a failure without an answer is worth another try: the address may be down or
/// restarting, or the connection was cut.
fn transient(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::NotConnected
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::TimedOut
                | K::HostUnreachable
                | K::NetworkUnreachable
                | K::AddrNotAvailable
                | K::Interrupted
        ),
        ureq::Error::Timeout(_) | ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

impl Client {
    pub fn new(base: &str, token: &str, timeout: Duration) -> Client {
        Self::with_roots(base, token, timeout, None)
    }

    /// A client that trusts only the certificates in `ca_pem` for HTTPS (a private CA or
    /// the service's self-signed certificate); with `None`, the Mozilla roots.
    pub fn with_roots(base: &str, token: &str, timeout: Duration, ca_pem: Option<&[u8]>) -> Client {
        Self::with_servers(&[base], token, timeout, ca_pem)
    }

    /// A client of the service at any of `bases` (base URLs such as `http://a:7878`),
    /// tried in this order from the first; `timeout` bounds each attempt.
    ///
    /// # Panics
    ///
    /// If `bases` is empty: the caller checks that at least one address was given.
    pub fn with_servers<S: AsRef<str>>(
        bases: &[S],
        token: &str,
        timeout: Duration,
        ca_pem: Option<&[u8]>,
    ) -> Client {
        assert!(!bases.is_empty(), "a client needs at least one address");
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(CONNECT_TIMEOUT_MAX)))
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
            bases: bases
                .iter()
                .map(|b| b.as_ref().trim_end_matches('/').to_string())
                .collect(),
            token: token.to_string(),
            retry_budget: DEFAULT_RETRY_BUDGET,
            current: Arc::default(),
            retries: Arc::default(),
        }
    }

    /// How long a request may go on retrying ([`DEFAULT_RETRY_BUDGET`] unless set);
    /// zero makes one attempt. An attempt under way when it runs out is not cut short.
    pub fn with_retry_budget(mut self, budget: Duration) -> Client {
        self.retry_budget = budget;
        self
    }

    /// The address that last answered (the first one before any did).
    pub fn server(&self) -> &str {
        &self.bases[self.current.load(Ordering::Relaxed) % self.bases.len()]
    }

    /// Attempts repeated so far, by this client and its clones: every try after a
    /// request's first.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
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

    /// Sends a request; `Ok((status, body))` for an HTTP answer, `Err` when there was none
    /// (connection refused, timeout).
    ///
    /// It starts at the address that last answered. No answer, or 502, 503 or 504, moves
    /// it to the next address; once every address has been tried it pauses (50 ms, then
    /// twice as long each round, at most 1 s) and goes round again, until the retry
    /// budget is spent; then it returns what the last attempt got. Any other answer is
    /// returned as it is, at once (4xx included: the same request would be refused
    /// again), and so is a failure no retry can mend (TLS refused, an answer that is not
    /// HTTP).
    ///
    /// A request whose connection was cut, or that timed out, may have been carried out
    /// before it is sent again: a submission that must not be made twice carries an
    /// `idempotency_key`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, Vec<u8>), String> {
        if !matches!(method, "GET" | "DELETE" | "POST") {
            return Err(format!("unsupported method {method}"));
        }
        let started = Instant::now();
        let n = self.bases.len();
        let mut idx = self.current.load(Ordering::Relaxed) % n;
        let mut pause = BACKOFF_FIRST;
        let mut tried_in_round = 0;
        let mut attempts = 1u32;
        loop {
            let last = match self.attempt(&self.bases[idx], method, path, body) {
                Attempt::Answer(status, bytes) if !matches!(status, 502..=504) => {
                    self.current.store(idx, Ordering::Relaxed);
                    return Ok((status, bytes));
                }
                Attempt::Answer(status, bytes) => Ok((status, bytes)),
                Attempt::NoAnswer(e) => Err(e),
                Attempt::Failed(e) => return Err(e),
            };
            idx = (idx + 1) % n;
            tried_in_round += 1;
            let wait = if tried_in_round < n {
                Duration::ZERO
            } else {
                tried_in_round = 0;
                let w = pause;
                pause = (pause * 2).min(BACKOFF_MAX);
                w
            };
            if started.elapsed() + wait >= self.retry_budget {
                return last.map_err(|e| {
                    if attempts == 1 {
                        e
                    } else {
                        format!(
                            "{e} (the last of {attempts} attempts over {n} address(es) in {:.1} s)",
                            started.elapsed().as_secs_f64()
                        )
                    }
                });
            }
            std::thread::sleep(wait);
            attempts += 1;
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One try at one address.
    fn attempt(&self, base: &str, method: &str, path: &str, body: Option<&[u8]>) -> Attempt {
        let url = format!("{base}{path}");
        let auth = format!("Bearer {}", self.token);
        let result = match method {
            "GET" => self.agent.get(&url).header("Authorization", &auth).call(),
            "DELETE" => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            _ => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(&[])),
        };
        let failed = |what: &str, e: ureq::Error| {
            let text = format!("{method} {url}: {what}{e}");
            if transient(&e) {
                Attempt::NoAnswer(text)
            } else {
                Attempt::Failed(text)
            }
        };
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => return failed("", e),
        };
        let status = resp.status().as_u16();
        match resp.body_mut().with_config().limit(64 << 20).read_to_vec() {
            Ok(bytes) => Attempt::Answer(status, bytes),
            // Cut off mid-answer: as good as no answer.
            Err(e) => failed("reading the answer: ", e),
        }
    }
}

/// `tiandi agent` settings.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The service's addresses (base URLs), tried in order; at least one.
    pub servers: Vec<String>,
    /// How long one request goes on failing over between the addresses before the loop
    /// takes its error ([`DEFAULT_RETRY_BUDGET`]; never past `run_for`).
    pub retry_budget: Duration,
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
    let service = Client::with_servers(
        &cfg.servers,
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
    let mut talking_to = String::new();
    let isolation = Arc::new(cfg.isolation.clone());
    loop {
        if cfg.run_for.is_some_and(|d| started.elapsed() >= d) {
            stop_all(&running, &done_rx);
            return Ok(());
        }
        // A request fails over for at most the retry budget, and never past the time this
        // agent has left: the loop itself tries again afterwards.
        let budget = match cfg.run_for {
            Some(d) => cfg.retry_budget.min(d.saturating_sub(started.elapsed())),
            None => cfg.retry_budget,
        };
        let client = service.clone().with_retry_budget(budget);
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
                            cfg.node,
                            client.server()
                        );
                    } else if client.server() != talking_to {
                        eprintln!("tiandi agent: now served by {}", client.server());
                    }
                    talking_to = client.server().to_string();
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

#[cfg(test)]
mod tests {
    //! The client's failover against tiny services on loopback: each answers with a
    //! scripted status, hangs up, or is not there at all.

    use super::*;
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::{TcpListener, TcpStream};

    /// A service on loopback answering its n-th request with `script[n]` (the last status
    /// ever after), or with `None` hanging up without an answer.
    struct Canned {
        url: String,
        hits: Arc<AtomicUsize>,
    }

    impl Canned {
        fn start(script: &[Option<u16>]) -> Canned {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let hits = Arc::new(AtomicUsize::new(0));
            let counted = hits.clone();
            let script = script.to_vec();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    let n = counted.fetch_add(1, Ordering::SeqCst);
                    answer(stream, script[n.min(script.len() - 1)]);
                }
            });
            Canned { url, hits }
        }

        fn status(status: u16) -> Canned {
            Canned::start(&[Some(status)])
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    /// Reads one request, then answers `status` and closes (or just closes).
    fn answer(stream: TcpStream, status: Option<u16>) {
        let mut r = BufReader::new(&stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        let _ = r.read_exact(&mut body);
        let Some(status) = status else { return };
        let text = format!("{{\"status\":{status}}}");
        let _ = write!(
            &stream,
            "HTTP/1.1 {status} Canned\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    }

    /// An address where nothing listens (a port just bound and let go).
    fn closed_port() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}")
    }

    fn client(bases: &[&str]) -> Client {
        Client::with_servers(bases, "token-of-the-test", Duration::from_secs(5), None)
    }

    #[test]
    fn it_moves_past_a_closed_port_and_a_503_and_remembers_the_address_that_answered() {
        let (closed, busy, ok) = (closed_port(), Canned::status(503), Canned::status(200));
        let c = client(&[&closed, &busy.url, &ok.url]);
        assert_eq!(c.server(), closed);
        let (status, body) = c.request("GET", "/v1/nodes", None).unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"{\"status\":200}"[..]));
        assert_eq!((c.retries(), busy.hits(), ok.hits()), (2, 1, 1));
        assert_eq!(c.server(), ok.url);
        // The next request, also from a clone, goes straight to the address that answered.
        let (status, _) = c.clone().request("POST", "/v1/tasks", Some(b"{}")).unwrap();
        assert_eq!(status, 200);
        assert_eq!((c.retries(), busy.hits(), ok.hits()), (2, 1, 2));
    }

    #[test]
    fn a_502_503_or_504_is_tried_again_after_a_pause() {
        let flaky = Canned::start(&[Some(503), Some(502), Some(504), Some(201)]);
        let c = client(&[&flaky.url]);
        let t0 = Instant::now();
        let (status, _) = c.request("POST", "/v1/tasks", Some(b"{}")).unwrap();
        assert_eq!((status, flaky.hits(), c.retries()), (201, 4, 3));
        // Three pauses: 50, 100 and 200 ms.
        assert!(
            t0.elapsed() >= Duration::from_millis(350),
            "{:?}",
            t0.elapsed()
        );
    }

    #[test]
    fn a_connection_cut_without_an_answer_is_tried_again() {
        let (hang_up, ok) = (Canned::start(&[None]), Canned::status(200));
        let c = client(&[&hang_up.url, &ok.url]);
        let (status, _) = c.request("GET", "/healthz", None).unwrap();
        assert_eq!(
            (status, hang_up.hits(), ok.hits(), c.retries()),
            (200, 1, 1, 1)
        );
    }

    #[test]
    fn any_other_answer_is_returned_at_once_without_a_retry() {
        for refused in [400, 401, 403, 404, 409, 413, 422, 429, 500] {
            let (first, second) = (
                Canned::start(&[Some(refused), Some(200)]),
                Canned::status(200),
            );
            let c = client(&[&first.url, &second.url]);
            let (status, _) = c.request("POST", "/v1/tasks", Some(b"{}")).unwrap();
            assert_eq!(status, refused);
            assert_eq!(
                (first.hits(), second.hits(), c.retries()),
                (1, 0, 0),
                "{refused}"
            );
            // An address that answered, even with a refusal, is the one to start from.
            assert_eq!(c.server(), first.url, "{refused}");
        }
    }

    #[test]
    fn the_budget_bounds_the_retries_and_the_last_outcome_is_returned() {
        // Only 503s: the last one is the answer.
        let busy = Canned::status(503);
        let c = client(&[&busy.url]).with_retry_budget(Duration::from_millis(400));
        let t0 = Instant::now();
        let (status, _) = c.request("GET", "/v1/nodes", None).unwrap();
        assert_eq!(status, 503);
        // Tries at 0, 50, 150 and 350 ms; the next pause (400 ms) would pass the budget.
        assert!((2..=4).contains(&busy.hits()), "{} tries", busy.hits());
        assert_eq!(c.retries() as usize, busy.hits() - 1);
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());

        // Nobody there: the last error, which says how long it tried.
        let closed = closed_port();
        let c = client(&[&closed, &closed_port()]).with_retry_budget(Duration::from_millis(200));
        let e = c.request("GET", "/v1/nodes", None).unwrap_err();
        assert!(e.contains("attempts over 2 address(es)"), "{e}");
        assert_eq!(c.server(), closed);

        // No budget: one attempt.
        let ok = Canned::status(200);
        let c = client(&[&closed, &ok.url]).with_retry_budget(Duration::ZERO);
        let e = c.request("GET", "/v1/nodes", None).unwrap_err();
        assert!(e.contains(&closed) && !e.contains("attempts"), "{e}");
        assert_eq!((ok.hits(), c.retries()), (0, 0));
    }

    #[test]
    fn a_failure_no_retry_can_mend_is_returned_at_once() {
        // Not HTTP at all.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let talked = Arc::new(AtomicUsize::new(0));
        let counted = talked.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let ok = Canned::status(200);
        let c = client(&[&url, &ok.url]);
        let e = c.request("GET", "/healthz", None).unwrap_err();
        assert!(e.contains(&url), "{e}");
        assert_eq!(
            (talked.load(Ordering::SeqCst), ok.hits(), c.retries()),
            (1, 0, 0)
        );
        assert_eq!(
            c.request("PUT", "/healthz", None).unwrap_err(),
            "unsupported method PUT"
        );
    }
}
