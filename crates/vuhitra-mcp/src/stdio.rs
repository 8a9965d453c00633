//! A server as a child process: its own process group (so everything it
//! starts is killed with it), stderr captured instead of reaching the
//! terminal, and stdout watched for lines that are not JSON-RPC (the SDK
//! skips them silently; we want to tell the user why a server went quiet).

use std::collections::VecDeque;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop, ProcessGroup};
use tokio::io::{AsyncBufReadExt, AsyncRead, ReadBuf};
use tokio::process::{ChildStdin, ChildStdout};

const STDERR_LINES: usize = 20;
const LINE_CHARS: usize = 300;

/// The last lines a server wrote to stderr.
#[derive(Debug, Default)]
pub struct StderrTail {
    lines: VecDeque<String>,
}

impl StderrTail {
    fn push(&mut self, line: String) {
        if self.lines.len() == STDERR_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(cut(&line, LINE_CHARS));
    }

    pub fn text(&self) -> String {
        self.lines.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    }
}

/// What the stdout watch saw that was not a JSON-RPC message.
#[derive(Debug, Default)]
pub struct StdoutNotes {
    pub stray_lines: usize,
    pub first_stray: Option<String>,
}

/// A started child, its pipes, and what is captured from it.
pub struct Spawned {
    pub child: Box<dyn ChildWrapper>,
    pub stdout: StdoutWatch<ChildStdout>,
    pub stdin: ChildStdin,
    pub stderr: Arc<Mutex<StderrTail>>,
    /// Ends when the server's stderr closes.
    pub stderr_done: tokio::task::JoinHandle<()>,
    pub notes: Arc<Mutex<StdoutNotes>>,
}

pub fn spawn(
    server: &str,
    command: &str,
    args: &[String],
    env: &std::collections::BTreeMap<String, String>,
    cwd: Option<&std::path::Path>,
) -> std::io::Result<Spawned> {
    let mut cmd = CommandWrap::with_new(command, |c| {
        c.args(args).envs(env).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(dir) = cwd {
            c.current_dir(dir);
        }
    });
    cmd.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    let mut child = cmd.spawn()?;
    let missing = |what: &str| std::io::Error::other(format!("the child's {what} was not piped"));
    let stdin = child.stdin().take().ok_or_else(|| missing("stdin"))?;
    let stdout = child.stdout().take().ok_or_else(|| missing("stdout"))?;
    let stderr_pipe = child.stderr().take().ok_or_else(|| missing("stderr"))?;

    let stderr = Arc::new(Mutex::new(StderrTail::default()));
    let tail = stderr.clone();
    let name = server.to_string();
    let stderr_done = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr_pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(server = %name, "stderr: {line}");
            tail.lock().expect("stderr tail lock").push(line);
        }
    });
    let notes = Arc::new(Mutex::new(StdoutNotes::default()));
    Ok(Spawned { child, stdout: StdoutWatch::new(stdout, notes.clone()), stdin, stderr, stderr_done, notes })
}

/// Passes a stream through unchanged, noting lines that cannot be JSON-RPC
/// (every message is one line whose first visible byte is `{`).
pub struct StdoutWatch<R> {
    inner: R,
    notes: Arc<Mutex<StdoutNotes>>,
    /// The current line's first visible byte and its first LINE_CHARS bytes.
    first: Option<u8>,
    sample: Vec<u8>,
}

impl<R> StdoutWatch<R> {
    pub fn new(inner: R, notes: Arc<Mutex<StdoutNotes>>) -> Self {
        StdoutWatch { inner, notes, first: None, sample: Vec::new() }
    }

    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                if self.first.is_some_and(|f| f != b'{') {
                    let mut n = self.notes.lock().expect("stdout notes lock");
                    n.stray_lines += 1;
                    if n.first_stray.is_none() {
                        n.first_stray = Some(String::from_utf8_lossy(&self.sample).trim().to_string());
                    }
                }
                self.first = None;
                self.sample.clear();
                continue;
            }
            if self.first.is_none() && !b.is_ascii_whitespace() {
                self.first = Some(b);
            }
            if self.sample.len() < LINE_CHARS {
                self.sample.push(b);
            }
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for StdoutWatch<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            // `buf` is not part of `self`: the new bytes are scanned in place.
            self.scan(&buf.filled()[before..]);
        }
        polled
    }
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn stray_lines_are_noted_and_messages_pass_through() {
        let input: &[u8] = b"{\"jsonrpc\":\"2.0\"}\n\nStarting server v1\n  {\"id\":1}\nDEBUG x\n";
        let notes = Arc::new(Mutex::new(StdoutNotes::default()));
        let mut w = StdoutWatch::new(input, notes.clone());
        let mut out = Vec::new();
        w.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, input, "the stream is not changed");
        let n = notes.lock().unwrap();
        assert_eq!(n.stray_lines, 2);
        assert_eq!(n.first_stray.as_deref(), Some("Starting server v1"));
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let mut t = StderrTail::default();
        for i in 0..30 {
            t.push(format!("line {i}"));
        }
        assert!(t.text().starts_with("line 10\n") && t.text().ends_with("line 29"));
    }
}
