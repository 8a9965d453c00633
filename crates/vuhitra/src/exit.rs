//! The one error-to-exit path: a message, a hint line, and an exit code
//! (0 ok, 1 failure, 2 usage or configuration, 130 interrupted).

use std::process::ExitCode;

use vuhitra_core::config::ConfigError;
use vuhitra_core::context_files::ContextFileError;
use vuhitra_core::keywords::KeywordError;
use vuhitra_llm::OllamaError;
use vuhitra_pipeline::PipelineError;
use vuhitra_sandbox::{SandboxError, UploadError};
use vuhitra_store::StoreError;

/// A mistake in how the command was used.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    pub hint: Option<String>,
}

pub fn usage(message: impl Into<String>, hint: Option<&str>) -> anyhow::Error {
    UsageError { message: message.into(), hint: hint.map(str::to_string) }.into()
}

/// The user pressed Ctrl-C; `what` says what was abandoned.
#[derive(Debug, thiserror::Error)]
#[error("interrupted: {what}")]
pub struct Interrupted {
    pub what: String,
    pub hint: Option<String>,
}

/// What was abandoned, when `err` is a cancellation (Ctrl-C) from any layer:
/// the binary's own, the pipeline's or the sandbox's.
pub fn cancelled_what(err: &anyhow::Error) -> Option<String> {
    err.chain().find_map(|cause| {
        if let Some(i) = cause.downcast_ref::<Interrupted>() {
            return Some(i.what.clone());
        }
        if let Some(PipelineError::Cancelled { what }) = cause.downcast_ref::<PipelineError>() {
            return Some(what.clone());
        }
        if let Some(vuhitra_mcp::McpError::Cancelled) = cause.downcast_ref::<vuhitra_mcp::McpError>() {
            return Some("the MCP request".to_string());
        }
        cause.downcast_ref::<SandboxError>().filter(|e| matches!(e, SandboxError::Cancelled)).map(|e| e.to_string())
    })
}

/// How a command that ran to its end finished. A failure here has already
/// been reported by the command in its own format (doctor's table, the
/// tries of a data question, a sandboxed command's output); only the exit
/// code is left to give. Errors that still need a message travel as errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failed(u8),
}

impl Status {
    pub fn failed_if(failed: bool, code: u8) -> Status {
        if failed {
            Status::Failed(code)
        } else {
            Status::Success
        }
    }

    pub fn exit_code(self) -> ExitCode {
        match self {
            Status::Success => ExitCode::SUCCESS,
            Status::Failed(code) => ExitCode::from(code),
        }
    }
}

/// For commands that only succeed or fail with an error.
pub fn done(r: anyhow::Result<()>) -> anyhow::Result<Status> {
    r.map(|()| Status::Success)
}

struct Classified {
    code: u8,
    hint: Option<String>,
}

fn classify(err: &anyhow::Error) -> Classified {
    let c = |code, hint| Classified { code, hint };
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ConfigError>() {
            return c(2, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<UsageError>() {
            return c(2, e.hint.clone());
        }
        if cause.downcast_ref::<KeywordError>().is_some() {
            return c(2, Some("`vuhitra chat --help` lists the keywords".into()));
        }
        if let Some(e) = cause.downcast_ref::<ContextFileError>() {
            return c(2, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<OllamaError>() {
            return c(1, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<StoreError>() {
            return c(1, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<vuhitra_rag::RagError>() {
            let code = match e {
                vuhitra_rag::RagError::Interrupted => 130,
                vuhitra_rag::RagError::Path(_) | vuhitra_rag::RagError::NoEmbedModel => 2,
                _ => 1,
            };
            return c(code, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<UploadError>() {
            return c(if e.is_usage() { 2 } else { 1 }, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<vuhitra_data::DataError>() {
            return c(if e.is_input() { 2 } else { 1 }, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<SandboxError>() {
            return c(if matches!(e, SandboxError::Cancelled) { 130 } else { 1 }, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<PipelineError>() {
            let code = match e {
                PipelineError::Cancelled { .. } => 130,
                e if e.is_usage() => 2,
                _ => 1,
            };
            return c(code, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<vuhitra_mcp::McpError>() {
            let code = match e {
                vuhitra_mcp::McpError::Cancelled => 130,
                e if e.is_usage() => 2,
                vuhitra_mcp::McpError::Config(_) => 2,
                _ => 1,
            };
            return c(code, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<Interrupted>() {
            return c(130, e.hint.clone());
        }
    }
    c(1, None)
}

pub fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    let Classified { code, hint } = classify(err);
    let message = err.chain().map(ToString::to_string).collect::<Vec<_>>();
    // anyhow contexts repeat their source's text in some errors; keep each once.
    let mut parts: Vec<String> = Vec::new();
    for m in message {
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
    }
    let text = parts.join(": ");
    if json {
        let body = serde_json::json!({ "error": text, "hint": hint, "exit_code": code });
        println!("{body}");
    } else {
        let color = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let (red, yellow, reset) = if color { ("\x1b[1;31m", "\x1b[33m", "\x1b[0m") } else { ("", "", "") };
        eprintln!("{red}error:{reset} {text}");
        if let Some(h) = hint {
            eprintln!("{yellow}hint:{reset} {h}");
        }
    }
    ExitCode::from(code)
}
