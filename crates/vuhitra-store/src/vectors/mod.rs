//! RAG storage: collections of document chunks with their embeddings, and
//! the two searches retrieval fuses (vector similarity and BM25). Two
//! backends behind `VectorStore`: the embedded SQLite store (BM25 by FTS5,
//! vectors as BLOBs beside the text) and plain Redis (no modules; scoring in
//! the client on a local mirror that follows the collection's version).
//! `tests/vectors.rs` is one conformance suite for both.
//!
//! A file's chunks are always replaced as one unit, so a reader (or an
//! ingest that died half-way) sees a file's old chunks or its new ones,
//! never a mix, and an interrupted ingest resumes by skipping the files
//! whose content hash is already stored.

use serde::{Deserialize, Serialize};

use crate::records::Result;
use crate::StoreError;

mod index;
mod redis;
mod sqlite;

pub use index::{dot, rerank, rerank_depth, Bm25Index, VectorIndex};
pub use redis::RedisVectors;
pub use sqlite::SqliteVectors;

/// A named set of chunks, all embedded by one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionInfo {
    pub name: String,
    pub embed_model: String,
    pub dims: u32,
    pub files: u64,
    pub chunks: u64,
    /// Moves on every change, so a cached index knows it is stale.
    pub version: u64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One ingested file: its content hash decides whether a later ingest
/// skips it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub hash: String,
    pub kind: String,
    pub chunks: u32,
    pub bytes: u64,
    pub ingested_at: i64,
}

/// A chunk as stored: where it came from, its text, and its vector
/// (unit length, so a dot product is the cosine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredChunk {
    pub path: String,
    /// Position in its file, from 0.
    pub seq: u32,
    pub lines: (u32, u32),
    pub headings: Vec<String>,
    pub text: String,
    /// SHA-256 of the text that was embedded (the embedding cache's key).
    pub hash: String,
    pub vector: Vec<f32>,
}

impl StoredChunk {
    /// What is embedded and indexed for BM25: the heading path joined with
    /// " > " on a first line (when there is one), a blank line, the text.
    pub fn indexed_text(&self) -> String {
        if self.headings.is_empty() {
            self.text.clone()
        } else {
            format!("{}\n\n{}", self.headings.join(" > "), self.text)
        }
    }
}

/// A search result: the chunk (its vector left out) and its score under
/// the method that found it (cosine, or BM25).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredChunk {
    pub path: String,
    pub seq: u32,
    pub lines: (u32, u32),
    pub headings: Vec<String>,
    pub text: String,
    pub score: f32,
}

/// Which chunks a search may return.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Only files whose stored path starts with this.
    pub path_prefix: Option<String>,
}

impl SearchFilter {
    pub fn admits(&self, path: &str) -> bool {
        self.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
    }
}

#[allow(async_fn_in_trait)]
pub trait VectorStore {
    /// Every collection, by name.
    async fn collections(&self) -> Result<Vec<CollectionInfo>>;
    async fn collection(&self, name: &str) -> Result<Option<CollectionInfo>>;
    /// The collection, created for `model` when it does not exist. One
    /// collection never mixes two models' vectors: another model is
    /// refused (`StoreError::ModelMismatch`; `rag reindex` changes it).
    async fn ensure_collection(&self, name: &str, model: &str, dims: u32) -> Result<CollectionInfo>;
    /// The ingested files of a collection, by path.
    async fn files(&self, collection: &str) -> Result<Vec<FileEntry>>;
    /// Replaces every chunk of `file.path` with `chunks`, atomically.
    async fn put_file(&self, collection: &str, file: &FileEntry, chunks: &[StoredChunk]) -> Result<()>;
    /// Whether the file was there to remove.
    async fn remove_file(&self, collection: &str, path: &str) -> Result<bool>;
    /// Whether the collection was there to delete.
    async fn delete_collection(&self, name: &str) -> Result<bool>;
    /// Every chunk of a collection, vectors included, by path then seq.
    async fn chunks(&self, collection: &str) -> Result<Vec<StoredChunk>>;
    /// Replaces the whole collection (its model and every chunk) at once:
    /// what `rag reindex` does after EMBED_MODEL changes.
    async fn replace_collection(
        &self,
        info: &CollectionInfo,
        files: &[FileEntry],
        chunks: &[StoredChunk],
    ) -> Result<()>;
    /// The `k` chunks most similar to `vector` (unit length).
    async fn vector_search(
        &self,
        collection: &str,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>>;
    /// The `k` best chunks for `query` by BM25.
    async fn text_search(
        &self,
        collection: &str,
        query: &str,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>>;
    /// Cached embeddings of texts by their hashes under `model`, in order.
    async fn cached_embeddings(&self, model: &str, hashes: &[String]) -> Result<Vec<Option<Vec<f32>>>>;
    async fn cache_embeddings(&self, model: &str, items: &[(String, Vec<f32>)]) -> Result<()>;
}

/// The vector store a process uses: Redis when REDIS_URL is set, else the
/// embedded store.
pub enum VectorBackend {
    Embedded(SqliteVectors),
    Redis(RedisVectors),
}

impl VectorBackend {
    pub fn describe(&self) -> String {
        match self {
            VectorBackend::Embedded(s) => format!("embedded ({})", s.store.path().display()),
            VectorBackend::Redis(r) => format!("Redis ({})", r.url()),
        }
    }
}

macro_rules! forward {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            VectorBackend::Embedded($b) => $call,
            VectorBackend::Redis($b) => $call,
        }
    };
}

impl VectorStore for VectorBackend {
    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        forward!(self, b => b.collections().await)
    }
    async fn collection(&self, name: &str) -> Result<Option<CollectionInfo>> {
        forward!(self, b => b.collection(name).await)
    }
    async fn ensure_collection(&self, name: &str, model: &str, dims: u32) -> Result<CollectionInfo> {
        forward!(self, b => b.ensure_collection(name, model, dims).await)
    }
    async fn files(&self, collection: &str) -> Result<Vec<FileEntry>> {
        forward!(self, b => b.files(collection).await)
    }
    async fn put_file(&self, collection: &str, file: &FileEntry, chunks: &[StoredChunk]) -> Result<()> {
        forward!(self, b => b.put_file(collection, file, chunks).await)
    }
    async fn remove_file(&self, collection: &str, path: &str) -> Result<bool> {
        forward!(self, b => b.remove_file(collection, path).await)
    }
    async fn delete_collection(&self, name: &str) -> Result<bool> {
        forward!(self, b => b.delete_collection(name).await)
    }
    async fn chunks(&self, collection: &str) -> Result<Vec<StoredChunk>> {
        forward!(self, b => b.chunks(collection).await)
    }
    async fn replace_collection(
        &self,
        info: &CollectionInfo,
        files: &[FileEntry],
        chunks: &[StoredChunk],
    ) -> Result<()> {
        forward!(self, b => b.replace_collection(info, files, chunks).await)
    }
    async fn vector_search(
        &self,
        collection: &str,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>> {
        forward!(self, b => b.vector_search(collection, vector, k, filter).await)
    }
    async fn text_search(
        &self,
        collection: &str,
        query: &str,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>> {
        forward!(self, b => b.text_search(collection, query, k, filter).await)
    }
    async fn cached_embeddings(&self, model: &str, hashes: &[String]) -> Result<Vec<Option<Vec<f32>>>> {
        forward!(self, b => b.cached_embeddings(model, hashes).await)
    }
    async fn cache_embeddings(&self, model: &str, items: &[(String, Vec<f32>)]) -> Result<()> {
        forward!(self, b => b.cache_embeddings(model, items).await)
    }
}

/// The refusal both backends give when a collection's model differs.
pub(crate) fn check_model(info: &CollectionInfo, model: &str, dims: u32) -> Result<()> {
    if info.embed_model != model || info.dims != dims {
        return Err(StoreError::ModelMismatch {
            collection: info.name.clone(),
            stored: format!("{} ({} dimensions)", info.embed_model, info.dims),
            asked: format!("{model} ({dims} dimensions)"),
        });
    }
    Ok(())
}

/// Vectors travel and rest as little-endian f32 bytes.
pub fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn bytes_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The chunks of each file, in file order (for `replace_collection`): one
/// pass over the chunks, not one per file.
pub(crate) fn chunks_by_file<'a>(
    files: &'a [FileEntry],
    chunks: &[StoredChunk],
) -> Vec<(&'a FileEntry, Vec<StoredChunk>)> {
    let mut by_path: std::collections::HashMap<&str, Vec<StoredChunk>> = std::collections::HashMap::new();
    for c in chunks {
        by_path.entry(c.path.as_str()).or_default().push(c.clone());
    }
    files.iter().map(|f| (f, by_path.remove(f.path.as_str()).unwrap_or_default())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_indexed_text_leads_with_the_heading_path_when_there_is_one() {
        let c = StoredChunk {
            path: "a.md".into(),
            seq: 0,
            lines: (1, 1),
            headings: vec![],
            text: "body".into(),
            hash: String::new(),
            vector: vec![],
        };
        assert_eq!(c.indexed_text(), "body");
        let c = StoredChunk { headings: vec!["A".into(), "B".into()], ..c };
        assert_eq!(c.indexed_text(), "A > B\n\nbody");
    }
}
