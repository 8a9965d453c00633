//! `vuhitra heuristics list|show|stats|export|clear`.

use vuhitra_pipeline::route::{choice_probabilities, installed_posteriors};
use vuhitra_pipeline::Router;
use vuhitra_store::{format_ms, GroupBy, GroupStats, HeuristicRecord, HeuristicsStore, RecordFilter, RouteNote};

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
        HeuristicsCommand::Why { id } => {
            let r = intel.backend.record_by_id(&id).await?;
            let reason = reason(app, &r);
            if app.json {
                let mut v = route_json(None, r.route.as_ref().unwrap_or(&RouteNote::default()));
                v["id"] = r.id.clone().into();
                v["intent"] = r.intent.clone().into();
                v["model"] = r.model.clone().into();
                v["reason"] = reason.into();
                output::json(&v);
            } else {
                outln(&format!("{} ({} prompt: {})", r.id, r.intent, output::one_line(&r.prompt, 60)));
                outln(&format!("went to {}: {reason}", r.model));
                if let Some(note) = &r.route {
                    outln(&candidate_table(note));
                    outln(&format!("deciding took {:.2} ms", note.decide_ms));
                }
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
            let routes = current_routes(app, &intel).await?;
            if app.json {
                output::json(&serde_json::json!({
                    "by_intent": by_intent.iter().map(stats_json).collect::<Vec<_>>(),
                    "by_model": by_model.iter().map(stats_json).collect::<Vec<_>>(),
                    "most_failing_intent": worst.map(|g| g.key.clone()),
                    "routing": routes.iter().map(|(intent, note)| route_json(Some(intent), note)).collect::<Vec<_>>(),
                }));
            } else if by_intent.is_empty() && by_model.is_empty() && routes.is_empty() {
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
                for (intent, note) in &routes {
                    outln(&format!("routing of {intent} prompts ({}), as the next prompt would see it:", note.setting));
                    outln(&candidate_table(note));
                    outln("");
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

/// Why a record's prompt went to its model, in a sentence.
fn reason(app: &App, r: &HeuristicRecord) -> String {
    if r.cache.as_deref() == Some("hit") {
        return "answered from the prompt cache, so no model was asked".into();
    }
    let setting = vuhitra_core::config::intent_setting(&r.intent);
    match (&r.route, setting) {
        (Some(note), _) => match note.rule.as_str() {
            vuhitra_pipeline::route::rule::LEARNED => format!(
                "{} names {} models; it drew the highest chance of a good answer from its record (Thompson \
                 sampling over each installed candidate's outcomes for {} prompts)",
                note.setting,
                note.candidates.len(),
                r.intent
            ),
            vuhitra_pipeline::route::rule::ONE_INSTALLED => {
                format!("of the models {} names, only this one was installed", note.setting)
            }
            vuhitra_pipeline::route::rule::NONE_INSTALLED => {
                format!("none of the models {} names was installed, so the first was asked", note.setting)
            }
            _ => format!(
                "heuristics were off, so {} had no record to learn from and its first model answered",
                note.setting
            ),
        },
        (None, Some(key))
            if app.config.intent_models.get(&r.intent).is_some_and(|c| c == std::slice::from_ref(&r.model)) =>
        {
            format!("{key} names this model for {} prompts", r.intent)
        }
        (None, _) if r.model == app.config.model => {
            "MODEL, the default: no MODEL_<INTENT> setting routed it, or the user chose it".into()
        }
        (None, _) => "the user chose it (--model, /model or the session's model), or a setting changed since".into(),
    }
}

/// Each multi-model MODEL_<INTENT> setting as the next prompt would see
/// it (the router's own choice, made and not used): the candidates'
/// outcomes and posteriors, installed or not.
async fn current_routes(app: &App, intel: &vuhitra_pipeline::Intel) -> anyhow::Result<Vec<(String, RouteNote)>> {
    let mut router = Router::from_config(&app.config);
    let client = app.ollama_with_retries(0);
    let mut out = Vec::new();
    for (intent, _) in app.config.intent_models.iter().filter(|(_, c)| c.len() > 1) {
        if let Some(note) = router.choose(intent, &app.config.model, &client, Some(intel)).await.note {
            out.push((intent.clone(), note));
        }
    }
    Ok(out)
}

/// How often each candidate of a note would be chosen (installed ones
/// only; 0 for the others), by simulated Thompson draws.
fn probabilities(note: &RouteNote) -> Vec<f64> {
    let open = installed_posteriors(note);
    let posteriors: Vec<_> = open.iter().map(|(_, p)| *p).collect();
    let p = choice_probabilities(&posteriors, 4000, &mut vuhitra_pipeline::route::rng());
    let mut all = vec![0.0; note.candidates.len()];
    for ((i, _), p) in open.iter().zip(p) {
        all[*i] = p;
    }
    all
}

fn candidate_table(note: &RouteNote) -> String {
    let probs = probabilities(note);
    let rows: Vec<Vec<String>> = note
        .candidates
        .iter()
        .zip(&probs)
        .map(|(c, p)| {
            let o = &c.outcomes;
            vec![
                c.model.clone(),
                if c.installed { "yes".into() } else { "no".into() },
                o.calls.to_string(),
                o.failures.to_string(),
                o.rated.to_string(),
                if o.rated > 0 { format!("{:.2}", o.rating_sum as f64 / o.rated as f64) } else { "-".into() },
                fmt_opt(o.mean_ms, 0),
                format!("{:.2}", c.alpha / (c.alpha + c.beta)),
                fmt_opt(c.sample, 2),
                format!("{:.0}%", p * 100.0),
            ]
        })
        .collect();
    table(
        &["CANDIDATE", "INSTALLED", "CALLS", "FAILED", "RATED", "MEAN RATING", "MEAN MS", "P(GOOD)", "DRAW", "CHOSEN"],
        &rows,
    )
}

fn route_json(intent: Option<&str>, note: &RouteNote) -> serde_json::Value {
    let mut v = serde_json::to_value(note).expect("a route note serialises");
    if let Some(i) = intent {
        v["intent"] = i.into();
    }
    let probs = probabilities(note);
    if let Some(list) = v["candidates"].as_array_mut() {
        for (c, p) in list.iter_mut().zip(probs) {
            c["choice_probability"] = p.into();
        }
    }
    v
}
