//! `vuhitra rag`: ingest documents into a collection, search it, answer
//! from it with checked citations; and `chat --rag`, which gives each chat
//! prompt the matching chunks as sources through [`augment`].

use std::path::{Path, PathBuf};

use vuhitra_docs::ChunkSpec;
use vuhitra_llm::{ChatModel, Options};
use vuhitra_pipeline::{Conversation, PreparedPrompt, Router};
use vuhitra_rag::{FileOutcome, Hit, IngestOptions, IngestReport, Mode, SearchRequest, Source};
use vuhitra_store::vectors::{CollectionInfo, SearchFilter, VectorBackend, VectorStore};

use super::chat::Dispatched;
use crate::app::App;
use crate::cli::{RagCommand, RagIngestArgs, RagQueryArgs, RagSearchArgs, RetrievalArgs};
use crate::exit::Status;
use crate::output::{self, outln};
use crate::progress::Progress;

/// Texts per `/api/embed` call: large enough to amortise the request,
/// small enough that a Ctrl-C or a failure loses little.
const EMBED_BATCH: usize = 32;

pub fn run(app: &App, rt: &tokio::runtime::Runtime, cmd: RagCommand) -> anyhow::Result<Status> {
    match cmd {
        RagCommand::Ingest(args) => rt.block_on(ingest(app, rt, args)),
        RagCommand::Search(args) => rt.block_on(search(app, args)).map(|()| Status::Success),
        RagCommand::Query(args) => rt.block_on(query(app, rt, args)),
        RagCommand::List => rt.block_on(list(app)).map(|()| Status::Success),
        RagCommand::Stats { collection } => rt.block_on(stats(app, collection)).map(|()| Status::Success),
        RagCommand::Delete { collection, files } => {
            rt.block_on(delete(app, &collection, &files)).map(|()| Status::Success)
        }
        RagCommand::Reindex { collection } => rt.block_on(reindex(app, collection)).map(|()| Status::Success),
    }
}

fn collection_name(app: &App, given: Option<String>) -> String {
    given.unwrap_or_else(|| app.config.rag.collection.clone())
}

fn embed_model(app: &App) -> anyhow::Result<String> {
    app.config.embed_model.clone().ok_or_else(|| vuhitra_rag::RagError::NoEmbedModel.into())
}

/// The collection, or an error that says how to make one.
async fn open_collection(vectors: &VectorBackend, name: &str) -> anyhow::Result<CollectionInfo> {
    Ok(vectors.collection(name).await?.ok_or_else(|| vuhitra_store::StoreError::NoSuchCollection(name.into()))?)
}

/// A stored (absolute) path as the user sees it: relative to the working
/// directory when it is under it.
pub fn shown_path(stored: &str) -> String {
    let cwd = std::env::current_dir().ok();
    match cwd.as_deref().and_then(|c| Path::new(stored).strip_prefix(c).ok()) {
        Some(rel) => rel.display().to_string(),
        None => stored.to_string(),
    }
}

/// A path the user typed, as the store keeps it (absolute; the file need
/// not exist any more).
fn stored_path(given: &str) -> String {
    let p = PathBuf::from(given);
    if let Ok(c) = std::fs::canonicalize(&p) {
        return c.display().to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) if p.is_relative() => cwd.join(p).display().to_string(),
        _ => given.to_string(),
    }
}

/// Draws files done out of files found, with chunks embedded and their rate.
struct IngestBar {
    progress: Progress,
    total: u64,
    done: u64,
    chunks: u64,
    started: std::time::Instant,
}

impl IngestReport for IngestBar {
    fn found(&mut self, files: usize) {
        self.total = files as u64;
        self.draw();
    }
    fn file(&mut self, path: &str, outcome: &FileOutcome) {
        if !matches!(outcome, FileOutcome::Pruned) {
            self.done += 1;
        }
        // Each failure once, as it happens, on stderr (--json: also in the summary).
        if let FileOutcome::Failed { reason } = outcome {
            self.progress.status(&format!("error: {}: {reason}", shown_path(path)));
        }
        self.draw();
    }
    fn embedded(&mut self, chunks: usize) {
        self.chunks += chunks as u64;
        self.draw();
    }
}

impl IngestBar {
    fn draw(&mut self) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = self.chunks as f64 / secs;
        // A slow model embeds less than one chunk a second: keep a decimal.
        let detail = if rate < 10.0 {
            format!("{} chunks embedded, {rate:.1}/s", self.chunks)
        } else {
            format!("{} chunks embedded, {rate:.0}/s", self.chunks)
        };
        self.progress.items("ingest", "files", self.total, self.done, &detail);
    }
}

/// A query or question with something in it: an empty one would rank
/// arbitrary chunks.
fn non_empty(text: String, what: &str) -> anyhow::Result<String> {
    if text.trim().is_empty() {
        anyhow::bail!(crate::exit::usage(format!("the {what} is empty"), Some("give some words to search for")));
    }
    Ok(text)
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

async fn ingest(app: &App, rt: &tokio::runtime::Runtime, args: RagIngestArgs) -> anyhow::Result<Status> {
    let opts = IngestOptions {
        collection: collection_name(app, args.collection),
        embed_model: embed_model(app)?,
        glob: args.glob,
        prune: args.prune,
        max_file_size: app.config.max_context_file_size,
        chunk: ChunkSpec { max_tokens: app.config.rag.chunk_tokens, overlap_tokens: app.config.rag.chunk_overlap },
        batch: EMBED_BATCH,
    };
    let vectors = app.vectors().await?;
    let client = app.ollama();
    let cancel = app.cancel_token(rt.handle());
    let mut bar = IngestBar {
        progress: Progress::new(app.json),
        total: 0,
        done: 0,
        chunks: 0,
        started: std::time::Instant::now(),
    };
    let result = vuhitra_rag::ingest(&vectors, &client, &args.paths, &opts, &mut bar, &cancel).await;
    bar.progress.finish();
    let summary = result?;
    let failed = !summary.failed.is_empty();
    if app.json {
        let mut v = serde_json::to_value(&summary)?;
        v["backend"] = vectors.describe().into();
        output::json(&v);
    } else {
        let mut parts = vec![format!("{} added", summary.added), format!("{} updated", summary.updated)];
        parts.push(format!("{} unchanged", summary.unchanged));
        if summary.skipped > 0 {
            parts.push(format!("{} empty", summary.skipped));
        }
        if summary.pruned > 0 {
            parts.push(format!("{} pruned", summary.pruned));
        }
        if failed {
            parts.push(format!("{} failed", summary.failed.len()));
        }
        if summary.ignored > 0 {
            parts.push(format!("{} of other types left out", summary.ignored));
        }
        outln(&format!(
            "{}: {} ({}); {} stored, {} embedded, {} from the embedding cache, in {:.1} s ({})",
            summary.collection,
            plural(summary.files_seen, "file"),
            parts.join(", "),
            plural(summary.chunks_stored, "chunk"),
            summary.embedded,
            summary.cached,
            summary.elapsed_ms / 1000.0,
            vectors.describe(),
        ));
    }
    if summary.files_seen == 0 {
        let why = match &opts.glob {
            Some(g) => format!("no file under the given paths matches --glob {g:?} (it is matched against the path relative to each directory given, and against the file name)"),
            None => "no file of a supported type under the given paths".to_string(),
        };
        output::warn(&why);
    }
    // The other files are stored; the exit says that some were not.
    Ok(Status::failed_if(failed, 1))
}

async fn search(app: &App, args: RagSearchArgs) -> anyhow::Result<()> {
    let query = non_empty(args.query.join(" "), "query")?;
    let vectors = app.vectors().await?;
    let info = open_collection(&vectors, &collection_name(app, args.retrieval.collection.clone())).await?;
    let r = retrieval(app, &args.retrieval)?;
    let req = SearchRequest {
        query: &query,
        top_k: r.top_k.unwrap_or(app.config.rag.top_k),
        mode: r.mode,
        filter: r.filter,
        weights: Default::default(),
    };
    let hits = vuhitra_rag::search(&vectors, &app.ollama(), &info, &req).await?;
    if app.json {
        let hits: Vec<serde_json::Value> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let mut v = serde_json::to_value(h).expect("hits serialise");
                v["rank"] = (i + 1).into();
                v["shown_path"] = shown_path(&h.chunk.path).into();
                v
            })
            .collect();
        output::json(&serde_json::json!({
            "collection": info.name, "mode": req.mode.as_str(), "query": query, "embed_model": info.embed_model,
            "hits": hits,
        }));
        return Ok(());
    }
    if hits.is_empty() {
        outln(&format!("no chunk of {} matches", info.name));
        return Ok(());
    }
    for (i, h) in hits.iter().enumerate() {
        let c = &h.chunk;
        let section = if c.headings.is_empty() { String::new() } else { format!("  {}", c.headings.join(" > ")) };
        outln(&format!(
            "{:>2}. {:.4}  {}:{}-{}{}",
            i + 1,
            c.score,
            shown_path(&c.path),
            c.lines.0,
            c.lines.1,
            output::dim(&section)
        ));
        outln(&format!("    {}", output::one_line(&c.text, 160)));
    }
    Ok(())
}

/// What a RAG answer was given, for the lines after it.
struct Augmented {
    collection: String,
    sources: Vec<Source>,
}

/// Finds the chunks for `prompt` in `collection` and rewrites its message:
/// numbered sources within the model's context budget, then the question.
/// The sources' hashes join the prompt's context hashes, so a cached
/// answer is only reused for the same sources.
async fn augment(
    vectors: &VectorBackend,
    client: &impl ChatModel,
    model: &str,
    collection: &str,
    prompt: &PreparedPrompt,
    req: &SearchRequest<'_>,
) -> anyhow::Result<(PreparedPrompt, Augmented)> {
    let info = open_collection(vectors, collection).await?;
    let hits: Vec<Hit> = vuhitra_rag::search(vectors, client, &info, req).await?;
    if hits.is_empty() {
        anyhow::bail!(crate::exit::usage(
            format!("no chunk of collection {collection:?} matches the question"),
            Some("`vuhitra rag stats` shows what it holds; try other words, or --mode vector"),
        ));
    }
    let budget = source_budget(client, model).await;
    let count = |s: &str| vuhitra_llm::context::estimate_text_tokens(s);
    let (message, sources) = vuhitra_rag::sources_message(&prompt.question, &hits, budget, count, shown_path);
    let mut augmented = prompt.clone();
    // The context files the user attached still come first.
    augmented.message = match prompt.message.strip_suffix(prompt.question.as_str()) {
        Some(files) if !files.trim().is_empty() => format!("{files}{message}"),
        _ => message,
    };
    for s in &sources {
        augmented
            .context_hashes
            .push(vuhitra_rag::sha256_hex(format!("{}:{:?}:{}", s.path, s.lines, s.text).as_bytes()));
    }
    Ok((augmented, Augmented { collection: collection.to_string(), sources }))
}

/// Tokens the sources may take: the model's window (at most 8192, so a
/// long-context model does not make every answer slow) less the answer's
/// reserve and the system prompt.
async fn source_budget(client: &impl ChatModel, model: &str) -> u32 {
    let window = client.context_length(model).await.ok().flatten().unwrap_or(4096).min(8192);
    let system = vuhitra_llm::context::estimate_text_tokens(vuhitra_rag::SYSTEM);
    window.saturating_sub(vuhitra_llm::context::DEFAULT_ANSWER_RESERVE + system + 64).max(256)
}

/// The system prompt of a RAG turn: the user's own (if any), then the
/// rules for sources.
pub fn rag_system(user: Option<&str>) -> String {
    match user {
        Some(s) if !s.trim().is_empty() => format!("{s}\n\n{}", vuhitra_rag::SYSTEM),
        _ => vuhitra_rag::SYSTEM.to_string(),
    }
}

async fn list(app: &App) -> anyhow::Result<()> {
    let vectors = app.vectors().await?;
    let all = vectors.collections().await?;
    if app.json {
        output::json(&serde_json::json!({ "backend": vectors.describe(), "collections": all }));
        return Ok(());
    }
    if all.is_empty() {
        outln(&format!("no collections ({}); `vuhitra rag ingest PATH` makes one", vectors.describe()));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.embed_model.clone(),
                c.files.to_string(),
                c.chunks.to_string(),
                vuhitra_store::format_ms(c.updated_at),
            ]
        })
        .collect();
    outln(&output::table(&["COLLECTION", "MODEL", "FILES", "CHUNKS", "UPDATED"], &rows));
    Ok(())
}

async fn stats(app: &App, collection: Option<String>) -> anyhow::Result<()> {
    let vectors = app.vectors().await?;
    let info = open_collection(&vectors, &collection_name(app, collection)).await?;
    let files = vectors.files(&info.name).await?;
    if app.json {
        output::json(&serde_json::json!({ "backend": vectors.describe(), "collection": info, "files": files }));
        return Ok(());
    }
    outln(&format!(
        "{}: {} files, {} chunks, {} ({} dimensions), version {}, {}",
        info.name,
        info.files,
        info.chunks,
        info.embed_model,
        info.dims,
        info.version,
        vectors.describe()
    ));
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            vec![
                shown_path(&f.path),
                f.kind.clone(),
                f.chunks.to_string(),
                output::human_bytes(f.bytes),
                vuhitra_store::format_ms(f.ingested_at),
            ]
        })
        .collect();
    outln(&output::table(&["FILE", "KIND", "CHUNKS", "SIZE", "INGESTED"], &rows));
    Ok(())
}

async fn delete(app: &App, collection: &str, files: &[String]) -> anyhow::Result<()> {
    let vectors = app.vectors().await?;
    open_collection(&vectors, collection).await?;
    if files.is_empty() {
        vectors.delete_collection(collection).await?;
        if app.json {
            output::json(&serde_json::json!({ "deleted": collection }));
        } else {
            outln(&format!("deleted collection {collection}"));
        }
        return Ok(());
    }
    // Every named file must be there before any is removed: a typo in the
    // second name leaves the first in place, not half the request done.
    let stored: std::collections::HashSet<String> =
        vectors.files(collection).await?.into_iter().map(|f| f.path).collect();
    let paths: Vec<String> = files.iter().map(|f| stored_path(f)).collect();
    let missing: Vec<&String> =
        files.iter().zip(&paths).filter(|(_, p)| !stored.contains(*p)).map(|(f, _)| f).collect();
    if !missing.is_empty() {
        let names = missing.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ");
        anyhow::bail!(crate::exit::usage(
            format!("not in collection {collection:?}: {names}; nothing was removed"),
            Some(&format!("`vuhitra rag stats {collection}` lists its files")),
        ));
    }
    let mut removed = Vec::new();
    for path in paths {
        if vectors.remove_file(collection, &path).await? {
            removed.push(path);
        }
    }
    if app.json {
        output::json(&serde_json::json!({ "collection": collection, "removed": removed }));
    } else {
        for p in &removed {
            outln(&format!("removed {} from {collection}", shown_path(p)));
        }
    }
    Ok(())
}

/// Re-embeds every stored chunk with EMBED_MODEL and swaps the collection
/// over in one step: until it is done, searches see the old vectors.
async fn reindex(app: &App, collection: Option<String>) -> anyhow::Result<()> {
    let vectors = app.vectors().await?;
    let info = open_collection(&vectors, &collection_name(app, collection)).await?;
    let model = embed_model(app)?;
    let files = vectors.files(&info.name).await?;
    let mut chunks = vectors.chunks(&info.name).await?;
    let client = app.ollama();
    let mut progress = Progress::new(app.json);
    let total = chunks.len() as u64;
    let mut done = 0u64;
    for batch in chunks.chunks_mut(EMBED_BATCH) {
        let texts: Vec<String> = batch.iter().map(|c| vuhitra_store::vectors::StoredChunk::indexed_text(c)).collect();
        let fresh = vuhitra_rag::ingest::embed(&client, &model, &texts).await?;
        for (c, v) in batch.iter_mut().zip(fresh) {
            c.vector = v;
        }
        done += batch.len() as u64;
        progress.items("reindex", "chunks", total, done, &model);
    }
    progress.finish();
    let dims = chunks.first().map_or(info.dims, |c| c.vector.len() as u32);
    let new_info = CollectionInfo { embed_model: model.clone(), dims, ..info.clone() };
    vectors.replace_collection(&new_info, &files, &chunks).await?;
    if app.json {
        output::json(&serde_json::json!({
            "collection": info.name, "from": info.embed_model, "to": model, "chunks": chunks.len(), "dims": dims,
        }));
    } else {
        outln(&format!(
            "{}: {} chunks re-embedded with {model} ({dims} dimensions; was {})",
            info.name,
            chunks.len(),
            info.embed_model
        ));
    }
    Ok(())
}

/// `rag query`: a chat turn answered from the collection, through the same
/// path as `chat --rag` (one turn, no session), deterministic (temperature 0).
async fn query(app: &App, rt: &tokio::runtime::Runtime, args: RagQueryArgs) -> anyhow::Result<Status> {
    let question = non_empty(args.question.join(" "), "question")?;
    let collection = collection_name(app, args.retrieval.collection.clone());
    let mut rag = RagState::new(Some(collection));
    rag.retrieval = retrieval(app, &args.retrieval)?;
    rag.check(app).await?;
    let mut pipeline = app.pipeline()?;
    let prepared = pipeline.prepare_plain(&question);
    let mut store = app.store()?;
    let client = app.ollama();
    let options = Options { temperature: Some(0.0), ..Default::default() };
    let router = if args.model.is_some() { Router::default() } else { Router::from_config(&app.config) };
    let model = args.model.clone().unwrap_or_else(|| app.config.model.clone());
    let mut convo = Conversation { router, ..Conversation::new(model, None, options) };
    let mut tools = super::chat_tools::ChatTools::new(app, false, false, None);
    let markdown = output::renders_markdown(app.json, args.raw);
    let stream = !app.json && !args.no_stream;
    let cancel = app.cancel_token(rt.handle());
    let mut chat = super::chat::Chat {
        app,
        client: &client,
        store: &mut store,
        pipeline: &mut pipeline,
        convo: &mut convo,
        tools: &mut tools,
        markdown,
        rag: &mut rag,
    };
    let Dispatched::Answered(outcome) = chat.dispatch(&prepared, None, &cancel, stream).await? else {
        unreachable!("a plain prompt is always answered");
    };
    super::chat::show_answer(app, &outcome, None, &prepared, &mut rag, stream, markdown);
    Ok(Status::Success)
}

/// `chat --rag` and `/rag` in the REPL: the collection chat prompts are
/// answered from, its store (opened once), and what the last answer was given.
pub struct RagState {
    pub collection: Option<String>,
    /// How sources are found (`rag query`'s flags; chat uses the defaults).
    pub retrieval: Retrieval,
    vectors: Option<VectorBackend>,
    last: Option<Augmented>,
}

/// The retrieval flags of `rag search` and `rag query`, resolved. `top_k`
/// None is RAG_TOP_K.
#[derive(Default)]
pub struct Retrieval {
    pub top_k: Option<usize>,
    pub mode: Mode,
    pub filter: SearchFilter,
}

fn retrieval(app: &App, r: &RetrievalArgs) -> anyhow::Result<Retrieval> {
    Ok(Retrieval {
        top_k: Some(r.top_k.map_or(app.config.rag.top_k, usize::from)),
        mode: r.mode.parse::<Mode>().map_err(|e| crate::exit::usage(e, None))?,
        filter: SearchFilter { path_prefix: r.path.as_deref().map(stored_path) },
    })
}

impl RagState {
    pub fn new(collection: Option<String>) -> Self {
        RagState { collection, retrieval: Retrieval::default(), vectors: None, last: None }
    }

    /// Forgets the last answer's sources (its turn failed).
    pub fn forget(&mut self) {
        self.last = None;
    }

    /// After an answer given sources: the sources as file:lines, then what
    /// the citation check found (an unknown [n], or no citation at all).
    pub fn print_sources(&mut self, answer: &str) {
        let Some(aug) = self.last.take() else { return };
        let citations = vuhitra_rag::check_citations(answer, aug.sources.len());
        outln("");
        outln(&format!("Sources ({}):", aug.collection));
        for s in &aug.sources {
            let mark = if citations.cited.contains(&s.n) { "" } else { "  (not cited)" };
            let section =
                if s.headings.is_empty() { String::new() } else { format!(" — {}", s.headings.join(" > ")) };
            outln(&format!("  [{}] {}:{}-{}{}{}", s.n, s.path, s.lines.0, s.lines.1, section, output::dim(mark)));
        }
        if !citations.unknown.is_empty() {
            let list: Vec<String> = citations.unknown.iter().map(|n| format!("[{n}]")).collect();
            outln(&format!(
                "! the answer cites {} but only [1]-[{}] were given: those citations point at nothing",
                list.join(", "),
                aug.sources.len()
            ));
        }
        if citations.uncited {
            outln("! the answer cites none of the sources: check it against them before relying on it");
        }
    }

    /// The `rag` object of a `--json` answer given sources: the collection,
    /// the sources and the citation check.
    pub fn take_sources_json(&mut self, answer: &str) -> Option<serde_json::Value> {
        let aug = self.last.take()?;
        let citations = vuhitra_rag::check_citations(answer, aug.sources.len());
        Some(serde_json::json!({ "collection": aug.collection, "sources": aug.sources, "citations": citations }))
    }

    async fn backend(&mut self, app: &App) -> anyhow::Result<&VectorBackend> {
        if self.vectors.is_none() {
            self.vectors = Some(app.vectors().await?);
        }
        Ok(self.vectors.as_ref().expect("opened above"))
    }

    /// The collection exists (checked when it is chosen, not at the first prompt).
    pub async fn check(&mut self, app: &App) -> anyhow::Result<CollectionInfo> {
        let name = self.collection.clone().unwrap_or_default();
        open_collection(self.backend(app).await?, &name).await
    }

    /// The prompt with its sources when a collection is on (else None).
    pub async fn augment(
        &mut self,
        app: &App,
        client: &impl ChatModel,
        model: &str,
        prompt: &PreparedPrompt,
    ) -> anyhow::Result<Option<PreparedPrompt>> {
        self.last = None;
        let Some(name) = self.collection.clone() else { return Ok(None) };
        let req = SearchRequest {
            query: &prompt.question,
            top_k: self.retrieval.top_k.unwrap_or(app.config.rag.top_k),
            mode: self.retrieval.mode,
            filter: self.retrieval.filter.clone(),
            weights: Default::default(),
        };
        let vectors = self.backend(app).await?;
        let (augmented, aug) = augment(vectors, client, model, &name, prompt, &req).await?;
        self.last = Some(aug);
        Ok(Some(augmented))
    }
}
