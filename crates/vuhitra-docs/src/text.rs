//! Plain text: paragraphs at blank lines. reStructuredText (and the many
//! plain-text files that borrow its convention) marks titles by underlining
//! them, optionally overlining too; such a title becomes a heading, its level
//! given by the order in which adornment styles first appear, as in rST.

use crate::{is_blank, numbered_lines, Block, HeadingPath, Pending};

const ADORNMENT_CHARS: &str = "=-~^\"*+#`:._'";

/// The character of an adornment line (one punctuation character repeated,
/// at least 3 times), if `line` is one.
fn adornment(line: &str) -> Option<(char, usize)> {
    let line = line.trim_end();
    let mut chars = line.chars();
    let c = chars.next()?;
    if !ADORNMENT_CHARS.contains(c) || !chars.all(|d| d == c) {
        return None;
    }
    let len = line.chars().count();
    (len >= 3).then_some((c, len))
}

fn title_candidate(line: &str) -> bool {
    !is_blank(line) && !line.starts_with(char::is_whitespace) && adornment(line).is_none()
}

pub(crate) fn load(text: &str) -> Vec<Block> {
    let lines: Vec<(u32, &str)> = numbered_lines(text).collect();
    let mut out = Vec::new();
    let mut pending = Pending::default();
    let mut path = HeadingPath::default();
    let mut headings: Vec<String> = Vec::new();
    // rST levels: each (char, overlined) style gets the next level when first seen.
    let mut styles: Vec<(char, bool)> = Vec::new();

    let mut i = 0;
    while i < lines.len() {
        let (no, line) = lines[i];
        let after_blank = i == 0 || is_blank(lines[i - 1].1);

        if after_blank {
            if let Some((title, style, consumed)) = title_at(&lines, i) {
                pending.flush(&headings, false, &mut out);
                let level = match styles.iter().position(|s| *s == style) {
                    Some(l) => l,
                    None => {
                        styles.push(style);
                        styles.len() - 1
                    }
                };
                path.set(level, title);
                headings = path.names();
                i += consumed;
                continue;
            }
        }

        if is_blank(line) {
            pending.flush(&headings, false, &mut out);
        } else {
            pending.push(no, line);
        }
        i += 1;
    }
    pending.flush(&headings, false, &mut out);
    out
}

/// A title starting at line index `i`: (title, style, lines consumed).
fn title_at(lines: &[(u32, &str)], i: usize) -> Option<(String, (char, bool), usize)> {
    let line = lines[i].1;
    let next = lines.get(i + 1).map(|l| l.1);
    // Overline + title + underline of the same character.
    if let (Some((c, over_len)), Some(title)) = (adornment(line), next) {
        let under = lines.get(i + 2).and_then(|l| adornment(l.1));
        let title_trim = title.trim();
        if let Some((c2, _)) = under {
            if c2 == c && !title_trim.is_empty() && title_trim.chars().count() <= over_len {
                return Some((title_trim.to_string(), (c, true), 3));
            }
        }
        return None;
    }
    if !title_candidate(line) {
        return None;
    }
    let (c, len) = adornment(next?)?;
    let title = line.trim();
    // The paragraph must end at the underline; otherwise this is prose followed
    // by a horizontal rule of dashes.
    let ends = lines.get(i + 2).is_none_or(|l| is_blank(l.1));
    (len >= title.chars().count() && ends).then(|| (title.to_string(), (c, false), 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_split_at_blank_lines_with_line_ranges() {
        let blocks = load("one\ntwo\n\n\nthree\n");
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].text, "one\ntwo");
        assert_eq!(blocks[0].lines, (1, 2));
        assert_eq!(blocks[1].text, "three");
        assert_eq!(blocks[1].lines, (5, 5));
        assert!(blocks.iter().all(|b| b.headings.is_empty() && !b.code));
    }

    #[test]
    fn rst_underlined_titles_become_heading_path_by_style_order() {
        let src = "=====\nGuide\n=====\n\nIntro text.\n\nInstall\n-------\n\nRun it.\n\nUsage\n-------\n\nCall it.\n";
        let blocks = load(src);
        let got: Vec<(&str, Vec<String>, (u32, u32))> =
            blocks.iter().map(|b| (b.text.as_str(), b.headings.clone(), b.lines)).collect();
        assert_eq!(
            got,
            vec![
                ("Intro text.", vec!["Guide".to_string()], (5, 5)),
                ("Run it.", vec!["Guide".into(), "Install".into()], (10, 10)),
                ("Call it.", vec!["Guide".into(), "Usage".into()], (15, 15)),
            ]
        );
    }

    #[test]
    fn short_underline_or_rule_inside_paragraph_is_not_a_title() {
        let blocks = load("A long title here\n===\n\nline one\n-----------\nline three\n");
        assert!(blocks.iter().all(|b| b.headings.is_empty()), "{blocks:?}");
        assert_eq!(blocks[0].text, "A long title here\n===");
    }
}
