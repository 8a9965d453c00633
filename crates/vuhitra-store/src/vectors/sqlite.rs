//! The embedded backend: collections, files and chunks in the store file;
//! BM25 by FTS5 (porter stemming); vectors as BLOBs beside the text, read
//! into a flat index once per process and collection version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::{params, OptionalExtension, Row};

use super::index::{query_words, rerank, VectorIndex};
use super::*;
use crate::records::now_ms;
use crate::Store;

pub struct SqliteVectors {
    pub store: Store,
    /// collection → (version, its vectors), so repeated searches in one
    /// process read the BLOBs once.
    loaded: Mutex<HashMap<String, (u64, Arc<Loaded>)>>,
}

struct Loaded {
    ids: Vec<i64>,
    paths: Vec<String>,
    index: VectorIndex,
}

impl SqliteVectors {
    pub fn new(store: Store) -> Self {
        SqliteVectors { store, loaded: Mutex::new(HashMap::new()) }
    }

    fn info(&self, name: &str) -> Result<Option<CollectionInfo>> {
        let s = &self.store;
        s.conn()
            .query_row(
                "SELECT c.name, c.embed_model, c.dims, c.version, c.created_at, c.updated_at,
                    (SELECT count(*) FROM rag_files f WHERE f.collection = c.name),
                    (SELECT count(*) FROM rag_chunks k WHERE k.collection = c.name)
                 FROM rag_collections c WHERE c.name = ?1",
                [name],
                collection_row,
            )
            .optional()
            .map_err(|e| s.err(e))
    }

    /// The collection's dimensions and version, without the counts `info`
    /// adds (counting chunks walks an index: too slow for every search).
    fn version(&self, name: &str) -> Result<Option<(u32, u64)>> {
        let s = &self.store;
        s.conn()
            .prepare_cached("SELECT dims, version FROM rag_collections WHERE name = ?1")
            .and_then(|mut stmt| stmt.query_row([name], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))).optional())
            .map_err(|e| s.err(e))
    }

    fn loaded(&self, collection: &str) -> Result<Option<Arc<Loaded>>> {
        let Some((dims, version)) = self.version(collection)? else { return Ok(None) };
        if let Some((v, l)) = self.loaded.lock().expect("index lock").get(collection) {
            if *v == version {
                return Ok(Some(l.clone()));
            }
        }
        let s = &self.store;
        let conn = s.conn();
        let mut stmt = conn
            .prepare_cached("SELECT id, path, vector FROM rag_chunks WHERE collection = ?1 ORDER BY path, seq")
            .map_err(|e| s.err(e))?;
        let mut rows = stmt.query([collection]).map_err(|e| s.err(e))?;
        let mut l = Loaded { ids: Vec::new(), paths: Vec::new(), index: VectorIndex::new(dims as usize) };
        while let Some(r) = rows.next().map_err(|e| s.err(e))? {
            l.ids.push(r.get(0).map_err(|e| s.err(e))?);
            l.paths.push(r.get(1).map_err(|e| s.err(e))?);
            let bytes: Vec<u8> = r.get(2).map_err(|e| s.err(e))?;
            l.index.push(&bytes_vector(&bytes));
        }
        let l = Arc::new(l);
        self.loaded.lock().expect("index lock").insert(collection.to_string(), (version, l.clone()));
        Ok(Some(l))
    }

    /// BM25 the quick way: FTS5 ranks on its own (`ORDER BY rank`, which it
    /// answers without joining every match to its chunk), the best few
    /// times k are then filtered by collection and path. None when the
    /// filter left fewer than k of a full page, so other collections may
    /// have crowded the page: the caller then runs the joined query.
    fn text_search_fast(
        &self,
        q: &str,
        collection: &str,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Option<Vec<(i64, f32)>>> {
        let depth = k.saturating_mul(4).max(64);
        let ranked: Vec<(i64, f32)> = self.store.query_all(
            "SELECT rowid, -rank FROM rag_fts WHERE rag_fts MATCH ?1 ORDER BY rank LIMIT ?2",
            params![q, depth as i64],
            |r| Ok((r.get(0)?, r.get::<_, f64>(1)? as f32)),
        )?;
        let s = &self.store;
        let conn = s.conn();
        let mut stmt =
            conn.prepare_cached("SELECT collection, path, seq FROM rag_chunks WHERE id = ?1").map_err(|e| s.err(e))?;
        let mut kept = Vec::new();
        for (id, score) in &ranked {
            let place: Option<(String, String, u32)> =
                stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional().map_err(|e| s.err(e))?;
            if let Some((_, path, seq)) = place.filter(|(c, p, _)| c == collection && filter.admits(p)) {
                kept.push((*id, *score, path, seq));
            }
        }
        if kept.len() < k && ranked.len() == depth {
            return Ok(None);
        }
        // The joined query's order: score, then path and position.
        kept.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.2.cmp(&b.2)).then(a.3.cmp(&b.3)));
        Ok(Some(kept.into_iter().take(k).map(|(id, score, _, _)| (id, score)).collect()))
    }

    /// The full vectors of these chunks, in the order given (the index in
    /// memory holds only their int8 codes); None for a chunk another
    /// process has replaced since the index was read.
    fn vectors_of(&self, ids: impl Iterator<Item = i64>) -> Result<Vec<Option<Vec<f32>>>> {
        let s = &self.store;
        let conn = s.conn();
        let mut stmt = conn.prepare_cached("SELECT vector FROM rag_chunks WHERE id = ?1").map_err(|e| s.err(e))?;
        ids.map(|id| {
            stmt.query_row([id], |r| r.get::<_, Vec<u8>>(0))
                .optional()
                .map(|b| b.map(|b| bytes_vector(&b)))
                .map_err(|e| s.err(e))
        })
        .collect()
    }

    /// The chunks with these ids, in the order given, with their scores.
    fn scored(&self, hits: &[(i64, f32)]) -> Result<Vec<ScoredChunk>> {
        let s = &self.store;
        let conn = s.conn();
        let mut stmt = conn
            .prepare_cached("SELECT path, seq, line_start, line_end, headings, text FROM rag_chunks WHERE id = ?1")
            .map_err(|e| s.err(e))?;
        let mut out = Vec::with_capacity(hits.len());
        for &(id, score) in hits {
            let chunk = stmt
                .query_row([id], |r| {
                    Ok(ScoredChunk {
                        path: r.get(0)?,
                        seq: r.get(1)?,
                        lines: (r.get(2)?, r.get(3)?),
                        headings: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                        text: r.get(5)?,
                        score,
                    })
                })
                .optional()
                .map_err(|e| s.err(e))?;
            out.extend(chunk);
        }
        Ok(out)
    }

    fn delete_file_rows(tx: &rusqlite::Transaction, collection: &str, path: &str) -> rusqlite::Result<usize> {
        tx.execute(
            "DELETE FROM rag_fts WHERE rowid IN (SELECT id FROM rag_chunks WHERE collection = ?1 AND path = ?2)",
            params![collection, path],
        )?;
        tx.execute("DELETE FROM rag_chunks WHERE collection = ?1 AND path = ?2", params![collection, path])?;
        tx.execute("DELETE FROM rag_files WHERE collection = ?1 AND path = ?2", params![collection, path])
    }

    /// Every file and chunk of a collection (its row in rag_collections stays).
    fn delete_collection_rows(tx: &rusqlite::Transaction, collection: &str) -> rusqlite::Result<()> {
        tx.execute(
            "DELETE FROM rag_fts WHERE rowid IN (SELECT id FROM rag_chunks WHERE collection = ?1)",
            [collection],
        )?;
        tx.execute("DELETE FROM rag_chunks WHERE collection = ?1", [collection])?;
        tx.execute("DELETE FROM rag_files WHERE collection = ?1", [collection])?;
        Ok(())
    }

    fn insert_file(
        tx: &rusqlite::Transaction,
        collection: &str,
        file: &FileEntry,
        chunks: &[StoredChunk],
    ) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT INTO rag_files (collection, path, hash, kind, chunks, bytes, ingested_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![collection, file.path, file.hash, file.kind, file.chunks, file.bytes as i64, file.ingested_at],
        )?;
        let mut chunk_stmt = tx.prepare_cached(
            "INSERT INTO rag_chunks (collection, path, seq, line_start, line_end, headings, text, hash, vector)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut fts_stmt = tx.prepare_cached("INSERT INTO rag_fts (rowid, body) VALUES (?1, ?2)")?;
        for c in chunks {
            chunk_stmt.execute(params![
                collection,
                c.path,
                c.seq,
                c.lines.0,
                c.lines.1,
                serde_json::to_string(&c.headings).expect("headings serialise"),
                c.text,
                c.hash,
                vector_bytes(&c.vector),
            ])?;
            fts_stmt.execute(params![tx.last_insert_rowid(), c.indexed_text()])?;
        }
        Ok(())
    }

    fn bump(tx: &rusqlite::Transaction, collection: &str) -> rusqlite::Result<usize> {
        tx.execute(
            "UPDATE rag_collections SET version = version + 1, updated_at = ?2 WHERE name = ?1",
            params![collection, now_ms()],
        )
    }

    fn write(&self, f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>) -> Result<()> {
        let s = &self.store;
        let conn = s.conn();
        let tx = conn.unchecked_transaction().map_err(|e| s.err(e))?;
        f(&tx).map_err(|e| s.err(e))?;
        tx.commit().map_err(|e| s.err(e))
    }

    fn no_collection(name: &str) -> StoreError {
        StoreError::NoSuchCollection(name.to_string())
    }
}

fn collection_row(r: &Row) -> rusqlite::Result<CollectionInfo> {
    Ok(CollectionInfo {
        name: r.get(0)?,
        embed_model: r.get(1)?,
        dims: r.get(2)?,
        version: r.get::<_, i64>(3)? as u64,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        files: r.get::<_, i64>(6)? as u64,
        chunks: r.get::<_, i64>(7)? as u64,
    })
}

/// FTS5 query syntax treats many characters as operators; each word is
/// quoted and the words are OR-ed, so any text is a valid query and BM25
/// ranks by how many (and how rare) the matching words are. Function words
/// are left out as the Redis backend's BM25 leaves them out.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = query_words(text).iter().map(|w| format!("\"{}\"", w.to_lowercase())).collect();
    (!words.is_empty()).then(|| words.join(" OR "))
}

impl VectorStore for SqliteVectors {
    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        let names: Vec<String> =
            self.store.query_all("SELECT name FROM rag_collections ORDER BY name", [], |r| r.get(0))?;
        let mut out = Vec::new();
        for n in names {
            out.extend(self.info(&n)?);
        }
        Ok(out)
    }

    async fn collection(&self, name: &str) -> Result<Option<CollectionInfo>> {
        self.info(name)
    }

    async fn ensure_collection(&self, name: &str, model: &str, dims: u32) -> Result<CollectionInfo> {
        let now = now_ms();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO rag_collections (name, embed_model, dims, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 0, ?4, ?4) ON CONFLICT(name) DO NOTHING",
                params![name, model, dims, now],
            )
            .map(drop)
        })?;
        let info = self.info(name)?.ok_or_else(|| Self::no_collection(name))?;
        check_model(&info, model, dims)?;
        Ok(info)
    }

    async fn files(&self, collection: &str) -> Result<Vec<FileEntry>> {
        self.store.query_all(
            "SELECT path, hash, kind, chunks, bytes, ingested_at FROM rag_files WHERE collection = ?1 ORDER BY path",
            [collection],
            |r| {
                Ok(FileEntry {
                    path: r.get(0)?,
                    hash: r.get(1)?,
                    kind: r.get(2)?,
                    chunks: r.get(3)?,
                    bytes: r.get::<_, i64>(4)? as u64,
                    ingested_at: r.get(5)?,
                })
            },
        )
    }

    async fn put_file(&self, collection: &str, file: &FileEntry, chunks: &[StoredChunk]) -> Result<()> {
        let mut missing = false;
        self.write(|tx| {
            if Self::bump(tx, collection)? == 0 {
                missing = true;
                return Ok(());
            }
            Self::delete_file_rows(tx, collection, &file.path)?;
            Self::insert_file(tx, collection, file, chunks)
        })?;
        if missing {
            return Err(Self::no_collection(collection));
        }
        Ok(())
    }

    async fn remove_file(&self, collection: &str, path: &str) -> Result<bool> {
        let mut removed = false;
        self.write(|tx| {
            removed = Self::delete_file_rows(tx, collection, path)? > 0;
            if removed {
                Self::bump(tx, collection)?;
            }
            Ok(())
        })?;
        Ok(removed)
    }

    async fn delete_collection(&self, name: &str) -> Result<bool> {
        let mut deleted = false;
        self.write(|tx| {
            Self::delete_collection_rows(tx, name)?;
            deleted = tx.execute("DELETE FROM rag_collections WHERE name = ?1", [name])? > 0;
            Ok(())
        })?;
        self.loaded.lock().expect("index lock").remove(name);
        Ok(deleted)
    }

    async fn chunks(&self, collection: &str) -> Result<Vec<StoredChunk>> {
        self.store.query_all(
            "SELECT path, seq, line_start, line_end, headings, text, hash, vector FROM rag_chunks
             WHERE collection = ?1 ORDER BY path, seq",
            [collection],
            |r| {
                Ok(StoredChunk {
                    path: r.get(0)?,
                    seq: r.get(1)?,
                    lines: (r.get(2)?, r.get(3)?),
                    headings: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                    text: r.get(5)?,
                    hash: r.get(6)?,
                    vector: bytes_vector(&r.get::<_, Vec<u8>>(7)?),
                })
            },
        )
    }

    async fn replace_collection(
        &self,
        info: &CollectionInfo,
        files: &[FileEntry],
        chunks: &[StoredChunk],
    ) -> Result<()> {
        let name = &info.name;
        let now = now_ms();
        self.write(|tx| {
            Self::delete_collection_rows(tx, name)?;
            tx.execute(
                "INSERT INTO rag_collections (name, embed_model, dims, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5)
                 ON CONFLICT(name) DO UPDATE SET embed_model = excluded.embed_model, dims = excluded.dims,
                    version = version + 1, updated_at = excluded.updated_at",
                params![name, info.embed_model, info.dims, info.created_at, now],
            )?;
            for (f, of_file) in chunks_by_file(files, chunks) {
                Self::insert_file(tx, name, f, &of_file)?;
            }
            Ok(())
        })
    }

    async fn vector_search(
        &self,
        collection: &str,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>> {
        let Some(l) = self.loaded(collection)? else { return Err(Self::no_collection(collection)) };
        let rows = l.index.candidates(vector, k, |row| filter.admits(&l.paths[row]));
        let full = self.vectors_of(rows.iter().map(|&row| l.ids[row]))?;
        let hits = rerank(vector, k, rows.iter().zip(&full).filter_map(|(&row, v)| Some((row, v.as_deref()?))));
        self.scored(&hits.iter().map(|&(row, s)| (l.ids[row], s)).collect::<Vec<_>>())
    }

    async fn text_search(
        &self,
        collection: &str,
        query: &str,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>> {
        if self.version(collection)?.is_none() {
            return Err(Self::no_collection(collection));
        }
        let Some(q) = fts_query(query) else { return Ok(Vec::new()) };
        if let Some(hits) = self.text_search_fast(&q, collection, k, filter)? {
            return self.scored(&hits);
        }
        let prefix = filter.path_prefix.clone().unwrap_or_default();
        let hits: Vec<(i64, f32)> = self.store.query_all(
            "SELECT c.id, -bm25(rag_fts) FROM rag_fts JOIN rag_chunks c ON c.id = rag_fts.rowid
             WHERE rag_fts MATCH ?1 AND c.collection = ?2 AND substr(c.path, 1, length(?3)) = ?3
             ORDER BY bm25(rag_fts), c.path, c.seq LIMIT ?4",
            params![q, collection, prefix, k as i64],
            |r| Ok((r.get(0)?, r.get::<_, f64>(1)? as f32)),
        )?;
        self.scored(&hits)
    }

    async fn cached_embeddings(&self, model: &str, hashes: &[String]) -> Result<Vec<Option<Vec<f32>>>> {
        let s = &self.store;
        let conn = s.conn();
        let mut stmt = conn
            .prepare_cached("SELECT vector FROM rag_embed_cache WHERE model = ?1 AND hash = ?2")
            .map_err(|e| s.err(e))?;
        hashes
            .iter()
            .map(|h| {
                stmt.query_row(params![model, h], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
                    .map(|b| b.map(|b| bytes_vector(&b)))
                    .map_err(|e| s.err(e))
            })
            .collect()
    }

    async fn cache_embeddings(&self, model: &str, items: &[(String, Vec<f32>)]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO rag_embed_cache (model, hash, vector) VALUES (?1, ?2, ?3)
                 ON CONFLICT(model, hash) DO UPDATE SET vector = excluded.vector",
            )?;
            for (h, v) in items {
                stmt.execute(params![model, h, vector_bytes(v)])?;
            }
            Ok(())
        })
    }
}
