//! The register of files in the sandbox workspace: what was uploaded, its
//! checksum, detected type, and when it expires.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use crate::records::Result;
use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkspaceFile {
    /// The file's name inside the workspace.
    pub name: String,
    pub size: u64,
    pub sha256: String,
    /// Detected type: csv, tsv, json, ndjson, parquet, excel, text, binary.
    pub kind: String,
    /// Where it was uploaded from.
    pub source: String,
    pub uploaded_at: i64,
    pub expires_at: Option<i64>,
}

fn file_from_row(r: &Row) -> rusqlite::Result<WorkspaceFile> {
    Ok(WorkspaceFile {
        name: r.get(0)?,
        size: r.get::<_, i64>(1)? as u64,
        sha256: r.get(2)?,
        kind: r.get(3)?,
        source: r.get(4)?,
        uploaded_at: r.get(5)?,
        expires_at: r.get(6)?,
    })
}

const COLUMNS: &str = "name, size, sha256, kind, source, uploaded_at, expires_at";

impl Store {
    /// Registers a file (replacing the entry of an earlier upload of the same name).
    pub fn register_file(&self, f: &WorkspaceFile) -> Result<()> {
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO workspace_files ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(name) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256,
                        kind = excluded.kind, source = excluded.source, uploaded_at = excluded.uploaded_at,
                        expires_at = excluded.expires_at"
                ),
                params![f.name, f.size as i64, f.sha256, f.kind, f.source, f.uploaded_at, f.expires_at],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn workspace_files(&self) -> Result<Vec<WorkspaceFile>> {
        self.query_all(&format!("SELECT {COLUMNS} FROM workspace_files ORDER BY name"), [], file_from_row)
    }

    pub fn workspace_file(&self, name: &str) -> Result<Option<WorkspaceFile>> {
        self.conn()
            .query_row(&format!("SELECT {COLUMNS} FROM workspace_files WHERE name = ?1"), [name], file_from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Files whose expiry has passed.
    pub fn expired_files(&self, now: i64) -> Result<Vec<WorkspaceFile>> {
        self.query_all(
            &format!("SELECT {COLUMNS} FROM workspace_files WHERE expires_at IS NOT NULL AND expires_at <= ?1"),
            [now],
            file_from_row,
        )
    }

    pub fn unregister_file(&self, name: &str) -> Result<()> {
        let n = self.conn().execute("DELETE FROM workspace_files WHERE name = ?1", [name]).map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::NoSuchId { what: "workspace file", id: name.to_string() });
        }
        Ok(())
    }
}
