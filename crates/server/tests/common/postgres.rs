//! A private PostgreSQL for tests: `initdb` into a temporary directory, `pg_ctl start` on
//! a free loopback port, `pg_ctl stop` when dropped. Never a mock. When the server
//! binaries are missing or the cluster cannot start, tests that need it say so loudly and
//! skip, unless `TIANDI_REQUIRE_POSTGRES=1` (set by `.ci/run`), where they fail.
#![allow(dead_code)] // each test file uses its own part of it

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running cluster, stopped (immediate mode) and deleted when dropped.
pub struct Postgres {
    bin: PathBuf,
    pub dir: PathBuf,
    pub port: u16,
    /// Runs the server binaries as this user when the tests run as root (`initdb` refuses
    /// root).
    user: Option<(u32, u32)>,
}

impl Postgres {
    /// A fresh cluster for the test `test`, or `None` (after a loud line) when PostgreSQL
    /// cannot be started here and it is not required.
    pub fn start(test: &str) -> Option<Postgres> {
        match Postgres::try_start(test) {
            Ok(pg) => Some(pg),
            Err(why) => {
                let required = std::env::var("TIANDI_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
                assert!(
                    !required,
                    "{test}: PostgreSQL is required (TIANDI_REQUIRE_POSTGRES=1) but: {why}"
                );
                eprintln!(
                    "\n*** SKIPPED {test}: PostgreSQL could not be started: {why}\n*** (install it: apt-get install postgresql; CI sets TIANDI_REQUIRE_POSTGRES=1)\n"
                );
                None
            }
        }
    }

    fn try_start(test: &str) -> Result<Postgres, String> {
        let bin = find_bin().ok_or("no initdb: not in $TIANDI_PG_BIN, pg_config --bindir, /usr/lib/postgresql/*/bin or $PATH")?;
        // SAFETY: geteuid has no preconditions.
        let user =
            if unsafe { libc::geteuid() } == 0 {
                Some(lookup_user("postgres").ok_or(
                    "running as root and there is no user `postgres` to run the server as",
                )?)
            } else {
                None
            };
        // The server's socket lives in this directory, and a socket path may not exceed
        // 107 bytes: keep the name short.
        let short: String = test
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(24)
            .collect();
        let dir = std::env::temp_dir().join(format!(
            "tiandi-pg-{short}-{}-{}",
            std::process::id(),
            next_serial()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some((uid, gid)) = user {
            let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            if unsafe { libc::chown(c.as_ptr(), uid, gid) } != 0 {
                return Err(format!(
                    "chown {}: {}",
                    dir.display(),
                    std::io::Error::last_os_error()
                ));
            }
        }
        let port = free_port();
        let mut pg = Postgres {
            bin,
            dir,
            port,
            user,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-A",
                "trust",
                "-U",
                "tiandi",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        // Crashes of PostgreSQL itself are not what these tests make, so it need not
        // flush to disk; the benchmark in docs/PERFORMANCE.md runs with fsync on.
        let opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c max_connections=50 -c autovacuum_naptime=1",
            pg.dir.display()
        );
        let log = pg.dir.join("postgres.log").display().to_string();
        if let Err(e) = pg.run(
            "pg_ctl",
            &[
                "-D",
                &pg.data(),
                "-l",
                &log,
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        ) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            pg.port = 0; // nothing to stop
            return Err(format!("{e}\n{text}"));
        }
        Ok(pg)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .env_remove("PGDATA");
        if let Some((uid, gid)) = self.user {
            // SAFETY: setgid/setuid are async-signal-safe and touch only the child.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(gid) != 0
                        || libc::setuid(uid) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let out = cmd.output().map_err(|e| format!("{program}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{program} {}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// The URL of a database of its own, made on first use.
    pub fn database(&self, name: &str) -> String {
        let base = format!("postgresql://tiandi@127.0.0.1:{}/postgres", self.port);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await
                .unwrap();
        });
        format!("postgresql://tiandi@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs one SQL query in `url` and gives the first column of each row as text.
    pub fn query(url: &str, sql: &str) -> Vec<Option<String>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut out = Vec::new();
            for m in client.simple_query(sql).await.unwrap() {
                if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                    out.push(r.get(0).map(str::to_string));
                }
            }
            out
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.port != 0 {
            let _ = self.run(
                "pg_ctl",
                &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn next_serial() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where `initdb` and `pg_ctl` are.
fn find_bin() -> Option<PathBuf> {
    let has = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(d) = std::env::var_os("TIANDI_PG_BIN").map(PathBuf::from) {
        return has(&d).then_some(d);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has(&d) {
            return Some(d);
        }
    }
    // Debian keeps the server binaries out of $PATH, one directory per major version.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse().ok()?;
            let d = e.path().join("bin");
            has(&d).then_some((v, d))
        })
        .collect();
    versions.sort();
    if let Some((_, d)) = versions.pop() {
        return Some(d);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|d| has(d))
}

/// The uid and gid of `name`.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam reads a NUL-terminated name; the result is read at once, before
    // any other call could reuse its static buffer.
    unsafe {
        let p = libc::getpwnam(c.as_ptr());
        if p.is_null() {
            None
        } else {
            Some(((*p).pw_uid, (*p).pw_gid))
        }
    }
}
