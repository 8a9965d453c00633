//! Turns document files into structured [`Block`]s and packs those into
//! [`Chunk`]s for retrieval-augmented generation.
//!
//! Loading and chunking are separate steps on purpose: a loader only knows a
//! format's structure (headings, paragraphs, code, table rows, PDF pages) and
//! keeps each block's line range in the source, while [`chunk`] only knows a
//! token budget. The caller picks the token counter, so the same blocks can
//! be packed for any embedding model.
//!
//! Ollama exposes no tokenizer, so [`estimate_tokens`] approximates the
//! BERT-style WordPiece tokenizers that the common embedding models use
//! (all-MiniLM, nomic-embed, ...):
//!
//! - each punctuation or symbol character is one token (WordPiece splits
//!   them off);
//! - each CJK ideograph, kana or hangul syllable is one token;
//! - a word (a run of letters and digits) of up to 6 characters is one
//!   token, and costs one more token for every further 4 characters started,
//!   since the vocabulary holds most short words whole and cuts long or rare
//!   ones into `##` pieces of about that size;
//! - a word in a non-Latin script costs one token per 2 characters, because
//!   English vocabularies hold few pieces of those scripts.
//!
//! The rule errs on the high side: a chunk that is estimated a little too
//! large costs some packing density, one that is underestimated gets
//! truncated by the embedding model.

use std::path::Path;

mod chunk;
mod code;
mod html;
mod markdown;
mod pdf;
mod table;
mod text;

pub use chunk::{chunk, estimate_tokens, Chunk, ChunkSpec};

/// What kind of document a file is, chosen by its extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocKind {
    Text,
    Markdown,
    Code { language: String },
    Html,
    Csv,
    Pdf,
}

impl DocKind {
    pub fn as_str(&self) -> &str {
        match self {
            DocKind::Text => "text",
            DocKind::Markdown => "markdown",
            DocKind::Code { .. } => "code",
            DocKind::Html => "html",
            DocKind::Csv => "csv",
            DocKind::Pdf => "pdf",
        }
    }
}

/// The kind of the file at `path`, from its extension (case-insensitive).
/// None when the extension is not one we load (the caller reports
/// "unsupported"); files without an extension are not guessed at.
pub fn kind_for(path: &Path) -> Option<DocKind> {
    let Some(ext) = path.extension() else {
        // The usual files without an extension are text.
        let name = path.file_name()?.to_str()?.to_ascii_uppercase();
        let text = ["README", "LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS", "CHANGELOG", "CONTRIBUTING"];
        return match name.as_str() {
            n if text.contains(&n) => Some(DocKind::Text),
            "MAKEFILE" | "GNUMAKEFILE" => Some(DocKind::Code { language: "make".into() }),
            "DOCKERFILE" | "CONTAINERFILE" => Some(DocKind::Code { language: "dockerfile".into() }),
            _ => None,
        };
    };
    let ext = ext.to_str()?.to_ascii_lowercase();
    let kind = match ext.as_str() {
        "txt" | "text" | "rst" | "log" => DocKind::Text,
        "md" | "markdown" | "mdx" => DocKind::Markdown,
        "html" | "htm" | "xhtml" => DocKind::Html,
        "csv" | "tsv" => DocKind::Csv,
        "pdf" => DocKind::Pdf,
        other => DocKind::Code { language: code_language(other)?.to_string() },
    };
    Some(kind)
}

fn code_language(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "rs" => "rust",
        "py" => "python",
        "js" => "javascript",
        "jsx" => "jsx",
        "ts" => "typescript",
        "tsx" => "tsx",
        "go" => "go",
        "java" => "java",
        "c" | "h" => "c",
        "cpp" | "hpp" | "cc" => "cpp",
        "cs" => "csharp",
        "rb" => "ruby",
        "php" => "php",
        "sh" => "sh",
        "bash" => "bash",
        "zsh" => "zsh",
        "sql" => "sql",
        "scala" => "scala",
        "kt" => "kotlin",
        "swift" => "swift",
        "lua" => "lua",
        "r" => "r",
        "toml" => "toml",
        "yaml" | "yml" => "yaml",
        "json" => "json",
        "ini" | "cfg" => "ini",
        _ => return None,
    })
}

/// A structural piece of a document: a paragraph, a code block, a list, a table row...
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub text: String,
    /// 1-based inclusive line range in the SOURCE file (for PDF: lines of the extracted text layer).
    pub lines: (u32, u32),
    /// The heading path this block sits under, outermost first (e.g. ["Tutorial", "Lists"]). For PDF include "page N" as the last element.
    pub headings: Vec<String>,
    /// Code (fenced Markdown block, <pre>, source file): never re-flowed, split only between lines.
    pub code: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("binary file (not text)")]
    Binary,
    #[error("not valid UTF-8 text (at byte {0})")]
    NotUtf8(usize),
    #[error("the PDF is encrypted")]
    EncryptedPdf,
    #[error("the PDF has no text layer (scanned or image-only?)")]
    NoText,
    #[error("unreadable PDF: {0}")]
    Pdf(String),
    #[error("unreadable CSV: {0}")]
    Csv(String),
}

/// How far into a file we look for a NUL byte: text formats never contain
/// one, and binary formats almost always have one near the start.
const BINARY_SNIFF_LEN: usize = 8 * 1024;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses the bytes of a file of `kind` into blocks in document order.
///
/// Binary detection: a NUL byte in the first 8 KiB gives
/// [`LoadError::Binary`], invalid UTF-8 gives [`LoadError::NotUtf8`] with
/// the byte offset in the file (neither applies to PDF). A UTF-8 BOM is
/// dropped. Empty input gives `Ok(vec![])`.
pub fn load(kind: &DocKind, bytes: &[u8]) -> Result<Vec<Block>, LoadError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    if *kind == DocKind::Pdf {
        return pdf::load(bytes);
    }
    let sniff = &bytes[..bytes.len().min(BINARY_SNIFF_LEN)];
    if sniff.contains(&0) {
        return Err(LoadError::Binary);
    }
    let (skipped, body) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (UTF8_BOM.len(), rest),
        None => (0, bytes),
    };
    let text = std::str::from_utf8(body).map_err(|e| LoadError::NotUtf8(skipped + e.valid_up_to()))?;
    Ok(match kind {
        DocKind::Text => text::load(text),
        DocKind::Markdown => markdown::load(text),
        DocKind::Code { language } => code::load(text, language),
        DocKind::Html => html::load(text),
        DocKind::Csv => table::load(text)?,
        DocKind::Pdf => unreachable!("handled above"),
    })
}

/// Source lines numbered from 1, without their line terminators.
fn numbered_lines(text: &str) -> impl Iterator<Item = (u32, &str)> {
    text.lines().enumerate().map(|(i, line)| (u32::try_from(i + 1).unwrap_or(u32::MAX), line))
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Collects consecutive source lines into one block; the loaders of
/// line-oriented formats share it so their line ranges are built one way.
#[derive(Default)]
struct Pending {
    text: String,
    first: u32,
    last: u32,
}

impl Pending {
    fn push(&mut self, line_no: u32, line: &str) {
        if self.text.is_empty() {
            self.first = line_no;
        } else {
            self.text.push('\n');
        }
        self.text.push_str(line);
        self.last = line_no;
    }

    fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn flush(&mut self, headings: &[String], code: bool, out: &mut Vec<Block>) {
        if self.text.trim().is_empty() {
            self.text.clear();
            return;
        }
        let text = std::mem::take(&mut self.text);
        out.push(Block {
            text: text.trim_end().to_string(),
            lines: (self.first, self.last),
            headings: headings.to_vec(),
            code,
        });
    }
}

/// A heading path in which each entry remembers its level, so that a new
/// heading replaces the entries at its own level and deeper.
#[derive(Default)]
struct HeadingPath {
    entries: Vec<(usize, String)>,
}

impl HeadingPath {
    fn set(&mut self, level: usize, title: String) {
        self.entries.retain(|(l, _)| *l < level);
        self.entries.push((level, title));
    }

    fn names(&self) -> Vec<String> {
        self.entries.iter().map(|(_, t)| t.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_for_maps_extensions_case_insensitively() {
        assert_eq!(kind_for(Path::new("a/README.MD")), Some(DocKind::Markdown));
        assert_eq!(kind_for(Path::new("notes.rst")), Some(DocKind::Text));
        assert_eq!(kind_for(Path::new("page.xhtml")), Some(DocKind::Html));
        assert_eq!(kind_for(Path::new("t.tsv")), Some(DocKind::Csv));
        assert_eq!(kind_for(Path::new("paper.pdf")), Some(DocKind::Pdf));
        assert_eq!(kind_for(Path::new("src/main.rs")), Some(DocKind::Code { language: "rust".into() }));
        assert_eq!(kind_for(Path::new("x.hpp")), Some(DocKind::Code { language: "cpp".into() }));
        assert_eq!(kind_for(Path::new("Makefile")), Some(DocKind::Code { language: "make".into() }));
        assert_eq!(kind_for(Path::new("pkg/README")), Some(DocKind::Text), "known names without an extension");
        assert_eq!(kind_for(Path::new("LICENSE")), Some(DocKind::Text));
        assert_eq!(kind_for(Path::new("bin/tool")), None, "any other name without an extension is left out");
        assert_eq!(kind_for(Path::new("image.png")), None);
    }

    #[test]
    fn as_str_names_each_kind() {
        let kinds = [
            DocKind::Text,
            DocKind::Markdown,
            DocKind::Code { language: "go".into() },
            DocKind::Html,
            DocKind::Csv,
            DocKind::Pdf,
        ];
        let names: Vec<&str> = kinds.iter().map(DocKind::as_str).collect();
        assert_eq!(names, ["text", "markdown", "code", "html", "csv", "pdf"]);
    }

    #[test]
    fn nul_byte_means_binary() {
        let err = load(&DocKind::Text, b"abc\0def").unwrap_err();
        assert!(matches!(err, LoadError::Binary), "{err:?}");
    }

    #[test]
    fn nul_byte_after_sniff_window_is_not_binary_but_still_loads() {
        let mut bytes = vec![b'a'; BINARY_SNIFF_LEN + 10];
        bytes[BINARY_SNIFF_LEN + 5] = 0;
        let blocks = load(&DocKind::Text, &bytes).unwrap();
        assert_eq!(blocks.len(), 1);
    }

    #[test]
    fn invalid_utf8_reports_offset_in_file_including_bom() {
        let err = load(&DocKind::Text, b"\xEF\xBB\xBFab\xFFcd").unwrap_err();
        match err {
            LoadError::NotUtf8(at) => assert_eq!(at, 5),
            other => panic!("expected NotUtf8, got {other:?}"),
        }
        let err = load(&DocKind::Markdown, b"ok\xC3(").unwrap_err();
        assert!(matches!(err, LoadError::NotUtf8(2)), "{err:?}");
    }

    #[test]
    fn bom_is_dropped_and_empty_input_gives_no_blocks() {
        let blocks = load(&DocKind::Text, b"\xEF\xBB\xBFhello").unwrap();
        assert_eq!(blocks[0].text, "hello");
        for kind in [DocKind::Text, DocKind::Markdown, DocKind::Html, DocKind::Csv, DocKind::Pdf] {
            assert_eq!(load(&kind, b"").unwrap(), vec![], "{kind:?}");
        }
    }
}
