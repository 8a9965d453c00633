//! `vuhitra dev` end to end: the real binary, the real sandbox (confined
//! local processes, pytest and node), and a real model through the real
//! Ollama. The model is SmolLM2 135M given worked examples of the answer
//! format (scripts/services, VUHITRA_TEST_DEV_MODEL): its answers parse and
//! get written and run, though they are rarely right, so these tests assert
//! the loop, not the model's skill. The loop with scripted answers is tested
//! in crates/vuhitra-dev/tests/loop.rs.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ollama, service, TestEnv};
use serde_json::Value;

fn env() -> TestEnv {
    TestEnv::with_sandbox_workspace()
}

fn model_env() -> Option<TestEnv> {
    let o = ollama()?;
    let model = service("VUHITRA_TEST_DEV_MODEL", "the dev-mode test model (SmolLM2 with worked examples)")?;
    let mut env = env();
    env.set("OLLAMA_IP", &o.url).set("MODEL", &model);
    Some(env)
}

fn project(env: &TestEnv, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.home.path().join("workspace/projects").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (path, text) in files {
        std::fs::write(dir.join(path), text).unwrap();
    }
    dir
}

const CALC: &str = "def add(a, b):\n    return a + b\n";
const CALC_TEST: &str = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n";

#[test]
fn the_loop_runs_on_a_real_model_feeds_back_and_stops_at_the_limit() {
    let env = need!(model_env());
    // No answer can pass this test command: the loop must stop at the limit.
    let never = "echo this check cannot pass >&2; exit 3";
    let r = env
        .run(&[
            "--json",
            "dev",
            "--prod",
            "--dir",
            "never",
            "--max-iterations",
            "2",
            "--test-cmd",
            never,
            "write add(a, b) in calc.py that returns the sum",
        ])
        .fails_with(1);
    let out = r.json();
    assert_eq!(out["status"], "limit", "{out:#}");
    assert_eq!(out["max_iterations"], 2);
    let its = out["iterations"].as_array().unwrap();
    assert_eq!(its.len(), 2, "{out:#}");
    assert!(out["completion_tokens"].as_u64().unwrap() > 0, "the model was asked");
    // The model's answers were written and run in the sandbox at least once.
    let ran: Vec<&Value> = its.iter().filter(|i| i["checks"].is_array()).collect();
    assert!(!ran.is_empty(), "no answer was applied and checked: {out:#}");
    let check = ran[0]["checks"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (check["command"].as_str().unwrap(), check["exit_code"].as_i64()),
        (format!("sh -c {never}").as_str(), Some(3))
    );
    for f in ran[0]["files"].as_array().unwrap() {
        assert!(env.home.path().join("workspace/projects/never").join(f.as_str().unwrap()).is_file(), "{f}");
    }
    // The transcript: the second prompt carries the first iteration's feedback.
    let id = out["task_id"].as_i64().unwrap();
    let shown = env.run(&["--json", "dev", "show", &id.to_string(), "--iteration", "2"]).ok().json();
    let prompt = shown["iterations"][0]["prompt"].as_str().unwrap();
    assert!(
        prompt.contains("this check cannot pass") || prompt.contains("could not be applied"),
        "iteration 1's failure did not go back to the model: {prompt}"
    );
    let history = env.run(&["--json", "dev", "history"]).ok().json();
    assert_eq!(
        (history[0]["id"].as_i64(), history[0]["status"].as_str(), history[0]["iterations"].as_i64()),
        (Some(id), Some("limit"), Some(2))
    );
    let text = env.run(&["dev", "show", &id.to_string()]).ok().stdout;
    assert!(text.contains("── iteration 1") && text.contains("── iteration 2"), "{text}");
    // One heuristics record per iteration, each a failure.
    let records = env.run(&["--json", "heuristics", "list"]).ok().json();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2, "{records:#?}");
    assert!(records.iter().all(|r| r["success"] == false), "{records:#?}");
}

#[test]
fn opening_a_project_runs_its_checks_first() {
    let env = env();
    project(&env, "calc", &[("calc.py", CALC), ("test_calc.py", CALC_TEST)]);
    // Interactive: the checks pass, the prompt shows the iterations used, `exit` leaves.
    let r = env.run_with_stdin(&["dev", "--dir", "calc", "--max-iterations", "3"], "exit\n").ok();
    assert!(r.stderr.contains("✓ the checks pass (python3 -m pytest"), "{}", r.stderr);
    assert!(r.stderr.contains("dev [0/3]> "), "{}", r.stderr);
    // JavaScript through the sandbox: node's own test runner.
    let sum = "function add(a, b) { return a + b; }\nmodule.exports = { add };\n";
    let test = "const test = require('node:test');\nconst assert = require('node:assert');\n\
                const { add } = require('./sum');\ntest('adds', () => { assert.strictEqual(add(1, 2), 3); });\n";
    project(&env, "js", &[("sum.js", sum), ("sum.test.js", test)]);
    let out = env.run(&["--json", "dev", "--prod", "--dir", "js"]).ok().json();
    assert_eq!((out["status"].as_str(), out["language"].as_str()), (Some("passed"), Some("javascript")), "{out:#}");
    assert!(out["iterations"].as_array().unwrap().is_empty(), "no model call when the checks pass");
}

#[test]
fn a_failing_project_without_a_model_fails_clearly_and_keeps_a_transcript() {
    let mut env = env();
    env.set("OLLAMA_IP", "http://127.0.0.1:9").set("OLLAMA_RETRIES", "0");
    project(&env, "broken", &[("calc.py", "def add(a, b):\n    return a - b\n"), ("test_calc.py", CALC_TEST)]);
    let r = env.run(&["dev", "--prod", "--dir", "broken"]).fails_with(1);
    assert!(r.stderr.contains("assert -1 == 5"), "the failure is shown: {}", r.stderr);
    assert!(r.stderr.contains("127.0.0.1:9"), "the unreachable model is named: {}", r.stderr);
    let history = env.run(&["--json", "dev", "history"]).ok().json();
    assert_eq!(history[0]["status"], "error", "{history:#}");
    assert_eq!(
        std::fs::read_to_string(env.home.path().join("workspace/projects/broken/calc.py")).unwrap(),
        "def add(a, b):\n    return a - b\n",
        "nothing was changed"
    );
}

#[test]
fn bad_input_is_refused_before_any_request() {
    let mut env = env();
    env.set("OLLAMA_IP", "http://127.0.0.1:9");
    let r = env.run(&["dev", "--prod"]).fails_with(2);
    assert!(r.stderr.contains("dev needs a task"), "{}", r.stderr);
    for dir in ["../escape", "/etc", "a/../../b", ".hidden"] {
        let r = env.run(&["dev", "--prod", "--dir", dir, "write x"]).fails_with(2);
        assert!(r.stderr.contains("not a usable project name"), "{dir}: {}", r.stderr);
    }
    assert!(!env.home.path().join("escape").exists() && !env.home.path().join("workspace/escape").exists());
    env.run(&["dev", "--language", "cobol", "x"]).fails_with(2);
    env.run(&["--json", "dev", "--watch", "x"]).fails_with(2);
    env.run(&["dev", "--prod", "--max-iterations", "0", "x"]).fails_with(2);
    let r = env.run(&["dev", "show", "42"]).fails_with(1);
    assert!(r.stderr.contains("no dev task with id \"42\"") && r.stderr.contains("dev history"), "{}", r.stderr);
    let help = env.run(&["dev", "--help"]).ok().stdout;
    assert!(
        help.contains("<<<<<<< SEARCH") && help.contains("MAX_ITERATIONS_DEV") && help.contains("--prod"),
        "{help}"
    );
}

/// A running `vuhitra dev` whose stderr is collected as it comes.
struct Live {
    child: std::process::Child,
    stderr: Arc<Mutex<String>>,
}

impl Live {
    fn start(env: &TestEnv, args: &[&str]) -> Live {
        let mut child =
            env.cmd(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut r = BufReader::new(pipe);
            let mut buf = Vec::new();
            // Byte by byte: prompts end without a newline.
            while r.read_until(b' ', &mut buf).map(|n| n > 0).unwrap_or(false) {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf));
                buf.clear();
            }
        });
        Live { child, stderr }
    }

    fn wait_for(&self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.stderr.lock().unwrap().clone();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "waited {secs} s for {needle:?}; stderr so far:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn finish(mut self, secs: u64) -> (i32, String) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(200));
                return (status.code().unwrap_or(-1), self.stderr.lock().unwrap().clone());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("vuhitra dev did not end; stderr:\n{}", self.stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn watch_reruns_the_checks_on_an_edit_and_offers_the_failure_to_the_model() {
    let env = need!(model_env());
    let dir = project(&env, "watched", &[("calc.py", CALC), ("test_calc.py", CALC_TEST)]);
    let live = Live::start(&env, &["dev", "--dir", "watched", "--watch", "--max-iterations", "1"]);
    live.wait_for("dev [0/1]> ", 60);
    // The user's own edit breaks the tests.
    std::fs::write(dir.join("calc.py"), "def add(a, b):\n    return a * b\n").unwrap();
    live.wait_for("files changed: running the checks", 30);
    let text = live.wait_for("offering the failure to the model", 60);
    assert!(text.contains("assert 6 == 5"), "{text}");
    live.wait_for("[1/1] asking the model", 60);
    let (code, text) = live.finish(120);
    assert!(text.contains("no iterations left (1, --max-iterations)"), "{text}");
    assert!(code == 0 || code == 1, "{code}: {text}");
    let history = env.run(&["--json", "dev", "history"]).ok().json();
    let id = history[0]["id"].as_i64().unwrap();
    let shown = env.run(&["--json", "dev", "show", &id.to_string()]).ok().json();
    let prompt = shown["iterations"][0]["prompt"].as_str().unwrap();
    assert!(prompt.contains("were changed") && prompt.contains("assert 6 == 5"), "{prompt}");
}

#[test]
fn ctrl_c_stops_the_checks_and_keeps_the_files() {
    let env = env();
    // The program starts a child of its own, named by the marker, which
    // must go down with it.
    let marker = format!("vuhitra-dev-sleep-{}", std::process::id());
    let main = format!(
        "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'import time; time.sleep(120)', '{marker}'])\n"
    );
    let dir = project(&env, "slow", &[("main.py", &main)]);
    let child = env.cmd(&["dev", "--prod", "--dir", "slow"]).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    // Wait for the program to be running in the sandbox, then Ctrl-C.
    while !std::process::Command::new("pgrep").args(["-f", &marker]).output().unwrap().status.success() {
        assert!(started.elapsed() < Duration::from_secs(30), "the check never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "Ctrl-C did not stop the check");
    assert_eq!(std::fs::read_to_string(dir.join("main.py")).unwrap(), main, "the files are kept");
    std::thread::sleep(Duration::from_millis(300));
    let left = std::process::Command::new("pgrep").args(["-f", &marker]).output().unwrap();
    assert!(!left.status.success(), "the sandboxed program outlived Ctrl-C");
}

#[test]
fn devmode_in_chat_runs_the_rest_of_the_prompt_as_a_task() {
    let mut env = need!(model_env());
    env.set("MAX_ITERATIONS_DEV", "1");
    let r = env.run(&["chat", "@devmode write add(a, b) in calc.py that returns the sum"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    assert!(r.stderr.contains("[1/1]"), "{}", r.stderr);
    let history = env.run(&["--json", "dev", "history"]).ok().json();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history:#}");
    assert_eq!(history[0]["task"], "write add(a, b) in calc.py that returns the sum");
    assert_eq!(history[0]["iterations"], 1);
}

#[test]
fn allow_install_builds_the_project_environment_in_the_sandbox() {
    let env = env();
    // pytest is already there for the sandbox's python3: with system site
    // packages the environment needs nothing from the network.
    let files = [("calc.py", CALC), ("test_calc.py", CALC_TEST), ("requirements.txt", "pytest\n")];
    let dir = project(&env, "env", &files);
    let out = env.run(&["--json", "dev", "--prod", "--dir", "env"]).ok().json();
    assert_eq!(out["status"], "passed");
    assert!(!dir.join(".venv").exists(), "without --allow-install nothing is installed");
    let r = env.run(&["dev", "--prod", "--dir", "env", "--allow-install"]).ok();
    assert!(r.stderr.contains("the checks pass (sh -c python3 -m venv"), "{}", r.stderr);
    assert!(r.stderr.contains(".venv/bin/python -m pytest"), "the checks use the environment: {}", r.stderr);
    assert!(dir.join(".venv/bin/python").exists());
    let listed = env.run(&["--json", "dev", "--prod", "--dir", "env"]).ok().json();
    assert_eq!(listed["status"], "passed", "{listed:#}");
}
