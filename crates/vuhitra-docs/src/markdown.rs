//! Markdown (CommonMark-ish, line based): headings set the path, fenced
//! code blocks are kept whole, everything else splits at blank lines.
//!
//! Fence lines stay in the code block's text (the info string tells the
//! reader and the embedding model which language it is) and in its line
//! range. Indented code blocks are not recognised: telling them from list
//! continuations needs a full block parser, and as prose they are still
//! split only at whitespace.

use crate::{is_blank, numbered_lines, Block, HeadingPath, Pending};

struct Fence {
    ch: char,
    len: usize,
}

/// Leading spaces, if at most 3 (more makes an indented code line in
/// CommonMark, never a heading or fence).
fn indent_ok(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches(' ');
    (line.len() - rest.len() <= 3).then_some(rest)
}

fn opening_fence(line: &str) -> Option<Fence> {
    let rest = indent_ok(line)?;
    let ch = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = rest.chars().take_while(|c| *c == ch).count();
    if len < 3 {
        return None;
    }
    // A backtick fence's info string may not contain backticks (that is inline code).
    if ch == '`' && rest[len..].contains('`') {
        return None;
    }
    Some(Fence { ch, len })
}

fn closes(fence: &Fence, line: &str) -> bool {
    let Some(rest) = indent_ok(line) else {
        return false;
    };
    let len = rest.chars().take_while(|c| *c == fence.ch).count();
    len >= fence.len && rest[len * fence.ch.len_utf8()..].trim().is_empty()
}

fn atx_heading(line: &str) -> Option<(usize, String)> {
    let rest = indent_ok(line)?;
    let level = rest.bytes().take_while(|b| *b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let body = &rest[level..];
    if !(body.is_empty() || body.starts_with([' ', '\t'])) {
        return None;
    }
    let mut title = body.trim();
    // An optional closing sequence of '#'s, if separated by a space.
    let stripped = title.trim_end_matches('#');
    if stripped.is_empty() || stripped.ends_with([' ', '\t']) {
        title = stripped.trim_end();
    }
    Some((level, title.to_string()))
}

/// `=` underline (level 1) or `-` underline (level 2).
fn setext_level(line: &str) -> Option<usize> {
    let rest = indent_ok(line)?.trim_end();
    let first = rest.chars().next()?;
    let level = match first {
        '=' => 1,
        '-' => 2,
        _ => return None,
    };
    rest.chars().all(|c| c == first).then_some(level)
}

fn thematic_break(line: &str) -> bool {
    let Some(rest) = indent_ok(line) else {
        return false;
    };
    let marks: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    marks.len() >= 3 && ["*", "-", "_"].iter().any(|m| marks.chars().all(|c| c.to_string() == *m))
}

/// Line count of a YAML front matter block at line 1 (0 when there is none
/// or it is never closed: then the `---` is a thematic break).
fn front_matter_len(lines: &[(u32, &str)]) -> usize {
    if lines.first().map(|l| l.1.trim_end()) != Some("---") {
        return 0;
    }
    lines.iter().skip(1).position(|(_, l)| matches!(l.trim_end(), "---" | "...")).map_or(0, |end| end + 2)
}

pub(crate) fn load(text: &str) -> Vec<Block> {
    let lines: Vec<(u32, &str)> = numbered_lines(text).collect();
    let mut out = Vec::new();
    let mut path = HeadingPath::default();
    let mut headings: Vec<String> = Vec::new();
    let mut para = Pending::default();
    let mut fence: Option<(Fence, Pending)> = None;

    for &(no, line) in &lines[front_matter_len(&lines)..] {
        if let Some((open, code)) = fence.as_mut() {
            code.push(no, line);
            if closes(open, line) {
                code.flush(&headings, true, &mut out);
                fence = None;
            }
            continue;
        }
        if let Some(open) = opening_fence(line) {
            para.flush(&headings, false, &mut out);
            let mut code = Pending::default();
            code.push(no, line);
            fence = Some((open, code));
            continue;
        }
        if let Some((level, title)) = atx_heading(line) {
            para.flush(&headings, false, &mut out);
            path.set(level, title);
            headings = path.names();
            continue;
        }
        if let Some(level) = setext_level(line) {
            if !para.is_empty() {
                let title = std::mem::take(&mut para.text).lines().map(str::trim).collect::<Vec<_>>().join(" ");
                path.set(level, title);
                headings = path.names();
                continue;
            }
        }
        if is_blank(line) || thematic_break(line) {
            para.flush(&headings, false, &mut out);
            continue;
        }
        para.push(no, line);
    }
    // An unclosed fence runs to the end of the document.
    if let Some((_, mut code)) = fence {
        code.flush(&headings, true, &mut out);
    }
    para.flush(&headings, false, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(blocks: &[Block]) -> Vec<(String, Vec<String>, (u32, u32), bool)> {
        blocks.iter().map(|b| (b.text.clone(), b.headings.clone(), b.lines, b.code)).collect()
    }

    fn h(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn atx_headings_set_path_by_level() {
        let src = "# Tutorial\n\nIntro.\n\n## Lists\n\nA list:\n- a\n- b\n\n### Nested ###\n\nDeep.\n\n## Tables\n\n| a | b |\n|---|---|\n";
        assert_eq!(
            view(&load(src)),
            vec![
                ("Intro.".into(), h(&["Tutorial"]), (3, 3), false),
                ("A list:\n- a\n- b".into(), h(&["Tutorial", "Lists"]), (7, 9), false),
                ("Deep.".into(), h(&["Tutorial", "Lists", "Nested"]), (13, 13), false),
                ("| a | b |\n|---|---|".into(), h(&["Tutorial", "Tables"]), (17, 18), false),
            ]
        );
    }

    #[test]
    fn setext_headings_and_front_matter() {
        let src = "---\ntitle: x\n---\nTop\n===\n\nText one.\n\nSub\n---\nText two.\n";
        assert_eq!(
            view(&load(src)),
            vec![
                ("Text one.".into(), h(&["Top"]), (7, 7), false),
                ("Text two.".into(), h(&["Top", "Sub"]), (11, 11), false),
            ]
        );
    }

    #[test]
    fn hash_lines_inside_fences_are_not_headings() {
        let src = "# Real\n\n```python title=\"x\"\n# a comment\nx = 1\n\n## not a heading\n```\nAfter.\n\n~~~\n# also code\n~~~~\n";
        let blocks = load(src);
        assert_eq!(
            view(&blocks),
            vec![
                (
                    "```python title=\"x\"\n# a comment\nx = 1\n\n## not a heading\n```".into(),
                    h(&["Real"]),
                    (3, 8),
                    true
                ),
                ("After.".into(), h(&["Real"]), (9, 9), false),
                ("~~~\n# also code\n~~~~".into(), h(&["Real"]), (11, 13), true),
            ]
        );
    }

    #[test]
    fn unclosed_fence_runs_to_end_and_shorter_fence_does_not_close() {
        let src = "````\ncode\n```\n# still code\n";
        let blocks = load(src);
        assert_eq!(blocks.len(), 1);
        assert!(blocks[0].code);
        assert_eq!(blocks[0].lines, (1, 4));
        assert!(blocks[0].headings.is_empty());
    }

    #[test]
    fn hash_without_space_and_thematic_break_are_not_headings() {
        let blocks = load("#hashtag line\n\n***\n\nText\n");
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].text, "#hashtag line");
        assert!(blocks.iter().all(|b| b.headings.is_empty()));
    }

    #[test]
    fn unclosed_front_matter_is_not_skipped() {
        let blocks = load("---\nnot: closed\n");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].text, "not: closed");
    }
}
