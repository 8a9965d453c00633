use vuhitra_core::context_files::ContextFileError;
use vuhitra_core::keywords::KeywordError;
use vuhitra_llm::OllamaError;
use vuhitra_store::StoreError;

/// Why a prompt was not answered. The binary turns each into a message, a
/// hint and an exit code.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The prompt itself is not usable (empty, a keyword without its file).
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },
    #[error(transparent)]
    Keyword(#[from] KeywordError),
    #[error(transparent)]
    ContextFile(#[from] ContextFileError),
    #[error(transparent)]
    Model(#[from] OllamaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Ctrl-C; `what` says what was abandoned.
    #[error("interrupted: {what}")]
    Cancelled { what: String },
}

impl PipelineError {
    pub fn usage(message: impl Into<String>, hint: &str) -> Self {
        PipelineError::Usage { message: message.into(), hint: Some(hint.to_string()) }
    }

    pub fn cancelled(what: &str) -> Self {
        PipelineError::Cancelled { what: what.to_string() }
    }

    /// A mistake in the prompt, not a failure of a service.
    pub fn is_usage(&self) -> bool {
        matches!(self, PipelineError::Usage { .. } | PipelineError::Keyword(_) | PipelineError::ContextFile(_))
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            PipelineError::Usage { hint, .. } => hint.clone(),
            PipelineError::Keyword(_) => Some("`vuhitra chat --help` lists the keywords".into()),
            PipelineError::ContextFile(e) => e.hint(),
            PipelineError::Model(e) => e.hint(),
            PipelineError::Store(e) => e.hint(),
            PipelineError::Cancelled { .. } => None,
        }
    }
}
