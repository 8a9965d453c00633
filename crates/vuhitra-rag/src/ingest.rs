//! `rag ingest`: find the files, skip the ones whose content hash is
//! already stored, load and chunk the rest, embed the chunks (each text
//! embedded once per model: the cache is keyed by its hash), and store
//! each file's chunks as one unit. A file that cannot be read or parsed is
//! reported and skipped; a store or model that fails stops the ingest, and
//! what was stored before it stays: running again resumes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use vuhitra_docs::{ChunkSpec, DocKind};
use vuhitra_llm::ChatModel;
use vuhitra_store::now_ms;
use vuhitra_store::vectors::{normalize, FileEntry, StoredChunk, VectorStore};

use crate::{sha256_hex, RagError};

pub struct IngestOptions {
    pub collection: String,
    pub embed_model: String,
    /// Only files whose path (relative to the directory given) or name matches.
    pub glob: Option<String>,
    /// Drop stored files under the given paths that are no longer there.
    pub prune: bool,
    /// MAX_CONTEXT_FILE_SIZE: larger files are refused.
    pub max_file_size: u64,
    pub chunk: ChunkSpec,
    /// Texts per `/api/embed` call.
    pub batch: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FileOutcome {
    Added {
        chunks: u32,
    },
    Updated {
        chunks: u32,
    },
    Unchanged,
    /// Nothing to index (an empty file); not an error.
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
    },
    Pruned,
}

/// How the caller shows progress (the binary draws a bar).
pub trait IngestReport {
    fn found(&mut self, _files: usize) {}
    fn file(&mut self, _path: &str, _outcome: &FileOutcome) {}
    fn embedded(&mut self, _chunks: usize) {}
}

impl IngestReport for () {}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub collection: String,
    pub embed_model: String,
    pub files_seen: usize,
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub pruned: usize,
    /// Files in the directories walked whose type no loader reads (and
    /// that --glob, when given, matched).
    pub ignored: usize,
    pub failed: Vec<FailedFile>,
    /// Chunks written in this run.
    pub chunks_stored: usize,
    /// Chunks embedded by the model in this run, and found in the cache.
    pub embedded: usize,
    pub cached: usize,
    pub elapsed_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedFile {
    pub path: String,
    pub reason: String,
}

/// One file to ingest: where it is, how it is stored (absolute), its kind.
struct Candidate {
    path: PathBuf,
    stored: String,
    kind: Option<DocKind>,
}

pub async fn ingest(
    store: &impl VectorStore,
    model: &impl ChatModel,
    paths: &[PathBuf],
    opts: &IngestOptions,
    report: &mut impl IngestReport,
    cancel: &CancellationToken,
) -> Result<IngestSummary, RagError> {
    let started = Instant::now();
    let Found { roots, candidates, ignored } = find_files(paths, opts.glob.as_deref())?;
    report.found(candidates.len());
    let mut summary = IngestSummary {
        collection: opts.collection.clone(),
        embed_model: opts.embed_model.clone(),
        files_seen: candidates.len(),
        ignored,
        ..Default::default()
    };
    let existing = store.collection(&opts.collection).await?;
    if let Some(info) = existing.as_ref().filter(|i| i.embed_model != opts.embed_model) {
        // Caught before anything is embedded (the new model's dimensions
        // are not known yet, so none are claimed for it).
        return Err(vuhitra_store::StoreError::ModelMismatch {
            collection: info.name.clone(),
            stored: format!("{} ({} dimensions)", info.embed_model, info.dims),
            asked: format!("EMBED_MODEL={}", opts.embed_model),
        }
        .into());
    }
    let stored: HashMap<String, FileEntry> = match &existing {
        Some(_) => store.files(&opts.collection).await?.into_iter().map(|f| (f.path.clone(), f)).collect(),
        None => HashMap::new(),
    };
    let mut ensured = existing.is_some();
    let mut seen = HashSet::new();
    for c in &candidates {
        if cancel.is_cancelled() {
            return Err(RagError::Interrupted);
        }
        seen.insert(c.stored.clone());
        let outcome = match prepare(c, opts, stored.get(&c.stored)) {
            // A stored file that now has no text: its old chunks would
            // answer for content that is gone.
            Err(FileOutcome::Skipped { reason }) if stored.contains_key(&c.stored) => {
                store.remove_file(&opts.collection, &c.stored).await?;
                FileOutcome::Skipped { reason: format!("{reason}; its earlier chunks were removed") }
            }
            Err(outcome) => outcome,
            Ok((entry, pieces)) => {
                let chunks = tokio::select! {
                    r = embed_chunks(store, model, opts, &entry.path, pieces, &mut summary, report) => r?,
                    _ = cancel.cancelled() => return Err(RagError::Interrupted),
                };
                if !ensured {
                    let dims = chunks.first().map_or(0, |c| c.vector.len()) as u32;
                    store.ensure_collection(&opts.collection, &opts.embed_model, dims).await?;
                    ensured = true;
                }
                store.put_file(&opts.collection, &entry, &chunks).await?;
                summary.chunks_stored += chunks.len();
                let n = chunks.len() as u32;
                if stored.contains_key(&c.stored) {
                    FileOutcome::Updated { chunks: n }
                } else {
                    FileOutcome::Added { chunks: n }
                }
            }
        };
        tally(&mut summary, &c.stored, &outcome);
        report.file(&c.stored, &outcome);
    }
    if opts.prune {
        // Only files that are gone: one that is still there but outside
        // --glob (or of a type left out) keeps its chunks.
        let gone = |p: &str| !seen.contains(p) && under_any(p, &roots) && !Path::new(p).exists();
        for path in stored.keys().filter(|p| gone(p)) {
            if store.remove_file(&opts.collection, path).await? {
                tally(&mut summary, path, &FileOutcome::Pruned);
                report.file(path, &FileOutcome::Pruned);
            }
        }
    }
    summary.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(summary)
}

fn tally(summary: &mut IngestSummary, path: &str, outcome: &FileOutcome) {
    match outcome {
        FileOutcome::Added { .. } => summary.added += 1,
        FileOutcome::Updated { .. } => summary.updated += 1,
        FileOutcome::Unchanged => summary.unchanged += 1,
        FileOutcome::Skipped { .. } => summary.skipped += 1,
        FileOutcome::Pruned => summary.pruned += 1,
        FileOutcome::Failed { reason } => {
            summary.failed.push(FailedFile { path: path.to_string(), reason: reason.clone() })
        }
    }
}

fn under_any(path: &str, roots: &[PathBuf]) -> bool {
    roots.iter().any(|r| Path::new(path).starts_with(r))
}

/// What `find_files` found: the roots given, the files to ingest, and how
/// many files of other types the walk left out.
struct Found {
    roots: Vec<PathBuf>,
    candidates: Vec<Candidate>,
    ignored: usize,
}

/// The files under `paths`: a directory is walked (hidden entries left
/// out; a symbolic link to a file is followed, one to a directory is not,
/// so a walk cannot loop), a file named on its own is always a candidate
/// (an unsupported one fails with a reason). A path that does not exist
/// stops the ingest before anything is done.
fn find_files(paths: &[PathBuf], glob: Option<&str>) -> Result<Found, RagError> {
    let matcher = match glob {
        Some(g) => Some(
            globset::Glob::new(g)
                .map_err(|e| RagError::Path(format!("--glob {g:?} is not a valid pattern: {e}")))?
                .compile_matcher(),
        ),
        None => None,
    };
    let matches = |rel: &Path, name: &Path| matcher.as_ref().is_none_or(|m| m.is_match(rel) || m.is_match(name));
    let mut found = Found { roots: Vec::new(), candidates: Vec::new(), ignored: 0 };
    let mut seen = HashSet::new();
    for p in paths {
        let root =
            std::fs::canonicalize(p).map_err(|e| RagError::Path(format!("{}: {}", p.display(), io_reason(&e))))?;
        found.roots.push(root.clone());
        if root.is_file() {
            let name = Path::new(root.file_name().unwrap_or_default());
            if matches(name, name) && seen.insert(root.clone()) {
                found.candidates.push(Candidate {
                    stored: root.display().to_string(),
                    kind: vuhitra_docs::kind_for(&root),
                    path: root,
                });
            }
            continue;
        }
        let walk = walkdir::WalkDir::new(&root).follow_links(false).sort_by_file_name().into_iter();
        let entries = walk.filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in entries {
            let entry = entry.map_err(|e| RagError::Path(format!("{}: {e}", root.display())))?;
            let is_file = entry.file_type().is_file() || (entry.path_is_symlink() && entry.path().is_file());
            if !is_file {
                continue;
            }
            let path = entry.path();
            let rel = path.strip_prefix(&root).unwrap_or(path);
            if !matches(rel, Path::new(entry.file_name())) {
                continue;
            }
            let Some(kind) = vuhitra_docs::kind_for(path) else {
                found.ignored += 1;
                continue;
            };
            if seen.insert(path.to_path_buf()) {
                found.candidates.push(Candidate {
                    stored: path.display().to_string(),
                    kind: Some(kind),
                    path: path.to_path_buf(),
                });
            }
        }
    }
    Ok(found)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Reads and chunks one file, or says why it is not ingested (unchanged,
/// too large, unreadable, binary, nothing to index).
fn prepare(
    c: &Candidate,
    opts: &IngestOptions,
    stored: Option<&FileEntry>,
) -> Result<(FileEntry, Vec<vuhitra_docs::Chunk>), FileOutcome> {
    let failed = |reason: String| FileOutcome::Failed { reason };
    let Some(kind) = &c.kind else {
        let ext = c.path.extension().map(|e| format!(" (.{})", e.to_string_lossy())).unwrap_or_default();
        return Err(failed(format!("unsupported file type{ext}")));
    };
    let size = std::fs::metadata(&c.path).map_err(|e| failed(io_reason(&e)))?.len();
    if size > opts.max_file_size {
        return Err(failed(format!("{size} bytes, larger than MAX_CONTEXT_FILE_SIZE ({} bytes)", opts.max_file_size)));
    }
    let bytes = std::fs::read(&c.path).map_err(|e| failed(io_reason(&e)))?;
    let hash = sha256_hex(&bytes);
    if stored.is_some_and(|s| s.hash == hash) {
        return Err(FileOutcome::Unchanged);
    }
    let blocks = vuhitra_docs::load(kind, &bytes).map_err(|e| failed(e.to_string()))?;
    let pieces = vuhitra_docs::chunk(&blocks, &opts.chunk, &vuhitra_docs::estimate_tokens);
    if pieces.is_empty() {
        return Err(FileOutcome::Skipped { reason: "no text to index".into() });
    }
    let entry = FileEntry {
        path: c.stored.clone(),
        hash,
        kind: kind.as_str().to_string(),
        chunks: pieces.len() as u32,
        bytes: size,
        ingested_at: now_ms(),
    };
    Ok((entry, pieces))
}

/// The file's chunks with their vectors: cached ones from the store, the
/// rest from the model in batches (and then cached).
async fn embed_chunks(
    store: &impl VectorStore,
    model: &impl ChatModel,
    opts: &IngestOptions,
    path: &str,
    pieces: Vec<vuhitra_docs::Chunk>,
    summary: &mut IngestSummary,
    report: &mut impl IngestReport,
) -> Result<Vec<StoredChunk>, RagError> {
    let mut chunks: Vec<StoredChunk> = pieces
        .into_iter()
        .enumerate()
        .map(|(seq, p)| StoredChunk {
            path: path.to_string(),
            seq: seq as u32,
            lines: p.lines,
            headings: p.headings,
            text: p.text,
            hash: String::new(),
            vector: Vec::new(),
        })
        .collect();
    let texts: Vec<String> = chunks.iter().map(StoredChunk::indexed_text).collect();
    for (c, t) in chunks.iter_mut().zip(&texts) {
        c.hash = sha256_hex(t.as_bytes());
    }
    let hashes: Vec<String> = chunks.iter().map(|c| c.hash.clone()).collect();
    let mut vectors = store.cached_embeddings(&opts.embed_model, &hashes).await?;
    summary.cached += vectors.iter().filter(|v| v.is_some()).count();
    let missing: Vec<usize> = (0..vectors.len()).filter(|&i| vectors[i].is_none()).collect();
    for batch in missing.chunks(opts.batch.max(1)) {
        let inputs: Vec<String> = batch.iter().map(|&i| texts[i].clone()).collect();
        let fresh = embed(model, &opts.embed_model, &inputs).await?;
        let mut cache = Vec::with_capacity(batch.len());
        for (&i, v) in batch.iter().zip(fresh) {
            cache.push((hashes[i].clone(), v.clone()));
            vectors[i] = Some(v);
        }
        store.cache_embeddings(&opts.embed_model, &cache).await?;
        summary.embedded += batch.len();
        report.embedded(batch.len());
    }
    for (c, v) in chunks.iter_mut().zip(vectors) {
        c.vector = v.expect("every chunk has a vector by now");
    }
    Ok(chunks)
}

/// Unit-length embeddings of `inputs`, one per input.
pub async fn embed(model: &impl ChatModel, name: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, RagError> {
    let resp = model.embed(name, inputs).await.map_err(|source| RagError::Embed { model: name.to_string(), source })?;
    if resp.embeddings.len() != inputs.len() {
        return Err(RagError::EmbedCount { model: name.to_string(), sent: inputs.len(), got: resp.embeddings.len() });
    }
    Ok(resp
        .embeddings
        .into_iter()
        .map(|mut v| {
            normalize(&mut v);
            v
        })
        .collect())
}
