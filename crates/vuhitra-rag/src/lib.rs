//! Retrieval-augmented answers: ingest documents into a collection
//! (ingest.rs: walk, load, chunk, embed with a cache, store a file's chunks
//! as one unit), find the chunks a question needs (retrieve.rs: vector
//! similarity and BM25, fused by reciprocal rank), and build the cited
//! prompt and check the answer's citations (answer.rs). Storage is
//! `vuhitra_store::vectors`; models are reached through `ChatModel`.

pub mod answer;
pub mod ingest;
pub mod retrieve;

pub use answer::{check_citations, sources_message, Citations, Source, SYSTEM};
pub use ingest::{ingest, FileOutcome, IngestOptions, IngestReport, IngestSummary};
pub use retrieve::{search, Hit, Mode, SearchRequest};

use vuhitra_llm::OllamaError;
use vuhitra_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RagError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("embedding with {model} failed: {source}")]
    Embed { model: String, source: OllamaError },
    #[error("{model} returned {got} embeddings for {sent} texts")]
    EmbedCount { model: String, sent: usize, got: usize },
    #[error("EMBED_MODEL is none: RAG needs an embedding model")]
    NoEmbedModel,
    #[error("{0}")]
    Path(String),
    #[error("the ingest was interrupted; the files finished so far are stored, and running it again resumes")]
    Interrupted,
}

impl RagError {
    pub fn hint(&self) -> Option<String> {
        match self {
            RagError::Store(e) => e.hint(),
            RagError::Embed { source, .. } => source.hint(),
            RagError::NoEmbedModel => Some("set EMBED_MODEL to an embedding model, e.g. all-minilm".into()),
            _ => None,
        }
    }
}

/// SHA-256 in hex: file contents and chunk texts are identified by it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
