//! The prompt pipeline every mode shares.
//!
//! ```text
//! prompt ─> prepare (keywords, context files, NLP analysis)  -> an Action
//!        ─> turn: model choice ─> cache lookup ─> corrections ─> model call
//!                ─> session messages ─> heuristics record ─> cache store
//! ```
//!
//! [`Pipeline::prepare`] is pure: it reads the named files and decides what
//! the prompt asks for ([`Action`]); nothing is sent anywhere. A
//! [`Conversation::turn`] answers a prepared prompt with any [`ChatModel`].
//! [`iterate`] is the loop of modes that call the model several times (data
//! questions, dev mode, tool rounds), and [`Interrupt`] turns
//! Ctrl-C into the one [`CancellationToken`] everything a command started
//! listens to.

mod cancel;
mod error;
mod intel;
mod iterate;
mod prepare;
pub mod route;
mod tools;
mod turn;

pub use cancel::Interrupt;
pub use error::PipelineError;
pub use intel::{Intel, IntelSettings, Warn};
pub use iterate::{iterate, Iterated, Step, Stop};
pub use prepare::{Action, CacheMode, Pipeline, PreparedPrompt};
pub use route::{Choice, Router};
pub use tokio_util::sync::CancellationToken;
pub use tools::{ToolResult, ToolRunner, ROUNDS_USED_UP};
pub use turn::{CachedAnswer, Conversation, TurnOutcome};
pub use vuhitra_llm::ChatModel;
