//! Model Context Protocol for Vuhitra, on the official Rust SDK (`rmcp`):
//!
//! - [`config`]: `mcp.json`, in the `mcpServers` shape other clients use;
//! - [`client`]: one connection to one server (a child process over stdio,
//!   or streamable HTTP), with timeouts, captured stderr and errors that
//!   name the server;
//! - [`toolbox`]: the enabled servers' tools as functions a model can call
//!   (`server__tool`), with argument checks and size-capped results;
//! - [`serve`]: Vuhitra's own tools served to other MCP clients over stdio.

pub mod client;
pub mod config;
pub mod schema;
pub mod serve;

mod stdio;
pub mod toolbox;

pub use client::{CallOutcome, ClientSettings, Connection, ServerInfo, ToolInfo};
pub use config::{McpConfig, ServerEntry};
pub use toolbox::Toolbox;

/// Everything that can go wrong, each naming the server it concerns.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("MCP configuration: {0}")]
    Config(String),
    #[error("no MCP server named \"{name}\"{}", known_list(known))]
    NoSuchServer { name: String, known: Vec<String> },
    #[error("MCP server \"{server}\": {message}")]
    Server { server: String, message: String },
    #[error("{0}")]
    Arguments(String),
    #[error("cancelled")]
    Cancelled,
}

impl McpError {
    pub(crate) fn server(server: &str, message: impl Into<String>) -> McpError {
        McpError::Server { server: server.to_string(), message: message.into() }
    }

    /// A next step for the user, when there is an obvious one.
    pub fn hint(&self) -> Option<String> {
        match self {
            McpError::NoSuchServer { .. } => Some("add one: vuhitra mcp add NAME -- COMMAND ARGS...".into()),
            McpError::Config(_) => Some("see `vuhitra mcp --help` for the file's shape".into()),
            _ => None,
        }
    }

    /// Wrong input from the user (exit 2) rather than a failure.
    pub fn is_usage(&self) -> bool {
        matches!(self, McpError::Arguments(_) | McpError::NoSuchServer { .. })
    }
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        " (none is configured)".into()
    } else {
        format!(" (configured: {})", known.join(", "))
    }
}
