//! The Redis backend, for plain Redis (>= 7.2, no modules). Keys, under
//! `<prefix>:rag:`:
//!
//! - `collections` — a set of names;
//! - `c:<name>:meta` — JSON (model, dimensions, times);
//! - `c:<name>:version` — a counter every change increments;
//! - `c:<name>:files` — a hash of path → file entry (JSON);
//! - `c:<name>:chunks` — a hash of path → all of that file's chunks in one
//!   binary value, so replacing a file is one HSET inside MULTI/EXEC;
//! - `embed:<model>` — a hash of text hash → vector bytes (the embedding cache).
//!
//! Searching scores in the client. Pulling every vector for every query
//! would cost the whole collection in network traffic each time, so the
//! client keeps a mirror of each collection on local disk (`mirror_dir`)
//! with the version it was taken at. A search first reads the version (one
//! GET); when it moved, only the files whose hash changed are fetched. The
//! mirror is a cache: deleting it costs one full fetch, never data.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ::redis::aio::MultiplexedConnection;
use url::Url;
use vuhitra_core::remote::Access;

use super::index::{rerank, Bm25Index, VectorIndex};
use super::*;
use crate::records::now_ms;

pub struct RedisVectors {
    conn: MultiplexedConnection,
    url: String,
    prefix: String,
    mirror_dir: PathBuf,
    /// The mirror as this process last read it, per collection.
    loaded: Mutex<HashMap<String, Arc<Mirror>>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    embed_model: String,
    dims: u32,
    created_at: i64,
    updated_at: i64,
}

/// A collection as of one version: every file's hash and chunks, and the
/// indexes built over them.
struct Mirror {
    version: u64,
    /// path → (file hash, the file's chunks as stored in Redis).
    files: Vec<(String, String, Vec<u8>)>,
    chunks: Vec<StoredChunk>,
    vectors: VectorIndex,
    bm25: Bm25Index,
}

impl Mirror {
    fn build(version: u64, dims: u32, mut files: Vec<(String, String, Vec<u8>)>) -> Mirror {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let mut chunks = Vec::new();
        for (_, _, blob) in &files {
            chunks.extend(decode_chunks(blob));
        }
        let mut vectors = VectorIndex::with_capacity(dims as usize, chunks.len());
        let mut bm25 = Bm25Index::default();
        for c in &chunks {
            vectors.push(&c.vector);
            bm25.add(&c.indexed_text());
        }
        Mirror { version, files, chunks, vectors, bm25 }
    }

    fn scored(&self, hits: Vec<(usize, f32)>) -> Vec<ScoredChunk> {
        hits.into_iter()
            .map(|(i, score)| {
                let c = &self.chunks[i];
                ScoredChunk {
                    path: c.path.clone(),
                    seq: c.seq,
                    lines: c.lines,
                    headings: c.headings.clone(),
                    text: c.text.clone(),
                    score,
                }
            })
            .collect()
    }
}

/// One file's chunks as one value: a JSON header (everything but the
/// vectors), then the vectors as little-endian f32, all of one length.
fn encode_chunks(chunks: &[StoredChunk]) -> Vec<u8> {
    let heads: Vec<StoredChunk> = chunks.iter().map(|c| StoredChunk { vector: Vec::new(), ..c.clone() }).collect();
    let json = serde_json::to_vec(&heads).expect("chunks serialise");
    let dims = chunks.first().map_or(0, |c| c.vector.len()) as u32;
    let mut out = Vec::with_capacity(8 + json.len() + chunks.len() * dims as usize * 4);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&dims.to_le_bytes());
    out.extend_from_slice(&json);
    for c in chunks {
        out.extend(vector_bytes(&c.vector));
    }
    out
}

/// The chunks of one value; a value this version cannot read yields none
/// (and the next ingest of that file rewrites it).
fn decode_chunks(blob: &[u8]) -> Vec<StoredChunk> {
    let read_u32 = |at: usize| blob.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let (Some(json_len), Some(dims)) = (read_u32(0), read_u32(4)) else { return Vec::new() };
    let Some(json) = blob.get(8..8 + json_len) else { return Vec::new() };
    let Ok(mut chunks) = serde_json::from_slice::<Vec<StoredChunk>>(json) else { return Vec::new() };
    let vectors = &blob[8 + json_len..];
    if vectors.len() != chunks.len() * dims * 4 {
        return Vec::new();
    }
    for (c, v) in chunks.iter_mut().zip(vectors.chunks_exact((dims * 4).max(1))) {
        c.vector = bytes_vector(v);
    }
    chunks
}

impl RedisVectors {
    pub async fn connect(url: &Url, access: &Access, prefix: &str, mirror_dir: PathBuf) -> Result<RedisVectors> {
        let conn = crate::redis_client::connect(url, access, std::time::Duration::from_secs(5)).await?;
        Ok(RedisVectors {
            conn,
            url: url.to_string(),
            prefix: prefix.to_string(),
            mirror_dir,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn key(&self, collection: &str, part: &str) -> String {
        format!("{}:rag:c:{collection}:{part}", self.prefix)
    }

    fn set_key(&self) -> String {
        format!("{}:rag:collections", self.prefix)
    }

    fn err(&self, e: ::redis::RedisError) -> StoreError {
        if e.is_connection_dropped() || e.is_connection_refusal() || e.is_io_error() || e.is_timeout() {
            StoreError::RedisUnreachable { url: self.url.clone(), reason: e.to_string() }
        } else {
            StoreError::Redis { url: self.url.clone(), reason: e.to_string() }
        }
    }

    async fn query<T: ::redis::FromRedisValue>(&self, cmd: &mut ::redis::Cmd) -> Result<T> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn).await.map_err(|e| self.err(e))
    }

    async fn exec(&self, pipe: &::redis::Pipeline) -> Result<()> {
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(|e| self.err(e))
    }

    async fn meta(&self, collection: &str) -> Result<Option<Meta>> {
        let raw: Option<String> = self.query(::redis::cmd("GET").arg(self.key(collection, "meta"))).await?;
        Ok(raw.and_then(|m| serde_json::from_str(&m).ok()))
    }

    async fn version(&self, collection: &str) -> Result<u64> {
        let v: Option<u64> = self.query(::redis::cmd("GET").arg(self.key(collection, "version"))).await?;
        Ok(v.unwrap_or(0))
    }

    fn mirror_path(&self, collection: &str) -> PathBuf {
        // One server and prefix, one directory: two servers never share a mirror.
        let server = format!("{:016x}", fnv1a(format!("{}|{}", self.url, self.prefix).as_bytes()));
        self.mirror_dir.join(server).join(format!("{:016x}.mirror", fnv1a(collection.as_bytes())))
    }

    /// The collection's mirror at the server's current version: this
    /// process's copy, else the one on disk, each brought up to date by
    /// fetching only the files that changed.
    async fn mirror(&self, collection: &str) -> Result<Arc<Mirror>> {
        let Some(meta) = self.meta(collection).await? else { return Err(no_collection(collection)) };
        let version = self.version(collection).await?;
        let held = self.loaded.lock().expect("mirror lock").get(collection).cloned();
        let held = match held {
            Some(m) => Some(m),
            None => read_mirror(&self.mirror_path(collection), meta.dims).map(Arc::new),
        };
        if let Some(m) = &held {
            if m.version == version {
                self.loaded.lock().expect("mirror lock").insert(collection.to_string(), m.clone());
                return Ok(m.clone());
            }
        }
        // Moved on: the file list is small; fetch the chunks of changed files only.
        let listed: HashMap<String, String> =
            self.query(::redis::cmd("HGETALL").arg(self.key(collection, "files"))).await?;
        let mut kept: HashMap<String, (String, Vec<u8>)> = HashMap::new();
        if let Some(m) = &held {
            for (path, hash, blob) in &m.files {
                kept.insert(path.clone(), (hash.clone(), blob.clone()));
            }
        }
        let mut files = Vec::with_capacity(listed.len());
        let mut fetch = Vec::new();
        for (path, entry) in listed {
            let hash = serde_json::from_str::<FileEntry>(&entry).map(|f| f.hash).unwrap_or_default();
            match kept.remove(&path) {
                Some((h, blob)) if h == hash => files.push((path, hash, blob)),
                _ => fetch.push((path, hash)),
            }
        }
        // A few files per HMGET: one reply with every file of a large
        // collection would be gigabytes, past the client's reply timeout.
        for group in fetch.chunks(FILES_PER_FETCH) {
            let paths: Vec<&String> = group.iter().map(|(p, _)| p).collect();
            let blobs: Vec<Option<Vec<u8>>> =
                self.query(::redis::cmd("HMGET").arg(self.key(collection, "chunks")).arg(&paths)).await?;
            for ((path, hash), blob) in group.iter().zip(blobs) {
                files.push((path.clone(), hash.clone(), blob.unwrap_or_default()));
            }
        }
        let mirror = Arc::new(Mirror::build(version, meta.dims, files));
        // A mirror that cannot be written only costs the next process a fetch.
        if let Err(e) = write_mirror(&self.mirror_path(collection), &mirror) {
            tracing::debug!("RAG mirror not saved: {e}");
        }
        self.loaded.lock().expect("mirror lock").insert(collection.to_string(), mirror.clone());
        Ok(mirror)
    }
}

/// Files fetched per HMGET when a mirror catches up.
const FILES_PER_FETCH: usize = 16;

fn no_collection(name: &str) -> StoreError {
    StoreError::NoSuchCollection(name.to_string())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

const MIRROR_MAGIC: &[u8; 8] = b"VHRAGM01";

fn write_mirror(path: &std::path::Path, m: &Mirror) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().expect("mirror path has a directory");
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile_in(dir)?;
    {
        let mut w = std::io::BufWriter::new(&mut tmp.1);
        w.write_all(MIRROR_MAGIC)?;
        w.write_all(&m.version.to_le_bytes())?;
        w.write_all(&(m.files.len() as u64).to_le_bytes())?;
        for (p, h, blob) in &m.files {
            for part in [p.as_bytes(), h.as_bytes(), blob.as_slice()] {
                w.write_all(&(part.len() as u64).to_le_bytes())?;
                w.write_all(part)?;
            }
        }
        w.flush()?;
    }
    std::fs::rename(&tmp.0, path)
}

/// A uniquely named file beside the mirror, renamed over it when complete,
/// so a reader never sees half a mirror.
fn tempfile_in(dir: &std::path::Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let path = dir.join(format!(".tmp-{}-{}", std::process::id(), fastrand::u64(..)));
    Ok((path.clone(), std::fs::File::create(path)?))
}

fn read_mirror(path: &std::path::Path, dims: u32) -> Option<Mirror> {
    let bytes = std::fs::read(path).ok()?;
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = bytes.get(at..at.checked_add(n)?)?;
        at += n;
        Some(s)
    };
    if take(8)? != MIRROR_MAGIC {
        return None;
    }
    let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let version = u64_of(take(8)?);
    let n = u64_of(take(8)?) as usize;
    let mut files = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let mut parts = Vec::with_capacity(3);
        for _ in 0..3 {
            let len = u64_of(take(8)?) as usize;
            parts.push(take(len)?.to_vec());
        }
        let blob = parts.pop()?;
        let hash = String::from_utf8(parts.pop()?).ok()?;
        let path = String::from_utf8(parts.pop()?).ok()?;
        files.push((path, hash, blob));
    }
    Some(Mirror::build(version, dims, files))
}

impl VectorStore for RedisVectors {
    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        let mut names: Vec<String> = self.query(::redis::cmd("SMEMBERS").arg(self.set_key())).await?;
        names.sort();
        let mut out = Vec::new();
        for n in names {
            out.extend(self.collection(&n).await?);
        }
        Ok(out)
    }

    async fn collection(&self, name: &str) -> Result<Option<CollectionInfo>> {
        let Some(meta) = self.meta(name).await? else { return Ok(None) };
        let files = self.files(name).await?;
        Ok(Some(CollectionInfo {
            name: name.to_string(),
            embed_model: meta.embed_model,
            dims: meta.dims,
            files: files.len() as u64,
            chunks: files.iter().map(|f| f.chunks as u64).sum(),
            version: self.version(name).await?,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
        }))
    }

    async fn ensure_collection(&self, name: &str, model: &str, dims: u32) -> Result<CollectionInfo> {
        let now = now_ms();
        let meta = Meta { embed_model: model.to_string(), dims, created_at: now, updated_at: now };
        let json = serde_json::to_string(&meta).expect("meta serialises");
        // NX: two ingests starting at once agree on the first one's model.
        let _: Option<String> = self.query(::redis::cmd("SET").arg(self.key(name, "meta")).arg(json).arg("NX")).await?;
        let _: i64 = self.query(::redis::cmd("SADD").arg(self.set_key()).arg(name)).await?;
        let info = self.collection(name).await?.ok_or_else(|| no_collection(name))?;
        check_model(&info, model, dims)?;
        Ok(info)
    }

    async fn files(&self, collection: &str) -> Result<Vec<FileEntry>> {
        let listed: HashMap<String, String> =
            self.query(::redis::cmd("HGETALL").arg(self.key(collection, "files"))).await?;
        let mut files: Vec<FileEntry> = listed.values().filter_map(|j| serde_json::from_str(j).ok()).collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    async fn put_file(&self, collection: &str, file: &FileEntry, chunks: &[StoredChunk]) -> Result<()> {
        let Some(mut meta) = self.meta(collection).await? else { return Err(no_collection(collection)) };
        meta.updated_at = now_ms();
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        pipe.cmd("HSET").arg(self.key(collection, "chunks")).arg(&file.path).arg(encode_chunks(chunks)).ignore();
        pipe.cmd("HSET")
            .arg(self.key(collection, "files"))
            .arg(&file.path)
            .arg(serde_json::to_string(file).expect("file entry serialises"))
            .ignore();
        pipe.cmd("SET").arg(self.key(collection, "meta")).arg(serde_json::to_string(&meta).expect("meta")).ignore();
        pipe.cmd("INCR").arg(self.key(collection, "version")).ignore();
        self.exec(&pipe).await
    }

    async fn remove_file(&self, collection: &str, path: &str) -> Result<bool> {
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        pipe.cmd("HDEL").arg(self.key(collection, "files")).arg(path);
        pipe.cmd("HDEL").arg(self.key(collection, "chunks")).arg(path).ignore();
        pipe.cmd("INCR").arg(self.key(collection, "version")).ignore();
        let mut conn = self.conn.clone();
        let (removed,): (i64,) = pipe.query_async(&mut conn).await.map_err(|e| self.err(e))?;
        Ok(removed > 0)
    }

    async fn delete_collection(&self, name: &str) -> Result<bool> {
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        pipe.cmd("DEL").arg(self.key(name, "meta"));
        for part in ["files", "chunks", "version"] {
            pipe.cmd("DEL").arg(self.key(name, part)).ignore();
        }
        pipe.cmd("SREM").arg(self.set_key()).arg(name).ignore();
        let mut conn = self.conn.clone();
        let (deleted,): (i64,) = pipe.query_async(&mut conn).await.map_err(|e| self.err(e))?;
        self.loaded.lock().expect("mirror lock").remove(name);
        let _ = std::fs::remove_file(self.mirror_path(name));
        Ok(deleted > 0)
    }

    async fn chunks(&self, collection: &str) -> Result<Vec<StoredChunk>> {
        Ok(self.mirror(collection).await?.chunks.clone())
    }

    async fn replace_collection(
        &self,
        info: &CollectionInfo,
        files: &[FileEntry],
        chunks: &[StoredChunk],
    ) -> Result<()> {
        let name = &info.name;
        let meta = Meta {
            embed_model: info.embed_model.clone(),
            dims: info.dims,
            created_at: info.created_at,
            updated_at: now_ms(),
        };
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        pipe.cmd("DEL").arg(self.key(name, "files")).ignore();
        pipe.cmd("DEL").arg(self.key(name, "chunks")).ignore();
        for (f, of_file) in chunks_by_file(files, chunks) {
            pipe.cmd("HSET").arg(self.key(name, "chunks")).arg(&f.path).arg(encode_chunks(&of_file)).ignore();
            pipe.cmd("HSET")
                .arg(self.key(name, "files"))
                .arg(&f.path)
                .arg(serde_json::to_string(f).expect("file entry serialises"))
                .ignore();
        }
        pipe.cmd("SET").arg(self.key(name, "meta")).arg(serde_json::to_string(&meta).expect("meta")).ignore();
        pipe.cmd("INCR").arg(self.key(name, "version")).ignore();
        pipe.cmd("SADD").arg(self.set_key()).arg(name).ignore();
        self.exec(&pipe).await
    }

    async fn vector_search(
        &self,
        collection: &str,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>> {
        let m = self.mirror(collection).await?;
        let rows = m.vectors.candidates(vector, k, |i| filter.admits(&m.chunks[i].path));
        Ok(m.scored(rerank(vector, k, rows.iter().map(|&i| (i, m.chunks[i].vector.as_slice())))))
    }

    async fn text_search(
        &self,
        collection: &str,
        query: &str,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>> {
        let m = self.mirror(collection).await?;
        let hits = m.bm25.top_k(query, k, |i| filter.admits(&m.chunks[i].path));
        Ok(m.scored(hits))
    }

    async fn cached_embeddings(&self, model: &str, hashes: &[String]) -> Result<Vec<Option<Vec<f32>>>> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let key = format!("{}:rag:embed:{model}", self.prefix);
        let got: Vec<Option<Vec<u8>>> = self.query(::redis::cmd("HMGET").arg(key).arg(hashes)).await?;
        Ok(got.into_iter().map(|b| b.map(|b| bytes_vector(&b))).collect())
    }

    async fn cache_embeddings(&self, model: &str, items: &[(String, Vec<f32>)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let key = format!("{}:rag:embed:{model}", self.prefix);
        let mut cmd = ::redis::cmd("HSET");
        cmd.arg(key);
        for (h, v) in items {
            cmd.arg(h).arg(vector_bytes(v));
        }
        self.query::<i64>(&mut cmd).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(path: &str, seq: u32, v: [f32; 3]) -> StoredChunk {
        StoredChunk {
            path: path.into(),
            seq,
            lines: (seq + 1, seq + 2),
            headings: vec!["Intro".into()],
            text: format!("chunk {seq} of {path}"),
            hash: format!("h{seq}"),
            vector: v.to_vec(),
        }
    }

    #[test]
    fn a_files_chunks_round_trip_through_one_value() {
        let chunks = vec![chunk("a.md", 0, [1.0, 0.0, 0.0]), chunk("a.md", 1, [0.0, 0.5, 0.5])];
        assert_eq!(decode_chunks(&encode_chunks(&chunks)), chunks);
        assert!(decode_chunks(b"garbage").is_empty(), "an unreadable value yields no chunks, not a panic");
    }

    #[test]
    fn a_mirror_written_to_disk_reads_back_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x").join("c.mirror");
        let blob = encode_chunks(&[chunk("a.md", 0, [1.0, 0.0, 0.0])]);
        let m = Mirror::build(7, 3, vec![("a.md".into(), "hash".into(), blob)]);
        write_mirror(&path, &m).unwrap();
        let back = read_mirror(&path, 3).unwrap();
        assert_eq!(back.version, 7);
        assert_eq!(back.chunks, m.chunks);
        std::fs::write(&path, b"VHRAGM01short").unwrap();
        assert!(read_mirror(&path, 3).is_none(), "a truncated mirror is ignored");
    }
}
