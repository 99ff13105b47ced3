//! The HTTP/JSON API (axum): routes, bearer-token roles and tenants, request validation
//! with errors that name the field, server-sent events, Prometheus metrics and the
//! OpenAPI document. `router` builds the app so tests drive it without a socket.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tiandi_network::{GatewayTree, LinkKind, NodeKind, SnapshotBuilder};
use tiandi_orbit::{Epoch, ecef_to_geodetic};

use crate::config::{Principal, Role};
use crate::model::{Completion, Event, TaskRecord, TaskSpec, TaskState, Telemetry};
use crate::service::{Changes, Refusal, RefusalKind, Service, Submitted};

/// An HTTP error answer: a status, what was wrong and the request field at fault (a JSON
/// path such as `stages[1].work_flop`).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub error: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, error: impl Into<String>, field: Option<&str>) -> Self {
        ApiError {
            status,
            error: error.into(),
            field: field.map(str::to_string),
        }
    }
    pub fn bad(field: &str, error: impl Into<String>) -> Self {
        Self::new(400, error, Some(field))
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let status = match r.kind {
            RefusalKind::Invalid => 400,
            RefusalKind::Forged => 403,
            RefusalKind::NotFound => 404,
            RefusalKind::Stale => 409,
            RefusalKind::Infeasible => 422,
            RefusalKind::OverQuota => 429,
        };
        ApiError {
            status,
            error: r.message,
            field: r.field,
        }
    }
}
use crate::store::{CommitStats, Job, Store};

/// The OpenAPI 3.1 document, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Most tasks in one page of `GET /v1/tasks`.
const MAX_PAGE: usize = 1_000;
/// Most stored records one `GET /v1/tasks` reads; a page that hits it is short and its
/// `next_after` says where to go on.
const MAX_SCAN: usize = 100_000;

/// Largest agent report body: a stage's outputs at their limit, base64, with room for the
/// rest (whatever `max_body_bytes` says for other requests).
const MAX_REPORT_BYTES: usize = crate::model::MAX_OUTPUT_TOTAL_BYTES * 4 / 3 + (512 << 10);

/// How the twin clock maps wall time to twin time.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// Twin ns at `origin_wall_ns`.
    pub origin_twin_ns: i64,
    pub origin_wall_ns: i64,
    pub factor: f64,
}

pub fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl Clock {
    pub fn now_ns(&self) -> i64 {
        self.origin_twin_ns + ((wall_ns() - self.origin_wall_ns) as f64 * self.factor) as i64
    }
}

/// Latency histogram (seconds) in Prometheus' cumulative form.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_ns: AtomicU64,
    total: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }
    fn observe(&self, s: f64) {
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            if s <= *b {
                c.fetch_add(1, Relaxed);
            }
        }
        self.sum_ns.fetch_add((s * 1e9) as u64, Relaxed);
        self.total.fetch_add(1, Relaxed);
    }
    fn render(&self, name: &str, help: &str, out: &mut String) {
        use std::fmt::Write as _;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", c.load(Relaxed));
        }
        let total = self.total.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {total}",
            self.sum_ns.load(Relaxed) as f64 / 1e9
        );
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub svc: Mutex<Service>,
    pub clock: Clock,
    /// Principals by the SHA-256 of their token.
    pub tokens: BTreeMap<[u8; 32], Principal>,
    pub committer: Mutex<mpsc::Sender<Job>>,
    pub events: tokio::sync::broadcast::Sender<Event>,
    pub stats: Arc<CommitStats>,
    pub decision: Histogram,
    pub started: Instant,
    pub max_body_bytes: usize,
    /// The store, for reading tasks no longer held in memory.
    pub store: Arc<dyn Store>,
    /// Node names in network order.
    pub names: Arc<Vec<String>>,
    /// Permits for store listings running at once.
    pub listings: tokio::sync::Semaphore,
    /// Becomes true when the service shuts down: event streams end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// How long a request may take to be read and answered.
    pub request_timeout: std::time::Duration,
    /// Open event streams per token (by its digest), bounded by [`MAX_STREAMS_PER_TOKEN`].
    pub streams: Mutex<BTreeMap<[u8; 32], usize>>,
}

/// Event streams one token may hold open at once: one tenant cannot take every
/// connection the service has with streams.
pub const MAX_STREAMS_PER_TOKEN: usize = 16;

/// Holds one of a token's event-stream places until the stream ends.
struct StreamPlace {
    st: Arc<AppState>,
    key: [u8; 32],
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let mut m = self.st.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
    }
}

impl AppState {
    pub fn lock(&self) -> MutexGuard<'_, Service> {
        // A panic while holding the lock would be a bug; the data is still consistent
        // record by record, so keep serving rather than cascade.
        self.svc.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `changes` for the store (call with the service locked, so batches keep the
    /// order of the changes); the receiver resolves when they are durable.
    pub fn send(&self, changes: Changes) -> tokio::sync::oneshot::Receiver<Result<(), String>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job {
            writes: changes.writes,
            events: changes.events,
            ack: Some(tx),
        };
        let sender = self.committer.lock().unwrap_or_else(|e| e.into_inner());
        // If the store thread is gone the receiver reports it (503).
        let _ = sender.send(job);
        rx
    }
}

async fn durable(rx: tokio::sync::oneshot::Receiver<Result<(), String>>) -> Result<(), ApiError> {
    match rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ApiError::new(503, format!("not stored: {e}"), None)),
        Err(_) => Err(ApiError::new(503, "not stored: the store is gone", None)),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match &self.field {
            Some(f) => json!({"error": self.error, "field": f}),
            None => json!({"error": self.error}),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// The caller, from `Authorization: Bearer <token>`: its principal and its token's digest
/// (which tells tokens apart, whatever their names).
pub struct Auth(pub Principal, pub [u8; 32]);

impl FromRequestParts<Arc<AppState>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let unauthorised = |why: &str| ApiError::new(401, why.to_string(), Some("Authorization"));
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorised("missing Authorization: Bearer <token>"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorised("expected Authorization: Bearer <token>"))?;
        let digest = crate::secret::digest(token.trim());
        state
            .tokens
            .get(&digest)
            .cloned()
            .map(|p| Auth(p, digest))
            .ok_or_else(|| unauthorised("unknown token"))
    }
}

fn forbidden(why: &str) -> ApiError {
    ApiError::new(403, why.to_string(), None)
}

impl Auth {
    /// Operators and admins; `Some(tenant)` restricts to one tenant, `None` sees all.
    fn user(&self) -> Result<Option<&str>, ApiError> {
        match self.0.role {
            Role::Admin => Ok(None),
            Role::Operator => Ok(Some(&self.0.tenant)),
            Role::Agent => Err(forbidden(
                "agent tokens may use only their node's agent endpoints",
            )),
        }
    }
    fn admin(&self) -> Result<(), ApiError> {
        match self.0.role {
            Role::Admin => Ok(()),
            _ => Err(forbidden("admin only")),
        }
    }
    /// The agent of `node`: only its own agent token (an admin's heartbeat would make the
    /// node look served by an agent that runs nothing).
    fn agent_of(&self, node: &str) -> Result<(), ApiError> {
        match self.0.role {
            Role::Agent if self.0.node.as_deref() == Some(node) => Ok(()),
            _ => Err(forbidden(
                "only this node's agent token may use its agent endpoints",
            )),
        }
    }
}

/// A request body, read whole within the size limit; a refusal is a JSON error (413 for
/// a body over the limit).
pub struct Body(pub Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e| {
                let status = e.status().as_u16();
                let why = if status == 413 {
                    "request body over the size limit".to_string()
                } else {
                    format!("request body unreadable: {}", e.body_text())
                };
                ApiError::new(status, why, Some("body"))
            })
    }
}

/// Parses a JSON body; errors name the field by its path.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde would take a struct from an array too; the API speaks objects only.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad("body", "expected a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let mut field = e.path().to_string();
        if field == "?" {
            field = "body".into();
        } else if field == "." {
            // A missing or unknown field is reported at its parent: name it from the message.
            field = message
                .split('`')
                .nth(1)
                .map(str::to_string)
                .unwrap_or_else(|| "body".into());
        } else if let Some(name) = message.split('`').nth(1)
            && message.starts_with("missing field")
        {
            field = format!("{field}.{name}");
        }
        ApiError::new(400, format!("invalid JSON: {message}"), Some(&field))
    })
}

/// Query parameters by name. A parameter given twice is an error (which one would count?);
/// unknown ones are ignored.
fn parse_query(raw: Option<String>) -> Result<BTreeMap<String, String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad("query", format!("unreadable query string: {e}")))?;
    let mut out = BTreeMap::new();
    for (k, v) in pairs {
        if out.contains_key(&k) {
            return Err(ApiError::bad(&k, "given more than once"));
        }
        out.insert(k, v);
    }
    Ok(out)
}

fn iso(ns: i64) -> String {
    Epoch::from_unix_ns(ns).to_string()
}

fn task_view(r: &TaskRecord, names: &[String]) -> Value {
    let name = |n: u32| {
        names
            .get(n as usize)
            .cloned()
            .unwrap_or_else(|| n.to_string())
    };
    let stages: Vec<Value> = r
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "stage": i,
                "node": s.node.map(name),
                "state": s.state,
                "attempt": s.attempt,
                "expected_start": iso(s.expected_start_ns),
                "expected_finish": iso(s.expected_finish_ns),
                "route": s.route.iter().map(|&n| name(n)).collect::<Vec<_>>(),
                "exit_code": s.exit_code,
                "command": r.spec.stages[i].run.is_some(),
            })
        })
        .collect();
    json!({
        "id": r.id,
        "tenant": r.tenant,
        "idempotency_key": r.spec.idempotency_key,
        "state": r.state,
        "kind": r.spec.kind.clone().unwrap_or_else(|| "graph".into()),
        "origin": r.spec.origin,
        "destination": r.spec.destination.clone().unwrap_or_else(|| "any-ground".into()),
        "policy": r.policy,
        "submitted_at": iso(r.submitted_wall_ns),
        "twin_submitted": iso(r.submitted_ns),
        "deadline": iso(r.deadline_ns),
        "expected_finish": iso(r.expected_finish_ns),
        "finished": r.finished_ns.map(iso),
        // Only a delivered result meets or misses its deadline; a failed task missed it, a
        // cancelled or unfinished one has no answer.
        "deadline_met": match r.state {
            TaskState::Completed => r.finished_ns.map(|f| f <= r.deadline_ns),
            TaskState::Failed => Some(false),
            _ => None,
        },
        "reason": r.reason,
        "replacements": r.replacements,
        "decision": {"stages": stages, "deliver_s": r.deliver_s},
        "files": r.files.keys().collect::<Vec<_>>(),
    })
}

// ----- tasks ---------------------------------------------------------------------------

async fn submit_task(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let t0 = Instant::now();
    let tenant = match auth.user()? {
        Some(t) => t.to_string(),
        None => auth.0.tenant.clone(),
    };
    let spec: TaskSpec = parse_json(&body).inspect_err(|_| {
        st.lock().count_invalid_request();
    })?;
    let (result, rx) = {
        let mut svc = st.lock();
        let now = st.clock.now_ns();
        let result = svc.submit(&tenant, spec, now, wall_ns());
        let rx = st.send(svc.take_changes());
        (result, rx)
    };
    let (status, record) = match result? {
        Submitted::Accepted(record) => {
            durable(rx).await?;
            (StatusCode::CREATED, *record)
        }
        Submitted::Duplicate(id) => {
            // The key's first acceptance was queued for the store before this call's
            // batch, so once that is durable the task is in memory or in the store.
            durable(rx).await?;
            let record = find_task(&st, id, Some(tenant.as_str()))
                .await
                .map_err(|e| {
                    if e.status == 404 {
                        ApiError::new(
                            500,
                            format!("the idempotency key names task {id}, which is not stored"),
                            None,
                        )
                    } else {
                        e
                    }
                })?;
            st.lock().count_duplicate_answered();
            (StatusCode::OK, record)
        }
    };
    st.decision.observe(t0.elapsed().as_secs_f64());
    Ok((status, axum::Json(task_view(&record, &st.names))).into_response())
}

fn parse_id(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad("id", format!("{text:?}: expected a task id (integer)")))
}

async fn get_task(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = auth.user()?;
    let id = parse_id(&id)?;
    let r = find_task(&st, id, tenant).await?;
    Ok(axum::Json(task_view(&r, &st.names)).into_response())
}

/// A task as its tenant (or an admin) may see it: the live record in memory, or the stored
/// one for a task that ended long ago. Another tenant's task is "not found".
async fn find_task(
    st: &Arc<AppState>,
    id: u64,
    tenant: Option<&str>,
) -> Result<TaskRecord, ApiError> {
    let in_memory = st.lock().task_in_memory(id).cloned();
    let record = match in_memory {
        Some(r) => Some(r),
        None => {
            let store = st.store.clone();
            tokio::task::spawn_blocking(move || store.get(id))
                .await
                .map_err(|e| ApiError::new(500, format!("store reader: {e}"), None))?
                .map_err(|e| ApiError::new(500, e.to_string(), None))?
        }
    };
    match record {
        Some(r) if tenant.is_none_or(|t| t == r.tenant) => Ok(r),
        _ => Err(ApiError::new(404, format!("no task {id}"), None)),
    }
}

async fn list_tasks(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let tenant = auth.user()?;
    let q = parse_query(raw)?;
    let state = match q.get("state").map(String::as_str) {
        None => None,
        Some(s) => Some(TaskState::parse(s).ok_or_else(|| {
            ApiError::bad(
                "state",
                format!("{s:?}: expected queued, running, completed, failed or cancelled"),
            )
        })?),
    };
    let since_ns = match q.get("since").map(String::as_str) {
        None => i64::MIN,
        Some(s) => Epoch::parse_iso(s)
            .map_err(|e| ApiError::bad("since", format!("{s:?}: {e}")))?
            .unix_ns(),
    };
    let after = match q.get("after").map(String::as_str) {
        None => 0,
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| ApiError::bad("after", format!("{a:?}: expected a task id")))?,
    };
    let limit = match q.get("limit").map(String::as_str) {
        None => 100,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(ApiError::bad(
                    "limit",
                    format!("{l:?}: expected 1 to {MAX_PAGE}"),
                ));
            }
        },
    };
    // Listings read the store; a bounded number run at once so that many large pages
    // cannot take the memory of the process.
    let _permit = tokio::time::timeout(std::time::Duration::from_secs(5), st.listings.acquire())
        .await
        .map_err(|_| ApiError::new(503, "too many listings at once: try again", None))?
        .map_err(|_| ApiError::new(503, "shutting down", None))?;
    // The stored records, in id order (a change is visible here once it is durable): a
    // tenant's through the tenant index, every record for an admin. Each record becomes
    // its view at once, so a page never holds records' files.
    let store = st.store.clone();
    let names = st.names.clone();
    let tenant = tenant.map(str::to_string);
    let (page, next) = tokio::task::spawn_blocking(move || {
        let mut page: Vec<Value> = Vec::new();
        let mut last = 0;
        let mut next = None;
        let mut scanned = 0;
        let mut visit = |r: TaskRecord| {
            scanned += 1;
            let wanted = state.is_none_or(|s| s == r.state) && r.submitted_wall_ns >= since_ns;
            if wanted {
                if page.len() == limit {
                    next = Some(last);
                    return false;
                }
                last = r.id;
                page.push(task_view(&r, &names));
            } else if scanned >= MAX_SCAN {
                next = Some(r.id);
                return false;
            }
            true
        };
        match tenant.as_deref() {
            Some(t) => store.scan_tenant(t, after, &mut visit)?,
            None => store.scan(after, &mut visit)?,
        }
        Ok::<_, crate::store::StoreError>((page, next))
    })
    .await
    .map_err(|e| ApiError::new(500, format!("store reader: {e}"), None))?
    .map_err(|e| ApiError::new(500, e.to_string(), None))?;
    Ok(axum::Json(json!({"tasks": page, "next_after": next})).into_response())
}

async fn cancel_task(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = auth.user()?.map(str::to_string);
    let id = parse_id(&id)?;
    let held = {
        let mut svc = st.lock();
        if svc.task_in_memory(id).is_some() {
            let now = st.clock.now_ns();
            let r = svc.cancel(id, tenant.as_deref(), now)?;
            Some((r, st.send(svc.take_changes())))
        } else {
            None
        }
    };
    let Some((r, rx)) = held else {
        // Not in memory: unknown, or ended long ago.
        let r = find_task(&st, id, tenant.as_deref()).await?;
        return Err(ApiError::new(
            409,
            format!("task {id} already ended ({})", r.state.as_str()),
            None,
        ));
    };
    durable(rx).await?;
    Ok(axum::Json(task_view(&r, &st.names)).into_response())
}

async fn get_file(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    use base64::Engine as _;
    let tenant = auth.user()?;
    let id = parse_id(&id)?;
    let r = find_task(&st, id, tenant).await?;
    let content = r
        .files
        .get(&name)
        .ok_or_else(|| ApiError::new(404, format!("task {id} has no file {name:?}"), None))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content)
        .map_err(|e| ApiError::new(500, format!("stored file unreadable: {e}"), None))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        bytes,
    )
        .into_response())
}

// ----- twin ----------------------------------------------------------------------------

fn node_summary(svc: &Service, v: u32, wall: Instant) -> Value {
    let t = &svc.twin;
    let snap = t.snapshot();
    let g = ecef_to_geodetic(if snap.n_nodes() > 0 {
        snap.node_ecef_km(v)
    } else {
        glam::DVec3::ZERO
    });
    let compute = t.compute(v);
    json!({
        "id": svc.node_name(v),
        "index": v,
        "kind": match t.kind(v) {
            NodeKind::Satellite => "satellite",
            NodeKind::GroundStation => "ground-station",
            NodeKind::DataCentre => "data-centre",
            NodeKind::UserTerminal => "user-region",
        },
        "latitude_deg": g.latitude_deg,
        "longitude_deg": g.longitude_deg,
        "altitude_km": g.altitude_km,
        "down": t.is_down(v),
        "agent": {
            "live": svc.agent_live(v),
            "last_heartbeat_s_ago": svc.agent_seen_s(v, wall),
        },
        "load": {
            "slots": compute.map(|c| c.slots),
            "active_stages": svc.loads().active[v as usize],
            "queued_work_flop": svc.loads().work_flop[v as usize],
            "slot_rate_flops": t.slot_rate_flops(v),
        },
    })
}

async fn list_nodes(State(st): State<Arc<AppState>>, auth: Auth) -> Result<Response, ApiError> {
    auth.user()?;
    let svc = st.lock();
    let wall = Instant::now();
    let nodes: Vec<Value> = (0..svc.twin.n_nodes() as u32)
        .map(|v| node_summary(&svc, v, wall))
        .collect();
    Ok(axum::Json(json!({"at": iso(st.clock.now_ns()), "nodes": nodes})).into_response())
}

async fn get_node(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    auth.user()?;
    let svc = st.lock();
    let t = &svc.twin;
    let v = svc
        .node_id(&name)
        .ok_or_else(|| ApiError::new(404, format!("no node {name:?}"), None))?;
    let mut out = node_summary(&svc, v, Instant::now());
    let snap = t.snapshot();
    let links: Vec<Value> = if snap.n_nodes() > 0 {
        snap.neighbours(v)
            .iter()
            .map(|a| {
                let l = snap.link(a.link);
                json!({
                    "to": svc.node_name(a.node),
                    "kind": l.kind.as_str(),
                    "distance_km": l.distance_km,
                    "delay_ms": l.delay_ms,
                    "capacity_bps": l.capacity_bps,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    out["links"] = json!(links);
    if (v as usize) < t.n_sats() {
        let s = t.sat_status(v);
        out["power"] = json!({
            "battery_soc": s.soc_fraction,
            "sunlit_fraction": s.sunlit_fraction,
            "payload_w": s.payload_w,
            "throughput_fraction": s.rate_fraction,
        });
        out["temperature_k"] = json!(s.temp_k);
    }
    out["telemetry"] = json!(t.report(v).map(Telemetry::from));
    out["at"] = json!(iso(st.clock.now_ns()));
    Ok(axum::Json(out).into_response())
}

fn parse_at(at: Option<&str>, now_ns: i64) -> Result<i64, ApiError> {
    let Some(text) = at else {
        return Ok(now_ns);
    };
    let t = Epoch::parse_iso(text)
        .map_err(|e| ApiError::bad("at", format!("{text:?}: {e}")))?
        .unix_ns();
    // SGP4 from one set of elements is meaningful for weeks, not years.
    let limit = 366 * 86_400 * 1_000_000_000_i64;
    if (i128::from(t) - i128::from(now_ns)).abs() > i128::from(limit) {
        return Err(ApiError::bad(
            "at",
            format!(
                "{text}: expected within a year of the twin's time {}",
                iso(now_ns)
            ),
        ));
    }
    Ok(t)
}

/// Builds the snapshot at `at` off the service lock.
async fn snapshot_at(st: &Arc<AppState>, at_ns: i64) -> Result<tiandi_network::Snapshot, ApiError> {
    let (net, sats) = {
        let svc = st.lock();
        (svc.twin.network().clone(), svc.twin.satellites().clone())
    };
    tokio::task::spawn_blocking(move || {
        let mut b = SnapshotBuilder::new(&net);
        b.build(&sats, Epoch::from_unix_ns(at_ns)).cloned()
    })
    .await
    .map_err(|e| ApiError::new(500, format!("topology worker: {e}"), None))?
    .map_err(|e| ApiError::bad("at", e.to_string()))
}

async fn topology(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    auth.user()?;
    let q = parse_query(raw)?;
    let at = parse_at(q.get("at").map(String::as_str), st.clock.now_ns())?;
    let snap = snapshot_at(&st, at).await?;
    let names = &st.names;
    let links: Vec<Value> = snap
        .links()
        .iter()
        .map(|l| {
            json!({
                "a": names[l.a as usize],
                "b": names[l.b as usize],
                "kind": l.kind.as_str(),
                "distance_km": l.distance_km,
                "delay_ms": l.delay_ms,
                "capacity_bps": l.capacity_bps,
            })
        })
        .collect();
    Ok(
        axum::Json(json!({"at": iso(at), "n_nodes": snap.n_nodes(), "links": links}))
            .into_response(),
    )
}

async fn routes(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    auth.user()?;
    let q = parse_query(raw)?;
    let at = parse_at(q.get("at").map(String::as_str), st.clock.now_ns())?;
    let names = &st.names;
    let (src, dst, kinds, down) = {
        let svc = st.lock();
        let find = |field: &str| -> Result<u32, ApiError> {
            let name = q
                .get(field)
                .map(String::as_str)
                .ok_or_else(|| ApiError::bad(field, "required: a node name"))?;
            svc.node_id(name)
                .ok_or_else(|| ApiError::bad(field, format!("no node named {name:?}")))
        };
        (
            find("src")?,
            find("dst")?,
            svc.twin.kinds().to_vec(),
            svc.twin.down().to_vec(),
        )
    };
    let snap = snapshot_at(&st, at).await?;
    let mut tree = GatewayTree::default();
    tree.build(
        &snap,
        &[(dst, 0.0)],
        &|v| kinds[v as usize] != tiandi_network::NodeKind::Satellite,
        &down,
    );
    let mut hops = vec![names[src as usize].clone()];
    let mut links = Vec::new();
    let mut at_node = src;
    if tree.reachable(src) {
        for _ in 0..snap.n_nodes() {
            let Some((next, link)) = tree.next_hop(&snap, at_node) else {
                break;
            };
            links.push(snap.link(link).kind.as_str());
            hops.push(names[next as usize].clone());
            at_node = next;
        }
    }
    let reachable = tree.reachable(src);
    Ok(axum::Json(json!({
        "src": names[src as usize],
        "dst": names[dst as usize],
        "at": iso(at),
        "reachable": reachable,
        "delay_ms": if reachable { Some(tree.dist_ms[src as usize]) } else { None },
        "hops": if reachable { hops } else { Vec::new() },
        "links": links,
        "isl_hops": links.iter().filter(|k| **k == LinkKind::Isl.as_str()).count(),
    }))
    .into_response())
}

// ----- events, health, metrics ----------------------------------------------------------

fn may_see(p: &Principal, e: &Event) -> bool {
    match (p.role, e) {
        (Role::Admin, _) => true,
        (Role::Operator, Event::Task { tenant, .. }) => *tenant == p.tenant,
        (Role::Operator, _) => true,
        (Role::Agent, _) => false,
    }
}

async fn events(
    State(st): State<Arc<AppState>>,
    auth: Auth,
) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    auth.user()?;
    let key = auth.1;
    {
        let mut m = st.streams.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(key).or_default();
        if *n >= MAX_STREAMS_PER_TOKEN {
            return Err(ApiError::new(
                429,
                format!("this token holds {MAX_STREAMS_PER_TOKEN} event streams already"),
                None,
            ));
        }
        *n += 1;
    }
    let place = StreamPlace {
        st: st.clone(),
        key,
    };
    let rx = st.events.subscribe();
    let stop = st.shutdown.clone();
    let stream = futures_util::stream::unfold(
        (rx, auth.0, stop, place),
        |(mut rx, p, mut stop, place)| async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                if *stop.borrow() {
                    return None;
                }
                let next = tokio::select! {
                    e = rx.recv() => e,
                    // Shutting down; a closed channel (no shutdown to come) changes nothing.
                    Ok(()) = stop.changed() => return None,
                };
                match next {
                    Ok(e) if may_see(&p, &e) => {
                        let ev = SseEvent::default()
                            .event(e.name())
                            .json_data(&e)
                            .unwrap_or_else(|_| {
                                SseEvent::default().comment("unserialisable event")
                            });
                        return Some((Ok(ev), (rx, p, stop, place)));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        let ev = SseEvent::default().comment(format!("lagged: {n} events dropped"));
                        return Some((Ok(ev), (rx, p, stop, place)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    let failed = st.stats.failed.load(Relaxed);
    let svc = st.lock();
    let body = json!({
        "status": if failed { "store-failed" } else { "ok" },
        "twin_time": iso(st.clock.now_ns()),
        "tasks": svc.n_tasks(),
        "uptime_s": st.started.elapsed().as_secs_f64(),
    });
    let status = if failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(st): State<Arc<AppState>>, auth: Auth) -> Result<Response, ApiError> {
    use std::fmt::Write as _;
    auth.admin()?;
    let mut out = String::new();
    let store = st.store.clone();
    let store_bytes = tokio::task::spawn_blocking(move || store.size_bytes())
        .await
        .ok()
        .and_then(Result::ok);
    let (c, by_state, agents_live, twin_ns, in_memory) = {
        let svc = st.lock();
        let live = (0..svc.twin.n_nodes() as u32)
            .filter(|&v| svc.agent_live(v))
            .count();
        (
            svc.counters().clone(),
            svc.count_by_state(),
            live,
            st.clock.now_ns(),
            svc.n_in_memory(),
        )
    };
    let counter = |out: &mut String, name: &str, help: &str, v: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    };
    let _ = writeln!(
        out,
        "# HELP tiandi_submissions_total Task submissions by outcome.\n# TYPE tiandi_submissions_total counter"
    );
    for (outcome, v) in [
        ("accepted", c.accepted),
        ("duplicate", c.duplicate),
        ("invalid", c.rejected_invalid),
        ("infeasible", c.rejected_infeasible),
        ("quota", c.rejected_quota),
    ] {
        let _ = writeln!(out, "tiandi_submissions_total{{outcome=\"{outcome}\"}} {v}");
    }
    let _ = writeln!(
        out,
        "# HELP tiandi_tasks Tasks held, by state.\n# TYPE tiandi_tasks gauge"
    );
    for s in TaskState::ALL {
        let _ = writeln!(
            out,
            "tiandi_tasks{{state=\"{}\"}} {}",
            s.as_str(),
            by_state.get(&s).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(
        out,
        "# HELP tiandi_tasks_in_memory Task records held in memory (the rest are read from the store).\n# TYPE tiandi_tasks_in_memory gauge\ntiandi_tasks_in_memory {in_memory}"
    );
    counter(
        &mut out,
        "tiandi_stages_replaced_total",
        "Stages placed again after their node was lost.",
        c.replaced_stages,
    );
    counter(
        &mut out,
        "tiandi_forged_reports_total",
        "Agent reports refused for want of their attempt's secret.",
        c.forged_reports,
    );
    counter(
        &mut out,
        "tiandi_stages_restarted_total",
        "Stages given again as a new attempt because their agent process was replaced.",
        c.restarted_stages,
    );
    counter(
        &mut out,
        "tiandi_store_records_read_total",
        "Task records decoded from the store by reads.",
        st.store.records_read(),
    );
    counter(
        &mut out,
        "tiandi_agents_lost_total",
        "Agents declared lost after missed heartbeats.",
        c.agents_lost,
    );
    counter(
        &mut out,
        "tiandi_stale_reports_total",
        "Agent reports refused as stale.",
        c.stale_reports,
    );
    let _ = writeln!(
        out,
        "# HELP tiandi_agents_live Node agents heard within the heartbeat timeout.\n# TYPE tiandi_agents_live gauge\ntiandi_agents_live {agents_live}"
    );
    counter(
        &mut out,
        "tiandi_store_commits_total",
        "Store transactions committed.",
        st.stats.commits.load(Relaxed),
    );
    counter(
        &mut out,
        "tiandi_store_writes_total",
        "Records written to the store.",
        st.stats.writes.load(Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP tiandi_store_commit_seconds_total Time spent committing.\n# TYPE tiandi_store_commit_seconds_total counter\ntiandi_store_commit_seconds_total {}",
        st.stats.commit_ns_total.load(Relaxed) as f64 / 1e9
    );
    counter(
        &mut out,
        "tiandi_retention_deleted_total",
        "Ended tasks deleted from the store by retention.",
        st.stats.retained_out.load(Relaxed),
    );
    if let Some(bytes) = store_bytes {
        let _ = writeln!(
            out,
            "# HELP tiandi_store_bytes Bytes the store takes (the redb file, or the tasks table with its indexes).\n# TYPE tiandi_store_bytes gauge\ntiandi_store_bytes {bytes}"
        );
    }
    st.decision.render(
        "tiandi_decision_seconds",
        "Submission to durable decision, seconds.",
        &mut out,
    );
    let _ = writeln!(
        out,
        "# HELP tiandi_twin_time_seconds The twin clock, Unix seconds.\n# TYPE tiandi_twin_time_seconds gauge\ntiandi_twin_time_seconds {}",
        twin_ns as f64 / 1e9
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        out,
    )
        .into_response())
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

// ----- agents ----------------------------------------------------------------------------

fn agent_node(st: &AppState, auth: &Auth, name: &str) -> Result<u32, ApiError> {
    auth.agent_of(name)?;
    st.lock()
        .node_id(name)
        .ok_or_else(|| ApiError::new(404, format!("no node {name:?}"), None))
}

async fn heartbeat(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let node = agent_node(&st, &auth, &name)?;
    let t: Telemetry = if body.is_empty() {
        Telemetry::default()
    } else {
        parse_json(&body)?
    };
    let report = crate::validate::report(&t)?;
    let rx = {
        let mut svc = st.lock();
        let now = st.clock.now_ns();
        svc.heartbeat(node, report, now, Instant::now());
        st.send(svc.take_changes())
    };
    durable(rx).await?;
    Ok(axum::Json(json!({"node": name, "twin_time": iso(st.clock.now_ns())})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PollBody {
    #[serde(default = "one")]
    max: usize,
    /// Stages the agent is running or still has to report.
    #[serde(default)]
    holds: Vec<crate::model::StageRef>,
    /// The agent process: a random id it picks at start.
    #[serde(default)]
    instance: Option<String>,
}

fn one() -> usize {
    1
}

async fn poll(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let node = agent_node(&st, &auth, &name)?;
    let b: PollBody = if body.is_empty() {
        PollBody {
            max: 1,
            holds: Vec::new(),
            instance: None,
        }
    } else {
        parse_json(&body)?
    };
    if b.max > 256 {
        return Err(ApiError::bad(
            "max",
            format!("{}: expected 0 to 256", b.max),
        ));
    }
    let instance = b.instance.unwrap_or_default();
    if instance.len() > 128 {
        return Err(ApiError::bad("instance", "expected at most 128 characters"));
    }
    let (work, rx) = {
        let mut svc = st.lock();
        if !svc.agent_live(node) {
            return Err(ApiError::new(
                409,
                "send a heartbeat first: the node has no live agent",
                None,
            ));
        }
        let now = st.clock.now_ns();
        let holds = b.holds.iter().copied().collect();
        let work = svc.poll(node, &instance, b.max, &holds, now);
        (work, st.send(svc.take_changes()))
    };
    // The assignment is durable before the agent may start it.
    durable(rx).await?;
    Ok(axum::Json(json!({"assignments": work.assignments, "cancel": work.cancel})).into_response())
}

async fn complete(
    State(st): State<Arc<AppState>>,
    auth: Auth,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let node = agent_node(&st, &auth, &name)?;
    let c: Completion = parse_json(&body)?;
    let (result, rx) = {
        let mut svc = st.lock();
        let now = st.clock.now_ns();
        let result = svc.complete(node, c, now);
        (result, st.send(svc.take_changes()))
    };
    durable(rx).await?;
    result?;
    Ok(axum::Json(json!({"accepted": true})).into_response())
}

// ----- console ---------------------------------------------------------------------------

/// The console's security policy: its own scripts, styles and API only; no inline code, no
/// frames, no forms posted elsewhere, no other origin.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

fn console_response(content_type: &'static str, body: &'static str) -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response();
    console_headers(&mut r);
    r
}

/// The console's security headers, on its pages, its assets and its 404s alike.
fn console_headers(r: &mut Response) {
    r.headers_mut().extend([
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONSOLE_CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ]);
}

/// The operator console at `/`: a page with no secret in it (the operator signs in with a
/// token that the page keeps in memory and sends to this origin only).
async fn console_page() -> Response {
    console_response("text/html; charset=utf-8", tiandi_web::CONSOLE_HTML)
}

/// The console's files, from a fixed list (no path is ever read from disk).
async fn console_asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (ty, body) = match name.as_str() {
        "three.min.js" => ("text/javascript; charset=utf-8", tiandi_web::THREE_JS),
        "three.LICENSE.txt" => ("text/plain; charset=utf-8", tiandi_web::THREE_LICENSE),
        "globe.js" => ("text/javascript; charset=utf-8", tiandi_web::GLOBE_JS),
        "console.js" => ("text/javascript; charset=utf-8", tiandi_web::CONSOLE_JS),
        "globe.css" => ("text/css; charset=utf-8", tiandi_web::GLOBE_CSS),
        "console.css" => ("text/css; charset=utf-8", tiandi_web::CONSOLE_CSS),
        "land.txt" => ("text/plain; charset=utf-8", tiandi_web::LAND_110M),
        _ => {
            let mut r =
                ApiError::new(404, format!("no console file {name:?}"), None).into_response();
            console_headers(&mut r);
            return Ok(r);
        }
    };
    Ok(console_response(ty, body))
}

async fn no_route() -> ApiError {
    ApiError::new(404, "no route: see /openapi.json for the API", None)
}

/// The application and the (method, path) of every route it serves, from one table so
/// the OpenAPI test can compare them.
pub fn router(state: Arc<AppState>) -> (Router, Vec<(&'static str, &'static str)>) {
    let table: Vec<(&'static str, &'static str, MethodRouter<Arc<AppState>>)> = vec![
        ("get", "/healthz", get(healthz)),
        ("get", "/metrics", get(metrics)),
        ("get", "/openapi.json", get(openapi)),
        ("post", "/v1/tasks", post(submit_task)),
        ("get", "/v1/tasks", get(list_tasks)),
        ("get", "/v1/tasks/{id}", get(get_task)),
        ("delete", "/v1/tasks/{id}", delete(cancel_task)),
        ("get", "/v1/tasks/{id}/files/{name}", get(get_file)),
        ("get", "/v1/nodes", get(list_nodes)),
        ("get", "/v1/nodes/{id}", get(get_node)),
        ("get", "/v1/topology", get(topology)),
        ("get", "/v1/routes", get(routes)),
        ("get", "/v1/events", get(events)),
        ("post", "/v1/agents/{node}/heartbeat", post(heartbeat)),
        ("post", "/v1/agents/{node}/poll", post(poll)),
        (
            "post",
            "/v1/agents/{node}/complete",
            // A report carries up to MAX_OUTPUT_TOTAL_BYTES of output, base64-encoded.
            post(complete).layer(DefaultBodyLimit::max(MAX_REPORT_BYTES)),
        ),
    ];
    let mut routes = Vec::new();
    let mut merged: BTreeMap<&'static str, MethodRouter<Arc<AppState>>> = BTreeMap::new();
    for (method, path, handler) in table {
        routes.push((method, path));
        let entry = merged.remove(path);
        merged.insert(
            path,
            match entry {
                Some(m) => m.merge(handler),
                None => handler,
            },
        );
    }
    let max_body = state.max_body_bytes;
    // The console's pages are not part of the JSON API (nor of its OpenAPI document).
    let mut app = Router::new()
        .route("/", get(console_page))
        .route("/console/{name}", get(console_asset));
    for (path, m) in merged {
        app = app.route(path, m);
    }
    let timeout = state.request_timeout;
    let app = app
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                // Reading the body and answering; an event stream's body is sent after.
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(r) => r,
                    Err(_) => ApiError::new(408, "request not read and answered in time", None)
                        .into_response(),
                }
            },
        ))
        .with_state(state);
    (app, routes)
}
