//! Prompt intelligence at run time: the heuristics and prompt-cache backend
//! (Elasticsearch when ELASTICSEARCH_URL is set, else the embedded store),
//! the queue of records waiting for Elasticsearch, and query embeddings.

use std::cell::Cell;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;
use vuhitra_llm::{ChatModel, OllamaError};
use vuhitra_store::elastic::ElasticStore;
use vuhitra_store::{HeuristicRecord, HeuristicsStore, IntelBackend, Store, StoreError};

/// Where warnings go: the binary's one warning path (which knows about
/// `--json`). Only the recording of an answer failed, so the answer stands.
pub type Warn = fn(&str);

/// What opening the backend needs from the configuration.
#[derive(Debug, Clone)]
pub struct IntelSettings {
    pub elasticsearch_url: Option<Url>,
    pub elasticsearch_access: vuhitra_core::remote::Access,
    pub index_prefix: String,
    pub elasticsearch_timeout: Duration,
    /// The embedded store (backend, or queue beside Elasticsearch).
    pub store_path: PathBuf,
    pub embed_model: Option<String>,
    /// HEURISTICS_RETENTION in seconds; 0 keeps records forever.
    pub retention_secs: u64,
    /// The embedded store at `store_path`, when the caller has it open
    /// already (a process opens its store once).
    pub store: Option<Store>,
}

impl IntelSettings {
    pub fn from_config(c: &vuhitra_core::Config) -> Self {
        IntelSettings {
            elasticsearch_url: c.elasticsearch_url.clone(),
            elasticsearch_access: c.elasticsearch_access.clone(),
            index_prefix: c.elasticsearch_index_prefix.clone(),
            elasticsearch_timeout: Duration::from_secs(c.elasticsearch_timeout_secs),
            store_path: c.store_path(),
            embed_model: c.embed_model.clone(),
            retention_secs: c.heuristics_retention_secs,
            store: None,
        }
    }

    /// The embedded store: the caller's, or opened from `store_path`.
    fn embedded(&self) -> Result<Store, StoreError> {
        match &self.store {
            Some(store) => Ok(store.clone()),
            None => Store::open(&self.store_path),
        }
    }
}

pub struct Intel {
    pub backend: IntelBackend,
    pub embed_model: Option<String>,
    warn: Warn,
    /// Set once the embedding model failed, so the warning is printed once.
    embed_failed: Cell<bool>,
}

impl Intel {
    /// Opens the configured backend. An Elasticsearch that is set but does
    /// not answer is an error naming ELASTICSEARCH_URL; records queued by
    /// earlier runs are sent as soon as it answers again.
    pub async fn open(settings: &IntelSettings, warn: Warn) -> Result<Intel, StoreError> {
        let backend = match &settings.elasticsearch_url {
            Some(url) => {
                let es = ElasticStore::connect(
                    url,
                    &settings.elasticsearch_access,
                    &settings.index_prefix,
                    settings.elasticsearch_timeout,
                )
                .await?;
                let pending = settings.embedded()?;
                match es.flush_pending(&pending).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("sent {n} queued heuristics record(s) to Elasticsearch"),
                    Err(e) => tracing::warn!("queued heuristics records stay queued: {e}"),
                }
                IntelBackend::Elastic { es, pending }
            }
            None => IntelBackend::Embedded(settings.embedded()?),
        };
        let intel = Intel { backend, embed_model: settings.embed_model.clone(), warn, embed_failed: Cell::new(false) };
        intel.apply_retention(settings).await;
        Ok(intel)
    }

    /// Deletes records older than HEURISTICS_RETENTION, at most once a day
    /// per data directory (a marker file's age says when it last ran), so a
    /// turn does not pay for a delete-by-query. A failure is only logged.
    async fn apply_retention(&self, settings: &IntelSettings) {
        if settings.retention_secs == 0 {
            return;
        }
        let marker = settings.store_path.with_file_name("heuristics-pruned");
        let fresh = std::fs::metadata(&marker)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < Duration::from_secs(86_400)));
        if fresh {
            return;
        }
        let before = vuhitra_store::now_ms() - settings.retention_secs as i64 * 1000;
        match self.backend.prune_records(before).await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!("deleted {n} heuristics record(s) older than HEURISTICS_RETENTION");
                }
                let _ = std::fs::write(&marker, vuhitra_store::now_ms().to_string());
            }
            Err(e) => tracing::warn!("old heuristics records were not pruned: {e}"),
        }
    }

    pub fn backend_name(&self) -> String {
        self.backend.describe()
    }

    /// Records one interaction; returns whether it was kept (saved, or
    /// queued for Elasticsearch). A failure is a warning, not an error:
    /// with Elasticsearch the record waits in the embedded store and is sent
    /// on a later run.
    pub async fn record(&self, r: &HeuristicRecord) -> bool {
        let Err(e) = self.backend.record(r).await else { return true };
        match &self.backend {
            IntelBackend::Elastic { pending, .. } => match pending.queue_pending(r, &e.to_string()) {
                Ok(()) => {
                    (self.warn)(&format!(
                        "the heuristics record could not reach Elasticsearch ({e}); it is kept locally and sent on \
                         the next run"
                    ));
                    true
                }
                Err(q) => {
                    (self.warn)(&format!("the heuristics record was lost: {e}; queueing it failed too: {q}"));
                    false
                }
            },
            IntelBackend::Embedded(_) => {
                (self.warn)(&format!("the heuristics record was not saved: {e}"));
                false
            }
        }
    }

    pub fn warn(&self, message: &str) {
        (self.warn)(message)
    }

    /// The embedding of `text` under EMBED_MODEL, or None when there is no
    /// usable embedding model (similarity then uses words only).
    pub async fn embed(&self, model: &impl ChatModel, text: &str) -> Option<(String, Vec<f32>)> {
        let name = self.embed_model.as_ref().filter(|_| !self.embed_failed.get())?;
        match model.embed(name, &[text.to_string()]).await {
            Ok(mut r) if !r.embeddings.is_empty() => Some((name.clone(), r.embeddings.swap_remove(0))),
            Ok(_) => None,
            Err(e) => {
                self.embed_failed.set(true);
                let why = match &e {
                    OllamaError::ModelNotFound { .. } => {
                        format!("EMBED_MODEL {name} is not installed (vuhitra models pull {name})")
                    }
                    other => format!("embedding with {name} failed: {other}"),
                };
                (self.warn)(&format!("{why}; cache similarity uses words only"));
                None
            }
        }
    }
}
