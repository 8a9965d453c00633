//! `vuhitra chat`: one-shot when given a prompt (or piped input), the REPL
//! when run on a terminal without one. Both hand each prompt to
//! [`dispatch`], which does what the prepared prompt asks for.

use std::io::IsTerminal;

use vuhitra_core::context_files::read_context_stream;
use vuhitra_llm::{OllamaClient, Options};
use vuhitra_pipeline::{Action, CancellationToken, Conversation, Pipeline, PreparedPrompt, Router, TurnOutcome};
use vuhitra_store::Store;

use crate::app::App;
use crate::cli::ChatArgs;
use crate::exit::Status;
use crate::output::{self, outln};

pub fn run(app: &App, rt: &tokio::runtime::Runtime, args: ChatArgs) -> anyhow::Result<Status> {
    let stdin_is_tty = std::io::stdin().is_terminal();
    let mut prompt = args.prompt.join(" ");
    let mut attached = Vec::new();
    if !stdin_is_tty {
        let piped = read_context_stream(std::io::stdin().lock(), "stdin", app.config.max_context_file_size)?;
        if prompt.trim().is_empty() {
            // `echo "question" | vuhitra chat`: the input is the prompt.
            prompt = piped.text;
        } else if !piped.text.trim().is_empty() {
            attached.push(piped);
        }
    }
    let options =
        Options { temperature: args.temperature, seed: args.seed, num_predict: args.max_tokens, num_ctx: None };
    if prompt.trim().is_empty() {
        if !stdin_is_tty {
            return Err(crate::exit::usage("no prompt: stdin was empty", Some("pass a prompt: vuhitra chat \"...\"")));
        }
        if app.json {
            return Err(crate::exit::usage("--json needs a prompt; the REPL is interactive", None));
        }
        return super::repl::run(app, rt, &args, options).map(|()| Status::Success);
    }

    let mut pipeline = app.pipeline()?;
    let prepared = pipeline.prepare(&prompt, attached, &args.files, app.config.max_context_file_size)?;
    let mut store = app.store()?;
    // Only a chat turn belongs to a session: `--session` with an upload or a
    // data question neither creates nor changes one.
    let mut convo = match prepared.action {
        Action::Answer => open_conversation(app, &store, &args, options)?,
        _ => Conversation::new(app.config.model.clone(), None, options),
    };
    // The model the user named wins over MODEL_DATA for a data question.
    let named = args.model.clone();
    let client = app.ollama();
    let mut tools = super::chat_tools::ChatTools::new(app, args.tools, args.yes, args.mcp_config.as_deref());
    let markdown = output::renders_markdown(app.json, args.raw);
    let mut rag = super::rag::RagState::new(args.rag.clone());
    if rag.collection.is_some() {
        rt.block_on(rag.check(app))?;
    }
    let mut chat = Chat {
        app,
        client: &client,
        store: &mut store,
        pipeline: &mut pipeline,
        convo: &mut convo,
        tools: &mut tools,
        markdown,
        rag: &mut rag,
    };
    let cancel = app.cancel_token(rt.handle());
    let stream = !app.json && !args.no_stream;
    let dispatched = rt.block_on(chat.dispatch(&prepared, named.as_deref(), &cancel, stream));
    rt.block_on(tools.close());
    match dispatched? {
        Dispatched::Uploaded => Ok(Status::Success),
        Dispatched::Asked(status) | Dispatched::Developed(status) => Ok(status),
        Dispatched::Answered(outcome) => {
            let session = convo.session.as_ref().map(|(_, n)| n.as_str());
            show_answer(app, &outcome, session, &prepared, &mut rag, stream, markdown);
            Ok(Status::Success)
        }
    }
}

/// A one-shot answer once its turn is done: under --json one object (with
/// the RAG sources and citation check when there were sources); otherwise
/// the answer (unless it was streamed), its sources, then the turn's line.
pub fn show_answer(
    app: &App,
    outcome: &TurnOutcome,
    session: Option<&str>,
    prepared: &PreparedPrompt,
    rag: &mut super::rag::RagState,
    streamed: bool,
    markdown: bool,
) {
    let content = &outcome.completion.content;
    if app.json {
        let mut v = completion_json(outcome, session, prepared);
        if let Some(sources) = rag.take_sources_json(content) {
            v["rag"] = sources;
        }
        output::json(&v);
        return;
    }
    if !streamed {
        output::AnswerPrinter::print(markdown, content);
    }
    if !content.ends_with('\n') {
        outln("");
    }
    rag.print_sources(content);
    report_turn(outcome, output::stdout_is_tty());
}

/// What a chat prompt needs, in one-shot mode and in the REPL alike.
pub struct Chat<'a> {
    pub app: &'a App,
    pub client: &'a OllamaClient,
    pub store: &'a mut Store,
    pub pipeline: &'a mut Pipeline,
    pub convo: &'a mut Conversation,
    pub tools: &'a mut super::chat_tools::ChatTools,
    /// Answers are rendered as Markdown (see [`output::renders_markdown`]).
    pub markdown: bool,
    /// `--rag` / `/rag`: the collection chat prompts are answered from.
    pub rag: &'a mut super::rag::RagState,
}

/// What [`Chat::dispatch`] did.
pub enum Dispatched {
    /// `@upload` alone: the files were copied (and listed).
    Uploaded,
    /// `@analyze`: the question was answered (and shown) with checked SQL,
    /// or every try was shown and it failed.
    Asked(Status),
    /// A chat turn; the answer was streamed when asked to.
    Answered(TurnOutcome),
    /// `@devmode`: the task ran in dev mode (and was reported).
    Developed(Status),
}

impl Chat<'_> {
    /// Does what the prepared prompt asks for: uploads first, then a data
    /// question or a chat turn. `data_model` is the model a data question
    /// uses instead of MODEL_DATA.
    pub async fn dispatch(
        &mut self,
        prompt: &PreparedPrompt,
        data_model: Option<&str>,
        cancel: &CancellationToken,
        stream: bool,
    ) -> anyhow::Result<Dispatched> {
        let app = self.app;
        super::files::upload_for_prompt(app, prompt)?;
        match &prompt.action {
            Action::UploadOnly => Ok(Dispatched::Uploaded),
            Action::DataQuestion(files) => {
                let last = &mut self.convo.last_record;
                let status =
                    super::ask::answer_in_chat(app, self.pipeline, prompt, files, data_model, last, cancel).await?;
                Ok(Dispatched::Asked(status))
            }
            Action::DevTask => {
                Ok(Dispatched::Developed(super::dev::from_chat(app, &prompt.question, data_model).await?))
            }
            Action::Answer => {
                // With a RAG collection the prompt carries its sources, and
                // the system prompt says how to treat them.
                let augmented = self.rag.augment(app, self.client, &self.convo.model, prompt).await?;
                let prompt = augmented.as_ref().unwrap_or(prompt);
                let saved_system = self.convo.system.clone();
                if augmented.is_some() {
                    self.convo.system = Some(super::rag::rag_system(saved_system.as_deref()));
                }
                let answered = self.answer(prompt, cancel, stream).await;
                self.convo.system = saved_system;
                if answered.is_err() {
                    self.rag.forget();
                }
                answered
            }
        }
    }

    /// A chat turn (with tool rounds when tools are on), streamed when asked.
    async fn answer(
        &mut self,
        prompt: &PreparedPrompt,
        cancel: &CancellationToken,
        stream: bool,
    ) -> anyhow::Result<Dispatched> {
        let app = self.app;
        self.pipeline.ensure_intel(prompt).await?;
        let mut printer = output::AnswerPrinter::new(self.markdown && stream);
        let on_token = |t: &str| {
            if stream {
                printer.push(t);
                if output::stdout_closed() {
                    // Nobody reads the answer any more: stop it.
                    cancel.cancel();
                }
            }
        };
        if self.tools.on || prompt.tools {
            let choice = self.convo.choose_model(self.client, self.pipeline, prompt).await;
            self.tools.check_model(self.client, &choice.model).await?;
            self.convo.tools = self.tools.toolbox(app, cancel).await?.model_tools();
            let mut runner = self.tools.runner(app);
            let rounds = app.config.mcp.max_tool_rounds;
            let (client, store, pipeline) = (self.client, &mut *self.store, &*self.pipeline);
            let turn =
                self.convo.tool_turn(client, store, pipeline, prompt, choice, cancel, on_token, &mut runner, rounds);
            let outcome = turn.await;
            printer.finish();
            self.convo.tools.clear();
            return Ok(Dispatched::Answered(outcome?));
        }
        let turn = self.convo.turn(self.client, self.store, self.pipeline, prompt, cancel, on_token);
        let outcome = turn.await;
        // Also after an error or a cancel: what was held back is shown
        // and the terminal's style restored.
        printer.finish();
        Ok(Dispatched::Answered(outcome?))
    }
}

/// Notes after an answer, on stderr: always when the answer was cached or
/// used corrections (so a script's log shows it), the timing line on a terminal.
pub fn report_turn(outcome: &TurnOutcome, interactive: bool) {
    if let (Some(model), true) = (&outcome.routed, interactive) {
        let how = match &outcome.route {
            Some(note) => format!(
                "routed to {model} by {} ({} rule; `vuhitra heuristics why {}` explains)",
                note.setting,
                note.rule,
                outcome.record_id.as_deref().unwrap_or("ID")
            ),
            None => format!("routed to {model} by the prompt's intent"),
        };
        eprintln!("{}", output::dim(&how));
    }
    for id in &outcome.corrections {
        eprintln!("{}", output::dim(&format!("note: the model was given the correction from record {id}")));
    }
    if outcome.cached.is_some() || (interactive && output::stderr_is_tty()) {
        eprintln!("{}", output::dim(&stats_line(outcome)));
    }
}

/// A fresh conversation, or the named session's, with flags applied on top.
pub fn open_conversation(
    app: &App,
    store: &vuhitra_store::Store,
    args: &ChatArgs,
    options: Options,
) -> anyhow::Result<Conversation> {
    // MODEL_<INTENT> routing applies until the user names a model.
    let router = if args.model.is_some() { Router::default() } else { Router::from_config(&app.config) };
    let Some(name) = &args.session else {
        let model = args.model.clone().unwrap_or_else(|| app.config.model.clone());
        return Ok(Conversation { router, ..Conversation::new(model, args.system.clone(), options) });
    };
    let model = args.model.clone().unwrap_or_else(|| app.config.model.clone());
    if store.session(name)?.is_none() {
        store.open_session(name, &model, args.system.as_deref())?;
    }
    let mut convo = Conversation::load(store, name, options)?;
    // Explicit flags win over what the session was saved with.
    let changed = args.model.is_some() || args.system.is_some();
    if let Some(m) = &args.model {
        convo.model = m.clone();
    }
    if let Some(s) = &args.system {
        convo.system = Some(s.clone());
    }
    if changed {
        let id = convo.session.as_ref().map(|(id, _)| *id).expect("loaded sessions have an id");
        store.update_session_settings(id, &convo.model, convo.system.as_deref())?;
    }
    convo.router = router;
    Ok(convo)
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
        "route": t.route,
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
            "total": output::millis(m.total_duration),
            "load": output::millis(m.load_duration),
            "prompt_eval": output::millis(m.prompt_eval_duration),
            "eval": output::millis(m.eval_duration),
        },
    })
}
