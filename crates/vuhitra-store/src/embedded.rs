//! The embedded backend of both traits: tables in the SQLite store, BM25
//! from FTS5, embeddings as little-endian f32 blobs scored here by cosine
//! (a scope holds few entries, so a scan is cheaper than an index).

use rusqlite::{params, OptionalExtension, Row};

use crate::records::*;
use crate::{Store, StoreError};

const RECORD_COLUMNS: &str = "id, created_at, session, model, prompt, terms, signature, intent, intent_confidence,
    entities, sentiment, success, error, cache, prompt_tokens, response_tokens, total_ms, load_ms, prompt_eval_ms,
    eval_ms, tokens_per_second, context_hashes, rating, correction, rated_at, route";

const ENTRY_COLUMNS: &str = "id, scope, signature, prompt, terms, answer, model, embed_model, embedding, negated,
    numbers, entities, created_at, last_hit_at, hit_count, expires_at";

/// A column list with each column prefixed by a table alias, for joins.
fn qualified(columns: &str, alias: &str) -> String {
    columns.split(',').map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).expect("a list of strings serialises")
}

fn parse_list(s: String) -> Vec<String> {
    serde_json::from_str(&s).unwrap_or_default()
}

fn record_from_row(r: &Row) -> rusqlite::Result<HeuristicRecord> {
    Ok(HeuristicRecord {
        id: r.get(0)?,
        created_at: r.get(1)?,
        session: r.get(2)?,
        model: r.get(3)?,
        prompt: r.get(4)?,
        terms: r.get(5)?,
        signature: r.get(6)?,
        intent: r.get(7)?,
        intent_confidence: r.get(8)?,
        entities: parse_list(r.get(9)?),
        sentiment: r.get(10)?,
        success: r.get(11)?,
        error: r.get(12)?,
        cache: r.get(13)?,
        prompt_tokens: r.get::<_, i64>(14)? as u64,
        response_tokens: r.get::<_, i64>(15)? as u64,
        total_ms: r.get(16)?,
        load_ms: r.get(17)?,
        prompt_eval_ms: r.get(18)?,
        eval_ms: r.get(19)?,
        tokens_per_second: r.get(20)?,
        context_hashes: parse_list(r.get(21)?),
        rating: r.get(22)?,
        correction: r.get(23)?,
        rated_at: r.get(24)?,
        route: r.get::<_, Option<String>>(25)?.and_then(|j| serde_json::from_str(&j).ok()),
    })
}

fn entry_from_row(r: &Row) -> rusqlite::Result<CacheEntry> {
    let blob: Option<Vec<u8>> = r.get(8)?;
    Ok(CacheEntry {
        id: r.get(0)?,
        scope: r.get(1)?,
        signature: r.get(2)?,
        prompt: r.get(3)?,
        terms: r.get(4)?,
        answer: r.get(5)?,
        model: r.get(6)?,
        embed_model: r.get(7)?,
        embedding: blob.map(|b| b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
        negated: r.get(9)?,
        numbers: parse_list(r.get(10)?),
        entities: parse_list(r.get(11)?),
        created_at: r.get(12)?,
        last_hit_at: r.get(13)?,
        hit_count: r.get::<_, i64>(14)? as u64,
        expires_at: r.get(15)?,
    })
}

/// An FTS5 query matching any of the terms: each quoted, so no term is read
/// as query syntax.
pub(crate) fn fts_any(terms: &str) -> Option<String> {
    let quoted: Vec<String> = terms.split_whitespace().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect();
    (!quoted.is_empty()).then(|| quoted.join(" OR "))
}

impl Store {
    pub(crate) fn query_all<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params, map).map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The one id in `table` that is or starts with `id`.
    fn resolve_id(&self, table: &str, what: &'static str, id: &str) -> Result<String> {
        let pattern = format!("{}%", id.replace(['%', '_'], ""));
        let ids: Vec<String> =
            self.query_all(&format!("SELECT id FROM {table} WHERE id LIKE ?1 LIMIT 2"), [&pattern], |r| r.get(0))?;
        match ids.len() {
            0 => Err(StoreError::NoSuchId { what, id: id.to_string() }),
            1 => Ok(ids.into_iter().next().expect("one id")),
            count => Err(StoreError::AmbiguousId { what, id: id.to_string(), count }),
        }
    }

    /// Keeps a record that could not reach Elasticsearch, to send later.
    pub fn queue_pending(&self, r: &HeuristicRecord, error: &str) -> Result<()> {
        let json = serde_json::to_string(r).expect("a record serialises");
        self.conn()
            .execute(
                "INSERT INTO pending_heuristics (id, record, queued_at, attempts, last_error) VALUES (?1, ?2, ?3, 1, ?4)
                 ON CONFLICT(id) DO UPDATE SET record = excluded.record, attempts = attempts + 1,
                    last_error = excluded.last_error",
                params![r.id, json, now_ms(), error],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Queued records, oldest first.
    pub fn pending(&self) -> Result<Vec<HeuristicRecord>> {
        let rows: Vec<String> =
            self.query_all("SELECT record FROM pending_heuristics ORDER BY queued_at, id", [], |r| r.get(0))?;
        Ok(rows.iter().filter_map(|s| serde_json::from_str(s).ok()).collect())
    }

    pub fn pending_count(&self) -> Result<u64> {
        self.conn()
            .query_row("SELECT count(*) FROM pending_heuristics", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    pub fn unqueue(&self, id: &str) -> Result<()> {
        self.conn().execute("DELETE FROM pending_heuristics WHERE id = ?1", [id]).map_err(|e| self.err(e))?;
        Ok(())
    }
}

impl HeuristicsStore for Store {
    async fn record(&self, r: &HeuristicRecord) -> Result<()> {
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO heuristics ({RECORD_COLUMNS}) VALUES
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                      ?21, ?22, ?23, ?24, ?25, ?26)
                     ON CONFLICT(id) DO NOTHING"
                ),
                params![
                    r.id,
                    r.created_at,
                    r.session,
                    r.model,
                    r.prompt,
                    r.terms,
                    r.signature,
                    r.intent,
                    r.intent_confidence,
                    json_list(&r.entities),
                    r.sentiment,
                    r.success,
                    r.error,
                    r.cache,
                    r.prompt_tokens as i64,
                    r.response_tokens as i64,
                    r.total_ms,
                    r.load_ms,
                    r.prompt_eval_ms,
                    r.eval_ms,
                    r.tokens_per_second,
                    json_list(&r.context_hashes),
                    r.rating,
                    r.correction,
                    r.rated_at,
                    r.route.as_ref().map(|n| serde_json::to_string(n).expect("a route note serialises"))
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn record_by_id(&self, id: &str) -> Result<HeuristicRecord> {
        let id = self.resolve_id("heuristics", "heuristics record", id)?;
        self.conn()
            .query_row(&format!("SELECT {RECORD_COLUMNS} FROM heuristics WHERE id = ?1"), [&id], record_from_row)
            .map_err(|e| self.err(e))
    }

    async fn records(&self, f: &RecordFilter) -> Result<Vec<HeuristicRecord>> {
        let limit = f.limit.map_or(-1, |l| l as i64);
        self.query_all(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM heuristics
                 WHERE (?1 IS NULL OR intent = ?1) AND (?2 IS NULL OR model = ?2)
                 ORDER BY created_at DESC, id DESC LIMIT ?3"
            ),
            params![f.intent, f.model, limit],
            record_from_row,
        )
    }

    async fn rate(&self, id: &str, rating: u8, correction: Option<&str>, at: i64) -> Result<()> {
        let id = self.resolve_id("heuristics", "heuristics record", id)?;
        self.conn()
            .execute(
                "UPDATE heuristics SET rating = ?2, correction = coalesce(?3, correction), rated_at = ?4 WHERE id = ?1",
                params![id, rating, correction, at],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn stats(&self, by: GroupBy) -> Result<Vec<GroupStats>> {
        type Row = (String, bool, f64, Option<f64>, Option<u8>);
        let rows: Vec<Row> = self.query_all(
            &format!("SELECT {}, success, total_ms, tokens_per_second, rating FROM heuristics ORDER BY 1", by.field()),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        let mut out: Vec<GroupStats> = Vec::new();
        for group in rows.chunk_by(|a, b| a.0 == b.0) {
            let mut latencies: Vec<f64> = group.iter().map(|r| r.2).collect();
            latencies.sort_by(f64::total_cmp);
            let tps: Vec<f64> = group.iter().filter_map(|r| r.3).collect();
            let ratings: Vec<f64> = group.iter().filter_map(|r| r.4.map(f64::from)).collect();
            let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            out.push(GroupStats {
                key: group[0].0.clone(),
                count: group.len() as u64,
                successes: group.iter().filter(|r| r.1).count() as u64,
                p50_ms: percentile(&latencies, 50.0),
                p95_ms: percentile(&latencies, 95.0),
                mean_tokens_per_second: mean(&tps),
                rated: ratings.len() as u64,
                mean_rating: mean(&ratings),
            });
        }
        Ok(out)
    }

    async fn corrections(&self, terms: &str, max_rating: u8, limit: usize) -> Result<Vec<HeuristicRecord>> {
        let Some(query) = fts_any(terms) else { return Ok(Vec::new()) };
        let columns = qualified(RECORD_COLUMNS, "h");
        self.query_all(
            &format!(
                "SELECT {columns} FROM heuristics_fts f JOIN heuristics h ON h.rowid = f.rowid
                 WHERE heuristics_fts MATCH ?1 AND h.rating <= ?2 AND h.correction IS NOT NULL
                 ORDER BY bm25(heuristics_fts) LIMIT ?3"
            ),
            params![query, max_rating, limit as i64],
            record_from_row,
        )
    }

    async fn clear_records(&self) -> Result<u64> {
        let n = self.conn().execute("DELETE FROM heuristics", []).map_err(|e| self.err(e))?;
        Ok(n as u64)
    }

    async fn prune_records(&self, before: i64) -> Result<u64> {
        let n =
            self.conn().execute("DELETE FROM heuristics WHERE created_at < ?1", [before]).map_err(|e| self.err(e))?;
        Ok(n as u64)
    }

    async fn outcomes(&self, intent: &str, models: &[String], slow_ms: Option<f64>) -> Result<Vec<ModelOutcomes>> {
        if models.is_empty() {
            return Ok(Vec::new());
        }
        let listed = vec!["?"; models.len()].join(", ");
        let sql = format!(
            "SELECT model, COUNT(*), SUM(NOT success), COUNT(rating), COALESCE(SUM(rating), 0),
                SUM(NOT success AND rating IS NULL),
                SUM(success AND rating IS NULL AND ?2 IS NOT NULL AND total_ms > ?2),
                AVG(CASE WHEN success THEN total_ms END)
             FROM heuristics
             WHERE intent = ?1 AND cache IS NOT 'hit' AND model IN ({listed})
             GROUP BY model"
        );
        let mut values: Vec<rusqlite::types::Value> = vec![intent.to_string().into(), slow_ms.into()];
        values.extend(models.iter().map(|m| m.clone().into()));
        let count = |r: &Row, i| r.get::<_, i64>(i).map(|n| n as u64);
        self.query_all(&sql, rusqlite::params_from_iter(values), |r| {
            Ok(ModelOutcomes {
                model: r.get(0)?,
                calls: count(r, 1)?,
                failures: count(r, 2)?,
                rated: count(r, 3)?,
                rating_sum: count(r, 4)?,
                unrated_failures: count(r, 5)?,
                unrated_slow: count(r, 6)?,
                mean_ms: r.get(7)?,
            })
        })
    }
}

impl PromptCache for Store {
    async fn put(&self, e: &CacheEntry) -> Result<()> {
        let blob: Option<Vec<u8>> = e.embedding.as_ref().map(|v| v.iter().flat_map(|x| x.to_le_bytes()).collect());
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO prompt_cache ({ENTRY_COLUMNS}) VALUES
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                     ON CONFLICT(id) DO UPDATE SET scope = excluded.scope, signature = excluded.signature,
                        prompt = excluded.prompt, terms = excluded.terms, answer = excluded.answer,
                        model = excluded.model, embed_model = excluded.embed_model, embedding = excluded.embedding,
                        negated = excluded.negated, numbers = excluded.numbers, entities = excluded.entities,
                        created_at = excluded.created_at, last_hit_at = excluded.last_hit_at,
                        hit_count = excluded.hit_count, expires_at = excluded.expires_at"
                ),
                params![
                    e.id,
                    e.scope,
                    e.signature,
                    e.prompt,
                    e.terms,
                    e.answer,
                    e.model,
                    e.embed_model,
                    blob,
                    e.negated,
                    json_list(&e.numbers),
                    json_list(&e.entities),
                    e.created_at,
                    e.last_hit_at,
                    e.hit_count as i64,
                    e.expires_at
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn exact(&self, scope: &str, signature: &str, now: i64) -> Result<Option<CacheEntry>> {
        self.conn()
            .query_row(
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM prompt_cache
                     WHERE scope = ?1 AND signature = ?2 AND expires_at > ?3 ORDER BY created_at DESC LIMIT 1"
                ),
                params![scope, signature, now],
                entry_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    async fn candidates(
        &self,
        scope: &str,
        terms: &str,
        vector: Option<QueryVector<'_>>,
        k: usize,
        now: i64,
    ) -> Result<Vec<CacheEntry>> {
        let mut found: Vec<CacheEntry> = Vec::new();
        if let Some(query) = fts_any(terms) {
            let columns = qualified(ENTRY_COLUMNS, "c");
            found = self.query_all(
                &format!(
                    "SELECT {columns} FROM prompt_cache_fts f JOIN prompt_cache c ON c.rowid = f.rowid
                     WHERE prompt_cache_fts MATCH ?1 AND c.scope = ?2 AND c.expires_at > ?3
                     ORDER BY bm25(prompt_cache_fts) LIMIT ?4"
                ),
                params![query, scope, now, k as i64],
                entry_from_row,
            )?;
        }
        if let Some(q) = vector {
            let mut scored: Vec<(f64, CacheEntry)> = self
                .query_all(
                    &format!(
                        "SELECT {ENTRY_COLUMNS} FROM prompt_cache
                         WHERE scope = ?1 AND expires_at > ?2 AND embed_model = ?3 AND embedding IS NOT NULL"
                    ),
                    params![scope, now, q.model],
                    entry_from_row,
                )?
                .into_iter()
                .filter(|e| e.embedding.as_ref().is_some_and(|v| v.len() == q.vector.len()))
                .map(|e| (cosine(q.vector, e.embedding.as_deref().unwrap_or_default()), e))
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            for (_, e) in scored.into_iter().take(k) {
                if !found.iter().any(|f| f.id == e.id) {
                    found.push(e);
                }
            }
        }
        Ok(found)
    }

    async fn count_hit(&self, id: &str, now: i64) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE prompt_cache SET hit_count = hit_count + 1, last_hit_at = ?2 WHERE id = ?1",
                params![id, now],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn entries(&self, limit: Option<usize>) -> Result<Vec<CacheEntry>> {
        self.query_all(
            &format!("SELECT {ENTRY_COLUMNS} FROM prompt_cache ORDER BY created_at DESC, id DESC LIMIT ?1"),
            [limit.map_or(-1, |l| l as i64)],
            entry_from_row,
        )
    }

    async fn remove_entry(&self, id: &str) -> Result<()> {
        let id = self.resolve_id("prompt_cache", "cache entry", id)?;
        self.conn().execute("DELETE FROM prompt_cache WHERE id = ?1", [id]).map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn clear_entries(&self) -> Result<u64> {
        Ok(self.conn().execute("DELETE FROM prompt_cache", []).map_err(|e| self.err(e))? as u64)
    }

    async fn expire(&self, now: i64) -> Result<u64> {
        Ok(self.conn().execute("DELETE FROM prompt_cache WHERE expires_at <= ?1", [now]).map_err(|e| self.err(e))?
            as u64)
    }

    async fn summary(&self, now: i64) -> Result<CacheSummary> {
        self.conn()
            .query_row(
                "SELECT count(*), count(*) FILTER (WHERE expires_at <= ?1), coalesce(sum(hit_count), 0),
                    min(created_at), max(created_at) FROM prompt_cache",
                [now],
                |r| {
                    Ok(CacheSummary {
                        entries: r.get::<_, i64>(0)? as u64,
                        expired: r.get::<_, i64>(1)? as u64,
                        total_hits: r.get::<_, i64>(2)? as u64,
                        oldest: r.get(3)?,
                        newest: r.get(4)?,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }
}
