//! Ollama's wire types (https://github.com/ollama/ollama/blob/main/docs/api.md).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "tool" => Some(Role::Tool),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: String,
    /// The functions an assistant message asks to call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// On a `tool` message: the function whose result `content` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message { role, content: content.into(), tool_calls: Vec::new(), tool_name: None }
    }

    /// The result of one tool call, sent back to the model.
    pub fn tool_result(tool_name: impl Into<String>, content: impl Into<String>) -> Self {
        Message { tool_name: Some(tool_name.into()), ..Message::new(Role::Tool, content) }
    }
}

/// A function the model may call: Ollama's `tools` entries, whose
/// `parameters` is a JSON Schema object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: ToolFunction,
}

impl Tool {
    pub fn function(name: impl Into<String>, description: impl Into<String>, parameters: serde_json::Value) -> Self {
        Tool {
            kind: "function".into(),
            function: ToolFunction { name: name.into(), description: description.into(), parameters },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolFunction {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub parameters: serde_json::Value,
}

/// One call the model asked for; `arguments` is a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Set by newer Ollama servers; echoed back unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub function: CalledFunction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalledFunction {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default = "empty_object")]
    pub arguments: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Model options Vuhitra sets; Ollama accepts more.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Options {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_ctx: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_predict: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    /// Functions the model may call instead of (or before) answering.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    pub stream: bool,
    pub options: Options,
}

impl ChatRequest {
    /// A streamed request without tools.
    pub fn new(model: impl Into<String>, messages: Vec<Message>, options: Options) -> Self {
        ChatRequest { model: model.into(), messages, tools: Vec::new(), stream: true, options }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GenerateRequest {
    pub model: String,
    pub prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub stream: bool,
    pub options: Options,
}

/// Timing and token fields Ollama puts on the final (`done`) record;
/// durations are nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    #[serde(default)]
    pub total_duration: u64,
    #[serde(default)]
    pub load_duration: u64,
    #[serde(default)]
    pub prompt_eval_count: u64,
    #[serde(default)]
    pub prompt_eval_duration: u64,
    #[serde(default)]
    pub eval_count: u64,
    #[serde(default)]
    pub eval_duration: u64,
}

impl Metrics {
    /// Adds another call's counts and durations (several calls, one answer).
    pub fn add(&mut self, m: &Metrics) {
        self.total_duration += m.total_duration;
        self.load_duration += m.load_duration;
        self.prompt_eval_count += m.prompt_eval_count;
        self.prompt_eval_duration += m.prompt_eval_duration;
        self.eval_count += m.eval_count;
        self.eval_duration += m.eval_duration;
    }

    /// Generation speed, tokens per second.
    pub fn eval_rate(&self) -> Option<f64> {
        (self.eval_duration > 0).then(|| self.eval_count as f64 / (self.eval_duration as f64 / 1e9))
    }
}

/// One NDJSON record of a streamed `/api/chat` or `/api/generate`. An
/// `error` field may arrive instead of content when generation fails midway.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamRecord {
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub message: Option<Message>,
    /// `/api/generate` puts text here.
    #[serde(default)]
    pub response: Option<String>,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub done_reason: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// A finished chat or generate call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    pub model: String,
    pub content: String,
    /// The tool calls the answer asked for (chat with `tools` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    pub done_reason: Option<String>,
    pub metrics: Metrics,
    /// The context window Vuhitra asked for.
    pub num_ctx: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbedResponse {
    pub model: String,
    pub embeddings: Vec<Vec<f32>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelDetails {
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub family: String,
    #[serde(default)]
    pub parameter_size: String,
    #[serde(default)]
    pub quantization_level: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalModel {
    pub name: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub modified_at: String,
    #[serde(default)]
    pub details: ModelDetails,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TagsResponse {
    #[serde(default)]
    pub models: Vec<LocalModel>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShowResponse {
    #[serde(default)]
    pub parameters: String,
    #[serde(default)]
    pub template: String,
    #[serde(default)]
    pub details: ModelDetails,
    #[serde(default)]
    pub model_info: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

impl ShowResponse {
    pub fn architecture(&self) -> Option<&str> {
        self.model_info.get("general.architecture")?.as_str()
    }

    /// The model's trained context length (`<arch>.context_length`).
    pub fn context_length(&self) -> Option<u32> {
        let arch = self.architecture()?;
        let n = self.model_info.get(&format!("{arch}.context_length"))?.as_u64()?;
        u32::try_from(n).ok()
    }

    pub fn parameter_count(&self) -> Option<u64> {
        self.model_info.get("general.parameter_count")?.as_u64()
    }

    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| c == name)
    }
}

/// One progress record of `/api/pull`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PullProgress {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub completed: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct VersionResponse {
    pub version: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_record_carries_metrics() {
        let line = r#"{"model":"m","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":5000,"load_duration":100,"prompt_eval_count":12,"prompt_eval_duration":300,"eval_count":40,"eval_duration":2000000000}"#;
        let r: StreamRecord = serde_json::from_str(line).unwrap();
        assert!(r.done);
        assert_eq!(r.done_reason.as_deref(), Some("stop"));
        assert_eq!(r.metrics.prompt_eval_count, 12);
        assert_eq!(r.metrics.eval_count, 40);
        assert_eq!(r.metrics.eval_rate(), Some(20.0));
    }

    /// Records as a real Ollama (v0.24.0, a tools-capable model) streamed
    /// them: the call arrives whole in one message, arguments as an object.
    #[test]
    fn tool_calls_parse_from_a_streamed_record() {
        let line = r#"{"model":"smollm2-tools","created_at":"2026-12-01T00:00:00Z","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_k1","function":{"index":0,"name":"get_weather","arguments":{"city":"Paris","days":2}}}]},"done":false}"#;
        let r: StreamRecord = serde_json::from_str(line).unwrap();
        let calls = &r.message.unwrap().tool_calls;
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].function.name, "get_weather");
        assert_eq!(calls[0].function.arguments["city"], "Paris");
        assert_eq!(calls[0].function.arguments["days"], 2);
        // Older servers send neither id nor index.
        let old = r#"{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{}}}]}"#;
        let m: Message = serde_json::from_str(old).unwrap();
        assert_eq!(m.tool_calls[0].id, None);
    }

    #[test]
    fn requests_carry_tools_and_tool_results() {
        let tool = Tool::function(
            "get_weather",
            "Weather for a city",
            serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        );
        let mut req = ChatRequest::new("m", vec![Message::new(Role::User, "weather in Paris?")], Options::default());
        req.tools.push(tool);
        req.messages.push(Message::tool_result("get_weather", "sunny"));
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["tools"][0]["type"], "function");
        assert_eq!(v["tools"][0]["function"]["parameters"]["required"][0], "city");
        assert_eq!(v["messages"][1]["role"], "tool");
        assert_eq!(v["messages"][1]["tool_name"], "get_weather");
        // Plain messages and tool-less requests stay as they were on the wire.
        assert!(v["messages"][0].get("tool_calls").is_none());
        let plain = serde_json::to_value(ChatRequest::new("m", vec![], Options::default())).unwrap();
        assert!(plain.get("tools").is_none());
    }

    #[test]
    fn show_reads_context_length_from_model_info() {
        let body = r#"{"details":{"family":"gemma3","parameter_size":"268.10M","quantization_level":"Q4_K_M"},
            "model_info":{"general.architecture":"gemma3","gemma3.context_length":32768,"general.parameter_count":268098176},
            "capabilities":["completion"]}"#;
        let s: ShowResponse = serde_json::from_str(body).unwrap();
        assert_eq!(s.context_length(), Some(32768));
        assert_eq!(s.parameter_count(), Some(268_098_176));
        assert!(s.has_capability("completion"));
        assert!(!s.has_capability("tools"));
    }
}
