//! GFM tables: laid out once the last row is in (column widths need every
//! row), boxed, aligned as the delimiter row says, cells wrapped when the
//! table is wider than the terminal.

use crate::inline::Inline;
use crate::style::{Style, palette};
use crate::wrap::{width_of, wrap_spans, Sink, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Center,
    Right,
}

/// The cells of a `| a | b |` row: split at pipes that are neither escaped
/// nor inside a code span.
pub fn cells(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let row = if row.ends_with('|') && !row.ends_with("\\|") { &row[..row.len() - 1] } else { row };
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut in_code = false;
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '`' => {
                in_code = !in_code;
                cell.push(c);
            }
            '|' if !in_code => cells.push(std::mem::take(&mut cell).trim().to_string()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_string());
    cells
}

fn delimiter_row(row: &str) -> Option<Vec<Align>> {
    let cells = cells(row);
    cells
        .iter()
        .map(|c| {
            let dashes = c.trim_start_matches(':').trim_end_matches(':');
            if dashes.is_empty() || !dashes.chars().all(|ch| ch == '-') {
                return None;
            }
            Some(match (c.starts_with(':'), c.ends_with(':')) {
                (true, true) => Align::Center,
                (false, true) => Align::Right,
                _ => Align::Left,
            })
        })
        .collect()
}

/// Whether `rows` make a table: a header, then a delimiter row with as
/// many cells.
pub fn is_table(rows: &[String]) -> bool {
    rows.len() >= 2 && delimiter_row(&rows[1]).is_some_and(|a| a.len() == cells(&rows[0]).len())
}

fn inline_spans(text: &str, base: Style, code_marks: bool) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut sink = |t: &str, s: Style| spans.push((t.to_string(), s));
    let mut inline = Inline::new(base, code_marks);
    inline.push(text, &mut sink);
    inline.finish(&mut sink);
    spans
}

/// Column widths for `natural` widths in `room` columns: every column gets
/// what it needs if they fit; otherwise the narrow ones keep theirs and the
/// rest share what is left equally.
fn fit(natural: &[usize], room: usize) -> Vec<usize> {
    if natural.iter().sum::<usize>() <= room {
        return natural.to_vec();
    }
    let mut widths = vec![0; natural.len()];
    let mut open: Vec<usize> = (0..natural.len()).collect();
    let mut left = room;
    loop {
        let share = (left / open.len().max(1)).max(1);
        let (fits, wide): (Vec<usize>, Vec<usize>) = open.iter().partition(|&&i| natural[i] <= share);
        if fits.is_empty() {
            let mut extra = left.saturating_sub(share * wide.len());
            for &i in &wide {
                widths[i] = share + usize::from(extra > 0);
                extra = extra.saturating_sub(1);
            }
            return widths;
        }
        for &i in &fits {
            widths[i] = natural[i];
            left = left.saturating_sub(natural[i]);
        }
        open = wide;
        if open.is_empty() {
            return widths;
        }
    }
}

/// Draws the table within `width` columns after `prefix`.
pub fn render(rows: &[String], width: usize, prefix: &[Span], code_marks: bool, out: &mut impl Sink) {
    let aligns = delimiter_row(&rows[1]).expect("checked by is_table");
    let columns = aligns.len();
    let bold = Style { bold: true, ..Style::PLAIN };
    let body: Vec<Vec<Vec<Span>>> = std::iter::once(&rows[0])
        .chain(&rows[2..])
        .enumerate()
        .map(|(n, row)| {
            let mut cells: Vec<Vec<Span>> =
                cells(row).iter().map(|c| inline_spans(c, if n == 0 { bold } else { Style::PLAIN }, code_marks)).collect();
            // GFM: missing cells are empty, extra ones dropped.
            cells.resize(columns, Vec::new());
            cells
        })
        .collect();
    let natural: Vec<usize> =
        (0..columns).map(|c| body.iter().map(|r| width_of(&r[c])).max().unwrap_or(0).max(1)).collect();
    // "│ " before each cell, " │" after the last.
    let room = width.saturating_sub(width_of(prefix) + 3 * columns + 1);
    let widths = fit(&natural, room.max(columns));
    let border = Style::fg(palette::QUOTE);
    let rule = |left: &str, mid: &str, right: &str, out: &mut dyn FnMut(&str, Style)| {
        let mut line = String::from(left);
        for (i, w) in widths.iter().enumerate() {
            line.push_str(&"─".repeat(w + 2));
            line.push_str(if i + 1 == columns { right } else { mid });
        }
        out(&line, border);
    };
    let paint = |out: &mut dyn Sink, text: &str, style: Style| out.paint(text, style);
    let line = |out: &mut dyn Sink, left: &str, mid: &str, right: &str| {
        out.spans(prefix);
        rule(left, mid, right, &mut |t, s| out.paint(t, s));
        out.newline();
    };
    line(out, "┌", "┬", "┐");
    for (n, row) in body.iter().enumerate() {
        let wrapped: Vec<Vec<Vec<Span>>> = row.iter().zip(&widths).map(|(cell, w)| wrap_spans(cell, *w)).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for r in 0..height {
            out.spans(prefix);
            for (c, cell) in wrapped.iter().enumerate() {
                paint(out, "│ ", border);
                let empty = Vec::new();
                let spans = cell.get(r).unwrap_or(&empty);
                let pad = widths[c].saturating_sub(width_of(spans));
                let (before, after) = match aligns[c] {
                    Align::Left => (0, pad),
                    Align::Right => (pad, 0),
                    Align::Center => (pad / 2, pad - pad / 2),
                };
                paint(out, &" ".repeat(before), Style::PLAIN);
                out.spans(spans);
                paint(out, &" ".repeat(after + 1), Style::PLAIN);
            }
            paint(out, "│", border);
            out.newline();
        }
        if n == 0 {
            line(out, "├", "┼", "┤");
        }
    }
    line(out, "└", "┴", "┘");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_split_at_unescaped_pipes_outside_code() {
        assert_eq!(cells("| a | `x|y` | c\\|d |"), vec!["a", "`x|y`", "c|d"]);
        assert_eq!(cells("a|b"), vec!["a", "b"]);
    }

    #[test]
    fn a_table_needs_a_matching_delimiter_row() {
        let rows = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_table(&rows(&["| a | b |", "|---|:-:|"])));
        assert!(!is_table(&rows(&["| a | b |", "|---|"])));
        assert!(!is_table(&rows(&["| a | b |", "| c | d |"])));
        assert!(!is_table(&rows(&["| a | b |"])));
    }

    #[test]
    fn narrow_columns_keep_their_width_and_wide_ones_share() {
        assert_eq!(fit(&[3, 4], 20), vec![3, 4]);
        assert_eq!(fit(&[3, 40, 50], 33), vec![3, 15, 15]);
        assert_eq!(fit(&[30, 30], 21), vec![11, 10]);
    }
}
