//! The Elasticsearch 8.x backend of both traits, over the REST API with
//! typed records (the official Rust client is an alpha for 9.x and refuses
//! 8.x servers).
//!
//! Layout: each store is an alias (`<prefix>-heuristics`,
//! `<prefix>-prompt-cache`) over a versioned index (`…-v1`) created from an
//! index template. When the mapping changes, the version goes up: the next
//! start creates the new index, re-indexes the old one into it, and moves
//! the alias in one atomic `_aliases` call. An index without the version
//! suffix (made by hand or by an older tool) is migrated the same way.
//!
//! Only APIs of Elasticsearch's server core are used — no `_reindex` or
//! `_delete_by_query` (the reindex module) and no scripts (painless): the
//! copy is a scroll plus `_bulk`, deletes are searches plus `_bulk`, and
//! counters are updated with optimistic concurrency. So the minimal
//! distribution works as well as the full one.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use url::Url;

use crate::records::*;
use crate::StoreError;
use vuhitra_core::remote::{is_tls_failure, Access};

/// Bump when a mapping changes; `ensure_index` migrates older versions.
pub const HEURISTICS_VERSION: u32 = 1;
pub const CACHE_VERSION: u32 = 1;

pub struct ElasticStore {
    http: reqwest::Client,
    base: Url,
    access: Access,
    prefix: String,
}

#[derive(Clone, Copy)]
enum Kind {
    Heuristics,
    Cache,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Heuristics => "heuristics",
            Kind::Cache => "prompt-cache",
        }
    }

    fn version(self) -> u32 {
        match self {
            Kind::Heuristics => HEURISTICS_VERSION,
            Kind::Cache => CACHE_VERSION,
        }
    }

    fn mappings(self) -> Value {
        let date = json!({"type": "date", "format": "epoch_millis"});
        // Terms are already stemmed and stop-worded by the NLP stage, so
        // they are indexed as they are (whitespace analyzer) for BM25.
        let terms = json!({"type": "text", "analyzer": "whitespace"});
        match self {
            // dynamic: false keeps fields of older documents in _source
            // without mapping them, so a re-index never fails on them.
            Kind::Heuristics => json!({
                "dynamic": false,
                "properties": {
                    "id": {"type": "keyword"},
                    "created_at": date,
                    "session": {"type": "keyword"},
                    "model": {"type": "keyword"},
                    "prompt": {"type": "text"},
                    "terms": terms,
                    "signature": {"type": "keyword"},
                    "intent": {"type": "keyword"},
                    "intent_confidence": {"type": "float"},
                    "entities": {"type": "keyword"},
                    "sentiment": {"type": "float"},
                    "success": {"type": "boolean"},
                    "error": {"type": "text"},
                    "cache": {"type": "keyword"},
                    "prompt_tokens": {"type": "long"},
                    "response_tokens": {"type": "long"},
                    "total_ms": {"type": "double"},
                    "load_ms": {"type": "double"},
                    "prompt_eval_ms": {"type": "double"},
                    "eval_ms": {"type": "double"},
                    "tokens_per_second": {"type": "double"},
                    "context_hashes": {"type": "keyword"},
                    "rating": {"type": "byte"},
                    "correction": {"type": "text"},
                    "rated_at": date,
                }
            }),
            // Embeddings go to `vec_<dims>` fields, mapped on first use as
            // cosine dense_vectors, so models of any size can share the index.
            Kind::Cache => json!({
                "dynamic": true,
                "dynamic_templates": [{"embeddings": {
                    "match": "vec_*",
                    "mapping": {"type": "dense_vector", "index": true, "similarity": "cosine"}
                }}],
                "properties": {
                    "id": {"type": "keyword"},
                    "scope": {"type": "keyword"},
                    "signature": {"type": "keyword"},
                    "prompt": {"type": "text"},
                    "terms": terms,
                    "answer": {"type": "text", "index": false},
                    "model": {"type": "keyword"},
                    "embed_model": {"type": "keyword"},
                    "negated": {"type": "boolean"},
                    "numbers": {"type": "keyword"},
                    "entities": {"type": "keyword"},
                    "created_at": date,
                    "last_hit_at": date,
                    "hit_count": {"type": "long"},
                    "expires_at": date,
                }
            }),
        }
    }
}

fn vector_field(dims: usize) -> String {
    format!("vec_{dims}")
}

/// Whether an index name is `<alias>-v<N>`, and N.
fn index_version(alias: &str, index: &str) -> Option<u32> {
    index.strip_prefix(alias)?.strip_prefix("-v")?.parse().ok()
}

impl ElasticStore {
    /// Connects, checks the cluster answers, and makes sure both indices
    /// exist at the current mapping version (migrating older ones).
    pub async fn connect(base: &Url, access: &Access, prefix: &str, connect_timeout: Duration) -> Result<ElasticStore> {
        let http = vuhitra_core::http::client_for(connect_timeout, access)
            .map_err(|e| StoreError::Setup { service: "Elasticsearch", reason: e.to_string() })?;
        let store = ElasticStore { http, base: base.clone(), access: access.clone(), prefix: prefix.to_string() };
        store.call(Method::GET, "_cluster/health", None).await?;
        for kind in [Kind::Heuristics, Kind::Cache] {
            store.ensure_index(kind).await?;
        }
        Ok(store)
    }

    pub fn url(&self) -> &Url {
        &self.base
    }

    pub fn alias(&self, kind_name: &str) -> String {
        format!("{}-{kind_name}", self.prefix)
    }

    fn alias_of(&self, kind: Kind) -> String {
        self.alias(kind.name())
    }

    /// One REST call; statuses of 400 and above become errors, except those
    /// the caller accepts in `ok`.
    async fn call_accepting(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        ok: &[StatusCode],
    ) -> Result<(StatusCode, Value)> {
        let url = self.base.join(path).map_err(|e| self.error(path, 0, e.to_string()))?;
        let mut req = self.http.request(method.clone(), url).timeout(Duration::from_secs(60));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.unreachable(e))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_client_error() || status.is_server_error() {
            if ok.contains(&status) {
                return Ok((status, value));
            }
            let reason = value
                .pointer("/error/root_cause/0/reason")
                .or_else(|| value.pointer("/error/reason"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            return Err(self.error(&format!("{method} /{path}"), status.as_u16(), reason));
        }
        Ok((status, value))
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        Ok(self.call_accepting(method, path, body, &[]).await?.1)
    }

    /// A request that got no answer: TLS trouble, or nothing listening.
    fn unreachable(&self, e: reqwest::Error) -> StoreError {
        let url = self.base.to_string();
        let reason = self.access.explain(&self.base, &e);
        if is_tls_failure(&e) {
            StoreError::Tls { service: "Elasticsearch", url, reason }
        } else {
            StoreError::ElasticUnreachable { url, reason }
        }
    }

    fn error(&self, request: &str, status: u16, reason: String) -> StoreError {
        if matches!(status, 401 | 403) {
            let message = format!("{status} to {request}: {reason}");
            return StoreError::Login {
                service: "Elasticsearch",
                url: self.base.to_string(),
                message,
                hint: self.access.login_hint(),
            };
        }
        StoreError::Elastic { url: self.base.to_string(), request: request.to_string(), status, reason }
    }

    async fn ensure_index(&self, kind: Kind) -> Result<()> {
        let alias = self.alias_of(kind);
        let want = format!("{alias}-v{}", kind.version());
        let (status, found) =
            self.call_accepting(Method::GET, &format!("_alias/{alias}"), None, &[StatusCode::NOT_FOUND]).await?;
        let current: Option<String> = if status == StatusCode::NOT_FOUND {
            None
        } else {
            found.as_object().and_then(|m| m.keys().next().cloned())
        };
        if current.as_deref() == Some(want.as_str()) {
            return Ok(());
        }
        if let Some(index) = &current {
            if index_version(&alias, index).is_some_and(|v| v > kind.version()) {
                return Err(self.error(
                    &format!("GET /_alias/{alias}"),
                    200,
                    format!("{index} was made by a newer vuhitra (this one knows version {})", kind.version()),
                ));
            }
        }
        self.put_template(kind).await?;
        // A plain index holding the alias's name (older layout) is migrated too.
        let plain_exists = current.is_none()
            && self.call_accepting(Method::HEAD, &alias, None, &[StatusCode::NOT_FOUND]).await?.0 == StatusCode::OK;
        let create = self.call_accepting(Method::PUT, &want, Some(json!({})), &[StatusCode::BAD_REQUEST]).await?;
        if create.0 == StatusCode::BAD_REQUEST
            && create.1.pointer("/error/type").and_then(Value::as_str) != Some("resource_already_exists_exception")
        {
            return Err(self.error(&format!("PUT /{want}"), 400, create.1.to_string()));
        }
        let old = current.or(plain_exists.then(|| alias.clone()));
        let mut actions = vec![];
        if let Some(old) = &old {
            tracing::info!("migrating Elasticsearch index {old} to {want}");
            self.copy_index(old, &want).await?;
            actions.push(json!({"remove_index": {"index": old}}));
        }
        actions.insert(0, json!({"add": {"index": want, "alias": alias, "is_write_index": true}}));
        self.call(Method::POST, "_aliases", Some(json!({"actions": actions}))).await?;
        Ok(())
    }

    /// Copies every document of `from` into `to` (scroll + `_bulk`), keeping ids.
    async fn copy_index(&self, from: &str, to: &str) -> Result<()> {
        let mut page = self
            .call(Method::POST, &format!("{from}/_search?scroll=1m"), Some(json!({"size": 500, "sort": ["_doc"]})))
            .await?;
        loop {
            let docs = page.pointer("/hits/hits").and_then(Value::as_array).cloned().unwrap_or_default();
            if docs.is_empty() {
                break;
            }
            let mut bulk = String::new();
            for d in &docs {
                bulk.push_str(&json!({"index": {"_index": to, "_id": d["_id"]}}).to_string());
                bulk.push('\n');
                bulk.push_str(&d["_source"].to_string());
                bulk.push('\n');
            }
            self.bulk(bulk).await?;
            let scroll_id = page["_scroll_id"].clone();
            page = self
                .call(Method::POST, "_search/scroll", Some(json!({"scroll": "1m", "scroll_id": scroll_id})))
                .await?;
        }
        if let Some(id) = page["_scroll_id"].as_str() {
            let _ = self.call(Method::DELETE, "_search/scroll", Some(json!({"scroll_id": id}))).await;
        }
        self.call(Method::POST, &format!("{to}/_refresh"), None).await?;
        Ok(())
    }

    /// Sends a `_bulk` body and fails if any item failed.
    async fn bulk(&self, body: String) -> Result<Value> {
        let url = self.base.join("_bulk?refresh=true").expect("static path joins");
        let resp = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .timeout(Duration::from_secs(120))
            .body(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() || value["errors"].as_bool() == Some(true) {
            let reason = value
                .pointer("/items")
                .and_then(Value::as_array)
                .and_then(|items| items.iter().find_map(|i| i.as_object()?.values().next()?.get("error").cloned()))
                .map(|e| e.to_string())
                .unwrap_or_else(|| value.to_string());
            return Err(self.error("POST /_bulk", status.as_u16(), reason));
        }
        Ok(value)
    }

    async fn put_template(&self, kind: Kind) -> Result<()> {
        let alias = self.alias_of(kind);
        self.call(
            Method::PUT,
            &format!("_index_template/{alias}"),
            Some(json!({
                "index_patterns": [format!("{alias}-v*")],
                "priority": 200,
                "template": {
                    // A single-node server has nowhere to put replicas.
                    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
                    "mappings": kind.mappings(),
                },
                "_meta": {"managed_by": "vuhitra", "version": kind.version()},
            })),
        )
        .await?;
        Ok(())
    }

    async fn search<T: DeserializeOwned>(&self, kind: Kind, body: Value) -> Result<Vec<(T, Value)>> {
        let resp = self.call(Method::POST, &format!("{}/_search", self.alias_of(kind)), Some(body)).await?;
        hits(&resp)
    }

    /// The one document id that is or starts with `id`.
    async fn resolve(&self, kind: Kind, what: &'static str, id: &str) -> Result<String> {
        let found: Vec<(Value, Value)> =
            self.search(kind, json!({"size": 2, "_source": ["id"], "query": {"prefix": {"id": id}}})).await?;
        match found.len() {
            0 => Err(StoreError::NoSuchId { what, id: id.to_string() }),
            1 => Ok(found[0].1["_id"].as_str().unwrap_or(id).to_string()),
            count => Err(StoreError::AmbiguousId { what, id: id.to_string(), count }),
        }
    }

    /// Deletes the documents matching `query`, a page of ids at a time.
    async fn delete_all(&self, kind: Kind, query: Value) -> Result<u64> {
        let alias = self.alias_of(kind);
        let mut deleted = 0;
        loop {
            let body = json!({"size": 1000, "_source": false, "query": query});
            let resp = self.call(Method::POST, &format!("{alias}/_search"), Some(body)).await?;
            let ids: Vec<String> = resp
                .pointer("/hits/hits")
                .and_then(Value::as_array)
                .map(|h| {
                    h.iter()
                        .filter_map(|d| d["_index"].as_str().zip(d["_id"].as_str()))
                        .map(|(i, d)| json!({"delete": {"_index": i, "_id": d}}).to_string())
                        .collect()
                })
                .unwrap_or_default();
            if ids.is_empty() {
                return Ok(deleted);
            }
            deleted += ids.len() as u64;
            self.bulk(ids.join("\n") + "\n").await?;
        }
    }

    /// Sends records that were queued while Elasticsearch was unreachable;
    /// returns how many were sent. Stops at the first failure.
    pub async fn flush_pending(&self, local: &crate::Store) -> Result<usize> {
        let mut sent = 0;
        for r in local.pending()? {
            self.record(&r).await?;
            local.unqueue(&r.id)?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Deletes both indices, aliases and templates (tests and `--purge`).
    pub async fn drop_all(&self) -> Result<()> {
        for kind in [Kind::Heuristics, Kind::Cache] {
            let alias = self.alias_of(kind);
            // Wildcard deletes are refused by default (action.destructive_requires_name).
            let (status, found) =
                self.call_accepting(Method::GET, &format!("_alias/{alias}"), None, &[StatusCode::NOT_FOUND]).await?;
            if status == StatusCode::OK {
                for index in found.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
                    self.call_accepting(Method::DELETE, &index, None, &[StatusCode::NOT_FOUND]).await?;
                }
            }
            self.call_accepting(Method::DELETE, &format!("_index_template/{alias}"), None, &[StatusCode::NOT_FOUND])
                .await?;
        }
        Ok(())
    }
}

/// `(document, hit)` pairs of a search response.
fn hits<T: DeserializeOwned>(resp: &Value) -> Result<Vec<(T, Value)>> {
    let empty = vec![];
    let list = resp.pointer("/hits/hits").and_then(Value::as_array).unwrap_or(&empty);
    list.iter()
        .map(|h| {
            serde_json::from_value(h["_source"].clone()).map(|doc| (doc, h.clone())).map_err(|e| StoreError::Elastic {
                url: String::new(),
                request: "_search".into(),
                status: 200,
                reason: format!("a document does not match this vuhitra's record type: {e}"),
            })
        })
        .collect()
}

fn entry_with_vector(doc: CacheEntry, hit: &Value) -> CacheEntry {
    let embedding = hit["_source"].as_object().and_then(|src| {
        src.iter().find(|(k, _)| k.starts_with("vec_")).and_then(|(_, v)| serde_json::from_value(v.clone()).ok())
    });
    CacheEntry { embedding, ..doc }
}

impl HeuristicsStore for ElasticStore {
    async fn record(&self, r: &HeuristicRecord) -> Result<()> {
        let path = format!("{}/_create/{}?refresh=true", self.alias_of(Kind::Heuristics), r.id);
        let body = serde_json::to_value(r).expect("a record serialises");
        // 409: a record with this id is already there (a re-sent queued record).
        self.call_accepting(Method::PUT, &path, Some(body), &[StatusCode::CONFLICT]).await?;
        Ok(())
    }

    async fn record_by_id(&self, id: &str) -> Result<HeuristicRecord> {
        let id = self.resolve(Kind::Heuristics, "heuristics record", id).await?;
        let found: Vec<(HeuristicRecord, Value)> =
            self.search(Kind::Heuristics, json!({"size": 1, "query": {"ids": {"values": [id]}}})).await?;
        found.into_iter().next().map(|(r, _)| r).ok_or(StoreError::NoSuchId { what: "heuristics record", id })
    }

    async fn records(&self, f: &RecordFilter) -> Result<Vec<HeuristicRecord>> {
        let mut filter = vec![];
        if let Some(i) = &f.intent {
            filter.push(json!({"term": {"intent": i}}));
        }
        if let Some(m) = &f.model {
            filter.push(json!({"term": {"model": m}}));
        }
        // Pages with search_after, so an export is not capped by the
        // 10 000-hit result window.
        let mut out = Vec::new();
        let mut after: Option<Value> = None;
        loop {
            let want = f.limit.map_or(1000, |l| (l - out.len()).min(1000));
            if want == 0 {
                break;
            }
            let mut body = json!({
                "size": want,
                "query": {"bool": {"filter": filter}},
                "sort": [{"created_at": "desc"}, {"id": "desc"}],
            });
            if let Some(a) = &after {
                body["search_after"] = a.clone();
            }
            let page: Vec<(HeuristicRecord, Value)> = self.search(Kind::Heuristics, body).await?;
            let n = page.len();
            after = page.last().map(|(_, h)| h["sort"].clone());
            out.extend(page.into_iter().map(|(r, _)| r));
            if n < want {
                break;
            }
        }
        Ok(out)
    }

    async fn rate(&self, id: &str, rating: u8, correction: Option<&str>, at: i64) -> Result<()> {
        let id = self.resolve(Kind::Heuristics, "heuristics record", id).await?;
        let mut doc = json!({"rating": rating, "rated_at": at});
        if let Some(c) = correction {
            doc["correction"] = json!(c);
        }
        let path = format!("{}/_update/{id}?refresh=true", self.alias_of(Kind::Heuristics));
        self.call(Method::POST, &path, Some(json!({"doc": doc}))).await?;
        Ok(())
    }

    async fn stats(&self, by: GroupBy) -> Result<Vec<GroupStats>> {
        let body = json!({
            "size": 0,
            "aggs": {"groups": {
                "terms": {"field": by.field(), "size": 1000, "order": {"_key": "asc"}},
                "aggs": {
                    "ok": {"filter": {"term": {"success": true}}},
                    "latency": {"percentiles": {"field": "total_ms", "percents": [50, 95]}},
                    "tps": {"avg": {"field": "tokens_per_second"}},
                    "rating": {"avg": {"field": "rating"}},
                    "rated": {"value_count": {"field": "rating"}},
                }
            }}
        });
        let resp = self.call(Method::POST, &format!("{}/_search", self.alias_of(Kind::Heuristics)), Some(body)).await?;
        let empty = vec![];
        let buckets = resp.pointer("/aggregations/groups/buckets").and_then(Value::as_array).unwrap_or(&empty);
        Ok(buckets
            .iter()
            .map(|b| GroupStats {
                key: b["key"].as_str().unwrap_or_default().to_string(),
                count: b["doc_count"].as_u64().unwrap_or(0),
                successes: b["ok"]["doc_count"].as_u64().unwrap_or(0),
                p50_ms: b["latency"]["values"]["50.0"].as_f64(),
                p95_ms: b["latency"]["values"]["95.0"].as_f64(),
                mean_tokens_per_second: b["tps"]["value"].as_f64(),
                rated: b["rated"]["value"].as_u64().unwrap_or(0),
                mean_rating: b["rating"]["value"].as_f64(),
            })
            .collect())
    }

    async fn corrections(&self, terms: &str, max_rating: u8, limit: usize) -> Result<Vec<HeuristicRecord>> {
        if terms.trim().is_empty() {
            return Ok(Vec::new());
        }
        let body = json!({
            "size": limit,
            "query": {"bool": {
                "must": {"match": {"terms": terms}},
                "filter": [{"range": {"rating": {"lte": max_rating}}}, {"exists": {"field": "correction"}}],
            }},
        });
        Ok(self.search(Kind::Heuristics, body).await?.into_iter().map(|(r, _)| r).collect())
    }

    async fn clear_records(&self) -> Result<u64> {
        self.delete_all(Kind::Heuristics, json!({"match_all": {}})).await
    }

    async fn prune_records(&self, before: i64) -> Result<u64> {
        self.delete_all(Kind::Heuristics, json!({"range": {"created_at": {"lt": before}}})).await
    }

    async fn outcomes(&self, intent: &str, models: &[String], slow_ms: Option<f64>) -> Result<Vec<ModelOutcomes>> {
        if models.is_empty() {
            return Ok(Vec::new());
        }
        let unrated = json!({"exists": {"field": "rating"}});
        // With no budget nothing is slow: a range no latency reaches.
        let slow = slow_ms.map_or(json!({"match_none": {}}), |ms| json!({"range": {"total_ms": {"gt": ms}}}));
        let body = json!({
            "size": 0,
            "query": {"bool": {
                "filter": [{"term": {"intent": intent}}, {"terms": {"model": models}}],
                "must_not": [{"term": {"cache": "hit"}}],
            }},
            "aggs": {"models": {
                "terms": {"field": "model", "size": models.len()},
                "aggs": {
                    "failed": {"filter": {"term": {"success": false}}},
                    "rated": {"value_count": {"field": "rating"}},
                    "rating_sum": {"sum": {"field": "rating"}},
                    "unrated_failed": {"filter": {"bool": {
                        "filter": [{"term": {"success": false}}], "must_not": [unrated]}}},
                    "unrated_slow": {"filter": {"bool": {
                        "filter": [{"term": {"success": true}}, slow], "must_not": [unrated]}}},
                    "ok": {"filter": {"term": {"success": true}}, "aggs": {"ms": {"avg": {"field": "total_ms"}}}},
                }
            }}
        });
        let resp = self.call(Method::POST, &format!("{}/_search", self.alias_of(Kind::Heuristics)), Some(body)).await?;
        let empty = vec![];
        let buckets = resp.pointer("/aggregations/models/buckets").and_then(Value::as_array).unwrap_or(&empty);
        let count = |v: &Value| v.as_u64().unwrap_or(0);
        Ok(buckets
            .iter()
            .map(|b| ModelOutcomes {
                model: b["key"].as_str().unwrap_or_default().to_string(),
                calls: count(&b["doc_count"]),
                failures: count(&b["failed"]["doc_count"]),
                rated: count(&b["rated"]["value"]),
                rating_sum: b["rating_sum"]["value"].as_f64().unwrap_or(0.0).round() as u64,
                unrated_failures: count(&b["unrated_failed"]["doc_count"]),
                unrated_slow: count(&b["unrated_slow"]["doc_count"]),
                mean_ms: b["ok"]["ms"]["value"].as_f64(),
            })
            .collect())
    }
}

impl PromptCache for ElasticStore {
    async fn put(&self, e: &CacheEntry) -> Result<()> {
        let mut body = serde_json::to_value(e).expect("an entry serialises");
        if let Some(v) = &e.embedding {
            body[vector_field(v.len())] = json!(v);
        }
        let path = format!("{}/_doc/{}?refresh=true", self.alias_of(Kind::Cache), e.id);
        self.call(Method::PUT, &path, Some(body)).await?;
        Ok(())
    }

    async fn exact(&self, scope: &str, signature: &str, now: i64) -> Result<Option<CacheEntry>> {
        let body = json!({
            "size": 1,
            "query": {"bool": {"filter": [
                {"term": {"scope": scope}},
                {"term": {"signature": signature}},
                {"range": {"expires_at": {"gt": now}}},
            ]}},
            "sort": [{"created_at": "desc"}],
        });
        let found: Vec<(CacheEntry, Value)> = self.search(Kind::Cache, body).await?;
        Ok(found.into_iter().next().map(|(e, h)| entry_with_vector(e, &h)))
    }

    async fn candidates(
        &self,
        scope: &str,
        terms: &str,
        vector: Option<QueryVector<'_>>,
        k: usize,
        now: i64,
    ) -> Result<Vec<CacheEntry>> {
        let filter = json!([{"term": {"scope": scope}}, {"range": {"expires_at": {"gt": now}}}]);
        let mut found: Vec<CacheEntry> = Vec::new();
        if !terms.trim().is_empty() {
            let body = json!({"size": k, "query": {"bool": {"must": {"match": {"terms": terms}}, "filter": filter}}});
            let hits: Vec<(CacheEntry, Value)> = self.search(Kind::Cache, body).await?;
            found.extend(hits.into_iter().map(|(e, h)| entry_with_vector(e, &h)));
        }
        if let Some(q) = vector {
            let mut knn_filter = filter.as_array().cloned().unwrap_or_default();
            knn_filter.push(json!({"term": {"embed_model": q.model}}));
            let body = json!({
                "size": k,
                "knn": {
                    "field": vector_field(q.vector.len()),
                    "query_vector": q.vector,
                    "k": k,
                    "num_candidates": (k * 10).max(50),
                    "filter": knn_filter,
                },
            });
            match self.search::<CacheEntry>(Kind::Cache, body).await {
                Ok(hits) => {
                    for (e, h) in hits {
                        if !found.iter().any(|f| f.id == e.id) {
                            found.push(entry_with_vector(e, &h));
                        }
                    }
                }
                // No vector of this size was ever stored: the field is not
                // mapped yet, so there is nothing to find.
                Err(StoreError::Elastic { status: 400, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    }

    async fn count_hit(&self, id: &str, now: i64) -> Result<()> {
        // Read, then write only if nobody wrote in between (no scripts:
        // painless is a module the minimal distribution lacks).
        let alias = self.alias_of(Kind::Cache);
        for _ in 0..5 {
            let resp = self
                .call(
                    Method::POST,
                    &format!("{alias}/_search"),
                    Some(json!({
                        "size": 1, "seq_no_primary_term": true, "_source": ["hit_count"],
                        "query": {"ids": {"values": [id]}},
                    })),
                )
                .await?;
            let Some(hit) = resp.pointer("/hits/hits/0") else {
                return Err(StoreError::NoSuchId { what: "cache entry", id: id.to_string() });
            };
            let count = hit["_source"]["hit_count"].as_u64().unwrap_or(0);
            let path = format!(
                "{}/_update/{id}?refresh=true&if_seq_no={}&if_primary_term={}",
                hit["_index"].as_str().unwrap_or(&alias),
                hit["_seq_no"],
                hit["_primary_term"]
            );
            let doc = json!({"doc": {"hit_count": count + 1, "last_hit_at": now}});
            if self.call_accepting(Method::POST, &path, Some(doc), &[StatusCode::CONFLICT]).await?.0
                != StatusCode::CONFLICT
            {
                return Ok(());
            }
        }
        Err(self.error("POST /_update", 409, format!("cache entry {id} kept changing; hit not counted")))
    }

    async fn entries(&self, limit: Option<usize>) -> Result<Vec<CacheEntry>> {
        let body = json!({
            "size": limit.unwrap_or(10_000).min(10_000),
            "query": {"match_all": {}},
            "sort": [{"created_at": "desc"}, {"id": "desc"}],
        });
        let found: Vec<(CacheEntry, Value)> = self.search(Kind::Cache, body).await?;
        Ok(found.into_iter().map(|(e, h)| entry_with_vector(e, &h)).collect())
    }

    async fn remove_entry(&self, id: &str) -> Result<()> {
        let id = self.resolve(Kind::Cache, "cache entry", id).await?;
        self.call(Method::DELETE, &format!("{}/_doc/{id}?refresh=true", self.alias_of(Kind::Cache)), None).await?;
        Ok(())
    }

    async fn clear_entries(&self) -> Result<u64> {
        self.delete_all(Kind::Cache, json!({"match_all": {}})).await
    }

    async fn expire(&self, now: i64) -> Result<u64> {
        self.delete_all(Kind::Cache, json!({"range": {"expires_at": {"lte": now}}})).await
    }

    async fn summary(&self, now: i64) -> Result<CacheSummary> {
        let body = json!({
            "size": 0,
            "track_total_hits": true,
            "aggs": {
                "expired": {"filter": {"range": {"expires_at": {"lte": now}}}},
                "hits": {"sum": {"field": "hit_count"}},
                "oldest": {"min": {"field": "created_at"}},
                "newest": {"max": {"field": "created_at"}},
            }
        });
        let resp = self.call(Method::POST, &format!("{}/_search", self.alias_of(Kind::Cache)), Some(body)).await?;
        Ok(CacheSummary {
            entries: resp.pointer("/hits/total/value").and_then(Value::as_u64).unwrap_or(0),
            expired: resp.pointer("/aggregations/expired/doc_count").and_then(Value::as_u64).unwrap_or(0),
            total_hits: resp.pointer("/aggregations/hits/value").and_then(Value::as_f64).unwrap_or(0.0) as u64,
            oldest: resp.pointer("/aggregations/oldest/value").and_then(Value::as_f64).map(|v| v as i64),
            newest: resp.pointer("/aggregations/newest/value").and_then(Value::as_f64).map(|v| v as i64),
        })
    }
}
