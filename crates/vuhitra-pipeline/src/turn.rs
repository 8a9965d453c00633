//! One conversation turn: model choice, the guarded cache lookup,
//! corrections, the model call, then the session, the heuristics record and
//! the cache entry. Each step is a small function of its own.

use std::time::Instant;

use tokio_util::sync::CancellationToken;
use vuhitra_intel::{Hit, ScopeParts, Similarity};
use vuhitra_llm::{ChatModel, ChatRequest, Completion, Message, Metrics, Options, Role, Tool};
use vuhitra_nlp::Analysis;
use vuhitra_store::{now_ms, CacheEntry, HeuristicRecord, HeuristicsStore, PromptCache, Store};

use crate::error::PipelineError;
use crate::intel::Intel;
use crate::prepare::{CacheMode, Pipeline, PreparedPrompt};
use crate::route::{Choice, Router};

/// The state of one conversation: model, system prompt, history, and the
/// saved session it belongs to (if any).
pub struct Conversation {
    pub model: String,
    pub system: Option<String>,
    pub history: Vec<Message>,
    pub options: Options,
    /// Functions the model may call (tool rounds are the caller's).
    pub tools: Vec<Tool>,
    /// (id, name) of the saved session that receives each turn.
    pub session: Option<(i64, String)>,
    /// Intent → candidate models (MODEL_CODE, …); empty once the user
    /// picks a model.
    pub router: Router,
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
    /// How routing chose among several candidates.
    pub route: Option<vuhitra_store::RouteNote>,
}

impl Conversation {
    pub fn new(model: String, system: Option<String>, options: Options) -> Self {
        Conversation {
            model,
            system,
            history: Vec::new(),
            options,
            tools: Vec::new(),
            session: None,
            router: Router::default(),
            last_record: None,
        }
    }

    /// The request for `user_message`: system prompt, history, correction
    /// notes, then the message.
    pub fn request(&self, model: &str, user_message: &str, notes: &[String]) -> ChatRequest {
        let mut messages = Vec::with_capacity(self.history.len() + 2 + notes.len());
        if let Some(s) = &self.system {
            messages.push(Message::new(Role::System, s.clone()));
        }
        messages.extend(self.history.iter().cloned());
        messages.extend(notes.iter().map(|n| Message::new(Role::System, n.clone())));
        messages.push(Message::new(Role::User, user_message));
        let mut req = ChatRequest::new(model, messages, self.options.clone());
        req.tools = self.tools.clone();
        req
    }

    /// The model for this prompt: MODEL_<INTENT>'s when configured and the
    /// user has not chosen one (learned among several candidates), else the
    /// conversation's model.
    pub async fn choose_model(
        &mut self,
        client: &impl ChatModel,
        pipeline: &Pipeline,
        prompt: &PreparedPrompt,
    ) -> Choice {
        let intent = prompt.analysis.intent.kind.as_str();
        self.router.choose(intent, &self.model, client, pipeline.intel.as_ref()).await
    }

    /// What must match for a cached answer to be reused here.
    pub fn cache_scope(&self, model: &str, prompt: &PreparedPrompt) -> String {
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
    /// exists, else from `model`, streamed to `on_token`. A cancelled token
    /// stops the request and leaves the conversation as it was.
    pub async fn turn(
        &mut self,
        model: &impl ChatModel,
        store: &mut Store,
        pipeline: &Pipeline,
        prompt: &PreparedPrompt,
        cancel: &CancellationToken,
        mut on_token: impl FnMut(&str),
    ) -> Result<TurnOutcome, PipelineError> {
        let started = Instant::now();
        let intel = pipeline.intel.as_ref();
        // The cache is asked before routing chooses, so a hit costs no choice.
        let scope_model = self.router.scope_model(prompt.analysis.intent.kind.as_str(), &self.model);
        let session_name = self.session.as_ref().map(|(_, n)| n.clone());
        let mut record = heuristic_record(prompt, &scope_model, session_name);
        let mut lookup = None;

        if let (true, Some(intel)) = (prompt.cache != CacheMode::Off, intel) {
            let scope = self.cache_scope(&scope_model, prompt);
            let l = tokio::select! {
                l = cache_lookup(intel, model, pipeline, prompt, &scope) => l?,
                _ = cancel.cancelled() => return Err(PipelineError::cancelled("the answer was cancelled")),
            };
            if let Some(hit) = l.hit {
                on_token(&hit.entry.answer);
                intel.backend.count_hit(&hit.entry.id, now_ms()).await?;
                let completion = Completion {
                    model: hit.entry.model.clone(),
                    content: hit.entry.answer.clone(),
                    tool_calls: Vec::new(),
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
                        entry_id: hit.entry.id,
                        exact: hit.exact,
                        similarity: hit.similarity,
                        created_at: hit.entry.created_at,
                        prompt: hit.entry.prompt,
                    }),
                    completion,
                    record_id,
                    corrections: Vec::new(),
                    routed: None,
                    route: None,
                });
            }
            record.cache = Some("miss".into());
            lookup = Some((scope, l.vector));
        }

        let Choice { model: model_name, routed, note } = self.choose_model(model, pipeline, prompt).await;
        record.model = model_name.clone();
        record.route = note.clone();
        let (notes, corrections) = correction_notes(pipeline, prompt).await;
        let req = self.request(&model_name, &prompt.message, &notes);
        let result = tokio::select! {
            r = model.chat(req, on_token) => r,
            _ = cancel.cancelled() => return Err(PipelineError::cancelled("the answer was cancelled")),
        };
        let completion = match result {
            Ok(c) => c,
            Err(e) => {
                // A failed call is still an interaction worth keeping.
                record.success = false;
                record.error = Some(e.to_string());
                record.total_ms = started.elapsed().as_secs_f64() * 1000.0;
                if let Some(intel) = pipeline.recorder() {
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
            if let Err(e) = intel.backend.put(&entry).await {
                intel.warn(&format!("the answer was not cached: {e}"));
            }
        }
        Ok(TurnOutcome { completion, cached: None, record_id, corrections, routed, route: note })
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
    ) -> Result<Option<String>, PipelineError> {
        let user = Message::new(Role::User, prompt.message.clone());
        let answer = Message {
            tool_calls: completion.tool_calls.clone(),
            ..Message::new(Role::Assistant, completion.content.clone())
        };
        self.finish_messages(store, pipeline, record, vec![user, answer]).await
    }

    /// Saves a turn's messages (the user's first) to the session, records
    /// heuristics, and extends the history.
    pub(crate) async fn finish_messages(
        &mut self,
        store: &mut Store,
        pipeline: &Pipeline,
        record: &HeuristicRecord,
        messages: Vec<Message>,
    ) -> Result<Option<String>, PipelineError> {
        if let Some((id, _)) = &self.session {
            let rows: Vec<_> = messages.iter().map(stored).collect();
            store.append_messages(*id, &rows)?;
        }
        let mut record_id = None;
        if let Some(intel) = pipeline.recorder() {
            if intel.record(record).await {
                record_id = Some(record.id.clone());
            }
        }
        self.last_record = record_id.clone();
        self.history.extend(messages);
        Ok(record_id)
    }

    /// Loads a saved session's settings and history, tool messages included.
    pub fn load(store: &Store, name: &str, options: Options) -> Result<Conversation, PipelineError> {
        let s = store.session(name)?.ok_or_else(|| vuhitra_store::StoreError::NoSuchSession(name.to_string()))?;
        let history = store.messages(s.id)?.into_iter().filter_map(from_stored).collect();
        Ok(Conversation { history, session: Some((s.id, s.name)), ..Conversation::new(s.model, s.system, options) })
    }

    /// The history as the store keeps it (for `/save`).
    pub fn stored_history(&self) -> Vec<vuhitra_store::NewMessage> {
        self.history.iter().map(stored).collect()
    }
}

/// A wire message as the session store keeps it.
fn stored(m: &Message) -> vuhitra_store::NewMessage {
    vuhitra_store::NewMessage {
        role: m.role.as_str().to_string(),
        content: m.content.clone(),
        tool_calls: (!m.tool_calls.is_empty())
            .then(|| serde_json::to_string(&m.tool_calls).expect("tool calls serialise")),
        tool_name: m.tool_name.clone(),
    }
}

fn from_stored(m: vuhitra_store::StoredMessage) -> Option<Message> {
    let role = Role::parse(&m.role)?;
    let tool_calls = m.tool_calls.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
    Some(Message { tool_calls, tool_name: m.tool_name, ..Message::new(role, m.content) })
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
    model: &impl ChatModel,
    pipeline: &Pipeline,
    prompt: &PreparedPrompt,
    scope: &str,
) -> Result<Lookup, PipelineError> {
    let (analyzer, threshold, now) = (&pipeline.analyzer, pipeline.threshold, now_ms());
    let (analysis, signature) = (&prompt.analysis, prompt.signature.as_str());
    let b = &intel.backend;
    if let Some(hit) = vuhitra_intel::exact_hit(b, analyzer, analysis, signature, scope, now).await? {
        return Ok(Lookup { hit: Some(hit), vector: None });
    }
    let vector = intel.embed(model, &prompt.question).await;
    let qv = vector.as_ref().map(|(m, v)| (m.as_str(), v.as_slice()));
    let d = vuhitra_intel::similar_hit(b, analyzer, analysis, signature, qv, scope, threshold, now).await?;
    for r in &d.refused {
        tracing::debug!("cache entry {} refused: {} (similarity {:.3})", r.entry_id, r.reason, r.similarity.combined);
    }
    Ok(Lookup { hit: d.hit, vector })
}

/// The correction notes for a prompt and the ids of the records they came
/// from, when SHOW_CORRECTIONS and heuristics are on; none otherwise.
pub(crate) async fn correction_notes(pipeline: &Pipeline, prompt: &PreparedPrompt) -> (Vec<String>, Vec<String>) {
    match pipeline.intel.as_ref() {
        Some(intel) if pipeline.show_corrections && pipeline.heuristics => {
            corrections_for(intel, pipeline, &prompt.analysis).await
        }
        _ => (Vec::new(), Vec::new()),
    }
}

/// Corrections from similar prompts rated 2 or lower, as notes for the
/// model; a failure here only costs the notes.
async fn corrections_for(intel: &Intel, pipeline: &Pipeline, analysis: &Analysis) -> (Vec<String>, Vec<String>) {
    let terms = vuhitra_intel::terms_text(analysis);
    let found = match intel.backend.corrections(&terms, 2, 5).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("could not look up corrections: {e}");
            return (Vec::new(), Vec::new());
        }
    };
    let applicable = vuhitra_intel::applicable_corrections(&pipeline.analyzer, analysis, found, 0.6, 2);
    let notes = applicable.iter().map(correction_note).collect();
    (notes, applicable.into_iter().map(|r| r.id).collect())
}

/// How an earlier correction is put to the model.
pub fn correction_note(r: &HeuristicRecord) -> String {
    format!(
        "An earlier answer to a similar request (\"{}\") was rated {}/5. The user's correction: {}",
        r.prompt,
        r.rating.unwrap_or(0),
        r.correction.as_deref().unwrap_or_default()
    )
}

/// The heuristics record of a prompt before the answer is known.
pub fn heuristic_record(prompt: &PreparedPrompt, model: &str, session: Option<String>) -> HeuristicRecord {
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

/// Ollama's counts and durations (nanoseconds) into a record (milliseconds).
pub fn fill_metrics(r: &mut HeuristicRecord, m: &Metrics) {
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

impl Pipeline {
    /// Records an answer made outside a conversation turn (a question about
    /// data, which takes several model calls). Returns the record's id, or
    /// None when heuristics are off or the record was lost (the warning has
    /// been given).
    pub async fn record_answer(
        &self,
        prompt: &PreparedPrompt,
        model: &str,
        metrics: &Metrics,
        error: Option<String>,
        total_ms: f64,
    ) -> Option<String> {
        let intel = self.recorder()?;
        let mut record = heuristic_record(prompt, model, None);
        fill_metrics(&mut record, metrics);
        record.success = error.is_none();
        record.error = error;
        record.total_ms = total_ms;
        intel.record(&record).await.then_some(record.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline() -> (vuhitra_core::Config, Pipeline) {
        let config = vuhitra_core::Config::load(&vuhitra_core::Sources::default()).unwrap();
        let pipeline = Pipeline::new(&config, |_| {});
        (config, pipeline)
    }

    fn prompt(text: &str) -> PreparedPrompt {
        pipeline().1.prepare(text, vec![], &[], 1024).unwrap()
    }

    #[test]
    fn the_request_puts_system_history_and_notes_before_the_message() {
        let mut c = Conversation::new("m".into(), Some("be brief".into()), Options::default());
        c.history.push(Message::new(Role::User, "earlier"));
        c.history.push(Message::new(Role::Assistant, "reply"));
        let req = c.request("m", "now", &["a correction".into()]);
        let roles: Vec<_> = req.messages.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect();
        assert_eq!(
            roles,
            [
                ("system", "be brief"),
                ("user", "earlier"),
                ("assistant", "reply"),
                ("system", "a correction"),
                ("user", "now")
            ]
        );
        assert!(req.stream && req.tools.is_empty());
    }

    #[tokio::test]
    async fn routing_picks_the_intents_model_until_the_user_picks_one() {
        let (config, pipeline) = pipeline();
        let mut c = Conversation::new("base".into(), None, Options::default());
        let p = pipeline.prepare("Write a Python function that reverses a string", vec![], &[], 1024).unwrap();
        // A router without several candidates never asks the server.
        let client = vuhitra_llm::OllamaClient::new(vuhitra_llm::ClientSettings {
            base_url: config.ollama_url.clone(),
            connect_timeout: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(1),
            retries: 0,
            access: Default::default(),
        });
        let choice = c.choose_model(&client, &pipeline, &p).await;
        assert_eq!((choice.model.as_str(), choice.routed), ("base", None));
        c.router.set(p.analysis.intent.kind.as_str(), vec!["coder".into()]);
        let choice = c.choose_model(&client, &pipeline, &p).await;
        assert_eq!((choice.model.as_str(), choice.routed.as_deref(), choice.note), ("coder", Some("coder"), None));
        c.router.clear();
        assert_eq!(c.choose_model(&client, &pipeline, &p).await.model, "base");
    }

    #[test]
    fn the_cache_scope_changes_with_model_history_and_context() {
        let p = prompt("what is a monad?");
        let mut c = Conversation::new("m".into(), None, Options::default());
        let fresh = c.cache_scope("m", &p);
        assert_eq!(fresh, c.cache_scope("m", &p));
        assert_ne!(fresh, c.cache_scope("other", &p));
        c.history.push(Message::new(Role::User, "earlier"));
        assert_ne!(fresh, c.cache_scope("m", &p));
    }

    #[test]
    fn tool_messages_survive_the_session_store() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("v.db")).unwrap();
        let call = vuhitra_llm::ToolCall {
            id: None,
            function: vuhitra_llm::CalledFunction {
                name: "get_weather".into(),
                index: None,
                arguments: serde_json::json!({"city": "Paris"}),
            },
        };
        let mut c = Conversation::new("m".into(), None, Options::default());
        c.history.push(Message::new(Role::User, "weather in Paris?"));
        c.history.push(Message { tool_calls: vec![call], ..Message::new(Role::Assistant, "") });
        c.history.push(Message::tool_result("get_weather", "sunny, 21 °C"));
        c.history.push(Message::new(Role::Assistant, "It is sunny."));
        store.save_session("w", "m", None, &c.stored_history()).unwrap();
        let loaded = Conversation::load(&store, "w", Options::default()).unwrap();
        assert_eq!(loaded.history, c.history);
    }

    #[test]
    fn a_record_carries_the_prompts_analysis() {
        let p = prompt("How do I sort a list in Python?");
        let r = heuristic_record(&p, "m", Some("s".into()));
        assert_eq!(r.intent, p.analysis.intent.kind.as_str());
        assert_eq!(r.signature, p.signature);
        assert_eq!(r.session.as_deref(), Some("s"));
        let mut r = r;
        fill_metrics(
            &mut r,
            &Metrics { eval_count: 10, eval_duration: 500_000_000, total_duration: 2_000_000, ..Default::default() },
        );
        assert!(r.success && r.response_tokens == 10 && r.total_ms == 2.0);
        assert_eq!(r.tokens_per_second, Some(20.0));
    }
}
