//! The frame cache: loaded tables kept as Arrow IPC bytes under a key, with
//! a TTL. Two backends behind `FrameCache`: Redis (no modules needed; large
//! frames in chunks) and the embedded SQLite store (also chunked, so no
//! single value nears SQLite's size limit). `tests/frames.rs` is one
//! conformance suite for both.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use url::Url;
use vuhitra_core::remote::Access;

use crate::records::{now_ms, Result};
use crate::{Store, StoreError};

/// Chunks of this size keep each value well below Redis' 512 MB limit and
/// SQLite's default 1 GB, and let a reader stream.
pub const DEFAULT_CHUNK: usize = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameInfo {
    pub key: String,
    pub rows: u64,
    pub columns: Vec<String>,
    /// Where the table was loaded from.
    pub source: String,
    pub bytes: u64,
    pub chunks: u32,
    pub created_at: i64,
    pub expires_at: i64,
}

#[allow(async_fn_in_trait)]
pub trait FrameCache {
    /// Stores a frame, replacing one with the same key. Readers never see a
    /// half-written frame.
    async fn put_frame(&self, info: &FrameInfo, bytes: &[u8]) -> Result<()>;
    /// An unexpired frame, or None.
    async fn get_frame(&self, key: &str) -> Result<Option<(FrameInfo, Vec<u8>)>>;
    /// Unexpired frames, by key.
    async fn frames(&self) -> Result<Vec<FrameInfo>>;
    /// Whether a frame was there to drop.
    async fn drop_frame(&self, key: &str) -> Result<bool>;
}

/// The frame cache a process uses: Redis when REDIS_URL is set, else the
/// embedded store. One enum that implements the trait, so callers need not
/// know which.
pub enum FrameBackend {
    Embedded(SqliteFrames),
    Redis(RedisFrames),
}

impl FrameBackend {
    /// Connects to Redis at `redis` (an error naming REDIS_URL when it
    /// does not answer), or uses `store`.
    pub async fn open(
        redis: Option<(&Url, &Access)>,
        store: impl FnOnce() -> Result<crate::Store>,
    ) -> Result<FrameBackend> {
        Ok(match redis {
            Some((url, access)) => FrameBackend::Redis(RedisFrames::connect(url, access, "vuhitra").await?),
            None => FrameBackend::Embedded(SqliteFrames { store: store()?, chunk: DEFAULT_CHUNK }),
        })
    }
}

impl FrameCache for FrameBackend {
    async fn put_frame(&self, info: &FrameInfo, bytes: &[u8]) -> Result<()> {
        match self {
            FrameBackend::Embedded(b) => b.put_frame(info, bytes).await,
            FrameBackend::Redis(b) => b.put_frame(info, bytes).await,
        }
    }
    async fn get_frame(&self, key: &str) -> Result<Option<(FrameInfo, Vec<u8>)>> {
        match self {
            FrameBackend::Embedded(b) => b.get_frame(key).await,
            FrameBackend::Redis(b) => b.get_frame(key).await,
        }
    }
    async fn frames(&self) -> Result<Vec<FrameInfo>> {
        match self {
            FrameBackend::Embedded(b) => b.frames().await,
            FrameBackend::Redis(b) => b.frames().await,
        }
    }
    async fn drop_frame(&self, key: &str) -> Result<bool> {
        match self {
            FrameBackend::Embedded(b) => b.drop_frame(key).await,
            FrameBackend::Redis(b) => b.drop_frame(key).await,
        }
    }
}

/// How many chunks `len` bytes take.
pub fn chunk_count(len: usize, chunk: usize) -> u32 {
    len.div_ceil(chunk).max(1) as u32
}

/// The SQLite backend; frames live in the store file.
pub struct SqliteFrames {
    pub store: Store,
    pub chunk: usize,
}

impl FrameCache for SqliteFrames {
    async fn put_frame(&self, info: &FrameInfo, bytes: &[u8]) -> Result<()> {
        let s = &self.store;
        let path = s.path().to_path_buf();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let conn = s.conn();
        let tx = conn.unchecked_transaction().map_err(err)?;
        tx.execute("DELETE FROM frame_chunks WHERE key = ?1", [&info.key]).map_err(err)?;
        for (seq, part) in bytes.chunks(self.chunk.max(1)).enumerate() {
            tx.execute(
                "INSERT INTO frame_chunks (key, seq, bytes) VALUES (?1, ?2, ?3)",
                params![info.key, seq as i64, part],
            )
            .map_err(err)?;
        }
        let meta = serde_json::to_string(info).expect("frame info serialises");
        tx.execute(
            "INSERT INTO frames (key, meta, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET meta = excluded.meta, expires_at = excluded.expires_at",
            params![info.key, meta, info.expires_at],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    async fn get_frame(&self, key: &str) -> Result<Option<(FrameInfo, Vec<u8>)>> {
        let s = &self.store;
        let meta: Option<String> = s
            .conn()
            .query_row("SELECT meta FROM frames WHERE key = ?1 AND expires_at > ?2", params![key, now_ms()], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| s.err(e))?;
        let Some(info) = meta.and_then(|m| serde_json::from_str::<FrameInfo>(&m).ok()) else { return Ok(None) };
        let parts: Vec<Vec<u8>> =
            s.query_all("SELECT bytes FROM frame_chunks WHERE key = ?1 ORDER BY seq", [key], |r| r.get(0))?;
        if parts.len() != info.chunks as usize {
            return Ok(None);
        }
        Ok(Some((info, parts.concat())))
    }

    async fn frames(&self) -> Result<Vec<FrameInfo>> {
        let s = &self.store;
        s.conn().execute("DELETE FROM frames WHERE expires_at <= ?1", [now_ms()]).map_err(|e| s.err(e))?;
        s.conn()
            .execute("DELETE FROM frame_chunks WHERE key NOT IN (SELECT key FROM frames)", [])
            .map_err(|e| s.err(e))?;
        let metas: Vec<String> = s.query_all("SELECT meta FROM frames ORDER BY key", [], |r| r.get(0))?;
        Ok(metas.iter().filter_map(|m| serde_json::from_str(m).ok()).collect())
    }

    async fn drop_frame(&self, key: &str) -> Result<bool> {
        let s = &self.store;
        let n = s.conn().execute("DELETE FROM frames WHERE key = ?1", [key]).map_err(|e| s.err(e))?;
        s.conn().execute("DELETE FROM frame_chunks WHERE key = ?1", [key]).map_err(|e| s.err(e))?;
        Ok(n > 0)
    }
}

/// The Redis backend: `<prefix>:frame:<key>:meta` (JSON) and
/// `<prefix>:frame:<key>:<n>` chunks, all with the same TTL, written in one
/// MULTI/EXEC with the metadata last; plus a set of keys for listing.
pub struct RedisFrames {
    conn: redis::aio::MultiplexedConnection,
    url: String,
    prefix: String,
    pub chunk: usize,
}

impl RedisFrames {
    pub async fn connect(url: &Url, access: &Access, prefix: &str) -> Result<RedisFrames> {
        let conn = crate::redis_client::connect(url, access, std::time::Duration::from_secs(5)).await?;
        Ok(RedisFrames { conn, url: url.to_string(), prefix: prefix.to_string(), chunk: DEFAULT_CHUNK })
    }

    fn meta_key(&self, key: &str) -> String {
        format!("{}:frame:{key}:meta", self.prefix)
    }

    fn chunk_key(&self, key: &str, n: u32) -> String {
        format!("{}:frame:{key}:{n}", self.prefix)
    }

    fn index_key(&self) -> String {
        format!("{}:frames", self.prefix)
    }

    fn err(&self, e: redis::RedisError) -> StoreError {
        StoreError::Redis { url: self.url.clone(), reason: e.to_string() }
    }
}

impl FrameCache for RedisFrames {
    async fn put_frame(&self, info: &FrameInfo, bytes: &[u8]) -> Result<()> {
        let ttl_ms = (info.expires_at - now_ms()).max(1) as u64;
        let mut old_chunks = 0;
        if let Some((old, _)) = self.get_meta(&info.key).await? {
            old_chunks = old.chunks;
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (n, part) in bytes.chunks(self.chunk.max(1)).enumerate() {
            pipe.cmd("SET").arg(self.chunk_key(&info.key, n as u32)).arg(part).arg("PX").arg(ttl_ms).ignore();
        }
        for n in info.chunks..old_chunks {
            pipe.cmd("DEL").arg(self.chunk_key(&info.key, n)).ignore();
        }
        let meta = serde_json::to_string(info).expect("frame info serialises");
        pipe.cmd("SET").arg(self.meta_key(&info.key)).arg(meta).arg("PX").arg(ttl_ms).ignore();
        pipe.cmd("SADD").arg(self.index_key()).arg(&info.key).ignore();
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(|e| self.err(e))
    }

    async fn get_frame(&self, key: &str) -> Result<Option<(FrameInfo, Vec<u8>)>> {
        let Some((info, _)) = self.get_meta(key).await? else { return Ok(None) };
        let keys: Vec<String> = (0..info.chunks).map(|n| self.chunk_key(key, n)).collect();
        let mut conn = self.conn.clone();
        let parts: Vec<Option<Vec<u8>>> =
            redis::cmd("MGET").arg(&keys).query_async(&mut conn).await.map_err(|e| self.err(e))?;
        // A chunk that expired between the reads: the frame is gone.
        let Some(parts) = parts.into_iter().collect::<Option<Vec<_>>>() else { return Ok(None) };
        Ok(Some((info, parts.concat())))
    }

    async fn frames(&self) -> Result<Vec<FrameInfo>> {
        let mut conn = self.conn.clone();
        let mut keys: Vec<String> =
            redis::cmd("SMEMBERS").arg(self.index_key()).query_async(&mut conn).await.map_err(|e| self.err(e))?;
        keys.sort();
        let mut out = Vec::new();
        for k in keys {
            match self.get_meta(&k).await? {
                Some((info, _)) => out.push(info),
                None => {
                    // Expired: forget it.
                    let _: () = redis::cmd("SREM")
                        .arg(self.index_key())
                        .arg(&k)
                        .query_async(&mut conn)
                        .await
                        .map_err(|e| self.err(e))?;
                }
            }
        }
        Ok(out)
    }

    async fn drop_frame(&self, key: &str) -> Result<bool> {
        let Some((info, _)) = self.get_meta(key).await? else { return Ok(false) };
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("DEL").arg(self.meta_key(key)).ignore();
        for n in 0..info.chunks {
            pipe.cmd("DEL").arg(self.chunk_key(key, n)).ignore();
        }
        pipe.cmd("SREM").arg(self.index_key()).arg(key).ignore();
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(|e| self.err(e))?;
        Ok(true)
    }
}

impl RedisFrames {
    async fn get_meta(&self, key: &str) -> Result<Option<(FrameInfo, ())>> {
        let mut conn = self.conn.clone();
        let meta: Option<String> =
            redis::cmd("GET").arg(self.meta_key(key)).query_async(&mut conn).await.map_err(|e| self.err(e))?;
        Ok(meta.and_then(|m| serde_json::from_str(&m).ok()).map(|i| (i, ())))
    }
}
