//! Renders Markdown from stdin the way chat shows an answer, for looking at
//! the renderer in a real terminal: `cargo run -p vuhitra-render --example
//! render < answer.md`. COLUMNS sets the width (default 80); the colours
//! follow NO_COLOR, TERM and COLORTERM. Input is fed in small pieces, as a
//! stream of tokens would be.

use std::io::{Read, Write};

fn main() {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).expect("stdin");
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(80);
    let options = vuhitra_render::Options { width, color: vuhitra_render::ColorLevel::detect() };
    let mut stream = vuhitra_render::MarkdownStream::new(options);
    let mut stdout = std::io::stdout().lock();
    for piece in input.chunks(7) {
        stdout.write_all(stream.push_bytes(piece).as_bytes()).expect("stdout");
    }
    stdout.write_all(stream.finish().as_bytes()).expect("stdout");
}
