//! `vuhitra info`: version, configuration summary and the backend each part
//! of Vuhitra uses with this configuration.

use crate::app::App;
use crate::output::{self, outln, table};

pub fn run(app: &App) -> anyhow::Result<()> {
    let c = &app.config;
    let service = |url: &Option<url::Url>, name: &str| match url {
        // Config's URLs carry no credentials (they are in the `*_access`).
        Some(u) => format!("{name} at {u}"),
        None => "embedded".to_string(),
    };
    // Which backend each service slot selects with this configuration. The
    // parts that use Redis and Spark are still being built; `features` says
    // what this build does.
    let sqlite = format!("SQLite at {}", c.store_path().display());
    let backends = vec![
        ("models", format!("Ollama at {}", c.ollama_url)),
        ("sessions", sqlite.clone()),
        (
            "heuristics and prompt cache",
            c.elasticsearch_url.as_ref().map_or(sqlite.clone(), |u| format!("Elasticsearch at {u}")),
        ),
        ("rag vectors", c.redis_url.as_ref().map_or(sqlite.clone(), |u| format!("Redis at {u}"))),
        ("redis", service(&c.redis_url, "Redis")),
        ("elasticsearch", service(&c.elasticsearch_url, "Elasticsearch")),
        ("spark", service(&c.spark_master, "Spark")),
        (
            "sandbox",
            c.sandbox_container
                .as_ref()
                .map_or(format!("local, workspace {}", c.workspace.display()), |n| format!("container {n}")),
        ),
    ];
    let features: Vec<&str> = FEATURES.iter().map(|(name, _)| *name).collect();
    let settings = vec![
        ("model", c.model.clone()),
        ("data dir", c.data_dir.display().to_string()),
        ("max context file", format!("{} bytes", c.max_context_file_size)),
        ("max uploaded file", format!("{} bytes", c.max_uploaded_file_size)),
        ("iterations dev/prod", format!("{}/{}", c.max_iterations_dev, c.max_iterations_prod)),
        ("prompt cache", format!("{} (threshold {})", on_off(c.enable_prompt_cache), c.prompt_cache_threshold)),
        ("heuristics", on_off(c.enable_heuristics).into()),
        ("log level", c.log_level.clone()),
    ];
    if app.json {
        let obj = |pairs: &[(&str, String)]| {
            serde_json::Value::Object(
                pairs.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect(),
            )
        };
        output::json(&serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "settings": obj(&settings),
            "backends": obj(&backends),
            "features": features,
        }));
        return Ok(());
    }
    outln(&format!("vuhitra {}", env!("CARGO_PKG_VERSION")));
    outln("");
    let rows = |pairs: Vec<(&str, String)>| pairs.into_iter().map(|(k, v)| vec![k.to_string(), v]).collect::<Vec<_>>();
    outln(&table(&["SETTING", "VALUE"], &rows(settings)));
    outln("");
    outln(&table(&["PART", "BACKEND"], &rows(backends)));
    outln("");
    outln(&format!("features in this build: {}", features.join(", ")));
    Ok(())
}

/// What this build does, each with the command that does it (a test keeps
/// the two lists in step, so a new command cannot be left out).
/// `vuhitra version`: the same line as `--version`; with `--json`, the
/// build's features too.
pub fn version(json: bool) -> anyhow::Result<()> {
    let features: Vec<&str> = FEATURES.iter().map(|(name, _)| *name).collect();
    if json {
        output::json(&serde_json::json!({
            "name": env!("CARGO_PKG_NAME"),
            "version": env!("CARGO_PKG_VERSION"),
            "features": features,
        }));
    } else {
        outln(&format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")));
    }
    Ok(())
}

const FEATURES: &[(&str, &str)] = &[
    ("chat", "chat"),
    ("sessions", "sessions"),
    ("models", "models"),
    ("config", "config"),
    ("doctor", "doctor"),
    ("nlp", "nlp"),
    ("heuristics", "heuristics"),
    ("ratings and corrections", "rate"),
    ("prompt cache", "cache"),
    ("routing", "chat"),
    ("uploads", "upload"),
    ("workspace files", "files"),
    ("dev mode", "dev"),
    ("sandbox run", "run"),
    ("analyze", "analyze"),
    ("reports", "analyze"),
    ("data questions", "analyze"),
    ("sql", "sql"),
    ("frame cache", "data"),
    ("mcp client", "mcp"),
    ("tools in chat", "chat"),
    ("mcp server", "mcp"),
    ("rag", "rag"),
    ("version", "version"),
    ("tls (rustls)", "doctor"),
];

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::FEATURES;

    #[test]
    fn the_feature_list_matches_the_commands() {
        let cli = crate::cli::Cli::command();
        let commands: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
        for (feature, command) in FEATURES {
            assert!(commands.contains(command), "feature {feature:?} names no command {command:?}");
        }
        // Every command that does a job is listed; these only describe or help.
        for command in commands.iter().filter(|c| !["info", "completions", "help"].contains(c)) {
            assert!(
                FEATURES.iter().any(|(_, c)| c == command),
                "command {command:?} is missing from `info`'s features"
            );
        }
    }
}
