//! Query latency of the `VectorStore` backends at scale, on synthetic
//! chunks: the two searches a hybrid query runs (vector top-k and BM25
//! top-k, at the fusion depth), the embedding call excluded. `scripts/bench
//! rag` runs it; the figures are wall time in this process.
//!
//!   vector_scale [--redis URL] [--dims N] SIZE...
//!
//! For each SIZE it fills a fresh collection (files of 1,000 chunks), opens
//! a fresh handle (so the first query pays the load, as a new `vuhitra`
//! process does), times 200 queries, then opens one more handle (on Redis
//! the local mirror is there by now) and prints one JSON line. The baseline
//! is a brute-force f32 scan of the same vectors in memory (one thread, as
//! the f32 index scanned before quantisation): its time per query, and the
//! store's recall@40 against its exact answers.

use std::time::Instant;

use vuhitra_store::vectors::{
    dot, normalize, FileEntry, RedisVectors, SearchFilter, SqliteVectors, StoredChunk, VectorBackend, VectorStore,
};
use vuhitra_store::Store;

/// The fusion depth retrieval asks each search for (max(4k, 40) at k = 5).
const DEPTH: usize = 40;
const QUERIES: usize = 200;
/// Queries the brute-force baseline and the recall check run.
const BRUTE: usize = 50;
const PER_FILE: usize = 1000;
const VOCABULARY: u64 = 30_000;
const WORDS_PER_CHUNK: usize = 60;

/// xorshift64*: reproducible data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// A word rank with a Zipf-like (1/rank) distribution, as in prose.
    fn zipf(&mut self) -> u64 {
        let u = self.unit() as f64;
        ((VOCABULARY as f64).powf(u) as u64).clamp(1, VOCABULARY)
    }
    fn vector(&mut self, dims: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dims).map(|_| self.unit() * 2.0 - 1.0).collect();
        normalize(&mut v);
        v
    }
}

fn word(rank: u64) -> String {
    // Letters only, so every tokenizer sees one word.
    let mut n = rank;
    let mut w = String::from("w");
    while n > 0 {
        w.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    w
}

fn fill_chunks(rng: &mut Rng, path: &str, n: usize, dims: usize) -> Vec<StoredChunk> {
    (0..n)
        .map(|seq| {
            let text: Vec<String> = (0..WORDS_PER_CHUNK).map(|_| word(rng.zipf())).collect();
            StoredChunk {
                path: path.to_string(),
                seq: seq as u32,
                lines: (seq as u32 * 5 + 1, seq as u32 * 5 + 5),
                headings: vec![format!("Section {seq}")],
                text: text.join(" "),
                hash: format!("{path}#{seq}"),
                vector: rng.vector(dims),
            }
        })
        .collect()
}

/// Fills the collection; returns the seconds it took and every vector in
/// row order (file by file), for the brute-force baseline.
async fn fill(store: &VectorBackend, name: &str, size: usize, dims: usize) -> (f64, Vec<f32>) {
    let started = Instant::now();
    let mut all = Vec::with_capacity(size * dims);
    store.ensure_collection(name, "synthetic", dims as u32).await.expect("collection");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for f in 0..size.div_ceil(PER_FILE) {
        let path = format!("/synthetic/f{f:05}.md");
        let n = PER_FILE.min(size - f * PER_FILE);
        let chunks = fill_chunks(&mut rng, &path, n, dims);
        let entry = FileEntry {
            path: path.clone(),
            hash: format!("h{f}"),
            kind: "markdown".into(),
            chunks: n as u32,
            bytes: 0,
            ingested_at: 0,
        };
        store.put_file(name, &entry, &chunks).await.expect("put_file");
        chunks.iter().for_each(|c| all.extend_from_slice(&c.vector));
    }
    (started.elapsed().as_secs_f64(), all)
}

/// The exact `k` best rows by a full f32 scan.
fn brute_force(all: &[f32], dims: usize, q: &[f32], k: usize) -> Vec<usize> {
    let mut scored: Vec<(usize, f32)> = all.chunks_exact(dims).map(|v| dot(q, v)).enumerate().collect();
    let k = k.min(scored.len());
    scored.select_nth_unstable_by(k.saturating_sub(1), |a, b| b.1.total_cmp(&a.1));
    scored.truncate(k);
    scored.into_iter().map(|(row, _)| row).collect()
}

/// Row of a synthetic chunk: its file's number times the file size, plus seq.
fn row_of(path: &str, seq: u32) -> usize {
    let f: usize = path.trim_start_matches("/synthetic/f").trim_end_matches(".md").parse().expect("synthetic path");
    f * PER_FILE + seq as usize
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(store: &VectorBackend, name: &str, dims: usize, all: &[f32]) -> serde_json::Value {
    let mut rng = Rng(42);
    let filter = SearchFilter::default();
    let queries: Vec<(Vec<f32>, String)> = (0..QUERIES)
        .map(|_| {
            // Three mid-frequency words: what a question's content words are.
            let words: Vec<String> = (0..3).map(|_| word(50 + rng.next() % 5000)).collect();
            (rng.vector(dims), words.join(" "))
        })
        .collect();
    let started = Instant::now();
    store.vector_search(name, &queries[0].0, DEPTH, &filter).await.expect("first vector search");
    let first_vector_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    store.text_search(name, &queries[0].1, DEPTH, &filter).await.expect("first text search");
    let first_text_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (mut vector, mut text, mut both) = (Vec::new(), Vec::new(), Vec::new());
    for (v, t) in &queries {
        let a = Instant::now();
        store.vector_search(name, v, DEPTH, &filter).await.expect("vector search");
        let b = Instant::now();
        store.text_search(name, t, DEPTH, &filter).await.expect("text search");
        let c = Instant::now();
        vector.push((b - a).as_secs_f64() * 1000.0);
        text.push((c - b).as_secs_f64() * 1000.0);
        both.push((c - a).as_secs_f64() * 1000.0);
    }
    // The baseline, on the first BRUTE queries (a full scan at 1M is slow).
    let (mut brute, mut found) = (Vec::new(), 0usize);
    for (v, _) in queries.iter().take(BRUTE) {
        let a = Instant::now();
        let exact = brute_force(all, dims, v, DEPTH);
        brute.push(a.elapsed().as_secs_f64() * 1000.0);
        let got = store.vector_search(name, v, DEPTH, &filter).await.expect("vector search");
        found += got.iter().filter(|h| exact.contains(&row_of(&h.path, h.seq))).count();
    }
    for v in [&mut vector, &mut text, &mut both, &mut brute] {
        v.sort_by(f64::total_cmp);
    }
    serde_json::json!({
        "first_vector_ms": first_vector_ms, "first_text_ms": first_text_ms,
        "vector_p50_ms": percentile(&vector, 0.5), "vector_p95_ms": percentile(&vector, 0.95),
        "bm25_p50_ms": percentile(&text, 0.5), "bm25_p95_ms": percentile(&text, 0.95),
        "hybrid_p50_ms": percentile(&both, 0.5), "hybrid_p95_ms": percentile(&both, 0.95),
        "brute_p50_ms": percentile(&brute, 0.5), "brute_p95_ms": percentile(&brute, 0.95),
        "recall_at_40": found as f64 / (BRUTE * DEPTH) as f64,
    })
}

async fn open(redis: Option<&str>, dir: &std::path::Path) -> VectorBackend {
    match redis {
        Some(url) => {
            let url = url.parse().expect("redis URL");
            let r = RedisVectors::connect(&url, &Default::default(), "vhscale", dir.join("mirror")).await;
            VectorBackend::Redis(r.expect("connect to Redis"))
        }
        None => VectorBackend::Embedded(SqliteVectors::new(Store::open(&dir.join("scale.db")).expect("store"))),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut redis, mut dims, mut sizes) = (None, 384usize, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--redis" => redis = args.next(),
            "--dims" => dims = args.next().and_then(|d| d.parse().ok()).expect("--dims N"),
            n => sizes.push(n.parse::<usize>().expect("SIZE is a number of chunks")),
        }
    }
    let backend = if redis.is_some() { "redis" } else { "embedded" };
    for size in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let name = format!("scale{size}");
        let writer = open(redis.as_deref(), dir.path()).await;
        writer.delete_collection(&name).await.expect("clear");
        let (fill_s, all) = fill(&writer, &name, size, dims).await;
        drop(writer);
        // A new handle: the first query loads what a new process would.
        let reader = open(redis.as_deref(), dir.path()).await;
        let mut row = measure(&reader, &name, dims, &all).await;
        drop(all);
        row["backend"] = backend.into();
        row["chunks"] = size.into();
        row["dims"] = dims.into();
        row["fill_s"] = fill_s.into();
        drop(reader);
        // Again a new handle: on Redis the local mirror now exists, so this
        // is what every later process pays before its first answer.
        let again = open(redis.as_deref(), dir.path()).await;
        let started = Instant::now();
        let probe = Rng(7).vector(dims);
        again.vector_search(&name, &probe, DEPTH, &SearchFilter::default()).await.expect("search");
        row["reopen_first_vector_ms"] = (started.elapsed().as_secs_f64() * 1000.0).into();
        println!("{row}");
        again.delete_collection(&name).await.expect("clean up");
    }
}
