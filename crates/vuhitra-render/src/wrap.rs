//! Styled text laid out in rows: words wrapped at the width, each row led by
//! its prefix (a list marker, a quote bar, a hanging indent), escapes only
//! where the style changes.

use unicode_width::UnicodeWidthChar;

use crate::style::{ColorLevel, Style};

/// A run of text in one style.
pub type Span = (String, Style);

pub fn width_of(spans: &[Span]) -> usize {
    spans.iter().map(|(t, _)| text_width(t)).sum()
}

pub fn text_width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Where laid-out rows go: the terminal, or a table cell's rows.
pub trait Sink {
    fn paint(&mut self, text: &str, style: Style);
    fn newline(&mut self);
    fn spans(&mut self, spans: &[Span]) {
        for (text, style) in spans {
            self.paint(text, *style);
        }
    }
}

/// Rendered output: an escape only when the style changes, and a reset
/// before every line break (so a prefix or the next line never inherits a
/// colour).
#[derive(Debug)]
pub struct Screen {
    pub level: ColorLevel,
    current: Style,
    pub out: String,
}

impl Screen {
    pub fn new(level: ColorLevel) -> Self {
        Screen { level, current: Style::PLAIN, out: String::new() }
    }

    /// Back to the terminal's own style.
    pub fn reset(&mut self) {
        if self.current != Style::PLAIN {
            self.out.push_str(&Style::PLAIN.sgr(self.level));
            self.current = Style::PLAIN;
        }
    }
}

impl Sink for Screen {
    fn paint(&mut self, text: &str, style: Style) {
        if text.is_empty() {
            return;
        }
        if style != self.current {
            self.out.push_str(&style.sgr(self.level));
            self.current = style;
        }
        self.out.push_str(text);
    }

    fn newline(&mut self) {
        self.reset();
        self.out.push('\n');
    }
}

/// Rows of spans, for a table cell.
#[derive(Debug, Default)]
pub struct Rows(pub Vec<Vec<Span>>);

impl Sink for Rows {
    fn paint(&mut self, text: &str, style: Style) {
        if self.0.is_empty() {
            self.0.push(Vec::new());
        }
        let row = self.0.last_mut().expect("a row");
        match row.last_mut() {
            Some((t, s)) if *s == style => t.push_str(text),
            _ => row.push((text.to_string(), style)),
        }
    }

    fn newline(&mut self) {
        if self.0.is_empty() {
            self.0.push(Vec::new());
        }
        self.0.push(Vec::new());
    }
}

/// One block's rows: the first row starts with `first`, the rest with
/// `rest`. Text arrives in pieces; a word is laid out once the space after
/// it (or the end of the block) shows it is whole.
#[derive(Debug)]
pub struct Wrapper {
    width: usize,
    first: Vec<Span>,
    rest: Vec<Span>,
    /// The row in progress has its prefix written.
    started: bool,
    /// Any row has been started.
    wrote: bool,
    column: usize,
    word: Vec<Span>,
    word_width: usize,
    /// Whitespace came between the last word written and `word`.
    space: Option<Style>,
}

impl Wrapper {
    pub fn new(width: usize, first: Vec<Span>, rest: Vec<Span>) -> Self {
        Wrapper { width, first, rest, started: false, wrote: false, column: 0, word: Vec::new(), word_width: 0, space: None }
    }

    pub fn push(&mut self, text: &str, style: Style, out: &mut impl Sink) {
        for c in text.chars() {
            if c.is_whitespace() {
                self.flush_word(out);
                if self.started && self.space.is_none() {
                    self.space = Some(style);
                }
                continue;
            }
            match self.word.last_mut() {
                Some((t, s)) if *s == style => t.push(c),
                _ => self.word.push((c.to_string(), style)),
            }
            self.word_width += c.width().unwrap_or(0);
        }
    }

    /// Ends the block: the last word, then the line break (if anything was
    /// written).
    pub fn finish(&mut self, out: &mut impl Sink) {
        self.flush_word(out);
        if self.started {
            out.newline();
        }
        self.started = false;
        self.space = None;
    }

    pub fn wrote(&self) -> bool {
        self.wrote
    }

    fn start_row(&mut self, out: &mut impl Sink, first: bool) {
        let prefix = if first { &self.first } else { &self.rest };
        out.spans(prefix);
        self.column = width_of(prefix);
        self.started = true;
        self.wrote = true;
    }

    fn flush_word(&mut self, out: &mut impl Sink) {
        if self.word.is_empty() {
            return;
        }
        let word = std::mem::take(&mut self.word);
        let width = std::mem::replace(&mut self.word_width, 0);
        if !self.started {
            self.start_row(out, true);
        } else if let Some(space_style) = self.space {
            if self.column + 1 + width > self.width {
                out.newline();
                self.start_row(out, false);
            } else {
                // The space takes the style of the words around it only when
                // they share one (an underlined link's spaces are underlined).
                let style = if word.first().map(|(_, s)| *s) == Some(space_style) { space_style } else { Style::PLAIN };
                out.paint(" ", style);
                self.column += 1;
            }
        }
        self.space = None;
        let room = self.width.saturating_sub(width_of(&self.rest)).max(1);
        if self.column + width <= self.width || width <= room {
            out.spans(&word);
            self.column += width;
            return;
        }
        // A word longer than a whole row (a URL, a hash): broken at the width.
        for (text, style) in word {
            for c in text.chars() {
                let w = c.width().unwrap_or(0);
                if self.column + w > self.width && self.column > width_of(&self.rest) {
                    out.newline();
                    self.start_row(out, false);
                }
                let mut buf = [0u8; 4];
                out.paint(c.encode_utf8(&mut buf), style);
                self.column += w;
            }
        }
    }
}

/// Spans laid out as whole rows of at most `width` columns, for table cells.
pub fn wrap_spans(spans: &[Span], width: usize) -> Vec<Vec<Span>> {
    let mut rows = Rows::default();
    let mut wrapper = Wrapper::new(width.max(1), Vec::new(), Vec::new());
    for (text, style) in spans {
        wrapper.push(text, *style, &mut rows);
    }
    wrapper.finish(&mut rows);
    // The wrapper ends the last row with a break: no row follows it.
    if rows.0.last().is_some_and(|r| r.is_empty()) {
        rows.0.pop();
    }
    if rows.0.is_empty() {
        rows.0.push(Vec::new());
    }
    rows.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lay_out(text: &str, width: usize, first: &str, rest: &str) -> String {
        let mut screen = Screen::new(ColorLevel::None);
        let mut w = Wrapper::new(width, vec![(first.into(), Style::PLAIN)], vec![(rest.into(), Style::PLAIN)]);
        w.push(text, Style::PLAIN, &mut screen);
        w.finish(&mut screen);
        screen.out
    }

    #[test]
    fn words_wrap_under_a_hanging_indent() {
        assert_eq!(
            lay_out("one two three four five six", 12, "• ", "  "),
            "• one two\n  three four\n  five six\n"
        );
    }

    #[test]
    fn runs_of_whitespace_become_one_space() {
        assert_eq!(lay_out("  a \n  b\t c  ", 80, "", ""), "a b c\n");
    }

    #[test]
    fn a_word_longer_than_the_row_is_broken() {
        assert_eq!(lay_out("see abcdefghijklmnop", 10, "> ", "> "), "> see\n> abcdefgh\n> ijklmnop\n");
    }

    #[test]
    fn wide_characters_count_two_columns() {
        assert_eq!(lay_out("日本語 日本語", 8, "", ""), "日本語\n日本語\n");
    }

    #[test]
    fn table_cells_keep_their_styles_across_rows() {
        let bold = Style { bold: true, ..Style::PLAIN };
        let rows = wrap_spans(&[("alpha ".into(), Style::PLAIN), ("beta gamma".into(), bold)], 6);
        assert_eq!(
            rows,
            vec![
                vec![("alpha".to_string(), Style::PLAIN)],
                vec![("beta".to_string(), bold)],
                vec![("gamma".to_string(), bold)]
            ]
        );
    }
}
