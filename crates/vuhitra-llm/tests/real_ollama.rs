//! The client against the real Ollama started by scripts/test.

use std::time::Duration;

use vuhitra_llm::{
    ChatRequest, ClientSettings, GenerateRequest, Message, OllamaClient, OllamaError, Options, Role, Tool,
};

fn client() -> Option<(OllamaClient, String)> {
    let url = vuhitra_testkit::service("VUHITRA_TEST_OLLAMA", "a real Ollama")?;
    let model = std::env::var("VUHITRA_TEST_MODEL").unwrap_or_else(|_| "gemma3-270m".into());
    let settings = ClientSettings {
        base_url: url.parse().unwrap(),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(120),
        retries: 1,
        access: Default::default(),
    };
    Some((OllamaClient::new(settings), model))
}

fn short() -> Options {
    Options { num_predict: Some(6), temperature: Some(0.0), seed: Some(1), num_ctx: None }
}

#[tokio::test]
async fn generate_streams_tokens_and_reports_metrics() {
    let Some((c, model)) = client() else { return };
    let mut pieces = Vec::new();
    let req = GenerateRequest {
        model: model.clone(),
        prompt: "The sky is".into(),
        system: None,
        stream: true,
        options: short(),
    };
    let done = c.generate(req, |t| pieces.push(t.to_string())).await.unwrap();
    assert!(!pieces.is_empty(), "tokens arrive one by one");
    assert_eq!(pieces.concat(), done.content);
    assert!(done.metrics.eval_count > 0 && done.metrics.eval_count <= 6);
    assert_eq!(done.num_ctx, 2048);
}

#[tokio::test]
async fn chat_streams_more_than_one_piece() {
    let Some((c, model)) = client() else { return };
    let mut n = 0;
    let req = ChatRequest::new(model, vec![Message::new(Role::User, "Count to five.")], short());
    let done = c.chat(req, |_| n += 1).await.unwrap();
    assert!(n > 1, "streamed, not one final blob ({n} pieces)");
    assert!(done.metrics.prompt_eval_count > 0);
}

#[tokio::test]
async fn server_errors_carry_the_servers_text() {
    let Some((c, model)) = client() else { return };
    // gemma3 is a completion model: Ollama refuses to embed with it.
    match c.embed(&model, &["hello".to_string()]).await {
        Err(OllamaError::Server { status: 501, message }) => assert!(message.contains("embeddings"), "{message}"),
        other => panic!("expected the server's error, got {other:?}"),
    }
}

#[tokio::test]
async fn version_and_model_list() {
    let Some((c, model)) = client() else { return };
    assert!(c.version().await.unwrap().starts_with("0."));
    let models = c.list_models().await.unwrap();
    assert!(models.iter().any(|m| m.name == format!("{model}:latest")));
    assert_eq!(c.context_length(&model).await.unwrap(), Some(32768));
    assert!(matches!(c.show("nope-not-here").await, Err(OllamaError::ModelNotFound { .. })));
}

#[tokio::test]
async fn overall_timeout_is_a_typed_error() {
    let Some((_, model)) = client() else { return };
    let url = std::env::var("VUHITRA_TEST_OLLAMA").unwrap();
    let c = OllamaClient::new(ClientSettings {
        base_url: url.parse().unwrap(),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_millis(300),
        retries: 0,
        access: Default::default(),
    });
    // Long enough that prompt evaluation alone outlasts the limit.
    let prompt = "history ".repeat(3000);
    let req = ChatRequest::new(model, vec![Message::new(Role::User, prompt)], short());
    match c.chat(req, |_| {}).await {
        Err(OllamaError::Timeout { .. }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// Relays one port to Ollama, but only from `delay` on: until then the port
/// refuses connections, as a server that is still starting would.
fn late_relay(upstream: &str, delay: Duration) -> String {
    use std::net::{TcpListener, TcpStream};
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        for client in listener.incoming().flatten() {
            let server = TcpStream::connect(&upstream).unwrap();
            let (mut c1, mut s1) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut c1, &mut s1));
            let (mut s2, mut c2) = (server, client);
            std::thread::spawn(move || std::io::copy(&mut s2, &mut c2));
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn refused_connections_are_retried_with_backoff() {
    let Some((_, model)) = client() else { return };
    let upstream = std::env::var("VUHITRA_TEST_OLLAMA").unwrap();
    let settings = |url: &str, retries| ClientSettings {
        base_url: url.parse().unwrap(),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(60),
        retries,
        access: Default::default(),
    };
    // Backoff 200 + 400 + 800 ms outlasts a 500 ms start-up.
    let c = OllamaClient::new(settings(&late_relay(&upstream, Duration::from_millis(500)), 3));
    let req = ChatRequest::new(model.clone(), vec![Message::new(Role::User, "Hi")], short());
    let done = c.chat(req, |_| {}).await.expect("the retry reached the server once it was up");
    assert!(done.metrics.eval_count > 0);

    // Without retries the same situation is an Unreachable error naming the URL.
    let url = late_relay(&upstream, Duration::from_secs(30));
    let c = OllamaClient::new(settings(&url, 0));
    match c.version().await {
        Err(OllamaError::Unreachable { url: u, .. }) => assert!(u.starts_with(&url), "{u}"),
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[tokio::test]
async fn embeddings_from_a_real_embedding_model() {
    let Some((c, _)) = client() else { return };
    let model = std::env::var("VUHITRA_TEST_EMBED_MODEL").unwrap_or_else(|_| "all-minilm-test".into());
    let inputs: Vec<String> =
        ["How do I sort a list in Python?", "python list sorting", "The tax office opens at nine."]
            .map(String::from)
            .to_vec();
    let r = c.embed(&model, &inputs).await.unwrap();
    assert_eq!(r.embeddings.len(), 3, "one vector per input, in order");
    assert!(r.embeddings.iter().all(|v| v.len() == 384), "all-MiniLM-L6-v2 has 384 dimensions");
    let (same, other) = (cosine(&r.embeddings[0], &r.embeddings[1]), cosine(&r.embeddings[0], &r.embeddings[2]));
    assert!(same > other + 0.2, "rewordings are closer than unrelated text: {same} vs {other}");
    let show = c.show(&model).await.unwrap();
    assert!(show.has_capability("embedding"));
}

/// A ChatML template with a tools section and two worked examples, for the
/// SmolLM2-135M base model scripts/services creates. With it Ollama offers
/// the model tools and parses its JSON answer into `tool_calls`.
const TOOLS_TEMPLATE: &str = r#"{{- if .Tools }}<|im_start|>system
You answer every question by calling a function, as JSON. Functions:
{{- range .Tools }}
{{ json .Function }}
{{- end }}<|im_end|>
<|im_start|>user
What is the weather in Rome?<|im_end|>
<|im_start|>assistant
{"name": "get_weather", "arguments": {"city": "Rome"}}<|im_end|>
<|im_start|>user
What is the weather in Berlin?<|im_end|>
<|im_start|>assistant
{"name": "get_weather", "arguments": {"city": "Berlin"}}<|im_end|>
{{ end }}
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ if .ToolCalls }}{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ json .Function.Arguments }}}{{ end }}{{ else }}{{ .Content }}{{ end }}<|im_end|>
{{ end }}<|im_start|>assistant
"#;

#[tokio::test]
async fn a_real_model_calls_a_tool_and_gets_the_result_back() {
    let Some((c, _)) = client() else { return };
    let base = vuhitra_testkit::need!(vuhitra_testkit::service("VUHITRA_TEST_TOOLS_MODEL", "a model for tool calls"));
    let url = std::env::var("VUHITRA_TEST_OLLAMA").unwrap();
    let model = format!("vuhitra-tools-{}", std::process::id());
    let created = vuhitra_core::http::client(std::time::Duration::from_secs(5))
        .post(format!("{url}/api/create"))
        .json(&serde_json::json!({
            "model": model, "from": base, "template": TOOLS_TEMPLATE, "stream": false,
            "parameters": {"temperature": 0, "num_predict": 64, "stop": ["<|im_end|>"]},
        }))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.text().await.unwrap());

    let weather = Tool::function(
        "get_weather",
        "Current weather for a city",
        serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    );
    let opts = Options { temperature: Some(0.0), seed: Some(1), ..Default::default() };
    let mut req =
        ChatRequest::new(model.clone(), vec![Message::new(Role::User, "What is the weather in Paris?")], opts.clone());
    req.tools = vec![weather.clone()];
    let asked = c.chat(req.clone(), |_| {}).await.unwrap();
    assert_eq!(asked.tool_calls.len(), 1, "one tool call, parsed from the stream: {asked:?}");
    let call = &asked.tool_calls[0];
    assert_eq!(call.function.name, "get_weather");
    assert_eq!(call.function.arguments, serde_json::json!({"city": "Paris"}), "arguments arrive as a JSON object");

    // The call and its result go back: the server accepts the round trip
    // (our serialisation of tool_calls, role "tool" and tool_name) and
    // answers again.
    req.messages.push(Message { tool_calls: asked.tool_calls.clone(), ..Message::new(Role::Assistant, "") });
    req.messages.push(Message::tool_result("get_weather", "sunny, 21 °C"));
    let after = c.chat(req, |_| {}).await.expect("the server takes the tool result");
    assert!(after.done_reason.is_some() && after.metrics.eval_count > 0, "a second, complete answer: {after:?}");

    let _ = vuhitra_core::http::client(std::time::Duration::from_secs(5))
        .delete(format!("{url}/api/delete"))
        .json(&serde_json::json!({"model": model}))
        .send()
        .await;
}
