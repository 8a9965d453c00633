//! `vuhitra chat`: one-shot when given a prompt (or piped input), the REPL
//! when run on a terminal without one.

use std::io::IsTerminal;

use vuhitra_core::context_files::read_context_stream;
use vuhitra_llm::Options;

use crate::app::App;
use crate::cli::ChatArgs;
use crate::output::{self, out, outln};
use crate::pipeline::{self, Conversation, Pipeline};

pub fn run(app: &App, rt: &tokio::runtime::Runtime, args: ChatArgs) -> anyhow::Result<()> {
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
        return super::repl::run(app, rt, &args, options);
    }

    let mut pipeline = Pipeline::new(&app.config);
    let prepared = pipeline.prepare(&prompt, attached, &args.files, app.config.max_context_file_size)?;
    if super::files::upload_for_prompt(app, &prepared)? {
        return Ok(());
    }
    if let Some(files) = &prepared.data_files {
        let model = args.model.as_deref();
        return rt.block_on(super::ask::answer_in_chat(app, &mut pipeline, &prepared, files, model, &mut None));
    }
    rt.block_on(pipeline.ensure_intel(app, &prepared))?;
    let mut store = app.store()?;
    let mut convo = open_conversation(app, &store, &args, options)?;
    let client = app.ollama();
    let stream_to_stdout = !app.json;
    let outcome = rt.block_on(convo.turn(&client, &mut store, &pipeline, &prepared, |t| {
        if stream_to_stdout {
            out(t);
        }
    }))?;
    if app.json {
        output::json(&pipeline::completion_json(&outcome, convo.session.as_ref().map(|(_, n)| n.as_str()), &prepared));
    } else {
        if !outcome.completion.content.ends_with('\n') {
            outln("");
        }
        report_turn(&outcome, output::stdout_is_tty());
    }
    Ok(())
}

/// Notes after an answer, on stderr: always when the answer was cached or
/// used corrections (so a script's log shows it), the timing line on a terminal.
pub fn report_turn(outcome: &pipeline::TurnOutcome, interactive: bool) {
    if let Some(model) = &outcome.routed {
        if interactive {
            eprintln!("{}", output::dim(&format!("routed to {model} by the prompt's intent")));
        }
    }
    for id in &outcome.corrections {
        eprintln!("{}", output::dim(&format!("note: the model was given the correction from record {id}")));
    }
    if outcome.cached.is_some() || (interactive && output::stderr_is_tty()) {
        eprintln!("{}", output::dim(&pipeline::stats_line(outcome)));
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
    let routes = if args.model.is_some() { Default::default() } else { app.config.intent_models.clone() };
    let Some(name) = &args.session else {
        let model = args.model.clone().unwrap_or_else(|| app.config.model.clone());
        return Ok(Conversation { routes, ..Conversation::new(model, args.system.clone(), options) });
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
    convo.routes = routes;
    Ok(convo)
}
