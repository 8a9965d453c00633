//! `vuhitra dev`: the model writes code, the sandbox runs it and its tests,
//! failures go back (vuhitra-dev has the loop). This file opens the
//! project, keeps the transcript and the heuristics records as iterations
//! end, talks to the user between tasks (and watches the files with
//! `--watch`), and prints results; `dev history` and `dev show` read the
//! transcripts back.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use vuhitra_dev::lang::{self, Language};
use vuhitra_dev::{Check, DevError, DevSession, Iteration, Observer, Project, Settings, TaskEnd, Watcher};
use vuhitra_llm::Options;
use vuhitra_pipeline::{CancellationToken, Pipeline, PreparedPrompt};
use vuhitra_sandbox::Workspace;
use vuhitra_store::{format_ms, now_ms, Store};

use crate::app::App;
use crate::cli::{DevArgs, DevCommand, DevLanguage, DevRunArgs};
use crate::exit::{done, Interrupted, Status};
use crate::output::{self, dim, out, outln};

/// Iterations to install a project's dependencies get this much time.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
const DEFAULT_TEMPERATURE: f32 = 0.2;

pub fn run(app: &App, rt: &tokio::runtime::Runtime, args: DevArgs) -> anyhow::Result<Status> {
    match args.command {
        Some(DevCommand::History { limit }) => done(history(app, limit)),
        Some(DevCommand::Show { id, iteration }) => done(show(app, id, iteration)),
        None => {
            let interactive = !args.run.prod && !app.json;
            if args.run.watch && app.json {
                return Err(crate::exit::usage("--watch is interactive; it cannot be used with --json", None));
            }
            rt.block_on(session(app, rt.handle(), args.run, interactive))
        }
    }
}

/// `@devmode TASK` in chat: one task in a new project, no questions after.
pub async fn from_chat(app: &App, task: &str, model: Option<&str>) -> anyhow::Result<Status> {
    let args = DevRunArgs {
        task: vec![task.to_string()],
        language: None,
        dir: None,
        max_iterations: None,
        test_cmd: None,
        read_only: vec![],
        watch: false,
        prod: false,
        allow_install: false,
        model: model.map(str::to_string),
        no_feedback: false,
        temperature: None,
        max_tokens: 4096,
    };
    session(app, &tokio::runtime::Handle::current(), args, false).await
}

/// Everything a session's tasks share.
struct Ctx {
    store: Store,
    pipeline: Pipeline,
    human: bool,
    stream: bool,
    /// Between tasks the user is asked; a cancelled task is not the end.
    interactive: bool,
}

async fn session(
    app: &App,
    rt: &tokio::runtime::Handle,
    args: DevRunArgs,
    interactive: bool,
) -> anyhow::Result<Status> {
    let ws = Workspace::open(&app.config.workspace)?;
    let mut lines = interactive.then(Lines::spawn);
    let mut task = args.task.join(" ").trim().to_string();
    if task.is_empty() && args.dir.is_none() {
        let Some(lines) = lines.as_mut() else {
            return Err(crate::exit::usage(
                "dev needs a task, or --dir naming a project whose checks should pass",
                Some("vuhitra dev \"write fizzbuzz in main.py with tests\""),
            ));
        };
        eprint!("task> ");
        match lines.next().await {
            Some(l) if !l.trim().is_empty() && !is_exit(&l) => task = l.trim().to_string(),
            _ => return Ok(Status::Success),
        }
    }
    let name = match &args.dir {
        Some(d) => d.clone(),
        None => fresh_name(&ws, &task),
    };
    let owner = vuhitra_sandbox::workspace::is_root().then_some(vuhitra_sandbox::workspace::SANDBOX_UID);
    let project = Project::open(ws.root(), &name, owner)
        .map_err(|e| crate::exit::usage(e.to_string(), Some("--dir takes a name such as calc or tools/parser")))?;
    let lang: &'static dyn Language = match args.language {
        Some(DevLanguage::Python) => &lang::Python,
        Some(DevLanguage::Javascript) => &lang::JavaScript,
        None => lang::detect(&project.files()).unwrap_or(&lang::Python),
    };
    let model = args
        .model
        .clone()
        .or_else(|| app.config.intent_models.get("code").and_then(|c| c.first().cloned()))
        .unwrap_or_else(|| app.config.model.clone());
    let max = args.max_iterations.unwrap_or(if args.prod {
        app.config.max_iterations_prod
    } else {
        app.config.max_iterations_dev
    });
    let sub = Path::new(vuhitra_dev::PROJECTS_DIR).join(&name);
    let settings = Settings {
        model,
        max_iterations: max,
        feedback: !args.no_feedback,
        allow_install: args.allow_install,
        test_cmd: args.test_cmd.clone(),
        read_only: args.read_only.clone(),
        options: Options {
            temperature: Some(args.temperature.unwrap_or(DEFAULT_TEMPERATURE)),
            num_predict: Some(args.max_tokens),
            ..Default::default()
        },
        spec: app.sandbox_spec(&ws, &sub),
        install_timeout: INSTALL_TIMEOUT,
    };
    let limit_key = if args.max_iterations.is_some() {
        "--max-iterations"
    } else if args.prod {
        "MAX_ITERATIONS_PROD"
    } else {
        "MAX_ITERATIONS_DEV"
    };
    let mut ctx = Ctx {
        store: app.store()?,
        pipeline: app.pipeline()?,
        human: !app.json,
        stream: !app.json && output::stderr_is_tty(),
        interactive,
    };
    let client = app.ollama();
    let exec = app.executor()?;
    let mut session = DevSession::new(&project, lang, settings);
    if ctx.human {
        eprintln!(
            "{}",
            dim(&format!(
                "dev · project {} ({}) · {} · {} · at most {} ({limit_key})",
                project.root().display(),
                lang.name(),
                session.settings.model,
                exec_name(app),
                iterations(max)
            ))
        );
    }
    let mut last = if task.is_empty() {
        // A project and no task: its checks first; a failure goes to the model.
        match open_checks(&mut ctx, &mut session, &exec, &app.cancel_token(rt)).await? {
            None => TaskReport::checks_pass(&session),
            Some(_) => {
                run_one(&mut ctx, &mut session, "make the project's checks pass", &client, &exec, &app.cancel_token(rt))
                    .await?
            }
        }
    } else {
        session.begin(&task);
        run_one(&mut ctx, &mut session, &task, &client, &exec, &app.cancel_token(rt)).await?
    };
    let Some(lines) = lines.as_mut() else {
        if app.json {
            output::json(&last.json);
        }
        return last.status();
    };
    // Interactive: the user asks for changes until the iterations run out
    // or they leave; with --watch an edit re-runs the checks and a new
    // failure goes to the model. A task that failed is reported and the
    // session goes on; the exit status is the last task's.
    last.surface();
    let mut watcher = if args.watch { Some(Watcher::new(&project)?) } else { None };
    let mut known = project.snapshot();
    loop {
        if session.remaining() == 0 {
            eprintln!("no iterations left ({max}, {limit_key}); leaving dev mode");
            break;
        }
        eprint!("dev [{}/{max}]> ", session.used);
        let cancel = app.cancel_token(rt);
        let next = tokio::select! {
            line = lines.next() => Next::Line(line),
            _ = changed(&mut watcher, &project, &known) => Next::Changed,
            _ = cancel.cancelled() => Next::Leave,
        };
        match next {
            Next::Leave | Next::Line(None) => {
                eprintln!();
                break;
            }
            Next::Line(Some(l)) if is_exit(&l) => break,
            Next::Line(Some(l)) if l.trim().is_empty() => continue,
            Next::Line(Some(l)) => {
                session.begin(l.trim());
                last = run_one(&mut ctx, &mut session, l.trim(), &client, &exec, &cancel).await?;
                last.surface();
            }
            Next::Changed => {
                eprintln!("\nfiles changed: running the checks");
                if open_checks(&mut ctx, &mut session, &exec, &cancel).await?.is_some() {
                    last = run_one(&mut ctx, &mut session, "fix the failure after a change", &client, &exec, &cancel)
                        .await?;
                    last.surface();
                }
            }
        }
        known = project.snapshot();
    }
    last.status()
}

/// Runs the project's checks outside an iteration (on opening a project,
/// and when the watcher sees a change). A failure is shown and offered to
/// the model for the next iteration; it comes back, or None when they pass.
async fn open_checks(
    ctx: &mut Ctx,
    session: &mut DevSession<'_>,
    exec: &vuhitra_sandbox::AnyExecutor,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<String>> {
    let verdict = match session.check(exec, &mut Quiet, cancel).await {
        Ok(v) => v,
        Err(DevError::Sandbox(vuhitra_sandbox::SandboxError::Cancelled)) if ctx.interactive => {
            eprintln!("checks stopped");
            return Ok(None);
        }
        Err(e) => return Err(dev_error(e)),
    };
    let commands: Vec<String> = verdict.runs.iter().map(|r| r.check.command_line()).collect();
    match verdict.failure.filter(|_| !verdict.passed) {
        None => {
            if ctx.human {
                eprintln!("✓ the checks pass ({})", commands.join("; "));
            }
            Ok(None)
        }
        Some(failure) => {
            if ctx.human {
                eprintln!("{failure}\n→ offering the failure to the model");
            }
            session.offer_failure(&failure);
            Ok(Some(failure))
        }
    }
}

enum Next {
    Line(Option<String>),
    Changed,
    Leave,
}

async fn changed(
    watcher: &mut Option<Watcher>,
    project: &Project,
    known: &vuhitra_dev::project::Snapshot,
) -> vuhitra_dev::project::Snapshot {
    match watcher {
        Some(w) => w.changed(project, known).await,
        None => std::future::pending().await,
    }
}

fn is_exit(line: &str) -> bool {
    matches!(line.trim(), "exit" | "quit" | "/exit" | "/quit")
}

fn exec_name(app: &App) -> String {
    match &app.config.sandbox_container {
        Some(c) => format!("sandbox container {c}"),
        None => "local sandbox".into(),
    }
}

/// A new project directory named after the task: `fizzbuzz-in-main`, then
/// `fizzbuzz-in-main-2`, …
fn fresh_name(ws: &Workspace, task: &str) -> String {
    let words: Vec<String> = task
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(4)
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let base = if words.is_empty() { "task".to_string() } else { words.join("-") };
    let projects = ws.root().join(vuhitra_dev::PROJECTS_DIR);
    (1..)
        .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
        .find(|name| !projects.join(name).exists())
        .expect("some name is free")
}

/// Lines typed by the user, read on a thread of their own so a pending read
/// never keeps the process from ending.
struct Lines(tokio::sync::mpsc::UnboundedReceiver<String>);

impl Lines {
    fn spawn() -> Lines {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    async fn next(&mut self) -> Option<String> {
        self.0.recv().await
    }
}

/// How one task went, for the exit status and `--json`.
struct TaskReport {
    end: &'static str,
    json: Value,
    error: Option<anyhow::Error>,
}

impl TaskReport {
    /// A project opened without a task whose checks pass: nothing to do.
    fn checks_pass(session: &DevSession) -> TaskReport {
        let json = json!({
            "task_id": null,
            "project": session.project.name,
            "path": session.project.root(),
            "language": session.lang.name(),
            "model": session.settings.model,
            "task": null,
            "status": "passed",
            "iterations": [],
            "passed_at": 0,
            "max_iterations": session.settings.max_iterations,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "elapsed_ms": 0.0,
            "diff": "",
            "summary": "the checks pass; nothing to do",
        });
        TaskReport { end: "passed", json, error: None }
    }

    /// In the REPL: shows the task's error now (message and hint) instead
    /// of ending the session with it.
    fn surface(&mut self) {
        if let Some(e) = self.error.take() {
            crate::exit::report(&e, false);
        }
    }

    fn status(self) -> anyhow::Result<Status> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok(Status::failed_if(self.end != "passed", 1))
    }
}

/// Runs one task and reports it; the transcript and records are written as
/// its iterations end.
async fn run_one(
    ctx: &mut Ctx,
    session: &mut DevSession<'_>,
    task: &str,
    client: &vuhitra_llm::OllamaClient,
    exec: &vuhitra_sandbox::AnyExecutor,
    cancel: &CancellationToken,
) -> anyhow::Result<TaskReport> {
    let baseline: Vec<(String, String)> = session.task_start.clone().into_iter().collect();
    let task_id = ctx.store.dev_task_start(
        &session.project.name,
        session.lang.name(),
        &session.settings.model,
        task,
        &baseline,
        now_ms(),
    )?;
    let prompt = ctx.pipeline.prepare_plain(task);
    let model = session.settings.model.clone();
    let max = session.settings.max_iterations;
    let mut recorder = Recorder { ctx, task_id, prompt, model, max, iterations: Vec::new() };
    let end = session.run_task(client, exec, &mut recorder, cancel).await;
    let Recorder { ctx, iterations, .. } = recorder;
    let passed_at = match &end {
        TaskEnd::Passed { at } => Some(*at as i64),
        _ => None,
    };
    if let Err(e) = ctx.store.dev_task_finish(task_id, end.status(), passed_at, now_ms()) {
        output::warn(&format!("the transcript of task {task_id} was not finished: {e}"));
    }
    let diff = session.diff();
    let tokens = |f: fn(&Iteration) -> u64| iterations.iter().map(f).sum::<u64>();
    let json = json!({
        "task_id": task_id,
        "project": session.project.name,
        "path": session.project.root(),
        "language": session.lang.name(),
        "model": session.settings.model,
        "task": task,
        "status": end.status(),
        "iterations": iterations.iter().map(iteration_json).collect::<Vec<_>>(),
        "passed_at": passed_at,
        "max_iterations": session.settings.max_iterations,
        "prompt_tokens": tokens(|i| i.metrics.prompt_eval_count),
        "completion_tokens": tokens(|i| i.metrics.eval_count),
        "elapsed_ms": iterations.iter().map(|i| i.elapsed_ms).sum::<f64>(),
        "diff": diff,
        "summary": summary(&end, &iterations, session),
    });
    let mut report = TaskReport { end: end.status(), json, error: None };
    if ctx.human {
        match &end {
            TaskEnd::Passed { .. } => {
                eprintln!("✓ {}", summary(&end, &iterations, session));
                if !diff.is_empty() {
                    out(&diff);
                }
            }
            TaskEnd::Limit => {
                eprintln!("✗ {}", summary(&end, &iterations, session));
                if let Some(f) = iterations.last().and_then(|i| i.feedback.as_deref()) {
                    eprintln!("last failure:\n{}", indent(f));
                }
            }
            TaskEnd::Cancelled => eprintln!("stopped: {}", summary(&end, &iterations, session)),
            TaskEnd::Error(_) => {}
        }
    }
    match end {
        TaskEnd::Error(e) => report.error = Some(dev_error(e)),
        // In the REPL a cancelled task is reported and the session goes on.
        TaskEnd::Cancelled if !ctx.interactive => {
            report.error = Some(
                Interrupted { what: "dev mode was stopped; the files written so far are kept".into(), hint: None }
                    .into(),
            )
        }
        _ => {}
    }
    Ok(report)
}

fn summary(end: &TaskEnd, iterations: &[Iteration], session: &DevSession) -> String {
    let secs = iterations.iter().map(|i| i.elapsed_ms).sum::<f64>() / 1000.0;
    let tokens: u64 = iterations.iter().map(|i| i.metrics.prompt_eval_count + i.metrics.eval_count).sum();
    let max = session.settings.max_iterations;
    match end {
        TaskEnd::Passed { at } => {
            format!("passed at iteration {at}/{max} · {} · {secs:.1} s · {tokens} tokens", files_line(session))
        }
        TaskEnd::Limit => format!(
            "not passing after {} of this task ({} of {max} used) · {secs:.1} s · {tokens} tokens",
            self::iterations(iterations.len() as u32),
            session.used
        ),
        TaskEnd::Cancelled => {
            format!("cancelled after {}; the files are kept", self::iterations(iterations.len() as u32))
        }
        TaskEnd::Error(e) => format!("stopped by an error: {e}"),
    }
}

fn iterations(n: u32) -> String {
    if n == 1 {
        "1 iteration".into()
    } else {
        format!("{n} iterations")
    }
}

fn files_line(session: &DevSession) -> String {
    let now = session.project.snapshot();
    let changed: Vec<&String> =
        now.iter().filter(|(p, t)| session.task_start.get(*p) != Some(t)).map(|(p, _)| p).collect();
    match changed.len() {
        0 => "no file changed".into(),
        _ => format!("changed {}", changed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}

fn iteration_json(it: &Iteration) -> Value {
    json!({
        "n": it.n,
        "passed": it.passed,
        "files": it.written.iter().map(|w| &w.path).collect::<Vec<_>>(),
        "format_error": it.format_error,
        "checks": it.verdict.as_ref().map(|v| v.runs.iter().map(|r| json!({
            "kind": r.check.kind,
            "command": r.check.command_line(),
            "passed": r.passed,
            "exit_code": r.outcome.exit_code,
            "limit": r.outcome.limit,
            "duration_ms": r.outcome.duration_ms,
        })).collect::<Vec<_>>()),
        "failure": it.feedback.as_ref().and(it.verdict.as_ref()).and_then(|v| v.failure.clone()),
        "prompt_tokens": it.metrics.prompt_eval_count,
        "completion_tokens": it.metrics.eval_count,
        "elapsed_ms": it.elapsed_ms,
    })
}

fn dev_error(e: DevError) -> anyhow::Error {
    match e {
        DevError::Model(e) => e.into(),
        DevError::Sandbox(e) => e.into(),
        DevError::Project(e) => anyhow::anyhow!(e),
        DevError::Tooling(message) => crate::exit::usage(message, None),
    }
}

/// Keeps each iteration in the transcript and the heuristics as it ends,
/// and tells the user how it went.
struct Recorder<'c> {
    ctx: &'c mut Ctx,
    task_id: i64,
    /// The task, analysed, for its heuristics records.
    prompt: PreparedPrompt,
    model: String,
    max: u32,
    iterations: Vec<Iteration>,
}

impl Observer for Recorder<'_> {
    fn started(&mut self, n: u32, max: u32) {
        if self.ctx.human {
            eprintln!("{}", dim(&format!("[{n}/{max}] asking the model…")));
        }
    }

    fn token(&mut self, text: &str) {
        if self.ctx.stream {
            eprint!("{}", dim(text));
        }
    }

    fn checking(&mut self, check: &Check) {
        if self.ctx.human {
            eprintln!("{}", dim(&format!("  $ {}", check.command_line())));
        }
    }

    async fn finished(&mut self, it: &Iteration) {
        let ctx = &mut *self.ctx;
        let failure = it.failure_line();
        let mut record_id = None;
        match ctx.pipeline.ensure_intel(&self.prompt).await {
            Ok(()) => {
                record_id = ctx
                    .pipeline
                    .record_answer(&self.prompt, &self.model, &it.metrics, failure.clone(), it.elapsed_ms)
                    .await;
            }
            Err(e) => output::warn(&format!("iteration {} was not recorded in heuristics: {e}", it.n)),
        }
        let row = vuhitra_store::DevIteration {
            n: it.n as i64,
            created_at: now_ms(),
            prompt: it.prompt.clone(),
            response: it.response.clone(),
            passed: it.passed,
            format_error: it.format_error.clone(),
            checks: serde_json::to_string(&it.verdict.as_ref().map(|v| &v.runs)).unwrap_or_default(),
            feedback: it.feedback.clone(),
            prompt_tokens: it.metrics.prompt_eval_count as i64,
            completion_tokens: it.metrics.eval_count as i64,
            elapsed_ms: it.elapsed_ms,
            record_id,
        };
        let files: Vec<(String, String)> = it.written.iter().map(|w| (w.path.clone(), w.content.clone())).collect();
        if let Err(e) = ctx.store.dev_iteration_add(self.task_id, &row, &files) {
            output::warn(&format!("iteration {} was not kept in the transcript: {e}", it.n));
        }
        if ctx.human {
            if ctx.stream {
                eprintln!();
            }
            let written: Vec<String> = it
                .written
                .iter()
                .map(|w| {
                    if w.created {
                        format!("{} (new, {} lines)", w.path, w.added)
                    } else {
                        format!("{} (+{} -{})", w.path, w.added, w.removed)
                    }
                })
                .collect();
            let what =
                if written.is_empty() { "wrote nothing".to_string() } else { format!("wrote {}", written.join(", ")) };
            let verdict = match &failure {
                None => "checks pass".to_string(),
                Some(f) => f.clone(),
            };
            eprintln!("[{}/{}] {what} · {verdict} · {:.1} s", it.n, self.max, it.elapsed_ms / 1000.0);
        }
        self.iterations.push(it.clone());
    }
}

/// Checks run by the watcher report nothing as they go.
struct Quiet;

impl Observer for Quiet {
    async fn finished(&mut self, _iteration: &Iteration) {}
}

fn history(app: &App, limit: usize) -> anyhow::Result<()> {
    let store = app.store()?;
    let tasks = store.dev_tasks(limit)?;
    if app.json {
        output::json(&serde_json::to_value(&tasks)?);
        return Ok(());
    }
    if tasks.is_empty() {
        outln("no dev tasks yet: vuhitra dev \"TASK\" starts one");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                format_ms(t.created_at),
                t.project.clone(),
                t.language.clone(),
                t.status.clone(),
                match t.passed_at {
                    Some(at) => format!("{} (passed at {at})", t.iterations),
                    None => t.iterations.to_string(),
                },
                (t.prompt_tokens + t.completion_tokens).to_string(),
                output::one_line(&t.task, 50),
            ]
        })
        .collect();
    outln(&output::table(&["ID", "STARTED", "PROJECT", "LANG", "STATUS", "ITERATIONS", "TOKENS", "TASK"], &rows));
    Ok(())
}

fn show(app: &App, id: i64, only: Option<i64>) -> anyhow::Result<()> {
    let store = app.store()?;
    let task = store.dev_task(id)?;
    let iterations = store.dev_iterations(id)?;
    let files = store.dev_files(id, None)?;
    if let Some(n) = only {
        if !iterations.iter().any(|i| i.n == n) {
            let have: Vec<String> = iterations.iter().map(|i| i.n.to_string()).collect();
            return Err(crate::exit::usage(
                format!("task {id} has no iteration {n}"),
                Some(&format!("its iterations: {}", if have.is_empty() { "none".into() } else { have.join(", ") })),
            ));
        }
    }
    let chosen: Vec<&vuhitra_store::DevIteration> =
        iterations.iter().filter(|i| only.is_none_or(|n| i.n == n)).collect();
    if app.json {
        let its: Vec<Value> = chosen
            .iter()
            .map(|i| {
                let mut v = serde_json::to_value(i).expect("serialisable");
                v["checks"] = serde_json::from_str(&i.checks).unwrap_or(Value::Null);
                v["files"] = serde_json::to_value(files.iter().filter(|f| f.iteration == i.n).collect::<Vec<_>>())
                    .expect("serialisable");
                v
            })
            .collect();
        let before: Vec<_> = files.iter().filter(|f| f.iteration == 0).collect();
        output::json(&json!({ "task": task, "files_before": before, "iterations": its }));
        return Ok(());
    }
    outln(&format!(
        "task {} · {} · project {} ({}) · {} · {}{}",
        task.id,
        format_ms(task.created_at),
        task.project,
        task.language,
        task.model,
        task.status,
        task.passed_at.map(|a| format!(" at iteration {a}")).unwrap_or_default()
    ));
    outln(&format!("{}\n", task.task));
    for it in chosen {
        let written: Vec<&str> = files.iter().filter(|f| f.iteration == it.n).map(|f| f.path.as_str()).collect();
        outln(&format!(
            "── iteration {} · {} · {} · {}+{} tokens · {:.1} s",
            it.n,
            if it.passed { "passed" } else { "failed" },
            if written.is_empty() { "no files written".to_string() } else { written.join(", ") },
            it.prompt_tokens,
            it.completion_tokens,
            it.elapsed_ms / 1000.0
        ));
        if only.is_some() {
            outln(&format!("prompt:\n{}\n\nanswer:\n{}\n", indent(&it.prompt), indent(&it.response)));
            for f in files.iter().filter(|f| f.iteration == it.n) {
                outln(&format!("file {}:\n{}\n", f.path, indent(&f.content)));
            }
            let runs: Vec<Value> =
                serde_json::from_str(&it.checks).ok().and_then(|v: Value| v.as_array().cloned()).unwrap_or_default();
            for r in runs {
                let command = r["check"]["program"].as_str().unwrap_or_default().to_string()
                    + " "
                    + &r["check"]["args"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" "))
                        .unwrap_or_default();
                outln(&format!("$ {command} → exit {}", r["outcome"]["exit_code"]));
                for stream in ["stdout", "stderr"] {
                    let text = r["outcome"][stream].as_str().unwrap_or_default();
                    if !text.trim().is_empty() {
                        outln(&indent(text));
                    }
                }
            }
        }
        if let Some(e) = &it.format_error {
            outln(&format!("format error:\n{}", indent(e)));
        } else if let Some(f) = &it.feedback {
            outln(&format!("feedback:\n{}", indent(f)));
        }
    }
    Ok(())
}
