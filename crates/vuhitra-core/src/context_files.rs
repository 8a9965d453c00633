//! Context files: text a user attaches to a prompt (`-f`, `@file:`, `/file`,
//! piped stdin). The size limit is checked before anything is read, and
//! again on the bytes actually read (metadata can lie: pipes, /proc, files
//! that grow); binary content is refused rather than fed to a model.

use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// What the model is told the content is (a path, or "stdin").
    pub label: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextFileError {
    #[error("context file {path}: not found")]
    NotFound { path: PathBuf },
    #[error("context file {path}: is a directory, not a file")]
    IsDirectory { path: PathBuf },
    #[error("context file {label}: {size} bytes is over MAX_CONTEXT_FILE_SIZE ({limit} bytes)")]
    TooLarge { label: String, size: u64, limit: u64 },
    #[error("context file {label}: looks binary ({why}); only text can be given to a model")]
    Binary { label: String, why: &'static str },
    #[error("context file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl ContextFileError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ContextFileError::TooLarge { .. } => {
                Some("attach a smaller excerpt, or raise MAX_CONTEXT_FILE_SIZE (it is in bytes)".into())
            }
            ContextFileError::Binary { .. } => {
                Some("for data files use `vuhitra analyze`; for text, convert it to UTF-8".into())
            }
            _ => None,
        }
    }
}

pub fn read_context_file(path: &Path, limit: u64) -> Result<ContextFile, ContextFileError> {
    let io = |source: std::io::Error| ContextFileError::Io { path: path.to_path_buf(), source };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ContextFileError::NotFound { path: path.to_path_buf() })
        }
        Err(e) => return Err(io(e)),
    };
    let label = path.display().to_string();
    if meta.is_dir() {
        return Err(ContextFileError::IsDirectory { path: path.to_path_buf() });
    }
    if meta.is_file() && meta.len() > limit {
        return Err(ContextFileError::TooLarge { label, size: meta.len(), limit });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let bytes = read_capped(file, limit, &label).map_err(|e| match e {
        CapError::Io(e) => io(e),
        CapError::Context(e) => e,
    })?;
    Ok(ContextFile { text: decode_text(bytes, &label)?, label })
}

/// Reads piped stdin (or any reader) as context under the same rules.
pub fn read_context_stream(reader: impl Read, label: &str, limit: u64) -> Result<ContextFile, ContextFileError> {
    let bytes = read_capped(reader, limit, label).map_err(|e| match e {
        CapError::Io(source) => ContextFileError::Io { path: PathBuf::from(label), source },
        CapError::Context(e) => e,
    })?;
    Ok(ContextFile { text: decode_text(bytes, label)?, label: label.to_string() })
}

enum CapError {
    Io(std::io::Error),
    Context(ContextFileError),
}

fn read_capped(reader: impl Read, limit: u64, label: &str) -> Result<Vec<u8>, CapError> {
    let mut bytes = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(CapError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(CapError::Context(ContextFileError::TooLarge {
            label: label.to_string(),
            size: bytes.len() as u64,
            limit,
        }));
    }
    Ok(bytes)
}

fn decode_text(bytes: Vec<u8>, label: &str) -> Result<String, ContextFileError> {
    let binary = |why| ContextFileError::Binary { label: label.to_string(), why };
    if bytes.contains(&0) {
        return Err(binary("it contains NUL bytes"));
    }
    let text = String::from_utf8(bytes).map_err(|_| binary("it is not valid UTF-8"))?;
    Ok(text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text))
}

/// Lays context files out ahead of the question, each fenced and labelled so
/// the model can tell them apart and cite them.
pub fn compose_prompt(files: &[ContextFile], question: &str) -> String {
    if files.is_empty() {
        return question.to_string();
    }
    let mut out = String::new();
    for f in files {
        let fence = if f.text.contains("```") { "~~~~" } else { "```" };
        out.push_str(&format!("Context from {}:\n{fence}\n{}\n{fence}\n\n", f.label, f.text.trim_end_matches('\n')));
    }
    out.push_str(question);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vuhitra-ctx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_text_files() {
        let p = temp("ok.md", b"# notes\nhello");
        let f = read_context_file(&p, 100).unwrap();
        assert_eq!(f.text, "# notes\nhello");
    }

    #[test]
    fn size_limit_is_checked_before_reading() {
        let p = temp("big.txt", &[b'a'; 101]);
        match read_context_file(&p, 100) {
            Err(ContextFileError::TooLarge { size: 101, limit: 100, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(read_context_file(&p, 101).is_ok(), "a file exactly at the limit is allowed");
    }

    #[test]
    fn size_limit_holds_on_streams_without_metadata() {
        let data = vec![b'x'; 5000];
        match read_context_stream(&data[..], "stdin", 4096) {
            Err(ContextFileError::TooLarge { label, limit: 4096, .. }) => assert_eq!(label, "stdin"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn binary_files_are_refused() {
        let p = temp("img.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        assert!(matches!(
            read_context_file(&p, 1000),
            Err(ContextFileError::Binary { why: "it contains NUL bytes", .. })
        ));
        let p = temp("latin1.txt", b"caf\xe9");
        assert!(matches!(
            read_context_file(&p, 1000),
            Err(ContextFileError::Binary { why: "it is not valid UTF-8", .. })
        ));
    }

    #[test]
    fn missing_and_directory_paths_are_named() {
        let missing = std::env::temp_dir().join("vuhitra-no-such-file.txt");
        assert!(matches!(read_context_file(&missing, 10), Err(ContextFileError::NotFound { .. })));
        assert!(matches!(read_context_file(&std::env::temp_dir(), 10), Err(ContextFileError::IsDirectory { .. })));
    }

    #[test]
    fn bom_is_stripped() {
        let p = temp("bom.txt", "\u{feff}hi".as_bytes());
        assert_eq!(read_context_file(&p, 10).unwrap().text, "hi");
    }

    #[test]
    fn prompt_lays_out_each_file_then_the_question() {
        let files = vec![
            ContextFile { label: "a.txt".into(), text: "alpha\n".into() },
            ContextFile { label: "b.md".into(), text: "has ``` fence".into() },
        ];
        let p = compose_prompt(&files, "compare them");
        assert_eq!(
            p,
            "Context from a.txt:\n```\nalpha\n```\n\nContext from b.md:\n~~~~\nhas ``` fence\n~~~~\n\ncompare them"
        );
        assert_eq!(compose_prompt(&[], "q"), "q");
    }
}
