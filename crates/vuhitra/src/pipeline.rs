//! The prompt pipeline shared by one-shot chat and the REPL:
//! keywords -> context files -> model call (streamed, cancellable) -> record.
//!
//! Later stages of the design (NLP analysis, prompt cache, heuristics) slot
//! in between these steps.

use std::path::PathBuf;

use vuhitra_core::context_files::{compose_prompt, read_context_file, ContextFile};
use vuhitra_core::keywords::{self, Keyword};
use vuhitra_llm::{ChatRequest, Completion, Message, OllamaClient, Options, Role};
use vuhitra_nlp::{Analysis, Analyzer, SignatureMode};
use vuhitra_store::{Store, Turn};

use crate::exit::Interrupted;

/// A prompt after keyword parsing, with its context files read and checked
/// and the question analysed.
pub struct PreparedPrompt {
    /// The text the user asked (keywords removed).
    pub question: String,
    /// The full user message: context files, then the question.
    pub message: String,
    pub context_labels: Vec<String>,
    pub analysis: Analysis,
    /// The signature under the configured PROMPT_SIGNATURE mode.
    pub signature: String,
}

/// What the pipeline needs to analyse prompts; built once per process.
pub struct PromptAnalysis {
    pub analyzer: Analyzer,
    pub mode: SignatureMode,
}

impl PromptAnalysis {
    pub fn new(config: &vuhitra_core::Config) -> Self {
        PromptAnalysis {
            analyzer: Analyzer::new(),
            mode: SignatureMode::parse(&config.prompt_signature).unwrap_or(SignatureMode::Nlp),
        }
    }
}

/// Parses keywords, refuses ones whose feature is not built, reads every
/// context file (from flags, `@file:` and the REPL's /file) under the size
/// limit, and analyses the question. Nothing is sent anywhere until all of
/// this has passed.
pub fn prepare(
    raw_prompt: &str,
    mut attached: Vec<ContextFile>,
    extra_files: &[PathBuf],
    limit: u64,
    nlp: &PromptAnalysis,
) -> anyhow::Result<PreparedPrompt> {
    let parsed = keywords::parse(raw_prompt)?;
    keywords::ensure_available(&parsed.keywords)?;
    let keyword_files = parsed.keywords.iter().filter_map(|k| match k {
        Keyword::File(p) => Some(p.clone()),
        _ => None,
    });
    for path in extra_files.iter().cloned().chain(keyword_files) {
        attached.push(read_context_file(&path, limit)?);
    }
    if parsed.text.trim().is_empty() && attached.is_empty() {
        return Err(crate::exit::usage("the prompt is empty", Some("write a question after the keywords")));
    }
    let analysis = nlp.analyzer.analyze(&parsed.text);
    let signature = analysis.signature.get(nlp.mode).to_string();
    Ok(PreparedPrompt {
        message: compose_prompt(&attached, &parsed.text),
        context_labels: attached.iter().map(|f| f.label.clone()).collect(),
        question: parsed.text,
        analysis,
        signature,
    })
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
}

impl Conversation {
    pub fn request(&self, user_message: &str) -> ChatRequest {
        let mut messages = Vec::with_capacity(self.history.len() + 2);
        if let Some(s) = &self.system {
            messages.push(Message::new(Role::System, s.clone()));
        }
        messages.extend(self.history.iter().cloned());
        messages.push(Message::new(Role::User, user_message));
        ChatRequest { model: self.model.clone(), messages, stream: true, options: self.options.clone() }
    }

    /// Sends one prepared prompt, streaming the answer to `on_token`. Ctrl-C
    /// cancels the request and leaves the conversation as it was.
    pub async fn turn(
        &mut self,
        client: &OllamaClient,
        store: &mut Store,
        prompt: &PreparedPrompt,
        on_token: impl FnMut(&str),
    ) -> anyhow::Result<Completion> {
        let user_message = prompt.message.as_str();
        let req = self.request(user_message);
        let result = tokio::select! {
            r = client.chat(req, on_token) => r,
            _ = tokio::signal::ctrl_c() => {
                return Err(Interrupted { what: "the answer was cancelled".into(), hint: None }.into());
            }
        };
        let session_id = self.session.as_ref().map(|(id, _)| *id);
        let completion = match result {
            Ok(c) => c,
            Err(e) => {
                // A failed call is still an interaction worth keeping.
                let turn = Turn {
                    session_id,
                    model: self.model.clone(),
                    prompt: prompt.question.clone(),
                    error: Some(e.to_string()),
                    ..analysed_turn(prompt)
                };
                if let Err(store_err) = store.record_turn(&turn) {
                    tracing::warn!("could not record the failed turn: {store_err}");
                }
                return Err(e.into());
            }
        };
        if let Some(id) = session_id {
            store.append_messages(id, &[("user", user_message), ("assistant", &completion.content)])?;
        }
        let m = &completion.metrics;
        store.record_turn(&Turn {
            session_id,
            model: completion.model.clone(),
            prompt: prompt.question.clone(),
            response: completion.content.clone(),
            error: None,
            num_ctx: completion.num_ctx,
            total_duration: m.total_duration,
            load_duration: m.load_duration,
            prompt_eval_count: m.prompt_eval_count,
            prompt_eval_duration: m.prompt_eval_duration,
            eval_count: m.eval_count,
            eval_duration: m.eval_duration,
            ..analysed_turn(prompt)
        })?;
        self.history.push(Message::new(Role::User, user_message));
        self.history.push(Message::new(Role::Assistant, completion.content.clone()));
        Ok(completion)
    }

    /// Loads a saved session's settings and history.
    pub fn load(store: &Store, name: &str, options: Options) -> anyhow::Result<Conversation> {
        let s = store.session(name)?.ok_or_else(|| vuhitra_store::StoreError::NoSuchSession(name.to_string()))?;
        let history = store
            .messages(s.id)?
            .into_iter()
            .filter_map(|m| Role::parse(&m.role).map(|r| Message::new(r, m.content)))
            .collect();
        Ok(Conversation { model: s.model, system: s.system, history, options, session: Some((s.id, s.name)) })
    }
}

/// A turn record carrying the prompt's analysis; callers fill in the rest.
fn analysed_turn(prompt: &PreparedPrompt) -> Turn {
    let a = &prompt.analysis;
    Turn {
        signature: Some(prompt.signature.clone()),
        intent: Some(a.intent.kind.as_str().to_string()),
        intent_confidence: Some(a.intent.confidence),
        sentiment: Some(a.sentiment.compound),
        ..Default::default()
    }
}

/// A one-line summary of a completion's timings, for people.
pub fn stats_line(c: &Completion) -> String {
    let m = &c.metrics;
    let rate = m.eval_rate().map(|r| format!(" · {r:.1} tok/s")).unwrap_or_default();
    format!(
        "{} · {} prompt + {} answer tokens{} · {:.2} s",
        c.model,
        m.prompt_eval_count,
        m.eval_count,
        rate,
        m.total_duration as f64 / 1e9
    )
}

pub fn completion_json(c: &Completion, session: Option<&str>, prompt: &PreparedPrompt) -> serde_json::Value {
    let m = &c.metrics;
    let a = &prompt.analysis;
    serde_json::json!({
        "analysis": {
            "intent": a.intent.kind.as_str(),
            "intent_confidence": a.intent.confidence,
            "sentiment": a.sentiment.compound,
            "signature": prompt.signature,
        },
        "answer": c.content,
        "model": c.model,
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
