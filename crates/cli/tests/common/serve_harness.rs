//! The control plane's test harness: `tiandi serve` and `tiandi agent` as real processes
//! on loopback, HTTP calls, waiting for tasks, and a look at the processes a stage left.
#![allow(dead_code)] // each test file uses its own part of it

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tiandi_server::agent::Client;

pub const OPERATOR: &str = "operator-token-aaaa-0001";
pub const OTHER: &str = "operator-token-bbbb-0002";
pub const ADMIN: &str = "admin-token-cccc-000003";
pub const AGENT_ZJK: &str = "agent-token-zjk-00000004";
pub const AGENT_WUHU: &str = "agent-token-wuhu-0000005";

pub fn config_text(store: &Path, clock: &str) -> String {
    config_with_store(&store.display().to_string(), clock)
}

/// The test configuration with `store` (a redb path or a PostgreSQL URL).
pub fn config_with_store(store: &str, clock: &str) -> String {
    format!(
        r#"
store = "{store}"
clock = "{clock}"
heartbeat_timeout_s = 3.0
max_body_bytes = 65536
keep_finished_in_memory = 1000
[[tokens]]
token = "{OPERATOR}"
role = "operator"
tenant = "a"
[[tokens]]
token = "{OTHER}"
role = "operator"
tenant = "b"
[[tokens]]
token = "{ADMIN}"
role = "admin"
[[tokens]]
token = "{AGENT_ZJK}"
role = "agent"
node = "Zhangjiakou"
[[tokens]]
token = "{AGENT_WUHU}"
role = "agent"
node = "Wuhu"
"#
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `tiandi serve` process, killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub port: u16,
    pub config: PathBuf,
    pub dir: PathBuf,
    /// The certificate to trust when the server speaks HTTPS.
    pub ca: Option<Vec<u8>>,
}

impl Server {
    pub fn start(dir: &Path, clock: &str) -> Server {
        Server::start_with(dir, clock, "")
    }

    /// With `extra` lines at the top of the configuration.
    pub fn start_with(dir: &Path, clock: &str, extra: &str) -> Server {
        let config = dir.join("serve.toml");
        let text = format!("{extra}\n{}", config_text(&dir.join("store.redb"), clock));
        std::fs::write(&config, text).unwrap();
        Server::start_on(dir, &config, free_port(), None)
    }

    pub fn start_on(dir: &Path, config: &Path, port: u16, ca: Option<Vec<u8>>) -> Server {
        Server::spawn(dir, config, port, ca, None)
    }

    /// `nofile`: the process's limit on open files (soft and hard), as `ulimit -n` sets it.
    pub fn spawn(
        dir: &Path,
        config: &Path,
        port: u16,
        ca: Option<Vec<u8>>,
        nofile: Option<u64>,
    ) -> Server {
        let log = append_log(&dir.join("serve.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tiandi"));
        cmd.args(["serve", "--config"])
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(n) = nofile {
            // SAFETY: setrlimit is async-signal-safe and touches only the child.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().unwrap();
        let url = match ca {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        let s = Server {
            child,
            url,
            port,
            config: config.to_path_buf(),
            dir: dir.to_path_buf(),
            ca,
        };
        s.wait_healthy();
        s
    }

    pub fn wait_healthy(&self) {
        let c = Client::with_roots(&self.url, "", Duration::from_secs(2), self.ca.as_deref());
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if let Ok((200, _)) = c.request("GET", "/healthz", None) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "server did not come up: {}",
            std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
        );
    }

    /// SIGKILL, then a new process on the same port and store.
    pub fn crash_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        *self = Server::start_on(
            &self.dir.clone(),
            &self.config.clone(),
            self.port,
            self.ca.clone(),
        );
    }

    pub fn client(&self, token: &str) -> Client {
        Client::with_roots(
            &self.url,
            token,
            Duration::from_secs(10),
            self.ca.as_deref(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `tiandi agent` process, killed when dropped. Its token comes from `TIANDI_TOKEN`, as
/// the docs say; its log is `<work>.log` (appended to across restarts).
pub struct Agent(pub Child);

impl Agent {
    pub fn start(server: &Server, node: &str, token: &str, work: &Path) -> Agent {
        Agent::start_with(server, node, token, work, &[])
    }

    pub fn start_with(
        server: &Server,
        node: &str,
        token: &str,
        work: &Path,
        extra: &[&str],
    ) -> Agent {
        Agent::start_via(server, &server.url, node, token, work, extra)
    }

    /// With `--server addresses` (one URL, or several separated by commas).
    pub fn start_via(
        server: &Server,
        addresses: &str,
        node: &str,
        token: &str,
        work: &Path,
        extra: &[&str],
    ) -> Agent {
        let log = append_log(&work.with_extension("log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tiandi"));
        cmd.args(["agent", "--server", addresses, "--node", node])
            .env("TIANDI_TOKEN", token)
            .args(["--heartbeat-s", "0.2", "--slots", "4", "--work-dir"])
            .arg(work)
            .args(extra);
        if !sandbox_available() {
            // Tests of the control plane still run; those of the sandbox are skipped.
            cmd.arg("--unsafe-no-sandbox");
        }
        if server.ca.is_some() {
            cmd.arg("--ca-cert").arg(server.dir.join("cert.pem"));
        }
        Agent(cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn call(c: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let bytes = body.map(|b| b.to_string().into_bytes());
    let (status, out) = c.request(method, path, bytes.as_deref()).unwrap();
    let v =
        serde_json::from_slice(&out).unwrap_or(Value::String(String::from_utf8_lossy(&out).into()));
    (status, v)
}

/// Polls a task until `done(task)` or the time runs out.
pub fn wait_task(c: &Client, id: u64, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let (status, v) = call(c, "GET", &format!("/v1/tasks/{id}"), None);
        assert_eq!(status, 200, "{v}");
        if done(&v) {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "task {id} stuck: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn wait_agent(c: &Client, node: &str) {
    let t0 = Instant::now();
    loop {
        let (_, v) = call(c, "GET", &format!("/v1/nodes/{node}"), None);
        if v["agent"]["live"] == true {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "agent of {node} never heard"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Processes on this machine whose command line contains `marker` (a stage's own mark).
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(marker)
            // Not the sandbox program itself, whose arguments repeat the command.
            && !String::from_utf8_lossy(&cmd).starts_with("bwrap")
            && !String::from_utf8_lossy(&cmd).contains("/bwrap\0")
        {
            out.push(pid);
        }
    }
    out
}

/// Waits until no process carries `marker`, or panics after `secs`.
pub fn wait_gone(marker: &str, secs: u64, what: &str) {
    let t0 = Instant::now();
    while !processes_with(marker).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "{what}: processes {:?} still run",
            processes_with(marker)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until some process carries `marker`.
pub fn wait_running(marker: &str, secs: u64) {
    wait_processes(marker, 1, secs);
}

/// Waits until at least `n` processes carry `marker` (a stage's shell starts its children
/// one after another, later under load).
pub fn wait_processes(marker: &str, n: usize, secs: u64) {
    let t0 = Instant::now();
    while processes_with(marker).len() < n {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "fewer than {n} processes with {marker} started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether bubblewrap, the agent's sandbox, is installed. In CI it must be (`.ci/run`
/// installs it); elsewhere its absence is said loudly and the agents of these tests run
/// with `--unsafe-no-sandbox`.
pub fn sandbox_available() -> bool {
    let found = ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]
        .iter()
        .any(|p| Path::new(p).is_file());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "bubblewrap (bwrap) is not installed: CI must run the sandbox tests"
        );
        eprintln!(
            "WARNING: bubblewrap is not installed (apt-get install bubblewrap): agents in these tests run UNSANDBOXED and the sandbox tests are skipped"
        );
    }
    found
}

/// For tests of the sandbox itself: false (and a loud line) when it cannot run here.
pub fn require_sandbox(test: &str) -> bool {
    let ok = sandbox_available();
    if !ok {
        eprintln!("SKIPPED {test}: needs bubblewrap");
    }
    ok
}

/// A log file appended to across restarts of the process that writes it.
fn append_log(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}
