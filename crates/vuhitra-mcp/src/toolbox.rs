//! The enabled servers' tools, started together, as functions a model can
//! call. A model sees `server__tool`; a call is checked against the tool's
//! input schema and its result is capped before it goes back.

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::client::{CallOutcome, ClientSettings, Connection, ToolInfo};
use crate::config::{McpConfig, ServerEntry};
use crate::McpError;

/// Between the server's name and the tool's in what a model sees.
pub const SEPARATOR: &str = "__";

/// One tool, with the name a model calls it by.
#[derive(Debug, Clone)]
pub struct BoxedTool {
    pub qualified: String,
    pub server: String,
    pub tool: ToolInfo,
}

/// A server that could not be used, and why.
#[derive(Debug)]
pub struct Unavailable {
    pub server: String,
    pub error: McpError,
}

pub struct Toolbox {
    servers: Vec<(String, ServerEntry, Connection)>,
    tools: Vec<BoxedTool>,
    /// Servers that failed to start or to list their tools; the others work.
    pub unavailable: Vec<Unavailable>,
}

impl Toolbox {
    /// Starts the enabled servers (or only `only`) at once and lists their
    /// tools. A server that fails is kept in `unavailable`, not fatal.
    pub async fn start(
        config: &McpConfig,
        only: Option<&str>,
        settings: &ClientSettings,
        cancel: &CancellationToken,
    ) -> Result<Toolbox, McpError> {
        let chosen: Vec<(&String, &ServerEntry)> = match only {
            Some(name) => vec![config.servers.get_key_value(name).ok_or_else(|| McpError::NoSuchServer {
                name: name.to_string(),
                known: config.servers.keys().cloned().collect(),
            })?],
            None => config.enabled().collect(),
        };
        let started = futures_util::future::join_all(chosen.into_iter().map(|(name, entry)| async move {
            let started = async {
                let conn = Connection::start(name, entry, settings, cancel).await?;
                let tools = if conn.has_capability("tools") { conn.tools(cancel).await } else { Ok(Vec::new()) };
                match tools {
                    Ok(t) => Ok((conn, t)),
                    Err(e) => {
                        conn.close().await;
                        Err(e)
                    }
                }
            };
            (name.clone(), entry.clone(), started.await)
        }))
        .await;
        let mut toolbox = Toolbox { servers: Vec::new(), tools: Vec::new(), unavailable: Vec::new() };
        for (name, entry, outcome) in started {
            match outcome {
                Ok((conn, tools)) => {
                    for tool in tools {
                        let qualified = qualify(&name, &tool.name);
                        toolbox.tools.push(BoxedTool { qualified, server: name.clone(), tool });
                    }
                    toolbox.servers.push((name, entry, conn));
                }
                Err(McpError::Cancelled) => return Err(McpError::Cancelled),
                Err(error) => toolbox.unavailable.push(Unavailable { server: name, error }),
            }
        }
        Ok(toolbox)
    }

    pub fn tools(&self) -> &[BoxedTool] {
        &self.tools
    }

    pub fn connections(&self) -> impl Iterator<Item = &Connection> {
        self.servers.iter().map(|(_, _, c)| c)
    }

    pub fn connection(&self, server: &str) -> Option<&Connection> {
        self.servers.iter().find(|(n, _, _)| n == server).map(|(_, _, c)| c)
    }

    /// The tools as Ollama's `tools` entries.
    pub fn model_tools(&self) -> Vec<vuhitra_llm::Tool> {
        self.tools
            .iter()
            .map(|t| {
                let description = t.tool.description.clone().or_else(|| t.tool.title.clone()).unwrap_or_default();
                let mut schema = t.tool.input_schema.clone();
                if !schema.is_object() {
                    schema = serde_json::json!({"type": "object", "properties": {}});
                }
                vuhitra_llm::Tool::function(t.qualified.clone(), description, schema)
            })
            .collect()
    }

    pub fn find(&self, qualified: &str) -> Option<&BoxedTool> {
        self.tools.iter().find(|t| t.qualified == qualified)
    }

    /// Whether the server's allow-list lets `qualified` run unasked.
    pub fn allowed(&self, qualified: &str) -> bool {
        let Some(t) = self.find(qualified) else { return false };
        self.servers.iter().any(|(n, e, _)| *n == t.server && e.allows(&t.tool.name))
    }

    /// Calls a tool by the name the model used. Arguments that break the
    /// input schema are refused before anything is sent.
    pub async fn call(
        &self,
        qualified: &str,
        args: &Value,
        cancel: &CancellationToken,
    ) -> Result<CallOutcome, McpError> {
        let tool = self.find(qualified).ok_or_else(|| {
            let known: Vec<&str> = self.tools.iter().map(|t| t.qualified.as_str()).collect();
            McpError::Arguments(format!("there is no tool \"{qualified}\" (the tools are: {})", known.join(", ")))
        })?;
        let args = match args {
            Value::Object(m) => m.clone(),
            Value::Null => Default::default(),
            // Some models send the arguments as a JSON string.
            Value::String(s) => crate::schema::parse_args(Some(s)).map_err(McpError::Arguments)?,
            other => return Err(McpError::Arguments(format!("the arguments must be a JSON object, not {other}"))),
        };
        check_arguments(&tool.tool.name, &tool.tool.input_schema, &args)?;
        let conn = self.connection(&tool.server).expect("every listed tool has its connection");
        conn.call(&tool.tool.name, args, cancel).await
    }

    /// Closes every connection (each server gets the chance to exit).
    pub async fn close(self) {
        futures_util::future::join_all(self.servers.into_iter().map(|(_, _, c)| c.close())).await;
    }
}

/// Arguments checked against a tool's input schema, every problem listed.
pub fn check_arguments(tool: &str, schema: &Value, args: &serde_json::Map<String, Value>) -> Result<(), McpError> {
    let problems = crate::schema::violations(schema, &Value::Object(args.clone()));
    if problems.is_empty() {
        return Ok(());
    }
    Err(McpError::Arguments(format!("the arguments do not fit {tool}'s input schema: {}", problems.join("; "))))
}

/// `server__tool`, keeping to the characters function names allow.
pub fn qualify(server: &str, tool: &str) -> String {
    let clean: String =
        tool.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    format!("{server}{SEPARATOR}{clean}")
}

/// A result cut to `max` characters, saying how much was left out.
pub fn cap(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => {
            let total = text.chars().count();
            format!("{}\n[… {} more characters cut (MCP_MAX_RESULT_CHARS)]", &text[..at], total - max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_qualified_and_results_capped() {
        assert_eq!(qualify("fs", "read_file"), "fs__read_file");
        assert_eq!(qualify("git", "log.show/all"), "git__log_show_all");
        assert_eq!(cap("abc", 5), "abc");
        let c = cap("ééééé", 2);
        assert!(c.starts_with("éé\n[… 3 more characters cut"), "{c}");
    }

    #[test]
    fn arguments_are_checked_against_the_schema() {
        let schema = serde_json::json!({"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]});
        let utc = serde_json::json!({"timezone": "UTC"}).as_object().unwrap().clone();
        assert!(check_arguments("get_time", &schema, &utc).is_ok());
        let e = check_arguments("get_time", &schema, &Default::default()).unwrap_err().to_string();
        assert!(e.contains("get_time's input schema") && e.contains("timezone"), "{e}");
    }
}
