//! The workspace directory and uploads into it. An upload is streamed into
//! a temporary file, the size limit is enforced on the bytes actually read
//! (a file can grow after `stat`), the checksum and type are taken on the
//! way, and only a complete file is renamed into place and registered.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vuhitra_store::{Store, WorkspaceFile};

/// The unprivileged account sandboxed commands run as when Vuhitra runs as
/// root; the workspace belongs to it so they can write there.
pub const SANDBOX_UID: u32 = 65534;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{path}: not found")]
    NotFound { path: PathBuf },
    #[error("{path} is a symbolic link; upload the file it points to")]
    Symlink { path: PathBuf },
    #[error("{path} is not a regular file ({kind})")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path} is empty (0 bytes): nothing to upload")]
    Empty { path: PathBuf },
    #[error("{path} is larger than MAX_UPLOADED_FILE_SIZE ({limit} bytes); stopped after reading {read} bytes")]
    TooLarge { path: PathBuf, limit: u64, read: u64 },
    #[error("{name:?} is not a usable file name: {why}")]
    BadName { name: String, why: &'static str },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] vuhitra_store::StoreError),
}

impl UploadError {
    pub fn hint(&self) -> Option<String> {
        match self {
            UploadError::TooLarge { .. } => Some("raise MAX_UPLOADED_FILE_SIZE, or upload a smaller file".into()),
            UploadError::BadName { .. } => {
                Some("use letters, digits, '.', '-' and '_' (`--as NAME` names the upload)".into())
            }
            UploadError::Symlink { .. } => Some("links could point outside what you meant to share".into()),
            _ => None,
        }
    }

    /// Mistakes in what was asked (exit 2) rather than failures (exit 1).
    pub fn is_usage(&self) -> bool {
        !matches!(self, UploadError::Io { .. } | UploadError::Store(_))
    }
}

pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Opens (creating) the workspace. Run as root, it is handed to the
    /// sandbox account so sandboxed commands can write their results there.
    pub fn open(root: &Path) -> Result<Workspace, UploadError> {
        let io = |source| UploadError::Io { path: root.to_path_buf(), source };
        std::fs::create_dir_all(root).map_err(io)?;
        if is_root() {
            chown(root)?;
        }
        Ok(Workspace { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of a registered name (names never contain a separator).
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Copies `src` into the workspace as `name` (default: its file name),
    /// registers it, and returns the record. Nothing is left behind or
    /// registered when any check fails.
    pub fn upload(
        &self,
        store: &Store,
        src: &Path,
        name: Option<&str>,
        limit: u64,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<WorkspaceFile, UploadError> {
        let meta = std::fs::symlink_metadata(src).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => UploadError::NotFound { path: src.to_path_buf() },
            _ => UploadError::Io { path: src.to_path_buf(), source: e },
        })?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            return Err(UploadError::Symlink { path: src.to_path_buf() });
        }
        if !ft.is_file() {
            use std::os::unix::fs::FileTypeExt;
            let kind = if ft.is_dir() {
                "a directory"
            } else if ft.is_char_device() || ft.is_block_device() {
                "a device"
            } else if ft.is_fifo() {
                "a pipe"
            } else if ft.is_socket() {
                "a socket"
            } else {
                "not a file"
            };
            return Err(UploadError::NotRegular { path: src.to_path_buf(), kind });
        }
        let name = match name {
            Some(n) => sanitize_name(n)?,
            None => sanitize_name(&src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())?,
        };
        let io = |source| UploadError::Io { path: src.to_path_buf(), source };
        // O_NOFOLLOW: the path cannot be swapped for a link between the check and the open.
        let mut input = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(src).map_err(io)?
        };
        let part = self.root.join(format!(".{name}.part-{}", std::process::id()));
        let result = copy_limited(&mut input, &part, limit).map_err(|e| match e {
            CopyError::Io(source) => UploadError::Io { path: src.to_path_buf(), source },
            CopyError::TooLarge(read) => UploadError::TooLarge { path: src.to_path_buf(), limit, read },
        });
        let (size, sha256, head) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        if size == 0 {
            let _ = std::fs::remove_file(&part);
            return Err(UploadError::Empty { path: src.to_path_buf() });
        }
        let dest = self.root.join(&name);
        let finish = || -> Result<WorkspaceFile, UploadError> {
            if is_root() {
                chown(&part)?;
            }
            std::fs::rename(&part, &dest).map_err(|source| UploadError::Io { path: dest.clone(), source })?;
            let record = WorkspaceFile {
                name: name.clone(),
                size,
                sha256,
                kind: detect_kind(&name, &head).to_string(),
                source: src.display().to_string(),
                uploaded_at: now,
                expires_at,
            };
            if let Err(e) = store.register_file(&record) {
                let _ = std::fs::remove_file(&dest);
                return Err(e.into());
            }
            Ok(record)
        };
        finish().inspect_err(|_| {
            let _ = std::fs::remove_file(&part);
        })
    }

    /// Deletes a registered file and its entry.
    pub fn remove(&self, store: &Store, name: &str) -> Result<(), UploadError> {
        let name = sanitize_name(name)?;
        store.unregister_file(&name)?;
        match std::fs::remove_file(self.root.join(&name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(UploadError::Io { path: self.root.join(&name), source }),
        }
    }

    /// Removes files whose expiry has passed; returns their names.
    pub fn remove_expired(&self, store: &Store, now: i64) -> Result<Vec<String>, UploadError> {
        let mut removed = Vec::new();
        for f in store.expired_files(now)? {
            self.remove(store, &f.name)?;
            removed.push(f.name);
        }
        Ok(removed)
    }
}

/// A name for a file in the workspace: one path component, no traversal,
/// not hidden, no control characters.
pub fn sanitize_name(name: &str) -> Result<String, UploadError> {
    let bad = |why| Err(UploadError::BadName { name: name.to_string(), why });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 255 {
        return bad("it is longer than 255 bytes");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("it contains a path separator");
    }
    if name == "." || name == ".." || name.starts_with('.') {
        return bad("it starts with a dot");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("it contains control characters");
    }
    Ok(name.to_string())
}

enum CopyError {
    Io(std::io::Error),
    TooLarge(u64),
}

/// Streams `input` into `dest`, stopping as soon as more than `limit` bytes
/// were read. Returns the size, SHA-256 and the first 8 KiB.
fn copy_limited(input: &mut File, dest: &Path, limit: u64) -> Result<(u64, String, Vec<u8>), CopyError> {
    let mut out = File::create(dest).map_err(CopyError::Io)?;
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(8192);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = input.read(&mut buf).map_err(CopyError::Io)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(CopyError::TooLarge(total));
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        if head.len() < 8192 {
            head.extend_from_slice(&chunk[..chunk.len().min(8192 - head.len())]);
        }
        out.write_all(chunk).map_err(CopyError::Io)?;
    }
    out.sync_all().map_err(CopyError::Io)?;
    let sha = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((total, sha, head))
}

/// The file's type from its first bytes, then its name.
pub fn detect_kind(name: &str, head: &[u8]) -> &'static str {
    let ext = Path::new(name).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    if head.starts_with(b"PAR1") {
        return "parquet";
    }
    if head.starts_with(b"PK\x03\x04") {
        return if matches!(ext.as_str(), "xlsx" | "xlsm" | "xlsb" | "ods") { "excel" } else { "zip" };
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return "excel";
    }
    if head.contains(&0) || std::str::from_utf8(trim_partial_utf8(head)).is_err() && !looks_latin1(head) {
        return "binary";
    }
    match ext.as_str() {
        "csv" => "csv",
        "tsv" | "tab" => "tsv",
        "json" => "json",
        "ndjson" | "jsonl" => "ndjson",
        _ => "text",
    }
}

/// The head may end inside a multi-byte character.
fn trim_partial_utf8(head: &[u8]) -> &[u8] {
    match std::str::from_utf8(head) {
        Ok(_) => head,
        Err(e) if e.error_len().is_none() => &head[..e.valid_up_to()],
        Err(_) => head,
    }
}

/// Legacy 8-bit text (Latin-1 CSV exports): printable bytes and whitespace.
fn looks_latin1(head: &[u8]) -> bool {
    head.iter().all(|&b| b >= 0x20 || matches!(b, b'\n' | b'\r' | b'\t'))
}

/// Whether Vuhitra runs as root (then sandboxed commands run as `nobody`).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn chown(path: &Path) -> Result<(), UploadError> {
    std::os::unix::fs::chown(path, Some(SANDBOX_UID), Some(SANDBOX_UID))
        .map_err(|source| UploadError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_safe_components() {
        for ok in ["data.csv", "Q3 report.xlsx", "a-b_c.parquet"] {
            assert_eq!(sanitize_name(ok).unwrap(), ok);
        }
        for bad in ["", "../etc/passwd", "/etc/passwd", "a/b.csv", "..", ".hidden", "a\nb", "a\\b"] {
            assert!(sanitize_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kinds_come_from_content_first() {
        assert_eq!(detect_kind("x.csv", b"PAR1\x00\x00"), "parquet");
        assert_eq!(detect_kind("x.xlsx", b"PK\x03\x04rest"), "excel");
        assert_eq!(detect_kind("x.csv", b"a,b\n1,2\n"), "csv");
        assert_eq!(detect_kind("x.csv", b"\x7fELF\x02\x01\x01\x00\x00"), "binary");
        assert_eq!(detect_kind("x.csv", b"caf\xe9,1\n"), "csv", "Latin-1 text is still text");
        assert_eq!(detect_kind("x.jsonl", b"{\"a\":1}\n"), "ndjson");
    }
}
