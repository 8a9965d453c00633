//! Renders Markdown the way chat shows an answer, for looking at the
//! renderer in a real terminal and for `scripts/bench render`:
//!
//!     cargo run -p vuhitra-render --example render [FILE] < answer.md
//!
//! The input (FILE, or stdin) is fed in pieces of RENDER_PIECE bytes
//! (default 4, about a token) as a streamed answer would be. COLUMNS sets the
//! width (default 80); the colours follow NO_COLOR, TERM and COLORTERM.

use std::io::{Read, Write};

fn main() {
    let mut input = Vec::new();
    match std::env::args_os().nth(1) {
        Some(path) => input = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.to_string_lossy())),
        None => {
            std::io::stdin().read_to_end(&mut input).expect("stdin");
        }
    }
    let number = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let options = vuhitra_render::Options { width: number("COLUMNS", 80), color: vuhitra_render::ColorLevel::detect() };
    let mut stream = vuhitra_render::MarkdownStream::new(options);
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    for piece in input.chunks(number("RENDER_PIECE", 4).max(1)) {
        stdout.write_all(stream.push_bytes(piece).as_bytes()).expect("stdout");
    }
    stdout.write_all(stream.finish().as_bytes()).expect("stdout");
    stdout.flush().expect("stdout");
}
