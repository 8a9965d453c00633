//! Tools in chat (`--tools`, `@tools`, `/tools`): the enabled MCP servers
//! are started on first use and kept for the rest of the process; each call
//! the model asks for is shown, confirmed unless `--yes` or the server's
//! allow-list covers it, run, and its (size-capped) result goes back.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;

use vuhitra_llm::{OllamaClient, ToolCall};
use vuhitra_mcp::{McpConfig, McpError, Toolbox};
use vuhitra_pipeline::{CancellationToken, PipelineError, ToolResult, ToolRunner};

use crate::app::App;
use crate::output;

pub struct ChatTools {
    /// `--tools`, or `/tools` in the REPL: every prompt gets the tools.
    pub on: bool,
    pub yes: bool,
    config_path: PathBuf,
    toolbox: Option<Toolbox>,
    /// Models whose capabilities were checked and include tools.
    capable: BTreeSet<String>,
    /// Tools the user said "always" to in this process.
    always: BTreeSet<String>,
}

impl ChatTools {
    pub fn new(app: &App, on: bool, yes: bool, config_flag: Option<&std::path::Path>) -> ChatTools {
        ChatTools {
            on,
            yes,
            config_path: super::mcp::config_path(app, config_flag),
            toolbox: None,
            capable: BTreeSet::new(),
            always: BTreeSet::new(),
        }
    }

    /// The model must say it can call tools (`/api/show` capabilities);
    /// otherwise the prompt would silently become a plain chat.
    pub async fn check_model(&mut self, client: &OllamaClient, model: &str) -> anyhow::Result<()> {
        if self.capable.contains(model) {
            return Ok(());
        }
        let show = client.show(model).await?;
        if !show.has_capability("tools") {
            return Err(crate::exit::usage(
                format!(
                    "{model} cannot call tools (its capabilities: {})",
                    if show.capabilities.is_empty() { "none listed".into() } else { show.capabilities.join(", ") }
                ),
                Some("use a model whose template supports tools (`vuhitra models show NAME` lists capabilities), or drop --tools / @tools"),
            ));
        }
        self.capable.insert(model.to_string());
        Ok(())
    }

    /// The toolbox, started on first use. Servers that fail are reported
    /// and left out; no usable tool at all is an error.
    pub async fn toolbox(&mut self, app: &App, cancel: &CancellationToken) -> anyhow::Result<&Toolbox> {
        if self.toolbox.is_none() {
            let config = McpConfig::load(&self.config_path)?;
            if config.enabled().next().is_none() {
                return Err(crate::exit::usage(
                    format!("no enabled MCP servers in {}, so there are no tools to offer", self.config_path.display()),
                    Some("add one: vuhitra mcp add NAME -- COMMAND ARGS..."),
                ));
            }
            let toolbox = Toolbox::start(&config, None, &super::mcp::settings(app), cancel).await?;
            for u in &toolbox.unavailable {
                output::warn(&format!("{} (its tools are left out)", u.error));
            }
            if toolbox.tools().is_empty() {
                let why = if toolbox.unavailable.is_empty() { "they offer no tools" } else { "none of them started" };
                return Err(anyhow::anyhow!("no MCP tools to offer: {why}"));
            }
            self.toolbox = Some(toolbox);
        }
        Ok(self.toolbox.as_ref().expect("just started"))
    }

    /// The runner for one turn.
    pub fn runner<'a>(&'a mut self, app: &App) -> Runner<'a> {
        Runner {
            toolbox: self.toolbox.as_ref().expect("started before a turn"),
            yes: self.yes,
            always: &mut self.always,
            max_chars: app.config.mcp.max_result_chars,
        }
    }

    /// Lets every server exit by itself.
    pub async fn close(self) {
        if let Some(t) = self.toolbox {
            t.close().await;
        }
    }
}

pub struct Runner<'a> {
    toolbox: &'a Toolbox,
    yes: bool,
    always: &'a mut BTreeSet<String>,
    max_chars: usize,
}

enum Answer {
    Yes,
    Always,
    No,
}

impl ToolRunner for Runner<'_> {
    async fn run(&mut self, call: &ToolCall, cancel: &CancellationToken) -> Result<ToolResult, PipelineError> {
        let name = &call.function.name;
        let args = &call.function.arguments;
        eprintln!("{}", output::dim(&format!("→ {name} {}", output::one_line(&args.to_string(), 200))));
        if self.toolbox.find(name).is_none() {
            let known: Vec<&str> = self.toolbox.tools().iter().map(|t| t.qualified.as_str()).collect();
            let message = format!("there is no tool named {name}; the tools are: {}", known.join(", "));
            eprintln!("{}", output::dim(&format!("← refused: {message}")));
            return Ok(ToolResult { content: format!("Error: {message}"), error: Some(message) });
        }
        if !(self.yes || self.toolbox.allowed(name) || self.always.contains(name)) {
            match ask(name, cancel).await? {
                Answer::Yes => {}
                Answer::Always => {
                    self.always.insert(name.clone());
                }
                Answer::No => {
                    let message = "the user declined this tool call".to_string();
                    return Ok(ToolResult {
                        content: format!("The user declined to run {name}."),
                        error: Some(message),
                    });
                }
            }
        }
        match self.toolbox.call(name, args, cancel).await {
            Ok(outcome) => {
                let mut text = outcome.text.clone();
                if let Some(s) = &outcome.structured {
                    if text.trim().is_empty() {
                        text = s.to_string();
                    }
                }
                let content = vuhitra_mcp::toolbox::cap(&text, self.max_chars);
                let what = if outcome.is_error { "tool error" } else { "result" };
                eprintln!("{}", output::dim(&format!("← {what}: {}", output::one_line(&content, 200))));
                let error = outcome.is_error.then(|| output::one_line(&text, 300));
                Ok(ToolResult { content, error })
            }
            Err(McpError::Cancelled) => Err(PipelineError::cancelled("the tool call")),
            Err(e) => {
                let message = e.to_string();
                output::warn(&message);
                Ok(ToolResult { content: format!("Error: {message}"), error: Some(message) })
            }
        }
    }
}

/// Asks on the terminal; without one, the call is declined (`--yes` or an
/// allow-list entry lets calls run unattended).
async fn ask(name: &str, cancel: &CancellationToken) -> Result<Answer, PipelineError> {
    if !std::io::stdin().is_terminal() {
        output::warn(&format!(
            "{name} was not run: there is no terminal to confirm it on (pass --yes, or add the tool to the server's \"allow\" list in mcp.json)"
        ));
        return Ok(Answer::No);
    }
    eprint!("run {name}? [y]es, [n]o, [a]lways for this tool: ");
    // Read on a thread of its own, so Ctrl-C is not stuck behind the read.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = tokio::select! {
        l = rx => l.unwrap_or_default(),
        _ = cancel.cancelled() => return Err(PipelineError::cancelled("the tool call")),
    };
    Ok(match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Answer::Yes,
        "a" | "always" => Answer::Always,
        _ => Answer::No,
    })
}
