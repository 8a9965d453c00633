//! Vuhitra as an MCP server over stdio. What the tools do is the host's
//! business ([`ToolHost`]); this module speaks the protocol: the tool list
//! with input schemas, arguments checked before the host sees them, and a
//! failure returned as a tool error (`isError`), which the calling model can
//! read and act on, rather than as a protocol error.

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler, ServiceExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::McpError;

/// One tool the host offers.
#[derive(Debug, Clone)]
pub struct HostTool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: String,
    pub input_schema: Value,
    pub output_schema: Option<Value>,
}

/// What a tool call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct HostOutput {
    pub text: String,
    pub structured: Option<Value>,
    pub is_error: bool,
}

impl HostOutput {
    pub fn text(text: impl Into<String>) -> Self {
        HostOutput { text: text.into(), structured: None, is_error: false }
    }

    /// Structured content, with `text` as its readable form.
    pub fn structured(value: Value, text: impl Into<String>) -> Self {
        HostOutput { text: text.into(), structured: Some(value), is_error: false }
    }

    pub fn error(message: impl Into<String>) -> Self {
        HostOutput { text: message.into(), structured: None, is_error: true }
    }
}

/// The tools themselves. Every tool is read-only: `serve` marks them so,
/// and a host must keep them so.
pub trait ToolHost: Send + Sync + 'static {
    fn tools(&self) -> Vec<HostTool>;
    fn call(&self, name: &str, args: serde_json::Map<String, Value>) -> impl Future<Output = HostOutput> + Send;
}

pub struct Server<H> {
    host: Arc<H>,
    tools: Vec<HostTool>,
    instructions: String,
}

impl<H: ToolHost> Server<H> {
    pub fn new(host: H, instructions: impl Into<String>) -> Self {
        let tools = host.tools();
        Server { host: Arc::new(host), tools, instructions: instructions.into() }
    }

    fn listed(&self) -> Vec<Tool> {
        self.tools
            .iter()
            .map(|t| {
                let schema = t.input_schema.as_object().cloned().unwrap_or_default();
                let annotations =
                    ToolAnnotations::with_title(t.title).read_only(true).destructive(false).open_world(false);
                let mut tool = Tool::new(t.name, t.description.clone(), Arc::new(schema))
                    .with_title(t.title)
                    .with_annotations(annotations);
                if let Some(out) = t.output_schema.as_ref().and_then(Value::as_object) {
                    tool = tool.with_raw_output_schema(Arc::new(out.clone()));
                }
                tool
            })
            .collect()
    }

    /// One call: the tool looked up, its arguments checked, then the host.
    pub async fn call(&self, name: &str, args: serde_json::Map<String, Value>) -> Result<HostOutput, ErrorData> {
        let Some(tool) = self.tools.iter().find(|t| t.name == name) else {
            let names: Vec<&str> = self.tools.iter().map(|t| t.name).collect();
            return Err(ErrorData::invalid_params(
                format!("unknown tool \"{name}\" (the tools are: {})", names.join(", ")),
                None,
            ));
        };
        if let Err(e) = crate::toolbox::check_arguments(tool.name, &tool.input_schema, &args) {
            return Ok(HostOutput::error(e.to_string()));
        }
        Ok(self.host.call(name, args).await)
    }
}

impl<H: ToolHost> ServerHandler for Server<H> {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("vuhitra", env!("CARGO_PKG_VERSION")))
            .with_instructions(self.instructions.clone())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.listed()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let out = self.call(&request.name, request.arguments.unwrap_or_default()).await?;
        let mut result = match (out.structured, out.is_error) {
            (Some(v), false) => CallToolResult::structured(v),
            (Some(v), true) => CallToolResult::structured_error(v),
            (None, false) => CallToolResult::success(Vec::new()),
            (None, true) => CallToolResult::error(Vec::new()),
        };
        result.content = vec![ContentBlock::text(out.text)];
        Ok(CallToolResponse::Complete(result))
    }
}

/// Serves `server` on stdin/stdout until the client closes the connection
/// or `cancel` fires.
pub async fn serve_stdio<H: ToolHost>(server: Server<H>, cancel: &CancellationToken) -> Result<(), McpError> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpError::server("vuhitra", format!("the client's handshake failed: {e}")))?;
    let stop = running.cancellation_token();
    tokio::select! {
        r = running.waiting() => { r.map_err(|e| McpError::server("vuhitra", e.to_string()))?; }
        _ = cancel.cancelled() => stop.cancel(),
    }
    Ok(())
}
