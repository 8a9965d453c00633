//! Prompt intelligence at run time: the heuristics and prompt-cache backend
//! (Elasticsearch when ELASTICSEARCH_URL is set, else the embedded store),
//! the queue of records waiting for Elasticsearch, and query embeddings.

use std::cell::Cell;
use std::time::Duration;

use vuhitra_llm::{OllamaClient, OllamaError};
use vuhitra_store::elastic::ElasticStore;
use vuhitra_store::{HeuristicRecord, Store};

use crate::app::App;

pub enum Backend {
    Embedded(Store),
    /// Elasticsearch, and the embedded store where records wait when it
    /// refuses them.
    Elastic {
        es: ElasticStore,
        pending: Store,
    },
}

/// Calls the same trait method on whichever backend is configured.
macro_rules! on_backend {
    ($intel:expr, $b:ident => $call:expr) => {
        match &$intel.backend {
            $crate::intel::Backend::Embedded($b) => $call,
            $crate::intel::Backend::Elastic { es: $b, .. } => $call,
        }
    };
}
pub(crate) use on_backend;

pub struct Intel {
    pub backend: Backend,
    pub embed_model: Option<String>,
    /// Set once the embedding model failed, so the warning is printed once.
    embed_failed: Cell<bool>,
}

impl Intel {
    /// Opens the configured backend. An Elasticsearch that is set but does
    /// not answer is an error naming ELASTICSEARCH_URL; records queued by
    /// earlier runs are sent as soon as it answers again.
    pub async fn open(app: &App) -> anyhow::Result<Intel> {
        let backend = match &app.config.elasticsearch_url {
            Some(url) => {
                let es = ElasticStore::connect(
                    url,
                    &app.config.elasticsearch_index_prefix,
                    Duration::from_secs(app.config.ollama_connect_timeout_secs),
                )
                .await?;
                let pending = app.store()?;
                match es.flush_pending(&pending).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("sent {n} queued heuristics record(s) to Elasticsearch"),
                    Err(e) => tracing::warn!("queued heuristics records stay queued: {e}"),
                }
                Backend::Elastic { es, pending }
            }
            None => Backend::Embedded(app.store()?),
        };
        Ok(Intel { backend, embed_model: app.config.embed_model.clone(), embed_failed: Cell::new(false) })
    }

    pub fn backend_name(&self) -> String {
        match &self.backend {
            Backend::Embedded(s) => format!("embedded ({})", s.path().display()),
            Backend::Elastic { es, .. } => format!("Elasticsearch ({})", es.url()),
        }
    }

    /// Records one interaction. Only the recording failed, so the answer
    /// stands: with Elasticsearch the record waits in the embedded store and
    /// is sent on a later run; either way the user gets a warning, not an error.
    pub async fn record(&self, r: &HeuristicRecord) {
        use vuhitra_store::HeuristicsStore;
        let Err(e) = on_backend!(self, b => b.record(r).await) else { return };
        match &self.backend {
            Backend::Elastic { pending, .. } => match pending.queue_pending(r, &e.to_string()) {
                Ok(()) => eprintln!(
                    "warning: the heuristics record could not reach Elasticsearch ({e}); it is kept locally and \
                     sent on the next run"
                ),
                Err(q) => eprintln!("warning: the heuristics record was lost: {e}; queueing it failed too: {q}"),
            },
            Backend::Embedded(_) => eprintln!("warning: the heuristics record was not saved: {e}"),
        }
    }

    /// The embedding of `text` under EMBED_MODEL, or None when there is no
    /// usable embedding model (similarity then uses words only).
    pub async fn embed(&self, client: &OllamaClient, text: &str) -> Option<(String, Vec<f32>)> {
        let model = self.embed_model.as_ref().filter(|_| !self.embed_failed.get())?;
        match client.embed(model, &[text.to_string()]).await {
            Ok(mut r) if !r.embeddings.is_empty() => Some((model.clone(), r.embeddings.swap_remove(0))),
            Ok(_) => None,
            Err(e) => {
                self.embed_failed.set(true);
                let why = match &e {
                    OllamaError::ModelNotFound { .. } => {
                        format!("EMBED_MODEL {model} is not installed (vuhitra models pull {model})")
                    }
                    other => format!("embedding with {model} failed: {other}"),
                };
                eprintln!("warning: {why}; cache similarity uses words only");
                None
            }
        }
    }
}
