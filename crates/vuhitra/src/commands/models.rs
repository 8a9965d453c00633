//! `vuhitra models list|pull|show|rm`.

use vuhitra_llm::PullProgress;

use crate::app::App;
use crate::cli::ModelsCommand;
use crate::exit::Interrupted;
use crate::output::{self, human_bytes, outln, table};
use crate::progress::Progress;

pub async fn run(app: &App, cmd: ModelsCommand, cancel: &vuhitra_pipeline::CancellationToken) -> anyhow::Result<()> {
    let client = app.ollama();
    match cmd {
        ModelsCommand::List => {
            let models = client.list_models().await?;
            if app.json {
                output::json(&serde_json::to_value(&models)?);
                return Ok(());
            }
            if models.is_empty() {
                outln("no models yet; `vuhitra models pull NAME` downloads one");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = models
                .iter()
                .map(|m| {
                    vec![
                        m.name.clone(),
                        human_bytes(m.size),
                        m.details.parameter_size.clone(),
                        m.details.quantization_level.clone(),
                        m.modified_at.get(..19).unwrap_or(&m.modified_at).replace('T', " "),
                    ]
                })
                .collect();
            outln(&table(&["NAME", "SIZE", "PARAMS", "QUANT", "MODIFIED"], &rows));
        }
        ModelsCommand::Pull { name, insecure } => {
            let mut progress = Progress::new(app.json);
            let pull = client.pull(&name, insecure, |p: &PullProgress| show_pull_progress(&mut progress, p));
            let result = tokio::select! {
                r = pull => r,
                _ = cancel.cancelled() => {
                    progress.finish();
                    return Err(Interrupted {
                        what: format!("pull of {name} stopped"),
                        hint: Some(format!("run `vuhitra models pull {name}` again to resume; downloaded parts are kept")),
                    }
                    .into());
                }
            };
            progress.finish();
            result?;
            if app.json {
                output::json(&serde_json::json!({ "model": name, "status": "success" }));
            } else {
                outln(&format!("pulled {name}"));
            }
        }
        ModelsCommand::Show { name } => {
            let show = client.show(&name).await?;
            let caps = |c: &str| show.has_capability(c);
            if app.json {
                output::json(&serde_json::json!({
                    "model": name,
                    "architecture": show.architecture(),
                    "family": show.details.family,
                    "parameter_size": show.details.parameter_size,
                    "parameter_count": show.parameter_count(),
                    "quantization": show.details.quantization_level,
                    "format": show.details.format,
                    "context_length": show.context_length(),
                    "capabilities": show.capabilities,
                    "tools": caps("tools"),
                    "embedding": caps("embedding"),
                    "vision": caps("vision"),
                    "parameters": show.parameters,
                }));
                return Ok(());
            }
            let yes_no = |b: bool| if b { "yes" } else { "no" };
            let params = match show.parameter_count() {
                Some(n) => format!("{} ({n})", show.details.parameter_size),
                None => show.details.parameter_size.clone(),
            };
            let rows = vec![
                vec!["model".into(), name.clone()],
                vec!["architecture".into(), show.architecture().unwrap_or("-").into()],
                vec!["parameters".into(), params],
                vec!["quantization".into(), show.details.quantization_level.clone()],
                vec!["context length".into(), show.context_length().map_or("unknown".into(), |n| n.to_string())],
                vec!["capabilities".into(), show.capabilities.join(", ")],
                vec!["tools".into(), yes_no(caps("tools")).into()],
                vec!["embedding".into(), yes_no(caps("embedding")).into()],
                vec!["vision".into(), yes_no(caps("vision")).into()],
            ];
            outln(&table(&["FIELD", "VALUE"], &rows));
            if !show.parameters.trim().is_empty() {
                outln("\nrun parameters:");
                for l in show.parameters.lines() {
                    outln(&format!("  {}", l.split_whitespace().collect::<Vec<_>>().join(" ")));
                }
            }
        }
        ModelsCommand::Rm { name } => {
            client.delete(&name).await?;
            if app.json {
                output::json(&serde_json::json!({ "model": name, "deleted": true }));
            } else {
                outln(&format!("deleted {name}"));
            }
        }
    }
    Ok(())
}

fn show_pull_progress(progress: &mut Progress, p: &PullProgress) {
    match (&p.digest, p.total) {
        (Some(digest), Some(total)) if total > 0 => {
            let short = digest.trim_start_matches("sha256:").get(..12).unwrap_or(digest);
            progress.bytes(digest, &format!("pulling {short}"), total, p.completed.unwrap_or(0));
        }
        _ => progress.status(&p.status),
    }
}
