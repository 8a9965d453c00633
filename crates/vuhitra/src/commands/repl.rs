//! The chat REPL: reedline with persistent history and multi-line input
//! (end a line with `\`, or open a ``` block), slash commands, and Ctrl-C
//! that cancels an answer without leaving the REPL.

use std::borrow::Cow;

use reedline::{
    FileBackedHistory, Prompt, PromptEditMode, PromptHistorySearch, Reedline, Signal, ValidationResult, Validator,
};
use vuhitra_core::context_files::{read_context_file, ContextFile};
use vuhitra_llm::Options;

use vuhitra_pipeline::{Action, Conversation, Pipeline};

use super::chat::{Chat, Dispatched};
use crate::app::App;
use crate::cli::ChatArgs;
use crate::output::{self, outln};

const HELP: &str = "\
Commands:
  /help            this list
  /model [NAME]    show or switch the model
  /system [TEXT]   show or set the system prompt (/system - clears it)
  /file PATH       attach a file to your next message
  /clear           start over (model and system stay; a saved session is kept)
  /save NAME       save the conversation; later turns are saved too
  /load NAME       continue a saved conversation
  /sessions        list saved conversations
  /rate N [TEXT]   rate the last answer 0-5, optionally with a correction
  /tools [on|off]  offer the MCP servers' tools to the model (toggles; lists them when on)
  /rag [NAME|off]  answer from a RAG collection (cited sources), or stop; alone, shows it
  /exit            leave (Ctrl-D works too)
Keywords in a message: @file:PATH attaches a file, @cache / @nocache use or skip
the prompt cache, @analyze @file:data.csv QUESTION asks about data with checked SQL,
@upload @file:PATH copies the file into the workspace, @devmode TASK runs the task
in dev mode (the model writes files, the sandbox runs them and their tests),
@tools offers the MCP servers' tools for that message.
Multi-line input: end a line with \\ or open a ``` block.
Ctrl-C cancels an answer in progress.";

pub fn run(app: &App, rt: &tokio::runtime::Runtime, args: &ChatArgs, options: Options) -> anyhow::Result<()> {
    let mut store = app.store()?;
    let mut convo = super::chat::open_conversation(app, &store, args, options)?;
    // One client for the whole REPL: it remembers each model's context length.
    let client = app.ollama();
    let history_path = app.config.data_dir.join("history.txt");
    let history = FileBackedHistory::with_file(10_000, history_path.clone())
        .map_err(|e| anyhow::anyhow!("cannot open REPL history {}: {e}", history_path.display()))?;
    let mut editor = Reedline::create().with_history(Box::new(history)).with_validator(Box::new(MultiLine));
    let mut pipeline = app.pipeline()?;
    let mut pending: Vec<ContextFile> = Vec::new();
    // Context files given on the command line go with the first message.
    for path in &args.files {
        pending.push(read_context_file(path, app.config.max_context_file_size)?);
    }

    let mut tools = super::chat_tools::ChatTools::new(app, args.tools, args.yes, args.mcp_config.as_deref());
    let markdown = output::renders_markdown(app.json, args.raw);
    let mut rag = super::rag::RagState::new(args.rag.clone());
    if rag.collection.is_some() {
        rt.block_on(rag.check(app))?;
    }
    outln(&format!("vuhitra chat · model {} · /help for commands, /exit to leave", convo.model));
    if let Some((_, name)) = &convo.session {
        outln(&format!("session {name}: {} earlier messages", convo.history.len()));
    }
    loop {
        let prompt = ReplPrompt { model: convo.model.clone(), attached: pending.len() };
        let line = match editor.read_line(&prompt) {
            Ok(Signal::Success(line)) => line,
            Ok(Signal::CtrlC) => continue,
            Ok(Signal::CtrlD) => break,
            Ok(_) => continue,
            Err(e) => return Err(anyhow::anyhow!("terminal error: {e}")),
        };
        let input = strip_continuations(&line);
        if input.trim().is_empty() {
            continue;
        }
        if let Some(cmd) = input.trim_start().strip_prefix('/') {
            if let Some(arg) = cmd.trim().strip_prefix("tools").filter(|a| a.is_empty() || a.starts_with(' ')) {
                if let Err(e) = rt.block_on(tools_command(app, rt, &mut tools, arg.trim())) {
                    print_error(&e);
                }
                continue;
            }
            if let Some(arg) = cmd.trim().strip_prefix("rag").filter(|a| a.is_empty() || a.starts_with(' ')) {
                if let Err(e) = rt.block_on(rag_command(app, &mut rag, arg.trim())) {
                    print_error(&e);
                }
                continue;
            }
            match slash(cmd, app, rt, &client, &mut store, &pipeline, &mut convo, &mut pending) {
                Ok(Flow::Exit) => break,
                Ok(Flow::Continue) => {}
                Err(e) => print_error(&e),
            }
            continue;
        }
        let attached = std::mem::take(&mut pending);
        let prepared = match pipeline.prepare(&input, attached.clone(), &[], app.config.max_context_file_size) {
            Ok(p) => p,
            Err(e) => {
                pending = attached;
                print_error(&e.into());
                continue;
            }
        };
        // A model picked with /model wins over MODEL_DATA.
        let data_model = convo.router.is_empty().then_some(convo.model.clone());
        // Each prompt gets a live token: a Ctrl-C stops this one, not the REPL.
        let cancel = app.cancel_token(rt.handle());
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
        match rt.block_on(chat.dispatch(&prepared, data_model.as_deref(), &cancel, !args.no_stream)) {
            Ok(Dispatched::Answered(t)) => {
                super::chat::show_answer(app, &t, None, &prepared, &mut rag, !args.no_stream, markdown)
            }
            // Text attachments wait for the next chat message.
            Ok(Dispatched::Uploaded | Dispatched::Asked(_) | Dispatched::Developed(_)) => pending = attached,
            Err(e) => {
                if matches!(prepared.action, Action::Answer) {
                    outln("");
                }
                // Keep the attachments for a retry unless the answer was delivered.
                pending = attached;
                print_error(&e);
            }
        }
    }
    rt.block_on(tools.close());
    Ok(())
}

/// `/rag`, `/rag NAME`, `/rag off`.
async fn rag_command(app: &App, rag: &mut super::rag::RagState, arg: &str) -> anyhow::Result<()> {
    match arg {
        "" => match &rag.collection {
            Some(name) => outln(&format!("answering from RAG collection {name}")),
            None => outln("RAG off (/rag NAME answers from a collection)"),
        },
        "off" => {
            rag.collection = None;
            outln("RAG off");
        }
        name => {
            let before = rag.collection.replace(name.to_string());
            match rag.check(app).await {
                Ok(info) => outln(&format!(
                    "answering from {} ({} files, {} chunks); answers cite their sources as [n]",
                    info.name, info.files, info.chunks
                )),
                Err(e) => {
                    rag.collection = before;
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

enum Flow {
    Continue,
    Exit,
}

/// `/tools`, `/tools on`, `/tools off`: switches tools for the prompts that
/// follow; switching on starts the servers and lists what the model gets.
async fn tools_command(
    app: &App,
    rt: &tokio::runtime::Runtime,
    tools: &mut super::chat_tools::ChatTools,
    arg: &str,
) -> anyhow::Result<()> {
    let on = match arg {
        "" => !tools.on,
        "on" => true,
        "off" => false,
        other => return Err(crate::exit::usage(format!("/tools takes on or off, not \"{other}\""), None)),
    };
    if !on {
        tools.on = false;
        outln("tools off");
        return Ok(());
    }
    let cancel = app.cancel_token(rt.handle());
    let toolbox = tools.toolbox(app, &cancel).await?;
    let names: Vec<&str> = toolbox.tools().iter().map(|t| t.qualified.as_str()).collect();
    outln(&format!("tools on: {}", names.join(", ")));
    tools.on = true;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn slash(
    cmd: &str,
    app: &App,
    rt: &tokio::runtime::Runtime,
    client: &vuhitra_llm::OllamaClient,
    store: &mut vuhitra_store::Store,
    pipeline: &Pipeline,
    convo: &mut Conversation,
    pending: &mut Vec<ContextFile>,
) -> anyhow::Result<Flow> {
    let (name, arg) = cmd.split_once(char::is_whitespace).map_or((cmd, ""), |(n, a)| (n, a.trim()));
    match name {
        "help" | "?" => outln(HELP),
        "exit" | "quit" | "q" => return Ok(Flow::Exit),
        "model" if arg.is_empty() => outln(&format!("model: {}", convo.model)),
        "model" => {
            // Check it exists now rather than failing on the next message.
            rt.block_on(client.context_length(arg))?;
            convo.model = arg.to_string();
            // A model the user picked wins over per-intent routing.
            convo.router.clear();
            persist_settings(store, convo)?;
            outln(&format!("model set to {arg}"));
        }
        "system" if arg.is_empty() => outln(&format!("system prompt: {}", convo.system.as_deref().unwrap_or("(none)"))),
        "system" => {
            convo.system = (arg != "-").then(|| arg.to_string());
            persist_settings(store, convo)?;
            outln(if convo.system.is_some() { "system prompt set" } else { "system prompt cleared" });
        }
        "file" if arg.is_empty() => return Err(crate::exit::usage("/file needs a path", None)),
        "file" => {
            let f = read_context_file(std::path::Path::new(unquote(arg)), app.config.max_context_file_size)?;
            outln(&format!("attached {} ({} bytes) to your next message", f.label, f.text.len()));
            pending.push(f);
        }
        "clear" => {
            convo.history.clear();
            pending.clear();
            // A saved session is left as it was: clearing starts a new,
            // unsaved conversation rather than erasing the saved one.
            match convo.session.take() {
                Some((_, name)) => {
                    outln(&format!("conversation cleared; session {name} is kept (/load {name} returns to it)"))
                }
                None => outln("conversation cleared"),
            }
        }
        "rate" => {
            let (rating, correction) =
                arg.split_once(char::is_whitespace).map_or((arg, None), |(r, c)| (r, Some(c.trim())));
            let Some(id) = convo.last_record.clone() else {
                return Err(crate::exit::usage(
                    "nothing to rate yet",
                    Some("/rate applies to the last answer; heuristics must be on (ENABLE_HEURISTICS)"),
                ));
            };
            let rating = super::rate::parse_rating(rating)?;
            rt.block_on(super::rate::apply(pipeline, &id, rating, correction.filter(|c| !c.is_empty())))?;
            outln(&format!("rated {id}: {rating}/5{}", if correction.is_some() { " with a correction" } else { "" }));
        }
        "save" if arg.is_empty() => return Err(crate::exit::usage("/save needs a name", None)),
        "save" => {
            let msgs = convo.stored_history();
            store.save_session(arg, &convo.model, convo.system.as_deref(), &msgs)?;
            let id = store.session(arg)?.map(|s| s.id).expect("just saved");
            convo.session = Some((id, arg.to_string()));
            outln(&format!("saved {} messages as session {arg}", msgs.len()));
        }
        "load" if arg.is_empty() => return Err(crate::exit::usage("/load needs a name; /sessions lists them", None)),
        "load" => {
            *convo = Conversation::load(store, arg, convo.options.clone())?;
            outln(&format!("loaded session {arg}: {} messages, model {}", convo.history.len(), convo.model));
        }
        "sessions" => {
            let list = store.list_sessions()?;
            if list.is_empty() {
                outln("no saved sessions; /save NAME saves this one");
            }
            for s in list {
                outln(&format!("{}  {} messages  {}  {}", s.name, s.messages, s.model, s.updated_at));
            }
        }
        other => {
            return Err(crate::exit::usage(format!("unknown command /{other}"), Some("/help lists the commands")));
        }
    }
    Ok(Flow::Continue)
}

fn persist_settings(store: &vuhitra_store::Store, convo: &Conversation) -> anyhow::Result<()> {
    if let Some((id, _)) = &convo.session {
        store.update_session_settings(*id, &convo.model, convo.system.as_deref())?;
    }
    Ok(())
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s)
}

fn print_error(e: &anyhow::Error) {
    if let Some(what) = crate::exit::cancelled_what(e) {
        eprintln!("{}", output::dim(&format!("^C {what}")));
        return;
    }
    // Same format as the process-level report, without exiting.
    let _ = crate::exit::report(e, false);
}

/// Input is incomplete while it ends with a backslash or a ``` block is open.
struct MultiLine;

impl Validator for MultiLine {
    fn validate(&self, line: &str) -> ValidationResult {
        let fences = line.lines().filter(|l| l.trim_start().starts_with("```")).count();
        if line.ends_with('\\') || fences % 2 == 1 {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Complete
        }
    }
}

/// Removes the `\` that marked a continued line.
fn strip_continuations(input: &str) -> String {
    input.lines().map(|l| l.strip_suffix('\\').unwrap_or(l)).collect::<Vec<_>>().join("\n")
}

struct ReplPrompt {
    model: String,
    attached: usize,
}

impl Prompt for ReplPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        if self.attached > 0 {
            Cow::Owned(format!("{} +{} file(s)", self.model, self.attached))
        } else {
            Cow::Borrowed(&self.model)
        }
    }
    fn render_prompt_right(&self) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn render_prompt_indicator(&self, _mode: PromptEditMode) -> Cow<'_, str> {
        Cow::Borrowed(" > ")
    }
    fn render_prompt_multiline_indicator(&self) -> Cow<'_, str> {
        Cow::Borrowed("... ")
    }
    fn render_prompt_history_search_indicator(&self, search: PromptHistorySearch) -> Cow<'_, str> {
        Cow::Owned(format!("(search: {}) ", search.term))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_and_fences_make_input_incomplete() {
        assert!(matches!(MultiLine.validate("first \\"), ValidationResult::Incomplete));
        assert!(matches!(MultiLine.validate("```rust\nfn main() {}"), ValidationResult::Incomplete));
        assert!(matches!(MultiLine.validate("```rust\nfn main() {}\n```"), ValidationResult::Complete));
        assert!(matches!(MultiLine.validate("plain"), ValidationResult::Complete));
    }

    #[test]
    fn continuation_marks_are_removed() {
        assert_eq!(strip_continuations("one \\\ntwo"), "one \ntwo");
    }
}
