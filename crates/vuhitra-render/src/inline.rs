//! Inline Markdown — emphasis, strong, strikethrough, code spans, links,
//! images, backslash escapes — parsed as it streams. Text is passed on as
//! soon as nothing that follows can change how it looks; only what is still
//! undecided is held back: a delimiter run until the character after it,
//! a code span or link until it closes (or is known not to).

use crate::style::{palette, Style};

/// How far ahead a code span's closing backticks, or a link's `](url)`,
/// are looked for before the opening is taken as plain text. Bounded, so one
/// stray backtick never holds back the rest of a long paragraph.
const CODE_LOOKAHEAD: usize = 400;
const LINK_LOOKAHEAD: usize = 1000;

#[derive(Debug, Default)]
pub struct Inline {
    pending: String,
    /// The delimiter character of an open strong or emphasis.
    strong: Option<char>,
    em: Option<char>,
    strike: bool,
    /// The character before `pending` (whitespace at the start).
    prev: Option<char>,
    base: Style,
    /// Keep the backticks around code spans: without colours nothing else
    /// sets them apart.
    code_marks: bool,
}

/// What became of a `[` (or `![`).
enum Link {
    /// Text, destination, and the bytes it spans.
    Found { text: String, url: String, len: usize },
    /// Not a link after all: the `[` is text.
    Literal,
    /// More input could still complete it.
    Undecided,
}

impl Inline {
    pub fn new(base: Style, code_marks: bool) -> Self {
        Inline { base, code_marks, ..Inline::default() }
    }

    fn style(&self) -> Style {
        let mut s = self.base;
        s.bold |= self.strong.is_some();
        s.italic |= self.em.is_some();
        s.strike |= self.strike;
        s
    }

    pub fn push(&mut self, text: &str, sink: &mut impl FnMut(&str, Style)) {
        self.pending.push_str(text);
        self.run(false, sink);
    }

    /// The end of the text: everything held back is decided.
    pub fn finish(&mut self, sink: &mut impl FnMut(&str, Style)) {
        self.run(true, sink);
        *self = Inline::new(self.base, self.code_marks);
    }

    fn run(&mut self, end: bool, sink: &mut impl FnMut(&str, Style)) {
        let text = std::mem::take(&mut self.pending);
        let mut i = 0;
        let mut literal = String::new();
        let flush = |literal: &mut String, style: Style, sink: &mut dyn FnMut(&str, Style)| {
            if !literal.is_empty() {
                sink(literal, style);
                literal.clear();
            }
        };
        while i < text.len() {
            let rest = &text[i..];
            let c = rest.chars().next().expect("not empty");
            match c {
                '\\' => {
                    let Some(next) = rest[1..].chars().next() else {
                        if !end {
                            break;
                        }
                        literal.push('\\');
                        i += 1;
                        continue;
                    };
                    if next.is_ascii_punctuation() {
                        literal.push(next);
                        i += 1 + next.len_utf8();
                        self.prev = Some(next);
                    } else {
                        literal.push('\\');
                        i += 1;
                        self.prev = Some('\\');
                    }
                    continue;
                }
                '`' => {
                    let run = rest.bytes().take_while(|&b| b == b'`').count();
                    if run == rest.len() && !end {
                        break;
                    }
                    match find_run(&rest[run..], b'`', run, CODE_LOOKAHEAD) {
                        // A closing run that ends the text so far may yet grow.
                        Some(at) if !end && 2 * run + at == rest.len() => break,
                        Some(at) => {
                            flush(&mut literal, self.style(), sink);
                            let mut content = code_content(&rest[run..run + at]);
                            if self.code_marks {
                                content = format!("`{content}`");
                            }
                            let mut style = self.style();
                            style.fg = Some(palette::CODE);
                            sink(&content, style);
                            i += run + at + run;
                            self.prev = Some('`');
                        }
                        None if !end && rest.len() - run < CODE_LOOKAHEAD => break,
                        None => {
                            literal.push_str(&rest[..run]);
                            i += run;
                            self.prev = Some('`');
                        }
                    }
                    continue;
                }
                '*' | '_' | '~' => {
                    let run = rest.bytes().take_while(|&b| b == c as u8).count();
                    let next = rest[run..].chars().next();
                    if next.is_none() && !end {
                        break;
                    }
                    let before = self.style();
                    let consumed = self.delimiter(c, run, self.prev, next);
                    if self.style() != before {
                        flush(&mut literal, before, sink);
                    }
                    literal.push_str(&rest[consumed..run]);
                    i += run;
                    self.prev = Some(c);
                    continue;
                }
                '[' | '!' if c == '[' || rest[1..].starts_with('[') => {
                    let image = c == '!';
                    let start = usize::from(image);
                    match parse_link(&rest[start..], end) {
                        Link::Found { text: label, url, len } => {
                            flush(&mut literal, self.style(), sink);
                            self.link(&label, &url, image, sink);
                            i += start + len;
                            self.prev = Some(')');
                        }
                        Link::Undecided => break,
                        Link::Literal => {
                            literal.push(c);
                            i += 1;
                            self.prev = Some(c);
                        }
                    }
                    continue;
                }
                '!' if rest.len() == 1 && !end => break,
                _ => {}
            }
            literal.push(c);
            i += c.len_utf8();
            self.prev = Some(c);
        }
        flush(&mut literal, self.style(), sink);
        self.pending = text[i..].to_string();
    }

    /// Applies a run of `run` delimiter characters; returns how many of them
    /// opened or closed something (the rest are plain text).
    fn delimiter(&mut self, c: char, run: usize, prev: Option<char>, next: Option<char>) -> usize {
        let space = |ch: Option<char>| ch.is_none_or(char::is_whitespace);
        let punct = |ch: Option<char>| ch.is_some_and(|ch| ch.is_ascii_punctuation() || (!ch.is_alphanumeric() && !ch.is_whitespace()));
        // CommonMark's flanking rules.
        let left = !space(next) && (!punct(next) || space(prev) || punct(prev));
        let right = !space(prev) && (!punct(prev) || space(next) || punct(next));
        let (can_open, can_close) = if c == '_' {
            (left && (!right || punct(prev)), right && (!left || punct(next)))
        } else {
            (left, right)
        };
        if c == '~' {
            if run != 2 {
                return 0;
            }
            if self.strike && can_close {
                self.strike = false;
                return 2;
            }
            if !self.strike && can_open {
                self.strike = true;
                return 2;
            }
            return 0;
        }
        if can_close {
            let strong = self.strong == Some(c);
            let em = self.em == Some(c);
            if run >= 3 && strong && em {
                self.strong = None;
                self.em = None;
                return 3;
            }
            if run >= 2 && strong {
                self.strong = None;
                return 2;
            }
            if em && (run == 1 || !strong) {
                self.em = None;
                return 1;
            }
        }
        if can_open {
            if run >= 3 && self.strong.is_none() && self.em.is_none() {
                self.strong = Some(c);
                self.em = Some(c);
                return 3;
            }
            if run == 2 && self.strong.is_none() {
                self.strong = Some(c);
                return 2;
            }
            if run == 1 && self.em.is_none() {
                self.em = Some(c);
                return 1;
            }
        }
        0
    }

    fn link(&self, label: &str, url: &str, image: bool, sink: &mut impl FnMut(&str, Style)) {
        let mut style = self.style();
        if image {
            let mut dim = style;
            dim.dim = true;
            sink("image: ", dim);
        } else {
            style.underline = true;
            style.fg = Some(palette::LINK);
        }
        // The label is Markdown too: `[**bold**](…)`.
        let mut inner = Inline::new(style, self.code_marks);
        inner.push(label, sink);
        inner.finish(sink);
        if !url.is_empty() && url != label && !url.trim_start_matches("mailto:").eq(label) {
            let mut dim = self.style();
            dim.dim = true;
            sink(&format!(" ({url})"), dim);
        }
    }
}

/// Where the first run of exactly `len` bytes `b` starts in `text`, looking
/// no further than `limit` bytes.
fn find_run(text: &str, b: u8, len: usize, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() && i < limit {
        if bytes[i] == b {
            let run = bytes[i..].iter().take_while(|&&x| x == b).count();
            if run == len {
                return Some(i);
            }
            i += run;
        } else {
            i += 1;
        }
    }
    None
}

/// The position of the bracket that closes the one before `from`, skipping
/// escapes and nested pairs. `Err(Link::Literal)` when a line break for
/// which `ends_at` holds comes first, or the look-ahead runs out; the
/// `undecided` verdict when the input ends first.
fn matching(
    bytes: &[u8],
    from: usize,
    (open, close): (u8, u8),
    ends_at: impl Fn(usize) -> bool,
    undecided: impl Fn(usize) -> Link,
) -> Result<usize, Link> {
    let mut depth = 0usize;
    let mut i = from;
    loop {
        if i >= LINK_LOOKAHEAD {
            return Err(Link::Literal);
        }
        let Some(&b) = bytes.get(i) else { return Err(undecided(i)) };
        if b == b'\\' {
            i += 1;
        } else if b == open {
            depth += 1;
        } else if b == close {
            if depth == 0 {
                return Ok(i);
            }
            depth -= 1;
        } else if b == b'\n' && ends_at(i) {
            return Err(Link::Literal);
        }
        i += 1;
    }
}

/// A code span's text: line breaks become spaces, and one space each side
/// is stripped when both are there (CommonMark), so `` ` `` `` shows a backtick.
fn code_content(raw: &str) -> String {
    let s = raw.replace(['\n', '\r'], " ");
    if s.len() >= 2 && s.starts_with(' ') && s.ends_with(' ') && !s.trim().is_empty() {
        s[1..s.len() - 1].to_string()
    } else {
        s
    }
}

/// `[label](url "title")` at the start of `text`.
fn parse_link(text: &str, end: bool) -> Link {
    let undecided = |scanned: usize| {
        if end || scanned >= LINK_LOOKAHEAD {
            Link::Literal
        } else {
            Link::Undecided
        }
    };
    let bytes = text.as_bytes();
    // The label may hold a single line break, not a blank line.
    let close = match matching(bytes, 1, (b'[', b']'), |i| bytes.get(i + 1) == Some(&b'\n'), undecided) {
        Ok(close) => close,
        Err(link) => return link,
    };
    match bytes.get(close + 1) {
        None => return undecided(close + 1),
        Some(b'(') => {}
        Some(_) => return Link::Literal,
    }
    let end_paren = match matching(bytes, close + 2, (b'(', b')'), |_| true, undecided) {
        Ok(end_paren) => end_paren,
        Err(link) => return link,
    };
    let destination = text[close + 2..end_paren].trim();
    let url = destination.split_whitespace().next().unwrap_or("");
    let url = url.strip_prefix('<').and_then(|u| u.strip_suffix('>')).unwrap_or(url);
    Link::Found { text: text[1..close].to_string(), url: url.to_string(), len: end_paren + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spans for `text`, fed in pieces of `chunk` bytes (at character
    /// boundaries), with adjacent spans of one style merged.
    fn spans(text: &str, chunk: usize) -> Vec<(String, Style)> {
        let mut out: Vec<(String, Style)> = Vec::new();
        let mut sink = |t: &str, s: Style| match out.last_mut() {
            Some((last, style)) if *style == s => last.push_str(t),
            _ => out.push((t.to_string(), s)),
        };
        let mut inline = Inline::new(Style::PLAIN, false);
        let mut start = 0;
        while start < text.len() {
            let mut stop = (start + chunk).min(text.len());
            while !text.is_char_boundary(stop) {
                stop += 1;
            }
            inline.push(&text[start..stop], &mut sink);
            start = stop;
        }
        inline.finish(&mut sink);
        out
    }

    fn bold() -> Style {
        Style { bold: true, ..Style::PLAIN }
    }
    fn italic() -> Style {
        Style { italic: true, ..Style::PLAIN }
    }
    fn code() -> Style {
        Style::fg(palette::CODE)
    }

    fn plain(t: &str) -> (String, Style) {
        (t.to_string(), Style::PLAIN)
    }

    #[test]
    fn emphasis_and_strong_lose_their_markers() {
        for chunk in [1, 2, 3, 100] {
            assert_eq!(
                spans("a **b** and *c* or __d__ _e_ ***f***", chunk),
                vec![
                    plain("a "),
                    ("b".into(), bold()),
                    plain(" and "),
                    ("c".into(), italic()),
                    plain(" or "),
                    ("d".into(), bold()),
                    plain(" "),
                    ("e".into(), italic()),
                    plain(" "),
                    ("f".into(), Style { bold: true, italic: true, ..Style::PLAIN }),
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn delimiters_that_cannot_open_stay_text() {
        assert_eq!(spans("2 * 3 * 4 and snake_case_name", 1), vec![plain("2 * 3 * 4 and snake_case_name")]);
        assert_eq!(spans("a ~ b ~~c~~", 1), vec![plain("a ~ b "), ("c".into(), Style { strike: true, ..Style::PLAIN })]);
    }

    #[test]
    fn code_spans_show_their_content_verbatim() {
        assert_eq!(spans("run `ls **/*` now", 1), vec![plain("run "), ("ls **/*".into(), code()), plain(" now")]);
        assert_eq!(spans("`` a ` b ``", 1), vec![("a ` b".into(), code())]);
        // Unclosed: the backtick is text.
        assert_eq!(spans("a ` b", 1), vec![plain("a ` b")]);
    }

    #[test]
    fn a_stray_backtick_holds_back_only_a_bounded_stretch() {
        let long = format!("a ` {}", "word ".repeat(200));
        let mut emitted = 0;
        let mut inline = Inline::new(Style::PLAIN, false);
        inline.push(&long, &mut |t: &str, _| emitted += t.len());
        assert_eq!(emitted, long.len(), "everything is decided before the end");
    }

    #[test]
    fn links_show_their_text_and_destination() {
        let link = Style { underline: true, fg: Some(palette::LINK), ..Style::PLAIN };
        let dim = Style { dim: true, ..Style::PLAIN };
        for chunk in [1, 4, 100] {
            assert_eq!(
                spans("see [the docs](https://x.org/a_(b) \"t\") and [x] y", chunk),
                vec![
                    plain("see "),
                    ("the docs".into(), link),
                    (" (https://x.org/a_(b))".into(), dim),
                    plain(" and [x] y"),
                ]
            );
        }
        assert_eq!(spans("![a cat](cat.png)", 1), vec![("image: ".into(), dim), plain("a cat"), (" (cat.png)".into(), dim)]);
    }

    #[test]
    fn escapes_make_markers_literal() {
        assert_eq!(spans(r"\*not\* \`x\` a\b \\", 1), vec![plain(r"*not* `x` a\b \")]);
    }

    #[test]
    fn text_is_passed_on_before_the_end() {
        let mut seen = String::new();
        let mut inline = Inline::new(Style::PLAIN, false);
        inline.push("Hello **wor", &mut |t: &str, _| seen.push_str(t));
        assert_eq!(seen, "Hello wor");
        inline.push("ld** *", &mut |t: &str, _| seen.push_str(t));
        assert_eq!(seen, "Hello world ", "only the undecided `*` waits");
    }
}
