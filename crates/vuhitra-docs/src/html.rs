//! HTML through a small tolerant tokenizer: documentation pages (Sphinx in
//! particular) need only their body text, headings and `<pre>` blocks, and a
//! full HTML5 tree builder would cost more to compile than this whole crate.
//! Nothing here fails: broken markup degrades to text.
//!
//! Outside `<pre>` whitespace runs collapse to one space, so a block's text
//! no longer has one newline per source line; the chunker then places split
//! pieces by interpolating within the block's line range.

use crate::{Block, HeadingPath};

/// Elements whose whole content is chrome, not document text.
const SKIPPED_TAGS: &[&str] =
    &["script", "style", "head", "nav", "noscript", "template", "iframe", "object", "svg", "math", "button", "select"];
/// Class substrings that mark Sphinx chrome (sidebars, the prev/next bars,
/// the footer) and the `¶` permalinks that follow headings and signatures.
const SKIPPED_CLASSES: &[&str] = &["sphinxsidebar", "related", "footer", "headerlink"];
const SKIPPED_ROLES: &[&str] = &["navigation", "search"];
/// Elements whose content the tokenizer must not parse as markup.
const RAW_TEXT: &[&str] = &["script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "textarea", "title"];
const VOID: &[&str] =
    &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];
const BLOCK_TAGS: &[&str] = &[
    "p",
    "li",
    "dt",
    "dd",
    "blockquote",
    "tr",
    "div",
    "ul",
    "ol",
    "dl",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "caption",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "nav",
    "pre",
    "hr",
    "form",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "fieldset",
    "center",
    "body",
    "html",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
];
/// Beyond this nesting, plain elements are no longer tracked, so that a
/// document of unclosed tags cannot make end-tag matching quadratic.
const MAX_DEPTH: usize = 512;

fn heading_level(name: &str) -> Option<usize> {
    match name.as_bytes() {
        [b'h', d @ b'1'..=b'6'] => Some(usize::from(d - b'0')),
        _ => None,
    }
}

pub(crate) fn load(src: &str) -> Vec<Block> {
    let mut b = Builder::default();
    tokenize(src, &mut b);
    b.finish()
}

// ---------------------------------------------------------------- tokenizer

enum Token<'a> {
    Start {
        name: String,
        attrs: Vec<(String, String)>,
        self_closing: bool,
    },
    End {
        name: String,
    },
    /// Raw text (entities not yet decoded) and the source line it starts on.
    Text {
        raw: &'a str,
        line: u32,
        /// Set for the content of `<title>`.
        title: bool,
    },
}

fn count_newlines(s: &str) -> u32 {
    u32::try_from(s.bytes().filter(|b| *b == b'\n').count()).unwrap_or(u32::MAX)
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: u32,
}

impl<'a> Lexer<'a> {
    fn advance_to(&mut self, to: usize) {
        let to = to.min(self.src.len());
        self.line = self.line.saturating_add(count_newlines(&self.src[self.pos..to]));
        self.pos = to;
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// Absolute offset of `needle` at or after the current position.
    fn find(&self, needle: &str) -> Option<usize> {
        self.rest().find(needle).map(|i| self.pos + i)
    }

    fn skip_whitespace(&mut self) {
        let n = self.rest().len() - self.rest().trim_start().len();
        self.advance_to(self.pos + n);
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let n = rest.find(|c: char| !keep(c)).unwrap_or(rest.len());
        self.advance_to(self.pos + n);
        &rest[..n]
    }

    /// Offset of the `</name` that closes a raw-text element, if any.
    fn find_close(&self, name: &str) -> Option<usize> {
        let rest = self.rest();
        let mut from = 0;
        while let Some(i) = rest[from..].find("</") {
            let at = from + i;
            let after = &rest[at + 2..];
            let matches = after.len() >= name.len()
                && after.as_bytes()[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                && after.as_bytes()[name.len()..]
                    .first()
                    .is_none_or(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>');
            if matches {
                return Some(self.pos + at);
            }
            from = at + 2;
        }
        None
    }
}

fn is_name_char(c: char) -> bool {
    !c.is_whitespace() && c != '/' && c != '>'
}

fn tokenize(src: &str, sink: &mut Builder) {
    let mut lx = Lexer { src, pos: 0, line: 1 };
    while lx.pos < src.len() {
        let rest = lx.rest();
        if !rest.starts_with('<') {
            let end = lx.find("<").unwrap_or(src.len());
            sink.token(Token::Text { raw: &src[lx.pos..end], line: lx.line, title: false });
            lx.advance_to(end);
            continue;
        }
        match rest[1..].chars().next() {
            Some(c) if c.is_ascii_alphabetic() => {
                let (name, self_closing) = lex_start_tag(&mut lx, sink);
                if !self_closing && RAW_TEXT.contains(&name.as_str()) {
                    let end = lx.find_close(&name).unwrap_or(src.len());
                    if name == "title" || name == "textarea" {
                        sink.token(Token::Text { raw: &src[lx.pos..end], line: lx.line, title: name == "title" });
                    }
                    lx.advance_to(end);
                }
            }
            Some('/') if rest[2..].starts_with(|c: char| c.is_ascii_alphabetic()) => {
                lx.advance_to(lx.pos + 2);
                let name = lx.take_while(is_name_char).to_ascii_lowercase();
                let end = lx.find(">").map_or(src.len(), |i| i + 1);
                lx.advance_to(end);
                sink.token(Token::End { name });
            }
            Some('!') if rest.starts_with("<!--") => {
                let end = src[lx.pos + 4..].find("-->").map_or(src.len(), |i| lx.pos + 4 + i + 3);
                lx.advance_to(end);
            }
            // Doctype, CDATA, processing instructions, `</>` and bogus end tags.
            Some('!' | '?' | '/') => {
                let end = lx.find(">").map_or(src.len(), |i| i + 1);
                lx.advance_to(end);
            }
            // A stray '<' is text.
            _ => {
                sink.token(Token::Text { raw: "<", line: lx.line, title: false });
                lx.advance_to(lx.pos + 1);
            }
        }
    }
}

/// Lexes `<name attrs...>` and hands it to the sink; returns the lowercased
/// name and whether it was self-closing.
fn lex_start_tag(lx: &mut Lexer, sink: &mut Builder) -> (String, bool) {
    lx.advance_to(lx.pos + 1);
    let name = lx.take_while(is_name_char).to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut self_closing = false;
    loop {
        lx.skip_whitespace();
        let rest = lx.rest();
        if rest.is_empty() {
            break;
        }
        if rest.starts_with('>') {
            lx.advance_to(lx.pos + 1);
            break;
        }
        if rest.starts_with("/>") {
            self_closing = true;
            lx.advance_to(lx.pos + 2);
            break;
        }
        let attr = lx.take_while(|c| is_name_char(c) && c != '=');
        if attr.is_empty() {
            // A stray '/' or '=': step over it.
            let step = lx.rest().chars().next().map_or(1, char::len_utf8);
            lx.advance_to(lx.pos + step);
            continue;
        }
        let attr = attr.to_ascii_lowercase();
        lx.skip_whitespace();
        let mut value = String::new();
        if lx.rest().starts_with('=') {
            lx.advance_to(lx.pos + 1);
            lx.skip_whitespace();
            let rest = lx.rest();
            match rest.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    // An unterminated quote ends at the tag's '>' rather than
                    // swallowing the rest of the document.
                    let body = &rest[1..];
                    let end = body.find(q).or_else(|| body.find('>')).unwrap_or(body.len());
                    value = body[..end].to_string();
                    let skip = 1 + end + usize::from(body[end..].starts_with(q));
                    lx.advance_to(lx.pos + skip);
                }
                _ => value = lx.take_while(|c| !c.is_whitespace() && c != '>').to_string(),
            }
        }
        attrs.push((attr, value));
    }
    sink.token(Token::Start { name: name.clone(), attrs, self_closing });
    (name, self_closing)
}

// ----------------------------------------------------------------- entities

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "laquo" => '«',
        "raquo" => '»',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "para" => '¶',
        "sect" => '§',
        "middot" => '·',
        "bull" => '•',
        "times" => '×',
        "divide" => '÷',
        "deg" => '°',
        "plusmn" => '±',
        "minus" => '−',
        "le" => '≤',
        "ge" => '≥',
        "ne" => '≠',
        "larr" => '←',
        "rarr" => '→',
        "harr" => '↔',
        "rArr" => '⇒',
        "euro" => '€',
        "pound" => '£',
        "cent" => '¢',
        "yen" => '¥',
        "micro" => 'µ',
        "ensp" | "emsp" | "thinsp" => ' ',
        "shy" => '\u{ad}',
        _ => return None,
    })
}

/// Decodes the entity at the start of `s` (which begins with '&'): the
/// character and the bytes consumed. Unknown or unterminated entities stay
/// text, as browsers show them.
fn decode_entity(s: &str) -> Option<(char, usize)> {
    let body = &s[1..];
    let end = body.bytes().take(33).position(|b| b == b';')?;
    let name = &body[..end];
    let c = if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        match char::from_u32(code) {
            Some('\0') | None => char::REPLACEMENT_CHARACTER,
            Some(c) => c,
        }
    } else {
        named_entity(name)?
    };
    Some((c, end + 2))
}

/// Decodes the entities in `raw`, calling `f` with each character and
/// whether it is a line break of the source (a decoded `&#10;` is not).
fn decode(raw: &str, mut f: impl FnMut(char, bool)) {
    let mut i = 0;
    while i < raw.len() {
        let rest = &raw[i..];
        let first = rest.chars().next().unwrap_or(' ');
        if first == '&' {
            if let Some((c, n)) = decode_entity(rest) {
                f(c, false);
                i += n;
                continue;
            }
        }
        f(first, first == '\n');
        i += first.len_utf8();
    }
}

fn collapse(raw: &str) -> String {
    let mut out = String::new();
    decode(raw, |c, _| out.push(c));
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ------------------------------------------------------------------ builder

struct Open {
    name: String,
    skip: bool,
}

/// Collapsed inline text of the block being built.
#[derive(Default)]
struct Inline {
    text: String,
    first: u32,
    last: u32,
    space: bool,
    /// A `<br>` or a table-cell boundary asks for this separator instead of a space.
    forced: Option<&'static str>,
}

impl Inline {
    fn push(&mut self, c: char, line: u32) {
        if c.is_whitespace() {
            self.space = true;
            return;
        }
        if self.text.is_empty() {
            self.first = line;
        } else if let Some(sep) = self.forced {
            self.text.push_str(sep);
        } else if self.space {
            self.text.push(' ');
        }
        self.space = false;
        self.forced = None;
        self.text.push(c);
        self.last = line;
    }
}

#[derive(Default)]
struct Pre {
    text: String,
    /// Source line of the first character of `text`.
    start: u32,
    begun: bool,
}

type Pending = (String, (u32, u32), Vec<String>, bool);

#[derive(Default)]
struct Builder {
    blocks: Vec<Pending>,
    stack: Vec<Open>,
    skip_depth: usize,
    pre_depth: usize,
    path: HeadingPath,
    saw_h1: bool,
    title: Option<String>,
    heading: Option<(usize, String)>,
    inline: Inline,
    pre: Pre,
}

impl Builder {
    fn token(&mut self, token: Token) {
        match token {
            Token::Text { raw, title: true, .. } => {
                if self.title.is_none() {
                    let t = collapse(raw);
                    if !t.is_empty() {
                        self.title = Some(t);
                    }
                }
            }
            Token::Text { raw, line, .. } => self.text(raw, line),
            Token::Start { name, attrs, self_closing } => self.start(name, &attrs, self_closing),
            Token::End { name } => self.end(&name),
        }
    }

    fn skipped(name: &str, attrs: &[(String, String)]) -> bool {
        SKIPPED_TAGS.contains(&name)
            || attrs.iter().any(|(k, v)| match k.as_str() {
                "class" => SKIPPED_CLASSES.iter().any(|c| v.contains(c)),
                "role" => SKIPPED_ROLES.contains(&v.trim()),
                "hidden" => true,
                _ => false,
            })
    }

    fn start(&mut self, name: String, attrs: &[(String, String)], self_closing: bool) {
        if name == "title" {
            return;
        }
        let skip = Self::skipped(&name, attrs);
        let in_skip = self.skip_depth > 0;
        if !in_skip && self.pre_depth == 0 {
            match name.as_str() {
                "br" => self.inline.forced = Some("\n"),
                "td" | "th" => self.inline.forced = Some(" | "),
                _ => {}
            }
            if BLOCK_TAGS.contains(&name.as_str()) {
                self.end_heading();
                self.flush_inline();
            }
        } else if !in_skip && name == "br" {
            self.pre.text.push('\n');
        }
        if VOID.contains(&name.as_str()) || (self_closing && !skip) {
            return;
        }
        // An unclosed <p>, <li>... is closed by the next one, as browsers do.
        let implied: &[&str] = match name.as_str() {
            "p" => &["p"],
            "li" => &["li"],
            "tr" => &["tr"],
            "option" => &["option"],
            "dt" | "dd" => &["dt", "dd"],
            "td" | "th" => &["td", "th"],
            _ => &[],
        };
        if let Some(top) = self.stack.last() {
            if implied.contains(&top.name.as_str()) {
                let top = top.name.clone();
                self.pop_to(&top);
            }
        }
        if self_closing || (self.stack.len() >= MAX_DEPTH && !skip) {
            return;
        }
        if skip {
            self.skip_depth += 1;
        }
        if !in_skip && !skip {
            if name == "pre" {
                if self.pre_depth == 0 {
                    self.pre = Pre::default();
                }
                self.pre_depth += 1;
            }
            if let Some(level) = heading_level(&name) {
                self.heading = Some((level, String::new()));
            }
        }
        self.stack.push(Open { name, skip });
    }

    fn end(&mut self, name: &str) {
        if name == "br" {
            // Browsers read `</br>` as `<br>`.
            self.start("br".into(), &[], true);
            return;
        }
        if self.stack.iter().any(|o| o.name == name) {
            self.pop_to(name);
        }
        if self.skip_depth == 0 && self.pre_depth == 0 && BLOCK_TAGS.contains(&name) {
            self.end_heading();
            self.flush_inline();
        }
    }

    fn pop_to(&mut self, name: &str) {
        while let Some(open) = self.stack.pop() {
            if open.skip {
                self.skip_depth -= 1;
            } else if self.skip_depth == 0 {
                if open.name == "pre" && self.pre_depth > 0 {
                    self.pre_depth -= 1;
                    if self.pre_depth == 0 {
                        self.flush_pre();
                    }
                }
                if heading_level(&open.name).is_some() {
                    self.end_heading();
                }
            }
            if open.name == name {
                break;
            }
        }
    }

    fn text(&mut self, raw: &str, line: u32) {
        if self.skip_depth > 0 {
            return;
        }
        let mut line = line;
        if let Some((_, heading)) = self.heading.as_mut() {
            decode(raw, |c, _| heading.push(c));
            return;
        }
        if self.pre_depth > 0 {
            let pre = &mut self.pre;
            decode(raw, |c, newline| {
                if !pre.begun {
                    pre.begun = true;
                    pre.start = line;
                    // A newline right after <pre> is not content.
                    if newline {
                        line += 1;
                        pre.start = line;
                        return;
                    }
                }
                match c {
                    '\r' => {}
                    '\u{a0}' => pre.text.push(' '),
                    c => pre.text.push(c),
                }
                if newline {
                    line += 1;
                }
            });
            return;
        }
        let inline = &mut self.inline;
        decode(raw, |c, newline| {
            inline.push(c, line);
            if newline {
                line += 1;
            }
        });
    }

    fn end_heading(&mut self) {
        let Some((level, raw)) = self.heading.take() else {
            return;
        };
        let title = raw.replace('¶', "");
        let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
        if title.is_empty() {
            return;
        }
        if level == 1 {
            self.saw_h1 = true;
        }
        self.path.set(level, title);
    }

    fn flush_inline(&mut self) {
        let inline = std::mem::take(&mut self.inline);
        if !inline.text.is_empty() {
            self.blocks.push((inline.text, (inline.first, inline.last), self.path.names(), false));
        }
    }

    fn flush_pre(&mut self) {
        self.flush_inline();
        let pre = std::mem::take(&mut self.pre);
        let text = pre.text.trim_end();
        let Some(content) = text.find(|c: char| !c.is_whitespace()) else {
            return;
        };
        // Drop leading blank lines but keep the first line's indentation.
        let cut = text[..content].rfind('\n').map_or(0, |i| i + 1);
        let first = pre.start.saturating_add(count_newlines(&text[..cut]));
        let body = &text[cut..];
        let last = first.saturating_add(count_newlines(body));
        self.blocks.push((body.to_string(), (first, last), self.path.names(), true));
    }

    fn finish(mut self) -> Vec<Block> {
        self.end_heading();
        if self.pre_depth > 0 {
            self.flush_pre();
        }
        self.flush_inline();
        let top = if self.saw_h1 { None } else { self.title.clone() };
        self.blocks
            .into_iter()
            .map(|(text, lines, headings, code)| Block {
                text,
                lines,
                headings: top.iter().cloned().chain(headings).collect(),
                code,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_decode_named_and_numeric_and_leave_unknown_alone() {
        assert_eq!(
            collapse("a &amp; b &lt;c&gt; &#8212; &#x41;&quot;&copy;&hellip; &bogus; &amp"),
            "a & b <c> — A\"©… &bogus; &amp"
        );
        assert_eq!(collapse("&#0;&#xD800;&nbsp;x"), "\u{fffd}\u{fffd} x");
    }

    #[test]
    fn find_close_is_case_insensitive_and_needs_a_name_boundary() {
        let lx = Lexer { src: "var a = '</scriptx>'; </SCRIPT >", pos: 0, line: 1 };
        assert_eq!(lx.find_close("script"), Some(22));
    }
}
