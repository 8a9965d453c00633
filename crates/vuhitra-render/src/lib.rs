//! Markdown answers rendered for a terminal as they stream in: headings,
//! emphasis, lists, task lists, block quotes, rules, tables and fenced code
//! with syntax highlighting.
//!
//! Rendering only ever appends: nothing written is taken back, so there is
//! no redraw and no flicker. Text goes out as soon as what follows cannot
//! change it — block structure once the start of a line shows it, words
//! once the space after them arrives — and only what is still undecided
//! waits: a table until its last row (its columns need every row), a code
//! line until its line break (the highlighter colours whole lines), an
//! emphasis marker until the next character. How the input was split into
//! pieces never changes the output.

mod highlight;
mod inline;
mod style;
mod table;
mod wrap;

pub use style::{ColorLevel, Rgb, Style};

use highlight::Highlighter;
use inline::Inline;
use style::palette;
use wrap::{text_width, width_of, Screen, Sink, Span, Wrapper};

/// Where the output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Terminal columns; rows are wrapped to this.
    pub width: usize,
    pub color: ColorLevel,
}

/// The narrowest layout: below it, wrapping does more harm than good.
const MIN_WIDTH: usize = 20;
/// Code fences' rules stop here on wide terminals.
const MAX_RULE: usize = 60;

/// A streaming renderer: give it the answer in pieces with [`push`] (or raw
/// bytes with [`push_bytes`]) and print what each call returns; [`finish`]
/// at the end prints the rest.
///
/// [`push`]: MarkdownStream::push
/// [`push_bytes`]: MarkdownStream::push_bytes
/// [`finish`]: MarkdownStream::finish
#[derive(Debug)]
pub struct MarkdownStream {
    width: usize,
    screen: Screen,
    /// The start of a UTF-8 sequence whose other bytes have not come yet.
    utf8: Vec<u8>,
    /// The source line in progress, without its line break.
    line: String,
    /// How much of `line` the open paragraph has been given.
    fed: usize,
    /// What `line` is, once its start shows it.
    kind: Option<LineInfo>,
    block: Block,
    /// Open list items, outermost first.
    lists: Vec<ListItem>,
    /// Rows of a table being collected, and their quote depth.
    table: Vec<String>,
    table_quote: usize,
    /// The output ends with an empty line (or is empty): another blank
    /// line in the source adds none.
    blank: bool,
    /// The last thing pushed was a line break.
    ended_with_newline: bool,
}

#[derive(Debug)]
enum Block {
    None,
    Para(Para),
    Code(Code),
}

#[derive(Debug)]
struct Para {
    inline: Inline,
    wrap: Wrapper,
    quote: usize,
    heading: bool,
}

#[derive(Debug)]
struct Code {
    fence: char,
    fence_len: usize,
    /// The fence's own indentation, taken off every line.
    indent: usize,
    quote: usize,
    highlighter: Option<Highlighter>,
    prefix: Vec<Span>,
    rule: usize,
}

#[derive(Debug, Clone, Copy)]
struct ListItem {
    marker_indent: usize,
    content_indent: usize,
    /// The columns the rendered marker takes, for continuation rows.
    rendered_width: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineInfo {
    quote: usize,
    indent: usize,
    /// Where the line's content starts, after quote markers and indentation.
    start: usize,
    /// Where the text to render starts in the line.
    body: usize,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Heading(usize),
    Fence { ch: char, len: usize },
    Rule,
    TableRow,
    Item { number: Option<u64>, task: Option<bool> },
    Text,
}

impl MarkdownStream {
    pub fn new(options: Options) -> Self {
        MarkdownStream {
            width: options.width.max(MIN_WIDTH),
            screen: Screen::new(options.color),
            utf8: Vec::new(),
            line: String::new(),
            fed: 0,
            kind: None,
            block: Block::None,
            lists: Vec::new(),
            table: Vec::new(),
            table_quote: 0,
            blank: true,
            ended_with_newline: false,
        }
    }

    /// Renders a whole text at once.
    pub fn render(text: &str, options: Options) -> String {
        let mut stream = MarkdownStream::new(options);
        let mut out = stream.push(text);
        out.push_str(&stream.finish());
        out
    }

    /// Takes the next piece of the answer; returns what can be shown now.
    pub fn push(&mut self, text: &str) -> String {
        if !self.utf8.is_empty() {
            // A sequence cut short by a `push_bytes` never completes now.
            let cut = String::from_utf8_lossy(&std::mem::take(&mut self.utf8)).into_owned();
            self.take_text(&cut);
        }
        self.take_text(text);
        std::mem::take(&mut self.screen.out)
    }

    /// Takes raw bytes, which may split a UTF-8 sequence anywhere; invalid
    /// bytes show as U+FFFD.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> String {
        self.utf8.extend_from_slice(bytes);
        let mut buf = std::mem::take(&mut self.utf8);
        let mut start = 0;
        loop {
            match std::str::from_utf8(&buf[start..]) {
                Ok(text) => {
                    let text = text.to_string();
                    self.take_text(&text);
                    break;
                }
                Err(e) => {
                    let valid = start + e.valid_up_to();
                    let text = std::str::from_utf8(&buf[start..valid]).expect("checked").to_string();
                    self.take_text(&text);
                    match e.error_len() {
                        Some(bad) => {
                            self.take_text("\u{fffd}");
                            start = valid + bad;
                        }
                        None => {
                            // An incomplete sequence at the end: wait for the rest.
                            self.utf8 = buf.split_off(valid);
                            break;
                        }
                    }
                }
            }
        }
        std::mem::take(&mut self.screen.out)
    }

    /// The end of the answer: everything still held back is shown, and the
    /// terminal's style restored. The output ends with a line break exactly
    /// when the answer did.
    pub fn finish(&mut self) -> String {
        if !self.utf8.is_empty() {
            let cut = String::from_utf8_lossy(&std::mem::take(&mut self.utf8)).into_owned();
            self.take_text(&cut);
        }
        if !self.line.is_empty() || self.kind.is_some() {
            self.end_line();
        }
        self.flush_table();
        self.close_block();
        self.screen.reset();
        let mut out = std::mem::take(&mut self.screen.out);
        if !self.ended_with_newline && out.ends_with('\n') {
            out.pop();
        }
        out
    }

    fn take_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.ended_with_newline = text.ends_with('\n');
        for piece in text.split_inclusive('\n') {
            match piece.strip_suffix('\n') {
                Some(rest) => {
                    self.line.push_str(rest);
                    self.end_line();
                }
                None => {
                    self.line.push_str(piece);
                    self.advance(false);
                }
            }
        }
    }

    fn end_line(&mut self) {
        if self.line.ends_with('\r') {
            self.line.pop();
        }
        self.advance(true);
        self.line.clear();
        self.kind = None;
        self.fed = 0;
    }

    /// Does what the line so far allows: classify it once its start is
    /// known, then stream its text into the open paragraph.
    fn advance(&mut self, complete: bool) {
        if matches!(self.block, Block::Code(_)) {
            if complete {
                self.code_line();
            }
            return;
        }
        // A carriage return may be the first half of a CRLF.
        let available = if complete { self.line.len() } else { self.line.trim_end_matches('\r').len() };
        if self.kind.is_none() {
            let Some(info) = classify(&self.line[..available], complete) else { return };
            self.kind = Some(info);
            self.fed = info.body;
            self.start_line(info);
        }
        let info = self.kind.expect("classified above");
        let streams = matches!(info.kind, Kind::Heading(_) | Kind::Item { .. } | Kind::Text);
        if let (true, Block::Para(p)) = (streams, &mut self.block) {
            if self.fed < available {
                let text = &self.line[self.fed..available];
                let screen = &mut self.screen;
                p.inline.push(text, &mut |t, s| p.wrap.push(t, s, screen));
                self.fed = available;
            }
        }
        if complete && matches!(info.kind, Kind::Heading(_)) {
            self.close_block();
        }
    }

    fn start_line(&mut self, info: LineInfo) {
        if !self.table.is_empty() && info.kind != Kind::TableRow {
            self.flush_table();
        }
        let continues_paragraph = matches!(&self.block, Block::Para(p) if !p.heading && info.quote <= p.quote);
        match info.kind {
            Kind::Blank => {
                self.close_block();
                if info.quote > 0 {
                    if !self.blank {
                        let bars = "│ ".repeat(info.quote);
                        self.screen.paint(bars.trim_end(), Style::fg(palette::QUOTE));
                        self.screen.newline();
                        self.blank = true;
                    }
                } else if !self.blank {
                    self.screen.newline();
                    self.blank = true;
                }
            }
            Kind::Heading(level) => {
                self.close_block();
                self.lists.clear();
                let style = heading_style(level);
                let mut prefix = quote_prefix(info.quote);
                if self.screen.level == ColorLevel::None {
                    // Without escapes only the marks tell a heading from text.
                    prefix.push((format!("{} ", "#".repeat(level)), Style::PLAIN));
                }
                self.open_para(prefix.clone(), prefix, info.quote, style, true);
            }
            Kind::Rule => {
                self.close_block();
                self.lists.clear();
                let prefix = quote_prefix(info.quote);
                let room = self.width.saturating_sub(width_of(&prefix));
                self.screen.spans(&prefix);
                self.screen.paint(&"─".repeat(room), Style::fg(palette::QUOTE));
                self.screen.newline();
                self.blank = false;
            }
            Kind::Fence { ch, len } => {
                self.close_block();
                let mut prefix = quote_prefix(info.quote);
                match self.list_for(info.indent) {
                    Some(item) => prefix.push((" ".repeat(item.rendered_width), Style::PLAIN)),
                    None => self.lists.clear(),
                }
                let language = self.line[info.body..].trim().to_string();
                let highlighter =
                    if self.screen.level >= ColorLevel::Ansi16 { Highlighter::for_language(&language) } else { None };
                let rule = self.width.saturating_sub(width_of(&prefix)).min(MAX_RULE);
                let label = if language.is_empty() { String::new() } else { format!("── {language} ") };
                let fill = rule.saturating_sub(text_width(&label));
                self.screen.spans(&prefix);
                self.screen.paint(&format!("{label}{}", "─".repeat(fill)), Style::fg(palette::QUOTE));
                self.screen.newline();
                self.blank = false;
                self.block = Block::Code(Code {
                    fence: ch,
                    fence_len: len,
                    indent: info.indent,
                    quote: info.quote,
                    highlighter,
                    prefix,
                    rule,
                });
            }
            Kind::TableRow => {
                if self.table.is_empty() {
                    // An open paragraph waits: rows that turn out not to be
                    // a table are its next lines.
                    if !continues_paragraph {
                        self.close_block();
                    }
                    self.lists.clear();
                    self.table_quote = info.quote;
                }
                self.table.push(self.line[info.body..].to_string());
            }
            Kind::Item { number, .. } if continues_paragraph && self.lists.is_empty() && number.is_some_and(|n| n != 1) => {
                // "2024. was a year": only a list starting at 1 may break into a paragraph.
                self.continue_paragraph(info);
            }
            Kind::Item { number, task } => {
                self.close_block();
                while self.lists.last().is_some_and(|top| top.marker_indent > info.indent) {
                    self.lists.pop();
                }
                if self.lists.last().is_some_and(|top| info.indent < top.content_indent) {
                    self.lists.pop();
                }
                let depth = self.lists.len();
                let marker = match (task, number) {
                    (Some(true), _) => "☑".to_string(),
                    (Some(false), _) => "☐".to_string(),
                    (None, Some(n)) => format!("{n}."),
                    (None, None) => ["•", "◦", "▪"][depth % 3].to_string(),
                };
                // A nested item's marker sits under its parent's text.
                let indent = " ".repeat(self.lists.last().map_or(0, |parent| parent.rendered_width));
                let rendered_width = text_width(&indent) + text_width(&marker) + 1;
                let marker_len = match number {
                    Some(n) => n.to_string().len() + 1,
                    None => 1,
                };
                self.lists.push(ListItem {
                    marker_indent: info.indent,
                    content_indent: info.indent + marker_len + 1,
                    rendered_width,
                });
                let mut first = quote_prefix(info.quote);
                let mut rest = first.clone();
                first.push((indent, Style::PLAIN));
                first.push((marker, Style::fg(palette::MARKER)));
                first.push((" ".to_string(), Style::PLAIN));
                rest.push((" ".repeat(rendered_width), Style::PLAIN));
                self.open_para(first, rest, info.quote, Style::PLAIN, false);
            }
            Kind::Text if continues_paragraph => self.continue_paragraph(info),
            Kind::Text => {
                let mut prefix = quote_prefix(info.quote);
                match self.list_for(info.indent) {
                    Some(item) => prefix.push((" ".repeat(item.rendered_width), Style::PLAIN)),
                    None => self.lists.clear(),
                }
                self.open_para(prefix.clone(), prefix, info.quote, Style::PLAIN, false);
            }
        }
    }

    /// The open list item a line indented by `indent` belongs to, closing
    /// the deeper ones.
    fn list_for(&mut self, indent: usize) -> Option<ListItem> {
        while self.lists.last().is_some_and(|item| item.content_indent > indent) {
            self.lists.pop();
        }
        self.lists.last().copied()
    }

    /// A soft line break: the line's text joins the paragraph after a space.
    fn continue_paragraph(&mut self, info: LineInfo) {
        // The whole line is text (a list marker that is not one included).
        self.fed = info.start;
        if let Block::Para(p) = &mut self.block {
            let screen = &mut self.screen;
            p.inline.push("\n", &mut |t, s| p.wrap.push(t, s, screen));
        }
    }

    fn open_para(&mut self, first: Vec<Span>, rest: Vec<Span>, quote: usize, base: Style, heading: bool) {
        self.close_block();
        self.block =
            Block::Para(Para { inline: Inline::new(base, self.code_marks()), wrap: Wrapper::new(self.width, first, rest), quote, heading });
    }

    fn code_marks(&self) -> bool {
        self.screen.level < ColorLevel::Ansi16
    }

    fn close_block(&mut self) {
        match std::mem::replace(&mut self.block, Block::None) {
            Block::None => {}
            Block::Para(mut p) => {
                let screen = &mut self.screen;
                p.inline.finish(&mut |t, s| p.wrap.push(t, s, screen));
                p.wrap.finish(screen);
                if p.wrap.wrote() {
                    self.blank = false;
                }
            }
            Block::Code(code) => {
                // An answer cut off inside a fence still gets its closing rule.
                self.screen.spans(&code.prefix);
                self.screen.paint(&"─".repeat(code.rule), Style::fg(palette::QUOTE));
                self.screen.newline();
                self.blank = false;
            }
        }
    }

    /// A complete line inside a fenced block: the closing fence, or code.
    fn code_line(&mut self) {
        let Block::Code(code) = &mut self.block else { return };
        let mut text = self.line.as_str();
        for _ in 0..code.quote {
            let trimmed = text.trim_start_matches(' ');
            match trimmed.strip_prefix('>') {
                Some(rest) => text = rest.strip_prefix(' ').unwrap_or(rest),
                None => break,
            }
        }
        let spaces = text.bytes().take_while(|&b| b == b' ').count();
        let body = &text[spaces.min(code.indent)..];
        let fence = body.trim_start_matches(' ');
        let run = fence.chars().take_while(|&c| c == code.fence).count();
        if run >= code.fence_len && fence[run * code.fence.len_utf8()..].trim().is_empty() && body.len() - fence.len() <= 3
        {
            self.close_block();
            return;
        }
        let spans = match &mut code.highlighter {
            Some(h) => h.line(body),
            None => vec![(body.to_string(), Style::PLAIN)],
        };
        self.screen.spans(&code.prefix);
        self.screen.spans(&spans);
        self.screen.newline();
        self.blank = false;
    }

    fn flush_table(&mut self) {
        if self.table.is_empty() {
            return;
        }
        let rows = std::mem::take(&mut self.table);
        let prefix = quote_prefix(self.table_quote);
        if table::is_table(&rows) {
            self.close_block();
            let code_marks = self.code_marks();
            table::render(&rows, self.width, &prefix, code_marks, &mut self.screen);
            self.blank = false;
            return;
        }
        // Not a table after all: the rows are a paragraph's lines.
        let continuing = matches!(self.block, Block::Para(_));
        if !continuing {
            self.open_para(prefix.clone(), prefix, self.table_quote, Style::PLAIN, false);
        }
        let Block::Para(p) = &mut self.block else { unreachable!("open or opened above") };
        let screen = &mut self.screen;
        for (i, row) in rows.iter().enumerate() {
            if i > 0 || continuing {
                p.inline.push("\n", &mut |t, s| p.wrap.push(t, s, screen));
            }
            p.inline.push(row, &mut |t, s| p.wrap.push(t, s, screen));
        }
    }
}

fn heading_style(level: usize) -> Style {
    let bold = Style { bold: true, ..Style::PLAIN };
    match level {
        1 => Style { underline: true, fg: Some(palette::HEADING1), ..bold },
        2 => Style { fg: Some(palette::HEADING2), ..bold },
        3 => Style { fg: Some(palette::HEADING3), ..bold },
        _ => bold,
    }
}

fn quote_prefix(depth: usize) -> Vec<Span> {
    if depth == 0 {
        return Vec::new();
    }
    vec![("│ ".repeat(depth), Style::fg(palette::QUOTE))]
}

/// What a line is, from as much of it as has arrived; `None` while more of
/// it could change the answer. Only the start of a line is looked at, except
/// for the kinds that need it whole (fences, rules, table rows, blank lines).
fn classify(line: &str, complete: bool) -> Option<LineInfo> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut quote = 0;
    // Block quote markers: up to three spaces, `>`, and one optional space.
    loop {
        let spaces = b[i..].iter().take_while(|&&c| c == b' ').count();
        if spaces <= 3 && b.get(i + spaces) == Some(&b'>') {
            quote += 1;
            i += spaces + 1;
            match b.get(i) {
                Some(b' ') => i += 1,
                None if !complete => return None,
                _ => {}
            }
            continue;
        }
        break;
    }
    let rest = &line[i..];
    let indent_len = rest.bytes().take_while(|&c| c == b' ' || c == b'\t').count();
    let indent = rest[..indent_len].chars().map(|c| if c == '\t' { 4 } else { 1 }).sum();
    let start = i + indent_len;
    let s = &line[start..];
    let info = |kind, body| Some(LineInfo { quote, indent, start, body, kind });
    let Some(&first) = s.as_bytes().first() else {
        return if complete { info(Kind::Blank, start) } else { None };
    };
    let run = s.bytes().take_while(|&c| c == first).count();
    let after_run = s.as_bytes().get(run).copied();
    match first {
        b'#' => match after_run {
            None if !complete => None,
            None if run <= 6 => info(Kind::Heading(run), start + run),
            Some(b' ' | b'\t') if run <= 6 => info(Kind::Heading(run), start + run + 1),
            _ => info(Kind::Text, start),
        },
        b'`' | b'~' if run >= 3 => {
            if !complete {
                return None;
            }
            if first == b'`' && s[run..].contains('`') {
                return info(Kind::Text, start);
            }
            info(Kind::Fence { ch: first as char, len: run }, start + run)
        }
        b'`' | b'~' if after_run.is_none() && !complete => None,
        b'-' | b'*' | b'_' | b'+' => {
            let only_marks = s.bytes().all(|c| c == first || c == b' ' || c == b'\t');
            if only_marks && first != b'+' {
                if !complete {
                    return None;
                }
                if s.bytes().filter(|&c| c == first).count() >= 3 {
                    return info(Kind::Rule, start);
                }
            }
            if first == b'_' {
                return info(Kind::Text, start);
            }
            item(s, start, 1, None, complete, info)
        }
        b'0'..=b'9' => {
            let digits = s.bytes().take_while(u8::is_ascii_digit).count();
            match s.as_bytes().get(digits) {
                None if !complete => None,
                Some(b'.' | b')') if digits <= 9 => {
                    let number = s[..digits].parse().ok();
                    item(s, start, digits + 1, number, complete, info)
                }
                _ => info(Kind::Text, start),
            }
        }
        b'|' if !complete => None,
        b'|' => info(Kind::TableRow, start),
        _ => info(Kind::Text, start),
    }
}

/// A list item whose marker takes `marker` bytes of `s`: the marker must be
/// followed by a space or end the line; `[ ]` or `[x]` after it makes a task.
fn item(
    s: &str,
    start: usize,
    marker: usize,
    number: Option<u64>,
    complete: bool,
    info: impl Fn(Kind, usize) -> Option<LineInfo>,
) -> Option<LineInfo> {
    match s.as_bytes().get(marker) {
        None if !complete => return None,
        None => return info(Kind::Item { number, task: None }, start + marker),
        Some(b' ' | b'\t') => {}
        Some(_) => return info(Kind::Text, start),
    }
    let content = &s[marker + 1..];
    for (box_text, done) in [("[ ]", false), ("[x]", true), ("[X]", true)] {
        let with_space = format!("{box_text} ");
        if content.starts_with(&with_space) || (complete && content == box_text) {
            let body = (start + marker + 1 + with_space.len()).min(start + s.len());
            return info(Kind::Item { number, task: Some(done) }, body);
        }
        if !complete && with_space.starts_with(content) {
            return None;
        }
    }
    info(Kind::Item { number, task: None }, start + marker + 1)
}

#[cfg(test)]
mod tests;
