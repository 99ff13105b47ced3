//! tiandi's control plane: `tiandi serve` (a live scheduling service over the digital
//! twin, with a durable task store) and `tiandi agent` (the node agent that runs the
//! work). See docs/serve.md for the API, the store and the deployment notes.
//!
//! Shape: [`service::Service`] is the deterministic state machine (no I/O, no clock);
//! [`api`] is the axum app around it; [`store`] makes every change durable before it is
//! acknowledged; [`agent`] and [`load`] are HTTP clients (the node agent and the load
//! generator of the benchmark).

pub mod agent;
pub mod api;
pub mod config;
pub mod conn;
pub mod load;
pub mod model;
pub mod pg;
pub mod replica;
pub mod retention;
pub mod sandbox;
pub mod secret;
pub mod service;
pub mod store;
pub mod tls;
pub mod validate;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tiandi_scenario::Scenario;

use crate::api::{AppState, Clock, Histogram, wall_ns};
use crate::config::{ClockMode, ServeConfig, StoreLocation};
use crate::service::Service;
use crate::store::{CommitStats, RedbStore, Store, Write};

/// How often the twin advances and modelled work finishes, wall time.
const TICK: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("twin: {0}")]
    Start(#[from] service::StartError),
    #[error("twin: {0}")]
    Twin(#[from] tiandi_twin::TwinError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("tls: {0}")]
    Tls(String),
}

#[derive(Serialize, Deserialize)]
struct StoredClock {
    mode: String,
    origin_twin_ns: i64,
    origin_wall_ns: i64,
}

const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The service's state machine on the scenario's twin, with the configured limits, before
/// any task is restored (a follower builds it ahead of taking over).
pub fn new_service(config: &ServeConfig, scenario: &Scenario) -> Result<Service, ServeError> {
    let mut svc = Service::new(scenario, &config.policy)?;
    svc.max_active_per_tenant = config.max_active_per_tenant;
    svc.max_active_bytes_per_tenant = config.max_active_bytes_per_tenant;
    svc.heartbeat_timeout = Duration::from_secs_f64(config.heartbeat_timeout_s);
    svc.keep_finished = config.keep_finished_in_memory;
    Ok(svc)
}

/// Restores every task of `store` into `svc`, catches the twin up with the clock and
/// starts the store thread: the state the HTTP app runs on.
pub fn build_state(
    config: &ServeConfig,
    scenario: &Scenario,
    shutdown: tokio::sync::watch::Receiver<bool>,
    store: Arc<dyn Store>,
    mut svc: Service,
) -> Result<Arc<AppState>, ServeError> {
    let clock_text = config.clock_text.as_str();
    let loaded = store.load()?;
    // The twin clock survives restarts and changes of leader: an accelerated twin resumes
    // where it was.
    let stored: Option<StoredClock> = loaded
        .meta
        .iter()
        .find(|(k, _)| k == "clock")
        .and_then(|(_, v)| serde_json::from_slice(v).ok())
        .filter(|c: &StoredClock| c.mode == clock_text);
    let now_wall = wall_ns();
    let clock = match (stored, config.clock) {
        (Some(c), ClockMode::Accelerated(f)) => Clock {
            origin_twin_ns: c.origin_twin_ns,
            origin_wall_ns: c.origin_wall_ns,
            factor: f,
        },
        (_, ClockMode::Accelerated(f)) => Clock {
            origin_twin_ns: scenario.start.unix_ns(),
            origin_wall_ns: now_wall,
            factor: f,
        },
        (_, ClockMode::Realtime) => Clock {
            origin_twin_ns: now_wall,
            origin_wall_ns: now_wall,
            factor: 1.0,
        },
    };
    let wall = Instant::now();
    svc.restore(loaded.tasks, wall);
    if let Some(next) = loaded
        .meta
        .iter()
        .find(|(k, _)| k == service::NEXT_ID)
        .and_then(|(_, v)| Some(u64::from_le_bytes(v.as_slice().try_into().ok()?)))
    {
        svc.raise_next_id(next);
    }
    // The first step catches up with the time the service was down: work that ended
    // meanwhile is stored as ended, with the clock, before anything is served. Its events
    // went to nobody and are dropped.
    svc.tick(clock.now_ns(), wall)?;
    let mut writes = svc.take_changes().writes;
    let meta = serde_json::to_vec(&StoredClock {
        mode: clock_text.to_string(),
        origin_twin_ns: clock.origin_twin_ns,
        origin_wall_ns: clock.origin_wall_ns,
    })
    .expect("plain struct");
    writes.push(Write::Meta("clock", meta));
    store.commit(&writes)?;
    let names = Arc::new(svc.node_names().to_vec());
    let (events, _) = tokio::sync::broadcast::channel(16_384);
    let stats = Arc::new(CommitStats::default());
    let (committer, _thread) = store::spawn_committer(store.clone(), events.clone(), stats.clone());
    Ok(Arc::new(AppState {
        svc: Mutex::new(svc),
        clock,
        tokens: config.tokens.clone(),
        committer: Mutex::new(committer),
        events,
        stats,
        decision: Histogram::new(BUCKETS),
        started: Instant::now(),
        max_body_bytes: config.max_body_bytes,
        store,
        names,
        listings: tokio::sync::Semaphore::new(config.max_concurrent_listings),
        shutdown,
        request_timeout: Duration::from_secs_f64(config.request_timeout_s),
        streams: Mutex::new(Default::default()),
    }))
}

/// [`build_state`] on the embedded store at `path`: the single-instance service.
pub fn open_redb(
    config: &ServeConfig,
    scenario: &Scenario,
    path: &std::path::Path,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<Arc<AppState>, ServeError> {
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(path)?);
    let svc = new_service(config, scenario)?;
    build_state(config, scenario, shutdown, store, svc)
}

/// Advances the twin every [`TICK`] and stores what changed.
pub async fn run_ticker(state: Arc<AppState>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        let rx = {
            let mut svc = state.lock();
            if let Err(e) = svc.tick(state.clock.now_ns(), Instant::now()) {
                eprintln!("tiandi serve: twin step failed: {e}");
            }
            state.send(svc.take_changes())
        };
        // Tick changes need no answer; a failed commit already marks the store failed.
        let _ = rx.await;
    }
}

/// Runs the service until Ctrl-C or SIGTERM; then event streams end, no new connection is
/// taken, and requests in flight get [`conn::SHUTDOWN_BOUND`] to finish. With a PostgreSQL
/// store the instance joins the others on it ([`replica`]).
pub async fn serve(config: ServeConfig, scenario: Scenario) -> Result<(), ServeError> {
    let tls = match &config.tls {
        Some(f) => Some(tls::server_config(&f.cert, &f.key).map_err(ServeError::Tls)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    let limits = conn::ConnLimits {
        header_timeout: Duration::from_secs_f64(config.header_timeout_s),
        max_connections: conn::connection_room(config.max_connections),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown_signal().await;
        eprintln!("tiandi serve: shutting down");
        let _ = stop_tx.send(true);
    };
    let url = match &config.store {
        StoreLocation::Postgres(url) => url.clone(),
        StoreLocation::Redb(path) => {
            let state =
                tokio::task::block_in_place(|| open_redb(&config, &scenario, path, stop_rx))?;
            let (app, _) = api::router(state.clone());
            let n_tasks = state.lock().n_tasks();
            eprintln!(
                "tiandi serve: listening on {scheme}://{addr} (twin {}, {} nodes, policy {}, {} tasks restored from {}, at most {} connections)",
                scenario.name,
                state.lock().twin.n_nodes(),
                config.policy,
                n_tasks,
                config.store,
                limits.max_connections,
            );
            tokio::spawn(run_ticker(state.clone()));
            if let Some(age) = config.retain_ended_s {
                tokio::spawn(retention::run(state.clone(), age, config.archive.clone()));
            }
            conn::serve(listener, tls, app, limits, shutdown).await;
            return Ok(());
        }
    };
    let advertise = match &config.advertise {
        Some(a) => a.clone(),
        None if addr.ip().is_unspecified() => {
            return Err(ServeError::Io(std::io::Error::other(format!(
                "listening on {addr} with a PostgreSQL store: set `advertise` to the URL the other instances reach this one at"
            ))));
        }
        None => format!("{scheme}://{addr}"),
    };
    let store = tokio::task::block_in_place(|| pg::PgStore::connect(&url))?;
    let front = replica::Front::new(
        Arc::new(store),
        advertise,
        config.clone(),
        scenario,
        stop_rx,
    )
    .map_err(ServeError::Tls)?;
    eprintln!(
        "tiandi serve: listening on {scheme}://{addr} as {} (store {}, lease {} s, at most {} connections)",
        front.instance(),
        config.store,
        config.lease_s,
        limits.max_connections,
    );
    let app = front.clone().router();
    tokio::spawn(front.clone().run());
    conn::serve(listener, tls, app, limits, shutdown).await;
    front.step_down("shutting down").await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
