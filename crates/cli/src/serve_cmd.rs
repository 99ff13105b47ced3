//! `tiandi serve`, `tiandi agent` and `tiandi load`: the control plane's service, its node
//! agent and the load generator of its benchmark. Glue over `tiandi_server`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use tiandi_scenario::Scenario;
use tiandi_server::config::ServeConfig;

/// Flags of `tiandi serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Service configuration (TOML; see docs/serve.md and examples/serve/serve.toml).
    #[arg(long)]
    config: PathBuf,
    /// Listen address, overriding the file's `listen` (e.g. 127.0.0.1:0 for any free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// With a PostgreSQL store: the URL the other instances forward requests to this one
    /// at (http://HOST:PORT, or https:// with [tls]), overriding the file's `advertise`.
    #[arg(long, value_name = "URL")]
    advertise: Option<String>,
    /// Worker threads of the HTTP runtime (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let mut config = ServeConfig::load(&args.config)?;
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(a) = &args.advertise {
        let checked = tiandi_server::config::check_advertise(a, config.tls.is_some())
            .map_err(|e| anyhow::anyhow!("--advertise {e}"))?;
        config.advertise = Some(checked);
    }
    if config.tokens.is_empty() {
        bail!(
            "{}: no [[tokens]]: nobody could use the service",
            args.config.display()
        );
    }
    let scenario = match &config.scenario {
        Some(p) => Scenario::load(p)?,
        None => Scenario::built_in("default").expect("the default scenario is built in")?,
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.enable_all().build().context("starting the runtime")?;
    rt.block_on(tiandi_server::serve(config, scenario))?;
    Ok(())
}

/// How `tiandi agent` and `tiandi load` reach the service.
#[derive(Args)]
struct ServiceArgs {
    /// The service, e.g. http://127.0.0.1:7878. For several instances of it, repeat the
    /// flag or separate the addresses with commas: a request that gets no answer, or 502,
    /// 503 or 504, is sent to the next one.
    #[arg(
        long = "server",
        value_name = "URL",
        required = true,
        value_delimiter = ','
    )]
    servers: Vec<String>,
    /// Seconds a request goes on trying the addresses (pausing 50 ms to 1 s after each
    /// round) before it gives up.
    #[arg(long, default_value_t = 30.0)]
    retry_budget_s: f64,
    /// PEM certificate(s) to trust for an https:// server (its own or its CA's).
    #[arg(long)]
    ca_cert: Option<PathBuf>,
}

/// A client's view of `ServiceArgs`, checked.
struct Service {
    servers: Vec<String>,
    retry_budget: Duration,
    ca_pem: Option<Vec<u8>>,
}

impl ServiceArgs {
    fn check(self) -> Result<Service> {
        let mut servers = Vec::new();
        for s in self.servers {
            let s = s.trim();
            if !(s.starts_with("http://") || s.starts_with("https://")) || s.ends_with("//") {
                bail!("--server {s:?}: expected a URL such as http://127.0.0.1:7878");
            }
            servers.push(s.to_string());
        }
        if !(self.retry_budget_s.is_finite() && (0.0..=3_600.0).contains(&self.retry_budget_s)) {
            bail!(
                "--retry-budget-s {}: expected 0 to 3600",
                self.retry_budget_s
            );
        }
        Ok(Service {
            servers,
            retry_budget: Duration::from_secs_f64(self.retry_budget_s),
            ca_pem: read_ca(self.ca_cert.as_ref())?,
        })
    }
}

/// Flags of `tiandi agent`.
#[derive(Args)]
pub struct AgentArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// The node this agent runs (a name from `GET /v1/nodes`, e.g. a data centre).
    #[arg(long)]
    node: String,
    /// A file holding the node's agent token (role "agent" in the service configuration),
    /// readable by its owner only. Without it the token comes from the environment
    /// variable TIANDI_TOKEN, which the agent then removes from its environment. Never
    /// put a token on a command line: every user of the machine can read it there.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Where each stage gets its own working directory.
    #[arg(long, default_value = "tiandi-agent-work")]
    work_dir: PathBuf,
    /// Stages run at once.
    #[arg(long, default_value_t = 4)]
    slots: u32,
    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 1.0)]
    heartbeat_s: f64,
    /// JSON telemetry file re-read before each heartbeat: {"battery_soc": 0.8,
    /// "temperature_k": 300, "failed": false}; its values override the twin's model.
    #[arg(long)]
    telemetry: Option<PathBuf>,
    /// Stop after this many seconds (default: run until stopped).
    #[arg(long)]
    run_for_s: Option<f64>,
    /// Keep the working directory of every stage (by default those of stages that
    /// succeeded are removed after their outputs are sent).
    #[arg(long)]
    keep_work: bool,
    /// The bubblewrap program that sandboxes stages (default: bwrap from the system).
    #[arg(long)]
    bwrap: Option<PathBuf>,
    /// Let stages use the host's network (by default a sandbox has none).
    #[arg(long)]
    stage_network: bool,
    /// Only these programs may run (the command's first word, as written; repeat the
    /// flag). By default any program may.
    #[arg(long = "allow-program", value_name = "PROGRAM")]
    allow_programs: Vec<String>,
    /// Run stages WITHOUT the sandbox, as this agent's user with access to all it can
    /// read. Only for nodes where every stage is trusted; the agent warns at start.
    #[arg(long)]
    unsafe_no_sandbox: bool,
}

fn read_ca(path: Option<&PathBuf>) -> Result<Option<Vec<u8>>> {
    path.map(|p| tiandi_server::agent::Client::read_ca(p).map_err(anyhow::Error::msg))
        .transpose()
}

pub fn agent(args: AgentArgs) -> Result<()> {
    if !(args.heartbeat_s.is_finite() && (0.05..=600.0).contains(&args.heartbeat_s)) {
        bail!("--heartbeat-s {}: expected 0.05 to 600", args.heartbeat_s);
    }
    if !(1..=1_024).contains(&args.slots) {
        bail!("--slots {}: expected 1 to 1024", args.slots);
    }
    let service = args.service.check()?;
    let run_for = match args.run_for_s {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => bail!("--run-for-s {s}: expected a positive number of seconds"),
        None => None,
    };
    let token = match &args.token_file {
        Some(p) => tiandi_server::agent::read_token_file(p).map_err(anyhow::Error::msg)?,
        None => match std::env::var("TIANDI_TOKEN") {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => bail!("no token: give --token-file FILE (mode 600) or set TIANDI_TOKEN"),
        },
    };
    // SAFETY: the agent has started no thread yet, so nothing reads the environment now;
    // stages must never inherit the token, nor read it from /proc/<agent>/environ.
    unsafe {
        std::env::remove_var("TIANDI_TOKEN");
    }
    tiandi_server::agent::create_private_dir(&args.work_dir)
        .with_context(|| format!("{}", args.work_dir.display()))?;
    let isolation = if args.unsafe_no_sandbox {
        eprintln!(
            "tiandi agent: WARNING: --unsafe-no-sandbox: stages run as this agent's own user and can read everything it can (its token file, other stages' files, other processes); use it only where every stage is trusted"
        );
        tiandi_server::sandbox::Isolation::Unsandboxed
    } else {
        tiandi_server::sandbox::Isolation::detect(
            args.bwrap.as_deref(),
            args.stage_network,
            &args.work_dir,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "{e}\nthe agent runs no command without its sandbox (--unsafe-no-sandbox runs them unprotected)"
            )
        })?
    };
    eprintln!("tiandi agent: {}", isolation.describe());
    tiandi_server::agent::run(tiandi_server::agent::AgentConfig {
        servers: service.servers,
        retry_budget: service.retry_budget,
        node: args.node,
        token,
        work_dir: args.work_dir,
        slots: args.slots,
        heartbeat: Duration::from_secs_f64(args.heartbeat_s),
        poll: Duration::from_millis(50),
        telemetry_file: args.telemetry,
        run_for,
        ca_pem: service.ca_pem,
        keep_work: args.keep_work,
        isolation,
        allow_programs: (!args.allow_programs.is_empty()).then_some(args.allow_programs),
    })?;
    Ok(())
}

/// Flags of `tiandi load`.
#[derive(Args)]
pub struct LoadArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// An operator token.
    #[arg(long, env = "TIANDI_TOKEN")]
    token: String,
    /// Submissions per second.
    #[arg(long, default_value_t = 2_000.0)]
    rate: f64,
    /// Seconds of load.
    #[arg(long, default_value_t = 20.0)]
    duration_s: f64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seed of the origins and task sizes, and of the idempotency keys (load-SEED-INDEX):
    /// a run with a seed already used on the same store gets the earlier run's tasks back.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write a CSV of every acknowledged submission at the end:
    /// idempotency_key,id,status,nodes (the stages' nodes joined by ';').
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

pub fn load(args: LoadArgs) -> Result<()> {
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 1e6) {
        bail!("--rate {}: expected more than 0 and at most 1e6", args.rate);
    }
    if !(args.duration_s.is_finite() && args.duration_s > 0.0 && args.duration_s <= 3_600.0) {
        bail!(
            "--duration-s {}: expected more than 0 and at most 3600",
            args.duration_s
        );
    }
    if !(1..=1_024).contains(&args.connections) {
        bail!("--connections {}: expected 1 to 1024", args.connections);
    }
    if let Some(dir) = args.record.as_deref().and_then(std::path::Path::parent)
        && !dir.as_os_str().is_empty()
        && !dir.is_dir()
    {
        bail!("--record: {}: no such directory", dir.display());
    }
    let service = args.service.check()?;
    let run = tiandi_server::load::run(&tiandi_server::load::LoadConfig {
        servers: service.servers,
        token: args.token,
        rate: args.rate,
        duration: Duration::from_secs_f64(args.duration_s),
        connections: args.connections,
        seed: args.seed,
        ca_pem: service.ca_pem,
        retry_budget: service.retry_budget,
        record: args.record.is_some(),
    })
    .map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string_pretty(&run.report)?);
    if let Some(path) = &args.record {
        write_record(path, &run.acknowledged)
            .with_context(|| format!("--record {}", path.display()))?;
    }
    Ok(())
}

/// The CSV of `tiandi load --record`, one row per acknowledged submission.
fn write_record(path: &std::path::Path, rows: &[tiandi_server::load::Acknowledged]) -> Result<()> {
    tiandi_report::write_atomic(path, |w| {
        let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(w);
        // The header even with no row, so a reader always finds the columns.
        csv.write_record(tiandi_server::load::Acknowledged::COLUMNS)?;
        for r in rows {
            csv.serialize(r)?;
        }
        csv.flush()
    })?;
    Ok(())
}

/// `tiandi token`: 32 random bytes as hex, and their SHA-256 for the configuration.
pub fn token() -> Result<()> {
    let token = tiandi_server::secret::random_hex(32);
    let digest = tiandi_server::secret::hex(&tiandi_server::secret::digest(&token));
    println!("token: {token}");
    println!("for serve.toml, in its [[tokens]] table instead of token = ...:");
    println!("token_sha256 = \"{digest}\"");
    Ok(())
}
