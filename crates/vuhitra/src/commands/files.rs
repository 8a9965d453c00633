//! `vuhitra upload` and `vuhitra files list|rm|cleanup`.

use vuhitra_sandbox::Workspace;
use vuhitra_store::{format_ms, now_ms};

use crate::app::App;
use crate::cli::{FilesCommand, UploadArgs};
use crate::output::{self, outln, table};

pub fn upload(app: &App, args: UploadArgs) -> anyhow::Result<()> {
    if args.name.is_some() && args.files.len() > 1 {
        return Err(crate::exit::usage("--as names one file; give one FILE with it", None));
    }
    let expires = if args.keep { Expiry::Never } else { args.ttl.map_or(Expiry::Default, Expiry::After) };
    let done = upload_files(app, &args.files, args.name.as_deref(), expires, outln)?;
    if app.json {
        output::json(&serde_json::to_value(&done)?);
    }
    Ok(())
}

/// When an upload expires.
#[derive(Debug, Clone, Copy)]
pub enum Expiry {
    /// UPLOAD_TTL after the upload (never when it is 0).
    Default,
    After(u64),
    Never,
}

impl Expiry {
    /// The expiry time in ms, if any.
    pub fn at(self, app: &App, now: i64) -> Option<i64> {
        let secs = match self {
            Expiry::Default => Some(app.config.upload_ttl_secs).filter(|s| *s > 0),
            Expiry::After(s) => Some(s),
            Expiry::Never => None,
        };
        secs.map(|s| now + s as i64 * 1000)
    }
}

/// Uploads `files` into the workspace (`vuhitra upload`, and `@upload` in
/// chat), telling `say` about each unless the output is JSON.
pub fn upload_files(
    app: &App,
    files: &[std::path::PathBuf],
    name: Option<&str>,
    expiry: Expiry,
    say: impl Fn(&str),
) -> anyhow::Result<Vec<vuhitra_store::WorkspaceFile>> {
    let store = app.store()?;
    let ws = Workspace::open(&app.config.workspace)?;
    let now = now_ms();
    let expires = expiry.at(app, now);
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
    let done = upload_files(app, &prompt.uploads, None, Expiry::Default, |line| {
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
        FilesCommand::Get { name, out, force } => get(app, &ws, &name, out, force)?,
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
    let result = app.store().and_then(|store| {
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

/// `files get`: the file, checked to be a regular file inside the
/// workspace, copied out through a temporary file renamed into place (so an
/// interrupted copy leaves nothing half written), or streamed to stdout.
fn get(app: &App, ws: &Workspace, name: &str, out: Option<std::path::PathBuf>, force: bool) -> anyhow::Result<()> {
    let source = workspace_path(ws, name)?;
    let file_name = source.file_name().expect("a checked path names a file").to_owned();
    let target = match out {
        Some(p) if p.as_os_str() == "-" => {
            let mut f = std::fs::File::open(&source)?;
            std::io::copy(&mut f, &mut std::io::stdout().lock())?;
            return Ok(());
        }
        Some(p) if p.is_dir() => p.join(&file_name),
        Some(p) => p,
        None => std::path::PathBuf::from(&file_name),
    };
    if target.exists() && !force {
        return Err(crate::exit::usage(
            format!("{} exists", target.display()),
            Some("pass --force to replace it, or -o another path"),
        ));
    }
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(".{}.part-{}", file_name.to_string_lossy(), std::process::id()));
    let copied = std::fs::copy(&source, &tmp).and_then(|n| std::fs::rename(&tmp, &target).map(|()| n));
    let bytes = copied.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("cannot write {}: {e}", target.display())
    })?;
    if app.json {
        output::json(&serde_json::json!({"name": name, "path": target, "bytes": bytes}));
    } else {
        eprintln!("wrote {} ({})", target.display(), output::human_bytes(bytes));
    }
    Ok(())
}

/// A workspace file by its name or relative path: plain components only
/// (each one a valid file name), no symbolic link on the way, and a regular
/// file at the end.
fn workspace_path(ws: &Workspace, name: &str) -> anyhow::Result<std::path::PathBuf> {
    let refuse = |why: &str| {
        crate::exit::usage(format!("cannot get \"{name}\": {why}"), Some("`vuhitra files list` shows the files"))
    };
    let rel = std::path::Path::new(name);
    if rel.is_absolute() {
        return Err(refuse("it is an absolute path; name a file inside the workspace"));
    }
    let mut path = ws.root().to_path_buf();
    for part in rel.components() {
        let std::path::Component::Normal(part) = part else {
            return Err(refuse("only plain names inside the workspace are allowed (no `..` or `.`)"));
        };
        let part = part.to_str().ok_or_else(|| refuse("the name is not UTF-8"))?;
        vuhitra_sandbox::workspace::sanitize_name(part).map_err(|e| refuse(&e.to_string()))?;
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => return Err(refuse("it goes through a symbolic link")),
            Ok(_) => {}
            Err(_) => return Err(refuse("there is no such file in the workspace")),
        }
    }
    if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
        return Err(refuse("it is not a regular file"));
    }
    Ok(path)
}
