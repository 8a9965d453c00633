//! A chat turn with tools: the model may ask for tool calls, the calls run
//! (through whatever [`ToolRunner`] the caller has — MCP servers in the
//! binary), their results go back as `role: tool` messages, and the model
//! answers again, for at most `max_rounds` rounds on [`iterate`]. Then one
//! last call without tools makes the model answer with what it has.
//!
//! Tool turns skip the prompt cache (their answers depend on what the tools
//! return now) but get the same correction notes as any turn. Each call is
//! a heuristics record of its own.

use std::future::Future;
use std::time::Instant;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use vuhitra_llm::{ChatModel, ChatRequest, Completion, Message, Metrics, Role, ToolCall};
use vuhitra_store::Store;

use crate::error::PipelineError;
use crate::iterate::{iterate, Step, Stop};
use crate::prepare::{Pipeline, PreparedPrompt};
use crate::route::Choice;
use crate::turn::{correction_notes, fill_metrics, heuristic_record, Conversation, TurnOutcome};

/// What one tool call gave back.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// What the model reads (the tool's output, or why there is none).
    pub content: String,
    /// Set when the call failed, was refused, or the tool reported an error.
    pub error: Option<String>,
}

/// Runs the calls a model asks for. Errors end the turn (cancellation, a
/// user who quits); everything else — a declined call, a failed tool — is a
/// [`ToolResult`] the model gets to read.
pub trait ToolRunner {
    fn run(
        &mut self,
        call: &ToolCall,
        cancel: &CancellationToken,
    ) -> impl Future<Output = Result<ToolResult, PipelineError>>;
}

/// The note given to the model when the rounds are used up.
pub const ROUNDS_USED_UP: &str =
    "No more tool calls are possible in this turn. Answer the user now with what the tool results above say.";

struct Rounds<'r, R> {
    req: ChatRequest,
    runner: &'r mut R,
    metrics: Metrics,
    calls: u32,
}

impl Conversation {
    /// Answers one prepared prompt with tool rounds. `on_token` sees the
    /// text of every model call as it streams.
    #[allow(clippy::too_many_arguments)]
    pub async fn tool_turn<R: ToolRunner>(
        &mut self,
        model: &impl ChatModel,
        store: &mut Store,
        pipeline: &Pipeline,
        prompt: &PreparedPrompt,
        choice: Choice,
        cancel: &CancellationToken,
        on_token: impl FnMut(&str),
        runner: &mut R,
        max_rounds: u32,
    ) -> Result<TurnOutcome, PipelineError> {
        let started = Instant::now();
        let Choice { model: model_name, routed, note } = choice;
        let session_name = self.session.as_ref().map(|(_, n)| n.clone());
        let mut record = heuristic_record(prompt, &model_name, session_name.clone());
        record.route = note.clone();
        let (notes, corrections) = correction_notes(pipeline, prompt).await;
        let req = self.request(&model_name, &prompt.message, &notes);
        let first_new = req.messages.len() - 1;
        let state = Mutex::new(Rounds { req, runner, metrics: Metrics::default(), calls: 0 });
        let on_token = std::sync::Mutex::new(on_token);

        let rounds = iterate(max_rounds + 1, cancel, |n| {
            let (state, on_token, session_name) = (&state, &on_token, &session_name);
            async move {
                let mut s = state.lock().await;
                let last = n == max_rounds + 1;
                if last {
                    // The rounds are used up: one more answer, without tools.
                    s.req.tools.clear();
                    s.req.messages.push(Message::new(Role::System, ROUNDS_USED_UP));
                }
                let completion = model.chat(s.req.clone(), |t| (on_token.lock().expect("token sink lock"))(t)).await?;
                s.metrics.add(&completion.metrics);
                if completion.tool_calls.is_empty() || last {
                    return Ok(Step::Done(completion));
                }
                s.req.messages.push(Message {
                    tool_calls: completion.tool_calls.clone(),
                    ..Message::new(Role::Assistant, completion.content.clone())
                });
                for call in &completion.tool_calls {
                    let began = Instant::now();
                    let result = s.runner.run(call, cancel).await?;
                    s.calls += 1;
                    let ms = began.elapsed().as_secs_f64() * 1000.0;
                    pipeline.record_tool_call(prompt, &completion.model, call, &result, ms, session_name.clone()).await;
                    s.req.messages.push(Message::tool_result(call.function.name.clone(), result.content));
                }
                Ok::<_, PipelineError>(Step::Again)
            }
        })
        .await;

        let Rounds { req, metrics, .. } = state.into_inner();
        let mut completion: Completion = match rounds.stop {
            Stop::Done(c) => c,
            Stop::Cancelled => return Err(PipelineError::cancelled("the answer was cancelled")),
            Stop::Error(e) => {
                if !matches!(e, PipelineError::Cancelled { .. }) {
                    record.success = false;
                    record.error = Some(e.to_string());
                    record.total_ms = started.elapsed().as_secs_f64() * 1000.0;
                    if let Some(intel) = pipeline.recorder() {
                        intel.record(&record).await;
                    }
                }
                return Err(e);
            }
            Stop::Limit => unreachable!("the last round always answers"),
        };
        completion.metrics = metrics;
        fill_metrics(&mut record, &completion.metrics);
        record.model = completion.model.clone();
        record.total_ms = started.elapsed().as_secs_f64() * 1000.0;

        // The turn's messages: the user's, each round's call and results
        // (the used-up note left out), then the answer.
        let mut messages: Vec<Message> =
            req.messages[first_new..].iter().filter(|m| m.role != Role::System).cloned().collect();
        messages.push(Message::new(Role::Assistant, completion.content.clone()));
        let record_id = self.finish_messages(store, pipeline, &record, messages).await?;
        Ok(TurnOutcome { completion, cached: None, record_id, corrections, routed, route: note })
    }
}

impl Pipeline {
    /// One heuristics record per tool call: the tool and its arguments as
    /// the prompt, `tool_call` as the intent, the outcome as success.
    pub async fn record_tool_call(
        &self,
        prompt: &PreparedPrompt,
        model: &str,
        call: &ToolCall,
        result: &ToolResult,
        ms: f64,
        session: Option<String>,
    ) -> Option<String> {
        let intel = self.recorder()?;
        let mut record = heuristic_record(prompt, model, session);
        record.prompt = format!("{} {}", call.function.name, call.function.arguments);
        record.intent = "tool_call".into();
        record.intent_confidence = 1.0;
        record.entities = vec![format!("tool:{}", call.function.name)];
        record.success = result.error.is_none();
        record.error = result.error.clone();
        record.total_ms = ms;
        intel.record(&record).await.then_some(record.id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex as StdMutex;

    use vuhitra_llm::{CalledFunction, EmbedResponse, OllamaError, Options};

    use super::*;

    /// Answers from a script and keeps every request it was sent.
    struct Scripted {
        answers: StdMutex<VecDeque<Completion>>,
        seen: StdMutex<Vec<ChatRequest>>,
    }

    impl ChatModel for Scripted {
        async fn chat(&self, req: ChatRequest, mut on_token: impl FnMut(&str)) -> Result<Completion, OllamaError> {
            self.seen.lock().unwrap().push(req);
            let c = self.answers.lock().unwrap().pop_front().expect("the script has an answer left");
            on_token(&c.content);
            Ok(c)
        }
        async fn embed(&self, _: &str, _: &[String]) -> Result<EmbedResponse, OllamaError> {
            Err(OllamaError::Protocol("no embeddings in this test".into()))
        }
        async fn context_length(&self, _: &str) -> Result<Option<u32>, OllamaError> {
            Ok(None)
        }
    }

    fn answer(text: &str, calls: &[&str]) -> Completion {
        Completion {
            model: "m".into(),
            content: text.into(),
            tool_calls: calls
                .iter()
                .map(|name| ToolCall {
                    id: None,
                    function: CalledFunction {
                        name: name.to_string(),
                        index: None,
                        arguments: serde_json::json!({"q": 1}),
                    },
                })
                .collect(),
            done_reason: Some("stop".into()),
            metrics: Metrics { eval_count: 1, ..Default::default() },
            num_ctx: 0,
        }
    }

    struct Runner(Vec<String>);

    impl ToolRunner for Runner {
        async fn run(&mut self, call: &ToolCall, _: &CancellationToken) -> Result<ToolResult, PipelineError> {
            self.0.push(call.function.name.clone());
            if call.function.name == "broken" {
                return Ok(ToolResult { content: "error: it broke".into(), error: Some("it broke".into()) });
            }
            Ok(ToolResult { content: format!("result of {}", call.function.name), error: None })
        }
    }

    /// The conversation's own model, as a router without candidates picks.
    fn choice(convo: &Conversation) -> Choice {
        Choice { model: convo.model.clone(), routed: None, note: None }
    }

    fn setup() -> (tempfile::TempDir, Store, Pipeline, PreparedPrompt, Conversation) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("v.db")).unwrap();
        let config = vuhitra_core::Config::load(&vuhitra_core::Sources::default()).unwrap();
        let pipeline = Pipeline::new(&config, |_| {});
        let prompt = pipeline.prepare("what time is it in Tokyo?", vec![], &[], 1024).unwrap();
        let mut convo = Conversation::new("m".into(), None, Options::default());
        convo.tools = vec![vuhitra_llm::Tool::function("time__now", "the time", serde_json::json!({"type": "object"}))];
        (dir, store, pipeline, prompt, convo)
    }

    #[tokio::test]
    async fn a_tool_round_feeds_the_results_back_and_keeps_the_whole_exchange() {
        let (_d, mut store, pipeline, prompt, mut convo) = setup();
        let model = Scripted {
            answers: StdMutex::new(VecDeque::from([answer("", &["time__now", "broken"]), answer("It is noon.", &[])])),
            seen: StdMutex::new(Vec::new()),
        };
        let mut runner = Runner(Vec::new());
        let cancel = CancellationToken::new();
        let out = convo
            .tool_turn(&model, &mut store, &pipeline, &prompt, choice(&convo), &cancel, |_| {}, &mut runner, 5)
            .await
            .unwrap();
        assert_eq!(out.completion.content, "It is noon.");
        assert_eq!(runner.0, ["time__now", "broken"], "both calls ran, in order");
        assert_eq!(out.completion.metrics.eval_count, 2, "metrics add up over the rounds");
        let seen = model.seen.lock().unwrap();
        let second: Vec<_> = seen[1].messages.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect();
        assert_eq!(
            second,
            [
                ("user", "what time is it in Tokyo?"),
                ("assistant", ""),
                ("tool", "result of time__now"),
                ("tool", "error: it broke")
            ]
        );
        assert_eq!(seen[1].messages[2].tool_name.as_deref(), Some("time__now"));
        assert!(!seen[1].tools.is_empty(), "tools stay offered while rounds are left");
        let roles: Vec<_> = convo.history.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "tool", "tool", "assistant"], "the history keeps the round");
    }

    #[tokio::test]
    async fn used_up_rounds_end_with_an_answer_without_tools() {
        let (_d, mut store, pipeline, prompt, mut convo) = setup();
        let model = Scripted {
            answers: StdMutex::new(VecDeque::from([
                answer("", &["time__now"]),
                answer("", &["time__now"]),
                answer("Noon, I think.", &[]),
            ])),
            seen: StdMutex::new(Vec::new()),
        };
        let mut runner = Runner(Vec::new());
        let cancel = CancellationToken::new();
        let out = convo
            .tool_turn(&model, &mut store, &pipeline, &prompt, choice(&convo), &cancel, |_| {}, &mut runner, 2)
            .await
            .unwrap();
        assert_eq!(out.completion.content, "Noon, I think.");
        assert_eq!(runner.0.len(), 2, "two rounds ran");
        let seen = model.seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert!(seen[2].tools.is_empty(), "the last call offers no tools");
        assert_eq!(seen[2].messages.last().unwrap().content, ROUNDS_USED_UP);
        assert!(convo.history.iter().all(|m| m.content != ROUNDS_USED_UP), "the note is not kept");
    }

    #[tokio::test]
    async fn a_cancelled_turn_leaves_the_conversation_as_it_was() {
        let (_d, mut store, pipeline, prompt, mut convo) = setup();
        let model = Scripted { answers: StdMutex::new(VecDeque::new()), seen: StdMutex::new(Vec::new()) };
        let cancel = CancellationToken::new();
        cancel.cancel();
        let mut runner = Runner(Vec::new());
        let e = convo
            .tool_turn(&model, &mut store, &pipeline, &prompt, choice(&convo), &cancel, |_| {}, &mut runner, 2)
            .await;
        assert!(matches!(e, Err(PipelineError::Cancelled { .. })));
        assert!(convo.history.is_empty());
    }
}
