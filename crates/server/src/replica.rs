//! Several `tiandi serve` instances on one PostgreSQL: the lease that picks the one
//! leader, and the front that every request enters. The leader answers with its service;
//! a follower forwards the request to the leader the lease row names.
//!
//! The leader renews its lease every quarter of its length. It steps down, dropping its
//! in-memory state, as soon as its own monotonic clock says the lease may have lapsed
//! (a paused process notices on waking, before it answers anything), when a renewal is
//! refused, or when a commit fails (the store fences every commit on the lease, see
//! [`crate::pg`]). A follower takes the lease once it has expired by the database's
//! clock, loads every task and leads. Its service's twin is built while it follows, so a
//! takeover costs the lease's expiry plus loading the store.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tiandi_scenario::Scenario;
use tower::ServiceExt as _;

use crate::api::AppState;
use crate::config::ServeConfig;
use crate::pg::{Lease, PgStore};
use crate::service::Service;

/// Marks a request one instance forwarded to another: it is never forwarded again.
pub const FORWARDED: HeaderName = HeaderName::from_static("tiandi-forwarded");
/// Every answer says which role the instance that answered had.
pub const ROLE: HeaderName = HeaderName::from_static("tiandi-role");
/// How often a follower tries to take the lease.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// Connecting to the leader to forward a request.
const FORWARD_CONNECT: Duration = Duration::from_secs(2);

/// What the instance holds while it leads.
struct Leading {
    app: Router,
    state: Arc<AppState>,
    lease: Lease,
    /// The lease may have lapsed after this, by this process's clock.
    valid_until: Instant,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub struct Front {
    store: Arc<PgStore>,
    instance: String,
    advertise: String,
    config: ServeConfig,
    scenario: Scenario,
    lease_len: Duration,
    leading: Mutex<Option<Leading>>,
    /// The leader's address as last read from the lease row.
    leader_hint: Mutex<Option<String>>,
    /// Trust for forwarding to an HTTPS leader: the certificates of `[tls] cert`.
    tls: Option<tokio_rustls::TlsConnector>,
    /// The whole process is stopping.
    stopping: tokio::sync::watch::Receiver<bool>,
    /// Idle keep-alive connections to the leader, for forwarding.
    pool: Arc<Mutex<Vec<Idle>>>,
    pool_idle: Duration,
}

/// A connection to a leader, free for the next forwarded request.
struct Idle {
    base: String,
    since: Instant,
    sender: hyper::client::conn::http1::SendRequest<Body>,
}

/// Idle forwarding connections kept at most.
const POOL_MAX: usize = 64;
/// An idle forwarding connection is kept at most this long, and at most half the
/// `header_timeout_s` (after which the leader closes an idle connection, maybe under a
/// request sent on it; the instances are expected to share their configuration).
const POOL_IDLE_MAX: Duration = Duration::from_secs(5);

impl Front {
    pub fn new(
        store: Arc<PgStore>,
        advertise: String,
        config: ServeConfig,
        scenario: Scenario,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Arc<Front>, String> {
        let tls = match &config.tls {
            Some(files) => Some(peer_connector(&files.cert)?),
            None => None,
        };
        let pool_idle = Duration::from_secs_f64(config.header_timeout_s / 2.0).min(POOL_IDLE_MAX);
        Ok(Arc::new(Front {
            instance: format!("{advertise}#{}", crate::secret::random_hex(6)),
            store,
            advertise,
            lease_len: Duration::from_secs_f64(config.lease_s),
            config,
            scenario,
            leading: Mutex::new(None),
            leader_hint: Mutex::new(None),
            tls,
            stopping,
            pool: Arc::default(),
            pool_idle,
        }))
    }

    /// This instance's name in the lease row: its address and a random suffix.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The router every request enters.
    pub fn router(self: Arc<Front>) -> Router {
        Router::new().fallback(front).with_state(self)
    }

    /// The leader's app, if this instance leads and its lease is still valid.
    fn leader_app(&self) -> Option<Router> {
        let g = self.leading.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref()
            .filter(|l| Instant::now() < l.valid_until)
            .map(|l| l.app.clone())
    }

    /// Leads when it can, follows otherwise, until the process stops.
    pub async fn run(self: Arc<Front>) {
        let mut stopping = self.stopping.clone();
        let mut spare: Option<Service> = None;
        let mut last_error = String::new();
        loop {
            if *stopping.borrow() {
                return;
            }
            if spare.is_none() {
                let (c, s) = (self.config.clone(), self.scenario.clone());
                match tokio::task::spawn_blocking(move || crate::new_service(&c, &s)).await {
                    Ok(Ok(svc)) => spare = Some(svc),
                    Ok(Err(e)) => {
                        eprintln!("tiandi serve: cannot build the twin: {e}");
                        return;
                    }
                    Err(e) => {
                        eprintln!("tiandi serve: building the twin: {e}");
                        return;
                    }
                }
            }
            // The lease runs from the database's clock at the update, which is after
            // this instant: counting from here errs on the safe side.
            let asked = Instant::now();
            let attempt = self
                .store
                .try_acquire(&self.instance, &self.advertise, self.lease_len)
                .await;
            let lease = match attempt {
                Ok(Some(lease)) => lease,
                Ok(None) => {
                    if let Ok(info) = self.store.leader().await {
                        *self.leader_hint.lock().unwrap_or_else(|e| e.into_inner()) =
                            info.address.filter(|_| info.live);
                    }
                    tokio::select! {
                        () = tokio::time::sleep(FOLLOW_POLL) => {},
                        _ = stopping.changed() => {},
                    }
                    continue;
                }
                Err(e) => {
                    let text = e.to_string();
                    if text != last_error {
                        eprintln!("tiandi serve: lease: {text}");
                        last_error = text;
                    }
                    tokio::select! {
                        () = tokio::time::sleep(FOLLOW_POLL * 2) => {},
                        _ = stopping.changed() => {},
                    }
                    continue;
                }
            };
            let taken = Instant::now();
            let valid_until = asked + self.lease_len.mul_f64(0.9);
            let svc = spare.take().expect("built above");
            // Loading a large store can take longer than the lease: renew it meanwhile.
            let loading = self.lead(lease.clone(), svc, valid_until);
            tokio::pin!(loading);
            let mut valid_until = valid_until;
            let mut lost = false;
            let every = self.lease_len / 4;
            let led = loop {
                tokio::select! {
                    r = &mut loading => break r,
                    () = tokio::time::sleep(every), if !lost => {
                        let sent = Instant::now();
                        match tokio::time::timeout(every, self.store.renew(&lease, self.lease_len)).await {
                            Ok(Ok(true)) => valid_until = sent + self.lease_len.mul_f64(0.9),
                            Ok(Ok(false)) => lost = true,
                            _ => {}
                        }
                    }
                }
            };
            if led.is_ok()
                && let Some(l) = self
                    .leading
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_mut()
            {
                l.valid_until = valid_until;
            }
            match led {
                Ok(()) => eprintln!(
                    "tiandi serve: {} leads (epoch {}), ready {:.0} ms after taking the lease",
                    self.instance,
                    lease.epoch,
                    taken.elapsed().as_secs_f64() * 1e3
                ),
                Err(e) => {
                    eprintln!("tiandi serve: cannot lead: {e}");
                    let _ = self.store.release(&lease).await;
                    tokio::time::sleep(FOLLOW_POLL * 5).await;
                    continue;
                }
            }
            let why = if lost {
                "the lease was taken over while the store was loading"
            } else {
                self.hold(&lease, &mut stopping).await
            };
            self.step_down(why).await;
        }
    }

    /// Loads the store into `svc` and installs the leader's app.
    async fn lead(&self, lease: Lease, svc: Service, valid_until: Instant) -> Result<(), String> {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        // This term's commits are fenced on this lease, whatever the instance leads later.
        let term = crate::pg::Term {
            pg: self.store.clone(),
            lease: lease.clone(),
        };
        let (c, s, store) = (
            self.config.clone(),
            self.scenario.clone(),
            Arc::new(term) as Arc<dyn crate::store::Store>,
        );
        let state =
            tokio::task::spawn_blocking(move || crate::build_state(&c, &s, stop_rx, store, svc))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        let (app, _) = crate::api::router(state.clone());
        let mut tasks = vec![tokio::spawn(crate::run_ticker(state.clone()))];
        if let Some(age) = self.config.retain_ended_s {
            tasks.push(tokio::spawn(crate::retention::run(
                state.clone(),
                age,
                self.config.archive.clone(),
            )));
        }
        *self.leading.lock().unwrap_or_else(|e| e.into_inner()) = Some(Leading {
            app,
            state,
            lease,
            valid_until,
            stop,
            tasks,
        });
        *self.leader_hint.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.advertise.clone());
        Ok(())
    }

    /// Renews the lease until it is lost or the process stops; says why it ended.
    async fn hold(
        &self,
        lease: &Lease,
        stopping: &mut tokio::sync::watch::Receiver<bool>,
    ) -> &'static str {
        let every = self.lease_len / 4;
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {},
                _ = stopping.changed() => return "shutting down",
            }
            let (valid_until, failed) = {
                let g = self.leading.lock().unwrap_or_else(|e| e.into_inner());
                match g.as_ref() {
                    Some(l) => (
                        l.valid_until,
                        l.state
                            .stats
                            .failed
                            .load(std::sync::atomic::Ordering::Relaxed),
                    ),
                    None => return "no longer leading",
                }
            };
            if Instant::now() >= valid_until {
                return "the lease may have lapsed (the process was paused or the database slow)";
            }
            if failed {
                return "a commit failed";
            }
            let sent = Instant::now();
            match tokio::time::timeout(every * 2, self.store.renew(lease, self.lease_len)).await {
                Ok(Ok(true)) => {
                    let mut g = self.leading.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(l) = g.as_mut() {
                        // The database's expiry is its clock at the renewal plus the
                        // lease, which is later than `sent` plus the lease; keep a margin
                        // for the two clocks' rates.
                        l.valid_until = sent + self.lease_len.mul_f64(0.9);
                    }
                }
                Ok(Ok(false)) => return "the lease was taken over",
                Ok(Err(e)) => eprintln!("tiandi serve: renewing the lease: {e}"),
                Err(_) => eprintln!("tiandi serve: renewing the lease: no answer"),
            }
        }
    }

    /// Stops leading (if it does): the app is dropped, commits are refused, event streams
    /// end, and the lease is given up so a follower need not wait for it to expire.
    pub async fn step_down(&self, why: &str) {
        let taken = self
            .leading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(l) = taken else {
            return;
        };
        let _ = l.stop.send(true);
        for t in &l.tasks {
            t.abort();
        }
        *self.leader_hint.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.store.release(&l.lease)).await;
        eprintln!(
            "tiandi serve: {} steps down (epoch {}): {why}",
            self.instance, l.lease.epoch
        );
    }
}

fn tag(mut r: Response, role: &'static str) -> Response {
    r.headers_mut().insert(ROLE, HeaderValue::from_static(role));
    r
}

fn unavailable(message: &str) -> Response {
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({"error": message, "field": null})),
    )
        .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

async fn front(State(f): State<Arc<Front>>, req: Request) -> Response {
    if let Some(app) = f.leader_app() {
        let r = app.oneshot(req).await.into_response();
        return tag(r, "leader");
    }
    let leader = f
        .leader_hint
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .filter(|a| *a != f.advertise);
    if req.uri().path() == "/healthz" {
        let body = json!({"status": "follower", "leader": leader, "instance": f.instance});
        return tag(
            (StatusCode::OK, axum::Json(body)).into_response(),
            "follower",
        );
    }
    if req.headers().contains_key(&FORWARDED) {
        return tag(
            unavailable("not the leader (leadership is changing)"),
            "follower",
        );
    }
    let Some(leader) = leader else {
        return tag(unavailable("no leader at the moment: retry"), "follower");
    };
    match forward(&f, &leader, req).await {
        Ok(r) => tag(r, "follower"),
        Err(e) => tag(
            unavailable(&format!("the leader could not be reached: {e}")),
            "follower",
        ),
    }
}

/// Sends `req` to the leader at `base` on a pooled connection (a new one when none is
/// idle) and streams the answer back (event streams included).
async fn forward(f: &Front, base: &str, req: Request) -> Result<Response, String> {
    let uri: axum::http::Uri = base.parse().map_err(|e| format!("{base}: {e}"))?;
    let host = uri
        .host()
        .ok_or("no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let port = uri.port_u16().ok_or("no port")?;
    let (parts, body) = req.into_parts();
    let mut out = axum::http::Request::builder().method(parts.method).uri(
        parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string(),
    );
    for (name, value) in &parts.headers {
        // Hop-by-hop headers belong to the client's connection, not to this one.
        if hop_by_hop(name, &parts.headers) || name == header::HOST {
            continue;
        }
        out = out.header(name, value);
    }
    let authority = uri.authority().map_or(host.clone(), |a| a.to_string());
    let out = out
        .header(header::HOST, authority)
        .header(FORWARDED, "1")
        .body(body)
        .map_err(|e| e.to_string())?;
    let mut sender = match pooled(f, base) {
        Some(s) => s,
        None => connect(f, &host, port).await?,
    };
    // Until the answer's head: the leader's own request timeout, plus a margin.
    let head_within = Duration::from_secs_f64(f.config.request_timeout_s) + FORWARD_CONNECT;
    let mut resp = tokio::time::timeout(head_within, sender.send_request(out))
        .await
        .map_err(|_| format!("no answer within {} s", head_within.as_secs()))?
        .map_err(|e| e.to_string())?;
    let hop: Vec<HeaderName> = resp
        .headers()
        .keys()
        .filter(|n| hop_by_hop(n, resp.headers()))
        .cloned()
        .collect();
    for n in hop {
        resp.headers_mut().remove(n);
    }
    // Back to the pool once the answer's body is done (an event stream's never is).
    let (pool, base) = (f.pool.clone(), base.to_string());
    tokio::spawn(async move {
        if sender.ready().await.is_ok() {
            let mut idle = pool.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < POOL_MAX {
                idle.push(Idle {
                    base,
                    since: Instant::now(),
                    sender,
                });
            }
        }
    });
    Ok(resp.map(Body::new))
}

/// Headers that belong to one connection (RFC 9110 section 7.6.1), not to the request or
/// answer, with those the `Connection` header names; a forwarder does not pass them on.
fn hop_by_hop(name: &HeaderName, headers: &axum::http::HeaderMap) -> bool {
    const HOP: [&str; 8] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "upgrade",
    ];
    HOP.contains(&name.as_str())
        || name == header::TRANSFER_ENCODING
        || headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(name.as_str()))
}

/// An idle connection to the leader at `base`, if one is ready; stale ones are dropped.
fn pooled(f: &Front, base: &str) -> Option<hyper::client::conn::http1::SendRequest<Body>> {
    let mut idle = f.pool.lock().unwrap_or_else(|e| e.into_inner());
    idle.retain(|c| c.base == base && c.since.elapsed() < f.pool_idle && !c.sender.is_closed());
    idle.pop().map(|c| c.sender)
}

/// A new HTTP/1.1 connection (TLS when configured) to the leader.
async fn connect(
    f: &Front,
    host: &str,
    port: u16,
) -> Result<hyper::client::conn::http1::SendRequest<Body>, String> {
    let tcp = tokio::time::timeout(
        FORWARD_CONNECT,
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    .map_err(|_| "connecting timed out".to_string())?
    .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    match &f.tls {
        None => handshake(TokioIo::new(tcp)).await,
        Some(connector) => {
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| format!("{host}: {e}"))?;
            let tls = tokio::time::timeout(FORWARD_CONNECT, connector.connect(name, tcp))
                .await
                .map_err(|_| "TLS handshake timed out".to_string())?
                .map_err(|e| format!("TLS: {e}"))?;
            handshake(TokioIo::new(tls)).await
        }
    }
}

async fn handshake<I>(io: I) -> Result<hyper::client::conn::http1::SendRequest<Body>, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A TLS client for forwarding that trusts the certificates of the instance's own
/// `[tls] cert` file: give every instance one certificate naming all of them, or chains
/// that include their common CA.
fn peer_connector(cert: &std::path::Path) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    for c in certs {
        let c = c.map_err(|e| format!("{}: {e}", cert.display()))?;
        roots
            .add(c)
            .map_err(|e| format!("{}: {e}", cert.display()))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_not_forwarded() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, X-Secret-Hop"),
        );
        let name = |n: &'static str| HeaderName::from_static(n);
        for n in [
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "proxy-authorization",
            "x-secret-hop",
        ] {
            assert!(hop_by_hop(&name(n), &h), "{n} would be forwarded");
        }
        // What the leader needs to answer: the request's own headers.
        for n in [
            "authorization",
            "content-type",
            "content-length",
            "idempotency-key",
        ] {
            assert!(!hop_by_hop(&name(n), &h), "{n} would be dropped");
        }
    }
}
