//! The prompt pipeline shared by one-shot chat and the REPL:
//! keywords -> context files -> NLP analysis -> prompt cache lookup ->
//! model call (streamed, cancellable) -> heuristics record -> cache store.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use vuhitra_core::context_files::{compose_prompt, read_context_file, ContextFile};
use vuhitra_core::keywords::{self, Keyword};
use vuhitra_intel::{Hit, ScopeParts, Similarity};
use vuhitra_llm::{ChatRequest, Completion, Message, Metrics, OllamaClient, Options, Role};
use vuhitra_nlp::{sha256_hex, Analysis, Analyzer, SignatureMode};
use vuhitra_store::{now_ms, CacheEntry, HeuristicRecord, HeuristicsStore, PromptCache, Store};

use crate::app::App;
use crate::exit::Interrupted;
use crate::intel::{on_backend, Intel};

/// Whether this prompt uses the prompt cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    Off,
    /// ENABLE_PROMPT_CACHE: look up, and store the answer.
    On,
    /// `@cache`: the same, even when the cache is off.
    Forced,
}

/// A prompt after keyword parsing, with its context files read and checked
/// and the question analysed.
pub struct PreparedPrompt {
    /// The text the user asked (keywords removed).
    pub question: String,
    /// The full user message: context files, then the question.
    pub message: String,
    pub context_labels: Vec<String>,
    /// SHA-256 of each context file's text.
    pub context_hashes: Vec<String>,
    pub analysis: Analysis,
    /// The signature under the configured PROMPT_SIGNATURE mode.
    pub signature: String,
    pub cache: CacheMode,
    /// With `@analyze`: the data files (from `-f` and `@file:`) the question
    /// is about, answered with checked SQL instead of a chat turn.
    pub data_files: Option<Vec<PathBuf>>,
    /// With `@upload`: the files (from `-f` and `@file:`) to copy into the
    /// workspace first. Without a question, that is all the prompt asks.
    pub uploads: Vec<PathBuf>,
}

impl PreparedPrompt {
    /// `@upload @file:…` with no question: upload, and no model call.
    pub fn upload_only(&self) -> bool {
        !self.uploads.is_empty() && self.question.trim().is_empty()
    }
}

/// What every prompt of a process goes through; built once per process.
pub struct Pipeline {
    pub analyzer: Analyzer,
    pub mode: SignatureMode,
    pub heuristics: bool,
    pub cache_enabled: bool,
    pub threshold: f64,
    pub ttl_ms: i64,
    pub show_corrections: bool,
    /// Opened when heuristics or the cache need it.
    pub intel: Option<Intel>,
}

impl Pipeline {
    pub fn new(config: &vuhitra_core::Config) -> Self {
        Pipeline {
            analyzer: Analyzer::new(),
            mode: SignatureMode::parse(&config.prompt_signature).unwrap_or(SignatureMode::Nlp),
            heuristics: config.enable_heuristics,
            cache_enabled: config.enable_prompt_cache,
            threshold: config.prompt_cache_threshold,
            ttl_ms: config.prompt_cache_ttl_secs.saturating_mul(1000) as i64,
            show_corrections: config.show_corrections,
            intel: None,
        }
    }

    /// Opens the heuristics/cache backend if this prompt needs it.
    pub async fn ensure_intel(&mut self, app: &App, prompt: &PreparedPrompt) -> anyhow::Result<()> {
        let needed = self.heuristics || prompt.cache != CacheMode::Off;
        if needed && self.intel.is_none() {
            self.intel = Some(Intel::open(app).await?);
        }
        Ok(())
    }

    /// Records an answer made outside a conversation turn (a question about
    /// data, which takes several model calls); returns the record's id.
    pub async fn record_answer(
        &self,
        prompt: &PreparedPrompt,
        model: &str,
        metrics: &Metrics,
        error: Option<String>,
        total_ms: f64,
    ) -> Option<String> {
        let intel = self.intel.as_ref().filter(|_| self.heuristics)?;
        let mut record = heuristic_record(prompt, model, None);
        fill_metrics(&mut record, metrics);
        record.success = error.is_none();
        record.error = error;
        record.total_ms = total_ms;
        intel.record(&record).await;
        Some(record.id)
    }

    /// Parses keywords, refuses ones whose feature is not built, reads every
    /// context file (from flags, `@file:` and the REPL's /file) under the
    /// size limit, and analyses the question. Nothing is sent anywhere until
    /// all of this has passed.
    pub fn prepare(
        &self,
        raw_prompt: &str,
        mut attached: Vec<ContextFile>,
        extra_files: &[PathBuf],
        limit: u64,
    ) -> anyhow::Result<PreparedPrompt> {
        let parsed = keywords::parse(raw_prompt)?;
        keywords::ensure_available(&parsed.keywords)?;
        let keyword_files = parsed.keywords.iter().filter_map(|k| match k {
            Keyword::File(p) => Some(p.clone()),
            _ => None,
        });
        let files: Vec<PathBuf> = extra_files.iter().cloned().chain(keyword_files).collect();
        let uploads = if parsed.keywords.contains(&Keyword::Upload) {
            if files.is_empty() {
                return Err(crate::exit::usage(
                    "@upload needs a file to upload",
                    Some("name it with @file:PATH or -f PATH; it is copied into the workspace (WORKSPACE_PATH)"),
                ));
            }
            files.clone()
        } else {
            Vec::new()
        };
        let analyze = parsed.keywords.contains(&Keyword::Analyze);
        if analyze && files.is_empty() {
            return Err(crate::exit::usage(
                "@analyze needs a data file to ask about",
                Some("name it with @file:PATH or -f PATH (CSV, TSV, JSON, Parquet, Excel, or a workspace file)"),
            ));
        }
        if analyze && parsed.text.trim().is_empty() {
            return Err(crate::exit::usage("@analyze needs a question", Some("write it after the keywords")));
        }
        let data_files = if analyze {
            Some(files)
        } else {
            // Upload only (no question): the files are not read as context.
            if uploads.is_empty() || !parsed.text.trim().is_empty() {
                for path in &files {
                    attached.push(read_context_file(path, limit)?);
                }
            }
            None
        };
        if parsed.text.trim().is_empty() && attached.is_empty() && uploads.is_empty() {
            return Err(crate::exit::usage("the prompt is empty", Some("write a question after the keywords")));
        }
        let cache = if parsed.keywords.contains(&Keyword::NoCache) {
            CacheMode::Off
        } else if parsed.keywords.contains(&Keyword::Cache) {
            CacheMode::Forced
        } else if self.cache_enabled {
            CacheMode::On
        } else {
            CacheMode::Off
        };
        let analysis = self.analyzer.analyze(&parsed.text);
        let signature = analysis.signature.get(self.mode).to_string();
        Ok(PreparedPrompt {
            message: compose_prompt(&attached, &parsed.text),
            context_labels: attached.iter().map(|f| f.label.clone()).collect(),
            context_hashes: attached.iter().map(|f| sha256_hex(f.text.as_bytes())).collect(),
            question: parsed.text,
            analysis,
            signature,
            cache,
            data_files,
            uploads,
        })
    }
}

/// The state of one conversation: model, system prompt, history, and the
/// saved session it belongs to (if any).
pub struct Conversation {
    pub model: String,
    pub system: Option<String>,
    pub history: Vec<Message>,
    pub options: Options,
    /// (id, name) of the saved session that receives each turn.
    pub session: Option<(i64, String)>,
    /// Intent → model (MODEL_CODE, …); empty once the user picks a model.
    pub routes: BTreeMap<String, String>,
    /// The heuristics record of the last answer, for `/rate`.
    pub last_record: Option<String>,
}

/// An answer served from the prompt cache.
#[derive(Debug, Clone)]
pub struct CachedAnswer {
    pub entry_id: String,
    pub exact: bool,
    pub similarity: Similarity,
    pub created_at: i64,
    pub prompt: String,
}

pub struct TurnOutcome {
    pub completion: Completion,
    pub cached: Option<CachedAnswer>,
    /// The heuristics record of this turn (for `vuhitra rate`).
    pub record_id: Option<String>,
    /// Ids of earlier records whose corrections were given to the model.
    pub corrections: Vec<String>,
    /// Set when MODEL_<INTENT> chose the model.
    pub routed: Option<String>,
}

impl Conversation {
    pub fn new(model: String, system: Option<String>, options: Options) -> Self {
        Conversation {
            model,
            system,
            history: Vec::new(),
            options,
            session: None,
            routes: BTreeMap::new(),
            last_record: None,
        }
    }

    fn request(&self, model: &str, user_message: &str, notes: &[String]) -> ChatRequest {
        let mut messages = Vec::with_capacity(self.history.len() + 2 + notes.len());
        if let Some(s) = &self.system {
            messages.push(Message::new(Role::System, s.clone()));
        }
        messages.extend(self.history.iter().cloned());
        messages.extend(notes.iter().map(|n| Message::new(Role::System, n.clone())));
        messages.push(Message::new(Role::User, user_message));
        ChatRequest { model: model.to_string(), messages, stream: true, options: self.options.clone() }
    }

    /// The model for this prompt: MODEL_<INTENT> when configured and the
    /// user has not chosen one, else the conversation's model.
    fn model_for(&self, prompt: &PreparedPrompt) -> (String, Option<String>) {
        match self.routes.get(prompt.analysis.intent.kind.as_str()) {
            Some(m) if *m != self.model => (m.clone(), Some(m.clone())),
            _ => (self.model.clone(), None),
        }
    }

    fn cache_scope(&self, model: &str, prompt: &PreparedPrompt) -> String {
        let history: Vec<(&str, &str)> = self.history.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect();
        vuhitra_intel::scope(&ScopeParts {
            model,
            system: self.system.as_deref(),
            temperature: self.options.temperature,
            context_hashes: &prompt.context_hashes,
            history: &history,
        })
    }

    /// Answers one prepared prompt: from the prompt cache when a guarded hit
    /// exists, else from the model, streamed to `on_token`. Ctrl-C cancels
    /// the request and leaves the conversation as it was.
    pub async fn turn(
        &mut self,
        client: &OllamaClient,
        store: &mut Store,
        pipeline: &Pipeline,
        prompt: &PreparedPrompt,
        mut on_token: impl FnMut(&str),
    ) -> anyhow::Result<TurnOutcome> {
        let started = Instant::now();
        let intel = pipeline.intel.as_ref();
        let (model, routed) = self.model_for(prompt);
        let session_name = self.session.as_ref().map(|(_, n)| n.clone());
        let mut record = heuristic_record(prompt, &model, session_name);
        let use_cache = prompt.cache != CacheMode::Off;
        let mut lookup = None;

        if let (true, Some(intel)) = (use_cache, intel) {
            let scope = self.cache_scope(&model, prompt);
            let l = tokio::select! {
                l = cache_lookup(intel, client, pipeline, prompt, &scope) => l?,
                _ = tokio::signal::ctrl_c() => return Err(cancelled()),
            };
            if let Some(hit) = &l.hit {
                on_token(&hit.entry.answer);
                on_backend!(intel, b => b.count_hit(&hit.entry.id, now_ms()).await)?;
                let completion = Completion {
                    model: hit.entry.model.clone(),
                    content: hit.entry.answer.clone(),
                    done_reason: Some("cached".into()),
                    metrics: Metrics::default(),
                    num_ctx: 0,
                };
                record.model = hit.entry.model.clone();
                record.success = true;
                record.cache = Some("hit".into());
                record.total_ms = started.elapsed().as_secs_f64() * 1000.0;
                let record_id = self.finish(store, pipeline, &record, prompt, &completion).await?;
                return Ok(TurnOutcome {
                    cached: Some(CachedAnswer {
                        entry_id: hit.entry.id.clone(),
                        exact: hit.exact,
                        similarity: hit.similarity,
                        created_at: hit.entry.created_at,
                        prompt: hit.entry.prompt.clone(),
                    }),
                    completion,
                    record_id,
                    corrections: Vec::new(),
                    routed,
                });
            }
            record.cache = Some("miss".into());
            lookup = Some((scope, l.vector));
        }

        let (notes, corrections) = match intel {
            Some(intel) if pipeline.show_corrections && pipeline.heuristics => {
                corrections_for(intel, pipeline, &prompt.analysis).await
            }
            _ => (Vec::new(), Vec::new()),
        };
        let req = self.request(&model, &prompt.message, &notes);
        let result = tokio::select! {
            r = client.chat(req, on_token) => r,
            _ = tokio::signal::ctrl_c() => return Err(cancelled()),
        };
        let completion = match result {
            Ok(c) => c,
            Err(e) => {
                // A failed call is still an interaction worth keeping.
                record.success = false;
                record.error = Some(e.to_string());
                record.total_ms = started.elapsed().as_secs_f64() * 1000.0;
                if let (true, Some(intel)) = (pipeline.heuristics, intel) {
                    intel.record(&record).await;
                }
                return Err(e.into());
            }
        };
        fill_metrics(&mut record, &completion.metrics);
        record.model = completion.model.clone();
        let record_id = self.finish(store, pipeline, &record, prompt, &completion).await?;
        if let (Some((scope, vector)), Some(intel)) = (lookup, intel) {
            let entry = cache_entry(pipeline, prompt, &scope, &completion, vector);
            if let Err(e) = on_backend!(intel, b => b.put(&entry).await) {
                eprintln!("warning: the answer was not cached: {e}");
            }
        }
        Ok(TurnOutcome { completion, cached: None, record_id, corrections, routed })
    }

    /// Saves the exchange to the session, records heuristics, and extends
    /// the history.
    async fn finish(
        &mut self,
        store: &mut Store,
        pipeline: &Pipeline,
        record: &HeuristicRecord,
        prompt: &PreparedPrompt,
        completion: &Completion,
    ) -> anyhow::Result<Option<String>> {
        if let Some((id, _)) = &self.session {
            store.append_messages(*id, &[("user", &prompt.message), ("assistant", &completion.content)])?;
        }
        let mut record_id = None;
        if let (true, Some(intel)) = (pipeline.heuristics, pipeline.intel.as_ref()) {
            intel.record(record).await;
            record_id = Some(record.id.clone());
        }
        self.last_record = record_id.clone();
        self.history.push(Message::new(Role::User, prompt.message.clone()));
        self.history.push(Message::new(Role::Assistant, completion.content.clone()));
        Ok(record_id)
    }

    /// Loads a saved session's settings and history.
    pub fn load(store: &Store, name: &str, options: Options) -> anyhow::Result<Conversation> {
        let s = store.session(name)?.ok_or_else(|| vuhitra_store::StoreError::NoSuchSession(name.to_string()))?;
        let history = store
            .messages(s.id)?
            .into_iter()
            .filter_map(|m| Role::parse(&m.role).map(|r| Message::new(r, m.content)))
            .collect();
        Ok(Conversation { history, session: Some((s.id, s.name)), ..Conversation::new(s.model, s.system, options) })
    }
}

fn cancelled() -> anyhow::Error {
    Interrupted { what: "the answer was cancelled".into(), hint: None }.into()
}

struct Lookup {
    hit: Option<Hit>,
    /// The prompt's embedding, kept for storing the answer.
    vector: Option<(String, Vec<f32>)>,
}

/// The guarded lookup. The exact signature is tried before the prompt is
/// embedded, so a repeated prompt costs no embedding call; on a miss the
/// vector is kept for storing the answer.
async fn cache_lookup(
    intel: &Intel,
    client: &OllamaClient,
    pipeline: &Pipeline,
    prompt: &PreparedPrompt,
    scope: &str,
) -> anyhow::Result<Lookup> {
    let (analyzer, threshold, now) = (&pipeline.analyzer, pipeline.threshold, now_ms());
    let (analysis, signature) = (&prompt.analysis, prompt.signature.as_str());
    if let Some(hit) =
        on_backend!(intel, b => vuhitra_intel::exact_hit(b, analyzer, analysis, signature, scope, now).await)?
    {
        return Ok(Lookup { hit: Some(hit), vector: None });
    }
    let vector = intel.embed(client, &prompt.question).await;
    let qv = vector.as_ref().map(|(m, v)| (m.as_str(), v.as_slice()));
    let d = on_backend!(intel, b => vuhitra_intel::similar_hit(b, analyzer, analysis, signature, qv, scope, threshold, now).await)?;
    for r in &d.refused {
        tracing::debug!("cache entry {} refused: {} (similarity {:.3})", r.entry_id, r.reason, r.similarity.combined);
    }
    Ok(Lookup { hit: d.hit, vector })
}

/// Corrections from similar prompts rated 2 or lower, as notes for the
/// model; a failure here only costs the notes.
async fn corrections_for(intel: &Intel, pipeline: &Pipeline, analysis: &Analysis) -> (Vec<String>, Vec<String>) {
    let terms = vuhitra_intel::terms_text(analysis);
    let found = match on_backend!(intel, b => b.corrections(&terms, 2, 5).await) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("could not look up corrections: {e}");
            return (Vec::new(), Vec::new());
        }
    };
    let applicable = vuhitra_intel::applicable_corrections(&pipeline.analyzer, analysis, found, 0.6, 2);
    let notes = applicable
        .iter()
        .map(|r| {
            format!(
                "An earlier answer to a similar request (\"{}\") was rated {}/5. The user's correction: {}",
                r.prompt,
                r.rating.unwrap_or(0),
                r.correction.as_deref().unwrap_or_default()
            )
        })
        .collect();
    (notes, applicable.into_iter().map(|r| r.id).collect())
}

fn heuristic_record(prompt: &PreparedPrompt, model: &str, session: Option<String>) -> HeuristicRecord {
    let a = &prompt.analysis;
    HeuristicRecord {
        id: vuhitra_store::new_id(),
        created_at: now_ms(),
        session,
        model: model.to_string(),
        prompt: prompt.question.clone(),
        terms: vuhitra_intel::terms_text(a),
        signature: prompt.signature.clone(),
        intent: a.intent.kind.as_str().to_string(),
        intent_confidence: a.intent.confidence,
        entities: vuhitra_intel::entity_labels(a),
        sentiment: a.sentiment.compound,
        context_hashes: prompt.context_hashes.clone(),
        ..Default::default()
    }
}

fn fill_metrics(r: &mut HeuristicRecord, m: &Metrics) {
    let ms = |ns: u64| ns as f64 / 1e6;
    r.success = true;
    r.prompt_tokens = m.prompt_eval_count;
    r.response_tokens = m.eval_count;
    r.total_ms = ms(m.total_duration);
    r.load_ms = ms(m.load_duration);
    r.prompt_eval_ms = ms(m.prompt_eval_duration);
    r.eval_ms = ms(m.eval_duration);
    r.tokens_per_second = m.eval_rate();
}

fn cache_entry(
    pipeline: &Pipeline,
    prompt: &PreparedPrompt,
    scope: &str,
    c: &Completion,
    vector: Option<(String, Vec<f32>)>,
) -> CacheEntry {
    vuhitra_intel::cache_entry(vuhitra_intel::NewEntry {
        prompt: &prompt.question,
        analysis: &prompt.analysis,
        signature: &prompt.signature,
        scope,
        answer: &c.content,
        model: &c.model,
        vector,
        ttl_ms: pipeline.ttl_ms,
        now: now_ms(),
    })
}

/// A one-line summary of a turn, for people.
pub fn stats_line(t: &TurnOutcome) -> String {
    let c = &t.completion;
    if let Some(hit) = &t.cached {
        let how =
            if hit.exact { "same prompt".to_string() } else { format!("similarity {:.2}", hit.similarity.combined) };
        return format!(
            "cached answer from {} ({how}, entry {}) · {}{}",
            c.model,
            hit.entry_id,
            vuhitra_store::format_ms(hit.created_at),
            t.record_id.as_ref().map(|id| format!(" · rate it: vuhitra rate {id} 0-5")).unwrap_or_default()
        );
    }
    let m = &c.metrics;
    let rate = m.eval_rate().map(|r| format!(" · {r:.1} tok/s")).unwrap_or_default();
    format!(
        "{} · {} prompt + {} answer tokens{} · {:.2} s{}",
        c.model,
        m.prompt_eval_count,
        m.eval_count,
        rate,
        m.total_duration as f64 / 1e9,
        t.record_id.as_ref().map(|id| format!(" · id {id}")).unwrap_or_default()
    )
}

pub fn completion_json(t: &TurnOutcome, session: Option<&str>, prompt: &PreparedPrompt) -> serde_json::Value {
    let c = &t.completion;
    let m = &c.metrics;
    let a = &prompt.analysis;
    serde_json::json!({
        "id": t.record_id,
        "analysis": {
            "intent": a.intent.kind.as_str(),
            "intent_confidence": a.intent.confidence,
            "sentiment": a.sentiment.compound,
            "signature": prompt.signature,
        },
        "answer": c.content,
        "model": c.model,
        "routed": t.routed.is_some(),
        "cached": t.cached.is_some(),
        "cache": t.cached.as_ref().map(|h| serde_json::json!({
            "entry": h.entry_id,
            "exact": h.exact,
            "similarity": h.similarity,
            "cached_prompt": h.prompt,
            "created_at": vuhitra_store::format_ms(h.created_at),
        })),
        "corrections_applied": t.corrections,
        "session": session,
        "context_files": prompt.context_labels,
        "done_reason": c.done_reason,
        "num_ctx": c.num_ctx,
        "prompt_tokens": m.prompt_eval_count,
        "completion_tokens": m.eval_count,
        "tokens_per_second": m.eval_rate(),
        "timings_ms": {
            "total": crate::output::millis(m.total_duration),
            "load": crate::output::millis(m.load_duration),
            "prompt_eval": crate::output::millis(m.prompt_eval_duration),
            "eval": crate::output::millis(m.eval_duration),
        },
    })
}
