//! Printing: JSON for scripts, aligned tables for people, and a broken pipe
//! (`vuhitra ... | head`) treated as a normal end, not an error.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// `--json`: warnings go out as JSON objects too.
static JSON: AtomicBool = AtomicBool::new(false);

/// Writes to stdout. Once the reader has gone (a broken pipe) nothing more
/// is written and [`stdout_closed`] says so: streaming callers stop their
/// work, and `main` ends with success after the command has unwound (so its
/// temporary files are removed), instead of exiting from here.
pub fn out(text: &str) {
    if stdout_closed() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
    }
}

/// Whether the reader of stdout has gone.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

pub fn outln(text: &str) {
    out(&format!("{text}\n"));
}

pub fn json(value: &serde_json::Value) {
    outln(&serde_json::to_string_pretty(value).expect("JSON values serialize"));
}

/// The one warning path: on stderr, as a JSON object under `--json` (so a
/// script reading stderr can tell it apart), else as `warning: …`.
pub fn warn(message: &str) {
    if JSON.load(Ordering::Relaxed) {
        eprintln!("{}", serde_json::json!({ "warning": message }));
    } else {
        eprintln!("warning: {message}");
    }
}

/// Set once from `--json`, before any command runs.
pub fn set_json(json: bool) {
    JSON.store(json, Ordering::Relaxed);
}

/// Answers are rendered as Markdown on a terminal; piped, with `--raw` or
/// `--json` they are the model's text exactly.
pub fn renders_markdown(json: bool, raw: bool) -> bool {
    !raw && !json && stdout_is_tty()
}

/// How a chat answer reaches stdout: Markdown rendered for the terminal as
/// it streams, or the model's text exactly as written (piped, `--raw`,
/// `--json`).
pub enum AnswerPrinter {
    Raw,
    Markdown(Box<vuhitra_render::MarkdownStream>),
}

impl AnswerPrinter {
    /// Rendered when `markdown` is set, at the terminal's current width (so a
    /// resized REPL window gets the new one from its next answer) and with
    /// the colours NO_COLOR, TERM and COLORTERM allow.
    pub fn new(markdown: bool) -> Self {
        if !markdown {
            return AnswerPrinter::Raw;
        }
        let width = terminal_size::terminal_size().map_or(80, |(w, _)| usize::from(w.0));
        let options = vuhitra_render::Options { width, color: vuhitra_render::ColorLevel::detect() };
        AnswerPrinter::Markdown(Box::new(vuhitra_render::MarkdownStream::new(options)))
    }

    pub fn push(&mut self, text: &str) {
        match self {
            AnswerPrinter::Raw => out(text),
            AnswerPrinter::Markdown(stream) => {
                let rendered = stream.push(text);
                if !rendered.is_empty() {
                    out(&rendered);
                }
            }
        }
    }

    /// Shows what the renderer still holds (a table's rows, a last word) and
    /// restores the terminal's style; the answer may have ended early.
    pub fn finish(&mut self) {
        if let AnswerPrinter::Markdown(stream) = self {
            out(&stream.finish());
        }
    }

    /// A whole answer at once (`--no-stream`).
    pub fn print(markdown: bool, text: &str) {
        let mut printer = AnswerPrinter::new(markdown);
        printer.push(text);
        printer.finish();
    }
}

pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Text on one line (whitespace runs become one space), at most `max`
/// characters, an ellipsis marking a cut: for table cells.
pub fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        joined
    } else {
        format!("{}…", joined.chars().take(max.saturating_sub(1)).collect::<String>())
    }
}

/// Dim text on a terminal, plain elsewhere.
pub fn dim(text: &str) -> String {
    if stderr_is_tty() {
        format!("\x1b[2m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Left-aligned columns sized to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = *w));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(headers.to_vec())];
    out.extend(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())));
    out.join("\n")
}

pub fn millis(nanos: u64) -> f64 {
    (nanos as f64 / 1e6 * 10.0).round() / 10.0
}

pub fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

/// Asks on a terminal; elsewhere `--yes` is required.
pub fn confirm(yes: bool, what: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(crate::exit::usage(format!("refusing to {what} without confirmation"), Some("pass --yes")));
    }
    eprint!("{what}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(crate::exit::usage("cancelled", None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(&["NAME", "SIZE"], &[vec!["a".into(), "1 KiB".into()], vec!["longer".into(), "2".into()]]);
        assert_eq!(t, "NAME    SIZE\na       1 KiB\nlonger  2");
    }
}
