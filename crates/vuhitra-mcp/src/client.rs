//! One connection to one MCP server. Every request has a deadline
//! (MCP_TIMEOUT) and the caller's cancellation token; every failure says
//! which server, what it was asked, and what it left behind (its exit
//! status, the end of its stderr, stray output on stdout).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use process_wrap::tokio::ChildWrapper;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, GetPromptRequestParams, Implementation, ProtocolVersion,
    ReadResourceRequestParams,
};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::{ServerEntry, Transport};
use crate::stdio::{self, StderrTail, StdoutNotes};
use crate::McpError;

/// How connections behave.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The deadline of each request, the handshake included (MCP_TIMEOUT).
    pub timeout: Duration,
    /// How the client introduces itself.
    pub client_name: String,
    pub client_version: String,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            timeout: Duration::from_secs(30),
            client_name: "vuhitra".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// What the server said about itself in the handshake.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub protocol_version: String,
    pub name: String,
    pub version: String,
    /// The capabilities it declared (`tools`, `resources`, `prompts`, …).
    pub capabilities: Vec<String>,
    pub instructions: Option<String>,
}

/// A tool as the server lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub input_schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
}

/// A tool call's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallOutcome {
    /// The text blocks joined, with a line for each block of another kind.
    pub text: String,
    /// The content blocks as the server sent them.
    pub content: Vec<Value>,
    pub structured: Option<Value>,
    pub is_error: bool,
}

impl CallOutcome {
    fn from_result(result: &rmcp::model::CallToolResult) -> CallOutcome {
        let content: Vec<Value> =
            result.content.iter().map(|c| serde_json::to_value(c).expect("content serialises")).collect();
        CallOutcome {
            text: content_text(&content),
            content,
            structured: result.structured_content.clone(),
            is_error: result.is_error.unwrap_or(false),
        }
    }
}

/// Content blocks as text: text as it is, anything else as one line.
pub fn content_text(blocks: &[Value]) -> String {
    let lines: Vec<String> = blocks
        .iter()
        .map(|b| match b["type"].as_str() {
            Some("text") => b["text"].as_str().unwrap_or_default().to_string(),
            Some("resource") => {
                let r = &b["resource"];
                r["text"].as_str().map(str::to_string).unwrap_or_else(|| {
                    format!(
                        "[resource {} ({})]",
                        r["uri"].as_str().unwrap_or("?"),
                        r["mimeType"].as_str().unwrap_or("?")
                    )
                })
            }
            Some("resource_link") => format!("[link {}]", b["uri"].as_str().unwrap_or("?")),
            Some(kind @ ("image" | "audio")) => {
                let bytes = b["data"].as_str().map(|d| d.len() * 3 / 4).unwrap_or(0);
                format!("[{kind} {}, {bytes} bytes]", b["mimeType"].as_str().unwrap_or("?"))
            }
            _ => b.to_string(),
        })
        .collect();
    lines.join("\n")
}

/// A running connection. Dropping it kills a stdio server's whole process
/// group; [`Connection::close`] first lets the server exit by itself.
pub struct Connection {
    pub name: String,
    service: RunningService<RoleClient, ClientConfig>,
    traces: Traces,
    /// From spawning to the end of the handshake.
    pub startup: Duration,
}

type Handshake<'a> = std::pin::Pin<
    Box<
        dyn Future<Output = Result<RunningService<RoleClient, ClientConfig>, rmcp::service::ClientInitializeError>>
            + Send
            + 'a,
    >,
>;

impl Connection {
    /// Starts (or, for a URL, reaches) the server and runs the handshake.
    pub async fn start(
        name: &str,
        entry: &ServerEntry,
        settings: &ClientSettings,
        cancel: &CancellationToken,
    ) -> Result<Connection, McpError> {
        let began = Instant::now();
        // The handshake is `initialize`, so ask for the newest version that
        // has it (2025-11-25); servers answer with what they speak.
        let info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new(settings.client_name.clone(), settings.client_version.clone()),
        )
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE);
        let mut traces = Traces {
            server: name.to_string(),
            child: None,
            stderr_done: tokio::sync::Mutex::new(None),
            stderr: Default::default(),
            notes: Default::default(),
            timeout: settings.timeout,
        };
        let handshake: Handshake<'_> = match entry.transport(name)? {
            Transport::Stdio { command, args } => {
                let spawned = stdio::spawn(name, command, args, &entry.env, entry.cwd.as_deref())
                    .map_err(|e| spawn_error(name, command, entry, e))?;
                traces.child = Some(tokio::sync::Mutex::new(spawned.child));
                traces.stderr = spawned.stderr;
                traces.stderr_done = tokio::sync::Mutex::new(Some(spawned.stderr_done));
                traces.notes = spawned.notes;
                Box::pin(info.serve((spawned.stdout, spawned.stdin)))
            }
            Transport::Http { url } => {
                vuhitra_core::remote::install_tls_provider();
                let transport = StreamableHttpClientTransport::from_config(http_config(name, url, entry)?);
                Box::pin(info.serve(transport))
            }
        };
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return Err(McpError::Cancelled),
            r = tokio::time::timeout(settings.timeout, handshake) => r,
        };
        let service = match outcome {
            Ok(Ok(service)) => service,
            Ok(Err(e)) => return Err(traces.explain("the handshake", Some(e.to_string())).await),
            Err(_) => return Err(traces.explain("the handshake", None).await),
        };
        Ok(Connection { name: name.to_string(), service, traces, startup: began.elapsed() })
    }

    /// The handshake's answer.
    pub fn info(&self) -> ServerInfo {
        let Some(peer) = self.service.peer_info() else {
            return ServerInfo {
                protocol_version: "?".into(),
                name: self.name.clone(),
                version: String::new(),
                capabilities: Vec::new(),
                instructions: None,
            };
        };
        let caps = serde_json::to_value(&peer.capabilities).unwrap_or_default();
        let capabilities = caps.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        let (name, version) = match &peer.server_info {
            Some(i) => (i.name.clone(), i.version.clone()),
            None => (self.name.clone(), String::new()),
        };
        ServerInfo {
            protocol_version: peer.protocol_version.to_string(),
            name,
            version,
            capabilities,
            instructions: peer.instructions.clone(),
        }
    }

    /// A stdio server's process id (the leader of its process group).
    pub fn pid(&self) -> Option<u32> {
        let child = self.traces.child.as_ref()?;
        child.try_lock().ok()?.id()
    }

    pub fn has_capability(&self, capability: &str) -> bool {
        self.info().capabilities.iter().any(|c| c == capability)
    }

    pub async fn tools(&self, cancel: &CancellationToken) -> Result<Vec<ToolInfo>, McpError> {
        let tools = self.ask("tools/list", cancel, self.service.peer().list_all_tools()).await?;
        Ok(tools.into_iter().filter_map(|t| serde_json::from_value(serde_json::to_value(t).ok()?).ok()).collect())
    }

    /// Calls a tool. A result with `isError` is an outcome, not an error:
    /// the model (or the user) should see what the tool said.
    pub async fn call(
        &self,
        tool: &str,
        args: serde_json::Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<CallOutcome, McpError> {
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args);
        let what = format!("tools/call {tool}");
        let result = self.ask(&what, cancel, self.service.peer().call_tool(params)).await?;
        Ok(CallOutcome::from_result(&result))
    }

    pub async fn resources(&self, cancel: &CancellationToken) -> Result<Vec<Value>, McpError> {
        let list = self.ask("resources/list", cancel, self.service.peer().list_all_resources()).await?;
        Ok(list.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect())
    }

    /// A resource's contents (each with its uri, mimeType, and text or blob).
    pub async fn read(&self, uri: &str, cancel: &CancellationToken) -> Result<Vec<Value>, McpError> {
        let params = ReadResourceRequestParams::new(uri);
        let result = self.ask("resources/read", cancel, self.service.peer().read_resource(params)).await?;
        let v = serde_json::to_value(&result).unwrap_or_default();
        Ok(v["contents"].as_array().cloned().unwrap_or_default())
    }

    pub async fn prompts(&self, cancel: &CancellationToken) -> Result<Vec<Value>, McpError> {
        let list = self.ask("prompts/list", cancel, self.service.peer().list_all_prompts()).await?;
        Ok(list.iter().map(|p| serde_json::to_value(p).unwrap_or_default()).collect())
    }

    /// A prompt with its arguments filled in: its description and messages.
    pub async fn prompt(
        &self,
        name: &str,
        args: serde_json::Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<Value, McpError> {
        let mut params = GetPromptRequestParams::new(name);
        if !args.is_empty() {
            params = params.with_arguments(args);
        }
        let result = self.ask("prompts/get", cancel, self.service.peer().get_prompt(params)).await?;
        Ok(serde_json::to_value(&result).unwrap_or_default())
    }

    /// Ends the session the way the specification asks: close the server's
    /// stdin, give it a moment to exit, then kill its process group. The
    /// child is always reaped.
    pub async fn close(self) {
        let Connection { service, mut traces, .. } = self;
        let _ = service.cancel().await;
        if let Some(child) = traces.child.take() {
            let mut child = child.into_inner();
            if tokio::time::timeout(Duration::from_secs(2), child.wait()).await.is_err() {
                let _ = Box::into_pin(child.kill()).await;
            }
        }
    }

    /// One request with the deadline, the token, and a failure explained.
    async fn ask<T>(
        &self,
        what: &str,
        cancel: &CancellationToken,
        request: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, McpError> {
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return Err(McpError::Cancelled),
            r = tokio::time::timeout(self.traces.timeout, request) => r,
        };
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(ServiceError::McpError(e))) => {
                Err(McpError::server(&self.name, format!("{what} failed: {} (JSON-RPC error {})", e.message, e.code.0)))
            }
            Ok(Err(ServiceError::Cancelled { .. })) => Err(McpError::Cancelled),
            Ok(Err(ServiceError::Timeout { .. })) | Err(_) => Err(self.traces.explain(what, None).await),
            Ok(Err(e)) => Err(self.traces.explain(what, Some(e.to_string())).await),
        }
    }
}

/// What a server leaves behind, for explaining its failures.
struct Traces {
    server: String,
    child: Option<tokio::sync::Mutex<Box<dyn ChildWrapper>>>,
    stderr: Arc<Mutex<StderrTail>>,
    stderr_done: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    notes: Arc<Mutex<StdoutNotes>>,
    timeout: Duration,
}

/// A connection dropped without `close` (an error path, Ctrl-C) still
/// takes the server's whole process group with it; tokio reaps the child.
impl Drop for Traces {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.get_mut().start_kill();
        }
    }
}

impl Traces {
    /// `error` is the SDK's message; None means the deadline passed.
    async fn explain(&self, what: &str, error: Option<String>) -> McpError {
        let exited = match &self.child {
            // A closed pipe comes a moment before the exit status.
            Some(child) => {
                let mut child = child.lock().await;
                tokio::time::timeout(Duration::from_millis(500), child.wait()).await.ok().and_then(Result::ok)
            }
            None => None,
        };
        if exited.is_some() {
            // Its last words may still be in the pipe: read them first.
            if let Some(reader) = self.stderr_done.lock().await.take() {
                let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
            }
        }
        let mut message = match (&exited, &error) {
            (Some(status), _) => format!("exited during {what} ({})", describe_exit(status)),
            (None, None) => {
                format!("no answer to {what} within {} s (MCP_TIMEOUT)", self.timeout.as_secs_f64())
            }
            (None, Some(e)) => format!("{what} failed: {e}"),
        };
        let notes = self.notes.lock().expect("stdout notes lock");
        if notes.stray_lines > 0 {
            message.push_str(&format!(
                "; it wrote {} line{} to stdout that {} not MCP messages (the first: \"{}\"); a stdio server must keep stdout for the protocol",
                notes.stray_lines,
                if notes.stray_lines == 1 { "" } else { "s" },
                if notes.stray_lines == 1 { "is" } else { "are" },
                notes.first_stray.as_deref().unwrap_or_default()
            ));
        }
        let tail = self.stderr.lock().expect("stderr tail lock").text();
        let tail: Vec<&str> = tail.lines().rev().take(6).collect();
        if !tail.is_empty() {
            message.push_str("\nits stderr ends with:");
            for line in tail.iter().rev() {
                message.push_str("\n  ");
                message.push_str(line);
            }
        }
        McpError::server(&self.server, message)
    }
}

fn describe_exit(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}

fn spawn_error(name: &str, command: &str, entry: &ServerEntry, e: std::io::Error) -> McpError {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => match &entry.cwd {
            Some(dir) if !dir.is_dir() => format!("its cwd {} is not a directory", dir.display()),
            _ => format!("the command \"{command}\" was not found (is it installed and on PATH?)"),
        },
        std::io::ErrorKind::PermissionDenied => format!("the command \"{command}\" is not executable"),
        _ => format!("could not start \"{command}\": {e}"),
    };
    McpError::server(name, format!("failed to start: {why}"))
}

fn http_config(name: &str, url: &str, entry: &ServerEntry) -> Result<StreamableHttpClientTransportConfig, McpError> {
    use reqwest::header::{HeaderName, HeaderValue};
    let mut headers = std::collections::HashMap::new();
    for (k, v) in &entry.headers {
        let key = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| McpError::Config(format!("server \"{name}\": \"{k}\" is not a valid HTTP header name")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| McpError::Config(format!("server \"{name}\": the value of header \"{k}\" is not valid")))?;
        headers.insert(key, value);
    }
    Ok(StreamableHttpClientTransportConfig::with_uri(url.to_string()).custom_headers(headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_blocks_read_as_text() {
        let blocks = vec![
            json!({"type": "text", "text": "hello"}),
            json!({"type": "image", "data": "AAAA", "mimeType": "image/png"}),
            json!({"type": "resource", "resource": {"uri": "file:///a", "text": "inside"}}),
            json!({"type": "resource_link", "uri": "file:///b", "name": "b"}),
        ];
        assert_eq!(content_text(&blocks), "hello\n[image image/png, 3 bytes]\ninside\n[link file:///b]");
    }
}
