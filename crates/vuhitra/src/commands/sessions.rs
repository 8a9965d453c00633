//! `vuhitra sessions list|show|rm|export`.

use std::io::Write;

use vuhitra_store::StoreError;

use crate::app::App;
use crate::cli::{ExportFormat, SessionsCommand};
use crate::output::{self, outln, table};

pub fn run(app: &App, cmd: SessionsCommand) -> anyhow::Result<()> {
    let store = app.store()?;
    match cmd {
        SessionsCommand::List => {
            let list = store.list_sessions()?;
            if app.json {
                let v: Vec<_> = list
                    .iter()
                    .map(|s| serde_json::json!({ "name": s.name, "model": s.model, "messages": s.messages, "updated_at": s.updated_at }))
                    .collect();
                output::json(&serde_json::Value::Array(v));
            } else if list.is_empty() {
                outln("no sessions yet; `vuhitra chat --session NAME` starts one");
            } else {
                let rows: Vec<Vec<String>> =
                    list.into_iter().map(|s| vec![s.name, s.model, s.messages.to_string(), s.updated_at]).collect();
                outln(&table(&["NAME", "MODEL", "MESSAGES", "UPDATED"], &rows));
            }
        }
        SessionsCommand::Show { name } => {
            let text = render(&store, &name, if app.json { ExportFormat::Json } else { ExportFormat::Markdown })?;
            output::AnswerPrinter::print(output::renders_markdown(app.json, false), &text);
        }
        SessionsCommand::Rm { name } => {
            store.delete_session(&name)?;
            if app.json {
                output::json(&serde_json::json!({ "session": name, "deleted": true }));
            } else {
                outln(&format!("deleted session {name}"));
            }
        }
        SessionsCommand::Export { name, format, output: path } => {
            let text = render(&store, &name, format)?;
            match path {
                None => output::out(&text),
                Some(path) => {
                    write_atomically(&path, text.as_bytes())?;
                    if app.json {
                        output::json(&serde_json::json!({ "session": name, "path": path }));
                    } else {
                        outln(&format!("wrote {}", path.display()));
                    }
                }
            }
        }
    }
    Ok(())
}

fn render(store: &vuhitra_store::Store, name: &str, format: ExportFormat) -> anyhow::Result<String> {
    let s = store.session(name)?.ok_or_else(|| StoreError::NoSuchSession(name.to_string()))?;
    let msgs = store.messages(s.id)?;
    Ok(match format {
        ExportFormat::Json => {
            let v = serde_json::json!({
                "name": s.name, "model": s.model, "system": s.system,
                "created_at": s.created_at, "updated_at": s.updated_at,
                "messages": msgs.iter().map(|m| serde_json::json!({ "role": m.role, "content": m.content, "created_at": m.created_at })).collect::<Vec<_>>(),
            });
            serde_json::to_string_pretty(&v)? + "\n"
        }
        ExportFormat::Markdown => {
            let mut out = format!("# Session {}\n\nmodel: {}  \ncreated: {}\n", s.name, s.model, s.created_at);
            if let Some(sys) = &s.system {
                out.push_str(&format!("\n**system:** {sys}\n"));
            }
            for m in msgs {
                out.push_str(&format!("\n## {}\n\n{}\n", m.role, m.content.trim_end()));
            }
            out
        }
    })
}

/// Writes through a temporary file and a rename, so a failed export never
/// leaves a half-written file behind.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let tmp =
        dir.join(format!(".{}.tmp-{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("out"), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::anyhow!("cannot write {}: {e}", path.display()));
    }
    Ok(())
}
