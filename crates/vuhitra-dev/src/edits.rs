//! What the model's answer asks to change, read from the ways models really
//! write files: a path line before a fenced block, or the path in the
//! fence's info string; a block holds the whole file, or search/replace
//! edits. Nothing is guessed: a block whose file is not named is left out
//! (and the model is told), and a malformed answer is a format error the
//! model gets back.
//!
//! ````text
//! solution.py
//! ```python
//! def add(a, b):
//!     return a + b
//! ```
//!
//! ```python solution.py
//! <<<<<<< SEARCH
//!     return a - b
//! =======
//!     return a + b
//! >>>>>>> REPLACE
//! ```
//! ````

use std::fmt;

/// One file the answer writes or edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    /// As the model wrote it; checked against the project by `Project::plan`.
    pub path: String,
    pub change: Change,
    /// The answer's line where the block opens (1-based), for messages.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The block is the file's new content.
    Whole(String),
    /// Each SEARCH text is replaced once, in order.
    Replace(Vec<Replacement>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub search: String,
    pub replace: String,
}

/// The files an answer changes, and the blocks it showed without naming a
/// file (left out; the model is told).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub edits: Vec<FileEdit>,
    pub unnamed: Vec<usize>,
}

/// Why an answer could not be read as file changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

/// Fences whose block is commentary (a command to type, an output), not a
/// file, when no file is named.
const COMMENTARY: &[&str] = &["", "bash", "sh", "shell", "console", "text", "output", "plaintext", "terminal"];

/// Reads the answer. Errors list every problem found, so one round of
/// feedback can mend them all.
pub fn parse(answer: &str) -> Result<Parsed, Vec<FormatError>> {
    let lines: Vec<&str> = answer.lines().collect();
    let mut parsed = Parsed::default();
    let mut errors = Vec::new();
    let mut i = 0;
    // The line after the previous block: a path line is looked for after it.
    let mut floor = 0;
    while i < lines.len() {
        let Some(fence) = Fence::open(lines[i]) else {
            i += 1;
            continue;
        };
        let opened = i;
        let mut body = Vec::new();
        let mut closed = false;
        i += 1;
        while i < lines.len() {
            if fence.closes(lines[i]) {
                closed = true;
                break;
            }
            body.push(lines[i]);
            i += 1;
        }
        let line = opened + 1;
        if !closed {
            errors
                .push(FormatError { line, message: "this ``` block is never closed (was the answer cut off?)".into() });
            break;
        }
        i += 1;
        let path = path_in_info(fence.info).or_else(|| path_line_before(&lines[floor..opened]));
        floor = i;
        let Some(path) = path else {
            if !COMMENTARY.contains(&fence.language().as_str()) || has_markers(&body) {
                parsed.unnamed.push(line);
            }
            continue;
        };
        match change_of(&body, line) {
            Ok(change) => parsed.edits.push(FileEdit { path, change, line }),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() && parsed.edits.is_empty() {
        errors.push(FormatError {
            line: 0,
            message: if parsed.unnamed.is_empty() {
                "the answer has no file: write each file as its path on one line, then the whole file in a ``` block"
                    .into()
            } else {
                "no block names its file: put the file's path on its own line right before the ``` block \
                 (or in the fence: ```python solution.py)"
                    .into()
            },
        });
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

struct Fence<'a> {
    marker: char,
    width: usize,
    info: &'a str,
}

impl<'a> Fence<'a> {
    fn open(line: &'a str) -> Option<Fence<'a>> {
        let t = line.trim_start();
        // More than three spaces of indent is an indented code line, not a fence.
        if line.len() - t.len() > 3 {
            return None;
        }
        let marker = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let width = t.chars().take_while(|c| *c == marker).count();
        if width < 3 {
            return None;
        }
        let info = t[width..].trim();
        // A backtick fence's info string cannot hold a backtick (CommonMark).
        if marker == '`' && info.contains('`') {
            return None;
        }
        Some(Fence { marker, width, info })
    }

    fn closes(&self, line: &str) -> bool {
        let t = line.trim();
        t.len() >= self.width && t.chars().all(|c| c == self.marker)
    }

    fn language(&self) -> String {
        self.info.split_whitespace().next().unwrap_or("").to_ascii_lowercase()
    }
}

/// A path in the info string: ```python solution.py, ```solution.py,
/// ```python:solution.py, ```python title="solution.py".
fn path_in_info(info: &str) -> Option<String> {
    for token in info.split_whitespace() {
        let value = token.split_once('=').map_or(token, |(_, v)| v);
        let value = value.trim_matches(|c| c == '"' || c == '\'' || c == '{' || c == '}');
        let value = value.rsplit_once(':').map_or(value, |(lang, p)| if is_word(lang) { p } else { value });
        if looks_like_path(value) {
            return Some(value.to_string());
        }
    }
    None
}

/// The last non-blank line before a fence, when it names a file and nothing
/// else: `solution.py`, **solution.py**, `### File: src/app.py`, `solution.py:`,
/// or a sentence that ends in a backticked path (Update `solution.py`:).
fn path_line_before(before: &[&str]) -> Option<String> {
    let line = before.iter().rev().find(|l| !l.trim().is_empty())?.trim();
    let mut s = line.trim_start_matches(['#', '-', '>', '*', ' ']).trim();
    for label in ["file:", "filename:", "file name:", "path:", "filepath:"] {
        if s.len() >= label.len() && s[..label.len()].eq_ignore_ascii_case(label) {
            s = s[label.len()..].trim();
        }
    }
    let bare = s.trim_end_matches(':').trim().trim_matches(|c| c == '*' || c == '`' || c == '"' || c == '_').trim();
    if looks_like_path(bare) {
        return Some(bare.to_string());
    }
    // A sentence ending in a backticked path.
    let ending = line.trim_end_matches(':').trim_end_matches('*').trim_end();
    let inner = ending.strip_suffix('`')?;
    let start = inner.rfind('`')?;
    let candidate = &inner[start + 1..];
    looks_like_path(candidate).then(|| candidate.to_string())
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '#' || c == '-')
}

/// A file path as models write them: no spaces, and a dot in its last part
/// or a slash (`Makefile` alone is a word like any other and is not taken).
/// Whether the path is allowed in the project is decided later.
fn looks_like_path(s: &str) -> bool {
    if s.is_empty() || s.len() > 255 || s.chars().any(|c| c.is_whitespace() || c == '`' || c == '*') {
        return false;
    }
    let last = s.rsplit('/').next().unwrap_or(s);
    let has_extension = last.rfind('.').is_some_and(|dot| dot > 0 && dot + 1 < last.len());
    (has_extension || s.contains('/')) && s.chars().any(|c| c.is_ascii_alphanumeric())
}

const SEARCH: &str = "<<<<<<<";
const DIVIDER: &str = "=======";
const REPLACE: &str = ">>>>>>>";

fn has_markers(body: &[&str]) -> bool {
    body.iter().any(|l| l.trim_start().starts_with(SEARCH))
}

fn change_of(body: &[&str], line: usize) -> Result<Change, FormatError> {
    if !has_markers(body) {
        let mut text = body.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        return Ok(Change::Whole(text));
    }
    let err = |offset: usize, message: &str| FormatError { line: line + 1 + offset, message: message.into() };
    let mut out = Vec::new();
    let mut k = 0;
    while k < body.len() {
        let l = body[k].trim();
        if l.is_empty() {
            k += 1;
            continue;
        }
        if !l.starts_with(SEARCH) {
            return Err(err(k, "text outside a <<<<<<< SEARCH / ======= / >>>>>>> REPLACE edit"));
        }
        let start = k;
        let divider = (k + 1..body.len()).find(|&j| body[j].trim() == DIVIDER);
        let Some(divider) = divider else {
            return Err(err(start, "this SEARCH has no ======= line"));
        };
        let end = (divider + 1..body.len()).find(|&j| body[j].trim_start().starts_with(REPLACE));
        let Some(end) = end else {
            return Err(err(start, "this SEARCH has no >>>>>>> REPLACE line"));
        };
        let search = join_lines(&body[start + 1..divider]);
        if search.trim().is_empty() && !out.is_empty() {
            return Err(err(start, "an empty SEARCH can only create a file, as the file's one edit"));
        }
        out.push(Replacement { search, replace: join_lines(&body[divider + 1..end]) });
        k = end + 1;
    }
    Ok(Change::Replace(out))
}

fn join_lines(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Applies search/replace edits to `text`. A SEARCH must match exactly
/// once; a match that differs only in trailing spaces is accepted.
pub fn apply_replacements(path: &str, text: &str, edits: &[Replacement]) -> Result<String, String> {
    let mut current = text.to_string();
    for (n, e) in edits.iter().enumerate() {
        if e.search.trim().is_empty() {
            if !current.trim().is_empty() {
                return Err(format!("{path}: edit {} has an empty SEARCH, but the file is not empty", n + 1));
            }
            current = e.replace.clone();
            continue;
        }
        let found: Vec<usize> = current.match_indices(&e.search).map(|(i, _)| i).collect();
        match found.len() {
            1 => current.replace_range(found[0]..found[0] + e.search.len(), &e.replace),
            0 => match loose_match(&current, &e.search) {
                Some(range) => current.replace_range(range, &e.replace),
                None => {
                    let first = e.search.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
                    return Err(format!(
                        "{path}: the SEARCH text of edit {} is not in the file (it starts with {:?}); copy the \
                         lines exactly as they are now, or write the whole file",
                        n + 1,
                        first.trim()
                    ));
                }
            },
            many => {
                return Err(format!(
                    "{path}: the SEARCH text of edit {} appears {many} times; include more lines so it matches once",
                    n + 1
                ))
            }
        }
    }
    Ok(current)
}

/// The byte range of the one run of lines equal to `search`'s lines when
/// trailing whitespace is ignored.
fn loose_match(text: &str, search: &str) -> Option<std::ops::Range<usize>> {
    let want: Vec<&str> = search.lines().map(str::trim_end).collect();
    let mut starts = Vec::new();
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        starts.push(offset);
        offset += l.len();
    }
    starts.push(offset);
    let have: Vec<&str> = text.lines().map(str::trim_end).collect();
    let hits: Vec<usize> =
        (0..have.len().saturating_sub(want.len() - 1)).filter(|&i| have[i..i + want.len()] == want[..]).collect();
    match hits[..] {
        [i] => Some(starts[i]..starts[(i + want.len()).min(starts.len() - 1)]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(path: &str, text: &str, line: usize) -> FileEdit {
        FileEdit { path: path.into(), change: Change::Whole(text.into()), line }
    }

    #[test]
    fn a_path_line_before_a_fence_names_the_file() {
        for path_line in ["solution.py", "**solution.py**", "`solution.py`", "### File: solution.py", "solution.py:"] {
            let answer = format!("Here you go.\n\n{path_line}\n```python\ndef f():\n    return 1\n```\nDone.");
            let p = parse(&answer).unwrap_or_else(|e| panic!("{path_line}: {e:?}"));
            assert_eq!(p.edits, vec![whole("solution.py", "def f():\n    return 1\n", 4)], "{path_line}");
        }
        let p = parse("Update `src/app.py`:\n```python\nx = 1\n```").unwrap();
        assert_eq!(p.edits[0].path, "src/app.py");
    }

    #[test]
    fn a_path_in_the_info_string_names_the_file() {
        for info in ["python solution.py", "solution.py", "python:solution.py", "python title=\"solution.py\""] {
            let p = parse(&format!("```{info}\nx = 1\n```")).unwrap_or_else(|e| panic!("{info}: {e:?}"));
            assert_eq!(p.edits, vec![whole("solution.py", "x = 1\n", 1)], "{info}");
        }
    }

    #[test]
    fn two_files_in_one_answer() {
        let answer = "math_utils.py\n```python\ndef add(a, b):\n    return a + b\n```\n\n\
                      test_math_utils.py\n```python\nfrom math_utils import add\n\ndef test_add():\n    assert add(1, 2) == 3\n```\n";
        let p = parse(answer).unwrap();
        assert_eq!(p.edits.len(), 2);
        assert_eq!(p.edits[0].path, "math_utils.py");
        assert_eq!(p.edits[1].path, "test_math_utils.py");
        assert!(
            matches!(&p.edits[1].change, Change::Whole(t) if t.starts_with("from math_utils") && t.ends_with("3\n"))
        );
    }

    #[test]
    fn an_empty_block_is_an_empty_file() {
        let p = parse("pkg/__init__.py\n```python\n```").unwrap();
        assert_eq!(p.edits, vec![whole("pkg/__init__.py", "", 2)]);
    }

    #[test]
    fn a_block_without_a_path_is_left_out_and_not_guessed() {
        // Prose before the fence does not name a file.
        let e = parse("Here is the code:\n```python\nx = 1\n```").unwrap_err();
        assert!(e[0].message.contains("no block names its file"), "{e:?}");
        // Named files are kept; the unnamed block is reported, the shell line ignored.
        let p =
            parse("a.py\n```python\nx = 1\n```\nExample:\n```python\nprint(x)\n```\nRun:\n```bash\npython a.py\n```")
                .unwrap();
        assert_eq!(p.edits.len(), 1);
        assert_eq!(p.unnamed, vec![6]);
        let e = parse("I cannot do that.").unwrap_err();
        assert!(e[0].message.contains("no file"), "{e:?}");
    }

    #[test]
    fn malformed_fences_are_format_errors() {
        let e = parse("a.py\n```python\nx = 1\n").unwrap_err();
        assert_eq!(e[0].line, 2);
        assert!(e[0].message.contains("never closed"), "{e:?}");
        // A longer fence holds a shorter one (a Markdown file with code in it).
        let p = parse("README.md\n````markdown\n```\ncode\n```\n````").unwrap();
        assert_eq!(p.edits, vec![whole("README.md", "```\ncode\n```\n", 2)]);
        // Two backticks are not a fence.
        assert!(parse("a.py\n``\nx\n``").is_err());
    }

    #[test]
    fn search_replace_edits() {
        let answer =
            "```python solution.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```";
        let p = parse(answer).unwrap();
        let Change::Replace(r) = &p.edits[0].change else { panic!("{p:?}") };
        assert_eq!(r, &vec![Replacement { search: "    return a - b\n".into(), replace: "    return a + b\n".into() }]);
        let out = apply_replacements("solution.py", "def f(a, b):\n    return a - b\n", r).unwrap();
        assert_eq!(out, "def f(a, b):\n    return a + b\n");
    }

    #[test]
    fn a_search_that_does_not_match_is_reported() {
        let edits = vec![Replacement { search: "return a * b\n".into(), replace: "x\n".into() }];
        let e = apply_replacements("s.py", "return a - b\n", &edits).unwrap_err();
        assert!(e.contains("s.py") && e.contains("not in the file") && e.contains("return a * b"), "{e}");
        let twice = vec![Replacement { search: "x = 1\n".into(), replace: "x = 2\n".into() }];
        let e = apply_replacements("s.py", "x = 1\nx = 1\n", &twice).unwrap_err();
        assert!(e.contains("2 times"), "{e}");
        // Trailing spaces do not stop a match.
        let loose = vec![Replacement { search: "a = 1\nb = 2\n".into(), replace: "c = 3\n".into() }];
        assert_eq!(apply_replacements("s.py", "a = 1  \nb = 2\nz\n", &loose).unwrap(), "c = 3\nz\n");
    }

    #[test]
    fn broken_search_blocks_are_format_errors() {
        for body in [
            "<<<<<<< SEARCH\nx\n>>>>>>> REPLACE",
            "<<<<<<< SEARCH\nx\n=======\ny",
            "stray\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE",
        ] {
            let e = parse(&format!("a.py\n```python\n{body}\n```")).unwrap_err();
            assert_eq!(e.len(), 1, "{body}: {e:?}");
        }
    }
}
