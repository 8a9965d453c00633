//! A client for Ollama's HTTP API: streamed chat and generate, embeddings,
//! model management, and context-window sizing so a prompt is never silently
//! truncated.

pub mod context;
pub mod ndjson;
pub mod types;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use url::Url;
use vuhitra_core::remote::{is_tls_failure, Access};

pub use context::{estimate_tokens, plan_num_ctx, DEFAULT_ANSWER_RESERVE};
pub use types::*;

#[derive(Debug, thiserror::Error)]
pub enum OllamaError {
    #[error("Ollama is unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("model {model:?} is not available on the Ollama server")]
    ModelNotFound { model: String },
    #[error("the prompt needs about {needed} tokens but {model} has a context window of {limit} tokens")]
    ContextTooLong { model: String, needed: u32, limit: u32 },
    #[error("Ollama did not answer within {secs} s ({url})")]
    Timeout { url: String, secs: u64 },
    #[error("Ollama returned an error ({status}): {message}")]
    Server { status: u16, message: String },
    #[error("Ollama's response could not be read: {0}")]
    Protocol(String),
    #[error("the connection to Ollama broke: {0}")]
    Transport(String),
    #[error("Ollama refused the request ({status}): {message}")]
    Login { status: u16, message: String, hint: String },
    #[error("TLS with Ollama at {url} failed: {reason}")]
    Tls { url: String, reason: String },
    #[error("cannot set up the connection to Ollama: {0}")]
    Setup(String),
}

impl OllamaError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            OllamaError::Unreachable { .. } => {
                "start it with `ollama serve`, or point OLLAMA_IP at the machine that runs it".into()
            }
            OllamaError::ModelNotFound { model } => {
                format!("run `vuhitra models pull {model}`, or pick one from `vuhitra models list`")
            }
            OllamaError::ContextTooLong { .. } => {
                "attach less context (fewer or smaller files), /clear the conversation, or use a model with a longer context".into()
            }
            OllamaError::Timeout { .. } => "raise OLLAMA_TIMEOUT, or try a smaller model".into(),
            OllamaError::Login { hint, .. } => hint.clone(),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub base_url: Url,
    pub connect_timeout: Duration,
    /// Whole-request limit, first byte to last token.
    pub timeout: Duration,
    /// Retries, with backoff, when the connection fails before any answer.
    pub retries: u32,
    /// The CA to trust and the credentials to send.
    pub access: Access,
}

pub struct OllamaClient {
    settings: ClientSettings,
    /// A bad CA file is reported by the first request, so building a
    /// client never fails.
    http: Result<reqwest::Client, String>,
    /// Context lengths from `/api/show`, so a REPL asks once per model.
    context_lengths: Mutex<HashMap<String, Option<u32>>>,
}

impl OllamaClient {
    pub fn new(settings: ClientSettings) -> Self {
        let http =
            vuhitra_core::http::client_for(settings.connect_timeout, &settings.access).map_err(|e| e.to_string());
        OllamaClient { settings, http, context_lengths: Mutex::new(HashMap::new()) }
    }

    pub fn base_url(&self) -> &Url {
        &self.settings.base_url
    }

    fn url(&self, path: &str) -> Url {
        self.settings.base_url.join(path).expect("static API path joins onto a base URL")
    }

    /// Sends a request, retrying refused or reset connections with backoff,
    /// and turns non-success statuses into typed errors.
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        model: Option<&str>,
    ) -> Result<reqwest::Response, OllamaError> {
        let url = self.url(path);
        let http = self.http.as_ref().map_err(|e| OllamaError::Setup(e.clone()))?;
        let mut attempt = 0;
        let resp = loop {
            let mut req = http.request(method.clone(), url.clone()).timeout(self.settings.timeout);
            if let Some(b) = body {
                req = req.json(b);
            }
            match req.send().await {
                Ok(r) => break r,
                Err(e)
                    if attempt < self.settings.retries && (e.is_connect() || is_reset(&e)) && !is_tls_failure(&e) =>
                {
                    attempt += 1;
                    let backoff = Duration::from_millis(200 * 2u64.pow(attempt - 1));
                    tracing::debug!(%url, attempt, ?backoff, "retrying after connection failure: {e}");
                    tokio::time::sleep(backoff).await;
                }
                Err(e) => return Err(self.transport_error(e)),
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        if vuhitra_core::http::is_plain_http_to_tls_port(status.as_u16(), &text) {
            let reason = "the server expects TLS and answered plain HTTP with 400: use https:// in OLLAMA_IP".into();
            return Err(OllamaError::Tls { url: self.settings.base_url.to_string(), reason });
        }
        let message = serde_json::from_str::<ErrorBody>(&text).map(|b| b.error).unwrap_or(text);
        Err(match (status, model) {
            (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => {
                OllamaError::Login { status: status.as_u16(), message, hint: self.settings.access.login_hint() }
            }
            (StatusCode::NOT_FOUND, Some(m)) => OllamaError::ModelNotFound { model: m.to_string() },
            _ => OllamaError::Server { status: status.as_u16(), message },
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> OllamaError {
        let url = self.settings.base_url.to_string();
        if is_tls_failure(&e) {
            OllamaError::Tls { url, reason: self.settings.access.explain(&self.settings.base_url, &e) }
        } else if e.is_timeout() {
            OllamaError::Timeout { url, secs: self.settings.timeout.as_secs() }
        } else if e.is_connect() {
            OllamaError::Unreachable { url, reason: self.settings.access.explain(&self.settings.base_url, &e) }
        } else {
            OllamaError::Transport(self.settings.access.explain(&self.settings.base_url, &e))
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, OllamaError> {
        let resp = self.send::<()>(Method::GET, path, None, None).await?;
        resp.json().await.map_err(|e| OllamaError::Protocol(e.to_string()))
    }

    pub async fn version(&self) -> Result<String, OllamaError> {
        Ok(self.get_json::<VersionResponse>("api/version").await?.version)
    }

    pub async fn list_models(&self) -> Result<Vec<LocalModel>, OllamaError> {
        Ok(self.get_json::<TagsResponse>("api/tags").await?.models)
    }

    pub async fn show(&self, model: &str) -> Result<ShowResponse, OllamaError> {
        let body = serde_json::json!({ "model": model });
        let resp = self.send(Method::POST, "api/show", Some(&body), Some(model)).await?;
        resp.json().await.map_err(|e| OllamaError::Protocol(e.to_string()))
    }

    pub async fn delete(&self, model: &str) -> Result<(), OllamaError> {
        let body = serde_json::json!({ "model": model });
        self.send(Method::DELETE, "api/delete", Some(&body), Some(model)).await?;
        Ok(())
    }

    pub async fn embed(&self, model: &str, inputs: &[String]) -> Result<EmbedResponse, OllamaError> {
        let body = serde_json::json!({ "model": model, "input": inputs });
        let resp = self.send(Method::POST, "api/embed", Some(&body), Some(model)).await?;
        resp.json().await.map_err(|e| OllamaError::Protocol(e.to_string()))
    }

    /// Pulls a model, reporting each progress record. Ollama keeps partial
    /// blobs, so pulling again after an interruption resumes.
    pub async fn pull(
        &self,
        model: &str,
        insecure: bool,
        mut on_progress: impl FnMut(&PullProgress),
    ) -> Result<(), OllamaError> {
        let body = serde_json::json!({ "model": model, "insecure": insecure, "stream": true });
        let resp = self.send(Method::POST, "api/pull", Some(&body), Some(model)).await?;
        let mut success = false;
        self.read_stream::<PullProgress>(resp, |p| {
            if let Some(err) = &p.error {
                return Err(OllamaError::Server { status: 200, message: err.clone() });
            }
            success |= p.status == "success";
            on_progress(&p);
            Ok(false)
        })
        .await?;
        if !success {
            return Err(OllamaError::Protocol("the pull stream ended before Ollama reported success".into()));
        }
        Ok(())
    }

    /// The model's context length from `/api/show`, cached per client.
    pub async fn context_length(&self, model: &str) -> Result<Option<u32>, OllamaError> {
        if let Some(n) = self.context_lengths.lock().expect("lock").get(model) {
            return Ok(*n);
        }
        let n = self.show(model).await?.context_length();
        self.context_lengths.lock().expect("lock").insert(model.to_string(), n);
        Ok(n)
    }

    /// Streams a chat completion, calling `on_token` for each piece of text.
    /// `num_ctx` is sized for the prompt (unless the caller set it) and the
    /// call is refused when the prompt cannot fit the model's window.
    pub async fn chat(&self, mut req: ChatRequest, mut on_token: impl FnMut(&str)) -> Result<Completion, OllamaError> {
        req.stream = true;
        let num_ctx = self.size_context(&req.model, estimate_tokens(&req.messages), &req.options).await?;
        req.options.num_ctx = Some(num_ctx);
        let model = req.model.clone();
        let resp = self.send(Method::POST, "api/chat", Some(&req), Some(&model)).await?;
        self.collect_completion(resp, model, num_ctx, |r| r.message.as_ref().map(|m| m.content.as_str()), &mut on_token)
            .await
    }

    /// Streams `/api/generate` (a single prompt, no history).
    pub async fn generate(
        &self,
        mut req: GenerateRequest,
        mut on_token: impl FnMut(&str),
    ) -> Result<Completion, OllamaError> {
        req.stream = true;
        let mut msgs = vec![Message::new(Role::User, req.prompt.clone())];
        if let Some(s) = &req.system {
            msgs.push(Message::new(Role::System, s.clone()));
        }
        let num_ctx = self.size_context(&req.model, estimate_tokens(&msgs), &req.options).await?;
        req.options.num_ctx = Some(num_ctx);
        let model = req.model.clone();
        let resp = self.send(Method::POST, "api/generate", Some(&req), Some(&model)).await?;
        self.collect_completion(resp, model, num_ctx, |r| r.response.as_deref(), &mut on_token).await
    }

    async fn size_context(&self, model: &str, prompt_tokens: u32, options: &Options) -> Result<u32, OllamaError> {
        let limit = self.context_length(model).await?;
        let reserve = match options.num_predict {
            Some(n) if n > 0 => n as u32,
            _ => DEFAULT_ANSWER_RESERVE,
        };
        let planned = plan_num_ctx(model, prompt_tokens, reserve, limit)?;
        Ok(match options.num_ctx {
            Some(asked) if asked >= planned => asked,
            _ => planned,
        })
    }

    async fn collect_completion(
        &self,
        resp: reqwest::Response,
        model: String,
        num_ctx: u32,
        text_of: impl Fn(&StreamRecord) -> Option<&str>,
        on_token: &mut impl FnMut(&str),
    ) -> Result<Completion, OllamaError> {
        let mut out = Completion {
            model,
            content: String::new(),
            tool_calls: Vec::new(),
            done_reason: None,
            metrics: Metrics::default(),
            num_ctx,
        };
        let mut done = false;
        self.read_stream::<StreamRecord>(resp, |mut rec| {
            if let Some(err) = rec.error {
                return Err(OllamaError::Server { status: 200, message: err });
            }
            if let Some(t) = text_of(&rec).filter(|t| !t.is_empty()) {
                on_token(t);
                out.content.push_str(t);
            }
            if let Some(m) = rec.message.as_mut() {
                out.tool_calls.append(&mut m.tool_calls);
            }
            if rec.done {
                done = true;
                out.done_reason = rec.done_reason;
                out.metrics = rec.metrics;
                if !rec.model.is_empty() {
                    out.model = rec.model;
                }
            }
            Ok(rec.done)
        })
        .await?;
        if !done {
            return Err(OllamaError::Protocol(
                "the stream ended before the final (done) record; the server may have stopped".into(),
            ));
        }
        Ok(out)
    }

    /// Feeds each NDJSON record to `each` until it returns `Ok(true)` or the
    /// body ends.
    async fn read_stream<T: serde::de::DeserializeOwned>(
        &self,
        resp: reqwest::Response,
        mut each: impl FnMut(T) -> Result<bool, OllamaError>,
    ) -> Result<(), OllamaError> {
        let mut decoder = ndjson::NdjsonDecoder::new();
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.transport_error(e))?;
            for rec in decoder.push::<T>(&chunk) {
                if each(rec.map_err(|e| OllamaError::Protocol(e.to_string()))?)? {
                    return Ok(());
                }
            }
        }
        if let Some(rec) = decoder.finish::<T>() {
            each(rec.map_err(|e| OllamaError::Protocol(e.to_string()))?)?;
        }
        Ok(())
    }
}

/// What a mode needs from a model server: streamed chat (with tools),
/// embeddings, and a model's context window. [`OllamaClient`] is the one
/// implementation; the pipeline, data questions, and (next) RAG, dev mode and
/// tool rounds are written against this trait.
#[allow(async_fn_in_trait)] // used through generics only
pub trait ChatModel {
    /// Streams one chat completion; `on_token` sees each piece of text.
    async fn chat(&self, req: ChatRequest, on_token: impl FnMut(&str)) -> Result<Completion, OllamaError>;
    async fn embed(&self, model: &str, inputs: &[String]) -> Result<EmbedResponse, OllamaError>;
    /// The model's trained context length, when the server says.
    async fn context_length(&self, model: &str) -> Result<Option<u32>, OllamaError>;
    /// The names of the models the server has. A source that cannot say
    /// errs, and callers then treat every model as present.
    async fn installed(&self) -> Result<Vec<String>, OllamaError> {
        Err(OllamaError::Protocol("this model source does not list its models".into()))
    }
}

impl ChatModel for OllamaClient {
    async fn chat(&self, req: ChatRequest, on_token: impl FnMut(&str)) -> Result<Completion, OllamaError> {
        OllamaClient::chat(self, req, on_token).await
    }
    async fn embed(&self, model: &str, inputs: &[String]) -> Result<EmbedResponse, OllamaError> {
        OllamaClient::embed(self, model, inputs).await
    }
    async fn context_length(&self, model: &str) -> Result<Option<u32>, OllamaError> {
        OllamaClient::context_length(self, model).await
    }
    async fn installed(&self) -> Result<Vec<String>, OllamaError> {
        Ok(self.list_models().await?.into_iter().map(|m| m.name).collect())
    }
}

fn is_reset(e: &reqwest::Error) -> bool {
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            );
        }
        src = s.source();
    }
    false
}
