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
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message { role, content: content.into() }
    }
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
    pub stream: bool,
    pub options: Options,
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
