//! `tiandi serve --config FILE`: the service's TOML configuration, read and validated with
//! errors that name the file, line and key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secret;

/// What a bearer token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Submit, cancel and read its own tenant's tasks; read the twin.
    Operator,
    /// Everything, every tenant.
    Admin,
    /// Only its own node's agent endpoints.
    Agent,
}

/// How the twin's clock runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockMode {
    /// Twin time is UTC now.
    Realtime,
    /// Twin time starts at the scenario's start and runs `factor` times faster than the
    /// wall clock.
    Accelerated(f64),
}

impl ClockMode {
    pub fn parse(text: &str) -> Result<ClockMode, String> {
        if text == "realtime" {
            return Ok(ClockMode::Realtime);
        }
        if let Some(x) = text.strip_prefix("accelerated:") {
            return match x.parse::<f64>() {
                Ok(f) if f.is_finite() && f > 0.0 && f <= 1e6 => Ok(ClockMode::Accelerated(f)),
                _ => Err(format!(
                    "{text:?}: the factor after \"accelerated:\" must be a number in (0, 1e6]"
                )),
            };
        }
        Err(format!(
            "{text:?}: expected \"realtime\" or \"accelerated:X\" (X a speed-up factor)"
        ))
    }
}

/// One bearer token.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    /// Operators: the tenant whose tasks they own.
    pub tenant: String,
    /// Agents: the node (by name) they speak for.
    pub node: Option<String>,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Scenario file whose constellation, stations and data centres form the twin; `None`
    /// for the built-in default.
    pub scenario: Option<PathBuf>,
    pub listen: SocketAddr,
    pub store: StoreLocation,
    /// The URL other instances forward requests to while this one leads (PostgreSQL
    /// store only); default `http(s)://` + the address listened on.
    pub advertise: Option<String>,
    /// How long a leader's lease lasts unrenewed (PostgreSQL store only), seconds.
    pub lease_s: f64,
    /// Ended tasks older than this (twin seconds since they ended) leave the store;
    /// `None` keeps them forever.
    pub retain_ended_s: Option<f64>,
    /// With retention: a directory where ended tasks are appended (JSON Lines, one file
    /// per day) before they leave the store.
    pub archive: Option<PathBuf>,
    pub clock: ClockMode,
    /// The clock as written (`accelerated:60`), stored so a restart resumes the same clock.
    pub clock_text: String,
    /// Placement policy (see `tiandi_scheduler::POLICY_NAMES`).
    pub policy: String,
    /// Principals by the SHA-256 digest of their token (plain tokens in the file are
    /// hashed on load, so the service never keeps one in the clear).
    pub tokens: BTreeMap<[u8; 32], Principal>,
    /// An agent silent this long (wall seconds) is declared lost and its work re-placed.
    pub heartbeat_timeout_s: f64,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Tasks a tenant may have unfinished at once.
    pub max_active_per_tenant: usize,
    /// Bytes a tenant's unfinished tasks may hold: inline input files plus room for the
    /// output files of their command stages.
    pub max_active_bytes_per_tenant: u64,
    /// A connection must send a request's headers within this long (also how long an
    /// idle keep-alive connection is kept), seconds.
    pub header_timeout_s: f64,
    /// A request must be read and answered within this long (event streams excepted once
    /// they have started), seconds.
    pub request_timeout_s: f64,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// `GET /v1/tasks` listings read from the store at once; more wait, then get 503.
    pub max_concurrent_listings: usize,
    /// Ended tasks kept in memory (the most recent); older ones are read from the store.
    pub keep_finished_in_memory: usize,
    /// Serve HTTPS with this PEM certificate chain and key.
    pub tls: Option<TlsFiles>,
}

/// An `advertise` URL: `http://` or, with TLS, `https://`, a host and a port, no path.
pub fn check_advertise(a: &str, tls: bool) -> Result<String, String> {
    let scheme = if tls { "https" } else { "http" };
    let a = a.trim_end_matches('/');
    let rest = a
        .strip_prefix(scheme)
        .and_then(|r| r.strip_prefix("://"))
        .ok_or_else(|| {
            format!("{a:?}: expected a {scheme}:// URL (the other instances forward to it)")
        })?;
    let uri: axum::http::Uri = a.parse().map_err(|e| format!("{a:?}: {e}"))?;
    if rest.contains('/') || uri.port_u16().is_none() || uri.host().is_none_or(str::is_empty) {
        return Err(format!("{a:?}: expected {scheme}://HOST:PORT"));
    }
    Ok(a.to_string())
}

/// Where tasks are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded redb file (one instance).
    Redb(PathBuf),
    /// A PostgreSQL database (`postgresql://...`), which several instances may share.
    Postgres(String),
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Redb(p) => write!(f, "{}", p.display()),
            StoreLocation::Postgres(url) => f.write_str(&crate::pg::redact(url)),
        }
    }
}

/// PEM files for HTTPS.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    scenario: Option<PathBuf>,
    #[serde(default = "default_listen")]
    listen: String,
    store: String,
    advertise: Option<String>,
    #[serde(default = "default_lease")]
    lease_s: f64,
    retain_ended_s: Option<f64>,
    archive: Option<PathBuf>,
    #[serde(default = "default_clock")]
    clock: String,
    #[serde(default = "default_policy")]
    policy: String,
    #[serde(default = "default_timeout")]
    heartbeat_timeout_s: f64,
    #[serde(default = "default_body")]
    max_body_bytes: usize,
    #[serde(default = "default_active")]
    max_active_per_tenant: usize,
    #[serde(default = "default_keep")]
    keep_finished_in_memory: usize,
    #[serde(default = "default_active_bytes")]
    max_active_bytes_per_tenant: u64,
    #[serde(default = "default_header_timeout")]
    header_timeout_s: f64,
    #[serde(default = "default_request_timeout")]
    request_timeout_s: f64,
    #[serde(default = "default_connections")]
    max_connections: usize,
    #[serde(default = "default_listings")]
    max_concurrent_listings: usize,
    #[serde(default)]
    tokens: Vec<TokenFile>,
    tls: Option<TlsFiles>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    name: Option<String>,
    token: Option<String>,
    /// The token's SHA-256 digest in hex (64 characters), instead of the token itself.
    token_sha256: Option<String>,
    role: Role,
    tenant: Option<String>,
    node: Option<String>,
}

fn default_listen() -> String {
    "127.0.0.1:7878".into()
}
fn default_lease() -> f64 {
    2.0
}
fn default_clock() -> String {
    "realtime".into()
}
fn default_policy() -> String {
    "unified".into()
}
fn default_timeout() -> f64 {
    10.0
}
fn default_body() -> usize {
    1 << 20
}
fn default_active() -> usize {
    100_000
}
fn default_keep() -> usize {
    10_000
}
fn default_active_bytes() -> u64 {
    1 << 30
}
fn default_header_timeout() -> f64 {
    10.0
}
fn default_request_timeout() -> f64 {
    30.0
}
fn default_connections() -> usize {
    4_096
}
fn default_listings() -> usize {
    2
}

/// A configuration error: file, line when known, key, message.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {key}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl ServeConfig {
    /// Reads and validates a configuration file; relative paths in it are taken from the
    /// file's directory.
    pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: shown.clone(),
            line: None,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &shown, base)
    }

    pub fn parse(text: &str, file: &str, base: &Path) -> Result<ServeConfig, ConfigError> {
        let line_of = |key: &str| {
            text.lines()
                .position(|l| l.trim_start().starts_with(key))
                .map(|i| i + 1)
        };
        let err = |key: &str, message: String| ConfigError {
            file: file.into(),
            line: line_of(key),
            key: key.into(),
            message,
        };
        let raw: ConfigFile = toml::from_str(text).map_err(|e| ConfigError {
            file: file.into(),
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1)),
            key: String::new(),
            message: e.message().to_string(),
        })?;
        let listen = raw
            .listen
            .parse()
            .map_err(|e| err("listen", format!("{:?}: {e}", raw.listen)))?;
        let clock = ClockMode::parse(&raw.clock).map_err(|m| err("clock", m))?;
        if tiandi_scheduler::by_name(&raw.policy).is_none() {
            return Err(err(
                "policy",
                format!(
                    "{:?}: expected one of {}",
                    raw.policy,
                    tiandi_scheduler::POLICY_NAMES.join(", ")
                ),
            ));
        }
        if !(raw.heartbeat_timeout_s.is_finite()
            && (0.1..=3_600.0).contains(&raw.heartbeat_timeout_s))
        {
            return Err(err(
                "heartbeat_timeout_s",
                format!("{}: expected 0.1 to 3600 s", raw.heartbeat_timeout_s),
            ));
        }
        if !(1_024..=(64 << 20)).contains(&raw.max_body_bytes) {
            return Err(err(
                "max_body_bytes",
                format!("{}: expected 1 KiB to 64 MiB", raw.max_body_bytes),
            ));
        }
        if raw.max_active_bytes_per_tenant < 1 << 20 {
            return Err(err(
                "max_active_bytes_per_tenant",
                format!(
                    "{}: expected at least 1 MiB",
                    raw.max_active_bytes_per_tenant
                ),
            ));
        }
        for (key, v, lo, hi) in [
            ("header_timeout_s", raw.header_timeout_s, 0.1, 3_600.0),
            ("request_timeout_s", raw.request_timeout_s, 0.1, 3_600.0),
        ] {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return Err(err(key, format!("{v}: expected {lo} to {hi} s")));
            }
        }
        if !(16..=1_000_000).contains(&raw.max_connections) {
            return Err(err(
                "max_connections",
                format!("{}: expected 16 to 1000000", raw.max_connections),
            ));
        }
        let store =
            if raw.store.starts_with("postgresql://") || raw.store.starts_with("postgres://") {
                raw.store
                    .parse::<tokio_postgres::Config>()
                    .map_err(|e| err("store", format!("{}: {e}", crate::pg::redact(&raw.store))))?;
                StoreLocation::Postgres(raw.store.clone())
            } else if raw.store.is_empty() {
                return Err(err(
                    "store",
                    "expected a redb file path or a postgresql:// URL".into(),
                ));
            } else {
                StoreLocation::Redb(base.join(&raw.store))
            };
        if !(raw.lease_s.is_finite() && (0.5..=60.0).contains(&raw.lease_s)) {
            return Err(err(
                "lease_s",
                format!("{}: expected 0.5 to 60 s", raw.lease_s),
            ));
        }
        if let Some(r) = raw.retain_ended_s
            && !(r.is_finite() && r >= 1.0)
        {
            return Err(err("retain_ended_s", format!("{r}: expected at least 1 s")));
        }
        if raw.archive.is_some() && raw.retain_ended_s.is_none() {
            return Err(err(
                "archive",
                "an archive needs retain_ended_s (tasks are archived as they leave the store)"
                    .into(),
            ));
        }
        let advertise = match &raw.advertise {
            Some(a) => {
                Some(check_advertise(a, raw.tls.is_some()).map_err(|m| err("advertise", m))?)
            }
            None => None,
        };
        if !(1..=64).contains(&raw.max_concurrent_listings) {
            return Err(err(
                "max_concurrent_listings",
                format!("{}: expected 1 to 64", raw.max_concurrent_listings),
            ));
        }
        if !(1_000..=10_000_000).contains(&raw.keep_finished_in_memory) {
            return Err(err(
                "keep_finished_in_memory",
                format!("{}: expected 1000 to 10000000", raw.keep_finished_in_memory),
            ));
        }
        // A token's errors point at its own [[tokens]] table.
        let token_err = |i: usize, field: &str, message: &str| ConfigError {
            file: file.into(),
            line: text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.trim() == "[[tokens]]")
                .nth(i)
                .map(|(n, _)| n + 1),
            key: format!("tokens[{i}].{field}"),
            message: message.into(),
        };
        let mut tokens = BTreeMap::new();
        for (i, t) in raw.tokens.into_iter().enumerate() {
            let digest = match (&t.token, &t.token_sha256) {
                (Some(token), None) if token.len() < 16 => {
                    return Err(token_err(
                        i,
                        "token",
                        "a token needs at least 16 characters",
                    ));
                }
                (Some(token), None) => secret::digest(token),
                (None, Some(h)) => secret::parse_digest(h).ok_or_else(|| {
                    token_err(
                        i,
                        "token_sha256",
                        "expected 64 hex digits (the SHA-256 of the token: `tiandi token`)",
                    )
                })?,
                _ => {
                    return Err(token_err(
                        i,
                        "token",
                        "give exactly one of token or token_sha256",
                    ));
                }
            };
            let tenant = match (t.role, t.tenant) {
                (Role::Operator, None) => {
                    return Err(token_err(i, "tenant", "an operator token needs a tenant"));
                }
                (_, tenant) => tenant.unwrap_or_default(),
            };
            if t.role == Role::Agent && t.node.is_none() {
                return Err(token_err(i, "node", "an agent token needs a node"));
            }
            let principal = Principal {
                name: t.name.unwrap_or_else(|| format!("token {i}")),
                role: t.role,
                tenant,
                node: t.node,
            };
            if tokens.insert(digest, principal).is_some() {
                return Err(token_err(i, "token", "the same token appears twice"));
            }
        }
        Ok(ServeConfig {
            scenario: raw.scenario.map(|p| base.join(p)),
            listen,
            store,
            advertise,
            lease_s: raw.lease_s,
            retain_ended_s: raw.retain_ended_s,
            archive: raw.archive.map(|p| base.join(p)),
            clock,
            clock_text: raw.clock,
            policy: raw.policy,
            tokens,
            heartbeat_timeout_s: raw.heartbeat_timeout_s,
            max_body_bytes: raw.max_body_bytes,
            max_active_per_tenant: raw.max_active_per_tenant,
            keep_finished_in_memory: raw.keep_finished_in_memory,
            max_active_bytes_per_tenant: raw.max_active_bytes_per_tenant,
            header_timeout_s: raw.header_timeout_s,
            request_timeout_s: raw.request_timeout_s,
            max_connections: raw.max_connections,
            max_concurrent_listings: raw.max_concurrent_listings,
            tls: raw.tls.map(|t| TlsFiles {
                cert: base.join(t.cert),
                key: base.join(t.key),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
store = "s.redb"
clock = "accelerated:60"
[[tokens]]
token = "0123456789abcdef"
role = "operator"
tenant = "acme"
"#;

    #[test]
    fn parses_a_good_file() {
        let c = ServeConfig::parse(GOOD, "c.toml", Path::new("/etc")).unwrap();
        assert_eq!(c.clock, ClockMode::Accelerated(60.0));
        assert_eq!(c.store, StoreLocation::Redb("/etc/s.redb".into()));
        assert_eq!(c.tokens[&secret::digest("0123456789abcdef")].tenant, "acme");
        // The same token given by its digest is the same principal.
        let hashed = GOOD.replace(
            "token = \"0123456789abcdef\"",
            &format!(
                "token_sha256 = \"{}\"",
                secret::hex(&secret::digest("0123456789abcdef"))
            ),
        );
        let h = ServeConfig::parse(&hashed, "c.toml", Path::new("/etc")).unwrap();
        assert_eq!(h.tokens, c.tokens);
        let e = ServeConfig::parse(
            &GOOD.replace("token = ", "token_sha256 = "),
            "c.toml",
            Path::new("."),
        )
        .unwrap_err();
        assert_eq!(e.key, "tokens[0].token_sha256", "{e}");
    }

    #[test]
    fn bad_values_name_the_key_and_line() {
        let bad = GOOD.replace("accelerated:60", "accelerated:fast");
        let e = ServeConfig::parse(&bad, "c.toml", Path::new(".")).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("clock", Some(3)), "{e}");
        let bad = GOOD.replace("tenant = \"acme\"", "");
        let e = ServeConfig::parse(&bad, "c.toml", Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("needs a tenant"), "{e}");
        // The second token's error names the second table, not the first's keys.
        let two = format!("{GOOD}[[tokens]]\ntoken = \"fedcba9876543210\"\nrole = \"operator\"\n");
        let e = ServeConfig::parse(&two, "c.toml", Path::new(".")).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.line),
            ("tokens[1].tenant", Some(8)),
            "{e}"
        );
        let e = ServeConfig::parse("store = 3", "c.toml", Path::new(".")).unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
    }
}

#[cfg(test)]
mod replication_keys {
    use super::*;

    const BASE: &str = "store = \"postgresql://u@h/db\"\n[[tokens]]\ntoken = \"0123456789abcdef\"\nrole = \"admin\"\n";

    /// The keys of several instances and retention name their key and line when bad.
    #[test]
    fn bad_replication_and_retention_keys_name_the_key_and_line() {
        for (line, key) in [
            ("lease_s = 0.1", "lease_s"),
            ("retain_ended_s = 0.5", "retain_ended_s"),
            ("advertise = \"ftp://h:1\"", "advertise"),
            ("archive = \"a\"", "archive"),
        ] {
            let text = format!("{line}\n{BASE}");
            let e = ServeConfig::parse(&text, "c.toml", Path::new(".")).unwrap_err();
            assert_eq!((e.key.as_str(), e.line), (key, Some(1)), "{e}");
            assert!(e.to_string().starts_with("c.toml:1: "), "{e}");
        }
    }
}
