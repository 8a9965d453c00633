//! The prompt-intelligence backend a process uses: the embedded store, or
//! Elasticsearch with the embedded store kept beside it for records that
//! Elasticsearch refused. One enum that implements both traits, so callers
//! write `backend.records(..)` whatever is configured.

use crate::elastic::ElasticStore;
use crate::records::*;
use crate::Store;

pub enum IntelBackend {
    Embedded(Store),
    /// Elasticsearch, and the embedded store where records wait when it
    /// refuses them.
    Elastic {
        es: ElasticStore,
        pending: Store,
    },
}

impl IntelBackend {
    pub fn describe(&self) -> String {
        match self {
            IntelBackend::Embedded(s) => format!("embedded ({})", s.path().display()),
            IntelBackend::Elastic { es, .. } => format!("Elasticsearch ({})", es.url()),
        }
    }
}

/// Forwards one trait method to whichever backend this is. Written once
/// here so that no caller dispatches by hand.
macro_rules! forward {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            IntelBackend::Embedded($b) => $call,
            IntelBackend::Elastic { es: $b, .. } => $call,
        }
    };
}

impl HeuristicsStore for IntelBackend {
    async fn record(&self, r: &HeuristicRecord) -> Result<()> {
        forward!(self, b => b.record(r).await)
    }
    async fn record_by_id(&self, id: &str) -> Result<HeuristicRecord> {
        forward!(self, b => b.record_by_id(id).await)
    }
    async fn records(&self, filter: &RecordFilter) -> Result<Vec<HeuristicRecord>> {
        forward!(self, b => b.records(filter).await)
    }
    async fn rate(&self, id: &str, rating: u8, correction: Option<&str>, at: i64) -> Result<()> {
        forward!(self, b => b.rate(id, rating, correction, at).await)
    }
    async fn stats(&self, by: GroupBy) -> Result<Vec<GroupStats>> {
        forward!(self, b => b.stats(by).await)
    }
    async fn corrections(&self, terms: &str, max_rating: u8, limit: usize) -> Result<Vec<HeuristicRecord>> {
        forward!(self, b => b.corrections(terms, max_rating, limit).await)
    }
    async fn clear_records(&self) -> Result<u64> {
        forward!(self, b => b.clear_records().await)
    }
    async fn prune_records(&self, before: i64) -> Result<u64> {
        forward!(self, b => b.prune_records(before).await)
    }
    async fn outcomes(&self, intent: &str, models: &[String], slow_ms: Option<f64>) -> Result<Vec<ModelOutcomes>> {
        forward!(self, b => b.outcomes(intent, models, slow_ms).await)
    }
}

impl PromptCache for IntelBackend {
    async fn put(&self, e: &CacheEntry) -> Result<()> {
        forward!(self, b => b.put(e).await)
    }
    async fn exact(&self, scope: &str, signature: &str, now: i64) -> Result<Option<CacheEntry>> {
        forward!(self, b => b.exact(scope, signature, now).await)
    }
    async fn candidates(
        &self,
        scope: &str,
        terms: &str,
        vector: Option<QueryVector<'_>>,
        k: usize,
        now: i64,
    ) -> Result<Vec<CacheEntry>> {
        forward!(self, b => b.candidates(scope, terms, vector, k, now).await)
    }
    async fn count_hit(&self, id: &str, now: i64) -> Result<()> {
        forward!(self, b => b.count_hit(id, now).await)
    }
    async fn entries(&self, limit: Option<usize>) -> Result<Vec<CacheEntry>> {
        forward!(self, b => b.entries(limit).await)
    }
    async fn remove_entry(&self, id: &str) -> Result<()> {
        forward!(self, b => b.remove_entry(id).await)
    }
    async fn clear_entries(&self) -> Result<u64> {
        forward!(self, b => b.clear_entries().await)
    }
    async fn expire(&self, now: i64) -> Result<u64> {
        forward!(self, b => b.expire(now).await)
    }
    async fn summary(&self, now: i64) -> Result<CacheSummary> {
        forward!(self, b => b.summary(now).await)
    }
}
