//! What every test suite of the workspace shares about the real services
//! that `scripts/test` installs and starts.
//!
//! A missing service is an install failure, not a reason to pass quietly:
//! a test that needs one **fails** unless the user asked for a partial run
//! with `VUHITRA_TEST_ALLOW_SKIP=1` (never honoured under `CI=true`). A
//! skipped test says so on stderr and, when `scripts/test` set
//! `VUHITRA_TEST_SKIP_LOG`, adds a line to that file, from which the script
//! prints one summary at the end.

use std::io::Write;
use std::path::Path;

/// The variable that asks for a partial run.
pub const ALLOW_SKIP: &str = "VUHITRA_TEST_ALLOW_SKIP";
/// The file skipped tests are listed in (`scripts/test` sets it).
pub const SKIP_LOG: &str = "VUHITRA_TEST_SKIP_LOG";

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether a missing service may skip a test rather than fail it.
pub fn skips_allowed() -> bool {
    !under_ci() && std::env::var(ALLOW_SKIP).is_ok_and(|v| v == "1" || v == "true")
}

/// A test cannot run because `what` is missing: a failure, or in a partial
/// run a skip that is recorded. Returns only when the test should skip.
#[track_caller]
pub fn missing(what: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if !skips_allowed() {
        let how = if under_ci() { "CI=true" } else { "no VUHITRA_TEST_ALLOW_SKIP=1" };
        panic!(
            "{what}; ./scripts/test installs and starts it ({how}: a missing service fails the test, \
             VUHITRA_TEST_ALLOW_SKIP=1 outside CI makes it a reported skip)"
        );
    }
    eprintln!("SKIPPED {test}: {what}");
    if let Ok(log) = std::env::var(SKIP_LOG) {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&log) {
            // One line per skip; O_APPEND keeps lines from parallel tests whole.
            let _ = f.write_all(format!("{test}\t{what}\n").as_bytes());
        }
    }
}

/// The value of a service variable (`VUHITRA_TEST_OLLAMA`, …), or `None`
/// after [`missing`] allowed the test to skip.
#[track_caller]
pub fn service(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            missing(&format!("{var} is not set: the test needs {what}"));
            None
        }
    }
}

/// Is this program on PATH (or, with a slash, that file executable)?
pub fn have(program: &str) -> bool {
    if program.contains('/') {
        return is_executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| is_executable(&dir.join(program))))
        .unwrap_or(false)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether a program the test needs is installed; false only when the test
/// may skip (see [`missing`]).
#[track_caller]
pub fn require(program: &str) -> bool {
    if have(program) {
        return true;
    }
    missing(&format!("{program} is not installed"));
    false
}

/// The value of an `Option` from [`service`], or the end of the test.
#[macro_export]
macro_rules! need {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path_and_by_path() {
        assert!(have("sh"));
        assert!(have("/bin/sh"));
        assert!(!have("surely-no-such-program-here"));
        assert!(!have("/nonexistent/prog"));
    }
}
