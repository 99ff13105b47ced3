//! How `tiandi agent` runs a stage's command: inside a bubblewrap sandbox (Debian's
//! `bwrap`) that sees only its own working directory and read-only system paths, has its
//! own PID, mount, IPC, UTS, cgroup, user and (by default) network namespaces, gets only
//! the `TIANDI_*` environment, and runs as an unprivileged user when the agent is root.
//! The whole process tree ends with the sandbox: when the agent kills it, and when the
//! agent itself dies (`--die-with-parent`).
//!
//! Why bubblewrap: it is the well-kept, small, audited tool that Flatpak uses for exactly
//! this (unprivileged namespaces plus `PR_SET_NO_NEW_PRIVS`), packaged by Debian, and it
//! needs no code of ours running as root inside the sandbox.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The identity stages run as when the agent is root: `nobody`.
pub const NOBODY: (u32, u32) = (65_534, 65_534);
/// The stage's `PATH` (inside the sandbox, or in the unsandboxed opt-out).
const STAGE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// Size of the sandbox's private `/tmp`.
const TMP_BYTES: &str = "268435456";
/// Read-only system paths a program needs, bound when they exist. Not the whole of /etc:
/// only what the dynamic loader, `/etc/alternatives` commands and user lookups read.
const SYSTEM_PATHS: &[&str] = &[
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
];
/// Processes all sandboxed stages of a node may have together (they share one user):
/// a fork bomb stops there instead of taking the host's PIDs.
const MAX_STAGE_PROCESSES: libc::rlim_t = 4_096;

/// In the child before exec: no descriptor of the agent's but 0-2 reaches the stage (set
/// close-on-exec on the rest, so std's own exec-error pipe still works).
fn close_inherited_descriptors() -> std::io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range is a plain system call on descriptors of this (child) process.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Bound in addition when stages may use the network.
const NETWORK_PATHS: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/ssl",
    "/etc/ca-certificates",
];

/// How stages are isolated.
#[derive(Clone, Debug)]
pub enum Isolation {
    /// The sandbox described above.
    Bubblewrap {
        bwrap: PathBuf,
        /// `Some` when the agent is root: the user and group the sandbox runs as.
        run_as: Option<(u32, u32)>,
        /// Stages may use the host's network.
        network: bool,
    },
    /// The explicit opt-out: commands run as the agent's own user, in its own process
    /// group, with a clean environment, and see everything that user can see.
    Unsandboxed,
}

impl Isolation {
    /// Finds `bwrap` (or takes the one given), picks the identity, and checks that a sandbox
    /// really starts on this kernel: a probe runs `true` in it inside `probe_dir`.
    pub fn detect(
        bwrap: Option<&Path>,
        network: bool,
        probe_dir: &Path,
    ) -> Result<Isolation, String> {
        let bwrap = match bwrap {
            Some(p) => p.to_path_buf(),
            None => ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
                .ok_or(
                    "bubblewrap (bwrap) is not installed: `apt-get install bubblewrap`, or give --bwrap PATH",
                )?,
        };
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let bwrap_path = bwrap.clone();
        let iso = Isolation::Bubblewrap {
            bwrap,
            run_as: root.then_some(NOBODY),
            network,
        };
        let dir = probe_dir.join(format!(".sandbox-probe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        iso.hand_over(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let probe = iso
            .prepare(&dir, &["true".to_string()], &[])
            .and_then(|mut command| {
                let out = command
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .output()
                    .map_err(|e| {
                        format!("cannot start the sandbox {}: {e}", bwrap_path.display())
                    })?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "the sandbox does not start here ({}): {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ))
                }
            });
        let _ = std::fs::remove_dir_all(&dir);
        probe.map(|()| iso)
    }

    /// Makes `dir` (fresh, made by the agent) the stage's own: owned by the identity the
    /// sandbox runs as, reachable by nobody else. (The agent's work directory is
    /// searchable but not listable, so the sandbox's user can reach a stage directory it
    /// knows the random name of; bubblewrap binds it by path.)
    pub fn hand_over(&self, dir: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        if let Isolation::Bubblewrap {
            run_as: Some((uid, gid)),
            ..
        } = self
        {
            for entry in std::fs::read_dir(dir)? {
                let p = entry?.path();
                std::os::unix::fs::lchown(&p, Some(*uid), Some(*gid))?;
            }
            std::os::unix::fs::chown(dir, Some(*uid), Some(*gid))?;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }

    /// The command that runs `argv` in `dir` with the environment `env` (and nothing
    /// else of the agent's).
    pub fn prepare(
        &self,
        dir: &Path,
        argv: &[String],
        env: &[(String, String)],
    ) -> Result<Command, String> {
        let (program, args) = argv.split_first().ok_or("an empty command")?;
        match self {
            Isolation::Unsandboxed => {
                let mut c = Command::new(program);
                c.args(args)
                    .current_dir(dir)
                    .env_clear()
                    .env("PATH", STAGE_PATH)
                    .env("HOME", dir)
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .process_group(0);
                // SAFETY: prctl and close_range are async-signal-safe; the child dies with
                // the agent's thread and inherits none of its descriptors.
                unsafe {
                    c.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        close_inherited_descriptors()
                    });
                }
                Ok(c)
            }
            Isolation::Bubblewrap {
                bwrap,
                run_as,
                network,
            } => {
                let mut c = Command::new(bwrap);
                c.env_clear()
                    .env("PATH", STAGE_PATH)
                    .args([
                        "--unshare-all",
                        "--unshare-user",
                        "--die-with-parent",
                        "--new-session",
                    ])
                    .arg("--disable-userns");
                if *network {
                    c.arg("--share-net");
                }
                c.args(["--ro-bind", "/usr", "/usr"]);
                let extra: &[&str] = if *network { NETWORK_PATHS } else { &[] };
                for p in SYSTEM_PATHS.iter().chain(extra) {
                    c.args(["--ro-bind-try", p, p]);
                }
                c.args(["--proc", "/proc", "--dev", "/dev"])
                    .args(["--size", TMP_BYTES, "--tmpfs", "/tmp"])
                    .arg("--bind")
                    .arg(dir)
                    .args(["/work", "--chdir", "/work"])
                    .args(["--clearenv", "--setenv", "PATH", STAGE_PATH])
                    .args(["--setenv", "HOME", "/work", "--setenv", "TMPDIR", "/tmp"]);
                for (k, v) in env {
                    c.args(["--setenv", k, v]);
                }
                c.arg("--").arg(program).args(args);
                if let Some((uid, gid)) = run_as {
                    c.uid(*uid).gid(*gid);
                }
                let limit_processes = run_as.is_some();
                // SAFETY: setrlimit and close_range are async-signal-safe system calls on
                // the child alone.
                unsafe {
                    c.pre_exec(move || {
                        if limit_processes {
                            let lim = libc::rlimit {
                                rlim_cur: MAX_STAGE_PROCESSES,
                                rlim_max: MAX_STAGE_PROCESSES,
                            };
                            if libc::setrlimit(libc::RLIMIT_NPROC, &lim) != 0 {
                                return Err(std::io::Error::last_os_error());
                            }
                        }
                        close_inherited_descriptors()
                    });
                }
                Ok(c)
            }
        }
    }

    /// Ends a started stage and every process it made.
    pub fn kill(&self, child: &mut std::process::Child) {
        if let Isolation::Unsandboxed = self {
            // The stage's process group (its own, from `process_group(0)`).
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill has no memory effects; the group is the child's own.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
        }
        // The sandbox: killing bwrap kills its PID namespace (its init dies with it).
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn describe(&self) -> String {
        match self {
            Isolation::Bubblewrap {
                bwrap,
                run_as,
                network,
            } => format!(
                "stages run in a bubblewrap sandbox ({}){}{}",
                bwrap.display(),
                run_as.map_or(String::new(), |(u, g)| format!(" as uid {u} gid {g}")),
                if *network {
                    ", with the network"
                } else {
                    ", without network"
                }
            ),
            Isolation::Unsandboxed => "stages run UNSANDBOXED".into(),
        }
    }
}
