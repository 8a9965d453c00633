//! The dev loop: the model answers with files, they are written into the
//! project, the language handler's checks run in the sandbox, and a failure
//! goes back to the model, on the pipeline's one iteration loop.

use std::time::{Duration, Instant};

use serde::Serialize;
use vuhitra_llm::{ChatModel, ChatRequest, Message, Metrics, OllamaError, Options, Role};
use vuhitra_pipeline::{iterate, CancellationToken, Step, Stop};
use vuhitra_sandbox::{Executor, RunOutcome, RunSpec, SandboxError};

use crate::edits;
use crate::lang::{Check, CheckKind, Language};
use crate::project::{diff, diff_stat, Project, ProjectError, Snapshot};
use crate::prompt;

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(transparent)]
    Model(#[from] OllamaError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The sandbox lacks what the checks need; no answer can mend that.
    #[error("{0}")]
    Tooling(String),
}

/// How a session runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub model: String,
    /// Iterations for the whole session (MAX_ITERATIONS_DEV, or _PROD).
    pub max_iterations: u32,
    /// Failures go back to the model; without, every iteration starts
    /// afresh from the task (the benchmark's baseline).
    pub feedback: bool,
    pub allow_install: bool,
    pub test_cmd: Option<String>,
    /// Files the model sees but may not change.
    pub read_only: Vec<String>,
    pub options: Options,
    /// Limits, and the project directory as the executor sees it; program
    /// and arguments are filled in per check.
    pub spec: RunSpec,
    pub install_timeout: Duration,
}

/// A file one iteration wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub path: String,
    pub created: bool,
    pub added: usize,
    pub removed: usize,
    pub content: String,
}

/// One check that ran.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRun {
    pub check: Check,
    pub passed: bool,
    pub outcome: RunOutcome,
}

/// What the checks found.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub runs: Vec<CheckRun>,
    /// The failure as the model is shown it.
    pub failure: Option<String>,
}

/// One iteration: the model's answer, what was written, what the checks said.
#[derive(Debug, Clone, Serialize)]
pub struct Iteration {
    pub n: u32,
    /// The last message the model was sent (the task, or the feedback).
    pub prompt: String,
    pub response: String,
    pub written: Vec<Written>,
    /// The answer could not be applied; nothing was written.
    pub format_error: Option<String>,
    pub verdict: Option<Verdict>,
    pub passed: bool,
    /// What goes back to the model for the next iteration.
    pub feedback: Option<String>,
    pub metrics: Metrics,
    pub elapsed_ms: f64,
}

impl Iteration {
    /// A short reason the iteration did not pass, for people.
    pub fn failure_line(&self) -> Option<String> {
        if self.passed {
            return None;
        }
        if let Some(e) = &self.format_error {
            return Some(format!("format: {}", e.lines().next().unwrap_or_default()));
        }
        let v = self.verdict.as_ref()?;
        let run = v.runs.iter().find(|r| !r.passed)?;
        let first = v.failure.as_deref().unwrap_or("").lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        Some(format!("{} failed: {}", run.check.kind.as_str(), first.trim()))
    }
}

/// What a session reports as it goes.
#[allow(async_fn_in_trait)]
pub trait Observer {
    fn started(&mut self, _n: u32, _max: u32) {}
    fn token(&mut self, _text: &str) {}
    fn checking(&mut self, _check: &Check) {}
    /// After each iteration (the transcript and heuristics record it).
    async fn finished(&mut self, iteration: &Iteration);
}

/// How one task ended.
#[derive(Debug)]
pub enum TaskEnd {
    Passed {
        at: u32,
    },
    /// The session's iterations ran out.
    Limit,
    Cancelled,
    Error(DevError),
}

impl TaskEnd {
    pub fn status(&self) -> &'static str {
        match self {
            TaskEnd::Passed { .. } => "passed",
            TaskEnd::Limit => "limit",
            TaskEnd::Cancelled => "cancelled",
            TaskEnd::Error(_) => "error",
        }
    }
}

/// The address-space limit of an install step, at least.
const INSTALL_MEMORY: u64 = 4 << 30;

/// Previous answers and the feedback on them kept in the conversation; the
/// current files are always shown in full instead of older answers.
const KEPT_EXCHANGES: usize = 3;

pub struct DevSession<'p> {
    pub project: &'p Project,
    pub lang: &'static dyn Language,
    pub settings: Settings,
    pub task: String,
    /// The project when the current task began, for its diff.
    pub task_start: Snapshot,
    exchanges: Vec<(String, String)>,
    /// Feedback not yet answered (a failure the watcher found).
    offered: Option<String>,
    /// Iterations used in this session.
    pub used: u32,
    /// The dependency file the environment was built from, by hash.
    installed: Option<String>,
}

impl<'p> DevSession<'p> {
    pub fn new(project: &'p Project, lang: &'static dyn Language, settings: Settings) -> Self {
        DevSession {
            project,
            lang,
            settings,
            task: String::new(),
            task_start: Snapshot::new(),
            exchanges: Vec::new(),
            offered: None,
            used: 0,
            installed: None,
        }
    }

    pub fn remaining(&self) -> u32 {
        self.settings.max_iterations.saturating_sub(self.used)
    }

    /// Starts a task (the first, or a change asked for after a pass).
    pub fn begin(&mut self, task: &str) {
        if self.task.is_empty() {
            self.task = task.to_string();
        } else {
            // A follow-up: the earlier task stays as context.
            self.task = format!("{}\n\nThen: {task}", self.task);
        }
        self.exchanges.clear();
        self.offered = None;
        self.task_start = self.project.snapshot();
    }

    /// A failure found outside the loop (on opening the project, or by the
    /// watcher after the user's edit) starts a new task from it: the model
    /// sees it with the task until the task ends.
    pub fn offer_failure(&mut self, failure: &str) {
        if self.task.is_empty() {
            self.task = "Make the project's checks pass.".into();
        }
        self.exchanges.clear();
        self.task_start = self.project.snapshot();
        self.offered = Some(prompt::feedback_after_edit(failure));
    }

    /// The diff of the current task so far.
    pub fn diff(&self) -> String {
        diff(&self.task_start, &self.project.snapshot())
    }

    fn messages(&self) -> Vec<Message> {
        let files_shown = if self.settings.feedback { self.project.snapshot() } else { self.task_start.clone() };
        let mut task = prompt::task(&self.task, &files_shown, self.lang, &self.settings.read_only);
        if let Some(offered) = &self.offered {
            task.push_str(&format!("\n\n{offered}"));
        }
        let mut messages = vec![
            Message::new(Role::System, prompt::system(self.lang, self.settings.allow_install)),
            Message::new(Role::User, task),
        ];
        if !self.settings.feedback {
            return messages;
        }
        let skip = self.exchanges.len().saturating_sub(KEPT_EXCHANGES);
        for (answer, feedback) in &self.exchanges[skip..] {
            messages.push(Message::new(Role::Assistant, answer.clone()));
            messages.push(Message::new(Role::User, feedback.clone()));
        }
        messages
    }

    /// One iteration: ask, write, check.
    pub async fn iteration<M: ChatModel, X: Executor, O: Observer>(
        &mut self,
        model: &M,
        exec: &X,
        observer: &mut O,
        cancel: &CancellationToken,
    ) -> Result<Iteration, DevError> {
        let started = Instant::now();
        self.used += 1;
        let n = self.used;
        observer.started(n, self.settings.max_iterations);
        let messages = self.messages();
        let prompt = messages.last().map(|m| m.content.clone()).unwrap_or_default();
        // A fixed seed per iteration: runs repeat, and fresh attempts differ.
        let options = Options { seed: self.settings.options.seed.or(Some(n as i64)), ..self.settings.options.clone() };
        let req = ChatRequest::new(self.settings.model.clone(), messages, options);
        let completion = model.chat(req, |t| observer.token(t)).await?;
        let mut it = Iteration {
            n,
            prompt,
            response: completion.content.clone(),
            written: Vec::new(),
            format_error: None,
            verdict: None,
            passed: false,
            feedback: None,
            metrics: completion.metrics.clone(),
            elapsed_ms: 0.0,
        };
        let planned = match edits::parse(&completion.content) {
            Err(errors) => Err(errors.iter().map(ToString::to_string).collect::<Vec<_>>()),
            Ok(parsed) => match self.project.plan(&parsed.edits, &self.settings.read_only) {
                Err(problems) => Err(problems),
                Ok(plan) => Ok((plan, parsed.unnamed)),
            },
        };
        match planned {
            Err(problems) => {
                let text = problems.join("\n");
                it.feedback = Some(prompt::format_feedback(&text, self.lang));
                it.format_error = Some(text);
            }
            Ok((plan, unnamed)) => {
                self.project.write(&plan)?;
                it.written = plan
                    .iter()
                    .map(|p| {
                        let (added, removed) = diff_stat(p.before.as_deref(), &p.after);
                        Written {
                            path: p.path.clone(),
                            created: p.before.is_none(),
                            added,
                            removed,
                            content: p.after.clone(),
                        }
                    })
                    .collect();
                let verdict = self.check(exec, observer, cancel).await?;
                it.passed = verdict.passed;
                if let Some(failure) = &verdict.failure {
                    let missing =
                        verdict.runs.iter().find(|r| !r.passed).and_then(|r| {
                            self.lang.missing_package(&format!("{}{}", r.outcome.stdout, r.outcome.stderr))
                        });
                    it.feedback = Some(prompt::failure_feedback(
                        failure,
                        &unnamed,
                        missing.as_deref(),
                        self.settings.allow_install,
                    ));
                }
                it.verdict = Some(verdict);
            }
        }
        if let Some(f) = &it.feedback {
            self.exchanges.push((it.response.clone(), f.clone()));
        }
        it.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        observer.finished(&it).await;
        Ok(it)
    }

    /// Runs the project's checks (installing its environment first when
    /// allowed and its dependency file changed); stops at the first failure.
    pub async fn check<X: Executor, O: Observer>(
        &mut self,
        exec: &X,
        observer: &mut O,
        cancel: &CancellationToken,
    ) -> Result<Verdict, DevError> {
        let files = self.project.files();
        let mut runs = Vec::new();
        if self.settings.allow_install {
            if let Some((dep_file, install)) = self.lang.install(&files) {
                let hash = self.project.read(&dep_file).map(|t| vuhitra_nlp::sha256_hex(t.as_bytes()));
                if hash.is_some() && hash != self.installed {
                    observer.checking(&install);
                    let run = self.run(exec, &install, true, cancel).await?;
                    let passed = run.passed;
                    runs.push(run);
                    if !passed {
                        return Ok(self.failed(runs));
                    }
                    self.installed = hash;
                }
            }
        }
        let has_env = self.project.root().join(".venv/bin/python").exists();
        let checks = self.lang.checks(&files, self.settings.test_cmd.as_deref(), has_env);
        if checks.is_empty() {
            return Ok(Verdict {
                passed: false,
                runs,
                failure: Some(format!("The project has no {} files to run or test yet.", self.lang.name())),
            });
        }
        for check in checks {
            observer.checking(&check);
            let run = self.run(exec, &check, false, cancel).await?;
            let output = format!("{}{}", run.outcome.stdout, run.outcome.stderr);
            if !run.passed {
                if let Some(problem) = self.lang.tooling_problem(check.kind, run.outcome.exit_code, &output) {
                    return Err(DevError::Tooling(problem));
                }
                runs.push(run);
                return Ok(self.failed(runs));
            }
            runs.push(run);
        }
        Ok(Verdict { passed: true, runs, failure: None })
    }

    fn failed(&self, runs: Vec<CheckRun>) -> Verdict {
        let run = runs.last().expect("a failed run");
        let o = &run.outcome;
        let why = match (o.limit, o.exit_code, &o.signal) {
            (Some("timeout"), ..) => {
                format!(" (stopped at the time limit, {} s)", self.settings.spec.timeout.as_secs())
            }
            (Some(limit), ..) => format!(" (stopped by the sandbox's {limit} limit)"),
            (None, Some(code), _) => format!(" (exit status {code})"),
            (None, None, Some(sig)) => format!(" (killed by {sig})"),
            _ => String::new(),
        };
        let mut failure = format!("$ {}{why}\n", run.check.command_line());
        // pytest's "no tests ran" has its own status.
        if run.check.kind == CheckKind::Tests && o.exit_code == Some(5) && run.check.args.iter().any(|a| a == "pytest")
        {
            failure.push_str("no tests were collected: test files are named test_*.py and test functions test_*\n");
        }
        failure.push_str(&self.lang.failure(run.check.kind, &o.stdout, &o.stderr));
        Verdict { passed: false, failure: Some(failure), runs }
    }

    async fn run<X: Executor>(
        &self,
        exec: &X,
        check: &Check,
        install: bool,
        cancel: &CancellationToken,
    ) -> Result<CheckRun, DevError> {
        let mut spec = self.settings.spec.clone();
        spec.program = check.program.clone();
        spec.args = check.args.clone();
        if install {
            // Only installing reaches the network, and it may take a while.
            // npm's V8 reserves more address space than a 1 GiB limit leaves
            // it (it aborted out of memory in about half the runs).
            spec.network = true;
            spec.timeout = self.settings.install_timeout;
            spec.cpu_seconds = spec.cpu_seconds.max(self.settings.install_timeout.as_secs());
            spec.memory_bytes = spec.memory_bytes.max(INSTALL_MEMORY);
        }
        let outcome = exec.run(&spec, cancel).await?;
        Ok(CheckRun { check: check.clone(), passed: outcome.success(), outcome })
    }

    /// Iterates on the current task until the checks pass, the session's
    /// iterations run out, `cancel` fires, or the model cannot be reached.
    pub async fn run_task<M: ChatModel, X: Executor, O: Observer>(
        &mut self,
        model: &M,
        exec: &X,
        observer: &mut O,
        cancel: &CancellationToken,
    ) -> TaskEnd {
        let remaining = self.remaining();
        let state = tokio::sync::Mutex::new((self, observer));
        let looped = iterate(remaining, cancel, |_| {
            let state = &state;
            async move {
                let mut guard = state.lock().await;
                let (session, observer) = &mut *guard;
                let it = session.iteration(model, exec, *observer, cancel).await?;
                Ok::<_, DevError>(if it.passed { Step::Done(it.n) } else { Step::Again })
            }
        })
        .await;
        match looped.stop {
            Stop::Done(at) => TaskEnd::Passed { at },
            Stop::Limit => TaskEnd::Limit,
            Stop::Cancelled => TaskEnd::Cancelled,
            Stop::Error(DevError::Sandbox(SandboxError::Cancelled)) => TaskEnd::Cancelled,
            Stop::Error(e) => TaskEnd::Error(e),
        }
    }
}
