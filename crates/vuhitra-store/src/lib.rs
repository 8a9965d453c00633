//! The embedded store: one SQLite file in the data dir, WAL mode, versioned
//! migrations. Safe with several `vuhitra` processes at once: writers wait
//! on SQLite's lock (busy timeout) instead of failing, and migrations run
//! inside an IMMEDIATE transaction so two processes cannot both apply one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

pub mod backend;
mod dev;
pub mod elastic;
mod embedded;
mod files;
pub mod frames;
mod records;
pub mod redis_client;
pub mod vectors;

pub use backend::IntelBackend;
pub use dev::{DevFile, DevIteration, DevTask};
pub use files::WorkspaceFile;
pub use records::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("store {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("store {path} has schema version {found}, newer than this vuhitra understands ({known})")]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("no session named {0:?}")]
    NoSuchSession(String),
    #[error("no {what} with id {id:?}")]
    NoSuchId { what: &'static str, id: String },
    #[error("{count} {what}s have ids starting with {id:?}")]
    AmbiguousId { what: &'static str, id: String, count: usize },
    #[error("Redis at REDIS_URL={url} is unreachable: {reason}")]
    RedisUnreachable { url: String, reason: String },
    #[error("Redis at {url}: {reason}")]
    Redis { url: String, reason: String },
    #[error("Elasticsearch at ELASTICSEARCH_URL={url} is unreachable: {reason}")]
    ElasticUnreachable { url: String, reason: String },
    #[error("Elasticsearch at {url} answered {status} to {request}: {reason}")]
    Elastic { url: String, request: String, status: u16, reason: String },
    #[error("{service} at {url} refused the login: {message}")]
    Login { service: &'static str, url: String, message: String, hint: String },
    #[error("TLS with {service} at {url} failed: {reason}")]
    Tls { service: &'static str, url: String, reason: String },
    #[error("cannot set up the connection to {service}: {reason}")]
    Setup { service: &'static str, reason: String },
    #[error("no RAG collection named {0:?}")]
    NoSuchCollection(String),
    #[error("collection {collection:?} holds vectors of {stored}, not {asked}")]
    ModelMismatch { collection: String, stored: String, asked: String },
}

impl StoreError {
    pub fn hint(&self) -> Option<String> {
        match self {
            StoreError::TooNew { .. } => Some("upgrade vuhitra, or point --data-dir at another directory".into()),
            StoreError::NoSuchSession(_) => Some("`vuhitra sessions list` shows the saved sessions".into()),
            StoreError::NoSuchId { what, .. } => Some(format!("list them with `vuhitra {}`", list_command(what))),
            StoreError::AmbiguousId { .. } => Some("give more characters of the id".into()),
            StoreError::ElasticUnreachable { .. } => Some(
                "start Elasticsearch (`docker compose up -d elasticsearch`), or unset ELASTICSEARCH_URL to keep \
                 heuristics and the prompt cache in the embedded store"
                    .into(),
            ),
            StoreError::Login { hint, .. } => Some(hint.clone()),
            StoreError::NoSuchCollection(_) => {
                Some("`vuhitra rag list` shows the collections; `vuhitra rag ingest PATH` makes one".into())
            }
            StoreError::ModelMismatch { collection, .. } => Some(format!(
                "vectors of two models never mix: `vuhitra rag reindex {collection}` re-embeds it with EMBED_MODEL, \
                 or use another --collection"
            )),
            StoreError::Elastic { .. }
            | StoreError::Redis { .. }
            | StoreError::Tls { .. }
            | StoreError::Setup { .. } => None,
            StoreError::RedisUnreachable { .. } => Some(
                "start Redis (`docker compose up -d redis`), or unset REDIS_URL to cache frames in the embedded store"
                    .into(),
            ),
            StoreError::Sqlite { .. } | StoreError::CreateDir { .. } => {
                Some("check that the data directory is writable (VUHITRA_HOME or --data-dir)".into())
            }
        }
    }
}

fn list_command(what: &str) -> &'static str {
    if what.contains("cache") {
        "cache list"
    } else if what.contains("workspace") {
        "files list"
    } else if what.contains("dev") {
        "dev history"
    } else {
        "heuristics list"
    }
}

/// Each entry moves the schema one version up; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: sessions and their messages; one row per model call with Ollama's metrics.
    "CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        model TEXT NOT NULL,
        system TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
     );
     CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
     );
     CREATE INDEX messages_by_session ON messages(session_id, id);
     CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
        model TEXT NOT NULL,
        prompt TEXT NOT NULL,
        response TEXT NOT NULL,
        error TEXT,
        num_ctx INTEGER NOT NULL DEFAULT 0,
        total_duration INTEGER NOT NULL DEFAULT 0,
        load_duration INTEGER NOT NULL DEFAULT 0,
        prompt_eval_count INTEGER NOT NULL DEFAULT 0,
        prompt_eval_duration INTEGER NOT NULL DEFAULT 0,
        eval_count INTEGER NOT NULL DEFAULT 0,
        eval_duration INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
     );",
    // 2: each turn keeps the prompt's analysis (signature, intent, sentiment).
    "ALTER TABLE turns ADD COLUMN signature TEXT;
     ALTER TABLE turns ADD COLUMN intent TEXT;
     ALTER TABLE turns ADD COLUMN intent_confidence REAL;
     ALTER TABLE turns ADD COLUMN sentiment REAL;
     CREATE INDEX turns_by_signature ON turns(signature);",
    // 3: heuristics replace turns (same facts, plus feedback, entities,
    // context hashes, cache outcome; ids that Elasticsearch shares); the
    // prompt cache; the queue of records waiting for Elasticsearch.
    "CREATE TABLE heuristics (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        session TEXT,
        model TEXT NOT NULL,
        prompt TEXT NOT NULL,
        terms TEXT NOT NULL DEFAULT '',
        signature TEXT NOT NULL DEFAULT '',
        intent TEXT NOT NULL DEFAULT '',
        intent_confidence REAL NOT NULL DEFAULT 0,
        entities TEXT NOT NULL DEFAULT '[]',
        sentiment REAL NOT NULL DEFAULT 0,
        success INTEGER NOT NULL,
        error TEXT,
        cache TEXT,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        response_tokens INTEGER NOT NULL DEFAULT 0,
        total_ms REAL NOT NULL DEFAULT 0,
        load_ms REAL NOT NULL DEFAULT 0,
        prompt_eval_ms REAL NOT NULL DEFAULT 0,
        eval_ms REAL NOT NULL DEFAULT 0,
        tokens_per_second REAL,
        context_hashes TEXT NOT NULL DEFAULT '[]',
        rating INTEGER,
        correction TEXT,
        rated_at INTEGER
     );
     CREATE INDEX heuristics_by_time ON heuristics(created_at, id);
     CREATE VIRTUAL TABLE heuristics_fts USING fts5(terms, content='heuristics', content_rowid='rowid');
     CREATE TRIGGER heuristics_ai AFTER INSERT ON heuristics BEGIN
        INSERT INTO heuristics_fts(rowid, terms) VALUES (new.rowid, new.terms);
     END;
     CREATE TRIGGER heuristics_ad AFTER DELETE ON heuristics BEGIN
        INSERT INTO heuristics_fts(heuristics_fts, rowid, terms) VALUES ('delete', old.rowid, old.terms);
     END;
     CREATE TRIGGER heuristics_au AFTER UPDATE OF terms ON heuristics BEGIN
        INSERT INTO heuristics_fts(heuristics_fts, rowid, terms) VALUES ('delete', old.rowid, old.terms);
        INSERT INTO heuristics_fts(rowid, terms) VALUES (new.rowid, new.terms);
     END;
     INSERT INTO heuristics (id, created_at, session, model, prompt, signature, intent, intent_confidence,
        sentiment, success, error, prompt_tokens, response_tokens, total_ms, load_ms, prompt_eval_ms, eval_ms,
        tokens_per_second)
     SELECT printf('%05x%011x', t.id, CAST((julianday(t.created_at) - 2440587.5) * 86400000 AS INTEGER)),
        CAST((julianday(t.created_at) - 2440587.5) * 86400000 AS INTEGER),
        (SELECT s.name FROM sessions s WHERE s.id = t.session_id), t.model, t.prompt,
        coalesce(t.signature, ''), coalesce(t.intent, ''), coalesce(t.intent_confidence, 0), coalesce(t.sentiment, 0),
        t.error IS NULL, t.error, t.prompt_eval_count, t.eval_count, t.total_duration / 1e6, t.load_duration / 1e6,
        t.prompt_eval_duration / 1e6, t.eval_duration / 1e6,
        CASE WHEN t.eval_duration > 0 THEN t.eval_count * 1e9 / t.eval_duration END
     FROM turns t;
     DROP TABLE turns;
     CREATE TABLE prompt_cache (
        id TEXT PRIMARY KEY,
        scope TEXT NOT NULL,
        signature TEXT NOT NULL,
        prompt TEXT NOT NULL,
        terms TEXT NOT NULL,
        answer TEXT NOT NULL,
        model TEXT NOT NULL,
        embed_model TEXT,
        embedding BLOB,
        negated INTEGER NOT NULL,
        numbers TEXT NOT NULL,
        entities TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_hit_at INTEGER,
        hit_count INTEGER NOT NULL DEFAULT 0,
        expires_at INTEGER NOT NULL
     );
     CREATE INDEX prompt_cache_by_signature ON prompt_cache(scope, signature);
     CREATE VIRTUAL TABLE prompt_cache_fts USING fts5(terms, content='prompt_cache', content_rowid='rowid');
     CREATE TRIGGER prompt_cache_ai AFTER INSERT ON prompt_cache BEGIN
        INSERT INTO prompt_cache_fts(rowid, terms) VALUES (new.rowid, new.terms);
     END;
     CREATE TRIGGER prompt_cache_ad AFTER DELETE ON prompt_cache BEGIN
        INSERT INTO prompt_cache_fts(prompt_cache_fts, rowid, terms) VALUES ('delete', old.rowid, old.terms);
     END;
     CREATE TRIGGER prompt_cache_au AFTER UPDATE OF terms ON prompt_cache BEGIN
        INSERT INTO prompt_cache_fts(prompt_cache_fts, rowid, terms) VALUES ('delete', old.rowid, old.terms);
        INSERT INTO prompt_cache_fts(rowid, terms) VALUES (new.rowid, new.terms);
     END;
     CREATE TABLE pending_heuristics (
        id TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        queued_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
     );",
    // 4: files uploaded into the sandbox workspace.
    "CREATE TABLE workspace_files (
        name TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        uploaded_at INTEGER NOT NULL,
        expires_at INTEGER
     );
     CREATE INDEX workspace_files_by_expiry ON workspace_files(expires_at);",
    // 5: the embedded frame cache (Arrow IPC bytes in chunks).
    "CREATE TABLE frames (
        key TEXT PRIMARY KEY,
        meta TEXT NOT NULL,
        expires_at INTEGER NOT NULL
     );
     CREATE TABLE frame_chunks (
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (key, seq)
     );",
    // 6: tool calls and tool results in saved sessions (the assistant's
    // calls as JSON, the name of the tool a result belongs to).
    "ALTER TABLE messages ADD COLUMN tool_calls TEXT;
     ALTER TABLE messages ADD COLUMN tool_name TEXT;",
    // 7: dev-mode transcripts: tasks, their iterations, and each version of
    // each file an iteration wrote (iteration 0: before the task).
    "CREATE TABLE dev_tasks (
        id INTEGER PRIMARY KEY,
        created_at INTEGER NOT NULL,
        project TEXT NOT NULL,
        language TEXT NOT NULL,
        model TEXT NOT NULL,
        task TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        iterations INTEGER NOT NULL DEFAULT 0,
        passed_at INTEGER,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        elapsed_ms REAL NOT NULL DEFAULT 0,
        finished_at INTEGER
     );
     CREATE TABLE dev_iterations (
        task_id INTEGER NOT NULL REFERENCES dev_tasks(id) ON DELETE CASCADE,
        n INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        response TEXT NOT NULL,
        passed INTEGER NOT NULL,
        format_error TEXT,
        checks TEXT NOT NULL,
        feedback TEXT,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        elapsed_ms REAL NOT NULL,
        record_id TEXT,
        PRIMARY KEY (task_id, n)
     );
     CREATE TABLE dev_files (
        task_id INTEGER NOT NULL REFERENCES dev_tasks(id) ON DELETE CASCADE,
        iteration INTEGER NOT NULL,
        path TEXT NOT NULL,
        content TEXT NOT NULL,
        PRIMARY KEY (task_id, iteration, path)
     );",
    // 8: how each prompt's model was chosen (JSON), and an index for the
    // router's per-intent, per-model outcome counts.
    "ALTER TABLE heuristics ADD COLUMN route TEXT;
     CREATE INDEX heuristics_by_intent ON heuristics(intent, model);",
    // 9: RAG collections, their files and chunks (text, place, vector),
    // BM25 over the chunks (FTS5, rowid = chunk id), and the embedding
    // cache keyed by model and text hash.
    "CREATE TABLE rag_collections (
        name TEXT PRIMARY KEY,
        embed_model TEXT NOT NULL,
        dims INTEGER NOT NULL,
        version INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
     );
     CREATE TABLE rag_files (
        collection TEXT NOT NULL,
        path TEXT NOT NULL,
        hash TEXT NOT NULL,
        kind TEXT NOT NULL,
        chunks INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        ingested_at INTEGER NOT NULL,
        PRIMARY KEY (collection, path)
     );
     CREATE TABLE rag_chunks (
        id INTEGER PRIMARY KEY,
        collection TEXT NOT NULL,
        path TEXT NOT NULL,
        seq INTEGER NOT NULL,
        line_start INTEGER NOT NULL,
        line_end INTEGER NOT NULL,
        headings TEXT NOT NULL,
        text TEXT NOT NULL,
        hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        UNIQUE (collection, path, seq)
     );
     CREATE VIRTUAL TABLE rag_fts USING fts5(body, tokenize = 'porter unicode61 remove_diacritics 2');
     CREATE TABLE rag_embed_cache (
        model TEXT NOT NULL,
        hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model, hash)
     );",
];

/// The embedded store. Clones share one connection, so a process opens
/// its store once: a chat turn's session, its heuristics record, its cache
/// lookup and the upload clean-up all go through the same one.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub name: String,
    pub model: String,
    pub system: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub name: String,
    pub model: String,
    pub messages: i64,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub role: String,
    pub content: String,
    /// An assistant message's tool calls, as Ollama's JSON array.
    pub tool_calls: Option<String>,
    /// A tool message's tool.
    pub tool_name: Option<String>,
    pub created_at: String,
}

/// A message to save.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMessage {
    pub role: String,
    pub content: String,
    pub tool_calls: Option<String>,
    pub tool_name: Option<String>,
}

impl NewMessage {
    pub fn text(role: &str, content: &str) -> Self {
        NewMessage { role: role.into(), content: content.into(), ..Default::default() }
    }
}

fn insert_message(tx: &rusqlite::Transaction, session_id: i64, m: &NewMessage) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO messages (session_id, role, content, tool_calls, tool_name) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![session_id, m.role, m.content, m.tool_calls, m.tool_name],
    )
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        set_wal(&conn).map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        let mut store = Store { conn: Arc::new(Mutex::new(conn)), path: path.to_path_buf() };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for one statement or transaction at a time; a store
    /// method never calls another while it holds it.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic elsewhere while it was held left SQLite consistent (each
        // statement is atomic), so the lock is still good to use.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    pub fn schema_version(&self) -> Result<i64> {
        self.conn().pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| self.err(e))
    }

    fn migrate(&mut self) -> Result<()> {
        let known = MIGRATIONS.len() as i64;
        // Cheap check first, so an up-to-date store takes no write lock.
        let current = self.schema_version()?;
        if current == known {
            return Ok(());
        }
        if current > known {
            return Err(StoreError::TooNew { path: self.path.clone(), found: current, known });
        }
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        // Another process may have migrated while we waited for the lock.
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(err)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", i as i64 + 1).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    pub fn session(&self, name: &str) -> Result<Option<Session>> {
        self.conn()
            .query_row(
                "SELECT id, name, model, system, created_at, updated_at FROM sessions WHERE name = ?1",
                [name],
                |r| {
                    Ok(Session {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        model: r.get(2)?,
                        system: r.get(3)?,
                        created_at: r.get(4)?,
                        updated_at: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Returns the named session, creating it with this model and system
    /// prompt when it does not exist yet.
    pub fn open_session(&self, name: &str, model: &str, system: Option<&str>) -> Result<Session> {
        self.conn()
            .execute(
                "INSERT INTO sessions (name, model, system) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO NOTHING",
                params![name, model, system],
            )
            .map_err(|e| self.err(e))?;
        self.session(name)?.ok_or_else(|| StoreError::NoSuchSession(name.to_string()))
    }

    pub fn update_session_settings(&self, id: i64, model: &str, system: Option<&str>) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE sessions SET model = ?2, system = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1",
                params![id, model, system],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn list_sessions(&self) -> Result<Vec<SessionSummary>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT s.name, s.model, (SELECT count(*) FROM messages m WHERE m.session_id = s.id), s.updated_at
                 FROM sessions s ORDER BY s.updated_at DESC, s.name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SessionSummary { name: r.get(0)?, model: r.get(1)?, messages: r.get(2)?, updated_at: r.get(3)? })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn messages(&self, session_id: i64) -> Result<Vec<StoredMessage>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT role, content, tool_calls, tool_name, created_at FROM messages WHERE session_id = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([session_id], |r| {
                Ok(StoredMessage {
                    role: r.get(0)?,
                    content: r.get(1)?,
                    tool_calls: r.get(2)?,
                    tool_name: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Appends messages in one transaction: a turn is saved whole or not at all.
    pub fn append_messages(&mut self, session_id: i64, messages: &[NewMessage]) -> Result<()> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        for m in messages {
            insert_message(&tx, session_id, m).map_err(err)?;
        }
        tx.execute("UPDATE sessions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1", [session_id])
            .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// Saves a whole conversation under `name`, replacing what was there.
    pub fn save_session(
        &mut self,
        name: &str,
        model: &str,
        system: Option<&str>,
        messages: &[NewMessage],
    ) -> Result<()> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        tx.execute(
            "INSERT INTO sessions (name, model, system) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET model = excluded.model, system = excluded.system,
                updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
            params![name, model, system],
        )
        .map_err(err)?;
        let id: i64 = tx.query_row("SELECT id FROM sessions WHERE name = ?1", [name], |r| r.get(0)).map_err(err)?;
        tx.execute("DELETE FROM messages WHERE session_id = ?1", [id]).map_err(err)?;
        for m in messages {
            insert_message(&tx, id, m).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    pub fn delete_session(&self, name: &str) -> Result<()> {
        let n = self.conn().execute("DELETE FROM sessions WHERE name = ?1", [name]).map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::NoSuchSession(name.to_string()));
        }
        Ok(())
    }
}

/// Switches the file to WAL. Changing the journal mode needs an exclusive
/// lock and SQLite answers BUSY at once, without the busy handler, when
/// another process is opening the same new file; so retry for a while.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut waited = Duration::ZERO;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && waited < Duration::from_secs(10) =>
            {
                std::thread::sleep(Duration::from_millis(20));
                waited += Duration::from_millis(20);
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vuhitra-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("nested").join("vuhitra.db")
    }

    #[test]
    fn open_creates_dirs_migrates_and_uses_wal() {
        let path = temp_db("open");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let mode: String = store.conn().pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        // Reopening is a no-op migration.
        assert_eq!(Store::open(&path).unwrap().schema_version().unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_version_1_store_is_migrated_keeping_its_rows() {
        let path = temp_db("v1");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute("INSERT INTO sessions (name, model) VALUES ('work', 'm')", []).unwrap();
        conn.execute(
            "INSERT INTO turns (session_id, model, prompt, response, total_duration, eval_count, eval_duration)
             VALUES (1, 'm', 'old prompt', 'r', 1500000000, 20, 2000000000)",
            [],
        )
        .unwrap();
        conn.execute("INSERT INTO turns (model, prompt, response, error) VALUES ('m', 'failed', '', 'boom')", [])
            .unwrap();
        drop(conn);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        // Version 3 turned turns into heuristics records.
        type Row = (String, Option<String>, bool, f64, Option<f64>, i64);
        let rows: Vec<Row> = store
            .conn()
            .prepare("SELECT prompt, session, success, total_ms, tokens_per_second, length(id) FROM heuristics ORDER BY prompt")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, "failed");
        assert!(!rows[0].2);
        assert_eq!(rows[1], ("old prompt".into(), Some("work".into()), true, 1500.0, Some(10.0), 16));
    }

    #[test]
    fn newer_schema_is_refused_not_clobbered() {
        let path = temp_db("newer");
        let store = Store::open(&path).unwrap();
        store.conn().pragma_update(None, "user_version", 99).unwrap();
        drop(store);
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew { found: 99, .. })));
    }

    #[test]
    fn sessions_round_trip() {
        let mut store = Store::open(&temp_db("sessions")).unwrap();
        let s = store.open_session("work", "gemma3", Some("be brief")).unwrap();
        store.append_messages(s.id, &[NewMessage::text("user", "hi"), NewMessage::text("assistant", "hello")]).unwrap();
        let again = store.open_session("work", "other-model", None).unwrap();
        assert_eq!(again.id, s.id);
        assert_eq!(again.model, "gemma3", "opening an existing session keeps its settings");
        let msgs = store.messages(s.id).unwrap();
        assert_eq!(
            msgs.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect::<Vec<_>>(),
            [("user", "hi"), ("assistant", "hello")]
        );
        let list = store.list_sessions().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].messages, 2);
        store.delete_session("work").unwrap();
        assert!(store.session("work").unwrap().is_none());
        assert!(matches!(store.delete_session("work"), Err(StoreError::NoSuchSession(_))));
    }

    #[test]
    fn save_replaces_a_conversation() {
        let mut store = Store::open(&temp_db("save")).unwrap();
        store
            .save_session("s", "m1", None, &[NewMessage::text("user", "a"), NewMessage::text("assistant", "b")])
            .unwrap();
        store.save_session("s", "m2", Some("sys"), &[NewMessage::text("user", "c")]).unwrap();
        let s = store.session("s").unwrap().unwrap();
        assert_eq!((s.model.as_str(), s.system.as_deref()), ("m2", Some("sys")));
        assert_eq!(store.messages(s.id).unwrap().len(), 1);
    }

    #[test]
    fn concurrent_writers_on_separate_connections_all_land() {
        let path = temp_db("concurrent");
        Store::open(&path).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut store = Store::open(&path).unwrap();
                    let s = store.open_session("shared", "m", None).unwrap();
                    for i in 0..25 {
                        store.append_messages(s.id, &[NewMessage::text("user", &format!("{w}-{i}"))]).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let s = store.session("shared").unwrap().unwrap();
        assert_eq!(store.messages(s.id).unwrap().len(), 100);
    }

    #[test]
    fn opening_while_others_write_never_reports_locked() {
        let path = temp_db("open-while-writing");
        Store::open(&path).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let (path, stop) = (path.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut store = Store::open(&path).unwrap();
                    let s = store.open_session(&format!("w{w}"), "m", None).unwrap();
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        store
                            .append_messages(s.id, &[NewMessage::text("user", "x"), NewMessage::text("assistant", "y")])
                            .unwrap();
                    }
                })
            })
            .collect();
        for _ in 0..200 {
            let store = Store::open(&path).unwrap();
            store.open_session("reader", "m", None).unwrap();
            store.list_sessions().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for w in writers {
            w.join().unwrap();
        }
    }

    #[test]
    fn concurrent_first_open_migrates_once() {
        let path = temp_db("race");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || Store::open(&path).map(|s| s.schema_version().unwrap()))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), MIGRATIONS.len() as i64);
        }
    }
}
