//! `vuhitra heuristics list|show|stats|export|clear`.

use vuhitra_store::{format_ms, GroupBy, GroupStats, HeuristicRecord, HeuristicsStore, RecordFilter};

use crate::app::App;
use crate::cli::{HeuristicsCommand, StatsBy};
use crate::output::{self, outln, table};

pub async fn run(app: &App, cmd: HeuristicsCommand) -> anyhow::Result<()> {
    let intel = app.intel().await?;
    match cmd {
        HeuristicsCommand::List { limit, intent, model } => {
            let filter = RecordFilter { limit: Some(limit), intent, model };
            let records = intel.backend.records(&filter).await?;
            if app.json {
                output::json(&serde_json::to_value(&records)?);
            } else if records.is_empty() {
                outln("no heuristics records yet; every `vuhitra chat` answer adds one");
            } else {
                let rows: Vec<Vec<String>> = records.iter().map(row).collect();
                outln(&table(
                    &["ID", "TIME", "INTENT", "MODEL", "OK", "CACHE", "MS", "TOK/S", "RATING", "PROMPT"],
                    &rows,
                ));
            }
        }
        HeuristicsCommand::Show { id } => {
            let r = intel.backend.record_by_id(&id).await?;
            if app.json {
                output::json(&serde_json::to_value(&r)?);
            } else {
                show(&r);
            }
        }
        HeuristicsCommand::Stats { by } => {
            let mut by_intent = vec![];
            let mut by_model = vec![];
            if matches!(by, StatsBy::Intent | StatsBy::Both) {
                by_intent = intel.backend.stats(GroupBy::Intent).await?;
            }
            if matches!(by, StatsBy::Model | StatsBy::Both) {
                by_model = intel.backend.stats(GroupBy::Model).await?;
            }
            let worst = most_failing(&by_intent);
            if app.json {
                output::json(&serde_json::json!({
                    "by_intent": by_intent.iter().map(stats_json).collect::<Vec<_>>(),
                    "by_model": by_model.iter().map(stats_json).collect::<Vec<_>>(),
                    "most_failing_intent": worst.map(|g| g.key.clone()),
                }));
            } else if by_intent.is_empty() && by_model.is_empty() {
                outln("no heuristics records yet");
            } else {
                for (title, groups) in [("INTENT", &by_intent), ("MODEL", &by_model)] {
                    if groups.is_empty() {
                        continue;
                    }
                    let rows: Vec<Vec<String>> = groups.iter().map(stats_row).collect();
                    outln(&table(
                        &[title, "COUNT", "SUCCESS", "P50 MS", "P95 MS", "TOK/S", "RATED", "MEAN RATING"],
                        &rows,
                    ));
                    outln("");
                }
                if let Some(w) = worst {
                    outln(&format!(
                        "fails most: {} ({} of {} failed; {:.0}% success)",
                        w.key,
                        w.count - w.successes,
                        w.count,
                        w.success_rate() * 100.0
                    ));
                }
            }
        }
        HeuristicsCommand::Export { output: path } => {
            let records = intel.backend.records(&RecordFilter::default()).await?;
            let mut text = String::new();
            for r in records.iter().rev() {
                text.push_str(&serde_json::to_string(r)?);
                text.push('\n');
            }
            match path {
                None => output::out(&text),
                Some(p) => {
                    super::sessions::write_atomically(&p, text.as_bytes())?;
                    eprintln!("wrote {} records to {}", records.len(), p.display());
                }
            }
        }
        HeuristicsCommand::Clear { yes } => {
            output::confirm(yes, "delete every heuristics record")?;
            let n = intel.backend.clear_records().await?;
            if app.json {
                output::json(&serde_json::json!({"deleted": n}));
            } else {
                outln(&format!("deleted {n} heuristics records"));
            }
        }
    }
    Ok(())
}

fn row(r: &HeuristicRecord) -> Vec<String> {
    vec![
        r.id.clone(),
        format_ms(r.created_at),
        r.intent.clone(),
        r.model.clone(),
        if r.success { "yes".into() } else { "no".into() },
        r.cache.clone().unwrap_or_else(|| "-".into()),
        format!("{:.0}", r.total_ms),
        r.tokens_per_second.map_or("-".into(), |t| format!("{t:.1}")),
        r.rating.map_or("-".into(), |x| x.to_string()),
        output::one_line(&r.prompt, 48),
    ]
}

fn show(r: &HeuristicRecord) {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let lines = [
        ("id", r.id.clone()),
        ("time", format_ms(r.created_at)),
        ("session", opt(r.session.clone())),
        ("model", r.model.clone()),
        ("prompt", r.prompt.clone()),
        ("intent", format!("{} ({:.2})", r.intent, r.intent_confidence)),
        ("entities", r.entities.join(", ")),
        ("sentiment", format!("{:.3}", r.sentiment)),
        ("signature", r.signature.clone()),
        ("success", if r.success { "yes".into() } else { format!("no: {}", opt(r.error.clone())) }),
        ("cache", opt(r.cache.clone())),
        ("tokens", format!("{} prompt + {} answer", r.prompt_tokens, r.response_tokens)),
        (
            "latency ms",
            format!(
                "{:.1} total · {:.1} load · {:.1} prompt eval · {:.1} eval",
                r.total_ms, r.load_ms, r.prompt_eval_ms, r.eval_ms
            ),
        ),
        ("tokens/s", r.tokens_per_second.map_or("-".into(), |t| format!("{t:.1}"))),
        ("context files", if r.context_hashes.is_empty() { "-".into() } else { r.context_hashes.join(", ") }),
        ("rating", r.rating.map_or("-".into(), |x| format!("{x}/5"))),
        ("correction", opt(r.correction.clone())),
    ];
    for (k, v) in lines {
        outln(&format!("{k:<14} {v}"));
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.digits$}"))
}

fn stats_row(g: &GroupStats) -> Vec<String> {
    vec![
        g.key.clone(),
        g.count.to_string(),
        format!("{:.0}%", g.success_rate() * 100.0),
        fmt_opt(g.p50_ms, 0),
        fmt_opt(g.p95_ms, 0),
        fmt_opt(g.mean_tokens_per_second, 1),
        g.rated.to_string(),
        fmt_opt(g.mean_rating, 2),
    ]
}

fn stats_json(g: &GroupStats) -> serde_json::Value {
    let mut v = serde_json::to_value(g).expect("stats serialise");
    v["success_rate"] = serde_json::json!(g.success_rate());
    v
}

/// The intent with the lowest success rate, if any failed at all.
fn most_failing(groups: &[GroupStats]) -> Option<&GroupStats> {
    groups.iter().filter(|g| g.successes < g.count).min_by(|a, b| a.success_rate().total_cmp(&b.success_rate()))
}
