//! `vuhitra upload` and `vuhitra files list|rm|cleanup`.

use vuhitra_sandbox::Workspace;
use vuhitra_store::{format_ms, now_ms, Store};

use crate::app::App;
use crate::cli::{FilesCommand, UploadArgs};
use crate::output::{self, outln, table};

pub fn upload(app: &App, args: UploadArgs) -> anyhow::Result<()> {
    if args.name.is_some() && args.files.len() > 1 {
        return Err(crate::exit::usage("--as names one file; give one FILE with it", None));
    }
    let done = upload_files(app, &args.files, args.name.as_deref(), args.ttl, outln)?;
    if app.json {
        output::json(&serde_json::to_value(&done)?);
    }
    Ok(())
}

/// Uploads `files` into the workspace (`vuhitra upload`, and `@upload` in
/// chat), telling `say` about each unless the output is JSON.
pub fn upload_files(
    app: &App,
    files: &[std::path::PathBuf],
    name: Option<&str>,
    ttl_secs: Option<u64>,
    say: impl Fn(&str),
) -> anyhow::Result<Vec<vuhitra_store::WorkspaceFile>> {
    let store = app.store()?;
    let ws = Workspace::open(&app.config.workspace)?;
    let now = now_ms();
    let expires = ttl_secs.map(|secs| now + secs as i64 * 1000);
    let mut done = Vec::new();
    for path in files {
        // Each file is whole or absent: a failure stops here, earlier files stay.
        let f = ws.upload(&store, path, name, app.config.max_uploaded_file_size, expires, now)?;
        if !app.json {
            say(&format!("uploaded {} ({}, {})", f.name, f.kind, output::human_bytes(f.size)));
        }
        done.push(f);
    }
    Ok(done)
}

/// `@upload` in a prompt: copies its files into the workspace before
/// anything else happens. Returns true when that was all the prompt asked
/// (no question): the uploads are then the command's output.
pub fn upload_for_prompt(app: &App, prompt: &vuhitra_pipeline::PreparedPrompt) -> anyhow::Result<bool> {
    if prompt.uploads.is_empty() {
        return Ok(false);
    }
    let only = prompt.action == vuhitra_pipeline::Action::UploadOnly;
    let done = upload_files(app, &prompt.uploads, None, None, |line| {
        // With a question, stdout is the answer's.
        if only {
            outln(line)
        } else {
            eprintln!("{}", output::dim(line))
        }
    })?;
    if only && app.json {
        output::json(&serde_json::to_value(&done)?);
    }
    Ok(only)
}

pub fn run(app: &App, cmd: FilesCommand) -> anyhow::Result<()> {
    let store = app.store()?;
    let ws = Workspace::open(&app.config.workspace)?;
    match cmd {
        FilesCommand::List => {
            let files = store.workspace_files()?;
            if app.json {
                output::json(&serde_json::to_value(&files)?);
            } else if files.is_empty() {
                outln(&format!("no files in the workspace ({}); `vuhitra upload FILE` adds one", ws.root().display()));
            } else {
                let rows: Vec<Vec<String>> = files
                    .iter()
                    .map(|f| {
                        vec![
                            f.name.clone(),
                            f.kind.clone(),
                            output::human_bytes(f.size),
                            f.sha256[..12].to_string(),
                            format_ms(f.uploaded_at),
                            f.expires_at.map_or("-".into(), format_ms),
                        ]
                    })
                    .collect();
                outln(&table(&["NAME", "TYPE", "SIZE", "SHA-256", "UPLOADED", "EXPIRES"], &rows));
            }
        }
        FilesCommand::Rm { name } => {
            ws.remove(&store, &name)?;
            if app.json {
                output::json(&serde_json::json!({"name": name, "deleted": true}));
            } else {
                outln(&format!("deleted {name}"));
            }
        }
        FilesCommand::Cleanup { all, .. } => {
            let removed = if all {
                let names: Vec<String> = store.workspace_files()?.into_iter().map(|f| f.name).collect();
                for n in &names {
                    ws.remove(&store, n)?;
                }
                names
            } else {
                ws.remove_expired(&store, now_ms())?
            };
            if app.json {
                output::json(&serde_json::json!({"deleted": removed}));
            } else {
                outln(&format!("deleted {} file(s){}", removed.len(), if all { "" } else { " past their expiry" }));
            }
        }
    }
    Ok(())
}

/// Removes expired uploads; every command calls this first, so a TTL holds
/// without a daemon. Quiet unless something was removed or failed.
pub fn remove_expired(app: &App) {
    let path = app.config.store_path();
    if !path.exists() {
        return;
    }
    let result = Store::open(&path).map_err(anyhow::Error::from).and_then(|store| {
        if store.expired_files(now_ms())?.is_empty() {
            return Ok(Vec::new());
        }
        let ws = Workspace::open(&app.config.workspace)?;
        Ok(ws.remove_expired(&store, now_ms())?)
    });
    match result {
        Ok(removed) if !removed.is_empty() => tracing::info!("removed expired workspace files: {}", removed.join(", ")),
        Ok(_) => {}
        Err(e) => crate::output::warn(&format!("could not remove expired workspace files: {e}")),
    }
}
