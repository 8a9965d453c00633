//! What prompt intelligence keeps — heuristics records and prompt-cache
//! entries — and the two traits every backend implements. The embedded
//! backend is SQLite ([`crate::Store`]); the server backend is Elasticsearch
//! ([`crate::elastic::ElasticStore`]). `tests/conformance.rs` runs one suite
//! against both.

use serde::{Deserialize, Serialize};

use crate::StoreError;

pub type Result<T> = std::result::Result<T, StoreError>;

/// One model interaction (or one answer served from the prompt cache).
/// Times are Unix epoch milliseconds; latencies are milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeuristicRecord {
    pub id: String,
    pub created_at: i64,
    pub session: Option<String>,
    pub model: String,
    pub prompt: String,
    /// Normalised content terms (stems without stop words), space-separated:
    /// what similarity search runs on.
    pub terms: String,
    pub signature: String,
    pub intent: String,
    pub intent_confidence: f64,
    /// `kind:text`, as `vuhitra nlp` finds them.
    pub entities: Vec<String>,
    /// VADER compound score of the prompt.
    pub sentiment: f64,
    pub success: bool,
    pub error: Option<String>,
    /// `hit` or `miss` when the prompt cache was consulted.
    pub cache: Option<String>,
    pub prompt_tokens: u64,
    pub response_tokens: u64,
    pub total_ms: f64,
    pub load_ms: f64,
    pub prompt_eval_ms: f64,
    pub eval_ms: f64,
    pub tokens_per_second: Option<f64>,
    /// SHA-256 of each context file's content.
    pub context_hashes: Vec<String>,
    /// The user's feedback, 0–5.
    pub rating: Option<u8>,
    pub correction: Option<String>,
    pub rated_at: Option<i64>,
    /// How the model was chosen, when routing had a choice to make or a
    /// rule to apply (`vuhitra heuristics why`).
    pub route: Option<RouteNote>,
}

/// How a prompt's model was chosen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteNote {
    /// The setting that named the candidates (`MODEL_CODE`, …).
    pub setting: String,
    /// `learned` (sampled among several candidates), `only` (one candidate
    /// was installed, or the setting names one model).
    pub rule: String,
    /// Every candidate the setting names, in its order.
    pub candidates: Vec<RouteCandidate>,
    /// What deciding cost (store query and sampling), in milliseconds.
    pub decide_ms: f64,
}

/// One candidate as the router saw it when it chose.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteCandidate {
    pub model: String,
    pub installed: bool,
    /// The outcomes the posterior was built from.
    pub outcomes: ModelOutcomes,
    /// Beta posterior of the candidate's chance of a good answer.
    pub alpha: f64,
    pub beta: f64,
    /// The draw from that posterior (installed candidates only); the
    /// highest draw wins.
    pub sample: Option<f64>,
}

/// What the records say about one model's answers to one intent. Answers
/// served from the prompt cache are not the model's and are not counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelOutcomes {
    pub model: String,
    pub calls: u64,
    /// Calls that failed (an error, or a dev iteration whose checks failed).
    pub failures: u64,
    pub rated: u64,
    pub rating_sum: u64,
    /// Failed calls the user did not rate (a rating speaks for itself).
    pub unrated_failures: u64,
    /// Unrated successful calls slower than the latency budget.
    pub unrated_slow: u64,
    /// Mean latency of the successful calls (ms).
    pub mean_ms: Option<f64>,
}

/// Which records `list` returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub limit: Option<usize>,
    pub intent: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Intent,
    Model,
}

impl GroupBy {
    pub fn field(self) -> &'static str {
        match self {
            GroupBy::Intent => "intent",
            GroupBy::Model => "model",
        }
    }
}

/// Aggregates for one intent or model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStats {
    pub key: String,
    pub count: u64,
    pub successes: u64,
    /// Latency percentiles over all records of the group (ms).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub mean_tokens_per_second: Option<f64>,
    pub rated: u64,
    pub mean_rating: Option<f64>,
}

impl GroupStats {
    pub fn success_rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.successes as f64 / self.count as f64
        }
    }
}

/// A cached answer. `scope` is a hash of everything that must be equal for
/// the answer to be reused (model, system prompt, temperature class, context
/// files, conversation so far); `negated`, `numbers` and `entities` are what
/// the hit guards compare.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheEntry {
    pub id: String,
    pub scope: String,
    pub signature: String,
    pub prompt: String,
    pub terms: String,
    pub answer: String,
    pub model: String,
    /// The embedding model that made `embedding`; vectors of different
    /// models are never compared.
    pub embed_model: Option<String>,
    #[serde(skip)]
    pub embedding: Option<Vec<f32>>,
    pub negated: bool,
    pub numbers: Vec<String>,
    pub entities: Vec<String>,
    pub created_at: i64,
    pub last_hit_at: Option<i64>,
    pub hit_count: u64,
    pub expires_at: i64,
}

/// An embedding to search with, and the model that made it.
#[derive(Debug, Clone, Copy)]
pub struct QueryVector<'a> {
    pub model: &'a str,
    pub vector: &'a [f32],
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CacheSummary {
    pub entries: u64,
    pub expired: u64,
    pub total_hits: u64,
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

/// Heuristics: one record per interaction, with the user's feedback.
#[allow(async_fn_in_trait)] // used through concrete types and generics only
pub trait HeuristicsStore {
    /// Stores a record; storing the same id again is a no-op (so a queued
    /// record can be re-sent safely).
    async fn record(&self, r: &HeuristicRecord) -> Result<()>;
    /// The record whose id is or starts with `id`.
    async fn record_by_id(&self, id: &str) -> Result<HeuristicRecord>;
    async fn records(&self, filter: &RecordFilter) -> Result<Vec<HeuristicRecord>>;
    async fn rate(&self, id: &str, rating: u8, correction: Option<&str>, at: i64) -> Result<()>;
    async fn stats(&self, by: GroupBy) -> Result<Vec<GroupStats>>;
    /// Records rated `max_rating` or lower that carry a correction, best
    /// BM25 match on `terms` first.
    async fn corrections(&self, terms: &str, max_rating: u8, limit: usize) -> Result<Vec<HeuristicRecord>>;
    async fn clear_records(&self) -> Result<u64>;
    /// Deletes the records made before `before` (ms); returns how many.
    async fn prune_records(&self, before: i64) -> Result<u64>;
    /// Per model of `models` that has records for `intent`: its outcomes,
    /// with successes slower than `slow_ms` counted apart. Models without
    /// records are left out.
    async fn outcomes(&self, intent: &str, models: &[String], slow_ms: Option<f64>) -> Result<Vec<ModelOutcomes>>;
}

/// The prompt cache's storage; the hit decision is made above it.
#[allow(async_fn_in_trait)]
pub trait PromptCache {
    /// Stores an entry, replacing one with the same id.
    async fn put(&self, e: &CacheEntry) -> Result<()>;
    /// An unexpired entry with this scope and signature.
    async fn exact(&self, scope: &str, signature: &str, now: i64) -> Result<Option<CacheEntry>>;
    /// Unexpired entries of this scope near the query: the best `k` by BM25
    /// on `terms`, and the best `k` by embedding cosine when a vector is given.
    async fn candidates(
        &self,
        scope: &str,
        terms: &str,
        vector: Option<QueryVector<'_>>,
        k: usize,
        now: i64,
    ) -> Result<Vec<CacheEntry>>;
    async fn count_hit(&self, id: &str, now: i64) -> Result<()>;
    /// All entries, newest first (expired ones included until removed).
    async fn entries(&self, limit: Option<usize>) -> Result<Vec<CacheEntry>>;
    async fn remove_entry(&self, id: &str) -> Result<()>;
    async fn clear_entries(&self) -> Result<u64>;
    /// Removes entries whose TTL has passed.
    async fn expire(&self, now: i64) -> Result<u64>;
    async fn summary(&self, now: i64) -> Result<CacheSummary>;
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An RFC 3339 UTC time for display.
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// A new record id: 5 random hex digits, then 11 of milliseconds — the
/// random part first so the first few characters name a record, even
/// among records made in the same second.
pub fn new_id() -> String {
    format!("{:05x}{:011x}", fastrand::u32(..1 << 20), now_ms() & 0xfff_ffff_ffff)
}

/// Nearest-rank-with-interpolation percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        dot += *x as f64 * *y as f64;
        na += (*x as f64).powi(2);
        nb += (*y as f64).powi(2);
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}
