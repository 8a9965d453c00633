//! Running a command in the sandbox: the `Executor` trait, and the local
//! backend, which starts `vuhitra __sandbox-exec` (see `confine`) as a
//! process group, captures stdout and stderr up to a cap, and kills the
//! whole group at the deadline.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use crate::confine::{Confinement, CONFINE_FAILED, ERROR_PREFIX, SPEC_VAR};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox could not be set up: {0}")]
    Confinement(String),
    #[error("cannot start the sandbox helper {helper}: {source}")]
    Spawn { helper: PathBuf, source: std::io::Error },
    #[error("sandbox container {container}: {message}")]
    Container { container: String, message: String },
    /// The run was cancelled (Ctrl-C); the command and its group were killed.
    #[error("the run was cancelled; the command and everything it started were stopped")]
    Cancelled,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl SandboxError {
    pub fn hint(&self) -> Option<String> {
        match self {
            SandboxError::Container { .. } => Some(
                "start the stack (`docker compose up -d sandbox`), or unset SANDBOX_CONTAINER to run locally".into(),
            ),
            _ => None,
        }
    }
}

/// What to run and within which limits.
#[derive(Debug, Clone, Serialize)]
pub struct RunSpec {
    pub program: String,
    pub args: Vec<String>,
    pub workdir: PathBuf,
    pub timeout: Duration,
    pub cpu_seconds: u64,
    pub memory_bytes: u64,
    pub file_size_bytes: u64,
    pub max_processes: u64,
    /// Bytes kept of each of stdout and stderr.
    pub output_cap: usize,
    pub network: bool,
}

impl RunSpec {
    /// The environment a sandboxed command gets: nothing of the caller's.
    pub fn environment(&self) -> Vec<(String, String)> {
        let dir = self.workdir.display().to_string();
        vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("HOME".into(), dir.clone()),
            ("TMPDIR".into(), dir),
            ("LANG".into(), "C.UTF-8".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ]
    }
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub exit_code: Option<i32>,
    /// The signal that ended the command, by name.
    pub signal: Option<String>,
    pub timed_out: bool,
    /// Which limit ended the run, when that can be told.
    pub limit: Option<&'static str>,
    pub stdout: String,
    pub stderr: String,
    /// Bytes of output beyond the cap, not kept.
    pub stdout_dropped: u64,
    pub stderr_dropped: u64,
    pub duration_ms: u64,
}

impl RunOutcome {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

#[allow(async_fn_in_trait)]
pub trait Executor {
    /// Runs one command; `cancel` stops it (and all it started) early.
    async fn run(&self, spec: &RunSpec, cancel: &CancellationToken) -> Result<RunOutcome, SandboxError>;
    fn describe(&self) -> String;
}

/// The executor a process uses: the local one, or the sandbox container
/// when SANDBOX_CONTAINER names one.
pub enum AnyExecutor {
    Local(LocalExecutor),
    Docker(crate::docker::DockerExecutor),
}

impl Executor for AnyExecutor {
    async fn run(&self, spec: &RunSpec, cancel: &CancellationToken) -> Result<RunOutcome, SandboxError> {
        match self {
            AnyExecutor::Local(e) => e.run(spec, cancel).await,
            AnyExecutor::Docker(e) => e.run(spec, cancel).await,
        }
    }
    fn describe(&self) -> String {
        match self {
            AnyExecutor::Local(e) => e.describe(),
            AnyExecutor::Docker(e) => e.describe(),
        }
    }
}

/// Runs commands on this machine through the confining helper.
pub struct LocalExecutor {
    /// The `vuhitra` binary, which has the `__sandbox-exec` helper.
    pub helper: PathBuf,
}

impl Executor for LocalExecutor {
    fn describe(&self) -> String {
        "local process (namespaces, rlimits, Landlock)".into()
    }

    async fn run(&self, spec: &RunSpec, cancel: &CancellationToken) -> Result<RunOutcome, SandboxError> {
        let confinement = Confinement {
            workdir: spec.workdir.clone(),
            cpu_seconds: spec.cpu_seconds,
            memory_bytes: spec.memory_bytes,
            file_size_bytes: spec.file_size_bytes,
            max_processes: spec.max_processes,
            network: spec.network,
            env: spec.environment(),
        };
        if crate::workspace::is_root() {
            reachable_by_sandbox_account(&spec.workdir)?;
        }
        let started = Instant::now();
        let mut child = tokio::process::Command::new(&self.helper)
            .arg("__sandbox-exec")
            .arg("--")
            .arg(&spec.program)
            .args(&spec.args)
            .env_clear()
            .env(SPEC_VAR, serde_json::to_string(&confinement).expect("a confinement serialises"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| SandboxError::Spawn { helper: self.helper.clone(), source })?;
        let pgid = child.id().map(|p| p as i32);
        // A caller that drops this future (a loop cancelled mid-run) still
        // takes the whole group down, not only the direct child.
        let _group = GroupGuard(pgid);
        let out = tokio::spawn(capture(child.stdout.take().expect("piped"), spec.output_cap));
        let err = tokio::spawn(capture(child.stderr.take().expect("piped"), spec.output_cap));
        let waited = tokio::select! {
            w = tokio::time::timeout(spec.timeout, child.wait()) => Some(w),
            _ = cancel.cancelled() => None,
        };
        let (status, timed_out) = match waited {
            Some(Ok(s)) => (s?, false),
            Some(Err(_)) => {
                kill_group(pgid);
                (child.wait().await?, true)
            }
            None => {
                kill_group(pgid);
                child.wait().await?;
                return Err(SandboxError::Cancelled);
            }
        };
        // Whatever the command left running in its group goes too.
        kill_group(pgid);
        let (stdout, stdout_dropped) = out.await.map_err(std::io::Error::other)??;
        let (stderr, stderr_dropped) = err.await.map_err(std::io::Error::other)??;
        use std::os::unix::process::ExitStatusExt;
        if status.code() == Some(CONFINE_FAILED) {
            if let Some(msg) = stderr.lines().find_map(|l| l.strip_prefix(ERROR_PREFIX)) {
                return Err(SandboxError::Confinement(msg.to_string()));
            }
        }
        let signal = status.signal();
        let limit = match (timed_out, signal) {
            (true, _) => Some("timeout"),
            (_, Some(libc::SIGXCPU)) => Some("cpu time"),
            (_, Some(libc::SIGXFSZ)) => Some("file size"),
            _ => None,
        };
        Ok(RunOutcome {
            exit_code: status.code(),
            signal: signal.map(signal_name),
            timed_out,
            limit,
            stdout,
            stderr,
            stdout_dropped,
            stderr_dropped,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }
}

/// Run as root, commands run as the sandbox account, which must be able to
/// walk down to the workspace: every parent must let others through.
fn reachable_by_sandbox_account(workdir: &std::path::Path) -> Result<(), SandboxError> {
    use std::os::unix::fs::MetadataExt;
    for dir in workdir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(dir) else { continue };
        if meta.mode() & 0o001 == 0 && meta.uid() != crate::workspace::SANDBOX_UID {
            return Err(SandboxError::Confinement(format!(
                "the workspace {} is inside {}, which the sandbox account (nobody) cannot enter; set \
                 WORKSPACE_PATH to a directory outside it, such as /var/lib/vuhitra/workspace",
                workdir.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

fn kill_group(pgid: Option<i32>) {
    if let Some(p) = pgid {
        // SAFETY: signalling a process group we created; ESRCH when it is gone.
        unsafe {
            libc::killpg(p, libc::SIGKILL);
        }
    }
}

/// Keeps the first `cap` bytes and counts the rest, reading to the end so
/// the command never blocks on a full pipe.
async fn capture(mut r: impl AsyncRead + Unpin, cap: usize) -> std::io::Result<(String, u64)> {
    let mut kept = Vec::new();
    let mut dropped = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        dropped += n.saturating_sub(room) as u64;
    }
    Ok((String::from_utf8_lossy(&kept).into_owned(), dropped))
}

pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGXCPU => "SIGXCPU".into(),
        libc::SIGXFSZ => "SIGXFSZ".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGPIPE => "SIGPIPE".into(),
        other => format!("signal {other}"),
    }
}
