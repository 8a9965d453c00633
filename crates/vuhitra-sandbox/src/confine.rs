//! Confinement applied inside the helper process (`vuhitra __sandbox-exec`)
//! just before it execs the command. It runs there, single-threaded, rather
//! than in a `pre_exec` hook of the multi-threaded parent, where allocating
//! is not safe.
//!
//! What is enforced, in order: a new network namespace (no interfaces but
//! loopback) unless network is allowed — if the kernel refuses one, the run
//! stops rather than going ahead with network; resource limits (CPU time,
//! address space, file size, processes, no core dumps, open files); as root,
//! a switch to the unprivileged sandbox account, so the process limit counts
//! (root ignores it); Landlock: read access to the system directories and
//! the working directory only, writes to the working directory only, no TCP
//! bind/connect without network, no signals or abstract sockets outside the
//! sandbox; then a scrubbed environment and exec.

use std::path::PathBuf;

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, ABI,
};
use serde::{Deserialize, Serialize};

use crate::workspace::SANDBOX_UID;

/// The environment variable that carries the confinement to the helper.
pub const SPEC_VAR: &str = "VUHITRA_SANDBOX_SPEC";
/// The exit code of a helper that could not confine the command.
pub const CONFINE_FAILED: i32 = 125;
/// The prefix of the helper's error line on stderr.
pub const ERROR_PREFIX: &str = "vuhitra-sandbox: ";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confinement {
    pub workdir: PathBuf,
    pub cpu_seconds: u64,
    pub memory_bytes: u64,
    pub file_size_bytes: u64,
    pub max_processes: u64,
    pub network: bool,
    /// The whole environment the command gets.
    pub env: Vec<(String, String)>,
}

/// Directories a command may read (and run programs from) besides its
/// working directory.
const READABLE: &[&str] =
    &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt", "/proc", "/sys", "/dev"];

/// Applies everything, or says what could not be applied. Call only in a
/// single-threaded process that is about to exec.
pub fn enter(c: &Confinement) -> Result<(), String> {
    std::env::set_current_dir(&c.workdir).map_err(|e| format!("cannot enter {}: {e}", c.workdir.display()))?;
    let root = crate::workspace::is_root();
    if !c.network {
        // Root can have a network namespace of its own; anyone else gets one
        // inside a new user namespace.
        let flags = if root { libc::CLONE_NEWNET } else { libc::CLONE_NEWUSER | libc::CLONE_NEWNET };
        // SAFETY: unshare takes flags only; this process is single-threaded.
        if unsafe { libc::unshare(flags) } != 0 {
            return Err(format!(
                "cannot cut the network off (unshare: {}); this kernel does not allow network namespaces here. \
                 Pass --network to run with network access",
                std::io::Error::last_os_error()
            ));
        }
    }
    let cpu = c.cpu_seconds;
    set_limit(libc::RLIMIT_CPU, cpu, cpu + 1, "CPU time")?;
    set_limit(libc::RLIMIT_AS, c.memory_bytes, c.memory_bytes, "memory")?;
    set_limit(libc::RLIMIT_FSIZE, c.file_size_bytes, c.file_size_bytes, "file size")?;
    set_limit(libc::RLIMIT_CORE, 0, 0, "core dumps")?;
    set_limit(libc::RLIMIT_NOFILE, 256, 256, "open files")?;
    // The process limit counts every process of the user: allow this many
    // beyond those the account already runs.
    let uid = if root { SANDBOX_UID } else { unsafe { libc::getuid() } };
    let nproc = processes_of(uid) + c.max_processes;
    set_limit(libc::RLIMIT_NPROC, nproc, nproc, "processes")?;
    // Landlock before dropping privileges: root can still open every path a
    // rule names, and the working directory is named by the open cwd, which
    // stays usable even when its parents are closed to the sandbox account.
    landlock(c.network)?;
    if root {
        // SAFETY: plain syscalls; failure is checked.
        let ok = unsafe {
            libc::setgroups(0, std::ptr::null()) == 0
                && libc::setgid(SANDBOX_UID) == 0
                && libc::setuid(SANDBOX_UID) == 0
        };
        if !ok {
            return Err(format!("cannot switch to the sandbox account: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn set_limit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64, what: &str) -> Result<(), String> {
    let lim = libc::rlimit { rlim_cur: soft, rlim_max: hard };
    // SAFETY: a valid rlimit struct.
    if unsafe { libc::setrlimit(resource, &lim) } != 0 {
        return Err(format!("cannot limit {what}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// How many processes `uid` runs now (from /proc).
fn processes_of(uid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    let mut n = 0;
    for e in dir.flatten() {
        if !e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        use std::os::unix::fs::MetadataExt;
        if e.metadata().is_ok_and(|m| m.uid() == uid) {
            n += 1;
        }
    }
    n
}

fn landlock(network: bool) -> Result<(), String> {
    let abi = ABI::V6;
    let err = |e: landlock::RulesetError| format!("cannot set up Landlock: {e}");
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?;
    if !network {
        ruleset = ruleset.handle_access(AccessNet::from_all(abi)).map_err(err)?;
    }
    let ruleset = ruleset.scope(Scope::from_all(abi)).map_err(err)?;
    let status = ruleset
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(READABLE, AccessFs::from_read(abi)))
        .map_err(err)?
        .add_rules(path_beneath_rules(["/dev/null", "/dev/zero", "/dev/tty"], AccessFs::from_all(abi)))
        .map_err(err)?
        .add_rules(path_beneath_rules(["."], AccessFs::from_all(abi)))
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err("this kernel has no Landlock, so writes outside the workspace cannot be prevented".into());
    }
    Ok(())
}

/// The helper's whole job: read the confinement, apply it, exec. Returns
/// only on failure, with the exit code to use.
pub fn helper_main(program: &str, args: &[String]) -> i32 {
    let spec = match std::env::var(SPEC_VAR)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str::<Confinement>(&s).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{ERROR_PREFIX}no confinement given ({e}); this command is internal to vuhitra run");
            return CONFINE_FAILED;
        }
    };
    if let Err(e) = enter(&spec) {
        eprintln!("{ERROR_PREFIX}{e}");
        return CONFINE_FAILED;
    }
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(program).args(args).env_clear().envs(spec.env.iter().cloned()).exec();
    eprintln!("{ERROR_PREFIX}cannot run {program}: {err}");
    if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}
