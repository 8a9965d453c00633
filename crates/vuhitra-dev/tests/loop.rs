//! The dev loop with a scripted model (the words a model would write, fixed
//! so the loop's behaviour can be asserted) and an executor that runs the
//! checks as plain child processes (the sandbox's confinement is tested in
//! the binary's suite; here only the loop is under test). The real model
//! and the real sandbox run the loop in `crates/vuhitra/tests/dev.rs`.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vuhitra_dev::lang::{self, CheckKind};
use vuhitra_dev::{DevSession, Iteration, Observer, Project, Settings, TaskEnd};
use vuhitra_llm::{ChatModel, ChatRequest, Completion, EmbedResponse, Metrics, OllamaError, Options};
use vuhitra_pipeline::CancellationToken;
use vuhitra_sandbox::{Executor, RunOutcome, RunSpec, SandboxError};

/// Answers with the next scripted text (the last one again when they run
/// out) and keeps every request it was sent.
struct Scripted {
    answers: Vec<String>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl Scripted {
    fn new(answers: &[&str]) -> Scripted {
        Scripted { answers: answers.iter().map(|a| a.to_string()).collect(), requests: Mutex::new(Vec::new()) }
    }
    fn last_user_message(&self, n: usize) -> String {
        let r = &self.requests.lock().unwrap()[n];
        r.messages.last().unwrap().content.clone()
    }
}

impl ChatModel for Scripted {
    async fn chat(&self, req: ChatRequest, mut on_token: impl FnMut(&str)) -> Result<Completion, OllamaError> {
        let mut requests = self.requests.lock().unwrap();
        let text = self.answers[requests.len().min(self.answers.len() - 1)].clone();
        requests.push(req.clone());
        on_token(&text);
        Ok(Completion {
            model: req.model,
            content: text,
            tool_calls: vec![],
            done_reason: Some("stop".into()),
            metrics: Metrics { prompt_eval_count: 10, eval_count: 5, ..Default::default() },
            num_ctx: 2048,
        })
    }
    async fn embed(&self, _model: &str, _inputs: &[String]) -> Result<EmbedResponse, OllamaError> {
        // Dev mode never embeds; a call here is the loop misbehaving.
        Err(OllamaError::Server { status: 501, message: "the scripted model does not embed".into() })
    }
    async fn context_length(&self, _model: &str) -> Result<Option<u32>, OllamaError> {
        Ok(None)
    }
}

/// Runs a check as a child process in the project directory.
struct Direct;

impl Executor for Direct {
    async fn run(&self, spec: &RunSpec, cancel: &CancellationToken) -> Result<RunOutcome, SandboxError> {
        let started = Instant::now();
        let child = tokio::process::Command::new(&spec.program)
            .args(&spec.args)
            .current_dir(&spec.workdir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .kill_on_drop(true)
            .output();
        let out = tokio::select! {
            o = tokio::time::timeout(spec.timeout, child) => o,
            _ = cancel.cancelled() => return Err(SandboxError::Cancelled),
        };
        let Ok(out) = out else {
            return Ok(outcome(None, true, "", "", started));
        };
        let out = out?;
        Ok(outcome(
            out.status.code(),
            false,
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
            started,
        ))
    }
    fn describe(&self) -> String {
        "direct child process (tests)".into()
    }
}

fn outcome(code: Option<i32>, timed_out: bool, stdout: &str, stderr: &str, started: Instant) -> RunOutcome {
    RunOutcome {
        exit_code: code,
        signal: None,
        timed_out,
        limit: timed_out.then_some("timeout"),
        stdout: stdout.into(),
        stderr: stderr.into(),
        stdout_dropped: 0,
        stderr_dropped: 0,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

#[derive(Default)]
struct Seen {
    iterations: Vec<Iteration>,
    checks: Vec<CheckKind>,
}

impl Observer for Seen {
    fn checking(&mut self, check: &vuhitra_dev::Check) {
        self.checks.push(check.kind);
    }
    async fn finished(&mut self, it: &Iteration) {
        self.iterations.push(it.clone());
    }
}

fn settings(root: &Path, max: u32) -> Settings {
    Settings {
        model: "scripted".into(),
        max_iterations: max,
        feedback: true,
        allow_install: false,
        test_cmd: None,
        read_only: vec![],
        options: Options::default(),
        spec: RunSpec {
            program: String::new(),
            args: vec![],
            workdir: root.to_path_buf(),
            timeout: Duration::from_secs(30),
            cpu_seconds: 30,
            memory_bytes: 1 << 30,
            file_size_bytes: 1 << 20,
            max_processes: 64,
            output_cap: 64 * 1024,
            network: false,
        },
        install_timeout: Duration::from_secs(60),
    }
}

const TEST: &str = "test_calc.py\n```python\nfrom calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n```\n";
const WRONG: &str = "calc.py\n```python\ndef add(a, b):\n    return a - b\n```\n";
const RIGHT: &str = "calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n";

fn has_pytest() -> bool {
    std::process::Command::new("python3").args(["-c", "import pytest"]).status().is_ok_and(|s| s.success())
}

#[tokio::test]
async fn a_failure_goes_back_and_the_next_answer_passes() {
    assert!(has_pytest(), "python3 with pytest is needed (scripts/services installs python3-pytest)");
    let dir = tempfile::tempdir().unwrap();
    let project = Project::open(dir.path(), "calc", None).unwrap();
    let model = Scripted::new(&[&format!("{WRONG}\n{TEST}"), RIGHT]);
    let mut session = DevSession::new(&project, &lang::Python, settings(project.root(), 5));
    session.begin("write add(a, b) in calc.py, with a test");
    let mut seen = Seen::default();
    let end = session.run_task(&model, &Direct, &mut seen, &CancellationToken::new()).await;
    assert!(matches!(end, TaskEnd::Passed { at: 2 }), "{end:?}");
    let first = &seen.iterations[0];
    assert!(!first.passed && first.written.len() == 2, "{first:?}");
    let feedback = model.last_user_message(1);
    assert!(
        feedback.contains("assert -3 == 5") || feedback.contains("assert") && feedback.contains("test_add"),
        "{feedback}"
    );
    assert!(feedback.contains("python3 -m pytest"), "{feedback}");
    assert!(seen.iterations[1].passed);
    assert_eq!(std::fs::read_to_string(project.root().join("calc.py")).unwrap(), "def add(a, b):\n    return a + b\n");
    let diff = session.diff();
    assert!(
        diff.contains("+++ b/calc.py") && diff.contains("+    return a + b") && diff.contains("test_calc.py"),
        "{diff}"
    );
}

#[tokio::test]
async fn a_model_that_never_passes_stops_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let project = Project::open(dir.path(), "never", None).unwrap();
    std::fs::write(project.root().join("main.py"), "raise SystemExit(1)\n").unwrap();
    let model = Scripted::new(&["main.py\n```python\nimport sys\nsys.exit(3)\n```"]);
    let mut session = DevSession::new(&project, &lang::Python, settings(project.root(), 3));
    session.begin("exit 0");
    let mut seen = Seen::default();
    let end = session.run_task(&model, &Direct, &mut seen, &CancellationToken::new()).await;
    assert!(matches!(end, TaskEnd::Limit), "{end:?}");
    assert_eq!(seen.iterations.len(), 3);
    assert_eq!(model.requests.lock().unwrap().len(), 3);
    assert_eq!(session.remaining(), 0);
    assert!(seen.iterations[2].feedback.as_deref().unwrap().contains("exit status 3"), "{:?}", seen.iterations[2]);
    // The session's iterations are spent: a follow-up task gets none.
    session.begin("and now print hello");
    let end = session.run_task(&model, &Direct, &mut seen, &CancellationToken::new()).await;
    assert!(matches!(end, TaskEnd::Limit) && seen.iterations.len() == 3);
}

#[tokio::test]
async fn a_format_error_writes_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let project = Project::open(dir.path(), "fmt", None).unwrap();
    let model = Scripted::new(&[
        "Sure! Here it is:\n```python\nprint('hi')\n```",
        "../escape.py\n```python\nx = 1\n```",
        "main.py\n```python\nprint('hi')\n```",
    ]);
    let mut session = DevSession::new(&project, &lang::Python, settings(project.root(), 5));
    session.begin("print hi");
    let mut seen = Seen::default();
    let end = session.run_task(&model, &Direct, &mut seen, &CancellationToken::new()).await;
    assert!(matches!(end, TaskEnd::Passed { at: 3 }), "{end:?}");
    assert!(seen.iterations[0].format_error.as_deref().unwrap().contains("no block names its file"));
    assert!(seen.iterations[1].format_error.as_deref().unwrap().contains("'..' is refused"));
    assert!(model.last_user_message(1).contains("nothing was written"));
    assert!(!dir.path().join("projects/escape.py").exists());
    // Format errors run no check.
    assert_eq!(seen.checks, [CheckKind::Run]);
}

#[tokio::test]
async fn cancelling_stops_the_iteration_and_keeps_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let project = Project::open(dir.path(), "slow", None).unwrap();
    let model = Scripted::new(&["main.py\n```python\nimport time\ntime.sleep(60)\n```"]);
    let mut session = DevSession::new(&project, &lang::Python, settings(project.root(), 5));
    session.begin("sleep");
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        canceller.cancel();
    });
    let started = Instant::now();
    let mut seen = Seen::default();
    let end = session.run_task(&model, &Direct, &mut seen, &cancel).await;
    assert!(matches!(end, TaskEnd::Cancelled), "{end:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "the check was not stopped");
    assert!(project.root().join("main.py").exists(), "the files written before Ctrl-C are kept");
    assert!(seen.iterations.is_empty(), "the cancelled iteration is not reported as finished");
}

#[tokio::test]
async fn the_javascript_handler_runs_node_tests() {
    let dir = tempfile::tempdir().unwrap();
    let project = Project::open(dir.path(), "js", None).unwrap();
    let test =
        "sum.test.js\n```javascript\nconst test = require('node:test');\nconst assert = require('node:assert');\n\
                const { add } = require('./sum');\ntest('adds', () => { assert.strictEqual(add(1, 2), 3); });\n```\n";
    let wrong = "sum.js\n```javascript\nfunction add(a, b) { return a - b; }\nmodule.exports = { add };\n```\n";
    let right = "```javascript sum.js\nfunction add(a, b) { return a + b; }\nmodule.exports = { add };\n```\n";
    let model = Scripted::new(&[&format!("{wrong}{test}"), right]);
    let mut session = DevSession::new(&project, &lang::JavaScript, settings(project.root(), 4));
    session.begin("add in sum.js");
    let mut seen = Seen::default();
    let end = session.run_task(&model, &Direct, &mut seen, &CancellationToken::new()).await;
    assert!(matches!(end, TaskEnd::Passed { at: 2 }), "{end:?} {:?}", seen.iterations);
    let feedback = model.last_user_message(1);
    assert!(feedback.contains("not ok 1 - adds") && feedback.contains("-1 !== 3"), "{feedback}");
    assert!(!feedback.contains("node:internal"), "{feedback}");
}

#[tokio::test]
async fn without_feedback_every_iteration_starts_from_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let project = Project::open(dir.path(), "nofb", None).unwrap();
    let model = Scripted::new(&["main.py\n```python\nraise SystemExit(2)\n```"]);
    let mut s = settings(project.root(), 2);
    s.feedback = false;
    let mut session = DevSession::new(&project, &lang::Python, s);
    session.begin("exit 0");
    let end = session.run_task(&model, &Direct, &mut Seen::default(), &CancellationToken::new()).await;
    assert!(matches!(end, TaskEnd::Limit));
    let requests = model.requests.lock().unwrap();
    assert_eq!(requests[1].messages.len(), 2, "system and task only");
    assert!(requests[1].messages[1].content.contains("The project is empty."));
    assert_ne!(requests[0].options.seed, requests[1].options.seed, "fresh attempts are sampled apart");
}

#[tokio::test]
async fn after_a_pass_a_change_goes_on_in_the_same_session() {
    assert!(has_pytest(), "python3 with pytest is needed (scripts/services installs python3-pytest)");
    let dir = tempfile::tempdir().unwrap();
    let project = Project::open(dir.path(), "more", None).unwrap();
    let sub = "calc.py\n```python\ndef add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n```\n";
    let model = Scripted::new(&[&format!("{RIGHT}\n{TEST}"), sub]);
    let mut session = DevSession::new(&project, &lang::Python, settings(project.root(), 5));
    session.begin("add(a, b) in calc.py, tested");
    let mut seen = Seen::default();
    let end = session.run_task(&model, &Direct, &mut seen, &CancellationToken::new()).await;
    assert!(matches!(end, TaskEnd::Passed { at: 1 }), "{end:?}");
    session.begin("also sub(a, b)");
    let end = session.run_task(&model, &Direct, &mut seen, &CancellationToken::new()).await;
    assert!(matches!(end, TaskEnd::Passed { at: 2 }), "the count goes on over the session: {end:?}");
    assert_eq!(session.remaining(), 3);
    let second = model.last_user_message(1);
    assert!(second.contains("add(a, b) in calc.py, tested") && second.contains("Then: also sub(a, b)"), "{second}");
    assert!(second.contains("def add(a, b):"), "the model sees the files as they are now: {second}");
    // The diff is the follow-up's own.
    let diff = session.diff();
    assert!(diff.contains("+def sub(a, b):") && !diff.contains("test_calc.py"), "{diff}");
}
