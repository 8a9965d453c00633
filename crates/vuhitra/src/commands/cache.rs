//! `vuhitra cache status|list|stats|clear|rm|eval`.

use std::path::Path;
use std::time::Instant;

use serde::Deserialize;
use vuhitra_nlp::{Analyzer, SignatureMode};
use vuhitra_store::{format_ms, now_ms, HeuristicsStore, PromptCache, RecordFilter, Store};

use crate::app::App;
use crate::cli::CacheCommand;
use crate::output::{self, outln, table};

pub async fn run(app: &App, cmd: CacheCommand) -> anyhow::Result<()> {
    if let CacheCommand::Eval { pairs, threshold } = cmd {
        return eval(app, &pairs, threshold.unwrap_or(app.config.prompt_cache_threshold)).await;
    }
    let intel = app.intel().await?;
    let now = now_ms();
    // Expired entries go on every cache command, as the TTL promises.
    let expired = intel.backend.expire(now).await?;
    match cmd {
        CacheCommand::Status => {
            let s = intel.backend.summary(now).await?;
            let c = &app.config;
            if app.json {
                output::json(&serde_json::json!({
                    "enabled": c.enable_prompt_cache,
                    "backend": intel.backend_name(),
                    "threshold": c.prompt_cache_threshold,
                    "ttl_seconds": c.prompt_cache_ttl_secs,
                    "embed_model": c.embed_model,
                    "entries": s.entries,
                    "total_hits": s.total_hits,
                    "expired_removed": expired,
                }));
            } else {
                let state = if c.enable_prompt_cache {
                    "on"
                } else {
                    "off (ENABLE_PROMPT_CACHE=false; @cache in a prompt uses it)"
                };
                outln(&format!("prompt cache   {state}"));
                outln(&format!("backend        {}", intel.backend_name()));
                outln(&format!("threshold      {}", c.prompt_cache_threshold));
                outln(&format!("ttl            {} s", c.prompt_cache_ttl_secs));
                outln(&format!("embed model    {}", c.embed_model.as_deref().unwrap_or("none (words only)")));
                outln(&format!("entries        {} ({} hits served)", s.entries, s.total_hits));
            }
        }
        CacheCommand::List { limit } => {
            let entries = intel.backend.entries(Some(limit)).await?;
            if app.json {
                let v: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "id": e.id, "prompt": e.prompt, "model": e.model, "hit_count": e.hit_count,
                            "created_at": format_ms(e.created_at), "last_hit_at": e.last_hit_at.map(format_ms),
                            "expires_at": format_ms(e.expires_at), "embed_model": e.embed_model,
                            "negated": e.negated, "numbers": e.numbers, "entities": e.entities,
                        })
                    })
                    .collect();
                output::json(&serde_json::Value::Array(v));
            } else if entries.is_empty() {
                outln("the prompt cache is empty");
            } else {
                let rows: Vec<Vec<String>> = entries
                    .iter()
                    .map(|e| {
                        vec![
                            e.id.clone(),
                            format_ms(e.created_at),
                            format_ms(e.expires_at),
                            e.hit_count.to_string(),
                            e.model.clone(),
                            e.prompt.chars().take(50).collect(),
                        ]
                    })
                    .collect();
                outln(&table(&["ID", "CREATED", "EXPIRES", "HITS", "MODEL", "PROMPT"], &rows));
            }
        }
        CacheCommand::Stats => {
            let s = intel.backend.summary(now).await?;
            // Lookups are heuristics records with a cache outcome.
            let records = intel.backend.records(&RecordFilter { limit: Some(10_000), ..Default::default() }).await?;
            let latencies = |outcome: &str| -> Vec<f64> {
                records.iter().filter(|r| r.cache.as_deref() == Some(outcome)).map(|r| r.total_ms).collect()
            };
            let (hits, misses) = (latencies("hit"), latencies("miss"));
            let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            let lookups = hits.len() + misses.len();
            let rate = (lookups > 0).then(|| hits.len() as f64 / lookups as f64);
            if app.json {
                output::json(&serde_json::json!({
                    "entries": s.entries, "total_hits": s.total_hits,
                    "oldest": s.oldest.map(format_ms), "newest": s.newest.map(format_ms),
                    "lookups": lookups, "hits": hits.len(), "misses": misses.len(), "hit_rate": rate,
                    "mean_hit_ms": mean(&hits), "mean_miss_ms": mean(&misses),
                }));
            } else {
                let ms = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.1} ms"));
                outln(&format!("entries          {} ({} hits served)", s.entries, s.total_hits));
                outln(&format!(
                    "lookups          {lookups}: {} hits, {} misses, hit rate {}",
                    hits.len(),
                    misses.len(),
                    rate.map_or("-".into(), |r| format!("{:.0}%", r * 100.0))
                ));
                outln(&format!("mean latency     hit {} · miss {}", ms(mean(&hits)), ms(mean(&misses))));
                if !app.config.enable_heuristics {
                    outln("(lookups are counted from heuristics records, and ENABLE_HEURISTICS is off)");
                }
            }
        }
        CacheCommand::Clear { yes } => {
            output::confirm(yes, "delete every prompt cache entry")?;
            let n = intel.backend.clear_entries().await?;
            if app.json {
                output::json(&serde_json::json!({"deleted": n + expired}));
            } else {
                outln(&format!("deleted {} cache entries", n + expired));
            }
        }
        CacheCommand::Rm { id } => {
            intel.backend.remove_entry(&id).await?;
            if app.json {
                output::json(&serde_json::json!({"id": id, "deleted": true}));
            } else {
                outln(&format!("deleted cache entry {id}"));
            }
        }
        CacheCommand::Eval { .. } => unreachable!("handled above"),
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct Pair {
    a: String,
    b: String,
    expect: String,
    #[serde(default)]
    kind: String,
}

fn read_pairs(path: &Path) -> anyhow::Result<Vec<Pair>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| crate::exit::usage(format!("cannot read {}: {e}", path.display()), None))?;
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let p: Pair = serde_json::from_str(line).map_err(|e| {
            crate::exit::usage(
                format!("{}:{}: not a pair: {e}", path.display(), i + 1),
                Some(r#"each line is {"a": "...", "b": "...", "expect": "hit" or "miss"}"#),
            )
        })?;
        if p.expect != "hit" && p.expect != "miss" {
            return Err(crate::exit::usage(format!("{}:{}: expect must be hit or miss", path.display(), i + 1), None));
        }
        pairs.push(p);
    }
    if pairs.is_empty() {
        return Err(crate::exit::usage(format!("{} has no pairs", path.display()), None));
    }
    Ok(pairs)
}

/// A pair, the hit its `b` got (if any), the lookup time in ms, and why the
/// closest candidate was refused.
type Outcome<'a> = (&'a Pair, Option<vuhitra_intel::Hit>, f64, Option<String>);

/// Stores each pair's `a`, looks up its `b` (each pair in a scope of its
/// own, in a scratch store), and scores the decisions against the labels.
async fn eval(app: &App, path: &Path, threshold: f64) -> anyhow::Result<()> {
    let pairs = read_pairs(path)?;
    let analyzer = Analyzer::new();
    let mode = SignatureMode::parse(&app.config.prompt_signature).unwrap_or(SignatureMode::Nlp);
    let client = app.ollama();
    let mut progress = crate::progress::Progress::new(app.json);

    // Embeddings first, in batches (their cost is reported separately).
    let texts: Vec<String> = pairs.iter().flat_map(|p| [p.a.clone(), p.b.clone()]).collect();
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
    let mut embed_ms = None;
    if let Some(model) = &app.config.embed_model {
        let started = Instant::now();
        let mut ok = true;
        for (i, chunk) in texts.chunks(32).enumerate() {
            progress.items("embed", &format!("embedding with {model}"), texts.len() as u64, (i * 32) as u64, "");
            match client.embed(model, chunk).await {
                Ok(r) => {
                    for (j, v) in r.embeddings.into_iter().enumerate() {
                        vectors[i * 32 + j] = Some(v);
                    }
                }
                Err(e) => {
                    crate::output::warn(&format!("embedding with {model} failed ({e}); evaluating with words only"));
                    ok = false;
                    vectors.iter_mut().for_each(|v| *v = None);
                    break;
                }
            }
        }
        progress.items("embed", &format!("embedding with {model}"), texts.len() as u64, texts.len() as u64, "");
        if ok {
            embed_ms = Some(started.elapsed().as_secs_f64() * 1000.0 / texts.len() as f64);
        }
    }
    let embed_model = app.config.embed_model.clone().filter(|_| embed_ms.is_some());

    let dir = std::env::temp_dir().join(format!("vuhitra-cache-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir.join("eval.db"))?;
    let now = now_ms();
    let mut results: Vec<Outcome> = Vec::with_capacity(pairs.len());
    for (i, p) in pairs.iter().enumerate() {
        progress.items("pairs", "looking up pairs", pairs.len() as u64, i as u64, "");
        let scope = format!("pair-{i}");
        let (a, b) = (analyzer.analyze(&p.a), analyzer.analyze(&p.b));
        let vector = |k: usize| embed_model.clone().zip(vectors[k].clone());
        let entry = vuhitra_intel::cache_entry(vuhitra_intel::NewEntry {
            prompt: &p.a,
            analysis: &a,
            signature: a.signature.get(mode),
            scope: &scope,
            answer: "",
            model: "eval",
            vector: vector(2 * i),
            ttl_ms: 3_600_000,
            now,
        });
        store.put(&entry).await?;
        let qv = vector(2 * i + 1);
        let started = Instant::now();
        let d = vuhitra_intel::lookup(
            &store,
            &analyzer,
            &b,
            b.signature.get(mode),
            qv.as_ref().map(|(m, v)| (m.as_str(), v.as_slice())),
            &scope,
            threshold,
            now,
        )
        .await?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let refusal = d
            .refused
            .first()
            .map(|r| r.reason.clone())
            .or_else(|| d.closest_below.map(|s| format!("similarity {:.3} below the threshold", s.combined)));
        results.push((p, d.hit, ms, refusal));
    }
    progress.items("pairs", "looking up pairs", pairs.len() as u64, pairs.len() as u64, "");
    progress.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);

    let count = |f: &dyn Fn(&Outcome) -> bool| results.iter().filter(|r| f(r)).count();
    let tp = count(&|r| r.0.expect == "hit" && r.1.is_some());
    let fp = count(&|r| r.0.expect == "miss" && r.1.is_some());
    let fn_ = count(&|r| r.0.expect == "hit" && r.1.is_none());
    let precision = if tp + fp == 0 { 1.0 } else { tp as f64 / (tp + fp) as f64 };
    let recall = if tp + fn_ == 0 { 1.0 } else { tp as f64 / (tp + fn_) as f64 };
    let mean = |hit: bool| {
        let v: Vec<f64> = results.iter().filter(|r| r.1.is_some() == hit).map(|r| r.2).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let mut kinds: Vec<String> = results.iter().map(|r| format!("{}/{}", r.0.expect, r.0.kind)).collect();
    kinds.sort();
    kinds.dedup();
    let by_kind: Vec<(String, usize, usize)> = kinds
        .iter()
        .map(|k| {
            let of_kind: Vec<_> = results.iter().filter(|r| format!("{}/{}", r.0.expect, r.0.kind) == *k).collect();
            (k.clone(), of_kind.len(), of_kind.iter().filter(|r| r.1.is_some()).count())
        })
        .collect();
    let false_hits: Vec<serde_json::Value> = results
        .iter()
        .filter(|r| r.0.expect == "miss" && r.1.is_some())
        .map(|r| {
            let h = r.1.as_ref().expect("filtered on hits");
            serde_json::json!({"a": r.0.a, "b": r.0.b, "kind": r.0.kind, "similarity": h.similarity, "exact": h.exact})
        })
        .collect();
    let missed: Vec<serde_json::Value> = results
        .iter()
        .filter(|r| r.0.expect == "hit" && r.1.is_none())
        .map(|r| serde_json::json!({"a": r.0.a, "b": r.0.b, "refused": r.3}))
        .collect();
    if app.json {
        output::json(&serde_json::json!({
            "pairs": results.len(), "threshold": threshold, "embed_model": embed_model,
            "precision": precision, "recall": recall,
            "true_hits": tp, "false_hits": fp, "missed_hits": fn_,
            "mean_lookup_ms": {"hit": mean(true), "miss": mean(false)},
            "mean_embed_ms_per_prompt": embed_ms,
            "by_kind": by_kind.iter().map(|(k, n, h)| serde_json::json!({"kind": k, "pairs": n, "hits": h})).collect::<Vec<_>>(),
            "false_hit_pairs": false_hits,
            "missed_hit_pairs": missed,
        }));
    } else {
        outln(&format!(
            "{} pairs · threshold {threshold} · similarity: {}",
            results.len(),
            embed_model.as_deref().map_or("words only".to_string(), |m| format!("{m} embeddings + words"))
        ));
        outln(&format!("precision {:.1}% ({tp} right hits, {fp} false hits)", precision * 100.0));
        outln(&format!("recall    {:.1}% ({fn_} rewordings missed)", recall * 100.0));
        let ms = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.2} ms"));
        outln(&format!(
            "lookup    hit {} · miss {} (mean; embedding adds {} per prompt)",
            ms(mean(true)),
            ms(mean(false)),
            ms(embed_ms)
        ));
        let rows: Vec<Vec<String>> =
            by_kind.iter().map(|(k, n, h)| vec![k.clone(), n.to_string(), h.to_string()]).collect();
        outln(&table(&["EXPECT/KIND", "PAIRS", "HITS"], &rows));
        for f in &false_hits {
            outln(&format!("false hit: {} / {}", f["a"], f["b"]));
        }
    }
    Ok(())
}
