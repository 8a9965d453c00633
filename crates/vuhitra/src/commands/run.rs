//! `vuhitra run FILE [ARGS]` and `vuhitra run -- CMD [ARGS]`.

use std::path::Path;
use std::time::Duration;

use vuhitra_pipeline::CancellationToken;

use crate::exit::Status;
use vuhitra_sandbox::{Executor, RunOutcome, RunSpec, Workspace};
use vuhitra_store::now_ms;

use crate::app::App;
use crate::cli::RunArgs;
use crate::output::{self, out};

/// Scripts run through their interpreter, found by extension.
fn interpreter(name: &str) -> Option<&'static str> {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("py") => Some("python3"),
        Some("sh") => Some("sh"),
        Some("js") | Some("mjs") => Some("node"),
        Some("rb") => Some("ruby"),
        Some("pl") => Some("perl"),
        _ => None,
    }
}

pub async fn run(app: &App, args: RunArgs, cancel: &CancellationToken) -> anyhow::Result<Status> {
    let store = app.store()?;
    let ws = Workspace::open(&app.config.workspace)?;
    let (first, rest) = args.command.split_first().expect("clap requires a command");
    // A file (registered, or local and uploaded now) runs as a script.
    let script = if store.workspace_file(first).ok().flatten().is_some() {
        Some(first.clone())
    } else if Path::new(first).is_file() {
        let now = now_ms();
        let expiry = super::files::Expiry::Default.at(app, now);
        let f = ws.upload(&store, Path::new(first), None, app.config.max_uploaded_file_size, expiry, now)?;
        Some(f.name)
    } else {
        None
    };
    let (program, mut argv) = match &script {
        Some(name) => match interpreter(name) {
            Some(i) => (i.to_string(), vec![name.clone()]),
            None => (format!("./{name}"), vec![]),
        },
        None => (first.clone(), vec![]),
    };
    argv.extend(rest.iter().cloned());
    let base = app.sandbox_spec(&ws, Path::new(""));
    let spec = RunSpec {
        program,
        args: argv,
        timeout: args.timeout.map_or(base.timeout, Duration::from_secs),
        memory_bytes: args.memory.unwrap_or(base.memory_bytes),
        network: args.network,
        ..base
    };
    let outcome = app.executor()?.run(&spec, cancel).await?;
    report(app, &spec, &outcome)
}

fn report(app: &App, spec: &RunSpec, o: &RunOutcome) -> anyhow::Result<Status> {
    let why = (!o.success()).then(|| match (o.limit, o.exit_code, &o.signal) {
        (Some("timeout"), ..) => format!("stopped at the time limit ({} s)", spec.timeout.as_secs()),
        (Some(limit), ..) => format!("stopped by the {limit} limit"),
        (None, Some(code), _) => format!("the command exited with status {code}"),
        (None, None, Some(sig)) => format!("the command was killed by {sig}"),
        _ => "the command failed".into(),
    });
    if app.json {
        output::json(&serde_json::json!({
            "command": std::iter::once(&spec.program).chain(&spec.args).collect::<Vec<_>>(),
            "success": o.success(),
            "failure": why,
            "outcome": o,
        }));
    } else {
        out(&o.stdout);
        eprint!("{}", o.stderr);
        for (stream, dropped) in [("stdout", o.stdout_dropped), ("stderr", o.stderr_dropped)] {
            if dropped > 0 {
                eprintln!("[{stream}: {dropped} more bytes not kept (SANDBOX_MAX_OUTPUT)]");
            }
        }
        if let Some(w) = &why {
            eprintln!("error: {w}");
        }
    }
    // A failure was reported above, in the chosen format.
    Ok(Status::failed_if(why.is_some(), 1))
}
